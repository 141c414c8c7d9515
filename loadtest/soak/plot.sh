#!/usr/bin/env bash
# Plots a soak's DIR/samples.csv into DIR/soak.png with gnuplot (three panels: memory, sessions/fds/handles, lag
# on a log scale, so one long stall does not flatten the rest).
#   loadtest/soak/plot.sh DIR [TITLE]
set -euo pipefail
DIR="$1"
TITLE="${2:-soak}"
CSV="$DIR/samples.csv"
[ -f "$CSV" ] || { echo "plot.sh: no $CSV" >&2; exit 2; }
T0="$(sed -n 2p "$CSV" | cut -d, -f1)"
# Vertical lines where the steady phase starts and ends (minutes from the first sample).
read -r STEADY DRAIN < <(/usr/bin/python3 -c '
import json, sys
p = json.load(open(sys.argv[1]))["phases"]
t0 = float(sys.argv[2])
print(*[round((p.get(k, t0) - t0) / 60, 2) for k in ("steady", "drain")])' "$DIR/generator.json" "$T0")

gnuplot <<EOF
set terminal pngcairo size 1000,960 font "DejaVu Sans,9"
set output "$DIR/soak.png"
set datafile separator ","
set datafile missing ""
set key top left horizontal font ",9"
set grid
set xlabel "minutes"
set arrow 1 from $STEADY, graph 0 to $STEADY, graph 1 nohead dt 2 lc rgb "#888888"
set arrow 2 from $DRAIN, graph 0 to $DRAIN, graph 1 nohead dt 2 lc rgb "#888888"
set multiplot layout 3,1 title "$TITLE"
set ylabel "MiB"
set yrange [0:*]
plot "$CSV" using ((\$1 - $T0) / 60):(column("rss_kib") / 1024) with lines lw 2 title "RSS", \
     "" using ((\$1 - $T0) / 60):(column("rss_anon_kib") / 1024) with lines title "RSS anon", \
     "" using ((\$1 - $T0) / 60):(column("rss_file_kib") / 1024) with lines title "RSS file", \
     "" using ((\$1 - $T0) / 60):(column("heap_total") / 1048576) with lines title "heap total", \
     "" using ((\$1 - $T0) / 60):(column("heap_used") / 1048576) with lines lw 2 title "heap used", \
     "" using ((\$1 - $T0) / 60):(column("external") / 1048576) with lines title "external"
set ylabel "count"
plot "$CSV" using ((\$1 - $T0) / 60):(column("server_sessions")) with lines lw 2 title "sessions (server)", \
     "" using ((\$1 - $T0) / 60):(column("fds")) with lines title "open fds", \
     "" using ((\$1 - $T0) / 60):(column("handles")) with lines title "active handles", \
     "" using ((\$1 - $T0) / 60):(column("muc_members")) with lines title "MUC occupants"
set ylabel "ms (log)"
set logscale y
set yrange [1:*]
plot "$CSV" using ((\$1 - $T0) / 60):(column("lag_p99_s") * 1000) with lines lw 2 title "server event-loop lag p99", \
     "" using ((\$1 - $T0) / 60):(column("lag_mean_s") * 1000) with lines title "server lag mean", \
     "" using ((\$1 - $T0) / 60):(column("gen_lag_p99_ms")) with lines title "generator lag p99"
unset multiplot
EOF
echo "plot: $DIR/soak.png ($(du -k "$DIR/soak.png" | cut -f1) KiB)" >&2

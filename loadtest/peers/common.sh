# Shared by loadtest/peers/prosody and loadtest/peers/ejabberd (sourced, not run).
# Each peer script is called by loadtest/run as `<peer> start DIR` or `<peer> stop DIR`, with the run's
# parameters in the environment (HOST, C2S_PORT, HTTP_PORT, DOMAIN, USERS, PREFIX, PASSWORD, ROSTER_SIZE).
# `start` leaves in DIR: the rendered configuration, the peer's data, server.log, and server.pid, the pid
# of the process that serves (the one whose /proc/<pid>/stat and status loadtest/run samples).
PEERS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$PEERS/../.." && pwd)"
log() { printf '[%s] %s\n' "$(basename "$0")" "$*" >&2; }
die() { log "$*"; exit 1; }

# render TEMPLATE: every @NAME@ replaced by the environment variable NAME (an unset one is an error).
render() {
  perl -pe 's/@([A-Z][A-Z0-9_]*)@/exists $ENV{$1} ? $ENV{$1} : die "no value for \@$1\@\n"/ge' "$1"
}

# wait_for_port PID SECONDS: until HOST:C2S_PORT and HOST:HTTP_PORT (WebSocket and BOSH) accept a
# connection; fails if PID exits first.
wait_for_port() {
  local pid="$1" tenths=$(( $2 * 10 )) port
  for port in "$C2S_PORT" "$HTTP_PORT"; do
    while ! (exec 3<>"/dev/tcp/$HOST/$port") 2>/dev/null; do
      kill -0 "$pid" 2>/dev/null || return 1
      tenths=$((tenths - 1))
      [ "$tenths" -gt 0 ] || return 1
      sleep 0.1
    done
  done
}

# stop_pid PID SECONDS: SIGTERM, then SIGKILL if it is still there after SECONDS.
stop_pid() {
  local pid="$1" tenths=$(( $2 * 10 ))
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq "$tenths"); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  log "pid $pid still running after $2 s: SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
}

# as_user USER CMD...: exec CMD as USER (the peers refuse to run as root, and should not), so that
# `as_user … &` leaves $! the pid of CMD itself.
as_user() {
  local user="$1"; shift
  if [ "$(id -u)" = 0 ]; then
    exec setpriv --reuid="$(id -u "$user")" --regid="$(id -g "$user")" --init-groups -- "$@"
  else
    exec "$@"
  fi
}

# check_nofile PID: warns when the serving process could not hold all USERS at once (fine for runs
# whose sessions leave while others arrive).
check_nofile() {
  local limit
  limit=$(awk '/^Max open files/ { print $4 }' "/proc/$1/limits")
  [ "$limit" -gt "$((USERS + 100))" ] || log "warning: pid $1 may open only $limit files, fewer than $USERS sessions at once would need (ulimit -n)"
}

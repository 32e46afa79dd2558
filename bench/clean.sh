#!/usr/bin/env bash
# Removes what `make bench` (bench/run.sh) leaves when it was stopped hard or
# ran with BENCH_KEEP=1: its databases careslot_<id>_* and careslot_<id>demo_*,
# its Redis keys "<id>:*" and "<id>demo:*" (database of REDIS_URL) and .data/<id>.
# Usage: bench/clean.sh [id] (default: $BENCH_ID, else bench).
set -euo pipefail
cd "$(dirname "$0")/.."
id=${1:-${BENCH_ID:-bench}}
base=${DATABASE_URL:-postgres://postgres:postgres@127.0.0.1:5432/postgres?sslmode=disable}
server=${base%%\?*}
server=${server%/*}
export PGOPTIONS="-c client_min_messages=warning"
redis=${REDIS_URL:-redis://127.0.0.1:6379/0}
for name in "$id" "${id}demo"; do
  for s in practitioner patient booking notification; do
    psql "$server/postgres" -qc "DROP DATABASE IF EXISTS careslot_${name}_${s} WITH (FORCE)" >/dev/null
  done
  redis-cli -u "$redis" --scan --pattern "${name}:*" | xargs -r -n 500 redis-cli -u "$redis" unlink >/dev/null
done
rm -rf ".data/$id"
echo "removed the databases, Redis keys and data of bench run \"$id\""

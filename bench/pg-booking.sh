#!/usr/bin/env bash
# Measures the raw PostgreSQL rate of the booking transaction shape
# (bench/pg-booking.sql) in a scratch database migrated like the booking
# store. Usage: bench/pg-booking.sh [seconds] [clients …] (default 8 32 64).
#
# It stays within max_connections whatever else holds connections (a running
# `make run` or `make bench` stack, other users): before each run it reads
# the free connections,
#   SELECT setting::int - (SELECT count(*) FROM pg_stat_activity) FROM pg_settings WHERE name = 'max_connections'
# and runs at most that minus PG_BENCH_MARGIN (default 10) clients, saying so
# on the result line ("capped from 64"). One line per run:
#   raw PostgreSQL booking transaction: clients=32  1169.2 tx/s  (rows kept: 20021)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-15}
shift || true
clients=("$@")
[ ${#clients[@]} -gt 0 ] || clients=(8 32 64)
margin=${PG_BENCH_MARGIN:-10}
base=${DATABASE_URL:-postgres://postgres:postgres@127.0.0.1:5432/postgres}
db=careslot_pgbench_$$
url=${base%/*}/$db
url=${url%%\?*}
trap 'psql "$base" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null' EXIT
psql "$base" -qc "CREATE DATABASE $db" >/dev/null
DATABASE_URL_BOOKING="$url" ${CARESLOT_BIN:-go run ./cmd/careslot} migrate booking >/dev/null 2>&1
for want in "${clients[@]}"; do
  psql "$url" -qc "TRUNCATE appointments, idempotency_keys, outbox" >/dev/null
  free=$(psql "$base" -Atc "SELECT setting::int - (SELECT count(*) FROM pg_stat_activity) FROM pg_settings WHERE name = 'max_connections'")
  c=$((want < free - margin ? want : free - margin))
  note=""
  [ "$c" -lt "$want" ] && note=" (capped from $want: $free free connections minus a margin of $margin)"
  if [ "$c" -lt 2 ]; then
    echo "raw PostgreSQL booking transaction: clients=$want  skipped: only $free free connections (margin $margin)"
    continue
  fi
  res=$(pgbench -n -f bench/pg-booking.sql -c "$c" -j 2 -T "$secs" "$url" 2>&1) || {
    echo "raw PostgreSQL booking transaction: clients=$c  failed: $(echo "$res" | grep -v '^$' | tail -n 1)"
    continue
  }
  tps=$(echo "$res" | awk '/^tps/ {print $3; exit}')
  lat=$(echo "$res" | awk '/^latency average/ {print $4; exit}')
  booked=$(psql "$url" -Atc "SELECT count(*) FROM appointments")
  echo "raw PostgreSQL booking transaction: clients=$c  ${tps} tx/s  latency avg ${lat} ms  (rows kept: $booked)$note"
done

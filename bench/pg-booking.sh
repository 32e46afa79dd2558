#!/usr/bin/env bash
# Measures the raw PostgreSQL rate of the booking transaction shape
# (bench/pg-booking.sql) in a scratch database migrated like the booking
# store, at 8, 32 and 64 clients. Usage: bench/pg-booking.sh [seconds]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-15}
base=${DATABASE_URL:-postgres://postgres:postgres@127.0.0.1:5432/postgres}
db=careslot_pgbench_$$
url=${base%/*}/$db
url=${url%%\?*}
trap 'psql "$base" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null' EXIT
psql "$base" -qc "CREATE DATABASE $db" >/dev/null
DATABASE_URL_BOOKING="$url" go run ./cmd/careslot migrate booking >/dev/null 2>&1
for c in 8 32 64; do
  psql "$url" -qc "TRUNCATE appointments, idempotency_keys, outbox" >/dev/null
  tps=$(pgbench -n -f bench/pg-booking.sql -c "$c" -j 2 -T "$secs" "$url" 2>/dev/null | awk '/^tps/ {print $3; exit}')
  booked=$(psql "$url" -Atc "SELECT count(*) FROM appointments")
  echo "raw PostgreSQL booking transaction: clients=$c  ${tps} tx/s  (rows kept: $booked)"
done

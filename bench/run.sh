#!/usr/bin/env bash
# `make bench`: seeds a national-scale data set and measures the whole system
# on this machine, side by side (design §13). Everything runs here; load goes
# to loopback only, bounded in time.
#   BENCH_PRACTITIONERS (default 500000), BENCH_SECONDS per run (default 20).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${BENCH_PRACTITIONERS:-500000}
SECS=${BENCH_SECONDS:-20}
export LOG_LEVEL=${LOG_LEVEL:-warn}
export CARESLOT_DATA_DIR=${CARESLOT_DATA_DIR:-.data/bench}
export REDIS_PREFIX=${REDIS_PREFIX:-bench:}
base=${DATABASE_URL:-postgres://postgres:postgres@127.0.0.1:5432/postgres?sslmode=disable}
for s in practitioner patient booking notification; do
  up=$(echo "$s" | tr a-z A-Z)
  export "DATABASE_URL_${up}=${base%/*}/careslot_bench_${s}?sslmode=disable"
done

./scripts/ensure-services.sh
go build -o bin/careslot ./cmd/careslot
mkdir -p "$CARESLOT_DATA_DIR"

have=$(psql "${DATABASE_URL_PRACTITIONER}" -Atc "SELECT count(*) FROM practitioners" 2>/dev/null || echo 0)
seeded=
if [ "$have" -lt "$N" ]; then
  echo "== seeding $N practitioners (have $have)"
  bin/careslot seed --practitioners "$N" --workers 2 --batch 1000 | tail -n 2
  seeded=1
fi

# The load generator is many clients behind one address: the edge's budgets still run (their
# cost is measured), sized never to refuse it.
for b in ANONYMOUS AUTHENTICATED MUTATIONS REFUSALS; do
  for k in RATE BURST; do
    v="ROUTER_RATE_LIMIT_${b}_${k}"
    export "$v=${!v:-1000000}"
  done
done
export ROUTER_WS_MAX_CONNECTIONS_PER_IP=${ROUTER_WS_MAX_CONNECTIONS_PER_IP:-0}
# Its patients all register from that one address too.
export COUNTRY_LIMITS=${COUNTRY_LIMITS:-registrationsPerAddressPerHour=1000000}

echo "== starting the system"
bin/careslot dev --no-demo > "$CARESLOT_DATA_DIR/dev.log" 2>&1 &
dev=$!
trap 'kill -INT $dev 2>/dev/null; wait $dev 2>/dev/null || true' EXIT
for _ in $(seq 1 600); do
  curl -fs http://127.0.0.1:4003/readyz >/dev/null 2>&1 && curl -fs http://127.0.0.1:4000/health/ready >/dev/null 2>&1 && break
  sleep 1
done
if [ -n "$seeded" ]; then
  # The read models are derived: rebuild availability from the owners'
  # exports (practitioner's and booking's, over HTTP from the running system)
  # rather than wait for half a million events to be replayed.
  time bin/careslot rebuild availability
fi

# Seeding leaves one event per practice for every consumer (booking's
# schedule replica, availability, search, notification): measure the steady
# state, once booking's replica has caught up.
want=$(psql "${DATABASE_URL_PRACTITIONER}" -Atc "SELECT count(*) FROM practitioners")
for _ in $(seq 1 1800); do
  got=$(psql "${DATABASE_URL_BOOKING}" -Atc "SELECT count(*) FROM practitioner_schedules" 2>/dev/null || echo 0)
  [ "$got" -ge "$want" ] && break
  sleep 2
done
sleep 30 # the other consumers run alongside; give them a moment to finish

echo "== search ($N practitioners)"
bin/careslot loadgen search --clients 8 --duration "${SECS}s"
bin/careslot loadgen search --clients 64 --duration "${SECS}s"
echo "== booking: 64 clients contending on 20 practitioners"
bin/careslot loadgen book --clients 64 --duration "${SECS}s" --practitioners 20
echo "== slot listing: 4 weeks of a busy practitioner"
bin/careslot loadgen slots --clients 8 --duration "${SECS}s" --practitioners 5 --days 28
echo "== in-process figures"
go test ./subgraphs/availability/ -run XXX -bench BenchmarkAvailableSlotsFourWeeks -benchtime 2000x | grep Benchmark
go test ./internal/slots/ -run XXX -bench 'BenchmarkOpenFourWeeks|BenchmarkCheck' | grep Benchmark
go test ./subgraphs/search/store/embedded/ -run XXX -bench BenchmarkEmbeddedSearch -benchtime 2000x | grep -E "Benchmark|build|heap" || true
echo "== raw PostgreSQL bound for the booking transaction"
bench/pg-booking.sh "$SECS"

#!/usr/bin/env bash
# `make bench`: seeds a national-scale data set and measures the whole system
# on this machine, side by side (design §13), then prints ONE table and writes
# it to bench/results/<UTC date and time>.md with a column "previous": the
# same row in the newest earlier file there.
#
# It always finishes: every step runs under a time limit, and a step that
# fails (or times out) becomes the row "failed: <reason>" (its log is under
# .data/$BENCH_ID/logs). Exit status: 0 when the table was written, whatever
# its rows say (BENCH_STRICT=1: 1 when a row failed); 2 when the table could
# not be written.
#
# What it owns, and cleans at the end (BENCH_KEEP=1 keeps the seeded data for
# the next run, which then skips the seed and the rebuild):
#   PostgreSQL databases careslot_${BENCH_ID}_<service> and
#   careslot_${BENCH_ID}demo_<service>, Redis keys "${BENCH_ID}:*" and
#   "${BENCH_ID}demo:*" (database of REDIS_URL), the directory .data/$BENCH_ID,
#   ports BENCH_PORT_BASE (4100: router) … +10 (JWKS), +5092 (Kafka), +5101… (metrics).
# By hand: bench/clean.sh [BENCH_ID] does the same.
#
#   BENCH_PRACTITIONERS (default 500000), BENCH_SECONDS per load run (default 20),
#   BENCH_ID (default bench), BENCH_PORT_BASE (default 4100), PG_BENCH_MARGIN (default 10).
set -uo pipefail
cd "$(dirname "$0")/.."
N=${BENCH_PRACTITIONERS:-500000}
SECS=${BENCH_SECONDS:-20}
ID=${BENCH_ID:-bench}
PORT=${BENCH_PORT_BASE:-4100}
KEEP=${BENCH_KEEP:-}
export PG_BENCH_MARGIN=${PG_BENCH_MARGIN:-10}
export LOG_LEVEL=${LOG_LEVEL:-warn}
DATA=.data/$ID
LOGS=$DATA/logs
RESULTS=bench/results
BIN=bin/careslot
export CARESLOT_BIN=$BIN
started=$(date -u +%Y-%m-%dT%H%MZ)
mkdir -p "$LOGS" "$RESULTS"

# --- the table --------------------------------------------------------------
ROWS=() # path, measured, target, command; separated by US (\x1f)
SEP=$'\x1f'
FAILED=0
row() { ROWS+=("$1$SEP$2$SEP$3$SEP$4"); }
failed_row() { FAILED=1; row "$1" "failed: $2" "$3" "$4"; }

# why LOG STATUS: the reason a step failed, for its row.
why() {
  if [ "$2" = 124 ] || [ "$2" = 137 ]; then echo "timed out (log: $1)"; return; fi
  local last
  last=$(grep -v '^[[:space:]]*$' "$1" 2>/dev/null | tail -n 1 | tr '|' '/' | cut -c1-140)
  echo "exit $2: ${last:-no output} (log: $1)"
}

# step NAME SECONDS CMD…: runs CMD under a time limit, output to $LOGS/NAME.log.
step() {
  local name=$1 limit=$2
  shift 2
  echo "== $name" >&2
  timeout -k 15 "$limit" "$@" >"$LOGS/$name.log" 2>&1
  local rc=$?
  cat "$LOGS/$name.log" | grep -v '^$' | tail -n 4 >&2
  return $rc
}

# --- the system under test ---------------------------------------------------
base=${DATABASE_URL:-postgres://postgres:postgres@127.0.0.1:5432/postgres?sslmode=disable}
server=${base%%\?*}
server=${server%/*}
REDIS=${REDIS_URL:-redis://127.0.0.1:6379/0}
redis_db=${REDIS##*/}
redis_db=${redis_db:-0}
SERVICES="practitioner patient search availability booking notification"

# use_env NAME: this shell's environment for the stack NAME (bench or demo):
# its databases, Redis prefix, data directory and ports.
use_env() {
  local name=$1 i=1
  for s in practitioner patient booking notification; do
    export "DATABASE_URL_${s^^}=$server/careslot_${name}_${s}?sslmode=disable"
  done
  export REDIS_URL=$REDIS REDIS_PREFIX="${name}:" CARESLOT_DATA_DIR=$DATA/$name
  export ROUTER_ADDR=127.0.0.1:$PORT OIDC_JWKS_URL=http://127.0.0.1:$((PORT + 10))/.well-known/jwks.json
  for s in $SERVICES; do
    export "${s^^}_ADDR=127.0.0.1:$((PORT + i))" "${s^^}_METRICS_ADDR=127.0.0.1:$((PORT + 5100 + i))"
    i=$((i + 1))
  done
  mkdir -p "$CARESLOT_DATA_DIR"
}
# The load generator is many clients behind one address: the edge's budgets still run (their
# cost is measured), sized never to refuse it; its patients all register from that address too.
for b in ANONYMOUS AUTHENTICATED MUTATIONS REFUSALS; do
  for k in RATE BURST; do
    v="ROUTER_RATE_LIMIT_${b}_${k}"
    export "$v=${!v:-1000000}"
  done
done
export ROUTER_WS_MAX_CONNECTIONS_PER_IP=${ROUTER_WS_MAX_CONNECTIONS_PER_IP:-0}
export COUNTRY_LIMITS=${COUNTRY_LIMITS:-registrationsPerAddressPerHour=1000000}

dev=
# start_stack LOG [dev flags…]: starts `careslot dev` and waits (≤ 15 min) until the router and
# every subgraph are ready; with demo data, until its banner is printed.
start_stack() {
  local log=$1
  shift
  "$BIN" dev --serve-jwks "127.0.0.1:$((PORT + 10))" --broker "127.0.0.1:$((PORT + 5092))" "$@" >"$log" 2>&1 &
  dev=$!
  for _ in $(seq 1 900); do
    kill -0 "$dev" 2>/dev/null || { wait "$dev"; dev=; return 1; }
    if grep -q "Ctrl-C stops everything" "$log"; then return 0; fi
    sleep 1
  done
  return 124
}
stop_stack() {
  [ -n "$dev" ] || return 0
  kill -INT "$dev" 2>/dev/null
  for _ in $(seq 1 60); do kill -0 "$dev" 2>/dev/null || break; sleep 1; done
  kill -KILL "$dev" 2>/dev/null
  wait "$dev" 2>/dev/null
  dev=
}
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null; }
xacts() { psql "$server/postgres" -Atc "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = '$1'" 2>/dev/null; }
rss_mb() { ps -o rss= -p "$1" 2>/dev/null | awk '{printf "%.0f", $1/1024}'; }
peak_mb() { awk '/^VmHWM/ {printf "%.0f", $2/1024}' "/proc/$1/status" 2>/dev/null; }
redis_used_mb() { redis-cli -u "$REDIS" info memory | awk -F: '/^used_memory:/ {printf "%.0f", $2/1048576}'; }
# redis_families PREFIX: the keys under PREFIX by family (the key's first names, ids left out),
# the largest eight, each with its count and its memory estimated from 50 of its keys.
redis_families() {
  local p=$1 n
  n=$(echo "$p" | awk -F: '{print NF}')
  redis-cli -u "$REDIS" --scan --pattern "${p}*" |
    awk -F: -v n="$n" '{f = $n; if (NF > n + 1 && $(n + 1) !~ /^[{]/ && length($(n + 1)) < 24) f = f ":" $(n + 1); print f "\t" $0}' >"$LOGS/redis-keys.tsv"
  cut -f1 "$LOGS/redis-keys.tsv" | sort | uniq -c | sort -rn | head -n 8 | while read -r count fam; do
    local total=0 k=0 b key
    for key in $(awk -F'\t' -v f="$fam" '$1 == f {print $2}' "$LOGS/redis-keys.tsv" | head -n 50); do
      b=$(redis-cli -u "$REDIS" memory usage "$key")
      total=$((total + ${b:-0})) k=$((k + 1))
    done
    printf '%s: %s keys ≈ %s MB; ' "$fam" "$count" "$(awk -v t="$total" -v k="$k" -v c="$count" 'BEGIN {printf "%.0f", k ? t / k * c / 1048576 : 0}')"
  done
}
redis_del_prefix() { redis-cli -u "$REDIS" --scan --pattern "$1*" | xargs -r -n 500 redis-cli -u "$REDIS" unlink >/dev/null; }
drop_dbs() {
  for s in practitioner patient booking notification; do
    psql "$server/postgres" -qc "DROP DATABASE IF EXISTS careslot_${1}_${s} WITH (FORCE)" >/dev/null 2>&1
  done
}
cleanup() {
  stop_stack
  redis_del_prefix "${ID}demo:"
  drop_dbs "${ID}demo"
  rm -rf "$DATA/${ID}demo"
  if [ -z "$KEEP" ]; then
    redis_del_prefix "${ID}:"
    drop_dbs "$ID"
    rm -rf "$DATA/$ID"
  fi
}
trap 'cleanup' EXIT
trap 'exit 130' INT TERM

# --- measurements ------------------------------------------------------------
ok=1
step services 600 ./scripts/ensure-services.sh || { failed_row "services" "$(why "$LOGS/services.log" $?)" "" "scripts/ensure-services.sh"; ok=; }
step build 900 go build -o "$BIN" ./cmd/careslot || { failed_row "build" "$(why "$LOGS/build.log" $?)" "" "go build ./cmd/careslot"; ok=; }

# 1. `make run`'s footprint with the demo data, after its banner and after some load.
if [ -n "$ok" ]; then
  use_env "${ID}demo"
  if start_stack "$LOGS/make-run.log"; then
    after_banner=$(rss_mb "$dev")
    step make-run-load 300 bash -c "$BIN loadgen search --clients 8 --duration 10s --subgraph '' && $BIN loadgen book --clients 16 --duration 10s --practitioners 5 --patients 100"
    row "make run: RSS with the demo data (dev process)" "${after_banner} MB after the banner; $(rss_mb "$dev") MB after 10 s of search and 10 s of booking (peak $(peak_mb "$dev") MB)" "≤ 600 MB" "bin/careslot dev (make run), then loadgen search / book"
  else
    failed_row "make run: RSS with the demo data (dev process)" "$(why "$LOGS/make-run.log" $?)" "≤ 600 MB" "bin/careslot dev"
  fi
  stop_stack
  redis_del_prefix "${ID}demo:"
  drop_dbs "${ID}demo"
fi

# 2. Seed and rebuild.
use_env "$ID"
seeded=
if [ -n "$ok" ]; then
  have=$(psql "$DATABASE_URL_PRACTITIONER" -Atc "SELECT count(*) FROM practitioners" 2>/dev/null || echo 0)
  if [ "${have:-0}" -lt "$N" ]; then
    if step seed 3600 "$BIN" seed --practitioners "$N" --workers 2 --batch 1000; then
      row "seed $N practitioners" "$(grep '^seeded' "$LOGS/seed.log" | sed 's/^seeded //')" "≥ 5,000/s" "careslot seed --practitioners $N --workers 2 --batch 1000"
      seeded=1
    else
      failed_row "seed $N practitioners" "$(why "$LOGS/seed.log" $?)" "≥ 5,000/s" "careslot seed"
    fi
  else
    row "seed $N practitioners" "not measured: $have kept from an earlier run (BENCH_KEEP)" "≥ 5,000/s" "careslot seed"
  fi
fi

up=
if [ -n "$ok" ]; then
  if start_stack "$LOGS/dev.log" --no-demo; then
    up=1
    row "memory: RSS of the system (one dev process), ready" "$(rss_mb "$dev") MB" "" "ps -o rss (bin/careslot dev --no-demo)"
  else
    failed_row "system start" "$(why "$LOGS/dev.log" $?)" "" "bin/careslot dev --no-demo"
  fi
fi

# settle [SECONDS]: waits (at most SECONDS, default 40 minutes) until the practitioner and booking
# outboxes are empty and every consumer of the dev process has consumed its topics to the end, twice
# in a row. Seeding leaves one event per practice for every consumer, a booking run one per booking:
# a run measured meanwhile would share the cores with the event path working off that backlog.
settle() {
  local calm=0 n m lag
  for _ in $(seq 1 $((${1:-2400} / 2))); do
    n=$(psql "$DATABASE_URL_PRACTITIONER" -Atc "SELECT count(*) FROM outbox" 2>/dev/null || echo 1)
    m=$(psql "$DATABASE_URL_BOOKING" -Atc "SELECT count(*) FROM outbox" 2>/dev/null || echo 1)
    n=$((${n:-1} + ${m:-1}))
    lag=$(curl -s "http://$AVAILABILITY_METRICS_ADDR/metrics" | awk '/^careslot_kafka_consumer_lag/ {s += $NF} END {print s + 0}')
    if [ "${n:-1}" = 0 ] && [ "${lag:-1}" = 0 ]; then
      calm=$((calm + 1))
      [ $calm -ge 2 ] && return 0
    else
      calm=0
    fi
    sleep 2
  done
  return 1
}

if [ -n "$up" ]; then
  t0=$(date +%s)
  if settle; then
    [ -n "$seeded" ] && row "event path: the seed's $N practice events consumed by every consumer of the dev process" \
      "in $(($(date +%s) - t0)) s after the start ($(awk -v n="$N" -v s=$(($(date +%s) - t0)) 'BEGIN {printf "%.0f", n/(s>0?s:1)}')/s)" "" "outbox empty and careslot_kafka_consumer_lag 0 (bench/run.sh settle)"
  else
    row "note" "the seed's events were still being consumed after 40 minutes" "" ""
  fi
  if [ -n "$seeded" ] || [ -z "$(redis-cli -u "$REDIS" --scan --pattern "${ID}:av2:*" | head -n 1)" ]; then
    # The read models are derived: rebuild availability from the owners' exports rather than
    # wait for half a million events to be replayed; measured with the event path idle, as an
    # operator runs it.
    if step rebuild 1800 "$BIN" rebuild availability; then
      row "rebuild availability ($N practitioners)" "$(grep '^rebuilt availability' "$LOGS/rebuild.log" | sed 's/^rebuilt availability //')" "< 60 s" "careslot rebuild availability"
    else
      failed_row "rebuild availability" "$(why "$LOGS/rebuild.log" $?)" "< 60 s" "careslot rebuild availability"
    fi
  else
    row "rebuild availability ($N practitioners)" "not measured: kept from an earlier run (BENCH_KEEP)" "< 60 s" "careslot rebuild availability"
  fi
  # settle saw every consumer at the end of its topics; booking's schedule replica is checked by its
  # rows as well (at most 20 minutes more), as the booking rows depend on it.
  want=$(psql "$DATABASE_URL_PRACTITIONER" -Atc "SELECT count(*) FROM practitioners" 2>/dev/null || echo 0)
  for _ in $(seq 1 600); do
    got=$(psql "$DATABASE_URL_BOOKING" -Atc "SELECT count(*) FROM practitioner_schedules" 2>/dev/null || echo 0)
    [ "${got:-0}" -ge "$want" ] && break
    sleep 2
  done
  [ "${got:-0}" -ge "$want" ] || row "note" "booking's replica had $got of $want schedules when the load began" "" ""
  families=$(redis_families "${ID}:")
  keys=$(grep -c $'\t'"${ID}:av2:" "$LOGS/redis-keys.tsv") # the scan redis_families just made
  row "memory: Redis used_memory, $N practitioners seeded" "$(redis_used_mb) MB in all (this run's share: see the last row); $keys availability keys; by family: $families" "≤ 1 GB" "redis-cli info memory; --scan and MEMORY USAGE of 50 keys a family"

  # 3. Search, through the router and straight at the subgraph.
  for c in 8 64; do
    if step "search-$c" $((SECS * 2 + 120)) "$BIN" loadgen search --clients "$c" --duration "${SECS}s"; then
      r=$(grep '^search via router' "$LOGS/search-$c.log")
      d=$(grep '^search direct' "$LOGS/search-$c.log")
      rps() { echo "$1" | grep -o '[0-9]* req/s' | awk '{print $1}'; }
      pc() { echo "$1" | grep -o "$2=[^ ]*" | cut -d= -f2; }
      target="≥ 2,000 rps, p99 < 50 ms"
      [ "$c" = 64 ] && target="≥ 2,000 rps, p99 < 100 ms"
      row "search through the router, $c clients" "$(rps "$r") rps, p50 $(pc "$r" p50), p99 $(pc "$r" p99) (direct to the subgraph: $(rps "$d") rps, p99 $(pc "$d" p99))" "$target" "careslot loadgen search --clients $c --duration ${SECS}s"
      rr=$(rps "$r") dr=$(rps "$d")
      [ -n "$rr" ] && [ -n "$dr" ] && [ "$dr" -gt 0 ] &&
        row "router overhead: search, $c clients (router ÷ direct)" "throughput $(awk -v a="$rr" -v b="$dr" 'BEGIN {printf "%.2f", a/b}'); p50 $(pc "$r" p50) vs $(pc "$d" p50)" "" "same run as the row above"
    else
      failed_row "search through the router, $c clients" "$(why "$LOGS/search-$c.log" $?)" "≥ 2,000 rps" "careslot loadgen search --clients $c"
    fi
  done
  # A router-overhead script of its own (bench/router*.sh), when there is one: its last line.
  for script in bench/router*.sh; do
    [ -x "$script" ] || continue
    if step router-script 900 "$script"; then
      row "router overhead ($script)" "$(grep -v '^[[:space:]]*$' "$LOGS/router-script.log" | tail -n 1)" "" "$script"
    else
      failed_row "router overhead ($script)" "$(why "$LOGS/router-script.log" $?)" "" "$script"
    fi
  done

  # 4. Bookings, contended; then the raw PostgreSQL bound of the same transaction shape.
  booked=
  cpu0=$(cpu_ticks "$dev") xact0=$(xacts "careslot_${ID}_booking")
  if step book $((SECS + 600)) "$BIN" loadgen book --clients 64 --duration "${SECS}s" --practitioners 20; then
    l=$(grep '^book' "$LOGS/book.log")
    booked=$(grep -o 'bookings/s: [0-9]*' "$LOGS/book.log" | awk '{print $2}')
    row "bookings, 64 clients on 20 practitioners, through the router" "$(grep -o 'attempts/s: [0-9]*' "$LOGS/book.log" | awk '{print $2}') attempts/s, $booked booked/s, p50 $(echo "$l" | grep -o 'p50=[^ ]*' | cut -d= -f2), p99 $(echo "$l" | grep -o 'p99=[^ ]*' | cut -d= -f2), $(grep -o 'double bookings counted by booking: [0-9]*' "$LOGS/book.log" | awk '{print $NF}') double bookings" "≥ 1,000 booked/s, 0 double bookings" "careslot loadgen book --clients 64 --duration ${SECS}s --practitioners 20"
    # CPU and transactions per attempt: what the booking path costs, whatever else loads the machine.
    # (The setup's registrations and imports count too: an upper bound.)
    n=$(echo "$l" | grep -o 'requests=[0-9]*' | cut -d= -f2)
    cpu1=$(cpu_ticks "$dev") xact1=$(xacts "careslot_${ID}_booking")
    [ -n "$n" ] && [ "$n" -gt 0 ] && [ -n "$cpu0" ] && [ -n "$cpu1" ] &&
      row "bookings: cost per attempt (system process CPU; booking database transactions)" "$(awk -v c=$((cpu1 - cpu0)) -v t="$(getconf CLK_TCK)" -v n="$n" 'BEGIN {printf "%.2f ms CPU", 1000*c/t/n}'); $(awk -v x=$((xact1 - xact0)) -v n="$n" 'BEGIN {printf "%.2f", x/n}') transactions (setup, outbox relay and consumers included: upper bounds)" "" "/proc/<pid>/stat utime+stime; pg_stat_database xact_commit+xact_rollback"
  else
    failed_row "bookings, 64 clients on 20 practitioners, through the router" "$(why "$LOGS/book.log" $?)" "≥ 1,000 booked/s" "careslot loadgen book --clients 64"
  fi
  row "memory: RSS of the system after search and booking load" "$(rss_mb "$dev") MB (peak $(peak_mb "$dev") MB)" "" "ps -o rss, /proc/<pid>/status VmHWM"

  # The booking run's events are still being applied: the slot listing waits for them (≤ 5 minutes).
  settle 300 || row "note" "the booking run's events were still being consumed 5 minutes later; the slot listing below shared the cores with them" "" ""
  if step slots $((SECS + 300)) "$BIN" loadgen slots --clients 8 --duration "${SECS}s" --practitioners 5 --days 28; then
    l=$(grep '^slots' "$LOGS/slots.log")
    row "4 weeks of slots, busy practitioner, through the router, 8 clients" "$(echo "$l" | grep -o '[0-9]* req/s'), p50 $(echo "$l" | grep -o 'p50=[^ ]*' | cut -d= -f2), p99 $(echo "$l" | grep -o 'p99=[^ ]*' | cut -d= -f2)" "p99 < 5 ms" "careslot loadgen slots --clients 8 --duration ${SECS}s --practitioners 5 --days 28"
  else
    failed_row "4 weeks of slots, through the router" "$(why "$LOGS/slots.log" $?)" "p99 < 5 ms" "careslot loadgen slots"
  fi

  # While the stack still holds its connections: pg-booking.sh sizes its clients from the free ones.
  if step pgbench $((SECS * 3 + 300)) bench/pg-booking.sh "$SECS" 8 32 64; then
    best=0
    while IFS= read -r l; do
      c=$(echo "$l" | grep -o 'clients=[0-9]*' | cut -d= -f2)
      row "raw PostgreSQL, same transaction shape, $c clients" "${l#*clients=$c  }" "" "bench/pg-booking.sh $SECS 8 32 64 (clients ≤ free connections − $PG_BENCH_MARGIN)"
      t=$(echo "$l" | grep -o '[0-9.]* tx/s' | awk '{print $1}')
      [ -n "$t" ] && best=$(awk -v a="$t" -v b="$best" 'BEGIN {print (a > b) ? a : b}')
    done < <(grep '^raw PostgreSQL' "$LOGS/pgbench.log")
    if [ -n "$booked" ] && [ "$best" != 0 ]; then
      row "bookings ÷ raw PostgreSQL (same run)" "$(awk -v a="$booked" -v b="$best" 'BEGIN {printf "%.0f %%", 100*a/b}') ($booked booked/s ÷ $best tx/s, the best raw run)" "≥ 50 %" "the two rows above"
    fi
  else
    failed_row "raw PostgreSQL, same transaction shape" "$(why "$LOGS/pgbench.log" $?)" "" "bench/pg-booking.sh $SECS 8 32 64"
  fi
  for s in practitioner booking; do
    sz=$(psql "$server/postgres" -Atc "SELECT pg_size_pretty(pg_database_size('careslot_${ID}_${s}'))" 2>/dev/null)
    [ -n "$sz" ] && row "memory: PostgreSQL database careslot_${ID}_${s}" "$sz on disk" "" "pg_database_size"
  done
fi
stop_stack

# 5. Live slots through the router (its own stack: the end-to-end test harness), and the
# figures measured in process.
if [ -n "$ok" ]; then
  if step live 900 go test -count=1 -v -run '^$' -bench BookingToSubscriber -benchtime 1x ./cmd/careslot/; then
    m=$(grep -o 'commit (mutation response) -> subscriber: .*' "$LOGS/live.log" | sed 's/^.*subscriber: //')
    h=$(grep -o '[0-9.]* KB each' "$LOGS/live.log")
    x=$(grep -o '[0-9]* messages timed, [0-9]* missed' "$LOGS/live.log")
    row "live slots: booking commit → subscriber message, through the router, 1,000 subscriptions" "${m:-see log} ($x: no message without the slot within 5 s); $h of heap per subscription" "" "go test -v -run '^\$' -bench BookingToSubscriber -benchtime 1x ./cmd/careslot/"
  else
    failed_row "live slots: booking commit → subscriber message" "$(why "$LOGS/live.log" $?)" "" "go test -bench BookingToSubscriber ./cmd/careslot/"
  fi
  metrics() { grep '^Benchmark' "$1" | sed -E 's/^Benchmark([^ \t]*)[ \t]+[0-9]+[ \t]+[0-9.]+ ns\/op[ \t]*/\1: /; s/[ \t]+/ /g'; }
  if step slots-in-process 600 go test -count=1 ./subgraphs/availability/ -run '^$' -bench BenchmarkAvailableSlotsFourWeeks -benchtime 2000x; then
    row "4 weeks of slots, in process (GraphQL)" "$(metrics "$LOGS/slots-in-process.log" | tr '\n' ' ')" "" "go test ./subgraphs/availability/ -bench BenchmarkAvailableSlotsFourWeeks -benchtime 2000x"
  else
    failed_row "4 weeks of slots, in process" "$(why "$LOGS/slots-in-process.log" $?)" "" "go test ./subgraphs/availability/ -bench BenchmarkAvailableSlotsFourWeeks"
  fi
  if step slots-business 600 go test -count=1 ./internal/slots/ -run '^$' -bench 'BenchmarkOpenFourWeeks|BenchmarkCheck'; then
    row "slot rules, in process (business)" "$(metrics "$LOGS/slots-business.log" | tr '\n' ';')" "" "go test ./internal/slots/ -bench 'BenchmarkOpenFourWeeks|BenchmarkCheck'"
  else
    failed_row "slot rules, in process" "$(why "$LOGS/slots-business.log" $?)" "" "go test ./internal/slots/ -bench ."
  fi
  if step maintenance-in-process 600 go test -count=1 ./subgraphs/availability/ -run '^$' -bench BenchmarkBusinessDayMaintenance -benchtime 1x; then
    row "next-slot maintenance over a weekday, in process (2,000 practitioners, Redis)" "$(metrics "$LOGS/maintenance-in-process.log" | tr '\n' ' ')" "" "go test ./subgraphs/availability/ -bench BenchmarkBusinessDayMaintenance -benchtime 1x"
  else
    failed_row "next-slot maintenance over a weekday, in process" "$(why "$LOGS/maintenance-in-process.log" $?)" "" "go test ./subgraphs/availability/ -bench BenchmarkBusinessDayMaintenance"
  fi
  if step search-in-process 900 go test -count=1 ./subgraphs/search/store/embedded/ -run '^$' -bench BenchmarkEmbeddedSearch -benchtime 2000x; then
    row "search in process (embedded index)" "$(metrics "$LOGS/search-in-process.log" | sed -E 's/ [0-9.]+ build-s [0-9.]+ heap-MiB//' | tr '\n' ';')" "keep or better" "go test ./subgraphs/search/store/embedded/ -bench BenchmarkEmbeddedSearch -benchtime 2000x"
    row "embedded index build / heap" "$(grep -m1 -o '[0-9.]* build-s[[:space:]]*[0-9.]* heap-MiB' "$LOGS/search-in-process.log" | awk '{print $1 " s / " $3 " MiB"}')" "keep" "same benchmark"
  else
    failed_row "search in process (embedded index)" "$(why "$LOGS/search-in-process.log" $?)" "keep or better" "go test ./subgraphs/search/store/embedded/ -bench BenchmarkEmbeddedSearch"
  fi
fi

# 6. This run's Redis footprint: what deleting its keys gives back (unless kept).
if [ -z "$KEEP" ]; then
  row "memory: Redis keys of this run at the end, by family" "$(redis_families "${ID}:")" "" "redis-cli --scan; MEMORY USAGE of 50 keys a family"
  before=$(redis-cli -u "$REDIS" info memory | awk -F: '/^used_memory:/ {print $2+0}')
  redis_del_prefix "${ID}:"
  sleep 2
  after=$(redis-cli -u "$REDIS" info memory | awk -F: '/^used_memory:/ {print $2+0}')
  [ -n "$before" ] && [ -n "$after" ] &&
    row "memory: Redis used_memory of this run's keys (freed by the cleanup)" "$(awk -v a="$before" -v b="$after" 'BEGIN {printf "%.0f MB", (a-b)/1048576}') ($N practitioners, 4 weeks of bitmaps)" "≤ 1 GB" "redis-cli info memory, before and after deleting \"${ID}:*\""
fi

# --- the table, and the previous one ----------------------------------------
out="$RESULTS/$started.md"
prev=$(ls "$RESULTS"/*.md 2>/dev/null | grep -v "/$started.md$" | sort | tail -n 1)
previous() { # the "measured" cell of the row named $1 in the previous file
  [ -n "$prev" ] || return 0
  awk -F' \\| ' -v p="| $1" '$1 == p {print $2; exit}' "$prev"
}
{
  echo "# make bench, $started"
  echo
  echo "$N practitioners (BENCH_PRACTITIONERS), ${SECS} s per load run, this machine ($(nproc) cores, shared), load generator on the same cores."
  echo "Previous: ${prev:-none}. Raw PostgreSQL runs use at most the free connections minus $PG_BENCH_MARGIN (bench/pg-booking.sh)."
  echo
  echo "| path | measured | previous | target | command |"
  echo "|---|---|---|---|---|"
  for r in "${ROWS[@]}"; do
    IFS=$SEP read -r p m t c <<<"$r"
    pv=$(previous "$p")
    cmd=${c:+\`${c//|/\\|}\`}
    echo "| $p | ${m//|/\\|} | ${pv:-–} | ${t:-–} | ${cmd:-–} |"
  done
} >"$out.tmp" && mv "$out.tmp" "$out" || { echo "make bench: could not write $out" >&2; exit 2; }
echo
cat "$out"
echo
echo "written to $out (logs: $LOGS)"
[ -n "${BENCH_STRICT:-}" ] && [ "$FAILED" = 1 ] && exit 1
exit 0

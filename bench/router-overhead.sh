#!/usr/bin/env bash
# Router overhead: the same operation through the router and straight at the subgraph that
# answers it, one after the other with the same clients and duration, against a running system
# (`make run`, or the one bench/run.sh starts — with its edge budgets raised, or the router
# refuses the load): a search page (the search subgraph) and four weeks of slots of a practice
# open every day (the availability subgraph's _entities query, as the router sends it).
#
#   bench/router-overhead.sh [seconds per run (default BENCH_SECONDS or 15)] [clients (default 8)]
#
# Prints each run's line, then one JSON line (the last): per operation, both sides' rps, p50/p99
# and CPU ms per request (process_cpu_seconds_total of the services' /metrics, less what the
# processes spend at rest, measured for 3 s first: in `careslot dev` the router and every subgraph
# are one process), and the router ÷ direct ratios (rps_ratio, p99_ratio, cpu_ratio). CPU per
# request stays comparable when other work shares the cores; latency and rps do not.
# For the table: `bench/router-overhead.sh | tail -n 1 | jq`.
# It creates 5 practices through the router's import (loadgen-<run>-<i>), as `loadgen slots` does.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-${BENCH_SECONDS:-15}}
CLIENTS=${2:-8}
go build -o bin/careslot ./cmd/careslot
exec bin/careslot loadgen overhead --clients "$CLIENTS" --duration "${SECS}s" --practitioners 5 --days 28

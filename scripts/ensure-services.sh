#!/usr/bin/env bash
# Makes sure what Careslot needs locally is installed and running: PostgreSQL
# (127.0.0.1:5432, user postgres) and Redis (127.0.0.1:6379). Installs them
# from Debian's packages when missing (needs root). Idempotent.
set -euo pipefail

PGURL="postgresql://postgres:postgres@127.0.0.1:5432/postgres"

missing=()
command -v pg_ctlcluster >/dev/null 2>&1 || missing+=(postgresql postgresql-contrib)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
# redis-cli (redis-tools) joins the test Redis Clusters (internal/testenv).
command -v redis-cli >/dev/null 2>&1 || missing+=(redis-tools)
if ((${#missing[@]})); then
  if [ "$(id -u)" != 0 ]; then
    echo "ensure-services: ${missing[*]} missing; run as root (or install them) once" >&2
    exit 1
  fi
  echo "ensure-services: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  echo "ensure-services: starting PostgreSQL $version"
  pg_ctlcluster --skip-systemctl-redirect "$version" main start 2>/dev/null || pg_ctlcluster "$version" main start
  for _ in $(seq 1 60); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 0.5; done
fi
if ! psql "$PGURL" -Atqc 'SELECT 1' >/dev/null 2>&1; then
  # A fresh Debian cluster asks for a password over TCP: give postgres the one
  # the default DATABASE_URL uses (development machines only).
  echo "ensure-services: setting the local postgres password"
  su postgres -c "psql -qc \"ALTER USER postgres PASSWORD 'postgres'\"" >/dev/null
fi
psql "$PGURL" -Atqc 'SELECT 1' >/dev/null

if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  echo "ensure-services: starting Redis"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no >/dev/null
  for _ in $(seq 1 40); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 0.25; done
fi
redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null
echo "ensure-services: PostgreSQL and Redis are up"

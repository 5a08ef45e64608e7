#!/usr/bin/env bash
# Installs PostgreSQL from Debian's packages when it is missing, starts a
# throw-away cluster for the tests on 127.0.0.1:${BAY_PG_PORT:-55432}, creates
# the database bay_test, and prints the URL to use as BAY_TEST_POSTGRES_URL.
# Idempotent: a running cluster is reused.
set -euo pipefail

port=${BAY_PG_PORT:-55432}
data=${BAY_PG_DATA:-/var/tmp/bay-test-pg}
url="postgres://postgres@127.0.0.1:${port}/bay_test?sslmode=disable"

log() { printf 'postgres.sh: %s\n' "$*" >&2; }

find_bin() {
  local d
  for d in /usr/lib/postgresql/*/bin; do
    if [ -x "$d/pg_ctl" ] && [ -x "$d/initdb" ]; then echo "$d"; return 0; fi
  done
  return 1
}

as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

bin=$(find_bin || true)
if [ -z "$bin" ]; then
  if [ "$(id -u)" != 0 ]; then
    log "PostgreSQL is not installed and this is not root: install the 'postgresql' package"
    exit 1
  fi
  log "installing PostgreSQL from Debian's packages"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2 || { log "apt-get update failed: is the Debian mirror reachable?"; exit 1; }
  apt-get install -y -qq --no-install-recommends postgresql >&2 \
    || { log "apt-get install postgresql failed"; exit 1; }
  bin=$(find_bin) || { log "PostgreSQL installed but pg_ctl not found"; exit 1; }
fi

if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then
  useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
fi

if ! as_pg "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
  if [ ! -f "$data/PG_VERSION" ]; then
    log "initialising a cluster in $data"
    mkdir -p "$data"
    [ "$(id -u)" = 0 ] && chown postgres:postgres "$data"
    as_pg "$bin/initdb" -D "$data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
  fi
  log "starting PostgreSQL on 127.0.0.1:$port"
  # Tuned for tests: durability off (the cluster is thrown away), enough
  # connections for parallel test packages.
  as_pg "$bin/pg_ctl" -D "$data" -l "$data/server.log" -w -t 60 start \
    -o "-p $port -k /tmp -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" >/dev/null \
    || { log "PostgreSQL did not start; see $data/server.log"; tail -20 "$data/server.log" >&2; exit 1; }
fi

if ! as_pg "$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'bay_test'" postgres | grep -q 1; then
  as_pg "$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -qc "CREATE DATABASE bay_test" postgres
fi
echo "$url"

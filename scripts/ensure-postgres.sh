#!/usr/bin/env bash
# Prints the bin directory of a PostgreSQL server (Debian keeps them under /usr/lib/postgresql/<major>/bin),
# installing Debian's `postgresql` package when none is there. Used by the test harness and `make native`;
# it never touches the machine's own cluster.
set -euo pipefail
log() { printf '[ensure-postgres] %s\n' "$*" >&2; }

find_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }

bin=$(find_bin || true)
if [ -z "$bin" ] || [ ! -x "$bin/postgres" ]; then
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    log "No PostgreSQL server found. Install it (Debian: sudo apt-get install postgresql) and rerun."
    exit 1
  fi
  # Only the server binaries are wanted: no default cluster on 5432.
  mkdir -p /etc/postgresql-common && echo "create_main_cluster = false" > /etc/postgresql-common/createcluster.conf
  log "installing Debian's postgresql package (apt-get update first; about a minute)..."
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >&2
  bin=$(find_bin)
fi
# As root the harness runs the cluster as the postgres system user (the server refuses root).
if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then
  useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
fi
echo "$bin"

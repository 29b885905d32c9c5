#!/bin/sh
# PostgreSQL's entrypoint in the local node's image (the official image's contract, reduced to what the chart
# uses): POSTGRES_USER, POSTGRES_PASSWORD or POSTGRES_PASSWORD_FILE, POSTGRES_DB and PGDATA; a new data directory is
# initialized once.
# Runs as the postgres user (uid 999) from the start.
set -eu
PGDATA=${PGDATA:-/var/lib/postgresql/data}
user=${POSTGRES_USER:-postgres}
db=${POSTGRES_DB:-$user}
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  pwfile=$(mktemp)
  # The chart mounts the Secret as a file: the password never enters the environment.
  if [ -n "${POSTGRES_PASSWORD_FILE:-}" ]; then
    [ -s "$POSTGRES_PASSWORD_FILE" ] || { echo "POSTGRES_PASSWORD_FILE ($POSTGRES_PASSWORD_FILE) is missing or empty: check the Secret the chart mounts (postgresql.auth.existingSecret, key password)" >&2; exit 1; }
    printf '%s' "$(cat "$POSTGRES_PASSWORD_FILE")" >"$pwfile"
  else
    [ -n "${POSTGRES_PASSWORD:-}" ] || { echo "neither POSTGRES_PASSWORD_FILE nor POSTGRES_PASSWORD is set: set one (the chart mounts the password from a Secret)" >&2; exit 1; }
    printf '%s' "$POSTGRES_PASSWORD" >"$pwfile"
  fi
  mkdir -p "$PGDATA"
  chmod 700 "$PGDATA"
  initdb -D "$PGDATA" -U "$user" --pwfile="$pwfile" --auth-local=trust --auth-host=scram-sha-256 \
    --encoding=UTF8 --locale=C >/dev/null
  rm -f "$pwfile"
  echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
  if [ "$db" != postgres ]; then
    pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
    psql -v ON_ERROR_STOP=1 -U "$user" -d postgres -qc "CREATE DATABASE \"$db\"" >/dev/null
    pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
  fi
fi
# As the official image's entrypoint: the data directory's mode is PostgreSQL's condition to start (a volume
# plugin's ownership change may have widened it).
chmod 700 "$PGDATA"
exec postgres -D "$PGDATA" -c listen_addresses='*' -c jit=off "$@"

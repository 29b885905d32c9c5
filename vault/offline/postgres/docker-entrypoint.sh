#!/usr/bin/env bash
# The official postgres image's entrypoint contract, reduced to what a compose file can rely on:
#   POSTGRES_PASSWORD (required for a new cluster, or POSTGRES_HOST_AUTH_METHOD=trust), POSTGRES_USER
#   (default postgres), POSTGRES_DB (default $POSTGRES_USER), POSTGRES_INITDB_ARGS, the *_FILE variants,
#   PGDATA, initdb only when $PGDATA has no PG_VERSION, /docker-entrypoint-initdb.d/*.sql|*.sh on first
#   start, `host all all all <password_encryption>` for TCP clients, and the drop from root to `postgres`.
set -Eeo pipefail

# VAR_FILE lets a Docker secret file provide VAR.
file_env() {
	local var="$1" fileVar="${1}_FILE" def="${2:-}" val
	if [ -n "${!var:-}" ] && [ -n "${!fileVar:-}" ]; then
		echo >&2 "error: both $var and $fileVar are set (but are exclusive)"
		exit 1
	fi
	val="$def"
	if [ -n "${!var:-}" ]; then val="${!var}"; elif [ -n "${!fileVar:-}" ]; then val="$(< "${!fileVar}")"; fi
	export "$var"="$val"
	unset "$fileVar"
}

setup_env() {
	file_env POSTGRES_PASSWORD
	file_env POSTGRES_USER postgres
	file_env POSTGRES_DB "$POSTGRES_USER"
	file_env POSTGRES_INITDB_ARGS
	: "${POSTGRES_HOST_AUTH_METHOD:=}"
	DATABASE_ALREADY_EXISTS=
	if [ -s "$PGDATA/PG_VERSION" ]; then DATABASE_ALREADY_EXISTS=true; fi
}

create_directories() {
	mkdir -p "$PGDATA"
	# PostgreSQL refuses a data directory that others can read.
	chmod 00700 "$PGDATA" || :
	mkdir -p /var/run/postgresql || :
	chmod 03775 /var/run/postgresql || :
	if [ "$(id -u)" = 0 ]; then
		find "$PGDATA" \! -user postgres -exec chown postgres '{}' +
		find /var/run/postgresql \! -user postgres -exec chown postgres '{}' +
	fi
}

verify_minimum_env() {
	if [ -z "$POSTGRES_PASSWORD" ] && [ "$POSTGRES_HOST_AUTH_METHOD" != trust ]; then
		cat >&2 <<-'EOE'
			Error: Database is uninitialized and superuser password is not specified.
			       Set POSTGRES_PASSWORD to a non-empty value (in .env for this stack).
		EOE
		exit 1
	fi
}

process_sql() {
	local runner=(psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --no-password --no-psqlrc)
	if [ -n "$POSTGRES_DB" ]; then runner+=(--dbname "$POSTGRES_DB"); fi
	PGHOST='' PGHOSTADDR='' "${runner[@]}" "$@"
}

init_database() {
	# --pwfile refuses an empty file, hence the newline.
	eval 'initdb --username="$POSTGRES_USER" --pwfile=<(printf "%s\n" "$POSTGRES_PASSWORD") '"$POSTGRES_INITDB_ARGS"' "$@"'

	local auth
	auth="$(postgres -C password_encryption)"
	: "${POSTGRES_HOST_AUTH_METHOD:=$auth}"
	printf '\nhost all all all %s\n' "$POSTGRES_HOST_AUTH_METHOD" >> "$PGDATA/pg_hba.conf"

	export PGPASSWORD="${PGPASSWORD:-$POSTGRES_PASSWORD}"
	# Socket only: nothing may connect over TCP (and healthchecks stay red) until set-up is done.
	PGUSER="${PGUSER:-$POSTGRES_USER}" pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -p ${PGPORT:-5432}" -w start

	local exists
	# POSTGRES_DB is emptied for psql's --dbname only; :'db' still gets the wanted name.
	# shellcheck disable=SC2097,SC2098
	exists="$(POSTGRES_DB='' process_sql --dbname postgres --set db="$POSTGRES_DB" --tuples-only <<-'EOSQL'
		SELECT 1 FROM pg_database WHERE datname = :'db' ;
	EOSQL
	)"
	if [ -z "$exists" ]; then
		# shellcheck disable=SC2097,SC2098
		POSTGRES_DB='' process_sql --dbname postgres --set db="$POSTGRES_DB" <<-'EOSQL'
			CREATE DATABASE :"db" ;
		EOSQL
	fi

	local f
	# shellcheck disable=SC1090
	for f in /docker-entrypoint-initdb.d/*; do
		case "$f" in
			*.sh) echo "$0: running $f"; if [ -x "$f" ]; then "$f"; else . "$f"; fi ;;
			*.sql) echo "$0: running $f"; process_sql -f "$f" ;;
			*/\*) ;;
			*) echo "$0: ignoring $f" ;;
		esac
	done

	PGUSER="${PGUSER:-postgres}" pg_ctl -D "$PGDATA" -m fast -w stop
	unset PGPASSWORD
	echo
	echo 'PostgreSQL init process complete; ready for start up.'
	echo
}

if [ "${1:0:1}" = '-' ]; then set -- postgres "$@"; fi

# Options that make postgres print and exit need no cluster.
wants_help() {
	local arg
	for arg; do
		case "$arg" in -'?'|--help|--describe-config|-V|--version) return 0 ;; esac
	done
	return 1
}

if [ "$1" = postgres ] && ! wants_help "$@"; then
	setup_env
	create_directories
	if [ "$(id -u)" = 0 ]; then
		exec gosu postgres "${BASH_SOURCE[0]}" "$@"
	fi
	if [ -z "$DATABASE_ALREADY_EXISTS" ]; then
		verify_minimum_env
		init_database
	else
		echo
		echo 'PostgreSQL Database directory appears to contain a database; Skipping initialization'
		echo
	fi
fi

exec "$@"

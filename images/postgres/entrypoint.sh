#!/bin/bash
# Entrypoint of bay-postgres:latest (images/postgres): PostgreSQL from
# Debian's packages, set up the way the common postgres images are.
#
#   POSTGRES_PASSWORD       the superuser's password; required to initialise
#   POSTGRES_PASSWORD_FILE  or a file holding it (a Docker or Kubernetes secret)
#   POSTGRES_USER           the superuser (default postgres)
#   POSTGRES_DB             a database made at initialisation (default: $POSTGRES_USER)
#   PGDATA                  the data directory (default /var/lib/postgresql/data;
#                           when the volume's root holds other files, such as
#                           lost+found, use a directory below it)
#
# On the first start (no $PGDATA/PG_VERSION) it runs initdb as the user
# postgres (uid 999), creates the database, and allows password logins
# (scram-sha-256) from any address; connections over the container's own
# socket are trusted. Every start then runs the server in the foreground,
# listening on every address on port 5432, with the JIT off (the image has
# no LLVM). Arguments after `postgres` go to the server (postgres -c
# max_connections=200); any other command runs as given (psql, bash).
#
# Started as root, it makes $PGDATA belong to postgres and continues as
# postgres; started as another user (a pod with runAsUser: 999), it does
# neither. SIGTERM and SIGINT stop the server with a fast shutdown
# (sessions end, a checkpoint is written): the postgres default for
# SIGTERM, a smart shutdown, would wait for Bay's pooled connections.
set -euo pipefail

export PGDATA=${PGDATA:-/var/lib/postgresql/data}
SOCKETS=/var/run/postgresql

log() { printf 'bay-postgres: %s\n' "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}

if [ "${1:-postgres}" != postgres ]; then
	exec "$@"
fi
[ $# -gt 0 ] && shift

if [ "$(id -u)" = 0 ]; then
	mkdir -p "$PGDATA" "$SOCKETS"
	# Only what is not postgres's yet changes owner.
	find "$PGDATA" "$SOCKETS" \! -user postgres -exec chown postgres:postgres {} +
	chmod 0700 "$PGDATA"
	exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" postgres "$@"
fi

if [ ! -s "$PGDATA/PG_VERSION" ]; then
	password=${POSTGRES_PASSWORD:-}
	if [ -n "${POSTGRES_PASSWORD_FILE:-}" ]; then
		[ -z "$password" ] || die "set POSTGRES_PASSWORD or POSTGRES_PASSWORD_FILE, not both"
		password=$(<"$POSTGRES_PASSWORD_FILE") || die "cannot read POSTGRES_PASSWORD_FILE $POSTGRES_PASSWORD_FILE"
	fi
	[ -n "$password" ] || die "the database is not initialised and POSTGRES_PASSWORD (or POSTGRES_PASSWORD_FILE) is not set"
	user=${POSTGRES_USER:-postgres}
	db=${POSTGRES_DB:-$user}
	log "initialising $PGDATA (superuser $user, database $db)"
	mkdir -p "$PGDATA"
	chmod 0700 "$PGDATA" 2>/dev/null || true
	pwfile=$(mktemp)
	trap 'rm -f "$pwfile"' EXIT
	printf '%s\n' "$password" >"$pwfile"
	initdb --pgdata="$PGDATA" --username="$user" --pwfile="$pwfile" \
		--encoding=UTF8 --locale=C.UTF-8 --auth-local=trust --auth-host=scram-sha-256 >&2
	rm -f "$pwfile"
	trap - EXIT
	cat >"$PGDATA/pg_hba.conf" <<-'EOF'
		# Written by bay-postgres's entrypoint at initialisation.
		# TYPE  DATABASE  USER  ADDRESS    METHOD
		local   all       all              trust
		host    all       all   0.0.0.0/0  scram-sha-256
		host    all       all   ::/0       scram-sha-256
	EOF
	if [ "$db" != postgres ]; then
		# On the socket only, so that nothing connects before it is done.
		pg_ctl --pgdata="$PGDATA" --wait --silent \
			-o "-c listen_addresses='' -c unix_socket_directories=$SOCKETS -c jit=off" start >&2
		psql --no-psqlrc --quiet -v ON_ERROR_STOP=1 -h "$SOCKETS" -U "$user" -d postgres -v db="$db" >&2 <<-'EOF'
			CREATE DATABASE :"db";
		EOF
		pg_ctl --pgdata="$PGDATA" --wait --silent --mode=fast stop >&2
	fi
	log "initialised"
fi

postgres -D "$PGDATA" -c listen_addresses='*' -c unix_socket_directories="$SOCKETS" -c jit=off "$@" &
pid=$!
trap 'kill -INT "$pid" 2>/dev/null || true' TERM INT
# wait returns early when a trapped signal arrives: wait again until the
# server has exited, and exit with its status.
status=0
while kill -0 "$pid" 2>/dev/null; do
	wait "$pid" && status=0 || status=$?
done
exit "$status"

#!/bin/bash
# Entrypoint of the test bed's `postgres:13` image (the official image's name, which the old guided
# installer's compose file ran as mathesar_db). It behaves like the official postgres image's:
#   - started as root: create/chown $PGDATA for the postgres user, then drop to that user;
#   - empty $PGDATA: initdb with POSTGRES_USER (default postgres) and POSTGRES_PASSWORD
#     (required unless POSTGRES_HOST_AUTH_METHOD=trust), create POSTGRES_DB (default: the user),
#     run /docker-entrypoint-initdb.d/*.sh|*.sql, allow `host all all all` with the server's password_encryption;
#   - existing $PGDATA: used as it is; POSTGRES_PASSWORD and the others are then ignored (data of
#     another major version is refused by postgres itself, as in the official image).
set -Eeuo pipefail

log() { printf '%s\n' "$*"; }

if [[ ${1:-} == -* ]]; then
	set -- postgres "$@"
fi
if [[ ${1:-} != postgres ]]; then
	exec "$@"
fi

export PGDATA=${PGDATA:-/var/lib/postgresql/data}

if [[ $(id -u) == 0 ]]; then
	mkdir -p "$PGDATA"
	chmod 0700 "$PGDATA" || :
	find "$PGDATA" \! -user postgres -exec chown postgres:postgres '{}' +
	mkdir -p /var/run/postgresql
	chown postgres:postgres /var/run/postgresql
	chmod 3777 /var/run/postgresql
	exec setpriv --reuid=postgres --regid=postgres --init-groups "${BASH_SOURCE[0]}" "$@"
fi

if [[ -s $PGDATA/PG_VERSION ]]; then
	log "PostgreSQL Database directory appears to contain a database; Skipping initialization"
	exec "$@"
fi

user=${POSTGRES_USER:-postgres}
db=${POSTGRES_DB:-$user}
if [[ -z ${POSTGRES_PASSWORD:-} && ${POSTGRES_HOST_AUTH_METHOD:-} != trust ]]; then
	cat >&2 <<'MSG'
Error: Database is uninitialized and superuser password is not specified.
       You must specify POSTGRES_PASSWORD to a non-empty value for the
       superuser. For example, "-e POSTGRES_PASSWORD=password" on "docker run".
MSG
	exit 1
fi

# initdb reads the password's first line from the file, exactly like the official image.
# shellcheck disable=SC2086 # POSTGRES_INITDB_ARGS is a word list, as upstream.
initdb --username="$user" --pwfile=<(printf '%s\n' "${POSTGRES_PASSWORD:-}") ${POSTGRES_INITDB_ARGS:-}
# The network's method follows the server's password_encryption, as upstream's (md5 up to 13,
# scram-sha-256 from 14): a scram line would refuse every md5-stored password.
auth=${POSTGRES_HOST_AUTH_METHOD:-$(postgres -C password_encryption)}
printf '\nhost all all all %s\n' "$auth" >>"$PGDATA/pg_hba.conf"

pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -p 5432" -w start
export PGPASSWORD=${POSTGRES_PASSWORD:-}
psql=(psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$user" --no-password)
if [[ $db != postgres ]]; then
	"${psql[@]}" --dbname postgres --set db="$db" <<<'CREATE DATABASE :"db";'
fi
# Init scripts are the user's, sourced (not run) as upstream does.
# shellcheck disable=SC1090
source_init_script() { . "$1"; }
shopt -s nullglob
for f in /docker-entrypoint-initdb.d/*; do
	case $f in
	*.sh) log "running $f" && source_init_script "$f" ;;
	*.sql) log "running $f" && "${psql[@]}" --dbname "$db" -f "$f" ;;
	*) log "ignoring $f" ;;
	esac
done
unset PGPASSWORD
pg_ctl -D "$PGDATA" -m fast -w stop
log "PostgreSQL init process complete; ready for start up."
exec "$@"

# shellcheck shell=bash
# Several hosts, one database: Mathesar's own database (internal-db-host) and the user database
# on a PostgreSQL server outside both hosts. Host A is configured and started: the admin is created
# there. Host B is configured with the same answers and A's SECRET_KEY: it creates no second admin,
# uses the same key, and serves the same users. (The package's container names are fixed and both
# hosts of the bed share one Docker Engine, so A is stopped before B starts; on real machines
# both run at once behind a load balancer.)
pg=mathesar-e2e-extpg-$E2E_NAME
host_b=$E2E_HOST-b
data_a=$E2E_DATA_DIR
data_b=$E2E_WORK/data-b
cleanup_multihost() { docker rm -f -v "$pg" "$host_b" >/dev/null 2>&1 || true; }
trap cleanup_multihost EXIT

pg_port=$(free_port)
pg_password="pg-$(sha256_of "$E2E_NAME-$RANDOM-$(date +%s%N)" | cut -c1-24)"
admin_password="Adm1n-$(sha256_of "admin-$RANDOM-$(date +%s%N)" | cut -c1-24)"
secret "$pg_password"
secret "$admin_password"
log "starting the shared PostgreSQL server ($pg, port $pg_port)"
docker run -d --name "$pg" --label "$E2E_LABEL=1" -p "$pg_port:5432" \
	-e POSTGRES_USER=mathesar -e POSTGRES_PASSWORD="$pg_password" -e POSTGRES_DB=mathesar_django \
	"$(image_of db)" >/dev/null || fail "could not start the shared PostgreSQL"
wait_for "docker exec $pg pg_isready -q -h 127.0.0.1 -U mathesar -d mathesar_django" 120 "the shared PostgreSQL" ||
	fail "the shared PostgreSQL did not start"
docker exec "$pg" psql -U mathesar -d mathesar_django -qc 'CREATE DATABASE mathesar' ||
	fail "could not create the user database on the shared server"
pgsql() { docker exec "$pg" psql -U mathesar -d mathesar_django -Atc "$1"; }

# configure_host HTTP_PORT DATA_DIR: the same answers on every host (a fleet's answers file).
configure_host() {
	host_copy "$REPO_ROOT/target/debug/mathesarctl" /usr/bin/mathesarctl
	host_exec env MATHESAR_DATA_DIR="$2" MATHESAR_HTTP_PORT="$1" MATHESAR_DB_PORT= \
		MATHESAR_INTERNAL_DB_HOST=127.0.0.1 MATHESAR_INTERNAL_DB_PORT="$pg_port" \
		MATHESAR_DB_USER=mathesar MATHESAR_DB_PASSWORD="$pg_password" \
		MATHESAR_USER_DB=existing MATHESAR_EXISTING_DB_HOST=127.0.0.1 MATHESAR_EXISTING_DB_PORT="$pg_port" \
		MATHESAR_EXISTING_DB_USER=mathesar MATHESAR_EXISTING_DB_PASSWORD="$pg_password" \
		MATHESAR_ADMIN_EMAIL=admin@example.com MATHESAR_ADMIN_PASSWORD="$admin_password" \
		mathesarctl configure --non-interactive --no-start >&2 || fail "configure failed on $E2E_HOST"
}

log "host A"
host_start
config_dir /etc/mathesar
http_a=$(free_port)
configure_host "$http_a" "$data_a"
secret_key_line=$(host_exec grep '^SECRET_KEY=' /etc/mathesar/.env)
secret "${secret_key_line#SECRET_KEY=}"
host_exec timeout 600 mathesarctl up >"$E2E_WORK/up-a.txt" 2>&1 || {
	cat "$E2E_WORK/up-a.txt" >&2
	fail "mathesarctl up failed on host A: $(stack_diagnose | paste -sd ';' -)"
}
cat "$E2E_WORK/up-a.txt" >&2
[[ -z $(docker ps -aq --filter name='^mathesar_db$') ]] || fail "the bundled database was started with internal-db-host set"
assert_eq 1 "$(pgsql 'SELECT count(*) FROM mathesar_user')" "admins in the shared database after host A"
key_a=$(app_env_hash SECRET_KEY)
# The package connected the user database on the shared server for the admin (host A's doing).
assert_user_db_works "http://127.0.0.1:$http_a/" admin "$admin_password"
host_exec mathesarctl down >&2 || fail "mathesarctl down failed on host A"

log "host B"
export E2E_HOST=$host_b E2E_DATA_DIR=$data_b
mkdir -p "$data_b"
host_start
# The fleet's shared SECRET_KEY: it encrypts the stored database credentials, so every host needs it.
printf '%s\n' "$secret_key_line" | host_exec sh -c 'umask 077 && mkdir -p /etc/mathesar && cat >/etc/mathesar/.env'
http_b=$(free_port)
configure_host "$http_b" "$data_b"
assert_eq "$secret_key_line" "$(host_exec grep '^SECRET_KEY=' /etc/mathesar/.env)" "host B's SECRET_KEY"
host_exec timeout 600 mathesarctl up >"$E2E_WORK/up-b.txt" 2>&1 || {
	cat "$E2E_WORK/up-b.txt" >&2
	fail "mathesarctl up failed on host B: $(stack_diagnose | paste -sd ';' -)"
}
cat "$E2E_WORK/up-b.txt" >&2
grep -q "the admin \`admin\` already exists" "$E2E_WORK/up-b.txt" || fail "host B did not find the admin host A created"
assert_eq 1 "$(pgsql 'SELECT count(*) FROM mathesar_user')" "admins in the shared database after host B"
assert_eq "$key_a" "$(app_env_hash SECRET_KEY)" "secret key on host B (SHA-256) against host A's"
assert_eq admin "$(pgsql "SELECT string_agg(username, ',') FROM mathesar_user")" "users of the shared database"
# Host B opens the user database with the credentials host A stored: the shared key decrypts them.
assert_login "http://127.0.0.1:$http_b/" admin "$admin_password"
assert_user_db_works "http://127.0.0.1:$http_b/" admin "$admin_password"
assert_eq 1 "$(pgsql "SELECT count(*) FROM mathesar_database WHERE name = 'mathesar'")" \
	"the user database is connected once, whatever the number of hosts"
code=$(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' "http://127.0.0.1:$http_b/")
assert_eq "302 http://127.0.0.1:$http_b/auth/login/?next=/" "$code" "host B's login redirect (the admin exists)"
host_exec mathesarctl down >&2 || fail "mathesarctl down failed on host B"

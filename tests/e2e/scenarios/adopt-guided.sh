# shellcheck shell=bash
# e2e-needs: host, stack, pg13
# e2e-lane: seeded
# shellcheck disable=SC2016 # literal $ in single quotes
# Taking over the 0.1.x guided installer's /etc/mathesar: its .env (single-quoted, with
# DJANGO_DATABASE_URL and MATHESAR_DATABASES; no DJANGO_SUPERUSER_PASSWORD, as 0.1.3) and docker-compose.yml
# (project `mathesar`), mathesar_db running postgres:13 on the Compose volume
# mathesar_postgresql_data: a cluster initialised by PostgreSQL 13 holding Mathesar's own
# database (a stand-in of 0.1.x's metadata: Django's auth_user with the admin and its password
# hash as Django stores it) and the user
# database mathesar_tables with rows. There is no 0.1.x image: mathesar_service is a stand-in
# (postgres:13 tagged mathesar/mathesar-prod:0.1.3, sleeping); nothing detected depends on it.
# apt install with `adopt` preseeded yes (nothing else but the data directory): the 13 data copied
# and upgraded to 17 by pgautoupgrade, the old volume still 13 and untouched; Mathesar 0.11.0
# serves, the admin logs in with the guided installer's password (its hash carried into the new
# user table; the generated one removed), mathesar_tables is connected
# and its rows come through the API; 0.1.x's metadata stays, unused, in mathesar_django.
# shellcheck source=pkg-common.inc
source "$E2E_DIR/scenarios/pkg-common.inc"
docker image inspect postgres:13 >/dev/null 2>&1 || fail "no image postgres:13 (tests/e2e/images/build postgres-13)"
docker tag postgres:13 mathesar/mathesar-prod:0.1.3
deb=$(pkg_deb)
host_start
config_dir /etc/mathesar
http_port=$(free_port)
https_port=$(free_port)
db_port=$(free_port)
data=$E2E_DATA_DIR/pkg
admin_password="Adm1n-$(sha256_of "$E2E_NAME-$RANDOM" | cut -c1-20)"
db_password=$(sha256_of "db-$RANDOM" | cut -c1-24)
secret_key=$(sha256_of "key-$RANDOM" | cut -c1-60)
secret "$admin_password"
secret "$db_password"
secret "$secret_key"
base="http://127.0.0.1:$http_port/"

log "the guided installer's layout in /etc/mathesar"
host_exec mkdir -p /etc/mathesar
cat >"$E2E_WORK/.env" <<EOF
POSTGRES_USER='mathesar'
POSTGRES_PASSWORD='$db_password'
POSTGRES_PORT='$db_port'
SECRET_KEY='$secret_key'
DJANGO_DATABASE_URL='postgresql://mathesar:$db_password@mathesar_db:5432/mathesar_django'
MATHESAR_DATABASES='(mathesar_tables|postgresql://mathesar:$db_password@mathesar_db:5432/mathesar_tables)'
ALLOWED_HOSTS='*'
DOMAIN_NAME=':80'
HTTP_PORT='$http_port'
HTTPS_PORT='$https_port'
EOF
cat >"$E2E_WORK/docker-compose.yml" <<EOF
version: "3.9"
services:
  db:
    image: postgres:13
    container_name: mathesar_db
    environment:
      - POSTGRES_USER=\${POSTGRES_USER}
      - POSTGRES_PASSWORD=\${POSTGRES_PASSWORD}
      - POSTGRES_DB=mathesar_django
    ports:
      - "\${POSTGRES_PORT-5432}:5432"
    volumes:
      - postgresql_data:/var/lib/postgresql/data
    healthcheck:
      test: ["CMD-SHELL", "pg_isready -d mathesar_django -U \$\${POSTGRES_USER}"]
      interval: 2s
      retries: 60
  service:
    container_name: mathesar_service
    image: mathesar/mathesar-prod:0.1.3
    entrypoint: ["sleep", "infinity"]
    environment:
      - DJANGO_DATABASE_URL=\${DJANGO_DATABASE_URL}
      - MATHESAR_DATABASES=\${MATHESAR_DATABASES}
      - SECRET_KEY=\${SECRET_KEY}
    depends_on:
      db:
        condition: service_healthy
  caddy-reverse-proxy:
    image: $(image_of caddy)
    environment:
      - DOMAIN_NAME=\${DOMAIN_NAME}
    ports:
      - "\${HTTP_PORT-80}:80"
      - "\${HTTPS_PORT-443}:443"
volumes:
  postgresql_data:
EOF
host_copy "$E2E_WORK/.env" /etc/mathesar/.env
host_copy "$E2E_WORK/docker-compose.yml" /etc/mathesar/docker-compose.yml
host_exec chmod 600 /etc/mathesar/.env
host_sh 'cd /etc/mathesar && docker compose up -d --wait' >&2 || fail "docker compose up of the guided layout failed"
# The admin's password as Django 3.x stored it (PBKDF2-SHA256, 260000 iterations).
admin_hash=$(ADMIN_PASSWORD=$admin_password python3 -c '
import base64, hashlib, os
salt = os.urandom(12).hex()
dk = hashlib.pbkdf2_hmac("sha256", os.environ["ADMIN_PASSWORD"].encode(), salt.encode(), 260000)
print("pbkdf2_sha256$260000$%s$%s" % (salt, base64.b64encode(dk).decode()))')
old_psql() { docker exec mathesar_db psql -U mathesar -v ON_ERROR_STOP=1 -XAtq "$@"; }
old_psql -d mathesar_django -c "CREATE TABLE auth_user (id serial PRIMARY KEY, password varchar(128) NOT NULL, username varchar(150) UNIQUE NOT NULL, email text NOT NULL DEFAULT '', is_superuser boolean NOT NULL, is_staff boolean NOT NULL DEFAULT true, is_active boolean NOT NULL DEFAULT true);
	INSERT INTO auth_user (password, username, email, is_superuser) VALUES ('$admin_hash', 'admin', 'admin@example.com', true);" ||
	fail "the 0.1.x metadata stand-in could not be made"
old_psql -d mathesar_django -c "CREATE DATABASE mathesar_tables"
old_psql -d mathesar_tables -c "CREATE TABLE kept_rows (id serial PRIMARY KEY, v text); INSERT INTO kept_rows (v) VALUES ('row 1'), ('row 2'), ('row 3')"
assert_eq 13 "$(docker exec mathesar_db cat /var/lib/postgresql/data/PG_VERSION)" "the guided layout's cluster version"
env_copy=$(host_exec cat /etc/mathesar/.env)

log "apt install with adopt preseeded yes"
preseed "mathesar/data-dir string $data" "mathesar/adopt boolean true"
t0=$SECONDS
host_copy "$deb" /root/
out=$(host_exec env DEBIAN_FRONTEND=noninteractive apt-get install -y "/root/$(basename "$deb")" 2>&1) || {
	printf '%s\n' "$out" >&2
	fail "apt-get install with the adoption failed"
}
printf '%s\n' "$out" >&2
[[ $out == *"the admin \`admin\` keeps its 0.1.x password"* ]] || fail "the output does not say the admin keeps its password"
[[ $out == *"Found a Mathesar installation made with the guided installer of Mathesar 0.1.x in /etc/mathesar"* ]] ||
	fail "the report does not say what was found"
[[ $out == *"version: Mathesar 0.1.3"* && $out == *"databases: mathesar_django, mathesar_tables, postgres"* && $out == *"ports: HTTP $http_port, HTTPS $https_port, PostgreSQL $db_port"* && $out == *"data: volume mathesar_postgresql_data"* ]] ||
	fail "the report does not name the version, the databases, the ports and the volume"
wait_up "$http_port"
log "taken over, upgraded and serving Mathesar 0.11.0 in $((SECONDS - t0)) s"
assert_eq 17 "$(host_exec cat "$data/pgdata/PG_VERSION")" "the cluster's version after pgautoupgrade"
assert_eq 13 "$(docker run --rm -v mathesar_postgresql_data:/v:ro --entrypoint cat postgres:13 /v/PG_VERSION)" "the old volume's cluster (untouched)"
assert_login "$base" admin "$admin_password"
host_exec test ! -e /etc/mathesar/initial-admin-password || fail "the generated admin password, which no longer works, is still there"
host_exec test ! -e "$data/.admin-password-hash" || fail "the carried password hash was not removed once set"
assert_eq "row 1,row 2,row 3" "$(api_rows "$base" admin "$admin_password" kept_rows mathesar_tables)" "rows of mathesar_tables through the API"
assert_eq "$secret_key" "$(env_value SECRET_KEY)" "SECRET_KEY carried over"
assert_eq "$db_port" "$(env_value MATHESAR_DB_PORT)" "the PostgreSQL port carried over"
assert_eq 1 "$(docker exec mathesar_db psql -U mathesar -d mathesar_django -XAtc 'SELECT count(*) FROM auth_user')" "0.1.x's metadata kept in mathesar_django"
copies=$(host_exec sh -c "ls -d '$data'/adopted/*/") || fail "no dated copies under $data/adopted"
assert_file_mode "${copies%/}/.env" 600 root
assert_eq "$env_copy" "$(host_exec cat "${copies%/}/.env")" "the dated copy of the guided installer's .env"
host_exec grep -q '^# Generated by `mathesarctl configure`' /etc/mathesar/.env || fail "/etc/mathesar/.env is not the package's"
kept=$(docker ps -a --filter name=before-package --format '{{.Names}} {{.State}}' | sort)
log "kept: $kept"
assert_eq 3 "$(grep -cE ' (exited|created)$' <<<"$kept")" "old containers kept, not running"
log "guided 0.1.x: adopted with a preseeded yes; 13 -> 17 for real, old volume untouched; admin logs in with the guided password, mathesar_tables' rows through the API"

# shellcheck shell=bash
# e2e-needs: host, stack, 0.10.1
# e2e-lane: seeded
# shellcheck disable=SC2016 # literal $1 in single quotes, expanded in the host
# Taking over a Mathesar installed with upstream's Docker Compose instructions (0.10.1): its
# docker-compose.yml from the 0.10.1 release (images pinned to the bed's: the real Mathesar
# 0.10.1, the package's PostgreSQL image as pgautoupgrade), a .env without SECRET_KEY (Mathesar
# generates it into msar/secrets, as upstream's default), `msar/` bind mounts, in a directory
# named `mathesar` (Compose project `mathesar`, the package's own: the clash the kept copies
# avoid). An admin (upstream's createsuperuser), the user database created through the API, a
# table with rows and a second user through the API.
# 1. apt install with only `adopt-from` preseeded: the non-interactive default refuses with
#    what was found, nothing changed (the old Mathesar still serves, no data directory).
# 2. `adopt` answered yes (dpkg --configure -a): the report, dated copies 0600, the old
#    containers stopped and kept, the data copied (originals untouched), SECRET_KEY and ports
#    carried over; Mathesar 0.11.0 serves the data: both users log in with their passwords, the
#    rows through the API, the user database opens.
# shellcheck source=pkg-common.inc
source "$E2E_DIR/scenarios/pkg-common.inc"
docker image inspect mathesar/mathesar:0.10.1 >/dev/null 2>&1 || fail "no image mathesar/mathesar:0.10.1 (tests/e2e/images/build)"
deb=$(pkg_deb)
host_start
config_dir /etc/mathesar
http_port=$(free_port)
https_port=$(free_port)
old=$E2E_DATA_DIR/mathesar
data=$E2E_DATA_DIR/pkg
admin_password="Adm1n-$(sha256_of "$E2E_NAME-$RANDOM" | cut -c1-20)"
user_password="Us3r-$(sha256_of "user-$RANDOM" | cut -c1-20)"
db_password="Db-$(sha256_of "db-$RANDOM" | cut -c1-20)"
secret "$admin_password"
secret "$user_password"
secret "$db_password"
base="http://127.0.0.1:$http_port/"

log "upstream's 0.10.1 Docker Compose installation in $old"
tar -xzOf "${E2E_UPSTREAM_DIR:-$REPO_ROOT/../shared/upstream}/mathesar-0.10.1.tar.gz" mathesar-0.10.1/docker-compose.yml |
	sed -e "s|mathesar/mathesar:latest|mathesar/mathesar:0.10.1|" \
		-e "s|mathesar/mathesar-caddy:latest|$(image_of caddy)|" \
		-e "s|pgautoupgrade/pgautoupgrade:17-bookworm|$(image_of db)|" \
		-e "s|\"80:80\"|\"$http_port:80\"|" -e "s|\"443:443\"|\"$https_port:443\"|" >"$E2E_WORK/docker-compose.yml"
grep -q "mathesar/mathesar:0.10.1" "$E2E_WORK/docker-compose.yml" || fail "upstream's compose file changed: no mathesar/mathesar:latest to pin"
host_exec mkdir -p "$old"
host_copy "$E2E_WORK/docker-compose.yml" "$old/docker-compose.yml"
printf 'POSTGRES_PASSWORD=%s\nDOMAIN_NAME=:80\nALLOWED_HOSTS=*\n' "$db_password" | host_exec sh -c "cat >'$old/.env' && chmod 600 '$old/.env'"
host_sh 'cd "$1" && docker compose up -d' "$old" >&2 || fail "docker compose up of upstream's installation failed"
wait_for "http_answers $http_port" 300 "upstream's Mathesar 0.10.1 on port $http_port" || fail "upstream's installation does not serve"
docker exec -e DJANGO_SUPERUSER_PASSWORD="$admin_password" mathesar_service python manage.py createsuperuser --no-input \
	--username admin --email admin@example.com >&2 || fail "createsuperuser in upstream's installation failed"
mathesar_rpc "$base" admin "$admin_password" databases.setup.create_new '{"database": "mathesar"}' >/dev/null ||
	fail "databases.setup.create_new failed"
api_table_roundtrip "$base" admin "$admin_password" kept_rows >/dev/null
add_user "$base" "$admin_password" alice "$user_password"
old_key=$(host_exec cat "$old/msar/secrets/secret_key.txt") || fail "upstream's Mathesar generated no msar/secrets/secret_key.txt"
secret "$old_key"
env_sum=$(host_exec sha256sum "$old/.env" "$old/docker-compose.yml")

log "1. apt install with the installation named but no yes: refused, nothing changed"
preseed "mathesar/data-dir string $data" "mathesar/adopt-from string $old"
host_copy "$deb" /root/
rc=0
out=$(host_exec env DEBIAN_FRONTEND=noninteractive apt-get install -y "/root/$(basename "$deb")" 2>&1) || rc=$?
printf '%s\n' "$out" >&2
((rc != 0)) || fail "apt-get install took the installation over without a yes"
[[ $out == *"Found a Mathesar installation made with upstream's Docker Compose instructions in $old"* ]] ||
	fail "the refusal does not say what was found"
[[ $out == *"version: Mathesar 0.10.1"* && $out == *"databases: mathesar, mathesar_django"* && $out == *"ports: HTTP $http_port, HTTPS $https_port, PostgreSQL not published"* ]] ||
	fail "the report does not name the version, the databases and the ports"
[[ $out == *"taking it over was not agreed: nothing was changed"* && $out == *"mathesar/adopt boolean true"* ]] ||
	fail "the refusal does not say how to say yes"
host_exec test ! -e "$data" || fail "the refused adoption created the data directory"
host_exec test ! -e /etc/mathesar/.env || fail "the refused adoption wrote a configuration"
assert_eq "$env_sum" "$(host_exec sha256sum "$old/.env" "$old/docker-compose.yml")" "the old files after the refusal"
assert_login "$base" alice "$user_password"

log "2. the yes: dpkg --configure -a"
preseed "mathesar/adopt boolean true"
t0=$SECONDS
out=$(host_exec env DEBIAN_FRONTEND=noninteractive dpkg --configure -a 2>&1) || { printf '%s\n' "$out" >&2; fail "dpkg --configure -a with the yes failed"; }
printf '%s\n' "$out" >&2
wait_up "$http_port"
log "taken over and serving Mathesar 0.11.0 in $((SECONDS - t0)) s"
assert_eq mathesar/mathesar:0.11.0 "$(docker inspect -f '{{.Config.Image}}' mathesar_service)" "Mathesar image after the adoption"
assert_login "$base" admin "$admin_password"
assert_login "$base" alice "$user_password"
assert_eq "row 1,row 2,row 3" "$(api_rows "$base" admin "$admin_password" kept_rows)" "rows through the API after the adoption"
assert_user_db_works "$base" admin "$admin_password"
assert_eq "$(sha256_of "$old_key")" "$(app_env_hash SECRET_KEY)" "SECRET_KEY carried over from msar/secrets"
assert_eq "$http_port" "$(env_value MATHESAR_HTTP_PORT)" "the HTTP port carried over"

copies=$(host_exec sh -c "ls -d '$data'/adopted/*/") || fail "no dated copies under $data/adopted"
assert_file_mode "${copies%/}/.env" 600 root
assert_file_mode "${copies%/}/docker-compose.yml" 600 root
assert_eq "$env_sum" "$(host_exec sha256sum "$old/.env" "$old/docker-compose.yml")" "the old files after the adoption"
host_exec cmp -s "$old/.env" "${copies%/}/.env" || fail "the dated copy of .env differs"
host_exec test -f "$old/msar/pgdata/PG_VERSION" || fail "the old PostgreSQL data is gone"
kept=$(docker ps -a --filter name=before-package --format '{{.Names}} {{.State}}' | sort)
log "kept: $kept"
assert_eq 3 "$(grep -cE ' (exited|created)$' <<<"$kept")" "old containers kept, not running"
[[ $out == *"docker rm "* ]] || fail "the output does not say how to remove the old containers"
log "upstream 0.10.1 Compose install: refused without a yes (nothing changed), taken over with it; 0.11.0 serves both users, the rows and the user database on the old SECRET_KEY and port"

# shellcheck shell=bash
# e2e-needs: host, stack, installed
# e2e-lane: seeded
# shellcheck disable=SC2016,SC2119 # literal ${...} in single quotes; helpers take optional arguments
# dpkg-reconfigure with a new HTTP port (preseeded, so the noninteractive frontend applies it): the
# login page moves to the new port and is gone from the old one, the database container is not
# restarted, SECRET_KEY and the database password are unchanged, and no answer given before is
# lost.
# shellcheck source=pkg-common.inc
source "$E2E_DIR/scenarios/pkg-common.inc"
installed_host
old_port=$http_port

secret_key=$(env_value SECRET_KEY)
db_password=$(env_value MATHESAR_DB_PASSWORD)
secret "$secret_key"
secret "$db_password"
db_before=$(docker inspect -f '{{.Id}} {{.State.StartedAt}}' mathesar_db)

new_port=$(free_port)
preseed "mathesar/http-port string $new_port"
log "dpkg-reconfigure mathesar: http-port $old_port -> $new_port"
since=$(host_exec date '+%Y-%m-%d %H:%M:%S')
host_exec env DEBIAN_FRONTEND=noninteractive dpkg-reconfigure mathesar >&2 || fail "dpkg-reconfigure failed"

assert_eq "$new_port" "$(env_value MATHESAR_HTTP_PORT)" "http-port in .env"
wait_up "$new_port"
if http_answers "$old_port"; then
	fail "the old port $old_port still answers"
fi
# The proxy recreated by the reload is the unit's own doing: information, not warnings.
warnings=$(host_exec journalctl -u mathesar.service --since "$since" -p warning -o cat --no-pager)
[[ -z $warnings ]] || fail "the reload logged warnings: $warnings"
assert_eq "$db_before" "$(docker inspect -f '{{.Id}} {{.State.StartedAt}}' mathesar_db)" "database container (id, start time)"
assert_eq "$(sha256_of "$secret_key")" "$(sha256_of "$(env_value SECRET_KEY)")" "SHA-256 of SECRET_KEY"
assert_eq "$(sha256_of "$db_password")" "$(sha256_of "$(env_value MATHESAR_DB_PASSWORD)")" "SHA-256 of the database password"
assert_eq "$db_port" "$(env_value MATHESAR_DB_PORT)" "db-port (not asked again)"
assert_eq "$E2E_DATA_DIR" "$(env_value MATHESAR_DATA_DIR)" "data-dir (not asked again)"
log "moved from $old_port to $new_port; database container untouched"

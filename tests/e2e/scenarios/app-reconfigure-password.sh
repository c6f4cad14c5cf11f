# shellcheck shell=bash
# e2e-needs: host, stack
# e2e-lane: seeded
# shellcheck disable=SC2016 # literal $ in single quotes (SQL dollar quotes, hostile passwords)
# dpkg-reconfigure with a new database password, the real Mathesar running with a table in the user
# database: afterwards Mathesar still reaches its own database (the admin logs in) and the user
# database through the API (the password Mathesar stores for it was updated, not left stale), the
# rows are there, psql logs in with the new password and no longer with the old one.
# shellcheck source=pkg-common.inc
source "$E2E_DIR/scenarios/pkg-common.inc"
pkg_host
old_password='old db pw: "x" $y'
new_password='new db pw: #1 '\''z'\'' ${a}'
admin_password="Adm1n-$(sha256_of "$E2E_NAME-$RANDOM" | cut -c1-20)"
secret "$old_password"
secret "$new_password"
secret "$admin_password"
preseed "mathesar/data-dir string $E2E_DATA_DIR" \
	"mathesar/http-port string $http_port" \
	"mathesar/db-port string $db_port" \
	"mathesar/db-password password $old_password" \
	"mathesar/admin-password password $admin_password"
apt_install "$deb"
wait_up "$http_port"
base="http://127.0.0.1:$http_port/"
api_table_roundtrip "$base" admin "$admin_password" before_change >/dev/null

log "dpkg-reconfigure mathesar with a new database password"
preseed "mathesar/db-password password $new_password"
host_exec env DEBIAN_FRONTEND=noninteractive dpkg-reconfigure mathesar >&2 || fail "dpkg-reconfigure failed"
wait_up "$http_port"
assert_eq "$(sha256_of "$new_password")" "$(sha256_of "$(env_value MATHESAR_DB_PASSWORD)")" "SHA-256 of the password in .env"

assert_login "$base" admin "$admin_password"
assert_eq "row 1,row 2,row 3" "$(api_rows "$base" admin "$admin_password" before_change)" \
	"rows read through the API after the password change"
assert_user_db_works "$base" admin "$admin_password"
assert_eq mathesar "$(psql_db "$new_password" "$db_port" 'SELECT current_user')" "psql with the new password"
if psql_db "$old_password" "$db_port" 'SELECT 1' >/dev/null 2>&1; then
	fail "the old database password still logs in"
fi
log "new database password: Mathesar reaches its own and the user database through the API; the old password is refused"

# shellcheck shell=bash
# e2e-needs: host, stack
# e2e-lane: seeded
# shellcheck disable=SC2016,SC2119 # literal ${...} in single quotes; helpers take optional arguments
# apt install of the .deb with every important answer preseeded, among them a hostile database
# password: the configuration is root-only, no password stays in the debconf database, the
# service is enabled and started, the real login page answers with its bundles, the preseeded
# admin password logs in through the form (a wrong one is refused), and psql logs in on the
# published port with exactly the preseeded database password.
# shellcheck source=pkg-common.inc
source "$E2E_DIR/scenarios/pkg-common.inc"
deb=$(pkg_deb)
host_start
config_dir /etc/mathesar

password='p'\''a"s$s #\ w${x}ö  end'
admin_password='Adm1n  p@ss "q" \z'
secret "$password"
secret "$admin_password"
http_port=$(free_port)
db_port=$(free_port)
preseed "mathesar/data-dir string $E2E_DATA_DIR" \
	"mathesar/http-port string $http_port" \
	"mathesar/db-port string $db_port" \
	"mathesar/db-password password $password" \
	"mathesar/admin-password password $admin_password"
apt_install "$deb"

assert_file_mode /etc/mathesar 700 root:root
assert_file_mode /etc/mathesar/.env 600 root:root
assert_file_mode /etc/mathesar/docker-compose.yml 600 root:root
# A chosen admin password is never kept as a generated one.
! host_exec test -e /etc/mathesar/initial-admin-password || fail "the chosen admin password is in initial-admin-password"
assert_eq "$(sha256_of "$password")" "$(sha256_of "$(env_value MATHESAR_DB_PASSWORD)")" "SHA-256 of the password in .env"
no_secret_in_debconf "$password"
no_secret_in_debconf "$admin_password"
assert_eq enabled "$(host_exec systemctl is-enabled mathesar.service)" "unit enablement"
assert_none "the package has conffiles" host_exec dpkg-query -W -f='${Conffiles}' mathesar

wait_up "$http_port"
# Kept only until the admin was created at the start.
! host_exec test -e /etc/mathesar/.admin-password || fail "the chosen admin password is still kept after the admin was created"
user=$(psql_db "$password" "$db_port" 'SELECT current_user') ||
	fail "psql could not log in on the published port with the preseeded password"
assert_eq mathesar "$user" "user psql logged in as"
base="http://127.0.0.1:$http_port/"
assert_login_page "$base"
assert_login "$base" admin "$admin_password"
assert_home_page "$base" admin "$admin_password"
assert_login_refused "$base" admin "${admin_password}x"
# Mathesar itself reaches the user database with the hostile password it stores for it.
assert_user_db_works "$base" admin "$admin_password"
log "installed, started, login page and form login on $http_port, user database through the API, psql on $db_port"

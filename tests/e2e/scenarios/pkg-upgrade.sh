# shellcheck shell=bash
# e2e-needs: host, stack
# e2e-lane: seeded
# shellcheck disable=SC2016,SC2119 # literal ${...} in single quotes; helpers take optional arguments
# Upgrade from a previous package version (built from this tree as 0.0.1): a backup is taken
# first (databases and configuration, the rows of before the upgrade in it), the configuration,
# SECRET_KEY and the data are kept, nothing is asked again, and the service is restarted on the
# new version.
# shellcheck source=pkg-common.inc
source "$E2E_DIR/scenarios/pkg-common.inc"
old=$(pkg_deb 0.0.1)
new=$(pkg_deb)
host_start
config_dir /etc/mathesar
http_port=$(free_port)
db_port=$(free_port)
password='upgrade keeps me'
secret "$password"
preseed "mathesar/data-dir string $E2E_DATA_DIR" \
	"mathesar/http-port string $http_port" \
	"mathesar/db-port string $db_port" \
	"mathesar/db-password password $password"
apt_install "$old"
assert_eq 0.0.1-1 "$(host_exec dpkg-query -W -f='${Version}' mathesar)" "installed version"
wait_up "$http_port"
psql_db "$password" "$db_port" "CREATE TABLE kept (v text); INSERT INTO kept VALUES ('before upgrade')" >&2 ||
	fail "could not create rows"
secret_key=$(env_value SECRET_KEY)
secret "$secret_key"
pid_before=$(host_exec systemctl show -p MainPID --value mathesar.service)

if host_exec test -e /var/backups/mathesar; then fail "a backup exists before the upgrade"; fi
apt_install "$new"
backups=$(host_exec find /var/backups/mathesar -mindepth 1 -maxdepth 1 -name 'mathesar-*')
assert_eq 1 "$(grep -c . <<<"$backups")" "backups after the upgrade"
assert_file_mode "$backups" 700 root:root
assert_eq upgrade "$(host_exec jq -r .reason "$backups/manifest.json")" "reason in the backup's manifest"
# Recorded as of the version upgraded from, so that it can be restored after a downgrade.
assert_eq 0.0.1 "$(host_exec jq -r .package_version "$backups/manifest.json")" "package version in the backup's manifest"
# The dump holds the table written before the upgrade, and its copy of .env the same secret.
host_exec pg_restore -l "$backups/user-db.dump" | grep -q ' TABLE public kept ' ||
	fail "the upgrade backup's user-db.dump has no table kept"
assert_eq "$(sha256_of "$secret_key")" \
	"$(sha256_of "$(host_exec sed -n 's/^SECRET_KEY="\(.*\)"$/\1/p' "$backups/config/.env")")" \
	"SHA-256 of SECRET_KEY in the backup"
new_version=$(host_exec dpkg-query -W -f='${Version}' mathesar)
# apt runs dpkg on a pseudo-terminal: Compose's output (the backup starts nothing here, the
# restart does) must be plain lines in apt's log, not a progress display.
if host_exec grep -a $'\e\\[.*Container' /var/log/apt/term.log >&2; then
	fail "escape codes of Compose's progress display in /var/log/apt/term.log"
fi
[[ $new_version != 0.0.1-1 ]] || fail "the upgrade did not happen"
wait_up "$http_port"
pid_after=$(host_exec systemctl show -p MainPID --value mathesar.service)
[[ $pid_after != "$pid_before" ]] || fail "the service was not restarted on upgrade (MainPID $pid_before)"
assert_eq "$(sha256_of "$secret_key")" "$(sha256_of "$(env_value SECRET_KEY)")" "SHA-256 of SECRET_KEY"
assert_eq "$(sha256_of "$password")" "$(sha256_of "$(env_value MATHESAR_DB_PASSWORD)")" "SHA-256 of the database password"
assert_eq "before upgrade" "$(psql_db "$password" "$db_port" 'SELECT v FROM kept')" "row after the upgrade"
log "upgraded 0.0.1-1 -> $new_version; backup $backups taken first; configuration, secrets and rows kept; service restarted"

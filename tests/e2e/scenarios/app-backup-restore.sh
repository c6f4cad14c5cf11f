# shellcheck shell=bash
# e2e-needs: host, stack
# e2e-lane: seeded
# Backup and restore with the real Mathesar and real data: the admin and a second user, a table
# with rows created through the API; `mathesarctl backup --to` (a local backup); apt-get purge with purge-data (the
# configuration, the SECRET_KEY and the data are gone); apt-get install again (new secrets);
# `mathesarctl restore latest`: the admin and the second user log in with their passwords, the
# table and its rows are there through the API, and user-database calls work, so the restored
# SECRET_KEY decrypts the credentials Mathesar stored before the backup.
# shellcheck source=pkg-common.inc
source "$E2E_DIR/scenarios/pkg-common.inc"
pkg_host
admin_password="Adm1n-$(sha256_of "$E2E_NAME-$RANDOM" | cut -c1-20)"
user_password="Us3r-$(sha256_of "user-$RANDOM" | cut -c1-20)"
secret "$admin_password"
secret "$user_password"
answers=("mathesar/data-dir string $E2E_DATA_DIR" "mathesar/http-port string $http_port"
	"mathesar/db-port string $db_port" "mathesar/admin-password password $admin_password")
preseed "${answers[@]}" "mathesar/purge-data boolean true"
apt_install "$deb"
wait_up "$http_port"
base="http://127.0.0.1:$http_port/"
with_data "$base" "$admin_password" "$user_password"

log "mathesarctl backup"
host_exec mathesarctl backup --to /var/backups/mathesar >&2 || fail "mathesarctl backup failed"

log "apt-get purge mathesar (purge-data true), then install again"
host_exec env DEBIAN_FRONTEND=noninteractive apt-get purge -y mathesar >&2 || fail "apt-get purge failed"
if host_exec test -e /etc/mathesar/.env; then fail "purge left /etc/mathesar/.env"; fi
left=$(find "$E2E_DATA_DIR" -mindepth 1 -maxdepth 1 | head -n 3)
[[ -z $left ]] || fail "purge with purge-data kept data: $left"
preseed "${answers[@]}"
apt_install "$deb"
wait_up "$http_port"
[[ $(sha256_of "$(env_value SECRET_KEY)") != "$key_before" ]] || fail "the reinstall did not generate a new SECRET_KEY"

log "mathesarctl restore latest"
host_exec timeout 900 mathesarctl restore --from /var/backups/mathesar latest >&2 || fail "mathesarctl restore latest failed"
assert_data_kept "$base" "$key_before" "$admin_password" "$user_password" "the restore"
log "restored after purge and reinstall: two users log in, rows and user-database calls through the API"

# shellcheck shell=bash
# e2e-needs: host, stack, sftp
# Disaster recovery from the SFTP repository, with the real Mathesar: a host with data and two
# users backs up; the host, its stack and its data are destroyed; a fresh host gets the package
# with the same repository answers and the repository password (and new secrets of its own),
# its new key is authorised on the server, and `mathesarctl restore latest` brings everything
# back: both users log in with their passwords, the table's rows are there through the API, and
# the user database's stored credentials work (the same SECRET_KEY).
# shellcheck source=pkg-common.inc
source "$E2E_DIR/scenarios/pkg-common.inc"
# shellcheck source=backup-common.inc
source "$E2E_DIR/scenarios/backup-common.inc"
pkg_host
sftp_start
admin_password="Adm1n-$(sha256_of "$E2E_NAME-$RANDOM" | cut -c1-20)"
user_password="Us3r-$(sha256_of "user-$RANDOM" | cut -c1-20)"
backup_password="Rep0-$(sha256_of "repo-$RANDOM" | cut -c1-24)"
for s in "$admin_password" "$user_password" "$backup_password"; do secret "$s"; done
repository_answers=("mathesar/backup-repository string $sftp_repo" "mathesar/backup-password password $backup_password")
preseed_bed "mathesar/admin-password password $admin_password" "${repository_answers[@]}"
apt_install "$deb"
wait_up "$http_port"
sftp_authorize
base="http://127.0.0.1:$http_port/"
with_data "$base" "$admin_password" "$user_password"
log "mathesarctl backup into the SFTP repository"
host_exec mathesarctl backup >&2 || fail "mathesarctl backup failed"

log "the host is destroyed: its container, its stack and its data"
docker rm -f "$E2E_HOST" >/dev/null
stack_remove
find "$E2E_DATA_DIR" -mindepth 1 -delete
assert_none "the data directory was not emptied" find "$E2E_DATA_DIR" -mindepth 1

log "a fresh host: the package with the same repository answers"
host_start
new_admin_password="N3w-$(sha256_of "new-$RANDOM" | cut -c1-20)"
secret "$new_admin_password"
preseed_bed "mathesar/admin-password password $new_admin_password" "${repository_answers[@]}"
apt_install "$deb"
wait_up "$http_port"
[[ $(sha256_of "$(env_value SECRET_KEY)") != "$key_before" ]] || fail "the fresh host did not generate a SECRET_KEY of its own"
sftp_authorize

log "mathesarctl restore latest"
host_exec timeout 900 mathesarctl restore latest >&2 || fail "mathesarctl restore latest failed"
assert_data_kept "$base" "$key_before" "$admin_password" "$user_password" "the restore"
log "recovered on a fresh host: two users log in, rows and user-database calls through the API"

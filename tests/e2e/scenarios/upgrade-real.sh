# shellcheck shell=bash
# shellcheck disable=SC2016 # literal ${...} in single quotes
# A real upgrade of Mathesar: the package pinning Mathesar 0.10.1 (built from this tree as 0.0.9
# with --service-image) with real data in it (the admin, a second user added through the API, the
# user database connected, a table with rows), then apt-get install of this package (Mathesar
# 0.11.0): a backup is taken first (recorded as of 0.0.9), Mathesar's migration 0012 is applied
# exactly once, the two users log in, the rows are there through the API.
# Then the downgrade: the 0.10.1 package is refused before anything changes (apt fails, the
# installed package and Mathesar 0.11.0 keep serving, the message names the backup to restore);
# with MATHESAR_RESTORE_BEFORE_DOWNGRADE it restores that backup itself and Mathesar 0.10.1 serves
# the data of before the upgrade. Last, the upgrade again.
# shellcheck source=pkg-common.inc
source "$E2E_DIR/scenarios/pkg-common.inc"
old=$(pkg_deb 0.0.9 mathesar/mathesar:0.10.1)
new=$(pkg_deb)
docker image inspect mathesar/mathesar:0.10.1 >/dev/null 2>&1 ||
	fail "no image mathesar/mathesar:0.10.1 (tests/e2e/images/build mathesar-0.10.1)"
host_start
config_dir /etc/mathesar
http_port=$(free_port)
db_port=$(free_port)
while [[ $db_port == "$http_port" ]]; do db_port=$(free_port); done
admin_password="Adm1n-$(sha256_of "$E2E_NAME-$RANDOM" | cut -c1-20)"
user_password="Us3r-$(sha256_of "user-$RANDOM" | cut -c1-20)"
secret "$admin_password"
secret "$user_password"
answers=("mathesar/data-dir string $E2E_DATA_DIR" "mathesar/http-port string $http_port"
	"mathesar/db-port string $db_port" "mathesar/admin-password password $admin_password")
base="http://127.0.0.1:$http_port/"

app_image() { docker inspect -f '{{.Config.Image}}' mathesar_service; }
migration_0012() {
	docker exec mathesar_db psql -U mathesar -d mathesar_django -Atc \
		"SELECT count(*) FROM django_migrations WHERE app = 'mathesar' AND name = '0012_alter_user_username'"
}
assert_data() {
	assert_login "$base" admin "$admin_password"
	assert_login "$base" alice "$user_password"
	assert_eq "row 1,row 2,row 3" "$(api_rows "$base" admin "$admin_password" kept_rows)" "rows through the API ($1)"
	assert_user_db_works "$base" admin "$admin_password"
}

preseed "${answers[@]}"
apt_install "$old"
wait_up "$http_port"
assert_eq mathesar/mathesar:0.10.1 "$(app_image)" "image of Mathesar under the 0.0.9 package"
assert_eq 0.10.1 "$(host_exec cat /etc/mathesar/mathesar-version)" "recorded Mathesar version"
assert_eq 0 "$(migration_0012)" "migration 0012 under Mathesar 0.10.1"
api_table_roundtrip "$base" admin "$admin_password" kept_rows >/dev/null
mathesar_rpc "$base" admin "$admin_password" users.add "$(jq -cn --arg p "$user_password" \
	'{user_def: {username: "alice", email: "alice@example.com", password: $p, is_superuser: false}}')" >/dev/null ||
	fail "users.add alice failed"
assert_data "Mathesar 0.10.1"

log "upgrade: apt-get install of the package of Mathesar 0.11.0"
t0=$SECONDS
apt_install "$new"
wait_up "$http_port"
log "upgraded and serving in $((SECONDS - t0)) s"
backup=$(host_exec find /var/backups/mathesar -mindepth 1 -maxdepth 1 -name 'mathesar-*')
[[ -n $backup && $backup != *$'\n'* ]] || fail "expected one backup after the upgrade, found: '$backup'"
assert_eq 0.0.9 "$(host_exec jq -r .package_version "$backup/manifest.json")" "package version in the backup's manifest"
assert_eq mathesar/mathesar:0.10.1 "$(host_exec jq -r .images.service "$backup/manifest.json")" "Mathesar image in the backup's manifest"
assert_eq mathesar/mathesar:0.11.0 "$(app_image)" "image of Mathesar after the upgrade"
assert_eq 0.11.0 "$(host_exec cat /etc/mathesar/mathesar-version)" "recorded Mathesar version after the upgrade"
assert_eq 1 "$(migration_0012)" "migration 0012 applied after the upgrade"
assert_data "after the upgrade"
new_version=$(host_exec dpkg-query -W -f='${Version}' mathesar)

log "downgrade: apt-get install of the package of Mathesar 0.10.1 is refused"
rc=0
out=$(host_exec env DEBIAN_FRONTEND=noninteractive apt-get install -y --allow-downgrades "/root/$(basename "$old")" 2>&1) || rc=$?
printf '%s\n' "$out" >&2
((rc != 0)) || fail "the downgrade to Mathesar 0.10.1 was not refused"
[[ $out == *"migrated"*"by Mathesar 0.11.0"* ]] || fail "the refusal does not say why"
[[ $out == *"mathesarctl restore --no-start $backup"* ]] || fail "the refusal does not name the backup to restore ($backup)"
assert_eq "install ok installed $new_version" "$(host_exec dpkg-query -W -f='${Status} ${Version}' mathesar)" "package state after the refused downgrade"
unit_active || fail "mathesar.service is not active after the refused downgrade"
assert_eq mathesar/mathesar:0.11.0 "$(app_image)" "image of Mathesar after the refused downgrade"
assert_eq 1 "$(migration_0012)" "migration 0012 after the refused downgrade"
assert_data "after the refused downgrade"

log "downgrade with MATHESAR_RESTORE_BEFORE_DOWNGRADE=$backup"
host_exec env MATHESAR_RESTORE_BEFORE_DOWNGRADE="$backup" DEBIAN_FRONTEND=noninteractive \
	apt-get install -y --allow-downgrades "/root/$(basename "$old")" >&2 || fail "the downgrade with the restore failed"
wait_up "$http_port"
assert_eq 0.0.9-1 "$(host_exec dpkg-query -W -f='${Version}' mathesar)" "package version after the downgrade"
assert_eq mathesar/mathesar:0.10.1 "$(app_image)" "image of Mathesar after the downgrade"
assert_eq 0 "$(migration_0012)" "migration 0012 after the downgrade (the database of before the upgrade)"
assert_data "Mathesar 0.10.1 again"

log "upgrade again"
apt_install "$new"
wait_up "$http_port"
assert_eq 1 "$(migration_0012)" "migration 0012 after the second upgrade"
assert_data "after the second upgrade"
log "0.10.1 -> 0.11.0 with a backup first and migration 0012 once; downgrade refused with the way back, then done with the restore; upgraded again; users and rows kept throughout"

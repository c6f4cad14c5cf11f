# shellcheck shell=bash
# e2e-needs: host, stack, 0.10.1
# e2e-lane: seeded
# shellcheck disable=SC2016 # literal ${...} in single quotes
# Real upgrades of Mathesar with apt, on one host and one set of data. The package pinning the
# real Mathesar 0.10.1 (built from this tree as 0.0.9 with --service-image; the binary is the
# same, only /usr/share/mathesar/images and the preinst differ) with real data in it: the admin, a
# second user added through the API, the user database connected, a table with rows.
# 1. An upgrade whose Mathesar fails its first start (0.0.10: Mathesar 0.11.0 that migrates its
#    database, then exits 1): apt succeeds, the service is not running, the recorded version is the
#    new one, and the postinst prints the one line back. That line (with the .deb's path) restores
#    the backup taken before the upgrade and installs 0.0.9 again: Mathesar 0.10.1 on the
#    unmigrated database, every user and row there.
# 2. The real upgrade to this package (Mathesar 0.11.0): a backup first (of 0.0.9 and 0.10.1),
#    migration 0012 applied exactly once, both users log in, the rows are there through the API.
# 3. The downgrade to 0.0.9 is refused before anything changes (apt fails, 0.11.0 keeps serving,
#    the message names the backup of step 2); with MATHESAR_RESTORE_BEFORE_DOWNGRADE it restores
#    that backup itself and Mathesar 0.10.1 serves the data of before the upgrade.
# shellcheck source=pkg-common.inc
source "$E2E_DIR/scenarios/pkg-common.inc"
for i in mathesar/mathesar:0.10.1 mathesar/mathesar:0.11.0; do
	docker image inspect "$i" >/dev/null 2>&1 || fail "no image $i (tests/e2e/images/build)"
done
# The Mathesar that fails its first start: the real 0.11.0 applying its migrations, then failing.
# A tag of the same layers (docker commit of an unstarted container: nothing is built); kept.
broken=mathesar/mathesar:0.11.0-fails-first-start
if ! docker image inspect "$broken" >/dev/null 2>&1; then
	cid=$(docker create mathesar/mathesar:0.11.0)
	docker commit --change 'CMD ["bash", "-c", "python manage.py migrate --noinput && echo Error: e2e: simulated failure of the first start >&2; exit 1"]' \
		"$cid" "$broken" >/dev/null || fail "docker commit of $broken failed"
	docker rm "$cid" >/dev/null
fi
old=$(pkg_deb 0.0.9 mathesar/mathesar:0.10.1)
bad=$(pkg_deb 0.0.10 "$broken")
new=$(pkg_deb)
host_start
config_dir /etc/mathesar
for f in "$old" "$bad" "$new"; do host_copy "$f" /root/; done
http_port=$(free_port)
db_port=$(free_port)
while [[ $db_port == "$http_port" ]]; do db_port=$(free_port); done
admin_password="Adm1n-$(sha256_of "$E2E_NAME-$RANDOM" | cut -c1-20)"
user_password="Us3r-$(sha256_of "user-$RANDOM" | cut -c1-20)"
secret "$admin_password"
secret "$user_password"
base="http://127.0.0.1:$http_port/"

app_image() { docker inspect -f '{{.Config.Image}}' mathesar_service; }
recorded() { host_exec cat /etc/mathesar/mathesar-version; }
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
# apt_out DEB [ENV...]: apt-get install (downgrades allowed) of /root/DEB; prints the output,
# also into the log; returns apt's status.
apt_out() {
	local deb=$1 rc=0 out
	shift
	out=$(host_exec env "$@" DEBIAN_FRONTEND=noninteractive apt-get install -y --allow-downgrades \
		-o Dpkg::Options::=--force-confold "/root/$(basename "$deb")" 2>&1) || rc=$?
	out=${out//$'\r'/}
	printf '%s\n' "$out" >&2
	printf '%s\n' "$out"
	return "$rc"
}
backup_of() { sed -n 's/^mathesar: backup before the upgrade: //p' <<<"$1" | tail -n 1; }

preseed "mathesar/data-dir string $E2E_DATA_DIR" "mathesar/http-port string $http_port" \
	"mathesar/db-port string $db_port" "mathesar/admin-password password $admin_password"
apt_install "$old"
wait_up "$http_port"
assert_eq mathesar/mathesar:0.10.1 "$(app_image)" "image of Mathesar under the 0.0.9 package"
assert_eq 0.10.1 "$(recorded)" "recorded Mathesar version"
assert_eq 0 "$(migration_0012)" "migration 0012 under Mathesar 0.10.1"
api_table_roundtrip "$base" admin "$admin_password" kept_rows >/dev/null
mathesar_rpc "$base" admin "$admin_password" users.add "$(jq -cn --arg p "$user_password" \
	'{user_def: {username: "alice", email: "alice@example.com", password: $p, is_superuser: false}}')" >/dev/null ||
	fail "users.add alice failed"
assert_data "Mathesar 0.10.1"

log "1. upgrade to a Mathesar that fails its first start"
t0=$SECONDS
out=$(apt_out "$bad") || fail "apt-get install of the failing upgrade failed itself (the package must install)"
log "the failed upgrade took $((SECONDS - t0)) s"
assert_eq "install ok installed 0.0.10-1" "$(host_exec dpkg-query -W -f='${Status} ${Version}' mathesar)" "package state after the failed start"
if unit_active; then fail "mathesar.service is active although Mathesar failed its first start"; fi
[[ $out == *"the service did not restart; see: systemctl status mathesar, mathesarctl status"* ]] ||
	fail "the postinst does not say that the service did not start"
backup1=$(backup_of "$out")
[[ -n $backup1 ]] || fail "the postinst did not name the backup before the upgrade"
way_back=$(sed -n 's/^mathesar:   \(MATHESAR_RESTORE_BEFORE_DOWNGRADE=[^ ]* apt-get install --allow-downgrades mathesar=0.0.9-1\) .*/\1/p' <<<"$out")
assert_eq "MATHESAR_RESTORE_BEFORE_DOWNGRADE=$backup1 apt-get install --allow-downgrades mathesar=0.0.9-1" "$way_back" "the way back the postinst prints"
rc=0
status=$(host_exec mathesarctl status 2>&1) || rc=$?
printf '%s\n' "$status" >&2
((rc != 0)) || fail "mathesarctl status exits 0 while Mathesar does not run"
journal=$(host_exec journalctl -u mathesar.service --no-pager)
[[ $journal == *"The Mathesar application (container mathesar_service) keeps stopping"* &&
	$journal == *"simulated failure of the first start"* ]] || fail "the journal does not say why Mathesar did not start"
assert_eq 0.11.0-fails-first-start "$(recorded)" "recorded Mathesar version after the failed start"
wait_for '[[ $(migration_0012) == 1 ]]' 60 "the failing Mathesar to have migrated the database" ||
	fail "the failing Mathesar did not apply migration 0012 (the simulation is wrong)"

log "the way back: $way_back (with the .deb's path)"
t0=$SECONDS
apt_out "$old" MATHESAR_RESTORE_BEFORE_DOWNGRADE="$backup1" >/dev/null || fail "the way back failed"
wait_up "$http_port"
log "back on Mathesar 0.10.1 in $((SECONDS - t0)) s"
assert_eq 0.0.9-1 "$(host_exec dpkg-query -W -f='${Version}' mathesar)" "package version after the way back"
assert_eq mathesar/mathesar:0.10.1 "$(app_image)" "image of Mathesar after the way back"
assert_eq 0.10.1 "$(recorded)" "recorded Mathesar version after the way back"
assert_eq 0 "$(migration_0012)" "migration 0012 after the way back (the database of before the upgrade)"
assert_data "after the way back"

log "2. upgrade: apt-get install of the package of Mathesar 0.11.0"
t0=$SECONDS
out=$(apt_out "$new") || fail "apt-get install of the upgrade failed"
wait_up "$http_port"
log "upgraded and serving in $((SECONDS - t0)) s"
backup=$(backup_of "$out")
[[ -n $backup ]] || fail "the postinst did not name the backup before the upgrade"
assert_eq 0.0.9 "$(host_exec jq -r .package_version "$backup/manifest.json")" "package version in the backup's manifest"
assert_eq mathesar/mathesar:0.10.1 "$(host_exec jq -r .images.service "$backup/manifest.json")" "Mathesar image in the backup's manifest"
assert_eq mathesar/mathesar:0.11.0 "$(app_image)" "image of Mathesar after the upgrade"
assert_eq 0.11.0 "$(recorded)" "recorded Mathesar version after the upgrade"
assert_eq 1 "$(migration_0012)" "migration 0012 applied (once) after the upgrade"
assert_data "after the upgrade"
new_version=$(host_exec dpkg-query -W -f='${Version}' mathesar)

log "3. downgrade: apt-get install of the package of Mathesar 0.10.1 is refused"
if out=$(apt_out "$old"); then fail "the downgrade to Mathesar 0.10.1 was not refused"; fi
[[ $out == *"migrated"*"by Mathesar 0.11.0"* ]] || fail "the refusal does not say why"
[[ $out == *"mathesarctl restore --no-start $backup"* ]] || fail "the refusal does not name the backup to restore ($backup)"
assert_eq "install ok installed $new_version" "$(host_exec dpkg-query -W -f='${Status} ${Version}' mathesar)" "package state after the refused downgrade"
unit_active || fail "mathesar.service is not active after the refused downgrade"
assert_eq mathesar/mathesar:0.11.0 "$(app_image)" "image of Mathesar after the refused downgrade"
assert_eq 1 "$(migration_0012)" "migration 0012 after the refused downgrade"
assert_data "after the refused downgrade"

log "downgrade with MATHESAR_RESTORE_BEFORE_DOWNGRADE=$backup"
apt_out "$old" MATHESAR_RESTORE_BEFORE_DOWNGRADE="$backup" >/dev/null || fail "the downgrade with the restore failed"
wait_up "$http_port"
assert_eq 0.0.9-1 "$(host_exec dpkg-query -W -f='${Version}' mathesar)" "package version after the downgrade"
assert_eq mathesar/mathesar:0.10.1 "$(app_image)" "image of Mathesar after the downgrade"
assert_eq 0 "$(migration_0012)" "migration 0012 after the downgrade (the database of before the upgrade)"
assert_data "Mathesar 0.10.1 again"
log "failed first start: clear state and one line back, nothing lost; 0.10.1 -> 0.11.0 with a backup first and migration 0012 once; downgrade refused with the way back, then done with the restore; users and rows kept throughout"

# shellcheck shell=bash
# e2e-needs: host, stack, 0.10.1
# e2e-lane: seeded
# shellcheck disable=SC2016 # literal ${...} in single quotes
# Real upgrades of Mathesar with apt, on one host and one set of data. The package pinning the
# real Mathesar 0.10.1 (built from this tree as 0.0.9 with --service-image; the binary is the
# same, only /usr/share/mathesar/images and the preinst differ) with real data in it: the admin, a
# second user added through the API, the user database connected, a table with rows.
# 1. Upgrades that fail put themselves back, with no command from the administrator: a Mathesar
#    that fails its first start after migrating (0.0.10: 0.11.0 that migrates, then exits 1) and
#    one that fails half-way through its migrations (0.0.11: 0.11.0 with a migration after 0012
#    that raises). Each time apt fails (the package half-configured: the automation sees it),
#    and Mathesar 0.10.1 serves the data of before the upgrade (migration 0012 undone by the
#    restore of the backup taken first, kept), `status` (and --json) and the journal say what
#    failed and how to retry. `mathesarctl upgrade` retries (and puts back again).
# 2. The real upgrade to this package (Mathesar 0.11.0): a backup first (of 0.0.9 and 0.10.1),
#    migration 0012 applied exactly once, both users log in, the rows are there through the API;
#    the apt install of it retries the half-configured upgrade. The user database's Mathesar SQL
#    is upgraded by the package (no database needs Mathesar's upgrade attention).
# 3. The downgrade to 0.0.9 is refused before anything changes (apt fails, 0.11.0 keeps serving,
#    the message names the backup of step 2); with MATHESAR_RESTORE_BEFORE_DOWNGRADE it restores
#    that backup itself and Mathesar 0.10.1 serves the data of before the upgrade.
# shellcheck source=pkg-common.inc
source "$E2E_DIR/scenarios/pkg-common.inc"
for i in mathesar/mathesar:0.10.1 mathesar/mathesar:0.11.0; do
	docker image inspect "$i" >/dev/null 2>&1 || fail "no image $i (tests/e2e/images/build)"
done
broken=$(failing_first_start_image)
# The Mathesar that fails half-way through its migrations: 0.11.0 with one more migration after
# 0012 that raises (Django applies 0012, then stops at 0013 and the entrypoint exits non-zero).
halfway=mathesar/mathesar:0.11.0-fails-mid-migration
if ! docker image inspect "$halfway" >/dev/null 2>&1; then
	cid=$(docker create mathesar/mathesar:0.11.0)
	migration=$E2E_WORK/0013_e2e_fails.py
	cat >"$migration" <<'PY'
from django.db import migrations


def fail(apps, schema_editor):
    # 0012 ran in a transaction of its own and is committed: half-way, really.
    from django.db.migrations.recorder import MigrationRecorder
    applied = MigrationRecorder(schema_editor.connection).migration_qs.filter(
        app="mathesar", name="0012_alter_user_username").exists()
    raise RuntimeError(f"e2e: simulated failure half-way through the migrations (0012 applied: {applied})")


class Migration(migrations.Migration):
    dependencies = [("mathesar", "0012_alter_user_username")]
    operations = [migrations.RunPython(fail)]
PY
	docker cp "$migration" "$cid:/code/mathesar/migrations/0013_e2e_fails.py" || fail "docker cp of the failing migration failed"
	docker commit "$cid" "$halfway" >/dev/null || fail "docker commit of $halfway failed"
	docker rm "$cid" >/dev/null
fi
old=$(pkg_deb 0.0.9 mathesar/mathesar:0.10.1)
bad=$(pkg_deb 0.0.10 "$broken")
mid=$(pkg_deb 0.0.11 "$halfway")
new=$(pkg_deb)
host_start
config_dir /etc/mathesar
for f in "$old" "$bad" "$mid" "$new"; do host_copy "$f" /root/; done
http_port=$(free_port)
db_port=$(free_port)
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

# assert_put_back OUTPUT FAILED_RELEASE SAID WHAT: after an upgrade that failed and put itself
# back: OUTPUT (apt's or mathesarctl's) says what failed (SAID: the new release's own last line),
# that Mathesar 0.10.1 serves again and how to retry; 0.10.1 serves the data of before the
# upgrade; status, status --json and the journal say so; the backup is kept (its path in
# put_back_dir).
assert_put_back() {
	local out=$1 failed=$2 said=$3 what=$4 status json
	[[ $out == *"the upgrade to Mathesar $failed failed"* && $out == *"$said"* ]] ||
		fail "$what: the output does not say what failed ($failed, its last lines)"
	[[ $out == *"Mathesar 0.10.1 serves again"* && $out == *"retry with \`mathesarctl upgrade\`"* ]] ||
		fail "$what: the output does not say that 0.10.1 serves again and how to retry"
	wait_up "$http_port"
	assert_eq mathesar/mathesar:0.10.1 "$(app_image)" "image of Mathesar ($what)"
	assert_eq 0.10.1 "$(recorded)" "recorded Mathesar version ($what)"
	assert_eq 0 "$(migration_0012)" "migration 0012 ($what: the database of before the upgrade)"
	assert_data "$what"
	status=$(host_exec mathesarctl status) || fail "$what: mathesarctl status does not say running"
	printf '%s\n' "$status" >&2
	[[ $status == *"upgrade held back: Mathesar 0.10.1 runs, held back from Mathesar $failed"* &&
		$status == *"$said"* && $status == *"mathesarctl upgrade"* ]] ||
		fail "$what: mathesarctl status does not say that the upgrade was held back, why, and how to retry"
	json=$(host_exec mathesarctl status --json) || fail "$what: mathesarctl status --json failed"
	assert_eq "0.10.1 $failed" "$(jq -r '.upgrade_held | "\(.running) \(.failed_release)"' <<<"$json")" "status --json: upgrade_held ($what)"
	put_back_dir=$(jq -r .upgrade_held.backup <<<"$json")
	host_exec test -f "$put_back_dir/manifest.json" || fail "$what: the backup $put_back_dir was not kept"
	[[ $(host_exec journalctl -u mathesar.service --no-pager) == *"held back from Mathesar $failed"* ]] ||
		fail "$what: the journal does not say that the upgrade was held back"
}

log "1. upgrade to a Mathesar that fails its first start: put back"
t0=$SECONDS
rc=0
out=$(apt_out "$bad") || rc=$?
log "the failed upgrade and its put-back took $((SECONDS - t0)) s (apt exit $rc)"
((rc != 0)) || fail "apt-get succeeded although the upgrade was put back (automation must see it)"
[[ $out == *"mathesar: the upgrade failed and was put back"* ]] || fail "the postinst does not say the upgrade was put back"
assert_eq "install ok half-configured 0.0.10-1" "$(host_exec dpkg-query -W -f='${Status} ${Version}' mathesar)" "package state after the put-back"
backup1=$(backup_of "$out")
[[ -n $backup1 ]] || fail "the postinst did not name the backup before the upgrade"
assert_put_back "$out" 0.11.0-fails-first-start "simulated failure of the first start" "the failed first start"
assert_eq "$backup1" "$put_back_dir" "the backup put back (the one taken before the upgrade)"

log "1b. mathesarctl upgrade retries (the same failing release: put back again, exit 16)"
t0=$SECONDS
rc=0
out=$(host_exec mathesarctl upgrade --to /var/backups/mathesar 2>&1) || rc=$?
printf '%s\n' "$out" >&2
log "the retry and its put-back took $((SECONDS - t0)) s"
assert_eq 16 "$rc" "exit code of mathesarctl upgrade put back"
assert_put_back "$out" 0.11.0-fails-first-start "simulated failure of the first start" "the retry"

log "1c. upgrade to a Mathesar that fails half-way through its migrations: put back"
t0=$SECONDS
rc=0
out=$(apt_out "$mid") || rc=$?
log "the failed upgrade and its put-back took $((SECONDS - t0)) s (apt exit $rc)"
((rc != 0)) || fail "apt-get succeeded although the upgrade was put back"
assert_eq "install ok half-configured 0.0.11-1" "$(host_exec dpkg-query -W -f='${Status} ${Version}' mathesar)" "package state after the second put-back"
assert_put_back "$out" 0.11.0-fails-mid-migration "simulated failure half-way through the migrations (0012 applied: True)" "the failed migrations"

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
assert_eq "install ok installed" "$(host_exec dpkg-query -W -f='${Status}' mathesar)" "package state after the upgrade"
assert_eq null "$(host_exec mathesarctl status --json | jq -c .upgrade_held)" "no upgrade held back after the upgrade"
# The user database's Mathesar SQL, upgraded by the package (Mathesar would ask for it in its UI).
assert_eq '[false]' "$(mathesar_rpc "$base" admin "$admin_password" databases.configured.list | jq -c 'map(.needs_upgrade_attention) | unique')" \
	"needs_upgrade_attention of the connected databases after the upgrade"
assert_eq "0.11.0 true 1" "$(host_exec cat "$E2E_DATA_DIR/user-sql.json" | jq -r '"\(.release) \([.databases[].upgraded] | all) \(.databases | length)"')" "the package's record of the user databases' SQL"
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
log "failed first start and failed migrations: put back by themselves, nothing lost, retried; 0.10.1 -> 0.11.0 with a backup first and migration 0012 once; downgrade refused with the way back, then done with the restore; users and rows kept throughout"

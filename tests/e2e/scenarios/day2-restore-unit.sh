# shellcheck shell=bash
# e2e-needs: host, stack
# e2e-lane: seeded
# shellcheck disable=SC2154 # http_port, db_port, db_password: set by configure_bundled (lib.sh)
# backup and restore while mathesar.service runs the stack (binary and unit copied in): restore
# stops the unit, restores with only the database running, starts the unit again (which waits
# for health), and the rows are as at the backup; the unit is active afterwards and did not fail.
unit_host
configure_bundled
host_exec systemctl daemon-reload
log "systemctl start mathesar"
host_exec timeout 600 systemctl start mathesar.service ||
	fail "systemctl start mathesar failed: $(host_exec journalctl -u mathesar --no-pager -n 30 | tail -n 30)"

psql_db() {
	host_exec env PGPASSWORD="$db_password" psql -h 127.0.0.1 -p "$db_port" -U mathesar -d mathesar \
		-v ON_ERROR_STOP=1 -Atc "$1"
}
psql_db "CREATE TABLE kept (v text); INSERT INTO kept VALUES ('at backup')" >/dev/null
host_exec mathesarctl backup --to /var/backups/mathesar >&2 || fail "mathesarctl backup failed"
psql_db "INSERT INTO kept VALUES ('after backup')" >/dev/null

log "mathesarctl restore latest (under the unit)"
host_exec timeout 600 mathesarctl restore --from /var/backups/mathesar latest >&2 ||
	fail "mathesarctl restore failed: $(host_exec journalctl -u mathesar --no-pager -n 30 | tail -n 30)"
assert_eq active "$(host_exec systemctl is-active mathesar.service)" "unit state after the restore"
assert_eq "at backup" "$(psql_db "SELECT string_agg(v, ',' ORDER BY v) FROM kept")" "rows after the restore"
[[ $(host_exec systemctl show -P NRestarts mathesar.service) == 0 ]] || fail "the unit restarted by itself during the restore"
code=$(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' "http://127.0.0.1:$http_port/")
assert_eq "302 http://127.0.0.1:$http_port/auth/login/?next=/" "$code" "the login redirect after the restore"
assert_eq running "$(host_exec mathesarctl status --json | jq -r .state)" "mathesarctl status after the restore"

# An upgrade under the unit: a backup first, then `systemctl reload`; the unit stays active.
log "mathesarctl upgrade (under the unit)"
out=$(host_exec timeout 600 mathesarctl upgrade) || fail "mathesarctl upgrade failed under the unit"
upgrade_backup=$(sed -n 's/^Backup before the upgrade: //p' <<<"$out")
assert_eq upgrade "$(host_exec jq -r .reason "$upgrade_backup/manifest.json")" "the reason of the upgrade's backup"
assert_eq active "$(host_exec systemctl is-active mathesar.service)" "unit state after the upgrade"
assert_eq "at backup" "$(psql_db "SELECT string_agg(v, ',' ORDER BY v) FROM kept")" "rows after the upgrade"

host_exec timeout 300 systemctl stop mathesar.service || fail "systemctl stop mathesar failed"

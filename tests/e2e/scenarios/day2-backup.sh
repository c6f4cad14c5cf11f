# shellcheck shell=bash
# e2e-needs: host, stack
# e2e-lane: seeded
# shellcheck disable=SC2154 # http_port, db_port, db_password: set by configure_bundled (lib.sh)
# mathesarctl backup and restore in the systemd host (binary copied in, stack started with
# `mathesarctl up`): rows written with psql, a backup (0700 directory, 0600 files, manifest with
# the SHA-256 of every file), more rows and a table, `restore latest`, and the rows are as at the
# backup while Mathesar answers again. A damaged backup and one from a newer version are refused
# without touching anything; --keep removes the oldest backups.
host_start
host_copy "$E2E_BIN" /usr/bin/mathesarctl
config_dir /etc/mathesar
configure_bundled
log "mathesarctl up"
host_exec timeout 600 mathesarctl up >&2 || fail "mathesarctl up failed: $(stack_diagnose | paste -sd ';' -)"

psql_db() {
	host_exec env PGPASSWORD="$db_password" psql -h 127.0.0.1 -p "$db_port" -U mathesar -d "${2:-mathesar}" \
		-v ON_ERROR_STOP=1 -Atc "$1"
}
rows() { psql_db "SELECT string_agg(v, ',' ORDER BY v) FROM kept"; }
admins() { psql_db 'SELECT count(*) FROM mathesar_user' mathesar_django; }

psql_db "CREATE TABLE kept (v text); INSERT INTO kept VALUES ('one'), ('two')" >/dev/null
assert_eq 1 "$(admins)" "admins before the backup"

log "mathesarctl backup"
backup=$(host_exec mathesarctl backup --to /var/backups/mathesar) || fail "mathesarctl backup failed"
backup=$(tail -n 1 <<<"$backup")
log "backup: $backup"
[[ $backup == /var/backups/mathesar/mathesar-* ]] || fail "unexpected backup path '$backup'"
assert_file_mode /var/backups/mathesar 700 root:root
assert_file_mode "$backup" 700 root:root
for f in manifest.json internal-db.dump user-db.dump globals.sql config/.env config/docker-compose.yml; do
	assert_file_mode "$backup/$f" 600 root:root
done
manifest=$(host_exec cat "$backup/manifest.json")
assert_eq "internal:mathesar_django user:mathesar" "$(jq -r '[.dumps[] | "\(.role):\(.database)"] | join(" ")' <<<"$manifest")" \
	"databases in the manifest"
assert_eq "$(image_of service)" "$(jq -r .images.service <<<"$manifest")" "image of the service in the manifest"
[[ $(jq -r .package_version <<<"$manifest") =~ ^[0-9]+\.[0-9]+\.[0-9]+ ]] || fail "no package version in the manifest"
# Every file is listed with its SHA-256, and sha256sum agrees.
jq -r '.files[] | "\(.sha256)  \(.path)"' <<<"$manifest" | host_exec sh -c "cd '$backup' && sha256sum --quiet -c -" >&2 ||
	fail "sha256sum disagrees with the manifest"
assert_eq "$(host_exec sh -c "cd '$backup' && find . -type f ! -name manifest.json | wc -l")" \
	"$(jq '.files | length' <<<"$manifest")" "files listed in the manifest"
# The dump is a real custom-format dump of the rows.
host_exec sh -c "pg_restore -f - '$backup/user-db.dump'" | grep -q "^two$" || fail "the user database dump has no row 'two'"

psql_db "INSERT INTO kept VALUES ('three'); CREATE TABLE later (x int)" >/dev/null
assert_eq "one,three,two" "$(rows)" "rows after the backup"

# Refused: a damaged backup, and one of a newer version (nothing is stopped or changed).
host_exec cp -a "$backup" /var/tmp/damaged
host_exec sh -c 'printf x >>/var/tmp/damaged/user-db.dump'
rc=0
host_exec mathesarctl restore /var/tmp/damaged >&2 || rc=$?
assert_eq 4 "$rc" "exit code of restoring a damaged backup"
host_exec cp -a "$backup" /var/tmp/newer
host_exec sh -c 'jq ".package_version = \"99.0.0\"" /var/tmp/newer/manifest.json >/var/tmp/m && cat /var/tmp/m >/var/tmp/newer/manifest.json'
rc=0
out=$(host_exec mathesarctl restore /var/tmp/newer 2>&1) || rc=$?
assert_eq 4 "$rc" "exit code of restoring a backup of a newer version"
[[ $out == *"newer than this"* ]] || fail "no reason given for refusing a newer backup: $out"
assert_eq "one,three,two" "$(rows)" "rows after the refused restores"
assert_eq healthy "$(docker inspect -f '{{.State.Health.Status}}' mathesar_service)" "the application after the refused restores"

log "mathesarctl restore latest"
host_exec timeout 600 mathesarctl restore --from /var/backups/mathesar latest >&2 || fail "mathesarctl restore failed"
assert_eq "one,two" "$(rows)" "rows after the restore"
assert_eq 0 "$(psql_db "SELECT count(*) FROM pg_tables WHERE tablename = 'later'")" "the table created after the backup"
assert_eq 1 "$(admins)" "admins after the restore"
assert_eq healthy "$(docker inspect -f '{{.State.Health.Status}}' mathesar_service)" "the application after the restore"
code=$(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' "http://127.0.0.1:$http_port/")
assert_eq "302 http://127.0.0.1:$http_port/auth/login/?next=/" "$code" "the login redirect after the restore"
assert_file_mode /etc/mathesar/.env 600 root:root
# (Until now without the password, this check read psql's refusal as "none left".)
assert_none "a temporary restore database was left behind" psql_db "SELECT datname FROM pg_database WHERE datname LIKE '%restoring'" postgres

# The data directory is still there, and --keep removes the oldest backups.
[[ -s $E2E_DATA_DIR/pgdata/PG_VERSION ]] || fail "the data directory lost its PostgreSQL data"
for _ in 1 2; do
	sleep 1 # one name per second
	host_exec mathesarctl backup --to /var/backups/mathesar --keep 2 --reason test >/dev/null || fail "a further backup failed"
done
assert_eq 2 "$(host_exec sh -c 'ls -d /var/backups/mathesar/mathesar-* | wc -l')" "backups kept with --keep 2"
host_exec test ! -e "$backup" || fail "the oldest backup was not removed by --keep 2"
# shellcheck disable=SC2016 # expanded by the host's shell
assert_eq test "$(host_exec sh -c 'jq -r .reason "$(ls -d /var/backups/mathesar/mathesar-* | tail -n 1)/manifest.json"')" \
	"the reason in the manifest"

# An upgrade takes a backup first and says where it is; the stack stays up.
log "mathesarctl upgrade"
out=$(host_exec timeout 600 mathesarctl upgrade --keep 3) || fail "mathesarctl upgrade failed"
upgrade_backup=$(sed -n 's/^Backup before the upgrade: //p' <<<"$out")
[[ -n $upgrade_backup ]] || fail "mathesarctl upgrade did not say where its backup is: $out"
assert_eq upgrade "$(host_exec jq -r .reason "$upgrade_backup/manifest.json")" "the reason of the upgrade's backup"
assert_eq 3 "$(host_exec sh -c 'ls -d /var/backups/mathesar/mathesar-* | wc -l')" "backups kept with --keep 3"
assert_eq healthy "$(docker inspect -f '{{.State.Health.Status}}' mathesar_service)" "the application after the upgrade"
assert_eq "one,two" "$(rows)" "rows after the upgrade"

host_exec mathesarctl down >&2 || fail "mathesarctl down failed"

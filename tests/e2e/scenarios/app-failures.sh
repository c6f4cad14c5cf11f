# shellcheck shell=bash
# e2e-needs: host, stack, installed
# e2e-lane: seeded
# shellcheck disable=SC2016,SC2119 # literal $ in single quotes (SQL dollar quotes, hostile passwords); helpers take optional arguments
# The failures a user meets with the real Mathesar, each through `systemctl start mathesar`: the
# start fails well within the unit's timeout, and both `mathesarctl status` and the unit's journal
# show the failing container's own error line, not only "unhealthy". Nothing is lost: after each
# cause is undone the stack starts again with the rows written before.
#   1. the application fails its first start (a broken setting, through an override file);
#   2. wrong database credentials (the role's password changed inside PostgreSQL by hand);
#   3. a database that never becomes ready (a corrupt data directory: random bytes in its control file).
# shellcheck source=pkg-common.inc
source "$E2E_DIR/scenarios/pkg-common.inc"
installed_host
db_password=$(env_value MATHESAR_DB_PASSWORD)
secret "$db_password"
psql_db "$db_password" "$db_port" 'CREATE TABLE kept (v text); INSERT INTO kept VALUES ($$before the failures$$)' >/dev/null

# start_fails WHAT PATTERN: stops the unit, starts it and expects the start to fail within 300 s
# (the unit allows 15 min), with PATTERN (an extended regex of the container's own error) in
# `mathesarctl status` and in the unit's journal of that start.
start_fails() {
	local what=$1 pattern=$2 since t0 rc=0 secs status
	host_exec systemctl stop mathesar.service
	host_exec systemctl reset-failed mathesar.service 2>/dev/null || true
	since=$(host_exec date '+%Y-%m-%d %H:%M:%S')
	t0=$SECONDS
	log "$what: systemctl start mathesar"
	host_exec timeout 600 systemctl start mathesar.service || rc=$?
	secs=$((SECONDS - t0))
	((rc != 0)) || fail "$what: systemctl start succeeded"
	((rc != 124)) || fail "$what: systemctl start did not return within 600 s"
	((secs < 300)) || fail "$what: systemctl start took ${secs} s to fail"
	status=$(host_exec mathesarctl status 2>&1 || true)
	printf '%s\n' "$status" >&2
	grep -Eq "its log ends: .*($pattern)" <<<"$status" || fail "$what: mathesarctl status does not show the error ($pattern): $status"
	host_exec journalctl -u mathesar.service --since "$since" -o cat --no-pager >"$E2E_WORK/journal.txt"
	grep -Eq "$pattern" "$E2E_WORK/journal.txt" ||
		fail "$what: the journal does not show the error ($pattern): $(tail -n 20 "$E2E_WORK/journal.txt")"
	host_exec systemctl stop mathesar.service
	host_exec systemctl reset-failed mathesar.service 2>/dev/null || true
	log "$what: the start failed after ${secs} s, status and journal show the error"
}
starts_again() {
	host_exec timeout 900 systemctl start mathesar.service || fail "$1: the start after the fix failed"
	wait_up "$http_port"
	assert_eq "before the failures" "$(psql_db "$db_password" "$db_port" 'SELECT v FROM kept')" "$1: the row after the fix"
}

# 1. The application cannot start: an override sets a settings module that does not exist.
printf 'services:\n  service:\n    environment:\n      DJANGO_SETTINGS_MODULE: config.settings.missing\n' |
	host_exec sh -c 'umask 077 && cat >/etc/mathesar/docker-compose.override.yml'
start_fails "a broken application setting" "ModuleNotFoundError.*config.settings.missing"
host_exec rm /etc/mathesar/docker-compose.override.yml
starts_again "a broken application setting"

# 2. Mathesar's database refuses its password.
docker exec mathesar_db psql -U "$(env_value MATHESAR_DB_USER)" -d postgres -qc "ALTER ROLE mathesar PASSWORD 'changed-by-hand'"
start_fails "wrong database credentials" "password authentication failed"
docker start mathesar_db >/dev/null
wait_for "docker exec mathesar_db pg_isready -q -h 127.0.0.1" 60 "the database" || fail "the database did not start again"
printf '%s\n' "ALTER ROLE mathesar PASSWORD :'pw';" |
	docker exec -i mathesar_db psql -U "$(env_value MATHESAR_DB_USER)" -d postgres -v ON_ERROR_STOP=1 -v "pw=$db_password" -q ||
	fail "could not set the configured password back"
starts_again "wrong database credentials"

# 3. The database never becomes ready: a corrupt data directory (random bytes in its control file;
#    an older major version would now be upgraded for real, see pg-major-upgrade).
host_exec systemctl stop mathesar.service
cp -p "$E2E_DATA_DIR/pgdata/global/pg_control" "$E2E_WORK/pg_control"
head -c 8192 /dev/urandom >"$E2E_DATA_DIR/pgdata/global/pg_control"
start_fails "a database that cannot start" "[Dd]atabase files are incompatible"
cp -p "$E2E_WORK/pg_control" "$E2E_DATA_DIR/pgdata/global/pg_control"
starts_again "a database that cannot start"
log "three failures: each start failed within 300 s with the container's own error in status and journal; the data survived"

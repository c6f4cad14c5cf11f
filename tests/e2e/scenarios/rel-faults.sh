# shellcheck shell=bash
# e2e-needs: host, stack, installed
# e2e-lane: seeded
# shellcheck disable=SC2016,SC2119 # literal ${...} in single quotes; helpers take optional arguments
# Faults (R4) on an installed package, rows written before each: (a) the application container's
# process is killed with SIGKILL (a crash): its restart policy brings it back and the unit stays
# active; (b) the database container is stopped by hand (`docker stop`, which no restart policy
# undoes): the unit's watch gives up after its grace period, systemd restarts the unit and the
# stack comes back - or the unit fails visibly with an error line in the journal; (c) the host
# container is restarted (a reboot): the enabled unit starts the stack again; (d) the Docker Engine
# itself is restarted (dockerd stopped with SIGTERM, which stops every container, then started
# again): the stack's restart policies and the unit bring it back. In this bed the host is itself
# a container of that engine, so it goes down with it and is powered on again by hand, as a
# machine whose Docker was restarted would not need; the stack's containers are the engine's own.
# After each, the login page answers and every row written so far is there. Figure: the recovery
# time of each fault. (d) restarts the scenario's own engine (seeded), never the machine's
# (other scenarios run beside it on their own engines).
# The grace period of the watch and RestartSec are shortened by a drop-in (20 s and 2 s instead of
# 120 s and 15 s) so that (b) takes seconds, not minutes; the logic is the packaged unit's.
# shellcheck source=pkg-common.inc
source "$E2E_DIR/scenarios/pkg-common.inc"

health() { docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}' "$1" 2>/dev/null; }
secs_since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }
# rows_are EXPECTED: every row written so far is there, in order.
rows_are() {
	local got
	got=$(psql_db "$password" "$db_port" "SELECT string_agg(step, ',' ORDER BY n) FROM faults") ||
		fail "psql could not read the rows: $got"
	assert_eq "$1" "$got" "rows"
}
up_again() { # the unit active, every container healthy, the login page answering
	[[ $(host_run systemctl is-active mathesar.service 2>/dev/null) == active ]] &&
		[[ $(health mathesar_db) == healthy && $(health mathesar_service) == healthy ]] &&
		http_answers "$http_port"
}

fast_restart() {
	unit_dropin
	host_sh 'printf "[Service]\nExecStart=\nExecStart=/usr/bin/mathesarctl run --grace 20\nRestartSec=2s\n" \
		>/etc/systemd/system/mathesar.service.d/e2e-fast-restart.conf'
}
installed_host fast_restart
password=$(env_value MATHESAR_DB_PASSWORD)
secret "$password"
psql_db "$password" "$db_port" "CREATE TABLE faults (n serial, step text); INSERT INTO faults (step) VALUES ('installed')" >/dev/null

# (a) A crash of the application: SIGKILL to its process (not `docker kill`, which counts as a
# manual stop for the restart policy).
restarts_before=$(docker inspect -f '{{.RestartCount}}' mathesar_service)
pid=$(docker inspect -f '{{.State.Pid}}' mathesar_service)
((pid > 0)) || fail "no process for mathesar_service"
log "(a) kill -9 of mathesar_service's process $pid"
t0=$EPOCHREALTIME
kill -KILL "$pid"
wait_for '[[ $(docker inspect -f "{{.RestartCount}}" mathesar_service) -gt '"$restarts_before"' ]] && up_again' 180 \
	"the application to be restarted and healthy" ||
	fail "(a) the stack did not come back after the application was killed: $(stack_diagnose | paste -sd';' -)"
recover_a=$(secs_since "$t0")
assert_eq 0 "$(host_run systemctl show -P NRestarts mathesar.service)" "(a) unit restarts (the restart policy is enough)"
psql_db "$password" "$db_port" "INSERT INTO faults (step) VALUES ('after kill')" >/dev/null
rows_are "installed,after kill"
log "(a) back in $recover_a s (restart policy), unit not restarted, rows kept"

# (b) The database stopped by hand.
nrestarts=$(host_run systemctl show -P NRestarts mathesar.service)
log "(b) docker stop mathesar_db (inside the host)"
t0=$EPOCHREALTIME
host_run docker stop mathesar_db >/dev/null
outcome=
for _ in $(seq 1 360); do
	if (($(host_run systemctl show -P NRestarts mathesar.service) > nrestarts)) && up_again; then
		outcome=back
		break
	fi
	if [[ $(host_run systemctl is-active mathesar.service || true) == failed ]]; then
		outcome=failed
		break
	fi
	sleep 0.5
done
recover_b=$(secs_since "$t0")
errors=$(host_run journalctl -u mathesar.service -p err -o cat --no-pager)
case $outcome in
back)
	grep -Eq "(^|[^a-z_])(db|database|mathesar_db)([^a-z_]|$)" <<<"$errors" || fail "(b) the unit was restarted but no error line names the database: $errors"
	psql_db "$password" "$db_port" "INSERT INTO faults (step) VALUES ('after db stop')" >/dev/null
	rows_are "installed,after kill,after db stop"
	log "(b) back in $recover_b s: the watch gave up, systemd restarted the unit ($(grep -m1 . <<<"$errors"))"
	;;
failed)
	[[ -n $errors ]] || fail "(b) the unit failed without an error line in the journal"
	log "(b) the unit failed visibly after $recover_b s: $(tail -n 1 <<<"$errors")"
	host_run systemctl reset-failed mathesar.service
	host_run timeout 600 systemctl start mathesar.service || fail "(b) systemctl start after the failure failed"
	wait_up "$http_port"
	psql_db "$password" "$db_port" "INSERT INTO faults (step) VALUES ('after db stop')" >/dev/null
	rows_are "installed,after kill,after db stop"
	;;
*) fail "(b) after $recover_b s the stack is neither back nor the unit failed: $(stack_diagnose | paste -sd';' -)" ;;
esac

# (c) A reboot of the host.
log "(c) docker restart of the host container"
t0=$EPOCHREALTIME
docker restart -t 180 "$E2E_HOST" >/dev/null || fail "(c) docker restart of the host failed"
wait_for 's=$(host_run systemctl is-system-running 2>/dev/null); [[ $s == running || $s == degraded ]]' 180 \
	"the host to boot again" || fail "(c) the host did not boot again"
wait_for up_again 300 "the unit, the containers and the login page after the reboot" ||
	fail "(c) the stack did not come back after the reboot: $(host_run journalctl -u mathesar -b --no-pager | tail -n 20)"
recover_c=$(secs_since "$t0")
rows_are "installed,after kill,after db stop"
psql_db "$password" "$db_port" "INSERT INTO faults (step) VALUES ('after reboot')" >/dev/null
rows_are "installed,after kill,after db stop,after reboot"

# (d) The Docker Engine restarted: the scenario's own engine (seeded), where its host and stack run.
db_id=$(docker inspect -f '{{.Id}}' mathesar_db)
log "(d) restart of the Docker Engine (the scenario's engine $(seeded_engine_name))"
t0=$EPOCHREALTIME
engine_restart "$(seeded_engine_name)"
docker start "$E2E_HOST" >/dev/null || fail "(d) the host container could not be started again"
wait_for 's=$(host_run systemctl is-system-running 2>/dev/null); [[ $s == running || $s == degraded ]]' 180 \
	"the host to boot again" || fail "(d) the host did not boot again"
wait_for up_again 300 "the unit, the containers and the login page after the engine restart" ||
	fail "(d) the stack did not come back after the engine restart: $(host_run journalctl -u mathesar -b --no-pager | tail -n 20)"
recover_d=$(secs_since "$t0")
assert_eq "$db_id" "$(docker inspect -f '{{.Id}}' mathesar_db)" "(d) the database container (kept, not recreated)"
rows_are "installed,after kill,after db stop,after reboot"
psql_db "$password" "$db_port" "INSERT INTO faults (step) VALUES ('after engine restart')" >/dev/null
rows_are "installed,after kill,after db stop,after reboot,after engine restart"
log "R4: (a) application killed: back in $recover_a s; (b) database stopped by hand: $outcome in $recover_b s;" \
	"(c) host restarted: back in $recover_c s; (d) Docker Engine restarted: back in $recover_d s; 5 of 5 rows kept"

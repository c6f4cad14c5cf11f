# shellcheck shell=bash
# e2e-needs: host, stack
# e2e-lane: seeded
# `mathesarctl run` watches the containers: a short outage (a container restarted) is waited out
# and the unit stays up; a container that stays down longer than the grace period ends `run`
# non-zero, so systemd's Restart= brings the whole stack back. The STATUS= line says "degraded"
# meanwhile. A restart of docker.service restarts the unit, and the stack comes back.

health() { docker inspect -f '{{.State.Health.Status}}' "$1" 2>/dev/null; }

unit_host
host_run env MATHESAR_DATA_DIR="$E2E_DATA_DIR" MATHESAR_HTTP_PORT="$(free_port)" MATHESAR_DB_PORT="$(free_port)" \
	mathesarctl configure --non-interactive --no-start >&2 || fail "configure failed"
# A short grace period and restart delay, so that the test does not wait minutes.
host_sh 'mkdir -p /etc/systemd/system/mathesar.service.d
printf "[Service]\nExecStart=\nExecStart=/usr/bin/mathesarctl run --grace 20\nRestartSec=2s\n" >/etc/systemd/system/mathesar.service.d/test.conf
systemctl daemon-reload'

log "systemctl start mathesar"
host_run timeout 600 systemctl start mathesar.service ||
	fail "systemctl start failed: $(host_run journalctl -u mathesar --no-pager -n 30)"
main_pid=$(host_run systemctl show -P MainPID mathesar.service)

# 1. A restarted container is waited out.
log "docker restart mathesar_service (short outage)"
docker restart -t 5 mathesar_service >/dev/null
# shellcheck disable=SC2016 # evaluated by wait_for
wait_for '[[ $(health mathesar_service) == healthy ]]' 120 "the application to be healthy again" ||
	fail "the application did not come back after docker restart"
# shellcheck disable=SC2016 # evaluated by wait_for
wait_for 'host_run journalctl -u mathesar.service -o cat --no-pager | grep -q "^the Mathesar application (service) is healthy again after"' 30 \
	"the watch to see the application back" || fail "the watch did not report the application back"
assert_eq active "$(host_run systemctl is-active mathesar.service)" "unit state after a short outage"
assert_eq "$main_pid" "$(host_run systemctl show -P MainPID mathesar.service)" "main process after a short outage"
assert_eq 0 "$(host_run systemctl show -P NRestarts mathesar.service)" "unit restarts after a short outage"

# 2. A container that stays down ends `run`; systemd restarts the unit, which brings it back.
log "docker stop mathesar_service (stays down)"
docker stop -t 5 mathesar_service >/dev/null
# shellcheck disable=SC2016 # evaluated by wait_for
wait_for '[[ $(host_run systemctl show -P StatusText mathesar.service) == *degraded* ]]' 20 "STATUS= to say degraded" ||
	fail "STATUS= did not say degraded: $(host_run systemctl show -P StatusText mathesar.service)"
# shellcheck disable=SC2016 # evaluated by wait_for
wait_for '[[ $(host_run systemctl show -P NRestarts mathesar.service) == 1 ]]' 120 "systemd to restart the unit" ||
	fail "the unit was not restarted: $(host_run systemctl show -p ActiveState -p NRestarts mathesar.service | xargs)"
host_run journalctl -u mathesar.service -p err -o cat --no-pager | grep -q "stayed .* for longer than 20s" ||
	fail "no error line in the journal says what stayed down"
# shellcheck disable=SC2016 # evaluated by wait_for
wait_for '[[ $(host_run systemctl is-active mathesar.service) == active && $(health mathesar_service) == healthy ]]' 300 \
	"the unit and the application to be back" ||
	fail "the stack did not come back: $(host_run journalctl -u mathesar --no-pager -n 30)"
[[ $(host_run systemctl show -P StatusText mathesar.service) == "Mathesar is running at "* ]] ||
	fail "STATUS= after the restart: $(host_run systemctl show -P StatusText mathesar.service)"

# 3. A restart of docker.service restarts the unit with it (Requires=), and the stack comes back.
# shellcheck disable=SC2034 # read by the command wait_for evaluates
pid_before=$(host_run systemctl show -P MainPID mathesar.service)
log "systemctl restart docker"
host_run timeout 600 systemctl restart docker.service || fail "systemctl restart docker failed"
# shellcheck disable=SC2016 # evaluated by wait_for
wait_for '[[ $(host_run systemctl is-active mathesar.service) == active && $(host_run systemctl show -P MainPID mathesar.service) != "$pid_before" ]]' 300 \
	"mathesar.service to be restarted with docker.service" ||
	fail "mathesar.service did not come back after a docker restart: $(host_run journalctl -u mathesar --no-pager -n 30)"
assert_eq healthy "$(health mathesar_service)" "the application after a docker restart"
host_run timeout 300 systemctl stop mathesar.service || fail "systemctl stop failed"

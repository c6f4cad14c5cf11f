# shellcheck shell=bash
# e2e-needs: host, stack
# e2e-lane: seeded
# Docker Engine unreachable (docker.service "starts" but no engine answers on the socket):
# `systemctl start mathesar` fails, the journal says it is Docker, the unit is retried a few times
# and then left failed (start limit) instead of looping; once Docker is back, a start works.

unit_host
host_run env MATHESAR_DATA_DIR="$E2E_DATA_DIR" MATHESAR_HTTP_PORT="$(free_port)" MATHESAR_DB_PORT="$(free_port)" \
	mathesarctl configure --non-interactive --no-start >&2 || fail "configure failed"

# The bed's docker.service links the outer engine's socket; stopped, the link is gone. A drop-in
# then makes its start do nothing: "Docker is running" for systemd, but no engine answers.
host_run systemctl stop docker.service
host_sh 'mkdir -p /etc/systemd/system/docker.service.d
printf "[Service]\nExecStart=\nExecStart=/bin/true\n" >/etc/systemd/system/docker.service.d/no-engine.conf
systemctl daemon-reload'
host_run test ! -e /run/docker.sock || fail "/run/docker.sock still exists"
# The retries 2 s apart instead of the unit's 15 s: what is checked is that they stop at the start
# limit (StartLimitBurst=5 within StartLimitIntervalSec=10min, the unit's own), not the pause.
host_sh 'mkdir -p /etc/systemd/system/mathesar.service.d
printf "[Service]\nRestartSec=2s\n" >/etc/systemd/system/mathesar.service.d/e2e-restart-sec.conf
systemctl daemon-reload'

log "systemctl start mathesar (no engine)"
rc=0
host_run timeout 300 systemctl start mathesar.service >&2 || rc=$?
((rc != 0)) || fail "systemctl start mathesar succeeded without a Docker Engine"

# Retried a few times, then failed for good: no loop.
# shellcheck disable=SC2016 # evaluated by wait_for
wait_for 'host_run journalctl -u mathesar.service -o cat --no-pager | grep -q "Start request repeated too quickly"' 240 \
	"the start limit to stop the retries" ||
	fail "the unit did not stop retrying: $(host_run systemctl show -p ActiveState -p Result -p NRestarts mathesar.service | xargs)"
assert_eq failed "$(host_run systemctl is-active mathesar.service || true)" "unit state"
restarts=$(host_run systemctl show -P NRestarts mathesar.service)
# StartLimitBurst=5: the first start and 4 restarts; the 5th restart is counted, then refused.
((restarts >= 1 && restarts <= 5)) || fail "unexpected number of restarts: $restarts"
sleep 8 # four times RestartSec: a retry would have come
assert_eq "$restarts" "$(host_run systemctl show -P NRestarts mathesar.service)" "restarts 8 s later"
assert_eq failed "$(host_run systemctl is-active mathesar.service || true)" "unit state 8 s later"

# The journal says what is wrong, at error priority, naming Docker.
errors=$(host_run journalctl -u mathesar.service -p err -o cat --no-pager)
grep -qi docker <<<"$errors" || fail "no error line in the journal names Docker: $errors"
assert_none "containers were created without an engine?" docker ps -aq --filter label=com.docker.compose.project=mathesar

# Docker back: the unit starts.
host_sh 'rm /etc/systemd/system/docker.service.d/no-engine.conf && systemctl daemon-reload && systemctl restart docker.service'
host_run systemctl reset-failed mathesar.service
log "systemctl start mathesar (engine back)"
host_run timeout 600 systemctl start mathesar.service ||
	fail "systemctl start failed with Docker back: $(host_run journalctl -u mathesar --no-pager -n 30)"
assert_eq active "$(host_run systemctl is-active mathesar.service)" "unit state with Docker back"
host_run timeout 300 systemctl stop mathesar.service || fail "systemctl stop failed"

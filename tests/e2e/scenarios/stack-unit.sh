# shellcheck shell=bash
# e2e-needs: host, stack
# e2e-lane: seeded
# shellcheck disable=SC2154 # http_port, db_port, db_password: set by configure_bundled (lib.sh)
# mathesar.service in the systemd host (binary and unit copied in, no package): `systemctl start`
# brings the stack up in order (db, then the application, then the proxy), `systemctl status`
# shows the STATUS= line, the login page answers on the published port, `mathesarctl status`
# says running; the admin exists once after two starts; rows written with psql survive
# `systemctl stop`/`start` and a restart of the host container ("reboot").

unit_host
configure_bundled
host_run systemctl daemon-reload
host_run systemctl enable mathesar.service >&2

# psql_db SQL: runs SQL in the bundled database over the published port, as the configured user.
psql_db() {
	host_run env PGPASSWORD="$db_password" psql -h 127.0.0.1 -p "$db_port" -U mathesar -d mathesar \
		-v ON_ERROR_STOP=1 -Atc "$1"
}
admins() { docker exec mathesar_db psql -U mathesar -d mathesar_django -Atc 'SELECT count(*) FROM mathesar_user'; }
started_at() { docker inspect -f '{{.State.StartedAt}}' "$1"; }
# The unit's state, waited for: a Type=notify start returns once READY=1 was sent.
start_unit() {
	log "systemctl start mathesar"
	host_run timeout 600 systemctl start mathesar.service ||
		fail "systemctl start mathesar failed: $(host_run journalctl -u mathesar --no-pager -n 40 | tail -n 40)"
	assert_eq active "$(host_run systemctl is-active mathesar.service)" "unit state after start"
}

start_unit
# In order: each service was started only once the one before it was healthy (the journal of the
# unit, in its own order), and the containers' start times agree.
host_run journalctl -u mathesar.service -o cat --no-pager >"$E2E_WORK/journal.txt"
order=$(grep -E "^(the database \(PostgreSQL\) is healthy|starting the Mathesar application|the Mathesar application is healthy|starting the web proxy \(Caddy\)|the web proxy \(Caddy\) is healthy)$" \
	"$E2E_WORK/journal.txt" | uniq | paste -sd'|')
assert_eq "the database (PostgreSQL) is healthy|starting the Mathesar application|the Mathesar application is healthy|starting the web proxy (Caddy)|the web proxy (Caddy) is healthy" \
	"$order" "order of the start in the journal"
proxy=$(docker ps -q --filter label=com.docker.compose.project=mathesar --filter label=com.docker.compose.service=caddy-reverse-proxy)
[[ -n $proxy ]] || fail "no proxy container"
sorted=$(printf '%s db\n%s service\n%s proxy\n' "$(started_at mathesar_db)" "$(started_at mathesar_service)" \
	"$(started_at "$proxy")" | sort | cut -d' ' -f2 | paste -sd' ')
assert_eq "db service proxy" "$sorted" "order of the containers' start times"

status_text=$(host_run systemctl show -P StatusText mathesar.service)
[[ $status_text == "Mathesar is running at http://"*":$http_port/" ]] || fail "unexpected STATUS= line: '$status_text'"
host_run systemctl status mathesar.service --no-pager >"$E2E_WORK/status.txt" 2>&1 || true
grep -q "Status: \"Mathesar is running at" "$E2E_WORK/status.txt" ||
	fail "systemctl status does not show the STATUS= line: $(cat "$E2E_WORK/status.txt")"

# The login page, from the outside (the host shares the machine's network).
code=$(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' "http://127.0.0.1:$http_port/")
assert_eq "302 http://127.0.0.1:$http_port/auth/login/?next=/" "$code" "the login redirect from the outer host"
assert_eq 1 "$(admins)" "admins after the first start"
assert_eq mathesar "$(psql_db 'SELECT current_database()')" "the user database exists"
host_run mathesarctl status >&2 || fail "mathesarctl status did not exit 0 on a running stack"
assert_eq running "$(host_run mathesarctl status --json | jq -r .state)" "mathesarctl status --json state"
# The journal has the messages with their priorities (info lines at priority 6).
host_run journalctl -u mathesar.service -p info -o cat --no-pager | grep -q "Mathesar is running at" ||
	fail "the journal has no info line 'Mathesar is running at'"

psql_db "CREATE TABLE kept (v text); INSERT INTO kept VALUES ('before stop')" >/dev/null

log "systemctl stop mathesar"
host_run timeout 300 systemctl stop mathesar.service || fail "systemctl stop mathesar failed"
running=$(docker ps -q --filter label=com.docker.compose.project=mathesar)
[[ -z $running ]] || fail "containers still running after systemctl stop: $running"
[[ -n $(docker ps -aq --filter name='^mathesar_db$') ]] || fail "systemctl stop removed the database container"
rc=0
host_run mathesarctl status >/dev/null 2>&1 || rc=$?
assert_eq 3 "$rc" "mathesarctl status exit code of a stopped stack"

start_unit
assert_eq 1 "$(admins)" "admins after the second start"
assert_eq "before stop" "$(psql_db 'SELECT v FROM kept')" "row after stop and start"
psql_db "INSERT INTO kept VALUES ('before reboot')" >/dev/null

log "restarting the host container (reboot)"
docker restart -t 180 "$E2E_HOST" >/dev/null || fail "docker restart of the host failed"
# shellcheck disable=SC2016 # evaluated by wait_for
wait_for 's=$(host_run systemctl is-system-running 2>/dev/null); [[ $s == running || $s == degraded ]]' 180 \
	"the host to boot again" || fail "the host did not boot again"
# shellcheck disable=SC2016 # evaluated by wait_for
wait_for '[[ $(host_run systemctl is-active mathesar.service) == active ]]' 300 "mathesar.service active after the reboot" ||
	fail "mathesar.service did not come back after the reboot: $(host_run journalctl -u mathesar -b --no-pager | tail -n 30)"
assert_eq "before reboot,before stop" "$(psql_db "SELECT string_agg(v, ',' ORDER BY v) FROM kept")" "rows after the reboot"
assert_eq 1 "$(admins)" "admins after the reboot"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$http_port/auth/login/")
assert_eq 200 "$code" "the login page after the reboot"

host_run timeout 300 systemctl stop mathesar.service || fail "systemctl stop mathesar failed"

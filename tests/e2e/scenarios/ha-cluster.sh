# shellcheck shell=bash
# e2e-needs: host, stack, ha
# e2e-lane: own-engine
# Several hosts behind a load balancer on a highly available PostgreSQL (README "Several hosts"):
# three PostgreSQL nodes under Patroni (Debian's patroni, one etcd), HAProxy giving the address of
# the primary (Patroni's REST API /primary), two hosts with the package on that address (each its
# own engine, as in the fleet scenarios), and HAProxy in front of the hosts, checking the package's
# health endpoint. A client loop adds rows through the front HAProxy the whole time (at most 600 s
# and 3000 requests, 127.0.0.1 only), phase by phase:
#  - steady: both hosts answer, nothing fails;
#  - failover: the primary's container killed; Patroni promotes the synchronous replica; requests
#    fail for the failover's time only (reported), then both hosts answer, nothing restarted by
#    hand (no unit or container restart); the old primary comes back as a replica;
#  - host-kill: host B's machine killed (its systemd host and its containers): HAProxy drops it,
#    no request fails beyond those in flight; B boots again and rejoins (its unit is enabled);
#  - `mathesarctl backup` on host A after the failover: its configuration, the databases named as
#    the cluster's to back up;
#  - a login through host A is used through host B (the session lives in the shared database);
#  - an import (a CSV uploaded, then imported) through the load balancer: its cookie keeps both
#    requests on one host (the uploaded file stays on the host that received it: the same
#    import split across the hosts fails, and is checked to);
#  - drain-restart: host A restarted with MATHESAR_DRAIN_SECONDS in /etc/default/mathesar: its
#    health check answers 503 before it stops, no request fails;
#  - drain-reconfigure: `mathesarctl drain`, then a changed answer (workers) applied to host A
#    (the application recreated): no request fails, A back in rotation;
#  - reboot: host B shut down cleanly and booted again, draining at its stop: no request fails;
#  - every row whose request was acknowledged is in the table at the end.
# shellcheck source=fleet-common.inc
source "$E2E_DIR/scenarios/fleet-common.inc"
t_start=$SECONDS
fixtures=$E2E_DIR/fixtures/ha-cluster
net=mathesar-e2e-ha-$E2E_NAME
etcd=mathesar-e2e-ha-etcd dbproxy=mathesar-e2e-ha-dbproxy web=mathesar-e2e-ha-web
node() { echo "mathesar-e2e-ha-$1"; }
super_password="su-$(sha256_of "super-$RANDOM-$(date +%s%N)" | cut -c1-24)"
repl_password="re-$(sha256_of "repl-$RANDOM-$(date +%s%N)" | cut -c1-24)"
secret "$super_password"
secret "$repl_password"
web_port=$(free_port)
base=http://127.0.0.1:$web_port/
loop_dir=$E2E_WORK/loop
mkdir -p "$loop_dir"
cleanup_ha() {
	[[ ! -s $loop_dir/requests.jsonl ]] || cp "$loop_dir/requests.jsonl" "$E2E_ARTIFACTS/"
	local c
	for c in "$web" "$dbproxy" "$(node pg1)" "$(node pg2)" "$(node pg3)" "$etcd"; do
		docker logs "$c" >"$E2E_ARTIFACTS/${c#mathesar-e2e-ha-}.log" 2>&1 || true
		docker rm -f -v "$c" >/dev/null 2>&1 || true
	done
	docker network rm "$net" >/dev/null 2>&1 || true
	cleanup_fleet
}
trap cleanup_ha EXIT

# The cluster, on the machine's engine: etcd, three Patroni nodes, the primary's address
# published on $pg_port (the hosts' containers reach it at host.docker.internal, as in the fleet).
cluster_start() {
	local n
	log "starting the Patroni cluster (etcd, pg1-pg3) and the primary's HAProxy (port $pg_port)"
	docker network create --label "$E2E_LABEL=1" "$net" >/dev/null
	docker run -d --name "$etcd" --label "$E2E_LABEL=1" --network "$net" --network-alias etcd \
		-v "$fixtures/patroni.yml:/etc/patroni/patroni.yml:ro" mathesar-e2e/patroni \
		etcd --name etcd --data-dir /tmp/etcd --listen-client-urls http://0.0.0.0:2379 \
		--advertise-client-urls http://etcd:2379 --listen-peer-urls http://127.0.0.1:2380 \
		--initial-advertise-peer-urls http://127.0.0.1:2380 --initial-cluster etcd=http://127.0.0.1:2380 >/dev/null
	for n in pg1 pg2 pg3; do
		docker run -d --name "$(node "$n")" --label "$E2E_LABEL=1" --hostname "$n" --network "$net" \
			--network-alias "$n" -e PATRONI_SUPERUSER_PASSWORD="$super_password" \
			-e PATRONI_REPLICATION_PASSWORD="$repl_password" \
			-v "$fixtures/patroni.yml:/etc/patroni/patroni.yml:ro" mathesar-e2e/patroni >/dev/null
	done
	docker run -d --name "$dbproxy" --label "$E2E_LABEL=1" --network "$net" --network-alias dbproxy \
		-p "$pg_port:5000" -v "$fixtures/haproxy-db.cfg:/etc/haproxy/haproxy.cfg:ro" mathesar-e2e/haproxy >/dev/null
}
# psql through the primary's address, from the etcd container (the image has psql); as postgres
# with `su`, else as mathesar.
clsql() {
	PGPASSWORD=$super_password docker exec -e PGPASSWORD "$etcd" \
		psql -h dbproxy -p 5000 -U postgres -d postgres -v ON_ERROR_STOP=1 -Atc "$1"
}
pgsql() {
	PGPASSWORD=$pg_password docker exec -e PGPASSWORD "$etcd" \
		psql -h dbproxy -p 5000 -U mathesar -d mathesar_django -Atc "$1"
}
members() { docker exec "$etcd" patronictl -c /etc/patroni/patroni.yml list -f json; }
leader() { members | jq -r '.[] | select(.Role == "Leader") | .Member'; }
pg_ready() {
	wait_for "clsql 'SELECT 1'" 120 "a primary behind the primary's address" || fail "the Patroni cluster has no primary"
	clsql "CREATE ROLE mathesar LOGIN SUPERUSER PASSWORD '$pg_password'" >/dev/null
	clsql 'CREATE DATABASE mathesar_django OWNER mathesar' >/dev/null
	clsql 'CREATE DATABASE mathesar OWNER mathesar' >/dev/null
	log "cluster ready: $(members | jq -c 'map({(.Member): .Role}) | add')"
}

phase() {
	printf '%s\n' "$1" >"$loop_dir/phase"
	log "phase: $1"
}
report() { python3 "$E2E_DIR/tools/ha_client.py" report "$loop_dir" "$1"; }
# served_after PHASE "SERVER...": the hosts that answered in PHASE after its last failure are these.
served_after() {
	local r
	r=$(report "$1")
	[[ $(jq -r '.servers_after | join(" ")' <<<"$r") == "$2" ]]
}
health() { curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$1/caddy-health-check"; }

sock_a=$(engine_start haa)
sock_b=$(engine_start hab)
cluster_start
log "loading the application's and the proxy's images into the engines of A and B"
images_load haa "$(image_of service)" "$(image_of caddy)"
load_a=$load_pid
images_load hab
load_b=$load_pid
boot_and_join
wait "$load_a" || fail "loading the images into A's engine failed: $(cat "$E2E_WORK/load-haa.log")"
wait "$load_b" || fail "loading the images into B's engine failed: $(cat "$E2E_WORK/load-hab.log")"
on "$host_b" systemctl enable mathesar.service 2>/dev/null
start_both start
log "set up in $((SECONDS - t_start)) s"

docker run -d --name "$web" --label "$E2E_LABEL=1" --network host -e WEB_PORT="$web_port" \
	-e HTTP_A="$http_a" -e HTTP_B="$http_b" \
	-v "$fixtures/haproxy-web.cfg:/etc/haproxy/haproxy.cfg:ro" mathesar-e2e/haproxy >/dev/null
wait_for "[[ \$(curl -s -o /dev/null -w '%{http_code}' $base) == 302 ]]" 30 "the load balancer" ||
	fail "the load balancer at $base does not answer"
oid=$(api_table_roundtrip "$base" admin "$admin_password" ha_rows)
db_id=$(user_db_id "$base" admin "$admin_password" mathesar)
phase steady
MATHESAR_PASSWORD=$admin_password python3 "$E2E_DIR/tools/ha_client.py" loop "$base" admin "$db_id" "$oid" \
	"$loop_dir" 600 3000 2>"$E2E_ARTIFACTS/ha_client.log" &
loop_pid=$!
wait_for "served_after steady 'a b'" 30 "requests answered by both hosts" || fail "not both hosts answered: $(report steady)"
steady=$(report steady)
log "steady: $steady"
assert_eq 0 "$(jq .failed <<<"$steady")" "failed requests with everything up: $steady"

phase failover
old=$(leader)
[[ -n $old ]] || fail "no leader in the cluster: $(members)"
log "killing the primary $old"
docker kill "$(node "$old")" >/dev/null
wait_for "l=\$(leader); [[ -n \$l && \$l != $old ]]" 60 "a new leader" || fail "no replica was promoted: $(members)"
log "new primary: $(leader)"
wait_for "served_after failover 'a b'" 90 "both hosts answering again" || fail "the hosts did not serve again: $(report failover)"
log "both hosts answer again: $(report failover)"
for h in "$host_a" "$host_b"; do assert_steady "$h"; done
docker start "$(node "$old")" >/dev/null
wait_for "[[ \$(members | jq '[.[] | select(.State == \"running\" or .State == \"streaming\")] | length') == 3 ]]" 90 \
	"the old primary back as a replica" || fail "the old primary did not rejoin: $(members)"
log "the old primary $old rejoined: $(members | jq -c 'map({(.Member): .Role}) | add')"
# The whole phase, the old primary's return included: every failure of it counts.
failover=$(report failover)
log "failover: $failover"
printf '%s\n' "$failover" >"$E2E_ARTIFACTS/failover.json"
(($(jq '.unavailable_s | floor' <<<"$failover") <= 30)) || fail "unavailable for more than 30 s: $failover"
[[ $(jq -r '.servers_after | join(" ")' <<<"$failover") == "a b" ]] || fail "not both hosts answered after the failover: $failover"
# The package's backup on a host of the cluster holds its configuration, and says the databases
# are the cluster's to back up (through the same address, on the new primary).
on "$host_a" mathesarctl backup >"$E2E_WORK/backup.log" 2>&1 || fail "mathesarctl backup failed on host A after the failover: $(tail -n 5 "$E2E_WORK/backup.log")"
cat "$E2E_WORK/backup.log" >&2
grep -q 'back it up on that server; this backup holds the configuration only' "$E2E_WORK/backup.log" ||
	fail "the backup on host A does not say the cluster's databases are not in it"

phase host-kill
log "killing host B (its systemd host and its containers)"
# shellcheck disable=SC2046 # container ids
engine_docker hab kill $(engine_docker hab ps -q) >/dev/null
docker kill "$host_b" >/dev/null
sleep 5
phase host-b-down
sleep 3
down=$(report host-b-down)
assert_eq a "$(jq -r '.servers | join(" ")' <<<"$down")" "hosts answering with B down: $down"
killed=$(report host-kill)
log "host B killed: $killed; B down: $down"
(($(jq .failed <<<"$killed") + $(jq .failed <<<"$down") <= 2)) || fail "requests failed beyond those in flight: $killed $down"
phase rejoin
t0=$SECONDS
docker start "$host_b" >/dev/null
wait_for "[[ \$(health $http_b) == 200 ]]" 300 "host B healthy after its boot" ||
	fail "host B did not come back: $(journal "$host_b" | tail -n 20)"
wait_for "[[ \$(report rejoin | jq -r '.servers | join(\" \")') == 'a b' ]]" 30 "host B back in rotation" ||
	fail "host B did not rejoin: $(report rejoin)"
rejoin=$(report rejoin)
log "host B rejoined $((SECONDS - t0)) s after its boot: $rejoin"
assert_eq 0 "$(jq .failed <<<"$rejoin")" "failed requests while B came back: $rejoin"

log "a login through host A, used through host B"
MATHESAR_PASSWORD=$admin_password python3 "$E2E_DIR/tools/ha_client.py" session "$base_a" "$base_b" admin ||
	fail "a session made on host A is not known on host B"

log "an import (upload, then confirm) through the load balancer, and one split across the hosts"
imported=$(MATHESAR_PASSWORD=$admin_password python3 "$E2E_DIR/tools/ha_client.py" import "$base" "$base_a" "$base_b" admin "$db_id") ||
	fail "the import through the load balancer did not complete on one host: $imported"
log "import: $imported"
# The README's affinity advice rests on this: the uploaded file stays on the host that got it.
[[ $(jq -r .across_hosts <<<"$imported") != imported ]] ||
	fail "a file uploaded to host A was imported through host B: media is shared after all, README's affinity advice is needless"

phase drain-restart
on "$host_a" sh -c 'echo MATHESAR_DRAIN_SECONDS=5 >>/etc/default/mathesar'
start_unit "$host_a" restart
phase after-restart
wait_for "[[ \$(report after-restart | jq -r '.servers | join(\" \")') == 'a b' ]]" 60 "host A back in rotation" ||
	fail "host A did not come back in rotation: $(report after-restart)"
drained=$(report drain-restart)
log "restart with drain: $drained; after it: $(report after-restart)"
assert_eq 0 "$(jq .failed <<<"$drained")" "failed requests during host A's restart with drain: $drained"
assert_eq 0 "$(jq .failed <<<"$(report after-restart)")" "failed requests after host A's restart"
journal "$host_a" | grep -q 'draining: the health check answers 503' || fail "host A's stop did not drain"

# A changed answer applied to host A (what dpkg-reconfigure runs: configure, then the unit's
# reload recreating the application), drained first by hand as README says.
phase drain-reconfigure
app_before=$(on "$host_a" docker inspect -f '{{.Id}}' mathesar_service)
on "$host_a" mathesarctl drain --seconds 5 >&2 || fail "mathesarctl drain failed on host A"
on "$host_a" env MATHESAR_WORKERS=2 mathesarctl configure --non-interactive >&2 || fail "configure with workers 2 failed on host A"
on "$host_a" grep -qx 'MATHESAR_WORKERS="2"' /etc/mathesar/.env || fail "the new answer is not in host A's .env"
# What the package's postinst runs after configure (dpkg-reconfigure included).
on "$host_a" systemctl reload mathesar.service || fail "systemctl reload mathesar failed on host A: $(journal "$host_a" | tail -n 20)"
[[ $(on "$host_a" docker inspect -f '{{.Id}}' mathesar_service) != "$app_before" ]] ||
	fail "host A's application was not recreated by the changed answer"
phase after-reconfigure
wait_for "[[ \$(report after-reconfigure | jq -r '.servers | join(\" \")') == 'a b' ]]" 60 "host A back in rotation after its reconfigure" ||
	fail "host A did not come back in rotation after its reconfigure: $(report after-reconfigure)"
reconfigured=$(report drain-reconfigure)
log "reconfigure with drain: $reconfigured; after it: $(report after-reconfigure)"
assert_eq 0 "$(jq .failed <<<"$reconfigured")" "failed requests during host A's reconfigure with drain: $reconfigured"

# Host B rebooted (its systemd host shut down cleanly and booted again), draining at its stop.
phase reboot
on "$host_b" sh -c 'echo MATHESAR_DRAIN_SECONDS=5 >>/etc/default/mathesar'
log "rebooting host B"
docker restart -t 120 "$host_b" >/dev/null || fail "host B could not be rebooted"
wait_for "[[ \$(health $http_b) == 200 ]]" 300 "host B healthy after its reboot" ||
	fail "host B did not come back after its reboot: $(journal "$host_b" | tail -n 20)"
phase after-reboot
wait_for "[[ \$(report after-reboot | jq -r '.servers | join(\" \")') == 'a b' ]]" 60 "host B back in rotation after its reboot" ||
	fail "host B did not come back in rotation after its reboot: $(report after-reboot)"
rebooted=$(report reboot)
log "reboot with drain: $rebooted; after it: $(report after-reboot)"
assert_eq 0 "$(jq .failed <<<"$rebooted")" "failed requests during host B's reboot with drain: $rebooted"

phase end
touch "$loop_dir/stop"
wait "$loop_pid" || fail "the client loop failed: $(cat "$E2E_ARTIFACTS/ha_client.log")"
acked=$(MATHESAR_PASSWORD=$admin_password python3 "$E2E_DIR/tools/ha_client.py" acknowledged "$loop_dir" "$base" admin "$db_id" "$oid") ||
	fail "acknowledged rows are missing: $acked"
log "acknowledged rows all there: $acked"
total=$(jq -cs '{sent: length, failed: map(select(.ok | not)) | length}' "$loop_dir/requests.jsonl")
log "ha-cluster done in $((SECONDS - t_start)) s; requests $total; failover $(jq -c '{unavailable_s, failed}' <<<"$failover")"

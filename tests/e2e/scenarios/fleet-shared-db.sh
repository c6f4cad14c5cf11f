# shellcheck shell=bash
# e2e-needs: host, stack
# e2e-lane: own-engine
# A fleet serving at the same time (see fleet-common.inc: each host its own engine, the shared
# server on the machine's), each host under mathesar.service:
#  - A and B started at the same moment: one takes the start lock on the shared database, the
#    other waits for it; both become healthy, the migrations ran once (one application log with
#    "Applying", no container restarted, each migration recorded once), one admin, the user
#    database connected once, the same SECRET_KEY.
#  - A user added through A's API logs in on B; a table created through A is read through B.
#  - The shared server goes away for 15 s while both serve (logins fail meanwhile): both serve again without a unit or container
#    restart, the rows are all there, a table written through B is read through A.
#    (It replaces day2-multihost, where the hosts took turns on one engine.)
#  - A third host C, added later with A's SECRET_KEY copied before its first configure (the
#    README's procedure), serves the same users and data (the stored credentials decrypt).
# shellcheck source=fleet-common.inc
source "$E2E_DIR/scenarios/fleet-common.inc"
t_start=$SECONDS
pg_start
sock_a=$(engine_start fleeta)
sock_b=$(engine_start fleetb)
sock_c=$(engine_start fleetc)
log "loading the application's and the proxy's images into the engines of A, B and C"
images_load fleeta "$(image_of service)" "$(image_of caddy)"
load_a=$load_pid
images_load fleetb
load_b=$load_pid
images_load fleetc
load_c=$load_pid

boot_and_join
assert_eq "$secret_key_line" "$(on "$host_b" grep '^SECRET_KEY=' /etc/mathesar/.env)" "host B's SECRET_KEY"
wait "$load_a" || fail "loading the images into A's engine failed: $(cat "$E2E_WORK/load-fleeta.log")"
wait "$load_b" || fail "loading the images into B's engine failed: $(cat "$E2E_WORK/load-fleetb.log")"
log "set up in $((SECONDS - t_start)) s"

log "A and B start at the same moment"
start_both start
for h in "$host_a" "$host_b"; do
	assert_steady "$h"
	logs_of "$h" start
done
grep -h 'start lock' "$E2E_ARTIFACTS"/unit-start-*.txt >&2 || true
waited=$(grep -l 'waiting for the start lock on mathesar_django' "$E2E_ARTIFACTS"/unit-start-*.txt | wc -l)
assert_eq 1 "$waited" "hosts that waited for the start lock (one took it, the other waited)"
applied=$(grep -l '^ *Applying ' "$E2E_ARTIFACTS"/service-start-*.txt | wc -l)
assert_eq 1 "$applied" "application logs with migrations applied (they run once)"
if grep -l 'Traceback' "$E2E_ARTIFACTS"/service-start-*.txt >&2; then
	fail "a Traceback in the application's log (file above)"
fi
assert_migrated_once
assert_eq admin "$(pgsql "SELECT string_agg(username, ',') FROM mathesar_user")" "users of the shared database"
for h in "$host_a" "$host_b"; do
	assert_none "the bundled database was started on $h with internal-db-host set" on "$h" docker ps -aq --filter name='^mathesar_db$'
done
code=$(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' "$base_b")
assert_eq "302 ${base_b}auth/login/?next=/" "$code" "host B's login redirect (the admin exists)"
grep -q "the admin \`admin\` already exists" "$E2E_ARTIFACTS"/unit-start-*.txt || fail "no host found the admin the other created"
assert_eq "$(key_hash "$host_a")" "$(key_hash "$host_b")" "SECRET_KEY of B against A's (SHA-256)"

log "a user and a table through A, used through B"
mathesar_rpc "$base_a" admin "$admin_password" users.add "$(jq -cn --arg p "$user_password" \
	'{user_def: {username: "bob", email: "bob@example.com", password: $p, is_superuser: false}}')" >/dev/null ||
	fail "users.add bob through host A failed"
assert_login "$base_b" bob "$user_password"
api_table_roundtrip "$base_a" admin "$admin_password" fleet_rows >/dev/null
assert_eq "row 1,row 2,row 3" "$(api_rows "$base_b" admin "$admin_password" fleet_rows)" "fleet_rows read through B"

log "the shared server restarts while both serve (down for 15 s)"
docker stop -t 30 "$pg" >/dev/null || fail "docker stop of the shared PostgreSQL failed"
t0=$SECONDS
for base in "$base_a" "$base_b"; do
	if MATHESAR_PASSWORD=$user_password mathesar_client login "$base" bob 2>/dev/null; then
		fail "a login at $base succeeded with the shared server down"
	fi
done
left=$((t0 + 15 - SECONDS))
((left <= 0)) || sleep "$left"
docker start "$pg" >/dev/null || fail "docker start of the shared PostgreSQL failed"
for base in "$base_a" "$base_b"; do
	wait_for "MATHESAR_PASSWORD='$user_password' mathesar_client login '$base' bob" 180 "a login at $base" ||
		fail "$base did not serve again within 180 s of the shared server's restart"
done
log "both serve again $((SECONDS - t0)) s after the restart"
for h in "$host_a" "$host_b"; do assert_steady "$h"; done
assert_eq "row 1,row 2,row 3" "$(api_rows "$base_a" admin "$admin_password" fleet_rows)" "fleet_rows through A after the restart"
api_table_roundtrip "$base_b" admin "$admin_password" after_restart >/dev/null
assert_eq "row 1,row 2,row 3" "$(api_rows "$base_a" admin "$admin_password" after_restart)" "after_restart (written through B) through A"

log "a third host joins later"
E2E_HOST=$host_c E2E_DATA_DIR=$data_c E2E_HOST_ENGINE=$sock_c host_start
configure_host "$host_c" "$http_c" "$data_c"
join_fleet "$host_c"
wait "$load_c" || fail "loading the images into C's engine failed: $(cat "$E2E_WORK/load-fleetc.log")"
start_unit "$host_c"
assert_steady "$host_c"
logs_of "$host_c" join
grep -q "the admin \`admin\` already exists" "$E2E_ARTIFACTS/unit-join-c.txt" || fail "host C did not find the admin"
assert_eq "$(key_hash "$host_a")" "$(key_hash "$host_c")" "SECRET_KEY of C against A's (SHA-256)"
assert_login "$base_c" bob "$user_password"
# The stored credentials of the user database decrypt on C: the same key.
assert_eq "row 1,row 2,row 3" "$(api_rows "$base_c" admin "$admin_password" fleet_rows)" "fleet_rows through C"
assert_migrated_once
for h in "$host_a" "$host_b"; do assert_steady "$h"; done
log "fleet scenario done in $((SECONDS - t_start)) s"

# shellcheck shell=bash
# e2e-needs: host, stack, 0.10.1
# e2e-lane: own-engine
# A rolling upgrade of a fleet (see fleet-common.inc), Mathesar 0.10.1 -> 0.11.0 with the real
# images, one host after the other, as the README describes it. The hosts run this binary, with
# the older release chosen by a docker-compose.override.yml (what a package pinning 0.10.1 does;
# packages pinning another release come with the upgrade work of the packaging branch):
#  - A and B start 0.10.1 at the same moment (the start lock again); a user and a table.
#  - B is taken out (stopped); A moves to 0.11.0: it migrates the shared database under the
#    lock, records 0.11.0, and serves the data and the user.
#  - B, still 0.10.1, is refused (exit 3, naming 0.11.0 and the host that migrated): an older
#    release never runs on the newer schema.
#  - B moves to 0.11.0: its application finds the migrations done and serves; one admin, each
#    migration recorded once.
# shellcheck source=fleet-common.inc
source "$E2E_DIR/scenarios/fleet-common.inc"
old_image=mathesar/mathesar:0.10.1
new_image=$(image_of service)
docker image inspect "$old_image" >/dev/null 2>&1 || fail "image $old_image is missing on the machine's engine"
t_start=$SECONDS
pg_start
sock_a=$(engine_start fleeta)
sock_b=$(engine_start fleetb)
images_load fleeta "$old_image" "$new_image" "$(image_of caddy)"
load_a=$load_pid
images_load fleetb
boot_and_join
# pin HOST IMAGE | unpin HOST: the application's release on HOST.
pin() {
	printf 'services:\n  service:\n    image: %s\n' "$2" |
		on "$1" sh -c 'umask 077 && cat >/etc/mathesar/docker-compose.override.yml'
}
unpin() { on "$1" rm -f /etc/mathesar/docker-compose.override.yml; }
image_on() { on "$1" docker inspect -f '{{.Config.Image}}' mathesar_service; }
release() { pgsql 'SELECT release FROM mathesarctl_release'; }
pin "$host_a" "$old_image"
pin "$host_b" "$old_image"
wait "$load_a" || fail "loading the images into A's engine failed: $(cat "$E2E_WORK/load-fleeta.log")"
wait "$load_pid" || fail "loading the images into B's engine failed: $(cat "$E2E_WORK/load-fleetb.log")"
log "set up in $((SECONDS - t_start)) s"

log "A and B start Mathesar 0.10.1 at the same moment"
start_both start
for h in "$host_a" "$host_b"; do
	assert_eq "$old_image" "$(image_on "$h")" "the application's image on $h"
	assert_steady "$h"
done
assert_eq 0.10.1 "$(release)" "the release recorded in the shared database"
assert_migrated_once
mathesar_rpc "$base_a" admin "$admin_password" users.add "$(jq -cn --arg p "$user_password" \
	'{user_def: {username: "bob", email: "bob@example.com", password: $p, is_superuser: false}}')" >/dev/null ||
	fail "users.add bob on 0.10.1 failed"
api_table_roundtrip "$base_b" admin "$admin_password" before_upgrade >/dev/null

log "B out of the load balancer (stopped); A moves to 0.11.0"
on "$host_b" systemctl stop mathesar.service
unpin "$host_a"
start_unit "$host_a" restart
assert_eq "$new_image" "$(image_on "$host_a")" "the application's image on A after its upgrade"
on "$host_a" docker logs mathesar_service >"$E2E_ARTIFACTS/service-a-new.txt" 2>&1
grep -q '^ *Applying ' "$E2E_ARTIFACTS/service-a-new.txt" || fail "A's 0.11.0 applied no migration"
assert_eq 0.11.0 "$(release)" "the release recorded after A's upgrade"
assert_login "$base_a" bob "$user_password"
assert_eq "row 1,row 2,row 3" "$(api_rows "$base_a" admin "$admin_password" before_upgrade)" "rows through A on 0.11.0"

log "B, still on 0.10.1, is refused"
rc=0
on "$host_b" mathesarctl up >"$E2E_WORK/up-b-old.txt" 2>&1 || rc=$?
cat "$E2E_WORK/up-b-old.txt" >&2
assert_eq 3 "$rc" "exit status of 0.10.1 starting on a database migrated by 0.11.0"
grep -q 'Mathesar 0.10.1 is not started: the shared database .* was migrated by Mathesar 0.11.0' "$E2E_WORK/up-b-old.txt" ||
	fail "the refusal does not say why"
assert_eq exited "$(on "$host_b" docker inspect -f '{{.State.Status}}' mathesar_service)" "B's old application after the refusal"

log "B moves to 0.11.0"
unpin "$host_b"
start_unit "$host_b"
assert_eq "$new_image" "$(image_on "$host_b")" "the application's image on B after its upgrade"
on "$host_b" docker logs mathesar_service >"$E2E_ARTIFACTS/service-b-new.txt" 2>&1
# The new container's log only: the migrations were done by A.
if grep -q '^ *Applying ' "$E2E_ARTIFACTS/service-b-new.txt"; then fail "B applied migrations A had applied"; fi
assert_login "$base_b" bob "$user_password"
assert_eq "row 1,row 2,row 3" "$(api_rows "$base_b" admin "$admin_password" before_upgrade)" "rows through B on 0.11.0"
api_table_roundtrip "$base_b" admin "$admin_password" after_upgrade >/dev/null
assert_eq "row 1,row 2,row 3" "$(api_rows "$base_a" admin "$admin_password" after_upgrade)" "rows written through B, read through A"
assert_migrated_once
assert_steady "$host_a"
log "rolling upgrade done in $((SECONDS - t_start)) s"

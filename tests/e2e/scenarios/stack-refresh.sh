# shellcheck shell=bash
# e2e-needs: host, stack, registry
# e2e-lane: own-engine
# shellcheck disable=SC2016 # Go templates in single quotes
# Security rebuilds, the answer refresh-images (what replaced watchtower): the package installed
# from a registry prefix of the scenario's own with refresh-images true enables and starts
# mathesar-refresh.timer. A run of mathesar-refresh.service with nothing rebuilt changes nothing.
# Once a rebuilt proxy image is published under the same tag, the next run pulls it and reloads
# Mathesar, which recreates the proxy alone (the database and the application keep their
# containers); the login works. dpkg-reconfigure with refresh-images false disables the timer,
# and the service then does nothing.
# shellcheck source=pkg-common.inc
source "$E2E_DIR/scenarios/pkg-common.inc"
registry_start >/dev/null
prefix=127.0.0.1:$E2E_REGISTRY_PORT/refresh-e2e
untag() { for k in db service caddy; do docker rmi "$prefix/$(image_of "$k")" >/dev/null 2>&1 || true; done; }
trap untag EXIT
for key in db service caddy; do
	target=$prefix/$(image_of "$key")
	docker tag "$(image_of "$key")" "$target"
	docker push "$target" >"$E2E_WORK/push-$key.log" 2>&1 || fail "docker push $target failed: $(tail -n 3 "$E2E_WORK/push-$key.log")"
done
E2E_HOST_ENGINE=$(engine_start refresh)
export E2E_HOST_ENGINE
pkg_host
preseed "mathesar/data-dir string $E2E_DATA_DIR" "mathesar/http-port string $http_port" \
	"mathesar/db-port string $db_port" "mathesar/image-registry string $prefix" \
	"mathesar/refresh-images boolean true"
apt_install "$deb"
wait_up "$http_port"
base="http://127.0.0.1:$http_port/"
proxy=mathesar-caddy-reverse-proxy-1
ids() { engine_docker refresh inspect -f '{{.Id}}' mathesar_db mathesar_service "$proxy"; }
host_exec systemctl is-enabled --quiet mathesar-refresh.timer || fail "refresh-images true did not enable mathesar-refresh.timer"
host_exec systemctl is-active --quiet mathesar-refresh.timer || fail "mathesar-refresh.timer is not started"
# run_refresh: starts mathesar-refresh.service, prints its journal of that run.
run_refresh() {
	local since
	since=$(host_exec date '+%Y-%m-%d %H:%M:%S')
	host_exec timeout 600 systemctl start mathesar-refresh.service ||
		fail "mathesar-refresh.service failed: $(host_exec journalctl -u mathesar-refresh.service --since "$since" --no-pager -o cat | tail -n 10)"
	host_exec journalctl -u mathesar-refresh.service --since "$since" --no-pager -o cat
}

log "1. nothing rebuilt: nothing changes"
before=$(ids)
journal=$(run_refresh)
printf '%s\n' "$journal" >&2
[[ $journal == *"no rebuilt image"* ]] || fail "the refresh does not say that nothing was rebuilt"
assert_eq "$before" "$(ids)" "the containers after a refresh with nothing rebuilt"

log "2. a rebuilt proxy image under the same tag: the proxy alone is recreated"
caddy=$prefix/$(image_of caddy)
cid=$(docker create "$(image_of caddy)")
docker commit --change 'LABEL org.mathesar.e2e.rebuilt=yes' "$cid" "$caddy" >/dev/null || fail "docker commit of the rebuilt proxy failed"
docker rm "$cid" >/dev/null
docker push "$caddy" >"$E2E_WORK/push-rebuilt.log" 2>&1 || fail "docker push of the rebuilt proxy failed"
journal=$(run_refresh)
printf '%s\n' "$journal" >&2
[[ $journal == *"rebuilt image: $caddy ("* ]] || fail "the refresh does not name the rebuilt proxy image"
[[ $journal == *"reloading mathesar.service"* ]] || fail "the refresh did not reload Mathesar"
wait_up "$http_port"
read -r -d '' db1 app1 proxy1 <<<"$before" || true
read -r -d '' db2 app2 proxy2 <<<"$(ids)" || true
assert_eq "$db1 $app1" "$db2 $app2" "the database's and the application's containers (kept)"
[[ $proxy1 != "$proxy2" ]] || fail "the proxy was not recreated on its rebuilt image"
assert_eq yes "$(engine_docker refresh inspect -f '{{index .Config.Labels "org.mathesar.e2e.rebuilt"}}' "$proxy")" "the proxy's image (the rebuilt one)"
assert_login "$base" admin "$(initial_admin_password)"

log "3. refresh-images false: the timer disabled, the service does nothing"
preseed "mathesar/refresh-images boolean false"
host_exec env DEBIAN_FRONTEND=noninteractive dpkg-reconfigure mathesar >&2 || fail "dpkg-reconfigure failed"
if host_exec systemctl is-enabled --quiet mathesar-refresh.timer; then fail "mathesar-refresh.timer is still enabled"; fi
journal=$(run_refresh)
[[ $journal == *"refresh-images is false"* ]] || fail "the service with refresh-images false did something: $journal"
log "refresh-images: timer enabled; nothing rebuilt, nothing changed; a rebuilt proxy pulled and the proxy alone recreated; off: timer disabled, nothing done"

# shellcheck shell=bash
# e2e-needs: host, stack
# e2e-lane: seeded
# `mathesarctl up` with a service that cannot become healthy (a broken Caddyfile): exit 8, the
# message names the container, shows its last log lines and what to check, and nothing is removed.
# Then the container of the watchtower an older release ran is removed at the next reload.

proxy_name=mathesar-caddy-reverse-proxy-1
watchtower_name=mathesar-watchtower-1
configure() {
	host_run env MATHESAR_DATA_DIR="$E2E_DATA_DIR" MATHESAR_HTTP_PORT="$http_port" MATHESAR_DB_PORT="$db_port" \
		mathesarctl configure --non-interactive --no-start 2>&1
}

no_other_stack
host_start
host_copy "$E2E_BIN" /usr/bin/mathesarctl
config_dir /etc/mathesar
http_port=$(free_port)
db_port=$(free_port)
configure >&2 || fail "configure failed"

# 1. A proxy that cannot start.
printf 'this is not a caddyfile {{{\n' >>"$E2E_DATA_DIR/caddy/Caddyfile"
log "mathesarctl up with a broken Caddyfile"
rc=0
out=$(host_run mathesarctl up --timeout 90 2>&1) || rc=$?
printf '%s\n' "$out" >"$E2E_WORK/up.txt"
assert_eq 8 "$rc" "exit code of up with an unhealthy proxy"
grep -q "(container $proxy_name)" "$E2E_WORK/up.txt" || fail "the message does not name the container: $out"
grep -q "log lines:" "$E2E_WORK/up.txt" || fail "the message has no log lines: $out"
grep -q "  | .*Caddyfile" "$E2E_WORK/up.txt" || fail "the log lines do not show Caddy's complaint: $out"
grep -q "^Check .*Caddyfile" "$E2E_WORK/up.txt" || fail "the message does not say what to check: $out"
grep -q "Nothing was removed" "$E2E_WORK/up.txt" || fail "the message does not say that nothing was removed: $out"
for c in mathesar_db mathesar_service "$proxy_name"; do
	[[ -n $(docker ps -aq --filter "name=^$c\$") ]] || fail "container $c was removed after the failure"
done
assert_eq healthy "$(docker inspect -f '{{.State.Health.Status}}' mathesar_db)" "the database after the failure"

# 2. Fixed (configure writes the Caddyfile again), `up` succeeds and restarts the proxy.
sed -i '/this is not a caddyfile/d' "$E2E_DATA_DIR/caddy/Caddyfile"
host_run mathesarctl up >&2 || fail "mathesarctl up failed after the Caddyfile was fixed"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$http_port/auth/login/")
assert_eq 200 "$code" "login page once fixed"

# 3. The watchtower an older release ran (its container, as Compose made it, and its answer in
#    .env): configure says the answer is obsolete and keeps it as refresh-images, and the next
#    reload removes the container, nothing else recreated.
log "an older release's watchtower container and answer"
docker run -d --name "$watchtower_name" --label com.docker.compose.project=mathesar \
	--label com.docker.compose.service=watchtower --label com.docker.compose.container-number=1 \
	"$(image_of caddy)" caddy file-server --root /srv --listen :8080 >/dev/null || fail "could not create an old watchtower container"
ids_before=$(docker inspect -f '{{.Id}}' mathesar_db mathesar_service "$proxy_name")
# The .env as the older release wrote it: MATHESAR_WATCHTOWER, no MATHESAR_REFRESH_IMAGES.
host_sh 'sed -i "s/^MATHESAR_REFRESH_IMAGES=.*/MATHESAR_WATCHTOWER=\"true\"/" /etc/mathesar/.env'
out=$(configure) || fail "configure with the old answer watchtower failed: $out"
printf '%s\n' "$out" >&2
[[ $out == *"the answer \`watchtower\`"*"is obsolete"*"refresh-images"* ]] || fail "configure does not say that the answer watchtower is obsolete"
assert_eq true "$(host_sh 'sed -n "s/^MATHESAR_REFRESH_IMAGES=\"\(.*\)\"$/\1/p" /etc/mathesar/.env')" "refresh-images from the old answer watchtower: true"
assert_none "watchtower in .env" host_sh 'grep -i watchtower /etc/mathesar/.env || true'
host_run mathesarctl reload >&2 || fail "reload with an old watchtower container failed"
if docker inspect "$watchtower_name" >/dev/null 2>&1; then fail "the old watchtower container is still there after reload"; fi
assert_eq "$ids_before" "$(docker inspect -f '{{.Id}}' mathesar_db mathesar_service "$proxy_name")" "the stack's containers (none recreated)"
host_run mathesarctl status >&2 || fail "mathesarctl status is not 0 after the old watchtower was removed"
host_run mathesarctl down >&2 || fail "mathesarctl down failed"
assert_none "containers still running after down" docker ps -q --filter label=com.docker.compose.project=mathesar
log "unhealthy proxy: exit 8 naming it, nothing removed; the old watchtower answer read as refresh-images with a note, its container removed at reload, nothing else recreated"

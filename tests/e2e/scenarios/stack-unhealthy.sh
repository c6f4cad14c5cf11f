# shellcheck shell=bash
# e2e-needs: host, stack
# e2e-lane: seeded
# `mathesarctl up` with a service that cannot become healthy (a broken Caddyfile): exit 8, the
# message names the container, shows its last log lines and what to check, and nothing is removed.
# Then watchtower turned on and off with `mathesarctl configure` + `mathesarctl reload`: started
# with its generated token, then stopped (not removed).

proxy_name=mathesar-caddy-reverse-proxy-1
watchtower_name=mathesar-watchtower-1
configure() {
	host_run env MATHESAR_DATA_DIR="$E2E_DATA_DIR" MATHESAR_HTTP_PORT="$http_port" MATHESAR_DB_PORT="$db_port" "$@" \
		mathesarctl configure --non-interactive --no-start >&2 || fail "configure $* failed"
}

no_other_stack
host_start
host_copy "$E2E_BIN" /usr/bin/mathesarctl
config_dir /etc/mathesar
http_port=$(free_port)
db_port=$(free_port)
configure

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

# 3. Watchtower on: started, with the generated token; off: stopped, not removed.
configure MATHESAR_WATCHTOWER=true
host_run mathesarctl reload >&2 || fail "reload with watchtower on failed"
assert_eq running "$(docker inspect -f '{{.State.Status}}' "$watchtower_name")" "watchtower after it was turned on"
token=$(host_sh 'sed -n "s/^WATCHTOWER_HTTP_API_TOKEN=\"\(.*\)\"$/\1/p" /etc/mathesar/.env')
secret "$token"
[[ ${#token} -ge 16 ]] || fail "no generated watchtower token in .env"
got=$(docker exec "$watchtower_name" python3 -c 'import hashlib,os; print(hashlib.sha256(os.environb[b"WATCHTOWER_HTTP_API_TOKEN"]).hexdigest())')
assert_eq "$(sha256_of "$token")" "$got" "SHA-256 of the token watchtower received"
host_run mathesarctl status >&2 || fail "mathesarctl status is not 0 with watchtower on"

configure MATHESAR_WATCHTOWER=false
host_run mathesarctl reload >&2 || fail "reload with watchtower off failed"
assert_eq exited "$(docker inspect -f '{{.State.Status}}' "$watchtower_name")" "watchtower after it was turned off"
host_run mathesarctl status >&2 || fail "mathesarctl status is not 0 with watchtower off"
host_run mathesarctl down >&2 || fail "mathesarctl down failed"
assert_none "containers still running after down" docker ps -q --filter label=com.docker.compose.project=mathesar

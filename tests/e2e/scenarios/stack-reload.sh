# shellcheck shell=bash
# e2e-needs: host, stack
# e2e-lane: seeded
# `systemctl reload mathesar` applies a changed configuration with the least disruption: a new
# http-port recreates only the proxy (the database's and the application's StartedAt do not
# change) and the STATUS= line follows; a new database password is set inside the running
# database first, so psql logs in with the new one, not the old one, and the application stays
# healthy; a database container recreated on kept data gets the configured password.

started_at() { docker inspect -f '{{.State.StartedAt}}' "$1"; }
proxy_id() {
	docker ps -q --no-trunc --filter label=com.docker.compose.project=mathesar \
		--filter label=com.docker.compose.service=caddy-reverse-proxy
}
configure() {
	host_run env MATHESAR_DATA_DIR="$E2E_DATA_DIR" MATHESAR_DB_PORT="$db_port" "$@" \
		mathesarctl configure --non-interactive --no-start >&2 || fail "configure $* failed"
}
reload() {
	log "systemctl reload mathesar"
	host_run timeout 600 systemctl reload mathesar.service ||
		fail "systemctl reload failed: $(host_run journalctl -u mathesar --no-pager -n 30)"
	assert_eq active "$(host_run systemctl is-active mathesar.service)" "unit state after reload"
}
# db_login PASSWORD: the user logged in as, over the published port (a real password check).
db_login() {
	host_run env PGPASSWORD="$1" psql -h 127.0.0.1 -p "$db_port" -U mathesar -d mathesar_django -Atc 'SELECT current_user'
}

unit_host
host_run systemctl daemon-reload

http_port=$(free_port)
db_port=$(free_port)
configure MATHESAR_HTTP_PORT="$http_port"
log "systemctl start mathesar"
host_run timeout 600 systemctl start mathesar.service ||
	fail "systemctl start failed: $(host_run journalctl -u mathesar --no-pager -n 30)"
old_password=$(host_sh 'sed -n "s/^MATHESAR_DB_PASSWORD=\"\(.*\)\"$/\1/p" /etc/mathesar/.env')
secret "$old_password"

# 1. A port change touches the proxy only.
db_started=$(started_at mathesar_db)
app_started=$(started_at mathesar_service)
proxy_before=$(proxy_id)
new_http_port=$(free_port)
configure MATHESAR_HTTP_PORT="$new_http_port"
reload
assert_eq "$db_started" "$(started_at mathesar_db)" "database StartedAt after a port change"
assert_eq "$app_started" "$(started_at mathesar_service)" "application StartedAt after a port change"
[[ $(proxy_id) != "$proxy_before" && -n $(proxy_id) ]] || fail "the proxy was not recreated for the new port"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$new_http_port/auth/login/")
assert_eq 200 "$code" "login page on the new port"
if curl -s -o /dev/null "http://127.0.0.1:$http_port/"; then
	fail "the old port $http_port still answers"
fi
# shellcheck disable=SC2016 # evaluated by wait_for
wait_for '[[ $(host_run systemctl show -P StatusText mathesar.service) == *":$new_http_port/" ]]' 30 \
	"the STATUS= line to name the new port" || fail "STATUS= still names the old address: $(host_run systemctl show -P StatusText mathesar.service)"

# 2. A password change is applied inside the database before anything is recreated.
new_password="new-$(sha256_of "$E2E_NAME-$RANDOM")' \$x \"q\""
secret "$new_password"
configure MATHESAR_DB_PASSWORD="$new_password"
reload
assert_eq mathesar "$(db_login "$new_password")" "psql login with the new password"
if db_login "$old_password" >/dev/null 2>&1; then
	fail "the old database password still works"
fi
app_db_connected || fail "Mathesar does not connect to its database (the application is connected to its database)"
host_run mathesarctl status >&2 || fail "mathesarctl status is not 0 after the password change"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$new_http_port/auth/login/")
assert_eq 200 "$code" "login page after the password change"
# The watch of `run` saw the recreated containers come back: the unit never left `active`.
assert_eq 0 "$(host_run systemctl show -P NRestarts mathesar.service)" "restarts of the unit"

# 3. Stopped, a reload is a no-op and says so.
host_run timeout 300 systemctl stop mathesar.service || fail "systemctl stop failed"
out=$(host_run mathesarctl reload 2>&1) || fail "mathesarctl reload of a stopped stack failed: $out"
[[ $out == *"not running"* ]] || fail "mathesarctl reload of a stopped stack said: $out"
assert_none "reload started a stopped stack" docker ps -q --filter label=com.docker.compose.project=mathesar

# 4. The database container removed (data kept) and a new password configured, as after a
#    reinstall that kept the data but not the configuration: the next start sets the password.
docker rm mathesar_db >/dev/null
third_password="third-$(sha256_of "$E2E_NAME-$RANDOM-3")"
secret "$third_password"
configure MATHESAR_DB_PASSWORD="$third_password"
log "systemctl start mathesar (database container recreated on kept data)"
host_run timeout 600 systemctl start mathesar.service ||
	fail "systemctl start failed: $(host_run journalctl -u mathesar --no-pager -n 30)"
assert_eq mathesar "$(db_login "$third_password")" "psql login with the password configured after the removal"
app_db_connected || fail "Mathesar does not connect to its database (the application is connected after the removal)"
host_run timeout 300 systemctl stop mathesar.service || fail "systemctl stop failed"

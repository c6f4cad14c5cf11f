# shellcheck shell=bash
# e2e-needs: host, stack
# e2e-lane: seeded
# A user's first day with the real Mathesar, installed by apt with no answer but where the test
# bed must place things (data directory, ports): the login page through the proxy is Mathesar's
# and its bundles are served; the generated admin password in /etc/mathesar/initial-admin-password
# logs in through the form, a wrong one is refused; the user database the package created is
# already connected in Mathesar (databases.configured.list) and a table with rows created through
# the API is read back through the API and seen by psql; a real browser (headless Chromium) logs in
# and sees the database on the home page (screenshot kept in target/e2e-logs/app-first-day/);
# a restart and a configure re-run do not connect the database a second time. The first start asks
# Mathesar for the admin and the user database in ONE Django process, started before the proxy
# was healthy (the engine's events), and the journal says both.
# shellcheck source=pkg-common.inc
source "$E2E_DIR/scenarios/pkg-common.inc"
pkg_host
preseed "mathesar/data-dir string $E2E_DATA_DIR" \
	"mathesar/http-port string $http_port" \
	"mathesar/db-port string $db_port"
t0=$EPOCHREALTIME
apt_install "$deb"
wait_up "$http_port"
t_install=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')

# One Django process for the admin and the user database, run while the proxy waits for health.
# --until takes whole seconds: the next one, so that this second's events are all in.
events=$(docker events --since "${t0%.*}" --until "$(($(date +%s) + 1))" --format '{{json .}}' \
	--filter event=exec_create --filter event=health_status)
django=$(jq -c 'select(.Actor.Attributes.name == "mathesar_service" and (.Action | contains("manage.py")))' <<<"$events")
assert_eq 1 "$(grep -c . <<<"$django" || true)" "Django processes exec'd by the first start"
jq -e '.Action | contains("createsuperuser") and contains("set_up_preexisting_database_for_user")' <<<"$django" >/dev/null ||
	fail "the first start's Django process does not do both the admin and the user database: $(jq -r .Action <<<"$django" | head -c 300)"
proxy_healthy=$(jq -r 'select(.Actor.Attributes["com.docker.compose.service"] == "caddy-reverse-proxy" and .Action == "health_status: healthy") | .timeNano' <<<"$events" | head -n 1)
[[ -n $proxy_healthy ]] || fail "no health_status event of the proxy during the first start"
(($(jq -r .timeNano <<<"$django") < proxy_healthy)) || fail "the Django process started only after the proxy was healthy"
host_exec journalctl -u mathesar.service -o cat --no-pager >"$E2E_WORK/first-start.txt"
grep -q "created the admin \`admin\`" "$E2E_WORK/first-start.txt" || fail "the journal does not say the admin was created"
grep -q 'connected the user database mathesar on mathesar_db:5432 to Mathesar' "$E2E_WORK/first-start.txt" ||
	fail "the journal does not say the user database was connected"
base="http://127.0.0.1:$http_port/"

assert_login_page "$base"
admin_password=$(initial_admin_password)
[[ -n $admin_password ]] || fail "initial-admin-password is empty"
assert_login "$base" admin "$admin_password"
assert_home_page "$base" admin "$admin_password"
assert_login_refused "$base" admin "not-$admin_password"
assert_login_refused "$base" nobody "$admin_password"

# The user database is in Mathesar at the first login: no step in the UI.
list=$(mathesar_rpc "$base" admin "$admin_password" databases.configured.list) || fail "databases.configured.list failed"
assert_eq 1 "$(jq length <<<"$list")" "databases Mathesar lists for the admin"
assert_eq mathesar "$(jq -r '.[0].name' <<<"$list")" "the user database Mathesar lists"
api_table_roundtrip "$base" admin "$admin_password" first_day >/dev/null
db_password=$(env_value MATHESAR_DB_PASSWORD)
secret "$db_password"
assert_eq "row 1,row 2,row 3" "$(psql_db "$db_password" "$db_port" "SELECT string_agg(v, ',' ORDER BY id) FROM first_day")" \
	"rows of the table created through the API, as psql sees them"

# A real browser logs in and the home page shows the connected database.
shot=$E2E_ARTIFACTS/home-page.png
MATHESAR_PASSWORD=$admin_password browser_login "$base" admin "$shot" \
	"Welcome to Mathesar, admin" "mathesar_db:5432" >&2 ||
	fail "the browser did not log in to the home page showing the database (screenshot: ${shot#"$REPO_ROOT"/})"
[[ -s $shot ]] || fail "no screenshot was saved"

# Neither a restart nor a configure re-run connects the database again.
host_exec systemctl restart mathesar.service
wait_up "$http_port"
host_exec mathesarctl configure --non-interactive >&2 || fail "a configure re-run failed"
host_exec systemctl reload mathesar.service || fail "systemctl reload failed"
maps=$(docker exec mathesar_db psql -U "$(env_value MATHESAR_DB_USER)" -d mathesar_django -Atc \
	"SELECT count(*) FROM mathesar_database d JOIN mathesar_userdatabaserolemap m ON m.database_id = d.id WHERE d.name = 'mathesar'")
assert_eq 1 "$maps" "connections of the user database after a restart and a configure re-run"
assert_eq "row 1,row 2,row 3" "$(api_rows "$base" admin "$admin_password" first_day)" "rows through the API after the restart"
log "first day: install to login page ${t_install} s; login, API table round trip, browser home page, one connection after restart"

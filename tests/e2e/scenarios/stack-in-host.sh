# shellcheck shell=bash
# e2e-needs: host, stack
# e2e-lane: seeded
# From inside the host, a compose stack of the database and Mathesar images (packaged names,
# bind mounts under $E2E_DATA_DIR) becomes healthy through the outer engine; the real Mathesar
# migrates its database and behaves as upstream documents for the first admin user.
host_start
password=$(sha256_of "$E2E_NAME-$RANDOM-$(date +%s%N)")
test_stack_write "$password"
assert_file_mode /etc/mathesar/.env 600 root:root
test_stack_up

app_db_connected || fail "Mathesar does not connect to its database"
assert_eq "mathesar_db mathesar_django mathesar" "$(docker exec mathesar_service python manage.py shell -c \
	'from django.db import connection as c; c.ensure_connection(); cur = c.cursor(); cur.execute("SELECT inet_server_addr() IS NOT NULL, current_database(), current_user"); r = cur.fetchone(); print(c.settings_dict["HOST"], r[1], r[2])')" \
	"Mathesar's database host, name and user"
migrations=$(docker exec mathesar_db psql -U mathesar -d mathesar_django -Atc "SELECT count(*) FROM django_migrations WHERE app = 'mathesar'")
((migrations >= 11)) || fail "Mathesar's migrations were not applied (mathesar: $migrations)"

# Bind-mount sources were resolved by the outer engine at the same path.
[[ -s $E2E_DATA_DIR/msar/pgdata/PG_VERSION ]] || fail "no PostgreSQL data in $E2E_DATA_DIR/msar/pgdata on the outside"
assert_eq 17 "$(cat "$E2E_DATA_DIR/msar/pgdata/PG_VERSION")" "PostgreSQL major version of the data"
assert_eq 999 "$(stat -c %u "$E2E_DATA_DIR/msar/pgdata")" "owner uid of the pgdata bind mount"

status() { docker exec mathesar_service curl -s -o /dev/null -w '%{http_code} %{redirect_url}' "http://localhost:8000$1"; }
assert_eq "302 http://localhost:8000/auth/login/?next=/" "$(status /)" "/ before any admin exists"
assert_eq "302 http://localhost:8000/complete_installation/" "$(status /auth/login/)" "the login page before any admin exists"

admin_password="admin-$password"
secret "$admin_password"
host_exec docker exec -e DJANGO_SUPERUSER_PASSWORD="$admin_password" mathesar_service \
	python manage.py createsuperuser --no-input --username admin --email admin@example.com >&2 ||
	fail "createsuperuser failed"
assert_eq "200 " "$(status /auth/login/)" "the login page once the admin exists"
docker exec -e DJANGO_SUPERUSER_PASSWORD="$admin_password" mathesar_service python manage.py shell -c \
	'import os; from django.contrib.auth import authenticate; assert authenticate(username="admin", password=os.environ["DJANGO_SUPERUSER_PASSWORD"])' ||
	fail "the admin's stored password is not the one given"
rc=0
err=$(host_exec docker exec -e DJANGO_SUPERUSER_PASSWORD=x mathesar_service \
	python manage.py createsuperuser --no-input --username admin --email admin@example.com 2>&1 >/dev/null) || rc=$?
assert_eq 1 "$rc" "exit status of a second createsuperuser"
assert_eq "CommandError: Error: That username is already taken." "$err" "error of a second createsuperuser"

# Without its database the login page fails (what the package's health check asks for; `/`
# alone redirects anonymous users without asking the database).
host_exec docker stop mathesar_db >/dev/null
if docker exec mathesar_service curl -fsS -o /dev/null http://localhost:8000/auth/login/ 2>/dev/null; then
	fail "Mathesar still answers healthy with its database stopped"
fi

host_exec docker compose --project-directory /etc/mathesar down >&2 || fail "docker compose down failed"
assert_none "containers left after docker compose down" stack_containers

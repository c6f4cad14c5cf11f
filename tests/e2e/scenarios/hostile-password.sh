# shellcheck shell=bash
# e2e-needs: host, stack
# e2e-lane: seeded
# A password with every printable ASCII character and non-ASCII letters, written into the .env
# in the product's form (dotenv_quote), reaches PostgreSQL (interpolation) and the Mathesar
# real Mathesar (env_file) byte for byte, and PostgreSQL accepts it over TCP with SCRAM.
printable=$(printable_ascii)
# Extra traps: a backslash before a quote, something that looks like a variable, a trailing backslash.
password="$printable öçß \\'x\"\${POSTGRES_USER}\$\$ #end\\"
assert_eq 95 "$(printf '%s' "$printable" | wc -c)" "printable ASCII characters in the password"

host_start
port=$(free_port)
test_stack_write "$password" "$port"
test_stack_up

want=$(sha256_of "$password")
got=$(app_env_hash POSTGRES_PASSWORD) || fail "Mathesar did not receive POSTGRES_PASSWORD"
assert_eq "$want" "$got" "SHA-256 of POSTGRES_PASSWORD in Mathesar (env_file)"
got=$(app_env_hash E2E_INTERPOLATED_PASSWORD) || fail "Mathesar did not receive E2E_INTERPOLATED_PASSWORD"
assert_eq "$want" "$got" "SHA-256 of the interpolated password in Mathesar"
got=$(docker exec mathesar_db sh -c 'printf %s "$POSTGRES_PASSWORD"' | sha256sum | cut -d' ' -f1)
assert_eq "$want" "$got" "SHA-256 of POSTGRES_PASSWORD in the database container (interpolation)"

app_db_connected || fail "Mathesar does not connect to its database (logged in to PostgreSQL)"

# From the host, through the published port (not loopback inside the container: SCRAM applies).
user=$(host_exec env PGPASSWORD="$password" psql -h 127.0.0.1 -p "$port" -U mathesar -d mathesar_django \
	-Atc 'SELECT current_user') || fail "psql in the host could not log in with the password"
assert_eq mathesar "$user" "user psql logged in as"
if host_exec env PGPASSWORD="${password}x" psql -h 127.0.0.1 -p "$port" -U mathesar -d mathesar_django \
	-Atc 'SELECT 1' >/dev/null 2>&1; then
	fail "psql logged in with a wrong password: the database does not check passwords"
fi
assert_eq t "$(docker exec mathesar_db psql -U mathesar -d mathesar_django -Atc \
	"SELECT rolpassword LIKE 'SCRAM-SHA-256\$%' FROM pg_authid WHERE rolname = 'mathesar'")" \
	"password stored as SCRAM"

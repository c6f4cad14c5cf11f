# shellcheck shell=bash
# e2e-needs: host, stack
# e2e-lane: seeded
# `mathesarctl configure` inside the systemd host: a hostile password (every printable ASCII
# character, non-ASCII letters, leading and trailing spaces) given in an answers file reaches
# PostgreSQL and the real Mathesar byte for byte; the directory is root-only; a re-run changes
# nothing; every bad answer is refused with exit 4 and leaves the directory as it was; an existing
# user database is checked with a real login before anything is written.
host_start
host_copy "$E2E_BIN" /usr/bin/mathesarctl
config_dir /etc/mathesar

printable=$(printable_ascii)
password=" $printable öçß 中 \${POSTGRES_USER} \$(id) "
secret "$password"
db_port=$(free_port)
http_port=$(free_port)

# configure ENV...: runs configure in the host with these extra variables; output to the log.
configure() {
	host_exec env MATHESAR_DATA_DIR="$E2E_DATA_DIR" "$@" \
		mathesarctl configure --non-interactive --no-start --answers /root/answers.yml
}
# snapshot: names, modes, owners, mtimes and hashes of everything in /etc/mathesar.
snapshot() {
	host_sh 'cd /etc/mathesar && find . -printf "%p %m %u:%g %T@ %s\n" | sort && sha256sum .env docker-compose.yml'
}

# The password through an answers file (a JSON string is a valid YAML double-quoted scalar).
python3 -c 'import json,sys; print("db-password: " + json.dumps(sys.argv[1], ensure_ascii=False))' "$password" |
	host_exec sh -c 'umask 077 && cat >/root/answers.yml'
out=$(configure MATHESAR_DB_PORT="$db_port" MATHESAR_HTTP_PORT="$http_port" 2>&1) ||
	fail "configure failed: $out"
[[ $out != *"$printable"* ]] || fail "configure printed the password"

assert_file_mode /etc/mathesar 700 root:root
assert_file_mode /etc/mathesar/.env 600 root:root
assert_file_mode /etc/mathesar/docker-compose.yml 600 root:root
assert_file_mode /etc/mathesar/initial-admin-password 600 root:root
assert_file_mode "$E2E_DATA_DIR" 700 root:root

# The rendered files run unchanged: the database and the application, through the outer engine.
log "docker compose up -d --wait db service (inside the host)"
host_exec timeout 180 docker compose --project-directory /etc/mathesar up -d --wait db service >&2 ||
	fail "the configured stack did not become healthy"
want=$(sha256_of "$password")
assert_eq "$want" "$(app_env_hash POSTGRES_PASSWORD)" "SHA-256 of POSTGRES_PASSWORD in Mathesar"
got=$(docker exec mathesar_db sh -c 'printf %s "$POSTGRES_PASSWORD"' | sha256sum | cut -d' ' -f1)
assert_eq "$want" "$got" "SHA-256 of POSTGRES_PASSWORD in the database container"
app_db_connected || fail "Mathesar does not connect to its database (logged in to PostgreSQL)"
secret_key=$(host_sh 'sed -n "s/^SECRET_KEY=\"\(.*\)\"$/\1/p" /etc/mathesar/.env')
secret "$secret_key"
assert_eq "$(sha256_of "$secret_key")" "$(app_env_hash SECRET_KEY)" "SHA-256 of SECRET_KEY in Mathesar"
user=$(host_exec env PGPASSWORD="$password" psql -h 127.0.0.1 -p "$db_port" -U mathesar -d mathesar_django \
	-Atc 'SELECT current_user') || fail "psql could not log in on the published port with the password"
assert_eq mathesar "$user" "user psql logged in as"

# A re-run with the same answers changes nothing at all.
before=$(snapshot)
sleep 1
out=$(configure 2>&1) || fail "the re-run failed: $out"
[[ $out == *"no changes"* ]] || fail "the re-run did not say 'no changes': $out"
assert_eq "$before" "$(snapshot)" "configuration directory after a re-run"

# Every bad answer: exit 4, its name in the message, the directory untouched.
bad_answer() { # NAME VAR=VALUE...
	local name=$1 rc=0
	shift
	out=$(configure "$@" 2>&1) || rc=$?
	assert_eq 4 "$rc" "exit status for $*"
	[[ $out == *"\`$name\`"* ]] || fail "the message for $* does not name $name: $out"
	assert_eq "$before" "$(snapshot)" "configuration directory after $*"
}
bad_answer http-port MATHESAR_HTTP_PORT=0
bad_answer http-port MATHESAR_HTTP_PORT=70000
bad_answer db-port MATHESAR_DB_PORT="$http_port"
bad_answer domain "MATHESAR_DOMAIN=not a domain"
bad_answer https-port MATHESAR_HTTPS_PORT=8443
bad_answer db-user "MATHESAR_DB_USER=Robert'); DROP TABLE students;--"
bad_answer user-db-name MATHESAR_USER_DB_NAME=1st
bad_answer db-password MATHESAR_DB_PASSWORD=short
bad_answer admin-email MATHESAR_ADMIN_EMAIL=nobody
bad_answer existing-db-host MATHESAR_USER_DB=existing
bad_answer data-dir MATHESAR_DATA_DIR=relative

# An existing user database is logged in to for real before anything is written: the bundled
# database published on the host stands in for "an existing server on localhost".
existing=(MATHESAR_USER_DB=existing MATHESAR_EXISTING_DB_HOST=localhost MATHESAR_EXISTING_DB_PORT="$db_port"
	MATHESAR_EXISTING_DB_USER=mathesar MATHESAR_USER_DB_NAME=mathesar_django)
rc=0
out=$(configure "${existing[@]}" MATHESAR_EXISTING_DB_PASSWORD=wrong-password 2>&1) || rc=$?
assert_eq 3 "$rc" "exit status with a wrong password for the existing database"
[[ $out == *existing-db* ]] || fail "the preflight message does not name the existing database: $out"
assert_eq "$before" "$(snapshot)" "configuration directory after a refused existing database"
out=$(configure "${existing[@]}" MATHESAR_EXISTING_DB_PASSWORD="$password" 2>&1) ||
	fail "configure refused the existing database with the right password: $out"
host_sh 'grep -q "^MATHESAR_EXISTING_DB_HOST=\"localhost\"$" /etc/mathesar/.env' || fail "existing-db-host was not stored"

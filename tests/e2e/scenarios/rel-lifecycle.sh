# shellcheck shell=bash
# e2e-needs: host, stack
# e2e-lane: seeded
# shellcheck disable=SC2016,SC2119 # literal ${...} in single quotes; helpers take optional arguments
# Lifecycle (R5): REL_LIFECYCLE_CYCLES (10) cycles on one host, the .deb installed by apt, each
# cycle: a row written; dpkg-reconfigure with a new HTTP port (preseeded, noninteractive), the
# login page moves there; a row written; upgrade to the other of two package versions (this tree
# as built, and as 0.0.1), alternately up and down (--allow-downgrades); a row written; apt-get
# remove (the service stops, configuration and data stay) and apt-get install of the same .deb.
# After every cycle all rows written so far are there with their contents, and SECRET_KEY and the
# database password are the ones of the first installation: in /etc/mathesar/.env, in the running
# application's environment, and Mathesar still opens the user database through its API after
# every start (the stored credentials are encrypted with SECRET_KEY: another key fails there).
# Any lost or changed row or any other secret fails.
# Figure (the last line): rows written / present / lost, and a cycle's duration (min/median/max).
# A cycle takes about 45 s: scripts/test runs 2 (REL_LIFECYCLE_CYCLES=2: an upgrade and a downgrade), run it alone for 10.
# shellcheck source=pkg-common.inc
source "$E2E_DIR/scenarios/pkg-common.inc"
cycles=${REL_LIFECYCLE_CYCLES:-10}
[[ $cycles =~ ^[1-9][0-9]*$ ]] || fail "REL_LIFECYCLE_CYCLES must be a positive whole number, not '$cycles'"
old=$(pkg_deb 0.0.1)
new=$(pkg_deb)
old_version=$(dpkg-deb -f "$old" Version)
new_version=$(dpkg-deb -f "$new" Version)
[[ $old_version != "$new_version" ]] || fail "the two packages have the same version $old_version"
host_start
config_dir /etc/mathesar
host_copy "$old" /root/
host_copy "$new" /root/
declare -A deb_of=([$old_version]=/root/$(basename "$old") [$new_version]=/root/$(basename "$new"))

http_port=$(free_port)
db_port=$(free_port)
password='R5 lifecycle: p@ss "w0rd" $HOME #1'
secret "$password"
cycle=0 # (the first installation)

# installed_version: the version of mathesar dpkg has installed (empty when it is not).
installed_version() { host_exec dpkg-query -W -f='${db:Status-Status} ${Version}' mathesar | sed -n 's/^installed //p'; }

# deb_install VERSION [APT-OPTION...]: apt-get install of that version's .deb (already in the host).
deb_install() {
	local version=$1
	shift
	local -a cmd=(apt-get install -y -o Dpkg::Options::=--force-confold "$@" "${deb_of[$version]}")
	log "cycle $cycle: ${cmd[*]}"
	host_exec env DEBIAN_FRONTEND=noninteractive "${cmd[@]}" >&2 || fail "cycle $cycle: ${cmd[*]} failed"
	assert_eq "$version" "$(installed_version)" "cycle $cycle: installed version"
}

# db SQL [DATABASE]: SQL over the published database port with the first installation's password.
db() {
	host_exec env PGPASSWORD="$password" psql -h 127.0.0.1 -p "$db_port" -U mathesar -d "${2:-mathesar}" \
		-v ON_ERROR_STOP=1 -Atc "$1"
}

# write_row STEP: inserts the next row (number, cycle, step, contents) and remembers it.
written=()
write_row() {
	local n=$((${#written[@]} + 1)) value got
	value="row $n of cycle $cycle, $1: $(sha256_of "$n $cycle $1" | cut -c1-16)"
	got=$(db "WITH i AS (INSERT INTO lifecycle VALUES ($n, $cycle, '$1', '$value') RETURNING n) SELECT n FROM i") ||
		fail "cycle $cycle: could not write row $n ($1)"
	assert_eq "$n" "$got" "cycle $cycle: number of the row written $1"
	written+=("$n|$cycle|$1|$value")
}

# check_rows: every row written so far is there with its contents, and no other row.
present=0
check_rows() {
	local want got lost
	want=$(printf '%s\n' "${written[@]}")
	got=$(db 'SELECT n, cycle, step, v FROM lifecycle ORDER BY n') || fail "cycle $cycle: could not read the rows"
	present=$(grep -c . <<<"$got" || true)
	if [[ $got != "$want" ]]; then
		lost=$(comm -23 <(sort <<<"$want") <(sort <<<"$got") | wc -l)
		fail "cycle $cycle: rows written ${#written[@]}, present $present, lost or changed $lost;" \
			"first missing or changed: $(comm -23 <(sort <<<"$want") <(sort <<<"$got") | head -n 1);" \
			"unexpected: $(comm -13 <(sort <<<"$want") <(sort <<<"$got") | head -n 1)"
	fi
}

# check_secrets: SECRET_KEY and the database password are the first installation's, in .env and
# in the running application, and every start of the application so far used that SECRET_KEY.
check_secrets() {
	assert_eq "$key_hash" "$(sha256_of "$(env_value SECRET_KEY)")" "cycle $cycle: SHA-256 of SECRET_KEY in .env"
	assert_eq "$(sha256_of "$password")" "$(sha256_of "$(env_value MATHESAR_DB_PASSWORD)")" \
		"cycle $cycle: SHA-256 of the database password in .env"
	assert_eq "$key_hash" "$(app_env_hash SECRET_KEY)" "cycle $cycle: SHA-256 of SECRET_KEY in the running application"
	assert_eq "$(sha256_of "$password")" "$(app_env_hash POSTGRES_PASSWORD)" \
		"cycle $cycle: SHA-256 of POSTGRES_PASSWORD in the running application"
	assert_user_db_works "http://127.0.0.1:$http_port/" admin "$(initial_admin_password)"
	app_starts=$((${app_starts:-0} + 1))
}

# backup_list: the backup directories in the host, oldest first.
backup_list() { host_exec sh -c 'ls -1d /var/backups/mathesar/mathesar-* 2>/dev/null || true' | sort; }
# backup_of FROM: "REASON VERSION" a change from package version FROM must record.
backup_of() {
	local reason=upgrade
	[[ $1 == "$new_version" ]] && reason=downgrade
	echo "$reason ${1%-*}"
}

# secs START END: END - START in seconds, one decimal.
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
# spread NUMBER...: "min A s, median B s, max C s".
spread() {
	printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
		m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		printf "min %.1f s, median %.1f s, max %.1f s", v[1], m, v[NR] }'
}

# --- the first installation: the older version, so that the first cycle is an upgrade ----------
preseed "mathesar/data-dir string $E2E_DATA_DIR" \
	"mathesar/http-port string $http_port" \
	"mathesar/db-port string $db_port" \
	"mathesar/db-password password $password"
deb_install "$old_version"
wait_up "$http_port"
secret_key=$(env_value SECRET_KEY)
secret "$secret_key"
[[ -n $secret_key ]] || fail "no SECRET_KEY in /etc/mathesar/.env"
key_hash=$(sha256_of "$secret_key")
db 'CREATE TABLE lifecycle (n int PRIMARY KEY, cycle int NOT NULL, step text NOT NULL, v text NOT NULL)' >&2 ||
	fail "could not create the table"
check_secrets
log "installed $old_version on port $http_port (database port $db_port); $cycles cycles follow"

durations=() t_reconfigure=() t_upgrade=() t_reinstall=()
for ((cycle = 1; cycle <= cycles; cycle++)); do
	t0=$EPOCHREALTIME
	write_row before-reconfigure

	# dpkg-reconfigure with a new HTTP port.
	port=$(free_port)
	preseed "mathesar/http-port string $port"
	log "cycle $cycle: dpkg-reconfigure mathesar: http-port $http_port -> $port"
	host_exec env DEBIAN_FRONTEND=noninteractive dpkg-reconfigure mathesar >&2 ||
		fail "cycle $cycle: dpkg-reconfigure failed"
	assert_eq "$port" "$(env_value MATHESAR_HTTP_PORT)" "cycle $cycle: http-port in .env after dpkg-reconfigure"
	wait_up "$port"
	if http_answers "$http_port"; then fail "cycle $cycle: the old port $http_port still answers after dpkg-reconfigure"; fi
	http_port=$port
	t1=$EPOCHREALTIME

	# Upgrade to the other version, or downgrade.
	write_row before-upgrade
	from=$(installed_version)
	if [[ $from == "$old_version" ]]; then
		deb_install "$new_version"
	else
		deb_install "$old_version" --allow-downgrades
	fi
	wait_up "$http_port"
	t2=$EPOCHREALTIME

	# The upgrade or downgrade took a backup, recorded as of the version it came from.
	newest=$(backup_list | tail -n 1)
	[[ -n $newest ]] || fail "cycle $cycle: no backup after the change from $from"
	assert_eq "$(backup_of "$from")" "$(host_exec jq -r '"\(.reason) \(.package_version)"' "$newest/manifest.json")" \
		"cycle $cycle: reason and version of the backup taken by the change from $from"

	# Remove (configuration and data stay), then install the same .deb again: no backup then.
	backups_before=$(backup_list)
	write_row before-remove
	version=$(installed_version)
	apt_remove "cycle $cycle ($version)"
	deb_install "$version"
	wait_up "$http_port"
	assert_eq "$backups_before" "$(backup_list)" "cycle $cycle: backups after reinstalling the same version"
	t3=$EPOCHREALTIME

	check_rows
	check_secrets
	t4=$EPOCHREALTIME
	durations+=("$(secs "$t0" "$t4")")
	t_reconfigure+=("$(secs "$t0" "$t1")") t_upgrade+=("$(secs "$t1" "$t2")") t_reinstall+=("$(secs "$t2" "$t3")")
	log "cycle $cycle: ${durations[-1]} s (reconfigure ${t_reconfigure[-1]} s, $from -> $version ${t_upgrade[-1]} s," \
		"remove+reinstall ${t_reinstall[-1]} s); rows ${#written[@]} written, $present present;" \
		"SECRET_KEY unchanged, user database opened through the API $app_starts times"
done

backups=$(host_exec find /var/backups/mathesar -mindepth 1 -maxdepth 1 -name 'mathesar-*' 2>/dev/null | grep -c . || true)
log "backups in /var/backups/mathesar at the end: $backups"
log "R5: steps: reconfigure $(spread "${t_reconfigure[@]}"); upgrade/downgrade $(spread "${t_upgrade[@]}");" \
	"remove+reinstall $(spread "${t_reinstall[@]}")"
log "R5: $cycles cycles (reconfigure, upgrade/downgrade $old_version <-> $new_version, remove+reinstall):" \
	"rows ${#written[@]} written, $present present, $((${#written[@]} - present)) lost;" \
	"SECRET_KEY and database password unchanged, user database opened through the API $app_starts times;" \
	"cycle $(spread "${durations[@]}")"

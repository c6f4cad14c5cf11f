# shellcheck shell=bash
# Shared helpers of the end-to-end test bed, sourced by tests/e2e/run and (through it) by every
# scenario. See tests/e2e/README.md for the scenario API.
#
# Set by the runner for each scenario (exported):
#   E2E_DIR       tests/e2e                      REPO_ROOT      the repository
#   E2E_NAME      the scenario's name            E2E_HOST       its host container's name
#   E2E_WORK      a scratch directory on the outside, removed afterwards (not mounted)
#   E2E_DATA_DIR  a fresh directory mounted at the SAME path inside the host: pass it as the
#                 package's data-dir answer (bind-mount sources are resolved by the outer engine)

E2E_LABEL=mathesar-e2e
E2E_STACK_PROJECT=mathesar               # compose project of the package (and of the test stacks)
E2E_WORK_ROOT=/var/tmp/mathesar-e2e      # per-run directories (data dirs of the hosts) live here
E2E_HOST_IMAGE_DEFAULT=mathesar-e2e/host-trixie
# The host with the package installed and served once (pkg-common.inc, installed_seed).
# shellcheck disable=SC2034 # read by pkg-common.inc
E2E_INSTALLED_IMAGE=mathesar-e2e/installed
E2E_BOOT_TIMEOUT=${E2E_BOOT_TIMEOUT:-90}
# This tree's mathesarctl (debug build), copied into the hosts that run it without the package.
E2E_BIN=${CARGO_TARGET_DIR:-$REPO_ROOT/target}/debug/mathesarctl
# What the bed keeps between runs on this machine: the registry's storage, each scenario's last
# duration (the runner's estimate).
E2E_STATE=/var/lib/mathesar-e2e
# shellcheck disable=SC2034 # read by tests/e2e/run
E2E_DURATIONS=$E2E_STATE/durations

# --- reporting --------------------------------------------------------------------------------

# log MESSAGE: a time-stamped line in the scenario's output (target/e2e-logs/NAME/output.log).
log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }

# fail REASON: ends the scenario as failed; REASON is what the runner prints after "FAIL name:".
fail() {
	[[ -z ${E2E_WORK:-} ]] || printf '%s\n' "$*" >"$E2E_WORK/reason"
	log "FAIL: $*"
	exit 1
}

# secret VALUE: registers VALUE as secret; saved logs have it replaced by <redacted>.
secret() { [[ -z $1 ]] || printf '%s\0' "$1" >>"$E2E_WORK/secrets"; }

# ERR trap of a scenario: a command that failed without `|| fail ...` still gives a reason.
_e2e_on_err() {
	local rc=$1 cmd=$2 i where=
	for ((i = 1; i < ${#BASH_SOURCE[@]}; i++)); do # the failing line, then its callers
		[[ -n ${BASH_SOURCE[i]} ]] || continue
		where+="${where:+ <- }${BASH_SOURCE[i]#"$REPO_ROOT"/}:${BASH_LINENO[i - 1]}"
	done
	[[ -s $E2E_WORK/reason ]] || printf 'command failed (exit %s) at %s: %s\n' "$rc" "$where" "$cmd" >"$E2E_WORK/reason"
}

# --- small utilities --------------------------------------------------------------------------

# sha256_of STRING: hex SHA-256 of the bytes of STRING (no newline added).
sha256_of() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }

# image_of KEY: the image name packaging/images gives KEY (db, service, caddy).
image_of() {
	local name
	name=$(sed -n "s/^$1=//p" "$REPO_ROOT/packaging/images" | tail -n 1)
	[[ -n $name ]] || fail "packaging/images has no '$1=' line"
	printf '%s\n' "$name"
}

# free_port: a TCP port nobody listens on (the host shares this network). Lanes run at once and
# a port is bound long after it is chosen (a stack publishes it minutes later), so each lane takes
# its ports from a range of its own (E2E_LANE_ID of E2E_LANE_COUNT, set by the runner), below the
# kernel's ephemeral ports. Nor does a scenario get the same port twice (its ports-given file):
# two ports chosen before either is bound were once the same, and the package refused them.
free_port() {
	python3 - "${E2E_LANE_ID:-0}" "${E2E_LANE_COUNT:-1}" "${E2E_WORK:-/nonexistent}/ports-given" <<'PY'
import os, random, socket, sys
lane, lanes, given_file = int(sys.argv[1]), max(1, int(sys.argv[2])), sys.argv[3]
width = 21000 // lanes
low = 11000 + lane * width
try:
    given = set(int(p) for p in open(given_file).read().split())
except OSError:
    given = set()
for port in random.sample(range(low, low + width), width):
    if port in given:
        continue
    s = socket.socket()
    try:
        s.bind(("0.0.0.0", port))
    except OSError:
        continue
    finally:
        s.close()
    if os.path.isdir(os.path.dirname(given_file)):
        with open(given_file, "a") as f:
            f.write("%d\n" % port)
    print(port)
    break
else:
    sys.exit("no free port in %d-%d" % (low, low + width - 1))
PY
}

# wait_for CMD TIMEOUT [WHAT]: runs the shell command string CMD until it succeeds: every 0.5 s
# for 5 s, every second until 20 s, then every 2 s (a `docker exec` costs a tenth of a CPU
# second, and the lanes share 2 cores: a long wait must not slow the others down); returns 1
# (after logging CMD's last output) when TIMEOUT seconds pass first.
wait_for() {
	local cmd=$1 timeout=${2:-30} what=${3:-$1} out start now
	start=$(date +%s)
	until out=$(eval "$cmd" 2>&1); do
		now=$(date +%s)
		if ((now - start >= timeout)); then
			log "timed out after ${timeout}s waiting for: $what; last output: ${out:0:2000}"
			return 1
		fi
		if ((now - start < 5)); then
			sleep 0.5
		elif ((now - start < 20)); then
			sleep 1
		else
			sleep 2
		fi
	done
}

# assert_eq EXPECTED ACTUAL [WHAT]: fails the scenario unless both strings are equal.
assert_eq() {
	[[ $1 == "$2" ]] || fail "${3:-value}: expected '$1', got '$2'"
}

# printable_ascii: the 95 printable ASCII characters, space first (for hostile passwords).
printable_ascii() {
	local code char out=
	for code in {32..126}; do
		printf -v char '%b' "\\$(printf '%03o' "$code")"
		out+=$char
	done
	printf '%s' "$out"
}

# --- the host container -----------------------------------------------------------------------

# host_start [IMAGE]: starts this scenario's host (default: the trixie host) with systemd as
# PID 1, the outer engine's socket (or $E2E_HOST_ENGINE, an engine_start socket) at /run/host-docker.sock, host networking and $E2E_DATA_DIR,
# and waits until systemd reports running or degraded.
host_start() {
	local image=${1:-$E2E_HOST_IMAGE_DEFAULT}
	docker image inspect "$image" >/dev/null 2>&1 || fail "image $image is missing (tests/e2e/images/build)"
	log "starting host $E2E_HOST from $image"
	docker run -d --name "$E2E_HOST" \
		--label "$E2E_LABEL=1" --label "$E2E_LABEL.scenario=$E2E_NAME" \
		--network host \
		--cap-add SYS_ADMIN --security-opt seccomp=unconfined \
		--tmpfs /run --tmpfs /run/lock --tmpfs /tmp \
		-v /sys/fs/cgroup:/sys/fs/cgroup:rw \
		-v "${E2E_HOST_ENGINE:-/var/run/docker.sock}:/run/host-docker.sock" \
		-v "$E2E_DATA_DIR:$E2E_DATA_DIR" \
		-e container=docker \
		"$image" >/dev/null || fail "could not start the host container from $image"
	# shellcheck disable=SC2016 # evaluated by wait_for
	local booted='s=$(host_exec systemctl is-system-running 2>/dev/null); [[ $s == running || $s == degraded ]]'
	local ok=0 state
	wait_for "$booted" "$E2E_BOOT_TIMEOUT" "systemd in the host to finish booting" || ok=$?
	state=$(host_exec systemctl is-system-running 2>/dev/null || true)
	((ok == 0)) || fail "host did not boot within ${E2E_BOOT_TIMEOUT}s (systemd state: ${state:-no answer})"
	log "host is up (systemd: $state)"
}

# host_exec CMD...: runs CMD in the host (as root); stdin is passed on when it is not a terminal.
host_exec() {
	local -a flags=()
	[[ -t 0 ]] || flags+=(-i)
	docker exec "${flags[@]}" "$E2E_HOST" "$@"
}

# host_run CMD...: host_exec, retried when `docker exec` itself could not start CMD (exit 126, as
# "OCI runtime exec failed" under load); CMD's own exit status is returned as it is.
host_run() {
	local i rc
	for i in 1 2 3; do
		rc=0
		host_exec "$@" || rc=$?
		((rc == 126)) || return "$rc"
		log "docker exec could not start '$*' (exit 126), try $i; retrying"
		sleep 1
	done
	return "$rc"
}

# host_sh SCRIPT [ARG...]: runs a bash script in the host (set -euo pipefail), ARGs as $1...
host_sh() {
	local script=$1
	shift
	host_exec bash -c "set -euo pipefail; $script" bash "$@"
}

# host_copy SRC DEST: copies a file or directory from the outside into the host. A file keeps its
# mode; DEST may be a directory (the file goes into it) or the new file's path. Works into tmpfs
# paths too (docker cp does not).
host_copy() {
	local src=$1 dest=$2
	if [[ -d $src ]]; then
		host_exec mkdir -p "$dest"
		tar -C "$src" -cf - . | host_exec tar -C "$dest" -xf - --no-same-owner
	elif [[ -f $src ]]; then
		# shellcheck disable=SC2016,SC2094 # expanded by the host's sh; $src is only read
		host_exec sh -c 'd=$1; [ -d "$d" ] && d="$d/$2"; cat >"$d" && chmod "$3" "$d"' \
			sh "$dest" "$(basename "$src")" "$(stat -c %a "$src")" <"$src"
	else
		fail "host_copy: no such file or directory: $src"
	fi
}

# assert_file_mode PATH MODE [OWNER]: fails unless PATH in the host has MODE (e.g. 600 or 0600)
# and, if given, OWNER (user or user:group).
assert_file_mode() {
	local path=$1 mode=$2 owner=${3:-} got got_mode got_owner
	got=$(host_exec stat -c '%a %U:%G' "$path" 2>/dev/null) || fail "$path does not exist in the host"
	got_mode=${got%% *} got_owner=${got#* }
	[[ $owner == *:* ]] || got_owner=${got_owner%%:*}
	if ((8#$got_mode != 8#$mode)) || [[ -n $owner && $got_owner != "$owner" ]]; then
		fail "$path: mode $got_mode owner ${got#* }, expected mode $mode${owner:+ owner $owner}"
	fi
}

# --- the stack (containers the package or a scenario starts through the outer engine) ---------

# app_env_hash VAR: SHA-256 (hex) of VAR in the environment of the running Mathesar container
# (what its processes received); fails if it has no VAR. The value itself is never printed.
app_env_hash() {
	docker exec mathesar_service python3 -c '
import hashlib, os, sys
v = os.environb.get(sys.argv[1].encode())
if v is None:
    sys.exit(1)
print(hashlib.sha256(v).hexdigest())' "$1"
}

# app_db_connected: Mathesar's Django connects to its own database with the configuration it runs
# with (prints nothing; fails with Django's error).
app_db_connected() {
	docker exec mathesar_service python manage.py shell -c \
		'from django.db import connection; connection.ensure_connection()' >/dev/null
}

# mathesar_client ARGS...: tests/e2e/tools/mathesar_client.py (the login page, the form login and
# the JSON-RPC API as a user drives them); the password comes from $MATHESAR_PASSWORD.
# browser_login BASE USER SCREENSHOT [TEXT...]: tools/browser_login.py (a real headless Chromium
# logs in; environment as it documents) run in a network namespace of its own, which reaches this
# machine through a veth pair only. Chromium aborts its connections in progress (and marks its
# HTTP/2 sessions going away) whenever the machine's interfaces change (ERR_NETWORK_CHANGED), and
# the engine adds and removes bridges and veths whenever another lane starts or stops a
# container: in its own namespace it sees no change but its own, and it starts after the last of
# those (no IPv6 link-local address, which duplicate detection would add a second or two later;
# the carrier up). BASE and BROWSER_RESOLVE's 127.0.0.1 become this machine's end of the pair
# (published ports listen on every address).
browser_login() {
	local base=$1 ns i t host_ip ns_ip rc=0 resolve=${BROWSER_RESOLVE:-}
	# A /30 of 198.18.0.0/15 (RFC 2544's range, routed nowhere) per browser running at once.
	exec {_browser_lock}>>"$E2E_STATE/browser-netns.lock"
	flock "$_browser_lock"
	for ((i = 0; i < 64; i++)); do
		ip link show "mbr$i-h" >/dev/null 2>&1 || break
	done
	((i < 64)) || {
		exec {_browser_lock}>&-
		fail "browser_login: 64 browser namespaces in use (leftovers: ip link | grep mbr)"
	}
	ns=mathesar-e2e-browser-$i host_ip=198.18.0.$((4 * i + 1)) ns_ip=198.18.0.$((4 * i + 2))
	ip netns del "$ns" 2>/dev/null || true
	if ! { ip netns add "$ns" &&
		ip link add "mbr$i-h" type veth peer name "mbr$i-n" &&
		ip link set "mbr$i-n" netns "$ns" &&
		ip -n "$ns" link set "mbr$i-n" addrgenmode none &&
		ip addr add "$host_ip/30" dev "mbr$i-h" && ip link set "mbr$i-h" up &&
		ip -n "$ns" addr add "$ns_ip/30" dev "mbr$i-n" && ip -n "$ns" link set "mbr$i-n" up &&
		ip -n "$ns" link set lo up; }; then
		ip link del "mbr$i-h" 2>/dev/null || true
		ip netns del "$ns" 2>/dev/null || true
		exec {_browser_lock}>&-
		fail "browser_login: the browser's network namespace could not be made"
	fi
	exec {_browser_lock}>&-
	# The carrier comes up asynchronously (the kernel's link watch): a change after the browser
	# started is a network change to it.
	for ((t = 0; t < 50; t++)); do
		[[ $(ip -n "$ns" -o link show "mbr$i-n") == *"state UP"* ]] && break
		sleep 0.1
	done
	base=${base/"://127.0.0.1:"/"://$host_ip:"}
	resolve=${resolve/%:127.0.0.1/:$host_ip}
	BROWSER_RESOLVE=$resolve ip netns exec "$ns" /usr/bin/python3 "$E2E_DIR/tools/browser_login.py" "$base" "${@:2}" || rc=$?
	ip link del "mbr$i-h" 2>/dev/null || true
	ip netns del "$ns" 2>/dev/null || true
	return "$rc"
}

mathesar_client() { /usr/bin/python3 "$E2E_DIR/tools/mathesar_client.py" "$@"; }

# mathesar_rpc BASE USER PASSWORD METHOD [JSON]: the result of one API call as USER.
mathesar_rpc() {
	local params=${5:-}
	[[ -n $params ]] || params='{}'
	MATHESAR_PASSWORD=$3 mathesar_client rpc "$1" "$2" "$4" "$params"
}

# assert_login_page BASE: the login page through the proxy is Mathesar's, and every bundle it
# references (vite's main.*.css) is served 200.
assert_login_page() {
	local page
	page=$(mathesar_client page "$1") || fail "the login page at $1 does not answer"
	assert_eq "Mathesar - Login" "$(jq -r .title <<<"$page")" "title of $1auth/login/"
	_assert_bundles "$page" 'main.*\.css$' "the login page"
}

# assert_home_page BASE USER PASSWORD: after the form login, the home page is Mathesar's and the
# frontend's bundles it references (vite's main.*.js and .css) are served 200.
assert_home_page() {
	local page
	page=$(MATHESAR_PASSWORD=$3 mathesar_client home "$1" "$2") || fail "the home page at $1 does not answer after the login of $2"
	assert_eq "Mathesar - Home" "$(jq -r .title <<<"$page")" "title of the home page"
	_assert_bundles "$page" 'main.*\.js$' "the home page"
}

# _assert_bundles PAGE_JSON REGEX WHAT: the page references an asset matching REGEX and every
# asset it references is served 200 with content.
_assert_bundles() {
	jq -e --arg re "$2" '.assets | keys | map(select(test($re))) | length > 0' <<<"$1" >/dev/null ||
		fail "$3 references no bundle matching $2: $1"
	jq -e '[.assets[] | .status == 200 and .bytes > 0] | all' <<<"$1" >/dev/null ||
		fail "a bundle of $3 is not served: $1"
}

# initial_admin_password: the generated admin password the package saved in the host.
initial_admin_password() {
	local pw
	pw=$(host_exec cat /etc/mathesar/initial-admin-password) || fail "no /etc/mathesar/initial-admin-password in the host"
	secret "$pw"
	printf '%s\n' "$pw"
}

# user_db_id BASE USER PASSWORD [NAME]: the id under which Mathesar lists the user database NAME
# (default mathesar) for USER; fails when it is not listed.
user_db_id() {
	local list id
	list=$(mathesar_rpc "$1" "$2" "$3" databases.configured.list) || fail "databases.configured.list as $2 failed"
	id=$(jq -r --arg n "${4:-mathesar}" 'map(select(.name == $n)) | .[0].id // empty' <<<"$list")
	[[ -n $id ]] || fail "Mathesar does not list the user database ${4:-mathesar} for $2: $list"
	printf '%s\n' "$id"
}

# assert_user_db_works BASE USER PASSWORD [NAME]: through the API, Mathesar opens the user
# database with the credentials it stores (encrypted with SECRET_KEY: a changed key or a stale
# password fails here) and lists its schemas.
assert_user_db_works() {
	local id
	id=$(user_db_id "$@")
	mathesar_rpc "$1" "$2" "$3" schemas.list "{\"database_id\": $id}" >/dev/null ||
		fail "Mathesar cannot open the user database ${4:-mathesar} (schemas.list failed)"
}

# api_table_roundtrip BASE USER PASSWORD TABLE [DBNAME]: through the API as USER, creates TABLE
# (an id and a text column "v") in the public schema of the user database DBNAME (mathesar),
# adds three rows and reads them back; prints the table's OID. Fails on any difference.
api_table_roundtrip() {
	local base=$1 user=$2 pw=$3 table=$4 id schema oid i rows
	id=$(user_db_id "$base" "$user" "$pw" "${5:-mathesar}")
	schema=$(mathesar_rpc "$base" "$user" "$pw" schemas.list "{\"database_id\": $id}" |
		jq -r 'map(select(.name == "public")) | .[0].oid // empty')
	[[ -n $schema ]] || fail "no public schema listed in the user database"
	oid=$(mathesar_rpc "$base" "$user" "$pw" tables.add "$(jq -cn --argjson s "$schema" --argjson d "$id" --arg t "$table" \
		'{schema_oid: $s, database_id: $d, table_name: $t, column_data_list: [{name: "v", type: "text"}]}')" |
		jq -r '.oid // .') || fail "tables.add $table failed"
	[[ $oid =~ ^[0-9]+$ ]] || fail "tables.add $table answered no OID: $oid"
	for i in 1 2 3; do
		mathesar_rpc "$base" "$user" "$pw" records.add \
			"$(jq -cn --argjson t "$oid" --argjson d "$id" --arg v "row $i" '{table_oid: $t, database_id: $d, record_def: {"2": $v}}')" \
			>/dev/null || fail "records.add into $table failed"
	done
	rows=$(mathesar_rpc "$base" "$user" "$pw" records.list "{\"table_oid\": $oid, \"database_id\": $id}" |
		jq -r '[.results[]["2"]] | join(",")') || fail "records.list of $table failed"
	assert_eq "row 1,row 2,row 3" "$rows" "rows of $table read back through the API"
	printf '%s\n' "$oid"
}

# api_rows BASE USER PASSWORD TABLE [DBNAME]: the "v" values of TABLE in the user database, read
# through the API, comma-separated.
api_rows() {
	local id schema oid
	id=$(user_db_id "$1" "$2" "$3" "${5:-mathesar}")
	schema=$(mathesar_rpc "$1" "$2" "$3" schemas.list "{\"database_id\": $id}" |
		jq -r 'map(select(.name == "public")) | .[0].oid // empty')
	oid=$(mathesar_rpc "$1" "$2" "$3" tables.list "{\"schema_oid\": $schema, \"database_id\": $id}" |
		jq -r --arg t "$4" 'map(select(.name == $t)) | .[0].oid // empty')
	[[ -n $oid ]] || fail "Mathesar lists no table $4 in the user database"
	mathesar_rpc "$1" "$2" "$3" records.list "{\"table_oid\": $oid, \"database_id\": $id}" |
		jq -r '[.results[]["2"]] | join(",")'
}

# assert_none WHAT CMD [ARG...]: CMD succeeds and prints nothing. A CMD that fails is a failure of
# the check, never "nothing found" (a failing $(...) reads as empty).
assert_none() {
	local what=$1 out rc=0
	shift
	out=$("$@") || rc=$?
	((rc == 0)) || fail "could not check for $what: '$*' exited $rc"
	[[ -z $out ]] || fail "$what: $(head -c 300 <<<"$out" | paste -sd ' ' -)"
}

# prints_nothing CMD [ARG...]: CMD succeeds and prints nothing; a CMD that fails is not "nothing"
# (for wait_for conditions; assert_none fails the scenario instead).
prints_nothing() {
	local out
	out=$("$@") && [[ -z $out ]]
}

# no_other_stack: a stack someone runs by hand on this engine would share the fixed container
# names: waits (10 minutes at most) for it to go.
no_other_stack() {
	wait_for 'prints_nothing docker ps -aq --filter "name=^mathesar_(db|service)$"' 600 "another Mathesar stack on this engine to go" ||
		fail "another Mathesar stack (containers mathesar_db/mathesar_service) runs on this engine"
}

# assert_https_session BASE ADMIN_PASSWORD: over HTTPS, as a browser: the login page, the form
# login, the home page, and the session and CSRF cookies marked Secure.
assert_https_session() {
	assert_login_page "$1"
	assert_login "$1" admin "$2"
	assert_home_page "$1" admin "$2"
	local cookies
	cookies=$(MATHESAR_PASSWORD=$2 mathesar_client cookies "$1" admin) || fail "no cookies from a login at $1"
	jq -e '.sessionid.secure and .csrftoken.secure' <<<"$cookies" >/dev/null ||
		fail "the session and CSRF cookies at $1 are not both Secure: $cookies"
}

# add_user BASE ADMIN_PASSWORD NAME PASSWORD: NAME added by the admin through the API (no superuser),
# then logged in with the form.
add_user() {
	mathesar_rpc "$1" admin "$2" users.add "$(jq -cn --arg n "$3" --arg p "$4" \
		'{user_def: {username: $n, email: ($n + "@example.com"), password: $p, is_superuser: false}}')" >/dev/null ||
		fail "users.add $3 failed"
	assert_login "$1" "$3" "$4"
}

# assert_login BASE USER PASSWORD: the form login succeeds; assert_login_refused: it is refused.
assert_login() {
	MATHESAR_PASSWORD=$3 mathesar_client login "$1" "$2" || fail "login of $2 at $1 failed"
}
assert_login_refused() {
	local rc=0
	MATHESAR_PASSWORD=$3 mathesar_client login "$1" "$2" 2>/dev/null || rc=$?
	assert_eq 3 "$rc" "exit status of a login of $2 with a wrong password (3: refused)"
}

# stack_containers: ids of the stack containers (compose project "mathesar", or named mathesar_*)
# that belong to this test bed: they mount something under $E2E_WORK_ROOT (the data dirs), or were
# created after a test host that still exists (some mount nothing there).
# Containers others run on the same engine are left alone.
stack_containers() {
	local since
	since=$(docker ps -aq --filter "label=$E2E_LABEL=1" | xargs -r docker inspect -f '{{.Created}}' 2>/dev/null |
		sort | head -n 1)
	[[ -n $since ]] || since=none
	{
		docker ps -aq --filter "label=com.docker.compose.project=$E2E_STACK_PROJECT"
		docker ps -aq --filter "name=^mathesar_"
	} | sort -u | xargs -r docker inspect -f '{{.Id}} {{.Created}} {{range .Mounts}}{{.Source}} {{end}}' 2>/dev/null |
		awk -v since="$since" -v root="$E2E_WORK_ROOT/" '{
			ours = (since != "none" && $2 >= since)
			for (i = 3; i <= NF; i++) if (index($i, root) == 1) ours = 1
			if (ours) print substr($1, 1, 12)
		}'
}

# stack_foreign: names of stack containers (project "mathesar" or mathesar_*) that are not the
# test bed's (nothing mounted under $E2E_WORK_ROOT): someone else's stack on the same engine.
stack_foreign() {
	{
		docker ps -aq --filter "label=com.docker.compose.project=$E2E_STACK_PROJECT"
		docker ps -aq --filter "name=^mathesar_"
	} | sort -u | xargs -r docker inspect -f '{{.Name}} {{range .Mounts}}{{.Source}} {{end}}' 2>/dev/null |
		awk -v root="$E2E_WORK_ROOT/" '{
			ours = 0
			for (i = 2; i <= NF; i++) if (index($i, root) == 1) ours = 1
			if (!ours) print substr($1, 2)
		}'
}

# stack_diagnose: one line per stack container that is not running and healthy:
# "NAME STATUS: last line of its log", to say in a failure which container broke and why.
stack_diagnose() {
	local id line
	for id in $(stack_containers); do
		line=$(docker inspect -f '{{.Name}} {{.State.Status}}{{if .State.Health}}/{{.State.Health.Status}}{{end}}{{if not .State.Running}} (exit {{.State.ExitCode}}){{end}}' "$id" 2>/dev/null) || continue
		[[ $line == *" running/healthy" || $line == *" running" ]] && continue
		printf '%s: %s\n' "${line#/}" "$(docker logs --tail 1 "$id" 2>&1 | tail -n 1)"
	done
}

# stack_remove: removes the stack's containers (and their anonymous volumes) and the project's
# networks that are no longer used. Named volumes are never removed.
stack_remove() {
	local -a ids
	mapfile -t ids < <(stack_containers)
	((${#ids[@]} == 0)) || docker rm -f -v "${ids[@]}" >/dev/null 2>&1 || true
	mapfile -t ids < <(docker network ls -q --filter "label=com.docker.compose.project=$E2E_STACK_PROJECT")
	local id
	for id in "${ids[@]}"; do # in use (someone else's): refused, and that is right
		docker network rm "$id" >/dev/null 2>&1 || true
	done
}

# unit_host: a host with this tree's mathesarctl (debug build) and unit installed, no package, its
# /etc/mathesar listed on failure. A stack someone runs by hand on this engine would share the
# fixed container names: it waits for that to go first.
unit_host() {
	no_other_stack
	host_start "$E2E_HOST_IMAGE_DEFAULT"
	host_copy "$E2E_BIN" /usr/bin/mathesarctl
	host_copy "$REPO_ROOT/systemd/mathesar.service" /usr/lib/systemd/system/mathesar.service
	config_dir /etc/mathesar
}

# configure_bundled: `mathesarctl configure` in the host (bundled database) with the bed's data directory, two free ports
# (set as http_port and db_port) and an admin e-mail; the generated database and admin passwords
# (db_password) are registered as secrets.
configure_bundled() {
	http_port=$(free_port)
	db_port=$(free_port)
	host_run env MATHESAR_DATA_DIR="$E2E_DATA_DIR" MATHESAR_HTTP_PORT="$http_port" MATHESAR_DB_PORT="$db_port" \
		MATHESAR_ADMIN_EMAIL=admin@example.com \
		mathesarctl configure --non-interactive --no-start >&2 || fail "configure failed"
	db_password=$(host_sh 'sed -n "s/^MATHESAR_DB_PASSWORD=\"\(.*\)\"$/\1/p" /etc/mathesar/.env')
	[[ -n $db_password ]] || fail "configure wrote no MATHESAR_DB_PASSWORD into /etc/mathesar/.env"
	secret "$db_password"
	secret "$(host_exec cat /etc/mathesar/initial-admin-password 2>/dev/null || true)"
}

# config_dir PATH: tells the log collector about a configuration directory to list on failure
# (default /etc/mathesar). .env files in it are saved with their values redacted.
config_dir() { printf '%s\n' "$1" >>"$E2E_WORK/config-dirs"; }

# --- .env values --------------------------------------------------------------------------------

# dotenv_quote VALUE: VALUE written for a .env line (KEY=<this>) in the form proven with Compose
# 2.26 both for ${VAR} interpolation and for env_file (see README.md): in double quotes, with
# backslash, double quote and dollar each preceded by a backslash; all else (', `, #, spaces,
# non-ASCII) as it is. A value with a line break or NUL cannot be written: fails.
dotenv_quote() {
	local v=$1
	[[ $v != *$'\n'* && $v != *$'\r'* ]] || fail "dotenv_quote: a value with a line break cannot go into a .env"
	v=${v//\\/\\\\}
	v=${v//\"/\\\"}
	v=${v//\$/\\\$}
	printf '"%s"' "$v"
}

# --- the test stack of the bed's own scenarios ------------------------------------------------
# tests/e2e/fixtures/test-stack.yml: the database and Mathesar images under their
# packaged names, bind mounts under $E2E_DATA_DIR, project "mathesar", config dir /etc/mathesar.

# test_stack_write PASSWORD [DB_PORT]: writes /etc/mathesar/{docker-compose.yml,.env} in the host.
test_stack_write() {
	local password=$1 port=${2:-$(free_port)}
	secret "$password"
	config_dir /etc/mathesar
	host_exec mkdir -p /etc/mathesar
	host_copy "$E2E_DIR/fixtures/test-stack.yml" /etc/mathesar/docker-compose.yml
	{
		echo "DB_IMAGE=$(image_of db)"
		echo "SERVICE_IMAGE=$(image_of service)"
		echo "E2E_DATA_DIR=$E2E_DATA_DIR"
		echo "DB_PORT=$port"
		echo "POSTGRES_DB=mathesar_django"
		echo "POSTGRES_USER=mathesar"
		echo "POSTGRES_PASSWORD=$(dotenv_quote "$password")"
	} | host_exec sh -c 'umask 077 && cat >/etc/mathesar/.env'
}

# test_stack_up: `docker compose up -d --wait` in /etc/mathesar inside the host (3 min at most).
test_stack_up() {
	log "docker compose up -d --wait (inside the host)"
	if ! host_exec timeout 180 docker compose --project-directory /etc/mathesar up -d --wait >&2; then
		fail "the test stack did not become healthy: $(stack_diagnose | paste -sd ';' -)"
	fi
}

# shellcheck source=tests/e2e/engines.sh
source "$E2E_DIR/engines.sh"

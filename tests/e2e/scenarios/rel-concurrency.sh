# shellcheck shell=bash
# e2e-needs: host, stack
# e2e-lane: seeded
# Concurrency (R3): 10 `mathesarctl configure` runs started at once inside the host, each with its
# own HTTP port, twice: on a host with no configuration yet (default lock wait: all must succeed,
# one after the other) and on the configured host with `--lock-timeout 0` (each succeeds or gives
# up with the lock-busy code 7). Every exit status is 0 or 7; exactly one run of the first round
# found no configuration (generated the secrets); the final .env is one complete configuration:
# MATHESAR_HTTP_PORT equals HTTP_PORT and is one of the 10, every line is well formed, SECRET_KEY
# is the one of the first round, and configure with that port again finds nothing to change.
host_start
host_copy "$E2E_BIN" /usr/bin/mathesarctl
config_dir /etc/mathesar

ports=()
while ((${#ports[@]} < 11)); do
	p=$(free_port)
	[[ " ${ports[*]} " == *" $p "* ]] || ports+=("$p")
done
db_port=${ports[10]}
ports=("${ports[@]:0:10}")

# round LOCK_TIMEOUT: starts the 10 runs at once; prints "rc waited wrote generated" per run.
round() {
	host_exec bash -s -- "$1" "$db_port" "${ports[@]}" <<'HOST'
set -euo pipefail
timeout=$1 db_port=$2
shift 2
dir=$(mktemp -d)
i=0
for port in "$@"; do
	i=$((i + 1))
	(
		rc=0
		env MATHESAR_HTTP_PORT="$port" MATHESAR_DB_PORT="$db_port" MATHESAR_DATA_DIR=/var/lib/mathesar \
			mathesarctl configure --non-interactive --no-start --lock-timeout "$timeout" >"$dir/$i.out" 2>&1 || rc=$?
		echo "$rc" >"$dir/$i.rc"
	) &
done
wait
for ((j = 1; j <= i; j++)); do
	printf '%s %s %s %s\n' "$(cat "$dir/$j.rc")" \
		"$(grep -c 'Another mathesarctl run holds the configuration lock' "$dir/$j.out" || true)" \
		"$(grep -c '^mathesar: configuration written' "$dir/$j.out" || true)" \
		"$(grep -c '^  answer db-password' "$dir/$j.out" || true)"
	[[ $(cat "$dir/$j.rc") == [07] ]] || sed 's/^/  | /' "$dir/$j.out" >&2
done
rm -rf "$dir"
HOST
}

# check_final: the .env is one complete configuration of one of the 10 ports; prints the port.
check_final() {
	local env port bad
	env=$(host_exec cat /etc/mathesar/.env)
	port=$(sed -n 's/^MATHESAR_HTTP_PORT="\(.*\)"$/\1/p' <<<"$env")
	[[ " ${ports[*]} " == *" $port "* ]] || fail "the final http-port '$port' is none of the 10"
	bad=$(grep -Ev '^(#.*|[A-Z_][A-Z0-9_]*="([^"\\]|\\.)*")?$' <<<"$env" | head -n 3 || true)
	[[ -z $bad ]] || fail "malformed lines in the final .env: $bad"
	[[ $(grep -c '^[A-Z]' <<<"$env") == "$keys" ]] || fail "the final .env has $(grep -c '^[A-Z]' <<<"$env") keys, not $keys"
	out=$(host_exec env MATHESAR_HTTP_PORT="$port" MATHESAR_DB_PORT="$db_port" MATHESAR_DATA_DIR=/var/lib/mathesar \
		mathesarctl configure --non-interactive --no-start 2>&1) || fail "configure after the round failed: $out"
	[[ $out == *"no changes"* ]] || fail "the final files are not one complete configuration for port $port: $out"
	printf '%s\n' "$port"
}

# Reference: the number of keys a complete .env has (on a scratch directory, then removed).
host_exec env MATHESAR_DATA_DIR=/var/lib/mathesar MATHESAR_DB_PORT="$db_port" \
	mathesarctl configure --non-interactive --no-start --config-dir /root/reference >/dev/null
keys=$(host_exec grep -c '^[A-Z]' /root/reference/.env)
host_exec rm -rf /root/reference /etc/default/mathesar

log "round 1: 10 runs at once on an unconfigured host (lock wait 120 s)"
t0=$EPOCHREALTIME
results=$(round 120)
secs=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
printf '%s\n' "$results" >&2
bad=$(awk '$1 != 0' <<<"$results")
[[ -z $bad ]] || fail "round 1: runs that did not exit 0 (rc waited wrote generated): $(paste -sd';' <<<"$bad")"
assert_eq 1 "$(awk '$4 > 0' <<<"$results" | wc -l)" "round 1: runs that found no configuration and generated the secrets"
waited=$(awk '$2 > 0' <<<"$results" | wc -l)
((waited >= 1)) || fail "round 1: no run waited for the lock: were they really simultaneous?"
wrote=$(awk '$3 > 0' <<<"$results" | wc -l)
port1=$(check_final)
secret_key=$(host_sh 'sed -n "s/^SECRET_KEY=\"\(.*\)\"$/\1/p" /etc/mathesar/.env')
secret "$secret_key"
log "R3 round 1: 10 of 10 exited 0 in $secs s, $waited waited for the lock, $wrote wrote; final http-port $port1"

log "round 2: 10 runs at once on the configured host (--lock-timeout 0)"
results=$(round 0)
printf '%s\n' "$results" >&2
bad=$(awk '$1 != 0 && $1 != 7' <<<"$results")
[[ -z $bad ]] || fail "round 2: runs that exited neither 0 nor 7 (rc waited wrote generated): $(paste -sd';' <<<"$bad")"
ok=$(awk '$1 == 0' <<<"$results" | wc -l)
busy=$(awk '$1 == 7' <<<"$results" | wc -l)
((ok >= 1)) || fail "round 2: no run succeeded"
assert_eq 0 "$(awk '$4 > 0' <<<"$results" | wc -l)" "round 2: runs that generated new secrets"
port2=$(check_final)
assert_eq "$(sha256_of "$secret_key")" \
	"$(host_sh 'sed -n "s/^SECRET_KEY=\"\(.*\)\"$/\1/p" /etc/mathesar/.env' | tr -d '\n' | sha256sum | cut -d' ' -f1)" \
	"SHA-256 of SECRET_KEY after round 2"
log "R3 round 2: $ok exited 0, $busy exited 7 (lock busy), 0 other; final http-port $port2; one complete configuration after each round"

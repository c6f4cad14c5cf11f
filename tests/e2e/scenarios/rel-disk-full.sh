# shellcheck shell=bash
# e2e-needs: host, stack
# e2e-lane: seeded
# shellcheck disable=SC2016 # the host's shell expands $1 and the like
# A full disk during a write (R4): the configuration directory is a small tmpfs in the host, filled
# up; `mathesarctl configure` with a changed answer then cannot write. It must fail with the I/O
# exit code 6 and a message naming the file, leave every file as it was (SHA-256) and no temporary
# file behind; once space is freed, the same run succeeds. Figure: runs refused, files unchanged.
host_start
host_copy "$E2E_BIN" /usr/bin/mathesarctl
dir=/srv/mathesar-conf
config_dir "$dir"
host_exec mkdir -p "$dir"
host_exec mount -t tmpfs -o size=256k,mode=0700 tmpfs "$dir"
db_port=$(free_port)
configure() { # PORT: configure towards http-port PORT; output on stdout, exit status kept
	host_exec env MATHESAR_HTTP_PORT="$1" MATHESAR_DB_PORT="$db_port" MATHESAR_DATA_DIR=/var/lib/mathesar \
		mathesarctl configure --non-interactive --no-start --config-dir "$dir" 2>&1
}
snapshot() { host_sh 'cd "$1" && find . -type f ! -name filler -printf "%p %m\n" | sort && sha256sum .env docker-compose.yml' "$dir"; }

first=$(free_port)
out=$(configure "$first") || fail "the first configure failed: $out"
before=$(snapshot)

# Fill the file system, then try three changes (each a different port).
host_sh 'dd if=/dev/zero of="$1/filler" bs=4k 2>/dev/null || true; sync' "$dir"
[[ $(host_exec df --output=avail -k "$dir" | tail -n 1 | tr -d ' ') == 0 ]] || fail "the tmpfs is not full"
refused=0
for _ in 1 2 3; do
	rc=0
	out=$(configure "$(free_port)") || rc=$?
	assert_eq 6 "$rc" "exit status of configure on a full disk (output: $out)"
	[[ $out == *"$dir/"* ]] || fail "the message does not name the file that could not be written: $out"
	assert_eq "$before" "$(snapshot)" "the configuration after a write refused for lack of space"
	if host_sh 'ls -A "$1" | grep -q "\.tmp"' "$dir"; then fail "temporary files left: $(host_exec ls -A "$dir")"; fi
	refused=$((refused + 1))
done
log "on a full disk: $(grep -m1 -i 'error' <<<"$out" || tail -n 1 <<<"$out")"

# Space again: the run succeeds and writes the new port.
host_exec rm "$dir/filler"
port=$(free_port)
out=$(configure "$port") || fail "configure failed once space was freed: $out"
host_sh 'grep -q "^MATHESAR_HTTP_PORT=\"$2\"$" "$1/.env"' "$dir" "$port" || fail "the new port was not written"
log "R4 full disk: $refused of $refused runs refused with exit 6, files unchanged, no temporary file; the run after freeing space succeeded"

# shellcheck shell=bash
# e2e-needs: host, stack, registry
# shellcheck disable=SC2016 # ${Status} is dpkg-query's
# e2e-lane: own-engine
# Every way the first pull fails, each explained with the image, the registry and the command to
# retry (exit 10), and a package that stays installed and configured:
#   1. registry unreachable, during `apt-get install` (apt succeeds; nothing started);
#   2. an image or tag the registry does not have;
#   3. a registry that requires a login, no credentials (by `mathesarctl images pull` and by
#      `systemctl start`: journal and `systemctl status` say it);
#   4. the same registry with credentials it refuses;
#   5. a registry that stops sending mid-download (given up after MATHESAR_PULL_STALL_SECONDS);
#   6. a registry so slow that the unit's start timeout (20 s here) would pass: the unit keeps
#      starting while bytes arrive, and the journal and `systemctl status` say how far and how
#      long, long before;
#   7. the Docker data root filling up (the host's engine on a 300 MB tmpfs).
# shellcheck source=pkg-common.inc
source "$E2E_DIR/scenarios/pkg-common.inc"
password=$(registry_start)
registry_push db service caddy
E2E_HOST_ENGINE=$(engine_start fail 300)
export E2E_HOST_ENGINE
pkg_host

# set_registry PREFIX: the image-registry answer changed the way an administrator would.
set_registry() {
	host_exec env MATHESAR_IMAGE_REGISTRY="$1" mathesarctl configure --non-interactive --no-start >/dev/null 2>&1 ||
		fail "mathesarctl configure with image-registry $1 failed"
}

# expect_pull_failure WHAT PREFIX PATTERN [ENV...]: `mathesarctl images pull` ends with 10 and a
# message naming an image under PREFIX (an image-registry answer), its registry (PREFIX up to the
# first /), PATTERN and the retry command.
expect_pull_failure() {
	local what=$1 prefix=$2 pattern=$3 rc=0 out reg
	shift 3
	reg=${prefix%%/*}
	out=$(host_exec env "$@" mathesarctl images pull 2>&1) || rc=$?
	printf '%s\n' "$out" >&2
	assert_eq 10 "$rc" "$what: exit status of mathesarctl images pull"
	grep -qE "cannot pull ${prefix//./\\.}/[^ ]+ from ${reg//./\\.}: " <<<"$out" || fail "$what: the message does not name the image and the registry: $out"
	grep -qE "$pattern" <<<"$out" || fail "$what: the message does not say /$pattern/: $out"
	grep -qF 'mathesarctl images pull' <<<"$out" || fail "$what: the message names no command to retry: $out"
}

# still_installed WHAT: the package installed and configured, the configuration intact.
still_installed() {
	assert_eq "install ok installed" "$(host_exec dpkg-query -W -f='${Status}' mathesar)" "$1: package state"
	host_exec test -s /etc/mathesar/.env || fail "$1: /etc/mathesar/.env is gone"
	assert_file_mode /etc/mathesar/.env 600 root:root
}

# 1. Unreachable, during apt-get install.
dead=127.0.0.1:$(free_port)
preseed "mathesar/data-dir string $E2E_DATA_DIR" \
	"mathesar/http-port string $http_port" \
	"mathesar/db-port string $db_port" \
	"mathesar/image-registry string $dead"
apt_install "$deb" 2>"$E2E_WORK/apt.log"
cat "$E2E_WORK/apt.log" >&2
grep -qF "cannot pull $dead/" "$E2E_WORK/apt.log" || fail "apt's output does not say the pull from $dead failed"
grep -q "the registry cannot be reached" "$E2E_WORK/apt.log" || fail "apt's output does not say the registry cannot be reached"
grep -q "not started" "$E2E_WORK/apt.log" || fail "apt's output does not say the service was not started"
still_installed unreachable
if unit_active; then fail "the service was started without its images"; fi
expect_pull_failure unreachable "$dead" 'cannot be reached'

# 2. An image the registry does not have.
set_registry "127.0.0.1:$E2E_REGISTRY_PORT/nosuch"
expect_pull_failure missing "127.0.0.1:$E2E_REGISTRY_PORT/nosuch" 'no such image or tag'

# 3. Authentication required, no credentials: the command and the unit.
auth=127.0.0.1:$E2E_REGISTRY_AUTH_PORT
set_registry "$auth"
expect_pull_failure "no credentials" "$auth" "requires a login and there are no credentials for $auth \\(none in /root/.docker/config.json\\).*docker login $auth"
host_exec systemctl reset-failed mathesar.service 2>/dev/null || true
if host_exec systemctl start mathesar.service 2>/dev/null; then fail "the unit started without credentials for $auth"; fi
host_exec journalctl -u mathesar.service --no-pager -o cat | grep -q "docker login $auth" ||
	fail "the journal does not tell to run docker login $auth"
status=$(host_exec systemctl status --no-pager -l -n 20 mathesar.service || true) # exit 3: not running
grep -q "cannot pull $auth/" <<<"$status" || fail "systemctl status does not say the pull failed: $status"
host_exec systemctl stop mathesar.service # cancels the automatic restart (Restart=on-failure)
host_exec systemctl reset-failed mathesar.service 2>/dev/null || true

# 4. Credentials the registry refuses (root's config.json with a wrong password).
host_exec mkdir -p /root/.docker
printf '{"auths":{"%s":{"auth":"%s"}}}\n' "$auth" "$(printf '%s:wrong-%s' "$E2E_REGISTRY_USER" "$password" | base64 -w0)" |
	host_exec sh -c 'umask 077; cat >/root/.docker/config.json'
expect_pull_failure "refused credentials" "$auth" 'refused the credentials of credentials present in /root/.docker/config.json'
host_exec rm -f /root/.docker/config.json

# 5. A registry that stops sending after 2 MB: given up after the stall time.
stall_port=$(free_port)
slow_registry_start "$stall_port" 100000 2000000
set_registry "127.0.0.1:$stall_port"
t0=$SECONDS
expect_pull_failure stalled "127.0.0.1:$stall_port" 'no progress for 10 s' MATHESAR_PULL_STALL_SECONDS=10
stalled_after=$((SECONDS - t0))
((stalled_after < 60)) || fail "the stalled pull took $stalled_after s to give up (stall time 10 s)"
slow_registry_stop "$stall_port"

# 6. A slow registry (300 KB/s) and a 10 s start timeout: still starting after 20 s, the journal
# and the status say how far it is and how long it will take.
slow_port=$(free_port)
slow_registry_start "$slow_port" 300
set_registry "127.0.0.1:$slow_port"
host_exec mkdir -p /etc/systemd/system/mathesar.service.d
printf '[Service]\nTimeoutStartSec=10s\n' | host_exec sh -c 'cat >/etc/systemd/system/mathesar.service.d/e2e-timeout.conf'
host_exec systemctl daemon-reload
since=$(host_exec date '+%Y-%m-%d %H:%M:%S')
host_exec systemctl start --no-block mathesar.service
sleep 20
state=$(host_exec systemctl is-active mathesar.service || true)
journal=$(host_exec journalctl -u mathesar.service --since "$since" --no-pager -o cat)
printf '%s\n' "$journal" >&2
assert_eq activating "$state" "the unit's state after 20 s of a slow pull with a 10 s start timeout"
grep -qE "pulling 127\.0\.0\.1:$slow_port/[^:]+:[^:]+: [0-9.]+ MB of [0-9.]+ MB \([0-9]+%\), [0-9.]+ MB/s, about [0-9]+ (s|min) left" <<<"$journal" ||
	fail "the journal has no progress line with the rate and the time left"
status=$(host_exec systemctl status --no-pager mathesar.service || true) # exit 3 while activating
grep -qE "Status: \"pulling .* MB of" <<<"$status" || fail "systemctl status does not show the pull's progress: $status"
host_exec systemctl stop mathesar.service
host_exec rm /etc/systemd/system/mathesar.service.d/e2e-timeout.conf
host_exec systemctl daemon-reload
slow_registry_stop "$slow_port"

# 7. The data root fills up (300 MB; the images need more).
set_registry "127.0.0.1:$E2E_REGISTRY_PORT"
expect_pull_failure "disk full" "127.0.0.1:$E2E_REGISTRY_PORT" 'disk of the Docker data root is full'
still_installed "disk full"
if host_exec grep -rqF -- "$password" /etc/mathesar /var/log /var/cache/debconf 2>/dev/null; then
	fail "the registry password is in a file of the host"
fi
log "unreachable (during apt), missing tag, no credentials (command, journal, status), refused credentials, stalled (given up in $stalled_after s), slow past the start timeout (still starting, progress in journal and status), disk full: each named image, registry and retry; package installed"

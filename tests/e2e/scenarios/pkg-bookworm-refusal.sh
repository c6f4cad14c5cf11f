# shellcheck shell=bash
# e2e-needs: bookworm
# e2e-lane: no-stack
# shellcheck disable=SC2016,SC2119 # literal ${...} in single quotes; helpers take optional arguments
# On Debian 12 (bookworm), whose docker-compose is 1.29, apt refuses the package: the Depends on
# Compose v2 (docker-compose >= 2.10 | docker-compose-plugin >= 2.10) cannot be met, and nothing
# is installed or started. Compose is the only reason: the C library is not (the binary is linked
# against bookworm's glibc, scripts/build-packages), and the packaged binary runs there.
# shellcheck source=pkg-common.inc
source "$E2E_DIR/scenarios/pkg-common.inc"
deb=$(pkg_deb)
host_start mathesar-e2e/host-bookworm
host_copy "$deb" /root/
name=/root/$(basename "$deb")

if out=$(host_exec env DEBIAN_FRONTEND=noninteractive apt-get install -y "$name" 2>&1); then
	fail "apt installed the package on bookworm"
fi
printf '%s\n' "$out" >&2
[[ $out == *"docker-compose (>= 2.10)"* ]] || fail "apt's refusal does not name docker-compose (>= 2.10)"
[[ $out != *libc6* ]] || fail "apt refused the package for its libc6 dependency too"
host_exec dpkg-deb -x "$name" /root/unpacked
version=$(host_exec /root/unpacked/usr/bin/mathesarctl --version 2>&1) ||
	fail "the packaged mathesarctl does not run on bookworm: $version"
log "the packaged binary runs on bookworm: $version"
if host_exec dpkg-query -W -f='${Status}' mathesar 2>/dev/null | grep -q installed; then
	fail "the package is installed after apt refused it"
fi

if unit_active; then
	fail "mathesar.service runs on bookworm"
fi
log "bookworm: apt refused the package for its Compose v2 dependency only"

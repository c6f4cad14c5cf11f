# shellcheck shell=bash
# e2e-needs: bookworm
# e2e-lane: no-stack
# The bookworm host (the negative case for the package) has Compose 1.29 only: `docker-compose`
# answers 1.29 and `docker compose` does not exist.
host_start mathesar-e2e/host-bookworm

version=$(host_exec docker-compose version --short) || fail "docker-compose is missing in the bookworm host"
[[ $version == 1.29.* ]] || fail "docker-compose in the bookworm host is $version, not 1.29"
if host_exec docker compose version >/dev/null 2>&1; then
	fail "docker compose (v2) exists in the bookworm host"
fi
host_exec docker version >/dev/null || fail "docker in the bookworm host does not reach the outer engine"
log "bookworm host: docker-compose $version, no docker compose"

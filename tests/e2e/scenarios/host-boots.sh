# shellcheck shell=bash
# e2e-needs: host, stack
# e2e-lane: seeded
# The trixie host boots systemd to "running" with no failed unit, and Docker inside it answers
# through the bridge unit (the outer engine); stopping docker.service really cuts it off.
host_start

failed=$(host_exec systemctl list-units --failed --plain --no-legend | awk '{ print $1 }' | xargs)
[[ -z $failed ]] || fail "failed units in the host: $failed"
assert_eq running "$(host_exec systemctl is-system-running)" "systemd state of the host"
assert_eq active "$(host_exec systemctl is-active docker.service)" "docker.service in the host"

server=$(host_exec docker version --format '{{.Server.Version}}') ||
	fail "docker version inside the host does not reach the outer engine"
assert_eq "$(docker version --format '{{.Server.Version}}')" "$server" "engine version seen from the host"
compose=$(host_exec docker compose version --short) || fail "docker compose (v2) is missing in the host"
[[ $compose == 2.* ]] || fail "docker compose in the host is $compose, not v2"
log "host: Docker Engine $server through the bridge, Compose $compose"

# The host shares the outer network: a port published by the outer engine answers inside.
port=$(free_port)
docker run -d --rm --name mathesar-e2e-probe --label mathesar-e2e=1 -p "127.0.0.1:$port:8080" \
	"$(image_of caddy)" caddy file-server --browse --root /etc --listen :8080 >/dev/null
wait_for "host_exec curl -fsS -o /dev/null http://127.0.0.1:$port/" 20 "a published port inside the host" ||
	fail "a port published by the outer engine does not answer inside the host (host network)"
docker rm -f mathesar-e2e-probe >/dev/null

host_exec systemctl stop docker.service
if host_exec docker version >/dev/null 2>&1; then
	fail "docker still answers in the host after systemctl stop docker"
fi
host_exec systemctl start docker.service
host_exec docker version >/dev/null || fail "docker does not answer again after systemctl start docker"

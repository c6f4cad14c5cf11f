# shellcheck shell=bash
# e2e-needs: host, stack, registry
# shellcheck disable=SC2016 # the host's shell expands $1
# e2e-lane: own-engine
# A private registry with authentication (htpasswd on the bed's registry) and `docker login` done
# by root: `dpkg-reconfigure` pointing the package at it pulls every image with the credentials
# (progress in its output) and the stack moves to them; the hardened unit reads them too when it
# pulls a missing image at `systemctl start`, and `mathesarctl doctor` names the registry and
# where its credentials are, never the credentials (neither in its output, the support bundle,
# the journal nor the configuration).
# shellcheck source=pkg-common.inc
source "$E2E_DIR/scenarios/pkg-common.inc"
password=$(registry_start)
registry_push db service caddy
auth=127.0.0.1:$E2E_REGISTRY_AUTH_PORT
E2E_HOST_ENGINE=$(engine_start auth)
export E2E_HOST_ENGINE
pkg_host
encoded=$(printf '%s:%s' "$E2E_REGISTRY_USER" "$password" | base64 -w0)
secret "$encoded"

# Installed from the anonymous registry first.
preseed "mathesar/data-dir string $E2E_DATA_DIR" \
	"mathesar/http-port string $http_port" \
	"mathesar/db-port string $db_port" \
	"mathesar/image-registry string 127.0.0.1:$E2E_REGISTRY_PORT"
apt_install "$deb" 2>"$E2E_WORK/apt.log"
wait_up "$http_port"
base="http://127.0.0.1:$http_port/"

# Then root logs in to the private registry and dpkg-reconfigure points the package at it: the
# images are pulled with the credentials, with each image's progress in dpkg-reconfigure's output.
printf '%s' "$password" | host_exec docker login "$auth" -u "$E2E_REGISTRY_USER" --password-stdin >&2 ||
	fail "docker login $auth failed"
host_exec test -s /root/.docker/config.json || fail "docker login wrote no /root/.docker/config.json"
preseed "mathesar/image-registry string $auth"
host_exec env DEBIAN_FRONTEND=noninteractive dpkg-reconfigure mathesar >"$E2E_WORK/reconfigure.log" 2>&1 ||
	fail "dpkg-reconfigure failed: $(tail -n 5 "$E2E_WORK/reconfigure.log")"
cat "$E2E_WORK/reconfigure.log" >&2
for key in db service caddy; do
	image=$auth/$(image_of "$key")
	grep -qF "pulling $image from $auth with credentials" "$E2E_WORK/reconfigure.log" ||
		fail "dpkg-reconfigure's output does not say $image was pulled with credentials"
	grep -qF "pulled $image (" "$E2E_WORK/reconfigure.log" || fail "dpkg-reconfigure's output has no end line for $image"
done
service=$auth/$(image_of service)
wait_up "$http_port"
assert_eq "$service" "$(engine_docker auth inspect -f '{{.Config.Image}}' mathesar_service)" "the service's image after dpkg-reconfigure"
assert_login "$base" admin "$(initial_admin_password)"

# The hardened unit pulls with root's credentials.
host_exec systemctl stop mathesar.service
remove_containers auth service
engine_docker auth image rm "$service" >/dev/null || fail "could not remove $service from the host's engine"
since=$(host_exec date '+%Y-%m-%d %H:%M:%S')
host_exec systemctl start mathesar.service || fail "the unit could not start (pull with credentials): $(host_exec journalctl -u mathesar.service --since "$since" --no-pager -o cat | tail -n 5)"
journal=$(host_exec journalctl -u mathesar.service --since "$since" --no-pager -o cat)
printf '%s\n' "$journal" >&2
grep -qF "pulling $service from $auth with credentials" <<<"$journal" || fail "the unit did not pull $service with credentials"
grep -qF "pulled $service (" <<<"$journal" || fail "the unit did not finish pulling $service"
wait_up "$http_port"
assert_login "$base" admin "$(initial_admin_password)"

# doctor: which registry, that credentials are there, never them.
out=$(host_exec mathesarctl doctor --bundle /root/support.tar.gz 2>&1) || fail "mathesarctl doctor failed: $out"
printf '%s\n' "$out" >&2
grep -qF "registry $auth: credentials present in /root/.docker/config.json" <<<"$out" ||
	fail "doctor does not say the credentials for $auth are present"
for s in "$password" "$encoded"; do
	if grep -qF -- "$s" <<<"$out"; then fail "doctor printed the registry credentials"; fi
	if host_exec sh -c 'mkdir -p /root/b && tar -xzf /root/support.tar.gz -C /root/b && grep -rqF -- "$1" /root/b' sh "$s"; then
		fail "the support bundle holds the registry credentials"
	fi
	if host_exec sh -c 'journalctl --no-pager | grep -qF -- "$1" || grep -rqF -- "$1" /etc/mathesar /var/cache/debconf /var/log' sh "$s"; then
		fail "the registry credentials are in the journal or a file outside /root/.docker"
	fi
done
log "private registry $auth: dpkg-reconfigure and the hardened unit pulled with root's docker login; doctor names the registry and the credentials' file, never them"

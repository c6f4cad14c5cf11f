# shellcheck shell=bash
# e2e-needs: host, stack
# Behind a proxy that terminates TLS: the package installed with `domain`, `trusted-proxies`
# (127.0.0.1: a proxy on this machine) and `http-bind` 127.0.0.1 publishes plain HTTP on the
# loopback address only (no HTTPS port, no certificate requested); a second, real proxy in front
# (Debian's Caddy, image mathesar/mathesar-caddy, on the machine's network with a certificate from
# the bed's CA) terminates TLS and forwards to it. Through that proxy Mathesar takes the requests as
# HTTPS (X-Forwarded-Proto trusted): the form login passes Django's CSRF origin check (the failure
# "Origin checking failed ... does not match any trusted origins" otherwise), the cookies are
# Secure, and the login address the package shows is https://DOMAIN/.
# shellcheck source=pkg-common.inc
source "$E2E_DIR/scenarios/pkg-common.inc"
# shellcheck source=https-common.inc
source "$E2E_DIR/scenarios/https-common.inc"

pkg_host
https_port=$(free_port) # the proxy in front
domain=$HTTPS_DOMAIN
ca=$E2E_WORK/ca
bed_ca "$ca"
# shellcheck disable=SC2016 # expanded by the host's shell
host_sh 'printf "127.0.0.1 %s\n" "$1" >>/etc/hosts' "$domain"
preseed_bed "mathesar/domain string $domain" \
	"mathesar/trusted-proxies string 127.0.0.1" \
	"mathesar/http-bind string 127.0.0.1"
apt_install "$(pkg_deb)"
wait_for unit_active 300 "mathesar.service to be active" ||
	fail "mathesar.service is not active: $(host_exec systemctl is-active mathesar.service || true)"

proxy=$(docker ps -q --filter label=com.docker.compose.service=caddy-reverse-proxy)
ports=$(docker port "$proxy" | sort | paste -sd ' ' -)
assert_eq "$http_port/tcp -> 127.0.0.1:$http_port" "$ports" "ports the bundled proxy publishes"
gw=$(docker0_address)
if curl -sS -o /dev/null --max-time 5 "http://$gw:$http_port/" 2>/dev/null; then
	fail "the bundled proxy answers on $gw:$http_port although http-bind is 127.0.0.1"
fi
[[ ! -d $E2E_DATA_DIR/caddy/data/caddy/acme && ! -d $E2E_DATA_DIR/caddy/data/caddy/certificates ]] ||
	fail "the bundled proxy requested a certificate although a proxy in front terminates TLS"

# The proxy in front: Debian's Caddy with the bed CA's certificate, TLS on its own port.
lb=$E2E_WORK/lb
mkdir -p "$lb"
bed_cert "$ca" "$lb/cert" 2 "DNS:$domain"
printf '%s\n' "{" "	admin off" "	auto_https off" "}" \
	"https://$domain:$https_port {" \
	"	tls /etc/lb/cert.pem /etc/lb/cert.key" \
	"	reverse_proxy 127.0.0.1:$http_port" "}" >"$lb/Caddyfile"
chmod 644 "$lb/Caddyfile" "$lb/cert.pem" "$lb/cert.key"
lb_container=mathesar-e2e-lb-$E2E_NAME
front_stop() {
	docker logs "$lb_container" >"$E2E_ARTIFACTS/front-proxy.log" 2>&1 || true
	docker rm -f "$lb_container" >/dev/null 2>&1 || true
}
trap front_stop EXIT
docker run -d --name "$lb_container" --label "$E2E_LABEL=1" --network host -v "$lb:/etc/lb:ro" \
	"$(image_of caddy)" caddy run --config /etc/lb/Caddyfile --adapter caddyfile >/dev/null ||
	fail "the proxy in front could not be started"
base=https://$domain:$https_port/
# shellcheck disable=SC2016 # evaluated by wait_for
wait_for 'https_curl -f -o /dev/null --cacert "$ca/ca.pem" "${base}auth/login/"' 60 "$base through the proxy in front" ||
	fail "$base does not answer through the proxy in front: $(docker logs --tail 5 "$lb_container" 2>&1 | paste -sd ';' -)"

export MATHESAR_CA=$ca/ca.pem MATHESAR_RESOLVE=$domain:$https_port:127.0.0.1
admin_pw=$(initial_admin_password)
assert_https_session "$base" "$admin_pw"
assert_user_db_works "$base" admin "$admin_pw"
status=$(host_exec mathesarctl status) || fail "mathesarctl status failed: $status"
grep -q "log in at https://$domain/\$" <<<"$status" || fail "the login address is not the proxy's https URL: $status"

log "behind a TLS-terminating proxy: plain HTTP on 127.0.0.1:$http_port only, no certificate requested; the HTTPS login through the proxy in front passes CSRF with Secure cookies; login at https://$domain/"

# shellcheck shell=bash
# e2e-needs: host, stack
# shellcheck disable=SC2119 # preseed_bed takes optional arguments
# dpkg-reconfigure moves an installation between the ways it is reached, and back: plain HTTP on
# an address -> a domain with your own certificate -> behind a proxy that terminates TLS ->
# plain HTTP again. Each step keeps the data (a table made through the API reads back the same)
# and recreates the proxy alone: the database and Mathesar containers keep their id and start
# time throughout.
# shellcheck source=pkg-common.inc
source "$E2E_DIR/scenarios/pkg-common.inc"
# shellcheck source=https-common.inc
source "$E2E_DIR/scenarios/https-common.inc"

https_host
ca=$E2E_WORK/ca
bed_ca "$ca"
host_tls_files own
# shellcheck disable=SC2016 # expanded by the host's shell
host_sh 'printf "127.0.0.1 %s\n" "$1" >>/etc/hosts' "$domain"

preseed_bed
apt_install "$deb"
wait_up "$http_port"
admin_pw=$(initial_admin_password)
plain=http://127.0.0.1:$http_port/
api_table_roundtrip "$plain" admin "$admin_pw" modes >/dev/null
app_state() { docker inspect -f '{{.Name}} {{.Id}} {{.State.StartedAt}}' mathesar_db mathesar_service; }
before=$(app_state)
proxy_id() { docker ps -q --no-trunc --filter label=com.docker.compose.service=caddy-reverse-proxy; }

reconfigure() { # WHAT PRESEED_LINE...
	local what=$1 old_proxy
	shift
	old_proxy=$(proxy_id)
	preseed "$@"
	log "dpkg-reconfigure mathesar: $what"
	host_exec env DEBIAN_FRONTEND=noninteractive dpkg-reconfigure mathesar >&2 || fail "dpkg-reconfigure ($what) failed"
	wait_for unit_active 120 "mathesar.service to be active" || fail "mathesar.service is not active after: $what"
	assert_eq "$before" "$(app_state)" "the database and Mathesar containers (id, start time) after: $what"
	[[ $(proxy_id) != "$old_proxy" ]] || fail "the proxy was not recreated for: $what"
}

# 1. Plain HTTP -> a domain with your own certificate.
reconfigure "plain HTTP -> own certificate" "mathesar/domain string $domain" "mathesar/https-port string $https_port" \
	"mathesar/tls-cert string /root/tls/cert.pem" "mathesar/tls-key string /root/tls/key.pem"
base=https://$domain:$https_port/
export MATHESAR_CA=$ca/ca.pem MATHESAR_RESOLVE=$domain:$https_port:127.0.0.1
# shellcheck disable=SC2016 # evaluated by wait_for
wait_for 'https_curl -f -o /dev/null --cacert "$ca/ca.pem" "${base}auth/login/"' 60 "$base" || fail "$base is not served"
assert_eq "row 1,row 2,row 3" "$(api_rows "$base" admin "$admin_pw" modes)" "rows read over HTTPS"
redirect=$(https_curl -o /dev/null -w '%{http_code} %{redirect_url}' "http://$domain:$http_port/")
assert_eq "308 $base" "$redirect" "redirect of http:// with the own certificate"

# 2. Own certificate -> behind a proxy that terminates TLS (plain HTTP on 127.0.0.1 only).
reconfigure "own certificate -> behind a proxy" "mathesar/trusted-proxies string 127.0.0.1" "mathesar/http-bind string 127.0.0.1"
assert_eq "$http_port/tcp -> 127.0.0.1:$http_port" "$(docker port "$(proxy_id)" | paste -sd ' ' -)" "ports published behind a proxy"
if https_curl -o /dev/null --cacert "$ca/ca.pem" "${base}auth/login/" 2>/dev/null; then
	fail "HTTPS is still served on $https_port behind a proxy"
fi
# shellcheck disable=SC2016 # evaluated by wait_for
wait_for 'http_answers "$http_port"' 60 "the plain HTTP login page on 127.0.0.1:$http_port" || fail "no plain HTTP on 127.0.0.1:$http_port"
grep -q "log in at https://$domain/\$" <<<"$(host_exec mathesarctl status)" || fail "the login address is not https://$domain/"

# 3. Behind a proxy -> plain HTTP on every address again, no domain.
reconfigure "behind a proxy -> plain HTTP" "mathesar/domain string" "mathesar/trusted-proxies string" "mathesar/http-bind string"
wait_up "$http_port"
unset MATHESAR_CA MATHESAR_RESOLVE
assert_login "$plain" admin "$admin_pw"
assert_eq "row 1,row 2,row 3" "$(api_rows "$plain" admin "$admin_pw" modes)" "rows read over plain HTTP again"
[[ $(docker port "$(proxy_id)" | paste -sd ' ' -) == *"0.0.0.0:$http_port"* ]] || fail "plain HTTP is not published on every address again"

log "plain HTTP -> own certificate -> behind a proxy -> plain HTTP with dpkg-reconfigure: the data kept, only the proxy recreated each time"

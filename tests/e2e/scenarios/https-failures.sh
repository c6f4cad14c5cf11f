# shellcheck shell=bash
# e2e-needs: host, stack
# What an administrator meets when HTTPS cannot work, each said clearly with nothing half-changed:
# - an ACME CA that cannot be reached (`acme-ca` on a port nobody listens on): the install
#   goes through with a warning naming the CA and the cause; Mathesar runs, `https://DOMAIN` has
#   no certificate and `http://` still redirects there (by design: no fallback to unencrypted
#   HTTP); `mathesarctl status` says none was obtained, with the proxy's last ACME error;
# - an ACME CA whose HTTPS is not trusted (a root that does not sign it): named as untrusted,
#   pointing at `acme-ca-root`;
# - a port taken by another web server: configure refuses (exit 3), naming the port, the
#   answer, the process holding it and the answers that avoid it; the configuration unchanged.
# shellcheck source=pkg-common.inc
source "$E2E_DIR/scenarios/pkg-common.inc"
# shellcheck source=https-common.inc
source "$E2E_DIR/scenarios/https-common.inc"

https_host
gw=$(docker0_address)
closed=$(free_port)
ca_url=https://$gw:$closed/dir
# shellcheck disable=SC2016 # expanded by the host's shell
host_sh 'printf "127.0.0.1 %s\n" "$1" >>/etc/hosts' "$domain"
preseed_bed "mathesar/domain string $domain" "mathesar/https-port string $https_port" "mathesar/acme-ca string $ca_url"
apt_install "$(pkg_deb)" 2>&1 | tee "$E2E_WORK/install.log" >&2
grep -q "\[warn\] acme-ca: the ACME CA $ca_url cannot be reached" "$E2E_WORK/install.log" ||
	fail "the install does not warn that the ACME CA cannot be reached"
log "install warned: $(grep -m1 'acme-ca:' "$E2E_WORK/install.log")"
wait_for unit_active 300 "mathesar.service to be active" ||
	fail "mathesar.service is not active although only the ACME CA is missing"

# No certificate: the TLS handshake fails; http:// still redirects to https://.
if https_curl -o /dev/null -k "https://$domain:$https_port/" 2>/dev/null; then
	fail "https://$domain:$https_port answers without any certificate obtained"
fi
redirect=$(https_curl -o /dev/null -w '%{http_code} %{redirect_url}' "http://$domain:$http_port/")
assert_eq "308 https://$domain:$https_port/" "$redirect" "redirect of http:// while there is no certificate"
# shellcheck disable=SC2016 # evaluated by wait_for
wait_for 'host_exec mathesarctl status 2>&1 | grep -q "^certificate for $domain: none obtained yet; the proxy.s last ACME error: .*$closed"' 120 \
	"mathesarctl status to name the proxy's ACME error" ||
	fail "mathesarctl status does not say why there is no certificate: $(host_exec mathesarctl status 2>&1 | grep '^certificate' || true)"
log "status: $(host_exec mathesarctl status 2>&1 | grep '^certificate')"

# An ACME CA whose HTTPS is signed by another root than the one given.
ca=$E2E_WORK/ca
bed_ca "$ca"
other=$E2E_WORK/other-ca
bed_ca "$other"
pebble_start "$ca" "$http_port" "$https_port"
host_copy "$other/ca.pem" /root/wrong-root.pem
out=$(host_exec env MATHESAR_ACME_CA="$pebble_url" MATHESAR_ACME_CA_ROOT=/root/wrong-root.pem mathesarctl configure --non-interactive --dry-run 2>&1) ||
	fail "configure --dry-run with an untrusted ACME CA failed: $out"
grep -q "\[warn\] acme-ca: the ACME CA $pebble_url is not trusted" <<<"$out" || fail "an untrusted ACME CA is not named so: $out"
grep -q "set \`acme-ca-root\` to the PEM file of the root its HTTPS certificate is signed by (the one given does not sign it)" <<<"$out" ||
	fail "the remedy does not point at acme-ca-root: $out"
host_copy "$ca/ca.pem" /root/right-root.pem
out=$(host_exec env MATHESAR_ACME_CA="$pebble_url" MATHESAR_ACME_CA_ROOT=/root/right-root.pem mathesarctl configure --non-interactive --dry-run 2>&1) ||
	fail "configure --dry-run with pebble failed: $out"
if grep -q "acme-ca:" <<<"$out"; then fail "pebble's directory, trusted through the right root, is still warned about: $out"; fi

# A port taken by another web server: refused, naming who holds it and what avoids it.
busy=$(free_port)
host_exec setsid -f python3 -m http.server --bind 0.0.0.0 "$busy" >/dev/null 2>&1 </dev/null
# shellcheck disable=SC2016 # evaluated by wait_for
wait_for 'curl -fsS -o /dev/null "http://127.0.0.1:$busy/"' 30 "the other web server on $busy" || fail "the other web server did not start"
env_before=$(host_exec sha256sum /etc/mathesar/.env "$E2E_DATA_DIR/caddy/Caddyfile")
rc=0
out=$(host_exec env MATHESAR_HTTPS_PORT="$busy" mathesarctl configure --non-interactive 2>&1) || rc=$?
assert_eq 3 "$rc" "exit code of configure with https-port taken"
grep -q "port $busy (https-port) is in use by python3" <<<"$out" || fail "the message does not name the port, the answer and the process: $out"
grep -q "MATHESAR_HTTPS_PORT=[0-9]* / \`https-port: [0-9]*\` / dpkg-reconfigure mathesar" <<<"$out" || fail "the message names no answer that avoids it: $out"
assert_eq "$env_before" "$(host_exec sha256sum /etc/mathesar/.env "$E2E_DATA_DIR/caddy/Caddyfile")" "the configuration after the refusal"
log "ports: $(grep -m1 'in use by' <<<"$out")"

log "an unreachable ACME CA: installed and running with a warning, no plain-HTTP fallback, status names the ACME error; an untrusted one points at acme-ca-root; a taken port refused naming the process and the answers, nothing changed"

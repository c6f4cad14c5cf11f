# shellcheck shell=bash
# e2e-needs: host, stack
# A certificate the security team hands out (here issued by the bed's CA for the domain): the
# package installed with `domain`, `tls-cert` and `tls-key` serves exactly it (curl trusting the
# bed's CA), the key copied 0600 and never shown; configure refuses a key that is not the
# certificate's, an expired certificate and one for another name, changing nothing; a renewed
# certificate put in place of the files is served after `systemctl reload mathesar` (and after
# `dpkg-reconfigure mathesar`) with no container restarted, and a broken replacement fails the
# reload while the old one stays served.
# shellcheck source=pkg-common.inc
source "$E2E_DIR/scenarios/pkg-common.inc"
# shellcheck source=https-common.inc
source "$E2E_DIR/scenarios/https-common.inc"

https_host
ca=$E2E_WORK/ca
bed_ca "$ca"
host_tls_files first
# shellcheck disable=SC2016 # expanded by the host's shell
host_sh 'printf "127.0.0.1 %s\n" "$1" >>/etc/hosts' "$domain"
preseed_bed "mathesar/domain string $domain" \
	"mathesar/https-port string $https_port" \
	"mathesar/tls-cert string /root/tls/cert.pem" \
	"mathesar/tls-key string /root/tls/key.pem"
apt_install "$(pkg_deb)"
wait_for unit_active 300 "mathesar.service to be active" ||
	fail "mathesar.service is not active: $(host_exec systemctl is-active mathesar.service || true)"

assert_file_mode "$E2E_DATA_DIR/caddy/tls" 700 root
assert_file_mode "$E2E_DATA_DIR/caddy/tls/key.pem" 600 root
assert_file_mode "$E2E_DATA_DIR/caddy/tls/cert.pem" 644 root
base=https://$domain:$https_port/
# shellcheck disable=SC2016 # evaluated by wait_for
wait_for 'https_curl -f -o /dev/null --cacert "$ca/ca.pem" "${base}auth/login/"' 120 "$base served with the given certificate" ||
	fail "$base is not served with the given certificate"
assert_eq "serial=$(cert_serial "$E2E_WORK/first.pem")" "$(served_cert "$https_port" | grep '^serial=')" "serial served"
redirect=$(https_curl -o /dev/null -w '%{http_code} %{redirect_url}' "http://$domain:$http_port/")
assert_eq "308 $base" "$redirect" "redirect of http://"
export MATHESAR_CA=$ca/ca.pem MATHESAR_RESOLVE=$domain:$https_port:127.0.0.1
admin_pw=$(initial_admin_password)
assert_login "$base" admin "$admin_pw"
status=$(host_exec mathesarctl status) || fail "mathesarctl status failed: $status"
grep -q "^certificate for $domain (your own, tls-cert): issued by .*CN=mathesar-e2e company root CA" <<<"$status" ||
	fail "mathesarctl status does not name the given certificate: $status"
# Nothing asked a CA: no ACME account in the proxy's data.
[[ ! -d $E2E_DATA_DIR/caddy/data/caddy/acme ]] || fail "the proxy talked to an ACME CA although a certificate was given"

# configure refuses what cannot be served, names the answer and the file, and changes nothing.
bed_cert "$ca" "$E2E_WORK/other" 30 "DNS:$domain"
bed_cert "$ca" "$E2E_WORK/wrongname" 30 DNS:elsewhere.e2e.test
bed_cert_dated "$ca" "$E2E_WORK/expired" 20250101000000Z 20250201000000Z "DNS:$domain"
for f in other.key wrongname.pem wrongname.key expired.pem expired.key; do host_copy "$E2E_WORK/$f" /root/tls/; done
env_before=$(host_exec sha256sum /etc/mathesar/.env "$E2E_DATA_DIR/caddy/Caddyfile" "$E2E_DATA_DIR/caddy/tls/cert.pem" "$E2E_DATA_DIR/caddy/tls/key.pem")
refused() { # WHAT EXPECTED_TEXT ENV...
	local what=$1 expect=$2 out rc=0
	shift 2
	out=$(host_exec env "$@" mathesarctl configure --non-interactive 2>&1) || rc=$?
	assert_eq 4 "$rc" "exit code of configure with $what"
	[[ $out == *"$expect"* ]] || fail "configure with $what does not say '$expect': $out"
	[[ $out != *"$(sed -n 2p "$E2E_WORK/first.key")"* && $out != *"PRIVATE KEY"* ]] || fail "configure showed a key"
	log "refused ($what): $(grep -m1 'refused' <<<"$out")"
}
refused "a key that is not the certificate's" "is not the key of the certificate" MATHESAR_TLS_KEY=/root/tls/other.key
refused "a certificate for another name" "does not cover the domain $domain" MATHESAR_TLS_CERT=/root/tls/wrongname.pem MATHESAR_TLS_KEY=/root/tls/wrongname.key
refused "an expired certificate" "expired on 2025-02-01" MATHESAR_TLS_CERT=/root/tls/expired.pem MATHESAR_TLS_KEY=/root/tls/expired.key
refused "a missing file" "cannot be read" MATHESAR_TLS_CERT=/root/tls/nothing.pem
assert_eq "$env_before" "$(host_exec sha256sum /etc/mathesar/.env "$E2E_DATA_DIR/caddy/Caddyfile" "$E2E_DATA_DIR/caddy/tls/cert.pem" "$E2E_DATA_DIR/caddy/tls/key.pem")" \
	"the configuration after the refused answers"

# Renewal: the new files in place, `systemctl reload mathesar`: served, nothing restarted.
bed_cert "$ca" "$E2E_WORK/renewed" 60 "DNS:$domain"
secret "$(sed -n 2p "$E2E_WORK/renewed.key")"
before=$(stack_state)
host_copy "$E2E_WORK/renewed.pem" /root/tls/cert.pem
host_copy "$E2E_WORK/renewed.key" /root/tls/key.pem
log "systemctl reload mathesar (renewed certificate)"
host_exec systemctl reload mathesar >&2 || fail "systemctl reload mathesar failed with a renewed certificate"
# shellcheck disable=SC2016 # evaluated by wait_for
wait_for '[[ $(served_cert "$https_port" | grep "^serial=") == "serial=$(cert_serial "$E2E_WORK/renewed.pem")" ]]' 30 "the renewed certificate to be served" ||
	fail "the renewed certificate is not served after systemctl reload: $(served_cert "$https_port" | paste -sd ';' -)"
assert_eq "$before" "$(stack_state)" "the stack's containers (id and start time) after the reload"
assert_login "$base" admin "$admin_pw"

# The next renewal applied with dpkg-reconfigure (configure copies it, the unit's reload has the
# running proxy read it): served, nothing restarted either.
bed_cert "$ca" "$E2E_WORK/again" 90 "DNS:$domain"
secret "$(sed -n 2p "$E2E_WORK/again.key")"
host_copy "$E2E_WORK/again.pem" /root/tls/cert.pem
host_copy "$E2E_WORK/again.key" /root/tls/key.pem
log "dpkg-reconfigure mathesar (renewed certificate)"
host_exec env DEBIAN_FRONTEND=noninteractive dpkg-reconfigure mathesar >&2 || fail "dpkg-reconfigure failed with a renewed certificate"
# shellcheck disable=SC2016 # evaluated by wait_for
wait_for '[[ $(served_cert "$https_port" | grep "^serial=") == "serial=$(cert_serial "$E2E_WORK/again.pem")" ]]' 30 "the certificate renewed with dpkg-reconfigure to be served" ||
	fail "the certificate renewed with dpkg-reconfigure is not served: $(served_cert "$https_port" | paste -sd ';' -)"
assert_eq "$before" "$(stack_state)" "the stack's containers (id and start time) after dpkg-reconfigure"

# A broken replacement: the reload fails, the renewed certificate stays served.
host_copy "$E2E_WORK/other.key" /root/tls/key.pem
rc=0
host_exec systemctl reload mathesar >&2 || rc=$?
((rc != 0)) || fail "systemctl reload succeeded with a key that is not the certificate's"
host_exec journalctl -u mathesar --no-pager -n 30 | grep -q "is not the key of the certificate.*keeps serving the certificate it has" ||
	fail "the journal does not say why the reload failed: $(host_exec journalctl -u mathesar --no-pager -n 10)"
assert_eq "serial=$(cert_serial "$E2E_WORK/again.pem")" "$(served_cert "$https_port" | grep '^serial=')" "serial served after the refused reload"
unit_active || fail "mathesar.service is not active after the refused reload"
# The journal and the package's output never hold the key.
for k in first renewed again; do
	if host_exec journalctl --no-pager | grep -qF "$(sed -n 2p "$E2E_WORK/$k.key")"; then fail "the journal holds the $k key"; fi
done

log "served the given certificate (key 0600, never shown); mismatched, expired and foreign-name certificates refused with nothing changed; renewals served after systemctl reload and after dpkg-reconfigure with no container restarted; a broken one refused by the reload, the old one kept"

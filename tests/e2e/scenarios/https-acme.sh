# shellcheck shell=bash
# e2e-needs: host, stack, pebble
# A domain with automatic HTTPS from an ACME CA of the company's own: the package installed with
# apt and the answers `domain`, `acme-ca` (pebble's directory) and `acme-ca-root` (the bed's CA,
# which signs pebble's HTTPS). Caddy obtains the certificate from pebble for real (account,
# order, HTTP-01 or TLS-ALPN-01 validated by pebble against the published ports; no
# PEBBLE_VA_ALWAYS_VALID); https://DOMAIN serves Mathesar with it (curl trusting pebble's root
# only), http:// redirects there, the form login over HTTPS passes Django's CSRF checks and its
# cookies are Secure, a foreign Origin is refused; a restart requests no new certificate (the
# proxy's state is in the data directory); `mathesarctl status` names the issuer and the expiry;
# headless Chromium, trusting pebble's CA, logs in over HTTPS (screenshot home-page-https.png) and
# refuses the site without that trust.
# shellcheck source=pkg-common.inc
source "$E2E_DIR/scenarios/pkg-common.inc"
# shellcheck source=https-common.inc
source "$E2E_DIR/scenarios/https-common.inc"

https_host
ca=$E2E_WORK/ca
bed_ca "$ca"
pebble_start "$ca" "$http_port" "$https_port"

# The company's root, as an administrator would place it; the domain resolves to this machine.
host_copy "$ca/ca.pem" /root/company-root.pem
# shellcheck disable=SC2016 # expanded by the host's shell
host_sh 'printf "127.0.0.1 %s\n" "$1" >>/etc/hosts' "$domain"
preseed_bed "mathesar/domain string $domain" \
	"mathesar/https-port string $https_port" \
	"mathesar/acme-ca string $pebble_url" \
	"mathesar/acme-ca-root string /root/company-root.pem" \
	"mathesar/admin-email string admin@example.com"
apt_install "$(pkg_deb)"

wait_for unit_active 300 "mathesar.service to be active" ||
	fail "mathesar.service is not active: $(host_exec systemctl is-active mathesar.service || true)"
assert_file_mode "$E2E_DATA_DIR/caddy/tls" 700 root
assert_file_mode "$E2E_DATA_DIR/caddy/tls/acme-ca-root.pem" 644 root
cmp -s <(openssl x509 -in "$ca/ca.pem" -outform der) <(openssl x509 -in "$E2E_DATA_DIR/caddy/tls/acme-ca-root.pem" -outform der) ||
	fail "the copied acme-ca-root is not the company's root"

# Served with pebble's certificate: curl trusts pebble's issuing root and nothing else.
pebble_root "$ca" "$E2E_WORK/pebble-root.pem"
base=https://$domain:$https_port/
# shellcheck disable=SC2016 # evaluated by wait_for
wait_for 'https_curl -f -o /dev/null --cacert "$E2E_WORK/pebble-root.pem" "${base}auth/login/"' 180 \
	"$base to be served with a certificate from pebble" ||
	fail "$base is not served with a certificate pebble issued (caddy: $(docker logs --tail 3 "$(docker ps -q --filter label=com.docker.compose.service=caddy-reverse-proxy)" 2>&1 | paste -sd ' ' - | cut -c1-400))"
if https_curl -f -o /dev/null "${base}auth/login/" 2>/dev/null; then
	fail "$base is trusted without pebble's root: not pebble's certificate"
fi
cert=$(served_cert "$https_port")
log "served: $(paste -sd ';' - <<<"$cert")"
[[ $cert == *"issuer=CN = Pebble Intermediate CA"* || $cert == *"issuer=CN=Pebble Intermediate CA"* ]] ||
	fail "the certificate served is not issued by pebble's intermediate: $cert"
serial=$(sed -n 's/^serial=//p' <<<"$cert")
issued=$(pebble_issued)
assert_eq 1 "$issued" "certificates pebble issued"

# http:// redirects to https://, port included.
redirect=$(https_curl -o /dev/null -w '%{http_code} %{redirect_url}' "http://$domain:$http_port/auth/login/?next=/x")
assert_eq "308 ${base}auth/login/?next=/x" "$redirect" "redirect of http://$domain:$http_port/"

# The login over HTTPS, as a browser sends it (Origin, Referer, CSRF token), the home page, and
# the cookies marked Secure; a foreign Origin is refused by Django's CSRF check.
export MATHESAR_CA=$E2E_WORK/pebble-root.pem MATHESAR_RESOLVE=$domain:$https_port:127.0.0.1
admin_pw=$(initial_admin_password)
assert_https_session "$base" "$admin_pw"
jar=$E2E_WORK/cookies
https_curl -f -o /dev/null -c "$jar" --cacert "$MATHESAR_CA" "${base}auth/login/"
token=$(awk '$6 == "csrftoken" { print $7 }' "$jar")
foreign=$(https_curl -o /dev/null -w '%{http_code}' -b "$jar" --cacert "$MATHESAR_CA" \
	-H "X-CSRFToken: $token" -H "Origin: https://elsewhere.example" -H "Referer: https://elsewhere.example/" \
	--data-urlencode username=admin --data-urlencode "password=$admin_pw" "${base}auth/login/")
assert_eq 403 "$foreign" "a login posted with a foreign Origin"
assert_user_db_works "$base" admin "$admin_pw"

# A real browser (headless Chromium) over HTTPS, trusting pebble's issuing CA (its intermediate's
# key: Chromium's --ignore-certificate-errors-spki-list, no certificate error ignored otherwise).
curl -fsS --max-time 10 --cacert "$ca/ca.pem" "$pebble_mgmt/intermediates/0" >"$E2E_WORK/pebble-intermediate.pem" ||
	fail "pebble's /intermediates/0 cannot be fetched"
spki=$(openssl x509 -in "$E2E_WORK/pebble-intermediate.pem" -pubkey -noout | openssl pkey -pubin -outform der |
	openssl dgst -sha256 -binary | base64)
shot=$E2E_ARTIFACTS/home-page-https.png
BROWSER_TRUST_SPKI=$spki BROWSER_RESOLVE=$domain:127.0.0.1 MATHESAR_PASSWORD=$admin_pw \
	browser_login "$base" admin "$shot" "Welcome to Mathesar, admin" >&2 ||
	fail "headless Chromium did not log in over HTTPS (screenshot: ${shot#"$REPO_ROOT"/})"
[[ -s $shot ]] || fail "no screenshot was saved"
# Without that trust the same browser refuses the site, at its certificate warning: the
# certificate really is checked.
if refused=$(BROWSER_TRUST_SPKI=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= BROWSER_RESOLVE=$domain:127.0.0.1 MATHESAR_PASSWORD=$admin_pw \
	browser_login "$base" admin "$E2E_WORK/untrusted.png" 2>&1); then
	fail "Chromium logged in although it does not trust pebble's CA"
fi
[[ $refused == *"does not trust the site's certificate"* ]] ||
	fail "Chromium without pebble's CA failed for another reason than the certificate: $refused"

# status names the certificate: pebble's intermediate, and when it expires.
status=$(host_exec mathesarctl status) || fail "mathesarctl status failed: $status"
log "status: $(grep '^certificate' <<<"$status")"
grep -q "^certificate for $domain: issued by CN=Pebble Intermediate CA [0-9a-f]*, expires 20[0-9-]* [0-9:]* UTC (in [0-9]* days)$" <<<"$status" ||
	fail "mathesarctl status does not name the certificate's issuer and expiry: $status"
host_exec mathesarctl status --json | jq -e --arg d "$domain" '.certificate.domain == $d and (.certificate.obtained.issuer | startswith("CN=Pebble Intermediate CA")) and .certificate.obtained.not_after > now' >/dev/null ||
	fail "mathesarctl status --json has no certificate"

# A restart reuses the certificate and the ACME account kept in the data directory.
log "systemctl restart mathesar"
host_exec systemctl restart mathesar >&2 || fail "systemctl restart mathesar failed"
wait_for unit_active 300 "mathesar.service to be active again" || fail "mathesar.service is not active after the restart"
# shellcheck disable=SC2016 # evaluated by wait_for
wait_for 'https_curl -f -o /dev/null --cacert "$MATHESAR_CA" "${base}auth/login/"' 120 "$base after the restart" ||
	fail "$base is not served after the restart"
after=$(served_cert "$https_port")
assert_eq "$serial" "$(sed -n 's/^serial=//p' <<<"$after")" "serial of the certificate served after the restart"
assert_eq "$issued" "$(pebble_issued)" "certificates pebble issued, after the restart"
assert_login "$base" admin "$admin_pw"

log "https://$domain:$https_port served with pebble's certificate (serial $serial, real validation), http redirected, HTTPS login with Secure cookies and CSRF, headless Chromium logged in trusting pebble's CA only, status names the issuer; a restart requested nothing"

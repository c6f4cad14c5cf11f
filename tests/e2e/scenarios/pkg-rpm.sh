# shellcheck shell=bash
# shellcheck disable=SC2016,SC2119 # literal ${...} in single quotes; helpers take optional arguments
# The .rpm in the trixie host with rpm -i --nodeps: %post runs with $1 = 1 and configures from
# /etc/mathesar/answers.yml; rpm -e runs %preun with $1 = 0, which stops and disables the service
# and keeps the configuration and the data.
# shellcheck source=pkg-common.inc
source "$E2E_DIR/scenarios/pkg-common.inc"
rpm=$(pkg_rpm)
host_start
config_dir /etc/mathesar
host_copy "$rpm" /root/
name=/root/$(basename "$rpm")
http_port=$(free_port)
host_exec sh -c 'umask 077 && mkdir -p /etc/mathesar && cat >/etc/mathesar/answers.yml' <<EOT
data-dir: $E2E_DATA_DIR
http-port: $http_port
db-port: ""
EOT

out=$(host_exec rpm -i --nodeps "$name" 2>&1) || fail "rpm -i failed: $out"
printf '%s\n' "$out" >&2
[[ $out == *"%post: first installation"* ]] || fail "%post did not run with \$1 = 1"
[[ $out == *"configured from /etc/mathesar/answers.yml"* ]] || fail "%post did not configure from answers.yml"
assert_file_mode /etc/mathesar/.env 600 root:root
assert_eq "$http_port" "$(env_value MATHESAR_HTTP_PORT)" "http-port from answers.yml"
host_exec test -f /usr/lib/systemd/system/mathesar.service || fail "the unit is not installed"

out=$(host_exec rpm -e --nodeps mathesar 2>&1) || fail "rpm -e failed: $out"
printf '%s\n' "$out" >&2
[[ $out == *"%preun: erase"* ]] || fail "%preun did not run with \$1 = 0"
host_exec test -f /etc/mathesar/.env || fail "rpm -e removed the configuration"
host_exec test -d "$E2E_DATA_DIR/pgdata" || fail "rpm -e removed the data directory"
if host_exec test -e /usr/bin/mathesarctl; then fail "rpm -e left the binary"; fi
log "rpm: %post 1 configured from answers.yml; %preun 0 kept configuration and data"

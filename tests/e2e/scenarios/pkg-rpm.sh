# shellcheck shell=bash
# e2e-needs: host, stack
# e2e-lane: seeded
# shellcheck disable=SC2016,SC2119 # literal ${...} in single quotes; helpers take optional arguments
# The .rpm in the trixie host with rpm --nodeps: an older version (built from this tree as 0.0.1)
# installed with rpm -i, %post with $1 = 1 configures from /etc/mathesar/answers.yml; the service
# started; rpm -U to this version, %post with $1 = 2 takes a backup, re-renders, and %posttrans
# restarts the service on it (`mathesarctl upgrade --restart`); rpm -e runs %preun with $1 = 0, which stops and disables the service and
# keeps the configuration and the data.
# shellcheck source=pkg-common.inc
source "$E2E_DIR/scenarios/pkg-common.inc"
old=$(pkg_rpm 0.0.1)
rpm=$(pkg_rpm)
host_start
config_dir /etc/mathesar
host_copy "$old" /root/
host_copy "$rpm" /root/
name=/root/$(basename "$rpm")
http_port=$(free_port)
host_exec sh -c 'umask 077 && mkdir -p /etc/mathesar && cat >/etc/mathesar/answers.yml' <<EOT
data-dir: $E2E_DATA_DIR
http-port: $http_port
db-port: ""
EOT

out=$(host_exec rpm -i --nodeps "/root/$(basename "$old")" 2>&1) || fail "rpm -i failed: $out"
printf '%s\n' "$out" >&2
[[ $out == *"%post: first installation"* ]] || fail "%post did not run with \$1 = 1"
[[ $out == *"configured from /etc/mathesar/answers.yml"* ]] || fail "%post did not configure from answers.yml"
assert_file_mode /etc/mathesar/.env 600 root:root
assert_eq "$http_port" "$(env_value MATHESAR_HTTP_PORT)" "http-port from answers.yml"
host_exec test -f /usr/lib/systemd/system/mathesar.service || fail "the unit is not installed"
assert_eq 0.0.1 "$(host_exec rpm -q --qf '%{VERSION}' mathesar)" "installed version"

host_exec systemctl enable --now mathesar.service >&2 || fail "systemctl enable --now mathesar failed"
wait_up "$http_port"
pid_before=$(host_exec systemctl show -p MainPID --value mathesar.service)
out=$(host_exec rpm -U --nodeps "$name" 2>&1) || fail "rpm -U failed: $out"
printf '%s\n' "$out" >&2
[[ $out == *"%post: upgrade"* ]] || fail "%post did not run with \$1 = 2"
backup=$(host_exec find /var/backups/mathesar -mindepth 1 -maxdepth 1 -name 'mathesar-*')
[[ -n $backup && $backup != *$'\n'* ]] || fail "expected one backup after rpm -U, found: '$backup'"
[[ $out == *"$backup"* ]] || fail "rpm -U did not say where the backup is ($backup)"
assert_eq upgrade "$(host_exec jq -r .reason "$backup/manifest.json")" "reason in the backup's manifest"
[[ $(host_exec rpm -q --qf '%{VERSION}' mathesar) != 0.0.1 ]] || fail "the upgrade did not happen"
wait_up "$http_port"
pid_after=$(host_exec systemctl show -p MainPID --value mathesar.service)
[[ $pid_after != "$pid_before" ]] || fail "%posttrans did not restart the service (MainPID $pid_before)"
host_exec test ! -e /run/mathesar-rpm-upgrade || fail "%posttrans left /run/mathesar-rpm-upgrade"

out=$(host_exec rpm -e --nodeps mathesar 2>&1) || fail "rpm -e failed: $out"
printf '%s\n' "$out" >&2
[[ $out == *"%preun: erase"* ]] || fail "%preun did not run with \$1 = 0"
host_exec test -f /etc/mathesar/.env || fail "rpm -e removed the configuration"
host_exec test -d "$E2E_DATA_DIR/pgdata" || fail "rpm -e removed the data directory"
if host_exec test -e /usr/bin/mathesarctl; then fail "rpm -e left the binary"; fi
log "rpm: %post 1 configured from answers.yml; %post 2 backed up to $backup and re-rendered; %posttrans restarted; %preun 0 kept configuration and data"

# shellcheck shell=bash
# e2e-needs: host, stack
# e2e-lane: seeded
# shellcheck disable=SC2016,SC2119 # %{VERSION} is rpm's; pkg_rpm takes optional arguments
# upgrade-from-release on an RPM host: the previous released .rpm (packaging/releases, built from
# its own commit with its own scripts, cached by commit) configured from answers.yml and started,
# with the admin, a second user and a table with rows; then `rpm -U` of this tree's .rpm - the
# previous release's %preun/%postun and this one's %pre/%post handing over. The service serves
# again, both users log in, the rows are there through the API, SECRET_KEY and the database
# password unchanged, the backup the upgrade took is named; then `mathesarctl configure --answers`
# (a new port), a backup and a restore, and `rpm -e` (configuration and data kept).
# shellcheck source=pkg-common.inc
source "$E2E_DIR/scenarios/pkg-common.inc"
rpm=$(pkg_rpm)
version=$(rpm -qp --qf '%{VERSION}-%{RELEASE}' "$rpm" 2>/dev/null) || fail "cannot read the version of $rpm"
previous=$(release_before "$version")
old_rpm=$(compgen -G "$(release_pkg "$previous")/*.rpm" | head -n 1)
[[ -n $old_rpm ]] || fail "the released package $previous has no .rpm"
host_start
config_dir /etc/mathesar
host_copy "$old_rpm" /root/
host_copy "$rpm" /root/
http_port=$(free_port)
admin_password="Adm1n-$(sha256_of "$E2E_NAME-$RANDOM" | cut -c1-20)"
user_password="Us3r-$(sha256_of "user-$RANDOM" | cut -c1-20)"
secret "$admin_password"
secret "$user_password"
base="http://127.0.0.1:$http_port/"
host_exec sh -c 'umask 077 && mkdir -p /etc/mathesar && cat >/etc/mathesar/answers.yml' <<EOT
data-dir: $E2E_DATA_DIR
http-port: $http_port
db-port: ""
admin-password: "$admin_password"
EOT
installed() { host_exec rpm -q --qf '%{VERSION}-%{RELEASE}' mathesar; }

log "the released package $previous (rpm -i), with data"
out=$(host_exec rpm -i --nodeps "/root/$(basename "$old_rpm")" 2>&1) || fail "rpm -i of $previous failed: $out"
printf '%s\n' "$out" >&2
host_exec systemctl enable --now mathesar.service >&2 || fail "systemctl enable --now mathesar failed"
wait_up "$http_port"
assert_eq "$previous" "$(installed)" "the installed release"
with_data "$base" "$admin_password" "$user_password"
db_password=$(env_value MATHESAR_DB_PASSWORD)
secret "$db_password"

log "rpm -U to $version over $previous"
out=$(host_exec timeout 900 rpm -U --nodeps "/root/$(basename "$rpm")" 2>&1) || fail "rpm -U from $previous failed: $(tail -n 15 <<<"$out")"
printf '%s\n' "$out" >"$E2E_ARTIFACTS/upgrade-rpm.log"
printf '%s\n' "$out" >&2
assert_eq "$version" "$(installed)" "the installed version after rpm -U"
backup=$(host_exec find /var/backups/mathesar -mindepth 1 -maxdepth 1 -name 'mathesar-*')
[[ -n $backup && $backup != *$'\n'* ]] || fail "expected one backup after rpm -U, found: '$backup'"
[[ $out == *"$backup"* ]] || fail "rpm -U did not say where the backup is ($backup)"
assert_eq upgrade "$(host_exec jq -r .reason "$backup/manifest.json")" "reason in the backup's manifest"
assert_upgrade_kept "rpm -U"

log "a new port on the upgraded installation (mathesarctl configure --answers, the other answers kept)"
new_port=$(free_port)
printf 'http-port: %s\n' "$new_port" | host_exec sh -c 'umask 077 && cat >/root/new-port.yml'
host_exec mathesarctl configure --non-interactive --answers /root/new-port.yml >&2 || fail "mathesarctl configure of a new port failed"
# As configure's own last line says.
host_exec systemctl reload-or-restart mathesar.service >&2 || fail "systemctl reload-or-restart mathesar failed"
http_port=$new_port
base="http://127.0.0.1:$http_port/"
wait_up "$http_port"
assert_login "$base" alice "$user_password"

log "backup, a row more, restore: the row is gone, the rest is there"
assert_restore_rewinds docker exec mathesar_db psql -U mathesar -d mathesar -v ON_ERROR_STOP=1 -qc "INSERT INTO kept_rows (v) VALUES ('after the backup')"

log "rpm -e: the configuration and the data are kept"
out=$(host_exec rpm -e --nodeps mathesar 2>&1) || fail "rpm -e failed: $out"
host_exec test -f /etc/mathesar/.env || fail "rpm -e removed the configuration"
host_exec test -d "$E2E_DATA_DIR/pgdata" || fail "rpm -e removed the data directory"
assert_none "a container of the stack still runs after rpm -e" docker ps -q --filter name='^mathesar_'
log "$previous -> $version with rpm -U: backup $backup named, both users and the rows kept, SECRET_KEY and passwords unchanged; reconfigure, backup, restore and rpm -e work"

# shellcheck shell=bash
# e2e-needs: host, stack
# e2e-lane: seeded
# shellcheck disable=SC2016,SC2119 # literal ${...} in single quotes; helpers take optional arguments
# apt install with nothing preseeded and DEBIAN_FRONTEND=noninteractive: the configuration is
# written with the defaults and generated secrets, the unit is enabled, and a policy-rc.d that
# forbids starting services is respected (nothing is started).
# shellcheck source=pkg-common.inc
source "$E2E_DIR/scenarios/pkg-common.inc"
deb=$(pkg_deb)
host_start
config_dir /etc/mathesar
printf '#!/bin/sh\nexit 101\n' | host_exec sh -c 'cat >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d'

apt_install "$deb"

assert_file_mode /etc/mathesar 700 root:root
assert_file_mode /etc/mathesar/.env 600 root:root
assert_file_mode /etc/mathesar/initial-admin-password 600 root:root
assert_eq 80 "$(env_value MATHESAR_HTTP_PORT)" "default http-port"
assert_eq /var/lib/mathesar "$(env_value MATHESAR_DATA_DIR)" "default data-dir"
assert_eq bundled "$(env_value MATHESAR_USER_DB)" "default user-db"
db_password=$(env_value MATHESAR_DB_PASSWORD)
secret "$db_password"
((${#db_password} >= 16)) || fail "the generated database password is too short (${#db_password})"
secret_key=$(env_value SECRET_KEY)
secret "$secret_key"
[[ -n $secret_key ]] || fail "no SECRET_KEY was generated"
assert_eq enabled "$(host_exec systemctl is-enabled mathesar.service)" "unit enablement"
if unit_active; then
	fail "mathesar.service was started although policy-rc.d forbids it"
fi
assert_none "containers were started although policy-rc.d forbids it" stack_containers

# A second configure run (what an upgrade's postinst does) keeps every secret.
host_exec dpkg-reconfigure -fnoninteractive mathesar >&2
assert_eq "$(sha256_of "$secret_key")" "$(sha256_of "$(env_value SECRET_KEY)")" "SECRET_KEY after dpkg-reconfigure"
assert_eq "$(sha256_of "$db_password")" "$(sha256_of "$(env_value MATHESAR_DB_PASSWORD)")" "database password after dpkg-reconfigure"
log "installed with defaults and generated secrets; policy-rc.d respected"

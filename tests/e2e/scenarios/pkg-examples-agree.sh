# shellcheck shell=bash
# e2e-needs: host, stack
# e2e-lane: seeded
# shellcheck disable=SC2016,SC2119 # literal $1 in single quotes (host_sh argument); helpers take optional arguments
# The three unattended forms in examples/ say the same thing: the package installed with
# examples/preseed.cfg (debconf), `configure --answers examples/answers.yml` and `configure` with
# the variables of examples/mathesar.env write the same configuration (the generated SECRET_KEY
# aside) and the same initial admin password.
# shellcheck source=pkg-common.inc
source "$E2E_DIR/scenarios/pkg-common.inc"
deb=$(pkg_deb)
host_start
config_dir /etc/mathesar
# Configuration only: nothing is started (policy-rc.d), so the ports need not be free.
printf '#!/bin/sh\nexit 101\n' | host_exec sh -c 'cat >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d'

# The examples' data directory becomes this host's, the same way in all three.
data=$E2E_DATA_DIR
sed "s|/var/lib/mathesar|$data|" "$REPO_ROOT/examples/preseed.cfg" | host_exec debconf-set-selections
sed "s|/var/lib/mathesar|$data|" "$REPO_ROOT/examples/answers.yml" | host_exec sh -c 'umask 077 && cat >/root/answers.yml'
sed "s|/var/lib/mathesar|$data|" "$REPO_ROOT/examples/mathesar.env" | host_exec sh -c 'umask 077 && cat >/root/mathesar.env'
apt_install "$deb"

# The other two into their own directories (and their own defaults file, so that the package's
# /etc/default/mathesar is left alone).
host_sh 'MATHESAR_DEFAULTS_FILE=/root/from-answers.default mathesarctl configure --config-dir /root/from-answers \
	--non-interactive --no-start --answers /root/answers.yml' >&2 || fail "configure --answers examples/answers.yml failed"
host_sh 'set -a; . /root/mathesar.env; set +a
	MATHESAR_DEFAULTS_FILE=/root/from-env.default mathesarctl configure --config-dir /root/from-env --non-interactive --no-start' >&2 ||
	fail "configure with the variables of examples/mathesar.env failed"

# compare DIR: the .env without the generated state, and the chosen admin password (kept in
# .admin-password until the admin exists; nothing is started here).
compare() {
	host_sh 'grep -v -e "^SECRET_KEY=" "$1/.env"; cat "$1/.admin-password"' "$1"
}
debconf_form=$(compare /etc/mathesar) || fail "cannot read the configuration the package wrote"
[[ $debconf_form == *'MATHESAR_HTTP_PORT="80"'* ]] || fail "the preseeded configuration lacks http-port 80"
assert_eq "$debconf_form" "$(compare /root/from-answers)" "configuration from preseed.cfg vs answers.yml"
assert_eq "$debconf_form" "$(compare /root/from-env)" "configuration from preseed.cfg vs mathesar.env"
log "preseed.cfg, answers.yml and mathesar.env give the same configuration"

# shellcheck shell=bash
# e2e-needs: host, stack
# e2e-lane: seeded
# shellcheck disable=SC2016,SC2119 # literal ${...} in single quotes; helpers take optional arguments
# apt remove stops the service and keeps the configuration and the data: reinstalled, the rows
# created before are still there. apt purge removes the configuration and the debconf answers
# and keeps the data; with purge-data true, purge removes the data directory too.
# shellcheck source=pkg-common.inc
source "$E2E_DIR/scenarios/pkg-common.inc"
pkg_host
password='rows stay: p@ss w0rd'
secret "$password"
preseed_bed "mathesar/db-password password $password"
apt_install "$deb"
wait_up "$http_port"
psql_db "$password" "$db_port" "CREATE TABLE kept (v text); INSERT INTO kept VALUES ('before remove')" >&2 ||
	fail "could not create rows"

apt_remove

apt_install "$deb"
wait_up "$http_port"
assert_eq "before remove" "$(psql_db "$password" "$db_port" 'SELECT v FROM kept')" "row after remove and reinstall"

log "apt-get purge mathesar (purge-data false)"
host_exec env DEBIAN_FRONTEND=noninteractive apt-get purge -y mathesar >&2 || fail "apt-get purge failed"
if host_exec test -e /etc/mathesar; then fail "purge left /etc/mathesar"; fi
if host_exec grep -q 'mathesar/' /var/cache/debconf/config.dat; then fail "purge left debconf answers"; fi
host_exec test -f "$E2E_DATA_DIR/pgdata/PG_VERSION" || fail "purge deleted the data although purge-data is false"
assert_none "purge left containers" stack_containers

log "reinstall with purge-data true, then purge"
preseed "mathesar/data-dir string $E2E_DATA_DIR" \
	"mathesar/http-port string $http_port" \
	"mathesar/db-port string $db_port" \
	"mathesar/db-password password $password" \
	"mathesar/purge-data boolean true"
apt_install "$deb"
wait_up "$http_port"
assert_eq "before remove" "$(psql_db "$password" "$db_port" 'SELECT v FROM kept')" "row after purge and reinstall"
host_exec env DEBIAN_FRONTEND=noninteractive apt-get purge -y mathesar >&2 || fail "apt-get purge failed"
# The data directory is a mount point in the test host: purge empties it and leaves the directory.
left=$(host_exec find "$E2E_DATA_DIR" -mindepth 1 -maxdepth 1 2>/dev/null | head -n 3)
[[ -z $left ]] || fail "purge kept data although purge-data is true: $left"
log "remove kept everything; purge removed the configuration, and the data only when asked"

# shellcheck shell=bash
# e2e-needs: host, stack
# e2e-lane: seeded
# shellcheck disable=SC2016 # ${Version} is dpkg-query's
# The upgrade an administrator meets: the previous released package (packaging/releases; built
# from its own commit with its own scripts, cached by commit) installed with real data - the
# admin and a second user, a table with rows in the user database - then `apt-get install` of
# this tree's package, the previous release's maintainer scripts and mathesarctl handing over to
# the new ones. Under debconf's teletype frontend with nothing to read: no question is shown. The
# service serves again, both users log in, the rows are there through the API, SECRET_KEY and
# the database password unchanged; then dpkg-reconfigure (a new port), a backup and a restore,
# and a purge work on the upgraded installation.
# shellcheck source=pkg-common.inc
source "$E2E_DIR/scenarios/pkg-common.inc"
pkg_host
version=$(dpkg-deb -f "$deb" Version)
previous=$(release_before "$version")
old_deb=$(compgen -G "$(release_pkg "$previous")/*.deb" | head -n 1)
[[ -n $old_deb ]] || fail "the released package $previous has no .deb"
admin_password="Adm1n-$(sha256_of "$E2E_NAME-$RANDOM" | cut -c1-20)"
user_password="Us3r-$(sha256_of "user-$RANDOM" | cut -c1-20)"
secret "$admin_password"
secret "$user_password"
base="http://127.0.0.1:$http_port/"

log "the released package $previous, with data"
preseed_bed "mathesar/admin-password password $admin_password" "mathesar/purge-data boolean true"
apt_install "$old_deb"
wait_up "$http_port"
assert_eq "$previous" "$(host_exec dpkg-query -W -f '${Version}' mathesar)" "the installed release"
with_data "$base" "$admin_password" "$user_password"
db_password=$(env_value MATHESAR_DB_PASSWORD)
secret "$db_password"

log "apt-get install of $version over $previous (teletype frontend, nothing to read)"
host_copy "$deb" /root/
out=$(host_exec env DEBIAN_FRONTEND=teletype DEBIAN_PRIORITY=high timeout 900 apt-get install -y \
	-o Dpkg::Options::=--force-confold "/root/$(basename "$deb")" </dev/null 2>&1) ||
	fail "the upgrade from $previous failed: $(tail -n 15 <<<"$out")"
printf '%s\n' "$out" >"$E2E_ARTIFACTS/upgrade-apt.log"
# Every question's text ends with a colon (debian/templates' descriptions): none may be shown.
shown=$(sed -n 's/^Description: //p' "$REPO_ROOT/debian/templates" | while read -r q; do
	if [[ $out == *"$q"* ]]; then echo "$q"; fi
done)
[[ -z $shown ]] || fail "the upgrade asked: $(paste -sd ';' - <<<"$shown")"
assert_eq "$version" "$(host_exec dpkg-query -W -f '${Version}' mathesar)" "the installed version after the upgrade"
assert_upgrade_kept "the upgrade"

log "dpkg-reconfigure to a new port on the upgraded installation"
new_port=$(free_port)
preseed "mathesar/http-port string $new_port"
host_exec env DEBIAN_FRONTEND=noninteractive dpkg-reconfigure mathesar >&2 || fail "dpkg-reconfigure failed"
http_port=$new_port
base="http://127.0.0.1:$http_port/"
wait_up "$http_port"
assert_login "$base" alice "$user_password"

log "backup, a row more, restore: the row is gone, the rest is there"
assert_restore_rewinds psql_db "$db_password" "$db_port" "INSERT INTO kept_rows (v) VALUES ('after the backup')"

log "apt-get purge (purge-data true)"
host_exec env DEBIAN_FRONTEND=noninteractive apt-get purge -y mathesar >&2 || fail "apt-get purge failed"
if host_exec test -e /etc/mathesar/.env; then fail "purge left /etc/mathesar/.env"; fi
assert_none "purge with purge-data kept data" find "$E2E_DATA_DIR" -mindepth 1 -maxdepth 1
assert_none "a container of the stack is left after the purge" docker ps -aq --filter name='^mathesar_'
log "$previous -> $version: no question shown, both users and the rows kept, SECRET_KEY and passwords unchanged; reconfigure, backup, restore and purge work"

# shellcheck shell=bash
# e2e-needs: host, stack
# e2e-lane: seeded
# shellcheck disable=SC2016,SC2119 # literal $... in single quotes; helpers take optional arguments
# Automatic updates the Debian way: mathesar installed from the signed apt repository (the
# README's two lines), Debian's unattended-upgrades with the README's Origins-Pattern (the
# repository's Origin and Label). The repository then publishes a newer package (built from this
# tree as 0.11.0.1, pinning the same Mathesar: scripts/build-repo, the same key); `apt-get update`
# of the source and one `unattended-upgrade` run upgrade mathesar to it, taking the package's
# backup first; the service is restarted and the admin logs in, the rows written before are there.
# shellcheck source=pkg-common.inc
source "$E2E_DIR/scenarios/pkg-common.inc"

next=0.11.0.1
repo=$(pkg_repo)
version=$(sed -n 's/^Version: //p' "$repo/apt/dists/stable/main/binary-amd64/Packages")
www=$E2E_WORK/www
mkdir -p "$www"
cp -a "$repo" "$www/repo"
# The next release's repository, signed by the same key, published later at the same address.
"$REPO_ROOT/scripts/build-repo" "$(pkg_build "$next" "$(image_of service)")" "$E2E_WORK/next" 2>"$E2E_WORK/build-repo.log" ||
	fail "scripts/build-repo of $next failed: $(tail -n 5 "$E2E_WORK/build-repo.log")"

pkg_host
repo_serve "$www"
log "installing Debian's unattended-upgrades into the host"
# From the lists the host image was built with; once the mirror has moved on from those versions,
# from fresh lists (Debian's origins then stay out: the clear below).
host_sh 'export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q --no-install-recommends unattended-upgrades ||
	{ apt-get update -q && apt-get install -y -q --no-install-recommends unattended-upgrades; }
printf "%s\n" "#clear Unattended-Upgrade::Origins-Pattern;" "#clear Unattended-Upgrade::Allowed-Origins;" >/etc/apt/apt.conf.d/51mathesar-e2e-only' \
	>"$E2E_ARTIFACTS/apt-unattended.log" 2>&1 || fail "apt-get install unattended-upgrades failed (see apt-unattended.log)"
# The README's lines: the key, the source, the Origins-Pattern.
host_sh 'curl -fsSL "$1/mathesar-archive-keyring.gpg" -o /etc/apt/keyrings/mathesar-archive-keyring.gpg
	echo "deb [signed-by=/etc/apt/keyrings/mathesar-archive-keyring.gpg] $1/apt stable main" >/etc/apt/sources.list.d/mathesar.list
	echo '\''Unattended-Upgrade::Origins-Pattern:: "origin=Mathesar,label=Mathesar packages";'\'' >/etc/apt/apt.conf.d/52mathesar-unattended-upgrades' \
	"$repo_url/repo"
# Only the repository's source is refreshed (see repo-install): the Debian lists stay those the
# host was built with, so Debian's own origins offer unattended-upgrades nothing.
update_source() {
	host_exec apt-get update -o Dir::Etc::SourceList=/dev/null -o APT::Get::List-Cleanup=false >&2 ||
		fail "apt-get update of the repository failed"
}
update_source
apt_install_from_repo "$version"
base="http://127.0.0.1:$http_port/"
admin_pw=$(initial_admin_password)
secret "$admin_pw"
api_table_roundtrip "$base" admin "$admin_pw" kept >/dev/null

log "the repository publishes $next; unattended-upgrade"
rm -rf "$www/repo"
cp -a "$E2E_WORK/next" "$www/repo"
chmod -R a+rX "$www"
update_source
out=$(host_exec unattended-upgrade -d 2>&1) || fail "unattended-upgrade failed: $(tail -n 20 <<<"$out")"
printf '%s\n' "$out" >"$E2E_ARTIFACTS/unattended-upgrade.log"
grep -q 'origin=Mathesar,label=Mathesar packages' <<<"$out" || fail "unattended-upgrade did not read the Origins-Pattern"
assert_eq "$next-1" "$(host_exec dpkg-query -W -f='${Version}' mathesar)" "version after unattended-upgrade"
backups=$(host_exec find /var/backups/mathesar -mindepth 1 -maxdepth 1 -name 'mathesar-*')
assert_eq 1 "$(grep -c . <<<"$backups")" "backups taken by the upgrade"
wait_up "$http_port"
assert_login "$base" admin "$admin_pw"
assert_eq "row 1,row 2,row 3" "$(api_rows "$base" admin "$admin_pw" kept)" "the rows after the update"
log "unattended-upgrades took mathesar $version -> $next-1 from the signed repository (backup $backups)"

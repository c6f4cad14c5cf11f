# shellcheck shell=bash
# e2e-needs: host, stack
# e2e-lane: seeded
# shellcheck disable=SC2016 # literal $... in single quotes
# The RPM repository scripts/build-packages made for this build, as dnf reads it: the README's
# .repo file (gpgcheck=1, repo_gpgcheck=1, the key from the repository), served over HTTP by a
# container. dnf (Debian's, installed into the trixie host: the bed has no RPM distribution)
# imports the key, verifies repomd.xml.asc and offers mathesar at the release's version; a copy
# whose repomd.xml was altered after signing is refused. The package's own signature: rpm -K with
# the imported key. Installing it with dnf cannot be shown here: the host's rpm database is empty
# (systemd, restic, glibc are dpkg's), so dnf finds none of its dependencies.
# shellcheck source=pkg-common.inc
source "$E2E_DIR/scenarios/pkg-common.inc"

repo=$(pkg_repo)
rpm_name=$(basename "$(compgen -G "$repo/rpm/*.rpm" | head -n 1)")
[[ -f $repo/rpm/repodata/repomd.xml.asc ]] || fail "no signed RPM repository in $repo (scripts/build-repo)"
version=$(rpm -qp --qf '%{VERSION}-%{RELEASE}' "$repo/rpm/$rpm_name")
www=$E2E_WORK/www
mkdir -p "$www"
cp -a "$repo" "$www/good"
cp -a "$repo" "$www/altered"
sed -i 's|<revision>|<revision>1|' "$www/altered/rpm/repodata/repomd.xml"

host_start
repo_serve "$www"
log "installing Debian's dnf into the host"
host_exec env DEBIAN_FRONTEND=noninteractive apt-get update -q >"$E2E_ARTIFACTS/apt-dnf.log" 2>&1 ||
	fail "apt-get update in the host failed (see apt-dnf.log)"
host_exec env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends dnf >>"$E2E_ARTIFACTS/apt-dnf.log" 2>&1 ||
	fail "apt-get install dnf in the host failed (see apt-dnf.log)"

# repo_file BASE: the README's .repo file for the repository at BASE (skip_if_unavailable=0 so
# that a refused repository is an error, not a warning).
repo_file() {
	host_sh 'mkdir -p /etc/yum.repos.d && printf "%s\n" "[mathesar]" "name=Mathesar" "baseurl=$1/rpm" \
		"enabled=1" "gpgcheck=1" "repo_gpgcheck=1" "gpgkey=$1/mathesar-archive-keyring.asc" \
		"skip_if_unavailable=0" >/etc/yum.repos.d/mathesar.repo' "$1"
}
# Debian's dnf knows no release version and reads no repository directory by default.
dnf_() { host_exec dnf -y --releasever=13 --setopt=reposdir=/etc/yum.repos.d "$@" 2>&1; }

log "repomd.xml altered after signing: refused"
repo_file "$repo_url/altered"
if out=$(dnf_ makecache); then
	fail "dnf accepted a repomd.xml altered after signing: $out"
fi
grep -q 'GPG signature verification error' <<<"$out" || fail "dnf refused without naming the signature: $out"

log "the signed repository"
dnf_ clean all >/dev/null
repo_file "$repo_url/good"
out=$(dnf_ makecache) || fail "dnf makecache of the signed repository failed: $out"
printf '%s\n' "$out" >"$E2E_ARTIFACTS/dnf-makecache.log"
out=$(dnf_ repoquery --qf '%{version}-%{release}' mathesar) || fail "dnf repoquery failed: $out"
assert_eq "$version" "$(tail -n 1 <<<"$out")" "the version dnf offers"
checked=$(host_sh 'cd /root && curl -fsSL -O "$1/rpm/$2" && rpm --import "$1/mathesar-archive-keyring.asc" && rpm -K "$2"' "$repo_url/good" "$rpm_name") ||
	fail "rpm -K failed: $checked"
grep -q 'signatures OK' <<<"$checked" || fail "the .rpm is not signed by the published key: $checked"
log "dnf verified the repository's metadata and key ($version); the altered one refused"

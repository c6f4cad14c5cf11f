# shellcheck shell=bash
# e2e-needs: host, stack
# e2e-lane: seeded
# shellcheck disable=SC2016,SC2119 # literal $... in single quotes; helpers take optional arguments
# Installed the way administrators consume packages: the signed apt repository scripts/build-packages
# made for this build (scripts/build-repo), served over HTTP by a container (Debian's Caddy as a file
# server, on the machine's network like the host). In a fresh host, the README's two lines (the key
# into /etc/apt/keyrings, a source with signed-by; no trusted=yes), apt-get update with signature
# checking, apt-get install mathesar (noninteractive, the bed's answers preseeded): the version is
# the release's from that repository, and Mathesar serves (the admin logs in). Before that, the
# same repository with its Release altered after signing is refused by apt (nothing installable
# from it). The RPM repository's signatures (repomd.xml.asc, the signed .rpm) are checked with the
# key as published, with rpm and sqv (dnf itself: repo-dnf).
# shellcheck source=pkg-common.inc
source "$E2E_DIR/scenarios/pkg-common.inc"

repo=$(pkg_repo)
[[ -f $repo/apt/dists/stable/InRelease ]] || fail "no signed apt repository in $repo (scripts/build-repo)"
version=$(sed -n 's/^Version: //p' "$repo/apt/dists/stable/main/binary-amd64/Packages")

# What the file server serves: the repository as built, and a copy whose Release (and InRelease,
# which apt reads first) was altered after signing.
www=$E2E_WORK/www
mkdir -p "$www"
cp -a "$repo" "$www/good"
cp -a "$repo" "$www/altered"
sed -i 's/^Description: .*/Description: altered after signing/' \
	"$www/altered/apt/dists/stable/Release" "$www/altered/apt/dists/stable/InRelease"

pkg_host
repo_serve "$www"
url=$repo_url

# The administrator's two lines (README, "From the package repository").
add_source() { # BASE: the key from BASE, the source naming it
	host_sh 'curl -fsSL "$1/mathesar-archive-keyring.gpg" -o /etc/apt/keyrings/mathesar-archive-keyring.gpg
		echo "deb [signed-by=/etc/apt/keyrings/mathesar-archive-keyring.gpg] $1/apt stable main" >/etc/apt/sources.list.d/mathesar.list' "$1"
}
# apt-get update of that source alone: the bed's hosts keep the Debian lists they were built with
# (refreshing them would download the archive's indexes in every run and could move the hosts'
# packages); the source and its signature checking are apt's own.
update_source() {
	host_exec apt-get update -o Dir::Etc::SourceList=/dev/null -o APT::Get::List-Cleanup=false 2>&1
}

log "a repository altered after signing: refused"
add_source "$url/altered"
if out=$(update_source); then
	fail "apt-get update accepted a Release altered after signing: $out"
fi
printf '%s\n' "$out" >"$E2E_ARTIFACTS/apt-update-altered.log"
grep -qiE 'BADSIG|signature|not signed' <<<"$out" || fail "apt-get update failed without naming the signature: $out"
candidate=$(host_exec apt-cache policy mathesar | sed -n 's/^ *Candidate: //p')
[[ -z $candidate || $candidate == "(none)" ]] || fail "apt offers mathesar $candidate from the altered repository"

log "the signed repository: apt-get update, apt-get install mathesar"
host_exec rm -f /etc/apt/sources.list.d/mathesar.list /etc/apt/keyrings/mathesar-archive-keyring.gpg
add_source "$url/good"
! host_exec grep -rqs 'trusted=yes' /etc/apt/sources.list.d/ || fail "a source with trusted=yes"
out=$(update_source) || fail "apt-get update of the signed repository failed: $out"
printf '%s\n' "$out" >"$E2E_ARTIFACTS/apt-update.log"
! grep -qE '^(W|E):' <<<"$out" || fail "apt-get update warned: $out"
lists=$(host_exec ls /var/lib/apt/lists/)
grep -q '_good_apt_dists_stable_InRelease$' <<<"$lists" || fail "apt did not keep the signed InRelease: $lists"
policy=$(host_exec apt-cache policy mathesar)
assert_eq "$version" "$(sed -n 's/^ *Candidate: //p' <<<"$policy")" "apt's candidate"
grep -q "$url/good/apt stable/main" <<<"$policy" || fail "the candidate is not from the repository: $policy"
apt_install_from_repo "$version"
base="http://127.0.0.1:$http_port/"
admin_pw=$(initial_admin_password)
assert_login_page "$base"
assert_login "$base" admin "$admin_pw"

log "the RPM repository's signatures, with the key as published"
host_sh 'cd /root && curl -fsSL -O "$1/mathesar-archive-keyring.asc" &&
	curl -fsSL -O "$1/rpm/repodata/repomd.xml" -O "$1/rpm/repodata/repomd.xml.asc" &&
	sqv --keyring mathesar-archive-keyring.asc repomd.xml.asc repomd.xml >/dev/null' "$url/good" ||
	fail "repomd.xml.asc does not verify with the published key"
rpm_name=$(basename "$(compgen -G "$repo/rpm/*.rpm" | head -n 1)")
checked=$(host_sh 'cd /root && curl -fsSL -O "$1/rpm/$2" && rpm --import mathesar-archive-keyring.asc && rpm -K "$2"' "$url/good" "$rpm_name") ||
	fail "rpm -K of the repository's .rpm failed: $checked"
grep -q 'signatures OK' <<<"$checked" || fail "the repository's .rpm is not signed by the published key: $checked"
log "installed $version from the signed repository at $url; the altered one refused"

# shellcheck shell=bash
# e2e-needs: host, stack
# e2e-lane: seeded
# shellcheck disable=SC2016 # literal $... in single quotes
# Automatic updates on an RPM host: `dnf install mathesar` from the signed RPM repository (the
# README's .repo file), then dnf-automatic with `apply_updates = yes` (the README's setting): the
# repository publishes a newer package (built from this tree as 0.11.0.1, pinning the same
# Mathesar, signed by the same key); one dnf-automatic run (what dnf-automatic.timer starts)
# upgrades mathesar through the package's own scriptlets: the backup first (%post), the restart on
# the new release (%posttrans); the admin logs in, the rows written before are there.
# The bed has no RPM distribution: Debian's dnf and rpm in the trixie host, and dnf-automatic is
# Debian's python3-dnf's `dnf.automatic.main` run as upstream's bin/dnf-automatic runs it. The
# host's rpm database is empty (its systemd, restic, glibc are dpkg's), so a package that only
# provides what mathesar requires stands for the distribution's base packages.
# shellcheck source=pkg-common.inc
source "$E2E_DIR/scenarios/pkg-common.inc"

next=0.11.0.1
repo=$(pkg_repo)
rpm_file=$(compgen -G "$repo/rpm/*.rpm" | head -n 1)
version=$(rpm -qp --qf '%{VERSION}-%{RELEASE}' "$rpm_file")
www=$E2E_WORK/www
mkdir -p "$www"
cp -a "$repo" "$www/repo"
# The next release's repository, signed by the same key, published later at the same address.
"$REPO_ROOT/scripts/build-repo" "$(pkg_build "$next" "$(image_of service)")" "$E2E_WORK/next" 2>"$E2E_WORK/build-repo.log" ||
	fail "scripts/build-repo of $next failed: $(tail -n 5 "$E2E_WORK/build-repo.log")"
next_rpm=$(compgen -G "$E2E_WORK/next/rpm/*.rpm" | head -n 1)

pkg_host
repo_serve "$www"
log "installing Debian's dnf into the host"
host_sh 'export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q --no-install-recommends dnf ||
	{ apt-get update -q && apt-get install -y -q --no-install-recommends dnf; }' \
	>"$E2E_ARTIFACTS/apt-dnf.log" 2>&1 || fail "apt-get install dnf in the host failed (see apt-dnf.log)"

# What the distribution's base packages would provide: every requirement of both packages (their
# rpmlib() features are rpm's own).
host_copy "$rpm_file" /root/
host_copy "$next_rpm" /root/
# shellcheck disable=SC2016 # expanded by the host's shell
host_sh 'mkdir -p /root/provides
{
	printf "%s\n" "Name: bed-base-packages" "Version: 1" "Release: 1" "License: MIT" "BuildArch: noarch" \
		"Summary: What the bed host has through dpkg, announced to rpm"
	rpm -qpR /root/mathesar-*.rpm | grep -v "^rpmlib(" | sort -u | sed "s/^/Provides: /"
	printf "%s\n" "%description" "The trixie host'\''s own packages, as an RPM distribution would list them." "%files"
} >/root/provides/bed-base-packages.spec
rpmbuild -bb --define "_topdir /root/provides" /root/provides/bed-base-packages.spec >/root/provides/build.log 2>&1
rpm -i /root/provides/RPMS/noarch/bed-base-packages-1-1.noarch.rpm' >&2 ||
	fail "the package providing the host's base could not be built or installed: $(host_exec tail -n 5 /root/provides/build.log 2>&1)"

# The README's .repo file; Debian's dnf knows no release version and reads no repository
# directory by default: both set once, for dnf and dnf-automatic alike.
host_sh 'mkdir -p /etc/yum.repos.d /etc/dnf/vars && echo 13 >/etc/dnf/vars/releasever
printf "%s\n" "[mathesar]" "name=Mathesar" "baseurl=$1/rpm" "enabled=1" "gpgcheck=1" "repo_gpgcheck=1" \
	"gpgkey=$1/mathesar-archive-keyring.asc" >/etc/yum.repos.d/mathesar.repo
grep -q "^reposdir" /etc/dnf/dnf.conf || printf "%s\n" "reposdir=/etc/yum.repos.d" >>/etc/dnf/dnf.conf' "$repo_url/repo"
host_exec sh -c 'umask 077 && mkdir -p /etc/mathesar && cat >/etc/mathesar/answers.yml' <<EOT
data-dir: $E2E_DATA_DIR
http-port: $http_port
db-port: ""
EOT

log "dnf install mathesar"
out=$(host_exec dnf -y install mathesar 2>&1) || fail "dnf install mathesar failed: $(tail -n 20 <<<"$out")"
printf '%s\n' "$out" >"$E2E_ARTIFACTS/dnf-install.log"
[[ $out == *"configured from /etc/mathesar/answers.yml"* ]] || fail "%post did not configure from answers.yml: $(tail -n 20 <<<"$out")"
assert_eq "$version" "$(host_exec rpm -q --qf '%{VERSION}-%{RELEASE}' mathesar)" "version dnf installed"
host_exec systemctl enable --now mathesar.service >&2 || fail "systemctl enable --now mathesar failed"
wait_up "$http_port"
base="http://127.0.0.1:$http_port/"
admin_pw=$(initial_admin_password)
secret "$admin_pw"
api_table_roundtrip "$base" admin "$admin_pw" kept >/dev/null

# dnf-automatic: upstream's bin/dnf-automatic (the program dnf-automatic.timer starts) over
# Debian's dnf.automatic, with the README's setting.
host_sh 'printf "%s\n" "#!/usr/bin/python3" "import sys" "from dnf.automatic.main import main" "sys.exit(main(sys.argv[1:]))" \
	>/usr/local/bin/dnf-automatic && chmod 0755 /usr/local/bin/dnf-automatic
printf "%s\n" "[commands]" "upgrade_type = default" "random_sleep = 0" "download_updates = yes" "apply_updates = yes" \
	"[emitters]" "emit_via = stdio" >/etc/dnf/automatic.conf'

log "the repository publishes $next; dnf-automatic"
rm -rf "$www/repo"
cp -a "$E2E_WORK/next" "$www/repo"
chmod -R a+rX "$www"
# The cached metadata as it is once dnf's metadata_expire has passed (gone): dnf-automatic, which
# reads no `dnf clean expire-cache` mark, then fetches the repository's new metadata.
out=$(host_exec dnf clean metadata 2>&1) || fail "dnf clean metadata failed: $out"
out=$(host_exec dnf-automatic /etc/dnf/automatic.conf 2>&1) || fail "dnf-automatic failed: $(tail -n 30 <<<"$out")"
printf '%s\n' "$out" >"$E2E_ARTIFACTS/dnf-automatic.log"
if ! grep -q "updates have been applied" <<<"$out" || ! grep -Eq "^ mathesar +x86_64 +$next-1 " <<<"$out"; then
	fail "dnf-automatic did not report mathesar's update to $next-1 as applied: $(tail -n 30 <<<"$out")"
fi
assert_eq "$next-1" "$(host_exec rpm -q --qf '%{VERSION}-%{RELEASE}' mathesar)" "version after dnf-automatic"
[[ $out == *"backup before the upgrade: /var/backups/mathesar/"* ]] || fail "%post took no backup first: $(tail -n 30 <<<"$out")"
backups=$(host_exec find /var/backups/mathesar -mindepth 1 -maxdepth 1 -name 'mathesar-*')
assert_eq 1 "$(grep -c . <<<"$backups")" "backups taken by the upgrade"
wait_up "$http_port"
assert_login "$base" admin "$admin_pw"
assert_eq "row 1,row 2,row 3" "$(api_rows "$base" admin "$admin_pw" kept)" "the rows after the update"
restarted=$(host_exec journalctl -u mathesar.service -o cat --no-pager | grep -c "Started mathesar.service" || true)
((restarted >= 2)) || fail "the service was not restarted on $next by the upgrade (starts: $restarted)"
log "dnf installed mathesar $version from the signed repository; dnf-automatic took it to $next-1 (backup $backups, restarted, rows kept)"

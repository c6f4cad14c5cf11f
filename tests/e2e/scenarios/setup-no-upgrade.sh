# shellcheck shell=bash
# e2e-needs: bookworm
# e2e-lane: no-stack
# shellcheck disable=SC2016 # literal ${...} in single quotes (dpkg-query formats, host scripts)
# The machine set-up of the README's two commands (scripts/ensure-docker) adds packages and never
# upgrades or removes one, on Debian 12 (bookworm): the real script runs in a bookworm host and
# installs for real (the Docker Engine is purged first, so it installs that too). Every package
# present before must be there after, at the same version; no apt source or preference may be
# added (nothing of trixie or sid). And when a plan would upgrade a package, ensure-docker refuses
# with its message and changes nothing: a fake, older libutempter0 (tmux needs >= 1.1.5) is
# installed first, so installing the missing tmux would upgrade it.

host_start mathesar-e2e/host-bookworm
host_copy "$REPO_ROOT/scripts/ensure-docker" /usr/local/sbin/ensure-docker

# packages: "name:arch version status" of every package dpkg knows, sorted.
packages() {
	host_exec dpkg-query -W -f='${binary:Package} ${Version} ${db:Status-Abbrev}\n' | LC_ALL=C sort
}
# apt_config: the sources and preferences apt reads, with their contents (what ensure-docker
# must leave as it found it).
apt_config() {
	host_sh 'cd /etc/apt && for f in $(find sources.list sources.list.d preferences preferences.d \
		-type f 2>/dev/null | LC_ALL=C sort); do echo "== $f"; cat "$f"; done'
}
# compare BEFORE AFTER WHAT: fails if a package of BEFORE is missing from AFTER or has another
# version or status there; prints the names of the added packages.
compare() {
	local changed
	changed=$(awk 'NR == FNR { after[$1] = $2 " " $3; next }
		!($1 in after) { print "removed " $1 " " $2; next }
		after[$1] != $2 " " $3 { print "changed " $1 " " $2 " " $3 " -> " after[$1] }' \
		<(printf '%s\n' "$2") <(printf '%s\n' "$1"))
	if [[ -n $changed ]]; then
		printf '%s\n' "$changed" >&2
		fail "$3: $(wc -l <<<"$changed") package(s) upgraded, removed or changed: $(head -n 3 <<<"$changed" | paste -sd ';' -)"
	fi
	LC_ALL=C join -v 1 <(printf '%s\n' "$2" | cut -d' ' -f1) <(printf '%s\n' "$1" | cut -d' ' -f1)
}

# A fresh Debian 12 machine has no Docker Engine: remove the image's, so it is installed too.
host_exec env DEBIAN_FRONTEND=noninteractive apt-get purge -y -q docker.io >&2
host_exec sh -c '! command -v dockerd' >/dev/null || fail "dockerd is still there after purging docker.io"

# --- 1. the refusal: a plan that would upgrade a package changes nothing ---------------------------
deps=$(host_exec apt-cache depends tmux) || fail "apt-cache depends tmux failed"
[[ $deps == *"Depends: libutempter0"* ]] || fail "tmux no longer depends on libutempter0: choose another package for the refusal"
host_exec sh -c '! dpkg-query -W libutempter0 >/dev/null 2>&1' || fail "libutempter0 is already installed in the host image"
# An empty libutempter0 0.1, older than bookworm's 1.2.1-3 and than tmux's (>= 1.1.5).
host_sh 'mkdir -p /root/fake/DEBIAN && cat >/root/fake/DEBIAN/control <<EOF
Package: libutempter0
Version: 0.1-e2e
Architecture: $(dpkg --print-architecture)
Multi-Arch: same
Maintainer: e2e <e2e@example.invalid>
Description: stand-in older libutempter0 (setup-no-upgrade)
EOF
dpkg-deb --build /root/fake /root/libutempter0_0.1.deb >/dev/null && dpkg -i /root/libutempter0_0.1.deb >/dev/null'
before=$(packages)
apt_before=$(apt_config)
rc=0
out=$(host_exec ensure-docker --no-start 2>&1) || rc=$?
printf '%s\n' "$out" >&2
((rc != 0)) || fail "ensure-docker installed although tmux needs a newer libutempter0 (exit 0)"
[[ $out == *"would upgrade or remove the packages above; nothing was changed"* ]] ||
	fail "ensure-docker failed without its refusal message (exit $rc): $(tail -n 1 <<<"$out")"
[[ $out == *"Inst libutempter0 [0.1-e2e]"* ]] || fail "the refusal does not show the libutempter0 upgrade"
added=$(compare "$before" "$(packages)" "refused set-up")
[[ -z $added ]] || fail "the refused set-up installed packages: $(paste -sd ' ' - <<<"$added")"
assert_eq "$apt_before" "$(apt_config)" "apt sources and preferences after the refused set-up"
log "refused: the plan would upgrade libutempter0; nothing was installed, upgraded or removed"
host_exec dpkg --purge libutempter0 >&2

# --- 2. the real set-up: packages added, none upgraded or removed --------------------------------
before=$(packages)
apt_before=$(apt_config)
t0=$EPOCHREALTIME
if ! out=$(host_exec ensure-docker --no-start 2>&1); then
	printf '%s\n' "$out" >&2
	host_exec tail -n 30 /var/log/ensure-docker-apt.log >&2 || true
	fail "ensure-docker --no-start failed: $(tail -n 1 <<<"$out")"
fi
printf '%s\n' "$out" >&2
secs=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
after=$(packages)
added=$(compare "$before" "$after" "set-up")
assert_eq "$apt_before" "$(apt_config)" "apt sources and preferences after the set-up"
if host_exec grep -rEl '\b(trixie|sid|testing|unstable|forky)\b' /etc/apt/sources.list /etc/apt/sources.list.d \
	/etc/apt/preferences.d >&2 2>/dev/null; then
	fail "an apt source or preference names another release (above)"
fi
codenames=$(host_exec apt-get indextargets --format '$(CODENAME)' | sort -u | paste -sd ' ' -)
[[ -n $codenames && ! $codenames =~ (^| )(trixie|sid|testing|unstable|forky) ]] ||
	fail "apt reads another release's indexes: $codenames"
# Each tool it promises is there (print-packages lists the packages; each must be installed now).
mapfile -t wanted < <(host_exec ensure-docker --print-packages)
((${#wanted[@]} > 5)) || fail "ensure-docker --print-packages listed ${#wanted[@]} packages"
for pkg in "${wanted[@]}"; do
	host_exec dpkg-query -W -f='${db:Status-Abbrev}' "$pkg" 2>/dev/null | grep -q '^ii' ||
		fail "ensure-docker did not install $pkg"
done
engine=$(host_exec dpkg-query -W -f='${Version}' docker.io)
[[ $engine == 20.10.* ]] || fail "docker.io $engine is not bookworm's 20.10"
# A second run has nothing to do: silent and quick.
t1=$EPOCHREALTIME
out=$(host_exec ensure-docker --no-start 2>&1) || fail "the second ensure-docker run failed: $out"
[[ -z $out ]] || fail "the second ensure-docker run printed: $out"
secs2=$(awk -v a="$t1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
assert_eq "$after" "$(packages)" "packages after the second run"
log "bookworm: ensure-docker added $(wc -l <<<"$added") packages (docker.io $engine) in $secs s, upgraded and removed none, added no apt source; refused an upgrading plan; second run $secs2 s"

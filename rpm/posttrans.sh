# %posttrans: once the whole transaction is done (the replaced package's %postun included). After
# an upgrade whose %post took a backup (/run/mathesar-rpm-upgrade names it), as the .deb's
# postinst does: the images pulled first, with progress (a failed pull is explained and leaves the
# running Mathesar as it is), then `mathesarctl upgrade --restart` on that backup, which puts the
# previous release back by itself when the new Mathesar fails its first start (exit 16). A
# disabled unit is not started. RPM cannot fail a transaction here: the messages say what to do.
# DPKG_ROOT (never set by rpm): the tests run this script on a scratch tree with it.
pending=${DPKG_ROOT:-}/run/mathesar-rpm-upgrade
[ -f "$pending" ] || exit 0
backup_dir=$(head -n 1 "$pending")
rm -f "$pending"
systemctl daemon-reload >/dev/null 2>&1 || :
systemctl --quiet is-enabled mathesar.service 2>/dev/null || exit 0
# A package operation is not a crash loop: its start must not hit the unit's start limit.
systemctl reset-failed mathesar.service >/dev/null 2>&1 || :
version=$(rpm -q --qf '%{VERSION}-%{RELEASE}\n' mathesar 2>/dev/null | tail -n 1)
rc=0
mathesarctl images pull --if-configured >&2 || rc=$?
if [ "$rc" -eq 0 ]; then
	mathesarctl upgrade --restart --backup-dir "$backup_dir" ${version:+--package-version "$version"} >&2 || rc=$?
fi
case $rc in
0) ;;
10)
	echo "mathesar: upgraded and configured, but not restarted: the images could not be pulled (see above); the running Mathesar was left as it is." >&2
	echo "mathesar: once fixed: mathesarctl images pull && mathesarctl upgrade" >&2
	;;
16)
	echo "mathesar: the upgrade failed and was put back; the previous Mathesar serves (see above, and: mathesarctl status)." >&2
	echo "mathesar: retry with: mathesarctl upgrade" >&2
	;;
*)
	echo "mathesar: the service did not restart; see: systemctl status mathesar, mathesarctl status" >&2
	echo "mathesar: the backup taken just before this upgrade: $backup_dir (mathesarctl restore --no-start $backup_dir)" >&2
	;;
esac
exit 0

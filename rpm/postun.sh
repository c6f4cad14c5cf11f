# %postun. $1: 0 after an erase, 1 or more after an upgrade (the package being replaced runs it).
# After an upgrade the new package's %posttrans restarts the service (/run/mathesar-rpm-upgrade,
# written by its %post, names the backup it took); a package without one (an older release, a
# downgrade) is restarted here, on the new binary and configuration, if it was running.
systemctl daemon-reload >/dev/null 2>&1 || :
if [ "$1" -ge 1 ] && [ ! -f "${DPKG_ROOT:-}/run/mathesar-rpm-upgrade" ]; then
	systemctl try-restart mathesar.service >/dev/null 2>&1 || :
fi
exit 0

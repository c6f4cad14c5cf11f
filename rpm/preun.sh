# %preun. $1: 0 when the package is erased, 1 or more on an upgrade.
# Erase: stop and disable the service; the configuration (/etc/mathesar) and the data are kept
# (remove them with `mathesarctl purge` before erasing).
if [ "$1" -eq 0 ]; then
	echo "mathesar: %preun: erase; stopping the service, keeping the configuration and the data"
	systemctl --no-reload disable --now mathesar.service >/dev/null 2>&1 || :
	systemctl --no-reload disable --now mathesar-backup.timer mathesar-backup-verify.timer mathesar-refresh.timer >/dev/null 2>&1 || :
fi
exit 0

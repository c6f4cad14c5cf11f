# %postun. $1: 0 after an erase, 1 or more after an upgrade: restart on the new binary and
# configuration if the service was running.
systemctl daemon-reload >/dev/null 2>&1 || :
if [ "$1" -ge 1 ]; then
	systemctl try-restart mathesar.service >/dev/null 2>&1 || :
fi
exit 0

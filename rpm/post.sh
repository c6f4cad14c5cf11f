# %post. $1: 1 on a first installation, 2 or more on an upgrade.
# No debconf here: configure without questions from /etc/mathesar/answers.yml or MATHESAR_*
# variables when present; an existing configuration is re-rendered with this release's images
# (answers and secrets kept). Otherwise print the one command to run.
# DPKG_ROOT (dpkg's variable for another root; rpm never sets it): the tests run this script on a
# scratch tree with it.
root=${DPKG_ROOT:-}
answers=$root/etc/mathesar/answers.yml
pending=/run/mathesar-rpm-upgrade
rm -f "$root$pending"
if [ "$1" -eq 1 ]; then
	echo "mathesar: %post: first installation"
	systemctl --no-reload preset mathesar.service >/dev/null 2>&1 || :
else
	echo "mathesar: %post: upgrade"
fi
if [ -f "$root/etc/mathesar/.env" ] || [ -f "$root/etc/default/mathesar" ]; then
	# An upgrade backs up the databases and the configuration first (prints where). %post cannot
	# stop an RPM transaction: on a failed backup the old configuration is left as it is.
	# Recorded as of the version being replaced (the oldest installed one during an upgrade), as
	# debian/postinst does: the manifest must name the version the data was written by.
	of_version=
	if [ "$1" -ge 2 ]; then
		of_version=$(rpm -q --qf '%{INSTALLTIME} %{VERSION}\n' mathesar 2>/dev/null | sort -n | head -n 1 | cut -d' ' -f2)
	fi
	if [ "$1" -ge 2 ]; then
		# The path is printed on stdout.
		if ! backup_dir=$(mathesarctl backup --to /var/backups/mathesar --reason upgrade --if-configured ${of_version:+--of-version "$of_version"}); then
			echo "mathesar: the backup before the upgrade failed (see above); the configuration was not changed." >&2
			echo "mathesar: fix the cause, then run: mathesarctl upgrade" >&2
			exit 0
		fi
		if [ -n "$backup_dir" ]; then
			echo "mathesar: backup before the upgrade: $backup_dir"
			# For %posttrans, which restarts the service on this release once the transaction is
			# done (and puts the previous one back on this backup if it fails to start).
			(umask 077 && printf '%s\n' "$backup_dir" >"$root$pending")
		fi
	fi
	if ! mathesarctl configure --non-interactive --no-start; then
		echo "mathesar: the configuration could not be updated; run: mathesarctl configure" >&2
	fi
elif [ -f "$answers" ]; then
	if mathesarctl configure --non-interactive --no-start --answers "$answers"; then
		echo "mathesar: configured from $answers; start it with: systemctl enable --now mathesar"
	else
		echo "mathesar: not configured; fix $answers, then run: mathesarctl configure --answers $answers" >&2
	fi
elif env | grep -q '^MATHESAR_'; then
	if mathesarctl configure --non-interactive --no-start; then
		echo "mathesar: configured from MATHESAR_* variables; start it with: systemctl enable --now mathesar"
	else
		echo "mathesar: not configured; run: mathesarctl configure" >&2
	fi
else
	echo "mathesar: not configured yet. Run: mathesarctl configure && systemctl enable --now mathesar"
fi
# The backup and drill timers, when `mathesarctl configure` enabled them (the answer `backup`).
for t in mathesar-backup.timer mathesar-backup-verify.timer mathesar-refresh.timer; do
	if [ -z "$root" ] && systemctl -q is-enabled "$t" 2>/dev/null; then
		systemctl start "$t" >/dev/null 2>&1 || :
	fi
done
exit 0

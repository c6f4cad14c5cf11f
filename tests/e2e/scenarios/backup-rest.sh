# shellcheck shell=bash
# e2e-needs: host, stack, rest
# Backups on restic into a REST repository (Debian's rclone, `rclone serve restic`, basic
# authentication), with the real Mathesar: installed with `rest:http://backup@HOST:PORT/m1/` and
# the server's password as debconf answers (then only in /etc/mathesar/backup-rest-password,
# 0600; not in debconf's database, ps or the journal); the backup unit stores a snapshot and
# status shows it. Interrupted: the server cut for 15 s while restic uploads (carried over by
# restic's retries: the backup succeeds, restic check --read-data passes); then the drill restores
# the latest. A server gone for good, then a full server disk: restic 0.14 would retry for many
# minutes; the package stops it once every request has failed for MATHESAR_BACKUP_RETRY_SECONDS
# (20 here), the unit fails saying why, and once the server is back the next backup passes
# `restic check --read-data`. Last, refused credentials fail the unit with a line naming the
# answer backup-rest-password.
# shellcheck source=pkg-common.inc
source "$E2E_DIR/scenarios/pkg-common.inc"
# shellcheck source=backup-common.inc
source "$E2E_DIR/scenarios/backup-common.inc"
pkg_host
# Characters a URL must encode (@ % : /), so that the password's way into restic is tested too.
rest_password="R3st@p%ss:/$(sha256_of "rest-$RANDOM" | cut -c1-20)"
admin_password="Adm1n-$(sha256_of "$E2E_NAME-$RANDOM" | cut -c1-20)"
backup_password="Rep0-$(sha256_of "repo-$RANDOM" | cut -c1-24)"
for s in "$rest_password" "$admin_password" "$backup_password"; do secret "$s"; done
REST_TMPFS=256m rest_start "$rest_password"
preseed_bed "mathesar/admin-password password $admin_password" \
	"mathesar/backup-repository string $rest_repo" "mathesar/backup-password password $backup_password" \
	"mathesar/backup-rest-password password $rest_password"
apt_install "$deb"
wait_up "$http_port"
db_password=$(env_value MATHESAR_DB_PASSWORD)
secret "$db_password"

log "the answers and the password's file"
assert_file_mode /etc/mathesar/backup-rest-password 600 root:root
assert_eq "$rest_password" "$(host_exec cat /etc/mathesar/backup-rest-password)" "the REST password kept"
host_exec grep -q "^MATHESAR_BACKUP_REPOSITORY=\"$rest_repo\"" /etc/mathesar/.env || fail "the repository answer is not stored as given"
! host_exec grep -rqF -- "$rest_password" /var/cache/debconf/ || fail "the REST password stayed in debconf's database"
! host_exec grep -qF -- "$rest_password" /etc/mathesar/.env || fail "the REST password is in .env"

# sample_ps: every command line in the host every 100 ms, into /root/ps.log, until ps_stop.
sample_ps() { host_sh 'nohup sh -c "while :; do ps -eo args; sleep 0.1; done" >>/root/ps.log 2>&1 & echo $! >/root/ps.pid'; }
# shellcheck disable=SC2016 # run by the host's shell
ps_stop() { host_sh 'kill "$(cat /root/ps.pid)"'; }

log "the backup unit; ps sampled from now on"
sample_ps
host_exec systemctl start mathesar-backup.service ||
	fail "mathesar-backup.service failed: $(host_exec journalctl -u mathesar-backup.service --no-pager -n 20)"
assert_eq 1 "$(restic_rest snapshots --json --tag mathesar | jq length)" "snapshots after the first backup"
first=$(backups_json | jq -r '.last_backup.snapshot // empty')
[[ -n $first ]] || fail "status shows no last backup: $(backups_json)"
assert_eq "$rest_repo" "$(backups_json | jq -r .last_backup.repository)" "the repository in status (no password)"
host_exec mathesarctl status | grep -E '^(backups|  last)' >&2 || true

# unit_fails WHAT NEEDLE...: the backup unit (started already, or now) has failed with an error
# line holding every NEEDLE.
unit_fails() {
	local what=$1 line n
	shift
	assert_eq failed "$(host_exec systemctl show -P ActiveState mathesar-backup.service)" "the unit after $what"
	line=$(host_exec journalctl -u mathesar-backup.service -p err --no-pager -o cat | grep -F "failed" | tail -n 1 || true)
	log "journal ($what): $line"
	for n in "$@"; do [[ $line == *"$n"* ]] || fail "after $what the journal does not say '$n': $line"; done
}

# backup_uploading TABLE: new rows in TABLE (their own: restic would deduplicate another table's),
# the backup unit started in the background (its pid in unit); returns once restic uploads a pack
# of it (uploads run at most 4 MB/s: a pack of several MB takes seconds).
backup_uploading() {
	docker exec mathesar_db psql -U mathesar -d mathesar -qc \
		"CREATE TABLE $1 AS SELECT g, md5(g || '$1') || md5((g * 7) || '$1') AS v FROM generate_series(1, 400000) g" ||
		fail "could not fill the table $1"
	docker exec "$rest_container" touch /run/before-upload
	host_exec systemctl start mathesar-backup.service &
	unit=$!
	wait_for "docker exec $rest_container find /srv/restic/m1/data -type f -newer /run/before-upload | grep -q ." 300 \
		"restic to upload a pack" || fail "restic never uploaded ($1)"
}
log "the server cut while restic uploads, back 15 s later"
# restic 0.14 retries each request about ten times over about a minute (and then each further
# request again): a cut shorter than that is carried over, a longer one ends in many minutes.
backup_uploading big
rest_cut
sleep 15
rest_serve
wait "$unit" || fail "the backup cut for 15 s failed: $(host_exec journalctl -u mathesar-backup.service -p err --no-pager -o cat | tail -n 1)"
restic_rest check --read-data >&2 || fail "restic check failed after the cut"
assert_eq 2 "$(restic_rest snapshots --json --tag mathesar | jq length)" "snapshots after the cut backup"

log "the drill restores the latest"
drill_passes

# backup_given_up TABLE WHAT: a backup with new rows in TABLE, while WHAT happens to the server
# once restic uploads (a function: rest_cut, or filling its disk); the unit must fail within the
# bound and what restic needs to end after it, saying that it gave up.
backup_given_up() {
	local what=$2 t0 took
	backup_uploading "$1"
	"$what"
	t0=$SECONDS
	if wait "$unit"; then fail "the backup succeeded ($what)"; fi
	took=$((SECONDS - t0))
	# The bound (20 s) from the first retry, a retry's wait (at most a minute), restic's 15 s to end.
	((took <= 20 + 60 + 15 + 30)) || fail "the backup gave up only after $took s ($what)"
	log "$what: the unit failed $took s after it"
}
rest_full() {
	docker exec "$rest_container" sh -c 'dd if=/dev/zero of=/srv/restic/filler bs=1M 2>/dev/null; true'
}

log "the server gone for good, then its disk full: the backup gives up after MATHESAR_BACKUP_RETRY_SECONDS"
host_sh 'echo MATHESAR_BACKUP_RETRY_SECONDS=20 >>/etc/default/mathesar'
newest() { restic_rest snapshots --json --tag mathesar | jq -r 'max_by(.time) | .id'; }
before=$(newest)
backup_given_up gone1 rest_cut
unit_fails "the server gone" "stopped after the repository's server had failed every request for" "cannot be reached"
rest_serve
backup_given_up full1 rest_full
unit_fails "a full server disk" "stopped after the repository's server had failed every request for" "is full"
docker exec "$rest_container" rm -f /srv/restic/filler
host_exec systemctl start mathesar-backup.service ||
	fail "the backup after the server came back failed: $(host_exec journalctl -u mathesar-backup.service -p err --no-pager -o cat | tail -n 1)"
restic_rest check --read-data >&2 || fail "restic check failed after the given-up backups"
# (The retention's forget decides how many snapshots stay: the newest is what must be new.)
after=$(newest)
[[ -n $after && $after != "$before" ]] || fail "the backup after the server came back made no new snapshot"
last=$(backups_json | jq -r '.last_backup.snapshot // empty')
[[ -n $last && $after == "$last"* ]] || fail "status shows $last as the last backup, not the new snapshot $after"

log "refused credentials"
rest_cut
rest_password "another-$(sha256_of "other-$RANDOM" | cut -c1-12)"
rest_serve
rc=0
host_exec systemctl start mathesar-backup.service || rc=$?
((rc != 0)) || fail "the backup unit succeeded with a refused password"
unit_fails "a refused password" "refuses the user $REST_USER" "backup-rest-password"

log "no secret in ps or the journal"
ps_stop
for s in "$rest_password" "$backup_password" "$db_password" "$admin_password"; do
	! host_exec grep -qF -- "$s" /root/ps.log || fail "a secret appeared in ps during a backup"
	! host_exec journalctl -b --no-pager | grep -qF -- "$s" || fail "a secret appeared in the journal"
done
encoded=$(jq -rn --arg p "$rest_password" '$p | @uri')
! host_exec journalctl -b --no-pager | grep -qF -- "$encoded" || fail "the URL-encoded REST password appeared in the journal"

# shellcheck shell=bash
# e2e-needs: host, stack, pg13
# e2e-lane: seeded
# shellcheck disable=SC2016 # the host's shell expands $1 and the like
# PostgreSQL's major upgrade, for real, on one host: the bundled database image is the real
# pgautoupgrade. The package installed, then its data replaced by a cluster initialised by
# PostgreSQL 13 (the postgres:13 image) holding the package's databases (dumped and loaded: the
# admin, the connected user database) and a table with rows; the next start upgrades it
# to 17 (pg_upgrade), the rows are there through Mathesar's API, the admin logs in. Again with a
# cluster initialised by PostgreSQL 15 (Debian 12's, inside the database image). Then a 13 cluster
# again on a full disk: (a) too little room: the start is refused before the upgrade (exit 12,
# both numbers, files unchanged); (b) the disk fills up half-way through pg_upgrade: the start
# fails, the package puts the old cluster back in place and says so, PostgreSQL 13 still starts it
# with its rows; once space is freed, the upgrade succeeds. The data directory is a tmpfs of the
# machine (mounted before the host starts: the database container sees it too). The upgrade's
# check runs before the preflight (which wants 1 GiB free for the data directory): (a) leaves
# 100 MiB, (b) passes both and fills the disk once pgautoupgrade has taken its lock.
# shellcheck source=pkg-common.inc
source "$E2E_DIR/scenarios/pkg-common.inc"
mount -t tmpfs -o size=2g,mode=0700 tmpfs "$E2E_DATA_DIR" || fail "could not mount a tmpfs at $E2E_DATA_DIR"
trap 'umount -l "$E2E_DATA_DIR" 2>/dev/null || true' EXIT
pkg_host
admin_password="Adm1n-$(sha256_of "$E2E_NAME-$RANDOM" | cut -c1-20)"
secret "$admin_password"
base="http://127.0.0.1:$http_port/"
pgdata=$E2E_DATA_DIR/pgdata
preseed_bed "mathesar/admin-password password $admin_password"
apt_install "$deb"
wait_up "$http_port"
db_password=$(env_value MATHESAR_DB_PASSWORD)
secret "$db_password"

# The package's own databases (Mathesar's, with the admin and the connected user database, and
# the user database with Mathesar's schemas), dumped once to be loaded into the old clusters.
docker exec mathesar_db pg_dump -U mathesar -d mathesar_django >"$E2E_WORK/django.sql" || fail "could not dump mathesar_django"
docker exec mathesar_db pg_dump -U mathesar -d mathesar >"$E2E_WORK/user.sql" || fail "could not dump the user database"
grep -q mathesar_user "$E2E_WORK/django.sql" || fail "the dump of mathesar_django has no users table"
{
	echo '\connect mathesar_django'
	cat "$E2E_WORK/django.sql"
	echo '\connect mathesar'
	cat "$E2E_WORK/user.sql"
	echo 'CREATE TABLE public.kept_rows (id integer PRIMARY KEY, v text);'
	echo "INSERT INTO public.kept_rows VALUES (1, 'row 1'), (2, 'row 2'), (3, 'row 3');"
} >"$E2E_WORK/databases.sql"
host_exec systemctl stop mathesar.service

# old_cluster VERSION: pgdata replaced by a cluster initialised by PostgreSQL VERSION holding the
# package's databases (an older PostgreSQL's psql says "invalid command" to the newer pg_dump's
# \restrict lines and the like, which changes nothing) and the table kept_rows.
old_cluster() {
	local version=$1 name=e2e-pg$1-$E2E_NAME load
	find "$pgdata" -mindepth 1 -delete
	if [[ $version == 13 ]]; then
		docker run -d --name "$name" --label mathesar-e2e=1 -e POSTGRES_USER=mathesar -e POSTGRES_DB=mathesar_django \
			-e POSTGRES_PASSWORD="$db_password" -v "$pgdata:/var/lib/postgresql/data" postgres:13 >/dev/null
		# The entrypoint first runs a socket-only server to initialise; TCP answers once it is done.
		wait_for "docker exec $name pg_isready -q -h 127.0.0.1" 60 "PostgreSQL 13" || fail "postgres:13 did not start"
		docker exec "$name" psql -q -U mathesar -d postgres -c 'CREATE DATABASE mathesar' >/dev/null
		load=$(docker exec -i "$name" psql -q -U mathesar -d postgres <"$E2E_WORK/databases.sql" 2>&1) || true
		docker stop "$name" >/dev/null
		docker rm "$name" >/dev/null
	else
		# Debian 12's PostgreSQL 15 in the database image (where pgautoupgrade runs it from).
		load=$(docker run --rm -i --user 999:999 -e PW="$db_password" -e V="$version" \
			-v "$pgdata:/var/lib/postgresql/data" --entrypoint bash "$(image_of db)" -c '
			set -euo pipefail
			export PATH=/usr/local-pg$V/bin:$PATH PGDATA=/var/lib/postgresql/data
			initdb -U mathesar --pwfile=<(printf "%s\n" "$PW") >/dev/null
			printf "\nhost all all all scram-sha-256\n" >>"$PGDATA/pg_hba.conf"
			pg_ctl -w -o "-c listen_addresses= -k /tmp" start >/dev/null
			psql -q -h /tmp -U mathesar -d postgres -c "CREATE DATABASE mathesar_django" -c "CREATE DATABASE mathesar"
			psql -q -h /tmp -U mathesar -d postgres || true
			pg_ctl -w stop >/dev/null' <"$E2E_WORK/databases.sql" 2>&1) || fail "could not make a PostgreSQL $version cluster"
	fi
	log "PostgreSQL $version cluster made; the load said: $(grep -c ERROR <<<"$load" || true) errors, first: $(grep -m1 ERROR <<<"$load" || true)"
	assert_eq "$version" "$(cat "$pgdata/PG_VERSION")" "PG_VERSION of the old cluster"
}

# upgraded_and_serving VERSION: started, upgraded to 17, the rows there, the admin logs in.
upgraded_and_serving() {
	local since t0=$SECONDS t_start
	since=$(host_exec date '+%Y-%m-%d %H:%M:%S')
	t_start=$(date +%s)
	host_exec timeout 900 systemctl start mathesar.service || fail "PostgreSQL $1: the start with the upgrade failed"
	wait_up "$http_port"
	assert_eq 17 "$(cat "$pgdata/PG_VERSION")" "PG_VERSION after the upgrade from $1"
	[[ ! -e $pgdata/old && ! -e $pgdata/upgrade_in_progress.lock ]] || fail "PostgreSQL $1: the upgrade left old/ or its lock"
	assert_eq "row 1,row 2,row 3" "$(psql_db "$db_password" "$db_port" 'SELECT string_agg(v, $$,$$ ORDER BY id) FROM kept_rows')" "rows after the upgrade from $1"
	assert_login "$base" admin "$admin_password"
	assert_eq "row 1,row 2,row 3" "$(api_rows "$base" admin "$admin_password" kept_rows)" "rows through the API after the upgrade from $1"
	# (Read whole first: `grep -q` ending a pipe early would fail it under pipefail.)
	local journal logs
	journal=$(host_exec journalctl -u mathesar.service --since "$since" -o cat --no-pager)
	[[ $journal == *"upgrades the PostgreSQL $1 data in $pgdata to PostgreSQL 17"* ]] || fail "the journal does not announce the upgrade from $1"
	logs=$(docker logs --since "$t_start" mathesar_db 2>&1)
	[[ $logs == *"Performing PG upgrade on version $1 database files"*"Upgrade to PostgreSQL 17 complete"* ]] ||
		fail "pgautoupgrade did not say it upgraded from $1"
	log "PostgreSQL $1 -> 17: upgraded, Mathesar serving with the rows, in $((SECONDS - t0)) s"
	host_exec systemctl stop mathesar.service
}

for version in 13 15; do
	old_cluster "$version"
	upgraded_and_serving "$version"
done

# start_refused WHAT: the start fails with exit status 12 of mathesarctl; prints the journal of it.
start_refused() {
	local since
	host_exec systemctl reset-failed mathesar.service 2>/dev/null || true
	since=$(host_exec date '+%Y-%m-%d %H:%M:%S')
	if host_exec timeout 900 systemctl start mathesar.service; then fail "$1: the start succeeded"; fi
	# Restart=on-failure would try again by itself: stopped here, the scenario decides.
	host_exec systemctl stop mathesar.service
	assert_eq 12 "$(host_exec systemctl show -P ExecMainStatus mathesar.service)" "$1: exit status of mathesarctl run"
	host_exec journalctl -u mathesar.service --since "$since" -o cat --no-pager
}
tree_sum() { (cd "$pgdata" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum); }

log "(a) too little room for the upgrade: refused before it starts"
old_cluster 13
before=$(tree_sum)
free_kib=$(df --output=avail -k "$E2E_DATA_DIR" | tail -n 1 | tr -d ' ')
fallocate -l "$(((free_kib - 100 * 1024) * 1024))" "$E2E_DATA_DIR/filler" # 100 MiB left
journal=$(start_refused "too little room")
grep -Eq "PostgreSQL 13 data in $pgdata must be upgraded to PostgreSQL 17 .*about [0-9]+ MiB free.* (9[0-9]|100) MiB are free" <<<"$journal" ||
	fail "the refusal does not say what the upgrade needs: $(tail -n 5 <<<"$journal")"
assert_eq "$before" "$(tree_sum)" "the PostgreSQL 13 files after the refusal"
status=$(host_exec mathesarctl status 2>&1 || true)
grep -q "database files: PostgreSQL 13 data, upgraded to 17 at the database's next start" <<<"$status" ||
	fail "mathesarctl status does not say the upgrade is pending: $status"
log "(a) refused with exit 12, files unchanged: $(grep -m1 -o 'needs about [0-9]* MiB free on its file system; [0-9]* MiB are free' <<<"$journal")"

log "(b) the disk fills up half-way through the upgrade"
rm "$E2E_DATA_DIR/filler"
need=$(grep -m1 -o 'about [0-9]* MiB free' <<<"$journal" | tr -dc 0-9)
free_kib=$(df --output=avail -k "$E2E_DATA_DIR" | tail -n 1 | tr -d ' ')
# What passes both the upgrade's check and the preflight's (1 GiB at least for the data directory).
leave=$((need + 8 > 1024 + 64 ? need + 8 : 1024 + 64))
fallocate -l "$(((free_kib - leave * 1024) * 1024))" "$E2E_DATA_DIR/filler"
# Once pgautoupgrade has taken its lock, the rest of the disk is taken at once.
(
	for _ in $(seq 1 1200); do
		[[ -e $pgdata/upgrade_in_progress.lock ]] && break
		sleep 0.05
	done
	fallocate -l "$(df --output=avail -B1 "$E2E_DATA_DIR" | tail -n 1 | tr -d ' ')" "$E2E_DATA_DIR/filler2" 2>/dev/null || true
	dd if=/dev/zero of="$E2E_DATA_DIR/filler3" bs=64k status=none 2>/dev/null || true
) &
filler_pid=$!
journal=$(start_refused "a full disk during the upgrade")
wait "$filler_pid" || true
# The cause is PostgreSQL's or pg_upgrade's own words for the full disk, which depend on the step
# the disk filled at: "No space left on device", or "could not write init file" (a server of
# pg_upgrade's starting) and the like.
grep -Eq "the upgrade of the PostgreSQL 13 data in $pgdata to PostgreSQL 17 failed .*(No space left on device|could not (write|extend|create)).*the old cluster was put back in place, unchanged" <<<"$journal" ||
	fail "the journal does not say the upgrade failed and the old cluster is back: $(grep -E 'error|warning|upgrade' <<<"$journal" | tail -n 8); the database's log: $(docker logs mathesar_db 2>&1 | grep -Ev '^-+$|^\*+$' | tail -n 15)"
assert_eq 13 "$(cat "$pgdata/PG_VERSION")" "PG_VERSION after the failed upgrade"
for left in old new upgrade_in_progress.lock; do
	[[ ! -e $pgdata/$left ]] || fail "the failed upgrade's $left is still in $pgdata"
done
db_logs=$(docker logs mathesar_db 2>&1)
[[ $db_logs == *"No space left on device"* ]] || fail "the database's log does not show the full disk"
rm -f "$E2E_DATA_DIR/filler2" "$E2E_DATA_DIR/filler3"
# The old cluster as it was: PostgreSQL 13 starts it, the rows are there.
name=e2e-pg13-check-$E2E_NAME
docker run -d --name "$name" --label mathesar-e2e=1 -v "$pgdata:/var/lib/postgresql/data" postgres:13 >/dev/null
wait_for "docker exec $name pg_isready -q -h 127.0.0.1" 60 "PostgreSQL 13 on the old cluster" || fail "PostgreSQL 13 does not start the old cluster: $(docker logs "$name" 2>&1 | tail -n 3)"
assert_eq "row 1,row 2,row 3" "$(docker exec "$name" psql -U mathesar -d mathesar -Atc 'SELECT string_agg(v, $$,$$ ORDER BY id) FROM kept_rows')" "rows of the old cluster under PostgreSQL 13"
docker stop "$name" >/dev/null
docker rm "$name" >/dev/null
log "(b) the failed upgrade: exit 12, the old cluster back in place, PostgreSQL 13 runs it with its rows"

rm "$E2E_DATA_DIR/filler"
upgraded_and_serving 13
log "after freeing space, the upgrade succeeded"

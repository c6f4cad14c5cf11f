# shellcheck shell=bash
# e2e-needs: host, stack
# e2e-lane: seeded
# shellcheck disable=SC2016,SC2119 # literal ${...} in single quotes; helpers take optional arguments
# Secret scan (R7): a preseeded install with distinctive database and admin passwords, a
# dpkg-reconfigure that changes the database password, and a purge. While each runs, `ps -eo args`
# is sampled in the host; after each, the secrets (the passwords, old and new, and SECRET_KEY) are
# searched for in the journal (every field), the debconf databases, /var/log, /tmp, /var/tmp
# (except the data directory), every file a non-root user can read (`find / -xdev -type f -perm
# -o+r`, /proc and /sys excluded), and the logs of the stack's containers. Only the configuration
# directory (root only, 0700) may hold them. A canary planted in a file, the journal and a
# process's arguments must be found in exactly those places (the search's own check).
# Figure: places scanned, secrets found (must be 0).
# shellcheck source=pkg-common.inc
source "$E2E_DIR/scenarios/pkg-common.inc"

deb=$(pkg_deb)
no_other_stack
host_start
unit_dropin
config_dir /etc/mathesar
http_port=$(free_port)
db_port=$(free_port)
# Letters and digits only, so that no escaping anywhere could hide a copy from a plain search.
rand() { sha256_of "$E2E_NAME-$1-$RANDOM-$EPOCHREALTIME" | cut -c1-24; }
db_password=DbPw$(rand db)
admin_password=AdPw$(rand admin)
new_db_password=NewDbPw$(rand new)
for s in "$db_password" "$admin_password" "$new_db_password"; do secret "$s"; done

# sampler_start / sampler_stop: `ps -eo args` in the host every 20 ms into /root/ps-samples (a
# sample per block, separated by a line "--").
sampler_start() {
	host_exec sh -c 'rm -f /root/ps-samples; nohup sh -c "while :; do ps -eww -o args; echo --; sleep 0.02; done" \
		>>/root/ps-samples 2>/dev/null </dev/null & echo $! >/root/sampler.pid'
}
sampler_stop() { host_exec sh -c 'kill "$(cat /root/sampler.pid)"; rm -f /root/sampler.pid'; }

places=0 samples=0
# scan PHASE SECRET...: every place above, the configuration directory and the data directory
# excluded; fails naming the places that hold a secret.
scan() {
	local phase=$1 out n
	shift
	printf '%s\n' "$@" | host_exec sh -c 'cat >/root/secrets.txt && chmod 600 /root/secrets.txt'
	printf '%s' "${canary:-}" | host_exec sh -c 'cat >/root/canary.txt'
	out=$(host_exec bash -s -- "$E2E_DATA_DIR" <<'HOST'
set -uo pipefail
data=$1
echo "samples $(grep -c '^--$' /root/ps-samples 2>/dev/null || echo 0)"
journalctl --no-pager -o verbose >/root/journal 2>/dev/null
{
	find /var/cache/debconf /var/log /tmp /var/tmp -type f -print0 2>/dev/null
	find / -xdev \( -path /proc -o -path /sys \) -prune -o -type f -perm -o+r -print0 2>/dev/null
} | grep -zv -e '^/etc/mathesar/' -e "^$data/" -e '^/root/secrets.txt$' -e '^/root/ps-samples$' -e '^/root/scanned$' -e '^/root/journal$' -e '^/root/canary.txt$' | sort -zu >/root/scanned
echo "places $(($(tr -cd '\0' </root/scanned | wc -c) + 2))"
# "found PLACE" for the secrets; "canary PLACE" for the canary planted to prove the search works.
for kind in found canary; do
	[[ $kind == found ]] && patterns=/root/secrets.txt || patterns=/root/canary.txt
	[[ -s $patterns ]] || continue
	grep -aqFf "$patterns" /root/ps-samples && echo "$kind ps -eo args samples"
	grep -aqFf "$patterns" /root/journal && echo "$kind the journal"
	xargs -0 -r grep -laFf "$patterns" -- </root/scanned 2>/dev/null | sed "s/^/$kind /"
done
rm -f /root/journal
exit 0
HOST
	) || fail "the scan after $phase failed: ${out: -300}"
	# The stack's containers' logs (on the outer engine).
	local id logs=0
	for id in $(stack_containers); do
		logs=$((logs + 1))
		if docker logs "$id" 2>&1 | grep -aqFf <(printf '%s\n' "$@"); then
			out+=$'\n'"found docker logs of $(docker inspect -f '{{.Name}}' "$id")"
		fi
	done
	n=$(sed -n 's/^places //p' <<<"$out")
	places=$((places + n + logs))
	samples=$((samples + $(sed -n 's/^samples //p' <<<"$out")))
	if [[ -n ${canary:-} ]]; then
		# (and the journal's own files under /var/log/journal, when it keeps them on disk)
		assert_eq "/var/tmp/rel-canary|ps -eo args samples|the journal" \
			"$(sed -n 's/^canary //p' <<<"$out" | grep -v '^/var/log/journal/' | sort | paste -sd'|' -)" \
			"places the planted canary was found in (the search's own check)"
	fi
	if grep -q '^found ' <<<"$out"; then
		fail "after $phase a secret was found in: $(sed -n 's/^found //p' <<<"$out" | head -n 10 | paste -sd';' -)"
	fi
	log "after $phase: $n places in the host and $logs containers' logs scanned, no secret found"
}

# 1. Preseeded install.
preseed "mathesar/data-dir string $E2E_DATA_DIR" \
	"mathesar/http-port string $http_port" \
	"mathesar/db-port string $db_port" \
	"mathesar/db-password password $db_password" \
	"mathesar/admin-password password $admin_password"
sampler_start
apt_install "$deb"
wait_up "$http_port"
# A canary in each kind of place, to prove that the search finds what is there.
canary=Canary$(rand canary)
host_exec bash -c 'printf "x %s y\n" "$1" >/var/tmp/rel-canary; logger -t rel "x $1 y"; exec -a "rel $1" sleep 0.5' bash "$canary"
sampler_stop
secret_key=$(env_value SECRET_KEY)
secret "$secret_key"
[[ ${#secret_key} -ge 32 ]] || fail "no SECRET_KEY in .env"
assert_eq "$db_password" "$(env_value MATHESAR_DB_PASSWORD)" "database password in .env"
scan install "$db_password" "$admin_password" "$secret_key"
host_exec rm /var/tmp/rel-canary
canary=

# 2. dpkg-reconfigure with a new database password.
preseed "mathesar/db-password password $new_db_password"
sampler_start
log "dpkg-reconfigure mathesar (new database password)"
host_exec env DEBIAN_FRONTEND=noninteractive dpkg-reconfigure mathesar >&2 || fail "dpkg-reconfigure failed"
wait_up "$http_port"
sampler_stop
assert_eq "$new_db_password" "$(env_value MATHESAR_DB_PASSWORD)" "database password in .env after dpkg-reconfigure"
psql_db "$new_db_password" "$db_port" 'SELECT 1' >/dev/null || fail "psql does not log in with the new password"
scan reconfigure "$db_password" "$admin_password" "$new_db_password" "$secret_key"

# 3. Purge.
sampler_start
log "apt-get purge mathesar"
host_exec env DEBIAN_FRONTEND=noninteractive apt-get purge -y mathesar >&2 || fail "apt-get purge failed"
sampler_stop
if host_exec test -e /etc/mathesar; then fail "purge left /etc/mathesar"; fi
scan purge "$db_password" "$admin_password" "$new_db_password" "$secret_key"
log "R7: $places places scanned over install, reconfigure and purge ($samples ps samples), 0 secrets found"

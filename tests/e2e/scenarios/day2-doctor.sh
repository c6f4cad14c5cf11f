# shellcheck shell=bash
# e2e-needs: host, stack
# e2e-lane: seeded
# mathesarctl doctor --bundle on a running stack configured with hostile passwords: the bundle is
# a 0600 tar.gz with the versions, the unit's status and journal, every container's log and
# state, compose ps and config, and the configuration; a scan for every secret of the
# configuration (passwords, SECRET_KEY, in their raw, .env, Compose and
# JSON forms) finds nothing.
host_start
host_copy "$E2E_BIN" /usr/bin/mathesarctl
config_dir /etc/mathesar

# shellcheck disable=SC2016 # a literal ${x}
db_password='p'\''a"s$s #\ w${x}ö  end-'$RANDOM
admin_password='Adm1n  p@ss "q" \z-'$RANDOM
secret "$db_password"
secret "$admin_password"
http_port=$(free_port)
host_exec env MATHESAR_DATA_DIR="$E2E_DATA_DIR" MATHESAR_HTTP_PORT="$http_port" MATHESAR_DB_PORT= \
	MATHESAR_ADMIN_EMAIL=admin@example.com MATHESAR_DB_PASSWORD="$db_password" \
	MATHESAR_ADMIN_PASSWORD="$admin_password" \
	mathesarctl configure --non-interactive --no-start >&2 || fail "configure failed"
# The secrets of the configuration, as the package wrote them (unescaped from .env).
mapfile -t secrets < <(host_exec python3 -c '
import re
for line in open("/etc/mathesar/.env", encoding="utf-8"):
    m = re.match(r"^([A-Z_]*(PASSWORD|SECRET|TOKEN)[A-Z_]*)=\"(.*)\"$", line.rstrip("\n"))
    if m and m.group(3):
        print(re.sub(r"\\(.)", r"\1", m.group(3)))
')
# The database password and the secret key.
((${#secrets[@]} >= 2)) || fail "expected at least 2 secrets in .env, found ${#secrets[@]}"
for s in "${secrets[@]}"; do secret "$s"; done
secrets+=("$admin_password" "w\${x}ö" "w\$\${x}ö")

log "mathesarctl up"
host_exec timeout 600 mathesarctl up >&2 || fail "mathesarctl up failed: $(stack_diagnose | paste -sd ';' -)"
# Something secret in the logs too: the proxy logs every request it serves.
curl -s -o /dev/null "http://127.0.0.1:$http_port/?q=$(jq -rn --arg v "$db_password" '$v|@uri')" || true

# mathesarctl logs: one service by any of its names, and a wrong name is a usage error.
host_exec mathesarctl logs --tail 5 mathesar_db >"$E2E_WORK/logs.txt" 2>&1 || fail "mathesarctl logs mathesar_db failed"
grep -Eq "^(mathesar_db|db)[ -]" "$E2E_WORK/logs.txt" || fail "no mathesar_db lines in mathesarctl logs: $(head -c 300 "$E2E_WORK/logs.txt")"
rc=0
host_exec mathesarctl logs nothing-like-it >/dev/null 2>&1 || rc=$?
assert_eq 2 "$rc" "exit code of mathesarctl logs with an unknown service"

log "mathesarctl doctor --bundle"
rc=0
host_exec mathesarctl doctor --bundle /root/support.tar.gz >"$E2E_WORK/doctor.txt" 2>&1 || rc=$?
cat "$E2E_WORK/doctor.txt" >&2
grep -q "^== Host checks" "$E2E_WORK/doctor.txt" || fail "doctor printed no host checks"
grep -q "caddy-reverse-proxy" "$E2E_WORK/doctor.txt" || fail "doctor printed no container health"
((rc == 0 || rc == 3)) || fail "doctor exited $rc"
assert_file_mode /root/support.tar.gz 600 root:root
mkdir -p "$E2E_WORK/bundle"
host_exec cat /root/support.tar.gz | tar -C "$E2E_WORK/bundle" -xzf - || fail "the bundle is not a tar.gz"
root=$(find "$E2E_WORK/bundle" -mindepth 1 -maxdepth 1 -type d -name 'mathesar-support-*')
[[ -n $root ]] || fail "no mathesar-support-* directory in the bundle"
for f in versions.txt preflight.txt status.txt status.json systemctl-status.txt journal.txt compose-ps.txt \
	compose-config.txt config/.env config/docker-compose.yml containers/mathesar_db.log \
	containers/mathesar_service.log containers/mathesar_service.inspect.json data-dir.txt; do
	[[ -f $root/$f ]] || fail "the bundle has no $f"
done
grep -q "^MATHESAR_DB_PASSWORD=<redacted>$" "$root/config/.env" || fail "MATHESAR_DB_PASSWORD is not redacted in config/.env"
grep -q '^MATHESAR_HTTP_PORT="'"$http_port"'"$' "$root/config/.env" || fail "plain answers are missing from config/.env"
grep -q "Docker Compose version" "$root/versions.txt" || fail "no Compose version in versions.txt"
# The secret scan: no secret in any form, in any file.
for s in "${secrets[@]}"; do
	if grep -rlF -- "$s" "$root" >"$E2E_WORK/leaks"; then
		fail "a secret is in the bundle: $(paste -sd' ' "$E2E_WORK/leaks")"
	fi
done
log "bundle: $(find "$root" -type f | wc -l) files, no secret found"

host_exec mathesarctl down >&2 || fail "mathesarctl down failed"

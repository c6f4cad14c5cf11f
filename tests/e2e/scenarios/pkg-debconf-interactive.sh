# shellcheck shell=bash
# e2e-needs: host, stack
# e2e-lane: seeded
# shellcheck disable=SC2016,SC2119 # literal ${...} in single quotes; helpers take optional arguments
# The debconf questions for real, typed into the readline frontend under tmux: a default install
# asks only the high-priority questions (database, domain, admin password); a refused answer
# shows the error and asks again; the typed admin password is what the configuration holds, and
# it is not left in the debconf database.
# shellcheck source=pkg-common.inc
source "$E2E_DIR/scenarios/pkg-common.inc"
deb=$(pkg_deb)
host_start
config_dir /etc/mathesar
host_copy "$deb" /root/
name=/root/$(basename "$deb")
http_port=$(free_port)
preseed "mathesar/data-dir string $E2E_DATA_DIR" "mathesar/http-port string $http_port" "mathesar/db-port string "
# Nothing is started: this scenario is about the questions.
printf '#!/bin/sh\nexit 101\n' | host_exec sh -c 'cat >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d'

screen() { host_exec tmux capture-pane -p -t q -S -40; }
# answer PATTERN KEYS...: waits until the screen shows PATTERN, then types KEYS.
answer() {
	local pattern=$1
	shift
	wait_for "screen | grep -qF -- $(printf '%q' "$pattern")" 60 "the prompt '$pattern'" ||
		fail "no prompt '$pattern'; screen: $(screen | tail -n 8)"
	host_exec tmux send-keys -t q "$@"
}
admin_password='typed: p@ss  "x"'
secret "$admin_password"

host_exec tmux new-session -d -s q -x 160 -y 50 \
	"DEBIAN_FRONTEND=readline apt-get install -y $name; echo INSTALL-EXIT=\$?; sleep 3600"
answer "Database for your data:" "1" Enter
answer "Domain name of this Mathesar:" "not a domain!" Enter
# The error is shown (the readline frontend does not wait on it), then the question again.
wait_for "screen | grep -qF 'is refused'" 30 "the error about the domain" ||
	fail "no error for the refused domain; screen: $(screen | tail -n 8)"
wait_for "[[ \$(screen | grep -c 'Domain name of this Mathesar:') -ge 2 ]]" 30 "the domain asked again" ||
	fail "the refused domain was not asked again; screen: $(screen | tail -n 8)"
host_exec tmux send-keys -t q Enter
answer "Password for the first Mathesar administrator:" -l "$admin_password"
host_exec tmux send-keys -t q Enter
wait_for "screen | grep -q INSTALL-EXIT=" 180 "the installation to finish" ||
	fail "the installation did not finish; screen: $(screen | tail -n 8)"
out=$(screen)
printf '%s\n' "$out" >&2
# Typed, not generated: kept (not started here) in .admin-password until the admin exists.
! host_exec test -e /etc/mathesar/initial-admin-password || fail "the typed admin password is in initial-admin-password"
got=$(host_exec head -n 1 /etc/mathesar/.admin-password | tr -d '\n')
secret "$got"
log "admin password length: typed ${#admin_password}, stored ${#got}"
[[ $out == *INSTALL-EXIT=0* ]] || fail "apt-get install failed: $(tail -n 8 <<<"$out")"
for low in "Port for HTTP" "Data directory" "Superuser of the bundled"; do
	[[ $out != *"$low"* ]] && continue
	fail "a lower-priority question was asked at the default priority: $low"
done

assert_file_mode /etc/mathesar/.env 600 root:root
assert_eq "" "$(env_value MATHESAR_DOMAIN)" "domain after the refused answer"
assert_eq "$http_port" "$(env_value MATHESAR_HTTP_PORT)" "preseeded http-port"
assert_eq "$(sha256_of "$admin_password")" \
	"$(host_exec head -n 1 /etc/mathesar/.admin-password | tr -d '\n' | sha256sum | cut -d' ' -f1)" \
	"SHA-256 of the typed admin password"
no_secret_in_debconf "$admin_password"
log "asked user-db, domain (refused once, asked again) and the admin password; nothing else"

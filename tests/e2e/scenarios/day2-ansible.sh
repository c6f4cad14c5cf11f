# shellcheck shell=bash
# e2e-needs: host, stack
# e2e-lane: seeded
# examples/ansible/mathesar.yml run twice with Debian's ansible-core inside the systemd host
# (connection local): the first run preseeds the answers (passwords from an encrypted vault file),
# installs the .deb, starts the service and waits for the login page; the second run reports
# changed=0. No password appears in Ansible's output.
# shellcheck source=pkg-common.inc
source "$E2E_DIR/scenarios/pkg-common.inc"
deb=$(pkg_deb)
host_start
unit_dropin
config_dir /etc/mathesar

log "apt-get install ansible-core python3-apt (in the host)"
host_sh 'export DEBIAN_FRONTEND=noninteractive
	apt-get install -y --no-install-recommends ansible-core python3-apt >/var/tmp/apt.log 2>&1 ||
		{ apt-get update >>/var/tmp/apt.log 2>&1 &&
			apt-get install -y --no-install-recommends ansible-core python3-apt >>/var/tmp/apt.log 2>&1; }' ||
	fail "installing ansible-core failed: $(host_exec tail -n 5 /var/tmp/apt.log)"
host_exec ansible-playbook --version | head -n 1 >&2

host_copy "$REPO_ROOT/examples/ansible" /root/ansible
host_exec mkdir -p /root/ansible/files
host_copy "$deb" /root/ansible/files/
db_password="db-$(sha256_of "$E2E_NAME-$RANDOM-$(date +%s%N)" | cut -c1-24)"
admin_password="Adm1n-$(sha256_of "admin-$RANDOM-$(date +%s%N)" | cut -c1-24)"
vault_password="vault-$RANDOM$RANDOM"
secret "$db_password"
secret "$admin_password"
secret "$vault_password"
http_port=$(free_port)
db_port=$(free_port)

printf '[mathesar]\nlocalhost ansible_connection=local ansible_python_interpreter=/usr/bin/python3\n' |
	host_exec sh -c 'cat >/root/ansible/inventory.ini'
printf 'vault_mathesar_db_password: "%s"\nvault_mathesar_admin_password: "%s"\n' "$db_password" "$admin_password" |
	host_exec sh -c 'umask 077 && cat >/root/ansible/group_vars/mathesar/vault.yml'
printf '%s\n' "$vault_password" | host_exec sh -c 'umask 077 && cat >/root/vault-password'
host_exec ansible-vault encrypt --vault-password-file /root/vault-password /root/ansible/group_vars/mathesar/vault.yml >&2
# shellcheck disable=SC2016 # a literal dollar
host_exec grep -qF '$ANSIBLE_VAULT' /root/ansible/group_vars/mathesar/vault.yml || fail "vault.yml is not encrypted"
cat <<YAML | host_exec sh -c 'cat >/root/ansible/e2e.yml'
mathesar_deb: /root/ansible/files/$(basename "$deb")
mathesar_answers:
  http-port: $http_port
  db-port: $db_port
  admin-username: admin
  admin-email: admin@example.com
  data-dir: $E2E_DATA_DIR
  refresh-images: false
mathesar_login_url: http://127.0.0.1:$http_port/auth/login/
YAML

playbook() {
	host_exec sh -c 'cd /root/ansible && ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0 ansible-playbook -i inventory.ini mathesar.yml \
		--vault-password-file /root/vault-password -e @e2e.yml' >"$E2E_WORK/ansible-$1.log" 2>&1
	local rc=$?
	cat "$E2E_WORK/ansible-$1.log" >&2
	return "$rc"
}
recap() { grep -E '^localhost +:' "$E2E_WORK/ansible-$1.log" | tr -s ' '; }

log "ansible-playbook, first run"
playbook 1 || fail "the first ansible-playbook run failed: $(recap 1)"
[[ $(recap 1) == *"failed=0"* && $(recap 1) != *"changed=0"* ]] || fail "unexpected first recap: $(recap 1)"
assert_eq active "$(host_exec systemctl is-active mathesar.service)" "unit state after the first run"
assert_eq enabled "$(host_exec systemctl is-enabled mathesar.service)" "unit enablement after the first run"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$http_port/auth/login/")
assert_eq 200 "$code" "the login page after the first run"
user=$(psql_db "$db_password" "$db_port" 'SELECT current_user') || fail "psql could not log in with the vault's database password"
assert_eq mathesar "$user" "user psql logged in as"
no_secret_in_debconf "$db_password"
no_secret_in_debconf "$admin_password"

log "ansible-playbook, second run"
playbook 2 || fail "the second ansible-playbook run failed: $(recap 2)"
[[ $(recap 2) == *" changed=0 "* && $(recap 2) == *" failed=0 "* ]] || fail "the second run changed something: $(recap 2)"
for f in "$E2E_WORK"/ansible-*.log; do
	if grep -qF -e "$db_password" -e "$admin_password" "$f"; then
		fail "a password appears in Ansible's output ($(basename "$f"))"
	fi
done
log "first: $(recap 1); second: $(recap 2)"

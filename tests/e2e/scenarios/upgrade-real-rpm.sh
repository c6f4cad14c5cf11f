# shellcheck shell=bash
# e2e-needs: host, stack, 0.10.1
# e2e-lane: seeded
# shellcheck disable=SC2016 # literal ${...} in single quotes
# Real upgrades with rpm on a host without a registry: the images come from a mirror that does
# not exist (image-registry), present only under its names. The rpm pinning the real Mathesar
# 0.10.1 (0.0.9, --service-image) with data (the admin, the user database, a table with rows).
# 1. rpm -U to a release whose Mathesar fails its first start (0.0.10): %post takes a backup,
#    %posttrans restarts on it and puts itself back - Mathesar 0.10.1 serves the data of before,
#    rpm's output and `mathesarctl status` say what failed and how to retry.
# 2. rpm -U to this package before its images are there: %posttrans says the images could not be
#    pulled (naming the image and the registry), and 0.10.1 keeps serving, nothing recreated.
# 3. `mathesarctl images load` of the archive made on a connected host, then `mathesarctl
#    upgrade`: a backup, Mathesar 0.11.0 started under the unit, migration 0012 once, the rows there.
# 4. rpm -U --oldpackage back to 0.0.9 is refused by %pre, naming the backup; 0.11.0 keeps serving.
# shellcheck source=pkg-common.inc
source "$E2E_DIR/scenarios/pkg-common.inc"
registry=mirror.e2e.invalid/upgrade
new_service=$registry/mathesar/mathesar:0.11.0
broken=$(failing_first_start_image)
mirror_tags=("$registry/$(image_of db)" "$registry/$(image_of caddy)" "$registry/mathesar/mathesar:0.10.1" "$registry/$broken")
untag() { docker rmi "${mirror_tags[@]}" "$new_service" >/dev/null 2>&1 || true; }
trap untag EXIT
old=$(pkg_rpm 0.0.9 mathesar/mathesar:0.10.1)
bad=$(pkg_rpm 0.0.10 "$broken")
new=$(pkg_rpm)
for t in "${mirror_tags[@]}"; do docker tag "${t#"$registry/"}" "$t" || fail "docker tag $t failed"; done
docker rmi "$new_service" >/dev/null 2>&1 || true
host_start
config_dir /etc/mathesar
for f in "$old" "$bad" "$new"; do host_copy "$f" /root/; done
http_port=$(free_port)
admin_password="Adm1n-$(sha256_of "$E2E_NAME-$RANDOM" | cut -c1-20)"
secret "$admin_password"
base="http://127.0.0.1:$http_port/"
host_exec sh -c 'umask 077 && mkdir -p /etc/mathesar && cat >/etc/mathesar/answers.yml' <<EOT
data-dir: $E2E_DATA_DIR
http-port: $http_port
db-port: ""
image-registry: $registry
admin-password: "$admin_password"
EOT
app_image() { docker inspect -f '{{.Config.Image}}' mathesar_service; }
recorded() { host_exec cat /etc/mathesar/mathesar-version; }
migration_0012() {
	docker exec mathesar_db psql -U mathesar -d mathesar_django -Atc \
		"SELECT count(*) FROM django_migrations WHERE app = 'mathesar' AND name = '0012_alter_user_username'"
}

out=$(host_exec rpm -i --nodeps "/root/$(basename "$old")" 2>&1) || fail "rpm -i failed: $out"
host_exec systemctl enable --now mathesar.service >&2 || fail "systemctl enable --now mathesar failed"
wait_up "$http_port"
assert_eq "$registry/mathesar/mathesar:0.10.1" "$(app_image)" "image of Mathesar under the 0.0.9 package"
api_table_roundtrip "$base" admin "$admin_password" kept_rows >/dev/null

log "1. rpm -U to a Mathesar that fails its first start: put back by %posttrans"
out=$(host_exec timeout 900 rpm -U --nodeps "/root/$(basename "$bad")" 2>&1) || fail "rpm -U failed: $out"
printf '%s\n' "$out" >&2
[[ $out == *"mathesar: the upgrade failed and was put back"* ]] || fail "%posttrans does not say the upgrade was put back"
[[ $out == *"simulated failure of the first start"* ]] || fail "rpm's output does not show why the new release failed"
backup1=$(sed -n 's/^mathesar: backup before the upgrade: //p' <<<"$out")
[[ -n $backup1 ]] || fail "%post did not name its backup"
host_exec systemctl is-active --quiet mathesar.service || fail "mathesar.service is not active after the put-back"
wait_up "$http_port"
assert_eq "$registry/mathesar/mathesar:0.10.1" "$(app_image)" "image of Mathesar after the put-back"
assert_eq 0.10.1 "$(recorded)" "recorded Mathesar version after the put-back"
assert_eq 0 "$(migration_0012)" "migration 0012 (undone by the restore of $backup1)"
assert_eq "row 1,row 2,row 3" "$(api_rows "$base" admin "$admin_password" kept_rows)" "rows through the API after the put-back"
json=$(host_exec mathesarctl status --json 2>/dev/null || true)
assert_eq "0.10.1 0.11.0-fails-first-start $backup1" "$(jq -r '.upgrade_held | "\(.running) \(.failed_release) \(.backup)"' <<<"$json")" "status --json: upgrade_held"

log "2. rpm -U to Mathesar 0.11.0 before its images are on the host"
t0=$SECONDS
out=$(host_exec timeout 900 rpm -U --nodeps "/root/$(basename "$new")" 2>&1) || fail "rpm -U failed: $out"
printf '%s\n' "$out" >&2
log "rpm -U took $((SECONDS - t0)) s"
[[ $out == *"cannot pull $new_service from "* ]] || fail "rpm's output does not say that the image of Mathesar could not be pulled"
[[ $out == *"the images could not be pulled"*"the running Mathesar was left as it is"* ]] ||
	fail "%posttrans does not say that the running Mathesar was left as it is"
host_exec systemctl is-active --quiet mathesar.service || fail "mathesar.service stopped although the new images are missing"
assert_eq 0.10.1 "$(recorded)" "recorded Mathesar version (the new one never started)"
assert_eq "$registry/mathesar/mathesar:0.10.1" "$(app_image)" "the container of Mathesar (not recreated without its image)"
assert_eq "row 1,row 2,row 3" "$(api_rows "$base" admin "$admin_password" kept_rows)" "rows through the API while the images are missing"

log "3. connected host: the images of 0.11.0 into an archive; offline host: mathesarctl images load + upgrade"
docker tag mathesar/mathesar:0.11.0 "$new_service"
archive=$E2E_DATA_DIR/mathesar-0.11.0-images.tar
docker save -o "$archive" "$new_service" "${mirror_tags[@]:0:2}" || fail "docker save failed"
docker rmi "$new_service" >/dev/null
host_exec mathesarctl images load "$archive" >&2 || fail "mathesarctl images load failed"
t0=$SECONDS
out=$(host_exec mathesarctl upgrade 2>&1) || fail "mathesarctl upgrade failed: $out"
printf '%s\n' "$out" >&2
wait_up "$http_port"
log "upgraded and serving in $((SECONDS - t0)) s"
backup=$(sed -n 's/^Backup before the upgrade: //p' <<<"$out")
[[ -n $backup ]] || fail "mathesarctl upgrade did not name its backup"
assert_eq "$new_service" "$(app_image)" "image of Mathesar after the upgrade"
assert_eq 0.11.0 "$(recorded)" "recorded Mathesar version after the upgrade"
assert_eq 1 "$(migration_0012)" "migration 0012 applied (once) after the upgrade"
assert_login "$base" admin "$admin_password"
assert_eq "row 1,row 2,row 3" "$(api_rows "$base" admin "$admin_password" kept_rows)" "rows through the API after the upgrade"

log "4. rpm -U --oldpackage to Mathesar 0.10.1 is refused"
if out=$(host_exec rpm -U --nodeps --oldpackage "/root/$(basename "$old")" 2>&1); then
	fail "rpm -U --oldpackage was not refused: $out"
fi
printf '%s\n' "$out" >&2
[[ $out == *"migrated"*"by Mathesar 0.11.0"* ]] || fail "the refusal does not say why"
[[ $out == *"mathesarctl restore --no-start /var/backups/mathesar/"* ]] || fail "the refusal does not name a backup to restore"
[[ $(host_exec rpm -q --qf '%{VERSION}' mathesar) != 0.0.9 ]] || fail "the downgrade happened"
host_exec systemctl is-active --quiet mathesar.service || fail "mathesar.service is not active after the refused downgrade"
assert_eq "$new_service" "$(app_image)" "image of Mathesar after the refused downgrade"
log "rpm -U: a failing release put back by %posttrans (backup $backup1); without the images 0.10.1 kept serving; images load + upgrade brought 0.11.0 (backup $backup, migration 0012 once, rows kept); rpm downgrade refused"

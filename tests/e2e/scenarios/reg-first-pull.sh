# shellcheck shell=bash
# e2e-needs: host, stack, registry
# e2e-lane: own-engine
# The first install pulls from a real registry: the host's Docker Engine starts with no image at
# all, the package's image-registry answer names the bed's registry (Debian's docker-registry,
# holding the images the bed built). `apt-get install` (not a terminal, as with Ansible) shows a
# start and an end line per image with its size in apt's output, no escape codes, before the
# service starts; Mathesar then serves the login page and the admin logs in. A reinstall finds
# every image present and pulls nothing. A missing image is pulled by `mathesarctl upgrade` in
# the foreground, and under the unit by `systemctl start` with a few journal lines. On a
# terminal (`mathesarctl up` in a pty) the line of each image is redrawn. Air-gapped (what
# day2-images did with tagged images): with the registry stopped and the engine emptied, the
# registry-built images saved by `images save` (plain and gzip) load, and the host starts
# without a pull.
# shellcheck source=pkg-common.inc
source "$E2E_DIR/scenarios/pkg-common.inc"
registry_start >/dev/null
registry_push db service caddy
reg=127.0.0.1:$E2E_REGISTRY_PORT
E2E_HOST_ENGINE=$(engine_start pull)
export E2E_HOST_ENGINE
pkg_host
assert_none "the host's engine is not empty before the install" engine_docker pull images -q

preseed "mathesar/data-dir string $E2E_DATA_DIR" \
	"mathesar/http-port string $http_port" \
	"mathesar/db-port string $db_port" \
	"mathesar/image-registry string $reg"
t0=$EPOCHREALTIME
apt_install "$deb" 2>"$E2E_WORK/apt.log"
cat "$E2E_WORK/apt.log" >&2
t_install=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
for key in db service caddy; do
	image=$reg/$(image_of "$key")
	grep -qF "pulling $image from $reg" "$E2E_WORK/apt.log" || fail "apt's output has no start line for $image"
	grep -qE "pulled ${image//./\\.} \([0-9.]+ MB in [0-9.]+ s\)" "$E2E_WORK/apt.log" ||
		fail "apt's output has no end line with the size for $image"
	engine_docker pull image inspect "$image" >/dev/null || fail "$image is not in the host's engine after the install"
done
# apt runs dpkg on a pseudo-terminal (its lines end in CR LF): any other CR or an escape code in
# the pull's lines would be a redrawn line, noise in apt's log.
if grep 'pull' "$E2E_WORK/apt.log" | sed 's/\r$//' | grep -q $'\e\|\r'; then
	fail "the pull's lines in apt's output hold escape codes or carriage returns"
fi
lines=$(grep -c 'pull' "$E2E_WORK/apt.log")
((lines <= 30)) || fail "apt's output has $lines lines about pulling three images: too chatty for a log"
# The pull came before the start: the unit itself pulled nothing.
wait_up "$http_port"
if host_exec journalctl -u mathesar.service --no-pager | grep -q 'pulling '; then
	fail "the unit pulled although the postinst had pulled everything"
fi
base="http://127.0.0.1:$http_port/"
assert_login_page "$base"
assert_login "$base" admin "$(initial_admin_password)"

# A reinstall finds its images present and pulls nothing.
host_exec env DEBIAN_FRONTEND=noninteractive apt-get install -y --reinstall "/root/$(basename "$deb")" \
	>"$E2E_WORK/reinstall.log" 2>&1 || fail "apt-get install --reinstall failed: $(tail -n 5 "$E2E_WORK/reinstall.log")"
cat "$E2E_WORK/reinstall.log" >&2
grep -q "nothing pulled" "$E2E_WORK/reinstall.log" || fail "the reinstall did not say that nothing was pulled"
if grep -q "^mathesar: pulling " "$E2E_WORK/reinstall.log"; then fail "the reinstall pulled an image"; fi
wait_up "$http_port"

# Under the unit: the proxy's image removed while stopped, `systemctl start` pulls it (the
# hardened unit reaches the registry) and says so in the journal in a few lines.
caddy=$reg/$(image_of caddy)
host_exec systemctl stop mathesar.service
remove_containers pull caddy-reverse-proxy
engine_docker pull image rm "$caddy" >/dev/null || fail "could not remove $caddy from the host's engine"
# `mathesarctl upgrade` to a release whose image is not present: pulled in the foreground.
rc=0
host_exec mathesarctl upgrade >"$E2E_WORK/upgrade.log" 2>&1 || rc=$?
cat "$E2E_WORK/upgrade.log" >&2
((rc == 0)) || fail "mathesarctl upgrade failed (exit $rc): $(tail -n 5 "$E2E_WORK/upgrade.log")"
grep -qF "pulled $caddy (" "$E2E_WORK/upgrade.log" || fail "mathesarctl upgrade did not pull $caddy"
engine_docker pull image rm "$caddy" >/dev/null || fail "could not remove $caddy from the host's engine again"
since=$(host_exec date '+%Y-%m-%d %H:%M:%S')
host_exec systemctl start mathesar.service || fail "systemctl start failed after removing $caddy: $(host_exec systemctl status --no-pager mathesar | tail -n 5)"
journal=$(host_exec journalctl -u mathesar.service --since "$since" --no-pager -o cat)
printf '%s\n' "$journal" >&2
grep -qF "pulling $caddy from $reg" <<<"$journal" || fail "the journal does not say the unit pulls $caddy"
grep -qF "pulled $caddy (" <<<"$journal" || fail "the journal does not say $caddy was pulled"
n=$(grep -c "$caddy" <<<"$journal")
((n <= 8)) || fail "the journal has $n lines about pulling one image"
wait_up "$http_port"

# On a terminal: `mathesarctl up` (the proxy's image removed again) redraws one line per image.
host_exec systemctl stop mathesar.service
remove_containers pull caddy-reverse-proxy
engine_docker pull image rm "$caddy" >/dev/null
host_exec script -qefc 'mathesarctl up' /dev/null >"$E2E_WORK/tty.log" 2>&1 || fail "mathesarctl up on a terminal failed: $(tail -n 5 "$E2E_WORK/tty.log")"
# Redrawn: the image's line begins again after a CR (the counter, or "downloaded, unpacking" when
# the whole image came before the first redraw).
grep -q $'\rpulling '"$caddy"': [0-9.]* MB ' "$E2E_WORK/tty.log" || fail "no redrawn progress line on the terminal: $(head -c 600 "$E2E_WORK/tty.log")"
grep -qF "pulled $caddy (" "$E2E_WORK/tty.log" || fail "no end line on the terminal"
host_exec mathesarctl down >/dev/null

# Air-gapped: the registry-built images saved here (a docker-save archive, 0600, naming exactly
# the configuration's images; gzip when the name ends in .gz), the registry gone and every image
# removed from the host's engine: `images list` says what is missing (exit 5), `images load`
# brings them back from the file alone and the host starts without a pull.
host_exec mathesarctl images save /root/images.tar >&2 || fail "mathesarctl images save failed"
assert_file_mode /root/images.tar 600 root:root
wanted=$(for key in db service caddy; do printf '%s/%s\n' "$reg" "$(image_of "$key")"; done | sort | paste -sd' ')
tags=$(host_exec tar -xOf /root/images.tar manifest.json | jq -r '[.[].RepoTags[]] | sort | join(" ")')
assert_eq "$wanted" "$tags" "images in the archive"
host_exec mathesarctl images save /root/images.tar.gz >&2 || fail "images save to .tar.gz failed"
host_exec gzip -t /root/images.tar.gz || fail "the .tar.gz archive is not gzip"
docker stop mathesar-e2e-registry-open mathesar-e2e-registry-auth >/dev/null
for svc in db service caddy-reverse-proxy; do remove_containers pull "$svc"; done
mapfile -t all < <(engine_docker pull images -q | sort -u)
engine_docker pull image rm -f "${all[@]}" >/dev/null
assert_none "images are left in the host's engine" engine_docker pull images -q
rc=0
host_exec mathesarctl images list >&2 || rc=$?
assert_eq 5 "$rc" "exit status of images list with the images missing"
# The compressed archive is the one loaded (the plain one is the same stream without gzip).
host_exec mathesarctl images load /root/images.tar.gz >&2 || fail "images load of the .tar.gz failed"
host_exec mathesarctl images list >&2 || fail "images list: an image is missing after images load"
since=$(host_exec date '+%Y-%m-%d %H:%M:%S')
host_exec systemctl start mathesar.service || fail "the air-gapped start failed"
wait_up "$http_port"
assert_login "$base" admin "$(initial_admin_password)"
if host_exec journalctl -u mathesar.service --since "$since" --no-pager | grep -q 'pulling '; then
	fail "the air-gapped start tried to pull"
fi
log "first install pulled 3 images from $reg with progress in apt's log (install to a working login page ${t_install} s); reinstall pulled nothing; the unit pulled a missing image; terminal progress redrawn; images save/load of the registry-built images"

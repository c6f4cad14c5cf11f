# shellcheck shell=bash
# An offline install from an image archive: a configuration whose image-registry answer names a
# mirror that does not exist; on a "connected" host the images are there under the mirror's names
# (the bed's images tagged so), `mathesarctl images save` writes them to one file; the tags are
# removed, `mathesarctl images load` brings them back from the file alone, and `mathesarctl up`
# starts the stack from them without pulling anything (the mirror cannot be reached).
registry=mirror.e2e.invalid/day2
mirror_tags=()
for key in db service caddy; do
	mirror_tags+=("$registry/$(image_of "$key")")
done
untag() { docker rmi "${mirror_tags[@]}" >/dev/null 2>&1 || true; }
trap untag EXIT

host_start
host_copy "$REPO_ROOT/target/debug/mathesarctl" /usr/bin/mathesarctl
config_dir /etc/mathesar

http_port=$(free_port)
host_exec env MATHESAR_DATA_DIR="$E2E_DATA_DIR" MATHESAR_HTTP_PORT="$http_port" MATHESAR_DB_PORT= \
	MATHESAR_ADMIN_EMAIL=admin@example.com MATHESAR_IMAGE_REGISTRY="$registry" \
	mathesarctl configure --non-interactive --no-start >&2 || fail "configure failed"
secret "$(host_exec sed -n 's/^POSTGRES_PASSWORD="\(.*\)"$/\1/p' /etc/mathesar/.env)"
secret "$(host_exec cat /etc/mathesar/initial-admin-password)"

untag
rc=0
host_exec mathesarctl images list >&2 || rc=$?
assert_eq 5 "$rc" "exit code of images list with the mirror's images missing"

# The connected host: the images under the mirror's names.
for key in db service caddy; do
	docker tag "$(image_of "$key")" "$registry/$(image_of "$key")"
done
host_exec mathesarctl images list >&2 || fail "images list: an image is missing after tagging"
archive=$E2E_DATA_DIR/mathesar-images.tar
log "mathesarctl images save"
host_exec mathesarctl images save "$archive" >&2 || fail "images save failed"
assert_file_mode "$archive" 600 root:root
# A docker-save archive naming exactly the mirror's images.
tags=$(tar -xOf "$archive" manifest.json | jq -r '[.[].RepoTags[]] | sort | join(" ")')
assert_eq "$(printf '%s\n' "${mirror_tags[@]}" | sort | paste -sd' ')" "$tags" "images in the archive"

# The offline host: the images are gone, then come from the archive alone.
untag
for t in "${mirror_tags[@]}"; do
	docker image inspect "$t" >/dev/null 2>&1 && fail "$t is still present after docker rmi"
done
log "mathesarctl images load"
host_exec mathesarctl images load "$archive" >&2 || fail "images load failed"
for t in "${mirror_tags[@]}"; do
	docker image inspect "$t" >/dev/null 2>&1 || fail "$t is missing after images load"
done

log "mathesarctl up (nothing may be pulled: the mirror does not exist)"
host_exec timeout 600 mathesarctl up >&2 || fail "mathesarctl up failed: $(stack_diagnose | paste -sd ';' -)"
assert_eq "$registry/$(image_of service)" "$(docker inspect -f '{{.Config.Image}}' mathesar_service)" "image of mathesar_service"
assert_eq "$registry/$(image_of db)" "$(docker inspect -f '{{.Config.Image}}' mathesar_db)" "image of mathesar_db"
code=$(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' "http://127.0.0.1:$http_port/")
assert_eq "302 http://127.0.0.1:$http_port/auth/login/?next=/" "$code" "the login redirect of the stack started from loaded images"

# A gzip-compressed archive loads too.
host_exec mathesarctl images save "$E2E_DATA_DIR/mathesar-images.tar.gz" >&2 || fail "images save to .tar.gz failed"
gzip -t "$E2E_DATA_DIR/mathesar-images.tar.gz" || fail "the .tar.gz archive is not gzip"
host_exec mathesarctl images load "$E2E_DATA_DIR/mathesar-images.tar.gz" >&2 || fail "images load of a .tar.gz failed"

host_exec mathesarctl down >&2 || fail "mathesarctl down failed"

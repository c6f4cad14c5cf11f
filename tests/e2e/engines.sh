# shellcheck shell=bash
# Extra Docker Engines and a real registry for the scenarios that pull (sourced by lib.sh).
#
# The bed's hosts normally share the machine's engine, where every image was built: nothing is
# ever pulled there. A scenario that must pull starts an engine of its own (engine_start): a
# second dockerd on this machine with its own data root (empty: its image cache starts empty,
# optionally on a small tmpfs to fill it up), exec root, socket and bridge, whose socket the host
# container gets instead of the machine's. It pulls from the registry (registry_start), which
# runs on the machine's engine and holds the images the bed built (registry_push).
# Why a second dockerd and not Docker in the host container: this sandbox refuses --privileged.
#
# Networking of an extra engine: it leaves iptables to the machine's engine (two engines
# rewriting the same chains would undo each other); its networks come from their own address
# pool, accepted in DOCKER-USER (the machine's engine drops forwarded traffic it does not know),
# and published ports go through docker-proxy.

E2E_ENGINES_RUN=/run/mathesar-e2e/engines
E2E_ENGINES_ROOT=/var/tmp/mathesar-e2e-engines
E2E_REGISTRY_DATA=/var/lib/mathesar-e2e/registry # kept between runs: a warm push sends nothing
E2E_REGISTRY_PORT=5115                            # anonymous pulls
E2E_REGISTRY_AUTH_PORT=5116                       # htpasswd: user $E2E_REGISTRY_USER
E2E_REGISTRY_USER=mathesar-e2e
E2E_REGISTRY_IMAGE=mathesar-e2e/registry

# engine_start NAME [SIZE_MB]: starts the engine NAME (data root on a tmpfs of SIZE_MB when
# given) and prints its socket path. Fails the scenario when it does not answer in 60 s.
engine_start() {
	local name=$1 size=${2:-} idx root run sock bridge pool
	[[ $name =~ ^[a-z0-9]{1,8}$ ]] || fail "engine name '$name': 1-8 lowercase letters or digits"
	mkdir -p "$E2E_ENGINES_RUN"
	root=$E2E_ENGINES_ROOT/$name run=$E2E_ENGINES_RUN/$name sock=$E2E_ENGINES_RUN/$name.sock
	# The lowest address index no running engine holds (lanes start engines at the same time).
	idx=$(
		{
			flock 5
			i=0
			while grep -qx "$i" "$E2E_ENGINES_RUN"/*.idx 2>/dev/null; do i=$((i + 1)); done
			echo "$i" >"$run.idx"
			echo "$i"
		} 5>"$E2E_ENGINES_RUN/idx.lock"
	)
	[[ $idx =~ ^[0-9]+$ ]] || fail "engine $name: no address index could be taken"
	bridge=me2e-$name pool=10.$((214 + idx)).0.0/16
	mkdir -p "$root" "$run"
	if [[ -n $size ]]; then
		mount -t tmpfs -o "size=${size}m,mode=0711" "mathesar-e2e-$name" "$root" ||
			fail "cannot mount a ${size} MB tmpfs on $root"
	fi
	if [[ -n ${E2E_ENGINE_SEED:-} ]]; then
		# The image store of engine_seed: the layers linked (an engine never writes into an
		# image's layers: containers get layers of their own), the metadata copied.
		if ! cp -al "$E2E_ENGINE_SEED/overlay2" "$root/" || ! cp -a "$E2E_ENGINE_SEED/image" "$root/"; then
			fail "cannot lay the seed $E2E_ENGINE_SEED into $root"
		fi
	fi
	ip link add "$bridge" type bridge 2>/dev/null || true
	ip addr replace "10.213.$idx.1/24" dev "$bridge"
	ip link set "$bridge" up
	iptables -I DOCKER-USER -s "$pool" -j ACCEPT
	iptables -I DOCKER-USER -d "$pool" -j ACCEPT
	printf '%s\n' "$pool" >"$run.pool"
	log "starting Docker Engine '$name' (data root $root${size:+, ${size} MB}, socket $sock)"
	printf '%s\n' "$name" >>"$E2E_WORK/engines"
	_engine_launch "$name"
	printf '%s\n' "$sock"
}

# _engine_launch NAME: starts the dockerd of engine NAME (set up by engine_start) and waits for it.
# It gets none of the bed's lock descriptors (6-9: the seeds', the run's, ...): a dockerd left
# behind by a scenario that died would otherwise hold them, and every later run wait for ever.
# A restart (RESTART given) passes no --default-address-pool: dockerd, starting on a data root
# whose store holds its default network, deletes that network and then, when address pools are
# set, the interface named docker0 - whatever its --bridge - which is the machine engine's bridge
# here (every engine shares the machine's network namespace). That took docker0 away in the
# middle of runs. The networks an engine made keep their subnets from its store.
_engine_launch() {
	local name=$1 restart=${2:-} run=$E2E_ENGINES_RUN/$1 pool
	local -a pools=()
	pool=$(cat "$run.pool")
	[[ -n $restart ]] || pools=(--default-address-pool "base=$pool,size=24")
	setsid dockerd --data-root "$E2E_ENGINES_ROOT/$name" --exec-root "$run" --pidfile "$run.pid" \
		-H "unix://$run.sock" --bridge "me2e-$name" --iptables=false --ip-masq=false \
		"${pools[@]}" --cgroup-parent "mathesar-e2e-$name" \
		</dev/null >>"$E2E_WORK/engine-$name.log" 2>&1 6>&- 7>&- 8>&- 9>&- &
	wait_for "DOCKER_HOST=unix://$run.sock docker version >/dev/null" 60 "engine $name to answer" ||
		fail "engine $name did not start (log: $E2E_WORK/engine-$name.log)"
}

# engine_restart NAME: the engine's dockerd stopped with SIGTERM (which stops its containers) and
# started again on the same data root, as `systemctl restart docker` does on a host.
engine_restart() {
	local name=$1 pid
	pid=$(cat "$E2E_ENGINES_RUN/$name.pid" 2>/dev/null) || fail "engine $name is not running"
	kill -TERM "$pid" || fail "engine $name: dockerd $pid could not be signalled"
	wait_for "! kill -0 $pid 2>/dev/null" 120 "dockerd of engine $name to stop" || fail "engine $name did not stop within 120 s"
	_engine_launch "$name" restart
	ip link show docker0 >/dev/null 2>&1 || fail "engine $name: its restart took the machine engine's docker0 away"
}

# engine_docker NAME ARGS...: the docker client on engine NAME.
engine_docker() {
	local name=$1
	shift
	DOCKER_HOST=unix://$E2E_ENGINES_RUN/$name.sock docker "$@"
}

# remove_containers ENGINE SERVICE: removes the stack's (stopped) containers of compose SERVICE on
# ENGINE, so that its image can be removed.
remove_containers() {
	engine_docker "$1" ps -aq --filter "label=com.docker.compose.service=$2" | xargs -r docker -H "unix://$E2E_ENGINES_RUN/$1.sock" rm -f >/dev/null
}

# engine_logs NAME DEST: what explains a failure on engine NAME: its containers and their logs.
engine_logs() {
	local name=$1 dest=$2 id cname
	engine_docker "$name" ps -a >"$dest/engine-$name-ps.txt" 2>&1 || true
	engine_docker "$name" images >"$dest/engine-$name-images.txt" 2>&1 || true
	for id in $(engine_docker "$name" ps -aq 2>/dev/null); do
		cname=$(engine_docker "$name" inspect -f '{{.Name}}' "$id" 2>/dev/null) || continue
		engine_docker "$name" logs --timestamps "$id" >"$dest/engine-$name-logs-${cname#/}.txt" 2>&1 || true
	done
	cp "$E2E_WORK/engine-$name.log" "$dest/" 2>/dev/null || true
}

# engine_stop NAME: stops the engine (and its containers), removes its data root, bridge and
# rules. Harmless when it is not running.
engine_stop() {
	local name=$1 run=$E2E_ENGINES_RUN/$1 root=$E2E_ENGINES_ROOT/$1 pid pool i
	pid=$(cat "$run.pid" 2>/dev/null || true)
	# Its containers first, killed (a seeded scenario's systemd host among them): a dockerd
	# stopping its containers one by one, or killed with them still running, is slower or leaves
	# them behind.
	if [[ -n $pid && -S $run.sock ]]; then
		DOCKER_HOST=unix://$run.sock timeout 30 docker ps -aq 2>/dev/null |
			DOCKER_HOST=unix://$run.sock xargs -r timeout 60 docker rm -f -v >/dev/null 2>&1 || true
	fi
	if [[ -n $pid ]] && kill "$pid" 2>/dev/null; then
		for ((i = 0; i < 60; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.5
		done
		kill -9 "$pid" 2>/dev/null || true
	fi
	pool=$(cat "$run.pool" 2>/dev/null || true)
	if [[ -n $pool ]]; then
		while iptables -D DOCKER-USER -s "$pool" -j ACCEPT 2>/dev/null; do :; done
		while iptables -D DOCKER-USER -d "$pool" -j ACCEPT 2>/dev/null; do :; done
		# The bridges of its networks (a stopped engine leaves them), by their address in its pool.
		ip -4 -o addr show 2>/dev/null | awk -v p="${pool%.0.0/16}." '$2 ~ /^br-/ && index($4, p) == 1 { print $2 }' |
			xargs -r -n1 ip link del 2>/dev/null || true
	fi
	# Mounts the engine left (container file systems, the tmpfs) go before the tree.
	# So do those of its exec root (its network namespace).
	grep -oE " (${root}|${run})(/[^ ]*)?( |$)" /proc/mounts 2>/dev/null | tr -d ' ' | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
	rm -rf "$root" "$run" "$run.pid" "$run.pool" "$run.sock" "$run.idx"
	ip link del "me2e-$name" 2>/dev/null || true
}

# engine_seed IMAGE...: the image store (the image/ and overlay2/ directories of a data root) of
# an engine holding the machine engine's IMAGEs, made once per set of image IDs under
# $E2E_STATE/engine-seeds and kept; prints its directory. engine_start lays it into a new
# engine's data root when E2E_ENGINE_SEED names it: an engine of its own with the bed's images in
# a second, instead of a docker save and load of a gigabyte per scenario.
E2E_SEEDS=$E2E_STATE/engine-seeds
engine_seed() {
	local key dir
	key=$(docker image inspect -f '{{.Id}}' "$@" | LC_ALL=C sort | sha256sum | cut -c1-12) ||
		fail "engine_seed: an image is missing on the machine's engine: $*"
	dir=$E2E_SEEDS/$key
	mkdir -p "$E2E_SEEDS"
	(
		flock 6
		[[ -f $dir/complete ]] && exit 0
		local name=sd${key:0:6} t0=$SECONDS pid
		log "making the engine seed $dir (images: $*)"
		# Seeds of other image sets (images rebuilt since, another checkout's): the three used
		# last are kept, the others go before a new one takes room.
		find "$E2E_SEEDS" -mindepth 1 -maxdepth 1 -type d -printf '%T@ %p\n' | LC_ALL=C sort -rn |
			tail -n +4 | cut -d' ' -f2- | xargs -r rm -rf
		# The engine must not hold the seeds' lock (fd 6) for as long as it runs.
		E2E_ENGINE_SEED='' engine_start "$name" 6>&- >/dev/null
		if ! docker save "$@" | engine_docker "$name" load -q >"$E2E_WORK/seed-load.log" 2>&1; then
			engine_stop "$name"
			fail "loading the images into the seed engine failed: $(tail -n 3 "$E2E_WORK/seed-load.log")"
		fi
		pid=$(cat "$E2E_ENGINES_RUN/$name.pid")
		kill "$pid"
		wait_for "! kill -0 $pid 2>/dev/null" 60 "the seed engine to stop" || fail "the seed engine did not stop"
		rm -rf "$dir.tmp"
		mkdir -p "$dir.tmp"
		mv "$E2E_ENGINES_ROOT/$name/image" "$E2E_ENGINES_ROOT/$name/overlay2" "$dir.tmp/"
		engine_stop "$name"
		touch "$dir.tmp/complete"
		mv "$dir.tmp" "$dir"
		log "engine seed made in $((SECONDS - t0)) s"
	) 6>"$E2E_SEEDS/lock" || exit 1
	touch "$dir" # used now: the last kept
	printf '%s\n' "$dir"
}

# seeded_engine_name: the name of this scenario's seeded engine.
seeded_engine_name() { echo "s$(sha256_of "$E2E_NAME" | cut -c1-7)"; }

# seeded_engine IMAGE...: this scenario's own engine, seeded with IMAGEs, the scenario's host and
# stack on it: every later `docker` of the scenario (and of the runner collecting its logs) talks
# to that engine, so scenarios run side by side, each with the fixed container names of the
# package in an engine of its own.
seeded_engine() {
	local seed name sock
	seed=$(engine_seed "$@")
	# A scenario needing `installed` (pkg-common.inc, installed_host) starts on that seed's.
	if [[ -n ${E2E_NEEDS_INSTALLED:-} ]]; then
		# shellcheck source=scenarios/pkg-common.inc
		source "$E2E_DIR/scenarios/pkg-common.inc"
		seed=$(installed_seed "$seed")
		export E2E_INSTALLED_SEED=$seed
	fi
	# Which builds the scenario runs (checkouts of several branches share the image names).
	log "engine seed ${seed##*/}: $(docker image inspect -f '{{index .Config.Labels "mathesar-e2e.recipe"}}:{{index .Config.Labels "mathesar-e2e.recipe-hash"}}' "$@" | xargs)"
	name=$(seeded_engine_name)
	sock=$(E2E_ENGINE_SEED=$seed engine_start "$name")
	export DOCKER_HOST=unix://$sock E2E_HOST_ENGINE=$sock
	printf '%s\n' "$DOCKER_HOST" >"$E2E_WORK/docker-host"
}

# engines_stop_mine: the engines and slow registries this scenario started.
engines_stop_mine() {
	local name port
	while read -r port; do slow_registry_stop "$port"; done < <(cat "$E2E_WORK/proxies" 2>/dev/null)
	while read -r name; do engine_stop "$name"; done < <(cat "$E2E_WORK/engines" 2>/dev/null)
}

# engines_stop_all: every extra engine a run started (the runner's cleanup).
engines_stop_all() {
	local f
	for f in "$E2E_ENGINES_RUN"/proxy-*.pid; do
		[[ -e $f ]] || continue
		f=${f##*/proxy-}
		slow_registry_stop "${f%.pid}"
	done
	for f in "$E2E_ENGINES_RUN"/*.pid "$E2E_ENGINES_RUN"/*.pool "$E2E_ENGINES_RUN"/*.idx; do
		[[ -e $f && $f != */proxy-* ]] || continue
		f=${f##*/}
		engine_stop "${f%.*}"
	done
}

# registry_start: the registry on the machine's engine, anonymous on $E2E_REGISTRY_PORT and with
# htpasswd authentication on $E2E_REGISTRY_AUTH_PORT (same storage). Prints the password.
registry_start() {
	local password
	docker image inspect "$E2E_REGISTRY_IMAGE" >/dev/null 2>&1 ||
		fail "image $E2E_REGISTRY_IMAGE is missing (tests/e2e/images/build registry)"
	mkdir -p "$E2E_REGISTRY_DATA" "$E2E_WORK/registry-auth"
	password=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
	docker run --rm --entrypoint htpasswd "$E2E_REGISTRY_IMAGE" -Bbn "$E2E_REGISTRY_USER" "$password" \
		>"$E2E_WORK/registry-auth/htpasswd" || fail "htpasswd failed"
	local kind port
	for kind in open auth; do
		port=$E2E_REGISTRY_PORT
		[[ $kind == auth ]] && port=$E2E_REGISTRY_AUTH_PORT
		docker rm -f "mathesar-e2e-registry-$kind" >/dev/null 2>&1 || true
		# On the machine's network, not behind docker0 and its proxy: the private engines pull
		# from 127.0.0.1, and a registry on the default bridge is cut off when that bridge goes.
		docker run -d --name "mathesar-e2e-registry-$kind" --label "$E2E_LABEL=1" \
			--network host -e "REGISTRY_HTTP_ADDR=127.0.0.1:$port" \
			-v "$E2E_REGISTRY_DATA:/var/lib/docker-registry" \
			-v "$E2E_DIR/registry/$kind.yml:/etc/docker/registry/config.yml:ro" \
			-v "$E2E_WORK/registry-auth:/etc/mathesar-e2e:ro" \
			"$E2E_REGISTRY_IMAGE" >/dev/null || fail "could not start the $kind registry"
	done
	wait_for "curl -fsS http://127.0.0.1:$E2E_REGISTRY_PORT/v2/ >/dev/null" 30 "the registry to answer" ||
		fail "the registry did not answer"
	wait_for "[[ \$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$E2E_REGISTRY_AUTH_PORT/v2/) == 401 ]]" 30 \
		"the authenticating registry to ask for credentials" || fail "the authenticating registry did not answer 401"
	secret "$password"
	printf '%s\n' "$password"
}

# registry_push KEY...: pushes the bed's images of packaging/images KEYs (db, service, caddy) to
# the registry under 127.0.0.1:$E2E_REGISTRY_PORT/NAME (layers it has are not sent).
registry_push() {
	local key image target t0=$SECONDS
	for key in "$@"; do
		image=$(image_of "$key")
		target=127.0.0.1:$E2E_REGISTRY_PORT/$image
		docker tag "$image" "$target"
		docker push "$target" >"$E2E_WORK/push-$key.log" 2>&1 ||
			fail "docker push $target failed: $(tail -n 3 "$E2E_WORK/push-$key.log")"
	done
	log "registry holds $* ($((SECONDS - t0)) s to push)"
}

# slow_registry_start PORT KB_PER_S [STALL_AFTER_BYTES]: the anonymous registry behind a proxy on
# PORT that answers at KB_PER_S per connection (and stops sending after STALL_AFTER_BYTES).
slow_registry_start() {
	local port=$1 rate=$2 stall=${3:-}
	mkdir -p "$E2E_ENGINES_RUN"
	setsid python3 "$E2E_DIR/tools/slow_proxy.py" "$port" "$E2E_REGISTRY_PORT" --rate "$rate" \
		${stall:+--stall-after "$stall"} </dev/null >"$E2E_WORK/slow-proxy-$port.log" 2>&1 &
	printf '%s\n' "$!" >"$E2E_ENGINES_RUN/proxy-$port.pid"
	printf '%s\n' "$port" >>"$E2E_WORK/proxies"
	wait_for "curl -fsS http://127.0.0.1:$port/v2/ >/dev/null" 15 "the slow registry on $port" ||
		fail "the slow registry proxy did not start"
}

# slow_registry_stop PORT
slow_registry_stop() {
	local f=$E2E_ENGINES_RUN/proxy-$1.pid
	[[ -f $f ]] && kill "$(cat "$f")" 2>/dev/null
	rm -f "$f"
}

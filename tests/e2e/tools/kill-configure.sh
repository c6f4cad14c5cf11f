#!/usr/bin/env bash
# Runs inside a test host for the rel-crash scenario (copied there by it): kills
# `mathesarctl configure` at random points and at each of its renames, and checks what is on
# disk after each kill. Usage: kill-configure.sh KILLS PORT_A PORT_B PORT_HTTPS DB_PORT
# Prints its figures; "FAIL: reason" and exit 1 on the first wrong state.
set -euo pipefail
kills_wanted=$1 port_a=$2 port_b=$3 port_s=$4 db_port=$5
files=(/etc/mathesar/.env /etc/mathesar/docker-compose.yml /var/lib/mathesar/caddy/Caddyfile)
# cmd SET: sets $cmd to the configure command towards answer set A or B.
cmd() {
	cmd=(env MATHESAR_DB_PORT="$db_port" MATHESAR_DATA_DIR=/var/lib/mathesar)
	if [[ $1 == A ]]; then
		cmd+=(MATHESAR_HTTP_PORT="$port_a" MATHESAR_DOMAIN= MATHESAR_HTTPS_PORT=443)
	else
		cmd+=(MATHESAR_HTTP_PORT="$port_b" MATHESAR_DOMAIN=mathesar.localhost MATHESAR_HTTPS_PORT="$port_s")
	fi
	cmd+=(mathesarctl configure --non-interactive --no-start --lock-timeout 10)
}
run() { cmd "$1" && "${cmd[@]}"; }
hashes() { local f; for f in "${files[@]}"; do sha256sum <"$f" | cut -c1-64; done; }
# view: the configuration as a reader sees it (show-config, secrets masked), hashed.
view() { mathesarctl show-config --json 2>/dev/null | sha256sum | cut -c1-64; }
now_us() { local t=${EPOCHREALTIME/./}; echo "$((10#$t))"; }
fail() { echo "FAIL: $*"; exit 1; }

# A, then B, then A again: the expected files of each set (secrets are generated once and kept).
run A >/dev/null && mapfile -t want_a < <(hashes) && view_a=$(view)
run B >/dev/null && mapfile -t want_b < <(hashes) && view_b=$(view)
[[ $view_a != "$view_b" ]] || fail "show-config does not tell A from B"
run A >/dev/null
mapfile -t got < <(hashes)
[[ ${got[*]} == "${want_a[*]}" ]] || fail "a second run with the answers A did not give the same files"
[[ ${want_a[0]} != "${want_b[0]}" && ${want_a[1]} != "${want_b[1]}" ]] || fail "A and B must differ in .env and docker-compose.yml"

# Duration of an uninterrupted run (median of 5, both directions).
durs=()
for i in 1 2 3 4 5; do
	t=$(now_us); run B >/dev/null; run A >/dev/null; durs+=($((($(now_us) - t) / 2)))
done
dur=$(printf '%s\n' "${durs[@]}" | sort -n | sed -n 3p)
echo "run duration (median of 5): $((dur / 1000)) ms"

cur=A kills=0 tries=0 old_env=0 new_env=0 journals=0 leftovers=0
declare -a quarter=(0 0 0 0)
while ((kills < kills_wanted)); do
	((++tries <= kills_wanted * 4)) || fail "only $kills of $tries kills landed while configure ran"
	if [[ $cur == A ]]; then next=B old=("${want_a[@]}") new=("${want_b[@]}") new_view=$view_b; else next=A old=("${want_b[@]}") new=("${want_a[@]}") new_view=$view_a; fi
	delay=$((RANDOM * dur / 32768))
	cmd "$next"
	"${cmd[@]}" >/dev/null 2>&1 & # env execs mathesarctl: $! is its process
	pid=$!
	sleep "$(printf '%d.%06d' $((delay / 1000000)) $((delay % 1000000)))"
	kill -KILL "$pid" 2>/dev/null || true
	rc=0
	{ wait "$pid"; } 2>/dev/null || rc=$? # (no "Killed" line from bash)
	if ((rc == 137)); then
		kills=$((kills + 1))
		quarter[delay * 4 / dur]=$((quarter[delay * 4 / dur] + 1))
		if [[ -e /etc/mathesar/.pending ]]; then
			# Killed after the commit point: a reader sees the new set and leaves the journal.
			journals=$((journals + 1)) new_env=$((new_env + 1))
			got_view=$(view)
			[[ $got_view == "$new_view" ]] || fail "kill $kills (${delay} us into the run towards $next): after the commit point, show-config does not show the new set"
			[[ -e /etc/mathesar/.pending ]] || fail "show-config, a reader, completed the journal (only writers may)"
		else
			mapfile -t got < <(hashes)
			for i in "${!files[@]}"; do
				if [[ ${got[i]} != "${new[i]}" && ${got[i]} != "${old[i]}" ]]; then
					fail "kill $kills (${delay} us into the run towards $next): ${files[i]} is neither the old nor the new version"
				fi
			done
			[[ ${got[0]} == "${new[0]}" ]] && new_env=$((new_env + 1)) || old_env=$((old_env + 1))
			# Caddyfile is the same in A and B: a mix shows in .env and docker-compose.yml.
			[[ ${got[0]} == "${new[0]}" && ${got[1]} == "${new[1]}" || ${got[0]} == "${old[0]}" && ${got[1]} == "${old[1]}" ]] ||
				fail "kill $kills (${delay} us into the run towards $next): .env and docker-compose.yml are of different runs"
		fi
		{ compgen -G '/etc/mathesar/.*.tmp*' || compgen -G '/etc/mathesar/.*.staged-*'; } >/dev/null && leftovers=$((leftovers + 1))
	elif ((rc != 0)); then
		fail "a run towards $next that was not killed exited $rc"
	fi
	# The next run completes and gives exactly the new files.
	err=$(run "$next" 2>&1 >/dev/null) || fail "the run after kill $kills (towards $next) failed: $err"
	mapfile -t got < <(hashes)
	[[ ${got[*]} == "${new[*]}" ]] || fail "after kill $kills the completed run towards $next did not give its files"
	if compgen -G '/etc/mathesar/.*.tmp*' >/dev/null || compgen -G '/etc/mathesar/.*.staged-*' >/dev/null ||
		compgen -G '/var/lib/mathesar/caddy/.*.staged-*' >/dev/null || [[ -e /etc/mathesar/.pending ]]; then
		fail "temporary files left after a completed run: $(ls -a /etc/mathesar /var/lib/mathesar/caddy)"
	fi
	cur=$next
done

# Phase 2: a kill on entering each rename of a run in turn, until a run completes.
renames=0 before_commit=0 after_commit=0
for when in $(seq 1 20); do
	if [[ $cur == A ]]; then next=B old=("${want_a[@]}") new=("${want_b[@]}") new_view=$view_b; else next=A old=("${want_b[@]}") new=("${want_a[@]}") new_view=$view_a; fi
	cmd "$next"
	rc=0
	strace -f -qq -o /dev/null -e signal=none -e trace=rename,renameat,renameat2 \
		-e inject=rename,renameat,renameat2:signal=KILL:when="$when" "${cmd[@]}" >/dev/null 2>&1 || rc=$?
	if ((rc == 0)); then
		renames=$((when - 1))
		mapfile -t got < <(hashes)
		[[ ${got[*]} == "${new[*]}" ]] || fail "the run towards $next with no kill did not give its files"
		cur=$next
		break
	fi
	((rc == 137)) || fail "the run towards $next killed at rename $when exited $rc, not 137 (SIGKILL)"
	journal=no
	[[ -e /etc/mathesar/.pending ]] && journal=yes
	err=$(mathesarctl show-config 2>&1 >/dev/null) || fail "show-config after the kill at rename $when failed: $err"
	mapfile -t got < <(hashes)
	got_view=$(view)
	if ((when == 1)); then
		[[ $journal == no ]] || fail "killed on entering its first rename (the journal's), the run left a journal"
		[[ ${got[*]} == "${old[*]}" ]] || fail "killed before its commit point, the run towards $next did not leave the old set"
		before_commit=$((before_commit + 1))
	else
		[[ $journal == yes ]] || fail "killed at rename $when, after its commit point, the run left no journal"
		[[ $got_view == "$new_view" ]] || fail "killed at rename $when, after its commit point, the next reader did not see the new set"
		[[ -e /etc/mathesar/.pending ]] || fail "killed at rename $when, the reader completed the journal (only writers may)"
		after_commit=$((after_commit + 1))
	fi
	err=$(run "$next" 2>&1 >/dev/null) || fail "the run after the kill at rename $when failed: $err"
	cur=$next
	# Back to the other set, so that the next kill again interrupts a change.
	if [[ $cur == A ]]; then run B >/dev/null; cur=B; else run A >/dev/null; cur=A; fi
done
((renames >= 3)) || fail "a run changing .env and docker-compose.yml made $renames renames; expected the journal's and one a file"
echo "kills: $kills of $tries tries; by quarter of the run: ${quarter[*]}"
echo "kills at each rename of a run ($renames renames: the journal's, then one a file): before the commit point $before_commit, old set kept; after it $after_commit, new set seen by the next reader and completed by the next writer"
echo "after a kill: old set $old_env, new set $new_env (of which $journals read through the journal, completed by the next writer), staged or temporary files left $leftovers, sets mixed 0"
echo "every file old or new after each kill; every next run succeeded"

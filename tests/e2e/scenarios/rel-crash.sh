# shellcheck shell=bash
# e2e-needs: host, stack
# e2e-lane: seeded
# Crash safety (R2): `mathesarctl configure` is killed with SIGKILL at random points of real runs
# inside the host, alternating between two answer sets (A, then B with another HTTP port and a
# domain, which changes both .env and docker-compose.yml). After every kill: without a journal the
# files are the old set or the new set, byte for byte (SHA-256): never a partial file, never .env
# of one run with the compose file of the other; with a journal (killed after the commit point)
# the configuration as a reader sees it (`mathesarctl show-config`, which reads a committed set
# through its journal and writes nothing: storage::commit) is the new set's, and the reader leaves
# the journal for the next writer. The run after it succeeds and gives exactly the expected files,
# with no staged, temporary or journal file left. The kill times are uniform over the measured duration of a run; at least 50 kills
# must land while configure runs. The write phase is a small part of a run, so random kills seldom
# land in it: a second phase kills a run at each of its renames in turn (strace's fault
# injection delivers SIGKILL on entering the Nth rename), before the commit point (the journal's
# rename: the old set must stand) and after it (the new set must be what the next reader sees).
# Figure: kills, and how many left the old set / the new one / a journal to complete.
# The kill loop runs inside the host: tests/e2e/tools/kill-configure.sh.
host_start
host_copy "$E2E_BIN" /usr/bin/mathesarctl
config_dir /etc/mathesar

kills_wanted=${REL_CRASH_KILLS:-50}
host_copy "$E2E_DIR/tools/kill-configure.sh" /root/kill-configure.sh
out=$(host_exec bash /root/kill-configure.sh "$kills_wanted" "$(free_port)" "$(free_port)" "$(free_port)" "$(free_port)" 2>&1) ||
	fail "$(grep -m1 '^FAIL: ' <<<"$out" | cut -c7- || echo "the kill loop failed: ${out: -500}")"
printf '%s\n' "$out" >&2
kills=$(sed -n 's/^kills: \([0-9]*\) .*/\1/p' <<<"$out")
((kills >= kills_wanted)) || fail "only ${kills:-0} kills"
log "R2: $(grep '^kills:' <<<"$out"); $(grep '^after a kill:' <<<"$out"); $(grep '^kills at each rename' <<<"$out")"

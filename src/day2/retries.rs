//! restic's retries bounded. restic (0.14) retries each failed request to its repository about
//! ten times over about a minute, and every later request again: a server down for good, or one
//! whose disk is full, keeps a backup going for many minutes while it holds the repository's lock.
//! restic says so on stderr at every retry (`Save(<data/...>) returned error, retrying after
//! 1.2s: ...`): once such lines have come, never more than [`STREAK_GAP`] apart, for longer than
//! the bound, restic is interrupted (SIGINT: it stops uploading; SIGKILL if it does not end) and
//! the run fails saying so. What restic uploaded stays in the repository for the next backup, and
//! its lock is a stale one the next run removes.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The variable (in /etc/default/mathesar, read by the backup and drill units) that sets the
/// bound in seconds; 0 lets restic retry as long as it will.
pub(crate) const SECONDS_VAR: &str = "MATHESAR_BACKUP_RETRY_SECONDS";
/// Five minutes: several of restic's own rounds of retries, so a server restarting or a network
/// blip is carried over, and a dead server does not hold a backup for a quarter of an hour.
pub(crate) const DEFAULT_BOUND: Duration = Duration::from_secs(300);
/// restic's backoff waits at most a minute between two tries of a request: a longer silence means
/// a request went through.
const STREAK_GAP: Duration = Duration::from_secs(90);
/// How long restic may take to end after SIGINT (it tries to remove its lock, and retries that
/// too) before it is killed.
const INTERRUPT_GRACE: Duration = Duration::from_secs(15);
/// The words of restic's retry line.
const RETRY_WORDS: &str = "returned error, retrying after";
/// What restic 0.16 and later say once a retried request went through (0.14 says nothing).
const SUCCESS_WORDS: &str = "operation successful after";

/// The bound the environment sets: None when it is 0 (never give up).
pub(crate) fn bound_from_env() -> Option<Duration> {
    bound_of(std::env::var(SECONDS_VAR).ok().as_deref())
}

fn bound_of(value: Option<&str>) -> Option<Duration> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Some(DEFAULT_BOUND),
        Some(v) => match v.parse::<u64>() {
            Ok(0) => None,
            Ok(s) => Some(Duration::from_secs(s)),
            // A typo must not make a backup wait forever: the default, said in the journal.
            Err(_) => {
                crate::stack::journal::warn(format!(
                    "{SECONDS_VAR}={v} is not a number of seconds: {} s is used",
                    DEFAULT_BOUND.as_secs()
                ));
                Some(DEFAULT_BOUND)
            }
        },
    }
}

/// How a watched run ended.
#[derive(Debug)]
pub(crate) struct Finished {
    pub output: Output,
    /// Set when restic was stopped: how long its requests had been failing.
    pub gave_up_after: Option<Duration>,
}

/// Runs `cmd` to its end (stdin closed, stdout and stderr collected), interrupting it once its
/// retries have gone on for longer than `bound`.
pub(crate) fn run(cmd: Command, bound: Option<Duration>) -> std::io::Result<Finished> {
    run_graced(cmd, bound, INTERRUPT_GRACE)
}

fn run_graced(
    mut cmd: Command,
    bound: Option<Duration>,
    grace: Duration,
) -> std::io::Result<Finished> {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let mut stdout = child.stdout.take().expect("stdout is piped");
    let out_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stdout.read_to_end(&mut buf);
        buf
    });
    let stderr = child.stderr.take().expect("stderr is piped");
    // Some(time) for a retry, None for a request that went through after retries.
    let (retried, retries) = mpsc::channel::<Option<Instant>>();
    let err_reader = std::thread::spawn(move || {
        let mut all = Vec::new();
        let mut lines = BufReader::new(stderr);
        let mut line = Vec::new();
        while matches!(lines.read_until(b'\n', &mut line), Ok(n) if n > 0) {
            let text = String::from_utf8_lossy(&line);
            if text.contains(RETRY_WORDS) {
                let _ = retried.send(Some(Instant::now()));
            } else if text.contains(SUCCESS_WORDS) {
                let _ = retried.send(None);
            }
            all.append(&mut line);
        }
        all
    });
    let mut streak = Streak::default();
    let mut gave_up_after = None;
    let status = loop {
        match retries.recv_timeout(Duration::from_millis(250)) {
            Ok(Some(at)) => streak.retried(at),
            Ok(None) => streak = Streak::default(),
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            // stderr closed: restic is ending.
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                std::thread::sleep(Duration::from_millis(50))
            }
        }
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if let Some(failing) = bound.and_then(|b| streak.beyond(b, Instant::now())) {
            gave_up_after = Some(failing);
            break interrupt(&mut child, grace)?;
        }
    };
    Ok(Finished {
        output: Output {
            status,
            stdout: out_reader.join().unwrap_or_default(),
            stderr: err_reader.join().unwrap_or_default(),
        },
        gave_up_after,
    })
}

/// SIGINT, then SIGKILL after `grace`.
fn interrupt(
    child: &mut std::process::Child,
    grace: Duration,
) -> std::io::Result<std::process::ExitStatus> {
    use nix::sys::signal::{Signal, kill};
    use nix::unistd::Pid;
    if let Ok(pid) = i32::try_from(child.id()) {
        let _ = kill(Pid::from_raw(pid), Signal::SIGINT);
    }
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait()? {
            return Ok(status);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    child.wait()
}

/// Retry lines that keep coming: when the first of them came, and the last.
#[derive(Debug, Default)]
struct Streak {
    span: Option<(Instant, Instant)>,
}

impl Streak {
    fn retried(&mut self, at: Instant) {
        self.span = match self.span {
            Some((first, last)) if at.saturating_duration_since(last) <= STREAK_GAP => {
                Some((first, at))
            }
            _ => Some((at, at)),
        };
    }

    /// How long requests have been failing, when that is longer than `bound` and the last retry
    /// is recent (restic still retrying).
    fn beyond(&self, bound: Duration, now: Instant) -> Option<Duration> {
        let (first, last) = self.span?;
        let failing = now.saturating_duration_since(first);
        (now.saturating_duration_since(last) <= STREAK_GAP && failing >= bound).then_some(failing)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> Command {
        let mut c = Command::new("sh");
        c.arg("-c").arg(script);
        c
    }

    #[test]
    fn the_bound_is_read_from_its_variable() {
        assert_eq!(bound_of(None), Some(DEFAULT_BOUND));
        assert_eq!(bound_of(Some(" ")), Some(DEFAULT_BOUND));
        assert_eq!(bound_of(Some("0")), None);
        assert_eq!(bound_of(Some("45")), Some(Duration::from_secs(45)));
        assert_eq!(bound_of(Some("5m")), Some(DEFAULT_BOUND));
    }

    #[test]
    fn a_streak_ends_with_a_long_silence() {
        let t0 = Instant::now();
        let s = |secs| t0 + Duration::from_secs(secs);
        let mut streak = Streak::default();
        assert_eq!(streak.beyond(Duration::from_secs(1), t0), None);
        for at in [0, 50, 100, 150] {
            streak.retried(s(at));
        }
        let bound = Duration::from_secs(120);
        assert_eq!(streak.beyond(bound, s(160)), Some(Duration::from_secs(160)));
        // No retry for longer than the gap: requests went through.
        assert_eq!(streak.beyond(bound, s(150 + 91)), None);
        // A retry after a silence starts a new streak.
        streak.retried(s(300));
        assert_eq!(streak.beyond(bound, s(310)), None);
        streak.retried(s(380));
        assert_eq!(streak.beyond(bound, s(420)), Some(Duration::from_secs(120)));
    }

    #[test]
    fn endless_retries_are_interrupted_and_their_lines_kept() {
        // restic (Go's signal.Notify) catches SIGINT even when it was started with SIGINT
        // ignored, as a command run in the background of a script is; sh cannot trap a signal
        // ignored on entry, so it gets SIGINT's default disposition back first.
        let mut cmd = Command::new("env");
        cmd.args(["--default-signal=INT", "sh", "-c"]).arg(
            "trap 'echo interrupted >&2; exit 130' INT
             while :; do echo 'Save(<data/ab>) returned error, retrying after 1s: dial tcp: connection refused' >&2; sleep 0.1; done",
        );
        let done = run(cmd, Some(Duration::from_millis(700))).unwrap();
        let failing = done.gave_up_after.expect("given up");
        assert!(failing >= Duration::from_millis(700), "{failing:?}");
        assert!(!done.output.status.success());
        let stderr = String::from_utf8_lossy(&done.output.stderr);
        assert!(stderr.contains("connection refused"), "{stderr}");
        assert!(stderr.contains("interrupted"), "SIGINT first: {stderr}");
    }

    #[test]
    fn a_run_without_retries_ends_by_itself_with_its_output() {
        let done = run(
            sh("echo out; echo err >&2; sleep 1; echo '{\"message_type\":\"summary\"}'"),
            Some(Duration::from_millis(100)),
        )
        .unwrap();
        assert!(done.gave_up_after.is_none());
        assert!(done.output.status.success());
        assert_eq!(
            String::from_utf8_lossy(&done.output.stdout),
            "out\n{\"message_type\":\"summary\"}\n"
        );
        assert_eq!(String::from_utf8_lossy(&done.output.stderr), "err\n");
    }

    #[test]
    fn a_request_that_went_through_ends_the_streak() {
        let done = run(
            sh("for i in 1 2 3 4 5 6; do echo 'Save(<data/ab>) returned error, retrying after 10ms: EOF' >&2; sleep 0.1;
                echo 'Save(<data/ab>) operation successful after 1 retries' >&2; done"),
            Some(Duration::from_millis(350)),
        )
        .unwrap();
        assert!(done.gave_up_after.is_none());
        assert!(done.output.status.success());
    }

    #[test]
    fn unbounded_retries_run_to_restics_own_end() {
        let done = run(
            sh("for i in 1 2 3 4 5; do echo 'Load(<key/1>) returned error, retrying after 10ms: EOF' >&2; sleep 0.2; done; exit 1"),
            None,
        )
        .unwrap();
        assert!(done.gave_up_after.is_none());
        assert_eq!(done.output.status.code(), Some(1));
    }

    #[test]
    fn a_program_that_ignores_sigint_is_killed() {
        let started = Instant::now();
        let grace = Duration::from_millis(500);
        let done = run_graced(
            sh("trap '' INT
                while :; do echo 'x returned error, retrying after 1s: 500 Internal Server Error' >&2; sleep 0.1; done"),
            Some(Duration::from_millis(300)),
            grace,
        )
        .unwrap();
        assert!(done.gave_up_after.is_some());
        assert!(started.elapsed() >= grace);
        assert!(!done.output.status.success());
    }
}

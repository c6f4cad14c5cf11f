//! The one way mathesarctl runs a short-lived program for its output: no shell, stdin closed (or
//! given bytes), and killed when it outlives its timeout, so that a hung tool (a Compose binary,
//! a credential helper) never hangs a configure, a start or a support bundle. `docker compose`
//! itself runs through `stack::compose`, `systemctl` through `systemd::unit`. [`Foreground`]: a
//! program whose output is the user's to see (the maintainer scripts' steps), killed the same way.

use std::ffi::{OsStr, OsString};
use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use thiserror::Error;

#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub(crate) enum RunError {
    #[error("`{0}` is not installed")]
    NotFound(String),
    /// The program could not be started, or (for [`first_line`]) said why it failed.
    #[error("`{0}` failed: {1}")]
    Failed(String, String),
    #[error("`{0}` did not answer within {1} s")]
    Timeout(String, u64),
}

/// `program args...` as a message shows it.
fn shown(program: &str, args: &[&str]) -> String {
    std::iter::once(program)
        .chain(args.iter().copied())
        .collect::<Vec<_>>()
        .join(" ")
}

fn start_error(program: &str, args: &[&str], e: &std::io::Error) -> RunError {
    if e.kind() == std::io::ErrorKind::NotFound {
        RunError::NotFound(program.to_string())
    } else {
        RunError::Failed(shown(program, args), e.to_string())
    }
}

/// Runs `program` to its end within `timeout` and returns its output, whatever its exit status.
pub(crate) async fn output(
    program: &str,
    args: &[&str],
    timeout: Duration,
) -> Result<Output, RunError> {
    let child = tokio::process::Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    match tokio::time::timeout(timeout, child).await {
        Err(_) => Err(RunError::Timeout(shown(program, args), timeout.as_secs())),
        Ok(Err(e)) => Err(start_error(program, args, &e)),
        Ok(Ok(out)) => Ok(out),
    }
}

/// The first non-empty line a program prints on success; otherwise its first line on stderr.
pub(crate) async fn first_line(
    program: &str,
    args: &[&str],
    timeout: Duration,
) -> Result<String, RunError> {
    let out = output(program, args, timeout).await?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().map(str::trim).find(|l| !l.is_empty());
    match (out.status.success(), line) {
        (true, Some(l)) => Ok(l.to_string()),
        _ => {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let why = stderr
                .lines()
                .map(str::trim)
                .find(|l| !l.is_empty())
                .unwrap_or("no output")
                .to_string();
            Err(RunError::Failed(shown(program, args), why))
        }
    }
}

/// [`output`] for code that is not async: `input` written to its stdin (then closed), stdout and
/// stderr collected; the program is killed once `timeout` has passed.
pub(crate) fn output_blocking(
    program: &str,
    args: &[&str],
    input: &[u8],
    timeout: Duration,
) -> Result<Output, RunError> {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| start_error(program, args, &e))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A program that exits without reading its input is not an error here.
        let _ = stdin.write_all(input);
    }
    // Read on threads so that a full pipe never blocks the program while we wait for it.
    let stdout = reader(child.stdout.take().expect("stdout is piped"));
    let stderr = reader(child.stderr.take().expect("stderr is piped"));
    let status = wait(&mut child, timeout, || shown(program, args))?;
    Ok(Output {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    })
}

/// Where a [`Foreground`] program's stdout goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stdout {
    /// This process's own.
    Inherit,
    /// This process's stderr (`>&2`).
    Stderr,
    /// Collected and returned (`$(...)`).
    Capture,
}

/// A program run in the foreground, as a shell script runs one: stderr this process's own,
/// stdin closed unless [`Foreground::stdin`] passes this process's on, stdout as [`Stdout`] says;
/// killed once its timeout has passed.
pub(crate) struct Foreground {
    command: Command,
    shown: String,
    stdout: Stdout,
}

/// How a [`Foreground`] program ended: its exit code (128 + the signal that killed it, as a shell
/// says) and, with [`Stdout::Capture`], what it printed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Ran {
    pub code: i32,
    pub stdout: String,
}

impl Ran {
    pub(crate) fn success(&self) -> bool {
        self.code == 0
    }
}

fn code_of(status: ExitStatus) -> i32 {
    status
        .code()
        .or_else(|| status.signal().map(|s| 128 + s))
        .unwrap_or(1)
}

impl Foreground {
    pub(crate) fn new(program: impl AsRef<OsStr>, args: &[&str]) -> Foreground {
        let program = program.as_ref();
        let mut command = Command::new(program);
        command.args(args).stdin(Stdio::null());
        Foreground {
            command,
            shown: shown(&program.to_string_lossy(), args),
            stdout: Stdout::Inherit,
        }
    }

    /// Passes this process's stdin on (a debconf frontend's replies arrive there).
    pub(crate) fn stdin(mut self) -> Foreground {
        self.command.stdin(Stdio::inherit());
        self
    }

    pub(crate) fn stdout(mut self, stdout: Stdout) -> Foreground {
        self.stdout = stdout;
        self
    }

    pub(crate) fn env(mut self, key: &str, value: impl Into<OsString>) -> Foreground {
        self.command.env(key, value.into());
        self
    }

    pub(crate) fn env_remove(mut self, key: &str) -> Foreground {
        self.command.env_remove(key);
        self
    }

    /// Runs the program to its end, or kills it once `timeout` has passed.
    pub(crate) fn run(mut self, timeout: Duration) -> Result<Ran, RunError> {
        let shown = self.shown.clone();
        let failed = |e: std::io::Error| RunError::Failed(shown.clone(), e.to_string());
        let stdout = match self.stdout {
            Stdout::Inherit => Stdio::inherit(),
            Stdout::Capture => Stdio::piped(),
            Stdout::Stderr => Stdio::from(
                std::io::stderr()
                    .as_fd()
                    .try_clone_to_owned()
                    .map_err(failed)?,
            ),
        };
        let mut child = self.command.stdout(stdout).spawn().map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                RunError::NotFound(shown.clone())
            } else {
                failed(e)
            }
        })?;
        let out = child.stdout.take().map(reader);
        let status = wait(&mut child, timeout, || shown.clone())?;
        let stdout = out
            .and_then(|h| h.join().ok())
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        Ok(Ran {
            code: code_of(status),
            stdout,
        })
    }
}

/// Waits for `child` to end; kills it once `timeout` has passed. `shown` names it in an error.
fn wait(
    child: &mut Child,
    timeout: Duration,
    shown: impl Fn() -> String,
) -> Result<ExitStatus, RunError> {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Ok(status),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(RunError::Timeout(shown(), timeout.as_secs()));
            }
            Err(e) => return Err(RunError::Failed(shown(), e.to_string())),
        }
    }
}

fn reader(mut pipe: impl Read + Send + 'static) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = pipe.read_to_end(&mut buf);
        buf
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHORT: Duration = Duration::from_secs(5);

    #[tokio::test]
    async fn first_line_says_why() {
        assert_eq!(
            first_line("mathesar-no-such-program", &[], SHORT).await,
            Err(RunError::NotFound("mathesar-no-such-program".into()))
        );
        assert_eq!(
            first_line("echo", &["", "x.y"], SHORT).await,
            Ok("x.y".into())
        );
        assert!(matches!(
            first_line("false", &[], SHORT).await,
            Err(RunError::Failed(..))
        ));
        assert_eq!(
            first_line("sleep", &["5"], Duration::from_millis(200)).await,
            Err(RunError::Timeout("sleep 5".into(), 0))
        );
    }

    #[test]
    fn blocking_feeds_stdin_and_kills_on_timeout() {
        let out = output_blocking("cat", &[], b"server\n", SHORT).unwrap();
        assert!(out.status.success());
        assert_eq!(out.stdout, b"server\n");
        let out = output_blocking("sh", &["-c", "echo why >&2; exit 3"], b"", SHORT).unwrap();
        assert_eq!(
            (out.status.code(), &out.stderr[..]),
            (Some(3), &b"why\n"[..])
        );
        let started = Instant::now();
        assert_eq!(
            output_blocking("sleep", &["30"], b"", Duration::from_millis(200)),
            Err(RunError::Timeout("sleep 30".into(), 0))
        );
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(
            output_blocking("mathesar-no-such-program", &[], b"", SHORT),
            Err(RunError::NotFound("mathesar-no-such-program".into()))
        );
    }

    #[test]
    fn foreground_captures_passes_the_environment_and_times_out() {
        let ran = Foreground::new("sh", &["-c", "echo \"$A${B:-unset}\"; exit 3"])
            .stdout(Stdout::Capture)
            .env("A", "a")
            .env_remove("B")
            .run(SHORT)
            .unwrap();
        assert_eq!(
            ran,
            Ran {
                code: 3,
                stdout: "aunset\n".into()
            }
        );
        assert!(!ran.success());
        // Not captured: nothing comes back.
        let ran = Foreground::new("echo", &["shown"])
            .stdout(Stdout::Stderr)
            .run(SHORT)
            .unwrap();
        assert!(ran.success() && ran.stdout.is_empty());
        // Killed by a signal: 128 + its number, as a shell says.
        let ran = Foreground::new("sh", &["-c", "kill -TERM $$"])
            .run(SHORT)
            .unwrap();
        assert_eq!(ran.code, 128 + 15);
        let started = Instant::now();
        assert_eq!(
            Foreground::new("sleep", &["30"]).run(Duration::from_millis(200)),
            Err(RunError::Timeout("sleep 30".into(), 0))
        );
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(
            Foreground::new("mathesar-no-such-program", &[]).run(SHORT),
            Err(RunError::NotFound("mathesar-no-such-program".into()))
        );
    }
}

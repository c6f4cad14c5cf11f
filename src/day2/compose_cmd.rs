//! `docker compose` run in the foreground with the terminal's own stdout (logs, `ps`), built from
//! the stack's [`Compose`] arguments. As in `crate::stack::compose`, the child's environment holds
//! only what the Docker client needs, so that no stray variable of the caller overrides `.env`.

use std::io::{BufRead, IsTerminal, Write};
use std::process::{Command, ExitStatus, Stdio};

use crate::stack::compose::{Compose, ComposeError};

/// Variables the Docker client may need; everything else is cleared.
const KEPT_ENV: &[&str] = &[
    "PATH",
    "HOME",
    "LANG",
    "LC_ALL",
    "TERM",
    "DOCKER_HOST",
    "DOCKER_CONTEXT",
    "DOCKER_CONFIG",
    "DOCKER_CERT_PATH",
    "DOCKER_TLS_VERIFY",
];
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// `docker compose SUB...` for the stack's project, stdin closed. `ansi`: let Compose use
/// terminal control sequences (only when its output is a terminal).
pub fn command_with(compose: &Compose, sub: &[&str], ansi: bool) -> Command {
    let mut full: Vec<&str> = Vec::with_capacity(sub.len() + 2);
    if !ansi {
        full.extend(["--ansi", "never"]);
    }
    full.extend(sub);
    let mut cmd = Command::new("docker");
    cmd.args(compose.args(&full))
        .env_clear()
        .current_dir(compose.config_dir())
        .stdin(Stdio::null());
    for name in KEPT_ENV {
        if let Some(v) = std::env::var_os(name) {
            cmd.env(name, v);
        }
    }
    if std::env::var_os("PATH").is_none() {
        cmd.env("PATH", DEFAULT_PATH);
    }
    cmd
}

/// `docker compose SUB...`, with terminal control sequences only when stdout is a terminal.
pub fn command(compose: &Compose, sub: &[&str]) -> Command {
    command_with(compose, sub, std::io::stdout().is_terminal())
}

fn shown(sub: &[&str]) -> String {
    format!("docker compose {}", sub.join(" "))
}

/// The "erase line" sequence Compose 2.x writes before each log line even with `--ansi never`.
const ERASE_LINE: &[u8] = b"\x1b[2K";

/// `line` without Compose's erase-line sequences.
pub fn strip_erase(line: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(line.len());
    let mut rest = line;
    while let Some(i) = rest.windows(ERASE_LINE.len()).position(|w| w == ERASE_LINE) {
        out.extend_from_slice(&rest[..i]);
        rest = &rest[i + ERASE_LINE.len()..];
    }
    out.extend_from_slice(rest);
    out
}

/// Runs it with stderr inherited and stdout passed on line by line as it comes (cleaned of
/// control sequences when stdout is not a terminal); waits for it to end.
pub fn run_inherited(compose: &Compose, sub: &[&str]) -> Result<ExitStatus, ComposeError> {
    let terminal = std::io::stdout().is_terminal();
    let mut cmd = command_with(compose, sub, terminal);
    if terminal {
        return cmd
            .status()
            .map_err(|source| ComposeError::Spawn { source });
    }
    let mut child = cmd
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|source| ComposeError::Spawn { source })?;
    if let Some(out) = child.stdout.take() {
        let mut reader = std::io::BufReader::new(out);
        let mut stdout = std::io::stdout().lock();
        let mut line = Vec::new();
        loop {
            line.clear();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    // A closed stdout (`| head`) ends the copy; compose then ends too.
                    if stdout.write_all(&strip_erase(&line)).is_err() || stdout.flush().is_err() {
                        break;
                    }
                }
            }
        }
    }
    child
        .wait()
        .map_err(|source| ComposeError::Spawn { source })
}

/// Runs it and returns stdout and stderr together (for reports); a failure is an error.
pub fn output(compose: &Compose, sub: &[&str]) -> Result<String, ComposeError> {
    let out = command_with(compose, sub, false)
        .output()
        .map_err(|source| ComposeError::Spawn { source })?;
    let mut text = String::from_utf8_lossy(&strip_erase(&out.stdout)).into_owned();
    text.push_str(&String::from_utf8_lossy(&strip_erase(&out.stderr)));
    if out.status.success() {
        Ok(text)
    } else {
        Err(ComposeError::Failed {
            command: shown(sub),
            status: out.status.to_string(),
            output: text,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::Layout;

    #[test]
    fn erase_line_sequences_are_removed() {
        assert_eq!(
            strip_erase(b"\x1b[2Kmathesar_db  | ready\n"),
            b"mathesar_db  | ready\n"
        );
        assert_eq!(strip_erase(b"a\x1b[2Kb\x1b[2K"), b"ab");
        assert_eq!(strip_erase(b"plain \x1b[1m"), b"plain \x1b[1m");
    }

    #[test]
    fn captured_output_asks_compose_for_no_control_sequences() {
        let d = tempfile::tempdir().unwrap();
        let c = Compose::new(&Layout::new(d.path(), "/srv/data"), false);
        let args: Vec<String> = command_with(&c, &["ps"], false)
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(args[args.len() - 3..], ["--ansi", "never", "ps"]);
        let args: Vec<String> = command_with(&c, &["ps"], true)
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(args.last().map(String::as_str), Some("ps"));
        assert!(!args.iter().any(|a| a == "--ansi"));
    }
}

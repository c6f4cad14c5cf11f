//! `docker compose` run in the foreground with the terminal's own stdout (logs, `ps`), built from
//! the stack's [`Compose`] arguments. As in `crate::stack::compose`, the child's environment holds
//! only what the Docker client needs, so that no stray variable of the caller overrides `.env`.

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

/// `docker compose SUB...` for the stack's project, stdin closed.
pub fn command(compose: &Compose, sub: &[&str]) -> Command {
    let mut cmd = Command::new("docker");
    cmd.args(compose.args(sub))
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

fn shown(sub: &[&str]) -> String {
    format!("docker compose {}", sub.join(" "))
}

/// Runs it with stdout and stderr inherited; waits for it to end.
pub fn run_inherited(compose: &Compose, sub: &[&str]) -> Result<ExitStatus, ComposeError> {
    command(compose, sub)
        .status()
        .map_err(|source| ComposeError::Spawn { source })
}

/// Runs it and returns stdout and stderr together (for reports); a failure is an error.
pub fn output(compose: &Compose, sub: &[&str]) -> Result<String, ComposeError> {
    let out = command(compose, sub)
        .output()
        .map_err(|source| ComposeError::Spawn { source })?;
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
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

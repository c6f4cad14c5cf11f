//! `docker compose` as a child process, for what Compose does best: creating, recreating (by
//! configuration hash), starting and stopping the services of the generated compose file, and
//! pulling images. Compose reads the values from `.env` itself: no secret is ever on its command
//! line, and its environment is cleared of everything but what the Docker client needs, so that
//! no stray variable of the caller overrides a value of `.env`.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use thiserror::Error;

use crate::storage::Layout;

use super::engine::PROJECT;

/// Variables passed on to the Docker client; everything else is cleared.
const KEPT_ENV: &[&str] = &[
    "PATH",
    "HOME",
    "LANG",
    "LC_ALL",
    "DOCKER_HOST",
    "DOCKER_CONTEXT",
    "DOCKER_CONFIG",
    "DOCKER_CERT_PATH",
    "DOCKER_TLS_VERIFY",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
];
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

#[derive(Debug, Error)]
pub enum ComposeError {
    #[error(
        "cannot run `docker compose` ({source}). Install the Docker CLI with the Compose v2 plugin (docker-compose-plugin or docker-compose >= 2.10)"
    )]
    Spawn {
        #[source]
        source: std::io::Error,
    },
    #[error("`{command}` failed ({status}){}", output_suffix(.output))]
    Failed {
        command: String,
        status: String,
        output: String,
    },
}

fn output_suffix(output: &str) -> String {
    let o = output.trim();
    if o.is_empty() {
        String::new()
    } else {
        format!(": {o}")
    }
}

/// The compose project of one configuration directory.
#[derive(Clone, Debug)]
pub struct Compose {
    config_dir: PathBuf,
    compose_file: PathBuf,
    override_file: Option<PathBuf>,
    profiles: Vec<String>,
}

impl Compose {
    /// `watchtower`: run the services of the `watchtower` profile too.
    pub fn new(layout: &Layout, watchtower: bool) -> Compose {
        let override_file = Some(layout.override_file()).filter(|p| p.exists());
        Compose {
            config_dir: layout.config_dir.clone(),
            compose_file: layout.compose_file(),
            override_file,
            profiles: if watchtower {
                vec!["watchtower".into()]
            } else {
                Vec::new()
            },
        }
    }

    /// The arguments of `docker` for the compose subcommand `sub`.
    pub fn args(&self, sub: &[&str]) -> Vec<OsString> {
        let mut a: Vec<OsString> = vec![
            "compose".into(),
            "--project-directory".into(),
            self.config_dir.clone().into(),
            "--project-name".into(),
            PROJECT.into(),
            "--env-file".into(),
            self.config_dir.join(".env").into(),
            "--file".into(),
            self.compose_file.clone().into(),
        ];
        if let Some(o) = &self.override_file {
            a.push("--file".into());
            a.push(o.clone().into());
        }
        // apt gives maintainer scripts a pseudo-terminal: progress drawn with escape codes would
        // end up in /var/log/apt/term.log. Plain lines there.
        if std::env::var_os("DPKG_MAINTSCRIPT_NAME").is_some() {
            a.push("--ansi".into());
            a.push("never".into());
        }
        for p in &self.profiles {
            a.push("--profile".into());
            a.push(p.into());
        }
        a.extend(sub.iter().map(OsString::from));
        a
    }

    fn command(&self, sub: &[&str]) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new("docker");
        cmd.args(self.args(sub))
            .env_clear()
            .current_dir(&self.config_dir);
        for name in KEPT_ENV {
            if let Some(v) = std::env::var_os(name) {
                cmd.env(name, v);
            }
        }
        if std::env::var_os("PATH").is_none() {
            cmd.env("PATH", DEFAULT_PATH);
        }
        cmd.stdin(Stdio::null()).kill_on_drop(true);
        cmd
    }

    fn shown(sub: &[&str]) -> String {
        format!("docker compose -p {PROJECT} {}", sub.join(" "))
    }

    /// Runs `docker compose SUB...` with its output going to stderr (progress on a terminal,
    /// plain lines in the journal).
    pub async fn run(&self, sub: &[&str]) -> Result<(), ComposeError> {
        // Compose writes its progress to stderr; its stdout goes there too, so that stdout stays
        // for the command's own result.
        let mut cmd = self.command(sub);
        cmd.stdout(std::io::stderr()).stderr(Stdio::inherit());
        let status = cmd
            .status()
            .await
            .map_err(|source| ComposeError::Spawn { source })?;
        if status.success() {
            Ok(())
        } else {
            Err(ComposeError::Failed {
                command: Self::shown(sub),
                status: status.to_string(),
                output: String::new(),
            })
        }
    }

    /// Runs `docker compose SUB...` and returns its stdout.
    pub async fn output(&self, sub: &[&str]) -> Result<String, ComposeError> {
        let out = self
            .command(sub)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()
            .await
            .map_err(|source| ComposeError::Spawn { source })?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(ComposeError::Failed {
                command: Self::shown(sub),
                status: out.status.to_string(),
                output: String::from_utf8_lossy(&out.stderr).into_owned(),
            })
        }
    }

    pub fn config_dir(&self) -> &Path {
        &self.config_dir
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(a: Vec<OsString>) -> Vec<String> {
        a.into_iter().map(|s| s.into_string().unwrap()).collect()
    }

    #[test]
    fn arguments_name_the_project_files_and_profiles() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::new(dir.path(), "/srv/data");
        let c = Compose::new(&layout, false);
        let d = dir.path().display().to_string();
        assert_eq!(
            strings(c.args(&["up", "-d", "--no-deps", "db"])),
            [
                "compose",
                "--project-directory",
                &d,
                "--project-name",
                "mathesar",
                "--env-file",
                &format!("{d}/.env"),
                "--file",
                &format!("{d}/docker-compose.yml"),
                "up",
                "-d",
                "--no-deps",
                "db"
            ]
        );

        std::fs::write(layout.override_file(), "services: {}\n").unwrap();
        let c = Compose::new(&layout, true);
        let a = strings(c.args(&["stop"]));
        let tail: Vec<&str> = a[9..].iter().map(String::as_str).collect();
        assert_eq!(
            tail,
            [
                "--file",
                &format!("{d}/docker-compose.override.yml"),
                "--profile",
                "watchtower",
                "stop"
            ]
        );
    }

    #[test]
    fn no_volume_removal_anywhere() {
        // `down -v` / `rm -v` would delete data: the lifecycle never asks Compose for them.
        let src = include_str!("lifecycle.rs");
        for bad in ["\"down\"", "\"-v\"", "\"--volumes\"", "\"rm\""] {
            assert!(!src.contains(bad), "lifecycle.rs mentions {bad}");
        }
    }
}

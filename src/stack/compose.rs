//! `docker compose` as a child process: the one place the package runs Compose. The lifecycle
//! uses it for what Compose does best (creating, recreating by configuration hash, starting and
//! stopping the services of the generated compose file); `logs` and support bundles run it in the
//! foreground; `purge` removes the containers through it. Compose reads the values from `.env`
//! itself: no secret is ever on its command line, and its environment is cleared of everything
//! but what the Docker client needs ([`KEPT_ENV`]), so that no stray variable of the caller
//! overrides a value of `.env`.

use std::ffi::OsString;
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};

use thiserror::Error;

use crate::storage::{ConfigLayout, Layout};

use super::engine::PROJECT;

/// Variables passed on to the Docker client; everything else is cleared.
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
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
];
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

#[derive(Debug, Error)]
pub(crate) enum ComposeError {
    #[error(
        "cannot run `docker compose` ({source}). Install the Docker CLI with the Compose v2 plugin (docker-compose-plugin or docker-compose >= 2.10)"
    )]
    Spawn {
        #[source]
        source: std::io::Error,
    },
    #[error(
        "`{command}` is refused: the lifecycle never removes containers or volumes (their data would go with them); `mathesarctl purge` removes the containers"
    )]
    Refused { command: String },
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

/// Whether Compose may draw its progress with terminal control sequences.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ansi {
    /// Compose decides (it draws only on a terminal), except under apt (see [`Compose::args`]).
    Auto,
    Never,
}

/// The compose project of one configuration directory.
#[derive(Clone, Debug)]
pub(crate) struct Compose {
    /// `docker`; another program in tests.
    program: OsString,
    config_dir: PathBuf,
    compose_file: PathBuf,
    override_file: Option<PathBuf>,
}

impl Compose {
    pub(crate) fn new(layout: &Layout) -> Compose {
        Compose::for_config(&layout.config())
    }

    /// The project of a configuration directory alone (`purge`, which does not read the
    /// configuration).
    pub(crate) fn for_config(layout: &ConfigLayout) -> Compose {
        let override_file = Some(layout.override_file()).filter(|p| p.exists());
        Compose {
            program: "docker".into(),
            config_dir: layout.dir.clone(),
            compose_file: layout.compose_file(),
            override_file,
        }
    }

    /// The arguments of `docker` for the compose subcommand `sub`.
    #[cfg(test)]
    pub(crate) fn args(&self, sub: &[&str]) -> Vec<OsString> {
        self.args_with(sub, Ansi::Auto)
    }

    fn args_with(&self, sub: &[&str], ansi: Ansi) -> Vec<OsString> {
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
        if ansi == Ansi::Never || std::env::var_os("DPKG_MAINTSCRIPT_NAME").is_some() {
            a.push("--ansi".into());
            a.push("never".into());
        }
        a.extend(sub.iter().map(OsString::from));
        a
    }

    /// What would remove data is never run: `down` and `rm` (containers, and with `-v` their
    /// volumes), and any `-v`/`--volumes`.
    fn refuse_removal(sub: &[&str]) -> Result<(), ComposeError> {
        let removes = matches!(sub.first(), Some(&("down" | "rm")))
            || sub.iter().any(|a| matches!(*a, "-v" | "--volumes"));
        if removes {
            return Err(ComposeError::Refused {
                command: Self::shown(sub),
            });
        }
        Ok(())
    }

    /// Every run of Compose is built here: the project's arguments, the environment cleared to
    /// [`KEPT_ENV`], the configuration directory as working directory, stdin closed.
    fn command(&self, sub: &[&str], ansi: Ansi) -> std::process::Command {
        let mut cmd = std::process::Command::new(&self.program);
        cmd.args(self.args_with(sub, ansi))
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
        cmd.stdin(Stdio::null());
        cmd
    }

    fn async_command(&self, sub: &[&str]) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::from(self.command(sub, Ansi::Auto));
        cmd.kill_on_drop(true);
        cmd
    }

    fn shown(sub: &[&str]) -> String {
        format!("docker compose -p {PROJECT} {}", sub.join(" "))
    }

    fn failed(sub: &[&str], status: ExitStatus, output: String) -> ComposeError {
        ComposeError::Failed {
            command: Self::shown(sub),
            status: status.to_string(),
            output,
        }
    }

    /// Runs `docker compose SUB...` with its output going to stderr (progress on a terminal,
    /// plain lines in the journal).
    pub(crate) async fn run(&self, sub: &[&str]) -> Result<(), ComposeError> {
        Self::refuse_removal(sub)?;
        // Compose writes its progress to stderr; its stdout goes there too, so that stdout stays
        // for the command's own result.
        let mut cmd = self.async_command(sub);
        cmd.stdout(std::io::stderr()).stderr(Stdio::inherit());
        let status = cmd
            .status()
            .await
            .map_err(|source| ComposeError::Spawn { source })?;
        if status.success() {
            Ok(())
        } else {
            Err(Self::failed(sub, status, String::new()))
        }
    }

    /// Runs `docker compose SUB...` and returns its stdout.
    pub(crate) async fn output(&self, sub: &[&str]) -> Result<String, ComposeError> {
        Self::refuse_removal(sub)?;
        let out = self
            .async_command(sub)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()
            .await
            .map_err(|source| ComposeError::Spawn { source })?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
            Err(Self::failed(sub, out.status, stderr))
        }
    }

    /// Runs `docker compose SUB...` in the foreground for the administrator (`logs`): stderr
    /// inherited, stdout passed on line by line as it comes (cleaned of control sequences when
    /// stdout is not a terminal); waits for it to end.
    pub(crate) fn run_foreground(&self, sub: &[&str]) -> Result<ExitStatus, ComposeError> {
        Self::refuse_removal(sub)?;
        let terminal = std::io::stdout().is_terminal();
        let mut cmd = self.command(sub, if terminal { Ansi::Auto } else { Ansi::Never });
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
                        if stdout.write_all(&strip_erase(&line)).is_err() || stdout.flush().is_err()
                        {
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

    /// Runs `docker compose SUB...` and returns stdout and stderr together, without control
    /// sequences (support bundles); a failure is an error.
    pub(crate) fn report(&self, sub: &[&str]) -> Result<String, ComposeError> {
        Self::refuse_removal(sub)?;
        let out = self
            .command(sub, Ansi::Never)
            .output()
            .map_err(|source| ComposeError::Spawn { source })?;
        let mut text = String::from_utf8_lossy(&strip_erase(&out.stdout)).into_owned();
        text.push_str(&String::from_utf8_lossy(&strip_erase(&out.stderr)));
        if out.status.success() {
            Ok(text)
        } else {
            Err(Self::failed(sub, out.status, text))
        }
    }

    /// `purge` only: removes the project's containers and networks (`down --remove-orphans`),
    /// never a volume; the data lives in bind mounts under the data directory and stays.
    pub(crate) fn remove_containers(&self) -> Result<(), ComposeError> {
        let sub = ["down", "--remove-orphans"];
        let status = self
            .command(&sub, Ansi::Never)
            .status()
            .map_err(|source| ComposeError::Spawn { source })?;
        if status.success() {
            Ok(())
        } else {
            Err(Self::failed(&sub, status, String::new()))
        }
    }
}

/// The "erase line" sequence Compose 2.x writes before each log line even with `--ansi never`.
const ERASE_LINE: &[u8] = b"\x1b[2K";

/// `line` without Compose's erase-line sequences.
pub(crate) fn strip_erase(line: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(line.len());
    let mut rest = line;
    while let Some(i) = rest.windows(ERASE_LINE.len()).position(|w| w == ERASE_LINE) {
        out.extend_from_slice(&rest[..i]);
        rest = &rest[i + ERASE_LINE.len()..];
    }
    out.extend_from_slice(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(a: Vec<OsString>) -> Vec<String> {
        a.into_iter().map(|s| s.into_string().unwrap()).collect()
    }

    #[test]
    fn arguments_name_the_project_and_its_files() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::new(dir.path(), "/srv/data");
        let c = Compose::new(&layout);
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

        std::fs::write(layout.config().override_file(), "services: {}\n").unwrap();
        let c = Compose::new(&layout);
        let a = strings(c.args(&["stop"]));
        let tail: Vec<&str> = a[9..].iter().map(String::as_str).collect();
        assert_eq!(
            tail,
            [
                "--file",
                &format!("{d}/docker-compose.override.yml"),
                "stop"
            ]
        );
    }

    /// Every Compose run of the lifecycle goes through `run` or `output`: whatever a caller asks,
    /// nothing that removes containers or volumes reaches the program. `echo` stands in for
    /// `docker` and would succeed with anything.
    #[tokio::test]
    async fn nothing_that_removes_data_is_ever_run() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = Compose::new(&Layout::new(dir.path(), "/srv/data"));
        c.program = "echo".into();
        let out = c.output(&["stop", "--timeout", "10"]).await.unwrap();
        assert!(out.trim_end().ends_with("stop --timeout 10"), "{out}");
        c.run(&["up", "--detach", "--no-deps", "db"]).await.unwrap();
        for sub in [
            &["down"][..],
            &["down", "-v"],
            &["down", "--volumes", "--remove-orphans"],
            &["rm", "-f"],
            &["rm", "-s", "-v", "db"],
            &["stop", "-v"],
            &["up", "--detach", "--volumes"],
        ] {
            let e = c.output(sub).await.unwrap_err();
            assert!(matches!(e, ComposeError::Refused { .. }), "{sub:?}: {e}");
            let e = c.run(sub).await.unwrap_err();
            assert!(matches!(e, ComposeError::Refused { .. }), "{sub:?}: {e}");
            let e = c.report(sub).unwrap_err();
            assert!(matches!(e, ComposeError::Refused { .. }), "{sub:?}: {e}");
            let e = c.run_foreground(sub).unwrap_err();
            assert!(matches!(e, ComposeError::Refused { .. }), "{sub:?}: {e}");
        }
        // `purge` removes the containers, never a volume.
        let mut c = Compose::new(&Layout::new(dir.path(), "/srv/data"));
        let log = dir.path().join("args");
        let stand_in = dir.path().join("docker");
        std::fs::write(
            &stand_in,
            format!("#!/bin/sh\necho \"$@\" > {}\n", log.display()),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&stand_in, std::fs::Permissions::from_mode(0o755)).unwrap();
        c.program = stand_in.into();
        c.remove_containers().unwrap();
        let args = std::fs::read_to_string(&log).unwrap();
        assert!(
            args.trim_end()
                .ends_with("--ansi never down --remove-orphans"),
            "{args}"
        );
        assert!(
            !args
                .split_whitespace()
                .any(|a| a == "-v" || a == "--volumes"),
            "{args}"
        );
        c.program = "false".into();
        assert!(matches!(
            c.remove_containers(),
            Err(ComposeError::Failed { .. })
        ));
    }

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
        let c = Compose::new(&Layout::new(d.path(), "/srv/data"));
        let args = |ansi| {
            strings(
                c.command(&["ps"], ansi)
                    .get_args()
                    .map(OsString::from)
                    .collect(),
            )
        };
        let never = args(Ansi::Never);
        assert_eq!(never[never.len() - 3..], ["--ansi", "never", "ps"]);
        let auto = args(Ansi::Auto);
        assert_eq!(auto.last().map(String::as_str), Some("ps"));
        assert!(
            !auto.iter().any(|a| a == "--ansi")
                || std::env::var_os("DPKG_MAINTSCRIPT_NAME").is_some()
        );
    }
}

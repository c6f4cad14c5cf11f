//! Commands run in a container whose output or input is a file, streamed both ways so that a dump
//! of any size never sits in memory (`Engine::exec`, the collecting form, suits short commands
//! only). Secrets go in the exec environment, never on the command line.

use std::io::Write;

use bollard::container::LogOutput;
use bollard::exec::{CreateExecOptions, StartExecResults};
use futures_util::StreamExt;
use thiserror::Error;
use tokio::io::AsyncWriteExt;

use super::engine::Engine;

#[derive(Debug, Error)]
pub(crate) enum ExecError {
    #[error("the Docker Engine failed to run `{command}` in {container}: {source}")]
    Api {
        command: String,
        container: String,
        #[source]
        source: bollard::errors::Error,
    },
    #[error("`{command}` in {container}: {source}")]
    Io {
        command: String,
        container: String,
        #[source]
        source: std::io::Error,
    },
}

/// How a command ended: its exit code and what it wrote on stderr.
#[derive(Debug, Default)]
pub(crate) struct Ended {
    pub exit_code: i64,
    pub stderr: String,
}

impl Ended {
    pub(crate) fn success(&self) -> bool {
        self.exit_code == 0
    }
}

struct Run<'a> {
    engine: &'a Engine,
    container: &'a str,
    shown: String,
}

impl Run<'_> {
    fn api(&self) -> impl FnOnce(bollard::errors::Error) -> ExecError + '_ {
        |source| ExecError::Api {
            command: self.shown.clone(),
            container: self.container.to_string(),
            source,
        }
    }
    fn io(&self) -> impl FnOnce(std::io::Error) -> ExecError + '_ {
        |source| ExecError::Io {
            command: self.shown.clone(),
            container: self.container.to_string(),
            source,
        }
    }

    async fn start(
        &self,
        cmd: &[&str],
        env: &[(&str, &str)],
        stdin: bool,
    ) -> Result<(String, StartExecResults), ExecError> {
        let env: Vec<String> = env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let created = self
            .engine
            .docker()
            .create_exec(
                self.container,
                CreateExecOptions {
                    cmd: Some(cmd.iter().map(|s| s.to_string()).collect()),
                    env: Some(env),
                    attach_stdin: Some(stdin),
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    ..Default::default()
                },
            )
            .await
            .map_err(self.api())?;
        let started = self
            .engine
            .docker()
            .start_exec(&created.id, None)
            .await
            .map_err(self.api())?;
        Ok((created.id, started))
    }

    async fn exit_code(&self, id: &str) -> Result<i64, ExecError> {
        let inspected = self
            .engine
            .docker()
            .inspect_exec(id)
            .await
            .map_err(self.api())?;
        Ok(inspected.exit_code.unwrap_or(-1))
    }
}

/// Runs `cmd` in `container` and writes its stdout to `out` as it comes.
pub(crate) async fn to_writer(
    engine: &Engine,
    container: &str,
    cmd: &[&str],
    env: &[(&str, &str)],
    out: &mut dyn Write,
) -> Result<Ended, ExecError> {
    let run = Run {
        engine,
        container,
        shown: cmd.join(" "),
    };
    let (id, started) = run.start(cmd, env, false).await?;
    let mut ended = Ended::default();
    if let StartExecResults::Attached { mut output, .. } = started {
        while let Some(item) = output.next().await {
            match item.map_err(run.api())? {
                LogOutput::StdOut { message } => out.write_all(&message).map_err(run.io())?,
                LogOutput::StdErr { message } => {
                    ended.stderr.push_str(&String::from_utf8_lossy(&message))
                }
                _ => {}
            }
        }
    }
    out.flush().map_err(run.io())?;
    ended.exit_code = run.exit_code(&id).await?;
    Ok(ended)
}

/// Runs `cmd` in `container` with the contents of `input` on its stdin; returns its stdout and
/// stderr together in `stderr` (for messages).
pub(crate) async fn from_reader(
    engine: &Engine,
    container: &str,
    cmd: &[&str],
    env: &[(&str, &str)],
    mut input: impl std::io::Read,
) -> Result<Ended, ExecError> {
    let run = Run {
        engine,
        container,
        shown: cmd.join(" "),
    };
    let (id, started) = run.start(cmd, env, true).await?;
    let mut ended = Ended::default();
    if let StartExecResults::Attached {
        mut output,
        input: mut stdin,
    } = started
    {
        let feed = async {
            let mut buf = vec![0u8; 256 * 1024];
            loop {
                // A local file: short blocking reads are fine here.
                let n = input.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                stdin.write_all(&buf[..n]).await?;
            }
            stdin.flush().await?;
            stdin.shutdown().await
        };
        let drain = async {
            let mut text = String::new();
            while let Some(item) = output.next().await {
                match item {
                    Ok(LogOutput::StdOut { message }) | Ok(LogOutput::StdErr { message }) => {
                        text.push_str(&String::from_utf8_lossy(&message))
                    }
                    Ok(_) => {}
                    Err(e) => return Err(e),
                }
            }
            Ok(text)
        };
        let (fed, drained) = tokio::join!(feed, drain);
        let text = drained.map_err(run.api())?;
        ended.stderr = text;
        // A command that ends early (an error) closes its stdin: its own message says why.
        if let Err(e) = fed {
            if run.exit_code(&id).await? == 0 {
                return Err(run.io()(e));
            }
        }
    }
    ended.exit_code = run.exit_code(&id).await?;
    Ok(ended)
}

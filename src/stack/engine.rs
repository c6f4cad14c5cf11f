//! The Docker Engine API (bollard): containers of the compose project, their health and logs,
//! commands run inside them (secrets in the exec environment, never on a command line), images.

use std::collections::HashMap;
use std::time::Duration;

use bollard::Docker;
use bollard::container::LogOutput;
use bollard::exec::{CreateExecOptions, StartExecResults};
use bollard::models::{ContainerInspectResponse, ContainerSummary};
use bollard::query_parameters::{ListContainersOptions, LogsOptions};
use futures_util::StreamExt;
use thiserror::Error;

/// The compose project name of the stack (`name:` in the compose file).
pub const PROJECT: &str = "mathesar";
pub const PROJECT_LABEL: &str = "com.docker.compose.project";
pub const SERVICE_LABEL: &str = "com.docker.compose.service";

#[derive(Debug, Error)]
pub enum EngineError {
    #[error(
        "cannot reach the Docker Engine ({detail}). Is Docker installed and running? \
         Check `systemctl status docker` and start it with `systemctl start docker`"
    )]
    Unreachable { detail: String },
    #[error("the Docker Engine failed to {action}: {source}")]
    Api {
        action: String,
        #[source]
        source: bollard::errors::Error,
    },
    #[error("`{command}` in container {container} did not finish within {}s", .timeout.as_secs())]
    ExecTimeout {
        container: String,
        command: String,
        timeout: Duration,
    },
}

/// A connection to the engine.
#[derive(Clone, Debug)]
pub struct Engine {
    docker: Docker,
}

/// What a command run in a container printed, and how it ended.
#[derive(Clone, Debug, Default)]
pub struct ExecOutput {
    pub exit_code: i64,
    pub stdout: String,
    pub stderr: String,
}

impl ExecOutput {
    pub fn success(&self) -> bool {
        self.exit_code == 0
    }
    /// stdout and stderr together, trimmed, for messages.
    pub fn text(&self) -> String {
        let mut t = self.stdout.trim().to_string();
        if !self.stderr.trim().is_empty() {
            if !t.is_empty() {
                t.push('\n');
            }
            t.push_str(self.stderr.trim());
        }
        t
    }
}

fn api(action: impl Into<String>) -> impl FnOnce(bollard::errors::Error) -> EngineError {
    let action = action.into();
    move |source| EngineError::Api { action, source }
}

fn is_not_found(e: &bollard::errors::Error) -> bool {
    matches!(
        e,
        bollard::errors::Error::DockerResponseServerError {
            status_code: 404,
            ..
        }
    )
}

impl Engine {
    /// Connects (`DOCKER_HOST`, else the standard socket), agrees on an API version and pings.
    pub async fn connect() -> Result<Engine, EngineError> {
        let unreachable = |e: bollard::errors::Error| EngineError::Unreachable {
            detail: e.to_string(),
        };
        let docker = Docker::connect_with_defaults().map_err(unreachable)?;
        let docker = tokio::time::timeout(Duration::from_secs(30), docker.negotiate_version())
            .await
            .map_err(|_| EngineError::Unreachable {
                detail: "no answer within 30s".into(),
            })?
            .map_err(unreachable)?;
        docker.ping().await.map_err(unreachable)?;
        Ok(Engine { docker })
    }

    pub fn docker(&self) -> &Docker {
        &self.docker
    }

    /// Every container of the project, running or not.
    pub async fn project_containers(&self) -> Result<Vec<ContainerSummary>, EngineError> {
        let filters = HashMap::from([(
            "label".to_string(),
            vec![format!("{PROJECT_LABEL}={PROJECT}")],
        )]);
        self.docker
            .list_containers(Some(ListContainersOptions {
                all: true,
                filters: Some(filters),
                ..Default::default()
            }))
            .await
            .map_err(api("list the containers"))
    }

    /// The container of compose service `service`, if it exists.
    pub async fn service_container(
        &self,
        service: &str,
    ) -> Result<Option<ContainerInspectResponse>, EngineError> {
        let found = self.project_containers().await?;
        let Some(id) = found
            .iter()
            .find(|c| service_of(c) == Some(service))
            .and_then(|c| c.id.clone())
        else {
            return Ok(None);
        };
        self.inspect(&id).await
    }

    /// A container by name or id, if it exists.
    pub async fn inspect(
        &self,
        name: &str,
    ) -> Result<Option<ContainerInspectResponse>, EngineError> {
        match self.docker.inspect_container(name, None).await {
            Ok(c) => Ok(Some(c)),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(api(format!("inspect container {name}"))(e)),
        }
    }

    /// The last `lines` lines of a container's output.
    pub async fn last_logs(&self, name: &str, lines: usize) -> Result<String, EngineError> {
        let mut stream = self.docker.logs(
            name,
            Some(LogsOptions {
                stdout: true,
                stderr: true,
                tail: lines.to_string(),
                ..Default::default()
            }),
        );
        let mut out = String::new();
        while let Some(item) = stream.next().await {
            let item = item.map_err(api(format!("read the logs of {name}")))?;
            out.push_str(&String::from_utf8_lossy(&item.into_bytes()));
        }
        Ok(out)
    }

    /// Whether an image is present locally.
    pub async fn has_image(&self, image: &str) -> Result<bool, EngineError> {
        match self.docker.inspect_image(image).await {
            Ok(_) => Ok(true),
            Err(e) if is_not_found(&e) => Ok(false),
            Err(e) => Err(api(format!("inspect image {image}"))(e)),
        }
    }

    /// Runs `cmd` in a running container with `env` added to its environment and waits for it.
    /// Secrets go in `env`, never in `cmd`.
    pub async fn exec(
        &self,
        container: &str,
        cmd: &[&str],
        env: &[(&str, &str)],
        timeout: Duration,
    ) -> Result<ExecOutput, EngineError> {
        let shown = cmd.join(" ");
        let env: Vec<String> = env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let created = self
            .docker
            .create_exec(
                container,
                CreateExecOptions {
                    cmd: Some(cmd.iter().map(|s| s.to_string()).collect()),
                    env: Some(env),
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    ..Default::default()
                },
            )
            .await
            .map_err(api(format!("run `{shown}` in {container}")))?;
        let run = async {
            let mut out = ExecOutput::default();
            if let StartExecResults::Attached { mut output, .. } = self
                .docker
                .start_exec(&created.id, None)
                .await
                .map_err(api(format!("run `{shown}` in {container}")))?
            {
                while let Some(item) = output.next().await {
                    match item.map_err(api(format!("read the output of `{shown}`")))? {
                        LogOutput::StdErr { message } => {
                            out.stderr.push_str(&String::from_utf8_lossy(&message))
                        }
                        other => out
                            .stdout
                            .push_str(&String::from_utf8_lossy(&other.into_bytes())),
                    }
                }
            }
            let inspected = self
                .docker
                .inspect_exec(&created.id)
                .await
                .map_err(api(format!("inspect `{shown}` in {container}")))?;
            out.exit_code = inspected.exit_code.unwrap_or(-1);
            Ok(out)
        };
        tokio::time::timeout(timeout, run)
            .await
            .map_err(|_| EngineError::ExecTimeout {
                container: container.to_string(),
                command: shown,
                timeout,
            })?
    }
}

/// The compose service a container belongs to.
pub fn service_of(c: &ContainerSummary) -> Option<&str> {
    c.labels.as_ref()?.get(SERVICE_LABEL).map(String::as_str)
}

/// A container's name without the leading `/` the engine reports.
pub fn container_name(c: &ContainerInspectResponse) -> String {
    c.name
        .as_deref()
        .unwrap_or_default()
        .trim_start_matches('/')
        .to_string()
}

/// The value of `name` in a container's configured environment.
pub fn env_value<'a>(c: &'a ContainerInspectResponse, name: &str) -> Option<&'a str> {
    c.config
        .as_ref()?
        .env
        .as_ref()?
        .iter()
        .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bollard::models::ContainerConfig;

    #[test]
    fn env_values_are_found_exactly() {
        let c = ContainerInspectResponse {
            name: Some("/mathesar_db".into()),
            config: Some(ContainerConfig {
                env: Some(vec![
                    "POSTGRES_PASSWORD_FILE=x".into(),
                    "POSTGRES_PASSWORD=a=b c".into(),
                ]),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(env_value(&c, "POSTGRES_PASSWORD"), Some("a=b c"));
        assert_eq!(env_value(&c, "POSTGRES"), None);
        assert_eq!(container_name(&c), "mathesar_db");
    }

    #[test]
    fn exec_output_text_joins_both_streams() {
        let o = ExecOutput {
            exit_code: 1,
            stdout: "out\n".into(),
            stderr: "CommandError: Error: That username is already taken.\n".into(),
        };
        assert!(!o.success());
        assert_eq!(
            o.text(),
            "out\nCommandError: Error: That username is already taken."
        );
    }
}

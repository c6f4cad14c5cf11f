//! The Docker Engine API (bollard): the one connector to the engine, used by the preflight, the
//! lifecycle and the day-2 commands alike. Containers of the compose project, their health and
//! logs, stopping them, commands run inside them (secrets in the exec environment, never on a
//! command line), images.

use std::collections::HashMap;
use std::time::Duration;

use bollard::container::LogOutput;
use bollard::errors::Error as BollardError;
use bollard::exec::{CreateExecOptions, StartExecResults};
use bollard::models::{
    ContainerInspectResponse, ContainerSummary, ContainerSummaryStateEnum, SystemVersion,
};
use bollard::query_parameters::{
    ListContainersOptions, LogsOptions, RemoveContainerOptions, StopContainerOptions,
};
use bollard::{API_DEFAULT_VERSION, ClientVersion, Docker};
use futures_util::StreamExt;
use thiserror::Error;

/// The compose project name of the stack (`name:` in the compose file).
pub(crate) const PROJECT: &str = "mathesar";
/// The network Compose creates for the project, on which the containers run.
pub(crate) const PROJECT_NETWORK: &str = "mathesar_default";
pub(crate) const PROJECT_LABEL: &str = "com.docker.compose.project";
pub(crate) const SERVICE_LABEL: &str = "com.docker.compose.service";

/// The engine's socket when `DOCKER_HOST` is not set, as for the Docker CLI and Compose.
const DEFAULT_HOST: &str = "unix:///var/run/docker.sock";
/// Seconds one API request may take, for the lifecycle and the day-2 commands.
const REQUEST_SECS: u64 = 120;
/// How long the engine may take to answer the first request.
const ANSWER_WITHIN: Duration = Duration::from_secs(30);

/// Why the engine could not be reached.
#[derive(Debug, Error)]
pub(crate) enum Unreachable {
    #[error("no Docker Engine socket at {0}: Docker is not installed or not started")]
    NoSocket(String),
    #[error("the Docker Engine at {0} is not running (connection refused)")]
    Refused(String),
    #[error("permission denied on the Docker Engine socket {0}")]
    Denied(String),
    #[error("the Docker Engine at {0} did not answer within {1} s")]
    Timeout(String, u64),
    #[error("DOCKER_HOST={0} is not supported here: use unix:// or tcp://")]
    Unsupported(String),
    #[error("the Docker Engine at {at} failed: {message}")]
    Other { at: String, message: String },
}

impl Unreachable {
    /// What the administrator does about it (the preflight names the install command too).
    pub(crate) fn hint(&self) -> &'static str {
        match self {
            Unreachable::Denied(_) => "Run mathesarctl as root (sudo)",
            Unreachable::Unsupported(_) => {
                "Unset DOCKER_HOST, or point it at the local engine (unix:///var/run/docker.sock)"
            }
            _ => {
                "Is Docker installed and running? Check `systemctl status docker` and start it with `systemctl start docker`"
            }
        }
    }
}

#[derive(Debug, Error)]
pub(crate) enum EngineError {
    #[error("cannot reach the Docker Engine: {0}. {hint}", hint = .0.hint())]
    Unreachable(Unreachable),
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

impl From<Unreachable> for EngineError {
    fn from(e: Unreachable) -> Self {
        EngineError::Unreachable(e)
    }
}

/// DOCKER_HOST as the CLI and Compose read it, else the standard socket.
fn endpoint() -> String {
    std::env::var("DOCKER_HOST")
        .ok()
        .filter(|h| !h.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_HOST.to_string())
}

fn client(host: &str, request_secs: u64, api: &ClientVersion) -> Result<Docker, Unreachable> {
    let result = if host.starts_with("unix://") {
        Docker::connect_with_unix(host, request_secs, api)
    } else if host.starts_with("tcp://") || host.starts_with("http://") {
        Docker::connect_with_http(host, request_secs, api)
    } else {
        return Err(Unreachable::Unsupported(host.to_string()));
    };
    result.map_err(|e| classify(host, request_secs, e))
}

/// The API version the engine asks for in a "client version X is too new/old" refusal.
/// Engines refuse a versioned request outside their range, so one retry at the version named
/// in the refusal negotiates it (the unversioned `/version` is out of the client's reach).
pub(crate) fn api_version_hint(message: &str) -> Option<ClientVersion> {
    let (_, rest) = message.split_once("supported API version is ")?;
    let v: String = rest
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    let (major, minor) = v.trim_end_matches('.').split_once('.')?;
    Some(ClientVersion {
        major_version: major.parse().ok()?,
        minor_version: minor.parse().ok()?,
    })
}

fn classify(host: &str, request_secs: u64, e: BollardError) -> Unreachable {
    let at = host.trim_start_matches("unix://").to_string();
    if let BollardError::SocketNotFoundError(p) = &e {
        return Unreachable::NoSocket(p.clone());
    }
    if let BollardError::RequestTimeoutError = &e {
        return Unreachable::Timeout(at, request_secs);
    }
    // Connection failures are wrapped by the HTTP client: find the I/O error underneath.
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            match io.kind() {
                std::io::ErrorKind::NotFound => return Unreachable::NoSocket(at),
                std::io::ErrorKind::ConnectionRefused => return Unreachable::Refused(at),
                std::io::ErrorKind::PermissionDenied => return Unreachable::Denied(at),
                _ => {}
            }
        }
        source = s.source();
    }
    Unreachable::Other {
        at,
        message: e.to_string(),
    }
}

/// Connects and reads `/version`, negotiating the API version when the engine is older or newer
/// than this client.
async fn version(host: &str, request_secs: u64) -> Result<(Docker, SystemVersion), Unreachable> {
    let docker = client(host, request_secs, API_DEFAULT_VERSION)?;
    let e = match docker.version().await {
        Ok(v) => return Ok((docker, v)),
        Err(e) => e,
    };
    let hint = match &e {
        BollardError::DockerResponseServerError {
            status_code: 400,
            message,
        } => api_version_hint(message),
        _ => None,
    };
    let Some(api) = hint else {
        return Err(classify(host, request_secs, e));
    };
    let docker = client(host, request_secs, &api)?;
    let v = docker
        .version()
        .await
        .map_err(|e| classify(host, request_secs, e))?;
    Ok((docker, v))
}

/// A connection to the engine.
#[derive(Clone, Debug)]
pub(crate) struct Engine {
    docker: Docker,
}

/// What a command run in a container printed, and how it ended.
#[derive(Clone, Debug, Default)]
pub(crate) struct ExecOutput {
    pub exit_code: i64,
    pub stdout: String,
    pub stderr: String,
}

impl ExecOutput {
    pub(crate) fn success(&self) -> bool {
        self.exit_code == 0
    }
    /// stdout and stderr together, trimmed, for messages.
    pub(crate) fn text(&self) -> String {
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
    /// Connects (`DOCKER_HOST`, else the standard socket) and agrees on an API version.
    pub(crate) async fn connect() -> Result<Engine, EngineError> {
        let (engine, _) = Engine::connect_within(REQUEST_SECS, ANSWER_WITHIN).await?;
        Ok(engine)
    }

    /// Connects with `request_secs` for each request and reads the engine's version, all within
    /// `within` (the preflight waits a few seconds only).
    pub(crate) async fn connect_within(
        request_secs: u64,
        within: Duration,
    ) -> Result<(Engine, SystemVersion), Unreachable> {
        let host = endpoint();
        match tokio::time::timeout(within, version(&host, request_secs)).await {
            Ok(Ok((docker, v))) => Ok((Engine { docker }, v)),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(Unreachable::Timeout(
                host.trim_start_matches("unix://").into(),
                within.as_secs(),
            )),
        }
    }

    /// The raw client, for the stack's own modules only: everything else asks the engine.
    pub(super) fn docker(&self) -> &Docker {
        &self.docker
    }

    /// A network by name (`bridge`, the project's), as the engine describes it.
    pub(crate) async fn network(
        &self,
        name: &str,
    ) -> Result<bollard::models::NetworkInspect, bollard::errors::Error> {
        self.docker.inspect_network(name, None).await
    }

    /// The images named, as one `docker save` archive, streamed.
    pub(crate) fn export_images<'a>(
        &'a self,
        names: &'a [&'a str],
    ) -> impl futures_util::Stream<Item = Result<bytes::Bytes, bollard::errors::Error>> + 'a {
        self.docker.export_images(names)
    }

    /// Loads a `docker save` archive (plain or compressed) from `chunks`; yields what the engine
    /// says.
    pub(crate) fn import_images<S>(
        &self,
        chunks: S,
    ) -> impl futures_util::Stream<Item = Result<bollard::models::BuildInfo, bollard::errors::Error>>
    where
        S: futures_util::Stream<Item = Result<bytes::Bytes, std::io::Error>> + Send + 'static,
    {
        self.docker.import_image_stream(
            bollard::query_parameters::ImportImageOptions {
                quiet: true,
                ..Default::default()
            },
            chunks,
            None,
        )
    }

    /// Every container of the project, running or not.
    pub(crate) async fn project_containers(&self) -> Result<Vec<ContainerSummary>, EngineError> {
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
    pub(crate) async fn service_container(
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
    pub(crate) async fn inspect(
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
    pub(crate) async fn last_logs(&self, name: &str, lines: usize) -> Result<String, EngineError> {
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
    pub(crate) async fn has_image(&self, image: &str) -> Result<bool, EngineError> {
        Ok(self.image_id(image).await?.is_some())
    }

    /// The local image's id (`sha256:...`), if it is present.
    pub(crate) async fn image_id(&self, image: &str) -> Result<Option<String>, EngineError> {
        match self.docker.inspect_image(image).await {
            Ok(i) => Ok(Some(i.id.unwrap_or_default())),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(api(format!("inspect image {image}"))(e)),
        }
    }

    /// Stops the running containers of the project whose compose service `which` selects (`None`
    /// for a container without one), each given `timeout` seconds (else the engine's default),
    /// calling `announce` with the service's name before each. A container restarting in a loop
    /// counts as running (its restart policy would start it again). Removes nothing.
    pub(crate) async fn stop_running(
        &self,
        which: impl Fn(Option<&str>) -> bool,
        timeout: Option<i32>,
        announce: impl Fn(&str),
    ) -> Result<(), EngineError> {
        for c in self.project_containers().await? {
            let service = service_of(&c);
            if !is_running(&c) || !which(service) {
                continue;
            }
            let Some(id) = &c.id else { continue };
            let shown = service.unwrap_or("a container");
            announce(shown);
            let options = timeout.map(|t| StopContainerOptions {
                t: Some(t),
                ..Default::default()
            });
            self.docker
                .stop_container(id, options)
                .await
                .map_err(api(format!("stop {shown}")))?;
        }
        Ok(())
    }

    /// Stops (with the grace period it was created with) and removes the containers of the
    /// project's compose service `service`, never a volume; returns how many there were. Only
    /// for a service the package itself created and no longer runs (`services::RETIRED`).
    pub(crate) async fn remove_service_containers(
        &self,
        service: &str,
    ) -> Result<usize, EngineError> {
        let mut removed = 0;
        for c in self.project_containers().await? {
            if service_of(&c) != Some(service) {
                continue;
            }
            let Some(id) = &c.id else { continue };
            if is_running(&c) {
                self.docker
                    .stop_container(id, None::<StopContainerOptions>)
                    .await
                    .map_err(api(format!("stop {service}")))?;
            }
            let keep_volumes = RemoveContainerOptions {
                v: false,
                force: false,
                link: false,
            };
            self.docker
                .remove_container(id, Some(keep_volumes))
                .await
                .map_err(api(format!("remove the container of {service}")))?;
            removed += 1;
        }
        Ok(removed)
    }

    /// The images of `wanted` that are not present, in their order.
    pub(crate) async fn missing_images(
        &self,
        wanted: &[String],
    ) -> Result<Vec<String>, EngineError> {
        let mut out = Vec::new();
        for i in wanted {
            if !self.has_image(i).await? {
                out.push(i.clone());
            }
        }
        Ok(out)
    }

    /// Runs `cmd` in a running container with `env` added to its environment and waits for it.
    /// Secrets go in `env`, never in `cmd`.
    pub(crate) async fn exec(
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

/// Running, or restarting in a loop (its restart policy would start it again).
fn is_running(c: &ContainerSummary) -> bool {
    matches!(
        c.state,
        Some(ContainerSummaryStateEnum::RUNNING | ContainerSummaryStateEnum::RESTARTING)
    )
}

/// The compose service a container belongs to.
pub(crate) fn service_of(c: &ContainerSummary) -> Option<&str> {
    c.labels.as_ref()?.get(SERVICE_LABEL).map(String::as_str)
}

/// A container's name without the leading `/` the engine reports.
pub(crate) fn container_name(c: &ContainerInspectResponse) -> String {
    c.name
        .as_deref()
        .unwrap_or_default()
        .trim_start_matches('/')
        .to_string()
}

/// The value of `name` in a container's configured environment.
pub(crate) fn env_value<'a>(c: &'a ContainerInspectResponse, name: &str) -> Option<&'a str> {
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
    fn api_version_refusals_name_the_version_to_use() {
        let v = api_version_hint(
            "client version 1.53 is too new. Maximum supported API version is 1.45",
        )
        .unwrap();
        assert_eq!((v.major_version, v.minor_version), (1, 45));
        let v = api_version_hint(
            "client version 1.12 is too old. Minimum supported API version is 1.24, please upgrade your client to a newer version",
        )
        .unwrap();
        assert_eq!((v.major_version, v.minor_version), (1, 24));
        assert!(api_version_hint("page not found").is_none());
        assert!(api_version_hint("Maximum supported API version is x").is_none());
    }

    #[test]
    fn unsupported_docker_hosts_are_refused_before_connecting() {
        assert!(matches!(
            client("ssh://host", 3, API_DEFAULT_VERSION),
            Err(Unreachable::Unsupported(_))
        ));
        assert!(matches!(
            client("unix:///nonexistent/docker.sock", 3, API_DEFAULT_VERSION),
            Err(Unreachable::NoSocket(_))
        ));
    }

    /// The lifecycle's message says what is wrong and what to do, as the preflight's does.
    #[test]
    fn an_unreachable_engine_is_explained() {
        let e = EngineError::from(Unreachable::Refused("/var/run/docker.sock".into()));
        let m = e.to_string();
        assert!(m.starts_with("cannot reach the Docker Engine: "), "{m}");
        assert!(
            m.contains("not running") && m.contains("systemctl start docker"),
            "{m}"
        );
        let m = EngineError::from(Unreachable::Denied("/s".into())).to_string();
        assert!(m.contains("as root"), "{m}");
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

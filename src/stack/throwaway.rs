//! Throwaway containers for the restore drill: a private network of their own (internal: no way
//! out), containers on it labelled `mathesar.drill`, and their removal with their anonymous
//! volumes whatever happened. What a killed drill left behind (found by the label) is removed
//! before the next one starts.

use std::collections::HashMap;
use std::time::Duration;

use bollard::models::{ContainerCreateBody, HostConfig, NetworkCreateRequest};
use bollard::query_parameters::{
    CreateContainerOptions, ListContainersOptions, ListNetworksOptions, RemoveContainerOptions,
};

use super::engine::{Engine, EngineError};

/// The label every throwaway container and network carries.
pub(crate) const LABEL: &str = "mathesar.drill";

fn api(action: String) -> impl FnOnce(bollard::errors::Error) -> EngineError {
    move |source| EngineError::Api { action, source }
}

fn label_filter() -> HashMap<String, Vec<String>> {
    HashMap::from([("label".to_string(), vec![LABEL.to_string()])])
}

/// A network and the containers started on it; [`Throwaway::remove`] removes them all.
pub(crate) struct Throwaway<'a> {
    engine: &'a Engine,
    pub network: String,
    containers: Vec<String>,
}

impl<'a> Throwaway<'a> {
    /// Removes what an earlier drill left, then creates the network `name`.
    pub(crate) async fn new(engine: &'a Engine, name: &str) -> Result<Throwaway<'a>, EngineError> {
        remove_leftovers(engine).await;
        engine
            .docker()
            .create_network(NetworkCreateRequest {
                name: name.to_string(),
                driver: Some("bridge".into()),
                internal: Some(true),
                labels: Some(HashMap::from([(LABEL.to_string(), "1".to_string())])),
                ..Default::default()
            })
            .await
            .map_err(api(format!("create the network {name}")))?;
        Ok(Throwaway {
            engine,
            network: name.to_string(),
            containers: Vec::new(),
        })
    }

    /// Creates and starts the container `name` of `image` on the network (reachable there by
    /// its name). Secrets go in `env`, never in `cmd`.
    pub(crate) async fn start(
        &mut self,
        name: &str,
        image: &str,
        env: &[(&str, &str)],
        cmd: Option<&[&str]>,
    ) -> Result<(), EngineError> {
        let docker = self.engine.docker();
        docker
            .create_container(
                Some(CreateContainerOptions {
                    name: Some(name.to_string()),
                    ..Default::default()
                }),
                ContainerCreateBody {
                    image: Some(image.to_string()),
                    env: Some(env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
                    cmd: cmd.map(|c| c.iter().map(|s| s.to_string()).collect()),
                    labels: Some(HashMap::from([(LABEL.to_string(), "1".to_string())])),
                    host_config: Some(HostConfig {
                        network_mode: Some(self.network.clone()),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
            )
            .await
            .map_err(api(format!("create the container {name} of {image}")))?;
        self.containers.push(name.to_string());
        docker
            .start_container(name, None)
            .await
            .map_err(api(format!("start the container {name}")))
    }

    /// Waits until the container `name` ends (at most `timeout`); its exit code and the end of
    /// its log.
    pub(crate) async fn wait(
        &self,
        name: &str,
        timeout: Duration,
    ) -> Result<(i64, String), EngineError> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let c = self.engine.inspect(name).await?;
            let state = c.and_then(|c| c.state);
            let running = state.as_ref().and_then(|s| s.running).unwrap_or(false);
            if !running {
                let code = state.and_then(|s| s.exit_code).unwrap_or(-1);
                let logs = self.engine.last_logs(name, 30).await.unwrap_or_default();
                return Ok((code, logs));
            }
            if tokio::time::Instant::now() > deadline {
                return Err(EngineError::ExecTimeout {
                    container: name.to_string(),
                    command: "its command".into(),
                    timeout,
                });
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// Removes the containers (with their anonymous volumes) and the network.
    pub(crate) async fn remove(self) {
        for c in &self.containers {
            remove_container(self.engine, c).await;
        }
        let _ = self.engine.docker().remove_network(&self.network).await;
    }
}

async fn remove_container(engine: &Engine, name: &str) {
    let _ = engine
        .docker()
        .remove_container(
            name,
            Some(RemoveContainerOptions {
                v: true,
                force: true,
                ..Default::default()
            }),
        )
        .await;
}

/// Removes every container and network with the drill's label (a drill that was killed).
pub(crate) async fn remove_leftovers(engine: &Engine) {
    let docker = engine.docker();
    if let Ok(list) = docker
        .list_containers(Some(ListContainersOptions {
            all: true,
            filters: Some(label_filter()),
            ..Default::default()
        }))
        .await
    {
        for c in list {
            if let Some(id) = c.id {
                remove_container(engine, &id).await;
            }
        }
    }
    if let Ok(list) = docker
        .list_networks(Some(ListNetworksOptions {
            filters: Some(label_filter()),
        }))
        .await
    {
        for n in list {
            if let Some(id) = n.id {
                let _ = docker.remove_network(&id).await;
            }
        }
    }
}

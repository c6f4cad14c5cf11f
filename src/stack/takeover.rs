//! The containers of a Mathesar installation the package takes over (`adoption`): found by their
//! names and their Compose project's directory, stopped and kept, and their data copied out of
//! their bind mounts or volumes through a short-lived container, so that the originals are never
//! written to.
//!
//! Kept means: a stopped container the administrator can start again (`docker start NAME`) or
//! remove. Compose finds a project's containers by their labels alone, and labels cannot be
//! changed; an old container of a project also named `mathesar` (upstream's directory
//! `/etc/mathesar`, the guided installer) would be taken for the package's own and removed by
//! Compose at the package's first start. Such a container is kept as a copy without Compose's
//! labels (same image, command, environment, mounts), created before the original, which no
//! longer runs and holds no data of its own, is removed. Any other is only renamed.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use bollard::models::{
    ContainerCreateBody, ContainerUpdateBody, Mount, MountType, RestartPolicy,
    RestartPolicyNameEnum,
};
use bollard::query_parameters::{
    CreateContainerOptions, ListContainersOptions, RemoveContainerOptions, RenameContainerOptions,
    StopContainerOptions,
};
use futures_util::StreamExt;

use super::engine::{Engine, EngineError, PROJECT, PROJECT_LABEL};

const WORKING_DIR_LABEL: &str = "com.docker.compose.project.working_dir";
/// The label of the short-lived copying container, so that a leftover is recognisable.
const COPY_LABEL: &str = "mathesar-package.adoption-copy";
const COPY_TIMEOUT: Duration = Duration::from_secs(3600);

/// One container of the old installation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct OldContainer {
    pub name: String,
    pub id: String,
    pub image: String,
    pub running: bool,
    pub project: Option<String>,
    pub mounts: Vec<OldMount>,
}

/// A bind mount (host path) or a named volume of an old container.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct OldMount {
    pub source: String,
    pub volume: bool,
    pub target: String,
}

fn api(action: impl Into<String>) -> impl FnOnce(bollard::errors::Error) -> EngineError {
    let action = action.into();
    move |source| EngineError::Api { action, source }
}

/// The old installation's containers: those named `names`, and those Compose made from the
/// project directory `dir`. Running or not.
pub(crate) async fn find(
    engine: &Engine,
    names: &[&str],
    dir: &Path,
) -> Result<Vec<OldContainer>, EngineError> {
    let all = engine
        .docker()
        .list_containers(Some(ListContainersOptions {
            all: true,
            ..Default::default()
        }))
        .await
        .map_err(api("list the containers"))?;
    let dir = dir.to_string_lossy();
    let mut out = Vec::new();
    for c in all {
        let name = c
            .names
            .as_ref()
            .and_then(|n| n.first())
            .map(|n| n.trim_start_matches('/').to_string())
            .unwrap_or_default();
        let labels = c.labels.clone().unwrap_or_default();
        let of_dir = labels.get(WORKING_DIR_LABEL).is_some_and(|d| *d == dir);
        if !(of_dir || names.contains(&name.as_str())) {
            continue;
        }
        let Some(id) = c.id.clone() else { continue };
        let mounts = c
            .mounts
            .unwrap_or_default()
            .into_iter()
            .filter_map(|m| {
                let volume = m.typ.as_deref() == Some("volume");
                let source = if volume { m.name? } else { m.source? };
                Some(OldMount {
                    source,
                    volume,
                    target: m.destination?,
                })
            })
            .collect();
        out.push(OldContainer {
            name,
            id,
            image: c.image.unwrap_or_default(),
            running: matches!(
                c.state,
                Some(
                    bollard::models::ContainerSummaryStateEnum::RUNNING
                        | bollard::models::ContainerSummaryStateEnum::RESTARTING
                )
            ),
            project: labels.get(PROJECT_LABEL).cloned(),
            mounts,
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// The name a kept container gets.
pub(crate) fn kept_name(name: &str, stamp: &str) -> String {
    format!("{name}.before-package-{stamp}")
}

/// Whether Compose would take `c` for a container of the package's own project.
pub(crate) fn clashes(c: &OldContainer) -> bool {
    c.project.as_deref() == Some(PROJECT)
}

/// Stops `c` (if it runs) so that it stays stopped (no restart policy) and keeps it under
/// [`kept_name`]: renamed, or, when its Compose project is the package's, copied without
/// Compose's labels and the stopped original removed (see the module docs). Returns the name.
pub(crate) async fn stop_and_keep(
    engine: &Engine,
    c: &OldContainer,
    stamp: &str,
) -> Result<String, EngineError> {
    let d = engine.docker();
    let kept = kept_name(&c.name, stamp);
    if c.running {
        d.stop_container(
            &c.id,
            Some(StopContainerOptions {
                t: Some(60),
                ..Default::default()
            }),
        )
        .await
        .map_err(api(format!("stop {}", c.name)))?;
    }
    let no_restart = || RestartPolicy {
        name: Some(RestartPolicyNameEnum::NO),
        maximum_retry_count: None,
    };
    if !clashes(c) {
        d.update_container(
            &c.id,
            ContainerUpdateBody {
                restart_policy: Some(no_restart()),
                ..Default::default()
            },
        )
        .await
        .map_err(api(format!("clear the restart policy of {}", c.name)))?;
        d.rename_container(&c.id, RenameContainerOptions { name: kept.clone() })
            .await
            .map_err(api(format!("rename {} to {kept}", c.name)))?;
        return Ok(kept);
    }
    let old = d
        .inspect_container(&c.id, None)
        .await
        .map_err(api(format!("inspect {}", c.name)))?;
    let config = old.config.unwrap_or_default();
    let mut host = old.host_config.unwrap_or_default();
    host.restart_policy = Some(no_restart());
    let labels: HashMap<String, String> = config
        .labels
        .unwrap_or_default()
        .into_iter()
        .filter(|(k, _)| !k.starts_with("com.docker.compose."))
        .collect();
    let body = ContainerCreateBody {
        hostname: config.hostname,
        user: config.user,
        env: config.env,
        cmd: config.cmd,
        entrypoint: config.entrypoint,
        image: config.image,
        working_dir: config.working_dir,
        labels: Some(labels),
        exposed_ports: config.exposed_ports,
        healthcheck: config.healthcheck,
        stop_signal: config.stop_signal,
        host_config: Some(host),
        ..Default::default()
    };
    d.create_container(
        Some(CreateContainerOptions {
            name: Some(kept.clone()),
            ..Default::default()
        }),
        body,
    )
    .await
    .map_err(api(format!("create {kept}, the kept copy of {}", c.name)))?;
    // Only once the copy exists; its anonymous volumes, if any, stay (`v: false`).
    d.remove_container(
        &c.id,
        Some(RemoveContainerOptions {
            v: false,
            force: false,
            ..Default::default()
        }),
    )
    .await
    .map_err(api(format!(
        "remove the stopped {} (kept as {kept})",
        c.name
    )))?;
    Ok(kept)
}

/// Copies the content of `from` (read-only) into the existing directory `to` with `cp -a` in a
/// short-lived container of `image` (the old database's image: Debian's `cp`), so that ownership
/// and modes stay as the database expects and volumes are reached where the engine keeps them.
/// Returns `cp`'s error output on a failure.
pub(crate) async fn copy(
    engine: &Engine,
    image: &str,
    from: &OldMount,
    to: &Path,
) -> Result<Result<(), String>, EngineError> {
    let source = Mount {
        target: Some("/from".into()),
        source: Some(from.source.clone()),
        typ: Some(if from.volume {
            MountType::VOLUME
        } else {
            MountType::BIND
        }),
        read_only: Some(true),
        ..Default::default()
    };
    let target = bind(to, "/to");
    let cmd = ["cp", "-a", "/from/.", "/to/"];
    run_once(engine, image, "0:0", vec![source, target], &cmd).await
}

/// Creates the database `name` (a plain identifier, checked by the caller) in the stopped
/// cluster `pgdata` with PostgreSQL's single-user mode, in a short-lived container of the
/// cluster's own `image` running as `owner` (`uid:gid` of its files): no server, no network.
pub(crate) async fn create_database_offline(
    engine: &Engine,
    image: &str,
    owner: &str,
    pgdata: &Path,
    name: &str,
) -> Result<Result<(), String>, EngineError> {
    let script =
        format!("echo 'CREATE DATABASE \"{name}\"' | exec postgres --single -D /pgdata postgres");
    let cmd = ["sh", "-c", script.as_str()];
    let mounts = vec![bind(pgdata, "/pgdata")];
    run_once(engine, image, owner, mounts, &cmd).await
}

fn bind(source: &Path, target: &str) -> Mount {
    Mount {
        target: Some(target.into()),
        source: Some(source.display().to_string()),
        typ: Some(MountType::BIND),
        ..Default::default()
    }
}

/// Runs `cmd` (as the entrypoint: the image's own is not wanted) in a short-lived container of
/// `image` as `user`, with `mounts` and no network, waits for it and removes it. Returns its last
/// output lines on a non-zero exit.
async fn run_once(
    engine: &Engine,
    image: &str,
    user: &str,
    mounts: Vec<Mount>,
    cmd: &[&str],
) -> Result<Result<(), String>, EngineError> {
    let d = engine.docker();
    let body = ContainerCreateBody {
        image: Some(image.into()),
        user: Some(user.into()),
        entrypoint: Some(cmd.iter().map(|s| s.to_string()).collect()),
        cmd: Some(vec![]),
        labels: Some(HashMap::from([(COPY_LABEL.to_string(), "1".to_string())])),
        host_config: Some(bollard::models::HostConfig {
            mounts: Some(mounts),
            network_mode: Some("none".into()),
            ..Default::default()
        }),
        ..Default::default()
    };
    let created = d
        .create_container(None::<CreateContainerOptions>, body)
        .await
        .map_err(api("create a short-lived container"))?;
    let id = created.id;
    let run = async {
        d.start_container(&id, None)
            .await
            .map_err(api("start a short-lived container"))?;
        let mut wait = d.wait_container(&id, None);
        let mut code = 0;
        while let Some(r) = wait.next().await {
            match r {
                Ok(w) => code = w.status_code,
                // bollard reports a non-zero exit as an error carrying the code.
                Err(bollard::errors::Error::DockerContainerWaitError { code: c, .. }) => code = c,
                Err(e) => return Err(api("wait for a short-lived container")(e)),
            }
        }
        Ok(code)
    };
    let code = tokio::time::timeout(COPY_TIMEOUT, run).await;
    let logs = engine.last_logs(&id, 20).await.unwrap_or_default();
    let removed = d
        .remove_container(
            &id,
            Some(RemoveContainerOptions {
                force: true,
                v: true,
                ..Default::default()
            }),
        )
        .await;
    let code = match code {
        Ok(c) => c?,
        Err(_) => return Ok(Err(format!("no end after {} s", COPY_TIMEOUT.as_secs()))),
    };
    removed.map_err(api("remove a short-lived container"))?;
    Ok(if code == 0 {
        Ok(())
    } else {
        Err(format!("`{}` exited {code}: {}", cmd[0], logs.trim()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn old(project: Option<&str>) -> OldContainer {
        OldContainer {
            name: "mathesar_db".into(),
            id: "x".into(),
            image: "postgres:13".into(),
            running: true,
            project: project.map(Into::into),
            mounts: vec![],
        }
    }

    #[test]
    fn only_a_container_of_the_packages_project_name_clashes() {
        assert!(clashes(&old(Some("mathesar"))));
        assert!(!clashes(&old(Some("srv-mathesar"))));
        assert!(!clashes(&old(None)));
    }

    #[test]
    fn kept_names_say_what_they_were_and_when() {
        assert_eq!(
            kept_name("mathesar_db", "20261203T0230Z"),
            "mathesar_db.before-package-20261203T0230Z"
        );
    }
}

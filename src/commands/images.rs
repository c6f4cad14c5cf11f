//! `mathesarctl images save FILE` / `images load FILE` / `images list`: the pinned images of this
//! package release moved to hosts without a registry, through the Docker Engine API;
//! `images pull` and `images refresh` (security rebuilds, `day2::refresh`).

use std::path::Path;

use anyhow::anyhow;

use crate::cli::ConfigDirArg;
use crate::cli::{ImagesArgs, ImagesCommand};
use crate::day2::{images, refresh};
use crate::exit::{Code, Failure, Outcome};
use crate::settings::Settings;
use crate::stack::config;
use crate::stack::engine::Engine;
use crate::stack::journal;
use crate::stack::pull;
use crate::systemd::UNIT;
use crate::systemd::unit::{self, Action};

fn failure(e: images::ImagesError) -> Failure {
    let code = match e {
        images::ImagesError::Io { .. } => Code::Io,
        _ => Code::Docker,
    };
    Failure::new(code, e)
}

/// The configuration's settings when there is one (for the registry prefix).
fn settings(dir: &ConfigDirArg) -> Result<Option<Settings>, Failure> {
    let dir = super::config_dir(dir);
    match config::load(&dir) {
        Ok(c) => Ok(Some(c.settings)),
        Err(config::ConfigError::NotConfigured(_)) => Ok(None),
        Err(e) => Err(Failure::new(e.code(), e)),
    }
}

/// There is no configuration: what to run.
fn not_configured() -> Failure {
    Failure::new(
        Code::InvalidAnswer,
        anyhow!(
            "Mathesar is not configured yet: run `mathesarctl configure` (or `dpkg-reconfigure mathesar`) first"
        ),
    )
}

async fn engine() -> Result<Engine, Failure> {
    Engine::connect()
        .await
        .map_err(|e| Failure::new(Code::Docker, e))
}

pub(crate) async fn run(args: ImagesArgs) -> Outcome {
    match args.command {
        ImagesCommand::List { dir } => {
            let wanted = images::wanted(settings(&dir)?.as_ref());
            let engine = engine().await?;
            let missing = images::missing(&engine, &wanted).await.map_err(failure)?;
            for i in &wanted {
                let state = if missing.contains(i) {
                    "missing"
                } else {
                    "present"
                };
                println!("{state:<8} {i}");
            }
            if missing.is_empty() {
                Ok(())
            } else {
                Err(Failure::new(
                    Code::Docker,
                    anyhow!("{} image(s) missing", missing.len()),
                ))
            }
        }
        ImagesCommand::Save { dir, file, pull } => {
            let wanted = images::wanted(settings(&dir)?.as_ref());
            let engine = engine().await?;
            let mut missing = images::missing(&engine, &wanted).await.map_err(failure)?;
            if pull && !missing.is_empty() {
                pull::pull_missing(&engine, &missing, pull::Mode::detect())
                    .await
                    .map_err(|e| Failure::new(Code::Pull, e))?;
                missing = images::missing(&engine, &wanted).await.map_err(failure)?;
            }
            if !missing.is_empty() {
                return Err(Failure::new(
                    Code::Docker,
                    anyhow!(
                        "not present here: {}. Pull them first (`mathesarctl images save --pull FILE`)",
                        missing.join(", ")
                    ),
                ));
            }
            journal::info(format!(
                "saving {} into {}",
                wanted.join(", "),
                file.display()
            ));
            let size = images::save(&engine, &wanted, &file)
                .await
                .map_err(failure)?;
            println!(
                "Saved {} images ({} MB uncompressed) into {}. On the offline host: mathesarctl images load {}",
                wanted.len(),
                size / 1_000_000,
                file.display(),
                file.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default()
            );
            Ok(())
        }
        ImagesCommand::Pull { dir, if_configured } => {
            let Some(settings) = settings(&dir)? else {
                return if if_configured {
                    Ok(())
                } else {
                    Err(not_configured())
                };
            };
            let wanted = images::wanted(Some(&settings));
            let engine = engine().await?;
            let pulled = pull::pull_missing(&engine, &wanted, pull::Mode::detect())
                .await
                .map_err(|e| Failure::new(Code::Pull, e))?;
            if pulled.images.is_empty() {
                println!("Every image Mathesar needs is present; nothing pulled.");
            } else {
                println!(
                    "Pulled {} image(s), {:.1} MB.",
                    pulled.images.len(),
                    pulled.bytes as f64 / 1_000_000.0
                );
            }
            Ok(())
        }
        ImagesCommand::Refresh { dir, scheduled } => refresh(&dir, scheduled).await,
        ImagesCommand::Load { dir, file } => {
            let wanted = images::wanted(settings(&dir)?.as_ref());
            let engine = engine().await?;
            load(&engine, &file, &wanted).await
        }
    }
}

/// `images refresh`: see `day2::refresh`.
async fn refresh(dir: &ConfigDirArg, scheduled: bool) -> Outcome {
    let settings = settings(dir)?.ok_or_else(not_configured)?;
    if scheduled && !settings.refresh_images {
        journal::info("the answer refresh-images is false: nothing to refresh");
        return Ok(());
    }
    let wanted = images::wanted(Some(&settings));
    let engine = engine().await?;
    let rebuilt = refresh::pull_rebuilt(&engine, &wanted, pull::Mode::detect())
        .await
        .map_err(|e| match e {
            refresh::RefreshError::Pull(e) => Failure::new(Code::Pull, e),
            refresh::RefreshError::Engine(e) => Failure::new(Code::Docker, e),
        })?;
    if rebuilt.is_empty() {
        journal::info(format!("no rebuilt image: {} unchanged", wanted.join(", ")));
        return Ok(());
    }
    for r in &rebuilt {
        journal::info(format!("rebuilt image: {r}"));
    }
    let active = unit::state(UNIT).await.is_ok_and(|u| u.is_active());
    if !active {
        journal::info(format!(
            "{UNIT} is not running: the rebuilt images are used at its next start"
        ));
        return Ok(());
    }
    journal::info(format!(
        "reloading {UNIT}: only the containers whose image changed are recreated"
    ));
    unit::control(Action::Reload, UNIT).map_err(|e| {
        Failure::new(
            Code::Unhealthy,
            anyhow!("{e}; the rebuilt images are pulled, see `mathesarctl status` and `journalctl -u {UNIT}`"),
        )
    })
}

async fn load(engine: &Engine, file: &Path, wanted: &[String]) -> Outcome {
    journal::info(format!("loading the images of {}", file.display()));
    for line in images::load(engine, file).await.map_err(failure)? {
        journal::info(line);
    }
    let missing = images::missing(engine, wanted).await.map_err(failure)?;
    if !missing.is_empty() {
        return Err(Failure::new(
            Code::Docker,
            anyhow!(
                "{} did not hold every image this configuration needs; still missing: {}",
                file.display(),
                missing.join(", ")
            ),
        ));
    }
    println!(
        "Every image Mathesar needs is present: {}",
        wanted.join(", ")
    );
    Ok(())
}

//! `mathesarctl upgrade`: a backup first (its path is printed), then the compose file and the
//! Caddyfile of this package version, missing images pulled in the foreground with progress
//! (nothing is pulled when they are present), and the running stack brought to them: changed
//! services recreated, health waited for. A stopped installation is left stopped.

use std::time::Duration;

use crate::cli::UpgradeArgs;
use crate::exit::{Code, Failure, Outcome, WithCode};
use crate::rendering;
use crate::stack::{Options, Stack, journal, pull};
use crate::storage::modes::{PRIVATE_FILE, PUBLIC_FILE};
use crate::storage::{atomic, commit, lock};
use crate::systemd::UNIT;
use crate::systemd::unit::{self, Action, ControlError};

pub async fn run(mut args: UpgradeArgs) -> Outcome {
    let dir = super::config_dir(&args.backup.dir);
    if args.backup.reason == "manual" {
        args.backup.reason = "upgrade".into();
    }
    let made = super::backup::make(&dir, &args.backup).await?;
    println!("Backup before the upgrade: {}", made.dir.display());

    let stack = Stack::open(&dir).await.map_err(super::up::failure)?;
    let s = &stack.current.settings;
    let layout = &stack.current.layout;
    // Pulled here, in the foreground, so that the administrator sees each image's progress (under
    // the unit the reload would pull them in the journal); a failed pull changes nothing running.
    let images = crate::day2::images::wanted(Some(s));
    pull::pull_missing(&stack.engine, &images, pull::Mode::detect())
        .await
        .map_err(|e| {
            Failure::new(
                Code::Pull,
                anyhow::anyhow!(
                    "{e}. Nothing was changed; the backup is in {}",
                    made.dir.display()
                ),
            )
        })?;

    let compose = rendering::compose::render(s).code(Code::Failure)?;
    let lock = lock::acquire(&layout.lock_file(), lock::DEFAULT_WAIT, || {
        journal::info("waiting for another mathesarctl run to finish")
    })
    .map_err(|e| Failure::new(e.code(), e))?;
    let (compose_path, caddy_path) = (layout.compose_file(), layout.caddyfile());
    let mut wanted = vec![commit::Change {
        path: &compose_path,
        contents: compose.as_bytes(),
        mode: PRIVATE_FILE,
    }];
    if caddy_path.parent().is_some_and(|p| p.is_dir()) {
        wanted.push(commit::Change {
            path: &caddy_path,
            contents: rendering::compose::CADDYFILE.as_bytes(),
            mode: PUBLIC_FILE,
        });
    }
    let changed: Vec<commit::Change> = wanted
        .into_iter()
        .filter(|c| !atomic::holds(c.path, c.contents, c.mode))
        .collect();
    commit::commit(&layout.journal_file(), &changed).code(Code::Io)?;
    drop(lock);
    for f in &changed {
        journal::info(format!("wrote {} of this version", f.path.display()));
    }

    let under_unit = unit::state(UNIT).await.is_ok_and(|u| u.is_active());
    if under_unit {
        journal::info(format!("reloading {UNIT}"));
        unit::control(Action::Reload, UNIT).map_err(|e| {
            let code = match e {
                ControlError::Spawn { .. } => Code::Failure,
                ControlError::Failed { .. } => Code::Unhealthy,
            };
            Failure::new(
                code,
                anyhow::anyhow!("{e}. The backup is in {}", made.dir.display()),
            )
        })?;
    } else if stack.any_running().await.map_err(super::up::failure)? {
        let applied = stack
            .apply(&Options {
                timeout: args.timeout.map(Duration::from_secs),
                preflight: false,
            })
            .await
            .map_err(|e| {
                let code = e.code();
                Failure::new(
                    code,
                    anyhow::anyhow!("{e}. The backup is in {}", made.dir.display()),
                )
            })?;
        if !applied.recreated.is_empty() {
            journal::info(format!("recreated: {}", applied.recreated.join(", ")));
        }
    } else {
        journal::info(format!(
            "Mathesar is not running: the new version is used at the next start (`systemctl start {UNIT}`)"
        ));
        return Ok(());
    }
    println!(
        "Mathesar is upgraded and running. Log in at {}",
        s.login_url()
    );
    Ok(())
}

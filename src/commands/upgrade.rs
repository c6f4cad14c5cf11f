//! `mathesarctl upgrade`: a backup first (its path is printed), then the compose file and the
//! Caddyfile of this package version, and the running stack brought to them: missing images
//! pulled (nothing is pulled when they are present), changed services recreated, health waited
//! for. A stopped installation is left stopped; a failed unit is started again.

use std::time::Duration;

use crate::day2::cli::UpgradeArgs;
use crate::exit::{Code, Failure, Outcome, WithCode};
use crate::rendering;
use crate::stack::{Options, Stack, journal};
use crate::storage::modes::{PRIVATE_FILE, PUBLIC_FILE};
use crate::storage::{atomic, commit, lock};
use crate::systemd::{UNIT, unit};

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

    let state = unit::state(UNIT).await.ok();
    let under_unit = state.as_ref().is_some_and(|u| u.is_active());
    // The unit failed, or is (re)trying to start (e.g. a package upgrade on a host without a
    // registry restarted it before the new images were loaded): started again, on this version.
    let failed_unit = state
        .as_ref()
        .is_some_and(|u| u.active == "failed" || u.active == "activating");
    if failed_unit {
        journal::info(format!(
            "{UNIT} is not running (it failed): starting it again"
        ));
        let _ = std::process::Command::new("systemctl")
            .args(["reset-failed", UNIT])
            .status();
        let status = std::process::Command::new("systemctl")
            .args(["restart", UNIT])
            .status()
            .code(Code::Failure)?;
        if !status.success() {
            return Err(Failure::new(
                Code::Service,
                anyhow::anyhow!(
                    "`systemctl restart {UNIT}` failed ({status}); see `mathesarctl status` and \
                     `journalctl -u {UNIT}`. The backup is in {}",
                    made.dir.display()
                ),
            ));
        }
    } else if under_unit {
        journal::info(format!("reloading {UNIT}"));
        let status = std::process::Command::new("systemctl")
            .args(["reload", UNIT])
            .status()
            .code(Code::Failure)?;
        if !status.success() {
            return Err(Failure::new(
                Code::Unhealthy,
                anyhow::anyhow!(
                    "`systemctl reload {UNIT}` failed ({status}); see `journalctl -u {UNIT}`. \
                     The backup is in {}",
                    made.dir.display()
                ),
            ));
        }
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

//! `mathesarctl upgrade`: a backup first (its path is printed), then the compose file and the
//! Caddyfile of this package version, missing images pulled in the foreground with progress
//! (nothing is pulled when they are present), and the running stack brought to them: changed
//! services recreated, health waited for. A stopped installation is left stopped; a failed unit
//! is started again.

use std::time::Duration;

use crate::cli::UpgradeArgs;
use crate::exit::{Code, Failure, Outcome};
use crate::rendering::plan;
use crate::stack::{Options, Stack, journal, pull};
use crate::systemd::UNIT;
use crate::systemd::unit::{self, Action, Active, ControlError};

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

    let written = plan::write_release_files(layout, s, || {
        journal::info("waiting for another mathesarctl run to finish")
    })?;
    for path in written {
        journal::info(format!("wrote {} of this version", path.display()));
    }

    let state = unit::state(UNIT).await.ok();
    let under_unit = state.as_ref().is_some_and(|u| u.is_active());
    // The unit failed, or is (re)trying to start (e.g. a package upgrade on a host without a
    // registry restarted it before the new images were loaded): started again, on this version.
    let failed_unit = state
        .as_ref()
        .is_some_and(|u| matches!(u.active, Active::Failed | Active::Activating));
    if failed_unit {
        journal::info(format!(
            "{UNIT} is not running (it failed): starting it again"
        ));
        let _ = unit::control(Action::ResetFailed, UNIT);
        unit::control(Action::Restart, UNIT).map_err(|e| {
            control_failure(e, Code::Service, "; see `mathesarctl status`", &made.dir)
        })?;
    } else if under_unit {
        journal::info(format!("reloading {UNIT}"));
        unit::control(Action::Reload, UNIT)
            .map_err(|e| control_failure(e, Code::Unhealthy, "", &made.dir))?;
    } else if stack.any_running().await.map_err(super::up::failure)? {
        let applied = stack
            .apply(&Options {
                timeout: args.timeout.map(Duration::from_secs),
                preflight: false,
                strict_certificates: false,
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

/// A `systemctl` call of the upgrade that failed: `failed` when systemctl ran and refused, 1 when
/// it could not be run; the message names the backup taken first.
fn control_failure(e: ControlError, failed: Code, hint: &str, backup: &std::path::Path) -> Failure {
    let code = match e {
        ControlError::Spawn { .. } => Code::Failure,
        ControlError::Failed { .. } => failed,
    };
    Failure::new(
        code,
        anyhow::anyhow!("{e}{hint}. The backup is in {}", backup.display()),
    )
}

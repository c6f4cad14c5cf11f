//! `mathesarctl upgrade`: a backup first (its path is printed; or `--backup-dir`, the one the
//! package's postinst took), then the compose file and the Caddyfile of this package version,
//! missing images pulled in the foreground with progress (nothing is pulled when they are
//! present), and the running stack brought to them: changed services recreated, health waited
//! for. A stopped installation is left stopped; a failed unit is started again; `--restart`
//! restarts the unit whatever its state (the package's upgrade).
//!
//! When the new release's Mathesar fails that start, the upgrade puts itself back
//! (`day2::put_back`): the backup restored, the previous release's images started on it and
//! held in place of the package's (`rendering::held`) until an `upgrade` tries again - this
//! command clears a hold first. Exit 16 then: the administrator's automation must see that the
//! package's release does not run.

use std::path::Path;
use std::time::Duration;

use anyhow::anyhow;

use crate::cli::UpgradeArgs;
use crate::day2::put_back::{self, Failed};
use crate::exit::{Code, Failure, Outcome};
use crate::rendering::held::{self, Held};
use crate::rendering::plan;
use crate::stack::{Options, Stack, journal, pull};
use crate::systemd::UNIT;
use crate::systemd::unit::{self, Action, Active, ControlError};

pub(crate) async fn run(mut args: UpgradeArgs) -> Outcome {
    let dir = super::config_dir(&args.backup.dir);
    if args.backup.reason == "manual" {
        args.backup.reason = "upgrade".into();
    }
    let held_before = held::read(&dir).map_err(|e| Failure::new(Code::Io, e))?;
    if args.reinstall && held_before.is_none() {
        journal::info(format!("restarting {UNIT}"));
        let _ = unit::control(Action::ResetFailed, UNIT);
        return unit::control(Action::Restart, UNIT)
            .map_err(|e| control_failure(e, Code::Service, "; see `mathesarctl status`"));
    }
    let backup = match args.backup_dir.take() {
        Some(d) => {
            crate::day2::restore::check(&d, false).map_err(|e| Failure::new(e.code(), e))?;
            d
        }
        None => super::backup::make(&dir, &args.backup).await?.dir,
    };
    println!("Backup before the upgrade: {}", backup.display());

    let stack = Stack::open(&dir).await.map_err(super::up::failure)?;
    // A release held back by a failed upgrade: this run tries the package's release again (its
    // images pulled first; the record is removed once they are here).
    if let Some(h) = &held_before {
        held::use_pins(None);
        let release = crate::rendering::images::Image::Service.pinned(None);
        journal::info(format!(
            "Mathesar {} was held back after a failed upgrade to {} ({}): trying the package's \
             Mathesar {} now",
            h.running,
            h.failed_release,
            h.failed_at,
            crate::version::of_image(&release).unwrap_or(&release)
        ));
    }
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
                anyhow!(
                    "{e}. Nothing was changed; the backup is in {}",
                    backup.display()
                ),
            )
        })?;
    if held_before.is_some() {
        held::clear(&dir).map_err(|e| Failure::new(Code::Io, e))?;
    }

    let written = plan::write_release_files(layout, s, || {
        journal::info("waiting for another mathesarctl run to finish")
    })?;
    for path in written {
        journal::info(format!("wrote {} of this version", path.display()));
    }

    let state = unit::state(UNIT).await.ok();
    let loaded = state.as_ref().is_some_and(|u| u.load == "loaded");
    let under_unit = state.as_ref().is_some_and(|u| u.is_active());
    // The unit failed, or is (re)trying to start (e.g. a package upgrade on a host without a
    // registry restarted it before the new images were loaded): started again, on this version.
    // A retry of a held-back release restarts it too: the new release's first start is a
    // whole start, as the package's upgrade made it.
    let restart = (args.restart && loaded)
        || (held_before.is_some() && under_unit)
        || state
            .as_ref()
            .is_some_and(|u| matches!(u.active, Active::Failed | Active::Activating));
    let timeout = args.timeout.map(Duration::from_secs);
    let started = if restart {
        journal::info(format!("restarting {UNIT} on this version"));
        let _ = unit::control(Action::ResetFailed, UNIT);
        unit::control(Action::Restart, UNIT)
            .map_err(|e| control_failure(e, Code::Service, "; see `mathesarctl status`"))
    } else if under_unit {
        journal::info(format!("reloading {UNIT}"));
        unit::control(Action::Reload, UNIT).map_err(|e| control_failure(e, Code::Unhealthy, ""))
    } else if stack.any_running().await.map_err(super::up::failure)? {
        apply(&stack, timeout).await
    } else {
        journal::info(format!(
            "Mathesar is not running: the new version is used at the next start (`systemctl start {UNIT}`)"
        ));
        return Ok(());
    };
    let login_url = s.login_url();
    drop(stack);
    match started {
        Ok(()) => {
            println!("Mathesar is upgraded and running. Log in at {login_url}");
            Ok(())
        }
        Err(failure) => {
            let package_version = args
                .package_version
                .clone()
                .unwrap_or_else(|| env!("CARGO_PKG_VERSION").to_string());
            Err(put_back_after(
                &dir,
                &backup,
                failure,
                restart || under_unit,
                timeout,
                package_version,
            )
            .await)
        }
    }
}

async fn apply(stack: &Stack, timeout: Option<Duration>) -> Result<(), Failure> {
    let applied = stack
        .apply(&Options {
            timeout,
            strict_certificates: false,
        })
        .await
        .map_err(|e| Failure::new(e.code(), e))?;
    if !applied.recreated.is_empty() {
        journal::info(format!("recreated: {}", applied.recreated.join(", ")));
    }
    Ok(())
}

/// The new release failed its start: the previous one is put back on the backup. The failure
/// returned says what failed, what runs now and how to retry (exit 16), or, when putting back
/// failed too, both errors and the way back by hand.
async fn put_back_after(
    dir: &Path,
    backup: &Path,
    failure: Failure,
    under_unit: bool,
    timeout: Option<Duration>,
    package_version: String,
) -> Failure {
    let failed_release =
        crate::version::of_image(&crate::rendering::images::Image::Service.pinned(None))
            .unwrap_or_default()
            .to_string();
    let last_log_lines = put_back::last_log_lines(dir).await;
    journal::error(format!(
        "Mathesar {failed_release} failed its first start: {:#}",
        failure.error
    ));
    for line in &last_log_lines {
        journal::error(format!("  {line}"));
    }
    let failed = Failed {
        failure: format!("{:#}", failure.error),
        last_log_lines: last_log_lines.clone(),
        package_version,
    };
    match put_back::put_back(dir, backup, failed, under_unit, timeout).await {
        Ok(record) => Failure::new(Code::UpgradeRolledBack, anyhow!(rolled_back(&record))),
        Err(e) => {
            let code = e.code();
            Failure::new(
                code,
                anyhow!(
                    "Mathesar {failed_release} failed its first start ({:#}), and putting the \
                     previous release back failed too: {e}. The backup taken before the upgrade is \
                     {}: restore it with `mathesarctl restore --no-start {}`, then install the \
                     previous package again",
                    failure.error,
                    backup.display(),
                    backup.display()
                ),
            )
        }
    }
}

/// What the administrator reads after an upgrade that put itself back.
fn rolled_back(h: &Held) -> String {
    let mut text = format!(
        "the upgrade to Mathesar {} failed: it did not start ({})",
        h.failed_release, h.failure
    );
    if !h.last_log_lines.is_empty() {
        text.push_str(&format!(
            "; its last lines:\n    {}\n",
            h.last_log_lines.join("\n    ")
        ));
    } else {
        text.push_str(". ");
    }
    text.push_str(&format!(
        "It was put back: Mathesar {} serves again, on the databases of the backup {} taken \
         before the upgrade (kept), held back from the package installed ({}) - `mathesarctl \
         status` says so. Fix the cause (`mathesarctl logs service`), then {}",
        h.running,
        h.backup.display(),
        h.package_version,
        Held::RETRY
    ));
    text
}

/// A `systemctl` call of the upgrade that failed: `failed` when systemctl ran and refused, 1 when
/// it could not be run.
fn control_failure(e: ControlError, failed: Code, hint: &str) -> Failure {
    let code = match e {
        ControlError::Spawn { .. } => Code::Failure,
        ControlError::Failed { .. } => failed,
    };
    Failure::new(code, anyhow!("{e}{hint}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_says_what_failed_what_runs_and_how_to_retry() {
        let h = Held {
            running: "0.10.1".into(),
            images: Default::default(),
            failed_release: "0.11.0".into(),
            package_version: "0.11.0-1".into(),
            failed_at: "2026-12-03T06:00:00Z".into(),
            failure: "the unit did not start".into(),
            last_log_lines: vec!["Error: boom".into()],
            backup: "/var/backups/mathesar/mathesar-1".into(),
        };
        let t = rolled_back(&h);
        for want in [
            "Mathesar 0.11.0 failed",
            "Error: boom",
            "Mathesar 0.10.1 serves again",
            "/var/backups/mathesar/mathesar-1",
            "mathesarctl upgrade",
            "--reinstall",
        ] {
            assert!(t.contains(want), "{want}: {t}");
        }
    }
}

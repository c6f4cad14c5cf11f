//! A failed upgrade puts itself back: the new release's Mathesar failed its first start (after
//! the backup the upgrade took), so the stack is stopped, that backup restored (the databases
//! as before the new release's migrations, half-applied ones included), the previous release's
//! images - the backup's manifest names them, recorded before anything changed - held in place
//! of the package's (`rendering::held`), and started; the wait ends when Mathesar serves again.
//! Nothing is deleted: the backup stays where it is, and the record names it.

use std::path::Path;
use std::time::Duration;

use crate::day2::backup::BackupError;
use crate::day2::redact::Redactor;
use crate::day2::restore::{self, RestoreOptions};
use crate::rendering::held::{self, Held};
use crate::rendering::images::{Image, Pins};
use crate::stack::{Options, Stack, config, journal};
use crate::systemd::UNIT;
use crate::systemd::unit::{self, Action};

/// How many of the new release's last log lines are kept and shown.
const LOG_LINES: usize = 12;

/// The new release's last log lines (its application container), secrets redacted; empty when
/// they cannot be read (the failure itself is still reported).
pub(crate) async fn last_log_lines(config_dir: &Path) -> Vec<String> {
    let Ok(engine) = crate::stack::engine::Engine::connect().await else {
        return Vec::new();
    };
    let name = crate::stack::admin::SERVICE_CONTAINER;
    let Ok(logs) = engine.last_logs(name, 200).await else {
        return Vec::new();
    };
    tail(
        &Redactor::from_config_dir(config_dir).redact(&logs),
        LOG_LINES,
    )
}

/// Up to `n` lines with text, control characters removed, ending at the last one that reads like
/// an error (a failed start often ends its log with help text, or with the banner of its next
/// attempt), else the last `n`.
fn tail(logs: &str, n: usize) -> Vec<String> {
    const ERROR_WORDS: [&str; 6] = ["Error", "ERROR", "error", "Exception", "FATAL", "failed"];
    let lines: Vec<String> = logs
        .lines()
        .map(|l| l.chars().filter(|c| !c.is_control()).collect::<String>())
        .map(|l| l.trim_end().to_string())
        .filter(|l| !l.trim().is_empty())
        .collect();
    let end = lines
        .iter()
        .rposition(|l| ERROR_WORDS.iter().any(|w| l.contains(w)))
        .map_or(lines.len(), |i| i + 1);
    lines[end.saturating_sub(n)..end].to_vec()
}

/// What failed, for the record.
pub(crate) struct Failed {
    pub failure: String,
    pub last_log_lines: Vec<String>,
    /// The package version installed, as the package manager names it.
    pub package_version: String,
}

/// Restores `backup` and starts the release it was taken of. `under_unit`: the installation runs
/// as `mathesar.service` (started again through it, which returns once Mathesar serves);
/// otherwise the stack is applied directly, with its health waits.
pub(crate) async fn put_back(
    config_dir: &Path,
    backup: &Path,
    failed: Failed,
    under_unit: bool,
    timeout: Option<Duration>,
) -> Result<Held, BackupError> {
    let m = restore::check(backup, false)?;
    let current = config::load(config_dir).map_err(crate::stack::StackError::from)?;
    if !current.settings.bundled_db() {
        // The backup holds the bundled databases only; a shared (`internal-db-host`) database
        // migrated by the new release is the fleet's, restored by its administrator.
        return Err(BackupError::Refused(
            "Mathesar's database is not the bundled one (internal-db-host): the backup does not \
             hold it, so the previous release cannot be put back automatically; restore that \
             database from its own backup, then install the previous package"
                .into(),
        ));
    }
    let registry = current.settings.image_registry.as_deref();
    let failed_release = crate::version::of_image(&Image::Service.pinned(None))
        .unwrap_or_default()
        .to_string();
    let pins = Pins::of_services(&m.images, registry).map_err(|e| {
        BackupError::Refused(format!(
            "the backup {} does not name the previous release's images ({e})",
            backup.display()
        ))
    })?;
    let running = m
        .mathesar_version
        .clone()
        .or_else(|| crate::version::of_image(pins.get(Image::Service)).map(str::to_string))
        .unwrap_or_default();
    let record = Held {
        running,
        images: held::images_of(&pins),
        failed_release,
        package_version: failed.package_version,
        failed_at: crate::time::rfc3339(std::time::SystemTime::now()),
        failure: failed.failure,
        last_log_lines: failed.last_log_lines,
        backup: backup.to_path_buf(),
    };
    // Written before the restore: a run killed in between leaves the previous release's pins
    // with the new release's `mathesar-version`, which `stack::app_version` refuses to start -
    // nothing ever runs on databases it was not started with.
    held::write(config_dir, &record).map_err(|e| BackupError::Refused(e.to_string()))?;
    held::use_pins(Some(&record));
    journal::info(format!(
        "putting Mathesar {} back: stopping the stack, restoring the backup {}",
        record.running,
        backup.display()
    ));
    // The unit may be waiting to start the new release again (Restart=on-failure): stopped
    // first, so that nothing starts it while the databases are restored.
    if under_unit {
        unit::control(Action::Stop, UNIT)?;
        let _ = unit::control(Action::ResetFailed, UNIT);
    }
    restore::restore(
        config_dir,
        backup,
        &RestoreOptions {
            force: false,
            timeout,
            no_start: true,
        },
    )
    .await?;
    journal::info(format!("starting Mathesar {} again", record.running));
    if under_unit {
        // Type=notify: returns once Mathesar serves (READY=1 after the health waits).
        unit::control(Action::Start, UNIT)?;
    } else {
        let stack = Stack::open(config_dir).await?;
        stack
            .apply(&Options {
                timeout,
                strict_certificates: false,
            })
            .await?;
    }
    Ok(record)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tail_keeps_the_last_lines_with_text() {
        let logs = "a\n\n b\x1b[0m\nc\r\n  \nd\n";
        assert_eq!(tail(logs, 2), vec!["c", "d"]);
        assert_eq!(tail(logs, 10), vec!["a", " b[0m", "c", "d"]);
        assert!(tail("", 3).is_empty());
    }

    #[test]
    fn the_tail_ends_at_the_last_error() {
        let logs = "Applying 0013\nTraceback\nRuntimeError: boom\nERROR: Unable to continue\n\
                    Please refer to the documentation\n  * Documentation : https://x\n";
        assert_eq!(
            tail(logs, 2),
            vec!["RuntimeError: boom", "ERROR: Unable to continue"]
        );
    }
}

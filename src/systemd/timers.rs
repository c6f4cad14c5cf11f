//! The package's timers, enabled or disabled by `configure` as the answers say: the backup and
//! drill timers (`mathesar-backup.timer`, `mathesar-backup-verify.timer`) as `backup` says, the
//! backup's schedule (`backup-schedule`) in a drop-in of the timer when it is not the unit's
//! `daily`; the daily pull of rebuilt images (`mathesar-refresh.timer`) as `refresh-images` says.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::settings::Settings;
use crate::settings::backup::DEFAULT_SCHEDULE;
use crate::storage::{atomic, modes};

use super::unit;

pub(crate) const BACKUP_TIMER: &str = "mathesar-backup.timer";
pub(crate) const VERIFY_TIMER: &str = "mathesar-backup-verify.timer";
pub(crate) const REFRESH_TIMER: &str = "mathesar-refresh.timer";
/// Where the package installs the timer (nothing is enabled where it is not installed: a
/// development build, the tests).
const INSTALLED: &str = "/usr/lib/systemd/system/mathesar-backup.timer";
pub(crate) const SCHEDULE_DROPIN: &str =
    "/etc/systemd/system/mathesar-backup.timer.d/schedule.conf";

/// The drop-in for `schedule`; `None` for the unit's own `daily`.
pub(crate) fn render(schedule: &str) -> Option<String> {
    (schedule != DEFAULT_SCHEDULE).then(|| {
        format!(
            "# Written by `mathesarctl configure` from the answer backup-schedule; change the answer,\n\
             # not this file.\n[Timer]\nOnCalendar=\nOnCalendar={schedule}\n"
        )
    })
}

/// `systemd-analyze calendar` judges the expression, where it is installed: a schedule systemd
/// would not load is refused before anything is written.
pub(crate) fn check_schedule(schedule: &str) -> Result<(), String> {
    let out = match crate::process::output_blocking(
        "systemd-analyze",
        &["calendar", "--", schedule],
        b"",
        Duration::from_secs(10),
    ) {
        Ok(o) => o,
        // Not installed: the answer's own rule has checked what can be checked.
        Err(crate::process::RunError::NotFound(_)) => return Ok(()),
        Err(e) => {
            return Err(format!(
                "the schedule `{schedule}` could not be checked: {e}"
            ));
        }
    };
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "systemd does not read `{schedule}` as a calendar expression ({}); see man systemd.time",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// What [`apply`] did, for `configure` to say.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Applied {
    pub changed_schedule: bool,
    /// The backup timers turned on or off by this run.
    pub enabled: Option<bool>,
    /// The refresh timer turned on or off by this run.
    pub refresh: Option<bool>,
}

/// Writes or removes the schedule's drop-in at `file`; `true` when it changed.
pub(crate) fn write_schedule(file: &Path, schedule: &str) -> std::io::Result<bool> {
    match render(schedule) {
        Some(text) => {
            if let Some(dir) = file.parent() {
                std::fs::create_dir_all(dir)?;
            }
            atomic::write_if_changed(file, text.as_bytes(), modes::PUBLIC_FILE)
                .map_err(|e| std::io::Error::other(e.to_string()))
        }
        None => super::dropin::remove(file),
    }
}

/// Brings the timers to the answers: the schedule's drop-in, then enabled (and started when
/// `start`, with systemd running) or disabled and stopped. Only where the package installed
/// them, and for the configuration the service uses.
pub(crate) fn apply(s: &Settings, start: bool) -> Result<Applied, anyhow::Error> {
    let mut done = Applied::default();
    if !Path::new(INSTALLED).exists() || super::paths::in_use_elsewhere(&s.config_dir).is_some() {
        return Ok(done);
    }
    let running = Path::new("/run/systemd/system").exists();
    let dropin = PathBuf::from(SCHEDULE_DROPIN);
    done.changed_schedule = write_schedule(&dropin, &s.backup.schedule)?;
    if done.changed_schedule && running {
        unit::daemon_reload()?;
    }
    done.enabled = switch(
        s.backup.enabled,
        &[BACKUP_TIMER, VERIFY_TIMER],
        start,
        running,
    )?
    .0;
    // The refresh timer is reported only when it was turned on or off, not at every start.
    let (refresh, was_enabled) = switch(s.refresh_images, &[REFRESH_TIMER], start, running)?;
    done.refresh = refresh.filter(|on| !on || !was_enabled);
    Ok(done)
}

/// Enables `timers` (started when `start` and systemd runs) or disables and stops them, as `on`
/// says: `Some(on)` when it did either, and whether they were all enabled before.
fn switch(
    on: bool,
    timers: &[&str],
    start: bool,
    running: bool,
) -> Result<(Option<bool>, bool), anyhow::Error> {
    let enabled = timers.iter().all(|t| unit::is_enabled(t));
    let done = if on && (!enabled || start) {
        unit::set_enabled(true, start && running, timers)?;
        Some(true)
    } else if !on && enabled {
        unit::set_enabled(false, running, timers)?;
        Some(false)
    } else {
        None
    };
    Ok((done, enabled))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_schedule_needs_no_drop_in_and_others_replace_it() {
        assert_eq!(render("daily"), None);
        let text = render("*-*-* 02:30").unwrap();
        assert!(
            text.contains("[Timer]\nOnCalendar=\nOnCalendar=*-*-* 02:30\n"),
            "{text}"
        );
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("mathesar-backup.timer.d/schedule.conf");
        assert!(write_schedule(&f, "Mon..Fri 23:00").unwrap());
        assert!(!write_schedule(&f, "Mon..Fri 23:00").unwrap(), "unchanged");
        assert!(write_schedule(&f, "daily").unwrap());
        assert!(!f.exists());
    }
}

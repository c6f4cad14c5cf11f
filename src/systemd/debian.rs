//! What the package's maintainer scripts do to systemd, the Debian way: `deb-systemd-invoke`
//! (which honours policy-rc.d and a unit the administrator disabled: nothing starts in a chroot
//! or an image build), the same decision for the restart `mathesarctl upgrade` does itself
//! ([`may_restart`]), and the timers' links and schedule, which `configure` makes (`timers`) and
//! the package's removal and purge take away. `root`: dpkg's `DPKG_ROOT` (an installation into
//! another tree; `/` otherwise).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use thiserror::Error;

use crate::process::{Foreground, RunError, Stdout};

use super::timers::{BACKUP_TIMER, REFRESH_TIMER, SCHEDULE_DROPIN, VERIFY_TIMER};
use super::unit;

/// Debian's local policy on starting services (`invoke-rc.d`'s interface), when installed.
pub(crate) const POLICY_RC_D: &str = "/usr/sbin/policy-rc.d";
const INVOKE: &str = "deb-systemd-invoke";
/// The timers `configure` enables as the answers say, and the services they start.
pub(crate) const TIMERS: [&str; 3] = [BACKUP_TIMER, VERIFY_TIMER, REFRESH_TIMER];
pub(crate) const TIMER_SERVICES: [&str; 3] = [
    "mathesar-backup.service",
    "mathesar-backup-verify.service",
    "mathesar-refresh.service",
];
/// Where `systemctl enable` links a timer (`WantedBy=timers.target`).
const TIMER_WANTS: &str = "etc/systemd/system/timers.target.wants";
/// policy-rc.d answers at once.
const POLICY_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, Error)]
pub(crate) enum InvokeError {
    #[error("{0}")]
    Run(#[from] RunError),
    #[error("`{INVOKE} {0}` exited with {1}")]
    Failed(String, i32),
}

/// systemd runs here (not a chroot, an image build, a container without it).
pub(crate) fn running() -> bool {
    Path::new("/run/systemd/system").exists()
}

/// `path` (absolute) under `root` (`/` when there is no `DPKG_ROOT`).
pub(crate) fn under(root: &Path, path: &str) -> PathBuf {
    root.join(path.trim_start_matches('/'))
}

/// What policy-rc.d said about an action.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Policy {
    /// Not installed: no local policy.
    Absent,
    /// Its exit code (none when a signal ended it).
    Answered(Option<i32>),
    /// It could not be run.
    Failed,
}

/// What deb-systemd-invoke decides for a restart: an enabled unit, and policy-rc.d absent or
/// answering 0 (allowed) or 104 (allowed too, as deb-systemd-invoke reads it); 101 (forbidden)
/// and every other answer refuse.
pub(crate) fn allows(enabled: bool, policy: Policy) -> bool {
    enabled
        && match policy {
            Policy::Absent => true,
            Policy::Answered(code) => matches!(code, Some(0 | 104)),
            Policy::Failed => false,
        }
}

/// policy-rc.d's answer for `action` on `unit`.
fn policy(unit: &str, action: &str) -> Policy {
    let installed = std::fs::metadata(POLICY_RC_D)
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0);
    if !installed {
        return Policy::Absent;
    }
    match crate::process::output_blocking(POLICY_RC_D, &[unit, action], b"", POLICY_TIMEOUT) {
        Ok(o) => Policy::Answered(o.status.code()),
        Err(_) => Policy::Failed,
    }
}

/// Whether `unit` may be restarted as deb-systemd-invoke would restart it ([`allows`]): for
/// the restart `mathesarctl upgrade` does itself, which deb-systemd-invoke cannot run.
pub(crate) fn may_restart(unit: &str) -> bool {
    unit::is_enabled(unit) && allows(true, policy(unit, "restart"))
}

/// `deb-systemd-invoke ACTION UNITS...`, its output shown, or collected when `quiet`.
pub(crate) fn invoke(
    action: &str,
    units: &[&str],
    quiet: bool,
    timeout: Duration,
) -> Result<(), InvokeError> {
    let mut args = vec![action];
    args.extend_from_slice(units);
    let ran = if quiet {
        crate::process::output_blocking(INVOKE, &args, b"", timeout)
            .map(|o| o.status.code().unwrap_or(1))
    } else {
        Foreground::new(INVOKE, &args)
            .stdout(Stdout::Inherit)
            .run(timeout)
            .map(|r| r.code)
    }?;
    if ran == 0 {
        Ok(())
    } else {
        Err(InvokeError::Failed(args.join(" "), ran))
    }
}

/// Removes the timers' links (`configure` enabled them, not the package's generated scripts).
pub(crate) fn remove_timer_links(root: &Path) -> std::io::Result<()> {
    for t in TIMERS {
        match std::fs::remove_file(under(root, TIMER_WANTS).join(t)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    Ok(())
}

/// Removes the backup timer's schedule (`backup-schedule`'s drop-in) and its directory when
/// nothing else is in it.
pub(crate) fn remove_schedule(root: &Path) -> std::io::Result<()> {
    super::dropin::remove(&under(root, SCHEDULE_DROPIN)).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_restart_needs_an_enabled_unit_and_the_policy_s_consent() {
        for (enabled, policy, ok) in [
            (true, Policy::Absent, true),
            (true, Policy::Answered(Some(0)), true),
            (true, Policy::Answered(Some(104)), true),
            (true, Policy::Answered(Some(101)), false),
            (true, Policy::Answered(Some(1)), false),
            (true, Policy::Answered(Some(106)), false),
            (true, Policy::Answered(None), false),
            (true, Policy::Failed, false),
            (false, Policy::Absent, false),
            (false, Policy::Answered(Some(0)), false),
        ] {
            assert_eq!(allows(enabled, policy), ok, "{enabled} {policy:?}");
        }
    }

    #[test]
    fn the_timers_links_and_schedule_go_under_the_root() {
        let root = tempfile::tempdir().unwrap();
        let wants = root.path().join(TIMER_WANTS);
        std::fs::create_dir_all(&wants).unwrap();
        let other = wants.join("apt-daily.timer");
        for t in TIMERS.iter().take(2).chain([&"apt-daily.timer"]) {
            std::os::unix::fs::symlink("/usr/lib/systemd/system/x.timer", wants.join(t)).unwrap();
        }
        remove_timer_links(root.path()).unwrap();
        assert!(
            TIMERS
                .iter()
                .all(|t| wants.join(t).symlink_metadata().is_err())
        );
        assert!(other.symlink_metadata().is_ok(), "another package's timer");

        let schedule = under(root.path(), SCHEDULE_DROPIN);
        std::fs::create_dir_all(schedule.parent().unwrap()).unwrap();
        std::fs::write(&schedule, "[Timer]\n").unwrap();
        remove_schedule(root.path()).unwrap();
        assert!(!schedule.parent().unwrap().exists());
        remove_schedule(root.path()).unwrap();
        assert_eq!(under(Path::new("/"), "/etc/x"), Path::new("/etc/x"));
    }
}

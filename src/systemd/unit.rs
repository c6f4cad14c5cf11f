//! The one boundary to systemd's manager for units: their state over the system D-Bus (zbus:
//! `org.freedesktop.systemd1.Manager.LoadUnit` and the `ActiveState`/`SubState` properties), and
//! starting, stopping, reloading and restarting them (and clearing their failed state) with
//! `systemctl`, which waits for the job to finish and
//! reports its failure the way administrators know.

use std::fmt;
use std::process::Command;
use std::time::Duration;

use thiserror::Error;
use zbus::{Connection, OwnedObjectPath, OwnedVariant};

const DESTINATION: &str = "org.freedesktop.systemd1";
const MANAGER_PATH: &str = "/org/freedesktop/systemd1";
const MANAGER: &str = "org.freedesktop.systemd1.Manager";
const UNIT_INTERFACE: &str = "org.freedesktop.systemd1.Unit";
const SERVICE_INTERFACE: &str = "org.freedesktop.systemd1.Service";
const PROPERTIES: &str = "org.freedesktop.DBus.Properties";

#[derive(Debug, Error)]
#[error("cannot ask systemd over D-Bus: {0}")]
pub(crate) struct UnitError(#[from] zbus::Error);

/// A unit's `ActiveState`, its variants named as systemd names them.
#[derive(Clone, Debug, PartialEq, Eq)]
#[allow(clippy::enum_variant_names)]
pub(crate) enum Active {
    Active,
    Reloading,
    Inactive,
    Failed,
    Activating,
    Deactivating,
    Refreshing,
    /// A state this version does not know, as systemd named it.
    Other(String),
}

impl Active {
    pub(crate) fn parse(s: &str) -> Active {
        match s {
            "active" => Active::Active,
            "reloading" => Active::Reloading,
            "inactive" => Active::Inactive,
            "failed" => Active::Failed,
            "activating" => Active::Activating,
            "deactivating" => Active::Deactivating,
            "refreshing" => Active::Refreshing,
            other => Active::Other(other.to_string()),
        }
    }

    pub(crate) fn as_str(&self) -> &str {
        match self {
            Active::Active => "active",
            Active::Reloading => "reloading",
            Active::Inactive => "inactive",
            Active::Failed => "failed",
            Active::Activating => "activating",
            Active::Deactivating => "deactivating",
            Active::Refreshing => "refreshing",
            Active::Other(s) => s,
        }
    }
}

impl fmt::Display for Active {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct UnitState {
    pub active: Active,
    /// e.g. `running`, `dead`, `start`.
    pub sub: String,
    /// `loaded`, `not-found`, ...
    pub load: String,
}

impl UnitState {
    pub(crate) fn is_active(&self) -> bool {
        matches!(self.active, Active::Active | Active::Reloading)
    }
    /// Containers going away now are the unit's own doing (ExecStop, ExecReload).
    pub(crate) fn is_stopping_or_reloading(&self) -> bool {
        matches!(self.active, Active::Deactivating | Active::Reloading)
    }
    pub(crate) fn in_transition(&self) -> bool {
        matches!(
            self.active,
            Active::Activating | Active::Deactivating | Active::Reloading | Active::Refreshing
        )
    }
}

/// What `systemctl` is asked to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Action {
    Start,
    Stop,
    Reload,
    Restart,
    /// `reset-failed`: forgets a failed state and the start limit's count (a start asked by an
    /// administrator or a package operation is not a crash loop).
    ResetFailed,
}

impl Action {
    fn verb(self) -> &'static str {
        match self {
            Action::Start => "start",
            Action::Stop => "stop",
            Action::Reload => "reload",
            Action::Restart => "restart",
            Action::ResetFailed => "reset-failed",
        }
    }
}

#[derive(Debug, Error)]
pub(crate) enum ControlError {
    #[error("cannot run `systemctl {command}`: {source}")]
    Spawn {
        command: String,
        #[source]
        source: std::io::Error,
    },
    #[error("`systemctl {command}` failed ({status}); see `journalctl -u {unit}`")]
    Failed {
        command: String,
        unit: String,
        status: String,
    },
}

fn systemctl(args: &[&str], unit: &str) -> Result<(), ControlError> {
    let command = args.join(" ");
    let status = Command::new("systemctl")
        .args(args)
        .status()
        .map_err(|source| ControlError::Spawn {
            command: command.clone(),
            source,
        })?;
    if status.success() {
        Ok(())
    } else {
        Err(ControlError::Failed {
            command,
            unit: unit.to_string(),
            status: status.to_string(),
        })
    }
}

/// `systemctl start|stop|reload|restart|reset-failed UNIT`, waiting for the job to finish.
pub(crate) fn control(action: Action, unit: &str) -> Result<(), ControlError> {
    systemctl(&[action.verb(), unit], unit)
}

/// `systemctl enable|disable [--now] UNITS`: the units' `[Install]` links (works without a
/// running systemd too, as in an image build); `--now` also starts or stops them.
pub(crate) fn set_enabled(enable: bool, now: bool, units: &[&str]) -> Result<(), ControlError> {
    let mut args = vec![if enable { "enable" } else { "disable" }, "--quiet"];
    if now {
        args.push("--now");
    }
    args.extend_from_slice(units);
    systemctl(&args, units.first().copied().unwrap_or_default())
}

/// How long a `systemctl` run by [`quietly`] may take: asking and reloading, not starting.
pub(crate) const QUICK: Duration = Duration::from_secs(120);

/// `systemctl ARGS`, its output collected, killed once `timeout` has passed: `Err` with what it
/// said on stderr (or why it did not run) when it failed.
pub(crate) fn quietly(args: &[&str], timeout: Duration) -> Result<(), String> {
    match crate::process::output_blocking("systemctl", args, b"", timeout) {
        Ok(o) if o.status.success() => Ok(()),
        Ok(o) => Err(String::from_utf8_lossy(&o.stderr).trim().to_string()),
        Err(e) => Err(e.to_string()),
    }
}

/// `systemctl is-enabled UNIT` answers `enabled`.
pub(crate) fn is_enabled(unit: &str) -> bool {
    quietly(&["is-enabled", "--quiet", unit], QUICK).is_ok()
}

/// `systemctl daemon-reload`: systemd reads the unit files and drop-ins again.
pub(crate) fn daemon_reload() -> Result<(), ControlError> {
    systemctl(&["daemon-reload"], "init.scope")
}

/// A property of the unit (`interface`: the unit's or the service's), as systemd sends it.
async fn get(
    conn: &Connection,
    path: &OwnedObjectPath,
    interface: &str,
    name: &str,
) -> Result<OwnedVariant, UnitError> {
    let reply = conn
        .call_method(
            Some(DESTINATION),
            path.as_str(),
            Some(PROPERTIES),
            "Get",
            &(interface, name),
        )
        .await?;
    Ok(reply.body().deserialize()?)
}

async fn property(
    conn: &Connection,
    path: &OwnedObjectPath,
    name: &str,
) -> Result<String, UnitError> {
    Ok(String::try_from(
        get(conn, path, UNIT_INTERFACE, name).await?,
    )?)
}

async fn number(conn: &Connection, path: &OwnedObjectPath, name: &str) -> Result<u32, UnitError> {
    Ok(u32::try_from(
        get(conn, path, SERVICE_INTERFACE, name).await?,
    )?)
}

/// Whether a start limit count is cleared once the service is up: only after a start that was
/// not an automatic restart (systemd sets `NRestarts` back to 0 at a start that follows a stop or
/// a failure it did not retry, and counts each `Restart=` up from there).
pub(crate) fn clears_start_limit(n_restarts: u32) -> bool {
    n_restarts == 0
}

/// The object path of `unit`, loaded by systemd if it was not.
async fn load(conn: &Connection, unit: &str) -> Result<OwnedObjectPath, UnitError> {
    let reply = conn
        .call_method(
            Some(DESTINATION),
            MANAGER_PATH,
            Some(MANAGER),
            "LoadUnit",
            &(unit,),
        )
        .await?;
    Ok(reply.body().deserialize()?)
}

/// Called by the unit's main process once Mathesar is up: forgets the unit's start limit count
/// (`ResetFailedUnit`) when this start was not an automatic restart, so that an administrator's
/// restarts and the package's never add up to `StartLimitBurst=`, while a crash loop (automatic
/// restarts, which do not get here or are not cleared) stays bounded by it. `pid`: this process;
/// nothing is done unless it is the unit's main process. Returns whether the count was cleared.
pub(crate) async fn forget_starts_after_manual_start(
    unit: &str,
    pid: u32,
) -> Result<bool, UnitError> {
    let conn = Connection::system().await?;
    let path = load(&conn, unit).await?;
    if number(&conn, &path, "MainPID").await? != pid
        || !clears_start_limit(number(&conn, &path, "NRestarts").await?)
    {
        return Ok(false);
    }
    conn.call_method(
        Some(DESTINATION),
        MANAGER_PATH,
        Some(MANAGER),
        "ResetFailedUnit",
        &(unit,),
    )
    .await?;
    Ok(true)
}

/// The state of `unit`, asked of the running systemd.
pub(crate) async fn state(unit: &str) -> Result<UnitState, UnitError> {
    let conn = Connection::system().await?;
    let path = load(&conn, unit).await?;
    Ok(UnitState {
        active: Active::parse(&property(&conn, &path, "ActiveState").await?),
        sub: property(&conn, &path, "SubState").await?,
        load: property(&conn, &path, "LoadState").await?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(active: &str) -> UnitState {
        UnitState {
            active: Active::parse(active),
            sub: String::new(),
            load: "loaded".into(),
        }
    }

    #[test]
    fn only_a_start_that_was_not_an_automatic_restart_clears_the_count() {
        assert!(clears_start_limit(0));
        assert!(!clears_start_limit(1));
        assert!(!clears_start_limit(4));
    }

    #[test]
    fn active_and_transitions() {
        assert!(st("active").is_active());
        assert!(st("reloading").is_active());
        assert!(!st("failed").is_active());
        assert!(st("activating").in_transition());
        assert!(st("deactivating").is_stopping_or_reloading());
        assert!(st("reloading").is_stopping_or_reloading());
        assert!(!st("active").is_stopping_or_reloading());
        assert!(!st("inactive").in_transition());
        assert!(st("refreshing").in_transition());
        assert!(!st("maintenance").is_active());
    }

    #[test]
    fn active_states_read_back_as_systemd_names_them() {
        for s in [
            "active",
            "reloading",
            "inactive",
            "failed",
            "activating",
            "deactivating",
            "refreshing",
            "maintenance",
        ] {
            assert_eq!(Active::parse(s).to_string(), s);
        }
        assert_eq!(
            Active::parse("maintenance"),
            Active::Other("maintenance".into())
        );
    }

    #[test]
    fn a_failed_systemctl_names_the_command_and_the_journal() {
        let e = ControlError::Failed {
            command: "reload mathesar.service".into(),
            unit: "mathesar.service".into(),
            status: "exit status: 1".into(),
        };
        assert_eq!(
            e.to_string(),
            "`systemctl reload mathesar.service` failed (exit status: 1); see `journalctl -u mathesar.service`"
        );
    }
}

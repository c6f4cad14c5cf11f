//! The unit's state from systemd's manager over the system D-Bus (zbus):
//! `org.freedesktop.systemd1.Manager.LoadUnit` and the `ActiveState`/`SubState` properties.

use thiserror::Error;
use zbus::{Connection, OwnedObjectPath, OwnedVariant};

const DESTINATION: &str = "org.freedesktop.systemd1";
const MANAGER_PATH: &str = "/org/freedesktop/systemd1";
const MANAGER: &str = "org.freedesktop.systemd1.Manager";
const UNIT_INTERFACE: &str = "org.freedesktop.systemd1.Unit";
const PROPERTIES: &str = "org.freedesktop.DBus.Properties";

#[derive(Debug, Error)]
#[error("cannot ask systemd over D-Bus: {0}")]
pub struct UnitError(#[from] zbus::Error);

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnitState {
    /// `active`, `reloading`, `inactive`, `failed`, `activating`, `deactivating`.
    pub active: String,
    /// e.g. `running`, `dead`, `start`.
    pub sub: String,
    /// `loaded`, `not-found`, ...
    pub load: String,
}

impl UnitState {
    pub fn is_active(&self) -> bool {
        self.active == "active" || self.active == "reloading"
    }
    /// Containers going away now are the unit's own doing (ExecStop, ExecReload).
    pub fn is_stopping_or_reloading(&self) -> bool {
        matches!(self.active.as_str(), "deactivating" | "reloading")
    }
    pub fn in_transition(&self) -> bool {
        matches!(
            self.active.as_str(),
            "activating" | "deactivating" | "reloading" | "refreshing"
        )
    }
}

async fn property(
    conn: &Connection,
    path: &OwnedObjectPath,
    name: &str,
) -> Result<String, UnitError> {
    let reply = conn
        .call_method(
            Some(DESTINATION),
            path.as_str(),
            Some(PROPERTIES),
            "Get",
            &(UNIT_INTERFACE, name),
        )
        .await?;
    let value: OwnedVariant = reply.body().deserialize()?;
    Ok(String::try_from(value)?)
}

/// The state of `unit`, asked of the running systemd.
pub async fn state(unit: &str) -> Result<UnitState, UnitError> {
    let conn = Connection::system().await?;
    let reply = conn
        .call_method(
            Some(DESTINATION),
            MANAGER_PATH,
            Some(MANAGER),
            "LoadUnit",
            &(unit,),
        )
        .await?;
    let path: OwnedObjectPath = reply.body().deserialize()?;
    Ok(UnitState {
        active: property(&conn, &path, "ActiveState").await?,
        sub: property(&conn, &path, "SubState").await?,
        load: property(&conn, &path, "LoadState").await?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(active: &str) -> UnitState {
        UnitState {
            active: active.into(),
            sub: String::new(),
            load: "loaded".into(),
        }
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
    }
}

//! The paths of the configuration and data directories.

use std::path::{Path, PathBuf};

/// Remembers a non-default configuration directory for the unit and later runs.
pub const DEFAULT_FILE: &str = "/etc/default/mathesar";
/// Names of the markers the package keeps in the data directory (also listed as its own files by
/// `storage::dirs`).
pub const ADMIN_CREATED: &str = ".admin-created";
pub const USER_DB_CONNECTED: &str = ".user-db-connected";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    pub config_dir: PathBuf,
    pub data_dir: PathBuf,
}

impl Layout {
    pub fn new(config_dir: impl Into<PathBuf>, data_dir: impl Into<PathBuf>) -> Self {
        Layout {
            config_dir: config_dir.into(),
            data_dir: data_dir.into(),
        }
    }

    /// Answers and the container contract; 0600.
    pub fn env_file(&self) -> PathBuf {
        self.config_dir.join(".env")
    }
    pub fn compose_file(&self) -> PathBuf {
        self.config_dir.join("docker-compose.yml")
    }
    /// The administrator's own additions; never written by this package.
    pub fn override_file(&self) -> PathBuf {
        self.config_dir.join("docker-compose.override.yml")
    }
    /// The first admin's password until the admin exists (kept when it was generated); 0600.
    pub fn admin_password_file(&self) -> PathBuf {
        self.config_dir.join("initial-admin-password")
    }
    pub fn lock_file(&self) -> PathBuf {
        self.config_dir.join(".lock")
    }
    /// The journal of a set of files being replaced (`storage::commit`).
    pub fn journal_file(&self) -> PathBuf {
        self.config_dir.join(super::commit::JOURNAL)
    }

    /// Bind-mount sources all live under the data directory, so that only one tree holds what
    /// the containers see.
    pub fn caddyfile(&self) -> PathBuf {
        self.data_dir.join("caddy/Caddyfile")
    }
    /// Written once the first admin exists.
    pub fn admin_created_marker(&self) -> PathBuf {
        self.data_dir.join(ADMIN_CREATED)
    }
    /// A digest of the user database connected to Mathesar (`stack::user_db`).
    pub fn user_db_connected_marker(&self) -> PathBuf {
        self.data_dir.join(USER_DB_CONNECTED)
    }
    /// Directories created under the data directory, as (path, mode).
    pub fn data_subdirs(&self) -> Vec<PathBuf> {
        [
            "pgdata",
            "msar/static",
            "msar/media",
            "msar/secrets",
            "caddy/data",
            "caddy/config",
        ]
        .iter()
        .map(|d| self.data_dir.join(d))
        .collect()
    }
}

/// The configuration directory named in `/etc/default/mathesar`, if any.
pub fn remembered_config_dir(default_file: &Path) -> Option<PathBuf> {
    let text = std::fs::read_to_string(default_file).ok()?;
    crate::rendering::env_file::parse(&text)
        .ok()?
        .into_iter()
        .rfind(|(k, _)| k == "MATHESAR_CONFIG_DIR")
        .map(|(_, v)| PathBuf::from(v))
        .filter(|p| p.is_absolute())
}

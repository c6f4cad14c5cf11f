//! The paths of the configuration and data directories.

use std::path::{Path, PathBuf};

/// The configuration directory of the package (the old guided installer's too).
pub(crate) const DEFAULT_CONFIG_DIR: &str = "/etc/mathesar";
/// Remembers a non-default configuration directory for the unit and later runs.
pub(crate) const DEFAULT_FILE: &str = "/etc/default/mathesar";
/// Names of the markers the package keeps in the data directory (also listed as its own files by
/// `storage::dirs`).
pub(crate) const ADMIN_CREATED: &str = ".admin-created";
pub(crate) const USER_DB_CONNECTED: &str = ".user-db-connected";
/// The password hash of a 0.1.x admin taken over (`adoption`), set once the new admin exists.
pub(crate) const CARRIED_ADMIN_HASH: &str = ".admin-password-hash";
/// The last backup and the last restore drill, for `status` (`day2::record`).
pub(crate) const BACKUP_RECORD: &str = "backup-status.json";

/// Paths of a [`Layout`] that are those of one of its parts.
macro_rules! delegate {
    ($part:ident: $($name:ident),*) => {
        $(
            #[doc = concat!("See [`", stringify!($part), "`](Self::", stringify!($part), ").")]
            pub(crate) fn $name(&self) -> PathBuf {
                self.$part().$name()
            }
        )*
    };
}

/// The copy of `acme-ca-root` the proxy reads (in [`DataLayout::tls_dir`]).
pub(crate) const ACME_CA_ROOT: &str = "acme-ca-root.pem";
/// The copies of `tls-cert` and `tls-key` the proxy serves (the key root only).
pub(crate) const TLS_CERT: &str = "cert.pem";
pub(crate) const TLS_KEY: &str = "key.pem";
/// The copy of `db-ca-file` Mathesar's container reads, in [`DataLayout::pg_tls_dir`].
pub(crate) const DB_CA: &str = "db-ca.pem";
/// Every file `configure` may write into [`DataLayout::tls_dir`].
pub(crate) const TLS_FILES: &[&str] = &[ACME_CA_ROOT, TLS_CERT, TLS_KEY];

/// Both directories of a configuration: what the configuration names, once it is read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Layout {
    pub config_dir: PathBuf,
    pub data_dir: PathBuf,
}

/// The files of the configuration directory alone: what is known before the configuration (and
/// so the data directory) is read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ConfigLayout {
    pub dir: PathBuf,
}

/// The files of the data directory alone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct DataLayout {
    pub dir: PathBuf,
}

impl Layout {
    pub(crate) fn new(config_dir: impl Into<PathBuf>, data_dir: impl Into<PathBuf>) -> Self {
        Layout {
            config_dir: config_dir.into(),
            data_dir: data_dir.into(),
        }
    }

    pub(crate) fn config(&self) -> ConfigLayout {
        ConfigLayout::new(&self.config_dir)
    }
    pub(crate) fn data(&self) -> DataLayout {
        DataLayout::new(&self.data_dir)
    }

    delegate!(config: env_file, compose_file, admin_password_file, chosen_admin_password_file, lock_file, redo_file);
    delegate!(data: caddyfile, tls_dir, admin_created_marker, user_db_connected_marker, carried_admin_hash);
    pub(crate) fn data_subdirs(&self) -> Vec<PathBuf> {
        self.data().subdirs()
    }
}

impl ConfigLayout {
    pub(crate) fn new(dir: impl Into<PathBuf>) -> Self {
        ConfigLayout { dir: dir.into() }
    }

    /// Answers and the container contract; 0600.
    pub(crate) fn env_file(&self) -> PathBuf {
        self.dir.join(".env")
    }
    pub(crate) fn compose_file(&self) -> PathBuf {
        self.dir.join("docker-compose.yml")
    }
    /// The administrator's own additions; never written by this package.
    pub(crate) fn override_file(&self) -> PathBuf {
        self.dir.join("docker-compose.override.yml")
    }
    /// The first admin's password until the admin exists (kept when it was generated); 0600.
    /// A generated admin password, for the administrator to read; removed 24 hours after it
    /// was written once the admin exists (`stack::admin::forget_password`).
    pub(crate) fn admin_password_file(&self) -> PathBuf {
        self.dir.join("initial-admin-password")
    }
    /// An admin password the administrator chose, kept only until the admin is created (the
    /// first start) and then removed: never meant to be read back.
    pub(crate) fn chosen_admin_password_file(&self) -> PathBuf {
        self.dir.join(".admin-password")
    }
    pub(crate) fn lock_file(&self) -> PathBuf {
        self.dir.join(".lock")
    }
    /// The redo log of a set of files being replaced (`storage::commit`).
    pub(crate) fn redo_file(&self) -> PathBuf {
        self.dir.join(super::commit::REDO_LOG)
    }
    /// The restic repository's password (`backup-password`), read by restic through
    /// `RESTIC_PASSWORD_FILE`; 0600.
    pub(crate) fn backup_password_file(&self) -> PathBuf {
        self.dir.join("backup-password")
    }
    /// The REST server's password (`backup-rest-password`), put into the repository's URL in
    /// restic's environment at run time; 0600.
    pub(crate) fn backup_rest_password_file(&self) -> PathBuf {
        self.dir.join("backup-rest-password")
    }
    /// The SSH key of an SFTP repository (generated by `configure`, `.pub` beside it); 0600.
    pub(crate) fn backup_ssh_key(&self) -> PathBuf {
        self.dir.join("backup-ssh-key")
    }
    /// The SFTP server's host key, accepted at the first connection and checked afterwards.
    pub(crate) fn backup_known_hosts(&self) -> PathBuf {
        self.dir.join("backup-known-hosts")
    }
}

impl DataLayout {
    pub(crate) fn new(dir: impl Into<PathBuf>) -> Self {
        DataLayout { dir: dir.into() }
    }

    /// Bind-mount sources all live under the data directory, so that only one tree holds what
    /// the containers see.
    pub(crate) fn caddyfile(&self) -> PathBuf {
        self.dir.join("caddy/Caddyfile")
    }
    /// The certificates the answers name, copied for the proxy (`/etc/caddy/tls` inside); root
    /// only (a private key may be there).
    pub(crate) fn tls_dir(&self) -> PathBuf {
        self.dir.join("caddy/tls")
    }
    /// The CA of the PostgreSQL servers, copied for Mathesar's container (read-only inside):
    /// apart from the proxy's directory, which may hold its private key.
    pub(crate) fn pg_tls_dir(&self) -> PathBuf {
        self.dir.join("pg-tls")
    }
    /// The proxy's own data (`/data` inside): the ACME account, the certificates it obtained.
    pub(crate) fn caddy_data(&self) -> PathBuf {
        self.dir.join("caddy/data")
    }
    /// The bundled PostgreSQL's cluster (`/var/lib/postgresql/data` inside).
    pub(crate) fn pgdata(&self) -> PathBuf {
        self.dir.join("pgdata")
    }
    /// Written once the first admin exists.
    pub(crate) fn admin_created_marker(&self) -> PathBuf {
        self.dir.join(ADMIN_CREATED)
    }
    /// The 0.1.x admin's password hash waiting for the new admin (`stack::admin::carry_over_hash`).
    pub(crate) fn carried_admin_hash(&self) -> PathBuf {
        self.dir.join(CARRIED_ADMIN_HASH)
    }
    /// A digest of the user database connected to Mathesar (`stack::user_db`).
    pub(crate) fn user_db_connected_marker(&self) -> PathBuf {
        self.dir.join(USER_DB_CONNECTED)
    }
    /// The Mathesar SQL of the connected databases, upgraded after Mathesar (`stack::user_sql`).
    pub(crate) fn user_sql_record(&self) -> PathBuf {
        self.dir.join("user-sql.json")
    }
    /// The last backup and drill (`day2::record`); 0600.
    pub(crate) fn backup_record(&self) -> PathBuf {
        self.dir.join(BACKUP_RECORD)
    }
    /// Directories created under the data directory.
    pub(crate) fn subdirs(&self) -> Vec<PathBuf> {
        [
            "pgdata",
            "msar/static",
            "msar/media",
            "msar/secrets",
            "caddy/data",
            "caddy/config",
            "caddy/tls",
            "pg-tls",
        ]
        .iter()
        .map(|d| self.dir.join(d))
        .collect()
    }
}

/// The configuration directory named in `/etc/default/mathesar`, if any.
pub(crate) fn remembered_config_dir(default_file: &Path) -> Option<PathBuf> {
    let text = std::fs::read_to_string(default_file).ok()?;
    crate::storage::env_text::parse(&text)
        .ok()?
        .into_iter()
        .rfind(|(k, _)| k == "MATHESAR_CONFIG_DIR")
        .map(|(_, v)| PathBuf::from(v))
        .filter(|p| p.is_absolute())
}

//! The answers: one name each, used alike as debconf question `mathesar/NAME`, answers-file key
//! `NAME` and environment variable `MATHESAR_NAME`, and one rule each ([`validate::Rule`]), used
//! alike by `configure`, the debconf questions and the prompts.

use std::fmt;

use super::validate;

macro_rules! keys {
    ($($variant:ident => $name:literal, $secret:literal, $rule:ident, $help:literal;)*) => {
        /// One answer of the configuration.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Key { $($variant),* }

        impl Key {
    /// Whether `.env` stores the answer: the config directory is where the file is, the admin
    /// password lives in its own file only until the admin exists, and the backup repository's
    /// password and the REST server's in their own files (`backup-password`,
    /// `backup-rest-password`), which restic is given.
    pub fn is_stored(self) -> bool {
        !matches!(
            self,
            Key::ConfigDir | Key::AdminPassword | Key::BackupPassword | Key::BackupRestPassword
        )
    }

            /// Every answer, in the order they are asked and shown.
            pub const ALL: &'static [Key] = &[$(Key::$variant),*];

            /// The answer's name (`http-port`).
            pub fn name(self) -> &'static str {
                match self { $(Key::$variant => $name),* }
            }

            /// Whether the value is a secret: never printed, masked in every listing.
            pub fn is_secret(self) -> bool {
                match self { $(Key::$variant => $secret),* }
            }

            /// The answer's one rule: what empty means, how a value is checked and normalised.
            pub fn rule(self) -> validate::Rule {
                match self { $(Key::$variant => validate::$rule),* }
            }

            /// One line saying what the answer means.
            pub fn help(self) -> &'static str {
                match self { $(Key::$variant => $help),* }
            }
        }
    };
}

keys! {
    UserDb => "user-db", false, USER_DB, "`bundled` (a new database in the bundled PostgreSQL) or `existing`";
    UserDbName => "user-db-name", false, PG_NAME, "name of the user database";
    DbUser => "db-user", false, PG_NAME, "superuser of the bundled PostgreSQL (or of the external internal database)";
    DbPassword => "db-password", true, PASSWORD, "password of db-user";
    DbPort => "db-port", false, OPTIONAL_PORT, "host port publishing the bundled PostgreSQL; empty = not published";
    ExistingDbHost => "existing-db-host", false, DB_HOST, "host of an existing PostgreSQL server for the user database";
    ExistingDbPort => "existing-db-port", false, PORT, "port of the existing PostgreSQL server";
    ExistingDbUser => "existing-db-user", false, PG_NAME, "user on the existing PostgreSQL server";
    ExistingDbPassword => "existing-db-password", true, SERVER_PASSWORD, "password of existing-db-user";
    ExistingDbSslmode => "existing-db-sslmode", false, SSLMODE, "TLS to the existing server: `verify-full` (recommended, with db-ca-file), `verify-ca`, `require` (not verified), `prefer` (when offered) or `disable`";
    HttpPort => "http-port", false, PORT, "host port on which Caddy serves HTTP";
    HttpsPort => "https-port", false, PORT, "host port on which Caddy serves HTTPS";
    Domain => "domain", false, DOMAIN, "domain name served with automatic HTTPS; empty = plain HTTP on the address";
    AcmeCa => "acme-ca", false, ACME_URL, "ACME directory URL of the CA that issues the domain's certificate (an internal CA); empty = the public CA (Let's Encrypt)";
    AcmeCaRoot => "acme-ca-root", false, OPTIONAL_FILE, "PEM file of the root certificate the ACME CA's HTTPS is signed by; empty = the system's trusted roots";
    TlsCert => "tls-cert", false, OPTIONAL_FILE, "PEM file of your own certificate for the domain (its chain after it); empty = one from the ACME CA";
    TlsKey => "tls-key", false, OPTIONAL_FILE, "PEM file of the private key of tls-cert (copied root-only, never shown)";
    TrustedProxies => "trusted-proxies", false, PROXIES, "behind a proxy or load balancer that terminates TLS: its addresses or ranges (127.0.0.1 for one on this machine), whose X-Forwarded-* headers are trusted; the bundled proxy then serves plain HTTP only. Empty = none";
    HttpBind => "http-bind", false, OPTIONAL_BIND, "IP address http-port is published on (127.0.0.1: this machine only); empty = every address";
    ExternalAddress => "external-address", false, ADDRESS, "address shown and served when there is no domain";
    AdminUsername => "admin-username", false, USERNAME, "user name of the first Mathesar admin";
    AdminEmail => "admin-email", false, EMAIL, "e-mail address of the first Mathesar admin (may be empty)";
    AdminPassword => "admin-password", true, PASSWORD, "password of the first Mathesar admin";
    ConfigDir => "config-dir", false, DIRECTORY, "configuration directory";
    DataDir => "data-dir", false, DIRECTORY, "persistent data: databases, media, secrets, certificates";
    InternalDbHost => "internal-db-host", false, OPTIONAL_DB_HOST, "external PostgreSQL for Mathesar's own database; empty = bundled";
    InternalDbPort => "internal-db-port", false, PORT, "port of the external internal database";
    InternalDbName => "internal-db-name", false, PG_NAME, "name of Mathesar's own database";
    InternalDbSslmode => "internal-db-sslmode", false, SSLMODE, "TLS to the external internal database: `verify-full` (recommended, with db-ca-file), `verify-ca`, `require` (not verified), `prefer` (when offered) or `disable`";
    DbCaFile => "db-ca-file", false, OPTIONAL_FILE, "PEM file of the CA certificate(s) that signed the external PostgreSQL servers' certificates, for verify-ca and verify-full; empty = none";
    RefreshImages => "refresh-images", false, BOOLEAN, "pull rebuilt images of the pinned versions once a day (security rebuilds of the same tags) and recreate only the containers whose image changed (true/false); new versions come with package upgrades";
    Watchtower => "watchtower", false, BOOLEAN, "obsolete (older releases ran watchtower): read as refresh-images when that is not given";
    ImageRegistry => "image-registry", false, REGISTRY, "registry prefix for private registries or mirrors; empty = Docker Hub";
    PurgeData => "purge-data", false, BOOLEAN, "on purge, also delete the data directory (true/false)";
    Backup => "backup", false, BOOLEAN, "scheduled backups into backup-repository and weekly restore drills (true/false); false only when said so";
    BackupRepository => "backup-repository", false, BACKUP_REPOSITORY, "restic repository: a local directory (same disk as the data), sftp:USER@HOST:/PATH (key in /etc/mathesar/backup-ssh-key) or rest:https://[USER@]HOST[:PORT]/PATH (USER's password: backup-rest-password)";
    BackupSchedule => "backup-schedule", false, CALENDAR, "when the backup timer runs: a systemd calendar expression (daily, *-*-* 02:30, Mon..Fri 23:00)";
    BackupRetention => "backup-retention", false, RETENTION, "snapshots kept by restic forget --prune: PERIOD=N pairs (last, hourly, daily, weekly, monthly, yearly)";
    BackupPassword => "backup-password", true, BACKUP_PASSWORD, "the restic repository's password (kept in /etc/mathesar/backup-password; keep a copy elsewhere: without it no backup can be read); empty = keep, or generate for a new repository";
    BackupRestPassword => "backup-rest-password", true, SERVER_PASSWORD, "password of the REST server's user (the USER@ of a rest: backup-repository), kept in /etc/mathesar/backup-rest-password; empty = keep";
    Workers => "workers", false, WORKERS, "Mathesar's worker processes (gunicorn `WEB_CONCURRENCY`, 1 to 32); empty = sized from the host's cores and memory at configure time";
    Threads => "threads", false, THREADS, "threads per worker, each serving one request (1 to 16); empty = 4";
    RequestTimeout => "request-timeout", false, REQUEST_TIMEOUT, "seconds a worker may stay silent before gunicorn restarts it (`--timeout`, 30 to 3600); empty = 180";
}

impl Key {
    /// `MATHESAR_HTTP_PORT` for `http-port`.
    pub fn env_var(self) -> String {
        format!(
            "MATHESAR_{}",
            self.name().to_ascii_uppercase().replace('-', "_")
        )
    }

    /// `mathesar/http-port`.
    pub fn debconf_question(self) -> String {
        format!("mathesar/{}", self.name())
    }

    pub fn from_name(name: &str) -> Option<Key> {
        Key::ALL.iter().copied().find(|k| k.name() == name)
    }

    pub fn from_env_var(var: &str) -> Option<Key> {
        Key::ALL.iter().copied().find(|k| k.env_var() == var)
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_map_both_ways() {
        let mut names: Vec<_> = Key::ALL.iter().map(|k| k.name()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), Key::ALL.len());
        for &k in Key::ALL {
            assert_eq!(Key::from_name(k.name()), Some(k));
            assert_eq!(Key::from_env_var(&k.env_var()), Some(k));
        }
        assert_eq!(Key::HttpPort.env_var(), "MATHESAR_HTTP_PORT");
        assert_eq!(Key::DbPassword.debconf_question(), "mathesar/db-password");
    }
}

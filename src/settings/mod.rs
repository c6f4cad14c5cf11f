//! The one typed model of the configuration. Sources produce raw [`Answers`]; [`Settings::from_answers`]
//! checks every rule that needs nothing but the values, and everything later works on `Settings`.

pub(crate) mod answers;
pub(crate) mod backup;
pub(crate) mod keys;
mod reader;
pub(crate) mod sizing;
pub(crate) mod validate;

use std::path::PathBuf;

pub(crate) use answers::{Answers, Source};
pub use keys::Key;
use reader::Reader;
pub(crate) use reader::{InvalidAnswers, Problem};

use crate::secrets::Secret;

pub(crate) use crate::storage::layout::DEFAULT_CONFIG_DIR;
pub(crate) const DEFAULT_DATA_DIR: &str = "/var/lib/mathesar";
/// The container name of the bundled database, as upstream's compose file and Caddyfile use it.
pub(crate) const BUNDLED_DB_HOST: &str = "mathesar_db";
/// How containers reach the Docker host (compose maps it with `extra_hosts: host-gateway`).
pub(crate) const DOCKER_HOST_GATEWAY: &str = "host.docker.internal";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserDb {
    Bundled,
    Existing,
}

impl UserDb {
    pub fn as_str(self) -> &'static str {
        match self {
            UserDb::Bundled => "bundled",
            UserDb::Existing => "existing",
        }
    }
}

/// An existing PostgreSQL server holding the user database.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ExistingDb {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: Secret,
    pub sslmode: validate::SslMode,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Settings {
    pub user_db: UserDb,
    pub user_db_name: String,
    pub db_user: String,
    pub db_password: Secret,
    pub db_port: Option<u16>,
    /// Set exactly when `user_db` is `Existing`.
    pub existing_db: Option<ExistingDb>,
    pub http_port: u16,
    pub https_port: u16,
    pub domain: Option<String>,
    /// The ACME CA's directory URL; `None`: Caddy's default, the public CA.
    pub acme_ca: Option<String>,
    /// The root certificate (PEM file on this host) the ACME CA's HTTPS is signed by.
    pub acme_ca_root: Option<PathBuf>,
    /// Your own certificate (PEM chain) and its key, files on this host; set together.
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// Behind a proxy that terminates TLS: the addresses whose forwarded headers are trusted
    /// (space-separated); the bundled proxy then serves plain HTTP only.
    pub trusted_proxies: Option<String>,
    /// The address `http-port` is published on; `None`: every address.
    pub http_bind: Option<String>,
    pub external_address: String,
    pub admin_username: String,
    pub admin_email: String,
    /// `None` once the admin exists and its password is no longer kept.
    pub admin_password: Option<Secret>,
    pub config_dir: PathBuf,
    pub data_dir: PathBuf,
    /// `None`: Mathesar's own database lives in the bundled PostgreSQL.
    pub internal_db_host: Option<String>,
    pub internal_db_port: u16,
    pub internal_db_name: String,
    /// TLS to `internal_db_host` (unused with the bundled database).
    pub internal_db_sslmode: validate::SslMode,
    /// The CA certificate(s) (PEM file on this host) the servers with a `verify-*` sslmode are
    /// checked against; copied under the data directory for Mathesar.
    pub db_ca_file: Option<PathBuf>,
    /// Pull rebuilt images of the pinned tags once a day (`mathesar-refresh.timer`).
    pub refresh_images: bool,
    pub image_registry: Option<String>,
    pub purge_data: bool,
    /// Gunicorn's workers, threads per worker and `--timeout`; `None`: sized from the host at
    /// configure time ([`sizing`]).
    pub workers: Option<u32>,
    pub threads: Option<u32>,
    pub request_timeout: Option<u32>,
    /// Backups into a restic repository, and their schedule (`backup*` answers).
    pub backup: backup::BackupSettings,
    /// The restic repository's password (`backup-password`), kept in its own file; `None` only
    /// before `configure` generated one (a configuration of an older package).
    pub backup_password: Option<Secret>,
    /// The REST server's password (`backup-rest-password`), kept in its own file: `Some` exactly
    /// when the repository is a REST server's with a user in its URL.
    pub backup_rest_password: Option<Secret>,
}

impl Settings {
    /// Parses and checks every answer; the answers must already include defaults.
    pub(crate) fn from_answers(answers: &Answers) -> Result<Settings, InvalidAnswers> {
        use Key::*;
        let mut r = Reader {
            answers,
            errors: Vec::new(),
        };

        use validate::Value;
        let user_db = r.get(UserDb).map(Value::into_user_db);
        let user_db_name = r.get(UserDbName).map(Value::into_text);
        let db_user = r.get(DbUser).map(Value::into_text);
        let db_password = r.required_secret(DbPassword);
        let db_port = r.get(DbPort).map(Value::into_port);
        let http_port = r.get(HttpPort).map(Value::into_port);
        let https_port = r.get(HttpsPort).map(Value::into_port);
        let domain = r.get(Domain).map(Value::into_text);
        let acme_ca = r.get(AcmeCa).map(Value::into_text);
        let acme_ca_root = r.get(AcmeCaRoot).map(Value::into_path);
        let tls_cert = r.get(TlsCert).map(Value::into_path);
        let tls_key = r.get(TlsKey).map(Value::into_path);
        let trusted_proxies = r.get(TrustedProxies).map(Value::into_text);
        let http_bind = r.get(HttpBind).map(Value::into_text);
        let external_address = r.get(ExternalAddress).map(Value::into_text);
        let admin_username = r.get(AdminUsername).map(Value::into_text);
        let admin_email = r.get(AdminEmail).map(Value::into_text).unwrap_or_default();
        let admin_password = r.get(AdminPassword).map(Value::into_secret);
        let config_dir = r.get(ConfigDir).map(Value::into_path);
        let data_dir = r.get(DataDir).map(Value::into_path);
        let internal_db_host = r.get(InternalDbHost).map(Value::into_text);
        let internal_db_port = r.get(InternalDbPort).map(Value::into_port);
        let internal_db_name = r.get(InternalDbName).map(Value::into_text);
        let internal_db_sslmode = r
            .get(InternalDbSslmode)
            .map(Value::into_sslmode)
            .unwrap_or_default();
        let db_ca_file = r.get(DbCaFile).map(Value::into_path);
        // `watchtower` (older releases: a container that replaced images behind the pins) is
        // read as refresh-images where that was not given, the nearest to what it asked for.
        // Both are checked: a mistyped old answer is refused like any other.
        let watchtower = r.get(Watchtower).map(Value::into_flag);
        let refresh = r.get(RefreshImages).map(Value::into_flag);
        let refresh_images = match r.source_of(RefreshImages) {
            None | Some(Source::Default) => watchtower.or(refresh),
            _ => refresh,
        }
        .unwrap_or(false);
        let image_registry = r.get(ImageRegistry).map(Value::into_text);
        let purge_data = r.get(PurgeData).is_some_and(Value::into_flag);
        let workers = r.get(Workers).map(Value::into_number);
        let threads = r.get(Threads).map(Value::into_number);
        let request_timeout = r.get(RequestTimeout).map(Value::into_number);
        // An unset `backup` (an older configuration) is on: off only when said so.
        let backup_enabled = r.get(Backup).is_none_or(Value::into_flag);
        let backup_repository = r
            .get(BackupRepository)
            .map(Value::into_text)
            .and_then(|t| backup::repository(&t).ok());
        let backup_schedule = r.get(BackupSchedule).map(Value::into_text);
        let backup_retention = r
            .get(BackupRetention)
            .map(Value::into_text)
            .and_then(|t| backup::retention(&t).ok());
        let backup_password = r.get(BackupPassword).map(Value::into_secret);
        // Needed, and kept, only for a REST server that wants a user.
        let backup_rest_password = match backup_repository.as_ref().and_then(|b| b.rest_user()) {
            Some(_) => r.required_secret(BackupRestPassword),
            None => None,
        };

        let existing_db = if user_db == Some(self::UserDb::Existing) {
            let host = r.get(ExistingDbHost).map(Value::into_text);
            let port = r.get(ExistingDbPort).map(Value::into_port);
            let user = r.get(ExistingDbUser).map(Value::into_text);
            let password = r.required_secret(ExistingDbPassword);
            let sslmode = r
                .get(ExistingDbSslmode)
                .map(Value::into_sslmode)
                .unwrap_or_default();
            match (host, port, user, password) {
                (Some(host), Some(port), Some(user), Some(password)) => Some(ExistingDb {
                    host,
                    port,
                    user,
                    password,
                    sslmode,
                }),
                _ => None,
            }
        } else {
            None
        };

        // Rules across answers.
        if let (Some(h), Some(s)) = (http_port, https_port) {
            let mut published = vec![(HttpPort, h)];
            if domain.is_some() && trusted_proxies.is_none() {
                published.push((HttpsPort, s));
            }
            if let Some(d) = db_port {
                if internal_db_host.is_none() {
                    published.push((DbPort, d));
                }
            }
            for (i, &(ka, pa)) in published.iter().enumerate() {
                for &(kb, pb) in &published[i + 1..] {
                    if pa == pb {
                        r.invalid(kb, format!("port {pb} is already used by `{ka}`; each published port must differ"));
                    }
                }
            }
            // debconf asks it only with a domain: the value it holds from a dpkg-reconfigure that
            // had one is kept, unused, when the domain is emptied.
            let explicit = !matches!(
                r.source_of(HttpsPort),
                None | Some(Source::Default) | Some(Source::Current(_)) | Some(Source::Debconf)
            );
            if domain.is_none() && s != 443 && explicit {
                r.invalid(
                    HttpsPort,
                    format!("HTTPS is served only with a domain (its certificate needs one), so port {s} would not be used. Set `domain`, or leave `https-port` out"),
                );
            }
        }

        // Answers given now for a certificate that is not requested are refused; kept ones (a
        // reconfiguration that removed the domain) stay, unused, for the next domain.
        let explicit = |r: &Reader, k: Key| {
            !matches!(
                r.source_of(k),
                None | Some(Source::Default) | Some(Source::Current(_))
            )
        };
        // debconf asks these only with a domain: a value it still holds from an earlier
        // dpkg-reconfigure (the question seen then, not asked now) is kept, not given now.
        let given_now = |r: &Reader, k: Key| {
            !matches!(
                r.source_of(k),
                None | Some(Source::Default) | Some(Source::Current(_)) | Some(Source::Debconf)
            )
        };
        if domain.is_none() && acme_ca.is_some() && given_now(&r, AcmeCa) {
            r.invalid(
                AcmeCa,
                "a certificate is requested only for a domain. Set `domain`, or leave `acme-ca` empty".into(),
            );
        }
        match (&tls_cert, &tls_key) {
            // Stored alone (a hand-edited .env): unused, the domain's certificate comes over ACME.
            (Some(_), None) if domain.is_some() && explicit(&r, TlsCert) => r.invalid(
                TlsCert,
                "its key is missing: set `tls-key` to the private key's file too".into(),
            ),
            (None, Some(_)) if domain.is_some() && explicit(&r, TlsKey) => r.invalid(
                TlsKey,
                "its certificate is missing: set `tls-cert` to the certificate's file too".into(),
            ),
            (Some(_), Some(_)) if domain.is_none() && given_now(&r, TlsCert) => r.invalid(
                TlsCert,
                "a certificate is served only for a domain. Set `domain` (a name the certificate covers), or leave `tls-cert` and `tls-key` empty".into(),
            ),
            _ => {}
        }
        if acme_ca_root.is_some() && acme_ca.is_none() && given_now(&r, AcmeCaRoot) {
            r.invalid(
                AcmeCaRoot,
                "it is the root certificate of the CA named by `acme-ca`, which is empty. Set `acme-ca` too, or leave `acme-ca-root` empty".into(),
            );
        }

        // TLS to the external servers: a verifying mode needs the CA; the host name a container
        // connects to must be the one the certificate names.
        let mut verifying = false;
        for (key, mode, host) in [
            (
                ExistingDbSslmode,
                existing_db.as_ref().map(|e| e.sslmode),
                existing_db.as_ref().map(|e| e.host.as_str()),
            ),
            (
                InternalDbSslmode,
                internal_db_host.as_ref().map(|_| internal_db_sslmode),
                internal_db_host.as_deref(),
            ),
        ] {
            let (Some(mode), Some(host)) = (mode, host) else {
                continue;
            };
            verifying |= mode.verifies();
            if mode.verifies() && db_ca_file.is_none() {
                r.invalid(
                    key,
                    format!("{} checks the server's certificate against a CA: set `db-ca-file` to the CA's PEM file (or use require, which does not verify the server)", mode.as_str()),
                );
            }
            if mode == validate::SslMode::VerifyFull && validate::is_loopback_host(host) {
                r.invalid(
                    key,
                    format!("verify-full checks the host name, and the containers reach {host} as {DOCKER_HOST_GATEWAY}, which its certificate does not name: use verify-ca, or the server's name"),
                );
            }
        }
        if db_ca_file.is_some() && !verifying && given_now(&r, DbCaFile) {
            r.invalid(
                DbCaFile,
                "it is used only with verify-ca or verify-full: set `existing-db-sslmode` or `internal-db-sslmode` to one of them, or leave `db-ca-file` empty".into(),
            );
        }

        if !r.errors.is_empty() {
            return Err(InvalidAnswers(r.errors));
        }
        // Every `None` above recorded an error, so these cannot fail.
        let (
            Some(user_db),
            Some(user_db_name),
            Some(db_user),
            Some(db_password),
            Some(http_port),
            Some(https_port),
            Some(external_address),
            Some(admin_username),
            Some(config_dir),
            Some(data_dir),
            Some(internal_db_port),
            Some(internal_db_name),
            Some(backup_repository),
            Some(backup_schedule),
            Some(backup_retention),
        ) = (
            user_db,
            user_db_name,
            db_user,
            db_password,
            http_port,
            https_port,
            external_address,
            admin_username,
            config_dir,
            data_dir,
            internal_db_port,
            internal_db_name,
            backup_repository,
            backup_schedule,
            backup_retention,
        )
        else {
            unreachable!("a missing answer was not reported")
        };
        Ok(Settings {
            user_db,
            user_db_name,
            db_user,
            db_password,
            db_port,
            existing_db,
            http_port,
            https_port,
            domain,
            acme_ca,
            acme_ca_root,
            tls_cert,
            tls_key,
            trusted_proxies,
            http_bind,
            external_address,
            admin_username,
            admin_email,
            admin_password,
            config_dir,
            data_dir,
            internal_db_host,
            internal_db_port,
            internal_db_name,
            internal_db_sslmode,
            db_ca_file,
            refresh_images,
            image_registry,
            purge_data,
            workers,
            threads,
            request_timeout,
            backup: backup::BackupSettings {
                enabled: backup_enabled,
                repository: backup_repository,
                schedule: backup_schedule,
                retention: backup_retention,
            },
            backup_password,
            backup_rest_password,
        })
    }

    /// The settings as answers again: what is stored, shown and compared. Secrets are included;
    /// callers mask them with [`Key::is_secret`].
    pub(crate) fn to_answers(&self, source: Source) -> Answers {
        use Key::*;
        let mut a = Answers::new();
        let mut set = |k: Key, v: String| a.set(k, v, source.clone());
        set(UserDb, self.user_db.as_str().into());
        set(UserDbName, self.user_db_name.clone());
        set(DbUser, self.db_user.clone());
        set(DbPassword, self.db_password.expose().into());
        set(
            DbPort,
            self.db_port.map(|p| p.to_string()).unwrap_or_default(),
        );
        if let Some(e) = &self.existing_db {
            set(ExistingDbHost, e.host.clone());
            set(ExistingDbPort, e.port.to_string());
            set(ExistingDbUser, e.user.clone());
            set(ExistingDbPassword, e.password.expose().into());
            set(ExistingDbSslmode, e.sslmode.as_str().into());
        }
        set(HttpPort, self.http_port.to_string());
        set(HttpsPort, self.https_port.to_string());
        set(Domain, self.domain.clone().unwrap_or_default());
        set(AcmeCa, self.acme_ca.clone().unwrap_or_default());
        let path = |p: &Option<PathBuf>| p.as_ref().map(|p| p.display().to_string());
        set(AcmeCaRoot, path(&self.acme_ca_root).unwrap_or_default());
        set(TlsCert, path(&self.tls_cert).unwrap_or_default());
        set(TlsKey, path(&self.tls_key).unwrap_or_default());
        set(
            TrustedProxies,
            self.trusted_proxies.clone().unwrap_or_default(),
        );
        set(HttpBind, self.http_bind.clone().unwrap_or_default());
        set(ExternalAddress, self.external_address.clone());
        set(AdminUsername, self.admin_username.clone());
        set(AdminEmail, self.admin_email.clone());
        if let Some(p) = &self.admin_password {
            set(AdminPassword, p.expose().into());
        }
        set(ConfigDir, self.config_dir.display().to_string());
        set(DataDir, self.data_dir.display().to_string());
        set(
            InternalDbHost,
            self.internal_db_host.clone().unwrap_or_default(),
        );
        set(InternalDbPort, self.internal_db_port.to_string());
        set(InternalDbName, self.internal_db_name.clone());
        set(InternalDbSslmode, self.internal_db_sslmode.as_str().into());
        set(DbCaFile, path(&self.db_ca_file).unwrap_or_default());
        set(RefreshImages, self.refresh_images.to_string());
        set(
            ImageRegistry,
            self.image_registry.clone().unwrap_or_default(),
        );
        set(PurgeData, self.purge_data.to_string());
        let number = |n: Option<u32>| n.map(|n| n.to_string()).unwrap_or_default();
        set(Workers, number(self.workers));
        set(Threads, number(self.threads));
        set(RequestTimeout, number(self.request_timeout));
        set(Backup, self.backup.enabled.to_string());
        set(BackupRepository, self.backup.repository.restic_url());
        set(BackupSchedule, self.backup.schedule.clone());
        set(BackupRetention, self.backup.retention.to_string());
        if let Some(p) = &self.backup_password {
            set(BackupPassword, p.expose().into());
        }
        if let Some(p) = &self.backup_rest_password {
            set(BackupRestPassword, p.expose().into());
        }
        a
    }

    /// The address users log in at.
    pub(crate) fn login_url(&self) -> String {
        match &self.domain {
            // Behind a proxy that terminates TLS: its address, on the standard port.
            Some(d) if self.https_port == 443 || self.behind_proxy() => format!("https://{d}/"),
            Some(d) => format!("https://{d}:{}/", self.https_port),
            None => {
                let host = if self.external_address.contains(':') {
                    format!("[{}]", self.external_address)
                } else {
                    self.external_address.clone()
                };
                if self.http_port == 80 {
                    format!("http://{host}/")
                } else {
                    format!("http://{host}:{}/", self.http_port)
                }
            }
        }
    }

    /// Host name under which containers reach Mathesar's own database.
    pub(crate) fn internal_db_container_host(&self) -> String {
        match &self.internal_db_host {
            None => BUNDLED_DB_HOST.into(),
            Some(h) if validate::is_loopback_host(h) => DOCKER_HOST_GATEWAY.into(),
            Some(h) => h.clone(),
        }
    }

    /// Port under which containers reach Mathesar's own database.
    pub(crate) fn internal_db_container_port(&self) -> u16 {
        if self.internal_db_host.is_some() {
            self.internal_db_port
        } else {
            5432
        }
    }

    /// Whether the proxy asks an ACME CA for the domain's certificate (and which one: `acme_ca`):
    /// with a domain and no certificate of your own.
    pub(crate) fn acme(&self) -> bool {
        self.serves_https() && self.own_cert().is_none()
    }

    /// Whether the bundled proxy serves HTTPS itself: with a domain, unless a proxy in front
    /// terminates TLS (`trusted-proxies`).
    pub(crate) fn serves_https(&self) -> bool {
        self.domain.is_some() && !self.behind_proxy()
    }

    /// Behind a proxy or load balancer that terminates TLS.
    pub(crate) fn behind_proxy(&self) -> bool {
        self.trusted_proxies.is_some()
    }

    /// Your own certificate and key, when the domain is served with them.
    pub(crate) fn own_cert(&self) -> Option<(&std::path::Path, &std::path::Path)> {
        match (&self.domain, &self.tls_cert, &self.tls_key) {
            (Some(_), Some(c), Some(k)) if !self.behind_proxy() => Some((c, k)),
            _ => None,
        }
    }

    /// The root certificate of the ACME CA, when one is used.
    pub(crate) fn acme_root(&self) -> Option<&std::path::Path> {
        self.acme_ca
            .as_ref()
            .and(self.acme_ca_root.as_deref())
            .filter(|_| self.acme())
    }

    pub(crate) fn bundled_db(&self) -> bool {
        self.internal_db_host.is_none()
    }

    /// The sslmode of Mathesar's own database: `prefer` for the bundled one (which offers no TLS).
    pub(crate) fn internal_sslmode(&self) -> validate::SslMode {
        match self.internal_db_host {
            Some(_) => self.internal_db_sslmode,
            None => validate::SslMode::Prefer,
        }
    }

    /// The CA file, when a server in use is verified against it.
    pub(crate) fn db_ca(&self) -> Option<&std::path::Path> {
        let verifies = self.internal_sslmode().verifies()
            || self
                .existing_db
                .as_ref()
                .is_some_and(|e| e.sslmode.verifies());
        self.db_ca_file.as_deref().filter(|_| verifies)
    }
}

/// Settings as configure builds them, with `extra` answers on top: the one fixture unit tests share.
#[cfg(test)]
pub(crate) fn for_tests(extra: &[(Key, &str)]) -> Settings {
    let mut a = crate::sources::defaults::answers(std::path::Path::new(DEFAULT_CONFIG_DIR));
    a.set(Key::ExternalAddress, "192.0.2.10", Source::Detected);
    a.set(Key::DbPassword, "db-Secret-Pw-0001", Source::Generated);
    for (k, v) in extra {
        a.set(*k, *v, Source::Environment(k.env_var()));
    }
    Settings::from_answers(&a).unwrap()
}

#[cfg(test)]
mod tests;

//! The lifecycle of the stack, one code path for the unit and for people: bring it up (or apply a
//! changed configuration) in order with health waits, and stop it. Data is never removed here.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use thiserror::Error;

use crate::exit::Code;
use crate::settings::UserDb;

use super::admin::{self, AdminError};
use super::app_setup;
use super::app_version;
use super::compose::{Compose, ComposeError};
use super::config::{self, ConfigError, Current};
use super::database::{self, DatabaseError};
use super::drain;
use super::engine::{Engine, EngineError, env_value, service_of};
use super::health::{self, Until, WaitError};
use super::journal;
use super::services::{self, APP, DB, PROXY};
use super::start_lock::{self, StartLockError};
use super::user_db;
use super::user_sql;

/// The longest a `down` may take, in seconds: the stop grace periods of the compose file
/// (`packaging/docker-compose.yml.j2`), which `docker compose stop` (run without `--timeout`,
/// which would override them all) spends one service after the other (proxy, application,
/// database). The unit's `TimeoutStopSec=` must be longer (a test checks both files against
/// this).
#[cfg(test)]
pub(crate) const STOP_SECS_AT_MOST: u32 = 10 + 40 + 120;

#[derive(Debug, Error)]
pub(crate) enum StackError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Compose(#[from] ComposeError),
    #[error(transparent)]
    Wait(#[from] WaitError),
    #[error("{0}")]
    Database(#[from] DatabaseError),
    #[error(transparent)]
    Admin(#[from] AdminError),
    #[error("preflight failed ({0}); nothing was started")]
    Preflight(String),
    #[error(transparent)]
    Pull(#[from] super::pull::PullError),
    #[error("{0}")]
    Downgrade(String),
    #[error("{0}: {1}")]
    Record(String, crate::storage::atomic::WriteError),
    #[error(transparent)]
    StartLock(#[from] StartLockError),
    /// A certificate file the answers name is no longer usable (`reload`).
    #[error("{0}; the proxy keeps serving the certificate it has")]
    Certificate(crate::tls::TlsError),
    #[error("the certificates cannot be copied for the proxy: {0}")]
    CertificateCopy(String),
    #[error("the proxy did not take the new certificate: {0}")]
    ProxyReload(String),
    #[error(transparent)]
    DbUpgrade(#[from] super::db_upgrade::UpgradeError),
}

impl StackError {
    /// The exit code this failure ends a command with.
    pub(crate) fn code(&self) -> Code {
        match self {
            StackError::Config(e) => e.code(),
            StackError::Engine(_) | StackError::Compose(_) | StackError::Database(_) => {
                Code::Docker
            }
            StackError::Wait(WaitError::Unhealthy(_)) => Code::Unhealthy,
            StackError::Wait(WaitError::Engine(_)) => Code::Docker,
            StackError::Admin(AdminError::Marker(_)) => Code::Io,
            StackError::Admin(_) => Code::Docker,
            StackError::Preflight(_) | StackError::Downgrade(_) => Code::Preflight,
            StackError::Record(..) => Code::Io,
            StackError::Pull(_) => Code::Pull,
            StackError::StartLock(StartLockError::Older { .. }) => Code::Preflight,
            StackError::StartLock(_) => Code::StartLock,
            StackError::Certificate(_) => Code::InvalidAnswer,
            StackError::CertificateCopy(_) => Code::Io,
            StackError::ProxyReload(_) => Code::Docker,
            StackError::DbUpgrade(super::db_upgrade::UpgradeError::Io { .. }) => Code::Io,
            StackError::DbUpgrade(_) => Code::DbUpgrade,
        }
    }
}

/// How `up` and `reload` run.
#[derive(Clone, Debug, Default)]
pub(crate) struct Options {
    /// Overrides each service's own health timeout.
    pub timeout: Option<Duration>,
    /// A certificate file the answers name that is no longer usable fails the run (`reload`);
    /// otherwise it is a warning and the copy checked before is served.
    pub strict_certificates: bool,
}

/// What a successful `up` or `reload` did.
#[derive(Clone, Debug, Default)]
pub(crate) struct Applied {
    pub login_url: String,
    /// Services whose container was created or recreated.
    pub recreated: Vec<String>,
    pub user_db_created: bool,
    pub password_changed: bool,
    pub admin: Option<admin::Outcome>,
    pub user_db: Option<user_db::Outcome>,
}

/// The configuration, the engine and Compose: what every lifecycle command needs.
pub(crate) struct Stack {
    pub current: Current,
    pub engine: Engine,
    pub compose: Compose,
}

impl Stack {
    pub(crate) async fn open(config_dir: &Path) -> Result<Stack, StackError> {
        // Compose reads the files on disk itself: a committed change must be complete first.
        crate::sources::current::complete_pending(&crate::storage::ConfigLayout::new(config_dir))
            .map_err(config::ConfigError::from)?;
        let current = config::load(config_dir)?;
        let engine = Engine::connect().await?;
        let compose = Compose::new(&current.layout);
        Ok(Stack {
            current,
            engine,
            compose,
        })
    }

    /// Container id per compose service.
    async fn container_ids(&self) -> Result<BTreeMap<String, String>, StackError> {
        Ok(self
            .engine
            .project_containers()
            .await?
            .iter()
            .filter_map(|c| Some((service_of(c)?.to_string(), c.id.clone()?)))
            .collect())
    }

    /// Whether any container of the project runs.
    pub(crate) async fn any_running(&self) -> Result<bool, StackError> {
        Ok(self.engine.project_containers().await?.iter().any(|c| {
            c.state
                .is_some_and(|s| s == bollard::models::ContainerSummaryStateEnum::RUNNING)
        }))
    }

    /// Brings the stack up in order, or applies a changed configuration to it: only services
    /// whose configuration changed are recreated (Compose compares configuration hashes).
    pub(crate) async fn apply(&self, opts: &Options) -> Result<Applied, StackError> {
        let upgrading = self.prepare_bundled_db_upgrade().await?;
        self.apply_prepared(opts, upgrading).await
    }

    /// An older cluster is upgraded by the database image at its start: a failed earlier upgrade
    /// undone and the room it needs checked first (`up` does it before the preflight, whose
    /// general disk check would not say what the upgrade needs).
    pub(crate) async fn prepare_bundled_db_upgrade(
        &self,
    ) -> Result<Option<super::db_upgrade::start::Upgrading>, StackError> {
        let s = &self.current.settings;
        if !s.bundled_db() {
            return Ok(None);
        }
        let image = crate::rendering::images::Image::Db.pinned(s.image_registry.as_deref());
        self.prepare_db_upgrade(Some(&image)).await
    }

    /// [`Stack::apply`] once the database upgrade is prepared.
    pub(crate) async fn apply_prepared(
        &self,
        opts: &Options,
        upgrading: Option<super::db_upgrade::start::Upgrading>,
    ) -> Result<Applied, StackError> {
        let s = &self.current.settings;
        // Mathesar migrates its database when it starts: never an older version over a newer one.
        let app_version = crate::rendering::images::Image::Service.pinned(None);
        let app_version = crate::version::of_image(&app_version).unwrap_or_default();
        let config_dir = &self.current.layout.config_dir;
        app_version::check(config_dir, app_version).map_err(StackError::Downgrade)?;
        let previous_release = app_version::recorded(config_dir);
        let before = self.container_ids().await?;
        let certificates_changed = match self.refresh_certificates() {
            Ok(changed) => changed,
            Err(e) if !opts.strict_certificates => {
                journal::warn(e.to_string());
                false
            }
            Err(e) => return Err(e),
        };
        let images = self.pull_missing().await?;
        let mut applied = Applied {
            login_url: s.login_url(),
            ..Default::default()
        };
        applied.password_changed = self.sync_db_password(opts).await?;

        // Hosts sharing Mathesar's database start the application one at a time (its migrations
        // run when it starts): held until the admin and the user database are done too.
        let lock = match start_lock::target(s) {
            Some(t) => {
                let wait =
                    start_lock::wait_from(std::env::var(start_lock::WAIT_VAR).ok().as_deref());
                let held = start_lock::acquire(&t, wait).await?;
                let release = images
                    .get(APP.name)
                    .and_then(|i| crate::version::of_image(i))
                    .unwrap_or_default();
                if let Err(e) = held.claim_release(release).await {
                    held.release().await;
                    return Err(e.into());
                }
                Some(held)
            }
            None => None,
        };

        let enabled = services::enabled(s);
        // The database and the application first; then, while the proxy starts and waits for
        // its health check, the admin and the user database in one Django
        // process: neither needs the proxy, whose health wait is idle time.
        let split = enabled
            .iter()
            .position(|svc| *svc == APP)
            .map_or(enabled.len(), |i| i + 1);
        let (first, rest) = enabled.split_at(split);
        let password_changed = applied.password_changed;
        let start = |service| {
            self.start_service(
                service,
                opts,
                &before,
                password_changed,
                app_version,
                upgrading.as_ref(),
            )
        };
        for service in first {
            applied.user_db_created |= start(service).await?;
        }
        let rest_started = async {
            for service in rest {
                start(service).await?;
            }
            self.stop_disabled_services().await
        };
        let (started, setup) = tokio::join!(
            rest_started,
            app_setup::run(&self.engine, s, &self.current.layout)
        );
        let setup = match (started, setup) {
            (Ok(()), setup) => setup?,
            // The start failed on a service: that is its error; the admin's is said as well.
            (Err(e), setup) => {
                if let Err(admin) = setup {
                    journal::error(admin.to_string());
                }
                return Err(e);
            }
        };

        // Every service passed its health check as the start ran it; the watch that follows reads
        // the engine's view, which catches up at its next check (seconds): wait for it.
        for service in &enabled {
            let timeout = opts.timeout.unwrap_or(service.timeout);
            health::wait_until(&self.engine, service, timeout, Until::EngineAgrees).await?;
        }

        // Mathesar upgraded and serving: the connected databases' SQL next, still under the lock.
        user_sql::upgrade(
            &self.engine,
            &self.current.layout.data().user_sql_record(),
            previous_release.as_deref(),
            app_version,
        )
        .await;

        let after = self.container_ids().await?;
        // Copies changed now, or by a `configure` since the proxy started (replaced files given
        // to `dpkg-reconfigure`): the running proxy reads them again.
        if before.get(PROXY.name) == after.get(PROXY.name)
            && (certificates_changed || self.certificates_newer_than_proxy().await?)
        {
            self.reload_proxy().await?;
        }
        applied.recreated = after
            .iter()
            .filter(|(svc, id)| before.get(*svc) != Some(*id))
            .map(|(svc, _)| svc.clone())
            .collect();
        if admin::carry_over_hash(&self.engine, s, &self.current.layout).await? {
            journal::info(format!(
                "the admin `{}` keeps the password of the installation taken over",
                s.admin_username
            ));
        }
        applied.admin = Some(setup.admin);
        applied.user_db = setup.user_db.and_then(Result::ok);
        if let Some(lock) = lock {
            lock.release().await;
        }
        // Healthy again: back in the load balancer's rotation (a drain before a stop, or
        // `mathesarctl drain`, ends here). Failing to remove the marker fails nothing that ran.
        match drain::end(&self.current.layout.data()) {
            Ok(true) => journal::info("the drain ended: the health check answers 200 again"),
            Ok(false) => {}
            Err(e) => journal::warn(format!("{e}; the health check still answers 503")),
        }
        Ok(applied)
    }

    /// Starts one service (created, recreated or left as it is by Compose) and waits for its
    /// health; for the database, also its password and the bundled user database. Returns
    /// whether the user database was created.
    async fn start_service(
        &self,
        service: &services::Service,
        opts: &Options,
        before: &BTreeMap<String, String>,
        password_changed: bool,
        app_version: &str,
        upgrading: Option<&super::db_upgrade::start::Upgrading>,
    ) -> Result<bool, StackError> {
        let s = &self.current.settings;
        let config_dir = &self.current.layout.config_dir;
        journal::info(format!("starting {}", service.title));
        if *service == APP {
            let path = app_version::path(config_dir);
            app_version::record(config_dir, app_version)
                .map_err(|e| StackError::Record(path.display().to_string(), e))?;
        }
        self.compose
            .run(&["up", "--detach", "--no-deps", service.name])
            .await?;
        let mut timeout = opts.timeout.unwrap_or(service.timeout);
        if *service == PROXY {
            self.restart_proxy_on_new_caddyfile().await?;
        }
        let upgrade = upgrading.filter(|_| *service == DB);
        if upgrade.is_some() {
            timeout = timeout.max(super::db_upgrade::start::UPGRADE_WAIT);
        }
        // The next service starts as soon as this one's health check passes (run by the wait
        // itself, not only at the engine's interval); the engine's view is waited for at the end.
        if let Err(e) = health::wait_until(&self.engine, service, timeout, Until::CheckPasses).await
        {
            return Err(match upgrade {
                Some(up) => self.undo_failed_db_upgrade(up, e.into()).await,
                None => e.into(),
            });
        }
        if *service == DB && !password_changed {
            self.align_new_db_container(before).await;
        }
        if *service == DB
            && s.bundled_db()
            && database::ensure_internal_database(&self.engine, s).await?
        {
            journal::info(format!(
                "created Mathesar's own database {}",
                s.internal_db_name
            ));
        }
        let mut created = false;
        if *service == DB && s.user_db == UserDb::Bundled {
            created = database::ensure_user_database(&self.engine, s).await?;
            if created {
                journal::info(format!("created the user database {}", s.user_db_name));
            }
        }
        Ok(created)
    }

    /// Pulls the images of the enabled services that are not present, with progress; nothing is
    /// pulled when every image is there (offline installs).
    /// Returns the image of each service.
    async fn pull_missing(&self) -> Result<BTreeMap<String, String>, StackError> {
        let json = self.compose.output(&["config", "--format", "json"]).await?;
        let by_service = images_by_service(&json);
        let images: Vec<String> = by_service.values().cloned().collect();
        super::pull::pull_missing(&self.engine, &images, super::pull::Mode::detect()).await?;
        Ok(by_service)
    }

    /// When `.env` holds another database password than the running database container was
    /// started with, sets it inside the database first, so that the database, the application
    /// and `.env` never fall out of step. Returns whether it changed the password.
    async fn sync_db_password(&self, opts: &Options) -> Result<bool, StackError> {
        let s = &self.current.settings;
        if !s.bundled_db() {
            return Ok(false);
        }
        let Some(c) = self.engine.service_container(DB.name).await? else {
            return Ok(false);
        };
        let Some(current) = env_value(&c, "POSTGRES_PASSWORD").map(str::to_string) else {
            return Ok(false);
        };
        if current == s.db_password.expose() {
            return Ok(false);
        }
        if !health::of(Some(&c)).is_ok() {
            // Start the existing container as it is, to change the password inside it.
            journal::info("starting the database as it was, to change its password");
            self.compose.run(&["start", DB.name]).await?;
            health::wait(&self.engine, &DB, opts.timeout.unwrap_or(DB.timeout)).await?;
        }
        journal::info("the database password changed: applying it inside the database");
        database::set_password(&self.engine, &s.db_user, &current, s.db_password.expose()).await?;
        Ok(true)
    }

    /// A database container created by this run (first start, or the old one was removed) may
    /// have found data whose superuser password is not the one in `.env` (a reinstall that kept
    /// the data but not the configuration): the password is set to `.env`'s inside the database,
    /// over its local socket. Harmless when they already agree; a failure is only a warning.
    async fn align_new_db_container(&self, before: &BTreeMap<String, String>) {
        let s = &self.current.settings;
        let Ok(Some(c)) = self.engine.service_container(DB.name).await else {
            return;
        };
        if c.id.is_some() && before.get(DB.name) == c.id.as_ref() {
            return;
        }
        let pw = s.db_password.expose();
        if let Err(e) = database::set_password(&self.engine, &s.db_user, pw, pw).await {
            journal::warn(format!(
                "could not make sure the database password is the configured one: {e}"
            ));
        }
    }

    /// The certificate files the answers name (your own certificate and key, the ACME CA's root),
    /// read and checked again and copied for the proxy when they changed: replacing the files
    /// and `systemctl reload mathesar` serves the new ones. Returns whether a copy changed.
    fn refresh_certificates(&self) -> Result<bool, StackError> {
        let layout = &self.current.layout;
        let files = crate::tls::files(
            &self.current.settings,
            &layout.data(),
            std::time::SystemTime::now(),
        )
        .map_err(StackError::Certificate)?;
        let changed: Vec<crate::storage::commit::Change> = files
            .iter()
            .filter(|f| !crate::storage::atomic::holds(&f.path, &f.contents, f.mode))
            .map(|f| crate::storage::commit::Change {
                path: &f.path,
                contents: &f.contents,
                mode: f.mode,
            })
            .collect();
        if changed.is_empty() {
            return Ok(false);
        }
        let _lock = crate::storage::lock::acquire(
            &layout.lock_file(),
            crate::storage::lock::DEFAULT_WAIT,
            || journal::info("waiting for another mathesarctl run to finish"),
        )
        .map_err(|e| StackError::CertificateCopy(e.to_string()))?;
        crate::storage::commit::commit(&layout.redo_file(), &changed)
            .map_err(|e| StackError::CertificateCopy(e.to_string()))?;
        for c in &changed {
            journal::info(format!(
                "the certificate file {} changed: copied for the proxy",
                c.path.display()
            ));
        }
        Ok(true)
    }

    /// Whether a certificate copy in `caddy/tls` was written after the running proxy started.
    async fn certificates_newer_than_proxy(&self) -> Result<bool, StackError> {
        let dir = self.current.layout.tls_dir();
        let newest = crate::storage::layout::TLS_FILES
            .iter()
            .filter_map(|n| {
                std::fs::metadata(dir.join(n))
                    .and_then(|m| m.modified())
                    .ok()
            })
            .max();
        let Some(newest) = newest else {
            return Ok(false);
        };
        let Some(c) = self.engine.service_container(PROXY.name).await? else {
            return Ok(false);
        };
        let started = c
            .state
            .as_ref()
            .and_then(|s| s.started_at.as_deref())
            .and_then(crate::time::parse_rfc3339);
        Ok(started.is_some_and(|started| newest > started))
    }

    /// Makes the running proxy read its certificate files again (Caddy's own reload, forced:
    /// its configuration is unchanged), without restarting it.
    async fn reload_proxy(&self) -> Result<(), StackError> {
        let Some(c) = self.engine.service_container(PROXY.name).await? else {
            return Ok(());
        };
        if !health::of(Some(&c)).is_up() {
            return Ok(());
        }
        let name = crate::stack::engine::container_name(&c);
        let out = self
            .engine
            .exec(
                &name,
                &[
                    "caddy",
                    "reload",
                    "--config",
                    "/etc/caddy/Caddyfile",
                    "--adapter",
                    "caddyfile",
                    "--force",
                ],
                &[],
                Duration::from_secs(60),
            )
            .await?;
        if out.exit_code != 0 {
            let last = out.stderr.lines().rev().find(|l| !l.trim().is_empty());
            return Err(StackError::ProxyReload(format!(
                "`caddy reload` in {name} exited with {}: {}",
                out.exit_code,
                last.unwrap_or("no output")
            )));
        }
        journal::info("the proxy reloaded its certificate");
        Ok(())
    }

    /// The proxy reads its Caddyfile (a bind-mounted file) at start only: when the file changed
    /// after the running proxy started, the proxy is restarted (recreating it is not needed).
    async fn restart_proxy_on_new_caddyfile(&self) -> Result<(), StackError> {
        let Ok(modified) =
            std::fs::metadata(self.current.layout.caddyfile()).and_then(|m| m.modified())
        else {
            return Ok(());
        };
        let Some(c) = self.engine.service_container(PROXY.name).await? else {
            return Ok(());
        };
        if !health::of(Some(&c)).is_up() {
            return Ok(());
        }
        let started = c
            .state
            .as_ref()
            .and_then(|s| s.started_at.as_deref())
            .and_then(crate::time::parse_rfc3339);
        if started.is_some_and(|started| modified > started) {
            journal::info("the Caddyfile changed since the proxy started: restarting the proxy");
            self.compose.run(&["restart", PROXY.name]).await?;
        }
        Ok(())
    }

    /// Services turned off in the configuration (the bundled database, once Mathesar's own
    /// database is elsewhere) are stopped, not removed. The container of the retired watchtower
    /// (the answer `watchtower` of older releases, which created it) is removed: nothing runs it
    /// any more, and Compose would warn of an orphan at every start.
    async fn stop_disabled_services(&self) -> Result<(), StackError> {
        let retired = self
            .engine
            .remove_service_containers(services::RETIRED)
            .await?;
        if retired > 0 {
            journal::info(format!(
                "removed the container of {} (older releases ran it; automatic updates now come \
                 with package upgrades, and the answer refresh-images)",
                services::RETIRED
            ));
        }
        let enabled: Vec<&str> = services::enabled(&self.current.settings)
            .iter()
            .map(|s| s.name)
            .collect();
        self.engine
            .stop_running(
                |service| service.is_some_and(|s| !enabled.contains(&s)),
                None,
                |service| journal::info(format!("stopping {service}: it is turned off")),
            )
            .await?;
        Ok(())
    }

    /// Stops every container of the project; removes nothing.
    pub(crate) async fn down(&self) -> Result<(), StackError> {
        // No `--timeout`: each container gets its own stop grace period (PostgreSQL 120 s).
        self.compose.run(&["stop"]).await?;
        // Containers of services the compose file no longer runs (a profile turned off), with
        // the grace period they were created with.
        self.engine.stop_running(|_| true, None, |_| {}).await?;
        Ok(())
    }
}

/// `service -> image` from `docker compose config --format json`.
pub(crate) fn images_by_service(json: &str) -> BTreeMap<String, String> {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(json) else {
        return BTreeMap::new();
    };
    v.get("services")
        .and_then(|s| s.as_object())
        .map(|services| {
            services
                .iter()
                .filter_map(|(name, def)| {
                    Some((name.clone(), def.get("image")?.as_str()?.to_string()))
                })
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stack::engine::Unreachable;

    #[test]
    fn images_come_from_the_rendered_config() {
        let json = r#"{"name":"mathesar","services":{
            "db":{"image":"pgautoupgrade/pgautoupgrade:17-bookworm"},
            "service":{"image":"mathesar/mathesar:0.11.0","environment":{"POSTGRES_PASSWORD":"x"}},
            "odd":{"build":"."}}}"#;
        let m = images_by_service(json);
        assert_eq!(m.len(), 2);
        assert_eq!(m["service"], "mathesar/mathesar:0.11.0");
        assert!(images_by_service("not json").is_empty());
    }

    #[test]
    fn exit_codes_follow_the_failure() {
        let e = StackError::Preflight("ports".into());
        assert_eq!(e.code(), Code::Preflight);
        let e = StackError::Engine(EngineError::Unreachable(Unreachable::NoSocket(
            "/var/run/docker.sock".into(),
        )));
        assert_eq!(e.code(), Code::Docker);
        assert!(e.to_string().contains("Docker"));
    }

    /// The compose file's grace periods, spent one service after the other by `docker compose
    /// stop`, fit in `STOP_SECS_AT_MOST`, and the unit waits longer than that.
    #[test]
    fn the_unit_outwaits_the_sequential_stops() {
        let compose = crate::rendering::compose::render(&crate::settings::for_tests(&[])).unwrap();
        let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(&compose).unwrap();
        let grace = |service: &str| -> u32 {
            let v = doc["services"][service]["stop_grace_period"]
                .as_str()
                .unwrap_or_else(|| panic!("{service} has no stop_grace_period"));
            v.strip_suffix('s').unwrap().parse().unwrap()
        };
        assert_eq!(grace("db"), 120);
        assert!(grace("service") > crate::settings::sizing::GRACEFUL_TIMEOUT_SECS);
        // The proxy, then the application, then the database.
        let chain = grace("caddy-reverse-proxy") + grace("service") + grace("db");
        assert_eq!(chain, STOP_SECS_AT_MOST);
        let unit = include_str!("../../systemd/mathesar.service");
        let line = unit
            .lines()
            .find_map(|l| l.strip_prefix("TimeoutStopSec="))
            .unwrap();
        let unit_secs: u32 = match line.strip_suffix("min") {
            Some(m) => m.parse::<u32>().unwrap() * 60,
            None => line.trim_end_matches('s').parse().unwrap(),
        };
        // Compose's own start-up and the API calls take seconds, not minutes.
        assert!(unit_secs >= STOP_SECS_AT_MOST + 60, "{unit_secs} s");
    }
}

//! `mathesarctl restore BACKUP`: checks the backup (manifest, SHA-256 of every file, package
//! version), stops Mathesar but its database, restores the roles and each database (into a new
//! database renamed over the old one only once the restore succeeded), restores the configuration
//! files atomically, starts the stack again and waits until it is healthy. The data directory is
//! never deleted.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::rendering;
use crate::settings::BUNDLED_DB_HOST;
use crate::stack::app_version;
use crate::stack::database::{quote_ident, quote_literal};
use crate::stack::engine::Engine;
use crate::stack::services::DB;
use crate::stack::{Options, Stack, journal};
use crate::storage::{atomic, commit, dirs, lock, modes::PRIVATE_FILE};
use crate::systemd::UNIT;
use crate::systemd::unit::{self, Action};

use super::backup::{self, BackupError, CONFIG_SUBDIR, GLOBALS_FILE, io};
use super::manifest::{self, Manifest};
use crate::stack::exec;

/// Suffix of the database a dump is restored into before it replaces the old one.
const RESTORING_SUFFIX: &str = "__restoring";

#[derive(Clone, Debug, Default)]
pub(crate) struct RestoreOptions {
    /// Restore a backup made by a newer package version.
    pub force: bool,
    pub timeout: Option<Duration>,
    /// Leave Mathesar stopped (its database running): before installing an older package.
    pub no_start: bool,
}

/// The backup directory `given` names: a path, a directory name in `root`, or `latest`.
pub(crate) fn resolve(given: &str, root: &Path) -> Result<PathBuf, BackupError> {
    let p = if given == "latest" {
        backup::list(root).pop().ok_or_else(|| {
            BackupError::Refused(format!("there is no backup in {}", root.display()))
        })?
    } else if Path::new(given).is_dir() {
        PathBuf::from(given)
    } else if !given.contains('/') && root.join(given).is_dir() {
        root.join(given)
    } else {
        return Err(BackupError::Refused(format!(
            "no backup directory `{given}` (give its path, its name in {}, or `latest`)",
            root.display()
        )));
    };
    Ok(p)
}

/// Reads and checks the manifest of the backup in `dir`: the directory, its parents and its files
/// root's alone, every file the restore reads listed in the manifest, and each listed file as the
/// manifest's size and SHA-256 say.
pub(crate) fn check(dir: &Path, force: bool) -> Result<Manifest, BackupError> {
    dirs::check_trusted(&dirs::BACKUP, dir)?;
    let config = dir.join(CONFIG_SUBDIR);
    if config.exists() {
        dirs::check_trusted(&dirs::BACKUP, &config)?;
    }
    let path = dir.join(manifest::FILE);
    let text = fs::read_to_string(&path).map_err(io(&path))?;
    let m: Manifest = serde_json::from_str(&text).map_err(|e| {
        BackupError::Refused(format!("{} is not a backup manifest: {e}", path.display()))
    })?;
    if m.format != manifest::FORMAT {
        return Err(BackupError::Refused(format!(
            "{} has format {}, this version reads format {}",
            path.display(),
            m.format,
            manifest::FORMAT
        )));
    }
    let unlisted = unlisted(dir, &m);
    if !unlisted.is_empty() {
        return Err(BackupError::Refused(format!(
            "the backup in {} is refused: {} not listed with a checksum in its manifest (a backup made by mathesarctl lists every file); nothing was changed",
            dir.display(),
            unlisted.join(", ")
        )));
    }
    let bad = manifest::mismatches(dir, &m);
    if !bad.is_empty() {
        return Err(BackupError::Refused(format!(
            "the backup in {} is damaged: {} missing or not as the manifest says; nothing was changed",
            dir.display(),
            bad.join(", ")
        )));
    }
    newer_check(&m.package_version, env!("CARGO_PKG_VERSION"), force)?;
    Ok(m)
}

/// The files a restore reads (the dumps, the roles, the configuration files) that the manifest
/// does not list with a checksum, and configuration names that are not plain file names.
fn unlisted(dir: &Path, m: &Manifest) -> Vec<String> {
    let listed = |p: &str| m.files.iter().any(|f| f.path == p);
    let mut out = Vec::new();
    for d in &m.dumps {
        if !listed(&d.file) {
            out.push(d.file.clone());
        }
    }
    if dir.join(GLOBALS_FILE).exists() && !listed(GLOBALS_FILE) {
        out.push(GLOBALS_FILE.to_string());
    }
    for name in m.config_files.iter().filter(|n| backup::is_config_file(n)) {
        let plain = !name.is_empty() && !name.contains('/') && name != "." && name != "..";
        let path = format!("{CONFIG_SUBDIR}/{name}");
        if !plain || !listed(&path) {
            out.push(path);
        }
    }
    out
}

/// Refuses a backup from a newer package version unless forced.
pub(crate) fn newer_check(backup: &str, ours: &str, force: bool) -> Result<(), BackupError> {
    // A version that cannot be read is judged newer: restoring it needs --force.
    let newer = backup != ours
        && crate::version::compare(backup, ours).is_none_or(|o| o == std::cmp::Ordering::Greater);
    if newer && !force {
        return Err(BackupError::Refused(format!(
            "the backup was made by mathesar {backup}, newer than this {ours}: its databases may \
             not work with this version's images. Upgrade the package first, or use --force"
        )));
    }
    if newer {
        journal::warn(format!(
            "restoring a backup of mathesar {backup} with {ours} (--force)"
        ));
    }
    Ok(())
}

async fn sql(stack: &Stack, what: &str, db: &str, statement: &str) -> Result<(), BackupError> {
    let s = &stack.current.settings;
    let out = stack
        .engine
        .exec(
            BUNDLED_DB_HOST,
            &crate::stack::database::psql_args(&s.db_user, db)
                .into_iter()
                .chain(["-c", statement])
                .collect::<Vec<_>>(),
            &[("PGPASSWORD", s.db_password.expose())],
            Duration::from_secs(600),
        )
        .await?;
    if !out.success() {
        return Err(BackupError::Database {
            what: what.to_string(),
            code: out.exit_code,
            output: out.text(),
        });
    }
    Ok(())
}

/// Feeds `file` to `cmd` in the database container.
async fn feed(
    stack: &Stack,
    what: &str,
    cmd: &[&str],
    file: &Path,
    must_succeed: bool,
) -> Result<String, BackupError> {
    let s = &stack.current.settings;
    let input = fs::File::open(file).map_err(io(file))?;
    let ended = exec::from_reader(
        &stack.engine,
        BUNDLED_DB_HOST,
        cmd,
        &[("PGPASSWORD", s.db_password.expose())],
        input,
    )
    .await?;
    if must_succeed && !ended.success() {
        return Err(BackupError::Database {
            what: what.to_string(),
            code: ended.exit_code,
            output: ended.stderr.trim().to_string(),
        });
    }
    Ok(ended.stderr)
}

/// Restores one dump: into a new database first, which replaces the old one only when the whole
/// dump went in; on failure the old database is untouched.
async fn restore_database(
    stack: &Stack,
    dir: &Path,
    dump: &manifest::Dump,
) -> Result<(), BackupError> {
    let user = stack.current.settings.db_user.clone();
    let target = &dump.database;
    let temp = format!("{target}{RESTORING_SUFFIX}");
    journal::info(format!("restoring the database {target}"));
    let drop_temp = format!(
        "DROP DATABASE IF EXISTS {} WITH (FORCE)",
        quote_ident(&temp)
    );
    sql(
        stack,
        "removing a leftover restore database",
        "postgres",
        &drop_temp,
    )
    .await?;
    let create = format!(
        "CREATE DATABASE {} OWNER {}",
        quote_ident(&temp),
        quote_ident(&user)
    );
    sql(
        stack,
        "creating the database to restore into",
        "postgres",
        &create,
    )
    .await?;
    let restored = feed(
        stack,
        &format!("restoring {target} (pg_restore)"),
        &[
            "pg_restore",
            "--exit-on-error",
            "--no-password",
            "-U",
            &user,
            "-d",
            &temp,
        ],
        &dir.join(&dump.file),
        true,
    )
    .await;
    if let Err(e) = restored {
        let _ = sql(stack, "removing the failed restore", "postgres", &drop_temp).await;
        return Err(e);
    }
    // Swap: connections to the old database (none should be left) are ended.
    let swap = format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname IN ({}, {}) AND pid <> pg_backend_pid()",
        quote_literal(target),
        quote_literal(&temp)
    );
    sql(stack, "ending connections", "postgres", &swap).await?;
    let drop_old = format!(
        "DROP DATABASE IF EXISTS {} WITH (FORCE)",
        quote_ident(target)
    );
    sql(stack, &format!("replacing {target}"), "postgres", &drop_old).await?;
    let rename = format!(
        "ALTER DATABASE {} RENAME TO {}",
        quote_ident(&temp),
        quote_ident(target)
    );
    sql(stack, &format!("replacing {target}"), "postgres", &rename).await?;
    Ok(())
}

/// Stops every running container of the project but the database.
async fn stop_all_but_db(engine: &Engine) -> Result<(), BackupError> {
    engine
        .stop_running(
            |service| service != Some(DB.name),
            // The grace period each container was created with (the compose file's).
            None,
            |service| journal::info(format!("stopping {service}")),
        )
        .await?;
    Ok(())
}

/// What a restore did.
#[derive(Debug)]
pub(crate) struct Restored {
    pub manifest: Manifest,
    pub login_url: String,
}

pub(crate) async fn restore(
    config_dir: &Path,
    dir: &Path,
    opts: &RestoreOptions,
) -> Result<Restored, BackupError> {
    let m = check(dir, opts.force)?;
    let stack = Stack::open(config_dir).await?;
    let _lock = lock::acquire(
        &stack.current.layout.lock_file(),
        lock::DEFAULT_WAIT,
        || journal::info("waiting for another mathesarctl run to finish"),
    )?;
    if !m.dumps.is_empty() && !stack.current.settings.bundled_db() {
        return Err(BackupError::Refused(format!(
            "the backup holds databases of the bundled PostgreSQL, but this configuration uses an \
             external one ({}); restore them there with pg_restore",
            stack
                .current
                .settings
                .internal_db_host
                .as_deref()
                .unwrap_or_default()
        )));
    }

    // Under the unit, the unit stops and starts the stack: its watcher must not see containers
    // go away under it. A unit starting (or waiting to start again after a failed start, as
    // after an upgrade whose Mathesar does not start) is stopped too, so that no start races
    // the restore.
    let under_unit = unit::state(UNIT)
        .await
        .is_ok_and(|u| u.is_active() || u.in_transition());

    // From here on Mathesar is stopped: whatever fails, it is put back as it was before the
    // error is reported.
    let work = async {
        if under_unit {
            journal::info(format!("stopping {UNIT}"));
            unit::control(Action::Stop, UNIT)?;
        }
        // Also what a failed start left running (a container restarting in a loop).
        stop_all_but_db(&stack.engine).await?;
        restore_locked(&stack, config_dir, dir, &m).await
    };
    let start_again = async {
        if under_unit {
            // The package's own start: not a crash loop, never refused by the start limit.
            let _ = unit::control(Action::ResetFailed, UNIT);
            Ok(unit::control(Action::Start, UNIT)?)
        } else {
            restart(config_dir, opts).await
        }
    };
    let restored = while_stopped(work, start_again).await?;
    drop(_lock);

    let login_url = restored.settings.login_url();
    if opts.no_start {
        journal::info("Mathesar is left stopped (--no-start)");
    } else if under_unit {
        journal::info(format!("starting {UNIT}"));
        let _ = unit::control(Action::ResetFailed, UNIT);
        unit::control(Action::Start, UNIT)?;
    } else {
        let stack = Stack::open(config_dir).await?;
        stack
            .apply(&Options {
                timeout: opts.timeout,
                strict_certificates: false,
            })
            .await?;
    }
    Ok(Restored {
        manifest: m,
        login_url,
    })
}

/// Runs `work`, which stops Mathesar first; on any error, `start_again` puts it back before the
/// error is returned (its own failure is logged: the first error is the one to fix).
async fn while_stopped<T>(
    work: impl std::future::Future<Output = Result<T, BackupError>>,
    start_again: impl std::future::Future<Output = Result<(), BackupError>>,
) -> Result<T, BackupError> {
    match work.await {
        Ok(t) => Ok(t),
        Err(e) => {
            journal::info("the restore failed; starting Mathesar again as it was");
            if let Err(again) = start_again.await {
                journal::info(format!("Mathesar could not be started again: {again}"));
            }
            Err(e)
        }
    }
}

/// The part of a restore that runs with Mathesar stopped and the lock held.
async fn restore_locked(
    stack: &Stack,
    config_dir: &Path,
    dir: &Path,
    m: &Manifest,
) -> Result<crate::stack::config::Current, BackupError> {
    if !m.dumps.is_empty() {
        backup::ensure_db_running(stack).await?;
        let globals = dir.join(GLOBALS_FILE);
        if globals.is_file() {
            journal::info("restoring the database roles");
            // Roles that exist already are reported and left as they are: not an error.
            let user = stack.current.settings.db_user.clone();
            feed(
                stack,
                "restoring the roles",
                &["psql", "-X", "-q", "-U", &user, "-d", "postgres", "-f", "-"],
                &globals,
                false,
            )
            .await?;
        }
        for dump in &m.dumps {
            restore_database(stack, dir, dump).await?;
        }
    }

    // The backed-up files as one set (a kill leaves the old set or the restored one).
    // A backup made before the marker was left out holds it: the directory keeps its own.
    let names: Vec<&String> = m
        .config_files
        .iter()
        .filter(|n| backup::is_config_file(n))
        .collect();
    let mut restored_files = Vec::with_capacity(names.len());
    for name in &names {
        let from = dir.join(CONFIG_SUBDIR).join(name);
        restored_files.push((config_dir.join(name), fs::read(&from).map_err(io(&from))?));
    }
    let changes: Vec<commit::Change> = restored_files
        .iter()
        .map(|(path, bytes)| commit::Change {
            path,
            contents: bytes,
            mode: PRIVATE_FILE,
        })
        .collect();
    commit::commit(&stack.current.layout.redo_file(), &changes)?;
    // The Mathesar version of the restored databases: a backup older than the record is
    // recorded by the image it names.
    if !m.config_files.iter().any(|n| n == app_version::FILE) {
        let version = m
            .images
            .get("service")
            .and_then(|i| crate::version::of_image(i));
        let marker = app_version::path(config_dir);
        match version {
            Some(v) => drop(app_version::record(config_dir, v)?),
            None => drop(atomic::remove(&marker)?),
        }
    }
    journal::info(format!(
        "restored the configuration files {} in {}",
        names
            .iter()
            .map(|n| n.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        config_dir.display()
    ));
    // The compose file is this package's, rendered from the restored answers (a backup of an
    // older version named older images).
    let restored =
        crate::stack::config::load(config_dir).map_err(|e| BackupError::Stack(e.into()))?;
    if let Ok(compose) = rendering::compose::render(&restored.settings) {
        atomic::write_if_changed(
            &restored.layout.compose_file(),
            compose.as_bytes(),
            PRIVATE_FILE,
        )?;
    }
    Ok(restored)
}

/// Starts the stack outside the unit (what a restore stopped).
async fn restart(config_dir: &Path, opts: &RestoreOptions) -> Result<(), BackupError> {
    Stack::open(config_dir)
        .await?
        .apply(&Options {
            timeout: opts.timeout,
            strict_certificates: false,
        })
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_error_while_stopped_starts_mathesar_again() {
        let started = std::cell::Cell::new(false);
        let e = while_stopped::<()>(
            async { Err(BackupError::Refused("dump failed".into())) },
            async {
                started.set(true);
                Ok(())
            },
        )
        .await
        .unwrap_err();
        assert!(started.get(), "not started again");
        assert_eq!(e.to_string(), "dump failed", "the first error is reported");

        let started = std::cell::Cell::new(false);
        while_stopped(async { Ok(()) }, async {
            started.set(true);
            Ok(())
        })
        .await
        .unwrap();
        assert!(!started.get(), "a success is started by the caller, once");
    }

    /// A busy lock and a failed `systemctl` end with their own documented codes, not "invalid
    /// answer".
    #[test]
    fn lock_and_service_failures_have_their_exit_codes() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join(".lock");
        let _held = lock::acquire(&p, std::time::Duration::ZERO, || {}).unwrap();
        let busy: BackupError = lock::acquire(&p, std::time::Duration::ZERO, || {})
            .err()
            .unwrap()
            .into();
        assert_eq!(busy.code(), crate::exit::Code::LockBusy);
        let service = BackupError::Service(unit::ControlError::Failed {
            command: "stop mathesar.service".into(),
            unit: "mathesar.service".into(),
            status: "exit status: 1".into(),
        });
        assert_eq!(service.code(), crate::exit::Code::Service);
        assert!(service.to_string().contains("journalctl"), "{service}");
    }

    #[test]
    fn newer_backups_are_refused_unless_forced() {
        assert!(newer_check("0.1.0", "0.1.0", false).is_ok());
        assert!(newer_check("0.0.9", "0.1.0", false).is_ok());
        assert!(newer_check("0.1.0-1", "0.1.0", false).is_ok());
        let e = newer_check("0.2.0", "0.1.0", false).unwrap_err();
        assert!(e.to_string().contains("--force"), "{e}");
        assert!(newer_check("0.2.0", "0.1.0", true).is_ok());
        assert!(newer_check("1.10.0", "1.9.0", false).is_err());
    }

    #[test]
    fn backups_are_found_by_path_name_or_latest() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        assert!(resolve("latest", root).is_err());
        for n in ["mathesar-20261125T090000Z", "mathesar-20261126T090000Z"] {
            fs::create_dir(root.join(n)).unwrap();
            fs::write(root.join(n).join(manifest::FILE), "{}").unwrap();
        }
        assert_eq!(
            resolve("latest", root).unwrap(),
            root.join("mathesar-20261126T090000Z")
        );
        assert_eq!(
            resolve("mathesar-20261125T090000Z", root).unwrap(),
            root.join("mathesar-20261125T090000Z")
        );
        let full = root.join("mathesar-20261125T090000Z");
        assert_eq!(resolve(full.to_str().unwrap(), root).unwrap(), full);
        assert!(resolve("nope", root).is_err());
    }

    #[test]
    fn a_damaged_backup_is_refused() {
        let d = tempfile::tempdir().unwrap();
        fs::write(d.path().join("x"), "data").unwrap();
        let (size, sha256) = manifest::sum_file(&d.path().join("x")).unwrap();
        let m = Manifest {
            format: manifest::FORMAT,
            package_version: env!("CARGO_PKG_VERSION").into(),
            created: "2026-11-25T09:08:45Z".into(),
            reason: "manual".into(),
            config_dir: "/etc/mathesar".into(),
            data_dir: "/var/lib/mathesar".into(),
            images: Default::default(),
            dumps: vec![],
            config_files: vec![],
            files: vec![manifest::FileSum {
                path: "x".into(),
                size,
                sha256,
            }],
            notes: vec![],
            row_counts: Default::default(),
            mathesar_version: None,
        };
        fs::write(
            d.path().join(manifest::FILE),
            serde_json::to_string(&m).unwrap(),
        )
        .unwrap();
        assert!(check(d.path(), false).is_ok());
        fs::write(d.path().join("x"), "DATA").unwrap();
        let e = check(d.path(), false).unwrap_err();
        assert!(e.to_string().contains("damaged"), "{e}");
    }
}

//! `mathesarctl backup`: a dump of each database in the bundled PostgreSQL (`pg_dump -Fc`, run in
//! `mathesar_db` through the engine, streamed to a file), the roles (`pg_dumpall --globals-only`)
//! and a copy of the configuration directory, in a timestamped 0700 directory with a manifest;
//! the last N backups are kept.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use thiserror::Error;

use crate::exit::Code;
use crate::settings::{BUNDLED_DB_HOST, UserDb};
use crate::stack::engine::EngineError;
use crate::stack::health::{self, WaitError};
use crate::stack::lifecycle::images_by_service;
use crate::stack::services::DB;
use crate::stack::{Stack, StackError, journal};
use crate::storage::modes::{self, ModeError, PRIVATE_DIR, PRIVATE_FILE};
use crate::storage::{atomic, commit, dirs};

use super::manifest::{self, Dump, FileSum, Hashing, Manifest, Role};
use crate::stack::exec::{self, ExecError};
use crate::time;

pub(crate) const DEFAULT_ROOT: &str = "/var/backups/mathesar";
pub(crate) const DEFAULT_KEEP: u16 = 5;
/// Backup directories are `mathesar-20261125T090845Z` (a suffix `-2`, `-3` for the same second).
pub(crate) const PREFIX: &str = "mathesar-";
pub(crate) const GLOBALS_FILE: &str = "globals.sql";
pub(crate) const CONFIG_SUBDIR: &str = "config";

#[derive(Debug, Error)]
pub(crate) enum BackupError {
    #[error(transparent)]
    Stack(#[from] StackError),
    #[error(transparent)]
    Exec(#[from] ExecError),
    #[error("{what} failed (exit code {code}): {output}")]
    Database {
        what: String,
        code: i64,
        output: String,
    },
    #[error("{}: {source}", .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Mode(#[from] ModeError),
    #[error(transparent)]
    Write(#[from] atomic::WriteError),
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Dir(#[from] crate::storage::dirs::DirError),
    #[error(transparent)]
    Lock(#[from] crate::storage::lock::LockError),
    #[error(transparent)]
    Service(#[from] crate::systemd::unit::ControlError),
}

impl BackupError {
    pub(crate) fn code(&self) -> Code {
        match self {
            BackupError::Stack(e) => e.code(),
            BackupError::Exec(_) | BackupError::Database { .. } => Code::Docker,
            BackupError::Io { .. } | BackupError::Mode(_) | BackupError::Write(_) => Code::Io,
            BackupError::Refused(_) => Code::InvalidAnswer,
            BackupError::Lock(e) => e.code(),
            BackupError::Dir(e) => e.code(),
            BackupError::Service(_) => Code::Service,
        }
    }
}

impl From<EngineError> for BackupError {
    fn from(e: EngineError) -> Self {
        BackupError::Stack(StackError::Engine(e))
    }
}

impl From<WaitError> for BackupError {
    fn from(e: WaitError) -> Self {
        BackupError::Stack(StackError::Wait(e))
    }
}

impl From<crate::stack::compose::ComposeError> for BackupError {
    fn from(e: crate::stack::compose::ComposeError) -> Self {
        BackupError::Stack(StackError::Compose(e))
    }
}

pub(crate) fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BackupError + '_ {
    move |source| BackupError::Io {
        path: path.to_path_buf(),
        source,
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Options {
    /// The directory the timestamped backup directories go into.
    pub root: PathBuf,
    /// How many backups to keep in `root` (the new one included); at least 1.
    pub keep: usize,
    pub reason: String,
    /// The package version whose configuration and data these are (for restore's check).
    pub package_version: String,
}

#[derive(Debug)]
pub(crate) struct Made {
    pub dir: PathBuf,
    pub manifest: Manifest,
    /// Older backups removed to keep `keep`.
    pub pruned: Vec<PathBuf>,
}

/// Starts the bundled database when it is not running (an upgrade of a stopped installation).
/// Returns whether it was started here, so that it can be stopped again.
pub(crate) async fn ensure_db_running(stack: &Stack) -> Result<bool, BackupError> {
    let c = stack.engine.service_container(DB.name).await?;
    if health::of(c.as_ref()).is_ok() {
        return Ok(false);
    }
    journal::info("starting the database alone for the backup");
    if c.is_some() {
        stack.compose.run(&["start", DB.name]).await?;
    } else {
        stack
            .compose
            .run(&["up", "--detach", "--no-deps", DB.name])
            .await?;
    }
    health::wait(&stack.engine, &DB, DB.timeout).await?;
    Ok(true)
}

/// A new file, 0600 from the start.
pub(crate) fn create_private(path: &Path) -> Result<File, BackupError> {
    crate::storage::atomic::create_new(path, PRIVATE_FILE).map_err(io(path))
}

/// Runs `cmd` in the database container with its stdout into `dir/file`; returns the file's sum
/// and what the command wrote on stderr.
async fn dump_to(
    stack: &Stack,
    dir: &Path,
    file: &str,
    what: &str,
    cmd: &[&str],
) -> Result<(FileSum, String), BackupError> {
    let path = dir.join(file);
    let mut out = Hashing::new(create_private(&path)?);
    let password = stack.current.settings.db_password.expose().to_string();
    let ended = exec::to_writer(
        &stack.engine,
        BUNDLED_DB_HOST,
        cmd,
        &[("PGPASSWORD", password.as_str())],
        &mut out,
    )
    .await?;
    let (f, size, sha256) = out.finish();
    f.sync_all().map_err(io(&path))?;
    if !ended.success() {
        return Err(BackupError::Database {
            what: what.to_string(),
            code: ended.exit_code,
            output: ended.stderr.trim().to_string(),
        });
    }
    Ok((
        FileSum {
            path: file.to_string(),
            size,
            sha256,
        },
        ended.stderr,
    ))
}

/// Whether the file `name` of the configuration directory is configuration, worth keeping and
/// bringing back: not the lock, the commit journal, leftovers of interrupted writes, nor the
/// package's marker (the directory's own bookkeeping, which a restore never writes), nor the
/// record of a failed upgrade (state of this run: a restore must not bring an old one back).
pub(crate) fn is_config_file(name: &str) -> bool {
    name != ".lock"
        && name != crate::rendering::held::FILE
        && name != commit::REDO_LOG
        && name != dirs::MARKER
        && !name.contains(".staged-")
        && !(name.starts_with('.') && name.contains(".tmp"))
}

/// Files of the configuration directory worth keeping ([`is_config_file`]).
pub(crate) fn config_files(config_dir: &Path) -> Result<Vec<String>, BackupError> {
    let mut names = Vec::new();
    for e in fs::read_dir(config_dir).map_err(io(config_dir))? {
        let e = e.map_err(io(config_dir))?;
        let name = e.file_name().to_string_lossy().into_owned();
        let is_file = e.file_type().map(|t| t.is_file()).unwrap_or(false);
        if is_file && is_config_file(&name) {
            names.push(name);
        }
    }
    names.sort();
    Ok(names)
}

/// A free directory name for a backup made at `now` in `root`.
fn new_name(root: &Path, now: SystemTime) -> String {
    let base = format!("{PREFIX}{}", time::compact(now));
    let mut name = base.clone();
    let mut n = 2;
    while root.join(&name).exists() || root.join(format!(".{name}.partial")).exists() {
        name = format!("{base}-{n}");
        n += 1;
    }
    name
}

/// Complete backups in `root` (a manifest is written last), oldest first.
pub(crate) fn list(root: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(root) else {
        return Vec::new();
    };
    let mut found: Vec<PathBuf> = entries
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(PREFIX))
        .map(|e| e.path())
        .filter(|p| p.join(manifest::FILE).is_file())
        .collect();
    found.sort();
    found
}

/// Removes the oldest complete backups beyond `keep`.
pub(crate) fn prune(root: &Path, keep: usize) -> Result<Vec<PathBuf>, BackupError> {
    let all = list(root);
    let excess = all.len().saturating_sub(keep.max(1));
    let mut removed = Vec::new();
    for old in all.into_iter().take(excess) {
        fs::remove_dir_all(&old).map_err(io(&old))?;
        removed.push(old);
    }
    Ok(removed)
}

pub(crate) async fn create(stack: &Stack, opts: &Options) -> Result<Made, BackupError> {
    crate::storage::dirs::ensure_private("backup directory", &opts.root, PRIVATE_DIR)?;
    let now = SystemTime::now();
    let name = new_name(&opts.root, now);
    let partial = opts.root.join(format!(".{name}.partial"));
    // A new directory of its own: mkdir neither follows nor reuses what is there.
    std::os::unix::fs::DirBuilderExt::mode(&mut std::fs::DirBuilder::new(), PRIVATE_DIR)
        .create(&partial)
        .map_err(io(&partial))?;
    let result = async { fill(stack, opts, &partial, now).await }.await;
    let manifest = match result {
        Ok(m) => m,
        Err(e) => {
            let _ = fs::remove_dir_all(&partial);
            return Err(e);
        }
    };
    let dir = opts.root.join(&name);
    fs::rename(&partial, &dir).map_err(io(&dir))?;
    File::open(&opts.root)
        .and_then(|d| d.sync_all())
        .map_err(io(&opts.root))?;
    let pruned = prune(&opts.root, opts.keep)?;
    Ok(Made {
        dir,
        manifest,
        pruned,
    })
}

/// Writes everything of a backup into `dir`, the manifest last.
async fn fill(
    stack: &Stack,
    opts: &Options,
    dir: &Path,
    now: SystemTime,
) -> Result<Manifest, BackupError> {
    let s = &stack.current.settings;
    let layout = &stack.current.layout;
    let mut files = Vec::new();
    let mut dumps = Vec::new();
    let mut notes = Vec::new();
    let mut row_counts = std::collections::BTreeMap::new();

    if s.bundled_db() {
        let started_here = ensure_db_running(stack).await?;
        let user = s.db_user.as_str();
        let mut databases = vec![(Role::Internal, s.internal_db_name.clone())];
        if s.user_db == UserDb::Bundled && s.user_db_name != s.internal_db_name {
            databases.push((Role::User, s.user_db_name.clone()));
        }
        let dumped = async {
            files.push(
                dump_to(
                    stack,
                    dir,
                    GLOBALS_FILE,
                    "dumping the database roles (pg_dumpall --globals-only)",
                    &["pg_dumpall", "--globals-only", "-U", user],
                )
                .await?
                .0,
            );
            for (role, db) in &databases {
                let file = match role {
                    Role::Internal => "internal-db.dump",
                    Role::User => "user-db.dump",
                };
                journal::info(format!("dumping the database {db}"));
                // The dump and its tables' row counts from one snapshot (`day2::dump`).
                let what = format!("dumping the database {db} (pg_dump)");
                let (sum, stderr) =
                    dump_to(stack, dir, file, &what, &super::dump::command(user, db)).await?;
                files.push(sum);
                match super::dump::split_counts(&stderr).0 {
                    Some(counts) => {
                        row_counts.insert(db.clone(), counts);
                    }
                    None => {
                        return Err(BackupError::Database {
                            what,
                            code: 0,
                            output: "the tables' row counts were not reported".into(),
                        });
                    }
                }
                dumps.push(Dump {
                    role: *role,
                    database: db.clone(),
                    file: file.to_string(),
                });
            }
            Ok::<(), BackupError>(())
        }
        .await;
        if started_here {
            journal::info("stopping the database again");
            stack.compose.run(&["stop", DB.name]).await?;
        }
        dumped?;
    } else {
        notes.push(format!(
            "Mathesar's own database is on {}:{} (internal-db-host), not in the bundled PostgreSQL: \
             back it up on that server; this backup holds the configuration only",
            s.internal_db_host.as_deref().unwrap_or_default(),
            s.internal_db_port
        ));
    }
    if s.user_db == UserDb::Existing {
        if let Some(e) = &s.existing_db {
            notes.push(format!(
                "the user database is on the existing server {}:{}: back it up there",
                e.host, e.port
            ));
        }
    }

    let config_dir = dir.join(CONFIG_SUBDIR);
    modes::ensure_dir(&config_dir, PRIVATE_DIR)?;
    // Shared: no writer is half-way through replacing the set while it is copied.
    let _reading = crate::storage::lock::acquire_shared(
        &layout.lock_file(),
        crate::storage::lock::DEFAULT_WAIT,
    )?;
    let names = config_files(&layout.config_dir)?;
    for name in &names {
        let from = layout.config_dir.join(name);
        let bytes = fs::read(&from).map_err(io(&from))?;
        let to = config_dir.join(name);
        let mut out = Hashing::new(create_private(&to)?);
        std::io::Write::write_all(&mut out, &bytes).map_err(io(&to))?;
        let (f, size, sha256) = out.finish();
        f.sync_all().map_err(io(&to))?;
        files.push(FileSum {
            path: format!("{CONFIG_SUBDIR}/{name}"),
            size,
            sha256,
        });
    }

    let images = match stack.compose.output(&["config", "--format", "json"]).await {
        Ok(json) => images_by_service(&json),
        Err(e) => {
            notes.push(format!(
                "the images could not be read from the compose file: {e}"
            ));
            Default::default()
        }
    };

    let m = Manifest {
        format: manifest::FORMAT,
        package_version: opts.package_version.clone(),
        created: time::rfc3339(now),
        reason: opts.reason.clone(),
        config_dir: layout.config_dir.clone(),
        data_dir: layout.data_dir.clone(),
        dumps,
        config_files: names,
        mathesar_version: images
            .get("service")
            .and_then(|i| crate::version::of_image(i))
            .map(|v| v.to_string()),
        images,
        files,
        notes,
        row_counts,
    };
    let text = serde_json::to_string_pretty(&m).map_err(|e| BackupError::Io {
        path: dir.join(manifest::FILE),
        source: std::io::Error::other(e),
    })?;
    atomic::write(&dir.join(manifest::FILE), text.as_bytes(), PRIVATE_FILE)?;
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_complete_backups_count_and_the_oldest_go_first() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        for name in [
            "mathesar-20261125T090000Z",
            "mathesar-20261125T090001Z",
            "mathesar-20261125T090001Z-2",
            "mathesar-20261126T000000Z",
        ] {
            fs::create_dir(root.join(name)).unwrap();
            fs::write(root.join(name).join(manifest::FILE), "{}").unwrap();
        }
        fs::create_dir(root.join("mathesar-20200101T000000Z")).unwrap(); // no manifest
        fs::create_dir(root.join(".mathesar-20200101T000000Z.partial")).unwrap();
        fs::create_dir(root.join("other")).unwrap();
        assert_eq!(list(root).len(), 4);
        let removed = prune(root, 2).unwrap();
        let removed: Vec<_> = removed
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            removed,
            ["mathesar-20261125T090000Z", "mathesar-20261125T090001Z"]
        );
        let left: Vec<_> = list(root)
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            left,
            ["mathesar-20261125T090001Z-2", "mathesar-20261126T000000Z"]
        );
        // Untouched: an incomplete backup, a partial one, anything else.
        assert!(root.join("mathesar-20200101T000000Z").exists());
        assert!(root.join("other").exists());
        // keep 0 still keeps the newest.
        prune(root, 0).unwrap();
        assert_eq!(list(root).len(), 1);
    }

    #[test]
    fn names_do_not_collide() {
        let d = tempfile::tempdir().unwrap();
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_795_597_725);
        let a = new_name(d.path(), t);
        assert_eq!(a, "mathesar-20261125T090845Z");
        fs::create_dir(d.path().join(&a)).unwrap();
        assert_eq!(new_name(d.path(), t), "mathesar-20261125T090845Z-2");
    }

    #[test]
    fn config_files_leave_out_the_lock_and_leftovers() {
        let d = tempfile::tempdir().unwrap();
        for n in [
            ".env",
            ".lock",
            ".env.tmp123",
            "docker-compose.yml",
            ".mathesar-owned",
            ".pending",
        ] {
            fs::write(d.path().join(n), "x").unwrap();
        }
        fs::create_dir(d.path().join("sub")).unwrap();
        assert_eq!(
            config_files(d.path()).unwrap(),
            [".env", "docker-compose.yml"]
        );
    }
}

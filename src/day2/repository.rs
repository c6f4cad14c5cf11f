//! Backups in the restic repository of the answers: `mathesarctl backup` (and its timer) stages a
//! backup as `day2::backup` makes it (dumps with row counts, configuration, manifest) in a private
//! directory, stores it as one snapshot, removes the staged copy whatever happens, then applies the
//! retention (`forget --prune`). `restore` reads a snapshot back into a private directory and
//! restores it with `day2::restore`. restic writes a snapshot last: a killed backup leaves the
//! repository as it was, with at most unreferenced data that the next prune removes.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use thiserror::Error;

use crate::exit::Code;
use crate::stack::{Stack, journal};
use crate::storage::modes::PRIVATE_DIR;
use crate::time;

use super::backup::{self, BackupError, Options};
use super::manifest::Manifest;
use super::record;
use super::restic::{Restic, ResticError, Summary};
use super::restore::{self, RestoreOptions, Restored};

/// The staged backup's directory name inside the staging directory, the same at every backup.
pub(crate) const STAGED: &str = "mathesar-backup";

#[derive(Debug, Error)]
pub(crate) enum RepositoryError {
    #[error(transparent)]
    Restic(#[from] ResticError),
    #[error(transparent)]
    Backup(#[from] BackupError),
    #[error("{0}")]
    Refused(String),
}

impl RepositoryError {
    pub(crate) fn code(&self) -> Code {
        match self {
            RepositoryError::Restic(e) => e.code(),
            RepositoryError::Backup(e) => e.code(),
            RepositoryError::Refused(_) => Code::InvalidAnswer,
        }
    }

    /// restic's own last lines, when restic failed.
    pub(crate) fn detail(&self) -> Option<&str> {
        match self {
            RepositoryError::Restic(e) if !e.detail().is_empty() => Some(e.detail()),
            _ => None,
        }
    }
}

/// A private directory of the package's for staged backups and restored snapshots, empty: what
/// a killed run left there (only the package writes it: root's, 0700, checked) is removed first.
pub(crate) fn fresh_private_dir(root: &Path, name: &str) -> Result<PathBuf, BackupError> {
    crate::storage::dirs::ensure_private("backup directory", root, PRIVATE_DIR)?;
    let dir = root.join(name);
    match std::fs::symlink_metadata(&dir) {
        Ok(m) if m.file_type().is_symlink() || !m.is_dir() => {
            return Err(BackupError::Refused(format!(
                "{} is not a directory the package made (a link or a file): move it away",
                dir.display()
            )));
        }
        Ok(_) => std::fs::remove_dir_all(&dir).map_err(backup::io(&dir))?,
        Err(_) => {}
    }
    std::os::unix::fs::DirBuilderExt::mode(&mut std::fs::DirBuilder::new(), PRIVATE_DIR)
        .create(&dir)
        .map_err(backup::io(&dir))?;
    Ok(dir)
}

/// One backup, restore or drill at a time on this machine: they share the private directories
/// under `root` (a manual backup while the timer's runs waits for it).
pub(crate) fn exclusive(root: &Path) -> Result<crate::storage::lock::Lock, BackupError> {
    crate::storage::dirs::ensure_private("backup directory", root, PRIVATE_DIR)?;
    Ok(crate::storage::lock::acquire(
        &root.join(".lock"),
        std::time::Duration::from_secs(3600),
        || journal::info("waiting for another backup, restore or drill to finish"),
    )?)
}

/// Removes a private directory when dropped: nothing staged is left behind, however the run ends
/// (short of a kill, whose leftover the next run removes first).
struct Cleanup(PathBuf);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[derive(Debug)]
pub(crate) struct Stored {
    pub summary: Summary,
    pub manifest: Manifest,
}

/// One backup into the repository, recorded for `status` whether it succeeded or failed.
pub(crate) async fn backup(stack: &Stack, opts: &Options) -> Result<Stored, RepositoryError> {
    let record_file = stack.current.layout.data().backup_record();
    let result = store(stack, opts).await;
    let now = time::rfc3339(SystemTime::now());
    let written = match &result {
        Ok(stored) => record::update(&record_file, |r| {
            r.last_backup = Some(record::Backup {
                time: now.clone(),
                snapshot: stored.summary.snapshot_id.clone(),
                size: stored.summary.total_bytes_processed,
                added: stored.summary.data_added,
                repository: stack.current.settings.backup.repository.restic_url(),
            });
            r.last_backup_failure = None;
        }),
        Err(e) => record::update(&record_file, |r| {
            r.last_backup_failure = Some(record::Failure {
                time: now.clone(),
                error: e.to_string(),
            });
        }),
    };
    if let Err(e) = written {
        journal::warn(format!(
            "the backup's record for `mathesarctl status` could not be written: {e}"
        ));
    }
    result
}

async fn store(stack: &Stack, opts: &Options) -> Result<Stored, RepositoryError> {
    let restic = Restic::new(&stack.current.settings);
    // A wrong password or an unreachable server is found before anything is dumped.
    let created_repository = restic.ensure_repository()?;
    if created_repository {
        journal::info(format!(
            "created the restic repository {}",
            restic.repository
        ));
    }
    let _one_at_a_time = exclusive(&opts.root)?;
    let staging = fresh_private_dir(&opts.root, ".staging")?;
    let _cleanup = Cleanup(staging.clone());
    let made = backup::create(
        stack,
        &Options {
            root: staging.clone(),
            keep: 1,
            ..opts.clone()
        },
    )
    .await?;
    let staged = staging.join(STAGED);
    std::fs::rename(&made.dir, &staged).map_err(backup::io(&staged))?;
    // A backup killed earlier leaves its lock behind; restic removes only locks of runs that are
    // gone.
    restic.unlock_stale()?;
    journal::info(format!(
        "storing the backup in the repository {}",
        restic.repository
    ));
    let summary = restic.backup(&staging, STAGED)?;
    drop(_cleanup);
    Ok(Stored {
        summary,
        manifest: made.manifest,
    })
}

/// The retention of the answers; run after a stored backup.
pub(crate) fn apply_retention(stack: &Stack) -> Result<(), RepositoryError> {
    let restic = Restic::new(&stack.current.settings);
    restic.forget(&stack.current.settings.backup.retention.restic_args())?;
    Ok(())
}

/// Reads `snapshot` (`latest` or an id) into a private directory under `root` and restores it.
pub(crate) async fn restore(
    config_dir: &Path,
    root: &Path,
    snapshot: &str,
    opts: &RestoreOptions,
) -> Result<(String, Restored), RepositoryError> {
    let current = crate::stack::config::load(config_dir)
        .map_err(|e| RepositoryError::Backup(BackupError::Stack(e.into())))?;
    let restic = Restic::new(&current.settings);
    let found = restic.find(snapshot)?;
    journal::info(format!(
        "reading the snapshot {} of {} ({}) from {}",
        found.short_id, found.time, found.hostname, restic.repository
    ));
    let _one_at_a_time = exclusive(root)?;
    let target = fresh_private_dir(root, ".restoring")?;
    let _cleanup = Cleanup(target.clone());
    restic.restore(&found.id, &target)?;
    let dir = staged_in(&target)?;
    let restored = restore::restore(config_dir, &dir, opts).await?;
    Ok((found.short_id, restored))
}

/// The backup directory inside a restored snapshot: at its top, or (a snapshot of an absolute
/// path) under the directories leading to it.
pub(crate) fn staged_in(target: &Path) -> Result<PathBuf, RepositoryError> {
    let mut dir = target.to_path_buf();
    for _ in 0..16 {
        let candidate = dir.join(STAGED);
        if candidate.join(super::manifest::FILE).is_file() {
            return Ok(candidate);
        }
        // Only a chain of single directories is followed, never a link.
        let mut entries = std::fs::read_dir(&dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()));
        match (entries.next(), entries.next()) {
            (Some(only), None) => dir = only.path(),
            _ => break,
        }
    }
    Err(RepositoryError::Refused(format!(
        "the snapshot holds no {STAGED}/{}: it was not made by mathesarctl backup",
        super::manifest::FILE
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fresh_private_dir_replaces_a_leftover_but_never_a_link() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("backups");
        let a = fresh_private_dir(&root, ".staging").unwrap();
        std::fs::write(a.join("half-written.dump"), "x").unwrap();
        let b = fresh_private_dir(&root, ".staging").unwrap();
        assert_eq!(a, b);
        assert_eq!(
            std::fs::read_dir(&b).unwrap().count(),
            0,
            "the leftover is gone"
        );
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&b).unwrap().permissions().mode() & 0o777,
            0o700
        );

        let elsewhere = d.path().join("elsewhere");
        std::fs::create_dir(&elsewhere).unwrap();
        std::fs::write(elsewhere.join("keep"), "x").unwrap();
        std::os::unix::fs::symlink(&elsewhere, root.join(".restoring")).unwrap();
        assert!(fresh_private_dir(&root, ".restoring").is_err());
        assert!(elsewhere.join("keep").exists(), "a link is never followed");
    }

    #[test]
    fn the_staged_backup_is_found_at_the_top_or_under_its_path() {
        let d = tempfile::tempdir().unwrap();
        assert!(staged_in(d.path()).is_err());
        let deep = d.path().join("var/backups/mathesar/.staging").join(STAGED);
        std::fs::create_dir_all(&deep).unwrap();
        std::fs::write(deep.join(super::super::manifest::FILE), "{}").unwrap();
        assert_eq!(staged_in(d.path()).unwrap(), deep);
        let top = tempfile::tempdir().unwrap();
        std::fs::create_dir(top.path().join(STAGED)).unwrap();
        std::fs::write(top.path().join(STAGED).join("manifest.json"), "{}").unwrap();
        assert_eq!(staged_in(top.path()).unwrap(), top.path().join(STAGED));
    }

    #[test]
    fn cleanup_removes_the_staged_copy() {
        let d = tempfile::tempdir().unwrap();
        let s = fresh_private_dir(d.path(), ".staging").unwrap();
        std::fs::write(s.join("x"), "x").unwrap();
        drop(Cleanup(s.clone()));
        assert!(!s.exists());
    }
}

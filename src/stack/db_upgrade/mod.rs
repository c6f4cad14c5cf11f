//! The bundled PostgreSQL's major-version upgrade. The database image (pgautoupgrade) upgrades an
//! older cluster in `DATA_DIR/pgdata` at its first start: it moves the cluster into `pgdata/old`,
//! runs `initdb` into `pgdata/new` and `pg_upgrade --link`, then moves the result up, under the
//! lock file `pgdata/upgrade_in_progress.lock`. When that fails (a full disk, most often), it
//! leaves `old/`, `new/` and the lock file, and every later start of the image exits at once: the
//! old cluster is no longer usable where it was. So the package, before it starts an older
//! cluster, checks that the file system has room for the upgrade, and after a failed one puts the
//! old cluster back in place, unchanged, before anything else runs on it.
//!
//! Only ever called while no database container runs: files under a running server, or under an
//! upgrade in progress, are never touched.

use std::ffi::OsString;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use thiserror::Error;

pub(crate) mod start;

/// The lock file pgautoupgrade keeps in the data directory while it upgrades.
pub(crate) const LOCK_FILE: &str = "upgrade_in_progress.lock";
const OLD: &str = "old";
const NEW: &str = "new";
const VERSION_FILE: &str = "PG_VERSION";
const MIB: u64 = 1024 * 1024;

/// The PostgreSQL major version the database image upgrades to: the leading number of its tag
/// (`pgautoupgrade/pgautoupgrade:17-bookworm` -> 17). None for an image whose tag does not say.
pub(crate) fn target_major(image: &str) -> Option<u32> {
    let name = image.rsplit('/').next()?;
    let tag = name.split_once(':')?.1;
    let digits: String = tag.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok().filter(|v| *v > 0)
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum State {
    /// No cluster yet, or one the image starts as it is.
    Ready,
    /// A cluster of an older major version: the image upgrades it at its next start.
    Pending {
        from: u32,
        /// The cluster's size on disk.
        bytes: u64,
    },
    /// What a failed upgrade leaves, in a shape that [`restore`] puts back safely: the old
    /// cluster's files in `old/` (or some still in place), no file of the new cluster among them.
    Failed { from: u32 },
    /// The upgrade itself finished (the cluster is the new version's) but a step after it
    /// (statistics, reindexing) failed and left the lock file.
    FinishedWithLock,
    /// Anything else an interrupted upgrade left: for the administrator (what, in words).
    Unknown(String),
}

#[derive(Debug, Error)]
pub(crate) enum UpgradeError {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error(
        "the PostgreSQL {from} data in {pgdata} must be upgraded to PostgreSQL {target} at this start \
         (the database image runs pg_upgrade), which needs about {need} MiB free on its file system; \
         {free} MiB are free. Nothing was started and the data is unchanged: free space there (or move \
         the data directory to a larger disk), then run `systemctl start mathesar`",
        pgdata = pgdata.display()
    )]
    NoSpace {
        pgdata: PathBuf,
        from: u32,
        target: u32,
        need: u64,
        free: u64,
    },
    #[error(
        "the upgrade of the PostgreSQL {from} data in {pgdata} to PostgreSQL {target} failed{why}; \
         the old cluster was put back in place, unchanged: PostgreSQL {from} can still run it. \
         Fix the cause (free disk space, most often), then run `systemctl start mathesar` to try \
         the upgrade again",
        pgdata = pgdata.display()
    )]
    Failed {
        pgdata: PathBuf,
        from: u32,
        target: u32,
        /// ` (REASON)` from the container's log, or empty.
        why: String,
    },
    #[error(
        "{pgdata} holds what an interrupted PostgreSQL upgrade left ({what}), in a shape mathesarctl \
         cannot put back safely, so it changed nothing and did not start the database. The old \
         cluster's files are in {pgdata}/{OLD}: copy the whole directory somewhere safe before \
         anything else, then see `docker logs mathesar_db`",
        pgdata = pgdata.display()
    )]
    Unknown { pgdata: PathBuf, what: String },
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> UpgradeError + '_ {
    move |source| UpgradeError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The major version written in a `PG_VERSION` file (`13`, `9.6` -> 9).
fn major_of(path: &Path) -> Result<Option<u32>, UpgradeError> {
    match fs::read_to_string(path) {
        Ok(text) => Ok(text.trim().split('.').next().and_then(|v| v.parse().ok())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_err(path)(e)),
    }
}

/// A real directory (never a link to one); false when missing.
fn is_real_dir(path: &Path) -> Result<bool, UpgradeError> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_dir() => Ok(true),
        Ok(_) => Err(UpgradeError::Io {
            path: path.to_path_buf(),
            source: io::Error::other("not a directory (a link or a file): left alone"),
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(io_err(path)(e)),
    }
}

fn names(dir: &Path) -> Result<Vec<OsString>, UpgradeError> {
    let mut v = Vec::new();
    for entry in fs::read_dir(dir).map_err(io_err(dir))? {
        v.push(entry.map_err(io_err(dir))?.file_name());
    }
    v.sort();
    Ok(v)
}

/// What `pgdata` holds, judged against the image's target major version.
pub(crate) fn inspect(pgdata: &Path, target: u32) -> Result<State, UpgradeError> {
    if !is_real_dir(pgdata)? {
        return Ok(State::Ready);
    }
    let locked = fs::symlink_metadata(pgdata.join(LOCK_FILE)).is_ok();
    let top_version = major_of(&pgdata.join(VERSION_FILE))?;
    if !locked {
        return Ok(match top_version {
            Some(from) if from < target => State::Pending {
                from,
                bytes: size_on_disk(pgdata)?,
            },
            _ => State::Ready,
        });
    }
    let old = pgdata.join(OLD);
    let new_ok = is_real_dir(&pgdata.join(NEW)).is_ok();
    if !is_real_dir(&old)? {
        return Ok(match top_version {
            Some(v) if v == target && fs::symlink_metadata(pgdata.join(NEW)).is_err() => {
                State::FinishedWithLock
            }
            // The upgrade stopped before it moved anything.
            Some(from) if from < target && new_ok => State::Failed { from },
            _ => State::Unknown(format!(
                "the lock file {LOCK_FILE} with {}",
                match top_version {
                    Some(v) => format!("PostgreSQL {v} data"),
                    None => "no cluster in place".into(),
                }
            )),
        });
    }
    // The old cluster is in old/, all of it or part (pgautoupgrade moves it one entry at a time,
    // and so does `restore`). Safe to put back when exactly one PG_VERSION is among its files and
    // no name is on both sides: the new cluster's files were never moved up.
    let inside = names(&old)?;
    let top: Vec<OsString> = names(pgdata)?
        .into_iter()
        .filter(|n| n != OLD && n != NEW && n != LOCK_FILE)
        .collect();
    if let Some(both) = top.iter().find(|n| inside.contains(n)) {
        return Ok(State::Unknown(format!(
            "{} both in {OLD}/ and in place: the upgraded files were being moved into place",
            both.to_string_lossy()
        )));
    }
    let version = match (top_version, major_of(&old.join(VERSION_FILE))?) {
        (Some(v), None) | (None, Some(v)) => v,
        _ => return Ok(State::Unknown(format!("no {VERSION_FILE} in {OLD}/"))),
    };
    if version >= target || !new_ok {
        return Ok(State::Unknown(format!(
            "PostgreSQL {version} data in {OLD}/"
        )));
    }
    Ok(State::Failed { from: version })
}

/// Puts the old cluster of a failed upgrade ([`State::Failed`]) back in place: the unfinished
/// new cluster removed (it holds nothing of the old one's but hard links, and the image made it),
/// `pg_control` given back its name if `pg_upgrade` had disabled the old cluster (done just before
/// it links the files; the new cluster was never started on them, or the upgrade would not have
/// failed here), every file of `old/` moved back with `PG_VERSION` last, then the lock file
/// removed. Each step is a rename in one directory, so a run cut short is finished by the next.
/// Refused, with nothing touched, unless [`inspect`] finds that shape now.
pub(crate) fn restore(pgdata: &Path, target: u32) -> Result<(), UpgradeError> {
    match inspect(pgdata, target)? {
        State::Failed { .. } => {}
        State::Unknown(what) => {
            return Err(UpgradeError::Unknown {
                pgdata: pgdata.to_path_buf(),
                what,
            });
        }
        other => {
            return Err(UpgradeError::Unknown {
                pgdata: pgdata.to_path_buf(),
                what: format!("not a failed upgrade to put back: {other:?}"),
            });
        }
    }
    let new = pgdata.join(NEW);
    if is_real_dir(&new)? {
        // Does not follow links inside: a link is removed, never what it points to.
        fs::remove_dir_all(&new).map_err(io_err(&new))?;
    }
    let old = pgdata.join(OLD);
    if is_real_dir(&old)? {
        let global = old.join("global");
        let control = global.join("pg_control");
        let disabled = global.join("pg_control.old");
        if fs::symlink_metadata(&control).is_err() && fs::symlink_metadata(&disabled).is_ok() {
            fs::rename(&disabled, &control).map_err(io_err(&control))?;
        }
        let mut entries = names(&old)?;
        // PG_VERSION last: until it is in place, the next run still finds the cluster in old/.
        entries.sort_by_key(|n| n == VERSION_FILE);
        for name in entries {
            let to = pgdata.join(&name);
            if fs::symlink_metadata(&to).is_ok() {
                return Err(UpgradeError::Unknown {
                    pgdata: pgdata.to_path_buf(),
                    what: format!("{} both in {OLD}/ and in place", name.to_string_lossy()),
                });
            }
            fs::rename(old.join(&name), &to).map_err(io_err(&to))?;
        }
        sync_dir(pgdata)?;
        fs::remove_dir(&old).map_err(io_err(&old))?;
    }
    let lock = pgdata.join(LOCK_FILE);
    sync_dir(pgdata)?;
    remove_lock(&lock)?;
    sync_dir(pgdata)
}

/// Removes the lock file left by an upgrade whose cluster is complete ([`State::FinishedWithLock`]).
pub(crate) fn remove_lock(lock: &Path) -> Result<(), UpgradeError> {
    match fs::remove_file(lock) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(io_err(lock)(e)),
        _ => Ok(()),
    }
}

fn sync_dir(dir: &Path) -> Result<(), UpgradeError> {
    fs::File::open(dir)
        .and_then(|f| f.sync_all())
        .map_err(io_err(dir))
}

/// The bytes a tree takes on disk, links not followed (a tablespace or a `pg_wal` elsewhere is
/// not on this file system, and `pg_upgrade --link` does not copy it).
pub(crate) fn size_on_disk(dir: &Path) -> Result<u64, UpgradeError> {
    use std::os::unix::fs::MetadataExt;
    let mut total = 0;
    for entry in fs::read_dir(dir).map_err(io_err(dir))? {
        let entry = entry.map_err(io_err(dir))?;
        let meta = entry.metadata().map_err(io_err(&entry.path()))?;
        total += meta.blocks() * 512;
        if meta.file_type().is_dir() {
            total += size_on_disk(&entry.path())?;
        }
    }
    Ok(total)
}

/// Free space the upgrade of a cluster of `bytes` asks for, on the safe side: `pg_upgrade --link`
/// writes a new cluster's catalogs and WAL (about 8 MiB for each database, 16 MiB segments), then
/// pgautoupgrade reindexes every database, building each index anew before dropping the old one,
/// and its WAL grows until a checkpoint: 256 MiB and a quarter of the cluster.
pub(crate) fn required_bytes(bytes: u64) -> u64 {
    256 * MIB + bytes / 4
}

/// Free bytes for an unprivileged user (the database runs as one) on `path`'s file system.
pub(crate) fn free_bytes(path: &Path) -> Result<u64, UpgradeError> {
    let st = nix::sys::statvfs::statvfs(path).map_err(|e| UpgradeError::Io {
        path: path.to_path_buf(),
        source: e.into(),
    })?;
    #[allow(clippy::unnecessary_cast)] // the field types differ between platforms
    Ok(st.blocks_available() as u64 * st.fragment_size() as u64)
}

/// Refuses the start of an upgrade the file system has no room for.
pub(crate) fn check_space(
    pgdata: &Path,
    from: u32,
    target: u32,
    bytes: u64,
    free: u64,
) -> Result<(), UpgradeError> {
    let need = required_bytes(bytes);
    if free < need {
        return Err(UpgradeError::NoSpace {
            pgdata: pgdata.to_path_buf(),
            from,
            target,
            need: need.div_ceil(MIB),
            free: free / MIB,
        });
    }
    Ok(())
}

/// One line for `mathesarctl status` when the data is not simply ready.
pub(crate) fn describe(pgdata: &Path, target: u32) -> Option<String> {
    match inspect(pgdata, target) {
        Ok(State::Ready) => None,
        Ok(State::Pending { from, bytes }) => Some(format!(
            "PostgreSQL {from} data, upgraded to {target} at the database's next start (needs about {} MiB free; {} MiB free)",
            required_bytes(bytes).div_ceil(MIB),
            free_bytes(pgdata).map(|f| f / MIB).unwrap_or(0)
        )),
        Ok(State::Failed { from }) => Some(format!(
            "a failed upgrade of PostgreSQL {from} data to {target}: the next start puts the old cluster back in place first"
        )),
        Ok(State::FinishedWithLock) => Some(format!(
            "upgraded to PostgreSQL {target}; a step after the upgrade failed and left {LOCK_FILE}: the next start removes it"
        )),
        Ok(State::Unknown(what)) => Some(format!(
            "an interrupted upgrade left {what}: see {}/{OLD}",
            pgdata.display()
        )),
        Err(e) => Some(e.to_string()),
    }
}

#[cfg(test)]
mod tests;

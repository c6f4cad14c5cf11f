//! Several files replaced as one: the configuration (`.env`, the compose file, the Caddyfile, the
//! admin password file) must never be seen as a mix of two runs, and `rename` is atomic for one
//! file only. A small redo log makes the set atomic:
//!
//! 1. every new file is staged next to its target (`.NAME.staged-ID`, final mode, fsynced);
//! 2. the redo log (`.pending` in the configuration directory), naming each staged file and its
//!    target, is written atomically: this is the commit point;
//! 3. each staged file is renamed over its target, then the redo log is removed.
//!
//! Only a writer, holding the lock, completes a redo log ([`roll_forward`]); readers hold the lock
//! shared and see a killed run's committed set through [`view`] without writing anything. A run
//! killed before its commit point left only staged files, which the next writer removes under
//! the lock ([`clean_staged`]). A redo log names only the package's own files: in the
//! configuration directory, or the Caddyfile of a data directory the package marked as its own.

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::atomic::{self, WriteError};

/// The redo log's file name in the configuration directory.
pub(crate) const REDO_LOG: &str = ".pending";
const STAGED: &str = ".staged-";

/// One file of the set.
pub(crate) struct Change<'a> {
    pub path: &'a Path,
    pub contents: &'a [u8],
    pub mode: u32,
}

#[derive(Debug, Serialize, Deserialize)]
struct Entry {
    staged: PathBuf,
    target: PathBuf,
}

/// Replaces every file of `changes` as one: after a crash, readers see all of them or none.
pub(crate) fn commit(redo: &Path, changes: &[Change]) -> Result<(), WriteError> {
    if changes.is_empty() {
        return Ok(());
    }
    // Unpredictable, so that nobody can plant a file under a staged name in advance.
    let mut random = [0u8; 12];
    getrandom::fill(&mut random).map_err(|e| err(redo, io::Error::other(e.to_string())))?;
    let id: String = random.iter().map(|b| format!("{b:02x}")).collect();
    let config_dir = redo.parent().unwrap_or(Path::new("/"));
    if let Some(c) = changes.iter().find(|c| !allowed_target(config_dir, c.path)) {
        return Err(err(
            c.path,
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "not a file of the configuration; nothing was written",
            ),
        ));
    }
    let mut entries = Vec::with_capacity(changes.len());
    let result = (|| {
        for c in changes {
            let staged = staged_path(c.path, &id).map_err(|e| err(c.path, e))?;
            entries.push(Entry {
                staged: staged.clone(),
                target: c.path.to_path_buf(),
            });
            atomic::write_synced(&staged, c.contents, c.mode).map_err(|e| err(&staged, e))?;
        }
        for dir in dirs_of(&entries) {
            sync_dir(&dir).map_err(|e| err(&dir, e))?;
        }
        let text = serde_json::to_vec_pretty(&entries).map_err(|e| err(redo, e.into()))?;
        atomic::write(redo, &text, super::modes::PRIVATE_FILE)
    })();
    if let Err(e) = result {
        for e in &entries {
            let _ = fs::remove_file(&e.staged);
        }
        return Err(e);
    }
    roll_forward(redo).map(|_| ())
}

/// Completes a committed set of changes, if `redo` names one. Call with the lock held.
/// Returns whether there was a redo log.
pub(crate) fn roll_forward(redo: &Path) -> Result<bool, WriteError> {
    let Some(entries) = read_redo(redo)? else {
        return Ok(false);
    };
    for e in &entries {
        match fs::rename(&e.staged, &e.target) {
            Ok(()) => {}
            Err(x) if x.kind() == io::ErrorKind::NotFound => {}
            Err(x) => return Err(err(&e.target, x)),
        }
    }
    for dir in dirs_of(&entries) {
        sync_dir(&dir).map_err(|e| err(&dir, e))?;
    }
    atomic::remove(redo)?;
    Ok(true)
}

/// For a reader: the file that holds the current content of `target`, which is its staged file
/// while a committed redo log is not completed yet. Changes nothing.
pub(crate) fn view(redo: &Path, target: &Path) -> Result<PathBuf, WriteError> {
    let entries = read_redo(redo)?.unwrap_or_default();
    Ok(entries
        .into_iter()
        .find(|e| e.target == target && e.staged.exists())
        .map(|e| e.staged)
        .unwrap_or_else(|| target.to_path_buf()))
}

fn read_redo(redo: &Path) -> Result<Option<Vec<Entry>>, WriteError> {
    let text = match fs::read(redo) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(err(redo, e)),
    };
    let invalid = |msg: String| err(redo, io::Error::new(io::ErrorKind::InvalidData, msg));
    // A redo log is written whole (atomic rename) or not at all: one that does not parse was not
    // written by us, and is left for the administrator rather than guessed at.
    let entries: Vec<Entry> = serde_json::from_slice(&text).map_err(|e| {
        invalid(format!(
            "not a redo log of mathesarctl ({e}); remove it, then run `mathesarctl configure`"
        ))
    })?;
    let config_dir = redo.parent().unwrap_or(Path::new("/"));
    for e in &entries {
        if !is_ours(&e.staged, &e.target) {
            return Err(invalid(format!(
                "names {} as a staged file; remove it, then run `mathesarctl configure`",
                e.staged.display()
            )));
        }
        if !allowed_target(config_dir, &e.target) {
            return Err(invalid(format!(
                "names {}, which is not a file of the configuration; remove it, then run `mathesarctl configure`",
                e.target.display()
            )));
        }
    }
    Ok(Some(entries))
}

/// The files a commit may replace: the configuration's own, and the Caddyfile and the copied
/// certificates (`caddy/tls`) of a data directory the package created or adopted.
fn allowed_target(config_dir: &Path, target: &Path) -> bool {
    let Some(name) = target.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    if target.parent() == Some(config_dir) {
        // Any file of the configuration (a restore brings back answers.yml and the override
        // too), but never the package's own bookkeeping.
        return ![".lock", REDO_LOG, super::dirs::MARKER].contains(&name)
            && !name.contains(STAGED)
            && !name.contains(".tmp");
    }
    let parent_named =
        |p: Option<&Path>, n: &str| p.and_then(Path::file_name) == Some(std::ffi::OsStr::new(n));
    let data_dir = if name == "Caddyfile" && parent_named(target.parent(), "caddy") {
        target.parent().and_then(Path::parent)
    } else if super::layout::TLS_FILES.contains(&name)
        && parent_named(target.parent(), "tls")
        && parent_named(target.parent().and_then(Path::parent), "caddy")
    {
        target
            .parent()
            .and_then(Path::parent)
            .and_then(Path::parent)
    } else if name == super::layout::DB_CA && parent_named(target.parent(), "pg-tls") {
        target.parent().and_then(Path::parent)
    } else {
        None
    };
    data_dir.is_some_and(|d| {
        super::dirs::check_path(d).is_ok()
            && fs::symlink_metadata(d.join(super::dirs::MARKER)).is_ok_and(|m| m.is_file())
    })
}

/// Removes staged files of runs that died before their commit point (call with the lock held,
/// after [`roll_forward`]).
pub(crate) fn clean_staged(dir: &Path) {
    if let Ok(entries) = fs::read_dir(dir) {
        for e in entries.flatten() {
            let n = e.file_name();
            let n = n.to_string_lossy();
            if n.starts_with('.') && n.contains(STAGED) {
                let _ = fs::remove_file(e.path());
            }
        }
    }
}

fn staged_path(target: &Path, id: &str) -> io::Result<PathBuf> {
    let name = target
        .file_name()
        .ok_or_else(|| io::Error::other("not a file path"))?;
    Ok(target.with_file_name(format!(".{}{STAGED}{id}", name.to_string_lossy())))
}

/// A staged file sits next to its target and carries its name: a damaged redo log cannot move
/// anything else.
fn is_ours(staged: &Path, target: &Path) -> bool {
    let (Some(name), Some(staged_name)) = (target.file_name(), staged.file_name()) else {
        return false;
    };
    staged.parent() == target.parent()
        && staged_name
            .to_string_lossy()
            .starts_with(&format!(".{}{STAGED}", name.to_string_lossy()))
}

fn dirs_of(entries: &[Entry]) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = entries
        .iter()
        .filter_map(|e| e.target.parent().map(Path::to_path_buf))
        .collect();
    dirs.sort();
    dirs.dedup();
    dirs
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

fn err(path: &Path, source: io::Error) -> WriteError {
    WriteError {
        path: path.to_path_buf(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn commits_every_file_with_its_mode_and_leaves_nothing_else() {
        let d = tempfile::tempdir().unwrap();
        let data = d.path().join("data");
        let sub = data.join("caddy");
        fs::create_dir_all(&sub).unwrap();
        fs::write(data.join(crate::storage::dirs::MARKER), "created\n").unwrap();
        let (a, b) = (d.path().join(".env"), sub.join("Caddyfile"));
        fs::write(&a, "old").unwrap();
        let redo = d.path().join(REDO_LOG);
        commit(
            &redo,
            &[
                Change {
                    path: &a,
                    contents: b"A=1\n",
                    mode: 0o600,
                },
                Change {
                    path: &b,
                    contents: b":80\n",
                    mode: 0o644,
                },
            ],
        )
        .unwrap();
        assert_eq!(fs::read(&a).unwrap(), b"A=1\n");
        assert_eq!(fs::read(&b).unwrap(), b":80\n");
        assert_eq!(fs::metadata(&a).unwrap().mode() & 0o777, 0o600);
        assert_eq!(fs::metadata(&b).unwrap().mode() & 0o777, 0o644);
        assert_eq!(names(d.path()), [".env", "data"]);
        assert_eq!(names(&sub), ["Caddyfile"]);
    }

    /// A run killed after its commit point: the next reader completes it.
    #[test]
    fn a_committed_redo_log_is_completed_by_the_next_reader() {
        let d = tempfile::tempdir().unwrap();
        let (a, b) = (d.path().join(".env"), d.path().join("docker-compose.yml"));
        fs::write(&a, "old env").unwrap();
        fs::write(&b, "old compose").unwrap();
        let entries: Vec<Entry> = [(&a, "new env"), (&b, "new compose")]
            .iter()
            .map(|(t, text)| {
                let staged = staged_path(t, "7-1").unwrap();
                fs::write(&staged, text).unwrap();
                Entry {
                    staged,
                    target: t.to_path_buf(),
                }
            })
            .collect();
        // The first file was already moved when the run died.
        fs::rename(&entries[0].staged, &a).unwrap();
        let redo = d.path().join(REDO_LOG);
        fs::write(&redo, serde_json::to_vec(&entries).unwrap()).unwrap();

        // A reader sees the new set and changes nothing.
        assert_eq!(
            fs::read_to_string(view(&redo, &b).unwrap()).unwrap(),
            "new compose"
        );
        assert!(redo.exists());
        assert!(roll_forward(&redo).unwrap());
        assert_eq!(fs::read_to_string(&a).unwrap(), "new env");
        assert_eq!(fs::read_to_string(&b).unwrap(), "new compose");
        assert_eq!(names(d.path()), [".env", "docker-compose.yml"]);
        assert!(!roll_forward(&redo).unwrap(), "nothing left to do");
    }

    /// A run killed before its commit point left staged files only: the old set stands.
    #[test]
    fn staged_files_without_a_redo_log_are_removed_and_change_nothing() {
        let d = tempfile::tempdir().unwrap();
        let a = d.path().join(".env");
        fs::write(&a, "old").unwrap();
        fs::write(staged_path(&a, "9-9").unwrap(), "new").unwrap();
        assert!(!roll_forward(&d.path().join(REDO_LOG)).unwrap());
        clean_staged(d.path());
        assert_eq!(fs::read_to_string(&a).unwrap(), "old");
        assert_eq!(names(d.path()), [".env"]);
    }

    #[test]
    fn a_redo_log_naming_other_files_is_refused_and_moves_nothing() {
        let d = tempfile::tempdir().unwrap();
        let (a, other) = (d.path().join(".env"), d.path().join("passwd"));
        fs::write(&a, "old").unwrap();
        fs::write(&other, "x").unwrap();
        let redo = d.path().join(REDO_LOG);
        let bad = vec![Entry {
            staged: other.clone(),
            target: a.clone(),
        }];
        fs::write(&redo, serde_json::to_vec(&bad).unwrap()).unwrap();
        let e = roll_forward(&redo).unwrap_err();
        assert!(e.source.to_string().contains("as a staged file"), "{e:?}");
        assert_eq!(fs::read_to_string(&a).unwrap(), "old");
        assert!(other.exists() && redo.exists());

        // A redo naming a file outside the configuration, with a staged file next to it.
        let outside = tempfile::tempdir().unwrap();
        let victim = outside.path().join("shadow");
        fs::write(&victim, "root:x").unwrap();
        let staged = staged_path(&victim, "1-1").unwrap();
        fs::write(&staged, "planted").unwrap();
        let bad = vec![Entry {
            staged: staged.clone(),
            target: victim.clone(),
        }];
        fs::write(&redo, serde_json::to_vec(&bad).unwrap()).unwrap();
        let e = roll_forward(&redo).unwrap_err();
        assert!(
            e.source
                .to_string()
                .contains("not a file of the configuration"),
            "{e:?}"
        );
        assert!(view(&redo, &victim).is_err());
        assert_eq!(fs::read_to_string(&victim).unwrap(), "root:x");

        fs::write(&redo, "{half").unwrap();
        let e = roll_forward(&redo).unwrap_err();
        assert!(e.source.to_string().contains("remove it"), "{e:?}");
    }
}

//! Crash-safe writes: a temporary file in the same directory, written, fsynced, given its mode,
//! renamed over the target, then the directory fsynced. Whatever kills the process, the target is
//! the old file or the new one, never a mix.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use thiserror::Error;

#[derive(Debug, Error)]
#[error("cannot write {path}")]
pub struct WriteError {
    pub path: PathBuf,
    pub source: io::Error,
}

/// Writes `contents` to `path` atomically with `mode`. Returns `false` and touches nothing when the
/// file already holds exactly these bytes and this mode.
pub fn write_if_changed(path: &Path, contents: &[u8], mode: u32) -> Result<bool, WriteError> {
    if holds(path, contents, mode) {
        return Ok(false);
    }
    write(path, contents, mode)?;
    Ok(true)
}

/// Whether `path` holds exactly `contents` with `mode`.
pub fn holds(path: &Path, contents: &[u8], mode: u32) -> bool {
    fs::read(path).is_ok_and(|current| current == contents)
        && super::modes::mode_of(path) == Some(mode)
}

pub fn write(path: &Path, contents: &[u8], mode: u32) -> Result<(), WriteError> {
    let err = |source| WriteError {
        path: path.to_path_buf(),
        source,
    };
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .ok_or_else(|| err(io::Error::other("not a file path")))?;
    let tmp = dir.join(format!(
        ".{}.tmp{}",
        name.to_string_lossy(),
        std::process::id()
    ));

    let result = (|| {
        write_synced(&tmp, contents, mode)?;
        fs::rename(&tmp, path)?;
        File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map_err(err)
}

/// Writes `path` with `mode` and fsyncs it. Created with the final mode from the start: a secret
/// is never readable by others, not even for the moment between create and chmod.
pub(super) fn write_synced(path: &Path, contents: &[u8], mode: u32) -> io::Result<()> {
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(path)?;
    f.set_permissions(fs::Permissions::from_mode(mode))?;
    f.write_all(contents)?;
    f.sync_all()
}

/// Removes `path` and fsyncs its directory; a missing file is not an error.
pub fn remove(path: &Path) -> Result<bool, WriteError> {
    match fs::remove_file(path) {
        Ok(()) => {
            if let Some(dir) = path.parent() {
                let _ = File::open(dir).and_then(|d| d.sync_all());
            }
            Ok(true)
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(source) => Err(WriteError {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Leftover temporary files of a run that was killed mid-write.
pub fn clean_leftovers(dir: &Path) {
    if let Ok(entries) = fs::read_dir(dir) {
        for e in entries.flatten() {
            let n = e.file_name();
            let n = n.to_string_lossy();
            if n.starts_with('.') && n.contains(".tmp") {
                let _ = fs::remove_file(e.path());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn writes_with_mode_and_skips_identical_content() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join(".env");
        assert!(write_if_changed(&p, b"A=1\n", 0o600).unwrap());
        assert_eq!(fs::metadata(&p).unwrap().mode() & 0o777, 0o600);
        let mtime = fs::metadata(&p).unwrap().modified().unwrap();
        assert!(!write_if_changed(&p, b"A=1\n", 0o600).unwrap());
        assert_eq!(fs::metadata(&p).unwrap().modified().unwrap(), mtime);
        assert!(write_if_changed(&p, b"A=2\n", 0o600).unwrap());
        assert_eq!(fs::read(&p).unwrap(), b"A=2\n");
        // A wrong mode alone is repaired.
        fs::set_permissions(&p, fs::Permissions::from_mode(0o644)).unwrap();
        assert!(write_if_changed(&p, b"A=2\n", 0o600).unwrap());
        assert_eq!(fs::metadata(&p).unwrap().mode() & 0o777, 0o600);
        assert_eq!(
            fs::read_dir(d.path()).unwrap().count(),
            1,
            "no temporary file left"
        );
    }
}

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
pub(crate) struct WriteError {
    pub path: PathBuf,
    pub source: io::Error,
}

/// Writes `contents` to `path` atomically with `mode`. Returns `false` and touches nothing when the
/// file already holds exactly these bytes and this mode.
pub(crate) fn write_if_changed(
    path: &Path,
    contents: &[u8],
    mode: u32,
) -> Result<bool, WriteError> {
    if holds(path, contents, mode) {
        return Ok(false);
    }
    write(path, contents, mode)?;
    Ok(true)
}

/// The directory a file path is in (`.` for a bare name): where its temporary file goes.
pub(crate) fn dir_of(path: &Path) -> &Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// Whether `path` holds exactly `contents` with `mode`.
pub(crate) fn holds(path: &Path, contents: &[u8], mode: u32) -> bool {
    fs::read(path).is_ok_and(|current| current == contents)
        && super::modes::mode_of(path) == Some(mode)
}

pub(crate) fn write(path: &Path, contents: &[u8], mode: u32) -> Result<(), WriteError> {
    let err = |source| WriteError {
        path: path.to_path_buf(),
        source,
    };
    let dir = dir_of(path);
    let name = path
        .file_name()
        .ok_or_else(|| err(io::Error::other("not a file path")))?;
    let (mut f, tmp) = create_temp(dir, &name.to_string_lossy(), mode).map_err(err)?;
    let result = (|| {
        f.write_all(contents)?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, path)?;
        File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map_err(err)
}

/// A new temporary file `.NAME.tmp-RANDOM` in `dir`, for a file later renamed over `dir/NAME`.
/// The name is unpredictable and the file is created exclusively without following a link, so
/// that nothing planted under that name (a symbolic link to another file) is ever written
/// through; it has `mode` from the start.
pub(crate) fn create_temp(dir: &Path, name: &str, mode: u32) -> io::Result<(File, PathBuf)> {
    loop {
        let mut random = [0u8; 8];
        getrandom::fill(&mut random).map_err(|e| io::Error::other(e.to_string()))?;
        let suffix: String = random.iter().map(|b| format!("{b:02x}")).collect();
        let tmp = dir.join(format!(".{name}.tmp-{suffix}"));
        match create_new(&tmp, mode) {
            Ok(f) => return Ok((f, tmp)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
}

/// `O_CREAT | O_EXCL | O_NOFOLLOW` with `mode`, then exactly `mode` whatever the umask.
pub(crate) fn create_new(path: &Path, mode: u32) -> io::Result<File> {
    let f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_CLOEXEC)
        .open(path)?;
    f.set_permissions(fs::Permissions::from_mode(mode))?;
    Ok(f)
}

/// Writes a new file `path` (which must not exist) with `mode` and fsyncs it.
pub(super) fn write_synced(path: &Path, contents: &[u8], mode: u32) -> io::Result<()> {
    let mut f = create_new(path, mode)?;
    f.write_all(contents)?;
    f.sync_all()
}

/// Removes `path` and fsyncs its directory; a missing file is not an error.
pub(crate) fn remove(path: &Path) -> Result<bool, WriteError> {
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
pub(crate) fn clean_leftovers(dir: &Path) {
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

    /// A link planted under any temporary name the writer might use is never written through
    /// nor chmodded.
    #[test]
    fn a_planted_link_is_never_followed() {
        let d = tempfile::tempdir().unwrap();
        let victim = d.path().join("victim");
        fs::write(&victim, "precious").unwrap();
        fs::set_permissions(&victim, fs::Permissions::from_mode(0o644)).unwrap();
        let target = d.path().join("x.tgz");
        for name in [
            format!(".x.tgz.tmp{}", std::process::id()),
            ".x.tgz.tmp".to_string(),
        ] {
            std::os::unix::fs::symlink(&victim, d.path().join(name)).unwrap();
        }
        write(&target, b"bundle", 0o600).unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"bundle");
        assert_eq!(fs::read(&victim).unwrap(), b"precious");
        assert_eq!(fs::metadata(&victim).unwrap().mode() & 0o777, 0o644);
        // Exclusive creation: an existing name is an error, not a write through it.
        let planted = d.path().join("planted");
        std::os::unix::fs::symlink(&victim, &planted).unwrap();
        assert!(create_new(&planted, 0o600).is_err());
        assert_eq!(fs::read(&victim).unwrap(), b"precious");
    }
}

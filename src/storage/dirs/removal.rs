//! Purging a directory the package owns: judged first ([`check_purge`], the rules of
//! [`super::inspect`] for removing), then emptied without crossing into another file system or
//! following a link, and removed only when the package created it.

use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::{self, AtFlags, OFlag};
use nix::sys::stat::{self, Mode, SFlag};
use nix::unistd::{self, UnlinkatFlags};

use super::{DirError, Kind, MARKER, check_path, open_dir, owner, read_marker};

/// What a purge did with a directory.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Purged {
    Missing,
    Removed,
    /// Emptied; the directory stays (the package did not create it, or it is a mount point).
    Emptied,
}

/// Whether [`purge`] may remove `path`, changing nothing: `Ok(None)` when it does not exist,
/// else whether the package created it (`Some(true)`) or adopted it (`Some(false)`). One without
/// the marker, a symbolic link (itself or a parent), a system directory, one owned by another
/// user or writable by others is refused: the rules of [`inspect`], for removing.
pub(crate) fn check_purge(kind: &Kind, path: &Path) -> Result<Option<bool>, DirError> {
    let refused = |reason: String| DirError::Refused {
        what: kind.what,
        path: path.to_path_buf(),
        reason,
    };
    check_path(path).map_err(refused)?;
    if let Some(a) = path
        .ancestors()
        .skip(1)
        .find(|a| std::fs::symlink_metadata(a).is_ok_and(|m| m.file_type().is_symlink()))
    {
        return Err(refused(format!(
            "{} is a symbolic link; remove what you want gone by hand",
            a.display()
        )));
    }
    let meta = match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(DirError::Io {
                action: "inspect",
                path: path.to_path_buf(),
                source,
            });
        }
        Ok(m) if m.file_type().is_symlink() => {
            return Err(refused(
                "it is a symbolic link; remove it and what it points to by hand".into(),
            ));
        }
        Ok(m) if !m.is_dir() => return Err(refused("it is not a directory".into())),
        Ok(m) => m,
    };
    let me = unistd::geteuid().as_raw();
    if meta.uid() != 0 && meta.uid() != me {
        return Err(refused(format!(
            "it is owned by {}, not root, so it is not the package's; delete it by hand if it is unwanted",
            owner(meta.uid())
        )));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(refused(format!(
            "other users can write into it (mode {:04o}), so what it holds may not be the package's; delete it by hand if it is unwanted",
            meta.mode() & 0o7777
        )));
    }
    match std::fs::symlink_metadata(path.join(MARKER)) {
        Ok(_) => read_marker(path).map(Some),
        Err(_) => Err(refused(format!(
            "it has no {MARKER} file, so mathesar did not create it; delete it by hand if it is unwanted"
        ))),
    }
}

/// Empties and removes a directory the package owns (see [`check_purge`]); one it adopted is
/// emptied and kept.
pub(crate) fn purge(kind: &Kind, path: &Path) -> Result<Purged, DirError> {
    let io_err = |action, source| DirError::Io {
        action,
        path: path.to_path_buf(),
        source,
    };
    let Some(created) = check_purge(kind, path)? else {
        return Ok(Purged::Missing);
    };
    let fd = open_dir(path).map_err(|e| io_err("open", e))?;
    let dev = stat::fstat(&fd)
        .map_err(|e| io_err("inspect", e.into()))?
        .st_dev;
    empty(&fd, dev).map_err(|e| io_err("empty", e))?;
    if !created {
        return Ok(Purged::Emptied);
    }
    let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
        return Ok(Purged::Emptied);
    };
    let pfd = open_dir(parent).map_err(|e| io_err("open the parent of", e))?;
    match unistd::unlinkat(&pfd, name, UnlinkatFlags::RemoveDir) {
        Ok(()) => Ok(Purged::Removed),
        // A mount point stays, empty.
        Err(Errno::EBUSY) => Ok(Purged::Emptied),
        Err(e) => Err(io_err("remove", e.into())),
    }
}

/// Removes everything below an open directory, never following a link nor crossing into
/// another file system.
fn empty(dir: &OwnedFd, dev: u64) -> io::Result<()> {
    let names: Vec<CString> = {
        let mut d = nix::dir::Dir::from_fd(dir.try_clone()?)?;
        d.iter()
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_owned())
            .filter(|n| n.as_bytes() != b"." && n.as_bytes() != b"..")
            .collect()
    };
    for name in names {
        let st = stat::fstatat(dir, name.as_c_str(), AtFlags::AT_SYMLINK_NOFOLLOW)?;
        let is_dir = SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFDIR;
        if is_dir {
            if st.st_dev != dev {
                return Err(io::Error::other(format!(
                    "{} is a mount point; unmount it first",
                    show(&name)
                )));
            }
            let sub = fcntl::openat(
                dir,
                name.as_c_str(),
                OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                Mode::empty(),
            )?;
            empty(&sub, dev)?;
            unistd::unlinkat(dir, name.as_c_str(), UnlinkatFlags::RemoveDir)?;
        } else {
            unistd::unlinkat(dir, name.as_c_str(), UnlinkatFlags::NoRemoveDir)?;
        }
    }
    Ok(())
}

fn show(name: &CStr) -> String {
    String::from_utf8_lossy(name.to_bytes()).into_owned()
}

//! Opening and creating directories from `/` one component at a time, following no symbolic
//! link (`O_NOFOLLOW` at each step), with exactly the mode asked whatever the umask.

use std::ffi::OsStr;
use std::io;
use std::os::fd::OwnedFd;
use std::path::{Component, Path};

use nix::errno::Errno;
use nix::fcntl::{self, OFlag};
use nix::sys::stat::{self, Mode};

/// Opens a directory walking from `/` one component at a time, following no symbolic link.
pub(crate) fn open_dir(path: &Path) -> io::Result<OwnedFd> {
    walk(path, None).map(|(fd, _)| fd)
}

/// Opens `path`, creating what is missing (parents 0755, `path` itself `mode`) without following
/// a symbolic link.
pub(crate) fn create_dir_all(path: &Path, mode: u32) -> io::Result<OwnedFd> {
    walk(path, Some(mode)).map(|(fd, _)| fd)
}

/// Creates `rel` (relative, no `..`) under an open directory, parents 0755 and the last `mode`;
/// an existing one is left as it is.
pub(crate) fn create_under(base: &OwnedFd, rel: &Path, mode: u32) -> io::Result<()> {
    let mut cur = base.try_clone()?;
    let parts: Vec<&OsStr> = rel
        .components()
        .map(|c| match c {
            Component::Normal(n) => Ok(n),
            _ => Err(io::Error::other("not a plain relative path")),
        })
        .collect::<io::Result<_>>()?;
    for (i, part) in parts.iter().enumerate() {
        let m = if i + 1 == parts.len() { mode } else { 0o755 };
        cur = step(&cur, part, Some(m))?.0;
    }
    Ok(())
}

/// The directory opened, and whether this call created its last component.
pub(super) fn walk(path: &Path, create: Option<u32>) -> io::Result<(OwnedFd, bool)> {
    if !path.is_absolute() {
        return Err(io::Error::other("not an absolute path"));
    }
    let mut cur = fcntl::open(
        "/",
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    let mut created = false;
    let parts: Vec<&OsStr> = path
        .components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n),
            _ => None,
        })
        .collect();
    for (i, part) in parts.iter().enumerate() {
        let m = create.map(|m| if i + 1 == parts.len() { m } else { 0o755 });
        (cur, created) = step(&cur, part, m)?;
    }
    Ok((cur, created))
}

/// One component: opened without following a link; created with `create` (then given exactly
/// that mode, whatever the umask) when missing.
pub(super) fn step(
    dir: &OwnedFd,
    name: &OsStr,
    create: Option<u32>,
) -> io::Result<(OwnedFd, bool)> {
    let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    match fcntl::openat(dir, name, flags, Mode::empty()) {
        Ok(fd) => Ok((fd, false)),
        Err(Errno::ENOENT) if create.is_some() => {
            let mode = create.unwrap_or(0o755);
            match stat::mkdirat(dir, name, Mode::from_bits_truncate(mode)) {
                Ok(()) => {
                    let fd = fcntl::openat(dir, name, flags, Mode::empty())?;
                    stat::fchmod(&fd, Mode::from_bits_truncate(mode))?;
                    Ok((fd, true))
                }
                Err(Errno::EEXIST) => Ok((fcntl::openat(dir, name, flags, Mode::empty())?, false)),
                Err(e) => Err(e.into()),
            }
        }
        Err(Errno::ELOOP) | Err(Errno::ENOTDIR) => Err(io::Error::other(format!(
            "{} is a symbolic link or not a directory",
            name.to_string_lossy()
        ))),
        Err(e) => Err(e.into()),
    }
}

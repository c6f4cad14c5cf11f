//! The copy of mathesarctl a removal keeps for a later purge. dpkg deletes `/usr/bin/mathesarctl`
//! before `postrm purge` runs, but what a purge removes is mathesarctl's alone to decide
//! (`mathesarctl purge`: day2::purge and storage::dirs): `prerm remove` copies the binary into a
//! directory only root can write into ([`keep`]); the postrm runs that copy once its shell has
//! checked the same ([`trusted`]: it cannot leave that to the copy) and deletes it; the postinst
//! deletes a copy a removal left when the package is installed again ([`discard`]).

use std::fs::Metadata;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::systemd::debian::under;

/// The directory of the copy.
pub(crate) const DIR: &str = "/var/lib/mathesarctl";
const NAME: &str = "mathesarctl";
/// The copy being written, renamed into place once complete.
const STAGED: &str = ".mathesarctl.new";
/// The binary the package installs.
const INSTALLED: &str = "/usr/bin/mathesarctl";

#[derive(Debug, Error)]
pub(crate) enum KeepError {
    #[error("{0} is not a directory of root's that only root can enter")]
    Untrusted(PathBuf),
    #[error("{0}: {1}")]
    Io(PathBuf, #[source] std::io::Error),
}

/// A real file or directory (not a symbolic link) of `uid`'s, none of whose permission bits in
/// `forbidden` is set: `0o022` for the copy and its directory (nobody else can write into them),
/// `0o077` for a directory [`keep`] takes over (nobody else can even enter it).
pub(crate) fn trusted(meta: &Metadata, uid: u32, forbidden: u32) -> bool {
    !meta.file_type().is_symlink() && meta.uid() == uid && meta.mode() & forbidden == 0
}

/// Keeps a copy of the installed binary (under `root`) in [`DIR`], made 0700: a fresh directory
/// of root's, or an existing one only when it is a real directory of root's that nobody else can
/// enter (a leftover of an earlier removal).
pub(crate) fn keep(root: &Path) -> Result<(), KeepError> {
    let dir = under(root, DIR);
    let io = |p: &Path| {
        let p = p.to_path_buf();
        move |e| KeepError::Io(p, e)
    };
    match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
        Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => return Err(io(&dir)(e)),
        _ => {}
    }
    let meta = std::fs::symlink_metadata(&dir).map_err(io(&dir))?;
    if !meta.is_dir() || !trusted(&meta, nix::unistd::geteuid().as_raw(), 0o077) {
        return Err(KeepError::Untrusted(dir));
    }
    let staged = dir.join(STAGED);
    let copied = (|| {
        match std::fs::remove_file(&staged) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        std::fs::copy(under(root, INSTALLED), &staged)?;
        std::fs::set_permissions(&staged, std::fs::Permissions::from_mode(0o700))?;
        std::fs::rename(&staged, dir.join(NAME))
    })();
    copied.map_err(|e| {
        let _ = std::fs::remove_file(&staged);
        KeepError::Io(dir.join(NAME), e)
    })
}

/// Deletes a kept copy (a removal that was never purged) and its directory.
pub(crate) fn discard(root: &Path) {
    let dir = under(root, DIR);
    for name in [NAME, STAGED] {
        let _ = std::fs::remove_file(dir.join(name));
    }
    let _ = std::fs::remove_dir(&dir);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn installed(root: &Path) {
        let bin = under(root, INSTALLED);
        std::fs::create_dir_all(bin.parent().unwrap()).unwrap();
        std::fs::write(&bin, "#!/bin/sh\n").unwrap();
    }

    fn mode(p: &Path) -> u32 {
        std::fs::symlink_metadata(p).unwrap().mode() & 0o7777
    }

    #[test]
    fn the_copy_is_root_s_alone_and_discarded() {
        let root = tempfile::tempdir().unwrap();
        installed(root.path());
        std::fs::create_dir_all(root.path().join("var/lib")).unwrap();
        keep(root.path()).unwrap();
        let dir = under(root.path(), DIR);
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir.join(NAME)), 0o700);
        assert_eq!(std::fs::read(dir.join(NAME)).unwrap(), b"#!/bin/sh\n");
        // Again (a leftover of an earlier removal): replaced.
        keep(root.path()).unwrap();
        assert!(!dir.join(STAGED).exists());
        discard(root.path());
        assert!(!dir.exists());
        discard(root.path());
    }

    /// A directory others could enter, or a link to one, is not used; nothing is written into it.
    #[test]
    fn an_untrusted_directory_is_refused() {
        let root = tempfile::tempdir().unwrap();
        installed(root.path());
        std::fs::create_dir_all(root.path().join("var/lib")).unwrap();
        let dir = under(root.path(), DIR);
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert!(matches!(keep(root.path()), Err(KeepError::Untrusted(_))));
        assert!(!dir.join(NAME).exists());
        std::fs::remove_dir(&dir).unwrap();
        let elsewhere = root.path().join("elsewhere");
        std::fs::create_dir(&elsewhere).unwrap();
        std::fs::set_permissions(&elsewhere, std::fs::Permissions::from_mode(0o700)).unwrap();
        std::os::unix::fs::symlink(&elsewhere, &dir).unwrap();
        assert!(matches!(keep(root.path()), Err(KeepError::Untrusted(_))));
        assert!(!elsewhere.join(NAME).exists());
        // No binary to copy: said, nothing left half-written.
        std::fs::remove_file(&dir).unwrap();
        std::fs::remove_file(under(root.path(), INSTALLED)).unwrap();
        assert!(matches!(keep(root.path()), Err(KeepError::Io(..))));
        assert!(!dir.join(STAGED).exists());
    }

    #[test]
    fn trusted_means_a_real_file_of_the_user_nobody_else_writes() {
        let d = tempfile::tempdir().unwrap();
        let me = nix::unistd::geteuid().as_raw();
        let f = d.path().join("f");
        std::fs::write(&f, "").unwrap();
        let meta = |p: &Path| std::fs::symlink_metadata(p).unwrap();
        for (m, copy_ok, dir_ok) in [
            (0o700, true, true),
            (0o755, true, false),
            (0o750, true, false),
            (0o720, false, false),
            (0o702, false, false),
            (0o777, false, false),
        ] {
            std::fs::set_permissions(&f, std::fs::Permissions::from_mode(m)).unwrap();
            assert_eq!(trusted(&meta(&f), me, 0o022), copy_ok, "{m:o}");
            assert_eq!(trusted(&meta(&f), me, 0o077), dir_ok, "{m:o}");
        }
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o700)).unwrap();
        assert!(!trusted(&meta(&f), me + 1, 0o022), "another user's");
        let link = d.path().join("link");
        std::os::unix::fs::symlink(&f, &link).unwrap();
        assert!(!trusted(&meta(&link), me, 0o022), "a link");
    }
}

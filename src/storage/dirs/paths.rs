//! Where the package may put a directory at all, judged on the path and its parents alone:
//! never a system directory or below a kernel tree, never under a parent another user could
//! replace.

use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path};

use nix::unistd;

use super::owner;

/// Directories whose loss or chmod breaks the system or other users' files.
const SYSTEM_DIRS: &[&str] = &[
    "/",
    "/bin",
    "/boot",
    "/dev",
    "/etc",
    "/etc/default",
    "/etc/docker",
    "/etc/ssl",
    "/etc/systemd",
    "/home",
    "/lost+found",
    "/media",
    "/mnt",
    "/opt",
    "/proc",
    "/root",
    "/run",
    "/sbin",
    "/snap",
    "/srv",
    "/sys",
    "/tmp",
    "/usr",
    "/usr/bin",
    "/usr/include",
    "/usr/lib",
    "/usr/lib32",
    "/usr/lib64",
    "/usr/libexec",
    "/usr/local",
    "/usr/local/bin",
    "/usr/local/lib",
    "/usr/local/sbin",
    "/usr/local/share",
    "/usr/sbin",
    "/usr/share",
    "/usr/src",
    "/var",
    "/var/backups",
    "/var/cache",
    "/var/lib",
    "/var/lib/docker",
    "/var/local",
    "/var/lock",
    "/var/log",
    "/var/mail",
    "/var/opt",
    "/var/run",
    "/var/spool",
    "/var/tmp",
    "/var/www",
];
/// Kernel and boot trees: nothing of ours belongs anywhere below them.
const SYSTEM_TREES: &[&str] = &["/boot", "/dev", "/proc", "/run", "/sys", "/var/run"];

/// The path rules alone, touching nothing: absolute, written in its normal form, and not a
/// system directory.
pub(crate) fn check_path(p: &Path) -> Result<(), String> {
    let Some(s) = p.to_str() else {
        return Err("it is not valid UTF-8".into());
    };
    if !s.starts_with('/') {
        return Err("use an absolute path".into());
    }
    let mut normal = String::new();
    for c in p.components() {
        match c {
            Component::RootDir => {}
            Component::Normal(n) => {
                normal.push('/');
                normal.push_str(&n.to_string_lossy());
            }
            _ => return Err("`.` and `..` are not allowed in the path".into()),
        }
    }
    if normal != s {
        if normal.is_empty() {
            return Err("it is the root directory".into());
        }
        return Err(format!(
            "write it in its normal form ({normal}): no `//`, `.`, `..` or trailing `/`"
        ));
    }
    let system = SYSTEM_DIRS.contains(&s)
        || SYSTEM_TREES
            .iter()
            .any(|t| s.strip_prefix(t).is_some_and(|r| r.starts_with('/')))
        || (p.components().count() == 2 && s.starts_with("/lib"));
    if system {
        return Err(format!(
            "{s} is a system directory; use a directory of its own such as /etc/mathesar or /var/lib/mathesar"
        ));
    }
    Ok(())
}

/// The parents of `path`: real directories (no symbolic link) of root's (or of the user running
/// this) that nobody else can write into, except a sticky one of root's such as `/tmp`, where
/// nobody else can move or replace what root put in it.
pub(super) fn check_parents(path: &Path) -> Result<(), String> {
    let me = unistd::geteuid().as_raw();
    for a in path.ancestors().skip(1) {
        let Ok(m) = std::fs::symlink_metadata(a) else {
            continue;
        };
        if m.file_type().is_symlink() {
            return Err(format!(
                "{} is a symbolic link; name the real directory",
                a.display()
            ));
        }
        if m.uid() != 0 && m.uid() != me {
            return Err(format!(
                "its parent {} is owned by {}, who could replace it; use a directory whose parents belong to root",
                a.display(),
                owner(m.uid())
            ));
        }
        let sticky = m.mode() & 0o1000 != 0 && m.uid() == 0;
        if m.mode() & 0o022 != 0 && !sticky {
            return Err(format!(
                "other users can write into its parent {} (mode {:04o}) and could replace it; `chmod go-w {}` or use another directory",
                a.display(),
                m.mode() & 0o7777,
                a.display()
            ));
        }
    }
    Ok(())
}

//! The two directories the package owns, the configuration and the data directory: which paths
//! may be used at all, whether an existing directory may be taken over, and creating or emptying
//! one without following a symbolic link. `mathesarctl` runs as root with paths from answers
//! files, the environment and debconf: a wrong path must be refused before anything is touched,
//! never repaired by a chmod or a delete.
//!
//! A directory the package created carries a marker file ([`MARKER`], `created`); an existing
//! empty one it took over carries one saying `adopted`. Only a marked directory is ever emptied by
//! a purge, and only a `created` one is chmodded or removed. A directory without the marker that
//! holds files with the package's names is never taken over on the strength of the names: only
//! an installation older than the marker, proven by what mathesarctl always wrote (the header of
//! its `.env` and compose file; for the data directory, that configuration naming it), is marked,
//! and then `adopted` (its files are the package's; the directory itself may not be).

use std::fs::File;
use std::io::{self, Read, Seek, Write};
use std::os::fd::OwnedFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use nix::fcntl::{self, OFlag};
use nix::sys::stat::{self, Mode};
use nix::unistd::{self};
use thiserror::Error;

mod paths;
mod removal;
mod walk;

use paths::check_parents;
pub(crate) use paths::check_path;
pub(crate) use removal::{Purged, check_purge, purge};
use walk::walk;
pub(crate) use walk::{create_dir_all, create_under, open_dir};

/// The marker file in a directory the package owns.
pub(crate) const MARKER: &str = ".mathesar-owned";
const CREATED: &str = "created";
const ADOPTED: &str = "adopted";

#[derive(Debug, Error)]
pub enum DirError {
    #[error("the {what} {path} is refused: {reason}")]
    Refused {
        what: &'static str,
        path: PathBuf,
        reason: String,
    },
    #[error("cannot {action} {path}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

impl DirError {
    pub fn code(&self) -> crate::exit::Code {
        match self {
            DirError::Refused { .. } => crate::exit::Code::InvalidAnswer,
            DirError::Io { .. } => crate::exit::Code::Io,
        }
    }
}

/// What an existing path is, as far as the package is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    Missing,
    /// The package created it (marker `created`).
    Created,
    /// The package took it over while it was empty (marker `adopted`).
    Adopted,
    /// No marker; empty, or holding only what the administrator prepares for the package
    /// ([`Kind::inputs`]: `answers.yml`, `docker-compose.override.yml`, `lost+found`).
    Unmarked,
    /// No marker, but holding the package's files with proof that mathesarctl wrote them: an
    /// installation older than the marker.
    Legacy,
}

/// The rules of one directory: its name in messages, the entries the package itself puts there,
/// those of them the administrator may put there before the package (never written by it), the
/// proof in the directory that an unmarked one is an older installation's, and whether every
/// entry must belong to root (the configuration directory; the data directory holds files the
/// containers' users own).
pub struct Kind {
    pub what: &'static str,
    pub option: &'static str,
    pub known: &'static [&'static str],
    pub inputs: &'static [&'static str],
    pub proof: fn(&Path) -> bool,
    pub root_owned_entries: bool,
    /// The package's own default path for it: an empty root-owned directory found there was
    /// made for the package (by an administrator or a configuration tool) and is taken as the
    /// package's, with the package's mode.
    pub default: Option<&'static str>,
}

pub const CONFIG: Kind = Kind {
    what: "configuration directory",
    option: "--config-dir",
    known: &[
        ".env",
        "docker-compose.yml",
        "docker-compose.override.yml",
        "initial-admin-password",
        ".admin-password",
        "answers.yml",
        ".lock",
        ".pending",
        "mathesar-version",
        "backup-password",
        "backup-rest-password",
        "backup-ssh-key",
        "backup-ssh-key.pub",
        "backup-known-hosts",
    ],
    inputs: &["answers.yml", "docker-compose.override.yml", ".lock"],
    proof: written_by_mathesarctl,
    root_owned_entries: true,
    default: Some(super::layout::DEFAULT_CONFIG_DIR),
};

pub const DATA: Kind = Kind {
    what: "data directory",
    option: "the answer `data-dir`",
    known: &[
        "pgdata",
        "msar",
        "caddy",
        "pg-tls",
        // The dated copies of an installation taken over (`adoption`).
        "adopted",
        super::layout::ADMIN_CREATED,
        super::layout::USER_DB_CONNECTED,
        super::layout::CARRIED_ADMIN_HASH,
        super::layout::BACKUP_RECORD,
        "lost+found",
    ],
    inputs: &["lost+found"],
    // Nothing in it is written by mathesarctl alone: only the configuration naming it proves it
    // ([`inspect_named`]).
    proof: |_| false,
    root_owned_entries: false,
    default: None,
};

/// A backup directory (and its `config/`): read by `restore`, which writes what it holds into the
/// configuration as root; only its trust is judged ([`check_trusted`]).
pub(crate) const BACKUP: Kind = Kind {
    what: "backup directory",
    option: "another backup",
    known: &[],
    inputs: &[],
    proof: |_| false,
    root_owned_entries: true,
    default: None,
};

/// The first line every `.env` mathesarctl wrote starts with, and that of its compose file
/// (unchanged since the first release, see `rendering`).
const ENV_HEADER: &[u8] = b"# Generated by `mathesarctl configure`";
const COMPOSE_HEADER: &[u8] = b"# Generated by mathesarctl ";

/// Whether the configuration files in `dir` are mathesarctl's: its `.env` (always written, with
/// the compose file, as one set) and the compose file, when there, start with the headers it
/// writes. Read without following a link; the caller has checked that only root can write them.
fn written_by_mathesarctl(dir: &Path) -> bool {
    let starts_with = |name: &str, header: &[u8]| -> Option<bool> {
        let fd = open_dir(dir).ok()?;
        let f = fcntl::openat(
            &fd,
            name,
            OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC | OFlag::O_NONBLOCK,
            Mode::empty(),
        )
        .ok()?;
        let f = File::from(f);
        if !f.metadata().ok()?.is_file() {
            return Some(false);
        }
        let mut head = Vec::new();
        (&f).take(header.len() as u64).read_to_end(&mut head).ok()?;
        Some(head == header)
    };
    starts_with(".env", ENV_HEADER) == Some(true)
        && starts_with("docker-compose.yml", COMPOSE_HEADER) != Some(false)
}

/// Looks at `path` without changing anything and says whether the package may use it.
pub(crate) fn inspect(kind: &Kind, path: &Path) -> Result<State, DirError> {
    inspect_named(kind, path, false)
}

/// [`inspect`], where `named` says whether the package's own configuration (marked, or proven an
/// older installation) names `path` as this directory: the proof an unmarked data directory of an
/// installation older than the marker has.
pub(crate) fn inspect_named(kind: &Kind, path: &Path, named: bool) -> Result<State, DirError> {
    let refused = |reason: String| DirError::Refused {
        what: kind.what,
        path: path.to_path_buf(),
        reason,
    };
    let io_err = |source| DirError::Io {
        action: "inspect",
        path: path.to_path_buf(),
        source,
    };
    check_path(path).map_err(refused)?;
    check_parents(path).map_err(refused)?;
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(State::Missing),
        Err(e) => return Err(io_err(e)),
    };
    if meta.file_type().is_symlink() {
        return Err(refused(
            "it is a symbolic link; name the real directory".into(),
        ));
    }
    if !meta.is_dir() {
        return Err(refused("it exists and is not a directory".into()));
    }
    let me = unistd::geteuid().as_raw();
    let trusted = |uid: u32| uid == 0 || uid == me;
    if !trusted(meta.uid()) {
        return Err(refused(format!(
            "it is owned by {}, not root. Check who created it; use another directory, or `chown root:root {}` if it is yours",
            owner(meta.uid()),
            path.display()
        )));
    }
    let mut foreign = Vec::new();
    let mut ours = Vec::new();
    let mut untrusted = Vec::new();
    let mut marker = None;
    for e in std::fs::read_dir(path).map_err(io_err)? {
        let e = e.map_err(io_err)?;
        let name = e.file_name().to_string_lossy().into_owned();
        let m = match e.metadata() {
            Ok(m) => m,
            // Gone since it was listed: a concurrent run's temporary file renamed into place.
            Err(err) if err.kind() == io::ErrorKind::NotFound => continue,
            Err(err) => return Err(io_err(err)),
        };
        if (kind.root_owned_entries || meta.mode() & 0o022 != 0) && !trusted(m.uid()) {
            untrusted.push(format!("{name} (owned by {})", owner(m.uid())));
        } else if kind.root_owned_entries && m.mode() & 0o022 != 0 && !m.file_type().is_symlink() {
            untrusted.push(format!(
                "{name} (writable by others, mode {:04o})",
                m.mode() & 0o7777
            ));
        }
        if name == MARKER {
            marker = Some(read_marker(path)?);
        } else if !is_known(kind, &name) {
            foreign.push(name);
        } else if !is_input(kind, &name) {
            ours.push(name);
        }
    }
    untrusted.sort();
    foreign.sort();
    ours.sort();
    if meta.mode() & 0o022 != 0 {
        let planted = if untrusted.is_empty() {
            String::new()
        } else {
            format!("; it holds files of other users: {}", untrusted.join(", "))
        };
        return Err(refused(format!(
            "other users can write into it (mode {:04o}){planted}. Check its files, remove what you did not put there, `chmod go-w {}`, then run again",
            meta.mode() & 0o7777,
            path.display()
        )));
    }
    if !untrusted.is_empty() {
        return Err(refused(format!(
            "it holds files of other users, which mathesarctl does not trust: {}. Check them, remove them or `chown root:root` them, then run again",
            untrusted.join(", ")
        )));
    }
    match marker {
        Some(true) => Ok(State::Created),
        Some(false) => Ok(State::Adopted),
        None if !foreign.is_empty() => Err(refused(format!(
            "it is not empty and was not created by mathesar (it holds {}); choose a new or empty directory",
            list(&foreign)
        ))),
        None if ours.is_empty() => Ok(State::Unmarked),
        None if named || (kind.proof)(path) => Ok(State::Legacy),
        None => Err(refused(format!(
            "it holds {} but has no {MARKER} file: that content was not written by this package (another installation's or another program's), and mathesarctl never takes it over or overwrites it. \
             Use an empty directory or another one ({}), or move that content away; to take over an existing installation on purpose, run `mathesarctl adopt` (or answer the question `adopt`)",
            list(&ours),
            kind.option
        ))),
    }
}

fn is_input(kind: &Kind, name: &str) -> bool {
    kind.inputs.contains(&name)
        || (name.starts_with('.') && (name.contains(".tmp") || name.contains(".staged-")))
}

/// For the commands that read a configuration `configure` wrote (and hand its files to Compose
/// as root): `path`, its parents and every entry in it may be written by root alone. Unlike
/// [`inspect`], other content is not judged (it is not read). A missing directory passes (the
/// caller says it is not configured).
pub(crate) fn check_trusted(kind: &Kind, path: &Path) -> Result<(), DirError> {
    let refused = |reason: String| DirError::Refused {
        what: kind.what,
        path: path.to_path_buf(),
        reason,
    };
    check_parents(path).map_err(refused)?;
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(DirError::Io {
                action: "inspect",
                path: path.to_path_buf(),
                source,
            });
        }
    };
    let me = unistd::geteuid().as_raw();
    let trusted = |uid: u32| uid == 0 || uid == me;
    if meta.file_type().is_symlink() || !meta.is_dir() {
        return Err(refused(
            "it is a symbolic link or not a directory; name the real directory".into(),
        ));
    }
    if !trusted(meta.uid()) {
        return Err(refused(format!(
            "it is owned by {}, not root, so its files cannot be trusted. `chown root:root {}` if it is yours",
            owner(meta.uid()),
            path.display()
        )));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(refused(format!(
            "other users can write into it (mode {:04o}), so its files cannot be trusted. Check its files, `chmod go-w {}`, then run again",
            meta.mode() & 0o7777,
            path.display()
        )));
    }
    let mut bad = Vec::new();
    for e in std::fs::read_dir(path).map_err(|source| DirError::Io {
        action: "inspect",
        path: path.to_path_buf(),
        source,
    })? {
        let Ok(e) = e else { continue };
        let Ok(m) = e.metadata() else { continue };
        let name = e.file_name().to_string_lossy().into_owned();
        if kind.root_owned_entries && !trusted(m.uid()) {
            bad.push(format!("{name} (owned by {})", owner(m.uid())));
        } else if kind.root_owned_entries && m.mode() & 0o022 != 0 && !m.file_type().is_symlink() {
            bad.push(format!(
                "{name} (writable by others, mode {:04o})",
                m.mode() & 0o7777
            ));
        }
    }
    if !bad.is_empty() {
        bad.sort();
        return Err(refused(format!(
            "it holds files others could have written, which mathesarctl does not use as root: {}. Check them, remove them or `chown root:root` and `chmod go-w` them, then run again",
            list(&bad)
        )));
    }
    Ok(())
}

fn is_known(kind: &Kind, name: &str) -> bool {
    kind.known.contains(&name)
        || (name.starts_with('.') && (name.contains(".tmp") || name.contains(".staged-")))
}

fn list(names: &[String]) -> String {
    const SHOWN: usize = 5;
    let mut s = names
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > SHOWN {
        s.push_str(&format!(" and {} more", names.len() - SHOWN));
    }
    s
}

fn owner(uid: u32) -> String {
    match unistd::User::from_uid(unistd::Uid::from_raw(uid)) {
        Ok(Some(u)) => format!("{} (uid {uid})", u.name),
        _ => format!("uid {uid}"),
    }
}

/// Whether the marker in `dir` says `created` (`true`) or `adopted` (`false`); a marker that is
/// not a plain root-owned file of ours is refused.
fn read_marker(dir: &Path) -> Result<bool, DirError> {
    let path = dir.join(MARKER);
    let bad = |reason: &str| DirError::Refused {
        what: "marker file",
        path: path.clone(),
        reason: reason.to_string(),
    };
    let fd = open_dir(dir).map_err(|source| DirError::Io {
        action: "open",
        path: dir.to_path_buf(),
        source,
    })?;
    let f = fcntl::openat(
        &fd,
        MARKER,
        OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC | OFlag::O_NONBLOCK,
        Mode::empty(),
    )
    .map_err(|_| bad("it is not a regular file"))?;
    let mut f = File::from(f);
    let m = f.metadata().map_err(|source| DirError::Io {
        action: "read",
        path: path.clone(),
        source,
    })?;
    if !m.is_file() || (m.uid() != 0 && m.uid() != unistd::geteuid().as_raw()) {
        return Err(bad("it is not a regular file of root's"));
    }
    let mut text = String::new();
    // A concurrent first run creates the marker (O_EXCL) and writes it a moment later: an empty
    // one is read again for up to two seconds before it counts as foreign.
    for _ in 0..100 {
        text.clear();
        let _ = f.seek(std::io::SeekFrom::Start(0));
        let _ = (&mut f).take(64).read_to_string(&mut text);
        if !text.is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    match text.lines().next().unwrap_or_default().trim() {
        CREATED => Ok(true),
        ADOPTED => Ok(false),
        _ => Err(bad("it was not written by mathesarctl")),
    }
}

/// Makes `path` ready for use according to what [`inspect`] found: created with `mode` and marked
/// when missing, marked `adopted` when taken over, chmodded only when the package created it.
pub fn prepare(kind: &Kind, path: &Path, state: State, mode: u32) -> Result<(), DirError> {
    let io_err = |action, source| DirError::Io {
        action,
        path: path.to_path_buf(),
        source,
    };
    match state {
        State::Missing => {
            let (fd, created) = walk(path, Some(mode)).map_err(|e| io_err("create", e))?;
            if created {
                return match write_marker(&fd, CREATED) {
                    // A concurrent first run found the new directory empty and marked it before
                    // this run could: judged again, as it is now.
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                        match inspect(kind, path)? {
                            State::Unmarked | State::Legacy | State::Missing => {
                                Err(io_err("mark", e))
                            }
                            now => prepare(kind, path, now, mode),
                        }
                    }
                    other => other.map_err(|e| io_err("mark", e)),
                };
            }
            // Made by someone else since it was judged: judged again, as it is now.
            match inspect(kind, path)? {
                State::Missing => Err(io_err("create", io::Error::other("it disappeared"))),
                now => prepare(kind, path, now, mode),
            }
        }
        State::Unmarked if kind.default.is_some_and(|d| path == Path::new(d)) => {
            let fd = open_dir(path).map_err(|e| io_err("open", e))?;
            let st = stat::fstat(&fd).map_err(|e| io_err("inspect", e.into()))?;
            let empty = std::fs::read_dir(path)
                .map_err(|e| io_err("list", e))?
                .next()
                .is_none();
            if !(empty && st.st_uid == 0) {
                return adopt(kind, path, &fd, mode);
            }
            // Made empty for the package at its own path: the package's, with its mode.
            match write_marker(&fd, CREATED) {
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    return match inspect(kind, path)? {
                        State::Unmarked | State::Legacy => Err(io_err("mark", e)),
                        now => prepare(kind, path, now, mode),
                    };
                }
                other => other.map_err(|e| io_err("mark", e))?,
            }
            if st.st_mode & 0o7777 != mode {
                stat::fchmod(&fd, Mode::from_bits_truncate(mode))
                    .map_err(|e| io_err("set the mode of", e.into()))?;
                eprintln!(
                    "mathesar: {} was an empty directory (mode {:04o}), made for the package at its default path: taken as the package's and made {mode:04o} (root only)",
                    path.display(),
                    st.st_mode & 0o7777
                );
            }
            Ok(())
        }
        // Empty or prepared by the administrator; or an older installation's, whose files are the
        // package's but whose directory may have been the administrator's: never chmodded.
        State::Unmarked | State::Legacy => {
            let fd = open_dir(path).map_err(|e| io_err("open", e))?;
            adopt(kind, path, &fd, mode)
        }
        State::Created => {
            let fd = open_dir(path).map_err(|e| io_err("open", e))?;
            let st = stat::fstat(&fd).map_err(|e| io_err("inspect", e.into()))?;
            if st.st_mode & 0o7777 != mode {
                stat::fchmod(&fd, Mode::from_bits_truncate(mode))
                    .map_err(|e| io_err("set the mode of", e.into()))?;
            }
            Ok(())
        }
        State::Adopted => Ok(()),
    }
}

/// Marks `path` (open as `fd`) `adopted`: the package's files may go in, the directory stays
/// as it is (never chmodded).
fn adopt(kind: &Kind, path: &Path, fd: &OwnedFd, mode: u32) -> Result<(), DirError> {
    match write_marker(fd, ADOPTED) {
        // A concurrent first run marked it since it was judged: judged again, as it is now.
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => match inspect(kind, path)? {
            State::Unmarked | State::Legacy => Err(DirError::Io {
                action: "mark",
                path: path.to_path_buf(),
                source: e,
            }),
            now => prepare(kind, path, now, mode),
        },
        other => other.map_err(|source| DirError::Io {
            action: "mark",
            path: path.to_path_buf(),
            source,
        }),
    }
}

fn write_marker(dir: &OwnedFd, what: &str) -> io::Result<()> {
    let fd = fcntl::openat(
        dir,
        MARKER,
        OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::from_bits_truncate(0o600),
    )?;
    let mut f = File::from(fd);
    f.write_all(format!("{what}\nThis directory belongs to the mathesar package.\n").as_bytes())?;
    f.sync_all()?;
    File::from(dir.try_clone()?).sync_all()
}

/// A directory of the package's that holds no configuration (the backups' root): created with
/// `mode` when missing; an existing one is used as it is (never chmodded) if it is a real
/// directory of root's that other users cannot write into.
pub(crate) fn ensure_private(what: &'static str, path: &Path, mode: u32) -> Result<(), DirError> {
    let refused = |reason: String| DirError::Refused {
        what,
        path: path.to_path_buf(),
        reason,
    };
    check_path(path).map_err(refused)?;
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => create_dir_all(path, mode)
            .map(drop)
            .map_err(|source| DirError::Io {
                action: "create",
                path: path.to_path_buf(),
                source,
            }),
        Err(source) => Err(DirError::Io {
            action: "inspect",
            path: path.to_path_buf(),
            source,
        }),
        Ok(m) if m.file_type().is_symlink() => Err(refused(
            "it is a symbolic link; name the real directory".into(),
        )),
        Ok(m) if !m.is_dir() => Err(refused("it is not a directory".into())),
        Ok(m) if m.uid() != 0 && m.uid() != unistd::geteuid().as_raw() => Err(refused(format!(
            "it is owned by {}, not root",
            owner(m.uid())
        ))),
        Ok(m) if m.mode() & 0o022 != 0 => Err(refused(format!(
            "other users can write into it (mode {:04o}); `chmod go-w {}` or use another directory",
            m.mode() & 0o7777,
            path.display()
        ))),
        Ok(_) => Ok(()),
    }
}

/// The configuration and data directories must not contain each other: a purge of the data
/// would take the configuration with it, or the reverse.
pub(crate) fn refuse_nested(config_dir: &Path, data_dir: &Path) -> Result<(), String> {
    if data_dir.starts_with(config_dir) || config_dir.starts_with(data_dir) {
        return Err(format!(
            "it and the configuration directory ({}) must not contain each other",
            config_dir.display()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests;

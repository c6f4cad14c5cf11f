//! File modes and owners, set and checked in one place.

use std::fs;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::Path;

use thiserror::Error;

/// The configuration and data directories: root only.
pub(crate) const PRIVATE_DIR: u32 = 0o700;
/// `.env`, the compose file, the admin password: root only.
pub(crate) const PRIVATE_FILE: u32 = 0o600;
/// Files containers read that hold no secret (the Caddyfile).
pub(crate) const PUBLIC_FILE: u32 = 0o644;
/// Directories containers write into as their own users (PostgreSQL data is chowned by its image).
pub(crate) const SHARED_DIR: u32 = 0o755;

#[derive(Debug, Error)]
pub(crate) enum ModeError {
    #[error("cannot create {path}")]
    Create {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot set the mode of {path}")]
    Chmod {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} is not a directory")]
    NotADirectory { path: String },
    #[error(
        "{path} is owned by uid {uid}, not root: refusing to use it. Check who created it, then `chown root:root {path}`"
    )]
    NotRootOwned { path: String, uid: u32 },
}

/// Creates `dir` (and parents) if missing, then enforces `mode` on it; a directory that exists but
/// belongs to someone else than root (or the current user, in tests) is refused.
pub(crate) fn ensure_dir(dir: &Path, mode: u32) -> Result<(), ModeError> {
    let path = dir.display().to_string();
    if !dir.exists() {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(mode)
            .create(dir)
            .map_err(|source| ModeError::Create {
                path: path.clone(),
                source,
            })?;
    }
    let meta = fs::metadata(dir).map_err(|source| ModeError::Create {
        path: path.clone(),
        source,
    })?;
    if !meta.is_dir() {
        return Err(ModeError::NotADirectory { path });
    }
    let me = nix::unistd::geteuid().as_raw();
    if meta.uid() != 0 && meta.uid() != me {
        return Err(ModeError::NotRootOwned {
            path,
            uid: meta.uid(),
        });
    }
    if meta.mode() & 0o7777 != mode {
        fs::set_permissions(dir, fs::Permissions::from_mode(mode))
            .map_err(|source| ModeError::Chmod { path, source })?;
    }
    Ok(())
}

/// The permission bits of `path`, or `None` if it does not exist.
pub(crate) fn mode_of(path: &Path) -> Option<u32> {
    fs::metadata(path).ok().map(|m| m.mode() & 0o7777)
}

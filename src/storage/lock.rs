//! One writer at a time: an exclusive `flock` on a lock file in the configuration directory.
//! Readers take it shared, so that they never see a writer's half-finished set of files.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};
use thiserror::Error;

#[derive(Debug, Error)]
pub(crate) enum LockError {
    #[error("cannot open the lock file {path}")]
    Open {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "another mathesarctl run still holds {path} after {waited:?}; wait for it to finish (see `ps -C mathesarctl`) and try again"
    )]
    Busy { path: PathBuf, waited: Duration },
    #[error("cannot lock {path}")]
    Lock { path: PathBuf, source: Errno },
}

impl LockError {
    pub(crate) fn code(&self) -> crate::exit::Code {
        match self {
            LockError::Busy { .. } => crate::exit::Code::LockBusy,
            _ => crate::exit::Code::Io,
        }
    }
}

/// How long commands other than `configure` (which has `--lock-timeout`) wait for the lock.
pub(crate) const DEFAULT_WAIT: Duration = Duration::from_secs(120);

/// Held for as long as it lives; the kernel releases it if the process dies.
pub(crate) struct Lock(#[allow(dead_code)] Flock<File>);

/// Takes the lock, waiting up to `timeout`; `on_wait` is called once if another run holds it.
pub(crate) fn acquire(
    path: &Path,
    timeout: Duration,
    on_wait: impl FnOnce(),
) -> Result<Lock, LockError> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(path)
        .map_err(|source| LockError::Open {
            path: path.to_path_buf(),
            source,
        })?;
    take(
        file,
        path,
        FlockArg::LockExclusiveNonblock,
        timeout,
        on_wait,
    )
}

/// A reader's lock: shared, and only when the lock file exists (a reader creates nothing; without
/// the file no writer has ever run there). `None` when there is no lock file.
pub(crate) fn acquire_shared(path: &Path, timeout: Duration) -> Result<Option<Lock>, LockError> {
    let file = match OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(LockError::Open {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    take(file, path, FlockArg::LockSharedNonblock, timeout, || {}).map(Some)
}

fn take(
    mut file: File,
    path: &Path,
    arg: FlockArg,
    timeout: Duration,
    on_wait: impl FnOnce(),
) -> Result<Lock, LockError> {
    let start = Instant::now();
    let mut on_wait = Some(on_wait);
    loop {
        match Flock::lock(file, arg) {
            Ok(lock) => return Ok(Lock(lock)),
            Err((f, Errno::EWOULDBLOCK)) => {
                if let Some(cb) = on_wait.take() {
                    cb();
                }
                if start.elapsed() >= timeout {
                    return Err(LockError::Busy {
                        path: path.to_path_buf(),
                        waited: timeout,
                    });
                }
                file = f;
                std::thread::sleep(Duration::from_millis(100));
            }
            Err((_, source)) => {
                return Err(LockError::Lock {
                    path: path.to_path_buf(),
                    source,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_waits_then_times_out() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join(".lock");
        let first = acquire(&p, Duration::ZERO, || {}).unwrap();
        let mut waited = false;
        let err = acquire(&p, Duration::from_millis(250), || waited = true)
            .err()
            .unwrap();
        assert!(waited);
        assert!(matches!(err, LockError::Busy { .. }));
        drop(first);
        acquire(&p, Duration::ZERO, || {}).unwrap();
    }
}

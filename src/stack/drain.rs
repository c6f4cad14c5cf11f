//! Taking this host out of a load balancer's rotation before it stops. Behind a load balancer
//! (README "Several hosts"), the balancer health-checks each host's proxy at
//! `/caddy-health-check`; while a marker file exists in the proxy's data directory
//! (`DATA_DIR/caddy/data/mathesar-draining`, `/data/mathesar-draining` inside), the proxy answers
//! that check `503 draining` and still serves every other request. The balancer stops sending new
//! requests after a check or two, the requests in flight end, and only then do the containers
//! stop: no user sees a failed request. A successful start (`up`, `run`, `reload`) ends the
//! drain once Mathesar is healthy again.
//!
//! The marker is created exclusively without following a link and removed only when it is a
//! regular file: the proxy's data directory is written by the proxy's container too, and
//! nothing planted there is ever written through or deleted.

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use thiserror::Error;

use crate::storage::layout::DataLayout;

/// The marker's name in the proxy's data directory (the Caddyfile names it too).
pub(crate) const MARKER: &str = "mathesar-draining";
/// The variable (in `/etc/default/mathesar` for the unit) that makes every stop drain first, in
/// seconds; unset or 0: a stop does not drain.
pub(crate) const SECONDS_VAR: &str = "MATHESAR_DRAIN_SECONDS";
/// The longest drain: the unit's stop timeout (5 min) also covers stopping the containers.
pub(crate) const MAX_SECONDS: u64 = 120;

#[derive(Debug, Error)]
pub(crate) enum DrainError {
    #[error(
        "{path} is not a directory the package created (a link or another file): the drain marker is not written there; check the data directory"
    )]
    NotADirectory { path: PathBuf },
    #[error(
        "{path} exists and is not a regular file (a link or a directory the package did not create): it is left alone; remove it yourself, then retry"
    )]
    NotOurs { path: PathBuf },
    #[error("cannot write or remove the drain marker {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("{SECONDS_VAR}={value}: use a whole number of seconds from 0 to {MAX_SECONDS}")]
    BadSeconds { value: String },
}

/// The marker's path for the data directory of `layout`.
pub(crate) fn marker(layout: &DataLayout) -> PathBuf {
    layout.caddy_data().join(MARKER)
}

/// Starts the drain: writes the marker. Returns whether it was not there yet.
pub(crate) fn begin(layout: &DataLayout) -> Result<bool, DrainError> {
    let dir = layout.caddy_data();
    match std::fs::symlink_metadata(&dir) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => return Err(DrainError::NotADirectory { path: dir }),
        Err(source) => return Err(DrainError::Io { path: dir, source }),
    }
    let path = marker(layout);
    match crate::storage::atomic::create_new(&path, 0o644) {
        Ok(f) => {
            f.sync_all()
                .map_err(|source| DrainError::Io { path, source })?;
            sync_dir(&dir);
            Ok(true)
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            regular_file(&path)?;
            Ok(false)
        }
        Err(source) => Err(DrainError::Io { path, source }),
    }
}

/// Ends the drain: removes the marker. Returns whether it was there.
pub(crate) fn end(layout: &DataLayout) -> Result<bool, DrainError> {
    let path = marker(layout);
    match std::fs::symlink_metadata(&path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(source) => return Err(DrainError::Io { path, source }),
        Ok(_) => regular_file(&path)?,
    }
    crate::storage::atomic::remove(&path).map_err(|e| DrainError::Io {
        path: e.path,
        source: e.source,
    })
}

/// Whether the host is draining.
pub(crate) fn active(layout: &DataLayout) -> bool {
    std::fs::symlink_metadata(marker(layout)).is_ok_and(|m| m.is_file())
}

/// The seconds a stop drains, from [`SECONDS_VAR`]'s value (unset: 0).
pub(crate) fn seconds_from(value: Option<&str>) -> Result<u64, DrainError> {
    let Some(v) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(0);
    };
    match v.parse::<u64>() {
        Ok(n) if n <= MAX_SECONDS => Ok(n),
        _ => Err(DrainError::BadSeconds {
            value: v.to_string(),
        }),
    }
}

/// Drains for `seconds`: the marker written, then the wait the balancer needs to notice and the
/// requests in flight need to end.
pub(crate) async fn drain_for(layout: &DataLayout, seconds: u64) -> Result<(), DrainError> {
    if begin(layout)? {
        super::journal::info(format!(
            "draining: the health check answers 503 for {seconds} s before anything stops"
        ));
    }
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    Ok(())
}

fn regular_file(path: &Path) -> Result<(), DrainError> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_file() => Ok(()),
        Ok(_) => Err(DrainError::NotOurs {
            path: path.to_path_buf(),
        }),
        Err(source) => Err(DrainError::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}

fn sync_dir(dir: &Path) {
    let _ = std::fs::File::open(dir).and_then(|d| d.sync_all());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout() -> (tempfile::TempDir, DataLayout) {
        let t = tempfile::tempdir().unwrap();
        let l = DataLayout::new(t.path());
        std::fs::create_dir_all(l.caddy_data()).unwrap();
        (t, l)
    }

    #[test]
    fn a_drain_begins_once_and_ends_once() {
        let (_t, l) = layout();
        assert!(!active(&l));
        assert!(begin(&l).unwrap());
        assert!(active(&l));
        assert!(!begin(&l).unwrap(), "a second begin finds it");
        assert!(end(&l).unwrap());
        assert!(!active(&l));
        assert!(!end(&l).unwrap(), "nothing to end");
    }

    #[test]
    fn a_planted_link_is_never_written_through_nor_removed() {
        let (t, l) = layout();
        let target = t.path().join("elsewhere");
        std::fs::write(&target, "keep").unwrap();
        std::os::unix::fs::symlink(&target, marker(&l)).unwrap();
        assert!(matches!(begin(&l), Err(DrainError::NotOurs { .. })));
        assert!(matches!(end(&l), Err(DrainError::NotOurs { .. })));
        assert!(!active(&l));
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep");
        assert!(
            std::fs::symlink_metadata(marker(&l)).is_ok(),
            "the link is left"
        );
    }

    #[test]
    fn a_linked_data_directory_is_refused() {
        let t = tempfile::tempdir().unwrap();
        let real = t.path().join("real");
        std::fs::create_dir_all(&real).unwrap();
        std::fs::create_dir_all(t.path().join("data/caddy")).unwrap();
        std::os::unix::fs::symlink(&real, t.path().join("data/caddy/data")).unwrap();
        let l = DataLayout::new(t.path().join("data"));
        assert!(matches!(begin(&l), Err(DrainError::NotADirectory { .. })));
        assert!(std::fs::read_dir(&real).unwrap().next().is_none());
    }

    #[test]
    fn the_seconds_are_bounded() {
        assert_eq!(seconds_from(None).unwrap(), 0);
        assert_eq!(seconds_from(Some(" ")).unwrap(), 0);
        assert_eq!(seconds_from(Some("15")).unwrap(), 15);
        assert_eq!(seconds_from(Some("120")).unwrap(), 120);
        for bad in ["121", "-1", "ten", "1.5"] {
            let e = seconds_from(Some(bad)).unwrap_err().to_string();
            assert!(e.contains(SECONDS_VAR) && e.contains(bad), "{e}");
        }
    }
}

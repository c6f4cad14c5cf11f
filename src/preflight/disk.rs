//! Free space where the data and the images go.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use nix::sys::statvfs::statvfs;

use super::{Check, Status};
use crate::settings::Settings;

const NAME: &str = "disk";
const GIB: u64 = 1 << 30;
/// Below this nothing fits: the images alone take about 1 GiB.
pub(super) const FAIL_BELOW: u64 = GIB;
/// Below this the images fit, but the database has little room to grow.
pub(super) const WARN_BELOW: u64 = 5 * GIB;
const DOCKER_ROOT: &str = "/var/lib/docker";

/// Free space on the filesystem holding one directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Space {
    /// The directory asked about.
    pub path: PathBuf,
    /// Its nearest existing ancestor, measured instead when it does not exist yet.
    pub measured: PathBuf,
    /// Other directories asked about that live on the same filesystem.
    pub also: Vec<PathBuf>,
    pub free: u64,
    pub total: u64,
}

/// The directory itself, or the nearest ancestor that exists (the data directory is created by
/// configure, after this check).
pub(super) fn nearest_existing(path: &Path) -> PathBuf {
    path.ancestors()
        .find(|p| p.exists())
        .unwrap_or(Path::new("/"))
        .to_path_buf()
}

fn measure(path: &Path) -> Result<(Space, u64), String> {
    let measured = nearest_existing(path);
    let st = statvfs(&measured).map_err(|e| format!("{}: {e}", measured.display()))?;
    let dev = std::fs::metadata(&measured)
        .map(|m| m.dev())
        .map_err(|e| format!("{}: {e}", measured.display()))?;
    let unit = st.fragment_size() as u64;
    // f_bavail: what an unprivileged writer (the database runs as postgres) can use.
    let space = Space {
        path: path.to_path_buf(),
        measured,
        also: Vec::new(),
        free: st.blocks_available() as u64 * unit,
        total: st.blocks() as u64 * unit,
    };
    Ok((space, dev))
}

pub(super) fn check(s: &Settings) -> Check {
    let mut paths = vec![s.data_dir.clone()];
    if Path::new(DOCKER_ROOT).exists() {
        paths.push(PathBuf::from(DOCKER_ROOT));
    }
    let mut spaces: Vec<Space> = Vec::new();
    let mut devices = Vec::new();
    let mut errors = Vec::new();
    for p in &paths {
        match measure(p) {
            // Once per filesystem: the data and the images then share the same free space.
            Ok((space, dev)) => match devices.iter().position(|d| *d == dev) {
                Some(i) => spaces[i].also.push(space.path),
                None => {
                    devices.push(dev);
                    spaces.push(space);
                }
            },
            Err(e) => errors.push(e),
        }
    }
    verdict(&spaces, &errors)
}

fn gib(bytes: u64) -> String {
    format!("{:.1} GiB", bytes as f64 / GIB as f64)
}

pub(super) fn verdict(spaces: &[Space], errors: &[String]) -> Check {
    let mut parts = Vec::new();
    let mut worst = Status::Pass;
    for s in spaces {
        let via = if s.measured == s.path {
            String::new()
        } else {
            format!(" (not created yet; measured on {})", s.measured.display())
        };
        let also: String = s
            .also
            .iter()
            .map(|p| format!(" and {}", p.display()))
            .collect();
        parts.push(format!(
            "{}{via}{also}: {} free of {}",
            s.path.display(),
            gib(s.free),
            gib(s.total)
        ));
        let status = if s.free < FAIL_BELOW {
            Status::Fail
        } else if s.free < WARN_BELOW {
            Status::Warn
        } else {
            Status::Pass
        };
        worst = worst.max(status);
    }
    for e in errors {
        parts.push(format!("cannot measure {e}"));
        worst = worst.max(Status::Warn);
    }
    let detail = parts.join("; ");
    match worst {
        Status::Pass => Check::pass(NAME, detail),
        status => Check::not_ok(
            NAME,
            status,
            format!(
                "{detail} (need at least {} free, {} recommended: images about 1 GiB, plus the database)",
                gib(FAIL_BELOW),
                gib(WARN_BELOW)
            ),
            "free space on those filesystems (`docker system prune` removes unused images), or choose a data-dir on a larger one (MATHESAR_DATA_DIR=/srv/mathesar / `data-dir: /srv/mathesar` / dpkg-reconfigure mathesar)",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn space(path: &str, free: u64) -> Space {
        Space {
            path: path.into(),
            measured: path.into(),
            also: Vec::new(),
            free,
            total: 100 * GIB,
        }
    }

    #[test]
    fn thresholds_decide_the_status() {
        assert_eq!(verdict(&[space("/a", 6 * GIB)], &[]).status, Status::Pass);
        assert_eq!(verdict(&[space("/a", 4 * GIB)], &[]).status, Status::Warn);
        let c = verdict(&[space("/a", 6 * GIB), space("/b", GIB / 2)], &[]);
        assert_eq!(c.status, Status::Fail);
        assert!(
            c.detail.contains("/b: 0.5 GiB free of 100.0 GiB"),
            "{}",
            c.detail
        );
        assert!(c.remedy.unwrap().contains("MATHESAR_DATA_DIR"));
        let mut shared = space("/a", 6 * GIB);
        shared.also.push("/var/lib/docker".into());
        let c = verdict(&[shared], &["/x: EIO".into()]);
        assert!(
            c.detail.starts_with("/a and /var/lib/docker: 6.0 GiB free"),
            "{}",
            c.detail
        );
        assert_eq!(c.status, Status::Warn);
    }

    #[test]
    fn a_missing_directory_is_measured_on_its_ancestor() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("not/yet/there");
        assert_eq!(nearest_existing(&missing), dir.path());
        let (s, _) = measure(&missing).unwrap();
        assert_eq!(s.measured, dir.path());
        assert!(s.total > 0);
        let c = verdict(&[s], &[]);
        assert!(
            c.detail.contains("not created yet; measured on"),
            "{}",
            c.detail
        );
    }
}

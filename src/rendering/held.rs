//! The release record of a failed upgrade: the new release's Mathesar failed its first start,
//! the backup taken before the upgrade was restored and the previous release's images run on
//! it, held back from the package installed. `CONFIG_DIR/release-held.json` (root, 0600) says
//! so; while it exists the previous release's pins win over the package's
//! ([`crate::rendering::images::hold`]), so that every start, reload and `configure` runs the
//! release the databases were restored for. `upgrade` (what a reinstall of the package runs)
//! clears it and tries the package's release again.
//!
//! State, not configuration: a backup does not carry it and a restore does not bring it back
//! (`day2::backup::is_config_file`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::images::{self, Pins};
use crate::storage::atomic::{self, WriteError};
use crate::storage::modes::PRIVATE_FILE;

/// The file's name in the configuration directory.
pub(crate) const FILE: &str = "release-held.json";

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Held {
    /// The Mathesar release that runs again (the previous one), e.g. `0.10.1`.
    pub running: String,
    /// Its images, by key of `packaging/images` (`db`, `service`, `caddy`; an older record's
    /// `watchtower` is skipped),
    /// without a registry prefix.
    pub images: BTreeMap<String, String>,
    /// The Mathesar release of the package installed, which failed its first start.
    pub failed_release: String,
    /// The package version installed (held back from), as the package manager names it.
    pub package_version: String,
    /// When the new release failed (UTC, RFC 3339).
    pub failed_at: String,
    /// What failed: the start's error.
    pub failure: String,
    /// The new release's last log lines (secrets redacted).
    pub last_log_lines: Vec<String>,
    /// The backup taken before the upgrade, restored (kept).
    pub backup: PathBuf,
}

#[derive(Debug, Error)]
pub(crate) enum HeldError {
    #[error(
        "{path}: {message} (remove it and run `mathesarctl upgrade` to use the package's release)"
    )]
    Invalid { path: PathBuf, message: String },
    #[error(transparent)]
    Write(#[from] WriteError),
}

impl Held {
    /// How to retry, as every report says it.
    pub(crate) const RETRY: &str = "retry with `mathesarctl upgrade` (or reinstall the package: \
        `apt install --reinstall mathesar`, `dnf reinstall mathesar`)";

    /// The pins of the release that runs.
    pub(crate) fn pins(&self) -> Result<Pins, String> {
        Pins::parse(
            &self
                .images
                .iter()
                .map(|(k, v)| format!("{k}={v}\n"))
                .collect::<String>(),
        )
    }

    /// One line for `status` and the journal.
    pub(crate) fn summary(&self) -> String {
        format!(
            "Mathesar {} runs, held back from Mathesar {} of the package {} installed: it failed \
             its first start on {} ({}); the databases are those of the backup {} taken before \
             the upgrade; {}",
            self.running,
            self.failed_release,
            self.package_version,
            self.failed_at,
            self.failure,
            self.backup.display(),
            Held::RETRY
        )
    }
}

pub(crate) fn path(config_dir: &Path) -> PathBuf {
    config_dir.join(FILE)
}

/// The record in `config_dir`, if any; read without following a link (the configuration
/// directory is root's alone, checked by whoever reads the configuration).
pub(crate) fn read(config_dir: &Path) -> Result<Option<Held>, HeldError> {
    let p = path(config_dir);
    let invalid = |message: String| HeldError::Invalid {
        path: p.clone(),
        message,
    };
    let meta = match std::fs::symlink_metadata(&p) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(invalid(e.to_string())),
    };
    if !meta.is_file() {
        return Err(invalid("not a regular file".into()));
    }
    let text = std::fs::read_to_string(&p).map_err(|e| invalid(e.to_string()))?;
    let held: Held = serde_json::from_str(&text).map_err(|e| invalid(e.to_string()))?;
    held.pins().map_err(invalid)?;
    Ok(Some(held))
}

/// Reads the record and makes its pins the ones in use (or the package's, without one).
pub(crate) fn load(config_dir: &Path) -> Result<Option<Held>, HeldError> {
    let held = read(config_dir)?;
    use_pins(held.as_ref());
    Ok(held)
}

/// Makes the pins of `held` the ones in use of this run (`None`: the package's).
pub(crate) fn use_pins(held: Option<&Held>) {
    images::hold(held.and_then(|h| h.pins().ok()));
}

/// Writes the record (atomically, 0600); [`use_pins`] makes it count in this run.
pub(crate) fn write(config_dir: &Path, held: &Held) -> Result<(), HeldError> {
    held.pins().map_err(|message| HeldError::Invalid {
        path: path(config_dir),
        message,
    })?;
    let text = serde_json::to_string_pretty(held).unwrap_or_default() + "\n";
    atomic::write(&path(config_dir), text.as_bytes(), PRIVATE_FILE)?;
    Ok(())
}

/// Removes the record. Whether there was one.
pub(crate) fn clear(config_dir: &Path) -> Result<bool, HeldError> {
    Ok(atomic::remove(&path(config_dir))?)
}

/// The images of `pins` as the record keeps them.
pub(crate) fn images_of(pins: &Pins) -> BTreeMap<String, String> {
    images::Image::ALL
        .into_iter()
        .map(|i| (i.key().to_string(), pins.get(i).to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Held {
        let mut services = BTreeMap::new();
        services.insert(
            "service".into(),
            "reg.example/mathesar/mathesar:0.10.1".into(),
        );
        services.insert(
            "db".into(),
            "reg.example/pgautoupgrade/pgautoupgrade:17".into(),
        );
        let pins = Pins::of_services(&services, Some("reg.example")).unwrap();
        Held {
            running: "0.10.1".into(),
            images: images_of(&pins),
            failed_release: "0.11.0".into(),
            package_version: "0.11.0-1".into(),
            failed_at: "2026-12-03T06:00:00Z".into(),
            failure: "the application did not become healthy".into(),
            last_log_lines: vec!["Error: boom".into()],
            backup: "/var/backups/mathesar/mathesar-x".into(),
        }
    }

    #[test]
    fn written_reads_back_and_clears() {
        let d = tempfile::tempdir().unwrap();
        assert_eq!(read(d.path()).unwrap(), None);
        let held = sample();
        assert_eq!(held.images["service"], "mathesar/mathesar:0.10.1");
        write(d.path(), &held).unwrap();
        assert_eq!(read(d.path()).unwrap(), Some(held.clone()));
        assert_eq!(
            crate::storage::modes::mode_of(&path(d.path())),
            Some(PRIVATE_FILE)
        );
        assert!(held.summary().contains("mathesarctl upgrade"));
        assert!(clear(d.path()).unwrap());
        assert!(!clear(d.path()).unwrap());
        assert_eq!(read(d.path()).unwrap(), None);
    }

    #[test]
    fn a_damaged_record_is_an_error_naming_the_way_out() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(path(d.path()), "{").unwrap();
        let e = read(d.path()).unwrap_err().to_string();
        assert!(
            e.contains("release-held.json") && e.contains("mathesarctl upgrade"),
            "{e}"
        );
        std::fs::remove_file(path(d.path())).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", path(d.path())).unwrap();
        assert!(read(d.path()).is_err());
    }
}

//! The Mathesar version the databases were last started with. Mathesar migrates its database at
//! every start and cannot run on a database migrated by a newer version: the version is recorded
//! in the configuration directory (`mathesar-version`, so backups carry it and a restore puts it
//! back) before the application starts, and an older application is refused. The package's
//! preinst (deb) and %pre (rpm) read the same file to refuse a downgrade before anything changes.

use std::path::{Path, PathBuf};

use crate::storage::atomic::{self, WriteError};
use crate::storage::modes::PRIVATE_FILE;
use crate::version;

/// The file's name in the configuration directory.
pub(crate) const FILE: &str = "mathesar-version";

pub(crate) fn path(config_dir: &Path) -> PathBuf {
    config_dir.join(FILE)
}

/// The recorded version, if any.
pub(crate) fn recorded(config_dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path(config_dir)).ok()?;
    let v = text.trim();
    (!v.is_empty()).then(|| v.to_string())
}

/// Refuses to start `version` on databases last started with a newer one; the message names
/// the way back.
pub(crate) fn check(config_dir: &Path, version: &str) -> Result<(), String> {
    match recorded(config_dir) {
        Some(r) if version::is_newer(&r, version) => Err(format!(
            "the databases were migrated by Mathesar {r}; this package runs Mathesar {version}, \
             which cannot use them. Nothing was started. Install the package of Mathesar {r} \
             again, or restore a backup taken before the upgrade to {r} (`mathesarctl restore \
             --no-start BACKUP`, backups in /var/backups/mathesar) and install this package again"
        )),
        _ => Ok(()),
    }
}

/// Records `version` as the one the databases are started with.
pub(crate) fn record(config_dir: &Path, version: &str) -> Result<bool, WriteError> {
    atomic::write_if_changed(
        &path(config_dir),
        format!("{version}\n").as_bytes(),
        PRIVATE_FILE,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_older_application_is_refused_with_the_way_back() {
        let d = tempfile::tempdir().unwrap();
        check(d.path(), "0.10.1").unwrap();
        assert!(record(d.path(), "0.11.0").unwrap());
        check(d.path(), "0.11.0").unwrap();
        check(d.path(), "0.12.0").unwrap();
        check(d.path(), "latest").unwrap();
        let e = check(d.path(), "0.10.1").unwrap_err();
        assert!(
            e.contains("migrated by Mathesar 0.11.0") && e.contains("mathesarctl restore"),
            "{e}"
        );
    }
}

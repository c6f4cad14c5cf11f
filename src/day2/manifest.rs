//! `manifest.json` of a backup: what is inside, from which package version and images, with the
//! SHA-256 of every file, checked before anything is restored.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub(crate) const FILE: &str = "manifest.json";
pub(crate) const FORMAT: u32 = 1;

/// Which database a dump holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Role {
    /// Mathesar's own database (users, metadata): `POSTGRES_DB`.
    Internal,
    /// The user database in the bundled PostgreSQL (`user-db: bundled`).
    User,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Dump {
    pub role: Role,
    /// The database's name (restored under the same name).
    pub database: String,
    /// The dump file (`pg_dump -Fc`), relative to the backup directory.
    pub file: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct FileSum {
    pub path: String,
    pub size: u64,
    pub sha256: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Manifest {
    pub format: u32,
    /// The version of the package (mathesarctl) that made the backup.
    pub package_version: String,
    /// UTC, RFC 3339.
    pub created: String,
    /// Why it was made (`manual`, `upgrade`, ...).
    pub reason: String,
    pub config_dir: PathBuf,
    pub data_dir: PathBuf,
    /// Image of each compose service, as configured when the backup was made.
    pub images: BTreeMap<String, String>,
    pub dumps: Vec<Dump>,
    /// Files of the configuration directory, under `config/`.
    pub config_files: Vec<String>,
    /// Every file of the backup but the manifest, with its size and SHA-256.
    pub files: Vec<FileSum>,
    /// What is not in the backup, and why.
    pub notes: Vec<String>,
    /// The exact row count of every table of each dumped database, taken in the dump's own
    /// snapshot (`day2::dump`): what a restore drill must find again.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub row_counts: BTreeMap<String, BTreeMap<String, u64>>,
    /// The Mathesar release the databases were written by (the service image's tag).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mathesar_version: Option<String>,
}

/// A writer that counts and hashes what goes through it.
pub(crate) struct Hashing<W> {
    inner: W,
    hasher: Sha256,
    size: u64,
}

impl<W: Write> Hashing<W> {
    pub(crate) fn new(inner: W) -> Self {
        Hashing {
            inner,
            hasher: Sha256::new(),
            size: 0,
        }
    }
    /// (inner writer, size, hex SHA-256).
    pub(crate) fn finish(self) -> (W, u64, String) {
        (self.inner, self.size, hex(&self.hasher.finalize()))
    }
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// The upstream part of a package version: `1:0.2.0-3` (Debian) gives `0.2.0`.
pub(crate) fn upstream_version(v: &str) -> Result<String, String> {
    let v = v.trim();
    let v = v.split_once(':').map_or(v, |(_, rest)| rest);
    let v = v.rsplit_once('-').map_or(v, |(upstream, _)| upstream);
    if v.is_empty()
        || !v.starts_with(|c: char| c.is_ascii_digit())
        || !v
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".+~".contains(c))
    {
        return Err("a package version such as 0.2.0 or 0.2.0-1".into());
    }
    Ok(v.to_string())
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Size and SHA-256 of a file.
pub(crate) fn sum_file(path: &Path) -> io::Result<(u64, String)> {
    let mut f = File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut size = 0u64;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        size += n as u64;
    }
    Ok((size, hex(&h.finalize())))
}

/// The files whose size or SHA-256 differ from the manifest's, or that are missing.
pub(crate) fn mismatches(dir: &Path, m: &Manifest) -> Vec<String> {
    m.files
        .iter()
        .filter_map(|f| {
            let bad = match sum_file(&dir.join(&f.path)) {
                Ok((size, sum)) => size != f.size || sum != f.sha256,
                Err(_) => true,
            };
            bad.then(|| f.path.clone())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashing_writer_matches_the_file_sum() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("x");
        let mut w = Hashing::new(File::create(&p).unwrap());
        w.write_all(b"hello ").unwrap();
        w.write_all(b"world").unwrap();
        let (_, size, sum) = w.finish();
        assert_eq!(size, 11);
        assert_eq!(
            sum,
            "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"
        );
        assert_eq!(sum_file(&p).unwrap(), (11, sum.clone()));
        let m = Manifest {
            format: FORMAT,
            package_version: "0.1.0".into(),
            created: "2026-11-25T09:08:45Z".into(),
            reason: "manual".into(),
            config_dir: "/etc/mathesar".into(),
            data_dir: "/var/lib/mathesar".into(),
            images: BTreeMap::new(),
            dumps: vec![],
            config_files: vec![],
            files: vec![FileSum {
                path: "x".into(),
                size,
                sha256: sum,
            }],
            notes: vec![],
            row_counts: [("mathesar".to_string(), [("public.t".to_string(), 3)].into())].into(),
            mathesar_version: Some("0.11.0".into()),
        };
        assert!(mismatches(d.path(), &m).is_empty());
        let text = serde_json::to_string(&m).unwrap();
        assert_eq!(serde_json::from_str::<Manifest>(&text).unwrap(), m);
        std::fs::write(&p, b"hello World").unwrap();
        assert_eq!(mismatches(d.path(), &m), ["x"]);
        std::fs::remove_file(&p).unwrap();
        assert_eq!(mismatches(d.path(), &m), ["x"]);
    }

    #[test]
    fn upstream_versions_drop_epoch_and_revision() {
        assert_eq!(upstream_version("0.0.1-1").unwrap(), "0.0.1");
        assert_eq!(upstream_version("1:0.2.0-3").unwrap(), "0.2.0");
        assert_eq!(upstream_version("0.2.0~rc1").unwrap(), "0.2.0~rc1");
        assert_eq!(upstream_version("0.1.0").unwrap(), "0.1.0");
        for bad in ["", "-1", "x1.0", "0.1.0;rm", "1:"] {
            assert!(upstream_version(bad).is_err(), "{bad}");
        }
    }
}

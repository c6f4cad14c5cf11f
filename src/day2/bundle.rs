//! Support bundles: a gzip-compressed tar of text files, every one passed through the
//! [`Redactor`] on its way in, written 0600 and renamed into place only when complete.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use flate2::Compression;
use flate2::write::GzEncoder;
use thiserror::Error;

use super::redact::Redactor;

#[derive(Debug, Error)]
#[error("cannot write the support bundle {}: {source}", .path.display())]
pub(crate) struct BundleError {
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

/// Files collected for a bundle, in memory (text: logs, statuses, configuration).
pub(crate) struct Bundle {
    root: String,
    redactor: Redactor,
    entries: Vec<(String, Vec<u8>)>,
}

impl Bundle {
    /// `root`: the directory every file of the archive is under.
    pub(crate) fn new(root: impl Into<String>, redactor: Redactor) -> Bundle {
        Bundle {
            root: root.into(),
            redactor,
            entries: Vec::new(),
        }
    }

    /// Adds a file (redacted) at `name` under the root.
    pub(crate) fn add(&mut self, name: &str, text: &str) {
        let redacted = self.redactor.redact(text);
        self.entries
            .push((format!("{}/{name}", self.root), redacted.into_bytes()));
    }

    pub(crate) fn names(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(n, _)| n.as_str())
    }

    /// The archive's bytes (tar.gz).
    pub(crate) fn to_bytes(&self) -> std::io::Result<Vec<u8>> {
        let gz = GzEncoder::new(Vec::new(), Compression::default());
        let mut tar = tar::Builder::new(gz);
        let mtime = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO)
            .as_secs();
        for (name, data) in &self.entries {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o600);
            h.set_mtime(mtime);
            h.set_entry_type(tar::EntryType::Regular);
            tar.append_data(&mut h, name, data.as_slice())?;
        }
        tar.into_inner()?.finish()
    }

    /// Writes the archive to `path`: 0600 from the start, complete or not there at all.
    pub(crate) fn write(&self, path: &Path) -> Result<(), BundleError> {
        let err = |source| BundleError {
            path: path.to_path_buf(),
            source,
        };
        let bytes = self.to_bytes().map_err(err)?;
        crate::storage::atomic::write(path, &bytes, crate::storage::modes::PRIVATE_FILE).map_err(
            |e| BundleError {
                path: e.path,
                source: e.source,
            },
        )?;
        Ok(())
    }
}

/// Lists `dir` to `depth` levels: mode, owner, size and path of each entry.
pub(crate) fn listing(dir: &Path, depth: usize) -> String {
    use std::os::unix::fs::MetadataExt;
    fn walk(p: &Path, depth: usize, out: &mut String) {
        let Ok(entries) = fs::read_dir(p) else {
            return;
        };
        let mut entries: Vec<_> = entries.flatten().collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let Ok(m) = e.path().symlink_metadata() else {
                continue;
            };
            out.push_str(&format!(
                "{:o} {}:{} {:>10} {}\n",
                m.mode() & 0o7777,
                m.uid(),
                m.gid(),
                m.len(),
                e.path().display()
            ));
            if m.is_dir() && depth > 1 {
                walk(&e.path(), depth - 1, out);
            }
        }
    }
    let mut out = String::new();
    walk(dir, depth, &mut out);
    if out.is_empty() {
        out = format!("{}: empty or unreadable\n", dir.display());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn the_archive_holds_redacted_files_and_is_private() {
        let d = tempfile::tempdir().unwrap();
        let mut b = Bundle::new("support", Redactor::new(["hunter2-secret"]));
        b.add(
            "a.txt",
            "password hunter2-secret here\nPOSTGRES_PASSWORD=whatever\n",
        );
        b.add("logs/b.txt", "nothing secret\n");
        let path = d.path().join("bundle.tar.gz");
        b.write(&path).unwrap();
        assert_eq!(fs::metadata(&path).unwrap().mode() & 0o777, 0o600);

        let mut tar =
            tar::Archive::new(flate2::read::GzDecoder::new(fs::File::open(&path).unwrap()));
        let mut seen = Vec::new();
        for e in tar.entries().unwrap() {
            let mut e = e.unwrap();
            let mut text = String::new();
            e.read_to_string(&mut text).unwrap();
            seen.push((e.path().unwrap().display().to_string(), text));
        }
        assert_eq!(
            seen,
            [
                (
                    "support/a.txt".to_string(),
                    "password <redacted> here\nPOSTGRES_PASSWORD=<redacted>\n".to_string()
                ),
                (
                    "support/logs/b.txt".to_string(),
                    "nothing secret\n".to_string()
                ),
            ]
        );
    }
}

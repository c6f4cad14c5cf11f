//! What `status` shows about backups: the last backup stored in the repository (time, size,
//! snapshot), the last failed one, and the last restore drill (time, verdict). Written by
//! `backup` and `backup verify` into the data directory (`backup-status.json`, 0600); a record
//! that cannot be read is shown as none, never an error.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::storage::{atomic, modes};

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Record {
    #[serde(default)]
    pub last_backup: Option<Backup>,
    /// The last backup that failed, when it is later than the last one stored.
    #[serde(default)]
    pub last_backup_failure: Option<Failure>,
    #[serde(default)]
    pub last_drill: Option<Drill>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Backup {
    /// UTC, RFC 3339.
    pub time: String,
    pub snapshot: String,
    /// Bytes backed up, and bytes the repository grew by (deduplicated, compressed).
    pub size: u64,
    pub added: u64,
    pub repository: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Failure {
    pub time: String,
    pub error: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Drill {
    pub time: String,
    pub snapshot: Option<String>,
    pub passed: bool,
    /// What was checked, or what failed.
    pub detail: String,
    pub seconds: u64,
}

pub(crate) fn read(path: &Path) -> Record {
    std::fs::read(path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

/// Changes the record with `change` and writes it atomically.
pub(crate) fn update(path: &Path, change: impl FnOnce(&mut Record)) -> std::io::Result<()> {
    let mut r = read(path);
    change(&mut r);
    let text = serde_json::to_vec_pretty(&r).map_err(std::io::Error::other)?;
    atomic::write(path, &text, modes::PRIVATE_FILE)
        .map_err(|e| std::io::Error::other(e.to_string()))
}

/// The backups' part of `mathesarctl status`.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct Status {
    /// Scheduled backups and drills (the answer `backup`); off only when said so.
    pub scheduled: bool,
    pub repository: String,
    /// The repository is on this machine: lost with its disk.
    pub repository_local: bool,
    #[serde(flatten)]
    pub record: Record,
}

impl Status {
    pub(crate) fn new(settings: &crate::settings::Settings, record_file: &Path) -> Status {
        Status {
            scheduled: settings.backup.enabled,
            repository: settings.backup.repository.restic_url(),
            repository_local: settings.backup.repository.is_local(),
            record: read(record_file),
        }
    }

    /// The lines `status` prints.
    pub(crate) fn lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        let where_ = if self.repository_local {
            format!("{} (on this machine)", self.repository)
        } else {
            self.repository.clone()
        };
        if self.scheduled {
            out.push(format!("backups: scheduled, into {where_}"));
        } else {
            out.push(format!(
                "backups: scheduled backups and drills are OFF (answer `backup: false`); repository {where_}"
            ));
        }
        match &self.record.last_backup {
            Some(b) => out.push(format!(
                "  last backup:  {} snapshot {}, {} ({} added)",
                b.time,
                &b.snapshot[..b.snapshot.len().min(8)],
                size(b.size),
                size(b.added)
            )),
            None => out.push("  last backup:  none yet".into()),
        }
        if let Some(f) = &self.record.last_backup_failure {
            out.push(format!("  last FAILED backup: {} {}", f.time, f.error));
        }
        match &self.record.last_drill {
            Some(d) if d.passed => out.push(format!(
                "  last drill:   {} passed ({}, {} s)",
                d.time, d.detail, d.seconds
            )),
            Some(d) => out.push(format!("  last drill:   {} FAILED: {}", d.time, d.detail)),
            None => out.push("  last drill:   none yet (mathesarctl backup verify)".into()),
        }
        out
    }
}

/// `1.2 GB` for `status`.
pub(crate) fn size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut v = bytes as f64;
    let mut i = 0;
    while v >= 1000.0 && i < UNITS.len() - 1 {
        v /= 1000.0;
        i += 1;
    }
    if i == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", UNITS[i])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn updates_keep_what_they_do_not_change() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("backup-status.json");
        assert_eq!(read(&p), Record::default());
        update(&p, |r| {
            r.last_drill = Some(Drill {
                time: "t1".into(),
                snapshot: Some("abc".into()),
                passed: true,
                detail: "ok".into(),
                seconds: 3,
            })
        })
        .unwrap();
        update(&p, |r| {
            r.last_backup = Some(Backup {
                time: "t2".into(),
                snapshot: "def".into(),
                size: 1,
                added: 1,
                repository: "/r".into(),
            })
        })
        .unwrap();
        let r = read(&p);
        assert!(r.last_drill.unwrap().passed);
        assert_eq!(r.last_backup.unwrap().snapshot, "def");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        std::fs::write(&p, "not json").unwrap();
        assert_eq!(read(&p), Record::default());
    }

    #[test]
    fn status_says_off_failures_and_verdicts() {
        let mut st = Status {
            scheduled: false,
            repository: "/var/backups/mathesar/restic".into(),
            repository_local: true,
            record: Record::default(),
        };
        let text = st.lines().join("\n");
        assert!(
            text.contains("OFF") && text.contains("on this machine"),
            "{text}"
        );
        assert!(text.contains("last backup:  none yet"), "{text}");
        st.scheduled = true;
        st.record.last_backup_failure = Some(Failure {
            time: "t".into(),
            error: "storing the backup failed: the repository is full".into(),
        });
        st.record.last_drill = Some(Drill {
            time: "t".into(),
            snapshot: None,
            passed: false,
            detail: "public.t: 1 rows, 2 recorded".into(),
            seconds: 1,
        });
        let text = st.lines().join("\n");
        assert!(
            text.contains("last FAILED backup") && text.contains("drill:   t FAILED"),
            "{text}"
        );
        let json = serde_json::to_value(&st).unwrap();
        assert_eq!(json["last_drill"]["passed"], false);
        assert_eq!(json["scheduled"], true);
    }

    #[test]
    fn sizes_read_well() {
        assert_eq!(size(512), "512 B");
        assert_eq!(size(1_234_567), "1.2 MB");
    }
}

//! The user databases too: Mathesar keeps its own SQL (the `msar` schemas) in every database
//! connected to it, and a new release marks each one whose SQL is older than itself
//! (`Database.needs_upgrade_attention`); until it is upgraded, the UI asks the user to "upgrade
//! the database" (the step that times out for many). After Mathesar itself is upgraded (the new
//! release started and healthy), every such database is upgraded here, under the start lock, in
//! one Django process exec'd in `mathesar_service`: `Database.install_sql()` with no role given,
//! which is exactly what Mathesar's RPC `databases.upgrade_sql` runs for the admin (it connects as
//! the role owning the `msar` schema, with the credentials Mathesar stores) - called in the
//! process rather than over HTTP because the package does not keep the admin's password.
//!
//! Done once per release: `DATA_DIR/user-sql.json` (0600) records the release and each
//! database's outcome; a database that could not be upgraded (Mathesar's reason kept) is tried
//! again at the next start and listed by `status`. Nothing here fails a start: Mathesar serves,
//! and a database it could not upgrade stays usable as before for what its SQL supports.

use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::admin::SERVICE_CONTAINER;
use super::engine::Engine;
use super::journal;
use crate::storage::atomic;
use crate::storage::modes::PRIVATE_FILE;

const EXEC_TIMEOUT: Duration = Duration::from_secs(600);
const PREFIX: &str = "mathesar-package-sql: ";

/// Each database needing attention, upgraded; one JSON line per database on stdout. Every error
/// of one database is its outcome (the loop goes on); no value comes from outside.
pub(crate) const SCRIPT: &str = r#"
import json
from mathesar.models.base import Database
for db in Database.objects.all().order_by("id"):
    try:
        if not db.needs_upgrade_attention:
            continue
        db.install_sql()
        out = {"id": db.id, "name": db.name, "upgraded": True}
    except Exception as e:
        out = {"id": db.id, "name": db.name, "upgraded": False,
               "reason": (type(e).__name__ + ": " + str(e)).strip()[:500]}
    print("mathesar-package-sql: " + json.dumps(out), flush=True)
"#;

/// One database's outcome.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Outcome {
    pub id: i64,
    pub name: String,
    pub upgraded: bool,
    /// Mathesar's reason, when it could not be upgraded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// `user-sql.json`: the release the databases were last brought to, and how.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Record {
    pub release: String,
    pub checked_at: String,
    pub databases: Vec<Outcome>,
}

impl Record {
    /// The databases that could not be upgraded.
    pub(crate) fn failed(&self) -> impl Iterator<Item = &Outcome> {
        self.databases.iter().filter(|d| !d.upgraded)
    }
}

pub(crate) fn read(path: &Path) -> Option<Record> {
    serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()
}

/// Whether this start must look at the databases: the release changed since the last look, or a
/// database could not be upgraded then. `previous`: the release the databases were started with
/// before this start (`None`: a first start, whose databases are connected at this release).
pub(crate) fn needed(record: Option<&Record>, previous: Option<&str>, release: &str) -> bool {
    match record {
        Some(r) => r.release != release || r.failed().next().is_some(),
        None => previous.is_some(),
    }
}

/// The outcomes printed by [`SCRIPT`].
pub(crate) fn parse(stdout: &str) -> Vec<Outcome> {
    stdout
        .lines()
        .filter_map(|l| l.strip_prefix(PREFIX))
        .filter_map(|j| serde_json::from_str(j).ok())
        .collect()
}

/// Upgrades the SQL of the databases needing it, when [`needed`]; records and logs the
/// outcome. A failed process is a warning, tried again at the next start.
pub(crate) async fn upgrade(
    engine: &Engine,
    record_path: &Path,
    previous: Option<&str>,
    release: &str,
) {
    let record = read(record_path);
    if !needed(record.as_ref(), previous, release) {
        return;
    }
    let write = |databases: Vec<Outcome>| {
        let r = Record {
            release: release.to_string(),
            checked_at: crate::time::rfc3339(std::time::SystemTime::now()),
            databases,
        };
        let text = serde_json::to_string_pretty(&r).unwrap_or_default() + "\n";
        if let Err(e) = atomic::write(record_path, text.as_bytes(), PRIVATE_FILE) {
            journal::warn(format!("{e}: {}", e.source));
        }
    };
    if previous.is_none() && record.is_none() {
        write(Vec::new());
        return;
    }
    journal::info(format!(
        "upgrading Mathesar's SQL in the connected databases to Mathesar {release}"
    ));
    let cmd = ["python", "manage.py", "shell", "-c", SCRIPT];
    let out = match engine
        .exec(SERVICE_CONTAINER, &cmd, &[], EXEC_TIMEOUT)
        .await
    {
        Ok(out) if out.success() => out,
        Ok(out) => {
            let last = out.stderr.lines().rev().find(|l| !l.trim().is_empty());
            journal::warn(format!(
                "the connected databases' SQL could not be upgraded (exit code {}: {}); tried \
                 again at the next start (`systemctl reload mathesar`)",
                out.exit_code,
                last.unwrap_or("no message")
            ));
            return;
        }
        Err(e) => {
            journal::warn(format!(
                "the connected databases' SQL could not be upgraded ({e}); tried again at the \
                 next start"
            ));
            return;
        }
    };
    let outcomes = parse(&out.stdout);
    for o in &outcomes {
        match (&o.upgraded, &o.reason) {
            (true, _) => journal::info(format!(
                "upgraded Mathesar's SQL in the database {} (id {})",
                o.name, o.id
            )),
            (false, reason) => journal::warn(format!(
                "Mathesar's SQL in the database {} (id {}) could not be upgraded: {}; \
                 `mathesarctl status` lists it, the next start tries again (or upgrade it in \
                 Mathesar's UI)",
                o.name,
                o.id,
                reason.as_deref().unwrap_or("no reason given")
            )),
        }
    }
    write(outcomes);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_are_read_from_the_marked_lines() {
        let out = "noise\nmathesar-package-sql: {\"id\": 1, \"name\": \"mathesar\", \"upgraded\": true}\n\
                   mathesar-package-sql: {\"id\": 2, \"name\": \"crm\", \"upgraded\": false, \"reason\": \"NoConnectionAvailable: \"}\n\
                   mathesar-package-sql: not json\n";
        let o = parse(out);
        assert_eq!(o.len(), 2);
        assert!(o[0].upgraded && o[0].reason.is_none());
        assert_eq!(o[1].name, "crm");
        assert_eq!(o[1].reason.as_deref(), Some("NoConnectionAvailable: "));
    }

    #[test]
    fn looked_at_once_per_release_and_again_after_a_failure() {
        let ok = Record {
            release: "0.11.0".into(),
            checked_at: String::new(),
            databases: vec![Outcome {
                id: 1,
                name: "m".into(),
                upgraded: true,
                reason: None,
            }],
        };
        // A first start: nothing to upgrade (connected at this release).
        assert!(!needed(None, None, "0.11.0"));
        // An installation older than the record: looked at once.
        assert!(needed(None, Some("0.10.1"), "0.11.0"));
        assert!(needed(None, Some("0.11.0"), "0.11.0"));
        assert!(!needed(Some(&ok), Some("0.11.0"), "0.11.0"));
        assert!(needed(Some(&ok), Some("0.11.0"), "0.12.0"));
        let mut failed = ok.clone();
        failed.databases[0].upgraded = false;
        assert!(needed(Some(&failed), Some("0.11.0"), "0.11.0"));
        assert_eq!(failed.failed().count(), 1);
    }

    #[test]
    fn the_script_takes_no_value_from_outside() {
        assert!(SCRIPT.contains("install_sql()"));
        assert!(SCRIPT.contains("needs_upgrade_attention"));
        assert!(SCRIPT.contains(PREFIX));
        assert!(!SCRIPT.contains("environ"));
    }
}

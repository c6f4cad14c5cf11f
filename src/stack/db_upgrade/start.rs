//! The upgrade around the database's start (`Stack::apply`): before it, a failed upgrade undone
//! and the free space checked; after a failed health wait, the old cluster put back at once.

use std::path::PathBuf;
use std::time::Duration;

use super::{State, UpgradeError, check_space, free_bytes, inspect, remove_lock, restore};
use crate::stack::engine::container_name;
use crate::stack::health;
use crate::stack::journal;
use crate::stack::lifecycle::{Stack, StackError};
use crate::stack::services::DB;

/// How long the database may take to become healthy when it upgrades first (the unit allows
/// 15 minutes for the whole start).
pub(crate) const UPGRADE_WAIT: Duration = Duration::from_secs(600);

/// An upgrade the database image runs at this start.
#[derive(Clone, Debug)]
pub(crate) struct Upgrading {
    pub pgdata: PathBuf,
    pub target: u32,
}

impl Stack {
    /// Before the database starts: `image` is the database image this start runs. Returns the
    /// upgrade the image will run, if any. Never touches the files while a database container
    /// runs (it may be upgrading them).
    pub(crate) async fn prepare_db_upgrade(
        &self,
        image: Option<&str>,
    ) -> Result<Option<Upgrading>, StackError> {
        let Some(target) = image.and_then(super::target_major) else {
            return Ok(None);
        };
        let pgdata = self.current.layout.data().pgdata();
        let container = self.engine.service_container(DB.name).await?;
        if health::of(container.as_ref()).is_up() {
            return Ok(None);
        }
        loop {
            match inspect(&pgdata, target)? {
                State::Ready => return Ok(None),
                State::Unknown(what) => return Err(UpgradeError::Unknown { pgdata, what }.into()),
                State::FinishedWithLock => {
                    self.stop_db(container.is_some()).await?;
                    remove_lock(&pgdata.join(super::LOCK_FILE))?;
                    journal::warn(format!(
                        "the database in {} was upgraded to PostgreSQL {target}, but a step after the upgrade \
                         (statistics or reindexing) did not finish: its lock file was removed; run \
                         `vacuumdb --all --analyze-in-stages` in mathesar_db when convenient",
                        pgdata.display()
                    ));
                    return Ok(None);
                }
                State::Failed { from } => {
                    self.stop_db(container.is_some()).await?;
                    restore(&pgdata, target)?;
                    journal::warn(format!(
                        "an earlier upgrade of the PostgreSQL {from} data in {} to {target} had failed: the old \
                         cluster was put back in place, unchanged",
                        pgdata.display()
                    ));
                }
                State::Pending { from, bytes } => {
                    let free = free_bytes(&pgdata)?;
                    check_space(&pgdata, from, target, bytes, free)?;
                    journal::info(format!(
                        "the database image upgrades the PostgreSQL {from} data in {} to PostgreSQL {target} \
                         at this start (pg_upgrade; {} MiB free, about {} MiB needed)",
                        pgdata.display(),
                        free / super::MIB,
                        super::required_bytes(bytes).div_ceil(super::MIB)
                    ));
                    return Ok(Some(Upgrading { pgdata, target }));
                }
            }
        }
    }

    /// After the database did not become healthy during an upgrade: the container stopped (its
    /// restart policy would start it again on the files), then the old cluster put back when the
    /// upgrade failed. Returns the error to end the start with.
    pub(crate) async fn undo_failed_db_upgrade(
        &self,
        up: &Upgrading,
        wait_error: StackError,
    ) -> StackError {
        let container = self.engine.service_container(DB.name).await.ok().flatten();
        let logs = match &container {
            Some(c) => self
                .engine
                .last_logs(&container_name(c), 200)
                .await
                .unwrap_or_default(),
            None => String::new(),
        };
        if let Err(e) = self.stop_db(container.is_some()).await {
            return e;
        }
        match inspect(&up.pgdata, up.target) {
            Ok(State::Failed { from }) => match restore(&up.pgdata, up.target) {
                Ok(()) => UpgradeError::Failed {
                    pgdata: up.pgdata.clone(),
                    from,
                    target: up.target,
                    why: failure_reason(&logs)
                        .map(|r| format!(" ({r})"))
                        .unwrap_or_default(),
                }
                .into(),
                Err(e) => e.into(),
            },
            Ok(State::Unknown(what)) => UpgradeError::Unknown {
                pgdata: up.pgdata.clone(),
                what,
            }
            .into(),
            Ok(_) => wait_error,
            Err(e) => e.into(),
        }
    }

    async fn stop_db(&self, exists: bool) -> Result<(), StackError> {
        if exists {
            self.compose.run(&["stop", DB.name]).await?;
        }
        Ok(())
    }
}

/// The line of the database's log that says why the upgrade failed: a full disk first (the
/// container's later attempts end with "Upgrade lock file already exists", which says nothing).
pub(crate) fn failure_reason(logs: &str) -> Option<String> {
    const WORDS: [&str; 5] = ["No space left", "FATAL", "ERROR", "failed", "Aborting"];
    let lines: Vec<&str> = logs
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    WORDS
        .iter()
        .find_map(|w| lines.iter().rev().find(|l| l.contains(w)))
        .map(|l| l.chars().filter(|c| !c.is_control()).take(300).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_disk_is_the_reason_over_later_attempts() {
        let logs = "Initialising PostgreSQL 17 data directory\n\
            running bootstrap script ... 2026-12-03 02:28:57.613 UTC [82] FATAL:  could not write to file \"pg_wal/xlogtemp.82\": No space left on device\n\
            initdb: removing contents of data directory \"/var/lib/postgresql/data/new\"\n\
            Upgrade lock file already exists, indicating an incomplete previous upgrade. Exiting.\n";
        let r = failure_reason(logs).unwrap();
        assert!(r.contains("No space left on device"), "{r}");
        assert_eq!(
            failure_reason("a\n2026 FATAL:  x\nb\n").as_deref(),
            Some("2026 FATAL:  x")
        );
        assert_eq!(failure_reason("all fine\n"), None);
    }
}

//! `mathesarctl backup verify`: the restore drill (`day2::drill`) on the latest snapshot (or the
//! one given), its verdict recorded for `status`; a failed drill ends with one line saying what
//! failed and what to do, and a non-zero exit that leaves the drill's unit failed.

use std::time::SystemTime;

use crate::cli::VerifyArgs;
use crate::day2::{drill, record};
use crate::exit::{Failure, Outcome};
use crate::stack::journal;

pub(crate) async fn run(args: VerifyArgs) -> Outcome {
    let dir = super::config_dir(&args.dir);
    let current = crate::stack::config::load(&dir).map_err(|e| {
        let e = crate::stack::StackError::from(e);
        Failure::new(e.code(), e)
    })?;
    let s = &current.settings;
    if args.scheduled && !s.backup.enabled {
        journal::warn(
            "scheduled drills are off (the answer `backup` is false): nothing was checked",
        );
        return Ok(());
    }
    let started = std::time::Instant::now();
    let result = drill::run(s, &args.snapshot).await;
    let now = crate::time::rfc3339(SystemTime::now());
    let (passed, detail, snapshot) = match &result {
        Ok(p) => (
            true,
            format!(
                "{} tables, {} rows as recorded; no migration to apply",
                p.tables, p.rows
            ),
            Some(p.snapshot.clone()),
        ),
        Err(e) => (false, e.to_string(), None),
    };
    let seconds = started.elapsed().as_secs();
    if let Err(e) = record::update(&current.layout.data().backup_record(), |r| {
        r.last_drill = Some(record::Drill {
            time: now,
            snapshot: snapshot.clone(),
            passed,
            detail: detail.clone(),
            seconds,
        });
    }) {
        journal::warn(format!(
            "the drill's record for `mathesarctl status` could not be written: {e}"
        ));
    }
    match result {
        Ok(p) => {
            journal::info(format!(
                "restore drill passed: snapshot {} restored into a throwaway database in {} s: {detail}",
                p.snapshot, seconds
            ));
            Ok(())
        }
        Err(drill::DrillError::Repository(e)) => Err(super::backup::repository_failure(e)),
        Err(e) => {
            let code = e.code();
            Err(Failure::new(
                code,
                anyhow::anyhow!(
                    "{e}. The backups may not restore: take a new backup (`mathesarctl backup`), run `mathesarctl backup verify` again, and keep the older snapshots until one passes"
                ),
            ))
        }
    }
}

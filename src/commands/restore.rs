//! `mathesarctl restore latest|SNAPSHOT`: the databases and the configuration as they were at a
//! snapshot of the restic repository; `restore DIR` (or `--from DIR`): a local backup directory.
//! Mathesar is stopped meanwhile (its database keeps running) and started again; a restore that
//! fails half-way leaves the installation as it was.

use std::path::Path;
use std::time::Duration;

use crate::cli::RestoreArgs;
use crate::day2::backup::DEFAULT_ROOT;
use crate::day2::repository;
use crate::day2::restore::{self, RestoreOptions, Restored};
use crate::exit::{Failure, Outcome};
use crate::stack::journal;

/// Whether `given` names a local backup directory rather than a snapshot of the repository.
fn is_local(given: &str, from: Option<&Path>) -> bool {
    from.is_some()
        || given.contains('/')
        || given.starts_with(crate::day2::backup::PREFIX)
        || Path::new(given).is_dir()
}

pub(crate) async fn run(args: RestoreArgs) -> Outcome {
    let dir = super::config_dir(&args.dir);
    let fail = |e: crate::day2::backup::BackupError| Failure::new(e.code(), e);
    let opts = RestoreOptions {
        force: args.force,
        timeout: args.timeout.map(Duration::from_secs),
        no_start: args.no_start,
    };
    let done: Restored = if is_local(&args.backup, args.from.as_deref()) {
        let from = args.from.clone().unwrap_or_else(|| DEFAULT_ROOT.into());
        let backup = restore::resolve(&args.backup, &from).map_err(fail)?;
        journal::info(format!("restoring the backup {}", backup.display()));
        restore::restore(&dir, &backup, &opts).await.map_err(fail)?
    } else {
        let (snapshot, done) =
            repository::restore(&dir, Path::new(DEFAULT_ROOT), &args.backup, &opts)
                .await
                .map_err(super::backup::repository_failure)?;
        journal::info(format!("restored the snapshot {snapshot}"));
        done
    };
    journal::info(format!(
        "restored the backup of {} ({})",
        done.manifest.created,
        done.manifest
            .dumps
            .iter()
            .map(|d| d.database.as_str())
            .chain(std::iter::once("configuration"))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    if args.no_start {
        println!("Mathesar is stopped (--no-start); start it with: systemctl start mathesar");
    } else {
        println!("Mathesar is running. Log in at {}", done.login_url);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshots_and_local_directories_are_told_apart() {
        assert!(!is_local("latest", None));
        assert!(!is_local("1b90d607", None));
        assert!(is_local("latest", Some(Path::new("/var/backups/mathesar"))));
        assert!(is_local("/var/tmp/backup", None));
        assert!(is_local("mathesar-20261125T090845Z", None));
    }
}

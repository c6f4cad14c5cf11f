//! `mathesarctl restore BACKUP [--force]`: the databases and the configuration as they were at the
//! backup; Mathesar is stopped meanwhile (its database keeps running) and started again.

use std::time::Duration;

use crate::cli::RestoreArgs;
use crate::day2::restore::{self, RestoreOptions};
use crate::exit::{Failure, Outcome};
use crate::stack::journal;

pub async fn run(args: RestoreArgs) -> Outcome {
    let dir = super::config_dir(&args.dir);
    let fail = |e: crate::day2::backup::BackupError| Failure::new(e.code(), e);
    let backup = restore::resolve(&args.backup, &args.from).map_err(fail)?;
    journal::info(format!("restoring the backup {}", backup.display()));
    let done = restore::restore(
        &dir,
        &backup,
        &RestoreOptions {
            force: args.force,
            timeout: args.timeout.map(Duration::from_secs),
            no_start: args.no_start,
        },
    )
    .await
    .map_err(fail)?;
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

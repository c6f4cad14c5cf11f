//! `mathesarctl backup [--to DIR] [--keep N]`: dumps of the bundled databases and a copy of the
//! configuration in a timestamped 0700 directory; prints that directory's path on stdout.

use crate::cli::BackupArgs;
use crate::day2::backup::{self, Options};
use crate::exit::{Failure, Outcome};
use crate::stack::{Stack, journal};

pub async fn run(args: BackupArgs) -> Outcome {
    let dir = super::config_dir(&args.dir);
    if args.if_configured && !crate::storage::ConfigLayout::new(&dir).env_file().exists() {
        journal::info(format!(
            "no configuration in {}: nothing to back up",
            dir.display()
        ));
        return Ok(());
    }
    let made = make(&dir, &args).await?;
    // Under debconf (a maintainer script) stdout speaks the debconf protocol: stderr then.
    if std::env::var_os("DEBIAN_HAS_FRONTEND").is_some() {
        eprintln!("{}", made.dir.display());
    } else {
        println!("{}", made.dir.display());
    }
    Ok(())
}

/// The backup `backup` and `upgrade` take.
pub async fn make(dir: &std::path::Path, args: &BackupArgs) -> Result<backup::Made, Failure> {
    let stack = Stack::open(dir).await.map_err(super::up::failure)?;
    let made = backup::create(
        &stack,
        &Options {
            root: args.to.clone(),
            keep: usize::from(args.keep),
            reason: args.reason.clone(),
            package_version: args
                .of_version
                .clone()
                .unwrap_or_else(|| env!("CARGO_PKG_VERSION").to_string()),
        },
    )
    .await
    .map_err(|e| Failure::new(e.code(), e))?;
    let what: Vec<String> = made
        .manifest
        .dumps
        .iter()
        .map(|d| format!("database {}", d.database))
        .chain(std::iter::once("the configuration".to_string()))
        .collect();
    journal::info(format!(
        "backup of {} written to {}",
        what.join(", "),
        made.dir.display()
    ));
    for note in &made.manifest.notes {
        journal::warn(note);
    }
    for old in &made.pruned {
        journal::info(format!(
            "removed the old backup {} (keeping {})",
            old.display(),
            args.keep
        ));
    }
    Ok(made)
}

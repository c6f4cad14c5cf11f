//! `mathesarctl backup`: dumps of the bundled databases and a copy of the configuration, stored
//! as a snapshot in the restic repository of the answers (then the retention applied), or with
//! `--to DIR` in a local timestamped 0700 directory whose path is printed on stdout (what package
//! upgrades take). `backup verify`: the restore drill (`commands::verify`).

use std::path::PathBuf;

use crate::cli::{BackupAction, BackupArgs, BackupOptions};
use crate::day2::backup::{self, Options};
use crate::day2::record;
use crate::day2::repository::{self, RepositoryError};
use crate::exit::{Failure, Outcome};
use crate::stack::{Stack, journal};

pub(crate) async fn run(args: BackupArgs) -> Outcome {
    if let Some(BackupAction::Verify(v)) = args.action {
        return super::verify::run(v).await;
    }
    let opts = &args.opts;
    let dir = super::config_dir(&opts.dir);
    if opts.if_configured && !crate::storage::ConfigLayout::new(&dir).env_file().exists() {
        journal::info(format!(
            "no configuration in {}: nothing to back up",
            dir.display()
        ));
        return Ok(());
    }
    if opts.to.is_some() {
        let made = make(&dir, opts).await?;
        // Under debconf (a maintainer script) stdout speaks the debconf protocol: stderr then.
        if std::env::var_os("DEBIAN_HAS_FRONTEND").is_some() {
            eprintln!("{}", made.dir.display());
        } else {
            println!("{}", made.dir.display());
        }
        return Ok(());
    }
    to_repository(&dir, opts, args.scheduled).await
}

fn options(args: &BackupOptions, root: PathBuf) -> Options {
    Options {
        root,
        keep: usize::from(args.keep),
        reason: args.reason.clone(),
        package_version: args
            .of_version
            .clone()
            .unwrap_or_else(|| env!("CARGO_PKG_VERSION").to_string()),
    }
}

/// A failure of the repository, said in one journal line (what failed, what to do) and restic's
/// own lines after it.
pub(crate) fn repository_failure(e: RepositoryError) -> Failure {
    if let Some(detail) = e.detail() {
        journal::info(format!("restic: {detail}"));
    }
    Failure::new(e.code(), e)
}

async fn to_repository(dir: &std::path::Path, args: &BackupOptions, scheduled: bool) -> Outcome {
    let stack = Stack::open(dir).await.map_err(super::up::failure)?;
    let s = &stack.current.settings;
    if scheduled && !s.backup.enabled {
        journal::warn(
            "scheduled backups are off (the answer `backup` is false): nothing was backed up. Turn them on with `dpkg-reconfigure mathesar` or MATHESAR_BACKUP=true mathesarctl configure",
        );
        return Ok(());
    }
    if s.backup.repository.is_local() {
        journal::warn(format!(
            "the repository {} is on this machine: a lost disk loses the backups with the data. Set `backup-repository` to an SFTP or REST server",
            s.backup.repository
        ));
    }
    let stored = repository::backup(&stack, &options(args, PathBuf::from(backup::DEFAULT_ROOT)))
        .await
        .map_err(repository_failure)?;
    let what: Vec<String> = stored
        .manifest
        .dumps
        .iter()
        .map(|d| {
            let tables = stored
                .manifest
                .row_counts
                .get(&d.database)
                .map_or(0, |c| c.len());
            format!("database {} ({tables} tables)", d.database)
        })
        .chain(std::iter::once("the configuration".to_string()))
        .collect();
    journal::info(format!(
        "backup of {} stored as snapshot {} in {} ({}, {} added to the repository)",
        what.join(", "),
        short(&stored.summary.snapshot_id),
        s.backup.repository,
        record::size(stored.summary.total_bytes_processed),
        record::size(stored.summary.data_added)
    ));
    for note in &stored.manifest.notes {
        journal::warn(note);
    }
    repository::apply_retention(&stack).map_err(|e| {
        journal::info("the backup is stored; only removing old snapshots failed");
        repository_failure(e)
    })?;
    journal::info(format!(
        "old snapshots removed as `backup-retention` says ({})",
        s.backup.retention
    ));
    println!("{}", short(&stored.summary.snapshot_id));
    Ok(())
}

fn short(id: &str) -> &str {
    &id[..id.len().min(8)]
}

/// The local backup `backup --to` and `upgrade` take.
pub(crate) async fn make(
    dir: &std::path::Path,
    args: &BackupOptions,
) -> Result<backup::Made, Failure> {
    let stack = Stack::open(dir).await.map_err(super::up::failure)?;
    let root = args
        .to
        .clone()
        .unwrap_or_else(|| PathBuf::from(backup::DEFAULT_ROOT));
    let made = backup::create(&stack, &options(args, root))
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

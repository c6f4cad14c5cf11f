//! The arguments of the day-2 commands: `logs`, `backup`, `restore`, `upgrade`, `doctor`,
//! `images`.

use std::path::PathBuf;

use clap::Args;

use super::ConfigDirArg;

#[derive(Debug, Args)]
pub struct LogsArgs {
    #[command(flatten)]
    pub dir: ConfigDirArg,
    /// Only this service: db, service, caddy-reverse-proxy (or its container name)
    #[arg(value_name = "SERVICE")]
    pub service: Option<String>,
    /// Keep printing new lines as they come (Ctrl-C ends)
    #[arg(short, long)]
    pub follow: bool,
    /// Lines from the end of each container's log to start with ("all" for every line)
    #[arg(short = 'n', long, value_name = "N", default_value = "200")]
    pub tail: String,
    /// Show a time stamp before each line
    #[arg(short, long)]
    pub timestamps: bool,
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct BackupArgs {
    #[command(subcommand)]
    pub action: Option<BackupAction>,
    #[command(flatten)]
    pub opts: BackupOptions,
    /// Run by mathesar-backup.service: nothing is done when the answer `backup` is false
    #[arg(long, hide = true)]
    pub scheduled: bool,
}

/// What a backup is made of and where it goes (`backup`, and `upgrade`'s backup).
#[derive(Debug, Args)]
pub struct BackupOptions {
    #[command(flatten)]
    pub dir: ConfigDirArg,
    /// A local, timestamped backup directory in DIR instead of a snapshot in the repository of
    /// the answer `backup-repository` (what package upgrades take, in /var/backups/mathesar)
    #[arg(long, value_name = "DIR")]
    pub to: Option<PathBuf>,
    /// With --to: how many backups to keep in that directory, the new one included (older ones
    /// are removed). The repository keeps what the answer `backup-retention` says
    #[arg(long, value_name = "N", default_value_t = crate::day2::backup::DEFAULT_KEEP,
          value_parser = clap::value_parser!(u16).range(1..))]
    pub keep: u16,
    /// Why the backup is made, recorded in its manifest (e.g. `upgrade`)
    #[arg(long, value_name = "WORD", default_value = "manual")]
    pub reason: String,
    /// Succeed without a backup when there is no configuration yet (package upgrades)
    #[arg(long)]
    pub if_configured: bool,
    /// The package version the configuration and data belong to, recorded in the manifest
    /// instead of this binary's (package upgrades pass the version they upgrade from; a Debian
    /// epoch and revision are dropped)
    #[arg(long, value_name = "VERSION", value_parser = crate::day2::manifest::upstream_version)]
    pub of_version: Option<String>,
}

#[derive(Debug, clap::Subcommand)]
pub enum BackupAction {
    /// The restore drill: restore the latest snapshot into a throwaway PostgreSQL container,
    /// compare every table's row count with the counts recorded at the backup, and check that
    /// Mathesar has no migration left to apply against it; the container and files are removed
    /// whatever happens
    Verify(VerifyArgs),
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub dir: ConfigDirArg,
    /// The snapshot to check: `latest` or its id
    #[arg(long, value_name = "SNAPSHOT", default_value = "latest")]
    pub snapshot: String,
    /// Run by mathesar-backup-verify.service: nothing is done when the answer `backup` is false
    #[arg(long, hide = true)]
    pub scheduled: bool,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    #[command(flatten)]
    pub dir: ConfigDirArg,
    /// The backup: `latest` or a snapshot id of the repository (the answer `backup-repository`);
    /// or a local backup directory's path, or its name in the --from directory
    #[arg(value_name = "BACKUP")]
    pub backup: String,
    /// Restore a local backup directory (made with `backup --to`, or before an upgrade): where to
    /// look for one given by name or as `latest` (e.g. /var/backups/mathesar)
    #[arg(long, value_name = "DIR")]
    pub from: Option<PathBuf>,
    /// Restore a backup made by a newer package version
    #[arg(long)]
    pub force: bool,
    /// Seconds each container may take to become healthy again [default: per service]
    #[arg(long, value_name = "SECONDS")]
    pub timeout: Option<u64>,
    /// Leave Mathesar stopped afterwards (e.g. before installing the package it ran with)
    #[arg(long)]
    pub no_start: bool,
}

#[derive(Debug, Args)]
pub struct UpgradeArgs {
    #[command(flatten)]
    pub backup: BackupOptions,
    /// Seconds each container may take to become healthy [default: per service]
    #[arg(long, value_name = "SECONDS")]
    pub timeout: Option<u64>,
    /// Use this local backup, taken before the upgrade already (by the package's postinst),
    /// instead of taking one: it is what a failed start puts back
    #[arg(long, value_name = "DIR")]
    pub backup_dir: Option<PathBuf>,
    /// Restart mathesar.service whatever its state, as a package upgrade does (without it: a
    /// running unit reloads, a stopped installation stays stopped)
    #[arg(long)]
    pub restart: bool,
    /// A reinstallation of the same package version (the postinst): a retry, as above, when a
    /// failed upgrade holds the previous release back; otherwise only a restart of the unit on
    /// this version, without a backup (no release changes)
    #[arg(long, hide = true)]
    pub reinstall: bool,
    /// The package version installed, as the package manager names it, for the record of a
    /// failed upgrade [default: this binary's]
    #[arg(long, value_name = "VERSION", hide = true)]
    pub package_version: Option<String>,
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    #[command(flatten)]
    pub dir: ConfigDirArg,
    /// Also write a support bundle (tar.gz, 0600, every secret redacted) to this file
    #[arg(long, value_name = "FILE")]
    pub bundle: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ImagesArgs {
    #[command(subcommand)]
    pub command: ImagesCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum ImagesCommand {
    /// Export the pinned images (with the image-registry prefix) into FILE (gzip if it ends in .gz)
    Save {
        #[command(flatten)]
        dir: ConfigDirArg,
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// Pull images that are not present first (needs their registry)
        #[arg(long)]
        pull: bool,
    },
    /// Load the images of FILE (made by `images save` or `docker save`) into the Docker Engine
    Load {
        #[command(flatten)]
        dir: ConfigDirArg,
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
    /// Pull the images this configuration needs that are not present, showing progress
    Pull {
        #[command(flatten)]
        dir: ConfigDirArg,
        /// Do nothing (exit 0) when the package is not configured yet (maintainer scripts)
        #[arg(long)]
        if_configured: bool,
    },
    /// Pull every pinned image again (a security rebuild of the same tag) and, when one changed,
    /// reload Mathesar: only the containers whose image changed are recreated. What
    /// `mathesar-refresh.timer` runs daily with the answer refresh-images
    Refresh {
        #[command(flatten)]
        dir: ConfigDirArg,
        /// Run by the timer: do nothing (exit 0) when the answer refresh-images is false
        #[arg(long)]
        scheduled: bool,
    },
    /// List the pinned images and whether each is present
    List {
        #[command(flatten)]
        dir: ConfigDirArg,
    },
}

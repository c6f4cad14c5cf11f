//! The arguments of the day-2 commands: `logs`, `backup`, `restore`, `upgrade`, `doctor`,
//! `images`.

use std::path::PathBuf;

use clap::Args;

use super::ConfigDirArg;

#[derive(Debug, Args)]
pub struct LogsArgs {
    #[command(flatten)]
    pub dir: ConfigDirArg,
    /// Only this service: db, service, caddy-reverse-proxy, watchtower (or its container name)
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
pub struct BackupArgs {
    #[command(flatten)]
    pub dir: ConfigDirArg,
    /// Directory the timestamped backup directory is created in
    #[arg(long, value_name = "DIR", default_value = crate::day2::backup::DEFAULT_ROOT)]
    pub to: PathBuf,
    /// How many backups to keep in that directory, the new one included (older ones are removed)
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

#[derive(Debug, Args)]
pub struct RestoreArgs {
    #[command(flatten)]
    pub dir: ConfigDirArg,
    /// The backup: its directory, its name in /var/backups/mathesar, or `latest`
    #[arg(value_name = "BACKUP")]
    pub backup: String,
    /// Where to look for a backup given by name or as `latest`
    #[arg(long, value_name = "DIR", default_value = crate::day2::backup::DEFAULT_ROOT)]
    pub from: PathBuf,
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
    pub backup: BackupArgs,
    /// Seconds each container may take to become healthy [default: per service]
    #[arg(long, value_name = "SECONDS")]
    pub timeout: Option<u64>,
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
    /// List the pinned images and whether each is present
    List {
        #[command(flatten)]
        dir: ConfigDirArg,
    },
}

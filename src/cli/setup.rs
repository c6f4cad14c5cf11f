//! The arguments of the commands that set up and take down a configuration: `configure`,
//! `check`, `show-config`, `debconf-config`, `purge`, and `generate` (man page, completions).

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::ConfigDirArg;

#[derive(Debug, Args)]
pub struct ConfigureArgs {
    #[command(flatten)]
    pub dir: ConfigDirArg,
    /// Read answers from this YAML file (answer names as keys)
    #[arg(long, value_name = "FILE")]
    pub answers: Option<PathBuf>,
    /// Never prompt: generate what can be generated safely, fail on anything else missing
    #[arg(long)]
    pub non_interactive: bool,
    /// Print what would change (secrets masked) and write nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Write the configuration but start or reload nothing (image builds, chroots)
    #[arg(long)]
    pub no_start: bool,
    /// Take the debconf answers too, above every other source (the package's postinst)
    #[arg(long)]
    pub debconf: bool,
    /// Seconds to wait for another run holding the configuration lock
    #[arg(long, value_name = "SECONDS", default_value_t = 120)]
    pub lock_timeout: u64,
}

#[derive(Debug, Args)]
pub struct AdoptArgs {
    #[command(flatten)]
    pub dir: ConfigDirArg,
    /// Directory of the installation: its .env and docker-compose.yml [default: the
    /// configuration directory]
    pub installation: Option<PathBuf>,
    /// Take it over (without it: report what was found and what would be done, change nothing)
    #[arg(long)]
    pub yes: bool,
    /// Read the other answers from this YAML file (answer names as keys)
    #[arg(long, value_name = "FILE")]
    pub answers: Option<PathBuf>,
    /// Configure, but start nothing
    #[arg(long)]
    pub no_start: bool,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub dir: ConfigDirArg,
    /// Check as for a configuration that will not be started now (no systemd needed)
    #[arg(long)]
    pub no_start: bool,
}

#[derive(Debug, Args)]
pub struct ShowConfigArgs {
    #[command(flatten)]
    pub dir: ConfigDirArg,
    /// Print JSON for automation
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct DebconfConfigArgs {
    #[command(flatten)]
    pub dir: ConfigDirArg,
    /// What debconf passes to a config script (`configure VERSION`, `reconfigure VERSION`)
    #[arg(num_args = 0.., allow_hyphen_values = true)]
    pub script_args: Vec<String>,
}

#[derive(Debug, Args)]
pub struct PurgeArgs {
    #[command(flatten)]
    pub dir: ConfigDirArg,
    /// Delete the data directory too, whatever the answer `purge-data` says (the package's purge
    /// passes debconf's answer this way); still only a directory carrying the package's marker
    #[arg(long)]
    pub purge_data: bool,
    /// The files only: no container removed, systemd not reloaded (dpkg's postrm under
    /// DPKG_ROOT, an installation into another tree, whose engine and systemd are not this
    /// machine's)
    #[arg(long, hide = true)]
    pub files_only: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Generated {
    Man,
    Bash,
    Zsh,
    Fish,
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    pub what: Generated,
}

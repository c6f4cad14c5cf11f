//! The command line, as data: clap definitions only, no I/O. The man page and shell completions
//! are generated from these same definitions (`mathesarctl generate`).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::exit;

#[derive(Debug, Parser)]
#[command(
    name = "mathesarctl",
    version,
    about = "Configure, run and maintain a self-hosted Mathesar (Docker Compose under systemd)",
    long_about = "mathesarctl configures and runs a self-hosted Mathesar: the answers (debconf, an answers file, \
MATHESAR_* environment variables or prompts) become /etc/mathesar (root only), and mathesar.service runs \
the Docker Compose stack (PostgreSQL, Mathesar, Caddy).",
    after_help = exit::TABLE,
    propagate_version = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Ask or read the answers, check the host, and write the configuration (idempotent)
    #[command(after_help = exit::TABLE)]
    Configure(ConfigureArgs),
    /// Check the host alone: OS, root, systemd, Docker Engine and Compose versions, ports, disk
    #[command(after_help = exit::TABLE)]
    Check(CheckArgs),
    /// Show the effective settings, secrets masked
    #[command(after_help = exit::TABLE)]
    ShowConfig(ShowConfigArgs),
    /// Start the stack in order with health waits, create the admin once, print the login address
    #[command(after_help = exit::TABLE)]
    Up(UpArgs),
    /// Stop the containers (containers, volumes and data are kept)
    #[command(after_help = exit::TABLE)]
    Down(DownArgs),
    /// Apply a changed configuration to the running stack, recreating only what changed
    #[command(after_help = exit::TABLE)]
    Reload(UpArgs),
    /// The unit's foreground process: up, notify systemd, watch the containers, stop on SIGTERM
    #[command(after_help = exit::TABLE)]
    Run(RunArgs),
    /// Show the unit's state, each container's health and the login address
    #[command(after_help = crate::commands::status::EXIT_CODES)]
    Status(StatusArgs),
    /// Write the man page or shell completions (used when building the packages)
    #[command(hide = true)]
    Generate(GenerateArgs),
    /// Ask the debconf questions (run by the package's `config` script under debconf)
    #[command(hide = true)]
    DebconfConfig(DebconfConfigArgs),
    /// Remove the configuration and the containers; the data only when purge-data is true
    #[command(after_help = exit::TABLE)]
    Purge(PurgeArgs),
    /// Show the stack's container logs
    #[command(after_help = exit::TABLE)]
    Logs(crate::day2::cli::LogsArgs),
    /// Back up the bundled databases and the configuration into a timestamped directory
    #[command(after_help = exit::TABLE)]
    Backup(crate::day2::cli::BackupArgs),
    /// Restore a backup: stop Mathesar, restore the databases and configuration, start it again
    #[command(after_help = exit::TABLE)]
    Restore(crate::day2::cli::RestoreArgs),
    /// Take a backup, then bring the stack to this package version's files and images
    #[command(after_help = exit::TABLE)]
    Upgrade(crate::day2::cli::UpgradeArgs),
    /// Check the host and the running stack; write a support bundle with secrets redacted
    #[command(after_help = exit::TABLE)]
    Doctor(crate::day2::cli::DoctorArgs),
    /// Save the pinned images to a file, or load them from one (hosts without a registry)
    #[command(after_help = exit::TABLE)]
    Images(crate::day2::cli::ImagesArgs),
}

#[derive(Debug, Clone, Args)]
pub struct ConfigDirArg {
    /// Configuration directory [default: the one in /etc/default/mathesar, else /etc/mathesar]
    #[arg(long, value_name = "DIR", env = "MATHESAR_CONFIG_DIR")]
    pub config_dir: Option<PathBuf>,
}

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
pub struct UpArgs {
    #[command(flatten)]
    pub dir: ConfigDirArg,
    /// Seconds each container may take to become healthy [default: per service, 120 to 600]
    #[arg(long, value_name = "SECONDS")]
    pub timeout: Option<u64>,
    /// Skip the host checks before starting (`up` only)
    #[arg(long)]
    pub no_preflight: bool,
}

#[derive(Debug, Args)]
pub struct DownArgs {
    #[command(flatten)]
    pub dir: ConfigDirArg,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub dir: ConfigDirArg,
    /// Seconds each container may take to become healthy at start [default: per service]
    #[arg(long, value_name = "SECONDS")]
    pub timeout: Option<u64>,
    /// Seconds a container may stay stopped or unhealthy before `run` ends with a failure
    #[arg(long, value_name = "SECONDS", default_value_t = 120)]
    pub grace: u64,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub dir: ConfigDirArg,
    /// Print JSON for automation
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct PurgeArgs {
    #[command(flatten)]
    pub dir: ConfigDirArg,
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

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn definitions_are_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn configure_flags_parse() {
        let c = Cli::try_parse_from([
            "mathesarctl",
            "configure",
            "--config-dir",
            "/srv/m",
            "--answers",
            "a.yml",
            "--non-interactive",
            "--dry-run",
            "--no-start",
        ])
        .unwrap();
        let Command::Configure(a) = c.command else {
            panic!()
        };
        assert_eq!(a.dir.config_dir.unwrap(), PathBuf::from("/srv/m"));
        assert!(a.non_interactive && a.dry_run && a.no_start);
        assert_eq!(a.lock_timeout, 120);
    }

    #[test]
    fn lifecycle_flags_parse() {
        let c = Cli::try_parse_from(["mathesarctl", "up", "--timeout", "30", "--no-preflight"])
            .unwrap();
        let Command::Up(a) = c.command else { panic!() };
        assert_eq!(a.timeout, Some(30));
        assert!(a.no_preflight);
        let c = Cli::try_parse_from(["mathesarctl", "run"]).unwrap();
        let Command::Run(a) = c.command else { panic!() };
        assert_eq!((a.timeout, a.grace), (None, 120));
        let c = Cli::try_parse_from(["mathesarctl", "status", "--json"]).unwrap();
        let Command::Status(a) = c.command else {
            panic!()
        };
        assert!(a.json);
        assert!(Cli::try_parse_from(["mathesarctl", "down", "--config-dir", "/srv/m"]).is_ok());
        assert!(Cli::try_parse_from(["mathesarctl", "reload", "--timeout", "5"]).is_ok());
    }
}

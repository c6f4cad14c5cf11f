//! The command line, as data: every clap definition of `mathesarctl` and nothing else (no I/O;
//! it depends on no command). The man page and shell completions are generated from these same
//! definitions (`mathesarctl generate`). One file per group of commands: `setup` (configure,
//! check, show-config, debconf-config, purge, generate), `stack` (up, down, reload, run,
//! status), `day2` (logs, backup, restore, upgrade, doctor, images), `maintainer` (the hidden
//! command the package's maintainer scripts call).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::exit;

mod day2;
mod maintainer;
mod setup;
mod stack;

pub(crate) use day2::*;
pub(crate) use maintainer::*;
pub(crate) use setup::*;
pub(crate) use stack::*;

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
    /// Take over an existing Mathesar (upstream's Docker Compose install in DIR, or the 0.1.x
    /// guided installer's /etc/mathesar): report what was found, then, with --yes, keep its
    /// files, stop and keep its containers, copy its data and configure this package on it
    #[command(after_help = exit::TABLE)]
    Adopt(AdoptArgs),
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
    /// Take this host out of a load balancer's rotation: the health check answers 503
    /// "draining" (requests are still served) until the next successful start or --undo
    #[command(after_help = exit::TABLE)]
    Drain(DrainArgs),
    /// Apply a changed configuration to the running stack, recreating only what changed
    #[command(after_help = exit::TABLE)]
    Reload(UpArgs),
    /// The unit's foreground process: up, notify systemd, watch the containers, stop on SIGTERM
    #[command(after_help = exit::TABLE)]
    Run(RunArgs),
    /// Show the unit's state, each container's health and the login address
    #[command(after_help = exit::STATUS_TABLE)]
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
    Logs(LogsArgs),
    /// Back up the bundled databases and the configuration into the restic repository (or a
    /// local directory with --to); `backup verify`: the restore drill
    #[command(after_help = exit::TABLE)]
    Backup(BackupArgs),
    /// Restore a backup: stop Mathesar, restore the databases and configuration, start it again
    #[command(after_help = exit::TABLE)]
    Restore(RestoreArgs),
    /// Take a backup, then bring the stack to this package version's files and images
    #[command(after_help = exit::TABLE)]
    Upgrade(UpgradeArgs),
    /// Check the host and the running stack; write a support bundle with secrets redacted
    #[command(after_help = exit::TABLE)]
    Doctor(DoctorArgs),
    /// Save the pinned images to a file, or load them from one (hosts without a registry)
    #[command(after_help = exit::TABLE)]
    Images(ImagesArgs),
    /// The work of the package's maintainer scripts, which call it with their own arguments
    #[command(hide = true)]
    Maintainer(MaintainerArgs),
}

#[derive(Debug, Clone, Args)]
pub struct ConfigDirArg {
    /// Configuration directory [default: the one in /etc/default/mathesar, else /etc/mathesar]
    #[arg(long, value_name = "DIR", env = "MATHESAR_CONFIG_DIR")]
    pub config_dir: Option<PathBuf>,
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

    /// The scripts' own arguments reach the command as they are; the command is not in `--help`.
    #[test]
    fn maintainer_takes_the_scripts_arguments() {
        for (argv, want) in [
            (
                vec!["deb-postinst", "configure", "0.10.1-1"],
                vec!["configure", "0.10.1-1"],
            ),
            (vec!["deb-postinst", "configure", ""], vec!["configure", ""]),
            (vec!["deb-prerm", "remove"], vec!["remove"]),
            (
                vec!["deb-postrm", "purge", "--weird"],
                vec!["purge", "--weird"],
            ),
            (vec!["rpm-post", "2"], vec!["2"]),
            (vec!["rpm-posttrans"], vec![]),
        ] {
            let c = Cli::try_parse_from(
                ["mathesarctl", "maintainer"]
                    .into_iter()
                    .chain(argv.clone()),
            )
            .unwrap_or_else(|e| panic!("{argv:?}: {e}"));
            let Command::Maintainer(a) = c.command else {
                panic!()
            };
            assert_eq!(a.script.args(), want, "{argv:?}");
        }
        assert!(Cli::try_parse_from(["mathesarctl", "maintainer", "deb-config"]).is_err());
        let help = Cli::command().render_help().to_string();
        assert!(!help.contains("maintainer"), "{help}");
    }
}

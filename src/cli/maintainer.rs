//! The arguments of `mathesarctl maintainer SCRIPT ARGS...` (hidden from `--help`): the package's
//! maintainer scripts call it with their own arguments, and it does their work.

use clap::{Args, Subcommand};

#[derive(Debug, Args)]
pub struct MaintainerArgs {
    #[command(subcommand)]
    pub script: Script,
}

/// The script whose work is done.
#[derive(Debug, Subcommand)]
pub enum Script {
    /// debian/postinst: the backup before an upgrade, configure with debconf's answers, the
    /// images, the start, restart (an upgrade, put back when it fails) or reload, the timers
    DebPostinst(ScriptArgs),
    /// debian/prerm: at `remove`, a copy of mathesarctl kept for the purge, the timers stopped
    /// and their links removed
    DebPrerm(ScriptArgs),
    /// debian/postrm: at `purge`, `mathesarctl purge` with debconf's purge-data
    DebPostrm(ScriptArgs),
    /// rpm's %post: the backup before an upgrade, configure from answers.yml or MATHESAR_*
    RpmPost(ScriptArgs),
    /// rpm's %posttrans: after an upgrade, the images, then the restart on the new release
    /// (put back when it fails)
    RpmPosttrans(ScriptArgs),
}

#[derive(Debug, Args)]
pub struct ScriptArgs {
    /// What the package manager passed to the script (`configure 0.10.1-1`, `remove`, `2`)
    #[arg(num_args = 0.., allow_hyphen_values = true, trailing_var_arg = true)]
    pub args: Vec<String>,
}

impl Script {
    /// The script's own arguments.
    pub fn args(&self) -> &[String] {
        match self {
            Script::DebPostinst(a)
            | Script::DebPrerm(a)
            | Script::DebPostrm(a)
            | Script::RpmPost(a)
            | Script::RpmPosttrans(a) => &a.args,
        }
    }
}

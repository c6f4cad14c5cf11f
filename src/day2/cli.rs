//! The command-line definitions of the day-2 commands (clap derive, no I/O); `crate::cli` names
//! them in its command list.

use clap::Args;

use crate::cli::ConfigDirArg;

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

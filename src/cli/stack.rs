//! The arguments of the lifecycle commands: `up`, `down`, `reload`, `run` (the unit's process)
//! and `status`.

use clap::Args;

use super::ConfigDirArg;

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
pub struct DrainArgs {
    #[command(flatten)]
    pub dir: ConfigDirArg,
    /// Seconds to wait after the health check starts answering 503, for the load balancer to
    /// notice and the requests in flight to end
    #[arg(long, value_name = "SECONDS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(0..=crate::stack::drain::MAX_SECONDS))]
    pub seconds: u64,
    /// End a drain: the health check answers 200 again (a successful start ends it too)
    #[arg(long, conflicts_with = "seconds")]
    pub undo: bool,
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

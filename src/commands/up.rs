//! `mathesarctl up`: preflight, pull what is missing, start in order with health waits, create the
//! admin once, print the login address.

use std::time::Duration;

use crate::cli::UpArgs;
use crate::exit::{Failure, Outcome};
use crate::stack::{Options, Stack, StackError, journal};

pub async fn run(args: UpArgs) -> Outcome {
    let dir = super::config_dir(&args.dir);
    let applied = up(
        &dir,
        args.timeout.map(Duration::from_secs),
        !args.no_preflight,
    )
    .await
    .map_err(failure)?;
    println!("Mathesar is running. Log in at {}", applied.login_url);
    Ok(())
}

/// The shared path of `up` and `run`.
pub async fn up(
    dir: &std::path::Path,
    timeout: Option<Duration>,
    preflight: bool,
) -> Result<crate::stack::lifecycle::Applied, StackError> {
    let stack = Stack::open(dir).await?;
    journal::info(format!(
        "starting Mathesar (configuration {})",
        dir.display()
    ));
    stack
        .apply(&Options {
            timeout,
            preflight,
            strict_certificates: false,
        })
        .await
}

/// A lifecycle failure as the command's outcome.
pub fn failure(e: StackError) -> Failure {
    let code = e.code();
    Failure::new(code, e)
}

//! `mathesarctl up`: preflight, pull what is missing, start in order with health waits, create the
//! admin once, print the login address.

use std::time::Duration;

use crate::cli::UpArgs;
use crate::exit::{Failure, Outcome};
use crate::stack::{Options, Stack, StackError, journal};

pub(crate) async fn run(args: UpArgs) -> Outcome {
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
pub(crate) async fn up(
    dir: &std::path::Path,
    timeout: Option<Duration>,
    preflight: bool,
) -> Result<crate::stack::lifecycle::Applied, StackError> {
    let stack = Stack::open(dir).await?;
    journal::info(format!(
        "starting Mathesar (configuration {})",
        dir.display()
    ));
    let upgrading = stack.prepare_bundled_db_upgrade().await?;
    if preflight {
        let report = crate::preflight::run(
            &stack.current.settings,
            &crate::preflight::Options { will_start: true },
        )
        .await;
        if report.failed() {
            journal::error(report.to_string().trim_end());
            let names: Vec<_> = report.failures().map(|c| c.name).collect();
            return Err(StackError::Preflight(names.join(", ")));
        }
    }
    stack
        .apply_prepared(
            &Options {
                timeout,
                strict_certificates: false,
            },
            upgrading,
        )
        .await
}

/// A lifecycle failure as the command's outcome.
pub(crate) fn failure(e: StackError) -> Failure {
    let code = e.code();
    Failure::new(code, e)
}

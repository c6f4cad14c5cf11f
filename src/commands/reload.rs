//! `mathesarctl reload`: apply a changed configuration to the running stack with the least
//! disruption: a changed database password is set inside the running database first, then only
//! the services whose configuration changed are recreated, with the same health waits as `up`.

use std::time::Duration;

use crate::cli::UpArgs;
use crate::exit::Outcome;
use crate::stack::{Options, Stack, journal};

pub(crate) async fn run(args: UpArgs) -> Outcome {
    let dir = super::config_dir(&args.dir);
    let stack = Stack::open(&dir).await.map_err(super::up::failure)?;
    if !stack.any_running().await.map_err(super::up::failure)? {
        journal::info(
            "Mathesar is not running: nothing to reload; the configuration is used at the next start",
        );
        return Ok(());
    }
    journal::info(format!("applying the configuration in {}", dir.display()));
    let applied = stack
        .apply(&Options {
            timeout: args.timeout.map(Duration::from_secs),
            // The running stack holds its own ports; the configuration was checked when written.
            strict_certificates: true,
        })
        .await
        .map_err(super::up::failure)?;
    if applied.password_changed {
        journal::info("the database password was changed inside the database");
    }
    if applied.recreated.is_empty() {
        journal::info("no container needed to be recreated");
    } else {
        journal::info(format!("recreated: {}", applied.recreated.join(", ")));
    }
    println!("Mathesar is running. Log in at {}", applied.login_url);
    Ok(())
}

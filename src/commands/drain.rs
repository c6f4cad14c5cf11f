//! `mathesarctl drain`: take this host out of a load balancer's rotation (its health check
//! answers 503 "draining") and wait for the balancer to notice; `--undo` puts it back. See
//! `stack::drain`.

use anyhow::Context;

use crate::cli::DrainArgs;
use crate::exit::{Code, Failure, Outcome};
use crate::stack::drain::{self, DrainError};
use crate::stack::journal;

pub(crate) async fn run(args: DrainArgs) -> Outcome {
    let dir = super::config_dir(&args.dir);
    let current = crate::stack::config::load(&dir)
        .with_context(|| format!("cannot read the configuration in {}", dir.display()))
        .map_err(|e| Failure::new(Code::Io, e))?;
    let data = current.layout.data();
    if args.undo {
        if drain::end(&data).map_err(failure)? {
            journal::info("the drain ended: the health check answers 200 again");
        }
        println!(
            "This host is in the load balancer's rotation again (its health check answers 200)."
        );
        return Ok(());
    }
    drain::drain_for(&data, args.seconds)
        .await
        .map_err(failure)?;
    println!(
        "This host is out of the load balancer's rotation: its health check answers 503 \"draining\" \
         (requests still reaching it are served). Stop or restart it now (`systemctl restart mathesar`); \
         its next successful start, or `mathesarctl drain --undo`, puts it back."
    );
    Ok(())
}

/// Exit codes: a bad number of seconds is an invalid answer; the marker's file, a file error.
pub(crate) fn failure(e: DrainError) -> Failure {
    let code = match e {
        DrainError::BadSeconds { .. } => Code::InvalidAnswer,
        _ => Code::Io,
    };
    Failure::new(code, e)
}

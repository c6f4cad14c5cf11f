//! `mathesarctl down`: stop the containers. Never removes a container, a volume or data.
//! With `MATHESAR_DRAIN_SECONDS` set (in `/etc/default/mathesar` for the unit's stop), the host
//! drains first: its health check answers 503 for that long while it still serves, so that a
//! load balancer takes it out of rotation before anything stops (`stack::drain`).

use crate::cli::DownArgs;
use crate::exit::Outcome;
use crate::stack::{Stack, drain, journal};

pub(crate) async fn run(args: DownArgs) -> Outcome {
    let dir = super::config_dir(&args.dir);
    let seconds = drain::seconds_from(std::env::var(drain::SECONDS_VAR).ok().as_deref())
        .map_err(super::drain::failure)?;
    let stack = Stack::open(&dir).await.map_err(super::up::failure)?;
    if seconds > 0 && stack.any_running().await.map_err(super::up::failure)? {
        drain::drain_for(&stack.current.layout.data(), seconds)
            .await
            .map_err(super::drain::failure)?;
    }
    journal::info("stopping Mathesar (containers and data are kept)");
    stack.down().await.map_err(super::up::failure)?;
    journal::info("Mathesar is stopped");
    Ok(())
}

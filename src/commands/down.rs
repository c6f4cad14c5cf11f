//! `mathesarctl down`: stop the containers. Never removes a container, a volume or data.

use crate::cli::DownArgs;
use crate::exit::Outcome;
use crate::stack::{Stack, journal};

pub async fn run(args: DownArgs) -> Outcome {
    let dir = super::config_dir(&args.dir);
    let stack = Stack::open(&dir).await.map_err(super::up::failure)?;
    journal::info("stopping Mathesar (containers and data are kept)");
    stack.down().await.map_err(super::up::failure)?;
    journal::info("Mathesar is stopped");
    Ok(())
}

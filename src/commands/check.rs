//! `mathesarctl check`: the preflight alone, for the current configuration or the defaults.

use anyhow::anyhow;

use crate::cli::CheckArgs;
use crate::exit::{Code, Failure, Outcome, WithCode};
use crate::preflight;
use crate::settings::{Key, Settings, Source};
use crate::sources::{self, Layers, current};
use crate::storage::ConfigLayout;

pub(crate) async fn run(args: CheckArgs) -> Outcome {
    let dir = super::config_dir(&args.dir);
    let found = {
        let _reading = super::read_lock(&dir)?;
        current::read(&ConfigLayout::new(&dir)).map_err(|e| Failure::new(e.code(), e))?
    };
    let mut detected = sources::detected();
    // Without a configuration the checks need some password; it is never used or shown.
    detected.set(Key::DbPassword, "not-configured-yet", Source::Default);
    let answers = Layers {
        detected,
        ..Layers::current(found.answers)
    }
    .merge(&dir);
    let settings = Settings::from_answers(&answers).code(Code::InvalidAnswer)?;
    let report = preflight::run(
        &settings,
        &preflight::Options {
            will_start: !args.no_start,
        },
    )
    .await;
    print!("{report}");
    if report.failed() {
        return Err(Failure::new(
            Code::Preflight,
            anyhow!("the host does not meet every requirement (see above)"),
        ));
    }
    println!("mathesar: the host meets every requirement");
    Ok(())
}

//! The question `mathesar/adopt`: asked (high priority) when a first installation finds a
//! Mathesar it did not make, with what was found in its text. Preseeded, it is not shown; not
//! answered yes, `configure` refuses with nothing changed (`commands::adopt`).

use std::path::{Path, PathBuf};

use super::{Client, DebconfError, Go, Priority};
use crate::adoption::{self, Request, plan::Plan};

/// Asks the question when an installation is found; returns whether one was found and the
/// answer was no (the other questions are then pointless: the installation stops).
pub(crate) fn ask(c: &mut Client, config_dir: &Path) -> Result<bool, DebconfError> {
    use crate::storage::dirs::{self, State};
    // Only for a first installation: the package's configuration is not there yet.
    if matches!(
        dirs::inspect(&dirs::CONFIG, config_dir),
        Ok(State::Created | State::Adopted | State::Legacy)
    ) {
        return Ok(false);
    }
    let from = match c.get(adoption::QUESTION_ADOPT_FROM) {
        Ok(v) if !v.is_empty() => Some(PathBuf::from(v)),
        Ok(_) | Err(DebconfError::Command { code: 10, .. }) => None,
        Err(e) => return Err(e),
    };
    let request = Request {
        from,
        consent: false,
    }
    .with_environment()
    .unwrap_or_default();
    let dir = request.from.unwrap_or_else(|| config_dir.into());
    if !dir.exists() {
        return Ok(false);
    }
    // Problems (an engine that does not answer, an untrusted directory) are `configure`'s to
    // report, with their exit code.
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return Ok(false);
    };
    let Ok(Some(found)) = runtime.block_on(adoption::find(&dir)) else {
        return Ok(false);
    };
    let data_dir = match c.get("mathesar/data-dir") {
        Ok(v) if !v.is_empty() => v,
        _ => crate::settings::DEFAULT_DATA_DIR.into(),
    };
    let stamp = crate::time::compact(std::time::SystemTime::now());
    let plan = Plan::new(found, Path::new(&data_dir), stamp, config_dir);
    // One line: a substituted value cannot hold a line break.
    let text = plan.to_string().replace('\n', " | ");
    c.subst(adoption::QUESTION_ADOPT, "found", &text)?;
    c.input(Priority::High, adoption::QUESTION_ADOPT)?;
    if c.go()? == Go::Back {
        return Ok(false);
    }
    Ok(c.get(adoption::QUESTION_ADOPT)? != "true")
}

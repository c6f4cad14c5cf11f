//! Docker Compose: the `docker compose` plugin, v2 >= 2.10.0 (`up --wait` and the compose file
//! features the stack uses; v1 has neither).

use std::time::Duration;

use semver::Version;

use super::os::Family;
use super::{Check, Options, Status};
use crate::version::lenient;

const NAME: &str = "docker-compose";
pub(super) const MIN_COMPOSE: Version = Version::new(2, 10, 0);
const TIMEOUT: Duration = Duration::from_secs(4);

pub(super) use crate::process::RunError;

/// The first line a program prints (`crate::process`: no shell, killed on timeout).
async fn first_line(program: &str, args: &[&str]) -> Result<String, RunError> {
    crate::process::first_line(program, args, TIMEOUT).await
}

pub(super) async fn check(opts: &Options, family: Family) -> Check {
    // Both at once: the standalone binary only matters when the plugin is missing, but asking
    // costs nothing and keeps the probe to one timeout.
    let (plugin, standalone) = tokio::join!(
        first_line("docker", &["compose", "version", "--short"]),
        first_line("docker-compose", &["version", "--short"]),
    );
    verdict(&plugin, &standalone, opts, family)
}

pub(super) fn install_command(family: Family) -> &'static str {
    match family {
        Family::Debian => {
            "apt install docker-compose-plugin (Docker's repository) or apt install docker-compose (2.10 or later: Debian trixie and later)"
        }
        Family::Rpm => "dnf install docker-compose-plugin",
        Family::Other => {
            "Debian/Ubuntu: apt install docker-compose-plugin (Docker's repository) or docker-compose >= 2.10 (Debian trixie); RPM: dnf install docker-compose-plugin"
        }
    }
}

/// Decides from the outputs of `docker compose version --short` (`plugin`) and
/// `docker-compose version --short` (`standalone`).
pub(super) fn verdict(
    plugin: &Result<String, RunError>,
    standalone: &Result<String, RunError>,
    opts: &Options,
    family: Family,
) -> Check {
    let install = install_command(family);
    match plugin {
        Ok(text) => match lenient(text) {
            Some(v) if v >= MIN_COMPOSE => Check::pass(NAME, format!("Docker Compose {text}")),
            Some(_) => Check::not_ok(
                NAME,
                Status::Fail,
                format!("Docker Compose {text} is older than {MIN_COMPOSE}"),
                format!("upgrade it: {install}"),
            ),
            None => Check::not_ok(
                NAME,
                Status::Warn,
                format!(
                    "`docker compose version --short` printed `{text}`, not a version; Mathesar needs Compose v2 >= {MIN_COMPOSE}"
                ),
                format!("check `docker compose version`; reinstall: {install}"),
            ),
        },
        Err(why) => match standalone
            .as_ref()
            .ok()
            .and_then(|t| Some((t, lenient(t)?)))
        {
            // A v1 install is a definite misconfiguration: `up --wait` does not exist there.
            Some((text, v)) if v.major < 2 => Check::not_ok(
                NAME,
                Status::Fail,
                format!(
                    "Compose v1 found (docker-compose {text}); Mathesar needs Compose v2 >= {MIN_COMPOSE} as the `docker compose` plugin"
                ),
                format!("install Compose v2: {install}"),
            ),
            Some((text, _)) => Check::not_ok(
                NAME,
                opts.needed(),
                format!(
                    "a standalone docker-compose {text} is installed, but not the `docker compose` plugin Mathesar runs ({why})"
                ),
                format!("install the plugin: {install}"),
            ),
            None if matches!(why, RunError::Timeout(..)) => Check::not_ok(
                NAME,
                opts.needed(),
                format!("Docker Compose could not be checked: {why}"),
                format!(
                    "check that `docker compose version` answers; reinstall Compose v2 >= {MIN_COMPOSE} if needed: {install}"
                ),
            ),
            None => Check::not_ok(
                NAME,
                opts.needed(),
                format!("Docker Compose v2 is missing: {why}"),
                format!("install Compose v2 >= {MIN_COMPOSE}: {install}"),
            ),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const START: Options = Options { will_start: true };
    const LATER: Options = Options { will_start: false };

    fn missing() -> Result<String, RunError> {
        Err(RunError::Failed(
            "docker compose version --short".into(),
            "docker: 'compose' is not a docker command.".into(),
        ))
    }

    #[test]
    fn compose_v2_versions_pass() {
        for v in ["2.26.1", "v2.29.7", "2.26.1+ds1", "2.26.1-4", "2.10.0"] {
            let c = verdict(&Ok(v.into()), &missing(), &START, Family::Debian);
            assert_eq!(c.status, Status::Pass, "{v}");
            assert!(c.detail.contains(v));
        }
    }

    #[test]
    fn old_compose_v2_fails() {
        let c = verdict(&Ok("v2.7.0".into()), &missing(), &LATER, Family::Rpm);
        assert_eq!(c.status, Status::Fail);
        assert!(c.detail.contains("older than 2.10.0"));
        assert!(
            c.remedy
                .unwrap()
                .contains("dnf install docker-compose-plugin")
        );
    }

    #[test]
    fn compose_v1_fails_with_the_v2_install_command() {
        for opts in [START, LATER] {
            let c = verdict(&missing(), &Ok("1.29.2".into()), &opts, Family::Debian);
            assert_eq!(c.status, Status::Fail);
            assert!(
                c.detail.starts_with("Compose v1 found")
                    && c.detail.contains("Compose v2 >= 2.10.0"),
                "{}",
                c.detail
            );
            let r = c.remedy.unwrap();
            assert!(r.contains("apt install docker-compose-plugin"), "{r}");
            assert!(r.contains("docker-compose (2.10 or later"), "{r}");
        }
    }

    #[test]
    fn missing_compose_fails_only_when_starting() {
        let nothing = Err(RunError::NotFound("docker-compose".into()));
        let c = verdict(&missing(), &nothing, &START, Family::Other);
        assert_eq!(c.status, Status::Fail);
        assert!(c.detail.contains("not a docker command"), "{}", c.detail);
        let r = c.remedy.unwrap();
        assert!(
            r.contains("apt install") && r.contains("dnf install"),
            "{r}"
        );
        assert_eq!(
            verdict(&missing(), &nothing, &LATER, Family::Other).status,
            Status::Warn
        );
        let c = verdict(&missing(), &Ok("2.27.0".into()), &START, Family::Debian);
        assert_eq!(c.status, Status::Fail);
        assert!(c.detail.contains("standalone docker-compose 2.27.0"));
    }

    #[test]
    fn a_hanging_compose_is_not_called_missing() {
        let hung = Err(RunError::Timeout(
            "docker compose version --short".into(),
            4,
        ));
        let nothing = Err(RunError::NotFound("docker-compose".into()));
        let c = verdict(&hung, &nothing, &START, Family::Debian);
        assert_eq!(c.status, Status::Fail);
        assert!(c.detail.contains("could not be checked") && c.detail.contains("within 4 s"));
    }

    #[test]
    fn garbage_output_is_a_warning() {
        let c = verdict(&Ok("dev".into()), &missing(), &START, Family::Debian);
        assert_eq!(c.status, Status::Warn);
    }
}

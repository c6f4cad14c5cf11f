//! Container health as the engine reports it, and waiting for a service to become healthy with a
//! timeout. A service that does not is reported with its name, its last log lines and what to
//! check; nothing is ever removed.

use std::fmt;
use std::time::{Duration, Instant};

use bollard::models::{ContainerInspectResponse, ContainerStateStatusEnum, HealthStatusEnum};
use thiserror::Error;

use super::engine::{Engine, EngineError, container_name};
use super::journal;
use super::services::Service;

/// How many log lines a failure report shows.
pub(crate) const LOG_LINES: usize = 30;
/// How long a container may stay stopped or missing while waiting before that counts as failure.
const STOPPED_GRACE: Duration = Duration::from_secs(20);
/// How often a container's health is read while waiting: an inspect is cheap, and each service
/// started in order would otherwise lose up to a whole poll after it became healthy.
const POLL: Duration = Duration::from_millis(200);
/// Restarts seen while waiting that count as a crash loop.
const CRASH_LOOP_RESTARTS: i64 = 3;
/// While the engine still says `starting`, how often the wait runs the container's own health
/// check itself: the engine runs it only every `interval` (5 s for the application), and the
/// service started next (the proxy after the application) would otherwise wait for that tick:
/// seconds of an upgrade's downtime. The same command, so the same meaning of healthy.
const EARLY_CHECK: Duration = Duration::from_millis(500);
/// How long one such check may take (the compose file's health check `timeout`).
const EARLY_CHECK_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Health {
    /// Running and its health check passes.
    Healthy,
    /// Running, without a health check.
    Running,
    /// Running, its health check has not passed yet.
    Starting,
    /// Running, its health check fails.
    Unhealthy,
    /// Being restarted by its restart policy.
    Restarting,
    /// Created, exited, paused or dead.
    Stopped { status: String, exit_code: i64 },
    /// No such container.
    Missing,
}

impl Health {
    /// Running and, where there is a health check, healthy.
    pub(crate) fn is_ok(&self) -> bool {
        matches!(self, Health::Healthy | Health::Running)
    }

    /// Running at all (healthy or not).
    pub(crate) fn is_up(&self) -> bool {
        matches!(
            self,
            Health::Healthy | Health::Running | Health::Starting | Health::Unhealthy
        )
    }
}

impl fmt::Display for Health {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Health::Healthy => f.write_str("healthy"),
            Health::Running => f.write_str("running"),
            Health::Starting => f.write_str("starting"),
            Health::Unhealthy => f.write_str("unhealthy"),
            Health::Restarting => f.write_str("restarting"),
            Health::Stopped { status, exit_code } => write!(f, "{status} (exit code {exit_code})"),
            Health::Missing => f.write_str("missing"),
        }
    }
}

/// The health of a container (`None`: it does not exist).
pub(crate) fn of(c: Option<&ContainerInspectResponse>) -> Health {
    let Some(state) = c.and_then(|c| c.state.as_ref()) else {
        return Health::Missing;
    };
    match state.status {
        Some(ContainerStateStatusEnum::RUNNING) => {
            match state.health.as_ref().and_then(|h| h.status) {
                Some(HealthStatusEnum::HEALTHY) => Health::Healthy,
                Some(HealthStatusEnum::STARTING) => Health::Starting,
                Some(HealthStatusEnum::UNHEALTHY) => Health::Unhealthy,
                _ => Health::Running,
            }
        }
        Some(ContainerStateStatusEnum::RESTARTING) => Health::Restarting,
        other => Health::Stopped {
            status: other
                .map(|s| s.to_string())
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "stopped".into()),
            exit_code: state.exit_code.unwrap_or_default(),
        },
    }
}

/// A container's health check as an exec runs it: `CMD` as its arguments, `CMD-SHELL` through
/// `/bin/sh -c` (as the engine runs it); `None` without one.
pub(crate) fn check_command(c: &ContainerInspectResponse) -> Option<Vec<String>> {
    let test = c.config.as_ref()?.healthcheck.as_ref()?.test.as_ref()?;
    match test.split_first()? {
        (kind, args) if kind == "CMD" && !args.is_empty() => Some(args.to_vec()),
        (kind, [cmd]) if kind == "CMD-SHELL" => {
            Some(vec!["/bin/sh".into(), "-c".into(), cmd.clone()])
        }
        _ => None,
    }
}

/// The output of a container's most recent health check, if any.
pub(crate) fn last_check_output(c: &ContainerInspectResponse) -> Option<String> {
    let log = c.state.as_ref()?.health.as_ref()?.log.as_ref()?;
    let out = log.last()?.output.as_deref()?.trim();
    (!out.is_empty()).then(|| out.to_string())
}

/// What one look at a container means while waiting for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    Ready,
    Wait,
    Fail(String),
}

/// The rules of waiting, apart from the engine so that they can be tested.
#[derive(Debug)]
pub(crate) struct Waiter {
    start: Instant,
    timeout: Duration,
    first_restarts: Option<i64>,
    down_since: Option<Instant>,
}

impl Waiter {
    pub(crate) fn new(start: Instant, timeout: Duration) -> Self {
        Waiter {
            start,
            timeout,
            first_restarts: None,
            down_since: None,
        }
    }

    pub(crate) fn judge(&mut self, health: &Health, restarts: i64, now: Instant) -> Verdict {
        if health.is_ok() {
            return Verdict::Ready;
        }
        if *health == Health::Unhealthy {
            return Verdict::Fail("is unhealthy: its health check keeps failing".into());
        }
        let first = *self.first_restarts.get_or_insert(restarts);
        if restarts - first >= CRASH_LOOP_RESTARTS {
            return Verdict::Fail(format!(
                "keeps stopping: it was restarted {} times while waiting for it",
                restarts - first
            ));
        }
        if matches!(health, Health::Stopped { .. } | Health::Missing) {
            let since = *self.down_since.get_or_insert(now);
            if now.duration_since(since) >= STOPPED_GRACE {
                return Verdict::Fail(format!("is {health}"));
            }
        } else {
            self.down_since = None;
        }
        if now.duration_since(self.start) >= self.timeout {
            return Verdict::Fail(format!(
                "did not become healthy within {}s (it is {health})",
                self.timeout.as_secs()
            ));
        }
        Verdict::Wait
    }
}

/// A service that did not become healthy, with what is needed to find out why.
#[derive(Debug, Error)]
pub(crate) struct Unhealthy {
    pub title: String,
    pub container: String,
    pub reason: String,
    pub last_check: Option<String>,
    pub logs: String,
    pub hint: String,
}

impl fmt::Display for Unhealthy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} (container {}) {}.",
            self.title, self.container, self.reason
        )?;
        if let Some(check) = &self.last_check {
            writeln!(f, "Its last health check said: {check}")?;
        }
        if self.logs.trim().is_empty() {
            writeln!(f, "It wrote no log lines.")?;
        } else {
            writeln!(f, "Its last {LOG_LINES} log lines:")?;
            for line in self.logs.lines() {
                writeln!(f, "  | {line}")?;
            }
        }
        write!(
            f,
            "Check {}. Nothing was removed: the containers and the data are kept as they are.",
            self.hint
        )
    }
}

#[derive(Debug, Error)]
pub(crate) enum WaitError {
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Unhealthy(#[from] Box<Unhealthy>),
}

/// Builds the report on a service's container (which may be gone).
pub(crate) async fn report(
    engine: &Engine,
    service: &Service,
    c: Option<&ContainerInspectResponse>,
    reason: String,
) -> Unhealthy {
    let container = c
        .map(container_name)
        .unwrap_or_else(|| format!("of service {}", service.name));
    let logs = match c {
        Some(c) => engine
            .last_logs(&container_name(c), LOG_LINES)
            .await
            .unwrap_or_else(|e| format!("(its logs cannot be read: {e})")),
        None => String::new(),
    };
    Unhealthy {
        title: capitalise(service.title),
        container,
        reason,
        last_check: c.and_then(last_check_output),
        logs,
        hint: service.hint.to_string(),
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(first) => first.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// How [`wait`] decides that a container is healthy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Until {
    /// The engine says so.
    Engine,
    /// The engine says so, or its health check passes when the wait runs it (every 0.5 s while
    /// the engine says `starting`): what the next service started in order waits for.
    CheckPasses,
    /// The engine says so, once [`Until::CheckPasses`] said it already: nothing is written to
    /// the journal but a failure.
    EngineAgrees,
}

/// Waits until the service's container is healthy (or running, without a health check).
pub(crate) async fn wait(
    engine: &Engine,
    service: &Service,
    timeout: Duration,
) -> Result<(), WaitError> {
    wait_until(engine, service, timeout, Until::Engine).await
}

/// [`wait`], deciding as `until` says.
pub(crate) async fn wait_until(
    engine: &Engine,
    service: &Service,
    timeout: Duration,
    until: Until,
) -> Result<(), WaitError> {
    let start = Instant::now();
    let mut waiter = Waiter::new(start, timeout);
    let mut said = false;
    let mut checked: Option<Instant> = None;
    loop {
        let c = engine.service_container(service.name).await?;
        let health = of(c.as_ref());
        let restarts = c.as_ref().and_then(|c| c.restart_count).unwrap_or(0);
        match waiter.judge(&health, restarts, Instant::now()) {
            Verdict::Ready => {
                if until != Until::EngineAgrees {
                    journal::info(format!("{} is {health}", service.title));
                }
                return Ok(());
            }
            Verdict::Fail(reason) => {
                return Err(Box::new(report(engine, service, c.as_ref(), reason).await).into());
            }
            Verdict::Wait => {
                let check_now = until == Until::CheckPasses
                    && health == Health::Starting
                    && checked.is_none_or(|t| t.elapsed() >= EARLY_CHECK);
                if check_now {
                    checked = Some(Instant::now());
                    let passes = match c.as_ref() {
                        Some(c) => check_passes(engine, c).await,
                        None => false,
                    };
                    if passes {
                        journal::info(format!("{} is healthy", service.title));
                        return Ok(());
                    }
                }
                if !said && until != Until::EngineAgrees {
                    journal::info(format!(
                        "waiting for {} to become healthy (up to {}s) ...",
                        service.title,
                        timeout.as_secs()
                    ));
                    said = true;
                }
                tokio::time::sleep(POLL).await;
            }
        }
    }
}

/// Runs the container's health check once; a check that cannot be run does not pass.
async fn check_passes(engine: &Engine, c: &ContainerInspectResponse) -> bool {
    let Some(cmd) = check_command(c) else {
        return false;
    };
    let args: Vec<&str> = cmd.iter().map(String::as_str).collect();
    engine
        .exec(&container_name(c), &args, &[], EARLY_CHECK_TIMEOUT)
        .await
        .is_ok_and(|out| out.success())
}

#[cfg(test)]
mod tests {
    use super::*;
    use bollard::models::{ContainerState, Health as EngineHealth, HealthcheckResult};

    fn container(
        status: ContainerStateStatusEnum,
        health: Option<HealthStatusEnum>,
    ) -> ContainerInspectResponse {
        ContainerInspectResponse {
            state: Some(ContainerState {
                status: Some(status),
                exit_code: Some(1),
                health: health.map(|h| EngineHealth {
                    status: Some(h),
                    log: Some(vec![HealthcheckResult {
                        output: Some("pg_isready: no response\n".into()),
                        ..Default::default()
                    }]),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn runs_the_health_check_as_the_engine_does() {
        use bollard::models::{ContainerConfig, HealthConfig};
        let with = |test: &[&str]| ContainerInspectResponse {
            config: Some(ContainerConfig {
                healthcheck: Some(HealthConfig {
                    test: Some(test.iter().map(|s| s.to_string()).collect()),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(
            check_command(&with(&["CMD", "curl", "-fsS", "http://localhost:8000/"])),
            Some(vec![
                "curl".into(),
                "-fsS".into(),
                "http://localhost:8000/".into()
            ])
        );
        assert_eq!(
            check_command(&with(&["CMD-SHELL", "pg_isready -U \"$POSTGRES_USER\""])),
            Some(vec![
                "/bin/sh".into(),
                "-c".into(),
                "pg_isready -U \"$POSTGRES_USER\"".into()
            ])
        );
        assert_eq!(check_command(&with(&["NONE"])), None);
        assert_eq!(check_command(&with(&["CMD"])), None);
        assert_eq!(check_command(&with(&[])), None);
        assert_eq!(check_command(&ContainerInspectResponse::default()), None);
    }

    #[test]
    fn classifies_engine_states() {
        use ContainerStateStatusEnum::*;
        use HealthStatusEnum::*;
        assert_eq!(of(None), Health::Missing);
        assert_eq!(
            of(Some(&container(RUNNING, Some(HEALTHY)))),
            Health::Healthy
        );
        assert_eq!(of(Some(&container(RUNNING, None))), Health::Running);
        assert_eq!(of(Some(&container(RUNNING, Some(NONE)))), Health::Running);
        assert_eq!(
            of(Some(&container(RUNNING, Some(STARTING)))),
            Health::Starting
        );
        assert_eq!(
            of(Some(&container(RUNNING, Some(UNHEALTHY)))),
            Health::Unhealthy
        );
        assert_eq!(of(Some(&container(RESTARTING, None))), Health::Restarting);
        assert_eq!(
            of(Some(&container(EXITED, None))),
            Health::Stopped {
                status: "exited".into(),
                exit_code: 1
            }
        );
        assert_eq!(
            last_check_output(&container(RUNNING, Some(STARTING))).as_deref(),
            Some("pg_isready: no response")
        );
    }

    #[test]
    fn waiting_ends_on_health_timeout_or_unhealthy() {
        let t0 = Instant::now();
        let mut w = Waiter::new(t0, Duration::from_secs(60));
        assert_eq!(w.judge(&Health::Starting, 0, t0), Verdict::Wait);
        assert_eq!(w.judge(&Health::Healthy, 0, t0), Verdict::Ready);
        assert_eq!(w.judge(&Health::Running, 0, t0), Verdict::Ready);
        let late = t0 + Duration::from_secs(61);
        assert!(
            matches!(w.judge(&Health::Starting, 0, late), Verdict::Fail(r) if r.contains("within 60s"))
        );
        assert!(
            matches!(w.judge(&Health::Unhealthy, 0, t0), Verdict::Fail(r) if r.contains("unhealthy"))
        );
    }

    #[test]
    fn a_crash_loop_or_a_lasting_stop_fails_early() {
        let t0 = Instant::now();
        let mut w = Waiter::new(t0, Duration::from_secs(600));
        assert_eq!(w.judge(&Health::Restarting, 2, t0), Verdict::Wait);
        assert_eq!(w.judge(&Health::Starting, 4, t0), Verdict::Wait);
        assert!(
            matches!(w.judge(&Health::Restarting, 5, t0), Verdict::Fail(r) if r.contains("3 times"))
        );

        let mut w = Waiter::new(t0, Duration::from_secs(600));
        let stopped = Health::Stopped {
            status: "exited".into(),
            exit_code: 2,
        };
        assert_eq!(w.judge(&stopped, 0, t0), Verdict::Wait);
        assert_eq!(
            w.judge(&stopped, 0, t0 + Duration::from_secs(5)),
            Verdict::Wait
        );
        // Coming back resets the stop clock.
        assert_eq!(
            w.judge(&Health::Starting, 0, t0 + Duration::from_secs(10)),
            Verdict::Wait
        );
        assert_eq!(
            w.judge(&stopped, 0, t0 + Duration::from_secs(25)),
            Verdict::Wait
        );
        assert!(
            matches!(w.judge(&stopped, 0, t0 + Duration::from_secs(46)), Verdict::Fail(r) if r.contains("exit code 2"))
        );
    }

    #[test]
    fn the_report_names_container_logs_and_what_to_check() {
        let r = Unhealthy {
            title: capitalise("the database (PostgreSQL)"),
            container: "mathesar_db".into(),
            reason: "is unhealthy: its health check keeps failing".into(),
            last_check: Some("no response".into()),
            logs: "FATAL: data directory has wrong ownership\n".into(),
            hint: "DATA_DIR/pgdata".into(),
        };
        let text = r.to_string();
        assert!(text.starts_with("The database (PostgreSQL) (container mathesar_db) is unhealthy"));
        assert!(text.contains("  | FATAL: data directory has wrong ownership"));
        assert!(text.contains("Check DATA_DIR/pgdata."));
        assert!(text.contains("Nothing was removed"));
    }
}

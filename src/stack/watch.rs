//! Watching the running stack for `mathesarctl run`: engine events say at once when a container
//! dies or turns unhealthy; a container that does not recover within a grace period ends the
//! watch, so that systemd's restart policy acts. A periodic look catches what events miss.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::time::{Duration, Instant};

use bollard::query_parameters::EventsOptions;
use futures_util::StreamExt;
use thiserror::Error;

use super::engine::{Engine, EngineError, PROJECT, PROJECT_LABEL, SERVICE_LABEL};
use super::health::{self, Health};
use super::journal;
use super::services::Service;

/// How often every service is looked at even without events.
const POLL: Duration = Duration::from_secs(10);
/// How often a service that is not healthy is looked at.
const RECHECK: Duration = Duration::from_secs(2);

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Change {
    /// Nothing new.
    Same,
    /// A service stopped being healthy.
    Degraded { service: &'static str },
    /// A service is healthy again.
    Recovered {
        service: &'static str,
        after: Duration,
    },
    /// A service stayed unhealthy for longer than the grace period.
    Failed {
        service: &'static str,
        health: String,
    },
}

/// The rules, apart from the engine so that they can be tested.
#[derive(Debug)]
pub(crate) struct Watch {
    grace: Duration,
    bad_since: BTreeMap<&'static str, Instant>,
}

impl Watch {
    pub(crate) fn new(grace: Duration) -> Watch {
        Watch {
            grace,
            bad_since: BTreeMap::new(),
        }
    }

    pub(crate) fn observe(&mut self, service: &'static str, h: &Health, now: Instant) -> Change {
        if h.is_ok() {
            return match self.bad_since.remove(service) {
                Some(since) => Change::Recovered {
                    service,
                    after: now.duration_since(since),
                },
                None => Change::Same,
            };
        }
        match self.bad_since.get(service) {
            None => {
                self.bad_since.insert(service, now);
                Change::Degraded { service }
            }
            Some(since) if now.duration_since(*since) >= self.grace => Change::Failed {
                service,
                health: h.to_string(),
            },
            Some(_) => Change::Same,
        }
    }

    /// Drops what is known about services no longer watched.
    pub(crate) fn forget_others(&mut self, services: &[Service]) {
        self.bad_since
            .retain(|name, _| services.iter().any(|s| s.name == *name));
    }

    pub(crate) fn degraded(&self) -> Vec<&'static str> {
        self.bad_since.keys().copied().collect()
    }
}

#[derive(Debug, Error)]
pub(crate) enum WatchError {
    #[error(
        "{service} stayed {health} for longer than {}s; ending so that systemd restarts the stack",
        .grace.as_secs()
    )]
    Failed {
        service: String,
        health: String,
        grace: Duration,
    },
    #[error("lost the Docker Engine for longer than {}s: {source}", .grace.as_secs())]
    EngineLost {
        grace: Duration,
        #[source]
        source: EngineError,
    },
}

/// What the watch tells its caller about the stack, for the unit's STATUS= line.
pub(crate) enum Notice<'a> {
    Degraded(&'a [&'static str]),
    Healthy,
}

impl fmt::Display for Notice<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Notice::Degraded(s) => write!(f, "degraded: waiting for {} to recover", s.join(", ")),
            Notice::Healthy => f.write_str("healthy"),
        }
    }
}

fn events_options() -> EventsOptions {
    EventsOptions {
        filters: Some(HashMap::from([
            ("type".to_string(), vec!["container".to_string()]),
            (
                "label".to_string(),
                vec![format!("{PROJECT_LABEL}={PROJECT}")],
            ),
        ])),
        ..Default::default()
    }
}

fn report(planned: bool, message: String) {
    if planned {
        journal::info(format!("{message} (the unit is stopping or reloading)"));
    } else {
        journal::warn(message);
    }
}

/// Watches `services` until one fails for longer than `grace` (or the engine is gone that long).
/// `notice` is called when the stack turns degraded or healthy again.
/// `services` is asked before each look, so that a reloaded configuration (the bundled database
/// turned off for an external one) is followed. `planned` tells whether a container going away is expected (the unit is
/// stopping or reloading): it is then reported as information, not as a warning.
pub(crate) async fn watch<P: Future<Output = bool>>(
    engine: &Engine,
    mut services: impl FnMut() -> Vec<Service>,
    grace: Duration,
    mut notice: impl FnMut(Notice<'_>),
    planned: impl Fn() -> P,
) -> Result<(), WatchError> {
    let mut rules = Watch::new(grace);
    let mut engine_lost_since: Option<Instant> = None;
    let mut events = Box::pin(engine.docker().events(Some(events_options())));
    let mut next_look = Instant::now() + POLL;
    loop {
        let wait = next_look.saturating_duration_since(Instant::now());
        tokio::select! {
            event = events.next() => match event {
                Some(Ok(e)) => {
                    let action = e.action.unwrap_or_default();
                    let service = e
                        .actor
                        .and_then(|a| a.attributes)
                        .and_then(|a| a.get(SERVICE_LABEL).cloned())
                        .unwrap_or_default();
                    let interesting = action == "die"
                        || action == "oom"
                        || action == "kill"
                        || action == "destroy"
                        || action.starts_with("health_status: unhealthy");
                    if interesting {
                        report(planned().await, format!("container of {service}: {action}"));
                        next_look = Instant::now();
                    } else if action == "start" || action.starts_with("health_status: healthy") {
                        next_look = Instant::now();
                    }
                    continue;
                }
                Some(Err(_)) | None => {
                    // The engine went away (restart) or the stream broke: reconnect after a pause.
                    tokio::time::sleep(RECHECK).await;
                    events = Box::pin(engine.docker().events(Some(events_options())));
                    next_look = Instant::now();
                    continue;
                }
            },
            _ = tokio::time::sleep(wait) => {}
        }

        // Look at every service.
        let now = Instant::now();
        let mut any_bad = false;
        let before = rules.degraded();
        let services = services();
        rules.forget_others(&services);
        for service in &services {
            let c = match engine.service_container(service.name).await {
                Ok(c) => {
                    engine_lost_since = None;
                    c
                }
                Err(source) => {
                    let since = *engine_lost_since.get_or_insert(now);
                    if now.duration_since(since) >= grace {
                        return Err(WatchError::EngineLost { grace, source });
                    }
                    journal::warn(format!("cannot ask the Docker Engine: {source}"));
                    any_bad = true;
                    break;
                }
            };
            let h = health::of(c.as_ref());
            match rules.observe(service.name, &h, now) {
                Change::Failed { service, health } => {
                    return Err(WatchError::Failed {
                        service: service.to_string(),
                        health,
                        grace,
                    });
                }
                Change::Degraded { service: name } => {
                    report(
                        planned().await,
                        format!(
                            "{} ({name}) is {h}; waiting up to {}s for it to recover",
                            service.title,
                            grace.as_secs()
                        ),
                    );
                }
                Change::Recovered {
                    service: name,
                    after,
                } => journal::info(format!(
                    "{} ({name}) is {h} again after {}s",
                    service.title,
                    after.as_secs()
                )),
                Change::Same => {}
            }
        }
        let after = rules.degraded();
        if after != before {
            if after.is_empty() {
                notice(Notice::Healthy);
            } else {
                notice(Notice::Degraded(&after));
            }
        }
        any_bad |= !after.is_empty();
        next_look = Instant::now() + if any_bad { RECHECK } else { POLL };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_outage_recovers_a_long_one_fails() {
        let t0 = Instant::now();
        let mut w = Watch::new(Duration::from_secs(60));
        assert_eq!(w.observe("db", &Health::Healthy, t0), Change::Same);
        assert_eq!(
            w.observe("db", &Health::Restarting, t0),
            Change::Degraded { service: "db" }
        );
        assert_eq!(
            w.observe("db", &Health::Starting, t0 + Duration::from_secs(30)),
            Change::Same
        );
        assert_eq!(w.degraded(), ["db"]);
        assert_eq!(
            w.observe("db", &Health::Healthy, t0 + Duration::from_secs(40)),
            Change::Recovered {
                service: "db",
                after: Duration::from_secs(40)
            }
        );
        assert!(w.degraded().is_empty());
        w.observe("caddy-reverse-proxy", &Health::Missing, t0);
        w.forget_others(&[crate::stack::services::DB]);
        assert!(w.degraded().is_empty());

        let t1 = t0 + Duration::from_secs(100);
        assert_eq!(
            w.observe("service", &Health::Unhealthy, t1),
            Change::Degraded { service: "service" }
        );
        assert_eq!(
            w.observe("service", &Health::Unhealthy, t1 + Duration::from_secs(60)),
            Change::Failed {
                service: "service",
                health: "unhealthy".into()
            }
        );
    }

    #[test]
    fn notices_read_well() {
        assert_eq!(
            Notice::Degraded(&["db", "service"]).to_string(),
            "degraded: waiting for db, service to recover"
        );
    }
}

//! `mathesarctl status [--json]`: the unit's state (systemd over D-Bus), each container's health
//! (Docker Engine), the images and the login address, with `systemctl status`-like exit codes
//! (documented in [`crate::exit::STATUS_TABLE`]).

use anyhow::anyhow;
use serde::Serialize;

use crate::cli::StatusArgs;
use crate::day2::redact::Redactor;
use crate::exit::{Code, Failure, Outcome, StatusCode};
use crate::stack::config;
use crate::stack::engine::{Engine, container_name};
use crate::stack::health::{self, Health};
use crate::stack::services;
use crate::systemd::{UNIT, unit};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Overall {
    Running,
    Transition,
    Stopped,
    Unreachable,
    Degraded,
}

impl Overall {
    pub(crate) fn code(self) -> StatusCode {
        match self {
            Overall::Running => StatusCode::Running,
            Overall::Transition => StatusCode::Transition,
            Overall::Stopped => StatusCode::NotRunning,
            Overall::Unreachable => StatusCode::Unreachable,
            Overall::Degraded => StatusCode::Degraded,
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Overall::Running => "Mathesar is running",
            Overall::Transition => "Mathesar is starting, stopping or reloading",
            Overall::Stopped => "Mathesar is not running",
            Overall::Unreachable => "the Docker Engine cannot be reached",
            Overall::Degraded => "Mathesar is degraded",
        }
    }
}

/// The overall state from the unit (`None`: systemd cannot be asked) and the containers' health
/// (`None`: the engine cannot be reached).
pub(crate) fn overall(unit: Option<&unit::UnitState>, healths: Option<&[Health]>) -> Overall {
    let unit_down = unit.is_some_and(|u| !u.is_active() && !u.in_transition());
    if unit.is_some_and(unit::UnitState::in_transition) {
        return Overall::Transition;
    }
    let Some(healths) = healths else {
        return if unit_down {
            Overall::Stopped
        } else {
            Overall::Unreachable
        };
    };
    let any_up = healths.iter().any(Health::is_up);
    if !any_up && (unit_down || unit.is_none()) {
        return Overall::Stopped;
    }
    if unit_down {
        return Overall::Degraded;
    }
    if healths.iter().all(Health::is_ok) {
        Overall::Running
    } else if healths
        .iter()
        .all(|h| h.is_ok() || matches!(h, Health::Starting | Health::Restarting))
    {
        Overall::Transition
    } else {
        Overall::Degraded
    }
}

#[derive(Debug, Serialize)]
struct ContainerReport {
    service: String,
    container: Option<String>,
    health: String,
    image: Option<String>,
    started_at: Option<String>,
    /// The container's own last log line when it is not healthy (secrets redacted): what the
    /// application said when it failed, rather than only "unhealthy".
    last_log_line: Option<String>,
}

#[derive(Debug, Serialize)]
struct UnitReport {
    name: &'static str,
    active_state: String,
    sub_state: String,
    load_state: String,
}

#[derive(Debug, Serialize)]
struct Report {
    state: Overall,
    unit: Option<UnitReport>,
    unit_error: Option<String>,
    containers: Vec<ContainerReport>,
    engine_error: Option<String>,
    login_url: String,
    /// Out of the load balancer's rotation (`mathesarctl drain`): the health check answers 503.
    draining: bool,
    /// With a domain: the certificate the proxy serves it with.
    certificate: Option<CertificateReport>,
    /// The bundled database's files when they are not simply ready: an upgrade to come, or what
    /// a failed one left (`stack::db_upgrade`).
    database_upgrade: Option<String>,
    /// The last backup and restore drill, and whether they are scheduled.
    backups: crate::day2::record::Status,
    /// A failed upgrade put the previous release back: what runs, what failed, how to retry
    /// (`rendering::held`). Mathesar serves: not a state of its own, the exit code is unchanged.
    upgrade_held: Option<crate::rendering::held::Held>,
    /// The connected databases whose Mathesar SQL could not be upgraded to the running release,
    /// with Mathesar's reason (`stack::user_sql`).
    databases_not_upgraded: Vec<crate::stack::user_sql::Outcome>,
}

#[derive(Debug, Serialize)]
struct CertificateReport {
    domain: String,
    /// Your own certificate (`tls-cert`), not one from an ACME CA.
    own: bool,
    /// `None`: the proxy has obtained none (yet).
    obtained: Option<crate::tls::CertInfo>,
    /// Without one: the proxy's last ACME error (from its log).
    last_error: Option<String>,
}

impl CertificateReport {
    fn line(&self, now: std::time::SystemTime) -> String {
        let Some(c) = &self.obtained else {
            return match &self.last_error {
                Some(e) => format!(
                    "certificate for {}: none obtained yet; the proxy's last ACME error: {e}",
                    self.domain
                ),
                None => format!(
                    "certificate for {}: none obtained yet (`mathesarctl logs caddy` says why)",
                    self.domain
                ),
            };
        };
        let now_secs = now
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default();
        let when = if c.not_after >= now_secs {
            format!(
                "expires {} (in {} days)",
                c.not_after_text(),
                (c.not_after - now_secs) / 86_400
            )
        } else {
            format!("EXPIRED on {}", c.not_after_text())
        };
        let own = if self.own {
            " (your own, tls-cert)"
        } else {
            ""
        };
        format!(
            "certificate for {}{own}: issued by {}, {when}",
            self.domain, c.issuer
        )
    }
}

pub(crate) async fn run(args: StatusArgs) -> Outcome {
    let dir = super::config_dir(&args.dir);
    let current = {
        let _reading = super::read_lock(&dir)?;
        config::load(&dir).map_err(|e| Failure::new(e.code(), e))?
    };
    let (unit_state, engine) = tokio::join!(unit::state(UNIT), Engine::connect());
    let (unit_state, unit_error) = match unit_state {
        Ok(u) if u.load != "not-found" => (Some(u), None),
        Ok(_) => (None, Some(format!("{UNIT} is not installed"))),
        Err(e) => (None, Some(e.to_string())),
    };

    let redactor = Redactor::from_config_dir(&dir);
    let mut containers = Vec::new();
    let mut healths = Vec::new();
    let mut engine_error = None;
    let mut acme_error = None;
    match engine {
        Ok(engine) => {
            for service in services::enabled(&current.settings) {
                let c = match engine.service_container(service.name).await {
                    Ok(c) => c,
                    Err(e) => {
                        engine_error = Some(e.to_string());
                        break;
                    }
                };
                let h = health::of(c.as_ref());
                let last_log_line = match &c {
                    Some(c) if shows_its_log(&h, c.restart_count.unwrap_or(0)) => {
                        last_log_line(&engine, &container_name(c), &redactor).await
                    }
                    _ => None,
                };
                containers.push(ContainerReport {
                    service: service.name.to_string(),
                    container: c.as_ref().map(container_name),
                    health: h.to_string(),
                    image: c.as_ref().and_then(|c| c.config.as_ref()?.image.clone()),
                    started_at: c
                        .as_ref()
                        .and_then(|c| c.state.as_ref()?.started_at.clone())
                        .filter(|_| h.is_up()),
                    last_log_line,
                });
                healths.push(h);
            }
            // Why the proxy has no certificate yet: its last ACME error.
            if current.settings.acme()
                && crate::tls::served(&current.settings, &current.layout.data()).is_none()
            {
                if let Ok(Some(c)) = engine.service_container(services::PROXY.name).await {
                    if let Ok(logs) = engine.last_logs(&container_name(&c), 400).await {
                        acme_error = last_acme_error(&redactor.redact(&logs));
                    }
                }
            }
        }
        Err(e) => engine_error = Some(e.to_string()),
    }
    let state = overall(
        unit_state.as_ref(),
        engine_error.is_none().then_some(healths.as_slice()),
    );
    let database_upgrade = current
        .settings
        .bundled_db()
        .then(|| {
            let image = crate::rendering::images::Image::Db
                .pinned(current.settings.image_registry.as_deref());
            let target = crate::stack::db_upgrade::target_major(&image)?;
            crate::stack::db_upgrade::describe(&current.layout.data().pgdata(), target)
        })
        .flatten();
    let report = Report {
        state,
        database_upgrade,
        unit: unit_state.map(|u| UnitReport {
            name: UNIT,
            active_state: u.active.to_string(),
            sub_state: u.sub,
            load_state: u.load,
        }),
        unit_error,
        containers,
        engine_error,
        login_url: current.settings.login_url(),
        draining: crate::stack::drain::active(&current.layout.data()),
        // Behind a proxy that terminates TLS, the certificate is the proxy's, not ours.
        certificate: current
            .settings
            .domain
            .as_ref()
            .filter(|_| current.settings.serves_https())
            .map(|d| CertificateReport {
                domain: d.clone(),
                own: current.settings.own_cert().is_some(),
                obtained: crate::tls::served(&current.settings, &current.layout.data()),
                last_error: acme_error,
            }),
        backups: crate::day2::record::Status::new(
            &current.settings,
            &current.layout.data().backup_record(),
        ),
        upgrade_held: crate::rendering::held::read(&dir).ok().flatten(),
        databases_not_upgraded: crate::stack::user_sql::read(
            &current.layout.data().user_sql_record(),
        )
        .map(|r| r.failed().cloned().collect())
        .unwrap_or_default(),
    };

    if args.json {
        let text =
            serde_json::to_string_pretty(&report).map_err(|e| Failure::new(Code::Failure, e))?;
        println!("{text}");
    } else {
        print_text(&report);
    }
    if state == Overall::Running {
        Ok(())
    } else {
        Err(Failure::status(
            state.code(),
            anyhow!("{}", state.describe()),
        ))
    }
}

/// Whether a container's last log line says something the administrator needs: it is not up, or
/// it is starting again after it failed (Docker restarts it and its health begins again at
/// "starting", so the error of the run before is what explains it).
fn shows_its_log(h: &Health, restarts: i64) -> bool {
    match h {
        Health::Healthy | Health::Running => false,
        Health::Starting => restarts > 0,
        _ => true,
    }
}

/// The last non-empty line of a container's log, redacted, without control characters.
async fn last_log_line(engine: &Engine, name: &str, redactor: &Redactor) -> Option<String> {
    let logs = engine.last_logs(name, 40).await.ok()?;
    last_meaningful_line(&redactor.redact(&logs))
}

/// The line that says what went wrong: the last one that reads like an error (a container that
/// keeps restarting ends its log with the banner of its next attempt, not with its error), else
/// the last one with text.
fn last_meaningful_line(logs: &str) -> Option<String> {
    const ERROR_WORDS: [&str; 9] = [
        "Error",
        "error",
        "FATAL",
        "Exception",
        "failed",
        "refused",
        "denied",
        "cannot",
        "Cannot",
    ];
    let lines: Vec<String> = logs
        .lines()
        .map(|l| l.chars().filter(|c| !c.is_control()).collect::<String>())
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect();
    lines
        .iter()
        .rfind(|l| ERROR_WORDS.iter().any(|w| l.contains(w)))
        .or_else(|| lines.last())
        .cloned()
}

/// The `error` of the proxy's last log line (Caddy logs JSON) about obtaining a certificate.
fn last_acme_error(logs: &str) -> Option<String> {
    logs.lines().rev().find_map(|l| {
        let v: serde_json::Value = serde_json::from_str(l.get(l.find('{')?..)?).ok()?;
        let level = v.get("level")?.as_str()?;
        let logger = v.get("logger").and_then(|x| x.as_str()).unwrap_or_default();
        let msg = v.get("msg").and_then(|x| x.as_str()).unwrap_or_default();
        let about_acme =
            logger.starts_with("tls") || logger.contains("acme") || msg.contains("certificate");
        if level != "error" || !about_acme {
            return None;
        }
        let error = v.get("error").and_then(|x| x.as_str()).unwrap_or(msg);
        Some(
            error
                .chars()
                .filter(|c| !c.is_control())
                .take(400)
                .collect(),
        )
    })
}

fn print_text(r: &Report) {
    match (&r.unit, &r.unit_error) {
        (Some(u), _) => println!("{}: {} ({})", u.name, u.active_state, u.sub_state),
        (None, Some(e)) => println!("{UNIT}: unknown ({e})"),
        (None, None) => println!("{UNIT}: unknown"),
    }
    if let Some(e) = &r.engine_error {
        println!("containers: unknown ({e})");
    }
    for c in &r.containers {
        println!(
            "  {:<20} {:<32} {:<22} {}",
            c.service,
            c.container.as_deref().unwrap_or("-"),
            c.health,
            c.image.as_deref().unwrap_or("-"),
        );
        if let Some(line) = &c.last_log_line {
            println!("  {:<20} its log ends: {line}", "");
        }
    }
    if let Some(c) = &r.certificate {
        println!("{}", c.line(std::time::SystemTime::now()));
    }
    if let Some(u) = &r.database_upgrade {
        println!("database files: {u}");
    }
    for line in r.backups.lines() {
        println!("{line}");
    }
    for d in &r.databases_not_upgraded {
        println!(
            "database {} (id {}): Mathesar's SQL not upgraded: {} (tried again at the next start)",
            d.name,
            d.id,
            d.reason.as_deref().unwrap_or("no reason given")
        );
    }
    if let Some(h) = &r.upgrade_held {
        println!("upgrade held back: {}", h.summary());
        for line in &h.last_log_lines {
            println!("  Mathesar {} said: {line}", h.failed_release);
        }
    }
    if r.draining {
        println!(
            "draining: the health check answers 503 (out of the load balancer's rotation) until the next start or `mathesarctl drain --undo`"
        );
    }
    println!("{}; log in at {}", r.state.describe(), r.login_url);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(active: &str) -> unit::UnitState {
        unit::UnitState {
            active: unit::Active::parse(active),
            sub: String::new(),
            load: "loaded".into(),
        }
    }

    const STOPPED: Health = Health::Missing;

    #[test]
    fn the_error_line_wins_over_a_restart_banner() {
        let restarting = "ModuleNotFoundError: No module named 'x'\nStarting Mathesar\n* Community channels : y\n";
        assert_eq!(
            last_meaningful_line(restarting).as_deref(),
            Some("ModuleNotFoundError: No module named 'x'")
        );
        let db = "FATAL:  role \"root\" does not exist\nPGDATA holds PostgreSQL 13 data; this one cannot.\n";
        assert_eq!(
            last_meaningful_line(db).as_deref(),
            Some("PGDATA holds PostgreSQL 13 data; this one cannot.")
        );
    }

    #[test]
    fn a_container_starting_again_after_a_failure_shows_its_error() {
        assert!(!shows_its_log(&Health::Starting, 0));
        assert!(shows_its_log(&Health::Starting, 1));
        assert!(!shows_its_log(&Health::Healthy, 3));
        assert!(!shows_its_log(&Health::Running, 3));
        assert!(shows_its_log(&Health::Unhealthy, 0));
        assert!(shows_its_log(&Health::Restarting, 0));
    }

    #[test]
    fn the_last_log_line_is_the_last_one_with_text() {
        let logs = "Traceback (most recent call last):\n  File x\nModuleNotFoundError: No module named 'y'\n\n  \n";
        assert_eq!(
            last_meaningful_line(logs).as_deref(),
            Some("ModuleNotFoundError: No module named 'y'")
        );
        assert_eq!(
            last_meaningful_line("\u{1b}[31mred\n"),
            Some("[31mred".into())
        );
        assert_eq!(last_meaningful_line("\n \n"), None);
    }

    #[test]
    fn overall_states() {
        let ok = [Health::Healthy, Health::Healthy, Health::Running];
        assert_eq!(overall(Some(&u("active")), Some(&ok)), Overall::Running);
        assert_eq!(overall(None, Some(&ok)), Overall::Running);
        assert_eq!(
            overall(Some(&u("inactive")), Some(&[STOPPED, STOPPED])),
            Overall::Stopped
        );
        assert_eq!(overall(Some(&u("failed")), None), Overall::Stopped);
        assert_eq!(overall(Some(&u("active")), None), Overall::Unreachable);
        assert_eq!(
            overall(Some(&u("activating")), Some(&[STOPPED])),
            Overall::Transition
        );
        assert_eq!(
            overall(
                Some(&u("active")),
                Some(&[Health::Healthy, Health::Starting])
            ),
            Overall::Transition
        );
        assert_eq!(
            overall(
                Some(&u("active")),
                Some(&[Health::Healthy, Health::Unhealthy])
            ),
            Overall::Degraded
        );
        assert_eq!(
            overall(Some(&u("active")), Some(&[Health::Healthy, STOPPED])),
            Overall::Degraded
        );
        // Containers running without the unit (started by hand).
        assert_eq!(overall(Some(&u("inactive")), Some(&ok)), Overall::Degraded);
    }

    #[test]
    fn the_certificate_line_says_issuer_and_expiry() {
        use std::time::{Duration, UNIX_EPOCH};
        let mut r = CertificateReport {
            domain: "mathesar.example.org".into(),
            own: false,
            obtained: None,
            last_error: None,
        };
        let now = UNIX_EPOCH + Duration::from_secs(1_798_761_600); // 2027-01-01
        assert!(r.line(now).contains("none obtained yet"));
        let logs = concat!(
            "{\"level\":\"info\",\"logger\":\"tls.obtain\",\"msg\":\"obtaining certificate\"}\n",
            "{\"level\":\"error\",\"logger\":\"tls.obtain\",\"msg\":\"could not get certificate from issuer\",\"error\":\"dial tcp 192.0.2.1:443: connect: connection refused\"}\n",
            "{\"level\":\"info\",\"logger\":\"http.log.access\",\"msg\":\"handled request\"}\n",
        );
        r.last_error = last_acme_error(logs);
        assert_eq!(
            r.line(now),
            "certificate for mathesar.example.org: none obtained yet; the proxy's last ACME error: dial tcp 192.0.2.1:443: connect: connection refused"
        );
        r.last_error = None;
        r.own = true;
        r.obtained = Some(crate::tls::CertInfo {
            subject: String::new(),
            issuer: "CN=Security Team CA".into(),
            not_before: 0,
            not_after: 1_798_761_600 + 86_400,
            dns_names: vec![],
        });
        assert_eq!(
            r.line(now),
            "certificate for mathesar.example.org (your own, tls-cert): issued by CN=Security Team CA, expires 2027-01-02 00:00:00 UTC (in 1 days)"
        );
        r.own = false;
        r.obtained = Some(crate::tls::CertInfo {
            subject: String::new(),
            issuer: "CN=Internal CA".into(),
            not_before: 0,
            not_after: 1_798_761_600 + 90 * 86_400,
            dns_names: vec![],
        });
        assert_eq!(
            r.line(now),
            "certificate for mathesar.example.org: issued by CN=Internal CA, expires 2027-04-01 00:00:00 UTC (in 90 days)"
        );
        assert!(
            r.line(now + Duration::from_secs(91 * 86_400))
                .contains("EXPIRED on 2027-04-01")
        );
    }

    #[test]
    fn codes_match_the_help_text() {
        for (o, n) in [
            (Overall::Running, 0),
            (Overall::Transition, 1),
            (Overall::Stopped, 3),
            (Overall::Unreachable, 5),
            (Overall::Degraded, 8),
        ] {
            assert_eq!(o.code() as u8, n);
            assert!(crate::exit::STATUS_TABLE.contains(&format!("\n  {n}  ")));
        }
    }
}

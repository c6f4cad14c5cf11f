//! The fleet's start lock. Hosts that share Mathesar's own database (`internal-db-host`) start
//! the application one at a time: Mathesar's container runs Django's `migrate` when it starts,
//! and two `migrate` runs at once on one database fail (both create the same tables). So,
//! before it starts the application, `mathesarctl` takes a PostgreSQL advisory lock (session
//! level, one key for every host, derived from the database, role and password the hosts share:
//! [`key`]) on that database, and keeps it until the application is
//! healthy, the admin exists and the user database is connected; the next host then finds the
//! migrations done, the admin there and the database connected. A host that stops or loses its
//! connection while it holds the lock releases it (PostgreSQL ends the session).
//!
//! Under the lock, the release of Mathesar that last started on the shared database is read
//! from a one-row table `mathesarctl_release` there and written before the application starts:
//! a host with an older release (one not upgraded yet, restarted during a rolling upgrade) is
//! refused instead of running the old application on the newer schema (exit code 3).
//!
//! A host waiting for the lock says which host holds it (the holder's `application_name`, which
//! names its host, believed only from a session of Mathesar's role; a session of another role is
//! named by its role with the way to end it) and extends the unit's start timeout while it waits; after
//! `MATHESAR_START_LOCK_SECONDS` (default 15 minutes) it gives up with exit code 11. The password
//! goes to the server only (the same connection as the preflight's).

use std::time::{Duration, Instant};

use thiserror::Error;

use crate::pg::{self, ConnectError, Target};
use crate::settings::Settings;

use super::journal;

/// The advisory lock's key: the same on every host of a fleet, derived from what they share and
/// other roles of the server do not know (Mathesar's database, role and password), so that a
/// role that can merely connect cannot take it before a host does.
pub(crate) fn key(t: &Target) -> i64 {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for part in [
        "mathesarctl start lock",
        t.dbname.as_str(),
        t.user.as_str(),
        t.password.expose(),
    ] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    let d = h.finalize();
    i64::from_be_bytes(d[..8].try_into().unwrap_or([0; 8]))
}
/// How long a host waits for the lock by default.
pub(crate) const DEFAULT_WAIT: Duration = Duration::from_secs(15 * 60);
/// The variable (in `/etc/default/mathesar` for the unit) that changes it, in seconds.
pub(crate) const WAIT_VAR: &str = "MATHESAR_START_LOCK_SECONDS";
/// How long the server may stay unreachable (a restart, a fail-over) before the start fails.
const CONNECT_WINDOW: Duration = Duration::from_secs(120);
const RETRY: Duration = Duration::from_secs(2);
/// How often a waiting host says so in the journal (and extends the start timeout).
const REPORT_EVERY: Duration = Duration::from_secs(30);
/// The prefix of the session's `application_name`; the host name follows.
const APPLICATION: &str = "mathesarctl start lock on ";

#[derive(Debug, Error)]
pub(crate) enum StartLockError {
    #[error(
        "the start lock on Mathesar's database {at} could not be taken: the server did not accept a connection for {} s ({reason}). \
         Check that the server runs and that internal-db-host, internal-db-port, db-user and db-password are right (`mathesarctl check`)",
        CONNECT_WINDOW.as_secs()
    )]
    Unreachable { at: String, reason: String },
    /// What retrying cannot change: a request for the password in clear text, a certificate the
    /// sslmode refuses, no TLS where it is required, an unusable CA file.
    #[error(
        "the start lock on Mathesar's database {at} could not be taken: {reason}. The password was not sent; `mathesarctl check` says more"
    )]
    Refused { at: String, reason: String },
    #[error(
        "the start lock on Mathesar's database {at} is still held after {} s by {holder}: another host is starting Mathesar (its database migrations run under this lock). \
         Look at that host's `journalctl -u mathesar`; once it is up or stopped, `systemctl restart mathesar` here. \
         {WAIT_VAR}=SECONDS in /etc/default/mathesar waits longer",
        waited.as_secs()
    )]
    Timeout {
        at: String,
        waited: Duration,
        holder: String,
    },
    #[error("the start lock on Mathesar's database {at} failed: {reason}")]
    Query { at: String, reason: String },
    #[error(
        "Mathesar {ours} is not started: the shared database {at} was migrated by Mathesar {recorded} (on the host `{host}`), \
         and an older release does not run on a newer schema. Upgrade this host's package to the fleet's release"
    )]
    Older {
        at: String,
        ours: String,
        recorded: String,
        host: String,
    },
}

/// The table of the release record, in Mathesar's own database.
const RELEASE_TABLE: &str = "mathesarctl_release";

/// Whether `ours` is older than `recorded`; tags that are not versions (`latest`) are never
/// judged older.
pub(crate) fn is_older(ours: &str, recorded: &str) -> bool {
    crate::version::is_newer(recorded, ours)
}

/// The lock, held while this value lives (the session it was taken in).
pub(crate) struct Held {
    client: tokio_postgres::Client,
    driver: tokio::task::JoinHandle<()>,
    at: String,
    key: i64,
}

impl Held {
    /// Refuses an older release than the one that last started on the shared database, then
    /// records `ours` (with this host's name) as the one that starts now.
    pub(crate) async fn claim_release(&self, ours: &str) -> Result<(), StartLockError> {
        let failed = |e: tokio_postgres::Error| StartLockError::Query {
            at: self.at.clone(),
            reason: pg::classify(e).to_string(),
        };
        self.client
            .batch_execute(&format!(
                "CREATE TABLE IF NOT EXISTS {RELEASE_TABLE} (\
                 id int PRIMARY KEY DEFAULT 1 CHECK (id = 1), release text NOT NULL, \
                 host text NOT NULL, started timestamptz NOT NULL DEFAULT now())"
            ))
            .await
            .map_err(failed)?;
        let row = self
            .client
            .query_opt(&format!("SELECT release, host FROM {RELEASE_TABLE}"), &[])
            .await
            .map_err(failed)?;
        if let Some(row) = row {
            let (recorded, host): (String, String) = (row.get(0), row.get(1));
            if is_older(ours, &recorded) {
                return Err(StartLockError::Older {
                    at: self.at.clone(),
                    ours: ours.to_string(),
                    recorded,
                    host,
                });
            }
        }
        self.client
            .execute(
                &format!(
                    "INSERT INTO {RELEASE_TABLE} (id, release, host) VALUES (1, $1, $2) \
                     ON CONFLICT (id) DO UPDATE SET release = $1, host = $2, started = now()"
                ),
                &[&ours, &hostname()],
            )
            .await
            .map_err(failed)?;
        Ok(())
    }

    /// Releases the lock and ends the session. A failure is only a warning: the session's end
    /// releases the lock anyway.
    pub(crate) async fn release(self) {
        if let Err(e) = self
            .client
            .execute("SELECT pg_advisory_unlock($1)", &[&self.key])
            .await
        {
            journal::warn(format!(
                "releasing the start lock on {} failed ({}); the end of the session releases it",
                self.at,
                pg::classify(e)
            ));
        }
        drop(self.client);
        let _ = self.driver.await;
    }
}

/// Where the lock is taken: Mathesar's own database, when it is outside the host.
pub(crate) fn target(s: &Settings) -> Option<Target> {
    pg::internal_target(s)
}

/// The wait `MATHESAR_START_LOCK_SECONDS` asks for (a whole number of seconds, at least 1), or
/// the default.
pub(crate) fn wait_from(value: Option<&str>) -> Duration {
    value
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|&n| n > 0)
        .map_or(DEFAULT_WAIT, Duration::from_secs)
}

/// This session's `application_name`: names the host, at most 63 bytes (PostgreSQL's limit).
pub(crate) fn application_name(host: &str) -> String {
    let mut name = format!("{APPLICATION}{host}");
    while name.len() > 63 {
        name.pop();
    }
    name
}

/// Who holds the lock, for messages: the holder's host when it is a `mathesarctl` session of
/// Mathesar's role `ours`; a session of another role is named by its role, whatever
/// `application_name` it claims, with the way to end it.
pub(crate) fn describe_holder(
    application: Option<&str>,
    client: Option<&str>,
    holder: Option<(&str, i32)>,
    ours: &str,
) -> String {
    if let Some((role, pid)) = holder.filter(|(role, _)| *role != ours) {
        return format!(
            "a session of the role `{role}`{}, which is not Mathesar's role `{ours}` and so not a Mathesar host (end it with `SELECT pg_terminate_backend({pid})` as a superuser)",
            client.map(|c| format!(" from {c}")).unwrap_or_default()
        );
    }
    let host = application.and_then(|a| a.strip_prefix(APPLICATION));
    match (host, application.filter(|a| !a.is_empty()), client) {
        (Some(h), _, _) => format!("the host `{h}`"),
        (None, Some(a), Some(c)) => format!("the session `{a}` from {c}"),
        (None, Some(a), None) => format!("the session `{a}`"),
        (None, None, Some(c)) => format!("a session from {c}"),
        (None, None, None) => "another session".to_string(),
    }
}

/// `pg_locks` splits a bigint advisory key into classid (high half) and objid (low half).
fn key_halves(key: i64) -> (u32, u32) {
    ((key >> 32) as u32, key as u32)
}

/// The holder's role, `application_name` and address, as the server shows them.
async fn holder(client: &tokio_postgres::Client, key: i64, ours: &str) -> String {
    let (hi, lo) = key_halves(key);
    let sql = format!(
        "SELECT a.application_name, host(a.client_addr), a.usename::text, a.pid FROM pg_locks l \
         JOIN pg_stat_activity a ON a.pid = l.pid \
         WHERE l.locktype = 'advisory' AND l.granted AND l.classid = {hi} AND l.objid = {lo} AND l.objsubid = 1 \
         LIMIT 1"
    );
    match client.query_opt(sql.as_str(), &[]).await {
        Ok(Some(row)) => {
            let role = row.get::<_, Option<String>>(2).unwrap_or_default();
            let pid = row.get::<_, Option<i32>>(3).unwrap_or_default();
            describe_holder(
                row.get::<_, Option<String>>(0).as_deref(),
                row.get::<_, Option<String>>(1).as_deref(),
                Some((role.as_str(), pid)),
                ours,
            )
        }
        _ => describe_holder(None, None, None, ours),
    }
}

fn hostname() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "?".into())
}

fn extend_start_timeout(by: Duration, status: &str) {
    let _ = crate::systemd::notify::extend_start(status, by);
}

/// Takes the start lock on `t`, waiting at most `wait` for another host to release it.
pub(crate) async fn acquire(t: &Target, wait: Duration) -> Result<Held, StartLockError> {
    let at = format!("{} on {}:{}", t.dbname, t.host, t.port);
    let application = application_name(&hostname());
    let key = key(t);
    let started = Instant::now();
    let mut last_report: Option<Instant> = None;
    let mut unreachable_since: Option<(Instant, ConnectError)> = None;
    loop {
        let (client, driver) = match pg::open(t, &t.host, None, &application).await {
            Ok(c) => c,
            Err(
                e @ (ConnectError::Cleartext
                | ConnectError::Certificate(_)
                | ConnectError::Ca(_)
                | ConnectError::NoTls(_)),
            ) => {
                return Err(StartLockError::Refused {
                    at,
                    reason: e.to_string(),
                });
            }
            Err(e) => {
                let since = unreachable_since.get_or_insert_with(|| {
                    journal::warn(format!(
                        "Mathesar's database {at} does not accept a connection ({e}); trying again for {} s",
                        CONNECT_WINDOW.as_secs()
                    ));
                    (Instant::now(), e.clone())
                });
                if since.0.elapsed() >= CONNECT_WINDOW {
                    return Err(StartLockError::Unreachable {
                        at,
                        reason: e.to_string(),
                    });
                }
                extend_start_timeout(
                    CONNECT_WINDOW,
                    &format!("Waiting for Mathesar's database {at}"),
                );
                tokio::time::sleep(RETRY).await;
                continue;
            }
        };
        unreachable_since = None;
        loop {
            let got: Result<bool, _> = client
                .query_one("SELECT pg_try_advisory_lock($1)", &[&key])
                .await
                .map(|r| r.get(0));
            match got {
                Ok(true) => {
                    if last_report.is_some() {
                        journal::info(format!(
                            "took the start lock on {at} after {} s",
                            started.elapsed().as_secs()
                        ));
                    }
                    return Ok(Held {
                        client,
                        driver,
                        at,
                        key,
                    });
                }
                Ok(false) => {}
                // The session broke (a server restart): open another one.
                Err(e) if client.is_closed() => {
                    journal::warn(format!(
                        "the session for the start lock on {at} ended ({}); opening another",
                        pg::classify(e)
                    ));
                    break;
                }
                Err(e) => {
                    return Err(StartLockError::Query {
                        at,
                        reason: pg::classify(e).to_string(),
                    });
                }
            }
            let waited = started.elapsed();
            if waited >= wait {
                let holder = holder(&client, key, &t.user).await;
                return Err(StartLockError::Timeout { at, waited, holder });
            }
            if last_report.is_none_or(|r| r.elapsed() >= REPORT_EVERY) {
                let who = holder(&client, key, &t.user).await;
                let line = format!(
                    "waiting for the start lock on {at}, held by {who}: another host is starting Mathesar (its database migrations run once, under this lock); {} s of {} s",
                    waited.as_secs(),
                    wait.as_secs()
                );
                journal::info(&line);
                extend_start_timeout(
                    REPORT_EVERY * 2 + RETRY,
                    &format!("Waiting for the start lock, held by {who}"),
                );
                last_report = Some(Instant::now());
            }
            tokio::time::sleep(RETRY).await;
        }
        drop(client);
        let _ = driver.await;
        tokio::time::sleep(RETRY).await;
    }
}

#[cfg(test)]
mod tests {

    /// Every attempt at the lock opens its connection with the preflight's code: a server asking
    /// for the password in clear text is refused at once (no retries, each of which would be a
    /// new chance to ask) and never gets it.
    #[tokio::test]
    async fn the_lock_is_never_taken_by_sending_the_password_in_clear_text() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            let mut seen = Vec::new();
            let mut connections = 0;
            while let Ok(Ok((mut c, _))) =
                tokio::time::timeout(Duration::from_millis(1500), l.accept()).await
            {
                connections += 1;
                let mut buf = [0u8; 512];
                while let Ok(Ok(n)) =
                    tokio::time::timeout(Duration::from_millis(300), c.read(&mut buf)).await
                {
                    if n == 0 {
                        break;
                    }
                    seen.extend_from_slice(&buf[..n]);
                    let answer: &[u8] = if buf[..n] == [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f] {
                        b"N"
                    } else {
                        &[b'R', 0, 0, 0, 8, 0, 0, 0, 3]
                    };
                    let _ = c.write_all(answer).await;
                }
            }
            (connections, seen)
        });
        let password = "lock-PW-never-sent-3";
        let t = internal_db("internal-db", "127.0.0.1", port, password);
        let started = Instant::now();
        let e = acquire(&t, Duration::from_secs(60)).await.err().unwrap();
        assert!(matches!(e, StartLockError::Refused { .. }), "{e}");
        assert!(e.to_string().contains("clear text"), "{e}");
        assert!(started.elapsed() < RETRY, "retried");
        let (connections, seen) = server.await.unwrap();
        assert_eq!(connections, 1);
        assert!(
            !seen
                .windows(password.len())
                .any(|w| w == password.as_bytes())
        );
    }
    use super::*;

    #[test]
    fn the_key_is_shared_by_the_fleet_only_and_its_halves_are_what_pg_locks_shows() {
        assert_eq!(
            key_halves(0x6d61_7468_6573_6172),
            (0x6d61_7468, 0x6573_6172)
        );
        let t = |password: &str| internal_db("Mathesar's database", "pg", 5432, password);
        assert_eq!(key(&t("s3cret-pw-1")), key(&t("s3cret-pw-1")), "every host");
        assert_ne!(key(&t("s3cret-pw-1")), key(&t("s3cret-pw-2")));
        assert_ne!(
            key(&t("s3cret-pw-1")),
            0x6d61_7468_6573_6172,
            "not a guessable constant"
        );
    }

    #[test]
    fn only_versions_are_older() {
        assert!(is_older("0.10.1", "0.11.0"));
        assert!(!is_older("0.11.0", "0.10.1"));
        assert!(!is_older("0.11.0", "0.11.0"));
        assert!(is_older("0.11.0-rc1", "0.11.0"));
        assert!(!is_older("latest", "0.11.0"));
        assert!(!is_older("0.11.0", "latest"));
        let e = StartLockError::Older {
            at: "mathesar_django on pg:5432".into(),
            ours: "0.10.1".into(),
            recorded: "0.11.0".into(),
            host: "web-1".into(),
        };
        assert!(
            e.to_string()
                .contains("migrated by Mathesar 0.11.0 (on the host `web-1`)")
        );
    }

    #[test]
    fn the_wait_is_whole_seconds_or_the_default() {
        assert_eq!(wait_from(None), DEFAULT_WAIT);
        assert_eq!(wait_from(Some("90")), Duration::from_secs(90));
        assert_eq!(wait_from(Some(" 5 ")), Duration::from_secs(5));
        for bad in ["0", "-3", "1.5", "ten", ""] {
            assert_eq!(wait_from(Some(bad)), DEFAULT_WAIT, "{bad}");
        }
    }

    #[test]
    fn the_session_names_its_host_within_postgresql_limit() {
        assert_eq!(application_name("web-2"), "mathesarctl start lock on web-2");
        let long = application_name(&"h".repeat(100));
        assert_eq!(long.len(), 63);
        assert!(long.starts_with(APPLICATION));
    }

    #[test]
    fn the_holder_is_named_by_its_host_when_it_is_a_mathesarctl() {
        assert_eq!(
            describe_holder(
                Some(&application_name("web-1")),
                Some("10.0.0.5"),
                Some(("mathesar", 7)),
                "mathesar"
            ),
            "the host `web-1`"
        );
        assert_eq!(
            describe_holder(Some("psql"), Some("10.0.0.9"), None, "mathesar"),
            "the session `psql` from 10.0.0.9"
        );
        assert_eq!(
            describe_holder(Some(""), None, None, "mathesar"),
            "another session"
        );
        assert_eq!(
            describe_holder(None, Some("::1"), None, "mathesar"),
            "a session from ::1"
        );
        // Another role claiming to be a host is named by its role, with the way to end it.
        let d = describe_holder(
            Some(&application_name("web-1")),
            Some("10.0.0.9"),
            Some(("intruder", 4242)),
            "mathesar",
        );
        assert!(
            d.contains("role `intruder`")
                && !d.contains("web-1")
                && d.contains("pg_terminate_backend(4242)"),
            "{d}"
        );
    }

    #[test]
    fn the_messages_say_what_to_do_and_hold_no_password() {
        let e = StartLockError::Timeout {
            at: "mathesar_django on pg:5432".into(),
            waited: Duration::from_secs(900),
            holder: "the host `web-1`".into(),
        };
        let text = e.to_string();
        assert!(text.contains("900 s by the host `web-1`"), "{text}");
        assert!(text.contains(WAIT_VAR), "{text}");
        let e = StartLockError::Unreachable {
            at: "mathesar_django on pg:5432".into(),
            reason: "connection refused: nothing listens there".into(),
        };
        assert!(e.to_string().contains("mathesarctl check"));
    }

    /// Mathesar's own database on `host:port` as the start lock reaches it (sslmode prefer).
    fn internal_db(name: &'static str, host: &str, port: u16, password: &str) -> Target {
        Target {
            name,
            host: host.into(),
            port,
            user: "mathesar".into(),
            password: crate::secrets::Secret::new(password),
            dbname: "mathesar_django".into(),
            sslmode: crate::settings::validate::SslMode::Prefer,
            ca: None,
            keys: pg::Keys {
                host: crate::settings::Key::InternalDbHost,
                port: crate::settings::Key::InternalDbPort,
                user: crate::settings::Key::DbUser,
                password: crate::settings::Key::DbPassword,
                dbname: crate::settings::Key::InternalDbName,
            },
        }
    }
}

//! Pulling the stack's images through the Engine API, one after the other (as `docker pull` would),
//! with progress where the administrator looks: a line per image redrawn on a terminal, a few
//! plain lines in a log (apt's, a pipe), a few journal lines and the unit's STATUS= under systemd,
//! where each report also extends the start timeout while bytes arrive. A pull that makes no
//! progress for the stall time is given up. Every failure names the image, the registry, what is
//! wrong and the command to retry.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use bollard::query_parameters::CreateImageOptionsBuilder;
use futures_util::StreamExt;
use thiserror::Error;

use super::engine::Engine;
use super::journal;
use super::registry::{self, Lookup};
use crate::systemd::notify;

/// Given up after this long without a progress message from the engine (override:
/// `MATHESAR_PULL_STALL_SECONDS` in /etc/default/mathesar).
pub(crate) const DEFAULT_STALL: Duration = Duration::from_secs(180);
/// The command that pulls what is missing, named in every failure.
pub(crate) const RETRY: &str = "mathesarctl images pull";

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Cause {
    /// The registry did not answer (refused, unknown name, timeout, TLS).
    Unreachable,
    /// The registry answered that the image or tag does not exist.
    NotFound,
    /// The registry wants credentials; whether some were sent.
    Unauthorized { sent: bool },
    /// The Docker data root filled up.
    DiskFull,
    /// No progress for this long.
    Stalled(Duration),
    /// Anything else the engine said.
    Other,
}

#[derive(Debug, Error)]
#[error("cannot pull {image} from {registry}: {}", explain(.cause, .registry, .detail, .credentials))]
pub(crate) struct PullError {
    pub image: String,
    pub registry: String,
    pub cause: Cause,
    /// The engine's own words (never holds credentials: the engine does not echo them).
    pub detail: String,
    /// Where credentials were looked for, for the advice.
    pub credentials: String,
}

fn explain(cause: &Cause, registry: &str, detail: &str, credentials: &str) -> String {
    let then =
        format!("then run `{RETRY}` (and `systemctl restart mathesar`); nothing else was changed");
    match cause {
        Cause::Unreachable => format!(
            "the registry cannot be reached ({detail}). Check the network, a proxy or firewall, and the \
             image-registry answer (`mathesarctl show-config`); {then}"
        ),
        Cause::NotFound => format!(
            "the registry has no such image or tag ({detail}). Check the image-registry answer, or push \
             or mirror the image there; {then}"
        ),
        Cause::Unauthorized { sent: false } => format!(
            "the registry requires a login and there are no credentials for {registry} ({credentials}). \
             Run `docker login {registry}` as root; {then}"
        ),
        Cause::Unauthorized { sent: true } => format!(
            "the registry refused the credentials of {credentials} ({detail}). Run `docker login \
             {registry}` as root again; {then}"
        ),
        Cause::DiskFull => format!(
            "the disk of the Docker data root is full ({detail}). Free space (`docker system df`, \
             `docker image prune`); the partial download was discarded; {then}"
        ),
        Cause::Stalled(d) => format!(
            "no progress for {} s: the registry stopped sending ({detail}). Check the network and the \
             registry (a longer wait: MATHESAR_PULL_STALL_SECONDS in /etc/default/mathesar); {then}",
            d.as_secs()
        ),
        Cause::Other => format!("{detail}; {then}"),
    }
}

/// The cause of an engine message, by the words the Engine and registries use.
pub(crate) fn classify(message: &str, sent_credentials: bool) -> Cause {
    let m = message.to_ascii_lowercase();
    let has = |w: &[&str]| w.iter().any(|x| m.contains(x));
    if has(&["no space left on device", "disk quota exceeded"]) {
        Cause::DiskFull
    } else if has(&[
        "unauthorized",
        "authentication required",
        "no basic auth credentials",
        "incorrect username or password",
        "denied: requested access",
    ]) {
        Cause::Unauthorized {
            sent: sent_credentials,
        }
    } else if has(&[
        "manifest unknown",
        "not found",
        "repository does not exist",
        "name unknown",
    ]) {
        Cause::NotFound
    } else if has(&[
        "connection refused",
        "no such host",
        "i/o timeout",
        "timeout",
        "network is unreachable",
        "no route to host",
        "connection reset",
        "tls",
        "certificate",
        "server gave http response",
        "eof",
    ]) {
        Cause::Unreachable
    } else {
        Cause::Other
    }
}

/// Where progress goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// A terminal: one line per image, redrawn (carriage return only).
    Terminal,
    /// A file or pipe (apt's log): a plain line every `LINES_EVERY`.
    Lines,
    /// The journal under the unit: a line every `JOURNAL_EVERY`, STATUS= and EXTEND_TIMEOUT_USEC.
    Journal,
}

const LINES_EVERY: Duration = Duration::from_secs(10);
const JOURNAL_EVERY: Duration = Duration::from_secs(30);
const FIRST_JOURNAL_LINE: Duration = Duration::from_secs(10);
const REDRAW_EVERY: Duration = Duration::from_millis(200);
const NOTIFY_EVERY: Duration = Duration::from_secs(2);

impl Mode {
    /// The mode for this process: the journal when stderr is the unit's journal stream; plain
    /// lines in a maintainer script (apt runs dpkg on a pseudo-terminal it also copies into its
    /// log, term.log, where redrawn lines would be noise), when not a terminal or on a dumb one;
    /// else redrawn lines.
    pub(crate) fn detect() -> Mode {
        let dumb = std::env::var("TERM").is_ok_and(|t| t == "dumb");
        if journal::journal_attached() {
            Mode::Journal
        } else if std::env::var_os("DPKG_MAINTSCRIPT_NAME").is_some()
            || dumb
            || !std::io::stderr().is_terminal()
        {
            Mode::Lines
        } else {
            Mode::Terminal
        }
    }
}

/// Bytes of one image's layers (compressed, as the registry sends them).
#[derive(Debug, Default)]
struct Progress {
    layers: HashMap<String, (u64, u64)>, // id -> (done, total)
}

impl Progress {
    /// Takes one engine message; whether it moved bytes.
    fn take(
        &mut self,
        id: Option<&str>,
        status: &str,
        current: Option<i64>,
        total: Option<i64>,
    ) -> bool {
        let Some(id) = id.filter(|i| !i.is_empty()) else {
            return false;
        };
        let entry = self.layers.entry(id.to_string()).or_default();
        let before = entry.0;
        match status {
            "Downloading" => {
                if let Some(t) = total.filter(|t| *t > 0) {
                    entry.1 = t as u64;
                }
                entry.0 = current.unwrap_or(0).max(0) as u64;
            }
            "Download complete" | "Pull complete" | "Already exists" | "Verifying Checksum" => {
                entry.0 = entry.1;
            }
            _ => {}
        }
        entry.0 != before
    }

    fn done(&self) -> u64 {
        self.layers.values().map(|l| l.0).sum()
    }

    fn total(&self) -> u64 {
        self.layers.values().map(|l| l.1).sum()
    }
}

fn mb(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1_000_000.0)
}

/// One line of progress (no escape codes): while downloading, the size, rate and time left;
/// once every layer is there, that it is unpacking.
fn line(image: &str, p: &Progress, elapsed: Duration) -> String {
    let (done, total) = (p.done(), p.total());
    if total > 0 && done >= total {
        return format!("pulling {image}: {} downloaded, unpacking", mb(total));
    }
    let secs = elapsed.as_secs_f64().max(0.001);
    let rate = done as f64 / secs;
    let mut s = format!("pulling {image}: {} of {}", mb(done), mb(total));
    if let Some(pct) = (done * 100).checked_div(total) {
        s.push_str(&format!(" ({pct}%)"));
    }
    s.push_str(&format!(", {:.1} MB/s", rate / 1_000_000.0));
    if rate > 0.0 && total > done {
        let left = ((total - done) as f64 / rate).ceil() as u64;
        s.push_str(&format!(", about {} left", human(left)));
    }
    s
}

fn human(secs: u64) -> String {
    if secs >= 90 {
        format!("{} min", secs.div_ceil(60))
    } else {
        format!("{secs} s")
    }
}

/// Shows progress in `mode`.
struct Reporter {
    mode: Mode,
    stall: Duration,
    last: Instant,
    notified: Instant,
    drawn: usize,
    shown: String,
}

impl Reporter {
    fn begin(&mut self, image: &str, registry: &str, lookup: &Lookup) {
        let how = if lookup.credentials.is_some() {
            " with credentials"
        } else {
            ""
        };
        self.say(&format!("pulling {image} from {registry}{how}"));
        self.last = Instant::now();
        if self.mode == Mode::Journal {
            // The first progress line comes after FIRST_JOURNAL_LINE, the next ones every JOURNAL_EVERY.
            self.last = self
                .last
                .checked_sub(JOURNAL_EVERY - FIRST_JOURNAL_LINE)
                .unwrap_or(self.last);
        }
        if self.mode == Mode::Journal {
            let _ = notify::status(&format!("Pulling {image} ..."));
        }
    }

    fn say(&mut self, text: &str) {
        if self.mode == Mode::Terminal && self.drawn > 0 {
            eprint!("\r{}\r", " ".repeat(self.drawn));
            self.drawn = 0;
        }
        journal::info(text);
    }

    fn tick(&mut self, image: &str, p: &Progress, started: Instant) {
        let every = match self.mode {
            Mode::Terminal => REDRAW_EVERY,
            Mode::Lines => LINES_EVERY,
            Mode::Journal => {
                // Keeps the start timeout ahead while bytes arrive; the stall check ends a dead pull.
                if self.notified.elapsed() >= NOTIFY_EVERY {
                    self.notified = Instant::now();
                    let text = line(image, p, started.elapsed());
                    let _ = notify::extend_start(&text, self.stall + Duration::from_secs(60));
                }
                JOURNAL_EVERY
            }
        };
        if self.last.elapsed() < every {
            return;
        }
        let text = line(image, p, started.elapsed());
        if text == self.shown {
            return;
        }
        self.last = Instant::now();
        self.shown.clone_from(&text);
        if self.mode == Mode::Terminal {
            let pad = self.drawn.saturating_sub(text.len());
            eprint!("\r{text}{}", " ".repeat(pad));
            let _ = std::io::stderr().flush();
            self.drawn = text.len();
        } else {
            journal::info(text);
        }
    }

    fn end(&mut self, image: &str, p: &Progress, took: Duration) {
        self.say(&format!(
            "pulled {image} ({} in {:.1} s)",
            mb(p.total()),
            took.as_secs_f64()
        ));
    }
}

/// What was pulled.
#[derive(Debug, Default)]
pub(crate) struct Pulled {
    pub images: Vec<String>,
    pub bytes: u64,
}

/// The stall time from the environment, else the default.
pub(crate) fn stall_from_env() -> Duration {
    std::env::var("MATHESAR_PULL_STALL_SECONDS")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|s| *s > 0)
        .map(Duration::from_secs)
        .unwrap_or(DEFAULT_STALL)
}

/// Pulls `images` that are not present, one after the other, reporting in `mode`.
pub(crate) async fn pull_missing(
    engine: &Engine,
    images: &[String],
    mode: Mode,
) -> Result<Pulled, PullError> {
    let missing = engine.missing_images(images).await.map_err(|e| {
        let first = images.first().cloned().unwrap_or_default();
        PullError {
            registry: registry::registry_of(&first).to_string(),
            image: first,
            cause: Cause::Other,
            detail: e.to_string(),
            credentials: String::new(),
        }
    })?;
    pull_all(engine, &missing, mode).await
}

/// Pulls every one of `images`, present or not (a tag the registry now gives another image: a
/// rebuild), one after the other, reporting in `mode`.
pub(crate) async fn pull_all(
    engine: &Engine,
    images: &[String],
    mode: Mode,
) -> Result<Pulled, PullError> {
    let mut reporter = Reporter {
        mode,
        stall: stall_from_env(),
        last: Instant::now(),
        notified: Instant::now()
            .checked_sub(NOTIFY_EVERY)
            .unwrap_or_else(Instant::now),
        drawn: 0,
        shown: String::new(),
    };
    let mut pulled = Pulled::default();
    if !images.is_empty() {
        journal::info(format!(
            "{} image(s) to pull: {}",
            images.len(),
            images.join(", ")
        ));
    }
    for image in images {
        pulled.bytes += pull_one(engine, image, &mut reporter).await?;
        pulled.images.push(image.clone());
    }
    Ok(pulled)
}

async fn pull_one(engine: &Engine, image: &str, reporter: &mut Reporter) -> Result<u64, PullError> {
    let registry = registry::registry_of(image).to_string();
    let lookup = registry::lookup(&registry);
    let fail = |cause: Cause, detail: String| PullError {
        image: image.to_string(),
        registry: registry.clone(),
        cause,
        detail,
        credentials: {
            let source = match &lookup.source {
                registry::Source::None => {
                    format!("none in {}", registry::config_path().display())
                }
                other => other.to_string(),
            };
            match &lookup.problem {
                Some(p) => format!("{source}; {p}"),
                None => source,
            }
        },
    };
    reporter.begin(image, &registry, &lookup);
    let started = Instant::now();
    let opts = CreateImageOptionsBuilder::new().from_image(image).build();
    let mut stream = engine.docker().create_image(
        Some(opts),
        None,
        lookup.credentials.as_ref().map(|c| c.for_engine()),
    );
    let mut progress = Progress::default();
    let mut last_move = Instant::now();
    loop {
        let wait = reporter.stall.saturating_sub(last_move.elapsed());
        let next = match tokio::time::timeout(wait, stream.next()).await {
            Ok(n) => n,
            Err(_) => {
                return Err(fail(
                    Cause::Stalled(reporter.stall),
                    format!(
                        "{} of {} received",
                        mb(progress.done()),
                        mb(progress.total())
                    ),
                ));
            }
        };
        let Some(item) = next else { break };
        let info = match item {
            Ok(info) => info,
            Err(e) => {
                let text = engine_message(&e);
                let sent = lookup.credentials.is_some();
                return Err(fail(classify(&text, sent), text));
            }
        };
        let (current, total) = info
            .progress_detail
            .as_ref()
            .map_or((None, None), |d| (d.current, d.total));
        let status = info.status.as_deref().unwrap_or_default();
        if progress.take(info.id.as_deref(), status, current, total) {
            last_move = Instant::now();
        }
        reporter.tick(image, &progress, started);
    }
    // The stream can end without an error while the image is still not there.
    match engine.has_image(image).await {
        Ok(true) => {}
        Ok(false) => {
            return Err(fail(
                Cause::Other,
                "the engine ended the pull without the image".into(),
            ));
        }
        Err(e) => return Err(fail(Cause::Other, e.to_string())),
    }
    reporter.end(image, &progress, started.elapsed());
    Ok(progress.total())
}

/// The engine's own message of a failed request.
fn engine_message(e: &bollard::errors::Error) -> String {
    match e {
        bollard::errors::Error::DockerStreamError { error } => error.clone(),
        bollard::errors::Error::DockerResponseServerError { message, .. } => message.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_messages_are_classified() {
        let cases = [
            (
                "Get \"http://127.0.0.1:5999/v2/\": dial tcp 127.0.0.1:5999: connect: connection refused",
                Cause::Unreachable,
            ),
            (
                "Get \"https://nowhere.invalid/v2/\": dial tcp: lookup nowhere.invalid: no such host",
                Cause::Unreachable,
            ),
            (
                "manifest for 127.0.0.1:5115/mathesar/mathesar:9.9 not found: manifest unknown: manifest unknown",
                Cause::NotFound,
            ),
            (
                "Head \"http://127.0.0.1:5116/v2/mathesar/mathesar/manifests/0.11.0\": no basic auth credentials",
                Cause::Unauthorized { sent: false },
            ),
            (
                "unauthorized: authentication required",
                Cause::Unauthorized { sent: false },
            ),
            (
                "failed to register layer: Error processing tar file(exit status 1): write /usr/lib/x.so: no space left on device",
                Cause::DiskFull,
            ),
            ("something odd", Cause::Other),
        ];
        for (m, c) in cases {
            assert_eq!(classify(m, false), c, "{m}");
        }
        assert_eq!(
            classify("unauthorized: authentication required", true),
            Cause::Unauthorized { sent: true }
        );
    }

    #[test]
    fn every_failure_names_image_registry_and_retry() {
        for cause in [
            Cause::Unreachable,
            Cause::NotFound,
            Cause::Unauthorized { sent: false },
            Cause::Unauthorized { sent: true },
            Cause::DiskFull,
            Cause::Stalled(Duration::from_secs(180)),
            Cause::Other,
        ] {
            let e = PullError {
                image: "r.example:5000/mathesar/mathesar:0.11.0".into(),
                registry: "r.example:5000".into(),
                cause: cause.clone(),
                detail: "d".into(),
                credentials: "no credentials (anonymous pulls)".into(),
            };
            let m = e.to_string();
            assert!(m.contains("r.example:5000/mathesar/mathesar:0.11.0"), "{m}");
            assert!(m.contains("from r.example:5000"), "{m}");
            assert!(m.contains(RETRY), "{m}");
        }
    }

    #[test]
    fn progress_sums_layers_and_counts_only_moves() {
        let mut p = Progress::default();
        assert!(!p.take(None, "Pulling from x", None, None));
        p.take(Some("a"), "Pulling fs layer", None, None);
        assert!(p.take(Some("a"), "Downloading", Some(10), Some(100)));
        assert!(p.take(Some("b"), "Downloading", Some(50), Some(50)));
        assert_eq!((p.done(), p.total()), (60, 150));
        assert!(p.take(Some("a"), "Download complete", None, None));
        assert!(!p.take(Some("a"), "Extracting", Some(5), Some(100)));
        assert_eq!(p.done(), 150);
        let l = line("img", &p, Duration::from_secs(1));
        assert_eq!(l, "pulling img: 0.0 MB downloaded, unpacking");
        let mut q = Progress::default();
        q.take(
            Some("a"),
            "Downloading",
            Some(25_000_000),
            Some(100_000_000),
        );
        let l = line("img", &q, Duration::from_secs(10));
        assert_eq!(
            l,
            "pulling img: 25.0 MB of 100.0 MB (25%), 2.5 MB/s, about 30 s left"
        );
    }

    #[test]
    fn long_waits_are_said_in_minutes() {
        assert_eq!(human(30), "30 s");
        assert_eq!(human(600), "10 min");
    }
}

//! Taking over a Mathesar installation the package did not make: upstream's Docker Compose
//! installation (0.2 and later) in a directory of the administrator's choice, or the 0.1.x
//! guided installer's `/etc/mathesar`. `detect` recognises it (its files, then its containers
//! and databases), `plan` says what was found and what will be done and turns it into answers,
//! `apply` does it - only with the administrator's yes (`adopt`), never by default.
//!
//! Nothing of the old installation is lost: its `.env` and compose file are copied (dated, 0600)
//! into the data directory, its containers are stopped and kept (`stack::takeover`), its bind
//! mounts and volumes are only read (their data copied into the package's data directory), so
//! that the administrator can go back with `docker compose up -d` in the old directory.

pub(crate) mod apply;
pub(crate) mod detect;
pub(crate) mod plan;

use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::stack::engine::{Engine, EngineError};
use crate::stack::takeover;

pub(crate) use detect::{Files, Live, Origin};

/// The debconf questions, outside the configuration's answers: a one-time decision, not a
/// setting (never written into `.env`).
pub(crate) const QUESTION_ADOPT: &str = "mathesar/adopt";
pub(crate) const QUESTION_ADOPT_FROM: &str = "mathesar/adopt-from";
/// The same, from the environment.
pub(crate) const ENV_ADOPT: &str = "MATHESAR_ADOPT";
pub(crate) const ENV_ADOPT_FROM: &str = "MATHESAR_ADOPT_FROM";

/// The same in an answers file (`--answers`, the RPM's `/etc/mathesar/answers.yml`) are
/// `sources::answers_file::ADOPTION_KEYS`.

#[derive(Debug, Error)]
pub(crate) enum AdoptError {
    #[error("the installation in {dir} cannot be taken over: {reason}")]
    Refused { dir: PathBuf, reason: String },
    #[error("cannot read {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error("copying {from} into {to} failed: {reason}; the original is untouched")]
    Copy {
        from: String,
        to: PathBuf,
        reason: String,
    },
}

impl AdoptError {
    pub(crate) fn code(&self) -> crate::exit::Code {
        use crate::exit::Code;
        match self {
            AdoptError::Refused { .. } => Code::Adoption,
            AdoptError::Io { .. } => Code::Io,
            AdoptError::Engine(_) | AdoptError::Copy { .. } => Code::Docker,
        }
    }
}

/// Where to look and whether the administrator said yes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Request {
    /// `adopt-from`: the installation's directory; `None`: only the configuration directory is
    /// looked at.
    pub from: Option<PathBuf>,
    /// `adopt`: yes.
    pub consent: bool,
}

impl Request {
    /// `MATHESAR_ADOPT` and `MATHESAR_ADOPT_FROM` over `base` (debconf's or the command line's).
    pub(crate) fn with_environment(mut self) -> Result<Request, String> {
        if let Ok(v) = std::env::var(ENV_ADOPT) {
            self.consent = parse_yes(&v).ok_or_else(|| {
                format!("{ENV_ADOPT}={v:?} is not a yes or no (true/false, yes/no)")
            })?;
        }
        if let Ok(v) = std::env::var(ENV_ADOPT_FROM)
            && !v.is_empty()
        {
            self.from = Some(PathBuf::from(v));
        }
        Ok(self)
    }
}

impl Request {
    /// `adopt` and `adopt-from` of an answers file, below what was given here already (the
    /// command line, debconf). The file was read once by `sources::answers_file`.
    pub(crate) fn with_answers_file(mut self, path: &Path) -> Result<Request, String> {
        // One that cannot be read is `configure`'s to report (`sources::answers_file`).
        let Ok(text) = std::fs::read_to_string(path) else {
            return Ok(self);
        };
        let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).unwrap_or_default();
        if let Some(v) = doc.get("adopt") {
            let yes = match v {
                serde_yaml_ng::Value::Bool(b) => Some(*b),
                serde_yaml_ng::Value::String(s) => parse_yes(s),
                _ => None,
            }
            .ok_or_else(|| {
                format!(
                    "{}: `adopt` is not a yes or no (true/false)",
                    path.display()
                )
            })?;
            self.consent = self.consent || yes;
        }
        if let Some(d) = doc.get("adopt-from").and_then(|v| v.as_str())
            && !d.is_empty()
            && self.from.is_none()
        {
            self.from = Some(PathBuf::from(d));
        }
        Ok(self)
    }
}

/// `true`/`yes`/`1` or `false`/`no`/`0`.
pub(crate) fn parse_yes(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "1" => Some(true),
        "false" | "no" | "0" | "" => Some(false),
        _ => None,
    }
}

/// An installation found: its files and what the engine says of it.
#[derive(Clone, Debug)]
pub(crate) struct Found {
    pub files: Files,
    pub live: Live,
}

/// Looks for an installation in `dir`; `Ok(None)` when there is none. The engine is asked about
/// its containers (by name and by Compose's project directory) and, when its database container
/// runs, about its databases and its admin.
pub(crate) async fn find(dir: &Path) -> Result<Option<Found>, AdoptError> {
    let Some(files) = detect::files(dir)? else {
        return Ok(None);
    };
    // Without an engine the files still say what this is: the report says what was not read,
    // and taking it over (which needs the engine) fails before changing anything.
    let engine = match Engine::connect().await {
        Ok(e) => e,
        Err(e) => {
            let live = Live {
                unread: Some(e.to_string()),
                ..Live::default()
            };
            return Ok(Some(Found { files, live }));
        }
    };
    let containers = takeover::find(&engine, &["mathesar_db", "mathesar_service"], dir).await?;
    let mut live = Live {
        containers,
        ..Live::default()
    };
    let db_running = live
        .containers
        .iter()
        .any(|c| c.name == "mathesar_db" && c.running);
    if db_running {
        let p = plan::db_params(&files);
        live.databases = plan::query(
            &engine,
            &p.user,
            "postgres",
            "SELECT datname FROM pg_database WHERE NOT datistemplate ORDER BY 1",
        )
        .await?;
        // 0.2 and later: `mathesar_user`; 0.1.x: Django's `auth_user`.
        let table = match files.origin {
            Origin::Compose => "mathesar_user",
            Origin::Guided => "auth_user",
        };
        // `username|hash` (Django's usernames hold no `|`).
        let admin = plan::query(
            &engine,
            &p.user,
            &p.internal_db,
            &format!(
                "SELECT username || '|' || password FROM {table} WHERE is_superuser ORDER BY id LIMIT 1"
            ),
        )
        .await
        .ok()
        .and_then(|v| v.into_iter().next());
        if let Some((name, hash)) = admin.as_deref().and_then(|a| a.split_once('|')) {
            live.admin = Some(name.to_string());
            // Only 0.1.x's is needed: its user table is not carried over.
            if files.origin == Origin::Guided {
                live.admin_hash = Some(crate::secrets::Secret::new(hash));
            }
        }
    }
    Ok(Some(Found { files, live }))
}

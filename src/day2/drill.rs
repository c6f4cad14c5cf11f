//! The restore drill (`mathesarctl backup verify`, weekly by `mathesar-backup-verify.timer`):
//! the latest snapshot read from the repository, its files checked against the manifest's sums,
//! restored into a throwaway PostgreSQL container of the pinned image on a private network,
//! every table's row count compared with the count recorded at the backup, and Mathesar's
//! migrations (the pinned image, `manage.py migrate --check`) found to have nothing to apply.
//! The throwaway containers, their network and the restored files are removed whatever
//! happens; the running installation is never touched.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use thiserror::Error;

use crate::exit::Code;
use crate::rendering::images::Image;
use crate::settings::Settings;
use crate::stack::engine::{Engine, EngineError};
use crate::stack::exec::{self, ExecError};
use crate::stack::journal;
use crate::stack::throwaway::Throwaway;

use super::backup::GLOBALS_FILE;
use super::dump;
use super::manifest::Manifest;
use super::repository::{self, RepositoryError};
use super::restic::Restic;

const DB_NAME: &str = "mathesar-drill-db";
const APP_NAME: &str = "mathesar-drill-app";

#[derive(Debug, Error)]
pub(crate) enum DrillError {
    /// The backup did not restore as recorded: the verdict is "failed".
    #[error("the restore drill failed: {0}")]
    Failed(String),
    #[error(transparent)]
    Repository(#[from] RepositoryError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Exec(#[from] ExecError),
}

impl DrillError {
    pub(crate) fn code(&self) -> Code {
        match self {
            DrillError::Failed(_) => Code::Drill,
            DrillError::Repository(e) => e.code(),
            DrillError::Engine(_) | DrillError::Exec(_) => Code::Docker,
        }
    }
}

/// What a passed drill checked.
#[derive(Debug)]
pub(crate) struct Passed {
    pub snapshot: String,
    pub tables: usize,
    pub rows: u64,
}

/// Runs the drill on `snapshot` (`latest` or an id).
pub(crate) async fn run(settings: &Settings, snapshot: &str) -> Result<Passed, DrillError> {
    let restic = Restic::new(settings);
    let found = restic.find(snapshot).map_err(RepositoryError::from)?;
    journal::info(format!(
        "drill: reading the snapshot {} of {} from {}",
        found.short_id, found.time, restic.repository
    ));
    let root = Path::new(super::backup::DEFAULT_ROOT);
    let _one_at_a_time = repository::exclusive(root).map_err(RepositoryError::Backup)?;
    let target = repository::fresh_private_dir(root, ".drill").map_err(RepositoryError::Backup)?;
    let result = async {
        restic
            .restore(&found.id, &target)
            .map_err(RepositoryError::from)?;
        let dir = repository::staged_in(&target)?;
        // Every file as the manifest's sums say (a damaged snapshot fails here).
        let m = super::restore::check(&dir, true)
            .map_err(|e| DrillError::Failed(format!("the snapshot's files: {e}")))?;
        let engine = Engine::connect().await?;
        let mut throwaway = Throwaway::new(&engine, "mathesar-drill").await?;
        let checked = in_containers(&mut throwaway, settings, &dir, &m).await;
        throwaway.remove().await;
        checked
    }
    .await;
    let _ = std::fs::remove_dir_all(&target);
    let (tables, rows) = result?;
    Ok(Passed {
        snapshot: found.short_id,
        tables,
        rows,
    })
}

/// psql in the throwaway database container, as its superuser over the local socket.
fn psql<'a>(user: &'a str, db: &'a str) -> Vec<&'a str> {
    vec![
        "psql",
        "-X",
        "-q",
        "-A",
        "-t",
        "-v",
        "ON_ERROR_STOP=1",
        "-U",
        user,
        "-d",
        db,
    ]
}

async fn in_containers(
    t: &mut Throwaway<'_>,
    s: &Settings,
    dir: &Path,
    m: &Manifest,
) -> Result<(usize, u64), DrillError> {
    let password = crate::secrets::generate(crate::secrets::PASSWORD_LEN)
        .map_err(|e| DrillError::Failed(e.to_string()))?;
    let user = s.db_user.as_str();
    let registry = s.image_registry.as_deref();
    let db_image = Image::Db.pinned(registry);
    journal::info(format!(
        "drill: starting a throwaway PostgreSQL ({db_image})"
    ));
    t.start(
        DB_NAME,
        &db_image,
        &[
            ("POSTGRES_USER", user),
            ("POSTGRES_PASSWORD", password.expose()),
            ("POSTGRES_DB", "postgres"),
        ],
        None,
    )
    .await?;
    wait_ready(t, user).await?;
    let engine = Engine::connect().await?;

    let globals = dir.join(GLOBALS_FILE);
    if globals.is_file() {
        // Roles that exist already (the superuser) are reported and left: not an error.
        let file = std::fs::File::open(&globals)
            .map_err(|e| DrillError::Failed(format!("{}: {e}", globals.display())))?;
        exec::from_reader(
            &engine,
            DB_NAME,
            &["psql", "-X", "-q", "-U", user, "-d", "postgres", "-f", "-"],
            &[],
            file,
        )
        .await?;
    }
    // The restored roles carry the backed-up passwords: Mathesar's check below logs in with the
    // throwaway one (given on stdin, never on a command line).
    let set_pw = format!(
        "ALTER ROLE {} PASSWORD {};\n",
        crate::stack::database::quote_ident(user),
        crate::stack::database::quote_literal(password.expose())
    );
    let ended = exec::from_reader(
        &engine,
        DB_NAME,
        &psql(user, "postgres"),
        &[],
        std::io::Cursor::new(set_pw.into_bytes()),
    )
    .await?;
    if !ended.success() {
        return Err(DrillError::Failed(format!(
            "setting the throwaway password: {}",
            ended.stderr.trim()
        )));
    }

    let mut tables = 0;
    let mut rows = 0;
    let mut problems = Vec::new();
    for d in &m.dumps {
        journal::info(format!(
            "drill: restoring {} into the throwaway database",
            d.database
        ));
        let create = format!(
            "CREATE DATABASE {} OWNER {}",
            crate::stack::database::quote_ident(&d.database),
            crate::stack::database::quote_ident(user)
        );
        let out = engine
            .exec(
                DB_NAME,
                &[psql(user, "postgres"), vec!["-c", &create]].concat(),
                &[],
                Duration::from_secs(120),
            )
            .await?;
        if !out.success() {
            return Err(DrillError::Failed(format!(
                "creating {}: {}",
                d.database,
                out.text()
            )));
        }
        let file = dir.join(&d.file);
        let input = std::fs::File::open(&file)
            .map_err(|e| DrillError::Failed(format!("{}: {e}", file.display())))?;
        let ended = exec::from_reader(
            &engine,
            DB_NAME,
            &[
                "pg_restore",
                "--exit-on-error",
                "--no-password",
                "-U",
                user,
                "-d",
                &d.database,
            ],
            &[],
            input,
        )
        .await?;
        if !ended.success() {
            return Err(DrillError::Failed(format!(
                "pg_restore of {} failed: {}",
                d.database,
                ended.stderr.trim()
            )));
        }
        let out = engine
            .exec(
                DB_NAME,
                &[psql(user, &d.database), vec!["-c", dump::COUNT_QUERY]].concat(),
                &[],
                Duration::from_secs(3600),
            )
            .await?;
        let found: BTreeMap<String, u64> = dump::parse_counts(&out.stdout).ok_or_else(|| {
            DrillError::Failed(format!(
                "counting the rows of {}: {}",
                d.database,
                out.text()
            ))
        })?;
        match m.row_counts.get(&d.database) {
            Some(recorded) => {
                for diff in dump::differences(recorded, &found) {
                    problems.push(format!("{}: {diff}", d.database));
                }
            }
            None => problems.push(format!(
                "{}: the backup recorded no row counts (made by an older mathesarctl)",
                d.database
            )),
        }
        tables += found.len();
        rows += found.values().sum::<u64>();
    }
    if !problems.is_empty() {
        return Err(DrillError::Failed(format!(
            "the restored rows differ from the backup's record: {}",
            problems.join("; ")
        )));
    }

    // Mathesar's own database: the pinned release has no migration left to apply.
    if let Some(internal) = m
        .dumps
        .iter()
        .find(|d| d.role == super::manifest::Role::Internal)
    {
        let app_image = Image::Service.pinned(registry);
        journal::info(format!(
            "drill: checking Mathesar's migrations against the restored {} ({app_image})",
            internal.database
        ));
        let secret_key = crate::secrets::generate(crate::secrets::SECRET_KEY_LEN)
            .map_err(|e| DrillError::Failed(e.to_string()))?;
        t.start(
            APP_NAME,
            &app_image,
            &[
                ("POSTGRES_DB", internal.database.as_str()),
                ("POSTGRES_USER", user),
                ("POSTGRES_PASSWORD", password.expose()),
                ("POSTGRES_HOST", DB_NAME),
                ("POSTGRES_PORT", "5432"),
                ("SECRET_KEY", secret_key.expose()),
                ("ALLOWED_HOSTS", "*"),
                ("DJANGO_SETTINGS_MODULE", "config.settings.production"),
            ],
            Some(&["python", "manage.py", "migrate", "--check", "--no-input"]),
        )
        .await?;
        let (code, logs) = t.wait(APP_NAME, Duration::from_secs(600)).await?;
        if code != 0 {
            return Err(DrillError::Failed(format!(
                "Mathesar ({app_image}) finds migrations to apply, or cannot read the restored database (exit {code}): {}",
                last_lines(&logs, 6)
            )));
        }
    }
    Ok((tables, rows))
}

/// Waits until the throwaway server takes connections over TCP (the image's first start runs
/// a temporary server on the socket only, then restarts).
async fn wait_ready(t: &Throwaway<'_>, user: &str) -> Result<(), DrillError> {
    let engine = Engine::connect().await?;
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let ready = engine
            .exec(
                DB_NAME,
                &["pg_isready", "-q", "-h", "127.0.0.1", "-U", user],
                &[],
                Duration::from_secs(10),
            )
            .await
            .is_ok_and(|o| o.success());
        if ready {
            return Ok(());
        }
        if Instant::now() > deadline {
            let logs = engine.last_logs(DB_NAME, 10).await.unwrap_or_default();
            return Err(DrillError::Failed(format!(
                "the throwaway PostgreSQL on {} did not start: {}",
                t.network,
                last_lines(&logs, 6)
            )));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..].join(" | ")
}

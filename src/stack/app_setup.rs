//! What the first start asks of Mathesar itself: the admin (`admin`) and the user database
//! connected for it (`user_db`), in ONE Django process exec'd in `mathesar_service` (a Django
//! process costs about 0.9 s of start-up on a small host; two of them, one after the other, were
//! most of what the package's first start took beyond a bare `docker compose up --wait`).
//! `lifecycle` runs it while the proxy starts and waits for its health check: neither step needs
//! the proxy. The script is in argv (no secret in it); every value, the passwords included, is in
//! the exec's environment. The markers keep each step to once; later starts run no process.

use std::time::Duration;

use crate::settings::Settings;
use crate::storage::Layout;

use super::admin::{self, AdminError, SERVICE_CONTAINER};
use super::engine::{Engine, ExecOutput};
use super::journal;
use super::user_db::{self, Target, UserDbError};

const EXEC_TIMEOUT: Duration = Duration::from_secs(300);

/// What the process did: the admin's outcome, and the user database's (`None`: there is none to
/// connect; `Some(Err)`: it failed, which leaves Mathesar serving and is tried again next start).
#[derive(Debug)]
pub(crate) struct Done {
    pub admin: admin::Outcome,
    pub user_db: Option<Result<user_db::Outcome, UserDbError>>,
}

/// The script for the steps this start needs, one after the other in one process: the admin's
/// part first (the user database is connected for that admin; a failed creation ends the process
/// before the connection is tried, as when they were two processes).
pub(crate) fn script(admin: bool, user_db: bool) -> Option<String> {
    let parts: Vec<&str> = [(admin, admin::SCRIPT), (user_db, user_db::SCRIPT)]
        .into_iter()
        .filter_map(|(needed, part)| needed.then_some(part))
        .collect();
    (!parts.is_empty()).then(|| parts.concat())
}

/// Creates the admin and connects the user database, each unless its marker says it is done,
/// in one process; writes the markers and the journal lines. An admin that cannot be created
/// is an error (the start fails, as before); a user database that cannot be connected is a
/// warning.
pub(crate) async fn run(
    engine: &Engine,
    s: &Settings,
    layout: &Layout,
) -> Result<Done, AdminError> {
    let admin_step = admin::step(s, layout);
    let connect = user_db::step(s, layout);
    let mut env: Vec<(&'static str, String)> = Vec::new();
    if let admin::Step::Create(e) = &admin_step {
        env.extend(e.iter().cloned());
    }
    if let Some(Ok(c)) = &connect {
        // MSAR_PKG_ADMIN is the same value in both parts.
        env.retain(|(k, _)| *k != "MSAR_PKG_ADMIN");
        env.extend(c.env(&s.admin_username));
    }
    let creating = matches!(admin_step, admin::Step::Create(_));
    let connecting = matches!(connect, Some(Ok(_)));
    let out = match script(creating, connecting) {
        None => None,
        Some(script) => {
            let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let cmd = ["python", "manage.py", "shell", "-c", script.as_str()];
            match engine
                .exec(SERVICE_CONTAINER, &cmd, &pairs, EXEC_TIMEOUT)
                .await
            {
                Ok(out) => Some(out),
                // Without the admin the start fails, as it did when the admin ran alone.
                Err(e) if creating => return Err(e.into()),
                Err(e) => {
                    let done = Done {
                        admin: admin_outcome(admin_step),
                        user_db: Some(Err(e.into())),
                    };
                    report(s, layout, &done);
                    return Ok(done);
                }
            }
        }
    };
    let done = finish(s, layout, admin_step, connect, out.as_ref())?;
    report(s, layout, &done);
    Ok(done)
}

/// Each step's outcome from the process's output (`None`: no process was needed), with its
/// marker written.
fn finish(
    s: &Settings,
    layout: &Layout,
    admin_step: admin::Step,
    connect: Option<Result<user_db::Connect, user_db::Outcome>>,
    out: Option<&ExecOutput>,
) -> Result<Done, AdminError> {
    let admin = match (admin_step, out) {
        (admin::Step::Create(_), Some(out)) => admin::finish(s, layout, out)?,
        (step, _) => admin_outcome(step),
    };
    let user_db = connect.map(|c| match (c, out) {
        (Ok(c), Some(out)) => c.finish(layout, out),
        (Ok(_), None) => unreachable!("a connection to make always runs the script"),
        (Err(done), _) => Ok(done),
    });
    Ok(Done { admin, user_db })
}

fn admin_outcome(step: admin::Step) -> admin::Outcome {
    match step {
        admin::Step::Done(o) => o,
        // Not reached: a creation's outcome comes from the process.
        admin::Step::Create(_) => admin::Outcome::NoPassword,
    }
}

/// The journal lines of the admin and of the user database, and the admin password files
/// forgotten once the admin exists.
fn report(s: &Settings, layout: &Layout, done: &Done) {
    match &done.admin {
        admin::Outcome::Created => journal::info(format!(
            "created the admin `{}`{}",
            s.admin_username,
            if layout.admin_password_file().exists() {
                format!(
                    " (its generated password is in {} for 24 hours, then the file is removed: log in and change it)",
                    layout.admin_password_file().display()
                )
            } else {
                String::new()
            }
        )),
        admin::Outcome::Existed => {
            journal::info(format!("the admin `{}` already exists", s.admin_username))
        }
        admin::Outcome::NoPassword => journal::warn(format!(
            "no admin password is configured: create the first admin in the browser at {}",
            s.login_url()
        )),
        admin::Outcome::AlreadyCreated => {}
    }
    for f in admin::forget_password(layout) {
        journal::info(format!("removed the admin password file {}", f.display()));
    }
    let (Some(result), Some(target)) = (&done.user_db, Target::of(s)) else {
        return;
    };
    let what = format!(
        "the user database {} on {}:{}",
        target.database, target.host, target.port
    );
    match result {
        Ok(user_db::Outcome::Connected) => journal::info(format!("connected {what} to Mathesar")),
        Ok(user_db::Outcome::Updated) => journal::info(format!(
            "updated the password or the sslmode Mathesar keeps for {what}"
        )),
        Ok(user_db::Outcome::NoAdmin) => journal::warn(format!(
            "the admin `{}` does not exist yet: once it does, connect {what} in Mathesar (role {})",
            s.admin_username, target.role
        )),
        Ok(user_db::Outcome::AlreadyConnected | user_db::Outcome::Unchanged) => {}
        Err(e) => journal::warn(format!(
            "{e}; Mathesar is running: connect the database in its UI (Connect Database), or run `systemctl reload mathesar` to try again"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::{Key, for_tests};

    fn scratch() -> (tempfile::TempDir, Layout) {
        let t = tempfile::tempdir().unwrap();
        let layout = Layout::new(t.path().join("etc"), t.path().join("data"));
        std::fs::create_dir_all(t.path().join("etc")).unwrap();
        std::fs::create_dir_all(t.path().join("data")).unwrap();
        (t, layout)
    }

    /// What `run` makes of one process's output, on the steps the markers leave.
    fn read(s: &Settings, layout: &Layout, out: &ExecOutput) -> Result<Done, AdminError> {
        finish(
            s,
            layout,
            admin::step(s, layout),
            user_db::step(s, layout),
            Some(out),
        )
    }

    fn output(stdout: &str, stderr: &str, exit_code: i64) -> ExecOutput {
        ExecOutput {
            stdout: stdout.into(),
            stderr: stderr.into(),
            exit_code,
        }
    }

    #[test]
    fn one_script_holds_the_parts_needed_admin_first() {
        assert_eq!(script(false, false), None);
        assert_eq!(script(true, false).unwrap(), admin::SCRIPT);
        assert_eq!(script(false, true).unwrap(), user_db::SCRIPT);
        let both = script(true, true).unwrap();
        let a = both.find("createsuperuser").unwrap();
        let u = both.find("set_up_preexisting_database_for_user(").unwrap();
        assert!(
            a < u,
            "the admin is created before the database is connected for it"
        );
        // No value in argv: the script names environment variables only.
        assert!(!both.contains("Admin-pw"));
    }

    /// Both parts in one process: both markers written; the next start needs no process.
    #[test]
    fn both_done_in_one_process_then_nothing() {
        let (_t, layout) = scratch();
        let s = for_tests(&[(Key::AdminPassword, "Admin-pw-01")]);
        let out = output(
            "Superuser created successfully.\nmathesar-package-admin: created\nmathesar-package: connected\n",
            "",
            0,
        );
        let done = read(&s, &layout, &out).unwrap();
        assert_eq!(done.admin, admin::Outcome::Created);
        assert_eq!(done.user_db.unwrap().unwrap(), user_db::Outcome::Connected);
        assert!(matches!(
            admin::step(&s, &layout),
            admin::Step::Done(admin::Outcome::AlreadyCreated)
        ));
        assert!(matches!(
            user_db::step(&s, &layout),
            Some(Err(user_db::Outcome::Unchanged))
        ));
    }

    /// A failed creation ends the process before the connection: the admin's error with the
    /// process's exit code, the user database not marked.
    #[test]
    fn a_failed_admin_stops_before_the_user_database() {
        let (_t, layout) = scratch();
        let s = for_tests(&[(Key::AdminPassword, "Admin-pw-01")]);
        let out = output("", "Traceback ...\nOperationalError: no such relation", 1);
        let e = read(&s, &layout, &out).unwrap_err();
        assert!(matches!(e, AdminError::Failed { code: 1, .. }), "{e}");
        assert!(!layout.admin_created_marker().exists());
        assert!(!layout.user_db_connected_marker().exists());
    }

    /// The admin made, the connection failed: the admin marked, the user database's error names
    /// the traceback's last line, nothing marked for it (tried again next start).
    #[test]
    fn a_failed_connection_keeps_the_admin() {
        let (_t, layout) = scratch();
        let s = for_tests(&[(Key::AdminPassword, "Admin-pw-01")]);
        let out = output(
            "mathesar-package-admin: created\n",
            "Traceback ...\npsycopg.OperationalError: connection refused",
            1,
        );
        let done = read(&s, &layout, &out).unwrap();
        assert_eq!(done.admin, admin::Outcome::Created);
        let e = done.user_db.unwrap().unwrap_err().to_string();
        assert!(
            e.contains("connection refused") && e.contains("exit code 1"),
            "{e}"
        );
        assert!(layout.admin_created_marker().exists());
        assert!(!layout.user_db_connected_marker().exists());
    }
}

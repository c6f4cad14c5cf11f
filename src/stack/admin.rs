//! The first Mathesar admin, created once through Django's `createsuperuser` run by the engine in
//! `mathesar_service`, the password in the exec environment. Once it exists, a marker under the
//! data directory says so and later runs do not try again.

use std::time::Duration;

use thiserror::Error;

use crate::settings::Settings;
use crate::storage::{Layout, atomic, modes};

use super::engine::{Engine, EngineError, ExecOutput};

/// The application's container name, as upstream's compose file and Caddyfile use it.
pub(crate) const SERVICE_CONTAINER: &str = "mathesar_service";
/// The line the admin's part of the script prints: `mathesar-package-admin: created|existed`.
const OUTCOME_PREFIX: &str = "mathesar-package-admin: ";
/// How long the hash carried over may take to be set (one Django process).
const EXEC_TIMEOUT: Duration = Duration::from_secs(300);

/// Django's own `createsuperuser`, called in the first-start process (`stack::app_setup`): the
/// password in `DJANGO_SUPERUSER_PASSWORD` of the exec's environment, the username and email in
/// `MSAR_PKG_ADMIN*`. An existing username is an outcome; any other failure prints
/// createsuperuser's own message and ends the process (exit 1), so that nothing after it runs.
pub(crate) const SCRIPT: &str = r#"
import os, sys
from django.core.management import call_command
from django.core.management.base import CommandError
try:
    call_command("createsuperuser", interactive=False, username=os.environ["MSAR_PKG_ADMIN"], email=os.environ["MSAR_PKG_ADMIN_EMAIL"])
    print("mathesar-package-admin: created", flush=True)
except CommandError as err:
    print("CommandError: %s" % err, file=sys.stderr, flush=True)
    if "That username is already taken" not in str(err):
        sys.exit(1)
    print("mathesar-package-admin: existed", flush=True)
"#;

#[derive(Debug, Error)]
pub(crate) enum AdminError {
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(
        "creating the admin `{username}` failed (exit code {code}): {output}. Create it in the browser at {url}"
    )]
    Failed {
        username: String,
        code: i64,
        output: String,
        url: String,
    },
    #[error("the marker of the created admin cannot be written: {0}")]
    Marker(#[from] atomic::WriteError),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The marker says it exists: nothing was done.
    AlreadyCreated,
    /// Created now.
    Created,
    /// The application says the username exists.
    Existed,
    /// No password is known: the first admin is created in the browser.
    NoPassword,
}

/// The outcome line of the admin's part of the script.
pub(crate) fn parse_outcome(stdout: &str) -> Option<Outcome> {
    let line = stdout
        .lines()
        .rev()
        .find_map(|l| l.trim().strip_prefix(OUTCOME_PREFIX))?;
    match line.trim() {
        "created" => Some(Outcome::Created),
        "existed" => Some(Outcome::Existed),
        _ => None,
    }
}

/// The email `createsuperuser --no-input` requires; an admin without one gets a local address.
pub(crate) fn email(s: &Settings) -> String {
    if s.admin_email.is_empty() {
        format!("{}@localhost", s.admin_username)
    } else {
        s.admin_email.clone()
    }
}

/// What this start has to do for the admin.
pub(crate) enum Step {
    /// Nothing to ask of Mathesar.
    Done(Outcome),
    /// Run [`SCRIPT`] with this environment (it holds the password).
    Create(Vec<(&'static str, String)>),
}

/// Whether the admin is to be created: not when the marker says it exists, nor without a password.
pub(crate) fn step(s: &Settings, layout: &Layout) -> Step {
    if layout.admin_created_marker().exists() {
        return Step::Done(Outcome::AlreadyCreated);
    }
    let Some(password) = &s.admin_password else {
        return Step::Done(Outcome::NoPassword);
    };
    Step::Create(vec![
        ("MSAR_PKG_ADMIN", s.admin_username.clone()),
        ("MSAR_PKG_ADMIN_EMAIL", email(s)),
        ("DJANGO_SUPERUSER_PASSWORD", password.expose().to_string()),
    ])
}

/// The admin's outcome from the output of the process that ran [`SCRIPT`]; the marker written
/// once Mathesar has the admin.
pub(crate) fn finish(
    s: &Settings,
    layout: &Layout,
    out: &ExecOutput,
) -> Result<Outcome, AdminError> {
    let outcome = parse_outcome(&out.stdout).ok_or_else(|| AdminError::Failed {
        username: s.admin_username.clone(),
        code: out.exit_code,
        output: out.text(),
        url: s.login_url(),
    })?;
    let content = format!("{}\n", s.admin_username);
    atomic::write(
        &layout.admin_created_marker(),
        content.as_bytes(),
        modes::PRIVATE_FILE,
    )?;
    Ok(outcome)
}

/// Run by `manage.py shell -c`: the stored hash replaced by the one carried over, as Django
/// stores it (the same format since Django 1.x: `algorithm$iterations$salt$hash`); Django
/// upgrades an older hasher's work factor at the next login.
const SET_HASH: &str = r#"
import os
from django.contrib.auth import get_user_model
e = os.environ
n = get_user_model().objects.filter(username=e["MSAR_PKG_ADMIN"]).update(password=e["MSAR_PKG_HASH"])
print("mathesar-package: %d" % n)
"#;

/// The 0.1.x admin's password hash an adoption carried over (its guided installer kept no
/// password in `.env`): set on the new admin once it exists, so that the administrator logs in
/// with the password they had; the generated one, which then no longer works, is removed.
/// Returns whether it was set now.
pub(crate) async fn carry_over_hash(
    engine: &Engine,
    s: &Settings,
    layout: &Layout,
) -> Result<bool, AdminError> {
    let file = layout.carried_admin_hash();
    let Ok(hash) = std::fs::read_to_string(&file) else {
        return Ok(false);
    };
    let hash = hash.trim();
    if !layout.admin_created_marker().exists() || hash.split('$').count() < 3 {
        return Ok(false);
    }
    let cmd = ["python", "manage.py", "shell", "-c", SET_HASH];
    let env = [
        ("MSAR_PKG_ADMIN", s.admin_username.as_str()),
        ("MSAR_PKG_HASH", hash),
    ];
    let out = engine
        .exec(SERVICE_CONTAINER, &cmd, &env, EXEC_TIMEOUT)
        .await?;
    if !out.success() || !out.stdout.contains("mathesar-package: 1") {
        return Err(AdminError::Failed {
            username: s.admin_username.clone(),
            code: out.exit_code,
            output: format!(
                "its password of the installation taken over was not set: {}",
                out.text()
            ),
            url: s.login_url(),
        });
    }
    atomic::remove(&file).map_err(AdminError::Marker)?;
    let _ = atomic::remove(&layout.admin_password_file());
    Ok(true)
}

/// How long a generated admin password stays in its file once the admin exists.
pub(crate) const KEEP_GENERATED_PASSWORD: Duration = Duration::from_secs(24 * 3600);

/// Once the admin exists: a chosen password's file is removed at once, a generated one's
/// [`KEEP_GENERATED_PASSWORD`] after it was written (time enough to log in and change it). Returns
/// the files removed. Run at every start and hourly by `mathesarctl run`.
pub(crate) fn forget_password(layout: &Layout) -> Vec<std::path::PathBuf> {
    if !layout.admin_created_marker().exists() {
        return Vec::new();
    }
    let mut removed = Vec::new();
    let chosen = layout.chosen_admin_password_file();
    if atomic::remove(&chosen).unwrap_or(false) {
        removed.push(chosen);
    }
    let generated = layout.admin_password_file();
    let old = std::fs::symlink_metadata(&generated)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.elapsed().ok())
        .is_some_and(|age| age >= KEEP_GENERATED_PASSWORD);
    if old && atomic::remove(&generated).unwrap_or(false) {
        removed.push(generated);
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_outcome_is_the_marked_line() {
        assert_eq!(
            parse_outcome("Superuser created successfully.\nmathesar-package-admin: created\n"),
            Some(Outcome::Created)
        );
        assert_eq!(
            parse_outcome("mathesar-package-admin: existed"),
            Some(Outcome::Existed)
        );
        assert_eq!(parse_outcome("django.db.utils.OperationalError: x"), None);
        assert_eq!(
            parse_outcome("mathesar-package: connected"),
            None,
            "the user database's"
        );
    }

    /// A failed creation keeps createsuperuser's exit code and message, and writes no marker; a
    /// created or existing admin writes it.
    #[test]
    fn only_an_admin_mathesar_has_is_marked() {
        let t = tempfile::tempdir().unwrap();
        let layout = Layout::new(t.path().join("etc"), t.path().join("data"));
        std::fs::create_dir_all(t.path().join("data")).unwrap();
        let s = crate::settings::for_tests(&[(crate::settings::Key::AdminPassword, "Admin-pw-01")]);
        let Step::Create(env) = step(&s, &layout) else {
            panic!("no marker, a password: create");
        };
        assert!(
            env.iter()
                .any(|(k, v)| *k == "DJANGO_SUPERUSER_PASSWORD" && v == "Admin-pw-01")
        );
        let failed = ExecOutput {
            stdout: String::new(),
            stderr: "CommandError: Error: Enter a valid username.".into(),
            exit_code: 1,
        };
        let e = finish(&s, &layout, &failed).unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("exit code 1") && text.contains("Enter a valid username"),
            "{text}"
        );
        assert!(!text.contains("Admin-pw-01"));
        assert!(!layout.admin_created_marker().exists());
        let existed = ExecOutput {
            stdout: "mathesar-package-admin: existed\n".into(),
            stderr: "CommandError: Error: That username is already taken.".into(),
            exit_code: 0,
        };
        assert_eq!(finish(&s, &layout, &existed).unwrap(), Outcome::Existed);
        assert!(layout.admin_created_marker().exists());
        assert!(matches!(
            step(&s, &layout),
            Step::Done(Outcome::AlreadyCreated)
        ));
    }

    /// A chosen password's file goes once the admin exists; a generated one's 24 hours after it
    /// was written; nothing goes while the admin does not exist.
    #[test]
    fn password_files_are_forgotten_once_the_admin_exists() {
        let t = tempfile::tempdir().unwrap();
        let layout = Layout::new(t.path().join("etc"), t.path().join("data"));
        std::fs::create_dir_all(t.path().join("etc")).unwrap();
        std::fs::create_dir_all(t.path().join("data")).unwrap();
        let chosen = layout.chosen_admin_password_file();
        let generated = layout.admin_password_file();
        std::fs::write(&chosen, "Chosen-pw-1\n").unwrap();
        std::fs::write(&generated, "Generated-pw-1\n").unwrap();
        assert!(forget_password(&layout).is_empty());
        assert!(chosen.exists() && generated.exists());

        std::fs::write(layout.admin_created_marker(), "admin\n").unwrap();
        assert_eq!(forget_password(&layout), vec![chosen.clone()]);
        assert!(!chosen.exists() && generated.exists(), "fresh: kept");

        let day_ago = std::time::SystemTime::now() - KEEP_GENERATED_PASSWORD;
        std::fs::File::options()
            .write(true)
            .open(&generated)
            .unwrap()
            .set_modified(day_ago)
            .unwrap();
        assert_eq!(forget_password(&layout), vec![generated.clone()]);
        assert!(!generated.exists());
    }
}

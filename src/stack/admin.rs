//! The first Mathesar admin, created once through Django's `createsuperuser` run by the engine in
//! `mathesar_service`, the password in the exec environment. Once it exists, a marker under the
//! data directory says so and later runs do not try again.

use std::time::Duration;

use thiserror::Error;

use crate::settings::Settings;
use crate::storage::{Layout, atomic, modes};

use super::engine::{Engine, EngineError};

/// The application's container name, as upstream's compose file and Caddyfile use it.
pub const SERVICE_CONTAINER: &str = "mathesar_service";
const EXEC_TIMEOUT: Duration = Duration::from_secs(300);
const TAKEN: &str = "That username is already taken";

#[derive(Debug, Error)]
pub enum AdminError {
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
pub enum Outcome {
    /// The marker says it exists: nothing was done.
    AlreadyCreated,
    /// Created now.
    Created,
    /// The application says the username exists.
    Existed,
    /// No password is known: the first admin is created in the browser.
    NoPassword,
}

/// What `createsuperuser` printing `output` with `code` means.
pub fn classify(code: i64, output: &str) -> Option<Outcome> {
    if code == 0 {
        Some(Outcome::Created)
    } else if output.contains(TAKEN) {
        Some(Outcome::Existed)
    } else {
        None
    }
}

/// The email `createsuperuser --no-input` requires; an admin without one gets a local address.
pub fn email(s: &Settings) -> String {
    if s.admin_email.is_empty() {
        format!("{}@localhost", s.admin_username)
    } else {
        s.admin_email.clone()
    }
}

/// Creates the admin unless the marker says it exists, and writes the marker.
pub async fn ensure(engine: &Engine, s: &Settings, layout: &Layout) -> Result<Outcome, AdminError> {
    let marker = layout.admin_created_marker();
    if marker.exists() {
        return Ok(Outcome::AlreadyCreated);
    }
    let Some(password) = &s.admin_password else {
        return Ok(Outcome::NoPassword);
    };
    let email = email(s);
    let cmd = [
        "python",
        "manage.py",
        "createsuperuser",
        "--no-input",
        "--username",
        s.admin_username.as_str(),
        "--email",
        email.as_str(),
    ];
    let out = engine
        .exec(
            SERVICE_CONTAINER,
            &cmd,
            &[("DJANGO_SUPERUSER_PASSWORD", password.expose())],
            EXEC_TIMEOUT,
        )
        .await?;
    let text = out.text();
    let outcome = classify(out.exit_code, &text).ok_or_else(|| AdminError::Failed {
        username: s.admin_username.clone(),
        code: out.exit_code,
        output: text,
        url: s.login_url(),
    })?;
    let content = format!("{}\n", s.admin_username);
    atomic::write(&marker, content.as_bytes(), modes::PRIVATE_FILE)?;
    Ok(outcome)
}

/// How long a generated admin password stays in its file once the admin exists.
pub const KEEP_GENERATED_PASSWORD: Duration = Duration::from_secs(24 * 3600);

/// Once the admin exists: a chosen password's file is removed at once, a generated one's
/// [`KEEP_GENERATED_PASSWORD`] after it was written (time enough to log in and change it). Returns
/// the files removed. Run at every start and hourly by `mathesarctl run`.
pub fn forget_password(layout: &Layout) -> Vec<std::path::PathBuf> {
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
    fn an_existing_username_is_not_an_error() {
        assert_eq!(
            classify(1, "CommandError: Error: That username is already taken."),
            Some(Outcome::Existed)
        );
        assert_eq!(
            classify(0, "Superuser created successfully."),
            Some(Outcome::Created)
        );
        assert_eq!(classify(1, "django.db.utils.OperationalError: x"), None);
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

//! The current configuration, read back from `.env` (with the strict parser of `env_file`) and the admin password file,
//! so that a re-run changes nothing it was not asked to change and never regenerates a secret.

use std::path::PathBuf;

use thiserror::Error;

use crate::secrets::SECRET_KEY_VAR as SECRET_KEY;
use crate::secrets::Secret;
use crate::settings::{Answers, Key, Settings, Source};
use crate::storage::ConfigLayout;

#[derive(Debug, Error)]
pub(crate) enum CurrentError {
    #[error(
        "the current configuration {path} cannot be read: {message}. Fix or move it away, then run `mathesarctl configure` again"
    )]
    Unreadable { path: PathBuf, message: String },
    /// The directory, a parent or a file in it could have been written by another user.
    #[error(transparent)]
    Untrusted(#[from] crate::storage::dirs::DirError),
}

impl CurrentError {
    pub(crate) fn code(&self) -> crate::exit::Code {
        match self {
            CurrentError::Unreadable { .. } => crate::exit::Code::Io,
            CurrentError::Untrusted(e) => e.code(),
        }
    }
}

#[derive(Default)]
pub(crate) struct CurrentConfig {
    pub answers: Answers,
    pub secret_key: Option<Secret>,
    /// The `.env` text as it is now, to tell what a run changes (holds the secrets: never shown
    /// by `Debug`).
    pub env_text: Option<String>,
}

impl CurrentConfig {
    /// Whether the admin of this configuration was created already (its marker in the data directory).
    pub(crate) fn admin_created(&self, answers: &Answers) -> bool {
        let data_dir = answers
            .value(Key::DataDir)
            .unwrap_or(crate::settings::DEFAULT_DATA_DIR);
        self.env_text.is_some()
            && crate::storage::DataLayout::new(data_dir)
                .admin_created_marker()
                .exists()
    }

    /// Changes that would lose or strand data are refused before anything is written.
    pub(crate) fn refuse_unsafe_change(
        &self,
        new: &Settings,
        answers: &Answers,
    ) -> Result<(), String> {
        let old = |k: Key| self.answers.value(k).map(str::to_string);
        if let Some(old_dir) = old(Key::DataDir) {
            let old_dir = PathBuf::from(old_dir);
            let has_data =
                std::fs::read_dir(old_dir.join("pgdata")).is_ok_and(|mut d| d.next().is_some());
            if old_dir != new.data_dir && has_data {
                return Err(format!(
                    "the answer `data-dir` would change from {} to {}, but the old directory holds the database. \
                         Stop Mathesar, move the directory (mv {} {}), then run configure again; nothing was written",
                    old_dir.display(),
                    new.data_dir.display(),
                    old_dir.display(),
                    new.data_dir.display()
                ));
            }
        }
        let data_exists =
            std::fs::read_dir(new.data_dir.join("pgdata")).is_ok_and(|mut d| d.next().is_some());
        if new.bundled_db() && data_exists {
            for key in [Key::DbUser, Key::InternalDbName] {
                let now = answers.value(key).unwrap_or_default();
                if let Some(before) = old(key).filter(|b| b != now) {
                    return Err(format!(
                        "the answer `{key}` cannot change from `{before}` to `{now}`: the bundled database was created with it. \
                             Keep `{before}`; nothing was written"
                    ));
                }
            }
        }
        Ok(())
    }
}

impl std::fmt::Debug for CurrentConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CurrentConfig")
            .field("answers", &self.answers)
            .field("secret_key", &self.secret_key)
            .field(
                "env_text",
                &self.env_text.as_deref().map(crate::secrets::Redacted),
            )
            .finish()
    }
}

/// Reads what is in `layout.dir` without writing anything (a killed run's committed set
/// is read through its journal); a directory without `.env` gives an empty result. Readers hold
/// the lock shared, or nothing when no writer ever ran.
///
/// Every reader of the configuration comes here first: the directory, its parents and its files
/// must be root's alone (`storage::dirs::check_trusted`), or nothing is read.
pub(crate) fn read(layout: &ConfigLayout) -> Result<CurrentConfig, CurrentError> {
    crate::storage::dirs::check_trusted(&crate::storage::dirs::CONFIG, &layout.dir)?;
    read_with(layout, |target| {
        crate::storage::commit::view(&layout.redo_file(), target)
    })
}

/// For a writer holding the lock: completes a killed run's committed set first, then reads.
pub(crate) fn read_for_write(layout: &ConfigLayout) -> Result<CurrentConfig, CurrentError> {
    crate::storage::dirs::check_trusted(&crate::storage::dirs::CONFIG, &layout.dir)?;
    crate::storage::commit::roll_forward(&layout.redo_file()).map_err(|e| {
        CurrentError::Unreadable {
            path: e.path.clone(),
            message: format!(
                "an interrupted configuration change cannot be completed: {}",
                e.source
            ),
        }
    })?;
    read_with(layout, |t| Ok(t.to_path_buf()))
}

/// Completes a killed run's committed change when the lock is free right now (a writer holding
/// it completes it itself, and this process may hold it already): for the commands that start
/// containers from the files on disk.
pub(crate) fn complete_pending(layout: &ConfigLayout) -> Result<(), CurrentError> {
    if !layout.redo_file().exists() || !layout.lock_file().exists() {
        return Ok(());
    }
    if let Ok(_lock) =
        crate::storage::lock::acquire(&layout.lock_file(), std::time::Duration::ZERO, || {})
    {
        read_for_write(layout)?;
    }
    Ok(())
}

fn read_with(
    layout: &ConfigLayout,
    current: impl Fn(&std::path::Path) -> Result<PathBuf, crate::storage::atomic::WriteError>,
) -> Result<CurrentConfig, CurrentError> {
    let current = |target: PathBuf| {
        current(&target).map_err(|e| CurrentError::Unreadable {
            path: e.path.clone(),
            message: format!("an interrupted configuration change: {}", e.source),
        })
    };
    let path = layout.env_file();
    let mut out = CurrentConfig::default();
    let text = match std::fs::read_to_string(current(path.clone())?) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => {
            return Err(CurrentError::Unreadable {
                path,
                message: e.to_string(),
            });
        }
    };
    let unreadable = |message: String| CurrentError::Unreadable {
        path: path.clone(),
        message,
    };
    let items = crate::storage::env_text::parse(&text).map_err(|e| unreadable(e.to_string()))?;
    for (line, (name, value)) in line_numbers(&text).zip(items) {
        if let Some(key) = Key::from_env_var(&name).filter(|k| k.is_stored()) {
            out.answers.set(key, value, Source::Current(path.clone()));
        } else if name == SECRET_KEY {
            // State, not an answer, so Settings never checks it: checked here. (The watchtower
            // token of older releases is not read: nothing uses it any more.)
            if let Err(reason) = check_state_secret(&value) {
                return Err(unreadable(format!(
                    "line {line} (`{name}`): the value is refused: {reason}. Restore the file from a backup (`mathesarctl restore`)"
                )));
            }
            out.secret_key = Some(Secret::new(value));
        }
    }
    // The generated password's file, else a chosen one's (until the admin exists).
    for pw_file in [
        layout.admin_password_file(),
        layout.chosen_admin_password_file(),
    ] {
        if let Ok(pw) = std::fs::read_to_string(current(pw_file.clone())?) {
            let pw = pw.strip_suffix('\n').unwrap_or(&pw);
            if !pw.is_empty() {
                out.answers
                    .set(Key::AdminPassword, pw, Source::Current(pw_file));
                break;
            }
        }
    }
    // The repository's password and its REST server's, each read back from its own file.
    for (key, pw_file) in [
        (Key::BackupPassword, layout.backup_password_file()),
        (Key::BackupRestPassword, layout.backup_rest_password_file()),
    ] {
        if let Ok(pw) = std::fs::read_to_string(current(pw_file.clone())?) {
            let pw = pw.strip_suffix('\n').unwrap_or(&pw);
            if !pw.is_empty() {
                out.answers.set(key, pw, Source::Current(pw_file));
            }
        }
    }
    out.env_text = Some(text);
    Ok(out)
}

/// The line number of each `NAME=` line, in the order [`env_file::parse`] returns them.
fn line_numbers(text: &str) -> impl Iterator<Item = usize> + '_ {
    text.split('\n').enumerate().filter_map(|(i, l)| {
        let t = l.trim_start();
        (!t.is_empty() && !t.starts_with('#')).then_some(i + 1)
    })
}

/// A generated secret: letters and digits; one set by hand may use any visible ASCII character.
fn check_state_secret(value: &str) -> Result<(), String> {
    crate::settings::validate::plain_text(value)?;
    if value.chars().count() < 16 {
        return Err("it has fewer than 16 characters".into());
    }
    if !value.chars().all(|c| c.is_ascii_graphic()) {
        return Err("only visible ASCII characters are allowed".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn layout_with(env: &[u8]) -> (tempfile::TempDir, ConfigLayout) {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join(".env"), env).unwrap();
        let l = ConfigLayout::new(d.path());
        (d, l)
    }

    #[test]
    fn reads_answers_and_state_but_not_the_contract() {
        let (_d, l) = layout_with(b"MATHESAR_HTTP_PORT=\"8080\"\nHTTP_PORT=\"9999\"\nSECRET_KEY=\"kkkkkkkkkkkkkkkk\"\nMATHESAR_CONFIG_DIR=\"/x\"\n");
        let e = read(&l).unwrap();
        assert_eq!(e.answers.value(Key::HttpPort), Some("8080"));
        assert_eq!(
            e.answers.value(Key::ConfigDir),
            None,
            "the directory is where the file is"
        );
        assert_eq!(e.secret_key.unwrap().expose(), "kkkkkkkkkkkkkkkk");
    }

    #[test]
    fn debug_never_shows_a_secret() {
        let (_d, l) = layout_with(
            b"MATHESAR_DB_PASSWORD=\"hunter2-db\"\nPOSTGRES_PASSWORD=\"hunter2-db\"\nSECRET_KEY=\"hunter2hunter2hunter2\"\n",
        );
        let e = read(&l).unwrap();
        assert_eq!(e.answers.value(Key::DbPassword), Some("hunter2-db"));
        let shown = format!("{e:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
    }

    /// A value read back is taken literally or refused, never expanded; an error names the line
    /// and the key, not the value.
    #[test]
    fn values_are_never_expanded_and_secrets_are_checked() {
        let (_d, l) = layout_with(b"MATHESAR_DB_PASSWORD=\"pw-\\${HOME}-end\"\n");
        let e = read(&l).unwrap();
        assert_eq!(e.answers.value(Key::DbPassword), Some("pw-${HOME}-end"));

        let (_d, l) = layout_with(b"# x\nMATHESAR_DB_PASSWORD=\"pw-${HOME}-s3cr3t\"\n");
        let msg = read(&l).unwrap_err().to_string();
        assert!(
            msg.contains("line 2") && msg.contains("MATHESAR_DB_PASSWORD"),
            "{msg}"
        );
        assert!(!msg.contains("s3cr3t") && !msg.contains("/root"), "{msg}");

        for bad in ["short", "has space in the middle of it", ""] {
            let text = format!("A=\"1\"\nSECRET_KEY=\"{bad}\"\n");
            let (_d, l) = layout_with(text.as_bytes());
            let msg = read(&l).unwrap_err().to_string();
            assert!(msg.contains("line 2 (`SECRET_KEY`)"), "{msg}");
            assert!(bad.is_empty() || !msg.contains(bad), "{msg}");
        }
    }

    #[test]
    fn a_damaged_file_is_an_error_that_says_what_to_do() {
        let (_d, l) = layout_with(b"MATHESAR_HTTP_PORT=\"unterminated\n");
        let msg = read(&l).unwrap_err().to_string();
        assert!(msg.contains(".env") && msg.contains("configure"), "{msg}");
    }

    proptest! {
        // Any bytes in .env: an answer set or a clear error, never a panic.
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let (_d, l) = layout_with(&bytes);
            let _ = read(&l);
        }
    }
}

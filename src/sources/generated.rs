//! Answers and state generated when missing, and only what is safe to generate: the database
//! password, the admin password while no admin exists (answers, `Source::Generated`), and the
//! secret key (state, not an answer: kept once generated).

use crate::secrets::{self, PASSWORD_LEN, RandomError, SECRET_KEY_LEN, Secret, State};
use crate::settings::{Answers, Key, Source};

use super::current::CurrentConfig;

/// Generates what is safe to generate and missing: the database password, and the admin password
/// while no admin exists. Returns whether the admin password was generated now.
pub(crate) fn fill(answers: &mut Answers, admin_exists: bool) -> Result<bool, RandomError> {
    if answers.value(Key::DbPassword).is_none_or(str::is_empty) {
        answers.set(
            Key::DbPassword,
            secrets::generate(PASSWORD_LEN)?.expose(),
            Source::Generated,
        );
    }
    // A new repository's password; an existing repository's is given as an answer (or read back
    // from its file by `sources::current`).
    if answers.value(Key::BackupPassword).is_none_or(str::is_empty) {
        answers.set(
            Key::BackupPassword,
            secrets::generate(PASSWORD_LEN)?.expose(),
            Source::Generated,
        );
    }
    if admin_exists {
        return Ok(false);
    }
    if answers.value(Key::AdminPassword).is_none_or(str::is_empty) {
        answers.set(
            Key::AdminPassword,
            secrets::generate(PASSWORD_LEN)?.expose(),
            Source::Generated,
        );
        return Ok(true);
    }
    Ok(false)
}

/// The state of the configuration: kept from the existing one, generated where it has none.
pub(crate) fn state(found: &CurrentConfig) -> Result<State, RandomError> {
    Ok(State {
        secret_key: keep_or_generate(found.secret_key.clone(), SECRET_KEY_LEN)?,
    })
}

fn keep_or_generate(current: Option<Secret>, len: usize) -> Result<Secret, RandomError> {
    match current {
        Some(s) => Ok(s),
        None => secrets::generate(len),
    }
}

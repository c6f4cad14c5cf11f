//! Terminal prompts: the seed script's questions, with the current values as defaults, hidden
//! passwords asked twice, and a wrong answer asked again with the reason.

use dialoguer::{Input, Password, Select};

use crate::settings::validate::Empty;
use crate::settings::{Answers, Key, Source, UserDb};

fn given_explicitly(answers: &Answers, key: Key) -> bool {
    matches!(
        answers.get(key).map(|a| &a.source),
        Some(Source::AnswersFile { .. } | Source::Environment(_) | Source::Debconf)
    )
}

/// Asks every question not already answered by an answers file or the environment.
pub(crate) fn ask(mut answers: Answers, admin_exists: bool) -> Result<Answers, dialoguer::Error> {
    // By the answer's rule (`Existing` is `existing`); a refused value is reported by configure.
    let current = match answers.value(Key::UserDb).map(|v| Key::UserDb.parse(v)) {
        Some(Ok(Some(v))) => v.into_user_db(),
        _ => UserDb::Bundled,
    };
    let user_db = if given_explicitly(&answers, Key::UserDb) {
        current
    } else {
        let choice = Select::new()
            .with_prompt("User database (the data people edit in Mathesar)")
            .items([
                "a new database in the bundled PostgreSQL",
                "an existing PostgreSQL server",
            ])
            .default(usize::from(current == UserDb::Existing))
            .interact()?;
        let v = if choice == 0 {
            UserDb::Bundled
        } else {
            UserDb::Existing
        };
        answers.set(Key::UserDb, v.as_str(), Source::Prompt);
        v
    };

    if user_db == UserDb::Existing {
        text(
            &mut answers,
            Key::ExistingDbHost,
            "Existing PostgreSQL host (localhost is reached from the containers through the Docker host gateway)",
        )?;
        text(
            &mut answers,
            Key::ExistingDbPort,
            "Existing PostgreSQL port",
        )?;
        text(
            &mut answers,
            Key::UserDbName,
            "Database name on that server",
        )?;
        text(&mut answers, Key::ExistingDbUser, "User on that server")?;
        secret(
            &mut answers,
            Key::ExistingDbPassword,
            "Password of that user",
            false,
        )?;
    } else {
        text(
            &mut answers,
            Key::UserDbName,
            "Name of the new user database",
        )?;
    }
    text(
        &mut answers,
        Key::DbUser,
        "Superuser of the bundled PostgreSQL",
    )?;
    secret(
        &mut answers,
        Key::DbPassword,
        "Password of that superuser (at least 8 characters)",
        true,
    )?;
    text(
        &mut answers,
        Key::DbPort,
        "Host port publishing the bundled PostgreSQL (empty: not published)",
    )?;
    text(
        &mut answers,
        Key::Domain,
        "Domain name for automatic HTTPS (empty: plain HTTP on the server's address)",
    )?;
    let has_domain = answers
        .value(Key::Domain)
        .is_some_and(|d| !d.trim().is_empty());
    if !has_domain {
        text(
            &mut answers,
            Key::ExternalAddress,
            "Address users reach this server at",
        )?;
    }
    text(&mut answers, Key::HttpPort, "HTTP port")?;
    if has_domain {
        text(&mut answers, Key::HttpsPort, "HTTPS port")?;
    }
    if !admin_exists {
        text(&mut answers, Key::AdminUsername, "Mathesar admin user name")?;
        text(
            &mut answers,
            Key::AdminEmail,
            "Mathesar admin e-mail (may be empty)",
        )?;
        secret(
            &mut answers,
            Key::AdminPassword,
            "Mathesar admin password (at least 8 characters)",
            true,
        )?;
    }
    Ok(answers)
}

/// What a prompt stores for `value` (the canonical form, empty for an empty answer), or why it
/// asks again: the answer's own rule ([`Key::given`]). `has_current`: an empty secret keeps it.
pub(crate) fn check(key: Key, value: &str, has_current: bool) -> Result<String, String> {
    Ok(key
        .given(value, has_current)?
        .map(|v| v.canonical())
        .unwrap_or_default())
}

fn text(answers: &mut Answers, key: Key, prompt: &str) -> Result<(), dialoguer::Error> {
    if given_explicitly(answers, key) {
        return Ok(());
    }
    let current = answers.value(key).unwrap_or_default().to_string();
    let has_current = !current.is_empty();
    let value: String = Input::new()
        .with_prompt(prompt)
        .default(current)
        .allow_empty(true)
        .validate_with(move |v: &String| check(key, v, has_current).map(drop))
        .interact_text()?;
    // Checked above: what the rule gives is stored.
    let value = check(key, &value, has_current).unwrap_or_default();
    answers.set(key, value, Source::Prompt);
    Ok(())
}

/// A hidden entry; Enter keeps the current value, or leaves it to be generated when the rule lets
/// one be generated (`confirm`: asked twice).
fn secret(
    answers: &mut Answers,
    key: Key,
    prompt: &str,
    confirm: bool,
) -> Result<(), dialoguer::Error> {
    if given_explicitly(answers, key) {
        return Ok(());
    }
    let has_current = answers.value(key).is_some_and(|v| !v.is_empty());
    let hint = if has_current {
        "Enter keeps the current one"
    } else if key.rule().empty == Empty::KeepOrGenerate {
        "Enter generates one"
    } else {
        "required"
    };
    let mut p = Password::new()
        .with_prompt(format!("{prompt} [{hint}]"))
        .allow_empty_password(check(key, "", has_current).is_ok())
        .validate_with(move |v: &String| check(key, v, has_current).map(drop));
    if confirm {
        p = p.with_confirmation("Repeat it", "The two entries differ; try again");
    }
    let value = p.interact()?;
    if !value.is_empty() {
        answers.set(key, value, Source::Prompt);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompts_store_the_canonical_form() {
        assert_eq!(
            check(Key::UserDb, " Existing ", false),
            Ok("existing".into())
        );
        assert_eq!(check(Key::HttpPort, " 8080 ", false), Ok("8080".into()));
        assert_eq!(check(Key::Domain, "", false), Ok(String::new()));
        assert!(check(Key::ExternalAddress, "", false).is_err());
        assert!(check(Key::ExistingDbPassword, "", false).is_err());
        assert_eq!(check(Key::ExistingDbPassword, "", true), Ok(String::new()));
        assert_eq!(check(Key::DbPassword, "", false), Ok(String::new()));
    }
}

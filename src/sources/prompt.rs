//! Terminal prompts: the seed script's questions, with the current values as defaults, hidden
//! passwords asked twice, and a wrong answer asked again with the reason.

use dialoguer::{Input, Password, Select};

use crate::settings::{Answers, Key, Source, UserDb, validate};

fn given_explicitly(answers: &Answers, key: Key) -> bool {
    matches!(
        answers.get(key).map(|a| &a.source),
        Some(Source::AnswersFile { .. } | Source::Environment(_) | Source::Debconf)
    )
}

/// Asks every question not already answered by an answers file or the environment.
pub fn ask(mut answers: Answers, admin_exists: bool) -> Result<Answers, dialoguer::Error> {
    let user_db = if given_explicitly(&answers, Key::UserDb) {
        answers.value(Key::UserDb).unwrap_or("bundled").to_string()
    } else {
        let current = answers.value(Key::UserDb) == Some("existing");
        let choice = Select::new()
            .with_prompt("User database (the data people edit in Mathesar)")
            .items([
                "a new database in the bundled PostgreSQL",
                "an existing PostgreSQL server",
            ])
            .default(usize::from(current))
            .interact()?;
        let v = if choice == 0 {
            UserDb::Bundled
        } else {
            UserDb::Existing
        };
        answers.set(Key::UserDb, v.as_str(), Source::Prompt);
        v.as_str().to_string()
    };

    if user_db == "existing" {
        text(
            &mut answers,
            Key::ExistingDbHost,
            "Existing PostgreSQL host (localhost is reached from the containers through the Docker host gateway)",
            |v| validate::address(v).map(drop),
        )?;
        text(
            &mut answers,
            Key::ExistingDbPort,
            "Existing PostgreSQL port",
            |v| validate::port(v).map(drop),
        )?;
        text(
            &mut answers,
            Key::UserDbName,
            "Database name on that server",
            |v| validate::pg_identifier(v).map(drop),
        )?;
        text(
            &mut answers,
            Key::ExistingDbUser,
            "User on that server",
            |v| validate::pg_identifier(v).map(drop),
        )?;
        secret(
            &mut answers,
            Key::ExistingDbPassword,
            "Password of that user",
            false,
            validate::plain_text,
        )?;
    } else {
        text(
            &mut answers,
            Key::UserDbName,
            "Name of the new user database",
            |v| validate::pg_identifier(v).map(drop),
        )?;
    }
    text(
        &mut answers,
        Key::DbUser,
        "Superuser of the bundled PostgreSQL",
        |v| validate::pg_identifier(v).map(drop),
    )?;
    secret(
        &mut answers,
        Key::DbPassword,
        "Password of that superuser (at least 8 characters)",
        true,
        validate::password,
    )?;
    text(
        &mut answers,
        Key::DbPort,
        "Host port publishing the bundled PostgreSQL (empty: not published)",
        |v| validate::optional_port(v).map(drop),
    )?;
    text(
        &mut answers,
        Key::Domain,
        "Domain name for automatic HTTPS (empty: plain HTTP on the server's address)",
        |v| {
            if v.trim().is_empty() {
                Ok(())
            } else {
                validate::domain(v).map(drop)
            }
        },
    )?;
    let has_domain = answers
        .value(Key::Domain)
        .is_some_and(|d| !d.trim().is_empty());
    if !has_domain {
        text(
            &mut answers,
            Key::ExternalAddress,
            "Address users reach this server at",
            |v| validate::address(v).map(drop),
        )?;
    }
    text(&mut answers, Key::HttpPort, "HTTP port", |v| {
        validate::port(v).map(drop)
    })?;
    if has_domain {
        text(&mut answers, Key::HttpsPort, "HTTPS port", |v| {
            validate::port(v).map(drop)
        })?;
    }
    if !admin_exists {
        text(
            &mut answers,
            Key::AdminUsername,
            "Mathesar admin user name",
            |v| validate::username(v).map(drop),
        )?;
        text(
            &mut answers,
            Key::AdminEmail,
            "Mathesar admin e-mail (may be empty)",
            |v| validate::email(v).map(drop),
        )?;
        secret(
            &mut answers,
            Key::AdminPassword,
            "Mathesar admin password (at least 8 characters)",
            true,
            validate::password,
        )?;
    }
    Ok(answers)
}

fn text(
    answers: &mut Answers,
    key: Key,
    prompt: &str,
    check: impl Fn(&str) -> Result<(), String> + 'static,
) -> Result<(), dialoguer::Error> {
    if given_explicitly(answers, key) {
        return Ok(());
    }
    let current = answers.value(key).unwrap_or_default().to_string();
    let value: String = Input::new()
        .with_prompt(prompt)
        .default(current)
        .allow_empty(true)
        .validate_with(move |v: &String| check(v))
        .interact_text()?;
    answers.set(key, value.trim(), Source::Prompt);
    Ok(())
}

/// A hidden entry; Enter keeps the current value, or leaves it to be generated when there is none.
fn secret(
    answers: &mut Answers,
    key: Key,
    prompt: &str,
    confirm: bool,
    check: impl Fn(&str) -> Result<(), String> + 'static,
) -> Result<(), dialoguer::Error> {
    if given_explicitly(answers, key) {
        return Ok(());
    }
    let has_current = answers.value(key).is_some_and(|v| !v.is_empty());
    let hint = if has_current {
        "Enter keeps the current one"
    } else if confirm {
        "Enter generates one"
    } else {
        "required"
    };
    let mut p = Password::new()
        .with_prompt(format!("{prompt} [{hint}]"))
        .allow_empty_password(has_current || confirm)
        .validate_with(move |v: &String| if v.is_empty() { Ok(()) } else { check(v) });
    if confirm {
        p = p.with_confirmation("Repeat it", "The two entries differ; try again");
    }
    let value = p.interact()?;
    if !value.is_empty() {
        answers.set(key, value, Source::Prompt);
    }
    Ok(())
}

//! Work inside the bundled PostgreSQL (container `mathesar_db`), through the engine's exec: the
//! user database, and a changed superuser password applied to the running database. Passwords
//! travel in the exec environment and are read by psql itself (`\getenv`), never on a command
//! line.

use std::time::Duration;

use thiserror::Error;

use crate::settings::{BUNDLED_DB_HOST, Settings};

use super::engine::{Engine, EngineError, ExecOutput};

const EXEC_TIMEOUT: Duration = Duration::from_secs(120);
/// The variable holding the new password in the exec environment.
const NEW_PASSWORD_VAR: &str = "MATHESAR_NEW_DB_PASSWORD";
/// The psql script in the exec environment: `sh` pipes it to psql, so that psql's own variables
/// (which `-c` does not expand) can carry the password.
const SCRIPT_VAR: &str = "MATHESAR_PSQL_SCRIPT";

#[derive(Debug, Error)]
pub(crate) enum DatabaseError {
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error("{what} in {BUNDLED_DB_HOST} failed (exit code {code}): {output}")]
    Psql {
        what: String,
        code: i64,
        output: String,
    },
}

/// `'text'` as an SQL string literal.
pub(crate) fn quote_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// `"name"` as an SQL identifier.
pub(crate) fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// psql over the container's local socket as the configured superuser; its password is in the
/// exec environment (PGPASSWORD) should local connections require one.
pub(crate) fn psql_args<'a>(user: &'a str, database: &'a str) -> Vec<&'a str> {
    vec![
        "psql",
        "-X",
        "-q",
        "-v",
        "ON_ERROR_STOP=1",
        "-U",
        user,
        "-d",
        database,
    ]
}

fn check(what: &str, out: ExecOutput) -> Result<ExecOutput, DatabaseError> {
    if out.success() {
        Ok(out)
    } else {
        Err(DatabaseError::Psql {
            what: what.to_string(),
            code: out.exit_code,
            output: out.text(),
        })
    }
}

/// Creates the user database `user-db-name` in the bundled PostgreSQL when it does not exist.
/// Returns whether it was created now.
pub(crate) async fn ensure_user_database(
    engine: &Engine,
    s: &Settings,
) -> Result<bool, DatabaseError> {
    ensure_database(engine, s, &s.user_db_name).await
}

/// Creates Mathesar's own database `internal-db-name` in the bundled PostgreSQL when it does not
/// exist: the image creates it only in a new cluster, and a cluster taken over from the 0.1.x
/// guided installer gets a new one beside its old metadata (`adoption`).
pub(crate) async fn ensure_internal_database(
    engine: &Engine,
    s: &Settings,
) -> Result<bool, DatabaseError> {
    ensure_database(engine, s, &s.internal_db_name).await
}

async fn ensure_database(engine: &Engine, s: &Settings, name: &str) -> Result<bool, DatabaseError> {
    let password = s.db_password.expose();
    let env = [("PGPASSWORD", password)];
    let mut query = psql_args(&s.db_user, "postgres");
    let sql = format!(
        "SELECT 1 FROM pg_database WHERE datname = {}",
        quote_literal(name)
    );
    query.extend(["-tA", "-c", &sql]);
    let out = check(
        &format!("looking up the database {name}"),
        engine
            .exec(BUNDLED_DB_HOST, &query, &env, EXEC_TIMEOUT)
            .await?,
    )?;
    if out.stdout.trim() == "1" {
        return Ok(false);
    }
    let mut create = psql_args(&s.db_user, "postgres");
    let sql = format!("CREATE DATABASE {}", quote_ident(name));
    create.extend(["-c", &sql]);
    check(
        &format!("creating the database {name}"),
        engine
            .exec(BUNDLED_DB_HOST, &create, &env, EXEC_TIMEOUT)
            .await?,
    )?;
    Ok(true)
}

/// The psql script that sets the password of `user` to the verifier in the new-password variable.
fn alter_role_script(user: &str) -> String {
    format!(
        "\\getenv new_password {NEW_PASSWORD_VAR}\nALTER ROLE {} WITH PASSWORD :'new_password';\n",
        quote_ident(user)
    )
}

/// What PostgreSQL stores for `password`, computed here: the server (and any log of its
/// statements) only ever sees this SCRAM-SHA-256 verifier, never the password.
fn verifier(password: &str) -> String {
    postgres_protocol::password::scram_sha_256(password.as_bytes())
}

/// Sets the superuser's password inside the running bundled database to `new_password`.
/// `current_password` is what the container was started with (for PGPASSWORD).
pub(crate) async fn set_password(
    engine: &Engine,
    user: &str,
    current_password: &str,
    new_password: &str,
) -> Result<(), DatabaseError> {
    let script = alter_role_script(user);
    let psql = psql_args(user, "postgres").join(" ");
    // The shell line holds no secret: the script and the verifier are in the environment.
    let shell = format!("printf '%s\\n' \"${SCRIPT_VAR}\" | {psql} -f -");
    let cmd = ["sh", "-c", shell.as_str()];
    let verifier = verifier(new_password);
    let env = [
        ("PGPASSWORD", current_password),
        (NEW_PASSWORD_VAR, verifier.as_str()),
        (SCRIPT_VAR, script.as_str()),
    ];
    check(
        "changing the database password",
        engine
            .exec(BUNDLED_DB_HOST, &cmd, &env, EXEC_TIMEOUT)
            .await?,
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(quote_literal("it's"), "'it''s'");
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
    }

    #[test]
    fn the_password_is_never_in_the_script() {
        let s = alter_role_script("mathesar");
        assert_eq!(
            s,
            "\\getenv new_password MATHESAR_NEW_DB_PASSWORD\nALTER ROLE \"mathesar\" WITH PASSWORD :'new_password';\n"
        );
    }

    /// PostgreSQL stores a value of this form as it is; anything else it would hash itself,
    /// after the plain password went through its statement log.
    #[test]
    fn the_server_gets_a_scram_verifier_not_the_password() {
        let v = verifier("Sup3r-secret-pw");
        assert!(v.starts_with("SCRAM-SHA-256$4096:"), "{v}");
        assert!(!v.contains("Sup3r-secret-pw"));
        assert_ne!(v, verifier("Sup3r-secret-pw"), "salted");
    }
}

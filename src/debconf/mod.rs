//! The debconf protocol, spoken by the binary itself from the maintainer scripts (the `debconf`
//! crate implements the other side, the frontend).
//!
//! - [`Client`]: commands and replies ([`protocol`] has the wire format and its escaping).
//! - [`answers`]: the `mathesar/NAME` questions as [`Answers`] with [`Source::Debconf`].
//! - [`clear_passwords`]: empties every secret question once the configuration holds it.
//! - [`config`]: the questions the package's `config` script asks.
//!
//! # Which debconf values count
//! A question's value is taken only when its `seen` flag is true, and every `seen` flag is
//! cleared again once `configure` has written the configuration ([`applied`]). So `seen` means
//! "given since the configuration was last written": answered in the config script, or preseeded
//! (`debconf-set-selections` marks it seen). Everything else is a template default or the current
//! configuration the config script showed, and never overrides the configuration: the files in
//! /etc/mathesar stay the master copy, so a change made with `mathesarctl configure` survives
//! package upgrades. A seen but empty secret means "keep the current one" and is skipped too.
//!
//! The config script asks on a first installation (no configuration yet) and on
//! `dpkg-reconfigure`; on upgrades and reinstallations it asks nothing. Preseeding an answer and
//! running `dpkg-reconfigure mathesar` (any frontend, noninteractive too) applies it.

pub(crate) mod adopt;
pub(crate) mod client;
pub(crate) mod config;
pub(crate) mod protocol;
#[cfg(test)]
mod tests;

use thiserror::Error;

pub use client::Client;
pub(crate) use client::{FRONTEND, Go, Priority};

use crate::settings::{Answers, Key, Source};

#[derive(Debug, Error)]
pub enum DebconfError {
    #[error(
        "not running under a debconf frontend (DEBIAN_HAS_FRONTEND is unset): run it from the package scripts or `dpkg-reconfigure mathesar`"
    )]
    NoFrontend,
    #[error("debconf: cannot {what}: {source}")]
    Io {
        what: &'static str,
        source: std::io::Error,
    },
    #[error("debconf: the frontend closed the connection")]
    Closed,
    #[error("debconf: unreadable reply {line:?}")]
    Protocol { line: String },
    #[error("debconf: `{command}` failed with code {code}: {message}")]
    Command {
        command: String,
        code: u16,
        message: String,
    },
    #[error(
        "debconf: a value for {command} cannot be sent unchanged (the frontend lacks the escape capability)"
    )]
    Unencodable { command: String },
}

/// Reads every `mathesar/NAME` question that was seen (see the module docs for the rule).
/// Questions the frontend does not know (code 10: templates of an older package) are skipped.
pub fn answers(client: &mut Client) -> Result<Answers, DebconfError> {
    let mut out = Answers::new();
    for &key in Key::ALL {
        let q = key.debconf_question();
        let seen = match client.fget(&q, "seen") {
            Ok(seen) => seen,
            Err(DebconfError::Command { code: 10, .. }) => continue,
            Err(e) => return Err(e),
        };
        if !seen {
            continue;
        }
        let value = client.get(&q)?;
        if key.is_secret() && value.is_empty() {
            continue;
        }
        out.set(key, value, Source::Debconf);
    }
    Ok(out)
}

/// The configuration directory a `config-dir` answer names; `None` when not answered (empty).
/// `configure --debconf` works in that directory, unless `--config-dir` is given.
pub(crate) fn chosen_config_dir(answers: &Answers) -> Result<Option<std::path::PathBuf>, String> {
    Ok(match answers.value(Key::ConfigDir) {
        Some(d) => Key::ConfigDir
            .parse(d)?
            .map(crate::settings::validate::Value::into_path),
        None => None,
    })
}

/// Empties every secret question, so that no password stays in the debconf database once the
/// configuration holds it. The `seen` flag stays: the question is not asked again on upgrades.
pub(crate) fn clear_passwords(client: &mut Client) -> Result<(), DebconfError> {
    for &key in Key::ALL.iter().filter(|k| k.is_secret()) {
        match client.set(&key.debconf_question(), "") {
            Ok(()) | Err(DebconfError::Command { code: 10, .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// After a successful configure: empties the secrets and clears every `seen` flag, so that the
/// next run takes only what is given anew (see the module docs).
pub(crate) fn applied(client: &mut Client) -> Result<(), DebconfError> {
    clear_passwords(client)?;
    for &key in Key::ALL {
        match client.fset(&key.debconf_question(), "seen", false) {
            Ok(()) | Err(DebconfError::Command { code: 10, .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Runs this program again under the debconf frontend when it is not already (an administrator
/// typing `mathesarctl configure --debconf`). Returns only when that is not needed or possible.
pub(crate) fn reexec_under_frontend() -> Result<(), DebconfError> {
    use std::os::unix::process::CommandExt;
    if std::env::var_os("DEBIAN_HAS_FRONTEND").is_some() || !std::path::Path::new(FRONTEND).exists()
    {
        return Ok(());
    }
    let exe = std::env::current_exe().map_err(|source| DebconfError::Io {
        what: "find this program",
        source,
    })?;
    // The frontend reads commands from the program's stdout: a shell moves stdout to fd 3, as
    // the confmodule does, so that ordinary output still reaches the terminal.
    let source = std::process::Command::new(FRONTEND)
        .arg("/bin/sh")
        .arg("-c")
        .arg("exec 3>&1 1>&2; DEBCONF_REDIR=1; export DEBCONF_REDIR; exec \"$0\" \"$@\"")
        .arg(exe)
        .args(std::env::args_os().skip(1))
        .env("DEBCONF_PACKAGE", "mathesar")
        .exec();
    Err(DebconfError::Io {
        what: "run the debconf frontend",
        source,
    })
}

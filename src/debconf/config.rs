//! The questions of the package's `config` script (`mathesarctl debconf-config`).
//!
//! Why the binary and not a shell `config`: the rules an answer must meet live in
//! [`crate::settings::validate`] and would otherwise be written twice; the current configuration
//! (root-only `.env`, double-quoted and escaped) is read with the same code that writes it, so
//! `dpkg-reconfigure` shows the current values; and the shell confmodule cannot send a value with
//! runs of spaces unchanged, while this client uses `CAPB escape`. The price: during apt's
//! preconfiguration (before unpacking) a first install has no binary yet and asks nothing; the
//! frontend runs `config` again right before `postinst`, so the questions are still asked.
//!
//! Priorities: a default install asks only what decides the installation (`user-db`, `domain`,
//! the admin password while there is no admin, and the existing server's host, user and password
//! when one was chosen), at `high`; ports, address and admin name at `medium`; everything else at
//! `low`, preseedable and shown by `dpkg-reconfigure`.

use std::path::Path;

use crate::settings::validate;
use crate::settings::{Answers, Key, Settings, Source};
use crate::sources::{Layers, current, detect};
use crate::storage::{ConfigLayout, DataLayout};

use super::{Client, DebconfError, Go, Priority};

/// The error note shown when an answer is refused; `${key}` and `${reason}` are substituted.
pub(crate) const INVALID: &str = "mathesar/invalid-answer";

/// What the conditions of the flow look at.
struct Flow {
    current: Answers,
    admin_exists: bool,
    config_exists: bool,
}

impl Flow {
    fn current(&self, c: &mut Client, key: Key) -> Result<String, DebconfError> {
        c.get(&key.debconf_question())
    }

    /// Whether an existing server was chosen for the user database (by the rule of `user-db`).
    fn existing_db(&self, c: &mut Client) -> Result<bool, DebconfError> {
        let v = self.current(c, Key::UserDb)?;
        Ok(matches!(
            Key::UserDb.parse(&v),
            Ok(Some(validate::Value::UserDb(
                crate::settings::UserDb::Existing
            )))
        ))
    }

    /// Whether the step for `key` applies, given the answers so far.
    fn applies(&self, c: &mut Client, key: Key) -> Result<bool, DebconfError> {
        use Key::*;
        let existing_db = self.existing_db(c)?;
        Ok(match key {
            ExistingDbHost | ExistingDbPort | ExistingDbUser | ExistingDbPassword
            | ExistingDbSslmode => existing_db,
            DbPort => !existing_db && self.current_empty(c, InternalDbHost)?,
            HttpsPort | TlsCert => !self.current_empty(c, Domain)?,
            TlsKey => !self.current_empty(c, Domain)? && !self.current_empty(c, TlsCert)?,
            AcmeCa => !self.current_empty(c, Domain)? && self.current_empty(c, TlsCert)?,
            AcmeCaRoot => !self.current_empty(c, Domain)? && !self.current_empty(c, AcmeCa)?,
            ExternalAddress => self.current_empty(c, Domain)?,
            AdminUsername | AdminEmail | AdminPassword => !self.admin_exists,
            ConfigDir => !self.config_exists,
            BackupSchedule => validate::boolean(&self.current(c, Backup)?).unwrap_or(true),
            // Only a REST server with a user in the URL has a password.
            BackupRestPassword => {
                let repo = self.current(c, BackupRepository)?;
                crate::settings::backup::repository(&repo).is_ok_and(|r| r.rest_user().is_some())
            }
            InternalDbPort | InternalDbSslmode => !self.current_empty(c, InternalDbHost)?,
            DbCaFile => {
                let verifies = |c: &mut Client, k: Key| -> Result<bool, DebconfError> {
                    let v = self.current(c, k)?;
                    Ok(validate::sslmode(&v).is_ok_and(validate::SslMode::verifies))
                };
                (existing_db && verifies(c, ExistingDbSslmode)?)
                    || (!self.current_empty(c, InternalDbHost)? && verifies(c, InternalDbSslmode)?)
            }
            _ => true,
        })
    }

    fn current_empty(&self, c: &mut Client, key: Key) -> Result<bool, DebconfError> {
        Ok(self.current(c, key)?.trim().is_empty())
    }

    fn priority(&self, c: &mut Client, key: Key) -> Result<Priority, DebconfError> {
        use Key::*;
        Ok(match key {
            // Asked only when a verifying sslmode needs it.
            UserDb | Domain | AdminPassword | DbCaFile => Priority::High,
            ExistingDbHost | ExistingDbUser | ExistingDbPassword => Priority::High,
            // Asked only when the repository names a REST user: needed then.
            BackupRestPassword => Priority::High,
            HttpPort | HttpsPort | ExternalAddress | AdminUsername | AdminEmail
            | ExistingDbPort => Priority::Medium,
            UserDbName if self.existing_db(c)? => Priority::Medium,
            // Where the backups go decides whether they survive the machine.
            Backup | BackupRepository => Priority::Medium,
            _ => Priority::Low,
        })
    }
}

/// The order of the questions.
pub(crate) const STEPS: &[Key] = &[
    Key::UserDb,
    Key::ExistingDbHost,
    Key::ExistingDbPort,
    Key::ExistingDbUser,
    Key::ExistingDbPassword,
    Key::ExistingDbSslmode,
    Key::UserDbName,
    Key::Domain,
    Key::AcmeCa,
    Key::AcmeCaRoot,
    Key::TlsCert,
    Key::TlsKey,
    Key::TrustedProxies,
    Key::HttpsPort,
    Key::ExternalAddress,
    Key::HttpPort,
    Key::HttpBind,
    Key::AdminUsername,
    Key::AdminEmail,
    Key::AdminPassword,
    Key::DbUser,
    Key::DbPassword,
    Key::DbPort,
    Key::ConfigDir,
    Key::DataDir,
    Key::InternalDbHost,
    Key::InternalDbPort,
    Key::InternalDbName,
    Key::InternalDbSslmode,
    Key::DbCaFile,
    Key::RefreshImages,
    Key::ImageRegistry,
    Key::PurgeData,
    Key::Backup,
    Key::BackupRepository,
    Key::BackupSchedule,
    Key::BackupRetention,
    Key::BackupPassword,
    Key::BackupRestPassword,
    Key::Workers,
    Key::Threads,
    Key::RequestTimeout,
];

/// The rule one debconf answer must meet: the answer's own rule ([`Key::given`]). Empty secrets
/// mean "keep the current one" or "generate one", except the existing server's password when
/// there is none yet.
pub(crate) fn check(key: Key, value: &str, current: &Answers) -> Result<(), String> {
    let has_current = current.value(key).is_some_and(|v| !v.is_empty());
    key.given(value, has_current).map(drop)
}

/// Asks the questions. `config_dir` is the configuration directory in use (its values become
/// the defaults shown; secrets are never copied into debconf). `reconfigure`: run by
/// `dpkg-reconfigure`; otherwise nothing is asked once a configuration exists (upgrades,
/// reinstallations: the configuration is kept as it is, see the module docs of `debconf`).
pub(crate) fn run(
    c: &mut Client,
    config_dir: &Path,
    reconfigure: bool,
) -> Result<(), DebconfError> {
    let found = {
        // Shared, and only while reading: the questions may take long.
        let _reading = crate::storage::lock::acquire_shared(
            &ConfigLayout::new(config_dir).lock_file(),
            crate::storage::lock::DEFAULT_WAIT,
        );
        current::read(&ConfigLayout::new(config_dir)).unwrap_or_default()
    };
    // A first installation over a Mathesar the package did not make (its `.env` may be the one
    // just read): asked first; a no ends here (`configure` then refuses, nothing changed).
    if super::adopt::ask(c, config_dir)? {
        return Ok(());
    }
    if found.env_text.is_some() && !reconfigure {
        return Ok(());
    }
    let data_dir = found
        .answers
        .value(Key::DataDir)
        .unwrap_or(crate::settings::DEFAULT_DATA_DIR)
        .to_string();
    let flow = Flow {
        admin_exists: found.env_text.is_some()
            && DataLayout::new(&data_dir).admin_created_marker().exists(),
        config_exists: found.env_text.is_some(),
        current: found.answers,
    };
    seed(c, &flow, config_dir)?;

    let mut history: Vec<usize> = Vec::new();
    let mut i = 0;
    while i < STEPS.len() {
        let key = STEPS[i];
        if !flow.applies(c, key)? {
            i += 1;
            continue;
        }
        let q = key.debconf_question();
        let priority = flow.priority(c, key)?;
        let shown = c.input(priority, &q)?;
        if c.go()? == Go::Back {
            // Back to the previous question that was shown; the first one stays.
            i = history.pop().unwrap_or(0);
            continue;
        }
        let value = c.get(&q)?;
        match check(key, &value, &flow.current) {
            Err(reason) if shown => {
                refuse(c, key, &reason)?;
                c.fset(&q, "seen", false)?;
                continue;
            }
            // A refused value nobody can correct here is reported by `configure`, by name.
            _ => {}
        }
        if shown {
            history.push(i);
        }
        i += 1;
        if i == STEPS.len() {
            if let Some((key, reason)) = cross_check(c, &flow, config_dir)? {
                let j = STEPS.iter().position(|k| *k == key).unwrap_or(0);
                let q = key.debconf_question();
                let priority = flow.priority(c, key)?;
                if c.input(priority, &q).is_ok_and(|s| s) {
                    // Shown again after the note: the user can correct it.
                    c.command(&["CLEAR"]).map(drop)?;
                    refuse(c, key, &reason)?;
                    c.fset(&q, "seen", false)?;
                    i = j;
                }
            }
        }
    }
    Ok(())
}

/// `mathesarctl debconf-config`: the whole `config` script.
/// `script_args` are the config script's: `configure VERSION` or `reconfigure VERSION`.
pub(crate) fn command(config_dir: &Path, script_args: &[String]) -> crate::exit::Outcome {
    use crate::exit::{Code, WithCode};
    let reconfigure = script_args.first().is_some_and(|a| a == "reconfigure")
        || std::env::var_os("DEBCONF_RECONFIGURE").is_some();
    let mut c = Client::from_env().code(Code::Failure)?;
    run(&mut c, config_dir, reconfigure).code(Code::Failure)
}

fn refuse(c: &mut Client, key: Key, reason: &str) -> Result<(), DebconfError> {
    c.subst(INVALID, "key", key.name())?;
    c.subst(INVALID, "reason", reason)?;
    c.input(Priority::Critical, INVALID)?;
    c.go()?;
    Ok(())
}

/// Loads the current configuration into the questions nobody answered or preseeded since it was
/// written, so that they show it as their defaults (the configuration is the master copy,
/// debconf a cache of it). Secrets are never copied. Without a configuration the detected
/// address is offered.
fn seed(c: &mut Client, flow: &Flow, config_dir: &Path) -> Result<(), DebconfError> {
    let mut current: Vec<(Key, String)> = flow
        .current
        .iter()
        .filter(|(k, _)| !k.is_secret())
        .map(|(k, a)| (k, a.value().to_string()))
        .collect();
    if flow.config_exists {
        current.push((Key::ConfigDir, config_dir.display().to_string()));
    }
    for (key, value) in current {
        if !c.fget(&key.debconf_question(), "seen").unwrap_or(true) {
            set_known(c, key, &value)?;
        }
    }
    if flow.current.value(Key::ExternalAddress).is_none() {
        let q = Key::ExternalAddress.debconf_question();
        let seen = c.fget(&q, "seen").unwrap_or(false);
        if !seen && c.get(&q).unwrap_or_default().is_empty() {
            let addr =
                detect::external_address().unwrap_or_else(|| detect::FALLBACK_ADDRESS.to_string());
            set_known(c, Key::ExternalAddress, &addr)?;
        }
    }
    Ok(())
}

/// SET, ignoring questions an older template set does not have.
fn set_known(c: &mut Client, key: Key, value: &str) -> Result<(), DebconfError> {
    match c.set(&key.debconf_question(), value) {
        Ok(()) | Err(DebconfError::Command { code: 10, .. }) => Ok(()),
        Err(e) => Err(e),
    }
}

/// The rules across answers (ports that collide, HTTPS without a domain ...), checked on what
/// `configure` will see (the same layers, without an answers file or the environment). Secrets that would be kept
/// or generated are stood in for.
fn cross_check(
    c: &mut Client,
    flow: &Flow,
    config_dir: &Path,
) -> Result<Option<(Key, String)>, DebconfError> {
    let mut debconf = Answers::new();
    for &key in STEPS {
        if let Ok(v) = c.get(&key.debconf_question()) {
            if !(key.is_secret() && v.is_empty()) {
                debconf.set(key, v, Source::Debconf);
            }
        }
    }
    // The address is stood in for: the questions hold the detected one (`seed`).
    let mut detected = Answers::new();
    detected.set(Key::ExternalAddress, "localhost", Source::Default);
    // configure works in the directory the questions name (each answer was checked when given).
    let config_dir = super::chosen_config_dir(&debconf)
        .ok()
        .flatten()
        .unwrap_or_else(|| config_dir.to_path_buf());
    let mut a = Layers {
        detected,
        current: flow.current.clone(),
        debconf,
        ..Layers::default()
    }
    .merge(&config_dir);
    for key in [Key::DbPassword, Key::ExistingDbPassword] {
        if a.value(key).is_none_or(str::is_empty) {
            a.set(key, "stand-in-password", Source::Generated);
        }
    }
    match Settings::from_answers(&a) {
        Ok(_) => Ok(None),
        Err(e) => Ok(e.0.into_iter().find_map(|err| match err.problem {
            crate::settings::Problem::Invalid(reason) if STEPS.contains(&err.key) => {
                Some((err.key, reason))
            }
            _ => None,
        })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_answer_is_a_step_once() {
        let mut steps = STEPS.to_vec();
        steps.sort();
        steps.dedup();
        assert_eq!(steps.len(), STEPS.len());
        // Every answer but the obsolete `watchtower`, which is only read.
        assert!(!steps.contains(&Key::Watchtower));
        assert_eq!(steps.len(), Key::ALL.len() - 1);
    }

    #[test]
    fn checks() {
        let none = Answers::new();
        assert!(check(Key::HttpPort, "8080", &none).is_ok());
        assert!(check(Key::HttpPort, "80x", &none).is_err());
        assert!(check(Key::DbPort, "", &none).is_ok());
        assert!(check(Key::Domain, "", &none).is_ok());
        assert!(check(Key::Domain, "192.0.2.1", &none).is_err());
        assert!(check(Key::AdminPassword, "", &none).is_ok());
        assert!(check(Key::AdminPassword, "short", &none).is_err());
        assert!(check(Key::ExistingDbPassword, "", &none).is_err());
        let mut known = Answers::new();
        known.set(Key::ExistingDbPassword, "kept", Source::Default);
        assert!(check(Key::ExistingDbPassword, "", &known).is_ok());
        assert!(check(Key::DataDir, "relative", &none).is_err());
        assert!(check(Key::UserDb, "other", &none).is_err());
        assert!(check(Key::UserDb, "Existing", &none).is_ok());
    }
}

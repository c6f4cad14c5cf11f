//! `mathesarctl configure`: gather the answers from every source, check them and the host, and
//! write the configuration directory atomically. A re-run with the same answers changes nothing.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::anyhow;

use crate::cli::ConfigureArgs;
use crate::debconf;
use crate::exit::{Code, Failure, Outcome, WithCode};
use crate::preflight;
use crate::rendering::{self, Rendered, State, compose, env_file};
use crate::secrets::{self, MASK, PASSWORD_LEN, SECRET_KEY_LEN, Secret};
use crate::settings::{Answers, DEFAULT_CONFIG_DIR, Key, Settings, Source};
use crate::sources::{self, answers_file, environment, existing, prompt};
use crate::storage::{Layout, atomic, commit, dirs, lock, modes};
use crate::systemd::dropin;

pub async fn run(args: ConfigureArgs) -> Outcome {
    // `--debconf` (the package's postinst): the answers seen in debconf, the highest source.
    let mut debconf = args.debconf.then(open_debconf).transpose()?;
    let debconf_answers = match &mut debconf {
        Some(c) => debconf::answers(c).code(Code::Failure)?,
        None => Answers::new(),
    };
    let from_debconf = match args.dir.config_dir {
        None => debconf::chosen_config_dir(&debconf_answers).map_err(|reason| {
            Failure::new(
                Code::InvalidAnswer,
                anyhow!("the answer `config-dir` (from debconf) is refused: {reason}"),
            )
        })?,
        Some(_) => None,
    };
    let config_dir = from_debconf.unwrap_or_else(|| super::config_dir(&args.dir));
    // A first run racing another one for a new directory starts over once that one is done,
    // under the lock.
    loop {
        let layout = Layout::new(&config_dir, "/");
        // Every path is judged before anything is touched: no directory, lock file or chmod for a
        // path that is then refused.
        let config_state = dirs::inspect(&dirs::CONFIG, &config_dir).map_err(dir_failure)?;
        if !preflight::is_root() && !args.dry_run {
            return Err(Failure::new(
                Code::Preflight,
                anyhow!(
                    "configure writes {} and must run as root: use sudo",
                    config_dir.display()
                ),
            ));
        }

        // Hold the lock from reading the old configuration to writing the new one. A directory that
        // is missing, or not yet ours and without a lock file, has nothing to read: it is locked
        // once created, after every check.
        let timeout = Duration::from_secs(args.lock_timeout);
        let lockable = matches!(config_state, dirs::State::Created | dirs::State::Adopted)
            || layout.lock_file().exists();
        let mut held = if !lockable {
            None
        } else if args.dry_run {
            lock::acquire_shared(&layout.lock_file(), timeout).map_err(lock_failure)?
        } else {
            Some(take_lock(&layout, timeout)?)
        };
        let writer = held.is_some() && !args.dry_run;
        let found = read_existing(&layout, writer)?;
        if writer {
            atomic::clean_leftovers(&config_dir);
            commit::clean_staged(&config_dir);
        }
        let mut answers = gather(&args, &config_dir, &found, debconf_answers.clone())?;

        let admin_exists = admin_created(&answers, &found);
        let interactive = !args.non_interactive
            && std::io::stdin().is_terminal()
            && std::io::stderr().is_terminal();
        if interactive {
            answers = prompt::ask(answers, admin_exists).code(Code::InvalidAnswer)?;
        }
        let generated_admin = fill_generated(&mut answers, admin_exists).code(Code::Failure)?;

        let settings = Settings::from_answers(&answers).code(Code::InvalidAnswer)?;
        guard_changes(&settings, &found, &answers)?;
        let state = State {
            secret_key: keep_or_generate(found.secret_key.clone(), SECRET_KEY_LEN)?,
            watchtower_token: keep_or_generate(found.watchtower_token.clone(), PASSWORD_LEN)?,
        };

        let rendered = rendering::render(&settings, &state).code(Code::Failure)?;
        let layout = Layout::new(&settings.config_dir, &settings.data_dir);
        // A purge of the data would take the configuration with it, or the reverse.
        if layout.data_dir.starts_with(&layout.config_dir)
            || layout.config_dir.starts_with(&layout.data_dir)
        {
            return Err(Failure::new(
                Code::InvalidAnswer,
                anyhow!(
                    "the answer `data-dir` ({}) is refused: it and the configuration directory ({}) must not contain each other; nothing was written",
                    layout.data_dir.display(),
                    layout.config_dir.display()
                ),
            ));
        }
        let data_state = dirs::inspect(&dirs::DATA, &layout.data_dir).map_err(dir_failure)?;
        let plan = Plan::new(&layout, &rendered, &settings, admin_exists);
        let changed_answers = changed_answers(&found.answers, &settings);

        // Nothing to write, nothing to check: a re-run (every package upgrade with unchanged
        // answers, Ansible's second pass) neither touches a file nor waits for the host checks.
        if plan.files.is_empty() && !needs_defaults_file(&settings) && !needs_dropin(&settings) {
            if let (Some(c), false) = (&mut debconf, args.dry_run) {
                debconf::applied(c).code(Code::Failure)?;
            }
            println!("mathesar: no changes");
            return Ok(());
        }

        let will_start = !args.no_start && !args.dry_run;
        let report = preflight::run(&settings, &preflight::Options { will_start }).await;
        if report.failed()
            || report
                .checks
                .iter()
                .any(|c| c.status != preflight::Status::Pass)
        {
            eprint!("{report}");
        }
        if report.failed() {
            let names: Vec<_> = report.failures().map(|c| c.name).collect();
            return Err(Failure::new(
                Code::Preflight,
                anyhow!(
                    "preflight failed ({}); nothing was written",
                    names.join(", ")
                ),
            ));
        }

        if args.dry_run {
            println!("mathesar: dry run, nothing written. Would change:");
            print_changes(&changed_answers, &plan);
            return Ok(());
        }

        // Judged before writing: afterwards the old files are gone.
        let restarts = found
            .env_text
            .is_some()
            .then(|| restart_summary(&found, &rendered, &layout));
        dirs::prepare(&dirs::CONFIG, &config_dir, config_state, modes::PRIVATE_DIR)
            .map_err(dir_failure)?;
        if held.is_none() {
            held = Some(take_lock(&layout, timeout)?);
            // Another first run may have written between our read and our lock.
            if read_existing(&layout, true)?.env_text != found.env_text {
                continue;
            }
        }
        dirs::prepare(
            &dirs::DATA,
            &layout.data_dir,
            data_state,
            modes::PRIVATE_DIR,
        )
        .map_err(dir_failure)?;
        write(&layout, &plan).code(Code::Io)?;
        write_defaults_file(&settings).code(Code::Io)?;
        write_dropin(&settings).code(Code::Io)?;
        drop(held);
        if let Some(c) = &mut debconf {
            // The configuration holds them now: no password stays in the debconf database, and
            // nothing seen now overrides a later change made outside debconf.
            debconf::applied(c).code(Code::Failure)?;
        }
        println!(
            "mathesar: configuration written to {}",
            layout.config_dir.display()
        );
        print_changes(&changed_answers, &plan);
        if let Some(current) = in_use_elsewhere(&settings.config_dir) {
            println!(
                "mathesar: note: the service uses the configuration in {} (see {}), not this one; it was left as it is. \
             To switch: stop Mathesar, remove or move {}, then run configure with --config-dir {} again",
                current.display(),
                super::defaults_file().display(),
                current.display(),
                settings.config_dir.display()
            );
        }
        if let Some(summary) = &restarts {
            println!("{summary}");
        }
        if generated_admin
            && plan
                .files
                .iter()
                .any(|f| f.path == layout.admin_password_file())
        {
            println!(
                "mathesar: the admin password was generated and saved in {} (root only)",
                layout.admin_password_file().display()
            );
        }
        if args.debconf {
            // The package's postinst starts or reloads the service itself, right after this.
            println!("mathesar: log in at {}", settings.login_url());
        } else if args.no_start {
            println!(
                "mathesar: not started (--no-start). Start it with `systemctl start mathesar`."
            );
        } else {
            println!(
                "mathesar: apply it with `systemctl reload-or-restart mathesar`; log in at {}",
                settings.login_url()
            );
        }
        return Ok(());
    }
}

fn dir_failure(e: dirs::DirError) -> Failure {
    let code = e.code();
    let e = anyhow::Error::new(e);
    Failure::new(
        code,
        if code == Code::InvalidAnswer {
            e.context("nothing was written")
        } else {
            e
        },
    )
}

fn lock_failure(e: lock::LockError) -> Failure {
    Failure::new(e.code(), e)
}

fn take_lock(layout: &Layout, timeout: Duration) -> Result<lock::Lock, Failure> {
    lock::acquire(&layout.lock_file(), timeout, || {
        eprintln!(
            "Another mathesarctl run holds the configuration lock; waiting up to {}s ...",
            timeout.as_secs()
        );
    })
    .map_err(lock_failure)
}

/// A writer holding the lock completes an interrupted commit first; a reader only looks.
fn read_existing(layout: &Layout, writer: bool) -> Result<existing::Existing, Failure> {
    if writer {
        existing::read_for_write(layout).code(Code::Io)
    } else {
        existing::read(layout).code(Code::Io)
    }
}

/// The configuration the unit uses (named in `/etc/default/mathesar`, else the default
/// directory), when it is another one than `config_dir` and holds a configuration: configuring
/// `config_dir` then leaves the defaults file alone, so that the service is never silently
/// switched to another configuration.
fn in_use_elsewhere(config_dir: &Path) -> Option<PathBuf> {
    let current = crate::storage::layout::remembered_config_dir(&super::defaults_file())
        .unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG_DIR));
    (current != config_dir && Layout::new(&current, "/").env_file().exists()).then_some(current)
}

/// Runs under the debconf frontend (re-executing under it if needed) and connects to it.
fn open_debconf() -> Result<debconf::Client, Failure> {
    debconf::reexec_under_frontend().code(Code::Failure)?;
    debconf::Client::from_env().code(Code::Failure)
}

/// Every source's answers, merged in the one order ([`sources::Layers::merge`]).
fn gather(
    args: &ConfigureArgs,
    config_dir: &Path,
    found: &existing::Existing,
    debconf: Answers,
) -> Result<Answers, Failure> {
    let answers_file = match &args.answers {
        Some(path) => answers_file::read(path).map_err(|e| {
            let code = match e {
                answers_file::AnswersFileError::Read { .. } => Code::Io,
                answers_file::AnswersFileError::Invalid { .. } => Code::InvalidAnswer,
            };
            Failure::new(code, e)
        })?,
        None => Answers::new(),
    };
    let environment =
        environment::from_process().map_err(|e| Failure::new(Code::InvalidAnswer, anyhow!(e)))?;
    Ok(sources::Layers {
        detected: sources::detected(),
        existing: found.answers.clone(),
        answers_file,
        environment,
        debconf,
    }
    .merge(config_dir))
}

fn admin_created(answers: &Answers, found: &existing::Existing) -> bool {
    let data_dir = answers
        .value(Key::DataDir)
        .unwrap_or(crate::settings::DEFAULT_DATA_DIR);
    found.env_text.is_some() && Layout::new("/", data_dir).admin_created_marker().exists()
}

/// Generates what is safe to generate and missing: the database password, and the admin password
/// while no admin exists. Returns whether the admin password was generated now.
fn fill_generated(answers: &mut Answers, admin_exists: bool) -> Result<bool, secrets::RandomError> {
    if answers.value(Key::DbPassword).is_none_or(str::is_empty) {
        answers.set(
            Key::DbPassword,
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

fn keep_or_generate(current: Option<Secret>, len: usize) -> Result<Secret, Failure> {
    match current {
        Some(s) => Ok(s),
        None => secrets::generate(len).code(Code::Failure),
    }
}

/// Changes that would lose or strand data are refused before anything is written.
fn guard_changes(new: &Settings, found: &existing::Existing, answers: &Answers) -> Outcome {
    let old = |k: Key| found.answers.value(k).map(str::to_string);
    if let Some(old_dir) = old(Key::DataDir) {
        let old_dir = PathBuf::from(old_dir);
        let has_data =
            std::fs::read_dir(old_dir.join("pgdata")).is_ok_and(|mut d| d.next().is_some());
        if old_dir != new.data_dir && has_data {
            return Err(Failure::new(
                Code::InvalidAnswer,
                anyhow!(
                    "the answer `data-dir` would change from {} to {}, but the old directory holds the database. \
                     Stop Mathesar, move the directory (mv {} {}), then run configure again; nothing was written",
                    old_dir.display(),
                    new.data_dir.display(),
                    old_dir.display(),
                    new.data_dir.display()
                ),
            ));
        }
    }
    let data_exists =
        std::fs::read_dir(new.data_dir.join("pgdata")).is_ok_and(|mut d| d.next().is_some());
    if new.bundled_db() && data_exists {
        for key in [Key::DbUser, Key::InternalDbName] {
            let now = answers.value(key).unwrap_or_default();
            if let Some(before) = old(key).filter(|b| b != now) {
                return Err(Failure::new(
                    Code::InvalidAnswer,
                    anyhow!(
                        "the answer `{key}` cannot change from `{before}` to `{now}`: the bundled database was created with it. \
                         Keep `{before}`; nothing was written"
                    ),
                ));
            }
        }
    }
    Ok(())
}

struct PlannedFile {
    path: PathBuf,
    contents: Vec<u8>,
    mode: u32,
    secret: bool,
}

/// The files whose content or mode differ from what is on disk.
struct Plan {
    files: Vec<PlannedFile>,
}

impl Plan {
    fn new(layout: &Layout, r: &Rendered, s: &Settings, admin_exists: bool) -> Plan {
        let mut all = vec![
            PlannedFile {
                path: layout.env_file(),
                contents: r.env.clone().into_bytes(),
                mode: modes::PRIVATE_FILE,
                secret: true,
            },
            PlannedFile {
                path: layout.compose_file(),
                contents: r.compose.clone().into_bytes(),
                mode: modes::PRIVATE_FILE,
                secret: false,
            },
            PlannedFile {
                path: layout.caddyfile(),
                contents: r.caddyfile.clone().into_bytes(),
                mode: modes::PUBLIC_FILE,
                secret: false,
            },
        ];
        if let (Some(pw), false) = (&s.admin_password, admin_exists) {
            all.push(PlannedFile {
                path: layout.admin_password_file(),
                contents: format!("{}\n", pw.expose()).into_bytes(),
                mode: modes::PRIVATE_FILE,
                secret: true,
            });
        }
        let files = all
            .into_iter()
            .filter(|f| !atomic::holds(&f.path, &f.contents, f.mode))
            .collect();
        Plan { files }
    }
}

fn write(layout: &Layout, plan: &Plan) -> Result<(), anyhow::Error> {
    let data = dirs::open_dir(&layout.data_dir)?;
    for d in layout.data_subdirs() {
        // Created when missing only: the database image owns pgdata and sets its mode itself.
        let rel = d.strip_prefix(&layout.data_dir)?;
        dirs::create_under(&data, rel, modes::SHARED_DIR)?;
    }
    if let Some(caddy_dir) = layout.caddyfile().parent() {
        commit::clean_staged(caddy_dir);
    }
    // All the files or none, whenever the run is killed.
    let changes: Vec<commit::Change> = plan
        .files
        .iter()
        .map(|f| commit::Change {
            path: &f.path,
            contents: &f.contents,
            mode: f.mode,
        })
        .collect();
    commit::commit(&layout.journal_file(), &changes)?;
    Ok(())
}

fn needs_defaults_file(s: &Settings) -> bool {
    if in_use_elsewhere(&s.config_dir).is_some() {
        return false;
    }
    let file = super::defaults_file();
    let remembered = crate::storage::layout::remembered_config_dir(&file);
    let default = s.config_dir == Path::new(DEFAULT_CONFIG_DIR);
    match remembered {
        Some(dir) => dir != s.config_dir,
        None => !default,
    }
}

/// Whether the unit's drop-in must change: this is the configuration the unit uses, and its
/// directories are not the ones the drop-in names.
fn needs_dropin(s: &Settings) -> bool {
    in_use_elsewhere(&s.config_dir).is_none()
        && dropin::stale(&dropin::file(), &s.config_dir, &s.data_dir)
}

/// Makes a configuration or data directory other than the defaults writable by the unit
/// (`systemd::dropin`), or removes the drop-in when the defaults are back.
fn write_dropin(s: &Settings) -> Result<(), anyhow::Error> {
    if !needs_dropin(s) {
        return Ok(());
    }
    let file = dropin::file();
    if dropin::apply(&file, &s.config_dir, &s.data_dir)? {
        dropin::reload_systemd(&file);
    }
    Ok(())
}

/// Remembers a non-default configuration directory for the unit (`EnvironmentFile=`) and later runs.
fn write_defaults_file(s: &Settings) -> Result<(), anyhow::Error> {
    if !needs_defaults_file(s) {
        return Ok(());
    }
    let text = format!(
        "# Written by `mathesarctl configure`: where the Mathesar configuration lives.\nMATHESAR_CONFIG_DIR={}\n",
        env_file::quote(&s.config_dir.display().to_string())
    );
    let file = super::defaults_file();
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir)?;
    }
    atomic::write(&file, text.as_bytes(), modes::PUBLIC_FILE)?;
    Ok(())
}

fn changed_answers(old: &Answers, new: &Settings) -> Vec<(Key, String)> {
    new.to_answers(Source::Generated)
        .iter()
        .filter(|(k, _)| env_file::is_stored(*k))
        .filter(|(k, a)| old.value(*k) != Some(a.value()))
        .map(|(k, a)| {
            let shown = if k.is_secret() {
                MASK.to_string()
            } else if a.value().is_empty() {
                "(empty)".into()
            } else {
                a.value().to_string()
            };
            (k, shown)
        })
        .collect()
}

/// Which containers applying this change recreates: those whose definition uses a changed value,
/// or all of them when the compose file itself changed.
fn restart_summary(found: &existing::Existing, rendered: &Rendered, layout: &Layout) -> String {
    let parse = |t: &str| -> BTreeMap<String, String> {
        env_file::parse(t).unwrap_or_default().into_iter().collect()
    };
    let old = parse(found.env_text.as_deref().unwrap_or_default());
    let new = parse(&rendered.env);
    let compose_changed = std::fs::read_to_string(layout.compose_file())
        .ok()
        .as_deref()
        != Some(rendered.compose.as_str());
    let services = compose::services_to_recreate(&rendered.compose, &old, &new);
    if compose_changed {
        "mathesar: the compose file changed: applying it recreates the services Compose finds changed".into()
    } else if services.is_empty() {
        "mathesar: no container needs to be recreated".into()
    } else {
        let list: Vec<_> = services.into_iter().collect();
        format!("mathesar: applying it recreates: {}", list.join(", "))
    }
}

fn print_changes(answers: &[(Key, String)], plan: &Plan) {
    for (k, v) in answers {
        println!("  answer {:<22} {v}", k.name());
    }
    for f in &plan.files {
        let what = if f.secret { " (secret, not shown)" } else { "" };
        println!("  file   {}{what}", f.path.display());
    }
}

//! `mathesarctl configure`: gather the answers from every source, check them and the host, and
//! write the configuration directory atomically. A re-run with the same answers changes nothing.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::anyhow;

use crate::adoption;
use crate::cli::ConfigureArgs;
use crate::debconf;
use crate::exit::{Code, Failure, Outcome, WithCode};
use crate::preflight;
use crate::rendering::plan::{self, Plan};
use crate::settings::sizing::Sizing;
use crate::settings::{Answers, Key, Settings};
use crate::sources::{self, answers_file, current, environment, generated, prompt};
use crate::storage::{ConfigLayout, Layout, atomic, commit, dirs, lock, modes};
use crate::systemd::{paths, timers};

pub(crate) async fn run(args: ConfigureArgs) -> Outcome {
    run_adopting(args, adoption::Request::default(), false).await
}

/// [`run`], taking over the installation `request` names when the administrator said yes
/// (`mathesarctl adopt`: `explicit`, an error when there is nothing to take over).
pub(crate) async fn run_adopting(
    args: ConfigureArgs,
    request: adoption::Request,
    explicit: bool,
) -> Outcome {
    // `--debconf` (the package's postinst): the answers seen in debconf, the highest source.
    let mut debconf = args.debconf.then(open_debconf).transpose()?;
    let debconf_answers = match &mut debconf {
        Some(c) => debconf::answers(c).code(Code::Failure)?,
        None => Answers::new(),
    };
    let config_dir = config_dir(&args, &debconf_answers)?;
    let adopted = match super::adopt::take_over(
        &args,
        debconf.as_mut(),
        &config_dir,
        &debconf_answers,
        request,
        explicit,
    )
    .await?
    {
        super::adopt::Taken::Nothing => None,
        super::adopt::Taken::DryRun => return Ok(()),
        super::adopt::Taken::Done(a) => Some(a),
    };
    // A first run racing another one for a new directory starts over once that one is done,
    // under the lock.
    loop {
        let layout = ConfigLayout::new(&config_dir);
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
        let lockable = matches!(
            config_state,
            dirs::State::Created | dirs::State::Adopted | dirs::State::Legacy
        ) || layout.lock_file().exists();
        let mut held = if !lockable {
            None
        } else if args.dry_run {
            lock::acquire_shared(&layout.lock_file(), timeout).map_err(lock_failure)?
        } else {
            Some(take_lock(&layout, timeout)?)
        };
        let writer = held.is_some() && !args.dry_run;
        let mut found = read_current(&layout, writer)?;
        if let Some(a) = &adopted {
            // Carried over as the current configuration would be: below every answer given now.
            if found.env_text.is_none() {
                found.answers = a.answers.clone();
            }
            found.secret_key = found.secret_key.take().or_else(|| a.secret_key.clone());
        }
        if writer {
            atomic::clean_leftovers(&config_dir);
            commit::clean_staged(&config_dir);
        }
        let mut answers = gather(&args, &config_dir, &found, debconf_answers.clone())?;

        let admin_exists =
            found.admin_created(&answers) || adopted.as_ref().is_some_and(|a| a.admin_exists);
        let interactive = !args.non_interactive
            && std::io::stdin().is_terminal()
            && std::io::stderr().is_terminal();
        if interactive {
            answers = prompt::ask(answers, admin_exists).code(Code::InvalidAnswer)?;
        }
        let generated_admin = generated::fill(&mut answers, admin_exists).code(Code::Failure)?;

        let settings = Settings::from_answers(&answers).code(Code::InvalidAnswer)?;
        if let Some(a) = answers.get(Key::Watchtower) {
            println!(
                "mathesar: note: the answer `watchtower` ({}, from {}) is obsolete: watchtower is no longer run \
                 (archived upstream, it fails against Docker Engine 29 and replaced images behind the package's \
                 pins). New Mathesar versions come with package upgrades (unattended-upgrades, dnf-automatic); \
                 rebuilt images of the pinned versions with the answer `refresh-images`, now {}. Remove `watchtower` \
                 from your answers",
                a.value(),
                a.source,
                settings.refresh_images
            );
        }
        timers::check_schedule(&settings.backup.schedule).map_err(|reason| {
            Failure::new(
                Code::InvalidAnswer,
                anyhow!("the answer `backup-schedule` is refused: {reason}; nothing was written"),
            )
        })?;
        found
            .refuse_unsafe_change(&settings, &answers)
            .map_err(|reason| Failure::new(Code::InvalidAnswer, anyhow!(reason)))?;
        let state = generated::state(&found).code(Code::Failure)?;

        // Sized from this host at every configure: more memory or cores (a resized VM) take
        // effect at the next `configure` (or package upgrade); an unchanged host changes nothing.
        let sizing = Sizing::new(preflight::host::read(), &settings);
        // A failed upgrade's previous release, held back, stays the one rendered: only
        // `upgrade` tries the package's release again.
        crate::rendering::held::load(&settings.config_dir).code(Code::Io)?;
        let rendered = crate::rendering::render(&settings, &state, &sizing).code(Code::Failure)?;
        let layout = Layout::new(&settings.config_dir, &settings.data_dir);
        dirs::refuse_nested(&layout.config_dir, &layout.data_dir).map_err(|reason| {
            Failure::new(
                Code::InvalidAnswer,
                anyhow!(
                    "the answer `data-dir` ({}) is refused: {reason}; nothing was written",
                    layout.data_dir.display()
                ),
            )
        })?;
        // An unmarked data directory is an older installation's only when the package's own
        // configuration already names it.
        let named = config_state != dirs::State::Unmarked
            && found
                .answers
                .value(Key::DataDir)
                .is_some_and(|d| Path::new(d) == layout.data_dir);
        let data_state =
            dirs::inspect_named(&dirs::DATA, &layout.data_dir, named).map_err(dir_failure)?;
        // Generated now, or by an earlier run whose file is read back.
        let admin_pw_generated = generated_admin
            || answers.get(Key::AdminPassword).is_some_and(|a| {
                a.source == crate::settings::Source::Current(layout.admin_password_file())
            });
        let tls = crate::tls::files(&settings, &layout.data(), std::time::SystemTime::now())
            .code(Code::InvalidAnswer)?;
        let plan = Plan::new(
            &layout,
            &rendered,
            &settings,
            admin_exists,
            admin_pw_generated,
            &tls,
        );
        let changed_answers = plan::changed_answers(&found.answers, &settings);

        // Nothing to write, nothing to check: a re-run (every package upgrade with unchanged
        // answers, Ansible's second pass) neither touches a file nor waits for the host checks.
        if plan.files.is_empty()
            && !paths::needs_defaults_file(&settings)
            && !paths::needs_dropin(&settings)
        {
            if let (Some(c), false) = (&mut debconf, args.dry_run) {
                debconf::applied(c).code(Code::Failure)?;
            }
            if writer {
                backups(&args, &settings, &layout, false);
            }
            println!("mathesar: no changes");
            return Ok(());
        }

        println!("mathesar: sized for this host: {sizing}");
        for w in sizing.warnings() {
            eprintln!("mathesar: warning: {w}");
        }
        host_checks(&settings, !args.no_start && !args.dry_run).await?;

        if args.dry_run {
            println!("mathesar: dry run, nothing written. Would change:");
            print_changes(&changed_answers, &plan);
            return Ok(());
        }

        // Judged before writing: afterwards the old files are gone.
        let restarts = found
            .env_text
            .is_some()
            .then(|| plan::restart_summary(&found, &rendered, &layout));
        dirs::prepare(&dirs::CONFIG, &config_dir, config_state, modes::PRIVATE_DIR)
            .map_err(dir_failure)?;
        if held.is_none() {
            held = Some(take_lock(&layout.config(), timeout)?);
            // Another first run may have written between our read and our lock.
            if read_current(&layout.config(), true)?.env_text != found.env_text {
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
        plan::write(&layout, &plan).code(Code::Io)?;
        paths::write_defaults_file(&settings).code(Code::Io)?;
        paths::write_dropin(&settings).code(Code::Io)?;
        drop(held);
        if let Some(c) = &mut debconf {
            // The configuration holds them now: no password stays in the debconf database, and
            // nothing seen now overrides a later change made outside debconf.
            debconf::applied(c).code(Code::Failure)?;
        }
        report_written(&settings, &layout, &plan, &changed_answers);
        let password_written = plan
            .files
            .iter()
            .any(|f| f.path == layout.config().backup_password_file());
        backups(&args, &settings, &layout, password_written);
        if let Some(summary) = &restarts {
            println!("{summary}");
        }
        report_next(&args, &settings, &layout, &plan, generated_admin);
        return Ok(());
    }
}

/// `--config-dir`, else the directory the debconf question `config-dir` names (`--debconf`),
/// else the remembered or default one.
fn config_dir(args: &ConfigureArgs, debconf_answers: &Answers) -> Result<PathBuf, Failure> {
    let from_debconf = match args.dir.config_dir {
        None => debconf::chosen_config_dir(debconf_answers).map_err(|reason| {
            Failure::new(
                Code::InvalidAnswer,
                anyhow!("the answer `config-dir` (from debconf) is refused: {reason}"),
            )
        })?,
        Some(_) => None,
    };
    Ok(from_debconf.unwrap_or_else(|| super::config_dir(&args.dir)))
}

/// The host checks: problems shown, a failure refuses the configuration.
async fn host_checks(settings: &Settings, will_start: bool) -> Outcome {
    let report = preflight::run(settings, &preflight::Options { will_start }).await;
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
    Ok(())
}

/// What was written, and a configuration the unit does not use.
fn report_written(
    settings: &Settings,
    layout: &Layout,
    plan: &Plan,
    changed_answers: &[(Key, String)],
) {
    println!(
        "mathesar: configuration written to {}",
        layout.config_dir.display()
    );
    print_changes(changed_answers, plan);
    if let Some(current) = paths::in_use_elsewhere(&settings.config_dir) {
        println!(
            "mathesar: note: the service uses the configuration in {} (see {}), not this one; it was left as it is. \
         To switch: stop Mathesar, remove or move {}, then run configure with --config-dir {} again",
            current.display(),
            paths::defaults_file().display(),
            current.display(),
            settings.config_dir.display()
        );
    }
}

/// The backups' SSH key (made when absent) and timers (as the answer `backup` says); what the
/// administrator must know about the repository. A failure here is said, not fatal: the
/// configuration is written, and `mathesarctl backup` reports the same problem when it runs.
fn backups(args: &ConfigureArgs, settings: &Settings, layout: &Layout, password_written: bool) {
    let config = layout.config();
    match crate::day2::ssh_key::ensure(&config) {
        Ok(true) => println!(
            "mathesar: made the SSH key for an SFTP backup repository: {}",
            config.backup_ssh_key().display()
        ),
        Ok(false) => {}
        Err(e) => eprintln!("mathesar: warning: no SSH key for an SFTP backup repository: {e}"),
    }
    let b = &settings.backup;
    if let crate::settings::backup::Repository::Sftp { user, host, .. } = &b.repository {
        if let Some(line) = crate::day2::ssh_key::public_line(&config) {
            println!(
                "mathesar: backups go to {} over SFTP: authorise this key for {user} on {host} (~{user}/.ssh/authorized_keys):\n  {line}",
                b.repository
            );
        }
    } else if b.repository.is_local() {
        println!(
            "mathesar: note: backups go to {}, on this machine: a lost disk loses them with the data. An SFTP or REST server elsewhere is safer (answer `backup-repository`)",
            b.repository
        );
    }
    if password_written {
        println!(
            "mathesar: keep a copy of the backup repository's password ({}) elsewhere: without it no backup can be read",
            config.backup_password_file().display()
        );
    }
    match timers::apply(settings, !args.no_start) {
        Ok(a) => {
            match a.enabled {
                Some(true) => println!(
                    "mathesar: scheduled backups on: {} ({}), restore drill weekly",
                    timers::BACKUP_TIMER,
                    b.schedule
                ),
                Some(false) => println!(
                    "mathesar: scheduled backups and drills are OFF (answer `backup: false`); `mathesarctl backup` still works by hand"
                ),
                None => {}
            }
            match a.refresh {
                Some(true) => println!(
                    "mathesar: rebuilt images of the pinned versions are pulled daily ({}, answer `refresh-images`)",
                    timers::REFRESH_TIMER
                ),
                Some(false) => println!(
                    "mathesar: the daily pull of rebuilt images is off (answer `refresh-images: false`)"
                ),
                None => {}
            }
        }
        Err(e) => eprintln!(
            "mathesar: warning: the timers could not be set as the answers `backup` and `refresh-images` say: {e:#}"
        ),
    }
}

/// A generated admin password, and what to do next.
fn report_next(
    args: &ConfigureArgs,
    settings: &Settings,
    layout: &Layout,
    plan: &Plan,
    generated_admin: bool,
) {
    if generated_admin
        && plan
            .files
            .iter()
            .any(|f| f.path == layout.admin_password_file())
    {
        println!(
            "mathesar: the admin password was generated and saved in {} (root only); the file is removed 24 hours after it was written once the admin exists: log in and change the password",
            layout.admin_password_file().display()
        );
    }
    if args.debconf {
        // The package's postinst starts or reloads the service itself, right after this.
        println!("mathesar: log in at {}", settings.login_url());
    } else if args.no_start {
        println!("mathesar: not started (--no-start). Start it with `systemctl start mathesar`.");
    } else {
        println!(
            "mathesar: apply it with `systemctl reload-or-restart mathesar`; log in at {}",
            settings.login_url()
        );
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

fn take_lock(layout: &ConfigLayout, timeout: Duration) -> Result<lock::Lock, Failure> {
    lock::acquire(&layout.lock_file(), timeout, || {
        eprintln!(
            "Another mathesarctl run holds the configuration lock; waiting up to {}s ...",
            timeout.as_secs()
        );
    })
    .map_err(lock_failure)
}

/// A writer holding the lock completes an interrupted commit first; a reader only looks.
fn read_current(layout: &ConfigLayout, writer: bool) -> Result<current::CurrentConfig, Failure> {
    if writer {
        current::read_for_write(layout).map_err(|e| Failure::new(e.code(), e))
    } else {
        current::read(layout).map_err(|e| Failure::new(e.code(), e))
    }
}

/// Runs under the debconf frontend (re-executing under it if needed) and connects to it.
fn open_debconf() -> Result<debconf::Client, Failure> {
    debconf::reexec_under_frontend().code(Code::Failure)?;
    debconf::Client::from_env().code(Code::Failure)
}

/// Every source's answers, merged in the one order ([`sources::Layers::merge`]).
pub(super) fn gather(
    args: &ConfigureArgs,
    config_dir: &Path,
    found: &current::CurrentConfig,
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
        current: found.answers.clone(),
        answers_file,
        environment,
        debconf,
    }
    .merge(config_dir))
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

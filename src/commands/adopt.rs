//! `mathesarctl adopt [DIR]`, and the adoption step of `configure` (the package's postinst):
//! an installation the package did not make, found in the directory `adopt-from` names or in the
//! configuration directory, is reported; taken over only with a yes (`adopt`: debconf, the
//! environment, `--yes`), refused otherwise with nothing changed.

use std::path::{Path, PathBuf};

use anyhow::anyhow;

use crate::adoption::{self, Request, apply::Adopted, plan::Plan};
use crate::cli::{AdoptArgs, ConfigureArgs};
use crate::debconf::{self, DebconfError};
use crate::exit::{Code, Failure, Outcome};
use crate::settings::{Answers, Key};
use crate::sources::current::CurrentConfig;
use crate::storage::dirs;
use crate::systemd::unit;

/// What the adoption step did.
pub(crate) enum Taken {
    /// No installation to take over: configure goes on as usual.
    Nothing,
    /// Reported only (`--dry-run`).
    DryRun,
    Done(Adopted),
}

pub(crate) async fn run(args: AdoptArgs) -> Outcome {
    let request = Request {
        from: args.installation.clone(),
        consent: args.yes,
    };
    let configure = ConfigureArgs {
        dir: args.dir,
        answers: args.answers,
        non_interactive: true,
        dry_run: !args.yes,
        no_start: args.no_start,
        debconf: false,
        lock_timeout: 120,
    };
    super::configure::run_adopting(configure, request, true).await?;
    if args.yes && !args.no_start && crate::preflight::is_root() {
        unit::control(unit::Action::Start, "mathesar.service")
            .map_err(|e| Failure::new(Code::Service, e))?;
        println!("mathesar: mathesar.service started");
    }
    Ok(())
}

/// The adoption step of `configure`.
pub(crate) async fn take_over(
    args: &ConfigureArgs,
    debconf: Option<&mut debconf::Client>,
    config_dir: &Path,
    debconf_answers: &Answers,
    mut request: Request,
    explicit: bool,
) -> Result<Taken, Failure> {
    let from_debconf = debconf.is_some();
    if let Some(c) = debconf {
        read_debconf(c, &mut request).map_err(|e| Failure::new(Code::Failure, e))?;
    }
    if let Some(path) = &args.answers {
        request = request
            .with_answers_file(path)
            .map_err(|e| Failure::new(Code::InvalidAnswer, anyhow!(e)))?;
    }
    let request = request
        .with_environment()
        .map_err(|e| Failure::new(Code::InvalidAnswer, anyhow!(e)))?;
    let config_state = dirs::inspect(&dirs::CONFIG, config_dir);
    let configured = matches!(
        config_state,
        Ok(dirs::State::Created | dirs::State::Adopted | dirs::State::Legacy)
    );
    if configured {
        if explicit {
            return Err(Failure::new(
                Code::Adoption,
                anyhow!(
                    "{} already holds this package's configuration: an installation is taken over only by a first installation; nothing was changed",
                    config_dir.display()
                ),
            ));
        }
        return Ok(Taken::Nothing);
    }
    let dir: PathBuf = request.from.clone().unwrap_or_else(|| config_dir.into());
    let implicit = request.from.is_none() && !explicit;
    // Looked for in the configuration directory only when it holds what is not the package's
    // (`dirs` refuses it); any problem there is then `configure`'s to report, as before.
    if implicit && config_state.is_ok() {
        return Ok(Taken::Nothing);
    }
    let found = match adoption::find(&dir).await {
        Ok(f) => f,
        Err(_) if implicit => return Ok(Taken::Nothing),
        Err(e) => return Err(Failure::new(e.code(), e)),
    };
    let Some(found) = found else {
        if request.from.is_some() || explicit {
            return Err(Failure::new(
                Code::Adoption,
                anyhow!(
                    "no Mathesar installation in {}: no .env beside a docker-compose.yml with a mathesar_service container; nothing was changed",
                    dir.display()
                ),
            ));
        }
        return Ok(Taken::Nothing);
    };
    let answers = super::configure::gather(
        args,
        config_dir,
        &CurrentConfig::default(),
        debconf_answers.clone(),
    )?;
    let data_dir = PathBuf::from(
        answers
            .value(Key::DataDir)
            .unwrap_or(crate::settings::DEFAULT_DATA_DIR),
    );
    let stamp = crate::time::compact(std::time::SystemTime::now());
    let plan = Plan::new(found, &data_dir, stamp, config_dir);
    println!("mathesar: {plan}");
    if let Some(reason) = plan.blocker() {
        return Err(Failure::new(
            Code::Adoption,
            anyhow!(
                "the installation in {} cannot be taken over into this configuration directory: {reason}; nothing was changed",
                dir.display()
            ),
        ));
    }
    if !request.consent {
        if args.dry_run {
            println!("mathesar: dry run, nothing was changed");
            return Ok(Taken::DryRun);
        }
        return Err(refusal(&dir, from_debconf));
    }
    if args.dry_run {
        println!("mathesar: dry run, nothing was changed");
        return Ok(Taken::DryRun);
    }
    if !crate::preflight::is_root() {
        return Err(Failure::new(
            Code::Preflight,
            anyhow!("taking an installation over must run as root: use sudo"),
        ));
    }
    // First: nothing is written when the engine, which does most of it, does not answer.
    let engine = crate::stack::engine::Engine::connect().await.map_err(|e| {
        Failure::new(
            Code::Docker,
            anyhow::Error::new(e).context("nothing was changed"),
        )
    })?;
    let adopted = adoption::apply::apply(&engine, &plan).await.map_err(|e| {
        let code = e.code();
        Failure::new(
            code,
            anyhow::Error::new(e).context(format!(
                "taking over {} stopped half-way (the old installation's files, mounts and volumes are untouched). To go back: `docker compose up -d` in {}; before trying again, remove the partial copy in {}",
                dir.display(),
                dir.display(),
                plan.data_dir.display()
            )),
        )
    })?;
    println!(
        "mathesar: the installation in {} was taken over; its copies and report are in {}",
        dir.display(),
        plan.copies_dir().display()
    );
    Ok(Taken::Done(adopted))
}

/// The refusal: what was found was printed above; how to say yes, and that nothing changed.
fn refusal(dir: &Path, from_debconf: bool) -> Failure {
    let how = if from_debconf {
        format!(
            "answer yes to the question mathesar/adopt (`dpkg-reconfigure mathesar`, or preseed `mathesar mathesar/adopt boolean true`{}), or set {}=true",
            if dir == Path::new(crate::settings::DEFAULT_CONFIG_DIR) {
                String::new()
            } else {
                format!(
                    " and `mathesar mathesar/adopt-from string {}`",
                    dir.display()
                )
            },
            adoption::ENV_ADOPT
        )
    } else {
        format!("run `mathesarctl adopt {} --yes`", dir.display())
    };
    Failure::new(
        Code::Adoption,
        anyhow!(
            "an existing Mathesar installation was found in {} (see above) and taking it over was not agreed: nothing was changed, it still runs as it did. To take it over, {how}; to install beside it instead, choose another configuration directory (`config-dir`)",
            dir.display()
        ),
    )
}

/// `mathesar/adopt` (yes) and `mathesar/adopt-from` (a directory), when debconf knows them.
fn read_debconf(c: &mut debconf::Client, r: &mut Request) -> Result<(), DebconfError> {
    let get = |c: &mut debconf::Client, q: &str| match c.get(q) {
        Ok(v) => Ok(Some(v)),
        Err(DebconfError::Command { code: 10, .. }) => Ok(None),
        Err(e) => Err(e),
    };
    if let Some(v) = get(c, adoption::QUESTION_ADOPT)? {
        r.consent = r.consent || v == "true";
    }
    if let Some(v) = get(c, adoption::QUESTION_ADOPT_FROM)?
        && !v.is_empty()
        && r.from.is_none()
    {
        r.from = Some(PathBuf::from(v));
    }
    Ok(())
}

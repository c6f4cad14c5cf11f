//! `mathesarctl maintainer SCRIPT ARGS...` (hidden): the work of the package's maintainer
//! scripts, which only call it with their own arguments. `deb`: the postinst, prerm and postrm;
//! `rpm`: %post and %posttrans; `restart`: what a failed pull, start or upgrade says, per exit
//! code; `kept`: the copy of mathesarctl a removal keeps for the purge. What they do to the
//! system goes through [`Host`], so that every decision is tested with a fake one (`tests`).
//!
//! `DPKG_ROOT` (dpkg's root of an installation into another tree, which the integration tests
//! set to a scratch tree): the files are the tree's, and nothing is configured, started or
//! stopped.

mod deb;
mod kept;
mod restart;
mod rpm;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::cli::{MaintainerArgs, Script};
use crate::debconf::Client;
use crate::exit::Outcome;
use crate::process::{Foreground, Ran, Stdout};
use crate::systemd::{debian, unit};

/// Where an upgrade's backups go.
const BACKUPS: &str = "/var/backups/mathesar";
/// How long one of mathesarctl's own steps may take before it is killed: a backup of large
/// databases, an adoption's copy of the data, an upgrade with its put-back.
const STEP_TIMEOUT: Duration = Duration::from_secs(12 * 3600);
/// A start, restart or reload through deb-systemd-invoke (the unit's TimeoutStartSec is 15 min).
const INVOKE_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// dpkg-query, dpkg --compare-versions, rpm -q.
const QUERY_TIMEOUT: Duration = Duration::from_secs(120);

pub(crate) fn run(args: MaintainerArgs) -> Outcome {
    let mut host = System::new();
    let a = args.script.args();
    match args.script {
        Script::DebPostinst(_) => deb::postinst(&mut host, a),
        Script::DebPrerm(_) => deb::prerm(&mut host, a),
        Script::DebPostrm(_) => deb::postrm(&mut host, a),
        Script::RpmPost(_) => rpm::post(&mut host, a),
        Script::RpmPosttrans(_) => rpm::posttrans(&mut host),
    }
}

/// How one of mathesarctl's own commands is run for a script.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Io {
    /// It talks to the debconf frontend (`configure --debconf`): stdin, stdout and the
    /// frontend's environment passed on; the confmodule's descriptor 3 is inherited anyway.
    Debconf,
    /// Its stdout shown (rpm's scriptlets).
    Shown,
    /// Its stdout onto stderr (`>&2`).
    ToStderr,
    /// Its stdout collected: the path `backup --to` prints.
    Captured,
}

/// What the scripts do to the system.
pub(crate) trait Host {
    /// `/`, or `DPKG_ROOT`.
    fn root(&self) -> &Path;
    /// An installation into another tree (`DPKG_ROOT`): its files only.
    fn elsewhere(&self) -> bool {
        self.root() != Path::new("/")
    }
    /// An environment variable, unset when empty.
    fn var(&self, name: &str) -> Option<String>;
    /// Some `MATHESAR_*` variable is set (answers for configure).
    fn any_mathesar_var(&self) -> bool;
    /// `mathesarctl ARGS` (this program), `env` added to its environment.
    fn ctl(&mut self, args: &[&str], io: Io, env: &[(&str, PathBuf)]) -> Ran;
    /// systemd runs here.
    fn systemd_running(&self) -> bool;
    /// `systemctl ARGS`, quietly: whether it succeeded.
    fn systemctl(&mut self, args: &[&str]) -> bool;
    fn is_enabled(&mut self, unit: &str) -> bool;
    /// `debian::may_restart`: enabled, and policy-rc.d allows it.
    fn may_restart(&mut self, unit: &str) -> bool;
    /// `deb-systemd-invoke ACTION UNITS` (its output collected when `quiet`): whether it succeeded.
    fn invoke(&mut self, action: &str, units: &[&str], quiet: bool) -> bool;
    /// The installed package's version, as dpkg names it.
    fn dpkg_version(&mut self) -> Result<String, String>;
    /// `dpkg --compare-versions A gt B`.
    fn dpkg_newer(&mut self, a: &str, b: &str) -> bool;
    /// `rpm -q --qf FORMAT mathesar`: its output, empty when it failed.
    fn rpm_query(&mut self, format: &str) -> String;
    /// A boolean debconf question is true (false without a frontend).
    fn debconf_true(&mut self, question: &str) -> bool;
    /// Ends the conversation with the debconf frontend, when there is one.
    fn debconf_stop(&mut self);
    /// A line on stdout.
    fn say(&mut self, line: &str);
    /// A line on stderr.
    fn warn(&mut self, line: &str);
}

/// The real system.
struct System {
    root: PathBuf,
}

impl System {
    fn new() -> System {
        let root = std::env::var_os("DPKG_ROOT")
            .filter(|r| !r.is_empty())
            .map_or_else(|| PathBuf::from("/"), PathBuf::from);
        System { root }
    }

    fn frontend() -> bool {
        std::env::var_os("DEBIAN_HAS_FRONTEND").is_some()
    }
}

impl Host for System {
    fn root(&self) -> &Path {
        &self.root
    }

    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.is_empty())
    }

    fn any_mathesar_var(&self) -> bool {
        std::env::vars_os().any(|(k, _)| k.to_string_lossy().starts_with("MATHESAR_"))
    }

    fn ctl(&mut self, args: &[&str], io: Io, env: &[(&str, PathBuf)]) -> Ran {
        // This program (the kept copy too, which is on no PATH); without /proc, the path the
        // script ran it by.
        let exe = std::env::current_exe()
            .ok()
            .or_else(|| {
                std::env::args_os()
                    .next()
                    .map(PathBuf::from)
                    .filter(|p| p.components().count() > 1)
            })
            .unwrap_or_else(|| PathBuf::from("mathesarctl"));
        let mut step = Foreground::new(&exe, args);
        step = match io {
            Io::Debconf => step.stdin(),
            Io::Shown => step,
            Io::ToStderr => step.stdout(Stdout::Stderr),
            Io::Captured => step.stdout(Stdout::Capture),
        };
        if io != Io::Debconf {
            // Its stdout is not the debconf protocol's: `backup --to` prints the path there.
            step = step.env_remove("DEBIAN_HAS_FRONTEND");
        }
        for (k, v) in env {
            step = step.env(k, v);
        }
        step.run(STEP_TIMEOUT).unwrap_or_else(|e| {
            eprintln!("mathesar: {e}");
            Ran {
                code: 1,
                stdout: String::new(),
            }
        })
    }

    fn systemd_running(&self) -> bool {
        debian::running()
    }

    fn systemctl(&mut self, args: &[&str]) -> bool {
        unit::quietly(args, unit::QUICK).is_ok()
    }

    fn is_enabled(&mut self, unit: &str) -> bool {
        unit::is_enabled(unit)
    }

    fn may_restart(&mut self, unit: &str) -> bool {
        debian::may_restart(unit)
    }

    fn invoke(&mut self, action: &str, units: &[&str], quiet: bool) -> bool {
        match debian::invoke(action, units, quiet, INVOKE_TIMEOUT) {
            Ok(()) => true,
            Err(debian::InvokeError::Run(e)) if !quiet => {
                eprintln!("mathesar: {e}");
                false
            }
            Err(_) => false,
        }
    }

    fn dpkg_version(&mut self) -> Result<String, String> {
        let o = crate::process::output_blocking(
            "dpkg-query",
            &["-W", "-f=${Version}", "mathesar"],
            b"",
            QUERY_TIMEOUT,
        )
        .map_err(|e| e.to_string())?;
        let v = String::from_utf8_lossy(&o.stdout).trim().to_string();
        if o.status.success() && !v.is_empty() {
            Ok(v)
        } else {
            Err(format!(
                "dpkg-query does not know the package mathesar: {}",
                String::from_utf8_lossy(&o.stderr).trim()
            ))
        }
    }

    fn dpkg_newer(&mut self, a: &str, b: &str) -> bool {
        crate::process::output_blocking(
            "dpkg",
            &["--compare-versions", a, "gt", b],
            b"",
            QUERY_TIMEOUT,
        )
        .is_ok_and(|o| o.status.success())
    }

    fn rpm_query(&mut self, format: &str) -> String {
        match crate::process::output_blocking(
            "rpm",
            &["-q", "--qf", format, "mathesar"],
            b"",
            QUERY_TIMEOUT,
        ) {
            Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).into_owned(),
            _ => String::new(),
        }
    }

    fn debconf_true(&mut self, question: &str) -> bool {
        Self::frontend()
            && Client::from_env()
                .and_then(|mut c| c.get(question))
                .is_ok_and(|v| v == "true")
    }

    fn debconf_stop(&mut self) {
        if Self::frontend()
            && let Err(e) = Client::from_env().and_then(Client::stop)
        {
            eprintln!("mathesar: {e}");
        }
    }

    fn say(&mut self, line: &str) {
        println!("{line}");
    }

    fn warn(&mut self, line: &str) {
        eprintln!("{line}");
    }
}

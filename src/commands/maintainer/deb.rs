//! The .deb's maintainer scripts: `postinst` (under debconf's confmodule, which the shell sources
//! before it execs this; the unit is enabled by debhelper's lines just before), `prerm` and
//! `postrm` (run from the copy the prerm kept, once the shell has checked it).

use std::path::PathBuf;

use crate::exit::{Code, Failure, Outcome};
use crate::settings::{DEFAULT_CONFIG_DIR, Key};
use crate::storage::layout::DEFAULT_FILE;
use crate::systemd::debian::{self, TIMER_SERVICES, TIMERS, under};
use crate::systemd::{UNIT, dropin};

use super::restart::{self, Action};
use super::{BACKUPS, Host, Io, kept};

fn first(args: &[String]) -> Option<&str> {
    args.first().map(String::as_str)
}

/// Whether `postinst configure OLD` backs up first: another version than the one configured
/// before (an upgrade, a downgrade, or a reinstallation of another version after a remove), and
/// not `dpkg-reconfigure`.
pub(crate) fn backs_up(old: Option<&str>, this: &str, reconfigure: bool) -> bool {
    old.is_some_and(|o| o != this) && !reconfigure
}

/// `postinst configure [OLD]`; nothing for the other arguments (`abort-upgrade`, ...).
pub(crate) fn postinst(h: &mut dyn Host, args: &[String]) -> Outcome {
    if first(args) != Some("configure") {
        return Ok(());
    }
    if h.elsewhere() {
        kept::discard(h.root());
        return Ok(());
    }
    let old = args.get(1).map(String::as_str).filter(|v| !v.is_empty());
    let reconfigure = h.var("DEBCONF_RECONFIGURE").is_some();
    let this = h
        .dpkg_version()
        .map_err(|e| Failure::new(Code::Failure, anyhow::anyhow!(e)))?;
    let mut backup_dir = None;
    if let Some(old) = old.filter(|o| backs_up(Some(o), &this, reconfigure)) {
        backup_dir = backup(h, old, &this)?;
    }
    // A copy of mathesarctl the prerm kept at a removal for a purge that did not come.
    kept::discard(h.root());
    // debconf's answers merged into the existing configuration (a secret is never regenerated),
    // written, the passwords cleared from debconf. Nothing is started yet.
    let configured = h.ctl(
        &["configure", "--debconf", "--non-interactive", "--no-start"],
        Io::Debconf,
        &[],
    );
    if !configured.success() {
        return Err(Failure::passed_on(configured.code));
    }
    h.debconf_stop();
    if !h.systemd_running() {
        // A chroot, an image build: nothing starts.
        return Ok(());
    }
    start(
        h,
        Action::of(old, reconfigure),
        backup_dir.as_deref(),
        &this,
    )
}

/// The backup before an upgrade or a downgrade, recorded as of version `old`, before anything is
/// re-rendered; its path (none when nothing is configured). A failed backup stops the postinst,
/// nothing changed: the stack stays as it was until `dpkg --configure -a` succeeds.
fn backup(h: &mut dyn Host, old: &str, this: &str) -> Result<Option<String>, Failure> {
    let reason = if h.dpkg_newer(old, this) {
        "downgrade"
    } else {
        "upgrade"
    };
    let ran = h.ctl(
        &[
            "backup",
            "--to",
            BACKUPS,
            "--reason",
            reason,
            "--of-version",
            old,
            "--if-configured",
        ],
        Io::Captured,
        &[],
    );
    if !ran.success() {
        h.warn(
            "mathesar: the backup before the upgrade failed (see above); the configuration was not changed.",
        );
        h.warn("mathesar: fix the cause, then run: dpkg --configure -a");
        return Err(Failure::passed_on(ran.code));
    }
    let dir = ran.stdout.trim_end_matches('\n');
    if dir.is_empty() {
        return Ok(None);
    }
    h.warn(&format!("mathesar: backup before the {reason}: {dir}"));
    Ok(Some(dir.to_string()))
}

/// After configure: the images pulled here, so that the administrator watching apt sees their
/// progress (a failure is explained and leaves the package installed and configured, not
/// started: apt does not fail), then the unit started, reloaded, or restarted on the new
/// release by `mathesarctl upgrade`, which puts the previous release back when the new one fails
/// its first start (then the postinst fails: exit 16). deb-systemd-invoke's decision (an enabled
/// unit, policy-rc.d) is honoured for that restart too. Then the timers `configure` enabled.
fn start(h: &mut dyn Host, action: Action, backup_dir: Option<&str>, this: &str) -> Outcome {
    // A package operation is not a crash loop: its start must not hit the unit's start limit.
    h.systemctl(&["--system", "daemon-reload"]);
    h.systemctl(&["reset-failed", UNIT]);
    let mut put_back = false;
    if !h
        .ctl(&["images", "pull", "--if-configured"], Io::ToStderr, &[])
        .success()
    {
        for l in restart::deb_pull_failed(action) {
            h.warn(&l);
        }
    } else if action == Action::Restart {
        let mut rc = 0;
        if h.may_restart(UNIT) {
            let args: &[&str] = match backup_dir {
                Some(d) => &[
                    "upgrade",
                    "--restart",
                    "--backup-dir",
                    d,
                    "--package-version",
                    this,
                ],
                // A reinstallation: a retry when a failed upgrade holds the previous release
                // back (a backup first), otherwise a plain restart.
                None => &[
                    "upgrade",
                    "--restart",
                    "--reinstall",
                    "--to",
                    BACKUPS,
                    "--package-version",
                    this,
                ],
            };
            rc = h.ctl(args, Io::ToStderr, &[]).code;
        }
        let (lines, back) = restart::deb_upgraded(rc, backup_dir);
        for l in lines {
            h.warn(&l);
        }
        put_back = back;
    } else if !h.invoke(action.verb(), &[UNIT], false) {
        h.warn(&restart::deb_invoke_failed(action));
    }
    // deb-systemd-invoke starts only the timers `configure` enabled.
    h.invoke("start", &TIMERS, true);
    if put_back {
        return Err(Failure::said(Code::UpgradeRolledBack));
    }
    Ok(())
}

/// `prerm remove`: a copy of mathesarctl kept for a later purge; the timers and a backup or
/// drill in progress stopped (a killed backup leaves the repository as it was), the timers'
/// links removed. debhelper's lines stop the service after this. Nothing on upgrades.
pub(crate) fn prerm(h: &mut dyn Host, args: &[String]) -> Outcome {
    if first(args) != Some("remove") {
        return Ok(());
    }
    if kept::keep(h.root()).is_err() {
        let dir = under(h.root(), kept::DIR);
        h.warn(&format!(
            "mathesar: could not keep mathesarctl in {} for a later purge; a purge will then keep the configuration and the data (remove them with `mathesarctl purge` before, if wanted)",
            dir.display()
        ));
    }
    if !h.elsewhere() && h.systemd_running() {
        let units: Vec<&str> = TIMERS.iter().chain(&TIMER_SERVICES).copied().collect();
        h.invoke("stop", &units, true);
    }
    if let Err(e) = debian::remove_timer_links(h.root()) {
        h.warn(&format!("mathesar: the timers' links: {e}"));
    }
    Ok(())
}

/// `postrm purge`: `mathesarctl purge` (what it removes is decided there alone), with debconf's
/// `purge-data`; the timers' links and schedule. The shell then purges debconf's answers and
/// deletes the kept copy.
pub(crate) fn postrm(h: &mut dyn Host, args: &[String]) -> Outcome {
    if first(args) != Some("purge") {
        return Ok(());
    }
    let root = h.root().to_path_buf();
    let mut argv = vec!["purge".to_string()];
    if h.debconf_true(&Key::PurgeData.debconf_question()) {
        argv.push("--purge-data".into());
    }
    if h.elsewhere() {
        // Another tree's containers and systemd are not this machine's.
        argv.push("--files-only".into());
    }
    // Without /etc/default/mathesar, the default directory (named for DPKG_ROOT's tree).
    let defaults = under(&root, DEFAULT_FILE);
    if !defaults.exists() {
        argv.push("--config-dir".into());
        argv.push(under(&root, DEFAULT_CONFIG_DIR).display().to_string());
    }
    let env: [(&str, PathBuf); 2] = [
        ("MATHESAR_DEFAULTS_FILE", defaults),
        ("MATHESAR_UNIT_DROPIN", under(&root, dropin::DEFAULT_FILE)),
    ];
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    if !h.ctl(&argv, Io::Shown, &env).success() {
        h.warn(
            "mathesar: the purge was not complete (see above); once fixed, remove what is left by hand",
        );
    }
    let timers = debian::remove_timer_links(&root).and_then(|()| debian::remove_schedule(&root));
    if let Err(e) = timers {
        h.warn(&format!("mathesar: the timers' links and schedule: {e}"));
    }
    Ok(())
}

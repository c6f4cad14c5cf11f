//! The scripts' decisions, on a fake system: what is run for which arguments, in which order,
//! and what is said. Files live under a scratch root.

use std::collections::{HashMap, HashSet};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::exit::Code;
use crate::process::Ran;

use super::{Host, Io, deb, rpm};

struct Fake {
    root: tempfile::TempDir,
    /// `DPKG_ROOT` set.
    dpkg_root: bool,
    vars: HashMap<&'static str, &'static str>,
    mathesar_var: bool,
    /// Exit code and stdout of `mathesarctl WORD ...`, by its first word (0, nothing otherwise).
    ctl: HashMap<&'static str, (i32, &'static str)>,
    running: bool,
    enabled: HashSet<&'static str>,
    may_restart: bool,
    invoke_ok: bool,
    version: &'static str,
    newer: bool,
    rpm: HashMap<&'static str, &'static str>,
    purge_data: bool,
    /// Everything run, one line each, in order.
    calls: Vec<String>,
    /// The environment added to each `mathesarctl` run.
    env: Vec<Vec<(String, PathBuf)>>,
    out: Vec<String>,
    err: Vec<String>,
}

impl Fake {
    fn new() -> Fake {
        Fake {
            root: tempfile::tempdir().unwrap(),
            dpkg_root: false,
            vars: HashMap::new(),
            mathesar_var: false,
            ctl: HashMap::new(),
            running: true,
            enabled: HashSet::from(["mathesar.service"]),
            may_restart: true,
            invoke_ok: true,
            version: "0.11.0-1",
            newer: false,
            rpm: HashMap::new(),
            purge_data: false,
            calls: vec![],
            env: vec![],
            out: vec![],
            err: vec![],
        }
    }
    fn path(&self, rel: &str) -> PathBuf {
        self.root.path().join(rel)
    }
    fn file(&self, rel: &str, text: &str) -> PathBuf {
        let p = self.path(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
        p
    }
    fn ran(&self, prefix: &str) -> bool {
        self.calls.iter().any(|c| c.starts_with(prefix))
    }
    fn said(&self, text: &str) -> bool {
        self.out.iter().chain(&self.err).any(|l| l.contains(text))
    }
}

fn args(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

impl Host for Fake {
    fn root(&self) -> &Path {
        self.root.path()
    }
    fn elsewhere(&self) -> bool {
        self.dpkg_root
    }
    fn var(&self, name: &str) -> Option<String> {
        self.vars.get(name).map(|v| v.to_string())
    }
    fn any_mathesar_var(&self) -> bool {
        self.mathesar_var
    }
    fn ctl(&mut self, args: &[&str], io: Io, env: &[(&str, PathBuf)]) -> Ran {
        self.calls.push(format!("ctl {} ({io:?})", args.join(" ")));
        self.env.push(
            env.iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        );
        let (code, stdout) = self.ctl.get(args[0]).copied().unwrap_or((0, ""));
        Ran {
            code,
            stdout: stdout.into(),
        }
    }
    fn systemd_running(&self) -> bool {
        self.running
    }
    fn systemctl(&mut self, args: &[&str]) -> bool {
        self.calls.push(format!("systemctl {}", args.join(" ")));
        true
    }
    fn is_enabled(&mut self, unit: &str) -> bool {
        self.enabled.contains(unit)
    }
    fn may_restart(&mut self, _unit: &str) -> bool {
        self.may_restart
    }
    fn invoke(&mut self, action: &str, units: &[&str], quiet: bool) -> bool {
        let q = if quiet { " (quiet)" } else { "" };
        self.calls
            .push(format!("invoke {action} {}{q}", units.join(" ")));
        self.invoke_ok
    }
    fn dpkg_version(&mut self) -> Result<String, String> {
        Ok(self.version.into())
    }
    fn dpkg_newer(&mut self, _a: &str, _b: &str) -> bool {
        self.newer
    }
    fn rpm_query(&mut self, format: &str) -> String {
        self.rpm.get(format).copied().unwrap_or_default().into()
    }
    fn debconf_true(&mut self, _question: &str) -> bool {
        self.purge_data
    }
    fn debconf_stop(&mut self) {
        self.calls.push("debconf STOP".into());
    }
    fn say(&mut self, line: &str) {
        self.out.push(line.into());
    }
    fn warn(&mut self, line: &str) {
        self.err.push(line.into());
    }
}

const CONFIGURE: &str = "ctl configure --debconf --non-interactive --no-start (Debconf)";
const PULL: &str = "ctl images pull --if-configured (ToStderr)";
const TIMERS: &str = "invoke start mathesar-backup.timer mathesar-backup-verify.timer mathesar-refresh.timer (quiet)";

#[test]
fn a_first_installation_configures_then_starts() {
    for a in [&["configure"][..], &["configure", ""]] {
        let mut h = Fake::new();
        deb::postinst(&mut h, &args(a)).unwrap();
        assert_eq!(
            h.calls,
            [
                CONFIGURE,
                "debconf STOP",
                "systemctl --system daemon-reload",
                "systemctl reset-failed mathesar.service",
                PULL,
                "invoke start mathesar.service",
                TIMERS
            ],
            "{a:?}"
        );
        assert!(h.err.is_empty(), "{:?}", h.err);
    }
}

#[test]
fn an_upgrade_backs_up_first_and_upgrades_on_that_backup() {
    let mut h = Fake::new();
    h.ctl.insert("backup", (0, "/var/backups/mathesar/m-1\n"));
    deb::postinst(&mut h, &args(&["configure", "0.10.1-1"])).unwrap();
    assert_eq!(
        h.calls[0],
        "ctl backup --to /var/backups/mathesar --reason upgrade --of-version 0.10.1-1 --if-configured (Captured)"
    );
    assert_eq!(h.calls[1], CONFIGURE);
    assert!(h.ran(
        "ctl upgrade --restart --backup-dir /var/backups/mathesar/m-1 --package-version 0.11.0-1 (ToStderr)"
    ));
    assert_eq!(
        h.err,
        ["mathesar: backup before the upgrade: /var/backups/mathesar/m-1"]
    );
    assert!(!h.ran("invoke start mathesar.service"));
    assert_eq!(h.calls.last().unwrap(), TIMERS);

    // A downgrade is recorded as one.
    let mut h = Fake::new();
    h.newer = true;
    h.ctl.insert("backup", (0, "/b/m-2\n"));
    deb::postinst(&mut h, &args(&["configure", "0.12.0-1"])).unwrap();
    assert!(
        h.ran("ctl backup --to /var/backups/mathesar --reason downgrade --of-version 0.12.0-1")
    );
    assert!(h.said("mathesar: backup before the downgrade: /b/m-2"));
}

/// A reinstallation of the same version: no backup of the postinst's; `upgrade --reinstall`
/// retries a held-back upgrade (its own backup first) or restarts. Nothing configured yet: the
/// backup prints no path, the same.
#[test]
fn a_reinstallation_restarts_through_upgrade() {
    for (old, backup_ran) in [("0.11.0-1", false), ("0.10.1-1", true)] {
        let mut h = Fake::new();
        deb::postinst(&mut h, &args(&["configure", old])).unwrap();
        assert_eq!(h.ran("ctl backup"), backup_ran, "{old}");
        assert!(h.ran(
            "ctl upgrade --restart --reinstall --to /var/backups/mathesar --package-version 0.11.0-1"
        ));
        assert!(h.err.is_empty(), "{:?}", h.err);
    }
}

#[test]
fn dpkg_reconfigure_reloads_without_a_backup() {
    let mut h = Fake::new();
    h.vars.insert("DEBCONF_RECONFIGURE", "1");
    deb::postinst(&mut h, &args(&["configure", "0.10.1-1"])).unwrap();
    assert!(!h.ran("ctl backup") && !h.ran("ctl upgrade"));
    assert!(h.ran("invoke try-reload-or-restart mathesar.service"));
    h.invoke_ok = false;
    h.calls.clear();
    deb::postinst(&mut h, &args(&["configure", "0.10.1-1"])).unwrap();
    assert!(h.said(
        "mathesar: the service did not try-reload-or-restart; see: systemctl status mathesar, mathesarctl status"
    ));
}

/// A put-back fails the postinst with 16 (said, not reported again); the timers start all the same.
#[test]
fn a_put_back_fails_the_postinst() {
    let mut h = Fake::new();
    h.ctl.insert("backup", (0, "/b/m-1\n"));
    h.ctl.insert("upgrade", (16, ""));
    let e = deb::postinst(&mut h, &args(&["configure", "0.10.1-1"])).unwrap_err();
    assert_eq!(e.code, Code::UpgradeRolledBack);
    assert!(e.was_said());
    assert!(h.said("mathesar: the upgrade failed and was put back"));
    assert_eq!(h.calls.last().unwrap(), TIMERS);

    // Another failure: said, with the backup to go back to; the postinst succeeds.
    h.ctl.insert("upgrade", (9, ""));
    h.err.clear();
    deb::postinst(&mut h, &args(&["configure", "0.10.1-1"])).unwrap();
    assert!(h.said("mathesar: the service did not restart;"));
    assert!(h.said("(mathesarctl restore --no-start /b/m-1)"));
}

#[test]
fn a_failed_backup_or_configure_stops_the_postinst_with_its_code() {
    let mut h = Fake::new();
    h.ctl.insert("backup", (14, ""));
    let e = deb::postinst(&mut h, &args(&["configure", "0.10.1-1"])).unwrap_err();
    assert_eq!(e.code, Code::Backup);
    assert_eq!(h.calls.len(), 1, "nothing after the backup: {:?}", h.calls);
    assert_eq!(
        h.err,
        [
            "mathesar: the backup before the upgrade failed (see above); the configuration was not changed.",
            "mathesar: fix the cause, then run: dpkg --configure -a"
        ]
    );

    let mut h = Fake::new();
    h.ctl.insert("configure", (4, ""));
    let e = deb::postinst(&mut h, &args(&["configure"])).unwrap_err();
    assert_eq!(e.code, Code::InvalidAnswer);
    assert_eq!(h.calls, [CONFIGURE]);
}

/// A failed pull: installed and configured, not started, apt succeeds. A disabled unit or
/// policy-rc.d's refusal: no upgrade run, nothing said.
#[test]
fn no_start_without_images_or_against_the_policy() {
    let mut h = Fake::new();
    h.ctl.insert("images", (10, ""));
    deb::postinst(&mut h, &args(&["configure", "0.10.1-1"])).unwrap();
    assert!(!h.ran("ctl upgrade"));
    assert!(h.said("mathesar: once fixed: mathesarctl images pull && systemctl restart mathesar"));

    let mut h = Fake::new();
    h.may_restart = false;
    deb::postinst(&mut h, &args(&["configure", "0.10.1-1"])).unwrap();
    assert!(!h.ran("ctl upgrade"));
    assert!(h.err.is_empty(), "{:?}", h.err);
}

/// Without systemd (a chroot, an image build) configure only; under DPKG_ROOT not even that:
/// only a kept copy of mathesarctl is deleted. Other arguments: nothing.
#[test]
fn nothing_starts_without_systemd_and_nothing_runs_elsewhere() {
    let mut h = Fake::new();
    h.running = false;
    deb::postinst(&mut h, &args(&["configure"])).unwrap();
    assert_eq!(h.calls, [CONFIGURE, "debconf STOP"]);

    let mut h = Fake::new();
    h.dpkg_root = true;
    let copy = h.file("var/lib/mathesarctl/mathesarctl", "");
    deb::postinst(&mut h, &args(&["configure", "0.10.1-1"])).unwrap();
    assert!(h.calls.is_empty(), "{:?}", h.calls);
    assert!(!copy.parent().unwrap().exists());

    for a in ["abort-upgrade", "abort-remove", "triggered"] {
        let mut h = Fake::new();
        deb::postinst(&mut h, &args(&[a, "0.10.1-1"])).unwrap();
        assert!(h.calls.is_empty(), "{a}: {:?}", h.calls);
    }
}

#[test]
fn prerm_remove_keeps_a_copy_and_takes_the_timers_away() {
    let mut h = Fake::new();
    h.file("usr/bin/mathesarctl", "binary");
    std::fs::create_dir_all(h.path("var/lib")).unwrap();
    let link = h.path("etc/systemd/system/timers.target.wants/mathesar-backup.timer");
    std::fs::create_dir_all(link.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink("/usr/lib/systemd/system/mathesar-backup.timer", &link).unwrap();
    deb::prerm(&mut h, &args(&["remove"])).unwrap();
    assert_eq!(
        std::fs::read_to_string(h.path("var/lib/mathesarctl/mathesarctl")).unwrap(),
        "binary"
    );
    assert!(link.symlink_metadata().is_err());
    assert_eq!(
        h.calls,
        [
            "invoke stop mathesar-backup.timer mathesar-backup-verify.timer mathesar-refresh.timer mathesar-backup.service mathesar-backup-verify.service mathesar-refresh.service (quiet)"
        ]
    );

    // Under DPKG_ROOT nothing is stopped; upgrades do nothing here.
    let mut h = Fake::new();
    h.file("usr/bin/mathesarctl", "binary");
    h.dpkg_root = true;
    deb::prerm(&mut h, &args(&["remove"])).unwrap();
    assert!(h.calls.is_empty());
    for a in ["upgrade", "deconfigure", "failed-upgrade"] {
        let mut h = Fake::new();
        deb::prerm(&mut h, &args(&[a, "0.12.0-1"])).unwrap();
        assert!(h.calls.is_empty() && h.err.is_empty(), "{a}");
    }

    // No copy could be kept (a directory others can enter): said, the removal goes on.
    let mut h = Fake::new();
    h.file("usr/bin/mathesarctl", "binary");
    let dir = h.path("var/lib/mathesarctl");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    deb::prerm(&mut h, &args(&["remove"])).unwrap();
    assert_eq!(
        h.err,
        [format!(
            "mathesar: could not keep mathesarctl in {} for a later purge; a purge will then keep the configuration and the data (remove them with `mathesarctl purge` before, if wanted)",
            dir.display()
        )]
    );
}

#[test]
fn postrm_purge_runs_purge_with_debconf_s_purge_data() {
    let mut h = Fake::new();
    h.purge_data = true;
    let schedule = h.file(
        "etc/systemd/system/mathesar-backup.timer.d/schedule.conf",
        "[Timer]\n",
    );
    deb::postrm(&mut h, &args(&["purge"])).unwrap();
    let root = h.root.path().display().to_string();
    assert_eq!(
        h.calls,
        [format!(
            "ctl purge --purge-data --config-dir {root}/etc/mathesar (Shown)"
        )]
    );
    assert_eq!(
        h.env[0],
        [
            (
                "MATHESAR_DEFAULTS_FILE".to_string(),
                h.path("etc/default/mathesar")
            ),
            (
                "MATHESAR_UNIT_DROPIN".to_string(),
                h.path("etc/systemd/system/mathesar.service.d/paths.conf")
            )
        ]
    );
    assert!(!schedule.parent().unwrap().exists());

    // Under DPKG_ROOT: the files only, never this machine's containers.
    let mut h = Fake::new();
    h.dpkg_root = true;
    h.file("etc/default/mathesar", "");
    deb::postrm(&mut h, &args(&["purge"])).unwrap();
    assert_eq!(h.calls, ["ctl purge --files-only (Shown)"]);

    // /etc/default/mathesar names the directory; a failed purge is said.
    let mut h = Fake::new();
    h.file("etc/default/mathesar", "MATHESAR_CONFIG_DIR=/srv/m\n");
    h.ctl.insert("purge", (4, ""));
    deb::postrm(&mut h, &args(&["purge"])).unwrap();
    assert_eq!(h.calls, ["ctl purge (Shown)"]);
    assert_eq!(
        h.err,
        [
            "mathesar: the purge was not complete (see above); once fixed, remove what is left by hand"
        ]
    );
    for a in ["remove", "upgrade", "abort-install"] {
        let mut h = Fake::new();
        deb::postrm(&mut h, &args(&[a])).unwrap();
        assert!(h.calls.is_empty(), "{a}");
    }
}

#[test]
fn rpm_post_says_how_to_configure_or_configures_from_what_is_there() {
    let mut h = Fake::new();
    h.enabled.insert("mathesar-backup.timer");
    rpm::post(&mut h, &args(&["1"])).unwrap();
    assert_eq!(
        h.out,
        [
            "mathesar: %post: first installation",
            "mathesar: not configured yet. Run: mathesarctl configure && systemctl enable --now mathesar"
        ]
    );
    assert_eq!(
        h.calls,
        [
            "systemctl --no-reload preset mathesar.service",
            "systemctl start mathesar-backup.timer"
        ]
    );

    let mut h = Fake::new();
    let answers = h.file("etc/mathesar/answers.yml", "http-port: 80\n");
    rpm::post(&mut h, &args(&["1"])).unwrap();
    let a = answers.display();
    assert!(h.ran(&format!(
        "ctl configure --non-interactive --no-start --answers {a} (Shown)"
    )));
    assert!(h.said(&format!(
        "mathesar: configured from {a}; start it with: systemctl enable --now mathesar"
    )));
    h.ctl.insert("configure", (4, ""));
    rpm::post(&mut h, &args(&["1"])).unwrap();
    assert!(h.said(&format!(
        "mathesar: not configured; fix {a}, then run: mathesarctl configure --answers {a}"
    )));

    let mut h = Fake::new();
    h.mathesar_var = true;
    rpm::post(&mut h, &args(&["1"])).unwrap();
    assert!(h.ran("ctl configure --non-interactive --no-start (Shown)"));
    assert!(h.said("mathesar: configured from MATHESAR_* variables;"));
}

/// %post on an upgrade backs up as of the replaced version (the older installation), leaves the
/// backup for %posttrans, then re-renders the configuration.
#[test]
fn rpm_post_backs_up_as_of_the_replaced_version() {
    let mut h = Fake::new();
    h.file("etc/mathesar/.env", "A=\"1\"\n");
    h.rpm.insert(
        "%{INSTALLTIME} %{VERSION}\\n",
        "1700000200 0.2.0\n1700000100 0.1.0\n",
    );
    h.ctl
        .insert("backup", (0, "/var/backups/mathesar/mathesar-1\n"));
    h.file("run/mathesar-rpm-upgrade", "stale\n");
    rpm::post(&mut h, &args(&["2"])).unwrap();
    assert_eq!(
        h.calls,
        [
            "ctl backup --to /var/backups/mathesar --reason upgrade --if-configured --of-version 0.1.0 (Captured)",
            "ctl configure --non-interactive --no-start (Shown)"
        ]
    );
    let pending = h.path("run/mathesar-rpm-upgrade");
    assert_eq!(
        std::fs::read_to_string(&pending).unwrap(),
        "/var/backups/mathesar/mathesar-1\n"
    );
    assert_eq!(
        std::fs::metadata(&pending).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(
        h.out,
        [
            "mathesar: %post: upgrade",
            "mathesar: backup before the upgrade: /var/backups/mathesar/mathesar-1"
        ]
    );

    // A failed backup: said; the configuration is left as it is, nothing for %posttrans.
    h.ctl.insert("backup", (14, ""));
    h.calls.clear();
    rpm::post(&mut h, &args(&["2"])).unwrap();
    assert_eq!(h.calls.len(), 1, "{:?}", h.calls);
    assert!(h.said("mathesar: fix the cause, then run: mathesarctl upgrade"));
    assert!(!pending.exists());
}

#[test]
fn rpm_post_elsewhere_or_wrongly_called() {
    let mut h = Fake::new();
    h.dpkg_root = true;
    h.file("etc/mathesar/.env", "");
    let pending = h.file("run/mathesar-rpm-upgrade", "stale\n");
    rpm::post(&mut h, &args(&["2"])).unwrap();
    assert!(h.calls.is_empty(), "{:?}", h.calls);
    assert!(!pending.exists());
    assert_eq!(h.out, ["mathesar: %post: upgrade"]);
    for a in [&[][..], &["x"]] {
        assert_eq!(
            rpm::post(&mut Fake::new(), &args(a)).unwrap_err().code,
            Code::Usage
        );
    }
}

#[test]
fn rpm_posttrans_upgrades_on_the_backup_of_post() {
    let run = |record: bool, enabled: bool, pull: i32, upgrade: i32| {
        let mut h = Fake::new();
        if record {
            h.file(
                "run/mathesar-rpm-upgrade",
                "/var/backups/mathesar/mathesar-1\n",
            );
        }
        if !enabled {
            h.enabled.clear();
        }
        h.rpm.insert("%{VERSION}-%{RELEASE}\\n", "0.11.0-2\n");
        h.ctl.insert("images", (pull, ""));
        h.ctl.insert("upgrade", (upgrade, ""));
        rpm::posttrans(&mut h).unwrap();
        assert!(!h.path("run/mathesar-rpm-upgrade").exists());
        h
    };
    let h = run(true, true, 0, 0);
    assert_eq!(
        h.calls,
        [
            "systemctl daemon-reload",
            "systemctl reset-failed mathesar.service",
            PULL,
            "ctl upgrade --restart --backup-dir /var/backups/mathesar/mathesar-1 --package-version 0.11.0-2 (ToStderr)"
        ]
    );
    assert!(h.err.is_empty());
    assert!(run(true, true, 0, 16).said("the upgrade failed and was put back"));
    let h = run(true, true, 10, 0);
    assert!(h.said("the running Mathesar was left as it is"));
    assert!(!h.ran("ctl upgrade"));
    assert!(run(true, true, 0, 9).said("restore --no-start /var/backups/mathesar/mathesar-1"));
    let h = run(true, false, 0, 0);
    assert!(!h.ran("ctl"), "a disabled unit: {:?}", h.calls);
    assert!(
        run(false, true, 0, 0).calls.is_empty(),
        "no upgrade recorded"
    );
}

#[test]
fn the_replaced_version_is_the_oldest_installation() {
    assert_eq!(
        rpm::replaced_version("1700000200 0.2.0\n1700000100 0.1.0\n").as_deref(),
        Some("0.1.0")
    );
    assert_eq!(
        rpm::replaced_version("1700000100 0.1.0\n").as_deref(),
        Some("0.1.0")
    );
    assert_eq!(rpm::replaced_version(""), None);
    assert_eq!(
        rpm::replaced_version("package mathesar is not installed\n"),
        None
    );
}

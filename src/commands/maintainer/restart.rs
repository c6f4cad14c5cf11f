//! What the scripts say after the images' pull, the start and `mathesarctl upgrade --restart`,
//! per exit code (`exit::Code`): the failure itself was explained above by the command; these
//! lines say where that leaves Mathesar and what to run next. The end-to-end scenarios look for
//! them word for word.

use crate::exit::Code;

/// The unit's action after `postinst configure`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Action {
    /// A first installation.
    Start,
    /// `dpkg-reconfigure`: the changed configuration applied, only the containers whose settings
    /// changed recreated.
    Reload,
    /// An upgrade or a reinstallation: `mathesarctl upgrade --restart` on the new binary and images.
    Restart,
}

impl Action {
    /// `old`: the version configured before (none on a first installation); `reconfigure`:
    /// `dpkg-reconfigure` (`DEBCONF_RECONFIGURE`).
    pub(crate) fn of(old: Option<&str>, reconfigure: bool) -> Action {
        match (old, reconfigure) {
            (None, _) => Action::Start,
            (Some(_), true) => Action::Reload,
            (Some(_), false) => Action::Restart,
        }
    }

    /// As systemctl and deb-systemd-invoke name it.
    pub(crate) fn verb(self) -> &'static str {
        match self {
            Action::Start => "start",
            Action::Reload => "try-reload-or-restart",
            Action::Restart => "restart",
        }
    }
}

fn is(rc: i32, code: Code) -> bool {
    Code::from_number(rc) == Some(code)
}

/// The first line after a put-back, in both packages.
const PUT_BACK: &str = "mathesar: the upgrade failed and was put back; the previous Mathesar serves (see above, and: mathesarctl status).";
/// The restart failed otherwise, in both packages.
const NOT_RESTARTED: &str =
    "mathesar: the service did not restart; see: systemctl status mathesar, mathesarctl status";

/// The images could not be pulled (postinst): installed and configured, not started.
pub(crate) fn deb_pull_failed(action: Action) -> Vec<String> {
    vec![
        "mathesar: installed and configured, but not started: the images could not be pulled (see above).".into(),
        format!(
            "mathesar: once fixed: mathesarctl images pull && systemctl {} mathesar",
            action.verb()
        ),
    ]
}

/// deb-systemd-invoke failed to start or reload the unit.
pub(crate) fn deb_invoke_failed(action: Action) -> String {
    format!(
        "mathesar: the service did not {}; see: systemctl status mathesar, mathesarctl status",
        action.verb()
    )
}

/// After the postinst's `mathesarctl upgrade` (0 when it was not run: a disabled unit, or
/// policy-rc.d's refusal): its lines, and whether it was put back, which fails the postinst.
pub(crate) fn deb_upgraded(rc: i32, backup_dir: Option<&str>) -> (Vec<String>, bool) {
    if is(rc, Code::UpgradeRolledBack) {
        // Put back, serving the previous release. The postinst fails all the same: apt (and an
        // administrator's automation) must see that the package's release does not run; dpkg
        // leaves the package half-configured, so that the next `apt install mathesar` or
        // `dpkg --configure -a` retries the upgrade (a new backup first).
        return (
            vec![
                PUT_BACK.into(),
                "mathesar: retry with: mathesarctl upgrade   (or: apt install mathesar, dpkg --configure -a)".into(),
            ],
            true,
        );
    }
    let mut lines = Vec::new();
    if rc != 0 {
        lines.push(NOT_RESTARTED.into());
        if let Some(d) = backup_dir {
            lines.push(backup_line(d));
        }
    }
    (lines, false)
}

/// After %posttrans's pull (`rc` its code when it failed) and `mathesarctl upgrade --restart`.
/// RPM cannot fail the transaction there: the lines say what to do.
pub(crate) fn rpm_upgraded(rc: i32, backup_dir: &str) -> Vec<String> {
    if rc == 0 {
        vec![]
    } else if is(rc, Code::Pull) {
        vec![
            "mathesar: upgraded and configured, but not restarted: the images could not be pulled (see above); the running Mathesar was left as it is.".into(),
            "mathesar: once fixed: mathesarctl images pull && mathesarctl upgrade".into(),
        ]
    } else if is(rc, Code::UpgradeRolledBack) {
        vec![
            PUT_BACK.into(),
            "mathesar: retry with: mathesarctl upgrade".into(),
        ]
    } else {
        vec![NOT_RESTARTED.into(), backup_line(backup_dir)]
    }
}

fn backup_line(dir: &str) -> String {
    format!(
        "mathesar: the backup taken just before this upgrade: {dir} (mathesarctl restore --no-start {dir})"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_action_follows_the_arguments() {
        assert_eq!(Action::of(None, false), Action::Start);
        assert_eq!(Action::of(None, true), Action::Start);
        assert_eq!(Action::of(Some("0.10.1-1"), true), Action::Reload);
        assert_eq!(Action::of(Some("0.10.1-1"), false), Action::Restart);
        assert_eq!(Action::Reload.verb(), "try-reload-or-restart");
        assert_eq!(
            deb_pull_failed(Action::Reload)[1],
            "mathesar: once fixed: mathesarctl images pull && systemctl try-reload-or-restart mathesar"
        );
        assert_eq!(
            deb_invoke_failed(Action::Start),
            "mathesar: the service did not start; see: systemctl status mathesar, mathesarctl status"
        );
    }

    #[test]
    fn the_postinst_says_per_exit_code() {
        assert_eq!(deb_upgraded(0, Some("/b")), (vec![], false));
        let (lines, put_back) = deb_upgraded(16, Some("/b"));
        assert!(put_back);
        assert!(lines[0].starts_with("mathesar: the upgrade failed and was put back"));
        assert!(lines[1].contains("(or: apt install mathesar, dpkg --configure -a)"));
        let (lines, put_back) = deb_upgraded(9, Some("/b/m-1"));
        assert!(!put_back);
        assert_eq!(
            lines,
            [
                "mathesar: the service did not restart; see: systemctl status mathesar, mathesarctl status",
                "mathesar: the backup taken just before this upgrade: /b/m-1 (mathesarctl restore --no-start /b/m-1)"
            ]
        );
        // A reinstallation: no backup of the postinst's to name.
        assert_eq!(deb_upgraded(9, None).0.len(), 1);
    }

    #[test]
    fn posttrans_says_per_exit_code() {
        assert!(rpm_upgraded(0, "/b").is_empty());
        assert!(rpm_upgraded(10, "/b")[0].ends_with("the running Mathesar was left as it is."));
        assert_eq!(
            rpm_upgraded(16, "/b")[1],
            "mathesar: retry with: mathesarctl upgrade"
        );
        for rc in [1, 5, 9, 137] {
            let lines = rpm_upgraded(rc, "/b/m-1");
            assert!(lines[0].contains("did not restart"), "{rc}");
            assert!(lines[1].contains("restore --no-start /b/m-1"), "{rc}");
        }
    }
}

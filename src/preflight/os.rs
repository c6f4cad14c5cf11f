//! The host itself: operating system, privileges, init system.

use std::collections::HashMap;
use std::path::Path;

use super::{Check, Options, Status};

/// Where systemd says it is the running init (sd_booted(3)).
const SYSTEMD_RUNTIME_DIR: &str = "/run/systemd/system";

/// The package family, for remedies that name the right package manager.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Family {
    Debian,
    Rpm,
    Other,
}

/// `/etc/os-release` (os-release(5)): shell-style `KEY=value` lines.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct OsRelease {
    fields: HashMap<String, String>,
}

impl OsRelease {
    /// `/etc/os-release`, else `/usr/lib/os-release`; `None` when neither is readable.
    pub(super) fn read() -> Option<OsRelease> {
        ["/etc/os-release", "/usr/lib/os-release"]
            .iter()
            .find_map(|p| std::fs::read_to_string(p).ok())
            .map(|t| OsRelease::parse(&t))
    }

    pub(super) fn parse(text: &str) -> OsRelease {
        let fields = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .filter_map(|l| l.split_once('='))
            .filter(|(k, _)| {
                !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            })
            .map(|(k, v)| (k.to_string(), unquote(v.trim())))
            .collect();
        OsRelease { fields }
    }

    pub(super) fn get(&self, key: &str) -> Option<&str> {
        self.fields
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// "Debian GNU/Linux 13 (trixie)": PRETTY_NAME, else NAME and VERSION.
    pub(super) fn description(&self) -> String {
        if let Some(p) = self.get("PRETTY_NAME") {
            return p.to_string();
        }
        let name = self.get("NAME").unwrap_or("Linux");
        match self.get("VERSION").or(self.get("VERSION_ID")) {
            Some(v) => format!("{name} {v}"),
            None => name.to_string(),
        }
    }

    pub(super) fn family(&self) -> Family {
        let ids: Vec<&str> = self
            .get("ID")
            .into_iter()
            .chain(
                self.get("ID_LIKE")
                    .into_iter()
                    .flat_map(str::split_whitespace),
            )
            .collect();
        if ids.iter().any(|i| matches!(*i, "debian" | "ubuntu")) {
            Family::Debian
        } else if ids
            .iter()
            .any(|i| matches!(*i, "fedora" | "rhel" | "centos"))
        {
            Family::Rpm
        } else {
            Family::Other
        }
    }
}

/// One os-release value: double quotes allow `\"`, `\\`, `` \` `` and `\$` escapes, single
/// quotes none.
fn unquote(v: &str) -> String {
    if let Some(inner) = v.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
        let mut out = String::with_capacity(inner.len());
        let mut chars = inner.chars();
        while let Some(c) = chars.next() {
            match (c, chars.clone().next()) {
                ('\\', Some(n @ ('"' | '\\' | '`' | '$'))) => {
                    out.push(n);
                    chars.next();
                }
                _ => out.push(c),
            }
        }
        out
    } else if let Some(inner) = v.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')) {
        inner.to_string()
    } else {
        v.to_string()
    }
}

pub(super) fn check_os(release: Option<&OsRelease>) -> Check {
    const NAME: &str = "os";
    if !cfg!(target_os = "linux") {
        return Check::not_ok(
            NAME,
            Status::Fail,
            format!("{} is not Linux", std::env::consts::OS),
            "install Mathesar on a Linux host with systemd",
        );
    }
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|k| format!(", kernel {}", k.trim()))
        .unwrap_or_default();
    match release {
        Some(r) => Check::pass(NAME, format!("{}{kernel}", r.description())),
        None => Check::not_ok(
            NAME,
            Status::Warn,
            format!(
                "Linux{kernel}, but neither /etc/os-release nor /usr/lib/os-release is readable"
            ),
            "restore /etc/os-release (part of the base system) so that the distribution is known",
        ),
    }
}

/// Set to `1` in the environment of a debug build (what `cargo test` runs), an ordinary user passes
/// the root checks: the command-line tests for which root is not the point run without it. A
/// release build (the packages) ignores it.
pub const PASS_ROOT_CHECK: &str = "MATHESAR_TEST_PASS_ROOT_CHECK";

/// Whether this process runs as root: the one root check of the commands and the preflight.
pub(crate) fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
        || (cfg!(debug_assertions) && std::env::var_os(PASS_ROOT_CHECK).is_some_and(|v| v == "1"))
}

pub(super) fn check_root(is_root: bool, opts: &Options) -> Check {
    const NAME: &str = "root";
    if is_root {
        Check::pass(NAME, "running as root")
    } else {
        Check::not_ok(
            NAME,
            opts.needed(),
            format!(
                "running as uid {}, not root: the configuration, the Docker socket and other processes' ports are root's",
                nix::unistd::geteuid()
            ),
            "run it with sudo (sudo mathesarctl ...)",
        )
    }
}

pub(super) fn systemd_is_init() -> bool {
    Path::new(SYSTEMD_RUNTIME_DIR).exists()
}

pub(super) fn check_systemd(booted: bool, opts: &Options) -> Check {
    const NAME: &str = "systemd";
    if booted {
        Check::pass(NAME, "systemd is the init system (PID 1)")
    } else {
        Check::not_ok(
            NAME,
            opts.needed(),
            format!(
                "systemd is not running as PID 1 ({SYSTEMD_RUNTIME_DIR} is missing): mathesar.service cannot run here"
            ),
            "install on a host booted with systemd; in a chroot, container or image build, configure with --no-start and start mathesar.service on the booted host",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEBIAN: &str = r#"PRETTY_NAME="Debian GNU/Linux 13 (trixie)"
NAME="Debian GNU/Linux"
VERSION_ID="13"
VERSION="13 (trixie)"
ID=debian
HOME_URL="https://www.debian.org/"
"#;

    #[test]
    fn os_release_values_are_unquoted() {
        let r = OsRelease::parse(DEBIAN);
        assert_eq!(r.get("ID"), Some("debian"));
        assert_eq!(r.get("VERSION_ID"), Some("13"));
        assert_eq!(r.description(), "Debian GNU/Linux 13 (trixie)");
        assert_eq!(r.family(), Family::Debian);
    }

    #[test]
    fn os_release_escapes_comments_and_junk() {
        let r = OsRelease::parse(
            "# comment\n\nNAME='Single \\ quoted'\nVERSION=\"a \\\"b\\\" \\$c \\n\"\nnot a line\n=x\nID_LIKE=\"rhel centos fedora\"\nID=rocky\n",
        );
        assert_eq!(r.get("NAME"), Some("Single \\ quoted"));
        assert_eq!(r.get("VERSION"), Some("a \"b\" $c \\n"));
        assert_eq!(r.description(), "Single \\ quoted a \"b\" $c \\n");
        assert_eq!(r.family(), Family::Rpm);
        assert_eq!(r.get("not a line"), None);
    }

    #[test]
    fn description_falls_back_to_name_and_version() {
        let r = OsRelease::parse("NAME=Fedora Linux\nVERSION_ID=40\nID=fedora\n");
        assert_eq!(r.description(), "Fedora Linux 40");
        assert_eq!(r.family(), Family::Rpm);
        let r = OsRelease::parse("ID=ubuntu\n");
        assert_eq!(r.description(), "Linux");
        assert_eq!(r.family(), Family::Debian);
        assert_eq!(OsRelease::parse("ID=arch").family(), Family::Other);
    }

    #[test]
    fn root_and_systemd_fail_only_when_starting() {
        let start = Options { will_start: true };
        let later = Options { will_start: false };
        assert_eq!(check_root(true, &start).status, Status::Pass);
        assert_eq!(check_root(false, &start).status, Status::Fail);
        assert_eq!(check_root(false, &later).status, Status::Warn);
        assert!(check_root(false, &later).remedy.unwrap().contains("sudo"));
        assert_eq!(check_systemd(true, &start).status, Status::Pass);
        let c = check_systemd(false, &start);
        assert_eq!(c.status, Status::Fail);
        assert!(c.detail.contains(SYSTEMD_RUNTIME_DIR));
        assert!(c.remedy.unwrap().contains("--no-start"));
        assert_eq!(check_systemd(false, &later).status, Status::Warn);
    }

    #[test]
    fn the_os_check_names_the_distribution() {
        let c = check_os(Some(&OsRelease::parse(DEBIAN)));
        assert_eq!(c.status, Status::Pass);
        assert!(c.detail.starts_with("Debian GNU/Linux 13 (trixie)"));
        assert_eq!(check_os(None).status, Status::Warn);
    }
}

//! The backup answers, typed: where the restic repository is (`backup-repository`), when the
//! timer runs (`backup-schedule`), what `forget --prune` keeps (`backup-retention`), and whether
//! scheduled backups run at all (`backup`). Pure: parsing and canonical forms only.

use std::fmt;
use std::path::PathBuf;

/// The default repository: a local directory, on the same disk as the data (said by `configure`).
pub(crate) const DEFAULT_REPOSITORY: &str = "/var/backups/mathesar/restic";
pub(crate) const DEFAULT_SCHEDULE: &str = "daily";
pub(crate) const DEFAULT_RETENTION: &str = "daily=7 weekly=4 monthly=6";

/// A restic repository the package knows how to reach.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Repository {
    /// A directory on this machine.
    Local(PathBuf),
    /// An SFTP server, reached with the package's SSH key (`backup-ssh-key`).
    Sftp {
        user: String,
        host: String,
        port: Option<u16>,
        path: String,
    },
    /// A restic REST server (`rest:http(s)://[user@]host[:port]/path`). The user name, when the
    /// server wants one, is part of the URL (restic's own form, shown like SFTP's `user@host`);
    /// its password is a secret answer of its own (`backup-rest-password`), never in the URL.
    Rest(RestUrl),
}

/// The parts of a REST repository's URL, checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RestUrl {
    pub https: bool,
    pub user: Option<String>,
    pub host: String,
    pub port: Option<u16>,
    /// Starts with `/`.
    pub path: String,
}

impl RestUrl {
    /// The URL, with the password in its user part when one is given: only for restic's
    /// environment, built at run time (restic 0.14, Debian 12's, reads REST credentials only
    /// from the URL; RESTIC_REST_USERNAME/PASSWORD came later).
    pub(crate) fn url(&self, password: Option<&str>) -> String {
        let scheme = if self.https { "https" } else { "http" };
        let userinfo = match (&self.user, password) {
            (Some(u), Some(pw)) => format!("{u}:{}@", crate::secrets::percent_encode(pw, false)),
            (Some(u), None) => format!("{u}@"),
            (None, _) => String::new(),
        };
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        let port = self.port.map(|p| format!(":{p}")).unwrap_or_default();
        format!("rest:{scheme}://{userinfo}{host}{port}{}", self.path)
    }
}

impl Repository {
    /// What restic is given as `RESTIC_REPOSITORY` (and what is stored as the answer).
    pub(crate) fn restic_url(&self) -> String {
        match self {
            Repository::Local(p) => p.display().to_string(),
            Repository::Sftp {
                user,
                host,
                port: None,
                path,
            } => format!("sftp:{user}@{host}:{path}"),
            Repository::Sftp {
                user,
                host,
                port: Some(port),
                path,
            } => format!("sftp://{user}@{host}:{port}/{path}"),
            Repository::Rest(url) => url.url(None),
        }
    }

    /// The REST server's user, when the repository is on one that wants credentials.
    pub(crate) fn rest_user(&self) -> Option<&str> {
        match self {
            Repository::Rest(RestUrl { user: Some(u), .. }) => Some(u),
            _ => None,
        }
    }

    /// Whether the repository is on this machine's disks: lost with the machine.
    pub(crate) fn is_local(&self) -> bool {
        matches!(self, Repository::Local(_))
    }
}

impl fmt::Display for Repository {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.restic_url())
    }
}

/// Characters that may appear in a user, host or path of an SFTP repository: they reach the
/// `ssh` command line restic runs (as separate arguments), so nothing a shell or ssh would read
/// as an option or a pattern.
fn plain(s: &str, extra: &str) -> bool {
    !s.is_empty()
        && !s.starts_with('-')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c) || extra.contains(c))
}

/// `backup-repository`: an absolute directory, `sftp:user@host:/path`,
/// `sftp://user@host[:port]//path` or `rest:http(s)://host[:port]/path`.
pub(crate) fn repository(value: &str) -> Result<Repository, String> {
    let v = value.trim();
    let sftp_help =
        "an SFTP repository is `sftp:USER@HOST:/PATH` (or `sftp://USER@HOST:PORT//PATH`)";
    if let Some(rest) = v.strip_prefix("sftp://") {
        let (authority, path) = rest
            .split_once('/')
            .ok_or_else(|| format!("no path: {sftp_help}"))?;
        let (user, hostport) = authority
            .split_once('@')
            .ok_or_else(|| format!("no user: {sftp_help}"))?;
        let (host, port) = match hostport.rsplit_once(':') {
            Some((h, p)) => (
                h,
                Some(super::validate::port(p).map_err(|e| format!("{e} ({sftp_help})"))?),
            ),
            None => (hostport, None),
        };
        return sftp(user, host, port, path, sftp_help);
    }
    if let Some(rest) = v.strip_prefix("sftp:") {
        let (user, hostpath) = rest
            .split_once('@')
            .ok_or_else(|| format!("no user: {sftp_help}"))?;
        let (host, path) = hostpath
            .split_once(':')
            .ok_or_else(|| format!("no path: {sftp_help}"))?;
        return sftp(user, host, None, path, sftp_help);
    }
    if let Some(url) = v.strip_prefix("rest:") {
        return rest(url).map(Repository::Rest);
    }
    let dir = super::validate::directory(v).map_err(|e| {
        format!("{e}: a local repository is an absolute directory; or use sftp:USER@HOST:/PATH or rest:https://HOST/PATH")
    })?;
    Ok(Repository::Local(dir))
}

/// `http(s)://[user@]host[:port]/path` of a `rest:` repository.
fn rest(url: &str) -> Result<RestUrl, String> {
    let help = "a REST repository is `rest:https://[USER@]HOST[:PORT]/PATH`";
    let (https, after_scheme) = if let Some(a) = url.strip_prefix("https://") {
        (true, a)
    } else if let Some(a) = url.strip_prefix("http://") {
        (false, a)
    } else {
        return Err(format!("the scheme must be http or https: {help}"));
    };
    let (authority, path) = match after_scheme.find('/') {
        Some(i) => after_scheme.split_at(i),
        None => (after_scheme, "/"),
    };
    // The last `@` ends the user part: a password may hold one.
    let (user, hostport) = match authority.rsplit_once('@') {
        Some((userinfo, _)) if userinfo.contains(':') => {
            // Never repeated in the message: it is a password.
            return Err("the URL holds a password, which would be stored and shown with it: give the REST server's password as the answer `backup-rest-password` (MATHESAR_BACKUP_REST_PASSWORD, kept in /etc/mathesar/backup-rest-password) and only the user in the URL (rest:https://USER@HOST/PATH)".into());
        }
        Some((u, h)) => {
            if !plain(u, "") {
                return Err(format!("`{u}` is not a plain user name: {help}"));
            }
            (Some(u.to_string()), h)
        }
        None => (None, authority),
    };
    let (host, port) = match hostport.rsplit_once(':') {
        // `[::1]` alone has colons too: a port follows only the closing bracket.
        Some((h, p)) if !hostport.ends_with(']') => (
            h,
            Some(super::validate::port(p).map_err(|e| format!("{e} ({help})"))?),
        ),
        _ => (hostport, None),
    };
    if host.is_empty() {
        return Err(format!("no host: {help}"));
    }
    let host = super::validate::address(host).map_err(|e| format!("the host {e} ({help})"))?;
    if path.contains("..")
        || !path
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-~".contains(c))
    {
        return Err(format!(
            "the path `{path}` must be letters, digits and / . _ - ~ (no `..`): {help}"
        ));
    }
    Ok(RestUrl {
        https,
        user,
        host,
        port,
        path: path.to_string(),
    })
}

fn sftp(
    user: &str,
    host: &str,
    port: Option<u16>,
    path: &str,
    help: &str,
) -> Result<Repository, String> {
    if !plain(user, "") {
        return Err(format!("`{user}` is not a plain user name: {help}"));
    }
    let host = super::validate::address(host).map_err(|e| format!("the host {e}"))?;
    if path.is_empty() || !plain(path.trim_start_matches('/'), "/") || path.contains("..") {
        return Err(format!(
            "the path `{path}` must be letters, digits and / . _ - (no `..`): {help}"
        ));
    }
    Ok(Repository::Sftp {
        user: user.to_string(),
        host,
        port,
        path: path.to_string(),
    })
}

/// `backup-schedule`: a systemd calendar expression (`daily`, `*-*-* 02:30`, `Mon..Fri 23:00`).
/// Checked here for what can be written into a unit file safely; systemd judges the rest when the
/// timer is loaded (`configure` asks `systemd-analyze calendar` first where it is installed).
pub(crate) fn schedule(value: &str) -> Result<String, String> {
    let v = value.split_whitespace().collect::<Vec<_>>().join(" ");
    if v.len() > 100
        || !v
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || " :*,./~-+".contains(c))
    {
        return Err("use a systemd calendar expression such as `daily`, `*-*-* 02:30` or `Mon..Fri 23:00` (see man systemd.time)".into());
    }
    Ok(v)
}

/// What `restic forget` keeps, by period.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Retention(pub Vec<(Period, u32)>);

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Period {
    Last,
    Hourly,
    Daily,
    Weekly,
    Monthly,
    Yearly,
}

impl Period {
    const ALL: [Period; 6] = [
        Period::Last,
        Period::Hourly,
        Period::Daily,
        Period::Weekly,
        Period::Monthly,
        Period::Yearly,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Period::Last => "last",
            Period::Hourly => "hourly",
            Period::Daily => "daily",
            Period::Weekly => "weekly",
            Period::Monthly => "monthly",
            Period::Yearly => "yearly",
        }
    }
}

impl Retention {
    /// restic's options: `--keep-daily 7 --keep-weekly 4 ...`.
    pub(crate) fn restic_args(&self) -> Vec<String> {
        self.0
            .iter()
            .flat_map(|(p, n)| [format!("--keep-{}", p.name()), n.to_string()])
            .collect()
    }
}

impl fmt::Display for Retention {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|(p, n)| format!("{}={n}", p.name()))
            .collect();
        f.write_str(&parts.join(" "))
    }
}

/// `backup-retention`: `daily=7 weekly=4 monthly=6` (also `last`, `hourly`, `yearly`; spaces or
/// commas between), in canonical order.
pub(crate) fn retention(value: &str) -> Result<Retention, String> {
    let help = "use PERIOD=N pairs such as `daily=7 weekly=4 monthly=6` (periods: last, hourly, daily, weekly, monthly, yearly)";
    let mut kept = Vec::new();
    for part in value.split([' ', ',']).filter(|p| !p.is_empty()) {
        let (name, n) = part.split_once('=').ok_or(help)?;
        let period = Period::ALL
            .into_iter()
            .find(|p| p.name() == name.to_ascii_lowercase())
            .ok_or(help)?;
        let n = super::validate::number(n, 1, 10_000).map_err(|e| format!("{name}: {e}"))?;
        if kept.iter().any(|(p, _)| *p == period) {
            return Err(format!("{name} is given twice"));
        }
        kept.push((period, n));
    }
    if kept.is_empty() {
        return Err(help.into());
    }
    kept.sort();
    Ok(Retention(kept))
}

/// The backup answers together.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct BackupSettings {
    /// Scheduled backups and drills: off only by an explicit answer.
    pub enabled: bool,
    pub repository: Repository,
    pub schedule: String,
    pub retention: Retention,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repositories_of_each_kind_are_read_and_written_back() {
        for (given, url) in [
            (DEFAULT_REPOSITORY, DEFAULT_REPOSITORY),
            (
                "sftp:backup@192.0.2.7:/srv/restic/m1",
                "sftp:backup@192.0.2.7:/srv/restic/m1",
            ),
            (
                "sftp:backup@store.example.org:repo",
                "sftp:backup@store.example.org:repo",
            ),
            (
                "sftp://backup@store.example.org:2222//srv/restic",
                "sftp://backup@store.example.org:2222//srv/restic",
            ),
            (
                "rest:https://store.example.org:8000/m1/",
                "rest:https://store.example.org:8000/m1/",
            ),
            (
                "rest:http://backup@192.0.2.7:8000/m1",
                "rest:http://backup@192.0.2.7:8000/m1",
            ),
            (
                "rest:https://store.example.org",
                "rest:https://store.example.org/",
            ),
            (
                "rest:https://[2001:db8::7]:8000/",
                "rest:https://[2001:db8::7]:8000/",
            ),
            (
                "rest:https://[2001:db8::7]/r",
                "rest:https://[2001:db8::7]/r",
            ),
        ] {
            let r = repository(given).unwrap_or_else(|e| panic!("{given}: {e}"));
            assert_eq!(r.restic_url(), url);
            assert_eq!(repository(&r.restic_url()).unwrap(), r, "{given}");
        }
        assert!(repository(DEFAULT_REPOSITORY).unwrap().is_local());
    }

    #[test]
    fn repositories_that_could_leak_or_inject_are_refused() {
        for bad in [
            "relative/dir",
            "rest:https://user:secret@store.example.org/",
            "rest:https://user:p@ss:secret@store.example.org/",
            "rest:https://:secret@store.example.org/",
            "rest:ftp://store.example.org/",
            "rest:store.example.org/",
            "rest:https:///path",
            "rest:https://store.example.org:99999/",
            "rest:https://store.example.org:x/",
            "rest:https://-o@store.example.org/",
            "rest:https://store.example.org/a/../b",
            "rest:https://store.example.org/a?b",
            "rest:https://store example.org/",
            "sftp:-oProxyCommand=x@host:/p",
            "sftp:user@-host:/p",
            "sftp:user@host:/p;rm",
            "sftp:user@host:/a/../b",
            "sftp:host:/p",
            "s3:s3.amazonaws.com/bucket",
        ] {
            let e = repository(bad).unwrap_err();
            assert!(!e.contains("secret"), "{e}");
        }
    }

    #[test]
    fn a_rest_password_is_refused_in_the_url_and_added_only_at_run_time() {
        let e = repository("rest:https://backup:secret@store.example.org/").unwrap_err();
        assert!(e.contains("backup-rest-password"), "{e}");
        let r = repository("rest:https://backup@store.example.org:8000/m1/").unwrap();
        assert_eq!(r.rest_user(), Some("backup"));
        let Repository::Rest(url) = &r else {
            panic!("{r:?}")
        };
        assert_eq!(
            url.url(Some("p@ss w:rd/%é")),
            "rest:https://backup:p%40ss%20w%3Ard%2F%25%C3%A9@store.example.org:8000/m1/"
        );
        assert!(!r.to_string().contains("p%40ss"));
        assert_eq!(
            repository("rest:http://store.example.org/")
                .unwrap()
                .rest_user(),
            None
        );
    }

    #[test]
    fn retention_is_canonical_and_becomes_restic_options() {
        let r = retention("monthly=6, daily=7 weekly=4").unwrap();
        assert_eq!(r.to_string(), DEFAULT_RETENTION);
        assert_eq!(
            r.restic_args(),
            [
                "--keep-daily",
                "7",
                "--keep-weekly",
                "4",
                "--keep-monthly",
                "6"
            ]
        );
        for bad in [
            "",
            "daily",
            "daily=0",
            "daily=7 daily=3",
            "fortnightly=2",
            "daily=x",
        ] {
            assert!(retention(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn schedules_are_calendar_expressions_only() {
        assert_eq!(schedule(" *-*-*   02:30 ").unwrap(), "*-*-* 02:30");
        assert_eq!(schedule("Mon..Fri 23:00").unwrap(), "Mon..Fri 23:00");
        for bad in ["daily\nExecStart=/bin/sh", "daily; x", "$(x)", "daily#"] {
            assert!(schedule(bad).is_err(), "{bad}");
        }
    }
}

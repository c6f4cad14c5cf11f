//! The one runner of `restic` (Debian's package, 0.14 or later): the repository of the answers,
//! its password by file (`RESTIC_PASSWORD_FILE`, never in argv or the environment's values), an
//! SFTP server reached with the package's key and known-hosts file, a REST server's password put
//! into the repository's URL in restic's environment only (never argv: `ps` shows argv to every
//! user, a process's environment only to its owner), and every failure classified
//! into what went wrong and what to do (wrong password, unreachable server, full repository,
//! a repository held by another run).

use std::path::Path;
use std::process::{Command, Output};

use serde::Deserialize;
use thiserror::Error;

use crate::exit::Code;
use crate::secrets::Secret;
use crate::settings::Settings;
use crate::settings::backup::Repository;
use crate::storage::ConfigLayout;

/// Where restic keeps its cache of the repository's index (root only).
pub(crate) const CACHE_DIR: &str = "/var/cache/mathesar/restic";
/// The tag of every snapshot the package makes.
pub(crate) const TAG: &str = "mathesar";

/// Why a restic command failed, with what to do about it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Cause {
    Missing,
    WrongPassword,
    NoRepository,
    Unreachable,
    /// A REST server refused the user and password (HTTP 401/403).
    Unauthorized,
    Full,
    /// A REST server failed to store (HTTP 5xx): restic is not told why, a full disk most often.
    ServerFailed,
    Locked,
    Other,
}

impl Cause {
    fn of(stderr: &str) -> Cause {
        let s = stderr.to_ascii_lowercase();
        let any = |needles: &[&str]| needles.iter().any(|n| s.contains(n));
        if any(&["wrong password", "no key found"]) {
            Cause::WrongPassword
        } else if any(&["no space left", "disk quota exceeded", "quota exceeded"]) {
            Cause::Full
        } else if any(&["401 unauthorized", "(401)", "403 forbidden", "(403)"]) {
            // Before "is there a repository": restic adds that line to a refused opening too.
            Cause::Unauthorized
        } else if any(&["repository is already locked"]) {
            Cause::Locked
        } else if let Some(c) = Self::unreachable(&s) {
            c
        } else if any(&[
            "500 internal server error",
            "(500)",
            "502 bad gateway",
            "503 service unavailable",
            "507 insufficient storage",
        ]) {
            Cause::ServerFailed
        } else if any(&["is there a repository at the following location"]) {
            Cause::NoRepository
        } else {
            Cause::Other
        }
    }

    /// A server that cannot be reached (checked before "is there a repository", which restic
    /// also says when it could not ask).
    fn unreachable(s: &str) -> Option<Cause> {
        [
            "connection refused",
            "no route to host",
            "could not resolve",
            "name or service not known",
            "connection timed out",
            "i/o timeout",
            "network is unreachable",
            "permission denied (publickey",
            "host key verification failed",
            "ssh command exited",
            "subsystem request failed",
            "unable to start the sftp session",
            "dial tcp",
            "connection reset",
            "broken pipe",
        ]
        .iter()
        .any(|n| s.contains(n))
        .then_some(Cause::Unreachable)
    }

    /// What the administrator can do.
    pub(crate) fn hint(self, repo: &Repository, layout: &ConfigLayout) -> String {
        match self {
            Cause::Missing => "restic is not installed: install it (apt install restic, dnf install restic)".into(),
            Cause::WrongPassword => format!(
                "the repository {repo} does not open with the password in {}: give the repository's password (the answer `backup-password`, e.g. MATHESAR_BACKUP_PASSWORD=... mathesarctl configure)",
                layout.backup_password_file().display()
            ),
            Cause::NoRepository => format!("there is no restic repository at {repo} yet: run `mathesarctl backup` once to create it"),
            Cause::Unreachable => match repo {
                Repository::Sftp { user, host, .. } => format!(
                    "the SFTP server {host} cannot be reached or refuses the key: check the network, and that {}.pub is in ~{user}/.ssh/authorized_keys on {host} (a changed host key: remove its line from {})",
                    layout.backup_ssh_key().display(),
                    layout.backup_known_hosts().display()
                ),
                Repository::Rest(url) => format!(
                    "the REST server {}{} cannot be reached: check the network and that the server runs (restic retried for a few minutes); earlier snapshots are intact, the next backup continues",
                    url.host,
                    url.port.map(|p| format!(":{p}")).unwrap_or_default()
                ),
                _ => format!("the repository {repo} cannot be reached: check the network and the server"),
            },
            Cause::Unauthorized => match repo.rest_user() {
                Some(user) => format!(
                    "the REST server of {repo} refuses the user {user} with the password in {}: give the server's password for {user} (the answer `backup-rest-password`, e.g. MATHESAR_BACKUP_REST_PASSWORD=... mathesarctl configure), or the right user in `backup-repository`",
                    layout.backup_rest_password_file().display()
                ),
                None => format!(
                    "the REST server of {repo} wants a user and password: put the user in `backup-repository` (rest:https://USER@HOST/PATH) and its password in the answer `backup-rest-password`"
                ),
            },
            Cause::ServerFailed => format!(
                "the server of {repo} could not store the data (an HTTP 5xx error; restic is not told why): most often its disk is full - free space there or keep fewer backups (the answer `backup-retention`), and see the server's log; earlier snapshots are intact"
            ),
            Cause::Full => format!("the repository {repo} is full: free space there, or keep fewer backups (the answer `backup-retention`); earlier snapshots are intact"),
            Cause::Locked => "another restic run holds the repository (a backup, a drill, or one that was killed more than 30 minutes ago: `mathesarctl backup` removes stale locks)".into(),
            Cause::Other => "see restic's message above".into(),
        }
    }
}

#[derive(Debug, Error)]
pub(crate) enum ResticError {
    #[error("{what}: {hint}")]
    Failed {
        what: String,
        cause: Cause,
        /// restic's last lines on stderr (no secret: restic never prints the password).
        detail: String,
        hint: String,
    },
    #[error("{what}: restic's output is not what was expected: {detail}")]
    Output { what: String, detail: String },
}

impl ResticError {
    pub(crate) fn code(&self) -> Code {
        Code::Backup
    }

    pub(crate) fn cause(&self) -> Cause {
        match self {
            ResticError::Failed { cause, .. } => *cause,
            ResticError::Output { .. } => Cause::Other,
        }
    }

    /// restic's own lines, for the log.
    pub(crate) fn detail(&self) -> &str {
        match self {
            ResticError::Failed { detail, .. } | ResticError::Output { detail, .. } => detail,
        }
    }
}

/// The repository of a configuration and how restic reaches it.
#[derive(Clone, Debug)]
pub(crate) struct Restic {
    pub repository: Repository,
    layout: ConfigLayout,
    /// The REST server's password (`backup-rest-password`); masked in `Debug`.
    rest_password: Option<Secret>,
}

/// What `restic backup --json` reports at its end.
#[derive(Clone, Debug, Default, Deserialize)]
pub(crate) struct Summary {
    pub snapshot_id: String,
    #[serde(default)]
    pub data_added: u64,
    #[serde(default)]
    pub total_bytes_processed: u64,
}

/// One snapshot, as `restic snapshots --json` lists it.
#[derive(Clone, Debug, Deserialize)]
pub(crate) struct Snapshot {
    pub id: String,
    pub short_id: String,
    pub time: String,
    #[serde(default)]
    pub hostname: String,
}

impl Restic {
    pub(crate) fn new(settings: &Settings) -> Restic {
        Restic {
            repository: settings.backup.repository.clone(),
            layout: ConfigLayout::new(&settings.config_dir),
            rest_password: settings.backup_rest_password.clone(),
        }
    }

    /// The `ssh` command restic runs for an SFTP repository: the package's key only, the server's
    /// key remembered at the first connection and checked afterwards, never a prompt. Paths and
    /// names only: nothing secret on this command line.
    pub(crate) fn sftp_command(&self) -> Option<String> {
        let Repository::Sftp {
            user, host, port, ..
        } = &self.repository
        else {
            return None;
        };
        let mut cmd = format!(
            "ssh -i {} -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=accept-new -o UserKnownHostsFile={} -o ConnectTimeout=20 -o ServerAliveInterval=15 -o ServerAliveCountMax=4",
            self.layout.backup_ssh_key().display(),
            self.layout.backup_known_hosts().display()
        );
        if let Some(p) = port {
            cmd.push_str(&format!(" -p {p}"));
        }
        cmd.push_str(&format!(" {user}@{host} -s sftp"));
        Some(cmd)
    }

    /// `restic ARGS` with the repository, the password file and the cache in its environment
    /// (and nothing else of ours: the caller's environment is not passed on).
    pub(crate) fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new("restic");
        c.env_clear()
            .env(
                "PATH",
                "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            )
            .env("HOME", "/root")
            .env("RESTIC_REPOSITORY", self.repository_with_credentials())
            .env("RESTIC_PASSWORD_FILE", self.layout.backup_password_file())
            .env("RESTIC_CACHE_DIR", CACHE_DIR);
        if let Some(ssh) = self.sftp_command() {
            c.arg("-o").arg(format!("sftp.command={ssh}"));
        }
        c.args(args);
        c
    }

    /// What restic is given as `RESTIC_REPOSITORY`: the answer's URL, with the REST server's
    /// password in it (restic 0.14 reads REST credentials from the URL only).
    fn repository_with_credentials(&self) -> String {
        match (&self.repository, &self.rest_password) {
            (Repository::Rest(url), Some(pw)) => url.url(Some(pw.expose())),
            _ => self.repository.restic_url(),
        }
    }

    fn failed(&self, what: &str, cause: Cause, stderr: &str) -> ResticError {
        // restic (Go's HTTP client and its own messages) writes a URL's password as `***`; in
        // case a message does not, it never reaches an error, the journal or `status`.
        let detail = match &self.rest_password {
            Some(pw) => crate::day2::redact::Redactor::new([pw.expose()]).redact(stderr),
            None => stderr.to_string(),
        };
        let detail = tail(&detail, 8);
        ResticError::Failed {
            what: format!("{what} failed"),
            cause,
            detail,
            hint: cause.hint(&self.repository, &self.layout),
        }
    }

    /// Runs restic to its end, its output collected.
    pub(crate) fn run(&self, what: &str, args: &[&str]) -> Result<Output, ResticError> {
        self.finish(what, self.command(args))
    }

    /// Runs `cmd` (a [`Restic::command`]) to its end, its retries bounded
    /// ([`super::retries`]); a failure classified.
    fn finish(&self, what: &str, cmd: Command) -> Result<Output, ResticError> {
        let done = super::retries::run(cmd, super::retries::bound_from_env()).map_err(|e| {
            let cause = if e.kind() == std::io::ErrorKind::NotFound {
                Cause::Missing
            } else {
                Cause::Other
            };
            self.failed(what, cause, &e.to_string())
        })?;
        let out = done.output;
        if let Some(failing) = done.gave_up_after {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let mut e = self.failed(what, Cause::of(&stderr), &stderr);
            if let ResticError::Failed { hint, .. } = &mut e {
                *hint = format!(
                    "restic was stopped after the repository's server had failed every request for \
                     {} s ({}=SECONDS in /etc/default/mathesar, {} by default, 0 to let restic \
                     retry as long as it will); what it uploaded is kept for the next backup. {hint}",
                    failing.as_secs(),
                    super::retries::SECONDS_VAR,
                    super::retries::DEFAULT_BOUND.as_secs()
                );
            }
            return Err(e);
        }
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            return Err(self.failed(what, Cause::of(&stderr), &stderr));
        }
        Ok(out)
    }

    /// Creates the repository when there is none; `true` when it was created now.
    pub(crate) fn ensure_repository(&self) -> Result<bool, ResticError> {
        if let Repository::Local(dir) = &self.repository {
            // Its parent (e.g. /var/backups/mathesar) root's and private, as the backups are.
            if let Some(parent) = dir.parent() {
                crate::storage::dirs::ensure_private(
                    "backup directory",
                    parent,
                    crate::storage::modes::PRIVATE_DIR,
                )
                .map_err(|e| {
                    self.failed(
                        "preparing the repository's directory",
                        Cause::Other,
                        &e.to_string(),
                    )
                })?;
            }
        }
        match self.run("opening the repository", &["cat", "config"]) {
            Ok(_) => Ok(false),
            Err(e) if e.cause() == Cause::NoRepository => {
                self.run("creating the repository (restic init)", &["init"])?;
                Ok(true)
            }
            Err(e) => Err(e),
        }
    }

    /// Removes the locks of restic runs that no longer exist (a killed backup).
    pub(crate) fn unlock_stale(&self) -> Result<(), ResticError> {
        self.run("removing stale locks (restic unlock)", &["unlock"])
            .map(drop)
    }

    /// Backs up the directory `name` of `parent` as one snapshot tagged [`TAG`]. Given relative
    /// to `parent` (restic's working directory), the snapshot holds `name` at its top, which a
    /// restore puts directly in its target.
    pub(crate) fn backup(&self, parent: &Path, name: &str) -> Result<Summary, ResticError> {
        let what = "storing the backup in the repository (restic backup)";
        let mut cmd = self.command(&["backup", "--json", "--tag", TAG, name]);
        cmd.current_dir(parent);
        let out = self.finish(what, cmd)?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        stdout
            .lines()
            .rev()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|v| v["message_type"] == "summary")
            .find_map(|v| serde_json::from_value::<Summary>(v).ok())
            .ok_or_else(|| ResticError::Output {
                what: what.into(),
                detail: "no summary line".into(),
            })
    }

    /// `forget --prune` with the retention of the answers, on the package's snapshots only.
    pub(crate) fn forget(&self, keep: &[String]) -> Result<(), ResticError> {
        // Grouped by host and path (restic's default): a new machine restoring the repository
        // keeps its own series beside the old one's.
        let mut args = vec!["forget", "--prune", "--tag", TAG];
        args.extend(keep.iter().map(String::as_str));
        self.run("removing old snapshots (restic forget --prune)", &args)
            .map(drop)
    }

    /// The package's snapshots, oldest first.
    pub(crate) fn snapshots(&self) -> Result<Vec<Snapshot>, ResticError> {
        let what = "listing the snapshots";
        let out = self.run(what, &["snapshots", "--json", "--tag", TAG])?;
        let mut list: Vec<Snapshot> =
            serde_json::from_slice(&out.stdout).map_err(|e| ResticError::Output {
                what: what.into(),
                detail: e.to_string(),
            })?;
        list.sort_by(|a, b| a.time.cmp(&b.time));
        Ok(list)
    }

    /// The snapshot `given` names (`latest`, or an id or its prefix), among the package's.
    pub(crate) fn find(&self, given: &str) -> Result<Snapshot, ResticError> {
        let list = self.snapshots()?;
        let found = if given == "latest" {
            list.last().cloned()
        } else {
            list.iter()
                .find(|s| s.id.starts_with(given) || s.short_id == given)
                .cloned()
        };
        found.ok_or_else(|| ResticError::Failed {
            what: format!("finding the snapshot `{given}`"),
            cause: Cause::Other,
            detail: String::new(),
            hint: format!(
                "the repository {} holds no such snapshot of Mathesar ({} in all; `restic snapshots` lists them)",
                self.repository,
                list.len()
            ),
        })
    }

    /// Restores `snapshot` into the new directory `target`.
    pub(crate) fn restore(&self, snapshot: &str, target: &Path) -> Result<(), ResticError> {
        let target_arg = target.display().to_string();
        self.run(
            "reading the snapshot from the repository (restic restore)",
            &["restore", snapshot, "--target", &target_arg],
        )
        .map(drop)
    }
}

/// The last `n` lines of a text.
fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_classified_from_restics_words() {
        for (stderr, cause) in [
            (
                "Fatal: wrong password or no key found",
                Cause::WrongPassword,
            ),
            (
                "Fatal: unable to open config file: Stat: stat /x/config: no such file or directory\nIs there a repository at the following location?\n/x",
                Cause::NoRepository,
            ),
            (
                "subprocess ssh: ssh: connect to host 192.0.2.1 port 22: Connection refused\nFatal: unable to open repository: ssh command exited: exit status 255",
                Cause::Unreachable,
            ),
            (
                "subprocess ssh: backup@host: Permission denied (publickey).",
                Cause::Unreachable,
            ),
            (
                "Save(<data/1234>) returned error: write /r/data/12/1234: no space left on device",
                Cause::Full,
            ),
            (
                "Fatal: unable to create lock in backend: repository is already locked by PID 7",
                Cause::Locked,
            ),
            (
                "Fatal: unable to open config file: unexpected HTTP response (401): 401 Unauthorized\nIs there a repository at the following location?\nrest:http://backup:***@127.0.0.1:8000/m1/",
                Cause::Unauthorized,
            ),
            (
                "Fatal: unable to open config file: client.Head: Head \"http://backup:***@127.0.0.1:8000/m1/config\": dial tcp 127.0.0.1:8000: connect: connection refused\nIs there a repository at the following location?\nrest:http://backup:***@127.0.0.1:8000/m1/",
                Cause::Unreachable,
            ),
            (
                "Fatal: unable to open config file: <config/> does not exist\nIs there a repository at the following location?\nrest:http://backup:***@127.0.0.1:8000/m1/",
                Cause::NoRepository,
            ),
            (
                "Save(<data/62d465bb00>) returned error, retrying after 552ms: server response unexpected: 500 Internal Server Error (500)\nFatal: unable to save snapshot: server response unexpected: 500 Internal Server Error (500)",
                Cause::ServerFailed,
            ),
            ("something else", Cause::Other),
        ] {
            assert_eq!(Cause::of(stderr), cause, "{stderr}");
        }
    }

    #[test]
    fn the_password_reaches_restic_as_a_file_and_sftp_uses_the_packages_key() {
        let mut s = crate::settings::for_tests(&[(
            crate::settings::Key::BackupRepository,
            "sftp://backup@store.example.org:2222//srv/restic",
        )]);
        s.backup_password = Some(crate::secrets::Secret::new("pw-not-on-a-command-line"));
        let r = Restic::new(&s);
        let c = r.command(&["snapshots"]);
        let args: Vec<String> = c
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let env: Vec<(String, String)> = c
            .get_envs()
            .filter_map(|(k, v)| Some((k.to_string_lossy().into(), v?.to_string_lossy().into())))
            .collect();
        let all = format!("{args:?} {env:?}");
        assert!(!all.contains("pw-not-on-a-command-line"), "{all}");
        assert!(env.contains(&(
            "RESTIC_PASSWORD_FILE".into(),
            "/etc/mathesar/backup-password".into()
        )));
        assert!(env.contains(&(
            "RESTIC_REPOSITORY".into(),
            "sftp://backup@store.example.org:2222//srv/restic".into()
        )));
        assert_eq!(args[0], "-o");
        assert!(
            args[1].starts_with("sftp.command=ssh -i /etc/mathesar/backup-ssh-key ")
                && args[1].contains("-p 2222 backup@store.example.org -s sftp")
                && args[1].contains("BatchMode=yes"),
            "{}",
            args[1]
        );
        assert_eq!(args[2], "snapshots");
        // A local repository: no ssh.
        let local = Restic::new(&crate::settings::for_tests(&[]));
        assert!(local.sftp_command().is_none());
    }

    #[test]
    fn a_rest_password_reaches_restic_in_its_environment_only_and_never_an_error() {
        use crate::settings::Key;
        let s = crate::settings::for_tests(&[
            (
                Key::BackupRepository,
                "rest:https://backup@store.example.org:8000/m1/",
            ),
            (Key::BackupRestPassword, "r3st p@ss"),
        ]);
        let r = Restic::new(&s);
        let c = r.command(&["snapshots"]);
        let args = format!("{:?}", c.get_args().collect::<Vec<_>>());
        assert!(!args.contains("r3st") && !args.contains("p%40ss"), "{args}");
        let repo = c
            .get_envs()
            .find(|(k, _)| *k == "RESTIC_REPOSITORY")
            .and_then(|(_, v)| v)
            .unwrap();
        assert_eq!(
            repo,
            "rest:https://backup:r3st%20p%40ss@store.example.org:8000/m1/"
        );
        assert_eq!(
            r.repository.to_string(),
            "rest:https://backup@store.example.org:8000/m1/"
        );
        let e = r.failed(
            "opening the repository",
            Cause::Unauthorized,
            "Fatal: a message that would repeat r3st%20p%40ss or r3st p@ss\n401 Unauthorized",
        );
        let shown = format!("{e} {}", e.detail());
        assert!(!shown.contains("r3st"), "{shown}");
        assert!(shown.contains("backup-rest-password"), "{shown}");
        assert!(format!("{r:?}").find("r3st").is_none());
    }

    #[test]
    fn hints_say_what_to_do() {
        let layout = ConfigLayout::new("/etc/mathesar");
        let repo = Repository::Sftp {
            user: "backup".into(),
            host: "store.example.org".into(),
            port: None,
            path: "/srv/r".into(),
        };
        let h = Cause::Unreachable.hint(&repo, &layout);
        assert!(
            h.contains("backup-ssh-key.pub") && h.contains("authorized_keys"),
            "{h}"
        );
        assert!(
            Cause::WrongPassword
                .hint(&repo, &layout)
                .contains("backup-password")
        );
        assert!(
            Cause::Full
                .hint(&repo, &layout)
                .contains("backup-retention")
        );
    }
}

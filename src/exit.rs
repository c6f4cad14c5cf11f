//! Documented exit codes: one per class of failure, so that scripts and monitoring can branch on them.

use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Code {
    Ok = 0,
    /// An unexpected failure.
    Failure = 1,
    /// Wrong command-line usage (as clap reports it).
    Usage = 2,
    /// The host does not meet a requirement (OS, root, systemd, Docker, Compose, ports, disk, database).
    Preflight = 3,
    /// An answer is missing or invalid; nothing was written.
    InvalidAnswer = 4,
    /// The Docker Engine or Compose failed an operation.
    Docker = 5,
    /// A file could not be read or written.
    Io = 6,
    /// Another run holds the configuration lock.
    LockBusy = 7,
    /// A container did not become healthy.
    Unhealthy = 8,
    /// `systemctl` could not stop or start the service.
    Service = 9,
    /// An image could not be pulled (registry unreachable, image missing, credentials, disk full, stalled).
    Pull = 10,
    /// Hosts sharing Mathesar's database: its start lock could not be taken (server unreachable,
    /// or another host held it too long).
    StartLock = 11,
    /// The bundled PostgreSQL's major-version upgrade cannot run or failed (too little free
    /// space, or what an interrupted upgrade left); the old cluster is kept, usable.
    DbUpgrade = 12,
    /// An existing Mathesar installation was found and taking it over was not agreed (or it
    /// cannot be taken over); nothing was changed.
    Adoption = 13,
    /// The backup repository failed (restic missing, wrong password, server unreachable, full).
    Backup = 14,
    /// A restore drill found the latest backup not restorable as recorded.
    Drill = 15,
    /// An upgrade failed and put itself back: the new release's Mathesar failed its first
    /// start, the backup taken before it was restored and the previous release serves again.
    UpgradeRolledBack = 16,
}

impl Code {
    /// The documented code of this number (another program's exit code passed on).
    pub(crate) fn from_number(n: i32) -> Option<Code> {
        ALL.iter().copied().find(|c| i32::from(*c as u8) == n)
    }
}

/// Every [`Code`], lowest first.
const ALL: [Code; 17] = [
    Code::Ok,
    Code::Failure,
    Code::Usage,
    Code::Preflight,
    Code::InvalidAnswer,
    Code::Docker,
    Code::Io,
    Code::LockBusy,
    Code::Unhealthy,
    Code::Service,
    Code::Pull,
    Code::StartLock,
    Code::DbUpgrade,
    Code::Adoption,
    Code::Backup,
    Code::Drill,
    Code::UpgradeRolledBack,
];

/// The table printed in `--help` and the man page.
pub(crate) const TABLE: &str = "\
Exit codes:
  0  success
  1  unexpected failure
  2  wrong usage
  3  preflight failed: the host misses a requirement (OS, root, systemd, Docker, Compose, ports, disk, database)
  4  an answer is missing or invalid; nothing was written
  5  a Docker Engine or Compose operation failed
  6  a file could not be read or written
  7  another mathesarctl run holds the configuration lock
  8  a container did not become healthy
  9  systemctl could not stop or start mathesar.service
  10  an image could not be pulled (registry unreachable, image or tag missing, credentials, disk full, no progress)
  11  the start lock on Mathesar's shared database (internal-db-host) could not be taken: the server unreachable, or another host starting for too long
  12  the bundled PostgreSQL's major-version upgrade cannot run (too little free space) or failed; the old cluster is kept, usable
  13  an existing Mathesar installation was found and taking it over was not agreed (answer `adopt`), or it cannot be taken over; nothing was changed
  14  the backup repository failed: restic missing, wrong password, server unreachable, repository full or locked
  15  the restore drill failed: the latest backup did not restore as recorded (row counts, pending migrations)
  16  the upgrade failed and was put back: the new release's Mathesar failed its first start, the backup taken before it was restored and the previous release serves again (held back: `mathesarctl status`); retry with `mathesarctl upgrade`";

/// Shown in `mathesarctl status --help`.
pub(crate) const STATUS_TABLE: &str = "\
Exit codes (like `systemctl status`):
  0  running: the unit is active and every container is healthy
  1  starting, stopping or reloading: the unit or a container is in transition
  3  not running: the unit is inactive or failed and no container runs
  5  the Docker Engine cannot be reached while the unit is active
  6  there is no configuration to read
  8  degraded: a container is missing, stopped or unhealthy (or runs without the unit)";

/// The exit codes of `status`, which follow `systemctl status` (and the LSB) rather than the
/// classes of failure of [`Code`]: `3` means "not running" here, not a failed preflight.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum StatusCode {
    Running = 0,
    Transition = 1,
    NotRunning = 3,
    Unreachable = 5,
    Degraded = 8,
}

/// The number a run ends with: a class of failure, or a state `status` reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    Code(Code),
    Status(StatusCode),
}

impl Exit {
    pub fn number(self) -> u8 {
        match self {
            Exit::Code(c) => c as u8,
            Exit::Status(s) => s as u8,
        }
    }
}

impl PartialEq<Code> for Exit {
    fn eq(&self, other: &Code) -> bool {
        *self == Exit::Code(*other)
    }
}

/// An error with the exit code it ends the program with.
pub struct Failure {
    pub code: Exit,
    pub error: anyhow::Error,
}

impl Failure {
    pub fn new(code: Code, error: impl Into<anyhow::Error>) -> Self {
        Failure {
            code: Exit::Code(code),
            error: error.into(),
        }
    }

    /// `status` reporting a state that is not "running".
    pub fn status(code: StatusCode, error: impl Into<anyhow::Error>) -> Self {
        Failure {
            code: Exit::Status(code),
            error: error.into(),
        }
    }
}

/// The error of a failure already explained on stderr (in the maintainer scripts' words, or by
/// the program whose exit code it passes on): [`crate::report`] adds nothing.
#[derive(Debug, thiserror::Error)]
#[error("(said above)")]
struct Said;

impl Failure {
    /// A failure already explained: only its exit code is left to give.
    pub(crate) fn said(code: Code) -> Self {
        Failure::new(code, Said)
    }

    /// A failure of another program that said why itself: its exit code passed on when it is a
    /// documented one, else 1.
    pub(crate) fn passed_on(code: i32) -> Self {
        Failure::said(Code::from_number(code).unwrap_or(Code::Failure))
    }

    /// Whether its error was already said ([`Failure::said`]).
    pub fn was_said(&self) -> bool {
        self.error.is::<Said>()
    }
}

impl fmt::Debug for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {:#}", self.code, self.error)
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#}", self.error)
    }
}

/// Attaches an exit code to any error.
pub(crate) trait WithCode<T> {
    fn code(self, code: Code) -> Result<T, Failure>;
}

impl<T, E: Into<anyhow::Error>> WithCode<T> for Result<T, E> {
    fn code(self, code: Code) -> Result<T, Failure> {
        self.map_err(|e| Failure::new(code, e))
    }
}

pub(crate) type Outcome = Result<(), Failure>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_lists_every_code() {
        for (n, c) in ALL.into_iter().enumerate() {
            assert_eq!(c as usize, n, "ALL in order, none missing");
            assert!(TABLE.contains(&format!("\n  {}  ", c as u8)), "{c:?}");
        }
        assert_eq!(TABLE.matches("\n  ").count(), ALL.len());
    }

    #[test]
    fn another_programs_code_is_passed_on_when_documented() {
        assert_eq!(Code::from_number(16), Some(Code::UpgradeRolledBack));
        assert_eq!(Code::from_number(17), None);
        assert_eq!(Failure::passed_on(4).code, Code::InvalidAnswer);
        assert_eq!(Failure::passed_on(137).code, Code::Failure);
        assert!(Failure::said(Code::Pull).was_said());
        assert!(!Failure::new(Code::Pull, anyhow::anyhow!("x")).was_said());
    }
}

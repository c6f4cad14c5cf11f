//! Connects the user database to Mathesar, as the old guided installer's promise was: the admin
//! finds it in Mathesar at the first login. Since Mathesar 0.2 that connection is a row set in
//! Mathesar's own database (server, database, configured role, the admin's role map), made here
//! by upstream's own `set_up_preexisting_database_for_user`, the same call the "Connect Database"
//! form makes, run in `mathesar_service` in the one Django process of the first start
//! (`stack::app_setup`, after the admin's part). Passwords travel in the exec environment only.
//!
//! A marker under the data directory holds a digest of what was connected, so a restart costs
//! nothing, and a changed password (dpkg-reconfigure) updates the stored role's password instead
//! of connecting the database a second time.

use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::settings::validate::{SslMode, is_loopback_host};
use crate::settings::{DOCKER_HOST_GATEWAY, Settings, UserDb};
use crate::storage::{Layout, atomic, modes};

use super::engine::{EngineError, ExecOutput};

/// The line the script ends with: `mathesar-package: <outcome>`.
const OUTCOME_PREFIX: &str = "mathesar-package: ";

/// Run by `manage.py shell -c` (`stack::app_setup`); reads everything from the environment,
/// prints one outcome line. Idempotent: an existing connection is not made again, a stale stored
/// password is replaced.
pub(crate) const SCRIPT: &str = r#"
import os
from django.contrib.auth import get_user_model
from mathesar.models.base import ConfiguredRole, Server, UserDatabaseRoleMap
from mathesar.utils.permissions import set_up_preexisting_database_for_user
e = os.environ
host, port, name = e["MSAR_PKG_HOST"], int(e["MSAR_PKG_PORT"]), e["MSAR_PKG_DB"]
role, password = e["MSAR_PKG_ROLE"], e["MSAR_PKG_PASSWORD"]
sslmode = e["MSAR_PKG_SSLMODE"]
user = get_user_model().objects.filter(username=e["MSAR_PKG_ADMIN"]).first()
updated = Server.objects.filter(host=host, port=port).exclude(sslmode=sslmode).update(sslmode=sslmode)
for r in ConfiguredRole.objects.filter(name=role, server__host=host, server__port=port):
    if r.password != password:
        r.password = password
        r.save()
        updated += 1
if user is None:
    print("mathesar-package: no-admin")
elif UserDatabaseRoleMap.objects.filter(user=user, database__name=name, server__host=host, server__port=port).exists():
    print("mathesar-package: " + ("updated" if updated else "already-connected"))
else:
    set_up_preexisting_database_for_user(host, port, name, None, role, password, user, sslmode=sslmode)
    print("mathesar-package: connected")
"#;

#[derive(Debug, Error)]
pub(crate) enum UserDbError {
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(
        "connecting the user database {database} on {host}:{port} to Mathesar failed (exit code {code}): {output}"
    )]
    Failed {
        database: String,
        host: String,
        port: u16,
        code: i64,
        output: String,
    },
    #[error("the marker of the connected user database cannot be written: {0}")]
    Marker(#[from] atomic::WriteError),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The marker matches: nothing was asked of Mathesar.
    Unchanged,
    Connected,
    AlreadyConnected,
    /// The stored password or the server's sslmode was changed.
    Updated,
    /// The admin does not exist (yet): the database is connected by hand in the UI.
    NoAdmin,
}

/// The user database as Mathesar's containers reach it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Target {
    pub host: String,
    pub port: u16,
    pub database: String,
    pub role: String,
    pub password: String,
    /// The sslmode Mathesar stores for the server ([`mathesar_sslmode`]).
    pub sslmode: &'static str,
}

/// The sslmode Mathesar 0.11.0 keeps for a database server: its model knows `disable`, `prefer`
/// and `require` only, and it has no CA setting of its own. The verifying modes are given as
/// `require`: with the CA file the container's libpq finds in `PGSSLROOTCERT`, libpq checks the
/// certificate's chain under `require` (as `verify-ca` does), not the host name.
pub(crate) fn mathesar_sslmode(mode: SslMode) -> &'static str {
    match mode {
        SslMode::Disable => "disable",
        SslMode::Prefer => "prefer",
        SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => "require",
    }
}

impl Target {
    pub(crate) fn of(s: &Settings) -> Option<Target> {
        match (s.user_db, &s.existing_db) {
            (UserDb::Bundled, _) => Some(Target {
                host: s.internal_db_container_host(),
                port: s.internal_db_container_port(),
                database: s.user_db_name.clone(),
                role: s.db_user.clone(),
                password: s.db_password.expose().to_string(),
                sslmode: mathesar_sslmode(s.internal_sslmode()),
            }),
            (UserDb::Existing, Some(e)) => Some(Target {
                host: if is_loopback_host(&e.host) {
                    DOCKER_HOST_GATEWAY.to_string()
                } else {
                    e.host.clone()
                },
                port: e.port,
                database: s.user_db_name.clone(),
                role: e.user.clone(),
                password: e.password.expose().to_string(),
                sslmode: mathesar_sslmode(e.sslmode),
            }),
            (UserDb::Existing, None) => None,
        }
    }

    /// What the marker holds: a digest, so the file says nothing of the password.
    fn digest(&self, admin: &str) -> String {
        let mut h = Sha256::new();
        for part in [
            self.host.as_str(),
            &self.port.to_string(),
            &self.database,
            &self.role,
            &self.password,
            admin,
        ] {
            h.update(part.as_bytes());
            h.update([0]);
        }
        // Mathesar's default, which every server connected before the sslmode was passed has:
        // left out, so that their markers stay valid.
        if self.sslmode != "prefer" {
            h.update(self.sslmode.as_bytes());
            h.update([0]);
        }
        format!("{:x}\n", h.finalize())
    }
}

/// The outcome line of the script's output.
pub(crate) fn parse_outcome(stdout: &str) -> Option<Outcome> {
    let line = stdout
        .lines()
        .rev()
        .find_map(|l| l.trim().strip_prefix(OUTCOME_PREFIX))?;
    Some(match line.trim() {
        "connected" => Outcome::Connected,
        "already-connected" => Outcome::AlreadyConnected,
        "updated" | "password-updated" => Outcome::Updated,
        "no-admin" => Outcome::NoAdmin,
        _ => return None,
    })
}

/// The user database to connect at this start, with the marker it is done with.
pub(crate) struct Connect {
    pub target: Target,
    digest: String,
}

/// What to connect: nothing without a user database ([`Target::of`]) or when the marker says
/// this very connection is made (`Err(Outcome::Unchanged)`: nothing asked of Mathesar).
pub(crate) fn step(s: &Settings, layout: &Layout) -> Option<Result<Connect, Outcome>> {
    let target = Target::of(s)?;
    let digest = target.digest(&s.admin_username);
    if std::fs::read_to_string(layout.user_db_connected_marker()).is_ok_and(|m| m == digest) {
        return Some(Err(Outcome::Unchanged));
    }
    Some(Ok(Connect { target, digest }))
}

impl Connect {
    /// The environment [`SCRIPT`] reads (it holds the password).
    pub(crate) fn env(&self, admin: &str) -> Vec<(&'static str, String)> {
        let t = &self.target;
        vec![
            ("MSAR_PKG_HOST", t.host.clone()),
            ("MSAR_PKG_PORT", t.port.to_string()),
            ("MSAR_PKG_DB", t.database.clone()),
            ("MSAR_PKG_ROLE", t.role.clone()),
            ("MSAR_PKG_PASSWORD", t.password.clone()),
            ("MSAR_PKG_ADMIN", admin.to_string()),
            ("MSAR_PKG_SSLMODE", t.sslmode.to_string()),
        ]
    }

    /// The outcome from the output of the process that ran [`SCRIPT`]; the marker written once
    /// the connection is made (not while the admin is missing).
    pub(crate) fn finish(self, layout: &Layout, out: &ExecOutput) -> Result<Outcome, UserDbError> {
        let outcome = match (out.success(), parse_outcome(&out.stdout)) {
            (true, Some(o)) => o,
            _ => {
                // The traceback's last line names the error; the rest is noise in a journal.
                let text = out.text();
                let last = text
                    .lines()
                    .rev()
                    .find(|l| !l.trim().is_empty())
                    .unwrap_or("");
                return Err(UserDbError::Failed {
                    database: self.target.database,
                    host: self.target.host,
                    port: self.target.port,
                    code: out.exit_code,
                    output: last.trim().to_string(),
                });
            }
        };
        if outcome != Outcome::NoAdmin {
            atomic::write(
                &layout.user_db_connected_marker(),
                self.digest.as_bytes(),
                modes::PRIVATE_FILE,
            )?;
        }
        Ok(outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::{Key, for_tests};

    #[test]
    fn the_outcome_is_the_last_marked_line() {
        assert_eq!(
            parse_outcome("noise\nmathesar-package: connected\n"),
            Some(Outcome::Connected)
        );
        assert_eq!(
            parse_outcome("mathesar-package: already-connected"),
            Some(Outcome::AlreadyConnected)
        );
        assert_eq!(parse_outcome("Traceback ...\nValueError: x"), None);
        assert_eq!(parse_outcome("mathesar-package: something-else"), None);
    }

    #[test]
    fn bundled_targets_the_database_container_with_the_superuser() {
        let s = for_tests(&[]);
        let t = Target::of(&s).unwrap();
        assert_eq!(t.host, "mathesar_db");
        assert_eq!(t.port, 5432);
        assert_eq!(t.database, s.user_db_name);
        assert_eq!(t.role, s.db_user);
    }

    #[test]
    fn an_existing_server_on_loopback_is_reached_through_the_gateway() {
        let s = for_tests(&[
            (Key::UserDb, "existing"),
            (Key::ExistingDbHost, "127.0.0.1"),
            (Key::ExistingDbPort, "5433"),
            (Key::ExistingDbUser, "alice"),
            (Key::ExistingDbPassword, "pw-Existing-01"),
        ]);
        let t = Target::of(&s).unwrap();
        assert_eq!((t.host.as_str(), t.port), ("host.docker.internal", 5433));
        assert_eq!(t.role, "alice");
    }

    #[test]
    fn the_marker_changes_with_the_password_and_never_holds_it() {
        let s = for_tests(&[]);
        let a = Target::of(&s).unwrap();
        let mut b = a.clone();
        b.password.push('x');
        assert_ne!(a.digest("admin"), b.digest("admin"));
        assert!(!a.digest("admin").contains(&a.password));
        let mut c = a.clone();
        c.sslmode = "require";
        assert_ne!(a.digest("admin"), c.digest("admin"), "an sslmode change");
    }

    #[test]
    fn mathesar_gets_the_modes_it_knows() {
        assert_eq!(mathesar_sslmode(SslMode::Disable), "disable");
        assert_eq!(mathesar_sslmode(SslMode::Prefer), "prefer");
        for m in [SslMode::Require, SslMode::VerifyCa, SslMode::VerifyFull] {
            assert_eq!(mathesar_sslmode(m), "require");
        }
        let s = for_tests(&[
            (Key::UserDb, "existing"),
            (Key::ExistingDbHost, "db.example.org"),
            (Key::ExistingDbUser, "alice"),
            (Key::ExistingDbPassword, "pw-Existing-01"),
            (Key::ExistingDbSslmode, "disable"),
        ]);
        assert_eq!(Target::of(&s).unwrap().sslmode, "disable");
        assert_eq!(Target::of(&for_tests(&[])).unwrap().sslmode, "prefer");
    }
}

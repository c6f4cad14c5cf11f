//! What was found, said in words, and what taking it over will do: the report the debconf
//! question, `mathesarctl adopt` and a refusal show; the answers it carries over.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{AdoptError, Found, Origin};
use crate::settings::{Answers, Key, Source};
use crate::stack::engine::Engine;
use crate::stack::takeover;

/// The database container's data directory, in every installer's compose file.
pub(crate) const PGDATA: &str = "/var/lib/postgresql/data";

/// Mathesar's own database for an installation of the 0.1.x guided installer, whose
/// `mathesar_django` holds 0.1.x metadata no later Mathesar can migrate.
pub(crate) const GUIDED_NEW_INTERNAL_DB: &str = "mathesar_internal";

/// Which old mount goes where under the package's data directory.
const DATA_TARGETS: &[(&str, &str)] = &[
    (PGDATA, "pgdata"),
    ("/code/.media", "msar/media"),
    ("/code/media", "msar/media"),
    ("/code/.secrets", "msar/secrets"),
    ("/data", "caddy/data"),
];

/// The database's superuser and Mathesar's own database, as the old `.env` names them.
pub(crate) struct DbParams {
    pub user: String,
    pub password: String,
    pub internal_db: String,
}

/// The old installation's database parameters, with the defaults of its compose file.
pub(crate) fn db_params(f: &super::Files) -> DbParams {
    let get = |k: &str, d: &str| {
        f.env
            .get(k)
            .filter(|v| !v.is_empty())
            .cloned()
            .unwrap_or_else(|| d.into())
    };
    match f.origin {
        Origin::Compose => DbParams {
            user: get("POSTGRES_USER", "mathesar"),
            password: get("POSTGRES_PASSWORD", "mathesar"),
            internal_db: get("POSTGRES_DB", "mathesar_django"),
        },
        Origin::Guided => DbParams {
            user: get("POSTGRES_USER", "mathesar"),
            password: get("POSTGRES_PASSWORD", ""),
            internal_db: "mathesar_django".into(),
        },
    }
}

/// One SQL query in the running `mathesar_db` over its local socket (trusted inside the
/// container, so no password travels); one value a line.
pub(crate) async fn query(
    engine: &Engine,
    user: &str,
    db: &str,
    sql: &str,
) -> Result<Vec<String>, AdoptError> {
    let out = engine
        .exec(
            "mathesar_db",
            &["psql", "-U", user, "-d", db, "-XAtc", sql],
            &[],
            Duration::from_secs(60),
        )
        .await?;
    if !out.success() {
        return Err(AdoptError::Refused {
            dir: PathBuf::from("mathesar_db"),
            reason: format!("its database could not be read: {}", out.text()),
        });
    }
    Ok(out.stdout.lines().map(str::to_string).collect())
}

/// One copy: an old mount's content into a directory of the package's data directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Copy {
    pub from: takeover::OldMount,
    /// Relative to the data directory.
    pub to: &'static str,
}

/// What taking the installation over will do.
#[derive(Clone, Debug)]
pub(crate) struct Plan {
    pub found: Found,
    pub data_dir: PathBuf,
    /// UTC, compact: names the dated copies and the kept containers.
    pub stamp: String,
    pub copies: Vec<Copy>,
    /// The configuration directory holds the old files (they move into the dated copy).
    pub in_config_dir: bool,
}

impl Plan {
    pub(crate) fn new(found: Found, data_dir: &Path, stamp: String, config_dir: &Path) -> Plan {
        let mut copies: Vec<Copy> = Vec::new();
        for c in &found.live.containers {
            for m in &c.mounts {
                let Some((_, to)) = DATA_TARGETS.iter().find(|(t, _)| *t == m.target) else {
                    continue;
                };
                if !copies.iter().any(|x| x.to == *to) {
                    copies.push(Copy {
                        from: m.clone(),
                        to,
                    });
                }
            }
        }
        copies.sort_by_key(|c| c.to);
        Plan {
            in_config_dir: found.files.dir == config_dir,
            found,
            data_dir: data_dir.into(),
            stamp,
            copies,
        }
    }

    /// The directory of the dated copies of the old files.
    pub(crate) fn copies_dir(&self) -> PathBuf {
        self.data_dir.join("adopted").join(&self.stamp)
    }

    /// The Mathesar version the old installation runs, from its image's tag.
    pub(crate) fn version(&self) -> String {
        let image = self
            .found
            .live
            .image_of("mathesar_service")
            .or_else(|| self.found.files.service_image.clone())
            .unwrap_or_default();
        match image.rsplit_once(':') {
            Some((_, tag)) if tag.starts_with(|c: char| c.is_ascii_digit()) => tag.to_string(),
            _ if self.found.files.origin == Origin::Guided => format!("0.1.x (image {image})"),
            _ => format!("unknown (image {image})"),
        }
    }

    /// The user database to keep connected: the one database that is neither PostgreSQL's nor
    /// Mathesar's own.
    pub(crate) fn user_database(&self) -> Option<String> {
        let internal = db_params(&self.found.files).internal_db;
        let mut user = self
            .found
            .live
            .databases
            .iter()
            .filter(|d| **d != internal && *d != "postgres");
        user.next().cloned()
    }

    /// Why it cannot be taken over as asked, before anything changes: an installation in the
    /// configuration directory itself that keeps more there than its two files (upstream's
    /// `msar/` in `/etc/mathesar`) would leave its data inside the package's directory, which a
    /// purge empties.
    pub(crate) fn blocker(&self) -> Option<String> {
        if !self.in_config_dir {
            return None;
        }
        let dir = &self.found.files.dir;
        let mut other: Vec<String> = std::fs::read_dir(dir)
            .ok()?
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| {
                ![super::detect::ENV, super::detect::COMPOSE, "answers.yml"].contains(&n.as_str())
            })
            .collect();
        if other.is_empty() {
            return None;
        }
        other.sort();
        Some(format!(
            "it keeps {} in {}, the configuration directory this package needs, whose content a purge removes. \
             Keep it where it is and give this package another configuration directory: answer `config-dir` (e.g. /etc/mathesar-package) and `adopt-from` {}",
            other.join(", "),
            dir.display(),
            dir.display()
        ))
    }

    /// A 0.1.x admin whose password is not in `.env`: its hash is carried over instead.
    pub(crate) fn carries_admin_hash(&self) -> bool {
        let f = &self.found.files;
        f.origin == Origin::Guided
            && self.found.live.admin_hash.is_some()
            && f.env
                .get("DJANGO_SUPERUSER_PASSWORD")
                .is_none_or(|p| p.is_empty())
    }

    /// The answers carried over, as the current configuration would give them (below what an
    /// answers file, the environment or debconf say).
    pub(crate) fn answers(&self) -> Answers {
        let f = &self.found.files;
        let src = Source::Current(f.dir.join(super::detect::ENV));
        let p = db_params(f);
        let mut a = Answers::new();
        a.set(Key::DbUser, p.user, src.clone());
        if !p.password.is_empty() {
            a.set(Key::DbPassword, p.password, src.clone());
        }
        match f.origin {
            Origin::Compose => a.set(Key::InternalDbName, p.internal_db, src.clone()),
            // 0.1.x metadata cannot be migrated (upstream's limit): a new database beside it,
            // which stays for the way back.
            Origin::Guided => a.set(Key::InternalDbName, GUIDED_NEW_INTERNAL_DB, src.clone()),
        }
        // The guided installer's admin password (0.1.0 to 0.1.2 kept it in `.env`): the admin
        // is created again with it in the new Mathesar, whose user table is not 0.1.x's.
        if f.origin == Origin::Guided
            && let Some(pw) = f
                .env
                .get("DJANGO_SUPERUSER_PASSWORD")
                .filter(|p| !p.is_empty())
        {
            a.set(Key::AdminPassword, pw.clone(), src.clone());
        }
        let port = |p: Option<u16>| p.map(|p| p.to_string()).unwrap_or_default();
        if f.http_port.is_some() {
            a.set(Key::HttpPort, port(f.http_port), src.clone());
        }
        if f.https_port.is_some() {
            a.set(Key::HttpsPort, port(f.https_port), src.clone());
        }
        a.set(Key::DbPort, port(f.db_port), src.clone());
        if let Some(d) = domain(f.env.get("DOMAIN_NAME").map(String::as_str)) {
            a.set(Key::Domain, d, src.clone());
        }
        if let Some(admin) = &self.found.live.admin {
            a.set(Key::AdminUsername, admin.clone(), src.clone());
        }
        if let Some(db) = self.user_database() {
            a.set(Key::UserDbName, db, src);
        }
        a
    }
}

/// A domain from `DOMAIN_NAME`: none for `http://...` (plain HTTP), `localhost` or an address
/// form (`:80`).
fn domain(v: Option<&str>) -> Option<String> {
    let v = v?.trim();
    if v.starts_with("http://") || v.is_empty() || v.starts_with(':') {
        return None;
    }
    let host = v.trim_start_matches("https://").trim_end_matches('/');
    let host = host.split(':').next().unwrap_or_default();
    (host != "localhost" && !host.is_empty()).then(|| host.to_string())
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let files = &self.found.files;
        let live = &self.found.live;
        let by = match files.origin {
            Origin::Compose => "upstream's Docker Compose instructions",
            Origin::Guided => "the guided installer of Mathesar 0.1.x",
        };
        writeln!(
            f,
            "Found a Mathesar installation made with {by} in {}:",
            files.dir.display()
        )?;
        writeln!(f, "  version: Mathesar {}", self.version())?;
        if let Some(why) = &live.unread {
            writeln!(f, "  containers, databases: not read ({why})")?;
        }
        let dbs = if live.databases.is_empty() {
            "not read (the database container does not run)".to_string()
        } else {
            live.databases.join(", ")
        };
        writeln!(f, "  databases: {dbs}")?;
        let port = |p: Option<u16>| p.map_or("not published".into(), |p| p.to_string());
        writeln!(
            f,
            "  ports: HTTP {}, HTTPS {}, PostgreSQL {}",
            port(files.http_port),
            port(files.https_port),
            port(files.db_port)
        )?;
        for c in &live.containers {
            let state = if c.running { "running" } else { "stopped" };
            writeln!(f, "  container {} ({}, {state})", c.name, c.image)?;
        }
        for c in &self.copies {
            let kind = if c.from.volume {
                "volume"
            } else {
                "bind mount"
            };
            writeln!(f, "  data: {kind} {}", c.from.source)?;
        }
        if let Some(a) = &live.admin {
            writeln!(f, "  admin: {a}")?;
        }
        writeln!(f, "Taking it over will:")?;
        writeln!(
            f,
            "  1. copy its .env and docker-compose.yml to {} (0600){}",
            self.copies_dir().display(),
            if self.in_config_dir {
                ", moving them out of the configuration directory"
            } else {
                "; the originals stay"
            }
        )?;
        let kept: Vec<_> = live
            .containers
            .iter()
            .map(|c| takeover::kept_name(&c.name, &self.stamp))
            .collect();
        writeln!(
            f,
            "  2. stop its containers and keep them, not running, as {} (remove them with `docker rm {}` once you no longer need them)",
            kept.join(", "),
            kept.join(" ")
        )?;
        writeln!(
            f,
            "  3. copy its data into {} ({}); the originals are never changed or deleted",
            self.data_dir.display(),
            self.copies
                .iter()
                .map(|c| c.to)
                .collect::<Vec<_>>()
                .join(", ")
        )?;
        writeln!(
            f,
            "  4. carry over its SECRET_KEY, database user and password, and ports as this package's answers"
        )?;
        match files.origin {
            Origin::Compose => writeln!(
                f,
                "  5. start this package's Mathesar on that data: its users, databases and tables stay (Mathesar migrates them at its first start)"
            )?,
            Origin::Guided => writeln!(
                f,
                "  5. start this package's Mathesar: the user databases and their rows stay and are connected again; Mathesar 0.1.x's own metadata cannot be upgraded (upstream's limit): explorations and other users are not carried over"
            )?,
        }
        write!(
            f,
            "To go back: stop mathesar.service, then `docker compose up -d` in {}.",
            files.dir.display()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guided(env: &str) -> Plan {
        let compose = "services:\n  service:\n    container_name: mathesar_service\n    image: mathesar/mathesar-prod:latest\n  caddy:\n    ports: [\"${HTTP_PORT-80}:80\"]\n";
        let v: serde_yaml_ng::Value = serde_yaml_ng::from_str(compose).unwrap();
        let e = super::super::detect::parse_env(env.as_bytes()).unwrap();
        let files = super::super::detect::from_parts(
            Path::new("/etc/mathesar"),
            e,
            env.into(),
            compose.into(),
            &v,
        )
        .unwrap();
        let live = super::super::Live {
            databases: vec![
                "mathesar_django".into(),
                "mathesar_tables".into(),
                "postgres".into(),
            ],
            admin: Some("boss".into()),
            admin_hash: Some(crate::secrets::Secret::new("pbkdf2_sha256$1$s$h")),
            ..Default::default()
        };
        Plan::new(
            Found { files, live },
            Path::new("/var/lib/mathesar"),
            "20261203T000000Z".into(),
            Path::new("/etc/mathesar"),
        )
    }

    #[test]
    fn a_guided_installation_gets_a_new_internal_database_and_keeps_its_admin() {
        let env = "POSTGRES_USER='mathesar'\nPOSTGRES_PASSWORD='pw-Old-0001'\nHTTP_PORT='8080'\nSECRET_KEY='k'\n\
                   DJANGO_DATABASE_URL='postgresql://mathesar:pw@mathesar_db:5432/mathesar_django'\n";
        let p = guided(&format!("{env}DJANGO_SUPERUSER_PASSWORD='Adm1n-pw-0001'\n"));
        assert!(p.in_config_dir);
        assert!(p.version().starts_with("0.1.x"));
        let a = p.answers();
        assert_eq!(a.value(Key::InternalDbName), Some(GUIDED_NEW_INTERNAL_DB));
        assert_eq!(a.value(Key::UserDbName), Some("mathesar_tables"));
        assert_eq!(a.value(Key::AdminUsername), Some("boss"));
        assert_eq!(a.value(Key::AdminPassword), Some("Adm1n-pw-0001"));
        assert_eq!(a.value(Key::DbPassword), Some("pw-Old-0001"));
        assert_eq!(a.value(Key::HttpPort), Some("8080"));
        assert!(!p.carries_admin_hash(), "the password of .env wins");
        // 0.1.3 kept no password in .env: the hash is carried instead, no password answered.
        let p = guided(env);
        assert!(p.carries_admin_hash());
        assert_eq!(p.answers().value(Key::AdminPassword), None);
        let report = p.to_string();
        assert!(
            report.contains("the guided installer of Mathesar 0.1.x"),
            "{report}"
        );
        assert!(
            !report.contains("pw-Old-0001") && !report.contains("pbkdf2"),
            "{report}"
        );
    }

    #[test]
    fn domain_name_plain_http_and_addresses_are_no_domain() {
        assert_eq!(domain(Some("http://localhost")), None);
        assert_eq!(domain(Some("http://example.org")), None);
        assert_eq!(domain(Some(":80")), None);
        assert_eq!(domain(Some("localhost")), None);
        assert_eq!(
            domain(Some("https://data.example.org")),
            Some("data.example.org".into())
        );
        assert_eq!(
            domain(Some("data.example.org")),
            Some("data.example.org".into())
        );
    }
}

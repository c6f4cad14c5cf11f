//! Recognising an installation: its files first (pure: `.env` and the compose file read as
//! Compose reads them), then what the Docker Engine says of its containers and databases.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use nix::fcntl::{self, OFlag};
use nix::sys::stat::Mode;

use super::AdoptError;
use crate::stack::takeover::OldContainer;
use crate::storage::dirs;

/// Which installer made it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Origin {
    /// Upstream's Docker Compose instructions (0.2 and later): `msar/` bind mounts,
    /// `POSTGRES_*` variables, PostgreSQL upgraded in place by pgautoupgrade.
    Compose,
    /// The guided installer of 0.1.x: `DJANGO_DATABASE_URL`, a Compose volume, PostgreSQL 13.
    Guided,
}

/// An installation's files, as read.
#[derive(Clone, Debug)]
pub(crate) struct Files {
    pub dir: PathBuf,
    pub origin: Origin,
    /// `.env`, the values as Compose sees them.
    pub env: BTreeMap<String, String>,
    pub env_bytes: Vec<u8>,
    pub compose_bytes: Vec<u8>,
    /// The Mathesar image the compose file names.
    pub service_image: Option<String>,
    /// Host ports published for container ports 80, 443 and 5432.
    pub http_port: Option<u16>,
    pub https_port: Option<u16>,
    pub db_port: Option<u16>,
}

/// What the engine says of it, when it can be asked.
#[derive(Clone, Debug, Default)]
pub(crate) struct Live {
    pub containers: Vec<OldContainer>,
    /// The databases of the database container (none when it does not run).
    pub databases: Vec<String>,
    /// The first superuser of Mathesar's own database, when it could be read.
    pub admin: Option<String>,
    /// A 0.1.x admin's password hash (Django's format), when no password is in `.env`.
    pub admin_hash: Option<crate::secrets::Secret>,
    /// Why the engine was not asked (it did not answer).
    pub unread: Option<String>,
}

impl Live {
    /// The image the old container `name` runs.
    pub(crate) fn image_of(&self, name: &str) -> Option<String> {
        self.containers
            .iter()
            .find(|c| c.name == name)
            .map(|c| c.image.clone())
    }
}

/// The directory of an installation to take over: only read, its trust judged like a
/// configuration's ([`dirs::check_trusted`]).
pub(crate) const INSTALLATION: dirs::Kind = dirs::Kind {
    what: "installation directory",
    option: "another directory",
    known: &[],
    inputs: &[],
    proof: |_| false,
    root_owned_entries: true,
    default: None,
};

pub(crate) const ENV: &str = ".env";
pub(crate) const COMPOSE: &str = "docker-compose.yml";
/// Files larger than this are not an installer's.
const MAX_LEN: u64 = 1 << 20;

/// Reads `dir`'s `.env` and `docker-compose.yml` when both are there and are Mathesar's;
/// `Ok(None)` when `dir` holds no such installation. Nothing is followed: `dir` and its parents
/// must be root's alone, the files regular files of root's.
pub(crate) fn files(dir: &Path) -> Result<Option<Files>, AdoptError> {
    dirs::check_path(dir).map_err(|reason| AdoptError::Refused {
        dir: dir.into(),
        reason,
    })?;
    dirs::check_trusted(&INSTALLATION, dir).map_err(|e| AdoptError::Refused {
        dir: dir.into(),
        reason: e.to_string(),
    })?;
    let (Some(env_bytes), Some(compose_bytes)) = (read(dir, ENV)?, read(dir, COMPOSE)?) else {
        return Ok(None);
    };
    let compose: serde_yaml_ng::Value = match serde_yaml_ng::from_slice(&compose_bytes) {
        Ok(v) => v,
        Err(_) => return Ok(None),
    };
    let env = parse_env(&env_bytes).map_err(|reason| AdoptError::Refused {
        dir: dir.into(),
        reason: format!("its {ENV} cannot be read as Compose reads it: {reason}"),
    })?;
    Ok(from_parts(dir, env, env_bytes, compose_bytes, &compose))
}

/// The `.env` as Compose reads it (dotenvy: the same quoting rules).
pub(crate) fn parse_env(bytes: &[u8]) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for item in dotenvy::from_read_iter(bytes) {
        let (k, v) = item.map_err(|e| e.to_string())?;
        out.insert(k, v);
    }
    Ok(out)
}

/// Recognises the installation from its parsed files (pure, for the tests).
pub(crate) fn from_parts(
    dir: &Path,
    env: BTreeMap<String, String>,
    env_bytes: Vec<u8>,
    compose_bytes: Vec<u8>,
    compose: &serde_yaml_ng::Value,
) -> Option<Files> {
    let services = compose.get("services")?.as_mapping()?;
    let mut service_image = None;
    let mut mathesar = false;
    let (mut http_port, mut https_port, mut db_port) = (None, None, None);
    for (_, svc) in services {
        let image = svc
            .get("image")
            .and_then(|i| i.as_str())
            .map(|i| interpolate(i, &env));
        let name = svc.get("container_name").and_then(|n| n.as_str());
        if name == Some("mathesar_service") {
            mathesar = true;
            service_image = image.clone();
        }
        for p in svc
            .get("ports")
            .and_then(|p| p.as_sequence())
            .into_iter()
            .flatten()
        {
            let Some(p) = p.as_str().map(|p| interpolate(p, &env)) else {
                continue;
            };
            let Some((host, container)) = published(&p) else {
                continue;
            };
            match container {
                80 => http_port = Some(host),
                443 => https_port = Some(host),
                5432 => db_port = Some(host),
                _ => {}
            }
        }
    }
    if !mathesar {
        return None;
    }
    let origin = if env.contains_key("DJANGO_DATABASE_URL") {
        Origin::Guided
    } else {
        Origin::Compose
    };
    Some(Files {
        dir: dir.into(),
        origin,
        env,
        env_bytes,
        compose_bytes,
        service_image,
        http_port,
        https_port,
        db_port,
    })
}

/// `${VAR}`, `${VAR:-default}` and `${VAR-default}` replaced as Compose does, from `.env`.
fn interpolate(s: &str, env: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find("${") {
        out.push_str(&rest[..i]);
        let Some(end) = rest[i..].find('}') else {
            out.push_str(&rest[i..]);
            return out;
        };
        let expr = &rest[i + 2..i + end];
        let value = if let Some((var, def)) = expr.split_once(":-") {
            env.get(var)
                .filter(|v| !v.is_empty())
                .cloned()
                .unwrap_or_else(|| def.into())
        } else if let Some((var, def)) = expr.split_once('-') {
            env.get(var).cloned().unwrap_or_else(|| def.into())
        } else {
            env.get(expr).cloned().unwrap_or_default()
        };
        out.push_str(&value);
        rest = &rest[i + end + 1..];
    }
    out.push_str(rest);
    out
}

/// `HOST:CONTAINER` or `IP:HOST:CONTAINER` (optionally `/tcp`): the host and container ports.
fn published(p: &str) -> Option<(u16, u16)> {
    let p = p.trim_end_matches("/tcp");
    let mut parts = p.rsplit(':');
    let container = parts.next()?.parse().ok()?;
    let host = parts.next()?.parse().ok()?;
    Some((host, container))
}

/// A regular file of root's in `dir`, not followed if a link; `None` when absent.
fn read(dir: &Path, name: &str) -> Result<Option<Vec<u8>>, AdoptError> {
    let io = |source| AdoptError::Io {
        path: dir.join(name),
        source,
    };
    let fd = dirs::open_dir(dir).map_err(io)?;
    let f = match fcntl::openat(
        &fd,
        name,
        OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC | OFlag::O_NONBLOCK,
        Mode::empty(),
    ) {
        Ok(f) => File::from(f),
        Err(nix::errno::Errno::ENOENT) => return Ok(None),
        Err(e) => return Err(io(e.into())),
    };
    let m = f.metadata().map_err(io)?;
    if !m.is_file() || m.len() > MAX_LEN {
        return Ok(None);
    }
    let mut bytes = Vec::new();
    f.take(MAX_LEN).read_to_end(&mut bytes).map_err(io)?;
    Ok(Some(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Upstream's 0.10.1 compose file, shortened (shared with tests/adopt.rs).
    const UPSTREAM_0_10_1: &str =
        include_str!("../../tests/fixtures/adopt/upstream-0.10.1-compose.yml");

    const GUIDED_0_1: &str = r#"
services:
  db:
    image: postgres:13
    container_name: mathesar_db
    ports:
      - "${POSTGRES_PORT:-5432}:5432"
    volumes:
      - postgresql_data:/var/lib/postgresql/data
  service:
    container_name: mathesar_service
    image: mathesar/mathesar-prod:latest
  caddy-reverse-proxy:
    ports:
      - "${HTTP_PORT-80}:80"
      - "${HTTPS_PORT-443}:443"
volumes:
  postgresql_data:
"#;

    fn files_of(env: &str, compose: &str) -> Option<Files> {
        let v: serde_yaml_ng::Value = serde_yaml_ng::from_str(compose).unwrap();
        let e = parse_env(env.as_bytes()).unwrap();
        from_parts(
            Path::new("/srv/mathesar"),
            e,
            env.into(),
            compose.into(),
            &v,
        )
    }

    #[test]
    fn an_upstream_compose_installation_is_recognised_with_its_ports() {
        let f = files_of(
            "SECRET_KEY=abc\nPOSTGRES_PASSWORD='pa$$ w'\n",
            UPSTREAM_0_10_1,
        )
        .unwrap();
        assert_eq!(f.origin, Origin::Compose);
        assert_eq!(f.service_image.as_deref(), Some("mathesar/mathesar:0.10.1"));
        assert_eq!(
            (f.http_port, f.https_port, f.db_port),
            (Some(8080), Some(8443), None)
        );
        assert_eq!(f.env["POSTGRES_PASSWORD"], "pa$$ w");
    }

    #[test]
    fn a_guided_installation_is_recognised_with_its_ports_from_the_env() {
        let env = "POSTGRES_USER='mathesar'\nPOSTGRES_PORT='5433'\nHTTP_PORT='8000'\n\
                   DJANGO_DATABASE_URL='postgresql://mathesar:pw@mathesar_db:5432/mathesar_django'\n";
        let f = files_of(env, GUIDED_0_1).unwrap();
        assert_eq!(f.origin, Origin::Guided);
        assert_eq!(
            (f.http_port, f.https_port, f.db_port),
            (Some(8000), Some(443), Some(5433))
        );
    }

    #[test]
    fn a_compose_file_without_mathesar_is_not_an_installation() {
        let other = "services:\n  web:\n    image: nginx\n    ports: [\"80:80\"]\n";
        assert!(files_of("A=1\n", other).is_none());
    }

    #[test]
    fn interpolation_follows_compose() {
        let env = BTreeMap::from([("A".to_string(), String::new())]);
        assert_eq!(interpolate("${A:-x}/${A-y}/${B-z}/${B}", &env), "x//z/");
    }
}

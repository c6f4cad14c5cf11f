//! Which registry an image comes from, and the credentials `docker login` left for it: read the
//! way the Docker CLI reads them (`$DOCKER_CONFIG/config.json`, else root's `~/.docker`; `auths`,
//! then `credHelpers`/`credsStore` helpers), so that the hardened unit, which pulls through the
//! Engine API, uses what the administrator set up. Credentials never reach a message or `Debug`.

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;

use base64::Engine as _;
use bollard::auth::DockerCredentials;
use serde::Deserialize;

/// Docker Hub, as the CLI names it in config.json.
const HUB_KEY: &str = "https://index.docker.io/v1/";
pub(crate) const HUB: &str = "docker.io";

/// The registry host of an image reference (`docker.io` when it names none), by the Docker
/// rule: the first path component is a registry when it has a `.` or `:` or is `localhost`.
pub(crate) fn registry_of(image: &str) -> &str {
    match image.split_once('/') {
        Some((first, _)) if first.contains(['.', ':']) || first == "localhost" => first,
        _ => HUB,
    }
}

/// Where credentials for a registry were found (what `doctor` may show).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Source {
    /// None: the registry is pulled from anonymously.
    None,
    /// An `auths` entry of this config.json.
    File(PathBuf),
    /// A credential helper program (`docker-credential-NAME`).
    Helper(String),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::None => write!(f, "no credentials (anonymous pulls)"),
            Source::File(p) => write!(f, "credentials present in {}", p.display()),
            Source::Helper(h) => write!(f, "credentials from the helper docker-credential-{h}"),
        }
    }
}

/// Credentials for one registry. `Debug` shows only the user name.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Credentials {
    pub registry: String,
    pub username: String,
    password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Credentials({}@{}, <redacted>)",
            self.username, self.registry
        )
    }
}

impl Credentials {
    /// The header value the Engine API wants (`X-Registry-Auth`).
    pub(crate) fn for_engine(&self) -> DockerCredentials {
        DockerCredentials {
            username: Some(self.username.clone()),
            password: Some(self.password.clone()),
            serveraddress: Some(self.registry.clone()),
            ..Default::default()
        }
    }
}

/// The credentials found for a registry, and where.
#[derive(Clone, Debug)]
pub(crate) struct Lookup {
    pub source: Source,
    pub credentials: Option<Credentials>,
    /// Why an entry that exists could not be used (a broken config.json, a failing helper).
    pub problem: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct ConfigFile {
    #[serde(default)]
    auths: HashMap<String, AuthEntry>,
    #[serde(default, rename = "credHelpers")]
    cred_helpers: HashMap<String, String>,
    #[serde(default, rename = "credsStore")]
    creds_store: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct AuthEntry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
}

/// The config.json the Docker CLI would read as this process.
pub(crate) fn config_path() -> PathBuf {
    if let Some(d) = std::env::var_os("DOCKER_CONFIG").filter(|d| !d.is_empty()) {
        return PathBuf::from(d).join("config.json");
    }
    // The unit sets no HOME: the home of the user running us (root) from the password database.
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            nix::unistd::User::from_uid(nix::unistd::getuid())
                .ok()
                .flatten()
                .map(|u| u.dir)
        })
        .unwrap_or_else(|| PathBuf::from("/root"));
    home.join(".docker/config.json")
}

/// The credentials for `registry` from the Docker CLI's configuration.
pub(crate) fn lookup(registry: &str) -> Lookup {
    lookup_at(&config_path(), registry)
}

fn lookup_at(path: &std::path::Path, registry: &str) -> Lookup {
    let path = path.to_path_buf();
    let none = Lookup {
        source: Source::None,
        credentials: None,
        problem: None,
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return none,
        Err(e) => {
            return Lookup {
                problem: Some(format!("cannot read {}: {e}", path.display())),
                ..none
            };
        }
    };
    let config: ConfigFile = match serde_json::from_str(&text) {
        Ok(c) => c,
        Err(e) => {
            return Lookup {
                problem: Some(config_problem(&path, &e)),
                ..none
            };
        }
    };
    lookup_in(&config, &path, registry, &run_helper)
}

/// Line and column only: serde's message quotes the value, an `auth` among them.
fn config_problem(path: &std::path::Path, e: &serde_json::Error) -> String {
    format!(
        "{} is not a valid Docker client configuration (line {}, column {}; the text is not shown, it may hold credentials); fix it with `docker login` or by hand",
        path.display(),
        e.line(),
        e.column()
    )
}

/// Runs a credential helper: (helper name, server) -> (user name, secret).
type Helper = dyn Fn(&str, &str) -> Result<(String, String), String>;

fn lookup_in(
    config: &ConfigFile,
    path: &std::path::Path,
    registry: &str,
    helper: &Helper,
) -> Lookup {
    let key = if registry == HUB { HUB_KEY } else { registry };
    let helper_name = config
        .cred_helpers
        .get(key)
        .or(config.creds_store.as_ref())
        .filter(|h| !h.is_empty());
    let found = |source: Source, pair: Result<(String, String), String>| match pair {
        Ok((username, password)) => Lookup {
            source,
            credentials: Some(Credentials {
                registry: registry.to_string(),
                username,
                password,
            }),
            problem: None,
        },
        Err(problem) => Lookup {
            source,
            credentials: None,
            problem: Some(problem),
        },
    };
    if let Some(h) = helper_name {
        return found(Source::Helper(h.clone()), helper(h, key));
    }
    let entry = config.auths.iter().find(|(k, _)| same_registry(k, key));
    let Some((_, entry)) = entry else {
        return Lookup {
            source: Source::None,
            credentials: None,
            problem: None,
        };
    };
    let pair = match (&entry.auth, &entry.username, &entry.password) {
        (Some(a), _, _) if !a.is_empty() => base64::engine::general_purpose::STANDARD
            .decode(a.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| {
                s.split_once(':')
                    .map(|(u, p)| (u.to_string(), p.to_string()))
            }),
        (_, Some(u), Some(p)) => Some((u.clone(), p.clone())),
        _ => None,
    };
    found(
        Source::File(path.to_path_buf()),
        pair.ok_or_else(|| {
            format!(
                "the entry for {registry} in {} holds no usable user name and password",
                path.display()
            )
        }),
    )
}

/// `auths` keys may be written with a scheme and a path (`https://reg.example.org/v1/`).
fn same_registry(key: &str, registry: &str) -> bool {
    let bare = |s: &str| {
        let s = s
            .trim_start_matches("https://")
            .trim_start_matches("http://");
        s.split('/').next().unwrap_or(s).to_string()
    };
    key == registry || bare(key) == bare(registry)
}

/// A credential helper may ask a keyring or a network service; it never holds a pull for longer.
const HELPER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// `docker-credential-NAME get`: the server on stdin, `{"Username","Secret"}` on stdout.
fn run_helper(name: &str, server: &str) -> Result<(String, String), String> {
    #[derive(Deserialize)]
    struct Answer {
        #[serde(rename = "Username")]
        username: String,
        #[serde(rename = "Secret")]
        secret: String,
    }
    let program = format!("docker-credential-{name}");
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        return Err(format!("the credential helper name `{name}` is not valid"));
    }
    let out =
        crate::process::output_blocking(&program, &["get"], server.as_bytes(), HELPER_TIMEOUT)
            .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!("{program} has no credentials for {server}"));
    }
    let a: Answer = serde_json::from_slice(&out.stdout)
        .map_err(|_| format!("{program} answered something that is not credentials"))?;
    Ok((a.username, a.secret))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(json: &str) -> ConfigFile {
        serde_json::from_str(json).unwrap()
    }

    fn no_helper(_: &str, _: &str) -> Result<(String, String), String> {
        Err("no helper".into())
    }

    #[test]
    fn registry_of_follows_the_docker_rule() {
        assert_eq!(registry_of("mathesar/mathesar:0.11.0"), "docker.io");
        assert_eq!(registry_of("postgres:17"), "docker.io");
        assert_eq!(
            registry_of("127.0.0.1:5115/mathesar/mathesar:0.11.0"),
            "127.0.0.1:5115"
        );
        assert_eq!(registry_of("reg.example.org/m/caddy:2"), "reg.example.org");
        assert_eq!(registry_of("localhost/x:1"), "localhost");
    }

    #[test]
    fn auths_entries_are_decoded_and_never_shown() {
        let c = config(r#"{"auths":{"reg.example.org:5000":{"auth":"YWRtaW46czNjcjN0OnBhc3M="}}}"#);
        let l = lookup_in(
            &c,
            "/root/.docker/config.json".as_ref(),
            "reg.example.org:5000",
            &no_helper,
        );
        let cr = l.credentials.unwrap();
        assert_eq!(cr.username, "admin");
        assert_eq!(cr.password, "s3cr3t:pass");
        assert!(!format!("{cr:?}").contains("s3cr3t"));
        assert_eq!(l.source, Source::File("/root/.docker/config.json".into()));
        assert!(!l.source.to_string().contains("s3cr3t"));
    }

    #[test]
    fn hub_and_scheme_keys_match() {
        let c = config(
            r#"{"auths":{"https://index.docker.io/v1/":{"auth":"dTpw"},"https://reg.example.org/v2/":{"auth":"YTpi"}}}"#,
        );
        let p = std::path::Path::new("/c");
        assert_eq!(
            lookup_in(&c, p, HUB, &no_helper)
                .credentials
                .unwrap()
                .username,
            "u"
        );
        assert_eq!(
            lookup_in(&c, p, "reg.example.org", &no_helper)
                .credentials
                .unwrap()
                .username,
            "a"
        );
        assert_eq!(
            lookup_in(&c, p, "other.example.org", &no_helper).source,
            Source::None
        );
    }

    #[test]
    fn helpers_come_before_auths_and_their_failure_is_a_problem() {
        let c =
            config(r#"{"auths":{"r.example":{"auth":"dTpw"}},"credHelpers":{"r.example":"pass"}}"#);
        let ok = |h: &str, s: &str| Ok((format!("{h}-user"), format!("{s}-secret")));
        let l = lookup_in(&c, "/c".as_ref(), "r.example", &ok);
        assert_eq!(l.source, Source::Helper("pass".into()));
        assert_eq!(l.credentials.unwrap().username, "pass-user");
        let l = lookup_in(&c, "/c".as_ref(), "r.example", &no_helper);
        assert!(l.credentials.is_none() && l.problem.is_some());
    }

    #[test]
    fn an_entry_without_a_password_is_a_problem_not_anonymous() {
        let c = config(r#"{"auths":{"r.example":{}}}"#);
        let l = lookup_in(&c, "/c".as_ref(), "r.example", &no_helper);
        assert!(l.credentials.is_none());
        assert!(l.problem.unwrap().contains("no usable"));
    }

    /// A malformed `auths` entry: the problem names the file and the place, never the text.
    #[test]
    fn a_malformed_entry_is_reported_without_its_text() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(
            d.path().join("config.json"),
            r#"{"auths":{"r.example":"dXNlcjpzM2NyM3Q="}}"#,
        )
        .unwrap();
        let l = lookup_at(&d.path().join("config.json"), "r.example");
        let p = l.problem.unwrap();
        assert!(!p.contains("dXNlcjpzM2NyM3Q"), "{p}");
        assert!(p.contains("line 1"), "{p}");
    }
}

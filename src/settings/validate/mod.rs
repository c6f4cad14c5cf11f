//! The rules one answer must meet on its own. Each returns the reason a value is refused, worded to
//! follow "is refused: ".
//!
//! Each answer has exactly one [`Rule`] (named in the table of [`super::keys`]): what an empty
//! value means, how a value is checked, and the canonical form it is stored in. `configure`
//! ([`super::Settings::from_answers`]), the debconf questions and the terminal prompts all go
//! through [`Key::parse`] and [`Key::given`], so they accept, refuse and normalise alike.

use std::net::IpAddr;
use std::path::{Component, Path, PathBuf};

use super::UserDb;
use super::keys::Key;
use crate::secrets::Secret;

/// What an empty answer means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Empty {
    /// The answer is needed: empty is refused (reported as missing).
    Refused,
    /// Empty means "none" (no domain, port not published, false ...).
    Unset,
    /// A secret: empty keeps the current one, or has one generated when there is none.
    KeepOrGenerate,
    /// A secret: empty keeps the current one; refused when there is none.
    Keep,
}

/// An answer's value once its rule accepted it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    Text(String),
    Port(u16),
    Flag(bool),
    Path(PathBuf),
    UserDb(UserDb),
    SslMode(SslMode),
    Secret(Secret),
    Number(u32),
}

impl Value {
    /// The canonical text: what is stored and shown (secrets exactly as given).
    pub fn canonical(&self) -> String {
        match self {
            Value::Text(t) => t.clone(),
            Value::Port(p) => p.to_string(),
            Value::Flag(b) => b.to_string(),
            Value::Path(p) => p.display().to_string(),
            Value::UserDb(u) => u.as_str().into(),
            Value::SslMode(m) => m.as_str().into(),
            Value::Secret(s) => s.expose().into(),
            Value::Number(n) => n.to_string(),
        }
    }
}

/// The typed accessors, each called for a key whose rule gives that kind of value; the
/// table-driven tests build settings from every key, so a mismatch cannot pass them.
macro_rules! accessors {
    ($($name:ident -> $t:ty = $variant:ident;)*) => {
        impl Value {
            $(pub fn $name(self) -> $t {
                match self {
                    Value::$variant(v) => v,
                    v => unreachable!("not a {} value: {v:?}", stringify!($variant)),
                }
            })*
        }
    };
}

accessors! {
    into_text -> String = Text;
    into_port -> u16 = Port;
    into_flag -> bool = Flag;
    into_path -> PathBuf = Path;
    into_user_db -> UserDb = UserDb;
    into_sslmode -> SslMode = SslMode;
    into_secret -> Secret = Secret;
    into_number -> u32 = Number;
}

/// The one rule of an answer.
#[derive(Clone, Copy)]
pub struct Rule {
    pub empty: Empty,
    /// Checks a value that is not empty and gives it in its typed, canonical form.
    check: fn(&str) -> Result<Value, String>,
}

impl Rule {
    const fn new(empty: Empty, check: fn(&str) -> Result<Value, String>) -> Rule {
        Rule { empty, check }
    }

    /// The same check, with another meaning for an empty value.
    const fn empty_is(self, empty: Empty) -> Rule {
        Rule { empty, ..self }
    }
}

pub(crate) const USER_DB: Rule = Rule::new(Empty::Refused, |v| user_db(v).map(Value::UserDb));
pub(crate) const PG_NAME: Rule = Rule::new(Empty::Refused, |v| pg_identifier(v).map(Value::Text));
pub(crate) const PASSWORD: Rule = Rule::new(Empty::KeepOrGenerate, |v| {
    password(v).map(|()| Value::Secret(Secret::new(v)))
});
/// The password of an existing server is the server's: any text is taken.
pub(crate) const SERVER_PASSWORD: Rule =
    Rule::new(Empty::Keep, |v| Ok(Value::Secret(Secret::new(v))));
pub(crate) const PORT: Rule = Rule::new(Empty::Refused, |v| port(v).map(Value::Port));
pub(crate) const OPTIONAL_PORT: Rule = PORT.empty_is(Empty::Unset);
pub(crate) const ADDRESS: Rule = Rule::new(Empty::Refused, |v| address(v).map(Value::Text));
/// A PostgreSQL server's host: one address (see [`db_host`]).
pub(crate) const DB_HOST: Rule = Rule::new(Empty::Refused, |v| db_host(v).map(Value::Text));
pub(crate) const OPTIONAL_DB_HOST: Rule = DB_HOST.empty_is(Empty::Unset);
pub(crate) const SSLMODE: Rule = Rule::new(Empty::Unset, |v| sslmode(v).map(Value::SslMode));
pub(crate) const DOMAIN: Rule = Rule::new(Empty::Unset, |v| domain(v).map(Value::Text));
pub(crate) const USERNAME: Rule = Rule::new(Empty::Refused, |v| username(v).map(Value::Text));
pub(crate) const EMAIL: Rule = Rule::new(Empty::Unset, |v| email(v).map(Value::Text));
pub(crate) const DIRECTORY: Rule = Rule::new(Empty::Refused, |v| directory(v).map(Value::Path));
pub(crate) const BOOLEAN: Rule = Rule::new(Empty::Unset, |v| boolean(v).map(Value::Flag));
/// The ACME directory URL of the CA that issues the domain's certificate.
pub(crate) const ACME_URL: Rule = Rule::new(Empty::Unset, |v| acme_url(v).map(Value::Text));
/// A file named by its absolute path (read and copied at configure time).
pub(crate) const OPTIONAL_FILE: Rule = Rule::new(Empty::Unset, |v| file(v).map(Value::Path));
/// Addresses and ranges whose forwarded headers are trusted (a proxy in front).
pub(crate) const PROXIES: Rule = Rule::new(Empty::Unset, |v| trusted_proxies(v).map(Value::Text));
/// The address a port is published on.
pub(crate) const OPTIONAL_BIND: Rule =
    Rule::new(Empty::Unset, |v| bind_address(v).map(Value::Text));
/// Gunicorn's workers: each is a process of its own (about 200 MB, see `settings::sizing`); 32 is
/// far beyond what one host's PostgreSQL connections carry (see `threads`).
pub(crate) const WORKERS: Rule = Rule::new(Empty::Unset, |v| number(v, 1, 32).map(Value::Number));
/// Threads per worker; workers x threads requests at once, each holding up to two PostgreSQL
/// connections (Mathesar's own database and the user database): 32 x 16 is the ceiling anyone
/// with a server to match may choose.
pub(crate) const THREADS: Rule = Rule::new(Empty::Unset, |v| number(v, 1, 16).map(Value::Number));
/// Gunicorn's `--timeout` in seconds: below 30 (gunicorn's default) a busy host restarts workers
/// that are merely slow; above an hour it no longer catches a hung worker.
pub(crate) const REQUEST_TIMEOUT: Rule =
    Rule::new(Empty::Unset, |v| number(v, 30, 3600).map(Value::Number));
/// The restic repository (`settings::backup::repository`), kept in its canonical text.
pub(crate) const BACKUP_REPOSITORY: Rule = Rule::new(Empty::Refused, |v| {
    super::backup::repository(v).map(|r| Value::Text(r.restic_url()))
});
/// A systemd calendar expression for the backup timer.
pub(crate) const CALENDAR: Rule = Rule::new(Empty::Refused, |v| {
    super::backup::schedule(v).map(Value::Text)
});
/// What `restic forget --prune` keeps.
pub(crate) const RETENTION: Rule = Rule::new(Empty::Refused, |v| {
    super::backup::retention(v).map(|r| Value::Text(r.to_string()))
});
/// The repository's password: restic's own, any text (an existing repository's is given as it
/// is); empty keeps the current one, or has one generated for a new repository.
pub(crate) const BACKUP_PASSWORD: Rule =
    Rule::new(Empty::KeepOrGenerate, |v| Ok(Value::Secret(Secret::new(v))));
pub(crate) const REGISTRY: Rule = Rule::new(Empty::Unset, |v| {
    Ok(Value::Text(registry(v)?.unwrap_or_default()))
});

impl Key {
    /// Checks a value with this answer's rule: `None` for an empty value (secrets count as empty
    /// only when they have no byte at all: they are taken byte for byte), which the caller judges
    /// with [`Rule::empty`].
    pub fn parse(self, raw: &str) -> Result<Option<Value>, String> {
        plain_text(raw)?;
        let empty = if self.is_secret() {
            raw.is_empty()
        } else {
            raw.trim().is_empty()
        };
        if empty {
            return Ok(None);
        }
        // A value whose canonical form is empty (`image-registry: /`) is empty.
        match (self.rule().check)(raw)? {
            Value::Text(t) if t.is_empty() => Ok(None),
            v => Ok(Some(v)),
        }
    }

    /// An answer given now (a debconf question, a prompt): as [`Key::parse`], with an empty value
    /// judged by the rule. `has_current`: a current value exists that an empty secret keeps.
    pub fn given(self, raw: &str, has_current: bool) -> Result<Option<Value>, String> {
        let value = self.parse(raw)?;
        if value.is_none() {
            match self.rule().empty {
                Empty::Refused => return Err("it is empty".into()),
                Empty::Keep if !has_current => {
                    return Err("it is empty, and there is no current one to keep".into());
                }
                Empty::Unset | Empty::KeepOrGenerate | Empty::Keep => {}
            }
        }
        Ok(value)
    }
}

/// `bundled` or `existing`, in any case.
pub(crate) fn user_db(value: &str) -> Result<UserDb, String> {
    match value.trim().to_ascii_lowercase().as_str() {
        "bundled" => Ok(UserDb::Bundled),
        "existing" => Ok(UserDb::Existing),
        _ => Err("use `bundled` or `existing`".into()),
    }
}

/// Longest value accepted anywhere: far above any real password, far below anything that could
/// hurt a debconf database or an environment block.
pub(crate) const MAX_LEN: usize = 1024;

/// Refuses what cannot travel safely through `.env`, debconf and the environment.
pub(crate) fn plain_text(value: &str) -> Result<(), String> {
    if value.contains('\0') {
        return Err("it contains a NUL character".into());
    }
    if value.contains(['\n', '\r']) {
        return Err("it contains a line break".into());
    }
    if value.len() > MAX_LEN {
        return Err(format!("it is longer than {MAX_LEN} bytes"));
    }
    Ok(())
}

pub(crate) fn port(value: &str) -> Result<u16, String> {
    match value.trim().parse::<u32>() {
        Ok(p @ 1..=65535) => Ok(p as u16),
        Ok(_) => Err("a port is a whole number from 1 to 65535".into()),
        Err(_) => Err("a port is a whole number from 1 to 65535".into()),
    }
}

/// An empty value means "not published".
#[cfg(test)]
pub(crate) fn optional_port(value: &str) -> Result<Option<u16>, String> {
    if value.trim().is_empty() {
        Ok(None)
    } else {
        port(value).map(Some)
    }
}

/// A whole number from `min` to `max`.
pub(crate) fn number(value: &str, min: u32, max: u32) -> Result<u32, String> {
    match value.trim().parse::<u32>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(format!("use a whole number from {min} to {max}")),
    }
}

pub(crate) fn boolean(value: &str) -> Result<bool, String> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "1" | "on" => Ok(true),
        "false" | "no" | "0" | "off" | "" => Ok(false),
        _ => Err("use true or false".into()),
    }
}

/// A DNS host name (RFC 1123), returned in lower case.
pub(crate) fn host_name(value: &str) -> Result<String, String> {
    let v = value.trim().trim_end_matches('.').to_ascii_lowercase();
    if v.is_empty() {
        return Err("it is empty".into());
    }
    if v.len() > 253 {
        return Err("a host name has at most 253 characters".into());
    }
    for label in v.split('.') {
        let ok = !label.is_empty()
            && label.len() <= 63
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-');
        if !ok {
            return Err(format!(
                "`{label}` is not a valid host name label (letters, digits and inner hyphens, 1 to 63 characters)"
            ));
        }
    }
    Ok(v)
}

/// A domain for automatic HTTPS: a host name, not an IP address.
pub(crate) fn domain(value: &str) -> Result<String, String> {
    if value.trim().parse::<IpAddr>().is_ok() {
        return Err("it is an IP address; automatic HTTPS needs a domain name. Leave `domain` empty and set `external-address` to serve plain HTTP on an address".into());
    }
    host_name(value)
}

/// A host name or an IP address (IPv6 with or without brackets).
pub(crate) fn address(value: &str) -> Result<String, String> {
    let v = value.trim();
    let unbracketed = v.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = unbracketed.parse::<IpAddr>() {
        return Ok(ip.to_string());
    }
    host_name(v)
}

/// A PostgreSQL server's host: one host name or IP address. A highly available cluster is
/// reached through one address that always leads to its primary (HAProxy checking Patroni's
/// REST API `/primary`, or a virtual IP): Mathesar takes one host and one port for its own
/// database (`POSTGRES_HOST`, `POSTGRES_PORT` parsed as one number) and stores one host and one
/// port per user database, and has no place for libpq's `target_session_attrs`, so a libpq list
/// of hosts could land its writes on a read-only replica.
pub(crate) fn db_host(value: &str) -> Result<String, String> {
    let v = value.trim();
    if v.contains(',') {
        return Err(format!(
            "`{v}` names several hosts; Mathesar connects to one address. For a highly available \
             PostgreSQL (Patroni), give the address that always leads to the primary: a load \
             balancer such as HAProxy checking Patroni's REST API `/primary`, or the cluster's \
             virtual IP (README: \"Several hosts\")"
        ));
    }
    if v.contains("://") || v.contains('=') {
        return Err("give a host name or an IP address, not a connection string".into());
    }
    address(v)
}

/// Whether a database host names this machine itself, which a container cannot reach by that name.
pub(crate) fn is_loopback_host(host: &str) -> bool {
    let h = host.trim().trim_start_matches('[').trim_end_matches(']');
    h.eq_ignore_ascii_case("localhost")
        || h.parse::<IpAddr>()
            .map(|ip| ip.is_loopback())
            .unwrap_or(false)
}

/// A PostgreSQL identifier that needs no quoting (database and role names).
pub(crate) fn pg_identifier(value: &str) -> Result<String, String> {
    let v = value.trim();
    let first_ok = v
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if !first_ok || !v.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(
            "use letters, digits and underscores, starting with a letter or underscore".into(),
        );
    }
    if v.len() > 63 {
        return Err("PostgreSQL names have at most 63 characters".into());
    }
    if v.to_ascii_lowercase().starts_with("pg_") {
        return Err("names starting with pg_ are reserved by PostgreSQL".into());
    }
    if v.chars().any(|c| c.is_ascii_uppercase()) {
        return Err("use lower case: PostgreSQL folds unquoted names to lower case".into());
    }
    Ok(v.to_string())
}

/// TLS to an external PostgreSQL server, with libpq's meaning; what each protects:
/// `disable`: nothing (no TLS); `prefer`: encrypted when the server offers TLS, no protection
/// against an active attacker (who can refuse TLS or present any certificate); `require`:
/// encrypted, the server not verified; `verify-ca`: encrypted, the server's certificate signed by
/// the CA of `db-ca-file`; `verify-full`: that, and the certificate names the host connected to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    #[default]
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    pub const ALL: [SslMode; 5] = [
        SslMode::Disable,
        SslMode::Prefer,
        SslMode::Require,
        SslMode::VerifyCa,
        SslMode::VerifyFull,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }

    /// The server's certificate is checked against `db-ca-file`.
    pub fn verifies(self) -> bool {
        matches!(self, SslMode::VerifyCa | SslMode::VerifyFull)
    }

    /// What the mode protects, as the answers' help and the docs say it.
    pub fn protects(self) -> &'static str {
        match self {
            SslMode::Disable => "nothing: no TLS, the traffic can be read and changed",
            SslMode::Prefer => {
                "encrypted when the server offers TLS; no protection against an active attacker"
            }
            SslMode::Require => "encrypted; the server is not verified (any certificate is taken)",
            SslMode::VerifyCa => {
                "encrypted; the server's certificate is signed by the CA of db-ca-file"
            }
            SslMode::VerifyFull => {
                "encrypted; the server's certificate is signed by the CA of db-ca-file and names the host"
            }
        }
    }
}

pub(crate) fn sslmode(value: &str) -> Result<SslMode, String> {
    let v = value.trim().to_ascii_lowercase();
    if v.is_empty() {
        return Ok(SslMode::Prefer);
    }
    SslMode::ALL
        .into_iter()
        .find(|m| m.as_str() == v)
        .ok_or_else(|| "use verify-full, verify-ca, require, prefer or disable".into())
}

/// A Django user name: letters, digits and @ . + - _, at most 150 characters.
pub(crate) fn username(value: &str) -> Result<String, String> {
    let v = value.trim();
    if v.is_empty() || v.len() > 150 {
        return Err("a user name has 1 to 150 characters".into());
    }
    if !v
        .chars()
        .all(|c| c.is_alphanumeric() || "@.+-_".contains(c))
    {
        return Err("use letters, digits and @ . + - _ only".into());
    }
    // It reaches command lines (`createsuperuser --username`): never an option.
    if v.starts_with('-') {
        return Err("a user name cannot start with `-`".into());
    }
    Ok(v.to_string())
}

/// Empty, or one address of the form local@domain.
pub(crate) fn email(value: &str) -> Result<String, String> {
    let v = value.trim();
    if v.is_empty() {
        return Ok(String::new());
    }
    if v.starts_with('-') {
        return Err("an e-mail address cannot start with `-`".into());
    }
    match v.split_once('@') {
        Some((local, dom))
            if !local.is_empty()
                && !dom.contains('@')
                && host_name(dom).is_ok()
                && !v.chars().any(|c| c.is_whitespace() || c.is_control()) =>
        {
            Ok(v.to_string())
        }
        _ => Err("it is not an e-mail address of the form name@example.org".into()),
    }
}

/// Minimum length of a password the administrator chooses (the seed's rule).
pub(crate) const MIN_PASSWORD_LEN: usize = 8;

pub(crate) fn password(value: &str) -> Result<(), String> {
    plain_text(value)?;
    if value.chars().count() < MIN_PASSWORD_LEN {
        return Err(format!(
            "a password has at least {MIN_PASSWORD_LEN} characters"
        ));
    }
    Ok(())
}

/// An absolute directory that can be written into a compose volume line unchanged.
pub(crate) fn directory(value: &str) -> Result<PathBuf, String> {
    let v = value.trim();
    let p = Path::new(v);
    if !p.is_absolute() {
        return Err("use an absolute path".into());
    }
    if p.components().any(|c| matches!(c, Component::ParentDir)) {
        return Err("`..` is not allowed in the path".into());
    }
    if p.parent().is_none() {
        return Err("the root directory cannot be used".into());
    }
    if v.chars()
        .any(|c| c.is_whitespace() || c.is_control() || c == ':' || c == '$' || c == ',')
    {
        return Err(
            "spaces, `:`, `,` and `$` cannot be used in the path (Docker volume syntax)".into(),
        );
    }
    let p = PathBuf::from(v.trim_end_matches('/'));
    crate::storage::dirs::check_path(&p)?;
    Ok(p)
}

/// The `https://` URL of an ACME CA's directory (RFC 8555 speaks HTTPS only). Characters that
/// Caddy's configuration or `.env` would read as syntax are refused.
pub(crate) fn acme_url(value: &str) -> Result<String, String> {
    const EXAMPLE: &str = "use the https:// URL of the ACME CA's directory, such as https://acme.example.internal/acme/directory";
    let v = value.trim();
    let Some(rest) = v.strip_prefix("https://") else {
        return Err(EXAMPLE.into());
    };
    if v.chars().any(|c| {
        c.is_whitespace() || c.is_control() || "\"'`${}\\<>^|".contains(c) || !c.is_ascii()
    }) {
        return Err(format!(
            "it contains characters a URL cannot hold unencoded; {EXAMPLE}"
        ));
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return Err("credentials in the URL are not supported".into());
    }
    let host = if let Some(bracketed) = authority.strip_prefix('[') {
        let Some((ip, port)) = bracketed.split_once(']') else {
            return Err(EXAMPLE.into());
        };
        if !port.is_empty() {
            let p = port.strip_prefix(':').ok_or_else(|| EXAMPLE.to_string())?;
            self::port(p)?;
        }
        ip
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => {
                self::port(p)?;
                h
            }
            None => authority,
        }
    };
    if host.is_empty() {
        return Err(EXAMPLE.into());
    }
    address(host)?;
    Ok(v.to_string())
}

/// IP addresses and CIDR ranges (IPv4 or IPv6), separated by spaces or commas, stored separated
/// by single spaces: the proxies in front whose `X-Forwarded-*` headers are believed.
pub(crate) fn trusted_proxies(value: &str) -> Result<String, String> {
    let mut out = Vec::new();
    for item in value.split([' ', ',', '\t']).filter(|i| !i.is_empty()) {
        let (ip, len) = match item.split_once('/') {
            Some((ip, len)) => (ip, Some(len)),
            None => (item, None),
        };
        let ip: IpAddr = ip.parse().map_err(|_| {
            format!("`{item}` is not an IP address or range (such as 10.0.0.5 or 10.0.0.0/24)")
        })?;
        let max = if ip.is_ipv4() { 32 } else { 128 };
        match len.map(str::parse::<u8>) {
            None => out.push(ip.to_string()),
            Some(Ok(l)) if l <= max => out.push(format!("{ip}/{l}")),
            Some(_) => return Err(format!("`{item}`: a prefix length is 0 to {max}")),
        }
    }
    Ok(out.join(" "))
}

/// An IP address a port is published on (`127.0.0.1`: this machine only).
pub(crate) fn bind_address(value: &str) -> Result<String, String> {
    let v = value.trim().trim_start_matches('[').trim_end_matches(']');
    match v.parse::<IpAddr>() {
        Ok(ip) => Ok(ip.to_string()),
        Err(_) => {
            Err("use an IP address of this machine, such as 127.0.0.1 (this machine only)".into())
        }
    }
}

/// An absolute path of a file, taken as it is (the file is read when the configuration is
/// written, not here).
pub(crate) fn file(value: &str) -> Result<PathBuf, String> {
    let v = value.trim();
    let p = Path::new(v);
    if !p.is_absolute() {
        return Err("use an absolute path".into());
    }
    if v.ends_with('/') {
        return Err("it names a directory; name the file".into());
    }
    Ok(p.to_path_buf())
}

/// `registry.example.org:5000/mirror`, returned without a trailing slash.
pub(crate) fn registry(value: &str) -> Result<Option<String>, String> {
    let v = value.trim().trim_end_matches('/');
    if v.is_empty() {
        return Ok(None);
    }
    let ok = v
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "._-:/".contains(c));
    // Every path component a name: no `.` or `..`, which would climb out of the mirror's prefix.
    let components_ok = v
        .split('/')
        .all(|c| !c.is_empty() && c != "." && c != ".." && !c.starts_with(['.', '-']));
    if !ok || !components_ok {
        return Err("use a registry prefix such as registry.example.org:5000/mirror".into());
    }
    Ok(Some(v.to_string()))
}

#[cfg(test)]
mod tests;

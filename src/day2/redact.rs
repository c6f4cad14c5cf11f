//! Secrets out of support bundles: every secret value of the configuration (`.env` variables
//! named like a password, secret, token or key, secret answers of `answers.yml` and
//! `docker-compose.override.yml`, and the initial admin password) is replaced by `<redacted>`
//! wherever it appears, also in the forms it takes in `.env` quoting, Compose output (`$$`),
//! JSON and URLs (percent-encoded); and the value after any such variable name is masked
//! whatever it is. Configuration files enter a bundle from an allow-list only, each parsed and
//! re-written with its secret values masked ([`config_files`]), so that a secret split over
//! lines (a folded YAML string) is masked too.

use crate::secrets::percent_encode;
use std::path::Path;

pub(crate) const REDACTED: &str = "<redacted>";

/// Whether a variable of this name holds a secret.
pub(crate) fn is_secret_name(name: &str) -> bool {
    let n = name.to_ascii_uppercase();
    [
        "PASSWORD",
        "SECRET",
        "TOKEN",
        "PASSWD",
        "PRIVATE_KEY",
        "API_KEY",
    ]
    .iter()
    .any(|w| n.contains(w))
}

#[derive(Clone, Debug, Default)]
pub(crate) struct Redactor {
    /// Every form of every secret, longest first (so that a secret containing another is
    /// replaced whole).
    needles: Vec<String>,
}

impl Redactor {
    /// From the secret values themselves.
    pub(crate) fn new<S: AsRef<str>>(secrets: impl IntoIterator<Item = S>) -> Redactor {
        let mut needles: Vec<String> = Vec::new();
        for s in secrets {
            let s = s.as_ref();
            if s.is_empty() {
                continue;
            }
            let env_quoted = crate::storage::env_text::quote(s);
            let json = serde_json::to_string(s).unwrap_or_default();
            for form in [
                s.to_string(),
                env_quoted[1..env_quoted.len() - 1].to_string(),
                s.replace('$', "$$"),
                json[1..json.len().saturating_sub(1).max(1)].to_string(),
                percent_encode(s, false),
                percent_encode(s, true),
                percent_encode(s, false).replace("%20", "+"),
            ] {
                if !form.is_empty() && !needles.contains(&form) {
                    needles.push(form);
                }
            }
        }
        needles.sort_by(|a, b| b.len().cmp(&a.len()).then(a.cmp(b)));
        Redactor { needles }
    }

    /// From the configuration directory: secret-named variables of `.env`, secret answers of the
    /// YAML files and the admin password file.
    pub(crate) fn from_config_dir(dir: &Path) -> Redactor {
        let mut secrets = Vec::new();
        if let Ok(text) = std::fs::read_to_string(dir.join(".env")) {
            for (name, value) in env_pairs(&text) {
                if is_secret_name(&name) {
                    secrets.push(value);
                }
            }
        }
        for name in YAML_FILES {
            if let Ok(text) = std::fs::read_to_string(dir.join(name)) {
                if let Some((_, found)) = redact_yaml(&text) {
                    secrets.extend(found);
                }
            }
        }
        // The backup repository's password and its REST server's too (their own files, never
        // in `.env`; the REST one reaches restic inside a URL: `new` covers its encoded forms).
        for name in [
            "initial-admin-password",
            ".admin-password",
            "backup-password",
            "backup-rest-password",
        ] {
            if let Ok(pw) = std::fs::read_to_string(dir.join(name)) {
                let pw = pw.strip_suffix('\n').unwrap_or(&pw).to_string();
                secrets.push(pw);
            }
        }
        Redactor::new(secrets)
    }

    /// `text` with every secret replaced and the values of secret-named variables masked.
    pub(crate) fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        for n in &self.needles {
            if out.contains(n.as_str()) {
                out = out.replace(n.as_str(), REDACTED);
            }
        }
        out.split_inclusive('\n')
            .map(mask_line)
            .collect::<Vec<_>>()
            .concat()
    }
}

/// The configuration files a support bundle may carry; nothing else of the configuration
/// directory goes in (the admin password file, the lock, leftovers).
const ENV_FILE: &str = ".env";
/// Rendered by mathesarctl itself from a template: carried as it is (secrets only by reference).
const COMPOSE_FILE: &str = "docker-compose.yml";
/// Written by the administrator: parsed, secret values masked.
const YAML_FILES: [&str; 2] = ["docker-compose.override.yml", "answers.yml"];

/// `.env` pairs, also from a file damaged by hand: lines that do not parse are skipped (they
/// are not carried into a bundle either).
fn env_pairs(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|l| crate::storage::env_text::parse(l).ok())
        .flatten()
        .collect()
}

/// The allow-listed configuration files of `dir`, each with its secret values masked, then
/// passed through `r`: (name, text) for the bundle.
pub(crate) fn config_files(dir: &Path, r: &Redactor) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if let Ok(text) = std::fs::read_to_string(dir.join(ENV_FILE)) {
        let mut masked = String::new();
        for (name, value) in env_pairs(&text) {
            let value = if is_secret_name(&name) {
                REDACTED.to_string()
            } else {
                crate::storage::env_text::quote(&value)
            };
            masked.push_str(&format!("{name}={value}\n"));
        }
        out.push((ENV_FILE.to_string(), r.redact(&masked)));
    }
    if let Ok(text) = std::fs::read_to_string(dir.join(COMPOSE_FILE)) {
        out.push((COMPOSE_FILE.to_string(), r.redact(&text)));
    }
    for name in YAML_FILES {
        if let Ok(text) = std::fs::read_to_string(dir.join(name)) {
            let shown = match redact_yaml(&text) {
                Some((masked, _)) => r.redact(&masked),
                None => "not included: not valid YAML\n".to_string(),
            };
            out.push((name.to_string(), shown));
        }
    }
    out
}

/// A YAML document with every value under a secret-named key, and every `NAME=value` list item
/// with a secret NAME, masked; with the secret values found. `None` when it is not YAML.
pub(crate) fn redact_yaml(text: &str) -> Option<(String, Vec<String>)> {
    use serde_yaml_ng::Value;
    fn scalars(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::String(s) => out.push(s.clone()),
            Value::Number(n) => out.push(n.to_string()),
            Value::Sequence(items) => items.iter().for_each(|i| scalars(i, out)),
            Value::Mapping(m) => m.iter().for_each(|(_, i)| scalars(i, out)),
            Value::Tagged(t) => scalars(&t.value, out),
            _ => {}
        }
    }
    fn walk(v: &mut Value, found: &mut Vec<String>) {
        match v {
            Value::Mapping(m) => {
                for (k, item) in m.iter_mut() {
                    let secret = match k {
                        Value::String(k) => is_secret_name(k),
                        _ => false,
                    };
                    if secret {
                        scalars(item, found);
                        *item = Value::String(REDACTED.into());
                    } else {
                        walk(item, found);
                    }
                }
            }
            Value::Sequence(items) => {
                for item in items {
                    if let Value::String(s) = item {
                        if let Some((name, value)) = s.split_once('=') {
                            if is_secret_name(name) {
                                found.push(value.to_string());
                                *s = format!("{name}={REDACTED}");
                                continue;
                            }
                        }
                    }
                    walk(item, found);
                }
            }
            Value::Tagged(t) => walk(&mut t.value, found),
            _ => {}
        }
    }
    let mut doc: Value = serde_yaml_ng::from_str(text).ok()?;
    let mut found = Vec::new();
    walk(&mut doc, &mut found);
    found.retain(|s| !s.is_empty());
    Some((serde_yaml_ng::to_string(&doc).ok()?, found))
}

/// Masks what follows `NAME=` or `NAME:` on a line when NAME names a secret.
fn mask_line(line: &str) -> String {
    let (body, end) = match line.strip_suffix('\n') {
        Some(b) => (b, "\n"),
        None => (line, ""),
    };
    let bytes = body.as_bytes();
    let is_ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_' || c == b'-' || c == b'.';
    let mut i = 0;
    while i < bytes.len() {
        if !is_ident(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && is_ident(bytes[i]) {
            i += 1;
        }
        let name = &body[start..i];
        // NAME, then an optional closing quote and spaces, then `=` or `:`.
        let mut j = i;
        if j < bytes.len() && (bytes[j] == b'"' || bytes[j] == b'\'') {
            j += 1;
        }
        while j < bytes.len() && bytes[j] == b' ' {
            j += 1;
        }
        if j < bytes.len() && (bytes[j] == b'=' || bytes[j] == b':') && is_secret_name(name) {
            let value = body[j + 1..].trim();
            if value.is_empty() || value == REDACTED || value == "\"\"" || value == "''" {
                return line.to_string();
            }
            let sep = if bytes[j] == b':' { ": " } else { "=" };
            return format!("{}{sep}{REDACTED}{end}", &body[..j]);
        }
    }
    line.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOSTILE: &str = "p'a\"s$s #\\ w${x}\u{f6} end";

    #[test]
    fn every_form_of_a_secret_is_replaced() {
        let r = Redactor::new([HOSTILE, "S3cretKey0123456789"]);
        let env_form = crate::storage::env_text::quote(HOSTILE);
        let json_form = serde_json::to_string(HOSTILE).unwrap();
        let compose_form = HOSTILE.replace('$', "$$");
        let text = format!(
            "raw {HOSTILE} env {env_form} json {json_form} compose {compose_form} key S3cretKey0123456789 and more\n"
        );
        let out = r.redact(&text);
        assert!(!out.contains("w${x}"), "{out}");
        assert!(!out.contains("w$${x}"), "{out}");
        assert!(!out.contains("S3cretKey"), "{out}");
        assert!(out.contains("and more"), "{out}");
        assert_eq!(out.matches(REDACTED).count(), 5, "{out}");
    }

    /// The forms a secret takes in a configuration: URL-encoded in a connection string, folded
    /// over lines in `answers.yml`, in an override's environment (map and list forms).
    #[test]
    fn configuration_files_carry_no_secret_in_any_form() {
        let d = tempfile::tempdir().unwrap();
        let pw = "p@ss w/rd:1?#x";
        let folded = "fold3d-secret-first-part fold3d-secret-second-part";
        std::fs::write(
            d.path().join(".env"),
            format!(
                "MATHESAR_DB_PASSWORD={}\nPOSTGRES_USER=\"mathesar\"\nbroken line s3cr3t-broken\n",
                crate::storage::env_text::quote(pw)
            ),
        )
        .unwrap();
        std::fs::write(
            d.path().join("answers.yml"),
            "http-port: 80\ndb-password: >-\n  fold3d-secret-first-part\n  fold3d-secret-second-part\n",
        )
        .unwrap();
        std::fs::write(
            d.path().join("docker-compose.override.yml"),
            "services:\n  service:\n    environment:\n      EXTRA_TOKEN: 0verride-t0ken\n  db:\n    environment:\n      - OTHER_PASSWORD=l1st-passw0rd\n    command: [\"--url\", \"postgres://u:p%40ss%20w%2Frd%3A1%3F%23x@h/db\"]\n",
        )
        .unwrap();
        std::fs::write(d.path().join("initial-admin-password"), "Adm1n-pw-0003\n").unwrap();
        std::fs::write(d.path().join("backup-password"), "Rep0-pw-0004\n").unwrap();
        std::fs::write(d.path().join("backup-rest-password"), "Rest-pw@0005\n").unwrap();
        std::fs::write(d.path().join("notes.txt"), "n0tes-secret\n").unwrap();
        let r = Redactor::from_config_dir(d.path());
        let files = config_files(d.path(), &r);
        let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [".env", "docker-compose.override.yml", "answers.yml"]
        );
        let all: String = files.iter().map(|(_, t)| t.as_str()).collect();
        let log = r.redact(&format!(
            "connect postgres://u:{}@h/db and {} then {} (Rep0-pw-0004) rest:http://b:Rest-pw%400005@h/\n",
            percent_encode(pw, false),
            percent_encode(pw, true),
            folded
        ));
        for text in [&all, &log] {
            for secret in [
                pw,
                "p%40ss",
                "fold3d-secret",
                "0verride-t0ken",
                "l1st-passw0rd",
                "Adm1n-pw",
                "n0tes-secret",
                "s3cr3t-broken",
                "Rep0-pw",
                "Rest-pw",
            ] {
                assert!(!text.contains(secret), "{secret} in {text}");
            }
        }
        assert!(
            all.contains("http-port: 80") && all.contains("POSTGRES_USER=\"mathesar\""),
            "{all}"
        );
    }

    #[test]
    fn secret_named_variables_are_masked_whatever_their_value() {
        let r = Redactor::new(Vec::<String>::new());
        let text = "POSTGRES_USER=\"mathesar\"\nPOSTGRES_PASSWORD=\"unknown-value\"\n\
                    SECRET_KEY=abc\n  WATCHTOWER_HTTP_API_TOKEN: tok\n\
                    \"Env\": [\"POSTGRES_PASSWORD=zzz\", \"A=b\"],\n\
                    MATHESAR_EXISTING_DB_PASSWORD=\"\"\nplain line: password is a word\n";
        let out = r.redact(text);
        assert_eq!(
            out,
            "POSTGRES_USER=\"mathesar\"\nPOSTGRES_PASSWORD=<redacted>\n\
             SECRET_KEY=<redacted>\n  WATCHTOWER_HTTP_API_TOKEN: <redacted>\n\
             \"Env\": [\"POSTGRES_PASSWORD=<redacted>\n\
             MATHESAR_EXISTING_DB_PASSWORD=\"\"\nplain line: password is a word\n"
        );
    }

    #[test]
    fn secrets_come_from_the_env_file_and_the_admin_password_file() {
        let d = tempfile::tempdir().unwrap();
        let env = format!(
            "MATHESAR_DB_PASSWORD={}\nPOSTGRES_USER=\"mathesar\"\nSECRET_KEY=\"k3y-value-0001\"\n\
             MATHESAR_HTTP_PORT=\"80\"\n",
            crate::storage::env_text::quote(HOSTILE)
        );
        std::fs::write(d.path().join(".env"), &env).unwrap();
        std::fs::write(d.path().join("initial-admin-password"), "Adm1n-pw-0002\n").unwrap();
        let r = Redactor::from_config_dir(d.path());
        let text = format!(
            "{env}log: login as admin with Adm1n-pw-0002 using {HOSTILE}; key k3y-value-0001; port 80\n"
        );
        let out = r.redact(&text);
        for s in [HOSTILE, "Adm1n-pw-0002", "k3y-value-0001", "w${x}"] {
            assert!(!out.contains(s), "{s} in {out}");
        }
        assert!(out.contains("POSTGRES_USER=\"mathesar\""));
        assert!(out.contains("MATHESAR_HTTP_PORT=\"80\""));
        assert!(out.contains("port 80"));
    }
}

//! Secrets out of support bundles: every secret value of the configuration (`.env` variables
//! named like a password, secret, token or key, and the initial admin password) is replaced by
//! `<redacted>` wherever it appears, also in the forms it takes in `.env` quoting, Compose output
//! (`$$`) and JSON; and the value after any such variable name is masked whatever it is.

use std::path::Path;

pub const REDACTED: &str = "<redacted>";

/// Whether a variable of this name holds a secret.
pub fn is_secret_name(name: &str) -> bool {
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
pub struct Redactor {
    /// Every form of every secret, longest first (so that a secret containing another is
    /// replaced whole).
    needles: Vec<String>,
}

impl Redactor {
    /// From the secret values themselves.
    pub fn new<S: AsRef<str>>(secrets: impl IntoIterator<Item = S>) -> Redactor {
        let mut needles: Vec<String> = Vec::new();
        for s in secrets {
            let s = s.as_ref();
            if s.is_empty() {
                continue;
            }
            let env_quoted = crate::rendering::env_file::quote(s);
            let json = serde_json::to_string(s).unwrap_or_default();
            for form in [
                s.to_string(),
                env_quoted[1..env_quoted.len() - 1].to_string(),
                s.replace('$', "$$"),
                json[1..json.len().saturating_sub(1).max(1)].to_string(),
            ] {
                if !form.is_empty() && !needles.contains(&form) {
                    needles.push(form);
                }
            }
        }
        needles.sort_by(|a, b| b.len().cmp(&a.len()).then(a.cmp(b)));
        Redactor { needles }
    }

    /// From the configuration directory: secret-named variables of `.env` and the admin password
    /// file.
    pub fn from_config_dir(dir: &Path) -> Redactor {
        let mut secrets = Vec::new();
        if let Ok(text) = std::fs::read_to_string(dir.join(".env")) {
            for (name, value) in dotenvy::from_read_iter(text.as_bytes()).flatten() {
                if is_secret_name(&name) {
                    secrets.push(value);
                }
            }
        }
        if let Ok(pw) = std::fs::read_to_string(dir.join("initial-admin-password")) {
            let pw = pw.strip_suffix('\n').unwrap_or(&pw).to_string();
            secrets.push(pw);
        }
        Redactor::new(secrets)
    }

    pub fn secrets(&self) -> usize {
        self.needles.len()
    }

    /// `text` with every secret replaced and the values of secret-named variables masked.
    pub fn redact(&self, text: &str) -> String {
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
        let env_form = crate::rendering::env_file::quote(HOSTILE);
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
            crate::rendering::env_file::quote(HOSTILE)
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

//! Secret values: masked whenever formatted, generated from the operating system's random source.

use std::fmt;

use thiserror::Error;

/// A secret string. `Debug` and `Display` never show it; `expose` is the one way to read it.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(********)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(MASK)
    }
}

/// A text holding secrets (a whole `.env`), shown by `Debug` as its length only.
pub(crate) struct Redacted<'a>(pub &'a str);

impl fmt::Debug for Redacted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{} bytes, not shown>", self.0.len())
    }
}

/// What is shown in place of a secret.
pub(crate) const MASK: &str = "********";

#[derive(Debug, Error)]
#[error("the operating system's random source failed ({0}); no secret was generated")]
pub(crate) struct RandomError(String);

const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// Letters and digits only, so a generated value needs no quoting anywhere it may be typed.
pub(crate) fn generate(len: usize) -> Result<Secret, RandomError> {
    // Rejection sampling keeps every character equally likely (256 is not a multiple of 62).
    let limit = 256 - (256 % ALPHABET.len());
    let mut out = String::with_capacity(len);
    let mut buf = [0u8; 64];
    while out.len() < len {
        getrandom::fill(&mut buf).map_err(|e| RandomError(e.to_string()))?;
        for &b in &buf {
            if (b as usize) < limit && out.len() < len {
                out.push(ALPHABET[b as usize % ALPHABET.len()] as char);
            }
        }
    }
    Ok(Secret(out))
}

/// Length of a generated database or admin password.
pub(crate) const PASSWORD_LEN: usize = 32;
/// Length of a generated Django `SECRET_KEY`.
pub(crate) const SECRET_KEY_LEN: usize = 64;

/// Values that are not answers but belong to an installation: generated once, never regenerated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct State {
    /// Django's `SECRET_KEY`; it also encrypts stored database credentials, so it must never change.
    pub secret_key: Secret,
}

/// The `.env` variables holding the [`State`].
pub(crate) const SECRET_KEY_VAR: &str = "SECRET_KEY";

/// Every byte outside the URL-unreserved set as `%XX`.
pub(crate) fn percent_encode(s: &str, lower: bool) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else if lower {
            out.push_str(&format!("%{b:02x}"));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_secrets_have_the_length_and_alphabet_asked_for() {
        let a = generate(PASSWORD_LEN).unwrap();
        let b = generate(PASSWORD_LEN).unwrap();
        assert_eq!(a.expose().len(), PASSWORD_LEN);
        assert!(a.expose().bytes().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(a, b);
    }

    #[test]
    fn formatting_never_shows_the_value() {
        let s = Secret::new("hunter2-secret");
        assert!(!format!("{s} {s:?}").contains("hunter2"));
        let env = "POSTGRES_PASSWORD=\"hunter2\"\n";
        assert!(!format!("{:?}", Redacted(env)).contains("hunter2"));
    }
}

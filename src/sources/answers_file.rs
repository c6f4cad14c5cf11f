//! An answers file for unattended rollouts: a YAML mapping of answer names to single values.

use std::cell::RefCell;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, Visitor};
use thiserror::Error;

use crate::settings::{Answers, Key, Source};

/// Keys of an answers file that are not answers: taking over an installation (`adoption`).
pub const ADOPTION_KEYS: [&str; 2] = ["adopt", "adopt-from"];

#[derive(Debug, Error)]
pub enum AnswersFileError {
    #[error("cannot read the answers file {path}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the answers file {path} is not valid: {message}")]
    Invalid { path: PathBuf, message: String },
}

/// An answers file holds a few dozen short lines: anything larger is refused unread
/// (`--answers /dev/zero`).
pub const MAX_SIZE: u64 = 64 * 1024;

pub fn read(path: &Path) -> Result<Answers, AnswersFileError> {
    use std::io::Read;
    let read_err = |source| AnswersFileError::Read {
        path: path.to_path_buf(),
        source,
    };
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_SIZE + 1).read_to_end(&mut bytes))
        .map_err(read_err)?;
    if bytes.len() as u64 > MAX_SIZE {
        return Err(AnswersFileError::Invalid {
            path: path.to_path_buf(),
            message: format!(
                "it is larger than {} KiB, which no answers file is; name the right file",
                MAX_SIZE / 1024
            ),
        });
    }
    let text = String::from_utf8(bytes).map_err(|_| AnswersFileError::Invalid {
        path: path.to_path_buf(),
        message: "it is not UTF-8 text".into(),
    })?;
    parse(&text, path)
}

pub fn parse(text: &str, path: &Path) -> Result<Answers, AnswersFileError> {
    let invalid = |message: String| AnswersFileError::Invalid {
        path: path.to_path_buf(),
        message,
    };
    if text.trim().is_empty()
        || text
            .lines()
            .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'))
    {
        return Ok(Answers::new());
    }
    let current = RefCell::new(None);
    let pairs = serde_yaml_ng::Deserializer::from_str(text)
        .next()
        .map(|doc| PairsSeed(&current).deserialize(doc))
        .unwrap_or(Ok(Vec::new()))
        .map_err(|e| {
            // serde_yaml_ng places only its own errors; ours get the line of the answer being read.
            let msg = e.to_string();
            match current
                .borrow()
                .as_deref()
                .and_then(|name| line_of(text, name))
            {
                Some(line) if !msg.contains(" line ") => invalid(format!("line {line}: {msg}")),
                _ => invalid(msg),
            }
        })?;
    let mut answers = Answers::new();
    for (key, value) in pairs {
        let line = line_of(text, key.name());
        answers.set(
            key,
            value,
            Source::AnswersFile {
                path: path.to_path_buf(),
                line,
            },
        );
    }
    Ok(answers)
}

/// The line on which `name:` stands at the top level, for messages.
fn line_of(text: &str, name: &str) -> Option<usize> {
    text.lines()
        .position(|l| {
            l.strip_prefix(name)
                .is_some_and(|rest| rest.trim_start().starts_with(':'))
                || l.strip_prefix(&format!("\"{name}\""))
                    .is_some_and(|r| r.trim_start().starts_with(':'))
                || l.strip_prefix(&format!("'{name}'"))
                    .is_some_and(|r| r.trim_start().starts_with(':'))
        })
        .map(|i| i + 1)
}

/// Reads the mapping, remembering the name being read so that an error can name its line.
struct PairsSeed<'a>(&'a RefCell<Option<String>>);

impl<'de> DeserializeSeed<'de> for PairsSeed<'_> {
    type Value = Vec<(Key, String)>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        // Any: a non-mapping reaches the visitor, which refuses it without its text.
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for PairsSeed<'_> {
    type Value = Vec<(Key, String)>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a mapping of answer names to values, such as `http-port: 8080`")
    }

    // Anything but a mapping is refused without its text: a line such as `db-password=...` is
    // one YAML string, which serde's own message would quote, secret and all.
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Err(not_a_mapping())
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Err(not_a_mapping())
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Err(not_a_mapping())
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Err(not_a_mapping())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Err(not_a_mapping())
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
        Err(not_a_mapping())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out: Vec<(Key, String)> = Vec::new();
        while let Some(name) = map.next_key::<String>()? {
            *self.0.borrow_mut() = Some(name.clone());
            // Taking over an installation is a decision, not a setting: read by `adoption`.
            if ADOPTION_KEYS.contains(&name.as_str()) {
                map.next_value::<de::IgnoredAny>()?;
                continue;
            }
            let Some(key) = Key::from_name(&name) else {
                let known: Vec<_> = Key::ALL.iter().map(|k| k.name()).collect();
                return Err(de::Error::custom(format!(
                    "unknown answer `{name}` (known answers: {})",
                    known.join(", ")
                )));
            };
            if out.iter().any(|(k, _)| *k == key) {
                return Err(de::Error::custom(format!(
                    "the answer `{name}` is given twice"
                )));
            }
            let value = map.next_value_seed(ScalarSeed(key))?;
            out.push((key, value));
        }
        Ok(out)
    }
}

fn not_a_mapping<E: de::Error>() -> E {
    E::custom(
        "it is not a mapping of answer names to values: write one `name: value` per line (`name=value` is not YAML; the text is not shown, it may hold a secret)",
    )
}

/// One scalar value, turned into the text the other sources would give.
struct ScalarSeed(Key);

impl<'de> DeserializeSeed<'de> for ScalarSeed {
    type Value = String;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<String, D::Error> {
        d.deserialize_any(self)
    }
}

impl ScalarSeed {
    /// YAML turns `00123456` into 123456 and `1e3` into 1000: a secret must be quoted to stay exact.
    fn non_string<E: de::Error>(&self, text: String) -> Result<String, E> {
        if self.0.is_secret() {
            Err(E::custom(format!(
                "the answer `{}` must be written in quotes, so that it is taken byte for byte",
                self.0
            )))
        } else {
            Ok(text)
        }
    }
}

impl<'de> Visitor<'de> for ScalarSeed {
    type Value = String;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "a single value for the answer `{}`", self.0)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<String, E> {
        Ok(v)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<String, E> {
        self.non_string(v.to_string())
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
        self.non_string(v.to_string())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
        self.non_string(v.to_string())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<String, E> {
        self.non_string(v.to_string())
    }
    fn visit_unit<E: de::Error>(self) -> Result<String, E> {
        Ok(String::new())
    }
    fn visit_none<E: de::Error>(self) -> Result<String, E> {
        Ok(String::new())
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, _: A) -> Result<String, A::Error> {
        Err(de::Error::custom(format!(
            "the answer `{}` takes a single value, not a list",
            self.0
        )))
    }
    fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<String, A::Error> {
        Err(de::Error::custom(format!(
            "the answer `{}` takes a single value, not a mapping",
            self.0
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> Result<Answers, AnswersFileError> {
        parse(text, Path::new("/tmp/answers.yml"))
    }

    #[test]
    fn reads_every_scalar_kind() {
        let a = p("# fleet defaults\nhttp-port: 8080\nwatchtower: true\ndomain:\ndb-password: '00123456'\nadmin-email: a@example.org\n").unwrap();
        assert_eq!(a.value(Key::HttpPort), Some("8080"));
        assert_eq!(a.value(Key::Watchtower), Some("true"));
        assert_eq!(a.value(Key::Domain), Some(""));
        assert_eq!(a.value(Key::DbPassword), Some("00123456"));
        assert_eq!(
            a.get(Key::AdminEmail).unwrap().source,
            Source::AnswersFile {
                path: "/tmp/answers.yml".into(),
                line: Some(6)
            }
        );
    }

    /// `--answers /dev/zero`: refused after 64 KiB, not read for ever.
    #[test]
    fn an_endless_answers_file_is_refused() {
        let e = read(Path::new("/dev/zero")).unwrap_err().to_string();
        assert!(e.contains("larger than 64 KiB"), "{e}");
    }

    /// `db-password=...` is one YAML string: refused without its text.
    #[test]
    fn a_non_mapping_is_refused_without_its_text() {
        for text in [
            "db-password=s3cretPW99\n",
            "db-password=s3cretPW99\nhttp-port: 80\n",
            "- s3cretPW99\n",
        ] {
            let e = p(text).unwrap_err().to_string();
            assert!(!e.contains("s3cretPW99"), "{e}");
            assert!(e.contains("name: value"), "{e}");
        }
    }

    #[test]
    fn unknown_keys_are_named_with_their_line() {
        let e = p("http-port: 80\nhttp-prot: 81\n").unwrap_err().to_string();
        assert!(e.contains("unknown answer `http-prot`"), "{e}");
        assert!(e.contains("line 2"), "{e}");
    }

    #[test]
    fn wrong_types_are_named_with_their_line() {
        let e = p("http-port: 80\ndomain: [a, b]\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("`domain` takes a single value"), "{e}");
        assert!(e.contains("line 2"), "{e}");
        let e = p("db-password: 12345678\n").unwrap_err().to_string();
        assert!(e.contains("must be written in quotes"), "{e}");
        let e = p("- a\n- b\n").unwrap_err().to_string();
        assert!(e.contains("mapping of answer names"), "{e}");
    }

    #[test]
    fn duplicates_and_empty_files() {
        assert!(p("domain: a.org\ndomain: b.org\n").is_err());
        assert!(p("").unwrap().is_empty());
        assert!(p("# only comments\n").unwrap().is_empty());
    }

    #[test]
    fn hostile_strings_survive() {
        let a = p("db-password: \"p'a\\\"s$s #\\\\ w${x}\u{f6} end\"\n").unwrap();
        assert_eq!(
            a.value(Key::DbPassword),
            Some("p'a\"s$s #\\ w${x}\u{f6} end")
        );
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        // Whatever the file holds, the parser answers with answers or an error, never a panic.
        #[test]
        fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
            let _ = parse(&text, Path::new("/tmp/a.yml"));
        }

        // A value written as a YAML double-quoted (JSON) string comes back byte for byte.
        #[test]
        fn quoted_values_round_trip(v in "[ -~\u{e4}\u{f6}\u{df}\u{4e2d}]{0,128}") {
            let text = format!("db-password: {}\n", serde_json::to_string(&v).unwrap());
            let a = parse(&text, Path::new("/tmp/a.yml")).unwrap();
            prop_assert_eq!(a.value(Key::DbPassword), Some(v.as_str()));
        }
    }
}

//! Raw answers as the sources give them, each remembering where it came from, layered by precedence.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use super::keys::Key;
use crate::secrets::Secret;

/// Where an answer came from, for messages that tell the administrator what to change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    Default,
    Detected,
    Current(PathBuf),
    AnswersFile { path: PathBuf, line: Option<usize> },
    Environment(String),
    Debconf,
    Prompt,
    Generated,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Default => f.write_str("built-in default"),
            Source::Detected => f.write_str("detected"),
            Source::Current(p) => write!(f, "current configuration {}", p.display()),
            Source::AnswersFile {
                path,
                line: Some(l),
            } => {
                write!(f, "answers file {} line {l}", path.display())
            }
            Source::AnswersFile { path, line: None } => {
                write!(f, "answers file {}", path.display())
            }
            Source::Environment(var) => write!(f, "environment variable {var}"),
            Source::Debconf => f.write_str("debconf"),
            Source::Prompt => f.write_str("prompt"),
            Source::Generated => f.write_str("generated"),
        }
    }
}

/// One answer. The value of a secret answer ([`Key::is_secret`]) is held as a [`Secret`], so that
/// no `Debug` of answers (a log line, a test failure, a panic) shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    value: Text,
    pub source: Source,
}

#[derive(Clone, PartialEq, Eq)]
enum Text {
    Plain(String),
    Secret(Secret),
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Text::Plain(s) => fmt::Debug::fmt(s, f),
            Text::Secret(s) => fmt::Debug::fmt(s, f),
        }
    }
}

impl Answer {
    fn new(key: Key, value: String, source: Source) -> Answer {
        let value = if key.is_secret() {
            Text::Secret(Secret::new(value))
        } else {
            Text::Plain(value)
        };
        Answer { value, source }
    }

    /// The value as given (a secret's too: the one way to read it).
    pub fn value(&self) -> &str {
        match &self.value {
            Text::Plain(s) => s,
            Text::Secret(s) => s.expose(),
        }
    }
}

/// A set of answers; a later layer overrides an earlier one key by key.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Answers(BTreeMap<Key, Answer>);

impl Answers {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn set(&mut self, key: Key, value: impl Into<String>, source: Source) {
        self.0.insert(key, Answer::new(key, value.into(), source));
    }

    pub fn get(&self, key: Key) -> Option<&Answer> {
        self.0.get(&key)
    }

    pub fn value(&self, key: Key) -> Option<&str> {
        self.0.get(&key).map(Answer::value)
    }

    pub fn remove(&mut self, key: Key) -> Option<Answer> {
        self.0.remove(&key)
    }

    pub fn iter(&self) -> impl Iterator<Item = (Key, &Answer)> {
        self.0.iter().map(|(k, a)| (*k, a))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Lay `higher` over `self`: its answers win.
    pub fn overlay(mut self, higher: Answers) -> Answers {
        self.0.extend(higher.0);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_a_secret_answer() {
        let mut a = Answers::new();
        a.set(Key::DbPassword, "hunter2-db-secret", Source::Prompt);
        a.set(Key::ExistingDbPassword, "hunter2-server", Source::Debconf);
        a.set(Key::AdminPassword, "hunter2-admin", Source::Generated);
        a.set(Key::HttpPort, "8080", Source::Default);
        let shown = format!("{a:?} {:?}", a.get(Key::DbPassword));
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("8080"), "{shown}");
        // Every secret key is held as a secret.
        for &k in Key::ALL.iter().filter(|k| k.is_secret()) {
            let mut a = Answers::new();
            a.set(k, "hunter2-value", Source::Default);
            assert!(!format!("{a:?}").contains("hunter2"), "{k}");
            assert_eq!(a.value(k), Some("hunter2-value"));
        }
    }

    #[test]
    fn overlay_prefers_the_higher_layer_and_keeps_the_rest() {
        let mut low = Answers::new();
        low.set(Key::HttpPort, "80", Source::Default);
        low.set(Key::HttpsPort, "443", Source::Default);
        let mut high = Answers::new();
        high.set(
            Key::HttpPort,
            "8080",
            Source::Environment("MATHESAR_HTTP_PORT".into()),
        );
        let merged = low.overlay(high);
        assert_eq!(merged.value(Key::HttpPort), Some("8080"));
        assert_eq!(merged.value(Key::HttpsPort), Some("443"));
        assert_eq!(
            merged.get(Key::HttpPort).unwrap().source,
            Source::Environment("MATHESAR_HTTP_PORT".into())
        );
    }
}

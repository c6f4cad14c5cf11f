//! The answers' problems, collected while the answers are read, so that one run reports them all.

use std::fmt;

use thiserror::Error;

use super::answers::{Answers, Source};
use super::keys::Key;
use super::validate;
use crate::secrets::Secret;

/// What is wrong with one answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Problem {
    Missing,
    Invalid(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct AnswerError {
    pub key: Key,
    pub source: Option<Source>,
    pub problem: Problem,
}

impl fmt::Display for AnswerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let key = self.key;
        match &self.problem {
            Problem::Missing => write!(
                f,
                "the answer `{key}` is missing ({}). Give it in an answers file (`{key}: VALUE` with --answers FILE), \
                 in the environment ({}=VALUE), or as debconf question {} (debconf-set-selections)",
                key.help(),
                key.env_var(),
                key.debconf_question()
            ),
            Problem::Invalid(reason) => {
                write!(f, "the answer `{key}`")?;
                if let Some(src) = &self.source {
                    write!(f, " (from {src})")?;
                }
                write!(f, " is refused: {reason}")
            }
        }
    }
}

/// Every problem found, so that one run reports them all.
#[derive(Debug, Error)]
pub(crate) struct InvalidAnswers(pub Vec<AnswerError>);

impl fmt::Display for InvalidAnswers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
impl InvalidAnswers {
    pub(crate) fn only_missing(&self) -> bool {
        self.0.iter().all(|e| e.problem == Problem::Missing)
    }
}

/// Reads answers one by one, collecting every problem instead of stopping at the first.
pub(super) struct Reader<'a> {
    pub(super) answers: &'a Answers,
    pub(super) errors: Vec<AnswerError>,
}

impl Reader<'_> {
    pub(super) fn invalid(&mut self, key: Key, reason: String) {
        let source = self.answers.get(key).map(|a| a.source.clone());
        self.errors.push(AnswerError {
            key,
            source,
            problem: Problem::Invalid(reason),
        });
    }

    pub(super) fn missing(&mut self, key: Key) {
        self.errors.push(AnswerError {
            key,
            source: None,
            problem: Problem::Missing,
        });
    }

    /// The value by the answer's rule; absent or empty is `None`, reported as missing when the
    /// rule refuses an empty answer.
    pub(super) fn get(&mut self, key: Key) -> Option<validate::Value> {
        let parsed = match self.answers.value(key) {
            Some(raw) => key.parse(raw),
            None => Ok(None),
        };
        match parsed {
            Ok(Some(v)) => Some(v),
            Ok(None) => {
                if key.rule().empty == validate::Empty::Refused {
                    self.missing(key);
                }
                None
            }
            Err(reason) => {
                self.invalid(key, reason);
                None
            }
        }
    }

    /// As [`Reader::get`], for a secret the settings cannot do without (generated or kept before).
    pub(super) fn required_secret(&mut self, key: Key) -> Option<Secret> {
        let v = self.get(key).map(validate::Value::into_secret);
        if v.is_none() && !self.errors.iter().any(|e| e.key == key) {
            self.missing(key);
        }
        v
    }

    pub(super) fn source_of(&self, key: Key) -> Option<&Source> {
        self.answers.get(key).map(|a| &a.source)
    }
}

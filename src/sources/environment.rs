//! `MATHESAR_*` environment variables, one per answer.

use crate::settings::{Answers, Key, Source};

/// Reads the answers from `vars` (the process environment, or a test's list).
pub(crate) fn answers<I, K, V>(vars: I) -> Answers
where
    I: IntoIterator<Item = (K, V)>,
    K: AsRef<str>,
    V: Into<String>,
{
    let mut a = Answers::new();
    for (name, value) in vars {
        if let Some(key) = Key::from_env_var(name.as_ref()) {
            a.set(key, value, Source::Environment(name.as_ref().to_string()));
        }
    }
    a
}

/// The process environment; variables that are not valid UTF-8 are reported, not dropped silently.
pub(crate) fn from_process() -> Result<Answers, String> {
    let mut vars = Vec::new();
    for (name, value) in std::env::vars_os() {
        let Some(name) = name.to_str() else { continue };
        if Key::from_env_var(name).is_none() {
            continue;
        }
        match value.into_string() {
            Ok(v) => vars.push((name.to_string(), v)),
            Err(_) => {
                return Err(format!(
                    "the environment variable {name} is not valid UTF-8"
                ));
            }
        }
    }
    Ok(answers(vars))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_known_answers_are_taken() {
        let a = answers([
            ("MATHESAR_HTTP_PORT", "8080"),
            ("MATHESAR_NOPE", "x"),
            ("PATH", "/bin"),
        ]);
        assert_eq!(a.value(Key::HttpPort), Some("8080"));
        assert_eq!(a.iter().count(), 1);
    }
}

//! The text form of `.env` and `/etc/default/mathesar`: every value double-quoted with `\\`, `"`
//! and `$` escaped, a form that Docker Compose reads back byte for byte (proven in tests and end
//! to end). [`parse`] reads exactly this form back and nothing else: no `${...}` is ever expanded,
//! and an error names the line and the key, never the value (values are secrets).

pub fn quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        if matches!(c, '\\' | '"' | '$') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// Why a `.env` line is refused: its number and key only, never its value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}{}: {reason}", key.as_ref().map(|k| format!(" (`{k}`)")).unwrap_or_default())]
pub(crate) struct ParseError {
    pub line: usize,
    pub key: Option<String>,
    pub reason: &'static str,
}

/// Reads a file in the form [`quote`] writes: comments, blank lines and `NAME="VALUE"` with
/// `\\`, `\"` and `\$` escaped. A plain unquoted value of safe characters is accepted too (an
/// `/etc/default/mathesar` edited by hand); anything else is an error.
pub(crate) fn parse(text: &str) -> Result<Vec<(String, String)>, ParseError> {
    let mut out = Vec::new();
    for (i, raw) in text.split('\n').enumerate() {
        let line = i + 1;
        let l = raw.strip_suffix('\r').unwrap_or(raw);
        let t = l.trim_start();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        let err = |key: Option<&str>, reason| ParseError {
            line,
            key: key.map(str::to_string),
            reason,
        };
        let Some((name, value)) = l.split_once('=') else {
            return Err(err(None, "not a NAME=\"VALUE\" line"));
        };
        let name_ok = name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !name_ok {
            return Err(err(None, "not a variable name before `=`"));
        }
        let key = Some(name);
        let value = if let Some(rest) = value.strip_prefix('"') {
            let mut v = String::with_capacity(rest.len());
            let mut chars = rest.chars();
            let mut closed = false;
            while let Some(c) = chars.next() {
                match c {
                    '\\' => match chars.next() {
                        Some(e @ ('\\' | '"' | '$')) => v.push(e),
                        _ => return Err(err(key, "a backslash escapes only \\, \" and $")),
                    },
                    '"' => {
                        closed = true;
                        break;
                    }
                    '$' => {
                        return Err(err(
                            key,
                            "an unescaped `$` (a variable reference, which is never expanded)",
                        ));
                    }
                    c => v.push(c),
                }
            }
            if !closed {
                return Err(err(key, "the closing `\"` is missing"));
            }
            if !chars.as_str().trim().is_empty() {
                return Err(err(key, "text after the closing `\"`"));
            }
            v
        } else {
            let plain = value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_-./:@+,".contains(c));
            if !plain {
                return Err(err(
                    key,
                    "an unquoted value with characters that need quoting",
                ));
            }
            value.to_string()
        };
        out.push((name.to_string(), value));
    }
    Ok(out)
}

/// What Docker Compose's own reader (dotenvy, the same rules) makes of a text.
#[cfg(test)]
pub(crate) fn read_back(text: &str) -> Vec<(String, String)> {
    dotenvy::from_read_iter(text.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parse_errors_name_the_line_and_key_never_the_value() {
        for (text, line, key) in [
            ("A=\"1\"\nDB=\"s3cr3t-value\n", 2, Some("DB")),
            ("# c\n\nPW=\"s3cr3t-value${HOME}\"\n", 3, Some("PW")),
            ("PW=s3cr3t value\n", 1, Some("PW")),
            ("s3cr3t-value\n", 1, None),
            ("PW=\"s3cr3t-value\" trailing\n", 1, Some("PW")),
            ("PW=\"s3cr3t\\n-value\"\n", 1, Some("PW")),
        ] {
            let e = parse(text).unwrap_err();
            assert_eq!((e.line, e.key.as_deref()), (line, key), "{text}");
            assert!(!e.to_string().contains("s3cr3t"), "{e}");
        }
    }

    #[test]
    fn hostile_value_reads_back_unchanged() {
        let v = "p'a\"s$s #\\ w${x}\u{f6} $(id) `id` end ";
        let back = read_back(&format!("X={}\n", quote(v)));
        assert_eq!(back, vec![("X".to_string(), v.to_string())]);
    }

    proptest! {
        // Every printable ASCII character, spaces at either end and non-ASCII letters, up to 128
        // characters: what the quoting must carry byte for byte.
        #[test]
        fn quoting_round_trips_through_dotenvy(v in "[ -~\u{e4}\u{f6}\u{fc}\u{df}\u{e9}\u{e7}\u{4e2d}]{0,128}") {
            let back = read_back(&format!("X={}\n", quote(&v)));
            prop_assert_eq!(&back, &vec![("X".to_string(), v.clone())]);
            prop_assert_eq!(parse(&format!("X={}\n", quote(&v))).unwrap(), back);
        }
    }
}

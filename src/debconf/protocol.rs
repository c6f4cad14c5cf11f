//! The wire format of the debconf protocol: one command line out, one reply line back.
//!
//! A reply is `<code>` or `<code> <value>`: 0 success, 1 success with an escaped value (after
//! `CAPB escape`), 10-29 an error in the command, 30 "question not shown" (INPUT) or "go back"
//! (GO, with `CAPB backup`), 100 an internal error of the frontend.

use super::DebconfError;

/// A parsed reply line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    pub code: u16,
    pub value: String,
}

/// What a reply code means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Ok,
    /// Code 30: the question is not shown (INPUT) or the user backed up (GO).
    Skipped,
    /// Codes 10-29 and 100-199: the command failed.
    Failed,
}

impl Reply {
    pub fn status(&self) -> Status {
        match self.code {
            0 | 1 => Status::Ok,
            30 => Status::Skipped,
            _ => Status::Failed,
        }
    }
}

/// Parses one reply line (without its line ending). Code 1 values are unescaped.
pub(crate) fn parse_reply(line: &str) -> Result<Reply, DebconfError> {
    let bad = || DebconfError::Protocol {
        line: line.chars().take(200).collect(),
    };
    let (code, value) = match line.split_once(' ') {
        Some((c, v)) => (c, v),
        None => (line, ""),
    };
    if code.is_empty() || code.len() > 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let code: u16 = code.parse().map_err(|_| bad())?;
    let known = matches!(code, 0 | 1 | 10..=29 | 30 | 100..=199);
    if !known {
        return Err(bad());
    }
    let value = if code == 1 {
        unescape(value)
    } else {
        value.to_string()
    };
    Ok(Reply { code, value })
}

/// The frontend's escaping of reply values: `\\` for a backslash, `\n` for a line break.
pub(crate) fn unescape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

/// Escapes one argument for a frontend that granted `CAPB escape`: it splits command lines on
/// runs of whitespace and takes `\X` as a literal X (`\n` as a line break), so every backslash and
/// whitespace character is escaped and the value arrives byte for byte.
pub(crate) fn escape_arg(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 8);
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if c.is_whitespace() => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// Without `CAPB escape` the frontend splits on whitespace and joins the words with one space:
/// a value survives only if that changes nothing.
pub(crate) fn survives_unescaped(value: &str) -> bool {
    !value.contains(['\n', '\r', '\t'])
        && !value.starts_with(' ')
        && !value.ends_with(' ')
        && !value.contains("  ")
        && !value.chars().any(|c| c.is_whitespace() && c != ' ')
}

#[cfg(test)]
pub(crate) mod frontend {
    /// The frontend's `unescape_split`, as written in its Perl source, to check the round trip.
    pub(crate) fn frontend_unescape_split(text: &str) -> Vec<String> {
        let mut words = Vec::new();
        let mut word = String::new();
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '\\' {
                match chars.next() {
                    Some('n') => word.push('\n'),
                    Some(o) => word.push(o),
                    None => word.push('\\'),
                }
            } else if c.is_whitespace() {
                while chars.peek().is_some_and(|n| n.is_whitespace()) {
                    chars.next();
                }
                words.push(std::mem::take(&mut word));
            } else {
                word.push(c);
            }
        }
        if !word.is_empty() {
            words.push(word);
        }
        words
    }
}

#[cfg(test)]
mod tests {
    use super::frontend::frontend_unescape_split;
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn replies() {
        assert_eq!(
            parse_reply("0 value set").unwrap(),
            Reply {
                code: 0,
                value: "value set".into()
            }
        );
        assert_eq!(parse_reply("0").unwrap().value, "");
        assert_eq!(parse_reply("0 ").unwrap().value, "");
        assert_eq!(parse_reply("0  two").unwrap().value, " two");
        assert_eq!(parse_reply("1 a\\\\b\\nc").unwrap().value, "a\\b\nc");
        assert_eq!(
            parse_reply("30 question skipped").unwrap().status(),
            Status::Skipped
        );
        assert_eq!(
            parse_reply("10 q doesn't exist").unwrap().status(),
            Status::Failed
        );
        assert_eq!(
            parse_reply("20 Unsupported").unwrap().status(),
            Status::Failed
        );
        for bad in ["", " 0", "x 0", "0000", "-1 x", "99 no", "5"] {
            assert!(parse_reply(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn escaping_matches_the_frontend() {
        assert_eq!(escape_arg("a b\\c\nd"), "a\\ b\\\\c\\nd");
        assert!(survives_unescaped("a b c"));
        for bad in [" a", "a ", "a  b", "a\tb", "a\nb"] {
            assert!(!survives_unescaped(bad), "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn the_parser_never_panics(line in ".{0,64}") {
            let _ = parse_reply(&line);
        }

        #[test]
        fn numeric_codes_parse(code in 0u16..200, value in "[^\n]{0,40}") {
            let line = format!("{code} {value}");
            match parse_reply(&line) {
                Ok(r) => {
                    prop_assert_eq!(r.code, code);
                    if code != 1 { prop_assert_eq!(r.value, value); }
                }
                Err(_) => prop_assert!(!matches!(code, 0 | 1 | 10..=30 | 100..=199)),
            }
        }

        #[test]
        fn escaped_values_round_trip(value in "[^\n]{0,40}") {
            // Reply side: the frontend escapes `\` and line breaks.
            let sent = value.replace('\\', "\\\\");
            prop_assert_eq!(parse_reply(&format!("1 {sent}")).unwrap().value, value.clone());
            // Command side: one argument stays one word, byte for byte.
            if !value.is_empty() {
                let line = format!("SET mathesar/x {}", escape_arg(&value));
                let words = frontend_unescape_split(&line);
                prop_assert_eq!(words.len(), 3, "{:?}", words);
                prop_assert_eq!(&words[2], &value);
            }
        }
    }
}

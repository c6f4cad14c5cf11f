//! Messages of the lifecycle commands on stderr. Under systemd (stderr connected to the journal,
//! as `JOURNAL_STREAM` tells) each line carries an sd-daemon priority prefix (`<3>`, `<4>`, `<6>`),
//! so that the journal records errors and warnings as such; on a terminal, plain lines.

use std::fmt::Display;
use std::os::unix::fs::MetadataExt;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Level {
    Error,
    Warning,
    Info,
}

impl Level {
    /// The sd-daemon(3) prefix.
    fn prefix(self) -> &'static str {
        match self {
            Level::Error => "<3>",
            Level::Warning => "<4>",
            Level::Info => "<6>",
        }
    }

    fn word(self) -> &'static str {
        match self {
            Level::Error => "error: ",
            Level::Warning => "warning: ",
            Level::Info => "",
        }
    }
}

/// Whether stderr is the journal stream systemd connected (device:inode in `JOURNAL_STREAM`).
pub(crate) fn journal_attached() -> bool {
    let Ok(stream) = std::env::var("JOURNAL_STREAM") else {
        return false;
    };
    match std::fs::metadata("/proc/self/fd/2") {
        Ok(m) => stream == format!("{}:{}", m.dev(), m.ino()),
        Err(_) => false,
    }
}

/// The text written for `message`: one prefixed line per line of the message.
pub(crate) fn format(level: Level, message: &str, journal: bool) -> String {
    let mut out = String::new();
    for (i, line) in message.lines().enumerate() {
        if journal {
            out.push_str(level.prefix());
        } else if i == 0 {
            out.push_str("mathesar: ");
            out.push_str(level.word());
        } else {
            out.push_str("  ");
        }
        out.push_str(line);
        out.push('\n');
    }
    if out.is_empty() {
        out.push('\n');
    }
    out
}

fn emit(level: Level, message: &dyn Display) {
    use std::io::Write;
    let text = format(level, &message.to_string(), journal_attached());
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

pub(crate) fn info(message: impl Display) {
    emit(Level::Info, &message);
}

pub(crate) fn warn(message: impl Display) {
    emit(Level::Warning, &message);
}

pub(crate) fn error(message: impl Display) {
    emit(Level::Error, &message);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn journal_lines_carry_priorities() {
        assert_eq!(
            format(Level::Error, "db failed\nsee logs", true),
            "<3>db failed\n<3>see logs\n"
        );
        assert_eq!(format(Level::Warning, "w", true), "<4>w\n");
        assert_eq!(format(Level::Info, "i", true), "<6>i\n");
    }

    #[test]
    fn terminal_lines_are_plain() {
        assert_eq!(
            format(Level::Error, "db failed\nsee logs", false),
            "mathesar: error: db failed\n  see logs\n"
        );
        assert_eq!(format(Level::Info, "up", false), "mathesar: up\n");
    }

    #[test]
    fn no_journal_without_the_variable() {
        // SAFETY of the test: the variable is not set by cargo test.
        if std::env::var_os("JOURNAL_STREAM").is_none() {
            assert!(!journal_attached());
        }
    }
}

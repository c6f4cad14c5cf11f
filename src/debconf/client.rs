//! The confmodule side of the debconf protocol: commands out, replies in, one line each.

use std::io::{BufRead, BufReader, Write};

use super::DebconfError;
use super::protocol::{self, Reply, Status};

/// Where the frontend listens: the package's maintainer scripts run under
/// `/usr/share/debconf/frontend`, which sets `DEBIAN_HAS_FRONTEND`.
pub(crate) const FRONTEND: &str = "/usr/share/debconf/frontend";

/// Question priorities, lowest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Priority {
    Low,
    Medium,
    High,
    Critical,
}

impl Priority {
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Low => "low",
            Priority::Medium => "medium",
            Priority::High => "high",
            Priority::Critical => "critical",
        }
    }
}

/// What GO answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Go {
    Next,
    /// The user chose to go back (only with `CAPB backup`).
    Back,
}

/// A conversation with a debconf frontend.
pub struct Client {
    reader: Box<dyn BufRead>,
    writer: Box<dyn Write>,
    escape: bool,
}

impl Client {
    pub fn new(reader: impl BufRead + 'static, writer: impl Write + 'static) -> Client {
        Client {
            reader: Box::new(reader),
            writer: Box::new(writer),
            escape: false,
        }
    }

    /// The frontend this process runs under: replies on stdin; commands on fd 3 when the
    /// confmodule redirected stdout (`DEBCONF_REDIR`, stdout then goes to the terminal), else on
    /// stdout. Also asks for the `escape` capability, so every value travels byte for byte.
    pub fn from_env() -> Result<Client, DebconfError> {
        if std::env::var_os("DEBIAN_HAS_FRONTEND").is_none() {
            return Err(DebconfError::NoFrontend);
        }
        let writer: Box<dyn Write> = if std::env::var_os("DEBCONF_REDIR").is_some() {
            // fd 3 is a pipe to the frontend; reopening it through /proc needs no unsafe code.
            let f = std::fs::OpenOptions::new()
                .write(true)
                .open("/proc/self/fd/3")
                .map_err(|source| DebconfError::Io {
                    what: "open fd 3",
                    source,
                })?;
            Box::new(f)
        } else {
            Box::new(std::io::stdout())
        };
        let reader = BufReader::new(std::io::stdin());
        let mut c = Client {
            reader: Box::new(reader),
            writer,
            escape: false,
        };
        c.capb(&["backup", "escape"])?;
        Ok(c)
    }

    /// Sends one command (arguments escaped as the capabilities allow) and reads its reply.
    /// Errors (codes 10-29, 100+) are returned as [`DebconfError::Command`].
    pub fn command(&mut self, words: &[&str]) -> Result<Reply, DebconfError> {
        let mut line = String::new();
        for (i, w) in words.iter().enumerate() {
            if i > 0 {
                line.push(' ');
            }
            if self.escape {
                line.push_str(&protocol::escape_arg(w));
            } else if protocol::survives_unescaped(w) {
                line.push_str(w);
            } else {
                return Err(DebconfError::Unencodable {
                    command: words.first().copied().unwrap_or_default().to_string(),
                });
            }
        }
        line.push('\n');
        let io = |what| move |source| DebconfError::Io { what, source };
        self.writer
            .write_all(line.as_bytes())
            .map_err(io("send a command"))?;
        self.writer.flush().map_err(io("send a command"))?;
        let mut reply = String::new();
        let n = self
            .reader
            .read_line(&mut reply)
            .map_err(io("read a reply"))?;
        if n == 0 {
            return Err(DebconfError::Closed);
        }
        let reply = reply.strip_suffix('\n').unwrap_or(&reply);
        let reply = protocol::parse_reply(reply.strip_suffix('\r').unwrap_or(reply))?;
        if reply.status() == Status::Failed {
            return Err(DebconfError::Command {
                command: words.iter().take(2).copied().collect::<Vec<_>>().join(" "),
                code: reply.code,
                message: reply.value,
            });
        }
        Ok(reply)
    }

    /// `CAPB`: announces capabilities, returns the frontend's. `escape` is used only when both
    /// sides have it.
    pub fn capb(&mut self, caps: &[&str]) -> Result<Vec<String>, DebconfError> {
        let mut words = vec!["CAPB"];
        words.extend_from_slice(caps);
        let reply = self.command(&words)?;
        let theirs: Vec<String> = reply.value.split_whitespace().map(String::from).collect();
        self.escape = caps.contains(&"escape") && theirs.iter().any(|c| c == "escape");
        Ok(theirs)
    }

    pub fn title(&mut self, title: &str) -> Result<(), DebconfError> {
        // TITLE takes the rest of the line; words are joined with single spaces.
        let words: Vec<&str> = std::iter::once("TITLE")
            .chain(title.split_whitespace())
            .collect();
        self.command(&words).map(drop)
    }

    /// `INPUT`: queues a question; `false` when it will not be shown (priority too low, already
    /// seen, or a non-interactive frontend).
    pub fn input(&mut self, priority: Priority, question: &str) -> Result<bool, DebconfError> {
        let r = self.command(&["INPUT", priority.as_str(), question])?;
        Ok(r.status() == Status::Ok)
    }

    /// `GO`: shows the queued questions.
    pub fn go(&mut self) -> Result<Go, DebconfError> {
        let r = self.command(&["GO"])?;
        Ok(if r.status() == Status::Skipped {
            Go::Back
        } else {
            Go::Next
        })
    }

    pub fn get(&mut self, question: &str) -> Result<String, DebconfError> {
        Ok(self.command(&["GET", question])?.value)
    }

    pub fn set(&mut self, question: &str, value: &str) -> Result<(), DebconfError> {
        self.command(&["SET", question, value]).map(drop)
    }

    /// `RESET`: back to the template's default, and marked unseen.
    pub fn reset(&mut self, question: &str) -> Result<(), DebconfError> {
        self.command(&["RESET", question]).map(drop)
    }

    pub fn fget(&mut self, question: &str, flag: &str) -> Result<bool, DebconfError> {
        Ok(self.command(&["FGET", question, flag])?.value.trim() == "true")
    }

    pub fn fset(&mut self, question: &str, flag: &str, on: bool) -> Result<(), DebconfError> {
        let v = if on { "true" } else { "false" };
        self.command(&["FSET", question, flag, v]).map(drop)
    }

    /// `SUBST`: fills `${var}` in the question's descriptions.
    pub fn subst(&mut self, question: &str, var: &str, value: &str) -> Result<(), DebconfError> {
        let mut words = vec!["SUBST", question, var];
        // SUBST joins its remaining words with one space: send words, not one escaped value.
        words.extend(value.split_whitespace());
        self.command(&words).map(drop)
    }

    /// `PURGE`: removes every question this package owns.
    pub fn purge(&mut self) -> Result<(), DebconfError> {
        self.command(&["PURGE"]).map(drop)
    }

    /// `STOP`: ends the conversation; the frontend does not reply.
    pub fn stop(mut self) -> Result<(), DebconfError> {
        self.writer
            .write_all(b"STOP\n")
            .and_then(|()| self.writer.flush())
            .map_err(|source| DebconfError::Io {
                what: "send STOP",
                source,
            })
    }
}

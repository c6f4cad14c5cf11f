//! `mathesarctl generate man|bash|zsh|fish`: build-time output for the packages.

use std::io::Write;

use clap::CommandFactory;

use crate::cli::{Cli, GenerateArgs, Generated};
use crate::exit::{Code, Outcome, WithCode};

pub(crate) fn run(args: GenerateArgs) -> Outcome {
    let mut out = std::io::stdout().lock();
    let mut cmd = Cli::command();
    match args.what {
        Generated::Man => {
            // An administrator's command: section 8. One page: the commands are listed here
            // with their `--help`, not as pages of their own (none is shipped).
            let man = clap_mangen::Man::new(cmd.clone()).section("8");
            man.render_title(&mut out).code(Code::Io)?;
            man.render_name_section(&mut out).code(Code::Io)?;
            man.render_synopsis_section(&mut out).code(Code::Io)?;
            man.render_description_section(&mut out).code(Code::Io)?;
            man.render_options_section(&mut out).code(Code::Io)?;
            out.write_all(commands_section(&cmd).as_bytes())
                .code(Code::Io)?;
            if cmd.get_after_long_help().is_some() || cmd.get_after_help().is_some() {
                man.render_extra_section(&mut out).code(Code::Io)?;
            }
            man.render_version_section(&mut out).code(Code::Io)?;
        }
        Generated::Bash => clap_complete::generate(
            clap_complete::Shell::Bash,
            &mut cmd,
            "mathesarctl",
            &mut out,
        ),
        Generated::Zsh => {
            clap_complete::generate(clap_complete::Shell::Zsh, &mut cmd, "mathesarctl", &mut out)
        }
        Generated::Fish => clap_complete::generate(
            clap_complete::Shell::Fish,
            &mut cmd,
            "mathesarctl",
            &mut out,
        ),
    }
    out.flush().code(Code::Io)
}

/// The COMMANDS section: each command with what it does and where its options are described.
fn commands_section(cmd: &clap::Command) -> String {
    let mut s = String::from(".SH COMMANDS\n");
    for sub in cmd.get_subcommands().filter(|c| !c.is_hide_set()) {
        let about = sub.get_about().map(|a| a.to_string()).unwrap_or_default();
        s.push_str(&format!(
            ".TP\n\\fBmathesarctl {}\\fR\n{}\n.br\nIts options: \\fBmathesarctl {} \\-\\-help\\fR\n",
            roff_text(sub.get_name()),
            roff_text(&about),
            roff_text(sub.get_name())
        ));
    }
    s
}

/// Text safe in a roff line: backslashes and dashes escaped, no line taken for a request.
fn roff_text(t: &str) -> String {
    let t = t.replace('\\', "\\e").replace('-', "\\-");
    t.lines()
        .map(|l| {
            if l.starts_with(['.', '\'']) {
                format!("\\&{l}")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The man page names no page that is not shipped (`mathesarctl-configure(8)`).
    #[test]
    fn the_man_page_refers_to_no_sub_pages() {
        let cmd = Cli::command();
        let mut out = Vec::new();
        let man = clap_mangen::Man::new(cmd.clone()).section("8");
        man.render_title(&mut out).unwrap();
        out.extend(commands_section(&cmd).into_bytes());
        let text = String::from_utf8(out).unwrap();
        assert!(!text.contains("mathesarctl\\-configure"), "{text}");
        assert!(text.contains("\\fBmathesarctl configure\\fR"), "{text}");
    }
}

//! `mathesarctl generate man|bash|zsh|fish`: build-time output for the packages.

use std::io::Write;

use clap::CommandFactory;

use crate::cli::{Cli, GenerateArgs, Generated};
use crate::exit::{Code, Outcome, WithCode};

pub fn run(args: GenerateArgs) -> Outcome {
    let mut out = std::io::stdout().lock();
    let mut cmd = Cli::command();
    match args.what {
        Generated::Man => {
            // An administrator's command: section 8.
            let man = clap_mangen::Man::new(cmd).section("8");
            man.render(&mut out).code(Code::Io)?;
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

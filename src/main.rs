//! Parses the command line, runs the command, and turns its outcome into a documented exit code.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;

use mathesar::Cli;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // clap prints help and version itself with exit 0, usage errors with 2.
            let _ = e.print();
            return ExitCode::from(e.exit_code() as u8);
        }
    };
    match mathesar::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            mathesar::report(&failure);
            ExitCode::from(failure.code.number())
        }
    }
}

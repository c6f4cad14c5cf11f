//! `mathesarctl`: self-hosted Mathesar as a system package.
//!
//! Every module is private to the crate: the binary needs only [`Cli`] and [`run`], the
//! integration tests the few items of [`testing`].
#![forbid(unsafe_code)]
#![deny(unreachable_pub)]

pub(crate) mod adoption;
pub(crate) mod cli;
pub(crate) mod commands;
pub(crate) mod day2;
pub(crate) mod debconf;
pub(crate) mod exit;
pub(crate) mod pg;
pub(crate) mod preflight;
pub(crate) mod process;
pub(crate) mod rendering;
pub(crate) mod secrets;
pub(crate) mod settings;
pub(crate) mod sources;
pub(crate) mod stack;
pub(crate) mod storage;
pub(crate) mod systemd;
pub(crate) mod time;
pub(crate) mod tls;
pub(crate) mod version;

pub use cli::Cli;
pub use commands::run;
pub use exit::{Code, Failure};

/// The failure of a command on stderr (unless it was said already: `Failure::said`); under systemd the journal records it as an error (a
/// failed backup or drill unit then shows its reason with `journalctl -p err`).
pub fn report(failure: &Failure) {
    use stack::journal;
    if failure.was_said() {
        return;
    }
    let text = format!("mathesarctl: error: {failure}");
    if journal::journal_attached() {
        eprint!("{}", journal::format(journal::Level::Error, &text, true));
    } else {
        eprintln!("{text}");
    }
}

/// What the integration tests (tests/*.rs) drive directly, under the modules' own names.
#[doc(hidden)]
pub mod testing {
    pub mod debconf {
        pub use crate::debconf::{Client, answers};
    }
    pub mod preflight {
        pub use crate::preflight::PASS_ROOT_CHECK;
    }
    pub mod settings {
        pub use crate::settings::Key;
    }
    pub mod sources {
        pub use crate::sources::{answers_file, defaults};
    }
    pub mod storage {
        pub mod dirs {
            pub use crate::storage::dirs::{CONFIG, DATA, State, prepare};
        }
        pub mod env_text {
            pub use crate::storage::env_text::quote;
        }
    }
    pub mod version {
        pub use crate::version::is_newer;
    }
}

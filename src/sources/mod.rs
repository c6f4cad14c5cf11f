//! Where answers come from, lowest precedence first: built-in defaults and detected values, the
//! current configuration, an answers file, `MATHESAR_*` environment variables, and finally debconf
//! or terminal prompts. [`Layers::merge`] is the one place that order is written.

pub mod answers_file;
pub(crate) mod current;
pub mod defaults;
pub(crate) mod detect;
pub(crate) mod environment;
pub(crate) mod generated;
pub(crate) mod prompt;

use std::path::Path;

use crate::settings::{Answers, Key, Source};

/// The answers of each source; a command fills those it reads and leaves the others empty.
#[derive(Clone, Debug, Default)]
pub(crate) struct Layers {
    /// Values found on the machine ([`detected`]), or stood in for them.
    pub detected: Answers,
    /// The configuration as it is (`.env`, the admin password file).
    pub current: Answers,
    /// `--answers FILE`.
    pub answers_file: Answers,
    /// `MATHESAR_*`.
    pub environment: Answers,
    /// The debconf questions (the prompts, when asked, go on top of the merged answers).
    pub debconf: Answers,
}

impl Layers {
    /// The layers with the current configuration only: what the commands that work from the
    /// current configuration read.
    pub(crate) fn current(current: Answers) -> Layers {
        Layers {
            current,
            ..Layers::default()
        }
    }

    /// defaults < detected < current < answers file < environment < debconf. The configuration
    /// directory is `config_dir`, the one in use, whatever an answer says.
    pub(crate) fn merge(self, config_dir: &Path) -> Answers {
        let mut answers = defaults::answers(config_dir)
            .overlay(self.detected)
            .overlay(self.current)
            .overlay(self.answers_file)
            .overlay(self.environment)
            .overlay(self.debconf);
        answers.set(
            Key::ConfigDir,
            config_dir.display().to_string(),
            Source::Default,
        );
        answers
    }
}

/// The external address of this machine (or `localhost` when none is found).
pub(crate) fn detected() -> Answers {
    let mut a = Answers::new();
    let address =
        detect::external_address().unwrap_or_else(|| detect::FALLBACK_ADDRESS.to_string());
    a.set(Key::ExternalAddress, address, Source::Detected);
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(key: Key, value: &str, source: Source) -> Answers {
        let mut a = Answers::new();
        a.set(key, value, source);
        a
    }

    #[test]
    fn each_layer_overrides_the_ones_below() {
        let env = || Source::Environment(Key::HttpPort.env_var());
        let file = || Source::AnswersFile {
            path: "/a.yml".into(),
            line: None,
        };
        let layers = Layers {
            detected: one(Key::ExternalAddress, "192.0.2.1", Source::Detected),
            current: one(Key::HttpPort, "8001", Source::Current("/e".into())),
            answers_file: one(Key::HttpPort, "8002", file()),
            environment: one(Key::HttpPort, "8003", env()),
            debconf: one(Key::HttpPort, "8004", Source::Debconf),
        };
        let dir = Path::new("/srv/m-config");
        let a = layers.clone().merge(dir);
        assert_eq!(a.value(Key::HttpPort), Some("8004"));
        assert_eq!(a.value(Key::ExternalAddress), Some("192.0.2.1"));
        assert_eq!(a.value(Key::HttpsPort), Some("443"), "the default");
        let a = Layers {
            debconf: Answers::new(),
            ..layers.clone()
        }
        .merge(dir);
        assert_eq!(a.value(Key::HttpPort), Some("8003"));
        let a = Layers {
            debconf: Answers::new(),
            environment: Answers::new(),
            ..layers.clone()
        }
        .merge(dir);
        assert_eq!(a.value(Key::HttpPort), Some("8002"));
        // The directory in use wins over any answer naming another one.
        let a = Layers {
            environment: one(Key::ConfigDir, "/elsewhere", env()),
            ..layers
        }
        .merge(dir);
        assert_eq!(a.value(Key::ConfigDir), Some("/srv/m-config"));
    }
}

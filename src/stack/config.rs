//! The current configuration, as `mathesarctl configure` wrote it: the settings read back from
//! `.env` and the admin password file, and the paths they name.

use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::exit::Code;
use crate::settings::{InvalidAnswers, Settings};
use crate::sources::Layers;
use crate::sources::current::{self, CurrentError};
use crate::storage::{ConfigLayout, Layout};

#[derive(Debug, Error)]
pub(crate) enum ConfigError {
    #[error("{} has no configuration yet; run `mathesarctl configure` first", .0.display())]
    NotConfigured(PathBuf),
    #[error(transparent)]
    Unreadable(#[from] CurrentError),
    #[error(
        "the configuration in {dir} is not valid: {errors}. Fix it with `mathesarctl configure`"
    )]
    Invalid {
        dir: PathBuf,
        errors: InvalidAnswers,
    },
    #[error(transparent)]
    Held(#[from] crate::rendering::held::HeldError),
}

impl ConfigError {
    pub(crate) fn code(&self) -> Code {
        match self {
            ConfigError::NotConfigured(_) => Code::Io,
            ConfigError::Unreadable(e) => e.code(),
            ConfigError::Invalid { .. } => Code::InvalidAnswer,
            ConfigError::Held(_) => Code::Io,
        }
    }
}

/// What the lifecycle commands work from.
#[derive(Clone, Debug)]
pub(crate) struct Current {
    pub settings: Settings,
    /// Configuration and data directories of these settings.
    pub layout: Layout,
}

/// Reads the configuration in `config_dir`; an unconfigured directory is an error.
pub(crate) fn load(config_dir: &Path) -> Result<Current, ConfigError> {
    let found = current::read(&ConfigLayout::new(config_dir))?;
    if found.env_text.is_none() {
        return Err(ConfigError::NotConfigured(
            ConfigLayout::new(config_dir).env_file(),
        ));
    }
    let answers = Layers::current(found.answers).merge(config_dir);
    let settings = Settings::from_answers(&answers).map_err(|errors| ConfigError::Invalid {
        dir: config_dir.to_path_buf(),
        errors,
    })?;
    let layout = Layout::new(config_dir, &settings.data_dir);
    // A failed upgrade's previous release, held back: its images are the ones to run.
    crate::rendering::held::load(config_dir)?;
    Ok(Current { settings, layout })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_directory_is_not_configured() {
        let dir = tempfile::tempdir().unwrap();
        let e = load(dir.path()).unwrap_err();
        assert!(matches!(e, ConfigError::NotConfigured(_)));
        assert_eq!(e.code(), Code::Io);
        assert!(e.to_string().contains("mathesarctl configure"));
    }

    #[test]
    fn a_written_env_file_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(".env"),
            "MATHESAR_DB_PASSWORD=\"s3cret-pass-word\"\nMATHESAR_EXTERNAL_ADDRESS=\"192.0.2.7\"\n\
             MATHESAR_DATA_DIR=\"/srv/mathesar-data\"\nMATHESAR_HTTP_PORT=\"8080\"\n",
        )
        .unwrap();
        let c = load(dir.path()).unwrap();
        assert_eq!(c.settings.http_port, 8080);
        assert_eq!(c.layout.data_dir, PathBuf::from("/srv/mathesar-data"));
        assert_eq!(c.layout.config_dir, dir.path());
        assert_eq!(c.settings.login_url(), "http://192.0.2.7:8080/");
    }
}

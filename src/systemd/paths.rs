//! Where the unit finds the configuration: `/etc/default/mathesar` (`EnvironmentFile=`) naming a
//! configuration directory other than the default, and the drop-in making other directories
//! writable (`dropin`). A configuration written elsewhere while the unit uses another one leaves
//! both alone, so that the service is never silently switched.

use std::path::{Path, PathBuf};

use crate::settings::{DEFAULT_CONFIG_DIR, Settings};
use crate::storage::env_text;
use crate::storage::layout::{DEFAULT_FILE, remembered_config_dir};
use crate::storage::{ConfigLayout, atomic, modes};

use super::dropin;

/// `/etc/default/mathesar`, or the file named by `MATHESAR_DEFAULTS_FILE` (tests, unusual layouts).
pub(crate) fn defaults_file() -> PathBuf {
    std::env::var_os("MATHESAR_DEFAULTS_FILE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_FILE))
}

/// The configuration the unit uses (named in `/etc/default/mathesar`, else the default
/// directory), when it is another one than `config_dir` and holds a configuration: configuring
/// `config_dir` then leaves the defaults file alone, so that the service is never silently
/// switched to another configuration.
pub(crate) fn in_use_elsewhere(config_dir: &Path) -> Option<PathBuf> {
    let current = remembered_config_dir(&defaults_file())
        .unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG_DIR));
    (current != config_dir && ConfigLayout::new(&current).env_file().exists()).then_some(current)
}

pub(crate) fn needs_defaults_file(s: &Settings) -> bool {
    if in_use_elsewhere(&s.config_dir).is_some() {
        return false;
    }
    let file = defaults_file();
    let remembered = remembered_config_dir(&file);
    let default = s.config_dir == Path::new(DEFAULT_CONFIG_DIR);
    match remembered {
        Some(dir) => dir != s.config_dir,
        None => !default,
    }
}

/// Whether the unit's drop-in must change: this is the configuration the unit uses, and its
/// directories are not the ones the drop-in names.
pub(crate) fn needs_dropin(s: &Settings) -> bool {
    in_use_elsewhere(&s.config_dir).is_none()
        && dropin::stale(&dropin::file(), &s.config_dir, &s.data_dir)
}

/// Makes a configuration or data directory other than the defaults writable by the unit
/// (`systemd::dropin`), or removes the drop-in when the defaults are back.
pub(crate) fn write_dropin(s: &Settings) -> Result<(), anyhow::Error> {
    if !needs_dropin(s) {
        return Ok(());
    }
    let file = dropin::file();
    if dropin::apply(&file, &s.config_dir, &s.data_dir)? {
        dropin::reload_systemd(&file);
    }
    Ok(())
}

/// Remembers a non-default configuration directory for the unit (`EnvironmentFile=`) and later runs.
pub(crate) fn write_defaults_file(s: &Settings) -> Result<(), anyhow::Error> {
    if !needs_defaults_file(s) {
        return Ok(());
    }
    let text = format!(
        "# Written by `mathesarctl configure`: where the Mathesar configuration lives.\nMATHESAR_CONFIG_DIR={}\n",
        env_text::quote(&s.config_dir.display().to_string())
    );
    let file = defaults_file();
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir)?;
    }
    atomic::write(&file, text.as_bytes(), modes::PUBLIC_FILE)?;
    Ok(())
}

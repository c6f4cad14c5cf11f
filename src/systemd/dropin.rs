//! The unit's drop-in for directories other than the defaults. The unit runs with
//! `ProtectSystem=strict` and `PrivateTmp=yes` and makes only `/etc/mathesar` and
//! `/var/lib/mathesar` writable: a configuration or data directory elsewhere is named in
//! `/etc/systemd/system/mathesar.service.d/paths.conf` (`BindPaths=`, which also reaches a
//! directory under `/tmp` or `/var/tmp`). `configure` writes it, and removes it when the
//! defaults are back; `purge` removes it.

use std::io;
use std::path::{Path, PathBuf};

use crate::settings::{DEFAULT_CONFIG_DIR, DEFAULT_DATA_DIR};
use crate::storage::{atomic, modes};

/// Where the drop-in lives.
pub(crate) const DEFAULT_FILE: &str = "/etc/systemd/system/mathesar.service.d/paths.conf";

/// The drop-in, or the file named by `MATHESAR_UNIT_DROPIN` (tests, unusual layouts).
pub(crate) fn file() -> PathBuf {
    std::env::var_os("MATHESAR_UNIT_DROPIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_FILE))
}

/// A path as one word of a unit file: quoted, `%` (specifiers), `\` and `"` escaped.
fn word(path: &Path) -> String {
    let mut out = String::from("\"-");
    for c in path.display().to_string().chars() {
        match c {
            '%' => out.push_str("%%"),
            '\\' | '"' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The drop-in's text for these directories, `None` when both are the defaults (the unit names
/// those itself).
pub(crate) fn render(config_dir: &Path, data_dir: &Path) -> Option<String> {
    let extra: Vec<&Path> = [
        (config_dir, DEFAULT_CONFIG_DIR),
        (data_dir, DEFAULT_DATA_DIR),
    ]
    .into_iter()
    .filter(|(dir, default)| *dir != Path::new(default))
    .map(|(dir, _)| dir)
    .collect();
    if extra.is_empty() {
        return None;
    }
    let mut text = String::from(
        "# Written by `mathesarctl configure`: the directories of this configuration, writable by the\n\
         # service (which runs with ProtectSystem=strict and PrivateTmp=yes). Rewritten or removed\n\
         # by the next configure; edit the answers instead.\n[Service]\n",
    );
    for dir in extra {
        text.push_str(&format!("BindPaths={}\n", word(dir)));
    }
    Some(text)
}

/// Whether the drop-in at `file` differs from what these directories need.
pub(crate) fn stale(file: &Path, config_dir: &Path, data_dir: &Path) -> bool {
    match render(config_dir, data_dir) {
        Some(text) => !atomic::holds(file, text.as_bytes(), modes::PUBLIC_FILE),
        None => file.symlink_metadata().is_ok(),
    }
}

/// Writes or removes the drop-in at `file`; `true` when it changed.
pub(crate) fn apply(file: &Path, config_dir: &Path, data_dir: &Path) -> io::Result<bool> {
    if !stale(file, config_dir, data_dir) {
        return Ok(false);
    }
    match render(config_dir, data_dir) {
        Some(text) => {
            if let Some(dir) = file.parent() {
                std::fs::create_dir_all(dir)?;
            }
            atomic::write(file, text.as_bytes(), modes::PUBLIC_FILE).map_err(io::Error::other)?;
            Ok(true)
        }
        None => remove(file),
    }
}

/// Removes the drop-in at `file`, and its directory when nothing else is in it; `true` when
/// there was one.
pub(crate) fn remove(file: &Path) -> io::Result<bool> {
    match std::fs::remove_file(file) {
        Ok(()) => {
            if let Some(dir) = file.parent() {
                // The administrator's own drop-ins keep the directory.
                let _ = std::fs::remove_dir(dir);
            }
            Ok(true)
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// After the drop-in changed: systemd reads it again (`systemctl daemon-reload`), when it runs
/// and the drop-in is the real one. A failure is reported, not fatal.
pub(crate) fn reload_systemd(file: &Path) {
    if file != Path::new(DEFAULT_FILE) || !Path::new("/run/systemd/system").exists() {
        return;
    }
    if super::unit::daemon_reload().is_err() {
        eprintln!(
            "mathesar: `systemctl daemon-reload` failed; run it before starting or reloading mathesar.service ({} changed)",
            file.display()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_need_no_drop_in() {
        assert_eq!(
            render(Path::new(DEFAULT_CONFIG_DIR), Path::new(DEFAULT_DATA_DIR)),
            None
        );
    }

    #[test]
    fn other_directories_are_bound() {
        let t = render(Path::new("/srv/m%conf"), Path::new("/var/tmp/x\"y")).unwrap();
        assert!(t.contains("[Service]\n"), "{t}");
        assert!(t.contains("BindPaths=\"-/srv/m%%conf\"\n"), "{t}");
        assert!(t.contains("BindPaths=\"-/var/tmp/x\\\"y\"\n"), "{t}");
        let t = render(Path::new(DEFAULT_CONFIG_DIR), Path::new("/data/m")).unwrap();
        assert_eq!(t.matches("BindPaths=").count(), 1, "{t}");
        assert!(t.contains("BindPaths=\"-/data/m\"\n"), "{t}");
    }

    #[test]
    fn written_then_removed_when_the_defaults_are_back() {
        let t = tempfile::tempdir().unwrap();
        let file = t.path().join("mathesar.service.d/paths.conf");
        let (cfg, def_data) = (Path::new(DEFAULT_CONFIG_DIR), Path::new(DEFAULT_DATA_DIR));
        assert!(!apply(&file, cfg, def_data).unwrap());
        assert!(apply(&file, cfg, Path::new("/var/tmp/d")).unwrap());
        assert!(file.exists());
        assert!(!apply(&file, cfg, Path::new("/var/tmp/d")).unwrap());
        // An administrator's own drop-in keeps the directory.
        std::fs::write(file.with_file_name("limits.conf"), "[Service]\n").unwrap();
        assert!(apply(&file, cfg, def_data).unwrap());
        assert!(!file.exists() && file.parent().unwrap().exists());
        std::fs::remove_file(file.with_file_name("limits.conf")).unwrap();
        assert!(apply(&file, cfg, Path::new("/var/tmp/d")).unwrap());
        assert!(remove(&file).unwrap());
        assert!(!file.parent().unwrap().exists());
        assert!(!remove(&file).unwrap());
    }
}

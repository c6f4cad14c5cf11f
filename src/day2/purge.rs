//! What a purge removes, judged before anything is removed (`plan`), and removing it
//! (`execute`): the files `configure` wrote in the configuration directory, the defaults file, and
//! the data directory only when the answer `purge-data` is true and the directory carries the
//! package's marker (`dirs`); with `purge-data` false only what `configure` generated there goes
//! (`tidy_data_dir`). Containers and the unit's drop-in are the command's to remove.

use std::path::{Path, PathBuf};

use anyhow::anyhow;

use crate::exit::{Code, Failure};
use crate::settings::{Key, validate::Value};
use crate::sources::current;

use crate::storage::{ConfigLayout, DataLayout, atomic, commit, dirs};

/// What a purge removes, decided before anything is removed.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct PurgePlan {
    pub config_dir: PathBuf,
    pub files: Vec<PathBuf>,
    /// `Some` when `purge-data` is true.
    pub data_dir: Option<PathBuf>,
    pub kept_data_dir: Option<PathBuf>,
}

/// `purge_data`: the data directory goes whatever the stored answer `purge-data` says.
pub(crate) fn plan(config_dir: &Path, purge_data: bool) -> Result<PurgePlan, Failure> {
    let layout = ConfigLayout::new(config_dir);
    judge_config_dir(config_dir)?;
    let found = current::read(&layout).map_err(|e| Failure::new(e.code(), e))?;
    let data_dir = found
        .answers
        .value(Key::DataDir)
        .map(|v| Key::DataDir.parse(v))
        .transpose()
        .map(|v| v.flatten().map(Value::into_path))
        .map_err(|reason| {
            Failure::new(
                Code::InvalidAnswer,
                anyhow!("the stored data-dir is refused: {reason}; nothing was removed"),
            )
        })?;
    let purge_data = purge_data
        || found
            .answers
            .value(Key::PurgeData)
            .and_then(|v| Key::PurgeData.parse(v).ok().flatten())
            .is_some_and(Value::into_flag);
    let files = [
        layout.env_file(),
        layout.compose_file(),
        layout.admin_password_file(),
        layout.chosen_admin_password_file(),
        layout.lock_file(),
        layout.redo_file(),
        crate::stack::app_version::path(config_dir),
        // The backup repository's password and SSH key: configuration like the rest (the
        // repository itself, wherever it is, is never touched; README says to keep the password
        // elsewhere).
        layout.backup_password_file(),
        layout.backup_rest_password_file(),
        layout.backup_ssh_key(),
        crate::day2::ssh_key::public_path(&layout.backup_ssh_key()),
        layout.backup_known_hosts(),
        config_dir.join(dirs::MARKER),
    ]
    .into_iter()
    .filter(|p| p.exists())
    .collect();
    if let (Some(d), true) = (&data_dir, purge_data) {
        // Judged before anything is removed: a refused data directory stops the whole purge.
        dirs::check_purge(&dirs::DATA, d).map_err(|e| {
            Failure::new(
                e.code(),
                anyhow::Error::new(e).context(
                    "nothing was removed. Set `purge-data: false` to keep the data, or empty the directory by hand",
                ),
            )
        })?;
    }
    let (data_dir, kept_data_dir) = match data_dir {
        Some(d) if purge_data => (Some(d), None),
        Some(d) => (None, Some(d)),
        None => (None, None),
    };
    Ok(PurgePlan {
        config_dir: config_dir.to_path_buf(),
        files,
        data_dir,
        kept_data_dir,
    })
}

/// Only a configuration directory the package marked (or an older installation proven by
/// mathesarctl's headers, `dirs::State::Legacy`), missing or empty is purged: judged like
/// `configure` judges it (owner, mode, links, foreign content), before its compose file is run.
fn judge_config_dir(config_dir: &Path) -> Result<(), Failure> {
    dirs::inspect(&dirs::CONFIG, config_dir).map(drop).map_err(|e| {
        Failure::new(
            e.code(),
            anyhow::Error::new(e).context(
                "nothing was removed and no container was touched; delete what is yours in it by hand",
            ),
        )
    })
}

/// Removes what the plan names (the files `configure` wrote, the defaults file, the data directory
/// as `purge-data` says); the configuration directory itself only when nothing else is in it.
pub(crate) fn execute(plan: &PurgePlan, defaults_file: &Path) -> Result<(), std::io::Error> {
    // Judged before its marker goes: a directory the package adopted stays.
    let adopted = dirs::inspect(&dirs::CONFIG, &plan.config_dir)
        .is_ok_and(|s| matches!(s, dirs::State::Adopted | dirs::State::Legacy));
    atomic::clean_leftovers(&plan.config_dir);
    commit::clean_staged(&plan.config_dir);
    for f in &plan.files {
        std::fs::remove_file(f)?;
    }
    let removed = !adopted && std::fs::remove_dir(&plan.config_dir).is_ok();
    if !removed && plan.config_dir.exists() {
        eprintln!(
            "mathesar: {} kept: the package did not create it, or it holds files not written by mathesarctl",
            plan.config_dir.display()
        );
    }
    match std::fs::remove_file(defaults_file) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    if let Some(d) = &plan.data_dir {
        remove_data_dir(d)?;
    }
    if let Some(d) = &plan.kept_data_dir {
        tidy_data_dir(d)?;
    }
    Ok(())
}

/// With `purge-data` false, in a data directory the package owns (marker): the files `configure`
/// generated there (the Caddyfile) and the directories it created go while they are empty, and
/// the directory itself when the package created it and nothing else is left. Data is never
/// touched: a directory with anything in it stays. Returns whether the directory is gone.
pub(crate) fn tidy_data_dir(dir: &Path) -> Result<bool, std::io::Error> {
    let Ok(Some(created)) = dirs::check_purge(&dirs::DATA, dir) else {
        return Ok(false);
    };
    let layout = DataLayout::new(dir);
    // Only real directories are looked into: never a file through a link.
    let real_dir = |p: &Path| std::fs::symlink_metadata(p).is_ok_and(|m| m.is_dir());
    if let Some(caddy) = layout.caddyfile().parent().filter(|d| real_dir(d)) {
        commit::clean_staged(caddy);
        atomic::clean_leftovers(caddy);
        match std::fs::remove_file(layout.caddyfile()) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    // The copied certificates: configuration, not data (the proxy's own state is in caddy/data).
    if real_dir(&layout.tls_dir()) {
        commit::clean_staged(&layout.tls_dir());
        atomic::clean_leftovers(&layout.tls_dir());
        for name in crate::storage::layout::TLS_FILES {
            match std::fs::remove_file(layout.tls_dir().join(name)) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
    }
    if real_dir(&layout.pg_tls_dir()) {
        commit::clean_staged(&layout.pg_tls_dir());
        atomic::clean_leftovers(&layout.pg_tls_dir());
        match std::fs::remove_file(layout.pg_tls_dir().join(crate::storage::layout::DB_CA)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    // Deepest first: msar/static before msar.
    let mut made: Vec<PathBuf> = layout
        .subdirs()
        .into_iter()
        .flat_map(|d| d.ancestors().map(Path::to_path_buf).collect::<Vec<_>>())
        .filter(|d| d.starts_with(dir) && d != dir)
        .collect();
    made.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
    made.dedup();
    for d in made.iter().filter(|d| real_dir(d)) {
        // Fails, and keeps it, when anything is in it.
        let _ = std::fs::remove_dir(d);
    }
    let only_marker = std::fs::read_dir(dir)?
        .flatten()
        .all(|e| e.file_name() == dirs::MARKER);
    if !(created && only_marker) {
        return Ok(false);
    }
    std::fs::remove_file(dir.join(dirs::MARKER))?;
    Ok(std::fs::remove_dir(dir).is_ok())
}

/// Removes a data directory the package owns; the directory itself stays when the package did not
/// create it or it is a mount point.
fn remove_data_dir(dir: &Path) -> Result<(), std::io::Error> {
    match dirs::purge(&dirs::DATA, dir).map_err(std::io::Error::other)? {
        dirs::Purged::Emptied => eprintln!(
            "mathesar: {} emptied; the directory stays (mathesar did not create it, or it is a mount point)",
            dir.display()
        ),
        dirs::Purged::Removed | dirs::Purged::Missing => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup(purge_data: bool) -> (tempfile::TempDir, PathBuf, PathBuf) {
        let t = tempfile::tempdir().unwrap();
        let cfg = t.path().join("etc");
        let data = t.path().join("data");
        dirs::prepare(&dirs::DATA, &data, dirs::State::Missing, 0o700).unwrap();
        std::fs::create_dir_all(data.join("pgdata")).unwrap();
        std::fs::write(data.join("pgdata/PG_VERSION"), "17").unwrap();
        dirs::prepare(&dirs::CONFIG, &cfg, dirs::State::Missing, 0o700).unwrap();
        std::fs::write(
            cfg.join(".env"),
            format!(
                "MATHESAR_DATA_DIR=\"{}\"\nMATHESAR_PURGE_DATA=\"{purge_data}\"\n",
                data.display()
            ),
        )
        .unwrap();
        std::fs::write(cfg.join("docker-compose.yml"), "name: mathesar\n").unwrap();
        (t, cfg, data)
    }

    #[test]
    fn keeps_data_unless_asked() {
        let (t, cfg, data) = setup(false);
        let defaults = t.path().join("default");
        std::fs::write(&defaults, "MATHESAR_CONFIG_DIR=x\n").unwrap();
        let p = plan(&cfg, false).unwrap();
        assert_eq!(p.files.len(), 3, "with the marker");
        assert_eq!(p.data_dir, None);
        execute(&p, &defaults).unwrap();
        assert!(!cfg.exists());
        assert!(!defaults.exists());
        assert!(data.join("pgdata/PG_VERSION").exists());
    }

    /// purge-data false: the generated Caddyfile and the empty directories configure made go,
    /// the data stays; a data directory holding nothing else goes entirely.
    #[test]
    fn keeps_data_but_not_what_configure_generated() {
        let (t, cfg, data) = setup(false);
        for d in [
            "caddy/data",
            "caddy/config",
            "msar/static",
            "msar/media",
            "msar/secrets",
        ] {
            std::fs::create_dir_all(data.join(d)).unwrap();
        }
        std::fs::write(data.join("caddy/Caddyfile"), ":80\n").unwrap();
        std::fs::write(data.join("msar/media/upload.csv"), "a,b\n").unwrap();
        let p = plan(&cfg, false).unwrap();
        execute(&p, &t.path().join("default")).unwrap();
        assert!(data.join("pgdata/PG_VERSION").exists());
        assert!(data.join("msar/media/upload.csv").exists());
        assert!(data.join(dirs::MARKER).exists());
        assert!(!data.join("caddy").exists());
        assert!(!data.join("msar/static").exists());

        let (t, cfg, data) = setup(false);
        std::fs::remove_file(data.join("pgdata/PG_VERSION")).unwrap();
        std::fs::create_dir_all(data.join("caddy/data")).unwrap();
        std::fs::write(data.join("caddy/Caddyfile"), ":80\n").unwrap();
        let p = plan(&cfg, false).unwrap();
        execute(&p, &t.path().join("default")).unwrap();
        assert!(!data.exists());
    }

    #[test]
    fn removes_data_when_asked_and_keeps_foreign_files() {
        let (t, cfg, data) = setup(true);
        std::fs::write(cfg.join("answers.yml"), "http-port: 80\n").unwrap();
        let p = plan(&cfg, false).unwrap();
        execute(&p, &t.path().join("default")).unwrap();
        assert!(!data.exists());
        assert!(cfg.join("answers.yml").exists());
        assert!(!cfg.join(".env").exists());
    }

    /// A data directory without the package's marker (`/home` named by an answer), or a link to
    /// one, is refused before anything is removed.
    #[test]
    fn an_unmarked_or_linked_data_dir_is_refused_and_nothing_is_removed() {
        let (t, cfg, _) = setup(true);
        let home = t.path().join("home");
        std::fs::create_dir_all(home.join("alice")).unwrap();
        std::fs::write(home.join("alice/thesis"), "x").unwrap();
        let link = t.path().join("link");
        std::os::unix::fs::symlink(t.path().join("data"), &link).unwrap();
        for victim in [&home, &link] {
            std::fs::write(
                cfg.join(".env"),
                format!(
                    "MATHESAR_DATA_DIR=\"{}\"\nMATHESAR_PURGE_DATA=\"true\"\n",
                    victim.display()
                ),
            )
            .unwrap();
            let f = plan(&cfg, false).unwrap_err();
            assert_eq!(f.code, Code::InvalidAnswer, "{f}");
            assert!(f.to_string().contains("nothing was removed"), "{f}");
        }
        assert!(home.join("alice/thesis").exists());
        assert!(t.path().join("data/pgdata/PG_VERSION").exists());
        assert!(cfg.join(".env").exists());
    }

    /// A configuration directory without the marker (another Compose project's `.env` and
    /// compose file) is refused before anything is removed.
    #[test]
    fn an_unmarked_configuration_dir_is_refused_and_nothing_is_removed() {
        let (t, cfg, data) = setup(true);
        std::fs::remove_file(cfg.join(dirs::MARKER)).unwrap();
        let f = plan(&cfg, false).unwrap_err();
        assert_eq!(f.code, Code::InvalidAnswer, "{f}");
        assert!(f.to_string().contains("nothing was removed"), "{f}");
        assert!(cfg.join(".env").exists() && cfg.join("docker-compose.yml").exists());
        assert!(data.join("pgdata/PG_VERSION").exists());
        drop(t);
    }
}

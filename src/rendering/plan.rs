//! The generated files as one change: which of them differ from what is on disk (`Plan`), the
//! answers that change, the containers a change recreates, and writing them all or none
//! (`storage::commit`) with the data directory's subdirectories.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::exit::{Code, Failure, WithCode};
use crate::secrets::MASK;
use crate::settings::{Answers, Key, Settings, Source};
use crate::sources::current;
use crate::storage::{Layout, atomic, commit, dirs, lock, modes};

use super::{Rendered, compose};

pub(crate) struct PlannedFile {
    pub path: PathBuf,
    pub contents: Vec<u8>,
    pub mode: u32,
    pub secret: bool,
}

/// The files whose content or mode differ from what is on disk.
pub(crate) struct Plan {
    pub files: Vec<PlannedFile>,
}

impl Plan {
    /// `generated_admin`: the admin password was generated (now, or by an earlier run whose file
    /// is read back): it goes to the file the administrator reads; a chosen one to a hidden file
    /// removed once the admin exists.
    /// `tls`: the certificate files the answers name, read and checked ([`crate::tls::files`]).
    pub(crate) fn new(
        layout: &Layout,
        r: &Rendered,
        s: &Settings,
        admin_exists: bool,
        generated_admin: bool,
        tls: &[crate::tls::TlsFile],
    ) -> Plan {
        let mut all = vec![
            PlannedFile {
                path: layout.env_file(),
                contents: r.env.clone().into_bytes(),
                mode: modes::PRIVATE_FILE,
                secret: true,
            },
            PlannedFile {
                path: layout.compose_file(),
                contents: r.compose.clone().into_bytes(),
                mode: modes::PRIVATE_FILE,
                secret: false,
            },
            PlannedFile {
                path: layout.caddyfile(),
                contents: r.caddyfile.clone().into_bytes(),
                mode: modes::PUBLIC_FILE,
                secret: false,
            },
        ];
        all.extend(tls.iter().map(|f| PlannedFile {
            path: f.path.clone(),
            contents: f.contents.clone(),
            mode: f.mode,
            secret: f.secret,
        }));
        if let (Some(pw), false) = (&s.admin_password, admin_exists) {
            all.push(PlannedFile {
                path: if generated_admin {
                    layout.admin_password_file()
                } else {
                    layout.chosen_admin_password_file()
                },
                contents: format!("{}\n", pw.expose()).into_bytes(),
                mode: modes::PRIVATE_FILE,
                secret: true,
            });
        }
        // restic reads it (RESTIC_PASSWORD_FILE); never regenerated once written.
        if let Some(pw) = &s.backup_password {
            all.push(PlannedFile {
                path: layout.config().backup_password_file(),
                contents: format!("{}\n", pw.expose()).into_bytes(),
                mode: modes::PRIVATE_FILE,
                secret: true,
            });
        }
        // Put into restic's environment at run time, never on a command line.
        if let Some(pw) = &s.backup_rest_password {
            all.push(PlannedFile {
                path: layout.config().backup_rest_password_file(),
                contents: format!("{}\n", pw.expose()).into_bytes(),
                mode: modes::PRIVATE_FILE,
                secret: true,
            });
        }
        let files = all
            .into_iter()
            .filter(|f| !atomic::holds(&f.path, &f.contents, f.mode))
            .collect();
        Plan { files }
    }
}

/// Writes the plan: the data subdirectories created when missing, then every file in one commit.
pub(crate) fn write(layout: &Layout, plan: &Plan) -> Result<(), anyhow::Error> {
    let data = dirs::open_dir(&layout.data_dir)?;
    for d in layout.data_subdirs() {
        // Created when missing only: the database image owns pgdata and sets its mode itself.
        let rel = d.strip_prefix(&layout.data_dir)?;
        // The certificates' directory may hold a private key: root only.
        let mode = if d == layout.tls_dir() {
            modes::PRIVATE_DIR
        } else {
            modes::SHARED_DIR
        };
        dirs::create_under(&data, rel, mode)?;
    }
    if let Some(caddy_dir) = layout.caddyfile().parent() {
        commit::clean_staged(caddy_dir);
    }
    commit::clean_staged(&layout.tls_dir());
    commit::clean_staged(&layout.data().pg_tls_dir());
    // All the files or none, whenever the run is killed.
    let changes: Vec<commit::Change> = plan
        .files
        .iter()
        .map(|f| commit::Change {
            path: &f.path,
            contents: &f.contents,
            mode: f.mode,
        })
        .collect();
    commit::commit(&layout.redo_file(), &changes)?;
    Ok(())
}

/// The stored answers that change, secrets masked.
pub(crate) fn changed_answers(old: &Answers, new: &Settings) -> Vec<(Key, String)> {
    new.to_answers(Source::Generated)
        .iter()
        .filter(|(k, _)| k.is_stored())
        .filter(|(k, a)| old.value(*k) != Some(a.value()))
        .map(|(k, a)| {
            let shown = if k.is_secret() {
                MASK.to_string()
            } else if a.value().is_empty() {
                "(empty)".into()
            } else {
                a.value().to_string()
            };
            (k, shown)
        })
        .collect()
}

/// Which containers applying this change recreates: those whose definition uses a changed value,
/// or all of them when the compose file itself changed.
pub(crate) fn restart_summary(
    found: &current::CurrentConfig,
    rendered: &Rendered,
    layout: &Layout,
) -> String {
    let parse = |t: &str| -> BTreeMap<String, String> {
        crate::storage::env_text::parse(t)
            .unwrap_or_default()
            .into_iter()
            .collect()
    };
    let old = parse(found.env_text.as_deref().unwrap_or_default());
    let new = parse(&rendered.env);
    let compose_changed = std::fs::read_to_string(layout.compose_file())
        .ok()
        .as_deref()
        != Some(rendered.compose.as_str());
    let services = compose::services_to_recreate(&rendered.compose, &old, &new);
    if compose_changed {
        "mathesar: the compose file changed: applying it recreates the services Compose finds changed".into()
    } else if services.is_empty() {
        "mathesar: no container needs to be recreated".into()
    } else {
        let list: Vec<_> = services.into_iter().collect();
        format!("mathesar: applying it recreates: {}", list.join(", "))
    }
}

/// `upgrade`: the compose file and the Caddyfile of this package version, where they differ from
/// what is on disk, written as one commit under the configuration lock (`waiting` is called while
/// another run holds it). Returns the paths written.
pub(crate) fn write_release_files(
    layout: &Layout,
    s: &Settings,
    waiting: impl FnMut(),
) -> Result<Vec<PathBuf>, Failure> {
    let compose = compose::render(s).code(Code::Failure)?;
    let caddyfile = compose::render_caddyfile(s).code(Code::Failure)?;
    let lock = lock::acquire(&layout.lock_file(), lock::DEFAULT_WAIT, waiting)
        .map_err(|e| Failure::new(e.code(), e))?;
    let (compose_path, caddy_path) = (layout.compose_file(), layout.caddyfile());
    let mut wanted = vec![commit::Change {
        path: &compose_path,
        contents: compose.as_bytes(),
        mode: modes::PRIVATE_FILE,
    }];
    if caddy_path.parent().is_some_and(|p| p.is_dir()) {
        wanted.push(commit::Change {
            path: &caddy_path,
            contents: caddyfile.as_bytes(),
            mode: modes::PUBLIC_FILE,
        });
    }
    let changed: Vec<commit::Change> = wanted
        .into_iter()
        .filter(|c| !atomic::holds(c.path, c.contents, c.mode))
        .collect();
    commit::commit(&layout.redo_file(), &changed).code(Code::Io)?;
    drop(lock);
    Ok(changed.iter().map(|c| c.path.to_path_buf()).collect())
}

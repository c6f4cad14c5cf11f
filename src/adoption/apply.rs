//! Doing what the plan says, in an order that loses nothing: the data directory made the
//! package's, the old files copied (dated, 0600), the old containers stopped and kept, their data
//! copied into a staging directory and only then moved into place, the admin recorded as there.
//! A failure half-way leaves the old installation as it was (its files, mounts and volumes are
//! only read) and says what was done.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use nix::fcntl::{self, OFlag};
use nix::sys::stat::Mode;

use super::plan::{self, Plan};
use super::{AdoptError, Origin, detect};
use crate::secrets::Secret;
use crate::settings::Answers;
use crate::stack::engine::Engine;
use crate::stack::takeover;
use crate::storage::{DataLayout, atomic, dirs, modes};

/// What the configuration takes from the old installation.
#[derive(Debug)]
pub(crate) struct Adopted {
    pub answers: Answers,
    pub secret_key: Option<Secret>,
    /// The old Mathesar has its admin: none is created.
    pub admin_exists: bool,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> AdoptError + '_ {
    move |source| AdoptError::Io {
        path: path.into(),
        source,
    }
}

/// Takes the installation over as `plan` says. The data directory must be new or empty.
pub(crate) async fn apply(engine: &Engine, plan: &Plan) -> Result<Adopted, AdoptError> {
    // The database's own image copies its data (it is there, and has `cp`).
    let copier = plan
        .found
        .live
        .image_of("mathesar_db")
        .ok_or_else(|| AdoptError::Refused {
            dir: plan.found.files.dir.clone(),
            reason: "it has no container mathesar_db, whose data would be carried over; start the old installation once (`docker compose up -d` in its directory), then try again".into(),
        })?;
    let data = &plan.data_dir;
    let dir_err = |e: dirs::DirError| AdoptError::Refused {
        dir: plan.found.files.dir.clone(),
        reason: e.to_string(),
    };
    match dirs::inspect(&dirs::DATA, data).map_err(dir_err)? {
        s @ (dirs::State::Missing | dirs::State::Unmarked) => {
            dirs::prepare(&dirs::DATA, data, s, modes::PRIVATE_DIR).map_err(dir_err)?
        }
        dirs::State::Created | dirs::State::Adopted if is_fresh(data) => {}
        _ => {
            return Err(AdoptError::Refused {
                dir: plan.found.files.dir.clone(),
                reason: format!(
                    "the data directory {} already holds data; take an installation over into a new or empty data directory (the answer `data-dir`)",
                    data.display()
                ),
            });
        }
    }
    let copies = plan.copies_dir();
    dirs::create_dir_all(&data.join("adopted"), modes::PRIVATE_DIR).map_err(io(data))?;
    dirs::create_dir_all(&copies, modes::PRIVATE_DIR).map_err(io(&copies))?;
    let files = &plan.found.files;
    let write = |name: &str, bytes: &[u8]| {
        let p = copies.join(name);
        atomic::write(&p, bytes, modes::PRIVATE_FILE).map_err(|e| AdoptError::Io {
            path: p.clone(),
            source: std::io::Error::other(e.to_string()),
        })
    };
    write(detect::ENV, &files.env_bytes)?;
    write(detect::COMPOSE, &files.compose_bytes)?;
    write("report.txt", format!("{plan}\n").as_bytes())?;
    println!(
        "mathesar: copied {} and {} of {} to {} (0600)",
        detect::ENV,
        detect::COMPOSE,
        files.dir.display(),
        copies.display()
    );
    let secret_key = secret_key(plan)?;

    // The database last: the application must not run on without it.
    let mut old = plan.found.live.containers.clone();
    old.sort_by_key(|c| c.name == "mathesar_db");
    for c in &old {
        let kept = takeover::stop_and_keep(engine, c, &plan.stamp).await?;
        println!(
            "mathesar: stopped {} and kept it as {kept} (remove it with `docker rm {kept}` once you no longer need it)",
            c.name
        );
    }
    let staging = copies.join("data");
    dirs::create_dir_all(&staging, modes::PRIVATE_DIR).map_err(io(&staging))?;
    for c in &plan.copies {
        let stage = staging.join(c.to.replace('/', "-"));
        dirs::create_dir_all(&stage, modes::PRIVATE_DIR).map_err(io(&stage))?;
        takeover::copy(engine, &copier, &c.from, &stage)
            .await?
            .map_err(|reason| AdoptError::Copy {
                from: c.from.source.clone(),
                to: stage.clone(),
                reason,
            })?;
        if c.to == "pgdata" && plan.found.files.origin == Origin::Guided {
            new_internal_database(engine, &copier, &stage).await?;
        }
        let dest = data.join(c.to);
        if let Some(parent) = dest.parent() {
            dirs::create_dir_all(parent, modes::PRIVATE_DIR).map_err(io(parent))?;
        }
        // Same file system: the copy appears whole or not at all.
        std::fs::rename(&stage, &dest).map_err(io(&dest))?;
        println!(
            "mathesar: copied {} into {} (the original is untouched)",
            c.from.source,
            dest.display()
        );
    }
    if plan.in_config_dir {
        // Their dated copies are written and synced: the configuration directory becomes the
        // package's.
        for name in [detect::ENV, detect::COMPOSE] {
            let p = files.dir.join(name);
            std::fs::remove_file(&p).map_err(io(&p))?;
        }
    }
    let admin_exists = plan.found.live.admin.is_some() && files.origin == Origin::Compose;
    if admin_exists {
        let marker = DataLayout::new(data).admin_created_marker();
        atomic::write(&marker, b"adopted\n", modes::PRIVATE_FILE).map_err(|e| AdoptError::Io {
            path: marker.clone(),
            source: std::io::Error::other(e.to_string()),
        })?;
    }
    // 0.1.x without its admin password in `.env` (0.1.3): the admin created at the first start
    // gets the old password's hash (`stack::admin::carry_over_hash`).
    if let Some(hash) = &plan.found.live.admin_hash
        && plan.carries_admin_hash()
    {
        let file = DataLayout::new(data).carried_admin_hash();
        atomic::write(&file, hash.expose().as_bytes(), modes::PRIVATE_FILE).map_err(|e| {
            AdoptError::Io {
                path: file.clone(),
                source: std::io::Error::other(e.to_string()),
            }
        })?;
        println!(
            "mathesar: the admin `{}` keeps its 0.1.x password: it is set when Mathesar first starts (the generated one is then removed)",
            plan.found.live.admin.as_deref().unwrap_or_default()
        );
    }
    Ok(Adopted {
        answers: plan.answers(),
        secret_key,
        admin_exists,
    })
}

/// A guided installation's cluster gets the new Mathesar's own database before it is used:
/// pgautoupgrade opens the old cluster's `POSTGRES_DB` (the package's `internal-db-name`) to
/// upgrade it, so it must exist there. Made in the copy, with the old PostgreSQL, offline.
async fn new_internal_database(
    engine: &Engine,
    image: &str,
    pgdata: &Path,
) -> Result<(), AdoptError> {
    use std::os::unix::fs::MetadataExt;
    let version = pgdata.join("PG_VERSION");
    let m = std::fs::symlink_metadata(&version).map_err(io(&version))?;
    let owner = format!("{}:{}", m.uid(), m.gid());
    takeover::create_database_offline(engine, image, &owner, pgdata, plan::GUIDED_NEW_INTERNAL_DB)
        .await?
        .map_err(|reason| AdoptError::Copy {
            from: format!("the new database {}", plan::GUIDED_NEW_INTERNAL_DB),
            to: pgdata.into(),
            reason,
        })?;
    println!(
        "mathesar: created Mathesar's new own database {} in the copy of the cluster (0.1.x's mathesar_django stays, unused)",
        plan::GUIDED_NEW_INTERNAL_DB
    );
    Ok(())
}

/// Only the marker (and what an earlier, interrupted adoption began) is in it.
fn is_fresh(data: &Path) -> bool {
    std::fs::read_dir(data).is_ok_and(|entries| {
        entries.flatten().all(|e| {
            let n = e.file_name();
            n == dirs::MARKER || n == "adopted"
        })
    })
}

/// The old `SECRET_KEY`: from its `.env`, else the file Mathesar 0.5 and later generate in
/// `msar/secrets` when it is empty (it encrypts the stored database passwords: it must carry over).
fn secret_key(plan: &Plan) -> Result<Option<Secret>, AdoptError> {
    if let Some(k) = plan
        .found
        .files
        .env
        .get("SECRET_KEY")
        .filter(|k| !k.is_empty())
    {
        return Ok(Some(Secret::new(k.clone())));
    }
    let Some(secrets) = plan
        .copies
        .iter()
        .find(|c| c.to == "msar/secrets" && !c.from.volume)
    else {
        return Ok(None);
    };
    let dir = Path::new(&secrets.from.source);
    let fd = dirs::open_dir(dir).map_err(io(dir))?;
    let Ok(f) = fcntl::openat(
        &fd,
        "secret_key.txt",
        OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC | OFlag::O_NONBLOCK,
        Mode::empty(),
    ) else {
        return Ok(None);
    };
    let mut key = String::new();
    File::from(f)
        .take(4096)
        .read_to_string(&mut key)
        .map_err(io(dir))?;
    let key = key.trim();
    Ok((!key.is_empty()).then(|| Secret::new(key)))
}

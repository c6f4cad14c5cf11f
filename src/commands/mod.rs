//! One module per command: each turns validated arguments into actions and an exit code.

pub(crate) mod adopt;
pub(crate) mod backup;
pub(crate) mod check;
pub(crate) mod configure;
pub(crate) mod doctor;
pub(crate) mod down;
pub(crate) mod drain;
pub(crate) mod generate;
pub(crate) mod images;
pub(crate) mod logs;
pub(crate) mod maintainer;
pub(crate) mod purge;
pub(crate) mod reload;
pub(crate) mod restore;
pub mod run;
pub(crate) mod show_config;
pub(crate) mod status;
pub(crate) mod up;
pub(crate) mod upgrade;
pub(crate) mod verify;

use std::path::{Path, PathBuf};

use crate::cli::{Cli, Command, ConfigDirArg};
use crate::exit::{Code, Failure, Outcome};
use crate::settings::DEFAULT_CONFIG_DIR;
use crate::storage::layout::remembered_config_dir;

pub fn run(cli: Cli) -> Outcome {
    // The pinned images: the package's file for the installed binary (exit 6 if untrustworthy).
    // Not for the maintainer scripts' command, which uses none itself: a removal never fails on
    // that file (the steps it runs load it themselves).
    if !matches!(cli.command, Command::Maintainer(_)) {
        crate::rendering::images::load().map_err(|e| Failure::new(Code::Io, anyhow::anyhow!(e)))?;
    }
    match cli.command {
        Command::Configure(a) => block_on(configure::run(a)),
        Command::Adopt(a) => block_on(adopt::run(a)),
        Command::Check(a) => block_on(check::run(a)),
        Command::ShowConfig(a) => show_config::run(a),
        Command::Generate(a) => generate::run(a),
        Command::Up(a) => block_on(up::run(a)),
        Command::Down(a) => block_on(down::run(a)),
        Command::Drain(a) => block_on(drain::run(a)),
        Command::Reload(a) => block_on(reload::run(a)),
        Command::Run(a) => block_on(run::run(a)),
        Command::Status(a) => block_on(status::run(a)),
        Command::DebconfConfig(a) => {
            crate::debconf::config::command(&config_dir(&a.dir), &a.script_args)
        }
        Command::Purge(a) => purge::run(a),
        Command::Logs(a) => logs::run(a),
        Command::Backup(a) => block_on(backup::run(a)),
        Command::Restore(a) => block_on(restore::run(a)),
        Command::Upgrade(a) => block_on(upgrade::run(a)),
        Command::Doctor(a) => block_on(doctor::run(a)),
        Command::Images(a) => block_on(images::run(a)),
        Command::Maintainer(a) => maintainer::run(a),
    }
}

/// The commands are short-lived: one thread is plenty, and keeps the footprint small.
pub(crate) fn block_on<F: std::future::Future<Output = Outcome>>(f: F) -> Outcome {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::new(Code::Failure, e))?
        .block_on(f)
}

/// `/etc/default/mathesar`, or the file named by `MATHESAR_DEFAULTS_FILE`.
pub(crate) fn defaults_file() -> PathBuf {
    crate::systemd::paths::defaults_file()
}

/// The flag or `MATHESAR_CONFIG_DIR`, else the directory remembered in the defaults file, else
/// `/etc/mathesar`.
pub(crate) fn config_dir(arg: &ConfigDirArg) -> PathBuf {
    arg.config_dir
        .clone()
        .or_else(|| remembered_config_dir(&defaults_file()))
        .unwrap_or_else(|| Path::new(DEFAULT_CONFIG_DIR).to_path_buf())
}

/// A reader's shared lock on the configuration in `dir`: no writer is half-way through replacing
/// it while it is read. Nothing is created: without a lock file there is nothing to wait for.
pub(crate) fn read_lock(dir: &Path) -> Result<Option<crate::storage::lock::Lock>, Failure> {
    let path = crate::storage::ConfigLayout::new(dir).lock_file();
    crate::storage::lock::acquire_shared(&path, crate::storage::lock::DEFAULT_WAIT)
        .map_err(|e| Failure::new(e.code(), e))
}

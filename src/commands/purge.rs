//! `mathesarctl purge`: what purging the package does, for the administrator and for RPM systems
//! (dpkg's postrm runs it, from the copy the prerm kept at `remove`: the one place that decides):
//! remove the containers (never their data: no `down -v`), the files `configure`
//! wrote, `/etc/default/mathesar` and the unit's drop-in; the data directory only when the answer
//! `purge-data` is true and the directory carries the package's marker (`day2::purge`). The
//! configuration directory is judged first (`day2::purge::plan`): one that is not the
//! package's is refused before a file is removed or Compose is run on its compose file.

use anyhow::anyhow;

use crate::cli::PurgeArgs;
use crate::day2::purge;
use crate::exit::{Code, Failure, Outcome, WithCode};
use crate::stack::compose::Compose;
use crate::storage::ConfigLayout;
use crate::systemd::dropin;

pub(crate) fn run(args: PurgeArgs) -> Outcome {
    let config_dir = super::config_dir(&args.dir);
    if !crate::preflight::is_root() {
        return Err(Failure::new(
            Code::Preflight,
            anyhow!(
                "purge removes {} and must run as root: use sudo",
                config_dir.display()
            ),
        ));
    }
    let plan = purge::plan(&config_dir, args.purge_data)?;
    let layout = ConfigLayout::new(&config_dir);
    if layout.compose_file().exists() && !args.files_only {
        // Containers and networks only; the data lives in bind mounts and stays.
        if let Err(e) = Compose::for_config(&layout).remove_containers() {
            eprintln!("mathesar: {e}; remove the containers by hand if any are left");
        }
    }
    purge::execute(&plan, &super::defaults_file()).code(Code::Io)?;
    let dropin_file = dropin::file();
    if dropin::remove(&dropin_file).code(Code::Io)? && !args.files_only {
        dropin::reload_systemd(&dropin_file);
    }
    println!(
        "mathesar: configuration removed from {}",
        config_dir.display()
    );
    if let Some(d) = &plan.data_dir {
        println!(
            "mathesar: data directory {} removed (purge-data is true)",
            d.display()
        );
    }
    if let Some(d) = plan.kept_data_dir.as_ref().filter(|d| d.exists()) {
        println!(
            "mathesar: data directory {} kept (purge-data is false); delete it by hand if unwanted",
            d.display()
        );
    }
    Ok(())
}

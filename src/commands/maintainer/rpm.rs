//! The .rpm's scriptlets: `%post` (no debconf: configure from `/etc/mathesar/answers.yml` or
//! `MATHESAR_*` when present, an existing configuration re-rendered with this release's images,
//! an upgrade's backup first) and `%posttrans` (after an upgrade: the images, then the restart on
//! the new release with that backup, put back when it fails). RPM cannot fail a transaction in
//! either: what to do is said instead, and both exit 0 but for a wrong argument.

use anyhow::anyhow;

use crate::exit::{Code, Failure, Outcome};
use crate::settings::DEFAULT_CONFIG_DIR;
use crate::storage::layout::DEFAULT_FILE;
use crate::storage::{atomic, modes};
use crate::systemd::UNIT;
use crate::systemd::debian::{TIMERS, under};

use super::{BACKUPS, Host, Io, restart};

/// The backup %post took, for %posttrans (which runs once the whole transaction is done, the
/// replaced package's %postun included).
pub(crate) const PENDING: &str = "/run/mathesar-rpm-upgrade";

/// The version being replaced, from `rpm -q --qf '%{INSTALLTIME} %{VERSION}\n'`: both versions
/// are installed during an upgrade, the older installation is the one replaced. The backup is
/// recorded as of it, as the postinst does: the manifest names the version that wrote the data.
pub(crate) fn replaced_version(query: &str) -> Option<String> {
    query
        .lines()
        .filter_map(|l| {
            let (time, version) = l.trim().split_once(' ')?;
            Some((time.parse::<u64>().ok()?, version.trim()))
        })
        .filter(|(_, v)| !v.is_empty())
        .min_by_key(|(t, _)| *t)
        .map(|(_, v)| v.to_string())
}

/// `%post N`: 1 on a first installation, 2 or more on an upgrade.
pub(crate) fn post(h: &mut dyn Host, args: &[String]) -> Outcome {
    let n: u32 = args
        .first()
        .and_then(|a| a.trim().parse().ok())
        .ok_or_else(|| {
            Failure::new(
                Code::Usage,
                anyhow!("%post is given the number of installed packages, not {args:?}"),
            )
        })?;
    let root = h.root().to_path_buf();
    let pending = under(&root, PENDING);
    let _ = std::fs::remove_file(&pending);
    if n == 1 {
        h.say("mathesar: %post: first installation");
        if !h.elsewhere() {
            h.systemctl(&["--no-reload", "preset", UNIT]);
        }
    } else {
        h.say("mathesar: %post: upgrade");
    }
    if h.elsewhere() {
        return Ok(());
    }
    let answers = under(&root, "/etc/mathesar/answers.yml");
    let shown = answers.display().to_string();
    let configured = under(&root, DEFAULT_CONFIG_DIR).join(".env").is_file()
        || under(&root, DEFAULT_FILE).is_file();
    if configured {
        if n >= 2 && !backup(h, &pending) {
            return Ok(());
        }
        if !h
            .ctl(
                &["configure", "--non-interactive", "--no-start"],
                Io::Shown,
                &[],
            )
            .success()
        {
            h.warn("mathesar: the configuration could not be updated; run: mathesarctl configure");
        }
    } else if answers.is_file() {
        let args = [
            "configure",
            "--non-interactive",
            "--no-start",
            "--answers",
            &shown,
        ];
        if h.ctl(&args, Io::Shown, &[]).success() {
            h.say(&format!(
                "mathesar: configured from {shown}; start it with: systemctl enable --now mathesar"
            ));
        } else {
            h.warn(&format!(
                "mathesar: not configured; fix {shown}, then run: mathesarctl configure --answers {shown}"
            ));
        }
    } else if h.any_mathesar_var() {
        if h.ctl(
            &["configure", "--non-interactive", "--no-start"],
            Io::Shown,
            &[],
        )
        .success()
        {
            h.say(
                "mathesar: configured from MATHESAR_* variables; start it with: systemctl enable --now mathesar",
            );
        } else {
            h.warn("mathesar: not configured; run: mathesarctl configure");
        }
    } else {
        h.say(
            "mathesar: not configured yet. Run: mathesarctl configure && systemctl enable --now mathesar",
        );
    }
    // The backup, drill and refresh timers, when `mathesarctl configure` enabled them.
    for t in TIMERS {
        if h.is_enabled(t) {
            h.systemctl(&["start", t]);
        }
    }
    Ok(())
}

/// An upgrade's backup of the databases and the configuration, its path left in `pending` for
/// %posttrans; `false` when it failed (the old configuration is then left as it is).
fn backup(h: &mut dyn Host, pending: &std::path::Path) -> bool {
    let of_version = replaced_version(&h.rpm_query("%{INSTALLTIME} %{VERSION}\\n"));
    let mut args = vec![
        "backup",
        "--to",
        BACKUPS,
        "--reason",
        "upgrade",
        "--if-configured",
    ];
    if let Some(v) = &of_version {
        args.extend(["--of-version", v]);
    }
    let ran = h.ctl(&args, Io::Captured, &[]);
    if !ran.success() {
        h.warn(
            "mathesar: the backup before the upgrade failed (see above); the configuration was not changed.",
        );
        h.warn("mathesar: fix the cause, then run: mathesarctl upgrade");
        return false;
    }
    let dir = ran.stdout.trim_end_matches('\n');
    if !dir.is_empty() {
        h.say(&format!("mathesar: backup before the upgrade: {dir}"));
        if let Err(e) = atomic::write(pending, format!("{dir}\n").as_bytes(), modes::PRIVATE_FILE) {
            h.warn(&format!("mathesar: {e}: {}", e.source));
        }
    }
    true
}

/// `%posttrans`: after an upgrade whose %post took a backup, the images pulled (a failure leaves
/// the running Mathesar as it is), then `mathesarctl upgrade --restart` on that backup. A
/// disabled unit is not started.
pub(crate) fn posttrans(h: &mut dyn Host) -> Outcome {
    let pending = under(h.root(), PENDING);
    let Ok(text) = std::fs::read_to_string(&pending) else {
        return Ok(());
    };
    let _ = std::fs::remove_file(&pending);
    let backup_dir = text.lines().next().unwrap_or_default().to_string();
    if h.elsewhere() {
        return Ok(());
    }
    h.systemctl(&["daemon-reload"]);
    if !h.is_enabled(UNIT) {
        return Ok(());
    }
    // A package operation is not a crash loop: its start must not hit the unit's start limit.
    h.systemctl(&["reset-failed", UNIT]);
    let query = h.rpm_query("%{VERSION}-%{RELEASE}\\n");
    let version = query.lines().last().unwrap_or_default().trim().to_string();
    let mut rc = h
        .ctl(&["images", "pull", "--if-configured"], Io::ToStderr, &[])
        .code;
    if rc == 0 {
        let mut args = vec!["upgrade", "--restart", "--backup-dir", &backup_dir];
        if !version.is_empty() {
            args.extend(["--package-version", &version]);
        }
        rc = h.ctl(&args, Io::ToStderr, &[]).code;
    }
    for l in restart::rpm_upgraded(rc, &backup_dir) {
        h.warn(&l);
    }
    Ok(())
}

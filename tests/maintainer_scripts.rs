//! The maintainer scripts on a scratch tree (`DPKG_ROOT`). `debian/prerm remove` keeps a copy of
//! mathesarctl, `debian/postrm purge` runs it (or the installed binary): what a purge removes is
//! decided by `mathesarctl purge` alone, and only a directory the package marked, of root's,
//! reached without a symbolic link, is ever deleted. Under DPKG_ROOT the postinst and the rpm
//! scriptlets configure and start nothing; their decisions on a real system are
//! `mathesarctl maintainer`'s, tested on a fake system beside it (src/commands/maintainer). The
//! preinst, still shell, compares versions as mathesarctl does.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// How the purge finds mathesarctl.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ctl {
    /// Still installed (`/usr/bin/mathesarctl`).
    Installed,
    /// Removed by dpkg after the prerm kept its copy (`apt purge`, `dpkg --purge`).
    Kept,
    /// Removed, no copy kept (a removal by a prerm that did not keep one).
    Gone,
}

struct Tree {
    t: tempfile::TempDir,
}

impl Tree {
    fn new(data_dir: &str) -> Tree {
        // Beside the built binary, so that installing it is a hard link, not a copy.
        let t = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
        let cfg = t.path().join("etc/mathesar");
        // As configure makes it: created and marked.
        mathesar::testing::storage::dirs::prepare(
            &mathesar::testing::storage::dirs::CONFIG,
            &cfg,
            mathesar::testing::storage::dirs::State::Missing,
            0o700,
        )
        .unwrap();
        // The system's directories the scripts use.
        std::fs::create_dir_all(t.path().join("var/lib")).unwrap();
        let tree = Tree { t };
        tree.env(data_dir, true);
        tree
    }
    fn path(&self, rel: &str) -> PathBuf {
        self.t.path().join(rel)
    }
    /// The configuration's `.env`, its values quoted as configure writes them.
    fn env(&self, data_dir: &str, purge_data: bool) {
        std::fs::write(
            self.path("etc/mathesar/.env"),
            format!(
                "MATHESAR_DATA_DIR={}\nMATHESAR_PURGE_DATA=\"{purge_data}\"\n",
                mathesar::testing::storage::env_text::quote(data_dir)
            ),
        )
        .unwrap();
    }
    /// A data directory as configure makes it: created, marked, holding a database.
    fn ours(&self, rel: &str) -> PathBuf {
        let d = self.path(rel);
        mathesar::testing::storage::dirs::prepare(
            &mathesar::testing::storage::dirs::DATA,
            &d,
            mathesar::testing::storage::dirs::State::Missing,
            0o700,
        )
        .unwrap();
        std::fs::create_dir_all(d.join("pgdata")).unwrap();
        std::fs::write(d.join("pgdata/PG_VERSION"), "17").unwrap();
        d
    }
    fn precious(&self, rel: &str) -> PathBuf {
        let f = self.path(rel);
        std::fs::create_dir_all(f.parent().unwrap()).unwrap();
        std::fs::write(&f, "precious").unwrap();
        f
    }
    /// `debian/NAME ARG` on the tree, with [`run_script`]'s recording commands (no docker,
    /// no systemctl of this machine's).
    fn script(&self, name: &str, arg: &str) -> String {
        run_script(
            &format!("debian/{name}"),
            &[arg],
            self.t.path(),
            // Root is not the point: an ordinary user's `cargo test` runs this too.
            &[(mathesar::testing::preflight::PASS_ROOT_CHECK, "1")],
        )
    }
    /// The built binary as the package installs it: a hard link beside it, not a copy.
    fn install(&self) {
        let bin = self.path("usr/bin/mathesarctl");
        std::fs::create_dir_all(bin.parent().unwrap()).unwrap();
        let built = env!("CARGO_BIN_EXE_mathesarctl");
        let _ = std::fs::remove_file(&bin);
        if std::fs::hard_link(built, &bin).is_err() {
            std::fs::copy(built, &bin).unwrap();
        }
    }
    /// `apt purge`: prerm remove (the binary installed), dpkg deletes the binary unless `ctl` is
    /// `Installed`, postrm purge.
    fn purge(&self, ctl: Ctl) -> String {
        let bin = self.path("usr/bin/mathesarctl");
        std::fs::create_dir_all(bin.parent().unwrap()).unwrap();
        if ctl != Ctl::Gone {
            self.install();
        }
        let mut out = if ctl == Ctl::Kept {
            self.script("prerm", "remove")
        } else {
            String::new()
        };
        if ctl != Ctl::Installed {
            let _ = std::fs::remove_file(&bin);
        }
        out.push_str(&self.script("postrm", "purge"));
        assert!(
            !self.path("var/lib/mathesarctl").exists(),
            "the kept copy is gone after a purge: {out}"
        );
        out
    }
}

#[test]
fn a_marked_data_directory_is_removed_with_the_configuration() {
    for ctl in [Ctl::Installed, Ctl::Kept] {
        let tree = Tree::new("");
        let d = tree.ours("var/lib/mathesar");
        tree.env(d.to_str().unwrap(), true);
        let out = tree.purge(ctl);
        assert!(!d.exists(), "{ctl:?}: {out}");
        assert!(!tree.path("etc/mathesar").exists(), "{out}");
    }
}

/// No copy of mathesarctl: nothing of the configuration or the data is removed, and the message
/// says what to do. A copy someone else could have written is not run.
#[test]
fn without_a_trusted_mathesarctl_nothing_is_removed() {
    let tree = Tree::new("");
    let d = tree.ours("var/lib/mathesar");
    tree.env(d.to_str().unwrap(), true);
    let out = tree.purge(Ctl::Gone);
    assert!(
        out.contains("were kept") && out.contains("mathesarctl purge"),
        "{out}"
    );
    assert!(d.join("pgdata/PG_VERSION").exists(), "{out}");
    assert!(tree.path("etc/mathesar/.env").exists(), "{out}");

    // A copy in a directory others can write into: not run.
    let kept = tree.path("var/lib/mathesarctl");
    std::fs::create_dir_all(&kept).unwrap();
    let marker = tree.path("ran");
    std::fs::write(
        kept.join("mathesarctl"),
        format!("#!/bin/sh\ntouch {}\n", marker.display()),
    )
    .unwrap();
    std::fs::set_permissions(
        kept.join("mathesarctl"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    std::fs::set_permissions(&kept, std::fs::Permissions::from_mode(0o777)).unwrap();
    let out = tree.script("postrm", "purge");
    assert!(!marker.exists(), "an untrusted copy was run: {out}");
    assert!(d.join("pgdata/PG_VERSION").exists(), "{out}");
}

/// purge-data false (piuparts' purge): what configure generated goes, the data stays; a data
/// directory that holds nothing else goes entirely, and so does the unit's drop-in.
#[test]
fn purge_without_purge_data_leaves_the_data_and_nothing_else() {
    for (ctl, with_data) in [
        (Ctl::Installed, false),
        (Ctl::Installed, true),
        (Ctl::Kept, true),
    ] {
        let tree = Tree::new("");
        let d = tree.ours("var/lib/mathesar");
        if !with_data {
            std::fs::remove_file(d.join("pgdata/PG_VERSION")).unwrap();
        }
        for sub in [
            "caddy/data",
            "caddy/config",
            "msar/static",
            "msar/media",
            "msar/secrets",
        ] {
            std::fs::create_dir_all(d.join(sub)).unwrap();
        }
        std::fs::write(d.join("caddy/Caddyfile"), ":80\n").unwrap();
        let dropin = tree.path("etc/systemd/system/mathesar.service.d/paths.conf");
        std::fs::create_dir_all(dropin.parent().unwrap()).unwrap();
        std::fs::write(&dropin, "[Service]\n").unwrap();
        tree.env(d.to_str().unwrap(), false);
        // The backups' files and the timers' links, which configure makes.
        let etc = tree.path("etc/mathesar");
        for f in [
            "backup-password",
            "backup-rest-password",
            "backup-ssh-key",
            "backup-ssh-key.pub",
            "backup-known-hosts",
        ] {
            std::fs::write(etc.join(f), "x\n").unwrap();
        }
        let timer_link = tree.path("etc/systemd/system/timers.target.wants/mathesar-backup.timer");
        std::fs::create_dir_all(timer_link.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink("/usr/lib/systemd/system/mathesar-backup.timer", &timer_link)
            .unwrap();
        let schedule = tree.path("etc/systemd/system/mathesar-backup.timer.d/schedule.conf");
        std::fs::create_dir_all(schedule.parent().unwrap()).unwrap();
        std::fs::write(&schedule, "[Timer]\n").unwrap();
        let out = tree.purge(ctl);
        let what = format!("{ctl:?}, data {with_data}: {out}");
        assert!(timer_link.symlink_metadata().is_err(), "{what}");
        assert!(!schedule.parent().unwrap().exists(), "{what}");
        assert!(!dropin.exists(), "{what}");
        assert!(
            !tree.path("etc/systemd/system/mathesar.service.d").exists(),
            "{what}"
        );
        assert!(!tree.path("etc/mathesar").exists(), "{what}");
        if with_data {
            assert!(d.join("pgdata/PG_VERSION").exists(), "{what}");
            assert!(!d.join("caddy").exists(), "{what}");
            assert!(!d.join("msar").exists(), "{what}");
        } else {
            assert!(!d.exists(), "{what}");
        }
    }
}

/// The data directory named by the configuration is deleted only when it is the package's:
/// unmarked (`/home`), a link, reached through a linked parent, not in normal form, a system
/// directory, owned by another user, or writable by others, it is kept, and so is everything
/// else. Its path is read with the `.env` parser: `d\\x` is not mistaken for the sibling `d\x`.
#[test]
fn only_the_package_data_directory_is_ever_deleted() {
    let root = nix::unistd::geteuid().is_root();
    let tree = Tree::new("");
    let thesis = tree.precious("home/alice/thesis");
    let home = tree.path("home");
    let mut cases: Vec<String> = vec![
        home.display().to_string(),
        // A link to a marked directory: the target is not emptied.
        {
            let target = tree.ours("real");
            let link = tree.path("link");
            std::os::unix::fs::symlink(&target, &link).unwrap();
            link.display().to_string()
        },
        // A marked directory reached through a linked parent.
        {
            tree.ours("elsewhere/linked-data");
            std::os::unix::fs::symlink(tree.path("elsewhere"), tree.path("via")).unwrap();
            tree.path("via/linked-data").display().to_string()
        },
        // `parent/victim/..` names the parent, sibling included.
        {
            tree.ours("parent/victim");
            tree.precious("parent/sibling/file");
            format!("{}/parent/victim/..", tree.t.path().display())
        },
        // Writable by others.
        {
            let d = tree.ours("shared");
            std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o777)).unwrap();
            d.display().to_string()
        },
        "//".to_string(),
        "/".to_string(),
    ];
    if root {
        // Another user's directory, marker and all.
        let d = tree.ours("theirs");
        nix::unistd::chown(&d, Some(nix::unistd::Uid::from_raw(4321)), None).unwrap();
        cases.push(d.display().to_string());
    }
    let kept = [
        "home/alice/thesis",
        "real/pgdata/PG_VERSION",
        "elsewhere/linked-data/pgdata/PG_VERSION",
        "parent/sibling/file",
        "parent/victim/pgdata/PG_VERSION",
        "shared/pgdata/PG_VERSION",
    ];
    for (i, data) in cases.iter().enumerate() {
        let ctl = if i % 2 == 0 {
            Ctl::Installed
        } else {
            Ctl::Kept
        };
        if !tree.path("etc/mathesar").exists() {
            mathesar::testing::storage::dirs::prepare(
                &mathesar::testing::storage::dirs::CONFIG,
                &tree.path("etc/mathesar"),
                mathesar::testing::storage::dirs::State::Missing,
                0o700,
            )
            .unwrap();
        }
        tree.env(data, true);
        let out = tree.purge(ctl);
        assert!(out.contains("refused"), "{data}: {out}");
        assert!(thesis.exists(), "{ctl:?}, {data}: {out}");
        for k in kept {
            assert!(tree.path(k).exists(), "{ctl:?}, {data}: {k} removed: {out}");
        }
        if root {
            assert!(
                tree.path("theirs/pgdata/PG_VERSION").exists(),
                "{data}: {out}"
            );
        }
        assert!(
            tree.path("etc/mathesar/.env").exists(),
            "a refused purge removes nothing: {data}: {out}"
        );
    }

    // `d\\x` (two backslashes), written escaped in `.env`: that one goes, the sibling `d\x` stays.
    let tree = Tree::new("");
    let ours = tree.ours("d\\\\x");
    let sibling = tree.ours("d\\x");
    tree.env(ours.to_str().unwrap(), true);
    let out = tree.purge(Ctl::Kept);
    assert!(!ours.exists(), "{out}");
    assert!(sibling.join("pgdata/PG_VERSION").exists(), "{out}");
}

/// A configuration directory without the marker (another Compose project's `.env` and compose
/// file) is kept whole by the package's purge.
#[test]
fn an_unmarked_configuration_directory_is_kept() {
    let tree = Tree::new("");
    let d = tree.ours("var/lib/mathesar");
    tree.env(d.to_str().unwrap(), true);
    std::fs::write(
        tree.path("etc/mathesar/docker-compose.yml"),
        "services: {}\n",
    )
    .unwrap();
    std::fs::remove_file(tree.path("etc/mathesar/.mathesar-owned")).unwrap();
    let out = tree.purge(Ctl::Kept);
    assert!(out.contains("refused"), "{out}");
    assert!(tree.path("etc/mathesar/.env").exists(), "{out}");
    assert!(
        tree.path("etc/mathesar/docker-compose.yml").exists(),
        "{out}"
    );
    assert!(d.join("pgdata/PG_VERSION").exists(), "{out}");
}

/// Commands that record each call (`NAME ARGS`, one a line, in `root/calls`) in `root/bin`, and
/// mathesarctl itself: everything a script could run besides mathesarctl, and nothing of the
/// system's. Returns the PATH to run with.
fn recording_path(root: &Path) -> String {
    let bin = root.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let calls = root.join("calls");
    for name in [
        "systemctl",
        "deb-systemd-invoke",
        "dpkg-query",
        "dpkg",
        "rpm",
        "docker",
    ] {
        let p = bin.join(name);
        std::fs::write(
            &p,
            format!(
                "#!/bin/sh\necho \"$(basename \"$0\") $*\" >>'{}'\n",
                calls.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_mathesarctl"), bin.join("mathesarctl")).unwrap();
    format!("{}:/usr/bin:/bin", bin.display())
}

fn calls(root: &Path) -> String {
    std::fs::read_to_string(root.join("calls")).unwrap_or_default()
}

/// Runs `script` (a path in this repository) with `args` on the scratch tree `root` (DPKG_ROOT),
/// with [`recording_path`]'s PATH and `env`.
fn run_script(script: &str, args: &[&str], root: &Path, env: &[(&str, &str)]) -> String {
    let path = if root.join("bin").exists() {
        format!("{}:/usr/bin:/bin", root.join("bin").display())
    } else {
        recording_path(root)
    };
    let o = Command::new("sh")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join(script))
        .args(args)
        .env("DPKG_ROOT", root)
        .env("PATH", path)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(o.status.success(), "{script} {args:?}: {text}");
    text
}

/// Under DPKG_ROOT (an installation into another tree) %post and %posttrans configure, back up
/// and start nothing: the tree's files only (the record of an upgrade's backup removed). What
/// they do on a real system is `mathesarctl maintainer`'s, tested with a fake system there, and
/// in the end-to-end scenarios.
#[test]
fn rpm_scriptlets_under_dpkg_root_run_nothing() {
    let t = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(t.path().join("etc/mathesar")).unwrap();
    std::fs::write(t.path().join("etc/mathesar/.env"), "A=\"1\"\n").unwrap();
    std::fs::create_dir(t.path().join("run")).unwrap();
    let record = t.path().join("run/mathesar-rpm-upgrade");
    std::fs::write(&record, "/var/backups/mathesar/mathesar-0\n").unwrap();
    let out = run_script("rpm/post.sh", &["2"], t.path(), &[("MATHESAR_X", "1")]);
    assert!(out.contains("mathesar: %post: upgrade"), "{out}");
    assert!(!record.exists(), "a stale record is removed: {out}");
    let out = run_script("rpm/post.sh", &["1"], t.path(), &[]);
    assert!(out.contains("mathesar: %post: first installation"), "{out}");
    std::fs::write(&record, "/var/backups/mathesar/mathesar-1\n").unwrap();
    let out = run_script("rpm/posttrans.sh", &[], t.path(), &[]);
    assert!(!record.exists(), "{out}");
    assert_eq!(calls(t.path()), "", "{out}");
    assert_eq!(
        std::fs::read_to_string(t.path().join("etc/mathesar/.env")).unwrap(),
        "A=\"1\"\n"
    );
    // A wrong argument is said; %post still exits 0 (RPM cannot fail there).
    let out = run_script("rpm/post.sh", &["x"], t.path(), &[]);
    assert!(out.contains("%post is given the number"), "{out}");
}

/// `debian/postinst configure` under DPKG_ROOT (the confmodule sourced as under a frontend, which
/// it leaves as it is): nothing configured or started, only a copy of mathesarctl that a
/// removal kept is deleted.
#[test]
fn the_postinst_under_dpkg_root_only_deletes_a_kept_copy() {
    let tree = Tree::new("");
    tree.install();
    let kept = tree.path("var/lib/mathesarctl");
    std::fs::create_dir_all(&kept).unwrap();
    std::fs::write(kept.join("mathesarctl"), "old copy").unwrap();
    let env = tree.path("etc/mathesar/.env");
    let before = std::fs::read(&env).unwrap();
    let out = run_script(
        "debian/postinst",
        &["configure", "0.10.1-1"],
        tree.t.path(),
        &[("DEBIAN_HAS_FRONTEND", "1"), ("DEBCONF_REDIR", "1")],
    );
    assert!(!kept.exists(), "{out}");
    assert_eq!(calls(tree.t.path()), "", "{out}");
    assert_eq!(std::fs::read(&env).unwrap(), before, "{out}");
}

/// `debian/prerm remove` keeps the copy and removes the timers' links (`configure` enabled them,
/// not debhelper's lines); under DPKG_ROOT nothing is stopped. An upgrade does nothing here.
#[test]
fn prerm_remove_takes_the_timers_links_away() {
    let tree = Tree::new("");
    tree.install();
    let wants = tree.path("etc/systemd/system/timers.target.wants");
    std::fs::create_dir_all(&wants).unwrap();
    let link = wants.join("mathesar-refresh.timer");
    std::os::unix::fs::symlink("/usr/lib/systemd/system/mathesar-refresh.timer", &link).unwrap();
    let out = run_script("debian/prerm", &["upgrade", "0.12.0-1"], tree.t.path(), &[]);
    assert!(link.symlink_metadata().is_ok(), "{out}");
    assert!(!tree.path("var/lib/mathesarctl").exists(), "{out}");
    let out = run_script("debian/prerm", &["remove"], tree.t.path(), &[]);
    assert!(link.symlink_metadata().is_err(), "{out}");
    assert!(
        tree.path("var/lib/mathesarctl/mathesarctl").is_file(),
        "{out}"
    );
    assert_eq!(calls(tree.t.path()), "", "{out}");
}

/// `debian/preinst` filled in as `scripts/build-packages` does (pinning Mathesar 0.10.1), written
/// into `dir`; returns its path.
fn filled_preinst(dir: &Path) -> std::path::PathBuf {
    let script =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("debian/preinst"))
            .unwrap()
            .replace("@SERVICE_IMAGE@", "mathesar/mathesar:0.10.1");
    let preinst = dir.join("preinst");
    std::fs::write(&preinst, script).unwrap();
    preinst
}

/// `debian/preinst` (also the rpm's `%pre`), filled in as `scripts/build-packages` does: refuses
/// a Mathesar older than the one recorded, naming the backup of before the upgrade; lets the
/// same or a newer one, and a fresh installation, through.
#[test]
fn preinst_refuses_an_older_mathesar_with_the_way_back() {
    let t = tempfile::tempdir().unwrap();
    let preinst = filled_preinst(t.path());
    let run = |arg: &str| {
        Command::new("sh")
            .arg(&preinst)
            .arg(arg)
            .env("DPKG_ROOT", t.path())
            .env_remove("MATHESAR_RESTORE_BEFORE_DOWNGRADE")
            .output()
            .unwrap()
    };
    assert!(run("install").status.success());
    std::fs::create_dir_all(t.path().join("etc/mathesar")).unwrap();
    let backup = t
        .path()
        .join("var/backups/mathesar/mathesar-20250101T000000Z");
    std::fs::create_dir_all(&backup).unwrap();
    std::fs::write(
        backup.join("manifest.json"),
        "{\"images\": {\"service\": \"mathesar/mathesar:0.10.1\"}}",
    )
    .unwrap();
    for (recorded, ok) in [("0.10.1", true), ("0.9.0", true), ("0.11.0", false)] {
        std::fs::write(
            t.path().join("etc/mathesar/mathesar-version"),
            format!("{recorded}\n"),
        )
        .unwrap();
        for arg in ["upgrade", "2"] {
            let o = run(arg);
            assert_eq!(o.status.success(), ok, "{recorded} {arg}: {o:?}");
            if !ok {
                let err = String::from_utf8_lossy(&o.stderr);
                assert!(
                    err.contains("migrated") && err.contains("by Mathesar 0.11.0"),
                    "{err}"
                );
                assert!(
                    err.contains(&format!(
                        "mathesarctl restore --no-start {}",
                        backup.display()
                    )),
                    "{err}"
                );
            }
        }
    }
}

/// The preinst's version rule is mathesarctl's (`mathesar::testing::version`): for a package pinning each
/// tag below over databases recorded with each other tag, it refuses exactly when the recorded one
/// is newer; with dpkg, and on an RPM host (no dpkg on the PATH) with rpm.
#[test]
fn preinst_and_mathesarctl_compare_versions_alike() {
    let rpm_host = tempfile::tempdir().unwrap();
    for tool in ["sed", "head", "tail", "tr", "cat", "grep", "rpm"] {
        let path = ["/usr/bin", "/bin"]
            .iter()
            .map(|d| Path::new(d).join(tool))
            .find(|p| p.exists())
            .unwrap_or_else(|| panic!("{tool} is needed by the test"));
        std::os::unix::fs::symlink(path, rpm_host.path().join(tool)).unwrap();
    }
    let system_path = std::env::var("PATH").unwrap_or_default();
    for path in [system_path.as_str(), rpm_host.path().to_str().unwrap()] {
        preinst_compares_versions_as_mathesarctl(path);
    }
}

fn preinst_compares_versions_as_mathesarctl(path: &str) {
    let tags = [
        "0.10.1",
        "0.11.0",
        "0.11.0-rc1",
        "0.11.0-rc2",
        "0.11.0-rc10",
        "0.11.0-fails-first-start",
        "v0.11.0",
        "0.11.0+build5",
        "1.0.0",
        "0.9.9",
        "latest",
    ];
    let t = tempfile::tempdir().unwrap();
    let config = t.path().join("etc/mathesar");
    std::fs::create_dir_all(&config).unwrap();
    let template =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("debian/preinst"))
            .unwrap();
    for ours in tags {
        let preinst = t.path().join("preinst");
        std::fs::write(
            &preinst,
            template.replace("@SERVICE_IMAGE@", &format!("mathesar/mathesar:{ours}")),
        )
        .unwrap();
        for recorded in tags {
            std::fs::write(config.join("mathesar-version"), format!("{recorded}\n")).unwrap();
            let o = Command::new("/bin/sh")
                .arg(&preinst)
                .arg("upgrade")
                .env("DPKG_ROOT", t.path())
                .env("PATH", path)
                .env_remove("MATHESAR_RESTORE_BEFORE_DOWNGRADE")
                .output()
                .unwrap();
            assert_eq!(
                !o.status.success(),
                mathesar::testing::version::is_newer(recorded, ours),
                "package of {ours} over databases of {recorded} (PATH {path}): {o:?}"
            );
        }
    }
}

/// `MATHESAR_RESTORE_BEFORE_DOWNGRADE`: the preinst restores the named backup with the installed
/// `mathesarctl` (`restore --no-start`) before the older package goes in, and goes on only when
/// the restored databases are not newer than its Mathesar; a failed restore stops it.
#[test]
fn preinst_restores_when_asked() {
    let t = tempfile::tempdir().unwrap();
    let preinst = filled_preinst(t.path());
    let config = t.path().join("etc/mathesar");
    std::fs::create_dir_all(&config).unwrap();
    std::fs::write(config.join(".env"), "").unwrap();
    let bin = t.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let calls = t.path().join("calls");
    // The fake mathesarctl "restores" the version named in RESTORED (empty: the restore fails).
    std::fs::write(
        bin.join("mathesarctl"),
        format!(
            "#!/bin/sh\necho \"$*\" >>'{}'\n[ -n \"$RESTORED\" ] || exit 6\necho \"$RESTORED\" >'{}/mathesar-version'\n",
            calls.display(),
            config.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(
        bin.join("mathesarctl"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let run = |restored: &str| {
        std::fs::write(config.join("mathesar-version"), "0.11.0\n").unwrap();
        Command::new("sh")
            .arg(&preinst)
            .arg("upgrade")
            .arg("0.1.0-1")
            .env("DPKG_ROOT", t.path())
            .env("MATHESAR_RESTORE_BEFORE_DOWNGRADE", "/b/mathesar-1")
            .env("RESTORED", restored)
            .env(
                "PATH",
                format!("{}:{}", bin.display(), std::env::var("PATH").unwrap()),
            )
            .output()
            .unwrap()
    };
    let o = run("0.10.1");
    assert!(o.status.success(), "{o:?}");
    let o = run("0.11.0");
    assert!(!o.status.success(), "{o:?}");
    assert!(String::from_utf8_lossy(&o.stderr).contains("also migrated by Mathesar 0.11.0"));
    let o = run("");
    assert!(!o.status.success(), "{o:?}");
    assert!(String::from_utf8_lossy(&o.stderr).contains("the restore failed"));
    assert_eq!(
        std::fs::read_to_string(&calls).unwrap(),
        "restore --no-start --from /var/backups/mathesar /b/mathesar-1\n".repeat(3)
    );
}

//! The maintainer scripts on a scratch tree. `debian/postrm purge`, both when it delegates to
//! `mathesarctl purge` and when the binary is already gone: only a data directory carrying the
//! package's marker is ever deleted. `rpm/post.sh`: the upgrade backup's version.

use std::path::{Path, PathBuf};
use std::process::Command;

struct Tree {
    t: tempfile::TempDir,
}

impl Tree {
    fn new(data_dir: &str) -> Tree {
        let t = tempfile::tempdir().unwrap();
        let cfg = t.path().join("etc/mathesar");
        // As configure makes it: created and marked.
        mathesar::storage::dirs::prepare(
            &mathesar::storage::dirs::CONFIG,
            &cfg,
            mathesar::storage::dirs::State::Missing,
            0o700,
        )
        .unwrap();
        std::fs::write(
            cfg.join(".env"),
            format!("MATHESAR_DATA_DIR=\"{data_dir}\"\nMATHESAR_PURGE_DATA=\"true\"\n"),
        )
        .unwrap();
        Tree { t }
    }
    fn path(&self, rel: &str) -> PathBuf {
        self.t.path().join(rel)
    }
    /// A data directory as configure makes it: created, marked, holding a database.
    fn ours(&self, rel: &str) -> PathBuf {
        let d = self.path(rel);
        mathesar::storage::dirs::prepare(
            &mathesar::storage::dirs::DATA,
            &d,
            mathesar::storage::dirs::State::Missing,
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
    fn purge(&self, with_binary: bool) -> String {
        let ctl = if with_binary {
            env!("CARGO_BIN_EXE_mathesarctl")
        } else {
            "/nonexistent/mathesarctl"
        };
        let o = Command::new("sh")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("debian/postrm"))
            .arg("purge")
            .env("MATHESAR_POSTRM_ROOT", self.t.path())
            .env("MATHESAR_POSTRM_CTL", ctl)
            .env("MATHESAR_POSTRM_DOCKER", "/nonexistent/docker")
            // Root is not the point: an ordinary user's `cargo test` runs this too.
            .env(mathesar::preflight::PASS_ROOT_CHECK, "1")
            // mathesarctl's own default when unset: never the machine's real drop-in.
            .env(
                "MATHESAR_UNIT_DROPIN",
                self.path("etc/systemd/system/mathesar.service.d/paths.conf"),
            )
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(o.status.success(), "{text}");
        text
    }
}

#[test]
fn a_marked_data_directory_is_removed_with_the_configuration() {
    for with_binary in [false, true] {
        let tree = Tree::new("");
        let d = tree.ours("var/lib/mathesar");
        std::fs::write(
            tree.path("etc/mathesar/.env"),
            format!(
                "MATHESAR_DATA_DIR=\"{}\"\nMATHESAR_PURGE_DATA=\"true\"\n",
                d.display()
            ),
        )
        .unwrap();
        let out = tree.purge(with_binary);
        assert!(!d.exists(), "binary {with_binary}: {out}");
        assert!(!tree.path("etc/mathesar").exists(), "{out}");
    }
}

/// purge-data false (piuparts' purge): what configure generated goes, the data stays; a data
/// directory that holds nothing else goes entirely, and so does the unit's drop-in.
#[test]
fn purge_without_purge_data_leaves_the_data_and_nothing_else() {
    for with_binary in [false, true] {
        for with_data in [false, true] {
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
            std::fs::write(
                tree.path("etc/mathesar/.env"),
                format!(
                    "MATHESAR_DATA_DIR=\"{}\"\nMATHESAR_PURGE_DATA=\"false\"\n",
                    d.display()
                ),
            )
            .unwrap();
            let out = tree.purge(with_binary);
            let what = format!("binary {with_binary}, data {with_data}: {out}");
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
}

#[test]
fn an_unmarked_linked_or_unnormalised_data_directory_is_kept() {
    for with_binary in [false, true] {
        // Named directly: a directory mathesar did not create (`/home`).
        let tree = Tree::new("");
        let thesis = tree.precious("home/alice/thesis");
        let home = tree.path("home");
        let cases: Vec<String> = vec![
            home.display().to_string(),
            // A link to a marked directory: the target is not emptied.
            {
                let target = tree.ours("real");
                let link = tree.path("link");
                std::os::unix::fs::symlink(&target, &link).unwrap();
                link.display().to_string()
            },
            // `parent/victim/..` names the parent, sibling included.
            {
                tree.ours("parent/victim");
                tree.precious("parent/sibling/file");
                format!("{}/parent/victim/..", tree.t.path().display())
            },
            "//".to_string(),
            "/".to_string(),
        ];
        for data in &cases {
            std::fs::create_dir_all(tree.path("etc/mathesar")).unwrap();
            std::fs::write(
                tree.path("etc/mathesar/.env"),
                format!("MATHESAR_DATA_DIR=\"{data}\"\nMATHESAR_PURGE_DATA=\"true\"\n"),
            )
            .unwrap();
            let out = tree.purge(with_binary);
            assert!(
                out.contains("kept") || out.contains("refused"),
                "{data}: {out}"
            );
            assert!(thesis.exists(), "binary {with_binary}, {data}: {out}");
            assert!(
                tree.path("real/pgdata/PG_VERSION").exists(),
                "{data}: {out}"
            );
            assert!(tree.path("parent/sibling/file").exists(), "{data}: {out}");
            assert!(
                tree.path("parent/victim/pgdata/PG_VERSION").exists(),
                "{data}: {out}"
            );
        }
    }
}

/// `rpm/post.sh` on an upgrade records its backup as of the version being replaced, like the
/// Debian postinst (`--of-version`).
#[test]
fn rpm_post_backs_up_as_of_the_replaced_version() {
    use std::os::unix::fs::PermissionsExt;
    let t = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(t.path().join("etc/mathesar")).unwrap();
    std::fs::write(t.path().join("etc/mathesar/.env"), "A=\"1\"\n").unwrap();
    let bin = t.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let calls = t.path().join("calls");
    for (name, body) in [
        // Both versions are in the database during an upgrade: the older one is replaced.
        (
            "rpm",
            "printf '1700000200 0.2.0\\n1700000100 0.1.0\\n'".to_string(),
        ),
        (
            "mathesarctl",
            format!("echo \"$*\" >>'{}'", calls.display()),
        ),
    ] {
        let p = bin.join(name);
        std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let o = Command::new("sh")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("rpm/post.sh"))
        .arg("2")
        .env("MATHESAR_RPM_ROOT", t.path())
        .env(
            "PATH",
            format!("{}:{}", bin.display(), std::env::var("PATH").unwrap()),
        )
        .output()
        .unwrap();
    assert!(o.status.success(), "{o:?}");
    let calls = std::fs::read_to_string(&calls).unwrap();
    assert!(
        calls.contains("backup --reason upgrade --if-configured --of-version 0.1.0"),
        "{calls}"
    );
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
            .env("MATHESAR_PREINST_ROOT", t.path())
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
            .env("MATHESAR_PREINST_ROOT", t.path())
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
        "restore --no-start /b/mathesar-1\n".repeat(3)
    );
}

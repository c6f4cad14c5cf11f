//! Shared helpers for the command-line tests: a scratch installation and a way to run the binary.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub use mathesar::testing::preflight::PASS_ROOT_CHECK;

pub struct Scratch {
    pub dir: tempfile::TempDir,
}

impl Default for Scratch {
    fn default() -> Self {
        Scratch {
            dir: tempfile::tempdir().unwrap(),
        }
    }
}

impl Scratch {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn config(&self) -> PathBuf {
        self.dir.path().join("etc/mathesar")
    }
    pub fn data(&self) -> PathBuf {
        self.dir.path().join("var/lib/mathesar")
    }
    pub fn defaults_file(&self) -> PathBuf {
        self.dir.path().join("etc/default/mathesar")
    }
    pub fn dropin_file(&self) -> PathBuf {
        self.dir
            .path()
            .join("etc/systemd/system/mathesar.service.d/paths.conf")
    }

    /// `mathesarctl ARGS` with this scratch's directories and only the given MATHESAR_* variables.
    pub fn cmd(&self, args: &[&str], env: &[(&str, &str)]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_mathesarctl"));
        for (k, _) in std::env::vars() {
            if k.starts_with("MATHESAR_") {
                c.env_remove(k);
            }
        }
        c.args(args)
            // Root is not the point of these runs: an ordinary user's `cargo test` runs them too.
            .env(PASS_ROOT_CHECK, "1")
            .env("MATHESAR_DEFAULTS_FILE", self.defaults_file())
            .env("MATHESAR_UNIT_DROPIN", self.dropin_file())
            .env("MATHESAR_DATA_DIR", self.data())
            .envs(env.iter().copied())
            .stdin(std::process::Stdio::null());
        c
    }

    /// `configure --non-interactive --no-start` in this scratch.
    pub fn configure(&self, extra: &[&str], env: &[(&str, &str)]) -> Output {
        let config = self.config();
        let mut args = vec![
            "configure",
            "--config-dir",
            config.to_str().unwrap(),
            "--non-interactive",
            "--no-start",
        ];
        args.extend_from_slice(extra);
        self.cmd(&args, env).output().unwrap()
    }

    pub fn env_file(&self) -> BTreeMap<String, String> {
        read_env(&self.config().join(".env"))
    }

    /// Every file under the scratch with its bytes, mode and mtime: "nothing changed" made checkable.
    pub fn snapshot(&self) -> BTreeMap<PathBuf, (Vec<u8>, u32, i64)> {
        let mut out = BTreeMap::new();
        walk(self.dir.path(), &mut out);
        out
    }
}

fn walk(dir: &Path, out: &mut BTreeMap<PathBuf, (Vec<u8>, u32, i64)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        let m = std::fs::symlink_metadata(&p).unwrap();
        if m.is_dir() {
            out.insert(p.clone(), (Vec::new(), m.mode(), 0));
            walk(&p, out);
        } else {
            out.insert(
                p.clone(),
                (
                    std::fs::read(&p).unwrap_or_default(),
                    m.mode(),
                    m.mtime_nsec() + m.mtime() * 1_000_000_000,
                ),
            );
        }
    }
}

pub fn read_env(path: &Path) -> BTreeMap<String, String> {
    dotenvy::from_path_iter(path)
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// Whether a test whose point needs root (files of another owner) can run: as root, yes. As an
/// ordinary user it is skipped with a note, unless `MATHESAR_TESTS_REQUIRE_ROOT=1` (set by
/// `scripts/test`, which runs as root), which makes it fail instead: the suite never skips it.
pub fn root_for(test: &str) -> bool {
    if nix::unistd::geteuid().is_root() {
        return true;
    }
    assert!(
        std::env::var_os("MATHESAR_TESTS_REQUIRE_ROOT").is_none_or(|v| v != "1"),
        "{test} needs root (MATHESAR_TESTS_REQUIRE_ROOT=1)"
    );
    eprintln!("{test}: skipped, it needs root (run the tests as root to include it)");
    false
}

pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

pub fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

pub fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().mode() & 0o7777
}

/// Every printable ASCII character, spaces at both ends and non-ASCII letters.
pub const HOSTILE: &str = " !\"#$%&'()*+,-./0123456789:;<=>?@ABCXYZ[\\]^_`abcxyz{|}~ ${HOME} $(id) \u{f6}\u{e7}\u{df}\u{4e2d} ";

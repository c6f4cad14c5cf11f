//! `mathesarctl` runs as root with paths and values from answers files, the environment and
//! debconf: a wrong one is refused before anything is touched (issue "root-safe by
//! construction").

mod util;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use util::{Scratch, code, mode, text};

fn configure_in(s: &Scratch, config_dir: &str, env: &[(&str, &str)]) -> std::process::Output {
    s.cmd(
        &[
            "configure",
            "--config-dir",
            config_dir,
            "--non-interactive",
            "--no-start",
        ],
        env,
    )
    .output()
    .unwrap()
}

#[test]
fn system_directories_are_refused_before_anything_is_touched() {
    let s = Scratch::new();
    for dir in [
        "/tmp",
        "/",
        "/etc",
        "/home",
        "/var/lib",
        "/tmp/",
        "/srv/../tmp",
    ] {
        let before = std::fs::symlink_metadata(Path::new(dir).join("."))
            .map(|m| m.mode())
            .ok();
        let o = configure_in(&s, dir, &[]);
        assert_eq!(code(&o), 4, "{dir}: {}", text(&o));
        assert!(text(&o).contains("refused"), "{}", text(&o));
        assert_eq!(
            std::fs::symlink_metadata(Path::new(dir).join("."))
                .map(|m| m.mode())
                .ok(),
            before,
            "{dir} was chmodded"
        );
    }
    assert!(!Path::new("/tmp/.env").exists() && !Path::new("/tmp/.lock").exists());
    assert!(!Path::new("/.lock").exists());

    // A data directory is judged before the configuration directory is created.
    let inside = s.config().join("data");
    for data in ["/home", "/tmp", "/etc", inside.to_str().unwrap()] {
        let o = s.configure(&[], &[("MATHESAR_DATA_DIR", data)]);
        assert_eq!(code(&o), 4, "{data}: {}", text(&o));
        assert!(s.snapshot().is_empty(), "something was written: {data}");
    }
}

#[test]
fn a_foreign_directory_is_refused_and_an_empty_one_is_used_without_chmod() {
    let s = Scratch::new();
    std::fs::create_dir_all(s.config()).unwrap();
    std::fs::set_permissions(s.config(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(s.config().join("notes.txt"), "mine").unwrap();
    let o = s.configure(&[], &[]);
    assert_eq!(code(&o), 4, "{}", text(&o));
    assert!(text(&o).contains("notes.txt"), "{}", text(&o));
    assert!(!s.config().join(".lock").exists() && !s.data().exists());

    std::fs::remove_file(s.config().join("notes.txt")).unwrap();
    let o = s.configure(&[], &[]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert_eq!(mode(&s.config()), 0o755, "not ours to chmod");
    assert_eq!(mode(&s.data()), 0o700, "created, so ours");
    assert!(s.data().join(".mathesar-owned").exists());
}

#[test]
fn a_world_writable_configuration_and_planted_files_are_refused() {
    // A file of another owner can only be planted by root.
    if !util::root_for("a_world_writable_configuration_and_planted_files_are_refused") {
        return;
    }
    let s = Scratch::new();
    assert_eq!(code(&s.configure(&[], &[])), 0);
    std::fs::set_permissions(s.config(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let planted = s.config().join("docker-compose.override.yml");
    std::fs::write(&planted, "services: {}\n").unwrap();
    nix::unistd::chown(&planted, Some(nix::unistd::Uid::from_raw(4321)), None).unwrap();
    let before = s.snapshot();
    let o = s.configure(&[], &[("MATHESAR_HTTP_PORT", "8080")]);
    assert_eq!(code(&o), 4, "{}", text(&o));
    let t = text(&o);
    assert!(
        t.contains("0777") && t.contains("docker-compose.override.yml (owned by uid 4321)"),
        "{t}"
    );
    assert_eq!(before, s.snapshot(), "nothing was changed");

    // Not writable by others any more, but the planted file is still refused.
    std::fs::set_permissions(s.config(), std::fs::Permissions::from_mode(0o700)).unwrap();
    let o = s.configure(&[], &[]);
    assert_eq!(code(&o), 4, "{}", text(&o));
    assert!(text(&o).contains("uid 4321"), "{}", text(&o));
}

#[test]
fn a_dry_run_or_a_refused_run_writes_nothing() {
    let s = Scratch::new();
    let o = s.configure(&["--dry-run"], &[]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(s.snapshot().is_empty(), "{:?}", s.snapshot().keys());
    let o = s.configure(&[], &[("MATHESAR_HTTP_PORT", "99999")]);
    assert_eq!(code(&o), 4, "{}", text(&o));
    assert!(s.snapshot().is_empty(), "{:?}", s.snapshot().keys());
}

#[test]
fn another_config_dir_does_not_silently_move_the_configuration() {
    let s = Scratch::new();
    assert_eq!(code(&s.configure(&[], &[])), 0);
    let remembered = std::fs::read(s.defaults_file()).unwrap();
    let other = s.dir.path().join("other");
    let o = configure_in(&s, other.to_str().unwrap(), &[]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(
        text(&o).contains(&format!(
            "the service uses the configuration in {}",
            s.config().display()
        )),
        "{}",
        text(&o)
    );
    assert!(other.join(".env").exists());
    assert_eq!(std::fs::read(s.defaults_file()).unwrap(), remembered);
}

/// A killed run's committed redo log is seen by readers but completed only by the next writer;
/// one naming a file outside the configuration is never followed.
#[test]
fn readers_write_nothing_and_never_complete_a_redo_log() {
    let s = Scratch::new();
    assert_eq!(
        code(&s.configure(&[], &[("MATHESAR_HTTP_PORT", "8080")])),
        0
    );
    let env = s.config().join(".env");
    let new_env = std::fs::read_to_string(&env)
        .unwrap()
        .replace("\"8080\"", "\"8181\"");
    let staged = s.config().join("..env.staged-deadbeef");
    std::fs::write(&staged, &new_env).unwrap();
    let redo = s.config().join(".pending");
    std::fs::write(
        &redo,
        serde_json::json!([{"staged": staged, "target": env}]).to_string(),
    )
    .unwrap();
    let before = s.snapshot();
    let o = s.cmd(&["show-config", "--json"], &[]).output().unwrap();
    assert_eq!(code(&o), 0, "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        v["http-port"], "8181",
        "the committed set is what readers see"
    );
    assert_eq!(before, s.snapshot(), "a reader wrote");

    // A writer completes it.
    let o = s.configure(&[], &[]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(!redo.exists() && !staged.exists());
    assert_eq!(s.env_file()["MATHESAR_HTTP_PORT"], "8181");

    // A redo log naming a file outside the configuration: refused by reader and writer alike.
    let outside = tempfile::tempdir().unwrap();
    let victim = outside.path().join("victim");
    std::fs::write(&victim, "precious").unwrap();
    let planted = outside.path().join(".victim.staged-1");
    std::fs::write(&planted, "planted").unwrap();
    std::fs::write(
        &redo,
        serde_json::json!([{"staged": planted, "target": victim}]).to_string(),
    )
    .unwrap();
    let o = s.cmd(&["show-config"], &[]).output().unwrap();
    assert_ne!(code(&o), 0, "{}", text(&o));
    let o = s.configure(&[], &[]);
    assert_ne!(code(&o), 0, "{}", text(&o));
    assert!(
        text(&o).contains("not a file of the configuration"),
        "{}",
        text(&o)
    );
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
}

/// Runs racing for a configuration directory that does not exist yet: judged before anything is
/// created, then serialised by the lock; every one succeeds and one generated the secrets.
#[test]
fn concurrent_first_runs_all_succeed() {
    let s = Scratch::new();
    let config = s.config();
    let handles: Vec<_> = (0..8)
        .map(|i| {
            let mut c = s.cmd(
                &[
                    "configure",
                    "--config-dir",
                    config.to_str().unwrap(),
                    "--non-interactive",
                    "--no-start",
                ],
                &[("MATHESAR_HTTP_PORT", &(8300 + i).to_string())],
            );
            c.stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for h in handles {
        let o = h.wait_with_output().unwrap();
        assert_eq!(code(&o), 0, "{}", text(&o));
    }
    let env = s.env_file();
    // One run's whole set: its port once, as one of the runs gave it.
    let port: u16 = env["MATHESAR_HTTP_PORT"].parse().unwrap();
    assert!((8300..8308).contains(&port), "{port}");
    assert!(!env.contains_key("HTTP_PORT"), "each value once");
    assert_eq!(mode(&s.config()), 0o700);
}

/// Foreign content: files with the package's names in a directory without its marker (another
/// Compose project's `.env`, another PostgreSQL's `pgdata`) are refused, nothing is overwritten,
/// marked or chmodded. A proven older installation (the headers mathesarctl writes, and the data
/// directory its configuration names) is still configured.
#[test]
fn foreign_content_with_the_package_names_is_never_taken_over() {
    let s = Scratch::new();
    std::fs::create_dir_all(s.config()).unwrap();
    std::fs::set_permissions(s.config(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(s.config().join(".env"), "SECRET_KEY=\"theirs\"\n").unwrap();
    std::fs::write(s.config().join("docker-compose.yml"), "services: {}\n").unwrap();
    let before = s.snapshot();
    let o = s.configure(&[], &[]);
    assert_eq!(code(&o), 4, "{}", text(&o));
    assert!(
        text(&o).contains("not written by this package") && text(&o).contains("--config-dir"),
        "{}",
        text(&o)
    );
    assert_eq!(before, s.snapshot(), "something was changed");
    assert_eq!(mode(&s.config()), 0o755);

    // Another PostgreSQL's data as the data directory.
    let s = Scratch::new();
    std::fs::create_dir_all(s.data().join("pgdata")).unwrap();
    std::fs::write(s.data().join("pgdata/PG_VERSION"), "16").unwrap();
    let o = s.configure(&[], &[]);
    assert_eq!(code(&o), 4, "{}", text(&o));
    assert!(text(&o).contains("pgdata"), "{}", text(&o));
    assert!(!s.config().exists() && !s.data().join(".mathesar-owned").exists());

    // An installation older than the marker: its markers removed, configured again.
    let s = Scratch::new();
    assert_eq!(code(&s.configure(&[], &[])), 0);
    std::fs::create_dir_all(s.data().join("pgdata")).unwrap();
    std::fs::remove_file(s.config().join(".mathesar-owned")).unwrap();
    std::fs::remove_file(s.data().join(".mathesar-owned")).unwrap();
    let key = s.env_file()["SECRET_KEY"].clone();
    let o = s.configure(&[], &[("MATHESAR_HTTP_PORT", "8080")]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert_eq!(s.env_file()["SECRET_KEY"], key, "its secret kept");
    for d in [s.config(), s.data()] {
        assert!(
            std::fs::read_to_string(d.join(".mathesar-owned"))
                .unwrap()
                .starts_with("adopted"),
            "{}",
            d.display()
        );
    }
}

/// `purge` on a configuration directory without the marker (another Compose project's `.env`
/// and compose file): refused before anything is removed and before `docker compose` runs.
#[test]
fn purge_refuses_an_unmarked_configuration_directory() {
    let s = Scratch::new();
    std::fs::create_dir_all(s.config()).unwrap();
    std::fs::write(s.config().join(".env"), "SECRET_KEY=\"theirs\"\n").unwrap();
    std::fs::write(s.config().join("docker-compose.yml"), "services: {}\n").unwrap();
    let (calls, path) = fake_docker(&s);
    let before = s.snapshot();
    let o = s
        .cmd(
            &["purge", "--config-dir", s.config().to_str().unwrap()],
            &[],
        )
        .env("PATH", path)
        .output()
        .unwrap();
    assert_eq!(code(&o), 4, "{}", text(&o));
    assert!(text(&o).contains("nothing was removed"), "{}", text(&o));
    assert_eq!(before, s.snapshot(), "something was removed");
    assert!(!calls.exists(), "docker was run");
}

/// Every command that reads the configuration judges it first, not only `configure`: a
/// configuration directory others can write into, a file in it others wrote or can write, or a
/// parent others can write into, is refused before anything is read or handed to Compose.
#[test]
fn every_reader_refuses_a_configuration_others_could_have_written() {
    let s = Scratch::new();
    assert_eq!(code(&s.configure(&[], &[])), 0);
    let (calls, path) = fake_docker(&s);
    let config = s.config();
    let config = config.to_str().unwrap();
    let readers: [&[&str]; 5] = [
        &["show-config", "--config-dir", config],
        &["check", "--config-dir", config],
        &["logs", "--config-dir", config],
        &["status", "--config-dir", config],
        &["purge", "--config-dir", config],
    ];
    let refused = |what: &str, needle: &str| {
        for args in readers {
            let o = s.cmd(args, &[]).env("PATH", &path).output().unwrap();
            assert_eq!(code(&o), 4, "{what}: {args:?}: {}", text(&o));
            assert!(text(&o).contains(needle), "{what}: {args:?}: {}", text(&o));
        }
        assert!(!calls.exists(), "{what}: docker was run");
    };

    std::fs::set_permissions(s.config(), std::fs::Permissions::from_mode(0o777)).unwrap();
    refused("a 0777 directory", "0777");
    std::fs::set_permissions(s.config(), std::fs::Permissions::from_mode(0o700)).unwrap();

    let over = s.config().join("docker-compose.override.yml");
    std::fs::write(&over, "services: {}\n").unwrap();
    std::fs::set_permissions(&over, std::fs::Permissions::from_mode(0o666)).unwrap();
    refused(
        "an override others can write",
        "docker-compose.override.yml",
    );
    std::fs::set_permissions(&over, std::fs::Permissions::from_mode(0o600)).unwrap();
    if nix::unistd::geteuid().is_root() {
        nix::unistd::chown(&over, Some(nix::unistd::Uid::from_raw(4321)), None).unwrap();
        refused("an override of another user", "uid 4321");
        nix::unistd::chown(&over, Some(nix::unistd::Uid::from_raw(0)), None).unwrap();
    }

    let parent = s.config().parent().unwrap().to_path_buf();
    let before = std::fs::metadata(&parent).unwrap().mode();
    std::fs::set_permissions(&parent, std::fs::Permissions::from_mode(0o777)).unwrap();
    refused("a parent others can write into", "parent");
    std::fs::set_permissions(&parent, std::fs::Permissions::from_mode(before)).unwrap();
    if nix::unistd::geteuid().is_root() {
        nix::unistd::chown(&parent, Some(nix::unistd::Uid::from_raw(4321)), None).unwrap();
        refused("a parent of another user", "uid 4321");
        let o = s.configure(&[], &[]);
        assert_eq!(code(&o), 4, "{}", text(&o));
        nix::unistd::chown(&parent, Some(nix::unistd::Uid::from_raw(0)), None).unwrap();
    }
    let o = s.cmd(readers[0], &[]).output().unwrap();
    assert_eq!(code(&o), 0, "{}", text(&o));
}

/// `restore` trusts no backup directory others could have written, and restores only files its
/// manifest lists with a checksum: a 0777 backup, or one whose manifest lists no files, holding a
/// privileged `docker-compose.override.yml`, is refused before anything is stopped or written.
#[test]
fn restore_refuses_a_backup_others_could_have_written_or_files_not_listed() {
    let s = Scratch::new();
    assert_eq!(code(&s.configure(&[], &[])), 0);
    let backup = s.dir.path().join("backups/mathesar-20261125T090000Z");
    std::fs::create_dir_all(backup.join("config")).unwrap();
    std::fs::write(
        backup.join("config/docker-compose.override.yml"),
        "services:\n  service:\n    privileged: true\n    volumes: [\"/:/host\"]\n",
    )
    .unwrap();
    let manifest = serde_json::json!({
        "format": 1, "package_version": env!("CARGO_PKG_VERSION"),
        "created": "2026-11-25T09:00:00Z", "reason": "manual",
        "config_dir": s.config(), "data_dir": s.data(), "images": {},
        "dumps": [], "config_files": ["docker-compose.override.yml"], "files": [], "notes": []
    });
    std::fs::write(backup.join("manifest.json"), manifest.to_string()).unwrap();
    let before = s.snapshot();
    let restore = || {
        s.cmd(
            &[
                "restore",
                "--config-dir",
                s.config().to_str().unwrap(),
                backup.to_str().unwrap(),
            ],
            &[],
        )
        .env("PATH", "/nonexistent")
        .output()
        .unwrap()
    };
    std::fs::set_permissions(&backup, std::fs::Permissions::from_mode(0o777)).unwrap();
    let o = restore();
    assert_eq!(code(&o), 4, "{}", text(&o));
    assert!(text(&o).contains("0777"), "{}", text(&o));
    std::fs::set_permissions(&backup, std::fs::Permissions::from_mode(0o700)).unwrap();
    let o = restore();
    assert_eq!(code(&o), 4, "{}", text(&o));
    assert!(
        text(&o).contains("config/docker-compose.override.yml not listed"),
        "{}",
        text(&o)
    );
    let mut after = s.snapshot();
    after.retain(|p, _| !p.starts_with(s.dir.path().join("backups")));
    let mut before = before;
    before.retain(|p, _| !p.starts_with(s.dir.path().join("backups")));
    assert_eq!(before, after, "the configuration was changed");
    assert!(!s.config().join("docker-compose.override.yml").exists());
}

/// A `docker` first in PATH that only records its arguments: (the record's path, the PATH).
fn fake_docker(s: &Scratch) -> (std::path::PathBuf, String) {
    let bin = s.dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let calls = s.dir.path().join("docker-calls");
    let docker = bin.join("docker");
    std::fs::write(
        &docker,
        format!("#!/bin/sh\necho \"$@\" >> {}\n", calls.display()),
    )
    .unwrap();
    std::fs::set_permissions(&docker, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    (calls, path)
}

/// A PostgreSQL server on a local port that refuses TLS and asks for the password with
/// `methods[i]` on its i-th connection (3: in clear text, 5: MD5), for as long as connections
/// come. Returns its port and everything it read.
fn fake_postgres(methods: Vec<i32>) -> (u16, std::thread::JoinHandle<Vec<u8>>) {
    use std::io::{Read, Write};
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    l.set_nonblocking(true).unwrap();
    let h = std::thread::spawn(move || {
        let mut seen = Vec::new();
        let mut connection = 0;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        let mut idle_since = std::time::Instant::now();
        while std::time::Instant::now() < deadline {
            let mut c = match l.accept() {
                Ok((c, _)) => c,
                // Done once no connection came for 3 s after the last one.
                Err(_) if connection > 0 && idle_since.elapsed().as_secs() >= 3 => break,
                Err(_) => {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                    continue;
                }
            };
            c.set_nonblocking(false).unwrap();
            c.set_read_timeout(Some(std::time::Duration::from_secs(2)))
                .unwrap();
            let mut buf = [0u8; 1024];
            while let Ok(n) = c.read(&mut buf) {
                if n == 0 {
                    break;
                }
                seen.extend_from_slice(&buf[..n]);
                if buf[..n] == [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f] {
                    c.write_all(b"N").unwrap();
                    continue;
                }
                if buf.get(4..8) == Some(&[0, 3, 0, 0]) {
                    // The startup message: ask for the password.
                    let method = methods[connection.min(methods.len() - 1)];
                    connection += 1;
                    let mut msg = vec![b'R', 0, 0, 0, if method == 5 { 12 } else { 8 }];
                    msg.extend_from_slice(&method.to_be_bytes());
                    if method == 5 {
                        msg.extend_from_slice(&[1, 2, 3, 4]);
                    }
                    let _ = c.write_all(&msg);
                    continue;
                }
                // Anything else (an MD5 answer): refused.
                let _ = c.write_all(b"E\0\0\0\x0bSFATAL\0\0");
                break;
            }
            idle_since = std::time::Instant::now();
        }
        seen
    });
    (port, h)
}

/// Cleartext password authentication is refused on every connection mathesarctl opens, for the
/// existing user database and for Mathesar's own database on another server, whatever the
/// sslmode and whatever the server asked before: the passwords never reach the server.
#[test]
fn a_server_asking_for_the_password_in_clear_text_never_gets_it() {
    for (mode, methods) in [
        ("prefer", vec![3]),
        ("disable", vec![3]),
        // MD5 on one connection, clear text on the next.
        ("prefer", vec![5, 3]),
    ] {
        let s = Scratch::new();
        let (user_port, user_db) = fake_postgres(methods.clone());
        let (own_port, own_db) = fake_postgres(methods.clone());
        let (user_port, own_port) = (user_port.to_string(), own_port.to_string());
        let existing_pw = "existing-PW-never-sent-1";
        let own_pw = "own-PW-never-sent-2";
        let env = [
            ("MATHESAR_USER_DB", "existing"),
            ("MATHESAR_EXISTING_DB_HOST", "127.0.0.1"),
            ("MATHESAR_EXISTING_DB_PORT", user_port.as_str()),
            ("MATHESAR_EXISTING_DB_USER", "alice"),
            ("MATHESAR_EXISTING_DB_PASSWORD", existing_pw),
            ("MATHESAR_EXISTING_DB_SSLMODE", mode),
            ("MATHESAR_INTERNAL_DB_HOST", "127.0.0.1"),
            ("MATHESAR_INTERNAL_DB_PORT", own_port.as_str()),
            ("MATHESAR_INTERNAL_DB_SSLMODE", mode),
            ("MATHESAR_DB_PASSWORD", own_pw),
            // No engine: the servers are tried on loopback directly.
            ("DOCKER_HOST", "unix:///nonexistent/docker.sock"),
        ];
        let o = s.configure(&["--dry-run"], &env);
        let out = text(&o);
        for seen in [user_db.join().unwrap(), own_db.join().unwrap()] {
            assert!(!seen.is_empty(), "{mode}: the server was not tried: {out}");
            for pw in [existing_pw, own_pw] {
                assert!(
                    !seen.windows(pw.len()).any(|w| w == pw.as_bytes()),
                    "{mode} {methods:?}: a password was sent in clear text"
                );
            }
        }
        if methods == [3] {
            for check in ["existing-db", "internal-db"] {
                assert!(
                    out.lines()
                        .any(|l| l.contains(check) && l.contains("clear text")),
                    "{mode} {check}: {out}"
                );
            }
        }
        assert!(!out.contains(existing_pw) && !out.contains(own_pw), "{out}");
    }
}

/// `db-ca-file` names a file mathesarctl reads as root: a symbolic link is refused before
/// anything is written; a real file is copied for Mathesar's container (0644, under the data
/// directory), whose compose file mounts it read-only and names it in PGSSLROOTCERT.
#[test]
fn the_database_ca_file_is_read_without_following_links_and_copied() {
    let s = Scratch::new();
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/tls/pg-ca.pem");
    let link = s.dir.path().join("ca-link.pem");
    std::os::unix::fs::symlink(fixture, &link).unwrap();
    let link = link.display().to_string();
    let env = |ca: &str| {
        vec![
            (
                "MATHESAR_INTERNAL_DB_HOST",
                "pg.example.invalid".to_string(),
            ),
            ("MATHESAR_INTERNAL_DB_SSLMODE", "verify-full".to_string()),
            ("MATHESAR_DB_CA_FILE", ca.to_string()),
            ("DOCKER_HOST", "unix:///nonexistent/docker.sock".to_string()),
        ]
    };
    let run = |ca: &str| {
        let e = env(ca);
        let e: Vec<(&str, &str)> = e.iter().map(|(k, v)| (*k, v.as_str())).collect();
        s.configure(&[], &e)
    };
    let o = run(&link);
    assert_ne!(code(&o), 0, "{}", text(&o));
    assert!(text(&o).contains("symbolic link"), "{}", text(&o));
    assert!(
        s.snapshot().keys().all(|p| !p.starts_with(s.config())),
        "written"
    );

    let copy = s.dir.path().join("ca.pem");
    std::fs::copy(fixture, &copy).unwrap();
    let o = run(copy.to_str().unwrap());
    assert_eq!(code(&o), 0, "{}", text(&o));
    let copied = s.data().join("pg-tls/db-ca.pem");
    let m = std::fs::symlink_metadata(&copied).unwrap();
    assert!(m.is_file());
    assert_eq!(m.mode() & 0o7777, 0o644);
    assert_eq!(
        std::fs::read_to_string(&copied).unwrap(),
        std::fs::read_to_string(fixture).unwrap()
    );
    let env = s.env_file();
    assert_eq!(env["PGSSLROOTCERT"], "/etc/mathesar-pg-tls/db-ca.pem");
    assert_eq!(env["POSTGRES_SSLMODE"], "verify-full");
    let compose = std::fs::read_to_string(s.config().join("docker-compose.yml")).unwrap();
    assert!(
        compose.contains("/pg-tls:/etc/mathesar-pg-tls:ro"),
        "{compose}"
    );
}

//! `mathesarctl configure` end to end on the local filesystem: sources and precedence, validation
//! that writes nothing, idempotence, modes, secrets, the lock, and crash safety.

mod util;

use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::time::Duration;

use util::{HOSTILE, Scratch, code, mode, text};

#[test]
fn first_run_writes_a_root_only_configuration() {
    let s = Scratch::new();
    let o = s.configure(&[], &[]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert_eq!(mode(&s.config()), 0o700);
    assert_eq!(mode(&s.config().join(".env")), 0o600);
    assert_eq!(mode(&s.config().join("docker-compose.yml")), 0o600);
    assert_eq!(mode(&s.config().join("initial-admin-password")), 0o600);
    assert_eq!(mode(&s.data()), 0o700);
    let env = s.env_file();
    assert!(
        env["MATHESAR_DB_PASSWORD"].len() >= 24,
        "generated database password is long"
    );
    assert_eq!(env["SECRET_KEY"].len(), 64);
    assert_eq!(env["POSTGRES_HOST"], "mathesar_db");
    let admin = std::fs::read_to_string(s.config().join("initial-admin-password")).unwrap();
    let out = text(&o);
    for secret in [
        env["MATHESAR_DB_PASSWORD"].as_str(),
        env["SECRET_KEY"].as_str(),
        admin.trim(),
    ] {
        assert!(!out.contains(secret), "a secret was printed");
    }
    assert!(
        out.contains("initial-admin-password"),
        "the generated admin password is announced by path"
    );
    // The compose file names the pinned images and the data directory's bind mounts.
    let compose = std::fs::read_to_string(s.config().join("docker-compose.yml")).unwrap();
    assert!(compose.contains("container_name: mathesar_db"));
    assert!(compose.contains("${MATHESAR_DATA_DIR}/pgdata:/var/lib/postgresql/data"));
    assert!(!compose.contains(":latest"));
}

#[test]
fn a_rerun_with_the_same_answers_changes_nothing() {
    let s = Scratch::new();
    assert_eq!(
        code(&s.configure(&[], &[("MATHESAR_HTTP_PORT", "8080")])),
        0
    );
    let before = s.snapshot();
    std::thread::sleep(Duration::from_millis(20));
    let o = s.configure(&[], &[]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(text(&o).contains("no changes"), "{}", text(&o));
    assert_eq!(before, s.snapshot(), "bytes, modes or mtimes changed");
    assert_eq!(
        s.env_file()["MATHESAR_HTTP_PORT"],
        "8080",
        "the existing answer was kept"
    );
}

#[test]
fn the_application_is_sized_from_the_host_unless_answered() {
    let s = Scratch::new();
    let o = s.configure(&[], &[]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(text(&o).contains("sized for this host: "), "{}", text(&o));
    let env = s.env_file();
    assert_eq!(
        env["MATHESAR_WORKERS"], "",
        "empty: sized at every configure"
    );
    let workers: u32 = env["WEB_CONCURRENCY"].parse().unwrap();
    assert!((1..=8).contains(&workers), "{workers}");
    assert_eq!(
        env["GUNICORN_CMD_ARGS"],
        "--worker-class gthread --threads 4 --timeout 180 --graceful-timeout 30 --preload"
    );
    for limit in ["SERVICE_MEM_LIMIT", "DB_MEM_LIMIT", "PROXY_MEM_LIMIT"] {
        let mib: u64 = env[limit].strip_suffix('m').unwrap().parse().unwrap();
        assert!(mib >= 256, "{limit}");
    }
    // The same host: nothing changes.
    assert!(text(&s.configure(&[], &[])).contains("no changes"));
    let o = s.configure(
        &[],
        &[
            ("MATHESAR_WORKERS", "2"),
            ("MATHESAR_THREADS", "8"),
            ("MATHESAR_REQUEST_TIMEOUT", "600"),
        ],
    );
    assert_eq!(code(&o), 0, "{}", text(&o));
    let env = s.env_file();
    assert_eq!(
        (
            env["MATHESAR_WORKERS"].as_str(),
            env["WEB_CONCURRENCY"].as_str()
        ),
        ("2", "2")
    );
    assert_eq!(
        env["GUNICORN_CMD_ARGS"],
        "--worker-class gthread --threads 8 --timeout 600 --graceful-timeout 30 --preload"
    );
    // Kept on the next run; emptied, sized from the host again.
    assert!(text(&s.configure(&[], &[])).contains("no changes"));
    let o = s.configure(&[], &[("MATHESAR_WORKERS", "")]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert_eq!(s.env_file()["WEB_CONCURRENCY"], workers.to_string());
}

#[test]
fn precedence_is_defaults_existing_file_environment() {
    let s = Scratch::new();
    assert_eq!(
        code(&s.configure(
            &[],
            &[
                ("MATHESAR_HTTP_PORT", "8080"),
                ("MATHESAR_DB_PORT", "15432")
            ]
        )),
        0
    );
    let secret_key = s.env_file()["SECRET_KEY"].clone();
    let db_password = s.env_file()["MATHESAR_DB_PASSWORD"].clone();
    let answers = s.dir.path().join("answers.yml");
    std::fs::write(
        &answers,
        "http-port: 8081\nhttps-port: 8443\ndomain: mathesar.localhost\nadmin-username: boss\n",
    )
    .unwrap();
    let o = s.configure(
        &["--answers", answers.to_str().unwrap()],
        &[("MATHESAR_HTTPS_PORT", "9443")],
    );
    assert_eq!(code(&o), 0, "{}", text(&o));
    let env = s.env_file();
    assert_eq!(
        env["MATHESAR_HTTP_PORT"], "8081",
        "answers file over existing"
    );
    assert_eq!(
        env["MATHESAR_HTTPS_PORT"], "9443",
        "environment over answers file"
    );
    assert_eq!(env["MATHESAR_DB_PORT"], "15432", "existing over default");
    assert_eq!(env["MATHESAR_ADMIN_USERNAME"], "boss");
    assert_eq!(env["CADDY_SITE_ADDRESS"], "mathesar.localhost");
    assert_eq!(
        env["SECRET_KEY"], secret_key,
        "SECRET_KEY is never regenerated"
    );
    assert_eq!(
        env["MATHESAR_DB_PASSWORD"], db_password,
        "the database password is never regenerated"
    );
}

#[test]
fn hostile_values_are_stored_byte_for_byte() {
    let s = Scratch::new();
    let o = s.configure(&[], &[("MATHESAR_DB_PASSWORD", HOSTILE)]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert_eq!(s.env_file()["MATHESAR_DB_PASSWORD"], HOSTILE);
    assert_eq!(s.env_file()["MATHESAR_DB_PASSWORD"], HOSTILE);
    assert!(!text(&o).contains("$(id)"));
    // And read back on the next run without a change.
    assert!(text(&s.configure(&[], &[])).contains("no changes"));
}

#[test]
fn every_bad_answer_is_refused_and_writes_nothing() {
    let s = Scratch::new();
    assert_eq!(code(&s.configure(&[], &[])), 0);
    let before = s.snapshot();
    let bad: &[(&str, &str, &str)] = &[
        ("MATHESAR_HTTP_PORT", "0", "http-port"),
        ("MATHESAR_HTTP_PORT", "65536", "http-port"),
        ("MATHESAR_HTTP_PORT", "eighty", "http-port"),
        ("MATHESAR_DB_PORT", "80", "db-port"),
        ("MATHESAR_DOMAIN", "not a domain", "domain"),
        ("MATHESAR_DOMAIN", "192.0.2.1", "domain"),
        ("MATHESAR_HTTPS_PORT", "8443", "https-port"),
        ("MATHESAR_DB_USER", "Robert'); DROP", "db-user"),
        ("MATHESAR_USER_DB_NAME", "1db", "user-db-name"),
        ("MATHESAR_DB_PASSWORD", "short", "db-password"),
        ("MATHESAR_DB_PASSWORD", "line\nbreak-long", "db-password"),
        ("MATHESAR_ADMIN_EMAIL", "nope", "admin-email"),
        ("MATHESAR_ADMIN_USERNAME", "a b", "admin-username"),
        ("MATHESAR_USER_DB", "maybe", "user-db"),
        ("MATHESAR_WATCHTOWER", "perhaps", "watchtower"),
        ("MATHESAR_REFRESH_IMAGES", "perhaps", "refresh-images"),
        ("MATHESAR_IMAGE_REGISTRY", "bad registry", "image-registry"),
        ("MATHESAR_DATA_DIR", "relative/path", "data-dir"),
        ("MATHESAR_USER_DB", "existing", "existing-db-host"),
        ("MATHESAR_WORKERS", "0", "workers"),
        ("MATHESAR_WORKERS", "33", "workers"),
        ("MATHESAR_THREADS", "many", "threads"),
        ("MATHESAR_REQUEST_TIMEOUT", "10", "request-timeout"),
    ];
    for (var, value, named) in bad {
        let o = s.configure(&[], &[(var, value)]);
        assert_eq!(code(&o), 4, "{var}={value:?}: {}", text(&o));
        assert!(
            text(&o).contains(&format!("`{named}`")),
            "{var}={value:?} names {named}: {}",
            text(&o)
        );
        assert!(
            text(&o).contains(var) || *named == "existing-db-host",
            "{var}: the source is named: {}",
            text(&o)
        );
        assert_eq!(
            before,
            s.snapshot(),
            "{var}={value:?} changed the directory"
        );
    }
}

#[test]
fn answers_file_errors_name_the_key_and_line() {
    let s = Scratch::new();
    let f = s.dir.path().join("answers.yml");
    std::fs::write(&f, "http-port: 8080\nhttp-prot: 8081\n").unwrap();
    let o = s.configure(&["--answers", f.to_str().unwrap()], &[]);
    assert_eq!(code(&o), 4);
    assert!(
        text(&o).contains("http-prot") && text(&o).contains("line 2"),
        "{}",
        text(&o)
    );
    assert!(!s.config().join(".env").exists());
    let o = s.configure(&["--answers", "/nonexistent/answers.yml"], &[]);
    assert_eq!(code(&o), 6, "{}", text(&o));
}

#[test]
fn missing_required_answers_name_all_three_ways() {
    let s = Scratch::new();
    let o = s.configure(
        &[],
        &[
            ("MATHESAR_USER_DB", "existing"),
            ("MATHESAR_EXISTING_DB_HOST", "db.example.org"),
        ],
    );
    assert_eq!(code(&o), 4);
    let t = text(&o);
    assert!(
        t.contains("existing-db-user")
            && t.contains("MATHESAR_EXISTING_DB_USER")
            && t.contains("mathesar/existing-db-user"),
        "{t}"
    );
}

#[test]
fn dry_run_writes_nothing_and_masks_secrets() {
    let s = Scratch::new();
    assert_eq!(code(&s.configure(&[], &[])), 0);
    let before = s.snapshot();
    let o = s.configure(
        &["--dry-run"],
        &[
            ("MATHESAR_HTTP_PORT", "8088"),
            ("MATHESAR_DB_PASSWORD", "a-new-password-value"),
        ],
    );
    assert_eq!(code(&o), 0, "{}", text(&o));
    let t = text(&o);
    assert!(
        t.contains("http-port") && t.contains("8088") && t.contains("db-password"),
        "{t}"
    );
    assert!(!t.contains("a-new-password-value"), "{t}");
    assert_eq!(before, s.snapshot());
}

#[test]
fn a_changed_answer_is_reported_and_rewritten() {
    let s = Scratch::new();
    assert_eq!(code(&s.configure(&[], &[])), 0);
    let o = s.configure(&[], &[("MATHESAR_HTTP_PORT", "8090")]);
    assert_eq!(code(&o), 0);
    assert!(
        text(&o).contains("http-port") && text(&o).contains("8090"),
        "{}",
        text(&o)
    );
    assert_eq!(s.env_file()["MATHESAR_HTTP_PORT"], "8090");
}

#[test]
fn non_default_config_dir_is_remembered() {
    let s = Scratch::new();
    assert_eq!(code(&s.configure(&[], &[])), 0);
    let remembered = util::read_env(&s.defaults_file());
    assert_eq!(
        remembered["MATHESAR_CONFIG_DIR"],
        s.config().to_str().unwrap()
    );
    // The unit (ProtectSystem=strict) may write both directories: they are not the defaults.
    let dropin = std::fs::read_to_string(s.dropin_file()).unwrap();
    for dir in [s.config(), s.data()] {
        let line = format!("BindPaths=\"-{}\"", dir.display());
        assert!(dropin.contains(&line), "{dropin}");
    }
    // show-config finds the directory without being told.
    let o = s.cmd(&["show-config", "--json"], &[]).output().unwrap();
    assert_eq!(code(&o), 0, "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["db-password"], "********");
    assert_eq!(v["http-port"], "80");
}

#[test]
fn a_second_run_waits_for_the_lock_then_gives_up() {
    let s = Scratch::new();
    assert_eq!(code(&s.configure(&[], &[])), 0);
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(s.config().join(".lock"))
        .unwrap();
    let held = nix::fcntl::Flock::lock(f, nix::fcntl::FlockArg::LockExclusive).unwrap();
    let o = s.configure(&["--lock-timeout", "1"], &[("MATHESAR_HTTP_PORT", "8081")]);
    assert_eq!(code(&o), 7, "{}", text(&o));
    assert!(text(&o).contains("another mathesarctl run"), "{}", text(&o));
    drop(held);
    assert_eq!(
        code(&s.configure(&[], &[("MATHESAR_HTTP_PORT", "8081")])),
        0
    );
}

#[test]
fn concurrent_runs_are_serialised_into_one_complete_configuration() {
    let s = Scratch::new();
    assert_eq!(code(&s.configure(&[], &[])), 0);
    let ports: Vec<String> = (0..10).map(|i| (8100 + i).to_string()).collect();
    let children: Vec<_> = ports
        .iter()
        .map(|p| {
            let config = s.config();
            s.cmd(
                &[
                    "configure",
                    "--config-dir",
                    config.to_str().unwrap(),
                    "--non-interactive",
                    "--no-start",
                    // Ten runs queue on the lock; a loaded machine must not turn the wait into a failure.
                    "--lock-timeout",
                    "300",
                ],
                &[("MATHESAR_HTTP_PORT", p)],
            )
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    let env = s.env_file();
    assert!(ports.contains(&env["MATHESAR_HTTP_PORT"]));
    assert!(
        env.contains_key("PROXY_MEM_LIMIT"),
        "the file is one run's, whole"
    );
}

/// Kills configure at random moments: the file on disk is always the old or the new one.
#[test]
fn killing_configure_never_leaves_a_partial_file() {
    let s = Scratch::new();
    assert_eq!(
        code(&s.configure(&[], &[("MATHESAR_HTTP_PORT", "8000")])),
        0
    );
    // Kills are spread over one and a half times the length of a whole run (at least 15 ms), so
    // that some runs are killed and some complete.
    let started = std::time::Instant::now();
    assert_eq!(
        code(&s.configure(&[], &[("MATHESAR_HTTP_PORT", "8001")])),
        0
    );
    let spread = (started.elapsed().as_micros() as u64 * 3 / 2).max(15_000);
    let mut seen_new = false;
    let mut killed = 0;
    // Ports of the runs killed since the last complete one: a run killed after its commit point
    // leaves its files to be completed by the next writer, which may itself be killed after that.
    let mut pending: Vec<&str> = Vec::new();
    for i in 0..50u64 {
        let before = std::fs::read(s.config().join(".env")).unwrap();
        let port = if i % 2 == 0 { "8000" } else { "8001" };
        let config = s.config();
        let mut child = s
            .cmd(
                &[
                    "configure",
                    "--config-dir",
                    config.to_str().unwrap(),
                    "--non-interactive",
                    "--no-start",
                ],
                &[("MATHESAR_HTTP_PORT", port)],
            )
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_micros((i * 7919) % spread));
        let _ = child.kill();
        let status = child.wait().unwrap();
        if status.signal() == Some(9) {
            killed += 1;
        }
        let completed = status.success();
        let after = std::fs::read(s.config().join(".env")).unwrap();
        let env = util::read_env(&s.config().join(".env"));
        assert!(
            after == before
                || env["MATHESAR_HTTP_PORT"] == port
                || pending.contains(&env["MATHESAR_HTTP_PORT"].as_str()),
            "run {i}: neither old, nor new, nor an earlier run's committed change"
        );
        assert!(
            env.contains_key("PROXY_MEM_LIMIT"),
            "run {i}: a truncated file"
        );
        if completed {
            assert_eq!(
                env["MATHESAR_HTTP_PORT"], port,
                "run {i}: completed, yet the old file"
            );
            pending.clear();
        } else {
            pending.push(port);
        }
        seen_new |= after != before;
    }
    assert!(killed > 0, "no run was killed: the test proves nothing");
    assert!(
        seen_new,
        "no run's new file ever landed: the test proves nothing about the new file"
    );
    // The next run succeeds and cleans up.
    let o = s.configure(&[], &[("MATHESAR_HTTP_PORT", "8002")]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let leftovers: Vec<_> = std::fs::read_dir(s.config())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp"))
        .collect();
    assert!(leftovers.is_empty());
    let _ = std::io::stdout().flush();
}

#[test]
fn help_lists_the_exit_codes_and_generate_writes_a_man_page() {
    let s = Scratch::new();
    let o = s.cmd(&["configure", "--help"], &[]).output().unwrap();
    assert_eq!(code(&o), 0);
    assert!(text(&o).contains("7  another mathesarctl run holds the configuration lock"));
    let o = s.cmd(&["generate", "man"], &[]).output().unwrap();
    assert_eq!(code(&o), 0);
    assert!(String::from_utf8_lossy(&o.stdout).contains(".TH mathesarctl 8"));
    let o = s.cmd(&["configure", "--bogus"], &[]).output().unwrap();
    assert_eq!(code(&o), 2);
}

/// A chosen admin password is never written to `initial-admin-password` (which says it holds a
/// generated one): it is kept in `.admin-password` (0600) until the admin exists, and a re-run
/// keeps it there; a generated one goes to `initial-admin-password` and stays there on a re-run.
#[test]
fn a_chosen_admin_password_is_not_kept_as_the_generated_one() {
    let s = Scratch::new();
    let o = s.configure(&[], &[("MATHESAR_ADMIN_PASSWORD", "Chosen-Adm1n-pw")]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(!s.config().join("initial-admin-password").exists());
    let chosen = s.config().join(".admin-password");
    assert_eq!(mode(&chosen), 0o600);
    assert_eq!(
        std::fs::read_to_string(&chosen).unwrap(),
        "Chosen-Adm1n-pw\n"
    );
    assert!(!text(&o).contains("generated"), "{}", text(&o));
    let o = s.configure(&[], &[("MATHESAR_HTTP_PORT", "8080")]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(!s.config().join("initial-admin-password").exists());
    assert!(chosen.exists());

    let s = Scratch::new();
    assert_eq!(code(&s.configure(&[], &[])), 0);
    let o = s.configure(&[], &[("MATHESAR_HTTP_PORT", "8080")]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(s.config().join("initial-admin-password").exists());
    assert!(!s.config().join(".admin-password").exists());
}

#[test]
fn an_acme_ca_of_our_own_is_checked_copied_and_named_in_the_caddyfile() {
    let s = Scratch::new();
    let root = s.config().parent().unwrap().join("internal-root.pem");
    std::fs::create_dir_all(root.parent().unwrap()).unwrap();
    let cert = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/tls/cert.pem"
    ))
    .unwrap();
    let answers = |root: &str| {
        vec![
            ("MATHESAR_DOMAIN", "mathesar.example.org".to_string()),
            (
                "MATHESAR_ACME_CA",
                "https://acme.example.internal/directory".to_string(),
            ),
            ("MATHESAR_ACME_CA_ROOT", root.to_string()),
        ]
    };
    let run = |a: Vec<(&'static str, String)>| {
        let pairs: Vec<(&str, &str)> = a.iter().map(|(k, v)| (*k, v.as_str())).collect();
        s.configure(&[], &pairs)
    };

    // Not a certificate: refused, naming the answer and the file; nothing written.
    std::fs::write(&root, "not a certificate\n").unwrap();
    let o = run(answers(root.to_str().unwrap()));
    assert_eq!(code(&o), 4, "{}", text(&o));
    assert!(text(&o).contains("`acme-ca-root`"), "{}", text(&o));
    assert!(text(&o).contains("no PEM certificate"), "{}", text(&o));
    assert!(!s.config().join(".env").exists());

    std::fs::write(&root, &cert).unwrap();
    let o = run(answers(root.to_str().unwrap()));
    assert_eq!(code(&o), 0, "{}", text(&o));
    let copy = s.data().join("caddy/tls/acme-ca-root.pem");
    assert_eq!(mode(&copy), 0o644);
    assert_eq!(mode(&s.data().join("caddy/tls")), 0o700);
    assert_eq!(std::fs::read_to_string(&copy).unwrap(), cert);
    let caddyfile = std::fs::read_to_string(s.data().join("caddy/Caddyfile")).unwrap();
    assert!(caddyfile.contains("acme_ca {$ACME_CA}"), "{caddyfile}");
    assert!(caddyfile.contains("acme_ca_root /etc/caddy/tls/acme-ca-root.pem"));
    let env_file = s.env_file();
    assert_eq!(
        env_file["MATHESAR_ACME_CA"],
        "https://acme.example.internal/directory"
    );
    assert_eq!(
        env_file["MATHESAR_ACME_CA_ROOT"],
        root.to_str().unwrap().to_string()
    );

    // Without a domain, an ACME CA given now is refused.
    let o = s.configure(
        &[],
        &[
            ("MATHESAR_DOMAIN", ""),
            (
                "MATHESAR_ACME_CA",
                "https://acme.example.internal/directory",
            ),
        ],
    );
    assert_eq!(code(&o), 4, "{}", text(&o));
    assert!(text(&o).contains("only for a domain"), "{}", text(&o));
}

/// The backup repository's password: generated once into its own file (0600, never in `.env`),
/// kept by a re-run, replaced only by an answer given for it; the backup answers are stored with
/// the others, a bad one refused with its name.
#[test]
fn the_backup_password_is_generated_once_and_kept_in_its_own_file() {
    let s = Scratch::new();
    let o = s.configure(&[], &[]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let file = s.config().join("backup-password");
    assert_eq!(mode(&file), 0o600);
    let first = std::fs::read_to_string(&file).unwrap();
    assert!(first.trim().len() >= 20, "a generated password");
    assert!(text(&o).contains("keep a copy of the backup repository's password"));
    let env = s.env_file();
    assert_eq!(env["MATHESAR_BACKUP"], "true");
    assert_eq!(
        env["MATHESAR_BACKUP_REPOSITORY"],
        "/var/backups/mathesar/restic"
    );
    assert_eq!(
        env["MATHESAR_BACKUP_RETENTION"],
        "daily=7 weekly=4 monthly=6"
    );
    assert!(!env.contains_key("MATHESAR_BACKUP_PASSWORD"));
    assert!(
        !std::fs::read_to_string(s.config().join(".env"))
            .unwrap()
            .contains(first.trim())
    );

    let o = s.configure(&[], &[("MATHESAR_BACKUP_SCHEDULE", "*-*-* 02:30")]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), first, "kept");
    assert_eq!(s.env_file()["MATHESAR_BACKUP_SCHEDULE"], "*-*-* 02:30");

    // The password of an existing repository (a new machine restoring it) is taken as given.
    let o = s.configure(&[], &[("MATHESAR_BACKUP_PASSWORD", "the repository's own")]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "the repository's own\n"
    );
    assert!(!text(&o).contains("the repository's own"), "{}", text(&o));

    for (var, value, name) in [
        (
            "MATHESAR_BACKUP_REPOSITORY",
            "rest:https://u:pw@store.example.org/",
            "backup-repository",
        ),
        ("MATHESAR_BACKUP_RETENTION", "daily=0", "backup-retention"),
        ("MATHESAR_BACKUP_SCHEDULE", "daily; rm", "backup-schedule"),
    ] {
        let o = s.configure(&[], &[(var, value)]);
        assert_eq!(code(&o), 4, "{}", text(&o));
        assert!(text(&o).contains(name), "{}", text(&o));
        assert!(!text(&o).contains(":pw@"), "{}", text(&o));
    }
}

use super::*;
use crate::sources::defaults;

fn base() -> Answers {
    let mut a = defaults::answers(std::path::Path::new(DEFAULT_CONFIG_DIR));
    a.set(Key::ExternalAddress, "192.0.2.10", Source::Detected);
    a.set(Key::DbPassword, "a-long-db-password", Source::Generated);
    a
}

fn with(mut a: Answers, key: Key, value: &str) -> Answers {
    a.set(key, value, Source::Environment(key.env_var()));
    a
}

fn problems(a: &Answers) -> Vec<(Key, Problem)> {
    Settings::from_answers(a)
        .unwrap_err()
        .0
        .into_iter()
        .map(|e| (e.key, e.problem))
        .collect()
}

#[test]
fn defaults_plus_generated_password_make_valid_settings() {
    let s = Settings::from_answers(&base()).unwrap();
    assert_eq!(s.user_db, UserDb::Bundled);
    assert_eq!(s.http_port, 80);
    assert_eq!(s.db_port, Some(5432));
    assert_eq!(s.internal_db_name, "mathesar_django");
    assert_eq!(s.login_url(), "http://192.0.2.10/");
    assert_eq!(s.internal_db_container_host(), "mathesar_db");
}

#[test]
fn round_trip_through_answers_is_lossless() {
    let a = with(
        with(base(), Key::Domain, "Mathesar.Example.org"),
        Key::HttpsPort,
        "8443",
    );
    let s = Settings::from_answers(&a).unwrap();
    let again = Settings::from_answers(&s.to_answers(Source::Current("/x".into()))).unwrap();
    assert_eq!(s, again);
    assert_eq!(s.login_url(), "https://mathesar.example.org:8443/");
}

#[test]
fn missing_password_is_reported_with_every_way_to_give_it() {
    let mut a = base();
    a.remove(Key::DbPassword);
    let err = Settings::from_answers(&a).unwrap_err();
    let msg = err.to_string();
    assert!(err.only_missing());
    assert!(msg.contains("db-password"), "{msg}");
    assert!(msg.contains("MATHESAR_DB_PASSWORD"), "{msg}");
    assert!(msg.contains("mathesar/db-password"), "{msg}");
}

#[test]
fn existing_user_db_needs_host_user_and_password() {
    let a = with(base(), Key::UserDb, "existing");
    let p = problems(&a);
    for k in [
        Key::ExistingDbHost,
        Key::ExistingDbUser,
        Key::ExistingDbPassword,
    ] {
        assert!(p.contains(&(k, Problem::Missing)), "{k}: {p:?}");
    }
    let a = with(
        with(
            with(a, Key::ExistingDbHost, "localhost"),
            Key::ExistingDbUser,
            "alice",
        ),
        Key::ExistingDbPassword,
        "pw",
    );
    let s = Settings::from_answers(&a).unwrap();
    assert_eq!(s.existing_db.unwrap().host, "localhost");
}

#[test]
fn published_ports_must_differ() {
    let p = problems(&with(base(), Key::DbPort, "80"));
    assert!(
        matches!(&p[..], [(Key::DbPort, Problem::Invalid(r))] if r.contains("http-port")),
        "{p:?}"
    );
    // The HTTPS port is published only with a domain.
    let a = with(
        with(base(), Key::Domain, "m.example.org"),
        Key::HttpsPort,
        "80",
    );
    assert_eq!(problems(&a)[0].0, Key::HttpsPort);
    // With an external internal database the bundled one is not published.
    let a = with(
        with(base(), Key::DbPort, "80"),
        Key::InternalDbHost,
        "db.example.org",
    );
    assert!(Settings::from_answers(&a).is_ok());
}

#[test]
fn https_port_without_domain_is_refused_when_asked_for() {
    let p = problems(&with(base(), Key::HttpsPort, "8443"));
    assert!(
        matches!(&p[..], [(Key::HttpsPort, Problem::Invalid(r))] if r.contains("domain")),
        "{p:?}"
    );
    let mut a = base();
    a.set(
        Key::HttpsPort,
        "8443",
        Source::Current("/etc/mathesar/.env".into()),
    );
    assert!(Settings::from_answers(&a).is_ok());
}

#[test]
fn every_bad_value_is_reported_at_once_with_its_source() {
    let a = with(
        with(
            with(base(), Key::HttpPort, "99999"),
            Key::DbUser,
            "bad name",
        ),
        Key::AdminEmail,
        "nope",
    );
    let err = Settings::from_answers(&a).unwrap_err();
    let keys: Vec<_> = err.0.iter().map(|e| e.key).collect();
    assert_eq!(keys, vec![Key::DbUser, Key::HttpPort, Key::AdminEmail]);
    assert!(
        err.to_string()
            .contains("environment variable MATHESAR_HTTP_PORT")
    );
}

#[test]
fn line_breaks_and_nul_are_refused_everywhere() {
    for v in ["a\nb", "a\rb", "a\0b"] {
        let p = problems(&with(base(), Key::Domain, v));
        assert_eq!(p[0].0, Key::Domain);
        let p = problems(&with(base(), Key::DbPassword, &format!("long-enough{v}")));
        assert_eq!(p[0].0, Key::DbPassword);
    }
}

#[test]
fn secrets_are_kept_byte_for_byte() {
    let pw = "  p'a\"s$s #\\ w${x}ö end  ";
    let s = Settings::from_answers(&with(base(), Key::DbPassword, pw)).unwrap();
    assert_eq!(s.db_password.expose(), pw);
}

#[test]
fn loopback_internal_db_is_reached_through_the_host_gateway() {
    let s = Settings::from_answers(&with(base(), Key::InternalDbHost, "127.0.0.1")).unwrap();
    assert_eq!(s.internal_db_container_host(), DOCKER_HOST_GATEWAY);
    assert!(!s.bundled_db());
}

/// Every answer's one rule is applied alike by configure (`Settings::from_answers`), the debconf
/// questions (`debconf::config::check`) and the prompts (`sources::prompt::check`): for every key
/// and every sample, the same values are accepted, the same refused, and the same canonical form
/// is kept. A path that checked a key its own way would disagree on some sample here.
#[test]
fn configure_debconf_and_prompts_apply_each_rule_alike() {
    let long = "x".repeat(validate::MAX_LEN + 1);
    let samples: &[&str] = &[
        "",
        " ",
        "bundled",
        "Existing",
        " EXISTING ",
        "other",
        "8080",
        " 8081 ",
        "0",
        "65536",
        "-1",
        "true",
        "Yes",
        "OFF",
        "maybe",
        "mathesar_x",
        "Mathesar",
        "pg_x",
        "a b",
        "db.example.org",
        "DB.Example.ORG.",
        "192.0.2.9",
        "[2001:db8::1]",
        "/srv/mathesar-x",
        "/srv/mathesar-y/",
        "relative",
        "/",
        "admin@example.org",
        "nope@",
        "-admin",
        "ad-min",
        "long enough pw",
        "short",
        "reg.example.org:5000/m/",
        "bad registry",
        "require",
        "DISABLE",
        "line\nbreak",
        "nul\0byte",
        &long,
    ];
    // A valid configuration in which every answer is read (an existing server, an admin password,
    // a REST repository with a user).
    let stored = || Source::Current("/etc/mathesar/.env".into());
    let mut base = base();
    for (k, v) in [
        (Key::UserDb, "existing"),
        (Key::ExistingDbHost, "db.example.org"),
        (Key::ExistingDbUser, "alice"),
        (Key::ExistingDbPassword, "server-password"),
        (Key::AdminPassword, "an-admin-password"),
        (
            Key::BackupRepository,
            "rest:https://backup@store.example.org/m1/",
        ),
        (Key::BackupRestPassword, "rest-server-password"),
    ] {
        base.set(k, v, stored());
    }
    Settings::from_answers(&base).expect("the base is valid");

    for &key in Key::ALL {
        for &v in samples {
            let mut a = base.clone();
            a.set(key, v, stored());
            // The obsolete `watchtower` is kept as refresh-images.
            let kept_as = if key == Key::Watchtower {
                Key::RefreshImages
            } else {
                key
            };
            let configure = match Settings::from_answers(&a) {
                Ok(s) => Ok(s
                    .to_answers(Source::Generated)
                    .value(kept_as)
                    .unwrap_or_default()
                    .to_string()),
                Err(e) => {
                    assert!(
                        e.0.iter().all(|p| p.key == key),
                        "{key}={v:?}: another answer was refused: {e}"
                    );
                    Err(())
                }
            };
            let debconf = crate::debconf::config::check(key, v, &base).map_err(drop);
            let prompt = crate::sources::prompt::check(key, v, true);
            assert_eq!(
                debconf,
                prompt.clone().map(drop).map_err(drop),
                "{key}={v:?}: debconf and the prompt disagree"
            );
            let empty = key.parse(v).is_ok_and(|p| p.is_none());
            if empty {
                // An empty answer given now may keep or generate a secret; in the settings only
                // the rule's `Unset` is a value.
                if !key.is_secret() {
                    assert_eq!(
                        configure.is_ok(),
                        key.rule().empty == validate::Empty::Unset,
                        "{key}={v:?}: configure disagrees with the rule"
                    );
                    assert_eq!(prompt.is_ok(), configure.is_ok(), "{key}={v:?}");
                }
            } else {
                assert_eq!(
                    configure,
                    prompt.map_err(drop),
                    "{key}={v:?}: configure and the prompt disagree"
                );
            }
        }
    }
}

#[test]
fn user_db_is_taken_in_any_case_and_stored_in_lower_case() {
    for v in ["existing", "Existing", " EXISTING "] {
        let mut a = with(base(), Key::UserDb, v);
        a.set(Key::ExistingDbHost, "db.example.org", Source::Default);
        a.set(Key::ExistingDbUser, "alice", Source::Default);
        a.set(Key::ExistingDbPassword, "pw", Source::Default);
        let s = Settings::from_answers(&a).unwrap();
        assert_eq!(s.user_db, UserDb::Existing);
        assert_eq!(
            s.to_answers(Source::Generated).value(Key::UserDb),
            Some("existing")
        );
    }
}

#[test]
fn emptying_the_domain_in_debconf_keeps_the_https_answers_unused() {
    // dpkg-reconfigure back to plain HTTP: the questions asked only with a domain keep the
    // values seen before; they are not refused, and not used.
    let mut a = base();
    for (k, v) in [
        (Key::Domain, ""),
        (Key::HttpsPort, "8443"),
        (Key::AcmeCa, "https://acme.example.internal/directory"),
        (Key::TlsCert, "/etc/ssl/mathesar.pem"),
        (Key::TlsKey, "/etc/ssl/mathesar.key"),
    ] {
        a.set(k, v, Source::Debconf);
    }
    let s = Settings::from_answers(&a).unwrap();
    assert!(!s.serves_https() && !s.acme() && s.own_cert().is_none());
    // The same given in the environment now is a mistake worth naming.
    let e = problems(&with(
        base(),
        Key::AcmeCa,
        "https://acme.example.internal/directory",
    ));
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].0, Key::AcmeCa);
    // With a domain, a certificate without its key is refused, from debconf too.
    let mut a = base();
    a.set(Key::Domain, "mathesar.example.org", Source::Debconf);
    a.set(Key::TlsCert, "/etc/ssl/mathesar.pem", Source::Debconf);
    assert_eq!(problems(&a)[0].0, Key::TlsCert);
}

fn existing(mode: &str, host: &str) -> Answers {
    let mut a = base();
    for (k, v) in [
        (Key::UserDb, "existing"),
        (Key::ExistingDbHost, host),
        (Key::ExistingDbUser, "alice"),
        (Key::ExistingDbPassword, "pw-Existing-01"),
        (Key::ExistingDbSslmode, mode),
    ] {
        a = with(a, k, v);
    }
    a
}

#[test]
fn a_verifying_sslmode_needs_the_ca_file_and_a_name_the_containers_use() {
    for mode in ["verify-ca", "verify-full"] {
        let p = problems(&existing(mode, "db.example.org"));
        assert!(
            matches!(&p[..], [(Key::ExistingDbSslmode, Problem::Invalid(r))] if r.contains("db-ca-file")),
            "{mode}: {p:?}"
        );
        let a = with(
            existing(mode, "db.example.org"),
            Key::DbCaFile,
            "/etc/ssl/pg-ca.pem",
        );
        let s = Settings::from_answers(&a).unwrap();
        assert_eq!(s.db_ca(), Some(std::path::Path::new("/etc/ssl/pg-ca.pem")));
        assert_eq!(
            Settings::from_answers(&s.to_answers(Source::Current("/x".into()))).unwrap(),
            s
        );
    }
    // The containers reach a loopback server as host.docker.internal: no name to verify.
    let a = with(
        existing("verify-full", "localhost"),
        Key::DbCaFile,
        "/etc/ssl/pg-ca.pem",
    );
    let p = problems(&a);
    assert!(
        matches!(&p[..], [(Key::ExistingDbSslmode, Problem::Invalid(r))] if r.contains("host.docker.internal")),
        "{p:?}"
    );
    let a = with(
        existing("verify-ca", "localhost"),
        Key::DbCaFile,
        "/etc/ssl/pg-ca.pem",
    );
    assert!(Settings::from_answers(&a).is_ok());

    // Mathesar's own database on an external server: its own answer.
    let internal = |mode: &str, ca: &str| {
        let a = with(base(), Key::InternalDbHost, "pg.example.org");
        let a = with(a, Key::InternalDbSslmode, mode);
        with(a, Key::DbCaFile, ca)
    };
    let p = problems(&internal("verify-full", ""));
    assert!(matches!(&p[..], [(Key::InternalDbSslmode, _)]), "{p:?}");
    let s = Settings::from_answers(&internal("verify-full", "/etc/ssl/pg-ca.pem")).unwrap();
    assert_eq!(s.internal_sslmode(), validate::SslMode::VerifyFull);
    // Unused with the bundled database.
    let s = Settings::from_answers(&with(base(), Key::InternalDbSslmode, "verify-full")).unwrap();
    assert_eq!(s.internal_sslmode(), validate::SslMode::Prefer);
    assert_eq!(s.db_ca(), None);
}

#[test]
fn a_ca_file_given_without_a_verifying_mode_is_refused_and_a_kept_one_unused() {
    let a = with(
        existing("require", "db.example.org"),
        Key::DbCaFile,
        "/etc/ssl/pg-ca.pem",
    );
    let p = problems(&a);
    assert!(matches!(&p[..], [(Key::DbCaFile, _)]), "{p:?}");
    let mut a = existing("require", "db.example.org");
    a.set(
        Key::DbCaFile,
        "/etc/ssl/pg-ca.pem",
        Source::Current("/x".into()),
    );
    let s = Settings::from_answers(&a).unwrap();
    assert_eq!(s.db_ca(), None, "kept, not used");
    assert!(
        problems(&with(base(), Key::DbCaFile, "pg-ca.pem"))
            .iter()
            .any(|(k, _)| *k == Key::DbCaFile)
    );
}

#[test]
fn a_rest_user_needs_its_password_and_nothing_else_keeps_one() {
    let repo = "rest:https://backup@store.example.org/m1/";
    let a = with(base(), Key::BackupRepository, repo);
    let e = Settings::from_answers(&a).unwrap_err();
    assert!(
        e.0.iter()
            .any(|p| p.key == Key::BackupRestPassword && p.problem == Problem::Missing),
        "{e}"
    );
    let with_pw = with(a, Key::BackupRestPassword, "rest-pw");
    let s = Settings::from_answers(&with_pw).unwrap();
    assert_eq!(s.backup_rest_password.as_ref().unwrap().expose(), "rest-pw");
    // Without a user in the URL (or another kind of repository) a password is not kept.
    let no_user = with(
        with_pw,
        Key::BackupRepository,
        "rest:https://store.example.org/m1/",
    );
    assert!(
        Settings::from_answers(&no_user)
            .unwrap()
            .backup_rest_password
            .is_none()
    );
}

/// The obsolete `watchtower` (older releases ran the container) is read as refresh-images where
/// that was not given, and never written back.
#[test]
fn the_old_watchtower_answer_is_read_as_refresh_images() {
    let on = for_tests(&[(Key::Watchtower, "true")]);
    assert!(on.refresh_images);
    let answers = on.to_answers(Source::Generated);
    assert_eq!(answers.value(Key::RefreshImages), Some("true"));
    assert_eq!(answers.value(Key::Watchtower), None);
    assert!(!for_tests(&[(Key::Watchtower, "false")]).refresh_images);
    assert!(!for_tests(&[]).refresh_images);
    // Given both, refresh-images wins.
    let both = for_tests(&[(Key::Watchtower, "true"), (Key::RefreshImages, "false")]);
    assert!(!both.refresh_images);
    assert!(for_tests(&[(Key::RefreshImages, "true")]).refresh_images);
}

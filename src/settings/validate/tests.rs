use super::*;

#[test]
fn names_and_addresses_starting_with_a_dash_are_refused() {
    assert!(username("-admin").is_err());
    assert!(username("--help").is_err());
    assert!(username("ad-min").is_ok());
    assert!(email("-x@example.org").is_err());
    assert!(email("x-y@example.org").is_ok());
}

#[test]
fn ports() {
    assert_eq!(port("80"), Ok(80));
    assert_eq!(port(" 65535 "), Ok(65535));
    for bad in ["0", "65536", "-1", "http", "", "8o"] {
        assert!(port(bad).is_err(), "{bad}");
    }
    assert_eq!(optional_port(""), Ok(None));
    assert_eq!(optional_port("5432"), Ok(Some(5432)));
}

#[test]
fn host_names_and_domains() {
    assert_eq!(
        host_name("Mathesar.Example.ORG."),
        Ok("mathesar.example.org".into())
    );
    assert!(host_name("mathesar.localhost").is_ok());
    for bad in [
        "-a.org",
        "a-.org",
        "a..org",
        "a_b.org",
        "ex ample.org",
        "",
        &"a".repeat(64),
    ] {
        assert!(host_name(bad).is_err(), "{bad}");
    }
    assert!(domain("192.0.2.10").is_err());
    assert_eq!(address("[::1]"), Ok("::1".into()));
    assert_eq!(address("192.0.2.10"), Ok("192.0.2.10".into()));
}

#[test]
fn loopback_hosts() {
    for h in [
        "localhost",
        "LOCALHOST",
        "127.0.0.1",
        "127.1.2.3",
        "::1",
        "[::1]",
    ] {
        assert!(is_loopback_host(h), "{h}");
    }
    for h in ["db.example.org", "10.0.0.5", "host.docker.internal"] {
        assert!(!is_loopback_host(h), "{h}");
    }
}

#[test]
fn identifiers() {
    assert!(pg_identifier("mathesar_django").is_ok());
    assert!(pg_identifier("_x1").is_ok());
    for bad in [
        "1abc",
        "a-b",
        "a b",
        "",
        "Mathesar",
        "pg_foo",
        &"a".repeat(64),
        "a;drop",
    ] {
        assert!(pg_identifier(bad).is_err(), "{bad}");
    }
}

#[test]
fn users_emails_passwords() {
    assert!(username("admin").is_ok());
    assert!(username("a b").is_err());
    assert_eq!(email(""), Ok(String::new()));
    assert!(email("admin@example.org").is_ok());
    for bad in ["admin", "a@b@c.org", "a@-x.org", "a b@c.org"] {
        assert!(email(bad).is_err(), "{bad}");
    }
    assert!(password("short").is_err());
    assert!(password("long enough").is_ok());
    assert!(password("with\nnewline").is_err());
    assert!(password("with\0nul..").is_err());
    assert!(plain_text(&"x".repeat(MAX_LEN + 1)).is_err());
}

#[test]
fn directories_and_registries() {
    assert_eq!(
        directory("/var/lib/mathesar/"),
        Ok(PathBuf::from("/var/lib/mathesar"))
    );
    for bad in ["relative", "/", "/a/../b", "/a b", "/a:b", "/a$b"] {
        assert!(directory(bad).is_err(), "{bad}");
    }
    assert_eq!(registry(""), Ok(None));
    assert_eq!(
        registry("reg.example.org:5000/m/"),
        Ok(Some("reg.example.org:5000/m".into()))
    );
    assert!(registry("bad registry").is_err());
    for bad in [
        "reg.example.org/../x",
        "reg.example.org/./m",
        "../m",
        "..",
        "/m",
        "a//b",
    ] {
        assert!(registry(bad).is_err(), "{bad}");
    }
}

#[test]
fn acme_urls_and_files() {
    for good in [
        "https://acme.example.internal/directory",
        "https://172.17.0.1:14000/dir",
        "https://[2001:db8::1]:8443/acme/dir",
        " https://ca.example.org/acme/acme/directory ",
    ] {
        assert_eq!(acme_url(good), Ok(good.trim().to_string()), "{good}");
    }
    for bad in [
        "http://acme.example.org/dir",
        "acme.example.org/dir",
        "https:///dir",
        "https://ca.example.org:0/dir",
        "https://ca.example.org:99999/dir",
        "https://user:pw@ca.example.org/dir",
        "https://ca.example.org/{$HOME}",
        "https://ca.example.org/a b",
        "https://bad_host/dir",
    ] {
        assert!(acme_url(bad).is_err(), "{bad}");
    }
    assert_eq!(
        file("/etc/ssl/ca.pem"),
        Ok(PathBuf::from("/etc/ssl/ca.pem"))
    );
    for bad in ["ca.pem", "./ca.pem", "/etc/ssl/"] {
        assert!(file(bad).is_err(), "{bad}");
    }
}

#[test]
fn trusted_proxies_and_bind_addresses() {
    assert_eq!(
        trusted_proxies(" 10.0.0.5, 192.0.2.0/24  2001:db8::/32 "),
        Ok("10.0.0.5 192.0.2.0/24 2001:db8::/32".into())
    );
    for bad in ["proxy.example.org", "10.0.0.0/33", "10.0.0.0/x", "{$X}"] {
        assert!(trusted_proxies(bad).is_err(), "{bad}");
    }
    assert_eq!(bind_address("127.0.0.1"), Ok("127.0.0.1".into()));
    assert_eq!(bind_address("[::1]"), Ok("::1".into()));
    assert!(bind_address("localhost").is_err());
}

#[test]
fn numbers_in_their_ranges() {
    assert_eq!(number(" 5 ", 1, 32), Ok(5));
    assert_eq!(number("32", 1, 32), Ok(32));
    for bad in ["0", "33", "-1", "2.5", "four", "1e3"] {
        assert_eq!(
            number(bad, 1, 32),
            Err("use a whole number from 1 to 32".into()),
            "{bad}"
        );
    }
    assert_eq!(
        Key::Workers.parse(""),
        Ok(None),
        "empty: sized from the host"
    );
    assert_eq!(Key::Workers.parse("4"), Ok(Some(Value::Number(4))));
    assert!(Key::Workers.parse("33").is_err());
    assert!(Key::Threads.parse("17").is_err());
    assert_eq!(Key::Threads.parse("16"), Ok(Some(Value::Number(16))));
    assert!(Key::RequestTimeout.parse("29").is_err());
    assert!(Key::RequestTimeout.parse("3601").is_err());
    assert_eq!(
        Key::RequestTimeout.parse("180"),
        Ok(Some(Value::Number(180)))
    );
    assert_eq!(Key::RequestTimeout.given("", false), Ok(None));
}

#[test]
fn booleans() {
    assert_eq!(boolean("true"), Ok(true));
    assert_eq!(boolean("No"), Ok(false));
    assert!(boolean("maybe").is_err());
}

#[test]
fn a_database_host_is_one_address_the_primary_s() {
    // The address in front of a Patroni cluster (HAProxy on /primary) or its virtual IP.
    assert_eq!(
        db_host("pg-primary.example.org"),
        Ok("pg-primary.example.org".into())
    );
    assert_eq!(db_host(" 192.0.2.20 "), Ok("192.0.2.20".into()));
    assert_eq!(db_host("[2001:db8::5]"), Ok("2001:db8::5".into()));
    // libpq's multi-host list: Mathesar has one host and one port per database, and nowhere
    // to say target_session_attrs=read-write.
    let e = db_host("pg1:5432,pg2:5432,pg3:5432").unwrap_err();
    assert!(
        e.contains("several hosts") && e.contains("/primary") && e.contains("Several hosts"),
        "{e}"
    );
    assert!(db_host("pg1,pg2").is_err());
    for conninfo in [
        "postgresql://pg1,pg2/db",
        "host=pg1 target_session_attrs=read-write",
    ] {
        assert!(db_host(conninfo).is_err(), "{conninfo}");
    }
    assert!(db_host("").is_err());
}

#[test]
fn the_database_host_answers_use_the_database_host_rule() {
    use crate::settings::Key;
    for key in [Key::ExistingDbHost, Key::InternalDbHost] {
        let e = (key.rule().check)("pg1,pg2").unwrap_err();
        assert!(e.contains("several hosts"), "{key:?}: {e}");
        assert!(
            (key.rule().check)("haproxy.db.example.org").is_ok(),
            "{key:?}"
        );
    }
}

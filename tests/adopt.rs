//! Taking over an existing Mathesar from the command line, where no Docker Engine answers: what
//! the files say is reported, and without a yes nothing changes (exit 13); with one, nothing
//! changes either when the engine, which does the work, cannot be reached.

mod util;

use util::{Scratch, code, text};

/// Upstream's 0.10.1 compose file, shortened (shared with the unit tests of src/adoption/detect.rs).
const COMPOSE: &str = include_str!("fixtures/adopt/upstream-0.10.1-compose.yml");

fn installation(s: &Scratch, dir: &std::path::Path) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join(".env"), "POSTGRES_PASSWORD=old-Secret-pw\n").unwrap();
    std::fs::write(dir.join("docker-compose.yml"), COMPOSE).unwrap();
    let _ = s;
}

const NO_ENGINE: (&str, &str) = ("DOCKER_HOST", "unix:///nonexistent/docker.sock");

#[test]
fn an_installation_in_the_configuration_directory_is_reported_and_refused_without_a_yes() {
    let s = Scratch::new();
    installation(&s, &s.config());
    let before = s.snapshot();
    let o = s.configure(&[], &[NO_ENGINE]);
    let out = text(&o);
    assert_eq!(code(&o), 13, "{out}");
    assert!(
        out.contains(
            "Found a Mathesar installation made with upstream's Docker Compose instructions"
        ),
        "{out}"
    );
    assert!(out.contains("version: Mathesar 0.10.1"), "{out}");
    assert!(
        out.contains("ports: HTTP 8080, HTTPS 8443, PostgreSQL not published"),
        "{out}"
    );
    assert!(
        out.contains("taking it over was not agreed: nothing was changed"),
        "{out}"
    );
    assert!(out.contains("mathesarctl adopt"), "how to say yes: {out}");
    assert!(
        !out.contains("old-Secret-pw"),
        "a password was printed: {out}"
    );
    assert_eq!(before, s.snapshot(), "something changed");
}

#[test]
fn adopt_without_yes_reports_and_changes_nothing() {
    let s = Scratch::new();
    let old = s.dir.path().join("srv/mathesar");
    installation(&s, &old);
    let before = s.snapshot();
    let config = s.config();
    let o = s
        .cmd(
            &[
                "adopt",
                "--config-dir",
                config.to_str().unwrap(),
                old.to_str().unwrap(),
            ],
            &[NO_ENGINE],
        )
        .output()
        .unwrap();
    let out = text(&o);
    assert_eq!(code(&o), 0, "{out}");
    assert!(out.contains("Taking it over will:"), "{out}");
    assert!(out.contains("dry run, nothing was changed"), "{out}");
    assert_eq!(before, s.snapshot(), "something changed");
}

#[test]
fn a_yes_without_an_engine_changes_nothing() {
    let s = Scratch::new();
    let old = s.dir.path().join("srv/mathesar");
    installation(&s, &old);
    let before = s.snapshot();
    let o = s.configure(
        &[],
        &[
            NO_ENGINE,
            ("MATHESAR_ADOPT", "true"),
            ("MATHESAR_ADOPT_FROM", old.to_str().unwrap()),
        ],
    );
    let out = text(&o);
    assert_eq!(code(&o), 5, "{out}");
    assert_eq!(before, s.snapshot(), "something changed");
}

#[test]
fn a_directory_without_an_installation_is_named() {
    let s = Scratch::new();
    let empty = s.dir.path().join("srv/empty");
    std::fs::create_dir_all(&empty).unwrap();
    let o = s.configure(
        &[],
        &[NO_ENGINE, ("MATHESAR_ADOPT_FROM", empty.to_str().unwrap())],
    );
    let out = text(&o);
    assert_eq!(code(&o), 13, "{out}");
    assert!(out.contains("no Mathesar installation in"), "{out}");
    assert!(
        !s.config().exists(),
        "the configuration directory was created"
    );
}

#[test]
fn a_compose_installation_with_its_data_in_the_configuration_directory_is_not_taken_into_it() {
    let s = Scratch::new();
    installation(&s, &s.config());
    std::fs::create_dir_all(s.config().join("msar/pgdata")).unwrap();
    let before = s.snapshot();
    let o = s.configure(&[], &[NO_ENGINE, ("MATHESAR_ADOPT", "true")]);
    let out = text(&o);
    assert_eq!(code(&o), 13, "{out}");
    assert!(out.contains("it keeps msar in"), "{out}");
    assert!(out.contains("`config-dir`"), "{out}");
    assert_eq!(before, s.snapshot(), "something changed");
}

#[test]
fn the_answers_file_names_the_installation_and_says_yes_or_not() {
    let s = Scratch::new();
    let old = s.dir.path().join("srv/mathesar");
    installation(&s, &old);
    let answers = s.dir.path().join("answers.yml");
    std::fs::write(
        &answers,
        format!(
            "http-port: 8081\nadopt-from: {}\nadopt: false\n",
            old.display()
        ),
    )
    .unwrap();
    let before = s.snapshot();
    let o = s.configure(&["--answers", answers.to_str().unwrap()], &[NO_ENGINE]);
    let out = text(&o);
    assert_eq!(code(&o), 13, "{out}");
    assert!(out.contains("Found a Mathesar installation"), "{out}");
    assert_eq!(before, s.snapshot(), "something changed");
    // A yes: the engine is needed, and not there: still nothing changed.
    std::fs::write(
        &answers,
        format!("adopt-from: {}\nadopt: true\n", old.display()),
    )
    .unwrap();
    let before = s.snapshot();
    let o = s.configure(&["--answers", answers.to_str().unwrap()], &[NO_ENGINE]);
    assert_eq!(code(&o), 5, "{}", text(&o));
    assert_eq!(before, s.snapshot(), "something changed");
}

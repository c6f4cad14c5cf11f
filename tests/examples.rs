//! The shipped examples say the same thing: examples/answers.yml and examples/mathesar.env give
//! one configuration (examples/preseed.cfg is compared end to end, through debconf).

mod util;

use util::{Scratch, code, text};

fn without_generated(env: &std::collections::BTreeMap<String, String>) -> Vec<(String, String)> {
    env.iter()
        .filter(|(k, _)| k.as_str() != "SECRET_KEY")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

#[test]
fn answers_file_and_environment_examples_agree() {
    let root = env!("CARGO_MANIFEST_DIR");
    let from_file = Scratch::new();
    let o = from_file.configure(&["--answers", &format!("{root}/examples/answers.yml")], &[]);
    assert_eq!(code(&o), 0, "{}", text(&o));

    let vars: Vec<(String, String)> =
        dotenvy::from_path_iter(format!("{root}/examples/mathesar.env"))
            .unwrap()
            .map(Result::unwrap)
            .filter(|(k, _)| k != "MATHESAR_DATA_DIR")
            .collect();
    let from_env = Scratch::new();
    let refs: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let o = from_env.configure(&[], &refs);
    assert_eq!(code(&o), 0, "{}", text(&o));

    // The scratches differ only in their data directory, which each test run chooses.
    let normalise = |s: &Scratch| {
        without_generated(&s.env_file())
            .into_iter()
            .map(|(k, v)| (k, v.replace(s.data().to_str().unwrap(), "DATA")))
            .collect::<Vec<_>>()
    };
    assert_eq!(normalise(&from_file), normalise(&from_env));
    // A chosen admin password: kept until the admin exists, not as a generated one.
    let admin = |s: &Scratch| std::fs::read_to_string(s.config().join(".admin-password")).unwrap();
    assert_eq!(admin(&from_file), admin(&from_env));
    assert_eq!(admin(&from_file), "change-me-too, 8+ characters\n");
    assert_eq!(
        from_file.env_file()["MATHESAR_DB_PASSWORD"],
        "change-me: at least 8 characters"
    );
}

#[test]
fn the_examples_name_every_answer() {
    let root = env!("CARGO_MANIFEST_DIR");
    let yml = std::fs::read_to_string(format!("{root}/examples/answers.yml")).unwrap();
    let preseed = std::fs::read_to_string(format!("{root}/examples/preseed.cfg")).unwrap();
    let env = std::fs::read_to_string(format!("{root}/examples/mathesar.env")).unwrap();
    for key in mathesar::testing::settings::Key::ALL {
        if *key == mathesar::testing::settings::Key::ConfigDir {
            continue; // chosen with --config-dir, not an answer of the directory itself
        }
        if *key == mathesar::testing::settings::Key::Watchtower {
            continue; // obsolete: only read, never offered
        }
        assert!(
            yml.contains(&format!("{}:", key.name())),
            "answers.yml lacks {key}"
        );
        let in_preseed = preseed.contains(&format!("{} ", key.debconf_question()));
        let optional = key.name().starts_with("existing-db")
            || *key == mathesar::testing::settings::Key::ExternalAddress;
        assert!(in_preseed || optional, "preseed.cfg lacks {key}");
        assert!(
            env.contains(&format!("{}=", key.env_var())) || optional,
            "mathesar.env lacks {key}"
        );
    }
}

#[test]
fn every_answer_has_a_debconf_template() {
    let root = env!("CARGO_MANIFEST_DIR");
    let templates = std::fs::read_to_string(format!("{root}/debian/templates")).unwrap();
    for key in mathesar::testing::settings::Key::ALL {
        assert!(
            templates.contains(&format!("Template: {}\n", key.debconf_question())),
            "debian/templates lacks {}",
            key.debconf_question()
        );
    }
}

/// debconf's defaults are the package's: each template's `Default:` (none: empty) is the built-in
/// default of `sources::defaults` for that answer, so a question shows what an unanswered
/// installation gets. Secrets and generated answers have neither.
#[test]
fn debconf_defaults_are_the_built_in_defaults() {
    let root = env!("CARGO_MANIFEST_DIR");
    let templates = std::fs::read_to_string(format!("{root}/debian/templates")).unwrap();
    let defaults =
        mathesar::testing::sources::defaults::answers(std::path::Path::new("/etc/mathesar"));
    for key in mathesar::testing::settings::Key::ALL {
        let head = format!("Template: {}\n", key.debconf_question());
        let block = templates
            .split("\n\n")
            .find(|b| b.starts_with(&head) || b.contains(&format!("\n{head}")))
            .unwrap_or_else(|| panic!("no template {}", key.debconf_question()));
        let template_default = block
            .lines()
            .find_map(|l| l.strip_prefix("Default:"))
            .map_or("", str::trim);
        let built_in = defaults.value(*key).unwrap_or("");
        assert_eq!(
            template_default,
            built_in,
            "debian/templates and sources/defaults.rs disagree on {}",
            key.debconf_question()
        );
    }
}

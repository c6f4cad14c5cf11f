//! The client against a scripted fake frontend on a socket pair: each step is the command line
//! expected and the reply sent back.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::thread::JoinHandle;

use super::*;

type Script = Vec<(String, String)>;

/// Starts a frontend that checks each command against the script and answers it; it returns the
/// commands it saw.
fn frontend(script: Script) -> (Client, JoinHandle<Vec<String>>) {
    let (ours, theirs) = UnixStream::pair().unwrap();
    let handle = std::thread::spawn(move || {
        let mut reader = BufReader::new(theirs.try_clone().unwrap());
        let mut writer = theirs;
        let mut seen = Vec::new();
        for (expected, reply) in script {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap() == 0 {
                break;
            }
            let line = line.trim_end_matches('\n').to_string();
            assert_eq!(line, expected);
            seen.push(line);
            writeln!(writer, "{reply}").unwrap();
        }
        seen
    });
    let reader = BufReader::new(ours.try_clone().unwrap());
    (Client::new(reader, ours), handle)
}

fn step(cmd: &str, reply: &str) -> (String, String) {
    (cmd.to_string(), reply.to_string())
}

#[test]
fn commands_and_replies() {
    let (mut c, h) = frontend(vec![
        step("CAPB backup escape", "0 multiselect escape backup"),
        step("TITLE Mathesar setup", "0"),
        step("INPUT high mathesar/domain", "0 question will be asked"),
        step("INPUT low mathesar/db-user", "30 question skipped"),
        step("GO", "0 ok"),
        step("GO", "30 backup"),
        step("GET mathesar/domain", "1 a\\\\b"),
        step("SET mathesar/db-password p\\ \\ a\\\\s", "0 value set"),
        step("RESET mathesar/http-port", "0"),
        step("FSET mathesar/http-port seen false", "0 false"),
        step("FGET mathesar/http-port seen", "0 true"),
        step("SUBST mathesar/invalid-answer reason it is bad", "0"),
        step("PURGE", "0"),
        step("GET mathesar/nothing", "10 mathesar/nothing doesn't exist"),
    ]);
    c.capb(&["backup", "escape"]).unwrap();
    c.title("Mathesar setup").unwrap();
    assert!(c.input(Priority::High, "mathesar/domain").unwrap());
    assert!(!c.input(Priority::Low, "mathesar/db-user").unwrap());
    assert_eq!(c.go().unwrap(), Go::Next);
    assert_eq!(c.go().unwrap(), Go::Back);
    assert_eq!(c.get("mathesar/domain").unwrap(), "a\\b");
    c.set("mathesar/db-password", "p  a\\s").unwrap();
    c.reset("mathesar/http-port").unwrap();
    c.fset("mathesar/http-port", "seen", false).unwrap();
    assert!(c.fget("mathesar/http-port", "seen").unwrap());
    c.subst("mathesar/invalid-answer", "reason", "it is  bad")
        .unwrap();
    c.purge().unwrap();
    let err = c.get("mathesar/nothing").unwrap_err();
    assert!(
        matches!(err, DebconfError::Command { code: 10, .. }),
        "{err}"
    );
    drop(c);
    assert_eq!(h.join().unwrap().len(), 14);
}

#[test]
fn without_escape_unsafe_values_are_refused() {
    let (mut c, h) = frontend(vec![
        step("CAPB backup", "0 multiselect"),
        step("SET mathesar/domain a b", "0 value set"),
    ]);
    c.capb(&["backup"]).unwrap();
    c.set("mathesar/domain", "a b").unwrap();
    let err = c.set("mathesar/db-password", "two  spaces").unwrap_err();
    assert!(matches!(err, DebconfError::Unencodable { .. }), "{err}");
    let err = c.set("mathesar/db-password", "line\nbreak").unwrap_err();
    assert!(matches!(err, DebconfError::Unencodable { .. }), "{err}");
    drop(c);
    h.join().unwrap();
}

#[test]
fn a_closed_frontend_is_an_error() {
    let (mut c, h) = frontend(vec![]);
    h.join().unwrap();
    assert!(matches!(
        c.get("mathesar/domain").unwrap_err(),
        DebconfError::Closed | DebconfError::Io { .. }
    ));
}

/// The frontend side of `answers`: every question, seen or not, in `Key::ALL` order.
fn answers_script(seen: &[(Key, &str)]) -> Script {
    let mut s = vec![step("CAPB backup escape", "0 multiselect escape backup")];
    for &k in Key::ALL {
        let q = k.debconf_question();
        if k == Key::RefreshImages {
            // An older frontend database without this template.
            s.push(step(
                &format!("FGET {q} seen"),
                &format!("10 {q} doesn't exist"),
            ));
            continue;
        }
        match seen.iter().find(|(key, _)| *key == k) {
            Some((_, v)) => {
                s.push(step(&format!("FGET {q} seen"), "0 true"));
                s.push(step(
                    &format!("GET {q}"),
                    &format!("1 {}", v.replace('\\', "\\\\")),
                ));
            }
            None => s.push(step(&format!("FGET {q} seen"), "0 false")),
        }
    }
    s
}

#[test]
fn answers_takes_seen_questions_only() {
    let hostile = r#"p'a"s$s #\ w${x}ö  end "#;
    let (mut c, h) = frontend(answers_script(&[
        (Key::HttpPort, "8080"),
        (Key::DbPassword, hostile),
        (Key::AdminPassword, ""),
        (Key::Domain, ""),
    ]));
    c.capb(&["backup", "escape"]).unwrap();
    let a = answers(&mut c).unwrap();
    assert_eq!(a.value(Key::HttpPort), Some("8080"));
    assert_eq!(a.value(Key::DbPassword), Some(hostile));
    assert_eq!(a.get(Key::HttpPort).unwrap().source, Source::Debconf);
    // A seen, empty secret means "keep"; a seen, empty plain answer is an answer.
    assert_eq!(a.value(Key::AdminPassword), None);
    assert_eq!(a.value(Key::Domain), Some(""));
    assert_eq!(a.value(Key::HttpsPort), None);
    assert_eq!(a.iter().count(), 3);
    drop(c);
    h.join().unwrap();
}

#[test]
fn clear_passwords_empties_every_secret() {
    let mut script = vec![step("CAPB backup escape", "0 multiselect escape backup")];
    for &k in Key::ALL.iter().filter(|k| k.is_secret()) {
        script.push(step(
            &format!("SET {} ", k.debconf_question()),
            "0 value set",
        ));
    }
    let n = script.len();
    let (mut c, h) = frontend(script);
    c.capb(&["backup", "escape"]).unwrap();
    clear_passwords(&mut c).unwrap();
    drop(c);
    assert_eq!(h.join().unwrap().len(), n);
    assert_eq!(n, 6);
}

/// A frontend with a question database and a scripted user, for the config flow: questions at
/// `high` or above that were not seen are shown, and each shown question takes the user's next
/// action (an answer, or going back).
mod flow {
    use std::collections::{HashMap, HashSet, VecDeque};

    use super::*;
    use crate::debconf::config::{self, INVALID};

    #[derive(Clone, Debug)]
    enum User {
        Answer(&'static str),
        Back,
    }

    fn rank(p: &str) -> u8 {
        match p {
            "low" => 0,
            "medium" => 1,
            "high" => 2,
            _ => 3,
        }
    }

    /// Runs the config flow against the fake; returns the questions shown, in order, and the
    /// final values.
    fn run_flow(
        user: Vec<User>,
        preseeded: &[(&str, &str)],
    ) -> (Vec<String>, HashMap<String, String>) {
        let (ours, theirs) = UnixStream::pair().unwrap();
        let mut values: HashMap<String, String> = HashMap::new();
        let mut seen: HashSet<String> = HashSet::new();
        for (q, v) in preseeded {
            values.insert(q.to_string(), v.to_string());
            seen.insert(q.to_string());
        }
        let handle = std::thread::spawn(move || {
            let mut user: VecDeque<User> = user.into();
            let mut reader = BufReader::new(theirs.try_clone().unwrap());
            let mut writer = theirs;
            let mut pending: Vec<String> = Vec::new();
            let mut shown = Vec::new();
            let known =
                |q: &str| q == INVALID || Key::ALL.iter().any(|k| k.debconf_question() == q);
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap() == 0 {
                    break;
                }
                let w = crate::debconf::protocol::frontend::frontend_unescape_split(
                    line.trim_end_matches('\n'),
                );
                let q = w.get(1).cloned().unwrap_or_default();
                let reply = match w[0].as_str() {
                    "CAPB" => "0 multiselect escape backup".to_string(),
                    _ if w.len() > 1 && w[0] != "INPUT" && !known(&q) => {
                        format!("10 {q} doesn't exist")
                    }
                    "SET" => {
                        values.insert(q, w.get(2).cloned().unwrap_or_default());
                        "0 value set".into()
                    }
                    "GET" => format!(
                        "1 {}",
                        values
                            .get(&q)
                            .cloned()
                            .unwrap_or_default()
                            .replace('\\', "\\\\")
                    ),
                    "FGET" => format!("0 {}", seen.contains(&q)),
                    "FSET" => {
                        if w[3] == "true" {
                            seen.insert(q);
                        } else {
                            seen.remove(&q);
                        }
                        "0".into()
                    }
                    "SUBST" => "0".into(),
                    "CLEAR" => {
                        pending.clear();
                        "0".into()
                    }
                    "INPUT" => {
                        let q = w[2].clone();
                        if rank(&w[1]) >= 2 && !seen.contains(&q) {
                            pending.push(q);
                            "0 question will be asked".into()
                        } else {
                            "30 question skipped".into()
                        }
                    }
                    "GO" => {
                        let mut back = false;
                        for q in pending.drain(..) {
                            shown.push(q.clone());
                            if q == INVALID {
                                continue;
                            }
                            match user.pop_front().expect("the flow asked more than scripted") {
                                User::Answer(v) => {
                                    values.insert(q, v.to_string());
                                }
                                User::Back => back = true,
                            }
                        }
                        if back {
                            "30 backup".into()
                        } else {
                            "0 ok".into()
                        }
                    }
                    other => format!("20 unsupported {other}"),
                };
                writeln!(writer, "{reply}").unwrap();
            }
            assert!(user.is_empty(), "scripted answers left: {user:?}");
            (shown, values)
        });
        let mut c = Client::new(BufReader::new(ours.try_clone().unwrap()), ours);
        c.capb(&["backup", "escape"]).unwrap();
        let dir = tempfile::tempdir().unwrap();
        config::run(&mut c, dir.path(), false).unwrap();
        drop(c);
        handle.join().unwrap()
    }

    /// The questions shown, without the `mathesar/` owner.
    fn short_names(shown: &[String]) -> Vec<&str> {
        shown
            .iter()
            .map(|s| s.trim_start_matches("mathesar/"))
            .collect()
    }

    #[test]
    fn a_default_install_asks_the_high_questions_with_back_up_and_re_ask() {
        let (shown, values) = run_flow(
            vec![
                User::Answer("existing"),
                User::Back,
                User::Answer("bundled"),
                User::Answer("not a domain!"),
                User::Answer(""),
                User::Answer("  typed pass  "),
            ],
            &[("mathesar/data-dir", "/srv/m")],
        );
        let names = short_names(&shown);
        assert_eq!(
            names,
            [
                "user-db",
                "existing-db-host",
                "user-db",
                "domain",
                "invalid-answer",
                "domain",
                "admin-password"
            ]
        );
        assert_eq!(values["mathesar/user-db"], "bundled");
        assert_eq!(values["mathesar/domain"], "");
        assert_eq!(values["mathesar/admin-password"], "  typed pass  ");
        assert_eq!(values["mathesar/data-dir"], "/srv/m");
        // The detected address is offered as the default of the (medium) address question.
        assert!(!values["mathesar/external-address"].is_empty());
    }

    #[test]
    fn an_existing_server_asks_its_host_user_and_password() {
        let (shown, values) = run_flow(
            vec![
                User::Answer("existing"),
                User::Answer("db.example.org"),
                User::Answer("reader"),
                User::Answer("server password"),
                User::Answer("mathesar.example.org"),
                User::Answer(""),
            ],
            &[],
        );
        let names = short_names(&shown);
        assert_eq!(
            names,
            [
                "user-db",
                "existing-db-host",
                "existing-db-user",
                "existing-db-password",
                "domain",
                "admin-password"
            ]
        );
        assert_eq!(values["mathesar/existing-db-password"], "server password");
    }
}

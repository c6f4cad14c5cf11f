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
        if k == Key::Watchtower {
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
    assert_eq!(n, 4);
}

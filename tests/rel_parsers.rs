//! Property tests of the parsers at their public entry points, beyond the unit properties beside
//! the code: a debconf conversation (the reply stream as the frontend could send it, and garbage)
//! read by `debconf::answers`, and answers files of any bytes or with any answer, any value.

use std::io::Cursor;
use std::path::Path;

use mathesar::testing::debconf::{self, Client};
use mathesar::testing::settings::Key;
use mathesar::testing::sources::answers_file;
use proptest::prelude::*;

/// A client whose frontend replies with `replies` in order (the commands are not looked at).
fn client(replies: Vec<u8>) -> Client {
    Client::new(Cursor::new(replies), std::io::sink())
}

/// The reply line a frontend that granted `CAPB escape` sends for a GET: code 1, `\` and line
/// breaks escaped.
fn escaped_reply(value: &str) -> String {
    format!("1 {}\n", value.replace('\\', "\\\\").replace('\n', "\\n"))
}

fn values() -> impl Strategy<Value = Vec<(bool, String)>> {
    proptest::collection::vec(
        (any::<bool>(), "\\PC{0,40}|[ -~]{0,40}|[\\\\\n\t ]{0,8}"),
        Key::ALL.len(),
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    // Whatever the frontend sends back, reading the answers ends with answers or an error.
    #[test]
    fn debconf_answers_never_panic_on_any_reply_stream(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = debconf::answers(&mut client(bytes));
    }

    // Reply lines that look right (codes and words) but come in any order.
    #[test]
    fn debconf_answers_never_panic_on_plausible_replies(lines in proptest::collection::vec(
        "(0|1|10|20|30|100|9|000|1000)( (true|false|[^\n]{0,20}))?", 0..60)) {
        let text = lines.join("\n");
        let _ = debconf::answers(&mut client(text.into_bytes()));
    }

    // A frontend answering each question's `seen` flag and value: exactly the seen questions are
    // taken, byte for byte, except a seen but empty secret ("keep the current one").
    #[test]
    fn debconf_answers_take_exactly_the_seen_values(qs in values()) {
        let mut replies = String::new();
        for (seen, value) in &qs {
            replies.push_str(if *seen { "0 true\n" } else { "0 false\n" });
            if *seen {
                replies.push_str(&escaped_reply(value));
            }
        }
        let answers = debconf::answers(&mut client(replies.into_bytes())).unwrap();
        for (key, (seen, value)) in Key::ALL.iter().zip(&qs) {
            let want = (*seen && !(key.is_secret() && value.is_empty())).then_some(value.as_str());
            prop_assert_eq!(answers.value(*key), want, "{}", key.name());
        }
    }

    // An answers file of any bytes (also invalid UTF-8): answers or an error, never a panic; bytes
    // that are not UTF-8 are an error, not a silently mangled value.
    #[test]
    fn answers_file_of_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("answers.yml");
        std::fs::write(&p, &bytes).unwrap();
        let r = answers_file::read(&p);
        if std::str::from_utf8(&bytes).is_err() {
            prop_assert!(r.is_err());
        }
    }

    // Every answer, with any value written as a YAML double-quoted (JSON) string, comes back byte
    // for byte, whatever other answers the file holds.
    #[test]
    fn answers_file_every_key_round_trips(qs in values()) {
        let mut text = String::from("# answers\n");
        for (key, (keep, value)) in Key::ALL.iter().zip(&qs) {
            if *keep {
                // JSON leaves U+0085, U+2028 and U+2029 as they are; YAML 1.1 reads them as line
                // breaks and folds them: escape them as a YAML author would have to.
                let quoted = serde_json::to_string(value)
                    .unwrap()
                    .replace('\u{85}', "\\u0085")
                    .replace('\u{2028}', "\\u2028")
                    .replace('\u{2029}', "\\u2029");
                text.push_str(&format!("{}: {}\n", key.name(), quoted));
            }
        }
        let answers = answers_file::parse(&text, Path::new("/tmp/answers.yml")).unwrap();
        for (key, (keep, value)) in Key::ALL.iter().zip(&qs) {
            prop_assert_eq!(answers.value(*key), keep.then_some(value.as_str()), "{}", key.name());
        }
    }
}

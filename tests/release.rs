//! A release's version is written in several places; they must say the same thing: Cargo.toml's
//! version is the Mathesar release the package pins (packaging/images' `service=` tag), its
//! `[package.metadata.deb] revision` the Debian revision and the RPM release, and the newest
//! entries of debian/changelog and of the spec's %changelog name that version and revision.

fn read(path: &str) -> String {
    std::fs::read_to_string(format!("{}/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn revision() -> String {
    let cargo = read("Cargo.toml");
    let deb = cargo
        .split("[package.metadata.deb]")
        .nth(1)
        .expect("a [package.metadata.deb] table");
    let deb = deb.split("\n[").next().unwrap();
    deb.lines()
        .find_map(|l| l.strip_prefix("revision = \""))
        .and_then(|v| v.strip_suffix('"'))
        .expect("revision = \"N\" in [package.metadata.deb]")
        .to_string()
}

#[test]
fn version_is_the_pinned_mathesar_release() {
    let images = read("packaging/images");
    let service = images
        .lines()
        .find_map(|l| l.strip_prefix("service="))
        .expect("a service= line");
    let tag = service.rsplit_once(':').expect("a tagged image").1;
    assert_eq!(env!("CARGO_PKG_VERSION"), tag);
    let rev = revision();
    assert!(
        !rev.is_empty() && rev.bytes().all(|b| b.is_ascii_digit()),
        "{rev}"
    );
}

#[test]
fn changelogs_name_the_release() {
    let full = format!("{}-{}", env!("CARGO_PKG_VERSION"), revision());
    let deb = read("debian/changelog");
    let first = deb.lines().next().unwrap();
    assert!(
        first.starts_with(&format!("mathesar ({full}) ")),
        "debian/changelog starts with {first:?}, not version {full}"
    );
    let spec = read("rpm/mathesar.spec");
    let entry = spec
        .split("%changelog\n")
        .nth(1)
        .and_then(|c| c.lines().next())
        .expect("a %changelog entry");
    assert!(
        entry.starts_with('*') && entry.ends_with(&format!(" - {full}")),
        "the spec's newest %changelog entry {entry:?} is not {full}"
    );
    assert!(spec.contains("Release:        %{pkg_release}"));
}

/// packaging/releases: `VERSION COMMIT` lines, oldest first, each a full commit id and a version
/// below this tree's (the scenario upgrade-from-release picks the newest below it).
#[test]
fn earlier_releases_are_listed_oldest_first_below_this_one() {
    let list = read("packaging/releases");
    let rows: Vec<(String, String)> = list
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let mut f = l.split_whitespace();
            let row = (
                f.next().unwrap().to_string(),
                f.next().unwrap_or("").to_string(),
            );
            assert!(f.next().is_none(), "one version and one commit a line: {l}");
            row
        })
        .collect();
    assert!(!rows.is_empty(), "packaging/releases lists no release");
    let this = format!("{}-{}", env!("CARGO_PKG_VERSION"), revision());
    let mut previous: Option<&str> = None;
    for (version, commit) in &rows {
        assert!(
            commit.len() == 40 && commit.bytes().all(|b| b.is_ascii_hexdigit()),
            "{version}: a full commit id, not {commit:?}"
        );
        let below = |a: &str, b: &str| {
            std::process::Command::new("dpkg")
                .args(["--compare-versions", a, "lt", b])
                .status()
                .expect("dpkg runs")
                .success()
        };
        assert!(below(version, &this), "{version} is not below {this}");
        if let Some(p) = previous {
            assert!(
                below(p, version),
                "{p} listed before {version}: oldest first"
            );
        }
        previous = Some(version);
    }
}

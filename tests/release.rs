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

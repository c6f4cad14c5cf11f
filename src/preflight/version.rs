//! Version strings as distributions print them, made comparable.

use semver::Version;

/// The leading `MAJOR[.MINOR[.PATCH]]` of a version string, ignoring a `v` prefix and any
/// distribution suffix (`+dfsg1`, `-4`, `~22.04.1`, `-0ubuntu2`). Distribution suffixes are not
/// valid semver (`~`), or would make a release compare as a pre-release (`2.26.1-4` < `2.26.1`);
/// leading zeros (`19.03.15`) are not valid semver either.
pub fn lenient(text: &str) -> Option<Version> {
    let t = text.lines().next()?.trim();
    let t = t.strip_prefix(['v', 'V']).unwrap_or(t);
    let end = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let mut parts = t[..end].split('.').filter(|p| !p.is_empty());
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next().map_or(Some(0), |p| p.parse().ok())?;
    let patch = parts.next().map_or(Some(0), |p| p.parse().ok())?;
    Some(Version::new(major, minor, patch))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distribution_versions_parse() {
        for (text, want) in [
            ("20.10.24", (20, 10, 24)),
            ("26.1.5+dfsg1", (26, 1, 5)),
            ("28.2.2", (28, 2, 2)),
            ("2.26.1", (2, 26, 1)),
            ("v2.29.7", (2, 29, 7)),
            ("2.26.1+ds1", (2, 26, 1)),
            ("2.26.1-4", (2, 26, 1)),
            ("1.29.2\n", (1, 29, 2)),
            ("24.0.7-0ubuntu2~22.04.1", (24, 0, 7)),
            ("19.03.15", (19, 3, 15)),
            ("20.10", (20, 10, 0)),
            ("27", (27, 0, 0)),
            ("  v2.10.0  ", (2, 10, 0)),
        ] {
            assert_eq!(
                lenient(text),
                Some(Version::new(want.0, want.1, want.2)),
                "{text:?}"
            );
        }
    }

    #[test]
    fn non_versions_are_refused() {
        for text in [
            "",
            "dev",
            "docker: 'compose' is not a docker command.",
            "v",
            ".",
        ] {
            assert_eq!(lenient(text), None, "{text:?}");
        }
    }
}

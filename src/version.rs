//! The one rule comparing versions: Mathesar releases (image tags), this package's versions, the
//! release recorded on a shared database. Every check uses [`compare`], and the preinst applies the
//! same rule with the package manager's own comparison (dpkg's, or rpm's), so they never disagree.
//!
//! The rule is Debian's (dpkg's comparison of upstream versions), with a pre-release written the
//! semver way (`0.11.0-rc1`) read as Debian writes it (`0.11.0~rc1`): a pre-release comes before its
//! release, `rc2` before `rc10`. A leading `v` and build metadata (`+...`) are ignored. A tag that
//! does not start with a digit (`latest`, a digest) is not a version: nothing is compared with it.
//!
//! The tools the host provides (Docker Engine, Compose) are judged by their release alone
//! ([`lenient`]): their distribution suffixes say nothing about the features they have.

use std::cmp::Ordering;

use semver::Version;

/// The version of an image reference: its tag (`reg:5000/mathesar/mathesar:0.11.0` -> `0.11.0`).
pub(crate) fn of_image(image: &str) -> Option<&str> {
    let last = image.rsplit('/').next()?;
    let (_, tag) = last.split_once(':')?;
    (!tag.is_empty()).then_some(tag)
}

/// The form compared: `v` and build metadata dropped, the first `-` read as `~`; `None` when the
/// text is not a version.
fn normal(v: &str) -> Option<String> {
    let v = v.trim();
    let v = v.strip_prefix('v').unwrap_or(v);
    let v = v.split('+').next().unwrap_or(v);
    if !v.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    Some(v.replacen('-', "~", 1))
}

/// Compares two versions; `None` when either is not a version.
pub(crate) fn compare(a: &str, b: &str) -> Option<Ordering> {
    Some(debian_cmp(&normal(a)?, &normal(b)?))
}

/// Whether `a` is a version newer than `b` (false when either is not a version).
pub fn is_newer(a: &str, b: &str) -> bool {
    compare(a, b) == Some(Ordering::Greater)
}

/// The weight of a character in the non-digit parts: `~` before the end, the end before letters,
/// letters before other characters (dpkg's `order`).
fn weight(c: Option<u8>) -> i32 {
    match c {
        None => 0,
        Some(b'~') => -1,
        Some(c) if c.is_ascii_alphabetic() => i32::from(c),
        Some(c) => i32::from(c) + 256,
    }
}

/// dpkg's `verrevcmp`: alternating runs of non-digits (compared by [`weight`]) and digits
/// (compared as numbers).
fn debian_cmp(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        while (i < a.len() && !a[i].is_ascii_digit()) || (j < b.len() && !b[j].is_ascii_digit()) {
            let ca = a.get(i).copied().filter(|c| !c.is_ascii_digit());
            let cb = b.get(j).copied().filter(|c| !c.is_ascii_digit());
            let o = weight(ca).cmp(&weight(cb));
            if o != Ordering::Equal {
                return o;
            }
            i += usize::from(ca.is_some());
            j += usize::from(cb.is_some());
        }
        let digits = |s: &[u8], k: &mut usize| {
            while *k < s.len() && s[*k] == b'0' {
                *k += 1;
            }
            let start = *k;
            while *k < s.len() && s[*k].is_ascii_digit() {
                *k += 1;
            }
            start..*k
        };
        let (ra, rb) = (digits(a, &mut i), digits(b, &mut j));
        let o = ra.len().cmp(&rb.len()).then_with(|| a[ra].cmp(&b[rb]));
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

/// The leading `MAJOR[.MINOR[.PATCH]]` of a version string, ignoring a `v` prefix and any
/// distribution suffix (`+dfsg1`, `-4`, `~22.04.1`, `-0ubuntu2`). Distribution suffixes are not
/// valid semver (`~`), or would make a release compare as a pre-release (`2.26.1-4` < `2.26.1`);
/// leading zeros (`19.03.15`) are not valid semver either.
pub(crate) fn lenient(text: &str) -> Option<Version> {
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
    use Ordering::*;

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

    #[test]
    fn releases_and_pre_releases() {
        assert_eq!(compare("0.10.1", "0.11.0"), Some(Less));
        assert_eq!(compare("0.11.0", "0.9.9"), Some(Greater));
        assert_eq!(compare("0.11.0", "0.11.0"), Some(Equal));
        assert_eq!(compare("1.10.0", "1.9.0"), Some(Greater));
        assert_eq!(compare("0.11.0-rc1", "0.11.0"), Some(Less));
        assert_eq!(compare("0.11.0-rc2", "0.11.0-rc10"), Some(Less));
        assert_eq!(compare("0.11.0-fails-first-start", "0.11.0"), Some(Less));
        assert_eq!(compare("0.11.0-fails-first-start", "0.10.1"), Some(Greater));
        assert_eq!(compare("v0.11.0", "0.11.0"), Some(Equal));
        assert_eq!(compare("0.11.0+build5", "0.11.0"), Some(Equal));
        assert_eq!(compare("0.11", "0.11.0"), Some(Less));
        assert_eq!(compare("0.11.0a", "0.11.0"), Some(Greater));
        // A package's Debian revision is read like a pre-release: not newer than its release.
        assert_eq!(compare("0.1.0-1", "0.1.0"), Some(Less));
    }

    #[test]
    fn tags_that_are_not_versions() {
        assert_eq!(compare("latest", "0.11.0"), None);
        assert_eq!(compare("0.11.0", "latest"), None);
        assert_eq!(compare("", "0.11.0"), None);
        assert!(!is_newer("latest", "0.11.0"));
        assert!(!is_newer("0.11.0", "latest"));
    }

    /// The preinst compares with the package manager's own order (`dpkg --compare-versions`, or
    /// rpm's `vercmp`) after reading `-` as `~`: the same order as here, pair by pair.
    #[test]
    fn agrees_with_dpkg_and_rpm() {
        let tags = [
            "1.0.0",
            "0.11.0",
            "0.11.0-rc10",
            "0.10.1",
            "0.11.0-rc2",
            "0.11.0-fails-first-start",
            "0.2.0",
        ];
        let key = |t: &str| t.replacen('-', "~", 1);
        let run = |cmd: &mut std::process::Command| {
            cmd.output()
                .unwrap_or_else(|e| panic!("{cmd:?}: {e} (dpkg and rpm are needed by the tests)"))
        };
        for a in tags {
            for b in tags {
                let ours = compare(a, b).unwrap() == std::cmp::Ordering::Greater;
                let dpkg = run(std::process::Command::new("dpkg").args([
                    "--compare-versions",
                    &key(a),
                    "gt",
                    &key(b),
                ]));
                assert_eq!(dpkg.status.success(), ours, "dpkg: {a} > {b}");
                let rpm = run(std::process::Command::new("rpm").args([
                    "--eval",
                    &format!("%{{lua:print(rpm.vercmp('{}', '{}'))}}", key(a), key(b)),
                ]));
                assert_eq!(
                    String::from_utf8_lossy(&rpm.stdout).trim() == "1",
                    ours,
                    "rpm: {a} > {b}"
                );
            }
        }
    }

    #[test]
    fn image_tags() {
        assert_eq!(of_image("mathesar/mathesar:0.11.0"), Some("0.11.0"));
        assert_eq!(
            of_image("127.0.0.1:5115/mathesar/mathesar:0.10.1"),
            Some("0.10.1")
        );
        assert_eq!(of_image("registry:5000/mathesar/mathesar"), None);
    }
}

//! The images of this package release, pinned in `packaging/images`.

const PINNED: &str = include_str!("../../packaging/images");
/// A Mathesar image to pin instead of `packaging/images`' `service=`, set at build time by
/// `scripts/build-packages --service-image` (packages of another Mathesar for upgrade tests);
/// unset in a release build.
const SERVICE_OVERRIDE: Option<&str> = option_env!("MATHESARCTL_BUILD_SERVICE_IMAGE");

/// The pinned image for `key` (`db`, `service`, `caddy`, `watchtower`), prefixed by `registry`.
pub fn image(key: &str, registry: Option<&str>) -> String {
    let over = SERVICE_OVERRIDE.filter(|i| key == "service" && !i.trim().is_empty());
    let pinned = over.map(str::trim).unwrap_or_else(|| pinned(key));
    match registry {
        Some(r) => format!("{r}/{pinned}"),
        None => pinned.to_string(),
    }
}

fn pinned(key: &str) -> &'static str {
    PINNED
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .find_map(|l| l.split_once('=').filter(|(k, _)| k.trim() == key))
        .map(|(_, v)| v.trim())
        .unwrap_or_else(|| panic!("packaging/images has no `{key}` line"))
}

pub const KEYS: [&str; 4] = ["db", "service", "caddy", "watchtower"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_image_is_pinned_to_a_version() {
        for k in KEYS {
            let i = image(k, None);
            let tag = i.rsplit_once(':').map(|(_, t)| t).unwrap_or("");
            assert!(!tag.is_empty() && tag != "latest", "{k}: {i}");
        }
        assert!(
            image("service", Some("reg.example.org:5000/m"))
                .starts_with("reg.example.org:5000/m/mathesar/")
        );
    }
}

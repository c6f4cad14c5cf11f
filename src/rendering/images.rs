//! The images of this package release, pinned in `packaging/images` (`KEY=IMAGE`, one a line),
//! read at build time: a missing line stops the build, so that no run can miss one.

const PINNED: &str = include_str!("../../packaging/images");

/// An image of this release. Its key in `packaging/images` is not always the name of the compose
/// service that runs it (`caddy` runs as `caddy-reverse-proxy`): both are named here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Image {
    Db,
    Service,
    Proxy,
    Watchtower,
}

const DB: &str = pinned_line(PINNED, "db");
const SERVICE: &str = pinned_line(PINNED, "service");
const PROXY: &str = pinned_line(PINNED, "caddy");
const WATCHTOWER: &str = pinned_line(PINNED, "watchtower");

impl Image {
    pub const ALL: [Image; 4] = [Image::Db, Image::Service, Image::Proxy, Image::Watchtower];

    /// Its key in `packaging/images` (and in the compose template's `images`).
    pub fn key(self) -> &'static str {
        match self {
            Image::Db => "db",
            Image::Service => "service",
            Image::Proxy => "caddy",
            Image::Watchtower => "watchtower",
        }
    }

    /// The compose service that runs it (`stack::services`).
    pub fn service(self) -> &'static str {
        match self {
            Image::Db => "db",
            Image::Service => "service",
            Image::Proxy => "caddy-reverse-proxy",
            Image::Watchtower => "watchtower",
        }
    }

    /// The pinned image, prefixed by `registry`.
    pub fn pinned(self, registry: Option<&str>) -> String {
        let pinned = match self {
            Image::Db => DB,
            Image::Service => SERVICE,
            Image::Proxy => PROXY,
            Image::Watchtower => WATCHTOWER,
        };
        match registry {
            Some(r) => format!("{r}/{pinned}"),
            None => pinned.to_string(),
        }
    }
}

/// The value of the line `KEY=VALUE` of `text`, trimmed; evaluated at compile time, where a
/// missing line is an error.
const fn pinned_line(text: &'static str, key: &str) -> &'static str {
    let (t, k) = (text.as_bytes(), key.as_bytes());
    let mut start = 0;
    while start < t.len() {
        let mut end = start;
        while end < t.len() && t[end] != b'\n' {
            end += 1;
        }
        if end - start > k.len() && t[start + k.len()] == b'=' {
            let mut i = 0;
            while i < k.len() && t[start + i] == k[i] {
                i += 1;
            }
            if i == k.len() {
                let (_, rest) = t.split_at(start + k.len() + 1);
                let (value, _) = rest.split_at(end - start - k.len() - 1);
                match core::str::from_utf8(value) {
                    Ok(v) => return v.trim_ascii(),
                    Err(_) => panic!("packaging/images is not UTF-8"),
                }
            }
        }
        start = end + 1;
    }
    panic!("packaging/images lacks the line of an image")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_image_is_pinned_to_a_version() {
        for i in Image::ALL {
            let name = i.pinned(None);
            let tag = name.rsplit_once(':').map(|(_, t)| t).unwrap_or("");
            assert!(!tag.is_empty() && tag != "latest", "{i:?}: {name}");
            // The line of the file, as the end-to-end bed reads it.
            assert!(
                PINNED.lines().any(|l| l == format!("{}={name}", i.key())),
                "{i:?}"
            );
        }
        assert!(
            Image::Service
                .pinned(Some("reg.example.org:5000/m"))
                .starts_with("reg.example.org:5000/m/mathesar/")
        );
    }

    #[test]
    fn each_image_names_its_service() {
        for i in Image::ALL {
            assert!(
                crate::stack::services::by_name(i.service()).is_some(),
                "{i:?}"
            );
        }
        assert_eq!(Image::Proxy.service(), crate::stack::services::PROXY.name);
    }

    #[test]
    fn lines_are_found_exactly() {
        const TEXT: &str = "# c\ndbx=no\ndb=a:1 \nservice=b:2";
        assert_eq!(pinned_line(TEXT, "db"), "a:1");
        assert_eq!(pinned_line(TEXT, "service"), "b:2");
    }
}

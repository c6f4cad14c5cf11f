//! The images of this package release, pinned in `packaging/images` (`KEY=IMAGE`, one a line).
//! The file is read at build time (a missing line stops the build) and built in; the installed
//! binary (`/usr/bin/mathesarctl`) reads the copy the package ships in
//! `/usr/share/mathesar/images` at run time instead (a package built to run another Mathesar,
//! e.g. for upgrade tests, changes that file only). Any other binary, or an installation without
//! the file, uses the built-in pins.

use std::io::Read;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;
use std::sync::{OnceLock, RwLock};

const PINNED: &str = include_str!("../../packaging/images");
/// The pins the package installs, read by the installed binary.
pub(crate) const INSTALLED_FILE: &str = "/usr/share/mathesar/images";
const INSTALLED_BINARY: &str = "/usr/bin/mathesarctl";

/// An image of this release. Its key in `packaging/images` is not always the name of the compose
/// service that runs it (`caddy` runs as `caddy-reverse-proxy`): both are named here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Image {
    Db,
    Service,
    Proxy,
}

/// The key of an image older releases pinned and ran (watchtower, given up in 0.11.0-1): skipped
/// where their pins are read back (a held-back release's record, a backup's manifest).
const RETIRED_KEY: &str = "watchtower";

const DB: &str = pinned_line(PINNED, "db");
const SERVICE: &str = pinned_line(PINNED, "service");
const PROXY: &str = pinned_line(PINNED, "caddy");

/// The pins in use, set once by [`load`]; the built-in ones when it was not called.
static LOADED: OnceLock<Pins> = OnceLock::new();

/// The previous release's pins while a failed upgrade holds it back (`rendering::held`): they
/// win over the package's until `upgrade` clears them. A lock, not a `OnceLock`: `upgrade`
/// clears them and puts them back within one run.
static HELD: RwLock<Option<Pins>> = RwLock::new(None);

/// Runs the previous release's images (`Some`) or the package's again (`None`).
pub(crate) fn hold(pins: Option<Pins>) {
    match HELD.write() {
        Ok(mut held) => *held = pins,
        Err(poisoned) => *poisoned.into_inner() = pins,
    }
}

impl Image {
    pub(crate) const ALL: [Image; 3] = [Image::Db, Image::Service, Image::Proxy];

    /// Its key in `packaging/images` (and in the compose template's `images`).
    pub(crate) fn key(self) -> &'static str {
        match self {
            Image::Db => "db",
            Image::Service => "service",
            Image::Proxy => "caddy",
        }
    }

    /// The compose service that runs it (`stack::services`).
    pub(crate) fn service(self) -> &'static str {
        match self {
            Image::Db => "db",
            Image::Service => "service",
            Image::Proxy => "caddy-reverse-proxy",
        }
    }

    /// The image built in (`packaging/images` at build time).
    fn built_in(self) -> &'static str {
        match self {
            Image::Db => DB,
            Image::Service => SERVICE,
            Image::Proxy => PROXY,
        }
    }

    fn index(self) -> usize {
        self as usize
    }

    /// The pinned image (the installed pins once [`load`]ed, else the built-in ones), prefixed
    /// by `registry`.
    pub(crate) fn pinned(self, registry: Option<&str>) -> String {
        let held = HELD
            .read()
            .ok()
            .and_then(|h| h.as_ref().map(|p| p.get(self).to_string()));
        let pinned = match (&held, LOADED.get()) {
            (Some(held), _) => held.as_str(),
            (None, Some(pins)) => pins.get(self),
            (None, None) => self.built_in(),
        };
        match registry {
            Some(r) => format!("{r}/{pinned}"),
            None => pinned.to_string(),
        }
    }
}

/// Pinned image references, one per [`Image`] (in the order of [`Image::ALL`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pins([String; 3]);

impl Pins {
    /// The pins built in.
    pub(crate) fn built_in() -> Pins {
        Pins(Image::ALL.map(|i| i.built_in().to_string()))
    }

    /// Parses `KEY=IMAGE` lines (`#` comments); every key once, every image `name:tag` with a
    /// tag other than `latest`, no other key (the retired `watchtower` of older releases is
    /// skipped).
    pub(crate) fn parse(text: &str) -> Result<Pins, String> {
        let mut found: [Option<String>; 3] = Default::default();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (k, v) = line
                .split_once('=')
                .ok_or_else(|| format!("line {}: not KEY=IMAGE", n + 1))?;
            let (k, v) = (k.trim(), v.trim());
            if k == RETIRED_KEY {
                continue;
            }
            let image = Image::ALL
                .into_iter()
                .find(|i| i.key() == k)
                .ok_or_else(|| format!("line {}: unknown key `{k}`", n + 1))?;
            let tag = v
                .rsplit('/')
                .next()
                .and_then(|last| last.split_once(':'))
                .map(|(_, t)| t)
                .unwrap_or("");
            let ok_chars = v
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "./_:-@".contains(c));
            if !ok_chars || tag.is_empty() || tag == "latest" || v.starts_with(['-', '/']) {
                return Err(format!(
                    "line {}: `{k}` is not a pinned image reference (name:tag)",
                    n + 1
                ));
            }
            if found[image.index()].replace(v.to_string()).is_some() {
                return Err(format!("line {}: `{k}` given twice", n + 1));
            }
        }
        let mut pins: [String; 3] = Default::default();
        for (i, f) in found.into_iter().enumerate() {
            pins[i] = f.ok_or_else(|| format!("no `{}` line", Image::ALL[i].key()))?;
        }
        Ok(Pins(pins))
    }

    pub(crate) fn get(&self, image: Image) -> &str {
        &self.0[image.index()]
    }

    /// The pins of the images a compose file ran, by compose service (a backup's manifest),
    /// without the registry prefix `registry` they were configured with; validated as a pins
    /// file is. A service the file did not run keeps this package's pin.
    pub(crate) fn of_services(
        images: &std::collections::BTreeMap<String, String>,
        registry: Option<&str>,
    ) -> Result<Pins, String> {
        let text: String = Image::ALL
            .into_iter()
            .map(|i| {
                let image = match images.get(i.service()) {
                    Some(image) => registry
                        .and_then(|r| image.strip_prefix(&format!("{r}/")))
                        .unwrap_or(image)
                        .to_string(),
                    None => Pins::built_in_or_loaded(i),
                };
                format!("{}={image}\n", i.key())
            })
            .collect();
        Pins::parse(&text)
    }

    fn built_in_or_loaded(image: Image) -> String {
        LOADED
            .get()
            .map_or(image.built_in(), |p| p.get(image))
            .to_string()
    }
}

/// Reads a pins file the package installed: a regular file (a link is not followed), owned by
/// root and writable by root only, at most 64 KiB. `Ok(None)`: there is none.
pub(crate) fn read_installed(path: &Path) -> Result<Option<Pins>, String> {
    let name = path.display();
    let file = match std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_CLOEXEC | nix::libc::O_NONBLOCK)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) if e.raw_os_error() == Some(nix::libc::ELOOP) => {
            return Err(format!(
                "{name} is a symbolic link; it must be the package's file"
            ));
        }
        Err(e) => return Err(format!("{name}: {e}")),
    };
    let meta = file.metadata().map_err(|e| format!("{name}: {e}"))?;
    if !meta.is_file() || meta.uid() != 0 || meta.mode() & 0o022 != 0 {
        return Err(format!(
            "{name} must be a regular file owned by root and writable by root only \
             (reinstall the package)"
        ));
    }
    let mut text = String::new();
    file.take(64 * 1024)
        .read_to_string(&mut text)
        .map_err(|e| format!("{name}: {e}"))?;
    Pins::parse(&text)
        .map(Some)
        .map_err(|e| format!("{name}: {e} (reinstall the package)"))
}

/// Loads the pins once, before any command uses them: the installed file for the installed
/// binary, else the built-in ones. An installed file that cannot be trusted or read is an error
/// (the package's images would silently be another version's otherwise).
pub(crate) fn load() -> Result<(), String> {
    if LOADED.get().is_some() {
        return Ok(());
    }
    let installed = std::env::current_exe().is_ok_and(|e| e == Path::new(INSTALLED_BINARY));
    let pins = if installed {
        read_installed(Path::new(INSTALLED_FILE))?
    } else {
        None
    };
    let _ = LOADED.set(pins.unwrap_or_else(Pins::built_in));
    Ok(())
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
    use std::os::unix::fs::PermissionsExt;

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

    #[test]
    fn the_built_in_file_parses_as_the_built_in_pins() {
        assert_eq!(Pins::parse(PINNED), Ok(Pins::built_in()));
        // An older release's pins, watchtower included (a held-back release's record).
        let older = format!("{PINNED}watchtower=containrrr/watchtower:1.7.1\n");
        assert_eq!(Pins::parse(&older), Ok(Pins::built_in()));
    }

    #[test]
    fn a_pins_file_needs_every_key_pinned_once() {
        let other = PINNED.replace(
            &format!("service={SERVICE}"),
            "service=mathesar/mathesar:0.10.1",
        );
        assert_eq!(
            Pins::parse(&other).unwrap().get(Image::Service),
            "mathesar/mathesar:0.10.1"
        );
        for (bad, why) in [
            (other.replace("service=", "#"), "no `service` line"),
            (format!("{other}db=x:1\n"), "given twice"),
            (format!("{other}web=x:1\n"), "unknown key"),
            (other.replace(":0.10.1", ":latest"), "not a pinned image"),
            (other.replace(":0.10.1", ""), "not a pinned image"),
            (other.replace(":0.10.1", ":1 $(x)"), "not a pinned image"),
            (format!("{other}garbage\n"), "not KEY=IMAGE"),
        ] {
            let e = Pins::parse(&bad).unwrap_err();
            assert!(e.contains(why), "{e} / {why}");
        }
    }

    #[test]
    fn the_installed_file_is_read_only_when_root_owns_it_alone() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("images");
        assert_eq!(read_installed(&f), Ok(None));
        std::fs::write(&f, PINNED).unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
        if nix::unistd::geteuid().is_root() {
            assert_eq!(read_installed(&f), Ok(Some(Pins::built_in())));
        } else {
            assert!(read_installed(&f).unwrap_err().contains("owned by root"));
        }
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o666)).unwrap();
        assert!(
            read_installed(&f)
                .unwrap_err()
                .contains("writable by root only")
        );
        let link = d.path().join("link");
        std::os::unix::fs::symlink(&f, &link).unwrap();
        assert!(read_installed(&link).unwrap_err().contains("symbolic link"));
        std::fs::write(&f, "db=x:1\n").unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
        if nix::unistd::geteuid().is_root() {
            assert!(
                read_installed(&f)
                    .unwrap_err()
                    .contains("no `service` line")
            );
        }
    }
}

//! The images of this package release. The installed binary (`/usr/bin/mathesarctl`) reads the
//! pins the package ships in `/usr/share/mathesar/images` (a package built to run another
//! Mathesar, e.g. for upgrade tests, changes that file only); any other binary, or an
//! installation without the file, uses the copy of `packaging/images` built in.

use std::io::Read;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;
use std::sync::OnceLock;

const BUILT_IN: &str = include_str!("../../packaging/images");
/// The pins the package installs, read by the installed binary.
pub const INSTALLED_FILE: &str = "/usr/share/mathesar/images";
const INSTALLED_BINARY: &str = "/usr/bin/mathesarctl";

pub const KEYS: [&str; 4] = ["db", "service", "caddy", "watchtower"];

/// The pinned image references, in the order of `KEYS`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pins([String; 4]);

static LOADED: OnceLock<Pins> = OnceLock::new();

impl Pins {
    /// Parses `KEY=IMAGE` lines (`#` comments); every key once, every image `name:tag` with a
    /// tag other than `latest`, no other key.
    pub fn parse(text: &str) -> Result<Pins, String> {
        let mut found: [Option<String>; 4] = Default::default();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (k, v) = line
                .split_once('=')
                .ok_or_else(|| format!("line {}: not KEY=IMAGE", n + 1))?;
            let (k, v) = (k.trim(), v.trim());
            let i = KEYS
                .iter()
                .position(|x| *x == k)
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
            if found[i].replace(v.to_string()).is_some() {
                return Err(format!("line {}: `{k}` given twice", n + 1));
            }
        }
        let mut pins: [String; 4] = Default::default();
        for (i, f) in found.into_iter().enumerate() {
            pins[i] = f.ok_or_else(|| format!("no `{}` line", KEYS[i]))?;
        }
        Ok(Pins(pins))
    }

    fn get(&self, key: &str) -> &str {
        let i = KEYS
            .iter()
            .position(|k| *k == key)
            .unwrap_or_else(|| panic!("no image key `{key}`"));
        &self.0[i]
    }
}

fn built_in() -> &'static Pins {
    static BUILT: OnceLock<Pins> = OnceLock::new();
    BUILT.get_or_init(|| Pins::parse(BUILT_IN).expect("packaging/images is valid"))
}

/// Reads a pins file the package installed: a regular file (a link is not followed), owned by
/// root and writable by root only, at most 64 KiB. `Ok(None)`: there is none.
pub fn read_installed(path: &Path) -> Result<Option<Pins>, String> {
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
pub fn load() -> Result<(), String> {
    if LOADED.get().is_some() {
        return Ok(());
    }
    let installed = std::env::current_exe().is_ok_and(|e| e == Path::new(INSTALLED_BINARY));
    let pins = if installed {
        read_installed(Path::new(INSTALLED_FILE))?
    } else {
        None
    };
    let _ = LOADED.set(pins.unwrap_or_else(|| built_in().clone()));
    Ok(())
}

/// The pinned image for `key` (`db`, `service`, `caddy`, `watchtower`), prefixed by `registry`.
pub fn image(key: &str, registry: Option<&str>) -> String {
    let pinned = LOADED.get().unwrap_or_else(|| built_in()).get(key);
    match registry {
        Some(r) => format!("{r}/{pinned}"),
        None => pinned.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

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

    #[test]
    fn a_pins_file_needs_every_key_pinned_once() {
        let other = BUILT_IN.replace(
            &format!("service={}", built_in().get("service")),
            "service=mathesar/mathesar:0.10.1",
        );
        assert_eq!(
            Pins::parse(&other).unwrap().get("service"),
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
        std::fs::write(&f, BUILT_IN).unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
        if nix::unistd::geteuid().is_root() {
            assert_eq!(read_installed(&f).unwrap().as_ref(), Some(built_in()));
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

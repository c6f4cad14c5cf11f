//! Certificates the answers name, and the one the proxy obtained: read and checked at configure
//! time (a clear refusal, nothing written), copied under the data directory for the proxy, and
//! described by `status` (issuer, expiry).
//!
//! X.509 is parsed with `x509-cert` and PEM with `rustls`' own reader, both already built into
//! mathesarctl for TLS to PostgreSQL: no further crate, no OpenSSL.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use thiserror::Error;
use x509_cert::Certificate;
use x509_cert::der::Decode;

use crate::settings::{Key, Settings};
use crate::storage::DataLayout;
use crate::storage::modes;

/// Largest certificate file read: far above any real chain.
const MAX_FILE: u64 = 1 << 20;

pub(crate) use crate::storage::layout::{ACME_CA_ROOT, DB_CA, TLS_CERT, TLS_KEY};

/// Why a file an answer names cannot be used; the answer and the path are named, never a key.
#[derive(Debug, Error)]
#[error("the answer `{key}` ({}) is refused: {reason}", path.display())]
pub(crate) struct TlsError {
    pub key: Key,
    pub path: PathBuf,
    pub reason: String,
}

/// A file the proxy reads, made from what the answers name.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct TlsFile {
    pub path: PathBuf,
    pub contents: Vec<u8>,
    pub mode: u32,
    pub secret: bool,
}

impl fmt::Debug for TlsFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsFile")
            .field("path", &self.path)
            .field("bytes", &self.contents.len())
            .field("mode", &format_args!("{:o}", self.mode))
            .finish()
    }
}

/// What one certificate says, as `status` shows it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub(crate) struct CertInfo {
    pub subject: String,
    pub issuer: String,
    /// Seconds since the epoch.
    pub not_before: u64,
    pub not_after: u64,
    /// The DNS names of the subject alternative names.
    pub dns_names: Vec<String>,
}

impl CertInfo {
    pub(crate) fn of(cert: &Certificate) -> CertInfo {
        let tbs = &cert.tbs_certificate;
        let secs = |t: x509_cert::time::Time| t.to_unix_duration().as_secs();
        CertInfo {
            subject: tbs.subject.to_string(),
            issuer: tbs.issuer.to_string(),
            not_before: secs(tbs.validity.not_before),
            not_after: secs(tbs.validity.not_after),
            dns_names: dns_names(cert),
        }
    }

    pub(crate) fn expired(&self, now: SystemTime) -> bool {
        now > UNIX_EPOCH + Duration::from_secs(self.not_after)
    }

    /// `2027-03-01 12:00:00 UTC`.
    pub(crate) fn not_after_text(&self) -> String {
        utc_text(self.not_after)
    }
}

/// The DNS names of a certificate's subject alternative name extension.
fn dns_names(cert: &Certificate) -> Vec<String> {
    use x509_cert::der::oid::AssociatedOid;
    use x509_cert::ext::pkix::SubjectAltName;
    use x509_cert::ext::pkix::name::GeneralName;
    let Some(exts) = &cert.tbs_certificate.extensions else {
        return Vec::new();
    };
    exts.iter()
        .filter(|e| e.extn_id == SubjectAltName::OID)
        .filter_map(|e| SubjectAltName::from_der(e.extn_value.as_bytes()).ok())
        .flat_map(|san| san.0)
        .filter_map(|n| match n {
            GeneralName::DnsName(d) => Some(d.to_string()),
            _ => None,
        })
        .collect()
}

/// Seconds since the epoch as a UTC date and time.
pub(crate) fn utc_text(secs: u64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs);
    let (y, m, d, hh, mm, ss) = crate::time::civil(t);
    format!("{y:04}-{m:02}-{d:02} {hh:02}:{mm:02}:{ss:02} UTC")
}

/// Reads a file an answer names: a regular file (links followed: it is the administrator's
/// path), readable, of a sane size.
fn read_named(key: Key, path: &Path) -> Result<Vec<u8>, TlsError> {
    let err = |reason: String| TlsError {
        key,
        path: path.to_path_buf(),
        reason,
    };
    let meta = std::fs::metadata(path).map_err(|e| err(format!("it cannot be read: {e}")))?;
    if !meta.is_file() {
        return Err(err("it is not a regular file".into()));
    }
    if meta.len() > MAX_FILE {
        return Err(err(format!("it is larger than {MAX_FILE} bytes")));
    }
    std::fs::read(path).map_err(|e| err(format!("it cannot be read: {e}")))
}

/// The certificates of a PEM file, parsed; an error names what is wrong, never the content.
pub(crate) fn parse_certificates(
    pem: &[u8],
) -> Result<Vec<(CertificateDer<'static>, Certificate)>, String> {
    let mut out = Vec::new();
    for (i, der) in CertificateDer::pem_slice_iter(pem).enumerate() {
        let der = der.map_err(|e| format!("its PEM block {} cannot be read ({e})", i + 1))?;
        let cert = Certificate::from_der(der.as_ref())
            .map_err(|e| format!("its certificate {} is not valid X.509 ({e})", i + 1))?;
        out.push((der, cert));
    }
    if out.is_empty() {
        return Err("it holds no PEM certificate (-----BEGIN CERTIFICATE-----)".into());
    }
    Ok(out)
}

/// PEM text of DER certificates.
pub(crate) fn pem_of(certs: &[CertificateDer<'_>]) -> Vec<u8> {
    use base64::Engine as _;
    let mut out = String::new();
    for c in certs {
        out.push_str("-----BEGIN CERTIFICATE-----\n");
        let b64 = base64::engine::general_purpose::STANDARD.encode(c.as_ref());
        for chunk in b64.as_bytes().chunks(64) {
            out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
            out.push('\n');
        }
        out.push_str("-----END CERTIFICATE-----\n");
    }
    out.into_bytes()
}

/// The root certificate(s) of the ACME CA (`acme-ca-root`), checked: PEM certificates, none
/// expired. Only the certificates are kept (whatever else the file holds is not copied).
pub(crate) fn acme_ca_root(path: &Path, now: SystemTime) -> Result<Vec<u8>, TlsError> {
    let key = Key::AcmeCaRoot;
    ca_certificates(key, path, &read_named(key, path)?, now)
}

/// The certificates of a CA file's `pem`, none expired, as PEM (nothing else of the file).
fn ca_certificates(
    key: Key,
    path: &Path,
    pem: &[u8],
    now: SystemTime,
) -> Result<Vec<u8>, TlsError> {
    let err = |reason: String| TlsError {
        key,
        path: path.to_path_buf(),
        reason,
    };
    let certs = parse_certificates(pem).map_err(err)?;
    for (_, c) in &certs {
        let info = CertInfo::of(c);
        if info.expired(now) {
            return Err(err(format!(
                "its certificate {} expired on {}",
                info.subject,
                info.not_after_text()
            )));
        }
    }
    let ders: Vec<_> = certs.into_iter().map(|(d, _)| d).collect();
    Ok(pem_of(&ders))
}

/// Reads a file that must not be a symbolic link (mathesarctl runs as root and did not create
/// it): opened with `O_NOFOLLOW`, then judged on the open file (a regular file, a sane size), so
/// that nothing can be swapped between the check and the read.
fn read_no_link(key: Key, path: &Path) -> Result<Vec<u8>, TlsError> {
    use std::io::Read as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let err = |reason: String| TlsError {
        key,
        path: path.to_path_buf(),
        reason,
    };
    let file = std::fs::OpenOptions::new()
        .read(true)
        // O_NONBLOCK: a FIFO put there does not hang the run.
        .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_CLOEXEC | nix::libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            Some(nix::libc::ELOOP) => err("it is a symbolic link; name the file itself".into()),
            _ => err(format!("it cannot be read: {e}")),
        })?;
    let meta = file
        .metadata()
        .map_err(|e| err(format!("it cannot be read: {e}")))?;
    if !meta.is_file() {
        return Err(err("it is not a regular file".into()));
    }
    if meta.len() > MAX_FILE {
        return Err(err(format!("it is larger than {MAX_FILE} bytes")));
    }
    let mut pem = Vec::new();
    file.take(MAX_FILE + 1)
        .read_to_end(&mut pem)
        .map_err(|e| err(format!("it cannot be read: {e}")))?;
    Ok(pem)
}

/// The CA certificate(s) the PostgreSQL servers' certificates are verified against
/// (`db-ca-file`): a regular file, not a symbolic link, readable, PEM certificates none expired.
/// Only the certificates are kept (what else the file holds is not copied).
pub(crate) fn db_ca(path: &Path, now: SystemTime) -> Result<Vec<u8>, TlsError> {
    let key = Key::DbCaFile;
    ca_certificates(key, path, &read_no_link(key, path)?, now)
}

/// The trust anchors of `db-ca-file` for rustls, read and checked as [`db_ca`] does.
pub(crate) fn db_ca_roots(path: &Path, now: SystemTime) -> Result<rustls::RootCertStore, TlsError> {
    let pem = db_ca(path, now)?;
    let mut roots = rustls::RootCertStore::empty();
    for der in CertificateDer::pem_slice_iter(&pem).flatten() {
        roots.add(der).map_err(|e| TlsError {
            key: Key::DbCaFile,
            path: path.to_path_buf(),
            reason: format!("a certificate cannot be used as a trust anchor ({e})"),
        })?;
    }
    Ok(roots)
}

/// Whether a certificate's DNS name (`*.example.org` covers one label) covers `domain`.
pub(crate) fn covers(name: &str, domain: &str) -> bool {
    let (name, domain) = (name.to_ascii_lowercase(), domain.to_ascii_lowercase());
    match name.strip_prefix("*.") {
        Some(suffix) => domain
            .split_once('.')
            .is_some_and(|(label, rest)| !label.is_empty() && rest == suffix),
        None => name == domain,
    }
}

/// PEM text of a private key, under the label of its format.
fn key_pem(key: &PrivateKeyDer<'_>) -> Vec<u8> {
    use base64::Engine as _;
    let (label, der) = match key {
        PrivateKeyDer::Pkcs1(k) => ("RSA PRIVATE KEY", k.secret_pkcs1_der()),
        PrivateKeyDer::Sec1(k) => ("EC PRIVATE KEY", k.secret_sec1_der()),
        PrivateKeyDer::Pkcs8(k) => ("PRIVATE KEY", k.secret_pkcs8_der()),
        _ => ("PRIVATE KEY", key.secret_der()),
    };
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out.into_bytes()
}

/// Your own certificate (`tls-cert`: the certificate first, its chain after it) and its key
/// (`tls-key`), checked: both readable, the key the certificate's, the certificate valid now and
/// for `domain`. Returns the two files as the proxy reads them (certificates only; the key alone,
/// root only). A refusal names the answer, the file and what is wrong; never the key.
pub(crate) fn own_certificate(
    cert_path: &Path,
    key_path: &Path,
    domain: &str,
    now: SystemTime,
) -> Result<(Vec<u8>, Vec<u8>), TlsError> {
    let cert_err = |reason: String| TlsError {
        key: Key::TlsCert,
        path: cert_path.to_path_buf(),
        reason,
    };
    let key_err = |reason: String| TlsError {
        key: Key::TlsKey,
        path: key_path.to_path_buf(),
        reason,
    };
    let certs = parse_certificates(&read_named(Key::TlsCert, cert_path)?).map_err(cert_err)?;
    let key_text = read_named(Key::TlsKey, key_path)?;
    let key = PrivateKeyDer::from_pem_slice(&key_text).map_err(|e| {
        key_err(match e {
            rustls::pki_types::pem::Error::NoItemsFound => {
                "it holds no unencrypted PEM private key (-----BEGIN PRIVATE KEY-----, RSA or EC; an encrypted key cannot be used)".into()
            }
            e => format!("its private key cannot be read ({e})"),
        })
    })?;
    let signing = rustls::crypto::ring::sign::any_supported_type(&key).map_err(|_| {
        key_err("its key type is not supported (use RSA, ECDSA P-256/P-384 or Ed25519)".into())
    })?;
    let leaf = CertInfo::of(&certs[0].1);
    let chain: Vec<CertificateDer<'static>> = certs.iter().map(|(d, _)| d.clone()).collect();
    let certified = rustls::sign::CertifiedKey::new(chain.clone(), signing);
    if let Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch)) =
        certified.keys_match()
    {
        return Err(key_err(format!(
            "it is not the key of the certificate in {} ({}): they do not match",
            cert_path.display(),
            leaf.subject
        )));
    }
    if leaf.expired(now) {
        return Err(cert_err(format!(
            "the certificate ({}) expired on {}",
            leaf.subject,
            leaf.not_after_text()
        )));
    }
    if now < UNIX_EPOCH + Duration::from_secs(leaf.not_before) {
        return Err(cert_err(format!(
            "the certificate ({}) is valid only from {}",
            leaf.subject,
            utc_text(leaf.not_before)
        )));
    }
    if !leaf.dns_names.iter().any(|n| covers(n, domain)) {
        let names = if leaf.dns_names.is_empty() {
            "no DNS name".to_string()
        } else {
            leaf.dns_names.join(", ")
        };
        return Err(cert_err(format!(
            "the certificate does not cover the domain {domain}: it names {names}"
        )));
    }
    Ok((pem_of(&chain), key_pem(&key)))
}

/// The files the proxy reads that the answers name, read and checked now.
pub(crate) fn files(
    s: &Settings,
    data: &DataLayout,
    now: SystemTime,
) -> Result<Vec<TlsFile>, TlsError> {
    let mut out = Vec::new();
    if let (Some((cert, key)), Some(domain)) = (s.own_cert(), &s.domain) {
        let (cert_pem, key_pem) = own_certificate(cert, key, domain, now)?;
        out.push(TlsFile {
            path: data.tls_dir().join(TLS_CERT),
            contents: cert_pem,
            mode: modes::PUBLIC_FILE,
            secret: false,
        });
        out.push(TlsFile {
            path: data.tls_dir().join(TLS_KEY),
            contents: key_pem,
            mode: modes::PRIVATE_FILE,
            secret: true,
        });
    }
    if let Some(ca) = s.db_ca() {
        out.push(TlsFile {
            path: data.pg_tls_dir().join(DB_CA),
            contents: db_ca(ca, now)?,
            mode: modes::PUBLIC_FILE,
            secret: false,
        });
    }
    if let Some(root) = s.acme_root() {
        out.push(TlsFile {
            path: data.tls_dir().join(ACME_CA_ROOT),
            contents: acme_ca_root(root, now)?,
            mode: modes::PUBLIC_FILE,
            secret: false,
        });
    }
    Ok(out)
}

/// The certificate the proxy serves the domain with: your own (its copy), or the one it obtained.
pub(crate) fn served(s: &Settings, data: &DataLayout) -> Option<CertInfo> {
    let domain = s.domain.as_deref()?;
    if s.own_cert().is_some() {
        let pem = std::fs::read(data.tls_dir().join(TLS_CERT)).ok()?;
        let certs = parse_certificates(&pem).ok()?;
        return Some(CertInfo::of(&certs[0].1));
    }
    obtained(data, domain)
}

/// The certificate the proxy obtained for `domain` and keeps in its data (`caddy/data`): the
/// one that expires last when several CAs issued one. `None` when there is none (yet).
pub(crate) fn obtained(data: &DataLayout, domain: &str) -> Option<CertInfo> {
    let base = data.caddy_data().join("caddy/certificates");
    let mut best: Option<CertInfo> = None;
    for issuer in std::fs::read_dir(base).ok()?.flatten() {
        let file = issuer.path().join(domain).join(format!("{domain}.crt"));
        let Ok(meta) = std::fs::symlink_metadata(&file) else {
            continue;
        };
        if !meta.is_file() || meta.len() > MAX_FILE {
            continue;
        }
        let Ok(pem) = std::fs::read(&file) else {
            continue;
        };
        let Ok(certs) = parse_certificates(&pem) else {
            continue;
        };
        let info = CertInfo::of(&certs[0].1);
        if best.as_ref().is_none_or(|b| info.not_after > b.not_after) {
            best = Some(info);
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A self-signed certificate for `mathesar.example.org` (and `www.mathesar.example.org`),
    /// valid 2026-12-02 to 2036-11-29, made with openssl for these tests.
    pub(crate) const CERT: &str = include_str!("../tests/fixtures/tls/cert.pem");

    /// `db-ca-file`: a regular file of PEM certificates, read without following a link; only
    /// the certificates are kept.
    #[test]
    fn the_database_ca_file_is_checked_before_it_is_copied() {
        let now = SystemTime::now();
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, format!("a comment\n{CERT}")).unwrap();
        let copy = db_ca(&ca, now).unwrap();
        assert!(
            copy.starts_with(b"-----BEGIN CERTIFICATE-----\n"),
            "only the certificates"
        );
        assert_eq!(db_ca_roots(&ca, now).unwrap().len(), 1);

        let refused = |p: &Path| db_ca(p, now).unwrap_err();
        let link = dir.path().join("link.pem");
        std::os::unix::fs::symlink(&ca, &link).unwrap();
        let e = refused(&link);
        assert!(e.to_string().contains("symbolic link"), "{e}");
        assert_eq!(e.key, Key::DbCaFile);
        assert!(
            refused(dir.path())
                .to_string()
                .contains("not a regular file")
        );
        assert!(
            refused(&dir.path().join("missing"))
                .to_string()
                .contains("cannot be read")
        );
        let key = dir.path().join("key.pem");
        std::fs::write(&key, include_str!("../tests/fixtures/tls/key.pem")).unwrap();
        let e = refused(&key);
        assert!(e.to_string().contains("no PEM certificate"), "{e}");
        assert!(
            !e.to_string().contains("PRIVATE KEY-----\n"),
            "the content is never shown"
        );
        let fifo = dir.path().join("fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
        assert!(refused(&fifo).to_string().contains("not a regular file"));
        // Expired: refused with its date.
        let later = UNIX_EPOCH + Duration::from_secs(2_200_000_000);
        assert!(
            db_ca(&ca, later)
                .unwrap_err()
                .to_string()
                .contains("expired")
        );
    }

    /// The copy goes to the data directory's `pg-tls`, readable by the container (0644), only
    /// when a server in use is verified.
    #[test]
    fn the_database_ca_is_copied_only_when_a_server_is_verified() {
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, CERT).unwrap();
        let ca_text = ca.display().to_string();
        let data = DataLayout::new(dir.path().join("data"));
        let s = crate::settings::for_tests(&[
            (Key::InternalDbHost, "pg.example.org"),
            (Key::InternalDbSslmode, "verify-full"),
            (Key::DbCaFile, &ca_text),
        ]);
        let files = files(&s, &data, SystemTime::now()).unwrap();
        assert_eq!(files.len(), 1);
        assert_eq!(files[0].path, data.pg_tls_dir().join(DB_CA));
        assert_eq!(
            (files[0].mode, files[0].secret),
            (modes::PUBLIC_FILE, false)
        );
        let s = crate::settings::for_tests(&[(Key::InternalDbHost, "pg.example.org")]);
        assert!(
            super::files(&s, &data, SystemTime::now())
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn dates_are_shown_in_utc() {
        assert_eq!(utc_text(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc_text(1_798_761_600), "2027-01-01 00:00:00 UTC");
        assert_eq!(utc_text(951_825_600 + 3661), "2000-02-29 13:01:01 UTC");
    }

    #[test]
    fn a_certificate_is_described() {
        let certs = parse_certificates(CERT.as_bytes()).unwrap();
        assert_eq!(certs.len(), 1);
        let info = CertInfo::of(&certs[0].1);
        assert!(info.subject.contains("CN=mathesar.example.org"), "{info:?}");
        assert_eq!(info.issuer, info.subject);
        assert_eq!(
            info.dns_names,
            ["mathesar.example.org", "www.mathesar.example.org"]
        );
        assert_eq!(info.not_after_text(), "2036-11-29 17:18:17 UTC");
        assert!(!info.expired(UNIX_EPOCH + Duration::from_secs(1_800_000_000)));
        assert!(info.expired(UNIX_EPOCH + Duration::from_secs(2_200_000_000)));
        use x509_cert::der::Encode;
        assert_eq!(certs[0].1.to_der().unwrap(), certs[0].0.as_ref());
        // Written back, it reads the same.
        let again = parse_certificates(&pem_of(&[certs[0].0.clone()])).unwrap();
        assert_eq!(again[0].0, certs[0].0);
    }

    #[test]
    fn what_is_not_a_certificate_is_refused_clearly() {
        for (text, says) in [
            ("", "holds no PEM certificate"),
            ("hello\n", "holds no PEM certificate"),
            (
                "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
                "not valid X.509",
            ),
        ] {
            let e = parse_certificates(text.as_bytes()).unwrap_err();
            assert!(e.contains(says), "{text:?}: {e}");
        }
    }

    #[test]
    fn the_acme_root_is_copied_without_anything_else() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("root.pem");
        std::fs::write(
            &path,
            format!("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n{CERT}"),
        )
        .unwrap();
        let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let copy = acme_ca_root(&path, now).unwrap();
        assert!(!String::from_utf8_lossy(&copy).contains("PRIVATE"));
        assert_eq!(parse_certificates(&copy).unwrap().len(), 1);
        let later = UNIX_EPOCH + Duration::from_secs(2_200_000_000);
        let e = acme_ca_root(&path, later).unwrap_err().to_string();
        assert!(
            e.contains("`acme-ca-root`") && e.contains("expired on 2036-11-29"),
            "{e}"
        );
        let e = acme_ca_root(&dir.path().join("missing.pem"), now)
            .unwrap_err()
            .to_string();
        assert!(e.contains("cannot be read"), "{e}");
        let e = acme_ca_root(dir.path(), now).unwrap_err().to_string();
        assert!(e.contains("not a regular file"), "{e}");
    }

    const KEY: &str = include_str!("../tests/fixtures/tls/key.pem");
    const OTHER_KEY: &str = include_str!("../tests/fixtures/tls/other-key.pem");

    #[test]
    fn names_cover_a_domain_as_browsers_match_them() {
        assert!(covers("mathesar.example.org", "Mathesar.example.org"));
        assert!(covers("*.example.org", "mathesar.example.org"));
        assert!(!covers("*.example.org", "a.b.example.org"));
        assert!(!covers("*.example.org", "example.org"));
        assert!(!covers("example.org", "mathesar.example.org"));
    }

    #[test]
    fn your_own_certificate_is_checked_before_it_is_copied() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key, other) = (
            dir.path().join("cert.pem"),
            dir.path().join("key.pem"),
            dir.path().join("other.pem"),
        );
        std::fs::write(&cert, CERT).unwrap();
        std::fs::write(&key, KEY).unwrap();
        std::fs::write(&other, OTHER_KEY).unwrap();
        let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let (c, k) = own_certificate(&cert, &key, "mathesar.example.org", now).unwrap();
        assert_eq!(parse_certificates(&c).unwrap().len(), 1);
        assert_eq!(
            PrivateKeyDer::from_pem_slice(&k).unwrap().secret_der(),
            PrivateKeyDer::from_pem_slice(KEY.as_bytes())
                .unwrap()
                .secret_der()
        );
        assert!(own_certificate(&cert, &key, "www.mathesar.example.org", now).is_ok());

        let refused = |c: &Path, k: &Path, domain: &str, now| {
            own_certificate(c, k, domain, now).unwrap_err().to_string()
        };
        let e = refused(&cert, &other, "mathesar.example.org", now);
        assert!(e.contains("`tls-key`") && e.contains("do not match"), "{e}");
        let e = refused(&cert, &key, "other.example.org", now);
        assert!(
            e.contains("`tls-cert`")
                && e.contains("does not cover the domain other.example.org")
                && e.contains("mathesar.example.org, www.mathesar.example.org"),
            "{e}"
        );
        let later = UNIX_EPOCH + Duration::from_secs(2_200_000_000);
        let e = refused(&cert, &key, "mathesar.example.org", later);
        assert!(e.contains("expired on 2036-11-29"), "{e}");
        let before = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let e = refused(&cert, &key, "mathesar.example.org", before);
        assert!(e.contains("valid only from 2026-12-02"), "{e}");
        // The key given as the certificate and the other way round.
        let e = refused(&key, &key, "mathesar.example.org", now);
        assert!(
            e.contains("`tls-cert`") && e.contains("no PEM certificate"),
            "{e}"
        );
        let e = refused(&cert, &cert, "mathesar.example.org", now);
        assert!(
            e.contains("`tls-key`") && e.contains("no unencrypted PEM private key"),
            "{e}"
        );
        // Never a byte of a key in a message.
        let secret_line = KEY.lines().nth(1).unwrap();
        for e in [
            refused(&cert, &other, "mathesar.example.org", now),
            refused(&cert, &key, "other.example.org", now),
        ] {
            assert!(!e.contains(secret_line), "{e}");
        }
    }

    #[test]
    fn the_obtained_certificate_is_found_in_the_proxy_data() {
        let dir = tempfile::tempdir().unwrap();
        let data = DataLayout::new(dir.path());
        assert_eq!(obtained(&data, "mathesar.example.org"), None);
        let d = data
            .caddy_data()
            .join("caddy/certificates/ca.example-directory/mathesar.example.org");
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("mathesar.example.org.crt"), CERT).unwrap();
        let info = obtained(&data, "mathesar.example.org").unwrap();
        assert!(info.issuer.contains("mathesar.example.org"));
        assert_eq!(obtained(&data, "other.example.org"), None);
    }
}

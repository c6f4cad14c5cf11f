//! The ACME CA named by `acme-ca`: does its directory answer, over HTTPS trusted as the proxy will
//! trust it (the `acme-ca-root` file, else the system's roots)? A warning, never a failure: the
//! proxy requests the certificate whenever the CA answers (retrying with back-off), and a CA down
//! for a while must not stop an installation. Until a certificate exists, `https://DOMAIN`
//! fails its TLS handshake and `http://` still redirects there: Mathesar is not served over plain
//! HTTP instead (its login would then cross the network unencrypted).

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use super::{Check, Status};
use crate::settings::Settings;

const NAME: &str = "acme-ca";
const TIMEOUT: Duration = Duration::from_secs(5);
/// Where the system's trusted roots are (Debian and derivatives; RPM distributions).
const SYSTEM_ROOTS: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
];

/// Why the directory did not answer as an ACME directory.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Problem {
    /// Name resolution, connection, timeout.
    Unreachable(String),
    /// The TLS handshake failed (an untrusted certificate, most often).
    Tls(String),
    /// It answered, but not with an ACME directory.
    NotAcme(String),
}

/// `(host, port, path)` of an `https://` URL already checked by the answer's rule.
fn split(url: &str) -> Option<(String, u16, String)> {
    let rest = url.strip_prefix("https://")?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let (host, port) = if let Some(b) = authority.strip_prefix('[') {
        let (ip, after) = b.split_once(']')?;
        let port = after.strip_prefix(':').map(str::parse).transpose().ok()?;
        (ip.to_string(), port.unwrap_or(443))
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), p.parse().ok()?),
            None => (authority.to_string(), 443),
        }
    };
    Some((host, port, path.to_string()))
}

fn roots(root_file: Option<&Path>) -> Result<rustls::RootCertStore, Problem> {
    let mut store = rustls::RootCertStore::empty();
    let files: Vec<&Path> = match root_file {
        Some(f) => vec![f],
        None => SYSTEM_ROOTS.iter().map(Path::new).collect(),
    };
    for f in files {
        let Ok(pem) = std::fs::read(f) else { continue };
        if let Ok(certs) = crate::tls::parse_certificates(&pem) {
            for (der, _) in certs {
                let _ = store.add(der);
            }
        }
    }
    if store.is_empty() {
        return Err(Problem::Tls("no trusted root certificate was found".into()));
    }
    Ok(store)
}

/// GET the directory; `Ok` when it is an ACME directory (a JSON object naming `newNonce`).
pub(crate) fn probe(url: &str, root_file: Option<&Path>) -> Result<(), Problem> {
    let (host, port, path) =
        split(url).ok_or_else(|| Problem::NotAcme("the URL cannot be read".into()))?;
    let addrs: Vec<_> = (host.as_str(), port)
        .to_socket_addrs()
        .map_err(|e| Problem::Unreachable(format!("{host} cannot be resolved ({e})")))?
        .collect();
    let mut tcp = None;
    let mut last = String::new();
    for a in addrs {
        match TcpStream::connect_timeout(&a, TIMEOUT) {
            Ok(s) => {
                tcp = Some(s);
                break;
            }
            Err(e) => last = format!("{a}: {e}"),
        }
    }
    let tcp = tcp.ok_or_else(|| Problem::Unreachable(format!("no connection ({last})")))?;
    let _ = tcp.set_read_timeout(Some(TIMEOUT));
    let _ = tcp.set_write_timeout(Some(TIMEOUT));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Problem::Tls(e.to_string()))?
        .with_root_certificates(roots(root_file)?)
        .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from(host.clone())
        .map_err(|e| Problem::Tls(format!("{host}: {e}")))?;
    let conn = rustls::ClientConnection::new(Arc::new(config), name)
        .map_err(|e| Problem::Tls(e.to_string()))?;
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    let host_header = if port == 443 {
        host.clone()
    } else if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {host_header}\r\nUser-Agent: mathesarctl\r\nAccept: application/json\r\nConnection: close\r\n\r\n"
    );
    let io = |e: std::io::Error| match e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
        Some(t) => Problem::Tls(t.to_string()),
        None => Problem::Unreachable(e.to_string()),
    };
    tls.write_all(request.as_bytes()).map_err(io)?;
    let mut body = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match tls.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                body.extend_from_slice(&buf[..n]);
                if body.len() > 64 * 1024 {
                    break;
                }
            }
            // A peer closing without close_notify after its answer is common: keep what came.
            Err(_) if !body.is_empty() => break,
            Err(e) => return Err(io(e)),
        }
    }
    if body.is_empty() {
        return Err(Problem::Unreachable(
            "it closed the connection without an answer".into(),
        ));
    }
    let text = String::from_utf8_lossy(&body);
    let status = text.lines().next().unwrap_or_default().to_string();
    if status.split_whitespace().nth(1) != Some("200") {
        return Err(Problem::NotAcme(format!("it answered `{}`", status.trim())));
    }
    if !text.contains("\"newNonce\"") {
        return Err(Problem::NotAcme(
            "its answer is not an ACME directory (no newNonce)".into(),
        ));
    }
    Ok(())
}

/// The check's wording for a probe's outcome.
pub(crate) fn verdict(s: &Settings, url: &str, outcome: Result<(), Problem>) -> Check {
    let domain = s.domain.as_deref().unwrap_or_default();
    let later = format!(
        "the proxy requests the certificate for {domain} when the CA answers; until then https://{domain} has none and http:// still redirects there (Mathesar is not served unencrypted instead). `mathesarctl status` shows when it has one"
    );
    match outcome {
        Ok(()) => Check::pass(NAME, format!("the ACME directory {url} answers")),
        Err(Problem::Unreachable(why)) => Check::not_ok(
            NAME,
            Status::Warn,
            format!("the ACME CA {url} cannot be reached: {why}"),
            format!("check the URL (`acme-ca`) and the network to it; {later}"),
        ),
        Err(Problem::Tls(why)) => Check::not_ok(
            NAME,
            Status::Warn,
            format!("the ACME CA {url} is not trusted: {why}"),
            format!(
                "set `acme-ca-root` to the PEM file of the root its HTTPS certificate is signed by{}; {later}",
                if s.acme_ca_root.is_some() {
                    " (the one given does not sign it)"
                } else {
                    ""
                }
            ),
        ),
        Err(Problem::NotAcme(why)) => Check::not_ok(
            NAME,
            Status::Warn,
            format!("{url} is not an ACME directory: {why}"),
            format!(
                "`acme-ca` must be the CA's directory URL (its ACME documentation names it); {later}"
            ),
        ),
    }
}

/// The check, when an ACME CA of your own is named; `None` otherwise.
pub(crate) async fn check(s: &Settings) -> Option<Check> {
    let url = s.acme_ca.clone().filter(|_| s.acme())?;
    let root = s.acme_root().map(Path::to_path_buf);
    let probe_url = url.clone();
    let outcome = tokio::task::spawn_blocking(move || probe(&probe_url, root.as_deref()))
        .await
        .unwrap_or_else(|e| Err(Problem::Unreachable(e.to_string())));
    Some(verdict(s, &url, outcome))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::Key;

    #[test]
    fn urls_are_split_into_host_port_and_path() {
        assert_eq!(
            split("https://acme.example.org/directory"),
            Some(("acme.example.org".into(), 443, "/directory".into()))
        );
        assert_eq!(
            split("https://172.17.0.1:14000/dir"),
            Some(("172.17.0.1".into(), 14000, "/dir".into()))
        );
        assert_eq!(
            split("https://[2001:db8::1]:8443"),
            Some(("2001:db8::1".into(), 8443, "/".into()))
        );
    }

    #[test]
    fn an_unreachable_ca_is_a_warning_that_says_what_happens_meanwhile() {
        let closed = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let url = format!("https://127.0.0.1:{closed}/dir");
        let s = crate::settings::for_tests(&[
            (Key::Domain, "mathesar.example.org"),
            (Key::AcmeCa, &url),
        ]);
        let outcome = probe(&url, None);
        assert!(
            matches!(outcome, Err(Problem::Unreachable(_))),
            "{outcome:?}"
        );
        let c = verdict(&s, &url, outcome);
        assert_eq!(c.status, Status::Warn);
        assert!(c.detail.contains("cannot be reached"), "{}", c.detail);
        let remedy = c.remedy.unwrap();
        assert!(remedy.contains("http:// still redirects"), "{remedy}");
    }

    #[test]
    fn a_server_that_is_not_a_trusted_acme_ca_is_named_so() {
        // Something that is not TLS at all.
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        std::thread::spawn(move || {
            if let Ok((mut s, _)) = l.accept() {
                let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n");
            }
        });
        let outcome = probe(&format!("https://127.0.0.1:{port}/dir"), None);
        assert!(
            matches!(outcome, Err(Problem::Tls(_)) | Err(Problem::Unreachable(_))),
            "{outcome:?}"
        );
    }
}

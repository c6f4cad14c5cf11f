//! The client against fake servers: what it sends, what it refuses, and what it never sends.

use std::net::IpAddr;
use std::time::Duration;

use super::*;
use crate::settings::for_tests as settings;

/// The existing database's password of these tests (and the preflight's).
pub(crate) const PASSWORD: &str = "Ex1sting-Pa55word-zz";

/// Answers naming an existing database on `host`, user alice.
pub(crate) fn existing(host: &str) -> Settings {
    settings(&[
        (Key::UserDb, "existing"),
        (Key::ExistingDbHost, host),
        (Key::ExistingDbUser, "alice"),
        (Key::ExistingDbPassword, PASSWORD),
    ])
}

fn target(host: &str) -> Target {
    targets(&existing(host)).remove(0)
}

/// What one connection gave.
struct Attempt {
    result: Result<(), ConnectError>,
}

/// One connection as the preflight's check makes it: [`open`], within [`TIMEOUT`], then closed.
async fn attempt(t: &Target, host: &str, source: Option<IpAddr>) -> Attempt {
    let result =
        match tokio::time::timeout(TIMEOUT, open(t, host, source, "mathesarctl-test")).await {
            Ok(Ok((client, driver))) => {
                drop(client);
                let _ = driver.await;
                Ok(())
            }
            Ok(Err(e)) => Err(e),
            Err(_) => Err(ConnectError::Timeout),
        };
    Attempt { result }
}

#[test]
fn targets_follow_the_answers() {
    assert!(targets(&settings(&[])).is_empty());
    let t = targets(&existing("db.example.org"));
    assert_eq!(t.len(), 1);
    assert_eq!(
        (t[0].name, t[0].dbname.as_str(), t[0].user.as_str()),
        ("existing-db", "mathesar", "alice")
    );
    let s = settings(&[
        (Key::InternalDbHost, "127.0.0.1"),
        (Key::InternalDbPort, "5433"),
    ]);
    let t = targets(&s);
    assert_eq!(t.len(), 1);
    assert_eq!(
        (
            t[0].name,
            t[0].dbname.as_str(),
            t[0].user.as_str(),
            t[0].port
        ),
        ("internal-db", "mathesar_django", "mathesar", 5433)
    );
}

/// A fake server: answers the TLS request with `tls_answer` (when one comes), then asks for
/// the password with authentication method `method`. Returns every byte it received.
async fn fake_server(tls_answer: u8, method: i32) -> (u16, tokio::task::JoinHandle<Vec<u8>>) {
    fake_server_asking(tls_answer, vec![method]).await
}

/// [`fake_server`] asking with `methods[i]` on its i-th connection (the last one after).
async fn fake_server_asking(
    tls_answer: u8,
    methods: Vec<i32>,
) -> (u16, tokio::task::JoinHandle<Vec<u8>>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let h = tokio::spawn(async move {
        let mut seen = Vec::new();
        let mut connection = 0;
        // Serves every connection that comes.
        while let Ok(Ok((mut c, _))) =
            tokio::time::timeout(Duration::from_millis(1500), l.accept()).await
        {
            let mut buf = [0u8; 8];
            if c.read_exact(&mut buf).await.is_err() {
                continue;
            }
            seen.extend_from_slice(&buf);
            if buf[4..8] == [0x04, 0xd2, 0x16, 0x2f] {
                c.write_all(&[tls_answer]).await.unwrap();
                if tls_answer == b'S' {
                    let mut hello = vec![0u8; 512];
                    let n = tokio::time::timeout(Duration::from_millis(300), c.read(&mut hello))
                        .await
                        .map(|r| r.unwrap_or(0))
                        .unwrap_or(0);
                    seen.extend_from_slice(&hello[..n]);
                    continue;
                }
            }
            let mut rest = vec![0u8; 512];
            let n = c.read(&mut rest).await.unwrap_or(0);
            seen.extend_from_slice(&rest[..n]);
            let method = methods[connection.min(methods.len() - 1)];
            connection += 1;
            let mut msg = vec![b'R', 0, 0, 0, 8];
            if method == 5 {
                // AuthenticationMD5Password carries a 4-byte salt.
                msg[4] = 12;
            }
            msg.extend_from_slice(&method.to_be_bytes());
            if method == 5 {
                msg.extend_from_slice(&[1, 2, 3, 4]);
            }
            let _ = c.write_all(&msg).await;
            let n = tokio::time::timeout(Duration::from_millis(300), c.read(&mut rest))
                .await
                .map(|r| r.unwrap_or(0))
                .unwrap_or(0);
            seen.extend_from_slice(&rest[..n]);
        }
        seen
    });
    (port, h)
}

fn at_port(port: u16, sslmode: &str) -> Target {
    let mut t = target("127.0.0.1");
    t.port = port;
    t.sslmode = crate::settings::validate::sslmode(sslmode).unwrap();
    t
}

/// A server asking for the password in clear text over a plain connection never gets it.
#[tokio::test]
async fn a_cleartext_password_request_without_tls_is_refused_and_nothing_is_sent() {
    for (tls_answer, mode) in [(b'N', "prefer"), (b'N', "disable")] {
        let (port, server) = fake_server(tls_answer, 3).await;
        let a = attempt(&at_port(port, mode), "127.0.0.1", None).await;
        assert_eq!(a.result, Err(ConnectError::Cleartext), "{mode}");
        let seen = server.await.unwrap();
        assert!(
            !seen
                .windows(PASSWORD.len())
                .any(|w| w == PASSWORD.as_bytes()),
            "the password was sent"
        );
    }
}

/// The check and the real connection are one: a server asking for MD5 first and for the
/// password in clear text on the next connection never gets it in clear text.
#[tokio::test]
async fn a_server_switching_to_cleartext_after_the_check_never_gets_the_password() {
    for mode in ["prefer", "disable"] {
        let (port, server) = fake_server_asking(b'N', vec![5, 3]).await;
        let _ = attempt(&at_port(port, mode), "127.0.0.1", None).await;
        let seen = server.await.unwrap();
        assert!(
            !seen
                .windows(PASSWORD.len())
                .any(|w| w == PASSWORD.as_bytes()),
            "{mode}: the password was sent in clear text"
        );
    }
}

#[tokio::test]
async fn require_refuses_a_server_without_tls_and_prefer_uses_it_when_offered() {
    let (port, _server) = fake_server(b'N', 10).await;
    let a = attempt(&at_port(port, "require"), "127.0.0.1", None).await;
    assert_eq!(a.result, Err(ConnectError::NoTls("require")));

    // Offered: the client goes on with a TLS handshake (the fake server cannot complete it).
    let (port, server) = fake_server(b'S', 3).await;
    let a = attempt(&at_port(port, "prefer"), "127.0.0.1", None).await;
    assert_ne!(a.result, Err(ConnectError::Cleartext));
    let seen = server.await.unwrap();
    assert!(
        !seen
            .windows(PASSWORD.len())
            .any(|w| w == PASSWORD.as_bytes())
    );
    // The second connection opened with a TLS request too, then a ClientHello (0x16).
    assert!(
        seen.windows(2).any(|w| w == [0x16, 0x03]),
        "no TLS handshake"
    );
}

const PG_CA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/tls/pg-ca.pem");
const OTHER_CA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/tls/cert.pem");

/// A PostgreSQL server with TLS (the certificate for `localhost` signed by `pg-ca.pem`) that
/// asks for the password in clear text inside TLS. Returns its port and, per connection,
/// what it read after the handshake.
fn tls_server() -> (u16, std::thread::JoinHandle<Vec<u8>>) {
    use rustls::pki_types::pem::PemObject;
    use std::io::{Read, Write};
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/tls");
    let certs: Vec<_> =
        rustls::pki_types::CertificateDer::pem_file_iter(format!("{dir}/pg-server.pem"))
            .unwrap()
            .map(Result::unwrap)
            .collect();
    let key = rustls::pki_types::PrivateKeyDer::from_pem_file(format!("{dir}/pg-server-key.pem"))
        .unwrap();
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = std::sync::Arc::new(
        rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap(),
    );
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let h = std::thread::spawn(move || {
        let mut seen = Vec::new();
        let mut c = l.accept().unwrap().0;
        c.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
        let mut req = [0u8; 8];
        c.read_exact(&mut req).unwrap();
        c.write_all(b"S").unwrap();
        let conn = rustls::ServerConnection::new(config).unwrap();
        let mut tls = rustls::StreamOwned::new(conn, c);
        let mut buf = [0u8; 512];
        // The startup message (a refused certificate ends the connection here).
        let Ok(n) = tls.read(&mut buf) else {
            return seen;
        };
        seen.extend_from_slice(&buf[..n]);
        let _ = tls.write_all(&[b'R', 0, 0, 0, 8, 0, 0, 0, 3]);
        let _ = tls.flush();
        while let Ok(n) = tls.read(&mut buf) {
            if n == 0 {
                break;
            }
            seen.extend_from_slice(&buf[..n]);
        }
        seen
    });
    (port, h)
}

/// `verify-full` takes the server whose certificate the CA signed for the host name
/// connected to, and nothing else; `verify-ca` takes it under any name; neither takes a
/// certificate of another CA. The server got through asks for the password in clear text
/// inside TLS: refused there too.
#[tokio::test]
async fn the_verifying_modes_check_the_ca_and_the_host_name() {
    for (mode, host, ca, accepted) in [
        ("verify-full", "localhost", PG_CA, true),
        ("verify-full", "127.0.0.1", PG_CA, false),
        ("verify-ca", "127.0.0.1", PG_CA, true),
        ("verify-ca", "localhost", OTHER_CA, false),
        ("verify-full", "localhost", OTHER_CA, false),
        // Encrypted, nothing verified: any certificate is taken.
        ("require", "127.0.0.1", OTHER_CA, true),
    ] {
        let (port, server) = tls_server();
        let mut t = at_port(port, mode);
        t.host = host.into();
        t.ca = Some(ca.into());
        let a = attempt(&t, host, None).await;
        let seen = tokio::task::spawn_blocking(move || server.join().unwrap())
            .await
            .unwrap();
        if accepted {
            assert_eq!(a.result, Err(ConnectError::Cleartext), "{mode} {host}");
        } else {
            assert!(
                matches!(a.result, Err(ConnectError::Certificate(_))),
                "{mode} {host} {ca}: {:?}",
                a.result
            );
            assert!(seen.is_empty(), "{mode}: the startup message was sent");
        }
        assert!(
            !seen
                .windows(PASSWORD.len())
                .any(|w| w == PASSWORD.as_bytes()),
            "{mode}: the password was sent"
        );
    }
}

/// A verifying mode without a usable CA file connects to nothing.
#[tokio::test]
async fn a_verifying_mode_without_a_usable_ca_sends_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("ca.pem");
    std::os::unix::fs::symlink(PG_CA, &link).unwrap();
    for ca in [None, Some(link), Some(dir.path().join("missing.pem"))] {
        let (port, server) = fake_server(b'S', 3).await;
        let mut t = at_port(port, "verify-full");
        t.ca = ca.clone();
        let a = attempt(&t, "127.0.0.1", None).await;
        assert!(
            matches!(a.result, Err(ConnectError::Ca(_))),
            "{ca:?}: {:?}",
            a.result
        );
        assert!(
            server.await.unwrap().is_empty(),
            "{ca:?}: something was sent"
        );
    }
}

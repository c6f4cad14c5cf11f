//! The PostgreSQL servers named in the answers: a real connection, as the containers will make it.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use postgres_protocol::message::frontend;
use thiserror::Error;
use tokio::net::{TcpSocket, TcpStream};
use tokio_postgres::Config;
use tokio_postgres::config::SslMode as PgSslMode;
use tokio_postgres::error::SqlState;
use tokio_postgres::tls::MakeTlsConnect;
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::settings::validate::SslMode;

use super::docker::Bridge;
use super::{Check, Options, Status};
use crate::secrets::Secret;
use crate::settings::validate::is_loopback_host;
use crate::settings::{DOCKER_HOST_GATEWAY, Key, Settings};
use crate::stack::engine::PROJECT_NETWORK;

const TIMEOUT: Duration = Duration::from_secs(5);
/// The oldest PostgreSQL Mathesar supports.
pub const MIN_SERVER_MAJOR: u32 = 13;
/// Docker's default address pools for bridge networks (172.17.0.0/16 to 172.31.0.0/16): where a
/// compose network not created yet will get its subnet.
const DOCKER_DEFAULT_POOL: &str = "172.16.0.0/12";

/// One database to reach, and the answers that choose it (named in remedies).
#[derive(Clone, Debug)]
pub struct Target {
    pub name: &'static str,
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: Secret,
    pub dbname: String,
    pub sslmode: SslMode,
    /// `db-ca-file`, which the verifying sslmodes check the server's certificate against.
    pub ca: Option<std::path::PathBuf>,
    pub keys: Keys,
}

#[derive(Clone, Copy, Debug)]
pub struct Keys {
    pub host: Key,
    pub port: Key,
    pub user: Key,
    pub password: Key,
    pub dbname: Key,
}

impl Target {
    /// The answer choosing this server's sslmode.
    pub fn sslmode_key(&self) -> Key {
        if self.keys.host == Key::InternalDbHost {
            Key::InternalDbSslmode
        } else {
            Key::ExistingDbSslmode
        }
    }
}

pub fn targets(s: &Settings) -> Vec<Target> {
    let mut out = Vec::new();
    if let Some(e) = &s.existing_db {
        out.push(Target {
            name: "existing-db",
            host: e.host.clone(),
            port: e.port,
            user: e.user.clone(),
            password: e.password.clone(),
            dbname: s.user_db_name.clone(),
            sslmode: e.sslmode,
            ca: s.db_ca_file.clone(),
            keys: Keys {
                host: Key::ExistingDbHost,
                port: Key::ExistingDbPort,
                user: Key::ExistingDbUser,
                password: Key::ExistingDbPassword,
                dbname: Key::UserDbName,
            },
        });
    }
    if let Some(host) = &s.internal_db_host {
        out.push(Target {
            name: "internal-db",
            host: host.clone(),
            port: s.internal_db_port,
            user: s.db_user.clone(),
            password: s.db_password.clone(),
            dbname: s.internal_db_name.clone(),
            sslmode: s.internal_db_sslmode,
            ca: s.db_ca_file.clone(),
            keys: Keys {
                host: Key::InternalDbHost,
                port: Key::InternalDbPort,
                user: Key::DbUser,
                password: Key::DbPassword,
                dbname: Key::InternalDbName,
            },
        });
    }
    out
}

/// Mathesar's own database when it is on a server outside the host (`internal-db-host`).
pub fn internal_target(s: &Settings) -> Option<Target> {
    targets(s).into_iter().find(|t| t.name == "internal-db")
}

/// Why a connection did not give a server version. Never carries the password.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum ConnectError {
    #[error("connection refused: nothing listens there")]
    Refused,
    #[error("no answer within {} s", TIMEOUT.as_secs())]
    Timeout,
    #[error("{0}")]
    Unreachable(String),
    #[error("{0}")]
    Auth(String),
    #[error("the server's pg_hba.conf refuses this client ({0})")]
    Hba(String),
    #[error("the database does not exist ({0})")]
    NoDatabase(String),
    #[error(
        "the server asks for the password in clear text; it was not sent (mathesarctl never sends a password in clear text, with or without TLS)"
    )]
    Cleartext,
    #[error("the server does not offer TLS, which `{0}` needs")]
    NoTls(&'static str),
    #[error("the server's certificate is refused: {0}")]
    Certificate(String),
    #[error("{0}")]
    Ca(String),
    #[error("{0}")]
    Other(String),
}

/// What the server said about itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Server {
    /// `server_version`, e.g. "16.4 (Debian 16.4-1.pgdg120+1)".
    pub version: String,
    /// `server_version_num`, e.g. 160004.
    pub version_num: u32,
    /// The address the server saw this connection come from.
    pub client_addr: Option<IpAddr>,
}

/// One attempt at one address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attempt {
    pub host: String,
    pub result: Result<Server, ConnectError>,
}

/// How the containers will reach the server, and what was tried.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    /// A host the containers use as given.
    Direct(Attempt),
    /// A loopback host: containers use `host.docker.internal`, the default bridge's gateway.
    Gateway {
        gateway: IpAddr,
        subnet: Option<String>,
        via: Attempt,
        local: Attempt,
    },
    /// A loopback host, with the gateway unknown (no Docker Engine to ask).
    LocalOnly(Attempt),
}

pub async fn check(s: &Settings, opts: &Options, bridge: Option<&Bridge>) -> Vec<Check> {
    let checks = targets(s).into_iter().map(|t| async move {
        let route = route(&t, bridge).await;
        verdict(&t, &route, opts)
    });
    futures_util::future::join_all(checks).await
}

async fn route(t: &Target, bridge: Option<&Bridge>) -> Route {
    if !is_loopback_host(&t.host) {
        return Route::Direct(attempt(t, &t.host, None).await);
    }
    match bridge {
        None => Route::LocalOnly(attempt(t, &t.host, None).await),
        Some(b) => {
            let gw = b.gateway.to_string();
            let (via, local) = tokio::join!(
                attempt(t, &gw, Some(b.test_source())),
                attempt(t, &t.host, None)
            );
            Route::Gateway {
                gateway: b.gateway,
                subnet: b.project.as_ref().map(|p| p.subnet.clone()),
                via,
                local,
            }
        }
    }
}

async fn attempt(t: &Target, host: &str, source: Option<IpAddr>) -> Attempt {
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let result = match tokio::time::timeout(TIMEOUT, connect(t, &host, source)).await {
        Ok(r) => r,
        Err(_) => Err(ConnectError::Timeout),
    };
    Attempt { host, result }
}

/// Connects as the containers will, reads the server version, and disconnects. TLS follows
/// the target's sslmode (libpq's meaning; the certificate is not verified, as with libpq's
/// `prefer` and `require`). The password goes to the server only, never to a command line or a
/// log, and never in clear text, with or without TLS: [`NoCleartext`] watches the server's messages.
///
/// With a `source`, the connection leaves from that host address, so that pg_hba.conf judges
/// it as it will judge the containers (whose subnet the source belongs to), not by whatever
/// address the host would pick on its own.
async fn connect(t: &Target, host: &str, source: Option<IpAddr>) -> Result<Server, ConnectError> {
    let (client, driver) = open(t, host, source, "mathesarctl-preflight").await?;
    let row = client
        .query_one(
            "SELECT current_setting('server_version'), current_setting('server_version_num'), \
             host(inet_client_addr())",
            &[],
        )
        .await
        .map_err(classify)?;
    drop(client);
    let _ = driver.await;
    let version: String = row.get(0);
    let num: String = row.get(1);
    Ok(Server {
        version,
        version_num: num.trim().parse().unwrap_or(0),
        client_addr: row.get::<_, Option<String>>(2).and_then(|a| a.parse().ok()),
    })
}

/// A session with the server as [`connect`] opens it (one connection, TLS per the
/// target's sslmode), kept by the caller: the connection is driven by the returned task, which
/// ends when the client is dropped. `application` is what `pg_stat_activity` shows.
pub async fn open(
    t: &Target,
    host: &str,
    source: Option<IpAddr>,
    application: &str,
) -> Result<(tokio_postgres::Client, tokio::task::JoinHandle<()>), ConnectError> {
    let mut cfg = Config::new();
    cfg.host(host)
        .port(t.port)
        .user(&t.user)
        .password(t.password.expose())
        .dbname(&t.dbname)
        .application_name(application)
        .connect_timeout(TIMEOUT)
        // TLS is negotiated below, before tokio-postgres sees the stream.
        .ssl_mode(PgSslMode::Disable);
    let stream = match source.zip(host.parse::<IpAddr>().ok()) {
        Some((from, to)) => tcp_from(from, SocketAddr::new(to, t.port)).await,
        None => TcpStream::connect((host, t.port)).await,
    }
    .map_err(|e| io_error(&e))?;
    // One connection, TLS negotiated here per the sslmode, then every message of the server
    // seen before tokio-postgres answers it: a request for the password in clear text ends the
    // connection before the password is sent, on this very connection, with or without TLS.
    let stream = negotiate(stream, t, host).await?;
    let refused = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let guarded = NoCleartext::new(stream, refused.clone());
    let (client, connection) = match cfg.connect_raw(guarded, tokio_postgres::NoTls).await {
        Ok(c) => c,
        Err(_) if refused.load(std::sync::atomic::Ordering::SeqCst) => {
            return Err(ConnectError::Cleartext);
        }
        Err(e) => return Err(classify(e)),
    };
    let driver = tokio::spawn(async move { drop(connection.await) });
    Ok((client, driver))
}

/// Any stream a connection runs on (plain TCP, or TLS over it).
trait Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin> Io for T {}

/// The TLS request per the sslmode (`disable`: none; `prefer`: TLS when offered; the others: a
/// server without it refused), and the handshake when the server accepts, the certificate checked
/// per the sslmode ([`tls_config`]).
async fn negotiate(
    mut stream: TcpStream,
    t: &Target,
    host: &str,
) -> Result<Box<dyn Io>, ConnectError> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    if t.sslmode == SslMode::Disable {
        return Ok(Box::new(stream));
    }
    // The CA is read before anything is sent: a wrong file is the answer's fault, not the server's.
    let config = tls_config(t)?;
    let mut buf = bytes::BytesMut::new();
    frontend::ssl_request(&mut buf);
    stream.write_all(&buf).await.map_err(|e| io_error(&e))?;
    match stream.read_u8().await.map_err(|e| io_error(&e))? {
        b'S' => {
            let mut tls = MakeRustlsConnect::new(config);
            let connector =
                <MakeRustlsConnect as MakeTlsConnect<TcpStream>>::make_tls_connect(&mut tls, host)
                    .map_err(|e| ConnectError::Other(e.to_string()))?;
            let tls = tokio_postgres::tls::TlsConnect::connect(connector, stream)
                .await
                .map_err(|e| handshake_error(&e))?;
            Ok(Box::new(tls))
        }
        b'N' if t.sslmode != SslMode::Prefer => Err(ConnectError::NoTls(t.sslmode.as_str())),
        b'N' => Ok(Box::new(stream)),
        _ => Err(ConnectError::Other(
            "the server answered the TLS request with an error (PostgreSQL older than 7.3?)".into(),
        )),
    }
}

/// A failed handshake: a certificate the sslmode refuses is named as such.
fn handshake_error(e: &(dyn std::error::Error + 'static)) -> ConnectError {
    let mut source = Some(e);
    while let Some(s) = source {
        if let Some(rustls::Error::InvalidCertificate(c)) = s.downcast_ref::<rustls::Error>() {
            return ConnectError::Certificate(format!("{c:?}"));
        }
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            if let Some(rustls::Error::InvalidCertificate(c)) =
                io.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>())
            {
                return ConnectError::Certificate(format!("{c:?}"));
            }
        }
        source = s.source();
    }
    ConnectError::Other(format!("the TLS handshake failed: {e}"))
}

/// Reads the server's messages on their way to tokio-postgres until authentication is over, and
/// ends the connection (an I/O error, `refused` set) at an `AuthenticationCleartextPassword`
/// request, before tokio-postgres could answer it with the password.
struct NoCleartext {
    inner: Box<dyn Io>,
    refused: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// The current message's tag and length bytes, and for an `R` its method's.
    head: Vec<u8>,
    /// Bytes of the current message's body still to pass after `head`.
    rest: usize,
    /// Authentication is over (AuthenticationOk or any other message): nothing more to look at.
    done: bool,
}

impl NoCleartext {
    fn new(inner: Box<dyn Io>, refused: std::sync::Arc<std::sync::atomic::AtomicBool>) -> Self {
        NoCleartext {
            inner,
            refused,
            head: Vec::with_capacity(9),
            rest: 0,
            done: false,
        }
    }

    /// Looks at bytes the server sent; `Err` at a clear-text password request.
    fn look(&mut self, mut bytes: &[u8]) -> std::io::Result<()> {
        while !self.done && !bytes.is_empty() {
            if self.rest > 0 {
                let n = self.rest.min(bytes.len());
                self.rest -= n;
                bytes = &bytes[n..];
                continue;
            }
            // Tag (1), length (4), and for `R` the method (4): that much judges a message.
            let want = |head: &[u8]| if head.first() == Some(&b'R') { 9 } else { 5 };
            while self.head.len() < want(&self.head) && !bytes.is_empty() {
                self.head.push(bytes[0]);
                bytes = &bytes[1..];
            }
            if self.head.len() < want(&self.head) {
                return Ok(());
            }
            let len = i32::from_be_bytes([self.head[1], self.head[2], self.head[3], self.head[4]]);
            let body = usize::try_from(len).unwrap_or(0).saturating_sub(4);
            if self.head[0] == b'R' {
                let method =
                    i32::from_be_bytes([self.head[5], self.head[6], self.head[7], self.head[8]]);
                if method == 3 {
                    self.refused
                        .store(true, std::sync::atomic::Ordering::SeqCst);
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::PermissionDenied,
                        ConnectError::Cleartext.to_string(),
                    ));
                }
                // AuthenticationOk: the password exchange is over.
                self.done = method == 0;
                self.rest = body.saturating_sub(4);
            } else {
                // An error ends the connection; anything else (a protocol negotiation, a notice)
                // is passed and the watch goes on.
                self.done = self.head[0] == b'E';
                self.rest = body;
            }
            self.head.clear();
        }
        Ok(())
    }
}

impl tokio::io::AsyncRead for NoCleartext {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let this = &mut *self;
        match std::pin::Pin::new(&mut this.inner).poll_read(cx, buf) {
            std::task::Poll::Ready(Ok(())) => {
                let new = buf.filled()[before..].to_vec();
                if let Err(e) = this.look(&new) {
                    // Nothing of the request reaches tokio-postgres.
                    buf.set_filled(before);
                    return std::task::Poll::Ready(Err(e));
                }
                std::task::Poll::Ready(Ok(()))
            }
            other => other,
        }
    }
}

impl tokio::io::AsyncWrite for NoCleartext {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// TLS per the sslmode, as libpq does it: `prefer` and `require` encrypt without verifying the
/// certificate; `verify-ca` checks that it is signed by the CA of `db-ca-file`; `verify-full`
/// also that it names the host connected to.
fn tls_config(t: &Target) -> Result<rustls::ClientConfig, ConnectError> {
    use std::sync::Arc;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap_or_else(|_| {
            rustls::ClientConfig::builder_with_provider(provider.clone())
                .with_protocol_versions(rustls::DEFAULT_VERSIONS)
                .expect("the ring provider supports the default versions")
        });
    let verifier: Arc<dyn rustls::client::danger::ServerCertVerifier> = if t.sslmode.verifies() {
        let Some(ca) = &t.ca else {
            return Err(ConnectError::Ca(format!(
                "{} needs `db-ca-file`, which is empty",
                t.sslmode.as_str()
            )));
        };
        let roots = crate::tls::db_ca_roots(ca, std::time::SystemTime::now())
            .map_err(|e| ConnectError::Ca(e.to_string()))?;
        let webpki =
            rustls::client::WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| ConnectError::Ca(format!("`db-ca-file` cannot be used: {e}")))?;
        match t.sslmode {
            SslMode::VerifyFull => webpki,
            _ => Arc::new(AnyName(webpki)),
        }
    } else {
        Arc::new(EncryptOnly(provider))
    };
    Ok(builder
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth())
}

/// `verify-ca`: the chain checked against the CA as `verify-full` checks it, the host name not.
/// rustls' verifier checks the name last, after the chain, so a name mismatch means the chain
/// was good.
#[derive(Debug)]
struct AnyName(std::sync::Arc<rustls::client::WebPkiServerVerifier>);

impl rustls::client::danger::ServerCertVerifier for AnyName {
    fn verify_server_cert(
        &self,
        end_entity: &rustls::pki_types::CertificateDer<'_>,
        intermediates: &[rustls::pki_types::CertificateDer<'_>],
        server_name: &rustls::pki_types::ServerName<'_>,
        ocsp_response: &[u8],
        now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        use rustls::CertificateError::{NotValidForName, NotValidForNameContext};
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                NotValidForName | NotValidForNameContext { .. },
            )) => Ok(rustls::client::danger::ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// Accepts any certificate, but checks the handshake signatures: the connection is encrypted,
/// the server's identity is not proven (libpq `prefer`/`require`).
#[derive(Debug)]
struct EncryptOnly(std::sync::Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for EncryptOnly {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

async fn tcp_from(from: IpAddr, to: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = if from.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.bind(SocketAddr::new(from, 0))?;
    socket.connect(to).await
}

fn io_error(e: &std::io::Error) -> ConnectError {
    match e.kind() {
        std::io::ErrorKind::ConnectionRefused => ConnectError::Refused,
        std::io::ErrorKind::TimedOut => ConnectError::Timeout,
        _ => ConnectError::Unreachable(e.to_string()),
    }
}

pub fn classify(e: tokio_postgres::Error) -> ConnectError {
    if let Some(db) = e.as_db_error() {
        let msg = db.message().to_string();
        let code = db.code();
        return if *code == SqlState::INVALID_PASSWORD {
            ConnectError::Auth(msg)
        } else if *code == SqlState::INVALID_AUTHORIZATION_SPECIFICATION {
            // 28000 covers both a pg_hba.conf refusal and an unknown role.
            if msg.contains("pg_hba.conf") {
                ConnectError::Hba(msg)
            } else {
                ConnectError::Auth(msg)
            }
        } else if *code == SqlState::INVALID_CATALOG_NAME {
            ConnectError::NoDatabase(msg)
        } else {
            ConnectError::Other(msg)
        };
    }
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            return io_error(io);
        }
        source = s.source();
    }
    ConnectError::Other(e.to_string())
}

fn major(num: u32) -> u32 {
    num / 10_000
}

/// "localhost:5432", "[::1]:5432".
fn describe(t: &Target, host: &str) -> String {
    if host.contains(':') {
        format!("[{host}]:{}", t.port)
    } else {
        format!("{host}:{}", t.port)
    }
}

fn ways(key: Key, example: &str) -> String {
    format!(
        "{}={example} / `{key}: {example}` / dpkg-reconfigure mathesar",
        key.env_var()
    )
}

fn connected(t: &Target, server: &Server, where_: String) -> Check {
    let major = major(server.version_num);
    if server.version_num != 0 && major < MIN_SERVER_MAJOR {
        return Check::not_ok(
            t.name,
            Status::Warn,
            format!(
                "PostgreSQL {} at {where_}: Mathesar supports PostgreSQL {MIN_SERVER_MAJOR} and later",
                server.version
            ),
            format!("upgrade the server to PostgreSQL {MIN_SERVER_MAJOR} or later"),
        );
    }
    Check::pass(
        t.name,
        format!(
            "PostgreSQL {} at {where_}, database {} as user {}",
            server.version, t.dbname, t.user
        ),
    )
}

/// What a refusal means and how to fix it, for refusals that are the same on every route.
fn refused(t: &Target, e: &ConnectError, at: &str, opts: &Options) -> Option<Check> {
    let k = t.keys;
    Some(match e {
        ConnectError::Auth(_) => Check::not_ok(
            t.name,
            Status::Fail,
            format!(
                "PostgreSQL at {at} refused the login of user {} to database {}: {e}",
                t.user, t.dbname
            ),
            format!(
                "check `{}` and `{}` (the password is not shown): {}, or change the role's password on the server (ALTER ROLE {} PASSWORD ...)",
                k.user,
                k.password,
                ways(k.password, "..."),
                t.user
            ),
        ),
        ConnectError::NoDatabase(_) => Check::not_ok(
            t.name,
            Status::Fail,
            format!("PostgreSQL at {at}: {e}"),
            format!(
                "create it on the server (CREATE DATABASE {} OWNER {};) or name an existing one in `{}` ({})",
                t.dbname,
                t.user,
                k.dbname,
                ways(k.dbname, &t.dbname)
            ),
        ),
        ConnectError::Cleartext => Check::not_ok(
            t.name,
            Status::Fail,
            format!("PostgreSQL at {at}: {e}"),
            format!(
                "make the server's pg_hba.conf use scram-sha-256 (or md5) instead of password for user {}; \
                 if it does already, something between this host and the server asked for the password: check the network path, \
                 enable TLS on the server (ssl = on in postgresql.conf) and keep the sslmode at prefer or require",
                t.user
            ),
        ),
        ConnectError::NoTls(_) => Check::not_ok(
            t.name,
            Status::Fail,
            format!("PostgreSQL at {at}: {e}"),
            format!(
                "enable TLS on the server (ssl = on in postgresql.conf); `{}` set to prefer connects without it, readable on the network",
                t.sslmode_key()
            ),
        ),
        ConnectError::Certificate(_) => Check::not_ok(
            t.name,
            Status::Fail,
            format!("PostgreSQL at {at}: {e}"),
            format!(
                "`{}` is {}: the server's certificate must be signed by the CA in `db-ca-file`{}; check that file and the server's ssl_cert_file",
                t.sslmode_key(),
                t.sslmode.as_str(),
                if t.sslmode == SslMode::VerifyFull {
                    format!(" and name {}", t.host)
                } else {
                    String::new()
                }
            ),
        ),
        ConnectError::Ca(_) => Check::not_ok(
            t.name,
            Status::Fail,
            format!("PostgreSQL at {at} was not tried: {e}"),
            format!(
                "set `db-ca-file` to the PEM file of the CA that signed the server's certificate ({})",
                ways(Key::DbCaFile, "/etc/ssl/postgres-ca.pem")
            ),
        ),
        ConnectError::Other(_) => Check::not_ok(
            t.name,
            opts.needed(),
            format!("PostgreSQL at {at} failed: {e}"),
            "check the server's log; then run `mathesarctl check` again".to_string(),
        ),
        _ => return None,
    })
}

fn unreachable(t: &Target, e: &ConnectError, at: &str, opts: &Options) -> Check {
    let k = t.keys;
    Check::not_ok(
        t.name,
        opts.needed(),
        format!("cannot reach PostgreSQL at {at}: {e}"),
        format!(
            "start PostgreSQL there, or correct `{}`/`{}` ({}); a firewall must let this host reach port {}",
            k.host,
            k.port,
            ways(k.host, "db.example.org"),
            t.port
        ),
    )
}

/// Whether `ip` lies in `cidr` ("172.16.0.0/12"); false for anything unparsable.
pub fn in_subnet(ip: IpAddr, cidr: &str) -> bool {
    let Some((net, bits)) = cidr.split_once('/') else {
        return false;
    };
    let (Ok(net), Ok(bits)) = (net.parse::<IpAddr>(), bits.parse::<u32>()) else {
        return false;
    };
    match (ip, net) {
        (IpAddr::V4(ip), IpAddr::V4(net)) if bits <= 32 => {
            let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
            u32::from(ip) & mask == u32::from(net) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(net)) if bits <= 128 => {
            let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
            u128::from(ip) & mask == u128::from(net) & mask
        }
        _ => false,
    }
}

/// The client address in a pg_hba.conf refusal: `no pg_hba.conf entry for host "192.0.2.2", ...`.
pub fn hba_client(message: &str) -> Option<IpAddr> {
    let (_, rest) = message.split_once("for host \"")?;
    rest.split_once('"')?.0.parse().ok()
}

/// The pg_hba.conf line admitting the containers.
fn hba_line(t: &Target, subnet: &str) -> String {
    format!("host {} {} {subnet} scram-sha-256", t.dbname, t.user)
}

/// The check of one database from the way it was reached: directly, through Docker's gateway to
/// this host, or on loopback only (no engine to ask for the gateway).
pub fn verdict(t: &Target, route: &Route, opts: &Options) -> Check {
    match route {
        Route::Direct(a) => direct(t, a, opts),
        Route::LocalOnly(a) => local_only(t, a, opts),
        Route::Gateway {
            gateway,
            subnet,
            via,
            local,
        } => through_gateway(
            t,
            &Gateway::new(t, *gateway, subnet.as_deref(), via, local),
            via,
            local,
            opts,
        ),
    }
}

/// A host the containers use as given.
fn direct(t: &Target, a: &Attempt, opts: &Options) -> Check {
    let at = describe(t, &a.host);
    match &a.result {
        Ok(server) => connected(t, server, at),
        Err(e) => refused(t, e, &at, opts).unwrap_or_else(|| match e {
            ConnectError::Hba(_) => Check::not_ok(
                t.name,
                Status::Fail,
                format!("PostgreSQL at {at} refuses this host: {e}"),
                format!(
                    "on the server, add `{}` to pg_hba.conf (with the address the message names as ADDRESS/32), then reload PostgreSQL (SELECT pg_reload_conf();)",
                    hba_line(t, "ADDRESS/32")
                ),
            ),
            _ => unreachable(t, e, &at, opts),
        }),
    }
}

/// A loopback host without the Docker Engine: only the host's own view can be checked.
fn local_only(t: &Target, a: &Attempt, opts: &Options) -> Check {
    let at = describe(t, &a.host);
    match &a.result {
        Ok(server) => Check::not_ok(
            t.name,
            Status::Warn,
            format!(
                "PostgreSQL {} answers on {at}, but the address the containers use ({DOCKER_HOST_GATEWAY}, Docker's bridge gateway) could not be checked without the Docker Engine",
                server.version
            ),
            format!(
                "start Docker and run `mathesarctl check` again; PostgreSQL must listen on the bridge gateway (usually 172.17.0.1) and pg_hba.conf must admit `{}`",
                hba_line(t, DOCKER_DEFAULT_POOL)
            ),
        ),
        Err(e) => refused(t, e, &at, opts).unwrap_or_else(|| unreachable(t, e, &at, opts)),
    }
}

/// What the messages of a loopback host reached through Docker's gateway name.
struct Gateway<'a> {
    gateway: IpAddr,
    /// The subnet the containers connect from, and what it is.
    subnet: &'a str,
    subnet_note: String,
    via_at: String,
    local_at: String,
    gateway_note: String,
}

impl<'a> Gateway<'a> {
    fn new(
        t: &Target,
        gateway: IpAddr,
        subnet: Option<&'a str>,
        via: &Attempt,
        local: &Attempt,
    ) -> Gateway<'a> {
        let (subnet, subnet_note) = match subnet {
            Some(s) => (
                s,
                format!("the subnet of {PROJECT_NETWORK}, where the containers run"),
            ),
            None => (
                DOCKER_DEFAULT_POOL,
                "Docker's default networks; the containers run on the compose network, not on the default bridge".to_string(),
            ),
        };
        Gateway {
            gateway,
            subnet,
            subnet_note,
            via_at: describe(t, &via.host),
            local_at: describe(t, &local.host),
            gateway_note: format!("where the containers reach this host ({DOCKER_HOST_GATEWAY})"),
        }
    }
}

/// A loopback host: the containers reach it through Docker's gateway (`via`); `local` is the
/// host's own connection, which tells a refusal of the login from one of the address.
fn through_gateway(
    t: &Target,
    g: &Gateway,
    via: &Attempt,
    local: &Attempt,
    opts: &Options,
) -> Check {
    let e = match &via.result {
        Ok(server) => return connected_through_gateway(t, g, server),
        Err(e) => e,
    };
    if let ConnectError::Hba(msg) = e {
        return gateway_refused_by_hba(t, g, e, msg, local, opts);
    }
    if let Some(c) = refused(t, e, &g.via_at, opts) {
        return c;
    }
    gateway_unanswered(t, g, e, local, opts)
}

fn connected_through_gateway(t: &Target, g: &Gateway, server: &Server) -> Check {
    let mut c = connected(
        t,
        server,
        format!(
            "{} (containers: {DOCKER_HOST_GATEWAY} = {})",
            g.local_at, g.gateway
        ),
    );
    if let Some(seen) = server.client_addr.filter(|a| !in_subnet(*a, g.subnet)) {
        c.detail.push_str(&format!(
            "; the server saw this test come from {seen} (Docker's NAT), the containers come from {}: pg_hba.conf must admit that too (`{}`)",
            g.subnet,
            hba_line(t, g.subnet)
        ));
    }
    c
}

/// pg_hba.conf refused the test through the gateway.
fn gateway_refused_by_hba(
    t: &Target,
    g: &Gateway,
    e: &ConnectError,
    msg: &str,
    local: &Attempt,
    opts: &Options,
) -> Check {
    let (subnet, subnet_note) = (g.subnet, &g.subnet_note);
    // Docker masquerades the host's own connections from its subnets, so a refusal of an address
    // outside the containers' subnet says nothing about theirs.
    if let Some(seen) = hba_client(msg).filter(|a| !in_subnet(*a, subnet)) {
        let admit = format!(
            "make sure pg_hba.conf admits the containers: `{}` ({subnet}: {subnet_note}), then reload PostgreSQL (systemctl reload postgresql)",
            hba_line(t, subnet)
        );
        if let Err(le) = &local.result {
            if let Some(mut c) = refused(t, le, &g.local_at, opts) {
                if let Some(r) = c.remedy.as_mut() {
                    r.push_str("; then ");
                    r.push_str(&admit);
                }
                return c;
            }
        }
        return Check::not_ok(
            t.name,
            Status::Warn,
            format!(
                "PostgreSQL listens on {}, {}, but its pg_hba.conf refused this host's test connection, seen as {seen} (Docker's NAT rewrites it); whether it admits the containers, from {subnet}, cannot be tested from the host",
                g.via_at, g.gateway_note
            ),
            admit,
        );
    }
    Check::not_ok(
        t.name,
        Status::Fail,
        format!(
            "PostgreSQL at {}, {}, refuses the containers: {e}",
            g.via_at, g.gateway_note
        ),
        format!(
            "add `{}` to pg_hba.conf ({subnet}: {subnet_note}), then reload PostgreSQL (systemctl reload postgresql)",
            hba_line(t, subnet)
        ),
    )
}

/// Nothing answered through the gateway: PostgreSQL listens on loopback only, or a firewall is in
/// between, or the login is refused on loopback too.
fn gateway_unanswered(
    t: &Target,
    g: &Gateway,
    e: &ConnectError,
    local: &Attempt,
    opts: &Options,
) -> Check {
    let (via_at, local_at, gateway_note) = (&g.via_at, &g.local_at, &g.gateway_note);
    let listen = listen_remedy(t, g.gateway, g.subnet, &g.subnet_note);
    match &local.result {
        // Listening on loopback only (or a firewall in between): the usual case.
        Ok(server) => Check::not_ok(
            t.name,
            Status::Fail,
            format!(
                "PostgreSQL {} answers on {local_at} but not on {via_at}, {gateway_note}: {e}",
                server.version
            ),
            listen,
        ),
        Err(le) => match refused(t, le, local_at, opts) {
            // Refused on loopback too: fix the login first, then what the containers need.
            Some(mut c) => {
                c.detail = format!(
                    "{}; and {via_at}, {gateway_note}, does not answer: {e}",
                    c.detail
                );
                if let Some(r) = c.remedy.as_mut() {
                    r.push_str("; then ");
                    r.push_str(&listen);
                }
                c
            }
            None if matches!(le, ConnectError::Hba(_)) => Check::not_ok(
                t.name,
                Status::Fail,
                format!(
                    "PostgreSQL at {local_at} refuses loopback connections ({le}), and {via_at}, {gateway_note}, does not answer: {e}"
                ),
                listen,
            ),
            None => unreachable(t, le, local_at, opts),
        },
    }
}

fn listen_remedy(t: &Target, gateway: IpAddr, subnet: &str, subnet_note: &str) -> String {
    format!(
        "in postgresql.conf set listen_addresses = 'localhost,{gateway}' (or '*'); in pg_hba.conf add `{}` ({subnet}: {subnet_note}); then restart PostgreSQL (systemctl restart postgresql: listen_addresses is read at start only); a firewall must let Docker's networks reach port {}",
        hba_line(t, subnet),
        t.port
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::preflight::tests::settings;

    const START: Options = Options { will_start: true };
    const LATER: Options = Options { will_start: false };
    const PASSWORD: &str = "Ex1sting-Pa55word-zz";

    fn existing(host: &str) -> Settings {
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

    fn server(num: u32) -> Server {
        Server {
            version: format!("{}.4 (Debian)", num / 10_000),
            version_num: num,
            client_addr: None,
        }
    }

    fn at(host: &str, result: Result<Server, ConnectError>) -> Attempt {
        Attempt {
            host: host.into(),
            result,
        }
    }

    fn gateway(via: Result<Server, ConnectError>, local: Result<Server, ConnectError>) -> Route {
        Route::Gateway {
            gateway: "172.17.0.1".parse().unwrap(),
            subnet: None,
            via: at("172.17.0.1", via),
            local: at("localhost", local),
        }
    }

    fn all_text(c: &Check) -> String {
        format!("{} {}", c.detail, c.remedy.clone().unwrap_or_default())
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

    #[test]
    fn a_reachable_server_passes_with_its_version() {
        let t = target("db.example.org");
        let c = verdict(
            &t,
            &Route::Direct(at("db.example.org", Ok(server(160004)))),
            &START,
        );
        assert_eq!(c.status, Status::Pass);
        assert_eq!(
            c.detail,
            "PostgreSQL 16.4 (Debian) at db.example.org:5432, database mathesar as user alice"
        );
        let c = verdict(
            &t,
            &Route::Direct(at("db.example.org", Ok(server(120019)))),
            &START,
        );
        assert_eq!(c.status, Status::Warn);
        assert!(c.detail.contains("PostgreSQL 13 and later"));
    }

    #[test]
    fn loopback_through_the_gateway_passes() {
        let c = verdict(
            &target("localhost"),
            &gateway(Ok(server(170002)), Ok(server(170002))),
            &START,
        );
        assert_eq!(c.status, Status::Pass);
        assert!(
            c.detail.contains("host.docker.internal = 172.17.0.1"),
            "{}",
            c.detail
        );
    }

    #[test]
    fn loopback_only_servers_get_the_listen_and_hba_changes() {
        let c = verdict(
            &target("localhost"),
            &gateway(Err(ConnectError::Refused), Ok(server(160004))),
            &START,
        );
        assert_eq!(c.status, Status::Fail);
        assert!(
            c.detail.contains(
                "answers on localhost:5432 but not on 172.17.0.1:5432, where the containers reach this host (host.docker.internal): connection refused"
            ),
            "{}",
            c.detail
        );
        let r = c.remedy.unwrap();
        assert!(
            r.contains("listen_addresses = 'localhost,172.17.0.1' (or '*')"),
            "{r}"
        );
        assert!(
            r.contains("host mathesar alice 172.16.0.0/12 scram-sha-256"),
            "{r}"
        );
        assert!(r.contains("restart PostgreSQL"), "{r}");
    }

    #[test]
    fn subnets_and_hba_refusals_parse() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(in_subnet(ip("172.25.0.5"), "172.16.0.0/12"));
        assert!(in_subnet(ip("172.25.0.5"), "172.25.0.0/16"));
        assert!(!in_subnet(ip("192.0.2.2"), "172.16.0.0/12"));
        assert!(in_subnet(ip("10.1.2.3"), "0.0.0.0/0"));
        assert!(in_subnet(ip("fd00::5"), "fd00::/64"));
        assert!(!in_subnet(ip("fd00::5"), "172.16.0.0/12"));
        for bad in ["172.16.0.0", "x/12", "172.16.0.0/33", ""] {
            assert!(!in_subnet(ip("172.16.0.1"), bad), "{bad}");
        }
        assert_eq!(
            hba_client(
                "no pg_hba.conf entry for host \"192.0.2.2\", user \"alice\", database \"mathesar\", no encryption"
            ),
            Some(ip("192.0.2.2"))
        );
        assert_eq!(hba_client("no pg_hba.conf entry for replication"), None);
    }

    #[test]
    fn a_refusal_of_the_nated_test_connection_is_inconclusive() {
        let hba = || {
            Err(ConnectError::Hba(
                "no pg_hba.conf entry for host \"192.0.2.2\", user \"alice\"".into(),
            ))
        };
        let c = verdict(
            &target("localhost"),
            &gateway(hba(), Ok(server(160004))),
            &START,
        );
        assert_eq!(c.status, Status::Warn);
        assert!(c.detail.contains("seen as 192.0.2.2"), "{}", c.detail);
        let r = c.remedy.unwrap();
        assert!(
            r.contains("host mathesar alice 172.16.0.0/12 scram-sha-256"),
            "{r}"
        );
        // A wrong password on loopback is still a definite failure.
        let auth = Err(ConnectError::Auth("password authentication failed".into()));
        let c = verdict(&target("localhost"), &gateway(hba(), auth), &START);
        assert_eq!(c.status, Status::Fail);
        assert!(
            c.remedy
                .unwrap()
                .contains("then make sure pg_hba.conf admits")
        );
    }

    #[test]
    fn a_success_seen_from_outside_the_subnet_says_what_else_to_admit() {
        let mut seen = server(160004);
        seen.client_addr = Some("192.0.2.2".parse().unwrap());
        let c = verdict(
            &target("localhost"),
            &gateway(Ok(seen), Ok(server(160004))),
            &START,
        );
        assert_eq!(c.status, Status::Pass);
        assert!(
            c.detail.contains("saw this test come from 192.0.2.2"),
            "{}",
            c.detail
        );
        let mut inside = server(160004);
        inside.client_addr = Some("172.17.0.1".parse().unwrap());
        let c = verdict(
            &target("localhost"),
            &gateway(Ok(inside), Ok(server(160004))),
            &START,
        );
        assert!(!c.detail.contains("saw this test"), "{}", c.detail);
    }

    #[test]
    fn a_gateway_refused_by_pg_hba_names_the_project_subnet() {
        let mut route = gateway(
            Err(ConnectError::Hba(
                "no pg_hba.conf entry for host \"172.18.0.1\"".into(),
            )),
            Ok(server(160004)),
        );
        if let Route::Gateway { subnet, .. } = &mut route {
            *subnet = Some("172.18.0.0/16".into());
        }
        let c = verdict(&target("127.0.0.1"), &route, &START);
        assert_eq!(c.status, Status::Fail);
        let r = c.remedy.unwrap();
        assert!(
            r.contains("host mathesar alice 172.18.0.0/16 scram-sha-256"),
            "{r}"
        );
        assert!(
            r.contains("mathesar_default") && r.contains("reload"),
            "{r}"
        );
    }

    #[test]
    fn refused_logins_fail_whatever_the_route_and_never_show_the_password() {
        let auth = || {
            Err(ConnectError::Auth(
                "password authentication failed for user \"alice\"".into(),
            ))
        };
        for (t, route) in [
            (
                target("db.example.org"),
                Route::Direct(at("db.example.org", auth())),
            ),
            (target("localhost"), gateway(auth(), auth())),
            (
                target("localhost"),
                gateway(Err(ConnectError::Refused), auth()),
            ),
            (
                target("localhost"),
                Route::LocalOnly(at("localhost", auth())),
            ),
        ] {
            for opts in [START, LATER] {
                let c = verdict(&t, &route, &opts);
                assert_eq!(c.status, Status::Fail, "{route:?}");
                let text = all_text(&c);
                assert!(text.contains("refused the login"), "{text}");
                assert!(
                    text.contains("existing-db-password")
                        && text.contains("MATHESAR_EXISTING_DB_PASSWORD"),
                    "{text}"
                );
                assert!(!text.contains(PASSWORD), "{text}");
            }
        }
    }

    #[test]
    fn unreachable_servers_fail_only_when_starting() {
        let t = target("db.example.org");
        let route = Route::Direct(at("db.example.org", Err(ConnectError::Timeout)));
        let c = verdict(&t, &route, &START);
        assert_eq!(c.status, Status::Fail);
        assert!(c.detail.contains("no answer within 5 s"));
        assert!(c.remedy.unwrap().contains("MATHESAR_EXISTING_DB_HOST"));
        assert_eq!(verdict(&t, &route, &LATER).status, Status::Warn);
        let both = gateway(Err(ConnectError::Refused), Err(ConnectError::Refused));
        let c = verdict(&target("localhost"), &both, &START);
        assert!(
            c.detail
                .contains("cannot reach PostgreSQL at localhost:5432"),
            "{}",
            c.detail
        );
    }

    #[test]
    fn a_missing_database_says_how_to_create_it() {
        let t = target("db.example.org");
        let route = Route::Direct(at(
            "db.example.org",
            Err(ConnectError::NoDatabase(
                "database \"mathesar\" does not exist".into(),
            )),
        ));
        let c = verdict(&t, &route, &LATER);
        assert_eq!(c.status, Status::Fail);
        assert!(
            c.remedy
                .unwrap()
                .contains("CREATE DATABASE mathesar OWNER alice;")
        );
    }

    #[test]
    fn without_the_engine_a_loopback_server_is_a_warning() {
        let c = verdict(
            &target("::1"),
            &Route::LocalOnly(at("::1", Ok(server(160004)))),
            &START,
        );
        assert_eq!(c.status, Status::Warn);
        assert!(c.detail.contains("[::1]:5432"), "{}", c.detail);
    }

    /// A real connection attempt to a closed port: refused, quickly, with no password in sight.
    #[tokio::test]
    async fn a_closed_port_is_refused_without_showing_the_password() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        drop(l);
        let s = settings(&[
            (Key::UserDb, "existing"),
            (Key::ExistingDbHost, "127.0.0.1"),
            (Key::ExistingDbPort, &port.to_string()),
            (Key::ExistingDbUser, "alice"),
            (Key::ExistingDbPassword, PASSWORD),
        ]);
        let bridge = Bridge {
            gateway: "127.0.0.1".parse().unwrap(),
            project: None,
        };
        for b in [None, Some(&bridge)] {
            let checks = check(&s, &START, b).await;
            assert_eq!(checks.len(), 1);
            let c = &checks[0];
            assert_eq!(c.status, Status::Fail);
            assert!(c.detail.contains("connection refused"), "{}", c.detail);
            assert!(!all_text(c).contains(PASSWORD));
        }
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
                        let n =
                            tokio::time::timeout(Duration::from_millis(300), c.read(&mut hello))
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
            let c = verdict(&at_port(port, mode), &Route::Direct(a), &START);
            assert_eq!(c.status, Status::Fail);
            assert!(all_text(&c).contains("ssl = on"), "{}", all_text(&c));
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

    /// The watch on the server's messages (also inside TLS): a clear-text request is refused
    /// wherever it falls in the stream, after a protocol negotiation or split across reads;
    /// after AuthenticationOk nothing more is looked at.
    #[test]
    fn the_cleartext_watch_finds_the_request_anywhere_in_the_stream() {
        let flag = || std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let guard = || NoCleartext::new(Box::new(tokio::io::empty()), flag());
        let cleartext = [b'R', 0, 0, 0, 8, 0, 0, 0, 3];
        let mut g = guard();
        assert!(g.look(&cleartext).is_err());
        assert!(g.refused.load(std::sync::atomic::Ordering::SeqCst));
        let mut g = guard();
        for b in cleartext {
            if g.look(&[b]).is_err() {
                break;
            }
        }
        assert!(g.refused.load(std::sync::atomic::Ordering::SeqCst), "split");
        // A NegotiateProtocolVersion ('v', 12 bytes) first, then the request.
        let mut g = guard();
        let mut bytes = vec![b'v', 0, 0, 0, 12, 0, 0, 0, 0, 0, 0, 0, 0];
        bytes.extend_from_slice(&cleartext);
        assert!(g.look(&bytes).is_err());
        // SASL (10, with its mechanism list), SASL final, Ok: passed; then nothing is judged.
        let mut g = guard();
        let mut bytes = vec![b'R', 0, 0, 0, 23, 0, 0, 0, 10];
        bytes.extend_from_slice(b"SCRAM-SHA-256\0\0");
        bytes.extend_from_slice(&[b'R', 0, 0, 0, 8, 0, 0, 0, 0]);
        bytes.extend_from_slice(&cleartext);
        assert!(g.look(&bytes).is_ok());
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
        let key =
            rustls::pki_types::PrivateKeyDer::from_pem_file(format!("{dir}/pg-server-key.pem"))
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
                let c = verdict(&t, &Route::Direct(a), &START);
                assert_eq!(c.status, Status::Fail);
                assert!(all_text(&c).contains("db-ca-file"), "{}", all_text(&c));
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

    #[test]
    fn the_sslmode_answer_is_validated() {
        use crate::settings::validate::{SslMode, sslmode};
        assert_eq!(sslmode("").unwrap(), SslMode::Prefer);
        assert_eq!(sslmode("Require").unwrap(), SslMode::Require);
        assert_eq!(sslmode(" Verify-Full").unwrap(), SslMode::VerifyFull);
        assert_eq!(sslmode("verify-ca").unwrap(), SslMode::VerifyCa);
        assert!(sslmode("verify_full").is_err());
        assert!(sslmode("allow").is_err());
        for m in SslMode::ALL {
            assert_eq!(sslmode(m.as_str()).unwrap(), m);
        }
        let e = Settings::from_answers(&{
            let mut a = crate::sources::defaults::answers(std::path::Path::new("/etc/mathesar"));
            a.set(Key::UserDb, "existing", crate::settings::Source::Default);
            a.set(
                Key::ExistingDbHost,
                "db.example.org",
                crate::settings::Source::Default,
            );
            a.set(
                Key::ExistingDbUser,
                "alice",
                crate::settings::Source::Default,
            );
            a.set(
                Key::ExistingDbPassword,
                PASSWORD,
                crate::settings::Source::Default,
            );
            a.set(
                Key::ExistingDbSslmode,
                "maybe",
                crate::settings::Source::Default,
            );
            a
        })
        .unwrap_err();
        assert!(format!("{e}").contains("existing-db-sslmode"), "{e}");
    }
}

//! The one PostgreSQL client: the connection target built from the answers ([`Target`]), one
//! connection helper ([`open`]: TLS per the sslmode, never a password in clear text), and what a
//! failure means ([`classify`], [`ConnectError`]). Used by the preflight's database checks and the
//! fleet's start lock.

mod cleartext;
mod tls;

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use thiserror::Error;
use tokio::net::{TcpSocket, TcpStream};
use tokio_postgres::Config;
use tokio_postgres::config::SslMode as PgSslMode;
use tokio_postgres::error::SqlState;

use crate::secrets::Secret;
use crate::settings::validate::SslMode;
use crate::settings::{Key, Settings};

use cleartext::NoCleartext;
use tls::negotiate;

/// How long a connection may take.
pub(crate) const TIMEOUT: Duration = Duration::from_secs(5);

/// One database to reach, and the answers that choose it (named in remedies).
#[derive(Clone, Debug)]
pub(crate) struct Target {
    pub(crate) name: &'static str,
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) user: String,
    pub(crate) password: Secret,
    pub(crate) dbname: String,
    pub(crate) sslmode: SslMode,
    /// `db-ca-file`, which the verifying sslmodes check the server's certificate against.
    pub(crate) ca: Option<std::path::PathBuf>,
    pub(crate) keys: Keys,
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct Keys {
    pub(crate) host: Key,
    pub(crate) port: Key,
    pub(crate) user: Key,
    pub(crate) password: Key,
    pub(crate) dbname: Key,
}

impl Target {
    /// The answer choosing this server's sslmode.
    pub(crate) fn sslmode_key(&self) -> Key {
        if self.keys.host == Key::InternalDbHost {
            Key::InternalDbSslmode
        } else {
            Key::ExistingDbSslmode
        }
    }
}

pub(crate) fn targets(s: &Settings) -> Vec<Target> {
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
pub(crate) fn internal_target(s: &Settings) -> Option<Target> {
    targets(s).into_iter().find(|t| t.name == "internal-db")
}

/// Why a connection did not give a server version. Never carries the password.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub(crate) enum ConnectError {
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
pub(crate) struct Server {
    /// `server_version`, e.g. "16.4 (Debian 16.4-1.pgdg120+1)".
    pub(crate) version: String,
    /// `server_version_num`, e.g. 160004.
    pub(crate) version_num: u32,
    /// The address the server saw this connection come from.
    pub(crate) client_addr: Option<IpAddr>,
    /// A standby (`pg_is_in_recovery()`): read-only, e.g. a Patroni replica.
    pub(crate) read_only: bool,
}

/// A session with the server (one connection, TLS per the target's sslmode), kept by the
/// caller: the connection is driven by the returned task, which ends when the client is dropped. `application` is what `pg_stat_activity` shows.
pub(crate) async fn open(
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

pub(crate) fn classify(e: tokio_postgres::Error) -> ConnectError {
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

/// The major version in a `server_version_num` (160004: 16).
pub(crate) fn major(num: u32) -> u32 {
    num / 10_000
}

#[cfg(test)]
pub(crate) mod tests;

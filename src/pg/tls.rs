//! TLS to the server per the sslmode, as libpq does it: the request, the handshake, and the
//! certificate checks (`prefer`/`require`: none; `verify-ca`: the CA; `verify-full`: the CA and
//! the host name).

use postgres_protocol::message::frontend;
use tokio::net::TcpStream;
use tokio_postgres::tls::MakeTlsConnect;
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::settings::validate::SslMode;

use super::{ConnectError, Io, Target, io_error};

/// The TLS request per the sslmode (`disable`: none; `prefer`: TLS when offered; the others: a
/// server without it refused), and the handshake when the server accepts, the certificate checked
/// per the sslmode ([`tls_config`]).
pub(super) async fn negotiate(
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

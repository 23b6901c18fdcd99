//! Opening a PostgreSQL (or PgBouncer admin) connection from a fleet conninfo,
//! with libpq's `sslmode` meaning carried over to rustls:
//! `disable` plain; `prefer`/`require` encrypt without verifying (as libpq does
//! without a root certificate); `verify-ca` checks the chain; `verify-full`
//! checks the chain and the host name. Roots come from `sslrootcert`, else the
//! bundled Mozilla roots.

use std::sync::Arc;
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use tokio_postgres::config::SslMode as PgSslMode;

use super::ProbeError;
use crate::conninfo::{ConnInfo, ResolvedConnInfo, SslMode};

fn env(k: &str) -> Option<String> {
    std::env::var(k).ok()
}

/// Resolves `info` against the environment and the passfile into a client config.
pub fn config(info: &ConnInfo, application_name: &str) -> Result<(tokio_postgres::Config, ResolvedConnInfo), ProbeError> {
    let r = info.resolve(&env).map_err(|e| ProbeError::Connect { address: "?".into(), reason: e.to_string() })?;
    let mut c = tokio_postgres::Config::new();
    c.host(&r.host).port(r.port).dbname(&r.dbname).user(&r.user).application_name(application_name);
    if let Some(t) = r.connect_timeout {
        c.connect_timeout(t);
    }
    let password = r.password(&env).map_err(|e| ProbeError::Connect { address: r.address(), reason: e.to_string() })?;
    if let Some(p) = password {
        c.password(p);
    }
    c.ssl_mode(match r.sslmode {
        SslMode::Disable => PgSslMode::Disable,
        SslMode::Prefer => PgSslMode::Prefer,
        SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => PgSslMode::Require,
    });
    Ok((c, r))
}

/// Connects within `timeout`; the connection task runs on the current runtime
/// and ends when the returned client is dropped.
pub async fn connect(
    info: &ConnInfo,
    application_name: &str,
    timeout: Duration,
) -> Result<(tokio_postgres::Client, ResolvedConnInfo), ProbeError> {
    let (config, resolved) = config(info, application_name)?;
    let address = resolved.address();
    let fail = |e: tokio_postgres::Error| ProbeError::Connect { address: address.clone(), reason: error_text(&e) };
    let attempt = async {
        if resolved.sslmode == SslMode::Disable {
            let (client, conn) = config.connect(tokio_postgres::NoTls).await.map_err(fail)?;
            tokio::spawn(conn);
            Ok(client)
        } else {
            let tls = tokio_postgres_rustls::MakeRustlsConnect::new(tls_config(&resolved)?);
            let (client, conn) = config.connect(tls).await.map_err(fail)?;
            tokio::spawn(conn);
            Ok(client)
        }
    };
    let client = tokio::time::timeout(timeout, attempt).await.map_err(|_| ProbeError::Timeout(timeout))??;
    Ok((client, resolved))
}

/// The server's message when there is one (tokio-postgres' Display hides it behind "db error").
pub fn error_text(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}: {}", db.severity(), db.message()),
        None => {
            let mut s = e.to_string();
            let mut src = std::error::Error::source(e);
            while let Some(inner) = src {
                s.push_str(": ");
                s.push_str(&inner.to_string());
                src = inner.source();
            }
            s
        }
    }
}

fn tls_config(r: &ResolvedConnInfo) -> Result<rustls::ClientConfig, ProbeError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| ProbeError::Connect { address: r.address(), reason: e.to_string() })?;
    let cfg = match r.sslmode {
        SslMode::Disable | SslMode::Prefer | SslMode::Require => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Unverified(provider)))
            .with_no_client_auth(),
        SslMode::VerifyCa | SslMode::VerifyFull => {
            let roots = Arc::new(roots(r)?);
            let webpki = rustls::client::WebPkiServerVerifier::builder_with_provider(roots.clone(), provider)
                .build()
                .map_err(|e| ProbeError::Connect { address: r.address(), reason: e.to_string() })?;
            if r.sslmode == SslMode::VerifyFull {
                builder.with_root_certificates(roots).with_no_client_auth()
            } else {
                builder.dangerous().with_custom_certificate_verifier(Arc::new(ChainOnly(webpki))).with_no_client_auth()
            }
        }
    };
    Ok(cfg)
}

fn roots(r: &ResolvedConnInfo) -> Result<rustls::RootCertStore, ProbeError> {
    let mut store = rustls::RootCertStore::empty();
    match &r.sslrootcert {
        Some(path) => {
            let bad = |reason: String| ProbeError::Connect { address: r.address(), reason };
            let pem = std::fs::read(path).map_err(|e| bad(format!("sslrootcert {}: {e}", path.display())))?;
            for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
                let cert = cert.map_err(|e| bad(format!("sslrootcert {}: {e}", path.display())))?;
                store.add(cert).map_err(|e| bad(format!("sslrootcert {}: {e}", path.display())))?;
            }
        }
        None => store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    Ok(store)
}

/// `sslmode=prefer|require`: encrypted, not authenticated (libpq's meaning).
#[derive(Debug)]
struct Unverified(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for Unverified {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(m, c, d, &self.0.signature_verification_algorithms)
    }
    fn verify_tls13_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(m, c, d, &self.0.signature_verification_algorithms)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// `sslmode=verify-ca`: the chain must verify; the name need not match.
#[derive(Debug)]
struct ChainOnly(Arc<rustls::client::WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end: &CertificateDer<'_>,
        inter: &[CertificateDer<'_>],
        name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self.0.verify_server_cert(end, inter, name, ocsp, now) {
            Err(rustls::Error::InvalidCertificate(rustls::CertificateError::NotValidForName))
            | Err(rustls::Error::InvalidCertificate(rustls::CertificateError::NotValidForNameContext { .. })) => {
                Ok(ServerCertVerified::assertion())
            }
            other => other,
        }
    }
    fn verify_tls12_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(m, c, d)
    }
    fn verify_tls13_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(m, c, d)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

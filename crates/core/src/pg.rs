//! The one PostgreSQL connection layer: probes, EXPLAIN and guarded actions
//! all open libpq-style connections here (fleet conninfo, the environment,
//! the passfile), so they agree on TLS, timeouts and what an error means.
//!
//! libpq's `sslmode` meaning is carried over to rustls: `disable` plain;
//! `prefer`/`require` encrypt without verifying (as libpq does without a root
//! certificate); `verify-ca` checks the chain; `verify-full` checks the chain
//! and the host name. Roots come from `sslrootcert`, else the bundled Mozilla
//! roots.
//!
//! Errors are [`PgError`]: the *phase* that failed (resolving the conninfo,
//! connecting, authenticating, a query) and the server's SQLSTATE when it
//! sent one, never flattened to text, so an action can tell a lock timeout
//! (55P03) from a read-only refusal (25006) from a lost connection and act on
//! each differently. Probes, which only show errors, turn them into
//! [`ProbeError`]s.

use std::sync::Arc;
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use tokio_postgres::config::SslMode as PgSslMode;

use crate::conninfo::{ConnInfo, ResolvedConnInfo, SslMode};
use crate::probe::ProbeError;

/// Which step of talking to a server failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Resolving the conninfo (environment, passfile, TLS roots) before any network.
    Config,
    /// Reaching the server: TCP, TLS, the startup packet.
    Connect,
    /// The server refused the login (SQLSTATE class 28).
    Auth,
    /// A statement or command on an open connection.
    Query,
}

impl std::fmt::Display for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Phase::Config => "configuration",
            Phase::Connect => "connect",
            Phase::Auth => "authentication",
            Phase::Query => "query",
        })
    }
}

/// What went wrong, beyond the phase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cause {
    /// The server answered with an error (its SQLSTATE; the severity is in the message).
    Server {
        /// Five-character SQLSTATE, e.g. `55P03`.
        sqlstate: String,
    },
    /// No answer within the time allowed.
    Timeout(Duration),
    /// The connection was closed under us (server gone, terminated backend).
    Closed,
    /// Anything on this side: I/O, TLS, protocol, configuration.
    Client,
}

/// A PostgreSQL (or PgBouncer console) error with its phase and SQLSTATE.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.describe())]
pub struct PgError {
    /// `host:port` (or `?` before the conninfo resolved).
    pub address: String,
    /// Which step failed.
    pub phase: Phase,
    /// Why.
    pub cause: Cause,
    /// What was being done, for queries (`status query`, `SHOW POOLS`, …).
    pub what: Option<String>,
    /// The server's or the library's message.
    pub message: String,
}

/// SQLSTATE `lock_not_available`: `lock_timeout` expired.
pub const LOCK_NOT_AVAILABLE: &str = "55P03";
/// SQLSTATE `read_only_sql_transaction`: a write on a read-only session or standby.
pub const READ_ONLY_SQL_TRANSACTION: &str = "25006";

impl PgError {
    /// The server's SQLSTATE, when the server sent an error.
    pub fn sqlstate(&self) -> Option<&str> {
        match &self.cause {
            Cause::Server { sqlstate, .. } => Some(sqlstate),
            _ => None,
        }
    }

    /// `lock_timeout` expired (55P03): nothing was changed, it may be tried later.
    pub fn is_lock_timeout(&self) -> bool {
        self.sqlstate() == Some(LOCK_NOT_AVAILABLE)
    }

    /// The session or server is read-only (25006): a fenced primary or a standby.
    pub fn is_read_only(&self) -> bool {
        self.sqlstate() == Some(READ_ONLY_SQL_TRANSACTION)
    }

    /// No answer within the time allowed.
    pub fn is_timeout(&self) -> bool {
        matches!(self.cause, Cause::Timeout(_))
    }

    /// The connection is gone (closed, server shut down or the backend was
    /// terminated: SQLSTATE classes 08 and 57P01–57P03). Whether a statement
    /// sent just before committed is unknown.
    pub fn is_connection_lost(&self) -> bool {
        match &self.cause {
            Cause::Closed => true,
            Cause::Server { sqlstate, .. } => {
                sqlstate.starts_with("08") || matches!(sqlstate.as_str(), "57P01" | "57P02" | "57P03")
            }
            _ => false,
        }
    }

    fn describe(&self) -> String {
        let code = self.sqlstate().map(|c| format!(" (SQLSTATE {c})")).unwrap_or_default();
        match (self.phase, &self.cause) {
            (_, Cause::Timeout(t)) => {
                format!("{}: no answer within {t:?} ({}{})", self.address, self.phase, self.what.as_ref().map(|w| format!(": {w}")).unwrap_or_default())
            }
            (Phase::Config, _) => format!("{}: {}", self.address, self.message),
            (Phase::Connect, _) => format!("cannot connect to {}: {}{code}", self.address, self.message),
            (Phase::Auth, _) => format!("login to {} refused: {}{code}", self.address, self.message),
            (Phase::Query, _) => format!("{} failed on {}: {}{code}", self.what.as_deref().unwrap_or("query"), self.address, self.message),
        }
    }

    /// A timeout in `phase` at `address`.
    pub fn timeout(address: &str, phase: Phase, after: Duration) -> Self {
        Self { address: address.to_string(), phase, cause: Cause::Timeout(after), what: None, message: String::new() }
    }

    /// Classifies a tokio-postgres error from `phase` (a connect error whose
    /// SQLSTATE is class 28 is an authentication failure).
    pub fn from_driver(address: &str, phase: Phase, what: Option<&str>, e: &tokio_postgres::Error) -> Self {
        let (cause, phase, message) = match e.as_db_error() {
            Some(db) => {
                let sqlstate = db.code().code().to_string();
                let phase = if phase == Phase::Connect && sqlstate.starts_with("28") { Phase::Auth } else { phase };
                (Cause::Server { sqlstate }, phase, format!("{}: {}", db.severity(), db.message()))
            }
            None if e.is_closed() => (Cause::Closed, phase, error_text(e)),
            None => (Cause::Client, phase, error_text(e)),
        };
        Self { address: address.to_string(), phase, cause, what: what.map(str::to_string), message }
    }
}

impl From<PgError> for ProbeError {
    /// Probes only show errors: connect-side failures become `Connect`, queries `Query`.
    fn from(e: PgError) -> Self {
        match (&e.cause, e.phase) {
            (Cause::Timeout(t), _) => ProbeError::Timeout(*t),
            (_, Phase::Query) => ProbeError::Query {
                what: e.what.clone().unwrap_or_else(|| "query".into()),
                reason: e.message.clone() + &e.sqlstate().map(|c| format!(" (SQLSTATE {c})")).unwrap_or_default(),
            },
            _ => {
                let code = e.sqlstate().map(|c| format!(" (SQLSTATE {c})")).unwrap_or_default();
                ProbeError::Connect { address: e.address.clone(), reason: format!("{}{code}", e.message) }
            }
        }
    }
}

fn env(k: &str) -> Option<String> {
    std::env::var(k).ok()
}

/// Resolves `info` against the environment and the passfile into a client config.
pub fn config(info: &ConnInfo, application_name: &str) -> Result<(tokio_postgres::Config, ResolvedConnInfo), PgError> {
    let bad = |address: String, message: String| PgError { address, phase: Phase::Config, cause: Cause::Client, what: None, message };
    let r = info.resolve(&env).map_err(|e| bad("?".into(), e.to_string()))?;
    let mut c = tokio_postgres::Config::new();
    c.host(&r.host).port(r.port).dbname(&r.dbname).user(&r.user).application_name(application_name);
    if let Some(t) = r.connect_timeout {
        c.connect_timeout(t);
    }
    let password = r.password(&env).map_err(|e| bad(r.address(), e.to_string()))?;
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

/// `host:port` that `info` resolves to, or `?`.
pub fn address(info: &ConnInfo) -> String {
    info.resolve(&env).map(|r| r.address()).unwrap_or_else(|_| "?".into())
}

/// Connects within `timeout`; the connection task runs on the current runtime
/// and ends when the returned client is dropped.
pub async fn connect(
    info: &ConnInfo,
    application_name: &str,
    timeout: Duration,
) -> Result<(tokio_postgres::Client, ResolvedConnInfo), PgError> {
    connect_owned(info, application_name, timeout).await.map(|(c, r, _)| (c, r))
}

/// [`connect`], also returning the connection task: aborting it closes the
/// socket at once, even with a request still waiting for its answer (a
/// PgBouncer `PAUSE` that never returns must not keep its console open).
pub async fn connect_owned(
    info: &ConnInfo,
    application_name: &str,
    timeout: Duration,
) -> Result<(tokio_postgres::Client, ResolvedConnInfo, tokio::task::JoinHandle<()>), PgError> {
    let (config, resolved) = config(info, application_name)?;
    let address = resolved.address();
    let fail = |e: tokio_postgres::Error| PgError::from_driver(&address, Phase::Connect, None, &e);
    let attempt = async {
        if resolved.sslmode == SslMode::Disable {
            let (client, conn) = config.connect(tokio_postgres::NoTls).await.map_err(fail)?;
            Ok((client, tokio::spawn(async move { let _ = conn.await; })))
        } else {
            let tls = tokio_postgres_rustls::MakeRustlsConnect::new(tls_config(&resolved)?);
            let (client, conn) = config.connect(tls).await.map_err(fail)?;
            Ok((client, tokio::spawn(async move { let _ = conn.await; })))
        }
    };
    let (client, task) = tokio::time::timeout(timeout, attempt)
        .await
        .map_err(|_| PgError::timeout(&address, Phase::Connect, timeout))??;
    Ok((client, resolved, task))
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

fn tls_error(r: &ResolvedConnInfo, message: String) -> PgError {
    PgError { address: r.address(), phase: Phase::Config, cause: Cause::Client, what: None, message }
}

fn tls_config(r: &ResolvedConnInfo) -> Result<rustls::ClientConfig, PgError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_error(r, e.to_string()))?;
    let cfg = match r.sslmode {
        SslMode::Disable | SslMode::Prefer | SslMode::Require => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Unverified(provider)))
            .with_no_client_auth(),
        SslMode::VerifyCa | SslMode::VerifyFull => {
            let roots = Arc::new(roots(r)?);
            let webpki = rustls::client::WebPkiServerVerifier::builder_with_provider(roots.clone(), provider)
                .build()
                .map_err(|e| tls_error(r, e.to_string()))?;
            if r.sslmode == SslMode::VerifyFull {
                builder.with_root_certificates(roots).with_no_client_auth()
            } else {
                builder.dangerous().with_custom_certificate_verifier(Arc::new(ChainOnly(webpki))).with_no_client_auth()
            }
        }
    };
    Ok(cfg)
}

fn roots(r: &ResolvedConnInfo) -> Result<rustls::RootCertStore, PgError> {
    let mut store = rustls::RootCertStore::empty();
    match &r.sslrootcert {
        Some(path) => {
            let bad = |reason: String| tls_error(r, reason);
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

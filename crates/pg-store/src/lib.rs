//! PostgreSQL implementations of sectwin's store contracts, for a fleet that
//! outgrows one machine's embedded store (issue 21). The embedded stores
//! stay the default; these are chosen with `--database postgres://…`.
//!
//! Written natively for PostgreSQL with the synchronous `postgres` client
//! (the contracts are called from the sequencer's own thread): prepared
//! statements, arrays (`UNNEST`) for a group of rows in one statement, and
//! no ORM. Connections are pooled ([`r2d2`]) for readers; each writer keeps a
//! connection of its own. TLS is rustls, as the URL's `sslmode` asks, with
//! libpq's meanings: `disable`; `prefer` (the default) and `require` encrypt
//! without checking the server's certificate; `verify-full` checks it
//! against the system's roots and the host name.
//!
//! Every table lives in one schema (`sectwin` unless told otherwise), so that
//! several instances, or a test run, can share a database. The schema is made
//! and upgraded only by [`migrate()`] (`sectwin db migrate`): versioned,
//! idempotent, serialized by an advisory lock; a store refuses to open on a
//! schema older or newer than this build knows.
//!
//! Implemented so far: the log's contract ([`log_store::LogStore`]) as
//! [`PgLogStore`], the notification outbox's ([`notify::OutboxStore`]) as
//! [`PgOutbox`], the API credentials every node accepts
//! ([`PgCredentials`]), the twin projection's
//! ([`twin::store::ProjectionStore`]) as [`PgTwins`], and what is kept
//! beside the log ([`twin_store::SideStore`]: payloads, read records) as
//! [`PgSide`]. The conformance suites `log_store::conformance`,
//! `notify::conformance`, `twin::conformance` and
//! `twin_store::side_conformance` run against them and against the embedded
//! stores alike.

#![deny(clippy::unwrap_used, clippy::expect_used)]

mod credentials;
mod filter;
pub mod import;
mod lease;
mod log;
pub mod migrate;
mod outbox;
mod readers;
mod side;
mod twins;

pub use credentials::{CredentialRow, PgCredentials};
pub use import::{import_log, import_side, ImportError, ImportReport, SideReport};
pub use lease::LEASE_RENEWALS_PER_TERM;
pub use log::PgLogStore;
pub use migrate::{migrate, Migration, MigrationReport, MIGRATIONS};
pub use outbox::PgOutbox;
pub use side::PgSide;
pub use twins::PgTwins;

use std::sync::Arc;

/// The schema used when none is named.
pub const SCHEMA_DEFAULT: &str = "sectwin";
/// Most pooled reader connections a store opens.
pub const POOL_CONNECTIONS_MAX_DEFAULT: u32 = 8;
/// How long a reader waits for a pooled connection.
pub const POOL_WAIT_MS_MAX: u64 = 10_000;
/// Longest schema name PostgreSQL keeps (longer identifiers are truncated).
const SCHEMA_BYTES_MAX: usize = 63;

/// Where the database is.
#[derive(Clone)]
pub struct PgOptions {
    /// A `postgres://` URL (or libpq key=value string).
    pub url: String,
    /// The schema holding sectwin's tables.
    pub schema: String,
    /// Most pooled reader connections.
    pub pool_connections_max: u32,
    /// Set when several nodes share the log: this node's part in the lease.
    pub cluster: Option<ClusterOptions>,
}

/// How one of several nodes on one database takes part in the sequencer's lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterOptions {
    /// The node's name (a random suffix per process is added).
    pub node: String,
    /// Where the other nodes reach it (`http://host:port`): they forward appends there.
    pub url: String,
    /// How long the lease lasts without renewal: a paused or cut-off
    /// sequencer is replaced this long after its last renewal (a killed one
    /// sooner: its connection is gone).
    pub lease_ms: u64,
}

/// The lease's lifetime unless told otherwise.
pub const LEASE_MS_DEFAULT: u64 = 3_000;

impl PgOptions {
    /// `url` with the default schema and pool.
    pub fn new(url: &str) -> PgOptions {
        PgOptions {
            url: url.to_string(),
            schema: SCHEMA_DEFAULT.to_string(),
            pool_connections_max: POOL_CONNECTIONS_MAX_DEFAULT,
            cluster: None,
        }
    }

    /// With tables in `schema`.
    pub fn with_schema(mut self, schema: &str) -> PgOptions {
        self.schema = schema.to_string();
        self
    }
}

impl std::fmt::Debug for PgOptions {
    /// Leaves the URL's password out.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgOptions")
            .field("url", &redacted(&self.url))
            .field("schema", &self.schema)
            .field("pool_connections_max", &self.pool_connections_max)
            .field("cluster", &self.cluster)
            .finish()
    }
}

/// `url` with any password replaced by `***`.
pub fn redacted(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let Some((userinfo, host)) = rest.split_once('@') else {
        return url.to_string();
    };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_string(),
    }
}

/// What can go wrong reaching or preparing the database.
#[derive(Debug, thiserror::Error)]
pub enum PgError {
    /// The URL or schema name is not usable.
    #[error("database settings: {0}")]
    Config(String),
    /// The server could not be reached or refused the connection.
    #[error("cannot connect to PostgreSQL at {url}: {message} (is the server running, and does the URL name the right host, port, user and database?)")]
    Connect {
        /// The URL, without its password.
        url: String,
        /// Why.
        message: String,
    },
    /// A statement failed.
    #[error("PostgreSQL: {0}")]
    Sql(String),
    /// The schema is not at the version this build knows.
    #[error("{0}")]
    Schema(String),
}

impl From<postgres::Error> for PgError {
    fn from(e: postgres::Error) -> PgError {
        PgError::Sql(describe(&e))
    }
}

/// A PostgreSQL error with the server's message and detail when it sent one.
pub(crate) fn describe(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => match db.detail() {
            Some(detail) => format!("{} ({detail})", db.message()),
            None => db.message().to_string(),
        },
        None => e.to_string(),
    }
}

/// Checks a schema name: a plain lower-case identifier (so that it needs no
/// quoting and cannot inject anything).
pub fn check_schema(schema: &str) -> Result<(), PgError> {
    let mut chars = schema.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_');
    let rest_ok = chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !first_ok || !rest_ok || schema.len() > SCHEMA_BYTES_MAX {
        return Err(PgError::Config(format!(
            "schema {schema:?}: a schema name is 1 to {SCHEMA_BYTES_MAX} lower-case letters, digits or '_', not starting with a digit"
        )));
    }
    Ok(())
}

type Tls = tokio_postgres_rustls::MakeRustlsConnect;

/// The TLS connector: rustls. `verify`: the server's certificate must chain
/// to the system's roots and name the host (`sslmode=verify-full`); else,
/// as libpq does for `prefer` and `require`, the connection is encrypted
/// without checking who holds the certificate.
fn tls(verify: bool) -> Result<Tls, PgError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| PgError::Config(format!("TLS: {e}")))?;
    let config = if verify {
        let mut roots = rustls::RootCertStore::empty();
        for cert in rustls_native_certs::load_native_certs().certs {
            // A system certificate rustls cannot parse is skipped, as every
            // rustls client does.
            let _ = roots.add(cert);
        }
        builder.with_root_certificates(roots).with_no_client_auth()
    } else {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(EncryptOnly(provider)))
            .with_no_client_auth()
    };
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

/// libpq's `sslmode=prefer`/`require`: any certificate, the handshake's
/// signatures still checked.
#[derive(Debug)]
struct EncryptOnly(Arc<rustls::crypto::CryptoProvider>);

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

/// `url` with libpq's `sslmode=verify-full` (which the client's parser does
/// not know) turned into `require`, and whether it was asked for.
fn verify_mode(url: &str) -> (String, bool) {
    for mode in ["sslmode=verify-full", "sslmode=verify-ca"] {
        if url.contains(mode) {
            return (url.replace(mode, "sslmode=require"), true);
        }
    }
    (url.to_string(), false)
}

/// The client configuration of `options`: its URL, with the schema as the
/// search path and the application's name.
fn config(options: &PgOptions) -> Result<(postgres::Config, Tls), PgError> {
    check_schema(&options.schema)?;
    let (url, verify) = verify_mode(&options.url);
    let mut config: postgres::Config = url.parse().map_err(|e| {
        PgError::Config(format!(
            "{}: not a PostgreSQL URL: {e}",
            redacted(&options.url)
        ))
    })?;
    config.options(&format!("-c search_path={}", options.schema));
    if config.get_application_name().is_none() {
        config.application_name("sectwin");
    }
    Ok((config, tls(verify)?))
}

/// One connection of `options`, for a writer or a command.
pub fn connect(options: &PgOptions) -> Result<postgres::Client, PgError> {
    let (config, tls) = config(options)?;
    off_runtime(|| config.connect(tls)).map_err(|e| PgError::Connect {
        url: redacted(&options.url),
        message: describe(&e),
    })
}

/// Runs `f` where the synchronous client may block: on this thread, unless
/// it drives a Tokio runtime (an HTTP handler, an async open), where the
/// client's own runtime may not start; then out of the runtime's way.
pub(crate) fn off_runtime<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    let Ok(handle) = tokio::runtime::Handle::try_current() else {
        return f();
    };
    // A worker of a multi-threaded runtime hands its other tasks on and
    // blocks in place (no thread to start); a single-threaded runtime's
    // thread cannot, so a scoped thread does the call.
    if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread {
        return tokio::task::block_in_place(f);
    }
    std::thread::scope(|scope| match scope.spawn(f).join() {
        Ok(t) => t,
        Err(panic) => std::panic::resume_unwind(panic),
    })
}

/// A pool of reader connections.
pub(crate) type Pool = r2d2::Pool<r2d2_postgres::PostgresConnectionManager<Tls>>;

/// The reader pool of `options` (connections are opened on demand).
pub(crate) fn pool(options: &PgOptions) -> Result<Pool, PgError> {
    let (config, tls) = config(options)?;
    let manager = r2d2_postgres::PostgresConnectionManager::new(config, tls);
    Ok(r2d2::Pool::builder()
        .max_size(options.pool_connections_max.max(1))
        .min_idle(Some(0))
        .connection_timeout(std::time::Duration::from_millis(POOL_WAIT_MS_MAX))
        .build_unchecked(manager))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_names_are_plain_identifiers() {
        for ok in ["sectwin", "_t1", "sectwin_test_42"] {
            assert!(check_schema(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "1abc",
            "Sectwin",
            "a-b",
            "a;drop",
            "a b",
            &"x".repeat(64),
        ] {
            assert!(check_schema(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn passwords_stay_out_of_messages() {
        assert_eq!(
            redacted("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(redacted("postgres://u@h/db"), "postgres://u@h/db");
        let debug = format!("{:?}", PgOptions::new("postgres://u:secret@h/db"));
        assert!(!debug.contains("secret"), "{debug}");
    }
}

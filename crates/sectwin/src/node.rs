//! Opening a sectwin node from a data directory: the log's signing key
//! (created on first start), the embedded store, the log service, and the
//! HTTP server around them. The binary's subcommands share this.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use axum::serve::ListenerExt;
use log_service::{Log, LogConfig};
use log_store::{EmbeddedStore, EmbeddedStoreOptions};
use tlog::Signer;

/// The default origin of a new log.
pub const DEFAULT_ORIGIN: &str = "sectwin.localhost/log";
/// The default listen address: loopback, on a port none of the usual
/// services here use (PostgreSQL 5432, MQTT 1883, NATS 4222, Redis 6379,
/// AMQP 5672, MySQL 3306).
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8470";

/// Path of the log's signing key inside a data directory.
pub fn key_path(data: &Path) -> PathBuf {
    data.join("log.key")
}

/// Path of the log's verifier key inside a data directory.
pub fn vkey_path(data: &Path) -> PathBuf {
    data.join("log.vkey")
}

/// Loads the log key, creating it (and the data directory) on first start.
/// Returns the signer and whether it was created now.
pub fn load_or_create_key(data: &Path, origin: Option<&str>) -> Result<(Signer, bool)> {
    std::fs::create_dir_all(data).with_context(|| format!("creating {}", data.display()))?;
    let path = key_path(data);
    if path.exists() {
        let skey = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let signer = Signer::from_skey(skey.trim())
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        if let Some(origin) = origin {
            if origin != signer.name() {
                bail!(
                    "the data directory holds the log {:?}; it cannot be reopened as {origin:?}",
                    signer.name()
                );
            }
        }
        return Ok((signer, false));
    }
    let origin = origin.unwrap_or(DEFAULT_ORIGIN);
    let signer = Signer::generate(origin, &mut rand_core::OsRng)
        .map_err(|e| anyhow::anyhow!("origin {origin:?}: {e}"))?;
    write_private(&path, &format!("{}\n", signer.skey()))?;
    std::fs::write(vkey_path(data), format!("{}\n", signer.vkey())).context("writing log.vkey")?;
    Ok((signer, true))
}

/// Writes a file readable only by its owner.
pub fn write_private(path: &Path, contents: &str) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    f.write_all(contents.as_bytes())?;
    f.sync_all()?;
    Ok(())
}

/// Opens the embedded store and the log service on `data`.
pub fn open_log(data: &Path, origin: Option<&str>, config: LogConfig) -> Result<(Log, bool)> {
    let (signer, created) = load_or_create_key(data, origin)?;
    let store = EmbeddedStore::open(EmbeddedStoreOptions {
        dir: data.to_path_buf(),
    })?;
    let log = Log::open(Arc::new(store), signer, config)?;
    Ok((log, created))
}

/// Path of the transparency service's receipt key (PKCS#8 PEM) in a data directory.
pub fn receipt_key_path(data: &Path) -> PathBuf {
    data.join("scitt.key")
}

/// Loads the receipt signing key, creating an Ed25519 one on first start.
pub fn load_or_create_receipt_key(data: &Path) -> Result<scitt::SigningKey> {
    let path = receipt_key_path(data);
    if path.exists() {
        let pem = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        return scitt::SigningKey::from_pem(&pem)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()));
    }
    let key = scitt::SigningKey::generate(scitt::Algorithm::EdDSA, &mut rand_core::OsRng);
    write_private(&path, &key.to_pem())?;
    Ok(key)
}

/// The SCITT transparency service over `log`, issuing receipts as `issuer`
/// and checking issuers' keys in `keys`.
pub fn open_transparency(
    data: &Path,
    log: &Log,
    keys: Arc<dyn transparency::KeyDirectory>,
    issuer: &str,
) -> Result<Arc<transparency::TransparencyService>> {
    let key = load_or_create_receipt_key(data)?;
    Ok(Arc::new(transparency::TransparencyService::new(
        log.clone(),
        keys,
        key,
        issuer,
    )))
}

/// The node's HTTP application: the log under `/log`, and SCRAPI (`/entries`,
/// `/.well-known/...`) when a transparency service is given.
pub fn app(log: Log, scitt: Option<Arc<transparency::TransparencyService>>) -> axum::Router {
    let router = axum::Router::new().nest("/log", http_api::log_router(http_api::LogApi::new(log)));
    match scitt {
        Some(service) => router.merge(http_api::scrapi_router(http_api::ScrapiApi::new(service))),
        None => router,
    }
}

/// Serves `app` on `listen` until `shutdown` resolves.
pub async fn serve(
    app: axum::Router,
    listen: SocketAddr,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding {listen}"))?;
    let addr = listener.local_addr()?;
    // Small request/response pairs: without TCP_NODELAY, Nagle's algorithm
    // meets the client's delayed ACK and a response can stall for ~40 ms.
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::warn!(error = %e, "setting TCP_NODELAY");
        }
    });
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
        {
            tracing::error!(error = %e, "server stopped");
        }
    });
    Ok(addr)
}

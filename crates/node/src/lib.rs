//! The composition root of a sectwin node: opening it from a data directory
//! (the log's signing key, created on first start; the embedded store; the
//! log service; the twins, the registration policy, the risk register, the
//! token endpoint and the notifications) and the one HTTP application
//! ([`app`]) that `sectwin serve` runs and the in-process tests exercise.
//!
//! What it must not know: wire formats (the `http-api` crate's), the log's
//! math (`tlog`'s), or the command line (the `sectwin` binary's).

pub mod binary;
pub mod cluster;
pub mod cra_pump;
pub mod detection;
pub mod notify_pump;
pub mod ops;
#[cfg(feature = "testing")]
pub mod testing;
pub mod vex_pump;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use clock::{Clock, SystemClock};
use log_service::{Log, LogConfig};
use log_store::{EmbeddedStore, EmbeddedStoreOptions};
use tlog::Signer;

/// The default origin of a new log.
pub const DEFAULT_ORIGIN: &str = "sectwin.localhost/log";
/// The default listen address: loopback, on a port none of the usual
/// services here use (PostgreSQL 5432, MQTT 1883, NATS 4222, Redis 6379,
/// AMQP 5672, MySQL 3306).
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8470";

/// The files of a data directory every node of one database must share
/// (copied from the first node's before the others start): the log's and
/// the receipts' signing keys, the registry authority's key and the token
/// key. Each node keeps the rest of its directory; the API credentials are
/// shared through the database (`pg_store::PgCredentials`).
pub const CLUSTER_SHARED_FILES: &[&str] = &[
    "log.key",
    "log.vkey",
    "scitt.key",
    "authority.key",
    "token.key",
];

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
    open_log_on(data, origin, config, &LogBackend::Embedded)
}

/// Where a node's log is stored.
#[derive(Debug, Clone, Default)]
pub enum LogBackend {
    /// In the data directory (journal, C2SP static files, index).
    #[default]
    Embedded,
    /// In a PostgreSQL schema (`sectwin db migrate` made it); the data
    /// directory keeps the keys and the other stores.
    Postgres(pg_store::PgOptions),
}

/// The file in a data directory whose log is not embedded, naming the
/// PostgreSQL schema holding it (no URL, no password): a data directory
/// whose log is in one place is never opened on another.
pub const LOG_BACKEND_FILE: &str = "log-backend";

/// What [`LOG_BACKEND_FILE`] says of `backend`.
fn backend_marker(backend: &LogBackend) -> String {
    match backend {
        LogBackend::Embedded => "embedded\n".to_string(),
        LogBackend::Postgres(o) => format!("postgres schema={}\n", o.schema),
    }
}

/// Refuses `backend` on a data directory whose log is elsewhere; records it
/// on a new one.
fn check_backend(data: &Path, backend: &LogBackend) -> Result<()> {
    let path = data.join(LOG_BACKEND_FILE);
    let want = backend_marker(backend);
    match std::fs::read_to_string(&path) {
        Ok(found) if found == want => Ok(()),
        Ok(found) => bail!(
            "{}: the log of this data directory is {}, not {}: open it as it was made (`sectwin migrate-store` moves an embedded log to PostgreSQL)",
            data.display(),
            found.trim(),
            want.trim()
        ),
        // No marker: an embedded log (or none yet). Only a log elsewhere is
        // marked, so that embedded data directories stay as they were.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if matches!(backend, LogBackend::Embedded) {
                return Ok(());
            }
            if data.join("journal").exists() {
                bail!(
                    "{}: this data directory holds an embedded log; it cannot be opened on PostgreSQL (`sectwin migrate-store` moves an embedded log to PostgreSQL)",
                    data.display()
                );
            }
            std::fs::create_dir_all(data)
                .with_context(|| format!("creating {}", data.display()))?;
            std::fs::write(&path, want).with_context(|| format!("writing {}", path.display()))
        }
        Err(e) => Err(anyhow::anyhow!("{}: {e}", path.display())),
    }
}

/// Fails unless the log of `data` is embedded and there (what `sectwin
/// migrate-store` moves).
pub fn check_embedded(data: &Path) -> Result<()> {
    if let Ok(found) = std::fs::read_to_string(data.join(LOG_BACKEND_FILE)) {
        if found != backend_marker(&LogBackend::Embedded) {
            bail!(
                "{}: the log of this data directory is {} already",
                data.display(),
                found.trim()
            );
        }
    }
    if !data.join("journal").exists() {
        bail!("{}: no embedded log here (no journal)", data.display());
    }
    Ok(())
}

/// Records that the log of `data` is in `backend` from now on (after
/// `sectwin migrate-store` moved it): `serve` then opens it there only.
pub fn mark_log_backend(data: &Path, backend: &LogBackend) -> Result<()> {
    let path = data.join(LOG_BACKEND_FILE);
    std::fs::write(&path, backend_marker(backend))
        .and_then(|()| std::fs::File::open(&path)?.sync_all())
        .with_context(|| format!("writing {}", path.display()))
}

/// Opens the log service on `data` with its entries in `backend`.
pub fn open_log_on(
    data: &Path,
    origin: Option<&str>,
    config: LogConfig,
    backend: &LogBackend,
) -> Result<(Log, bool)> {
    check_backend(data, backend)?;
    let (signer, created) = load_or_create_key(data, origin)?;
    let store: Arc<dyn log_store::LogStore> = match backend {
        LogBackend::Embedded => Arc::new(EmbeddedStore::open(EmbeddedStoreOptions {
            dir: data.to_path_buf(),
        })?),
        LogBackend::Postgres(options) => Arc::new(pg_store::PgLogStore::open(options.clone())?),
    };
    let log = Log::open(store, signer, config)?;
    if let Some(lease) = log.store().lease() {
        log.set_forward(Arc::new(cluster::HttpForward::new(lease.cluster_secret())?));
    }
    Ok((log, created))
}

/// Path of the node's deadline policy in a data directory (JSON, every
/// field optional; see `risk::DeadlinePolicy`): e.g.
/// `{"kev_days": 14}` gives vulnerabilities on a known-exploited list two
/// weeks whatever their severity.
pub fn deadline_policy_path(data: &Path) -> PathBuf {
    data.join("deadline-policy.json")
}

/// The node's deadline policy: [`deadline_policy_path`] if it exists, else
/// the default ("high: fix immediately; medium: next minor release; low:
/// next major release"). A file that does not read is an error that names
/// it and what is wrong.
pub fn deadline_policy(data: &Path) -> Result<risk::DeadlinePolicy> {
    let path = deadline_policy_path(data);
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map_err(|e| anyhow::anyhow!("{}: not a deadline policy: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(risk::DeadlinePolicy::default()),
        Err(e) => Err(anyhow::anyhow!("{}: {e}", path.display())),
    }
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
/// and checking issuers' keys in `keys` under `policy`.
pub fn open_transparency(
    data: &Path,
    log: &Log,
    keys: Arc<dyn transparency::KeyDirectory>,
    issuer: &str,
    policy: transparency::RegistrationPolicy,
) -> Result<Arc<transparency::TransparencyService>> {
    open_transparency_with_clock(data, log, keys, issuer, policy, Arc::new(SystemClock))
}

/// [`open_transparency`], judging statements' freshness by `clock`.
fn open_transparency_with_clock(
    data: &Path,
    log: &Log,
    keys: Arc<dyn transparency::KeyDirectory>,
    issuer: &str,
    policy: transparency::RegistrationPolicy,
    clock: Arc<dyn Clock>,
) -> Result<Arc<transparency::TransparencyService>> {
    let key = load_or_create_receipt_key(data)?;
    Ok(Arc::new(
        transparency::TransparencyService::new(log.clone(), keys, key, issuer)
            .with_policy(policy)
            .with_clock(clock),
    ))
}

/// A log-only HTTP application: the log under `/log`, and SCRAPI
/// (`/entries`, `/.well-known/...`) when a transparency service is given
/// (what `sectwin log serve`-style tools and the log benchmarks run; a full
/// node runs [`app`]).
pub fn log_app(log: Log, scitt: Option<Arc<transparency::TransparencyService>>) -> axum::Router {
    let router = axum::Router::new().nest("/log", http_api::log_router(http_api::LogApi::new(log)));
    let router = match scitt {
        Some(service) => router.merge(http_api::scrapi_router(http_api::ScrapiApi::new(service))),
        None => router,
    };
    router.layer(axum::middleware::from_fn(http_api::problem::fill_errors))
}

/// Serves `app` on `listen` until `shutdown` resolves, with the default
/// [`http_api::serve::ServeLimits`] fitted to the file limit.
pub async fn serve(
    app: axum::Router,
    listen: SocketAddr,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<SocketAddr> {
    let limits = fit_to_descriptors(http_api::serve::ServeLimits::default())?;
    serve_with_limits(app, listen, shutdown, limits).await
}

/// Serves `app` on `listen` under `limits` until `shutdown` resolves.
pub async fn serve_with_limits(
    app: axum::Router,
    listen: SocketAddr,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    limits: http_api::serve::ServeLimits,
) -> Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding {listen}"))?;
    let addr = listener.local_addr()?;
    tokio::spawn(http_api::serve::serve(listener, app, limits, shutdown));
    Ok(addr)
}

/// Fewest connections worth serving: below this the file limit is too low
/// for a node and starting would only fail later.
pub const CONNECTIONS_MIN: usize = 8;

/// Raises the soft limit on open files to the hard limit (a server holds a
/// descriptor per connection and many for its stores; distributions start
/// processes at a soft 1024). Returns the soft limit in force afterwards.
pub fn raise_file_limit() -> u64 {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let limit = getrlimit(Resource::Nofile);
    if limit.current != limit.maximum {
        let raised = Rlimit {
            current: limit.maximum,
            maximum: limit.maximum,
        };
        if let Err(e) = setrlimit(Resource::Nofile, raised) {
            tracing::warn!(error = %e, "raising the open file limit");
        }
    }
    getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX)
}

/// Lowers `limits.connections_max` so that connections can take at most half
/// of the file descriptors not in use now; the other half stays for the
/// stores (journal segments, tiles, the fjall keyspaces' tables), whose
/// writer must never run out because of clients (issue 13, item 2). Call it
/// once the node is open, so that its own descriptors are counted.
pub fn fit_to_descriptors(
    mut limits: http_api::serve::ServeLimits,
) -> Result<http_api::serve::ServeLimits> {
    let soft = raise_file_limit();
    let open = std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count()) as u64;
    let spare = soft.saturating_sub(open) / 2;
    let fitted = usize::try_from(spare).unwrap_or(usize::MAX);
    if fitted < CONNECTIONS_MIN {
        bail!(
            "the open file limit ({soft}, {open} in use) leaves room for {fitted} connections; \
             raise it (ulimit -n) to serve at least {CONNECTIONS_MIN}"
        );
    }
    if fitted < limits.connections_max {
        tracing::info!(
            soft_limit = soft,
            open,
            connections_max = fitted,
            "connections capped to fit the open file limit"
        );
        limits.connections_max = fitted;
    }
    Ok(limits)
}

/// Everything a serving node runs: the log, the SCITT service whose
/// registration policy is the twins' (keys from the stakeholder registry in
/// the log), the projector keeping the twins, and the token endpoint.
pub struct Node {
    /// The log.
    pub log: Log,
    /// SCRAPI registration and receipts.
    pub scitt: Arc<transparency::TransparencyService>,
    /// The twins.
    pub projector: twin_store::Projector,
    /// The twins in the cluster's PostgreSQL schema, written while this
    /// node sequences (`None` on the embedded store).
    pub shared_twins: Option<twin_store::SharedProjector>,
    /// API credentials and bearer tokens.
    pub tokens: Arc<http_api::oauth::TokenEndpoint>,
    /// The registry authority: its id and signing key.
    pub authority: Arc<(String, scitt::SigningKey)>,
    /// Where the credentials file is.
    pub credentials_path: PathBuf,
    /// The credentials file, reloaded when it changes.
    credentials_file: Arc<CredentialsFile>,
    /// The risk register (advisories held, register cached).
    pub risks: Arc<twin_store::RiskService>,
    /// The notification outbox, once started ([`start_notifications`]).
    pub notifier: Option<notify::Notifier>,
    /// What the notification pump has done, once started.
    pub pump: Option<Arc<notify_pump::PumpStatus>>,
    /// Quotas of stakeholders' stored bytes and the free space kept for the
    /// log (set with [`Node::set_storage`]).
    pub storage: twin_store::StorageLimits,
    /// The registration policy of the twins (it keeps payloads under the
    /// storage limits).
    directory: Arc<twin_store::TwinDirectory>,
    /// The Archivist (DataTrails) use cases.
    archivist: service::ArchivistService,
    /// Their side data, in `DATA/archivist`.
    archivist_store: Arc<twin_store::archivist::FileArchivistStore>,
    /// The one recorder of reads of another organization's data.
    reads: service::ReadRecorder,
    /// The posture views over what devices report.
    devices: service::devices::DeviceViews,
    /// The detector's state (alarms, incidents), kept by the driver
    /// ([`detection`]).
    pub detection: Arc<service::detection::DetectionState>,
    /// The alarms, incidents and security profiles use cases.
    alarms: service::alarms::AlarmViews,
    /// Where the detection driver sends notifications, once they start.
    detection_notifier: detection::NotifierSlot,
    /// Suppressions of posture findings (signed on the caller's behalf).
    suppressions: service::suppressions::SuppressionService,
    /// CRA report cases and support periods (signed on the caller's behalf).
    pub cra: service::cra::CraService,
    /// SSVC inputs (signed on the caller's behalf) and decisions.
    ssvc: service::ssvc::SsvcService,
    /// The device report ingester, once started ([`start_device_channel`]).
    device_channel: Arc<DeviceChannelSlot>,
    /// Its counters (zero while none runs).
    pub device_stats: Arc<device_channel::IngestStats>,
    /// The wall clock every part of the node reads: token expiry, statement
    /// freshness, receipts, read records, the risk register's day and the
    /// notifications' times.
    pub clock: Arc<dyn Clock>,
    /// The log's status and trust anchors (`GET /api/v1/log`).
    log_views: service::log_status::LogViews,
}

/// How notifications are sent.
#[derive(Debug, Clone)]
pub struct NotifyConfig {
    /// The MQTT broker, if any.
    pub mqtt: Option<(String, u16)>,
    /// How often the risk register is compared with the previous one.
    pub interval: std::time::Duration,
    /// Whether webhooks may reach loopback, private and link-local
    /// addresses (`notify::address`).
    pub webhooks_to_private_addresses: bool,
    /// The PostgreSQL schema the nodes of a cluster share the outbox in
    /// (`pg_store::PgOutbox`); `None`: `DATA/notify`, this node's own.
    pub shared_outbox: Option<pg_store::PgOptions>,
}

/// How often a node with a shared outbox looks at its role in the log: its
/// notifier is active while it sequences.
pub const NOTIFIER_ROLE_POLL_MS: u64 = 100;

/// The device channel's ingester while one runs, and whether the node
/// stopped (then none starts again).
#[derive(Default)]
pub struct DeviceChannelSlot {
    ingester: parking_lot::Mutex<Option<device_channel::Ingester>>,
    stopped: std::sync::atomic::AtomicBool,
}

impl DeviceChannelSlot {
    /// Keeps the ingester `start` makes, unless one runs or the node stopped.
    fn start(&self, start: impl FnOnce() -> device_channel::Ingester) -> bool {
        let mut slot = self.ingester.lock();
        if slot.is_some() || self.stopped.load(std::sync::atomic::Ordering::Acquire) {
            return false;
        }
        *slot = Some(start());
        true
    }

    /// Stops the ingester, if one runs.
    async fn stop(&self) -> bool {
        let ingester = self.ingester.lock().take();
        match ingester {
            Some(i) => {
                i.shutdown().await;
                true
            }
            None => false,
        }
    }
}

/// How often a node with a device channel looks at its role in the log:
/// only the node that sequences ingests.
pub const DEVICE_CHANNEL_ROLE_POLL_MS: u64 = 100;

/// Starts the device channel: the ingester of signed device reports from
/// the MQTT broker at `host:port` (`docs/device-reports.md`), with a
/// persistent session named after the log's origin.
///
/// With several nodes on one log, only the node that sequences ingests:
/// the session is the log's (one client id), so two nodes would take it
/// from each other. A node that stops sequencing leaves the session, with
/// the reports it did not acknowledge, to the broker; the next sequencer
/// takes it over and receives them.
pub fn start_device_channel(node: &Node, host: &str, port: u16) {
    let config = device_channel::IngestConfig::new(host, port, node.log.origin());
    let (scitt, projector, clock, stats) = (
        node.scitt.clone(),
        node.projector.clone(),
        node.clock.clone(),
        node.device_stats.clone(),
    );
    let start = move || {
        device_channel::Ingester::start(
            config.clone(),
            scitt.clone(),
            projector.clone(),
            clock.clone(),
            stats.clone(),
        )
    };
    let sequences = |log: &Log| !matches!(log.role(), log_service::cluster::Role::Follower(_));
    let slot = node.device_channel.clone();
    if sequences(&node.log) {
        slot.start(&start);
    }
    let log = node.log.clone();
    tokio::spawn(async move {
        while !slot.stopped.load(std::sync::atomic::Ordering::Acquire) {
            tokio::time::sleep(std::time::Duration::from_millis(
                DEVICE_CHANNEL_ROLE_POLL_MS,
            ))
            .await;
            if sequences(&log) {
                if slot.start(&start) {
                    tracing::info!("this node sequences: it ingests device reports");
                }
            } else if slot.stop().await {
                tracing::info!("this node follows: the sequencer ingests device reports");
            }
        }
    });
}

/// Starts the notification outbox (`DATA/notify`, or the cluster's in
/// PostgreSQL) and the pumps that feed it: from the risk register, and from
/// VEX statements devices contradict ([`vex_pump`]).
///
/// On a shared outbox the notifier is active only while this node
/// sequences the log, so a cluster tells each event once.
pub async fn start_notifications(node: &mut Node, data: &Path, config: NotifyConfig) -> Result<()> {
    let mut c = notify::NotifierConfig::new(data.join("notify"));
    c.webhooks_to_private_addresses = config.webhooks_to_private_addresses;
    if let Some((host, port)) = config.mqtt {
        c.mqtt = Some(notify::MqttConfig {
            host,
            port,
            client_id: format!("sectwin-{}", std::process::id()),
            keep_alive: std::time::Duration::from_secs(30),
        });
    }
    let notifier = match &config.shared_outbox {
        None => notify::Notifier::start_with_clock(c, node.clock.clone()).await?,
        Some(options) => {
            let outbox = Arc::new(pg_store::PgOutbox::open(options)?);
            let notifier = notify::Notifier::start_on(c, outbox, node.clock.clone()).await?;
            follow_role(node.log.clone(), notifier.clone());
            notifier
        }
    };
    let (_, pump) = notify_pump::start(
        node.risks.clone(),
        node.projector.clone(),
        notifier.clone(),
        config.interval,
        node.clock.clone(),
    );
    *node.detection_notifier.lock() = Some(notifier.clone());
    vex_pump::start(
        node.projector.clone(),
        node.risks.clone(),
        node.reads.clone(),
        notifier.clone(),
        config.interval,
        node.clock.clone(),
    );
    cra_pump::start(
        node.cra.clone(),
        node.risks.clone(),
        node.projector.clone(),
        notifier.clone(),
        config.interval,
        node.clock.clone(),
    );
    node.notifier = Some(notifier);
    node.pump = Some(pump);
    Ok(())
}

/// Keeps `notifier` active while `log`'s node sequences (a single node
/// always does).
fn follow_role(log: Log, notifier: notify::Notifier) {
    tokio::spawn(async move {
        loop {
            let sequences = !matches!(log.role(), log_service::cluster::Role::Follower(_));
            if let Err(e) = notifier.set_active(sequences) {
                tracing::warn!("switching the notifier: {e}; trying again");
            }
            tokio::time::sleep(std::time::Duration::from_millis(NOTIFIER_ROLE_POLL_MS)).await;
        }
    });
}

/// Path of the registry authority's signing key (PKCS#8 PEM).
pub fn authority_key_path(data: &Path) -> PathBuf {
    data.join("authority.key")
}

/// Path of the API credentials file.
pub fn credentials_path(data: &Path) -> PathBuf {
    data.join("credentials.json")
}

/// The registry authority's id for a log origin: its host part.
pub fn authority_id(origin: &str) -> String {
    origin.split('/').next().unwrap_or(origin).to_string()
}

/// Loads the credentials file (empty if absent).
pub fn load_credentials(path: &Path) -> Result<access::Credentials> {
    match std::fs::read(path) {
        Ok(bytes) => {
            serde_json::from_slice(&bytes).with_context(|| format!("reading {}", path.display()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(access::Credentials::default()),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// The rows of `credentials` for the cluster's store.
fn credential_rows(credentials: &access::Credentials) -> Result<Vec<pg_store::CredentialRow>> {
    credentials
        .iter()
        .map(|c| {
            Ok(pg_store::CredentialRow {
                client_id: c.client_id().to_string(),
                record: serde_json::to_string(c)?,
                revoked: c.revoked(),
            })
        })
        .collect()
}

/// Writes the credentials file atomically (readable by its owner only).
pub fn save_credentials(path: &Path, credentials: &access::Credentials) -> Result<()> {
    durable::write_private(path, &serde_json::to_vec_pretty(credentials)?)
        .with_context(|| format!("replacing {}", path.display()))
}

/// Creates an API credential for `stakeholder` in the credentials file (the
/// command line, on a stopped node: dated by the system clock).
pub fn create_credential(path: &Path, stakeholder: &str, label: &str) -> Result<(String, String)> {
    let mut credentials = load_credentials(path)?;
    let now = clock::Clock::now_unix_s(&clock::SystemClock);
    let (client_id, secret) = create_in(&mut credentials, stakeholder, label, now)?;
    save_credentials(path, &credentials)?;
    Ok((client_id, secret))
}

fn create_in(
    credentials: &mut access::Credentials,
    stakeholder: &str,
    label: &str,
    now_unix_s: i64,
) -> Result<(String, String)> {
    use rand_core::RngCore;
    let mut random = [0u8; access::CREDENTIAL_RANDOM_BYTES];
    rand_core::OsRng.fill_bytes(&mut random);
    let now = u64::try_from(now_unix_s).unwrap_or(0);
    let (credential, secret) = credentials
        .create(stakeholder, label, random, now)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok((credential.client_id().to_string(), secret))
}

/// Archivist (DataTrails) clients: the node signs their statements as the
/// registry authority on their stakeholder's behalf.
fn archivist_signer(
    authority: Arc<(String, scitt::SigningKey)>,
    clock: Arc<dyn Clock>,
) -> service::archivist::AuthoritySigner {
    Arc::new(move |subject, payload, disclosure| {
        let builder = scitt::StatementBuilder::new(&authority.0, subject, payload)
            .content_type("application/json")
            .issued_at(clock.now_unix_s());
        match disclosure {
            service::archivist::Disclosure::Public => builder,
            service::archivist::Disclosure::Private => builder.hash_envelope(None),
        }
        .sign(&authority.1)
    })
}

impl Node {
    /// The twins' read API (`/api/v1`) over this node's projection,
    /// registration and tokens.
    pub fn twin_api(&self) -> http_api::TwinApi {
        http_api::TwinApi::new(
            self.projector.clone(),
            self.scitt.clone(),
            self.tokens.clone(),
            self.reads.clone(),
        )
    }

    /// Sets the quotas of stakeholders' stored bytes (blobs, payloads) and
    /// the free space kept for the log.
    pub fn set_storage(&mut self, limits: twin_store::StorageLimits) {
        self.storage = limits;
        self.directory.set_limits(limits);
        self.archivist_store.set_limits(limits);
    }

    /// Creates an API credential for `stakeholder`, effective at once.
    pub fn create_credential(&self, stakeholder: &str, label: &str) -> Result<(String, String)> {
        let mut credentials = self.tokens.credentials().write();
        let created = create_in(
            &mut credentials,
            stakeholder,
            label,
            self.clock.now_unix_s(),
        )?;
        save_credentials(&self.credentials_path, &credentials)?;
        drop(credentials);
        // Shared with the other nodes of a cluster at once.
        self.credentials_file.reload_if_changed();
        Ok(created)
    }

    /// Signs a record of an advisory change (subject, JSON payload bytes) as
    /// the registry authority.
    pub fn change_signer(&self) -> http_api::risk_api::ChangeSigner {
        let authority = self.authority.clone();
        let clock = self.clock.clone();
        Arc::new(move |subject: &str, payload: &[u8]| {
            scitt::StatementBuilder::new(&authority.0, subject, payload)
                .content_type("application/json")
                .issued_at(clock.now_unix_s())
                .sign(&authority.1)
        })
    }

    /// Signs `payload` about `subject` as the registry authority.
    pub fn authority_statement(&self, subject: &str, payload: &serde_json::Value) -> Vec<u8> {
        scitt::StatementBuilder::new(&self.authority.0, subject, payload.to_string().as_bytes())
            .content_type("application/json")
            .issued_at(self.clock.now_unix_s())
            .sign(&self.authority.1)
    }

    /// Stops the projector and the log cleanly.
    pub async fn shutdown(&self) {
        self.device_channel
            .stopped
            .store(true, std::sync::atomic::Ordering::Release);
        self.device_channel.stop().await;
        self.log.shutdown().await;
        let projector = self.projector.clone();
        let shared = self.shared_twins.clone();
        let _ = tokio::task::spawn_blocking(move || {
            if let Some(shared) = shared {
                shared.stop();
            }
            projector.stop()
        })
        .await;
    }
}

/// Loads (or creates) a 32-byte key kept as hex in `path`.
fn load_or_create_secret(path: &Path) -> Result<[u8; 32]> {
    if path.exists() {
        let text = std::fs::read_to_string(path)?;
        let bytes =
            hex::decode(text.trim()).with_context(|| format!("{} is not hex", path.display()))?;
        return bytes
            .try_into()
            .map_err(|_| anyhow::anyhow!("{} must hold 32 bytes", path.display()));
    }
    use rand_core::RngCore;
    let mut key = [0u8; 32];
    rand_core::OsRng.fill_bytes(&mut key);
    write_private(path, &format!("{}\n", hex::encode(key)))?;
    Ok(key)
}

/// Opens a node on `data`: the log, the twins (resuming the projection),
/// the registry authority (bootstrapping the registry on a new log), the
/// SCITT service (under `policy`), and the token endpoint, all on the
/// system clock. `static_keys` are issuers accepted for statements about
/// subjects other than twins.
pub async fn open_node(
    data: &Path,
    origin: Option<&str>,
    config: LogConfig,
    static_keys: Option<Arc<dyn transparency::KeyDirectory>>,
    policy: transparency::RegistrationPolicy,
) -> Result<(Node, bool)> {
    let clock = Arc::new(SystemClock);
    open_node_with_clock(data, origin, config, static_keys, policy, clock).await
}

/// What every fold of this product's logs is given besides the log (see
/// [`twin::FoldRules`]): the default consensus policy and the built-in
/// statement types: the DataTrails event
/// ([`service::archivist::event_type`]), the device report
/// ([`service::devices::report_type`]) and the suppression of a posture
/// finding ([`service::suppressions::suppression_type`], keyed by rule and
/// group). Serving, `reindex`, the demo's
/// check and the benchmarks all fold with these, so that a log gives the
/// same twins everywhere.
pub fn fold_rules() -> twin::FoldRules {
    let types = twin::BuiltinTypes::new([
        service::archivist::event_type(),
        service::devices::report_type(),
        service::detection::alarm_verified_type(),
        service::detection::incident_updated_type(),
        service::suppressions::suppression_type(),
        service::ssvc::technical_type(),
        service::ssvc::mission_type(),
    ])
    .and_then(|t| {
        t.keyed(
            service::suppressions::SUPPRESSION_TYPE,
            &service::suppressions::suppression_key_fields(),
        )
    })
    .and_then(|t| {
        service::ssvc::key_fields()
            .into_iter()
            .try_fold(t, |t, (ty, fields)| t.keyed(ty, fields))
    })
    .unwrap_or_else(|e| unreachable!("the built-in statement types are valid: {e}"));
    twin::FoldRules {
        policy: twin::ConsensusPolicy::default(),
        builtin_types: Arc::new(types),
    }
}

/// [`open_node`] on `clock` (a fixed one in tests): every time the node
/// reads is `clock`'s.
pub async fn open_node_with_clock(
    data: &Path,
    origin: Option<&str>,
    config: LogConfig,
    static_keys: Option<Arc<dyn transparency::KeyDirectory>>,
    policy: transparency::RegistrationPolicy,
    clock: Arc<dyn Clock>,
) -> Result<(Node, bool)> {
    let backend = LogBackend::Embedded;
    open_node_on(data, origin, config, static_keys, policy, clock, &backend).await
}

/// [`open_node_with_clock`] with the log in `backend`.
pub async fn open_node_on(
    data: &Path,
    origin: Option<&str>,
    config: LogConfig,
    static_keys: Option<Arc<dyn transparency::KeyDirectory>>,
    policy: transparency::RegistrationPolicy,
    clock: Arc<dyn Clock>,
    backend: &LogBackend,
) -> Result<(Node, bool)> {
    let log_views_config = (config.witnesses.clone(), config.witness_quorum);
    let (log, created) = open_log_on(data, origin, config, backend)?;
    let store = twin_store::TwinStore::open(&data.join("twins"))?;
    // Payloads and read records: in the schema with several nodes, so that
    // every node folds a payload another node took, and lists its reads.
    let payloads: Arc<dyn twin_store::SideStore> = match backend {
        LogBackend::Postgres(options) => Arc::new(pg_store::PgSide::open(options)?),
        LogBackend::Embedded => Arc::new(twin_store::PayloadStore::open(&data.join("payloads"))?),
    };
    let shared_twins = match backend {
        LogBackend::Postgres(options) => Some(start_shared_twins(&log, options, &payloads)?),
        LogBackend::Embedded => None,
    };
    let projector = twin_store::Projector::start(
        log.clone(),
        store,
        Some(payloads),
        fold_rules(),
        // This node's own log: every twin statement in it passed the
        // registration policy's signature check (raw appends of twin
        // statements are refused), so the projector does not verify again.
        twin_store::Signatures::TrustAdmission,
    )?;
    let directory = Arc::new(twin_store::TwinDirectory::new(
        projector.clone(),
        static_keys,
    ));
    let issuer = log.origin().to_string();
    let scitt = open_transparency_with_clock(
        data,
        &log,
        directory.clone(),
        &issuer,
        policy,
        clock.clone(),
    )?;
    let authority_key = {
        let path = authority_key_path(data);
        if path.exists() {
            let pem = std::fs::read_to_string(&path)?;
            scitt::SigningKey::from_pem(&pem)
                .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?
        } else {
            let key = scitt::SigningKey::generate(scitt::Algorithm::EdDSA, &mut rand_core::OsRng);
            write_private(&path, &key.to_pem())?;
            key
        }
    };
    let authority = Arc::new((authority_id(&issuer), authority_key));
    let credentials_path = credentials_path(data);
    let shared_credentials = match backend {
        LogBackend::Postgres(options) => Some(pg_store::PgCredentials::open(options)?),
        LogBackend::Embedded => None,
    };
    let credentials_file = Arc::new(CredentialsFile::open(
        credentials_path.clone(),
        shared_credentials,
    )?);
    let token_key = access::TokenKey::from_bytes(load_or_create_secret(&data.join("token.key"))?);
    let tokens = Arc::new({
        let file = credentials_file.clone();
        http_api::oauth::TokenEndpoint::new(credentials_file.credentials.clone(), token_key)
            .with_clock(clock.clone())
            .with_reload(move || file.reload_if_changed())
    });
    let risks = twin_store::RiskService::with_store(
        projector.clone(),
        deadline_policy(data)?,
        advisory_store::AdvisoryStore::open(&data.join("advisories"))?,
        Some(&data.join("advisories-submitted")),
    )?;
    // One recorder for every API: its sequence orders the read records of
    // one millisecond, so a second one would overwrite the first's.
    let reads = service::ReadRecorder::new(projector.clone(), clock.clone());
    let archivist_dir = data.join("archivist");
    let archivist_store = Arc::new(
        twin_store::archivist::FileArchivistStore::open(
            &archivist_dir,
            twin_store::StorageLimits::default(),
        )
        .with_context(|| {
            format!(
                "opening the Archivist API's data in {}",
                archivist_dir.display()
            )
        })?,
    );
    let archivist = service::ArchivistService::new(
        projector.clone(),
        scitt.clone(),
        reads.clone(),
        archivist_signer(authority.clone(), clock.clone()),
        archivist_store.clone(),
        archivist_store.clone(),
    );
    let devices = service::devices::DeviceViews::new(
        projector.clone(),
        scitt.clone(),
        reads.clone(),
        clock.clone(),
    )
    .map_err(|e| anyhow::anyhow!("the posture rule library: {e}"))?
    .with_advisories(risks.clone());
    let detection = Arc::new(service::detection::DetectionState::new());
    let detection_notifier: detection::NotifierSlot = Arc::default();
    detection::start(
        detection.clone(),
        projector.clone(),
        scitt.clone(),
        detection_notifier.clone(),
        clock.clone(),
    );
    let alarms = service::alarms::AlarmViews::new(
        projector.clone(),
        detection.clone(),
        reads.clone(),
        service::delegate::Delegate::new(
            projector.clone(),
            scitt.clone(),
            archivist_signer(authority.clone(), clock.clone()),
        ),
        clock.clone(),
    );
    let suppressions = service::suppressions::SuppressionService::new(
        projector.clone(),
        scitt.clone(),
        reads.clone(),
        archivist_signer(authority.clone(), clock.clone()),
    )
    .map_err(|e| anyhow::anyhow!("the posture rule library: {e}"))?;
    let cra = service::cra::CraService::new(
        projector.clone(),
        scitt.clone(),
        risks.clone(),
        archivist_signer(authority.clone(), clock.clone()),
        clock.clone(),
    );
    let ssvc = service::ssvc::SsvcService::new(
        projector.clone(),
        scitt.clone(),
        risks.clone(),
        reads.clone(),
        archivist_signer(authority.clone(), clock.clone()),
    );
    let log_views = service::log_status::LogViews::new(
        log.clone(),
        log_views_config.0,
        log_views_config.1,
        clock.clone(),
    );
    let node = Node {
        archivist,
        archivist_store,
        devices,
        detection,
        alarms,
        detection_notifier,
        suppressions,
        cra,
        ssvc,
        device_channel: Arc::default(),
        device_stats: Arc::new(device_channel::IngestStats::default()),
        reads,
        risks,
        notifier: None,
        pump: None,
        authority,
        log,
        scitt,
        projector,
        shared_twins,
        tokens,
        credentials_path,
        credentials_file,
        storage: twin_store::StorageLimits::default(),
        directory,
        log_views,
        clock,
    };
    bootstrap(&node).await?;
    // Advisory changes made while the node was stopped (`sectwin vuln
    // import`), or not recorded before a crash, enter the log now.
    let signer = node.change_signer();
    node.risks
        .record_changes(&node.scitt, &*signer)
        .await
        .context("recording advisory changes in the log")?;
    watch_credentials(&node);
    Ok((node, created))
}

/// Starts keeping the twins in the cluster's schema (`pg_store::PgTwins`)
/// while this node sequences.
fn start_shared_twins(
    log: &Log,
    options: &pg_store::PgOptions,
    payloads: &Arc<dyn twin_store::SideStore>,
) -> Result<twin_store::SharedProjector> {
    let store = Arc::new(pg_store::PgTwins::open(options)?);
    let role = log.clone();
    let active = Arc::new(move || !matches!(role.role(), log_service::cluster::Role::Follower(_)));
    Ok(twin_store::SharedProjector::start(
        log.clone(),
        store,
        Some(payloads.clone()),
        fold_rules(),
        twin_store::Signatures::TrustAdmission,
        active,
    )?)
}

/// Registers the authority as the registry's root on a log that has none
/// (the statement is deterministic, so a repeat is a duplicate, not a fork).
async fn bootstrap(node: &Node) -> Result<()> {
    if node.projector.meta().registry.authority().is_some() {
        return Ok(());
    }
    // The projector resumes from what its store holds, which may be behind
    // the log after a crash: decide on the whole published log, so that a
    // restart (read-only, on a full disk) does not try to append the root
    // again.
    let published = node.scitt.log().published().size.get();
    node.projector
        .wait_projected(published, std::time::Duration::from_secs(30))
        .await;
    if node.projector.meta().registry.authority().is_some() {
        return Ok(());
    }
    let (id, key) = &*node.authority;
    let payload = serde_json::json!({
        "type": "stakeholder-registered",
        "name": format!("{id} (registry authority)"),
        "roles": [],
        "keys": [{"pem": key.public_key().to_pem()}],
    });
    let statement = node.authority_statement(&format!("stakeholder:{id}"), &payload);
    match node.scitt.register(statement).await {
        // Serve only once the registry has its root.
        Ok(r) => {
            let projected = node
                .projector
                .wait_projected(r.index.get() + 1, std::time::Duration::from_secs(30))
                .await;
            if !projected {
                bail!("the registry bootstrap was not projected within 30 s");
            }
            Ok(())
        }
        // Another authority holds this log's registry: this node's key is not it.
        Err(transparency::RegisterError::Refused(why)) => {
            tracing::warn!("registry bootstrap refused: {why}");
            Ok(())
        }
        Err(e) => Err(anyhow::anyhow!(
            "bootstrapping the stakeholder registry: {e}"
        )),
    }
}

/// Reloads the credentials file when another process (`sectwin credential
/// create|revoke`) changes it.
fn watch_credentials(node: &Node) {
    let file = node.credentials_file.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            file.reload_if_changed();
        }
    });
}

/// The credentials file and the credentials loaded from it, reloaded when
/// its modification time changes: every second, and when a client presents
/// an unknown client id (so a credential just created works at once).
pub struct CredentialsFile {
    path: PathBuf,
    credentials: Arc<parking_lot::RwLock<access::Credentials>>,
    seen: parking_lot::Mutex<Option<std::time::SystemTime>>,
    /// The credentials every node of a cluster shares (`--database`).
    shared: Option<pg_store::PgCredentials>,
    /// The shared credentials' version last read.
    shared_seen: parking_lot::Mutex<Option<u64>>,
}

impl CredentialsFile {
    /// Opens the file; with `shared`, merges it with the cluster's
    /// credentials both ways before the node serves.
    fn open(path: PathBuf, shared: Option<pg_store::PgCredentials>) -> Result<CredentialsFile> {
        let seen = Self::mtime(&path);
        let loaded = load_credentials(&path)?;
        let file = CredentialsFile {
            path,
            credentials: Arc::new(parking_lot::RwLock::new(loaded.clone())),
            seen: parking_lot::Mutex::new(seen),
            shared,
            shared_seen: parking_lot::Mutex::new(None),
        };
        if let Some(shared) = &file.shared {
            shared
                .merge(&credential_rows(&loaded)?)
                .context("sharing the credentials file with the cluster")?;
            let mut seen = file.seen.lock();
            file.pull(shared, &mut seen)
                .context("reading the cluster's credentials")?;
        }
        Ok(file)
    }

    fn mtime(path: &Path) -> Option<std::time::SystemTime> {
        std::fs::metadata(path).and_then(|m| m.modified()).ok()
    }

    /// Merges the cluster's credentials into this node's if their version
    /// moved, and writes the file again if that changed it; answers whether
    /// it did. `seen`: the file's modification time, as this node wrote it.
    fn pull(
        &self,
        shared: &pg_store::PgCredentials,
        seen: &mut Option<std::time::SystemTime>,
    ) -> Result<bool> {
        let version = shared.version()?;
        if *self.shared_seen.lock() == Some(version) {
            return Ok(false);
        }
        let (version, rows) = shared.rows()?;
        let mut changed = false;
        {
            let mut credentials = self.credentials.write();
            for row in &rows {
                let credential: access::Credential = serde_json::from_str(&row.record)
                    .with_context(|| format!("the cluster's credential {}", row.client_id))?;
                changed |= credentials.merge_one(&credential);
            }
            if changed {
                save_credentials(&self.path, &credentials)?;
                *seen = Self::mtime(&self.path);
            }
        }
        *self.shared_seen.lock() = Some(version);
        Ok(changed)
    }

    /// Reloads the file if it changed since it was last read, and with
    /// several nodes shares the change and takes the others'; answers
    /// whether the credentials changed.
    pub fn reload_if_changed(&self) -> bool {
        let mut seen = self.seen.lock();
        let now = Self::mtime(&self.path);
        let mut changed = false;
        if now != *seen {
            *seen = now;
            match load_credentials(&self.path) {
                Ok(c) => match &self.shared {
                    None => {
                        *self.credentials.write() = c;
                        changed = true;
                    }
                    Some(shared) => {
                        // A file changed by `sectwin credential`: its
                        // creations and revocations go to every node.
                        changed = self.credentials.write().merge(&c);
                        if let Err(e) =
                            credential_rows(&c).and_then(|rows| Ok(shared.merge(&rows)?))
                        {
                            tracing::error!("sharing the credentials: {e:#}");
                        }
                    }
                },
                Err(e) => {
                    tracing::error!("reloading credentials: {e:#}");
                }
            }
        }
        if let Some(shared) = &self.shared {
            match self.pull(shared, &mut seen) {
                Ok(pulled) => changed |= pulled,
                Err(e) => tracing::error!("reading the cluster's credentials: {e:#}"),
            }
        }
        changed
    }
}

/// The application of a node, the one `sectwin serve` runs and the tests
/// exercise: the log under `/log`, SCRAPI, the twins' `/api/v1`, the risk
/// register and notifications, the Archivist (DataTrails) API, and the token
/// endpoint at `/oauth/token`, and the web dashboard at `/`.
pub fn app(node: &Node) -> axum::Router {
    let (ops, http_metrics) = ops::ops(node);
    // Twin statements enter through the registration policy only, so every
    // one in the log had its signature checked on admission (what
    // `reindex --trust-admission` relies on).
    let raw: http_api::EntryFilter = Arc::new(|entry: &[u8]| {
        match scitt::SignedStatement::parse(entry) {
        Ok(st) if twin::ingest::is_twin_subject(st.subject()) => Err(format!(
            "this entry is a signed statement about {:?}: register statements about twins through SCRAPI (POST /entries)",
            st.subject()
        )),
        _ => Ok(()),
    }
    });
    let twins = node.twin_api();
    let notify = match &node.notifier {
        Some(n) => {
            http_api::notify_router(http_api::NotifyApi::new(n.clone(), node.tokens.clone()))
        }
        None => axum::Router::new(),
    };
    let archivist = http_api::archivist_router(http_api::ArchivistApi::new(
        node.archivist.clone(),
        node.tokens.clone(),
    ));
    let device_stats = node.device_stats.clone();
    let stats: http_api::devices_api::ChannelStats = Arc::new(move || {
        let s = device_stats.snapshot();
        api_types::devices::DeviceChannelStats {
            enabled: s.enabled,
            connected: s.connected,
            received: s.received,
            accepted: s.accepted,
            rejected: s
                .rejected
                .iter()
                .map(|(k, v)| ((*k).to_string(), *v))
                .collect(),
        }
    });
    let devices = http_api::devices_router(http_api::DevicesApi::new(
        node.devices.clone(),
        node.alarms.clone(),
        node.tokens.clone(),
        stats,
    ));
    let suppressions = http_api::suppressions_router(http_api::SuppressionsApi::new(
        node.suppressions.clone(),
        node.tokens.clone(),
    ));
    let rollout = http_api::rollout_router(http_api::RolloutApi::new(
        service::rollout::RolloutViews::new(
            node.projector.clone(),
            node.scitt.clone(),
            node.reads.clone(),
        )
        .with_risks(node.risks.clone()),
        node.tokens.clone(),
    ));
    axum::Router::new()
        .merge(archivist)
        .merge(devices)
        .merge(rollout)
        .merge(suppressions)
        .merge(http_api::ssvc_router(http_api::SsvcApi::new(
            node.ssvc.clone(),
            node.tokens.clone(),
        )))
        .merge(http_api::cra_router(http_api::CraApi::new(
            node.cra.clone(),
            node.tokens.clone(),
        )))
        .merge(notify)
        .merge(http_api::ota_router(http_api::OtaApi::new(
            service::ota::OtaViews::new(node.log.clone(), node.projector.clone()),
            twins.clone(),
            node.risks.clone(),
        )))
        .merge(http_api::risk_router(http_api::RiskApi::new(
            twins.clone(),
            node.risks.clone(),
            node.change_signer(),
        )))
        .nest(
            "/log",
            http_api::log_router(http_api::LogApi::new(node.log.clone()).with_entry_filter(raw)),
        )
        .merge(http_api::scrapi_router(
            http_api::ScrapiApi::new(node.scitt.clone()).with_clock(node.clock.clone()),
        ))
        .merge(http_api::twin_router(twins))
        .merge(http_api::log_status_router(node.log_views.clone()))
        .merge(http_api::decisions_router(http_api::DecisionsApi::new(
            service::decisions::DecisionService::new(
                node.projector.clone(),
                node.scitt.clone(),
                archivist_signer(node.authority.clone(), node.clock.clone()),
            ),
            node.tokens.clone(),
        )))
        .merge(http_api::dashboard_router())
        .merge(http_api::oauth::token_routes(
            node.tokens.clone(),
            "/oauth/token",
        ))
        .merge(http_api::ops_router(ops))
        .merge(cluster::routes(&node.log))
        // Every error answer in its API's problem format, 404 and 405 included.
        .layer(axum::middleware::from_fn(http_api::problem::fill_errors))
        // Every request counted, timed and named (outermost: it sees the
        // status the client gets).
        .layer(axum::middleware::from_fn_with_state(
            http_metrics,
            http_api::ops_api::track,
        ))
}

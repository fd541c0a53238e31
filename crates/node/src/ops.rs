//! What an operator watches a node with: the metrics at `/metrics` (one
//! registry: the log's histograms and counters, the HTTP layer's, and a
//! collector that reads everything else when scraped), and the readiness
//! checks of `/readyz`. The routes and the HTTP layer are `http_api`'s
//! ([`http_api::ops_api`]).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use api_types::ops::{Readiness, ReadinessCheck};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;

use crate::Node;

/// The projector is ready while at most this many durable entries wait to
/// be folded into the twins.
pub const READY_PROJECTOR_LAG_ENTRIES_MAX: u64 = 10_000;
/// How often the sizes of the data directory's stores are measured (a walk
/// of the directory: not on every scrape).
pub const STORE_SIZES_INTERVAL_S: u64 = 60;

/// The operations routes and the HTTP layer's metrics of `node`.
pub fn ops(node: &Node) -> (http_api::OpsApi, http_api::HttpMetrics) {
    let http = http_api::HttpMetrics::default();
    let mut registry = Registry::default();
    let log = node.log.metrics();
    registry.register(
        "sectwin_log_append_duration_seconds",
        "From an append's arrival to its durable, sequenced answer",
        log.append_seconds.clone(),
    );
    registry.register(
        "sectwin_log_integration_duration_seconds",
        "From a group commit's acknowledgment to the first published checkpoint covering it",
        log.integration_seconds.clone(),
    );
    registry.register(
        "sectwin_log_witness_failures",
        "Witness requests that brought no cosignature, by witness",
        log.witness_failures.clone(),
    );
    registry.register(
        "sectwin_log_quorum_failures",
        "Checkpoints not published because the witness quorum was not met",
        log.quorum_failures.clone(),
    );
    registry.register(
        "sectwin_http_requests",
        "API requests by route, method and status",
        http.requests.clone(),
    );
    registry.register(
        "sectwin_http_request_duration_seconds",
        "API request durations by route and method",
        http.durations.clone(),
    );
    let data = node
        .credentials_path
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    let sizes = StoreSizes::start(data);
    registry.register_collector(Box::new(NodeCollector {
        node: NodeParts::of(node),
        sizes,
    }));
    let registry = Arc::new(registry);
    let parts = NodeParts::of(node);
    let authority = node.authority.clone();
    let ready = Arc::new(move || readiness(&parts, &authority));
    let metrics = Arc::new(move || {
        let mut text = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut text, &registry) {
            tracing::error!(error = %e, "encoding the metrics");
        }
        text
    });
    (http_api::OpsApi::new(ready, metrics), http)
}

/// What the collector and the checks read of a node.
#[derive(Clone)]
struct NodeParts {
    log: log_service::Log,
    views: service::log_status::LogViews,
    projector: twin_store::Projector,
    shared_twins: Option<twin_store::SharedProjector>,
    risks: Arc<twin_store::RiskService>,
    scitt: Arc<transparency::TransparencyService>,
    notifier: Option<notify::Notifier>,
    device_stats: Arc<device_channel::IngestStats>,
    clock: Arc<dyn clock::Clock>,
}

impl std::fmt::Debug for NodeParts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeParts").finish_non_exhaustive()
    }
}

impl NodeParts {
    fn of(node: &Node) -> NodeParts {
        NodeParts {
            log: node.log.clone(),
            views: node.log_views.clone(),
            projector: node.projector.clone(),
            shared_twins: node.shared_twins.clone(),
            risks: node.risks.clone(),
            scitt: node.scitt.clone(),
            notifier: node.notifier.clone(),
            device_stats: node.device_stats.clone(),
            clock: node.clock.clone(),
        }
    }
}

/// The readiness of the node whose parts are `p`.
fn readiness(p: &NodeParts, authority: &(String, scitt::SigningKey)) -> Readiness {
    let mut checks = Vec::new();
    let mut check = |name: &str, result: Result<String, String>| {
        let (ok, detail) = match result {
            Ok(d) => (true, d),
            Err(d) => (false, d),
        };
        checks.push(ReadinessCheck {
            name: name.into(),
            ok,
            detail,
        });
    };
    check(
        "store",
        match p.log.store().checkpoint() {
            Ok(Some(_)) => Ok("the log's store answers".into()),
            Ok(None) => Err("the log's store holds no checkpoint".into()),
            Err(e) => Err(format!("the log's store: {e}")),
        },
    );
    let following = match p.log.role() {
        log_service::Role::Follower(h) => Some(format!(
            "{} ({}) sequences: appends are forwarded to it",
            h.node, h.url
        )),
        log_service::Role::Single | log_service::Role::Sequencer => None,
    };
    check(
        "log_writer",
        match p.log.fault() {
            None if following.is_some() => Ok(following.unwrap_or_default()),
            Some(f) => Err(format!("read-only: {f}")),
            None if p.log.is_closing() => Err("stopping".into()),
            None => Ok("appending".into()),
        },
    );
    let probe =
        scitt::StatementBuilder::new(&authority.0, "readiness", b"probe").sign(&authority.1);
    check(
        "signer",
        match scitt::SignedStatement::parse(&probe)
            .and_then(|s| s.verify(&authority.1.public_key()))
        {
            Ok(()) => Ok(format!("{} signs", authority.0)),
            Err(e) => Err(format!("the registry authority cannot sign: {e}")),
        },
    );
    let lag = p
        .log
        .durable_size()
        .get()
        .saturating_sub(p.projector.size());
    check(
        "projector",
        if lag <= READY_PROJECTOR_LAG_ENTRIES_MAX {
            Ok(format!("{lag} entries behind the log"))
        } else {
            Err(format!(
                "{lag} entries behind the log (ready at {READY_PROJECTOR_LAG_ENTRIES_MAX} or fewer)"
            ))
        },
    );
    Readiness {
        ready: checks.iter().all(|c| c.ok),
        role: p.log.role().name().into(),
        checks,
    }
}

/// The sizes of the data directory's stores, measured in the background.
#[derive(Debug)]
struct StoreSizes {
    latest: Arc<parking_lot::Mutex<Vec<(String, u64)>>>,
}

impl StoreSizes {
    /// Measures `data`'s top-level entries every [`STORE_SIZES_INTERVAL_S`]
    /// on a thread of its own, which stops when the sizes are dropped.
    fn start(data: PathBuf) -> StoreSizes {
        let latest = Arc::new(parking_lot::Mutex::new(Vec::new()));
        let weak = Arc::downgrade(&latest);
        let spawned = std::thread::Builder::new()
            .name("store-sizes".into())
            .spawn(move || loop {
                let sizes = measure(&data);
                match weak.upgrade() {
                    Some(slot) => *slot.lock() = sizes,
                    None => return,
                }
                std::thread::sleep(Duration::from_secs(STORE_SIZES_INTERVAL_S));
            });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "store sizes will not be measured");
        }
        StoreSizes { latest }
    }
}

/// The bytes under each top-level entry of `data`.
fn measure(data: &Path) -> Vec<(String, u64)> {
    fn bytes(path: &Path) -> u64 {
        match std::fs::symlink_metadata(path) {
            Ok(m) if m.is_dir() => std::fs::read_dir(path)
                .map(|entries| entries.flatten().map(|e| bytes(&e.path())).sum())
                .unwrap_or(0),
            Ok(m) => m.len(),
            Err(_) => 0,
        }
    }
    let mut out: Vec<(String, u64)> = std::fs::read_dir(data)
        .map(|entries| {
            entries
                .flatten()
                .filter(|e| e.path().is_dir())
                .map(|e| {
                    (
                        e.file_name().to_string_lossy().into_owned(),
                        bytes(&e.path()),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// Reads the node's state when scraped. A family without samples is left
/// out (OpenMetrics parsers refuse one).
#[derive(Debug)]
struct NodeCollector {
    node: NodeParts,
    sizes: StoreSizes,
}

fn gauge(encoder: &mut DescriptorEncoder, name: &str, help: &str, value: i64) -> std::fmt::Result {
    let g = ConstGauge::new(value);
    let m = encoder.encode_descriptor(name, help, None, g.metric_type())?;
    g.encode(m)
}

fn gauge_f(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    value: f64,
) -> std::fmt::Result {
    let g = ConstGauge::new(value);
    let m = encoder.encode_descriptor(name, help, None, g.metric_type())?;
    g.encode(m)
}

fn counter(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    value: u64,
) -> std::fmt::Result {
    let c = ConstCounter::new(value);
    let m = encoder.encode_descriptor(name, help, None, c.metric_type())?;
    c.encode(m)
}

fn signed(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl Collector for NodeCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> std::fmt::Result {
        let e = &mut encoder;
        let p = &self.node;
        // Which node sequences: `single` (the only node of its log),
        // `sequencer` or `follower` (several nodes on one database).
        {
            let g = ConstGauge::new(1i64);
            let mut family = e.encode_descriptor(
                "sectwin_node_role",
                "This node's role (1 for the role it has)",
                None,
                g.metric_type(),
            )?;
            g.encode(family.encode_family(&[("role", p.log.role().name())])?)?;
        }
        let status = p.views.status();
        let durable = p.log.durable_size().get();
        gauge(
            e,
            "sectwin_log_entries",
            "Entries durable in the log",
            signed(durable),
        )?;
        gauge(
            e,
            "sectwin_log_published_entries",
            "The published checkpoint's tree size",
            signed(status.size),
        )?;
        gauge(
            e,
            "sectwin_log_pending_entries",
            "Entries waiting for the sequencer",
            signed(status.pending),
        )?;
        gauge(
            e,
            "sectwin_log_integrating_entries",
            "Entries durable but not yet in a published checkpoint",
            signed(status.integrating),
        )?;
        if let Some(ms) = p.log.metrics().published_at_unix_ms() {
            let now_ms = p.clock.now_unix_ms();
            let age_s = now_ms.saturating_sub(ms) as f64 / 1e3;
            gauge_f(
                e,
                "sectwin_log_checkpoint_age_seconds",
                "Time since a checkpoint was last published",
                age_s,
            )?;
        }
        if !status.cosignatures.is_empty() {
            let g = ConstGauge::new(0i64);
            let mut family = e.encode_descriptor(
                "sectwin_log_cosignature_age_seconds",
                "Age of each witness's cosignature on the published checkpoint",
                None,
                g.metric_type(),
            )?;
            for c in &status.cosignatures {
                ConstGauge::new(c.age_s)
                    .encode(family.encode_family(&[("witness", c.name.as_str())])?)?;
            }
        }
        gauge(
            e,
            "sectwin_log_writer_faulted",
            "Whether the log writer stopped (the log is read-only)",
            i64::from(status.fault.is_some()),
        )?;
        counter(
            e,
            "sectwin_log_writer_restarts",
            "Times the log writer was restarted after a fault",
            p.log.restarts(),
        )?;
        let counts = p.scitt.registration_counts();
        counter(
            e,
            "sectwin_registrations_accepted",
            "Signed statements registered (new or registered before)",
            counts.accepted(),
        )?;
        {
            let c = ConstCounter::new(0u64);
            let mut family = e.encode_descriptor(
                "sectwin_registrations_refused",
                "Signed statements refused, by reason",
                None,
                c.metric_type(),
            )?;
            for (reason, n) in counts.refused() {
                ConstCounter::new(n).encode(family.encode_family(&[("reason", reason)])?)?;
            }
        }
        gauge(
            e,
            "sectwin_projector_lag_entries",
            "Durable entries not yet folded into the twins",
            signed(durable.saturating_sub(p.projector.size())),
        )?;
        gauge(
            e,
            "sectwin_projector_entries",
            "Entries the twins reflect",
            signed(p.projector.size()),
        )?;
        if let Some(shared) = &p.shared_twins {
            gauge(
                e,
                "sectwin_shared_projection_lag_entries",
                "Durable entries not yet folded into the twins in PostgreSQL",
                signed(durable.saturating_sub(shared.size())),
            )?;
            gauge(
                e,
                "sectwin_shared_projection_writer",
                "Whether this node writes the twins in PostgreSQL",
                i64::from(shared.writing()),
            )?;
        }
        if let Some(n) = &p.notifier {
            let d = n.delivery_counts();
            counter(
                e,
                "sectwin_notifications_delivered",
                "Notification deliveries that succeeded",
                d.delivered,
            )?;
            counter(
                e,
                "sectwin_notifications_failed",
                "Notification deliveries given up",
                d.failed,
            )?;
            counter(
                e,
                "sectwin_notifications_retries",
                "Notification delivery attempts that failed and were scheduled again",
                d.retried,
            )?;
            gauge(
                e,
                "sectwin_notifications_pending",
                "Notification deliveries waiting",
                signed(d.pending),
            )?;
            gauge(
                e,
                "sectwin_notifier_active",
                "1 if this node sends notifications (the sequencer of several nodes), else 0",
                i64::from(n.is_active()),
            )?;
        }
        gauge_f(
            e,
            "sectwin_register_build_seconds",
            "What the last risk register step that made a new register cost",
            p.risks.last_build().as_secs_f64(),
        )?;
        let s = p.device_stats.snapshot();
        counter(
            e,
            "sectwin_device_reports_received",
            "Messages received on the device reports topics",
            s.received,
        )?;
        counter(
            e,
            "sectwin_device_reports_accepted",
            "Device reports registered in the log",
            s.accepted,
        )?;
        {
            let c = ConstCounter::new(0u64);
            let mut family = e.encode_descriptor(
                "sectwin_device_reports_rejected",
                "Device reports refused, by reason",
                None,
                c.metric_type(),
            )?;
            for (reason, n) in &s.rejected {
                ConstCounter::new(*n).encode(family.encode_family(&[("reason", *reason)])?)?;
            }
        }
        gauge(
            e,
            "sectwin_device_channel_enabled",
            "Whether this node runs a device report ingester (serve --device-broker)",
            i64::from(s.enabled),
        )?;
        gauge(
            e,
            "sectwin_device_channel_connected",
            "Whether the device report ingester is connected to its broker",
            i64::from(s.connected),
        )?;
        let sizes = self.sizes.latest.lock().clone();
        if !sizes.is_empty() {
            let g = ConstGauge::new(0i64);
            let mut family = e.encode_descriptor(
                "sectwin_store_bytes",
                "Bytes each store of the data directory takes (measured every minute)",
                None,
                g.metric_type(),
            )?;
            for (store, bytes) in &sizes {
                ConstGauge::new(signed(*bytes))
                    .encode(family.encode_family(&[("store", store.as_str())])?)?;
            }
        }
        Ok(())
    }
}

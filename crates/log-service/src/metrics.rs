//! The log's own measurements for an operator's monitoring (the node
//! exposes them at `/metrics`): histograms of how long an append waits to
//! be durable and how long a durable entry waits for a published
//! checkpoint, witness failures by witness, and when a checkpoint was last
//! published. Kept in memory only; counted from the log's opening.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;

/// Latency buckets, in seconds: from a millisecond to a minute.
pub const LATENCY_BUCKETS_S: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 60.0,
];

/// The labels of a witness's counters.
pub type WitnessLabels = Vec<(String, String)>;

/// The log's measurements (cheap to clone: the metrics are shared).
#[derive(Debug, Clone)]
pub struct LogMetrics {
    /// From an append's call to its answer (durable and sequenced), for
    /// appends that were sequenced (not duplicates).
    pub append_seconds: Histogram,
    /// From a group commit's acknowledgment to the first published
    /// checkpoint covering it.
    pub integration_seconds: Histogram,
    /// Witness requests that brought no cosignature, by witness.
    pub witness_failures: Family<WitnessLabels, Counter>,
    /// Checkpoints signed but not published because the witness quorum was
    /// not met.
    pub quorum_failures: Counter,
    /// When a checkpoint was last published (unix milliseconds; 0 before the
    /// first since the log opened).
    pub(crate) published_at_unix_ms: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl Default for LogMetrics {
    fn default() -> Self {
        LogMetrics {
            append_seconds: Histogram::new(LATENCY_BUCKETS_S),
            integration_seconds: Histogram::new(LATENCY_BUCKETS_S),
            witness_failures: Family::default(),
            quorum_failures: Counter::default(),
            published_at_unix_ms: Default::default(),
        }
    }
}

impl LogMetrics {
    /// A witness failed to cosign.
    pub(crate) fn witness_failed(&self, witness: &str) {
        self.witness_failures
            .get_or_create(&vec![("witness".to_string(), witness.to_string())])
            .inc();
    }

    /// A checkpoint was published now.
    pub(crate) fn published_now(&self) {
        let ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        self.published_at_unix_ms
            .store(ms, std::sync::atomic::Ordering::Relaxed);
    }

    /// When a checkpoint was last published since the log opened (unix
    /// milliseconds).
    pub fn published_at_unix_ms(&self) -> Option<u64> {
        match self
            .published_at_unix_ms
            .load(std::sync::atomic::Ordering::Relaxed)
        {
            0 => None,
            ms => Some(ms),
        }
    }
}

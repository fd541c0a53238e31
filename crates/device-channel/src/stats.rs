//! What the ingester counts: reports accepted (registered in the log) and
//! refused, per reason ([`posture::replay::RejectReason`]), shown by the API
//! and as Prometheus metrics.

use std::sync::atomic::{AtomicU64, Ordering};

use posture::replay::RejectReason;
use serde::Serialize;

/// The counters, shared between the ingester and the readers.
#[derive(Debug, Default)]
pub struct IngestStats {
    received: AtomicU64,
    accepted: AtomicU64,
    rejected: [AtomicU64; RejectReason::ALL.len()],
    connected: std::sync::atomic::AtomicBool,
    enabled: std::sync::atomic::AtomicBool,
}

/// A copy of the counters at one moment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatsSnapshot {
    /// Messages received on the reports topics.
    pub received: u64,
    /// Reports registered in the log (each once, however often delivered).
    pub accepted: u64,
    /// Reports refused, by reason (every reason listed, zero included).
    pub rejected: std::collections::BTreeMap<&'static str, u64>,
    /// Whether the ingester is connected to its broker now.
    pub connected: bool,
    /// Whether an ingester runs (counts into these counters).
    pub enabled: bool,
}

impl IngestStats {
    /// A message arrived.
    pub fn received(&self) {
        self.received.fetch_add(1, Ordering::Relaxed);
    }

    /// A report was registered.
    pub fn accepted(&self) {
        self.accepted.fetch_add(1, Ordering::Relaxed);
    }

    /// A report was refused for `reason`.
    pub fn rejected(&self, reason: RejectReason) {
        let i = RejectReason::ALL
            .iter()
            .position(|r| *r == reason)
            .unwrap_or_default();
        if let Some(counter) = self.rejected.get(i) {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// An ingester counts into these counters from now on.
    pub fn set_enabled(&self) {
        self.enabled.store(true, Ordering::Relaxed);
    }

    /// Whether the ingester holds a session with its broker.
    pub fn set_connected(&self, connected: bool) {
        self.connected.store(connected, Ordering::Relaxed);
    }

    /// The counters now.
    pub fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            received: self.received.load(Ordering::Relaxed),
            accepted: self.accepted.load(Ordering::Relaxed),
            rejected: RejectReason::ALL
                .iter()
                .zip(&self.rejected)
                .map(|(r, c)| (r.as_str(), c.load(Ordering::Relaxed)))
                .collect(),
            connected: self.connected.load(Ordering::Relaxed),
            enabled: self.enabled.load(Ordering::Relaxed),
        }
    }
}

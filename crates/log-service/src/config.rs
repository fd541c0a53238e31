//! Log service configuration: every limit has a unit in its name and a reason
//! beside its default.

use std::time::Duration;

/// A witness the log asks for cosignatures.
#[derive(Debug, Clone)]
pub struct WitnessConfig {
    /// Submission prefix URL (the log POSTs `<url>/add-checkpoint`).
    pub url: String,
    /// The witness's verifier key (signature type 0x04).
    pub vkey: String,
}

/// Configuration of one log.
#[derive(Debug, Clone)]
pub struct LogConfig {
    /// Checkpoints are published at most this long after the first entry they
    /// cover became durable. Default 500 ms so that add → checkpoint stays
    /// under 1 s at the 99th percentile including integration time.
    pub checkpoint_interval: Duration,
    /// Largest group commit: bounds the latency of one fdatasync batch and the
    /// memory of one journal record (8192 × 64 KiB = 512 MiB worst case).
    pub batch_entries_max: usize,
    /// Entries waiting for the sequencer; beyond this, appends are refused
    /// with back-pressure (HTTP 503 + Retry-After) instead of queueing without
    /// bound.
    pub pending_entries_max: usize,
    /// Largest entry. C2SP entry bundles use a 16-bit length prefix.
    pub entry_bytes_max: usize,
    /// How often tiles, bundles and the index are made durable (syncfs), which
    /// bounds recovery replay time and journal disk use.
    pub sync_interval: Duration,
    /// Witnesses to ask for cosignatures of each new checkpoint.
    pub witnesses: Vec<WitnessConfig>,
    /// How many of `witnesses` must cosign before a checkpoint is published
    /// (0: publish without waiting for witnesses).
    pub witness_quorum: usize,
    /// How long the checkpointer waits for witnesses per checkpoint.
    pub witness_timeout: Duration,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            checkpoint_interval: Duration::from_millis(500),
            batch_entries_max: 8192,
            pending_entries_max: 262_144,
            entry_bytes_max: tlog::ENTRY_BYTES_MAX,
            sync_interval: Duration::from_secs(5),
            witnesses: Vec::new(),
            witness_quorum: 0,
            witness_timeout: Duration::from_secs(5),
        }
    }
}

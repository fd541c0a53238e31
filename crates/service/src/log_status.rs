//! The log's status as any client may read it (`GET /api/v1/log`): the
//! published checkpoint, its cosignatures checked against the witnesses
//! the node is configured with and their age by the node's clock, the
//! entries not yet published, and the keys a client needs to verify the
//! log itself (the log's verifier key, the witnesses' keys and quorum).
//!
//! Deliberately absent: any claim that these keys are trustworthy: they are
//! what this node announces; a client pins them on first use or compares
//! them with keys it got elsewhere (`sectwin log vkey`, the witnesses'
//! operators).

use std::sync::Arc;

use api_types::dashboard::{CosignatureView, IntegrationLatency, LogStatus, WitnessView};
use log_service::{Log, WitnessConfig};
use tlog::note::{verify_note, KeyType, Note, Verifier};

use crate::Clock;

/// The log's status, read from the log and the node's witness
/// configuration.
#[derive(Clone)]
pub struct LogViews {
    log: Log,
    witnesses: Arc<Vec<WitnessConfig>>,
    quorum: usize,
    clock: Arc<dyn Clock>,
}

impl LogViews {
    /// The status of `log`, whose checkpoints `witnesses` cosign (`quorum`
    /// of them before one is published), with ages by `clock`.
    pub fn new(
        log: Log,
        witnesses: Vec<WitnessConfig>,
        quorum: usize,
        clock: Arc<dyn Clock>,
    ) -> LogViews {
        LogViews {
            log,
            witnesses: Arc::new(witnesses),
            quorum,
            clock,
        }
    }

    /// The status now.
    pub fn status(&self) -> LogStatus {
        use base64::Engine as _;
        let published = self.log.published();
        let text = String::from_utf8_lossy(&published.note).into_owned();
        let now = self.clock.now_unix_s();
        let verifiers: Vec<Verifier> = self
            .witnesses
            .iter()
            .filter_map(|w| Verifier::from_vkey(&w.vkey).ok())
            .collect();
        let mut cosignatures = Vec::new();
        if let Ok(note) = Note::parse(&published.note) {
            // Each configured witness's key on its own: a bad cosignature of
            // one must not hide the good ones of the others.
            let verified: Vec<(String, u32)> = verifiers
                .iter()
                .filter(|v| v.key_type() == KeyType::CosignatureV1)
                .filter_map(|v| verify_note(&note, std::slice::from_ref(v)).ok())
                .flatten()
                .map(|s| (s.name().to_string(), s.key_id()))
                .collect();
            for sig in note.signatures() {
                // A cosignature is 8 bytes of timestamp and 64 of signature
                // (c2sp tlog-cosignature); the log's own signature is 64.
                let Some(ts) = sig
                    .signature()
                    .get(..8)
                    .filter(|_| sig.signature().len() == 72)
                    .and_then(|b| <[u8; 8]>::try_from(b).ok())
                    .map(u64::from_be_bytes)
                else {
                    continue;
                };
                let verified = verified
                    .iter()
                    .any(|(n, id)| n == sig.name() && *id == sig.key_id());
                cosignatures.push(CosignatureView {
                    name: sig.name().to_string(),
                    timestamp: ts,
                    age_s: now.saturating_sub(i64::try_from(ts).unwrap_or(i64::MAX)),
                    verified,
                });
            }
        }
        let size = published.size.get();
        LogStatus {
            checkpoint: text,
            cosignatures,
            integrating: self.log.durable_size().get().saturating_sub(size),
            origin: self.log.origin().to_string(),
            pending: self.log.pending() as u64,
            size,
            root: base64::engine::general_purpose::STANDARD.encode(published.root.as_bytes()),
            vkey: self.log.vkey(),
            witness_quorum: self.quorum as u64,
            witnesses: self
                .witnesses
                .iter()
                .map(|w| WitnessView {
                    name: w.vkey.split('+').next().unwrap_or_default().to_string(),
                    vkey: w.vkey.clone(),
                })
                .collect(),
            fault: self.log.fault(),
            integration_latency: self.log.integration_latency().map(|l| IntegrationLatency {
                samples: l.samples as u64,
                p50_ms: l.p50_ms,
                p99_ms: l.p99_ms,
                max_ms: l.max_ms,
                last_ms: l.last_ms,
            }),
        }
    }
}

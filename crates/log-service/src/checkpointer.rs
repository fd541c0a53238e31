//! The checkpointer thread: integrates what the sequencer made durable, checks
//! the new tree against the previous checkpoint, collects witness cosignatures
//! and publishes.
//!
//! The order of a step is the safety argument:
//! 1. write tiles, bundles and dedup keys ([`LogStore::integrate`]);
//! 2. recompute the root of the new size *from the stored tiles* and compare it
//!    with the sequencer's root (catches a bad tile write);
//! 3. prove and verify consistency with the previous checkpoint from the
//!    stored tiles (a fork is never signed);
//! 4. sign, ask witnesses, publish once the quorum is met;
//! 5. every `sync_interval`, make it all durable and let the journal go.
//!
//! Any failure in 1–3 stops the log (read-only) with the reason, except
//! running out of file descriptors, which is retried (every store call here
//! is idempotent: tiles, bundles and the checkpoint are replaced atomically,
//! dedup keys and the synced size are overwritten with the same values).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use log_store::{Integration, StoreError};
use tlog::{Checkpoint, Hash, TreeSize};

use crate::prover::StoreTiles;
use crate::sequencer::{Published, Shared};

/// Why integrating or checking a step failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CheckError {
    /// The store could not write what the step derived (a full disk): the
    /// tree is not in question, and recovery may succeed later.
    #[error("integration failed: {0}")]
    Storage(StoreError),
    /// The stored tree contradicts the sequencer or the last checkpoint.
    #[error("{0}")]
    Inconsistent(String),
}

/// One unit of work from the sequencer.
pub(crate) struct Job {
    pub(crate) integration: Integration,
    pub(crate) size: TreeSize,
    pub(crate) root: Hash,
}

pub(crate) struct Checkpointer {
    shared: Arc<Shared>,
    /// The latest checkpoint signed: (size, root).
    previous: Option<(TreeSize, Hash)>,
    /// Integrated and checked, not yet published.
    unpublished: Option<(TreeSize, Hash)>,
    last_sync: Instant,
    synced: TreeSize,
    witnesses: Vec<witness::WitnessClient>,
    tiles: StoreTiles,
}

impl Checkpointer {
    pub(crate) fn new(shared: Arc<Shared>, previous: Option<(TreeSize, Hash)>) -> Checkpointer {
        let http = reqwest::Client::builder()
            .timeout(shared.config.witness_timeout)
            .build()
            .unwrap_or_default();
        let witnesses = shared
            .config
            .witnesses
            .iter()
            .filter_map(
                |w| match witness::WitnessClient::new(&w.url, &w.vkey, http.clone()) {
                    Ok(c) => Some(c),
                    Err(e) => {
                        tracing::error!(url = %w.url, error = %e, "ignoring misconfigured witness");
                        None
                    }
                },
            )
            .collect();
        Checkpointer {
            previous,
            unpublished: None,
            last_sync: Instant::now(),
            synced: TreeSize::new(0),
            witnesses,
            tiles: StoreTiles::with_cache(
                shared.store.clone(),
                crate::prover::EDGE_CACHE_TILES_MAX,
            )
            .retrying_descriptors(),
            shared,
        }
    }

    /// Steps 1–3: integrate and check. On error the caller must stop the log.
    pub(crate) fn integrate_and_check(&mut self, job: Job) -> Result<(), CheckError> {
        let store = &self.shared.store;
        self.shared
            .retry_descriptors("integration", || store.integrate(&job.integration))
            .map_err(CheckError::Storage)?;
        self.check(job).map_err(CheckError::Inconsistent)
    }

    fn check(&mut self, job: Job) -> Result<(), String> {
        self.shared
            .integrated_size
            .store(job.integration.to, Ordering::Release);
        let reader = self.tiles.hash_reader(job.size);
        let stored_root = tlog::tree_hash(job.size, &reader).map_err(|e| {
            format!(
                "recomputing the root at {} from stored tiles: {e}",
                job.size
            )
        })?;
        if stored_root != job.root {
            return Err(format!(
                "root at {} from stored tiles ({}) differs from the sequencer's ({})",
                job.size,
                stored_root.to_base64(),
                job.root.to_base64()
            ));
        }
        if let Some((old_size, old_root)) = self.previous {
            if old_size.get() == 0 {
                // The empty tree is consistent with every tree; only its root is checked.
                if old_root != tlog::empty_root() {
                    return Err("the size-0 checkpoint does not carry the empty root".into());
                }
            } else if old_size > job.size {
                return Err(format!(
                    "new tree size {} is below the last checkpoint's {old_size}",
                    job.size
                ));
            } else {
                let proof = tlog::prove_consistency(old_size, job.size, &reader)
                    .map_err(|e| format!("proving consistency {old_size} → {}: {e}", job.size))?;
                tlog::verify_consistency(old_size, job.size, &old_root, &job.root, &proof)
                    .map_err(|e| {
                        format!(
                        "the tree at {} is NOT consistent with the checkpoint at {old_size}: {e}",
                        job.size
                    )
                    })?;
            }
        }
        if self.previous.map(|(s, _)| s) != Some(job.size) {
            self.unpublished = Some((job.size, job.root));
        }
        Ok(())
    }

    /// Step 4: sign, cosign, publish. Returns false if the witness quorum was
    /// not met (the checkpoint stays unpublished and is retried).
    fn publish(&mut self, runtime: &tokio::runtime::Handle) -> Result<bool, String> {
        let Some((size, root)) = self.unpublished else {
            return Ok(true);
        };
        let cp = Checkpoint::new(self.shared.signer.name(), size, root)
            .map_err(|e| format!("building checkpoint: {e}"))?;
        let mut note = tlog::sign_checkpoint(&cp, &self.shared.signer);
        if !self.witnesses.is_empty() {
            let tiles = self.tiles.clone();
            let prove = move |old: TreeSize| -> Result<Vec<Hash>, String> {
                tlog::prove_consistency(old, size, &tiles.hash_reader(size))
                    .map_err(|e| e.to_string())
            };
            let requests = self
                .witnesses
                .iter()
                .map(|w| w.add_checkpoint(&note, &prove));
            let results = runtime.block_on(futures::future::join_all(requests));
            let mut cosigned = 0usize;
            let mut lines = String::new();
            for (w, result) in self.witnesses.iter().zip(results) {
                match result {
                    Ok(sigs) if !sigs.is_empty() => {
                        cosigned += 1;
                        for s in sigs {
                            lines.push_str(&s);
                        }
                    }
                    Ok(_) => {
                        self.shared.metrics.witness_failed(w.name());
                        tracing::warn!(witness = %w.name(), "witness returned no cosignature")
                    }
                    Err(e) => {
                        self.shared.metrics.witness_failed(w.name());
                        tracing::warn!(witness = %w.name(), error = %e, "witness did not cosign")
                    }
                }
            }
            if cosigned < self.shared.config.witness_quorum {
                self.shared.metrics.quorum_failures.inc();
                tracing::warn!(
                    size = size.get(),
                    cosigned,
                    quorum = self.shared.config.witness_quorum,
                    "witness quorum not met; checkpoint not published yet"
                );
                // The checkpoint was signed and may have reached witnesses, so
                // it becomes the base every later tree must extend.
                self.previous = Some((size, root));
                return Ok(false);
            }
            note.extend_from_slice(lines.as_bytes());
        }
        self.shared
            .retry_descriptors("publishing the checkpoint", || {
                self.shared.store.publish_checkpoint(size, &note)
            })
            .map_err(|e| format!("publishing checkpoint: {e}"))?;
        self.previous = Some((size, root));
        self.unpublished = None;
        *self.shared.published.write() = Published {
            size,
            root,
            note: Arc::new(note),
        };
        self.shared.latency.lock().published(
            size.get(),
            std::time::Instant::now(),
            &self.shared.metrics.integration_seconds,
        );
        self.shared.metrics.published_now();
        let _ = self.shared.published_tx.send(size.get());
        Ok(true)
    }

    fn maybe_sync(&mut self, force: bool) -> Result<(), String> {
        let published = self.shared.published.read().size;
        if published > self.synced
            && (force || self.last_sync.elapsed() >= self.shared.config.sync_interval)
        {
            self.shared
                .retry_descriptors("sync", || self.shared.store.sync(published))
                .map_err(|e| format!("sync failed: {e}"))?;
            self.synced = published;
            self.last_sync = Instant::now();
        }
        Ok(())
    }

    /// The thread body: one job at a time until the sequencer goes away.
    pub(crate) fn run(mut self, jobs: flume::Receiver<Job>, runtime: tokio::runtime::Handle) {
        let retry = self.shared.config.checkpoint_interval;
        loop {
            if let Err(reason) = self.publish(&runtime).and_then(|_| self.maybe_sync(false)) {
                self.shared.stop(reason);
                return;
            }
            let job = if self.unpublished.is_some() {
                match jobs.recv_timeout(retry) {
                    Ok(job) => Some(job),
                    Err(flume::RecvTimeoutError::Timeout) => None,
                    Err(flume::RecvTimeoutError::Disconnected) => break,
                }
            } else {
                match jobs.recv_timeout(self.shared.config.sync_interval) {
                    Ok(job) => Some(job),
                    Err(flume::RecvTimeoutError::Timeout) => None,
                    Err(flume::RecvTimeoutError::Disconnected) => break,
                }
            };
            if let Some(job) = job {
                if let Err(reason) = self.integrate_and_check(job) {
                    self.shared.stop(reason.to_string());
                    return;
                }
            }
        }
        // Sequencer gone (shutdown): publish and sync what we have.
        let _ = self.publish(&runtime);
        if let Err(reason) = self.maybe_sync(true) {
            self.shared.stop(reason);
        }
    }
}

//! The twin projection in a store the nodes of a cluster share (PostgreSQL,
//! `pg_store::PgTwins`), kept a fold of the log by one node at a time.
//!
//! Each node still folds the log into its own embedded store, which its API
//! reads. The shared projection is the same fold, in one place every node,
//! and any SQL client, can read. The node that sequences the log writes it
//! ([`SharedProjector::start`]'s `active`); the others only watch its size.
//! A write names the size it was folded onto and the store refuses it if
//! another writer moved the projection since
//! ([`twin::store::StoreError::Moved`]): a former sequencer waking from a
//! pause drops its fold and reads the store again, so two writers never
//! interleave. After any failed write the writer opens the projection
//! again from what the store holds: the log is the source of truth.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use log_service::{Log, Prover};
use parking_lot::Mutex;
use tlog::TreeSize;
use twin::projection::Projection;
use twin::store::{OverlayState, ProjectionStore, StoreError};
use twin::{FoldRules, Meta};

use crate::projector::{fold, prepare, KeyCache, Signatures, CHUNK_ENTRIES};
use crate::side::SideStore;

/// How often a writer with nothing to fold looks at the log again, and how
/// often a passive node reads the shared projection's size.
pub const SHARED_POLL_MS: u64 = 50;
/// How long a writer waits after a failed write before it opens the
/// projection again.
pub const SHARED_RETRY_MS: u64 = 500;

type Shared = Arc<dyn ProjectionStore>;

struct Inner {
    stop: AtomicBool,
    /// The size of the shared projection, as last written or read.
    size: AtomicU64,
    /// Whether this node writes it now.
    writing: AtomicBool,
    fault: Mutex<Option<String>>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

/// Keeps a shared projection store a fold of the log while this node is
/// the one to write it.
#[derive(Clone)]
pub struct SharedProjector {
    inner: Arc<Inner>,
}

/// What the writer folds with.
struct Fold {
    log: Log,
    store: Shared,
    payloads: Option<Arc<dyn SideStore>>,
    rules: FoldRules,
    signatures: Signatures,
}

impl SharedProjector {
    /// Starts the writer's thread: while `active()` answers true it folds
    /// the log's published entries into `store`, resuming from the size
    /// the store holds.
    pub fn start(
        log: Log,
        store: Shared,
        payloads: Option<Arc<dyn SideStore>>,
        rules: FoldRules,
        signatures: Signatures,
        active: Arc<dyn Fn() -> bool + Send + Sync>,
    ) -> std::io::Result<SharedProjector> {
        let inner = Arc::new(Inner {
            stop: AtomicBool::new(false),
            size: AtomicU64::new(0),
            writing: AtomicBool::new(false),
            fault: Mutex::new(None),
            thread: Mutex::new(None),
        });
        let f = Fold {
            log,
            store,
            payloads,
            rules,
            signatures,
        };
        let worker = inner.clone();
        let handle = std::thread::Builder::new()
            .name("shared-projector".into())
            .spawn(move || run(&worker, &f, &*active))?;
        *inner.thread.lock() = Some(handle);
        Ok(SharedProjector { inner })
    }

    /// The log size the shared projection reflects, as last written or read.
    pub fn size(&self) -> u64 {
        self.inner.size.load(Ordering::Acquire)
    }

    /// Whether this node writes the shared projection now.
    pub fn writing(&self) -> bool {
        self.inner.writing.load(Ordering::Acquire)
    }

    /// Why the last write failed, until one succeeds.
    pub fn fault(&self) -> Option<String> {
        self.inner.fault.lock().clone()
    }

    /// Stops the thread (after its current chunk).
    pub fn stop(&self) {
        self.inner.stop.store(true, Ordering::Release);
        if let Some(t) = self.inner.thread.lock().take() {
            let _ = t.join();
        }
    }
}

/// The projection the shared store holds (or an empty one under `rules`).
fn open(f: &Fold) -> Result<Projection<OverlayState<Shared>>, StoreError> {
    let meta = f.store.load_meta()?.unwrap_or(Meta {
        policy: f.rules.policy.clone(),
        ..Meta::default()
    });
    Ok(
        Projection::with_state(meta, OverlayState::new(f.store.clone())?)
            .with_builtin_types(f.rules.builtin_types.clone()),
    )
}

/// Folds entries `[at, to)` of the tree of `target` entries and writes them.
fn step(
    f: &Fold,
    prover: &Prover,
    p: &mut Projection<OverlayState<Shared>>,
    keys: &mut KeyCache,
    to: u64,
    target: u64,
) -> Result<(), String> {
    let at = p.meta().size;
    let entries = prover
        .entries(at, to, TreeSize::new(target))
        .map_err(|e| e.to_string())?;
    let prepared = prepare(&entries, keys, 1, f.signatures);
    drop(fold(p, f.payloads.as_deref(), at, prepared));
    let meta = p.meta().clone();
    p.state_mut().flush(&meta).map_err(|e| e.to_string())
}

fn sleep(inner: &Inner, ms: u64) {
    let until = std::time::Instant::now() + Duration::from_millis(ms);
    while std::time::Instant::now() < until && !inner.stop.load(Ordering::Acquire) {
        std::thread::sleep(Duration::from_millis(ms.min(10)));
    }
}

fn run(inner: &Inner, f: &Fold, active: &(dyn Fn() -> bool + Send + Sync)) {
    let prover = f.log.prover();
    let mut open_fold: Option<(Projection<OverlayState<Shared>>, KeyCache)> = None;
    while !inner.stop.load(Ordering::Acquire) {
        if !active() {
            open_fold = None;
            inner.writing.store(false, Ordering::Release);
            if let Ok(size) = f.store.size() {
                inner.size.store(size, Ordering::Release);
            }
            sleep(inner, SHARED_POLL_MS);
            continue;
        }
        let (p, keys) = match &mut open_fold {
            Some(o) => o,
            None => match open(f) {
                Ok(p) => {
                    inner.size.store(p.meta().size, Ordering::Release);
                    let keys = KeyCache::from_meta(p.meta());
                    inner.writing.store(true, Ordering::Release);
                    open_fold.insert((p, keys))
                }
                Err(e) => {
                    tracing::warn!(error = %e, "opening the shared twin projection");
                    *inner.fault.lock() = Some(e.to_string());
                    sleep(inner, SHARED_RETRY_MS);
                    continue;
                }
            },
        };
        let target = f.log.published().size.get();
        let at = p.meta().size;
        if at >= target {
            sleep(inner, SHARED_POLL_MS);
            continue;
        }
        let to = (at + CHUNK_ENTRIES).min(target);
        match step(f, &prover, p, keys, to, target) {
            Ok(()) => {
                inner.size.store(to, Ordering::Release);
                *inner.fault.lock() = None;
            }
            Err(e) => {
                // The fold since the store's meta may never have been
                // written, or another writer moved the store: fold again
                // from what it holds.
                tracing::warn!(error = %e, "writing the shared twin projection; folding again from the store");
                *inner.fault.lock() = Some(e);
                open_fold = None;
                sleep(inner, SHARED_RETRY_MS);
            }
        }
    }
    inner.writing.store(false, Ordering::Release);
}

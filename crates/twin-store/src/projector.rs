//! The projector: one thread that tails the log's published checkpoints and
//! folds every new entry into the twin store, and `reindex`, the same fold
//! from entry 0 into an empty store.
//!
//! Both go through [`fold`]: entries are read a chunk at a time, their
//! signatures checked in batches on every core ahead of the fold (keys are
//! looked up by kid in a cache filled from the registry and device
//! statements seen so far; kids are key thumbprints, so a kid names one key),
//! then applied in log order by [`twin::Projection::ingest_statement`], which
//! checks that the key was in force for that issuer at that position.
//! Statement bodies are parsed ahead of the fold too. The overlay and the
//! new size are flushed as one batch per chunk; a reindex is a bulk load
//! ([`StoreState::bulk`]): twins, index, history and claims are written
//! once, at the end, by sorted ingestion.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use log_service::{Log, Prover};
use parking_lot::Mutex;
use scitt::{PublicKey, SignedStatement};
use tlog::TreeSize;
use tokio::sync::watch;
use twin::projection::Projection;
use twin::statement::{Delegated, StatementBody, StatementParseError};
use twin::{FoldRules, Meta};

use crate::side::SideStore;
use crate::store::{StoreError, StoreState, TwinStore};

/// Entries read, verified and flushed together.
pub const CHUNK_ENTRIES: u64 = 4096;
/// Reindex flushes after this many entries...
const REINDEX_FLUSH_ENTRIES: u64 = 128 * 1024;
/// ...or once this many twins are dirty (bounds the overlay's memory).
const REINDEX_FLUSH_TWINS: usize = 128 * 1024;

/// Device ids the change journal remembers at most (over all its steps):
/// a reader further behind than that reads every twin again.
pub const CHANGE_JOURNAL_DEVICES_MAX: usize = 1 << 20;

/// Which devices each projected chunk touched, for readers that keep state
/// derived from the twins and update it incrementally (the risk register).
#[derive(Debug, Default)]
struct ChangeJournal {
    /// The size the oldest step starts from: the journal answers for
    /// readers at this size or later.
    base: u64,
    /// (size after the step, devices whose statements it folded).
    steps: std::collections::VecDeque<(u64, Vec<String>)>,
    devices: usize,
}

impl ChangeJournal {
    fn push(&mut self, from: u64, to: u64, devices: Vec<String>) {
        if self.steps.is_empty() && self.base != from {
            self.base = from;
        }
        self.devices += devices.len();
        self.steps.push_back((to, devices));
        while self.devices > CHANGE_JOURNAL_DEVICES_MAX {
            let Some((size, gone)) = self.steps.pop_front() else {
                break;
            };
            self.devices -= gone.len();
            self.base = size;
        }
    }

    /// Everything folded since `size` was forgotten (a restart of the
    /// projection): readers start over.
    fn reset(&mut self, size: u64) {
        self.steps.clear();
        self.devices = 0;
        self.base = size;
    }

    fn since(&self, size: u64) -> Option<(u64, std::collections::BTreeSet<String>)> {
        if size < self.base {
            return None;
        }
        let mut out = std::collections::BTreeSet::new();
        let mut upto = size;
        for (to, devices) in &self.steps {
            if *to <= size {
                continue;
            }
            out.extend(devices.iter().cloned());
            upto = *to;
        }
        Some((upto, out))
    }
}

/// Why projecting stopped.
#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    /// The twin store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The log could not be read.
    #[error("reading the log: {0}")]
    Log(String),
}

/// Public keys by kid (hex), learnt from registry and device statements.
#[derive(Default)]
pub struct KeyCache {
    keys: HashMap<Vec<u8>, PublicKey>,
}

impl KeyCache {
    /// A cache holding every key of `meta`'s registry.
    pub fn from_meta(meta: &Meta) -> KeyCache {
        let mut c = KeyCache::default();
        for s in meta.registry.all() {
            for k in &s.keys {
                if let Ok(p) = PublicKey::from_pem(&k.pem) {
                    c.keys.insert(p.thumbprint().to_vec(), p);
                }
            }
        }
        c
    }

    fn learn(&mut self, st: &SignedStatement) {
        let Some(payload) = st.payload() else { return };
        let interesting = |needle: &[u8]| payload.windows(needle.len()).any(|w| w == needle);
        if !(interesting(b"stakeholder-registered")
            || interesting(b"key-added")
            || interesting(b"device_key"))
        {
            return;
        }
        let pems: Vec<String> = match StatementBody::parse(payload) {
            Ok(StatementBody::StakeholderRegistered { keys, .. }) => {
                keys.into_iter().map(|k| k.pem).collect()
            }
            Ok(StatementBody::KeyAdded { key }) => vec![key.pem],
            Ok(StatementBody::DeviceRegistered {
                device_key: Some(pem),
                ..
            }) => vec![pem],
            _ => return,
        };
        for pem in pems {
            if let Ok(p) = PublicKey::from_pem(&pem) {
                self.keys.insert(p.thumbprint().to_vec(), p);
            }
        }
    }
}

/// One entry ready for the fold: a parsed statement, whether its signature
/// was verified already, and its attached payload parsed (twin subjects
/// only; `None`: the fold parses, as for hash envelopes).
pub struct Ready {
    /// The statement.
    pub statement: SignedStatement,
    /// Whether its signature was verified already.
    pub verified: bool,
    /// [`StatementBody::parse_delegated`] of the attached payload.
    pub body: Option<Result<Delegated, StatementParseError>>,
}

/// An entry ready for the fold, `None` if it is not a Signed Statement.
pub type Prepared = Option<Ready>;

/// Whether a fold checks signatures again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signatures {
    /// Verify every signature (a log written by anyone: a mirror, an audit).
    Verify,
    /// Trust that every twin statement's signature was checked when the
    /// statement was admitted: true of a log this node wrote, since twin
    /// statements enter only through the registration policy (the raw
    /// `POST /log/add` refuses them). Key validity at each log position is
    /// still checked.
    TrustAdmission,
}

/// Parses a chunk (COSE, then the payloads of twin statements) on this
/// thread, ahead of the fold (which has a core of its own), and verifies the
/// signatures it can, in batches, across `threads` threads.
pub fn prepare(
    entries: &[Vec<u8>],
    keys: &mut KeyCache,
    threads: usize,
    signatures: Signatures,
) -> Vec<Prepared> {
    let trust = signatures == Signatures::TrustAdmission;
    let mut parsed: Vec<Prepared> = entries
        .iter()
        .map(|e| {
            let statement = SignedStatement::parse(e).ok()?;
            let payload = statement
                .payload()
                .filter(|_| twin::ingest::is_twin_subject(statement.subject()));
            let body = payload.map(StatementBody::parse_delegated);
            let verified = trust && statement.payload().is_some();
            Some(Ready {
                statement,
                verified,
                body,
            })
        })
        .collect();
    if trust {
        return parsed;
    }
    for r in parsed.iter().flatten() {
        keys.learn(&r.statement);
    }
    // Only attached payloads can be verified here.
    let work: Vec<(usize, &PublicKey)> = parsed
        .iter()
        .enumerate()
        .filter_map(|(i, p)| {
            let st = &p.as_ref()?.statement;
            st.payload()?;
            Some((i, keys.keys.get(st.key_id())?))
        })
        .collect();
    if work.is_empty() {
        return parsed;
    }
    let per = work.len().div_ceil(threads.max(1));
    let oks: Vec<Vec<(usize, bool)>> = std::thread::scope(|scope| {
        let parsed = &parsed;
        let handles: Vec<_> = work
            .chunks(per)
            .map(|part| {
                scope.spawn(move || {
                    let items: Vec<(&SignedStatement, &PublicKey)> = part
                        .iter()
                        .filter_map(|(i, k)| Some((&parsed[*i].as_ref()?.statement, *k)))
                        .collect();
                    let results = scitt::verify_many(&items);
                    part.iter()
                        .zip(results)
                        .map(|((i, _), r)| (*i, r.is_ok()))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect()
    });
    for (i, ok) in oks.into_iter().flatten() {
        if let Some(r) = parsed[i].as_mut() {
            r.verified = ok;
        }
    }
    parsed
}

/// A fold's state that keeps why entries were refused.
pub trait Refusals: twin::State {
    /// Records why `entry` was refused (written at the next flush).
    fn refuse(&mut self, entry: u64, why: String);
}

impl Refusals for StoreState {
    fn refuse(&mut self, entry: u64, why: String) {
        StoreState::refuse(self, entry, why);
    }
}

impl<S: twin::store::ProjectionStore> Refusals for twin::store::OverlayState<S> {
    fn refuse(&mut self, entry: u64, why: String) {
        twin::store::OverlayState::refuse(self, entry, why);
    }
}

/// Folds prepared entries starting at `from` into `projection`; hash
/// envelopes' payloads come from `payloads`. Answers the spent entries
/// (their bodies moved into the twins): a caller on the fold's critical
/// path hands them back to the thread that allocated them to be dropped.
pub fn fold<S: Refusals>(
    projection: &mut Projection<S>,
    payloads: Option<&dyn SideStore>,
    from: u64,
    mut prepared: Vec<Prepared>,
) -> Vec<Prepared> {
    for (i, p) in prepared.iter_mut().enumerate() {
        let entry = from + i as u64;
        let result = match p {
            None => Ok(None),
            Some(Ready {
                statement: st,
                verified,
                body,
            }) => {
                let supplied = match (st.payload_hash(), payloads) {
                    (Some(_), Some(p)) => {
                        p.get(tlog::leaf_hash(st.bytes()).as_bytes()).ok().flatten()
                    }
                    _ => None,
                };
                projection.ingest_parsed(entry, st, *verified, supplied.as_deref(), body.take())
            }
        };
        if let Err(e) = &result {
            projection.state_mut().refuse(entry, e.to_string());
        }
        projection.settle(entry, &result);
    }
    prepared
}

/// Opens the projection stored in `store` (or an empty one under
/// `rules.policy`), with `rules`' built-in statement types.
pub fn open_projection(
    store: &TwinStore,
    rules: FoldRules,
) -> Result<Projection<StoreState>, StoreError> {
    open_projection_cached(store, rules, crate::store::CACHED_TWINS_MAX)
}

fn open_projection_cached(
    store: &TwinStore,
    rules: FoldRules,
    cached_twins_max: usize,
) -> Result<Projection<StoreState>, StoreError> {
    let meta = store.load_meta()?.unwrap_or(Meta {
        policy: rules.policy,
        ..Meta::default()
    });
    Ok(Projection::with_state(
        meta,
        StoreState::with_cache(store.clone(), cached_twins_max),
    )
    .with_builtin_types(rules.builtin_types))
}

struct Inner {
    /// The consensus policy of an empty store (a stored projection keeps its
    /// own) and the built-in statement types.
    rules: FoldRules,
    payloads: Option<Arc<dyn SideStore>>,
    /// Whether the fold verifies signatures again (see [`Signatures`]).
    signatures: Signatures,
    projection: Mutex<Projection<StoreState>>,
    meta: parking_lot::RwLock<Arc<Meta>>,
    store: TwinStore,
    size_tx: watch::Sender<u64>,
    journal: Mutex<ChangeJournal>,
    fault: Mutex<Option<String>>,
    stop: AtomicBool,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

/// The live projector (see the module documentation).
#[derive(Clone)]
pub struct Projector {
    inner: Arc<Inner>,
}

impl Projector {
    /// Starts projecting `log` into `store`, resuming from the size the store
    /// reflects, verifying signatures again or not (`signatures`: a node
    /// projecting the log it writes trusts its own admission). Its thread
    /// uses no runtime, so it may outlive the one it was started in.
    pub fn start(
        log: Log,
        store: TwinStore,
        payloads: Option<Arc<dyn SideStore>>,
        rules: FoldRules,
        signatures: Signatures,
    ) -> Result<Projector, ProjectError> {
        let projection = open_projection(&store, rules.clone())?;
        let (size_tx, _) = watch::channel(projection.meta().size);
        let meta = Arc::new(projection.meta().clone());
        let start_size = meta.size;
        let inner = Arc::new(Inner {
            rules,
            payloads,
            signatures,
            meta: parking_lot::RwLock::new(meta),
            projection: Mutex::new(projection),
            store,
            size_tx,
            journal: Mutex::new(ChangeJournal {
                base: start_size,
                ..ChangeJournal::default()
            }),
            fault: Mutex::new(None),
            stop: AtomicBool::new(false),
            thread: Mutex::new(None),
        });
        let worker = inner.clone();
        let handle = std::thread::Builder::new()
            .name("projector".into())
            .spawn(move || run(&worker, &log))
            .map_err(|e| ProjectError::Log(e.to_string()))?;
        *inner.thread.lock() = Some(handle);
        Ok(Projector { inner })
    }

    /// The log size the twins reflect, as it changes.
    pub fn sizes(&self) -> watch::Receiver<u64> {
        self.inner.size_tx.subscribe()
    }

    /// The log size the twins reflect.
    pub fn size(&self) -> u64 {
        *self.inner.size_tx.borrow()
    }

    /// Waits until the twins reflect at least `size` entries, at most `timeout`.
    pub async fn wait_projected(&self, size: u64, timeout: Duration) -> bool {
        let mut rx = self.sizes();
        let wait = async {
            loop {
                if *rx.borrow_and_update() >= size {
                    return true;
                }
                if rx.changed().await.is_err() {
                    return false;
                }
            }
        };
        tokio::time::timeout(timeout, wait).await.unwrap_or(false)
    }

    /// The registry, releases, sharing policies and counters as of
    /// [`Projector::size`] (a snapshot, cheap to take).
    pub fn meta(&self) -> Arc<Meta> {
        self.inner.meta.read().clone()
    }

    /// Runs `f` on the current projection (the pre-check, the registry).
    pub fn with<R>(&self, f: impl FnOnce(&Projection<StoreState>) -> R) -> R {
        f(&self.inner.projection.lock())
    }

    /// The store (for reads).
    pub fn store(&self) -> &TwinStore {
        &self.inner.store
    }

    /// Where hash envelopes' payloads are kept, if anywhere.
    pub fn payloads(&self) -> Option<&dyn SideStore> {
        self.inner.payloads.as_deref()
    }

    /// The devices whose statements were folded since the twins reflected
    /// `size` entries, and the size that set is complete up to (at least
    /// `size`); `None` when the journal no longer reaches back to `size`
    /// (the reader must read every twin again).
    pub fn devices_changed_since(
        &self,
        size: u64,
    ) -> Option<(u64, std::collections::BTreeSet<String>)> {
        self.inner.journal.lock().since(size)
    }

    /// Why projecting stopped, if it did.
    pub fn fault(&self) -> Option<String> {
        self.inner.fault.lock().clone()
    }

    /// Stops the thread (after its current chunk) and persists the store.
    pub fn stop(&self) {
        self.inner.stop.store(true, Ordering::Release);
        if let Some(t) = self.inner.thread.lock().take() {
            let _ = t.join();
        }
        if let Err(e) = self.inner.store.persist() {
            tracing::error!("persisting the twin store: {e}");
        }
    }
}

/// How often an idle projector looks for a new checkpoint, in milliseconds.
const IDLE_POLL_MS: u64 = 1;
/// How long an idle projector waits before it looks at the log again anyway.
const IDLE_WAIT_MS: u64 = 100;

fn run(inner: &Inner, log: &Log) {
    let prover = log.prover();
    let mut keys = KeyCache::from_meta(inner.projection.lock().meta());
    let mut published = log.published_sizes();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    while !inner.stop.load(Ordering::Acquire) {
        let target = log.published().size.get();
        let mut at = inner.projection.lock().meta().size;
        if at >= target {
            // Waits for the next checkpoint without tokio's timers, which
            // panic once the runtime is shutting down (the thread may
            // outlive it on an error path).
            let waited = std::time::Instant::now();
            while matches!(published.has_changed(), Ok(false))
                && !inner.stop.load(Ordering::Acquire)
                && waited.elapsed() < Duration::from_millis(IDLE_WAIT_MS)
            {
                std::thread::sleep(Duration::from_millis(IDLE_POLL_MS));
            }
            if published.has_changed().is_err() {
                // The log is gone.
                return;
            }
            published.borrow_and_update();
            continue;
        }
        while at < target && !inner.stop.load(Ordering::Acquire) {
            let to = (at + CHUNK_ENTRIES).min(target);
            match step(
                inner,
                &prover,
                &mut keys,
                at,
                to,
                TreeSize::new(target),
                threads,
            ) {
                Ok(()) => at = to,
                Err(e) => {
                    tracing::error!("projector stopped: {e}");
                    *inner.fault.lock() = Some(e.to_string());
                    if !recover(inner, &e.to_string()) {
                        return;
                    }
                    keys = KeyCache::from_meta(inner.projection.lock().meta());
                    break;
                }
            }
        }
    }
}

/// First wait before the projector tries again after a failed step.
const RECOVER_BACKOFF_MS_MIN: u64 = 250;
/// Longest wait between attempts: a freed disk is noticed within this long.
const RECOVER_BACKOFF_MS_MAX: u64 = 4000;

/// After a failed step (a full disk poisoned the twin store): drops the
/// in-memory projection, whose unflushed part may never have been written,
/// reopens the store and resumes from what it holds, retrying with back-off
/// until that works. The log is the source of truth, so the steps since the
/// store's meta are folded again. Answers false if the projector is stopping.
fn recover(inner: &Inner, reason: &str) -> bool {
    let mut backoff_ms = RECOVER_BACKOFF_MS_MIN;
    loop {
        let until = std::time::Instant::now() + Duration::from_millis(backoff_ms);
        while std::time::Instant::now() < until {
            if inner.stop.load(Ordering::Acquire) {
                return false;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let attempt = inner
            .store
            .reopen()
            .and_then(|()| open_projection(&inner.store, inner.rules.clone()));
        match attempt {
            Ok(projection) => {
                let meta = projection.meta().clone();
                *inner.projection.lock() = projection;
                *inner.meta.write() = Arc::new(meta.clone());
                inner.journal.lock().reset(meta.size);
                inner.size_tx.send_replace(meta.size);
                *inner.fault.lock() = None;
                tracing::info!(after = %reason, size = meta.size, "the projector runs again");
                return true;
            }
            Err(e) => {
                tracing::warn!(error = %e, retry_ms = backoff_ms, "reopening the twin store failed");
                *inner.fault.lock() = Some(format!(
                    "{reason} (reopening failed: {e}; retrying every {} s)",
                    RECOVER_BACKOFF_MS_MAX / 1000
                ));
                backoff_ms = (backoff_ms * 2).min(RECOVER_BACKOFF_MS_MAX);
            }
        }
    }
}

fn step(
    inner: &Inner,
    prover: &Prover,
    keys: &mut KeyCache,
    from: u64,
    to: u64,
    size: TreeSize,
    threads: usize,
) -> Result<(), ProjectError> {
    let entries = prover
        .entries(from, to, size)
        .map_err(|e| ProjectError::Log(e.to_string()))?;
    let prepared = prepare(&entries, keys, threads, inner.signatures);
    let mut devices: Vec<String> = prepared
        .iter()
        .flatten()
        .filter_map(|r| r.statement.subject().strip_prefix("device:"))
        .map(str::to_string)
        .collect();
    devices.sort_unstable();
    devices.dedup();
    let mut p = inner.projection.lock();
    let spent = fold(&mut p, inner.payloads.as_deref(), from, prepared);
    let meta = p.meta().clone();
    let done = p.state_mut().flush_async(&meta)?;
    // The registration pre-check reads through the overlay being written:
    // it need not wait for the commit.
    drop(p);
    drop(spent);
    done.wait();
    inner.projection.lock().state_mut().wait_flushing()?;
    // Readers of the store see the twins once committed: only then is the
    // new size published.
    *inner.meta.write() = Arc::new(meta);
    inner.journal.lock().push(from, to, devices);
    inner.size_tx.send_replace(to);
    Ok(())
}

/// What a reindex did.
#[derive(Debug, Clone)]
pub struct ReindexStats {
    /// Entries folded.
    pub entries: u64,
    /// Statements applied.
    pub applied: u64,
    /// Entries refused.
    pub refused: u64,
    /// Wall time.
    pub elapsed: Duration,
}

/// Rebuilds the twins of the log tree of `size` entries (read through
/// `prover`) into `store`, which must be empty. Reading and verifying run on
/// one thread (with batch verification across cores), the fold on another.
pub fn reindex(
    prover: &Prover,
    size: TreeSize,
    store: &TwinStore,
    payloads: Option<&dyn SideStore>,
    rules: FoldRules,
    signatures: Signatures,
    mut progress: impl FnMut(u64),
) -> Result<ReindexStats, ProjectError> {
    let started = Instant::now();
    let mut projection =
        open_projection_cached(store, rules, crate::store::REINDEX_CACHED_TWINS_MAX)?;
    if projection.meta().size != 0 {
        return Err(ProjectError::Store(StoreError::Db(
            "reindex needs an empty twin store".into(),
        )));
    }
    projection.state_mut().bulk()?;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let total = size.get();
    let (tx, rx) = std::sync::mpsc::sync_channel::<(u64, Vec<Prepared>)>(2);
    // Spent chunks go back to the reader, which allocated them: freeing
    // them is work the fold need not do.
    let (spent_tx, spent_rx) = std::sync::mpsc::channel::<Vec<Prepared>>();
    let result = std::thread::scope(|scope| -> Result<(), ProjectError> {
        let reader = scope.spawn(move || -> Result<(), ProjectError> {
            let mut keys = KeyCache::default();
            let mut at = 0;
            while at < total {
                let to = (at + CHUNK_ENTRIES).min(total);
                let entries = prover
                    .entries(at, to, size)
                    .map_err(|e| ProjectError::Log(e.to_string()))?;
                let prepared = prepare(&entries, &mut keys, threads, signatures);
                drop(entries);
                spent_rx.try_iter().for_each(drop);
                if tx.send((at, prepared)).is_err() {
                    break;
                }
                at = to;
            }
            drop(tx);
            spent_rx.iter().for_each(drop);
            Ok(())
        });
        let mut since_flush = 0u64;
        for (from, prepared) in rx {
            let n = prepared.len() as u64;
            let spent = fold(&mut projection, payloads, from, prepared);
            let _ = spent_tx.send(spent);
            since_flush += n;
            // Flush on another thread while the fold goes on; bounded by the
            // statements and the dirty twins the overlay holds.
            if since_flush >= REINDEX_FLUSH_ENTRIES
                || projection.state().dirty_twins() >= REINDEX_FLUSH_TWINS
            {
                let meta = projection.meta().clone();
                projection.state_mut().flush_async(&meta)?;
                since_flush = 0;
            }
            progress(from + n);
        }
        drop(spent_tx);
        reader
            .join()
            .map_err(|_| ProjectError::Log("reader thread panicked".into()))??;
        let meta = projection.meta().clone();
        projection.state_mut().finish(&meta)?;
        Ok(())
    });
    result?;
    store.persist()?;
    let meta = projection.meta();
    Ok(ReindexStats {
        entries: meta.size,
        applied: meta.applied,
        refused: meta.refused,
        elapsed: started.elapsed(),
    })
}

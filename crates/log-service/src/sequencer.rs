//! [`Log`]: opening (recovery), appending (the sequencer thread with group
//! commit), and the published state readers see.
//!
//! Invariants, checked rather than hoped for:
//! * an index is acknowledged only after [`LogStore::append`] returned, i.e.
//!   after the journal's `fdatasync`;
//! * re-submitting an identical entry answers its existing index (exact dedup:
//!   the store's index covers integrated entries, an in-memory window covers
//!   the rest);
//! * on any store error the sequencer stops and the log turns read-only: it
//!   never guesses what is on disk. A supervisor thread then reopens the
//!   store and runs recovery again with back-off ([`supervise`]): recovery
//!   re-reads what is durable and checks it against the last published
//!   checkpoint, as at open, so the log writes again once the cause (a full
//!   disk) is gone, without a restart. The one exception is running out of file
//!   descriptors (EMFILE/ENFILE, [`StoreError::is_descriptor_exhaustion`]):
//!   the call that failed could not open a file, so it wrote nothing, and
//!   descriptors come back when other holders (connections) close them. The
//!   writer retries it with back-off ([`Shared::retry_descriptors`]) instead
//!   of turning the log read-only for good; nothing is acknowledged or signed
//!   before the retried call succeeded.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use log_store::{Integration, LogStore, StoreError};
use parking_lot::{Mutex, RwLock};
use tlog::{leaf_hash, BundleId, Checkpoint, Hash, LeafIndex, Signer, TileEdge, TreeSize};
use tokio::sync::{oneshot, watch};

use crate::checkpointer::{self, CheckError, Job};
use crate::cluster::{Forward, Forwarded, Role};
use crate::config::LogConfig;
use crate::prover::{Prover, StoreTiles};

/// The outcome of an append.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    /// The entry's index in the log (durable).
    pub index: LeafIndex,
    /// True if the identical entry was already in the log.
    pub duplicate: bool,
}

/// Why an append was refused.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum AppendError {
    /// The entry is larger than the configured maximum.
    #[error("entry of {bytes} bytes exceeds the maximum of {max_bytes} bytes")]
    TooLarge {
        /// The entry's size.
        bytes: usize,
        /// The limit.
        max_bytes: usize,
    },
    /// Empty entries are refused: they are almost always a client mistake.
    #[error("entry is empty")]
    Empty,
    /// The pending pool is full: retry later.
    #[error("the log is busy: {pending} entries pending; retry later")]
    Busy {
        /// Entries waiting.
        pending: usize,
    },
    /// The writer stopped after a storage fault; the log is read-only.
    #[error("the log is read-only: {0}")]
    ReadOnly(String),
}

/// Why the log could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The stored state contradicts a checkpoint the log signed: refusing to
    /// run rather than sign a fork.
    #[error("refusing to start: {0}")]
    Inconsistent(String),
}

/// The latest published checkpoint.
#[derive(Debug, Clone)]
pub struct Published {
    /// Its tree size.
    pub size: TreeSize,
    /// Its root hash.
    pub root: Hash,
    /// The signed note as served (log signature and any cosignatures).
    pub note: Arc<Vec<u8>>,
}

pub(crate) struct Request {
    pub(crate) entry: Vec<u8>,
    pub(crate) leaf: Hash,
    /// The caller looked the leaf up in the store's index, which then covered
    /// every entry below this index (the integrated size it read first).
    pub(crate) checked_below: u64,
    pub(crate) reply: oneshot::Sender<Result<Appended, AppendError>>,
}

/// An append after its checks in the caller.
enum Prepared {
    /// Already in the store's index.
    Duplicate(Appended),
    /// For the sequencer, with the receiver of its answer.
    Send(Request, oneshot::Receiver<Result<Appended, AppendError>>),
}

/// What the sequencer thread receives.
pub(crate) enum Msg {
    Append(Request),
    /// Finish what is queued before this, hand it to the checkpointer and stop.
    Stop,
}

/// How appends reach one writer (one run of the sequencer thread), and how
/// they learn that it stopped.
///
/// A message sent after the sequencer's last look at its queue but before
/// its receiver is gone stays queued and is never answered (flume keeps a
/// disconnected channel's messages while a sender lives, and the waiting
/// append holds one). So an append does not wait for its answer alone: it
/// also waits for `stopped`, closed by the sequencer once it has answered
/// everything it will ever answer; an append unanswered by then was never
/// taken and is refused read-only.
#[derive(Clone)]
pub(crate) struct WriterPort {
    pub(crate) tx: flume::Sender<Msg>,
    stopped: watch::Receiver<()>,
}

impl WriterPort {
    /// A port to no writer: sends fail, and every wait ends at once.
    fn none() -> WriterPort {
        let (tx, _) = flume::bounded::<Msg>(1);
        let (_, stopped) = watch::channel(());
        WriterPort { tx, stopped }
    }
}

/// State shared by the sequencer, the checkpointer and readers.
pub(crate) struct Shared {
    pub(crate) store: Arc<dyn LogStore>,
    pub(crate) signer: Signer,
    pub(crate) config: LogConfig,
    pub(crate) published: RwLock<Published>,
    pub(crate) published_tx: watch::Sender<u64>,
    /// Entries below this are in the store's dedup index.
    pub(crate) integrated_size: AtomicU64,
    /// Entries below this are durable.
    pub(crate) durable_size: AtomicU64,
    /// Set when a writer stopped; the log is read-only from then on.
    pub(crate) fault: Mutex<Option<String>>,
    /// Set by [`Log::shutdown`]: new appends are refused.
    pub(crate) closing: AtomicBool,
    /// The sequencer and checkpointer threads, joined by [`Log::shutdown`].
    pub(crate) threads: Mutex<Vec<thread::JoinHandle<()>>>,
    /// Where appends go: the running sequencer, or (while the writer is
    /// stopped) a channel nobody receives from, which answers read-only.
    pub(crate) sender: RwLock<WriterPort>,
    /// The supervisor thread (see [`supervise`]), joined by [`Log::shutdown`].
    pub(crate) supervisor: Mutex<Option<thread::JoinHandle<()>>>,
    /// How many times the writer was restarted after a fault.
    pub(crate) restarts: AtomicU64,
    /// How long acknowledged entries wait for a published checkpoint.
    pub(crate) latency: Mutex<IntegrationLatency>,
    /// What an operator's monitoring reads.
    pub(crate) metrics: crate::metrics::LogMetrics,
    /// Whether this node sequences (see [`crate::cluster`]).
    pub(crate) role: RwLock<Role>,
    /// How a follower hands appends to the sequencer.
    pub(crate) forward: RwLock<Option<Arc<dyn Forward>>>,
}

/// Group commits remembered until a published checkpoint covers them; an
/// older one is forgotten (its wait is not sampled).
const ACKED_BATCHES_MAX: usize = 65_536;
/// Latency samples kept (one per group commit, newest last).
const LATENCY_SAMPLES_MAX: usize = 1024;

/// The integration latency: from a group commit's acknowledgment (its
/// entries durable) to the publication of the first checkpoint that covers
/// it (signed, cosigned by the witness quorum, served).
#[derive(Debug, Default)]
pub(crate) struct IntegrationLatency {
    /// (tree size after the commit, when it was acknowledged), oldest first.
    acked: std::collections::VecDeque<(u64, std::time::Instant)>,
    /// The latest samples, in milliseconds.
    samples_ms: std::collections::VecDeque<f64>,
}

impl IntegrationLatency {
    /// A group commit acknowledged, the tree then `size` entries.
    pub(crate) fn acknowledged(&mut self, size: u64, at: std::time::Instant) {
        if self.acked.len() >= ACKED_BATCHES_MAX {
            self.acked.pop_front();
        }
        self.acked.push_back((size, at));
    }

    /// A checkpoint of `size` published at `at`: every commit it covers is
    /// sampled.
    pub(crate) fn published(
        &mut self,
        size: u64,
        at: std::time::Instant,
        histogram: &prometheus_client::metrics::histogram::Histogram,
    ) {
        while let Some(&(acked_size, acked_at)) = self.acked.front() {
            if acked_size > size {
                break;
            }
            self.acked.pop_front();
            if self.samples_ms.len() >= LATENCY_SAMPLES_MAX {
                self.samples_ms.pop_front();
            }
            let waited = at.saturating_duration_since(acked_at).as_secs_f64();
            histogram.observe(waited);
            self.samples_ms.push_back(waited * 1e3);
        }
    }

    fn summary(&self) -> Option<LatencySummary> {
        let mut sorted: Vec<f64> = self.samples_ms.iter().copied().collect();
        sorted.sort_by(f64::total_cmp);
        let at = |q: f64| {
            let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
            sorted.get(i).copied()
        };
        Some(LatencySummary {
            samples: sorted.len(),
            p50_ms: at(0.5)?,
            p99_ms: at(0.99)?,
            max_ms: *sorted.last()?,
            last_ms: *self.samples_ms.back()?,
        })
    }
}

/// The integration latency of the latest group commits (see
/// [`Log::integration_latency`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LatencySummary {
    /// Group commits sampled (at most 1,024, the latest).
    pub samples: usize,
    /// Median, milliseconds.
    pub p50_ms: f64,
    /// 99th percentile, milliseconds.
    pub p99_ms: f64,
    /// Longest, milliseconds.
    pub max_ms: f64,
    /// The latest commit's, milliseconds.
    pub last_ms: f64,
}

/// First wait before retrying a store call that ran out of file descriptors.
pub(crate) const DESCRIPTOR_RETRY_BACKOFF_MS_MIN: u64 = 10;
/// Longest wait between such retries: descriptors freed by closed connections
/// are used within a second.
pub(crate) const DESCRIPTOR_RETRY_BACKOFF_MS_MAX: u64 = 1000;

/// Runs `op` until it succeeds, fails with anything but descriptor
/// exhaustion, or `give_up` says so after the longest back-off.
pub(crate) fn retry_descriptors<T>(
    what: &str,
    give_up: impl Fn() -> bool,
    mut op: impl FnMut() -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    let mut backoff_ms = DESCRIPTOR_RETRY_BACKOFF_MS_MIN;
    let mut attempts = 0u64;
    loop {
        match op() {
            Err(e) if e.is_descriptor_exhaustion() => {
                attempts += 1;
                if backoff_ms >= DESCRIPTOR_RETRY_BACKOFF_MS_MAX && give_up() {
                    return Err(e);
                }
                // Every attempt would log at the back-off's pace; the first
                // and then every 16th say it is still going on.
                if attempts == 1 || attempts.is_multiple_of(16) {
                    tracing::warn!(
                        error = %e,
                        attempts,
                        "{what}: out of file descriptors; retrying (the log stays writable)"
                    );
                }
                thread::sleep(Duration::from_millis(backoff_ms));
                backoff_ms = (backoff_ms * 2).min(DESCRIPTOR_RETRY_BACKOFF_MS_MAX);
            }
            other => {
                if attempts > 0 && other.is_ok() {
                    tracing::info!(
                        attempts,
                        "{what}: succeeded after running out of file descriptors"
                    );
                }
                return other;
            }
        }
    }
}

impl Shared {
    /// Runs `op` (a store call of the writer) until it succeeds or fails with
    /// anything but descriptor exhaustion, waiting with exponential back-off
    /// between attempts. Once the log is closing it gives up after the
    /// longest back-off, so a shutdown is never held forever.
    pub(crate) fn retry_descriptors<T>(
        &self,
        what: &str,
        op: impl FnMut() -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        retry_descriptors(what, || self.closing.load(Ordering::Acquire), op)
    }

    pub(crate) fn stop(&self, reason: String) {
        tracing::error!(%reason, "log writer stopped; the log is read-only");
        let mut fault = self.fault.lock();
        if fault.is_none() {
            *fault = Some(reason);
        }
    }
}

/// A handle to an open log. Cheap to clone.
#[derive(Clone)]
pub struct Log {
    shared: Arc<Shared>,
    published_rx: watch::Receiver<u64>,
    _handles: Arc<Handles>,
}

/// Shared by every clone of a [`Log`]: when the last one goes, the writer
/// stops (its channel disconnects, as when no handle can append any more)
/// and the supervisor leaves.
struct Handles {
    shared: Arc<Shared>,
}

impl Drop for Handles {
    fn drop(&mut self) {
        self.shared.closing.store(true, Ordering::Release);
        *self.shared.sender.write() = WriterPort::none();
    }
}

impl Log {
    /// Opens the log on `store`, recovering and checking it, and starts the
    /// sequencer and checkpointer threads and their supervisor. Must be
    /// called inside a Tokio runtime (witness requests run on it).
    ///
    /// A stored state that contradicts the log's key or its last checkpoint
    /// is refused. A recovery that cannot *write* what it re-derives (a full
    /// disk) is not: the log opens read-only, serving its last checkpoint,
    /// and the supervisor retries until space is back.
    pub fn open(
        store: Arc<dyn LogStore>,
        signer: Signer,
        config: LogConfig,
    ) -> Result<Log, OpenError> {
        let recovered = store.recover()?;
        let origin = signer.name().to_string();
        let verifier = tlog::Verifier::from_vkey(&signer.vkey())
            .map_err(|e| OpenError::Inconsistent(format!("log key: {e}")))?;

        // The latest checkpoint we signed, if any: what every future tree must extend.
        let previous = match &recovered.checkpoint {
            Some(note) => {
                let (cp, _) = tlog::open_checkpoint(note, &verifier).map_err(|e| {
                    OpenError::Inconsistent(format!(
                        "stored checkpoint does not verify with the log key: {e}"
                    ))
                })?;
                if cp.origin() != origin {
                    return Err(OpenError::Inconsistent(format!(
                        "stored checkpoint has origin {:?}, the log is {origin:?}",
                        cp.origin()
                    )));
                }
                Some((cp, note.clone()))
            }
            None => None,
        };
        let (published_value, previous_size_root) = match &previous {
            Some((cp, note)) => (
                Published {
                    size: cp.size(),
                    root: cp.root(),
                    note: Arc::new(note.clone()),
                },
                Some((cp.size(), cp.root())),
            ),
            None => {
                let cp = Checkpoint::new(&origin, TreeSize::new(0), tlog::empty_root())
                    .map_err(|e| OpenError::Inconsistent(format!("origin: {e}")))?;
                let note = tlog::sign_checkpoint(&cp, &signer);
                (
                    Published {
                        size: TreeSize::new(0),
                        root: tlog::empty_root(),
                        note: Arc::new(note),
                    },
                    None,
                )
            }
        };

        let (published_tx, published_rx) = watch::channel(published_value.size.get());
        let shared = Arc::new(Shared {
            store: store.clone(),
            signer,
            config: config.clone(),
            published: RwLock::new(published_value),
            published_tx,
            integrated_size: AtomicU64::new(recovered.synced_size.get()),
            durable_size: AtomicU64::new(recovered.durable_size.get()),
            fault: Mutex::new(None),
            closing: AtomicBool::new(false),
            threads: Mutex::new(Vec::new()),
            // No writer yet: appends sent here answer read-only.
            sender: RwLock::new(WriterPort::none()),
            supervisor: Mutex::new(None),
            restarts: AtomicU64::new(0),
            metrics: crate::metrics::LogMetrics::default(),
            latency: Mutex::new(IntegrationLatency::default()),
            role: RwLock::new(if store.lease().is_some() {
                // Until the lease is read at the writer's start below.
                Role::Sequencer
            } else {
                Role::Single
            }),
            forward: RwLock::new(None),
        });
        let runtime = tokio::runtime::Handle::current();
        match start_writer(&shared, previous_size_root, &runtime) {
            Ok(()) => {}
            Err(StartError::Standby(holder)) => {
                tracing::info!(sequencer = %holder.node, url = %holder.url, "another node sequences: following it");
                *shared.role.write() = Role::Follower(holder);
            }
            Err(StartError::Inconsistent(why)) => return Err(OpenError::Inconsistent(why)),
            Err(StartError::Store(e)) if matches!(e, StoreError::Io { .. }) => {
                shared.stop(format!(
                    "recovery could not write what it re-derives ({e}); \
                     the log serves its last checkpoint and starts writing once space is back"
                ));
            }
            Err(StartError::Store(e)) => return Err(OpenError::Store(e)),
        }
        let supervised = shared.clone();
        let supervisor = thread::Builder::new()
            .name("log-supervisor".into())
            .spawn(move || supervise(&supervised, &runtime))
            .map_err(|e| OpenError::Store(StoreError::io("spawn log supervisor", e)))?;
        *shared.supervisor.lock() = Some(supervisor);
        Ok(Log {
            _handles: Arc::new(Handles {
                shared: shared.clone(),
            }),
            shared,
            published_rx,
        })
    }

    fn check_entry(&self, entry: &[u8]) -> Result<(), AppendError> {
        if entry.is_empty() {
            return Err(AppendError::Empty);
        }
        let max_bytes = self.shared.config.entry_bytes_max;
        if entry.len() > max_bytes {
            return Err(AppendError::TooLarge {
                bytes: entry.len(),
                max_bytes,
            });
        }
        if let Some(reason) = self.shared.fault.lock().clone() {
            return Err(AppendError::ReadOnly(reason));
        }
        if self.shared.closing.load(Ordering::Acquire) {
            return Err(AppendError::ReadOnly("the log is shutting down".into()));
        }
        Ok(())
    }

    /// Hashes the entry and looks it up in the store's index (off the
    /// sequencer thread, in the caller).
    fn prepare(&self, entry: Vec<u8>) -> Result<Prepared, AppendError> {
        self.check_entry(&entry)?;
        let leaf = leaf_hash(&entry);
        let checked_below = self.shared.integrated_size.load(Ordering::Acquire);
        match self.shared.store.lookup(&leaf) {
            Ok(Some(index)) => {
                return Ok(Prepared::Duplicate(Appended {
                    index,
                    duplicate: true,
                }))
            }
            Ok(None) => {}
            Err(e) => return Err(AppendError::ReadOnly(format!("index lookup failed: {e}"))),
        }
        let (reply, rx) = oneshot::channel();
        Ok(Prepared::Send(
            Request {
                entry,
                leaf,
                checked_below,
                reply,
            },
            rx,
        ))
    }

    /// Appends an entry, waiting for room in the pending pool, and returns its
    /// index once durable.
    pub async fn append(&self, entry: Vec<u8>) -> Result<Appended, AppendError> {
        let unanswered = match self.forwarded(&entry).await {
            Forwarded::Done(answer) => return answer,
            Forwarded::Local { unanswered } => unanswered,
        };
        Self::first_ask(self.append_here(entry).await, unanswered)
    }

    /// A follower's append, handed to the sequencer; `Local` on the
    /// sequencer (or a single node), which appends itself.
    async fn forwarded(&self, entry: &[u8]) -> Forwarded {
        if !matches!(&*self.shared.role.read(), Role::Follower(_)) {
            return Forwarded::Local { unanswered: false };
        }
        if let Err(e) = self.check_entry(entry) {
            return Forwarded::Done(Err(e));
        }
        let forward = self.shared.forward.read().clone();
        let Some(forward) = forward else {
            return Forwarded::Done(Err(AppendError::ReadOnly(
                "another node sequences and this node cannot forward to it".into(),
            )));
        };
        crate::cluster::forward(&self.shared, forward.as_ref(), entry).await
    }

    /// An append whose forwarded attempt went unanswered before this node
    /// took over: "duplicate" is most likely that attempt's own append,
    /// and the caller asked once.
    fn first_ask(
        answer: Result<Appended, AppendError>,
        unanswered: bool,
    ) -> Result<Appended, AppendError> {
        answer.map(|mut a| {
            if unanswered {
                a.duplicate = false;
            }
            a
        })
    }

    /// Appends on this node's own sequencer, never forwarding: what the
    /// sequencer's endpoint for forwarded appends calls. A follower answers
    /// read-only.
    pub async fn append_here(&self, entry: Vec<u8>) -> Result<Appended, AppendError> {
        let started = std::time::Instant::now();
        let (request, rx) = match self.prepare(entry)? {
            Prepared::Duplicate(a) => return Ok(a),
            Prepared::Send(request, rx) => (request, rx),
        };
        let port = self.shared.sender.read().clone();
        port.tx
            .send_async(Msg::Append(request))
            .await
            .map_err(|_| self.read_only())?;
        let answer = self.answer(port.stopped, rx).await;
        self.appended(started, &answer);
        answer
    }

    /// Samples an append's latency when it was sequenced.
    fn appended(&self, started: std::time::Instant, answer: &Result<Appended, AppendError>) {
        if answer.is_ok() {
            self.shared
                .metrics
                .append_seconds
                .observe(started.elapsed().as_secs_f64());
        }
    }

    /// The log's measurements (see [`crate::metrics`]).
    pub fn metrics(&self) -> &crate::metrics::LogMetrics {
        &self.shared.metrics
    }

    /// Waits for the writer's answer to an append sent to it, or for the
    /// writer to stop without having taken it (see [`WriterPort`]).
    async fn answer(
        &self,
        mut stopped: watch::Receiver<()>,
        mut rx: oneshot::Receiver<Result<Appended, AppendError>>,
    ) -> Result<Appended, AppendError> {
        tokio::select! {
            biased;
            answer = &mut rx => return answer.map_err(|_| self.read_only())?,
            // Nothing is ever sent: this ends when the writer stopped.
            _ = stopped.changed() => {}
        }
        // Every answer the writer gave was sent before it stopped.
        match rx.try_recv() {
            Ok(answer) => answer,
            Err(_) => Err(self.read_only()),
        }
    }

    /// Appends an entry if the pending pool has room, else answers
    /// [`AppendError::Busy`] at once (back-pressure for network clients).
    pub async fn try_append(&self, entry: Vec<u8>) -> Result<Appended, AppendError> {
        let unanswered = match self.forwarded(&entry).await {
            Forwarded::Done(answer) => return answer,
            Forwarded::Local { unanswered } => unanswered,
        };
        Self::first_ask(self.try_append_here(entry).await, unanswered)
    }

    async fn try_append_here(&self, entry: Vec<u8>) -> Result<Appended, AppendError> {
        let started = std::time::Instant::now();
        let (request, rx) = match self.prepare(entry)? {
            Prepared::Duplicate(a) => return Ok(a),
            Prepared::Send(request, rx) => (request, rx),
        };
        let port = self.shared.sender.read().clone();
        match port.tx.try_send(Msg::Append(request)) {
            Ok(()) => {}
            Err(flume::TrySendError::Full(_)) => {
                return Err(AppendError::Busy {
                    pending: port.tx.len(),
                })
            }
            Err(flume::TrySendError::Disconnected(_)) => return Err(self.read_only()),
        }
        let answer = self.answer(port.stopped, rx).await;
        self.appended(started, &answer);
        answer
    }

    fn read_only(&self) -> AppendError {
        if let Role::Follower(holder) = &*self.shared.role.read() {
            return AppendError::ReadOnly(format!(
                "this node does not sequence: {} ({}) does",
                holder.node, holder.url
            ));
        }
        AppendError::ReadOnly(
            self.shared
                .fault
                .lock()
                .clone()
                .unwrap_or_else(|| "the log is shutting down".into()),
        )
    }

    /// This node's part: single, sequencer or follower.
    pub fn role(&self) -> Role {
        self.shared.role.read().clone()
    }

    /// How appends reach the sequencer while this node follows (several
    /// nodes on one store); without it a follower refuses appends.
    pub fn set_forward(&self, forward: Arc<dyn Forward>) {
        *self.shared.forward.write() = Some(forward);
    }

    /// Stops the log cleanly: refuses new appends, lets the sequencer finish
    /// what is queued, publishes a final checkpoint over it and makes
    /// everything durable (tiles, index, checkpoint), then joins the log's
    /// threads. Other clones of this handle answer `ReadOnly` afterwards.
    pub async fn shutdown(&self) {
        self.shared.closing.store(true, Ordering::Release);
        // The supervisor first: a restart it is running finishes, and no
        // writer starts after this.
        let supervisor = self.shared.supervisor.lock().take();
        let joined = tokio::task::spawn_blocking(move || {
            if let Some(t) = supervisor {
                let _ = t.join();
            }
        })
        .await;
        if joined.is_err() {
            tracing::error!("joining the log supervisor failed");
        }
        let sender = self.shared.sender.read().tx.clone();
        let _ = sender.send_async(Msg::Stop).await;
        let threads = std::mem::take(&mut *self.shared.threads.lock());
        let joined = tokio::task::spawn_blocking(move || {
            for t in threads {
                let _ = t.join();
            }
        })
        .await;
        if joined.is_err() {
            tracing::error!("joining the log threads failed");
        }
        // Everything is published: another node may take over at once.
        if self.shared.store.lease().is_some() {
            let store = self.shared.store.clone();
            let _ = tokio::task::spawn_blocking(move || {
                if let Some(lease) = store.lease() {
                    lease.release();
                }
            })
            .await;
        }
    }

    /// Whether the log is stopping or stopped ([`Log::shutdown`]): appends
    /// are refused.
    pub fn is_closing(&self) -> bool {
        self.shared.closing.load(Ordering::Acquire)
    }

    /// The latest published checkpoint.
    pub fn published(&self) -> Published {
        self.shared.published.read().clone()
    }

    /// A receiver that changes whenever a checkpoint is published; its value
    /// is the published tree size.
    pub fn published_sizes(&self) -> watch::Receiver<u64> {
        self.published_rx.clone()
    }

    /// Waits until a checkpoint covering `size` entries is published.
    pub async fn wait_published(&self, size: u64) -> Result<(), AppendError> {
        let mut rx = self.published_rx.clone();
        loop {
            if *rx.borrow_and_update() >= size {
                return Ok(());
            }
            if rx.changed().await.is_err() {
                return Err(self.read_only());
            }
        }
    }

    /// The index of an integrated entry with leaf hash `leaf` (entries
    /// appended since the last checkpoint may not be found yet).
    pub fn lookup(&self, leaf: &Hash) -> Result<Option<LeafIndex>, AppendError> {
        self.shared
            .store
            .lookup(leaf)
            .map_err(|e| AppendError::ReadOnly(format!("index lookup failed: {e}")))
    }

    /// How long the latest group commits (up to 1,024) waited from their
    /// acknowledgment to the first published checkpoint covering them;
    /// `None` before the first one was published.
    pub fn integration_latency(&self) -> Option<LatencySummary> {
        self.shared.latency.lock().summary()
    }

    /// Number of durable entries.
    pub fn durable_size(&self) -> TreeSize {
        TreeSize::new(self.shared.durable_size.load(Ordering::Acquire))
    }

    /// Entries waiting for the sequencer.
    pub fn pending(&self) -> usize {
        self.shared.sender.read().tx.len()
    }

    /// How many times the writer was started again after a storage fault,
    /// without a restart of the process.
    pub fn restarts(&self) -> u64 {
        self.shared.restarts.load(Ordering::Acquire)
    }

    /// Why the writer stopped, if it did.
    pub fn fault(&self) -> Option<String> {
        self.shared.fault.lock().clone()
    }

    /// A prover over this log's stored tiles.
    pub fn prover(&self) -> Prover {
        Prover::new(self.shared.store.clone())
    }

    /// The log's verifier key.
    pub fn vkey(&self) -> String {
        self.shared.signer.vkey()
    }

    /// The C2SP tlog-policy a client of this log checks checkpoints with:
    /// the log's key, its witnesses (named by their keys' names) and the
    /// quorum it waits for before publishing.
    pub fn policy(&self) -> String {
        let config = &self.shared.config;
        let mut text = format!("log {}\n", self.vkey());
        let mut names = Vec::new();
        for w in &config.witnesses {
            let name = w.vkey.split('+').next().unwrap_or("witness").to_string();
            text.push_str(&format!("witness {name} {}\n", w.vkey));
            names.push(name);
        }
        if config.witness_quorum > 0 && !names.is_empty() {
            text.push_str(&format!(
                "group witnesses {} {}\nquorum witnesses\n",
                config.witness_quorum.min(names.len()),
                names.join(" ")
            ));
        } else {
            text.push_str("quorum none\n");
        }
        text
    }

    /// The log's origin.
    pub fn origin(&self) -> &str {
        self.shared.signer.name()
    }

    /// The store behind this log.
    pub fn store(&self) -> &Arc<dyn LogStore> {
        &self.shared.store
    }
}

/// Why the writer could not be started.
enum StartError {
    Store(StoreError),
    Inconsistent(String),
    /// Another node holds the sequencer's lease.
    Standby(log_store::Holder),
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StartError::Store(e) => e.fmt(f),
            StartError::Inconsistent(why) => f.write_str(why),
            StartError::Standby(holder) => {
                write!(f, "{} ({}) sequences", holder.node, holder.url)
            }
        }
    }
}

/// Recovery: rebuilds the tree's right edge at the synced size, replays the
/// durable entries above it, integrates them and checks the tree against
/// `previous` (the last checkpoint signed), then starts the sequencer and
/// checkpointer threads and makes appends go to them. Run at open, and by
/// the supervisor after a storage fault.
fn start_writer(
    shared: &Arc<Shared>,
    previous: Option<(TreeSize, Hash)>,
    runtime: &tokio::runtime::Handle,
) -> Result<(), StartError> {
    let store = &shared.store;
    if let Some(lease) = store.lease() {
        if let Some(holder) = lease.acquire().map_err(StartError::Store)? {
            return Err(StartError::Standby(holder));
        }
    }
    let recovered = store.recover().map_err(StartError::Store)?;
    if let Some((size, _)) = previous {
        if size > recovered.durable_size {
            return Err(StartError::Inconsistent(format!(
                "checkpoint of size {size} but only {} durable entries",
                recovered.durable_size
            )));
        }
    }
    let synced = recovered.synced_size;
    let tiles = StoreTiles::new(store.clone());
    let mut edge = TileEdge::from_reader(synced, &tiles).map_err(|e| {
        StartError::Inconsistent(format!("rebuilding the tile edge at {synced}: {e}"))
    })?;
    let mut state = SequencerState::new(edge.size());
    if synced.get() % 256 != 0 {
        let id = BundleId::new(synced.get() / 256, (synced.get() % 256) as u16)
            .map_err(|e| StartError::Inconsistent(e.to_string()))?;
        let bundle = store
            .read_bundle(id)
            .map_err(StartError::Store)?
            .ok_or_else(|| {
                StartError::Inconsistent(format!("partial bundle {} is missing", id.path()))
            })?;
        let entries = tlog::parse_bundle(&bundle)
            .map_err(|e| StartError::Inconsistent(format!("bundle {}: {e}", id.path())))?;
        state.bundle = entries.into_iter().map(<[u8]>::to_vec).collect();
    }
    std::mem::swap(&mut state.edge, &mut edge);
    store
        .replay(synced, &mut |index, entry| {
            debug_assert_eq!(index.get(), state.size);
            state.push(leaf_hash(entry), entry.to_vec());
            Ok(())
        })
        .map_err(StartError::Store)?;
    if state.size != recovered.durable_size.get() {
        return Err(StartError::Inconsistent(format!(
            "replay ended at {}, durable size is {}",
            state.size, recovered.durable_size
        )));
    }
    tracing::info!(durable = state.size, synced = synced.get(), "log recovered");
    shared
        .integrated_size
        .store(synced.get(), Ordering::Release);
    shared.durable_size.store(state.size, Ordering::Release);

    // Integrate what recovery replayed and check it against the last
    // checkpoint before accepting anything new.
    let first_job = state.take_job();
    let mut checkpointer = checkpointer::Checkpointer::new(shared.clone(), previous);
    checkpointer
        .integrate_and_check(first_job)
        .map_err(|e| match e {
            CheckError::Storage(e) => StartError::Store(e),
            CheckError::Inconsistent(why) => StartError::Inconsistent(why),
        })?;
    state.prune(shared.integrated_size.load(Ordering::Acquire));

    let (job_tx, job_rx) = flume::bounded::<Job>(1);
    let handle = runtime.clone();
    let checkpointer_thread = thread::Builder::new()
        .name("log-checkpointer".into())
        .spawn(move || checkpointer.run(job_rx, handle))
        .map_err(|e| StartError::Store(StoreError::io("spawn checkpointer", e)))?;
    let (tx, rx) = flume::bounded::<Msg>(shared.config.pending_entries_max);
    let (stopped_tx, stopped) = watch::channel(());
    let seq_shared = shared.clone();
    let sequencer_thread = thread::Builder::new()
        .name("log-sequencer".into())
        .spawn(move || {
            run_sequencer(seq_shared, state, rx, job_tx);
            // Everything it took is answered: waiting appends stop waiting.
            drop(stopped_tx);
        })
        .map_err(|e| StartError::Store(StoreError::io("spawn sequencer", e)))?;
    shared
        .threads
        .lock()
        .extend([sequencer_thread, checkpointer_thread]);
    let mut sender = shared.sender.write();
    // Once the log is closing (its last handle dropped) the new writer gets
    // no sender, and stops at once.
    if !shared.closing.load(Ordering::Acquire) {
        *sender = WriterPort { tx, stopped };
    }
    if store.lease().is_some() {
        *shared.role.write() = Role::Sequencer;
    }
    Ok(())
}

/// How often the supervisor looks for a stopped writer.
const SUPERVISOR_POLL_MS: u64 = 100;
/// First wait before recovery runs again after a storage fault.
const RESTART_BACKOFF_MS_MIN: u64 = 250;
/// Longest wait between recovery attempts: a freed disk is noticed within
/// this long.
const RESTART_BACKOFF_MS_MAX: u64 = 4000;

/// Stops the writer threads after a fault and joins them: the sequencer may
/// be waiting for an entry, so it is sent a stop (which it also takes when
/// it already stopped by itself).
fn stop_writer(shared: &Shared) {
    let threads = std::mem::take(&mut *shared.threads.lock());
    let sender = shared.sender.read().tx.clone();
    for t in threads {
        while !t.is_finished() {
            let _ = sender.send_timeout(Msg::Stop, Duration::from_millis(SUPERVISOR_POLL_MS));
            thread::sleep(Duration::from_millis(10));
        }
        let _ = t.join();
    }
}

/// Sleeps `ms`, waking early when the log closes; answers whether it is closing.
fn sleep_unless_closing(shared: &Shared, ms: u64) -> bool {
    let until = Instant::now() + Duration::from_millis(ms);
    while Instant::now() < until {
        if shared.closing.load(Ordering::Acquire) {
            return true;
        }
        thread::sleep(Duration::from_millis(SUPERVISOR_POLL_MS.min(ms)));
    }
    shared.closing.load(Ordering::Acquire)
}

/// The supervisor thread: after a storage fault stopped the writer, it runs
/// recovery again (after [`LogStore::reopen`]) with back-off until it
/// succeeds, so that the log writes again once the cause is gone (space
/// freed), without a restart. Recovery checks the tree against the last
/// published checkpoint before anything new is accepted, exactly as at open,
/// so a restart never signs a fork; until it succeeds the log stays
/// read-only and [`Log::fault`] says why.
fn supervise(shared: &Arc<Shared>, runtime: &tokio::runtime::Handle) {
    let mut lease_tried = Instant::now();
    let verifier = tlog::Verifier::from_vkey(&shared.signer.vkey()).ok();
    loop {
        let following = matches!(&*shared.role.read(), Role::Follower(_));
        let poll_ms = if following {
            crate::cluster::FOLLOW_POLL_MS
        } else {
            SUPERVISOR_POLL_MS
        };
        if sleep_unless_closing(shared, poll_ms) {
            return;
        }
        if following {
            if let Some(verifier) = &verifier {
                if let Err(e) = crate::cluster::follow(shared, verifier) {
                    tracing::warn!(error = %e, "following the sequencer's checkpoints");
                }
            }
            if lease_tried.elapsed() >= Duration::from_millis(crate::cluster::LEASE_POLL_MS) {
                lease_tried = Instant::now();
                take_over(shared, runtime);
            }
            continue;
        }
        if let Some(lease) = shared.store.lease() {
            if !lease.held() && shared.fault.lock().is_none() {
                shared.stop("this node lost the sequencer's lease".into());
            }
        }
        let Some(reason) = shared.fault.lock().clone() else {
            continue;
        };
        stop_writer(shared);
        let mut backoff_ms = RESTART_BACKOFF_MS_MIN;
        loop {
            if sleep_unless_closing(shared, backoff_ms) {
                return;
            }
            let previous = {
                let p = shared.published.read();
                Some((p.size, p.root))
            };
            let attempt = shared
                .store
                .reopen()
                .map_err(StartError::Store)
                .and_then(|()| start_writer(shared, previous, runtime));
            match attempt {
                Ok(()) => {
                    shared.restarts.fetch_add(1, Ordering::AcqRel);
                    *shared.fault.lock() = None;
                    tracing::info!(after = %reason, "the log writes again");
                    break;
                }
                Err(StartError::Standby(holder)) => {
                    stop_writer(shared);
                    tracing::info!(sequencer = %holder.node, url = %holder.url, after = %reason, "another node sequences: following it");
                    *shared.role.write() = Role::Follower(holder);
                    *shared.fault.lock() = None;
                    *shared.sender.write() = WriterPort::none();
                    break;
                }
                Err(e) => {
                    // Threads a failed attempt may have started are stopped
                    // before the next one.
                    stop_writer(shared);
                    tracing::warn!(error = %e, retry_ms = backoff_ms, "log recovery failed; retrying");
                    *shared.fault.lock() = Some(format!(
                        "{reason} (recovery failed: {e}; retrying every {} s)",
                        RESTART_BACKOFF_MS_MAX / 1000
                    ));
                    backoff_ms = (backoff_ms * 2).min(RESTART_BACKOFF_MS_MAX);
                }
            }
        }
    }
}

/// A follower's attempt to take the lease: on success the writer starts
/// (recovery checks the tree against the last checkpoint this node saw).
fn take_over(shared: &Arc<Shared>, runtime: &tokio::runtime::Handle) {
    let previous = {
        let p = shared.published.read();
        Some((p.size, p.root))
    };
    match start_writer(shared, previous, runtime) {
        Ok(()) => {
            tracing::info!(
                size = previous.map_or(0, |p| p.0.get()),
                "this node took over as the sequencer"
            );
        }
        Err(StartError::Standby(holder)) => {
            let mut role = shared.role.write();
            if *role != Role::Follower(holder.clone()) {
                *role = Role::Follower(holder);
            }
        }
        Err(e) => {
            stop_writer(shared);
            *shared.sender.write() = WriterPort::none();
            // Give the lease back: another node may manage where this one failed.
            if let Some(lease) = shared.store.lease() {
                lease.release();
            }
            tracing::warn!(error = %e, "taking over as the sequencer failed");
        }
    }
}

/// The sequencer's private state: the tree's right edge and what has not been
/// handed to the checkpointer yet.
pub(crate) struct SequencerState {
    pub(crate) edge: TileEdge,
    pub(crate) size: u64,
    /// Entries of the current partial bundle (fewer than 256).
    pub(crate) bundle: Vec<Vec<u8>>,
    pending: Integration,
    /// Dedup window for entries not yet in the store's index.
    recent: HashMap<Hash, u64>,
    recent_order: VecDeque<(Hash, u64)>,
    /// Every entry at or above this index that is not in the store's index is
    /// in `recent`.
    recent_floor: u64,
    full_tiles: Vec<(tlog::TileId, Vec<u8>)>,
}

impl SequencerState {
    fn new(size: TreeSize) -> Self {
        SequencerState {
            edge: TileEdge::new(),
            size: size.get(),
            bundle: Vec::with_capacity(256),
            pending: Integration {
                from: size.get(),
                to: size.get(),
                ..Integration::default()
            },
            recent: HashMap::new(),
            recent_order: VecDeque::new(),
            recent_floor: size.get(),
            full_tiles: Vec::new(),
        }
    }

    /// Adds one durable entry at index `self.size`.
    fn push(&mut self, leaf: Hash, entry: Vec<u8>) {
        let index = self.size;
        self.edge.append(leaf, &mut self.full_tiles);
        self.pending.tiles.append(&mut self.full_tiles);
        self.bundle.push(entry);
        if self.bundle.len() == 256 {
            let data = tlog::encode_bundle(self.bundle.iter().map(Vec::as_slice));
            if let (Ok(id), Ok(data)) = (BundleId::new(index / 256, 256), data) {
                self.pending.bundles.push((id, data));
            }
            self.bundle.clear();
        }
        self.pending.leaves.push((leaf, LeafIndex::new(index)));
        self.recent.insert(leaf, index);
        self.recent_order.push_back((leaf, index));
        self.size += 1;
        self.pending.to = self.size;
    }

    /// Drops dedup-window entries the store's index now covers.
    fn prune(&mut self, integrated: u64) {
        self.recent_floor = self.recent_floor.max(integrated);
        while let Some((hash, index)) = self.recent_order.front() {
            if *index >= integrated {
                break;
            }
            if self.recent.get(hash) == Some(index) {
                self.recent.remove(hash);
            }
            self.recent_order.pop_front();
        }
    }

    /// Everything to integrate for a checkpoint at the current size.
    fn take_job(&mut self) -> Job {
        let mut integration = std::mem::replace(
            &mut self.pending,
            Integration {
                from: self.size,
                to: self.size,
                ..Integration::default()
            },
        );
        integration.tiles.extend(self.edge.partial_tiles());
        if !self.bundle.is_empty() {
            let width = self.bundle.len() as u16;
            if let (Ok(id), Ok(data)) = (
                BundleId::new(self.size / 256, width),
                tlog::encode_bundle(self.bundle.iter().map(Vec::as_slice)),
            ) {
                integration.bundles.push((id, data));
            }
        }
        Job {
            integration,
            size: TreeSize::new(self.size),
            root: self.edge.root(),
        }
    }
}

fn run_sequencer(
    shared: Arc<Shared>,
    mut state: SequencerState,
    rx: flume::Receiver<Msg>,
    job_tx: flume::Sender<Job>,
) {
    let interval = shared.config.checkpoint_interval;
    let batch_max = shared.config.batch_entries_max.max(1);
    let mut batch: Vec<Request> = Vec::with_capacity(batch_max);
    // When the oldest entry not yet handed to the checkpointer became durable.
    let mut oldest_unsent: Option<Instant> = None;
    let mut stopping = false;
    loop {
        let deadline = oldest_unsent.map(|t| t + interval);
        let first = match deadline {
            Some(d) => match rx.recv_deadline(d) {
                Ok(r) => Some(r),
                Err(flume::RecvTimeoutError::Timeout) => None,
                Err(flume::RecvTimeoutError::Disconnected) => break,
            },
            None => match rx.recv() {
                Ok(r) => Some(r),
                Err(_) => break,
            },
        };
        if let Some(first) = first {
            match first {
                Msg::Append(r) => batch.push(r),
                Msg::Stop => stopping = true,
            }
            while !stopping && batch.len() < batch_max {
                match rx.try_recv() {
                    Ok(Msg::Append(r)) => batch.push(r),
                    Ok(Msg::Stop) => stopping = true,
                    Err(_) => break,
                }
            }
            state.prune(shared.integrated_size.load(Ordering::Acquire));
            if let Err(e) = commit_batch(&shared, &mut state, &mut batch) {
                shared.stop(format!("journal append failed: {e}"));
                break;
            }
            if oldest_unsent.is_none() && state.pending.to > state.pending.from {
                oldest_unsent = Some(Instant::now());
            }
        }
        if stopping {
            // Hand the rest to the checkpointer (waiting for it), then leave:
            // dropping `job_tx` makes it publish and sync.
            if state.pending.to > state.pending.from {
                let _ = job_tx.send(state.take_job());
            }
            break;
        }
        if let Some(t) = oldest_unsent {
            if t.elapsed() >= interval {
                // Hand off only if the checkpointer is free; otherwise keep
                // accumulating and try again after the next batch.
                let job = state.take_job();
                match job_tx.try_send(job) {
                    Ok(()) => oldest_unsent = None,
                    Err(flume::TrySendError::Full(job)) => {
                        state.restore_job(job);
                        oldest_unsent = Some(Instant::now() - interval + Duration::from_millis(5));
                    }
                    Err(flume::TrySendError::Disconnected(_)) => break,
                }
            }
        }
        if shared.fault.lock().is_some() {
            break;
        }
    }
    // Answer whatever is still queued so no caller waits forever.
    let reason = shared
        .fault
        .lock()
        .clone()
        .unwrap_or_else(|| "the log is shutting down".into());
    for msg in rx.drain() {
        if let Msg::Append(r) = msg {
            let _ = r.reply.send(Err(AppendError::ReadOnly(reason.clone())));
        }
    }
}

impl SequencerState {
    /// Puts back a job the checkpointer could not take (partial tiles and the
    /// partial bundle are recomputed at the next hand-off).
    fn restore_job(&mut self, job: Job) {
        let mut integration = job.integration;
        let partial_bundle = self.size / 256;
        integration.tiles.retain(|(id, _)| id.is_full());
        integration
            .bundles
            .retain(|(id, _)| id.is_full() || id.index() != partial_bundle);
        integration.tiles.append(&mut self.pending.tiles);
        integration.bundles.append(&mut self.pending.bundles);
        integration.leaves.append(&mut self.pending.leaves);
        integration.to = self.size;
        self.pending = integration;
    }
}

fn commit_batch(
    shared: &Shared,
    state: &mut SequencerState,
    batch: &mut Vec<Request>,
) -> Result<(), StoreError> {
    let start = state.size;
    // Assign indices; duplicates (in the log or earlier in this batch) get the
    // existing index.
    let mut fresh: Vec<usize> = Vec::with_capacity(batch.len());
    let mut in_batch: HashMap<Hash, u64> = HashMap::new();
    let mut answers: Vec<Result<Appended, AppendError>> = Vec::with_capacity(batch.len());
    for (position, request) in batch.iter().enumerate() {
        let existing = match state.recent.get(&request.leaf) {
            Some(i) => Some(*i),
            None => match in_batch.get(&request.leaf) {
                Some(i) => Some(*i),
                // The caller's lookup did not cover entries that have left the
                // window since (rare): look again.
                None if request.checked_below < state.recent_floor => shared
                    .retry_descriptors("dedup lookup", || shared.store.lookup(&request.leaf))?
                    .map(LeafIndex::get),
                None => None,
            },
        };
        match existing {
            Some(index) => answers.push(Ok(Appended {
                index: LeafIndex::new(index),
                duplicate: true,
            })),
            None => {
                let index = start + fresh.len() as u64;
                in_batch.insert(request.leaf, index);
                fresh.push(position);
                answers.push(Ok(Appended {
                    index: LeafIndex::new(index),
                    duplicate: false,
                }));
            }
        }
    }
    if !fresh.is_empty() {
        let entries: Vec<&[u8]> = fresh
            .iter()
            .filter_map(|p| batch.get(*p).map(|r| r.entry.as_slice()))
            .collect();
        // A journal append that ran out of descriptors wrote nothing (it
        // failed opening a segment or its directory; see the journal): the
        // same append at the same index is retried.
        if let Err(e) = shared.retry_descriptors("journal append", || {
            shared.store.append(LeafIndex::new(start), &entries)
        }) {
            let reason = format!("journal append failed: {e}");
            // Read-only before anyone hears of it: a caller told so finds
            // the fault in the status.
            shared.stop(reason.clone());
            for request in batch.drain(..) {
                let _ = request
                    .reply
                    .send(Err(AppendError::ReadOnly(reason.clone())));
            }
            return Err(e);
        }
    }
    // Durable: update the edge and the durable size, then acknowledge.
    let mut fresh_iter = fresh.iter().peekable();
    let mut replies = Vec::with_capacity(batch.len());
    for (position, request) in batch.drain(..).enumerate() {
        if fresh_iter.peek() == Some(&&position) {
            fresh_iter.next();
            state.push(request.leaf, request.entry);
        }
        replies.push(request.reply);
    }
    shared.durable_size.store(state.size, Ordering::Release);
    shared
        .latency
        .lock()
        .acknowledged(state.size, std::time::Instant::now());
    for (reply, answer) in replies.into_iter().zip(answers) {
        let _ = reply.send(answer);
    }
    Ok(())
}

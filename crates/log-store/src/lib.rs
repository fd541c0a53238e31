//! The storage contract of the sectwin log ([`LogStore`]) and its embedded
//! implementation ([`EmbeddedStore`]).
//!
//! The store persists what the sequencer decides; it makes no decision of its
//! own: it does not hash, build tiles, sign, or check consistency. Those live in
//! `tlog` (pure math) and `log-service` (the sequencer). The store never talks
//! HTTP.
//!
//! # Durability model (read this before implementing another backend)
//!
//! There are three sizes, always `published <= synced_or_more <= durable`:
//!
//! * **durable size**: every entry below it survives a crash. [`LogStore::append`]
//!   advances it and returns only once the entries are durable. This is the only
//!   point at which the service acknowledges an entry's index.
//! * **integrated size**: tiles, entry bundles and dedup keys written for every
//!   entry below it ([`LogStore::integrate`]). Integration need not be durable
//!   by itself: everything it writes is derived from durable entries and is
//!   re-derived on recovery from the last *synced* size.
//! * **synced size**: a checkpoint size at which tiles, bundles, the dedup index
//!   and the checkpoint itself are known durable ([`LogStore::sync`]). Recovery
//!   starts there and replays durable entries above it.
//!
//! A checkpoint is only ever signed over integrated (hence durable) entries, by
//! the sequencer, after it verified consistency with the previous checkpoint.

#![deny(clippy::unwrap_used, clippy::expect_used)]

#[cfg(feature = "testing")]
pub mod conformance;
mod embedded;
#[cfg(feature = "testing")]
pub mod faults;
mod index;
mod journal;
mod static_files;
#[cfg(feature = "testing")]
pub mod testing;

pub use embedded::{EmbeddedStore, EmbeddedStoreOptions, DATA_DIR_LOCK_FILE};
pub use journal::JOURNAL_SEGMENT_BYTES_MAX;

use tlog::{BundleId, Hash, LeafIndex, TileId, TreeSize};

/// Errors a store reports. Every variant stops the writer: the service turns
/// read-only rather than sign anything uncertain.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// An I/O operation failed (disk full, permission, device error).
    #[error("storage I/O error during {context}: {source}")]
    Io {
        /// What the store was doing.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The embedded index database failed.
    #[error("index database error: {0}")]
    Index(String),
    /// A database server holding the log (PostgreSQL) failed or refused.
    #[error("database error: {0}")]
    Database(String),
    /// Stored data does not have the shape it must have (a corrupt or foreign file).
    #[error("corrupt store: {0}")]
    Corrupt(String),
    /// The caller broke the contract (for example appended at the wrong index).
    #[error("store contract violated: {0}")]
    Contract(String),
    /// This node no longer holds the sequencer's lease of a store shared by
    /// several nodes: another took it, so the write was refused (fenced) and
    /// nothing of it was committed.
    #[error("fenced: {0}")]
    Fenced(String),
    /// Another process (a running `serve`, a `reindex`) holds the data
    /// directory: one writer at a time.
    #[error("the data directory {dir} is in use by another process (a running server or reindex); stop it first")]
    InUse {
        /// The data directory.
        dir: std::path::PathBuf,
    },
}

impl StoreError {
    /// True when the process or the system ran out of file descriptors
    /// (EMFILE, ENFILE), and only then. Nothing was written by the call that
    /// failed to get a descriptor, and descriptors come back when others are
    /// closed, so the writer retries such an error instead of stopping; every
    /// other error still stops it.
    pub fn is_descriptor_exhaustion(&self) -> bool {
        match self {
            StoreError::Io { source, .. } => is_descriptor_exhaustion(source),
            _ => false,
        }
    }

    /// An I/O error with what the store was doing.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        StoreError::Io {
            context: context.into(),
            source,
        }
    }
}

/// EMFILE or ENFILE.
pub(crate) fn is_descriptor_exhaustion(e: &std::io::Error) -> bool {
    let code = e.raw_os_error();
    code.is_some()
        && (code == Some(rustix::io::Errno::MFILE.raw_os_error())
            || code == Some(rustix::io::Errno::NFILE.raw_os_error()))
}

/// The first `id.width()` entries of a stored bundle (each a two-byte
/// big-endian length and the entry): what a store answers for a narrower
/// bundle than the one it holds (C2SP's prefix rule).
pub fn bundle_prefix(data: &[u8], id: BundleId) -> Result<Vec<u8>, StoreError> {
    let mut offset = 0usize;
    for _ in 0..id.width() {
        let Some(len) = data.get(offset..offset + 2) else {
            return Err(StoreError::Corrupt(format!("short bundle {}", id.path())));
        };
        offset += 2 + usize::from(u16::from_be_bytes([len[0], len[1]]));
    }
    match data.get(..offset) {
        Some(prefix) => Ok(prefix.to_vec()),
        None => Err(StoreError::Corrupt(format!("short bundle {}", id.path()))),
    }
}

/// A callback receiving durable entries in index order during replay.
pub type EntryVisitor<'a> = dyn FnMut(LeafIndex, &[u8]) -> Result<(), StoreError> + 'a;

/// What a store finds on open: where recovery starts.
#[derive(Debug, Clone)]
pub struct Recovered {
    /// Number of durable entries (acknowledged or not, all will be kept).
    pub durable_size: TreeSize,
    /// The size at which tiles, bundles and the dedup index are known durable.
    /// It is always the size of a checkpoint the log signed (or 0).
    pub synced_size: TreeSize,
    /// The latest checkpoint note the store holds (signed by the log), if any.
    pub checkpoint: Option<Vec<u8>>,
}

/// One integration step: everything derived from entries `[from, to)` that the
/// sequencer wants persisted before it signs a checkpoint of size `to`.
#[derive(Debug, Default)]
pub struct Integration {
    /// Start of the integrated range.
    pub from: u64,
    /// End (exclusive) of the integrated range: the size about to be checkpointed.
    pub to: u64,
    /// Hash tiles that became full or whose partial width changed.
    pub tiles: Vec<(TileId, Vec<u8>)>,
    /// Entry bundles that became full, and the partial bundle for `to`.
    pub bundles: Vec<(BundleId, Vec<u8>)>,
    /// Dedup keys of the range, in index order.
    pub leaves: Vec<(Hash, LeafIndex)>,
}

/// The storage contract of the log.
///
/// Concurrency: exactly one writer (the sequencer thread) calls `append`,
/// `integrate`, `publish_checkpoint` and `sync`, never concurrently with each
/// other; the read methods may be called from any number of threads at any
/// time, including during writes, and must never observe a torn tile, bundle or
/// checkpoint (atomic replacement).
///
/// Durability: see the crate documentation. In short, `append` is the only
/// durability point that acknowledges entries; `sync` is the only one that
/// lets recovery skip replay; everything else may be lost in a crash and is
/// re-derived.
pub trait LogStore: Send + Sync + 'static {
    /// Reports what is durable. Called once by the sequencer after open.
    fn recover(&self) -> Result<Recovered, StoreError>;

    /// Called by the log after a write failed (a full disk) and before it
    /// runs recovery again, without a restart: drops whatever state the
    /// failed write left (a partly written journal record, a database that
    /// refuses writes after one failed), keeping everything durable. Entries
    /// appended after the last successful [`LogStore::append`] must not
    /// survive it: they were never acknowledged. The default does nothing.
    fn reopen(&self) -> Result<(), StoreError> {
        Ok(())
    }

    /// Streams the durable entries with index >= `from`, in order, to `f`.
    /// Used by recovery to rebuild the in-memory tile edge and dedup window.
    fn replay(&self, from: TreeSize, f: &mut EntryVisitor<'_>) -> Result<(), StoreError>;

    /// Durably appends `entries` at indices `start..start+len`.
    ///
    /// `start` must equal the durable size; returns only once all entries
    /// survive a crash (one `fdatasync` per call: this is the group commit).
    fn append(&self, start: LeafIndex, entries: &[&[u8]]) -> Result<(), StoreError>;

    /// Looks up integrated entries by leaf hash (the dedup index). It may lag
    /// behind `append` by the entries not yet integrated; the sequencer covers
    /// that window in memory.
    fn lookup(&self, leaf: &Hash) -> Result<Option<LeafIndex>, StoreError>;

    /// Writes tiles, bundles and dedup keys for a range (not necessarily durably).
    fn integrate(&self, integration: &Integration) -> Result<(), StoreError>;

    /// Atomically replaces the served checkpoint and records it in the history.
    fn publish_checkpoint(&self, size: TreeSize, note: &[u8]) -> Result<(), StoreError>;

    /// Makes everything integrated and published so far durable, and records
    /// `size` (the published checkpoint's size) as the synced size. May release
    /// journal space below it.
    fn sync(&self, size: TreeSize) -> Result<(), StoreError>;

    /// Reads a hash tile. A partial tile that was superseded may be answered
    /// from a wider tile (its prefix), as C2SP allows. `None` if absent.
    fn read_tile(&self, id: TileId) -> Result<Option<Vec<u8>>, StoreError>;

    /// Reads an entry bundle, with the same prefix rule as [`LogStore::read_tile`].
    fn read_bundle(&self, id: BundleId) -> Result<Option<Vec<u8>>, StoreError>;

    /// The currently served checkpoint note.
    fn checkpoint(&self) -> Result<Option<Vec<u8>>, StoreError>;

    /// Every checkpoint published, as (size, note), in increasing size order,
    /// starting at `from`. Used by fsck and by consistency checks.
    fn checkpoint_history(&self, from: TreeSize) -> Result<Vec<(TreeSize, Vec<u8>)>, StoreError>;

    /// The sequencer's lease, for a store that several nodes share: only its
    /// holder may call the write methods, and the store refuses (fences) a
    /// write of a node that lost it. `None` (the default) for a store only
    /// one process ever opens.
    fn lease(&self) -> Option<&dyn Lease> {
        None
    }
}

/// The node that sequences a shared log, as its lease records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// The node's name for this run (unique per process).
    pub node: String,
    /// Where it takes appends other nodes forward.
    pub url: String,
    /// Its fencing token: every acquisition by another node raises it.
    pub token: u64,
}

/// The lease that picks the one sequencer of a store several nodes share.
///
/// Safety does not depend on time: each write method of the store checks,
/// in the transaction that commits, that the lease still carries this
/// node's token, so a node that lost the lease (paused past its expiry, cut
/// off) can never commit again, whatever it believes. Expiry only decides
/// when another node may take over.
pub trait Lease: Send + Sync {
    /// Takes the lease if it is free, expired or its holder's connection is
    /// gone, or renews it if this node holds it. `Ok(None)`: this node
    /// holds it now; `Ok(Some(holder))`: another node does.
    fn acquire(&self) -> Result<Option<Holder>, StoreError>;

    /// Whether this node held the lease at its last renewal. Advisory (the
    /// store fences writes anyway): a sequencer that sees `false` stands down.
    fn held(&self) -> bool;

    /// The holder as stored, if any node holds the lease.
    fn holder(&self) -> Result<Option<Holder>, StoreError>;

    /// The secret the nodes of this store share: forwarded appends carry it.
    fn cluster_secret(&self) -> &[u8];

    /// Gives the lease up if this node holds it (a graceful shutdown), so
    /// another node takes over without waiting for the expiry.
    fn release(&self);
}

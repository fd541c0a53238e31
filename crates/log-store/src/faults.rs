//! A fault-injecting [`LogStore`] (feature `testing`): the `k`-th write
//! (counting appends, integrations, checkpoint publications and syncs, from
//! 0) fails with EIO, in one of two ways:
//!
//! - [`FaultMode::NotPersisted`]: the write never reaches the wrapped store
//!   (a write refused before it starts: no space, no descriptor);
//! - [`FaultMode::Persisted`]: the write reaches the wrapped store and then
//!   reports failure (an `fsync` whose data did reach the disk, a reply
//!   lost after the fact).
//!
//! A log over it must keep its promises in both cases: nothing it
//! acknowledged is lost, nothing it did not acknowledge is reported as
//! acknowledged, and its checkpoints never fork. The tests run a workload
//! once per `k` and mode and check the whole tree after each step.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use tlog::{BundleId, Hash, LeafIndex, TileId, TreeSize};

use crate::{EntryVisitor, Integration, LogStore, Recovered, StoreError};

/// How the injected write fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultMode {
    /// It fails before reaching the store: nothing is written.
    NotPersisted,
    /// It reaches the store, then fails: what it wrote stays.
    Persisted,
}

/// Which write a [`FaultyStore`] counted, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteOp {
    /// [`LogStore::append`].
    Append,
    /// [`LogStore::integrate`].
    Integrate,
    /// [`LogStore::publish_checkpoint`].
    Publish,
    /// [`LogStore::sync`].
    Sync,
}

/// A store that fails its `k`-th write once (see the module doc).
pub struct FaultyStore {
    inner: Arc<dyn LogStore>,
    fail_at: Option<(usize, FaultMode)>,
    writes: AtomicUsize,
    seen: Mutex<Vec<WriteOp>>,
}

impl FaultyStore {
    /// Wraps `inner`, failing write number `k` (from 0) as `mode`.
    pub fn new(inner: Arc<dyn LogStore>, k: usize, mode: FaultMode) -> FaultyStore {
        FaultyStore {
            inner,
            fail_at: Some((k, mode)),
            writes: AtomicUsize::new(0),
            seen: Mutex::new(Vec::new()),
        }
    }

    /// Wraps `inner` without failing anything (to count a workload's writes).
    pub fn counting(inner: Arc<dyn LogStore>) -> FaultyStore {
        FaultyStore {
            fail_at: None,
            ..FaultyStore::new(inner, 0, FaultMode::NotPersisted)
        }
    }

    /// The writes counted so far, in order.
    pub fn writes(&self) -> Vec<WriteOp> {
        self.seen.lock().clone()
    }

    /// Whether the fault was injected.
    pub fn injected(&self) -> bool {
        self.fail_at
            .is_some_and(|(k, _)| self.writes.load(Ordering::SeqCst) > k)
    }

    fn write<T>(
        &self,
        op: WriteOp,
        f: impl FnOnce() -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let n = self.writes.fetch_add(1, Ordering::SeqCst);
        self.seen.lock().push(op);
        match self.fail_at {
            Some((k, FaultMode::NotPersisted)) if k == n => Err(eio(op, "not persisted")),
            Some((k, FaultMode::Persisted)) if k == n => {
                f()?;
                Err(eio(op, "persisted"))
            }
            _ => f(),
        }
    }
}

fn eio(op: WriteOp, how: &str) -> StoreError {
    StoreError::io(
        format!("{op:?} (injected fault, {how})"),
        std::io::Error::from_raw_os_error(rustix::io::Errno::IO.raw_os_error()),
    )
}

impl LogStore for FaultyStore {
    fn recover(&self) -> Result<Recovered, StoreError> {
        self.inner.recover()
    }
    fn reopen(&self) -> Result<(), StoreError> {
        self.inner.reopen()
    }
    fn replay(&self, from: TreeSize, f: &mut EntryVisitor<'_>) -> Result<(), StoreError> {
        self.inner.replay(from, f)
    }
    fn append(&self, start: LeafIndex, entries: &[&[u8]]) -> Result<(), StoreError> {
        self.write(WriteOp::Append, || self.inner.append(start, entries))
    }
    fn lookup(&self, leaf: &Hash) -> Result<Option<LeafIndex>, StoreError> {
        self.inner.lookup(leaf)
    }
    fn integrate(&self, integration: &Integration) -> Result<(), StoreError> {
        self.write(WriteOp::Integrate, || self.inner.integrate(integration))
    }
    fn publish_checkpoint(&self, size: TreeSize, note: &[u8]) -> Result<(), StoreError> {
        self.write(WriteOp::Publish, || {
            self.inner.publish_checkpoint(size, note)
        })
    }
    fn sync(&self, size: TreeSize) -> Result<(), StoreError> {
        self.write(WriteOp::Sync, || self.inner.sync(size))
    }
    fn read_tile(&self, id: TileId) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.read_tile(id)
    }
    fn read_bundle(&self, id: BundleId) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.read_bundle(id)
    }
    fn checkpoint(&self) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.checkpoint()
    }
    fn checkpoint_history(&self, from: TreeSize) -> Result<Vec<(TreeSize, Vec<u8>)>, StoreError> {
        self.inner.checkpoint_history(from)
    }
}

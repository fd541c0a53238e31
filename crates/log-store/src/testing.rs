//! Test support (feature `testing`): a [`LogStore`] wrapper whose journal
//! append can be held back, so that tests can fill the log's pending pool
//! deterministically. It never changes what is stored: every call goes to the
//! wrapped store unchanged.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::{Condvar, Mutex};
use tlog::{BundleId, Hash, LeafIndex, TileId, TreeSize};

use crate::{EntryVisitor, Integration, LogStore, Recovered, StoreError};

/// A store with a gate in front of [`LogStore::append`].
pub struct GatedStore {
    inner: Arc<dyn LogStore>,
    closed: Mutex<bool>,
    changed: Condvar,
    entered: AtomicUsize,
}

impl GatedStore {
    /// Wraps `inner` with the gate open.
    pub fn new(inner: Arc<dyn LogStore>) -> GatedStore {
        GatedStore {
            inner,
            closed: Mutex::new(false),
            changed: Condvar::new(),
            entered: AtomicUsize::new(0),
        }
    }

    /// Appends block at the gate from now on.
    pub fn close_gate(&self) {
        *self.closed.lock() = true;
    }

    /// Lets blocked and future appends through.
    pub fn open_gate(&self) {
        *self.closed.lock() = false;
        self.changed.notify_all();
    }

    /// How many appends have reached the gate so far.
    pub fn entered(&self) -> usize {
        self.entered.load(Ordering::SeqCst)
    }
}

impl LogStore for GatedStore {
    fn recover(&self) -> Result<Recovered, StoreError> {
        self.inner.recover()
    }
    fn replay(&self, from: TreeSize, f: &mut EntryVisitor<'_>) -> Result<(), StoreError> {
        self.inner.replay(from, f)
    }
    fn append(&self, start: LeafIndex, entries: &[&[u8]]) -> Result<(), StoreError> {
        self.entered.fetch_add(1, Ordering::SeqCst);
        let mut closed = self.closed.lock();
        while *closed {
            self.changed.wait(&mut closed);
        }
        drop(closed);
        self.inner.append(start, entries)
    }
    fn lookup(&self, leaf: &Hash) -> Result<Option<LeafIndex>, StoreError> {
        self.inner.lookup(leaf)
    }
    fn integrate(&self, integration: &Integration) -> Result<(), StoreError> {
        self.inner.integrate(integration)
    }
    fn publish_checkpoint(&self, size: TreeSize, note: &[u8]) -> Result<(), StoreError> {
        self.inner.publish_checkpoint(size, note)
    }
    fn sync(&self, size: TreeSize) -> Result<(), StoreError> {
        self.inner.sync(size)
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

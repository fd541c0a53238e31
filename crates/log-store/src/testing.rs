//! Test support (feature `testing`): a [`LogStore`] wrapper whose journal
//! append can be held back, so that tests can fill the log's pending pool
//! deterministically, and whose writes can be made to fail with EMFILE ("too
//! many open files") or ENOSPC ("no space left on device") a given number of
//! times. It never changes what is
//! stored: a call either goes to the wrapped store unchanged or fails before
//! reaching it, as a call that cannot open a file does.

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
    /// Appends, integrations, checkpoint publications and syncs still to fail with EMFILE.
    emfile_appends: AtomicUsize,
    emfile_integrations: AtomicUsize,
    emfile_publications: AtomicUsize,
    emfile_syncs: AtomicUsize,
    /// Appends and integrations still to fail with ENOSPC.
    enospc_appends: AtomicUsize,
    enospc_integrations: AtomicUsize,
    reopens: AtomicUsize,
}

/// Takes one from `counter` if it is positive: true if this call must fail.
fn take_one(counter: &AtomicUsize) -> bool {
    counter
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
}

fn enospc(what: &str) -> StoreError {
    StoreError::io(
        format!("{what} (injected)"),
        std::io::Error::from_raw_os_error(rustix::io::Errno::NOSPC.raw_os_error()),
    )
}

fn emfile(what: &str) -> StoreError {
    StoreError::io(
        format!("{what} (injected)"),
        std::io::Error::from_raw_os_error(rustix::io::Errno::MFILE.raw_os_error()),
    )
}

impl GatedStore {
    /// Wraps `inner` with the gate open.
    pub fn new(inner: Arc<dyn LogStore>) -> GatedStore {
        GatedStore {
            inner,
            closed: Mutex::new(false),
            changed: Condvar::new(),
            entered: AtomicUsize::new(0),
            emfile_appends: AtomicUsize::new(0),
            emfile_integrations: AtomicUsize::new(0),
            emfile_publications: AtomicUsize::new(0),
            emfile_syncs: AtomicUsize::new(0),
            enospc_appends: AtomicUsize::new(0),
            enospc_integrations: AtomicUsize::new(0),
            reopens: AtomicUsize::new(0),
        }
    }

    /// The next `appends` appends and `integrations` integrations fail with
    /// ENOSPC ("no space left on device") without reaching the wrapped store.
    pub fn fail_with_enospc(&self, appends: usize, integrations: usize) {
        self.enospc_appends.store(appends, Ordering::SeqCst);
        self.enospc_integrations
            .store(integrations, Ordering::SeqCst);
    }

    /// How many injected ENOSPC failures are still to come.
    pub fn enospc_pending(&self) -> usize {
        self.enospc_appends.load(Ordering::SeqCst) + self.enospc_integrations.load(Ordering::SeqCst)
    }

    /// How many times [`LogStore::reopen`] was called.
    pub fn reopens(&self) -> usize {
        self.reopens.load(Ordering::SeqCst)
    }

    /// The next `appends` appends, `integrations` integrations,
    /// `publications` checkpoint publications and `syncs` syncs fail with
    /// EMFILE without reaching the wrapped store.
    pub fn fail_with_emfile(
        &self,
        appends: usize,
        integrations: usize,
        publications: usize,
        syncs: usize,
    ) {
        self.emfile_appends.store(appends, Ordering::SeqCst);
        self.emfile_integrations
            .store(integrations, Ordering::SeqCst);
        self.emfile_publications
            .store(publications, Ordering::SeqCst);
        self.emfile_syncs.store(syncs, Ordering::SeqCst);
    }

    /// How many injected EMFILE failures are still to come.
    pub fn emfile_pending(&self) -> usize {
        [
            &self.emfile_appends,
            &self.emfile_integrations,
            &self.emfile_publications,
            &self.emfile_syncs,
        ]
        .iter()
        .map(|c| c.load(Ordering::SeqCst))
        .sum()
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
    fn reopen(&self) -> Result<(), StoreError> {
        self.reopens.fetch_add(1, Ordering::SeqCst);
        self.inner.reopen()
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
        if take_one(&self.emfile_appends) {
            return Err(emfile("create journal segment"));
        }
        if take_one(&self.enospc_appends) {
            return Err(enospc("write journal"));
        }
        self.inner.append(start, entries)
    }
    fn lookup(&self, leaf: &Hash) -> Result<Option<LeafIndex>, StoreError> {
        self.inner.lookup(leaf)
    }
    fn integrate(&self, integration: &Integration) -> Result<(), StoreError> {
        if take_one(&self.emfile_integrations) {
            return Err(emfile("write tile"));
        }
        if take_one(&self.enospc_integrations) {
            return Err(enospc("write tile"));
        }
        self.inner.integrate(integration)
    }
    fn publish_checkpoint(&self, size: TreeSize, note: &[u8]) -> Result<(), StoreError> {
        if take_one(&self.emfile_publications) {
            return Err(emfile("write checkpoint"));
        }
        self.inner.publish_checkpoint(size, note)
    }
    fn sync(&self, size: TreeSize) -> Result<(), StoreError> {
        if take_one(&self.emfile_syncs) {
            return Err(emfile("open log dir"));
        }
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

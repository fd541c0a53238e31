//! [`Reopening`]: the open handles of an embedded store (a fjall keyspace
//! and its partitions), shared by every user of the store, that can be
//! closed and opened again in place.
//!
//! Why: a write that fails (a full disk) leaves a fjall keyspace poisoned:
//! it refuses every later write until it is opened again. A store that
//! holds its handles in a [`Reopening`] marks itself broken when a write
//! fails ([`Reopening::mark_broken`]) and reopens before its next write
//! ([`Reopening::reopen`]), so writing resumes by itself once space is back,
//! without a restart. Reads keep the old handles until then (a poisoned
//! keyspace still reads).
//!
//! The old handles must be gone before the directory is opened again (the
//! keyspace's threads stopped, its journal closed): a reopen waits, up to a
//! bound, for reads in flight to drop theirs, while new reads wait for the
//! reopen.
//!
//! Pure synchronization: no I/O of its own (the caller's `open` does it).

#![deny(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::RwLock;

/// Why [`Reopening::reopen`] did not reopen.
#[derive(Debug)]
pub enum ReopenError<E> {
    /// Reads still held the old handles after the wait: nothing changed,
    /// try again later.
    Busy,
    /// Opening again failed; the store is not open until a later reopen
    /// succeeds.
    Open(E),
}

impl<E: std::fmt::Display> std::fmt::Display for ReopenError<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReopenError::Busy => f.write_str("reads of the store did not finish; reopening later"),
            ReopenError::Open(e) => write!(f, "reopening after a write error: {e}"),
        }
    }
}

/// Open handles `P`, shared, reopenable in place (see the crate docs).
pub struct Reopening<P> {
    slot: RwLock<Option<Arc<P>>>,
    broken: AtomicBool,
}

impl<P> Reopening<P> {
    /// Handles just opened.
    pub fn new(parts: P) -> Reopening<P> {
        Reopening {
            slot: RwLock::new(Some(Arc::new(parts))),
            broken: AtomicBool::new(false),
        }
    }

    /// The current handles; `None` when a reopen failed to open them.
    pub fn get(&self) -> Option<Arc<P>> {
        self.slot.read().clone()
    }

    /// A write failed: the next [`Reopening::reopen_if_broken`] reopens.
    pub fn mark_broken(&self) {
        self.broken.store(true, Ordering::Release);
    }

    /// Whether a write failed since the last (re)open.
    pub fn is_broken(&self) -> bool {
        self.broken.load(Ordering::Acquire) || self.slot.read().is_none()
    }

    /// Reopens if a write failed since the last (re)open (or the last
    /// reopen failed); a no-op otherwise.
    pub fn reopen_if_broken<E>(
        &self,
        wait_max: Duration,
        open: impl FnOnce() -> Result<P, E>,
    ) -> Result<(), ReopenError<E>> {
        if self.is_broken() {
            self.reopen(wait_max, open)
        } else {
            Ok(())
        }
    }

    /// Closes the handles, once no read holds them (waiting at most
    /// `wait_max`), and opens them again with `open`.
    pub fn reopen<E>(
        &self,
        wait_max: Duration,
        open: impl FnOnce() -> Result<P, E>,
    ) -> Result<(), ReopenError<E>> {
        let mut slot = self.slot.write();
        if let Some(old) = slot.take() {
            let deadline = Instant::now() + wait_max;
            while Arc::strong_count(&old) > 1 {
                if Instant::now() >= deadline {
                    *slot = Some(old);
                    return Err(ReopenError::Busy);
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            drop(old);
        }
        let parts = open().map_err(ReopenError::Open)?;
        *slot = Some(Arc::new(parts));
        self.broken.store(false, Ordering::Release);
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_reopen_waits_for_reads_and_replaces_the_handles_for_everyone() {
        let r = Arc::new(Reopening::new(1u32));
        assert!(!r.is_broken());
        r.mark_broken();
        assert!(r.is_broken());
        let held = r.get().unwrap();
        // A read holds the old handles: the reopen gives up after its wait.
        assert!(matches!(
            r.reopen(Duration::from_millis(20), || Ok::<_, ()>(2)),
            Err(ReopenError::Busy)
        ));
        assert_eq!(*r.get().unwrap(), 1);
        drop(held);
        r.reopen_if_broken(Duration::from_millis(20), || Ok::<_, ()>(2))
            .unwrap();
        assert_eq!(*r.get().unwrap(), 2);
        assert!(!r.is_broken());
        // A failed open leaves nothing open, and broken.
        assert!(matches!(
            r.reopen(Duration::from_millis(20), || Err::<u32, _>("disk")),
            Err(ReopenError::Open("disk"))
        ));
        assert!(r.get().is_none());
        assert!(r.is_broken());
        r.reopen_if_broken(Duration::from_millis(20), || Ok::<_, ()>(3))
            .unwrap();
        assert_eq!(*r.get().unwrap(), 3);
    }
}

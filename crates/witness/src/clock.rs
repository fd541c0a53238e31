//! The injected wall clock: cosignature timestamps come from here, so tests
//! pin time instead of sleeping.
//!
//! Deliberately no monotonic time and no timers: the witness only needs
//! "seconds since the Epoch" to put in a cosignature.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// A source of POSIX time in seconds.
pub trait Clock: Send + Sync {
    /// Seconds since the Unix epoch, as the cosignature timestamp expects.
    fn now_unix_s(&self) -> u64;
}

/// The operating system's wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_unix_s(&self) -> u64 {
        // A clock before 1970 reads as 0; the witness refuses to cosign with a
        // zero timestamp (the spec forbids it), so this fails loudly, not
        // silently.
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    }
}

/// A clock that reads whatever it was last set to (for tests and
/// deterministic tools).
#[derive(Debug, Default)]
pub struct FixedClock(AtomicU64);

impl FixedClock {
    /// A clock stopped at `now_unix_s`.
    pub fn new(now_unix_s: u64) -> Self {
        Self(AtomicU64::new(now_unix_s))
    }

    /// Moves the clock to `now_unix_s` (forwards or backwards).
    pub fn set(&self, now_unix_s: u64) {
        self.0.store(now_unix_s, Ordering::SeqCst);
    }
}

impl Clock for FixedClock {
    fn now_unix_s(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

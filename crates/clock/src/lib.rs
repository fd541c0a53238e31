//! The wall clock, injected: every crate that decides something by the time
//! (token expiry, receipt timestamps, notification retries, the risk
//! register's day) reads it through a [`Clock`] it is given, so that tests
//! set it and every decision of one request sees one time. The node gives
//! them all the same [`SystemClock`]; tests give a [`FixedClock`].
//!
//! Deliberately absent: monotonic time and timers. Measuring a duration
//! (`Instant`) and sleeping are not reading the wall clock, and stay where
//! they are used. Std only, so that the lowest crates can take a clock.

#![forbid(unsafe_code)]
#![deny(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicU64, Ordering};

/// Wall-clock time, in milliseconds since the Unix epoch.
pub trait Clock: Send + Sync {
    /// Now, in milliseconds since the Unix epoch.
    fn now_unix_ms(&self) -> u64;

    /// Now, in whole seconds since the Unix epoch.
    fn now_unix_s(&self) -> i64 {
        i64::try_from(self.now_unix_ms() / 1000).unwrap_or(i64::MAX)
    }
}

/// The system's clock. A clock set before 1970 reads as the epoch: tokens
/// are then not yet valid and receipts are dated 0, which fails closed.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_unix_ms(&self) -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }
}

/// A clock that says what it is told (tests, deterministic tools).
#[derive(Debug, Default)]
pub struct FixedClock(pub AtomicU64);

impl FixedClock {
    /// A clock at `unix_ms`.
    pub fn at(unix_ms: u64) -> FixedClock {
        FixedClock(AtomicU64::new(unix_ms))
    }

    /// Moves it to `unix_ms` (forwards or backwards).
    pub fn set(&self, unix_ms: u64) {
        self.0.store(unix_ms, Ordering::SeqCst);
    }

    /// Moves it forwards by `ms`.
    pub fn advance_ms(&self, ms: u64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }
}

impl Clock for FixedClock {
    fn now_unix_ms(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fixed_clock_reads_what_it_was_set_to() {
        let clock = FixedClock::at(1_700_000_000_999);
        assert_eq!(clock.now_unix_ms(), 1_700_000_000_999);
        assert_eq!(clock.now_unix_s(), 1_700_000_000, "seconds round down");
        clock.advance_ms(1);
        assert_eq!(clock.now_unix_s(), 1_700_000_001);
        clock.set(0);
        assert_eq!(clock.now_unix_s(), 0);
    }

    #[test]
    fn the_system_clock_is_after_the_clock_was_written() {
        // 2024-01-01T00:00:00Z: a system clock before it is broken.
        assert!(SystemClock.now_unix_s() > 1_704_067_200);
    }
}

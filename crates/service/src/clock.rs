//! The clock, injected: services read the time only through a [`Clock`], so
//! that tests can set it and every decision of one request sees one time.

/// Wall-clock time, in milliseconds since the Unix epoch.
pub trait Clock: Send + Sync {
    /// Now, in milliseconds since the Unix epoch.
    fn now_unix_ms(&self) -> u64;

    /// Now, in whole seconds since the Unix epoch.
    fn now_unix_s(&self) -> i64 {
        i64::try_from(self.now_unix_ms() / 1000).unwrap_or(i64::MAX)
    }
}

/// The system's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_unix_ms(&self) -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }
}

/// A clock that says what it is told (tests).
#[derive(Debug, Default)]
pub struct FixedClock(pub std::sync::atomic::AtomicU64);

impl FixedClock {
    /// A clock at `unix_ms`.
    pub fn at(unix_ms: u64) -> FixedClock {
        FixedClock(std::sync::atomic::AtomicU64::new(unix_ms))
    }

    /// Moves it to `unix_ms`.
    pub fn set(&self, unix_ms: u64) {
        self.0.store(unix_ms, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Clock for FixedClock {
    fn now_unix_ms(&self) -> u64 {
        self.0.load(std::sync::atomic::Ordering::SeqCst)
    }
}

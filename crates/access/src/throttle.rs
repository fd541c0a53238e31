//! Backoff after failed authentications, per key (a client id, a client
//! address), with bounded memory and no clock of its own: the caller passes
//! the time, so tests move it.
//!
//! The rule: a key may fail [`Backoff::failures_free`] times; each further
//! failure locks it for a delay that doubles from [`Backoff::delay_s_first`]
//! up to [`Backoff::delay_s_max`]. While locked, the caller refuses the key
//! without checking anything (429 with `Retry-After`), so a guessing client
//! gets one try per delay and costs no hashing. A key that has not failed
//! for [`Backoff::forget_after_s`] starts afresh, and a success forgets it.
//!
//! Memory: at most [`Backoff::keys_max`] keys. When full, keys forgotten
//! by time go first, then the unlocked one whose last failure is oldest,
//! and a locked key only when every key is locked; a flood of new keys can
//! thus evict old ones, which is why a caller also keys on something the
//! flooder cannot multiply cheaply (the address).

use std::collections::HashMap;
use std::hash::Hash;

/// How a [`Throttle`] backs off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Failures allowed before the first lock.
    pub failures_free: u32,
    /// The first lock, in seconds.
    pub delay_s_first: u64,
    /// The longest lock, in seconds.
    pub delay_s_max: u64,
    /// A key whose last failure is this old starts afresh, in seconds.
    pub forget_after_s: u64,
    /// Keys remembered at most.
    pub keys_max: usize,
}

/// Why a key is refused now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Locked {
    /// Seconds until it may try again (at least 1).
    pub retry_after_s: u64,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    last_failure_s: u64,
    locked_until_s: u64,
}

/// Failures per key; see the module documentation.
#[derive(Debug)]
pub struct Throttle<K> {
    backoff: Backoff,
    entries: HashMap<K, Entry>,
}

impl<K: Hash + Eq + Clone> Throttle<K> {
    /// An empty throttle backing off by `backoff`.
    pub fn new(backoff: Backoff) -> Throttle<K> {
        Throttle {
            backoff,
            entries: HashMap::new(),
        }
    }

    /// Keys remembered now.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no key is remembered.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn live(&self, e: &Entry, now_s: u64) -> bool {
        now_s.saturating_sub(e.last_failure_s) < self.backoff.forget_after_s
            || now_s < e.locked_until_s
    }

    /// Whether `key` may try now.
    pub fn check(&self, key: &K, now_s: u64) -> Result<(), Locked> {
        match self.entries.get(key) {
            Some(e) if now_s < e.locked_until_s => Err(Locked {
                retry_after_s: (e.locked_until_s - now_s).max(1),
            }),
            _ => Ok(()),
        }
    }

    /// Books a failure of `key` at `now_s`; answers the lock it causes, if
    /// any.
    pub fn failed(&mut self, key: K, now_s: u64) -> Option<Locked> {
        if !self.entries.contains_key(&key) && self.entries.len() >= self.backoff.keys_max {
            self.make_room(now_s);
        }
        let fresh = Entry {
            failures: 0,
            last_failure_s: now_s,
            locked_until_s: 0,
        };
        let forget_after_s = self.backoff.forget_after_s;
        let e = self.entries.entry(key).or_insert(fresh);
        if now_s.saturating_sub(e.last_failure_s) >= forget_after_s && now_s >= e.locked_until_s {
            *e = fresh;
        }
        e.failures = e.failures.saturating_add(1);
        e.last_failure_s = now_s;
        let over = e.failures.checked_sub(self.backoff.failures_free)?;
        if over == 0 {
            return None;
        }
        // 1st failure over the free ones: the first delay; then doubling.
        let doublings = (over - 1).min(63);
        let delay_s = self
            .backoff
            .delay_s_first
            .saturating_mul(1u64 << doublings)
            .min(self.backoff.delay_s_max)
            .max(1);
        e.locked_until_s = now_s.saturating_add(delay_s);
        Some(Locked {
            retry_after_s: delay_s,
        })
    }

    /// Forgets `key` (it authenticated).
    pub fn succeeded(&mut self, key: &K) {
        self.entries.remove(key);
    }

    /// Drops forgotten keys; if none was, the unlocked one failing longest
    /// ago (a locked key goes last, so that a flood does not unlock it).
    fn make_room(&mut self, now_s: u64) {
        let before = self.entries.len();
        let entries = std::mem::take(&mut self.entries);
        self.entries = entries
            .into_iter()
            .filter(|(_, e)| self.live(e, now_s))
            .collect();
        if self.entries.len() < before {
            return;
        }
        let oldest = self
            .entries
            .iter()
            .min_by_key(|(_, e)| (now_s < e.locked_until_s, e.last_failure_s))
            .map(|(k, _)| k.clone());
        if let Some(k) = oldest {
            self.entries.remove(&k);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const B: Backoff = Backoff {
        failures_free: 3,
        delay_s_first: 2,
        delay_s_max: 30,
        forget_after_s: 600,
        keys_max: 4,
    };

    #[test]
    fn free_failures_then_doubling_locks_up_to_the_cap() {
        let mut t = Throttle::new(B);
        let mut now = 1_000;
        for _ in 0..3 {
            assert_eq!(t.check(&"a", now), Ok(()));
            assert_eq!(t.failed("a", now), None);
        }
        let mut delays = Vec::new();
        for _ in 0..6 {
            assert_eq!(t.check(&"a", now), Ok(()));
            let lock = t.failed("a", now).expect("locked");
            assert_eq!(
                t.check(&"a", now),
                Err(Locked {
                    retry_after_s: lock.retry_after_s
                })
            );
            assert_eq!(
                t.check(&"a", now + lock.retry_after_s - 1),
                Err(Locked { retry_after_s: 1 })
            );
            delays.push(lock.retry_after_s);
            now += lock.retry_after_s;
        }
        assert_eq!(delays, [2, 4, 8, 16, 30, 30]);
        assert_eq!(t.check(&"b", now), Ok(()), "other keys are not affected");
    }

    #[test]
    fn success_and_time_forget() {
        let mut t = Throttle::new(B);
        for _ in 0..4 {
            t.failed("a", 0);
        }
        assert!(t.check(&"a", 0).is_err());
        t.succeeded(&"a");
        assert_eq!(t.check(&"a", 0), Ok(()));
        assert_eq!(t.failed("a", 0), None, "a success starts afresh");

        let mut t = Throttle::new(B);
        for _ in 0..3 {
            t.failed("a", 0);
        }
        assert_eq!(t.failed("a", 599), Some(Locked { retry_after_s: 2 }));
        assert_eq!(
            t.failed("a", 601 + 599),
            None,
            "600 s after the last failure, the count starts afresh"
        );
    }

    #[test]
    fn memory_is_bounded_and_locked_keys_are_evicted_last() {
        let mut t = Throttle::new(B);
        t.failed("stale", 0);
        t.failed("x", 700);
        t.failed("y", 700);
        for _ in 0..4 {
            t.failed("locked", 700);
        }
        assert_eq!(t.len(), 4);
        // Full: "stale" (forgotten by time) goes first.
        t.failed("z", 701);
        assert_eq!(t.len(), 4);
        assert!(!t.entries.contains_key("stale"));
        // Then the oldest unlocked ones, never the locked one.
        t.failed("w", 701);
        t.failed("v", 701);
        assert_eq!(t.len(), 4);
        assert!(!t.entries.contains_key("x") && !t.entries.contains_key("y"));
        assert!(t.check(&"locked", 701).is_err(), "still locked");
        let mut many = Throttle::new(B);
        for i in 0..1000u64 {
            many.failed(i, 800 + i);
            assert!(many.len() <= B.keys_max);
        }
    }
}

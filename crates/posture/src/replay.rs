//! Freshness and replay protection of device reports, and the one list of
//! reasons a report is refused ([`RejectReason`], with the stable labels
//! an ingester counts them under).
//!
//! A report is admitted only if its counter is larger than the last one
//! admitted for its device and its timestamp lies in a window around the
//! caller's clock ([`Freshness`]). The same report delivered again (MQTT
//! QoS 1 is at-least-once) is told apart from a replay when it is the last
//! one admitted: same counter and same statement digest.
//!
//! Deliberately absent: a clock (`now` is an argument), persistence (the
//! caller restores each device's [`LastAccepted`] from its store), and the
//! signature check (the ingester verifies before it asks; the order of the
//! checks is the ingester's: parse, key, signature, then freshness).

use std::collections::HashMap;
use std::fmt;
use std::hash::Hash;

use crate::report::Sha256;

/// Default [`Freshness::age_max_s`]: a day, the registration window of
/// the transparency service for a statement's `iat`, so that a report the
/// broker kept while sectwin was down is still admitted when it comes back.
pub const AGE_MAX_S_DEFAULT: u64 = 24 * 60 * 60;
/// Default [`Freshness::ahead_max_s`]: five minutes of clock skew.
pub const AHEAD_MAX_S_DEFAULT: u64 = 5 * 60;

/// Why a report was refused. One enum for every stage, so that a counter
/// per reason covers every refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RejectReason {
    /// The subject names no registered device, or one without a device key.
    UnknownDevice,
    /// The message is not a COSE_Sign1 statement at all (plain JSON, say).
    Unsigned,
    /// The signature does not verify with the device's registered key
    /// (tampered payload, wrong key, corrupted bytes).
    BadSignature,
    /// The statement's issuer or subject is not `device:{id}` of the topic
    /// it came on.
    SubjectMismatch,
    /// A COSE or payload parse error ([`crate::report::ReportError`]).
    Malformed,
    /// The message or its payload is over its size bound.
    Oversized,
    /// The device is decommissioned: it no longer speaks for itself.
    Decommissioned,
    /// The counter is not above the last admitted one: a replay.
    Replayed,
    /// The last admitted report delivered again (same counter, same
    /// statement): at-least-once delivery, not an attack.
    Duplicate,
    /// The timestamp is older than the freshness window.
    Stale,
    /// The timestamp is ahead of the clock by more than the allowed skew.
    FromTheFuture,
}

impl RejectReason {
    /// Every reason, in declaration order (to start every counter at 0).
    pub const ALL: [RejectReason; 11] = [
        RejectReason::UnknownDevice,
        RejectReason::Unsigned,
        RejectReason::BadSignature,
        RejectReason::SubjectMismatch,
        RejectReason::Malformed,
        RejectReason::Oversized,
        RejectReason::Decommissioned,
        RejectReason::Replayed,
        RejectReason::Duplicate,
        RejectReason::Stale,
        RejectReason::FromTheFuture,
    ];

    /// The stable snake_case label (a Prometheus label value, an API field).
    pub fn as_str(self) -> &'static str {
        match self {
            RejectReason::UnknownDevice => "unknown_device",
            RejectReason::Unsigned => "unsigned",
            RejectReason::BadSignature => "bad_signature",
            RejectReason::SubjectMismatch => "subject_mismatch",
            RejectReason::Malformed => "malformed",
            RejectReason::Oversized => "oversized",
            RejectReason::Decommissioned => "decommissioned",
            RejectReason::Replayed => "replayed",
            RejectReason::Duplicate => "duplicate",
            RejectReason::Stale => "stale",
            RejectReason::FromTheFuture => "from_the_future",
        }
    }

    /// The reason with this label.
    pub fn from_label(label: &str) -> Option<RejectReason> {
        RejectReason::ALL.into_iter().find(|r| r.as_str() == label)
    }
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The window a report's timestamp must lie in, around the caller's clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Freshness {
    /// Oldest admitted, in seconds before now.
    pub age_max_s: u64,
    /// Furthest admitted, in seconds after now (clock skew).
    pub ahead_max_s: u64,
}

impl Default for Freshness {
    fn default() -> Freshness {
        Freshness {
            age_max_s: AGE_MAX_S_DEFAULT,
            ahead_max_s: AHEAD_MAX_S_DEFAULT,
        }
    }
}

/// What is kept of the last report admitted for a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LastAccepted {
    /// Its counter.
    pub counter: u64,
    /// SHA-256 of its signed statement's bytes (to tell a redelivery from
    /// a replay).
    pub statement_sha256: Sha256,
}

impl Freshness {
    /// Whether a report with `counter` and `timestamp` (unix seconds),
    /// whose signed statement hashes to `statement_sha256`, is admitted
    /// after `last` at `now_unix_s`. The counter is checked first: a
    /// redelivered report is a [`RejectReason::Duplicate`] however old.
    pub fn check(
        &self,
        last: Option<&LastAccepted>,
        counter: u64,
        timestamp: i64,
        statement_sha256: &Sha256,
        now_unix_s: i64,
    ) -> Result<(), RejectReason> {
        if let Some(last) = last {
            if counter == last.counter && *statement_sha256 == last.statement_sha256 {
                return Err(RejectReason::Duplicate);
            }
            if counter <= last.counter {
                return Err(RejectReason::Replayed);
            }
        }
        // i128: no overflow whatever the two clocks say.
        let age_s = i128::from(now_unix_s) - i128::from(timestamp);
        if age_s > i128::from(self.age_max_s) {
            return Err(RejectReason::Stale);
        }
        if -age_s > i128::from(self.ahead_max_s) {
            return Err(RejectReason::FromTheFuture);
        }
        Ok(())
    }
}

/// The last admitted report of every device, in memory, and the
/// [`Freshness`] window: [`ReplayGuard::admit`] checks and records in one
/// step, so two deliveries of one report cannot both be admitted.
#[derive(Debug, Clone)]
pub struct ReplayGuard<K> {
    freshness: Freshness,
    last: HashMap<K, LastAccepted>,
}

impl<K: Hash + Eq> ReplayGuard<K> {
    /// A guard that knows no device yet.
    pub fn new(freshness: Freshness) -> ReplayGuard<K> {
        ReplayGuard {
            freshness,
            last: HashMap::new(),
        }
    }

    /// Restores a device's last admitted report (from the caller's store,
    /// at start). Keeps the larger counter if one is already known.
    pub fn restore(&mut self, device: K, last: LastAccepted) {
        let slot = self.last.entry(device).or_insert(last);
        if last.counter > slot.counter {
            *slot = last;
        }
    }

    /// The last admitted report of `device`.
    pub fn last(&self, device: &K) -> Option<&LastAccepted> {
        self.last.get(device)
    }

    /// How many devices the guard knows.
    pub fn len(&self) -> usize {
        self.last.len()
    }

    /// Whether the guard knows no device.
    pub fn is_empty(&self) -> bool {
        self.last.is_empty()
    }

    /// Checks a report of `device` and, if admitted, records it as the
    /// device's last. A refused report changes nothing.
    pub fn admit(
        &mut self,
        device: K,
        counter: u64,
        timestamp: i64,
        statement_sha256: Sha256,
        now_unix_s: i64,
    ) -> Result<(), RejectReason> {
        self.freshness.check(
            self.last.get(&device),
            counter,
            timestamp,
            &statement_sha256,
            now_unix_s,
        )?;
        self.last.insert(
            device,
            LastAccepted {
                counter,
                statement_sha256,
            },
        );
        Ok(())
    }
}

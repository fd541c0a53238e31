//! The replay guard: counters, freshness window, redelivery, and the
//! stable labels of every rejection reason.

use std::collections::BTreeSet;

use posture::replay::{Freshness, LastAccepted, RejectReason, ReplayGuard};
use posture::report::Sha256;

use crate::fixture::NOW;

const A: Sha256 = Sha256::from_bytes([1; 32]);
const B: Sha256 = Sha256::from_bytes([2; 32]);

/// (case, last admitted, counter, timestamp, statement digest, expected).
type Case = (
    &'static str,
    Option<LastAccepted>,
    u64,
    i64,
    Sha256,
    Result<(), RejectReason>,
);

#[test]
fn freshness_cases() {
    let policy = Freshness {
        age_max_s: 3600,
        ahead_max_s: 300,
    };
    let last = LastAccepted {
        counter: 10,
        statement_sha256: A,
    };
    let cases: [Case; 12] = [
        ("first report of a device", None, 0, NOW, A, Ok(())),
        ("next counter", Some(last), 11, NOW, B, Ok(())),
        ("a jump forward", Some(last), 1_000_000, NOW, B, Ok(())),
        (
            "the same counter, other bytes",
            Some(last),
            10,
            NOW,
            B,
            Err(RejectReason::Replayed),
        ),
        (
            "an older counter",
            Some(last),
            9,
            NOW,
            B,
            Err(RejectReason::Replayed),
        ),
        (
            "the last report again",
            Some(last),
            10,
            NOW,
            A,
            Err(RejectReason::Duplicate),
        ),
        (
            "the last report again, hours later",
            Some(last),
            10,
            NOW - 86_400,
            A,
            Err(RejectReason::Duplicate),
        ),
        ("exactly as old as allowed", None, 1, NOW - 3600, A, Ok(())),
        (
            "a second older",
            None,
            1,
            NOW - 3601,
            A,
            Err(RejectReason::Stale),
        ),
        (
            "exactly as far ahead as allowed",
            None,
            1,
            NOW + 300,
            A,
            Ok(()),
        ),
        (
            "a second further",
            None,
            1,
            NOW + 301,
            A,
            Err(RejectReason::FromTheFuture),
        ),
        (
            "a timestamp at the end of time",
            None,
            1,
            i64::MAX,
            A,
            Err(RejectReason::FromTheFuture),
        ),
    ];
    for (case, last, counter, ts, digest, want) in cases {
        assert_eq!(
            policy.check(last.as_ref(), counter, ts, &digest, NOW),
            want,
            "{case}"
        );
    }
    assert_eq!(
        policy.check(None, 1, i64::MIN, &A, NOW),
        Err(RejectReason::Stale),
        "the start of time"
    );
}

#[test]
fn the_guard_records_only_what_it_admits() {
    let mut guard: ReplayGuard<String> = ReplayGuard::new(Freshness::default());
    let dev = || "dev-1".to_string();
    assert_eq!(guard.admit(dev(), 5, NOW, A, NOW), Ok(()));
    assert_eq!(
        guard.admit(dev(), 5, NOW, A, NOW),
        Err(RejectReason::Duplicate)
    );
    assert_eq!(
        guard.admit(dev(), 4, NOW, B, NOW),
        Err(RejectReason::Replayed)
    );
    // A stale report does not move the counter: 6 is still admissible.
    assert_eq!(
        guard.admit(dev(), 6, NOW - 2 * 86_400, B, NOW),
        Err(RejectReason::Stale)
    );
    assert_eq!(guard.last(&dev()).map(|l| l.counter), Some(5));
    assert_eq!(guard.admit(dev(), 6, NOW, B, NOW), Ok(()));
    // Another device has its own counter.
    assert_eq!(guard.admit("dev-2".into(), 1, NOW, A, NOW), Ok(()));
    assert_eq!(guard.len(), 2);
    // Restoring keeps the larger counter.
    guard.restore(
        dev(),
        LastAccepted {
            counter: 3,
            statement_sha256: A,
        },
    );
    assert_eq!(guard.last(&dev()).map(|l| l.counter), Some(6));
    guard.restore(
        dev(),
        LastAccepted {
            counter: 9,
            statement_sha256: A,
        },
    );
    assert_eq!(
        guard.admit(dev(), 9, NOW, A, NOW),
        Err(RejectReason::Duplicate)
    );
}

#[test]
fn every_reason_has_a_stable_unique_label() {
    let labels: Vec<&str> = RejectReason::ALL.iter().map(|r| r.as_str()).collect();
    assert_eq!(
        labels,
        [
            "unknown_device",
            "unsigned",
            "bad_signature",
            "subject_mismatch",
            "malformed",
            "oversized",
            "decommissioned",
            "replayed",
            "duplicate",
            "stale",
            "from_the_future"
        ]
    );
    assert_eq!(labels.iter().collect::<BTreeSet<_>>().len(), labels.len());
    for r in RejectReason::ALL {
        assert_eq!(RejectReason::from_label(r.as_str()), Some(r));
        assert_eq!(r.to_string(), r.as_str());
    }
    assert_eq!(RejectReason::from_label("Replayed"), None);
}

//! The conformance suite of [`SideStore`] (feature `testing`), run on the
//! embedded payload store here and on PostgreSQL by `pg-store`.
//!
//! [`check`] takes a function that opens the store under test on the same
//! backing storage each time (the previous handle dropped first), starting
//! empty, and walks the contract: an empty store; payloads kept, read back,
//! kept once and counted once; a payload over the quota refused, with
//! nothing kept or counted; read records listed per owner, oldest first,
//! in pages after a cursor, one owner's apart from another's; everything
//! read back after a reopen. A failed clause panics with what was expected
//! and what was found.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use crate::side::SideStore;
use crate::space::SpaceError;
use crate::store::{NewReadRecord, PutError, StoreError};
use crate::StorageLimits;

fn ok<T>(what: &str, r: Result<T, StoreError>) -> T {
    match r {
        Ok(t) => t,
        Err(e) => panic!("{what}: {e}"),
    }
}

fn leaf(n: u8) -> [u8; 32] {
    let mut l = [0u8; 32];
    l[0] = n;
    l[31] = 0xAB;
    l
}

fn limits(quota: u64) -> StorageLimits {
    StorageLimits {
        stakeholder_payload_bytes_max: quota,
        log_reserve_bytes: 0,
        stakeholder_blob_bytes_max: quota,
    }
}

/// Checks the contract on the store `open` opens (empty at the first call).
pub fn check<S: SideStore>(mut open: impl FnMut() -> S) {
    let s = open();
    assert!(ok("get", s.get(&leaf(1))).is_none(), "an empty store");
    assert_eq!(ok("usage", s.usage_bytes("acme.example")), 0);
    assert!(ok("reads", s.reads("acme.example", None, 10)).is_empty());

    // Payloads: kept, read back, kept once and counted once.
    let roomy = limits(1_000);
    s.put_for(
        "acme.example",
        &leaf(1),
        b"first payload\0with a NUL",
        &roomy,
    )
    .expect("put a payload");
    assert_eq!(
        ok("get", s.get(&leaf(1))).as_deref(),
        Some(&b"first payload\0with a NUL"[..])
    );
    assert_eq!(ok("usage", s.usage_bytes("acme.example")), 24);
    s.put_for(
        "acme.example",
        &leaf(1),
        b"first payload\0with a NUL",
        &roomy,
    )
    .expect("the same payload again");
    assert_eq!(
        ok("usage", s.usage_bytes("acme.example")),
        24,
        "a payload kept twice is counted once"
    );
    s.put_for("op.example", &leaf(2), &[7u8; 100], &roomy)
        .expect("another stakeholder's payload");
    assert_eq!(ok("usage", s.usage_bytes("op.example")), 100);
    assert_eq!(ok("usage", s.usage_bytes("acme.example")), 24);

    // Over the quota: refused, nothing kept or counted.
    match s.put_for("acme.example", &leaf(3), &[1u8; 977], &roomy) {
        Err(PutError::Space(SpaceError::Quota {
            used_bytes,
            adding_bytes,
            ..
        })) => assert_eq!((used_bytes, adding_bytes), (24, 977)),
        other => panic!("a payload over the quota: expected a quota refusal, got {other:?}"),
    }
    assert!(
        ok("get", s.get(&leaf(3))).is_none(),
        "a refused payload is not kept"
    );
    assert_eq!(ok("usage", s.usage_bytes("acme.example")), 24);
    s.put_for("acme.example", &leaf(3), &[1u8; 976], &roomy)
        .expect("up to the quota exactly");
    assert_eq!(ok("usage", s.usage_bytes("acme.example")), 1_000);

    // Read records: per owner, oldest first, in pages after a cursor.
    let record = |owner: &'static str, at_ms: u64, seq: u64, text: &'static str| NewReadRecord {
        owner,
        at_ms,
        seq,
        record: text.as_bytes(),
    };
    ok(
        "record_reads",
        s.record_reads(&[
            record("op.example", 1_000, 0, r#"{"n":1}"#),
            record("acme.example", 1_000, 1, r#"{"n":2}"#),
        ]),
    );
    ok(
        "record_reads",
        s.record_reads(&[record("op.example", 1_000, 2, r#"{"n":3}"#)]),
    );
    ok(
        "record_reads",
        s.record_reads(&[record("op.example", 2_000, 3, r#"{"n":4}"#)]),
    );
    ok("record_reads", s.record_reads(&[]));
    let texts = |rows: &[crate::store::ReadRow]| -> Vec<String> {
        rows.iter()
            .map(|(_, v)| String::from_utf8(v.clone()).expect("utf-8"))
            .collect()
    };
    let reopened = |s: &S| {
        let all = ok("reads", s.reads("op.example", None, 10));
        assert_eq!(
            texts(&all),
            [r#"{"n":1}"#, r#"{"n":3}"#, r#"{"n":4}"#],
            "op's records, oldest first"
        );
        assert!(
            all.windows(2).all(|w| w[0].0 < w[1].0),
            "cursors increase: {:?}",
            all.iter().map(|(c, _)| *c).collect::<Vec<_>>()
        );
        assert_eq!(all[0].0 .0, 1_000, "the cursor holds the time");
        assert_eq!(all[2].0 .0, 2_000);
        let first = ok("reads", s.reads("op.example", None, 1));
        assert_eq!(texts(&first), [r#"{"n":1}"#], "a page of one");
        let next = ok("reads", s.reads("op.example", Some(first[0].0), 1));
        assert_eq!(texts(&next), [r#"{"n":3}"#], "the page after the cursor");
        let rest = ok("reads", s.reads("op.example", Some(next[0].0), 10));
        assert_eq!(texts(&rest), [r#"{"n":4}"#]);
        assert!(ok("reads", s.reads("op.example", Some(rest[0].0), 10)).is_empty());
        assert_eq!(
            texts(&ok("reads", s.reads("acme.example", None, 10))),
            [r#"{"n":2}"#],
            "acme's records apart from op's"
        );
        assert!(ok("reads", s.reads("nobody.example", None, 10)).is_empty());
        assert_eq!(ok("get", s.get(&leaf(2))).as_deref(), Some(&[7u8; 100][..]));
        assert_eq!(ok("usage", s.usage_bytes("acme.example")), 1_000);
    };
    reopened(&s);
    drop(s);
    let s = open();
    reopened(&s);
}

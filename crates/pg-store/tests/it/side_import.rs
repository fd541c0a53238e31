//! `pg_store::import_side` (what `sectwin migrate-store` runs after the
//! log): an embedded node's payloads, their usage and its read records,
//! copied into the schema, read back the same through `PgSide`; a second
//! copy is refused; read records made after it sort after the copied ones.

use pg_store::PgSide;
use twin_store::store::NewReadRecord;
use twin_store::{SideStore, StorageLimits};

use crate::support::Schema;

#[test]
fn an_embedded_side_store_moves_into_the_schema_unchanged() {
    let dir = tempfile::tempdir().expect("tempdir");
    let embedded = twin_store::PayloadStore::open(dir.path()).expect("open");
    let limits = StorageLimits::default();
    for n in 0..5u8 {
        let mut leaf = [n; 32];
        leaf[0] = 0xEE;
        let who = if n % 2 == 0 {
            "acme.example"
        } else {
            "op.example"
        };
        embedded
            .put_for(who, &leaf, &vec![n; 10 + usize::from(n)], &limits)
            .expect("put");
    }
    for (i, owner) in ["op.example", "acme.example", "op.example"]
        .iter()
        .enumerate()
    {
        let record = format!(r#"{{"n":{i}}}"#);
        embedded
            .record_reads(&[NewReadRecord {
                owner,
                at_ms: 1_000 + i as u64,
                seq: 40 + i as u64,
                record: record.as_bytes(),
            }])
            .expect("record");
    }

    let schema = Schema::new("side_import");
    pg_store::migrate(&schema.options).expect("migrate");
    let report = pg_store::import_side(&schema.options, &embedded).expect("import");
    assert_eq!((report.payloads, report.usage, report.reads), (5, 2, 3));
    let again = pg_store::import_side(&schema.options, &embedded);
    assert!(
        matches!(&again, Err(pg_store::ImportError::Refused(m)) if m.contains("already")),
        "a second copy: {again:?}"
    );

    let pg = PgSide::open(&schema.options).expect("open PgSide");
    for n in 0..5u8 {
        let mut leaf = [n; 32];
        leaf[0] = 0xEE;
        assert_eq!(
            pg.get(&leaf).expect("get"),
            embedded.get(&leaf).expect("get"),
            "payload {n}"
        );
    }
    for who in ["acme.example", "op.example"] {
        assert_eq!(
            pg.usage_bytes(who).expect("usage"),
            embedded.usage_bytes(who).expect("usage"),
            "{who}'s usage"
        );
    }
    for owner in ["op.example", "acme.example"] {
        assert_eq!(
            pg.reads(owner, None, 10).expect("reads"),
            embedded.reads(owner, None, 10).expect("reads"),
            "{owner}'s read records, cursors included"
        );
    }
    // A record of the same millisecond as the last copied one sorts after it.
    pg.record_reads(&[NewReadRecord {
        owner: "op.example",
        at_ms: 1_002,
        seq: 0,
        record: br#"{"n":3}"#,
    }])
    .expect("record after the move");
    let all = pg.reads("op.example", None, 10).expect("reads");
    assert_eq!(all.len(), 3);
    assert_eq!(
        all.last().map(|(_, r)| r.as_slice()),
        Some(&br#"{"n":3}"#[..])
    );
}

//! The log store's conformance suite (`log_store::conformance`, which the
//! embedded store passes too) on PostgreSQL.

use pg_store::PgLogStore;

use crate::support::Schema;

#[test]
fn the_postgres_log_store_meets_the_contract() {
    let schema = Schema::new("log");
    pg_store::migrate(&schema.options).expect("migrate");
    log_store::conformance::check(|| {
        PgLogStore::open(schema.options.clone()).expect("open the PostgreSQL log store")
    });
}

#[test]
fn a_second_writer_cannot_append_at_an_index_already_taken() {
    use log_store::LogStore;
    let schema = Schema::new("race");
    pg_store::migrate(&schema.options).expect("migrate");
    let a = PgLogStore::open(schema.options.clone()).expect("open a");
    let b = PgLogStore::open(schema.options.clone()).expect("open b");
    a.append(tlog::LeafIndex::new(0), &[b"from a"])
        .expect("a appends at 0");
    let e = b
        .append(tlog::LeafIndex::new(0), &[b"from b"])
        .expect_err("b must not append at 0 too");
    assert!(e.to_string().contains("durable size is 1"), "{e}");
    let mut seen = Vec::new();
    b.replay(tlog::TreeSize::new(0), &mut |_, e| {
        seen.push(e.to_vec());
        Ok(())
    })
    .expect("replay");
    assert_eq!(seen, vec![b"from a".to_vec()]);
}

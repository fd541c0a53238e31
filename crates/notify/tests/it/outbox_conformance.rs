//! The outbox's conformance suite on the embedded (fjall) outbox; `pg-store`
//! runs the same suite on PostgreSQL.

#[test]
fn the_embedded_outbox_meets_the_contract() {
    let dir = tempfile::tempdir().expect("tempdir");
    notify::conformance::check(|| notify::Outbox::open(dir.path()).expect("open the outbox"));
}

//! The side store's conformance suite (`twin_store::side_conformance`) on
//! the embedded payload store; `pg-store` runs the same suite on PostgreSQL.

#[test]
fn the_embedded_payload_store_meets_the_contract() {
    let dir = tempfile::tempdir().expect("tempdir");
    twin_store::side_conformance::check(|| {
        twin_store::PayloadStore::open(dir.path()).expect("open the payload store")
    });
}

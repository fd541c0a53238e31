//! The projection store's conformance suite (`twin::conformance`) on the
//! embedded store; `pg-store` runs the same suite on PostgreSQL.

#[test]
fn the_embedded_twin_store_meets_the_contract() {
    let dir = tempfile::tempdir().expect("tempdir");
    twin::conformance::check(|| twin_store::TwinStore::open(dir.path()).expect("open the store"));
}

//! The log store's conformance suite on the embedded store (`pg-store`'s
//! tests run the same suite on PostgreSQL).

use log_store::{EmbeddedStore, EmbeddedStoreOptions};

#[test]
fn the_embedded_store_meets_the_contract() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("data");
    log_store::conformance::check(|| {
        EmbeddedStore::open(EmbeddedStoreOptions { dir: dir.clone() })
            .expect("open the embedded store")
    });
}

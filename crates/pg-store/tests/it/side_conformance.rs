//! The side store's conformance suite (`twin_store::side_conformance`,
//! which the embedded payload store passes too) on PostgreSQL.

use pg_store::PgSide;

use crate::support::Schema;

#[test]
fn the_postgres_side_store_meets_the_contract() {
    let schema = Schema::new("side");
    pg_store::migrate(&schema.options).expect("migrate");
    twin_store::side_conformance::check(|| {
        PgSide::open(&schema.options).expect("open the PostgreSQL side store")
    });
}

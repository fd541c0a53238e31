//! The twin projection store's conformance suite (`twin::conformance`,
//! which the embedded store passes too) on PostgreSQL.

use pg_store::PgTwins;

use crate::support::Schema;

#[test]
fn the_postgres_twin_store_meets_the_contract() {
    let schema = Schema::new("twins");
    pg_store::migrate(&schema.options).expect("migrate");
    twin::conformance::check(|| {
        PgTwins::open(&schema.options).expect("open the PostgreSQL twin store")
    });
}

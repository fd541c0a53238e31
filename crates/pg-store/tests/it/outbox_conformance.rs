//! The notification outbox's conformance suite (`notify::conformance`, which
//! the embedded outbox passes too) on PostgreSQL.

use pg_store::PgOutbox;

use crate::support::Schema;

#[test]
fn the_postgres_outbox_meets_the_contract() {
    let schema = Schema::new("outbox");
    pg_store::migrate(&schema.options).expect("migrate");
    notify::conformance::check(|| {
        PgOutbox::open(&schema.options).expect("open the PostgreSQL outbox")
    });
}

//! `migrate`: versioned, idempotent, and a store refuses a schema it was not
//! migrated to.

use pg_store::{PgLogStore, PgOptions};

use crate::support::Schema;

#[test]
fn migrations_apply_once_and_a_store_needs_them() {
    let schema = Schema::new("mig");
    let refused = PgLogStore::open(schema.options.clone())
        .err()
        .expect("a store on an unmigrated schema must refuse to open");
    assert!(
        refused.to_string().contains("sectwin db migrate"),
        "{refused}"
    );
    let first = pg_store::migrate(&schema.options).expect("migrate");
    assert_eq!(first.from, 0);
    assert_eq!(first.applied, (1..=first.to).collect::<Vec<_>>());
    let again = pg_store::migrate(&schema.options).expect("migrate again");
    assert!(again.applied.is_empty(), "{again:?}");
    assert_eq!(again.from, again.to);
    PgLogStore::open(schema.options.clone()).expect("open after migrating");
    // A schema a newer sectwin migrated is refused, not written to.
    let mut c = pg_store::connect(&schema.options).expect("connect");
    c.execute(
        &format!(
            "INSERT INTO {}.sectwin_migrations (version, name) VALUES ($1, 'from the future')",
            schema.options.schema
        ),
        &[&(again.to + 1)],
    )
    .expect("insert");
    let newer = PgLogStore::open(schema.options.clone())
        .err()
        .expect("a newer schema must be refused");
    assert!(newer.to_string().contains("newer"), "{newer}");
    assert!(pg_store::migrate(&schema.options).is_err());
}

#[test]
fn bad_settings_are_named() {
    let e =
        pg_store::migrate(&PgOptions::new("postgres://x@127.0.0.1/test").with_schema("Bad-Name"))
            .expect_err("a bad schema name");
    assert!(e.to_string().contains("schema \"Bad-Name\""), "{e}");
    let e = pg_store::connect(&PgOptions::new("not a url at all ::"))
        .err()
        .expect("a bad URL");
    assert!(e.to_string().contains("not a PostgreSQL URL"), "{e}");
}

//! A private schema per test on the real server.

use pg_store::PgOptions;

/// The server the tests use: `$SECTWIN_TEST_DATABASE`, else the local one
/// this machine kind runs (trust auth, database `test`).
pub fn database_url() -> String {
    std::env::var("SECTWIN_TEST_DATABASE")
        .unwrap_or_else(|_| "postgres://root@127.0.0.1:5432/test".to_string())
}

/// A schema of its own for one test, dropped when it goes.
pub struct Schema {
    pub options: PgOptions,
}

impl Schema {
    /// A fresh, uniquely named schema (not created yet: `migrate` makes it).
    pub fn new(test: &str) -> Schema {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let name = format!("t_{test}_{}_{nanos}", std::process::id());
        let options = PgOptions::new(&database_url()).with_schema(&name);
        // Fail early, saying how to get a server, rather than skip.
        if let Err(e) = pg_store::connect(&options) {
            panic!(
                "{e}\nThese tests need a PostgreSQL server: start the local one \
                 (127.0.0.1:5432, trust auth, database `test`), or point \
                 SECTWIN_TEST_DATABASE at one (postgres://user@host:port/db)."
            );
        }
        Schema { options }
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        if let Ok(mut c) = pg_store::connect(&self.options) {
            let _ = c.batch_execute(&format!(
                "DROP SCHEMA IF EXISTS {} CASCADE",
                self.options.schema
            ));
        }
    }
}

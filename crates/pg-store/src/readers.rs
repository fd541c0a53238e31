//! The pooled connections a store reads and writes through, shared by the
//! stores that run each call as one transaction on a pooled connection
//! ([`crate::PgOutbox`], [`crate::PgCredentials`], [`crate::PgTwins`]).

use crate::{describe, off_runtime, pool, PgError, PgOptions, Pool};

/// A pool of connections to a migrated schema.
pub(crate) struct Readers {
    /// `None` only while dropping.
    pool: Option<Pool>,
    /// What the store is, for messages.
    what: &'static str,
}

impl Drop for Readers {
    /// The connections close where the synchronous client may block.
    fn drop(&mut self) {
        let pool = self.pool.take();
        off_runtime(move || drop(pool));
    }
}

impl Readers {
    /// Checks that the schema of `options` is at this build's version, then
    /// opens its pool (connections are made on demand).
    pub(crate) fn open(options: &PgOptions, what: &'static str) -> Result<Readers, PgError> {
        off_runtime(|| {
            let mut c = crate::connect(options)?;
            crate::migrate::check_version(&mut c, &options.schema)?;
            Ok(Readers {
                pool: Some(pool(options)?),
                what,
            })
        })
    }

    /// Runs `f` on a pooled connection, out of the async runtime's way;
    /// `error` makes the caller's error of a message.
    pub(crate) fn with<T: Send, E: Send>(
        &self,
        error: impl FnOnce(String) -> E + Send,
        f: impl FnOnce(&mut postgres::Client) -> Result<T, E> + Send,
    ) -> Result<T, E> {
        off_runtime(|| {
            let Some(pool) = self.pool.as_ref() else {
                return Err(error(format!("the {} is closed", self.what)));
            };
            let mut c = match pool.get() {
                Ok(c) => c,
                Err(e) => return Err(error(format!("no PostgreSQL connection: {e}"))),
            };
            f(&mut c)
        })
    }

    /// [`Readers::with`] for a store whose errors are [`PgError`].
    pub(crate) fn with_pg<T: Send>(
        &self,
        f: impl FnOnce(&mut postgres::Client) -> Result<T, postgres::Error> + Send,
    ) -> Result<T, PgError> {
        self.with(PgError::Sql, |c| {
            f(c).map_err(|e| PgError::Sql(describe(&e)))
        })
    }
}

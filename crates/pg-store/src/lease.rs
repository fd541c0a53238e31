//! The sequencer's lease, for several nodes on one database (`log_lease`).
//!
//! One row holds the holder (a node's name for this run), where it takes
//! forwarded appends, the server process of its lease connection, an expiry
//! and the **fencing token**, raised by every acquisition by another node.
//! Every write of [`crate::PgLogStore`] begins by locking that row `FOR
//! SHARE` and checking the token, in the transaction that commits: an
//! acquisition's `UPDATE` waits for the writes in flight and every later
//! write of the former holder finds another token and commits nothing. So a
//! sequencer paused past its expiry can never publish after it wakes, and
//! safety never depends on clocks; the expiry only decides when another node
//! may take over.
//!
//! A node may take the lease when nobody holds it, when it expired (by the
//! server's clock), or at once when the holder's lease connection is gone
//! from `pg_stat_activity`: a killed process's connections close with it, so
//! failover after a crash waits for no expiry.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use log_store::{Holder, StoreError};
use parking_lot::{Condvar, Mutex};
use rand_core::RngCore;

use crate::{connect, describe, ClusterOptions, PgError, PgOptions};

/// Renewals per lease term: the holder renews every `lease_ms / 4`, so a
/// renewal can be late three times before the lease runs out.
pub const LEASE_RENEWALS_PER_TERM: u64 = 4;
/// Bytes of the secret the nodes share to authenticate forwarded appends.
const CLUSTER_SECRET_BYTES: usize = 32;

/// Takes the lease (or renews it, for its holder) when it is free, expired
/// or its holder's lease connection is gone. `$1` the instance, `$2` its URL,
/// `$3` the term in milliseconds.
const ACQUIRE_SQL: &str = "
UPDATE log_lease SET
    token = CASE WHEN holder IS NOT DISTINCT FROM $1 THEN token ELSE token + 1 END,
    holder = $1,
    holder_url = $2,
    holder_pid = pg_backend_pid(),
    holder_started = (SELECT backend_start FROM pg_stat_activity WHERE pid = pg_backend_pid()),
    expires_at = clock_timestamp() + $3::FLOAT8 * INTERVAL '1 millisecond'
WHERE id = 1 AND (
    holder IS NULL
    OR holder = $1
    OR expires_at < clock_timestamp()
    OR NOT EXISTS (
        SELECT 1 FROM pg_stat_activity a
        WHERE a.pid = log_lease.holder_pid
          AND (a.backend_start IS NULL OR a.backend_start = log_lease.holder_started)))
RETURNING token";

/// The lease's connection: a statement waits at most half a term for a
/// lock (a holder's write in flight), then fails and is tried again later,
/// so a node never hangs behind a stalled one.
fn lease_connection(
    options: &PgOptions,
    cluster: &ClusterOptions,
) -> Result<postgres::Client, PgError> {
    let mut c = connect(options)?;
    c.batch_execute(&format!(
        "SET lock_timeout = {}",
        (cluster.lease_ms / 2).max(50)
    ))?;
    Ok(c)
}

/// This node's side of the lease.
pub(crate) struct PgLease {
    options: PgOptions,
    cluster: ClusterOptions,
    /// The node's name for this run: its configured name and a random suffix.
    instance: String,
    /// The connection whose server process stands for this node's liveness.
    conn: Mutex<Option<postgres::Client>>,
    /// The fencing token while this node holds the lease; 0 when it does not.
    token: AtomicU64,
    /// Until when the last renewal holds, from before it was sent.
    valid_until: Mutex<Option<Instant>>,
    secret: Vec<u8>,
    stopping: Mutex<bool>,
    wake: Condvar,
}

fn db(context: &str, e: &postgres::Error) -> StoreError {
    StoreError::Database(format!("{context}: {}", describe(e)))
}

impl PgLease {
    /// Connects the lease's own connection and reads (or makes) the shared secret.
    pub(crate) fn open(options: &PgOptions, cluster: &ClusterOptions) -> Result<PgLease, PgError> {
        if cluster.lease_ms < 100 {
            return Err(PgError::Config(format!(
                "a lease of {} ms is too short to renew (at least 100 ms)",
                cluster.lease_ms
            )));
        }
        let mut conn = lease_connection(options, cluster)?;
        let mut fresh = vec![0u8; CLUSTER_SECRET_BYTES];
        rand_core::OsRng.fill_bytes(&mut fresh);
        conn.execute(
            "UPDATE log_lease SET secret = $1 WHERE id = 1 AND secret IS NULL",
            &[&fresh],
        )?;
        let secret: Vec<u8> = conn
            .query_one("SELECT secret FROM log_lease WHERE id = 1", &[])?
            .get(0);
        let mut suffix = [0u8; 4];
        rand_core::OsRng.fill_bytes(&mut suffix);
        let instance = format!(
            "{}-{}",
            cluster.node,
            suffix
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        );
        Ok(PgLease {
            options: options.clone(),
            cluster: cluster.clone(),
            instance,
            conn: Mutex::new(Some(conn)),
            token: AtomicU64::new(0),
            valid_until: Mutex::new(None),
            secret,
            stopping: Mutex::new(false),
            wake: Condvar::new(),
        })
    }

    fn term(&self) -> Duration {
        Duration::from_millis(self.cluster.lease_ms)
    }

    /// Runs `f` on the lease connection, reconnecting once if it broke.
    fn on_conn<T>(
        &self,
        f: impl Fn(&mut postgres::Client) -> Result<T, postgres::Error>,
    ) -> Result<T, StoreError> {
        let mut conn = self.conn.lock();
        if let Some(c) = conn.as_mut() {
            match f(c) {
                Ok(t) => return Ok(t),
                Err(e) if !c.is_closed() => return Err(db("the sequencer's lease", &e)),
                Err(_) => {}
            }
        }
        // A new connection is a new server process: the lease it holds
        // (if any) must be taken again, which `acquire` does.
        drop(conn.take());
        let mut fresh = lease_connection(&self.options, &self.cluster)
            .map_err(|e| StoreError::Database(e.to_string()))?;
        let t = f(&mut fresh).map_err(|e| db("the sequencer's lease", &e));
        *conn = Some(fresh);
        t
    }

    /// The token while held (0: not held).
    pub(crate) fn token(&self) -> u64 {
        self.token.load(Ordering::Acquire)
    }

    /// Marks the lease lost (a write found another token).
    pub(crate) fn lost(&self, token: u64) {
        if self
            .token
            .compare_exchange(token, 0, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            tracing::warn!(token, "the sequencer's lease was taken by another node");
        }
    }

    /// See [`log_store::Lease::acquire`]. Answers whether the token is new
    /// (this node did not hold the lease before).
    pub(crate) fn acquire(&self) -> Result<Result<bool, Holder>, StoreError> {
        let sent = Instant::now();
        let term_ms = self.cluster.lease_ms as f64;
        let row = self.on_conn(|c| {
            c.query_opt(ACQUIRE_SQL, &[&self.instance, &self.cluster.url, &term_ms])
        })?;
        let Some(row) = row else {
            self.token.store(0, Ordering::Release);
            return match self.holder()? {
                Some(h) => Ok(Err(h)),
                // Released between the two statements: try again next time.
                None => Err(StoreError::Database(
                    "the sequencer's lease changed hands while it was read".into(),
                )),
            };
        };
        let token = u64::try_from(row.get::<_, i64>(0))
            .map_err(|_| StoreError::Corrupt("a negative fencing token".into()))?;
        *self.valid_until.lock() = Some(sent + self.term());
        let before = self.token.swap(token, Ordering::AcqRel);
        if before != token {
            tracing::info!(
                token,
                node = %self.instance,
                "this node holds the sequencer's lease"
            );
        }
        Ok(Ok(before != token))
    }

    /// Extends the lease if this node still holds it.
    fn renew(&self) {
        let token = self.token();
        if token == 0 {
            return;
        }
        let sent = Instant::now();
        let term_ms = self.cluster.lease_ms as f64;
        let Ok(sql_token) = i64::try_from(token) else {
            return;
        };
        let renewed = self.on_conn(|c| {
            c.query_opt(
                "UPDATE log_lease
                 SET expires_at = clock_timestamp() + $3::FLOAT8 * INTERVAL '1 millisecond',
                     holder_pid = pg_backend_pid(),
                     holder_started = (SELECT backend_start FROM pg_stat_activity WHERE pid = pg_backend_pid())
                 WHERE id = 1 AND token = $1 AND holder = $2
                 RETURNING 1",
                &[&sql_token, &self.instance, &term_ms],
            )
        });
        match renewed {
            Ok(Some(_)) => *self.valid_until.lock() = Some(sent + self.term()),
            Ok(None) => self.lost(token),
            Err(e) => {
                let expired = self.valid_until.lock().is_none_or(|t| Instant::now() >= t);
                tracing::warn!(error = %e, expired, "renewing the sequencer's lease failed");
                if expired {
                    self.lost(token);
                }
            }
        }
    }

    /// See [`log_store::Lease::held`].
    pub(crate) fn held(&self) -> bool {
        self.token() != 0 && self.valid_until.lock().is_some_and(|t| Instant::now() < t)
    }

    /// See [`log_store::Lease::holder`].
    pub(crate) fn holder(&self) -> Result<Option<Holder>, StoreError> {
        let row = self.on_conn(|c| {
            c.query_one(
                "SELECT holder, holder_url, token FROM log_lease WHERE id = 1",
                &[],
            )
        })?;
        let (Some(node), Some(url)) = (row.get::<_, Option<String>>(0), row.get(1)) else {
            return Ok(None);
        };
        let token = u64::try_from(row.get::<_, i64>(2))
            .map_err(|_| StoreError::Corrupt("a negative fencing token".into()))?;
        Ok(Some(Holder { node, url, token }))
    }

    pub(crate) fn secret(&self) -> &[u8] {
        &self.secret
    }

    /// See [`log_store::Lease::release`].
    pub(crate) fn release(&self) {
        let token = self.token.swap(0, Ordering::AcqRel);
        let Ok(sql_token) = i64::try_from(token) else {
            return;
        };
        if token == 0 {
            return;
        }
        let released = self.on_conn(|c| {
            c.execute(
                "UPDATE log_lease SET holder = NULL, holder_url = NULL, holder_pid = NULL,
                     holder_started = NULL, expires_at = NULL
                 WHERE id = 1 AND token = $1",
                &[&sql_token],
            )
        });
        match released {
            Ok(_) => tracing::info!(token, "released the sequencer's lease"),
            Err(e) => tracing::warn!(error = %e, "releasing the sequencer's lease failed"),
        }
    }

    /// The renewer thread: renews every term / [`LEASE_RENEWALS_PER_TERM`]
    /// until [`PgLease::stop`].
    pub(crate) fn spawn_renewer(self: &Arc<Self>) -> std::io::Result<std::thread::JoinHandle<()>> {
        let lease = self.clone();
        let every = self.term() / u32::try_from(LEASE_RENEWALS_PER_TERM).unwrap_or(4);
        std::thread::Builder::new()
            .name("log-lease".into())
            .spawn(move || loop {
                {
                    let mut stopping = lease.stopping.lock();
                    if !*stopping {
                        lease.wake.wait_for(&mut stopping, every);
                    }
                    if *stopping {
                        return;
                    }
                }
                lease.renew();
            })
    }

    /// Stops the renewer and closes the connection (the lease is kept until
    /// it expires or the connection's end is seen; see [`PgLease::release`]).
    pub(crate) fn stop(&self) {
        *self.stopping.lock() = true;
        self.wake.notify_all();
    }

    /// The lease connection, for dropping off the runtime.
    pub(crate) fn take_conn(&self) -> Option<postgres::Client> {
        self.conn.lock().take()
    }

    /// Checks, in `tx` (the transaction that commits a write), that the
    /// lease still carries this node's token, locking its row until commit.
    pub(crate) fn fence(&self, tx: &mut postgres::Transaction<'_>) -> Result<(), StoreError> {
        let token = self.token();
        if token == 0 {
            return Err(StoreError::Fenced(
                "this node does not hold the sequencer's lease".into(),
            ));
        }
        let sql_token = i64::try_from(token)
            .map_err(|_| StoreError::Corrupt("a fencing token beyond BIGINT".into()))?;
        let row = tx
            .query_opt(
                "SELECT 1 FROM log_lease WHERE id = 1 AND token = $1 FOR SHARE",
                &[&sql_token],
            )
            .map_err(|e| db("check the fencing token", &e))?;
        if row.is_none() {
            self.lost(token);
            return Err(StoreError::Fenced(format!(
                "another node took the sequencer's lease (this node's token was {token})"
            )));
        }
        Ok(())
    }
}

//! [`PgLogStore`]: the log's storage contract ([`LogStore`]) on PostgreSQL.
//!
//! | table | holds |
//! |---|---|
//! | `log_entry` | every entry, by index: the durability point |
//! | `log_tile`, `log_bundle` | the widest version of each tile and bundle (a narrower one is its prefix) |
//! | `log_dedup` | leaf hash → index |
//! | `log_checkpoint` | every checkpoint published, by size |
//! | `log_state` | the durable and synced sizes and the served checkpoint |
//!
//! Durability follows the contract: [`LogStore::append`] commits the
//! entries and the new durable size in one transaction, with the server's
//! `synchronous_commit` (on by default: the commit returns once its WAL is
//! flushed), and the durable size moves only from the size the caller
//! expects, so two writers can never both append at one index. Integration
//! and checkpoint publication commit without waiting for the WAL flush (they
//! are re-derived on recovery); [`LogStore::sync`] commits the synced size
//! with a flush, which makes every earlier commit durable too (the WAL is one
//! sequence).

use log_store::{EntryVisitor, Holder, Integration, Lease, LogStore, Recovered, StoreError};
use parking_lot::Mutex;
use tlog::tile::TILE_WIDTH_MAX;
use tlog::{BundleId, Hash, LeafIndex, TileId, TreeSize};

use std::sync::atomic::Ordering;

use crate::lease::PgLease;
use crate::{connect, describe, off_runtime, pool, PgError, PgOptions, Pool};

const HASH_BYTES: usize = 32;

/// The log's store on PostgreSQL. See the module documentation.
pub struct PgLogStore {
    options: PgOptions,
    /// The writer's connection (`None` after a failed reconnect).
    writer: Mutex<Option<postgres::Client>>,
    /// `None` only while dropping.
    readers: Option<Pool>,
    /// Every leaf hash of `log_dedup` (loaded on open, added to by
    /// `integrate`): a lookup it says is absent needs no round trip.
    leaves: parking_lot::RwLock<crate::filter::LeafFilter>,
    /// Every `log_dedup` row below this position is in `leaves` (rows are
    /// written only by the lease's holder, so a new holder reads the rest).
    leaves_known: std::sync::atomic::AtomicU64,
    /// The fencing token for which `leaves` holds every integrated leaf
    /// (several nodes; 0: none, so lookups go to the database).
    leaves_token: std::sync::atomic::AtomicU64,
    /// The sequencer's lease, when several nodes share the log.
    lease: Option<std::sync::Arc<PgLease>>,
    renewer: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl Drop for PgLogStore {
    /// The connections close where the synchronous client may block.
    fn drop(&mut self) {
        let writer = self.writer.lock().take();
        let readers = self.readers.take();
        let renewer = self.renewer.lock().take();
        let lease = self.lease.take();
        off_runtime(move || {
            if let Some(lease) = &lease {
                lease.stop();
            }
            if let Some(renewer) = renewer {
                let _ = renewer.join();
            }
            drop(lease.and_then(|l| l.take_conn()));
            drop(writer);
            drop(readers);
        });
    }
}

fn db(context: &str, e: &postgres::Error) -> StoreError {
    StoreError::Database(format!("{context}: {}", describe(e)))
}

fn pg(e: PgError) -> StoreError {
    StoreError::Database(e.to_string())
}

fn size_of(n: i64, what: &str) -> Result<u64, StoreError> {
    u64::try_from(n).map_err(|_| StoreError::Corrupt(format!("{what} is negative: {n}")))
}

fn sql_int(n: u64, what: &str) -> Result<i64, StoreError> {
    i64::try_from(n)
        .map_err(|_| StoreError::Contract(format!("{what} {n} is beyond PostgreSQL's BIGINT")))
}

impl PgLogStore {
    /// Opens the store in `options`'s schema, which `sectwin db migrate`
    /// must have brought to this build's version.
    pub fn open(options: PgOptions) -> Result<PgLogStore, PgError> {
        off_runtime(|| {
            let mut writer = writer_connection(&options)?;
            crate::migrate::check_version(&mut writer, &options.schema)?;
            let readers = pool(&options)?;
            // Every row below the synced size was committed before the scan
            // began; rows above it may be written during it, by a sequencer
            // on another node, and are read again when this node takes over.
            let synced: i64 = writer
                .query_one("SELECT synced_size FROM log_state WHERE id = 1", &[])?
                .get(0);
            let mut leaves = crate::filter::LeafFilter::new();
            load_leaves(&mut writer, &mut leaves)?;
            let lease = match &options.cluster {
                Some(cluster) => Some(std::sync::Arc::new(PgLease::open(&options, cluster)?)),
                None => None,
            };
            let renewer = match &lease {
                Some(lease) => Some(lease.spawn_renewer().map_err(|e| {
                    PgError::Config(format!("cannot start the lease's renewer: {e}"))
                })?),
                None => None,
            };
            Ok(PgLogStore {
                options,
                writer: Mutex::new(Some(writer)),
                readers: Some(readers),
                leaves: parking_lot::RwLock::new(leaves),
                leaves_known: std::sync::atomic::AtomicU64::new(u64::try_from(synced).unwrap_or(0)),
                leaves_token: std::sync::atomic::AtomicU64::new(0),
                lease,
                renewer: Mutex::new(renewer),
            })
        })
    }

    /// The options it was opened with.
    pub fn options(&self) -> &PgOptions {
        &self.options
    }

    fn write<T: Send>(
        &self,
        f: impl FnOnce(&mut postgres::Client) -> Result<T, StoreError> + Send,
    ) -> Result<T, StoreError> {
        off_runtime(|| {
            let mut writer = self.writer.lock();
            match writer.as_mut() {
                Some(client) => f(client),
                None => Err(StoreError::Database(
                    "the writer's connection is closed (reconnecting after an error failed)".into(),
                )),
            }
        })
    }

    fn read<T: Send>(
        &self,
        f: impl FnOnce(&mut postgres::Client) -> Result<T, StoreError> + Send,
    ) -> Result<T, StoreError> {
        off_runtime(|| {
            let mut client = self
                .readers
                .as_ref()
                .ok_or_else(|| StoreError::Database("the store is closing".into()))?
                .get()
                .map_err(|e| StoreError::Database(format!("no reader connection: {e}")))?;
            f(&mut client)
        })
    }
}

impl LogStore for PgLogStore {
    fn recover(&self) -> Result<Recovered, StoreError> {
        self.write(|c| {
            let row = c
                .query_one(
                    "SELECT durable_size, synced_size, checkpoint FROM log_state WHERE id = 1",
                    &[],
                )
                .map_err(|e| db("read the log's state", &e))?;
            let durable = size_of(row.get(0), "the durable size")?;
            let synced = size_of(row.get(1), "the synced size")?;
            let checkpoint: Option<Vec<u8>> = row.get(2);
            let entries: i64 = c
                .query_one("SELECT COUNT(*) FROM log_entry WHERE idx >= $1", &[&row.get::<_, i64>(1)])
                .map_err(|e| db("count the entries", &e))?
                .get(0);
            if size_of(entries, "entries")? != durable - synced {
                return Err(StoreError::Corrupt(format!(
                    "the durable size is {durable} but {entries} entries are stored from the synced size {synced}"
                )));
            }
            Ok(Recovered {
                durable_size: TreeSize::new(durable),
                synced_size: TreeSize::new(synced),
                checkpoint,
            })
        })
    }

    /// A new writer connection: whatever the failed one had begun is rolled
    /// back by the server when it goes.
    fn reopen(&self) -> Result<(), StoreError> {
        off_runtime(|| {
            let mut writer = self.writer.lock();
            drop(writer.take());
            *writer = Some(writer_connection(&self.options).map_err(pg)?);
            Ok(())
        })
    }

    /// In batches by index (keyset pagination): the entries are never all
    /// held, and the visitor runs on the caller's thread.
    fn replay(&self, from: TreeSize, f: &mut EntryVisitor<'_>) -> Result<(), StoreError> {
        let mut next = sql_int(from.get(), "replay from")?;
        loop {
            let rows: Vec<(i64, Vec<u8>)> = self.write(|c| {
                let rows = c
                    .query(
                        "SELECT idx, data FROM log_entry WHERE idx >= $1 ORDER BY idx LIMIT $2",
                        &[&next, &REPLAY_BATCH_ROWS],
                    )
                    .map_err(|e| db("replay", &e))?;
                Ok(rows.into_iter().map(|r| (r.get(0), r.get(1))).collect())
            })?;
            if rows.is_empty() {
                return Ok(());
            }
            for (idx, data) in rows {
                if idx != next {
                    return Err(StoreError::Corrupt(format!(
                        "entry {next} is missing (next stored: {idx})"
                    )));
                }
                f(LeafIndex::new(size_of(idx, "an entry's index")?), &data)?;
                next += 1;
            }
        }
    }

    fn append(&self, start: LeafIndex, entries: &[&[u8]]) -> Result<(), StoreError> {
        if entries.is_empty() {
            return Ok(());
        }
        let from = sql_int(start.get(), "append at")?;
        let count = i64::try_from(entries.len())
            .map_err(|_| StoreError::Contract("too many entries in one append".into()))?;
        let to = from + count;
        let indexes: Vec<i64> = (from..to).collect();
        self.write(|c| {
            let mut tx = c.transaction().map_err(|e| db("append", &e))?;
            self.fence(&mut tx)?;
            let moved = tx
                .execute(
                    "UPDATE log_state SET durable_size = $2 WHERE id = 1 AND durable_size = $1",
                    &[&from, &to],
                )
                .map_err(|e| db("append", &e))?;
            if moved != 1 {
                let durable: i64 = tx
                    .query_one("SELECT durable_size FROM log_state WHERE id = 1", &[])
                    .map_err(|e| db("append", &e))?
                    .get(0);
                return Err(StoreError::Contract(format!(
                    "append at {from}, but the durable size is {durable}"
                )));
            }
            tx.execute(
                "INSERT INTO log_entry (idx, data) SELECT * FROM UNNEST($1::BIGINT[], $2::BYTEA[])",
                &[&indexes, &entries],
            )
            .map_err(|e| db("append", &e))?;
            tx.commit().map_err(|e| db("append (commit)", &e))
        })
    }

    fn lookup(&self, leaf: &Hash) -> Result<Option<LeafIndex>, StoreError> {
        // A node that does not sequence sees other nodes' integrations only
        // in the database.
        let filtered = self.lease.as_ref().is_none_or(|l| {
            let token = l.token();
            token != 0 && self.leaves_token.load(Ordering::Acquire) == token
        });
        if filtered && !self.leaves.read().may_contain(leaf) {
            return Ok(None);
        }
        let key: &[u8] = leaf.as_bytes();
        self.read(|c| {
            let row = c
                .query_opt("SELECT idx FROM log_dedup WHERE leaf = $1", &[&key])
                .map_err(|e| db("look up a leaf", &e))?;
            row.map(|r| size_of(r.get(0), "a dedup index").map(LeafIndex::new))
                .transpose()
        })
    }

    fn integrate(&self, integration: &Integration) -> Result<(), StoreError> {
        let mut tile_levels = Vec::new();
        let mut tile_indexes = Vec::new();
        let mut tile_widths = Vec::new();
        let mut tile_data: Vec<&[u8]> = Vec::new();
        for (id, data) in &integration.tiles {
            tile_levels.push(i16::from(id.level()));
            tile_indexes.push(sql_int(id.index(), "a tile index")?);
            tile_widths.push(width(id.width())?);
            tile_data.push(data);
        }
        let mut bundle_indexes = Vec::new();
        let mut bundle_widths = Vec::new();
        let mut bundle_data: Vec<&[u8]> = Vec::new();
        for (id, data) in &integration.bundles {
            bundle_indexes.push(sql_int(id.index(), "a bundle index")?);
            bundle_widths.push(width(id.width())?);
            bundle_data.push(data);
        }
        let mut leaves: Vec<&[u8]> = Vec::new();
        let mut leaf_indexes = Vec::new();
        for (hash, index) in &integration.leaves {
            leaves.push(hash.as_bytes());
            leaf_indexes.push(sql_int(index.get(), "a leaf index")?);
        }
        self.write(|c| {
            let mut tx = c.transaction().map_err(|e| db("integrate", &e))?;
            self.fence(&mut tx)?;
            // Re-derived on recovery: no need to wait for the WAL flush.
            tx.batch_execute("SET LOCAL synchronous_commit = off")
                .map_err(|e| db("integrate", &e))?;
            // Widths only grow: a narrower tile never replaces a wider one.
            tx.execute(
                "INSERT INTO log_tile (level, idx, width, data)
                 SELECT * FROM UNNEST($1::SMALLINT[], $2::BIGINT[], $3::SMALLINT[], $4::BYTEA[])
                 ON CONFLICT (level, idx) DO UPDATE SET width = EXCLUDED.width, data = EXCLUDED.data
                 WHERE log_tile.width <= EXCLUDED.width",
                &[&tile_levels, &tile_indexes, &tile_widths, &tile_data],
            )
            .map_err(|e| db("write tiles", &e))?;
            tx.execute(
                "INSERT INTO log_bundle (idx, width, data)
                 SELECT * FROM UNNEST($1::BIGINT[], $2::SMALLINT[], $3::BYTEA[])
                 ON CONFLICT (idx) DO UPDATE SET width = EXCLUDED.width, data = EXCLUDED.data
                 WHERE log_bundle.width <= EXCLUDED.width",
                &[&bundle_indexes, &bundle_widths, &bundle_data],
            )
            .map_err(|e| db("write bundles", &e))?;
            tx.execute(
                "INSERT INTO log_dedup (leaf, idx)
                 SELECT * FROM UNNEST($1::BYTEA[], $2::BIGINT[])
                 ON CONFLICT (leaf) DO NOTHING",
                &[&leaves, &leaf_indexes],
            )
            .map_err(|e| db("write the dedup index", &e))?;
            tx.commit().map_err(|e| db("integrate (commit)", &e))
        })?;
        let mut filter = self.leaves.write();
        for (hash, _) in &integration.leaves {
            filter.insert(hash);
        }
        Ok(())
    }

    fn publish_checkpoint(&self, size: TreeSize, note: &[u8]) -> Result<(), StoreError> {
        let size = sql_int(size.get(), "a checkpoint size")?;
        self.write(|c| {
            let mut tx = c
                .transaction()
                .map_err(|e| db("publish a checkpoint", &e))?;
            tx.batch_execute("SET LOCAL synchronous_commit = off")
                .map_err(|e| db("publish a checkpoint", &e))?;
            self.fence(&mut tx)?;
            tx.execute(
                "INSERT INTO log_checkpoint (size, note) VALUES ($1, $2)
                 ON CONFLICT (size) DO UPDATE SET note = EXCLUDED.note",
                &[&size, &note],
            )
            .map_err(|e| db("record a checkpoint", &e))?;
            tx.execute(
                "UPDATE log_state SET checkpoint = $1 WHERE id = 1",
                &[&note],
            )
            .map_err(|e| db("serve a checkpoint", &e))?;
            tx.commit()
                .map_err(|e| db("publish a checkpoint (commit)", &e))
        })
    }

    fn sync(&self, size: TreeSize) -> Result<(), StoreError> {
        let size = sql_int(size.get(), "the synced size")?;
        self.write(|c| {
            // A flushed commit: every earlier one is durable with it.
            let mut tx = c.transaction().map_err(|e| db("sync", &e))?;
            self.fence(&mut tx)?;
            let moved = tx
                .execute(
                    "UPDATE log_state SET synced_size = $1 WHERE id = 1 AND $1 <= durable_size",
                    &[&size],
                )
                .map_err(|e| db("sync", &e))?;
            if moved != 1 {
                return Err(StoreError::Contract(format!(
                    "sync at {size}, above the durable size"
                )));
            }
            tx.commit().map_err(|e| db("sync (commit)", &e))
        })
    }

    fn read_tile(&self, id: TileId) -> Result<Option<Vec<u8>>, StoreError> {
        let level = i16::from(id.level());
        let index = sql_int(id.index(), "a tile index")?;
        let want = usize::from(id.width()) * HASH_BYTES;
        self.read(|c| {
            let row = c
                .query_opt(
                    "SELECT width, data FROM log_tile WHERE level = $1 AND idx = $2",
                    &[&level, &index],
                )
                .map_err(|e| db("read a tile", &e))?;
            let Some(row) = row else { return Ok(None) };
            let stored: i16 = row.get(0);
            if i32::from(stored) < i32::from(id.width()) {
                return Ok(None);
            }
            let data: Vec<u8> = row.get(1);
            match data.get(..want) {
                Some(prefix) => Ok(Some(prefix.to_vec())),
                None => Err(StoreError::Corrupt(format!("short tile {}", id.path()))),
            }
        })
    }

    fn read_bundle(&self, id: BundleId) -> Result<Option<Vec<u8>>, StoreError> {
        let index = sql_int(id.index(), "a bundle index")?;
        self.read(|c| {
            let row = c
                .query_opt(
                    "SELECT width, data FROM log_bundle WHERE idx = $1",
                    &[&index],
                )
                .map_err(|e| db("read a bundle", &e))?;
            let Some(row) = row else { return Ok(None) };
            let stored: i16 = row.get(0);
            if i32::from(stored) < i32::from(id.width()) {
                return Ok(None);
            }
            let data: Vec<u8> = row.get(1);
            log_store::bundle_prefix(&data, id).map(Some)
        })
    }

    fn checkpoint(&self) -> Result<Option<Vec<u8>>, StoreError> {
        self.read(|c| {
            let row = c
                .query_one("SELECT checkpoint FROM log_state WHERE id = 1", &[])
                .map_err(|e| db("read the checkpoint", &e))?;
            Ok(row.get(0))
        })
    }

    fn lease(&self) -> Option<&dyn Lease> {
        self.lease.as_ref().map(|_| self as &dyn Lease)
    }

    fn checkpoint_history(&self, from: TreeSize) -> Result<Vec<(TreeSize, Vec<u8>)>, StoreError> {
        let from = sql_int(from.get(), "history from")?;
        self.read(|c| {
            let rows = c
                .query(
                    "SELECT size, note FROM log_checkpoint WHERE size >= $1 ORDER BY size",
                    &[&from],
                )
                .map_err(|e| db("read the checkpoint history", &e))?;
            rows.into_iter()
                .map(|r| {
                    Ok((
                        TreeSize::new(size_of(r.get(0), "a checkpoint size")?),
                        r.get(1),
                    ))
                })
                .collect()
        })
    }
}

impl PgLogStore {
    /// Checks the fencing token in `tx`, when several nodes share the log.
    fn fence(&self, tx: &mut postgres::Transaction<'_>) -> Result<(), StoreError> {
        match &self.lease {
            Some(lease) => lease.fence(tx),
            None => Ok(()),
        }
    }

    fn the_lease(&self) -> Result<&PgLease, StoreError> {
        self.lease
            .as_deref()
            .ok_or_else(|| StoreError::Contract("this store has no lease".into()))
    }
}

impl Lease for PgLogStore {
    /// On taking over, the dedup rows the former sequencers wrote since this
    /// node last read them are added to its filter (they are final: nobody
    /// else can write now).
    fn acquire(&self) -> Result<Option<Holder>, StoreError> {
        let lease = self.the_lease()?;
        let fresh = match off_runtime(|| lease.acquire())? {
            Ok(fresh) => fresh,
            Err(holder) => return Ok(Some(holder)),
        };
        if fresh {
            let from = self.leaves_known.load(Ordering::Acquire);
            let known = self.write(|c| {
                let mut filter = self.leaves.write();
                load_leaves_from(c, &mut filter, from).map_err(pg)
            })?;
            self.leaves_known.fetch_max(known, Ordering::AcqRel);
            self.leaves_token.store(lease.token(), Ordering::Release);
        }
        Ok(None)
    }

    fn held(&self) -> bool {
        self.lease.as_ref().is_some_and(|l| l.held())
    }

    fn holder(&self) -> Result<Option<Holder>, StoreError> {
        let lease = self.the_lease()?;
        off_runtime(|| lease.holder())
    }

    fn cluster_secret(&self) -> &[u8] {
        self.lease.as_ref().map_or(&[], |l| l.secret())
    }

    fn release(&self) {
        if let Some(lease) = &self.lease {
            off_runtime(|| lease.release());
        }
    }
}

/// The writer's connection. With several nodes, a transaction left open
/// longer than the lease's term (its process paused mid-write) is ended by
/// the server: it holds the lease row's share lock, which would otherwise
/// keep every other node from taking over for as long as the pause lasts.
fn writer_connection(options: &PgOptions) -> Result<postgres::Client, PgError> {
    let mut c = connect(options)?;
    if let Some(cluster) = &options.cluster {
        c.batch_execute(&format!(
            "SET idle_in_transaction_session_timeout = {}",
            cluster.lease_ms
        ))?;
    }
    Ok(c)
}

/// Leaf hashes read per round trip when the filter is loaded.
const LOAD_BATCH_ROWS: i64 = 65_536;

fn leaf_of(row: &postgres::Row) -> Result<Hash, PgError> {
    let leaf: &[u8] = row.get(0);
    let bytes: [u8; 32] = leaf
        .try_into()
        .map_err(|_| PgError::Sql(format!("a dedup key of {} bytes", leaf.len())))?;
    Ok(Hash::from_bytes(bytes))
}

/// Adds every leaf hash in `log_dedup` to `filter`, read in key order a
/// batch at a time.
fn load_leaves(
    c: &mut postgres::Client,
    filter: &mut crate::filter::LeafFilter,
) -> Result<(), PgError> {
    let mut after: Vec<u8> = Vec::new();
    loop {
        let rows = c.query(
            "SELECT leaf FROM log_dedup WHERE leaf > $1 ORDER BY leaf LIMIT $2",
            &[&after, &LOAD_BATCH_ROWS],
        )?;
        let Some(last) = rows.last() else {
            return Ok(());
        };
        after = last.get(0);
        for row in &rows {
            filter.insert(&leaf_of(row)?);
        }
    }
}

/// Adds the leaf hashes of `log_dedup` at positions `from` and above to
/// `filter`, in position order; answers the position after the last one.
fn load_leaves_from(
    c: &mut postgres::Client,
    filter: &mut crate::filter::LeafFilter,
    from: u64,
) -> Result<u64, PgError> {
    let mut next = i64::try_from(from).unwrap_or(i64::MAX);
    loop {
        let rows = c.query(
            "SELECT leaf, idx FROM log_dedup WHERE idx >= $1 ORDER BY idx LIMIT $2",
            &[&next, &LOAD_BATCH_ROWS],
        )?;
        let Some(last) = rows.last() else {
            return Ok(u64::try_from(next).unwrap_or(0));
        };
        next = last.get::<_, i64>(1) + 1;
        for row in &rows {
            filter.insert(&leaf_of(row)?);
        }
    }
}

/// Entries read from `log_entry` per round trip during replay.
const REPLAY_BATCH_ROWS: i64 = 4_096;

fn width(w: u16) -> Result<i16, StoreError> {
    if w == 0 || w > TILE_WIDTH_MAX {
        return Err(StoreError::Contract(format!("width {w}")));
    }
    i16::try_from(w).map_err(|_| StoreError::Contract(format!("width {w}")))
}

//! `sectwin-bench index`: the measurement behind the embedded store's choice
//! of index database. The dedup index maps uniformly random 32-byte leaf
//! hashes to 8-byte indices; the log inserts them in batches (one batch per
//! checkpoint) and looks up every new entry, which almost always misses.
//!
//! Each engine gets the same keys, batch size and durability (none per batch:
//! the store makes the index durable separately, every few seconds):
//! fjall (LSM tree, the store's choice), redb (copy-on-write B-tree) and
//! SQLite (B-tree, WAL, `synchronous=OFF`, a `WITHOUT ROWID` table). Reported
//! per engine: insert rate over the first and the last tenth of the keys
//! (a B-tree slows down once it outgrows memory; an LSM tree should not),
//! and lookups per second for absent and present keys at the end.

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};

/// One engine under test.
trait Engine {
    fn name(&self) -> &'static str;
    fn insert_batch(&mut self, batch: &[([u8; 32], u64)]) -> Result<()>;
    fn get(&mut self, key: &[u8; 32]) -> Result<Option<u64>>;
}

fn key(i: u64) -> [u8; 32] {
    *tlog::leaf_hash(&i.to_be_bytes()).as_bytes()
}

struct Fjall {
    keyspace: fjall::Keyspace,
    dedup: fjall::PartitionHandle,
}

impl Fjall {
    fn open(dir: &Path) -> Result<Fjall> {
        // The store's own settings (crates/log-store/src/index.rs).
        let keyspace = fjall::Config::new(dir)
            .cache_size(64 * 1024 * 1024)
            .max_write_buffer_size(64 * 1024 * 1024)
            .manual_journal_persist(true)
            .open()?;
        let dedup = keyspace.open_partition(
            "dedup",
            fjall::PartitionCreateOptions::default().bloom_filter_bits(Some(10)),
        )?;
        Ok(Fjall { keyspace, dedup })
    }
}

impl Engine for Fjall {
    fn name(&self) -> &'static str {
        "fjall 2 (LSM)"
    }
    fn insert_batch(&mut self, batch: &[([u8; 32], u64)]) -> Result<()> {
        let mut b = self.keyspace.batch();
        for (k, v) in batch {
            b.insert(&self.dedup, k, v.to_be_bytes());
        }
        b.commit()?;
        Ok(())
    }
    fn get(&mut self, key: &[u8; 32]) -> Result<Option<u64>> {
        Ok(self
            .dedup
            .get(key)?
            .and_then(|v| <[u8; 8]>::try_from(v.as_ref()).ok())
            .map(u64::from_be_bytes))
    }
}

const REDB_TABLE: redb::TableDefinition<&[u8; 32], u64> = redb::TableDefinition::new("dedup");

struct Redb(redb::Database);

impl Engine for Redb {
    fn name(&self) -> &'static str {
        "redb 2 (B-tree)"
    }
    fn insert_batch(&mut self, batch: &[([u8; 32], u64)]) -> Result<()> {
        let mut tx = self.0.begin_write()?;
        tx.set_durability(redb::Durability::None);
        {
            let mut t = tx.open_table(REDB_TABLE)?;
            for (k, v) in batch {
                t.insert(k, v)?;
            }
        }
        tx.commit()?;
        Ok(())
    }
    fn get(&mut self, key: &[u8; 32]) -> Result<Option<u64>> {
        let tx = self.0.begin_read()?;
        let t = tx.open_table(REDB_TABLE)?;
        Ok(t.get(key)?.map(|v| v.value()))
    }
}

struct Sqlite(rusqlite::Connection);

impl Sqlite {
    fn open(path: &Path) -> Result<Sqlite> {
        let c = rusqlite::Connection::open(path)?;
        c.execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=OFF; PRAGMA cache_size=-65536;
             CREATE TABLE IF NOT EXISTS dedup(hash BLOB PRIMARY KEY, idx INTEGER NOT NULL) WITHOUT ROWID;",
        )?;
        Ok(Sqlite(c))
    }
}

impl Engine for Sqlite {
    fn name(&self) -> &'static str {
        "SQLite (B-tree, WAL)"
    }
    fn insert_batch(&mut self, batch: &[([u8; 32], u64)]) -> Result<()> {
        let tx = self.0.transaction()?;
        {
            let mut st = tx.prepare_cached("INSERT INTO dedup(hash, idx) VALUES (?1, ?2)")?;
            for (k, v) in batch {
                st.execute(rusqlite::params![&k[..], *v as i64])?;
            }
        }
        tx.commit()?;
        Ok(())
    }
    fn get(&mut self, key: &[u8; 32]) -> Result<Option<u64>> {
        let mut st = self
            .0
            .prepare_cached("SELECT idx FROM dedup WHERE hash = ?1")?;
        let mut rows = st.query([&key[..]])?;
        Ok(match rows.next()? {
            Some(r) => Some(r.get::<_, i64>(0)? as u64),
            None => None,
        })
    }
}

/// Figures for one engine.
struct Figures {
    first_tenth: f64,
    last_tenth: f64,
    overall: f64,
    absent: f64,
    present: f64,
    disk_mib: f64,
}

fn dir_bytes(dir: &Path) -> u64 {
    let mut total = 0;
    if let Ok(items) = std::fs::read_dir(dir) {
        for item in items.flatten() {
            let p = item.path();
            if p.is_dir() {
                total += dir_bytes(&p);
            } else if let Ok(m) = item.metadata() {
                total += m.len();
            }
        }
    }
    total
}

fn measure(engine: &mut dyn Engine, dir: &Path, keys: u64, batch_keys: usize) -> Result<Figures> {
    let tenth = (keys / 10).max(1);
    let mut batch = Vec::with_capacity(batch_keys);
    let start = Instant::now();
    let mut first_tenth = 0.0;
    let mut last_tenth_start = None;
    let mut i = 0u64;
    while i < keys {
        batch.clear();
        let n = (keys - i).min(batch_keys as u64);
        batch.extend((i..i + n).map(|j| (key(j), j)));
        if last_tenth_start.is_none() && i >= keys - tenth {
            last_tenth_start = Some((Instant::now(), i));
        }
        engine.insert_batch(&batch)?;
        i += n;
        if first_tenth == 0.0 && i >= tenth {
            first_tenth = i as f64 / start.elapsed().as_secs_f64();
        }
    }
    let overall = keys as f64 / start.elapsed().as_secs_f64();
    let last_tenth = match last_tenth_start {
        Some((t, from)) => (keys - from) as f64 / t.elapsed().as_secs_f64(),
        None => overall,
    };
    let probes = 100_000u64.min(keys);
    let t = Instant::now();
    for j in 0..probes {
        if engine.get(&key(keys + j))?.is_some() {
            anyhow::bail!("{}: found a key that was never inserted", engine.name());
        }
    }
    let absent = probes as f64 / t.elapsed().as_secs_f64();
    let t = Instant::now();
    let stride = (keys / probes).max(1);
    for j in 0..probes {
        let k = (j * stride) % keys;
        if engine.get(&key(k))? != Some(k) {
            anyhow::bail!("{}: key {k} lost", engine.name());
        }
    }
    let present = probes as f64 / t.elapsed().as_secs_f64();
    Ok(Figures {
        first_tenth,
        last_tenth,
        overall,
        absent,
        present,
        disk_mib: dir_bytes(dir) as f64 / (1024.0 * 1024.0),
    })
}

/// Runs the comparison and prints a table.
pub fn run(base: &Path, keys: u64, batch_keys: usize) -> Result<()> {
    println!(
        "dedup index: {keys} random 32-byte keys, batches of {batch_keys}, no fsync per batch"
    );
    println!("| engine | insert keys/s (first 10%) | (last 10%) | (overall) | absent lookups/s | present lookups/s | disk MiB |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    let mut results: Vec<(&'static str, Figures)> = Vec::new();
    for which in ["fjall", "redb", "sqlite"] {
        let dir = base.join(which);
        std::fs::create_dir_all(&dir)?;
        let mut engine: Box<dyn Engine> = match which {
            "fjall" => Box::new(Fjall::open(&dir)?),
            "redb" => Box::new(Redb(
                redb::Database::create(dir.join("index.redb")).context("redb")?,
            )),
            _ => Box::new(Sqlite::open(&dir.join("index.sqlite"))?),
        };
        let f = measure(engine.as_mut(), &dir, keys, batch_keys)?;
        println!(
            "| {} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} |",
            engine.name(),
            f.first_tenth,
            f.last_tenth,
            f.overall,
            f.absent,
            f.present,
            f.disk_mib
        );
        results.push((engine.name(), f));
        drop(engine);
        let _ = std::fs::remove_dir_all(&dir);
    }
    if let Some((_, fj)) = results.first() {
        for (name, f) in &results[1..] {
            println!(
                "fjall / {name}: overall inserts {:.1}x, last-10% inserts {:.1}x, absent lookups {:.1}x",
                fj.overall / f.overall,
                fj.last_tenth / f.last_tenth,
                fj.absent / f.absent
            );
        }
    }
    Ok(())
}

//! Moving a log from another store (the embedded one) into an empty schema:
//! what `sectwin migrate-store` runs.
//!
//! Everything is copied in **one transaction** with `COPY … FROM STDIN
//! (FORMAT binary)`: the entries, the hash tiles and entry bundles of the
//! tree at the synced size (the widest version of each), the dedup keys of
//! the integrated entries, every checkpoint of the history, and the state
//! (durable and synced sizes, the served checkpoint). A failure leaves the
//! schema as it was. The copy is then checked by the caller (fsck of the
//! new store, and the checkpoints compared with the old one's).

use log_store::{LogStore, StoreError};
use postgres::binary_copy::BinaryCopyInWriter;
use postgres::types::Type;
use tlog::{leaf_hash, TreeSize};

use crate::{connect, describe, PgError, PgOptions};

/// What was copied.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// Entries (the durable size).
    pub entries: u64,
    /// The synced size: tiles, bundles and dedup keys cover the entries below it.
    pub synced_size: u64,
    /// Hash tiles.
    pub tiles: u64,
    /// Entry bundles.
    pub bundles: u64,
    /// Dedup keys.
    pub dedup_keys: u64,
    /// Checkpoints of the history.
    pub checkpoints: u64,
}

/// Why an import failed (nothing of it was committed).
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The database.
    #[error(transparent)]
    Pg(#[from] PgError),
    /// Reading the source store.
    #[error("the source store: {0}")]
    Source(#[from] StoreError),
    /// Reading the source payload store.
    #[error("the source payload store: {0}")]
    Side(#[from] twin_store::store::StoreError),
    /// The schema is not empty, or the source cannot be copied as it is.
    #[error("{0}")]
    Refused(String),
}

impl From<postgres::Error> for ImportError {
    fn from(e: postgres::Error) -> ImportError {
        ImportError::Pg(PgError::Sql(describe(&e)))
    }
}

/// What [`integrated`] calls with each entry and its index.
type EntrySink<'a> = dyn FnMut(u64, &[u8]) -> Result<(), ImportError> + 'a;

/// Calls `f` with every entry below `synced`, read from the entry bundles.
fn integrated(
    source: &dyn LogStore,
    synced: TreeSize,
    f: &mut EntrySink<'_>,
) -> Result<(), ImportError> {
    let mut index = 0u64;
    for id in tlog::bundles_for_size(synced) {
        let data = source.read_bundle(id)?.ok_or_else(|| {
            ImportError::Refused(format!(
                "bundle {} of the synced tree is missing",
                id.path()
            ))
        })?;
        let entries = tlog::tile::parse_bundle_for(id, &data)
            .map_err(|e| ImportError::Refused(format!("bundle {}: {e}", id.path())))?;
        for entry in entries {
            f(index, entry)?;
            index += 1;
        }
    }
    Ok(())
}

/// The size a checkpoint note states (its second line).
fn note_size(note: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(note).ok()?;
    text.lines().nth(1)?.parse().ok()
}

/// Copies the log of `source` into `options`'s schema, which `sectwin db
/// migrate` made and which holds no log yet. The source must be at rest (its
/// server stopped) with its last checkpoint synced, as a clean stop leaves it.
pub fn import_log(options: &PgOptions, source: &dyn LogStore) -> Result<ImportReport, ImportError> {
    let recovered = source.recover()?;
    let synced = recovered.synced_size;
    let durable = recovered.durable_size;
    let checkpoint = recovered.checkpoint.clone();
    if let Some(note) = &checkpoint {
        let size = note_size(note)
            .ok_or_else(|| ImportError::Refused("the served checkpoint has no size line".into()))?;
        if size != synced.get() {
            return Err(ImportError::Refused(format!(
                "the last checkpoint (size {size}) is not synced (synced size {synced}): start and \
                 stop the server once (a clean stop syncs), then migrate"
            )));
        }
    }
    let mut client = connect(options)?;
    crate::migrate::check_version(&mut client, &options.schema)?;
    let mut tx = client.transaction()?;
    let row = tx.query_one(
        "SELECT durable_size, checkpoint IS NOT NULL FROM log_state WHERE id = 1 FOR UPDATE",
        &[],
    )?;
    let (held, served): (i64, bool) = (row.get(0), row.get(1));
    let history: i64 = tx
        .query_one("SELECT COUNT(*) FROM log_checkpoint", &[])?
        .get(0);
    if held != 0 || served || history != 0 {
        return Err(ImportError::Refused(format!(
            "schema {} already holds a log ({held} entries, {history} checkpoints): migrate into an empty schema",
            options.schema
        )));
    }
    let mut report = ImportReport {
        entries: durable.get(),
        synced_size: synced.get(),
        ..ImportReport::default()
    };

    // The entries: below the synced size from the entry bundles (an
    // embedded journal keeps only what is above it), then the journal's.
    {
        let sink = tx.copy_in("COPY log_entry (idx, data) FROM STDIN (FORMAT binary)")?;
        let mut writer = BinaryCopyInWriter::new(sink, &[Type::INT8, Type::BYTEA]);
        integrated(source, synced, &mut |index, entry| {
            let idx = i64::try_from(index)
                .map_err(|_| ImportError::Refused("an index beyond BIGINT".into()))?;
            writer.write(&[&idx, &entry])?;
            Ok(())
        })?;
        let mut failure: Option<ImportError> = None;
        source
            .replay(synced, &mut |index, entry| {
                let idx = i64::try_from(index.get())
                    .map_err(|_| StoreError::Corrupt("an index beyond BIGINT".into()))?;
                if let Err(e) = writer.write(&[&idx, &entry]) {
                    failure = Some(e.into());
                    return Err(StoreError::Database("COPY failed".into()));
                }
                Ok(())
            })
            .map_err(|e| failure.take().unwrap_or(ImportError::Source(e)))?;
        writer.finish()?;
    }
    {
        let sink = tx.copy_in("COPY log_dedup (leaf, idx) FROM STDIN (FORMAT binary)")?;
        let mut writer = BinaryCopyInWriter::new(sink, &[Type::BYTEA, Type::INT8]);
        let mut seen = std::collections::HashSet::new();
        integrated(source, synced, &mut |index, entry| {
            let leaf = leaf_hash(entry);
            // A log never holds an entry twice; the first index wins if it did.
            if !seen.insert(leaf) {
                return Ok(());
            }
            let idx = i64::try_from(index)
                .map_err(|_| ImportError::Refused("an index beyond BIGINT".into()))?;
            let key: &[u8] = leaf.as_bytes();
            writer.write(&[&key, &idx])?;
            report.dedup_keys += 1;
            Ok(())
        })?;
        writer.finish()?;
    }

    // The tiles and bundles of the synced tree (each its widest version).
    {
        let sink =
            tx.copy_in("COPY log_tile (level, idx, width, data) FROM STDIN (FORMAT binary)")?;
        let mut writer =
            BinaryCopyInWriter::new(sink, &[Type::INT2, Type::INT8, Type::INT2, Type::BYTEA]);
        for id in tlog::tiles_for_size(synced) {
            let data = source.read_tile(id)?.ok_or_else(|| {
                ImportError::Refused(format!("tile {} of the synced tree is missing", id.path()))
            })?;
            let level = i16::from(id.level());
            let idx = i64::try_from(id.index())
                .map_err(|_| ImportError::Refused("a tile index beyond BIGINT".into()))?;
            let width = i16::try_from(id.width())
                .map_err(|_| ImportError::Refused("a tile width beyond SMALLINT".into()))?;
            writer.write(&[&level, &idx, &width, &data])?;
            report.tiles += 1;
        }
        writer.finish()?;
    }
    {
        let sink = tx.copy_in("COPY log_bundle (idx, width, data) FROM STDIN (FORMAT binary)")?;
        let mut writer = BinaryCopyInWriter::new(sink, &[Type::INT8, Type::INT2, Type::BYTEA]);
        for id in tlog::bundles_for_size(synced) {
            let data = source.read_bundle(id)?.ok_or_else(|| {
                ImportError::Refused(format!(
                    "bundle {} of the synced tree is missing",
                    id.path()
                ))
            })?;
            let idx = i64::try_from(id.index())
                .map_err(|_| ImportError::Refused("a bundle index beyond BIGINT".into()))?;
            let width = i16::try_from(id.width())
                .map_err(|_| ImportError::Refused("a bundle width beyond SMALLINT".into()))?;
            writer.write(&[&idx, &width, &data])?;
            report.bundles += 1;
        }
        writer.finish()?;
    }

    // The history and the state.
    {
        let sink = tx.copy_in("COPY log_checkpoint (size, note) FROM STDIN (FORMAT binary)")?;
        let mut writer = BinaryCopyInWriter::new(sink, &[Type::INT8, Type::BYTEA]);
        for (size, note) in source.checkpoint_history(TreeSize::new(0))? {
            let size = i64::try_from(size.get())
                .map_err(|_| ImportError::Refused("a checkpoint size beyond BIGINT".into()))?;
            writer.write(&[&size, &note])?;
            report.checkpoints += 1;
        }
        writer.finish()?;
    }
    let (durable_sql, synced_sql) = (
        i64::try_from(durable.get())
            .map_err(|_| ImportError::Refused("a size beyond BIGINT".into()))?,
        i64::try_from(synced.get())
            .map_err(|_| ImportError::Refused("a size beyond BIGINT".into()))?,
    );
    tx.execute(
        "UPDATE log_state SET durable_size = $1, synced_size = $2, checkpoint = $3 WHERE id = 1",
        &[&durable_sql, &synced_sql, &checkpoint],
    )?;
    tx.commit()?;
    Ok(report)
}

/// What [`import_side`] copied.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SideReport {
    /// Payloads of hash envelopes.
    pub payloads: u64,
    /// Stakeholders with payload bytes counted.
    pub usage: u64,
    /// Read records.
    pub reads: u64,
}

/// Copies what an embedded node keeps beside its log (payloads, their
/// usage, read records: `DATA/payloads`) into the schema's empty side
/// tables (`pg_store::PgSide`), in one transaction of binary `COPY`s; the
/// read records' sequence then starts past the copied ones.
pub fn import_side(
    options: &PgOptions,
    source: &twin_store::PayloadStore,
) -> Result<SideReport, ImportError> {
    use twin_store::store::{SideKind, SideRow};
    let mut client = connect(options)?;
    crate::migrate::check_version(&mut client, &options.schema)?;
    let mut tx = client.transaction()?;
    let held: i64 = tx
        .query_one(
            "SELECT (SELECT COUNT(*) FROM side_payload) + (SELECT COUNT(*) FROM read_record)",
            &[],
        )?
        .get(0);
    if held > 0 {
        return Err(ImportError::Refused(format!(
            "schema {} already holds {held} payloads and read records: migrate into an empty schema",
            options.schema
        )));
    }
    let mut report = SideReport::default();
    let big = |n: u64| {
        i64::try_from(n).map_err(|_| ImportError::Refused(format!("{n} is beyond BIGINT")))
    };
    {
        let sink = tx.copy_in("COPY side_payload (leaf, payload) FROM STDIN (FORMAT binary)")?;
        let mut w = BinaryCopyInWriter::new(sink, &[Type::BYTEA, Type::BYTEA]);
        source.export(SideKind::Payloads, |row| {
            if let SideRow::Payload { leaf, payload } = row {
                w.write(&[&leaf.as_slice(), &payload])?;
                report.payloads += 1;
            }
            Ok::<(), ImportError>(())
        })?;
        w.finish()?;
    }
    {
        let sink =
            tx.copy_in("COPY side_payload_usage (stakeholder, bytes) FROM STDIN (FORMAT binary)")?;
        let mut w = BinaryCopyInWriter::new(sink, &[Type::TEXT, Type::INT8]);
        source.export(SideKind::Usage, |row| {
            if let SideRow::Usage { stakeholder, bytes } = row {
                w.write(&[&stakeholder, &big(bytes)?])?;
                report.usage += 1;
            }
            Ok::<(), ImportError>(())
        })?;
        w.finish()?;
    }
    {
        let sink =
            tx.copy_in("COPY read_record (owner, at_ms, seq, record) FROM STDIN (FORMAT binary)")?;
        let mut w =
            BinaryCopyInWriter::new(sink, &[Type::TEXT, Type::INT8, Type::INT8, Type::BYTEA]);
        source.export(SideKind::Reads, |row| {
            if let SideRow::Read {
                owner,
                at_ms,
                seq,
                record,
            } = row
            {
                w.write(&[&owner, &big(at_ms)?, &big(seq)?, &record])?;
                report.reads += 1;
            }
            Ok::<(), ImportError>(())
        })?;
        w.finish()?;
    }
    tx.execute(
        "SELECT setval('read_record_seq', GREATEST((SELECT COALESCE(MAX(seq), 0) FROM read_record), 1))",
        &[],
    )?;
    tx.commit()?;
    Ok(report)
}

//! The persistent advisory database: [`AdvisoryStore`], advisories in fjall
//! (the node keeps it in `DATA/advisories`), filled by incremental imports
//! of advisory files and dumps in every format `vuln-formats` reads, looked
//! up by id or alias, and loaded as a prepared `vuln::index::AdvisoryIndex`
//! for matching.
//!
//! Partitions:
//!
//! | partition | key | value |
//! |---|---|---|
//! | `records` | advisory id | the `Advisory` model as JSON |
//! | `heads` | advisory id | head bytes (layout in `src/head.rs`): generation, SHA-256 of the JSON, flags, `modified`, aliases |
//! | `aliases` | alias, NUL, id | empty |
//! | `meta` | `generation` | the last finished import's generation (u64 BE) |
//! | `meta` | `logged_generation` | the last generation whose changes are recorded in the node's log (u64 BE) |
//! | `discovered` | risk key | the day the node's register first held that risk (`YYYY-MM-DD`); written by earlier versions, still read |
//! | `discovery_batches` | batch number (u64 BE) | risks first held, many per value: each a key length (u16 BE), the key, and the day (`YYYY-MM-DD`) |
//! | `kev`, `kev_lists`, `epss` | see [`exploit`] | known-exploited lists and EPSS scores |
//!
//! Discoveries are written in batches because a full import onto a large
//! fleet finds a million risks at once: one value per megabyte of them, not
//! one key per risk.
//!
//! Why JSON: the model derives serde faithfully, so JSON round-trips it
//! exactly (tested on every sample and on the whole vulnrichment dump), and
//! its bytes are the content hash's input. A record is read only by `get`
//! and `load_index`; imports compare heads.
//!
//! **Durability and concurrency contract:** an import returns only after its
//! writes are synced to disk (`PersistMode::SyncAll`). Records are written in
//! atomic batches of [`WRITE_BATCH_RECORDS_MAX`], each a record with its head
//! and alias keys, so a crash mid-import leaves every advisory either as it
//! was or as imported, never half-written; the generation counter is
//! advanced only when an import finishes, so the changes of an interrupted
//! import are reported again by the next one's `changed_ids` base. Imports
//! are serialized by a lock; reads may run beside them and see a prefix of
//! the batches. One process at a time (fjall locks the directory).
//!
//! Deliberately absent: deleting advisories that disappear from a feed (a
//! dump is not a statement that the others are gone; withdrawal is), network
//! fetching, and matching (that is `vuln`'s).
#![deny(clippy::unwrap_used, clippy::indexing_slicing)]

pub mod exploit;
mod head;
mod source;

/// Longest risk key a discovery may have.
pub const DISCOVERY_KEY_BYTES_MAX: usize = u16::MAX as usize;
/// Discoveries per stored value, in bytes (about).
const DISCOVERY_BATCH_BYTES: usize = 1 << 20;

/// Appends the discoveries of one `discovery_batches` value to `out`.
fn decode_discoveries(mut v: &[u8], out: &mut Vec<(String, String)>) -> Result<(), String> {
    while !v.is_empty() {
        let (len, rest) = v.split_first_chunk::<2>().ok_or("a truncated key length")?;
        let len = usize::from(u16::from_be_bytes(*len));
        if rest.len() < len + 10 {
            return Err(format!(
                "a key of {len} bytes and its day run past the value"
            ));
        }
        let (key, rest) = rest.split_at(len);
        let (day, rest) = rest.split_at(10);
        out.push((
            String::from_utf8_lossy(key).into_owned(),
            String::from_utf8_lossy(day).into_owned(),
        ));
        v = rest;
    }
    Ok(())
}

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fjall::{Config, Keyspace, PartitionCreateOptions, PartitionHandle, PersistMode};
use parking_lot::Mutex;
use serde::Serialize;
use sha2::{Digest, Sha256};
use vuln::index::{AdvisoryIndex, PreparedAdvisory};
use vuln_formats::{Advisory, VulnId};

use crate::head::Head;
pub use crate::source::{NoProgress, Progress, DIRECTORY_DEPTH_MAX, DOCUMENT_BYTES_MAX};

/// Advisories written per atomic batch. 2,000 records of a few KiB keep a
/// batch within a few MiB of memory while making the per-batch cost
/// negligible.
pub const WRITE_BATCH_RECORDS_MAX: usize = 2_000;

/// Failures kept with their reasons in an [`ImportSummary`]; more are only
/// counted (a corrupt dump must not make the summary as large as the dump).
pub const FAILURES_KEPT_MAX: usize = 1_000;

/// Advisories decoded together, per thread, by [`AdvisoryStore::load_index`].
const DECODE_PER_THREAD_BATCH: usize = 1_024;

/// fjall's block cache, in bytes.
const CACHE_BYTES: u64 = 64 * 1024 * 1024;

/// What can go wrong with the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A path given to an import does not exist or cannot be read.
    #[error("{}: {source}", path.display())]
    Path {
        /// The path as given.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The database failed.
    #[error("advisory store: {0}")]
    Db(String),
    /// A stored value does not decode.
    #[error("advisory store: stored {what} of {id:?} is corrupt: {reason}")]
    Corrupt {
        /// Which value (`head`, `record`, `meta`).
        what: &'static str,
        /// The advisory id (or key).
        id: String,
        /// What is wrong.
        reason: String,
    },
    /// An advisory could not be encoded (cannot happen for the model's
    /// types; kept rather than a panic).
    #[error("advisory store: encoding {id}: {reason}")]
    Encode {
        /// The advisory id.
        id: String,
        /// Why.
        reason: String,
    },
}

fn db(e: impl std::fmt::Display) -> StoreError {
    StoreError::Db(e.to_string())
}

/// A record an import could not use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecordFailure {
    /// The file (or directory) it was in.
    pub file: PathBuf,
    /// Where in the file: `file` (the whole file), `document`,
    /// `document, advisory N`, `line N`, `directory`.
    pub record: String,
    /// Why.
    pub reason: String,
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ImportSummary {
    /// Files read (including those that failed).
    pub files: usize,
    /// Files that could not be read at all (missing, unreadable, not gzip).
    pub files_failed: usize,
    /// Records read: advisories and failed records.
    pub records: usize,
    /// Advisories not stored before.
    pub new: usize,
    /// Advisories stored before, with other content now.
    pub updated: usize,
    /// Advisories stored before with the same content (not rewritten).
    pub unchanged: usize,
    /// Advisories read with an older `modified` than the version stored:
    /// not applied (an older version never replaces a newer one).
    pub older: usize,
    /// Of the distinct advisories read, those withdrawn (rejected).
    pub withdrawn: usize,
    /// Records read more than once in this import (by id): the one with the
    /// latest `modified` is kept, the later one on a tie.
    pub duplicates: usize,
    /// Records that could not be used.
    pub failed: usize,
    /// The first [`FAILURES_KEPT_MAX`] of them, with file, record and reason.
    pub failures: Vec<RecordFailure>,
    /// Of the distinct advisories read, those with a published CVSS score
    /// that disagrees with its vector.
    pub score_mismatches: usize,
    /// This import's generation: every new or updated advisory carries it.
    /// An import that changed nothing leaves the store's generation as it
    /// was and reports that one.
    pub generation: u64,
    /// The ids of the new and updated advisories, sorted.
    pub changed_ids: Vec<String>,
    /// Wall time of the import.
    pub elapsed: Duration,
}

impl ImportSummary {
    fn fail(&mut self, file: PathBuf, record: String, reason: String) {
        self.failed += 1;
        if record == "file" {
            self.files_failed += 1;
        }
        if self.failures.len() < FAILURES_KEPT_MAX {
            self.failures.push(RecordFailure {
                file,
                record,
                reason,
            });
        }
    }
}

/// What an advisory is after a change ([`AdvisoryStore::changes_since`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Its id.
    pub id: String,
    /// SHA-256 of the stored record (the normalized model as JSON).
    pub sha256: [u8; 32],
    /// Its `modified`, as published.
    pub modified: Option<String>,
    /// Whether it is withdrawn.
    pub withdrawn: bool,
    /// The import generation that changed it.
    pub generation: u64,
}

/// The advisory database in one directory.
pub struct AdvisoryStore {
    dir: PathBuf,
    /// Reopened in place after a failed write (a full disk poisons the
    /// keyspace), before the next write.
    parts: reopen::Reopening<Parts>,
    len: AtomicUsize,
    import_lock: Mutex<()>,
    threads: usize,
}

impl std::fmt::Debug for AdvisoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdvisoryStore")
            .field("len", &self.len())
            .finish_non_exhaustive()
    }
}

/// How long a reopen waits for reads in flight on the old keyspace.
const REOPEN_WAIT_MAX: std::time::Duration = std::time::Duration::from_secs(10);

/// The open keyspace and its partitions.
struct Parts {
    keyspace: Keyspace,
    records: PartitionHandle,
    heads: PartitionHandle,
    aliases: PartitionHandle,
    meta: PartitionHandle,
    discovered: PartitionHandle,
    discovery_batches: PartitionHandle,
    kev: PartitionHandle,
    kev_lists: PartitionHandle,
    epss: PartitionHandle,
}

impl Parts {
    fn open(dir: &Path) -> Result<Parts, StoreError> {
        let keyspace = Config::new(dir)
            .cache_size(CACHE_BYTES)
            .manual_journal_persist(true)
            .open()
            .map_err(db)?;
        let open = |name: &str| {
            keyspace
                .open_partition(
                    name,
                    PartitionCreateOptions::default().bloom_filter_bits(Some(10)),
                )
                .map_err(db)
        };
        Ok(Parts {
            records: open("records")?,
            heads: open("heads")?,
            aliases: open("aliases")?,
            meta: open("meta")?,
            discovered: open("discovered")?,
            discovery_batches: open("discovery_batches")?,
            kev: open("kev")?,
            kev_lists: open("kev_lists")?,
            epss: open("epss")?,
            keyspace,
        })
    }

    /// The number of advisories: an exact count costs one pass over the
    /// small heads.
    fn count(&self) -> Result<usize, StoreError> {
        let mut len = 0usize;
        for kv in self.heads.keys() {
            kv.map_err(db)?;
            len += 1;
        }
        Ok(len)
    }
}

/// The format the advisory store writes (its `FORMAT` marker; see
/// `durable::format`).
pub const ADVISORY_STORE_FORMAT: u32 = 1;

impl AdvisoryStore {
    /// Opens (creating if needed) the store in `dir`.
    pub fn open(dir: &Path) -> Result<AdvisoryStore, StoreError> {
        durable::format::check_or_init(dir, "advisories", ADVISORY_STORE_FORMAT)
            .map_err(|e| StoreError::Db(e.to_string()))?;
        let parts = Parts::open(dir)?;
        let len = parts.count()?;
        Ok(AdvisoryStore {
            dir: dir.to_path_buf(),
            parts: reopen::Reopening::new(parts),
            len: AtomicUsize::new(len),
            import_lock: Mutex::new(()),
            threads: std::thread::available_parallelism().map_or(1, usize::from),
        })
    }

    /// The open handles, for reading.
    fn parts(&self) -> Result<Arc<Parts>, StoreError> {
        self.parts.get().ok_or_else(|| {
            StoreError::Db("the store is not open (reopening it after a write error failed)".into())
        })
    }

    /// Runs `write` on handles that accept writes: reopens the keyspace
    /// first if an earlier write failed, and marks it for reopening if
    /// this one fails. Writing resumes by itself once space is back.
    fn write<T>(
        &self,
        write: impl FnOnce(&Parts) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.parts
            .reopen_if_broken(REOPEN_WAIT_MAX, || {
                let parts = Parts::open(&self.dir)?;
                self.len.store(parts.count()?, Ordering::Relaxed);
                tracing::info!(dir = %self.dir.display(), "advisory store reopened after a write error");
                Ok::<_, StoreError>(parts)
            })
            .map_err(|e| StoreError::Db(e.to_string()))?;
        let parts = self.parts()?;
        let result = write(&parts);
        if result.is_err() {
            self.parts.mark_broken();
        }
        result
    }

    /// The number of advisories stored (withdrawn included).
    pub fn len(&self) -> usize {
        self.len.load(Ordering::Relaxed)
    }

    /// Whether no advisory is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The generation of the last finished import (0 for a new store).
    pub fn generation(&self) -> Result<u64, StoreError> {
        self.meta_u64("generation")
    }

    /// A counter of the `meta` partition (u64 BE), 0 when absent.
    fn meta_u64(&self, key: &str) -> Result<u64, StoreError> {
        match self.parts()?.meta.get(key).map_err(db)? {
            None => Ok(0),
            Some(v) => <[u8; 8]>::try_from(v.as_ref())
                .map(u64::from_be_bytes)
                .map_err(|_| StoreError::Corrupt {
                    what: "meta",
                    id: key.into(),
                    reason: format!("{} bytes, expected 8", v.len()),
                }),
        }
    }

    /// Every risk key with the day the node's register first held it
    /// (`YYYY-MM-DD`).
    pub fn discoveries(&self) -> Result<Vec<(String, String)>, StoreError> {
        let parts = self.parts()?;
        let mut out = Vec::new();
        for kv in parts.discovered.iter() {
            let (k, v) = kv.map_err(db)?;
            out.push((
                String::from_utf8_lossy(&k).into_owned(),
                String::from_utf8_lossy(&v).into_owned(),
            ));
        }
        for kv in parts.discovery_batches.iter() {
            let (k, v) = kv.map_err(db)?;
            decode_discoveries(&v, &mut out).map_err(|reason| StoreError::Corrupt {
                what: "discovery batch",
                id: format!("{:?}", k.as_ref()),
                reason,
            })?;
        }
        Ok(out)
    }

    /// Records when risks were first held (risk key, `YYYY-MM-DD`), in one
    /// batch, durably. A key longer than [`DISCOVERY_KEY_BYTES_MAX`] is
    /// refused.
    pub fn record_discoveries<K: AsRef<str>, D: std::fmt::Display>(
        &self,
        found: &[(K, D)],
    ) -> Result<(), StoreError> {
        use std::io::Write as _;
        if found.is_empty() {
            return Ok(());
        }
        let mut values: Vec<Vec<u8>> = vec![Vec::new()];
        let mut day_bytes: Vec<u8> = Vec::with_capacity(16);
        for (key, day) in found {
            let key = key.as_ref();
            day_bytes.clear();
            let _ = write!(day_bytes, "{day}");
            let day = String::from_utf8_lossy(&day_bytes);
            let (Ok(len), 10) = (u16::try_from(key.len()), day.len()) else {
                return Err(StoreError::Encode {
                    id: key.chars().take(80).collect(),
                    reason: format!(
                        "a discovery is a key of at most {DISCOVERY_KEY_BYTES_MAX} bytes and a YYYY-MM-DD day, not {day:?}"
                    ),
                });
            };
            let Some(value) = values.last_mut() else {
                continue;
            };
            value.extend_from_slice(&len.to_be_bytes());
            value.extend_from_slice(key.as_bytes());
            value.extend_from_slice(day.as_bytes());
            if value.len() >= DISCOVERY_BATCH_BYTES {
                values.push(Vec::new());
            }
        }
        self.write(|p| {
            let next = match p.discovery_batches.last_key_value().map_err(db)? {
                Some((k, _)) => {
                    u64::from_be_bytes(k.as_ref().try_into().map_err(|_| StoreError::Corrupt {
                        what: "discovery batch key",
                        id: "discovery_batches".into(),
                        reason: format!("a key of {} bytes, expected 8", k.len()),
                    })?) + 1
                }
                None => 0,
            };
            let mut batch = p.keyspace.batch();
            for (i, value) in values.iter().filter(|v| !v.is_empty()).enumerate() {
                batch.insert(
                    &p.discovery_batches,
                    (next + i as u64).to_be_bytes(),
                    value.as_slice(),
                );
            }
            batch.commit().map_err(db)?;
            p.keyspace.persist(PersistMode::SyncAll).map_err(db)
        })
    }

    /// The last generation whose changes were recorded elsewhere (in the
    /// node's log, by whoever calls [`AdvisoryStore::set_logged_generation`]);
    /// 0 when none was.
    pub fn logged_generation(&self) -> Result<u64, StoreError> {
        self.meta_u64("logged_generation")
    }

    /// Records that the changes up to `generation` are recorded, durably.
    pub fn set_logged_generation(&self, generation: u64) -> Result<(), StoreError> {
        self.write(|p| {
            p.meta
                .insert("logged_generation", generation.to_be_bytes())
                .map_err(db)?;
            p.keyspace.persist(PersistMode::SyncAll).map_err(db)
        })
    }

    /// The changes made after `generation`, in id order: what each advisory
    /// is now (its content hash, `modified`, whether withdrawn, and the
    /// generation that changed it).
    pub fn changes_since(&self, generation: u64) -> Result<Vec<Change>, StoreError> {
        let mut out = Vec::new();
        for kv in self.parts()?.heads.iter() {
            let (k, v) = kv.map_err(db)?;
            let id = String::from_utf8_lossy(&k).into_owned();
            let head = decode_head(&id, &v)?;
            if head.generation > generation {
                out.push(Change {
                    sha256: head.hash,
                    modified: (!head.modified.is_empty()).then_some(head.modified),
                    withdrawn: head.withdrawn,
                    generation: head.generation,
                    id,
                });
            }
        }
        Ok(out)
    }

    /// An advisory by id, or else by one of its aliases (the smallest id
    /// naming it as an alias, when several do).
    pub fn get(&self, id: &str) -> Result<Option<Advisory>, StoreError> {
        let parts = self.parts()?;
        if let Some(v) = parts.records.get(id).map_err(db)? {
            return decode_record(id, &v).map(Some);
        }
        let mut prefix = id.as_bytes().to_vec();
        prefix.push(0);
        if let Some(kv) = parts.aliases.prefix(&prefix).next() {
            let (k, _) = kv.map_err(db)?;
            let target =
                String::from_utf8_lossy(k.get(prefix.len()..).unwrap_or_default()).into_owned();
            if let Some(v) = parts.records.get(&target).map_err(db)? {
                return decode_record(&target, &v).map(Some);
            }
        }
        Ok(None)
    }

    /// Every stored advisory, prepared for matching (`vuln`'s
    /// [`AdvisoryIndex`]), decoded on every core.
    pub fn load_index(&self) -> Result<AdvisoryIndex, StoreError> {
        let mut index = AdvisoryIndex::new();
        let batch_max = self.threads * DECODE_PER_THREAD_BATCH;
        let mut batch = Vec::with_capacity(batch_max);
        for kv in self.parts()?.records.iter() {
            batch.push(kv.map_err(db)?);
            if batch.len() >= batch_max {
                self.decode_into(&batch, &mut index)?;
                batch.clear();
            }
        }
        self.decode_into(&batch, &mut index)?;
        Ok(index)
    }

    fn decode_into(
        &self,
        batch: &[(fjall::Slice, fjall::Slice)],
        index: &mut AdvisoryIndex,
    ) -> Result<(), StoreError> {
        let per_thread = batch.len().div_ceil(self.threads).max(1);
        let decoded: Vec<Result<Vec<Advisory>, StoreError>> = std::thread::scope(|scope| {
            let handles: Vec<_> = batch
                .chunks(per_thread)
                .map(|chunk| {
                    scope.spawn(move || {
                        chunk
                            .iter()
                            .map(|(k, v)| decode_record(&String::from_utf8_lossy(k), v))
                            .collect::<Result<Vec<_>, _>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(db("a decoding thread panicked")))
                })
                .collect()
        });
        for part in decoded {
            for a in part? {
                index.upsert(&a);
            }
        }
        Ok(())
    }

    /// The ids of the advisories new or updated by imports after
    /// `generation` (pass an [`ImportSummary::generation`] minus one for
    /// "what this import changed"), sorted. A scan of the heads: O(stored
    /// advisories), a few milliseconds for the vulnrichment dump, cheaper
    /// than keeping a second index consistent on every write.
    pub fn ids_changed_since(&self, generation: u64) -> Result<Vec<String>, StoreError> {
        Ok(self
            .changes_since(generation)?
            .into_iter()
            .map(|c| c.id)
            .collect())
    }

    /// Imports advisories (see [`AdvisoryStore::import_paths`] for files).
    /// Durable when it returns.
    pub fn import(
        &self,
        advisories: impl IntoIterator<Item = Advisory>,
    ) -> Result<ImportSummary, StoreError> {
        let _guard = self.import_lock.lock();
        let started = Instant::now();
        let mut importer = Importer::new(self)?;
        for a in advisories {
            importer.summary.records += 1;
            importer.accept(Encoded::new(&a, None)?)?;
        }
        importer.finish(started)
    }

    /// [`AdvisoryStore::import`] of advisories already encoded (on any
    /// thread, see [`Encoded::new`]): the store's part is then only
    /// deciding what changed and writing it.
    pub fn import_encoded<'a>(
        &self,
        advisories: impl IntoIterator<Item = Encoded<'a>>,
    ) -> Result<ImportSummary, StoreError> {
        let _guard = self.import_lock.lock();
        let started = Instant::now();
        let mut importer = Importer::new(self)?;
        for a in advisories {
            importer.summary.records += 1;
            importer.accept(a)?;
        }
        importer.finish(started)
    }

    /// Imports every advisory in `paths` (files, and directories walked
    /// recursively: see the `source` module for names and formats). A path
    /// that does not exist is an error before anything is imported; a file
    /// or record that cannot be read is listed in
    /// [`ImportSummary::failures`] and the rest is imported. Durable when it
    /// returns.
    pub fn import_paths(
        &self,
        paths: &[PathBuf],
        progress: &dyn Progress,
    ) -> Result<ImportSummary, StoreError> {
        let _guard = self.import_lock.lock();
        let started = Instant::now();
        let (files, walk_failures) = source::collect_files(paths)?;
        progress.files(files.len() as u64, files.iter().map(|(_, b)| b).sum());
        let mut importer = Importer::new(self)?;
        importer.summary.files = files.len();
        for f in walk_failures {
            if let Err(reason) = f.result {
                importer.summary.fail(f.file, f.record, reason);
            }
        }
        source::read_files(&files, self.threads, progress, &mut |r| match r.result {
            Ok(a) => {
                importer.summary.records += 1;
                importer.accept(Encoded::new(&a, None)?)
            }
            Err(reason) => {
                if r.record != "file" {
                    importer.summary.records += 1;
                }
                importer.summary.fail(r.file, r.record, reason);
                Ok(())
            }
        })?;
        let summary = importer.finish(started);
        progress.finished();
        summary
    }

    fn head(&self, id: &str) -> Result<Option<Head>, StoreError> {
        match self.parts()?.heads.get(id).map_err(db)? {
            None => Ok(None),
            Some(v) => decode_head(id, &v).map(Some),
        }
    }
}

fn decode_head(id: &str, bytes: &[u8]) -> Result<Head, StoreError> {
    Head::decode(bytes).map_err(|reason| StoreError::Corrupt {
        what: "head",
        id: id.to_string(),
        reason,
    })
}

fn decode_record(id: &str, bytes: &[u8]) -> Result<Advisory, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt {
        what: "record",
        id: id.to_string(),
        reason: e.to_string(),
    })
}

fn alias_key(alias: &str, id: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(alias.len() + 1 + id.len());
    k.extend_from_slice(alias.as_bytes());
    k.push(0);
    k.extend_from_slice(id.as_bytes());
    k
}

/// An advisory ready to be stored: its record encoded and hashed, and
/// whether a published score disagrees with the recomputed one (known when
/// the caller prepared it for matching). Made on any thread, so that an
/// import can encode on every core and store on one.
pub struct Encoded<'a> {
    advisory: &'a Advisory,
    json: Vec<u8>,
    hash: [u8; 32],
    score_mismatch: Option<bool>,
}

impl<'a> Encoded<'a> {
    /// Encodes `advisory`; `prepared` is the advisory prepared for matching
    /// (the store prepares it itself when it is `None` and needs it).
    pub fn new(
        advisory: &'a Advisory,
        prepared: Option<&PreparedAdvisory>,
    ) -> Result<Encoded<'a>, StoreError> {
        let json = serde_json::to_vec(advisory).map_err(|e| StoreError::Encode {
            id: advisory.id.as_str().to_string(),
            reason: e.to_string(),
        })?;
        let hash: [u8; 32] = Sha256::digest(&json).into();
        Ok(Encoded {
            advisory,
            json,
            hash,
            score_mismatch: prepared.map(PreparedAdvisory::has_score_mismatch),
        })
    }
}

/// What one import decided for an id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    New,
    Updated,
    Unchanged,
    /// Older than the stored version: kept as it was.
    Older,
}

/// One id read in this import.
struct Seen {
    /// Its head before this import.
    prev: Option<Head>,
    /// The kept version's `modified` and head.
    modified: Option<String>,
    head: Head,
    outcome: Outcome,
}

/// The state of one running import.
struct Importer<'s> {
    store: &'s AdvisoryStore,
    generation: u64,
    seen: HashMap<VulnId, Seen>,
    /// Writes not yet committed, by id (a map, so an id read twice between
    /// two commits is written once).
    pending: HashMap<VulnId, (Head, Vec<u8>)>,
    summary: ImportSummary,
}

impl<'s> Importer<'s> {
    fn new(store: &'s AdvisoryStore) -> Result<Importer<'s>, StoreError> {
        let generation = store.generation()? + 1;
        Ok(Importer {
            store,
            generation,
            seen: HashMap::new(),
            pending: HashMap::new(),
            summary: ImportSummary {
                generation,
                ..ImportSummary::default()
            },
        })
    }

    fn accept(&mut self, e: Encoded<'_>) -> Result<(), StoreError> {
        let Encoded {
            advisory: a,
            json,
            hash,
            score_mismatch,
        } = e;
        let modified = a.modified.as_ref().map(|m| m.as_str().to_string());
        if let Some(seen) = self.seen.get_mut(&a.id) {
            // A duplicate within this import: the latest `modified` wins,
            // the later record on a tie; the outcome is recounted against
            // the head from before the import, so a re-import of the same
            // files is "unchanged" whatever the order of the duplicates.
            self.summary.duplicates += 1;
            if is_older(&modified, &seen.modified) || hash == seen.head.hash {
                return Ok(());
            }
            let (outcome, head) = decide(
                &seen.prev,
                hash,
                a,
                score_mismatch,
                &modified,
                self.generation,
            );
            count(&mut self.summary, seen.outcome, -1);
            count(&mut self.summary, outcome, 1);
            seen.outcome = outcome;
            seen.modified = modified;
            seen.head = head.clone();
            self.pending.insert(a.id.clone(), (head, json));
        } else {
            let prev = self.store.head(a.id.as_str())?;
            let (outcome, head) =
                decide(&prev, hash, a, score_mismatch, &modified, self.generation);
            count(&mut self.summary, outcome, 1);
            if matches!(outcome, Outcome::New | Outcome::Updated) {
                self.pending.insert(a.id.clone(), (head.clone(), json));
            }
            self.seen.insert(
                a.id.clone(),
                Seen {
                    prev,
                    modified,
                    head,
                    outcome,
                },
            );
        }
        if self.pending.len() >= WRITE_BATCH_RECORDS_MAX {
            self.flush(false)?;
        }
        Ok(())
    }

    /// Commits the pending writes as one atomic batch (with the generation
    /// when `last`).
    fn flush(&mut self, last: bool) -> Result<(), StoreError> {
        if self.pending.is_empty() && !last {
            return Ok(());
        }
        // A no-op import leaves the generation as it was, so caches keyed
        // by it stay valid.
        let changed = self.summary.new + self.summary.updated > 0;
        let changed_meta = (last && changed).then_some(self.generation);
        let store = self.store;
        let pending = std::mem::take(&mut self.pending);
        let added = store.write(|p| Self::commit(store, p, pending, changed_meta))?;
        store.len.fetch_add(added, Ordering::Relaxed);
        Ok(())
    }

    /// Writes `pending` (and the generation, if given) as one batch;
    /// answers how many advisories are new.
    fn commit(
        store: &AdvisoryStore,
        p: &Parts,
        pending: HashMap<VulnId, (Head, Vec<u8>)>,
        generation: Option<u64>,
    ) -> Result<usize, StoreError> {
        let mut batch = p.keyspace.batch();
        let mut added = 0usize;
        for (id, (head, json)) in pending {
            let id = id.as_str();
            let committed = store.head(id)?;
            let old_aliases: BTreeSet<&String> = committed
                .as_ref()
                .map(|h| h.aliases.iter().collect())
                .unwrap_or_default();
            let new_aliases: BTreeSet<&String> = head.aliases.iter().collect();
            for a in old_aliases.difference(&new_aliases) {
                batch.remove(&p.aliases, alias_key(a, id));
            }
            for a in new_aliases.difference(&old_aliases) {
                batch.insert(&p.aliases, alias_key(a, id), []);
            }
            if committed.is_none() {
                added += 1;
            }
            batch.insert(&p.heads, id, head.encode());
            batch.insert(&p.records, id, json);
        }
        if let Some(generation) = generation {
            batch.insert(&p.meta, "generation", generation.to_be_bytes());
        }
        batch.commit().map_err(db)?;
        Ok(added)
    }

    fn finish(mut self, started: Instant) -> Result<ImportSummary, StoreError> {
        self.flush(true)?;
        self.store
            .write(|p| p.keyspace.persist(PersistMode::SyncAll).map_err(db))?;
        let mut summary = self.summary;
        if summary.new + summary.updated == 0 {
            summary.generation = self.generation.saturating_sub(1);
        }
        let mut changed = Vec::new();
        for (id, seen) in &self.seen {
            if seen.head.withdrawn {
                summary.withdrawn += 1;
            }
            if seen.head.score_mismatch {
                summary.score_mismatches += 1;
            }
            if matches!(seen.outcome, Outcome::New | Outcome::Updated) {
                changed.push(id.as_str().to_string());
            }
        }
        changed.sort();
        summary.changed_ids = changed;
        summary.elapsed = started.elapsed();
        Ok(summary)
    }
}

/// The outcome of storing content `hash` over `prev`, and the head to keep:
/// the previous one untouched when the content is the same.
fn decide(
    prev: &Option<Head>,
    hash: [u8; 32],
    a: &Advisory,
    score_mismatch: Option<bool>,
    modified: &Option<String>,
    generation: u64,
) -> (Outcome, Head) {
    match prev {
        Some(p) if p.hash == hash => (Outcome::Unchanged, p.clone()),
        Some(p) if is_older(modified, &Some(p.modified.clone())) => (Outcome::Older, p.clone()),
        _ => {
            let outcome = if prev.is_some() {
                Outcome::Updated
            } else {
                Outcome::New
            };
            let head = Head {
                generation,
                hash,
                withdrawn: a.withdrawn.is_some(),
                score_mismatch: score_mismatch
                    .unwrap_or_else(|| PreparedAdvisory::new(a).has_score_mismatch()),
                modified: modified.clone().unwrap_or_default(),
                aliases: a.aliases.iter().map(|v| v.as_str().to_string()).collect(),
            };
            (outcome, head)
        }
    }
}

/// Whether `modified` is strictly before `than`, both as RFC 3339 instants
/// (offsets applied). A missing or unreadable timestamp on either side is
/// never "older": such a record is judged by its content alone.
fn is_older(modified: &Option<String>, than: &Option<String>) -> bool {
    use time::format_description::well_known::Rfc3339;
    let instant = |t: &Option<String>| {
        t.as_deref()
            .filter(|s| !s.is_empty())
            .and_then(|s| time::OffsetDateTime::parse(s, &Rfc3339).ok())
    };
    match (instant(modified), instant(than)) {
        (Some(a), Some(b)) => a < b,
        _ => false,
    }
}

fn count(summary: &mut ImportSummary, outcome: Outcome, delta: isize) {
    let slot = match outcome {
        Outcome::New => &mut summary.new,
        Outcome::Updated => &mut summary.updated,
        Outcome::Unchanged => &mut summary.unchanged,
        Outcome::Older => &mut summary.older,
    };
    *slot = slot.saturating_add_signed(delta);
}

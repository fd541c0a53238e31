//! [`fsck`]: the offline full check of a log's data directory, the same
//! invariants the test harness checks after every operation, shipped to
//! operators.
//!
//! 1. Everything [`verify_log`] checks, on `DATA/log/` as a directory source:
//!    the served checkpoint's signature and origin, and every tile and entry
//!    bundle recomputed up to its root.
//! 2. Every checkpoint in the store's history verifies with the log key and
//!    is consistent with the served one, proved from the stored tiles. Since
//!    every checkpoint is then a prefix of (or extends) one verified tree,
//!    every pair in the history is consistent too.
//! 3. Every entry's leaf hash is in the dedup index, mapped to its own index.
//!    Below the synced size a missing key is corruption; above it, recovery
//!    re-derives the key, so it is only counted.
//! 4. The journal replays from the synced size, contiguously up to the
//!    durable size, and each replayed entry equals the entry in its bundle
//!    wherever that bundle exists.
//!
//! It must run while the server is stopped (the store is opened normally; the
//! embedded store has no lock file). Opening the store truncates a torn
//! journal tail exactly as the server's own start would (that tail was never
//! acknowledged). Deliberately absent: any other repair. fsck only reports;
//! recovery (`Log::open`) is what re-derives lost derived data.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use log_store::{EmbeddedStore, EmbeddedStoreOptions, LogStore, StoreError};
use tlog::{leaf_hash, BundleId, Hash, TileHashReader, TreeSize};

use crate::prover::StoreTiles;
use crate::verify::{
    log_verifier, verify_log, DirSource, VerifyError, VerifyOptions, VerifyReport,
};

/// What fsck established.
#[derive(Debug, Clone)]
pub struct FsckReport {
    /// The check of the served log (`DATA/log/`).
    pub verify: VerifyReport,
    /// Entries in the journal (durable).
    pub durable_size: u64,
    /// Size up to which tiles, bundles and the index are known durable.
    pub synced_size: u64,
    /// Checkpoints in the history, each verified and proved consistent.
    pub checkpoints_checked: u64,
    /// Entries whose dedup key maps to their index.
    pub dedup_keys_checked: u64,
    /// Entries above the synced size without a dedup key (recovery re-adds them).
    pub dedup_keys_missing_above_synced: u64,
    /// Entries replayed from the journal.
    pub journal_entries_replayed: u64,
    /// Replayed entries compared equal with their bundle.
    pub journal_entries_matched: u64,
    /// Replayed entries with no bundle yet (durable, not yet integrated).
    pub journal_entries_unintegrated: u64,
}

/// What fsck found wrong.
#[derive(Debug, thiserror::Error)]
pub enum FsckError {
    /// The served log does not verify.
    #[error(transparent)]
    Verify(#[from] VerifyError),
    /// The store could not be opened or read.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// A checkpoint in the history does not verify or is inconsistent.
    #[error("checkpoint history at size {size}: {reason}")]
    History {
        /// The checkpoint's size.
        size: u64,
        /// What is wrong.
        reason: String,
    },
    /// The dedup index lacks an entry's key or maps it elsewhere.
    #[error("dedup index: entry {index} {}", match found {
        Some(other) => format!("maps to index {other}"),
        None => "has no key".to_owned(),
    })]
    Dedup {
        /// The entry's index.
        index: u64,
        /// Where the index points instead, if anywhere.
        found: Option<u64>,
    },
    /// The journal does not replay as it must.
    #[error("journal at entry {index}: {reason}")]
    Journal {
        /// The entry index.
        index: u64,
        /// What is wrong.
        reason: String,
    },
    /// The blocking part of the check panicked or was cancelled.
    #[error("fsck task failed: {0}")]
    Task(String),
}

/// Checks the data directory `data_dir` of a stopped log whose verifier key
/// is `log_vkey`. See the module documentation.
pub async fn fsck(data_dir: &Path, log_vkey: &str) -> Result<FsckReport, FsckError> {
    let verify = verify_log(
        &DirSource::new(data_dir.join("log")),
        &VerifyOptions::new(log_vkey),
    )
    .await?;
    let dir: PathBuf = data_dir.to_path_buf();
    let vkey = log_vkey.to_owned();
    let report = verify.clone();
    tokio::task::spawn_blocking(move || {
        let store = Arc::new(EmbeddedStore::open(EmbeddedStoreOptions { dir })?);
        check_store(store, &vkey, report)
    })
    .await
    .map_err(|e| FsckError::Task(e.to_string()))?
}

/// The same check on any store (a log in PostgreSQL): step 1 reads the
/// checkpoint, tiles and bundles from the store itself, as its servers
/// serve them; the entries stand in for the journal in step 4. The store
/// must not be written meanwhile (a stopped deployment, or one whose
/// sequencer is stopped).
pub async fn fsck_store(store: Arc<dyn LogStore>, log_vkey: &str) -> Result<FsckReport, FsckError> {
    let source = StoreSource {
        store: store.clone(),
    };
    let verify = verify_log(&source, &VerifyOptions::new(log_vkey)).await?;
    let vkey = log_vkey.to_owned();
    tokio::task::spawn_blocking(move || check_store(store, &vkey, verify))
        .await
        .map_err(|e| FsckError::Task(e.to_string()))?
}

/// A store read as a [`crate::verify::TileSource`].
struct StoreSource {
    store: Arc<dyn LogStore>,
}

impl StoreSource {
    async fn read(
        &self,
        f: impl FnOnce(&dyn LogStore) -> Result<Option<Vec<u8>>, StoreError> + Send + 'static,
    ) -> Result<Option<Vec<u8>>, crate::verify::SourceError> {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || f(store.as_ref()))
            .await
            .map_err(|e| crate::verify::SourceError::Store(e.to_string()))?
            .map_err(|e| crate::verify::SourceError::Store(e.to_string()))
    }
}

impl crate::verify::TileSource for StoreSource {
    async fn checkpoint(&self) -> Result<Option<Vec<u8>>, crate::verify::SourceError> {
        self.read(|s| s.checkpoint()).await
    }
    async fn tile(&self, id: tlog::TileId) -> Result<Option<Vec<u8>>, crate::verify::SourceError> {
        self.read(move |s| s.read_tile(id)).await
    }
    async fn bundle(&self, id: BundleId) -> Result<Option<Vec<u8>>, crate::verify::SourceError> {
        self.read(move |s| s.read_bundle(id)).await
    }
    fn describe(&self) -> String {
        "the log's store".into()
    }
}

fn check_store(
    store: Arc<dyn LogStore>,
    vkey: &str,
    verify: VerifyReport,
) -> Result<FsckReport, FsckError> {
    let verifier = log_verifier(vkey, None)?;
    let recovered = store.recover()?;
    let size = verify.size;
    let root = verify.root;
    if recovered.durable_size < size {
        return Err(FsckError::Journal {
            index: recovered.durable_size.get(),
            reason: format!(
                "the served checkpoint covers {size} entries but only {} are durable",
                recovered.durable_size
            ),
        });
    }
    let tiles = StoreTiles::new(store.clone());
    let mut report = FsckReport {
        verify,
        durable_size: recovered.durable_size.get(),
        synced_size: recovered.synced_size.get(),
        checkpoints_checked: 0,
        dedup_keys_checked: 0,
        dedup_keys_missing_above_synced: 0,
        journal_entries_replayed: 0,
        journal_entries_matched: 0,
        journal_entries_unintegrated: 0,
    };

    // 2. The history.
    for (key_size, note) in store.checkpoint_history(TreeSize::new(0))? {
        let history = |reason: String| FsckError::History {
            size: key_size.get(),
            reason,
        };
        let (cp, _) =
            tlog::open_checkpoint(&note, &verifier).map_err(|e| history(e.to_string()))?;
        if cp.size() != key_size {
            return Err(history(format!(
                "filed under size {key_size}, says {}",
                cp.size()
            )));
        }
        consistent(&tiles, (cp.size(), cp.root()), (size, root)).map_err(history)?;
        report.checkpoints_checked += 1;
    }

    // 3. The dedup index, over the verified tree.
    let synced = recovered.synced_size.get();
    let mut index = 0u64;
    for bundle in tlog::bundles_for_size(size) {
        for entry in read_entries(store.as_ref(), bundle)? {
            match store.lookup(&leaf_hash(&entry))? {
                Some(found) if found.get() == index => report.dedup_keys_checked += 1,
                None if index >= synced => report.dedup_keys_missing_above_synced += 1,
                found => {
                    return Err(FsckError::Dedup {
                        index,
                        found: found.map(|f| f.get()),
                    })
                }
            }
            index += 1;
        }
    }

    // 4. The journal, from the synced size.
    let mut next = synced;
    let mut current: Option<(u64, Vec<Vec<u8>>)> = None;
    let mut failure: Option<FsckError> = None;
    store
        .replay(recovered.synced_size, &mut |i, entry| {
            let i = i.get();
            if i != next {
                failure = Some(FsckError::Journal {
                    index: i,
                    reason: format!("expected entry {next}"),
                });
                return Err(StoreError::Corrupt("journal gap".into()));
            }
            next += 1;
            report.journal_entries_replayed += 1;
            let bundle_index = i / 256;
            let position = (i % 256) as usize;
            // The widest bundle that can hold entry i: the tree's own for i
            // below the checkpoint, else whatever was integrated past it.
            if current
                .as_ref()
                .is_none_or(|(b, e)| *b != bundle_index || e.len() <= position)
            {
                let width = if i < size.get() {
                    (size.get() - bundle_index * 256).min(256) as u16
                } else {
                    (position + 1) as u16
                };
                current = integrated_bundle(store.as_ref(), bundle_index, width)?
                    .map(|entries| (bundle_index, entries));
            }
            match current.as_ref().and_then(|(_, e)| e.get(position)) {
                Some(stored) if stored.as_slice() == entry => report.journal_entries_matched += 1,
                Some(_) => {
                    failure = Some(FsckError::Journal {
                        index: i,
                        reason: "differs from the entry in its bundle".into(),
                    });
                    return Err(StoreError::Corrupt("journal mismatch".into()));
                }
                None if i < size.get() => {
                    failure = Some(FsckError::Journal {
                        index: i,
                        reason: "is in the checkpoint but in no bundle".into(),
                    });
                    return Err(StoreError::Corrupt("bundle missing".into()));
                }
                None => report.journal_entries_unintegrated += 1,
            }
            Ok(())
        })
        .map_err(|e| failure.take().unwrap_or(FsckError::Store(e)))?;
    if next != recovered.durable_size.get() {
        return Err(FsckError::Journal {
            index: next,
            reason: format!(
                "replay ended here, the durable size is {}",
                recovered.durable_size
            ),
        });
    }
    Ok(report)
}

/// Proves `a` and `b` consistent from the stored tiles of the larger tree,
/// verifying those tiles against the larger root as they are read.
fn consistent(tiles: &StoreTiles, a: (TreeSize, Hash), b: (TreeSize, Hash)) -> Result<(), String> {
    let (old, new) = if a.0 <= b.0 { (a, b) } else { (b, a) };
    if old.0 == new.0 {
        return if old.1 == new.1 {
            Ok(())
        } else {
            Err(format!(
                "same size {} as another checkpoint, different root",
                old.0
            ))
        };
    }
    if old.0.get() == 0 {
        return if old.1 == tlog::empty_root() {
            Ok(())
        } else {
            Err("size 0 with a non-empty root".into())
        };
    }
    let reader = TileHashReader::verified(new.0, new.1, tiles);
    let proof = tlog::prove_consistency(old.0, new.0, &reader)
        .map_err(|e| format!("proving {} → {} from stored tiles: {e}", old.0, new.0))?;
    tlog::verify_consistency(old.0, new.0, &old.1, &new.1, &proof)
        .map_err(|e| format!("NOT consistent with the checkpoint at {}: {e}", b.0))
}

fn read_entries(store: &dyn LogStore, id: BundleId) -> Result<Vec<Vec<u8>>, FsckError> {
    let data = store
        .read_bundle(id)?
        .ok_or_else(|| FsckError::Verify(VerifyError::Missing { path: id.path() }))?;
    let entries = tlog::tile::parse_bundle_for(id, &data).map_err(|e| {
        FsckError::Verify(VerifyError::TamperedBundle {
            path: id.path(),
            reason: e.to_string(),
        })
    })?;
    Ok(entries.into_iter().map(<[u8]>::to_vec).collect())
}

/// The entries of bundle `index` at `width` as integrated (the store answers
/// from a wider bundle when the exact one was superseded), if it exists.
fn integrated_bundle(
    store: &dyn LogStore,
    index: u64,
    width: u16,
) -> Result<Option<Vec<Vec<u8>>>, StoreError> {
    let Ok(id) = BundleId::new(index, width) else {
        return Ok(None);
    };
    let Some(data) = store.read_bundle(id)? else {
        return Ok(None);
    };
    match tlog::parse_bundle(&data) {
        Ok(entries) => Ok(Some(entries.into_iter().map(<[u8]>::to_vec).collect())),
        Err(e) => Err(StoreError::Corrupt(format!("bundle {}: {e}", id.path()))),
    }
}

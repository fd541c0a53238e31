//! The embedded index and metadata database (fjall, an LSM tree).
//!
//! Holds the dedup index (leaf hash → index), the checkpoint history
//! (size → signed note) and the store's watermarks. Chosen by measurement
//! (`sectwin-bench index`): the dedup keys are uniformly random hashes, and an
//! LSM tree absorbs random-key inserts as sequential writes, where a B-tree
//! (redb, SQLite) dirties a random page per key once the tree outgrows memory.
//!
//! Writes go through fjall's own journal without fsync; durability is only
//! claimed by [`Index::persist`], called from the store's `sync`. Anything lost
//! before that is re-derived from the sequencing journal on recovery.

use std::path::Path;

use fjall::{Config, Keyspace, PartitionCreateOptions, PartitionHandle, PersistMode};
use tlog::{Hash, LeafIndex, TreeSize};

use crate::StoreError;

/// Block cache for the index: bounds resident memory regardless of log size.
const INDEX_CACHE_BYTES: u64 = 64 * 1024 * 1024;
/// Memtable budget before fjall flushes to a sorted run.
const INDEX_WRITE_BUFFER_BYTES: u64 = 64 * 1024 * 1024;

const META_SYNCED_SIZE: &[u8] = b"synced_size";

pub(crate) struct Index {
    keyspace: Keyspace,
    dedup: PartitionHandle,
    checkpoints: PartitionHandle,
    meta: PartitionHandle,
}

/// A fjall error. One caused by an I/O error (a full disk, descriptor
/// exhaustion) stays an I/O error with its OS code, so the writer can tell
/// it apart ([`StoreError::is_descriptor_exhaustion`]) and recovery at open
/// can wait for space instead of refusing to start.
fn db(e: impl std::error::Error + 'static) -> StoreError {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    while let Some(c) = cause {
        if let Some(io) = c.downcast_ref::<std::io::Error>() {
            let source = match io.raw_os_error() {
                Some(code) => std::io::Error::from_raw_os_error(code),
                None => std::io::Error::new(io.kind(), io.to_string()),
            };
            return StoreError::io(format!("index database: {e}"), source);
        }
        cause = c.source();
    }
    StoreError::Index(e.to_string())
}

impl Index {
    pub(crate) fn open(dir: &Path) -> Result<Index, StoreError> {
        let keyspace = Config::new(dir)
            .cache_size(INDEX_CACHE_BYTES)
            .max_write_buffer_size(INDEX_WRITE_BUFFER_BYTES)
            .manual_journal_persist(true)
            .open()
            .map_err(db)?;
        let dedup = keyspace
            .open_partition(
                "dedup",
                PartitionCreateOptions::default().bloom_filter_bits(Some(10)),
            )
            .map_err(db)?;
        let checkpoints = keyspace
            .open_partition("checkpoints", PartitionCreateOptions::default())
            .map_err(db)?;
        let meta = keyspace
            .open_partition("meta", PartitionCreateOptions::default())
            .map_err(db)?;
        Ok(Index {
            keyspace,
            dedup,
            checkpoints,
            meta,
        })
    }

    pub(crate) fn synced_size(&self) -> Result<TreeSize, StoreError> {
        Ok(TreeSize::new(self.meta_u64(META_SYNCED_SIZE)?.unwrap_or(0)))
    }

    fn meta_u64(&self, key: &[u8]) -> Result<Option<u64>, StoreError> {
        match self.meta.get(key).map_err(db)? {
            None => Ok(None),
            Some(v) => {
                let bytes: [u8; 8] = v
                    .as_ref()
                    .try_into()
                    .map_err(|_| StoreError::Corrupt("meta value is not 8 bytes".into()))?;
                Ok(Some(u64::from_be_bytes(bytes)))
            }
        }
    }

    pub(crate) fn lookup(&self, leaf: &Hash) -> Result<Option<LeafIndex>, StoreError> {
        match self.dedup.get(leaf.as_bytes()).map_err(db)? {
            None => Ok(None),
            Some(v) => {
                let bytes: [u8; 8] = v
                    .as_ref()
                    .try_into()
                    .map_err(|_| StoreError::Corrupt("dedup value is not 8 bytes".into()))?;
                Ok(Some(LeafIndex::new(u64::from_be_bytes(bytes))))
            }
        }
    }

    pub(crate) fn insert_leaves(&self, leaves: &[(Hash, LeafIndex)]) -> Result<(), StoreError> {
        if leaves.is_empty() {
            return Ok(());
        }
        let mut batch = self.keyspace.batch();
        for (hash, index) in leaves {
            batch.insert(&self.dedup, hash.as_bytes(), index.get().to_be_bytes());
        }
        batch.commit().map_err(db)
    }

    pub(crate) fn insert_checkpoint(&self, size: TreeSize, note: &[u8]) -> Result<(), StoreError> {
        self.checkpoints
            .insert(size.get().to_be_bytes(), note)
            .map_err(db)
    }

    pub(crate) fn latest_checkpoint(&self) -> Result<Option<(TreeSize, Vec<u8>)>, StoreError> {
        match self.checkpoints.last_key_value().map_err(db)? {
            None => Ok(None),
            Some((k, v)) => Ok(Some((decode_size(&k)?, v.to_vec()))),
        }
    }

    pub(crate) fn checkpoints_from(
        &self,
        from: TreeSize,
    ) -> Result<Vec<(TreeSize, Vec<u8>)>, StoreError> {
        let mut out = Vec::new();
        for item in self.checkpoints.range(from.get().to_be_bytes()..) {
            let (k, v) = item.map_err(db)?;
            out.push((decode_size(&k)?, v.to_vec()));
        }
        Ok(out)
    }

    /// Records the synced size and makes the whole index durable.
    pub(crate) fn persist(&self, synced: TreeSize) -> Result<(), StoreError> {
        self.meta
            .insert(META_SYNCED_SIZE, synced.get().to_be_bytes())
            .map_err(db)?;
        self.keyspace.persist(PersistMode::SyncAll).map_err(db)
    }
}

fn decode_size(k: &[u8]) -> Result<TreeSize, StoreError> {
    let bytes: [u8; 8] = k
        .try_into()
        .map_err(|_| StoreError::Corrupt("checkpoint key is not 8 bytes".into()))?;
    Ok(TreeSize::new(u64::from_be_bytes(bytes)))
}

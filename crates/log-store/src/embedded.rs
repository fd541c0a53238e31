//! [`EmbeddedStore`]: the default, single-machine [`LogStore`].
//!
//! Layout under the data directory (see `docs/design/embedded-store.md`):
//!
//! ```text
//! log/       C2SP static files (checkpoint, tile/...), servable as-is
//! journal/   sequencing journal segments: the durability point
//! index/     fjall database: dedup index, checkpoint history, watermarks
//! ```

use std::path::{Path, PathBuf};

use parking_lot::{Mutex, RwLock};
use tlog::{BundleId, Hash, LeafIndex, TileId, TreeSize};

use crate::index::Index;
use crate::journal::Journal;
use crate::static_files::StaticFiles;
use crate::{Integration, LogStore, Recovered, StoreError};

/// Where the embedded store keeps its files.
#[derive(Debug, Clone)]
pub struct EmbeddedStoreOptions {
    /// The data directory; created if missing.
    pub dir: PathBuf,
}

/// The embedded store. See the module documentation.
pub struct EmbeddedStore {
    dir: PathBuf,
    files: StaticFiles,
    /// `None` only between dropping a keyspace a failed write poisoned and
    /// opening it again ([`LogStore::reopen`]).
    index: RwLock<Option<Index>>,
    journal: Mutex<Journal>,
    /// Held exclusively while the store is open ([`DATA_DIR_LOCK_FILE`]).
    _lock: std::fs::File,
}

/// The file in a data directory whose exclusive lock (`flock`) the open
/// store holds, so that a second process (a server, a `reindex`) cannot
/// write the same directory; the lock goes with the process.
pub const DATA_DIR_LOCK_FILE: &str = "LOCK";

/// The format the embedded log store writes (the `FORMAT` marker of a data
/// directory; see `durable::format`): the journal, the index and the
/// static files. The static files themselves follow C2SP tlog-tiles.
pub const LOG_STORE_FORMAT: u32 = 1;

impl EmbeddedStore {
    /// Opens (creating if needed) the store, repairing a torn journal tail.
    pub fn open(options: EmbeddedStoreOptions) -> Result<EmbeddedStore, StoreError> {
        let dir = options.dir;
        std::fs::create_dir_all(&dir).map_err(|e| StoreError::io("create data dir", e))?;
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(dir.join(DATA_DIR_LOCK_FILE))
            .map_err(|e| StoreError::io("open the data directory's lock file", e))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => return Err(StoreError::InUse { dir }),
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(StoreError::io("lock the data directory", e))
            }
        }
        durable::format::check_or_init(&dir, "log", LOG_STORE_FORMAT)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let files = StaticFiles::open(&dir.join("log"))?;
        let index = Index::open(&dir.join("index"))?;
        let synced = index.synced_size()?;
        let journal = Journal::open(&dir.join("journal"), synced.get())?;
        Ok(EmbeddedStore {
            dir,
            files,
            index: RwLock::new(Some(index)),
            journal: Mutex::new(journal),
            _lock: lock,
        })
    }

    fn index<T>(&self, f: impl FnOnce(&Index) -> Result<T, StoreError>) -> Result<T, StoreError> {
        match self.index.read().as_ref() {
            Some(index) => f(index),
            None => Err(StoreError::Index(
                "the index is not open (reopening it after a write error failed)".into(),
            )),
        }
    }

    /// The directory holding the C2SP static files (`checkpoint`, `tile/`).
    pub fn static_dir(&self) -> PathBuf {
        self.dir.join("log")
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl LogStore for EmbeddedStore {
    fn recover(&self) -> Result<Recovered, StoreError> {
        let durable_size = TreeSize::new(self.journal.lock().next_index());
        let synced_size = self.index(Index::synced_size)?;
        let checkpoint = match self.index(Index::latest_checkpoint)? {
            Some((_, note)) => Some(note),
            None => self.files.read("checkpoint")?,
        };
        if synced_size > durable_size {
            return Err(StoreError::Corrupt(format!(
                "synced size {synced_size} is above the durable size {durable_size}"
            )));
        }
        Ok(Recovered {
            durable_size,
            synced_size,
            checkpoint,
        })
    }

    /// After a failed write: the journal is cut back to its last synced
    /// record, and the index database (which refuses every write once one
    /// failed) is closed and opened again, recovering its own journal.
    fn reopen(&self) -> Result<(), StoreError> {
        self.journal.lock().repair()?;
        let mut index = self.index.write();
        // The old keyspace must be gone (its threads stopped, its journal
        // closed) before the directory is opened again.
        drop(index.take());
        *index = Some(Index::open(&self.dir.join("index"))?);
        Ok(())
    }

    fn replay(&self, from: TreeSize, f: &mut crate::EntryVisitor<'_>) -> Result<(), StoreError> {
        self.journal
            .lock()
            .replay(from.get(), &mut |i, e| f(LeafIndex::new(i), e))
    }

    fn append(&self, start: LeafIndex, entries: &[&[u8]]) -> Result<(), StoreError> {
        self.journal.lock().append(start.get(), entries)
    }

    fn lookup(&self, leaf: &Hash) -> Result<Option<LeafIndex>, StoreError> {
        self.index(|i| i.lookup(leaf))
    }

    fn integrate(&self, integration: &Integration) -> Result<(), StoreError> {
        for (id, data) in &integration.bundles {
            self.files.write(&id.path(), data)?;
        }
        for (id, data) in &integration.tiles {
            self.files.write(&id.path(), data)?;
        }
        self.index(|i| i.insert_leaves(&integration.leaves))
    }

    fn publish_checkpoint(&self, size: TreeSize, note: &[u8]) -> Result<(), StoreError> {
        self.index(|i| i.insert_checkpoint(size, note))?;
        self.files.write("checkpoint", note)
    }

    fn sync(&self, size: TreeSize) -> Result<(), StoreError> {
        self.files.sync()?;
        self.index(|i| i.persist(size))?;
        self.journal.lock().release_below(size.get())
    }

    fn read_tile(&self, id: TileId) -> Result<Option<Vec<u8>>, StoreError> {
        self.files.read_tile(id)
    }

    fn read_bundle(&self, id: BundleId) -> Result<Option<Vec<u8>>, StoreError> {
        self.files.read_bundle(id)
    }

    fn checkpoint(&self) -> Result<Option<Vec<u8>>, StoreError> {
        self.files.read("checkpoint")
    }

    fn checkpoint_history(&self, from: TreeSize) -> Result<Vec<(TreeSize, Vec<u8>)>, StoreError> {
        self.index(|i| i.checkpoints_from(from))
    }
}

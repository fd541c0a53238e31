//! Proofs from the stored tiles: [`Prover`] (inclusion, consistency, roots)
//! and the [`StoreTiles`] hash reader it is built on.
//!
//! A tile of a given width never changes (a wider one only adds hashes on the
//! right), so tiles are cached *expanded*: every complete subtree hash of its
//! 8 inner levels, computed once. A proof then costs a few cache look-ups
//! instead of file reads and re-hashing up to 255 nodes per tile level. The
//! cache key includes the width, so the right edge's partial tiles are cached
//! too and simply age out of the LRU as the log grows. This module trusts
//! the tiles: they are the log's own. Clients of a remote log use `tlog`'s
//! verified tile reader instead.

use std::num::NonZeroUsize;
use std::sync::Arc;

use log_store::{LogStore, StoreError};
use lru::LruCache;
use parking_lot::Mutex;
use tlog::{Hash, HashReader, LeafIndex, NodeId, ProofError, TileId, TreeSize};

/// Expanded full tiles kept in memory: 16 KiB each, so 64 MiB. Enough for
/// every level ≥ 1 tile of a 10^9-entry log plus a working set of level-0 tiles.
pub const TILE_CACHE_TILES_MAX: usize = 4096;

/// The checkpointer's cache: it reads only the right edge of the tree (a few
/// tiles per level) and the nodes of one consistency proof per checkpoint.
pub const EDGE_CACHE_TILES_MAX: usize = 64;

const TILE_HASHES: usize = 256;

/// Why a proof could not be produced.
#[derive(Debug, thiserror::Error)]
pub enum ProverError {
    /// The request does not fit the tree (index or size out of range, ...).
    #[error(transparent)]
    Invalid(#[from] ProofError),
    /// A tile the tree must have is missing or malformed.
    #[error("stored tiles: {0}")]
    Tiles(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<ProofError<TileReadError>> for ProverError {
    fn from(e: ProofError<TileReadError>) -> Self {
        match e {
            ProofError::Reader(TileReadError::Store(s)) => ProverError::Store(s),
            ProofError::Reader(TileReadError::Tiles(t)) => ProverError::Tiles(t),
            other => match narrow(other) {
                Some(p) => ProverError::Invalid(p),
                None => ProverError::Tiles("unexpected reader error".into()),
            },
        }
    }
}

/// Converts a generation error without a reader failure to a plain one.
fn narrow(e: ProofError<TileReadError>) -> Option<ProofError> {
    Some(match e {
        ProofError::IndexOutOfRange { index, size } => ProofError::IndexOutOfRange { index, size },
        ProofError::SizeOrder { old, new } => ProofError::SizeOrder { old, new },
        ProofError::EmptyOldTree => ProofError::EmptyOldTree,
        ProofError::InvalidSubtree { start, end } => ProofError::InvalidSubtree { start, end },
        ProofError::SubtreeBeyondTree { end, size } => ProofError::SubtreeBeyondTree { end, size },
        ProofError::WrongProofLength { got, want } => ProofError::WrongProofLength { got, want },
        ProofError::OldRootMismatch => ProofError::OldRootMismatch,
        ProofError::RootMismatch => ProofError::RootMismatch,
        ProofError::ReaderCount { got, want } => ProofError::ReaderCount { got, want },
        ProofError::Reader(_) => return None,
    })
}

/// Failure reading stored tiles.
#[derive(Debug, thiserror::Error)]
pub enum TileReadError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A tile is missing or has the wrong size.
    #[error("{0}")]
    Tiles(String),
}

type Expanded = Arc<[Vec<Hash>; 9]>;

/// A cached tile: (level, index, width).
type TileKey = (u8, u64, u16);

/// Reads the log's own tiles from a store, with an LRU of expanded full tiles.
#[derive(Clone)]
pub struct StoreTiles {
    store: Arc<dyn LogStore>,
    cache: Arc<Mutex<LruCache<TileKey, Expanded>>>,
    /// The writer's reader retries a read that ran out of file descriptors
    /// (up to [`DESCRIPTOR_READ_ATTEMPTS_MAX`] times) rather than stop the
    /// log; readers serving HTTP answer the error at once.
    retry_descriptors: bool,
}

/// Attempts of a writer's tile read that runs out of file descriptors (about
/// a minute with the back-off), after which the writer stops as for any other
/// storage error.
const DESCRIPTOR_READ_ATTEMPTS_MAX: u32 = 64;

impl StoreTiles {
    /// A reader over `store` with an empty cache of the default size (for
    /// serving proofs of random entries).
    pub fn new(store: Arc<dyn LogStore>) -> StoreTiles {
        StoreTiles::with_cache(store, TILE_CACHE_TILES_MAX)
    }

    /// A reader over `store` caching at most `tiles` expanded tiles.
    pub fn with_cache(store: Arc<dyn LogStore>, tiles: usize) -> StoreTiles {
        let capacity = NonZeroUsize::new(tiles).unwrap_or(NonZeroUsize::MIN);
        StoreTiles {
            store,
            cache: Arc::new(Mutex::new(LruCache::new(capacity))),
            retry_descriptors: false,
        }
    }

    /// This reader, retrying reads that run out of file descriptors (for the
    /// log's own writer).
    pub(crate) fn retrying_descriptors(mut self) -> StoreTiles {
        self.retry_descriptors = true;
        self
    }

    fn read_stored(&self, id: TileId) -> Result<Option<Vec<u8>>, log_store::StoreError> {
        if !self.retry_descriptors {
            return self.store.read_tile(id);
        }
        let attempts = std::cell::Cell::new(0u32);
        crate::sequencer::retry_descriptors(
            "reading a tile",
            || attempts.get() >= DESCRIPTOR_READ_ATTEMPTS_MAX,
            || {
                attempts.set(attempts.get() + 1);
                self.store.read_tile(id)
            },
        )
    }

    /// A [`HashReader`] for the tree of `size` entries.
    pub fn hash_reader(&self, size: TreeSize) -> StoreHashReader<'_> {
        StoreHashReader { tiles: self, size }
    }

    fn read_raw(&self, id: TileId) -> Result<Vec<Hash>, TileReadError> {
        let data = self
            .read_stored(id)?
            .ok_or_else(|| TileReadError::Tiles(format!("tile {} is missing", id.path())))?;
        if data.len() != usize::from(id.width()) * 32 {
            return Err(TileReadError::Tiles(format!(
                "tile {} has {} bytes, want {}",
                id.path(),
                data.len(),
                usize::from(id.width()) * 32
            )));
        }
        data.chunks_exact(32)
            .map(|c| Hash::from_slice(c).map_err(|e| TileReadError::Tiles(e.to_string())))
            .collect()
    }

    fn expanded(&self, level: u8, index: u64, width: u16) -> Result<Expanded, TileReadError> {
        if let Some(t) = self.cache.lock().get(&(level, index, width)) {
            return Ok(t.clone());
        }
        let id =
            TileId::new(level, index, width).map_err(|e| TileReadError::Tiles(e.to_string()))?;
        let base = self.read_raw(id)?;
        let mut levels: [Vec<Hash>; 9] = Default::default();
        levels[0] = base;
        for j in 1..9 {
            let below = &levels[j - 1];
            levels[j] = below
                .chunks_exact(2)
                .map(|p| tlog::node_hash(&p[0], &p[1]))
                .collect();
        }
        let expanded: Expanded = Arc::new(levels);
        self.cache
            .lock()
            .put((level, index, width), expanded.clone());
        Ok(expanded)
    }

    /// The hash of node `node` in a tree of `size` entries.
    fn node(&self, node: NodeId, size: u64) -> Result<Hash, TileReadError> {
        let tile_level = node.level() / 8;
        let j = u32::from(node.level() % 8);
        // Level-(8·tile_level) hashes the node spans: [first, first + 2^j).
        let first = node.index() << j;
        let tile_index = first / TILE_HASHES as u64;
        let offset = (first % TILE_HASHES as u64) as usize;
        let hashes_at_level = size >> (8 * u32::from(tile_level));
        let tile_end = (tile_index + 1) * TILE_HASHES as u64;
        // The full tile, or the partial one at the right edge of this tree.
        let width = if hashes_at_level >= tile_end {
            TILE_HASHES as u16
        } else {
            (hashes_at_level % TILE_HASHES as u64) as u16
        };
        let t = self.expanded(tile_level, tile_index, width)?;
        t[j as usize].get(offset >> j).copied().ok_or_else(|| {
            TileReadError::Tiles(format!(
                "node {}/{} is beyond tile {tile_level}/{tile_index} of width {width}",
                node.level(),
                node.index()
            ))
        })
    }
}

impl tlog::TileReader for StoreTiles {
    type Error = TileReadError;
    fn read_tile(&self, id: TileId) -> Result<Vec<u8>, TileReadError> {
        self.read_stored(id)?
            .ok_or_else(|| TileReadError::Tiles(format!("tile {} is missing", id.path())))
    }
}

/// [`HashReader`] over [`StoreTiles`] for one tree size.
pub struct StoreHashReader<'a> {
    tiles: &'a StoreTiles,
    size: TreeSize,
}

impl HashReader for StoreHashReader<'_> {
    type Error = TileReadError;
    fn read_hashes(&self, nodes: &[NodeId]) -> Result<Vec<Hash>, TileReadError> {
        nodes
            .iter()
            .map(|n| self.tiles.node(*n, self.size.get()))
            .collect()
    }
}

/// Inclusion and consistency proofs for a log's own tree.
#[derive(Clone)]
pub struct Prover {
    tiles: StoreTiles,
}

impl Prover {
    /// A prover over `store` with its own tile cache.
    pub fn new(store: Arc<dyn LogStore>) -> Prover {
        Prover {
            tiles: StoreTiles::new(store),
        }
    }

    /// Inclusion proof of entry `index` in the tree of `size`.
    pub fn inclusion(&self, index: LeafIndex, size: TreeSize) -> Result<Vec<Hash>, ProverError> {
        Ok(tlog::prove_inclusion(
            index,
            size,
            &self.tiles.hash_reader(size),
        )?)
    }

    /// Consistency proof from `old` to `new`.
    pub fn consistency(&self, old: TreeSize, new: TreeSize) -> Result<Vec<Hash>, ProverError> {
        Ok(tlog::prove_consistency(
            old,
            new,
            &self.tiles.hash_reader(new),
        )?)
    }

    /// Root hash of the tree of `size` entries.
    pub fn root(&self, size: TreeSize) -> Result<Hash, ProverError> {
        Ok(tlog::tree_hash(size, &self.tiles.hash_reader(size))?)
    }

    /// The entry at `index` of the tree of `size` entries, read from its
    /// entry bundle (full, or the partial one of that tree).
    pub fn entry(&self, index: LeafIndex, size: TreeSize) -> Result<Vec<u8>, ProverError> {
        if index.get() >= size.get() {
            return Err(ProverError::Invalid(ProofError::IndexOutOfRange {
                index: index.get(),
                size: size.get(),
            }));
        }
        let bundle_index = index.get() / TILE_HASHES as u64;
        let width = if (bundle_index + 1) * TILE_HASHES as u64 <= size.get() {
            TILE_HASHES as u16
        } else {
            (size.get() % TILE_HASHES as u64) as u16
        };
        let id = tlog::BundleId::new(bundle_index, width)
            .map_err(|e| ProverError::Tiles(e.to_string()))?;
        let data = self
            .tiles
            .store
            .read_bundle(id)?
            .ok_or_else(|| ProverError::Tiles(format!("bundle {} is missing", id.path())))?;
        let entries = tlog::parse_bundle(&data)
            .map_err(|e| ProverError::Tiles(format!("bundle {}: {e}", id.path())))?;
        let offset = (index.get() % TILE_HASHES as u64) as usize;
        entries
            .get(offset)
            .map(|e| e.to_vec())
            .ok_or_else(|| ProverError::Tiles(format!("bundle {} is short", id.path())))
    }

    /// The entries `[from, to)` of the tree of `size` entries, reading each
    /// entry bundle once.
    pub fn entries(&self, from: u64, to: u64, size: TreeSize) -> Result<Vec<Vec<u8>>, ProverError> {
        if to > size.get() || from > to {
            return Err(ProverError::Invalid(ProofError::IndexOutOfRange {
                index: to,
                size: size.get(),
            }));
        }
        let per = TILE_HASHES as u64;
        let mut out = Vec::with_capacity((to - from) as usize);
        let mut at = from;
        while at < to {
            let bundle_index = at / per;
            let width = if (bundle_index + 1) * per <= size.get() {
                TILE_HASHES as u16
            } else {
                (size.get() % per) as u16
            };
            let id = tlog::BundleId::new(bundle_index, width)
                .map_err(|e| ProverError::Tiles(e.to_string()))?;
            let data =
                self.tiles.store.read_bundle(id)?.ok_or_else(|| {
                    ProverError::Tiles(format!("bundle {} is missing", id.path()))
                })?;
            let entries = tlog::parse_bundle(&data)
                .map_err(|e| ProverError::Tiles(format!("bundle {}: {e}", id.path())))?;
            let first = (at % per) as usize;
            let last = ((to - bundle_index * per).min(per)) as usize;
            if entries.len() < last {
                return Err(ProverError::Tiles(format!("bundle {} is short", id.path())));
            }
            out.extend(entries[first..last].iter().map(|e| e.to_vec()));
            at = bundle_index * per + last as u64;
        }
        Ok(out)
    }

    /// The leaf hash stored at `index` (tree must contain it).
    pub fn leaf(&self, index: LeafIndex, size: TreeSize) -> Result<Hash, ProverError> {
        if index.get() >= size.get() {
            return Err(ProverError::Invalid(ProofError::IndexOutOfRange {
                index: index.get(),
                size: size.get(),
            }));
        }
        self.tiles
            .node(NodeId::new(0, index.get()), size.get())
            .map_err(|e| match e {
                TileReadError::Store(s) => ProverError::Store(s),
                TileReadError::Tiles(t) => ProverError::Tiles(t),
            })
    }
}

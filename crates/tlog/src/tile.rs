//! C2SP tlog-tiles: tile and entry-bundle identifiers and their paths, the
//! set of tiles a tree of a given size has, the entry bundle encoding, an
//! incremental right-edge builder ([`TileEdge`]) for the sequencer, and a
//! [`HashReader`] over tiles ([`TileHashReader`]) that verifies every tile it
//! reads against a trusted root.
//!
//! This module deliberately does no I/O: tiles come in through the
//! [`TileReader`] trait and go out as byte vectors for the caller to store.
//! It does not cache tiles across calls (wrap the reader for that) and does
//! not implement pruning policy.

#[allow(unused_imports)]
use crate::prelude::*;
use alloc::collections::BTreeMap;
use core::fmt;

use crate::hash::{empty_root, node_hash, parse_decimal_u64, Hash, TreeSize, HASH_BYTES};
use crate::merkle::{HashReader, NodeId};

/// Tile height: each tile spans 8 tree levels (c2sp tlog-tiles "Merkle Tree").
pub const TILE_HEIGHT: u8 = 8;
/// Hashes in a full tile.
pub const TILE_WIDTH_MAX: u16 = 256;
/// Bytes in a full tile (256 hashes × 32 bytes).
pub const TILE_BYTES_MAX: usize = TILE_WIDTH_MAX as usize * HASH_BYTES;
/// Highest tile level allowed in a tile path.
pub const TILE_LEVEL_MAX: u8 = 63;
/// Largest log entry a bundle can carry (uint16 length prefix).
pub const ENTRY_BYTES_MAX: usize = 65535;
/// Entries in a full entry bundle.
pub const BUNDLE_ENTRIES_MAX: usize = TILE_WIDTH_MAX as usize;
/// Largest possible encoded bundle (256 entries of 65535 bytes plus prefixes).
pub const BUNDLE_BYTES_MAX: usize = BUNDLE_ENTRIES_MAX * (2 + ENTRY_BYTES_MAX);

/// Errors constructing or parsing tile and bundle identifiers/paths.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TilePathError {
    /// The path does not start with `tile/`.
    #[error("path does not start with \"tile/\"")]
    NoTilePrefix,
    /// The path has the wrong number or shape of `/`-separated elements.
    #[error("malformed tile path")]
    Malformed,
    /// The level is not a canonical decimal integer.
    #[error("tile level is not a canonical decimal")]
    BadLevel,
    /// The level is above 63.
    #[error("tile level {0} is above 63")]
    LevelOutOfRange(u64),
    /// An index element is not `xDDD` (non-final) or `DDD` (final).
    #[error("malformed tile index element")]
    BadIndexElement,
    /// The index has a redundant leading `x000/` element.
    #[error("tile index has a leading zero element")]
    NonCanonicalIndex,
    /// The index does not fit in 64 bits.
    #[error("tile index overflows u64")]
    IndexOverflow,
    /// The partial width is not a canonical decimal integer.
    #[error("tile width is not a canonical decimal")]
    BadWidth,
    /// The width is outside 1..=255 (in a path) or 1..=256 (in a constructor).
    #[error("tile width {0} out of range")]
    WidthOutOfRange(u64),
}

/// A hash tile: `level` (0..=63), `index` within the level, and `width`
/// (1..=256 hashes; 256 means full).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct TileId {
    level: u8,
    index: u64,
    width: u16,
}

impl TileId {
    /// Checked constructor.
    pub fn new(level: u8, index: u64, width: u16) -> Result<Self, TilePathError> {
        if level > TILE_LEVEL_MAX {
            return Err(TilePathError::LevelOutOfRange(u64::from(level)));
        }
        if width == 0 || width > TILE_WIDTH_MAX {
            return Err(TilePathError::WidthOutOfRange(u64::from(width)));
        }
        Ok(TileId {
            level,
            index,
            width,
        })
    }
    /// Tile level (hashes at tree level `8 * level`).
    pub fn level(&self) -> u8 {
        self.level
    }
    /// Index within the level.
    pub fn index(&self) -> u64 {
        self.index
    }
    /// Number of hashes (1..=256).
    pub fn width(&self) -> u16 {
        self.width
    }
    /// Whether this is a full (256-hash) tile.
    pub fn is_full(&self) -> bool {
        self.width == TILE_WIDTH_MAX
    }
    /// Expected byte length of the tile data.
    pub fn byte_len(&self) -> usize {
        usize::from(self.width) * HASH_BYTES
    }
    /// The same tile at full width.
    pub fn full(&self) -> TileId {
        TileId {
            width: TILE_WIDTH_MAX,
            ..*self
        }
    }
    /// Path relative to the log prefix, e.g. `tile/0/x001/234.p/5`
    /// (c2sp tlog-tiles "Merkle Tree"). No leading slash.
    pub fn path(&self) -> String {
        format!("tile/{}/{}", self.level, index_path(self.index, self.width))
    }
}

impl fmt::Display for TileId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.path())
    }
}

/// An entry bundle: `index` and `width` (1..=256 entries; 256 means full).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct BundleId {
    index: u64,
    width: u16,
}

impl BundleId {
    /// Checked constructor.
    pub fn new(index: u64, width: u16) -> Result<Self, TilePathError> {
        if width == 0 || width > TILE_WIDTH_MAX {
            return Err(TilePathError::WidthOutOfRange(u64::from(width)));
        }
        Ok(BundleId { index, width })
    }
    /// Bundle index.
    pub fn index(&self) -> u64 {
        self.index
    }
    /// Number of entries (1..=256).
    pub fn width(&self) -> u16 {
        self.width
    }
    /// Whether this is a full (256-entry) bundle.
    pub fn is_full(&self) -> bool {
        self.width == TILE_WIDTH_MAX
    }
    /// Index of the first leaf in the bundle.
    pub fn first_leaf(&self) -> Option<u64> {
        self.index.checked_mul(u64::from(TILE_WIDTH_MAX))
    }
    /// Path relative to the log prefix, e.g. `tile/entries/x001/234.p/5`
    /// (c2sp tlog-tiles "Log entries"). No leading slash.
    pub fn path(&self) -> String {
        format!("tile/entries/{}", index_path(self.index, self.width))
    }
}

impl fmt::Display for BundleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.path())
    }
}

/// A parsed tile path.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum TilePath {
    /// `tile/<L>/<N>[.p/<W>]`
    Hash(TileId),
    /// `tile/entries/<N>[.p/<W>]`
    Entries(BundleId),
}

impl TilePath {
    /// The path string.
    pub fn path(&self) -> String {
        match self {
            TilePath::Hash(t) => t.path(),
            TilePath::Entries(b) => b.path(),
        }
    }
}

/// `<N>[.p/<W>]`: N as zero-padded 3-digit elements, all but the last
/// prefixed with `x` (c2sp tlog-tiles "Merkle Tree").
fn index_path(index: u64, width: u16) -> String {
    let mut groups = Vec::new();
    let mut n = index;
    groups.push(n % 1000);
    n /= 1000;
    while n > 0 {
        groups.push(n % 1000);
        n /= 1000;
    }
    let mut s = String::new();
    for (i, g) in groups.iter().enumerate().rev() {
        if i == 0 {
            s.push_str(&format!("{g:03}"));
        } else {
            s.push_str(&format!("x{g:03}/"));
        }
    }
    if width != TILE_WIDTH_MAX {
        s.push_str(&format!(".p/{width}"));
    }
    s
}

fn parse_group(s: &str) -> Result<u64, TilePathError> {
    if s.len() != 3 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(TilePathError::BadIndexElement);
    }
    s.parse::<u64>().map_err(|_| TilePathError::BadIndexElement)
}

/// Parses `<N>[.p/<W>]` from the remaining path elements.
fn parse_index_width(elems: &[&str]) -> Result<(u64, u16), TilePathError> {
    let (last, init) = elems.split_last().ok_or(TilePathError::Malformed)?;
    // Partial: "... /DDD.p/W".
    let (index_elems, width): (Vec<&str>, u16) = match init.split_last() {
        Some((prev, before)) if prev.ends_with(".p") => {
            let w = parse_decimal_u64(last).map_err(|_| TilePathError::BadWidth)?;
            if w == 0 || w >= u64::from(TILE_WIDTH_MAX) {
                return Err(TilePathError::WidthOutOfRange(w));
            }
            let prev = prev.strip_suffix(".p").ok_or(TilePathError::Malformed)?;
            let mut v: Vec<&str> = before.to_vec();
            v.push(prev);
            // w < 256 checked above.
            (v, w as u16)
        }
        _ => {
            let mut v: Vec<&str> = init.to_vec();
            v.push(last);
            (v, TILE_WIDTH_MAX)
        }
    };
    if index_elems.len() > 7 {
        return Err(TilePathError::IndexOverflow);
    }
    let (final_elem, leading) = index_elems.split_last().ok_or(TilePathError::Malformed)?;
    let mut n: u64 = 0;
    for (i, e) in leading.iter().enumerate() {
        let g = parse_group(e.strip_prefix('x').ok_or(TilePathError::BadIndexElement)?)?;
        if i == 0 && g == 0 {
            return Err(TilePathError::NonCanonicalIndex);
        }
        n = n
            .checked_mul(1000)
            .and_then(|n| n.checked_add(g))
            .ok_or(TilePathError::IndexOverflow)?;
    }
    let g = parse_group(final_elem)?;
    n = n
        .checked_mul(1000)
        .and_then(|n| n.checked_add(g))
        .ok_or(TilePathError::IndexOverflow)?;
    Ok((n, width))
}

/// Parses a tile or entry bundle path relative to the log prefix
/// (`tile/...`, no leading slash). Strict: canonical encodings only.
pub fn parse_tile_path(path: &str) -> Result<TilePath, TilePathError> {
    let rest = path
        .strip_prefix("tile/")
        .ok_or(TilePathError::NoTilePrefix)?;
    let elems: Vec<&str> = rest.split('/').collect();
    if elems.len() > 10 || elems.iter().any(|e| e.is_empty()) {
        return Err(TilePathError::Malformed);
    }
    let (first, tail) = elems.split_first().ok_or(TilePathError::Malformed)?;
    if *first == "entries" {
        let (index, width) = parse_index_width(tail)?;
        return Ok(TilePath::Entries(BundleId { index, width }));
    }
    let level = parse_decimal_u64(first).map_err(|_| TilePathError::BadLevel)?;
    if level > u64::from(TILE_LEVEL_MAX) {
        return Err(TilePathError::LevelOutOfRange(level));
    }
    let (index, width) = parse_index_width(tail)?;
    Ok(TilePath::Hash(TileId {
        level: level as u8,
        index,
        width,
    }))
}

/// `size >> (8 * level)`, 0 once the shift reaches 64 bits.
fn hashes_at_tile_level(size: u64, level: u32) -> u64 {
    size.checked_shr(u32::from(TILE_HEIGHT) * level)
        .unwrap_or(0)
}

/// The partial tiles (width < 256) a tree of `size` has, lowest level first:
/// at level *l* the tile of width `floor(size / 256^l) mod 256`, if non-zero
/// (c2sp tlog-tiles "Partial Tiles").
pub fn partial_tiles_for_size(size: TreeSize) -> Vec<TileId> {
    let mut out = Vec::new();
    for level in 0..=u32::from(TILE_LEVEL_MAX) {
        let n = hashes_at_tile_level(size.get(), level);
        if n == 0 {
            break;
        }
        let w = (n % 256) as u16;
        if w > 0 {
            out.push(TileId {
                level: level as u8,
                index: n / 256,
                width: w,
            });
        }
    }
    out
}

/// Every hash tile (full and partial) of a tree of `size`, ordered by level
/// then index. Allocates O(size / 256) entries: meant for tests and small
/// tools, not for huge trees.
pub fn tiles_for_size(size: TreeSize) -> Vec<TileId> {
    let mut out = Vec::new();
    for level in 0..=u32::from(TILE_LEVEL_MAX) {
        let n = hashes_at_tile_level(size.get(), level);
        if n == 0 {
            break;
        }
        for index in 0..n / 256 {
            out.push(TileId {
                level: level as u8,
                index,
                width: TILE_WIDTH_MAX,
            });
        }
        let w = (n % 256) as u16;
        if w > 0 {
            out.push(TileId {
                level: level as u8,
                index: n / 256,
                width: w,
            });
        }
    }
    out
}

/// Every entry bundle (full and partial) of a tree of `size`. Allocates
/// O(size / 256) entries.
pub fn bundles_for_size(size: TreeSize) -> Vec<BundleId> {
    let n = size.get();
    let mut out: Vec<BundleId> = (0..n / 256)
        .map(|index| BundleId {
            index,
            width: TILE_WIDTH_MAX,
        })
        .collect();
    let w = (n % 256) as u16;
    if w > 0 {
        out.push(BundleId {
            index: n / 256,
            width: w,
        });
    }
    out
}

/// Errors encoding or parsing an entry bundle.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BundleError {
    /// An entry is longer than 65535 bytes.
    #[error("entry {index} is {len} bytes, more than {ENTRY_BYTES_MAX}")]
    EntryTooLarge {
        /// Position in the bundle.
        index: usize,
        /// Entry length.
        len: usize,
    },
    /// More than 256 entries.
    #[error("bundle has more than {BUNDLE_ENTRIES_MAX} entries")]
    TooManyEntries,
    /// Bundles are never empty.
    #[error("empty bundle")]
    Empty,
    /// The data ends inside a length prefix or an entry.
    #[error("bundle truncated at byte {offset}")]
    Truncated {
        /// Offset of the incomplete record.
        offset: usize,
    },
    /// The bundle does not have the expected number of entries.
    #[error("bundle has {got} entries, want {want}")]
    WrongCount {
        /// Entries found.
        got: usize,
        /// Entries expected.
        want: usize,
    },
}

/// Encodes an entry bundle: each entry as a big-endian uint16 length followed
/// by its bytes (c2sp tlog-tiles "Log entries").
pub fn encode_bundle<'a>(
    entries: impl IntoIterator<Item = &'a [u8]>,
) -> Result<Vec<u8>, BundleError> {
    let mut out = Vec::new();
    let mut count = 0usize;
    for (index, e) in entries.into_iter().enumerate() {
        if index >= BUNDLE_ENTRIES_MAX {
            return Err(BundleError::TooManyEntries);
        }
        let len = u16::try_from(e.len()).map_err(|_| BundleError::EntryTooLarge {
            index,
            len: e.len(),
        })?;
        // c2sp tlog-tiles "Log entries": uint16 big-endian length prefix.
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(e);
        count += 1;
    }
    if count == 0 {
        return Err(BundleError::Empty);
    }
    Ok(out)
}

/// Parses an entry bundle into its entries (1..=256 of them).
pub fn parse_bundle(bytes: &[u8]) -> Result<Vec<&[u8]>, BundleError> {
    if bytes.is_empty() {
        return Err(BundleError::Empty);
    }
    let mut out = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        if out.len() >= BUNDLE_ENTRIES_MAX {
            return Err(BundleError::TooManyEntries);
        }
        let offset = bytes.len() - rest.len();
        let (len, tail) = rest
            .split_first_chunk::<2>()
            .ok_or(BundleError::Truncated { offset })?;
        let len = usize::from(u16::from_be_bytes(*len));
        if tail.len() < len {
            return Err(BundleError::Truncated { offset });
        }
        let (entry, tail) = tail.split_at(len);
        out.push(entry);
        rest = tail;
    }
    Ok(out)
}

/// Parses a bundle and checks it has exactly `id.width()` entries.
pub fn parse_bundle_for(id: BundleId, bytes: &[u8]) -> Result<Vec<&[u8]>, BundleError> {
    let v = parse_bundle(bytes)?;
    let want = usize::from(id.width);
    if v.len() != want {
        return Err(BundleError::WrongCount { got: v.len(), want });
    }
    Ok(v)
}

/// Source of hash tiles.
pub trait TileReader {
    /// Storage error.
    type Error;
    /// Returns the tile's data (`id.width() * 32` bytes). A reader may serve a
    /// partial tile from the full tile's prefix if the partial one is gone.
    fn read_tile(&self, id: TileId) -> Result<Vec<u8>, Self::Error>;
}

impl<T: TileReader + ?Sized> TileReader for &T {
    type Error = T::Error;
    fn read_tile(&self, id: TileId) -> Result<Vec<u8>, Self::Error> {
        (**self).read_tile(id)
    }
}

/// Errors reading or verifying tiles.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TileError<E> {
    /// The tile reader failed.
    #[error("tile reader: {0}")]
    Reader(E),
    /// A tile had the wrong number of bytes.
    #[error("tile {tile} is {got} bytes, want {want}")]
    TileLength {
        /// The tile.
        tile: TileId,
        /// Bytes returned.
        got: usize,
        /// Bytes expected.
        want: usize,
    },
    /// The partial tiles do not hash to the trusted root.
    #[error("tiles do not match the tree root")]
    RootMismatch,
    /// A full tile does not hash to the entry for it in the tile above.
    #[error("tile {0} does not match its parent tile")]
    TileHashMismatch(TileId),
    /// A requested node is not a complete subtree of the tree.
    #[error("node level {level} index {index} is outside a tree of size {size}")]
    NodeOutOfRange {
        /// Node level.
        level: u8,
        /// Node index.
        index: u64,
        /// Tree size.
        size: u64,
    },
}

fn split_hashes<E>(tile: TileId, data: &[u8]) -> Result<Vec<Hash>, TileError<E>> {
    if data.len() != tile.byte_len() {
        return Err(TileError::TileLength {
            tile,
            got: data.len(),
            want: tile.byte_len(),
        });
    }
    Ok(data
        .chunks_exact(HASH_BYTES)
        .filter_map(|c| Hash::from_slice(c).ok())
        .collect())
}

/// Hash of a complete subtree given its `2^k` leaves (at some level).
fn perfect_root(hashes: &[Hash]) -> Option<Hash> {
    let mut row: Vec<Hash> = hashes.to_vec();
    while row.len() > 1 {
        row = row
            .chunks(2)
            .map(|p| match p {
                [l, r] => node_hash(l, r),
                [l] => *l,
                _ => empty_root(),
            })
            .collect();
    }
    row.first().copied()
}

/// A binary counter of complete subtrees: the compact range of a sequence of
/// hashes, ordered left (largest) to right.
#[derive(Clone, Debug, Default)]
struct Stack(Vec<(u8, Hash)>);

impl Stack {
    fn push(&mut self, mut h: Hash) {
        let mut height = 0u8;
        while let Some(&(top_h, top)) = self.0.last() {
            if top_h != height {
                break;
            }
            self.0.pop();
            h = node_hash(&top, &h);
            height = height.saturating_add(1);
        }
        self.0.push((height, h));
    }
}

#[derive(Clone, Debug, Default)]
struct EdgeLevel {
    /// Hashes of the partial tile at this level (fewer than 256).
    hashes: Vec<Hash>,
    /// Compact range over `hashes`.
    stack: Stack,
}

/// Incremental tile builder: the right edge of a tiled tree (at most 255
/// hashes per tile level). Appending is O(1) amortized hashing per leaf.
#[derive(Clone, Debug, Default)]
pub struct TileEdge {
    size: u64,
    levels: Vec<EdgeLevel>,
}

impl TileEdge {
    /// The edge of the empty tree.
    pub fn new() -> Self {
        TileEdge::default()
    }

    /// Rebuilds the edge of a tree of `size` from its partial tiles (the
    /// rightmost tile at each level); reads nothing else. The result is not
    /// checked against any root: use [`TileEdge::from_reader_checked`] when
    /// the tiles are not trusted.
    pub fn from_reader<R: TileReader>(size: TreeSize, r: &R) -> Result<Self, TileError<R::Error>> {
        let mut edge = TileEdge {
            size: size.get(),
            levels: Vec::new(),
        };
        let mut top = 0usize;
        for level in 0..=u32::from(TILE_LEVEL_MAX) {
            if hashes_at_tile_level(size.get(), level) > 0 {
                top = level as usize + 1;
            }
        }
        edge.levels.resize_with(top, EdgeLevel::default);
        for id in partial_tiles_for_size(size) {
            let data = r.read_tile(id).map_err(TileError::Reader)?;
            let hashes = split_hashes(id, &data)?;
            if let Some(lv) = edge.levels.get_mut(usize::from(id.level)) {
                for h in hashes {
                    lv.stack.push(h);
                    lv.hashes.push(h);
                }
            }
        }
        Ok(edge)
    }

    /// Like [`TileEdge::from_reader`], then checks the rebuilt edge hashes to
    /// `root`.
    pub fn from_reader_checked<R: TileReader>(
        size: TreeSize,
        root: &Hash,
        r: &R,
    ) -> Result<Self, TileError<R::Error>> {
        let e = TileEdge::from_reader(size, r)?;
        if e.root() != *root {
            return Err(TileError::RootMismatch);
        }
        Ok(e)
    }

    /// Current tree size.
    pub fn size(&self) -> TreeSize {
        TreeSize::new(self.size)
    }

    /// Appends a leaf hash. Each tile (at any level) that becomes full is
    /// pushed to `full_tiles_out` with its 8192 bytes. At the (unreachable in
    /// practice) size of `u64::MAX` leaves the call does nothing.
    pub fn append(&mut self, leaf: Hash, full_tiles_out: &mut Vec<(TileId, Vec<u8>)>) {
        let Some(new_size) = self.size.checked_add(1) else {
            return;
        };
        self.size = new_size;
        let mut carry = leaf;
        let mut level = 0usize;
        loop {
            if self.levels.len() <= level {
                self.levels.push(EdgeLevel::default());
            }
            let Some(lv) = self.levels.get_mut(level) else {
                return;
            };
            lv.hashes.push(carry);
            lv.stack.push(carry);
            if lv.hashes.len() < usize::from(TILE_WIDTH_MAX) {
                return;
            }
            // The tile is full: emit it and carry its hash one tile level up.
            let mut data = Vec::with_capacity(TILE_BYTES_MAX);
            for h in &lv.hashes {
                data.extend_from_slice(h.as_bytes());
            }
            let full_tiles = hashes_at_tile_level(new_size, level as u32 + 1);
            let id = TileId {
                level: level as u8,
                index: full_tiles.saturating_sub(1),
                width: TILE_WIDTH_MAX,
            };
            full_tiles_out.push((id, data));
            let Some(&(_, tile_root)) = lv.stack.0.first() else {
                return;
            };
            lv.hashes.clear();
            lv.stack.0.clear();
            carry = tile_root;
            level += 1;
        }
    }

    /// MTH of the whole tree (`empty_root()` for size 0).
    pub fn root(&self) -> Hash {
        // Complete subtrees left to right: higher tile levels first, each
        // level's compact range largest first; MTH is their right fold.
        let mut all = self
            .levels
            .iter()
            .rev()
            .flat_map(|lv| lv.stack.0.iter().map(|&(_, h)| h))
            .rev();
        let Some(mut acc) = all.next() else {
            return empty_root();
        };
        for left in all {
            acc = node_hash(&left, &acc);
        }
        acc
    }

    /// The partial tiles (width < 256) of the current size with their data,
    /// lowest level first, as c2sp tlog-tiles requires them to be served.
    pub fn partial_tiles(&self) -> Vec<(TileId, Vec<u8>)> {
        let mut out = Vec::new();
        for (level, lv) in self.levels.iter().enumerate() {
            if lv.hashes.is_empty() {
                continue;
            }
            let id = TileId {
                level: level as u8,
                index: hashes_at_tile_level(self.size, level as u32 + 1),
                width: lv.hashes.len() as u16,
            };
            let mut data = Vec::with_capacity(id.byte_len());
            for h in &lv.hashes {
                data.extend_from_slice(h.as_bytes());
            }
            out.push((id, data));
        }
        out
    }
}

/// A [`HashReader`] over tiles (cf. Go's `tlog.TileHashReader`): maps node
/// ids to tiles and recomputes the in-tile levels.
///
/// In verified mode (for clients of untrusted servers) every call reads the
/// partial tiles of the tree, checks they hash to the trusted root, and checks
/// every full tile it uses against its parent tile up to those partial tiles,
/// before returning any hash. The unverified mode is for a server reading its
/// own tiles.
#[derive(Clone, Debug)]
pub struct TileHashReader<R> {
    size: u64,
    root: Option<Hash>,
    reader: R,
}

impl<R: TileReader> TileHashReader<R> {
    /// A reader that verifies all tiles against `root` for the tree of `size`.
    pub fn verified(size: TreeSize, root: Hash, reader: R) -> Self {
        TileHashReader {
            size: size.get(),
            root: Some(root),
            reader,
        }
    }

    /// A reader that trusts the tiles (server side, own storage).
    pub fn unverified(size: TreeSize, reader: R) -> Self {
        TileHashReader {
            size: size.get(),
            root: None,
            reader,
        }
    }

    /// The tree size this reader serves.
    pub fn size(&self) -> TreeSize {
        TreeSize::new(self.size)
    }

    /// Returns the wrapped tile reader.
    pub fn into_inner(self) -> R {
        self.reader
    }

    /// The tile at `level` and `index` as it exists in the tree of this size.
    fn tile_at(&self, level: u8, index: u64) -> Option<TileId> {
        let n = hashes_at_tile_level(self.size, u32::from(level));
        let start = index.checked_mul(256)?;
        let w = n.checked_sub(start)?.min(256);
        if w == 0 {
            return None;
        }
        Some(TileId {
            level,
            index,
            width: w as u16,
        })
    }
}

impl<R: TileReader> HashReader for TileHashReader<R> {
    type Error = TileError<R::Error>;

    fn read_hashes(&self, nodes: &[NodeId]) -> Result<Vec<Hash>, Self::Error> {
        // Where each node's hashes live: (tile, first position, count).
        let mut plan = Vec::with_capacity(nodes.len());
        let mut tiles: BTreeMap<TileId, Vec<Hash>> = BTreeMap::new();
        for n in nodes {
            let out_of_range = || TileError::NodeOutOfRange {
                level: n.level(),
                index: n.index(),
                size: self.size,
            };
            match n.leaf_range() {
                Some((_, end)) if end <= self.size => {}
                _ => return Err(out_of_range()),
            }
            let tile_level = n.level() / TILE_HEIGHT;
            let r = u32::from(n.level() % TILE_HEIGHT);
            let first = n.index().checked_shl(r).ok_or_else(out_of_range)?;
            let tile = self
                .tile_at(tile_level, first / 256)
                .ok_or_else(out_of_range)?;
            plan.push((tile, (first % 256) as usize, 1usize << r));
            tiles.insert(tile, Vec::new());
        }

        if self.root.is_some() {
            // Everything needed to anchor the tiles in the root: all partial
            // tiles, plus the chain of parents of every full tile.
            for t in partial_tiles_for_size(TreeSize::new(self.size)) {
                tiles.insert(t, Vec::new());
            }
            let mut pending: Vec<TileId> = tiles.keys().copied().filter(|t| t.is_full()).collect();
            while let Some(t) = pending.pop() {
                let Some(parent) = self.tile_at(t.level.saturating_add(1), t.index / 256) else {
                    continue;
                };
                if t.level >= TILE_LEVEL_MAX {
                    continue;
                }
                if tiles.insert(parent, Vec::new()).is_none() && parent.is_full() {
                    pending.push(parent);
                }
            }
        }

        for (id, hashes) in tiles.iter_mut() {
            let data = self.reader.read_tile(*id).map_err(TileError::Reader)?;
            *hashes = split_hashes(*id, &data)?;
        }

        if let Some(root) = self.root {
            // Partial tiles must hash to the root (same fold as TileEdge).
            let mut edge = TileEdge {
                size: self.size,
                levels: Vec::new(),
            };
            for (id, hashes) in tiles.iter().filter(|(t, _)| !t.is_full()) {
                let l = usize::from(id.level);
                if edge.levels.len() <= l {
                    edge.levels.resize_with(l + 1, EdgeLevel::default);
                }
                if let Some(lv) = edge.levels.get_mut(l) {
                    for h in hashes {
                        lv.stack.push(*h);
                    }
                }
            }
            if edge.root() != root {
                return Err(TileError::RootMismatch);
            }
            // Every full tile must match its entry in the parent tile.
            for (id, hashes) in tiles.iter().filter(|(t, _)| t.is_full()) {
                let parent = self
                    .tile_at(id.level.saturating_add(1), id.index / 256)
                    .and_then(|p| tiles.get(&p));
                let want = parent.and_then(|p| p.get((id.index % 256) as usize));
                if want.is_none() || perfect_root(hashes).as_ref() != want {
                    return Err(TileError::TileHashMismatch(*id));
                }
            }
        }

        let mut out = Vec::with_capacity(plan.len());
        for (tile, pos, count) in plan {
            let slice = tiles
                .get(&tile)
                .and_then(|h| h.get(pos..pos + count))
                .ok_or(TileError::TileLength {
                    tile,
                    got: 0,
                    want: tile.byte_len(),
                })?;
            out.push(perfect_root(slice).unwrap_or_else(empty_root));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )]
    use super::*;

    #[test]
    fn paths() {
        let t = TileId::new(0, 1_234_067, 256).unwrap();
        assert_eq!(t.path(), "tile/0/x001/x234/067");
        assert_eq!(
            TileId::new(0, 1234, 5).unwrap().path(),
            "tile/0/x001/234.p/5"
        );
        assert_eq!(
            BundleId::new(1234, 5).unwrap().path(),
            "tile/entries/x001/234.p/5"
        );
        assert_eq!(TileId::new(3, 0, 256).unwrap().path(), "tile/3/000");
        let max = TileId::new(63, u64::MAX, 255).unwrap();
        assert_eq!(parse_tile_path(&max.path()), Ok(TilePath::Hash(max)));
        for p in [
            "tile/0/x001/x234/067",
            "tile/0/x001/234.p/5",
            "tile/entries/x001/234.p/5",
            "tile/entries/000",
            "tile/63/999.p/255",
        ] {
            assert_eq!(parse_tile_path(p).unwrap().path(), p);
        }
    }
}

//! RFC 9162 §2.1 Merkle tree hashes, inclusion and consistency proofs, and the
//! subtree inclusion/consistency proofs of draft-ietf-plants-merkle-tree-certs
//! (subtrees are half-open leaf ranges `[start, end)`).
//!
//! Proof *generation* reads stored node hashes through the [`HashReader`]
//! trait, in one batched call per proof, so it works over any storage (memory,
//! tiles, a database). Proof *verification* is pure arithmetic over the given
//! hashes. This module deliberately does not store anything except in
//! [`MemoryTree`] (a test/tooling helper), and does not know about tiles or
//! checkpoints.

#[allow(unused_imports)]
use crate::prelude::*;
use core::convert::Infallible;

use crate::hash::{empty_root, node_hash, Hash, LeafIndex, TreeSize};

/// Maximum number of hashes in any proof accepted over the wire
/// (tlog-witness and tlog-proof both cap consistency/inclusion proofs at 63).
pub const PROOF_HASHES_MAX: usize = 63;

/// A complete (perfect) subtree of `2^level` leaves: the leaves
/// `[index << level, (index + 1) << level)`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct NodeId {
    level: u8,
    index: u64,
}

impl NodeId {
    /// The node at `level` (0 = leaves) and `index` within that level.
    pub const fn new(level: u8, index: u64) -> Self {
        NodeId { level, index }
    }
    /// Height above the leaves (0 = a leaf hash).
    pub fn level(&self) -> u8 {
        self.level
    }
    /// Index within the level.
    pub fn index(&self) -> u64 {
        self.index
    }
    /// The leaf range `[start, end)` this node covers, if it fits in `u64`.
    pub fn leaf_range(&self) -> Option<(u64, u64)> {
        if self.level >= 64 {
            return None;
        }
        let start = u128::from(self.index) << self.level;
        let end = (u128::from(self.index) + 1) << self.level;
        let end = u64::try_from(end).ok()?;
        let start = u64::try_from(start).ok()?;
        Some((start, end))
    }
}

/// Source of stored complete-subtree hashes.
pub trait HashReader {
    /// Storage error.
    type Error;
    /// Returns the hash of every node in `nodes`, in the same order. Must
    /// return exactly `nodes.len()` hashes or an error.
    fn read_hashes(&self, nodes: &[NodeId]) -> Result<Vec<Hash>, Self::Error>;
}

impl<T: HashReader + ?Sized> HashReader for &T {
    type Error = T::Error;
    fn read_hashes(&self, nodes: &[NodeId]) -> Result<Vec<Hash>, Self::Error> {
        (**self).read_hashes(nodes)
    }
}

/// Proof generation and verification failures. `E` is the [`HashReader`]
/// error for generation; verification uses `ProofError<Infallible>`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError<E = Infallible> {
    /// The leaf index is not inside the tree (or subtree).
    #[error("leaf index {index} out of range for size {size}")]
    IndexOutOfRange {
        /// Requested index.
        index: u64,
        /// Tree (or subtree) size.
        size: u64,
    },
    /// The old tree is larger than the new tree.
    #[error("old size {old} is greater than new size {new}")]
    SizeOrder {
        /// Old size.
        old: u64,
        /// New size.
        new: u64,
    },
    /// A consistency proof from the empty tree was requested; it is meaningless.
    #[error("consistency proof from the empty tree is meaningless")]
    EmptyOldTree,
    /// `[start, end)` is not a valid subtree.
    #[error("[{start}, {end}) is not a valid subtree")]
    InvalidSubtree {
        /// Subtree start.
        start: u64,
        /// Subtree end (exclusive).
        end: u64,
    },
    /// The subtree extends past the end of the tree.
    #[error("subtree end {end} is beyond tree size {size}")]
    SubtreeBeyondTree {
        /// Subtree end (exclusive).
        end: u64,
        /// Tree size.
        size: u64,
    },
    /// The proof has the wrong number of hashes.
    #[error("proof has {got} hashes, want {want}")]
    WrongProofLength {
        /// Hashes supplied.
        got: usize,
        /// Hashes required.
        want: usize,
    },
    /// The proof does not reproduce the old tree (or subtree) root.
    #[error("proof does not match the old (sub)tree root")]
    OldRootMismatch,
    /// The computed root does not match the expected root.
    #[error("computed root does not match the expected root")]
    RootMismatch,
    /// The hash reader returned the wrong number of hashes.
    #[error("hash reader returned {got} hashes for {want} nodes")]
    ReaderCount {
        /// Hashes returned.
        got: usize,
        /// Nodes requested.
        want: usize,
    },
    /// The hash reader failed.
    #[error("hash reader: {0}")]
    Reader(E),
}

impl ProofError<Infallible> {
    /// Converts a verification error into a generation error of any reader type.
    pub fn widen<E>(self) -> ProofError<E> {
        match self {
            ProofError::IndexOutOfRange { index, size } => {
                ProofError::IndexOutOfRange { index, size }
            }
            ProofError::SizeOrder { old, new } => ProofError::SizeOrder { old, new },
            ProofError::EmptyOldTree => ProofError::EmptyOldTree,
            ProofError::InvalidSubtree { start, end } => ProofError::InvalidSubtree { start, end },
            ProofError::SubtreeBeyondTree { end, size } => {
                ProofError::SubtreeBeyondTree { end, size }
            }
            ProofError::WrongProofLength { got, want } => {
                ProofError::WrongProofLength { got, want }
            }
            ProofError::OldRootMismatch => ProofError::OldRootMismatch,
            ProofError::RootMismatch => ProofError::RootMismatch,
            ProofError::ReaderCount { got, want } => ProofError::ReaderCount { got, want },
            ProofError::Reader(never) => match never {},
        }
    }
}

// ---------------------------------------------------------------------------
// Tree shape arithmetic.
// ---------------------------------------------------------------------------

/// Number of significant bits of `x` (0 for 0).
fn bit_len(x: u64) -> u32 {
    64 - x.leading_zeros()
}

/// Appends the canonical decomposition of the leaf range `[start, end)` into
/// maximal aligned complete subtrees, left to right. For every range that is a
/// node of an RFC 9162 tree (a complete subtree, or a right-edge range) the
/// subtrees have strictly decreasing sizes and the range's MTH is their
/// right fold (RFC 9162 §2.1.1 recursion with k the largest power of two < n).
fn range_nodes(mut start: u64, end: u64, out: &mut Vec<NodeId>) {
    while start < end {
        let remaining = end - start;
        // Largest power of two <= remaining.
        let mut level = bit_len(remaining) - 1;
        // Alignment of start limits the size of the subtree starting there.
        if start != 0 {
            level = level.min(start.trailing_zeros());
        }
        // level < 64 because remaining >= 1 and bit_len <= 64.
        let level8 = level as u8;
        out.push(NodeId::new(level8, start >> level));
        start += 1u64 << level;
    }
}

/// The audit path (RFC 9162 §2.1.3.1 PATH) of the node `(level, index)` in the
/// tree of `size` leaves, as leaf ranges bottom-up. Works on the "virtual"
/// tree whose leaves are the level-`level` nodes (the last one possibly
/// incomplete), which has the same shape as the real tree above that level.
/// Requires `index << level < size`.
fn path_ranges(level: u8, index: u64, size: u64) -> Vec<(u64, u64)> {
    let scale = u32::from(level);
    // Number of (possibly incomplete) nodes at this level.
    let vsize = ((size - 1) >> scale) + 1;
    let to_leaves = |a: u64, b: u64| -> (u64, u64) {
        let lo = (u128::from(a) << scale).min(u128::from(size));
        let hi = (u128::from(b) << scale).min(u128::from(size));
        // Both are <= size, so they fit in u64.
        (lo as u64, hi as u64)
    };
    let mut out = Vec::new();
    let (mut lo, mut hi) = (0u64, vsize);
    while hi - lo > 1 {
        let n = hi - lo;
        let k = 1u64 << (bit_len(n - 1) - 1); // largest power of two < n
        if index < lo + k {
            out.push(to_leaves(lo + k, hi));
            hi = lo + k;
        } else {
            out.push(to_leaves(lo, lo + k));
            lo += k;
        }
    }
    out.reverse();
    out
}

/// Whether `[start, end)` is a valid non-empty subtree: `start < end` and
/// `start` is a multiple of the smallest power of two >= `end - start`
/// (draft-ietf-plants-merkle-tree-certs §4.1).
pub fn is_valid_subtree(start: u64, end: u64) -> bool {
    if start >= end {
        return false;
    }
    if start == 0 {
        return true;
    }
    let len = end - start;
    if len > 1u64 << 63 {
        return false;
    }
    let ceil = len.next_power_of_two();
    start & (ceil - 1) == 0
}

fn check_subtree<E>(start: u64, end: u64) -> Result<(), ProofError<E>> {
    if is_valid_subtree(start, end) {
        Ok(())
    } else {
        Err(ProofError::InvalidSubtree { start, end })
    }
}

/// Reads the hashes of all `ranges` in one batch and folds each range into its
/// Merkle Tree Hash.
fn hash_ranges<R: HashReader>(
    ranges: &[(u64, u64)],
    r: &R,
) -> Result<Vec<Hash>, ProofError<R::Error>> {
    let mut nodes = Vec::new();
    let mut counts = Vec::with_capacity(ranges.len());
    for &(a, b) in ranges {
        let before = nodes.len();
        range_nodes(a, b, &mut nodes);
        counts.push(nodes.len() - before);
    }
    if nodes.is_empty() {
        return Ok(Vec::new());
    }
    let hashes = r.read_hashes(&nodes).map_err(ProofError::Reader)?;
    if hashes.len() != nodes.len() {
        return Err(ProofError::ReaderCount {
            got: hashes.len(),
            want: nodes.len(),
        });
    }
    let mut out = Vec::with_capacity(ranges.len());
    let mut rest: &[Hash] = &hashes;
    for n in counts {
        let (these, tail) = rest.split_at(n.min(rest.len()));
        rest = tail;
        let mut it = these.iter().rev();
        let Some(mut acc) = it.next().copied() else {
            return Err(ProofError::ReaderCount {
                got: hashes.len(),
                want: nodes.len(),
            });
        };
        for left in it {
            acc = node_hash(left, &acc);
        }
        out.push(acc);
    }
    Ok(out)
}

// ---------------------------------------------------------------------------
// Generation.
// ---------------------------------------------------------------------------

/// MTH of the first `size` leaves (RFC 9162 §2.1.1); `empty_root()` for 0.
pub fn tree_hash<R: HashReader>(size: TreeSize, r: &R) -> Result<Hash, ProofError<R::Error>> {
    if size.get() == 0 {
        return Ok(empty_root());
    }
    let mut v = hash_ranges(&[(0, size.get())], r)?;
    v.pop().ok_or(ProofError::ReaderCount { got: 0, want: 1 })
}

/// MTH of the subtree `[start, end)`, which must be a valid subtree.
pub fn subtree_hash<R: HashReader>(
    start: u64,
    end: u64,
    r: &R,
) -> Result<Hash, ProofError<R::Error>> {
    check_subtree(start, end)?;
    let mut v = hash_ranges(&[(start, end)], r)?;
    v.pop().ok_or(ProofError::ReaderCount { got: 0, want: 1 })
}

/// Inclusion proof (RFC 9162 §2.1.3.1) for leaf `index` in the tree of `size`.
pub fn prove_inclusion<R: HashReader>(
    index: LeafIndex,
    size: TreeSize,
    r: &R,
) -> Result<Vec<Hash>, ProofError<R::Error>> {
    let (index, size) = (index.get(), size.get());
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    hash_ranges(&path_ranges(0, index, size), r)
}

/// Consistency proof (RFC 9162 §2.1.4.1) from `old` to `new`.
/// `old == new` yields an empty proof; `old == 0` is [`ProofError::EmptyOldTree`].
pub fn prove_consistency<R: HashReader>(
    old: TreeSize,
    new: TreeSize,
    r: &R,
) -> Result<Vec<Hash>, ProofError<R::Error>> {
    let (old, new) = (old.get(), new.get());
    if old > new {
        return Err(ProofError::SizeOrder { old, new });
    }
    if old == 0 {
        return Err(ProofError::EmptyOldTree);
    }
    hash_ranges(&subtree_consistency_ranges(0, old, new), r)
}

/// Subtree inclusion proof: leaf `index` in the subtree `[start, end)`.
pub fn prove_subtree_inclusion<R: HashReader>(
    index: LeafIndex,
    start: u64,
    end: u64,
    r: &R,
) -> Result<Vec<Hash>, ProofError<R::Error>> {
    check_subtree(start, end)?;
    let index = index.get();
    if index < start || index >= end {
        return Err(ProofError::IndexOutOfRange { index, size: end });
    }
    // The subtree has the shape of a tree of end-start leaves shifted right by
    // start (start is aligned to a power of two >= end-start).
    let ranges: Vec<(u64, u64)> = path_ranges(0, index - start, end - start)
        .into_iter()
        .map(|(a, b)| (a + start, b + start))
        .collect();
    hash_ranges(&ranges, r)
}

/// Subtree consistency proof: the subtree `[start, end)` into the tree of
/// `size` leaves. An empty subtree (`start == end`) has an empty proof.
pub fn prove_subtree_consistency<R: HashReader>(
    start: u64,
    end: u64,
    size: TreeSize,
    r: &R,
) -> Result<Vec<Hash>, ProofError<R::Error>> {
    let size = size.get();
    if start == end {
        if end > size {
            return Err(ProofError::SubtreeBeyondTree { end, size });
        }
        return Ok(Vec::new());
    }
    check_subtree(start, end)?;
    if end > size {
        return Err(ProofError::SubtreeBeyondTree { end, size });
    }
    hash_ranges(&subtree_consistency_ranges(start, end, size), r)
}

/// Leaf ranges whose hashes form the subtree consistency proof of the valid
/// subtree `[start, end)` (`end <= size`) into the tree of `size` leaves.
fn subtree_consistency_ranges(start: u64, end: u64, size: u64) -> Vec<(u64, u64)> {
    if start == 0 && end == size {
        return Vec::new();
    }
    if end == size {
        // The subtree is a node on the right edge: prove its inclusion.
        let level = bit_len((end - 1) ^ start) as u8;
        return path_ranges(level, start >> level, size);
    }
    // The rightmost complete subtree inside [start, end), then its audit path.
    let shift = (end - start).trailing_zeros();
    let seed_start = end - (1u64 << shift);
    let mut out = Vec::new();
    if (end - start).count_ones() != 1 {
        out.push((seed_start, end));
    }
    out.extend(path_ranges(shift as u8, seed_start >> shift, size));
    out
}

// ---------------------------------------------------------------------------
// Verification.
// ---------------------------------------------------------------------------

fn chain_inner(mut seed: Hash, proof: &[Hash], index: u64) -> Hash {
    for (i, h) in proof.iter().enumerate() {
        let bit = index.checked_shr(i as u32).unwrap_or(0) & 1;
        seed = if bit == 0 {
            node_hash(&seed, h)
        } else {
            node_hash(h, &seed)
        };
    }
    seed
}

fn chain_border_right(mut seed: Hash, proof: &[Hash]) -> Hash {
    for h in proof {
        seed = node_hash(h, &seed);
    }
    seed
}

/// Recomputes the root of the tree of `size` from a leaf hash and its
/// inclusion proof (RFC 9162 §2.1.3.2).
pub fn root_from_inclusion(
    leaf: &Hash,
    index: LeafIndex,
    size: TreeSize,
    proof: &[Hash],
) -> Result<Hash, ProofError> {
    let (index, size) = (index.get(), size.get());
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    // Split point where the paths to `index` and `size - 1` diverge.
    let inner = bit_len(index ^ (size - 1));
    let border = (index >> inner).count_ones();
    let want = (inner + border) as usize;
    if proof.len() != want {
        return Err(ProofError::WrongProofLength {
            got: proof.len(),
            want,
        });
    }
    let (inner_p, border_p) = proof.split_at(inner as usize);
    let res = chain_inner(*leaf, inner_p, index);
    Ok(chain_border_right(res, border_p))
}

/// Verifies an inclusion proof (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(
    leaf: &Hash,
    index: LeafIndex,
    size: TreeSize,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    let got = root_from_inclusion(leaf, index, size, proof)?;
    if got == *root {
        Ok(())
    } else {
        Err(ProofError::RootMismatch)
    }
}

/// Verifies a consistency proof (RFC 9162 §2.1.4.2). Requires
/// `0 < old <= new`; for `old == new` the proof must be empty and the roots
/// equal.
pub fn verify_consistency(
    old: TreeSize,
    new: TreeSize,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), ProofError> {
    let (old, new) = (old.get(), new.get());
    if old > new {
        return Err(ProofError::SizeOrder { old, new });
    }
    if old == 0 {
        return Err(ProofError::EmptyOldTree);
    }
    let got = root_from_subtree_consistency(0, old, new, proof, old_root)?;
    if got == *new_root {
        Ok(())
    } else {
        Err(ProofError::RootMismatch)
    }
}

/// Verifies a subtree inclusion proof: `leaf` at `index` is in the valid
/// subtree `[start, end)` whose hash is `subtree_root`.
pub fn verify_subtree_inclusion(
    leaf: &Hash,
    index: LeafIndex,
    start: u64,
    end: u64,
    proof: &[Hash],
    subtree_root: &Hash,
) -> Result<(), ProofError> {
    check_subtree(start, end)?;
    let i = index.get();
    if i < start || i >= end {
        return Err(ProofError::IndexOutOfRange {
            index: i,
            size: end,
        });
    }
    let got = root_from_inclusion(
        leaf,
        LeafIndex::new(i - start),
        TreeSize::new(end - start),
        proof,
    )?;
    if got == *subtree_root {
        Ok(())
    } else {
        Err(ProofError::RootMismatch)
    }
}

/// Verifies a subtree consistency proof: the subtree `[start, end)` with hash
/// `subtree_root` is part of the tree of `size` leaves with hash `root`.
///
/// An empty subtree (`start == end <= size`) is consistent with every tree:
/// the proof must be empty and `subtree_root` must be the empty-tree hash;
/// `root` is not examined.
pub fn verify_subtree_consistency(
    start: u64,
    end: u64,
    size: TreeSize,
    subtree_root: &Hash,
    root: &Hash,
    proof: &[Hash],
) -> Result<(), ProofError> {
    let size = size.get();
    if start == end {
        if end > size {
            return Err(ProofError::SubtreeBeyondTree { end, size });
        }
        if !proof.is_empty() {
            return Err(ProofError::WrongProofLength {
                got: proof.len(),
                want: 0,
            });
        }
        if *subtree_root != empty_root() {
            return Err(ProofError::OldRootMismatch);
        }
        return Ok(());
    }
    check_subtree(start, end)?;
    if end > size {
        return Err(ProofError::SubtreeBeyondTree { end, size });
    }
    let got = root_from_subtree_consistency(start, end, size, proof, subtree_root)?;
    if got == *root {
        Ok(())
    } else {
        Err(ProofError::RootMismatch)
    }
}

/// Recomputes the root of the tree of `size` from the valid subtree
/// `[start, end)` (`end <= size`), its hash, and a subtree consistency proof,
/// checking along the way that the proof reproduces `sub_root`.
fn root_from_subtree_consistency(
    start: u64,
    end: u64,
    size: u64,
    proof: &[Hash],
    sub_root: &Hash,
) -> Result<Hash, ProofError> {
    if start == 0 && end == size {
        if !proof.is_empty() {
            return Err(ProofError::WrongProofLength {
                got: proof.len(),
                want: 0,
            });
        }
        return Ok(*sub_root);
    }
    if end == size {
        // The subtree is a right-edge node; the proof is its left siblings.
        let level = bit_len((end - 1) ^ start);
        let index = start.checked_shr(level).unwrap_or(0);
        let want = index.count_ones() as usize;
        if proof.len() != want {
            return Err(ProofError::WrongProofLength {
                got: proof.len(),
                want,
            });
        }
        return Ok(chain_border_right(*sub_root, proof));
    }

    // Level where the paths to end-1 and size-1 diverge.
    let fork = bit_len((end - 1) ^ (size - 1));
    // Height of the rightmost complete subtree inside [start, end).
    let shift = (end - start).trailing_zeros();
    // Height of the subtree itself.
    let height = bit_len((end - 1) ^ start);
    let full = (end - start).count_ones() == 1;
    let first = usize::from(!full);
    let above_fork = (end - 1).checked_shr(fork).unwrap_or(0).count_ones();
    let want = first + (fork - shift) as usize + above_fork as usize;
    if proof.len() != want {
        return Err(ProofError::WrongProofLength {
            got: proof.len(),
            want,
        });
    }
    let (seed, mut rest) = if full {
        (*sub_root, proof)
    } else {
        match proof.split_first() {
            Some((h, tail)) => (*h, tail),
            None => {
                return Err(ProofError::WrongProofLength { got: 0, want });
            }
        }
    };

    // Climb from the seed to the subtree root, computing both the subtree's
    // hash as of size `end` and the hash of the same node as of size `size`.
    let mut sub = seed;
    let mut grown = seed;
    for lvl in shift..height {
        let is_right = ((end - 1) >> lvl) & 1 == 1;
        if is_right {
            let Some((h, tail)) = rest.split_first() else {
                return Err(ProofError::WrongProofLength {
                    got: proof.len(),
                    want,
                });
            };
            sub = node_hash(h, &sub);
            grown = node_hash(h, &grown);
            rest = tail;
        } else if lvl < fork {
            let Some((h, tail)) = rest.split_first() else {
                return Err(ProofError::WrongProofLength {
                    got: proof.len(),
                    want,
                });
            };
            grown = node_hash(&grown, h);
            rest = tail;
        }
    }
    if sub != *sub_root {
        return Err(ProofError::OldRootMismatch);
    }
    // The remainder is the audit path of the grown node, viewed as a leaf of
    // the tree truncated at level `height`.
    let s_index = start.checked_shr(height).unwrap_or(0);
    let s_size = (size - 1).checked_shr(height).unwrap_or(0) + 1;
    root_from_inclusion(&grown, LeafIndex::new(s_index), TreeSize::new(s_size), rest)
}

// ---------------------------------------------------------------------------
// In-memory tree.
// ---------------------------------------------------------------------------

/// An in-memory Merkle tree of leaf hashes, storing every complete node.
/// Intended for tests, fsck and small tools (memory is ~2× the leaf hashes).
#[derive(Clone, Debug, Default)]
pub struct MemoryTree {
    /// `levels[l]` holds every complete node at level `l`, left to right.
    levels: Vec<Vec<Hash>>,
}

/// A [`MemoryTree`] was asked for a node it does not (yet) have.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("node at level {level} index {index} is not in the tree")]
pub struct MissingNode {
    /// Node level.
    pub level: u8,
    /// Node index.
    pub index: u64,
}

impl MemoryTree {
    /// An empty tree.
    pub fn new() -> Self {
        MemoryTree { levels: Vec::new() }
    }

    /// A tree of the given leaf hashes.
    pub fn from_leaves(leaves: impl IntoIterator<Item = Hash>) -> Self {
        let mut t = MemoryTree::new();
        for l in leaves {
            t.push(l);
        }
        t
    }

    /// Appends a leaf hash.
    pub fn push(&mut self, leaf: Hash) {
        let mut carry = leaf;
        let mut level = 0usize;
        loop {
            if self.levels.len() <= level {
                self.levels.push(Vec::new());
            }
            let Some(row) = self.levels.get_mut(level) else {
                return;
            };
            row.push(carry);
            if row.len() % 2 == 1 {
                return;
            }
            let (Some(r), Some(l)) = (
                row.last(),
                row.len().checked_sub(2).and_then(|i| row.get(i)),
            ) else {
                return;
            };
            carry = node_hash(l, r);
            level += 1;
        }
    }

    /// Number of leaves.
    pub fn size(&self) -> TreeSize {
        TreeSize::new(self.levels.first().map_or(0, |l| l.len() as u64))
    }

    /// The leaf hash at `index`.
    pub fn leaf(&self, index: LeafIndex) -> Option<Hash> {
        let i = usize::try_from(index.get()).ok()?;
        self.levels.first()?.get(i).copied()
    }

    /// MTH of the whole tree (`empty_root()` when empty).
    pub fn root(&self) -> Hash {
        self.root_at(self.size()).unwrap_or_else(empty_root)
    }

    /// MTH of the first `size` leaves, if `size <= self.size()`.
    pub fn root_at(&self, size: TreeSize) -> Option<Hash> {
        if size > self.size() {
            return None;
        }
        tree_hash(size, self).ok()
    }

    fn node(&self, id: NodeId) -> Option<Hash> {
        let i = usize::try_from(id.index).ok()?;
        self.levels.get(usize::from(id.level))?.get(i).copied()
    }
}

impl HashReader for MemoryTree {
    type Error = MissingNode;
    fn read_hashes(&self, nodes: &[NodeId]) -> Result<Vec<Hash>, MissingNode> {
        nodes
            .iter()
            .map(|&n| {
                self.node(n).ok_or(MissingNode {
                    level: n.level,
                    index: n.index,
                })
            })
            .collect()
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
    use crate::hash::leaf_hash;

    fn tree(n: u64) -> MemoryTree {
        MemoryTree::from_leaves((0..n).map(|i| leaf_hash(&i.to_be_bytes())))
    }

    /// Reference MTH straight from the RFC 9162 §2.1.1 recursion.
    fn mth(leaves: &[Hash]) -> Hash {
        match leaves.len() {
            0 => empty_root(),
            1 => leaves[0],
            n => {
                let k = 1usize << (usize::BITS - (n - 1).leading_zeros() - 1);
                node_hash(&mth(&leaves[..k]), &mth(&leaves[k..]))
            }
        }
    }

    #[test]
    fn roots_match_reference() {
        let t = tree(70);
        let leaves: Vec<Hash> = (0..70)
            .map(|i| t.leaf(LeafIndex::new(i)).unwrap())
            .collect();
        for n in 0..=70u64 {
            assert_eq!(
                t.root_at(TreeSize::new(n)).unwrap(),
                mth(&leaves[..n as usize]),
                "n={n}"
            );
        }
    }

    #[test]
    fn inclusion_and_consistency_round_trip() {
        let t = tree(40);
        for n in 1..=40u64 {
            let size = TreeSize::new(n);
            let root = t.root_at(size).unwrap();
            for i in 0..n {
                let p = prove_inclusion(LeafIndex::new(i), size, &t).unwrap();
                let leaf = t.leaf(LeafIndex::new(i)).unwrap();
                verify_inclusion(&leaf, LeafIndex::new(i), size, &p, &root).unwrap();
                let bad = t.leaf(LeafIndex::new((i + 1) % n)).unwrap();
                if n > 1 {
                    assert_eq!(
                        verify_inclusion(&bad, LeafIndex::new(i), size, &p, &root),
                        Err(ProofError::RootMismatch)
                    );
                }
            }
            for m in 1..=n {
                let old = TreeSize::new(m);
                let p = prove_consistency(old, size, &t).unwrap();
                verify_consistency(old, size, &t.root_at(old).unwrap(), &root, &p).unwrap();
            }
        }
    }

    #[test]
    fn subtree_round_trip() {
        let t = tree(37);
        let size = TreeSize::new(37);
        let root = t.root();
        for start in 0..37u64 {
            for end in start + 1..=37 {
                if !is_valid_subtree(start, end) {
                    assert!(prove_subtree_consistency(start, end, size, &t).is_err());
                    continue;
                }
                let sub = subtree_hash(start, end, &t).unwrap();
                let p = prove_subtree_consistency(start, end, size, &t).unwrap();
                verify_subtree_consistency(start, end, size, &sub, &root, &p)
                    .unwrap_or_else(|e| panic!("[{start},{end}) {e}"));
                for i in start..end {
                    let p = prove_subtree_inclusion(LeafIndex::new(i), start, end, &t).unwrap();
                    let leaf = t.leaf(LeafIndex::new(i)).unwrap();
                    verify_subtree_inclusion(&leaf, LeafIndex::new(i), start, end, &p, &sub)
                        .unwrap();
                }
            }
        }
    }
}

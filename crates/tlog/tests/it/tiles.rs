//! Tile tests: TileEdge against MemoryTree for many sizes (including some
//! above 65536), TileHashReader-based proofs (verified and unverified) equal
//! to MemoryTree's, the spec's 70,000 example, tile path and bundle
//! rejections, and tampered-tile detection.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::collections::HashMap;

use tlog::merkle::{prove_subtree_consistency, subtree_hash, verify_subtree_consistency};
use tlog::tile::{parse_bundle_for, partial_tiles_for_size};
use tlog::{
    bundles_for_size, encode_bundle, parse_bundle, parse_tile_path, prove_consistency,
    prove_inclusion, tiles_for_size, verify_consistency, verify_inclusion, BundleError, BundleId,
    Hash, LeafIndex, MemoryTree, TileEdge, TileError, TileHashReader, TileId, TilePath,
    TilePathError, TileReader, TreeSize,
};

/// Cheap deterministic "leaf hash" (not SHA-256 of anything; only shape matters).
fn cheap_leaf(i: u64) -> Hash {
    let mut b = [0u8; 32];
    b[..8].copy_from_slice(&i.to_le_bytes());
    b[31] = 0xa5;
    Hash::from_bytes(b)
}

/// A tile store filled from TileEdge output: full tiles as emitted, and the
/// partial tiles captured at chosen sizes.
#[derive(Default, Clone)]
struct Store {
    tiles: HashMap<TileId, Vec<u8>>,
}

impl TileReader for Store {
    type Error = String;
    fn read_tile(&self, id: TileId) -> Result<Vec<u8>, String> {
        self.tiles
            .get(&id)
            .cloned()
            .ok_or_else(|| format!("missing {}", id.path()))
    }
}

fn build(n: u64, snapshot_at: &[u64]) -> (TileEdge, MemoryTree, Store, Vec<(u64, Hash)>) {
    let mut edge = TileEdge::new();
    let mut mem = MemoryTree::new();
    let mut store = Store::default();
    let mut roots = Vec::new();
    let mut full = Vec::new();
    for i in 0..n {
        let l = cheap_leaf(i);
        edge.append(l, &mut full);
        mem.push(l);
        for (id, data) in full.drain(..) {
            assert!(id.is_full());
            assert_eq!(data.len(), 8192);
            store.tiles.insert(id, data);
        }
        if snapshot_at.contains(&(i + 1)) {
            for (id, data) in edge.partial_tiles() {
                store.tiles.insert(id, data);
            }
            roots.push((i + 1, edge.root()));
        }
    }
    (edge, mem, store, roots)
}

#[test]
fn edge_root_matches_memory_tree_small() {
    let mut edge = TileEdge::new();
    let mut mem = MemoryTree::new();
    let mut full = Vec::new();
    assert_eq!(edge.root(), tlog::empty_root());
    for i in 0..=600u64 {
        assert_eq!(edge.size(), mem.size());
        assert_eq!(edge.root(), mem.root(), "size {i}");
        // The tiles present for this size are exactly tiles_for_size.
        let mut have: Vec<TileId> = edge.partial_tiles().into_iter().map(|(t, _)| t).collect();
        have.extend(full.iter().map(|(t, _): &(TileId, Vec<u8>)| *t));
        have.sort();
        let mut want = tiles_for_size(TreeSize::new(i));
        want.sort();
        assert_eq!(have, want, "size {i}");
        let l = cheap_leaf(i);
        edge.append(l, &mut full);
        mem.push(l);
    }
}

#[test]
fn edge_root_matches_memory_tree_large() {
    let sizes = [65535u64, 65536, 65537, 65536 + 256, 70000, 131_072 + 257];
    let (_, mem, store, roots) = build(*sizes.last().unwrap(), &sizes);
    for (size, root) in &roots {
        assert_eq!(
            Some(*root),
            mem.root_at(TreeSize::new(*size)),
            "size {size}"
        );
        // Rebuilding from the stored partial tiles gives the same edge.
        let e = TileEdge::from_reader_checked(TreeSize::new(*size), root, &store).unwrap();
        assert_eq!(e.root(), *root);
    }
}

#[test]
fn spec_70000_example() {
    let tiles = tiles_for_size(TreeSize::new(70000));
    let count = |level: u8, full: bool| {
        tiles
            .iter()
            .filter(|t| t.level() == level && t.is_full() == full)
            .count()
    };
    assert_eq!(count(0, true), 273);
    assert_eq!(count(1, true), 1);
    assert_eq!(count(2, true), 0);
    let partial: Vec<(u8, u16)> = partial_tiles_for_size(TreeSize::new(70000))
        .iter()
        .map(|t| (t.level(), t.width()))
        .collect();
    assert_eq!(partial, vec![(0, 112), (1, 17), (2, 1)]);
    assert_eq!(tiles.len(), 273 + 1 + 1 + 1 + 1);
    // "a tree of size 256 will be represented by a full level 0 tile and a
    // partial level 1 tile of width 1"
    let t256 = tiles_for_size(TreeSize::new(256));
    assert_eq!(
        t256,
        vec![
            TileId::new(0, 0, 256).unwrap(),
            TileId::new(1, 0, 1).unwrap()
        ]
    );
    assert!(tiles_for_size(TreeSize::new(0)).is_empty());
    assert_eq!(bundles_for_size(TreeSize::new(70000)).len(), 274);
    assert_eq!(
        bundles_for_size(TreeSize::new(70000))
            .last()
            .unwrap()
            .path(),
        "tile/entries/273.p/112"
    );
}

#[test]
fn tile_hash_reader_proofs_match_memory_tree() {
    let sizes = [1u64, 2, 7, 255, 256, 257, 511, 512, 700, 65536, 65537 + 300];
    let (_, mem, store, roots) = build(*sizes.last().unwrap(), &sizes);
    let mut checked = 0;
    for (size, root) in &roots {
        let ts = TreeSize::new(*size);
        let verified = TileHashReader::verified(ts, *root, &store);
        let unverified = TileHashReader::unverified(ts, &store);
        assert_eq!(tlog::tree_hash(ts, &verified).unwrap(), *root);
        let probes = [0, 1, size / 3, size / 2, size.saturating_sub(2), size - 1];
        for &i in probes.iter().filter(|&&i| i < *size) {
            let idx = LeafIndex::new(i);
            let want = prove_inclusion(idx, ts, &mem).unwrap();
            assert_eq!(prove_inclusion(idx, ts, &verified).unwrap(), want);
            assert_eq!(prove_inclusion(idx, ts, &unverified).unwrap(), want);
            verify_inclusion(&cheap_leaf(i), idx, ts, &want, root).unwrap();
            checked += 1;
        }
        for (old, old_root) in roots.iter().filter(|(s, _)| s <= size) {
            let o = TreeSize::new(*old);
            let want = prove_consistency(o, ts, &mem).unwrap();
            assert_eq!(prove_consistency(o, ts, &verified).unwrap(), want);
            verify_consistency(o, ts, old_root, root, &want).unwrap();
            checked += 1;
        }
        // Subtree consistency through tiles too.
        if *size >= 512 {
            let sub = subtree_hash(256, 512, &verified).unwrap();
            let p = prove_subtree_consistency(256, 512, ts, &verified).unwrap();
            verify_subtree_consistency(256, 512, ts, &sub, root, &p).unwrap();
        }
    }
    assert!(checked > 50);
}

#[test]
fn tile_hash_reader_detects_tampering() {
    let sizes = [600u64];
    let (_, _, store, roots) = build(600, &sizes);
    let (size, root) = roots[0];
    let ts = TreeSize::new(size);
    // Tamper with a full level-0 tile.
    let mut bad = store.clone();
    let id = TileId::new(0, 0, 256).unwrap();
    bad.tiles.get_mut(&id).unwrap()[5] ^= 1;
    let r = TileHashReader::verified(ts, root, &bad);
    assert_eq!(
        prove_inclusion(LeafIndex::new(3), ts, &r),
        Err(tlog::ProofError::Reader(TileError::TileHashMismatch(id)))
    );
    // Unverified mode happily returns the tampered data.
    assert!(prove_inclusion(LeafIndex::new(3), ts, &TileHashReader::unverified(ts, &bad)).is_ok());
    // Tamper with a partial tile.
    let mut bad = store.clone();
    let pid = TileId::new(0, 2, 88).unwrap();
    bad.tiles.get_mut(&pid).unwrap()[0] ^= 1;
    let r = TileHashReader::verified(ts, root, &bad);
    assert_eq!(
        prove_inclusion(LeafIndex::new(3), ts, &r),
        Err(tlog::ProofError::Reader(TileError::RootMismatch))
    );
    // Wrong root.
    let r = TileHashReader::verified(ts, tlog::empty_root(), &store);
    assert_eq!(
        prove_inclusion(LeafIndex::new(3), ts, &r),
        Err(tlog::ProofError::Reader(TileError::RootMismatch))
    );
    // Truncated tile.
    let mut bad = store.clone();
    bad.tiles.get_mut(&pid).unwrap().pop();
    let r = TileHashReader::verified(ts, root, &bad);
    assert!(matches!(
        prove_inclusion(LeafIndex::new(3), ts, &r),
        Err(tlog::ProofError::Reader(TileError::TileLength { .. }))
    ));
    assert!(matches!(
        TileEdge::from_reader(ts, &bad),
        Err(TileError::TileLength { .. })
    ));
}

#[test]
fn tile_path_round_trips_and_rejections() {
    for (p, want) in [
        (
            "tile/0/000",
            TilePath::Hash(TileId::new(0, 0, 256).unwrap()),
        ),
        (
            "tile/0/x001/234.p/5",
            TilePath::Hash(TileId::new(0, 1234, 5).unwrap()),
        ),
        (
            "tile/63/x001/x234/067",
            TilePath::Hash(TileId::new(63, 1_234_067, 256).unwrap()),
        ),
        (
            "tile/entries/x001/234.p/5",
            TilePath::Entries(BundleId::new(1234, 5).unwrap()),
        ),
        (
            "tile/entries/999.p/255",
            TilePath::Entries(BundleId::new(999, 255).unwrap()),
        ),
        (
            "tile/1/x018/x446/x744/x073/x709/x551/615",
            TilePath::Hash(TileId::new(1, u64::MAX, 256).unwrap()),
        ),
    ] {
        assert_eq!(parse_tile_path(p), Ok(want), "{p}");
        assert_eq!(want.path(), p);
    }
    let cases = [
        ("/tile/0/000", TilePathError::NoTilePrefix),
        ("tiles/0/000", TilePathError::NoTilePrefix),
        ("tile/0/000/", TilePathError::Malformed),
        ("tile//000", TilePathError::Malformed),
        ("tile/0", TilePathError::Malformed),
        ("tile/00/000", TilePathError::BadLevel),
        ("tile/-1/000", TilePathError::BadLevel),
        ("tile/64/000", TilePathError::LevelOutOfRange(64)),
        ("tile/0/00", TilePathError::BadIndexElement),
        ("tile/0/0000", TilePathError::BadIndexElement),
        ("tile/0/x000", TilePathError::BadIndexElement),
        ("tile/0/001/000", TilePathError::BadIndexElement),
        ("tile/0/x000/001", TilePathError::NonCanonicalIndex),
        ("tile/0/x01a/001", TilePathError::BadIndexElement),
        (
            "tile/0/x018/x446/x744/x073/x709/x551/616",
            TilePathError::IndexOverflow,
        ),
        (
            "tile/0/x001/x018/x446/x744/x073/x709/x551/615",
            TilePathError::IndexOverflow,
        ),
        ("tile/0/000.p/0", TilePathError::WidthOutOfRange(0)),
        ("tile/0/000.p/256", TilePathError::WidthOutOfRange(256)),
        ("tile/0/000.p/05", TilePathError::BadWidth),
        ("tile/0/000.p/", TilePathError::Malformed),
        ("tile/0/000.p", TilePathError::BadIndexElement),
        ("tile/0/000.q/5", TilePathError::BadIndexElement),
        ("tile/entries/x000/000", TilePathError::NonCanonicalIndex),
        ("tile/entries", TilePathError::Malformed),
        ("tile/data/000", TilePathError::BadLevel),
    ];
    for (p, want) in cases {
        assert_eq!(parse_tile_path(p), Err(want), "{p}");
    }
    assert_eq!(
        TileId::new(64, 0, 1),
        Err(TilePathError::LevelOutOfRange(64))
    );
    assert_eq!(TileId::new(0, 0, 0), Err(TilePathError::WidthOutOfRange(0)));
    assert_eq!(
        TileId::new(0, 0, 257),
        Err(TilePathError::WidthOutOfRange(257))
    );
    assert_eq!(BundleId::new(0, 0), Err(TilePathError::WidthOutOfRange(0)));
}

#[test]
fn bundles() {
    let entries: Vec<Vec<u8>> = vec![b"one".to_vec(), Vec::new(), vec![7u8; 65535]];
    let enc = encode_bundle(entries.iter().map(Vec::as_slice)).unwrap();
    let dec = parse_bundle(&enc).unwrap();
    assert_eq!(dec, entries.iter().map(Vec::as_slice).collect::<Vec<_>>());
    let too_big = vec![0u8; 65536];
    assert_eq!(
        encode_bundle([too_big.as_slice()]),
        Err(BundleError::EntryTooLarge {
            index: 0,
            len: 65536
        })
    );
    assert_eq!(encode_bundle(std::iter::empty()), Err(BundleError::Empty));
    let many = vec![b"x".as_slice(); 257];
    assert_eq!(
        encode_bundle(many.iter().copied()),
        Err(BundleError::TooManyEntries)
    );
    assert_eq!(parse_bundle(b""), Err(BundleError::Empty));
    assert_eq!(
        parse_bundle(b"\x00"),
        Err(BundleError::Truncated { offset: 0 })
    );
    assert_eq!(
        parse_bundle(b"\x00\x03ab"),
        Err(BundleError::Truncated { offset: 0 })
    );
    assert_eq!(
        parse_bundle(b"\x00\x01a\x00"),
        Err(BundleError::Truncated { offset: 3 })
    );
    assert_eq!(
        parse_bundle(&b"\x00\x00".repeat(257)),
        Err(BundleError::TooManyEntries)
    );
    assert_eq!(
        parse_bundle_for(BundleId::new(0, 2).unwrap(), b"\x00\x01a"),
        Err(BundleError::WrongCount { got: 1, want: 2 })
    );
}

//! The conformance suite of the log's storage contract (feature `testing`):
//! what every [`LogStore`] must do, checked the same way on the embedded
//! store and on each other implementation (`pg-store`'s tests run it
//! against a real PostgreSQL server).
//!
//! [`check`] takes a function that opens the store under test on the same
//! backing storage each time it is called (the previous handle dropped
//! first, as a restarted process would), and walks the contract clause by
//! clause: an empty store, appends and the index they must start at,
//! replay, integration (tiles and bundles with C2SP's prefix rule, the dedup
//! index), checkpoints and their history, sync, recovery after a restart
//! with and without a sync, and [`LogStore::reopen`] after a failed write.
//! A failed clause panics with what was expected and what was found.

use tlog::{BundleId, Hash, LeafIndex, TileId, TreeSize};

use crate::{Integration, LogStore, StoreError};

fn entry(i: u64) -> Vec<u8> {
    // Sizes vary (1 to 300 bytes) so that bundles are not uniform.
    let len = 1 + (i * 37 % 300) as usize;
    (0..len).map(|k| (i as usize * 31 + k) as u8).collect()
}

fn leaf(i: u64) -> Hash {
    tlog::hash::leaf_hash(&entry(i))
}

/// The hash-tile bytes of a tile holding `width` hashes from `start`
/// (arbitrary but deterministic: the store never interprets them).
fn tile_bytes(start: u64, width: u16) -> Vec<u8> {
    (start..start + u64::from(width))
        .flat_map(|i| *leaf(i).as_bytes())
        .collect()
}

/// The bundle bytes of entries `start..start + width`.
fn bundle_bytes(start: u64, width: u16) -> Vec<u8> {
    let mut out = Vec::new();
    for i in start..start + u64::from(width) {
        let e = entry(i);
        out.extend_from_slice(&u16::try_from(e.len()).unwrap_or(u16::MAX).to_be_bytes());
        out.extend_from_slice(&e);
    }
    out
}

fn tile(level: u8, index: u64, width: u16) -> TileId {
    match TileId::new(level, index, width) {
        Ok(t) => t,
        Err(e) => panic!("tile {level}/{index}.{width}: {e}"),
    }
}

fn bundle(index: u64, width: u16) -> BundleId {
    match BundleId::new(index, width) {
        Ok(b) => b,
        Err(e) => panic!("bundle {index}.{width}: {e}"),
    }
}

fn ok<T>(what: &str, r: Result<T, StoreError>) -> T {
    match r {
        Ok(t) => t,
        Err(e) => panic!("{what}: {e}"),
    }
}

fn append(store: &dyn LogStore, start: u64, end: u64) {
    let entries: Vec<Vec<u8>> = (start..end).map(entry).collect();
    let refs: Vec<&[u8]> = entries.iter().map(Vec::as_slice).collect();
    ok(
        &format!("append {start}..{end}"),
        store.append(LeafIndex::new(start), &refs),
    );
}

fn replayed(store: &dyn LogStore, from: u64) -> Vec<(u64, Vec<u8>)> {
    let mut out = Vec::new();
    ok(
        &format!("replay from {from}"),
        store.replay(TreeSize::new(from), &mut |i, e| {
            out.push((i.get(), e.to_vec()));
            Ok(())
        }),
    );
    out
}

fn expect_replay(store: &dyn LogStore, from: u64, to: u64) {
    let got = replayed(store, from);
    let want: Vec<(u64, Vec<u8>)> = (from..to).map(|i| (i, entry(i))).collect();
    assert_eq!(
        got.iter().map(|(i, _)| *i).collect::<Vec<_>>(),
        want.iter().map(|(i, _)| *i).collect::<Vec<_>>(),
        "replay from {from}: the indexes"
    );
    assert!(got == want, "replay from {from}: the entries' bytes differ");
}

fn expect_sizes(store: &dyn LogStore, durable: u64, synced: u64, checkpoint: Option<&[u8]>) {
    let r = ok("recover", store.recover());
    assert_eq!(r.durable_size.get(), durable, "recover: durable size");
    assert_eq!(r.synced_size.get(), synced, "recover: synced size");
    assert_eq!(r.checkpoint.as_deref(), checkpoint, "recover: checkpoint");
}

/// The integration of entries `from..to` of a level-0-only log (tiles of
/// level 0 and bundles for the range, dedup keys).
fn integration(from: u64, to: u64) -> Integration {
    let width = u64::from(tlog::tile::TILE_WIDTH_MAX);
    let mut tiles = Vec::new();
    let mut bundles = Vec::new();
    for n in from / width..=(to.saturating_sub(1)) / width {
        let start = n * width;
        let w = u16::try_from((to - start).min(width)).unwrap_or(tlog::tile::TILE_WIDTH_MAX);
        tiles.push((tile(0, n, w), tile_bytes(start, w)));
        bundles.push((bundle(n, w), bundle_bytes(start, w)));
    }
    Integration {
        from,
        to,
        tiles,
        bundles,
        leaves: (from..to).map(|i| (leaf(i), LeafIndex::new(i))).collect(),
    }
}

fn expect_tile(store: &dyn LogStore, id: TileId, want: Option<Vec<u8>>) {
    let got = ok(&format!("read tile {}", id.path()), store.read_tile(id));
    assert!(
        got == want,
        "tile {}: expected {:?} bytes, found {:?}",
        id.path(),
        want.as_ref().map(Vec::len),
        got.as_ref().map(Vec::len)
    );
}

fn expect_bundle(store: &dyn LogStore, id: BundleId, want: Option<Vec<u8>>) {
    let got = ok(&format!("read bundle {}", id.path()), store.read_bundle(id));
    assert!(
        got == want,
        "bundle {}: expected {:?} bytes, found {:?}",
        id.path(),
        want.as_ref().map(Vec::len),
        got.as_ref().map(Vec::len)
    );
}

fn expect_lookup(store: &dyn LogStore, i: u64, want: Option<u64>) {
    let got = ok("lookup", store.lookup(&leaf(i)));
    assert_eq!(
        got.map(|x| x.get()),
        want,
        "lookup of entry {i}'s leaf hash"
    );
}

fn expect_history(store: &dyn LogStore, from: u64, want: &[(u64, &[u8])]) {
    let got = ok(
        "checkpoint history",
        store.checkpoint_history(TreeSize::new(from)),
    );
    let got: Vec<(u64, &[u8])> = got.iter().map(|(s, n)| (s.get(), n.as_slice())).collect();
    assert_eq!(got, want, "checkpoint history from {from}");
}

/// Runs the suite on the store `open` opens (each call on the same backing
/// storage, the previous handle dropped first). The storage must be empty
/// at the first call.
pub fn check<S: LogStore>(mut open: impl FnMut() -> S) {
    let store = open();
    // An empty store.
    expect_sizes(&store, 0, 0, None);
    assert_eq!(
        ok("checkpoint", store.checkpoint()),
        None,
        "empty: checkpoint"
    );
    expect_history(&store, 0, &[]);
    expect_lookup(&store, 0, None);
    expect_tile(&store, tile(0, 0, 1), None);
    expect_bundle(&store, bundle(0, 1), None);
    expect_replay(&store, 0, 0);

    // Appends: each at the durable size, nowhere else.
    append(&store, 0, 3);
    append(&store, 3, 5);
    for wrong in [0u64, 4, 6] {
        let e = [entry(99)];
        let refs: Vec<&[u8]> = e.iter().map(Vec::as_slice).collect();
        assert!(
            store.append(LeafIndex::new(wrong), &refs).is_err(),
            "append at {wrong} with a durable size of 5 must fail"
        );
    }
    expect_sizes(&store, 5, 0, None);
    expect_replay(&store, 0, 5);
    expect_replay(&store, 3, 5);

    // Integration: tiles and bundles (prefix rule), dedup keys.
    ok("integrate 0..5", store.integrate(&integration(0, 5)));
    expect_lookup(&store, 2, Some(2));
    expect_lookup(&store, 4, Some(4));
    expect_lookup(&store, 5, None);
    expect_tile(&store, tile(0, 0, 5), Some(tile_bytes(0, 5)));
    expect_tile(&store, tile(0, 0, 3), Some(tile_bytes(0, 3)));
    expect_tile(&store, tile(0, 0, 6), None);
    expect_tile(&store, tile(0, 0, 256), None);
    expect_tile(&store, tile(1, 0, 1), None);
    expect_bundle(&store, bundle(0, 5), Some(bundle_bytes(0, 5)));
    expect_bundle(&store, bundle(0, 2), Some(bundle_bytes(0, 2)));
    expect_bundle(&store, bundle(0, 6), None);

    // A checkpoint, then a sync.
    let note5 = b"example.com/log\n5\nAAAA\n\n- sig five\n".to_vec();
    ok(
        "publish 5",
        store.publish_checkpoint(TreeSize::new(5), &note5),
    );
    assert_eq!(
        ok("checkpoint", store.checkpoint()).as_deref(),
        Some(&note5[..]),
        "the served checkpoint after publishing 5"
    );
    expect_history(&store, 0, &[(5, &note5)]);
    ok("sync 5", store.sync(TreeSize::new(5)));
    expect_sizes(&store, 5, 5, Some(&note5));

    // A restart keeps everything synced.
    drop(store);
    let store = open();
    expect_sizes(&store, 5, 5, Some(&note5));
    expect_replay(&store, 5, 5);
    expect_lookup(&store, 3, Some(3));
    expect_tile(&store, tile(0, 0, 5), Some(tile_bytes(0, 5)));
    expect_bundle(&store, bundle(0, 5), Some(bundle_bytes(0, 5)));
    expect_history(&store, 0, &[(5, &note5)]);

    // Past a full tile: the full tile serves every narrower width, the
    // partial one after it its own.
    append(&store, 5, 300);
    ok("integrate 5..300", store.integrate(&integration(5, 300)));
    expect_tile(&store, tile(0, 0, 256), Some(tile_bytes(0, 256)));
    expect_tile(&store, tile(0, 0, 5), Some(tile_bytes(0, 5)));
    expect_tile(&store, tile(0, 0, 100), Some(tile_bytes(0, 100)));
    expect_tile(&store, tile(0, 1, 44), Some(tile_bytes(256, 44)));
    expect_tile(&store, tile(0, 1, 45), None);
    expect_bundle(&store, bundle(0, 256), Some(bundle_bytes(0, 256)));
    expect_bundle(&store, bundle(1, 44), Some(bundle_bytes(256, 44)));
    expect_bundle(&store, bundle(1, 7), Some(bundle_bytes(256, 7)));
    expect_lookup(&store, 299, Some(299));
    let note300 = b"example.com/log\n300\nBBBB\n\n- sig three hundred\n".to_vec();
    ok(
        "publish 300",
        store.publish_checkpoint(TreeSize::new(300), &note300),
    );
    expect_history(&store, 0, &[(5, &note5), (300, &note300)]);
    expect_history(&store, 6, &[(300, &note300)]);
    expect_history(&store, 301, &[]);

    // After a failed write the store is reopened in place: what was
    // appended stays, and appends go on at the durable size.
    ok("reopen", store.reopen());
    expect_sizes(&store, 300, 5, Some(&note300));
    append(&store, 300, 301);

    // A restart without a sync: every appended entry is kept (the durable
    // size), recovery replays from the synced size.
    drop(store);
    let store = open();
    let r = ok("recover", store.recover());
    assert_eq!(
        r.durable_size.get(),
        301,
        "recover after a restart: durable size"
    );
    assert_eq!(
        r.synced_size.get(),
        5,
        "recover after a restart: synced size"
    );
    expect_replay(&store, 5, 301);
    ok("sync 300", store.sync(TreeSize::new(300)));
    expect_sizes(&store, 301, 300, Some(&note300));
    expect_replay(&store, 300, 301);
}

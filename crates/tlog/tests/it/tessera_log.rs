//! Reproduces the Tessera-written log in `shared/vectors/tessera-log` byte for
//! byte: every checkpoint, partial hash tile and partial entry bundle, using
//! `TileEdge`, `encode_bundle` and `sign_checkpoint`. Also checks
//! `open_checkpoint` and `TileEdge::from_reader` against the published files.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::path::{Path, PathBuf};

use tlog::tile::partial_tiles_for_size;
use tlog::{
    bundles_for_size, encode_bundle, leaf_hash, open_checkpoint, parse_bundle, sign_checkpoint,
    Checkpoint, Signer, TileEdge, TileId, TileReader, TreeSize, Verifier,
};

const SKEY: &str =
    "PRIVATE+KEY+example.com/log/testdata+33d7b496+AeymY/SZAX0jZcJ8enZ5FY1Dz+wTML2yWSkK+9DSF3eg";
const VKEY: &str = "example.com/log/testdata+33d7b496+AeHTu4Q3hEIMHNqc6fASMsq3rKNx280NI+oO5xCFkkSx";
const LEAVES: &str =
    "one two three four five six seven eit nain ten ileven twelf threeten fourten fivten";

fn dir() -> PathBuf {
    let d = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/vectors/tessera-log");
    assert!(
        d.is_dir(),
        "tessera vectors not found at {}: the shared/ checkout must sit beside the repo",
        d.display()
    );
    d
}

struct Files(PathBuf);
impl TileReader for Files {
    type Error = std::io::Error;
    fn read_tile(&self, id: TileId) -> Result<Vec<u8>, std::io::Error> {
        std::fs::read(self.0.join(id.path()))
    }
}

#[test]
fn reproduces_tessera_log() {
    let d = dir();
    let signer = Signer::from_skey(SKEY).unwrap();
    assert_eq!(signer.vkey(), VKEY);
    let verifier = Verifier::from_vkey(VKEY).unwrap();
    let leaves: Vec<&str> = LEAVES.split(' ').collect();
    assert_eq!(leaves.len(), 15);

    let mut edge = TileEdge::new();
    let mut full = Vec::new();
    let mut checked_checkpoints = 0;
    let mut checked_tiles = 0;
    let mut checked_bundles = 0;
    for size in 0..=leaves.len() {
        if size > 0 {
            edge.append(leaf_hash(leaves[size - 1].as_bytes()), &mut full);
        }
        assert!(full.is_empty(), "no full tile expected below 256 leaves");
        let ts = TreeSize::new(size as u64);
        assert_eq!(edge.size(), ts);

        // Checkpoint, byte for byte.
        let cp_path = d.join(format!("checkpoint.{size}"));
        if cp_path.exists() {
            let want = std::fs::read(&cp_path).unwrap();
            let cp = Checkpoint::new("example.com/log/testdata", ts, edge.root()).unwrap();
            let got = sign_checkpoint(&cp, &signer);
            assert_eq!(
                String::from_utf8_lossy(&got),
                String::from_utf8_lossy(&want),
                "checkpoint.{size}"
            );
            let (opened, _) = open_checkpoint(&want, &verifier).unwrap();
            assert_eq!(opened, cp);
            checked_checkpoints += 1;
        } else {
            assert_eq!(size, 0, "checkpoint.{size} missing");
        }

        // Partial hash tiles, byte for byte.
        let partial = edge.partial_tiles();
        assert_eq!(
            partial.iter().map(|(id, _)| *id).collect::<Vec<_>>(),
            partial_tiles_for_size(ts)
        );
        for (id, data) in &partial {
            let want =
                std::fs::read(d.join(id.path())).unwrap_or_else(|e| panic!("{}: {e}", id.path()));
            assert_eq!(data, &want, "{}", id.path());
            checked_tiles += 1;
        }

        // Entry bundles, byte for byte.
        for b in bundles_for_size(ts) {
            let first = b.first_leaf().unwrap() as usize;
            let entries = &leaves[first..first + usize::from(b.width())];
            let got = encode_bundle(entries.iter().map(|e| e.as_bytes())).unwrap();
            let want = std::fs::read(d.join(b.path())).unwrap();
            assert_eq!(got, want, "{}", b.path());
            let parsed = parse_bundle(&want).unwrap();
            assert_eq!(parsed.len(), usize::from(b.width()));
            checked_bundles += 1;
        }

        // Rebuilding the edge from the published tiles gives the same root.
        if size > 0 {
            let rebuilt =
                TileEdge::from_reader_checked(ts, &edge.root(), &Files(d.clone())).unwrap();
            assert_eq!(rebuilt.root(), edge.root());
        }
    }
    // The latest checkpoint file matches the final size.
    let latest = std::fs::read(d.join("checkpoint")).unwrap();
    let (cp, _) = open_checkpoint(&latest, &verifier).unwrap();
    assert_eq!(cp.size(), TreeSize::new(15));
    assert_eq!(cp.root(), edge.root());
    eprintln!(
        "tessera-log: {checked_checkpoints} checkpoints, {checked_tiles} tiles, {checked_bundles} bundles reproduced"
    );
    assert_eq!(checked_checkpoints, 16);
    assert_eq!(checked_tiles, 15);
}

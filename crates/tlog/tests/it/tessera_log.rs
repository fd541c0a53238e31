//! The Trillian Tessera test log (`../shared/vectors/tessera-log`: 15 leaves,
//! signed with the test key Tessera publishes) written again by our writer:
//! every checkpoint, partial hash tile and partial entry bundle, using
//! `TileEdge`, `encode_bundle` and `sign_checkpoint`.
//!
//! Without the vectors: the regenerated files' SHA-256 must equal
//! `tests/data/tessera-log.sha256`, a manifest of the vectors' files (hashes
//! only: the vectors themselves may not be copied into the repository), file
//! for file. With them (ignored by default, run by `.ci/test`'s `vectors`
//! stage): the same files compared byte for byte, `open_checkpoint` and
//! `TileEdge::from_reader_checked` on the published files, and the manifest
//! checked against the directory, so that it cannot drift from the vectors.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use tlog::tile::partial_tiles_for_size;
use tlog::{
    bundles_for_size, encode_bundle, leaf_hash, open_checkpoint, parse_bundle, sign_checkpoint,
    Checkpoint, Signer, TileEdge, TileId, TileReader, TreeSize, Verifier,
};

use crate::vectors;

const ORIGIN: &str = "example.com/log/testdata";
const SKEY: &str =
    "PRIVATE+KEY+example.com/log/testdata+33d7b496+AeymY/SZAX0jZcJ8enZ5FY1Dz+wTML2yWSkK+9DSF3eg";
const VKEY: &str = "example.com/log/testdata+33d7b496+AeHTu4Q3hEIMHNqc6fASMsq3rKNx280NI+oO5xCFkkSx";
const LEAVES: &str =
    "one two three four five six seven eit nain ten ileven twelf threeten fourten fivten";
/// The manifest: `SHA-256  path` per file of the vectors' log (`sha256sum`
/// output; `#` lines are comments).
const MANIFEST: &str = include_str!("../data/tessera-log.sha256");
/// Tessera's own working state in the log directory, not part of the log.
const TESSERA_STATE_DIR: &str = ".state";

/// The log as our writer produces it: path → bytes.
struct Regenerated {
    files: BTreeMap<String, Vec<u8>>,
    checkpoints: usize,
    tiles: usize,
    bundles: usize,
}

/// Appends the 15 leaves one by one and writes, at every size, what a
/// tlog-tiles log publishes: `checkpoint.N`, the partial hash tiles and the
/// partial entry bundle; `checkpoint` is the last. Checks each checkpoint
/// opens with the verifier key and each bundle parses back.
fn regenerate() -> Regenerated {
    let signer = Signer::from_skey(SKEY).unwrap();
    assert_eq!(signer.vkey(), VKEY);
    let verifier = Verifier::from_vkey(VKEY).unwrap();
    let leaves: Vec<&str> = LEAVES.split(' ').collect();
    assert_eq!(leaves.len(), 15);

    let mut out = Regenerated {
        files: BTreeMap::new(),
        checkpoints: 0,
        tiles: 0,
        bundles: 0,
    };
    let mut edge = TileEdge::new();
    let mut full = Vec::new();
    let mut last_checkpoint = Vec::new();
    for size in 0..=leaves.len() {
        if size > 0 {
            edge.append(leaf_hash(leaves[size - 1].as_bytes()), &mut full);
        }
        assert!(full.is_empty(), "no full tile expected below 256 leaves");
        let ts = TreeSize::new(size as u64);
        assert_eq!(edge.size(), ts);

        let cp = Checkpoint::new(ORIGIN, ts, edge.root()).unwrap();
        let signed = sign_checkpoint(&cp, &signer);
        let (opened, _) = open_checkpoint(&signed, &verifier).unwrap();
        assert_eq!(opened, cp);
        put(&mut out.files, format!("checkpoint.{size}"), signed.clone());
        last_checkpoint = signed;
        out.checkpoints += 1;

        let partial = edge.partial_tiles();
        assert_eq!(
            partial.iter().map(|(id, _)| *id).collect::<Vec<_>>(),
            partial_tiles_for_size(ts)
        );
        for (id, data) in partial {
            put(&mut out.files, id.path(), data);
            out.tiles += 1;
        }

        for b in bundles_for_size(ts) {
            let first = b.first_leaf().unwrap() as usize;
            let entries = &leaves[first..first + usize::from(b.width())];
            let data = encode_bundle(entries.iter().map(|e| e.as_bytes())).unwrap();
            assert_eq!(parse_bundle(&data).unwrap().len(), usize::from(b.width()));
            put(&mut out.files, b.path(), data);
            out.bundles += 1;
        }
    }
    put(&mut out.files, "checkpoint".into(), last_checkpoint);
    assert_eq!(
        (out.checkpoints, out.tiles, out.bundles),
        (16, 15, 15),
        "checkpoints, partial tiles and bundles written"
    );
    out
}

/// Writes `path`; a path written again must get the same bytes.
fn put(files: &mut BTreeMap<String, Vec<u8>>, path: String, data: Vec<u8>) {
    if let Some(earlier) = files.insert(path.clone(), data.clone()) {
        assert_eq!(earlier, data, "{path} written twice with different bytes");
    }
}

/// The manifest as path → lowercase hex SHA-256.
fn manifest() -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    for line in MANIFEST.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let (hash, path) = line.split_once("  ").expect("`SHA-256  path` lines");
        assert_eq!(hash.len(), 64, "{line}");
        assert!(
            m.insert(path.to_string(), hash.to_string()).is_none(),
            "{line}"
        );
    }
    m
}

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// Runs without the vectors: every file our writer produces has the SHA-256
/// the manifest gives for Tessera's file of that name, and the two sets of
/// files are the same.
#[test]
fn regenerated_tessera_log_matches_the_manifest() {
    let log = regenerate();
    let want = manifest();
    let got: BTreeMap<String, String> = log
        .files
        .iter()
        .map(|(path, data)| (path.clone(), sha256_hex(data)))
        .collect();
    let missing: Vec<_> = want.keys().filter(|p| !got.contains_key(*p)).collect();
    let extra: Vec<_> = got.keys().filter(|p| !want.contains_key(*p)).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "not written: {missing:?}; not in the manifest: {extra:?}"
    );
    let differ: Vec<_> = want
        .iter()
        .filter(|(path, hash)| got[*path] != **hash)
        .map(|(path, _)| path)
        .collect();
    assert!(differ.is_empty(), "SHA-256 differs for {differ:?}");
    assert_eq!(want.len(), 16 + 1 + 15 + 15, "checkpoints, tiles, bundles");
}

struct Files(PathBuf);
impl TileReader for Files {
    type Error = std::io::Error;
    fn read_tile(&self, id: TileId) -> Result<Vec<u8>, std::io::Error> {
        std::fs::read(self.0.join(id.path()))
    }
}

fn files_under(dir: &Path, prefix: &str, out: &mut Vec<String>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().into_string().unwrap();
        let path = format!("{prefix}{name}");
        if e.file_type().unwrap().is_dir() {
            if path != TESSERA_STATE_DIR {
                files_under(&e.path(), &format!("{path}/"), out);
            }
        } else {
            out.push(path);
        }
    }
}

/// With the vectors: our files equal Tessera's byte for byte, and the
/// published files open and rebuild the same tree.
#[test]
#[ignore = "needs the outside vectors: ../shared/vectors or SECTWIN_VECTORS"]
fn reproduces_tessera_log() {
    let d = vectors::dir("tessera-log");
    let verifier = Verifier::from_vkey(VKEY).unwrap();
    let log = regenerate();
    for (path, data) in &log.files {
        let want = std::fs::read(d.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_eq!(
            String::from_utf8_lossy(data),
            String::from_utf8_lossy(&want),
            "{path}"
        );
        assert_eq!(data, &want, "{path}");
    }
    for size in 0..=15u64 {
        let published = std::fs::read(d.join(format!("checkpoint.{size}"))).unwrap();
        let (cp, _) = open_checkpoint(&published, &verifier).unwrap();
        assert_eq!(cp.size(), TreeSize::new(size));
        // Rebuilding the edge from the published tiles gives the same root.
        if size > 0 {
            let rebuilt =
                TileEdge::from_reader_checked(cp.size(), &cp.root(), &Files(d.clone())).unwrap();
            assert_eq!(rebuilt.root(), cp.root());
        }
    }
    let latest = std::fs::read(d.join("checkpoint")).unwrap();
    let (cp, _) = open_checkpoint(&latest, &verifier).unwrap();
    assert_eq!(cp.size(), TreeSize::new(15));
    eprintln!(
        "tessera-log: {} checkpoints, {} tiles, {} bundles reproduced",
        log.checkpoints, log.tiles, log.bundles
    );
}

/// With the vectors: the manifest lists exactly the log's files (all but
/// Tessera's `.state/`), each with its SHA-256.
#[test]
#[ignore = "needs the outside vectors: ../shared/vectors or SECTWIN_VECTORS"]
fn manifest_is_the_tessera_log() {
    let d = vectors::dir("tessera-log");
    let mut paths = Vec::new();
    files_under(&d, "", &mut paths);
    let on_disk: BTreeMap<String, String> = paths
        .into_iter()
        .map(|p| {
            let hash = sha256_hex(&std::fs::read(d.join(&p)).unwrap());
            (p, hash)
        })
        .collect();
    assert_eq!(
        on_disk,
        manifest(),
        "tests/data/tessera-log.sha256 is not the vectors' log; rewrite it with \
         `sha256sum` over every file of tessera-log but .state/"
    );
}

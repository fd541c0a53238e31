//! Runs every JSON case under `merkle/testdata` of the outside vectors
//! (`../shared/vectors` or `$SECTWIN_VECTORS`, from transparency-dev/merkle):
//! inclusion, consistency, subtree inclusion and subtree consistency,
//! including the `additional`, `errors` and `single-entry` folders. Ignored
//! by default (the vectors may not be copied into the repository) and run by
//! `.ci/test`'s `vectors` stage; run by hand without the vectors it fails,
//! saying how to get them, and never passes having checked nothing.
//!
//! Decoding convention: leaf hashes and proof elements must be exactly 32
//! bytes (a wrong-length one is a typed-boundary rejection, counted as an
//! error outcome, exactly as the reference verifier rejects it). Roots are
//! compared as opaque byte strings by the reference, so a non-32-byte root is
//! mapped to a stand-in hash that equals another stand-in iff the bytes are
//! equal and never equals a real SHA-256 output in practice; this lets the
//! "don't care" root cases exercise the verifier's own logic.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde_json::Value;
use sha2::{Digest, Sha256};
use tlog::merkle::{
    verify_consistency, verify_inclusion, verify_subtree_consistency, verify_subtree_inclusion,
};
use tlog::{Hash, LeafIndex, TreeSize};

use crate::vectors;

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            collect(&p, out);
        } else if p.extension().is_some_and(|x| x == "json") {
            out.push(p);
        }
    }
}

fn b64(v: &Value) -> Vec<u8> {
    B64.decode(v.as_str().unwrap()).unwrap()
}

/// Strict 32-byte hash (leaf hashes and proof elements).
fn strict(v: &Value) -> Option<Hash> {
    Hash::from_slice(&b64(v)).ok()
}

/// Root compared as bytes; see module docs.
fn root(v: &Value) -> Hash {
    let b = b64(v);
    Hash::from_slice(&b).unwrap_or_else(|_| {
        let mut h = Sha256::new();
        h.update(b"tlog test stand-in for non-32-byte root:");
        h.update(&b);
        Hash::from_bytes(h.finalize().into())
    })
}

fn proof(v: &Value) -> Option<Vec<Hash>> {
    match v {
        Value::Null => Some(Vec::new()),
        Value::Array(a) => a.iter().map(strict).collect(),
        _ => panic!("bad proof field"),
    }
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap()
}

/// Returns Ok(()) if the case verified, Err(description) otherwise.
fn run_case(kind: &str, d: &Value) -> Result<(), String> {
    let p = proof(&d["proof"]).ok_or("proof element not 32 bytes")?;
    match kind {
        "inclusion" => {
            let leaf = strict(&d["leafHash"]).ok_or("leaf hash not 32 bytes")?;
            verify_inclusion(
                &leaf,
                LeafIndex::new(u(&d["leafIdx"])),
                TreeSize::new(u(&d["treeSize"])),
                &p,
                &root(&d["root"]),
            )
            .map_err(|e| e.to_string())
        }
        "consistency" => verify_consistency(
            TreeSize::new(u(&d["size1"])),
            TreeSize::new(u(&d["size2"])),
            &root(&d["root1"]),
            &root(&d["root2"]),
            &p,
        )
        .map_err(|e| e.to_string()),
        "subtreeinclusion" => {
            let leaf = strict(&d["leafHash"]).ok_or("leaf hash not 32 bytes")?;
            verify_subtree_inclusion(
                &leaf,
                LeafIndex::new(u(&d["leafIdx"])),
                u(&d["start"]),
                u(&d["end"]),
                &p,
                &root(&d["root"]),
            )
            .map_err(|e| e.to_string())
        }
        "subtreeconsistency" => verify_subtree_consistency(
            u(&d["start"]),
            u(&d["end"]),
            TreeSize::new(u(&d["size"])),
            &root(&d["root1"]),
            &root(&d["root2"]),
            &p,
        )
        .map_err(|e| e.to_string()),
        other => panic!("unknown kind {other}"),
    }
}

#[test]
#[ignore = "needs the outside vectors: ../shared/vectors or SECTWIN_VECTORS"]
fn all_merkle_vectors() {
    let base = vectors::dir("merkle/testdata");
    let mut total = 0usize;
    let mut failures = Vec::new();
    for kind in [
        "inclusion",
        "consistency",
        "subtreeinclusion",
        "subtreeconsistency",
    ] {
        let dir = base.join(kind);
        assert!(dir.is_dir(), "missing {}", dir.display());
        let mut files = Vec::new();
        collect(&dir, &mut files);
        files.sort();
        assert!(!files.is_empty(), "no cases in {}", dir.display());
        let (mut ok_cases, mut err_cases) = (0, 0);
        for f in &files {
            let d: Value = serde_json::from_slice(&std::fs::read(f).unwrap()).unwrap();
            let want_err = d["wantErr"].as_bool().unwrap();
            let res = run_case(kind, &d);
            match (want_err, &res) {
                (false, Ok(())) => ok_cases += 1,
                (true, Err(_)) => err_cases += 1,
                (false, Err(e)) => failures.push(format!("{}: unexpected error: {e}", f.display())),
                (true, Ok(())) => failures.push(format!("{}: expected an error", f.display())),
            }
        }
        eprintln!(
            "{kind}: {} cases ({ok_cases} valid, {err_cases} rejected)",
            files.len()
        );
        total += files.len();
    }
    eprintln!("merkle vectors: {total} cases run");
    assert!(total > 0);
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

//! `sectwin-bench ota`: issue 18's device-side figures. The verifier's time
//! per image check (the image's digests computed beforehand), SHA-256 and
//! SHA-512 throughput on this machine, and the proof bundle's size: measured
//! on an in-memory log of `--entries` entries (10^6 by default), computed for
//! 10^9 from the proof lengths (RFC 9162 §2.1.3, §2.1.4), the computation
//! checked against the measured proofs first. The size of a program linking
//! only the verifier is printed by `tests-device/run.sh`.

use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use ota_verify::{
    digest_image, verify, Bundle, ConsistencyProof, KeyOwner, Options, ProvenStatement, TrustState,
    TrustedKey, BUNDLE_FORMAT, STATE_FORMAT,
};
use rand_core::OsRng;
use scitt::{Algorithm, SigningKey, StatementBuilder};
use sha2::Digest;
use tlog::{
    leaf_hash, prove_consistency, prove_inclusion, sign_checkpoint, Checkpoint, Cosigner,
    LeafIndex, MemoryTree, Signer, TlogProof, TreeSize,
};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

/// RFC 9162 inclusion proof length for `index` in a tree of `size`.
fn inclusion_len(index: u64, size: u64) -> u64 {
    let inner = 64 - (index ^ (size - 1)).leading_zeros() as u64;
    let border = (index >> inner).count_ones() as u64;
    inner + border
}

/// RFC 9162 consistency proof length from `old` to `new` (0 < old < new).
fn consistency_len(old: u64, new: u64) -> u64 {
    let shift = old.trailing_zeros() as u64;
    let inner = 64 - ((old - 1) ^ (new - 1)).leading_zeros() as u64;
    let border = ((old - 1) >> inner).count_ones() as u64;
    let seed = u64::from(old != 1 << shift);
    (inner - shift) + border + seed
}

struct Log {
    signer: Signer,
    witnesses: [Cosigner; 2],
    tree: MemoryTree,
    manifest: Vec<u8>,
    manifest_index: u64,
}

impl Log {
    fn checkpoint(&self, size: u64) -> Result<String> {
        let size = TreeSize::new(size);
        let cp = Checkpoint::new(
            self.signer.name(),
            size,
            self.tree.root_at(size).context("root")?,
        )?;
        let mut note = String::from_utf8(sign_checkpoint(&cp, &self.signer))?;
        for w in &self.witnesses {
            note.push_str(&w.cosign(&cp.to_text(), 1_780_000_000));
        }
        Ok(note)
    }
}

/// Runs the benchmark and prints its table.
pub fn run(entries: u64, runs: usize) -> Result<()> {
    ensure!(entries >= 16, "--entries must be at least 16");
    let image = vec![0x5au8; 1024 * 1024];
    let d = digest_image(&image);
    let key = SigningKey::generate(Algorithm::EdDSA, &mut OsRng);
    let payload = serde_json::json!({
        "type": "firmware-released", "version": "2.5.0",
        "image_sha256": hex::encode(d.sha256),
        "image_sha512": hex::encode(d.sha512.unwrap_or([0; 64])),
        "image_length": d.length, "hardware_ids": ["dc200-rev-a"],
        "release_counter": 5, "min_version": "2.4.0", "support_end": "2031-06-30",
        "sbom": "9".repeat(64),
    });
    let manifest = StatementBuilder::new(
        "acme.example",
        "model:acme/DC-200",
        payload.to_string().as_bytes(),
    )
    .content_type("application/json")
    .issued_at(1_780_000_000)
    .sign(&key);

    print!("building a log of {entries} entries... ");
    let t = Instant::now();
    // A release somewhere in the older part of the log: a full-length proof.
    let manifest_index = entries / 4 * 3 + 1;
    let mut tree = MemoryTree::new();
    for i in 0..entries {
        if i == manifest_index {
            tree.push(leaf_hash(&manifest));
        } else {
            tree.push(leaf_hash(&i.to_be_bytes()));
        }
    }
    println!("{:.1} s", t.elapsed().as_secs_f64());
    let log = Log {
        signer: Signer::generate("log.bench.test", &mut OsRng)?,
        witnesses: [
            Cosigner::generate("w1.bench.test", &mut OsRng)?,
            Cosigner::generate("w2.bench.test", &mut OsRng)?,
        ],
        tree,
        manifest,
        manifest_index,
    };
    // The device last updated half a log ago.
    let old = entries / 2 + 3;
    let kid = hex::encode(key.public_key().thumbprint());
    let state = TrustState {
        format: STATE_FORMAT.into(),
        policy: format!(
            "log {}\nwitness w1 {}\nwitness w2 {}\ngroup both 2 w1 w2\nquorum both\n",
            log.signer.vkey(),
            log.witnesses[0].vkey(),
            log.witnesses[1].vkey()
        ),
        manufacturer: "acme.example".into(),
        authority: None,
        model: "model:acme/DC-200".into(),
        hardware_id: "dc200-rev-a".into(),
        keys: vec![TrustedKey {
            owner: KeyOwner::Manufacturer,
            kid,
            pem: key.public_key().to_pem(),
            added: 1,
            revoked: None,
            not_before: None,
            not_after: None,
        }],
        checkpoint: log.checkpoint(old)?,
        release_counter: 4,
        version: "2.4.1".into(),
        min_version: None,
        manifest_entry: None,
    };
    let size = TreeSize::new(entries);
    let inclusion = prove_inclusion(LeafIndex::new(log.manifest_index), size, &log.tree)
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let consistency = prove_consistency(TreeSize::new(old), size, &log.tree)
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    ensure!(
        inclusion.len() as u64 == inclusion_len(log.manifest_index, entries)
            && consistency.len() as u64 == consistency_len(old, entries),
        "the proof-length formulas disagree with the proofs"
    );
    let proof = TlogProof {
        extra: None,
        index: LeafIndex::new(log.manifest_index),
        proof: inclusion.clone(),
        checkpoint: log.checkpoint(entries)?.into_bytes(),
    }
    .encode()?;
    let bundle = Bundle {
        format: BUNDLE_FORMAT.into(),
        manifest: ProvenStatement::new(&log.manifest, &proof),
        key_events: Vec::new(),
        consistency: ConsistencyProof {
            from: old,
            proof: consistency.iter().map(|h| h.to_base64()).collect(),
        },
    }
    .to_json();
    let accepted = verify(&d, &bundle, &state, &Options::default())
        .map_err(|r| anyhow::anyhow!("the bundle was refused: {r}"))?;
    ensure!(accepted.release_counter == 5);

    // Verifier time per check, digests computed beforehand.
    let runs = runs.max(5);
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        let a = verify(&d, &bundle, &state, &Options::default());
        times.push(t.elapsed());
        ensure!(a.is_ok());
    }
    let per_check = median(times);

    // Hashing throughput over 16 MiB.
    let buf = vec![0xa5u8; 16 * 1024 * 1024];
    let mut sha256 = Vec::new();
    let mut sha512 = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        std::hint::black_box(sha2::Sha256::digest(&buf));
        sha256.push(t.elapsed());
        let t = Instant::now();
        std::hint::black_box(sha2::Sha512::digest(&buf));
        sha512.push(t.elapsed());
    }
    let mib_s = |d: Duration| 16.0 / d.as_secs_f64();

    // Bundle size at 10^9: the measured one with the proof hashes of 10^9.
    // A hash is 44 base64 characters: 45 bytes as a tlog-proof line, 47 as
    // a JSON array item ("...",).
    let big: u64 = 1_000_000_000;
    let (big_index, big_old) = (big / 4 * 3 + 1, big / 2 + 3);
    let computed = bundle.len() as i64
        + 45 * (inclusion_len(big_index, big) as i64 - inclusion.len() as i64)
        + 47 * (consistency_len(big_old, big) as i64 - consistency.len() as i64)
        // The decimal numbers (index, size, from) grow by three digits each.
        + 3 * 4;

    println!("\nissue 18: the device's update check (median of {runs} checks)");
    println!("| figure | value |");
    println!("|---|---|");
    println!(
        "| verifier time per image check (digests given; 2 witnesses, consistency from size {old}) | {:.1} µs |",
        per_check.as_secs_f64() * 1e6
    );
    println!(
        "| SHA-256 throughput | {:.0} MiB/s (a 1 MiB image: {:.2} ms) |",
        mib_s(median(sha256.clone())),
        1000.0 / mib_s(median(sha256))
    );
    println!(
        "| SHA-512 throughput | {:.0} MiB/s |",
        mib_s(median(sha512))
    );
    println!(
        "| bundle size, log of {entries} entries (measured; {} inclusion + {} consistency hashes) | {} bytes |",
        inclusion.len(),
        consistency.len(),
        bundle.len()
    );
    println!(
        "| bundle size, log of 10^9 entries (computed; {} + {} hashes) | {computed} bytes |",
        inclusion_len(big_index, big),
        consistency_len(big_old, big)
    );
    println!(
        "| of which the manifest statement | {} bytes |",
        log.manifest.len()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proof_length_formulas_match_real_proofs() {
        let tree = MemoryTree::from_leaves((0..300u64).map(|i| leaf_hash(&i.to_be_bytes())));
        for n in 1..300u64 {
            for i in 0..n {
                let p = prove_inclusion(LeafIndex::new(i), TreeSize::new(n), &tree).unwrap();
                assert_eq!(p.len() as u64, inclusion_len(i, n), "inclusion {i} of {n}");
            }
            for m in 1..n {
                let p = prove_consistency(TreeSize::new(m), TreeSize::new(n), &tree).unwrap();
                assert_eq!(
                    p.len() as u64,
                    consistency_len(m, n),
                    "consistency {m} to {n}"
                );
            }
        }
    }
}

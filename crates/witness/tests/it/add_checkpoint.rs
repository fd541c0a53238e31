//! The witness core against c2sp.org/tlog-witness `add-checkpoint`: one test
//! per status code path, the persistence and atomicity requirements, and a
//! byte-level check of the cosignature (c2sp.org/tlog-cosignature) made with
//! ed25519-dalek directly rather than through tlog's verifier.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs
)]

use crate::common;

use std::sync::Arc;

use base64::Engine as _;
use common::*;
use tlog::{
    empty_root, verify_cosignature, Checkpoint, Cosigner, Note, Signer, TreeSize, Verifier,
};
use witness::{
    AddCheckpointError as E, BadRequestReason, ForbiddenReason, UnprocessableReason, Witness,
};

fn status(r: Result<String, E>) -> u16 {
    match r {
        Ok(_) => 200,
        Err(e) => e.status(),
    }
}

/// Verifies `lines` as cosignatures of `checkpoint_note` under the witness key.
fn assert_cosigned(w: &Witness, checkpoint_note: &[u8], lines: &str, want_ts: u64) {
    let mut full = checkpoint_note.to_vec();
    full.extend_from_slice(lines.as_bytes());
    let note = Note::parse(&full).unwrap();
    let v = Verifier::from_vkey(&w.vkey()).unwrap();
    assert_eq!(verify_cosignature(&note, &v).unwrap(), Some(want_ts));
}

// ---- 200 ----------------------------------------------------------------

#[test]
fn first_checkpoint_from_old_zero_is_cosigned() {
    let mut f = Fixture::new();
    let cp = f.log.checkpoint(5);
    let lines = f.witness.add_checkpoint(&body(0, &[], &cp)).unwrap();
    assert!(lines.starts_with("\u{2014} witness.example.com/w1 "));
    assert!(lines.ends_with('\n'));
    assert_eq!(lines.matches('\n').count(), 1);
    assert_cosigned(&f.witness, &cp, &lines, T0);
}

#[test]
fn cosignature_bytes_match_the_spec_message_checked_with_plain_ed25519() {
    // c2sp.org/tlog-cosignature: base64(keyID[4] || u64be timestamp || sig[64]),
    // sig over "cosignature/v1\ntime <t>\n" || checkpoint text; key ID =
    // SHA-256(name || "\n" || 0x04 || pubkey)[:4].
    use sha2::Digest;
    let mut f = Fixture::new();
    f.clock.set(1_679_315_147_000);
    let cp = f.log.checkpoint(3);
    let line = f.witness.add_checkpoint(&body(0, &[], &cp)).unwrap();
    let vkey = f.witness.vkey();
    let mut parts = vkey.splitn(3, '+');
    let (name, id_hex, key_b64) = (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap(),
    );
    assert_eq!(name, WITNESS_NAME);
    let key = base64::engine::general_purpose::STANDARD
        .decode(key_b64)
        .unwrap();
    assert_eq!(key[0], 0x04);
    let pk: [u8; 32] = key[1..].try_into().unwrap();
    let mut h = sha2::Sha256::new();
    h.update(name.as_bytes());
    h.update(b"\n\x04");
    h.update(pk);
    assert_eq!(id_hex, hex::encode(&h.finalize()[..4]));

    let b64 = line
        .strip_prefix(&format!("\u{2014} {name} "))
        .unwrap()
        .trim_end();
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap();
    assert_eq!(raw.len(), 4 + 8 + 64);
    assert_eq!(hex::encode(&raw[..4]), id_hex);
    assert_eq!(
        u64::from_be_bytes(raw[4..12].try_into().unwrap()),
        1_679_315_147
    );
    let text = std::str::from_utf8(&cp)
        .unwrap()
        .split("\n\n")
        .next()
        .unwrap()
        .to_owned()
        + "\n";
    let msg = format!("cosignature/v1\ntime 1679315147\n{text}");
    let vk = ed25519_dalek::VerifyingKey::from_bytes(&pk).unwrap();
    let sig = ed25519_dalek::Signature::from_bytes(&raw[12..].try_into().unwrap());
    vk.verify_strict(msg.as_bytes(), &sig).unwrap();
    // And it is not a signature over the bare text (domain separation).
    assert!(vk.verify_strict(text.as_bytes(), &sig).is_err());
}

#[test]
fn growth_with_a_valid_proof_is_cosigned() {
    let mut f = Fixture::new();
    f.witness.add_checkpoint(&f.log.body(0, 5)).unwrap();
    f.clock.set((T0 + 10) * 1000);
    for (old, new) in [(5, 6), (6, 13), (13, 16), (16, 17), (17, 100)] {
        let b = f.log.body(old, new);
        let lines = f.witness.add_checkpoint(&b).unwrap();
        assert_cosigned(&f.witness, &f.log.checkpoint(new), &lines, T0 + 10);
    }
}

#[test]
fn same_size_same_root_is_cosigned_again_with_an_empty_proof() {
    let mut f = Fixture::new();
    f.witness.add_checkpoint(&f.log.body(0, 7)).unwrap();
    f.clock.set((T0 + 60) * 1000);
    let lines = f.witness.add_checkpoint(&f.log.body(7, 7)).unwrap();
    assert_cosigned(&f.witness, &f.log.checkpoint(7), &lines, T0 + 60);
}

#[test]
fn empty_tree_checkpoint_is_cosigned() {
    let mut f = Fixture::new();
    let cp = f.log.checkpoint(0);
    let lines = f.witness.add_checkpoint(&body(0, &[], &cp)).unwrap();
    assert_cosigned(&f.witness, &cp, &lines, T0);
}

#[test]
fn signatures_from_unknown_keys_are_ignored() {
    let mut f = Fixture::new();
    let mut cp = f.log.checkpoint(4);
    let stranger = Signer::generate("someone.else/key", &mut rand_core::OsRng).unwrap();
    let text = std::str::from_utf8(&cp)
        .unwrap()
        .split("\n\n")
        .next()
        .unwrap()
        .to_owned()
        + "\n";
    cp.extend_from_slice(stranger.sign_line(&text).as_bytes());
    // Same name as the log, other key: also ignored (name and ID must match).
    let impostor = Signer::generate(ORIGIN, &mut rand_core::OsRng).unwrap();
    cp.extend_from_slice(impostor.sign_line(&text).as_bytes());
    assert_eq!(status(f.witness.add_checkpoint(&body(0, &[], &cp))), 200);
}

// ---- 400 ----------------------------------------------------------------

#[test]
fn malformed_bodies_are_400() {
    let mut f = Fixture::new();
    let cp = f.log.checkpoint(3);
    let h = empty_root().to_base64();
    let cases: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"garbage".to_vec(),
        [b"old 00\n\n".as_slice(), &cp].concat(),
        [b"old x\n\n".as_slice(), &cp].concat(),
        [b"old 1\nnot-base64\n\n".as_slice(), &cp].concat(),
        [b"old 0\n".as_slice(), &cp].concat(), // no empty line after the old line
        [
            format!("old 0\n{h}").as_bytes(),
            b"\n\n",
            &cp[..cp.len() - 1],
        ]
        .concat(), // checkpoint without final newline
        body(
            0,
            &[],
            b"example.com/sectwin-test-log\n3\nnot-a-root\n\n\xe2\x80\x94 x AAAAAAAA\n",
        ),
        body(0, &[], b"no signatures\n"),
    ];
    for b in cases {
        match f.witness.add_checkpoint(&b) {
            Err(E::BadRequest(BadRequestReason::Malformed(_))) => {}
            other => panic!("{:?}: {other:?}", String::from_utf8_lossy(&b)),
        }
    }
}

#[test]
fn more_than_63_proof_lines_is_400() {
    let mut f = Fixture::new();
    let cp = f.log.checkpoint(3);
    let proof = vec![empty_root(); 64];
    let r = f.witness.add_checkpoint(&body(0, &proof, &cp));
    assert!(
        matches!(r, Err(E::BadRequest(BadRequestReason::Malformed(_)))),
        "{r:?}"
    );
    assert_eq!(status(r), 400);
}

#[test]
fn old_size_larger_than_checkpoint_size_is_400() {
    let mut f = Fixture::new();
    let cp = f.log.checkpoint(3);
    let r = f.witness.add_checkpoint(&body(4, &[], &cp));
    assert!(matches!(
        r,
        Err(E::BadRequest(BadRequestReason::OldSizeAboveSize { old, size }))
            if old == TreeSize::new(4) && size == TreeSize::new(3)
    ));
}

#[test]
fn oversized_body_is_400_before_parsing() {
    let f = Fixture::new();
    let b = vec![b'a'; witness::ADD_CHECKPOINT_BODY_BYTES_MAX + 1];
    assert!(matches!(
        f.witness.add_checkpoint(&b),
        Err(E::BadRequest(BadRequestReason::BodyTooLarge))
    ));
}

// ---- 403 / 404 ----------------------------------------------------------

#[test]
fn unknown_origin_is_404() {
    let f = Fixture::new();
    let mut other = TestLog::new("example.com/not-configured", "x");
    let r = f.witness.add_checkpoint(&other.body(0, 2));
    assert!(matches!(r, Err(E::UnknownOrigin)));
    assert_eq!(status(r), 404);
}

#[test]
fn no_signature_from_a_trusted_key_is_403() {
    let f = Fixture::new();
    // Right origin, but signed by a different key of the same name.
    let mut impostor = f.log.fork("leaf");
    impostor.signer = Signer::generate(ORIGIN, &mut rand_core::OsRng).unwrap();
    let r = f.witness.add_checkpoint(&impostor.body(0, 2));
    assert!(
        matches!(r, Err(E::Forbidden(ForbiddenReason::NoTrustedSignature))),
        "{r:?}"
    );
    assert_eq!(status(r), 403);
}

#[test]
fn failing_signature_from_a_trusted_key_is_403() {
    let mut f = Fixture::new();
    let cp = f.log.checkpoint(2);
    // Same text with a different size: the log's signature line no longer fits.
    let s = String::from_utf8(cp).unwrap();
    let sig = s.split("\n\n").nth(1).unwrap();
    let forged = format!("{ORIGIN}\n3\n{}\n\n{sig}", f.log.root(2).to_base64());
    let r = f.witness.add_checkpoint(&body(0, &[], forged.as_bytes()));
    assert!(
        matches!(r, Err(E::Forbidden(ForbiddenReason::BadSignature))),
        "{r:?}"
    );
    // A good signature next to a bad one from the trusted key is still refused.
    let good = f.log.checkpoint(3);
    let both = [good.as_slice(), sig.as_bytes()].concat();
    let r = f.witness.add_checkpoint(&body(0, &[], &both));
    assert!(
        matches!(r, Err(E::Forbidden(ForbiddenReason::BadSignature))),
        "{r:?}"
    );
}

// ---- 409 ----------------------------------------------------------------

#[test]
fn old_size_not_matching_latest_is_409_with_latest_size() {
    let mut f = Fixture::new();
    // Never cosigned: latest is 0.
    let r = f.witness.add_checkpoint(&f.log.body(3, 8));
    assert!(
        matches!(r, Err(E::Conflict { latest }) if latest == TreeSize::new(0)),
        "{r:?}"
    );
    f.witness.add_checkpoint(&f.log.body(0, 8)).unwrap();
    for old in [0, 3, 9] {
        let b = f.log.body(old, 10);
        let r = f.witness.add_checkpoint(&b);
        assert!(
            matches!(r, Err(E::Conflict { latest }) if latest == TreeSize::new(8)),
            "old {old}: {r:?}"
        );
    }
    // A smaller checkpoint is a 409 too: the witness never goes back.
    let r = f.witness.add_checkpoint(&f.log.body(0, 5));
    assert_eq!(status(r), 409);
}

// ---- 422 ----------------------------------------------------------------

#[test]
fn size_zero_with_a_non_empty_root_is_422() {
    let f = Fixture::new();
    let cp = Checkpoint::new(ORIGIN, TreeSize::new(0), tlog::leaf_hash(b"x")).unwrap();
    let note = tlog::sign_checkpoint(&cp, &f.log.signer);
    let r = f.witness.add_checkpoint(&body(0, &[], &note));
    assert!(
        matches!(r, Err(E::Unprocessable(UnprocessableReason::EmptyTreeRoot))),
        "{r:?}"
    );
    assert_eq!(status(r), 422);
}

#[test]
fn proof_lines_with_old_size_zero_is_422() {
    let mut f = Fixture::new();
    let cp = f.log.checkpoint(4);
    let proof = f.log.proof(2, 4);
    let r = f.witness.add_checkpoint(&body(0, &proof, &cp));
    assert!(
        matches!(
            r,
            Err(E::Unprocessable(UnprocessableReason::ProofFromEmptyTree))
        ),
        "{r:?}"
    );
}

#[test]
fn same_size_different_root_is_422_and_kept_as_evidence() {
    let mut f = Fixture::new();
    f.witness.add_checkpoint(&f.log.body(0, 6)).unwrap();
    let mut fork = f.log.fork("forked");
    let r = f.witness.add_checkpoint(&fork.body(6, 6));
    assert!(
        matches!(
            r,
            Err(E::Unprocessable(UnprocessableReason::SameSizeDifferentRoot))
        ),
        "{r:?}"
    );
    assert_eq!(status(r), 422);
    let evidence = evidence_file(&f);
    assert!(evidence.contains("same size as the latest cosigned checkpoint, different root"));
    assert!(evidence.contains(&fork.root(6).to_base64()));
}

#[test]
fn bad_consistency_proof_is_422_and_kept_as_evidence() {
    let mut f = Fixture::new();
    f.witness.add_checkpoint(&f.log.body(0, 6)).unwrap();
    // A fork of size 9 with a proof from its own 6: does not fit the cosigned root.
    let mut fork = f.log.fork("forked");
    let r = f.witness.add_checkpoint(&fork.body(6, 9));
    assert!(
        matches!(r, Err(E::Unprocessable(UnprocessableReason::BadProof(_)))),
        "{r:?}"
    );
    // The honest checkpoint with a truncated proof.
    let mut proof = f.log.proof(6, 9);
    proof.pop();
    let cp = f.log.checkpoint(9);
    let r = f.witness.add_checkpoint(&body(6, &proof, &cp));
    assert!(
        matches!(r, Err(E::Unprocessable(UnprocessableReason::BadProof(_)))),
        "{r:?}"
    );
    assert_eq!(evidence_file(&f).matches("evidence v1 ").count(), 2);
    // And the honest, proven one still goes through: nothing was recorded.
    assert_eq!(status(f.witness.add_checkpoint(&f.log.body(6, 9))), 200);
}

#[test]
fn forked_checkpoint_at_cosigned_size_with_wrong_old_is_409_but_kept_as_evidence() {
    let mut f = Fixture::new();
    f.witness.add_checkpoint(&f.log.body(0, 6)).unwrap();
    let mut fork = f.log.fork("forked");
    assert_eq!(status(f.witness.add_checkpoint(&fork.body(0, 6))), 409);
    assert!(evidence_file(&f).contains("same size different root (409)"));
}

fn evidence_file(f: &Fixture) -> String {
    use sha2::Digest;
    let name = hex::encode(sha2::Sha256::digest(ORIGIN.as_bytes()));
    std::fs::read_to_string(
        f.dir
            .path()
            .join("evidence")
            .join(format!("{name}.evidence")),
    )
    .unwrap()
}

// ---- persistence, atomicity, 500 ----------------------------------------

#[test]
fn state_survives_restart_and_an_inconsistent_checkpoint_is_then_refused() {
    let mut f = Fixture::new();
    f.witness.add_checkpoint(&f.log.body(0, 10)).unwrap();
    f.restart();
    // The restarted witness still knows size 10 ...
    let mut fork = f.log.fork("forked");
    assert!(
        matches!(f.witness.add_checkpoint(&fork.body(0, 12)), Err(E::Conflict { latest }) if latest == TreeSize::new(10))
    );
    // ... and its root: a fork from 10 does not verify, same size different root neither.
    assert_eq!(status(f.witness.add_checkpoint(&fork.body(10, 12))), 422);
    assert_eq!(status(f.witness.add_checkpoint(&fork.body(10, 10))), 422);
    // The honest continuation does.
    assert_eq!(status(f.witness.add_checkpoint(&f.log.body(10, 12))), 200);
    f.restart();
    assert!(
        matches!(f.witness.add_checkpoint(&f.log.body(10, 13)), Err(E::Conflict { latest }) if latest == TreeSize::new(12))
    );
}

#[test]
fn latest_checkpoint_serves_log_signature_and_cosignature_and_survives_restart() {
    let mut f = Fixture::new();
    use sha2::Digest;
    let hash = hex::encode(sha2::Sha256::digest(ORIGIN.as_bytes()));
    assert_eq!(f.witness.latest_checkpoint(&hash).unwrap(), None);
    // An unknown key's line is not served back: only what the witness verified.
    let mut cp = f.log.checkpoint(4);
    let stranger = Signer::generate("someone.else/key", &mut rand_core::OsRng).unwrap();
    let text = std::str::from_utf8(&cp)
        .unwrap()
        .split("\n\n")
        .next()
        .unwrap()
        .to_owned()
        + "\n";
    cp.extend_from_slice(stranger.sign_line(&text).as_bytes());
    let line = f.witness.add_checkpoint(&body(0, &[], &cp)).unwrap();
    f.restart();
    let served = f.witness.latest_checkpoint(&hash).unwrap().unwrap();
    let (parsed, note) = tlog::open_checkpoint(&served, &f.log.signer.verifier()).unwrap();
    assert_eq!(parsed.size(), TreeSize::new(4));
    let v = Verifier::from_vkey(&f.witness.vkey()).unwrap();
    assert_eq!(verify_cosignature(&note, &v).unwrap(), Some(T0));
    assert_eq!(note.signatures().len(), 2);
    assert!(String::from_utf8(served).unwrap().ends_with(&line));
    // Bad hashes are refused, not turned into paths.
    assert!(f.witness.latest_checkpoint("../../etc/passwd").is_err());
    assert!(f.witness.latest_checkpoint(&hash.to_uppercase()).is_err());
}

#[test]
fn concurrent_submissions_never_roll_back() {
    // The spec's race: requests with sizes N and N+K both checked against
    // the same state. With the per-origin lock exactly one from-0 request wins
    // and every other gets 409, whatever the interleaving.
    let mut f = Fixture::new();
    let bodies: Vec<Vec<u8>> = (1..=16).map(|n| f.log.body(0, n * 3)).collect();
    let w = Arc::new(f.witness);
    let handles: Vec<_> = bodies
        .into_iter()
        .map(|b| {
            let w = w.clone();
            std::thread::spawn(move || status(w.add_checkpoint(&b)))
        })
        .collect();
    let statuses: Vec<u16> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        15,
        "{statuses:?}"
    );
}

#[test]
fn a_failed_write_is_500_and_the_origin_stays_refused_until_restart() {
    let mut f = Fixture::new();
    f.witness.add_checkpoint(&f.log.body(0, 3)).unwrap();
    // Make the next write fail: the checkpoints directory becomes a file.
    let dir = f.dir.path().join("checkpoints");
    let saved = f.dir.path().join("checkpoints.saved");
    std::fs::rename(&dir, &saved).unwrap();
    std::fs::write(&dir, b"not a directory").unwrap();
    let r = f.witness.add_checkpoint(&f.log.body(3, 5));
    assert!(matches!(r, Err(E::Storage(_))), "{r:?}");
    assert_eq!(status(r), 500);
    // Even once the disk is back, this process does not trust its memory.
    std::fs::remove_file(&dir).unwrap();
    std::fs::rename(&saved, &dir).unwrap();
    assert_eq!(status(f.witness.add_checkpoint(&f.log.body(3, 5))), 500);
    f.restart();
    assert_eq!(status(f.witness.add_checkpoint(&f.log.body(3, 5))), 200);
}

#[test]
fn clock_at_zero_is_500_and_nothing_is_recorded() {
    let mut f = Fixture::new();
    f.clock.set(0);
    let r = f.witness.add_checkpoint(&f.log.body(0, 3));
    assert!(matches!(r, Err(E::ClockUnset)), "{r:?}");
    f.clock.set(T0 * 1000);
    assert_eq!(status(f.witness.add_checkpoint(&f.log.body(0, 3))), 200);
}

#[test]
fn a_second_witness_on_the_same_state_directory_fails_to_open() {
    let f = Fixture::new();
    let r = Witness::open(
        f.dir.path(),
        cosigner(),
        vec![f.log.signer.verifier()],
        f.clock.clone(),
    );
    assert!(matches!(r, Err(witness::WitnessError::Io(_))), "{r:?}");
}

#[test]
fn corrupt_state_refuses_to_open() {
    let mut f = Fixture::new();
    f.witness.add_checkpoint(&f.log.body(0, 3)).unwrap();
    use sha2::Digest;
    let name = hex::encode(sha2::Sha256::digest(ORIGIN.as_bytes()));
    let path = f
        .dir
        .path()
        .join("checkpoints")
        .join(format!("{name}.cosigned"));
    let placeholder = tempfile::tempdir().unwrap();
    let old = std::mem::replace(
        &mut f.witness,
        open(placeholder.path(), &f.skey, &f.log, f.clock.clone()),
    );
    drop(old);
    std::fs::write(&path, b"truncated").unwrap();
    let r = Witness::open(
        f.dir.path(),
        Cosigner::from_skey(&f.skey).unwrap(),
        vec![f.log.signer.verifier()],
        f.clock.clone(),
    );
    assert!(
        matches!(r, Err(witness::WitnessError::CorruptState { .. })),
        "{r:?}"
    );
}

#[test]
fn spec_example_request_body_is_well_formed_and_its_origin_unknown_here() {
    // The example body of c2sp.org/tlog-witness "add-checkpoint", verbatim: it
    // must get past the 400 checks (parsed as a request and a signed note) and
    // stop at 404 because this witness does not know example.com/behind-the-sofa.
    let body = "old 20852014\n\
PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=\n\
jrJZDmY8Y7SyJE0MWLpLozkIVMSMZcD5kvuKxPC3swk=\n\
5+pKlUdi2LeF/BcMHBn+Ku6yhPGNCswZZD1X/6QgPd8=\n\
/6WVhPs2CwSsb5rYBH5cjHV/wSmA79abXAwhXw3Kj/0=\n\
\n\
example.com/behind-the-sofa\n\
20852163\n\
CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\
\n\
\u{2014} example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n\
\u{2014} example.com/behind-the-sofa opLqBQsREYCgu6xQkYQwJr9fo45a62DN9EdmHXnZdXNqlcVGlCum2Wks+49/V6267UEjw6QUXTS5Rovnzv++qbSzm9Q=\n";
    let f = Fixture::new();
    let r = f.witness.add_checkpoint(body.as_bytes());
    assert!(matches!(r, Err(E::UnknownOrigin)), "{r:?}");
}

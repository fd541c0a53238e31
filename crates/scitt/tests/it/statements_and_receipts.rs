//! Signed Statements and receipts, end to end within the crate: every
//! algorithm and payload form signs, parses and verifies; every required
//! header's absence and every tampering is refused with its own error; a
//! receipt from a real Merkle tree (`tlog::MemoryTree`) verifies for its
//! statement and for nothing else.

use ciborium::Value;
use coset::{CoseSign1Builder, HeaderBuilder, TaggedCborSerializable};
use scitt::{
    issue_receipt, labels, verify_receipt, Algorithm, ReceiptClaims, ReceiptError, SignedStatement,
    SigningKey, StatementBuilder, StatementError,
};
use tlog::{LeafIndex, MemoryTree, TreeSize};

fn key(alg: Algorithm) -> SigningKey {
    SigningKey::generate(alg, &mut rand_core::OsRng)
}

#[test]
fn attached_detached_and_hash_envelope_statements_verify_with_both_algorithms() {
    for alg in [Algorithm::EdDSA, Algorithm::ES256] {
        let k = key(alg);
        let pk = k.public_key();
        let payload = br#"{"firmware":"2.1.0"}"#;

        let bytes = StatementBuilder::new("acme.example", "device:door-7", payload)
            .content_type("application/json")
            .issued_at(1_790_000_000)
            .sign(&k);
        let s = SignedStatement::parse(&bytes).expect("parse");
        assert_eq!(s.issuer(), "acme.example");
        assert_eq!(s.subject(), "device:door-7");
        assert_eq!(s.content_type(), Some("application/json"));
        assert_eq!(s.issued_at(), Some(1_790_000_000));
        assert_eq!(s.algorithm(), alg);
        assert_eq!(s.key_id(), pk.thumbprint());
        assert_eq!(s.payload(), Some(&payload[..]));
        assert_eq!(s.bytes(), bytes.as_slice());
        s.verify(&pk).expect("verify");
        // Found by fuzzing: a detached verification of an attached statement
        // is an error, not a panic.
        assert_eq!(
            s.verify_detached(&pk, payload),
            Err(StatementError::AttachedPayload)
        );

        let detached = StatementBuilder::new("acme.example", "device:door-7", payload)
            .detached()
            .sign(&k);
        let s = SignedStatement::parse(&detached).expect("parse detached");
        assert_eq!(s.verify(&pk), Err(StatementError::DetachedPayload));
        s.verify_detached(&pk, payload).expect("verify detached");
        assert!(matches!(
            s.verify_detached(&pk, b"other"),
            Err(StatementError::Signature(_))
        ));

        let sbom = vec![b'{'; 200_000];
        let envelope = StatementBuilder::new("acme.example", "fw:2.1.0", &sbom)
            .content_type("application/vnd.cyclonedx+json")
            .hash_envelope(Some("https://acme.example/sbom/2.1.0.json"))
            .sign(&k);
        assert!(
            envelope.len() < 1000,
            "the envelope carries only the digest"
        );
        let s = SignedStatement::parse(&envelope).expect("parse envelope");
        let ph = s.payload_hash().expect("hash envelope");
        assert_eq!(ph.alg, labels::ALG_SHA256);
        assert_eq!(
            ph.preimage_content_type.as_deref(),
            Some("application/vnd.cyclonedx+json")
        );
        assert_eq!(
            ph.location.as_deref(),
            Some("https://acme.example/sbom/2.1.0.json")
        );
        s.verify(&pk).expect("verify envelope");
        s.check_preimage(&sbom).expect("preimage");
        assert_eq!(
            s.check_preimage(b"not the sbom"),
            Err(StatementError::PayloadHashMismatch)
        );
    }
}

#[test]
fn a_tampered_statement_or_the_wrong_key_is_refused() {
    let k = key(Algorithm::EdDSA);
    let other = key(Algorithm::EdDSA);
    let p256 = key(Algorithm::ES256);
    let bytes = StatementBuilder::new("acme.example", "device:1", b"payload").sign(&k);
    let s = SignedStatement::parse(&bytes).expect("parse");
    assert!(matches!(
        s.verify(&other.public_key()),
        Err(StatementError::Signature(_))
    ));
    assert!(matches!(
        s.verify(&p256.public_key()),
        Err(StatementError::AlgorithmMismatch { .. })
    ));
    // Flip one byte of the payload (found by content) and re-parse.
    let pos = bytes
        .windows(7)
        .position(|w| w == b"payload")
        .expect("payload bytes");
    let mut tampered = bytes.clone();
    tampered[pos] ^= 1;
    let s = SignedStatement::parse(&tampered).expect("still parses");
    assert!(matches!(
        s.verify(&k.public_key()),
        Err(StatementError::Signature(_))
    ));
}

/// Builds a statement with a hand-made protected header.
fn raw_statement(header: coset::Header) -> Vec<u8> {
    let k = key(Algorithm::EdDSA);
    CoseSign1Builder::new()
        .protected(header)
        .payload(b"x".to_vec())
        .create_signature(b"", |d| k.sign(d))
        .build()
        .to_tagged_vec()
        .expect("encode")
}

fn claims(iss: Option<Value>, sub: Option<Value>) -> Value {
    let mut m = Vec::new();
    if let Some(i) = iss {
        m.push((Value::from(1), i));
    }
    if let Some(s) = sub {
        m.push((Value::from(2), s));
    }
    Value::Map(m)
}

/// (name, protected header, the error expected).
type Case = (&'static str, coset::Header, fn(&StatementError) -> bool);

#[test]
fn every_missing_or_malformed_required_header_has_its_own_error() {
    let good_claims = || claims(Some(Value::Text("i".into())), Some(Value::Text("s".into())));
    let eddsa = coset::iana::Algorithm::EdDSA;
    let cases: Vec<Case> = vec![
        (
            "no alg",
            HeaderBuilder::new()
                .key_id(b"k".to_vec())
                .value(15, good_claims())
                .build(),
            |e| matches!(e, StatementError::MissingAlgorithm),
        ),
        (
            "ES384",
            HeaderBuilder::new()
                .algorithm(coset::iana::Algorithm::ES384)
                .key_id(b"k".to_vec())
                .value(15, good_claims())
                .build(),
            |e| matches!(e, StatementError::UnsupportedAlgorithm(_)),
        ),
        (
            "no kid",
            HeaderBuilder::new()
                .algorithm(eddsa)
                .value(15, good_claims())
                .build(),
            |e| matches!(e, StatementError::MissingKeyId),
        ),
        (
            "no claims",
            HeaderBuilder::new()
                .algorithm(eddsa)
                .key_id(b"k".to_vec())
                .build(),
            |e| matches!(e, StatementError::MissingClaims),
        ),
        (
            "claims not a map",
            HeaderBuilder::new()
                .algorithm(eddsa)
                .key_id(b"k".to_vec())
                .value(15, Value::Text("x".into()))
                .build(),
            |e| matches!(e, StatementError::BadHeader { label: 15, .. }),
        ),
        (
            "no iss",
            HeaderBuilder::new()
                .algorithm(eddsa)
                .key_id(b"k".to_vec())
                .value(15, claims(None, Some(Value::Text("s".into()))))
                .build(),
            |e| matches!(e, StatementError::BadIssuer(_)),
        ),
        (
            "iss not text",
            HeaderBuilder::new()
                .algorithm(eddsa)
                .key_id(b"k".to_vec())
                .value(
                    15,
                    claims(Some(Value::from(7)), Some(Value::Text("s".into()))),
                )
                .build(),
            |e| matches!(e, StatementError::BadIssuer(_)),
        ),
        (
            "no sub",
            HeaderBuilder::new()
                .algorithm(eddsa)
                .key_id(b"k".to_vec())
                .value(15, claims(Some(Value::Text("i".into())), None))
                .build(),
            |e| matches!(e, StatementError::BadSubject(_)),
        ),
        (
            "empty sub",
            HeaderBuilder::new()
                .algorithm(eddsa)
                .key_id(b"k".to_vec())
                .value(
                    15,
                    claims(
                        Some(Value::Text("i".into())),
                        Some(Value::Text(String::new())),
                    ),
                )
                .build(),
            |e| matches!(e, StatementError::BadSubject(_)),
        ),
        (
            "SHA-384 hash envelope",
            HeaderBuilder::new()
                .algorithm(eddsa)
                .key_id(b"k".to_vec())
                .value(15, good_claims())
                .value(258, Value::from(-43))
                .build(),
            |e| matches!(e, StatementError::BadHeader { label: 258, .. }),
        ),
    ];
    let n = cases.len();
    for (name, header, expected) in cases {
        let bytes = raw_statement(header);
        match SignedStatement::parse(&bytes) {
            Err(e) => assert!(expected(&e), "{name}: unexpected error {e}"),
            Ok(_) => panic!("{name}: accepted"),
        }
    }
    assert_eq!(n, 10);
    // Not CBOR, not COSE_Sign1, too large.
    assert!(matches!(
        SignedStatement::parse(b"\xff\x00garbage"),
        Err(StatementError::Malformed(_))
    ));
    assert!(matches!(
        SignedStatement::parse(&[0x80]),
        Err(StatementError::Malformed(_))
    ));
    assert!(matches!(
        SignedStatement::parse(&vec![0u8; scitt::STATEMENT_BYTES_MAX + 1]),
        Err(StatementError::TooLarge { .. })
    ));
}

#[test]
fn receipts_from_a_real_tree_verify_for_their_statement_only() {
    for alg in [Algorithm::EdDSA, Algorithm::ES256] {
        let issuer_key = key(Algorithm::EdDSA);
        let service = key(alg);
        let statements: Vec<Vec<u8>> = (0..13)
            .map(|i| {
                StatementBuilder::new("acme.example", &format!("device:{i}"), b"fact")
                    .sign(&issuer_key)
            })
            .collect();
        let tree = MemoryTree::from_leaves(statements.iter().map(|s| tlog::leaf_hash(s)));
        let size = tree.size();
        let root = tree.root();
        for (i, statement) in statements.iter().enumerate() {
            let index = LeafIndex::new(i as u64);
            let path = tlog::prove_inclusion(index, size, &tree).expect("proof");
            let claims = ReceiptClaims {
                issuer: "sectwin.example/log".into(),
                subject: format!("device:{i}"),
                issued_at: Some(1_790_000_000),
            };
            let receipt = issue_receipt(&service, &claims, size, index, &path, &root);
            let v = verify_receipt(&receipt, statement, &service.public_key())
                .unwrap_or_else(|e| panic!("receipt {i}: {e}"));
            assert_eq!(v.leaf_index, index);
            assert_eq!(v.tree_size, size);
            assert_eq!(v.root, root);
            assert_eq!(v.claims.as_ref(), Some(&claims));
            // Another statement, another key: refused.
            let other = &statements[(i + 1) % statements.len()];
            assert!(matches!(
                verify_receipt(&receipt, other, &service.public_key()),
                Err(ReceiptError::Signature(_))
            ));
            assert!(verify_receipt(&receipt, statement, &key(alg).public_key()).is_err());
        }
        // A tampered proof hash fails the signature over the recomputed root.
        let index = LeafIndex::new(5);
        let mut path = tlog::prove_inclusion(index, size, &tree).expect("proof");
        let claims = ReceiptClaims {
            issuer: "i".into(),
            subject: "s".into(),
            issued_at: None,
        };
        let good = issue_receipt(&service, &claims, size, index, &path, &root);
        let first = path[0];
        path[0] = tlog::leaf_hash(b"evil");
        let bad = issue_receipt(&service, &claims, size, index, &path, &root);
        assert!(verify_receipt(&bad, &statements[5], &service.public_key()).is_err());
        path[0] = first;
        // Wrong tree size for the path length: a proof error.
        let wrong = issue_receipt(&service, &claims, TreeSize::new(1000), index, &path, &root);
        assert!(matches!(
            verify_receipt(&wrong, &statements[5], &service.public_key()),
            Err(ReceiptError::Proof(_))
        ));
        assert!(verify_receipt(&good, &statements[5], &service.public_key()).is_ok());
        assert!(matches!(
            verify_receipt(b"\x00", &statements[5], &service.public_key()),
            Err(ReceiptError::Malformed(_))
        ));
    }
}

#[test]
fn a_transparent_statement_carries_receipts_without_changing_the_signed_part() {
    let k = key(Algorithm::ES256);
    let bytes = StatementBuilder::new("acme.example", "device:1", b"payload").sign(&k);
    let with = scitt::attach_receipts(&bytes, &[vec![1, 2, 3]]).expect("attach");
    let s = SignedStatement::parse(&with).expect("parse");
    s.verify(&k.public_key()).expect("signature still verifies");
}

#[test]
fn verify_many_batches_ed25519_and_still_names_each_bad_statement() {
    let ed = key(Algorithm::EdDSA);
    let p256 = key(Algorithm::ES256);
    let other = key(Algorithm::EdDSA);
    let sign = |k: &SigningKey, n: usize| {
        SignedStatement::parse(
            &StatementBuilder::new("i.example", &format!("device:{n}"), b"{}").sign(k),
        )
        .expect("parse")
    };
    let good: Vec<SignedStatement> = (0..20).map(|n| sign(&ed, n)).collect();
    let pk = ed.public_key();
    let items: Vec<(&SignedStatement, &scitt::PublicKey)> = good.iter().map(|s| (s, &pk)).collect();
    assert!(scitt::verify_many(&items).iter().all(Result::is_ok));

    let es = sign(&p256, 100);
    let es_pk = p256.public_key();
    let other_pk = other.public_key();
    let mut mixed: Vec<(&SignedStatement, &scitt::PublicKey)> = items.clone();
    mixed.insert(3, (&es, &es_pk)); // ES256, verified alone: ok
    mixed.insert(7, (&good[0], &other_pk)); // wrong Ed25519 key: the batch fails
    mixed.insert(9, (&es, &pk)); // algorithm mismatch
    let results = scitt::verify_many(&mixed);
    assert_eq!(results.len(), 23);
    for (i, r) in results.iter().enumerate() {
        match i {
            7 => assert!(matches!(r, Err(StatementError::Signature(_))), "{i}: {r:?}"),
            9 => assert!(
                matches!(r, Err(StatementError::AlgorithmMismatch { .. })),
                "{i}: {r:?}"
            ),
            _ => assert!(r.is_ok(), "{i}: {r:?}"),
        }
    }
    assert!(scitt::verify_many(&[]).is_empty());
}

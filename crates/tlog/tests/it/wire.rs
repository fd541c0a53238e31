//! tlog-witness add-checkpoint wire format, tlog-policy and tlog-proof tests,
//! including rejection tests pinning exact error variants.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use rand_core::OsRng;
use tlog::witness_wire::{encode_size_body, parse_add_checkpoint_response};
use tlog::{
    leaf_hash, parse_size_body, prove_consistency, prove_inclusion, sign_checkpoint,
    AddCheckpointRequest, Checkpoint, Cosigner, Hash, LeafIndex, MemoryTree, Policy, PolicyBuilder,
    PolicyError, Signer, Threshold, TlogProof, TlogProofError, TreeSize, WitnessWireError,
};

const SPEC_REQUEST: &str = "old 20852014
PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=
jrJZDmY8Y7SyJE0MWLpLozkIVMSMZcD5kvuKxPC3swk=
5+pKlUdi2LeF/BcMHBn+Ku6yhPGNCswZZD1X/6QgPd8=
/6WVhPs2CwSsb5rYBH5cjHV/wSmA79abXAwhXw3Kj/0=

example.com/behind-the-sofa
20852163
CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=

\u{2014} example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=
\u{2014} example.com/behind-the-sofa opLqBQsREYCgu6xQkYQwJr9fo45a62DN9EdmHXnZdXNqlcVGlCum2Wks+49/V6267UEjw6QUXTS5Rovnzv++qbSzm9Q=
";

#[test]
fn add_checkpoint_request() {
    let r = AddCheckpointRequest::parse(SPEC_REQUEST.as_bytes()).unwrap();
    assert_eq!(r.old_size, TreeSize::new(20852014));
    assert_eq!(r.proof.len(), 4);
    assert!(r.checkpoint.starts_with(b"example.com/behind-the-sofa\n"));
    assert_eq!(r.encode().unwrap(), SPEC_REQUEST.as_bytes());
    let r0 = AddCheckpointRequest::parse(b"old 0\n\ncp\n").unwrap();
    assert_eq!(r0.old_size, TreeSize::new(0));
    assert!(r0.proof.is_empty());

    let h = Hash::from_bytes([1; 32]).to_base64();
    let cp = "o\n1\nx\n\n\u{2014} o AAAAAAA=\n";
    let cases: Vec<(String, WitnessWireError)> = vec![
        (
            format!("old 1\n{}\n{cp}", format!("{h}\n").repeat(64)),
            WitnessWireError::TooManyProofLines,
        ),
        (
            format!("old 1\n{h}\n{cp}"),
            WitnessWireError::BadProofLine(1),
        ),
        (format!("old 1\n{h}\n"), WitnessWireError::MissingBlankLine),
        ("old 1\n".to_string(), WitnessWireError::MissingBlankLine),
        ("old 1".to_string(), WitnessWireError::MissingOldLine),
        (
            format!("old 01\n\n{cp}"),
            WitnessWireError::OldSizeLeadingZero,
        ),
        (
            format!("old -1\n\n{cp}"),
            WitnessWireError::OldSizeNotDecimal,
        ),
        (format!("old \n\n{cp}"), WitnessWireError::OldSizeNotDecimal),
        (
            format!("old  1\n\n{cp}"),
            WitnessWireError::OldSizeNotDecimal,
        ),
        (
            format!("old 1 \n\n{cp}"),
            WitnessWireError::OldSizeNotDecimal,
        ),
        (
            format!("old 99999999999999999999\n\n{cp}"),
            WitnessWireError::OldSizeOverflow,
        ),
        (format!("Old 1\n\n{cp}"), WitnessWireError::MissingOldLine),
        (format!("\nold 1\n\n{cp}"), WitnessWireError::MissingOldLine),
        ("old 1\n\n".to_string(), WitnessWireError::EmptyCheckpoint),
        (
            format!("old 1\nAAAA\n\n{cp}"),
            WitnessWireError::BadProofLine(0),
        ),
        (
            format!("old 1\n{h}\r\n\n{cp}"),
            WitnessWireError::BadProofLine(0),
        ),
    ];
    for (body, want) in cases {
        assert_eq!(
            AddCheckpointRequest::parse(body.as_bytes()),
            Err(want),
            "{body:?}"
        );
    }
    // Exactly 63 proof lines is fine.
    let ok = format!("old 1\n{}\n{cp}", format!("{h}\n").repeat(63));
    assert_eq!(
        AddCheckpointRequest::parse(ok.as_bytes())
            .unwrap()
            .proof
            .len(),
        63
    );
    let big = AddCheckpointRequest {
        old_size: TreeSize::new(1),
        proof: vec![Hash::from_bytes([0; 32]); 64],
        checkpoint: cp.as_bytes().to_vec(),
    };
    assert_eq!(big.encode(), Err(WitnessWireError::TooManyProofLines));
}

#[test]
fn size_body_and_response() {
    assert_eq!(parse_size_body(b"20852014\n"), Ok(TreeSize::new(20852014)));
    assert_eq!(encode_size_body(TreeSize::new(7)), "7\n");
    for bad in [&b"1"[..], b"01\n", b"\n", b"1\n\n", b" 1\n", b"x\n"] {
        assert_eq!(
            parse_size_body(bad),
            Err(WitnessWireError::BadSizeBody),
            "{bad:?}"
        );
    }
    let w = Cosigner::generate("witness.example/w1", &mut OsRng).unwrap();
    let line = w.cosign("o\n1\nAAAA\n", 5);
    let sigs = parse_add_checkpoint_response(line.as_bytes()).unwrap();
    assert_eq!(sigs.len(), 1);
    assert_eq!(sigs[0].key_id(), w.key_id());
    assert!(matches!(
        parse_add_checkpoint_response(b"garbage\n"),
        Err(WitnessWireError::BadResponse(_))
    ));
}

struct World {
    log: Signer,
    witnesses: Vec<Cosigner>,
    tree: MemoryTree,
}

fn world() -> World {
    let log = Signer::generate("example.com/log", &mut OsRng).unwrap();
    let witnesses = (0..3)
        .map(|i| Cosigner::generate(&format!("w{i}.example"), &mut OsRng).unwrap())
        .collect();
    let tree = MemoryTree::from_leaves((0..20u32).map(|i| leaf_hash(&i.to_be_bytes())));
    World {
        log,
        witnesses,
        tree,
    }
}

fn signed(w: &World, cosigners: &[usize]) -> Vec<u8> {
    let cp = Checkpoint::new("example.com/log", w.tree.size(), w.tree.root()).unwrap();
    let mut note = sign_checkpoint(&cp, &w.log);
    for &i in cosigners {
        note.extend_from_slice(
            w.witnesses[i]
                .cosign(&cp.to_text(), 1_700_000_000 + i as u64)
                .as_bytes(),
        );
    }
    note
}

fn policy_text(w: &World, quorum: &str) -> String {
    format!(
        "# test policy\n  log {} https://log.example/\n\nwitness X1 {}\nwitness X2\t{} https://w2.example/\nwitness Y1 {}\ngroup X 2 X1 X2\ngroup XY all X Y1\n{quorum}\n",
        w.log.vkey(),
        w.witnesses[0].vkey(),
        w.witnesses[1].vkey(),
        w.witnesses[2].vkey(),
    )
}

#[test]
fn policy_parse_and_verify() {
    let w = world();
    let p = Policy::parse(&policy_text(&w, "quorum XY")).unwrap();
    assert_eq!(p.logs().count(), 1);
    assert_eq!(p.witnesses().count(), 3);
    assert_eq!(p.witness_url("X2"), Some("https://w2.example/"));
    let vc = p.verify_checkpoint(&signed(&w, &[0, 1, 2])).unwrap();
    assert_eq!(vc.checkpoint().size(), TreeSize::new(20));
    assert_eq!(vc.cosigners().len(), 3);
    assert_eq!(
        p.verify_checkpoint(&signed(&w, &[0, 2])),
        Err(PolicyError::QuorumNotMet)
    );
    assert_eq!(
        p.verify_checkpoint(&signed(&w, &[0, 1])),
        Err(PolicyError::QuorumNotMet)
    );
    let p = Policy::parse(&policy_text(&w, "quorum X")).unwrap();
    p.verify_checkpoint(&signed(&w, &[1, 0])).unwrap();
    let p = Policy::parse(&policy_text(&w, "quorum none")).unwrap();
    p.verify_checkpoint(&signed(&w, &[])).unwrap();
    let p = Policy::parse(&policy_text(&w, "quorum Y1")).unwrap();
    p.verify_checkpoint(&signed(&w, &[2])).unwrap();
    assert_eq!(
        p.verify_checkpoint(&signed(&w, &[0, 1])),
        Err(PolicyError::QuorumNotMet)
    );

    // A bad cosignature from a known witness rejects the checkpoint.
    let mut bad = signed(&w, &[]);
    let other = Checkpoint::new("example.com/log", TreeSize::new(1), w.tree.root()).unwrap();
    bad.extend_from_slice(w.witnesses[2].cosign(&other.to_text(), 1).as_bytes());
    assert!(matches!(
        p.verify_checkpoint(&bad),
        Err(PolicyError::Note(_))
    ));

    // Unknown log.
    let stranger = Signer::generate("example.com/log", &mut OsRng).unwrap();
    let cp = Checkpoint::new("example.com/log", TreeSize::new(1), w.tree.root()).unwrap();
    assert_eq!(
        p.verify_checkpoint(&sign_checkpoint(&cp, &stranger)),
        Err(PolicyError::UnknownLog)
    );

    // Programmatic k-of-n.
    let vs: Vec<_> = w.witnesses.iter().map(Cosigner::verifier).collect();
    let p = Policy::k_of_n(vec![w.log.verifier()], vs.clone(), 2).unwrap();
    p.verify_checkpoint(&signed(&w, &[0, 2])).unwrap();
    assert_eq!(
        p.verify_checkpoint(&signed(&w, &[1])),
        Err(PolicyError::QuorumNotMet)
    );
    assert_eq!(
        Policy::k_of_n(vec![w.log.verifier()], vs.clone(), 4),
        Err(PolicyError::ThresholdOutOfRange { k: 4, n: 3 })
    );
    let mut b = PolicyBuilder::new();
    b.add_log(w.log.verifier(), None).unwrap();
    b.add_witness("a", vs[0].clone(), None).unwrap();
    b.add_group("g", Threshold::Any, &["a"]).unwrap();
    b.set_quorum("g").unwrap();
    b.build()
        .unwrap()
        .verify_checkpoint(&signed(&w, &[0]))
        .unwrap();
}

#[test]
fn policy_rejections() {
    let w = world();
    let (l, a, b) = (w.log.vkey(), w.witnesses[0].vkey(), w.witnesses[1].vkey());
    let cases: Vec<(String, usize, PolicyError)> = vec![
        (format!("log {l}\n"), 0, PolicyError::MissingQuorum),
        (
            "quorum none\nquorum none\n".into(),
            2,
            PolicyError::DuplicateQuorum,
        ),
        ("quorum W\n".into(), 1, PolicyError::UnknownName("W".into())),
        (
            format!("quorum none\nfrobnicate {l}\n"),
            2,
            PolicyError::UnknownKeyword("frobnicate".into()),
        ),
        (
            format!("log {l} url extra\nquorum none\n"),
            1,
            PolicyError::WrongArgCount,
        ),
        ("log\nquorum none\n".into(), 1, PolicyError::WrongArgCount),
        (
            format!("log {a}\nquorum none\n"),
            1,
            PolicyError::WrongKeyType,
        ),
        (
            format!("witness W {l}\nquorum none\n"),
            1,
            PolicyError::WrongKeyType,
        ),
        (
            format!("log {l}\nlog {l}\nquorum none\n"),
            2,
            PolicyError::DuplicateLog,
        ),
        (
            format!("witness A {a}\nwitness B {a}\nquorum none\n"),
            2,
            PolicyError::DuplicateWitness,
        ),
        (
            format!("witness A {a}\nwitness A {b}\nquorum none\n"),
            2,
            PolicyError::DuplicateName("A".into()),
        ),
        (
            format!("witness none {a}\nquorum none\n"),
            1,
            PolicyError::DuplicateName("none".into()),
        ),
        (
            format!("witness A {a}\ngroup A any A\nquorum none\n"),
            2,
            PolicyError::DuplicateName("A".into()),
        ),
        (
            format!("witness A {a}\ngroup G any B\nquorum none\n"),
            2,
            PolicyError::UnknownName("B".into()),
        ),
        (
            format!("witness A {a}\ngroup G any A none\nquorum none\n"),
            2,
            PolicyError::NoneAsMember,
        ),
        (
            format!("witness A {a}\ngroup G any A A\nquorum none\n"),
            2,
            PolicyError::MemberReused("A".into()),
        ),
        (
            format!("witness A {a}\ngroup G any A\ngroup H any A\nquorum none\n"),
            3,
            PolicyError::MemberReused("A".into()),
        ),
        (
            format!("witness A {a}\ngroup G any\nquorum none\n"),
            2,
            PolicyError::EmptyGroup,
        ),
        (
            format!("witness A {a}\ngroup G 0 A\nquorum none\n"),
            2,
            PolicyError::ThresholdOutOfRange { k: 0, n: 1 },
        ),
        (
            format!("witness A {a}\ngroup G 2 A\nquorum none\n"),
            2,
            PolicyError::ThresholdOutOfRange { k: 2, n: 1 },
        ),
        (
            format!("witness A {a}\ngroup G 01 A\nquorum none\n"),
            2,
            PolicyError::BadThreshold,
        ),
        (
            format!("witness A {a}\ngroup G some A\nquorum none\n"),
            2,
            PolicyError::BadThreshold,
        ),
        (
            format!("quorum G\nwitness A {a}\ngroup G any A\n"),
            1,
            PolicyError::UnknownName("G".into()),
        ),
        (
            format!("log {l}\r\nquorum none\n"),
            1,
            PolicyError::BadCharacter,
        ),
        ("quorum none\n\u{7f}\n".into(), 2, PolicyError::BadCharacter),
        (
            "log example.com+00000000+AQ==\nquorum none\n".into(),
            1,
            PolicyError::BadVkey(tlog::NoteError::BadKeyLength),
        ),
    ];
    for (text, line, want) in cases {
        let err = Policy::parse(&text).unwrap_err();
        assert_eq!(err.kind(), &want, "{text:?}");
        match err {
            PolicyError::Line { line: got, .. } => assert_eq!(got, line, "{text:?}"),
            _ => assert_eq!(line, 0, "{text:?}: expected a line number"),
        }
    }
    assert_eq!(
        Policy::parse_bytes(b"quorum none\n\xff\n").unwrap_err(),
        PolicyError::NotUtf8
    );
}

#[test]
fn tlog_proof_round_trip_and_verify() {
    let w = world();
    let policy = Policy::k_of_n(
        vec![w.log.verifier()],
        w.witnesses.iter().map(Cosigner::verifier).collect(),
        2,
    )
    .unwrap();
    let idx = LeafIndex::new(13);
    let leaf = leaf_hash(&13u32.to_be_bytes());
    let tp = TlogProof {
        extra: Some(b"age-v1.2.1-darwin-arm64.tar.gz".to_vec()),
        index: idx,
        proof: prove_inclusion(idx, w.tree.size(), &w.tree).unwrap(),
        checkpoint: signed(&w, &[0, 1]),
    };
    let enc = tp.encode().unwrap();
    assert!(enc.starts_with(
        b"c2sp.org/tlog-proof@v1\nextra YWdlLXYxLjIuMS1kYXJ3aW4tYXJtNjQudGFyLmd6\nindex 13\n"
    ));
    let dec = TlogProof::parse(&enc).unwrap();
    assert_eq!(dec, tp);
    dec.verify(&leaf, &policy).unwrap();
    assert!(matches!(
        dec.verify(&leaf_hash(b"other"), &policy),
        Err(TlogProofError::Inclusion(tlog::ProofError::RootMismatch))
    ));
    let weak = TlogProof {
        checkpoint: signed(&w, &[0]),
        ..tp.clone()
    };
    assert_eq!(
        weak.verify(&leaf, &policy),
        Err(TlogProofError::Policy(PolicyError::QuorumNotMet))
    );
    let no_extra = TlogProof {
        extra: None,
        ..tp.clone()
    };
    assert_eq!(
        TlogProof::parse(&no_extra.encode().unwrap()).unwrap(),
        no_extra
    );

    let cp = String::from_utf8(tp.checkpoint.clone()).unwrap();
    let h = Hash::from_bytes([3; 32]).to_base64();
    let cases: Vec<(String, TlogProofError)> = vec![
        (
            format!("c2sp.org/tlog-proof@v2\nindex 1\n\n{cp}"),
            TlogProofError::BadHeader,
        ),
        (
            format!("c2sp.org/tlog-proof@v1\nindex 01\n\n{cp}"),
            TlogProofError::BadIndex,
        ),
        (
            format!("c2sp.org/tlog-proof@v1\nindex\n\n{cp}"),
            TlogProofError::MissingIndex,
        ),
        (
            format!("c2sp.org/tlog-proof@v1\nextra !!\nindex 1\n\n{cp}"),
            TlogProofError::BadExtra,
        ),
        (
            format!("c2sp.org/tlog-proof@v1\nindex 1\n{h}x\n\n{cp}"),
            TlogProofError::BadProofLine(0),
        ),
        (
            format!(
                "c2sp.org/tlog-proof@v1\nindex 1\n{}\n{cp}",
                format!("{h}\n").repeat(64)
            ),
            TlogProofError::TooManyProofLines,
        ),
        (
            format!("c2sp.org/tlog-proof@v1\nindex 1\n{h}\n"),
            TlogProofError::MissingBlankLine,
        ),
        (
            "c2sp.org/tlog-proof@v1\nindex 1\n\nnot a note\n".to_string(),
            TlogProofError::Checkpoint(tlog::CheckpointError::Note(
                tlog::NoteError::MissingBlankLine,
            )),
        ),
    ];
    for (text, want) in cases {
        assert_eq!(TlogProof::parse(text.as_bytes()), Err(want), "{text:?}");
    }
}

#[test]
fn witness_flow_consistency_proof() {
    // The log-side flow: request with a consistency proof the witness can check.
    let w = world();
    let old = TreeSize::new(7);
    let req = AddCheckpointRequest {
        old_size: old,
        proof: prove_consistency(old, w.tree.size(), &w.tree).unwrap(),
        checkpoint: signed(&w, &[]),
    };
    let parsed = AddCheckpointRequest::parse(&req.encode().unwrap()).unwrap();
    let (cp, _) = tlog::open_checkpoint(&parsed.checkpoint, &w.log.verifier()).unwrap();
    tlog::verify_consistency(
        parsed.old_size,
        cp.size(),
        &w.tree.root_at(old).unwrap(),
        &cp.root(),
        &parsed.proof,
    )
    .unwrap();
}

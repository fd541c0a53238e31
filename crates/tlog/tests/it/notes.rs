//! Signed-note, checkpoint and cosignature tests: the C2SP spec example, Go's
//! sumdb/note PeterNeumann key pair, verification semantics, and rejection
//! tests pinning the exact error variant for malformed inputs.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use rand_core::OsRng;
use tlog::cosignature::cosigned_message;
use tlog::{
    empty_root, open_checkpoint, sign_checkpoint, verify_cosignature, verify_note, Checkpoint,
    CheckpointError, Cosigner, HashError, KeyType, Note, NoteError, Signer, TreeSize, Verifier,
};

const PN_SKEY: &str =
    "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
const PN_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
const PN_TEXT: &str = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
const PN_SIG: &str = "\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";

const SPEC_VKEY: &str = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k";
const SPEC_NOTE: &str = "This is an example message.\n\n\u{2014} example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n";

#[test]
fn spec_example_verifies() {
    let v = Verifier::from_vkey(SPEC_VKEY).unwrap();
    assert_eq!(v.name(), "example.com/foo");
    assert_eq!(v.key_id(), 0x530d903a);
    assert_eq!(v.vkey(), SPEC_VKEY);
    let n = Note::parse(SPEC_NOTE.as_bytes()).unwrap();
    assert_eq!(n.text(), "This is an example message.\n");
    assert_eq!(n.to_bytes(), SPEC_NOTE.as_bytes());
    let ok = verify_note(&n, std::slice::from_ref(&v)).unwrap();
    assert_eq!(ok.len(), 1);
    assert_eq!(ok[0].key_type(), KeyType::Ed25519);
    // Tampered text.
    let bad = SPEC_NOTE.replace("example message", "exemple message");
    let n = Note::parse(bad.as_bytes()).unwrap();
    assert!(matches!(
        verify_note(&n, &[v]),
        Err(NoteError::InvalidSignature { .. })
    ));
}

#[test]
fn go_sumdb_key_pair() {
    let s = Signer::from_skey(PN_SKEY).unwrap();
    assert_eq!(s.vkey(), PN_VKEY);
    assert_eq!(s.skey(), PN_SKEY);
    assert_eq!(s.name(), "PeterNeumann");
    assert_eq!(s.key_id(), 0xc74f20a3);
    assert_eq!(s.sign_line(PN_TEXT), PN_SIG);
    let signed = s.sign_note(PN_TEXT).unwrap().to_bytes();
    assert_eq!(signed, format!("{PN_TEXT}\n{PN_SIG}").as_bytes());
    let v = Verifier::from_vkey(PN_VKEY).unwrap();
    verify_note(&Note::parse(&signed).unwrap(), &[v]).unwrap();
}

#[test]
fn verify_note_semantics() {
    let a = Signer::generate("a.example/log", &mut OsRng).unwrap();
    let b = Signer::generate("b.example/log", &mut OsRng).unwrap();
    // Same name as a, different key: unknown (ID differs), must be ignored.
    let a2 = Signer::generate("a.example/log", &mut OsRng).unwrap();
    let text = "hello\n";
    let note =
        Note::parse(format!("{text}\n{}{}", a2.sign_line(text), a.sign_line(text)).as_bytes())
            .unwrap();
    let got = verify_note(&note, &[a.verifier()]).unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].name(), "a.example/log");
    // No known key.
    assert_eq!(
        verify_note(&note, &[b.verifier()]),
        Err(NoteError::NoVerifiedSignature)
    );
    // Known key with a bad signature rejects the whole note even if another verifies.
    let forged = a
        .sign_line("other\n")
        .replace(&a.name().to_string(), a.name());
    let note = Note::parse(format!("{text}\n{}{forged}", b.sign_line(text)).as_bytes()).unwrap();
    assert!(matches!(
        verify_note(&note, &[a.verifier(), b.verifier()]),
        Err(NoteError::InvalidSignature { .. })
    ));
    // Text may contain blank lines; the last blank line separates.
    let t = "a\n\nb\n";
    let note = Note::parse(format!("{t}\n{}", a.sign_line(t)).as_bytes()).unwrap();
    assert_eq!(note.text(), t);
    verify_note(&note, &[a.verifier()]).unwrap();
    // Round trip of keys.
    assert_eq!(Signer::from_skey(&a.skey()).unwrap().vkey(), a.vkey());
}

#[test]
fn note_rejections() {
    let sig = "\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
    let cases: Vec<(Vec<u8>, NoteError)> = vec![
        (b"text\n".to_vec(), NoteError::MissingBlankLine),
        (b"text\n\n".to_vec(), NoteError::NoSignatures),
        (
            format!("text\n\n{}", sig.trim_end()).into_bytes(),
            NoteError::MissingFinalNewline,
        ),
        (
            format!("te\rxt\n\n{sig}").into_bytes(),
            NoteError::ControlCharacter,
        ),
        (
            format!("te\txt\n\n{sig}").into_bytes(),
            NoteError::ControlCharacter,
        ),
        (
            [b"text\xff\n\n".as_slice(), sig.as_bytes()].concat(),
            NoteError::NotUtf8,
        ),
        (
            b"text\n\n- PeterNeumann AAAAAAA=\n".to_vec(),
            NoteError::MalformedSignatureLine,
        ),
        (
            "text\n\n\u{2014} PeterNeumann\n".as_bytes().to_vec(),
            NoteError::MalformedSignatureLine,
        ),
        (
            "text\n\n\u{2014}  AAAAAAA=\n".as_bytes().to_vec(),
            NoteError::BadKeyName,
        ),
        (
            "text\n\n\u{2014} a+b AAAAAAA=\n".as_bytes().to_vec(),
            NoteError::BadKeyName,
        ),
        (
            "text\n\n\u{2014} a\u{00a0}b AAAAAAA=\n".as_bytes().to_vec(),
            NoteError::BadKeyName,
        ),
        (
            "text\n\n\u{2014} name AAAA\n".as_bytes().to_vec(),
            NoteError::SignatureTooShort,
        ),
        (
            "text\n\n\u{2014} name AAAA!AA=\n".as_bytes().to_vec(),
            NoteError::SignatureBase64,
        ),
        (
            "text\n\n\u{2014} name AAAAAAA\n".as_bytes().to_vec(),
            NoteError::SignatureBase64,
        ),
        (
            vec![b'a'; tlog::note::NOTE_BYTES_MAX + 1],
            NoteError::TooLarge,
        ),
        (
            format!(
                "text\n\n{}",
                sig.repeat(tlog::note::NOTE_SIGNATURES_MAX + 1)
            )
            .into_bytes(),
            NoteError::TooManySignatures,
        ),
    ];
    for (input, want) in cases {
        assert_eq!(
            Note::parse(&input),
            Err(want.clone()),
            "{:?}",
            String::from_utf8_lossy(&input)
        );
    }
}

#[test]
fn key_rejections() {
    let cases = [
        ("PeterNeumann+c74f20a3", NoteError::BadKeyFormat),
        (
            "PeterNeumann+C74F20A3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
            NoteError::BadKeyIdHex,
        ),
        (
            "PeterNeumann+c74f20a+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
            NoteError::BadKeyIdHex,
        ),
        (
            "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
            NoteError::KeyIdMismatch,
        ),
        (
            "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10T",
            NoteError::KeyBase64,
        ),
        (
            "PeterNeumann+c74f20a3+Apc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWA",
            NoteError::UnsupportedKeyType(2),
        ),
        ("PeterNeumann+c74f20a3+AQ==", NoteError::BadKeyLength),
        (
            "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
            NoteError::BadKeyName,
        ),
    ];
    for (vkey, want) in cases {
        assert_eq!(Verifier::from_vkey(vkey), Err(want), "{vkey}");
    }
    assert_eq!(
        Signer::from_skey(
            "PRIVATE+KEY+PeterNeumann+c74f20a4+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
        )
        .err(),
        Some(NoteError::KeyIdMismatch)
    );
    assert_eq!(
        Signer::from_skey(PN_VKEY).err(),
        Some(NoteError::BadKeyFormat)
    );
    // A 0x01 skey is not a cosigner key.
    assert_eq!(
        Cosigner::from_skey(PN_SKEY).err(),
        Some(NoteError::WrongKeyType)
    );
}

#[test]
fn checkpoint_parse_and_rejections() {
    let root = empty_root().to_base64();
    let cp = Checkpoint::parse_text(&format!("example.com/log\n0\n{root}\n")).unwrap();
    assert_eq!(cp.size(), TreeSize::new(0));
    assert_eq!(cp.to_text(), format!("example.com/log\n0\n{root}\n"));
    let cp =
        Checkpoint::parse_text(&format!("o\n18446744073709551615\n{root}\next1\next 2\n")).unwrap();
    assert_eq!(cp.extensions(), ["ext1", "ext 2"]);
    assert_eq!(Checkpoint::parse_text(&cp.to_text()).unwrap(), cp);

    let cases = [
        (format!("o\n01\n{root}\n"), CheckpointError::SizeLeadingZero),
        (format!("o\n00\n{root}\n"), CheckpointError::SizeLeadingZero),
        (format!("o\n-1\n{root}\n"), CheckpointError::SizeNotDecimal),
        (format!("o\n 1\n{root}\n"), CheckpointError::SizeNotDecimal),
        (format!("o\n\n{root}\n"), CheckpointError::SizeNotDecimal),
        (
            format!("o\n18446744073709551616\n{root}\n"),
            CheckpointError::SizeOverflow,
        ),
        (
            "o\n1\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU\n".to_string(),
            CheckpointError::BadRoot(HashError::Base64),
        ),
        (
            "o\n1\nAAAA\n".to_string(),
            CheckpointError::BadRoot(HashError::WrongLength(3)),
        ),
        ("o\n1\n".to_string(), CheckpointError::MissingLines),
        ("o\n".to_string(), CheckpointError::MissingLines),
        (
            format!("o\n1\n{root}"),
            CheckpointError::MissingFinalNewline,
        ),
        (format!("\n1\n{root}\n"), CheckpointError::EmptyOrigin),
        (
            format!("o\u{7}\n1\n{root}\n"),
            CheckpointError::ControlCharacter,
        ),
        (
            format!("o\n1\n{root}\r\n"),
            CheckpointError::ControlCharacter,
        ),
        (format!("o\n1\n{root}\n\n"), CheckpointError::BadExtension),
        (
            format!("o\n1\n{root}\na\n\nb\n"),
            CheckpointError::BadExtension,
        ),
    ];
    for (text, want) in cases {
        assert_eq!(Checkpoint::parse_text(&text), Err(want), "{text:?}");
    }
    assert_eq!(
        Checkpoint::new("", TreeSize::new(1), empty_root()),
        Err(CheckpointError::EmptyOrigin)
    );
    assert_eq!(
        Checkpoint::new("a\nb", TreeSize::new(1), empty_root()),
        Err(CheckpointError::OriginNewline)
    );
}

#[test]
fn open_checkpoint_checks() {
    let log = Signer::generate("example.com/log", &mut OsRng).unwrap();
    let other = Signer::generate("example.com/other", &mut OsRng).unwrap();
    let cp = Checkpoint::new("example.com/log", TreeSize::new(3), empty_root()).unwrap();
    let signed = sign_checkpoint(&cp, &log);
    let (got, note) = open_checkpoint(&signed, &log.verifier()).unwrap();
    assert_eq!(got, cp);
    assert_eq!(note.to_bytes(), signed);
    assert_eq!(
        open_checkpoint(&signed, &other.verifier()),
        Err(CheckpointError::Note(NoteError::NoVerifiedSignature))
    );
    // Signed by the right key but origin differs from the key name.
    let cp2 = Checkpoint::new("example.com/elsewhere", TreeSize::new(3), empty_root()).unwrap();
    let signed2 = sign_checkpoint(&cp2, &log);
    assert!(matches!(
        open_checkpoint(&signed2, &log.verifier()),
        Err(CheckpointError::OriginMismatch { .. })
    ));
    // Cosigner keys cannot open checkpoints as the log.
    let w = Cosigner::generate("w.example", &mut OsRng).unwrap();
    assert_eq!(
        open_checkpoint(&signed, &w.verifier()),
        Err(CheckpointError::Note(NoteError::WrongKeyType))
    );
}

#[test]
fn cosignatures() {
    let log = Signer::generate("example.com/log", &mut OsRng).unwrap();
    let w = Cosigner::generate("witness.example/w1", &mut OsRng).unwrap();
    assert_eq!(w.verifier().key_type(), KeyType::CosignatureV1);
    assert!(w.vkey().starts_with("witness.example/w1+"));
    let wv = Verifier::from_vkey(&w.vkey()).unwrap();
    assert_eq!(Cosigner::from_skey(&w.skey()).unwrap().vkey(), w.vkey());

    let cp = Checkpoint::new("example.com/log", TreeSize::new(5), empty_root()).unwrap();
    let mut signed = sign_checkpoint(&cp, &log);
    let note = Note::parse(&signed).unwrap();
    assert_eq!(verify_cosignature(&note, &wv), Ok(None));
    let line = w.cosign(&cp.to_text(), 1_679_315_147);
    assert!(line.starts_with("\u{2014} witness.example/w1 "));
    signed.extend_from_slice(line.as_bytes());
    let note = Note::parse(&signed).unwrap();
    assert_eq!(verify_cosignature(&note, &wv), Ok(Some(1_679_315_147)));
    // verify_note handles both key types together.
    let all = verify_note(&note, &[log.verifier(), wv.clone()]).unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[1].timestamp(), Some(1_679_315_147));
    // The cosigned message format (c2sp tlog-cosignature example).
    assert_eq!(
        cosigned_message("example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n", 1679315147),
        b"cosignature/v1\ntime 1679315147\nexample.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    );
    // A cosignature over a different timestamp/text fails.
    let other = Checkpoint::new("example.com/log", TreeSize::new(6), empty_root()).unwrap();
    let mut bad = sign_checkpoint(&cp, &log);
    bad.extend_from_slice(w.cosign(&other.to_text(), 1).as_bytes());
    assert!(matches!(
        verify_cosignature(&Note::parse(&bad).unwrap(), &wv),
        Err(NoteError::InvalidSignature { .. })
    ));
    // Wrong key type for verify_cosignature.
    assert_eq!(
        verify_cosignature(&note, &log.verifier()),
        Err(NoteError::WrongKeyType)
    );
    assert_eq!(
        w.try_cosign(&cp.to_text(), u64::MAX),
        Err(NoteError::TimestampOutOfRange)
    );
    assert_eq!(
        w.try_cosign("no newline", 1),
        Err(NoteError::MissingFinalNewline)
    );
}

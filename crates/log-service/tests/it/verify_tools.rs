//! Tests of the client verifier (`verify_log`), `fsck` and `mirror` against
//! real logs: a [`Log`] over an [`EmbeddedStore`] in a temporary directory,
//! whose `log/` directory is the C2SP layout every tool reads. Tampering is
//! done by flipping real bytes in real files; forks are real second logs
//! signed with the same key.
//!
//! Deliberately absent: HTTP (the verifier's HTTP source is exercised where a
//! server exists, in the binary's tests) and test doubles of any kind.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use log_service::fsck::{fsck, FsckError};
use log_service::mirror::{mirror, MirrorError, MirrorOptions};
use log_service::verify::{
    load_policy, verify_log, DirSource, SavedRelation, VerifyError, VerifyOptions,
};
use log_service::{Log, LogConfig};
use log_store::{EmbeddedStore, EmbeddedStoreOptions};
use tlog::{Cosigner, Signer};

const ORIGIN: &str = "example.test/verify-tools";

/// A running log in a temporary data directory.
struct TestLog {
    dir: tempfile::TempDir,
    log: Log,
    store: Arc<EmbeddedStore>,
}

impl TestLog {
    /// Opens a log signed by `signer` and appends `entries`, waiting until a
    /// checkpoint covers them all.
    async fn with_entries(signer: &Signer, entries: Vec<Vec<u8>>) -> TestLog {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Arc::new(
            EmbeddedStore::open(EmbeddedStoreOptions {
                dir: dir.path().to_path_buf(),
            })
            .expect("open store"),
        );
        let config = LogConfig {
            checkpoint_interval: Duration::from_millis(5),
            ..LogConfig::default()
        };
        let log = Log::open(store.clone(), signer.clone(), config).expect("open log");
        let t = TestLog { dir, log, store };
        t.append(entries).await;
        t
    }

    async fn append(&self, entries: Vec<Vec<u8>>) {
        let results =
            futures::future::join_all(entries.into_iter().map(|e| self.log.append(e))).await;
        // The size to wait for comes from the acknowledged indices, not from
        // `durable_size()`, which the sequencer updates after it replies.
        let mut size = 0;
        for r in results {
            let appended = r.expect("append");
            assert!(!appended.duplicate, "test entries must be distinct");
            size = size.max(appended.index.get() + 1);
        }
        tokio::time::timeout(Duration::from_secs(30), self.log.wait_published(size))
            .await
            .expect("checkpoint published in time")
            .expect("log still writable");
    }

    fn static_dir(&self) -> PathBuf {
        self.dir.path().join("log")
    }

    fn source(&self) -> DirSource {
        DirSource::new(self.static_dir())
    }

    fn checkpoint(&self) -> Vec<u8> {
        std::fs::read(self.static_dir().join("checkpoint")).expect("read checkpoint")
    }

    /// Stops the log and waits for its threads to let go of the store, so
    /// that fsck can open the directory as a stopped server's.
    async fn stop(self) -> tempfile::TempDir {
        let TestLog { dir, log, store } = self;
        drop(log);
        let deadline = Instant::now() + Duration::from_secs(20);
        while Arc::strong_count(&store) > 1 {
            assert!(Instant::now() < deadline, "the log's threads did not stop");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        drop(store);
        dir
    }
}

fn signer() -> Signer {
    Signer::generate(ORIGIN, &mut rand_core::OsRng).expect("signer")
}

/// `count` distinct entries of varied length, tagged so two logs differ.
fn entries(tag: &str, range: std::ops::Range<usize>) -> Vec<Vec<u8>> {
    range
        .map(|n| {
            let mut e = format!("{tag} entry {n}:").into_bytes();
            let len = e.len().max((n * 37) % 200);
            e.resize(len, b'.');
            e
        })
        .collect()
}

/// XORs one byte of a file.
fn flip(path: &Path, offset: usize) {
    let mut data = std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let b = data.get_mut(offset).expect("offset inside the file");
    *b ^= 0x01;
    std::fs::write(path, data).expect("write back");
}

/// Replaces one base64 character deep inside the first signature line, so
/// that the key ID still matches but the signature no longer verifies.
fn corrupt_signature(note: &[u8]) -> Vec<u8> {
    let text = String::from_utf8(note.to_vec()).expect("utf-8 note");
    let sig_start = text.find("\n\n\u{2014} ").expect("signature line") + 2;
    let line_end = sig_start + text[sig_start..].find('\n').expect("line end");
    let b64_start = text[sig_start..line_end].rfind(' ').expect("space") + sig_start + 1;
    let at = b64_start + 40;
    let mut bytes = note.to_vec();
    bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
    bytes
}

// ---------------------------------------------------------------------------
// verify_log
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_accepts_a_healthy_log_and_counts_every_tile() {
    let signer = signer();
    let t = TestLog::with_entries(&signer, entries("a", 0..600)).await;
    let report = verify_log(&t.source(), &VerifyOptions::new(signer.vkey()))
        .await
        .expect("healthy log verifies");
    assert_eq!(report.size.get(), 600);
    assert_eq!(report.root, t.log.published().root);
    assert_eq!(report.origin, ORIGIN);
    // 600 = 2 full level-0 tiles + a partial of 88; level 1 has a partial of 2.
    assert_eq!(report.counts.tiles, 4);
    assert_eq!(report.counts.bundles, 3);
    assert_eq!(report.counts.entries, 600);
    assert!(report.cosigners.is_empty());
    assert!(report.saved.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_rejects_a_flipped_byte_in_a_full_tile_naming_it() {
    let signer = signer();
    let t = TestLog::with_entries(&signer, entries("a", 0..600)).await;
    flip(&t.static_dir().join("tile/0/001"), 100);
    match verify_log(&t.source(), &VerifyOptions::new(signer.vkey())).await {
        Err(VerifyError::TamperedTile { path, .. }) => assert_eq!(path, "tile/0/001"),
        other => panic!("want TamperedTile, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_rejects_a_flipped_byte_in_a_partial_tile_as_root_mismatch() {
    let signer = signer();
    let t = TestLog::with_entries(&signer, entries("a", 0..600)).await;
    flip(&t.static_dir().join("tile/0/002.p/88"), 5);
    match verify_log(&t.source(), &VerifyOptions::new(signer.vkey())).await {
        Err(VerifyError::RootMismatch { size, computed, .. }) => {
            assert_eq!(size, 600);
            assert!(computed.is_some());
        }
        other => panic!("want RootMismatch, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_rejects_a_flipped_byte_in_a_bundle_naming_it() {
    let signer = signer();
    let t = TestLog::with_entries(&signer, entries("a", 0..600)).await;
    // Byte 5 is inside the first entry's content (after its 2-byte length).
    flip(&t.static_dir().join("tile/entries/001"), 5);
    match verify_log(&t.source(), &VerifyOptions::new(signer.vkey())).await {
        Err(VerifyError::TamperedBundle { path, reason }) => {
            assert_eq!(path, "tile/entries/001");
            assert!(reason.contains("entry 256"), "{reason}");
        }
        other => panic!("want TamperedBundle, got {other:?}"),
    }
    // A broken length prefix is caught too (the bundle no longer parses).
    flip(&t.static_dir().join("tile/entries/001"), 5);
    flip(&t.static_dir().join("tile/entries/000"), 0);
    match verify_log(&t.source(), &VerifyOptions::new(signer.vkey())).await {
        Err(VerifyError::TamperedBundle { path, .. }) => assert_eq!(path, "tile/entries/000"),
        other => panic!("want TamperedBundle, got {other:?}"),
    }
}

/// A tree with a full level-1 tile (65,536 entries and more): the walk
/// verifies tiles above level 0 top-down, and blames the right one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_checks_full_tiles_above_level_0() {
    let signer = signer();
    let size = 256 * 256 + 300;
    let many: Vec<Vec<u8>> = (0..size).map(|n| format!("m{n}").into_bytes()).collect();
    let t = TestLog::with_entries(&signer, many).await;
    let report = verify_log(&t.source(), &VerifyOptions::new(signer.vkey()))
        .await
        .expect("verifies");
    // Level 0: 257 full + 1 partial (44); level 1: 1 full + 1 partial (1);
    // level 2: 1 partial (1).
    assert_eq!(report.counts.tiles, 258 + 2 + 1);
    assert_eq!(report.counts.entries, size as u64);

    flip(&t.static_dir().join("tile/1/000"), 8000);
    match verify_log(&t.source(), &VerifyOptions::new(signer.vkey())).await {
        Err(VerifyError::TamperedTile { path, .. }) => assert_eq!(path, "tile/1/000"),
        other => panic!("want TamperedTile, got {other:?}"),
    }
    flip(&t.static_dir().join("tile/1/000"), 8000);
    flip(&t.static_dir().join("tile/0/255"), 0);
    match verify_log(&t.source(), &VerifyOptions::new(signer.vkey())).await {
        Err(VerifyError::TamperedTile { path, .. }) => assert_eq!(path, "tile/0/255"),
        other => panic!("want TamperedTile, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_rejects_a_bad_signature_an_unknown_key_and_another_origin() {
    let signer = signer();
    let t = TestLog::with_entries(&signer, entries("a", 0..10)).await;
    let good = t.checkpoint();
    let path = t.static_dir().join("checkpoint");

    std::fs::write(&path, corrupt_signature(&good)).expect("write");
    match verify_log(&t.source(), &VerifyOptions::new(signer.vkey())).await {
        Err(VerifyError::BadSignature { key }) => assert_eq!(key, ORIGIN),
        other => panic!("want BadSignature, got {other:?}"),
    }

    std::fs::write(&path, &good).expect("write");
    let stranger = Signer::generate(ORIGIN, &mut rand_core::OsRng).expect("signer");
    match verify_log(&t.source(), &VerifyOptions::new(stranger.vkey())).await {
        Err(VerifyError::UnknownKey { key }) => assert_eq!(key, ORIGIN),
        other => panic!("want UnknownKey, got {other:?}"),
    }

    // A checkpoint for another origin, signed by that origin's own key.
    let other = Signer::generate("example.test/other", &mut rand_core::OsRng).expect("signer");
    let text = String::from_utf8(good.clone()).expect("utf-8");
    let body = text.split("\n\n").next().expect("text");
    let forged_text = body.replacen(ORIGIN, "example.test/other", 1) + "\n";
    let mut forged = forged_text.clone().into_bytes();
    forged.push(b'\n');
    forged.extend_from_slice(signer.sign_line(&forged_text).as_bytes());
    std::fs::write(&path, &forged).expect("write");
    match verify_log(&t.source(), &VerifyOptions::new(signer.vkey())).await {
        Err(VerifyError::OriginMismatch { origin, expected }) => {
            assert_eq!(origin, "example.test/other");
            assert_eq!(expected, ORIGIN);
        }
        other => panic!("want OriginMismatch, got {other:?}"),
    }
    let _ = other;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_rejects_a_fork_against_the_saved_checkpoint_both_ways() {
    let signer = signer();
    let honest = TestLog::with_entries(&signer, entries("a", 0..300)).await;
    let saved_small = honest.checkpoint();
    honest.append(entries("a", 300..700)).await;
    let saved_large = honest.checkpoint();

    // Same key, same first 150 entries, then different ones.
    let mut forked_entries = entries("a", 0..150);
    forked_entries.extend(entries("fork", 150..500));
    let fork = TestLog::with_entries(&signer, forked_entries).await;
    let fork_500 = fork.checkpoint();

    // Saved smaller than the fork's tree: the consistency proof fails.
    let mut options = VerifyOptions::new(signer.vkey());
    options.saved_checkpoint = Some(saved_small.clone());
    match verify_log(&fork.source(), &options).await {
        Err(VerifyError::Inconsistent {
            saved_size,
            fetched_size,
            saved,
            fetched,
            ..
        }) => {
            assert_eq!((saved_size, fetched_size), (300, 500));
            assert_eq!(saved, saved_small);
            assert_eq!(fetched, fork_500);
        }
        other => panic!("want Inconsistent, got {other:?}"),
    }

    // Saved larger than the fork's tree, and the fork cannot produce the
    // tiles of the saved size: not accepted.
    options.saved_checkpoint = Some(saved_large.clone());
    match verify_log(&fork.source(), &options).await {
        Err(VerifyError::Missing { path }) => assert!(path.starts_with("tile/"), "{path}"),
        other => panic!("want Missing, got {other:?}"),
    }

    // The fork grows to 700 but serves its 500 checkpoint: the tiles of size
    // 700 it has do not reproduce the saved tree, so the proof the other
    // way fails.
    fork.append(entries("fork", 500..700)).await;
    std::fs::write(fork.static_dir().join("checkpoint"), &fork_500).expect("write");
    match verify_log(&fork.source(), &options).await {
        Err(VerifyError::Inconsistent {
            saved_size,
            fetched_size,
            ..
        }) => assert_eq!((saved_size, fetched_size), (700, 500)),
        other => panic!("want Inconsistent, got {other:?}"),
    }

    // The honest log extends its own earlier checkpoint.
    options.saved_checkpoint = Some(saved_small);
    let report = verify_log(&honest.source(), &options)
        .await
        .expect("honest");
    assert_eq!(
        report.saved,
        Some((tlog::TreeSize::new(300), SavedRelation::Extends))
    );
    options.saved_checkpoint = Some(saved_large.clone());
    let report = verify_log(&honest.source(), &options)
        .await
        .expect("honest");
    assert_eq!(
        report.saved,
        Some((tlog::TreeSize::new(700), SavedRelation::Same))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_accepts_a_stale_checkpoint_that_the_saved_one_extends() {
    let signer = signer();
    let t = TestLog::with_entries(&signer, entries("a", 0..300)).await;
    let old = t.checkpoint();
    t.append(entries("a", 300..520)).await;
    let new = t.checkpoint();
    // The source rolls back to serving the older checkpoint.
    std::fs::write(t.static_dir().join("checkpoint"), &old).expect("write");
    let saved_path = t.dir.path().join("saved-checkpoint");
    std::fs::write(&saved_path, &new).expect("write");
    let mut options = VerifyOptions::new(signer.vkey());
    options.saved_checkpoint = Some(new.clone());
    options.write_checkpoint = Some(saved_path.clone());
    let report = verify_log(&t.source(), &options)
        .await
        .expect("stale, not forked");
    assert_eq!(
        report.saved,
        Some((tlog::TreeSize::new(520), SavedRelation::Behind))
    );
    // The larger saved checkpoint is kept.
    assert_eq!(report.checkpoint_written, None);
    assert_eq!(std::fs::read(&saved_path).expect("read"), new);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_writes_the_checkpoint_for_the_next_run() {
    let signer = signer();
    let t = TestLog::with_entries(&signer, entries("a", 0..40)).await;
    let saved_path = t.dir.path().join("state").join("checkpoint");
    let mut options = VerifyOptions::new(signer.vkey());
    options.write_checkpoint = Some(saved_path.clone());
    let report = verify_log(&t.source(), &options).await.expect("verifies");
    assert_eq!(
        report.checkpoint_written.as_deref(),
        Some(saved_path.as_path())
    );
    assert_eq!(std::fs::read(&saved_path).expect("written"), t.checkpoint());

    t.append(entries("a", 40..90)).await;
    options.saved_checkpoint = Some(std::fs::read(&saved_path).expect("read"));
    let report = verify_log(&t.source(), &options).await.expect("verifies");
    assert_eq!(
        report.saved,
        Some((tlog::TreeSize::new(40), SavedRelation::Extends))
    );
    assert_eq!(
        std::fs::read(&saved_path).expect("rewritten"),
        t.checkpoint()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_applies_the_witness_policy_quorum() {
    let signer = signer();
    let t = TestLog::with_entries(&signer, entries("a", 0..20)).await;
    let w1 = Cosigner::generate("witness.test/w1", &mut rand_core::OsRng).expect("w1");
    let w2 = Cosigner::generate("witness.test/w2", &mut rand_core::OsRng).expect("w2");
    let policy_text = format!(
        "# two of two\nwitness W1 {}\nwitness W2 {}\ngroup both all W1 W2\nquorum both\n",
        w1.vkey(),
        w2.vkey()
    );
    let policy = load_policy(policy_text.as_bytes(), &signer.vkey()).expect("policy");
    let note = t.checkpoint();
    let text = String::from_utf8(note.clone()).expect("utf-8");
    let body = text.split("\n\n").next().expect("text").to_owned() + "\n";
    let path = t.static_dir().join("checkpoint");
    let mut options = VerifyOptions::new(signer.vkey());
    options.policy = Some(policy);

    // No cosignatures.
    match verify_log(&t.source(), &options).await {
        Err(VerifyError::QuorumNotMet { cosigners }) => assert!(cosigners.is_empty()),
        other => panic!("want QuorumNotMet, got {other:?}"),
    }

    // One of two.
    let mut one = note.clone();
    one.extend_from_slice(w1.cosign(&body, 1_700_000_000).as_bytes());
    std::fs::write(&path, &one).expect("write");
    match verify_log(&t.source(), &options).await {
        Err(VerifyError::QuorumNotMet { cosigners }) => assert_eq!(cosigners, vec!["W1"]),
        other => panic!("want QuorumNotMet, got {other:?}"),
    }

    // Both: accepted, and the report names them.
    let mut both = one.clone();
    both.extend_from_slice(w2.cosign(&body, 1_700_000_001).as_bytes());
    std::fs::write(&path, &both).expect("write");
    let report = verify_log(&t.source(), &options).await.expect("quorum met");
    assert_eq!(
        report.cosigners,
        vec![
            ("W1".to_owned(), 1_700_000_000),
            ("W2".to_owned(), 1_700_000_001)
        ]
    );
    assert!(report.quorum_checked);

    // A cosignature from a policy witness that does not verify rejects the note.
    let mut bad = note.clone();
    bad.extend_from_slice(
        w1.cosign(&body.replace("20\n", "21\n"), 1_700_000_000)
            .as_bytes(),
    );
    bad.extend_from_slice(w2.cosign(&body, 1_700_000_001).as_bytes());
    std::fs::write(&path, &bad).expect("write");
    match verify_log(&t.source(), &options).await {
        Err(VerifyError::BadSignature { key }) => assert_eq!(key, "witness W1"),
        other => panic!("want BadSignature, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------
// fsck
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fsck_passes_on_a_healthy_store_with_a_checkpoint_history() {
    let signer = signer();
    let t = TestLog::with_entries(&signer, entries("a", 0..200)).await;
    t.append(entries("a", 200..450)).await;
    t.append(entries("a", 450..600)).await;
    let published = t.log.published();
    let dir = t.stop().await;

    let report = fsck(dir.path(), &signer.vkey())
        .await
        .expect("healthy store");
    assert_eq!(report.verify.size.get(), 600);
    assert_eq!(report.verify.root, published.root);
    assert!(report.checkpoints_checked >= 3, "{report:?}");
    assert_eq!(
        report.dedup_keys_checked + report.dedup_keys_missing_above_synced,
        600
    );
    assert_eq!(report.durable_size, 600);
    assert_eq!(
        report.journal_entries_replayed,
        report.durable_size - report.synced_size
    );
    assert_eq!(
        report.journal_entries_matched,
        report.journal_entries_replayed
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fsck_fails_on_a_tampered_store() {
    let signer = signer();
    let t = TestLog::with_entries(&signer, entries("a", 0..600)).await;
    let dir = t.stop().await;
    flip(&dir.path().join("log/tile/0/000"), 31);
    match fsck(dir.path(), &signer.vkey()).await {
        Err(FsckError::Verify(VerifyError::TamperedTile { path, .. })) => {
            assert_eq!(path, "tile/0/000")
        }
        other => panic!("want a tampered tile, got {other:?}"),
    }
    flip(&dir.path().join("log/tile/0/000"), 31);
    fsck(dir.path(), &signer.vkey())
        .await
        .expect("repaired by hand");
    flip(&dir.path().join("log/tile/entries/002.p/88"), 7);
    match fsck(dir.path(), &signer.vkey()).await {
        Err(FsckError::Verify(VerifyError::TamperedBundle { path, .. })) => {
            assert_eq!(path, "tile/entries/002.p/88")
        }
        other => panic!("want a tampered bundle, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fsck_rejects_the_wrong_log_key() {
    let signer = signer();
    let t = TestLog::with_entries(&signer, entries("a", 0..5)).await;
    let dir = t.stop().await;
    let stranger = Signer::generate(ORIGIN, &mut rand_core::OsRng).expect("signer");
    match fsck(dir.path(), &stranger.vkey()).await {
        Err(FsckError::Verify(VerifyError::UnknownKey { .. })) => {}
        other => panic!("want UnknownKey, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------
// mirror
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mirror_copies_follows_and_stops_on_a_split_view() {
    let signer = signer();
    let source = TestLog::with_entries(&signer, entries("a", 0..300)).await;
    let dest = tempfile::tempdir().expect("dest");
    let options = MirrorOptions::new(signer.vkey());

    // First copy: everything.
    let report = mirror(&source.source(), dest.path(), &options)
        .await
        .expect("copy");
    assert_eq!((report.iterations, report.updates), (1, 1));
    assert_eq!(report.size.get(), 300);
    assert_eq!(
        std::fs::read(dest.path().join("checkpoint")).expect("cp"),
        source.checkpoint()
    );
    let copy = verify_log(
        &DirSource::new(dest.path()),
        &VerifyOptions::new(signer.vkey()),
    )
    .await
    .expect("the mirror verifies on its own");
    assert_eq!(copy.root, source.log.published().root);
    assert!(!dest.path().join(".mirror-staging").exists());

    // Follow: only what is new is fetched.
    source.append(entries("a", 300..700)).await;
    let report = mirror(&source.source(), dest.path(), &options)
        .await
        .expect("follow");
    assert_eq!(report.size.get(), 700);
    // 700 = 2 full level-0 tiles + a partial of 188, and a level-1 partial
    // of 2; tile/0/000 and its bundle were final at 300 and are not fetched
    // again.
    assert_eq!(report.tiles_fetched, 3);
    assert_eq!(report.bundles_fetched, 2);
    verify_log(
        &DirSource::new(dest.path()),
        &VerifyOptions::new(signer.vkey()),
    )
    .await
    .expect("the mirror still verifies");

    // Nothing new: a no-op.
    let report = mirror(&source.source(), dest.path(), &options)
        .await
        .expect("idle");
    assert_eq!((report.updates, report.tiles_fetched), (0, 0));

    // The source is replaced by a fork signed with the same key.
    let ours = source.checkpoint();
    let mut forked_entries = entries("a", 0..500);
    forked_entries.extend(entries("fork", 500..800));
    let fork = TestLog::with_entries(&signer, forked_entries).await;
    match mirror(&fork.source(), dest.path(), &options).await {
        Err(MirrorError::SplitView {
            ours: o,
            theirs,
            evidence,
            ..
        }) => {
            assert_eq!(o, ours);
            assert_eq!(theirs, fork.checkpoint());
            assert_eq!(
                std::fs::read(evidence.join("ours")).expect("evidence"),
                ours
            );
            assert_eq!(
                std::fs::read(evidence.join("theirs")).expect("evidence"),
                theirs
            );
            assert!(evidence.starts_with(dest.path()));
        }
        other => panic!("want SplitView, got {other:?}"),
    }
    // The mirror still serves the honest checkpoint, and it still verifies.
    assert_eq!(
        std::fs::read(dest.path().join("checkpoint")).expect("cp"),
        ours
    );
    verify_log(
        &DirSource::new(dest.path()),
        &VerifyOptions::new(signer.vkey()),
    )
    .await
    .expect("the mirror is untouched by the fork");

    // A smaller fork is caught too (proved from the mirror's own tiles).
    let mut small_fork = entries("a", 0..100);
    small_fork.extend(entries("fork", 100..400));
    let small = TestLog::with_entries(&signer, small_fork).await;
    match mirror(&small.source(), dest.path(), &options).await {
        Err(MirrorError::SplitView { .. }) => {}
        other => panic!("want SplitView, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mirror_follow_loop_is_bounded_and_tolerates_a_stale_remote() {
    let signer = signer();
    let source = TestLog::with_entries(&signer, entries("a", 0..50)).await;
    let old = source.checkpoint();
    source.append(entries("a", 50..80)).await;
    let dest = tempfile::tempdir().expect("dest");
    let mut options = MirrorOptions::new(signer.vkey());
    options.follow = true;
    options.interval = Duration::from_millis(1);
    options.iterations_max = Some(3);
    let report = mirror(&source.source(), dest.path(), &options)
        .await
        .expect("follow");
    assert_eq!((report.iterations, report.updates), (3, 1));
    assert_eq!(report.size.get(), 80);

    // The remote rolls back to an older (consistent) checkpoint: not a fork.
    std::fs::write(source.static_dir().join("checkpoint"), &old).expect("write");
    options.iterations_max = Some(1);
    let report = mirror(&source.source(), dest.path(), &options)
        .await
        .expect("stale");
    assert_eq!(report.remote_behind, 1);
    assert_eq!(report.size.get(), 80);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mirror_refuses_a_tampered_remote_without_writing_a_checkpoint() {
    let signer = signer();
    let source = TestLog::with_entries(&signer, entries("a", 0..300)).await;
    flip(&source.static_dir().join("tile/entries/000"), 9);
    let dest = tempfile::tempdir().expect("dest");
    match mirror(
        &source.source(),
        dest.path(),
        &MirrorOptions::new(signer.vkey()),
    )
    .await
    {
        Err(MirrorError::Verify(VerifyError::TamperedBundle { path, .. })) => {
            assert_eq!(path, "tile/entries/000")
        }
        other => panic!("want TamperedBundle, got {other:?}"),
    }
    assert!(!dest.path().join("checkpoint").exists());
}

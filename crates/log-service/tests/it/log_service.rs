//! Service-level tests of the log: [`Log`] over a real [`EmbeddedStore`] in a
//! temporary directory, checked against `tlog`'s own math (a [`MemoryTree`] of
//! the same entries, `verify_inclusion`, `verify_consistency`,
//! `open_checkpoint`, `encode_bundle`).
//!
//! Deliberately absent: HTTP (see `http-api`'s tests) and process crashes
//! (see `crates/sectwin/tests/crash.rs`, which kills the real binary). The one
//! test double here, `log_store::testing::GatedStore`, only holds the journal
//! append back so that back-pressure is deterministic; it never changes what
//! is stored.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use log_service::{AppendError, Appended, Log, LogConfig};
use log_store::testing::GatedStore;
use log_store::{EmbeddedStore, EmbeddedStoreOptions, LogStore};
use tlog::{
    BundleId, Hash, LeafIndex, MemoryTree, Signer, TileId, TreeSize, Verifier, ENTRY_BYTES_MAX,
};

const ORIGIN: &str = "example.test/log-service-tests";

/// A log's identity, kept across reopenings of its data directory.
struct Fixture {
    dir: tempfile::TempDir,
    signer: Signer,
}

impl Fixture {
    fn new() -> Fixture {
        Fixture {
            dir: tempfile::tempdir().expect("temp dir"),
            signer: Signer::generate(ORIGIN, &mut rand_core::OsRng).expect("signer"),
        }
    }

    fn store(&self) -> Arc<EmbeddedStore> {
        Arc::new(
            EmbeddedStore::open(EmbeddedStoreOptions {
                dir: self.dir.path().to_path_buf(),
            })
            .expect("open store"),
        )
    }

    /// Opens the store and the log on it.
    fn open(&self, config: LogConfig) -> Open {
        let store = self.store();
        let log = Log::open(store.clone(), self.signer.clone(), config).expect("open log");
        Open { log, store }
    }

    fn verifier(&self) -> Verifier {
        self.signer.verifier()
    }

    fn static_file(&self, relative: &str) -> Vec<u8> {
        let path = self.dir.path().join("log").join(relative);
        std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
    }
}

/// An open log and its store.
struct Open {
    log: Log,
    store: Arc<EmbeddedStore>,
}

impl Open {
    /// Drops the log and waits until its sequencer and checkpointer threads
    /// have exited (they hold the store), so the directory can be reopened.
    async fn close(self) {
        let Open { log, store } = self;
        drop(log);
        let deadline = Instant::now() + Duration::from_secs(20);
        while Arc::strong_count(&store) > 1 {
            assert!(Instant::now() < deadline, "the log's threads did not stop");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

/// Short checkpoint interval so tests do not wait.
fn fast() -> LogConfig {
    LogConfig {
        checkpoint_interval: Duration::from_millis(5),
        ..LogConfig::default()
    }
}

/// No checkpoint (hence no integration) for the duration of a test: every
/// duplicate must be caught by the sequencer's in-memory window.
fn never_checkpoint() -> LogConfig {
    LogConfig {
        checkpoint_interval: Duration::from_secs(3600),
        ..LogConfig::default()
    }
}

fn entry(n: usize) -> Vec<u8> {
    // Varied lengths up to 300 bytes, all distinct (the number is never cut).
    let mut e = format!("entry {n}:").into_bytes();
    let len = e.len().max((n * 37) % 300);
    e.resize(len, b'.');
    e
}

async fn wait_published(log: &Log, size: u64) {
    tokio::time::timeout(Duration::from_secs(20), log.wait_published(size))
        .await
        .unwrap_or_else(|_| {
            panic!(
                "no checkpoint of size {size} within 20 s (published {})",
                log.published().size
            )
        })
        .expect("log stopped");
}

/// Appends `entries` as `rounds` of concurrent appends, waiting for a
/// checkpoint after each round. Returns the entries ordered by the index the
/// log answered, and every published (size, root) observed.
async fn fill(log: &Log, entries: Vec<Vec<u8>>, round: usize) -> (Vec<Vec<u8>>, Vec<(u64, Hash)>) {
    let start = log.durable_size().get();
    let mut by_index: Vec<Option<Vec<u8>>> = vec![None; entries.len()];
    let mut observed = Vec::new();
    for chunk in entries.chunks(round) {
        let tasks: Vec<_> = chunk
            .iter()
            .cloned()
            .map(|e| {
                let log = log.clone();
                tokio::spawn(async move { (log.append(e.clone()).await, e) })
            })
            .collect();
        let mut top = 0;
        for t in tasks {
            let (answer, e) = t.await.expect("append task");
            let Appended { index, duplicate } = answer.expect("append");
            assert!(!duplicate, "fresh entry answered as duplicate of {index}");
            let slot = &mut by_index[(index.get() - start) as usize];
            assert!(slot.is_none(), "index {index} given twice");
            *slot = Some(e);
            top = top.max(index.get() + 1);
        }
        wait_published(log, top).await;
        let p = log.published();
        observed.push((p.size.get(), p.root));
    }
    let ordered = by_index
        .into_iter()
        .enumerate()
        .map(|(i, e)| e.unwrap_or_else(|| panic!("no entry got index {}", start + i as u64)))
        .collect();
    (ordered, observed)
}

/// Waits until `n` appends reached the gate of `gated`.
async fn wait_entered(gated: &GatedStore, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while gated.entered() < n {
        assert!(
            Instant::now() < deadline,
            "the sequencer never reached the journal"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

fn memory_tree(entries: &[Vec<u8>]) -> MemoryTree {
    MemoryTree::from_leaves(entries.iter().map(|e| tlog::leaf_hash(e)))
}

// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appends_get_consecutive_indices_once_durable() {
    let fx = Fixture::new();
    let open = fx.open(fast());
    // Sequential: exactly 0, 1, 2, ...
    for n in 0..20 {
        let a = open.log.append(entry(n)).await.expect("append");
        assert_eq!(
            a,
            Appended {
                index: LeafIndex::new(n as u64),
                duplicate: false
            }
        );
    }
    // Concurrent: a permutation of the next 200 indices (checked by `fill`).
    let (ordered, _) = fill(&open.log, (20..220).map(entry).collect(), 200).await;
    assert_eq!(ordered.len(), 200);
    assert_eq!(open.log.durable_size(), TreeSize::new(220));
    assert_eq!(open.log.published().size, TreeSize::new(220));
    assert!(open.log.fault().is_none());
    open.close().await;
}

/// `Log::durable_size` is read by operators and by `http-api`; an entry whose
/// index was acknowledged is durable, so the reported size must cover it the
/// moment the acknowledgement arrives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn durable_size_is_never_below_an_acknowledged_index() {
    let fx = Fixture::new();
    let open = fx.open(fast());
    for n in 0..50 {
        let a = open.log.append(entry(n)).await.expect("append");
        let durable = open.log.durable_size().get();
        assert!(
            durable > a.index.get(),
            "index {} acknowledged while durable_size() is {durable}",
            a.index
        );
    }
    open.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicates_get_the_existing_index_from_the_window_the_index_and_after_reopen() {
    let fx = Fixture::new();
    let open = fx.open(never_checkpoint());
    let log = &open.log;
    let a = log.append(b"entry A".to_vec()).await.expect("append A");
    assert_eq!(
        a,
        Appended {
            index: LeafIndex::new(0),
            duplicate: false
        }
    );
    // Not integrated yet (no checkpoint): the in-memory window answers.
    assert_eq!(log.published().size, TreeSize::new(0));
    let again = log
        .append(b"entry A".to_vec())
        .await
        .expect("append A again");
    assert_eq!(
        again,
        Appended {
            index: LeafIndex::new(0),
            duplicate: true
        }
    );
    let via_try = log
        .try_append(b"entry A".to_vec())
        .await
        .expect("try_append A");
    assert_eq!(
        via_try,
        Appended {
            index: LeafIndex::new(0),
            duplicate: true
        }
    );

    // One concurrent burst: 32 copies of B among 32 distinct entries. Every
    // copy answers the same index and exactly one of them is new.
    let mut tasks = Vec::new();
    for i in 0..64 {
        let log = log.clone();
        let e = if i % 2 == 0 {
            b"entry B".to_vec()
        } else {
            format!("burst {i}").into_bytes()
        };
        tasks.push(tokio::spawn(async move {
            (log.append(e.clone()).await.expect("append"), e)
        }));
    }
    let mut b_answers = Vec::new();
    let mut indices = HashSet::new();
    for t in tasks {
        let (a, e) = t.await.expect("task");
        if e == b"entry B" {
            b_answers.push(a);
        } else {
            assert!(!a.duplicate);
            assert!(
                indices.insert(a.index.get()),
                "index {} given twice",
                a.index
            );
        }
    }
    let b_index = b_answers[0].index;
    assert!(
        b_answers.iter().all(|a| a.index == b_index),
        "{b_answers:?}"
    );
    assert_eq!(
        b_answers.iter().filter(|a| !a.duplicate).count(),
        1,
        "{b_answers:?}"
    );
    assert!(!indices.contains(&b_index.get()));
    assert_eq!(log.durable_size(), TreeSize::new(34));
    assert_eq!(
        log.published().size,
        TreeSize::new(0),
        "the window, not the index, answered"
    );
    open.close().await;

    // Reopen: recovery replays and integrates the journal; the window is
    // pruned, so the store's dedup index answers now.
    let open = fx.open(fast());
    wait_published(&open.log, 34).await;
    for (e, want) in [
        (b"entry A".as_slice(), 0),
        (b"entry B".as_slice(), b_index.get()),
    ] {
        let a = open.log.append(e.to_vec()).await.expect("re-submit");
        assert_eq!(
            a,
            Appended {
                index: LeafIndex::new(want),
                duplicate: true
            },
            "{e:?}"
        );
    }
    let c = open
        .log
        .append(b"entry C".to_vec())
        .await
        .expect("append C");
    assert_eq!(
        c,
        Appended {
            index: LeafIndex::new(34),
            duplicate: false
        }
    );
    wait_published(&open.log, 35).await;
    open.close().await;

    // Reopen once more: the clean close synced, so nothing is replayed and
    // the persisted index alone answers.
    let open = fx.open(fast());
    for (e, want) in [(b"entry A".as_slice(), 0), (b"entry C".as_slice(), 34)] {
        let a = open.log.try_append(e.to_vec()).await.expect("re-submit");
        assert_eq!(
            a,
            Appended {
                index: LeafIndex::new(want),
                duplicate: true
            },
            "{e:?}"
        );
    }
    assert_eq!(open.log.durable_size(), TreeSize::new(35));
    open.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_durable_in_the_journal_but_never_integrated_are_recovered_and_deduplicated() {
    // What a crash between acknowledgement and checkpoint leaves behind.
    let fx = Fixture::new();
    let open = fx.open(fast());
    let (first, _) = fill(&open.log, (0..300).map(entry).collect(), 100).await;
    open.close().await;
    {
        let store = fx.store();
        let extra: Vec<Vec<u8>> = (300..310).map(entry).collect();
        let refs: Vec<&[u8]> = extra.iter().map(Vec::as_slice).collect();
        store
            .append(LeafIndex::new(300), &refs)
            .expect("journal append");
    }
    let open = fx.open(fast());
    assert_eq!(open.log.durable_size(), TreeSize::new(310));
    wait_published(&open.log, 310).await;
    let mut all = first;
    all.extend((300..310).map(entry));
    let tree = memory_tree(&all);
    assert_eq!(open.log.published().root, tree.root());
    assert_eq!(
        open.log.prover().root(TreeSize::new(310)).expect("root"),
        tree.root()
    );
    let a = open.log.append(entry(305)).await.expect("re-submit");
    assert_eq!(
        a,
        Appended {
            index: LeafIndex::new(305),
            duplicate: true
        }
    );
    open.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_and_oversized_entries_are_refused_with_their_exact_error() {
    let fx = Fixture::new();
    let open = fx.open(fast());
    let log = &open.log;
    assert_eq!(log.append(Vec::new()).await, Err(AppendError::Empty));
    assert_eq!(log.try_append(Vec::new()).await, Err(AppendError::Empty));
    let too_large = vec![7u8; ENTRY_BYTES_MAX + 1];
    let want = Err(AppendError::TooLarge {
        bytes: 65536,
        max_bytes: 65535,
    });
    assert_eq!(log.append(too_large.clone()).await, want);
    assert_eq!(log.try_append(too_large).await, want);
    // The largest entry a bundle can hold is accepted.
    let largest = log
        .append(vec![7u8; ENTRY_BYTES_MAX])
        .await
        .expect("65535-byte entry");
    assert_eq!(
        largest,
        Appended {
            index: LeafIndex::new(0),
            duplicate: false
        }
    );
    open.close().await;

    // A configured limit below the format's is enforced too.
    let open = fx.open(LogConfig {
        entry_bytes_max: 100,
        ..fast()
    });
    assert_eq!(
        open.log.append(vec![1u8; 101]).await,
        Err(AppendError::TooLarge {
            bytes: 101,
            max_bytes: 100
        })
    );
    assert!(open.log.append(vec![1u8; 100]).await.is_ok());
    assert_eq!(
        open.log.durable_size(),
        TreeSize::new(2),
        "refused entries took no index"
    );
    open.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_pending_pool_answers_busy_and_append_waits_instead() {
    let fx = Fixture::new();
    let gated = Arc::new(GatedStore::new(fx.store()));
    let config = LogConfig {
        pending_entries_max: 1,
        ..fast()
    };
    let log = Log::open(gated.clone(), fx.signer.clone(), config).expect("open");

    gated.close_gate();
    // 1: taken by the sequencer, which then blocks in the journal append.
    let first = tokio::spawn({
        let log = log.clone();
        async move { log.try_append(b"one".to_vec()).await }
    });
    wait_entered(&gated, 1).await;
    // 2: waits in the pending pool (capacity 1), which is now full.
    let second = tokio::spawn({
        let log = log.clone();
        async move { log.try_append(b"two".to_vec()).await }
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    while log.pending() < 1 {
        assert!(Instant::now() < deadline, "second entry never queued");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    // 3: refused at once.
    assert_eq!(
        log.try_append(b"three".to_vec()).await,
        Err(AppendError::Busy { pending: 1 })
    );
    // 4: `append` waits for room instead of refusing.
    let fourth = tokio::spawn({
        let log = log.clone();
        async move { log.append(b"four".to_vec()).await }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!fourth.is_finished(), "append did not wait for room");
    assert!(
        !first.is_finished(),
        "acknowledged before the journal append returned"
    );

    gated.open_gate();
    let answers = [
        first.await.expect("task").expect("one"),
        second.await.expect("task").expect("two"),
        fourth.await.expect("task").expect("four"),
    ];
    let indices: Vec<u64> = answers.iter().map(|a| a.index.get()).collect();
    assert_eq!(indices, vec![0, 1, 2]);
    assert!(answers.iter().all(|a| !a.duplicate));
    drop(log);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_3000_entry_log_matches_tlog_before_and_after_reopen() {
    let fx = Fixture::new();
    let open = fx.open(fast());
    // Some entries of the largest size, to exercise long bundles.
    let mut input: Vec<Vec<u8>> = (0..3000).map(entry).collect();
    input[1000] = vec![0xab; ENTRY_BYTES_MAX];
    input[2900] = vec![0xcd; ENTRY_BYTES_MAX];
    let (entries, observed) = fill(&open.log, input, 97).await;
    let size = TreeSize::new(3000);
    let tree = memory_tree(&entries);
    assert_eq!(open.log.published().size, size);
    assert_eq!(open.log.published().root, tree.root());
    for (s, root) in &observed {
        assert_eq!(
            tree.root_at(TreeSize::new(*s)).as_ref(),
            Some(root),
            "published root at {s}"
        );
    }
    open.close().await;

    // Reopen: the tree recomputed from stored tiles equals the memory tree.
    let open = fx.open(fast());
    let published = open.log.published();
    assert_eq!(published.size, size);
    let prover = open.log.prover();
    assert_eq!(prover.root(size).expect("root from tiles"), tree.root());
    for s in [1u64, 255, 256, 257, 1000, 2816, 2999] {
        let s = TreeSize::new(s);
        assert_eq!(
            prover.root(s).expect("root"),
            tree.root_at(s).expect("memory root"),
            "root at {s}"
        );
    }

    // The served checkpoint verifies with the log's key and names that tree.
    let verifier = Verifier::from_vkey(&open.log.vkey()).expect("vkey");
    assert_eq!(verifier.vkey(), fx.verifier().vkey());
    let (cp, _) = tlog::open_checkpoint(&published.note, &verifier).expect("checkpoint verifies");
    assert_eq!(cp.origin(), ORIGIN);
    assert_eq!(cp.size(), size);
    assert_eq!(cp.root(), tree.root());
    let other = Signer::generate(ORIGIN, &mut rand_core::OsRng).expect("signer");
    assert!(
        tlog::open_checkpoint(&published.note, &other.verifier()).is_err(),
        "a checkpoint must not verify with another key"
    );

    // Static files: a full and a partial hash tile at level 0, the partial
    // tile at level 1, a full and a partial entry bundle (3000 = 11·256 + 184).
    let tile = |level: u8, index: u64, width: u16| {
        let id = TileId::new(level, index, width).expect("tile id");
        (id, fx.static_file(&id.path()))
    };
    let leaves: Vec<Hash> = entries.iter().map(|e| tlog::leaf_hash(e)).collect();
    let concat = |hashes: &[Hash]| {
        hashes
            .iter()
            .flat_map(|h| h.as_bytes().to_vec())
            .collect::<Vec<u8>>()
    };
    let (id, data) = tile(0, 0, 256);
    assert_eq!(data, concat(&leaves[..256]), "{id}");
    let (id, data) = tile(0, 3, 256);
    assert_eq!(data, concat(&leaves[768..1024]), "{id}");
    let (id, data) = tile(0, 11, 184);
    assert_eq!(data, concat(&leaves[2816..3000]), "{id}");
    let level1: Vec<Hash> = (0..11u64)
        .map(|k| tlog::merkle::subtree_hash(k * 256, (k + 1) * 256, &tree).expect("subtree"))
        .collect();
    let (id, data) = tile(1, 0, 11);
    assert_eq!(data, concat(&level1), "{id}");
    let bundle = |index: u64, width: u16| {
        let id = BundleId::new(index, width).expect("bundle id");
        (id, fx.static_file(&id.path()))
    };
    let (id, data) = bundle(0, 256);
    assert_eq!(
        data,
        tlog::encode_bundle(entries[..256].iter().map(Vec::as_slice)).expect("encode"),
        "{id}"
    );
    let (id, data) = bundle(3, 256);
    assert_eq!(
        data,
        tlog::encode_bundle(entries[768..1024].iter().map(Vec::as_slice)).expect("encode"),
        "{id}"
    );
    let (id, data) = bundle(11, 184);
    assert_eq!(
        data,
        tlog::encode_bundle(entries[2816..].iter().map(Vec::as_slice)).expect("encode"),
        "{id}"
    );
    // And through the store's read path (prefix rule for a narrower partial).
    let narrower = BundleId::new(11, 10).expect("bundle id");
    assert_eq!(
        open.store
            .read_bundle(narrower)
            .expect("read")
            .expect("present"),
        tlog::encode_bundle(entries[2816..2826].iter().map(Vec::as_slice)).expect("encode")
    );
    drop(prover);
    open.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inclusion_of_every_entry_and_consistency_between_every_published_checkpoint_verify() {
    let fx = Fixture::new();
    let open = fx.open(fast());
    let (entries, _) = fill(&open.log, (0..3000).map(entry).collect(), 113).await;
    let size = TreeSize::new(3000);
    let root = open.log.published().root;
    let prover = open.log.prover();
    for (i, e) in entries.iter().enumerate() {
        let index = LeafIndex::new(i as u64);
        let proof = prover.inclusion(index, size).expect("inclusion proof");
        tlog::verify_inclusion(&tlog::leaf_hash(e), index, size, &proof, &root)
            .unwrap_or_else(|err| panic!("inclusion of {i}: {err}"));
        assert_eq!(prover.leaf(index, size).expect("leaf"), tlog::leaf_hash(e));
    }
    // A proof does not verify for another entry (the check is not vacuous).
    let proof = prover.inclusion(LeafIndex::new(5), size).expect("proof");
    assert!(tlog::verify_inclusion(
        &tlog::leaf_hash(&entries[6]),
        LeafIndex::new(5),
        size,
        &proof,
        &root
    )
    .is_err());
    assert!(
        prover.inclusion(LeafIndex::new(3000), size).is_err(),
        "index beyond the tree"
    );

    // Every checkpoint the log ever published, from the store's history.
    let verifier = fx.verifier();
    let history = open
        .store
        .checkpoint_history(TreeSize::new(0))
        .expect("history");
    assert!(
        history.len() >= 20,
        "only {} checkpoints published",
        history.len()
    );
    let mut checkpoints = Vec::new();
    for (s, note) in &history {
        let (cp, _) = tlog::open_checkpoint(note, &verifier).expect("stored checkpoint verifies");
        assert_eq!(cp.size(), *s);
        checkpoints.push((cp.size(), cp.root()));
    }
    assert!(
        checkpoints.windows(2).all(|w| w[0].0 < w[1].0),
        "history not in increasing size order"
    );
    assert_eq!(checkpoints.last().map(|c| c.0), Some(size));
    for (i, (old, old_root)) in checkpoints.iter().enumerate() {
        for (new, new_root) in &checkpoints[i..] {
            if old.get() == 0 {
                continue;
            }
            let proof = prover.consistency(*old, *new).expect("consistency proof");
            tlog::verify_consistency(*old, *new, old_root, new_root, &proof)
                .unwrap_or_else(|e| panic!("consistency {old} -> {new}: {e}"));
        }
    }
    drop(prover);
    open.close().await;
}

/// `Log::shutdown` publishes a checkpoint over everything acknowledged, makes
/// it durable (nothing left to replay from the journal), refuses later
/// appends, and the reopened log carries on from there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_publishes_syncs_and_refuses_later_appends() {
    let fx = Fixture::new();
    // No checkpoint would be due for an hour: only shutdown can publish.
    let open = fx.open(never_checkpoint());
    let tasks: Vec<_> = (0..300)
        .map(|n| {
            let log = open.log.clone();
            tokio::spawn(async move { log.append(entry(n)).await })
        })
        .collect();
    let mut indices = Vec::new();
    for t in tasks {
        indices.push(t.await.expect("task").expect("append").index);
    }
    assert_eq!(open.log.published().size, TreeSize::new(0));
    let other_handle = open.log.clone();
    open.log.shutdown().await;
    assert_eq!(open.log.published().size, TreeSize::new(300));
    assert!(open.log.fault().is_none(), "{:?}", open.log.fault());
    match other_handle.append(entry(1000)).await {
        Err(AppendError::ReadOnly(reason)) => assert!(reason.contains("shutting down"), "{reason}"),
        other => panic!("append after shutdown answered {other:?}"),
    }
    drop(other_handle);
    open.close().await;

    let recovered = fx.store().recover().expect("recover");
    assert_eq!(recovered.durable_size, TreeSize::new(300));
    assert_eq!(
        recovered.synced_size,
        TreeSize::new(300),
        "shutdown must leave nothing to replay"
    );
    let open = fx.open(fast());
    assert_eq!(open.log.published().size, TreeSize::new(300));
    let a = open.log.append(entry(5)).await.expect("append");
    assert_eq!(
        a,
        Appended {
            index: indices[5],
            duplicate: true
        }
    );
    let a = open.log.append(entry(300)).await.expect("append");
    assert_eq!(a.index, LeafIndex::new(300));
    open.log.shutdown().await;
    open.close().await;
}

/// Partial tiles and bundles are served for every published checkpoint, and
/// once their full tile is durable they are deleted (C2SP allows it); readers
/// then get the narrower tile as a prefix of the full one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn superseded_partial_tiles_are_deleted_after_sync_and_still_readable() {
    let fx = Fixture::new();
    let open = fx.open(fast());
    // Many small checkpoints below 256 leave partial tiles of many widths.
    let (ordered, _) = fill(&open.log, (0..300).map(entry).collect(), 20).await;
    let partial_dir = fx.dir.path().join("log/tile/0/000.p");
    let partial_bundles = fx.dir.path().join("log/tile/entries/000.p");
    assert!(partial_dir.is_dir(), "partial level-0 tiles were published");
    open.log.shutdown().await;
    assert!(!partial_dir.exists(), "superseded partial tiles remain");
    assert!(
        !partial_bundles.exists(),
        "superseded partial bundles remain"
    );
    assert!(
        fx.dir.path().join("log/tile/1/000.p").is_dir(),
        "the level-1 tile is still partial"
    );

    let tree = memory_tree(&ordered);
    let full = fx.static_file("tile/0/000");
    let narrow = open
        .store
        .read_tile(TileId::new(0, 0, 20).expect("tile id"))
        .expect("read")
        .expect("served from the full tile");
    assert_eq!(narrow, full[..20 * 32]);
    for (i, hash) in narrow.chunks(32).enumerate() {
        let leaf = tree.leaf(LeafIndex::new(i as u64)).expect("leaf");
        assert_eq!(hash, leaf.as_bytes());
    }
    let bundle = open
        .store
        .read_bundle(BundleId::new(0, 20).expect("bundle id"))
        .expect("read")
        .expect("served from the full bundle");
    let expected = tlog::encode_bundle(ordered[..20].iter().map(Vec::as_slice)).expect("bundle");
    assert_eq!(bundle, expected);
    open.close().await;
}

/// Issue 13 item 2: idle connections used every file descriptor, the writer's
/// next sync failed with EMFILE and the log turned read-only until a restart.
/// Running out of descriptors is now retried: every write of the writer
/// (journal append, integration, checkpoint publication, sync) fails with
/// EMFILE a few times, and the log acknowledges, publishes and syncs anyway,
/// never read-only, and still verifies after reopening.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn running_out_of_file_descriptors_is_retried_and_never_makes_the_log_read_only() {
    let fx = Fixture::new();
    let store = fx.store();
    let gated = Arc::new(GatedStore::new(store.clone()));
    let config = LogConfig {
        sync_interval: Duration::from_millis(5),
        ..fast()
    };
    let log = Log::open(gated.clone(), fx.signer.clone(), config).expect("open");
    gated.fail_with_emfile(3, 2, 2, 2);
    let first = log.append(b"while out of descriptors".to_vec()).await;
    assert_eq!(
        first,
        Ok(Appended {
            index: LeafIndex::new(0),
            duplicate: false
        }),
        "the append failed instead of being retried"
    );
    wait_published(&log, 1).await;
    // The syncs' injected failures are used up only once a sync ran.
    let deadline = Instant::now() + Duration::from_secs(20);
    while gated.emfile_pending() > 0 {
        assert!(
            Instant::now() < deadline,
            "{} injected failures never reached (fault: {:?})",
            gated.emfile_pending(),
            log.fault()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(log.fault(), None, "the log turned read-only");
    let second = log.append(b"after".to_vec()).await.expect("append after");
    assert_eq!(second.index, LeafIndex::new(1));
    wait_published(&log, 2).await;
    drop(log);
    let deadline = Instant::now() + Duration::from_secs(20);
    while Arc::strong_count(&gated) > 1 {
        assert!(Instant::now() < deadline, "the log's threads did not stop");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    drop(gated);
    drop(store);
    let reopened = fx.open(fast());
    let published = reopened.log.published();
    assert_eq!(published.size, TreeSize::new(2));
    let (cp, _) = tlog::open_checkpoint(&published.note, &fx.verifier()).expect("checkpoint");
    assert_eq!(
        cp.root(),
        memory_tree(&[b"while out of descriptors".to_vec(), b"after".to_vec()]).root()
    );
    reopened.close().await;
}

/// Issue 13 item 10: after a full disk the log stayed read-only until a
/// restart. Now the supervisor reopens the store and runs recovery again
/// with back-off: while the disk stays full (recovery's own writes fail
/// twice) the log stays read-only and says why; then it writes again by
/// itself, keeps every acknowledged entry, and extends the last checkpoint.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_full_disk_the_log_writes_again_by_itself_and_keeps_what_it_acknowledged() {
    let fx = Fixture::new();
    let store = fx.store();
    let gated = Arc::new(GatedStore::new(store.clone()));
    let log = Log::open(gated.clone(), fx.signer.clone(), fast()).expect("open");
    let before = log.append(b"before".to_vec()).await.expect("before");
    assert_eq!(before.index, LeafIndex::new(0));
    wait_published(&log, 1).await;

    gated.fail_with_enospc(1, 2);
    match log.append(b"while full".to_vec()).await {
        Err(AppendError::ReadOnly(why)) => assert!(why.contains("journal"), "{why}"),
        other => panic!("an append on a full disk was not refused: {other:?}"),
    }
    let mut saw_recovery_failing = false;
    let deadline = Instant::now() + Duration::from_secs(30);
    while let Some(fault) = log.fault() {
        assert!(
            Instant::now() < deadline,
            "the log never wrote again: {fault}"
        );
        if fault.contains("recovery failed") {
            saw_recovery_failing = true;
            match log.append(b"still full".to_vec()).await {
                Err(AppendError::ReadOnly(_)) => {}
                other => panic!("appended while recovery could not write: {other:?}"),
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        saw_recovery_failing,
        "the fault never said that recovery was failing"
    );
    assert_eq!(gated.enospc_pending(), 0);
    assert!(gated.reopens() >= 3, "reopened {} times", gated.reopens());
    assert_eq!(log.restarts(), 1);

    // Nothing refused was kept; the next entries follow the acknowledged one.
    let after = log.append(b"after".to_vec()).await.expect("after");
    assert_eq!(after.index, LeafIndex::new(1));
    let retried = log.append(b"while full".to_vec()).await.expect("retried");
    assert_eq!(retried.index, LeafIndex::new(2));
    assert!(!retried.duplicate);
    wait_published(&log, 3).await;
    let published = log.published();
    let (cp, _) = tlog::open_checkpoint(&published.note, &fx.verifier()).expect("checkpoint");
    assert_eq!(
        cp.root(),
        memory_tree(&[
            b"before".to_vec(),
            b"after".to_vec(),
            b"while full".to_vec()
        ])
        .root()
    );
    log.shutdown().await;
}

/// What an operator's monitoring reads of the log: append and integration
/// latencies sampled, and a witness that cannot be reached counted by name
/// with each checkpoint it held back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_measures_latency_and_counts_witness_failures() {
    let fx = Fixture::new();
    let open = fx.open(fast());
    let log = &open.log;
    for i in 0..5 {
        log.append(entry(i)).await.expect("append");
    }
    wait_published(log, 5).await;
    let m = log.metrics();
    assert_eq!(histogram_count(&m.append_seconds), 5);
    assert!(histogram_count(&m.integration_seconds) >= 1);
    assert!(m.published_at_unix_ms().is_some());
    open.close().await;

    // A witness on a closed port, and a quorum of one.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = closed.local_addr().expect("addr").port();
    drop(closed);
    let witness =
        tlog::Cosigner::generate("witness.test", &mut rand_core::OsRng).expect("witness key");
    let config = LogConfig {
        witnesses: vec![log_service::WitnessConfig {
            url: format!("http://127.0.0.1:{port}"),
            vkey: witness.vkey().to_string(),
        }],
        witness_quorum: 1,
        ..fast()
    };
    let open = fx.open(config);
    open.log.append(entry(99)).await.expect("append");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let failures = {
            let mut text = String::new();
            let mut registry = prometheus_client::registry::Registry::default();
            registry.register("w", "w", open.log.metrics().witness_failures.clone());
            registry.register("q", "q", open.log.metrics().quorum_failures.clone());
            prometheus_client::encoding::text::encode(&mut text, &registry).expect("encode");
            text
        };
        if failures.contains("w_total{witness=\"witness.test\"}")
            && open.log.metrics().quorum_failures.get() >= 1
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no witness failure counted:\n{failures}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        open.log.published().size.get(),
        5,
        "nothing published without the quorum"
    );
    open.close().await;
}

fn histogram_count(h: &prometheus_client::metrics::histogram::Histogram) -> u64 {
    let mut text = String::new();
    let mut registry = prometheus_client::registry::Registry::default();
    registry.register("h", "h", h.clone());
    prometheus_client::encoding::text::encode(&mut text, &registry).expect("encode");
    text.lines()
        .find_map(|l| l.strip_prefix("h_count "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

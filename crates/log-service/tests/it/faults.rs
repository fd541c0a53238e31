//! Fault injection (issue 15): a workload runs once per write of a clean
//! run, with that write failing, and once more per write with the write
//! failing *after* it reached the disk (`log_store::faults::FaultyStore`).
//! After every step of every run the whole tree is checked: every published
//! checkpoint verifies and is the root of the entries at its size (so the
//! history is one: no fork), every index below it holds an entry the
//! workload made, and every acknowledged entry is at the index it was
//! acknowledged with. At the end the store is reopened without faults:
//! the same checks, every acknowledged entry answered as a duplicate at its
//! index, and `fsck` of the directory.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use log_service::{Log, LogConfig};
use log_store::faults::{FaultMode, FaultyStore};
use log_store::{EmbeddedStore, EmbeddedStoreOptions, LogStore};
use tlog::{MemoryTree, Signer, TreeSize, Verifier};

const ORIGIN: &str = "example.test/faults";
/// Rounds of the workload; the tree is checked after each.
const ROUNDS: usize = 3;
/// Entries appended concurrently per round.
const ENTRIES_PER_ROUND: usize = 5;
/// How long a run waits for the log to write again after a fault.
const HEAL_WAIT_MS_MAX: u64 = 30_000;

fn config() -> LogConfig {
    LogConfig {
        checkpoint_interval: Duration::from_millis(5),
        ..LogConfig::default()
    }
}

fn entry(n: usize) -> Vec<u8> {
    format!("fault workload entry {n}").into_bytes()
}

fn open_store(dir: &std::path::Path) -> Arc<EmbeddedStore> {
    Arc::new(
        EmbeddedStore::open(EmbeddedStoreOptions {
            dir: dir.to_path_buf(),
        })
        .expect("open store"),
    )
}

/// Awaits `f`, failing the test (naming `what`) if it takes longer than a
/// run's heal wait: a wait that never ends is a defect, not a slow machine.
async fn within<F: std::future::Future>(f: F, what: &str) -> F::Output {
    tokio::time::timeout(Duration::from_millis(HEAL_WAIT_MS_MAX), f)
        .await
        .unwrap_or_else(|_| panic!("{what}: no answer within {HEAL_WAIT_MS_MAX} ms"))
}

/// Waits until every thread holding `held` has let go of it (the log's
/// sequencer and checkpointer), so the directory can be opened again.
async fn released<T: ?Sized>(held: &Arc<T>) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Arc::strong_count(held) > 1 {
        assert!(Instant::now() < deadline, "the log's threads did not stop");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// The whole-tree check (see the module doc). `what` names the step.
fn check_tree(
    store: &dyn LogStore,
    verifier: &Verifier,
    attempted: &[Vec<u8>],
    acked: &[(Vec<u8>, u64)],
    what: &str,
) {
    let history = store
        .checkpoint_history(TreeSize::new(0))
        .unwrap_or_else(|e| panic!("{what}: reading the checkpoint history: {e}"));
    let size = history.last().map_or(0, |(s, _)| s.get());
    // Every index below the published size holds an entry the workload made.
    let mut at: BTreeMap<u64, &Vec<u8>> = BTreeMap::new();
    for e in attempted {
        if let Some(i) = store
            .lookup(&tlog::leaf_hash(e))
            .unwrap_or_else(|err| panic!("{what}: lookup: {err}"))
        {
            if let Some(other) = at.insert(i.get(), e) {
                panic!(
                    "{what}: index {} holds two entries ({other:?}, {e:?})",
                    i.get()
                );
            }
        }
    }
    let leaves: Vec<&Vec<u8>> = (0..size)
        .map(|i| {
            *at.get(&i).unwrap_or_else(|| {
                panic!("{what}: index {i} of a tree of {size} holds no entry the workload made")
            })
        })
        .collect();
    // Every checkpoint is the root of the entries at its size: one history.
    let mut previous = 0;
    for (s, note) in &history {
        assert!(s.get() >= previous, "{what}: the history goes back in size");
        previous = s.get();
        let (cp, _) = tlog::open_checkpoint(note, verifier)
            .unwrap_or_else(|e| panic!("{what}: checkpoint of size {s} does not verify: {e}"));
        assert_eq!(cp.size(), *s, "{what}: history size and note disagree");
        let prefix = leaves
            .get(..usize::try_from(s.get()).expect("size"))
            .expect("prefix");
        let tree = MemoryTree::from_leaves(prefix.iter().map(|e| tlog::leaf_hash(e)));
        assert_eq!(
            cp.root(),
            tree.root(),
            "{what}: the checkpoint of size {s} is not the root of the entries at that size"
        );
    }
    // Every acknowledged entry is where it was acknowledged.
    for (e, i) in acked {
        if *i < size {
            assert_eq!(
                at.get(i).map(|x| x.as_slice()),
                Some(e.as_slice()),
                "{what}: acknowledged entry {e:?} is not at index {i}"
            );
        }
    }
}

/// What one run saw.
struct Run {
    writes: Vec<log_store::faults::WriteOp>,
    injected: bool,
}

async fn run(fault: Option<(usize, FaultMode)>) -> Run {
    let dir = tempfile::tempdir().expect("temp dir");
    let signer = Signer::generate(ORIGIN, &mut rand_core::OsRng).expect("signer");
    let verifier = signer.verifier();
    let label = format!("{fault:?}");
    let store = open_store(dir.path());
    let faulty = Arc::new(match fault {
        Some((k, mode)) => FaultyStore::new(store.clone(), k, mode),
        None => FaultyStore::counting(store.clone()),
    });
    let mut attempted: Vec<Vec<u8>> = Vec::new();
    let mut acked: Vec<(Vec<u8>, u64)> = Vec::new();
    match Log::open(faulty.clone(), signer.clone(), config()) {
        Err(e) => {
            // A fault while opening: the open fails and says so; nothing was
            // acknowledged. The reopen below checks what is on disk.
            assert!(fault.is_some(), "a clean open failed: {e}");
        }
        Ok(log) => {
            for round in 0..ROUNDS {
                let batch: Vec<Vec<u8>> = (0..ENTRIES_PER_ROUND)
                    .map(|i| entry(round * ENTRIES_PER_ROUND + i))
                    .collect();
                attempted.extend(batch.iter().cloned());
                // Every append is answered, even one sent to a writer that
                // stopped on the fault before taking it (it once waited forever).
                let answers = within(
                    futures::future::join_all(batch.iter().map(|e| log.append(e.clone()))),
                    &format!("{label}, round {round}: the appends"),
                )
                .await;
                for (e, answer) in batch.iter().zip(answers) {
                    match answer {
                        Ok(a) => acked.push((e.clone(), a.index.get())),
                        Err(err) => {
                            assert!(fault.is_some(), "{label}: refused without a fault: {err}")
                        }
                    }
                }
                // The log heals by itself (reopen and recovery), then covers
                // what it acknowledged with a checkpoint.
                let deadline = Instant::now() + Duration::from_millis(HEAL_WAIT_MS_MAX);
                while let Some(why) = log.fault() {
                    assert!(
                        Instant::now() < deadline,
                        "{label}: the log never wrote again: {why}"
                    );
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                let top = acked.iter().map(|(_, i)| i + 1).max().unwrap_or(0);
                tokio::time::timeout(
                    Duration::from_millis(HEAL_WAIT_MS_MAX),
                    log.wait_published(top),
                )
                .await
                .unwrap_or_else(|_| {
                    panic!("{label}: no checkpoint covers the acknowledged entries")
                })
                .unwrap_or_else(|e| panic!("{label}: the log stopped: {e}"));
                check_tree(
                    &*store,
                    &verifier,
                    &attempted,
                    &acked,
                    &format!("{label}, round {round}"),
                );
            }
            within(log.shutdown(), &format!("{label}: the shutdown")).await;
            drop(log);
        }
    }
    released(&faulty).await;
    let writes = faulty.writes();
    let injected = faulty.injected();
    drop(faulty);
    released(&store).await;
    drop(store);

    // Reopened without faults: the same checks, then every acknowledged
    // entry is a duplicate at its index.
    let store = open_store(dir.path());
    let log = Log::open(store.clone(), signer.clone(), config())
        .unwrap_or_else(|e| panic!("{label}: reopening after the run: {e}"));
    let durable = log.durable_size().get();
    tokio::time::timeout(Duration::from_secs(20), log.wait_published(durable))
        .await
        .unwrap_or_else(|_| panic!("{label}: no checkpoint after the reopen"))
        .unwrap_or_else(|e| panic!("{label}: the reopened log stopped: {e}"));
    check_tree(
        &*store,
        &verifier,
        &attempted,
        &acked,
        &format!("{label}, reopened"),
    );
    for (e, i) in &acked {
        let again = within(
            log.append(e.clone()),
            &format!("{label}: appending {e:?} again"),
        )
        .await
        .expect("append again");
        assert!(
            again.duplicate && again.index.get() == *i,
            "{label}: acknowledged entry {e:?} at {i} answered {again:?} after the reopen"
        );
    }
    within(
        log.shutdown(),
        &format!("{label}: the shutdown after the reopen"),
    )
    .await;
    drop(log);
    released(&store).await;
    drop(store);
    let report = log_service::fsck::fsck(dir.path(), &signer.verifier().vkey())
        .await
        .unwrap_or_else(|e| panic!("{label}: fsck: {e}"));
    drop(report);
    Run { writes, injected }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_write_failing_before_or_after_it_persists_loses_nothing_and_never_forks() {
    let clean = run(None).await;
    let n = clean.writes.len();
    assert!(
        n >= ROUNDS,
        "a clean run made {n} writes: {:?}",
        clean.writes
    );
    let mut injected = 0;
    for mode in [FaultMode::NotPersisted, FaultMode::Persisted] {
        for k in 0..n {
            let r = run(Some((k, mode))).await;
            injected += usize::from(r.injected);
        }
    }
    eprintln!(
        "{n} writes in a clean run ({:?}); {injected} of {} faulted runs reached their fault",
        clean.writes,
        2 * n
    );
    // Runs differ in timing (group commits), but most reach their fault.
    assert!(
        injected >= n,
        "only {injected} of {} runs reached their fault (writes of a clean run: {:?})",
        2 * n,
        clean.writes
    );
}

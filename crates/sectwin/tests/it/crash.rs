//! Crash and storage-fault tests of the real `sectwin` binary.
//!
//! * [`sigkill_at_random_moments_during_sustained_appends_loses_no_acknowledged_entry`]:
//!   many times over, `kill -9` a server under 16 concurrent appenders at a
//!   random moment (seeded; the seed is printed, set `SECTWIN_CRASH_SEED` to
//!   replay), restart it on the same data directory, and check the log from
//!   the outside: every acknowledged entry is at its acknowledged index in the
//!   served entry bundles, hash tiles equal what the entries hash to, the
//!   signed root equals the root of the served entries, re-submitting an
//!   acknowledged entry answers its index with `duplicate: true`, and the new
//!   checkpoint is consistent with every checkpoint observed before (proofs
//!   from `/log/proof/consistency`, signatures with `log.vkey`). Finally a
//!   clean stop and `sectwin log fsck`.
//! * The fault tests make the kernel fail a write under a running server (a
//!   full tmpfs, or `RLIMIT_FSIZE`): the writer must stop (503, read-only),
//!   sign no checkpoint over entries it did not acknowledge, and after the
//!   fault is gone a restart loses nothing acknowledged and fsck passes.
//!
//! * Connections as a fault: under a lowered open-file limit, hundreds of
//!   idle, header-trickling and body-stalling connections must not take the
//!   descriptors the writer needs; the server closes them after their
//!   timeouts, keeps appending meanwhile, and is writable afterwards.
//!
//! What these tests cannot see: a missing `fdatasync`. A killed process leaves
//! its written pages in the kernel's page cache, so only a power cut (or a
//! block device that drops unsynced writes) tells synced from unsynced data.
//! They do catch an acknowledgement sent before the journal `write`, data held
//! in user-space buffers, recovery that does not rebuild tiles, bundles or the
//! dedup window, and any fork.

use crate::common;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{AddAnswer, LogClient, Rng, Server};
use testkit::Tmpfs;
use tlog::{Hash, LeafIndex, MemoryTree, TreeSize, Verifier};

/// Kill/restart cycles on one data directory.
const CYCLES: usize = 25;
/// Concurrent HTTP appenders while the server runs.
const CLIENTS: usize = 16;
/// The kill comes this long (uniformly random, ms) after the server is ready.
const KILL_DELAY_MS_MIN: u64 = 20;
const KILL_DELAY_MS_MAX: u64 = 400;
/// Cycles that run longer than the log's sync interval (5 s, the
/// `LogConfig` default the binary uses), so that some recoveries start from a
/// synced size above zero (tiles and the dedup index read back from disk
/// rather than rebuilt from the journal's first entry).
const LONG_CYCLES: [usize; 2] = [3, 14];
const LONG_CYCLE_MS: u64 = 5_700;
/// One cycle in this many also kills the restarting server during recovery,
/// before it serves, then restarts it again.
const RECOVERY_KILL_ONE_IN: u64 = 4;
/// The checkpoint interval the servers run with: short, so that many
/// checkpoints are observed (and must stay consistent) per cycle.
const CHECKPOINT_INTERVAL_MS: &str = "50";
/// How long a restarted server may take to publish a checkpoint covering
/// every acknowledged entry.
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(15);
/// Samples per verification: inclusion proofs and duplicate re-submissions.
const SAMPLES: usize = 16;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_random_moments_during_sustained_appends_loses_no_acknowledged_entry() {
    sigkill_cycles(CYCLES, &[], true).await;
}

/// Kill/restart cycles with the log in PostgreSQL.
const POSTGRES_CYCLES: usize = 8;

/// The same on a log kept in PostgreSQL (a schema of its own, dropped at
/// the end); the log is checked over HTTP (fsck reads an embedded log).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_with_the_log_in_postgres_loses_no_acknowledged_entry() {
    let schema = common::PgSchema::new("crash");
    let args = schema.serve_args();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    sigkill_cycles(POSTGRES_CYCLES, &args, false).await;
}

/// `cycles` kill/restart cycles of servers started with `extra`; `fsck`:
/// the data directory holds the log, checked after a clean stop.
async fn sigkill_cycles(cycles: usize, extra: &[&str], fsck: bool) {
    let serve_args: Vec<&str> = ["--checkpoint-interval-ms", CHECKPOINT_INTERVAL_MS]
        .into_iter()
        .chain(extra.iter().copied())
        .collect();
    let serve_args = &serve_args[..];
    let seed = Rng::seed_from_env("SECTWIN_CRASH_SEED");
    println!("crash test seed: {seed} (replay with SECTWIN_CRASH_SEED={seed})");
    let mut rng = Rng::new(seed);
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let started = Instant::now();
    let mut history = History::default();

    let mut server = Server::start(&data, serve_args);
    let verifier = common::verifier(&data);
    let mut recovery_ms_max = 0u128;
    let mut recovery_kills = 0usize;
    for cycle in 0..cycles {
        let client = LogClient::new(server.base());
        let delay_ms = if LONG_CYCLES.contains(&cycle) {
            LONG_CYCLE_MS + rng.range(0, 300)
        } else {
            rng.range(KILL_DELAY_MS_MIN, KILL_DELAY_MS_MAX)
        };
        let load = Load::start(
            client,
            verifier.clone(),
            &mut rng,
            LoadOptions {
                tag: format!("seed={seed} cycle={cycle}"),
                clients: CLIENTS,
                entry_bytes_min: 16,
                entry_bytes_max: 300,
                lenient_resubmits: false,
            },
        );
        tokio::time::sleep(Duration::from_millis(delay_ms)).await;
        assert!(
            server.is_running(),
            "cycle {cycle}: the server died on its own before the kill\n{}",
            server.output()
        );
        load.expect_death();
        server.kill();
        let report = load.finish().await;
        history.absorb(&report);
        history.assert_ok(&format!("cycle {cycle} (seed {seed})"));

        // Restart, sometimes after a second crash in the middle of recovery.
        if rng.range(1, RECOVERY_KILL_ONE_IN) == 1 {
            let mut early = Server::spawn(common::serve_command(&data, serve_args));
            std::thread::sleep(Duration::from_millis(rng.range(0, 60)));
            early.kill();
            recovery_kills += 1;
        }
        let mut restarted = Server::spawn(common::serve_command(&data, serve_args));
        restarted.wait_ready();
        let recovery_ms = restarted.since_spawn().as_millis();
        recovery_ms_max = recovery_ms_max.max(recovery_ms);
        server = restarted;
        let client = LogClient::new(server.base());
        let verify_started = Instant::now();
        let verified = verify_log(&server, &client, &verifier, &mut history, &mut rng).await;
        println!(
            "cycle {cycle:2}: killed after {delay_ms:4} ms, {:5} acked ({:5} requests), \
             log size {:6}, {:3} checkpoints seen, ready in {recovery_ms:4} ms, verified in {:4} ms",
            report.acked.len(),
            report.requests,
            verified.size,
            history.checkpoints.len(),
            verify_started.elapsed().as_millis()
        );
    }

    // A clean stop, fsck, and one more restart after the clean stop.
    let status = server.stop();
    assert!(
        status.success(),
        "sectwin serve exited with {status} on SIGINT\n{}",
        server.output()
    );
    let fsck_output = if fsck {
        common::assert_fsck_passes(&data)
    } else {
        "(not run: the log is not in the data directory)".to_string()
    };
    let mut server = Server::start(&data, serve_args);
    let client = LogClient::new(server.base());
    let verified = verify_log(&server, &client, &verifier, &mut history, &mut rng).await;
    let status = server.stop();
    assert!(
        status.success(),
        "sectwin serve exited with {status} on SIGINT\n{}",
        server.output()
    );
    println!(
        "crash test: {cycles} kills under load (+{recovery_kills} during recovery), \
         {} acknowledged entries, log size {}, {} distinct checkpoints verified consistent, \
         slowest recovery {recovery_ms_max} ms, total {:.1} s (seed {seed})",
        history.acked_by_index.len(),
        verified.size,
        history.checkpoints.len(),
        started.elapsed().as_secs_f64()
    );
    println!("fsck:\n{fsck_output}");
}

/// Disk full: the data directory lives on a 2 MiB tmpfs. Needs the right to
/// mount (root or CAP_SYS_ADMIN); without it the test fails saying so (the
/// `RLIMIT_FSIZE` test below injects a real write error anywhere).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disk_full_stops_the_writer_and_after_more_space_nothing_acknowledged_is_lost() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mount_point = dir.path().join("tmpfs");
    std::fs::create_dir_all(&mount_point).expect("mount point");
    let mount = Tmpfs::mount(&mount_point, "2m");
    let data = mount_point.join("data");
    let faulty =
        common::serve_command(&data, &["--checkpoint-interval-ms", CHECKPOINT_INTERVAL_MS]);
    fault_scenario("disk full (tmpfs ENOSPC)", &data, faulty, 1000, || {
        mount
            .resize("64m")
            .expect("remounting the tmpfs with more space");
    })
    .await;
    drop(mount);
}

/// A write error without privileges: the server runs under `RLIMIT_FSIZE`
/// (with SIGXFSZ ignored, so the kernel answers EFBIG instead of killing it).
/// The journal segment is the largest file, so its `write` fails first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_error_from_the_file_size_limit_stops_the_writer_and_restart_loses_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    // `ulimit -f` counts 512-byte blocks in POSIX shells (1024 in bash): 36
    // or 72 MiB. Above the 32 MiB fjall preallocates for its own journal, and
    // small enough that 16 KiB entries reach it in a few seconds.
    let mut faulty = Command::new("sh");
    faulty
        .arg("-c")
        .arg(r#"trap '' XFSZ; ulimit -f 73728 && exec "$0" "$@""#)
        .arg(common::SECTWIN)
        .arg("serve")
        .arg("--data")
        .arg(&data)
        .args([
            "--listen",
            "127.0.0.1:0",
            "--checkpoint-interval-ms",
            CHECKPOINT_INTERVAL_MS,
        ]);
    fault_scenario("file size limit (EFBIG)", &data, faulty, 16_000, || {}).await;
}

/// Runs `faulty` (a `sectwin serve` whose writes will start failing), appends
/// until the writer refuses, checks the refusal and what was signed, calls
/// `heal`, restarts normally and checks that nothing acknowledged was lost.
async fn fault_scenario(
    label: &str,
    data: &Path,
    faulty: Command,
    entry_bytes: usize,
    heal: impl FnOnce(),
) {
    let mut rng = Rng::new(Rng::seed_from_env("SECTWIN_FAULT_SEED"));
    let mut history = History::default();
    let mut server = Server::spawn(faulty);
    server.wait_ready();
    let verifier = common::verifier(data);
    let client = LogClient::new(server.base());
    let load = Load::start(
        client.clone(),
        verifier.clone(),
        &mut rng,
        LoadOptions {
            tag: label.to_string(),
            clients: 4,
            entry_bytes_min: entry_bytes,
            entry_bytes_max: entry_bytes,
            lenient_resubmits: false,
        },
    );
    // Appends go on until the fault stops the writer; bound the wait.
    let deadline = Instant::now() + Duration::from_secs(90);
    while !load.refused() {
        assert!(
            Instant::now() < deadline,
            "{label}: no append was refused after 90 s: the fault never surfaced\n{}",
            server.output()
        );
        assert!(
            server.is_running(),
            "{label}: the server died instead of turning read-only\n{}",
            server.output()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Let the poller see what the log publishes after the fault.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let report = load.finish().await;
    assert!(
        server.is_running(),
        "{label}: the server died instead of turning read-only\n{}",
        server.output()
    );
    assert!(
        !report.acked.is_empty(),
        "{label}: nothing was acknowledged before the fault"
    );
    for (status, body) in &report.refusals {
        assert_eq!(
            *status, 503,
            "{label}: refusal after the fault: {status} {body}"
        );
        assert!(
            body.contains("read-only"),
            "{label}: refusal does not say read-only: {body:?}"
        );
    }
    history.absorb(&report);
    history.assert_ok(label);

    // The writer stopped; its supervisor starts it again after a back-off
    // (the journal cut back to its last synced record), so while the cause
    // lasts an append is refused as read-only, and one that fits again (a
    // small entry under the file size limit) is acknowledged and kept.
    // Reads work throughout.
    let mut refused_after = 0;
    for i in 0..5 {
        let entry = format!("{label}: after the fault {i}").into_bytes();
        let answer = client
            .add(entry.clone())
            .await
            .expect("the read-only server still answers");
        match answer {
            AddAnswer::Refused {
                status: 503,
                body,
                retry_after,
            } => {
                refused_after += 1;
                assert!(body.contains("read-only"), "{label}: {body:?}");
                assert!(
                    retry_after.is_none(),
                    "{label}: read-only is not a Retry-After condition"
                );
            }
            AddAnswer::Added {
                index,
                duplicate: false,
            } => history.record_ack(&entry, index),
            other => panic!("{label}: append after the fault: {other:?}"),
        }
    }
    println!("{label}: {refused_after} of 5 appends right after the fault refused");
    let (cp, _) = client
        .checkpoint(&verifier)
        .await
        .expect("checkpoint still served");
    history.record_checkpoint(cp.size().get(), cp.root());
    // Nothing beyond what was acknowledged was signed: every entry the log
    // made durable was acknowledged (the clients were alive to read every
    // answer), so no checkpoint may be larger.
    let acked_size = history.acked_size();
    for &size in history.checkpoints.keys() {
        assert!(
            size <= acked_size,
            "{label}: a checkpoint of size {size} was signed, but only {acked_size} entries were acknowledged"
        );
    }
    println!(
        "{label}: {} entries acknowledged before the writer stopped; published size {}; refusal: {:?}",
        report.acked.len(),
        cp.size(),
        report.refusals.first().map(|(s, b)| format!("{s} {}", b.trim()))
    );
    server.stop();
    drop(server);

    heal();
    let mut server = Server::start(data, &["--checkpoint-interval-ms", CHECKPOINT_INTERVAL_MS]);
    let client = LogClient::new(server.base());
    let verified = verify_log(&server, &client, &verifier, &mut history, &mut rng).await;
    // And the log takes new entries again.
    match client
        .add(format!("{label}: after the restart").into_bytes())
        .await
    {
        Ok(AddAnswer::Added {
            index,
            duplicate: false,
        }) => {
            assert_eq!(
                index, verified.size,
                "{label}: the first new entry goes at the end"
            )
        }
        other => panic!("{label}: append after the restart: {other:?}"),
    }
    let status = server.stop();
    assert!(
        status.success(),
        "{label}: exit status {status}\n{}",
        server.output()
    );
    common::assert_fsck_passes(data);
}

// ---------------------------------------------------------------------------
// What the clients saw, across server lifetimes.
// ---------------------------------------------------------------------------

/// Everything observed from outside: acknowledgements and checkpoints. This is
/// what the log promised, and every later state must keep those promises.
#[derive(Default)]
pub(crate) struct History {
    acked_by_entry: HashMap<Vec<u8>, u64>,
    acked_by_index: BTreeMap<u64, Vec<u8>>,
    /// Every checkpoint observed (signature verified), by size.
    checkpoints: BTreeMap<u64, Hash>,
    failures: Vec<String>,
}

impl History {
    pub(crate) fn absorb(&mut self, report: &LoadReport) {
        self.failures.extend(report.failures.iter().cloned());
        for (entry, index) in &report.acked {
            self.record_ack(entry, *index);
        }
        for (size, root) in &report.checkpoints {
            self.record_checkpoint(*size, *root);
        }
    }

    fn record_ack(&mut self, entry: &[u8], index: u64) {
        if let Some(&earlier) = self.acked_by_entry.get(entry) {
            if earlier != index {
                self.failures.push(format!(
                    "entry {:?} acknowledged at {earlier} and later at {index}",
                    String::from_utf8_lossy(entry)
                ));
            }
            return;
        }
        if let Some(other) = self.acked_by_index.get(&index) {
            self.failures.push(format!(
                "index {index} acknowledged for two entries: {:?} and {:?} (an acknowledged entry was lost)",
                String::from_utf8_lossy(other),
                String::from_utf8_lossy(entry)
            ));
            return;
        }
        self.acked_by_entry.insert(entry.to_vec(), index);
        self.acked_by_index.insert(index, entry.to_vec());
    }

    pub(crate) fn record_checkpoint(&mut self, size: u64, root: Hash) {
        match self.checkpoints.get(&size) {
            Some(r) if *r != root => self.failures.push(format!(
                "FORK: two signed checkpoints of size {size} with roots {r} and {root}"
            )),
            Some(_) => {}
            None => {
                self.checkpoints.insert(size, root);
            }
        }
    }

    /// How many entries were acknowledged.
    pub(crate) fn acked_count(&self) -> usize {
        self.acked_by_index.len()
    }

    /// Up to `n` acknowledged (index, entry) pairs, spread over the log.
    pub(crate) fn sample_acked(&self, n: usize) -> Vec<(u64, Vec<u8>)> {
        let step = (self.acked_by_index.len() / n.max(1)).max(1);
        self.acked_by_index
            .iter()
            .step_by(step)
            .take(n)
            .map(|(i, e)| (*i, e.clone()))
            .collect()
    }

    /// How many distinct checkpoints were seen.
    pub(crate) fn checkpoints_seen(&self) -> usize {
        self.checkpoints.len()
    }

    /// One past the highest acknowledged index.
    pub(crate) fn acked_size(&self) -> u64 {
        self.acked_by_index.keys().next_back().map_or(0, |i| i + 1)
    }

    pub(crate) fn assert_ok(&self, context: &str) {
        assert!(
            self.failures.is_empty(),
            "{context}: {} failures:\n{}",
            self.failures.len(),
            self.failures.join("\n")
        );
    }
}

// ---------------------------------------------------------------------------
// Load: concurrent appenders and a checkpoint poller.
// ---------------------------------------------------------------------------

pub(crate) struct LoadOptions {
    pub(crate) tag: String,
    pub(crate) clients: usize,
    pub(crate) entry_bytes_min: usize,
    pub(crate) entry_bytes_max: usize,
    /// Re-submissions may answer `duplicate: false` (a forwarded append
    /// whose first attempt went unanswered is reported as fresh).
    pub(crate) lenient_resubmits: bool,
}

#[derive(Default)]
pub(crate) struct LoadReport {
    pub(crate) acked: Vec<(Vec<u8>, u64)>,
    checkpoints: Vec<(u64, Hash)>,
    refusals: Vec<(u16, String)>,
    failures: Vec<String>,
    pub(crate) requests: u64,
}

pub(crate) struct Load {
    /// Set right before the test kills the server: transport errors are
    /// expected from then on, and failures before.
    dying: Arc<AtomicBool>,
    /// Set by the first client whose append is refused (not busy).
    refused: Arc<AtomicBool>,
    /// Stops the poller (and any client) at the end of a fault scenario.
    stop: Arc<AtomicBool>,
    clients: Vec<tokio::task::JoinHandle<LoadReport>>,
    poller: tokio::task::JoinHandle<LoadReport>,
}

impl Load {
    pub(crate) fn start(
        client: LogClient,
        verifier: Verifier,
        rng: &mut Rng,
        options: LoadOptions,
    ) -> Load {
        let dying = Arc::new(AtomicBool::new(false));
        let refused = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let clients = (0..options.clients)
            .map(|k| {
                let flags = (dying.clone(), refused.clone(), stop.clone());
                let tag = format!("{} client={k}", options.tag);
                let sizes = (options.entry_bytes_min, options.entry_bytes_max);
                tokio::spawn(appender(
                    client.clone(),
                    Rng::new(rng.next_u64()),
                    tag,
                    sizes,
                    flags,
                    options.lenient_resubmits,
                ))
            })
            .collect();
        let poller = tokio::spawn(poll_checkpoints(
            client,
            verifier,
            dying.clone(),
            stop.clone(),
        ));
        Load {
            dying,
            refused,
            stop,
            clients,
            poller,
        }
    }

    pub(crate) fn expect_death(&self) {
        self.dying.store(true, Ordering::SeqCst);
    }

    fn refused(&self) -> bool {
        self.refused.load(Ordering::SeqCst)
    }

    pub(crate) async fn finish(self) -> LoadReport {
        self.stop.store(true, Ordering::SeqCst);
        let mut total = LoadReport::default();
        for handle in self.clients.into_iter().chain(std::iter::once(self.poller)) {
            let r = handle.await.expect("load task panicked");
            total.acked.extend(r.acked);
            total.checkpoints.extend(r.checkpoints);
            total.refusals.extend(r.refusals);
            total.failures.extend(r.failures);
            total.requests += r.requests;
        }
        total
    }
}

/// One appender: fresh unique entries, and now and then a re-submission of an
/// entry it already got acknowledged (which must answer the same index with
/// `duplicate: true`, whether the index or the in-memory window covers it).
async fn appender(
    client: LogClient,
    mut rng: Rng,
    tag: String,
    (bytes_min, bytes_max): (usize, usize),
    (dying, refused, stop): (Arc<AtomicBool>, Arc<AtomicBool>, Arc<AtomicBool>),
    lenient_resubmits: bool,
) -> LoadReport {
    let mut report = LoadReport::default();
    let mut n = 0u64;
    while !stop.load(Ordering::SeqCst) && !refused.load(Ordering::SeqCst) {
        let resubmit = !report.acked.is_empty() && rng.range(0, 7) == 0;
        let (entry, expected) = if resubmit {
            let pick = rng.range(0, report.acked.len() as u64 - 1) as usize;
            let (entry, index) = report.acked[pick].clone();
            (entry, Some(index))
        } else {
            n += 1;
            (make_entry(&tag, n, &mut rng, bytes_min, bytes_max), None)
        };
        report.requests += 1;
        let answer = match client.add(entry.clone()).await {
            Ok(a) => a,
            Err(e) => {
                if !dying.load(Ordering::SeqCst) && !stop.load(Ordering::SeqCst) {
                    report.failures.push(format!(
                        "{tag}: append failed while the server should run: {e}"
                    ));
                }
                break;
            }
        };
        match (answer, expected) {
            (AddAnswer::Added { index, duplicate }, Some(want)) => {
                if index != want || !(duplicate || lenient_resubmits) {
                    report.failures.push(format!(
                        "{tag}: re-submitted entry acknowledged at {want} answered index {index}, duplicate {duplicate}"
                    ));
                }
            }
            (AddAnswer::Added { index, duplicate }, None) => {
                if duplicate {
                    report.failures.push(format!(
                        "{tag}: a fresh entry was answered as a duplicate of {index}"
                    ));
                }
                report.acked.push((entry, index));
            }
            // Back-pressure: try again shortly (with a new entry).
            (
                AddAnswer::Refused {
                    status: 503,
                    retry_after: Some(_),
                    ..
                },
                _,
            ) => {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            (AddAnswer::Refused { status, body, .. }, _) => {
                report.refusals.push((status, body));
                refused.store(true, Ordering::SeqCst);
                break;
            }
        }
    }
    report
}

/// A unique entry of a random length in `[min, max]` bytes.
fn make_entry(tag: &str, n: u64, rng: &mut Rng, min: usize, max: usize) -> Vec<u8> {
    let mut entry = format!("sectwin crash test {tag} n={n} ").into_bytes();
    let want = rng.range(min as u64, max as u64) as usize;
    while entry.len() < want {
        entry.push(b'a' + (rng.next_u64() % 26) as u8);
    }
    entry
}

/// Polls `/log/checkpoint`, verifying every signature and that the size never
/// goes back within one server lifetime.
async fn poll_checkpoints(
    client: LogClient,
    verifier: Verifier,
    dying: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
) -> LoadReport {
    let mut report = LoadReport::default();
    let mut last = 0u64;
    while !stop.load(Ordering::SeqCst) {
        match client.checkpoint(&verifier).await {
            Ok((cp, _)) => {
                let size = cp.size().get();
                if size < last {
                    report
                        .failures
                        .push(format!("served checkpoint went back from {last} to {size}"));
                }
                last = size;
                if report.checkpoints.last().map(|(s, _)| *s) != Some(size) {
                    report.checkpoints.push((size, cp.root()));
                }
            }
            Err(e) => {
                // A transport error once the server is being killed is expected.
                if !dying.load(Ordering::SeqCst) && !stop.load(Ordering::SeqCst) {
                    report.failures.push(format!("checkpoint poll: {e}"));
                }
                if dying.load(Ordering::SeqCst) {
                    break;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    report
}

// ---------------------------------------------------------------------------
// Verification of a (restarted) server against the history.
// ---------------------------------------------------------------------------

pub(crate) struct Verified {
    pub(crate) size: u64,
}

/// Checks the served log against everything observed so far, and records the
/// new checkpoint in the history. Panics with a precise message on failure.
pub(crate) async fn verify_log(
    server: &Server,
    client: &LogClient,
    verifier: &Verifier,
    history: &mut History,
    rng: &mut Rng,
) -> Verified {
    // 1. A checkpoint covering every acknowledged entry and every checkpoint
    //    seen before gets published (if an acknowledged entry was lost, the
    //    log never reaches that size).
    let needed = history
        .acked_size()
        .max(history.checkpoints.keys().next_back().copied().unwrap_or(0));
    let deadline = Instant::now() + PUBLISH_TIMEOUT;
    let (cp, note) = loop {
        let (cp, note) = client
            .checkpoint(verifier)
            .await
            .unwrap_or_else(|e| panic!("{e}\n{}", server.output()));
        if cp.size().get() >= needed {
            break (cp, note);
        }
        assert!(
            Instant::now() < deadline,
            "after restart the log publishes size {} but {needed} entries were acknowledged \
             or checkpointed before: acknowledged entries were LOST\n{}",
            cp.size(),
            server.output()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let (size, root) = (cp.size().get(), cp.root());

    // 2. Consistent with every checkpoint observed before.
    for (&old, old_root) in &history.checkpoints {
        if old == 0 {
            assert_eq!(
                *old_root,
                tlog::empty_root(),
                "checkpoint 0 with a non-empty root"
            );
            continue;
        }
        if old == size {
            assert_eq!(
                *old_root, root,
                "FORK: two checkpoints of size {size} with different roots"
            );
            continue;
        }
        let proof = client.consistency_proof(old, size).await;
        tlog::verify_consistency(TreeSize::new(old), TreeSize::new(size), old_root, &root, &proof)
            .unwrap_or_else(|e| {
                panic!(
                    "the checkpoint of size {size} is NOT consistent with the earlier one of size {old}: {e}\n{}",
                    String::from_utf8_lossy(&note)
                )
            });
    }
    history.record_checkpoint(size, root);
    history.assert_ok("after restart");

    // 3. The served entry bundles hold every acknowledged entry at its index,
    //    no entry twice, and hash to the signed root; the served hash tiles
    //    are the ones those entries make.
    let mut entries: Vec<Vec<u8>> = Vec::with_capacity(size as usize);
    for id in tlog::bundles_for_size(TreeSize::new(size)) {
        let bytes = client.get_ok(&id.path()).await;
        let parsed = tlog::tile::parse_bundle_for(id, &bytes)
            .unwrap_or_else(|e| panic!("bundle {id} served for size {size} is malformed: {e}"));
        entries.extend(parsed.into_iter().map(<[u8]>::to_vec));
    }
    assert_eq!(
        entries.len() as u64,
        size,
        "bundles of size {size} hold {} entries",
        entries.len()
    );
    let mut seen: HashMap<&[u8], u64> = HashMap::with_capacity(entries.len());
    for (i, e) in entries.iter().enumerate() {
        if let Some(first) = seen.insert(e.as_slice(), i as u64) {
            panic!(
                "entry {:?} is in the log twice, at {first} and {i} (dedup failed)",
                String::from_utf8_lossy(e)
            );
        }
    }
    for (&index, entry) in &history.acked_by_index {
        let stored = entries.get(index as usize).unwrap_or_else(|| {
            panic!("acknowledged index {index} is beyond the log size {size}: LOST")
        });
        assert!(
            stored == entry,
            "acknowledged entry {:?} at index {index} was replaced by {:?}",
            String::from_utf8_lossy(entry),
            String::from_utf8_lossy(stored)
        );
    }
    let tree = MemoryTree::from_leaves(entries.iter().map(|e| tlog::leaf_hash(e)));
    assert_eq!(
        tree.root(),
        root,
        "the signed root of size {size} is not the root of the served entries"
    );
    for id in tlog::tiles_for_size(TreeSize::new(size)) {
        let served = client.get_ok(&id.path()).await;
        let want = expected_tile(&tree, id);
        assert!(
            served == want,
            "served hash tile {id} differs from the one the entries make"
        );
    }

    // 4. Inclusion proofs of sampled acknowledged entries verify.
    let acked: Vec<(u64, Vec<u8>)> = history
        .acked_by_index
        .iter()
        .map(|(i, e)| (*i, e.clone()))
        .collect();
    for _ in 0..SAMPLES.min(acked.len()) {
        let (index, entry) = &acked[rng.range(0, acked.len() as u64 - 1) as usize];
        let body = client
            .get_ok(&format!("proof/inclusion?index={index}&format=json"))
            .await;
        let json: serde_json::Value = serde_json::from_slice(&body).expect("inclusion proof JSON");
        let tree_size = json["tree_size"].as_u64().expect("tree_size");
        let proof: Vec<Hash> = json["proof"]
            .as_array()
            .expect("proof")
            .iter()
            .map(|h| Hash::from_base64(h.as_str().expect("hash string")).expect("hash"))
            .collect();
        let proof_root =
            Hash::from_base64(json["root"].as_str().expect("root")).expect("root hash");
        assert_eq!(
            tree_size, size,
            "no new entries were added, the proof is for the published size"
        );
        assert_eq!(proof_root, root);
        tlog::verify_inclusion(
            &tlog::leaf_hash(entry),
            LeafIndex::new(*index),
            TreeSize::new(tree_size),
            &proof,
            &root,
        )
        .unwrap_or_else(|e| panic!("inclusion proof of acknowledged entry {index} fails: {e}"));
    }

    // 5. Re-submitting acknowledged entries answers their index (dedup
    //    survives the crash). The last acknowledged entries are the ones most
    //    likely to have been durable in the journal only, not yet in the
    //    dedup index, when the process died: always re-submit those, plus a
    //    random sample of older ones.
    let newest = acked.iter().rev().take(SAMPLES);
    let sampled: Vec<&(u64, Vec<u8>)> = (0..SAMPLES.min(acked.len()))
        .map(|_| &acked[rng.range(0, acked.len() as u64 - 1) as usize])
        .collect();
    for (index, entry) in newest.chain(sampled) {
        let answer = client.add(entry.clone()).await.expect("re-submission");
        assert_eq!(
            answer,
            AddAnswer::Added {
                index: *index,
                duplicate: true
            },
            "re-submitting acknowledged entry {index} after restart"
        );
    }
    Verified { size }
}

/// The hash tile `id` of the tree: at tile level `l`, hash `j` of tile `k` is
/// the root of the subtree of `256^l` leaves starting at leaf `(256k + j)·256^l`.
fn expected_tile(tree: &MemoryTree, id: tlog::TileId) -> Vec<u8> {
    let span = 1u64 << (8 * u32::from(id.level()));
    let mut out = Vec::with_capacity(id.byte_len());
    for j in 0..u64::from(id.width()) {
        let start = (id.index() * 256 + j) * span;
        let h = tlog::merkle::subtree_hash(start, start + span, tree)
            .unwrap_or_else(|e| panic!("subtree [{start}, {}) of the entries: {e}", start + span));
        out.extend_from_slice(h.as_bytes());
    }
    out
}

// ---------------------------------------------------------------------------
// A tmpfs mount for the disk-full test.
// ---------------------------------------------------------------------------

/// Attack connections opened at once: more than the server's open-file limit
/// below, as the red team's 1,100 connections under `ulimit -n 1024`.
const ATTACK_CONNECTIONS: usize = 400;
/// The open-file limit the attacked server runs under.
const ATTACK_FILE_LIMIT: &str = "256";

/// Issue 13 item 2: idle connections exhausted the descriptors, `accept`
/// failed with EMFILE, the writer's next sync failed and the log stayed
/// read-only after the attacker left. Here the server runs under `ulimit -n
/// 256` and 400 connections arrive at once: idle ones, ones that trickle a
/// header, ones whose body never completes. The server closes every one of
/// them after its timeout (awaited: each socket reads EOF or an answer), an
/// append made during the attack succeeds, and afterwards the log is writable
/// and publishes checkpoints.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_over_the_file_limit_never_make_the_log_read_only() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let mut limited = Command::new("sh");
    limited
        .arg("-c")
        .arg(format!(
            r#"ulimit -n {ATTACK_FILE_LIMIT} && exec "$0" "$@""#
        ))
        .arg(common::SECTWIN)
        .arg("serve")
        .arg("--data")
        .arg(&data)
        .args([
            "--listen",
            "127.0.0.1:0",
            "--checkpoint-interval-ms",
            CHECKPOINT_INTERVAL_MS,
            // Syncs (which open the log directory) run all through the attack.
            "--sync-interval-ms",
            "100",
            "--idle-timeout-ms",
            "1000",
            "--header-read-timeout-ms",
            "1000",
            "--body-timeout-ms",
            "1000",
        ]);
    let mut server = Server::spawn(limited);
    let addr = server.wait_ready();
    let verifier = common::verifier(&data);
    let client = LogClient::new(server.base());
    let before = client
        .add(b"before the attack".to_vec())
        .await
        .expect("add");
    assert!(matches!(before, AddAnswer::Added { .. }), "{before:?}");

    let mut attackers = Vec::with_capacity(ATTACK_CONNECTIONS);
    for i in 0..ATTACK_CONNECTIONS {
        // Connections beyond the server's cap wait in the kernel's backlog
        // until the timeouts free a slot; a server that stopped accepting
        // for good (EMFILE) lets the backlog fill and connects time out.
        let mut tcp = tokio::time::timeout(
            Duration::from_secs(10),
            tokio::net::TcpStream::connect(addr),
        )
        .await
        .unwrap_or_else(|_| panic!("attack connection {i}: the server stopped accepting"))
        .unwrap_or_else(|e| panic!("attack connection {i}: {e}"));
        // A third stay silent, a third stop inside their headers, a third
        // stop inside a body they announced.
        let start: &[u8] = match i % 3 {
            0 => b"",
            1 => b"GET /log/checkpoint HTTP/1.1\r\nHost: x\r\nX-Slow: ",
            _ => b"POST /log/add HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly part",
        };
        tcp.write_all(start).await.expect("write");
        attackers.push(tcp);
    }
    // An append during the attack waits for a free connection slot, which
    // the timeouts provide, and succeeds.
    // (A new client each time: the server closes idle keep-alive
    // connections after the idle timeout, and a pooled one may be reset.)
    let during = LogClient::new(server.base())
        .add(b"during the attack".to_vec())
        .await
        .expect("add");
    assert!(matches!(during, AddAnswer::Added { .. }), "{during:?}");
    // The server closes every attack connection (answers, if any, end in EOF).
    let closing = attackers.into_iter().map(|mut tcp| async move {
        let mut sink = Vec::new();
        tcp.read_to_end(&mut sink).await.map(|_| sink)
    });
    let closed = tokio::time::timeout(Duration::from_secs(60), futures::future::join_all(closing))
        .await
        .expect("the server left attack connections open");
    let stalled_bodies = closed
        .iter()
        .skip(2)
        .step_by(3)
        .filter_map(|r| r.as_ref().ok())
        .filter(|answer| !answer.is_empty())
        .count();
    assert!(
        stalled_bodies > 0,
        "no stalled body was answered: {:?}",
        closed.get(2)
    );

    // The attacker has left: the log is writable and publishes checkpoints.
    let client = LogClient::new(server.base());
    let after = client.add(b"after the attack".to_vec()).await.expect("add");
    let AddAnswer::Added { index, .. } = after else {
        panic!(
            "the log refused an append after the attack: {after:?}\n{}",
            server.output()
        );
    };
    let deadline = Instant::now() + PUBLISH_TIMEOUT;
    loop {
        let (cp, _) = client.checkpoint(&verifier).await.expect("checkpoint");
        if cp.size().get() > index {
            break;
        }
        assert!(Instant::now() < deadline, "no checkpoint covers {index}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        !server.output().contains("read-only"),
        "{}",
        server.output()
    );
    server.stop();
}

//! `sectwin bench ...`: the log's figures, each measured together with the
//! ceiling or peer it is compared with, in the same run. Prints tables of
//! medians and ratios. These are benchmarks, not tests: nothing here asserts
//! a time.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use log_service::{Log, LogConfig};
use tlog::TileEdge;

use crate::node;

/// Benchmark subcommands.
#[derive(clap::Subcommand)]
pub enum BenchCmd {
    /// Durable appends/s: raw ceiling, direct service API, HTTP POST /log/add.
    Append {
        /// Entries per run.
        #[arg(long, default_value_t = 1_000_000)]
        entries: u64,
        /// Entry size in bytes.
        #[arg(long, default_value_t = 500)]
        entry_bytes: usize,
        /// Concurrent clients.
        #[arg(long, default_value_t = 256)]
        clients: usize,
        /// Runs per figure (the median is reported).
        #[arg(long, default_value_t = 3)]
        runs: usize,
        /// Skip the HTTP figures (ours and siglog's; they use entries/10 per
        /// run, since HTTP is slower).
        #[arg(long)]
        no_http: bool,
        /// Where to put the benchmark logs (default: target/bench).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Integration latency (add → covered by a published checkpoint) at a fixed rate.
    Latency {
        /// Entries per second offered (default: half the maximum rate,
        /// measured first in the same run).
        #[arg(long)]
        rate: Option<u64>,
        /// Seconds to run.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Checkpoint interval in ms.
        #[arg(long, default_value_t = 500)]
        checkpoint_interval_ms: u64,
        /// Where to put the benchmark log.
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Inclusion proofs served over HTTP from a log of N entries.
    Proofs {
        /// Log size.
        #[arg(long, default_value_t = 1_000_000)]
        entries: u64,
        /// Seconds to run the load.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Concurrent HTTP clients.
        #[arg(long, default_value_t = 64)]
        clients: usize,
        /// Where to put the benchmark log.
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// The dedup index engines compared (fjall, redb, SQLite): the
    /// measurement behind the embedded store's choice.
    Index {
        /// Keys to insert.
        #[arg(long, default_value_t = 5_000_000)]
        keys: u64,
        /// Keys per batch (one batch per checkpoint in the log).
        #[arg(long, default_value_t = 8192)]
        batch_keys: usize,
        /// Where to put the databases.
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Signed Statements verified and registered durably per second over
    /// HTTP (one per request, and batched), against the Ed25519 ceiling.
    Scitt {
        /// Statements per path (one-per-request and batched each get this many).
        #[arg(long, default_value_t = 100_000)]
        statements: u64,
        /// Concurrent clients posting one statement per request.
        #[arg(long, default_value_t = 64)]
        clients: usize,
        /// Statements per batch request.
        #[arg(long, default_value_t = 256)]
        batch: usize,
        /// Concurrent clients posting batches.
        #[arg(long, default_value_t = 4)]
        batch_clients: usize,
        /// Where to put the benchmark log.
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// The twins at fleet scale in the embedded store: a log of signed
    /// statements, the rebuild (reindex) rate against the Ed25519
    /// verification ceiling, and twin view latency (store and HTTP).
    Twin {
        /// Devices.
        #[arg(long, default_value_t = 1_000_000)]
        devices: u64,
        /// Statements per device.
        #[arg(long, default_value_t = 20)]
        per_device: u64,
        /// Where to put the benchmark data (default: target/bench).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Keep the data directory (to profile `sectwin reindex --data DIR/node` on it).
        #[arg(long)]
        keep: bool,
    },
    /// Issue 5's figures: import of a CVE 5 dump (parse + index), then a
    /// generated fleet's full exposure re-evaluation and the impact of one
    /// advisory.
    Vuln {
        /// The CVE JSON 5 JSON-lines dump (gzip) to import (default: the
        /// shared vulnrichment snapshot).
        #[arg(long)]
        data: Option<PathBuf>,
        /// Devices in the generated fleet.
        #[arg(long, default_value_t = 1_000_000)]
        devices: u32,
        /// Firmware releases.
        #[arg(long, default_value_t = 2_000)]
        releases: u32,
        /// Components per release.
        #[arg(long, default_value_t = 300)]
        components: u32,
        /// Runs per timed figure (the median is reported).
        #[arg(long, default_value_t = 3)]
        runs: usize,
        /// Advisories whose impact is timed one by one.
        #[arg(long, default_value_t = 200)]
        impacts: usize,
    },
    /// Issue 14's fleet-scale register through a running node: a fleet
    /// written to the log as signed statements, the full advisory import
    /// posted over HTTP, then single advisories: until the register and the
    /// notification outbox reflect each; against a full rebuild (what every
    /// change cost before), in the same run.
    Register {
        /// The CVE JSON 5 JSON-lines dump (gzip) (default: the shared
        /// vulnrichment snapshot).
        #[arg(long)]
        data: Option<PathBuf>,
        /// Devices.
        #[arg(long, default_value_t = 1_000_000)]
        devices: u64,
        /// Firmware releases.
        #[arg(long, default_value_t = 2_000)]
        releases: u32,
        /// Components per release.
        #[arg(long, default_value_t = 300)]
        components: u32,
        /// Advisories held back from the full import and posted one by one.
        #[arg(long, default_value_t = 9)]
        posts: usize,
        /// Where to put the benchmark data (default: target/bench).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Threat-model analysis time (pytm-sample size and a generated large
    /// model) and the reference model's findings per STRIDE category.
    Threat {
        /// Runs per figure (the median is reported; at most 11 for the large model).
        #[arg(long, default_value_t = 21)]
        runs: usize,
        /// Elements of the generated model.
        #[arg(long, default_value_t = 10_000)]
        elements: usize,
        /// Flows of the generated model.
        #[arg(long, default_value_t = 30_000)]
        flows: usize,
    },
    /// Resident memory while appending many entries.
    Memory {
        /// Entries to append.
        #[arg(long, default_value_t = 10_000_000)]
        entries: u64,
        /// Entry size in bytes.
        #[arg(long, default_value_t = 500)]
        entry_bytes: usize,
        /// Where to put the benchmark log.
        #[arg(long)]
        dir: Option<PathBuf>,
    },
}

/// Runs one benchmark.
pub async fn run(cmd: BenchCmd) -> Result<()> {
    let result = run_one(cmd).await;
    empty_scratch_trash();
    result
}

async fn run_one(cmd: BenchCmd) -> Result<()> {
    match cmd {
        BenchCmd::Append {
            entries,
            entry_bytes,
            clients,
            runs,
            no_http,
            dir,
        } => append(entries, entry_bytes, clients, runs, !no_http, dir).await,
        BenchCmd::Latency {
            rate,
            seconds,
            checkpoint_interval_ms,
            dir,
        } => latency(rate, seconds, checkpoint_interval_ms, dir).await,
        BenchCmd::Proofs {
            entries,
            seconds,
            clients,
            dir,
        } => proofs(entries, seconds, clients, dir).await,
        BenchCmd::Memory {
            entries,
            entry_bytes,
            dir,
        } => memory(entries, entry_bytes, dir).await,
        BenchCmd::Scitt {
            statements,
            clients,
            batch,
            batch_clients,
            dir,
        } => {
            crate::bench_scitt::run(
                &dir,
                statements,
                clients,
                batch.max(1),
                batch_clients.max(1),
            )
            .await
        }
        BenchCmd::Twin {
            devices,
            per_device,
            dir,
            keep,
        } => crate::bench_twin::run(devices.max(1), per_device, dir, keep).await,
        BenchCmd::Register {
            data,
            devices,
            releases,
            components,
            posts,
            dir,
        } => {
            let data = data.unwrap_or_else(crate::bench_vuln::default_data);
            crate::bench_register::run(
                &data,
                devices.max(1),
                releases.max(1),
                components,
                posts,
                dir,
            )
            .await
        }
        BenchCmd::Vuln {
            data,
            devices,
            releases,
            components,
            runs,
            impacts,
        } => {
            let data = data.unwrap_or_else(crate::bench_vuln::default_data);
            tokio::task::spawn_blocking(move || {
                crate::bench_vuln::run(&data, devices, releases, components, runs, impacts)
            })
            .await?
        }
        BenchCmd::Threat {
            runs,
            elements,
            flows,
        } => {
            tokio::task::spawn_blocking(move || crate::bench_threat::run(runs, elements, flows))
                .await?
        }
        BenchCmd::Index {
            keys,
            batch_keys,
            dir,
        } => {
            let s = Scratch::new(&dir, "index")?;
            tokio::task::spawn_blocking(move || crate::bench_index::run(&s.0, keys, batch_keys))
                .await?
        }
    }
}

/// A scratch directory for one benchmark run, removed afterwards.
pub(crate) struct Scratch(pub(crate) PathBuf);

impl Scratch {
    pub(crate) fn new(base: &Option<PathBuf>, name: &str) -> Result<Scratch> {
        // Default: target/bench in this checkout, on the project's disk
        // (a shared /tmp can be slow to create files in after heavy churn).
        let base = base.clone().unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/bench")
        });
        let dir = base.join(format!(
            "sectwin-bench-{name}-{}-{}",
            std::process::id(),
            nanos()
        ));
        std::fs::create_dir_all(&dir)?;
        Ok(Scratch(dir))
    }
}

/// Scratch directories are removed only when the whole benchmark is over:
/// deleting thousands of files makes ext4 skip their inodes when allocating
/// new ones for the next 30 s or so, which would slow the next run's tile
/// writes and distort its figure. (Back-to-back `bench` commands should be
/// spaced by that much for the same reason.)
static SCRATCH_TRASH: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());

impl Drop for Scratch {
    fn drop(&mut self) {
        if let Ok(mut trash) = SCRATCH_TRASH.lock() {
            trash.push(self.0.clone());
        }
    }
}

fn empty_scratch_trash() {
    let trash = match SCRATCH_TRASH.lock() {
        Ok(mut t) => std::mem::take(&mut *t),
        Err(_) => return,
    };
    for dir in trash {
        let _ = std::fs::remove_dir_all(dir);
    }
}

fn nanos() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

/// A unique entry of `bytes` bytes for (run, i).
fn entry(run: u64, i: u64, bytes: usize) -> Vec<u8> {
    let mut e = vec![b'x'; bytes.max(16)];
    e[..8].copy_from_slice(&run.to_be_bytes());
    e[8..16].copy_from_slice(&i.to_be_bytes());
    e
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

/// The raw ceiling: leaf and node hashing of every entry plus sequential
/// appends of the entries to one file with one fdatasync per batch.
fn raw_ceiling(dir: &Path, entries: u64, entry_bytes: usize, batch: usize) -> Result<f64> {
    let path = dir.join("raw.bin");
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)?;
    let mut edge = TileEdge::new();
    let mut full = Vec::new();
    let mut buf = Vec::with_capacity(batch * (entry_bytes + 2));
    let start = Instant::now();
    let mut i = 0u64;
    while i < entries {
        buf.clear();
        let n = (entries - i).min(batch as u64);
        for k in 0..n {
            let e = entry(u64::MAX, i + k, entry_bytes);
            edge.append(tlog::leaf_hash(&e), &mut full);
            buf.extend_from_slice(&(e.len() as u16).to_be_bytes());
            buf.extend_from_slice(&e);
        }
        full.clear();
        f.write_all(&buf)?;
        f.sync_data()?;
        i += n;
    }
    let rate = entries as f64 / start.elapsed().as_secs_f64();
    drop(f);
    std::fs::remove_file(&path)?;
    Ok(rate)
}

async fn direct_run(
    dir: &Path,
    run: u64,
    entries: u64,
    entry_bytes: usize,
    clients: usize,
) -> Result<(f64, f64)> {
    let (log, _) = node::open_log(dir, None, LogConfig::default())?;
    let per_client = entries / clients as u64;
    let start = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..clients as u64 {
        let log = log.clone();
        tasks.push(tokio::spawn(async move {
            for k in 0..per_client {
                let e = entry(run, c * per_client + k, entry_bytes);
                log.append(e).await.map_err(|e| anyhow::anyhow!("{e}"))?;
            }
            Ok::<_, anyhow::Error>(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    let elapsed = start.elapsed().as_secs_f64();
    let total = per_client * clients as u64;
    log.wait_published(total)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    log.shutdown().await;
    Ok((total as f64 / elapsed, elapsed))
}

async fn http_run(
    dir: &Path,
    run: u64,
    entries: u64,
    entry_bytes: usize,
    clients: usize,
) -> Result<f64> {
    let (log, _) = node::open_log(dir, None, LogConfig::default())?;
    let addr = node::serve(
        node::app(log.clone(), None),
        "127.0.0.1:0".parse()?,
        std::future::pending(),
    )
    .await?;
    let url = format!("http://{addr}/log/add");
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(clients)
        .build()?;
    let per_client = entries / clients as u64;
    let busy = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..clients as u64 {
        let (http, url, busy) = (http.clone(), url.clone(), busy.clone());
        tasks.push(tokio::spawn(async move {
            for k in 0..per_client {
                let e = entry(run, c * per_client + k, entry_bytes);
                loop {
                    let r = http.post(&url).body(e.clone()).send().await?;
                    if r.status() == reqwest::StatusCode::SERVICE_UNAVAILABLE {
                        busy.fetch_add(1, Ordering::Relaxed);
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    }
                    r.error_for_status()?;
                    break;
                }
            }
            Ok::<_, anyhow::Error>(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    let rate = (per_client * clients as u64) as f64 / start.elapsed().as_secs_f64();
    log.shutdown().await;
    Ok(rate)
}

async fn append(
    entries: u64,
    entry_bytes: usize,
    clients: usize,
    runs: usize,
    http: bool,
    dir: Option<PathBuf>,
) -> Result<()> {
    println!("durable appends of {entry_bytes}-byte entries, {clients} concurrent clients, {runs} runs each (median)");
    let mut raw = Vec::new();
    let mut direct = Vec::new();
    let mut over_http = Vec::new();
    let batch = LogConfig::default()
        .batch_entries_max
        .min(clients.max(1) * 8);
    for run in 0..runs as u64 {
        let s = Scratch::new(&dir, "raw")?;
        raw.push(raw_ceiling(&s.0, entries, entry_bytes, batch)?);
        let s = Scratch::new(&dir, "direct")?;
        direct.push(
            direct_run(&s.0, run, entries, entry_bytes, clients)
                .await?
                .0,
        );
        if http {
            let s = Scratch::new(&dir, "http")?;
            over_http.push(http_run(&s.0, run, entries / 10, entry_bytes, clients).await?);
        }
        eprintln!(
            "run {run}: raw {:.0}/s direct {:.0}/s http {:.0}/s",
            raw.last().copied().unwrap_or(0.0),
            direct.last().copied().unwrap_or(0.0),
            over_http.last().copied().unwrap_or(0.0)
        );
    }
    let raw_m = median(raw);
    let direct_m = median(direct);
    println!("| path | entries/s (median) | ratio to raw ceiling |");
    println!("|---|---:|---:|");
    println!("| raw ceiling (hash + append + fdatasync per {batch}) | {raw_m:.0} | 1.00 |");
    println!(
        "| direct service API (Log::append) | {direct_m:.0} | {:.2} |",
        direct_m / raw_m
    );
    if http {
        let http_m = median(over_http);
        println!(
            "| HTTP POST /log/add | {http_m:.0} | {:.2} |",
            http_m / raw_m
        );
        let s = Scratch::new(&dir, "siglog")?;
        match crate::bench_peer::siglog_appends(&s.0, entries / 10, entry_bytes, clients).await {
            Ok(peer) => println!(
                "| siglog 0.1.0 HTTP POST /add (SQLite WAL + fs tiles) | {peer:.0} | {:.2} (sectwin HTTP / siglog = {:.1}) |",
                peer / raw_m,
                http_m / peer
            ),
            Err(e) => println!("| siglog | not measured: {e} | |"),
        }
    }
    Ok(())
}

async fn latency(
    rate: Option<u64>,
    seconds: u64,
    interval_ms: u64,
    dir: Option<PathBuf>,
) -> Result<()> {
    // The maximum rate, measured in this run (direct appends, 256 clients).
    let max_rate = {
        let s = Scratch::new(&dir, "latency-max")?;
        direct_run(&s.0, 99, 300_000, 500, 256).await?.0
    };
    let rate = rate.unwrap_or((max_rate / 2.0) as u64).max(1);
    let s = Scratch::new(&dir, "latency")?;
    let config = LogConfig {
        checkpoint_interval: Duration::from_millis(interval_ms),
        ..LogConfig::default()
    };
    let (log, _) = node::open_log(&s.0, None, config)?;
    let total = rate * seconds;
    // Each acknowledged entry reports (index, submission time) to one
    // observer, which records its latency when a checkpoint covering it is
    // published: no per-entry waiter, so the observer does not distort what
    // it measures.
    let (acked_tx, mut acked_rx) = tokio::sync::mpsc::unbounded_channel::<(u64, Instant)>();
    let mut sizes = log.published_sizes();
    let observer = tokio::spawn(async move {
        let mut hist = latency_hist::Hist::new();
        let mut waiting = std::collections::BinaryHeap::new();
        let mut recorded = 0u64;
        let mut senders_done = false;
        while recorded < total {
            tokio::select! {
                got = acked_rx.recv(), if !senders_done => match got {
                    Some((index, t0)) => waiting.push(std::cmp::Reverse((index, t0))),
                    None => senders_done = true,
                },
                changed = sizes.changed() => {
                    if changed.is_err() {
                        break;
                    }
                }
            }
            let published = *sizes.borrow();
            let now = Instant::now();
            while let Some(std::cmp::Reverse((index, t0))) = waiting.peek().copied() {
                if index >= published {
                    break;
                }
                waiting.pop();
                hist.record(now - t0);
                recorded += 1;
            }
        }
        (hist, recorded)
    });
    let failures = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    // Offer entries at `rate` in 1 ms ticks.
    let mut sent = 0u64;
    let mut tick = tokio::time::interval(Duration::from_millis(1));
    while sent < total {
        tick.tick().await;
        let due = ((start.elapsed().as_secs_f64() * rate as f64) as u64).min(total);
        while sent < due {
            let (log, acked_tx, failures) = (log.clone(), acked_tx.clone(), failures.clone());
            let e = entry(7, sent, 500);
            tokio::spawn(async move {
                let t0 = Instant::now();
                match log.append(e).await {
                    Ok(a) => {
                        let _ = acked_tx.send((a.index.get(), t0));
                    }
                    Err(_) => {
                        failures.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
            sent += 1;
        }
    }
    let offered = total as f64 / start.elapsed().as_secs_f64();
    drop(acked_tx);
    let (hist, recorded) = observer.await?;
    let failed = failures.load(Ordering::Relaxed);
    anyhow::ensure!(
        failed == 0 && recorded == total,
        "{failed} appends failed, {recorded} of {total} latencies recorded"
    );
    let (p50, p99, max) = hist.quantiles();
    println!(
        "integration latency (add → published checkpoint), checkpoint interval {interval_ms} ms"
    );
    println!("maximum rate measured in this run: {max_rate:.0}/s (direct, 256 clients)");
    println!("| offered rate | of maximum | entries | p50 | p99 | max |");
    println!("|---:|---:|---:|---:|---:|---:|");
    println!(
        "| {offered:.0}/s | {:.2} | {total} | {p50:.0} ms | {p99:.0} ms | {max:.0} ms |",
        offered / max_rate
    );
    log.shutdown().await;
    Ok(())
}

/// A latency histogram (microsecond resolution, reported in milliseconds).
mod latency_hist {
    use std::time::Duration;

    pub struct Hist(hdrhistogram::Histogram<u64>);

    impl Hist {
        pub fn new() -> Hist {
            // Microseconds, up to 10 minutes, 3 significant figures.
            Hist(
                hdrhistogram::Histogram::new_with_bounds(1, 600_000_000, 3)
                    .expect("constant histogram bounds are valid"),
            )
        }
        pub fn record(&mut self, d: Duration) {
            let _ = self.0.record(d.as_micros().max(1) as u64);
        }
        /// (p50, p99, max) in milliseconds.
        pub fn quantiles(&self) -> (f64, f64, f64) {
            (
                self.0.value_at_quantile(0.5) as f64 / 1000.0,
                self.0.value_at_quantile(0.99) as f64 / 1000.0,
                self.0.max() as f64 / 1000.0,
            )
        }
    }
}

async fn fill(log: &Log, entries: u64, entry_bytes: usize, clients: usize) -> Result<()> {
    let per_client = entries.div_ceil(clients as u64);
    let mut tasks = Vec::new();
    for c in 0..clients as u64 {
        let log = log.clone();
        tasks.push(tokio::spawn(async move {
            let from = c * per_client;
            let to = ((c + 1) * per_client).min(entries);
            for i in from..to {
                log.append(entry(9, i, entry_bytes))
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
            }
            Ok::<_, anyhow::Error>(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    log.wait_published(entries)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(())
}

async fn proofs(entries: u64, seconds: u64, clients: usize, dir: Option<PathBuf>) -> Result<()> {
    let s = Scratch::new(&dir, "proofs")?;
    let (log, _) = node::open_log(&s.0, None, LogConfig::default())?;
    eprintln!("filling the log with {entries} entries…");
    fill(&log, entries, 500, 256).await?;
    let addr = node::serve(
        node::app(log.clone(), None),
        "127.0.0.1:0".parse()?,
        std::future::pending(),
    )
    .await?;
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..clients as u64 {
        let done = done.clone();
        tasks.push(tokio::spawn(async move {
            let mut client = LeanClient::connect(addr).await?;
            let mut x = c.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
            while Instant::now() < deadline {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let index = x % entries;
                client
                    .get(&format!("/log/proof/inclusion?index={index}&format=json"))
                    .await?;
                done.fetch_add(1, Ordering::Relaxed);
            }
            Ok::<_, anyhow::Error>(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    let rate = done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64();
    // The same proofs computed in-process, for the ratio HTTP / in-process.
    let prover = log.prover();
    let size = log.published().size;
    let n = 200_000u64;
    let t0 = Instant::now();
    let mut x = 88_172_645_463_325_252u64;
    for _ in 0..n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        prover
            .inclusion(tlog::LeafIndex::new(x % entries), size)
            .context("in-process proof")?;
    }
    let inproc = n as f64 / t0.elapsed().as_secs_f64();
    println!("inclusion proofs at {entries} entries, {clients} keep-alive HTTP/1.1 clients on the same machine, {seconds} s");
    println!("| path | proofs/s | ratio to in-process |");
    println!("|---|---:|---:|");
    println!("| in-process Prover::inclusion | {inproc:.0} | 1.00 |");
    println!(
        "| HTTP GET /log/proof/inclusion | {rate:.0} | {:.3} |",
        rate / inproc
    );
    log.shutdown().await;
    Ok(())
}

/// A lean HTTP/1.1 load generator: one keep-alive connection per client,
/// no pool, no URL parsing, so that the generator takes as little of the
/// machine's two cores as possible from the server it measures.
pub(crate) struct LeanClient {
    sender: hyper::client::conn::http1::SendRequest<http_body_util::Full<bytes::Bytes>>,
}

impl LeanClient {
    pub(crate) async fn connect(addr: std::net::SocketAddr) -> Result<LeanClient> {
        let stream = tokio::net::TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let (sender, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "load generator connection closed");
            }
        });
        Ok(LeanClient { sender })
    }

    /// POSTs `body` to `path`; answers the status and the body.
    pub(crate) async fn post(
        &mut self,
        path: &str,
        content_type: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Result<(u16, bytes::Bytes)> {
        use http_body_util::BodyExt;
        self.sender.ready().await?;
        let mut request = hyper::Request::post(path)
            .header(hyper::header::HOST, "localhost")
            .header(hyper::header::CONTENT_TYPE, content_type);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = self
            .sender
            .send_request(request.body(http_body_util::Full::new(bytes::Bytes::from(body)))?)
            .await?;
        let status = response.status().as_u16();
        let body = response.into_body().collect().await?.to_bytes();
        Ok((status, body))
    }

    /// GETs `path`, fails unless the answer is 200, and reads the body.
    async fn get(&mut self, path: &str) -> Result<bytes::Bytes> {
        use http_body_util::BodyExt;
        self.sender.ready().await?;
        let request = hyper::Request::get(path)
            .header(hyper::header::HOST, "localhost")
            .body(http_body_util::Full::new(bytes::Bytes::new()))?;
        let response = self.sender.send_request(request).await?;
        let status = response.status();
        let body = response.into_body().collect().await?.to_bytes();
        anyhow::ensure!(status == hyper::StatusCode::OK, "GET {path}: {status}");
        Ok(body)
    }
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

async fn memory(entries: u64, entry_bytes: usize, dir: Option<PathBuf>) -> Result<()> {
    let s = Scratch::new(&dir, "memory")?;
    let (log, _) = node::open_log(&s.0, None, LogConfig::default())?;
    let step = (entries / 10).max(1);
    // A sampler records the peak RSS between two rows (every 50 ms).
    let peak_kib = Arc::new(AtomicU64::new(0));
    let sampler = tokio::spawn({
        let peak_kib = peak_kib.clone();
        async move {
            loop {
                peak_kib.fetch_max(rss_kib(), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    });
    println!("resident memory while appending {entries} entries of {entry_bytes} bytes");
    println!("| entries | RSS MiB at the row | peak RSS MiB since the last row | elapsed s |");
    println!("|---:|---:|---:|---:|");
    let start = Instant::now();
    let mut done = 0u64;
    while done < entries {
        let n = step.min(entries - done);
        let clients = 256u64;
        let per = n.div_ceil(clients);
        let mut tasks = Vec::new();
        for c in 0..clients {
            let log = log.clone();
            let from = done + c * per;
            let to = (done + (c + 1) * per).min(done + n);
            tasks.push(tokio::spawn(async move {
                for i in from..to {
                    log.append(entry(11, i, entry_bytes))
                        .await
                        .map_err(|e| anyhow::anyhow!("{e}"))?;
                }
                Ok::<_, anyhow::Error>(())
            }));
        }
        for t in tasks {
            t.await??;
        }
        done += n;
        let now = rss_kib();
        let peak = peak_kib.swap(now, Ordering::Relaxed).max(now);
        println!(
            "| {done} | {:.0} | {:.0} | {:.1} |",
            now as f64 / 1024.0,
            peak as f64 / 1024.0,
            start.elapsed().as_secs_f64()
        );
    }
    sampler.abort();
    log.shutdown().await;
    Ok(())
}

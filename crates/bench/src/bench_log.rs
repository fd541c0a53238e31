//! `sectwin-bench append|latency|proofs|memory`: the log's figures, each measured together with the
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

use crate::load::LeanClient;
use crate::scratch::Scratch;

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
        node::log_app(log.clone(), None),
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

pub(crate) async fn append(
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

pub(crate) async fn latency(
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

pub(crate) async fn proofs(
    entries: u64,
    seconds: u64,
    clients: usize,
    dir: Option<PathBuf>,
) -> Result<()> {
    let s = Scratch::new(&dir, "proofs")?;
    let (log, _) = node::open_log(&s.0, None, LogConfig::default())?;
    eprintln!("filling the log with {entries} entries…");
    fill(&log, entries, 500, 256).await?;
    let addr = node::serve(
        node::log_app(log.clone(), None),
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

pub(crate) async fn memory(entries: u64, entry_bytes: usize, dir: Option<PathBuf>) -> Result<()> {
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

//! `sectwin-bench stores`: issue 21's first figure, durable log appends per
//! second with the embedded store and with PostgreSQL, side by side in one
//! run (one node; several nodes cannot share a log yet).
//!
//! Each run opens a fresh log on each store (a fresh data directory; a
//! fresh schema, made by `pg_store::migrate` and dropped after), appends
//! `entries` entries of `entry_bytes` bytes from `clients` concurrent
//! callers through the log service's own API (each `append` answers once
//! its entry is durable: the group commit), then waits until a checkpoint
//! covers them. Medians of `runs` and the ratio. The registration's
//! signature check is not part of it: it costs the same on both stores.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use log_service::LogConfig;

use crate::scratch::Scratch;

fn entry(run: u64, i: u64, bytes: usize) -> Vec<u8> {
    let mut e = vec![b's'; bytes.max(16)];
    e[..8].copy_from_slice(&run.to_be_bytes());
    e[8..16].copy_from_slice(&i.to_be_bytes());
    e
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// Appends/s of one run on `backend`.
async fn one_run(
    dir: &std::path::Path,
    backend: &node::LogBackend,
    run: u64,
    entries: u64,
    entry_bytes: usize,
    clients: usize,
) -> Result<f64> {
    let (log, _) = node::open_log_on(dir, None, LogConfig::default(), backend)?;
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
    let rate = (per_client * clients as u64) as f64 / start.elapsed().as_secs_f64();
    log.shutdown().await;
    Ok(rate)
}

/// Runs the benchmark and prints its table.
pub async fn run(
    entries: u64,
    entry_bytes: usize,
    clients: usize,
    runs: usize,
    database: String,
    dir: Option<PathBuf>,
) -> Result<()> {
    let runs = runs.max(1);
    let clients = clients.max(1);
    let scratch = Scratch::new(&dir, "stores")?;
    let (mut embedded, mut postgres) = (Vec::new(), Vec::new());
    for run in 0..runs as u64 {
        let data = scratch.0.join(format!("embedded-{run}"));
        let rate = one_run(
            &data,
            &node::LogBackend::Embedded,
            run,
            entries,
            entry_bytes,
            clients,
        )
        .await?;
        eprintln!("  run {run}: embedded {rate:.0} appends/s");
        embedded.push(rate);

        let schema = format!("bench_stores_{}_{run}", std::process::id());
        let options = pg_store::PgOptions::new(&database).with_schema(&schema);
        let migrate = options.clone();
        tokio::task::spawn_blocking(move || pg_store::migrate(&migrate))
            .await?
            .with_context(|| format!("preparing schema {schema}"))?;
        let data = scratch.0.join(format!("postgres-{run}"));
        let backend = node::LogBackend::Postgres(options.clone());
        let rate = one_run(&data, &backend, run, entries, entry_bytes, clients).await;
        let drop_schema = options.clone();
        tokio::task::spawn_blocking(move || {
            let mut c = pg_store::connect(&drop_schema)?;
            c.batch_execute(&format!("DROP SCHEMA {} CASCADE", drop_schema.schema))?;
            Ok::<_, anyhow::Error>(())
        })
        .await??;
        let rate = rate?;
        eprintln!("  run {run}: PostgreSQL {rate:.0} appends/s");
        postgres.push(rate);
    }
    let (e, p) = (median(embedded), median(postgres));
    println!(
        "# sectwin-bench stores: {entries} entries of {entry_bytes} bytes from {clients} clients, one node, median of {runs} runs; PostgreSQL at {}",
        pg_store::redacted(&database)
    );
    println!("| store | durable appends/s |");
    println!("|---|---:|");
    println!("| embedded (journal, fdatasync per group commit) | {e:.0} |");
    println!("| PostgreSQL (one transaction per group commit) | {p:.0} |");
    println!("| ratio embedded / PostgreSQL | {:.2} |", e / p);
    Ok(())
}

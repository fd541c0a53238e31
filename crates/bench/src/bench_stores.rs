//! `sectwin-bench stores`: issue 21's first figure, durable log appends per
//! second with the embedded store and with PostgreSQL, side by side in one
//! run, with one node and with three nodes on one PostgreSQL schema.
//!
//! The three nodes run in this process, each with its own log service,
//! store connections and HTTP endpoint for forwarded appends: the callers
//! are spread over the three, the followers forward to the sequencer over
//! HTTP (as `serve` nodes do), and an append answers once durable. All
//! three share this machine's cores, so the figure shows what forwarding
//! costs, not what more machines would add.
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

/// Nodes of the several-node run.
const CLUSTER_NODES: usize = 3;

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
    let rate = drive(
        std::slice::from_ref(&log),
        run,
        entries,
        entry_bytes,
        clients,
    )
    .await?;
    log.shutdown().await;
    Ok(rate)
}

/// Appends `entries` entries from `clients` callers spread over `logs`
/// (each append answers once durable); answers appends/s.
async fn drive(
    logs: &[log_service::Log],
    run: u64,
    entries: u64,
    entry_bytes: usize,
    clients: usize,
) -> Result<f64> {
    let per_client = entries / clients as u64;
    let start = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..clients as u64 {
        let log = logs[(c as usize) % logs.len()].clone();
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
    Ok((per_client * clients as u64) as f64 / start.elapsed().as_secs_f64())
}

/// Appends/s of one run on `nodes` nodes sharing `options`'s schema.
async fn cluster_run(
    dir: &std::path::Path,
    options: &pg_store::PgOptions,
    run: u64,
    entries: u64,
    entry_bytes: usize,
    clients: usize,
    nodes: usize,
) -> Result<f64> {
    let mut logs = Vec::new();
    let mut servers = Vec::new();
    for i in 0..nodes {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let mut o = options.clone();
        o.cluster = Some(pg_store::ClusterOptions {
            node: format!("bench{i}"),
            url,
            lease_ms: pg_store::LEASE_MS_DEFAULT,
        });
        let data = dir.join(format!("node{i}"));
        if i > 0 {
            std::fs::create_dir_all(&data)?;
            for file in ["log.key", "log.vkey"] {
                std::fs::copy(dir.join("node0").join(file), data.join(file))?;
            }
        }
        let (log, _) = node::open_log_on(
            &data,
            None,
            LogConfig::default(),
            &node::LogBackend::Postgres(o),
        )?;
        let app = node::cluster::routes(&log);
        servers.push(tokio::spawn(
            async move { axum::serve(listener, app).await },
        ));
        logs.push(log);
    }
    let roles: Vec<&str> = logs.iter().map(|l| l.role().name()).collect();
    anyhow::ensure!(
        roles.iter().filter(|r| **r == "sequencer").count() == 1,
        "expected one sequencer among {roles:?}"
    );
    let rate = drive(&logs, run, entries, entry_bytes, clients).await?;
    for log in logs.iter().rev() {
        log.shutdown().await;
    }
    for s in servers {
        s.abort();
    }
    Ok(rate)
}

/// A fresh schema for one run; dropped by [`drop_schema`].
async fn fresh_schema(database: &str, name: String) -> Result<pg_store::PgOptions> {
    let options = pg_store::PgOptions::new(database).with_schema(&name);
    let migrate = options.clone();
    tokio::task::spawn_blocking(move || pg_store::migrate(&migrate))
        .await?
        .with_context(|| format!("preparing schema {name}"))?;
    Ok(options)
}

async fn drop_schema(options: &pg_store::PgOptions) -> Result<()> {
    let options = options.clone();
    tokio::task::spawn_blocking(move || {
        let mut c = pg_store::connect(&options)?;
        c.batch_execute(&format!("DROP SCHEMA {} CASCADE", options.schema))?;
        Ok::<_, anyhow::Error>(())
    })
    .await?
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
    let (mut embedded, mut postgres, mut three) = (Vec::new(), Vec::new(), Vec::new());
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

        let options = fresh_schema(
            &database,
            format!("bench_stores_{}_{run}", std::process::id()),
        )
        .await?;
        let data = scratch.0.join(format!("postgres-{run}"));
        let backend = node::LogBackend::Postgres(options.clone());
        let rate = one_run(&data, &backend, run, entries, entry_bytes, clients).await;
        drop_schema(&options).await?;
        let rate = rate?;
        eprintln!("  run {run}: PostgreSQL {rate:.0} appends/s");
        postgres.push(rate);

        let options = fresh_schema(
            &database,
            format!("bench_cluster_{}_{run}", std::process::id()),
        )
        .await?;
        let data = scratch.0.join(format!("cluster-{run}"));
        let rate = cluster_run(
            &data,
            &options,
            run,
            entries,
            entry_bytes,
            clients,
            CLUSTER_NODES,
        )
        .await;
        drop_schema(&options).await?;
        let rate = rate?;
        eprintln!("  run {run}: PostgreSQL, {CLUSTER_NODES} nodes {rate:.0} appends/s");
        three.push(rate);
    }
    let (e, p, t) = (median(embedded), median(postgres), median(three));
    println!(
        "# sectwin-bench stores: {entries} entries of {entry_bytes} bytes from {clients} clients, median of {runs} runs; PostgreSQL at {}",
        pg_store::redacted(&database)
    );
    println!("| store | durable appends/s |");
    println!("|---|---:|");
    println!("| embedded (journal, fdatasync per group commit) | {e:.0} |");
    println!("| PostgreSQL (one transaction per group commit) | {p:.0} |");
    println!(
        "| PostgreSQL, {CLUSTER_NODES} nodes in this process (callers spread over them; followers forward over HTTP) | {t:.0} |"
    );
    println!("| ratio embedded / PostgreSQL, one node | {:.2} |", e / p);
    println!(
        "| ratio PostgreSQL {CLUSTER_NODES} nodes / one node | {:.2} |",
        t / p
    );
    Ok(())
}

//! The benchmark subcommands and their dispatch.

use std::path::PathBuf;

use anyhow::Result;

use crate::bench_log::{append, latency, memory, proofs};
use crate::scratch::{empty_scratch_trash, Scratch};

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
        /// shared vulnrichment snapshot, else the vendored subset).
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
        /// vulnrichment snapshot, else the vendored subset).
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
    /// Issue 18: the device's update check (verifier time per image, SHA-256
    /// and SHA-512 throughput) and the proof bundle's size for a log of
    /// `--entries` (measured) and of 10^9 entries (computed).
    Ota {
        /// Entries of the in-memory log.
        #[arg(long, default_value_t = 1_000_000)]
        entries: u64,
        /// Checks timed (the median is reported).
        #[arg(long, default_value_t = 201)]
        runs: usize,
    },
    /// Issue 19's re-prioritization figures for the register engine alone,
    /// in process: a generated fleet (as `register` builds), then one new
    /// KEV entry (median of `--runs`), the whole KEV catalogue and a day of
    /// EPSS scores, each checked against a full build.
    Reprioritize {
        /// The CVE JSON 5 JSON-lines dump (gzip) (default: the shared
        /// vulnrichment snapshot, else the vendored subset).
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
        /// One-entry steps timed (the median is reported).
        #[arg(long, default_value_t = 31)]
        runs: usize,
    },
    /// Issue 21: durable log appends/s with the embedded store and with
    /// PostgreSQL, side by side (one node), and their ratio.
    Stores {
        /// Entries per run and store.
        #[arg(long, default_value_t = 100_000)]
        entries: u64,
        /// Entry size in bytes.
        #[arg(long, default_value_t = 500)]
        entry_bytes: usize,
        /// Concurrent callers.
        #[arg(long, default_value_t = 256)]
        clients: usize,
        /// Runs per store (the median is reported).
        #[arg(long, default_value_t = 3)]
        runs: usize,
        /// The PostgreSQL server (a schema of its own per run, dropped after).
        #[arg(long, default_value = "postgres://root@127.0.0.1:5432/test")]
        database: String,
        /// Where to put the embedded logs (default: target/bench).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Issue 21: twin read latency at 1M devices on PostgreSQL, beside the
    /// embedded store, and the ratio of the p99s.
    TwinReads {
        /// Devices in the fleet.
        #[arg(long, default_value_t = 1_000_000)]
        devices: u64,
        /// Random twin reads per store.
        #[arg(long, default_value_t = 200_000)]
        reads: u64,
        /// Concurrent readers.
        #[arg(long, default_value_t = 4)]
        readers: usize,
        /// The PostgreSQL server (a schema of its own, dropped after).
        #[arg(long, default_value = "postgres://root@127.0.0.1:5432/test")]
        database: String,
        /// Where to put the embedded store (default: target/bench).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Issue 19's import figures: CISA's KEV catalogue (1,404 entries) and
    /// a day of EPSS scores (`--rows`), into fresh advisory stores, and
    /// loading them for the register.
    Exploit {
        /// Rows of the generated EPSS file.
        #[arg(long, default_value_t = 300_000)]
        rows: usize,
        /// Runs per figure (the median is reported).
        #[arg(long, default_value_t = 5)]
        runs: usize,
        /// Where to put the stores (default: target/bench).
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
    /// Issue 16's figures: device reports through a real broker (a
    /// Mosquitto of its own) verified and registered per second, against
    /// the broker's own ceiling and the batch Ed25519 ceiling; publish →
    /// durable registration latency at half that rate; the posture audit of
    /// a million twins.
    Device {
        /// Devices in the simulated fleet (each registered with its key).
        #[arg(long, default_value_t = 100_000)]
        devices: usize,
        /// Reports published per run.
        #[arg(long, default_value_t = 100_000)]
        reports: usize,
        /// Runs per throughput figure (the median is reported).
        #[arg(long, default_value_t = 3)]
        runs: usize,
        /// Synthetic twins in the posture audit.
        #[arg(long, default_value_t = 1_000_000)]
        audit_twins: usize,
        /// Skip the node: only the broker and Ed25519 ceilings and the audit.
        #[arg(long)]
        skip_ingest: bool,
        /// Where to put the node and the broker's files (default: target/bench).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Issue 18's figure: the roll-out view of one release over a fleet
    /// (default a million devices) in a twin store, against the store's own
    /// scan of every twin, and the fold alone.
    Rollout {
        /// Devices.
        #[arg(long, default_value_t = 1_000_000)]
        devices: u64,
        /// Runs per figure (the median is reported).
        #[arg(long, default_value_t = 5)]
        runs: usize,
        /// Where to put the twin store (default: target/bench).
        #[arg(long)]
        dir: Option<PathBuf>,
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
        BenchCmd::Stores {
            entries,
            entry_bytes,
            clients,
            runs,
            database,
            dir,
        } => crate::bench_stores::run(entries, entry_bytes, clients, runs, database, dir).await,
        BenchCmd::TwinReads {
            devices,
            reads,
            readers,
            database,
            dir,
        } => {
            tokio::task::spawn_blocking(move || {
                crate::bench_twin_reads::run(devices, reads, readers, database, dir)
            })
            .await?
        }
        BenchCmd::Reprioritize {
            data,
            devices,
            releases,
            components,
            runs,
        } => {
            let data = data.unwrap_or_else(crate::bench_vuln::default_data);
            tokio::task::spawn_blocking(move || {
                crate::bench_reprioritize::run(
                    &data,
                    devices.max(1),
                    releases.max(1),
                    components,
                    runs,
                )
            })
            .await?
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
        BenchCmd::Exploit { rows, runs, dir } => {
            tokio::task::spawn_blocking(move || crate::bench_exploit::run(rows.max(1), runs, dir))
                .await?
        }
        BenchCmd::Ota { entries, runs } => {
            tokio::task::spawn_blocking(move || crate::bench_ota::run(entries, runs)).await?
        }
        BenchCmd::Rollout { devices, runs, dir } => {
            tokio::task::spawn_blocking(move || {
                crate::bench_rollout::run(devices.max(1), runs, dir)
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
        BenchCmd::Device {
            devices,
            reports,
            runs,
            audit_twins,
            skip_ingest,
            dir,
        } => {
            crate::bench_device::run(crate::bench_device::Options {
                devices: devices.max(1),
                reports: reports.max(1),
                runs,
                audit_twins,
                skip_ingest,
                dir,
            })
            .await
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

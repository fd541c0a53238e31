//! `sectwin-bench twin-reads`: issue 21's third figure, the latency of a
//! twin read at 1M devices on PostgreSQL, beside the embedded store in the
//! same run.
//!
//! Each store is filled the way the projector fills it: the same fleet's
//! statements (each device registered, then transferred to its owner with a
//! site and a group) folded by the projection through
//! [`twin::store::OverlayState`], flushed every [`FLUSH_ENTRIES`] entries
//! with [`twin::store::ProjectionStore::write`] (one transaction, or one
//! fjall batch and an fsync). Then `readers` threads read random twins
//! through the contract (`ProjectionStore::twin`: the query or the lookup,
//! and decoding the JSON), each read timed; p50, p99 and max over all
//! reads, and the ratio of the p99s. A search page (the devices of one
//! site, 100 ids) is timed the same way.
//!
//! PostgreSQL runs on this machine (the server's own cores are shared with
//! the readers), reached over TCP on 127.0.0.1 through the store's pool.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use twin::projection::{Projection, Registered};
use twin::store::{OverlayState, ProjectionStore};
use twin::{ConsensusPolicy, DeviceId, Meta};

use crate::scratch::Scratch;

/// Entries folded between two flushes.
const FLUSH_ENTRIES: u64 = 50_000;
/// Sites the fleet is spread over (a search page reads one).
const SITES: u64 = 1_000;

fn device(d: u64) -> String {
    format!("device:d{d:08}")
}

/// Folds the fleet into `store`; answers the time it took.
fn load<S: ProjectionStore>(store: S, devices: u64, what: &str) -> Result<Duration> {
    let started = Instant::now();
    let state = OverlayState::new(store).context("opening the fold's state")?;
    let meta = Meta {
        policy: ConsensusPolicy::default(),
        ..Meta::default()
    };
    let mut p = Projection::with_state(meta, state);
    let mut entry = 0u64;
    let mut apply = |p: &mut Projection<OverlayState<S>>, issuer: &str, d: u64, payload: &str| {
        let subject = device(d);
        let r = p
            .apply(Registered {
                issued_at: None,
                entry,
                issuer,
                subject: &subject,
                payload: payload.as_bytes(),
            })
            .map_err(twin::IngestError::from);
        if let Err(e) = &r {
            p.state_mut().refuse(entry, e.to_string());
        }
        p.settle(entry, &r);
        entry += 1;
        if entry.is_multiple_of(FLUSH_ENTRIES) {
            let m = p.meta().clone();
            p.state_mut().flush(&m)?;
        }
        Ok::<_, twin::store::StoreError>(())
    };
    for d in 0..devices {
        let payload = format!(
            r#"{{"type":"device-registered","manufacturer":"Acme","model":"M-{}","serial":"{d}"}}"#,
            d % 17
        );
        apply(&mut p, "acme.example", d, &payload)?;
        if d % 100_000 == 99_999 {
            eprintln!("  {what}: {} devices registered", d + 1);
        }
    }
    for d in 0..devices {
        let payload = format!(
            r#"{{"type":"ownership-transferred","owner":"owner.example","operator":"op.example","maintainer":"fix.example","site":"site-{}","groups":["g{}"]}}"#,
            d % SITES,
            d % 50
        );
        apply(&mut p, "acme.example", d, &payload)?;
    }
    let m = p.meta().clone();
    p.state_mut().flush(&m)?;
    anyhow::ensure!(m.refused == 0, "{what}: {} statements refused", m.refused);
    Ok(started.elapsed())
}

/// Latencies of `reads` random twin reads from `readers` threads, and of
/// search pages; (twin reads, search pages), sorted.
fn read<S: ProjectionStore>(
    store: &S,
    devices: u64,
    reads: u64,
    readers: usize,
) -> Result<(Vec<Duration>, Vec<Duration>)> {
    let per = reads / readers as u64;
    let results: Vec<Result<(Vec<Duration>, Vec<Duration>)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..readers)
            .map(|r| {
                scope.spawn(move || {
                    let mut x = 0x9E37_79B9_7F4A_7C15u64 ^ (r as u64 + 1);
                    let mut next = || {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        x
                    };
                    let mut twins = Vec::with_capacity(per as usize);
                    let mut pages = Vec::new();
                    for i in 0..per {
                        let d = next() % devices;
                        let id = DeviceId::new(format!("d{d:08}")).context("a generated id")?;
                        let t = Instant::now();
                        let twin = store.twin(&id)?;
                        twins.push(t.elapsed());
                        anyhow::ensure!(twin.is_some(), "twin {d} missing");
                        if i % 50 == 0 {
                            let site = format!("site-{}", next() % SITES);
                            let t = Instant::now();
                            let page = store.search("site", &site, None, 100)?;
                            pages.push(t.elapsed());
                            anyhow::ensure!(!page.is_empty(), "no device at {site}");
                        }
                    }
                    Ok((twins, pages))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("a reader panicked")))
            })
            .collect()
    });
    let (mut twins, mut pages) = (Vec::new(), Vec::new());
    for r in results {
        let (t, p) = r?;
        twins.extend(t);
        pages.extend(p);
    }
    twins.sort_unstable();
    pages.sort_unstable();
    Ok((twins, pages))
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i].as_secs_f64() * 1000.0
}

fn row(what: &str, sorted: &[Duration], elapsed: Option<Duration>) -> String {
    let rate = elapsed.map_or(String::new(), |e| {
        format!("{:.0}", sorted.len() as f64 / e.as_secs_f64())
    });
    format!(
        "| {what} | {:.3} | {:.3} | {:.3} | {rate} |",
        pct(sorted, 0.5),
        pct(sorted, 0.99),
        pct(sorted, 1.0)
    )
}

/// Runs the benchmark and prints its table.
pub fn run(
    devices: u64,
    reads: u64,
    readers: usize,
    database: String,
    dir: Option<PathBuf>,
) -> Result<()> {
    let readers = readers.max(1);
    let devices = devices.max(1);
    let scratch = Scratch::new(&dir, "twin-reads")?;

    let embedded = twin_store::TwinStore::open(&scratch.0.join("twins"))?;
    let embedded_load = load(embedded.clone(), devices, "embedded")?;
    eprintln!("  embedded: loaded in {:.0} s", embedded_load.as_secs_f64());
    let started = Instant::now();
    let (e_twins, e_pages) = read(&embedded, devices, reads, readers)?;
    let e_elapsed = started.elapsed();
    drop(embedded);

    let options = pg_store::PgOptions::new(&database)
        .with_schema(&format!("bench_twins_{}", std::process::id()));
    pg_store::migrate(&options).context("preparing the schema")?;
    let result = (|| {
        let pg = std::sync::Arc::new(pg_store::PgTwins::open(&options)?);
        let load_time = load(pg.clone(), devices, "PostgreSQL")?;
        eprintln!("  PostgreSQL: loaded in {:.0} s", load_time.as_secs_f64());
        let mut c = pg_store::connect(&options)?;
        c.batch_execute("ANALYZE")?;
        let started = Instant::now();
        let (twins, pages) = read(&pg, devices, reads, readers)?;
        Ok::<_, anyhow::Error>((load_time, twins, pages, started.elapsed()))
    })();
    if let Ok(mut c) = pg_store::connect(&options) {
        let _ = c.batch_execute(&format!("DROP SCHEMA {} CASCADE", options.schema));
    }
    let (pg_load, p_twins, p_pages, p_elapsed) = result?;

    println!(
        "# sectwin-bench twin-reads: {devices} devices ({} statements folded), {reads} random twin reads from {readers} threads; PostgreSQL at {}",
        2 * devices,
        pg_store::redacted(&database)
    );
    println!("| read | p50 ms | p99 ms | max ms | reads/s |");
    println!("|---|---:|---:|---:|---:|");
    println!("{}", row("twin, embedded", &e_twins, Some(e_elapsed)));
    println!("{}", row("twin, PostgreSQL", &p_twins, Some(p_elapsed)));
    println!(
        "{}",
        row(
            "search page (100 ids of one site), embedded",
            &e_pages,
            None
        )
    );
    println!(
        "{}",
        row(
            "search page (100 ids of one site), PostgreSQL",
            &p_pages,
            None
        )
    );
    println!(
        "PostgreSQL / embedded, twin read p99: {:.2}; load (fold + writes): embedded {:.0} s, PostgreSQL {:.0} s",
        pct(&p_twins, 0.99) / pct(&e_twins, 0.99),
        embedded_load.as_secs_f64(),
        pg_load.as_secs_f64()
    );
    Ok(())
}

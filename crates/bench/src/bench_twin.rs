//! `sectwin-bench twin`: the twins at fleet scale, in the embedded store.
//!
//! 1. Builds a real log: the registry (authority, manufacturer, operator,
//!    owner, maintainer), then `devices` devices with `per_device` signed
//!    statements each, in rounds across the fleet (registered; transferred;
//!    provisioned; deployed; then firmware reports by the operator endorsed
//!    by the owner, and configuration reports by the maintainer). Every
//!    statement is a real COSE_Sign1 (Ed25519), appended through the log.
//! 2. Measures, in the same run, the Ed25519 batch verification ceiling of
//!    this machine on these statements.
//! 3. Rebuilds the twins from the log alone into an empty store (`reindex`,
//!    signatures verified): entries/s, and its ratio to the ceiling.
//! 4. Twin view latency at that size: random devices read from the store
//!    (view + JSON), and over HTTP (`GET /api/v1/devices/{id}` with a bearer
//!    token, sharing policy decisions and read records included).

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use log_service::LogConfig;
use scitt::{Algorithm, SigningKey, StatementBuilder};
use serde_json::json;

use crate::scratch::Scratch;

/// Statements signed and appended per batch.
const BATCH: usize = 16_384;

struct Keys {
    authority: SigningKey,
    maker: SigningKey,
    op: SigningKey,
    owner: SigningKey,
    fix: SigningKey,
}

/// The statement of round `round` for device `d` (`prev`: the device's
/// entry of the previous round, for endorsements).
fn statement(keys: &Keys, d: u64, round: u64, prev: u64) -> Vec<u8> {
    let subject = format!("device:d{d:08}");
    let (key, issuer, payload) = match round {
        0 => (
            &keys.maker,
            "maker.example",
            json!({"type":"device-registered","manufacturer":"Maker","model":format!("M-{}", d % 50),"serial":format!("{d}")}),
        ),
        1 => (
            &keys.maker,
            "maker.example",
            json!({"type":"ownership-transferred","owner":"owner.example","operator":"op.example","maintainer":"fix.example","site":format!("site-{}", d % 1000),"groups":[format!("g{}", d % 20)]}),
        ),
        2 => (
            &keys.op,
            "op.example",
            json!({"type":"lifecycle-changed","to":"provisioned"}),
        ),
        3 => (
            &keys.op,
            "op.example",
            json!({"type":"lifecycle-changed","to":"deployed"}),
        ),
        r if r % 3 == 1 => (
            &keys.op,
            "op.example",
            json!({"type":"firmware-installed","version":format!("2.{r}"),"image_sha256":format!("{:016x}{r:04}", d)}),
        ),
        r if r % 3 == 2 => (
            &keys.owner,
            "owner.example",
            json!({"type":"endorse","entry":prev}),
        ),
        r => (
            &keys.fix,
            "fix.example",
            json!({"type":"configuration-reported","config_sha256":format!("{:016x}{r:04}", d),"settings":{"telnet":false,"tls":"1.3"}}),
        ),
    };
    StatementBuilder::new(issuer, &subject, payload.to_string().as_bytes())
        .content_type("application/json")
        .issued_at(clock::Clock::now_unix_s(&clock::SystemClock))
        .sign(key)
}

/// Signs `items` on every core.
fn sign_all(keys: &Keys, items: &[(u64, u64, u64)]) -> Vec<Vec<u8>> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let per = items.len().div_ceil(threads).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = items
            .chunks(per)
            .map(|part| {
                s.spawn(move || {
                    part.iter()
                        .map(|(d, r, prev)| statement(keys, *d, *r, *prev))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    })
}

/// Appends `statements` in order; answers their indices.
async fn append_all(log: &log_service::Log, statements: Vec<Vec<u8>>) -> Result<Vec<u64>> {
    let results = futures::future::join_all(statements.into_iter().map(|s| log.append(s))).await;
    results
        .into_iter()
        .map(|r| r.map(|a| a.index.get()).map_err(|e| anyhow::anyhow!("{e}")))
        .collect()
}

fn registry(keys: &Keys) -> Vec<Vec<u8>> {
    let reg = |id: &str, roles: &[&str], k: &SigningKey| {
        StatementBuilder::new(
            "authority.example",
            &format!("stakeholder:{id}"),
            json!({"type":"stakeholder-registered","name":id,"roles":roles,"keys":[{"pem":k.public_key().to_pem()}]})
                .to_string()
                .as_bytes(),
        )
        .content_type("application/json")
        .issued_at(clock::Clock::now_unix_s(&clock::SystemClock))
        .sign(&keys.authority)
    };
    vec![
        reg("authority.example", &[], &keys.authority),
        reg("maker.example", &["manufacturer"], &keys.maker),
        reg("op.example", &["operator"], &keys.op),
        reg("owner.example", &["owner"], &keys.owner),
        reg("fix.example", &["maintainer"], &keys.fix),
    ]
}

/// Runs the benchmark and prints a table.
pub async fn run(
    devices: u64,
    per_device: u64,
    dir: Option<std::path::PathBuf>,
    keep: bool,
) -> Result<()> {
    let per_device = per_device.max(4);
    let s = Scratch::new(&dir, "twin")?;
    if keep {
        eprintln!("keeping {}", s.0.display());
    }
    let config = LogConfig {
        checkpoint_interval: Duration::from_millis(500),
        pending_entries_max: 1 << 20,
        ..LogConfig::default()
    };
    let (log, _) = node::open_log(&s.0.join("node"), None, config)?;
    let g = || SigningKey::generate(Algorithm::EdDSA, &mut rand_core::OsRng);
    let keys = Arc::new(Keys {
        authority: g(),
        maker: g(),
        op: g(),
        owner: g(),
        fix: g(),
    });
    append_all(&log, registry(&keys)).await?;

    // 1. The log, round by round across the fleet.
    let total = devices * per_device;
    eprintln!("building a log of {total} signed statements ({devices} devices x {per_device})");
    let started = Instant::now();
    let mut prev = vec![0u64; devices as usize];
    let mut sample: Vec<Vec<u8>> = Vec::new();
    for round in 0..per_device {
        let mut d = 0u64;
        while d < devices {
            let end = (d + BATCH as u64).min(devices);
            let items: Vec<(u64, u64, u64)> =
                (d..end).map(|x| (x, round, prev[x as usize])).collect();
            let k = keys.clone();
            let signed = tokio::task::spawn_blocking(move || sign_all(&k, &items)).await?;
            if sample.len() < 65_536 {
                sample.extend(signed.iter().take(65_536 - sample.len()).cloned());
            }
            let indices = append_all(&log, signed).await?;
            for (x, i) in (d..end).zip(indices) {
                prev[x as usize] = i;
            }
            d = end;
        }
        eprintln!(
            "  round {}/{per_device} done, {:.0} s",
            round + 1,
            started.elapsed().as_secs_f64()
        );
    }
    let size = log.durable_size().get();
    tokio::time::timeout(Duration::from_secs(120), log.wait_published(size))
        .await
        .context("no checkpoint")??;
    let build_s = started.elapsed().as_secs_f64();

    // 2. The verification ceiling on these statements (batch, every core).
    let parsed: Vec<scitt::SignedStatement> = sample
        .iter()
        .filter_map(|b| scitt::SignedStatement::parse(b).ok())
        .collect();
    let by_kid = |st: &scitt::SignedStatement| -> scitt::PublicKey {
        for k in [&keys.maker, &keys.op, &keys.owner, &keys.fix] {
            if k.public_key().thumbprint().as_slice() == st.key_id() {
                return k.public_key();
            }
        }
        keys.authority.public_key()
    };
    let pairs: Vec<(scitt::SignedStatement, scitt::PublicKey)> = parsed
        .into_iter()
        .map(|st| {
            let k = by_kid(&st);
            (st, k)
        })
        .collect();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let t = Instant::now();
    std::thread::scope(|scope| {
        for part in pairs.chunks(pairs.len().div_ceil(threads).max(1)) {
            scope.spawn(move || {
                for batch in part.chunks(256) {
                    let items: Vec<(&scitt::SignedStatement, &scitt::PublicKey)> =
                        batch.iter().map(|(s, k)| (s, k)).collect();
                    std::hint::black_box(scitt::verify_many(&items));
                }
            });
        }
    });
    let ceiling = pairs.len() as f64 / t.elapsed().as_secs_f64();

    // 3. Reindex from the log alone: verifying every signature (a mirror),
    //    then trusting admission (this node's own log), into the live store.
    let published = log.published().size;
    let mut rebuild = Vec::new();
    let mut stats = None;
    for (dir, signatures) in [
        (s.0.join("twins-verified"), twin_store::Signatures::Verify),
        (
            s.0.join("node").join("twins"),
            twin_store::Signatures::TrustAdmission,
        ),
    ] {
        let store = twin_store::TwinStore::open(&dir)?;
        eprintln!("reindexing {} entries ({signatures:?})", published.get());
        let mut last = Instant::now();
        let st = twin_store::reindex(
            &log.prover(),
            published,
            &store,
            None,
            node::fold_rules(),
            signatures,
            |n| {
                if last.elapsed() > Duration::from_secs(10) {
                    last = Instant::now();
                    eprintln!("  {n} entries");
                }
            },
        )?;
        if st.refused != 0 {
            bail!(
                "{} entries refused during reindex: the generator is wrong",
                st.refused
            );
        }
        rebuild.push((
            st.entries as f64 / st.elapsed.as_secs_f64(),
            st.elapsed.as_secs_f64(),
            dir_bytes(&dir),
        ));
        stats = Some(st);
    }
    let stats = stats.context("no reindex")?;

    // 4. Twin views: from the store, then over HTTP through the node.
    log.shutdown().await;
    drop(log);
    let (node, _) = node::open_node(
        &s.0.join("node"),
        None,
        LogConfig::default(),
        None,
        transparency::RegistrationPolicy::default(),
    )
    .await?;
    let policy = twin::ConsensusPolicy::default();
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        twin::DeviceId::new(format!("d{:08}", x % devices)).expect("a generated id is valid")
    };
    let mut store_hist = hdrhistogram::Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3)?;
    let store = node.projector.store().clone();
    for _ in 0..20_000 {
        let device = next();
        let t = Instant::now();
        let view = store
            .view(&policy, &device)?
            .context("a device is missing")?;
        std::hint::black_box(serde_json::to_vec(&view)?);
        let _ = store_hist.record(t.elapsed().as_nanos().max(1) as u64);
    }
    let addr = node::serve(
        node::app(&node),
        "127.0.0.1:0".parse()?,
        std::future::pending(),
    )
    .await?;
    let (id, secret) = node.create_credential("op.example", "bench")?;
    let http = reqwest::Client::new();
    let token: serde_json::Value = http
        .post(format!("http://{addr}/oauth/token"))
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await?
        .json()
        .await?;
    let token = token["access_token"].as_str().context("token")?.to_string();
    let mut http_hist = hdrhistogram::Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3)?;
    for _ in 0..5_000 {
        let device = next();
        let t = Instant::now();
        let r = http
            .get(format!("http://{addr}/api/v1/devices/{}", device))
            .bearer_auth(&token)
            .send()
            .await?;
        if !r.status().is_success() {
            bail!("GET twin answered {}", r.status());
        }
        std::hint::black_box(r.bytes().await?);
        let _ = http_hist.record(t.elapsed().as_nanos().max(1) as u64);
    }
    node.shutdown().await;
    drop(store);
    drop(node);
    if keep {
        std::mem::forget(s);
    }

    let ms = |h: &hdrhistogram::Histogram<u64>, q: f64| h.value_at_quantile(q) as f64 / 1e6;
    println!(
        "twins in the embedded store: {devices} devices, {} statements ({per_device} per device), log built in {build_s:.0} s",
        stats.entries
    );
    println!("| figure | value |");
    println!("|---|---:|");
    println!("| Ed25519 batch verification ceiling, {threads} cores, these statements | {ceiling:.0} statements/s |");
    println!(
        "| reindex, every signature verified (read, parse, verify, fold, store) | {:.0} statements/s ({:.2} of the verification ceiling; {:.1} s) |",
        rebuild[0].0,
        rebuild[0].0 / ceiling,
        rebuild[0].1
    );
    println!(
        "| reindex, trusting admission (read, parse, key validity, fold, store) | {:.0} statements/s ({:.1} s) |",
        rebuild[1].0, rebuild[1].1
    );
    println!(
        "| twin store on disk | {:.1} GiB |",
        rebuild[1].2 as f64 / (1u64 << 30) as f64
    );
    println!(
        "| twin view from the store + JSON, p50 / p99 / max | {:.3} / {:.3} / {:.3} ms |",
        ms(&store_hist, 0.5),
        ms(&store_hist, 0.99),
        store_hist.max() as f64 / 1e6
    );
    println!(
        "| GET /api/v1/devices/{{id}} (token, policy, read record), p50 / p99 / max | {:.3} / {:.3} / {:.3} ms |",
        ms(&http_hist, 0.5),
        ms(&http_hist, 0.99),
        http_hist.max() as f64 / 1e6
    );
    Ok(())
}

fn dir_bytes(dir: &std::path::Path) -> u64 {
    let mut total = 0;
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            match e.metadata() {
                Ok(m) if m.is_dir() => total += dir_bytes(&e.path()),
                Ok(m) => total += m.len(),
                Err(_) => {}
            }
        }
    }
    total
}

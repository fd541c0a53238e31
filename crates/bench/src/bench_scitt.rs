//! `sectwin-bench scitt`: Signed Statements verified and registered durably
//! per second through the HTTP API, one statement per request
//! (`POST /entries` with `Prefer: respond-async`, many clients) and in
//! batches (`POST /api/v1/statements/batch`, Ed25519 batch verification),
//! each compared with the machine's Ed25519 verification ceiling measured in
//! the same run (single and batch verification of the same statements on
//! every core, no I/O).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use log_service::LogConfig;
use scitt::{Algorithm, SignedStatement, SigningKey, StatementBuilder};

use crate::load::LeanClient;
use crate::scratch::Scratch;

const ISSUERS: usize = 64;

/// Pre-signs `n` distinct statements (about 300 bytes of JSON each), issuer
/// `i % ISSUERS`, on every core: twin statements (`device-registered` for
/// new devices) when `twin`, otherwise statements about software subjects.
fn sign_statements(keys: &[(String, SigningKey)], from: u64, n: u64, twin: bool) -> Vec<Vec<u8>> {
    let cores = std::thread::available_parallelism()
        .map(|c| c.get())
        .unwrap_or(1) as u64;
    let per = n.div_ceil(cores);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..cores)
            .map(|c| {
                s.spawn(move || {
                    let lo = from + c * per;
                    let hi = (from + (c + 1) * per).min(from + n);
                    (lo..hi)
                        .map(|i| {
                            let (issuer, key) = &keys[(i % ISSUERS as u64) as usize];
                            if twin {
                                // A manufacturer registers a new device: a
                                // statement the twins' registration policy
                                // admits (registered key, role, new subject).
                                let payload = format!(
                                    r#"{{"type":"device-registered","manufacturer":"{issuer}","model":"DC-200","serial":"{i:08}","hardware_id":"tpm-ek-sha256:9f2c0d51e5a1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f"}}"#
                                );
                                return StatementBuilder::new(issuer, &format!("device:door-ctl-{i:08}"), payload.as_bytes())
                                    .content_type("application/json")
                                    .issued_at(clock::Clock::now_unix_s(&clock::SystemClock))
                                    .sign(key);
                            }
                            let payload = format!(
                                r#"{{"type":"firmware-installed","device":"door-ctl-{i:08}","version":"2.4.1","image_sha256":"9f2c0d51e5a1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f","site":"building-a","reported_by":"device"}}"#
                            );
                            StatementBuilder::new(issuer, &format!("device:door-ctl-{i:08}"), payload.as_bytes())
                                .content_type("application/json")
                                .issued_at(clock::Clock::now_unix_s(&clock::SystemClock))
                                .sign(key)
                        })
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

/// Verifications per second on every core: one by one, and in batches.
fn ceilings(keys: &[(String, SigningKey)], statements: &[Vec<u8>], batch: usize) -> (f64, f64) {
    let parsed: Vec<(SignedStatement, scitt::PublicKey)> = statements
        .iter()
        .enumerate()
        .filter_map(|(i, b)| {
            let s = SignedStatement::parse(b).ok()?;
            Some((s, keys[i % ISSUERS].1.public_key()))
        })
        .collect();
    let cores = std::thread::available_parallelism()
        .map(|c| c.get())
        .unwrap_or(1);
    let chunk = parsed.len().div_ceil(cores);
    let single = {
        let t = Instant::now();
        std::thread::scope(|s| {
            for part in parsed.chunks(chunk) {
                s.spawn(move || {
                    for (st, k) in part {
                        let _ = st.verify(k);
                    }
                });
            }
        });
        parsed.len() as f64 / t.elapsed().as_secs_f64()
    };
    let batched = {
        let t = Instant::now();
        std::thread::scope(|s| {
            for part in parsed.chunks(chunk) {
                s.spawn(move || {
                    for group in part.chunks(batch) {
                        let items: Vec<_> = group.iter().map(|(st, k)| (st, k)).collect();
                        let _ = scitt::verify_many(&items);
                    }
                });
            }
        });
        parsed.len() as f64 / t.elapsed().as_secs_f64()
    };
    (single, batched)
}

/// Runs the benchmark and prints a table.
pub async fn run(
    dir: &Option<std::path::PathBuf>,
    statements: u64,
    clients: usize,
    batch: usize,
    batch_clients: usize,
) -> Result<()> {
    let keys: Vec<(String, SigningKey)> = (0..ISSUERS)
        .map(|i| {
            (
                format!("org-{i}.example"),
                SigningKey::generate(Algorithm::EdDSA, &mut rand_core::OsRng),
            )
        })
        .collect();
    eprintln!("signing {} statements…", 4 * statements);
    let singles = sign_statements(&keys, 0, statements, false);
    let batched = sign_statements(&keys, statements, statements, false);
    let twin_singles = sign_statements(&keys, 2 * statements, statements, true);
    let twin_batched = sign_statements(&keys, 3 * statements, statements, true);
    let (ceiling_single, ceiling_batch) = ceilings(&keys, &singles, batch);

    // A. The SCITT path alone: issuers from a static key directory.
    let s = Scratch::new(dir, "scitt")?;
    let (log, _) = node::open_log(&s.0, None, LogConfig::default())?;
    let directory = Arc::new(transparency::StaticKeys::new());
    for (issuer, key) in &keys {
        directory.add(issuer, key.public_key());
    }
    let service = node::open_transparency(
        &s.0,
        &log,
        directory,
        log.origin(),
        transparency::RegistrationPolicy::default(),
    )?;
    let addr = node::serve(
        node::log_app(log.clone(), Some(service)),
        "127.0.0.1:0".parse()?,
        std::future::pending(),
    )
    .await?;
    eprintln!("SCITT path (static keys)…");
    let (single_rate, batch_rate) = drive(
        addr,
        singles.clone(),
        batched,
        clients,
        batch,
        batch_clients,
    )
    .await?;
    log.shutdown().await;
    drop(s);

    // B. The product path: a full node; issuers are manufacturers registered
    // in the log by the authority, every statement passes the twins'
    // registration policy (registry key in force, role, pre-check against
    // the projection) and is folded into the twins by the projector.
    let s = Scratch::new(dir, "scitt-twins")?;
    let (node, _) = node::open_node(
        &s.0,
        None,
        LogConfig::default(),
        None,
        transparency::RegistrationPolicy::default(),
    )
    .await?;
    for (issuer, key) in &keys {
        let payload = serde_json::json!({"type": "stakeholder-registered", "name": issuer,
            "roles": ["manufacturer"], "keys": [{"pem": key.public_key().to_pem()}]});
        let r = node
            .scitt
            .register(node.authority_statement(&format!("stakeholder:{issuer}"), &payload))
            .await
            .map_err(|e| anyhow::anyhow!("registering {issuer}: {e}"))?;
        node.projector
            .wait_projected(r.index.get() + 1, std::time::Duration::from_secs(30))
            .await;
    }
    let addr = node::serve(
        node::app(&node),
        "127.0.0.1:0".parse()?,
        std::future::pending(),
    )
    .await?;
    eprintln!("twin registration path…");
    let (twin_single_rate, twin_batch_rate) = drive(
        addr,
        twin_singles,
        twin_batched,
        clients,
        batch,
        batch_clients,
    )
    .await?;
    // The bootstrap, the issuers, and both runs' statements.
    let expected = 1 + ISSUERS as u64 + 2 * statements;
    let projected_in_time = node
        .projector
        .wait_projected(expected, std::time::Duration::from_secs(120))
        .await;
    let meta = node.projector.meta();
    anyhow::ensure!(
        projected_in_time && meta.refused == 0 && meta.applied == expected,
        "twins: {} applied, {} refused, projected {}",
        meta.applied,
        meta.refused,
        meta.size
    );
    node.shutdown().await;

    println!(
        "signed statements (Ed25519, ~{} bytes) verified and registered durably over HTTP, {} issuers",
        singles.first().map(Vec::len).unwrap_or(0),
        ISSUERS
    );
    println!("| path | statements/s | ratio to the Ed25519 ceiling |");
    println!("|---|---:|---:|");
    println!("| ceiling: verify one by one, all cores | {ceiling_single:.0} | 1.00 |");
    println!(
        "| ceiling: batch verify ({batch} per batch), all cores | {ceiling_batch:.0} | {:.2} |",
        ceiling_batch / ceiling_single
    );
    println!(
        "| SCITT, static keys: POST /entries, one per request, {clients} clients (Prefer: respond-async) | {single_rate:.0} | {:.2} of one-by-one |",
        single_rate / ceiling_single
    );
    println!(
        "| SCITT, static keys: POST /api/v1/statements/batch, {batch} per request, {batch_clients} clients | {batch_rate:.0} | {:.2} of batch |",
        batch_rate / ceiling_batch
    );
    println!(
        "| twins (registry + pre-check + projection): POST /entries, one per request, {clients} clients | {twin_single_rate:.0} | {:.2} of one-by-one |",
        twin_single_rate / ceiling_single
    );
    println!(
        "| twins (registry + pre-check + projection): POST /api/v1/statements/batch, {batch} per request, {batch_clients} clients | {twin_batch_rate:.0} | {:.2} of batch |",
        twin_batch_rate / ceiling_batch
    );
    println!(
        "twins after the run: {} statements applied, 0 refused",
        meta.applied
    );
    Ok(())
}

/// Registers `singles` one per request from `clients` connections, then
/// `batched` in batches of `batch` from `batch_clients` connections; returns
/// both rates (statements/s).
async fn drive(
    addr: std::net::SocketAddr,
    singles: Vec<Vec<u8>>,
    batched: Vec<Vec<u8>>,
    clients: usize,
    batch: usize,
    batch_clients: usize,
) -> Result<(f64, f64)> {
    // One statement per request, `clients` keep-alive connections.
    let singles = Arc::new(singles);
    let next = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (singles, next) = (singles.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut client = LeanClient::connect(addr).await?;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed) as usize;
                let Some(statement) = singles.get(i) else {
                    break;
                };
                let status = client
                    .post(
                        "/entries",
                        "application/cose",
                        &[("prefer", "respond-async")],
                        statement.clone(),
                    )
                    .await?
                    .0;
                anyhow::ensure!(
                    status == 303 || status == 201,
                    "POST /entries answered {status}"
                );
            }
            Ok::<_, anyhow::Error>(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    let single_rate = singles.len() as f64 / start.elapsed().as_secs_f64();

    // Batches.
    let bodies: Vec<Vec<u8>> = batched
        .chunks(batch)
        .map(|group| {
            let value = ciborium::Value::Array(
                group
                    .iter()
                    .map(|b| ciborium::Value::Bytes(b.clone()))
                    .collect(),
            );
            let mut out = Vec::new();
            let _ = ciborium::into_writer(&value, &mut out);
            out
        })
        .collect();
    let bodies = Arc::new(bodies);
    let next = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..batch_clients {
        let (bodies, next) = (bodies.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut client = LeanClient::connect(addr).await?;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed) as usize;
                let Some(body) = bodies.get(i) else { break };
                let (status, answer) = client
                    .post(
                        "/api/v1/statements/batch",
                        "application/cbor",
                        &[],
                        body.clone(),
                    )
                    .await?;
                anyhow::ensure!(status == 200, "batch answered {status}");
                let json: serde_json::Value = serde_json::from_slice(&answer)?;
                let errors = json["results"]
                    .as_array()
                    .context("results")?
                    .iter()
                    .filter(|r| r.get("error").is_some())
                    .count();
                anyhow::ensure!(
                    errors == 0,
                    "{errors} statements of a batch refused: {json}"
                );
            }
            Ok::<_, anyhow::Error>(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    let batch_rate = batched.len() as f64 / start.elapsed().as_secs_f64();
    Ok((single_rate, batch_rate))
}

//! `sectwin demo`: the README's main job. Starts an embedded log and an
//! independent witness on loopback, records a realistic sequence of device
//! security facts, and shows every guarantee working end to end: durable
//! indices, witnessed checkpoints, offline-verifiable inclusion proofs,
//! deduplication, full-log verification, and tamper detection.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use log_service::{LogConfig, WitnessConfig};

use crate::node;

/// Arguments of `sectwin demo`.
#[derive(clap::Args)]
pub struct DemoArgs {
    /// Stop at the end of the scenario instead of serving until Ctrl-C.
    #[arg(long)]
    exit: bool,
    /// Data directory (default: a fresh temporary directory).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Address for the log's HTTP API (port 0: any free port).
    #[arg(long, default_value = node::DEFAULT_LISTEN)]
    listen: std::net::SocketAddr,
}

const EVENTS: &[&str] = &[
    r#"{"type":"device-registered","device":"door-ctl-0042","manufacturer":"Acme Locks","model":"DC-200","by":"acme.example"}"#,
    r#"{"type":"device-registered","device":"cam-lobby-1","manufacturer":"Vistacam","model":"VC-9","by":"vistacam.example"}"#,
    r#"{"type":"device-registered","device":"gw-bldg-a","manufacturer":"Acme Locks","model":"GW-1","by":"acme.example"}"#,
    r#"{"type":"vulnerability-disclosed","id":"CVE-2024-3596","affects":"Acme DC-200 firmware < 2.4.1","by":"acme.example"}"#,
    r#"{"type":"firmware-released","model":"DC-200","version":"2.4.1","image_sha256":"9f2c…","by":"acme.example"}"#,
    r#"{"type":"firmware-installed","device":"door-ctl-0042","version":"2.4.1","by":"door-ctl-0042"}"#,
    r#"{"type":"endorse","statement":"firmware-installed door-ctl-0042 2.4.1","by":"operator.example"}"#,
    r#"{"type":"maintenance-performed","device":"cam-lobby-1","work":"lens cleaned, tamper seal replaced","by":"fixit.example"}"#,
    r#"{"type":"dispute","statement":"maintenance-performed cam-lobby-1","reason":"no site visit logged","by":"operator.example"}"#,
];

/// Runs the scenario.
pub async fn run(args: DemoArgs) -> Result<()> {
    let tmp;
    let data = match args.data {
        Some(d) => d,
        None => {
            tmp = tempdir()?;
            tmp.clone()
        }
    };
    println!("sectwin demo — data in {}\n", data.display());

    // 1. An independent witness, trusting the log's key.
    let (signer, _) = node::load_or_create_key(&data.join("node"), None)?;
    let witness = crate::open_witness(
        &data.join("witness"),
        "witness.sectwin.localhost/w1",
        &[signer.vkey()],
    )?;
    let witness_vkey = witness.vkey();
    let witness_addr = node::serve(
        http_api::witness::router(Arc::new(witness)),
        "127.0.0.1:0".parse()?,
        std::future::pending(),
    )
    .await?;
    println!("1. witness  {witness_vkey}\n   listening on http://{witness_addr}/");

    // 2. The log, publishing only checkpoints the witness cosigned.
    let config = LogConfig {
        checkpoint_interval: Duration::from_millis(200),
        witnesses: vec![WitnessConfig {
            url: format!("http://{witness_addr}"),
            vkey: witness_vkey.clone(),
        }],
        witness_quorum: 1,
        ..LogConfig::default()
    };
    let (log, _) = node::open_log(&data.join("node"), None, config)?;
    let listen = args.listen;
    let addr = match node::serve(node::app(log.clone()), listen, std::future::pending()).await {
        Ok(a) => a,
        Err(_) if listen.port() != 0 => {
            println!("   (port {} busy; using a free port)", listen.port());
            node::serve(
                node::app(log.clone()),
                "127.0.0.1:0".parse()?,
                std::future::pending(),
            )
            .await?
        }
        Err(e) => return Err(e),
    };
    let base = format!("http://{addr}/log");
    println!(
        "2. log      {}\n   serving {base}/checkpoint, /tile/..., POST /add",
        log.vkey()
    );

    // 3. Stakeholders record facts through the HTTP API.
    let http = reqwest::Client::new();
    println!(
        "\n3. recording {} security facts through POST {base}/add",
        EVENTS.len()
    );
    let mut indices = Vec::new();
    for event in EVENTS {
        let r: serde_json::Value = http
            .post(format!("{base}/add"))
            .body(event.to_string())
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let index = r["index"].as_u64().context("index missing")?;
        indices.push(index);
        let kind = serde_json::from_str::<serde_json::Value>(event)?["type"].clone();
        println!("   #{index:<3} durable  {kind}");
    }
    let again: serde_json::Value = http
        .post(format!("{base}/add"))
        .body(EVENTS[0].to_string())
        .send()
        .await?
        .json()
        .await?;
    println!(
        "   re-submitting the first fact answers its existing index: {} (duplicate: {})",
        again["index"], again["duplicate"]
    );

    // 4. Wait for a witnessed checkpoint covering everything.
    let size = indices.iter().max().map(|m| m + 1).unwrap_or(0);
    tokio::time::timeout(Duration::from_secs(10), log.wait_published(size))
        .await
        .context("no witnessed checkpoint within 10 s")??;
    let checkpoint = http
        .get(format!("{base}/checkpoint"))
        .send()
        .await?
        .text()
        .await?;
    println!("\n4. witnessed checkpoint:\n{}", indent(&checkpoint));

    // 5. An inclusion proof, verified offline against a policy.
    let policy_text = format!("log {}\nwitness w1 {witness_vkey}\nquorum w1\n", log.vkey());
    let policy = tlog::Policy::parse(&policy_text).map_err(|e| anyhow::anyhow!("{e}"))?;
    let index = indices.get(5).copied().unwrap_or(0);
    let proof_text = http
        .get(format!("{base}/proof/inclusion?index={index}"))
        .send()
        .await?
        .error_for_status()?
        .text()
        .await?;
    let proof =
        tlog::TlogProof::parse(proof_text.as_bytes()).map_err(|e| anyhow::anyhow!("{e}"))?;
    let leaf = tlog::leaf_hash(EVENTS[5].as_bytes());
    proof
        .verify(&leaf, &policy)
        .map_err(|e| anyhow::anyhow!("proof did not verify: {e}"))?;
    println!(
        "5. tlog-proof for entry #{index} verified offline (log signature + witness quorum + inclusion)"
    );
    let tampered = tlog::leaf_hash(b"{\"type\":\"firmware-installed\",\"version\":\"1.0.0\"}");
    if proof.verify(&tampered, &policy).is_ok() {
        bail!("a tampered entry verified: this must never happen");
    }
    println!("   the same proof rejects an altered entry");

    // 6. Anyone can verify the whole log from its static files.
    let mut options = log_service::verify::VerifyOptions::new(log.vkey());
    options.policy = Some(policy);
    let source = log_service::verify::HttpSource::new(&base).map_err(|e| anyhow::anyhow!("{e}"))?;
    let report = log_service::verify::verify_log(&source, &options)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    println!(
        "6. full-log verification over HTTP: size {}, {} tiles and {} bundles re-hashed to the root, {} cosigner(s), quorum met",
        report.size,
        report.counts.tiles,
        report.counts.bundles,
        report.cosigners.len()
    );

    println!("\nWhere to look:");
    println!("   curl {base}/checkpoint");
    println!("   curl '{base}/proof/inclusion?index={index}'");
    println!("   sectwin log verify {base} --vkey '{}'", log.vkey());
    println!("   static files: {}", data.join("node/log").display());
    if !args.exit {
        println!("\nserving until Ctrl-C");
        let _ = tokio::signal::ctrl_c().await;
    }
    log.shutdown().await;
    println!("\ndemo complete");
    Ok(())
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("   {l}\n")).collect()
}

fn tempdir() -> Result<PathBuf> {
    let base = std::env::temp_dir().join(format!(
        "sectwin-demo-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0)
    ));
    std::fs::create_dir_all(&base)?;
    Ok(base)
}

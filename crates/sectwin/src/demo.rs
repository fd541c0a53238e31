//! `sectwin demo`: the README's main job. Starts an embedded log and an
//! independent witness on loopback; the stakeholders of a building's devices
//! (two manufacturers, the operator, a maintenance contractor, and a device
//! itself) each sign their security facts as SCITT Signed Statements and
//! register them through SCRAPI; the demo then shows every guarantee working
//! end to end: registration policy, durable indices, witnessed checkpoints,
//! receipts and tlog-proofs verified offline, deduplication, full-log
//! verification, tamper detection, and finally the twins projected from the
//! logged statements with each attribute's consensus status.

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

/// (issuer, subject, statement payload) of each fact, in order. `{entry N}`
/// in a payload stands for the log entry of fact N (endorse and dispute name
/// the statement they are about by its entry).
const EVENTS: &[(&str, &str, &str)] = &[
    (
        "acme.example",
        "device:door-ctl-0042",
        r#"{"type":"device-registered","manufacturer":"Acme Locks","model":"DC-200","serial":"0042"}"#,
    ),
    (
        "vistacam.example",
        "device:cam-lobby-1",
        r#"{"type":"device-registered","manufacturer":"Vistacam","model":"VC-9","serial":"L1"}"#,
    ),
    (
        "acme.example",
        "device:gw-bldg-a",
        r#"{"type":"device-registered","manufacturer":"Acme Locks","model":"GW-1","serial":"A"}"#,
    ),
    (
        "acme.example",
        "device:door-ctl-0042",
        r#"{"type":"ownership-transferred","owner":"operator.example","operator":"operator.example","maintainer":"fixit.example","site":"Building A"}"#,
    ),
    (
        "vistacam.example",
        "device:cam-lobby-1",
        r#"{"type":"ownership-transferred","owner":"operator.example","operator":"operator.example","maintainer":"fixit.example","site":"Building A"}"#,
    ),
    (
        "acme.example",
        "model:acme/DC-200",
        r#"{"type":"firmware-released","version":"2.4.1","image_sha256":"9f2c0d51e5a1b2c3"}"#,
    ),
    (
        "acme.example",
        "device:door-ctl-0042",
        r#"{"type":"vulnerability-assessment","vulnerability":"CVE-2024-3596","status":"affected"}"#,
    ),
    (
        "device:door-ctl-0042",
        "device:door-ctl-0042",
        r#"{"type":"firmware-installed","version":"2.4.1","image_sha256":"9f2c0d51e5a1b2c3"}"#,
    ),
    (
        "operator.example",
        "device:door-ctl-0042",
        r#"{"type":"endorse","entry":{entry 7}}"#,
    ),
    (
        "acme.example",
        "device:door-ctl-0042",
        r#"{"type":"vulnerability-assessment","vulnerability":"CVE-2024-3596","status":"fixed","justification":"fixed in firmware 2.4.1"}"#,
    ),
    (
        "fixit.example",
        "device:cam-lobby-1",
        r#"{"type":"maintenance-performed","work":"lens cleaned, tamper seal replaced"}"#,
    ),
    (
        "operator.example",
        "device:cam-lobby-1",
        r#"{"type":"dispute","entry":{entry 10},"reason":"no site visit logged"}"#,
    ),
];

/// `payload` with each `{entry N}` replaced by the entry of fact N.
fn fill_entries(payload: &str, indices: &[u64]) -> String {
    let mut out = payload.to_string();
    for (n, index) in indices.iter().enumerate() {
        out = out.replace(&format!("{{entry {n}}}"), &index.to_string());
    }
    out
}

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
    // The stakeholders' keys (Ed25519 and P-256, as their tools use), known
    // to the registration policy.
    let directory = Arc::new(transparency::StaticKeys::new());
    let mut stakeholder_keys = std::collections::BTreeMap::new();
    for (n, (issuer, _, _)) in EVENTS.iter().enumerate() {
        if !stakeholder_keys.contains_key(issuer) {
            let alg = if n % 2 == 0 {
                scitt::Algorithm::EdDSA
            } else {
                scitt::Algorithm::ES256
            };
            let key = scitt::SigningKey::generate(alg, &mut rand_core::OsRng);
            directory.add(issuer, key.public_key());
            stakeholder_keys.insert(*issuer, key);
        }
    }
    let scitt_service = node::open_transparency(&data.join("node"), &log, directory, log.origin())?;
    let app = || node::app(log.clone(), Some(scitt_service.clone()));
    let addr = match node::serve(app(), listen, std::future::pending()).await {
        Ok(a) => a,
        Err(_) if listen.port() != 0 => {
            println!("   (port {} busy; using a free port)", listen.port());
            node::serve(app(), "127.0.0.1:0".parse()?, std::future::pending()).await?
        }
        Err(e) => return Err(e),
    };
    let root = format!("http://{addr}");
    let base = format!("{root}/log");
    println!(
        "2. log      {}\n   serving {base}/checkpoint, /tile/..., POST /add",
        log.vkey()
    );

    // 3. Stakeholders register signed facts through SCRAPI.
    let http = reqwest::Client::new();
    println!(
        "\n3. {} stakeholders register {} signed statements through POST {root}/entries",
        stakeholder_keys.len(),
        EVENTS.len()
    );
    let mut statements = Vec::new();
    let mut indices = Vec::new();
    for (issuer, subject, payload) in EVENTS {
        let payload = fill_entries(payload, &indices);
        let payload = payload.as_str();
        let key = stakeholder_keys
            .get(issuer)
            .context("every issuer has a key")?;
        let statement = scitt::StatementBuilder::new(issuer, subject, payload.as_bytes())
            .content_type("application/json")
            .sign(key);
        let r = http
            .post(format!("{root}/entries"))
            .header("content-type", "application/cose")
            .body(statement.clone())
            .send()
            .await?;
        if r.status() != reqwest::StatusCode::CREATED {
            bail!("registration answered {}", r.status());
        }
        let location = r
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let index: u64 = location
            .rsplit('/')
            .next()
            .and_then(|i| i.parse().ok())
            .context("no entry id in Location")?;
        let receipt = r.bytes().await?;
        let service_key = scitt_service
            .service_keys()
            .into_iter()
            .next()
            .context("service key")?;
        scitt::verify_receipt(&receipt, &statement, &service_key)
            .map_err(|e| anyhow::anyhow!("receipt of #{index} did not verify: {e}"))?;
        let kind = serde_json::from_str::<serde_json::Value>(payload)?["type"].clone();
        println!(
            "   #{index:<3} {:<7} {issuer:<22} {kind:<26} receipt verified",
            key.algorithm().name()
        );
        statements.push(statement);
        indices.push(index);
    }
    let again = http
        .post(format!("{root}/entries"))
        .header("content-type", "application/cose")
        .body(statements[0].clone())
        .send()
        .await?;
    println!(
        "   re-registering the first statement answers its existing entry: {}",
        again
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("?")
    );
    let intruder = scitt::SigningKey::generate(scitt::Algorithm::EdDSA, &mut rand_core::OsRng);
    let forged = scitt::StatementBuilder::new(
        "acme.example",
        "model:acme/DC-200",
        br#"{"type":"vulnerability-assessment","id":"CVE-2024-3596","status":"not_affected"}"#,
    )
    .sign(&intruder);
    let refused = http
        .post(format!("{root}/entries"))
        .header("content-type", "application/cose")
        .body(forged)
        .send()
        .await?;
    if refused.status() != reqwest::StatusCode::BAD_REQUEST {
        bail!(
            "a statement under an unregistered key was answered {}",
            refused.status()
        );
    }
    println!(
        "   a \"not affected\" claim signed with a key acme.example never registered: refused ({})",
        refused.status()
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
    let index = indices.get(7).copied().unwrap_or(0);
    let proof_text = http
        .get(format!("{base}/proof/inclusion?index={index}"))
        .send()
        .await?
        .error_for_status()?
        .text()
        .await?;
    let proof =
        tlog::TlogProof::parse(proof_text.as_bytes()).map_err(|e| anyhow::anyhow!("{e}"))?;
    let leaf = tlog::leaf_hash(&statements[7]);
    proof
        .verify(&leaf, &policy)
        .map_err(|e| anyhow::anyhow!("proof did not verify: {e}"))?;
    println!(
        "5. tlog-proof for entry #{index} verified offline (log signature + witness quorum + inclusion)"
    );
    let mut altered = statements[7].clone();
    if let Some(last) = altered.last_mut() {
        *last ^= 1;
    }
    if proof.verify(&tlog::leaf_hash(&altered), &policy).is_ok() {
        bail!("a tampered entry verified: this must never happen");
    }
    println!("   the same proof rejects an altered statement");

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

    // 7. The twins: the projection of the log's signed statements.
    let published = log.published().size;
    let prover = log.prover();
    let mut projection = twin::Projection::new(twin::ConsensusPolicy::default());
    for i in 0..published.get() {
        let entry = prover.entry(tlog::LeafIndex::new(i), published)?;
        let Ok(statement) = scitt::SignedStatement::parse(&entry) else {
            continue;
        };
        let Some(payload) = statement.payload() else {
            continue;
        };
        projection
            .apply(twin::Registered {
                entry: i,
                issuer: statement.issuer(),
                subject: statement.subject(),
                payload,
            })
            .map_err(|e| anyhow::anyhow!("entry {i} does not fit the twin model: {e}"))?;
    }
    println!(
        "7. twins projected from the {} logged statements (consensus: who asserted, who endorsed, who disputed)",
        projection.applied()
    );
    for twin_state in projection.twins() {
        let Some(view) = projection.view(&twin_state.device) else {
            continue;
        };
        println!(
            "   {} ({} {}), {:?}, operator {}",
            view.twin.device.subject(),
            view.twin.manufacturer.0,
            view.twin.model,
            view.twin.lifecycle,
            view.twin
                .operator
                .as_ref()
                .map(|o| o.0.as_str())
                .unwrap_or("-")
        );
        for a in &view.attributes {
            let status = match &a.status {
                twin::Status::Agreed => "agreed".to_string(),
                twin::Status::Claimed { awaiting } => format!("claimed, awaiting {awaiting:?}"),
                twin::Status::Disputed { by } => format!(
                    "disputed by {}",
                    by.iter()
                        .map(|s| s.0.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            };
            let key = match &a.attribute {
                twin::AttributeClass::Vulnerability(k)
                | twin::AttributeClass::Risk(k)
                | twin::AttributeClass::Access(k)
                | twin::AttributeClass::TestEvidence(k) => format!("{} {k}", a.attribute.name()),
                other => other.name().to_string(),
            };
            println!(
                "     {key:<28} #{:<3} {:<24} {:<22} {status}",
                a.claim.entry,
                a.claim.body.kind(),
                a.claim.issuer.0
            );
        }
    }

    println!("\nWhere to look:");
    println!("   curl {root}/.well-known/transparency-configuration   (CBOR)");
    println!("   curl {root}/entries/{index} > receipt.cose   (COSE receipt)");
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

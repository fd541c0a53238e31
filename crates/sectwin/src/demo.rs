//! `sectwin demo`: the README's main job. Starts an embedded node (log,
//! twins, REST API) and an independent witness on loopback. The registry
//! authority registers the stakeholders of a building's devices (two
//! manufacturers, the operator, a maintenance contractor, an auditor, and an
//! outsider) in the log; they, and a door controller with its own key, sign
//! their security facts as SCITT Signed Statements and register them through
//! SCRAPI. The demo then shows every guarantee working end to end: the
//! registration policy (unknown keys, illegal transitions, outsiders
//! refused), witnessed checkpoints, receipts and tlog-proofs verified
//! offline, deduplication, full-log verification, tamper detection, the twins
//! with each attribute's consensus status over the REST API under sharing
//! policies, the read-transparency records, a reindex from the log alone
//! giving identical twins, and vulnerability management: the manufacturer's
//! SBOM and release plan as signed statements, an advisory imported, the
//! risk register with the match explained and the deadline from the policy,
//! a fixed release, and the operator's webhook told (signed, verified).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use api_types::notify::{CreateSubscription, SubscriptionView, WebhookTarget};
use api_types::risks::{AdvisoryImport, RiskPage};
use api_types::twins::{DeviceList, DeviceView, ReadsPage};
use log_service::{LogConfig, WitnessConfig};
use twin::statement::VexStatus;
use twin::{Lifecycle, StakeholderId, StatementBody};

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
    /// The MQTT broker simulated devices report through, HOST:PORT.
    #[arg(long, default_value = "127.0.0.1:1883")]
    device_broker: String,
    /// Leave out the step where simulated devices report through the broker.
    #[arg(long)]
    no_devices: bool,
}

/// The stakeholders the registry authority registers: (id, name, roles).
pub(crate) const STAKEHOLDERS: &[(&str, &str, &[&str])] = &[
    ("acme.example", "Acme Locks", &["manufacturer"]),
    ("vistacam.example", "Vistacam", &["manufacturer"]),
    (
        "operator.example",
        "Building A Operations",
        &["operator", "owner"],
    ),
    ("fixit.example", "FixIt Maintenance", &["maintainer"]),
    ("audit.example", "Example Audit", &["auditor"]),
    ("rival.example", "Rival Facilities", &["operator"]),
];

/// The door controller that signs its own statements.
pub(crate) const DOOR: &str = "door-ctl-0042";

/// A fact's payload. Endorse and dispute name the statement they are about
/// by its log entry, known only once that fact is registered: until then
/// they hold its position in [`facts`].
// Twenty facts built once: a release manifest's size is not worth a box.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Fact {
    /// A payload known in advance.
    Says(StatementBody),
    /// Endorses fact N.
    Endorses(usize),
    /// Disputes fact N, for a reason.
    Disputes(usize, &'static str),
}

impl Fact {
    /// The payload, given the entries of the facts registered before it.
    pub(crate) fn body(&self, entries: &[u64]) -> Result<StatementBody> {
        let entry = |n: usize| {
            entries
                .get(n)
                .copied()
                .with_context(|| format!("fact {n} is not registered yet"))
        };
        Ok(match self {
            Fact::Says(body) => body.clone(),
            Fact::Endorses(n) => StatementBody::Endorse { entry: entry(*n)? },
            Fact::Disputes(n, reason) => StatementBody::Dispute {
                entry: entry(*n)?,
                reason: reason.to_string(),
            },
        })
    }
}

fn registered(manufacturer: &str, model: &str, serial: &str, key: Option<&str>) -> Fact {
    Fact::Says(StatementBody::DeviceRegistered {
        manufacturer: manufacturer.into(),
        model: model.into(),
        serial: serial.into(),
        hardware_id: None,
        device_key: key.map(str::to_string),
    })
}

/// Handed over to the building's operator, maintained by FixIt.
fn handed_over(location: &str, group: &str) -> Fact {
    let operator = || StakeholderId("operator.example".into());
    Fact::Says(StatementBody::OwnershipTransferred {
        owner: operator(),
        operator: Some(operator()),
        maintainer: Some(StakeholderId("fixit.example".into())),
        site: Some("Building A".into()),
        location: Some(location.into()),
        groups: Some(vec![group.into()]),
    })
}

fn lifecycle(to: Lifecycle) -> Fact {
    Fact::Says(StatementBody::LifecycleChanged { to })
}

fn assessed(status: VexStatus, justification: Option<&str>) -> StatementBody {
    StatementBody::VulnerabilityAssessment {
        vulnerability: "CVE-2024-3596".into(),
        status,
        justification: justification.map(str::to_string),
        release: None,
        component: None,
        impact: None,
    }
}

/// (issuer, subject, payload) of each fact, in order; `door_pem` is the door
/// controller's public key.
pub(crate) fn facts(door_pem: &str) -> Vec<(&'static str, &'static str, Fact)> {
    let image_sha256 = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(door_image()));
    let image_sha256 = image_sha256.as_str();
    vec![
        (
            "acme.example",
            "device:door-ctl-0042",
            registered("Acme Locks", "DC-200", "0042", Some(door_pem)),
        ),
        (
            "vistacam.example",
            "device:cam-lobby-1",
            registered("Vistacam", "VC-9", "L1", None),
        ),
        (
            "acme.example",
            "device:gw-bldg-a",
            registered("Acme Locks", "GW-1", "A", None),
        ),
        (
            "acme.example",
            "device:door-ctl-0042",
            handed_over("lobby east door", "doors"),
        ),
        (
            "vistacam.example",
            "device:cam-lobby-1",
            handed_over("lobby", "cameras"),
        ),
        (
            "operator.example",
            "device:door-ctl-0042",
            lifecycle(Lifecycle::Provisioned),
        ),
        (
            "operator.example",
            "device:door-ctl-0042",
            lifecycle(Lifecycle::Deployed),
        ),
        (
            "acme.example",
            "model:acme/DC-200",
            Fact::Says(crate::demo_update::door_release(
                "2.4.1",
                4,
                "2.4.0",
                "2029-12-31",
            )),
        ),
        (
            "acme.example",
            "device:door-ctl-0042",
            Fact::Says(assessed(VexStatus::Affected, None)),
        ),
        (
            "device:door-ctl-0042",
            "device:door-ctl-0042",
            Fact::Says(StatementBody::FirmwareInstalled {
                version: "2.4.1".into(),
                image_sha256: image_sha256.into(),
            }),
        ),
        (
            "operator.example",
            "device:door-ctl-0042",
            Fact::Endorses(9),
        ),
        (
            "acme.example",
            "device:door-ctl-0042",
            Fact::Says(assessed(VexStatus::Fixed, Some("fixed in firmware 2.4.1"))),
        ),
        (
            "fixit.example",
            "device:cam-lobby-1",
            Fact::Says(StatementBody::MaintenancePerformed {
                work: "lens cleaned, tamper seal replaced".into(),
            }),
        ),
        (
            "operator.example",
            "device:cam-lobby-1",
            Fact::Disputes(12, "no site visit logged"),
        ),
        (
            "acme.example",
            "stakeholder:acme.example",
            // A policy is open JSON in the statement; the tests of
            // `statements` parse it as the projection does.
            Fact::Says(StatementBody::SharingPolicy {
                policy: serde_json::json!({
                    "id": "acme-public-vex",
                    "grants": [
                        {
                            "readers": [{"role": "operator"}, {"role": "owner"}, {"role": "maintainer"}, {"role": "auditor"}],
                            "devices": "all",
                            "types": ["*"],
                        },
                        {
                            "readers": ["public"],
                            "devices": {"matching": {"models": ["DC-200"]}},
                            "types": ["device-registered", "vulnerability-assessment"],
                            "fields": ["manufacturer", "model", "vulnerability", "status"],
                        },
                    ],
                }),
            }),
        ),
        (
            "operator.example",
            "stakeholder:operator.example",
            Fact::Says(StatementBody::AiUsePolicy {
                policy: serde_json::json!({
                    "id": "lobby-person-detection",
                    "devices": {"matching": {"models": ["VC-9"]}},
                    "decisions": [{
                        "decision": "raise an intrusion alarm when a person is detected after hours",
                        "model": "person-detector-v3",
                        "autonomy": "human-on-the-loop",
                        "human_oversight": "the guard on duty reviews every alarm within 5 minutes",
                        "override_by": ["operator"],
                        "fallback": "motion detection only",
                    }],
                }),
            }),
        ),
    ]
}

/// The statements the demo shows refused, in order: a "not affected" claim
/// (signed with a key acme.example never registered), the deployed door set
/// back to manufactured (by its operator), and an outsider endorsing the
/// door's firmware (entry `firmware_entry`).
pub(crate) fn refused_payloads(firmware_entry: u64) -> [StatementBody; 3] {
    [
        assessed(VexStatus::NotAffected, None),
        StatementBody::LifecycleChanged {
            to: Lifecycle::Manufactured,
        },
        StatementBody::Endorse {
            entry: firmware_entry,
        },
    ]
}

/// Registers `statement` through SCRAPI; answers its entry, after checking
/// its receipt against the service key.
pub(crate) async fn register(
    http: &reqwest::Client,
    root: &str,
    statement: &[u8],
    service_key: &scitt::PublicKey,
) -> Result<u64> {
    let r = http
        .post(format!("{root}/entries"))
        .header("content-type", "application/cose")
        .body(statement.to_vec())
        .send()
        .await?;
    let status = r.status();
    if status != reqwest::StatusCode::CREATED {
        let body = r.bytes().await.unwrap_or_default();
        bail!("registration answered {status}: {}", problem_detail(&body));
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
    scitt::verify_receipt(&receipt, statement, service_key)
        .map_err(|e| anyhow::anyhow!("receipt of #{index} did not verify: {e}"))?;
    Ok(index)
}

/// Registers a statement that must be refused; answers the refusal's detail.
async fn refused(http: &reqwest::Client, root: &str, statement: Vec<u8>) -> Result<String> {
    let r = http
        .post(format!("{root}/entries"))
        .header("content-type", "application/cose")
        .body(statement)
        .send()
        .await?;
    let status = r.status();
    let body = r.bytes().await?;
    if status != reqwest::StatusCode::BAD_REQUEST {
        bail!("expected a refusal, got {status}");
    }
    Ok(format!("{status}: {}", problem_detail(&body)))
}

/// The detail of an RFC 9290 CBOR problem (key -2), or the raw body.
fn problem_detail(body: &[u8]) -> String {
    match ciborium::from_reader::<ciborium::Value, _>(body) {
        Ok(ciborium::Value::Map(m)) => m
            .iter()
            .find(|(k, _)| k.as_integer().is_some_and(|i| i128::from(i) == -2))
            .and_then(|(_, v)| v.as_text().map(str::to_string))
            .unwrap_or_default(),
        _ => String::from_utf8_lossy(body).into_owned(),
    }
}

/// A bearer token for a fresh credential of `stakeholder`.
pub(crate) async fn token_for(
    http: &reqwest::Client,
    root: &str,
    node: &node::Node,
    stakeholder: &str,
) -> Result<String> {
    let (id, secret) = node.create_credential(stakeholder, "demo")?;
    let r: api_types::oauth::TokenResponse = http
        .post(format!("{root}/oauth/token"))
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await?
        .error_for_status()?
        .json()
        .await
        .context("the token endpoint's answer")?;
    Ok(r.access_token)
}

async fn api(
    http: &reqwest::Client,
    url: String,
    token: Option<&str>,
) -> Result<(reqwest::StatusCode, serde_json::Value)> {
    let mut req = http.get(url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let r = req.send().await?;
    let status = r.status();
    Ok((status, r.json().await.unwrap_or(serde_json::Value::Null)))
}

/// The first of `entries`, as JSON writes it (`null` when there is none).
fn first_or_null(entries: &[u64]) -> String {
    entries
        .first()
        .map_or_else(|| "null".to_string(), u64::to_string)
}

/// A successful answer of the API, read as its wire type.
async fn api_read<T: serde::de::DeserializeOwned>(
    http: &reqwest::Client,
    url: String,
    token: Option<&str>,
) -> Result<T> {
    let (status, v) = api(http, url.clone(), token).await?;
    if !status.is_success() {
        bail!("{url}: {status}: {}", crate::twin_cmds::problem_detail(v));
    }
    crate::twin_cmds::wire(&v).with_context(|| url)
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

    // 2. The node: the log (publishing only checkpoints the witness
    //    cosigned), the twins, the REST API.
    let config = LogConfig {
        checkpoint_interval: Duration::from_millis(200),
        witnesses: vec![WitnessConfig {
            url: format!("http://{witness_addr}"),
            vkey: witness_vkey.clone(),
        }],
        witness_quorum: 1,
        ..LogConfig::default()
    };
    let (mut node, _) = node::open_node(
        &data.join("node"),
        None,
        config,
        None,
        transparency::RegistrationPolicy::default(),
    )
    .await?;
    node::start_notifications(
        &mut node,
        &data.join("node"),
        node::NotifyConfig {
            mqtt: None,
            interval: Duration::from_millis(200),
            // The demo's operator receives its webhooks on loopback.
            webhooks_to_private_addresses: true,
            shared_outbox: None,
        },
    )
    .await?;
    let log = node.log.clone();
    let listen = args.listen;
    let addr = match node::serve(node::app(&node), listen, std::future::pending()).await {
        Ok(a) => a,
        Err(_) if listen.port() != 0 => {
            println!("   (port {} busy; using a free port)", listen.port());
            node::serve(
                node::app(&node),
                "127.0.0.1:0".parse()?,
                std::future::pending(),
            )
            .await?
        }
        Err(e) => return Err(e),
    };
    let root = format!("http://{addr}");
    let base = format!("{root}/log");
    println!(
        "2. log      {}\n   serving {base}/checkpoint, SCRAPI {root}/entries, twins {root}/api/v1/",
        log.vkey()
    );
    let service_key = node
        .scitt
        .service_keys()
        .into_iter()
        .next()
        .context("service key")?;
    let http = reqwest::Client::new();

    // 3. The registry authority registers the stakeholders in the log.
    println!(
        "\n3. the registry authority {} (entry #0) registers {} stakeholders with their keys",
        node.authority.0,
        STAKEHOLDERS.len()
    );
    let mut keys = std::collections::BTreeMap::new();
    for (n, (id, name, roles)) in STAKEHOLDERS.iter().enumerate() {
        let alg = if n % 2 == 0 {
            scitt::Algorithm::EdDSA
        } else {
            scitt::Algorithm::ES256
        };
        let key = scitt::SigningKey::generate(alg, &mut rand_core::OsRng);
        let names: Vec<String> = roles.iter().map(|r| r.to_string()).collect();
        let payload = crate::statements::stakeholder_registered(
            name,
            crate::statements::roles(&names)?,
            vec![key.public_key().to_pem()],
        );
        let statement = node.authority_statement(&format!("stakeholder:{id}"), &payload.to_wire());
        let index = register(&http, &root, &statement, &service_key).await?;
        println!(
            "   #{index:<3} {:<7} {id:<22} {:<26} receipt verified",
            key.algorithm().name(),
            roles.join(",")
        );
        keys.insert(id.to_string(), key);
    }
    // Each stakeholder's private key, for whoever plays it after the demo:
    // `--key` of the CLI, or the dashboard's "sign with my own key".
    let keys_dir = data.join("keys");
    std::fs::create_dir_all(&keys_dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&keys_dir, std::fs::Permissions::from_mode(0o700))?;
    }
    for (id, key) in &keys {
        write_secret(&stakeholder_key_file(&data, id), &key.to_pem())?;
    }
    println!(
        "   their private keys: {}/<id>.key.pem (PKCS#8, readable by you only)",
        keys_dir.display()
    );
    let image_file = data.join(DOOR_IMAGE_FILE);
    if let Some(dir) = image_file.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&image_file, door_image())?;
    let door_key = scitt::SigningKey::generate(scitt::Algorithm::EdDSA, &mut rand_core::OsRng);
    let facts = facts(&door_key.public_key().to_pem());
    keys.insert(format!("device:{DOOR}"), door_key);

    // 4. Stakeholders (and the door controller) register signed facts.
    println!(
        "\n4. stakeholders register {} signed statements through POST {root}/entries",
        facts.len()
    );
    let mut statements = Vec::new();
    let mut indices = Vec::new();
    for (issuer, subject, fact) in &facts {
        let body = fact.body(&indices)?;
        let key = keys.get(*issuer).context("every issuer has a key")?;
        let statement = signed(issuer, subject, &body, key);
        let index = register(&http, &root, &statement, &service_key).await?;
        let kind = body.type_name();
        println!(
            "   #{index:<3} {:<7} {issuer:<22} {kind:<26} receipt verified",
            key.algorithm().name()
        );
        statements.push(statement);
        indices.push(index);
    }
    // The factory provisions the door controller for secure updates.
    crate::demo_update::provision_door(&root, &data).await?;
    // The same statement again, and re-encoded (untagged; as the service
    // serves it, with its receipt): a signed statement is registered once.
    let transparent = http
        .get(format!("{root}/entries/{}/statement", indices[0]))
        .send()
        .await?
        .bytes()
        .await?
        .to_vec();
    for (how, bytes) in [
        ("re-registering the first statement", statements[0].clone()),
        ("the same, untagged", statements[0][1..].to_vec()),
        ("the same, with its receipt attached", transparent),
    ] {
        let again = http
            .post(format!("{root}/entries"))
            .header("content-type", "application/cose")
            .body(bytes)
            .send()
            .await?;
        println!(
            "   {how} answers its existing entry: {}",
            again
                .headers()
                .get("location")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("?")
        );
    }
    let [not_affected, back_to_manufactured, endorse] = refused_payloads(indices[9]);
    let intruder = scitt::SigningKey::generate(scitt::Algorithm::EdDSA, &mut rand_core::OsRng);
    let forged = scitt::StatementBuilder::new(
        "acme.example",
        "device:door-ctl-0042",
        &not_affected.to_payload(),
    )
    .issued_at(crate::now_unix_s())
    .sign(&intruder);
    println!(
        "   a \"not affected\" claim signed with a key acme.example never registered: refused ({})",
        refused(&http, &root, forged).await?
    );
    let sign = |issuer: &str, body: &StatementBody| -> Result<Vec<u8>> {
        Ok(
            scitt::StatementBuilder::new(issuer, "device:door-ctl-0042", &body.to_payload())
                .issued_at(crate::now_unix_s())
                .sign(keys.get(issuer).context("key")?),
        )
    };
    println!(
        "   the operator setting the deployed door back to manufactured: refused ({})",
        refused(
            &http,
            &root,
            sign("operator.example", &back_to_manufactured)?
        )
        .await?
    );
    println!(
        "   an outsider endorsing the door's firmware: refused ({})",
        refused(&http, &root, sign("rival.example", &endorse)?).await?
    );

    // 5. Wait for a witnessed checkpoint covering everything.
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
    println!("\n5. witnessed checkpoint:\n{}", indent(&checkpoint));

    // 6. An inclusion proof, verified offline against a policy.
    let policy_text = format!("log {}\nwitness w1 {witness_vkey}\nquorum w1\n", log.vkey());
    let policy = tlog::Policy::parse(&policy_text).map_err(|e| anyhow::anyhow!("{e}"))?;
    let index = indices.get(9).copied().unwrap_or(0);
    let proof_text = http
        .get(format!("{base}/proof/inclusion?index={index}"))
        .send()
        .await?
        .error_for_status()?
        .text()
        .await?;
    let proof =
        tlog::TlogProof::parse(proof_text.as_bytes()).map_err(|e| anyhow::anyhow!("{e}"))?;
    let leaf = tlog::leaf_hash(&statements[9]);
    proof
        .verify(&leaf, &policy)
        .map_err(|e| anyhow::anyhow!("proof did not verify: {e}"))?;
    println!(
        "6. tlog-proof for entry #{index} verified offline (log signature + witness quorum + inclusion)"
    );
    let mut altered = statements[9].clone();
    if let Some(last) = altered.last_mut() {
        *last ^= 1;
    }
    if proof.verify(&tlog::leaf_hash(&altered), &policy).is_ok() {
        bail!("a tampered entry verified: this must never happen");
    }
    println!("   the same proof rejects an altered statement");

    // 7. Anyone can verify the whole log from its static files.
    let mut options = log_service::verify::VerifyOptions::new(log.vkey());
    options.policy = Some(policy);
    let source = log_service::verify::HttpSource::new(&base).map_err(|e| anyhow::anyhow!("{e}"))?;
    let report = log_service::verify::verify_log(&source, &options)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    println!(
        "7. full-log verification over HTTP: size {}, {} tiles and {} bundles re-hashed to the root, {} cosigner(s), quorum met",
        report.size,
        report.counts.tiles,
        report.counts.bundles,
        report.cosigners.len()
    );

    // 8. The twins, projected from the log, over the REST API.
    let published = log.published().size.get();
    if !node
        .projector
        .wait_projected(published, Duration::from_secs(10))
        .await
    {
        bail!("the twins did not reflect the log within 10 s");
    }
    let operator = token_for(&http, &root, &node, "operator.example").await?;
    let list: DeviceList =
        api_read(&http, format!("{root}/api/v1/devices"), Some(&operator)).await?;
    let meta = node.projector.meta();
    println!(
        "8. twins as operator.example sees them (GET /api/v1/devices/{{id}} with its bearer token; {} statements applied, {} refused)",
        meta.applied, meta.refused
    );
    for d in &list.devices {
        let id = &d.device;
        let view: DeviceView = api_read(
            &http,
            format!("{root}/api/v1/devices/{id}"),
            Some(&operator),
        )
        .await?;
        println!("   {}", crate::twin_cmds::twin_line(&view));
        for line in crate::twin_cmds::attribute_lines(&view) {
            println!("     {line}");
        }
    }
    let rival = token_for(&http, &root, &node, "rival.example").await?;
    let (status, _) = api(
        &http,
        format!("{root}/api/v1/devices/cam-lobby-1"),
        Some(&rival),
    )
    .await?;
    println!("   rival.example asking for the lobby camera: {status} (Vistacam shares with the device's role holders only)");
    let (status, public) = api(&http, format!("{root}/api/v1/devices/{DOOR}"), None).await?;
    let public: DeviceView = crate::twin_cmds::wire(&public)?;
    let shown: Vec<String> = public
        .attributes
        .iter()
        .map(|a| {
            // The statement as the policy shares it: open by nature.
            let c = &a.claim.statement;
            let mut fields: Vec<String> = c
                .as_object()
                .into_iter()
                .flatten()
                .filter(|(k, _)| *k != "type")
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("?")))
                .collect();
            fields.sort();
            format!(
                "{} [{}]",
                c["type"].as_str().unwrap_or("?"),
                fields.join(" ")
            )
        })
        .collect();
    println!(
        "   anyone, without a token, asking for the door: {status}, Acme's published policy shows {}",
        shown.join("; ")
    );

    // 9. Read transparency: Acme lists who read its data.
    let acme = token_for(&http, &root, &node, "acme.example").await?;
    let reads: ReadsPage = api_read(&http, format!("{root}/api/v1/reads"), Some(&acme)).await?;
    let mut by: std::collections::BTreeMap<String, usize> = Default::default();
    for r in &reads.reads {
        let who = r.reader.as_deref().unwrap_or("anonymous");
        *by.entry(format!("{who} under {}", r.policy)).or_default() += 1;
    }
    println!(
        "9. reads of acme.example's data by others, as acme.example lists them (GET /api/v1/reads): {}",
        by.iter()
            .map(|(k, n)| format!("{n} by {k}"))
            .collect::<Vec<_>>()
            .join(", ")
    );

    // 10. Reindex: the twins are a function of the log alone.
    let scratch = data.join("reindex-check");
    let store = twin_store::TwinStore::open(&scratch)?;
    let stats = twin_store::reindex(
        &log.prover(),
        log.published().size,
        &store,
        node.projector.payloads(),
        node::fold_rules(),
        twin_store::Signatures::Verify,
        |_| {},
    )?;
    let live = node.projector.store();
    let mut same = 0;
    let mut after: Option<String> = None;
    loop {
        let page = live.devices(after.as_deref(), 256)?;
        if page.is_empty() {
            break;
        }
        for t in &page {
            let a = serde_json::to_string(&live.view(&meta.policy, &t.device)?)?;
            let b = serde_json::to_string(&store.view(&meta.policy, &t.device)?)?;
            if a != b {
                bail!("reindex gave a different twin for {}", t.device);
            }
            same += 1;
            after = Some(t.device.to_string());
        }
    }
    println!(
        "10. reindex from the log alone: {} entries, {} applied, {} refused; all {same} twins identical to the live ones",
        stats.entries, stats.applied, stats.refused
    );

    // 11. Vulnerability management: an SBOM, an advisory, the register, a
    //     fix, and the operator's webhook told, all after policy checks.
    let (hook, received) = webhook_receiver().await?;
    let r: SubscriptionView = http
        .post(format!("{root}/api/v1/subscriptions"))
        .bearer_auth(&operator)
        .json(&CreateSubscription {
            id: "operator-soc".into(),
            webhook: Some(WebhookTarget { url: hook.clone() }),
            mqtt: None,
            kinds: Vec::new(),
        })
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let secret = notify::WebhookSecret::parse(r.secret.as_deref().unwrap_or(""))
        .map_err(|e| anyhow::anyhow!("subscription secret: {e}"))?;
    println!("\n11. vulnerability management\n   operator.example subscribes its SOC webhook {hook} (Standard Webhooks secret issued once)");
    let acme_key = keys.get("acme.example").context("acme key")?;
    let mut last = 0;
    for (what, subject, body) in crate::demo_vuln::vuln_statements() {
        let statement = signed("acme.example", subject, &body, acme_key);
        last = register(&http, &root, &statement, &service_key).await?;
        println!("   #{last:<3} acme.example           {what:<40} receipt verified");
    }
    // The node's administrator (the registry authority) keeps the shared
    // advisories; every change is a statement in the log.
    let admin_id = node.authority.0.clone();
    let admin = token_for(&http, &root, &node, &admin_id).await?;
    let post_advisory = |token: String, body: String| {
        let request = http
            .post(format!("{root}/api/v1/advisories"))
            .bearer_auth(token)
            .body(body);
        async move {
            let r: AdvisoryImport = request.send().await?.error_for_status()?.json().await?;
            Ok::<_, anyhow::Error>(r)
        }
    };
    let AdvisoryImport::Shared(r) =
        post_advisory(admin.clone(), crate::demo_vuln::DEMO_ADVISORY.to_string()).await?
    else {
        bail!("the administrator's advisory was not taken as a shared one");
    };
    println!(
        "   the administrator ({admin_id}) imports an OSV advisory into the shared advisories: {} ({} new), recorded in the log as entry {}",
        r.advisories.first().map_or("?", String::as_str),
        r.new,
        first_or_null(&r.recorded)
    );
    // Another organization cannot rewrite it: its copy stays its own claim.
    let narrowed = crate::demo_vuln::DEMO_ADVISORY
        .replace("2026-11-02T00:00:00Z", "2026-11-20T00:00:00Z")
        .replace("1:1.36.1-1", "0.1");
    let AdvisoryImport::Own(r) = post_advisory(rival.clone(), narrowed).await? else {
        bail!("rival.example's advisory was taken as a shared one");
    };
    println!(
        "   rival.example posts a narrowed, newer copy: kept as {} (applies to the {} releases it made), entry {}; the shared advisory is untouched",
        r.source,
        r.applies_to_releases,
        first_or_null(&r.recorded)
    );
    if !node
        .projector
        .wait_projected(last + 1, Duration::from_secs(10))
        .await
    {
        bail!("the twins did not reflect the SBOM within 10 s");
    }
    let risks: RiskPage = api_read(
        &http,
        format!("{root}/api/v1/risks?device={DOOR}"),
        Some(&operator),
    )
    .await?;
    for r in &risks.risks {
        println!(
            "   risk {} on {}: {} ({}), owner {}, status {}, deadline {} ({}){}",
            r.vulnerability.as_deref().unwrap_or("?"),
            r.subject,
            r.severity.as_str(),
            // As JSON writes it: `7.5`, `10.0`, `null`.
            serde_json::Value::from(r.score),
            r.owner,
            r.status.as_str(),
            r.deadline.date.as_deref().unwrap_or("-"),
            r.deadline.basis.as_str(),
            if r.overdue { ", OVERDUE" } else { "" }
        );
        for m in &r.matches {
            println!(
                "     why: {} [{} match, {} confidence]",
                m.reason, m.rule, m.confidence
            );
        }
    }
    let theirs: RiskPage = api_read(&http, format!("{root}/api/v1/risks"), Some(&rival)).await?;
    println!(
        "   rival.example asking for the register: {} risks (it has no role on these devices)",
        theirs.total
    );
    // Threat modeling as code: Acme publishes its smart-building model and
    // records its findings on the device models they are about, exactly as
    // `sectwin threat record` does.
    let model_file = data.join("smart-building.yaml");
    std::fs::write(&model_file, threat::REFERENCE_MODEL)?;
    let acme_key_file = stakeholder_key_file(&data, "acme.example");
    let acme_token = token_for(&http, &root, &node, "acme.example").await?;
    println!(
        "   acme.example runs: sectwin threat record smart-building.yaml --as acme.example ..."
    );
    let code = crate::threat_cmds::record_with_token(
        model_file,
        root.clone(),
        acme_key_file,
        "acme.example".into(),
        acme_token.clone(),
    )
    .await?;
    if code != std::process::ExitCode::SUCCESS {
        bail!("threat record failed");
    }
    for (what, subject, body) in crate::demo_vuln::fix_statements() {
        let statement = signed("acme.example", subject, &body, acme_key);
        let index = register(&http, &root, &statement, &service_key).await?;
        println!("   #{index:<3} acme.example           {what:<40} receipt verified");
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    let mut kinds: Vec<String> = Vec::new();
    while std::time::Instant::now() < deadline {
        kinds = received
            .lock()
            .map(|v| {
                v.iter()
                    .filter_map(|(_, b)| serde_json::from_slice::<serde_json::Value>(b).ok())
                    .filter_map(|n| n["kind"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        if kinds.iter().any(|k| k == "fixed-firmware-available") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let deliveries = received.lock().map(|v| v.clone()).unwrap_or_default();
    for (headers, body) in &deliveries {
        let n: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
        let id = headers
            .get("webhook-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let ts: i64 = headers
            .get("webhook-timestamp")
            .and_then(|v| v.to_str().ok())
            .and_then(|t| t.parse().ok())
            .unwrap_or(0);
        let sig = headers
            .get("webhook-signature")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let verified = sig == secret.sign(id, ts, body);
        println!(
            "   webhook received {:<26} {} (signature {})",
            n["kind"].as_str().unwrap_or("?"),
            n["summary"].as_str().unwrap_or(""),
            if verified { "verified" } else { "INVALID" }
        );
        if !verified {
            bail!("a webhook delivery did not verify");
        }
    }
    for want in ["new-vulnerable-device", "fixed-firmware-available"] {
        if !kinds.iter().any(|k| k == want) {
            bail!("no {want} notification reached the webhook within 15 s");
        }
    }

    // 12. An exploited vulnerability, and the manufacturer's legal clock.
    let cra_out = data.join("cra");
    crate::demo_vuln::cra_step(
        &http,
        &root,
        &node,
        (&admin, &acme_token),
        &service_key,
        &cra_out,
    )
    .await?;

    // 13. Devices speak for themselves: simulated cameras report signed
    //     posture through the MQTT broker; the audit finds what was planted.
    if !args.no_devices {
        let vistacam_key = keys.get("vistacam.example").context("vistacam's key")?;
        devices_step(
            &http,
            &root,
            &node,
            &service_key,
            vistacam_key,
            &args.device_broker,
        )
        .await?;
    }

    // 14. A secure update of the door controller, checked by the door itself.
    let door_key = keys.get(&format!("device:{DOOR}")).context("door key")?;
    let broker = (!args.no_devices).then_some(args.device_broker.as_str());
    crate::demo_update::ota_step(&http, &root, &data, &node, door_key, broker, &operator).await?;

    println!("\nWhere to look:");
    println!("   sectwin twin show --server {root} {DOOR} --token <token>   (or --client-id/--client-secret)");
    println!("   curl {root}/api/v1/devices/{DOOR}             (what Acme's policy makes public)");
    println!("   sectwin risks list --server {root} --token <token>   (the risk register; also: risks exposure --by site)");
    println!("   sectwin device audit --server {root} --token <token>   (posture findings; device report|stats too; curl {root}/metrics)");
    println!("   curl {root}/api/v1/openapi.json");
    println!("   curl {root}/api/v1/stakeholders");
    println!("   curl {root}/.well-known/transparency-configuration   (CBOR)");
    println!("   curl {root}/entries/{index} > receipt.cose   (COSE receipt)");
    println!("   curl '{base}/proof/inclusion?index={index}'");
    println!("   sectwin log verify {base} --vkey '{}'", log.vkey());
    println!("   static files: {}", data.join("node/log").display());
    println!(
        "   the dashboard: {root}/  (drop {} on \"Verify a file\": Acme's release of it is found and verified in the browser)",
        data.join(DOOR_IMAGE_FILE).display()
    );
    if !args.exit {
        println!("\nserving until Ctrl-C");
        let _ = tokio::signal::ctrl_c().await;
    }
    node.shutdown().await;
    println!("\ndemo complete");
    Ok(())
}

/// `body` about `subject`, signed by `issuer` with `key` now (a client's
/// statement: JSON payload, `iat` from the system clock).
pub(crate) fn signed(
    issuer: &str,
    subject: &str,
    body: &StatementBody,
    key: &scitt::SigningKey,
) -> Vec<u8> {
    scitt::StatementBuilder::new(issuer, subject, &body.to_payload())
        .content_type("application/json")
        .issued_at(crate::now_unix_s())
        .sign(key)
}

/// GETs `url` with a bearer token and reads the answer as `T`.
async fn get_as<T: serde::de::DeserializeOwned>(
    http: &reqwest::Client,
    url: &str,
    token: &str,
) -> Result<T> {
    http.get(url)
        .bearer_auth(token)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await
        .with_context(|| format!("the answer of {url}"))
}

/// Step 12: four simulated cameras, registered with their own keys, report
/// through the broker; one runs with the universal default password and
/// telnet open, one with JTAG and UART enabled, one an image Vistacam never
/// released. The node's device channel registers each signed report, the
/// posture audit finds exactly the weaknesses, and the tampered image
/// raises an alarm.
async fn devices_step(
    http: &reqwest::Client,
    root: &str,
    node: &node::Node,
    service_key: &scitt::PublicKey,
    vistacam_key: &scitt::SigningKey,
    broker: &str,
) -> Result<()> {
    use device_channel::simulate::{fleet, publish, FirmwareImage, Plant};
    let (host, port) = broker
        .rsplit_once(':')
        .and_then(|(h, p)| Some((h.to_string(), p.parse::<u16>().ok()?)))
        .with_context(|| format!("--device-broker {broker:?}: expected HOST:PORT"))?;
    let reachable = tokio::time::timeout(
        Duration::from_secs(2),
        tokio::net::TcpStream::connect((host.as_str(), port)),
    )
    .await
    .is_ok_and(|c| c.is_ok());
    if !reachable {
        bail!("no MQTT broker at {host}:{port} for the devices step: start Mosquitto (apt install mosquitto; it runs as a service, or `mosquitto -p {port} -d`), or pass --no-devices");
    }
    println!("\n13. devices report signed posture through mqtt://{host}:{port}/sectwin/devices/+/reports");
    node::start_device_channel(node, &host, port);
    let seed = rand_core::RngCore::next_u64(&mut rand_core::OsRng);
    let mut cams = fleet(seed, &format!("cam-{:04x}-", seed & 0xffff), 4);
    cams[1].plants = vec![Plant::DefaultCredentials, Plant::Telnet];
    cams[2].plants = vec![Plant::TamperedFirmware];
    cams[3].plants = vec![Plant::DebugEnabled];
    let firmware = FirmwareImage {
        version: "4.1.0".into(),
        image_sha256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".into(),
    };
    // Vistacam released the image its cameras should run.
    let release = crate::statements::firmware_released(crate::statements::FirmwareRelease {
        version: firmware.version.clone(),
        image_sha256: firmware.image_sha256.clone(),
        ..Default::default()
    });
    let statement = signed(
        "vistacam.example",
        "model:vistacam.example/VC-4",
        &release,
        vistacam_key,
    );
    let index = register(http, root, &statement, service_key).await?;
    println!(
        "   #{index:<3} vistacam.example      firmware-released VC-4 {} ({}…)",
        firmware.version,
        &firmware.image_sha256[..12]
    );
    for cam in &cams {
        let body = crate::statements::device_registered(crate::statements::DeviceRegistration {
            manufacturer: "Vistacam".into(),
            model: "VC-4".into(),
            serial: cam.id.clone(),
            hardware_id: None,
            device_key: Some(cam.key.public_key().to_pem()),
        });
        let statement = signed(
            "vistacam.example",
            &format!("device:{}", cam.id),
            &body,
            vistacam_key,
        );
        let index = register(http, root, &statement, service_key).await?;
        println!(
            "   #{index:<3} vistacam.example      device-registered {} with its own key",
            cam.id
        );
        // Handed over to the building's operator, in the lobby cameras group.
        let body = StatementBody::OwnershipTransferred {
            owner: StakeholderId("operator.example".into()),
            operator: Some(StakeholderId("operator.example".into())),
            maintainer: None,
            site: Some("Building A".into()),
            location: Some("lobby".into()),
            groups: Some(vec!["lobby-cameras".into()]),
        };
        let statement = signed(
            "vistacam.example",
            &format!("device:{}", cam.id),
            &body,
            vistacam_key,
        );
        register(http, root, &statement, service_key).await?;
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !node.device_stats.snapshot().connected {
        if std::time::Instant::now() > deadline {
            bail!("the device channel did not connect to {host}:{port} within 10 s");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let now = crate::now_unix_s();
    let messages: Vec<(String, Vec<u8>)> = cams
        .iter_mut()
        .map(|c| {
            let r = c.next_report(&firmware, now);
            (c.topic(), c.sign(&r))
        })
        .collect();
    let sent = messages.len() as u64;
    publish(&host, port, &format!("sectwin-demo-{seed:x}"), messages, 0).await?;
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while node.device_stats.snapshot().accepted < sent {
        if std::time::Instant::now() > deadline {
            bail!(
                "the device channel registered {} of {sent} reports within 15 s: {:?}",
                node.device_stats.snapshot().accepted,
                node.device_stats.snapshot()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let size = node.log.durable_size().get();
    node.projector
        .wait_projected(size, Duration::from_secs(15))
        .await;
    println!("   {sent} signed reports published (QoS 1), verified and registered in the log, each with a receipt");
    let token = token_for(http, root, node, "vistacam.example").await?;
    let page: api_types::devices::FindingsPage =
        get_as(http, &format!("{root}/api/v1/findings"), &token).await?;
    println!(
        "   posture audit of {} devices (OWASP IoT Top 10, ETSI EN 303 645, Device Defender checks):",
        page.devices_audited
    );
    for f in &page.findings {
        println!("   {:<9} {:<34} {}", f.severity, f.rule, f.device);
    }
    let planted = [
        (1, "POSTURE-UNIVERSAL-DEFAULT-PASSWORD"),
        (1, "POSTURE-INSECURE-SERVICE"),
        (3, "POSTURE-DEBUG-INTERFACE-ENABLED"),
    ];
    let found: std::collections::BTreeSet<(String, String)> = page
        .findings
        .iter()
        .map(|f| (f.device.clone(), f.rule.clone()))
        .collect();
    let expected: std::collections::BTreeSet<(String, String)> = planted
        .iter()
        .map(|(i, r)| (cams[*i].id.clone(), r.to_string()))
        .collect();
    if found != expected {
        bail!("the posture audit found {found:?}, not the planted {expected:?}");
    }
    println!("   exactly the planted weaknesses were found; counters at {root}/metrics");
    // The detector folds what the projection holds.
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while node.detection.folded() < size {
        if std::time::Instant::now() > deadline {
            bail!("the detector did not fold the reports within 15 s");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let operator = token_for(http, root, node, "operator.example").await?;
    let alarms: api_types::devices::AlarmsPage =
        get_as(http, &format!("{root}/api/v1/alarms"), &operator).await?;
    for a in &alarms.alarms {
        println!(
            "   ALARM {:<9} {:<22} {}  {} (report #{})",
            a.severity, a.rule, a.device, a.title, a.report_entry
        );
    }
    let tampered = &cams[2].id;
    let rules: Vec<(&str, &str)> = alarms
        .alarms
        .iter()
        .map(|a| (a.device.as_str(), a.rule.as_str()))
        .collect();
    if rules != [(tampered.as_str(), "firmware-not-released")] {
        bail!("the alarms are {rules:?}, not the planted tampered firmware on {tampered}");
    }
    // The operator confirms it: a true positive becomes an incident, and
    // the camera moves into the quarantine group.
    let alarm = &alarms.alarms[0];
    let verdict: api_types::devices::VerdictRecorded = post_as(
        http,
        &format!(
            "{root}/api/v1/alarms/{}/{}/verification",
            alarm.device,
            urlencoding(&alarm.id)
        ),
        &operator,
        &serde_json::json!({"verification": "true-positive", "note": "image hash unknown to Vistacam: pulled for forensics"}),
    )
    .await?;
    let incident = verdict
        .incident
        .context("a true positive did not report an incident")?;
    println!(
        "   #{:<3} operator.example      alarm-verified {} true-positive (signed by the service on its behalf)",
        verdict.entry, alarm.id
    );
    println!("   #{incident:<3} operator.example      incident-reported on {tampered}");
    let q: api_types::devices::Registered = post_as(
        http,
        &format!("{root}/api/v1/incidents/{incident}/quarantine"),
        &operator,
        &serde_json::json!({}),
    )
    .await?;
    println!(
        "   #{:<3} operator.example      ownership-transferred {tampered} into group quarantine",
        q.entry
    );
    let ack: api_types::devices::Registered = post_as(
        http,
        &format!("{root}/api/v1/incidents/{incident}/status"),
        &operator,
        &serde_json::json!({"status": "acknowledged", "note": "SOC ticket 4711"}),
    )
    .await?;
    println!(
        "   #{:<3} operator.example      incident-updated {incident} acknowledged",
        ack.entry
    );
    let size = node.log.durable_size().get();
    node.projector
        .wait_projected(size, Duration::from_secs(15))
        .await;
    let incidents: api_types::devices::IncidentsPage =
        get_as(http, &format!("{root}/api/v1/incidents"), &operator).await?;
    let Some(i) = incidents.incidents.iter().find(|i| i.entry == incident) else {
        bail!("incident {incident} is not listed");
    };
    if i.status != "acknowledged" || !i.quarantined {
        bail!(
            "incident {incident} is {} (quarantined: {})",
            i.status,
            i.quarantined
        );
    }
    println!(
        "   INCIDENT #{incident} {} {}: {} (quarantined)",
        i.severity, i.status, i.summary
    );
    Ok(())
}

/// A path segment, percent-encoded.
fn urlencoding(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// POSTs `body` as JSON with a bearer token and reads the answer as `T`.
async fn post_as<T: serde::de::DeserializeOwned>(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    body: &serde_json::Value,
) -> Result<T> {
    let r = http.post(url).bearer_auth(token).json(body).send().await?;
    let status = r.status();
    if !status.is_success() {
        let text = r.text().await.unwrap_or_default();
        bail!("POST {url}: {status}: {text}");
    }
    r.json()
        .await
        .with_context(|| format!("the answer of {url}"))
}

/// The demo's own advisory (an OSV record written for the demo, not a real
/// CVE): busybox's wget before 1.36.1 overflows a heap buffer.
type Deliveries = Arc<std::sync::Mutex<Vec<(axum::http::HeaderMap, Vec<u8>)>>>;

/// A webhook receiver on loopback (the operator's SOC, for the demo).
async fn webhook_receiver() -> Result<(String, Deliveries)> {
    let received: Deliveries = Arc::default();
    let r = received.clone();
    let app = axum::Router::new().route(
        "/soc",
        axum::routing::post(
            move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                let r = r.clone();
                async move {
                    if let Ok(mut v) = r.lock() {
                        v.push((headers, body.to_vec()));
                    }
                    axum::http::StatusCode::NO_CONTENT
                }
            },
        ),
    );
    let addr = node::serve(app, "127.0.0.1:0".parse()?, std::future::pending()).await?;
    Ok((format!("http://{addr}/soc"), received))
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("   {l}\n")).collect()
}

/// The door controller's firmware image 2.4.1 (the demo's stand-in: 256 KiB
/// of deterministic bytes behind a header), whose SHA-256 Acme releases:
/// the demo writes it to `DATA/firmware/` so that it can be dropped on the
/// dashboard's "Verify a file" page.
pub(crate) fn door_image() -> Vec<u8> {
    crate::demo_update::firmware_image("2.4.1")
}

pub(crate) const DOOR_IMAGE_FILE: &str = "firmware/acme-dc-200-2.4.1.bin";

/// The private key file of stakeholder `id` under the data directory `data`.
fn stakeholder_key_file(data: &std::path::Path, id: &str) -> PathBuf {
    data.join("keys").join(format!("{id}.key.pem"))
}

/// Writes a private key readable by its owner only.
fn write_secret(path: &std::path::Path, pem: &str) -> Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    options.mode(0o600);
    options.open(path)?.write_all(pem.as_bytes())?;
    Ok(())
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

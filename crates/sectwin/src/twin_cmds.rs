//! The twin subcommands: stakeholder and device registration (signed
//! statements submitted through SCRAPI), API credentials, showing twins over
//! the REST API, and `reindex`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use api_types::oauth::{OAuthError, TokenResponse};
use api_types::twins::{DeviceList, DeviceView, NodeStatus, StakeholderList, Timeline};
use api_types::Problem;
use serde_json::Value;

use crate::scitt_cmds::{entry_of, submit};
use crate::statements;

/// `sectwin stakeholder ...`.
#[derive(clap::Subcommand)]
pub enum StakeholderCmd {
    /// Register an organization with its roles and keys (signed by the registry authority).
    Register {
        /// The service's base URL.
        #[arg(long, default_value = "http://127.0.0.1:8470")]
        server: String,
        /// The registry authority's private key (DATA/authority.key of the server).
        #[arg(long)]
        authority_key: PathBuf,
        /// The stakeholder's id (the `iss` of its statements), e.g. acme.example.
        #[arg(long)]
        id: String,
        /// Display name.
        #[arg(long)]
        name: String,
        /// Organization role (repeatable): manufacturer, operator, maintainer, auditor, owner.
        #[arg(long = "role")]
        roles: Vec<String>,
        /// A public key file (PEM, Ed25519 or P-256; repeatable).
        #[arg(long = "key", required = true)]
        keys: Vec<PathBuf>,
    },
    /// Add a key (rotation), signed by the stakeholder itself or the authority.
    AddKey {
        /// The service's base URL.
        #[arg(long, default_value = "http://127.0.0.1:8470")]
        server: String,
        /// The signer's private key.
        #[arg(long)]
        signer_key: PathBuf,
        /// The signer's id (the stakeholder itself, or the authority).
        #[arg(long = "as")]
        signer: String,
        /// The stakeholder whose key it is.
        #[arg(long)]
        id: String,
        /// The new public key (PEM).
        #[arg(long)]
        key: PathBuf,
        /// Valid for statements issued from (unix seconds).
        #[arg(long)]
        not_before: Option<i64>,
        /// Valid for statements issued until (unix seconds).
        #[arg(long)]
        not_after: Option<i64>,
    },
    /// Revoke a key: statements registered after this one and signed with it are refused.
    RevokeKey {
        /// The service's base URL.
        #[arg(long, default_value = "http://127.0.0.1:8470")]
        server: String,
        /// The signer's private key.
        #[arg(long)]
        signer_key: PathBuf,
        /// The signer's id.
        #[arg(long = "as")]
        signer: String,
        /// The stakeholder whose key it is.
        #[arg(long)]
        id: String,
        /// The key's kid (hex, as `sectwin key show` prints).
        #[arg(long)]
        kid: String,
        /// Why.
        #[arg(long)]
        reason: Option<String>,
    },
    /// List the registered stakeholders.
    List {
        /// The service's base URL.
        #[arg(long, default_value = "http://127.0.0.1:8470")]
        server: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `sectwin device ...`.
#[derive(clap::Subcommand)]
pub enum DeviceCmd {
    /// Register a device (signed by its manufacturer).
    Register {
        /// The service's base URL.
        #[arg(long, default_value = "http://127.0.0.1:8470")]
        server: String,
        /// The manufacturer's private key.
        #[arg(long)]
        key: PathBuf,
        /// The manufacturer's stakeholder id.
        #[arg(long = "as")]
        issuer: String,
        /// Device id (the statement subject is `device:<id>`).
        #[arg(long)]
        id: String,
        /// Manufacturer's display name (default: the issuer).
        #[arg(long)]
        manufacturer: Option<String>,
        /// Model.
        #[arg(long)]
        model: String,
        /// Serial number.
        #[arg(long)]
        serial: String,
        /// Hardware id.
        #[arg(long)]
        hardware_id: Option<String>,
        /// The device's own public key (PEM), if it signs statements.
        #[arg(long)]
        device_key: Option<PathBuf>,
    },
    /// Simulate a fleet: signed reports published to the MQTT broker
    /// (optionally registering the devices first), with planted weaknesses.
    Simulate(crate::device_cmds::SimulateArgs),
    /// A device's latest signed report.
    Report {
        /// The service's base URL.
        #[arg(long, default_value = "http://127.0.0.1:8470")]
        server: String,
        /// Device id.
        device: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        auth: ClientAuth,
    },
    /// Posture findings: of one device, or of every device you may see.
    Audit {
        /// The service's base URL.
        #[arg(long, default_value = "http://127.0.0.1:8470")]
        server: String,
        /// Device id (default: every device).
        device: Option<String>,
        /// Only findings at least this severe (low, medium, high, critical).
        #[arg(long)]
        severity: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        auth: ClientAuth,
    },
    /// Alarms the detector raised on the devices you may see.
    Alarms(crate::device_cmds::AlarmsArgs),
    /// A verdict on an alarm (a true positive becomes an incident).
    Verify(crate::device_cmds::VerifyArgs),
    /// Incidents on the devices you may see.
    Incidents(crate::device_cmds::IncidentsArgs),
    /// Acknowledge, resolve or quarantine an incident.
    Incident(crate::device_cmds::IncidentArgs),
    /// Security profiles (Device Defender-style behaviours); --publish FILE.
    Profiles(crate::device_cmds::ProfilesArgs),
    /// Suppress a posture finding on a device (or its group) with a reason
    /// until an expiry, or lift a suppression (signed by the node on your
    /// behalf; you must be the device's operator or owner).
    Suppress(crate::suppress_cmds::SuppressArgs),
    /// The suppressions of posture findings you may see (in force, or --all).
    Suppressions {
        /// The service's base URL.
        #[arg(long, default_value = "http://127.0.0.1:8470")]
        server: String,
        /// Only those asserted on this device.
        #[arg(long)]
        device: Option<String>,
        /// Only those of this rule.
        #[arg(long)]
        rule: Option<String>,
        /// Expired and lifted ones too.
        #[arg(long)]
        all: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        auth: ClientAuth,
    },
    /// The device channel's counters: reports received, registered, refused by reason.
    Stats {
        /// The service's base URL.
        #[arg(long, default_value = "http://127.0.0.1:8470")]
        server: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        auth: ClientAuth,
    },
}

/// How a client authenticates to the REST API.
#[derive(clap::Args, Clone)]
pub struct ClientAuth {
    /// A bearer token.
    #[arg(long, env = "SECTWIN_TOKEN", allow_hyphen_values = true)]
    token: Option<String>,
    /// An API client id (exchanged for a token with --client-secret).
    #[arg(long, env = "SECTWIN_CLIENT_ID")]
    client_id: Option<String>,
    /// The client's secret.
    #[arg(long, env = "SECTWIN_CLIENT_SECRET", allow_hyphen_values = true)]
    client_secret: Option<String>,
}

impl ClientAuth {
    /// Authentication with a bearer token already at hand.
    pub(crate) fn with_token(token: String) -> ClientAuth {
        ClientAuth {
            token: Some(token),
            client_id: None,
            client_secret: None,
        }
    }
}

/// `sectwin twin ...`.
#[derive(clap::Subcommand)]
pub enum TwinCmd {
    /// Show a device's twin: identity, roles, and each attribute with its consensus status.
    Show {
        /// The service's base URL.
        #[arg(long, default_value = "http://127.0.0.1:8470")]
        server: String,
        /// Device id.
        device: String,
        /// Print the API's JSON.
        #[arg(long)]
        json: bool,
        /// Also print the device's timeline.
        #[arg(long)]
        timeline: bool,
        #[command(flatten)]
        auth: ClientAuth,
    },
    /// List devices, optionally filtered by attribute (ATTR=VALUE, repeatable).
    List {
        /// The service's base URL.
        #[arg(long, default_value = "http://127.0.0.1:8470")]
        server: String,
        /// Filter, e.g. site="Building A" or firmware=2.4.1.
        #[arg(long = "filter")]
        filters: Vec<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        auth: ClientAuth,
    },
}

/// `sectwin credential ...` (on the server's data directory).
#[derive(clap::Subcommand)]
pub enum CredentialCmd {
    /// Create an API credential for a stakeholder; prints the client id and secret once.
    Create {
        /// The server's data directory.
        #[arg(long, env = "SECTWIN_DATA")]
        data: PathBuf,
        /// The stakeholder it acts for.
        #[arg(long)]
        stakeholder: String,
        /// What it is for.
        #[arg(long, default_value = "cli")]
        label: String,
    },
    /// List credentials (never secrets).
    List {
        /// The server's data directory.
        #[arg(long, env = "SECTWIN_DATA")]
        data: PathBuf,
    },
    /// Revoke a credential; its tokens stop working at once.
    Revoke {
        /// The server's data directory.
        #[arg(long, env = "SECTWIN_DATA")]
        data: PathBuf,
        /// The client id.
        client_id: String,
    },
}

fn read_pem(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

pub(crate) fn signing_key(path: &Path) -> Result<scitt::SigningKey> {
    scitt::SigningKey::from_pem(&read_pem(path)?)
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

fn public_pem(path: &Path) -> Result<String> {
    let pem = read_pem(path)?;
    let key = scitt::PublicKey::from_pem(&pem)
        .or_else(|_| scitt::SigningKey::from_pem(&pem).map(|k| k.public_key()))
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    Ok(key.to_pem())
}

/// Signs `body` about `subject` as `issuer`, registers it, and waits until
/// the server applied it; answers its entry.
pub(crate) async fn sign_and_submit(
    server: &str,
    key: &scitt::SigningKey,
    issuer: &str,
    subject: &str,
    body: &twin::StatementBody,
) -> Result<u64> {
    let statement = scitt::StatementBuilder::new(issuer, subject, &body.to_payload())
        .content_type("application/json")
        .issued_at(crate::now_unix_s())
        .sign(key);
    let (location, _) = submit(server, statement).await?;
    let entry = entry_of(&location).with_context(|| format!("unexpected location {location:?}"))?;
    wait_projected(server, entry).await?;
    Ok(entry)
}

/// How long the CLI waits for the server to apply its own statement.
const PROJECTION_WAIT_MS_MAX: u64 = 30_000;

/// Waits until the server's twins include entry `entry`, so that a command
/// that reads right after this one sees what it wrote.
pub(crate) async fn wait_projected(server: &str, entry: u64) -> Result<()> {
    let deadline =
        std::time::Instant::now() + std::time::Duration::from_millis(PROJECTION_WAIT_MS_MAX);
    let mut pause_ms = 10;
    loop {
        let status: NodeStatus = wire(&get_json(server, "/api/v1/status").await?)?;
        if status.projected_size > entry {
            return Ok(());
        }
        if let Some(fault) = status.projector_fault {
            bail!("entry {entry} is registered but the server cannot apply it: {fault}");
        }
        if std::time::Instant::now() >= deadline {
            bail!(
                "entry {entry} is registered but the server has not applied it after {} s",
                PROJECTION_WAIT_MS_MAX / 1000
            );
        }
        tokio::time::sleep(std::time::Duration::from_millis(pause_ms)).await;
        pause_ms = (pause_ms * 2).min(500);
    }
}

async fn get_json(server: &str, path: &str) -> Result<Value> {
    let r = reqwest::get(format!("{}{path}", server.trim_end_matches('/'))).await?;
    let status = r.status();
    let v: Value = r.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        bail!("{path}: {status}: {}", problem_detail(v));
    }
    Ok(v)
}

/// An answer of the API read as its wire type (`api_types`): what the
/// commands print from, while `--json` prints the answer as it came.
pub(crate) fn wire<T: serde::de::DeserializeOwned>(v: &Value) -> Result<T> {
    serde_json::from_value(v.clone()).with_context(|| {
        format!(
            "the server's answer is not the {} this client knows",
            std::any::type_name::<T>()
                .rsplit("::")
                .next()
                .unwrap_or("type")
        )
    })
}

/// What an error answer of the API says: its problem details' `detail`
/// (nothing when the body is not problem details).
pub(crate) fn problem_detail(v: Value) -> String {
    serde_json::from_value::<Problem>(v)
        .map(|p| p.detail)
        .unwrap_or_default()
}

/// `sectwin stakeholder ...`.
pub async fn stakeholder(cmd: StakeholderCmd) -> Result<ExitCode> {
    match cmd {
        StakeholderCmd::Register {
            server,
            authority_key,
            id,
            name,
            roles,
            keys,
        } => {
            let status: NodeStatus = wire(&get_json(&server, "/api/v1/status").await?)?;
            let authority = status
                .authority
                .context("the server's registry has no authority yet")?;
            let pems = keys
                .iter()
                .map(|k| public_pem(k))
                .collect::<Result<Vec<_>>>()?;
            let payload =
                statements::stakeholder_registered(&name, statements::roles(&roles)?, pems);
            let entry = sign_and_submit(
                &server,
                &signing_key(&authority_key)?,
                &authority,
                &format!("stakeholder:{id}"),
                &payload,
            )
            .await?;
            println!("registered stakeholder {id} as entry {entry}");
        }
        StakeholderCmd::AddKey {
            server,
            signer_key,
            signer,
            id,
            key,
            not_before,
            not_after,
        } => {
            let payload = statements::key_added(public_pem(&key)?, not_before, not_after);
            let entry = sign_and_submit(
                &server,
                &signing_key(&signer_key)?,
                &signer,
                &format!("stakeholder:{id}"),
                &payload,
            )
            .await?;
            println!("key added to {id} as entry {entry}");
        }
        StakeholderCmd::RevokeKey {
            server,
            signer_key,
            signer,
            id,
            kid,
            reason,
        } => {
            let payload = statements::key_revoked(&kid, reason);
            let entry = sign_and_submit(
                &server,
                &signing_key(&signer_key)?,
                &signer,
                &format!("stakeholder:{id}"),
                &payload,
            )
            .await?;
            println!("key {kid} of {id} revoked as entry {entry}");
        }
        StakeholderCmd::List { server, json } => {
            let v = get_json(&server, "/api/v1/stakeholders").await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                let list: StakeholderList = wire(&v)?;
                println!("{:<28} {:<36} {:<28} KEYS", "ID", "NAME", "ROLES");
                for s in &list.stakeholders {
                    let roles: Vec<&str> = s.roles.iter().map(|r| r.as_str()).collect();
                    let live = s.keys.iter().filter(|k| k.revoked_at.is_none()).count();
                    println!(
                        "{:<28} {:<36} {:<28} {live} live",
                        s.id,
                        s.name,
                        roles.join(",")
                    );
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `sectwin device ...`.
pub async fn device(cmd: DeviceCmd) -> Result<ExitCode> {
    match cmd {
        DeviceCmd::Simulate(args) => return crate::device_cmds::simulate(args).await,
        DeviceCmd::Alarms(args) => return crate::device_cmds::alarms(args).await,
        DeviceCmd::Verify(args) => return crate::device_cmds::verify(args).await,
        DeviceCmd::Incidents(args) => return crate::device_cmds::incidents(args).await,
        DeviceCmd::Incident(args) => return crate::device_cmds::incident(args).await,
        DeviceCmd::Profiles(args) => return crate::device_cmds::profiles(args).await,
        DeviceCmd::Report {
            server,
            device,
            json,
            auth,
        } => return crate::device_cmds::report(&server, &device, json, &auth).await,
        DeviceCmd::Audit {
            server,
            device,
            severity,
            json,
            auth,
        } => {
            return crate::device_cmds::audit(
                &server,
                device.as_deref(),
                severity.as_deref(),
                json,
                &auth,
            )
            .await
        }
        DeviceCmd::Suppress(args) => return crate::suppress_cmds::suppress(args).await,
        DeviceCmd::Suppressions {
            server,
            device,
            rule,
            all,
            json,
            auth,
        } => {
            return crate::suppress_cmds::list(
                &server,
                device.as_deref(),
                rule.as_deref(),
                all,
                json,
                &auth,
            )
            .await
        }
        DeviceCmd::Stats { server, json, auth } => {
            return crate::device_cmds::stats(&server, json, &auth).await
        }
        DeviceCmd::Register {
            server,
            key,
            issuer,
            id,
            manufacturer,
            model,
            serial,
            hardware_id,
            device_key,
        } => {
            let device_key = device_key.map(|p| public_pem(&p)).transpose()?;
            let payload = statements::device_registered(statements::DeviceRegistration {
                manufacturer: manufacturer.unwrap_or_else(|| issuer.clone()),
                model,
                serial,
                hardware_id,
                device_key,
            });
            let entry = sign_and_submit(
                &server,
                &signing_key(&key)?,
                &issuer,
                &format!("device:{id}"),
                &payload,
            )
            .await?;
            println!("registered device:{id} as entry {entry}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A bearer token for `auth`, if any.
pub async fn token(server: &str, auth: &ClientAuth) -> Result<Option<String>> {
    if let Some(t) = &auth.token {
        return Ok(Some(t.clone()));
    }
    let (Some(id), Some(secret)) = (&auth.client_id, &auth.client_secret) else {
        return Ok(None);
    };
    let r = reqwest::Client::new()
        .post(format!("{}/oauth/token", server.trim_end_matches('/')))
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await?;
    let status = r.status();
    let v: Value = r.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        // RFC 6749 §5.2: the token endpoint's errors are not problem details.
        let why = serde_json::from_value::<OAuthError>(v)
            .map(|e| e.error_description)
            .unwrap_or_default();
        bail!("token endpoint: {status}: {why}");
    }
    let granted: TokenResponse = wire(&v)?;
    Ok(Some(granted.access_token))
}

pub(crate) async fn api_get(server: &str, path: &str, token: Option<&str>) -> Result<Value> {
    let mut req = reqwest::Client::new().get(format!("{}{path}", server.trim_end_matches('/')));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let r = req.send().await?;
    let status = r.status();
    let v: Value = r.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        bail!("{status}: {}", problem_detail(v));
    }
    Ok(v)
}

/// One line per attribute of a twin view, as the demo and `twin show`
/// print them.
pub fn attribute_lines(view: &DeviceView) -> Vec<String> {
    use api_types::twins::ConsensusState;
    let mut lines = Vec::new();
    for a in &view.attributes {
        let class = &a.attribute.class;
        let key = match &a.attribute.key {
            Some(k) => format!("{class} {k}"),
            None => class.clone(),
        };
        let claim = &a.claim;
        let status = match &claim.status {
            Some(s) => match s.status {
                ConsensusState::Agreed => "agreed".to_string(),
                ConsensusState::Claimed => {
                    let roles: Vec<&str> =
                        s.awaiting.iter().flatten().map(|r| r.as_str()).collect();
                    format!("claimed, awaiting {}", roles.join(", "))
                }
                ConsensusState::Disputed => {
                    format!(
                        "disputed by {}",
                        s.by.as_deref().unwrap_or_default().join(", ")
                    )
                }
            },
            None => "?".to_string(),
        };
        // The statement is the payload as shared: open by nature.
        lines.push(format!(
            "{key:<28} #{:<3} {:<24} {:<22} {status}",
            claim.entry,
            claim.statement["type"].as_str().unwrap_or("?"),
            claim.issuer,
        ));
    }
    for p in &view.ai_use_policies {
        // The policy document as signed: open by nature.
        let policy = &p.policy;
        for d in policy["decisions"].as_array().into_iter().flatten() {
            lines.push(format!(
                "{:<28} #{:<3} {:<24} {:<22} {} ({}; {})",
                format!("ai-use {}", policy["id"].as_str().unwrap_or("?")),
                p.entry,
                "ai-use-policy",
                p.owner,
                d["decision"].as_str().unwrap_or("?"),
                d["autonomy"].as_str().unwrap_or("?"),
                d["human_oversight"].as_str().unwrap_or("?"),
            ));
        }
    }
    lines
}

/// The header line of a twin view.
pub fn twin_line(view: &DeviceView) -> String {
    let t = &view.twin;
    let or_dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".to_string());
    format!(
        "device:{} ({} {}), {}, operator {}",
        t.device,
        t.manufacturer,
        or_dash(&t.model),
        t.lifecycle.map_or("-", |l| l.as_str()),
        or_dash(&t.operator)
    )
}

/// `sectwin twin ...`.
pub async fn twin(cmd: TwinCmd) -> Result<ExitCode> {
    match cmd {
        TwinCmd::Show {
            server,
            device,
            json,
            timeline,
            auth,
        } => {
            let token = token(&server, &auth).await?;
            let path = format!("/api/v1/devices/{}", urlencode(&device));
            let view = api_get(&server, &path, token.as_deref()).await?;
            let tl = if timeline {
                Some(
                    api_get(
                        &server,
                        &format!("{path}/timeline?page_size=1000"),
                        token.as_deref(),
                    )
                    .await?,
                )
            } else {
                None
            };
            if json {
                // The answers as they came, the timeline's entries added.
                let mut out = view;
                if let Some(tl) = tl {
                    out["timeline"] = tl["entries"].clone();
                }
                println!("{}", serde_json::to_string_pretty(&out)?);
                return Ok(ExitCode::SUCCESS);
            }
            let view: DeviceView = wire(&view)?;
            let tl: Option<Timeline> = tl.as_ref().map(wire).transpose()?;
            let t = &view.twin;
            let s = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".to_string());
            println!("{}", twin_line(&view));
            println!(
                "  serial {}  site {}  location {}  firmware {}",
                s(&t.serial),
                s(&t.site),
                s(&t.location),
                s(&t.firmware)
            );
            println!(
                "  owner {}  maintainer {}  as of log size {}",
                s(&t.owner),
                s(&t.maintainer),
                view.as_of
            );
            println!(
                "  {:<28} {:<4} {:<24} {:<22} STATUS",
                "ATTRIBUTE", "ENTRY", "STATEMENT", "ISSUER"
            );
            for line in attribute_lines(&view) {
                println!("  {line}");
            }
            if let Some(tl) = tl {
                println!("  timeline:");
                for e in &tl.entries {
                    println!(
                        "    #{:<4} {:<24} {:<22} receipt {}",
                        e.entry, e.kind, e.issuer, e.receipt
                    );
                }
            }
        }
        TwinCmd::List {
            server,
            filters,
            json,
            auth,
        } => {
            let token = token(&server, &auth).await?;
            let mut query = Vec::new();
            for f in &filters {
                let (k, v) = f
                    .split_once('=')
                    .with_context(|| format!("expected ATTR=VALUE, got {f:?}"))?;
                query.push(format!("{}={}", urlencode(k), urlencode(v)));
            }
            // The devices as they came (what --json prints), and as read.
            let mut all = Vec::new();
            let mut devices = Vec::new();
            let mut next: Option<String> = None;
            loop {
                let mut q = query.clone();
                q.push("page_size=1000".into());
                if let Some(n) = &next {
                    q.push(format!("page_token={}", urlencode(n)));
                }
                let v = api_get(
                    &server,
                    &format!("/api/v1/devices?{}", q.join("&")),
                    token.as_deref(),
                )
                .await?;
                let page: DeviceList = wire(&v)?;
                if let Value::Object(mut fields) = v {
                    if let Some(Value::Array(raw)) = fields.remove("devices") {
                        all.extend(raw);
                    }
                }
                devices.extend(page.devices);
                match page.next_page_token {
                    Some(n) => next = Some(n),
                    None => break,
                }
            }
            if json {
                println!("{}", serde_json::to_string_pretty(&all)?);
            } else {
                println!(
                    "{:<28} {:<20} {:<12} {:<16} {:<12} OPERATOR",
                    "DEVICE", "MANUFACTURER", "MODEL", "LIFECYCLE", "FIRMWARE"
                );
                for d in &devices {
                    let s = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".to_string());
                    println!(
                        "{:<28} {:<20} {:<12} {:<16} {:<12} {}",
                        d.device,
                        d.manufacturer,
                        s(&d.model),
                        d.lifecycle.map_or("-", |l| l.as_str()),
                        s(&d.firmware),
                        s(&d.operator)
                    );
                }
                println!("{} devices", devices.len());
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Percent-encodes everything but unreserved characters (RFC 3986).
pub(crate) fn urlencode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `sectwin credential ...`.
pub fn credential(cmd: CredentialCmd) -> Result<ExitCode> {
    match cmd {
        CredentialCmd::Create {
            data,
            stakeholder,
            label,
        } => {
            let (client_id, secret) =
                node::create_credential(&node::credentials_path(&data), &stakeholder, &label)?;
            println!("client_id:     {client_id}");
            println!("client_secret: {secret}");
            eprintln!("(the secret is shown once; exchange both at POST /oauth/token)");
        }
        CredentialCmd::List { data } => {
            let c = node::load_credentials(&node::credentials_path(&data))?;
            for cred in c.iter() {
                println!(
                    "{}  {:<28} {:<20} {}",
                    cred.client_id(),
                    cred.stakeholder(),
                    cred.label(),
                    if cred.revoked() { "revoked" } else { "active" }
                );
            }
        }
        CredentialCmd::Revoke { data, client_id } => {
            let path = node::credentials_path(&data);
            let mut c = node::load_credentials(&path)?;
            c.revoke(&client_id).map_err(|e| anyhow::anyhow!("{e}"))?;
            node::save_credentials(&path, &c)?;
            println!("revoked {client_id}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `sectwin reindex`: rebuilds the twins from the log alone.
#[derive(clap::Args)]
pub struct ReindexArgs {
    /// The data directory (the server must be stopped).
    #[arg(long, env = "SECTWIN_DATA")]
    data: PathBuf,
    /// Do not verify signatures again: trust that every twin statement was
    /// checked when this node admitted it (its raw POST /log/add refuses
    /// twin statements). Key validity at each log position is still checked.
    /// Without it, every signature is verified (use that on a mirrored log).
    #[arg(long)]
    trust_admission: bool,
}

/// Rebuilds `data`'s twins from its log into a fresh store, then swaps it in.
pub fn reindex(args: ReindexArgs) -> Result<ExitCode> {
    let store = log_store::EmbeddedStore::open(log_store::EmbeddedStoreOptions {
        dir: args.data.clone(),
    })?;
    let store: Arc<dyn log_store::LogStore> = Arc::new(store);
    let size = match store.checkpoint()? {
        Some(note) => {
            let text = String::from_utf8_lossy(&note).into_owned();
            let body = text.split("\n\n").next().unwrap_or("");
            let cp = tlog::Checkpoint::parse_text(&format!("{body}\n"))
                .map_err(|e| anyhow::anyhow!("the stored checkpoint does not parse: {e}"))?;
            cp.size()
        }
        None => tlog::TreeSize::new(0),
    };
    let fresh = args.data.join("twins.reindex");
    if fresh.exists() {
        std::fs::remove_dir_all(&fresh)?;
    }
    let twins = twin_store::TwinStore::open(&fresh)?;
    let prover = log_service::Prover::new(store);
    let mut bar = indicatif_bar(size.get());
    let signatures = if args.trust_admission {
        twin_store::Signatures::TrustAdmission
    } else {
        twin_store::Signatures::Verify
    };
    let payloads = twin_store::PayloadStore::open(&args.data.join("payloads"))?;
    let stats = twin_store::reindex(
        &prover,
        size,
        &twins,
        Some(&payloads as &dyn twin_store::SideStore),
        node::fold_rules(),
        signatures,
        &mut bar,
    )?;
    drop(twins);
    twin_store::swap::swap_in(&args.data.join("twins"), &fresh)
        .context("putting the rebuilt twins in place")?;
    let secs = stats.elapsed.as_secs_f64();
    eprintln!();
    println!(
        "reindexed {} entries in {secs:.2} s ({:.0} entries/s): {} statements applied, {} refused",
        stats.entries,
        stats.entries as f64 / secs.max(1e-9),
        stats.applied,
        stats.refused
    );
    Ok(ExitCode::SUCCESS)
}

/// A progress printer for `total` entries (to stderr, at most every 1%).
fn indicatif_bar(total: u64) -> impl FnMut(u64) {
    let mut shown = 0u64;
    move |n| {
        let step = (total / 100).max(1);
        if n >= shown + step || n == total {
            shown = n;
            eprint!("\rreindexing: {n}/{total} entries");
        }
    }
}

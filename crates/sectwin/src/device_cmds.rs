//! `sectwin device simulate|report|audit|stats|alarms|verify|incidents|incident|profiles`:
//! a simulated fleet that reports through the broker, and what the node
//! made of the reports.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use api_types::devices::{
    AlarmsPage, DeviceChannelStats, DevicePostureView, FindingView, FindingsPage, IncidentsPage,
    ProfilesPage, VerdictRecorded,
};
use device_channel::simulate::{fleet, publish, FirmwareImage, Plant};

use crate::twin_cmds::{api_get, sign_and_submit, signing_key, token, urlencode, wire, ClientAuth};

/// Options of `sectwin device simulate`.
#[derive(clap::Args)]
pub struct SimulateArgs {
    /// The MQTT broker, HOST:PORT.
    #[arg(long, default_value = "127.0.0.1:1883")]
    broker: String,
    /// How many devices.
    #[arg(long, default_value_t = 10)]
    count: usize,
    /// The fleet's seed: device i's key is derived from it, so the same
    /// fleet can be registered once and simulated again.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Device ids are PREFIX followed by six digits.
    #[arg(long, default_value = "sim-")]
    prefix: String,
    /// Reports per device.
    #[arg(long, default_value_t = 1)]
    reports: u64,
    /// Most reports published per second (0: as fast as the broker takes them).
    #[arg(long, default_value_t = 0)]
    rate: u64,
    /// The first report's counter (one more per report after it): raise it
    /// when simulating a registered fleet again.
    #[arg(long, default_value_t = 1)]
    first_counter: u64,
    /// Plant a weakness or incident on devices, as NAME=I[,I...] (device
    /// indices); names: default-credentials, debug-enabled, telnet,
    /// no-secure-boot, logging-disabled, tampered-firmware,
    /// auth-failure-spike, new-port, substituted-model, split-view,
    /// downgrade (the late ones, a spike, a new port and a downgrade, show
    /// from a device's 15th report). Repeatable.
    #[arg(long = "plant", value_parser = parse_plant)]
    plants: Vec<(Plant, Vec<usize>)>,
    /// The firmware version the devices run.
    #[arg(long, default_value = "2.4.0")]
    firmware_version: String,
    /// SHA-256 of the image they run (hex).
    #[arg(
        long,
        default_value = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
    )]
    firmware_sha256: String,
    /// Register the devices first (with their keys), signed by the
    /// manufacturer --as with --key, on --server.
    #[arg(long)]
    register: bool,
    /// The service's base URL (with --register).
    #[arg(long, default_value = "http://127.0.0.1:8470")]
    server: String,
    /// The manufacturer's private key (with --register).
    #[arg(long)]
    key: Option<PathBuf>,
    /// The manufacturer's stakeholder id (with --register).
    #[arg(long = "as")]
    issuer: Option<String>,
    /// The devices' model (with --register).
    #[arg(long, default_value = "sim-camera")]
    model: String,
}

fn parse_plant(s: &str) -> Result<(Plant, Vec<usize>), String> {
    let (name, which) = s
        .split_once('=')
        .ok_or_else(|| format!("{s:?}: expected NAME=I[,I...]"))?;
    let plant = Plant::from_name(name).ok_or_else(|| {
        let names: Vec<&str> = Plant::ALL.iter().map(|p| p.name()).collect();
        format!(
            "unknown plant {name:?}; expected one of {}",
            names.join(", ")
        )
    })?;
    let indices = which
        .split(',')
        .map(|i| {
            i.trim()
                .parse::<usize>()
                .map_err(|_| format!("{i:?} is not a device index"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok((plant, indices))
}

fn parse_broker(s: &str) -> Result<(String, u16)> {
    let (host, port) = s
        .rsplit_once(':')
        .with_context(|| format!("--broker {s:?}: expected HOST:PORT"))?;
    Ok((
        host.to_string(),
        port.parse()
            .with_context(|| format!("--broker {s:?}: bad port"))?,
    ))
}

/// `sectwin device simulate`.
pub async fn simulate(args: SimulateArgs) -> Result<ExitCode> {
    let (host, port) = parse_broker(&args.broker)?;
    let mut devices = fleet(args.seed, &args.prefix, args.count);
    for (plant, indices) in &args.plants {
        for &i in indices {
            let Some(d) = devices.get_mut(i) else {
                bail!(
                    "--plant {}={i}: there are only {} devices",
                    plant.name(),
                    args.count
                );
            };
            d.plants.push(*plant);
        }
    }
    if args.register {
        let (Some(key), Some(issuer)) = (&args.key, &args.issuer) else {
            bail!("--register needs the manufacturer's --key and --as");
        };
        let key = signing_key(key)?;
        for d in &devices {
            let body =
                crate::statements::device_registered(crate::statements::DeviceRegistration {
                    manufacturer: issuer.clone(),
                    model: args.model.clone(),
                    serial: d.id.clone(),
                    hardware_id: None,
                    device_key: Some(d.key.public_key().to_pem()),
                });
            sign_and_submit(
                &args.server,
                &key,
                issuer,
                &format!("device:{}", d.id),
                &body,
            )
            .await
            .with_context(|| format!("registering {}", d.id))?;
        }
        eprintln!("registered {} devices on {}", devices.len(), args.server);
    }
    let firmware = FirmwareImage {
        version: args.firmware_version.clone(),
        image_sha256: args.firmware_sha256.clone(),
    };
    for d in devices.iter_mut() {
        d.counter = args.first_counter;
    }
    let now = crate::now_unix_s();
    let mut messages = Vec::with_capacity(devices.len() * args.reports as usize);
    for round in 0..args.reports {
        for d in devices.iter_mut() {
            let report = d.next_report(&firmware, now + round as i64);
            messages.push((d.topic(), d.sign(&report)));
        }
    }
    let sent = messages.len();
    let started = std::time::Instant::now();
    let client_id = format!("sectwin-simulate-{}", std::process::id());
    let published = publish(&host, port, &client_id, messages, args.rate).await?;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "published {sent} signed reports of {} devices to {host}:{port} in {secs:.2} s ({:.0}/s); {} acknowledged by the broker",
        devices.len(),
        sent as f64 / secs.max(1e-9),
        published.acknowledged
    );
    Ok(ExitCode::SUCCESS)
}

/// `sectwin device report ID`: the device's latest report.
pub async fn report(server: &str, device: &str, json: bool, auth: &ClientAuth) -> Result<ExitCode> {
    let token = token(server, auth).await?;
    let v = api_get(
        server,
        &format!("/api/v1/devices/{}/posture", urlencode(device)),
        token.as_deref(),
    )
    .await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&v["report"])?);
        return Ok(ExitCode::SUCCESS);
    }
    let view: DevicePostureView = wire(&v)?;
    match &view.report {
        None => println!("{device}: no report yet"),
        Some(r) => {
            println!(
                "{device}: report {} at {} (entry {}, receipt {})",
                r.counter, r.timestamp, r.entry, r.receipt
            );
            println!("{}", serde_json::to_string_pretty(&r.report)?);
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_findings(findings: &[FindingView]) {
    println!(
        "{:<10} {:<40} {:<28} EVIDENCE",
        "SEVERITY", "RULE", "DEVICE"
    );
    for f in findings {
        let evidence: Vec<String> = f.evidence["report"]
            .as_array()
            .map(|facts| {
                facts
                    .iter()
                    .map(|fact| {
                        format!(
                            "{}={}",
                            fact["field"].as_str().unwrap_or("?"),
                            fact["value"]
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        println!(
            "{:<10} {:<40} {:<28} {}{}",
            f.severity,
            f.rule,
            f.device,
            evidence.join(" "),
            if f.suppressed.is_some() {
                " (suppressed)"
            } else {
                ""
            }
        );
    }
}

/// `sectwin device audit [ID]`: the posture findings of one device or of
/// every device the caller may see.
pub async fn audit(
    server: &str,
    device: Option<&str>,
    severity: Option<&str>,
    json: bool,
    auth: &ClientAuth,
) -> Result<ExitCode> {
    let token = token(server, auth).await?;
    if let Some(device) = device {
        let v = api_get(
            server,
            &format!("/api/v1/devices/{}/posture", urlencode(device)),
            token.as_deref(),
        )
        .await?;
        if json {
            println!("{}", serde_json::to_string_pretty(&v)?);
            return Ok(ExitCode::SUCCESS);
        }
        let view: DevicePostureView = wire(&v)?;
        if let Some(why) = &view.unreadable {
            println!("{device}: the latest report could not be audited: {why}");
        }
        println!("{device}: {} findings", view.findings.len());
        print_findings(&view.findings);
        return Ok(ExitCode::SUCCESS);
    }
    let path = match severity {
        Some(s) => format!("/api/v1/findings?severity={}", urlencode(s)),
        None => "/api/v1/findings".to_string(),
    };
    let v = api_get(server, &path, token.as_deref()).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(ExitCode::SUCCESS);
    }
    let page: FindingsPage = wire(&v)?;
    let by: Vec<String> = page
        .open_by_severity
        .iter()
        .map(|(s, n)| format!("{n} {s}"))
        .collect();
    println!(
        "{} devices audited; open findings: {}",
        page.devices_audited,
        if by.is_empty() {
            "none".to_string()
        } else {
            by.join(", ")
        }
    );
    print_findings(&page.findings);
    Ok(ExitCode::SUCCESS)
}

/// `sectwin device stats`: the device channel's counters.
pub async fn stats(server: &str, json: bool, auth: &ClientAuth) -> Result<ExitCode> {
    let token = token(server, auth).await?;
    let v = api_get(server, "/api/v1/device-reports/stats", token.as_deref()).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(ExitCode::SUCCESS);
    }
    let s: DeviceChannelStats = wire(&v)?;
    if !s.enabled {
        println!(
            "the device channel is not enabled on this node (serve --device-broker HOST:PORT)"
        );
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{} received, {} registered ({})",
        s.received,
        s.accepted,
        if s.connected {
            "connected"
        } else {
            "not connected to the broker"
        }
    );
    for (reason, n) in &s.rejected {
        println!("  refused {reason:<18} {n}");
    }
    Ok(ExitCode::SUCCESS)
}

/// POSTs `body` to the API with the caller's token; the answer, or the
/// problem's detail as the error.
async fn api_post(
    server: &str,
    path: &str,
    token: Option<&str>,
    body: &serde_json::Value,
) -> Result<serde_json::Value> {
    let mut req = reqwest::Client::new()
        .post(format!("{}{path}", server.trim_end_matches('/')))
        .json(body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let r = req.send().await?;
    let status = r.status();
    let v: serde_json::Value = r.json().await.unwrap_or(serde_json::Value::Null);
    if !status.is_success() {
        bail!("{status}: {}", crate::twin_cmds::problem_detail(v));
    }
    Ok(v)
}

/// Options of `sectwin device alarms`.
#[derive(clap::Args)]
pub struct AlarmsArgs {
    /// The service's base URL.
    #[arg(long, default_value = "http://127.0.0.1:8470")]
    server: String,
    /// Only this device's.
    #[arg(long)]
    device: Option<String>,
    /// `active` (default), `cleared` or `all`.
    #[arg(long)]
    state: Option<String>,
    /// Only this rule's (a prefix: `profile:ops/cameras`).
    #[arg(long)]
    rule: Option<String>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    auth: ClientAuth,
}

/// `sectwin device alarms`: the detector's alarms on the devices you may see.
pub async fn alarms(args: AlarmsArgs) -> Result<ExitCode> {
    let token = token(&args.server, &args.auth).await?;
    let mut q = Vec::new();
    for (k, v) in [
        ("device", &args.device),
        ("state", &args.state),
        ("rule", &args.rule),
    ] {
        if let Some(v) = v {
            q.push(format!("{k}={}", urlencode(v)));
        }
    }
    let path = if q.is_empty() {
        "/api/v1/alarms".to_string()
    } else {
        format!("/api/v1/alarms?{}", q.join("&"))
    };
    let v = api_get(&args.server, &path, token.as_deref()).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(ExitCode::SUCCESS);
    }
    let page: AlarmsPage = wire(&v)?;
    println!(
        "{} alarms on {} devices checked (log folded to {})",
        page.alarms.len(),
        page.devices_checked,
        page.as_of
    );
    println!(
        "{:<9} {:<8} {:<15} {:<28} {:<44} TITLE",
        "SEVERITY", "STATE", "VERIFICATION", "DEVICE", "ALARM"
    );
    for a in &page.alarms {
        println!(
            "{:<9} {:<8} {:<15} {:<28} {:<44} {}{}",
            a.severity,
            a.state,
            a.verification,
            a.device,
            a.id,
            a.title,
            a.incident
                .map(|i| format!(" (incident {i})"))
                .unwrap_or_default()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Options of `sectwin device verify`.
#[derive(clap::Args)]
pub struct VerifyArgs {
    /// The service's base URL.
    #[arg(long, default_value = "http://127.0.0.1:8470")]
    server: String,
    /// The device.
    device: String,
    /// The alarm id (`<rule>@<entry>`, as `device alarms` shows it).
    alarm: String,
    /// `true-positive` (it becomes an incident), `benign-positive`,
    /// `false-positive` or `unknown`.
    verification: String,
    /// Why.
    #[arg(long)]
    note: Option<String>,
    #[command(flatten)]
    auth: ClientAuth,
}

/// `sectwin device verify`: a verdict on an alarm, signed by the service
/// on your behalf.
pub async fn verify(args: VerifyArgs) -> Result<ExitCode> {
    let token = token(&args.server, &args.auth).await?;
    let mut body = serde_json::json!({"verification": args.verification});
    if let Some(n) = &args.note {
        body["note"] = serde_json::json!(n);
    }
    let v = api_post(
        &args.server,
        &format!(
            "/api/v1/alarms/{}/{}/verification",
            urlencode(&args.device),
            urlencode(&args.alarm)
        ),
        token.as_deref(),
        &body,
    )
    .await?;
    let r: VerdictRecorded = wire(&v)?;
    println!("alarm-verified registered at entry {}", r.entry);
    if let Some(i) = r.incident {
        println!("incident-reported registered at entry {i}");
    }
    Ok(ExitCode::SUCCESS)
}

/// Options of `sectwin device incidents`.
#[derive(clap::Args)]
pub struct IncidentsArgs {
    /// The service's base URL.
    #[arg(long, default_value = "http://127.0.0.1:8470")]
    server: String,
    /// Only this device's.
    #[arg(long)]
    device: Option<String>,
    /// `open`, `acknowledged`, `resolved` or `unresolved`.
    #[arg(long)]
    status: Option<String>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    auth: ClientAuth,
}

/// `sectwin device incidents`: incidents on the devices you may see.
pub async fn incidents(args: IncidentsArgs) -> Result<ExitCode> {
    let token = token(&args.server, &args.auth).await?;
    let mut q = Vec::new();
    for (k, v) in [("device", &args.device), ("status", &args.status)] {
        if let Some(v) = v {
            q.push(format!("{k}={}", urlencode(v)));
        }
    }
    let path = if q.is_empty() {
        "/api/v1/incidents".to_string()
    } else {
        format!("/api/v1/incidents?{}", q.join("&"))
    };
    let v = api_get(&args.server, &path, token.as_deref()).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(ExitCode::SUCCESS);
    }
    let page: IncidentsPage = wire(&v)?;
    println!(
        "{:<7} {:<9} {:<13} {:<28} SUMMARY",
        "ENTRY", "SEVERITY", "STATUS", "DEVICE"
    );
    for i in &page.incidents {
        println!(
            "{:<7} {:<9} {:<13} {:<28} {}{}",
            i.entry,
            i.severity,
            i.status,
            i.device,
            i.summary,
            if i.quarantined { " [quarantined]" } else { "" }
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// What to do to an incident.
#[derive(clap::Subcommand)]
pub enum IncidentAction {
    /// Someone is on it.
    Acknowledge,
    /// It is over.
    Resolve,
    /// Move its device into the quarantine group (as the device's owner).
    Quarantine,
    /// Move its device out of the quarantine group.
    Release,
}

/// Options of `sectwin device incident`.
#[derive(clap::Args)]
pub struct IncidentArgs {
    /// The service's base URL.
    #[arg(long, default_value = "http://127.0.0.1:8470")]
    server: String,
    /// The incident (its `incident-reported` entry).
    incident: u64,
    /// What to do.
    #[command(subcommand)]
    action: IncidentAction,
    /// Why.
    #[arg(long, global = true)]
    note: Option<String>,
    #[command(flatten)]
    auth: ClientAuth,
}

/// `sectwin device incident N acknowledge|resolve|quarantine|release`.
pub async fn incident(args: IncidentArgs) -> Result<ExitCode> {
    let token = token(&args.server, &args.auth).await?;
    let (path, mut body) = match args.action {
        IncidentAction::Acknowledge => ("status", serde_json::json!({"status": "acknowledged"})),
        IncidentAction::Resolve => ("status", serde_json::json!({"status": "resolved"})),
        IncidentAction::Quarantine => ("quarantine", serde_json::json!({"quarantine": true})),
        IncidentAction::Release => ("quarantine", serde_json::json!({"quarantine": false})),
    };
    if let (Some(n), "status") = (&args.note, path) {
        body["note"] = serde_json::json!(n);
    }
    let v = api_post(
        &args.server,
        &format!("/api/v1/incidents/{}/{path}", args.incident),
        token.as_deref(),
        &body,
    )
    .await?;
    println!("registered at entry {}", v["entry"]);
    Ok(ExitCode::SUCCESS)
}

/// Options of `sectwin device profiles`.
#[derive(clap::Args)]
pub struct ProfilesArgs {
    /// The service's base URL.
    #[arg(long, default_value = "http://127.0.0.1:8470")]
    server: String,
    /// Publish this security profile (a JSON file) as yours first.
    #[arg(long)]
    publish: Option<PathBuf>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    auth: ClientAuth,
}

/// `sectwin device profiles [--publish FILE]`: the security profiles in
/// force.
pub async fn profiles(args: ProfilesArgs) -> Result<ExitCode> {
    let token = token(&args.server, &args.auth).await?;
    if let Some(file) = &args.publish {
        let text =
            std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
        let profile: serde_json::Value = serde_json::from_str(&text)
            .with_context(|| format!("{} is not JSON", file.display()))?;
        let v = api_post(
            &args.server,
            "/api/v1/security-profiles",
            token.as_deref(),
            &profile,
        )
        .await?;
        eprintln!("security-profile registered at entry {}", v["entry"]);
    }
    let v = api_get(&args.server, "/api/v1/security-profiles", token.as_deref()).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(ExitCode::SUCCESS);
    }
    let page: ProfilesPage = wire(&v)?;
    for p in &page.profiles {
        let behaviours = p.profile["behaviours"].as_array().map_or(0, Vec::len);
        println!(
            "{:<32} entry {:<7} {behaviours} behaviours{}",
            p.key,
            p.entry,
            p.error
                .as_ref()
                .map(|e| format!("  NOT RUN: {e}"))
                .unwrap_or_default()
        );
    }
    Ok(ExitCode::SUCCESS)
}

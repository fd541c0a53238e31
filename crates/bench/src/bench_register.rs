//! `sectwin-bench register`: issue 14's fleet-scale figure, through a
//! running node (its HTTP API, risk service, notification pump and outbox),
//! not the engine in memory.
//!
//! 1. Generates `releases` firmware releases of `components` components
//!    each, drawn from what the CVE dump's advisories name (the generator of
//!    `bench vuln`), and `devices` devices on them.
//! 2. Writes them to a node's log as real signed statements: the registry
//!    (manufacturer, operator, owner, registered by the node's authority);
//!    per release `firmware-released` and its SBOM (`sbom-registered`, in
//!    parts); per device `device-registered`, `ownership-transferred` and
//!    `firmware-installed`. The node's projector folds them into the twins.
//! 3. Serves the node over HTTP and starts its notifications.
//! 4. Holds back `posts` advisories that expose devices (chosen with the
//!    engine's impact on the same releases, at evenly spaced sizes), and
//!    posts the rest of the dump through `POST /api/v1/advisories/bulk`:
//!    the full import. Timed until `GET /api/v1/risks` shows its risks.
//! 5. Times what every change cost before the register was incremental: a
//!    full snapshot of the twins and a full build (`RiskService::snapshot`
//!    + `risk_register::build_with`), in the same run.
//! 6. Subscribes the operator to "new vulnerable device" by webhook (a
//!    receiver in this process), then posts each held-back advisory alone
//!    (`POST /api/v1/advisories`, the administrator's shared advisories) and
//!    times, from the post: the answer (the change in the log), the register
//!    (`GET /api/v1/risks?vulnerability=…` showing every exposed device),
//!    every notification in the outbox, and the first webhook received.
//!    Each count is checked against the engine's impact.
//!
//! A benchmark, not a test: nothing here asserts a time.

use std::collections::{BTreeMap, HashSet};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use log_service::LogConfig;
use scitt::{Algorithm, SigningKey, StatementBuilder};
use serde_json::{json, Value};
use sha2::Digest;
use vuln::exposure::{FleetBuilder, ReleaseId};
use vuln_formats::model::Component;

use crate::bench_vuln::{generate_releases, release_of_device, GeneratedRelease, Rng};
use crate::scratch::Scratch;

/// Statements signed and appended at once.
const BATCH: usize = 8192;
/// SBOM components per `sbom-registered` part (keeps a statement well
/// under the log's entry size).
const SBOM_PART_COMPONENTS: usize = 100;
/// How long to wait for one figure before giving up.
const FIGURE_WAIT_S_MAX: u64 = 600;

struct Keys {
    maker: SigningKey,
    op: SigningKey,
}

const MAKER: &str = "maker.example";
const OP: &str = "op.example";
const OWNER: &str = "owner.example";

fn model_subject(line: u32) -> String {
    format!("model:{MAKER}/L{line:03}")
}

fn version(position: u32) -> String {
    format!("1.{position}.0")
}

fn sign(key: &SigningKey, issuer: &str, subject: &str, payload: &Value) -> Vec<u8> {
    StatementBuilder::new(issuer, subject, payload.to_string().as_bytes())
        .content_type("application/json")
        .issued_at(clock::Clock::now_unix_s(&clock::SystemClock))
        .sign(key)
}

fn sbom_component(c: &Component) -> Value {
    let mut v = json!({"name": c.name, "version": c.version});
    if let Some(p) = &c.purl {
        v["purl"] = json!(p.as_str());
    }
    if !c.cpes.is_empty() {
        v["cpe"] = json!(c.cpes.iter().map(|x| x.as_str()).collect::<Vec<_>>());
    }
    v
}

fn release_statements(keys: &Keys, r: &GeneratedRelease) -> Vec<Vec<u8>> {
    let subject = model_subject(r.line);
    let v = version(r.position);
    let digest = hex::encode(sha2::Sha256::digest(format!("{subject}@{v}")));
    let mut out = vec![sign(
        &keys.maker,
        MAKER,
        &subject,
        &json!({"type": "firmware-released", "version": v, "image_sha256": digest}),
    )];
    let parts: Vec<&[Component]> = r.components.chunks(SBOM_PART_COMPONENTS).collect();
    for (i, part) in parts.iter().enumerate() {
        out.push(sign(
            &keys.maker,
            MAKER,
            &subject,
            &json!({
                "type": "sbom-registered",
                "release": v,
                "format": "CycloneDX 1.6",
                "document_sha256": digest,
                "part": i + 1,
                "parts": parts.len(),
                "components": part.iter().map(sbom_component).collect::<Vec<_>>(),
            }),
        ));
    }
    out
}

fn device_statements(keys: &Keys, d: u64, r: &GeneratedRelease) -> [Vec<u8>; 3] {
    let subject = format!("device:d{d:07}");
    let v = version(r.position);
    [
        sign(
            &keys.maker,
            MAKER,
            &subject,
            &json!({"type": "device-registered", "manufacturer": "Maker", "model": format!("L{:03}", r.line), "serial": format!("{d}")}),
        ),
        sign(
            &keys.maker,
            MAKER,
            &subject,
            &json!({"type": "ownership-transferred", "owner": OWNER, "operator": OP, "site": format!("site-{}", d % 1000)}),
        ),
        sign(
            &keys.op,
            OP,
            &subject,
            &json!({"type": "firmware-installed", "version": v, "image_sha256": hex::encode(sha2::Sha256::digest(format!("{}@{v}", model_subject(r.line))))}),
        ),
    ]
}

async fn append_all(log: &log_service::Log, statements: Vec<Vec<u8>>) -> Result<u64> {
    let results = futures::future::join_all(statements.into_iter().map(|s| log.append(s))).await;
    let mut last = 0;
    for r in results {
        last = r.map_err(|e| anyhow::anyhow!("{e}"))?.index.get();
    }
    Ok(last)
}

/// The dump's lines by CVE id.
fn dump_lines(path: &Path) -> Result<Vec<(String, String)>> {
    let file = std::fs::File::open(path).with_context(|| format!("open {}", path.display()))?;
    let reader = std::io::BufReader::new(flate2::read::MultiGzDecoder::new(file));
    let mut out = Vec::new();
    for line in reader.lines() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let v: Value = serde_json::from_str(&line)?;
        let id = v["cveMetadata"]["cveId"].as_str().unwrap_or("").to_string();
        out.push((id, line));
    }
    Ok(out)
}

fn gzip(lines: &[&str]) -> Result<Vec<u8>> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    for l in lines {
        e.write_all(l.as_bytes())?;
        e.write_all(b"\n")?;
    }
    Ok(e.finish()?)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// Polls `f` every few milliseconds until it answers true; the elapsed time
/// since `from`.
async fn until<F, Fut>(from: Instant, what: &str, mut f: F) -> Result<Duration>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<bool>>,
{
    let deadline = Instant::now() + Duration::from_secs(FIGURE_WAIT_S_MAX);
    loop {
        if f().await? {
            return Ok(from.elapsed());
        }
        if Instant::now() > deadline {
            bail!("{what}: not within {FIGURE_WAIT_S_MAX} s");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The risks of `kind` `GET /api/v1/risks` shows for `vuln`.
async fn risk_count(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    vuln: &str,
    kind: &str,
) -> Result<u64> {
    let r = http
        .get(format!(
            "{base}/api/v1/risks?vulnerability={vuln}&kind={kind}&page_size=1"
        ))
        .bearer_auth(token)
        .send()
        .await?;
    if !r.status().is_success() {
        bail!("GET /api/v1/risks answered {}", r.status());
    }
    let v: Value = r.json().await?;
    Ok(v["total"].as_u64().unwrap_or(0))
}

/// The first release risk `GET /api/v1/risks` shows for `vuln`.
async fn release_risk(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    vuln: &str,
) -> Result<Value> {
    let r = http
        .get(format!(
            "{base}/api/v1/risks?vulnerability={vuln}&kind=release&page_size=1"
        ))
        .bearer_auth(token)
        .send()
        .await?;
    if !r.status().is_success() {
        bail!("GET /api/v1/risks answered {}", r.status());
    }
    let v: Value = r.json().await?;
    Ok(v["risks"][0].clone())
}

/// Posts `body` to `path` as the administrator; the answer's time.
async fn post_admin(
    http: &reqwest::Client,
    url: &str,
    admin: &str,
    body: Vec<u8>,
    ty: &str,
) -> Result<Duration> {
    let t = Instant::now();
    let r = http
        .post(url)
        .bearer_auth(admin)
        .header("content-type", ty)
        .body(body)
        .send()
        .await?;
    let status = r.status();
    let answer = t.elapsed();
    if !status.is_success() {
        bail!(
            "{url} answered {status}: {}",
            r.text().await.unwrap_or_default()
        );
    }
    Ok(answer)
}

/// Phase 7 (see [`run`]): (what, answer, visible in the register, the
/// register step that made it).
#[allow(clippy::too_many_arguments)]
async fn exploitation_phase(
    http: &reqwest::Client,
    base: &str,
    admin: &str,
    op: &str,
    sized: &[(u64, String)],
    held: &HashSet<&str>,
    lines: &[(String, String)],
    risks: &twin_store::RiskService,
) -> Result<Vec<(String, Duration, Duration, Duration)>> {
    let mut out = Vec::new();
    let mut exposing = sized
        .iter()
        .rev()
        .filter(|(_, id)| !held.contains(id.as_str()));
    let (kev_devices, kev_probe) = exposing.next().cloned().context("no exposure to list")?;
    let (one_devices, one_probe) = exposing.next().cloned().context("no second exposure")?;
    let entry = |cve: &str| {
        json!({"cveID": cve, "vendorProject": "bench", "product": "bench", "vulnerabilityName": "bench",
               "dateAdded": "2026-12-01", "shortDescription": "bench", "requiredAction": "patch",
               "dueDate": "2026-12-22", "knownRansomwareCampaignUse": "Unknown", "notes": "", "cwes": []})
    };
    // CISA's catalogue, the probe listed too.
    let gz = std::fs::read(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../testdata/kev/known_exploited_vulnerabilities-2025-08-25.json.gz"),
    )?;
    let mut raw = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gz[..]), &mut raw)?;
    let mut catalogue: Value = serde_json::from_slice(&raw)?;
    if let Some(v) = catalogue["vulnerabilities"].as_array_mut() {
        if !v.iter().any(|e| e["cveID"] == kev_probe.as_str()) {
            v.push(entry(&kev_probe));
        }
        let n = v.len();
        catalogue["count"] = json!(n);
    }
    let t = Instant::now();
    let answer = post_admin(
        http,
        &format!("{base}/api/v1/exploitation/kev"),
        admin,
        serde_json::to_vec(&catalogue)?,
        "application/json",
    )
    .await?;
    let visible = until(t, "the KEV catalogue in the register", || {
        let (http, base, op, id) = (
            http.clone(),
            base.to_string(),
            op.to_string(),
            kev_probe.clone(),
        );
        async move { Ok(release_risk(&http, &base, &op, &id).await?["kev"] == true) }
    })
    .await?;
    eprintln!(
        "  KEV catalogue: {kev_probe} ({kev_devices} devices) listed after {:.0} ms",
        visible.as_secs_f64() * 1e3
    );
    out.push((
        format!("KEV catalogue ({} entries, the whole register re-prioritized; probe {kev_probe}, {kev_devices} devices)", catalogue["count"]),
        answer,
        visible,
        risks.last_build(),
    ));

    // A day of EPSS scores for every CVE of the dump.
    let mut csv = String::from(
        "#model_version:v2025.03.14,score_date:2026-12-02T00:00:00Z\ncve,epss,percentile\n",
    );
    for (i, (id, _)) in lines.iter().enumerate() {
        if id == &one_probe {
            csv.push_str(&format!("{id},0.54321,0.99\n"));
        } else {
            csv.push_str(&format!("{id},{:.5},0.5\n", (i % 1000) as f64 / 10_000.0));
        }
    }
    let t = Instant::now();
    let answer = post_admin(
        http,
        &format!("{base}/api/v1/exploitation/epss"),
        admin,
        csv.into_bytes(),
        "text/csv",
    )
    .await?;
    let visible = until(t, "the EPSS scores in the register", || {
        let (http, base, op, id) = (
            http.clone(),
            base.to_string(),
            op.to_string(),
            one_probe.clone(),
        );
        async move {
            let r = release_risk(&http, &base, &op, &id).await?;
            Ok(r["priority"]["epss"]
                .as_f64()
                .is_some_and(|e| (e - 0.54321).abs() < 1e-4))
        }
    })
    .await?;
    out.push((
        format!(
            "EPSS, {} rows (every CVE of the dump; the whole register re-prioritized)",
            lines.len()
        ),
        answer,
        visible,
        risks.last_build(),
    ));

    // One new entry of another list.
    let one = json!({"catalogVersion": "1", "dateReleased": "2026-12-02T00:00:00Z", "count": 1,
                     "vulnerabilities": [entry(&one_probe)]});
    let t = Instant::now();
    let answer = post_admin(
        http,
        &format!("{base}/api/v1/exploitation/kev?list=bench-one"),
        admin,
        serde_json::to_vec(&one)?,
        "application/json",
    )
    .await?;
    let visible = until(t, "one new KEV entry in the register", || {
        let (http, base, op, id) = (
            http.clone(),
            base.to_string(),
            op.to_string(),
            one_probe.clone(),
        );
        async move { Ok(release_risk(&http, &base, &op, &id).await?["kev"] == true) }
    })
    .await?;
    out.push((
        format!("one new KEV entry ({one_probe}, {one_devices} devices)"),
        answer,
        visible,
        risks.last_build(),
    ));
    Ok(out)
}

async fn token(http: &reqwest::Client, base: &str, id: &str, secret: &str) -> Result<String> {
    let v: Value = http
        .post(format!("{base}/oauth/token"))
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await?
        .json()
        .await?;
    Ok(v["access_token"].as_str().context("no token")?.to_string())
}

/// Counts webhook deliveries by the vulnerability their body names.
#[derive(Default)]
struct Received {
    by_vuln: parking_lot::Mutex<BTreeMap<String, (Instant, u64)>>,
    total: AtomicU64,
}

async fn receiver(received: Arc<Received>) -> Result<std::net::SocketAddr> {
    use axum::routing::post;
    let app = axum::Router::new().route(
        "/hook",
        post(move |body: axum::body::Bytes| {
            let received = received.clone();
            async move {
                received.total.fetch_add(1, Ordering::Relaxed);
                if let Ok(v) = serde_json::from_slice::<Value>(&body) {
                    let vuln = v["data"]["vulnerability"]
                        .as_str()
                        .or_else(|| v["vulnerability"].as_str())
                        .unwrap_or("")
                        .to_string();
                    let mut m = received.by_vuln.lock();
                    let e = m.entry(vuln).or_insert((Instant::now(), 0));
                    e.1 += 1;
                }
                axum::http::StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(addr)
}

/// How long until the notification pump has compared the node's current
/// register (built on a blocking thread, as the server does).
async fn pump_compared(
    node: &node::Node,
    pump: &Arc<node::notify_pump::PumpStatus>,
    what: &str,
) -> Result<Duration> {
    let t = Instant::now();
    until(t, what, || {
        let (risks, pump) = (node.risks.clone(), pump.clone());
        async move {
            let r = tokio::task::spawn_blocking(move || {
                risks.register(twin_store::risks::today(&clock::SystemClock))
            })
            .await??;
            Ok(pump.has_compared(&r))
        }
    })
    .await
}

/// One held-back advisory's figures.
struct Posted {
    id: String,
    devices: u64,
    answer: Duration,
    register: Duration,
    read: Duration,
    outbox: Duration,
    webhook: Option<Duration>,
}

/// Runs the benchmark and prints its table.
pub async fn run(
    data: &Path,
    devices: u64,
    releases: u32,
    components: u32,
    posts: usize,
    dir: Option<PathBuf>,
) -> Result<()> {
    // 1. The fleet, generated from the advisories.
    eprintln!("reading {}", data.display());
    let data_owned = data.to_path_buf();
    let (index, generated, lines) = tokio::task::spawn_blocking(move || {
        let (index, _, _, _) = crate::bench_vuln::import_once(&data_owned)?;
        let mut rng = Rng(0x5EC7_u64);
        let mut generated = generate_releases(&index, releases, components, &mut rng)?;
        // An SBOM statement names no supplier: neither does the engine's copy.
        for r in &mut generated {
            for c in &mut r.components {
                c.supplier = None;
            }
        }
        let lines = dump_lines(&data_owned)?;
        Ok::<_, anyhow::Error>((index, generated, lines))
    })
    .await??;
    let mut rng = Rng(0xDE71_u64);
    let device_release: Vec<usize> = (0..devices)
        .map(|d| release_of_device(&mut rng, d, generated.len()))
        .collect();

    // The engine's view of the same fleet: which advisories expose how many
    // devices (to choose the ones held back, and to check the node's counts).
    let mut builder = FleetBuilder::new();
    let mut release_ids = Vec::new();
    for r in &generated {
        let id = ReleaseId::new(&format!(
            "{}@{}",
            model_subject(r.line),
            version(r.position)
        ))?;
        builder.add_release_components(id.clone(), &model_subject(r.line), &r.components)?;
        release_ids.push(id);
    }
    for (d, &r) in device_release.iter().enumerate() {
        builder.add_device(&format!("d{d:07}"), &release_ids[r])?;
    }
    let fleet = builder.build();
    let mut sized: Vec<(u64, String)> = Vec::new();
    let mut releases_of: BTreeMap<String, u64> = BTreeMap::new();
    for a in index.advisories() {
        if let Some(impact) = fleet.impact(&index, a.id()) {
            if impact.device_count() > 0 {
                sized.push((impact.device_count(), a.id().as_str().to_string()));
                releases_of.insert(a.id().as_str().to_string(), impact.releases().len() as u64);
            }
        }
    }
    sized.sort();
    if sized.len() < posts.max(1) {
        bail!("only {} advisories expose a device", sized.len());
    }
    // At evenly spaced sizes, the largest included.
    let k = posts.max(1);
    let mut held: Vec<(u64, String)> = (0..k)
        .filter_map(|i| sized.get(i * (sized.len() - 1) / (k - 1).max(1)).cloned())
        .collect();
    held.dedup();
    let held_ids: HashSet<&str> = held.iter().map(|(_, id)| id.as_str()).collect();
    // A vulnerability of the full import to watch for in the register.
    let probe = sized
        .iter()
        .rev()
        .find(|(_, id)| !held_ids.contains(id.as_str()))
        .map(|(n, id)| (id.clone(), *n))
        .context("no exposure outside the held-back advisories")?;
    let rest: Vec<&str> = lines
        .iter()
        .filter(|(id, _)| !held_ids.contains(id.as_str()))
        .map(|(_, l)| l.as_str())
        .collect();
    let bulk = gzip(&rest)?;
    let exposed_pairs: usize = sized.len();
    drop(index);

    // 2. The node and its log.
    let s = Scratch::new(&dir, "register")?;
    let data_dir = s.0.join("node");
    let config = LogConfig {
        checkpoint_interval: Duration::from_millis(200),
        pending_entries_max: 1 << 20,
        ..LogConfig::default()
    };
    let (mut node, _) = node::open_node(
        &data_dir,
        None,
        config,
        None,
        transparency::RegistrationPolicy::default(),
    )
    .await?;
    let g = || SigningKey::generate(Algorithm::EdDSA, &mut rand_core::OsRng);
    let keys = Arc::new(Keys {
        maker: g(),
        op: g(),
    });
    let owner_key = g();
    let reg = |id: &str, roles: &[&str], k: &SigningKey| {
        node.authority_statement(
            &format!("stakeholder:{id}"),
            &json!({"type":"stakeholder-registered","name":id,"roles":roles,"keys":[{"pem":k.public_key().to_pem()}]}),
        )
    };
    append_all(
        &node.log,
        vec![
            reg(MAKER, &["manufacturer"], &keys.maker),
            reg(OP, &["operator"], &keys.op),
            reg(OWNER, &["owner"], &owner_key),
        ],
    )
    .await?;
    let started = Instant::now();
    let generated = Arc::new(generated);
    let mut statements = 0u64;
    {
        let (k, g) = (keys.clone(), generated.clone());
        let signed = tokio::task::spawn_blocking(move || {
            g.iter()
                .flat_map(|r| release_statements(&k, r))
                .collect::<Vec<_>>()
        })
        .await?;
        statements += signed.len() as u64;
        for chunk in signed.chunks(BATCH) {
            append_all(&node.log, chunk.to_vec()).await?;
        }
    }
    let device_release = Arc::new(device_release);
    let mut d = 0u64;
    let mut last = 0;
    while d < devices {
        let end = (d + BATCH as u64 / 3).min(devices);
        let (k, g, dr) = (keys.clone(), generated.clone(), device_release.clone());
        let signed = tokio::task::spawn_blocking(move || {
            let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
            let ids: Vec<u64> = (d..end).collect();
            let per = ids.len().div_ceil(threads).max(1);
            std::thread::scope(|scope| {
                let handles: Vec<_> = ids
                    .chunks(per)
                    .map(|part| {
                        let (k, g, dr) = (&k, &g, &dr);
                        scope.spawn(move || {
                            part.iter()
                                .flat_map(|&x| device_statements(k, x, &g[dr[x as usize]]))
                                .collect::<Vec<_>>()
                        })
                    })
                    .collect();
                handles
                    .into_iter()
                    .flat_map(|h| h.join().unwrap_or_default())
                    .collect::<Vec<_>>()
            })
        })
        .await?;
        statements += signed.len() as u64;
        last = append_all(&node.log, signed).await?;
        d = end;
        if d % 100_000 < BATCH as u64 / 3 {
            eprintln!(
                "  {d} devices appended, {:.0} s",
                started.elapsed().as_secs_f64()
            );
        }
    }
    if !node
        .projector
        .wait_projected(last + 1, Duration::from_secs(FIGURE_WAIT_S_MAX))
        .await
    {
        bail!("the twins did not catch up with the log");
    }
    let build_s = started.elapsed().as_secs_f64();
    let meta = node.projector.meta();
    if meta.refused != 0 {
        bail!(
            "{} statements refused: the generator is wrong",
            meta.refused
        );
    }
    eprintln!("{statements} statements signed, appended and projected in {build_s:.0} s");

    // 3. Serve, notify.
    node::start_notifications(
        &mut node,
        &data_dir,
        node::NotifyConfig {
            mqtt: None,
            interval: Duration::from_secs(60),
            webhooks_to_private_addresses: true,
            shared_outbox: None,
        },
    )
    .await?;
    let addr = node::serve(
        node::app(&node),
        "127.0.0.1:0".parse()?,
        std::future::pending(),
    )
    .await?;
    let base = format!("http://{addr}");
    let http = reqwest::Client::new();
    let (aid, asecret) = node.create_credential(&node.authority.0, "bench")?;
    let admin = token(&http, &base, &aid, &asecret).await?;
    let (oid, osecret) = node.create_credential(OP, "bench")?;
    let op = token(&http, &base, &oid, &osecret).await?;

    // The node's first register (every twin read, the fleet evaluated
    // against no advisory), as a node has it once started: the import is
    // timed from there, not overlapping the node's start.
    let pump = node.pump.clone().context("notifications not started")?;
    let first_register = pump_compared(&node, &pump, "the node's first register").await?;
    eprintln!(
        "first register built in {:.1} s",
        first_register.as_secs_f64()
    );

    // 4. The full import, through the server.
    eprintln!(
        "posting {} records ({} MB gzip) to /api/v1/advisories/bulk",
        rest.len(),
        bulk.len() / 1_000_000
    );
    let t = Instant::now();
    let r = http
        .post(format!("{base}/api/v1/advisories/bulk"))
        .bearer_auth(&admin)
        .header("content-type", "application/gzip")
        .body(bulk)
        .send()
        .await?;
    let status = r.status();
    let answer: Value = r.json().await?;
    if !status.is_success() {
        bail!("bulk import answered {status}: {answer}");
    }
    let bulk_answer = t.elapsed();
    let (probe_id, probe_devices) = (&probe.0, probe.1);
    let probe_releases = releases_of.get(probe_id.as_str()).copied().unwrap_or(0);
    let full = until(t, "full import in the register", || {
        let (http, base, op, id) = (http.clone(), base.clone(), op.clone(), probe_id.clone());
        async move { Ok(risk_count(&http, &base, &op, &id, "release").await? == probe_releases) }
    })
    .await?;
    let seen = risk_count(&http, &base, &op, probe_id, "device").await?;
    if seen != probe_devices {
        bail!("{probe_id}: {seen} device risks listed, the engine says {probe_devices}");
    }
    let register = node
        .risks
        .register(twin_store::risks::today(&clock::SystemClock))?;
    let risks_total = register.risks.len();
    let device_risks_total: u64 = register
        .risks
        .iter()
        .filter(|r| r.kind == risk_register::RiskKind::ReleaseVulnerability)
        .map(|r| {
            register.devices.count_on(&format!(
                "{}@{}",
                r.model.as_deref().unwrap_or(""),
                r.release.as_deref().unwrap_or("")
            )) as u64
        })
        .sum();
    let summary = register.summary.clone();
    drop(register);

    // 5. What every change cost before: a full snapshot and build.
    let risks = node.risks.clone();
    let (snapshot_s, build_full_s) = tokio::task::spawn_blocking(move || {
        let t = Instant::now();
        let snapshot = risks.snapshot(twin_store::risks::today(&clock::SystemClock))?;
        let snapshot_s = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let built = risks.with_advisories(|index| risk_register::build(&snapshot, index));
        let build_s = t.elapsed().as_secs_f64();
        built.map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok::<_, anyhow::Error>((snapshot_s, build_s))
    })
    .await??;

    // 6. One advisory at a time, once the pump has worked out the full
    //    import's notifications (nobody was subscribed to them).
    let pump_full =
        pump_compared(&node, &pump, "the pump to compare the full import").await? + full;
    let received = Arc::new(Received::default());
    let hook = receiver(received.clone()).await?;
    let notifier = node.notifier.clone().context("notifications not started")?;
    notifier.subscribe(notify::Subscription {
        id: "bench".into(),
        stakeholder: OP.into(),
        target: notify::Target::Webhook {
            url: format!("http://{hook}/hook"),
            secret: notify::WebhookSecret::generate(),
        },
        kinds: vec![notify::NotificationKind::NewVulnerableDevice],
    })?;
    let by_id: BTreeMap<&str, &str> = lines
        .iter()
        .map(|(id, l)| (id.as_str(), l.as_str()))
        .collect();
    let mut posted = Vec::new();
    for (expected, id) in &held {
        let line = by_id.get(id.as_str()).context("held-back record")?;
        // Device by device, or once per release past DEVICE_EVENTS_MAX.
        let want = if *expected as usize > risk_register::DEVICE_EVENTS_MAX {
            releases_of.get(id.as_str()).copied().unwrap_or(1)
        } else {
            *expected
        };
        let t = Instant::now();
        // Watched from the post on, beside the register and the read.
        let outbox = {
            let (notifier, id) = (notifier.clone(), id.clone());
            tokio::spawn(async move {
                until(t, "notifications in the outbox", || {
                    let n = notifier
                        .deliveries(notify::DeliveryFilter {
                            stakeholder: Some(OP.into()),
                            ..Default::default()
                        })
                        .iter()
                        .filter(|r| {
                            r.notification.ends_with(&format!(" vuln/{id}"))
                                || r.notification.contains(&format!(" vuln/{id}@"))
                        })
                        .count() as u64;
                    async move { Ok(n >= want) }
                })
                .await
            })
        };
        let r = http
            .post(format!("{base}/api/v1/advisories"))
            .bearer_auth(&admin)
            .header("content-type", "application/json")
            .body(line.to_string())
            .send()
            .await?;
        let status = r.status();
        let body: Value = r.json().await?;
        if !status.is_success() {
            bail!("posting {id} answered {status}: {body}");
        }
        let answer = t.elapsed();
        // The register is updated once the release risks are there (device
        // risks are derived from them when read).
        let releases = releases_of.get(id.as_str()).copied().unwrap_or(0);
        let register = until(t, "register", || {
            let (http, base, op, id) = (http.clone(), base.clone(), op.clone(), id.clone());
            async move { Ok(risk_count(&http, &base, &op, &id, "release").await? == releases) }
        })
        .await?;
        // Reading every device risk of it (each derived, each device's
        // sharing policy decided): the count must be the engine's.
        let t_read = Instant::now();
        let seen = risk_count(&http, &base, &op, id, "device").await?;
        let read = t_read.elapsed();
        if seen != *expected {
            bail!("{id}: {seen} device risks listed, the engine says {expected}");
        }
        eprintln!(
            "  {id}: {expected} devices, answer {:.0} ms, register {:.0} ms",
            answer.as_secs_f64() * 1e3,
            register.as_secs_f64() * 1e3,
        );
        let outbox = outbox.await??;
        let webhook = received
            .by_vuln
            .lock()
            .get(id.as_str())
            .map(|(at, _)| at.duration_since(t));
        let webhook = match webhook {
            Some(w) => Some(w),
            None => until(t, "first webhook", || {
                let seen = received.by_vuln.lock().contains_key(id.as_str());
                async move { Ok(seen) }
            })
            .await
            .ok(),
        };
        eprintln!("  {id}: outbox {:.0} ms", outbox.as_secs_f64() * 1e3);
        posted.push(Posted {
            id: id.clone(),
            devices: *expected,
            answer,
            register,
            read,
            outbox,
            webhook,
        });
    }
    // 7. Exploitation (issue 19): CISA's catalogue (with the probe's
    //    vulnerability listed), a day of EPSS scores for every CVE of the
    //    dump, and one new entry of another list; each timed from the post
    //    until GET /api/v1/risks shows the exposed release risk re-prioritized.
    let exploited = exploitation_phase(
        &http,
        &base,
        &admin,
        &op,
        &sized,
        &held_ids,
        &lines,
        &node.risks,
    )
    .await?;
    let (backlog, dropped) = (pump.backlog(), pump.dropped());
    node.shutdown().await;
    drop(node);

    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "register through a running node: {devices} devices on {} releases × {components} components; {statements} statements built in {build_s:.0} s",
        generated.len()
    );
    println!(
        "advisories: {} records in the dump; {exposed_pairs} expose at least one device; register after the full import: {risks_total} release and recorded risks standing for {device_risks_total} device risks; {} devices exposed, {} overdue",
        lines.len(),
        summary.devices_exposed,
        summary.overdue
    );
    println!("| figure | value |");
    println!("|---|---:|");
    println!(
        "| the node's first register (every twin read, no advisory yet) | {:.1} s |",
        first_register.as_secs_f64()
    );
    println!(
        "| full import: POST /api/v1/advisories/bulk answered ({} new, {} recorded in the log) | {:.1} s |",
        answer["new"], answer["recorded"],
        bulk_answer.as_secs_f64()
    );
    println!(
        "| full import: from the post until GET /api/v1/risks shows it | {:.1} s |",
        full.as_secs_f64()
    );
    println!(
        "| full import: from the post until the pump has worked out its notifications | {:.1} s |",
        pump_full.as_secs_f64()
    );
    println!(
        "| before (every change): full snapshot of the twins + full build | {snapshot_s:.1} s + {build_full_s:.1} s = {:.1} s |",
        snapshot_s + build_full_s
    );
    for p in &posted {
        println!(
            "| one advisory, {} ({} devices): answer / register / outbox / first webhook; reading its device risks | {:.0} / {:.0} / {:.0} / {} ms; {:.0} ms |",
            p.id,
            p.devices,
            ms(p.answer),
            ms(p.register),
            ms(p.outbox),
            p.webhook.map_or("-".to_string(), |w| format!("{:.0}", ms(w))),
            ms(p.read)
        );
    }
    for (what, answer, visible, step) in &exploited {
        println!(
            "| {what}: answer (import + log) / re-prioritized in GET /api/v1/risks / the register step alone | {:.0} / {:.0} / {:.0} ms |",
            ms(*answer),
            ms(*visible),
            ms(*step)
        );
    }
    println!("| notifications waiting for room in the outbox / dropped, at the end | {backlog} / {dropped} |");
    let med = |f: fn(&Posted) -> Duration| median(posted.iter().map(|p| ms(f(p))).collect());
    println!(
        "| one advisory, median of {}: register / notifications in the outbox | {:.0} / {:.0} ms |",
        posted.len(),
        med(|p| p.register),
        med(|p| p.outbox)
    );
    println!(
        "| ratio, before (full snapshot + build) / after (one advisory, register) | {:.0} |",
        (snapshot_s + build_full_s) * 1e3 / med(|p| p.register)
    );
    Ok(())
}

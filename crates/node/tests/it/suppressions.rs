//! Posture findings as risks, and their suppressions, end to end on the
//! production router with an injected clock: devices sign reports with
//! planted weaknesses; the device's operator suppresses a finding (on the
//! device, then on its group) through `POST /api/v1/devices/{id}/suppressions`,
//! which the node signs on its behalf; the finding is hidden until the
//! suppression expires or is lifted, in the posture views and in the risk
//! register, where each open finding is a risk `posture/<RULE>` with the
//! policy's deadline, gone once the next report fixes it; refusals are 400s
//! that say what is wrong; and a reindex of the log gives the same
//! suppressions, findings and risks.

use std::collections::BTreeSet;
use std::sync::Arc;

use clock::Clock;
use device_channel::simulate::{fleet, FirmwareImage, Plant, SimDevice};
use node::testing::TestNode;
use scitt::{SigningKey, StatementBuilder};
use serde_json::{json, Value};

const MAKER: &str = "maker.test";
const OP: &str = "op.test";
const OTHER: &str = "other.test";
/// 2026-12-05 12:00:00 UTC: noon, so that a day's end is half a day away.
const NOON_MS: u64 = 1_796_472_000_000;
const DAY_S: i64 = 86_400;
const LOGGING: &str = "LOGGING_DISABLED_CHECK";
const PASSWORD: &str = "POSTURE-UNIVERSAL-DEFAULT-PASSWORD";

fn firmware() -> FirmwareImage {
    FirmwareImage {
        version: "2.4.0".into(),
        image_sha256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".into(),
    }
}

struct Fleet {
    t: TestNode,
    clock: Arc<clock::FixedClock>,
    devices: Vec<SimDevice>,
    op: SigningKey,
    token: String,
}

impl Fleet {
    fn now(&self) -> i64 {
        self.clock.now_unix_s()
    }

    /// `payload` about `subject` signed by `issuer` at the node's time.
    async fn sign(&self, issuer: &str, key: &SigningKey, subject: &str, payload: Value) -> u64 {
        let statement = StatementBuilder::new(issuer, subject, payload.to_string().as_bytes())
            .content_type("application/json")
            .issued_at(self.now())
            .sign(key);
        self.t.register_signed(statement).await
    }

    /// Device `i` reports now (with its plants).
    async fn report(&mut self, i: usize) -> u64 {
        let now = self.now();
        let d = &mut self.devices[i];
        let report = d.next_report(&firmware(), now);
        let statement = d.sign(&report);
        self.t.register_signed(statement).await
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        get(&self.t, path, &self.token).await
    }

    async fn suppress(&self, device: usize, body: Value) -> (u16, Value) {
        post(
            &self.t,
            &format!("/api/v1/devices/{}/suppressions", self.devices[device].id),
            Some(&self.token),
            &body,
        )
        .await
    }

    fn id(&self, i: usize) -> String {
        self.devices[i].id.clone()
    }

    /// The open findings over the fleet as (device index, rule).
    async fn open_findings(&self) -> BTreeSet<(usize, String)> {
        let (status, page) = self.get("/api/v1/findings").await;
        assert_eq!(status, 200, "{page}");
        pairs(self, &page["findings"], "device", "rule")
    }

    /// The open posture risks of the register as (device index, risk id).
    async fn posture_risks(&self) -> BTreeSet<(usize, String)> {
        let (status, page) = self.get("/api/v1/risks?kind=posture&status=open").await;
        assert_eq!(status, 200, "{page}");
        pairs(self, &page["risks"], "device", "risk")
    }
}

fn pairs(f: &Fleet, list: &Value, device: &str, what: &str) -> BTreeSet<(usize, String)> {
    list.as_array()
        .expect("a list")
        .iter()
        .map(|x| {
            let d = x[device].as_str().unwrap_or_default();
            let i = f
                .devices
                .iter()
                .position(|s| s.id == d)
                .unwrap_or(usize::MAX);
            (i, x[what].as_str().unwrap_or_default().to_string())
        })
        .collect()
}

fn set(items: &[(usize, &str)]) -> BTreeSet<(usize, String)> {
    items.iter().map(|(i, r)| (*i, r.to_string())).collect()
}

async fn get(t: &TestNode, path: &str, token: &str) -> (u16, Value) {
    let r = reqwest::Client::new()
        .get(format!("{}{path}", t.base))
        .bearer_auth(token)
        .send()
        .await
        .expect("GET");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn post(t: &TestNode, path: &str, token: Option<&str>, body: &Value) -> (u16, Value) {
    let mut r = reqwest::Client::new()
        .post(format!("{}{path}", t.base))
        .json(body);
    if let Some(token) = token {
        r = r.bearer_auth(token);
    }
    let r = r.send().await.expect("POST");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// Three devices of `op.test` (0 and 1 in group `lobby`), each with
/// security logging off, device 0 also with the universal default
/// password; every one has reported once.
async fn fleet_of_three(name: &str) -> Fleet {
    let clock = Arc::new(clock::FixedClock::at(NOON_MS));
    let t = TestNode::start_with_clock(&format!("{name}.test/log"), clock.clone()).await;
    let token = t.token(OP).await;
    let mut devices = fleet(16, &format!("{name}-"), 3);
    devices[0].plants = vec![Plant::LoggingDisabled, Plant::DefaultCredentials];
    devices[1].plants = vec![Plant::LoggingDisabled];
    devices[2].plants = vec![Plant::LoggingDisabled];
    let key = || SigningKey::generate(scitt::Algorithm::EdDSA, &mut rand_core::OsRng);
    let (maker, op) = (key(), key());
    let mut f = Fleet {
        t,
        clock,
        devices,
        op,
        token,
    };
    // Registered at the node's time (the test kit's helper signs at the
    // system clock's).
    let authority = f.t.authority_key();
    let authority_id = f.t.authority_id().to_string();
    let op_pem = f.op.public_key().to_pem();
    for (id, roles, pem) in [
        (MAKER, json!(["manufacturer"]), maker.public_key().to_pem()),
        (OP, json!(["operator", "owner"]), op_pem),
        (OTHER, json!(["operator"]), key().public_key().to_pem()),
    ] {
        f.sign(
            &authority_id,
            &authority,
            &format!("stakeholder:{id}"),
            json!({"type": "stakeholder-registered", "name": id, "roles": roles,
                   "keys": [{"pem": pem}]}),
        )
        .await;
    }
    for i in 0..3 {
        let subject = format!("device:{}", f.id(i));
        let key = f.devices[i].key.public_key().to_pem();
        f.sign(
            MAKER,
            &maker,
            &subject,
            json!({"type": "device-registered", "manufacturer": "Maker", "model": "cam",
                   "serial": f.id(i), "device_key": key}),
        )
        .await;
        let groups = if i < 2 { json!(["lobby"]) } else { json!([]) };
        f.sign(
            MAKER,
            &maker,
            &subject,
            json!({"type": "ownership-transferred", "owner": OP, "operator": OP,
                   "site": "hq", "groups": groups}),
        )
        .await;
        f.report(i).await;
    }
    f
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_suppression_hides_a_finding_until_it_expires_or_is_lifted() {
    let mut f = fleet_of_three("supp").await;
    let everything = set(&[(0, LOGGING), (0, PASSWORD), (1, LOGGING), (2, LOGGING)]);
    assert_eq!(f.open_findings().await, everything);
    let risk = |r: &str| format!("posture/{r}");
    assert_eq!(
        f.posture_risks().await,
        everything
            .iter()
            .map(|(i, r)| (*i, risk(r)))
            .collect::<BTreeSet<_>>()
    );

    // The operator accepts device 0's logging for two days: the node signs
    // it on the operator's behalf.
    let t0 = f.now();
    let (status, s) = f
        .suppress(
            0,
            json!({"rule": LOGGING, "reason": "logs go to the NVR", "expires_at": t0 + 2 * DAY_S}),
        )
        .await;
    assert_eq!(status, 201, "{s}");
    assert_eq!(
        (
            s["by"].as_str(),
            s["signed_by"].as_str(),
            s["scope"].as_str()
        ),
        (Some(OP), Some(f.t.authority_id()), Some("device")),
        "{s}"
    );
    assert_eq!(s["in_force"], true, "{s}");
    let device_entry = s["entry"].as_u64().expect("entry");
    // And the lobby's for one day, asserted on device 1.
    let (status, g) = f
        .suppress(
            1,
            json!({"rule": LOGGING, "reason": "lobby cameras log to the VMS", "expires_at": t0 + DAY_S, "group": "lobby"}),
        )
        .await;
    assert_eq!(status, 201, "{g}");
    assert_eq!(
        (g["scope"].as_str(), g["group"].as_str()),
        (Some("group"), Some("lobby"))
    );

    let hidden = set(&[(0, PASSWORD), (2, LOGGING)]);
    assert_eq!(f.open_findings().await, hidden);
    assert_eq!(
        f.posture_risks().await,
        set(&[
            (0, "posture/POSTURE-UNIVERSAL-DEFAULT-PASSWORD"),
            (2, "posture/LOGGING_DISABLED_CHECK")
        ]),
        "a suppressed finding is not an open risk"
    );
    // A suppressed finding shows who suppressed it, why, until when and
    // the entry (the device's own before the group's: it lasts longer).
    let (status, p) = f.get(&format!("/api/v1/devices/{}/posture", f.id(0))).await;
    assert_eq!(status, 200, "{p}");
    let logging = p["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|x| x["rule"] == LOGGING)
        .cloned()
        .expect("still reported, suppressed");
    assert_eq!(
        (
            logging["suppressed"]["by"].as_str(),
            logging["suppressed"]["reason"].as_str(),
            logging["suppressed"]["expires_at"].as_i64(),
            logging["suppressed"]["entry"].as_u64(),
        ),
        (
            Some(OP),
            Some("logs go to the NVR"),
            Some(t0 + 2 * DAY_S),
            Some(device_entry)
        ),
        "{logging}"
    );
    let (_, all) = f.get("/api/v1/findings?suppressed=true").await;
    assert_eq!(pairs(&f, &all["findings"], "device", "rule"), everything);
    let (status, list) = f.get("/api/v1/suppressions").await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(
        pairs(&f, &list["suppressions"], "device", "rule"),
        set(&[(0, LOGGING), (1, LOGGING)])
    );

    // A day and an hour later the group's has expired: device 1's finding
    // is open again (in the views and, the next day, in the register);
    // device 0's own still holds.
    f.clock.advance_ms((DAY_S as u64 + 3_600) * 1_000);
    f.token = f.t.token(OP).await;
    let later = set(&[(0, PASSWORD), (1, LOGGING), (2, LOGGING)]);
    assert_eq!(f.open_findings().await, later);
    assert_eq!(
        f.posture_risks().await,
        later
            .iter()
            .map(|(i, r)| (*i, risk(r)))
            .collect::<BTreeSet<_>>()
    );
    let (_, list) = f.get("/api/v1/suppressions").await;
    assert_eq!(
        pairs(&f, &list["suppressions"], "device", "rule"),
        set(&[(0, LOGGING)])
    );

    // Lifted early: open again at once, in the register too.
    let (status, l) = f
        .suppress(
            0,
            json!({"rule": LOGGING, "reason": "the NVR is gone", "lift": true}),
        )
        .await;
    assert_eq!(status, 201, "{l}");
    assert_eq!(l["in_force"], false, "{l}");
    assert_eq!(f.open_findings().await, everything);
    assert_eq!(
        f.posture_risks().await,
        everything
            .iter()
            .map(|(i, r)| (*i, risk(r)))
            .collect::<BTreeSet<_>>()
    );
    let (_, list) = f.get("/api/v1/suppressions").await;
    assert_eq!(list["suppressions"], json!([]), "{list}");
    let (_, list) = f.get("/api/v1/suppressions?all=true").await;
    assert_eq!(
        list["suppressions"].as_array().map(Vec::len),
        Some(2),
        "{list}"
    );

    // Refusals say what is wrong.
    let now = f.now();
    for (device, body, status, says) in [
        (
            0,
            json!({"rule": "NO-SUCH-RULE", "reason": "x", "expires_at": now + 60}),
            400,
            "no posture rule",
        ),
        (
            0,
            json!({"rule": LOGGING, "reason": "x", "expires_at": now - 1}),
            400,
            "not in the future",
        ),
        (
            0,
            json!({"rule": LOGGING, "reason": "x", "expires_at": now}),
            400,
            "not in the future",
        ),
        (
            0,
            json!({"rule": LOGGING, "reason": "  ", "expires_at": now + 60}),
            400,
            "reason",
        ),
        (
            0,
            json!({"rule": LOGGING, "reason": "x"}),
            400,
            "expires_at",
        ),
        (
            0,
            json!({"rule": LOGGING, "reason": "x", "expires_at": now + 60, "lift": true}),
            400,
            "lift",
        ),
        (
            0,
            json!({"rule": LOGGING, "reason": "x", "expires_at": now + 11 * 365 * DAY_S}),
            400,
            "ten years",
        ),
        (
            2,
            json!({"rule": LOGGING, "reason": "x", "expires_at": now + 60, "group": "lobby"}),
            400,
            "not in group",
        ),
        (
            0,
            json!({"rule": LOGGING, "reason": "x", "expires_at": now + 60, "until": now}),
            400,
            "until",
        ),
        (
            0,
            json!({"rule": LOGGING, "reason": "x", "lift": true}),
            404,
            "no suppression",
        ),
    ] {
        let (got, e) = f.suppress(device, body.clone()).await;
        assert_eq!(got, status, "{body}: {e}");
        let detail = e["detail"].as_str().unwrap_or_default();
        assert!(
            detail.contains(says),
            "{body}: {detail:?} should say {says:?}"
        );
    }
    let path = format!("/api/v1/devices/{}/suppressions", f.id(0));
    let body = json!({"rule": LOGGING, "reason": "x", "expires_at": now + 60});
    assert_eq!(post(&f.t, &path, None, &body).await.0, 401);
    // The manufacturer sees the device but is neither operator nor owner;
    // another operator does not see it at all.
    let maker = f.t.token(MAKER).await;
    let (status, e) = post(&f.t, &path, Some(&maker), &body).await;
    assert_eq!(status, 403, "{e}");
    let other = f.t.token(OTHER).await;
    assert_eq!(post(&f.t, &path, Some(&other), &body).await.0, 404);
    let (status, e) = f.get("/api/v1/suppressions?rule=NOPE").await;
    assert_eq!(status, 400, "{e}");
    // Nothing refused reached the log.
    let (_, list) = f.get("/api/v1/suppressions?all=true").await;
    assert_eq!(
        list["suppressions"].as_array().map(Vec::len),
        Some(2),
        "{list}"
    );
    f.t.node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finding_is_a_register_risk_until_a_report_fixes_it_and_reindex_reproduces_it() {
    let mut f = fleet_of_three("fix").await;
    let (status, page) = f.get("/api/v1/risks?kind=posture").await;
    assert_eq!(status, 200, "{page}");
    let of = |page: &Value, device: &str, rule: &str| -> Value {
        page["risks"]
            .as_array()
            .expect("risks")
            .iter()
            .find(|r| r["device"] == device && r["risk"] == format!("posture/{rule}"))
            .cloned()
            .unwrap_or(Value::Null)
    };
    // Severity from the rule, the deadline from the policy: high is fixed
    // immediately, low by the next major release (365 days without a
    // release plan); owned by the operator, like the device's other risks.
    let password = of(&page, &f.id(0), PASSWORD);
    assert_eq!(
        (
            password["kind"].as_str(),
            password["severity"].as_str(),
            password["deadline"]["basis"].as_str(),
            password["deadline"]["date"].as_str(),
            password["owner"].as_str(),
            password["subject"].as_str(),
            password["source"].as_str(),
        ),
        (
            Some("posture_finding"),
            Some("critical"),
            Some("immediate"),
            Some("2026-12-05"),
            Some(OP),
            Some(format!("device:{}", f.id(0))).as_deref(),
            Some("posture-audit"),
        ),
        "{password}"
    );
    let logging = of(&page, &f.id(2), LOGGING);
    assert_eq!(
        (
            logging["severity"].as_str(),
            logging["deadline"]["date"].as_str(),
            logging["status"].as_str()
        ),
        (Some("low"), Some("2027-12-05"), Some("open")),
        "{logging}"
    );

    // A decision on it works as on any risk.
    let subject = format!("device:{}", f.id(2));
    f.sign(
        OP,
        &f.op,
        &subject,
        json!({"type": "risk-accepted", "risk": "posture/LOGGING_DISABLED_CHECK",
               "rationale": "a test bench camera"}),
    )
    .await;
    let (_, page) = f.get("/api/v1/risks?kind=posture").await;
    assert_eq!(of(&page, &f.id(2), LOGGING)["status"], "accepted", "{page}");
    // Another stakeholder sees none of them.
    let other = f.t.token(OTHER).await;
    let (_, page) = get(&f.t, "/api/v1/risks?kind=posture", &other).await;
    assert_eq!(page["risks"], json!([]), "{page}");

    // Device 0's next report has the default password changed: that risk
    // is gone, its logging one stays.
    f.devices[0].plants = vec![Plant::LoggingDisabled];
    f.report(0).await;
    let (_, page) = f.get("/api/v1/risks?kind=posture").await;
    assert_eq!(of(&page, &f.id(0), PASSWORD), Value::Null, "{page}");
    assert_ne!(of(&page, &f.id(0), LOGGING), Value::Null, "{page}");
    // A new finding is told like other new risks: a subscriber gets a
    // `new-posture-finding` notification (here to a webhook nobody
    // listens on: the delivery is what counts).
    let (status, sub) = post(
        &f.t,
        "/api/v1/subscriptions",
        Some(&f.token),
        &json!({"id": "posture", "webhook": {"url": "http://127.0.0.1:9/hook"},
                "kinds": ["new-posture-finding"]}),
    )
    .await;
    assert_eq!(status, 201, "{sub}");
    // Let the pump take the current register as its baseline first.
    tokio::time::sleep(std::time::Duration::from_millis(1_000)).await;
    f.devices[1].plants.push(Plant::Telnet);
    f.report(1).await;
    let told = format!(
        "new-posture-finding:device:{} posture/POSTURE-INSECURE-SERVICE",
        f.id(1)
    );
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    let notified = loop {
        let (_, d) = f.get("/api/v1/deliveries").await;
        let ids: Vec<String> = d["deliveries"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|x| x["notification"].as_str().unwrap_or_default().to_string())
            .collect();
        if ids.contains(&told) || tokio::time::Instant::now() > deadline {
            break ids;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(notified, vec![told], "only the new finding is told");

    // The node's register, built step by step, is the one a new service
    // builds from the twins.
    let today = twin_store::risks::today(&*f.clock);
    let built = f.t.node.risks.register(today).expect("register");
    let fresh =
        twin_store::RiskService::new(f.t.projector().clone(), risk::DeadlinePolicy::default())
            .register(today)
            .expect("fresh register");
    assert_eq!(*built, *fresh);

    // Suppressions and findings are a function of the log: a reindex into
    // an empty store gives the same.
    f.suppress(
        1,
        json!({"rule": LOGGING, "reason": "lobby cameras log to the VMS", "expires_at": f.now() + DAY_S, "group": "lobby"}),
    )
    .await;
    let (_, findings) = f.get("/api/v1/findings?suppressed=true").await;
    let (_, suppressions) = f.get("/api/v1/suppressions?all=true").await;
    let (_, risks) = f.get("/api/v1/risks?kind=posture").await;
    let log = &f.t.node.log;
    let size = log.published().size;
    let dir = tempfile::tempdir().expect("temp dir");
    let store = twin_store::TwinStore::open(&dir.path().join("twins")).expect("store");
    twin_store::reindex(
        &log.prover(),
        size,
        &store,
        None,
        node::fold_rules(),
        twin_store::Signatures::Verify,
        |_| {},
    )
    .expect("reindex");
    assert_eq!(
        twin_store::posture::all_suppressions(&store).expect("reindexed"),
        twin_store::posture::all_suppressions(f.t.projector().store()).expect("live")
    );
    // Read records go beside the log, not in it: a store of their own.
    let payloads = twin_store::PayloadStore::open(&dir.path().join("payloads")).expect("payloads");
    let again = twin_store::Projector::start(
        log.clone(),
        store,
        Some(Arc::new(payloads)),
        node::fold_rules(),
        twin_store::Signatures::Verify,
    )
    .expect("projector");
    let clock: Arc<dyn Clock> = f.clock.clone();
    let reads = service::ReadRecorder::new(again.clone(), clock.clone());
    let views = service::devices::DeviceViews::new(
        again.clone(),
        f.t.scitt().clone(),
        reads.clone(),
        clock,
    )
    .expect("views");
    let who = || Some(twin::StakeholderId(OP.into()));
    let q = api_types::devices::FindingsQuery {
        suppressed: Some(true),
        ..Default::default()
    };
    let replayed =
        serde_json::to_value(views.findings(who(), &q).expect("findings")).expect("json");
    assert_eq!(replayed["findings"], findings["findings"]);
    assert!(
        findings["findings"]
            .as_array()
            .is_some_and(|l| l.iter().any(|x| x["suppressed"]["group"] == "lobby")),
        "{findings}"
    );
    let service = service::suppressions::SuppressionService::new(
        again.clone(),
        f.t.scitt().clone(),
        reads,
        Arc::new(|_: &str, _: &[u8], _: service::archivist::Disclosure| Vec::new()),
    )
    .expect("service");
    let q = api_types::devices::SuppressionsQuery {
        all: Some(true),
        ..Default::default()
    };
    let replayed = serde_json::to_value(service.list(who(), &q).expect("list")).expect("json");
    assert_eq!(replayed["suppressions"], suppressions["suppressions"]);
    let register = twin_store::RiskService::new(again.clone(), risk::DeadlinePolicy::default())
        .register(today)
        .expect("register");
    let keys = |risks: &Value| -> BTreeSet<String> {
        risks["risks"]
            .as_array()
            .expect("risks")
            .iter()
            .map(|r| format!("{} {} {}", r["key"], r["status"], r["deadline"]["date"]))
            .collect()
    };
    let replayed: BTreeSet<String> = register
        .select(&risk_register::Selector {
            kind: Some(risk_register::RiskKind::PostureFinding),
            ..Default::default()
        })
        .map(|r| {
            format!(
                "{} {} {}",
                json!(r.key),
                json!(r.status.as_str()),
                json!(r.deadline.date.map(|d| d.to_string()))
            )
        })
        .collect();
    assert_eq!(replayed, keys(&risks));
    again.stop();
    f.t.node.shutdown().await;
}

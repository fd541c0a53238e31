//! VEX checked against the fleet, on the production app: Acme says its
//! door firmware 2.4.0 is not affected by a vulnerability because telnet
//! does not listen (`device-condition: tcp port 23 not listening`); of two
//! doors Op operates, one reports TCP 23 listening. The finding is on that
//! door only, and Acme is told, by webhook, that one device contradicts its
//! statement, without the door's id while Op's sharing policy keeps its
//! devices' reports from Acme, with it (and a read record Op can list) once
//! Op shares them.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use device_channel::simulate::{fleet, FirmwareImage, Plant};
use node::testing::TestNode;
use serde_json::{json, Value};

const ACME: &str = "acme.test";
const OP: &str = "op.test";
const VULN: &str = "CVE-2024-0001";
const RULE: &str = "VEX_CONTRADICTED_BY_DEVICE";
const IMAGE: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

type Received = Arc<Mutex<Vec<Value>>>;

/// A webhook receiver on loopback: every body it is posted, as JSON.
async fn webhook_receiver() -> (String, Received) {
    let received: Received = Arc::default();
    let r = received.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |body: axum::body::Bytes| {
            let r = r.clone();
            async move {
                let v = serde_json::from_slice(&body).unwrap_or(Value::Null);
                r.lock().expect("lock").push(v);
                axum::http::StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}/hook"), received)
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

/// The `vex-contradicted` notification received that `pick` accepts,
/// waiting up to 20 s for it.
async fn told(received: &Received, pick: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let found = received
            .lock()
            .expect("lock")
            .iter()
            .find(|n| pick(n))
            .cloned();
        if let Some(n) = found {
            return n;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not told within 20 s; received {:#?}",
            received.lock().expect("lock")
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The (device, rule) of the VEX findings of a findings list.
fn vex_findings(findings: &Value) -> Vec<String> {
    findings
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["rule"] == RULE)
        .map(|f| f["device"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_contradicting_a_vex_is_a_finding_and_its_manufacturer_is_told_under_sharing() {
    let run = format!(
        "{:08x}",
        rand_core::RngCore::next_u32(&mut rand_core::OsRng)
    );
    let t = TestNode::start(&format!("vex-{run}.test/log")).await;
    let acme = t.register_stakeholder(ACME, &["manufacturer"]).await;
    let op = t.register_stakeholder(OP, &["owner", "operator"]).await;
    let acme_token = t.token(ACME).await;
    let op_token = t.token(OP).await;

    // Acme listens for VEX contradictions.
    let (hook, received) = webhook_receiver().await;
    let r = reqwest::Client::new()
        .post(format!("{}/api/v1/subscriptions", t.base))
        .bearer_auth(&acme_token)
        .json(&json!({"id": "acme-vex", "webhook": {"url": hook}, "kinds": ["vex-contradicted"]}))
        .send()
        .await
        .expect("subscribe");
    assert!(r.status().is_success(), "{:?}", r.text().await);

    // Two doors made by Acme, owned and operated by Op, whose policy shares
    // nothing with anyone.
    let mut doors = fleet(16, &format!("door-{run}-"), 2);
    doors[0].plants = vec![Plant::Telnet];
    for d in &doors {
        let subject = format!("device:{}", d.id);
        let registered = json!({
            "type": "device-registered", "manufacturer": "Acme", "model": "door",
            "serial": d.id, "device_key": d.key.public_key().to_pem(),
        });
        t.register_signed(TestNode::sign(ACME, &acme, &subject, &registered))
            .await;
        let sold = json!({"type": "ownership-transferred", "owner": OP, "operator": OP});
        t.register_signed(TestNode::sign(ACME, &acme, &subject, &sold))
            .await;
    }
    let nothing = json!({"type": "sharing-policy", "policy": {"id": "op-1", "grants": []}});
    t.register_signed(TestNode::sign(
        OP,
        &op,
        &format!("stakeholder:{OP}"),
        &nothing,
    ))
    .await;

    // Acme's release and its not_affected statement, resting on TCP 23.
    let model = format!("model:{ACME}/door");
    let release = json!({"type": "firmware-released", "version": "2.4.0", "image_sha256": IMAGE});
    t.register_signed(TestNode::sign(ACME, &acme, &model, &release))
        .await;
    let vex = json!({
        "type": "vulnerability-assessment", "vulnerability": VULN, "status": "not_affected",
        "justification": "vulnerable_code_not_in_execute_path", "release": "2.4.0",
        "component": "pkg:generic/busybox@1.36.1",
        "impact": "telnetd is never started; device-condition: tcp port 23 not listening",
    });
    let vex_entry = t
        .register_signed(TestNode::sign(ACME, &acme, &model, &vex))
        .await;

    // The doors report: door 0 listens on TCP 23, door 1 does not.
    let fw = FirmwareImage {
        version: "2.4.0".into(),
        image_sha256: IMAGE.into(),
    };
    let now = t.node.clock.now_unix_s();
    for d in &mut doors {
        let report = d.next_report(&fw, now);
        t.register_signed(d.sign(&report)).await;
    }
    let (contradicting, clean) = (doors[0].id.clone(), doors[1].id.clone());

    // The finding is on door 0 only, as Op sees its devices.
    let (status, page) = get(&t, "/api/v1/findings", &op_token).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(
        vex_findings(&page["findings"]),
        vec![contradicting.clone()],
        "{page:#}"
    );
    let (status, page) = get(&t, &format!("/api/v1/findings?rule={RULE}"), &op_token).await;
    assert_eq!(status, 200, "{page}");
    let finding = &page["findings"][0];
    assert_eq!(
        (
            finding["severity"].as_str(),
            finding["references"][0].as_str()
        ),
        (Some("high"), Some(format!("/entries/{vex_entry}").as_str())),
        "no advisory scores it: high; the statement's entry first: {finding:#}"
    );
    let evidence = &finding["evidence"];
    assert_eq!(
        evidence["report"][0],
        json!({"field": "metrics.listening-tcp-ports", "value": [23, 443, 8883]}),
        "{evidence:#}"
    );
    let context: Vec<(&str, Value)> = evidence["context"]
        .as_array()
        .expect("context")
        .iter()
        .map(|f| (f["field"].as_str().unwrap_or_default(), f["value"].clone()))
        .collect();
    assert!(
        context.contains(&("vex.entry", json!(vex_entry)))
            && context.contains(&("vex.issuer", json!(ACME)))
            && context.contains(&("vex.condition", json!("tcp port 23 not listening"))),
        "{evidence:#}"
    );
    // The device posture views: the finding on door 0, none on door 1.
    let (_, posture) = get(
        &t,
        &format!("/api/v1/devices/{contradicting}/posture"),
        &op_token,
    )
    .await;
    assert_eq!(
        vex_findings(&posture["findings"]),
        vec![contradicting.clone()],
        "{posture:#}"
    );
    let (_, posture) = get(&t, &format!("/api/v1/devices/{clean}/posture"), &op_token).await;
    assert_eq!(vex_findings(&posture["findings"]), Vec::<String>::new());
    // Acme may not read the reports: it sees no finding on the doors.
    let (_, page) = get(&t, "/api/v1/findings", &acme_token).await;
    assert_eq!(page["devices_audited"], 0, "{page}");
    assert_eq!(vex_findings(&page["findings"]), Vec::<String>::new());

    // Acme is told: one device contradicts its statement, not which.
    let n = told(&received, |n| n["detail"]["devices_contradicting"] == 1).await;
    assert_eq!(
        (
            n["kind"].as_str(),
            n["stakeholder"].as_str(),
            n["vulnerability"].as_str(),
            n["severity"].as_str(),
        ),
        (
            Some("vex-contradicted"),
            Some(ACME),
            Some(VULN),
            Some("high")
        ),
        "{n:#}"
    );
    assert_eq!(
        n["detail"],
        json!({
            "rule": RULE, "vex_entry": vex_entry, "model": model, "release": "2.4.0",
            "component": "pkg:generic/busybox@1.36.1",
            "conditions": ["tcp port 23 not listening"],
            "devices_contradicting": 1, "devices": [], "devices_withheld": 1,
        }),
        "{n:#}"
    );
    assert!(
        !n.to_string().contains(&contradicting),
        "the device id is not shared: {n:#}"
    );
    let (_, reads) = get(&t, "/api/v1/reads", &op_token).await;
    assert_eq!(
        reads["reads"],
        json!([]),
        "nothing of Op's was read: {reads}"
    );

    // Op shares its devices' reports with Acme: Acme is told which door.
    let share = json!({"type": "sharing-policy", "policy": {"id": "op-2", "grants": [
        {"readers": [{"stakeholder": ACME}], "devices": "all", "types": ["device-report"]}
    ]}});
    t.register_signed(TestNode::sign(
        OP,
        &op,
        &format!("stakeholder:{OP}"),
        &share,
    ))
    .await;
    let n = told(&received, |n| {
        n["detail"]["devices"] == json!([contradicting])
    })
    .await;
    assert_eq!(
        (
            n["detail"]["devices_contradicting"].clone(),
            n["detail"]["devices_withheld"].clone()
        ),
        (json!(1), json!(0)),
        "{n:#}"
    );
    assert!(
        n["summary"]
            .as_str()
            .unwrap_or_default()
            .contains(&format!("entry {vex_entry}")),
        "{n:#}"
    );
    // What the notification disclosed was recorded, for Op to see.
    let (_, reads) = get(&t, "/api/v1/reads", &op_token).await;
    let by_acme: Vec<&Value> = reads["reads"]
        .as_array()
        .expect("reads")
        .iter()
        .filter(|r| r["reader"] == ACME && r["device"] == contradicting.as_str())
        .collect();
    assert_eq!(by_acme.len(), 1, "{reads:#}");
    // And Acme now sees the finding itself.
    let (_, page) = get(&t, &format!("/api/v1/findings?rule={RULE}"), &acme_token).await;
    assert_eq!(
        vex_findings(&page["findings"]),
        vec![contradicting.clone()],
        "{page:#}"
    );
    // Never the clean door, in any notification.
    assert!(
        !received
            .lock()
            .expect("lock")
            .iter()
            .any(|n| n.to_string().contains(&clean)),
        "the clean door contradicts nothing"
    );
    t.node.shutdown().await;
}

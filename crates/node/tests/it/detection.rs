//! Detection end to end through the real broker (Mosquitto on
//! 127.0.0.1:1883; the test fails, never skips, without it): simulated
//! devices with planted incidents report twenty times each; the detector
//! raises exactly the planted alarms (no more, no fewer), a verdict turns
//! one into an incident that is acknowledged, resolved and quarantined, a
//! benign positive teaches the baseline, the device's stakeholders are
//! told by webhook (and nobody else), and a fresh fold of the same log
//! (what a restart or `reindex` does) holds the same alarms.

use std::collections::BTreeSet;
use std::time::Duration;

use device_channel::simulate::{fleet, publish, FirmwareImage, Plant, SimDevice, MODEL_SHA256};
use node::testing::TestNode;
use serde_json::{json, Value};

const ACME: &str = "acme.test";
const OPS: &str = "ops.test";
const OTHER: &str = "other.test";
const IMAGE: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

fn require_broker() {
    if let Err(e) = std::net::TcpStream::connect_timeout(
        &"127.0.0.1:1883".parse().expect("address"),
        Duration::from_secs(2),
    ) {
        panic!("cannot connect to the MQTT broker at 127.0.0.1:1883 ({e}); start Mosquitto: apt install mosquitto (it runs as a service), or `mosquitto -p 1883 -d`");
    }
}

async fn call(
    t: &TestNode,
    method: &str,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let c = reqwest::Client::new();
    let url = format!("{}{path}", t.base);
    let r = match method {
        "GET" => c.get(url),
        _ => c.post(url).json(&body.unwrap_or(json!({}))),
    }
    .bearer_auth(token)
    .send()
    .await
    .expect("request");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// Publishes `rounds` reports of every device, one second apart, and waits
/// until the detector has folded them.
async fn report(t: &TestNode, devices: &mut [SimDevice], rounds: u64, start: i64, run: &str) {
    let fw = FirmwareImage {
        version: "2.4.0".into(),
        image_sha256: IMAGE.into(),
    };
    let mut messages = Vec::new();
    for round in 0..rounds {
        for d in devices.iter_mut() {
            let r = d.next_report(&fw, start + round as i64);
            messages.push((d.topic(), d.sign(&r)));
        }
    }
    let before = t.node.device_stats.snapshot().accepted;
    let sent = messages.len() as u64;
    publish(
        "127.0.0.1",
        1883,
        &format!("sectwin-det-{run}"),
        messages,
        0,
    )
    .await
    .expect("published");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while t.node.device_stats.snapshot().accepted < before + sent
        && tokio::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        t.node.device_stats.snapshot().accepted,
        before + sent,
        "{:?}",
        t.node.device_stats.snapshot()
    );
    let size = t.node.log.durable_size().get();
    assert!(
        t.projector()
            .wait_projected(size, Duration::from_secs(30))
            .await
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while t.node.detection.folded() < size && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(t.node.detection.folded() >= size, "the detector is behind");
}

/// A webhook receiver on loopback: every body it was sent.
async fn receiver() -> (String, std::sync::Arc<parking_lot::Mutex<Vec<Value>>>) {
    let got = std::sync::Arc::new(parking_lot::Mutex::new(Vec::new()));
    let keep = got.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |body: axum::body::Bytes| {
            let keep = keep.clone();
            async move {
                if let Ok(v) = serde_json::from_slice::<Value>(&body) {
                    keep.lock().push(v);
                }
                axum::http::StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}/hook"), got)
}

fn pairs(page: &Value) -> BTreeSet<(String, String)> {
    page["alarms"]
        .as_array()
        .expect("alarms")
        .iter()
        .map(|a| {
            (
                a["device"].as_str().unwrap_or_default().to_string(),
                a["rule"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn planted_incidents_raise_exactly_their_alarms_and_become_incidents() {
    require_broker();
    let run = format!(
        "{:08x}",
        rand_core::RngCore::next_u32(&mut rand_core::OsRng)
    );
    let t = TestNode::start(&format!("detection-{run}.test/log")).await;
    let acme = t.register_stakeholder(ACME, &["manufacturer"]).await;
    t.register_stakeholder(OPS, &["owner", "operator"]).await;
    t.register_stakeholder(OTHER, &["operator"]).await;
    let mut devices = fleet(21, &format!("cam-{run}-"), 8);
    let plants = [
        vec![],
        vec![Plant::TamperedFirmware],
        vec![Plant::NewPort],
        vec![Plant::AuthFailureSpike],
        vec![Plant::SubstitutedModel],
        vec![Plant::SplitView],
        vec![Plant::Downgrade],
        vec![Plant::Telnet],
    ];
    for (d, p) in devices.iter_mut().zip(plants) {
        d.plants = p;
        let subject = format!("device:{}", d.id);
        t.register_signed(TestNode::sign(
            ACME,
            &acme,
            &subject,
            &json!({
                "type": "device-registered", "manufacturer": "Acme", "model": "cam",
                "serial": d.id, "device_key": d.key.public_key().to_pem(),
            }),
        ))
        .await;
        t.register_signed(TestNode::sign(
            ACME,
            &acme,
            &subject,
            &json!({
                "type": "ownership-transferred", "owner": OPS, "operator": OPS,
                "site": "hq", "groups": ["cameras"],
            }),
        ))
        .await;
        t.register_signed(TestNode::sign(
            ACME,
            &acme,
            &subject,
            &json!({
                "type": "ai-model-deployed", "name": "person-detector", "version": "3",
                "model_sha256": MODEL_SHA256,
            }),
        ))
        .await;
    }
    t.register_signed(TestNode::sign(
        ACME,
        &acme,
        "model:acme.test/cam",
        &json!({
            "type": "firmware-released", "version": "2.4.0", "image_sha256": IMAGE,
        }),
    ))
    .await;
    let token = t.token(OPS).await;
    let other = t.token(OTHER).await;
    // Both subscribe to alarms and incidents; only OPS has a role on the cameras.
    let (hook, told) = receiver().await;
    for tok in [&token, &other] {
        let (status, r) = call(
            &t,
            "POST",
            "/api/v1/subscriptions",
            tok,
            Some(json!({
                "id": "soc", "webhook": {"url": hook}, "kinds": ["device-alarm", "incident"]
            })),
        )
        .await;
        assert_eq!(status, 201, "{r}");
    }
    // A security profile: telnet never listens on the cameras.
    let (status, r) = call(
        &t,
        "POST",
        "/api/v1/security-profiles",
        &token,
        Some(json!({
            "id": "cameras", "devices": {"matching": {"groups": ["cameras"]}},
            "behaviours": [{"name": "no-telnet", "metric": "listening-tcp-ports",
                "criteria": {"comparison_operator": "not-in-port-set", "value": {"ports": [23]},
                             "datapoints_to_alarm": 2, "datapoints_to_clear": 1}}]
        })),
    )
    .await;
    assert_eq!(status, 201, "{r}");
    // One the detector cannot run is refused, saying why.
    let (status, r) = call(
        &t,
        "POST",
        "/api/v1/security-profiles",
        &token,
        Some(json!({
            "id": "bad", "devices": "all",
            "behaviours": [{"name": "x", "metric": "all-bytes-out",
                "criteria": {"comparison_operator": "in-port-set", "value": {"count": 1}}}]
        })),
    )
    .await;
    assert_eq!(status, 400, "{r}");
    assert!(
        r["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("behaviours[0]"),
        "{r}"
    );

    node::start_device_channel(&t.node, "127.0.0.1", 1883);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !t.node.device_stats.snapshot().connected && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let start = t.node.clock.now_unix_s();
    report(&t, &mut devices, 20, start, &run).await;

    let ids: Vec<String> = devices.iter().map(|d| d.id.clone()).collect();
    let id = |i: usize| ids[i].clone();
    let (status, page) = call(&t, "GET", "/api/v1/alarms", &token, None).await;
    assert_eq!(status, 200, "{page}");
    let expected: BTreeSet<(String, String)> = [
        (id(1), "firmware-not-released"),
        (id(2), "new-listening-port"),
        (id(3), "auth-failure-spike"),
        (id(4), "ai-model-substituted"),
        (id(5), "split-view"),
        (id(6), "firmware-downgrade"),
        (id(7), "profile:ops.test/cameras/no-telnet"),
    ]
    .into_iter()
    .map(|(d, r)| (d, r.to_string()))
    .collect();
    assert_eq!(pairs(&page), expected, "{page:#}");
    let alarm = |rule: &str| {
        page["alarms"]
            .as_array()
            .expect("alarms")
            .iter()
            .find(|a| a["rule"] == rule)
            .cloned()
            .expect("alarm")
    };
    // Each names the report that raised it and the facts it rests on.
    let port = alarm("new-listening-port");
    assert_eq!(
        port["evidence"]["report"][0]["value"],
        json!([4444]),
        "{port}"
    );
    assert_eq!(port["evidence"]["report_counter"], 15, "{port}");
    assert_eq!(
        alarm("auth-failure-spike")["evidence"]["report_counter"],
        15
    );
    assert!(alarm("ai-model-substituted")["references"]
        .to_string()
        .contains("AML.T0018"));

    // Nobody without a role on the cameras sees any alarm.
    let (_, none) = call(&t, "GET", "/api/v1/alarms", &other, None).await;
    assert_eq!(none["alarms"], json!([]), "{none}");
    assert_eq!(
        call(&t, "GET", "/api/v1/alarms?state=sometimes", &token, None)
            .await
            .0,
        400
    );

    // The tampered image is confirmed: an incident, acknowledged,
    // quarantined, resolved.
    let tampered = alarm("firmware-not-released");
    let path = format!(
        "/api/v1/alarms/{}/{}/verification",
        id(1),
        tampered["id"].as_str().expect("id").replace('@', "%40")
    );
    let (status, v) = call(
        &t,
        "POST",
        &path,
        &other,
        Some(json!({"verification": "true-positive"})),
    )
    .await;
    assert_eq!(status, 404, "another operator may not even see it: {v}");
    let (status, v) = call(
        &t,
        "POST",
        &path,
        &token,
        Some(json!({"verification": "maybe"})),
    )
    .await;
    assert_eq!(status, 400, "{v}");
    let (status, v) = call(
        &t,
        "POST",
        &path,
        &token,
        Some(json!({"verification": "true-positive", "note": "unknown image"})),
    )
    .await;
    assert_eq!(status, 201, "{v}");
    let incident = v["incident"].as_u64().expect("an incident");
    let (status, r) = call(
        &t,
        "POST",
        &format!("/api/v1/incidents/{incident}/status"),
        &token,
        Some(json!({"status": "acknowledged"})),
    )
    .await;
    assert_eq!(status, 201, "{r}");
    let (status, r) = call(
        &t,
        "POST",
        &format!("/api/v1/incidents/{incident}/quarantine"),
        &token,
        Some(json!({})),
    )
    .await;
    assert_eq!(status, 201, "{r}");
    t.projected(r["entry"].as_u64().expect("entry")).await;
    let (_, page) = call(
        &t,
        "GET",
        "/api/v1/incidents?status=unresolved",
        &token,
        None,
    )
    .await;
    let listed = &page["incidents"][0];
    assert_eq!(
        (
            listed["entry"].as_u64(),
            listed["status"].as_str(),
            listed["quarantined"].as_bool()
        ),
        (Some(incident), Some("acknowledged"), Some(true)),
        "{page:#}"
    );
    assert_eq!(listed["alarm"], tampered["id"], "{page:#}");
    let (status, r) = call(
        &t,
        "POST",
        &format!("/api/v1/incidents/{incident}/status"),
        &token,
        Some(json!({"status": "resolved", "note": "reflashed"})),
    )
    .await;
    assert_eq!(status, 201, "{r}");
    let (status, r) = call(
        &t,
        "POST",
        &format!("/api/v1/incidents/{incident}/status"),
        &token,
        Some(json!({"status": "resolved"})),
    )
    .await;
    assert_eq!(status, 409, "{r}");

    // A benign positive teaches the baseline: the next report clears it.
    let new_port = alarm("new-listening-port");
    let path = format!(
        "/api/v1/alarms/{}/{}/verification",
        id(2),
        new_port["id"].as_str().expect("id").replace('@', "%40")
    );
    let (status, v) = call(
        &t,
        "POST",
        &path,
        &token,
        Some(json!({"verification": "benign-positive", "note": "debug agent, approved"})),
    )
    .await;
    assert_eq!(status, 201, "{v}");
    assert!(v["incident"].is_null(), "{v}");
    report(&t, &mut devices, 1, start + 20, &run).await;
    let (_, page) = call(&t, "GET", "/api/v1/alarms", &token, None).await;
    let mut still = expected.clone();
    still.remove(&(id(2), "new-listening-port".to_string()));
    assert_eq!(pairs(&page), still, "{page:#}");
    let (_, cleared) = call(
        &t,
        "GET",
        &format!("/api/v1/alarms?state=cleared&device={}", id(2)),
        &token,
        None,
    )
    .await;
    assert_eq!(
        cleared["alarms"][0]["verification"], "benign-positive",
        "{cleared:#}"
    );

    // Each raised alarm and each incident step was told to OPS, once.
    let want = expected.len() + 3;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while told.lock().len() < want && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let told: Vec<Value> = told.lock().clone();
    let mut kinds: Vec<(String, String)> = told
        .iter()
        .map(|n| {
            (
                n["stakeholder"].as_str().unwrap_or_default().to_string(),
                n["kind"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    kinds.sort();
    let mut expect_told: Vec<(String, String)> = (0..expected.len())
        .map(|_| (OPS.to_string(), "device-alarm".to_string()))
        .chain((0..3).map(|_| (OPS.to_string(), "incident".to_string())))
        .collect();
    expect_told.sort();
    assert_eq!(kinds, expect_told, "{told:#?}");

    // A fresh fold of the same log holds the same alarms and incidents.
    let fresh = service::detection::DetectionState::new();
    fresh.catch_up(t.projector(), t.scitt()).expect("fold");
    {
        let live = t.node.detection.read();
        let again = fresh.read();
        for d in &devices {
            let a: Vec<_> = live.alarms_of(&d.id).cloned().collect();
            let b: Vec<_> = again.alarms_of(&d.id).cloned().collect();
            assert_eq!(a, b, "{}", d.id);
        }
        let a: Vec<_> = live.incidents().cloned().collect();
        let b: Vec<_> = again.incidents().cloned().collect();
        assert_eq!(a, b);
    }
    t.node.shutdown().await;
}

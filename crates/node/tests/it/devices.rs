//! Devices speak for themselves, end to end on the production router:
//! simulated devices with planted weaknesses report through the real broker
//! (Mosquitto on 127.0.0.1:1883; the test fails, never skips, without it),
//! the node's device channel registers their reports, and the posture
//! audit finds exactly the planted weaknesses, no more, no fewer, shown
//! only to those the sharing policies let read the devices' reports. The
//! counters are in the API and in `/metrics`.

use std::collections::BTreeSet;
use std::time::Duration;

use device_channel::simulate::{fleet, publish, FirmwareImage, Plant};
use node::testing::TestNode;
use serde_json::{json, Value};

const HOW: &str = "start Mosquitto on 127.0.0.1:1883: apt install mosquitto (it runs as a service), or run `mosquitto -p 1883 -d`";
const ACME: &str = "acme.test";
const OTHER: &str = "other.test";

fn require_broker() {
    if let Err(e) = std::net::TcpStream::connect_timeout(
        &"127.0.0.1:1883".parse().expect("address"),
        Duration::from_secs(2),
    ) {
        panic!("cannot connect to the MQTT broker at 127.0.0.1:1883 ({e}); {HOW}");
    }
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn planted_weaknesses_are_found_exactly_through_the_broker() {
    require_broker();
    let run = format!(
        "{:08x}",
        rand_core::RngCore::next_u32(&mut rand_core::OsRng)
    );
    let t = TestNode::start(&format!("devices-{run}.test/log")).await;
    let acme = t
        .register_stakeholder(ACME, &["manufacturer", "owner", "operator"])
        .await;
    t.register_stakeholder(OTHER, &["operator"]).await;
    let mut devices = fleet(11, &format!("door-{run}-"), 6);
    let plants = [
        vec![],
        vec![Plant::DefaultCredentials],
        vec![Plant::Telnet],
        vec![Plant::DebugEnabled, Plant::NoSecureBoot],
        vec![Plant::LoggingDisabled],
        vec![Plant::TamperedFirmware],
    ];
    for (d, p) in devices.iter_mut().zip(plants) {
        d.plants = p;
        let payload = json!({
            "type": "device-registered", "manufacturer": "Acme", "model": "door",
            "serial": d.id, "device_key": d.key.public_key().to_pem(),
        });
        t.register_signed(TestNode::sign(
            ACME,
            &acme,
            &format!("device:{}", d.id),
            &payload,
        ))
        .await;
    }
    // Acme released the image the devices should run.
    t.register_signed(TestNode::sign(
        ACME,
        &acme,
        "model:acme.test/door",
        &json!({"type": "firmware-released", "version": "2.4.0",
                "image_sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}),
    ))
    .await;
    node::start_device_channel(&t.node, "127.0.0.1", 1883);
    let stats = t.node.device_stats.clone();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !stats.snapshot().connected && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;

    let fw = FirmwareImage {
        version: "2.4.0".into(),
        image_sha256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".into(),
    };
    let now = t.node.clock.now_unix_s();
    let messages: Vec<(String, Vec<u8>)> = devices
        .iter_mut()
        .enumerate()
        .map(|(i, d)| {
            let mut r = d.next_report(&fw, now);
            if i == 0 {
                // Device 0 verified a checkpoint of size 1 with another
                // root than the log's: a split view.
                r["checkpoint_seen"] = json!({"size": 1, "root_hash": "00".repeat(32)});
            }
            (d.topic(), d.sign(&r))
        })
        .collect();
    let sent = messages.len() as u64;
    publish(
        "127.0.0.1",
        1883,
        &format!("sectwin-sim-{run}"),
        messages,
        0,
    )
    .await
    .expect("published");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while stats.snapshot().accepted < sent && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(stats.snapshot().accepted, sent, "{:?}", stats.snapshot());
    let size = t.node.log.durable_size().get();
    assert!(
        t.projector()
            .wait_projected(size, Duration::from_secs(30))
            .await
    );

    let token = t.token(ACME).await;
    let (status, page) = get(&t, "/api/v1/findings", &token).await;
    assert_eq!(status, 200, "{page}");
    let found: BTreeSet<(String, String)> = page["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            (
                f["device"].as_str().unwrap_or_default().to_string(),
                f["rule"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let id = |i: usize| devices[i].id.clone();
    let expected: BTreeSet<(String, String)> = [
        (id(1), "POSTURE-UNIVERSAL-DEFAULT-PASSWORD"),
        (id(2), "POSTURE-INSECURE-SERVICE"),
        (id(3), "POSTURE-DEBUG-INTERFACE-ENABLED"),
        (id(3), "POSTURE-NO-SECURE-BOOT"),
        (id(4), "LOGGING_DISABLED_CHECK"),
    ]
    .into_iter()
    .map(|(d, r)| (d, r.to_string()))
    .collect();
    assert_eq!(found, expected, "{page:#}");
    assert_eq!(page["devices_audited"], 6, "{page}");

    // One device's posture: its latest report with a receipt, and evidence
    // naming the report's counter.
    let (status, posture) = get(&t, &format!("/api/v1/devices/{}/posture", id(1)), &token).await;
    assert_eq!(status, 200, "{posture}");
    let entry = posture["report"]["entry"].as_u64().expect("entry");
    assert_eq!(posture["report"]["receipt"], format!("/entries/{entry}"));
    assert_eq!(
        posture["findings"][0]["evidence"]["report_counter"], 1,
        "{posture}"
    );
    assert_eq!(
        posture["findings"][0]["evidence"]["report"][0]["value"], "universal-default",
        "{posture}"
    );

    // The alarms: the tampered image and the split view, nothing else.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while t.node.detection.folded() < size && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (status, page) = get(&t, "/api/v1/alarms", &token).await;
    assert_eq!(status, 200, "{page}");
    let alarms: BTreeSet<(String, String)> = page["alarms"]
        .as_array()
        .expect("alarms")
        .iter()
        .map(|a| {
            (
                a["device"].as_str().unwrap_or_default().to_string(),
                a["rule"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let expected: BTreeSet<(String, String)> = [
        (id(0), "split-view".to_string()),
        (id(5), "firmware-not-released".to_string()),
    ]
    .into_iter()
    .collect();
    assert_eq!(alarms, expected, "{page:#}");

    // A stakeholder with no role on the devices sees neither.
    let other = t.token(OTHER).await;
    let (status, page) = get(&t, "/api/v1/findings", &other).await;
    assert_eq!(status, 200);
    assert_eq!(page["findings"], json!([]), "{page}");
    assert_eq!(page["devices_audited"], 0, "{page}");
    let (status, _) = get(&t, &format!("/api/v1/devices/{}/posture", id(1)), &other).await;
    assert_eq!(status, 404);
    // A bad filter is a 400 naming it.
    let (status, e) = get(&t, "/api/v1/findings?severity=urgent", &token).await;
    assert_eq!(status, 400);
    assert!(
        e["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("severity"),
        "{e}"
    );

    // The counters, in the API and for Prometheus.
    let (status, s) = get(&t, "/api/v1/device-reports/stats", &token).await;
    assert_eq!(status, 200);
    assert_eq!(
        (s["enabled"].clone(), s["accepted"].clone()),
        (json!(true), json!(sent)),
        "{s}"
    );
    let (metrics, text) = crate::ops::scrape(&t.base).await;
    assert_eq!(
        crate::ops::value(&metrics, "sectwin_device_reports_accepted", &[]),
        Some(sent as f64),
        "{text}"
    );
    assert_eq!(
        crate::ops::value(
            &metrics,
            "sectwin_device_reports_rejected",
            &[("reason", "bad_signature")]
        ),
        Some(0.0),
        "{text}"
    );
    t.node.shutdown().await;
}

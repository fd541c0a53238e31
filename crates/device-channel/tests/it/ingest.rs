//! Device reports through the real broker (Mosquitto on 127.0.0.1:1883;
//! the test fails, never skips, without it): healthy reports are registered
//! once each with a receipt, and every kind of bad report is refused and
//! counted under its reason, no more, no fewer.

use std::time::Duration;

use device_channel::simulate::{fleet, publish, FirmwareImage, SimDevice};
use device_channel::{IngestConfig, Ingester, StatsSnapshot};
use node::testing::TestNode;
use rand::Rng;
use serde_json::json;

const BROKER: (&str, u16) = ("127.0.0.1", 1883);
const HOW: &str = "start Mosquitto on 127.0.0.1:1883: apt install mosquitto (it runs as a service), or run `mosquitto -p 1883 -d`";
pub(crate) const ACME: &str = "acme.test";

fn require_broker() {
    let addr = format!("{}:{}", BROKER.0, BROKER.1);
    if let Err(e) = std::net::TcpStream::connect_timeout(
        &addr.parse().expect("address"),
        Duration::from_secs(2),
    ) {
        panic!("cannot connect to the MQTT broker at {addr} ({e}); {HOW}");
    }
}

fn unique(prefix: &str) -> String {
    format!("{prefix}{:08x}", rand::thread_rng().gen::<u32>())
}

pub(crate) fn firmware() -> FirmwareImage {
    FirmwareImage {
        version: "2.4.0".into(),
        image_sha256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".into(),
    }
}

/// Registers each device of `devices` with its key, as Acme's.
pub(crate) async fn register(t: &TestNode, acme: &scitt::SigningKey, devices: &[SimDevice]) {
    for d in devices {
        let payload = json!({
            "type": "device-registered", "manufacturer": "Acme", "model": "cam",
            "serial": d.id, "device_key": d.key.public_key().to_pem(),
        });
        t.register_signed(TestNode::sign(
            ACME,
            acme,
            &format!("device:{}", d.id),
            &payload,
        ))
        .await;
    }
}

/// Waits until the ingester has handled `n` messages.
pub(crate) async fn handled(stats: &device_channel::IngestStats, n: u64) -> StatsSnapshot {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let s = stats.snapshot();
        let refused: u64 = s.rejected.values().sum();
        if s.accepted + refused >= n || tokio::time::Instant::now() > deadline {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_are_registered_once_and_bad_ones_counted_by_reason() {
    require_broker();
    let t = TestNode::start("devices.test/log").await;
    let acme = t
        .register_stakeholder(ACME, &["manufacturer", "owner", "operator"])
        .await;
    let prefix = unique("cam-");
    let mut devices = fleet(7, &prefix, 5);
    register(&t, &acme, &devices).await;
    // A device that will be decommissioned, and one never registered.
    let mut gone = fleet(8, &format!("{prefix}gone-"), 1).remove(0);
    register(&t, &acme, std::slice::from_ref(&gone)).await;
    t.register_signed(TestNode::sign(
        ACME,
        &acme,
        &format!("device:{}", gone.id),
        &json!({"type": "decommissioned", "reason": "replaced"}),
    ))
    .await;
    let mut stranger = fleet(9, &format!("{prefix}stranger-"), 1).remove(0);

    let mut config = IngestConfig::new(BROKER.0, BROKER.1, "devices.test/log");
    config.client_id = unique("sectwin-ingest-test-");
    let ingester = Ingester::start(
        config,
        t.scitt().clone(),
        t.projector().clone(),
        t.node.clock.clone(),
        std::sync::Arc::new(device_channel::IngestStats::default()),
    );
    let stats = ingester.stats();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !stats.snapshot().connected && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The subscription is in place once the broker answered SUBACK; a
    // short wait covers it.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let now = t.node.clock.now_unix_s();
    let fw = firmware();
    let mut messages = Vec::new();
    // One healthy report per device.
    let mut first_reports = Vec::new();
    for d in devices.iter_mut() {
        let r = d.next_report(&fw, now);
        let bytes = d.sign(&r);
        first_reports.push(bytes.clone());
        messages.push((d.topic(), bytes));
    }
    // The same bytes again (a redelivery): recorded once.
    messages.push((devices[0].topic(), first_reports[0].clone()));
    let d1 = &mut devices[1];
    // A replay: an older counter, freshly signed.
    let mut old = d1.next_report(&fw, now);
    old["counter"] = json!(0);
    messages.push((d1.topic(), d1.sign(&old)));
    // Stale and from the future.
    let stale = d1.next_report(&fw, now - 3 * 24 * 3600);
    messages.push((d1.topic(), d1.sign(&stale)));
    let future = d1.next_report(&fw, now + 3600);
    messages.push((d1.topic(), d1.sign(&future)));
    // Tampered after signing: one digit of the payload changed.
    let d2 = &mut devices[2];
    let r = d2.next_report(&fw, now);
    let mut tampered = d2.sign(&r);
    let at = tampered
        .windows(11)
        .position(|w| w == b"\"reboots\":0")
        .expect("the payload is attached");
    tampered[at + 10] = b'9';
    messages.push((d2.topic(), tampered));
    // Unsigned: the report as plain JSON.
    let plain = devices[3].next_report(&fw, now);
    messages.push((devices[3].topic(), plain.to_string().into_bytes()));
    // Oversized.
    messages.push((
        devices[3].topic(),
        vec![b'x'; device_channel::ingest::MESSAGE_BYTES_MAX + 1],
    ));
    // On another device's topic.
    let r = devices[3].next_report(&fw, now);
    messages.push((devices[4].topic(), devices[3].sign(&r)));
    // Malformed payload: an unknown field.
    let mut unknown = devices[4].next_report(&fw, now);
    unknown["colour"] = json!("red");
    messages.push((devices[4].topic(), devices[4].sign(&unknown)));
    // A device nobody registered, and a decommissioned one.
    let r = stranger.next_report(&fw, now);
    messages.push((stranger.topic(), stranger.sign(&r)));
    let r = gone.next_report(&fw, now);
    messages.push((gone.topic(), gone.sign(&r)));

    let sent = messages.len() as u64;
    let published = publish(
        BROKER.0,
        BROKER.1,
        &unique("sectwin-sim-test-"),
        messages,
        0,
    )
    .await
    .expect("published");
    assert_eq!(published.acknowledged, sent);
    let s = handled(&stats, sent).await;
    let expected: Vec<(&str, u64)> = vec![
        ("bad_signature", 1),
        ("decommissioned", 1),
        ("duplicate", 1),
        ("from_the_future", 1),
        ("malformed", 1),
        ("oversized", 1),
        ("replayed", 1),
        ("stale", 1),
        ("subject_mismatch", 1),
        ("unknown_device", 1),
        ("unsigned", 1),
    ];
    let got: Vec<(&str, u64)> = s.rejected.iter().map(|(k, v)| (*k, *v)).collect();
    assert_eq!(got, expected, "{s:?}");
    assert_eq!(s.accepted, 5, "{s:?}");
    assert_eq!(s.received, sent, "{s:?}");

    // Each accepted report is the device's latest report on its twin, and
    // its entry has a receipt.
    let size = t.node.log.durable_size().get();
    assert!(
        t.projector()
            .wait_projected(size, Duration::from_secs(30))
            .await
    );
    for (d, bytes) in devices.iter().zip(&first_reports) {
        let twin = t
            .projector()
            .store()
            .twin(&twin::DeviceId::new(&d.id).expect("id"))
            .expect("store")
            .expect("twin");
        let class = twin::AttributeClass::Custom("device-report".into());
        let entry = *twin
            .current
            .get(&class)
            .unwrap_or_else(|| panic!("{}: no report", d.id));
        let logged = t
            .scitt()
            .statement(tlog::LeafIndex::new(entry))
            .expect("statement");
        assert_eq!(&logged, bytes, "{}", d.id);
        assert!(
            t.scitt()
                .wait_covered(tlog::LeafIndex::new(entry), Duration::from_secs(10))
                .await
        );
    }
    ingester.shutdown().await;
}

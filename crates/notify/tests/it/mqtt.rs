//! MQTT delivery end to end against a real Mosquitto: the shared broker on
//! 127.0.0.1:1883 (must be running; the tests fail, never skip, without it)
//! and a private `mosquitto` process started by a test to show a broker that
//! is down and then comes up.
//!
//! Deliberately absent: webhook behaviour (tests/webhooks.rs).

use crate::common;

use std::time::Duration;

use common::*;
use notify::{
    DeliveryStatus, MqttConfig, NotificationKind as K, Notifier, NotifierConfig, Subscription,
    Target,
};
use rand::Rng as _;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};

const BROKER: &str = "127.0.0.1:1883";
const HOW: &str = "start Mosquitto on 127.0.0.1:1883: apt install mosquitto (it runs as a service), or run `mosquitto -p 1883 -d`";
const IDLE: Duration = Duration::from_secs(10);

fn require_broker() {
    if let Err(e) =
        std::net::TcpStream::connect_timeout(&BROKER.parse().unwrap(), Duration::from_secs(2))
    {
        panic!("cannot connect to the MQTT broker at {BROKER} ({e}); {HOW}");
    }
}

fn unique(prefix: &str) -> String {
    format!("{prefix}-{:016x}", rand::thread_rng().gen::<u64>())
}

async fn start_with_mqtt(dir: &std::path::Path, port: u16) -> Notifier {
    let mut config = NotifierConfig::new(dir.join("outbox"));
    config.retry = retry_fast();
    config.retry.request_timeout_ms = 1_000;
    config.mqtt = Some(MqttConfig {
        host: "127.0.0.1".into(),
        port,
        client_id: unique("sectwin-notify-test"),
        keep_alive: Duration::from_secs(5),
    });
    Notifier::start(config).await.expect("start notifier")
}

fn mqtt_sub(id: &str, stakeholder: &str, prefix: &str, kinds: Vec<K>) -> Subscription {
    Subscription {
        id: id.into(),
        stakeholder: stakeholder.into(),
        target: Target::Mqtt {
            topic_prefix: prefix.into(),
        },
        kinds,
    }
}

/// A test subscriber on `{prefix}/#`, returning what arrives.
async fn listen(prefix: &str) -> tokio::sync::mpsc::UnboundedReceiver<(String, Vec<u8>)> {
    let mut options = MqttOptions::new(unique("sectwin-test-listener"), "127.0.0.1", 1883);
    options.set_keep_alive(Duration::from_secs(5));
    options.set_max_packet_size(1 << 20, 1 << 20);
    let (client, mut eventloop) = AsyncClient::new(options, 16);
    client
        .subscribe(format!("{prefix}/#"), QoS::AtLeastOnce)
        .await
        .unwrap();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let (subscribed_tx, subscribed_rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let _client = client;
        let mut subscribed_tx = Some(subscribed_tx);
        loop {
            match eventloop.poll().await {
                Ok(Event::Incoming(Packet::SubAck(_))) => {
                    if let Some(s) = subscribed_tx.take() {
                        let _ = s.send(());
                    }
                }
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    if tx.send((p.topic.clone(), p.payload.to_vec())).is_err() {
                        break;
                    }
                }
                Ok(_) => {}
                Err(e) => panic!("test listener lost the broker: {e}; {HOW}"),
            }
        }
    });
    tokio::time::timeout(Duration::from_secs(5), subscribed_rx)
        .await
        .unwrap_or_else(|_| panic!("no SUBACK from {BROKER}; {HOW}"))
        .unwrap();
    rx
}

#[tokio::test]
async fn publishes_qos1_to_prefix_stakeholder_kind() {
    require_broker();
    let prefix = unique("sectwin-test/notify");
    let mut rx = listen(&prefix).await;
    let dir = tempfile::tempdir().unwrap();
    let n = start_with_mqtt(dir.path(), 1883).await;
    n.subscribe(mqtt_sub(
        "m-acme",
        "acme",
        &prefix,
        vec![K::NewVulnerableDevice, K::VexChanged],
    ))
    .unwrap();
    let notes = vec![
        notification("n1", "acme", K::NewVulnerableDevice),
        notification("n2", "acme", K::VexChanged),
        notification("n3", "acme", K::DeadlineOverdue), // filtered out by kinds
    ];
    let report = n.enqueue(notes.clone()).unwrap();
    assert_eq!((report.deliveries_new, report.unrouted), (2, 1));
    assert!(
        n.wait_idle(IDLE).await,
        "not delivered: {:?}",
        n.deliveries(Default::default())
    );
    for r in records(&n, "m-acme") {
        assert_eq!(r.status, DeliveryStatus::Delivered, "{r:?}");
        assert_eq!(r.attempts, 1);
    }
    let mut got = Vec::new();
    for _ in 0..2 {
        let m = tokio::time::timeout(IDLE, rx.recv())
            .await
            .expect("message")
            .expect("listener");
        got.push(m);
    }
    got.sort();
    assert_eq!(got[0].0, format!("{prefix}/acme/new-vulnerable-device"));
    assert_eq!(got[1].0, format!("{prefix}/acme/vex-changed"));
    assert_eq!(
        serde_json::from_slice::<notify::Notification>(&got[0].1).unwrap(),
        notes[0]
    );
    assert_eq!(
        serde_json::from_slice::<notify::Notification>(&got[1].1).unwrap(),
        notes[1]
    );
    n.shutdown().await;
}

#[tokio::test]
async fn many_publishes_are_all_acknowledged() {
    require_broker();
    let prefix = unique("sectwin-test/notify-many");
    let mut rx = listen(&prefix).await;
    let dir = tempfile::tempdir().unwrap();
    let n = start_with_mqtt(dir.path(), 1883).await;
    n.subscribe(mqtt_sub("m1", "acme", &prefix, vec![]))
        .unwrap();
    n.subscribe(mqtt_sub("m2", "acme", &format!("{prefix}/copy"), vec![]))
        .unwrap();
    let batch: Vec<_> = (0..100)
        .map(|i| notification(&format!("n{i}"), "acme", K::DeadlineApproaching))
        .collect();
    assert_eq!(n.enqueue(batch).unwrap().deliveries_new, 200);
    assert!(n.wait_idle(IDLE).await);
    let all = n.deliveries(Default::default());
    assert!(
        all.iter().all(|r| r.status == DeliveryStatus::Delivered),
        "{all:?}"
    );
    let mut ids = std::collections::HashSet::new();
    while ids.len() < 200 {
        let (topic, body) = tokio::time::timeout(IDLE, rx.recv())
            .await
            .expect("message")
            .expect("listener");
        let note: notify::Notification = serde_json::from_slice(&body).unwrap();
        ids.insert((topic, note.id));
    }
    n.shutdown().await;
}

/// Kills the private broker even when an assertion fails.
struct Broker(std::process::Child);

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn a_broker_that_is_down_then_up_gets_the_publish() {
    let addr = free_addr();
    let dir = tempfile::tempdir().unwrap();
    let n = start_with_mqtt(dir.path(), addr.port()).await;
    n.subscribe(mqtt_sub("m1", "acme", "sectwin-test/late", vec![]))
        .unwrap();
    n.enqueue(vec![notification("n1", "acme", K::DeadlineOverdue)])
        .unwrap();
    assert!(eventually(IDLE, || records(&n, "m1")[0].attempts >= 2).await);
    let r = &records(&n, "m1")[0];
    assert_eq!(r.status, DeliveryStatus::Pending);
    assert!(
        r.last_error.as_deref().unwrap().starts_with("mqtt"),
        "{r:?}"
    );

    let child = std::process::Command::new("mosquitto")
        .args(["-p", &addr.port().to_string()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .or_else(|_| {
            std::process::Command::new("/usr/sbin/mosquitto")
                .args(["-p", &addr.port().to_string()])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
        })
        .unwrap_or_else(|e| panic!("cannot run the mosquitto binary ({e}); apt install mosquitto"));
    let _broker = Broker(child);
    assert!(n.wait_idle(IDLE).await, "{:?}", records(&n, "m1"));
    let r = &records(&n, "m1")[0];
    assert_eq!(r.status, DeliveryStatus::Delivered);
    assert!(r.attempts >= 3);
    n.shutdown().await;
}

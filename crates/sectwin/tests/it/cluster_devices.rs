//! The device channel of three `serve` nodes on one schema, each started
//! with `--device-broker` on one private Mosquitto: the MQTT session is
//! the log's (one client id), so only the node that sequences holds it (two
//! would take it from each other). The sequencer is SIGKILLed while the
//! devices publish QoS 1 reports; the node that takes over takes the
//! session, with what the broker kept, and every report ends up in the log
//! exactly once.

use crate::cluster::Cluster;
use crate::common;
use crate::device_crash::{accepted, connected, reports_of};

use std::time::{Duration, Instant};

use testkit::mosquitto::PrivateBroker;

const NODES: usize = 3;
const DEVICES: usize = 6;
const REPORTS: u64 = 40;
const RATE_PER_S: u64 = 150;
const WAIT: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_sequencer_ingests_device_reports_and_a_takeover_loses_none() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let d = tmp.path();
    let private_broker = PrivateBroker::start(d);
    let broker = format!("127.0.0.1:{}", private_broker.port());
    let mut cluster = Cluster::start_with("devices", NODES, &["--device-broker", &broker], &[]);
    let all: Vec<usize> = (0..NODES).collect();
    assert_eq!(cluster.wait_sequencer(&all).await, 0);
    let (acme_key, acme_pub) = common::keypair(d, "acme", "eddsa");
    common::register_stakeholders(
        &cluster.base(1),
        &cluster.data(0).join("authority.key"),
        &[("acme.example", "manufacturer", &acme_pub)],
    );
    let count = DEVICES.to_string();
    let fleet: Vec<String> = [
        "--broker", &broker, "--count", &count, "--seed", "11", "--prefix", "c-",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let register = cluster.base(2);
    let mut args: Vec<&str> = vec!["device", "simulate"];
    args.extend(fleet.iter().map(String::as_str));
    args.extend([
        "--reports",
        "0",
        "--register",
        "--server",
        &register,
        "--key",
        &acme_key,
        "--as",
        "acme.example",
    ]);
    common::stdout_of(&args);

    // The sequencer holds the session, and keeps it: the followers do not
    // connect (they would take it from the sequencer, and it back).
    let deadline = Instant::now() + WAIT;
    while !connected(&cluster.base(0)).await {
        assert!(
            Instant::now() < deadline,
            "node0's device channel did not connect"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for _ in 0..10 {
        assert!(connected(&cluster.base(0)).await, "node0 lost the session");
        for i in 1..NODES {
            assert!(
                !connected(&cluster.base(i)).await,
                "follower node{i} ingests"
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // The devices publish; the sequencer is killed mid-stream.
    let publisher = std::thread::spawn({
        let fleet = fleet.clone();
        move || {
            let (reports, rate) = (REPORTS.to_string(), RATE_PER_S.to_string());
            let mut a: Vec<&str> = vec!["device", "simulate"];
            a.extend(fleet.iter().map(String::as_str));
            a.extend(["--reports", &reports, "--rate", &rate]);
            common::stdout_of(&a)
        }
    });
    tokio::time::sleep(Duration::from_millis(700)).await;
    if let Some(server) = cluster.servers[0].as_mut() {
        server.kill();
    }
    cluster.servers[0] = None;
    let next = cluster.wait_sequencer(&[1, 2]).await;
    let published = tokio::task::spawn_blocking(move || publisher.join().expect("publisher"))
        .await
        .expect("join");
    assert!(
        published.contains(&format!("{} acknowledged", DEVICES as u64 * REPORTS)),
        "{published}"
    );
    let deadline = Instant::now() + WAIT;
    while !connected(&cluster.base(next)).await {
        assert!(
            Instant::now() < deadline,
            "node{next} did not take the session over"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let other = if next == 1 { 2 } else { 1 };
    assert!(
        !connected(&cluster.base(other)).await,
        "follower node{other} ingests"
    );

    // Every report in the log once: read through the follower.
    let (id, secret) = common::credential(cluster.data(other), "acme.example");
    let token = crate::vuln_e2e::token(&cluster.base(other), &id, &secret).await;
    let want: Vec<u64> = (1..=REPORTS).collect();
    let deadline = Instant::now() + WAIT;
    for i in 0..DEVICES {
        let device = format!("c-{i:06}");
        loop {
            let mut got = reports_of(&cluster.base(other), &token, &device).await;
            got.sort_unstable();
            let mut unique = got.clone();
            unique.dedup();
            assert_eq!(
                unique.len(),
                got.len(),
                "{device}: a report recorded twice: {got:?}"
            );
            if got == want {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{device}: reports {got:?} in the log, not 1..={REPORTS}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    // The kill came mid-stream: the node that took over ingested some.
    let taken = accepted(&cluster.base(next)).await;
    let total = DEVICES as u64 * REPORTS;
    eprintln!("cluster devices: {total} reports, {taken} ingested by node{next} after the takeover, each once");
    assert!(
        taken > 0 && taken < total,
        "node{next} ingested {taken} of {total} reports: the kill did not come mid-stream"
    );
    for i in [1, 2] {
        if let Some(mut server) = cluster.servers[i].take() {
            assert!(server.stop().success(), "node{i}\n{}", server.output());
        }
    }
}

//! The broker restarted under the ingester (a private Mosquitto with
//! persistence, stopped cleanly and started again on the same files): no
//! report is lost and none recorded twice, whether the restart comes while
//! the ingester works through a backlog or while the ingester itself is
//! down with reports queued for its persistent session.

use std::sync::Arc;
use std::time::Duration;

use device_channel::simulate::{fleet, publish, SimDevice};
use device_channel::{IngestConfig, IngestStats, Ingester, StatsSnapshot};
use node::testing::TestNode;
use testkit::mosquitto::PrivateBroker;

use crate::ingest::{firmware, register, ACME};

const ORIGIN: &str = "restart.test/log";
const DEVICES: usize = 20;
/// Reports per device in the backlog the broker is restarted under.
const BACKLOG_PER_DEVICE: usize = 150;
/// Reports per device queued while the ingester is down.
const QUEUED_PER_DEVICE: usize = 10;

/// The next `per_device` reports of every device, interleaved.
fn reports(t: &TestNode, devices: &mut [SimDevice], per_device: usize) -> Vec<(String, Vec<u8>)> {
    let now = t.node.clock.now_unix_s();
    let fw = firmware();
    let mut messages = Vec::new();
    for _ in 0..per_device {
        for d in devices.iter_mut() {
            let r = d.next_report(&fw, now);
            messages.push((d.topic(), d.sign(&r)));
        }
    }
    messages
}

/// Waits until `n` reports are registered (redeliveries are counted as
/// refused duplicates, so the handled count says nothing here).
async fn accepted(stats: &IngestStats, n: u64) -> StatsSnapshot {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let s = stats.snapshot();
        if s.accepted >= n || tokio::time::Instant::now() > deadline {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn connected(stats: &IngestStats) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !stats.snapshot().connected {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the ingester did not connect to the private broker"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_broker_loses_no_report_and_none_is_recorded_twice() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut broker = PrivateBroker::start(dir.path());
    let port = broker.port();
    let t = TestNode::start(ORIGIN).await;
    let acme = t
        .register_stakeholder(ACME, &["manufacturer", "owner", "operator"])
        .await;
    let mut devices = fleet(11, "rb-", DEVICES);
    register(&t, &acme, &devices).await;
    let base = t.scitt().log().durable_size().get();

    let config = IngestConfig::new("127.0.0.1", port, ORIGIN);
    let stats = Arc::new(IngestStats::default());
    let start = || {
        Ingester::start(
            config.clone(),
            t.scitt().clone(),
            t.projector().clone(),
            t.node.clock.clone(),
            stats.clone(),
        )
    };
    let ingester = start();
    connected(&stats).await;
    // The subscription is in place once the broker answered SUBACK.
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Now stopped: what is published meanwhile waits in its session.
    ingester.shutdown().await;

    // 1. A backlog, the ingester started on it, the broker restarted as
    // soon as the first report is registered.
    let backlog = reports(&t, &mut devices, BACKLOG_PER_DEVICE);
    let total_backlog = backlog.len() as u64;
    publish("127.0.0.1", port, "rb-publisher-1", backlog, 0)
        .await
        .expect("the broker took the backlog");
    let ingester = start();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while stats.snapshot().accepted == 0 {
        assert!(tokio::time::Instant::now() < deadline, "nothing registered");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    tokio::task::block_in_place(|| broker.restart());
    let at_restart = stats.snapshot().accepted;
    assert!(
        at_restart < total_backlog,
        "the ingester had registered the whole backlog ({at_restart}) before the broker stopped: the restart did not come mid-stream"
    );
    let after = accepted(&stats, total_backlog).await;
    assert_eq!(after.accepted, total_backlog, "{after:?}");

    // 2. The ingester down, reports queued for its session, the broker
    // restarted, the ingester back with the same client id.
    ingester.shutdown().await;
    let queued = reports(&t, &mut devices, QUEUED_PER_DEVICE);
    let total = total_backlog + queued.len() as u64;
    publish("127.0.0.1", port, "rb-publisher-2", queued, 0)
        .await
        .expect("the broker took the queued reports");
    tokio::task::block_in_place(|| broker.restart());
    let ingester = start();
    accepted(&stats, total).await;
    // Redeliveries of reports registered before a restart may still come.
    tokio::time::sleep(Duration::from_millis(500)).await;
    ingester.shutdown().await;
    let last = stats.snapshot();

    assert_eq!(last.accepted, total, "every report registered: {last:?}");
    for (reason, n) in &last.rejected {
        assert!(
            *n == 0 || *reason == "duplicate",
            "only redeliveries may be refused: {last:?}"
        );
    }
    assert_eq!(
        t.scitt().log().durable_size().get(),
        base + total,
        "the log holds each report once"
    );
}

//! A node reads one injected clock (`node::open_node_with_clock`): the
//! notification pump builds the risk register for the clock's day, and moves
//! to the next day when the clock does, without waiting for a real midnight.

use std::sync::Arc;
use std::time::Duration;

use node::testing::TestNode;

/// 2030-06-01T12:00:00Z, in ms.
const T0_MS: u64 = 1_906_545_600_000;
const DAY_MS: u64 = 86_400_000;

/// Waits until the pump has looked at a register for `day`.
async fn pump_reaches(t: &TestNode, day: &str) -> Option<String> {
    let pump = t.node.pump.clone().expect("the test node runs the pump");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let seen = pump.last_compared().map(|r| r.today.clone());
        if seen.as_deref() == Some(day) || std::time::Instant::now() >= deadline {
            return seen;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_notification_pump_builds_the_register_for_the_clocks_day() {
    let clock = Arc::new(clock::FixedClock::at(T0_MS));
    let t = TestNode::start_with_clock("clock.test/log", clock.clone()).await;
    assert_eq!(
        pump_reaches(&t, "2030-06-01").await.as_deref(),
        Some("2030-06-01")
    );
    // Half a day on: still the same day.
    clock.set(T0_MS + DAY_MS / 2 - 1);
    tokio::time::sleep(Duration::from_millis(
        2 * node::testing::TEST_RISK_INTERVAL_MS,
    ))
    .await;
    assert_eq!(
        t.node
            .pump
            .as_ref()
            .and_then(|p| p.last_compared())
            .map(|r| r.today.clone())
            .as_deref(),
        Some("2030-06-01")
    );
    // Past midnight by the clock: the next look is for the next day.
    clock.set(T0_MS + DAY_MS / 2);
    assert_eq!(
        pump_reaches(&t, "2030-06-02").await.as_deref(),
        Some("2030-06-02")
    );
    t.node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_expire_by_the_nodes_clock() {
    let clock = Arc::new(clock::FixedClock::at(T0_MS));
    let t = TestNode::start_with_clock("expiry.test/log", clock.clone()).await;
    let token = t.token("expiry.test").await;
    let get = || {
        reqwest::Client::new()
            .get(format!("{}/api/v1/risks/summary", t.base))
            .bearer_auth(&token)
            .send()
    };
    assert_eq!(get().await.expect("GET").status().as_u16(), 200);
    let lifetime_s = t.node.tokens.issuer().lifetime_s();
    clock.set(T0_MS + lifetime_s * 1000);
    assert_eq!(
        get().await.expect("GET").status().as_u16(),
        401,
        "a token is refused once the node's clock passes its expiry"
    );
    t.node.shutdown().await;
}

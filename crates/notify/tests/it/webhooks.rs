//! Webhook delivery end to end: real axum receivers on 127.0.0.1, signatures
//! checked with an independent HMAC, retries, refusals, restarts, dedupe and
//! fan-out.
//!
//! Deliberately absent: MQTT (tests/mqtt.rs) and the Python cross-check
//! (tests-interop/webhooks), which reads the capture written by
//! `delivers_a_signed_standard_webhook` when `SECTWIN_WEBHOOK_CAPTURE` is set.

use crate::common;

use std::time::Duration;

use common::*;
use notify::{
    DeliveryStatus, EnqueueReport, NotificationKind as K, NotifyError, Subscription, Target,
    WebhookSecret, BODY_BYTES_MAX,
};

const IDLE: Duration = Duration::from_secs(10);

#[tokio::test]
async fn delivers_a_signed_standard_webhook() {
    let dir = tempfile::tempdir().unwrap();
    let rx = Receiver::start(Behaviour::Accept).await;
    let n = start(dir.path(), retry_fast()).await;
    let secret = WebhookSecret::generate();
    n.subscribe(webhook("sub-1", "acme", &rx.url(), &secret, vec![]))
        .unwrap();
    let note = notification("new:dev-1:CVE-2024-1234", "acme", K::NewVulnerableDevice);
    let report = n.enqueue(vec![note.clone()]).unwrap();
    assert_eq!(
        report,
        EnqueueReport {
            notifications: 1,
            deliveries_new: 1,
            duplicates: 0,
            unrouted: 0
        }
    );
    assert!(n.wait_idle(IDLE).await);

    let got = rx.received();
    assert_eq!(got.len(), 1);
    let r = &got[0];
    let record = &records(&n, "sub-1")[0];
    assert_eq!(record.status, DeliveryStatus::Delivered);
    assert_eq!(record.attempts, 1);
    assert!(record.delivered_unix_ms.is_some());
    assert_eq!(r.headers["webhook-id"], record.message_id);
    assert!(r.headers["webhook-id"].starts_with("msg_"));
    let ts: i64 = r.headers["webhook-timestamp"].parse().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!((now - ts).abs() < 60, "timestamp {ts} vs now {now}");
    assert_eq!(r.headers["content-type"], "application/json");
    assert_eq!(
        r.headers["user-agent"],
        format!("sectwin/{}", env!("CARGO_PKG_VERSION"))
    );
    assert!(
        verify_signature(&secret.to_whsec(), r),
        "signature does not verify"
    );
    // A wrong secret must not verify (the check is not vacuous).
    assert!(!verify_signature(&WebhookSecret::generate().to_whsec(), r));
    let body: notify::Notification = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(body, note);
    let json: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(json["kind"], "new-vulnerable-device");

    if let Ok(path) = std::env::var("SECTWIN_WEBHOOK_CAPTURE") {
        let capture = serde_json::json!({
            "secret": secret.to_whsec(),
            "headers": {
                "webhook-id": r.headers["webhook-id"],
                "webhook-timestamp": r.headers["webhook-timestamp"],
                "webhook-signature": r.headers["webhook-signature"],
            },
            "body": String::from_utf8(r.body.clone()).unwrap(),
        });
        std::fs::write(&path, serde_json::to_vec_pretty(&capture).unwrap()).unwrap();
    }
    n.shutdown().await;
}

/// What one notification for `acme` came to at a receiver behaving as
/// `behaviour`: what it received, and the delivery record.
struct Outcome {
    got: Vec<Received>,
    record: notify::DeliveryRecord,
    secret: WebhookSecret,
    idle: bool,
}

/// Delivers one notification to a fresh receiver behaving as `behaviour`,
/// waiting at most `idle` for the notifier to have nothing pending (then a
/// little longer, so that a retry that should not happen would show).
async fn deliver_one(behaviour: Behaviour, retry: notify::RetryPolicy, idle: Duration) -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    let rx = Receiver::start(behaviour).await;
    let n = start(dir.path(), retry).await;
    let secret = WebhookSecret::generate();
    n.subscribe(webhook("sub-1", "acme", &rx.url(), &secret, vec![]))
        .unwrap();
    n.enqueue(vec![notification("n1", "acme", K::DeadlineApproaching)])
        .unwrap();
    let idle = n.wait_idle(idle).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let record = records(&n, "sub-1")[0].clone();
    n.shutdown().await;
    Outcome {
        got: rx.received(),
        record,
        secret,
        idle,
    }
}

#[tokio::test]
async fn server_errors_are_retried_with_the_same_webhook_id() {
    let behaviour = Behaviour::FailFirst {
        times: 2,
        status: 500,
        retry_after_s: None,
    };
    let Outcome {
        got,
        record,
        secret,
        idle,
    } = deliver_one(behaviour, retry_fast(), IDLE).await;
    assert!(idle);
    assert_eq!(got.len(), 3);
    assert_eq!(record.status, DeliveryStatus::Delivered);
    assert_eq!(record.attempts, 3);
    assert!(
        record.last_error.as_deref().unwrap().contains("HTTP 500"),
        "{record:?}"
    );
    for r in &got {
        assert_eq!(r.headers["webhook-id"], record.message_id);
        assert!(verify_signature(&secret.to_whsec(), r));
        assert_eq!(
            r.body, got[0].body,
            "the body is the same bytes on every attempt"
        );
    }
}

#[tokio::test]
async fn too_many_requests_honours_retry_after() {
    let behaviour = Behaviour::FailFirst {
        times: 1,
        status: 429,
        retry_after_s: Some(1),
    };
    let mut retry = retry_fast();
    retry.backoff_ms_max = 5_000;
    let out = deliver_one(behaviour, retry, IDLE).await;
    assert!(out.idle);
    assert_eq!(out.got.len(), 2);
    let waited = out.got[1].at - out.got[0].at;
    assert!(
        waited >= Duration::from_millis(950),
        "retried after {waited:?}, not Retry-After: 1"
    );
    assert_eq!(out.record.status, DeliveryStatus::Delivered);
}

#[tokio::test]
async fn retry_after_is_capped_at_backoff_ms_max() {
    let behaviour = Behaviour::FailFirst {
        times: 1,
        status: 429,
        retry_after_s: Some(3600),
    };
    let out = deliver_one(behaviour, retry_fast(), Duration::from_secs(3)).await;
    assert!(out.idle, "Retry-After: 3600 was not capped at 200 ms");
    assert_eq!(out.got.len(), 2);
}

#[tokio::test]
async fn client_errors_fail_without_retry() {
    let behaviour = Behaviour::Always {
        status: 400,
        body: "bad payload: no such stakeholder",
    };
    let out = deliver_one(behaviour, retry_fast(), IDLE).await;
    assert!(out.idle);
    assert_eq!(out.got.len(), 1, "a 400 must not be retried");
    assert_eq!(out.record.status, DeliveryStatus::Failed);
    assert_eq!(out.record.attempts, 1);
    assert_eq!(
        out.record.last_error.as_deref(),
        Some("HTTP 400: bad payload: no such stakeholder")
    );
}

#[tokio::test]
async fn persistent_server_errors_fail_after_attempts_max() {
    let behaviour = Behaviour::Always {
        status: 503,
        body: "down for maintenance",
    };
    let mut retry = retry_fast();
    retry.attempts_max = 3;
    let out = deliver_one(behaviour, retry, IDLE).await;
    assert!(out.idle);
    assert_eq!(out.got.len(), 3);
    assert_eq!(out.record.status, DeliveryStatus::Failed);
    assert_eq!(out.record.attempts, 3);
    assert_eq!(
        out.record.last_error.as_deref(),
        Some("HTTP 503: down for maintenance (gave up after 3 attempts)")
    );
}

#[tokio::test]
async fn a_receiver_that_is_down_then_up_gets_the_delivery() {
    let dir = tempfile::tempdir().unwrap();
    let addr = free_addr();
    let n = start(dir.path(), retry_fast()).await;
    let url = format!("http://{addr}/hook");
    n.subscribe(webhook(
        "sub-1",
        "acme",
        &url,
        &WebhookSecret::generate(),
        vec![],
    ))
    .unwrap();
    n.enqueue(vec![notification("n1", "acme", K::FixedFirmwareAvailable)])
        .unwrap();
    assert!(eventually(IDLE, || records(&n, "sub-1")[0].attempts >= 2).await);
    let record = &records(&n, "sub-1")[0];
    assert_eq!(record.status, DeliveryStatus::Pending);
    assert!(
        record.last_error.as_deref().unwrap().contains("connect"),
        "{record:?}"
    );

    let rx = Receiver::start_on(addr, Behaviour::Accept).await;
    assert!(n.wait_idle(IDLE).await);
    assert_eq!(rx.received().len(), 1);
    let record = &records(&n, "sub-1")[0];
    assert_eq!(record.status, DeliveryStatus::Delivered);
    assert!(record.attempts >= 3);
    n.shutdown().await;
}

#[tokio::test]
async fn pending_deliveries_survive_a_restart_and_arrive_once() {
    let dir = tempfile::tempdir().unwrap();
    let addr = free_addr();
    let url = format!("http://{addr}/hook");
    let secret = WebhookSecret::generate();
    let batch = vec![
        notification("n1", "acme", K::NewVulnerableDevice),
        notification("n2", "acme", K::DeadlineOverdue),
    ];
    {
        let n = start(dir.path(), retry_fast()).await;
        n.subscribe(webhook("sub-a", "acme", &url, &secret, vec![]))
            .unwrap();
        n.subscribe(webhook("sub-b", "acme", &url, &secret, vec![]))
            .unwrap();
        assert_eq!(n.enqueue(batch.clone()).unwrap().deliveries_new, 4);
        assert!(
            eventually(IDLE, || n
                .deliveries(Default::default())
                .iter()
                .all(|r| r.attempts >= 1))
            .await
        );
        n.shutdown().await;
    }
    let n = start(dir.path(), retry_fast()).await;
    assert_eq!(
        n.subscriptions(Some("acme")).len(),
        2,
        "subscriptions are persisted"
    );
    let pending = n.deliveries(Default::default());
    assert_eq!(pending.len(), 4);
    assert!(pending
        .iter()
        .all(|r| r.status == DeliveryStatus::Pending && r.attempts >= 1));
    // Dedupe is persisted too.
    let again = n.enqueue(batch).unwrap();
    assert_eq!((again.deliveries_new, again.duplicates), (0, 4));

    let rx = Receiver::start_on(addr, Behaviour::Accept).await;
    assert!(n.wait_idle(IDLE).await);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut ids: Vec<String> = rx
        .received()
        .iter()
        .map(|r| r.headers["webhook-id"].clone())
        .collect();
    ids.sort();
    let mut expected: Vec<String> = n
        .deliveries(Default::default())
        .into_iter()
        .map(|r| r.message_id)
        .collect();
    expected.sort();
    assert_eq!(
        ids, expected,
        "each (subscription, notification) exactly once"
    );
    assert!(rx
        .received()
        .iter()
        .all(|r| verify_signature(&secret.to_whsec(), r)));
    n.shutdown().await;

    // And delivered records stay delivered across another restart.
    let n = start(dir.path(), retry_fast()).await;
    assert!(n
        .deliveries(Default::default())
        .iter()
        .all(|r| r.status == DeliveryStatus::Delivered));
    assert!(n.wait_idle(Duration::from_millis(50)).await);
    n.shutdown().await;
}

#[tokio::test]
async fn the_same_notification_twice_is_delivered_once() {
    let dir = tempfile::tempdir().unwrap();
    let rx = Receiver::start(Behaviour::Accept).await;
    let n = start(dir.path(), retry_fast()).await;
    n.subscribe(webhook(
        "sub-1",
        "acme",
        &rx.url(),
        &WebhookSecret::generate(),
        vec![],
    ))
    .unwrap();
    let note = notification("n1", "acme", K::NewVulnerableDevice);
    let first = n.enqueue(vec![note.clone(), note.clone()]).unwrap();
    assert_eq!((first.deliveries_new, first.duplicates), (1, 1));
    assert!(n.wait_idle(IDLE).await);
    let second = n.enqueue(vec![note]).unwrap();
    assert_eq!((second.deliveries_new, second.duplicates), (0, 1));
    assert!(n.wait_idle(IDLE).await);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(rx.received().len(), 1);
    n.shutdown().await;
}

#[tokio::test]
async fn fans_out_per_stakeholder_and_filters_kinds() {
    let dir = tempfile::tempdir().unwrap();
    let all = Receiver::start(Behaviour::Accept).await;
    let overdue = Receiver::start(Behaviour::Accept).await;
    let other = Receiver::start(Behaviour::Accept).await;
    let n = start(dir.path(), retry_fast()).await;
    let s = WebhookSecret::generate();
    n.subscribe(webhook("acme-all", "acme", &all.url(), &s, vec![]))
        .unwrap();
    n.subscribe(webhook(
        "acme-overdue",
        "acme",
        &overdue.url(),
        &s,
        vec![K::DeadlineOverdue],
    ))
    .unwrap();
    n.subscribe(webhook(
        "globex",
        "globex",
        &other.url(),
        &s,
        vec![K::VexChanged, K::NewVulnerableDevice],
    ))
    .unwrap();
    let report = n
        .enqueue(vec![
            notification("a1", "acme", K::NewVulnerableDevice),
            notification("a2", "acme", K::DeadlineOverdue),
            notification("g1", "globex", K::VexChanged),
            notification("g2", "globex", K::DeadlineApproaching),
            notification("i1", "initech", K::VexChanged),
        ])
        .unwrap();
    assert_eq!(
        report,
        EnqueueReport {
            notifications: 5,
            deliveries_new: 4,
            duplicates: 0,
            unrouted: 2
        }
    );
    assert!(n.wait_idle(IDLE).await);
    let ids = |rx: &Receiver| {
        let mut v: Vec<String> = rx
            .received()
            .iter()
            .map(|r| {
                serde_json::from_slice::<notify::Notification>(&r.body)
                    .unwrap()
                    .id
            })
            .collect();
        v.sort();
        v
    };
    assert_eq!(ids(&all), ["a1", "a2"]);
    assert_eq!(ids(&overdue), ["a2"]);
    assert_eq!(ids(&other), ["g1"]);
    assert_eq!(n.subscriptions(Some("acme")).len(), 2);
    assert_eq!(n.subscriptions(None).len(), 3);
    let globex = n.deliveries(notify::DeliveryFilter {
        stakeholder: Some("globex".into()),
        ..Default::default()
    });
    assert_eq!(globex.len(), 1);
    n.shutdown().await;
}

#[tokio::test]
async fn a_slow_endpoint_does_not_block_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let slow = Receiver::start(Behaviour::Slow { delay_ms: 1_500 }).await;
    let fast = Receiver::start(Behaviour::Accept).await;
    let n = start(dir.path(), retry_fast()).await;
    let s = WebhookSecret::generate();
    n.subscribe(webhook("slow", "slowco", &slow.url(), &s, vec![]))
        .unwrap();
    n.subscribe(webhook("fast", "fastco", &fast.url(), &s, vec![]))
        .unwrap();
    let mut batch: Vec<_> = (0..20)
        .map(|i| notification(&format!("s{i}"), "slowco", K::VexChanged))
        .collect();
    batch.push(notification("f1", "fastco", K::VexChanged));
    n.enqueue(batch).unwrap();
    let t0 = std::time::Instant::now();
    assert!(eventually(IDLE, || fast.received().len() == 1).await);
    assert!(
        t0.elapsed() < Duration::from_millis(1_000),
        "fast waited {:?}",
        t0.elapsed()
    );
    // The slow one is bounded per subscription.
    assert!(slow.received().len() <= notify::SUBSCRIPTION_IN_FLIGHT_MAX);
    n.shutdown().await;
}

#[tokio::test]
async fn rejects_invalid_subscriptions_and_notifications() {
    let dir = tempfile::tempdir().unwrap();
    let n = start(dir.path(), retry_fast()).await;
    let s = WebhookSecret::generate();
    let reason = |r: Result<(), NotifyError>| match r {
        Err(NotifyError::InvalidSubscription { reason, .. }) => reason,
        other => panic!("expected InvalidSubscription, got {other:?}"),
    };
    assert_eq!(
        reason(n.subscribe(webhook("x", "acme", "ftp://example.com/hook", &s, vec![]))),
        "url scheme must be http or https"
    );
    assert!(
        reason(n.subscribe(webhook("x", "acme", "not a url", &s, vec![]))).starts_with("url: ")
    );
    assert_eq!(
        reason(n.subscribe(webhook("", "acme", "http://h/", &s, vec![]))),
        "id is empty"
    );
    assert_eq!(
        reason(n.subscribe(webhook("x", "", "http://h/", &s, vec![]))),
        "stakeholder is empty"
    );
    assert_eq!(
        reason(n.subscribe(webhook("x", "a/b", "http://h/", &s, vec![]))),
        "stakeholder contains '/', '+' or '#'"
    );
    let mqtt = |prefix: &str| Subscription {
        id: "m".into(),
        stakeholder: "acme".into(),
        target: Target::Mqtt {
            topic_prefix: prefix.into(),
        },
        kinds: vec![],
    };
    // Without a broker configured, MQTT subscriptions are refused after validation.
    assert_eq!(
        reason(n.subscribe(mqtt("alerts/+"))),
        "topic prefix contains a wildcard ('+' or '#')"
    );
    assert_eq!(
        reason(n.subscribe(mqtt("alerts/#"))),
        "topic prefix contains a wildcard ('+' or '#')"
    );
    assert_eq!(
        n.subscribe(mqtt("alerts")),
        Err(NotifyError::MqttNotConfigured("m".into()))
    );
    assert!(n.subscriptions(None).is_empty());

    n.subscribe(webhook("x", "acme", "https://example.com/hook", &s, vec![]))
        .unwrap();
    // Same id replaces.
    n.subscribe(webhook("x", "acme", "https://example.org/hook", &s, vec![]))
        .unwrap();
    assert_eq!(n.subscriptions(None).len(), 1);

    let mut big = notification("big", "acme", K::VexChanged);
    big.detail = serde_json::json!({"blob": "x".repeat(BODY_BYTES_MAX)});
    let small = notification("small", "acme", K::VexChanged);
    match n.enqueue(vec![small, big]) {
        Err(NotifyError::BodyTooLarge { id, bytes }) => {
            assert_eq!(id, "big");
            assert!(bytes > BODY_BYTES_MAX);
        }
        other => panic!("expected BodyTooLarge, got {other:?}"),
    }
    assert!(
        n.deliveries(Default::default()).is_empty(),
        "all or nothing"
    );
    match n.enqueue(vec![notification("", "acme", K::VexChanged)]) {
        Err(NotifyError::InvalidNotification { reason, .. }) => assert_eq!(reason, "id is empty"),
        other => panic!("expected InvalidNotification, got {other:?}"),
    }

    assert_eq!(
        n.unsubscribe("beta", "x"),
        Ok(false),
        "ids are per stakeholder"
    );
    assert_eq!(n.unsubscribe("acme", "x"), Ok(true));
    assert_eq!(n.unsubscribe("acme", "x"), Ok(false));
    n.shutdown().await;
}

#[tokio::test]
async fn unsubscribing_fails_its_pending_deliveries() {
    let dir = tempfile::tempdir().unwrap();
    let addr = free_addr();
    let mut retry = retry_fast();
    retry.backoff_ms_initial = 2_000;
    retry.backoff_ms_max = 2_000;
    let n = start(dir.path(), retry).await;
    n.subscribe(webhook(
        "sub-1",
        "acme",
        &format!("http://{addr}/hook"),
        &WebhookSecret::generate(),
        vec![],
    ))
    .unwrap();
    n.enqueue(vec![notification("n1", "acme", K::VexChanged)])
        .unwrap();
    assert!(eventually(IDLE, || records(&n, "sub-1")[0].attempts >= 1).await);
    assert_eq!(n.unsubscribe("acme", "sub-1"), Ok(true));
    assert!(n.wait_idle(Duration::from_millis(1_000)).await);
    let record = &records(&n, "sub-1")[0];
    assert_eq!(record.status, DeliveryStatus::Failed);
    assert_eq!(record.last_error.as_deref(), Some("subscription removed"));
    n.shutdown().await;
}

/// Issue 13, item 8 (server-side request forgery): a subscriber may not make
/// the node call loopback, private or link-local addresses (its own
/// services, the cloud metadata endpoint) unless the node allows it.
#[tokio::test]
async fn webhooks_to_private_addresses_are_refused_unless_the_node_allows_them() {
    let dir = tempfile::tempdir().expect("dir");
    let secret = WebhookSecret::generate();
    let mut config = notify::NotifierConfig::new(dir.path().join("outbox"));
    config.retry = retry_fast();
    let strict = notify::Notifier::start(config).await.expect("start");
    for (url, kind) in [
        ("http://127.0.0.1:8080/hook", "loopback"),
        ("http://[::1]/hook", "loopback"),
        ("http://169.254.169.254/latest/meta-data", "link-local"),
        ("http://10.0.0.7/hook", "private"),
        ("http://192.168.1.1/hook", "private"),
        ("http://[fd00::1]/hook", "unique local"),
        ("http://[::ffff:127.0.0.1]/hook", "loopback"),
        ("http://localhost:9000/hook", "loopback name"),
    ] {
        let e = strict
            .subscribe(webhook("s", "op.example", url, &secret, vec![]))
            .expect_err(url)
            .to_string();
        assert!(
            e.contains(kind) && e.contains("public addresses only"),
            "{url}: {e}"
        );
    }
    strict
        .subscribe(webhook(
            "s",
            "op.example",
            "https://hooks.example.com/x",
            &secret,
            vec![],
        ))
        .expect("a public name");
    strict.shutdown().await;
    // A node that allows them (its subscribers share its network).
    let dir = tempfile::tempdir().expect("dir");
    let lab = start(dir.path(), retry_fast()).await;
    lab.subscribe(webhook(
        "s",
        "op.example",
        "http://127.0.0.1:8080/hook",
        &secret,
        vec![],
    ))
    .expect("allowed by configuration");
    lab.shutdown().await;
}

/// Issue 13, item 10: a full disk refuses a subscription (nothing changes),
/// and once space is back subscribing works again without a restart (the
/// outbox reopens its keyspace after a failed write); both survive a restart.
#[tokio::test]
async fn a_full_disk_refuses_subscriptions_and_they_work_again_once_space_is_back() {
    let outer = tempfile::tempdir().unwrap();
    let fs = testkit::Tmpfs::mount(&outer.path().join("fs"), "8m");
    let s = WebhookSecret::generate();
    let hook = |id: &str| webhook(id, "acme", "https://example.com/hook", &s, vec![]);
    let n = start(fs.dir(), retry_fast()).await;
    n.subscribe(hook("a")).expect("room for one");
    let filler = fs.fill();
    // The journal's last page may still take a few small writes.
    let mut accepted = vec!["a".to_string()];
    let mut refused = false;
    for i in 0..1000 {
        let id = format!("b{i:04}");
        match n.subscribe(hook(&id)) {
            Ok(()) => accepted.push(id),
            Err(NotifyError::Storage(_)) => {
                refused = true;
                break;
            }
            Err(other) => panic!("expected a storage error on a full disk, got {other:?}"),
        }
    }
    assert!(refused, "a full disk never refused a subscription");
    // Still full: refused again, and what was accepted is intact.
    assert!(matches!(
        n.subscribe(hook("late")),
        Err(NotifyError::Storage(_))
    ));
    let ids = |n: &notify::Notifier| -> Vec<String> {
        n.subscriptions(Some("acme"))
            .into_iter()
            .map(|s| s.id)
            .collect()
    };
    assert_eq!(ids(&n), accepted);
    std::fs::remove_file(filler).expect("free the space");
    n.subscribe(hook("late"))
        .expect("subscribing works again once space is back, without a restart");
    accepted.push("late".to_string());
    assert_eq!(ids(&n), accepted);
    n.shutdown().await;
    let n = start(fs.dir(), retry_fast()).await;
    assert_eq!(ids(&n), accepted, "all durable");
    n.shutdown().await;
}

#[tokio::test]
async fn delivery_times_follow_the_injected_clock() {
    const T0_MS: u64 = 1_800_000_000_000;
    let dir = tempfile::tempdir().unwrap();
    let behaviour = Behaviour::FailFirst {
        times: 1,
        status: 503,
        retry_after_s: Some(30),
    };
    let rx = Receiver::start(behaviour).await;
    let clock = std::sync::Arc::new(clock::FixedClock::at(T0_MS));
    let mut config = notify::NotifierConfig::new(dir.path().join("outbox"));
    config.retry = notify::RetryPolicy {
        backoff_ms_max: 60_000,
        ..retry_fast()
    };
    config.webhooks_to_private_addresses = true;
    let n = notify::Notifier::start_with_clock(config, clock.clone())
        .await
        .unwrap();
    let secret = WebhookSecret::generate();
    n.subscribe(webhook("sub-1", "acme", &rx.url(), &secret, vec![]))
        .unwrap();
    let note = notification("n1", "acme", K::DeadlineApproaching);
    n.enqueue(vec![note.clone()]).unwrap();

    // The first attempt is refused with Retry-After: 30, so the retry is due
    // 30 s after the first attempt by the notifier's clock, which stands still.
    assert!(eventually(IDLE, || records(&n, "sub-1")[0].attempts == 1).await);
    let record = records(&n, "sub-1")[0].clone();
    assert_eq!(record.status, DeliveryStatus::Pending);
    assert_eq!(record.enqueued_unix_ms, T0_MS as i64);
    assert_eq!(record.next_attempt_unix_ms, T0_MS as i64 + 30_000);
    assert_eq!(
        rx.received()[0].headers["webhook-timestamp"],
        (T0_MS / 1000).to_string()
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(rx.received().len(), 1, "not retried before it is due");

    // Once the clock reaches the due time, the dispatcher's next look (an
    // enqueue wakes it; this one is a duplicate) retries.
    clock.set(T0_MS + 30_000);
    let again = n.enqueue(vec![note]).unwrap();
    assert_eq!(again.duplicates, 1);
    assert!(n.wait_idle(IDLE).await);
    let record = records(&n, "sub-1")[0].clone();
    assert_eq!(record.status, DeliveryStatus::Delivered);
    assert_eq!(record.attempts, 2);
    assert_eq!(record.delivered_unix_ms, Some(T0_MS as i64 + 30_000));
    let got = rx.received();
    assert_eq!(got.len(), 2);
    assert_eq!(
        got[1].headers["webhook-timestamp"],
        ((T0_MS + 30_000) / 1000).to_string()
    );
    assert!(verify_signature(&secret.to_whsec(), &got[1]));
    n.shutdown().await;
}

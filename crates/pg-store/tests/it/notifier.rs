//! Two notifiers on one PostgreSQL outbox, as two nodes of a cluster run
//! them: only the active one enqueues and delivers, a subscription made
//! through the passive one reaches the active one, and when the roles swap
//! the newly active one resumes what was pending and does not send again
//! what was sent. Deliveries cross a real socket (an axum receiver).

use std::sync::Arc;
use std::time::{Duration, Instant};

use notify::{
    DeliveryFilter, DeliveryStatus, Notification, NotificationKind, Notifier, NotifierConfig,
    NotifyError, Subscription, Target, WebhookSecret,
};
use parking_lot::Mutex;
use pg_store::PgOutbox;

use crate::support::Schema;

fn incident(id: &str) -> Notification {
    Notification {
        id: id.to_string(),
        kind: NotificationKind::Incident,
        stakeholder: "op.example".into(),
        subject: "device:door-1".into(),
        vulnerability: None,
        severity: Some("high".into()),
        deadline: None,
        summary: format!("incident {id}"),
        detail: serde_json::json!({}),
        created_unix_s: 1_800_000_000,
    }
}

/// A webhook receiver on 127.0.0.1: the `webhook-id`s it got, in order.
async fn receiver() -> (String, Arc<Mutex<Vec<String>>>) {
    let got: Arc<Mutex<Vec<String>>> = Arc::default();
    let g = got.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: axum::http::HeaderMap| {
            let g = g.clone();
            async move {
                let id = headers
                    .get("webhook-id")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string();
                g.lock().push(id);
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

async fn node(schema: &Schema) -> Notifier {
    let mut config = NotifierConfig::new("unused");
    config.webhooks_to_private_addresses = true;
    let outbox = Arc::new(PgOutbox::open(&schema.options).expect("open the outbox"));
    Notifier::start_on(config, outbox, Arc::new(clock::SystemClock))
        .await
        .expect("start")
}

async fn eventually(what: &str, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !ok() {
        assert!(Instant::now() < deadline, "not within 10 s: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[test]
fn one_notifier_of_a_shared_outbox_sends_and_a_takeover_sends_nothing_twice() {
    // The schema is made and dropped off the runtime (the synchronous client).
    let schema = Schema::new("notifier");
    pg_store::migrate(&schema.options).expect("migrate");
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(two_nodes(&schema));
}

async fn two_nodes(schema: &Schema) {
    let (hook, got) = receiver().await;
    let a = node(schema).await;
    let b = node(schema).await;
    assert!(
        !a.is_active() && !b.is_active(),
        "a shared outbox starts passive"
    );
    a.set_active(true).expect("a active");

    // Subscribed through the passive node, seen by the active one.
    b.subscribe(Subscription {
        id: "ops".into(),
        stakeholder: "op.example".into(),
        target: Target::Webhook {
            url: hook,
            secret: WebhookSecret::generate(),
        },
        kinds: vec![],
    })
    .expect("subscribe through b");
    eventually("a sees b's subscription", || {
        a.subscriptions(None).len() == 1
    })
    .await;

    // Only the active node enqueues.
    assert_eq!(
        b.enqueue(vec![incident("i-1")]),
        Err(NotifyError::Passive),
        "a passive notifier refuses to enqueue"
    );
    let report = a
        .enqueue(vec![incident("i-1"), incident("i-2")])
        .expect("enqueue on a");
    assert_eq!(report.deliveries_new, 2);
    eventually("two deliveries", || got.lock().len() == 2).await;
    eventually("both recorded as delivered", || {
        b.deliveries(DeliveryFilter {
            status: Some(DeliveryStatus::Delivered),
            ..DeliveryFilter::default()
        })
        .len()
            == 2
    })
    .await;

    // The roles swap. The newly active node knows what was sent: the same
    // notifications again are duplicates; a new one is sent once.
    a.set_active(false).expect("a passive");
    b.set_active(true).expect("b active");
    let report = b
        .enqueue(vec![incident("i-1"), incident("i-2"), incident("i-3")])
        .expect("enqueue on b");
    assert_eq!(
        (report.deliveries_new, report.duplicates),
        (1, 2),
        "{report:?}"
    );
    eventually("the third delivery", || got.lock().len() == 3).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let ids = got.lock().clone();
    let distinct: std::collections::BTreeSet<&String> = ids.iter().collect();
    assert_eq!(distinct.len(), 3, "each notification sent once: {ids:?}");

    // A removal through the passive node reaches the active one.
    assert!(a
        .unsubscribe("op.example", "ops")
        .expect("unsubscribe through a"));
    eventually("b sees the removal", || b.subscriptions(None).is_empty()).await;
    a.shutdown().await;
    b.shutdown().await;
}

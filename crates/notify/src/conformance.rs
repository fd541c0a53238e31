//! The conformance suite of the outbox's storage contract (feature
//! `testing`): what every [`OutboxStore`] must do, checked the same way on
//! the embedded outbox and on each other implementation (`pg-store`'s tests
//! run it against a real PostgreSQL server).
//!
//! [`check`] takes a function that opens the store under test on the same
//! backing storage each time it is called (the previous handle dropped
//! first, as a restarted process would), and walks the contract clause by
//! clause: an empty store; subscriptions stored, replaced, kept apart per
//! stakeholder and removed, with the version moving on a shared store;
//! deliveries inserted all at once with their bodies, a second insert of a
//! stored pair leaving it untouched; updates, finished ones dropping the
//! body; pruning; and everything read back after a reopen. A failed clause
//! panics with what was expected and what was found.

use std::sync::Arc;

use crate::model::{DeliveryRecord, DeliveryStatus, NotificationKind, Subscription, Target};
use crate::outbox::{record_key, OutboxError, OutboxStore};
use crate::secret::WebhookSecret;

fn ok<T>(what: &str, r: Result<T, OutboxError>) -> T {
    match r {
        Ok(t) => t,
        Err(e) => panic!("{what}: {e}"),
    }
}

fn webhook(stakeholder: &str, id: &str, url: &str) -> Subscription {
    Subscription {
        id: id.to_string(),
        stakeholder: stakeholder.to_string(),
        target: Target::Webhook {
            url: url.to_string(),
            secret: WebhookSecret::generate(),
        },
        kinds: vec![
            NotificationKind::Incident,
            NotificationKind::DeadlineOverdue,
        ],
    }
}

fn record(stakeholder: &str, subscription: &str, notification: &str, seq: u64) -> DeliveryRecord {
    DeliveryRecord {
        subscription: subscription.to_string(),
        notification: notification.to_string(),
        kind: NotificationKind::Incident,
        stakeholder: stakeholder.to_string(),
        message_id: format!("msg_{seq:032x}"),
        attempts: 0,
        status: DeliveryStatus::Pending,
        last_error: None,
        next_attempt_unix_ms: 1_800_000_000_000 + i64::try_from(seq).unwrap_or(0),
        delivered_unix_ms: None,
        enqueued_unix_ms: 1_800_000_000_000,
        seq,
    }
}

fn body(seq: u64) -> Arc<Vec<u8>> {
    // Arbitrary bytes, NUL and non-UTF-8 included: the store never reads them.
    Arc::new(
        (0..(17 + seq * 13) as usize)
            .map(|i| (i as u64 * 7 + seq) as u8)
            .collect(),
    )
}

fn sorted_subscriptions(store: &dyn OutboxStore) -> Vec<Subscription> {
    let mut s = ok("subscriptions", store.subscriptions());
    s.sort_by(|a, b| (&a.stakeholder, &a.id).cmp(&(&b.stakeholder, &b.id)));
    s
}

fn sorted_deliveries(store: &dyn OutboxStore) -> Vec<DeliveryRecord> {
    let mut d = ok("deliveries", store.deliveries());
    d.sort_by_key(|r| r.seq);
    d
}

/// Runs the suite on the store `open` opens (called again for each reopen).
pub fn check<S: OutboxStore>(open: impl Fn() -> S) {
    let store = open();
    assert!(
        ok("subscriptions", store.subscriptions()).is_empty(),
        "a new outbox has no subscription"
    );
    assert!(
        ok("deliveries", store.deliveries()).is_empty(),
        "a new outbox has no delivery"
    );
    assert_eq!(
        ok("body", store.body(&record_key(&record("a", "s", "n", 0)))),
        None,
        "a new outbox has no body"
    );
    subscriptions(&store);
    deliveries(&store);
    let before = (sorted_subscriptions(&store), sorted_deliveries(&store));
    let bodies: Vec<Option<Vec<u8>>> = before
        .1
        .iter()
        .map(|r| ok("body", store.body(&record_key(r))))
        .collect();
    ok("sync", store.sync());
    drop(store);
    let store = open();
    assert_eq!(
        (sorted_subscriptions(&store), sorted_deliveries(&store)),
        before,
        "a reopened outbox holds what was stored"
    );
    let after: Vec<Option<Vec<u8>>> = before
        .1
        .iter()
        .map(|r| ok("body", store.body(&record_key(r))))
        .collect();
    assert_eq!(after, bodies, "a reopened outbox holds the bodies");
}

fn subscriptions(store: &dyn OutboxStore) {
    let v0 = ok("version", store.subscriptions_version());
    let a = webhook("acme", "ops", "https://a.example/hook");
    let b = webhook("globex", "ops", "https://b.example/hook");
    let c = webhook("acme", "sécurité/ünïcode", "https://c.example/hook");
    for s in [&a, &b, &c] {
        ok("put_subscription", store.put_subscription(s));
    }
    let v1 = ok("version", store.subscriptions_version());
    if store.shared() {
        assert_ne!(
            v0, v1,
            "a shared store's version moves with each subscription write"
        );
    }
    let mut want = vec![a.clone(), c.clone(), b.clone()];
    want.sort_by(|x, y| (&x.stakeholder, &x.id).cmp(&(&y.stakeholder, &y.id)));
    assert_eq!(
        sorted_subscriptions(store),
        want,
        "two stakeholders' subscriptions with one id are kept apart"
    );
    // Replacing keeps one subscription per (stakeholder, id).
    let a2 = Subscription {
        target: Target::Mqtt {
            topic_prefix: "sectwin/alerts".into(),
        },
        kinds: vec![],
        ..a.clone()
    };
    ok("put_subscription (replace)", store.put_subscription(&a2));
    let got = sorted_subscriptions(store);
    assert_eq!(
        got.len(),
        3,
        "a replaced subscription is stored once: {got:?}"
    );
    assert!(got.contains(&a2), "the replacement is stored");
    assert!(!got.contains(&a), "the replaced subscription is gone");
    // Removal is per stakeholder; removing an absent one is a no-op.
    ok(
        "remove_subscription",
        store.remove_subscription("globex", "ops"),
    );
    ok(
        "remove_subscription (absent)",
        store.remove_subscription("nobody", "ops"),
    );
    let got = sorted_subscriptions(store);
    assert!(
        got.contains(&a2) && got.contains(&c) && !got.contains(&b),
        "only globex's \"ops\" is removed: {got:?}"
    );
    let v2 = ok("version", store.subscriptions_version());
    if store.shared() {
        assert_ne!(v1, v2, "a removal moves a shared store's version");
    }
}

fn deliveries(store: &dyn OutboxStore) {
    let batch: Vec<(DeliveryRecord, Arc<Vec<u8>>)> = (0..40)
        .map(|i| {
            let who = if i % 3 == 0 { "globex" } else { "acme" };
            (record(who, "ops", &format!("n-{i}"), i), body(i))
        })
        .collect();
    ok("insert_deliveries", store.insert_deliveries(&batch));
    let want: Vec<DeliveryRecord> = batch.iter().map(|(r, _)| r.clone()).collect();
    assert_eq!(
        sorted_deliveries(store),
        want,
        "every inserted record is stored"
    );
    for (r, b) in &batch {
        assert_eq!(
            ok("body", store.body(&record_key(r))).as_deref(),
            Some(b.as_slice()),
            "the body of {}",
            r.notification
        );
    }
    // A pair already stored is left as it is, record and body.
    let mut again = record("acme", "ops", "n-1", 1);
    again.attempts = 9;
    again.message_id = "msg_other".into();
    let fresh = record("acme", "ops", "n-40", 40);
    ok(
        "insert_deliveries (one stored, one new)",
        store.insert_deliveries(&[
            (again, Arc::new(b"other body".to_vec())),
            (fresh.clone(), body(40)),
        ]),
    );
    let got = sorted_deliveries(store);
    assert_eq!(got.len(), 41, "the stored pair is not stored twice");
    assert_eq!(got[1], want[1], "a stored record is not overwritten");
    assert_eq!(
        ok("body", store.body(&record_key(&want[1]))).as_deref(),
        Some(body(1).as_slice()),
        "a stored body is not overwritten"
    );
    assert_eq!(got[40], fresh, "the new pair of the batch is stored");
    // An empty batch is fine.
    ok("insert_deliveries (empty)", store.insert_deliveries(&[]));

    // A retry keeps the body; a finished delivery drops it.
    let mut retried = want[2].clone();
    retried.attempts = 1;
    retried.last_error = Some("HTTP 503".into());
    retried.next_attempt_unix_ms += 5_000;
    ok(
        "update_delivery (retry)",
        store.update_delivery(&retried, false),
    );
    let mut done = want[3].clone();
    done.attempts = 1;
    done.status = DeliveryStatus::Delivered;
    done.delivered_unix_ms = Some(1_800_000_001_000);
    ok(
        "update_delivery (delivered)",
        store.update_delivery(&done, true),
    );
    let mut failed = want[4].clone();
    failed.attempts = 12;
    failed.status = DeliveryStatus::Failed;
    failed.last_error = Some("gave up".into());
    ok(
        "update_delivery (failed)",
        store.update_delivery(&failed, true),
    );
    let got = sorted_deliveries(store);
    assert_eq!(got[2], retried, "a retried record is updated");
    assert_eq!(got[3], done, "a delivered record is updated");
    assert_eq!(got[4], failed, "a failed record is updated");
    assert_eq!(
        ok("body", store.body(&record_key(&retried))).as_deref(),
        Some(body(2).as_slice()),
        "a pending delivery keeps its body"
    );
    assert_eq!(
        ok("body", store.body(&record_key(&done))),
        None,
        "a delivered delivery's body is dropped"
    );
    assert_eq!(
        ok("body", store.body(&record_key(&failed))),
        None,
        "a failed delivery's body is dropped"
    );

    // Pruning forgets records and bodies; unknown keys are ignored.
    let pruned = vec![
        record_key(&done),
        record_key(&failed),
        record_key(&record("x", "y", "never-stored", 99)),
    ];
    ok("remove_deliveries", store.remove_deliveries(&pruned));
    ok("remove_deliveries (none)", store.remove_deliveries(&[]));
    let got = sorted_deliveries(store);
    assert_eq!(got.len(), 39, "two records pruned");
    assert!(
        !got.iter()
            .any(|r| r.notification == "n-3" || r.notification == "n-4"),
        "the pruned records are gone"
    );
    assert_eq!(ok("body", store.body(&record_key(&want[3]))), None);
}

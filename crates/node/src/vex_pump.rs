//! The VEX contradiction pump of a node: when the twins change (and at
//! least every interval) it brings a [`service::vex_check::FleetWatch`] up
//! to date (the devices the projector's change journal names; every device
//! of the concerned models when the conditioned `not_affected` statements
//! change) and tells each manufacturer whose statement devices contradict:
//! a `vex-contradicted` notification naming the vulnerability, the
//! statement's entry, how many devices contradict it and the ids of those
//! whose reports the operators' sharing policies let it read. The read
//! records of what the ids disclose are written before the notification is
//! enqueued; one that cannot be written is tried again at the next round.
//!
//! A notice is told once per (statement, count, ids named): the pump
//! remembers what it enqueued, and after a restart the outbox's dedupe by
//! (subscription, notification id) keeps a recipient from hearing it twice.
//! While changes stream in it rests as long as its last round took, so it
//! spends at most half of its time checking.
//!
//! Deliberately absent: the check itself (`service::vex_check`,
//! `posture::vex`) and delivery (`notify`).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use clock::Clock;
use service::vex_check::{FleetWatch, VexCheck, VexNotice};
use twin_store::{Projector, RiskService};

/// The notification a notice makes, created at `now_unix_s`.
pub fn notification(n: &VexNotice, now_unix_s: i64) -> notify::Notification {
    notify::Notification {
        id: n.id.clone(),
        kind: notify::NotificationKind::VexContradicted,
        stakeholder: n.recipient.clone(),
        subject: format!("{}@{}", n.model, n.release),
        vulnerability: Some(n.vulnerability.clone()),
        severity: Some(n.severity.as_str().to_string()),
        deadline: None,
        summary: n.summary(),
        detail: serde_json::json!({
            "rule": service::vex_check::RULE_ID,
            "vex_entry": n.vex_entry,
            "model": n.model,
            "release": n.release,
            "component": n.component,
            "conditions": n.conditions,
            "devices_contradicting": n.devices_contradicting,
            "devices": n.devices,
            "devices_withheld": n.devices_withheld,
        }),
        created_unix_s: now_unix_s,
    }
}

/// One round: the watch updated, and the notifications of the notices
/// `subscribed` recipients were not told yet, their read records written.
/// Answers the ids of every notice of this round (what may be forgotten).
fn round(
    watch: &mut FleetWatch,
    reads: &service::ReadRecorder,
    subscribed: &HashSet<String>,
    told: &HashSet<String>,
    now_unix_s: i64,
) -> Result<(Vec<notify::Notification>, HashSet<String>), service::ServiceError> {
    watch.update()?;
    let notices = watch.notices(now_unix_s);
    let current = notices.iter().map(|n| n.id.clone()).collect();
    let mut out = Vec::new();
    for n in notices {
        if !subscribed.contains(&n.recipient) || told.contains(&n.id) {
            continue;
        }
        if let Err(e) = n.record(reads) {
            tracing::warn!(notice = n.id, "recording what a VEX notice discloses: {e}");
            continue;
        }
        out.push(notification(&n, now_unix_s));
    }
    Ok((out, current))
}

/// Starts the pump over `projector`'s twins, rating vulnerabilities with
/// `risks`' advisories, recording reads with `reads`, enqueueing in
/// `notifier`; times are `clock`'s.
pub fn start(
    projector: Projector,
    risks: Arc<RiskService>,
    reads: service::ReadRecorder,
    notifier: notify::Notifier,
    interval: Duration,
    clock: Arc<dyn Clock>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut sizes = projector.sizes();
        let mut watch = Some(FleetWatch::new(
            projector.clone(),
            VexCheck::new(Some(risks.clone())),
        ));
        let mut told: HashSet<String> = HashSet::new();
        let mut took = Duration::ZERO;
        let mut first = true;
        loop {
            if !first {
                tokio::select! {
                    () = tokio::time::sleep(interval) => {}
                    r = sizes.changed() => {
                        if r.is_err() {
                            // The projector stopped: nothing will change.
                            return;
                        }
                    }
                }
                tokio::time::sleep(took.min(interval)).await;
            }
            first = false;
            if !notifier.is_active() {
                // Another node of the cluster sends notifications.
                told.clear();
                continue;
            }
            let subscribed: HashSet<String> = notifier
                .subscriptions(None)
                .into_iter()
                .map(|s| s.stakeholder)
                .collect();
            if subscribed.is_empty() {
                // Nobody to tell.
                continue;
            }
            let mut w = match watch.take() {
                Some(w) => w,
                None => FleetWatch::new(projector.clone(), VexCheck::new(Some(risks.clone()))),
            };
            let now = clock.now_unix_s();
            let started = std::time::Instant::now();
            let r = reads.clone();
            let t = told.clone();
            let done = tokio::task::spawn_blocking(move || {
                let result = round(&mut w, &r, &subscribed, &t, now);
                (w, result)
            })
            .await;
            took = started.elapsed();
            let (w, result) = match done {
                Ok(done) => done,
                Err(e) => {
                    // The watch is lost with the thread: a new one rescans.
                    tracing::error!("checking VEX against the fleet: {e}");
                    continue;
                }
            };
            watch = Some(w);
            let (batch, current) = match result {
                Ok(r) => r,
                Err(e) => {
                    tracing::error!("checking VEX against the fleet: {e}");
                    continue;
                }
            };
            told.retain(|id| current.contains(id));
            if batch.is_empty() {
                continue;
            }
            let ids: Vec<String> = batch.iter().map(|n| n.id.clone()).collect();
            match notifier.enqueue(batch) {
                Ok(_) => told.extend(ids),
                // Tried again at the next round.
                Err(e) => tracing::warn!("enqueueing VEX notices: {e}"),
            }
        }
    })
}

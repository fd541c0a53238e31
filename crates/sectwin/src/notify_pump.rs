//! The notification pump of a node: every interval it takes the risk
//! register (rebuilt only when the twins, the advisories or the day
//! changed), compares it with the previous one (`register::notifications`),
//! keeps for each recipient only what its sharing policy lets it see
//! (`twin_store::risks::may_see`), and enqueues the rest in the durable
//! outbox of a [`notify::Notifier`], after VEX and policy evaluation, never
//! before.
//!
//! The pump wakes when the twins or the advisories change (and at least
//! every interval, for the day's deadlines). The register is built
//! incrementally ([`RiskService::register`]), and when only some
//! vulnerabilities' risks were built again, only those are compared
//! ([`register::notifications_for`]). A long build delays the next by up to
//! four times its length.
//!
//! After a restart the first register is compared with an empty one; the
//! outbox deduplicates by (subscription, notification id), so a recipient
//! is not told twice what it was told before.
//!
//! Deliberately absent: delivery (crate `notify`) and risk logic.

use std::sync::Arc;
use std::time::Duration;

use register::{Event, Register};
use twin_store::{Projector, RiskService};

/// Days before a deadline at which "deadline approaching" is sent.
pub const APPROACHING_DAYS: u32 = register::APPROACHING_DAYS_DEFAULT;

fn kind_of(k: register::EventKind) -> notify::NotificationKind {
    use notify::NotificationKind as N;
    use register::EventKind as E;
    match k {
        E::NewVulnerableDevice => N::NewVulnerableDevice,
        E::FixedFirmwareAvailable => N::FixedFirmwareAvailable,
        E::DeadlineApproaching => N::DeadlineApproaching,
        E::DeadlineOverdue => N::DeadlineOverdue,
        E::VexChanged => N::VexChanged,
    }
}

/// The notifications `events` call for, one per recipient allowed to see it
/// among `subscribed` (the stakeholders with a subscription: nobody else
/// would be told anything).
pub fn notifications_for(
    projector: &Projector,
    events: &[Event],
    subscribed: &std::collections::HashSet<String>,
) -> Result<Vec<notify::Notification>, twin_store::StoreError> {
    let meta = projector.meta();
    let store = projector.store();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    // A device's twin, read once per batch.
    let mut twins: std::collections::HashMap<&str, Option<twin::projection::Twin>> =
        std::collections::HashMap::new();
    let mut out = Vec::new();
    for e in events {
        for r in &e.recipients {
            if !subscribed.contains(r) {
                continue;
            }
            let reader = twin::StakeholderId(r.clone());
            let allowed = match &e.risk {
                Some(risk) => match &risk.device {
                    Some(device) => {
                        let twin = match twins.entry(device.as_str()) {
                            std::collections::hash_map::Entry::Occupied(o) => o.into_mut(),
                            std::collections::hash_map::Entry::Vacant(v) => {
                                v.insert(store.twin(&twin::DeviceId(device.clone()))?)
                            }
                        };
                        twin.as_ref().is_some_and(|t| {
                            twin_store::risks::may_see_twin(&meta, t, &reader, risk, now)
                        })
                    }
                    None => twin_store::risks::may_see(&meta, store, &reader, risk, now)?,
                },
                None => true,
            };
            if !allowed {
                continue;
            }
            out.push(notify::Notification {
                id: e.id.clone(),
                kind: kind_of(e.kind),
                stakeholder: r.clone(),
                subject: e.subject.clone(),
                vulnerability: e.vulnerability.clone(),
                severity: e.severity.clone(),
                deadline: e.deadline.clone(),
                summary: e.summary.clone(),
                detail: serde_json::json!({ "risk": e.risk }),
                created_unix_s: now,
            });
        }
    }
    Ok(out)
}

/// Starts the pump: it looks at the register when the twins or the
/// advisories change, and at least every `interval` (for the day's
/// deadlines).
pub fn start(
    risks: Arc<RiskService>,
    projector: Projector,
    notifier: notify::Notifier,
    interval: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut previous: Arc<Register> = Arc::new(Register::default());
        let mut sizes = projector.sizes();
        let mut last_build = Duration::ZERO;
        let mut first = true;
        loop {
            if !first {
                // Woken by a change, or by the interval.
                tokio::select! {
                    () = tokio::time::sleep(interval) => {}
                    () = risks.advisories_changed() => {}
                    r = sizes.changed() => {
                        if r.is_err() {
                            tokio::time::sleep(interval).await;
                        }
                    }
                }
                // A large fleet's register takes a while to build: never
                // spend more than a fifth of the time building.
                tokio::time::sleep((last_build * 4).min(interval)).await;
            }
            first = false;
            let r = risks.clone();
            let started = std::time::Instant::now();
            let built =
                tokio::task::spawn_blocking(move || r.register(twin_store::risks::today())).await;
            last_build = started.elapsed();
            let current = match built {
                Ok(Ok(c)) => c,
                Ok(Err(e)) => {
                    tracing::error!("building the risk register: {e}");
                    continue;
                }
                Err(e) => {
                    tracing::error!("building the risk register: {e}");
                    continue;
                }
            };
            if Arc::ptr_eq(&previous, &current) {
                continue;
            }
            let events = match risks.changes_between(&previous, &current) {
                twin_store::risks::Delta::Vulnerabilities(v) => {
                    register::notifications_for(&previous, &current, &v, APPROACHING_DAYS)
                }
                twin_store::risks::Delta::Everything => {
                    register::notifications(&previous, &current, APPROACHING_DAYS)
                }
            };
            let subscribed: std::collections::HashSet<String> = notifier
                .subscriptions(None)
                .into_iter()
                .map(|s| s.stakeholder)
                .collect();
            let batch = match notifications_for(&projector, &events, &subscribed) {
                Ok(b) => b,
                Err(e) => {
                    tracing::error!("filtering notifications: {e}");
                    continue;
                }
            };
            let mut ok = true;
            for chunk in batch.chunks(1000) {
                if let Err(e) = notifier.enqueue(chunk.to_vec()) {
                    tracing::error!("enqueueing notifications: {e}");
                    ok = false;
                    break;
                }
            }
            // Compare with this register next time only once its
            // notifications are in the outbox (else they are retried).
            if ok {
                previous = current;
            }
        }
    })
}

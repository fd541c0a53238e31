//! The notification pump of a node: every interval it takes the risk
//! register (rebuilt only when the twins, the advisories or the day
//! changed), compares it with the previous one (`register::notifications`),
//! keeps for each recipient only what its sharing policy lets it see
//! (`twin_store::risks::may_see`), and enqueues the rest in the durable
//! outbox of a [`notify::Notifier`], after VEX and policy evaluation, never
//! before.
//!
//! Building the register reads every twin, so the pump waits at least four
//! times as long as the last build took before the next one.
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

/// The notifications `events` call for, one per recipient allowed to see it.
pub fn notifications_for(
    projector: &Projector,
    events: &[Event],
) -> Result<Vec<notify::Notification>, twin_store::StoreError> {
    let meta = projector.meta();
    let store = projector.store();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let mut out = Vec::new();
    for e in events {
        for r in &e.recipients {
            let reader = twin::StakeholderId(r.clone());
            let allowed = match &e.risk {
                Some(risk) => twin_store::risks::may_see(&meta, store, &reader, risk, now)?,
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

/// Starts the pump.
pub fn start(
    risks: Arc<RiskService>,
    projector: Projector,
    notifier: notify::Notifier,
    interval: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut previous: Arc<Register> = Arc::new(Register::default());
        let mut pause = interval;
        loop {
            tokio::time::sleep(pause).await;
            let r = risks.clone();
            let started = std::time::Instant::now();
            let built =
                tokio::task::spawn_blocking(move || r.register(twin_store::risks::today())).await;
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
            // A large fleet's register takes a while to build: never spend
            // more than a fifth of the time building.
            pause = interval.max(started.elapsed() * 4);
            if Arc::ptr_eq(&previous, &current) {
                continue;
            }
            let events = register::notifications(&previous, &current, APPROACHING_DAYS);
            let batch = match notifications_for(&projector, &events) {
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

//! The reporting clock of a node (`service::cra`): every interval, and when
//! the twins or the advisories change, it opens a report case on every
//! manufacturer whose releases a known-exploited list now names
//! ([`CraService::open_exploited`]) and tells each manufacturer of its
//! cases opened, and of stages due soon or overdue ([`CraService::due`]),
//! through the durable outbox. Ids are stable, so the outbox tells each
//! once, across restarts too.
//!
//! Deliberately absent: the clock's rules (`twin::cra`) and delivery.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use clock::Clock;
use service::cra::{CraService, Due};
use twin::cra::StageStatus;
use twin_store::{Projector, RiskService};

/// The notification of a [`Due`].
pub fn notification(d: &Due, now: i64) -> notify::Notification {
    use notify::NotificationKind as N;
    notify::Notification {
        id: d.id.clone(),
        kind: match (d.opened, d.what) {
            (true, _) => N::ReportCaseOpened,
            (false, StageStatus::Overdue) => N::ReportStageOverdue,
            (false, _) => N::ReportStageDue,
        },
        stakeholder: d.manufacturer.clone(),
        subject: format!("stakeholder:{}", d.manufacturer),
        vulnerability: d.vulnerability.clone(),
        severity: None,
        deadline: d.due_at.map(risk_register::cra::rfc3339),
        summary: d.summary.clone(),
        detail: serde_json::json!({
            "case": d.case,
            "stage": d.stage.map(|s| s.as_str()),
            "due_at": d.due_at,
            "link": format!("/api/v1/cra/cases/{}", d.case),
        }),
        created_unix_s: now,
    }
}

/// Starts the pump.
pub fn start(
    cra: CraService,
    risks: Arc<RiskService>,
    projector: Projector,
    notifier: notify::Notifier,
    interval: Duration,
    clock: Arc<dyn Clock>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut sizes = projector.sizes();
        let mut told: HashSet<String> = HashSet::new();
        loop {
            if !notifier.is_active() {
                // Another node of the cluster opens cases and tells of
                // stages (the sequencer); the shared outbox's dedupe covers
                // a takeover.
                told.clear();
                tokio::time::sleep(interval).await;
                continue;
            }
            if let Err(e) = cra.open_exploited().await {
                tracing::warn!("opening report cases: {}", e.message());
            }
            let c = cra.clone();
            match tokio::task::spawn_blocking(move || c.due()).await {
                Ok(Ok(due)) => {
                    let now = clock.now_unix_s();
                    let subscribed: HashSet<String> = notifier
                        .subscriptions(None)
                        .into_iter()
                        .map(|s| s.stakeholder)
                        .collect();
                    let batch: Vec<notify::Notification> = due
                        .iter()
                        .filter(|d| subscribed.contains(&d.manufacturer) && !told.contains(&d.id))
                        .map(|d| notification(d, now))
                        .collect();
                    if !batch.is_empty() {
                        let ids: Vec<String> = batch.iter().map(|n| n.id.clone()).collect();
                        match notifier.enqueue(batch) {
                            Ok(_) => told.extend(ids),
                            Err(e) => tracing::warn!("enqueueing report clock notifications: {e}"),
                        }
                    }
                }
                Ok(Err(e)) => tracing::warn!("reading the reporting clock: {}", e.message()),
                Err(e) => tracing::error!("reading the reporting clock: {e}"),
            }
            // Changes come in bursts: look again at most twice a second.
            tokio::time::sleep(Duration::from_millis(500)).await;
            tokio::select! {
                () = tokio::time::sleep(interval) => {}
                () = risks.advisories_changed() => {}
                r = sizes.changed() => {
                    if r.is_err() {
                        tokio::time::sleep(interval).await;
                    }
                }
            }
        }
    })
}

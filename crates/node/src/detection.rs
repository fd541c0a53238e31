//! The detection driver of a node: whenever the twins move on, the
//! detector (`service::detection`) folds what was added, and each alarm
//! raised and each incident reported or moved on is told to the
//! stakeholders of the device who subscribed and whom the sharing policies
//! let read it (webhooks and MQTT, through the notification outbox).
//!
//! The outbox deduplicates by notification id (`device-alarm:<device>:<alarm>`,
//! `incident:<entry>:<step>`), so the fold of the whole log after a restart
//! tells nobody twice what it was told before.
//!
//! With several nodes only the sequencer's notifier tells (see `notify`).
//! Every node folds; what a passive node noticed in the last
//! [`PASSIVE_RECALL_MS`] is kept, and told when the node becomes active:
//! if the former sequencer died after folding a change but before telling
//! it, the change is not lost, and the outbox dedupes what it did tell.
//!
//! Deliberately absent: detection itself (`posture`, `service::detection`)
//! and delivery (`notify`).

use std::sync::Arc;
use std::time::Duration;

use clock::Clock;
use service::detection::{Change, DetectionState, Noticed};
use twin::StakeholderId;
use twin_store::Projector;

/// The longest the driver sleeps without looking at the projection.
pub const POLL_INTERVAL_MS: u64 = 1000;

/// How long a passive node keeps what it noticed, to tell it should it
/// become active, ms. Much longer than a takeover; short enough that the
/// outbox still holds the records of what the former sequencer told.
pub const PASSIVE_RECALL_MS: u64 = 60_000;

/// What a passive node noticed lately, oldest first.
pub struct Recall<T> {
    held: std::collections::VecDeque<(std::time::Instant, T)>,
    window: Duration,
}

impl<T> Recall<T> {
    /// Holding what is at most `window` old.
    pub fn new(window: Duration) -> Recall<T> {
        Recall {
            held: std::collections::VecDeque::new(),
            window,
        }
    }

    /// Keeps `item`, noticed at `at`, and forgets what is older than the
    /// window.
    pub fn hold(&mut self, at: std::time::Instant, item: T) {
        self.held.push_back((at, item));
        while self
            .held
            .front()
            .is_some_and(|(t, _)| at.saturating_duration_since(*t) > self.window)
        {
            self.held.pop_front();
        }
    }

    /// What is held and not older than the window at `now`, oldest first;
    /// nothing is held after.
    pub fn take(&mut self, now: std::time::Instant) -> Vec<T> {
        let window = self.window;
        self.held
            .drain(..)
            .filter(|(t, _)| now.saturating_duration_since(*t) <= window)
            .map(|(_, item)| item)
            .collect()
    }
}

/// Where the driver sends what it noticed (set once notifications start).
pub type NotifierSlot = Arc<parking_lot::Mutex<Option<notify::Notifier>>>;

/// Starts the driver.
pub fn start(
    state: Arc<DetectionState>,
    projector: Projector,
    scitt: Arc<transparency::TransparencyService>,
    notifier: NotifierSlot,
    clock: Arc<dyn Clock>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut sizes = projector.sizes();
        let mut recall: Recall<Vec<Noticed>> =
            Recall::new(Duration::from_millis(PASSIVE_RECALL_MS));
        loop {
            let (s, p, sc) = (state.clone(), projector.clone(), scitt.clone());
            let folded = tokio::task::spawn_blocking(move || s.catch_up(&p, &sc)).await;
            let n = notifier.lock().clone();
            match (&n, folded) {
                (Some(n), Ok(Ok(noticed))) if n.is_active() => {
                    // Just become active: first what was noticed while passive.
                    let mut all: Vec<Noticed> = recall
                        .take(std::time::Instant::now())
                        .into_iter()
                        .flatten()
                        .collect();
                    all.extend(noticed);
                    if !all.is_empty() {
                        tell(n, &projector, &all, clock.now_unix_s());
                    }
                }
                (Some(_), Ok(Ok(noticed))) => {
                    if !noticed.is_empty() {
                        recall.hold(std::time::Instant::now(), noticed);
                    }
                }
                (None, Ok(Ok(_))) => {}
                (_, Ok(Err(e))) => tracing::error!("detection: {e}"),
                (_, Err(e)) => {
                    tracing::error!("detection stopped: {e}");
                    return;
                }
            }
            if projector.fault().is_some() {
                // Nothing moves on any more; the views keep what was folded.
                tokio::time::sleep(Duration::from_millis(POLL_INTERVAL_MS)).await;
                continue;
            }
            let woken =
                tokio::time::timeout(Duration::from_millis(POLL_INTERVAL_MS), sizes.changed())
                    .await;
            if let Ok(Err(_)) = woken {
                // The projector is gone: the node is shutting down.
                return;
            }
        }
    })
}

/// Enqueues the notifications `noticed` calls for.
fn tell(notifier: &notify::Notifier, projector: &Projector, noticed: &[Noticed], now: i64) {
    let subscribed: std::collections::HashSet<String> = notifier
        .subscriptions(None)
        .into_iter()
        .map(|s| s.stakeholder)
        .collect();
    if subscribed.is_empty() {
        return;
    }
    let meta = projector.meta();
    let mut out = Vec::new();
    for n in noticed {
        let Some(twin) = &n.twin else { continue };
        let device_owner = StakeholderId(format!("device:{}", twin.device.as_str()));
        let (id, kind, severity, summary, owner, statement_type, detail) = match &n.change {
            Change::Raised(a) => (
                format!("device-alarm:{}:{}", a.device, a.id),
                notify::NotificationKind::DeviceAlarm,
                a.severity.as_str().to_string(),
                format!("{} on {} (alarm {})", a.title, a.device, a.id),
                device_owner.clone(),
                service::devices::REPORT_TYPE,
                serde_json::to_value(service::alarms::alarm_view(a)).unwrap_or_default(),
            ),
            Change::IncidentOpened(i) | Change::IncidentUpdated(i) => (
                format!("incident:{}:{}", i.entry, i.steps.len()),
                notify::NotificationKind::Incident,
                i.severity.as_str().to_string(),
                format!(
                    "incident {} on {} {}: {}",
                    i.entry,
                    i.device,
                    i.status.as_str(),
                    i.summary
                ),
                i.reported_by.clone(),
                "incident-reported",
                serde_json::to_value(service::alarms::incident_view(i, twin)).unwrap_or_default(),
            ),
            Change::Cleared(_) => continue,
        };
        let parties = [
            twin.owner.as_ref(),
            twin.operator.as_ref(),
            twin.maintainer.as_ref(),
            Some(&twin.manufacturer),
        ];
        let mut told = std::collections::BTreeSet::new();
        for who in parties.into_iter().flatten() {
            if !subscribed.contains(&who.0) || !told.insert(who.0.clone()) {
                continue;
            }
            let reader = service::Reader::new(Some(who.clone()), &meta, now);
            if reader.decide(twin, &owner, statement_type).is_none() {
                continue;
            }
            out.push(notify::Notification {
                id: id.clone(),
                kind,
                stakeholder: who.0.clone(),
                subject: format!("device:{}", twin.device.as_str()),
                vulnerability: None,
                severity: Some(severity.clone()),
                deadline: None,
                summary: summary.clone(),
                detail: detail.clone(),
                created_unix_s: now,
            });
        }
    }
    if out.is_empty() {
        return;
    }
    if let Err(e) = notifier.enqueue(out) {
        tracing::warn!("detection: notifications not enqueued: {e}");
    }
}

//! The notification pump of a node: every interval it takes the risk
//! register (rebuilt only when the twins, the advisories or the day
//! changed), compares it with the previous one (`risk_register::notifications`),
//! keeps for each recipient only what its sharing policy lets it see
//! (`twin_store::risks::may_see`), and enqueues the rest in the durable
//! outbox of a [`notify::Notifier`], after VEX and policy evaluation, never
//! before.
//!
//! The pump wakes when the twins or the advisories change (and at least
//! every interval, for the day's deadlines). The register is built
//! incrementally ([`RiskService::register`]), and when only some
//! vulnerabilities' risks were built again, only those are compared
//! ([`risk_register::notifications_for`]). A long build delays the next by up to
//! four times its length.
//!
//! When the outbox is full (subscribers slower than the changes), the
//! notifications wait in the pump's backlog and go first once deliveries
//! make room; the pump keeps comparing registers meanwhile. After a
//! restart the first register is compared with an empty one; the outbox
//! deduplicates by (subscription, notification id), so a recipient is not
//! told twice what it was told before, and what the backlog held is worked
//! out again.
//!
//! With several nodes on one database only the node whose notifier is
//! active (the sequencer) runs the pump; the others wait.
//!
//! Deliberately absent: delivery (crate `notify`) and risk logic.

use std::sync::Arc;
use std::time::Duration;

use clock::Clock;
use risk_register::{Event, Register};
use twin_store::{Projector, RiskService};

/// Days before a deadline at which "deadline approaching" is sent.
pub const APPROACHING_DAYS: u32 = risk_register::APPROACHING_DAYS_DEFAULT;

fn kind_of(k: risk_register::EventKind) -> notify::NotificationKind {
    use notify::NotificationKind as N;
    use risk_register::EventKind as E;
    match k {
        E::NewVulnerableDevice => N::NewVulnerableDevice,
        E::FixedFirmwareAvailable => N::FixedFirmwareAvailable,
        E::DeadlineApproaching => N::DeadlineApproaching,
        E::DeadlineOverdue => N::DeadlineOverdue,
        E::VexChanged => N::VexChanged,
        E::NewPostureFinding => N::NewPostureFinding,
        E::NowKnownExploited => N::NowKnownExploited,
        E::ExploitationLikelier => N::ExploitationLikelier,
    }
}

/// The notifications `events` call for, one per recipient allowed to see it
/// among `subscribed` (the stakeholders with a subscription: nobody else
/// would be told anything) at `now` (unix seconds: audit grants in force,
/// and the notifications' creation time).
pub fn notifications_for(
    projector: &Projector,
    events: &[Event],
    subscribed: &std::collections::HashSet<String>,
    now: i64,
) -> Result<Vec<notify::Notification>, twin_store::StoreError> {
    let meta = projector.meta();
    let store = projector.store();
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
                                // A device id the register holds is valid; one
                                // that is not names no twin.
                                let twin = match twin::DeviceId::new(device.clone()) {
                                    Ok(id) => store.twin(&id)?,
                                    Err(_) => None,
                                };
                                v.insert(twin)
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

/// Notifications the pump holds while the outbox is full, at most; past
/// this the oldest are dropped (and logged): the register itself still
/// shows every risk.
pub const BACKLOG_NOTIFICATIONS_MAX: usize = 1_000_000;

/// What the pump has done, for those who wait on it.
#[derive(Default)]
pub struct PumpStatus {
    compared: parking_lot::Mutex<Option<Arc<Register>>>,
    backlog: std::sync::atomic::AtomicUsize,
    dropped: std::sync::atomic::AtomicU64,
}

impl PumpStatus {
    /// Whether the notifications of `risk-register` (a register of the risk
    /// service) have been worked out.
    pub fn has_compared(&self, register: &Arc<Register>) -> bool {
        self.compared
            .lock()
            .as_ref()
            .is_some_and(|c| Arc::ptr_eq(c, register))
    }

    /// Notifications waiting for room in the outbox.
    pub fn backlog(&self) -> usize {
        self.backlog.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Notifications dropped because the backlog was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The register the pump looked at last (its day is the pump's clock's).
    pub fn last_compared(&self) -> Option<Arc<Register>> {
        self.compared.lock().clone()
    }
}

/// Moves notifications from `backlog` into the outbox while it has room.
fn drain(
    notifier: &notify::Notifier,
    backlog: &mut std::collections::VecDeque<notify::Notification>,
) {
    while !backlog.is_empty() {
        let n = backlog.len().min(1000);
        let chunk: Vec<notify::Notification> = backlog.iter().take(n).cloned().collect();
        match notifier.enqueue(chunk) {
            Ok(_) => {
                backlog.drain(..n);
            }
            Err(notify::NotifyError::QueueFull { .. }) => return,
            Err(e) => {
                // Not retryable (a notification the outbox refuses).
                tracing::error!("enqueueing notifications: {e}");
                backlog.drain(..n);
            }
        }
    }
}

/// Starts the pump: it looks at the register when the twins or the
/// advisories change, and at least every `interval` (for the day's
/// deadlines). The day of the register, and the time of the notifications,
/// are `clock`'s. Notifications the outbox has no room for wait in a backlog
/// (bounded by [`BACKLOG_NOTIFICATIONS_MAX`]) and go first once it has.
pub fn start(
    risks: Arc<RiskService>,
    projector: Projector,
    notifier: notify::Notifier,
    interval: Duration,
    clock: Arc<dyn Clock>,
) -> (tokio::task::JoinHandle<()>, Arc<PumpStatus>) {
    let status = Arc::new(PumpStatus::default());
    let report = status.clone();
    let handle = tokio::spawn(async move {
        let mut previous: Arc<Register> = Arc::new(Register::default());
        let mut sizes = projector.sizes();
        let mut last_finished = std::time::Instant::now();
        let mut first = true;
        let mut backlog: std::collections::VecDeque<notify::Notification> =
            std::collections::VecDeque::new();
        loop {
            if !first {
                // Woken by a change, or by the interval (sooner while
                // notifications wait for room in the outbox).
                let wait = if backlog.is_empty() {
                    interval
                } else {
                    interval.min(Duration::from_secs(1))
                };
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    () = risks.advisories_changed() => {}
                    r = sizes.changed() => {
                        if r.is_err() {
                            tokio::time::sleep(interval).await;
                        }
                    }
                }
                // A large fleet's register takes a while to build: while
                // changes stream in, build at most half of the time. Idle
                // time since the last build counts, so a change after a
                // quiet spell is looked at at once. (Whoever builds it, the
                // pump or a reader, the cost is the service's last build.)
                let rest = risks.last_build().min(interval);
                tokio::time::sleep(rest.saturating_sub(last_finished.elapsed())).await;
            }
            first = false;
            if !notifier.is_active() {
                // Another node of the cluster sends notifications. Should
                // this one take over, it compares with an empty register,
                // as after a restart; the shared outbox's dedupe leaves out
                // what the other told.
                previous = Arc::new(Register::default());
                backlog.clear();
                continue;
            }
            drain(&notifier, &mut backlog);
            let r = risks.clone();
            let today = twin_store::risks::today(&*clock);
            let built = tokio::task::spawn_blocking(move || r.register(today)).await;
            last_finished = std::time::Instant::now();
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
                status_update(&status, &current, &backlog);
                continue;
            }
            let subscribed: std::collections::HashSet<String> = notifier
                .subscriptions(None)
                .into_iter()
                .map(|s| s.stakeholder)
                .collect();
            if subscribed.is_empty() {
                // Nobody to tell.
                previous = current;
                status_update(&status, &previous, &backlog);
                continue;
            }
            let comparing = std::time::Instant::now();
            let events = match risks.changes_between(&previous, &current) {
                twin_store::risks::Delta::Vulnerabilities(v) => {
                    risk_register::notifications_for(&previous, &current, &v, APPROACHING_DAYS)
                }
                twin_store::risks::Delta::Everything => {
                    risk_register::notifications(&previous, &current, APPROACHING_DAYS)
                }
            };
            let now = clock.now_unix_s();
            let batch = match notifications_for(&projector, &events, &subscribed, now) {
                Ok(b) => b,
                Err(e) => {
                    // Twins unreadable: compare with this register again.
                    tracing::error!("filtering notifications: {e}");
                    continue;
                }
            };
            tracing::debug!(
                events = events.len(),
                notifications = batch.len(),
                compare_ms = comparing.elapsed().as_secs_f64() * 1e3,
                "register compared"
            );
            backlog.extend(batch);
            if backlog.len() > BACKLOG_NOTIFICATIONS_MAX {
                let over = backlog.len() - BACKLOG_NOTIFICATIONS_MAX;
                backlog.drain(..over);
                status
                    .dropped
                    .fetch_add(over as u64, std::sync::atomic::Ordering::Relaxed);
                tracing::error!(
                    dropped = over,
                    "the notification outbox is full and the backlog too: the oldest notifications were dropped"
                );
            }
            drain(&notifier, &mut backlog);
            if !backlog.is_empty() {
                tracing::warn!(
                    waiting = backlog.len(),
                    "the notification outbox is full: notifications wait for deliveries"
                );
            }
            previous = current;
            status_update(&status, &previous, &backlog);
        }
    });
    (handle, report)
}

fn status_update(
    status: &PumpStatus,
    compared: &Arc<Register>,
    backlog: &std::collections::VecDeque<notify::Notification>,
) {
    *status.compared.lock() = Some(compared.clone());
    status
        .backlog
        .store(backlog.len(), std::sync::atomic::Ordering::Relaxed);
}

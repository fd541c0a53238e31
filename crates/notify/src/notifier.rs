//! The [`Notifier`]: subscriptions, the enqueue path, and the scheduler that
//! drives delivery attempts with back-off.
//!
//! Every (subscription, notification) pair is one delivery, written to the
//! outbox before [`Notifier::enqueue`] returns. A dispatcher task starts due
//! deliveries, at most [`DELIVERIES_IN_FLIGHT_MAX`] at once and
//! [`SUBSCRIPTION_IN_FLIGHT_MAX`] per subscription, so a slow or dead endpoint
//! holds at most that many slots and never blocks other subscriptions. A
//! failed attempt is retried after a full-jitter exponential back-off
//! (`rand(0 ..= min(backoff_ms_max, backoff_ms_initial · 2^(attempts-1)))`),
//! or after the target's `Retry-After` (capped at `backoff_ms_max`), until
//! `attempts_max` attempts.
//!
//! All records are also kept in memory (the outbox is the durable copy, read
//! once at [`Notifier::start`]): at most [`DELIVERIES_PENDING_MAX`] pending
//! plus [`DELIVERED_RECORDS_MAX`] finished ones, bodies excluded.
//!
//! Times (enqueued, due, delivered, and the `webhook-timestamp` header) are
//! read from the [`Clock`] the notifier is given
//! ([`Notifier::start_with_clock`]), so tests fix them. The dispatcher sleeps
//! in real time until the next delivery is due by that clock, and looks at
//! the clock again whenever it is woken (an enqueue, a finished attempt).
//!
//! Several nodes may share one outbox ([`OutboxStore::shared`]). Then one
//! notifier at a time is *active* ([`Notifier::set_active`]: the node that
//! sequences the log): only it enqueues and delivers, so each notification
//! is sent once by the cluster, not once per node. The others are passive:
//! they store and remove subscriptions, list deliveries from the store, and
//! refuse [`Notifier::enqueue`]. A notifier that becomes active reads every
//! record from the store, so the dedupe by (subscription, notification id)
//! carries over from the node that was active before.
//!
//! Deliberately absent: exactly-once delivery (receivers dedupe on
//! `webhook-id`), ordering, and rate limits per target beyond the in-flight
//! bounds.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clock::Clock;
use parking_lot::Mutex;
use sha2::{Digest as _, Sha256};
use tokio::sync::{watch, Notify, OwnedSemaphorePermit, Semaphore};
use tokio::task::{JoinHandle, JoinSet};

use crate::model::{
    DeliveryFilter, DeliveryRecord, DeliveryStatus, EnqueueReport, Notification, Subscription,
    Target,
};
use crate::mqtt::{Publisher, MQTT_INFLIGHT_MAX};
use crate::outbox::{delivery_key, record_key, subscription_key, Outbox, OutboxError, OutboxStore};
use crate::webhook::{self, Outcome};

/// The largest notification body (its JSON), bytes. Notifications are one
/// line plus some detail; anything bigger is a producer bug, and webhook
/// receivers and MQTT brokers commonly cap requests not far above this.
pub const BODY_BYTES_MAX: usize = 64 * 1024;
/// The longest id (subscription, stakeholder, notification), bytes.
pub const ID_BYTES_MAX: usize = 256;
/// The longest webhook URL, bytes.
pub const URL_BYTES_MAX: usize = 2048;
/// The longest MQTT topic prefix, bytes.
pub const TOPIC_PREFIX_BYTES_MAX: usize = 1024;
/// The most notifications in one [`Notifier::enqueue`] batch.
pub const BATCH_NOTIFICATIONS_MAX: usize = 10_000;
/// The most pending deliveries; an enqueue that would exceed it is refused
/// whole ([`NotifyError::QueueFull`]), so the producer sees back-pressure
/// instead of the outbox growing without bound while targets are down.
pub const DELIVERIES_PENDING_MAX: usize = 100_000;
/// The most finished (delivered or failed) records kept for listing; the
/// oldest finished are pruned beyond it. Dedupe of a pair only holds while
/// its record is kept.
pub const DELIVERED_RECORDS_MAX: usize = 10_000;
/// The most subscriptions.
pub const SUBSCRIPTIONS_MAX: usize = 10_000;
/// Delivery attempts running at once, over all subscriptions.
pub const DELIVERIES_IN_FLIGHT_MAX: usize = 64;
/// Delivery attempts running at once for one subscription.
pub const SUBSCRIPTION_IN_FLIGHT_MAX: usize = 4;
/// How often [`Notifier::wait_idle`] looks, ms.
const IDLE_POLL_MS: u64 = 10;
/// How often a notifier on a shared outbox looks for subscriptions other
/// nodes stored or removed, ms.
pub const SHARED_REFRESH_MS: u64 = 500;

/// A rejected call.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum NotifyError {
    /// The outbox could not be read or written.
    #[error(transparent)]
    Storage(#[from] OutboxError),
    /// The configuration is unusable.
    #[error("invalid notifier configuration: {0}")]
    InvalidConfig(String),
    /// The subscription is malformed.
    #[error("invalid subscription {id:?}: {reason}")]
    InvalidSubscription {
        /// The subscription id as given.
        id: String,
        /// What is wrong.
        reason: String,
    },
    /// An MQTT subscription while no broker is configured.
    #[error("subscription {0:?} targets MQTT but no MQTT broker is configured")]
    MqttNotConfigured(String),
    /// [`SUBSCRIPTIONS_MAX`] reached.
    #[error("too many subscriptions (max {SUBSCRIPTIONS_MAX})")]
    TooManySubscriptions,
    /// A notification is malformed; nothing of the batch was enqueued.
    #[error("invalid notification {id:?}: {reason}")]
    InvalidNotification {
        /// The notification id as given.
        id: String,
        /// What is wrong.
        reason: String,
    },
    /// A notification's JSON exceeds [`BODY_BYTES_MAX`]; nothing of the batch was enqueued.
    #[error("notification {id:?} is {bytes} bytes of JSON (max {BODY_BYTES_MAX})")]
    BodyTooLarge {
        /// The notification id.
        id: String,
        /// Its JSON size.
        bytes: usize,
    },
    /// The batch exceeds [`BATCH_NOTIFICATIONS_MAX`].
    #[error("batch of {notifications} notifications (max {BATCH_NOTIFICATIONS_MAX})")]
    BatchTooLarge {
        /// The batch size.
        notifications: usize,
    },
    /// Enqueueing would exceed [`DELIVERIES_PENDING_MAX`]; nothing was enqueued.
    #[error("outbox full: {pending} pending + {new} new deliveries > {DELIVERIES_PENDING_MAX}")]
    QueueFull {
        /// Deliveries pending now.
        pending: usize,
        /// Deliveries the batch would add.
        new: usize,
    },
    /// The HTTP client could not be built.
    #[error("http client: {0}")]
    HttpClient(String),
    /// This node's notifier is passive: another node of the cluster sends
    /// the notifications.
    #[error("this node does not send notifications: the node that sequences the log does")]
    Passive,
}

/// How failed attempts are retried.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts per delivery before it is marked failed (≥ 1).
    pub attempts_max: u32,
    /// The back-off ceiling after the first failure, ms (≥ 1).
    pub backoff_ms_initial: u64,
    /// The largest back-off, also the cap on `Retry-After`, ms.
    pub backoff_ms_max: u64,
    /// One attempt's time limit (HTTP request or wait for PUBACK), ms (≥ 1).
    pub request_timeout_ms: u64,
}

impl Default for RetryPolicy {
    /// 12 attempts, 1 s doubling to at most 15 min (about 1 h in total on
    /// average), 10 s per attempt.
    fn default() -> Self {
        RetryPolicy {
            attempts_max: 12,
            backoff_ms_initial: 1_000,
            backoff_ms_max: 15 * 60 * 1_000,
            request_timeout_ms: 10_000,
        }
    }
}

impl RetryPolicy {
    /// The full-jitter back-off after `attempts` failed attempts, ms.
    pub fn backoff_ms(&self, attempts: u32, rng: &mut impl rand::Rng) -> u64 {
        let exponent = attempts.saturating_sub(1).min(62);
        let ceiling = self
            .backoff_ms_initial
            .saturating_mul(1u64 << exponent)
            .min(self.backoff_ms_max);
        rng.gen_range(0..=ceiling)
    }
}

/// The MQTT broker (plain TCP, MQTT 3.1.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MqttConfig {
    /// Broker host name or address.
    pub host: String,
    /// Broker port (1883 usually).
    pub port: u16,
    /// The client id; unique per notifier process on that broker.
    pub client_id: String,
    /// Keep-alive interval: zero (off) or at least one second.
    pub keep_alive: Duration,
}

/// Everything [`Notifier::start`] needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotifierConfig {
    /// The fjall keyspace directory (created if missing).
    pub outbox_dir: PathBuf,
    /// The broker for MQTT subscriptions; `None` refuses them.
    pub mqtt: Option<MqttConfig>,
    /// Retry behaviour.
    pub retry: RetryPolicy,
    /// Whether webhooks may reach loopback, private and link-local
    /// addresses ([`crate::address`]); off by default (server-side request
    /// forgery), on for a node whose subscribers share its network.
    pub webhooks_to_private_addresses: bool,
}

impl NotifierConfig {
    /// No MQTT, default retry policy.
    pub fn new(outbox_dir: impl Into<PathBuf>) -> NotifierConfig {
        NotifierConfig {
            outbox_dir: outbox_dir.into(),
            mqtt: None,
            retry: RetryPolicy::default(),
            webhooks_to_private_addresses: false,
        }
    }
}

/// The notifier: a cheap-to-clone handle on the outbox and its delivery tasks.
#[derive(Clone)]
pub struct Notifier {
    inner: Arc<Inner>,
}

struct Inner {
    retry: RetryPolicy,
    webhooks_to_private_addresses: bool,
    mqtt_configured: bool,
    outbox: Arc<dyn OutboxStore>,
    /// Whether this notifier enqueues and delivers (see the module docs).
    active: std::sync::atomic::AtomicBool,
    /// The store's subscriptions version last read.
    subscriptions_version: std::sync::atomic::AtomicU64,
    state: Mutex<State>,
    wake: Notify,
    http: reqwest::Client,
    mqtt: Option<Publisher>,
    stop: watch::Sender<bool>,
    dispatcher: Mutex<Option<JoinHandle<()>>>,
    clock: Arc<dyn Clock>,
    counts: Counts,
}

/// Delivery attempts' outcomes since the notifier started.
#[derive(Debug, Default)]
struct Counts {
    delivered: std::sync::atomic::AtomicU64,
    failed: std::sync::atomic::AtomicU64,
    retried: std::sync::atomic::AtomicU64,
}

/// What the notifier did since it started, and what waits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveryCounts {
    /// Deliveries that succeeded.
    pub delivered: u64,
    /// Deliveries given up (permanent refusal, attempts exhausted).
    pub failed: u64,
    /// Attempts that failed and were scheduled again.
    pub retried: u64,
    /// Deliveries waiting (first attempt or retry).
    pub pending: u64,
}

impl Inner {
    /// Now by the notifier's clock, unix ms.
    fn now_ms(&self) -> i64 {
        ms_i64(self.clock.now_unix_ms())
    }
}

/// (due or finished unix ms, seq, delivery key).
type Slot = (i64, u64, String);

#[derive(Default)]
struct State {
    subscriptions: HashMap<String, Subscription>,
    records: HashMap<String, DeliveryRecord>,
    /// Pending and not in flight, by due time.
    ready: BTreeSet<Slot>,
    /// Finished, by finish time, for pruning.
    finished: BTreeSet<Slot>,
    /// Attempts running, per subscription id.
    in_flight: HashMap<String, usize>,
    pending: usize,
    next_seq: u64,
}

impl Notifier {
    /// Opens or creates the outbox and resumes every pending delivery, on
    /// the system clock.
    pub async fn start(config: NotifierConfig) -> Result<Notifier, NotifyError> {
        Self::start_with_clock(config, Arc::new(clock::SystemClock)).await
    }

    /// [`Notifier::start`], reading the time from `clock` (the node's; a
    /// fixed one in tests).
    pub async fn start_with_clock(
        config: NotifierConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<Notifier, NotifyError> {
        check_config(&config)?;
        std::fs::create_dir_all(&config.outbox_dir)
            .map_err(|e| OutboxError(format!("{}: {e}", config.outbox_dir.display())))?;
        let outbox = Outbox::open(&config.outbox_dir)?;
        Self::start_on(config, Arc::new(outbox), clock).await
    }

    /// [`Notifier::start_with_clock`] on `outbox` instead of the keyspace
    /// under `config.outbox_dir` (which is not used). On a shared outbox
    /// the notifier starts passive.
    pub async fn start_on(
        config: NotifierConfig,
        outbox: Arc<dyn OutboxStore>,
        clock: Arc<dyn Clock>,
    ) -> Result<Notifier, NotifyError> {
        check_config(&config)?;
        let now = ms_i64(clock.now_unix_ms());
        let active = !outbox.shared();
        let version = outbox.subscriptions_version()?;
        let mut state = if active {
            load(outbox.as_ref(), now, config.retry.backoff_ms_max)?
        } else {
            State::default()
        };
        if !active {
            state.subscriptions = load_subscriptions(outbox.as_ref())?;
        }
        let resumed = state.pending;
        let private = config.webhooks_to_private_addresses;
        let http = webhook::client(private).map_err(|e| NotifyError::HttpClient(e.to_string()))?;
        let mqtt = config.mqtt.as_ref().map(|m| {
            let mut options = rumqttc::MqttOptions::new(&m.client_id, &m.host, m.port);
            options
                .set_keep_alive(m.keep_alive)
                .set_clean_session(true)
                .set_inflight(MQTT_INFLIGHT_MAX)
                .set_max_packet_size(BODY_BYTES_MAX + 4096, BODY_BYTES_MAX + 4096);
            Publisher::start(options)
        });
        let (stop, stopped) = watch::channel(false);
        let inner = Arc::new(Inner {
            retry: config.retry.clone(),
            webhooks_to_private_addresses: private,
            mqtt_configured: config.mqtt.is_some(),
            outbox,
            active: std::sync::atomic::AtomicBool::new(active),
            subscriptions_version: std::sync::atomic::AtomicU64::new(version),
            state: Mutex::new(state),
            wake: Notify::new(),
            http,
            mqtt,
            stop,
            dispatcher: Mutex::new(None),
            clock,
            counts: Counts::default(),
        });
        let handle = tokio::spawn(dispatch(inner.clone(), stopped));
        *inner.dispatcher.lock() = Some(handle);
        tracing::info!(resumed, active, "notifier started");
        Ok(Notifier { inner })
    }

    /// Adds a subscription, or replaces the one with the same id; durable
    /// before it returns. Pending deliveries of a replaced subscription go to
    /// its new target.
    pub fn subscribe(&self, s: Subscription) -> Result<(), NotifyError> {
        check_subscription(&s, self.inner.webhooks_to_private_addresses)?;
        if matches!(s.target, Target::Mqtt { .. }) && !self.inner.mqtt_configured {
            return Err(NotifyError::MqttNotConfigured(s.id));
        }
        let key = subscription_key(&s.stakeholder, &s.id);
        let mut st = self.inner.state.lock();
        if !st.subscriptions.contains_key(&key) && st.subscriptions.len() >= SUBSCRIPTIONS_MAX {
            return Err(NotifyError::TooManySubscriptions);
        }
        self.inner.outbox.put_subscription(&s)?;
        st.subscriptions.insert(key, s);
        Ok(())
    }

    /// Removes `stakeholder`'s subscription `id`; `false` when it has none.
    /// Its pending deliveries fail at once ("subscription removed").
    pub fn unsubscribe(&self, stakeholder: &str, id: &str) -> Result<bool, NotifyError> {
        let key = subscription_key(stakeholder, id);
        let mut st = self.inner.state.lock();
        if !st.subscriptions.contains_key(&key) {
            return Ok(false);
        }
        self.inner.outbox.remove_subscription(stakeholder, id)?;
        st.subscriptions.remove(&key);
        // Make its waiting deliveries due now, so they are failed promptly.
        let now = self.inner.now_ms();
        let moved: Vec<Slot> = st
            .ready
            .iter()
            .filter(|(_, _, k)| {
                st.records
                    .get(k)
                    .is_some_and(|r| r.subscription == id && r.stakeholder == stakeholder)
            })
            .cloned()
            .collect();
        for slot in moved {
            st.ready.remove(&slot);
            st.ready.insert((now, slot.1, slot.2));
        }
        drop(st);
        self.inner.wake.notify_one();
        Ok(true)
    }

    /// The subscriptions, of one stakeholder or all, by id.
    pub fn subscriptions(&self, stakeholder: Option<&str>) -> Vec<Subscription> {
        let st = self.inner.state.lock();
        let mut out: Vec<Subscription> = st
            .subscriptions
            .values()
            .filter(|s| stakeholder.is_none_or(|k| s.stakeholder == k))
            .cloned()
            .collect();
        out.sort_by(|a, b| (&a.stakeholder, &a.id).cmp(&(&b.stakeholder, &b.id)));
        out
    }

    /// Fans each notification out to the matching subscriptions of its
    /// stakeholder and writes the new deliveries to the outbox, fsync'd before
    /// it returns (so it blocks for one fsync). A pair already in the outbox
    /// is a duplicate and skipped. All-or-nothing: on error nothing is
    /// enqueued.
    ///
    /// A passive notifier refuses every batch ([`NotifyError::Passive`]).
    pub fn enqueue(&self, batch: Vec<Notification>) -> Result<EnqueueReport, NotifyError> {
        if !self.is_active() {
            return Err(NotifyError::Passive);
        }
        if batch.len() > BATCH_NOTIFICATIONS_MAX {
            return Err(NotifyError::BatchTooLarge {
                notifications: batch.len(),
            });
        }
        let mut bodies = Vec::with_capacity(batch.len());
        for n in &batch {
            bodies.push(Arc::new(check_notification(n)?));
        }
        let now = self.inner.now_ms();
        let mut report = EnqueueReport {
            notifications: batch.len(),
            ..EnqueueReport::default()
        };
        let mut st = self.inner.state.lock();
        let mut seq = st.next_seq;
        let mut new = Vec::new();
        let mut seen = HashSet::new();
        for (n, body) in batch.iter().zip(bodies) {
            let mut targets: Vec<&Subscription> =
                st.subscriptions.values().filter(|s| s.matches(n)).collect();
            if targets.is_empty() {
                report.unrouted += 1;
                continue;
            }
            targets.sort_by(|a, b| a.id.cmp(&b.id));
            for s in targets {
                let key = delivery_key(&n.stakeholder, &s.id, &n.id);
                if st.records.contains_key(&key) || !seen.insert(key.clone()) {
                    report.duplicates += 1;
                    continue;
                }
                let record = DeliveryRecord {
                    subscription: s.id.clone(),
                    notification: n.id.clone(),
                    kind: n.kind,
                    stakeholder: n.stakeholder.clone(),
                    message_id: message_id(&key),
                    attempts: 0,
                    status: DeliveryStatus::Pending,
                    last_error: None,
                    next_attempt_unix_ms: now,
                    delivered_unix_ms: None,
                    enqueued_unix_ms: now,
                    seq,
                };
                seq += 1;
                new.push((record, body.clone()));
            }
        }
        if st.pending + new.len() > DELIVERIES_PENDING_MAX {
            return Err(NotifyError::QueueFull {
                pending: st.pending,
                new: new.len(),
            });
        }
        if !new.is_empty() {
            self.inner.outbox.insert_deliveries(&new)?;
        }
        st.next_seq = seq;
        report.deliveries_new = new.len();
        for (record, _) in new {
            let key = record_key(&record);
            st.ready
                .insert((record.next_attempt_unix_ms, record.seq, key.clone()));
            st.records.insert(key, record);
            st.pending += 1;
        }
        drop(st);
        self.inner.wake.notify_one();
        Ok(report)
    }

    /// What the notifier did since it started, and what waits.
    pub fn delivery_counts(&self) -> DeliveryCounts {
        use std::sync::atomic::Ordering::Relaxed;
        let c = &self.inner.counts;
        DeliveryCounts {
            delivered: c.delivered.load(Relaxed),
            failed: c.failed.load(Relaxed),
            retried: c.retried.load(Relaxed),
            pending: self.inner.state.lock().pending as u64,
        }
    }

    /// The delivery records passing `filter`, in enqueue order
    /// ([`Notifier::try_deliveries`], with a store error logged and read as
    /// none).
    pub fn deliveries(&self, filter: DeliveryFilter) -> Vec<DeliveryRecord> {
        self.try_deliveries(filter).unwrap_or_else(|e| {
            tracing::error!("listing deliveries: {e}");
            Vec::new()
        })
    }

    /// The delivery records passing `filter`, in enqueue order. A passive
    /// notifier reads them from the shared store.
    pub fn try_deliveries(
        &self,
        filter: DeliveryFilter,
    ) -> Result<Vec<DeliveryRecord>, NotifyError> {
        let mut out: Vec<DeliveryRecord> = if self.is_active() {
            let st = self.inner.state.lock();
            st.records
                .values()
                .filter(|r| filter.matches(r))
                .cloned()
                .collect()
        } else {
            self.inner
                .outbox
                .deliveries()?
                .into_iter()
                .filter(|r| filter.matches(r))
                .collect()
        };
        out.sort_by_key(|r| r.seq);
        Ok(out)
    }

    /// Whether this notifier enqueues and delivers (always, unless its
    /// outbox is shared by several nodes; see the module docs).
    pub fn is_active(&self) -> bool {
        self.inner.active.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Makes this notifier the one that enqueues and delivers, or a passive
    /// one. Becoming active reads every subscription and record from the
    /// store (what the node active before did is known, and its pending
    /// deliveries are resumed); going passive forgets the records (attempts
    /// running finish and store their outcome). A no-op when nothing
    /// changes.
    pub fn set_active(&self, active: bool) -> Result<(), NotifyError> {
        use std::sync::atomic::Ordering::SeqCst;
        if self.is_active() == active {
            return Ok(());
        }
        let mut st = self.inner.state.lock();
        if active {
            let now = self.inner.now_ms();
            let loaded = load(
                self.inner.outbox.as_ref(),
                now,
                self.inner.retry.backoff_ms_max,
            )?;
            let in_flight = std::mem::take(&mut st.in_flight);
            *st = loaded;
            st.in_flight = in_flight;
            tracing::info!(
                pending = st.pending,
                "notifier active: this node sends notifications"
            );
        } else {
            let subscriptions = std::mem::take(&mut st.subscriptions);
            let in_flight = std::mem::take(&mut st.in_flight);
            *st = State {
                subscriptions,
                in_flight,
                ..State::default()
            };
            tracing::info!("notifier passive: another node sends notifications");
        }
        self.inner.active.store(active, SeqCst);
        drop(st);
        self.inner.wake.notify_one();
        Ok(())
    }

    /// Waits until no delivery is pending; `false` if `timeout` passed first.
    pub async fn wait_idle(&self, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if self.inner.state.lock().pending == 0 {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(IDLE_POLL_MS)).await;
        }
    }

    /// Stops starting attempts, waits for those running (each bounded by
    /// `request_timeout_ms`), disconnects from the broker and fsyncs the
    /// outbox. Pending deliveries resume at the next [`Notifier::start`] on
    /// the same directory (once every clone of this handle is dropped).
    pub async fn shutdown(self) {
        let _ = self.inner.stop.send(true);
        let handle = self.inner.dispatcher.lock().take();
        if let Some(handle) = handle {
            let _ = handle.await;
        }
        if let Some(mqtt) = &self.inner.mqtt {
            mqtt.shutdown().await;
        }
        if let Err(e) = self.inner.outbox.sync() {
            tracing::error!("notifier shutdown: {e}");
        }
    }
}

/// The subscriptions stored in `outbox`, by key.
fn load_subscriptions(
    outbox: &dyn OutboxStore,
) -> Result<HashMap<String, Subscription>, OutboxError> {
    Ok(outbox
        .subscriptions()?
        .into_iter()
        .map(|s| (subscription_key(&s.stakeholder, &s.id), s))
        .collect())
}

/// Everything stored in `outbox`, scheduled at `now` (unix ms): pending
/// deliveries are due at their stored time, a back-off persisted under an
/// older, longer policy clamped to `backoff_ms_max`.
fn load(outbox: &dyn OutboxStore, now: i64, backoff_ms_max: u64) -> Result<State, OutboxError> {
    let mut state = State {
        subscriptions: load_subscriptions(outbox)?,
        ..State::default()
    };
    for mut r in outbox.deliveries()? {
        let key = record_key(&r);
        state.next_seq = state.next_seq.max(r.seq + 1);
        match r.status {
            DeliveryStatus::Pending => {
                r.next_attempt_unix_ms = r
                    .next_attempt_unix_ms
                    .min(now.saturating_add(ms_i64(backoff_ms_max)));
                state.pending += 1;
                state
                    .ready
                    .insert((r.next_attempt_unix_ms, r.seq, key.clone()));
            }
            DeliveryStatus::Delivered | DeliveryStatus::Failed => {
                let at = r.delivered_unix_ms.unwrap_or(r.next_attempt_unix_ms);
                state.finished.insert((at, r.seq, key.clone()));
            }
        }
        state.records.insert(key, r);
    }
    Ok(state)
}

/// Reads the subscriptions again if another node changed them (a shared
/// outbox only). Pending deliveries of a removed subscription become due
/// now, so they fail promptly.
fn refresh_subscriptions(inner: &Inner) {
    use std::sync::atomic::Ordering::SeqCst;
    let version = match inner.outbox.subscriptions_version() {
        Ok(v) => v,
        Err(e) => {
            tracing::warn!("reading the subscriptions' version: {e}");
            return;
        }
    };
    if version == inner.subscriptions_version.load(SeqCst) {
        return;
    }
    let subscriptions = match load_subscriptions(inner.outbox.as_ref()) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!("reading the subscriptions: {e}");
            return;
        }
    };
    inner.subscriptions_version.store(version, SeqCst);
    let now = inner.now_ms();
    let mut st = inner.state.lock();
    st.subscriptions = subscriptions;
    let orphans: Vec<Slot> = st
        .ready
        .iter()
        .filter(|(_, _, k)| {
            st.records.get(k).is_some_and(|r| {
                !st.subscriptions
                    .contains_key(&subscription_key(&r.stakeholder, &r.subscription))
            })
        })
        .cloned()
        .collect();
    for slot in orphans {
        st.ready.remove(&slot);
        st.ready.insert((now, slot.1, slot.2));
    }
}

/// The subscription key part of a delivery key.
fn subscription_of(key: &str) -> &str {
    match key.match_indices('\0').nth(1) {
        Some((at, _)) => &key[..at],
        None => key,
    }
}

/// The dispatcher: starts due deliveries within the in-flight bounds, sleeps
/// until the next is due or something changes.
async fn dispatch(inner: Arc<Inner>, mut stopped: watch::Receiver<bool>) {
    let slots = Arc::new(Semaphore::new(DELIVERIES_IN_FLIGHT_MAX));
    let mut tasks = JoinSet::new();
    let shared = inner.outbox.shared();
    loop {
        while tasks.try_join_next().is_some() {}
        if shared {
            refresh_subscriptions(&inner);
        }
        let now = inner.now_ms();
        let mut next_due = None;
        let mut started: Vec<(String, OwnedSemaphorePermit)> = Vec::new();
        if inner.active.load(std::sync::atomic::Ordering::SeqCst) {
            let mut guard = inner.state.lock();
            let st = &mut *guard;
            let mut taken: Vec<Slot> = Vec::new();
            // Subscriptions with no room left: once every subscription is
            // full the rest of the queue cannot start, so it is not walked
            // (a backlog of one subscription would otherwise be scanned in
            // full after every delivery that finishes).
            let mut full: HashSet<String> = HashSet::new();
            for slot in st.ready.iter() {
                if slot.0 > now {
                    next_due = Some(slot.0);
                    break;
                }
                let Some(record) = st.records.get(&slot.2) else {
                    continue;
                };
                let sub = subscription_key(&record.stakeholder, &record.subscription);
                if full.contains(&sub) {
                    continue;
                }
                let live = st.subscriptions.contains_key(&sub);
                let busy = st.in_flight.entry(sub.clone()).or_insert(0);
                if *busy >= SUBSCRIPTION_IN_FLIGHT_MAX {
                    if live {
                        full.insert(sub);
                        if full.len() >= st.subscriptions.len() {
                            break;
                        }
                    }
                    continue;
                }
                let Ok(permit) = slots.clone().try_acquire_owned() else {
                    break;
                };
                *busy += 1;
                taken.push(slot.clone());
                started.push((slot.2.clone(), permit));
            }
            for slot in &taken {
                st.ready.remove(slot);
            }
        }
        for (key, permit) in started {
            tasks.spawn(attempt(inner.clone(), key, permit));
        }
        let mut sleep = match next_due {
            Some(due) => Duration::from_millis(u64::try_from(due - now).unwrap_or(0)),
            None => Duration::from_secs(3600),
        };
        if shared {
            sleep = sleep.min(Duration::from_millis(SHARED_REFRESH_MS));
        }
        tokio::select! {
            _ = stopped.changed() => break,
            _ = inner.wake.notified() => {}
            _ = tokio::time::sleep(sleep) => {}
        }
    }
    while tasks.join_next().await.is_some() {}
}

/// One attempt of one delivery, then its bookkeeping.
async fn attempt(inner: Arc<Inner>, key: String, _permit: OwnedSemaphorePermit) {
    let (record, subscription) = {
        let st = inner.state.lock();
        let record = st.records.get(&key).cloned();
        let subscription = record.as_ref().and_then(|r| {
            st.subscriptions
                .get(&subscription_key(&r.stakeholder, &r.subscription))
                .cloned()
        });
        (record, subscription)
    };
    let Some(record) = record else {
        release(&inner, &key);
        return;
    };
    let timeout = Duration::from_millis(inner.retry.request_timeout_ms);
    let outcome = match (subscription, inner.outbox.body(&key)) {
        (None, _) => Outcome::Permanent("subscription removed".to_string()),
        (Some(_), Err(e)) => Outcome::Retry {
            error: e.to_string(),
            retry_after_ms: None,
        },
        (Some(_), Ok(None)) => Outcome::Permanent("body missing from the outbox".to_string()),
        (Some(s), Ok(Some(body))) => match s.target {
            Target::Webhook { url, secret } => {
                let now_s = inner.now_ms() / 1000;
                let refused = reqwest::Url::parse(&url)
                    .ok()
                    .and_then(|u| crate::address::refused_host(&u))
                    .filter(|_| !inner.webhooks_to_private_addresses);
                if let Some(why) = refused {
                    // A subscription kept from before the rule.
                    Outcome::Permanent(format!("{why}; webhooks reach public addresses only"))
                } else {
                    webhook::attempt(
                        &inner.http,
                        &url,
                        &secret,
                        &record.message_id,
                        &body,
                        timeout,
                        now_s,
                    )
                    .await
                }
            }
            Target::Mqtt { topic_prefix } => match &inner.mqtt {
                None => Outcome::Permanent("no MQTT broker configured".to_string()),
                Some(mqtt) => {
                    let topic = format!("{topic_prefix}/{}/{}", record.stakeholder, record.kind);
                    match mqtt.publish(topic, body, timeout).await {
                        Ok(()) => Outcome::Delivered,
                        Err(error) => Outcome::Retry {
                            error,
                            retry_after_ms: None,
                        },
                    }
                }
            },
        },
    };
    finish(&inner, &key, record, outcome);
    inner.wake.notify_one();
}

/// Frees the in-flight slot of `key`'s subscription.
fn release(inner: &Inner, key: &str) {
    if let Some(busy) = inner.state.lock().in_flight.get_mut(subscription_of(key)) {
        *busy = busy.saturating_sub(1);
    }
}

/// Records the outcome of an attempt, reschedules or finishes the delivery,
/// and prunes the oldest finished records beyond [`DELIVERED_RECORDS_MAX`].
///
/// `attempted` is the record as the attempt began. If the notifier went
/// passive meanwhile (its records are gone from memory), the outcome is
/// still stored, so the node active next does not send it again.
fn finish(inner: &Inner, key: &str, attempted: DeliveryRecord, outcome: Outcome) {
    let now = inner.now_ms();
    let mut st = inner.state.lock();
    if let Some(busy) = st.in_flight.get_mut(subscription_of(key)) {
        *busy = busy.saturating_sub(1);
    }
    let known = st.records.get(key).cloned();
    let passive = known.is_none();
    let mut r = known.unwrap_or(attempted);
    r.attempts = r.attempts.saturating_add(1);
    let counter = match (&outcome, r.attempts >= inner.retry.attempts_max) {
        (Outcome::Delivered, _) => &inner.counts.delivered,
        (Outcome::Permanent(_), _) | (Outcome::Retry { .. }, true) => &inner.counts.failed,
        (Outcome::Retry { .. }, false) => &inner.counts.retried,
    };
    counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    match outcome {
        Outcome::Delivered => {
            r.status = DeliveryStatus::Delivered;
            r.delivered_unix_ms = Some(now);
            r.next_attempt_unix_ms = now;
        }
        Outcome::Permanent(error) => {
            r.status = DeliveryStatus::Failed;
            r.last_error = Some(error);
            r.next_attempt_unix_ms = now;
        }
        Outcome::Retry {
            error,
            retry_after_ms,
        } => {
            if r.attempts >= inner.retry.attempts_max {
                r.status = DeliveryStatus::Failed;
                r.last_error = Some(format!("{error} (gave up after {} attempts)", r.attempts));
                r.next_attempt_unix_ms = now;
            } else {
                let delay_ms = match retry_after_ms {
                    Some(ms) => ms.min(inner.retry.backoff_ms_max),
                    None => inner.retry.backoff_ms(r.attempts, &mut rand::thread_rng()),
                };
                r.last_error = Some(error);
                r.next_attempt_unix_ms = now.saturating_add(ms_i64(delay_ms));
            }
        }
    }
    let finished = r.status != DeliveryStatus::Pending;
    if let Err(e) = inner.outbox.update_delivery(&r, finished) {
        // The in-memory state goes on; after a restart the delivery is
        // pending again (a possible duplicate, never a loss).
        tracing::error!(delivery = %r.message_id, "cannot record delivery state: {e}");
    }
    if passive {
        return;
    }
    match r.status {
        DeliveryStatus::Pending => {
            st.ready
                .insert((r.next_attempt_unix_ms, r.seq, key.to_string()));
        }
        DeliveryStatus::Delivered | DeliveryStatus::Failed => {
            st.pending = st.pending.saturating_sub(1);
            st.finished.insert((now, r.seq, key.to_string()));
            if r.status == DeliveryStatus::Failed {
                tracing::warn!(subscription = %r.subscription, notification = %r.notification,
                    error = r.last_error.as_deref().unwrap_or(""), "delivery failed");
            }
        }
    }
    st.records.insert(key.to_string(), r);
    let pruned = prune(&mut st, DELIVERED_RECORDS_MAX);
    if !pruned.is_empty() {
        if let Err(e) = inner.outbox.remove_deliveries(&pruned) {
            tracing::error!("cannot prune delivery records: {e}");
        }
    }
}

/// Forgets the oldest finished records beyond `finished_max`; returns their keys.
fn prune(st: &mut State, finished_max: usize) -> Vec<String> {
    let mut pruned = Vec::new();
    while st.finished.len() > finished_max {
        let Some(oldest) = st.finished.pop_first() else {
            break;
        };
        st.records.remove(&oldest.2);
        pruned.push(oldest.2);
    }
    pruned
}

/// The `webhook-id` of a delivery: `msg_` and 32 hex digits of
/// SHA-256(key). Derived, not random, so it is stable across retries and
/// restarts, and the same if a pruned pair is ever enqueued again.
fn message_id(key: &str) -> String {
    let digest = Sha256::digest(key.as_bytes());
    let mut id = String::from("msg_");
    for b in digest.iter().take(16) {
        id.push_str(&format!("{b:02x}"));
    }
    id
}

fn ms_i64(ms: u64) -> i64 {
    i64::try_from(ms).unwrap_or(i64::MAX)
}

fn check_config(c: &NotifierConfig) -> Result<(), NotifyError> {
    let bad = |m: &str| Err(NotifyError::InvalidConfig(m.to_string()));
    if c.retry.attempts_max == 0 {
        return bad("retry.attempts_max must be at least 1");
    }
    if c.retry.backoff_ms_initial == 0 || c.retry.backoff_ms_initial > c.retry.backoff_ms_max {
        return bad("retry.backoff_ms_initial must be in 1 ..= backoff_ms_max");
    }
    if c.retry.request_timeout_ms == 0 {
        return bad("retry.request_timeout_ms must be at least 1");
    }
    if let Some(m) = &c.mqtt {
        if m.host.is_empty() {
            return bad("mqtt.host is empty");
        }
        if m.client_id.is_empty() || m.client_id.starts_with(' ') {
            return bad("mqtt.client_id must be non-empty and not start with a space");
        }
        if !m.keep_alive.is_zero() && m.keep_alive < Duration::from_secs(1) {
            return bad("mqtt.keep_alive must be zero or at least one second");
        }
    }
    Ok(())
}

/// Non-empty, at most [`ID_BYTES_MAX`], no control characters (so no NUL,
/// which separates the two ids of a delivery key).
fn check_id(what: &str, id: &str) -> Result<(), String> {
    if id.is_empty() {
        return Err(format!("{what} is empty"));
    }
    if id.len() > ID_BYTES_MAX {
        return Err(format!("{what} is longer than {ID_BYTES_MAX} bytes"));
    }
    if id.chars().any(char::is_control) {
        return Err(format!("{what} contains a control character"));
    }
    Ok(())
}

fn check_subscription(s: &Subscription, private_allowed: bool) -> Result<(), NotifyError> {
    let invalid = |reason: String| NotifyError::InvalidSubscription {
        id: s.id.clone(),
        reason,
    };
    check_id("id", &s.id).map_err(invalid)?;
    check_id("stakeholder", &s.stakeholder).map_err(invalid)?;
    // The stakeholder is one MQTT topic level.
    if s.stakeholder.contains(['/', '+', '#']) {
        return Err(invalid("stakeholder contains '/', '+' or '#'".to_string()));
    }
    match &s.target {
        Target::Webhook { url, .. } => {
            if url.len() > URL_BYTES_MAX {
                return Err(invalid(format!("url is longer than {URL_BYTES_MAX} bytes")));
            }
            let parsed = reqwest::Url::parse(url).map_err(|e| invalid(format!("url: {e}")))?;
            if !matches!(parsed.scheme(), "http" | "https") {
                return Err(invalid("url scheme must be http or https".to_string()));
            }
            if parsed.host_str().is_none_or(str::is_empty) {
                return Err(invalid("url has no host".to_string()));
            }
            if let Some(why) = crate::address::refused_host(&parsed).filter(|_| !private_allowed) {
                return Err(invalid(format!(
                    "url: {why}; webhooks reach public addresses only (this node does not allow private ones)"
                )));
            }
        }
        Target::Mqtt { topic_prefix } => {
            if topic_prefix.is_empty() || topic_prefix.len() > TOPIC_PREFIX_BYTES_MAX {
                return Err(invalid(format!(
                    "topic prefix must be 1 to {TOPIC_PREFIX_BYTES_MAX} bytes"
                )));
            }
            if topic_prefix.contains(['+', '#']) {
                return Err(invalid(
                    "topic prefix contains a wildcard ('+' or '#')".to_string(),
                ));
            }
            if topic_prefix.chars().any(char::is_control) {
                return Err(invalid(
                    "topic prefix contains a control character".to_string(),
                ));
            }
            if topic_prefix.starts_with('$') {
                return Err(invalid(
                    "topic prefix starts with '$' (reserved by brokers)".to_string(),
                ));
            }
            if topic_prefix.ends_with('/') {
                return Err(invalid("topic prefix ends with '/'".to_string()));
            }
        }
    }
    Ok(())
}

/// Checks a notification and returns its body (JSON bytes).
fn check_notification(n: &Notification) -> Result<Vec<u8>, NotifyError> {
    let invalid = |reason: String| NotifyError::InvalidNotification {
        id: n.id.clone(),
        reason,
    };
    check_id("id", &n.id).map_err(invalid)?;
    check_id("stakeholder", &n.stakeholder).map_err(invalid)?;
    let body = serde_json::to_vec(n).map_err(|e| invalid(format!("json: {e}")))?;
    if body.len() > BODY_BYTES_MAX {
        return Err(NotifyError::BodyTooLarge {
            id: n.id.clone(),
            bytes: body.len(),
        });
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng as _;

    #[test]
    fn backoff_is_full_jitter_under_a_doubling_cap() {
        let policy = RetryPolicy {
            attempts_max: 10,
            backoff_ms_initial: 100,
            backoff_ms_max: 1_000,
            request_timeout_ms: 1_000,
        };
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        for attempts in 1..=40u32 {
            let cap = (100u64 << (attempts - 1).min(20)).min(1_000);
            for _ in 0..50 {
                let d = policy.backoff_ms(attempts, &mut rng);
                assert!(d <= cap, "attempt {attempts}: {d} > {cap}");
            }
        }
        // Jitter: not always the cap.
        let draws: HashSet<u64> = (0..50).map(|_| policy.backoff_ms(5, &mut rng)).collect();
        assert!(draws.len() > 10);
    }

    #[test]
    fn prune_forgets_the_oldest_finished_records_only() {
        let mut st = State::default();
        for (i, status) in [
            DeliveryStatus::Delivered,
            DeliveryStatus::Failed,
            DeliveryStatus::Pending,
            DeliveryStatus::Delivered,
        ]
        .into_iter()
        .enumerate()
        {
            let key = delivery_key("acme", "s", &format!("n{i}"));
            let seq = i as u64;
            st.records.insert(
                key.clone(),
                DeliveryRecord {
                    subscription: "s".into(),
                    notification: format!("n{i}"),
                    kind: crate::NotificationKind::VexChanged,
                    stakeholder: "acme".into(),
                    message_id: message_id(&key),
                    attempts: 1,
                    status,
                    last_error: None,
                    next_attempt_unix_ms: 0,
                    delivered_unix_ms: None,
                    enqueued_unix_ms: 0,
                    seq,
                },
            );
            if status != DeliveryStatus::Pending {
                // Finish times out of enqueue order: n3 finished first.
                st.finished
                    .insert((if i == 3 { 5 } else { 10 + seq as i64 }, seq, key));
            }
        }
        assert_eq!(prune(&mut st, 3), Vec::<String>::new());
        assert_eq!(
            prune(&mut st, 1),
            [
                delivery_key("acme", "s", "n3"),
                delivery_key("acme", "s", "n0")
            ]
        );
        let mut left: Vec<_> = st
            .records
            .values()
            .map(|r| r.notification.clone())
            .collect();
        left.sort();
        assert_eq!(left, ["n1", "n2"], "pending n2 is never pruned");
    }

    #[test]
    fn message_ids_are_stable_and_distinct() {
        let a = message_id(&delivery_key("acme", "s1", "n1"));
        assert_eq!(a, message_id(&delivery_key("acme", "s1", "n1")));
        assert_ne!(a, message_id(&delivery_key("acme", "s2", "n1")));
        assert_ne!(a, message_id(&delivery_key("beta", "s1", "n1")));
        assert!(a.starts_with("msg_") && a.len() == 36);
    }
}

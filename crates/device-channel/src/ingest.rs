//! The ingester: subscribes to every device's reports topic with a
//! persistent session (clean session off, QoS 1, manual acknowledgements),
//! checks each report, registers the accepted ones in the log through the
//! registration policy (signatures batch-verified there, with the key the
//! device's twin holds at the log's head), and acknowledges a message only
//! once its fate is durable: registered, or refused for good.
//!
//! Delivery is at-least-once and recording idempotent: a message the
//! ingester did not acknowledge (a crash, a broken connection, a log that
//! cannot append) is delivered again by the broker; the same signed bytes
//! are the same log entry (the log's dedup index), so nothing is recorded
//! twice, and nothing acknowledged is lost.
//!
//! The order of the checks: topic, size, COSE, issuer and subject, payload
//! (strictly, `posture::report`), freshness and counter (against the last
//! report of the device, from memory or, after a start, from the twin), then
//! key, signature and the twin's rules (the registration policy). A forged
//! report never moves the counter: the guard records a report only after
//! the log accepted it.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use clock::Clock;
use futures::stream::{FuturesUnordered, StreamExt};
use posture::replay::{Freshness, LastAccepted, RejectReason};
use posture::report::{DeviceReport, ReportError, Sha256, REPORT_BYTES_MAX};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, Publish, QoS};
use scitt::SignedStatement;
use sha2::Digest;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use transparency::{RegisterError, Registered, TransparencyService};
use twin::{AttributeClass, DeviceId};
use twin_store::Projector;

use crate::stats::IngestStats;
use crate::topic::{device_of_topic, REPORTS_TOPIC_FILTER};

/// Largest message accepted, in bytes: the largest report plus the COSE
/// envelope (headers, CWT claims, signature).
pub const MESSAGE_BYTES_MAX: usize = REPORT_BYTES_MAX + 2048;
/// Most reports registered together (one batch verification, shared group
/// commits).
pub const BATCH_REPORTS_MAX: usize = 2048;
/// How long a batch waits for more reports after its first, in milliseconds.
pub const BATCH_WAIT_MS: u64 = 2;
/// Batches registering at once: one is checked and verified while the one
/// before waits for its group commit.
pub const INFLIGHT_BATCHES_MAX: usize = 2;
/// Reports held back behind a report of their device that is registering;
/// past it the worker takes no more messages until a batch lands (the
/// event loop, then the broker, hold them).
const WAITING_REPORTS_MAX: usize = 16_384;
/// Messages queued between the MQTT event loop and the ingester.
const QUEUED_MESSAGES_MAX: usize = 8192;
/// Messages the event loop holds beyond that queue before it stops reading
/// from the broker (it keeps sending acknowledgements meanwhile). A broker
/// should hold back at its in-flight limit; not every one does (Mosquitto
/// 2.0.11 was seen sending far past `max_inflight_messages` once
/// acknowledgements flow), so the bound is the ingester's own.
const HELD_MESSAGES_MAX: usize = 65_536;
/// Requests (acknowledgements, subscriptions) queued for the MQTT client.
const CLIENT_REQUESTS_MAX: usize = 16_384;
/// How often acknowledgements that found the client's queue full are tried
/// again, in milliseconds.
const ACK_RETRY_MS: u64 = 20;
/// Wait before reconnecting after a broken connection, in milliseconds.
const RECONNECT_MS: u64 = 500;
/// Wait after the log refused to append before the reports are tried
/// again, in milliseconds.
const APPEND_RETRY_MS: u64 = 1000;
/// Longest wait at start for the twins to reflect the log (the counters of
/// the last reports come from them), in seconds.
const CATCH_UP_WAIT_S: u64 = 120;

/// Where and how the ingester connects.
#[derive(Debug, Clone)]
pub struct IngestConfig {
    /// The broker's host.
    pub host: String,
    /// The broker's port.
    pub port: u16,
    /// The MQTT client id: stable across restarts, for the broker to keep
    /// the session (subscription and unacknowledged messages).
    pub client_id: String,
    /// The window a report's timestamp must lie in.
    pub freshness: Freshness,
}

impl IngestConfig {
    /// The ingester of the node whose log is `origin`, on `host:port`.
    pub fn new(host: &str, port: u16, origin: &str) -> IngestConfig {
        let sanitized: String = origin
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .take(40)
            .collect();
        IngestConfig {
            host: host.to_string(),
            port,
            client_id: format!("sectwin-ingest-{sanitized}"),
            freshness: Freshness::default(),
        }
    }
}

/// A running ingester.
pub struct Ingester {
    stats: Arc<IngestStats>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Ingester {
    /// Connects (lazily, and again whenever the connection breaks) and
    /// ingests until [`Ingester::shutdown`], counting into `stats`. Must be
    /// called within a tokio runtime.
    pub fn start(
        config: IngestConfig,
        scitt: Arc<TransparencyService>,
        projector: Projector,
        clock: Arc<dyn Clock>,
        stats: Arc<IngestStats>,
    ) -> Ingester {
        stats.set_enabled();
        let (stop, stopped) = watch::channel(false);
        let mut options = MqttOptions::new(&config.client_id, &config.host, config.port);
        options
            .set_clean_session(false)
            .set_manual_acks(true)
            .set_keep_alive(Duration::from_secs(30))
            .set_max_packet_size(MESSAGE_BYTES_MAX + 1024, MESSAGE_BYTES_MAX + 1024);
        let (client, eventloop) = AsyncClient::new(options, CLIENT_REQUESTS_MAX);
        let (tx, rx) = mpsc::channel(QUEUED_MESSAGES_MAX);
        let events = tokio::spawn(event_loop(
            eventloop,
            client.clone(),
            tx,
            stats.clone(),
            stopped.clone(),
        ));
        let worker = Worker {
            client,
            scitt,
            projector,
            clock,
            stats: stats.clone(),
            guard: HashMap::new(),
            freshness: config.freshness,
            busy: HashSet::new(),
            waiting: VecDeque::new(),
            unacked: Vec::new(),
        };
        let work = tokio::spawn(worker.run(rx, stopped));
        Ingester {
            stats,
            stop,
            tasks: vec![events, work],
        }
    }

    /// The counters.
    pub fn stats(&self) -> Arc<IngestStats> {
        self.stats.clone()
    }

    /// Stops both tasks (unacknowledged reports stay with the broker).
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

/// Drives the MQTT connection: (re)subscribes on every connection and
/// hands each report message to the worker. It never waits on the worker
/// while it could be reading or writing the connection (the worker's
/// acknowledgements go out through it): messages the worker has no room
/// for yet are held here, and past [`HELD_MESSAGES_MAX`] it only hands
/// them on, still sending what the worker queued, until there is room.
async fn event_loop(
    mut eventloop: rumqttc::EventLoop,
    client: AsyncClient,
    tx: mpsc::Sender<Publish>,
    stats: Arc<IngestStats>,
    mut stopped: watch::Receiver<bool>,
) {
    let mut held: std::collections::VecDeque<Publish> = std::collections::VecDeque::new();
    loop {
        let event = tokio::select! {
            _ = stopped.changed() => break,
            permit = tx.reserve(), if !held.is_empty() => {
                match permit {
                    Ok(permit) => {
                        if let Some(p) = held.pop_front() {
                            permit.send(p);
                        }
                        continue;
                    }
                    Err(_) => break,
                }
            }
            event = eventloop.poll(), if held.len() < HELD_MESSAGES_MAX => event,
        };
        match event {
            Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                stats.set_connected(true);
                tracing::info!(
                    session_present = ack.session_present,
                    "device channel: connected"
                );
                // The broker keeps the subscription of a persistent session;
                // subscribing again is harmless and covers a broker that
                // lost it.
                if let Err(e) = client.try_subscribe(REPORTS_TOPIC_FILTER, QoS::AtLeastOnce) {
                    tracing::warn!("device channel: subscribing: {e}");
                }
            }
            Ok(Event::Incoming(Packet::Publish(p))) => {
                stats.received();
                // Behind what is held already, to keep each device's
                // reports in the order they came.
                if !held.is_empty() {
                    held.push_back(p);
                    continue;
                }
                match tx.try_send(p) {
                    Ok(()) => {}
                    Err(mpsc::error::TrySendError::Full(p)) => held.push_back(p),
                    Err(mpsc::error::TrySendError::Closed(_)) => break,
                }
            }
            Ok(_) => {}
            Err(e) => {
                if stats.snapshot().connected {
                    tracing::warn!("device channel: {e}");
                }
                stats.set_connected(false);
                tokio::select! {
                    _ = stopped.changed() => break,
                    _ = tokio::time::sleep(Duration::from_millis(RECONNECT_MS)) => {}
                }
            }
        }
    }
    let _ = client.try_disconnect();
    stats.set_connected(false);
}

/// A report that passed the checks made before registration.
struct Candidate {
    message: Publish,
    device: DeviceId,
    last: LastAccepted,
}

/// What became of a message at the checks.
enum Fate {
    /// Refused for good (acknowledged).
    Refused(RejectReason),
    /// To register.
    Register(Box<(Candidate, SignedStatement)>),
}

/// A batch whose registration has ended: each candidate with its result, or
/// `None` if the ingester stopped before the log could take it (the broker
/// delivers it again).
type Landed = Vec<(Candidate, Option<Result<Registered, RegisterError>>)>;

struct Worker {
    client: AsyncClient,
    scitt: Arc<TransparencyService>,
    projector: Projector,
    clock: Arc<dyn Clock>,
    stats: Arc<IngestStats>,
    /// The last report registered per device (seeded from the twin the
    /// first time a device is seen).
    guard: HashMap<DeviceId, Option<LastAccepted>>,
    freshness: Freshness,
    /// Devices with a report registering now: their next reports wait, so
    /// that each device's reports are checked and registered in order.
    busy: HashSet<String>,
    /// Reports held back behind their device's registering one, in the
    /// order they came.
    waiting: VecDeque<Publish>,
    /// Messages whose fate is durable, to acknowledge.
    unacked: Vec<Publish>,
}

impl Worker {
    /// Pipelined: while one batch waits for its group commit, the next is
    /// checked and verified ([`INFLIGHT_BATCHES_MAX`] at once), on other
    /// threads than the checks. A device is in one batch at a time.
    async fn run(mut self, mut rx: mpsc::Receiver<Publish>, mut stopped: watch::Receiver<bool>) {
        // The counters of the last reports come from the twins: wait until
        // they reflect what the log holds.
        let size = self.scitt.log().durable_size().get();
        if !self
            .projector
            .wait_projected(size, Duration::from_secs(CATCH_UP_WAIT_S))
            .await
        {
            tracing::warn!("device channel: the twins did not catch up with the log in time; counters are checked against what they hold");
        }
        let mut flights: FuturesUnordered<JoinHandle<Landed>> = FuturesUnordered::new();
        // Whether a report held back may have become free to go.
        let mut released = false;
        let mut open = true;
        loop {
            if *stopped.borrow() {
                break;
            }
            self.ack();
            let room = flights.len() < INFLIGHT_BATCHES_MAX;
            let take = room && open && self.waiting.len() < WAITING_REPORTS_MAX;
            tokio::select! {
                biased;
                _ = stopped.changed() => break,
                Some(landed) = flights.next(), if !flights.is_empty() => {
                    match landed {
                        Ok(landed) => self.land(landed),
                        Err(e) => tracing::error!("device channel: a registration task failed: {e}"),
                    }
                    released = !self.waiting.is_empty();
                }
                _ = std::future::ready(()), if room && released => {
                    released = false;
                    if let Some(flight) = self.launch(Vec::new(), &stopped) {
                        flights.push(flight);
                    }
                }
                first = rx.recv(), if take => {
                    let Some(first) = first else {
                        open = false;
                        continue;
                    };
                    let mut fresh = vec![first];
                    let deadline = tokio::time::Instant::now() + Duration::from_millis(BATCH_WAIT_MS);
                    while fresh.len() < BATCH_REPORTS_MAX {
                        match tokio::time::timeout_at(deadline, rx.recv()).await {
                            Ok(Some(p)) => fresh.push(p),
                            Ok(None) | Err(_) => break,
                        }
                    }
                    released = false;
                    if let Some(flight) = self.launch(fresh, &stopped) {
                        flights.push(flight);
                    }
                }
                _ = tokio::time::sleep(Duration::from_millis(ACK_RETRY_MS)), if !self.unacked.is_empty() => {}
                else => break,
            }
        }
        // What is registering ends soon (a failing append gives up on the
        // stop); what landed is acknowledged if the client still can.
        while let Some(landed) = flights.next().await {
            if let Ok(landed) = landed {
                self.land(landed);
            }
        }
        self.ack();
    }

    /// Queues the acknowledgements of what is durable without waiting:
    /// those the client's queue has no room for stay for the next try
    /// (waiting here could wait on the event loop, which may be waiting on
    /// this worker).
    fn ack(&mut self) {
        let mut kept = Vec::new();
        for p in self.unacked.drain(..) {
            match self.client.try_ack(&p) {
                Ok(()) => {}
                Err(rumqttc::ClientError::TryRequest(_)) => kept.push(p),
                Err(e) => tracing::debug!("device channel: acknowledging: {e}"),
            }
        }
        self.unacked = kept;
    }

    /// Checks the held-back reports whose device is free and then `fresh`
    /// (in the order they came), and starts registering those that pass;
    /// a report of a device with one registering waits.
    fn launch(
        &mut self,
        fresh: Vec<Publish>,
        stopped: &watch::Receiver<bool>,
    ) -> Option<JoinHandle<Landed>> {
        let now = self.clock.now_unix_s();
        let mut candidates = Vec::new();
        let mut statements = Vec::new();
        let held = std::mem::take(&mut self.waiting);
        for p in held.into_iter().chain(fresh) {
            let Some(id) = device_of_topic(&p.topic) else {
                self.stats.rejected(RejectReason::SubjectMismatch);
                self.unacked.push(p);
                continue;
            };
            if self.busy.contains(id) {
                self.waiting.push_back(p);
                continue;
            }
            match self.check(p.clone(), id, now) {
                Fate::Refused(reason) => {
                    self.stats.rejected(reason);
                    self.unacked.push(p);
                }
                Fate::Register(registering) => {
                    let (c, statement) = *registering;
                    self.busy.insert(id.to_string());
                    candidates.push(c);
                    statements.push(statement);
                }
            }
        }
        if candidates.is_empty() {
            return None;
        }
        let scitt = self.scitt.clone();
        let stopped = stopped.clone();
        Some(tokio::spawn(register_durably(
            scitt, candidates, statements, stopped,
        )))
    }

    /// Takes the outcome of a batch: the guard moves, the durable fates are
    /// acknowledged, the devices are free again.
    fn land(&mut self, landed: Landed) {
        for (c, result) in landed {
            self.busy.remove(c.device.as_str());
            match result {
                Some(Ok(registered)) => {
                    if registered.duplicate {
                        self.stats.rejected(RejectReason::Duplicate);
                    } else {
                        self.stats.accepted();
                    }
                    self.guard.insert(c.device, Some(c.last));
                    self.unacked.push(c.message);
                }
                Some(Err(e)) => {
                    self.stats.rejected(reason_of(&e));
                    tracing::debug!(device = %c.device, "device report refused: {e}");
                    self.unacked.push(c.message);
                }
                // Stopped before it was durable: the broker keeps it.
                None => {}
            }
        }
    }

    /// The checks made before registration.
    fn check(&mut self, message: Publish, id: &str, now: i64) -> Fate {
        if message.payload.len() > MESSAGE_BYTES_MAX {
            return Fate::Refused(RejectReason::Oversized);
        }
        let bytes = message.payload.as_ref();
        let statement = match SignedStatement::parse(bytes) {
            Ok(s) => s,
            Err(_) => {
                let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
                return Fate::Refused(if matches!(first, Some(b'{' | b'[')) {
                    RejectReason::Unsigned
                } else {
                    RejectReason::Malformed
                });
            }
        };
        let subject = format!("device:{id}");
        if statement.issuer() != subject || statement.subject() != subject {
            return Fate::Refused(RejectReason::SubjectMismatch);
        }
        let Ok(device) = DeviceId::new(id) else {
            return Fate::Refused(RejectReason::SubjectMismatch);
        };
        let Some(payload) = statement.payload() else {
            return Fate::Refused(RejectReason::Malformed);
        };
        let report = match DeviceReport::parse(payload) {
            Ok(r) => r,
            Err(ReportError::Oversized { .. }) => return Fate::Refused(RejectReason::Oversized),
            Err(_) => return Fate::Refused(RejectReason::Malformed),
        };
        if statement.issued_at() != Some(report.timestamp) {
            return Fate::Refused(RejectReason::Malformed);
        }
        let digest = Sha256::from_bytes(sha2::Sha256::digest(bytes).into());
        let last = self.last_of(&device);
        if let Err(reason) = self.freshness.check(
            last.as_ref(),
            report.counter,
            report.timestamp,
            &digest,
            now,
        ) {
            // An older report the log already holds is a redelivery (one
            // the broker sent again after a restart), not a replay.
            let in_log = reason == RejectReason::Replayed
                && self
                    .scitt
                    .log()
                    .lookup(&tlog::leaf_hash(bytes))
                    .is_ok_and(|i| i.is_some());
            return Fate::Refused(if in_log {
                RejectReason::Duplicate
            } else {
                reason
            });
        }
        let last = LastAccepted {
            counter: report.counter,
            statement_sha256: digest,
        };
        Fate::Register(Box::new((
            Candidate {
                message,
                device,
                last,
            },
            statement,
        )))
    }

    /// The last report registered for `device`: remembered, or read from its
    /// twin the first time (its latest `device-report` claim and that
    /// entry's bytes).
    fn last_of(&mut self, device: &DeviceId) -> Option<LastAccepted> {
        if let Some(last) = self.guard.get(device) {
            return *last;
        }
        let last = self.last_in_twin(device);
        self.guard.insert(device.clone(), last);
        last
    }

    fn last_in_twin(&self, device: &DeviceId) -> Option<LastAccepted> {
        let store = self.projector.store();
        let twin = store.twin(device).ok()??;
        let class = AttributeClass::Custom(service::devices::REPORT_TYPE.into());
        let entry = *twin.current.get(&class)?;
        let claim = store.claim(entry).ok()??;
        let counter = service::devices::report_counter(&claim.body)?;
        let bytes = self.scitt.statement(tlog::LeafIndex::new(entry)).ok()?;
        Some(LastAccepted {
            counter,
            statement_sha256: Sha256::from_bytes(sha2::Sha256::digest(&bytes).into()),
        })
    }
}

/// Registers a batch, and again what the log could not append (after
/// [`APPEND_RETRY_MS`], until it can or the ingester stops): a report
/// leaves the batch only registered or refused for good, so that no later
/// report of its device overtakes it (the later one would move the counter
/// past it, and its redelivery would be refused as a replay).
async fn register_durably(
    scitt: Arc<TransparencyService>,
    candidates: Vec<Candidate>,
    statements: Vec<SignedStatement>,
    mut stopped: watch::Receiver<bool>,
) -> Landed {
    let mut results: Vec<Option<Result<Registered, RegisterError>>> = scitt
        .register_parsed_batch(statements)
        .await
        .into_iter()
        .map(Some)
        .collect();
    loop {
        let failed: Vec<usize> = (0..results.len())
            .filter(|i| matches!(results.get(*i), Some(Some(Err(RegisterError::Append(_))))))
            .collect();
        let Some(first) = failed.first() else { break };
        if let Some(Some(Err(e))) = results.get(*first) {
            tracing::warn!(
                reports = failed.len(),
                "device channel: the log refused to append; trying again in {APPEND_RETRY_MS} ms (the reports stay with the broker meanwhile): {e}"
            );
        }
        let stop = tokio::select! {
            _ = stopped.changed() => true,
            _ = tokio::time::sleep(Duration::from_millis(APPEND_RETRY_MS)) => *stopped.borrow(),
        };
        if stop {
            for i in &failed {
                if let Some(slot) = results.get_mut(*i) {
                    *slot = None;
                }
            }
            break;
        }
        let again: Vec<Vec<u8>> = failed
            .iter()
            .filter_map(|i| candidates.get(*i))
            .map(|c| c.message.payload.to_vec())
            .collect();
        for (i, result) in failed.iter().zip(scitt.register_batch(again).await) {
            if let Some(slot) = results.get_mut(*i) {
                *slot = Some(result);
            }
        }
    }
    candidates.into_iter().zip(results).collect()
}

/// The reason a registration refused a report.
fn reason_of(e: &RegisterError) -> RejectReason {
    match e {
        RegisterError::UnknownKey { .. } | RegisterError::KeyNotValid(_) => {
            RejectReason::UnknownDevice
        }
        RegisterError::Statement(_) => RejectReason::BadSignature,
        RegisterError::IssuedTooLongAgo { .. } => RejectReason::Stale,
        RegisterError::IssuedInTheFuture { .. } => RejectReason::FromTheFuture,
        RegisterError::Refused(m) if m.contains("decommissioned") => RejectReason::Decommissioned,
        RegisterError::Refused(m)
            if m.contains("not registered") || m.contains("unknown device") =>
        {
            RejectReason::UnknownDevice
        }
        _ => RejectReason::Malformed,
    }
}

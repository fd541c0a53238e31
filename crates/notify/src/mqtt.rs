//! One MQTT publisher: a rumqttc client, its event loop task, and the
//! matching of PUBACKs to the publishes waiting for them.
//!
//! rumqttc reports a publish only by packet id, after it has left the event
//! loop (`Outgoing::Publish(pkid)`), in the order requests were queued. So
//! every queued request has exactly one waiter in `queued` (pushed under the
//! same lock as the request), the `Outgoing` event moves the front waiter to
//! `sent[pkid]`, and the PUBACK resolves it. On a connection error every
//! waiter fails and the event loop's replay queue is emptied *under that
//! lock*, so the two queues can never drift apart; the notifier retries those
//! deliveries with its own back-off (QoS 1 is at-least-once anyway).
//!
//! Deliberately absent: TLS, authentication, persistent sessions
//! (`clean_session` is on: the outbox, not the broker, is the durable queue),
//! and subscribing to anything.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use rumqttc::{AsyncClient, Event, MqttOptions, Outgoing, Packet, QoS};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

/// Publish requests that may wait in rumqttc's channel; more are refused
/// (and retried later) rather than blocking a delivery task.
pub const MQTT_REQUESTS_QUEUED_MAX: usize = 256;
/// Delay between reconnection attempts while the broker is unreachable, ms.
pub const MQTT_RECONNECT_MS: u64 = 250;
/// Outstanding QoS 1 publishes rumqttc allows; above the notifier's global
/// in-flight bound so packet ids never collide.
pub const MQTT_INFLIGHT_MAX: u16 = 256;

type Waiter = oneshot::Sender<Result<(), String>>;

#[derive(Default)]
struct Waiters {
    queued: VecDeque<Waiter>,
    sent: HashMap<u16, Waiter>,
}

/// The publisher handle.
pub struct Publisher {
    client: AsyncClient,
    waiters: Arc<Mutex<Waiters>>,
    task: Mutex<Option<JoinHandle<()>>>,
    stop: watch::Sender<bool>,
}

impl Publisher {
    /// Starts the client and its event loop task (which connects lazily and
    /// keeps reconnecting).
    pub fn start(options: MqttOptions) -> Publisher {
        let (client, mut eventloop) = AsyncClient::new(options, MQTT_REQUESTS_QUEUED_MAX);
        let waiters = Arc::new(Mutex::new(Waiters::default()));
        let (stop, mut stopped) = watch::channel(false);
        let w = waiters.clone();
        let task = tokio::spawn(async move {
            let mut connected = false;
            loop {
                let event = tokio::select! {
                    _ = stopped.changed() => break,
                    event = eventloop.poll() => event,
                };
                match event {
                    Ok(Event::Outgoing(Outgoing::Publish(pkid))) => {
                        let mut w = w.lock();
                        if let Some(waiter) = w.queued.pop_front() {
                            w.sent.insert(pkid, waiter);
                        }
                    }
                    Ok(Event::Incoming(Packet::PubAck(ack))) => {
                        if let Some(waiter) = w.lock().sent.remove(&ack.pkid) {
                            let _ = waiter.send(Ok(()));
                        }
                    }
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        connected = true;
                        tracing::info!("mqtt: connected");
                    }
                    Ok(_) => {}
                    Err(e) => {
                        let error = format!("mqtt: {e}");
                        if connected {
                            tracing::warn!("{error}");
                        } else {
                            tracing::debug!("{error}");
                        }
                        connected = false;
                        {
                            let mut w = w.lock();
                            eventloop.clean();
                            eventloop.pending.clear();
                            for waiter in w.queued.drain(..) {
                                let _ = waiter.send(Err(error.clone()));
                            }
                            for (_, waiter) in w.sent.drain() {
                                let _ = waiter.send(Err(error.clone()));
                            }
                        }
                        tokio::select! {
                            _ = stopped.changed() => break,
                            _ = tokio::time::sleep(Duration::from_millis(MQTT_RECONNECT_MS)) => {}
                        }
                    }
                }
            }
        });
        Publisher {
            client,
            waiters,
            task: Mutex::new(Some(task)),
            stop,
        }
    }

    /// Publishes with QoS 1 and waits for the PUBACK, at most `timeout`.
    pub async fn publish(
        &self,
        topic: String,
        payload: Vec<u8>,
        timeout: Duration,
    ) -> Result<(), String> {
        let (tx, rx) = oneshot::channel();
        {
            let mut w = self.waiters.lock();
            self.client
                .try_publish(topic, QoS::AtLeastOnce, false, payload)
                .map_err(|e| format!("mqtt: cannot queue publish: {e}"))?;
            w.queued.push_back(tx);
        }
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err("mqtt: client stopped".to_string()),
            Err(_) => Err(format!("mqtt: no PUBACK within {} ms", timeout.as_millis())),
        }
    }

    /// Disconnects and stops the event loop task.
    pub async fn shutdown(&self) {
        let _ = self.client.try_disconnect();
        // Give the DISCONNECT a moment to leave, then stop the loop.
        tokio::time::sleep(Duration::from_millis(20)).await;
        let _ = self.stop.send(true);
        let task = self.task.lock().take();
        if let Some(task) = task {
            let _ = task.await;
        }
    }
}

//! Shared fixtures of the notify integration tests: notifications, a retry
//! policy with small back-offs, and real HTTP receivers (axum on 127.0.0.1)
//! that record every request and answer as scripted.
//!
//! Deliberately absent: mocks; every delivery crosses a real socket.
#![allow(dead_code, missing_docs)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use notify::{
    DeliveryFilter, DeliveryRecord, Notification, NotificationKind, Notifier, NotifierConfig,
    RetryPolicy, Subscription, Target, WebhookSecret,
};
use parking_lot::Mutex;
use sha2::Sha256;

pub fn notification(id: &str, stakeholder: &str, kind: NotificationKind) -> Notification {
    Notification {
        id: id.to_string(),
        kind,
        stakeholder: stakeholder.to_string(),
        subject: "model:acme/door-1@2.1.0".to_string(),
        vulnerability: Some("CVE-2024-1234".to_string()),
        severity: Some("high".to_string()),
        deadline: Some("2025-01-31".to_string()),
        summary: format!("{kind} for {stakeholder}"),
        detail: serde_json::json!({"devices": ["dev-1", "dev-2"], "note": "ünïcode ok"}),
        created_unix_s: 1_700_000_000,
    }
}

pub fn retry_fast() -> RetryPolicy {
    RetryPolicy {
        attempts_max: 6,
        backoff_ms_initial: 20,
        backoff_ms_max: 200,
        request_timeout_ms: 2_000,
    }
}

pub async fn start(dir: &std::path::Path, retry: RetryPolicy) -> Notifier {
    let mut config = NotifierConfig::new(dir.join("outbox"));
    config.retry = retry;
    // The receivers listen on 127.0.0.1.
    config.webhooks_to_private_addresses = true;
    Notifier::start(config).await.expect("start notifier")
}

pub fn webhook(
    id: &str,
    stakeholder: &str,
    url: &str,
    secret: &WebhookSecret,
    kinds: Vec<NotificationKind>,
) -> Subscription {
    Subscription {
        id: id.to_string(),
        stakeholder: stakeholder.to_string(),
        target: Target::Webhook {
            url: url.to_string(),
            secret: secret.clone(),
        },
        kinds,
    }
}

pub fn records(n: &Notifier, subscription: &str) -> Vec<DeliveryRecord> {
    n.deliveries(DeliveryFilter {
        subscription: Some(subscription.to_string()),
        ..DeliveryFilter::default()
    })
}

/// How a receiver answers.
#[derive(Clone, Debug)]
pub enum Behaviour {
    /// 204 always.
    Accept,
    /// `status` for the first `times` requests, then 204.
    FailFirst {
        times: usize,
        status: u16,
        retry_after_s: Option<u64>,
    },
    /// `status` with `body`, always.
    Always { status: u16, body: &'static str },
    /// Sleeps `delay_ms`, then 204.
    Slow { delay_ms: u64 },
}

#[derive(Clone, Debug)]
pub struct Received {
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
    pub at: Instant,
}

#[derive(Clone)]
struct Shared {
    behaviour: Behaviour,
    hits: Arc<AtomicUsize>,
    received: Arc<Mutex<Vec<Received>>>,
}

pub struct Receiver {
    pub addr: SocketAddr,
    received: Arc<Mutex<Vec<Received>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    pub async fn start(behaviour: Behaviour) -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        Receiver::serve(listener, behaviour)
    }

    /// Serves on a port chosen earlier (for "down, then up").
    pub async fn start_on(addr: SocketAddr, behaviour: Behaviour) -> Receiver {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .expect("bind again");
        Receiver::serve(listener, behaviour)
    }

    fn serve(listener: tokio::net::TcpListener, behaviour: Behaviour) -> Receiver {
        let addr = listener.local_addr().expect("addr");
        let shared = Shared {
            behaviour,
            hits: Arc::new(AtomicUsize::new(0)),
            received: Arc::new(Mutex::new(Vec::new())),
        };
        let received = shared.received.clone();
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(handle))
            .with_state(shared);
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Receiver {
            addr,
            received,
            task,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().clone()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn handle(State(s): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let hit = s.hits.fetch_add(1, Ordering::SeqCst);
    let headers = headers
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    s.received.lock().push(Received {
        headers,
        body: body.to_vec(),
        at: Instant::now(),
    });
    match s.behaviour {
        Behaviour::Accept => StatusCode::NO_CONTENT.into_response(),
        Behaviour::FailFirst {
            times,
            status,
            retry_after_s,
        } if hit < times => {
            let status = StatusCode::from_u16(status).expect("status");
            match retry_after_s {
                Some(s) => (status, [("retry-after", s.to_string())], "try later").into_response(),
                None => (status, "try later").into_response(),
            }
        }
        Behaviour::FailFirst { .. } => StatusCode::NO_CONTENT.into_response(),
        Behaviour::Always { status, body } => {
            (StatusCode::from_u16(status).expect("status"), body).into_response()
        }
        Behaviour::Slow { delay_ms } => {
            tokio::time::sleep(Duration::from_millis(delay_ms)).await;
            StatusCode::NO_CONTENT.into_response()
        }
    }
}

/// A free port on 127.0.0.1 with nothing listening (yet).
pub fn free_addr() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr")
}

/// Verifies a received request's Standard Webhooks signature with our own
/// HMAC computation (not the crate's `sign`).
pub fn verify_signature(secret_whsec: &str, r: &Received) -> bool {
    let key = base64::engine::general_purpose::STANDARD
        .decode(secret_whsec.strip_prefix("whsec_").expect("prefix"))
        .expect("base64");
    let id = &r.headers["webhook-id"];
    let ts = &r.headers["webhook-timestamp"];
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("key");
    mac.update(format!("{id}.{ts}.").as_bytes());
    mac.update(&r.body);
    let expected = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    r.headers["webhook-signature"]
        .split(' ')
        .any(|s| s.strip_prefix("v1,") == Some(expected.as_str()))
}

/// Waits until `f` holds, at most `timeout`.
pub async fn eventually(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    f()
}

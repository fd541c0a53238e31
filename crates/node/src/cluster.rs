//! Several nodes on one PostgreSQL log: how a follower hands an append to
//! the sequencer, and the sequencer's endpoint that takes it.
//!
//! `POST /cluster/v1/entries` takes one entry (the body, as raw bytes) and
//! answers `{"index": N, "duplicate": B}` once it is durable, exactly as a
//! local append would. Only the nodes of the store may call it: they send
//! the secret the store keeps (`Authorization: Bearer <hex>`), which is
//! compared in constant time. The follower checked the entry against the
//! registration policy before forwarding; the sequencer appends it as is
//! (raw, never forwarding again). A node that does not sequence answers 503
//! and the follower asks the lease again.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use log_service::{AppendError, Appended, Forward, ForwardError, ForwardFuture, Log};
use log_store::Holder;
use serde::{Deserialize, Serialize};

/// The path of the sequencer's endpoint for forwarded appends.
pub const FORWARD_PATH: &str = "/cluster/v1/entries";
/// Longest a forwarded append's request may take (it waits for durability).
const FORWARD_REQUEST_MS_MAX: u64 = 10_000;
/// Longest a connection to the sequencer may take to open.
const FORWARD_CONNECT_MS_MAX: u64 = 1_000;

#[derive(Serialize, Deserialize)]
struct ForwardedAnswer {
    index: u64,
    duplicate: bool,
}

#[derive(Serialize, Deserialize)]
struct ForwardedRefusal {
    /// `too_large`, `empty`, `busy`, `read_only`.
    error: String,
    message: String,
    /// The sequencer's largest entry, bytes (with `too_large`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    max_bytes: Option<usize>,
}

/// A follower's [`Forward`]: the sequencer's endpoint over HTTP.
pub struct HttpForward {
    client: reqwest::Client,
    bearer: String,
}

impl HttpForward {
    /// A forwarder sending `secret` (the store's cluster secret).
    pub fn new(secret: &[u8]) -> anyhow::Result<HttpForward> {
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_millis(FORWARD_CONNECT_MS_MAX))
            .timeout(Duration::from_millis(FORWARD_REQUEST_MS_MAX))
            .build()?;
        Ok(HttpForward {
            client,
            bearer: format!("Bearer {}", hex::encode(secret)),
        })
    }
}

impl Forward for HttpForward {
    fn forward<'a>(&'a self, holder: &'a Holder, entry: &'a [u8]) -> ForwardFuture<'a> {
        Box::pin(async move {
            let url = format!("{}{FORWARD_PATH}", holder.url.trim_end_matches('/'));
            let answer = self
                .client
                .post(&url)
                .header("authorization", &self.bearer)
                .header("content-type", "application/octet-stream")
                .body(entry.to_vec())
                .send()
                .await
                .map_err(|e| {
                    // Not connected: the entry never left. Anything later:
                    // it may have been taken.
                    if e.is_connect() {
                        ForwardError::Retry(format!("{url}: {e}"))
                    } else {
                        ForwardError::Unanswered(format!("{url}: {e}"))
                    }
                })?;
            let status = answer.status();
            let body = answer
                .bytes()
                .await
                .map_err(|e| ForwardError::Unanswered(format!("{url}: {e}")))?;
            if status.is_success() {
                let a: ForwardedAnswer = serde_json::from_slice(&body).map_err(|e| {
                    ForwardError::Retry(format!("{url}: an answer that is not one: {e}"))
                })?;
                return Ok(Appended {
                    index: tlog::LeafIndex::new(a.index),
                    duplicate: a.duplicate,
                });
            }
            let refusal: Option<ForwardedRefusal> = serde_json::from_slice(&body).ok();
            let message = refusal.as_ref().map_or_else(
                || String::from_utf8_lossy(&body).into_owned(),
                |r| r.message.clone(),
            );
            match refusal.as_ref().map(|r| r.error.as_str()) {
                Some("empty") => Err(ForwardError::Refused(AppendError::Empty)),
                // The sequencer's limit is smaller than this node's: the
                // caller hears 413 with the sequencer's limit.
                Some("too_large") => Err(ForwardError::Refused(
                    match refusal.and_then(|r| r.max_bytes) {
                        Some(max_bytes) => AppendError::TooLarge {
                            bytes: entry.len(),
                            max_bytes,
                        },
                        None => AppendError::ReadOnly(message),
                    },
                )),
                _ => Err(ForwardError::Retry(format!("{url}: {status}: {message}"))),
            }
        })
    }
}

/// The sequencer's side: state of the endpoint.
#[derive(Clone)]
struct Endpoint {
    log: Log,
    bearer: Arc<Vec<u8>>,
}

/// The routes of a node of several (none for a single node).
pub fn routes(log: &Log) -> Router {
    let Some(lease) = log.store().lease() else {
        return Router::new();
    };
    let bearer = format!("Bearer {}", hex::encode(lease.cluster_secret())).into_bytes();
    Router::new()
        .route(FORWARD_PATH, post(take_forwarded))
        .with_state(Endpoint {
            log: log.clone(),
            bearer: Arc::new(bearer),
        })
}

/// Equal in constant time (for equal lengths).
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn refusal(status: StatusCode, error: &str, message: String) -> Response {
    (
        status,
        Json(ForwardedRefusal {
            error: error.into(),
            message,
            max_bytes: None,
        }),
    )
        .into_response()
}

async fn take_forwarded(
    State(endpoint): State<Endpoint>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let authorized = headers
        .get("authorization")
        .is_some_and(|v| same(v.as_bytes(), &endpoint.bearer));
    if !authorized {
        return refusal(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "forwarded appends carry the cluster's secret (Authorization: Bearer)".into(),
        );
    }
    match endpoint.log.append_here(body.to_vec()).await {
        Ok(a) => Json(ForwardedAnswer {
            index: a.index.get(),
            duplicate: a.duplicate,
        })
        .into_response(),
        Err(AppendError::Empty) => refusal(
            StatusCode::BAD_REQUEST,
            "empty",
            AppendError::Empty.to_string(),
        ),
        Err(e @ AppendError::TooLarge { max_bytes, .. }) => (
            StatusCode::PAYLOAD_TOO_LARGE,
            Json(ForwardedRefusal {
                error: "too_large".into(),
                message: e.to_string(),
                max_bytes: Some(max_bytes),
            }),
        )
            .into_response(),
        Err(e @ AppendError::Busy { .. }) => {
            refusal(StatusCode::SERVICE_UNAVAILABLE, "busy", e.to_string())
        }
        Err(e @ AppendError::ReadOnly(_)) => {
            refusal(StatusCode::SERVICE_UNAVAILABLE, "read_only", e.to_string())
        }
    }
}

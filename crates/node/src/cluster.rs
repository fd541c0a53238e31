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
//!
//! A follower sends its appends in batches: `POST /cluster/v1/batch` takes
//! entries framed as a 4-byte big-endian length and the bytes, appends them
//! all at once (one group commit on the sequencer), and answers
//! `{"results": [...]}`, one answer or refusal per entry, in order.
//! [`HttpForward`] sends a batch of whatever appends are waiting whenever
//! one of its [`FORWARD_BATCHES_IN_FLIGHT_MAX`] requests is free, so under
//! load one request carries many appends, and a lone append goes at once.

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
/// The path of the sequencer's endpoint for batches of forwarded appends.
pub const FORWARD_BATCH_PATH: &str = "/cluster/v1/batch";
/// Most entries in one forwarded batch.
pub const FORWARD_BATCH_ENTRIES_MAX: usize = 1_024;
/// Most entry bytes in one forwarded batch (a batch holds at least one
/// entry, whatever its size).
pub const FORWARD_BATCH_BYTES_MAX: usize = 1024 * 1024;
/// Batch requests a follower has in flight at once.
pub const FORWARD_BATCHES_IN_FLIGHT_MAX: usize = 4;
/// The largest batch body the sequencer reads: the entry bytes of a full
/// batch, one entry at the log's limit more, and the frames.
const FORWARD_BATCH_BODY_BYTES_MAX: usize =
    FORWARD_BATCH_BYTES_MAX + tlog::ENTRY_BYTES_MAX + 4 * (FORWARD_BATCH_ENTRIES_MAX + 1);

/// One entry's answer in a batch: appended, or refused.
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum BatchResult {
    Appended(ForwardedAnswer),
    Refused(ForwardedRefusal),
}

#[derive(Serialize, Deserialize)]
struct BatchAnswer {
    results: Vec<BatchResult>,
}

/// Frames `entries` for [`FORWARD_BATCH_PATH`]: each is a 4-byte
/// big-endian length and its bytes.
pub fn frame(entries: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::with_capacity(entries.iter().map(|e| e.len() + 4).sum());
    for e in entries {
        out.extend_from_slice(&u32::try_from(e.len()).unwrap_or(u32::MAX).to_be_bytes());
        out.extend_from_slice(e);
    }
    out
}

/// The entries of a framed batch; `None` if the framing is broken or it
/// holds more than [`FORWARD_BATCH_ENTRIES_MAX`].
pub fn unframe(mut body: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    while !body.is_empty() {
        let (len, rest) = body.split_first_chunk::<4>()?;
        let len = usize::try_from(u32::from_be_bytes(*len)).ok()?;
        if rest.len() < len || out.len() >= FORWARD_BATCH_ENTRIES_MAX {
            return None;
        }
        out.push(rest[..len].to_vec());
        body = &rest[len..];
    }
    Some(out)
}

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

/// A follower's [`Forward`]: the sequencer's endpoint over HTTP, appends
/// sent in batches (see the module docs).
pub struct HttpForward {
    client: reqwest::Client,
    bearer: String,
    /// The batcher's queue, started by the first append (on the runtime).
    queue: std::sync::OnceLock<tokio::sync::mpsc::UnboundedSender<Waiting>>,
}

/// An append waiting for its batch.
struct Waiting {
    url: String,
    entry: Vec<u8>,
    answer: tokio::sync::oneshot::Sender<Result<Appended, ForwardError>>,
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
            queue: std::sync::OnceLock::new(),
        })
    }

    fn queue(&self) -> &tokio::sync::mpsc::UnboundedSender<Waiting> {
        self.queue.get_or_init(|| {
            let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
            tokio::spawn(batcher(self.client.clone(), self.bearer.clone(), rx));
            tx
        })
    }
}

/// Sends what waits in `rx` in batches, at most
/// [`FORWARD_BATCHES_IN_FLIGHT_MAX`] requests at once; a batch goes to one
/// sequencer URL (an append for another waits for the next batch).
async fn batcher(
    client: reqwest::Client,
    bearer: String,
    mut rx: tokio::sync::mpsc::UnboundedReceiver<Waiting>,
) {
    let slots = Arc::new(tokio::sync::Semaphore::new(FORWARD_BATCHES_IN_FLIGHT_MAX));
    let mut carried: Option<Waiting> = None;
    loop {
        let Ok(permit) = slots.clone().acquire_owned().await else {
            return;
        };
        let first = match carried.take() {
            Some(w) => w,
            None => match rx.recv().await {
                Some(w) => w,
                None => return,
            },
        };
        let mut bytes = first.entry.len();
        let mut batch = vec![first];
        while batch.len() < FORWARD_BATCH_ENTRIES_MAX && bytes < FORWARD_BATCH_BYTES_MAX {
            match rx.try_recv() {
                Ok(w)
                    if w.url == batch[0].url
                        && bytes + w.entry.len() <= FORWARD_BATCH_BYTES_MAX =>
                {
                    bytes += w.entry.len();
                    batch.push(w);
                }
                Ok(w) => {
                    carried = Some(w);
                    break;
                }
                Err(_) => break,
            }
        }
        let client = client.clone();
        let bearer = bearer.clone();
        tokio::spawn(async move {
            send_batch(&client, &bearer, batch).await;
            drop(permit);
        });
    }
}

/// One batch request; every waiting append gets its answer.
async fn send_batch(client: &reqwest::Client, bearer: &str, batch: Vec<Waiting>) {
    let url = format!("{}{FORWARD_BATCH_PATH}", batch[0].url.trim_end_matches('/'));
    let entries: Vec<&[u8]> = batch.iter().map(|w| w.entry.as_slice()).collect();
    let answers = batch_request(client, bearer, &url, &entries).await;
    match answers {
        Ok(results) => {
            for (w, r) in batch.into_iter().zip(results) {
                let _ = w.answer.send(r);
            }
        }
        Err(e) => {
            for w in batch {
                let _ = w.answer.send(Err(e.clone()));
            }
        }
    }
}

/// What a refusal of one entry means to the follower.
fn refused(r: &ForwardedRefusal, entry: &[u8], url: &str) -> ForwardError {
    match r.error.as_str() {
        "empty" => ForwardError::Refused(AppendError::Empty),
        // The sequencer's limit is smaller than this node's: the caller
        // hears 413 with the sequencer's limit.
        "too_large" => ForwardError::Refused(match r.max_bytes {
            Some(max_bytes) => AppendError::TooLarge {
                bytes: entry.len(),
                max_bytes,
            },
            None => AppendError::ReadOnly(r.message.clone()),
        }),
        _ => ForwardError::Retry(format!("{url}: {}: {}", r.error, r.message)),
    }
}

/// Posts `entries` as one batch; the answer of each, in order, or what
/// went wrong with the whole request.
async fn batch_request(
    client: &reqwest::Client,
    bearer: &str,
    url: &str,
    entries: &[&[u8]],
) -> Result<Vec<Result<Appended, ForwardError>>, ForwardError> {
    let answer = client
        .post(url)
        .header("authorization", bearer)
        .header("content-type", "application/octet-stream")
        .body(frame(entries))
        .send()
        .await
        .map_err(|e| {
            // Not connected: nothing left. Anything later: some entries may
            // have been taken.
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
    if !status.is_success() {
        let message = serde_json::from_slice::<ForwardedRefusal>(&body).map_or_else(
            |_| String::from_utf8_lossy(&body).into_owned(),
            |r| r.message,
        );
        return Err(ForwardError::Retry(format!("{url}: {status}: {message}")));
    }
    let answer: BatchAnswer = serde_json::from_slice(&body)
        .map_err(|e| ForwardError::Unanswered(format!("{url}: an answer that is not one: {e}")))?;
    if answer.results.len() != entries.len() {
        return Err(ForwardError::Unanswered(format!(
            "{url}: {} answers to {} entries",
            answer.results.len(),
            entries.len()
        )));
    }
    Ok(answer
        .results
        .into_iter()
        .zip(entries)
        .map(|(r, entry)| match r {
            BatchResult::Appended(a) => Ok(Appended {
                index: tlog::LeafIndex::new(a.index),
                duplicate: a.duplicate,
            }),
            BatchResult::Refused(r) => Err(refused(&r, entry, url)),
        })
        .collect())
}

impl Forward for HttpForward {
    fn forward<'a>(&'a self, holder: &'a Holder, entry: &'a [u8]) -> ForwardFuture<'a> {
        Box::pin(async move {
            let (answer, answered) = tokio::sync::oneshot::channel();
            let waiting = Waiting {
                url: holder.url.clone(),
                entry: entry.to_vec(),
                answer,
            };
            if self.queue().send(waiting).is_err() {
                return Err(ForwardError::Retry("the forwarder stopped".into()));
            }
            answered
                .await
                .unwrap_or_else(|_| Err(ForwardError::Unanswered("the forwarder stopped".into())))
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
        .route(
            FORWARD_BATCH_PATH,
            post(take_batch).layer(axum::extract::DefaultBodyLimit::max(
                FORWARD_BATCH_BODY_BYTES_MAX,
            )),
        )
        .with_state(Endpoint {
            log: log.clone(),
            bearer: Arc::new(bearer),
        })
}

impl Endpoint {
    /// The refusal (401) of a request that does not carry the cluster's
    /// secret; `None` for one that does.
    fn unauthorized(&self, headers: &HeaderMap) -> Option<Response> {
        let authorized = headers
            .get("authorization")
            .is_some_and(|v| same(v.as_bytes(), &self.bearer));
        if authorized {
            return None;
        }
        Some(refusal(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "forwarded appends carry the cluster's secret (Authorization: Bearer)".into(),
        ))
    }
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
    if let Some(refused) = endpoint.unauthorized(&headers) {
        return refused;
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

/// The answer to one forwarded entry, as a batch carries it.
fn batch_result(result: Result<Appended, AppendError>) -> BatchResult {
    let refusal = |error: &str, e: AppendError, max_bytes| {
        BatchResult::Refused(ForwardedRefusal {
            error: error.into(),
            message: e.to_string(),
            max_bytes,
        })
    };
    match result {
        Ok(a) => BatchResult::Appended(ForwardedAnswer {
            index: a.index.get(),
            duplicate: a.duplicate,
        }),
        Err(e @ AppendError::Empty) => refusal("empty", e, None),
        Err(e @ AppendError::TooLarge { max_bytes, .. }) => {
            refusal("too_large", e, Some(max_bytes))
        }
        Err(e @ AppendError::Busy { .. }) => refusal("busy", e, None),
        Err(e @ AppendError::ReadOnly(_)) => refusal("read_only", e, None),
    }
}

/// `POST /cluster/v1/batch`: every entry appended at once; answers once
/// each is durable or refused.
async fn take_batch(
    State(endpoint): State<Endpoint>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if let Some(refused) = endpoint.unauthorized(&headers) {
        return refused;
    }
    let Some(entries) = unframe(&body) else {
        return refusal(
            StatusCode::BAD_REQUEST,
            "bad_batch",
            format!(
                "a batch is entries framed by a 4-byte big-endian length, at most {FORWARD_BATCH_ENTRIES_MAX}"
            ),
        );
    };
    let appends = entries.into_iter().map(|e| endpoint.log.append_here(e));
    let results = futures::future::join_all(appends).await;
    Json(BatchAnswer {
        results: results.into_iter().map(batch_result).collect(),
    })
    .into_response()
}

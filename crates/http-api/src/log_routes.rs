//! The log's HTTP API, mounted under `/log`:
//!
//! | route | what |
//! |---|---|
//! | `GET /checkpoint` | C2SP checkpoint (mutable, `no-cache`) |
//! | `GET /tile/<L>/<N>[.p/<W>]` | hash tile (immutable) |
//! | `GET /tile/entries/<N>[.p/<W>]` | entry bundle (immutable, gzip when asked) |
//! | `POST /add` | raw entry bytes; `{"index":N,"duplicate":b}` once durable |
//! | `GET /proof/inclusion?index=N\|hash=B64[&size=S][&format=json]` | C2SP tlog-proof (default) or JSON |
//! | `GET /proof/consistency?old=A&new=B` | JSON |
//!
//! Status codes: 400 malformed, 404 absent, 413 too large, 503 busy (with
//! `Retry-After`) or read-only.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use log_service::{Log, Prover};
use serde::{Deserialize, Serialize};
use tlog::{Hash, LeafIndex, TilePath, TreeSize};

use crate::ApiError;

/// Shared state of the log routes.
#[derive(Clone)]
pub struct LogApi {
    log: Log,
    prover: Prover,
    admit: Option<EntryFilter>,
}

/// Decides whether `POST /log/add` takes an entry: `Err(why)` answers 400.
pub type EntryFilter = Arc<dyn Fn(&[u8]) -> Result<(), String> + Send + Sync>;

impl LogApi {
    /// Wraps an open log.
    pub fn new(log: Log) -> LogApi {
        let prover = log.prover();
        LogApi {
            log,
            prover,
            admit: None,
        }
    }

    /// Refuses raw appends that `filter` refuses (the twins keep their
    /// statements out of the raw API: they enter through the registration
    /// policy only).
    pub fn with_entry_filter(mut self, filter: EntryFilter) -> LogApi {
        self.admit = Some(filter);
        self
    }
}

const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const OCTETS: &str = "application/octet-stream";

/// The `/log` router.
pub fn log_router(api: LogApi) -> Router {
    // The body cap is one byte above the entry limit, so that an oversized
    // entry is answered 413 by the handler with a precise message.
    let body_bytes_max = tlog::ENTRY_BYTES_MAX + 1;
    Router::new()
        .route("/checkpoint", get(checkpoint))
        .route("/tile/{*path}", get(tile))
        .route(
            "/add",
            post(add).layer(crate::problem::body_limit(body_bytes_max)),
        )
        .route("/proof/inclusion", get(inclusion))
        .route("/proof/consistency", get(consistency))
        .with_state(Arc::new(api))
        .layer(tower_http::compression::CompressionLayer::new().gzip(true))
}

async fn checkpoint(State(api): State<Arc<LogApi>>) -> Response {
    let published = api.log.published();
    (
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        published.note.as_ref().clone(),
    )
        .into_response()
}

async fn tile(
    State(api): State<Arc<LogApi>>,
    Path(path): Path<String>,
) -> Result<Response, ApiError> {
    let full = format!("tile/{path}");
    let parsed = tlog::parse_tile_path(&full)
        .map_err(|e| ApiError::bad_request(format!("bad tile path {full:?}: {e}")))?;
    let store = api.log.store().clone();
    let data = tokio::task::spawn_blocking(move || match parsed {
        TilePath::Hash(id) => store.read_tile(id),
        TilePath::Entries(id) => store.read_bundle(id),
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(ApiError::internal)?;
    match data {
        Some(bytes) => Ok((
            [
                (header::CONTENT_TYPE, OCTETS),
                (header::CACHE_CONTROL, IMMUTABLE),
            ],
            bytes,
        )
            .into_response()),
        None => Err(ApiError::not_found(format!("{full} does not exist"))),
    }
}

#[derive(Serialize)]
struct AddResponse {
    index: u64,
    duplicate: bool,
}

async fn add(State(api): State<Arc<LogApi>>, body: Bytes) -> Result<Response, ApiError> {
    if let Some(admit) = &api.admit {
        admit(&body).map_err(ApiError::bad_request)?;
    }
    let appended = api.log.try_append(body.to_vec()).await?;
    Ok(Json(AddResponse {
        index: appended.index.get(),
        duplicate: appended.duplicate,
    })
    .into_response())
}

#[derive(Deserialize)]
struct InclusionQuery {
    index: Option<u64>,
    hash: Option<String>,
    size: Option<u64>,
    format: Option<String>,
}

#[derive(Serialize)]
struct InclusionJson {
    index: u64,
    tree_size: u64,
    leaf_hash: String,
    root: String,
    proof: Vec<String>,
}

async fn inclusion(
    State(api): State<Arc<LogApi>>,
    Query(q): Query<InclusionQuery>,
) -> Result<Response, ApiError> {
    let published = api.log.published();
    let size = match q.size {
        None => published.size,
        Some(s) if s <= published.size.get() => TreeSize::new(s),
        Some(s) => {
            return Err(ApiError::bad_request(format!(
                "size {s} is beyond the published checkpoint size {}",
                published.size
            )))
        }
    };
    let index = match (q.index, &q.hash) {
        (Some(i), None) => LeafIndex::new(i),
        (None, Some(h)) => {
            let hash = Hash::from_base64(h)
                .map_err(|e| ApiError::bad_request(format!("bad leaf hash: {e}")))?;
            let store = api.log.store().clone();
            let found = tokio::task::spawn_blocking(move || store.lookup(&hash))
                .await
                .map_err(ApiError::internal)?
                .map_err(ApiError::internal)?;
            found.ok_or_else(|| ApiError::not_found("no entry with that leaf hash"))?
        }
        _ => return Err(ApiError::bad_request("give exactly one of index= or hash=")),
    };
    if index.get() >= size.get() {
        return Err(ApiError::not_found(format!(
            "entry {index} is not covered by a checkpoint of size {size} (yet)"
        )));
    }
    let prover = &api.prover;
    // Inline, not on the blocking pool: with the tile cache warm this is a few
    // microseconds of hashing, far less than a thread hand-off; a cold tile is
    // one small read from the page cache.
    let proof = prover.inclusion(index, size)?;
    let leaf = prover.leaf(index, size)?;
    let root = if size == published.size {
        published.root
    } else {
        prover.root(size)?
    };
    let json = q.format.as_deref() == Some("json");
    if !json && size != published.size {
        return Err(ApiError::bad_request(
            "a tlog-proof needs the published checkpoint: omit size= or ask format=json",
        ));
    }
    if json {
        return Ok(Json(InclusionJson {
            index: index.get(),
            tree_size: size.get(),
            leaf_hash: leaf.to_base64(),
            root: root.to_base64(),
            proof: proof.iter().map(Hash::to_base64).collect(),
        })
        .into_response());
    }
    let text = tlog::TlogProof {
        extra: None,
        index,
        proof,
        checkpoint: published.note.as_ref().clone(),
    }
    .encode()
    .map_err(ApiError::internal)?;
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response())
}

#[derive(Deserialize)]
struct ConsistencyQuery {
    old: u64,
    new: Option<u64>,
}

#[derive(Serialize)]
struct ConsistencyJson {
    old: u64,
    new: u64,
    proof: Vec<String>,
}

async fn consistency(
    State(api): State<Arc<LogApi>>,
    Query(q): Query<ConsistencyQuery>,
) -> Result<Response, ApiError> {
    let published = api.log.published().size;
    let new = q.new.unwrap_or(published.get());
    if new > published.get() {
        return Err(ApiError::bad_request(format!(
            "new size {new} is beyond the published checkpoint size {published}"
        )));
    }
    // Inline for the same reason as `inclusion`.
    let proof = api
        .prover
        .consistency(TreeSize::new(q.old), TreeSize::new(new))?;
    let mut response = Json(ConsistencyJson {
        old: q.old,
        new,
        proof: proof.iter().map(Hash::to_base64).collect(),
    })
    .into_response();
    *response.status_mut() = StatusCode::OK;
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static(IMMUTABLE));
    Ok(response)
}

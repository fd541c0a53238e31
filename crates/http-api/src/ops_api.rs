//! What an operator runs a node with:
//!
//! - `GET /healthz`: the process answers (liveness).
//! - `GET /readyz`: whether the node can take traffic (its store reachable,
//!   its log writer running, its signer able to sign, its projector caught
//!   up within a bound) and its role; 503 when not.
//! - `GET /metrics`: the node's metrics in the OpenMetrics text format
//!   (which Prometheus scrapes).
//! - [`track`], the layer every request passes: counted and timed by
//!   route, method and status, and given an id (`x-request-id`, the
//!   caller's when it sent a usable one) that its log lines carry (the
//!   `request` span) and its answer returns.

use std::sync::Arc;
use std::time::Instant;

use api_types::ops::{Health, Readiness};
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use tracing::Instrument;

/// The request id header.
pub const REQUEST_ID_HEADER: &str = "x-request-id";
/// A caller's request id longer than this is replaced by one of ours.
pub const REQUEST_ID_BYTES_MAX: usize = 64;
/// Request duration buckets, in seconds.
pub const DURATION_BUCKETS_S: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

/// Label sets of the request metrics.
pub type Labels = Vec<(&'static str, String)>;
type Histograms = Family<Labels, Histogram, fn() -> Histogram>;

/// Requests by route, method and status, and their durations by route and
/// method (cheap to clone: shared).
#[derive(Debug, Clone)]
pub struct HttpMetrics {
    /// `sectwin_http_requests` (a counter).
    pub requests: Family<Labels, Counter>,
    /// `sectwin_http_request_duration_seconds`.
    pub durations: Histograms,
}

impl Default for HttpMetrics {
    fn default() -> Self {
        fn histogram() -> Histogram {
            Histogram::new(DURATION_BUCKETS_S)
        }
        HttpMetrics {
            requests: Family::default(),
            durations: Family::new_with_constructor(histogram),
        }
    }
}

/// The probes' answers and the metrics' text, from the node.
#[derive(Clone)]
pub struct OpsApi {
    ready: Arc<dyn Fn() -> Readiness + Send + Sync>,
    metrics: Arc<dyn Fn() -> String + Send + Sync>,
}

impl OpsApi {
    /// Probes answered by `ready`, metrics rendered by `metrics`.
    pub fn new(
        ready: Arc<dyn Fn() -> Readiness + Send + Sync>,
        metrics: Arc<dyn Fn() -> String + Send + Sync>,
    ) -> OpsApi {
        OpsApi { ready, metrics }
    }
}

/// The operations routes (mount at the root; public, like the log).
pub fn ops_router(api: OpsApi) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(api)
}

#[utoipa::path(
    get,
    path = "/healthz",
    tag = "meta",
    summary = "Liveness: the process answers",
    responses((status = 200, description = "Alive", body = Health)),
)]
pub(crate) async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok".into(),
    })
}

#[utoipa::path(
    get,
    path = "/readyz",
    tag = "meta",
    summary = "Readiness: whether this node can take traffic, each check, and its role",
    responses(
        (status = 200, description = "Ready", body = Readiness),
        (status = 503, description = "Not ready: the failed checks say why", body = Readiness),
    ),
)]
pub(crate) async fn readyz(State(api): State<OpsApi>) -> Response {
    let ready = tokio::task::spawn_blocking(move || (api.ready)()).await;
    match ready {
        Ok(r) if r.ready => (StatusCode::OK, Json(r)).into_response(),
        Ok(r) => (StatusCode::SERVICE_UNAVAILABLE, Json(r)).into_response(),
        Err(_) => StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
}

#[utoipa::path(
    get,
    path = "/metrics",
    tag = "meta",
    summary = "The node's metrics (OpenMetrics text, scraped by Prometheus)",
    description = "The log (size, append and integration latency, checkpoint and cosignature age, witness failures), registrations accepted and refused by reason, API requests by route and status, the projector's lag, notification deliveries and retries, the register, the device channel, store sizes, and this node's role.",
    responses((status = 200, description = "The metrics", body = String, content_type = "application/openmetrics-text; version=1.0.0")),
)]
pub(crate) async fn metrics(State(api): State<OpsApi>) -> Response {
    match tokio::task::spawn_blocking(move || (api.metrics)()).await {
        Ok(text) => (
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// The caller's request id when usable (visible ASCII, at most
/// [`REQUEST_ID_BYTES_MAX`]), else a new one (16 random bytes, hex).
fn request_id(req: &Request) -> String {
    let given = req
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= REQUEST_ID_BYTES_MAX
                && v.bytes().all(|b| b.is_ascii_graphic())
        });
    match given {
        Some(id) => id.to_string(),
        None => {
            use rand_core::RngCore;
            let mut bytes = [0u8; 16];
            rand_core::OsRng.fill_bytes(&mut bytes);
            hex::encode(bytes)
        }
    }
}

/// Counts, times and names every request (the layer of [`HttpMetrics`]).
pub async fn track(State(m): State<HttpMetrics>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |p| p.as_str())
        .to_string();
    let method = req.method().as_str().to_string();
    let id = request_id(&req);
    let span = tracing::info_span!("request", id = %id, method = %method, route = %route);
    let mut response = next.run(req).instrument(span.clone()).await;
    let status = response.status().as_u16();
    let seconds = started.elapsed().as_secs_f64();
    span.in_scope(|| tracing::info!(status, ms = seconds * 1e3, "answered"));
    m.requests
        .get_or_create(&vec![
            ("route", route.clone()),
            ("method", method.clone()),
            ("status", status.to_string()),
        ])
        .inc();
    m.durations
        .get_or_create(&vec![("route", route), ("method", method)])
        .observe(seconds);
    if let Ok(v) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, v);
    }
    response
}

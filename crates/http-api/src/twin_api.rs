//! The native REST API of the security twins, under `/api/v1` (its OpenAPI 3
//! document at `/api/v1/openapi.json`).
//!
//! Every read path decides per piece of data: the data of a statement belongs
//! to the stakeholder that signed it, and its owner's sharing policy
//! ([`twin::sharing::decide`]) says whether the caller may see it and which
//! of its fields. Callers authenticate with a bearer token
//! ([`crate::oauth::MaybeCaller`]); anonymous callers see what policies make
//! public. Every read of one organization's data by another is recorded
//! ([`twin::sharing::ReadRecord`]), and the owner lists those records at
//! `GET /api/v1/reads`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::{FromRef, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine;
use serde::Serialize;
use serde_json::{json, Value};
use transparency::TransparencyService;
use twin::StakeholderId;
use twin_store::Projector;

use service::twins::{device_filters, TwinViews};
pub(crate) use service::{Audit, ReadRecorder, Reader, Seen, ServiceError};

use crate::oauth::{Caller, MaybeCaller, TokenEndpoint};

/// Largest page.
pub const PAGE_SIZE_MAX: usize = 1000;
/// Page size when none is asked for.
pub const PAGE_SIZE_DEFAULT: usize = 100;
/// Devices examined at most to answer one list or count (policy filtering
/// happens after the index scan).
pub use service::twins::SCAN_DEVICES_MAX;

/// The state of the `/api/v1` routes.
#[derive(Clone)]
pub struct TwinApi {
    pub(crate) projector: Projector,
    pub(crate) scitt: Arc<TransparencyService>,
    pub(crate) tokens: Arc<TokenEndpoint>,
    /// Read records: who read whose data, stamped by the injected clock.
    pub(crate) reads: ReadRecorder,
    /// The twin views (authorization, redaction, read records).
    views: TwinViews,
}

impl FromRef<TwinApi> for Arc<TokenEndpoint> {
    fn from_ref(api: &TwinApi) -> Arc<TokenEndpoint> {
        api.tokens.clone()
    }
}

impl TwinApi {
    /// The API over the twins of `projector`, statements and receipts of
    /// `scitt`, authenticating with `tokens`, on the system clock.
    pub fn new(
        projector: Projector,
        scitt: Arc<TransparencyService>,
        tokens: Arc<TokenEndpoint>,
    ) -> TwinApi {
        TwinApi::with_clock(projector, scitt, tokens, Arc::new(service::SystemClock))
    }

    /// [`TwinApi::new`], with read records, audit grants in force and the
    /// risk views' day taken from `clock` (the node's).
    pub fn with_clock(
        projector: Projector,
        scitt: Arc<TransparencyService>,
        tokens: Arc<TokenEndpoint>,
        clock: Arc<dyn service::Clock>,
    ) -> TwinApi {
        let reads = ReadRecorder::new(projector.clone(), clock);
        TwinApi {
            views: TwinViews::new(projector.clone(), scitt.clone(), reads.clone()),
            reads,
            projector,
            scitt,
            tokens,
        }
    }
}

/// The `/api/v1` routes (mount at the root).
pub fn twin_router(api: TwinApi) -> Router {
    Router::new()
        .route("/api/v1/openapi.json", get(openapi))
        .route("/api/v1/status", get(status))
        .route("/api/v1/stakeholders", get(stakeholders))
        .route("/api/v1/stakeholders/{id}", get(stakeholder))
        .route("/api/v1/devices", get(devices))
        .route("/api/v1/devices/count", get(device_count))
        .route("/api/v1/devices/{id}", get(device))
        .route("/api/v1/devices/{id}/timeline", get(timeline))
        .route(
            "/api/v1/statements",
            axum::routing::post(register_statement),
        )
        .route("/api/v1/statements/{entry}", get(statement))
        .route("/api/v1/reads", get(reads))
        .route("/api/v1/policies", get(policies))
        .with_state(api)
}

/// A JSON error: `{"error": code, "message": text}`.
#[derive(Debug)]
pub struct JsonError {
    status: StatusCode,
    code: &'static str,
    message: String,
    retry_after_s: Option<u64>,
}

/// How long a client refused because a read could not be recorded (or the
/// disk is full) waits before it tries again.
pub use service::error::STORAGE_RETRY_AFTER_S;

impl JsonError {
    pub(crate) fn new(
        status: StatusCode,
        code: &'static str,
        message: impl Into<String>,
    ) -> JsonError {
        JsonError {
            status,
            code,
            message: message.into(),
            retry_after_s: None,
        }
    }
    pub(crate) fn retry_after_s(&self) -> Option<u64> {
        self.retry_after_s
    }
    /// A storage failure worth retrying: 503 with `Retry-After`.
    pub(crate) fn storage_unavailable(message: impl Into<String>) -> JsonError {
        JsonError {
            retry_after_s: Some(STORAGE_RETRY_AFTER_S),
            ..JsonError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
        }
    }
    pub(crate) fn parts(self) -> (StatusCode, String) {
        (self.status, self.message)
    }
    pub(crate) fn bad_request(message: impl Into<String>) -> JsonError {
        JsonError::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }
    pub(crate) fn not_found(message: impl Into<String>) -> JsonError {
        JsonError::new(StatusCode::NOT_FOUND, "not_found", message)
    }
    pub(crate) fn internal(detail: impl std::fmt::Display) -> JsonError {
        tracing::error!(%detail, "internal error");
        JsonError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error",
        )
    }
}

impl IntoResponse for JsonError {
    /// RFC 9457 problem details ([`crate::problem`]), with `error` (this
    /// error's code) and `message` as extension members.
    fn into_response(self) -> Response {
        let mut response =
            crate::problem::problem(crate::problem::Family::Json, self.status, &self.message);
        let body = json!({
            "type": "about:blank",
            "title": self.status.canonical_reason().unwrap_or("Error"),
            "status": self.status.as_u16(),
            "detail": self.message,
            "error": self.code,
            "message": self.message,
        });
        *response.body_mut() = axum::body::Body::from(body.to_string());
        if let Some(s) = self.retry_after_s {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, HeaderValue::from(s));
        }
        response
    }
}

/// The one mapping of a service's error classification to HTTP.
impl From<ServiceError> for JsonError {
    fn from(e: ServiceError) -> JsonError {
        use service::ErrorKind as K;
        let status = match e.kind() {
            K::Invalid => StatusCode::BAD_REQUEST,
            K::Unauthorized => StatusCode::UNAUTHORIZED,
            K::Forbidden => StatusCode::FORBIDDEN,
            K::NotFound => StatusCode::NOT_FOUND,
            K::Conflict => StatusCode::CONFLICT,
            K::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            K::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        };
        JsonError {
            status,
            code: e.code(),
            retry_after_s: e.retry_after_s(),
            message: e.message().to_string(),
        }
    }
}

pub(crate) type ApiResult<T> = Result<T, JsonError>;

pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

pub(crate) fn encode_token(s: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s)
}

pub(crate) fn decode_token(t: &str) -> ApiResult<String> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(t)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| JsonError::bad_request("page_token is not a token this API issued"))
}

pub(crate) fn page_size(q: &BTreeMap<String, String>) -> ApiResult<usize> {
    match q.get("page_size") {
        None => Ok(PAGE_SIZE_DEFAULT),
        Some(s) => match s.parse::<usize>() {
            Ok(n) if (1..=PAGE_SIZE_MAX).contains(&n) => Ok(n),
            _ => Err(JsonError::bad_request(format!(
                "page_size must be an integer from 1 to {PAGE_SIZE_MAX}, not {s:?}"
            ))),
        },
    }
}

pub(crate) fn caller_id(c: &MaybeCaller) -> Option<StakeholderId> {
    c.0.as_ref().map(|t| StakeholderId(t.stakeholder.clone()))
}

async fn openapi() -> impl IntoResponse {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        OPENAPI,
    )
}

async fn status(State(api): State<TwinApi>) -> Json<Value> {
    Json(api.views.status())
}

async fn stakeholders(State(api): State<TwinApi>) -> Json<Value> {
    Json(api.views.stakeholders())
}

async fn stakeholder(State(api): State<TwinApi>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    Ok(Json(api.views.stakeholder(&id)?))
}

async fn policies(
    State(api): State<TwinApi>,
    Query(q): Query<BTreeMap<String, String>>,
) -> ApiResult<Json<Value>> {
    Ok(Json(api.views.policies(&q)?))
}

async fn device(
    State(api): State<TwinApi>,
    caller: MaybeCaller,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(Json(api.views.device(caller_id(&caller), &id)?))
}

async fn devices(
    State(api): State<TwinApi>,
    caller: MaybeCaller,
    Query(q): Query<BTreeMap<String, String>>,
) -> ApiResult<Response> {
    let size = page_size(&q)?;
    let after = q.get("page_token").map(|t| decode_token(t)).transpose()?;
    let filters = device_filters(&q)?;
    let page = api
        .views
        .devices(caller_id(&caller), &filters, size, after)?;
    let next = page.next_after.map(|l| encode_token(&l));
    Ok(
        Json(json!({ "devices": page.devices, "next_page_token": next, "as_of": page.as_of }))
            .into_response(),
    )
}

async fn device_count(
    State(api): State<TwinApi>,
    caller: MaybeCaller,
    Query(q): Query<BTreeMap<String, String>>,
) -> ApiResult<Response> {
    let filters = device_filters(&q)?;
    let c = api.views.count(caller_id(&caller), &filters)?;
    let mut headers = HeaderMap::new();
    headers.insert("x-total-count", HeaderValue::from(c.count as u64));
    Ok((
        headers,
        Json(json!({ "count": c.count, "complete": c.complete, "as_of": c.as_of })),
    )
        .into_response())
}

async fn timeline(
    State(api): State<TwinApi>,
    caller: MaybeCaller,
    Path(id): Path<String>,
    Query(q): Query<BTreeMap<String, String>>,
) -> ApiResult<Json<Value>> {
    let size = page_size(&q)?;
    let after =
        match q.get("page_token") {
            Some(t) => Some(decode_token(t)?.parse::<u64>().map_err(|_| {
                JsonError::bad_request("page_token is not a token this API issued")
            })?),
            None => None,
        };
    let page = api.views.timeline(caller_id(&caller), &id, size, after)?;
    let next = page.next_after.map(|c| encode_token(&c.to_string()));
    Ok(Json(json!({
        "device": id,
        "entries": page.entries,
        "next_page_token": next,
        "as_of": page.as_of,
    })))
}

async fn statement(
    State(api): State<TwinApi>,
    caller: MaybeCaller,
    Path(entry): Path<String>,
) -> ApiResult<Json<Value>> {
    let index: u64 = entry
        .parse()
        .map_err(|_| JsonError::bad_request(format!("{entry:?} is not an entry number")))?;
    Ok(Json(api.views.statement(caller_id(&caller), index)?))
}

/// A hash envelope with its payload, registered together.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RegisterBody {
    /// The COSE_Sign1 hash envelope, base64.
    statement: String,
    /// The payload it commits to, base64 (kept beside the log, never in it).
    payload: String,
}

/// `POST /api/v1/statements`: registers a confidential statement (a hash
/// envelope) with its payload. The signature is the authentication, as for
/// SCRAPI; the payload is then served only under the owner's policy.
async fn register_statement(
    State(api): State<TwinApi>,
    body: Result<Json<RegisterBody>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let Json(body) = body.map_err(|e| JsonError::bad_request(e.body_text()))?;
    let b64 = |what: &str, s: &str| {
        base64::engine::general_purpose::STANDARD
            .decode(s)
            .map_err(|e| JsonError::bad_request(format!("{what} is not base64: {e}")))
    };
    let statement = b64("statement", &body.statement)?;
    let payload = b64("payload", &body.payload)?;
    match api.scitt.register_with_payload(statement, &payload).await {
        Ok(r) => Ok((
            StatusCode::CREATED,
            Json(json!({
                "entry": r.index.get(),
                "duplicate": r.duplicate,
                "receipt": format!("/entries/{}", r.index.get()),
            })),
        )),
        Err(transparency::RegisterError::Append(e)) => Err(JsonError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            e.to_string(),
        )),
        Err(e @ transparency::RegisterError::PayloadNotKept(_)) => Err(JsonError::new(
            StatusCode::INSUFFICIENT_STORAGE,
            "insufficient_storage",
            e.to_string(),
        )),
        Err(e) => Err(JsonError::new(
            StatusCode::BAD_REQUEST,
            "refused",
            e.to_string(),
        )),
    }
}

#[derive(Serialize)]
struct ReadsPage {
    reads: Vec<Value>,
    next_page_token: Option<String>,
}

async fn reads(
    State(api): State<TwinApi>,
    Caller(claims): Caller,
    Query(q): Query<BTreeMap<String, String>>,
) -> ApiResult<Json<ReadsPage>> {
    let size = page_size(&q)?;
    let after = match q.get("page_token") {
        Some(t) => {
            let s = decode_token(t)?;
            let parsed = s
                .split_once('.')
                .and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)));
            Some(parsed.ok_or_else(|| {
                JsonError::bad_request("page_token is not a token this API issued")
            })?)
        }
        None => None,
    };
    let caller = StakeholderId(claims.stakeholder.clone());
    let page = api
        .views
        .reads(&caller, q.get("owner").map(String::as_str), after, size)?;
    let next = page
        .next_after
        .map(|(t, s)| encode_token(&format!("{t}.{s}")));
    let reads = page.reads;
    Ok(Json(ReadsPage {
        reads,
        next_page_token: next,
    }))
}

/// The OpenAPI 3 document of `/api/v1`, SCRAPI and the token endpoint.
pub const OPENAPI: &str = include_str!("openapi.json");

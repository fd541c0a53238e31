//! The native REST API of the security twins, under `/api/v1` (its OpenAPI
//! 3.1 document, generated from the handlers' annotations and the wire types
//! of `api_types` by [`crate::openapi`], at `/api/v1/openapi.json`).
//!
//! Every read path decides per piece of data: the data of a statement belongs
//! to the stakeholder that signed it, and its owner's sharing policy
//! ([`twin::sharing::decide`]) says whether the caller may see it and which
//! of its fields. Callers authenticate with a bearer token
//! ([`crate::oauth::MaybeCaller`]); anonymous callers see what policies make
//! public. Every read of one organization's data by another is recorded
//! ([`twin::sharing::ReadRecord`]), and the owner lists those records at
//! `GET /api/v1/reads`.

use std::sync::Arc;

use api_types::dashboard::{DigestLookup, DigestQuery, FleetView};
use api_types::twins::{
    DeviceCount, DeviceFilter, DeviceList, DeviceQuery, DeviceView, NodeStatus, PageQuery,
    PolicyList, PolicyQuery, ReadsPage, ReadsQuery, RegisterStatement, Registered, StakeholderList,
    StakeholderRecord, StatementView, Timeline,
};
use api_types::Problem;
use axum::extract::{FromRef, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine;
use transparency::TransparencyService;
use twin::StakeholderId;
use twin_store::Projector;

use service::twins::TwinViews;
pub(crate) use service::{ReadRecorder, ServiceError};

use crate::oauth::{Caller, MaybeCaller, TokenEndpoint, Unauthorized};
use crate::query::ApiQuery;

pub use api_types::twins::{PAGE_SIZE_DEFAULT, PAGE_SIZE_MAX};
/// Statements naming a digest examined at most to answer one lookup.
pub use service::twins::DIGEST_ENTRIES_EXAMINED_MAX;
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
    pub(crate) views: TwinViews,
}

impl FromRef<TwinApi> for Arc<TokenEndpoint> {
    fn from_ref(api: &TwinApi) -> Arc<TokenEndpoint> {
        api.tokens.clone()
    }
}

impl TwinApi {
    /// The API over the twins of `projector`, statements and receipts of
    /// `scitt`, authenticating with `tokens`, recording reads with the
    /// node's one `reads` recorder (its sequence orders the records of one
    /// millisecond: two recorders would write the same keys).
    pub fn new(
        projector: Projector,
        scitt: Arc<TransparencyService>,
        tokens: Arc<TokenEndpoint>,
        reads: ReadRecorder,
    ) -> TwinApi {
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
        .route("/api/v1/fleet", get(fleet))
        .route("/api/v1/digests/{sha256}", get(digest))
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
    /// error's code) and `message` as extension members; a 401 carries the
    /// bearer challenge, as the bearer extractors' own 401s do.
    fn into_response(self) -> Response {
        let mut response = crate::problem::json_problem(self.status, self.code, &self.message);
        if let Some(s) = self.retry_after_s {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, HeaderValue::from(s));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                HeaderValue::from_static(crate::oauth::BEARER_CHALLENGE),
            );
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
            K::StorageFull => StatusCode::INSUFFICIENT_STORAGE,
            K::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
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

pub(crate) fn encode_token(s: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s)
}

pub(crate) fn decode_token(t: &str) -> ApiResult<String> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(t)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(not_our_token)
}

fn not_our_token() -> JsonError {
    JsonError::bad_request("page_token is not a token this API issued")
}

pub(crate) fn caller_id(c: &MaybeCaller) -> Option<StakeholderId> {
    c.0.as_ref().map(|t| StakeholderId(t.stakeholder.clone()))
}

#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "meta",
    summary = "This OpenAPI 3.1 document",
    responses((status = 200, description = "The document, generated from the API's types", body = Object)),
)]
async fn openapi() -> impl IntoResponse {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        crate::openapi::document_json(),
    )
}

#[utoipa::path(
    get,
    path = "/api/v1/status",
    tag = "twins",
    summary = "Projection and log status",
    description = "Public. `read_only` and `log_fault` say when the log stopped writing (a storage fault); it writes again by itself once the cause is gone.",
    responses((status = 200, description = "Status", body = NodeStatus)),
)]
async fn status(State(api): State<TwinApi>) -> Json<NodeStatus> {
    Json(api.views.status())
}

#[utoipa::path(
    get,
    path = "/api/v1/stakeholders",
    tag = "twins",
    summary = "Registered stakeholders and their keys (public: the registry is in the log)",
    responses((status = 200, description = "Stakeholders", body = StakeholderList)),
)]
async fn stakeholders(State(api): State<TwinApi>) -> Json<StakeholderList> {
    Json(api.views.stakeholders())
}

#[utoipa::path(
    get,
    path = "/api/v1/stakeholders/{id}",
    tag = "twins",
    summary = "One stakeholder",
    params(("id" = String, Path, description = "Stakeholder id")),
    responses(
        (status = 200, description = "Stakeholder", body = StakeholderRecord),
        (status = 404, description = "No such stakeholder", body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn stakeholder(
    State(api): State<TwinApi>,
    Path(id): Path<String>,
) -> ApiResult<Json<StakeholderRecord>> {
    Ok(Json(api.views.stakeholder(&id)?))
}

#[utoipa::path(
    get,
    path = "/api/v1/policies",
    tag = "twins",
    summary = "Published policies (sharing, transparency, AI use) with every version; public, like the log",
    params(PolicyQuery),
    responses(
        (status = 200, description = "Policy versions", body = PolicyList),
        (status = 400, description = "Unknown parameter or kind, or a bad position", body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn policies(
    State(api): State<TwinApi>,
    ApiQuery(q): ApiQuery<PolicyQuery>,
) -> ApiResult<Json<PolicyList>> {
    Ok(Json(api.views.policies(&q)?))
}

#[utoipa::path(
    get,
    path = "/api/v1/devices/{id}",
    tag = "twins",
    summary = "A device's twin with each attribute's consensus status",
    description = "Fields the owners' sharing policies hide from the caller are null; the read is recorded for every other organization whose data it shows.",
    security((), ("bearer" = [])),
    params(("id" = String, Path, description = "Device id (the statement subject without `device:`)")),
    responses(
        (status = 200, description = "The twin", body = DeviceView),
        (status = 401, response = Unauthorized),
        (status = 404, description = "No such device, or not shared with the caller", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The read could not be recorded (Retry-After)", body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn device(
    State(api): State<TwinApi>,
    caller: MaybeCaller,
    Path(id): Path<String>,
) -> ApiResult<Json<DeviceView>> {
    Ok(Json(api.views.device(caller_id(&caller), &id)?))
}

#[utoipa::path(
    get,
    path = "/api/v1/devices",
    tag = "twins",
    summary = "Devices visible to the caller, in id order, searchable by attribute",
    description = "A filter matches only on what the caller may see. At most one indexed attribute drives the scan; at most 100,000 devices are examined per page.",
    security((), ("bearer" = [])),
    params(DeviceQuery),
    responses(
        (status = 200, description = "A page of devices", body = DeviceList),
        (status = 400, description = "A bad parameter, with a message saying which", body = Problem, content_type = "application/problem+json"),
        (status = 401, response = Unauthorized),
    ),
)]
async fn devices(
    State(api): State<TwinApi>,
    caller: MaybeCaller,
    ApiQuery(q): ApiQuery<DeviceQuery>,
) -> ApiResult<Json<DeviceList>> {
    let (page, filter) = q.split();
    let after = page.page_token.as_deref().map(decode_token).transpose()?;
    let page = api
        .views
        .devices(caller_id(&caller), &filter, page.page_size, after)?;
    Ok(Json(DeviceList {
        devices: page.devices,
        next_page_token: page.next_after.map(|l| encode_token(&l)),
        as_of: page.as_of,
    }))
}

#[utoipa::path(
    get,
    path = "/api/v1/fleet",
    tag = "twins",
    summary = "The devices visible to the caller, counted by lifecycle, model, site, firmware and manufacturer",
    description = "Counts what the caller may see, as it sees it: a value an owner's sharing policy hides counts as `(hidden)`, a missing one as `(none)`. At most 100,000 devices are examined (`complete` says whether all were); recorded as a count read of each owner's data.",
    security((), ("bearer" = [])),
    params(api_types::risks::NoParameters),
    responses(
        (status = 200, description = "The breakdown", body = FleetView),
        (status = 400, description = "A parameter (it takes none)", body = Problem, content_type = "application/problem+json"),
        (status = 401, response = Unauthorized),
        (status = 503, description = "The read could not be recorded (Retry-After)", body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn fleet(
    State(api): State<TwinApi>,
    caller: MaybeCaller,
    ApiQuery(_): ApiQuery<api_types::risks::NoParameters>,
) -> ApiResult<Json<FleetView>> {
    let who = caller_id(&caller);
    // A scan of the whole fleet: on a blocking thread, never a runtime worker.
    let view = tokio::task::spawn_blocking(move || api.views.fleet(who))
        .await
        .map_err(JsonError::internal)??;
    Ok(Json(view))
}

#[utoipa::path(
    get,
    path = "/api/v1/digests/{sha256}",
    tag = "twins",
    summary = "The statements that name a SHA-256 digest: what a file (a firmware image, an SBOM, a test report, a model) is",
    description = "Statements name digests in their fields (`image_sha256` of a release or an installed firmware, `document_sha256` of an SBOM, `model_sha256`, `config_sha256`, a test's `target_sha256` and `report_sha256`). Listed only where the caller may see the statement with the digest; each listed statement is recorded as a read like `GET /api/v1/statements/{entry}`.",
    security((), ("bearer" = [])),
    params(
        ("sha256" = String, Path, description = "The digest: 64 hex digits (optionally prefixed `sha256:`)"),
        DigestQuery,
    ),
    responses(
        (status = 200, description = "The statements naming it, oldest first (none: the log names no such file)", body = DigestLookup),
        (status = 400, description = "Not a SHA-256 digest, or a bad parameter", body = Problem, content_type = "application/problem+json"),
        (status = 401, response = Unauthorized),
        (status = 503, description = "A read could not be recorded (Retry-After)", body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn digest(
    State(api): State<TwinApi>,
    caller: MaybeCaller,
    Path(sha256): Path<String>,
    ApiQuery(q): ApiQuery<DigestQuery>,
) -> ApiResult<Json<DigestLookup>> {
    let who = caller_id(&caller);
    let view = tokio::task::spawn_blocking(move || api.views.digest(who, &sha256, q.after))
        .await
        .map_err(JsonError::internal)??;
    Ok(Json(view))
}

#[utoipa::path(
    get,
    path = "/api/v1/devices/count",
    tag = "twins",
    summary = "How many devices visible to the caller match",
    security((), ("bearer" = [])),
    params(DeviceFilter),
    responses(
        (status = 200, description = "The count (also in X-Total-Count)", body = DeviceCount,
            headers(("x-total-count" = u64, description = "The count"))),
        (status = 400, description = "A bad parameter, with a message saying which", body = Problem, content_type = "application/problem+json"),
        (status = 401, response = Unauthorized),
    ),
)]
async fn device_count(
    State(api): State<TwinApi>,
    caller: MaybeCaller,
    ApiQuery(filter): ApiQuery<DeviceFilter>,
) -> ApiResult<Response> {
    let who = caller_id(&caller);
    // A scan of the matching devices: on a blocking thread, never a runtime
    // worker.
    let c = tokio::task::spawn_blocking(move || api.views.count(who, &filter))
        .await
        .map_err(JsonError::internal)??;
    let mut headers = HeaderMap::new();
    headers.insert("x-total-count", HeaderValue::from(c.count as u64));
    Ok((
        headers,
        Json(DeviceCount {
            count: c.count as u64,
            complete: c.complete,
            as_of: c.as_of,
        }),
    )
        .into_response())
}

#[utoipa::path(
    get,
    path = "/api/v1/devices/{id}/timeline",
    tag = "twins",
    summary = "Every statement about a device the caller may see, in log order, with receipts",
    security((), ("bearer" = [])),
    params(("id" = String, Path, description = "Device id"), PageQuery),
    responses(
        (status = 200, description = "A page of the timeline", body = Timeline),
        (status = 400, description = "A bad parameter, with a message saying which", body = Problem, content_type = "application/problem+json"),
        (status = 401, response = Unauthorized),
        (status = 404, description = "No such device, or not shared with the caller", body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn timeline(
    State(api): State<TwinApi>,
    caller: MaybeCaller,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> ApiResult<Json<Timeline>> {
    let after = match q.page_token.as_deref() {
        Some(t) => Some(
            decode_token(t)?
                .parse::<u64>()
                .map_err(|_| not_our_token())?,
        ),
        None => None,
    };
    let page = api
        .views
        .timeline(caller_id(&caller), &id, q.page_size, after)?;
    Ok(Json(Timeline {
        device: id,
        entries: page.entries,
        next_page_token: page.next_after.map(|c| encode_token(&c.to_string())),
        as_of: page.as_of,
    }))
}

#[utoipa::path(
    get,
    path = "/api/v1/statements/{entry}",
    tag = "twins",
    summary = "A registered statement by log entry",
    description = "Statements about devices follow the device's policies; registry and release statements are public records.",
    security((), ("bearer" = [])),
    params(("entry" = u64, Path, description = "Log entry index")),
    responses(
        (status = 200, description = "The statement", body = StatementView),
        (status = 400, description = "Not an entry number", body = Problem, content_type = "application/problem+json"),
        (status = 401, response = Unauthorized),
        (status = 404, description = "No such statement, or not shared with the caller", body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn statement(
    State(api): State<TwinApi>,
    caller: MaybeCaller,
    Path(entry): Path<String>,
) -> ApiResult<Json<StatementView>> {
    let index: u64 = entry
        .parse()
        .map_err(|_| JsonError::bad_request(format!("{entry:?} is not an entry number")))?;
    Ok(Json(api.views.statement(caller_id(&caller), index)?))
}

/// `POST /api/v1/statements`: registers a confidential statement (a hash
/// envelope) with its payload. The signature is the authentication, as for
/// SCRAPI; the payload is then served only under the owner's policy.
#[utoipa::path(
    post,
    path = "/api/v1/statements",
    tag = "twins",
    summary = "Register a confidential statement: a COSE hash envelope with its payload, kept beside the log (never in it) and served only under the owner's sharing policy",
    request_body(content = RegisterStatement, content_type = "application/json"),
    responses(
        (status = 201, description = "Registered", body = Registered),
        (status = 400, description = "Refused (the message says why)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The log cannot append now", body = Problem, content_type = "application/problem+json"),
        (status = 507, description = "The payload could not be kept", body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn register_statement(
    State(api): State<TwinApi>,
    body: Result<Json<RegisterStatement>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<(StatusCode, Json<Registered>)> {
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
            Json(Registered {
                entry: r.index.get(),
                duplicate: r.duplicate,
                receipt: format!("/entries/{}", r.index.get()),
            }),
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

#[utoipa::path(
    get,
    path = "/api/v1/reads",
    tag = "twins",
    summary = "Reads of an organization's data by others (the caller's own, or another's its transparency policy opens to the caller)",
    security(("bearer" = [])),
    params(ReadsQuery),
    responses(
        (status = 200, description = "A page of read records", body = ReadsPage),
        (status = 400, description = "A bad parameter, with a message saying which", body = Problem, content_type = "application/problem+json"),
        (status = 401, response = Unauthorized),
        (status = 403, description = "The owner's transparency policy does not admit the caller", body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn reads(
    State(api): State<TwinApi>,
    Caller(claims): Caller,
    ApiQuery(q): ApiQuery<ReadsQuery>,
) -> ApiResult<Json<ReadsPage>> {
    let after = match q.page_token.as_deref() {
        Some(t) => {
            let s = decode_token(t)?;
            let parsed = s
                .split_once('.')
                .and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)));
            Some(parsed.ok_or_else(not_our_token)?)
        }
        None => None,
    };
    let caller = StakeholderId(claims.stakeholder.clone());
    let page = api
        .views
        .reads(&caller, q.owner.as_deref(), after, q.page_size)?;
    let next = page
        .next_after
        .map(|(t, s)| encode_token(&format!("{t}.{s}")));
    Ok(Json(ReadsPage {
        reads: page.reads,
        next_page_token: next,
    }))
}

//! SCRAPI (IETF SCITT Reference APIs, `../shared/specs/ietf-scitt-scrapi.md`)
//! over the [`TransparencyService`]:
//!
//! * `POST /entries` (`application/cose`): register a Signed Statement;
//!   201 with the receipt once a checkpoint covers it (within
//!   [`ScrapiApi::registration_wait`]), else 303 to `/entries/{id}`.
//! * `GET /entries/{id}`: the receipt (200), 302 while pending, 404 unknown.
//! * `GET /entries/{id}/statement`: the Transparent Statement (the statement
//!   with its receipt in the unprotected header).
//! * `GET /.well-known/scitt-keys[/{kid}]`: the receipt keys as a COSE Key Set
//!   (or one COSE_Key; `kid` in base64url).
//! * `GET /.well-known/transparency-configuration`: the service's parameters.
//!
//! * `POST /api/v1/statements/batch` (`application/cbor`, an array of Signed
//!   Statements as byte strings, at most [`BATCH_STATEMENTS_MAX`]): registers
//!   them together (Ed25519 batch verification, shared group commits) and
//!   answers JSON, one result per statement, in order.
//!
//! `POST /entries` with `Prefer: respond-async` (RFC 7240) answers 303 as soon
//! as the statement is durable, without waiting for a checkpoint.
//!
//! Errors are Concise Problem Details (RFC 9290) in CBOR: `{-1: title, -2: detail}`.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use base64::Engine as _;
use ciborium::Value;
use clock::Clock;
use coset::CborSerializable;
use log_service::AppendError;
use tlog::LeafIndex;
use transparency::{ReceiptLookupError, RegisterError, TransparencyService};

const COSE: &str = "application/cose";
const CBOR: &str = "application/cbor";
const PROBLEM: &str = "application/concise-problem-details+cbor";

/// Most statements in one batch request.
pub const BATCH_STATEMENTS_MAX: usize = 4096;
/// Largest batch request body.
pub const BATCH_BODY_BYTES_MAX: usize = 16 * 1024 * 1024;

/// State of the SCRAPI routes.
pub struct ScrapiApi {
    service: Arc<TransparencyService>,
    /// How long `POST /entries` waits for a checkpoint before answering 303.
    pub registration_wait: Duration,
    /// Dates the receipts (their CWT `iat`).
    clock: Arc<dyn Clock>,
}

impl ScrapiApi {
    /// Routes over `service`; registration waits up to 3 s for a receipt;
    /// receipts are dated by the system clock.
    pub fn new(service: Arc<TransparencyService>) -> ScrapiApi {
        ScrapiApi {
            service,
            registration_wait: Duration::from_secs(3),
            clock: Arc::new(clock::SystemClock),
        }
    }

    /// Dates receipts by `clock` (the node's; a fixed one in tests).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> ScrapiApi {
        self.clock = clock;
        self
    }

    /// Now by this API's clock, Unix seconds: a receipt's `iat`.
    fn now_unix_s(&self) -> i64 {
        self.clock.now_unix_s()
    }
}

/// The SCRAPI router (mount at the root: its paths are absolute).
pub fn scrapi_router(api: ScrapiApi) -> Router {
    Router::new()
        .route("/entries", post(register))
        .route("/entries/{id}", get(entry_receipt))
        .route("/entries/{id}/statement", get(entry_statement))
        .route("/.well-known/scitt-keys", get(keys))
        .route("/.well-known/scitt-keys/{kid}", get(one_key))
        .route(
            "/.well-known/transparency-configuration",
            get(configuration),
        )
        // A statement is one log entry; allow a little framing slack so the
        // precise 413 below, not the body limit, answers oversized ones.
        .layer(crate::problem::body_limit(
            scitt::STATEMENT_BYTES_MAX + 1024,
        ))
        .route(
            "/api/v1/statements/batch",
            post(register_batch).layer(crate::problem::body_limit(BATCH_BODY_BYTES_MAX)),
        )
        .with_state(Arc::new(api))
}

/// A Concise Problem Details answer.
struct Problem {
    status: StatusCode,
    title: &'static str,
    detail: String,
    retry_after_s: Option<u64>,
}

impl Problem {
    fn new(status: StatusCode, title: &'static str, detail: impl Into<String>) -> Problem {
        Problem {
            status,
            title,
            detail: detail.into(),
            retry_after_s: None,
        }
    }
}

fn cbor(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    // Writing CBOR to a Vec cannot fail.
    let _ = ciborium::into_writer(value, &mut out);
    out
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::error!(detail = %self.detail, "SCRAPI server error");
        }
        let body = cbor(&Value::Map(vec![
            (Value::from(-1), Value::Text(self.title.into())),
            (Value::from(-2), Value::Text(self.detail)),
        ]));
        let mut response = (self.status, [(header::CONTENT_TYPE, PROBLEM)], body).into_response();
        if let Some(s) = self.retry_after_s {
            if let Ok(v) = HeaderValue::from_str(&s.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        response
    }
}

impl From<RegisterError> for Problem {
    fn from(e: RegisterError) -> Problem {
        use scitt::StatementError as S;
        let detail = e.to_string();
        match e {
            RegisterError::Statement(S::TooLarge { .. }) => {
                Problem::new(StatusCode::PAYLOAD_TOO_LARGE, "Payload too large", detail)
            }
            RegisterError::Statement(S::Malformed(_)) => {
                Problem::new(StatusCode::BAD_REQUEST, "Malformed request", detail)
            }
            RegisterError::Statement(S::UnsupportedAlgorithm(_)) => {
                Problem::new(StatusCode::BAD_REQUEST, "Bad Signature Algorithm", detail)
            }
            RegisterError::Statement(S::Signature(_) | S::AlgorithmMismatch { .. }) => {
                Problem::new(
                    StatusCode::BAD_REQUEST,
                    "Signature verification failed",
                    detail,
                )
            }
            RegisterError::Statement(_) => {
                Problem::new(StatusCode::BAD_REQUEST, "Missing or invalid header", detail)
            }
            RegisterError::UnknownKey { .. } => {
                Problem::new(StatusCode::BAD_REQUEST, "Unknown issuer key", detail)
            }
            RegisterError::KeyNotValid(_) => {
                Problem::new(StatusCode::BAD_REQUEST, "Key not valid", detail)
            }
            RegisterError::Refused(_) => Problem::new(
                StatusCode::BAD_REQUEST,
                "Registration policy refused the statement",
                detail,
            ),
            RegisterError::DetachedPayload => {
                Problem::new(StatusCode::BAD_REQUEST, "Detached payload", detail)
            }
            RegisterError::IssuedAtMissing
            | RegisterError::IssuedTooLongAgo { .. }
            | RegisterError::IssuedInTheFuture { .. } => Problem::new(
                StatusCode::BAD_REQUEST,
                "Issued-at outside the window",
                detail,
            ),
            RegisterError::Append(AppendError::Busy { .. }) => Problem {
                retry_after_s: Some(1),
                ..Problem::new(StatusCode::SERVICE_UNAVAILABLE, "Busy", detail)
            },
            RegisterError::Append(AppendError::TooLarge { .. }) => {
                Problem::new(StatusCode::PAYLOAD_TOO_LARGE, "Payload too large", detail)
            }
            RegisterError::Append(AppendError::Empty) => {
                Problem::new(StatusCode::BAD_REQUEST, "Malformed request", detail)
            }
            RegisterError::Append(AppendError::ReadOnly(_)) => Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "Service unavailable",
                detail,
            ),
            RegisterError::PayloadNotKept(_) => Problem::new(
                StatusCode::INSUFFICIENT_STORAGE,
                "Insufficient storage",
                detail,
            ),
        }
    }
}

fn entry_location(index: LeafIndex) -> String {
    format!("/entries/{index}")
}

fn cose_response(status: StatusCode, location: Option<String>, body: Vec<u8>) -> Response {
    let mut response = (status, [(header::CONTENT_TYPE, COSE)], body).into_response();
    if let Some(l) = location.and_then(|l| HeaderValue::from_str(&l).ok()) {
        response.headers_mut().insert(header::LOCATION, l);
    }
    response
}

/// 415 unless the request's media type is `expected`.
fn require_content_type(headers: &HeaderMap, expected: &str, what: &str) -> Result<(), Problem> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if content_type.starts_with(expected) {
        return Ok(());
    }
    Err(Problem::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "Unsupported media type",
        format!("send {what} as {expected}, not {content_type:?}"),
    ))
}

#[utoipa::path(
    post,
    path = "/entries",
    tag = "scrapi",
    summary = "Register a COSE Signed Statement",
    description = "201 with the receipt once a checkpoint covers the statement (within a few seconds), else 303 to /entries/{id}. With `Prefer: respond-async` (RFC 7240) it answers 303 as soon as the statement is durable. A statement registered before answers its existing entry.",
    request_body(content = api_types::scrapi::Binary, description = "A COSE_Sign1 Signed Statement", content_type = "application/cose"),
    responses(
        (status = 201, description = "Registered; the body is the COSE receipt", body = api_types::scrapi::Binary, content_type = "application/cose",
            headers(("location" = String, description = "/entries/{id}"))),
        (status = 303, description = "Registered; the receipt will be at Location",
            headers(("location" = String, description = "/entries/{id}"), ("retry-after" = u64, description = "Seconds"))),
        (status = 400, description = "Refused by the registration policy (RFC 9290 concise problem details)", body = api_types::scrapi::Binary, content_type = "application/concise-problem-details+cbor"),
        (status = 413, description = "Larger than a log entry", body = api_types::scrapi::Binary, content_type = "application/concise-problem-details+cbor"),
        (status = 415, description = "Not application/cose", body = api_types::scrapi::Binary, content_type = "application/concise-problem-details+cbor"),
        (status = 503, description = "The log cannot append now", body = api_types::scrapi::Binary, content_type = "application/concise-problem-details+cbor"),
    ),
)]
async fn register(
    State(api): State<Arc<ScrapiApi>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Problem> {
    require_content_type(&headers, COSE, "the Signed Statement")?;
    let registered = api.service.register(body.to_vec()).await?;
    let location = entry_location(registered.index);
    let respond_async = headers
        .get_all("prefer")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| {
            v.split(',')
                .any(|p| p.trim().eq_ignore_ascii_case("respond-async"))
        });
    if !respond_async
        && api
            .service
            .wait_covered(registered.index, api.registration_wait)
            .await
    {
        let receipt = api
            .service
            .receipt(registered.index, api.now_unix_s())
            .map_err(lookup_problem)?;
        return Ok(cose_response(StatusCode::CREATED, Some(location), receipt));
    }
    let mut response = cose_response(StatusCode::SEE_OTHER, Some(location), Vec::new());
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    Ok(response)
}

fn parse_id(id: &str) -> Result<LeafIndex, Problem> {
    id.parse::<u64>().map(LeafIndex::new).map_err(|_| {
        Problem::new(
            StatusCode::BAD_REQUEST,
            "Malformed request",
            format!("entry id {id:?} is not a decimal log index"),
        )
    })
}

fn lookup_problem(e: ReceiptLookupError) -> Problem {
    let detail = e.to_string();
    match e {
        ReceiptLookupError::NotFound(_) => Problem::new(StatusCode::NOT_FOUND, "Not Found", detail),
        ReceiptLookupError::NotAStatement(_) => {
            Problem::new(StatusCode::NOT_FOUND, "Not a signed statement", detail)
        }
        ReceiptLookupError::Pending(_) => Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "Registration running",
            detail,
        ),
        ReceiptLookupError::Log(e) => Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Internal error",
            e.to_string(),
        ),
    }
}

fn pending(index: LeafIndex) -> Response {
    let mut response = StatusCode::FOUND.into_response();
    if let Ok(l) = HeaderValue::from_str(&entry_location(index)) {
        response.headers_mut().insert(header::LOCATION, l);
    }
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    response
}

#[utoipa::path(
    get,
    path = "/entries/{id}",
    tag = "scrapi",
    summary = "The receipt of an entry",
    params(("id" = String, Path, description = "Entry id (a decimal log index)")),
    responses(
        (status = 200, description = "COSE receipt", body = api_types::scrapi::Binary, content_type = "application/cose"),
        (status = 302, description = "Not yet covered by a checkpoint",
            headers(("location" = String, description = "/entries/{id}"), ("retry-after" = u64, description = "Seconds"))),
        (status = 400, description = "Not a decimal log index", body = api_types::scrapi::Binary, content_type = "application/concise-problem-details+cbor"),
        (status = 404, description = "No such entry, or not a signed statement", body = api_types::scrapi::Binary, content_type = "application/concise-problem-details+cbor"),
    ),
)]
async fn entry_receipt(
    State(api): State<Arc<ScrapiApi>>,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    let index = parse_id(&id)?;
    match api.service.receipt(index, api.now_unix_s()) {
        Ok(receipt) => Ok(cose_response(StatusCode::OK, None, receipt)),
        Err(ReceiptLookupError::Pending(i)) => Ok(pending(i)),
        Err(e) => Err(lookup_problem(e)),
    }
}

#[utoipa::path(
    get,
    path = "/entries/{id}/statement",
    tag = "scrapi",
    summary = "The Transparent Statement (the statement with its receipt in the unprotected header)",
    params(("id" = String, Path, description = "Entry id (a decimal log index)")),
    responses(
        (status = 200, description = "COSE_Sign1 with its receipt", body = api_types::scrapi::Binary, content_type = "application/cose"),
        (status = 302, description = "Not yet covered by a checkpoint",
            headers(("location" = String, description = "/entries/{id}"), ("retry-after" = u64, description = "Seconds"))),
        (status = 400, description = "Not a decimal log index", body = api_types::scrapi::Binary, content_type = "application/concise-problem-details+cbor"),
        (status = 404, description = "No such entry, or not a signed statement", body = api_types::scrapi::Binary, content_type = "application/concise-problem-details+cbor"),
    ),
)]
async fn entry_statement(
    State(api): State<Arc<ScrapiApi>>,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    let index = parse_id(&id)?;
    let receipt = match api.service.receipt(index, api.now_unix_s()) {
        Ok(r) => r,
        Err(ReceiptLookupError::Pending(i)) => return Ok(pending(i)),
        Err(e) => return Err(lookup_problem(e)),
    };
    let statement = api.service.statement(index).map_err(lookup_problem)?;
    let transparent = scitt::attach_receipts(&statement, &[receipt]).map_err(|e| {
        Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Internal error",
            e.to_string(),
        )
    })?;
    Ok(cose_response(StatusCode::OK, None, transparent))
}

fn cose_key_value(key: &scitt::PublicKey) -> Result<Value, Problem> {
    let bytes = key.to_cose_key().to_vec().map_err(|e| {
        Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Internal error",
            e.to_string(),
        )
    })?;
    ciborium::from_reader(bytes.as_slice()).map_err(|e| {
        Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Internal error",
            e.to_string(),
        )
    })
}

#[utoipa::path(
    get,
    path = "/.well-known/scitt-keys",
    tag = "scrapi",
    summary = "The service's receipt keys as a COSE Key Set",
    responses((status = 200, description = "A CBOR array of COSE_Key", body = api_types::scrapi::Binary, content_type = "application/cbor")),
)]
async fn keys(State(api): State<Arc<ScrapiApi>>) -> Result<Response, Problem> {
    let set = api
        .service
        .service_keys()
        .iter()
        .map(cose_key_value)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(([(header::CONTENT_TYPE, CBOR)], cbor(&Value::Array(set))).into_response())
}

#[utoipa::path(
    get,
    path = "/.well-known/scitt-keys/{kid}",
    tag = "scrapi",
    summary = "One receipt key by its key id",
    params(("kid" = String, Path, description = "Key id (RFC 9679 thumbprint), base64url without padding")),
    responses(
        (status = 200, description = "COSE_Key", body = api_types::scrapi::Binary, content_type = "application/cbor"),
        (status = 400, description = "kid is not base64url", body = api_types::scrapi::Binary, content_type = "application/concise-problem-details+cbor"),
        (status = 404, description = "No key with this kid", body = api_types::scrapi::Binary, content_type = "application/concise-problem-details+cbor"),
    ),
)]
async fn one_key(
    State(api): State<Arc<ScrapiApi>>,
    Path(kid): Path<String>,
) -> Result<Response, Problem> {
    let wanted = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(kid.as_bytes())
        .map_err(|_| {
            Problem::new(
                StatusCode::BAD_REQUEST,
                "Malformed request",
                "kid must be base64url without padding",
            )
        })?;
    let key = api
        .service
        .service_keys()
        .into_iter()
        .find(|k| k.thumbprint().as_slice() == wanted.as_slice())
        .ok_or_else(|| {
            Problem::new(
                StatusCode::NOT_FOUND,
                "No such key",
                "No key could be found for this kid value",
            )
        })?;
    Ok(([(header::CONTENT_TYPE, CBOR)], cbor(&cose_key_value(&key)?)).into_response())
}

#[utoipa::path(
    get,
    path = "/.well-known/transparency-configuration",
    tag = "scrapi",
    summary = "The transparency service's configuration",
    description = "A CBOR map: issuer, registration_endpoint, jwks_uri, supported_signature_algorithms (COSE algorithm ids), verifiable_data_structure (RFC9162_SHA256), log (the C2SP checkpoint).",
    responses((status = 200, description = "CBOR configuration", body = api_types::scrapi::Binary, content_type = "application/cbor")),
)]
async fn configuration(State(api): State<Arc<ScrapiApi>>) -> Response {
    let config = Value::Map(vec![
        (
            Value::Text("issuer".into()),
            Value::Text(api.service.issuer().into()),
        ),
        (
            Value::Text("registration_endpoint".into()),
            Value::Text("/entries".into()),
        ),
        (
            Value::Text("jwks_uri".into()),
            Value::Text("/.well-known/scitt-keys".into()),
        ),
        (
            Value::Text("supported_signature_algorithms".into()),
            Value::Array(vec![Value::from(-8), Value::from(-7)]),
        ),
        (
            Value::Text("verifiable_data_structure".into()),
            Value::Text("RFC9162_SHA256".into()),
        ),
        (
            Value::Text("log".into()),
            Value::Text("/log/checkpoint".into()),
        ),
    ]);
    ([(header::CONTENT_TYPE, CBOR)], cbor(&config)).into_response()
}

#[utoipa::path(
    post,
    path = "/api/v1/statements/batch",
    tag = "scrapi",
    summary = "Register up to 4096 Signed Statements at once (SCRAPI registration policy; Ed25519 batch verification, shared group commits)",
    request_body(content = api_types::scrapi::Binary, description = "A definite-length CBOR array of definite-length byte strings, each a COSE_Sign1 Signed Statement; at most 4096 items and 16 MiB", content_type = "application/cbor"),
    responses(
        (status = 200, description = "One result per statement, in order", body = api_types::scrapi::BatchResults),
        (status = 400, description = "The body is not such an array (the detail says where)", body = api_types::scrapi::Binary, content_type = "application/concise-problem-details+cbor"),
        (status = 413, description = "More than 4096 statements, or a body over 16 MiB; the detail states the limit", body = api_types::scrapi::Binary, content_type = "application/concise-problem-details+cbor"),
        (status = 415, description = "Not application/cbor", body = api_types::scrapi::Binary, content_type = "application/concise-problem-details+cbor"),
    ),
)]
async fn register_batch(
    State(api): State<Arc<ScrapiApi>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Problem> {
    require_content_type(&headers, CBOR, "a CBOR array of Signed Statements")?;
    let statements = batch_statements(&body)?;
    drop(body);
    // Parsing and Ed25519/ES256 verification of up to 4,096 statements is
    // CPU work of tens of milliseconds: it runs on a blocking thread so the
    // async workers keep answering other requests meanwhile.
    let service = api.service.clone();
    let runtime = tokio::runtime::Handle::current();
    let results = tokio::task::spawn_blocking(move || {
        runtime.block_on(async move { service.register_batch(statements).await })
    })
    .await
    .map_err(|e| {
        Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Internal error",
            format!("batch registration task failed: {e}"),
        )
    })?;
    use api_types::scrapi::{BatchProblem, BatchRefused, BatchRegistered, BatchResult};
    let results = results
        .into_iter()
        .map(|r| match r {
            Ok(reg) => BatchResult::Registered(BatchRegistered {
                index: reg.index.get(),
                location: entry_location(reg.index),
                duplicate: reg.duplicate,
            }),
            Err(e) => {
                let p = Problem::from(e);
                BatchResult::Refused(BatchRefused {
                    error: BatchProblem {
                        status: p.status.as_u16(),
                        title: p.title.to_string(),
                        detail: p.detail,
                    },
                })
            }
        })
        .collect();
    Ok(axum::Json(api_types::scrapi::BatchResults { results }).into_response())
}

/// The statements of a batch body: a definite-length CBOR array (major type
/// 4) of definite-length byte strings (major type 2), nothing after it.
///
/// Only the heads are read before anything is allocated: the item count is
/// checked against [`BATCH_STATEMENTS_MAX`] from the array's head, and each
/// byte string's length against the bytes actually left in the body, so the
/// memory of a request is bounded by its body (itself capped by
/// [`BATCH_BODY_BYTES_MAX`]) whatever the heads claim. A general CBOR decoder
/// would first build every item (16.7 million empty byte strings fit in 16
/// MiB and cost about 1 GiB as decoded values).
fn batch_statements(body: &[u8]) -> Result<Vec<Vec<u8>>, Problem> {
    let malformed = |why: String| Problem::new(StatusCode::BAD_REQUEST, "Malformed request", why);
    let mut rest = body;
    let count = match cbor_head(&mut rest) {
        Ok((4, Some(n))) => n,
        Ok((4, None)) => {
            return Err(malformed(
                "the body is an indefinite-length CBOR array; send a definite-length array of byte strings".into(),
            ))
        }
        Ok((major, _)) => {
            return Err(malformed(format!(
                "the body must be a CBOR array of byte strings, not CBOR major type {major}"
            )))
        }
        Err(why) => return Err(malformed(format!("the body is not CBOR: {why}"))),
    };
    if count > BATCH_STATEMENTS_MAX as u64 {
        return Err(Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "Payload too large",
            format!("{count} statements in one batch; at most {BATCH_STATEMENTS_MAX}"),
        ));
    }
    // `count` is at most BATCH_STATEMENTS_MAX here.
    let mut statements = Vec::with_capacity(count as usize);
    for i in 0..count {
        let length = match cbor_head(&mut rest) {
            Ok((2, Some(n))) => n,
            Ok((2, None)) => {
                return Err(malformed(format!(
                    "item {i} is an indefinite-length byte string; send definite lengths"
                )))
            }
            Ok((major, _)) => {
                return Err(malformed(format!(
                    "item {i} is not a byte string (CBOR major type {major})"
                )))
            }
            Err(why) => return Err(malformed(format!("item {i}: {why}"))),
        };
        let length = usize::try_from(length)
            .ok()
            .filter(|n| *n <= rest.len())
            .ok_or_else(|| {
                malformed(format!(
                    "item {i} claims {length} bytes but only {} are left in the body",
                    rest.len()
                ))
            })?;
        let (item, tail) = rest.split_at(length);
        statements.push(item.to_vec());
        rest = tail;
    }
    if !rest.is_empty() {
        return Err(malformed(format!(
            "{} bytes follow the array; the body must be exactly one CBOR array",
            rest.len()
        )));
    }
    Ok(statements)
}

/// Reads one CBOR head (RFC 8949 §3): the major type and its argument, `None`
/// for the indefinite length (additional information 31).
fn cbor_head(rest: &mut &[u8]) -> Result<(u8, Option<u64>), String> {
    let (&first, tail) = rest.split_first().ok_or("the body ends early")?;
    let major = first >> 5;
    let info = first & 0x1f;
    let width = match info {
        0..=23 => {
            *rest = tail;
            return Ok((major, Some(u64::from(info))));
        }
        24 => 1,
        25 => 2,
        26 => 4,
        27 => 8,
        31 => {
            *rest = tail;
            return Ok((major, None));
        }
        _ => return Err(format!("reserved additional information {info}")),
    };
    if tail.len() < width {
        return Err("the body ends inside a CBOR head".into());
    }
    let (argument, tail) = tail.split_at(width);
    let value = argument.iter().fold(0u64, |v, b| (v << 8) | u64::from(*b));
    *rest = tail;
    Ok((major, Some(value)))
}

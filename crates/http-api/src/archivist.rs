//! A drop-in for DataTrails (Jitsuin Archivist) clients: the Archivist v2
//! REST surface under `/archivist/`, as the official Python SDK
//! (`datatrails-archivist`) calls it. Each handler extracts, calls the use
//! case in `service::archivist` (where the mapping onto the twins, every
//! authorization decision and the read records live) and maps the answer:
//! errors in DataTrails' shape `{"code", "message", "details"}` with the
//! status its SDK maps to exceptions, `x-total-count` for counts.
//! See `docs/design/archivist.md` for the mapping, field by field.

use std::sync::Arc;

use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Map, Value};
use service::archivist::assets::{NewAsset, ASSET_FILTERS};
use service::archivist::config::CONFIG_FILTERS;
use service::archivist::events::{NewEvent, EVENT_FILTERS};
use service::archivist::{ListQuery, Listing, Scope, BLOB_BYTES_MAX, JSON_BODY_BYTES_MAX};
use service::{ArchivistService, ServiceError};
use twin::StakeholderId;
use twin_store::archivist::Collection;

use crate::oauth::{Caller, MaybeCaller, TokenEndpoint};
use crate::twin_api::caller_id;

pub use service::archivist::{AuthoritySigner, Disclosure};

/// The state of the `/archivist` routes.
#[derive(Clone)]
pub struct ArchivistApi {
    service: ArchivistService,
    tokens: Arc<TokenEndpoint>,
}

impl ArchivistApi {
    /// The routes' state: the use cases, and the token endpoint that
    /// authenticates callers.
    pub fn new(service: ArchivistService, tokens: Arc<TokenEndpoint>) -> ArchivistApi {
        ArchivistApi { service, tokens }
    }
}

impl axum::extract::FromRef<ArchivistApi> for Arc<TokenEndpoint> {
    fn from_ref(api: &ArchivistApi) -> Arc<TokenEndpoint> {
        api.tokens.clone()
    }
}

/// The `/archivist` routes (mount at the root).
pub fn archivist_router(api: ArchivistApi) -> Router {
    let tokens = crate::oauth::token_routes(api.tokens.clone(), "/archivist/iam/v1/appidp/token");
    Router::new()
        .route("/archivist/v2/assets", get(list_assets).post(create_asset))
        .route("/archivist/v2/assets/{id}", get(read_asset))
        .route(
            "/archivist/v2/assets/{id}/events",
            get(list_events).post(create_event),
        )
        .route("/archivist/v2/assets/{id}/events/{eid}", get(read_event))
        .route("/archivist/v2/publicassets", get(list_public_assets))
        .route("/archivist/v2/publicassets/{id}", get(read_public_asset))
        .route(
            "/archivist/v2/publicassets/{id}/events",
            get(list_public_events),
        )
        .route(
            "/archivist/v2/publicassets/{id}/events/{eid}",
            get(read_public_event),
        )
        .route(
            "/archivist/v1/blobs",
            post(upload_blob).layer(crate::problem::body_limit(BLOB_BYTES_MAX + 64 * 1024)),
        )
        .route("/archivist/v1/blobs/{id}", get(download_blob))
        .route("/archivist/v1/blobs/{id}/info", get(blob_info))
        .route(
            "/archivist/v2/locations",
            get(list_items::<LOCATIONS>).post(create_item::<LOCATIONS>),
        )
        .route(
            "/archivist/v2/locations/{id}",
            get(read_item::<LOCATIONS>)
                .patch(update_item::<LOCATIONS>)
                .delete(delete_item::<LOCATIONS>),
        )
        .route(
            "/archivist/iam/v1/subjects",
            get(list_items::<SUBJECTS>).post(create_item::<SUBJECTS>),
        )
        .route(
            "/archivist/iam/v1/subjects/{id}",
            get(read_item::<SUBJECTS>)
                .patch(update_item::<SUBJECTS>)
                .delete(delete_item::<SUBJECTS>),
        )
        .route(
            "/archivist/iam/v1/access_policies",
            get(list_items::<ACCESS_POLICIES>).post(create_item::<ACCESS_POLICIES>),
        )
        .route(
            "/archivist/iam/v1/access_policies/{id}",
            get(read_item::<ACCESS_POLICIES>)
                .patch(update_item::<ACCESS_POLICIES>)
                .delete(delete_item::<ACCESS_POLICIES>),
        )
        .route(
            "/archivist/iam/v1/access_policies/{id}/assets",
            get(policy_assets),
        )
        .route(
            "/archivist/iam/v1/assets/{id}/access_policies",
            get(asset_policies),
        )
        .layer(crate::problem::body_limit(JSON_BODY_BYTES_MAX))
        .with_state(api)
        .merge(tokens)
}

// ---------------------------------------------------------------- errors

/// An error in DataTrails' shape: `{"code", "message", "details"}` (gRPC
/// status codes, as its gateway answers).
#[derive(Debug)]
pub struct ArchivistError {
    status: StatusCode,
    message: String,
    retry_after_s: Option<u64>,
}

impl ArchivistError {
    fn bad_request(message: impl Into<String>) -> Self {
        ArchivistError {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
            retry_after_s: None,
        }
    }
}

impl IntoResponse for ArchivistError {
    fn into_response(self) -> Response {
        let code = match self.status {
            StatusCode::BAD_REQUEST | StatusCode::PAYLOAD_TOO_LARGE => 3,
            StatusCode::NOT_FOUND => 5,
            StatusCode::FORBIDDEN => 7,
            StatusCode::UNAUTHORIZED => 16,
            StatusCode::SERVICE_UNAVAILABLE => 14,
            StatusCode::INSUFFICIENT_STORAGE => 8,
            StatusCode::CONFLICT => 6,
            _ => 13,
        };
        let mut response = (
            self.status,
            Json(json!({"code": code, "message": self.message, "details": []})),
        )
            .into_response();
        if let Some(s) = self.retry_after_s {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        response
    }
}

impl From<ServiceError> for ArchivistError {
    fn from(e: ServiceError) -> Self {
        let e = crate::twin_api::JsonError::from(e);
        let retry_after_s = e.retry_after_s();
        let (status, message) = e.parts();
        ArchivistError {
            status,
            message,
            retry_after_s,
        }
    }
}

type Res<T> = Result<T, ArchivistError>;

// ---------------------------------------------------------------- extraction

/// The node's base URL as the client addressed it (for `publicurl`).
fn base_url(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    format!("http://{host}")
}

/// A list request: its query pairs and whether only the count is asked
/// (`x-request-total-count: true`).
fn list_query(headers: &HeaderMap, raw: Option<&str>, allowed: &[&str]) -> Res<ListQuery> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw.unwrap_or(""))
        .map_err(|e| ArchivistError::bad_request(format!("query string: {e}")))?;
    let count_only = headers
        .get("x-request-total-count")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    Ok(ListQuery::parse(pairs, allowed, count_only)?)
}

/// A page as `{label: [...], "next_page_token"}`, or a count in
/// `x-total-count` with an empty page.
fn listing(label: &str, page: Listing) -> Response {
    let mut r =
        Json(json!({ label: page.items, "next_page_token": page.next_page_token })).into_response();
    if let Some(n) = page.total {
        r.headers_mut()
            .insert("x-total-count", HeaderValue::from(n));
    }
    r
}

fn parse_object(body: &[u8], what: &str) -> Res<Map<String, Value>> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(ArchivistError::bad_request(format!(
            "the {what} body must be a JSON object"
        ))),
        Err(e) => Err(ArchivistError::bad_request(format!(
            "the {what} body is not JSON: {e}"
        ))),
    }
}

/// [`Caller`] whose refusal is in DataTrails' error shape (`{"code": 16,
/// "message", "details"}`, gRPC's UNAUTHENTICATED), with the RFC 6750
/// challenge: DataTrails clients read that shape on every error.
pub struct ArchivistCaller(Caller);

/// [`MaybeCaller`] whose refusal is in DataTrails' error shape.
pub struct MaybeArchivistCaller(MaybeCaller);

fn datatrails_rejection(r: crate::oauth::BearerRejection) -> Response {
    let challenge = r.challenge();
    let mut response = ArchivistError {
        status: r.status(),
        message: r.message().to_string(),
        retry_after_s: None,
    }
    .into_response();
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, challenge);
    response
}

impl<S> axum::extract::FromRequestParts<S> for ArchivistCaller
where
    Arc<TokenEndpoint>: axum::extract::FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Response> {
        Caller::from_request_parts(parts, state)
            .await
            .map(ArchivistCaller)
            .map_err(datatrails_rejection)
    }
}

impl<S> axum::extract::FromRequestParts<S> for MaybeArchivistCaller
where
    Arc<TokenEndpoint>: axum::extract::FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Response> {
        MaybeCaller::from_request_parts(parts, state)
            .await
            .map(MaybeArchivistCaller)
            .map_err(datatrails_rejection)
    }
}

fn stakeholder(caller: &Caller) -> StakeholderId {
    StakeholderId(caller.0.stakeholder.clone())
}

// ---------------------------------------------------------------- assets

async fn create_asset(
    State(api): State<ArchivistApi>,
    ArchivistCaller(caller): ArchivistCaller,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Res<Json<Value>> {
    let asset = NewAsset::parse(parse_object(&body, "asset")?)?;
    let base = base_url(&headers);
    Ok(Json(
        api.service
            .create_asset(&stakeholder(&caller), asset, Some(&base))
            .await?,
    ))
}

async fn read_asset(
    State(api): State<ArchivistApi>,
    MaybeArchivistCaller(caller): MaybeArchivistCaller,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Res<Json<Value>> {
    let scope = Scope::Tenant(caller_id(&caller));
    let base = base_url(&headers);
    Ok(Json(api.service.read_asset(&scope, &id, Some(&base))?))
}

async fn read_public_asset(
    State(api): State<ArchivistApi>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Res<Json<Value>> {
    let base = base_url(&headers);
    Ok(Json(api.service.read_asset(
        &Scope::Public,
        &id,
        Some(&base),
    )?))
}

async fn list_assets(
    State(api): State<ArchivistApi>,
    MaybeArchivistCaller(caller): MaybeArchivistCaller,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Res<Response> {
    let q = list_query(&headers, q.as_deref(), ASSET_FILTERS)?;
    let scope = Scope::Tenant(caller_id(&caller));
    let base = base_url(&headers);
    let page = api.service.list_assets(&scope, &q, Some(&base))?;
    Ok(listing(scope.assets_label(), page))
}

async fn list_public_assets(
    State(api): State<ArchivistApi>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Res<Response> {
    let q = list_query(&headers, q.as_deref(), ASSET_FILTERS)?;
    let base = base_url(&headers);
    let page = api.service.list_assets(&Scope::Public, &q, Some(&base))?;
    Ok(listing(Scope::Public.assets_label(), page))
}

// ---------------------------------------------------------------- events

async fn create_event(
    State(api): State<ArchivistApi>,
    ArchivistCaller(caller): ArchivistCaller,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Res<Json<Value>> {
    let event = NewEvent::parse(parse_object(&body, "event")?)?;
    Ok(Json(
        api.service
            .create_event(&stakeholder(&caller), &id, event)
            .await?,
    ))
}

async fn read_event(
    State(api): State<ArchivistApi>,
    MaybeArchivistCaller(caller): MaybeArchivistCaller,
    Path((id, eid)): Path<(String, String)>,
) -> Res<Json<Value>> {
    let scope = Scope::Tenant(caller_id(&caller));
    Ok(Json(api.service.read_event(&scope, &id, &eid)?))
}

async fn read_public_event(
    State(api): State<ArchivistApi>,
    Path((id, eid)): Path<(String, String)>,
) -> Res<Json<Value>> {
    Ok(Json(api.service.read_event(&Scope::Public, &id, &eid)?))
}

async fn list_events(
    State(api): State<ArchivistApi>,
    MaybeArchivistCaller(caller): MaybeArchivistCaller,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Res<Response> {
    let q = list_query(&headers, q.as_deref(), EVENT_FILTERS)?;
    let scope = Scope::Tenant(caller_id(&caller));
    Ok(listing("events", api.service.list_events(&scope, &id, &q)?))
}

async fn list_public_events(
    State(api): State<ArchivistApi>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Res<Response> {
    let q = list_query(&headers, q.as_deref(), EVENT_FILTERS)?;
    Ok(listing(
        "events",
        api.service.list_events(&Scope::Public, &id, &q)?,
    ))
}

// ---------------------------------------------------------------- blobs

/// The form field `file` of a `multipart/form-data` upload: its media type
/// and bytes.
async fn file_part(
    multipart: Result<Multipart, MultipartRejection>,
) -> Res<(Option<String>, Vec<u8>)> {
    let bad = |why: String| ArchivistError::bad_request(format!("multipart body: {why}"));
    let mut multipart = multipart.map_err(|e| bad(e.body_text()))?;
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|e| bad(e.body_text()))?
    {
        if field.name() != Some("file") {
            continue;
        }
        let mime = field.content_type().map(str::to_string);
        let data = field.bytes().await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ArchivistError::from(ServiceError::too_large(format!(
                    "a blob holds at most {BLOB_BYTES_MAX} bytes"
                )))
            } else {
                bad(e.body_text())
            }
        })?;
        return Ok((mime, data.to_vec()));
    }
    Err(bad("the part must be the form field \"file\"".into()))
}

async fn upload_blob(
    State(api): State<ArchivistApi>,
    ArchivistCaller(caller): ArchivistCaller,
    multipart: Result<Multipart, MultipartRejection>,
) -> Res<Json<Value>> {
    let (mime, data) = file_part(multipart).await?;
    let info = api
        .service
        .upload_blob(&stakeholder(&caller), mime, data)
        .await?;
    Ok(Json(json!(info)))
}

async fn blob_info(
    State(api): State<ArchivistApi>,
    ArchivistCaller(caller): ArchivistCaller,
    Path(id): Path<String>,
) -> Res<Json<Value>> {
    Ok(Json(json!(api
        .service
        .blob_info(&stakeholder(&caller), &id)?)))
}

async fn download_blob(
    State(api): State<ArchivistApi>,
    ArchivistCaller(caller): ArchivistCaller,
    Path(id): Path<String>,
) -> Res<Response> {
    let blob = api
        .service
        .download_blob(&stakeholder(&caller), &id)
        .await?;
    let mime = HeaderValue::from_str(&blob.mime_type)
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    Ok(([(header::CONTENT_TYPE, mime)], blob.data).into_response())
}

// ---------------------------------------------------------------- configuration

const LOCATIONS: u8 = 0;
const SUBJECTS: u8 = 1;
const ACCESS_POLICIES: u8 = 2;

const fn collection(c: u8) -> Collection {
    match c {
        LOCATIONS => Collection::Locations,
        SUBJECTS => Collection::Subjects,
        _ => Collection::AccessPolicies,
    }
}

async fn create_item<const C: u8>(
    State(api): State<ArchivistApi>,
    ArchivistCaller(caller): ArchivistCaller,
    body: axum::body::Bytes,
) -> Res<Json<Value>> {
    let c = collection(C);
    let body = parse_object(&body, c.label())?;
    Ok(Json(
        api.service
            .create_item(&stakeholder(&caller), c, body)
            .await?,
    ))
}

async fn read_item<const C: u8>(
    State(api): State<ArchivistApi>,
    ArchivistCaller(caller): ArchivistCaller,
    Path(id): Path<String>,
) -> Res<Json<Value>> {
    let item = api
        .service
        .read_item(&stakeholder(&caller), collection(C), &id)?;
    Ok(Json(Value::Object(item)))
}

async fn update_item<const C: u8>(
    State(api): State<ArchivistApi>,
    ArchivistCaller(caller): ArchivistCaller,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Res<Json<Value>> {
    let c = collection(C);
    let patch = parse_object(&body, c.label())?;
    Ok(Json(
        api.service
            .update_item(&stakeholder(&caller), c, &id, patch)
            .await?,
    ))
}

async fn delete_item<const C: u8>(
    State(api): State<ArchivistApi>,
    ArchivistCaller(caller): ArchivistCaller,
    Path(id): Path<String>,
) -> Res<Json<Value>> {
    api.service
        .delete_item(&stakeholder(&caller), collection(C), &id)
        .await?;
    Ok(Json(json!({})))
}

async fn list_items<const C: u8>(
    State(api): State<ArchivistApi>,
    ArchivistCaller(caller): ArchivistCaller,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Res<Response> {
    let c = collection(C);
    let q = list_query(&headers, q.as_deref(), CONFIG_FILTERS)?;
    Ok(listing(
        c.label(),
        api.service.list_items(&stakeholder(&caller), c, &q)?,
    ))
}

async fn policy_assets(
    State(api): State<ArchivistApi>,
    ArchivistCaller(caller): ArchivistCaller,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Res<Response> {
    let q = list_query(&headers, q.as_deref(), ASSET_FILTERS)?;
    let base = base_url(&headers);
    let page = api
        .service
        .policy_assets(&stakeholder(&caller), &id, &q, Some(&base))?;
    Ok(listing("assets", page))
}

async fn asset_policies(
    State(api): State<ArchivistApi>,
    ArchivistCaller(caller): ArchivistCaller,
    Path(id): Path<String>,
) -> Res<Json<Value>> {
    let list = api.service.asset_policies(&stakeholder(&caller), &id)?;
    Ok(Json(
        json!({"access_policies": list, "next_page_token": ""}),
    ))
}

//! Suppressions of posture findings, under `/api/v1`:
//!
//! - `POST /api/v1/devices/{id}/suppressions`: the device's operator or
//!   owner accepts a rule's finding on it (or on a group), with a reason,
//!   until an expiry, or lifts such a suppression early; the service signs
//!   the `finding-suppressed` statement on the caller's behalf;
//! - `GET /api/v1/suppressions`: the suppressions the caller may see.
//!
//! Deliberately absent: every check and sharing decision (the service,
//! `service::suppressions`).

use std::sync::Arc;

use api_types::devices::{
    SuppressionRequest, SuppressionView, SuppressionsPage, SuppressionsQuery,
};
use api_types::Problem;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use service::suppressions::SuppressionService;

use crate::oauth::{Caller, MaybeCaller, TokenEndpoint, Unauthorized};
use crate::query::ApiQuery;
use crate::twin_api::{caller_id, ApiResult, JsonError};

/// Largest body of a suppression, in bytes (a reason is at most 1 KiB).
pub const SUPPRESSION_BODY_BYTES_MAX: usize = 16 * 1024;

/// The state of the suppression routes.
#[derive(Clone)]
pub struct SuppressionsApi {
    service: SuppressionService,
    tokens: Arc<TokenEndpoint>,
}

impl SuppressionsApi {
    /// The routes over `service`, authenticating with `tokens`.
    pub fn new(service: SuppressionService, tokens: Arc<TokenEndpoint>) -> SuppressionsApi {
        SuppressionsApi { service, tokens }
    }
}

impl axum::extract::FromRef<SuppressionsApi> for Arc<TokenEndpoint> {
    fn from_ref(api: &SuppressionsApi) -> Arc<TokenEndpoint> {
        api.tokens.clone()
    }
}

/// The suppression routes (mount at the root).
pub fn suppressions_router(api: SuppressionsApi) -> Router {
    Router::new()
        .route(
            "/api/v1/devices/{id}/suppressions",
            post(suppress).layer(crate::problem::body_limit(SUPPRESSION_BODY_BYTES_MAX)),
        )
        .route("/api/v1/suppressions", get(list_suppressions))
        .with_state(api)
}

#[utoipa::path(
    post,
    path = "/api/v1/devices/{id}/suppressions",
    tag = "devices",
    summary = "Suppress a posture rule's finding on a device (or a group) with a reason until an expiry, or lift a suppression",
    description = "The caller must be the device's operator or owner. The service signs a `finding-suppressed` statement on the caller's behalf (as the registry authority, with `on_behalf_of`) and registers it in the log; the device's twin keeps the latest per rule and scope, so a new one replaces the old. `lift: true` (without `expires_at`) ends the suppression now. A group suppression covers every device of the group on which the caller is operator or owner; the device must be in the group. The audit (`/posture`, `/findings`, the risk register) applies the suppressions in force.",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Device id")),
    request_body(content = SuppressionRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "The suppression as registered", body = SuppressionView),
        (status = 400, description = "Refused: an unknown rule, an empty reason, an expiry not in the future, a group the device is not in (the message says which)", body = Problem, content_type = "application/problem+json"),
        (status = 401, response = Unauthorized),
        (status = 403, description = "The caller is not the device's operator or owner", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such device (or not shared with the caller), or nothing in force to lift", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is too large", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Registered but not projected yet, or the log cannot append now", body = Problem, content_type = "application/problem+json"),
        (status = 507, description = "The log is read-only after a storage error", body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn suppress(
    State(api): State<SuppressionsApi>,
    caller: Caller,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> ApiResult<(StatusCode, Json<SuppressionView>)> {
    let req: SuppressionRequest = serde_json::from_slice(&body).map_err(|e| {
        JsonError::bad_request(format!(
            "expected {{\"rule\", \"reason\", \"expires_at\" | \"lift\": true, \"group\"?}}: {e}"
        ))
    })?;
    let who = twin::StakeholderId(caller.0.stakeholder.clone());
    let view = api.service.suppress(Some(who), &id, &req).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

#[utoipa::path(
    get,
    path = "/api/v1/suppressions",
    tag = "devices",
    summary = "The suppressions of posture findings the caller may see",
    description = "By default those in force now; `all=true` adds expired and lifted ones. Each names who suppressed, why, until when, and its log entry.",
    security((), ("bearer" = [])),
    params(SuppressionsQuery),
    responses(
        (status = 200, description = "The suppressions", body = SuppressionsPage),
        (status = 400, description = "A bad parameter, with a message saying which", body = Problem, content_type = "application/problem+json"),
        (status = 401, response = Unauthorized),
        (status = 503, description = "The read could not be recorded (Retry-After)", body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn list_suppressions(
    State(api): State<SuppressionsApi>,
    caller: MaybeCaller,
    ApiQuery(q): ApiQuery<SuppressionsQuery>,
) -> ApiResult<Json<SuppressionsPage>> {
    Ok(Json(api.service.list(caller_id(&caller), &q)?))
}

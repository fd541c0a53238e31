//! `POST /api/v1/risks/decisions`: a risk decision (accept, mitigate,
//! transfer, false positive) signed by the service on the caller's behalf,
//! for clients that hold no signing key (the dashboard). A caller with a key
//! signs the same statement itself and registers it through SCRAPI
//! (`sectwin risks decide`).
//!
//! Deliberately absent: every check (the service, `service::decisions`, and
//! the twin's rules).

use std::sync::Arc;

use api_types::dashboard::{DecisionRecorded, DecisionRequest};
use api_types::Problem;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use service::decisions::DecisionService;

use crate::oauth::{Caller, TokenEndpoint, Unauthorized};
use crate::twin_api::{ApiResult, JsonError};

/// Largest body of a decision, in bytes (a rationale is at most 1 KiB).
pub const DECISION_BODY_BYTES_MAX: usize = 16 * 1024;

/// The state of the decision route.
#[derive(Clone)]
pub struct DecisionsApi {
    service: DecisionService,
    tokens: Arc<TokenEndpoint>,
}

impl DecisionsApi {
    /// The route over `service`, authenticating with `tokens`.
    pub fn new(service: DecisionService, tokens: Arc<TokenEndpoint>) -> DecisionsApi {
        DecisionsApi { service, tokens }
    }
}

impl axum::extract::FromRef<DecisionsApi> for Arc<TokenEndpoint> {
    fn from_ref(api: &DecisionsApi) -> Arc<TokenEndpoint> {
        api.tokens.clone()
    }
}

/// The decision route (mount at the root).
pub fn decisions_router(api: DecisionsApi) -> Router {
    Router::new()
        .route(
            "/api/v1/risks/decisions",
            post(decide).layer(crate::problem::body_limit(DECISION_BODY_BYTES_MAX)),
        )
        .with_state(api)
}

#[utoipa::path(
    post,
    path = "/api/v1/risks/decisions",
    tag = "risks",
    summary = "Decide a risk (accept, mitigate, transfer, false positive), signed by the service on the caller's behalf",
    description = "The service signs a `risk-accepted`, `risk-mitigated`, `risk-transferred` or `risk-false-positive` statement about the risk's subject as the registry authority with `on_behalf_of` (the caller), registers it in the log and waits until the twins hold it. The twin's rules decide whether the caller may, exactly as for a statement it signs itself; the register shows the decision once rebuilt.",
    security(("bearer" = [])),
    request_body(content = DecisionRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "The registered statement", body = DecisionRecorded),
        (status = 400, description = "A bad field, or refused by the twin's rules (the message says which)", body = Problem, content_type = "application/problem+json"),
        (status = 401, response = Unauthorized),
        (status = 403, description = "The caller may not decide this subject's risks", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is too large", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Registered but not projected yet, or the log cannot append now", body = Problem, content_type = "application/problem+json"),
        (status = 507, description = "The log is read-only after a storage error", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub(crate) async fn decide(
    State(api): State<DecisionsApi>,
    caller: Caller,
    body: axum::body::Bytes,
) -> ApiResult<(StatusCode, Json<DecisionRecorded>)> {
    let req: DecisionRequest = serde_json::from_slice(&body).map_err(|e| {
        JsonError::bad_request(format!(
            "expected {{\"subject\", \"risk\", \"decision\": accept|mitigate|transfer|false_positive, \"rationale\", \"until\"?, \"to\"?}}: {e}"
        ))
    })?;
    let who = twin::StakeholderId(caller.0.stakeholder.clone());
    let recorded = api.service.record(Some(who), &req).await?;
    Ok((StatusCode::CREATED, Json(recorded)))
}

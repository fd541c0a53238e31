//! SSVC inputs as signed statements, under `/api/v1`:
//!
//! - `POST /api/v1/devices/{id}/ssvc`: the device's manufacturer says
//!   Exploitation, Automatable and Technical Impact of a vulnerability of
//!   its model, or its operator or owner says Mission & Well-being of the
//!   device or a group; the service signs it on the caller's behalf;
//! - `GET /api/v1/ssvc/{vulnerability}`: the inputs (disputed ones shown,
//!   not used) and the decision per model and inputs over the exposed
//!   devices the caller sees.
//!
//! Deliberately absent: every check and decision (`service::ssvc`).

use std::sync::Arc;

use api_types::ssvc::{SsvcInputRequest, SsvcInputView, SsvcView};
use api_types::Problem;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use service::ssvc::SsvcService;

use crate::oauth::{Caller, TokenEndpoint, Unauthorized};
use crate::twin_api::{ApiResult, JsonError};

/// Largest body of an SSVC input, in bytes.
pub const SSVC_BODY_BYTES_MAX: usize = 8 * 1024;

/// The state of the SSVC routes.
#[derive(Clone)]
pub struct SsvcApi {
    service: SsvcService,
    tokens: Arc<TokenEndpoint>,
}

impl SsvcApi {
    /// The routes over `service`, authenticating with `tokens`.
    pub fn new(service: SsvcService, tokens: Arc<TokenEndpoint>) -> SsvcApi {
        SsvcApi { service, tokens }
    }
}

impl axum::extract::FromRef<SsvcApi> for Arc<TokenEndpoint> {
    fn from_ref(api: &SsvcApi) -> Arc<TokenEndpoint> {
        api.tokens.clone()
    }
}

/// The SSVC routes (mount at the root).
pub fn ssvc_router(api: SsvcApi) -> Router {
    Router::new()
        .route(
            "/api/v1/devices/{id}/ssvc",
            post(assert_input).layer(crate::problem::body_limit(SSVC_BODY_BYTES_MAX)),
        )
        .route("/api/v1/ssvc/{vulnerability}", get(decisions))
        .with_state(api)
}

#[utoipa::path(
    post,
    path = "/api/v1/devices/{id}/ssvc",
    tag = "risks",
    summary = "Assert an SSVC input: the manufacturer's technical ones for a vulnerability of its model, or the operator's Mission & Well-being",
    description = "Signed on the caller's behalf as `ssvc-technical` (keyed by vulnerability; it holds for every device of the model) or `ssvc-mission` (keyed by group; the device, or every device of the group on which the caller is operator or owner). Like any claim it may be endorsed or disputed by its entry; a disputed input is not used.",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Device id")),
    request_body(content = SsvcInputRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "The input as registered", body = SsvcInputView),
        (status = 400, description = "Refused: an unknown value, both kinds at once, a group the device is not in", body = Problem, content_type = "application/problem+json"),
        (status = 401, response = Unauthorized),
        (status = 403, description = "The caller does not hold the role the input needs on the device", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such device (or not shared with the caller)", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub(crate) async fn assert_input(
    State(api): State<SsvcApi>,
    caller: Caller,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> ApiResult<(StatusCode, Json<SsvcInputView>)> {
    let req: SsvcInputRequest = serde_json::from_slice(&body).map_err(|e| {
        JsonError::bad_request(format!(
            "expected {{\"vulnerability\", \"exploitation\"?, \"automatable\"?, \"technical_impact\"?, \"rationale\"}} or {{\"mission_wellbeing\", \"group\"?, \"rationale\"}}: {e}"
        ))
    })?;
    let who = twin::StakeholderId(caller.0.stakeholder.clone());
    let view = api.service.assert(Some(who), &id, &req).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

#[utoipa::path(
    get,
    path = "/api/v1/ssvc/{vulnerability}",
    tag = "risks",
    summary = "The SSVC inputs of a vulnerability and CISA's decision per model and inputs over the exposed devices the caller sees",
    description = "Each decision point names its source: a stakeholder's statement (`ssvc-technical@<entry>`, `ssvc-mission@<entry>`), CISA's ADP values (`cisa-adp`), a known-exploited listing, or `assumed` (Mission & Well-being `medium`). Disputed statements are listed with who disputes them and are not used.",
    security(("bearer" = [])),
    params(("vulnerability" = String, Path, description = "The vulnerability id (as the register names it, or a CVE alias)")),
    responses(
        (status = 200, description = "Inputs and decisions", body = SsvcView),
        (status = 401, response = Unauthorized),
    ),
)]
pub(crate) async fn decisions(
    State(api): State<SsvcApi>,
    caller: Caller,
    Path(vulnerability): Path<String>,
) -> ApiResult<Json<SsvcView>> {
    let who = twin::StakeholderId(caller.0.stakeholder.clone());
    Ok(Json(api.service.decisions(Some(who), &vulnerability)?))
}

//! The verified roll-out under `/api/v1`:
//!
//! - `GET /api/v1/rollout/releases/{vendor}/{model}/{version}`: how far
//!   release `version` of `model:<vendor>/<model>` has reached the model's
//!   devices the caller may see;
//! - `GET /api/v1/rollout/vulnerabilities/{id}`: how far the fix of a
//!   vulnerability has reached the devices exposed to it.
//!
//! Deliberately absent: every decision (the service, `service::rollout`).
//! Both read the whole fleet, so they run on a blocking thread.

use std::sync::Arc;

use api_types::rollout::{RolloutQuery, RolloutView};
use api_types::Problem;
use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use service::rollout::RolloutViews;
use service::ServiceError;

use crate::oauth::{MaybeCaller, TokenEndpoint, Unauthorized};
use crate::query::ApiQuery;
use crate::twin_api::{caller_id, ApiResult, JsonError};

/// The state of the roll-out routes.
#[derive(Clone)]
pub struct RolloutApi {
    views: RolloutViews,
    tokens: Arc<TokenEndpoint>,
}

impl RolloutApi {
    /// The roll-out views, authenticating with `tokens`.
    pub fn new(views: RolloutViews, tokens: Arc<TokenEndpoint>) -> RolloutApi {
        RolloutApi { views, tokens }
    }
}

impl axum::extract::FromRef<RolloutApi> for Arc<TokenEndpoint> {
    fn from_ref(api: &RolloutApi) -> Arc<TokenEndpoint> {
        api.tokens.clone()
    }
}

/// The roll-out routes (mount at the root).
pub fn rollout_router(api: RolloutApi) -> Router {
    Router::new()
        .route(
            "/api/v1/rollout/releases/{vendor}/{model}/{version}",
            get(release),
        )
        .route("/api/v1/rollout/vulnerabilities/{id}", get(vulnerability))
        .with_state(api)
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ServiceError> + Send + 'static,
) -> ApiResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(JsonError::internal)?
        .map_err(JsonError::from)
}

#[utoipa::path(
    get,
    path = "/api/v1/rollout/releases/{vendor}/{model}/{version}",
    tag = "rollout",
    summary = "How far a firmware release has reached the model's devices, from the devices' own signed statements",
    description = "Counts the model's devices the caller may see (not decommissioned): patched (running the release or a later one not withdrawn), pending, stuck (the last update failed, or was attempted and never reported installed within an hour, or the device is still below the release `stuck_after_days` after its registration), and those running a release past its support end. The series counts patched devices day by day by the times of their install statements; time-to-fix runs from the release's registration to the device's first install of it or a later release. Each row names the log entry of the device's own statement it rests on.",
    security((), ("bearer" = [])),
    params(
        ("vendor" = String, Path, description = "The model subject's vendor part (`model:<vendor>/<model>`)"),
        ("model" = String, Path, description = "The model name"),
        ("version" = String, Path, description = "The release's version"),
        RolloutQuery,
    ),
    responses(
        (status = 200, description = "The roll-out", body = RolloutView),
        (status = 400, description = "A bad parameter, with a message saying which", body = Problem, content_type = "application/problem+json"),
        (status = 401, response = Unauthorized),
        (status = 404, description = "No such release", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The read could not be recorded (Retry-After)", body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn release(
    State(api): State<RolloutApi>,
    caller: MaybeCaller,
    Path((vendor, model, version)): Path<(String, String, String)>,
    ApiQuery(q): ApiQuery<RolloutQuery>,
) -> ApiResult<Json<RolloutView>> {
    let who = caller_id(&caller);
    let views = api.views.clone();
    Ok(Json(
        blocking(move || views.release(who, &vendor, &model, &version, &q)).await?,
    ))
}

#[utoipa::path(
    get,
    path = "/api/v1/rollout/vulnerabilities/{id}",
    tag = "rollout",
    summary = "How far the fix of a vulnerability has reached the devices exposed to it, from their own signed statements",
    description = "Per model with a release exposed to the vulnerability (the risk register's release risks): the devices the caller may see that ran an exposed release, measured against the nearest later release not exposed and every later one. Time-to-fix runs from when the device was exposed (the later of its first install of an exposed release and the day the vulnerability was known) to its install of the fix.",
    security((), ("bearer" = [])),
    params(
        ("id" = String, Path, description = "The vulnerability id (CVE, GHSA, ...)"),
        RolloutQuery,
    ),
    responses(
        (status = 200, description = "The roll-out", body = RolloutView),
        (status = 400, description = "A bad parameter, with a message saying which", body = Problem, content_type = "application/problem+json"),
        (status = 401, response = Unauthorized),
        (status = 404, description = "No firmware release is exposed to it", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The read could not be recorded (Retry-After)", body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn vulnerability(
    State(api): State<RolloutApi>,
    caller: MaybeCaller,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<RolloutQuery>,
) -> ApiResult<Json<RolloutView>> {
    let who = caller_id(&caller);
    let views = api.views.clone();
    Ok(Json(
        blocking(move || views.vulnerability(who, &id, &q)).await?,
    ))
}

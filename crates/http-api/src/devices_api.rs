//! What devices say about themselves, under `/api/v1`, and the node's
//! Prometheus metrics:
//!
//! - `GET /api/v1/devices/{id}/posture`: the device's latest report and the
//!   posture audit's findings on it;
//! - `GET /api/v1/findings`: the findings over every device the caller may
//!   see, filtered by rule and severity;
//! - `GET /api/v1/alarms`: what the devices' latest reports show that
//!   contradicts the log (firmware no release covers, a split view);
//! - `GET /api/v1/device-reports/stats`: the device channel's counters;
//! - `GET /metrics`: the same counters in the Prometheus text format.
//!
//! Deliberately absent: the audit and every sharing decision (the service,
//! `service::devices`), and MQTT (`device-channel`, which the node gives
//! as a function answering its counters).

use std::sync::Arc;

use api_types::devices::{
    AlarmsPage, DeviceChannelStats, DevicePostureView, FindingsPage, FindingsQuery,
};
use api_types::Problem;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use service::devices::DeviceViews;

use crate::oauth::{Caller, MaybeCaller, TokenEndpoint, Unauthorized};
use crate::query::ApiQuery;
use crate::twin_api::{caller_id, ApiResult};

/// The device channel's counters, and the same as Prometheus text.
pub type ChannelStats = Arc<dyn Fn() -> (DeviceChannelStats, String) + Send + Sync>;

/// The state of the device routes.
#[derive(Clone)]
pub struct DevicesApi {
    views: DeviceViews,
    tokens: Arc<TokenEndpoint>,
    stats: ChannelStats,
}

impl DevicesApi {
    /// The posture views, authenticating with `tokens`, with the counters
    /// of the node's device channel.
    pub fn new(views: DeviceViews, tokens: Arc<TokenEndpoint>, stats: ChannelStats) -> DevicesApi {
        DevicesApi {
            views,
            tokens,
            stats,
        }
    }
}

impl axum::extract::FromRef<DevicesApi> for Arc<TokenEndpoint> {
    fn from_ref(api: &DevicesApi) -> Arc<TokenEndpoint> {
        api.tokens.clone()
    }
}

/// The device routes (mount at the root).
pub fn devices_router(api: DevicesApi) -> Router {
    Router::new()
        .route("/api/v1/devices/{id}/posture", get(posture))
        .route("/api/v1/findings", get(findings))
        .route("/api/v1/alarms", get(alarms))
        .route("/api/v1/device-reports/stats", get(stats))
        .route("/metrics", get(metrics))
        .with_state(api)
}

#[utoipa::path(
    get,
    path = "/api/v1/devices/{id}/posture",
    tag = "devices",
    summary = "A device's latest signed report and the posture audit's findings on it",
    description = "Rules as data: OWASP IoT Top 10 (2018), ETSI EN 303 645 provisions that reported facts can check, AWS IoT Device Defender audit checks under their own names. Each finding carries its evidence: the report fields and context it rests on, and the report's counter.",
    security((), ("bearer" = [])),
    params(("id" = String, Path, description = "Device id")),
    responses(
        (status = 200, description = "The posture", body = DevicePostureView),
        (status = 401, response = Unauthorized),
        (status = 404, description = "No such device, or not shared with the caller", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The read could not be recorded (Retry-After)", body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn posture(
    State(api): State<DevicesApi>,
    caller: MaybeCaller,
    Path(id): Path<String>,
) -> ApiResult<Json<DevicePostureView>> {
    Ok(Json(api.views.posture(caller_id(&caller), &id)?))
}

#[utoipa::path(
    get,
    path = "/api/v1/findings",
    tag = "devices",
    summary = "Posture findings over every device the caller may see",
    description = "Fleet-wide checks (a certificate or client id shared by several devices) consider only devices the caller may see.",
    security((), ("bearer" = [])),
    params(FindingsQuery),
    responses(
        (status = 200, description = "The findings", body = FindingsPage),
        (status = 400, description = "A bad parameter, with a message saying which", body = Problem, content_type = "application/problem+json"),
        (status = 401, response = Unauthorized),
        (status = 503, description = "The read could not be recorded (Retry-After)", body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn findings(
    State(api): State<DevicesApi>,
    caller: MaybeCaller,
    ApiQuery(q): ApiQuery<FindingsQuery>,
) -> ApiResult<Json<FindingsPage>> {
    Ok(Json(api.views.findings(caller_id(&caller), &q)?))
}

#[utoipa::path(
    get,
    path = "/api/v1/alarms",
    tag = "devices",
    summary = "Alarms: what the devices' latest signed reports show that contradicts the log",
    description = "A firmware image that no release of the device's model covers (tampering), and a checkpoint the device verified that the log's history contradicts (a split view, with both checkpoints as evidence). Computed from the log alone.",
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "The alarms", body = AlarmsPage),
        (status = 400, description = "A parameter was given (this route takes none)", body = Problem, content_type = "application/problem+json"),
        (status = 401, response = Unauthorized),
        (status = 503, description = "The read could not be recorded (Retry-After)", body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn alarms(
    State(api): State<DevicesApi>,
    caller: MaybeCaller,
    ApiQuery(_): ApiQuery<api_types::risks::NoParameters>,
) -> ApiResult<Json<AlarmsPage>> {
    Ok(Json(api.views.alarms(caller_id(&caller))?))
}

#[utoipa::path(
    get,
    path = "/api/v1/device-reports/stats",
    tag = "devices",
    summary = "The device channel's counters: reports received, registered, and refused by reason",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The counters", body = DeviceChannelStats),
        (status = 401, response = Unauthorized),
    ),
)]
async fn stats(State(api): State<DevicesApi>, _caller: Caller) -> Json<DeviceChannelStats> {
    Json((api.stats)().0)
}

#[utoipa::path(
    get,
    path = "/metrics",
    tag = "meta",
    summary = "Prometheus metrics (text exposition format 0.0.4): the device channel's counters",
    responses((status = 200, description = "The metrics", body = String, content_type = "text/plain; version=0.0.4")),
)]
async fn metrics(State(api): State<DevicesApi>) -> impl IntoResponse {
    let text = (api.stats)().1;
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
}

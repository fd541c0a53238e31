//! What devices say about themselves, under `/api/v1`:
//!
//! - `GET /api/v1/devices/{id}/posture`: the device's latest report and the
//!   posture audit's findings on it;
//! - `GET /api/v1/findings`: the findings over every device the caller may
//!   see, filtered by rule and severity;
//! - `GET /api/v1/alarms`, `POST /api/v1/alarms/{device}/{alarm}/verification`:
//!   the detector's alarms and operators' verdicts on them (a true
//!   positive becomes an incident);
//! - `GET /api/v1/incidents`, `POST /api/v1/incidents/{entry}/status`,
//!   `POST /api/v1/incidents/{entry}/quarantine`: incidents, their life
//!   cycle, and the quarantine group;
//! - `GET`/`POST /api/v1/security-profiles`: Device Defender-style
//!   behaviours attached to devices;
//! - `GET /api/v1/device-reports/stats`: the device channel's counters
//!   (also in `/metrics`, [`crate::ops_api`]).
//!
//! Deliberately absent: the audit and every sharing decision (the service,
//! `service::devices`), and MQTT (`device-channel`, which the node gives
//! as a function answering its counters).

use std::sync::Arc;

use api_types::devices::{
    AlarmVerdict, AlarmsPage, AlarmsQuery, DeviceChannelStats, DevicePostureView, FindingsPage,
    FindingsQuery, IncidentUpdate, IncidentsPage, IncidentsQuery, ProfilesPage, QuarantineRequest,
    Registered, VerdictRecorded,
};
use api_types::Problem;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use service::alarms::AlarmViews;
use service::devices::DeviceViews;

use crate::oauth::{Caller, MaybeCaller, TokenEndpoint, Unauthorized};
use crate::query::ApiQuery;
use crate::twin_api::{caller_id, ApiResult, JsonError};

/// The device channel's counters.
pub type ChannelStats = Arc<dyn Fn() -> DeviceChannelStats + Send + Sync>;

/// The state of the device routes.
#[derive(Clone)]
pub struct DevicesApi {
    views: DeviceViews,
    alarms: AlarmViews,
    tokens: Arc<TokenEndpoint>,
    stats: ChannelStats,
}

impl DevicesApi {
    /// The posture views, authenticating with `tokens`, with the counters
    /// of the node's device channel.
    pub fn new(
        views: DeviceViews,
        alarms: AlarmViews,
        tokens: Arc<TokenEndpoint>,
        stats: ChannelStats,
    ) -> DevicesApi {
        DevicesApi {
            views,
            alarms,
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
        .route(
            "/api/v1/alarms/{device}/{alarm}/verification",
            post(verify_alarm),
        )
        .route("/api/v1/incidents", get(incidents))
        .route("/api/v1/incidents/{entry}/status", post(update_incident))
        .route("/api/v1/incidents/{entry}/quarantine", post(quarantine))
        .route(
            "/api/v1/security-profiles",
            get(profiles).post(publish_profile),
        )
        .route("/api/v1/device-reports/stats", get(stats))
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
    summary = "Alarms the devices' signed reports raised, as Device Defender's Detect raises them",
    description = "Built-in incident rules (firmware no release covers, AI model other than the endorsed one, new listening port or destination against the learned baseline, authentication-failure spike, firmware downgrade, device silent, split view of the log) and the behaviours of the security profiles covering each device. A function of the log: a reindex folds the same alarms. Each names the report that raised it (its receipt) and the facts it rests on.",
    security((), ("bearer" = [])),
    params(AlarmsQuery),
    responses(
        (status = 200, description = "The alarms", body = AlarmsPage),
        (status = 400, description = "A bad parameter, with a message saying which", body = Problem, content_type = "application/problem+json"),
        (status = 401, response = Unauthorized),
        (status = 503, description = "The read could not be recorded (Retry-After)", body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn alarms(
    State(api): State<DevicesApi>,
    caller: MaybeCaller,
    ApiQuery(q): ApiQuery<AlarmsQuery>,
) -> ApiResult<Json<AlarmsPage>> {
    Ok(Json(api.alarms.alarms(caller_id(&caller), &q)?))
}

fn body<T>(b: Result<Json<T>, JsonRejection>) -> ApiResult<T> {
    b.map(|Json(t)| t)
        .map_err(|e| JsonError::bad_request(e.body_text()))
}

#[utoipa::path(
    post,
    path = "/api/v1/alarms/{device}/{alarm}/verification",
    tag = "devices",
    summary = "An operator's verdict on an alarm, signed on the caller's behalf (alarm-verified); a true positive is also reported as an incident",
    security(("bearer" = [])),
    params(("device" = String, Path, description = "Device id"), ("alarm" = String, Path, description = "Alarm id, `<rule>@<entry>`")),
    request_body(content = AlarmVerdict, content_type = "application/json"),
    responses(
        (status = 201, description = "Registered", body = VerdictRecorded),
        (status = 400, description = "A bad verdict, with a message saying what", body = Problem, content_type = "application/problem+json"),
        (status = 401, response = Unauthorized),
        (status = 403, description = "The caller is not the device's operator, owner or maintainer", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such alarm, or not shared with the caller", body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn verify_alarm(
    State(api): State<DevicesApi>,
    caller: Caller,
    Path((device, alarm)): Path<(String, String)>,
    verdict: Result<Json<AlarmVerdict>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<VerdictRecorded>)> {
    let verdict = body(verdict)?;
    let who = twin::StakeholderId(caller.0.stakeholder.clone());
    let r = api.alarms.verify(&who, &device, &alarm, &verdict).await?;
    Ok((StatusCode::CREATED, Json(r)))
}

#[utoipa::path(
    get,
    path = "/api/v1/incidents",
    tag = "devices",
    summary = "Incidents on the devices the caller may see, with their life cycle",
    security((), ("bearer" = [])),
    params(IncidentsQuery),
    responses(
        (status = 200, description = "The incidents, newest first", body = IncidentsPage),
        (status = 400, description = "A bad parameter, with a message saying which", body = Problem, content_type = "application/problem+json"),
        (status = 401, response = Unauthorized),
        (status = 503, description = "The read could not be recorded (Retry-After)", body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn incidents(
    State(api): State<DevicesApi>,
    caller: MaybeCaller,
    ApiQuery(q): ApiQuery<IncidentsQuery>,
) -> ApiResult<Json<IncidentsPage>> {
    Ok(Json(api.alarms.incidents(caller_id(&caller), &q)?))
}

#[utoipa::path(
    post,
    path = "/api/v1/incidents/{entry}/status",
    tag = "devices",
    summary = "Acknowledge or resolve an incident (incident-updated, signed on the caller's behalf)",
    security(("bearer" = [])),
    params(("entry" = u64, Path, description = "The incident's incident-reported entry")),
    request_body(content = IncidentUpdate, content_type = "application/json"),
    responses(
        (status = 201, description = "Registered", body = Registered),
        (status = 400, description = "A bad status, with a message saying what", body = Problem, content_type = "application/problem+json"),
        (status = 401, response = Unauthorized),
        (status = 403, description = "The caller is not the device's operator, owner or maintainer", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such incident, or not shared with the caller", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The incident is resolved already", body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn update_incident(
    State(api): State<DevicesApi>,
    caller: Caller,
    Path(entry): Path<u64>,
    update: Result<Json<IncidentUpdate>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<Registered>)> {
    let update = body(update)?;
    let who = twin::StakeholderId(caller.0.stakeholder.clone());
    let r = api.alarms.update_incident(&who, entry, &update).await?;
    Ok((StatusCode::CREATED, Json(r)))
}

#[utoipa::path(
    post,
    path = "/api/v1/incidents/{entry}/quarantine",
    tag = "devices",
    summary = "Move an incident's device into the quarantine group (or out of it), as its owner",
    description = "An ownership-transferred statement keeping the device's parties, site and other groups, signed on the caller's behalf: the twin's rules decide who may (its owner). Security profiles and sharing policies can name the `quarantine` group.",
    security(("bearer" = [])),
    params(("entry" = u64, Path, description = "The incident's incident-reported entry")),
    request_body(content = QuarantineRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "Registered", body = Registered),
        (status = 400, description = "A bad request", body = Problem, content_type = "application/problem+json"),
        (status = 401, response = Unauthorized),
        (status = 403, description = "The caller is not the device's owner", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such incident, or not shared with the caller", body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn quarantine(
    State(api): State<DevicesApi>,
    caller: Caller,
    Path(entry): Path<u64>,
    request: Result<Json<QuarantineRequest>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<Registered>)> {
    let request = body(request)?;
    let who = twin::StakeholderId(caller.0.stakeholder.clone());
    let r = api.alarms.quarantine(&who, entry, &request).await?;
    Ok((StatusCode::CREATED, Json(r)))
}

#[utoipa::path(
    get,
    path = "/api/v1/security-profiles",
    tag = "devices",
    summary = "The security profiles in force, and why the detector cannot run one if it cannot",
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "The profiles", body = ProfilesPage),
        (status = 400, description = "A parameter was given (this route takes none)", body = Problem, content_type = "application/problem+json"),
        (status = 401, response = Unauthorized),
    ),
)]
async fn profiles(
    State(api): State<DevicesApi>,
    _caller: MaybeCaller,
    ApiQuery(_): ApiQuery<api_types::risks::NoParameters>,
) -> Json<ProfilesPage> {
    Json(api.alarms.profiles())
}

#[utoipa::path(
    post,
    path = "/api/v1/security-profiles",
    tag = "devices",
    summary = "Publish a security profile (security-profile, signed on the caller's behalf); the same id replaces the caller's earlier one",
    description = "`{\"id\":\"cameras\",\"devices\":{\"matching\":{\"models\":[\"CAM-9\"]}},\"behaviours\":[{\"name\":\"bytes-out\",\"metric\":\"all-bytes-out\",\"criteria\":{\"comparison_operator\":\"less-than-equals\",\"value\":{\"count\":100000}}}]}`. Behaviours use Device Defender's metric and operator names. A profile covers only devices the caller operates, owns or maintains, and reports after its entry.",
    security(("bearer" = [])),
    request_body(content = Object, content_type = "application/json"),
    responses(
        (status = 201, description = "Registered", body = Registered),
        (status = 400, description = "A profile the detector cannot run, with a message saying which behaviour and why", body = Problem, content_type = "application/problem+json"),
        (status = 401, response = Unauthorized),
    ),
)]
async fn publish_profile(
    State(api): State<DevicesApi>,
    caller: Caller,
    profile: Result<Json<serde_json::Value>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<Registered>)> {
    let profile = body(profile)?;
    let who = twin::StakeholderId(caller.0.stakeholder.clone());
    let r = api.alarms.publish_profile(&who, profile).await?;
    Ok((StatusCode::CREATED, Json(r)))
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
    Json((api.stats)())
}

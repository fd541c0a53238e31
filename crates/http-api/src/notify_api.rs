//! Notification subscriptions of the authenticated stakeholder, under
//! `/api/v1`:
//!
//! - `POST /api/v1/subscriptions`: `{"id", "webhook": {"url"}}` or
//!   `{"id", "mqtt": {"topic_prefix"}}`, optional `kinds`; a webhook's
//!   Standard Webhooks secret (`whsec_…`) is generated and returned once;
//! - `GET /api/v1/subscriptions`, `DELETE /api/v1/subscriptions/{id}`;
//! - `GET /api/v1/deliveries`: the caller's deliveries and their status.
//!
//! A stakeholder sees and changes only its own subscriptions; what each is
//! told was filtered by sharing policy before it was enqueued.
//!
//! Deliberately absent: delivery (crate `notify`) and deciding what to tell
//! (the node's notification pump over the risk register).

use api_types::notify::{
    self as wire, CreateSubscription, DeliveryList, DeliveryQuery, DeliveryView, SubscriptionList,
    SubscriptionTarget, SubscriptionView,
};
use api_types::Problem;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get};
use axum::{Json, Router};
use notify::{DeliveryFilter, DeliveryStatus, NotificationKind, Notifier, Subscription, Target};

use crate::oauth::{Caller, TokenEndpoint, Unauthorized};
use crate::query::ApiQuery;
use crate::twin_api::{ApiResult, JsonError};

/// The state of the subscription routes.
#[derive(Clone)]
pub struct NotifyApi {
    notifier: Notifier,
    tokens: std::sync::Arc<TokenEndpoint>,
}

impl NotifyApi {
    /// Subscriptions of `notifier`, authenticating with `tokens`.
    pub fn new(notifier: Notifier, tokens: std::sync::Arc<TokenEndpoint>) -> NotifyApi {
        NotifyApi { notifier, tokens }
    }
}

impl axum::extract::FromRef<NotifyApi> for std::sync::Arc<TokenEndpoint> {
    fn from_ref(api: &NotifyApi) -> std::sync::Arc<TokenEndpoint> {
        api.tokens.clone()
    }
}

/// The subscription routes (mount at the root).
pub fn notify_router(api: NotifyApi) -> Router {
    Router::new()
        .route("/api/v1/subscriptions", get(list).post(create))
        .route("/api/v1/subscriptions/{id}", delete(remove))
        .route("/api/v1/deliveries", get(deliveries))
        .with_state(api)
}

fn kind(k: wire::NotificationKind) -> NotificationKind {
    match k {
        wire::NotificationKind::NewVulnerableDevice => NotificationKind::NewVulnerableDevice,
        wire::NotificationKind::FixedFirmwareAvailable => NotificationKind::FixedFirmwareAvailable,
        wire::NotificationKind::DeadlineApproaching => NotificationKind::DeadlineApproaching,
        wire::NotificationKind::DeadlineOverdue => NotificationKind::DeadlineOverdue,
        wire::NotificationKind::VexChanged => NotificationKind::VexChanged,
        wire::NotificationKind::DeviceAlarm => NotificationKind::DeviceAlarm,
        wire::NotificationKind::Incident => NotificationKind::Incident,
        wire::NotificationKind::VexContradicted => NotificationKind::VexContradicted,
        wire::NotificationKind::NewPostureFinding => NotificationKind::NewPostureFinding,
        wire::NotificationKind::NowKnownExploited => NotificationKind::NowKnownExploited,
        wire::NotificationKind::ExploitationLikelier => NotificationKind::ExploitationLikelier,
        wire::NotificationKind::ReportCaseOpened => NotificationKind::ReportCaseOpened,
        wire::NotificationKind::ReportStageDue => NotificationKind::ReportStageDue,
        wire::NotificationKind::ReportStageOverdue => NotificationKind::ReportStageOverdue,
    }
}

fn wire_kind(k: NotificationKind) -> wire::NotificationKind {
    match k {
        NotificationKind::NewVulnerableDevice => wire::NotificationKind::NewVulnerableDevice,
        NotificationKind::FixedFirmwareAvailable => wire::NotificationKind::FixedFirmwareAvailable,
        NotificationKind::DeadlineApproaching => wire::NotificationKind::DeadlineApproaching,
        NotificationKind::DeadlineOverdue => wire::NotificationKind::DeadlineOverdue,
        NotificationKind::VexChanged => wire::NotificationKind::VexChanged,
        NotificationKind::DeviceAlarm => wire::NotificationKind::DeviceAlarm,
        NotificationKind::Incident => wire::NotificationKind::Incident,
        NotificationKind::VexContradicted => wire::NotificationKind::VexContradicted,
        NotificationKind::NewPostureFinding => wire::NotificationKind::NewPostureFinding,
        NotificationKind::NowKnownExploited => wire::NotificationKind::NowKnownExploited,
        NotificationKind::ExploitationLikelier => wire::NotificationKind::ExploitationLikelier,
        NotificationKind::ReportCaseOpened => wire::NotificationKind::ReportCaseOpened,
        NotificationKind::ReportStageDue => wire::NotificationKind::ReportStageDue,
        NotificationKind::ReportStageOverdue => wire::NotificationKind::ReportStageOverdue,
    }
}

fn subscription_view(s: &Subscription) -> SubscriptionView {
    let target = match &s.target {
        Target::Webhook { url, .. } => {
            SubscriptionTarget::Webhook(wire::WebhookTarget { url: url.clone() })
        }
        Target::Mqtt { topic_prefix } => SubscriptionTarget::Mqtt(wire::MqttTarget {
            topic_prefix: topic_prefix.clone(),
        }),
    };
    SubscriptionView {
        id: s.id.clone(),
        stakeholder: s.stakeholder.clone(),
        target,
        kinds: s.kinds.iter().copied().map(wire_kind).collect(),
        secret: None,
    }
}

fn delivery_view(d: &notify::DeliveryRecord) -> DeliveryView {
    DeliveryView {
        subscription: d.subscription.clone(),
        notification: d.notification.clone(),
        kind: wire_kind(d.kind),
        stakeholder: d.stakeholder.clone(),
        message_id: d.message_id.clone(),
        attempts: d.attempts,
        status: match d.status {
            DeliveryStatus::Pending => wire::DeliveryStatus::Pending,
            DeliveryStatus::Delivered => wire::DeliveryStatus::Delivered,
            DeliveryStatus::Failed => wire::DeliveryStatus::Failed,
        },
        last_error: d.last_error.clone(),
        next_attempt_unix_ms: d.next_attempt_unix_ms,
        delivered_unix_ms: d.delivered_unix_ms,
        enqueued_unix_ms: d.enqueued_unix_ms,
        seq: d.seq,
    }
}

#[utoipa::path(
    post,
    path = "/api/v1/subscriptions",
    tag = "notifications",
    summary = "Subscribe to notifications by webhook (Standard Webhooks; the whsec_ secret is answered once) or MQTT topic prefix",
    description = "Kinds: new-vulnerable-device, fixed-firmware-available, deadline-approaching, deadline-overdue, vex-changed, vex-contradicted, new-posture-finding, device-alarm, incident (none given: every kind). Ids are per stakeholder. What each subscriber is told was filtered by sharing policy before it was enqueued.",
    security(("bearer" = [])),
    request_body(content = CreateSubscription, content_type = "application/json"),
    responses(
        (status = 201, description = "The subscription (and a webhook's secret)", body = SubscriptionView),
        (status = 400, description = "A bad body or target, with a message saying which", body = Problem, content_type = "application/problem+json"),
        (status = 401, response = Unauthorized),
        (status = 503, description = "The outbox cannot write now; nothing was changed", body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn create(
    State(api): State<NotifyApi>,
    caller: Caller,
    body: axum::body::Bytes,
) -> ApiResult<(StatusCode, Json<SubscriptionView>)> {
    let who = caller.0.stakeholder.clone();
    let body: CreateSubscription = serde_json::from_slice(&body).map_err(|e| {
        JsonError::bad_request(format!(
            "expected {{\"id\", \"webhook\": {{\"url\"}} | \"mqtt\": {{\"topic_prefix\"}}, \"kinds\"?}}: {e}"
        ))
    })?;
    // Ids are per stakeholder: the same id of another stakeholder is
    // another subscription, and nothing here tells that it exists.
    let (target, secret) =
        match (body.webhook, body.mqtt) {
            (Some(w), None) => {
                let secret = notify::WebhookSecret::generate();
                let text = secret.to_whsec();
                (Target::Webhook { url: w.url, secret }, Some(text))
            }
            (None, Some(m)) => (
                Target::Mqtt {
                    topic_prefix: m.topic_prefix,
                },
                None,
            ),
            _ => return Err(JsonError::bad_request(
                "give exactly one target: \"webhook\": {\"url\"} or \"mqtt\": {\"topic_prefix\"}",
            )),
        };
    let sub = Subscription {
        id: body.id,
        stakeholder: who,
        target,
        kinds: body.kinds.into_iter().map(kind).collect(),
    };
    api.notifier.subscribe(sub.clone()).map_err(|e| match e {
        notify::NotifyError::Storage(_) => storage_error(&e),
        other => JsonError::bad_request(other.to_string()),
    })?;
    let out = SubscriptionView {
        secret,
        ..subscription_view(&sub)
    };
    Ok((StatusCode::CREATED, Json(out)))
}

/// A write to the outbox failed (a full disk): the outbox reopens itself on
/// the next write, so this is worth retrying.
fn storage_error(e: &notify::NotifyError) -> JsonError {
    tracing::error!(error = %e, "the notification outbox refused a write");
    JsonError::storage_unavailable(format!(
        "{e}; nothing was changed: retry once the node's storage is back"
    ))
}

#[utoipa::path(
    get,
    path = "/api/v1/subscriptions",
    tag = "notifications",
    summary = "The caller's notification subscriptions",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The subscriptions", body = SubscriptionList),
        (status = 401, response = Unauthorized),
    ),
)]
async fn list(State(api): State<NotifyApi>, caller: Caller) -> Json<SubscriptionList> {
    let subs = api.notifier.subscriptions(Some(&caller.0.stakeholder));
    Json(SubscriptionList {
        subscriptions: subs.iter().map(subscription_view).collect(),
    })
}

#[utoipa::path(
    delete,
    path = "/api/v1/subscriptions/{id}",
    tag = "notifications",
    summary = "Remove one of the caller's subscriptions",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The subscription's id")),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, response = Unauthorized),
        (status = 404, description = "Not one of the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The outbox cannot write now; nothing was changed", body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn remove(
    State(api): State<NotifyApi>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let removed = api
        .notifier
        .unsubscribe(&caller.0.stakeholder, &id)
        .map_err(|e| storage_error(&e))?;
    if !removed {
        return Err(JsonError::not_found(format!(
            "you have no subscription {id:?}"
        )));
    }
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    get,
    path = "/api/v1/deliveries",
    tag = "notifications",
    summary = "The caller's notification deliveries and their status",
    security(("bearer" = [])),
    params(DeliveryQuery),
    responses(
        (status = 200, description = "The deliveries", body = DeliveryList),
        (status = 400, description = "An unknown parameter or a bad status, with a message saying which", body = Problem, content_type = "application/problem+json"),
        (status = 401, response = Unauthorized),
        (status = 503, description = "The outbox cannot be read now (a shared store out of reach)", body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn deliveries(
    State(api): State<NotifyApi>,
    caller: Caller,
    ApiQuery(q): ApiQuery<DeliveryQuery>,
) -> ApiResult<Json<DeliveryList>> {
    let status = q.status.map(|s| match s {
        wire::DeliveryStatus::Pending => DeliveryStatus::Pending,
        wire::DeliveryStatus::Delivered => DeliveryStatus::Delivered,
        wire::DeliveryStatus::Failed => DeliveryStatus::Failed,
    });
    let list = api
        .notifier
        .try_deliveries(DeliveryFilter {
            stakeholder: Some(caller.0.stakeholder.clone()),
            status,
            ..DeliveryFilter::default()
        })
        .map_err(|e| {
            tracing::error!(error = %e, "the notification outbox could not be read");
            JsonError::storage_unavailable(format!("{e}; retry once the store is back"))
        })?;
    Ok(Json(DeliveryList {
        deliveries: list.iter().map(delivery_view).collect(),
    }))
}

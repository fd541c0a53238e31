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

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{delete, get};
use axum::{Json, Router};
use notify::{DeliveryFilter, DeliveryStatus, NotificationKind, Notifier, Subscription, Target};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::oauth::{Caller, TokenEndpoint};
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WebhookBody {
    url: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MqttBody {
    topic_prefix: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    id: String,
    #[serde(default)]
    webhook: Option<WebhookBody>,
    #[serde(default)]
    mqtt: Option<MqttBody>,
    #[serde(default)]
    kinds: Vec<NotificationKind>,
}

fn subscription_json(s: &Subscription) -> Value {
    let target = match &s.target {
        Target::Webhook { url, .. } => json!({"webhook": {"url": url}}),
        Target::Mqtt { topic_prefix } => json!({"mqtt": {"topic_prefix": topic_prefix}}),
    };
    json!({
        "id": s.id,
        "stakeholder": s.stakeholder,
        "target": target,
        "kinds": s.kinds,
    })
}

async fn create(
    State(api): State<NotifyApi>,
    caller: Caller,
    body: axum::body::Bytes,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let who = caller.0.stakeholder.clone();
    let body: CreateBody = serde_json::from_slice(&body).map_err(|e| {
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
        kinds: body.kinds,
    };
    api.notifier.subscribe(sub.clone()).map_err(|e| match e {
        notify::NotifyError::Storage(_) => storage_error(&e),
        other => JsonError::bad_request(other.to_string()),
    })?;
    let mut out = subscription_json(&sub);
    if let Some(secret) = secret {
        out["secret"] = json!(secret);
    }
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

async fn list(State(api): State<NotifyApi>, caller: Caller) -> Json<Value> {
    let subs = api.notifier.subscriptions(Some(&caller.0.stakeholder));
    Json(json!({"subscriptions": subs.iter().map(subscription_json).collect::<Vec<_>>()}))
}

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

async fn deliveries(
    State(api): State<NotifyApi>,
    caller: Caller,
    Query(q): Query<BTreeMap<String, String>>,
) -> ApiResult<Json<Value>> {
    let status = match q.get("status").map(String::as_str) {
        None => None,
        Some("pending") => Some(DeliveryStatus::Pending),
        Some("delivered") => Some(DeliveryStatus::Delivered),
        Some("failed") => Some(DeliveryStatus::Failed),
        Some(other) => {
            return Err(JsonError::bad_request(format!(
                "status must be pending, delivered or failed, not {other:?}"
            )))
        }
    };
    let list = api.notifier.deliveries(DeliveryFilter {
        stakeholder: Some(caller.0.stakeholder.clone()),
        status,
        ..DeliveryFilter::default()
    });
    Ok(Json(json!({"deliveries": list})))
}

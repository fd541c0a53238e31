//! The notification subscriptions of the authenticated stakeholder and their
//! deliveries, under `/api/v1`.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// The kinds of notification.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum NotificationKind {
    /// A device became vulnerable.
    NewVulnerableDevice,
    /// A fixed firmware is available for an exposed device.
    FixedFirmwareAvailable,
    /// A remediation deadline is approaching.
    DeadlineApproaching,
    /// A remediation deadline has passed.
    DeadlineOverdue,
    /// A VEX statement changed.
    VexChanged,
    /// A device's reports raised an alarm.
    DeviceAlarm,
    /// An incident was reported on a device, or moved on.
    Incident,
    /// Devices contradict a `not_affected` VEX statement the recipient
    /// signed (a device condition of it is false in their reports).
    VexContradicted,
    /// A posture audit finding on a device is newly open.
    NewPostureFinding,
    /// A vulnerability the fleet is exposed to is now on a known-exploited
    /// list (a new KEV entry).
    NowKnownExploited,
    /// The EPSS score of a vulnerability the fleet is exposed to jumped (a
    /// rise of at least 0.1, or a crossing of 0.1).
    ExploitationLikelier,
    /// A CRA report case was opened on the recipient, a manufacturer (a
    /// known-exploited list, a stakeholder or an incident).
    ReportCaseOpened,
    /// A stage of a CRA report (early warning, notification, final report)
    /// is due soon.
    ReportStageDue,
    /// A stage of a CRA report is past its deadline.
    ReportStageOverdue,
}

/// A webhook target (Standard Webhooks).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookTarget {
    /// Where to POST (a public address unless the node allows private ones).
    pub url: String,
}

/// An MQTT target: topics `{topic_prefix}/{stakeholder}/{kind}`, QoS 1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MqttTarget {
    /// The topic prefix.
    pub topic_prefix: String,
}

/// `POST /api/v1/subscriptions`: exactly one of `webhook` and `mqtt`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSubscription {
    /// The subscription's id (per stakeholder).
    pub id: String,
    /// A webhook target.
    #[serde(default)]
    pub webhook: Option<WebhookTarget>,
    /// An MQTT target.
    #[serde(default)]
    pub mqtt: Option<MqttTarget>,
    /// The kinds to be told of (default: every kind).
    #[serde(default)]
    pub kinds: Vec<NotificationKind>,
}

/// Where a subscription's notifications go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SubscriptionTarget {
    /// A webhook (its secret is never shown again).
    Webhook(WebhookTarget),
    /// An MQTT topic prefix.
    Mqtt(MqttTarget),
}

/// A subscription.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SubscriptionView {
    /// Its id.
    pub id: String,
    /// The kinds it is told of (empty: every kind).
    pub kinds: Vec<NotificationKind>,
    /// A new webhook's Standard Webhooks secret (`whsec_…`): answered once,
    /// when it is created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// Its stakeholder (the caller).
    pub stakeholder: String,
    /// Where notifications go.
    pub target: SubscriptionTarget,
}

/// `GET /api/v1/subscriptions`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SubscriptionList {
    /// The caller's subscriptions.
    pub subscriptions: Vec<SubscriptionView>,
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum DeliveryStatus {
    /// Not yet acknowledged; attempted (again) at `next_attempt_unix_ms`.
    Pending,
    /// Acknowledged by the target (2xx or PUBACK).
    Delivered,
    /// Given up: permanent refusal, attempts exhausted, or subscription
    /// removed.
    Failed,
}

/// One (subscription, notification) delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DeliveryView {
    /// Attempts made so far.
    pub attempts: u32,
    /// When it was acknowledged, unix ms.
    pub delivered_unix_ms: Option<i64>,
    /// When it was enqueued, unix ms.
    pub enqueued_unix_ms: i64,
    /// The notification's kind.
    pub kind: NotificationKind,
    /// Why the last attempt did not succeed.
    pub last_error: Option<String>,
    /// The `webhook-id` (stable across retries); also logged for MQTT.
    pub message_id: String,
    /// When the next attempt is due (meaningful while pending), unix ms.
    pub next_attempt_unix_ms: i64,
    /// The notification id.
    pub notification: String,
    /// Enqueue order, increasing across restarts.
    pub seq: u64,
    /// The notification's stakeholder.
    pub stakeholder: String,
    /// Where it stands.
    pub status: DeliveryStatus,
    /// The subscription id.
    pub subscription: String,
}

/// `GET /api/v1/deliveries`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DeliveryList {
    /// The caller's deliveries.
    pub deliveries: Vec<DeliveryView>,
}

/// The query of `GET /api/v1/deliveries`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeliveryQuery {
    /// Only deliveries in this state.
    pub status: Option<DeliveryStatus>,
}

//! What is delivered, to whom, and how far each delivery got.
//!
//! [`Notification`] is the JSON body sent to every target, byte for byte as
//! serialised at enqueue time. [`Subscription`] says where a stakeholder wants
//! which kinds of notification. [`DeliveryRecord`] is the state of one
//! (subscription, notification) pair.
//!
//! Deliberately absent: any judgement about content (sharing policy, severity
//! thresholds); the producer filtered before enqueueing.

use serde::{Deserialize, Serialize};

use crate::secret::WebhookSecret;

/// One notification for one recipient stakeholder.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Notification {
    /// Stable dedupe key chosen by the producer, e.g.
    /// `new-vulnerable-device:dev-1:CVE-2024-1234`.
    pub id: String,
    /// What happened.
    pub kind: NotificationKind,
    /// The recipient stakeholder id.
    pub stakeholder: String,
    /// A device id or a firmware release (`model:acme/door-1@2.1.0`).
    pub subject: String,
    /// The vulnerability id, when there is one.
    pub vulnerability: Option<String>,
    /// The severity, when there is one.
    pub severity: Option<String>,
    /// The deadline, `YYYY-MM-DD`, when there is one.
    pub deadline: Option<String>,
    /// One human line.
    pub summary: String,
    /// Anything else.
    pub detail: serde_json::Value,
    /// When the producer created it, unix seconds.
    pub created_unix_s: i64,
}

/// The kinds of notification; serialised in kebab-case.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, Hash, PartialOrd, Ord)]
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
    /// A device's reports raised an alarm (detection).
    DeviceAlarm,
    /// An incident was reported on a device, or moved on.
    Incident,
    /// Devices contradict a `not_affected` VEX statement the recipient signed.
    VexContradicted,
    /// A posture audit finding on a device is newly open.
    NewPostureFinding,
    /// A vulnerability the fleet is exposed to is now on a known-exploited list.
    NowKnownExploited,
    /// The EPSS score of a vulnerability the fleet is exposed to jumped.
    ExploitationLikelier,
    /// A CRA report case was opened on the recipient (a manufacturer).
    ReportCaseOpened,
    /// A stage of a CRA report is due soon.
    ReportStageDue,
    /// A stage of a CRA report is past its deadline.
    ReportStageOverdue,
}

impl NotificationKind {
    /// Every kind, in declaration order.
    pub const ALL: [NotificationKind; 14] = [
        NotificationKind::NewVulnerableDevice,
        NotificationKind::FixedFirmwareAvailable,
        NotificationKind::DeadlineApproaching,
        NotificationKind::DeadlineOverdue,
        NotificationKind::VexChanged,
        NotificationKind::DeviceAlarm,
        NotificationKind::Incident,
        NotificationKind::VexContradicted,
        NotificationKind::NewPostureFinding,
        NotificationKind::NowKnownExploited,
        NotificationKind::ExploitationLikelier,
        NotificationKind::ReportCaseOpened,
        NotificationKind::ReportStageDue,
        NotificationKind::ReportStageOverdue,
    ];

    /// The kebab-case name, as in JSON and in MQTT topics.
    pub fn as_str(self) -> &'static str {
        match self {
            NotificationKind::NewVulnerableDevice => "new-vulnerable-device",
            NotificationKind::FixedFirmwareAvailable => "fixed-firmware-available",
            NotificationKind::DeadlineApproaching => "deadline-approaching",
            NotificationKind::DeadlineOverdue => "deadline-overdue",
            NotificationKind::VexChanged => "vex-changed",
            NotificationKind::DeviceAlarm => "device-alarm",
            NotificationKind::Incident => "incident",
            NotificationKind::VexContradicted => "vex-contradicted",
            NotificationKind::NewPostureFinding => "new-posture-finding",
            NotificationKind::NowKnownExploited => "now-known-exploited",
            NotificationKind::ExploitationLikelier => "exploitation-likelier",
            NotificationKind::ReportCaseOpened => "report-case-opened",
            NotificationKind::ReportStageDue => "report-stage-due",
            NotificationKind::ReportStageOverdue => "report-stage-overdue",
        }
    }
}

impl std::fmt::Display for NotificationKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where one subscription's notifications go.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Target {
    /// A Standard Webhooks POST to `url`, signed with `secret`.
    Webhook {
        /// `http` or `https` URL.
        url: String,
        /// The shared HMAC secret.
        secret: WebhookSecret,
    },
    /// A QoS 1 publish to `{topic_prefix}/{stakeholder}/{kind}` on the
    /// configured broker.
    Mqtt {
        /// Topic levels before the stakeholder; no wildcards.
        topic_prefix: String,
    },
}

/// A stakeholder's wish to receive some kinds of notification at a target.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Subscription {
    /// Unique id; subscribing again with the same id replaces it.
    pub id: String,
    /// The stakeholder whose notifications this receives.
    pub stakeholder: String,
    /// Where they go.
    pub target: Target,
    /// The kinds wanted; empty means all.
    pub kinds: Vec<NotificationKind>,
}

impl Subscription {
    /// Whether `n` goes to this subscription.
    pub fn matches(&self, n: &Notification) -> bool {
        self.stakeholder == n.stakeholder && (self.kinds.is_empty() || self.kinds.contains(&n.kind))
    }
}

/// Where a delivery stands.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "kebab-case")]
pub enum DeliveryStatus {
    /// Not yet acknowledged; will be attempted (again) at `next_attempt_unix_ms`.
    Pending,
    /// Acknowledged by the target (2xx or PUBACK).
    Delivered,
    /// Given up: permanent refusal, attempts exhausted, or subscription removed.
    Failed,
}

/// The state of one (subscription, notification) delivery.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct DeliveryRecord {
    /// The subscription id.
    pub subscription: String,
    /// The notification id.
    pub notification: String,
    /// The notification's kind.
    pub kind: NotificationKind,
    /// The notification's stakeholder.
    pub stakeholder: String,
    /// The `webhook-id` (stable across retries); also logged for MQTT.
    pub message_id: String,
    /// Attempts made so far.
    pub attempts: u32,
    /// Where it stands.
    pub status: DeliveryStatus,
    /// Why the last attempt did not succeed.
    pub last_error: Option<String>,
    /// When the next attempt is due (meaningful while pending), unix ms.
    pub next_attempt_unix_ms: i64,
    /// When it was acknowledged, unix ms.
    pub delivered_unix_ms: Option<i64>,
    /// When it was enqueued, unix ms.
    pub enqueued_unix_ms: i64,
    /// Enqueue order, increasing across restarts.
    pub seq: u64,
}

/// Which records [`crate::Notifier::deliveries`] lists; `None` matches all.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DeliveryFilter {
    /// Only this subscription.
    pub subscription: Option<String>,
    /// Only this stakeholder.
    pub stakeholder: Option<String>,
    /// Only this notification id.
    pub notification: Option<String>,
    /// Only this status.
    pub status: Option<DeliveryStatus>,
}

impl DeliveryFilter {
    /// Whether `r` passes.
    pub fn matches(&self, r: &DeliveryRecord) -> bool {
        self.subscription
            .as_ref()
            .is_none_or(|s| *s == r.subscription)
            && self
                .stakeholder
                .as_ref()
                .is_none_or(|s| *s == r.stakeholder)
            && self
                .notification
                .as_ref()
                .is_none_or(|n| *n == r.notification)
            && self.status.is_none_or(|s| s == r.status)
    }
}

/// What [`crate::Notifier::enqueue`] did with a batch.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct EnqueueReport {
    /// Notifications in the batch.
    pub notifications: usize,
    /// New deliveries written to the outbox.
    pub deliveries_new: usize,
    /// (subscription, notification) pairs already in the outbox (or twice in the batch).
    pub duplicates: usize,
    /// Notifications that matched no subscription.
    pub unrouted: usize,
}

//! Durable delivery of notifications to webhooks and MQTT.
//!
//! The vulnerability manager decides *what* each stakeholder is told (it has
//! already applied the stakeholder's sharing policy); this crate only makes
//! sure it *arrives*: every notification is fanned out to the matching
//! [`Subscription`]s of its recipient stakeholder, written to an outbox in a
//! fjall keyspace (durable before [`Notifier::enqueue`] returns) and delivered
//! at least once, with exponential back-off and full jitter, surviving
//! restarts.
//!
//! - [`secret`]: Standard Webhooks secrets (`whsec_…`) and signatures.
//! - [`model`]: notifications, subscriptions, targets and delivery records.
//! - [`notifier`]: the [`Notifier`] handle, its scheduler and retry policy.
//! - [`outbox`]: the store contract ([`OutboxStore`]), the embedded fjall
//!   outbox, and their durability contract.
//! - `webhook`, `mqtt` (private): one delivery attempt per transport.
//!
//! Deliberately absent: filtering by sharing policy (the producer's job),
//! exactly-once delivery (impossible over HTTP/MQTT; receivers dedupe on
//! `webhook-id` or the notification id), ordering between notifications, TLS
//! to the MQTT broker, and any HTTP server of its own.

pub mod address;
#[cfg(feature = "testing")]
pub mod conformance;
pub mod model;
mod mqtt;
pub mod notifier;
pub mod outbox;
pub mod secret;
mod webhook;

pub use model::{
    DeliveryFilter, DeliveryRecord, DeliveryStatus, EnqueueReport, Notification, NotificationKind,
    Subscription, Target,
};
pub use notifier::{
    DeliveryCounts, MqttConfig, Notifier, NotifierConfig, NotifyError, RetryPolicy, BODY_BYTES_MAX,
    DELIVERED_RECORDS_MAX, DELIVERIES_IN_FLIGHT_MAX, DELIVERIES_PENDING_MAX, ID_BYTES_MAX,
    SHARED_REFRESH_MS, SUBSCRIPTIONS_MAX, SUBSCRIPTION_IN_FLIGHT_MAX,
};
pub use outbox::{Outbox, OutboxError, OutboxStore};
pub use secret::{SecretError, WebhookSecret};

/// The `user-agent` header of every webhook request: `sectwin/<version>`.
pub const USER_AGENT: &str = concat!("sectwin/", env!("CARGO_PKG_VERSION"));

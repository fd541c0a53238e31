//! The topic scheme: a device publishes its reports on
//! `sectwin/devices/{id}/reports` (QoS 1, not retained), `{id}` being the
//! device id of its twin (the statement subject without `device:`).

/// The filter the ingester subscribes to.
pub const REPORTS_TOPIC_FILTER: &str = "sectwin/devices/+/reports";

const PREFIX: &str = "sectwin/devices/";
const SUFFIX: &str = "/reports";

/// The topic device `id` publishes its reports on.
pub fn reports_topic(id: &str) -> String {
    format!("{PREFIX}{id}{SUFFIX}")
}

/// The device id of a reports topic, if `topic` is one: one non-empty
/// level between the prefix and the suffix.
pub fn device_of_topic(topic: &str) -> Option<&str> {
    let id = topic.strip_prefix(PREFIX)?.strip_suffix(SUFFIX)?;
    (!id.is_empty() && !id.contains(['/', '+', '#'])).then_some(id)
}

//! What devices report and what the posture audit finds: views of
//! `/api/v1/devices/{id}/posture`, `/api/v1/findings` and the device
//! channel's counters.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// The latest report a device registered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ReportRef {
    /// Its log entry.
    pub entry: u64,
    /// Its counter.
    pub counter: u64,
    /// When the device made it, Unix seconds.
    pub timestamp: i64,
    /// Its receipt (`GET` it with `Accept: application/cose`).
    pub receipt: String,
    /// The report as the device signed it (null if the reader may not see
    /// it whole).
    #[schema(value_type = Object)]
    pub report: serde_json::Value,
}

/// A suppression: a `finding-suppressed` statement that accepts a posture
/// rule's finding on a device, or on a group of devices, with a reason,
/// until an expiry (`POST /api/v1/devices/{id}/suppressions`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SuppressionView {
    /// The rule whose findings it accepts.
    pub rule: String,
    /// The device it was asserted on.
    pub device: String,
    /// `device` (that device only) or `group`.
    pub scope: String,
    /// The group it covers (every device of it on which its issuer is
    /// operator or owner), with scope `group`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Why the finding is accepted.
    pub reason: String,
    /// Until when, Unix seconds (the finding is open again from then on).
    pub expires_at: i64,
    /// Whether it holds now (not expired, not lifted).
    pub in_force: bool,
    /// Who suppressed (the stakeholder in whose name it was signed).
    pub by: String,
    /// The registry authority, when the service signed on `by`'s behalf.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed_by: Option<String>,
    /// Its log entry.
    pub entry: u64,
    /// Its receipt (`GET` it with `Accept: application/cose`).
    pub receipt: String,
}

/// The body of `POST /api/v1/devices/{id}/suppressions`: suppress a rule's
/// finding on the device (or on a group of devices), or lift a suppression
/// early. The service signs a `finding-suppressed` statement on the
/// caller's behalf; the caller must be the device's operator or owner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SuppressionRequest {
    /// The rule id (of the node's posture rule library).
    pub rule: String,
    /// Why (1 to 1024 bytes, not blank).
    pub reason: String,
    /// Until when, Unix seconds: in the future (at most 10 years ahead).
    /// Leave it out to lift (`lift: true`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
    /// Cover every device of this group on which the caller is operator or
    /// owner, instead of the device alone (the device must be in it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Lift the suppression of this rule and scope now: a statement that
    /// expires when it is issued replaces it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lift: Option<bool>,
}

/// The query of `GET /api/v1/suppressions`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SuppressionsQuery {
    /// Only those asserted on this device.
    pub device: Option<String>,
    /// Only those of this rule.
    pub rule: Option<String>,
    /// Expired and lifted ones too (default: those in force only).
    pub all: Option<bool>,
}

/// The suppressions the caller may see (`GET /api/v1/suppressions`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SuppressionsPage {
    /// By device, then rule, then group.
    pub suppressions: Vec<SuppressionView>,
    /// The log size the twins reflect.
    pub as_of: u64,
}

/// A posture audit rule that fired on a device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct FindingView {
    /// The rule id (an AWS IoT Device Defender check name where one
    /// applies, e.g. `LOGGING_DISABLED_CHECK`).
    pub rule: String,
    /// The rule's title.
    pub title: String,
    /// `critical`, `high`, `medium`, `low` or `none`.
    pub severity: String,
    /// The rule's CVSS vector, if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cvss: Option<String>,
    /// The device.
    pub device: String,
    /// What to do.
    pub mitigation: String,
    /// OWASP IoT Top 10, ETSI EN 303 645 and Device Defender references.
    pub references: Vec<String>,
    /// The report fields and context the finding rests on.
    #[schema(value_type = Object)]
    pub evidence: serde_json::Value,
    /// The rule file and its version.
    pub rules: String,
    /// The suppression in force, if any (who suppressed, why, until when,
    /// and its entry).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suppressed: Option<SuppressionView>,
}

/// A device's posture: its latest report and the findings on it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DevicePostureView {
    /// The device.
    pub device: String,
    /// Its latest report, if it has reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report: Option<ReportRef>,
    /// Why the latest report could not be audited, if it could not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unreadable: Option<String>,
    /// The findings, in rule order.
    pub findings: Vec<FindingView>,
    /// The log size the twins reflect.
    pub as_of: u64,
}

/// The query of `GET /api/v1/findings`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FindingsQuery {
    /// Only findings of this rule.
    pub rule: Option<String>,
    /// Only findings at least this severe (`low`, `medium`, `high`,
    /// `critical`).
    pub severity: Option<String>,
    /// Suppressed findings too (default: open ones only).
    pub suppressed: Option<bool>,
}

/// Findings over the devices the reader may see.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct FindingsPage {
    /// The findings, by device then rule.
    pub findings: Vec<FindingView>,
    /// Devices audited (those with a readable report the reader may see).
    pub devices_audited: u64,
    /// Open findings by severity, over everything audited.
    pub open_by_severity: BTreeMap<String, u64>,
    /// The log size the twins reflect.
    pub as_of: u64,
}

/// The device channel's counters (`GET /api/v1/device-reports/stats`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DeviceChannelStats {
    /// Whether this node runs a device report ingester.
    pub enabled: bool,
    /// Whether it is connected to its broker.
    pub connected: bool,
    /// Messages received on the reports topics.
    pub received: u64,
    /// Reports registered in the log.
    pub accepted: u64,
    /// Reports refused, by reason (`unknown_device`, `unsigned`,
    /// `bad_signature`, `subject_mismatch`, `malformed`, `oversized`,
    /// `decommissioned`, `replayed`, `duplicate`, `stale`,
    /// `from_the_future`).
    pub rejected: BTreeMap<String, u64>,
}

/// An alarm: what a device's latest report shows that contradicts the log
/// (a firmware image no release covers, an AI model that is not the
/// endorsed one, a checkpoint the log's history contradicts).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AlarmView {
    /// `firmware_not_released` or `split_view` (more kinds to come:
    /// `ai_model_substituted`, `firmware_below_minimum`, ...).
    pub kind: String,
    /// What it means.
    pub title: String,
    /// `critical`, `high` or `medium`.
    pub severity: String,
    /// The device.
    pub device: String,
    /// OWASP IoT Top 10, ETSI EN 303 645, CWE and MITRE ATLAS references.
    pub references: Vec<String>,
    /// The report fields and the log's facts it rests on.
    #[schema(value_type = Object)]
    pub evidence: serde_json::Value,
    /// The report's log entry.
    pub report_entry: u64,
    /// `unknown` until an operator verifies it.
    pub verification: String,
}

/// The alarms over the devices the reader may see (`GET /api/v1/alarms`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AlarmsPage {
    /// The alarms, by device then kind.
    pub alarms: Vec<AlarmView>,
    /// Devices checked (those with a readable report the reader may see).
    pub devices_checked: u64,
    /// The log size the twins reflect.
    pub as_of: u64,
}

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

/// An alarm: a rule that held on a device's signed reports (a built-in
/// incident rule, or a behaviour of a security profile that covers the
/// device).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AlarmView {
    /// `<rule>@<entry of the report that raised it>`: what a verdict names.
    pub id: String,
    /// The rule: `firmware-not-released`, `ai-model-substituted`,
    /// `new-listening-port`, `new-destination`, `auth-failure-spike`,
    /// `firmware-downgrade`, `device-silent`, `split-view`, or
    /// `profile:<owner>/<profile>/<behaviour>`.
    pub rule: String,
    /// What it means.
    pub title: String,
    /// `critical`, `high` or `medium`.
    pub severity: String,
    /// The device.
    pub device: String,
    /// OWASP IoT Top 10, ETSI EN 303 645, CWE and MITRE ATLAS references.
    pub references: Vec<String>,
    /// The report fields and the context it rests on.
    #[schema(value_type = Object)]
    pub evidence: serde_json::Value,
    /// `active` or `cleared`.
    pub state: String,
    /// The entry of the report that raised it (its receipt: `/entries/{n}`).
    pub report_entry: u64,
    /// That report's timestamp, Unix seconds.
    pub raised_at: i64,
    /// The latest report on which the rule held.
    pub last_entry: u64,
    /// The report that cleared it, if cleared.
    pub cleared_entry: Option<u64>,
    /// `unknown`, `true-positive`, `benign-positive` or `false-positive`.
    pub verification: String,
    /// Who verified it, if anyone.
    pub verified_by: Option<String>,
    /// The verdict's entry.
    pub verified_entry: Option<u64>,
    /// The verdict's note.
    pub verification_note: Option<String>,
    /// The incident that confirms it (its `incident-reported` entry).
    pub incident: Option<u64>,
}

/// The alarms over the devices the reader may see (`GET /api/v1/alarms`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AlarmsPage {
    /// The alarms, by device, active first.
    pub alarms: Vec<AlarmView>,
    /// Devices checked (those with a report the reader may see).
    pub devices_checked: u64,
    /// The log size the detector has folded.
    pub as_of: u64,
}

/// Filters of `GET /api/v1/alarms`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams, ToSchema)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AlarmsQuery {
    /// Only this device's.
    pub device: Option<String>,
    /// `active` (the default), `cleared` or `all`.
    pub state: Option<String>,
    /// Only this rule's (a profile's rules by prefix: `profile:op/cams`).
    pub rule: Option<String>,
}

/// An operator's verdict on an alarm (`POST /api/v1/alarms/{device}/{id}/verification`),
/// signed by the service on the caller's behalf. `true-positive` also
/// reports an incident (`incident-reported`, naming the alarm).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AlarmVerdict {
    /// `true-positive`, `benign-positive`, `false-positive` or `unknown`.
    pub verification: String,
    /// Why.
    pub note: Option<String>,
}

/// What a verdict registered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct VerdictRecorded {
    /// The `alarm-verified` entry.
    pub entry: u64,
    /// The `incident-reported` entry, for a true positive.
    pub incident: Option<u64>,
}

/// One step of an incident's life cycle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct IncidentStepView {
    /// Its entry.
    pub entry: u64,
    /// Who.
    pub by: String,
    /// `acknowledged` or `resolved`.
    pub status: String,
    /// Why.
    pub note: Option<String>,
}

/// An incident (`incident-reported`) and its life cycle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct IncidentView {
    /// Its `incident-reported` entry (its id).
    pub entry: u64,
    /// The device.
    pub device: String,
    /// Who reported it.
    pub reported_by: String,
    /// Severity.
    pub severity: String,
    /// What happened.
    pub summary: String,
    /// The alarm it confirms, if any.
    pub alarm: Option<String>,
    /// `open`, `acknowledged` or `resolved`.
    pub status: String,
    /// Its steps, in log order.
    pub steps: Vec<IncidentStepView>,
    /// Whether the device is in the quarantine group now.
    pub quarantined: bool,
}

/// The incidents over the devices the reader may see.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct IncidentsPage {
    /// The incidents, newest first.
    pub incidents: Vec<IncidentView>,
    /// The log size the detector has folded.
    pub as_of: u64,
}

/// Filters of `GET /api/v1/incidents`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams, ToSchema)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct IncidentsQuery {
    /// Only this device's.
    pub device: Option<String>,
    /// `open`, `acknowledged`, `resolved`, or `unresolved` (open or
    /// acknowledged); all when absent.
    pub status: Option<String>,
}

/// A step of an incident (`POST /api/v1/incidents/{entry}/status`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IncidentUpdate {
    /// `acknowledged` or `resolved`.
    pub status: String,
    /// Why.
    pub note: Option<String>,
}

/// A mitigation of an incident (`POST /api/v1/incidents/{entry}/quarantine`):
/// the device moves into the `quarantine` group (an `ownership-transferred`
/// statement keeping its owner, operator, maintainer and site, signed on
/// the caller's behalf, so only its owner may), or out of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuarantineRequest {
    /// `true` (the default) to quarantine, `false` to release.
    pub quarantine: Option<bool>,
}

/// What a write registered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Registered {
    /// Its entry.
    pub entry: u64,
}

/// A security profile as the detector runs it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ProfileView {
    /// `<owner>/<id>`.
    pub key: String,
    /// Its publisher.
    pub owner: String,
    /// Its id.
    pub id: String,
    /// Its `security-profile` entry.
    pub entry: u64,
    /// The profile as published.
    #[schema(value_type = Object)]
    pub profile: serde_json::Value,
    /// Why the detector cannot run it, if it cannot.
    pub error: Option<String>,
}

/// The security profiles in force.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ProfilesPage {
    /// The profiles.
    pub profiles: Vec<ProfileView>,
}

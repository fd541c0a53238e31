//! SSVC inputs as signed statements and the decisions they give, per
//! vulnerability and device group (`/api/v1/devices/{id}/ssvc`,
//! `/api/v1/ssvc/{vulnerability}`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// An SSVC input a stakeholder asserts on a device
/// (`POST /api/v1/devices/{id}/ssvc`): the manufacturer's technical inputs
/// for a vulnerability (they hold for every device of the model), or the
/// operator's or owner's Mission & Well-being (for the device or a group).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SsvcInputRequest {
    /// The vulnerability (technical inputs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vulnerability: Option<String>,
    /// `none`, `poc` or `active` (manufacturer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exploitation: Option<String>,
    /// `yes` or `no` (manufacturer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub automatable: Option<String>,
    /// `partial` or `total` (manufacturer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub technical_impact: Option<String>,
    /// `low`, `medium` or `high` (operator or owner).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mission_wellbeing: Option<String>,
    /// For Mission & Well-being: every device of this group (the device
    /// must be in it) rather than the device alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Why (1 to 1024 bytes).
    pub rationale: String,
}

/// An input as the log holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SsvcInputView {
    /// Its log entry (endorse or dispute it by this).
    pub entry: u64,
    /// Its receipt.
    pub receipt: String,
    /// The device it is asserted on.
    pub device: String,
    /// Who says so.
    pub issuer: String,
    /// `technical` or `mission`.
    pub kind: String,
    /// The vulnerability (technical).
    pub vulnerability: Option<String>,
    /// The group (mission), if not the device alone.
    pub group: Option<String>,
    /// The decision points it sets, by name.
    pub values: BTreeMap<String, String>,
    /// Why.
    pub rationale: String,
    /// `agreed`, `claimed` or `disputed`.
    pub status: String,
    /// Who disputes it.
    pub disputed_by: Vec<String>,
}

/// The decision for the devices of one model with the same inputs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SsvcGroupDecision {
    /// The model.
    pub model: String,
    /// Exploitation, Automatable, Technical Impact, Mission & Well-being:
    /// each value with where it comes from (`ssvc-technical@<entry>`,
    /// `ssvc-mission@<entry>`, `cisa-adp`, `known-exploited`, `assumed`).
    pub inputs: BTreeMap<String, SsvcValue>,
    /// `Track`, `Track*`, `Attend`, `Act`, or none while an input is unknown.
    pub decision: Option<String>,
    /// Devices.
    pub devices: usize,
    /// Up to 20 of them.
    pub sample: Vec<String>,
}

/// A decision point's value and where it comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SsvcValue {
    /// The value.
    pub value: String,
    /// Its source.
    pub source: String,
}

/// The SSVC inputs and decisions of a vulnerability
/// (`GET /api/v1/ssvc/{vulnerability}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SsvcView {
    /// The vulnerability.
    pub vulnerability: String,
    /// Every statement about it (technical) and every Mission & Well-being
    /// covering an exposed device the caller sees, disputed ones included
    /// (they are shown, not used).
    pub inputs: Vec<SsvcInputView>,
    /// By model and inputs.
    pub decisions: Vec<SsvcGroupDecision>,
}

//! The EU Cyber Resilience Act's reporting under `/api/v1/cra`: report
//! cases for actively exploited vulnerabilities and severe incidents
//! (Art. 14), their stages and clocks, the drafts sectwin writes from the
//! twins, the exports for the reporting platform (JSON) and the fix (CSAF
//! 2.0), and the support periods manufacturers promise (Art. 13).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};

/// Open a report case (`POST /api/v1/cra/cases`). The manufacturer opens
/// one on itself; any other registered stakeholder reports an exploitation
/// or an incident of a manufacturer's product, which opens a case on that
/// manufacturer. The service signs `cra-case-opened` on the caller's behalf.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenCase {
    /// The manufacturer (stakeholder id) whose product it is.
    pub manufacturer: String,
    /// `vulnerability` or `incident`.
    pub kind: String,
    /// The vulnerability (a CVE or EUVD id), for a vulnerability case.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vulnerability: Option<String>,
    /// The products (model names); default: the manufacturer's models the
    /// register finds exposed to the vulnerability.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub products: Option<Vec<String>>,
    /// What the report rests on (at most 4 KiB).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<String>,
    /// The case id (default: the vulnerability id, or `incident-<n>`); a
    /// reporter's is followed by `:<reporter>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub case: Option<String>,
}

/// The manufacturer states when it became aware
/// (`POST /api/v1/cra/cases/{case}/awareness`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Awareness {
    /// Unix seconds; default now. Not in the future.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aware_at: Option<i64>,
}

/// The query naming a manufacturer (default: the caller).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CaseQuery {
    /// The manufacturer whose cases (default: the caller; the node's
    /// administrator may name any).
    pub manufacturer: Option<String>,
}

/// A statement of a case as the log holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CaseStamp {
    /// Its log entry.
    pub entry: u64,
    /// Its receipt (`GET` it).
    pub receipt: String,
    /// When it was issued (its `iat`, unix seconds).
    pub at: Option<i64>,
    /// Who made it.
    pub by: String,
}

/// One stage's clock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct StageView {
    /// `early-warning`, `notification`, `final-report`.
    pub stage: String,
    /// Its deadline (unix seconds), once it has one.
    pub due_at: Option<i64>,
    /// Its deadline, RFC 3339 UTC.
    pub due: Option<String>,
    /// What the deadline counts from.
    pub basis: String,
    /// `waiting`, `pending`, `due-soon`, `overdue`, `submitted`,
    /// `submitted-late`.
    pub status: String,
    /// The signed stage, if submitted.
    pub submitted: Option<CaseStamp>,
}

/// A report case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CaseView {
    /// The manufacturer.
    pub manufacturer: String,
    /// The case id.
    pub case: String,
    /// `vulnerability` or `incident`.
    pub kind: String,
    /// The vulnerability.
    pub vulnerability: Option<String>,
    /// `known-exploited`, `stakeholder`, `incident`, `manufacturer`.
    pub source: String,
    /// The products.
    pub products: Vec<String>,
    /// What it rests on.
    pub evidence: String,
    /// The opening.
    pub opened: CaseStamp,
    /// The manufacturer's awareness statement.
    pub awareness: Option<CaseStamp>,
    /// The time of awareness it states (unix seconds).
    pub aware_at: Option<i64>,
    /// When a fix (a release not exposed) became available, if one has.
    pub fix_available_at: Option<i64>,
    /// The release that fixes it, `<model>@<version>`.
    pub fixed_in: Option<String>,
    /// The stages.
    pub stages: Vec<StageView>,
    /// The worst stage status (`overdue` first).
    pub status: String,
    /// Every stage submitted.
    pub closed: bool,
}

/// A manufacturer's cases.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CaseList {
    /// The manufacturer.
    pub manufacturer: String,
    /// Open cases first, then by deadline.
    pub cases: Vec<CaseView>,
    /// Stages overdue now.
    pub overdue: usize,
    /// The time the clocks were read at (unix seconds).
    pub now: i64,
}

/// A stage as the manufacturer signs it
/// (`POST /api/v1/cra/cases/{case}/reports/{stage}`): the report's fields,
/// usually the draft edited.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignStage {
    /// The report (a JSON object; at most 48 KiB).
    #[schema(value_type = Object)]
    pub report: Map<String, Value>,
}

/// The support period of a model and its devices.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SupportView {
    /// The model subject.
    pub model: String,
    /// The manufacturer.
    pub manufacturer: String,
    /// The last day of security support promised now.
    pub end: String,
    /// The promise's statement.
    pub promised: CaseStamp,
    /// The longer promise it cut short, if any.
    pub cut_short: Option<CutShort>,
    /// Support has ended (today is after `end`).
    pub ended: bool,
    /// Days until it ends (negative once ended).
    pub days_left: i64,
    /// The caller's devices of the model.
    pub devices: usize,
    /// Of them, those past the end of support.
    pub devices_past_end: usize,
    /// Up to 100 of those devices' ids.
    pub past_end_sample: Vec<String>,
}

/// A promise cut short.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CutShort {
    /// The end promised before.
    pub was: String,
    /// That promise's entry.
    pub entry: u64,
    /// Days taken away.
    pub days: i64,
}

/// Every support period the caller may see (`GET /api/v1/cra/support`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SupportList {
    /// By model.
    pub models: Vec<SupportView>,
    /// Today (UTC).
    pub today: String,
}

/// Promise a support period (`POST /api/v1/cra/support`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PromiseSupport {
    /// The model subject, `model:<vendor>/<model>`.
    pub model: String,
    /// The last day of security support, `YYYY-MM-DD`.
    pub end: String,
    /// A note.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

//! The views the web dashboard needed that the API did not have, open to
//! every client like the rest: the fleet's breakdown by attribute
//! (`GET /api/v1/fleet`) and the log's status with its trust anchors
//! (`GET /api/v1/log`: the log's verifier key, the witnesses the node asks,
//! their quorum, and the cosignatures of the published checkpoint).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Values listed per attribute of [`FleetView`] at most; the rest are
/// counted in `other`.
pub const FLEET_VALUES_MAX: usize = 50;

/// How many devices share one value of an attribute.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ValueCount {
    /// The value (`(hidden)` when the owner's policy hides it from the
    /// reader, `(none)` when the twin has none).
    pub value: String,
    /// Devices with it.
    pub devices: u64,
}

/// The devices of one attribute, most frequent value first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Breakdown {
    /// At most [`FLEET_VALUES_MAX`] values, most devices first (ties by value).
    pub values: Vec<ValueCount>,
    /// Devices with a value not listed.
    pub other: u64,
}

/// `GET /api/v1/fleet`: the devices the caller may see, counted by
/// lifecycle, model, site, firmware and manufacturer, as the caller sees
/// them (a value an owner's policy hides counts as `(hidden)`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FleetView {
    /// The log size the twins were read at.
    pub as_of: u64,
    /// Whether every device was examined (at most 100,000 are).
    pub complete: bool,
    /// Devices the caller may see.
    pub devices: u64,
    /// By firmware version.
    pub firmware: Breakdown,
    /// By lifecycle state.
    pub lifecycle: Breakdown,
    /// By manufacturer.
    pub manufacturer: Breakdown,
    /// By model.
    pub model: Breakdown,
    /// By site.
    pub site: Breakdown,
}

/// A witness the node asks to cosign its checkpoints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct WitnessView {
    /// Its name (the key name of its verifier key).
    pub name: String,
    /// Its C2SP verifier key (`name+hash+base64`, signature type 0x04).
    pub vkey: String,
}

/// The integration latency: from a group commit's acknowledgment (its
/// entries durable) to the publication of the first checkpoint covering it
/// (signed, cosigned by the witness quorum, served).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct IntegrationLatency {
    /// Group commits sampled (the latest, at most 1,024).
    pub samples: u64,
    /// Median, milliseconds.
    pub p50_ms: f64,
    /// 99th percentile, milliseconds.
    pub p99_ms: f64,
    /// Longest, milliseconds.
    pub max_ms: f64,
    /// The latest commit's, milliseconds.
    pub last_ms: f64,
}

/// A cosignature on the published checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CosignatureView {
    /// The signer's key name.
    pub name: String,
    /// The witness's timestamp (unix seconds).
    pub timestamp: u64,
    /// Seconds between the timestamp and the node's clock now.
    pub age_s: i64,
    /// Whether a configured witness's key verifies it.
    pub verified: bool,
}

/// `GET /api/v1/log`: the log's status and what a client needs to verify
/// it (public, like the log). The keys are what this node announces: a
/// client that trusts them only on first use should pin them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LogStatus {
    /// The published checkpoint as served at `/log/checkpoint`.
    pub checkpoint: String,
    /// Its cosignatures by witnesses (the log's own signature excluded).
    pub cosignatures: Vec<CosignatureView>,
    /// Entries durable but not yet in a published checkpoint.
    pub integrating: u64,
    /// The log's origin (its checkpoints' first line).
    pub origin: String,
    /// Entries waiting for the sequencer.
    pub pending: u64,
    /// The published tree size.
    pub size: u64,
    /// The published root hash, base64.
    pub root: String,
    /// The log's C2SP verifier key (Ed25519, signature type 0x01).
    pub vkey: String,
    /// Cosignatures a checkpoint needs before it is published.
    pub witness_quorum: u64,
    /// The witnesses the node asks.
    pub witnesses: Vec<WitnessView>,
    /// Why the log stopped writing, if it did.
    pub fault: Option<String>,
    /// How long acknowledged entries waited for a published checkpoint,
    /// over the latest group commits; `null` before the first publication
    /// since the node started.
    pub integration_latency: Option<IntegrationLatency>,
}

/// A risk decision the service signs on the caller's behalf.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DecisionRequestKind {
    /// `risk-accepted` (with `rationale`, optionally `until`).
    Accept,
    /// `risk-mitigated` (with `rationale`: how).
    Mitigate,
    /// `risk-transferred` (with `to` and `rationale`).
    Transfer,
    /// `risk-false-positive` (with `rationale`).
    FalsePositive,
}

/// `POST /api/v1/risks/decisions`: decide a risk of the register (accept,
/// mitigate, transfer, false positive). The service signs the statement as
/// the registry authority on the caller's behalf (`on_behalf_of`); the
/// twin's rules decide whether the caller may (as for a statement the
/// caller signs itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionRequest {
    /// The risk's subject (`device:…` or `model:…`), as in the register.
    pub subject: String,
    /// The risk id (`vuln/CVE-…`, `posture/RULE`, a threat id), as in the
    /// register.
    pub risk: String,
    /// What is decided.
    pub decision: DecisionRequestKind,
    /// Why (for `mitigate`: how), 1 to 1024 bytes, not blank.
    pub rationale: String,
    /// `accept` only: until when (`YYYY-MM-DD`); for good when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
    /// `transfer` only: the stakeholder that takes the risk over.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
}

/// The answer of `POST /api/v1/risks/decisions`: the registered statement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DecisionRecorded {
    /// Its log entry.
    pub entry: u64,
    /// Where its COSE receipt is (SCRAPI).
    pub receipt: String,
    /// The statement type registered (`risk-accepted`, …).
    #[serde(rename = "type")]
    pub kind: String,
}

/// One published threat model, in force or not (`GET /api/v1/threat-models`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ThreatModelSummary {
    /// Who published it.
    pub owner: String,
    /// Its published id (versions share it).
    pub id: String,
    /// The target of evaluation's name: its recorded risks have the source
    /// `threat-model:<name>`.
    pub name: String,
    /// The model's own version, if it has one.
    pub version: Option<String>,
    /// The entry of this version.
    pub entry: u64,
    /// Its receipt (`/entries/{entry}`).
    pub receipt: String,
    /// The entry of the version that replaced it, if any.
    pub superseded_by: Option<u64>,
    /// SHA-256 of the model file (`source`), hex.
    pub source_sha256: String,
}

/// The published threat models, latest version first per id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ThreatModelList {
    /// Every version, in force first, then by owner, id and entry.
    pub models: Vec<ThreatModelSummary>,
    /// The log size the answer reflects.
    pub as_of: u64,
}

/// An element of a threat model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ThreatElement {
    /// Its id in the model.
    pub id: String,
    /// Its name (the `element` of its recorded risks).
    pub name: String,
    /// Its type (`device`, `process`, `datastore`, `ml-model`, ...).
    #[serde(rename = "type")]
    pub kind: String,
    /// The trust boundaries it is in, by id.
    pub boundaries: Vec<String>,
    /// The device model it stands for (`vendor/model`), if any.
    pub device_model: Option<String>,
    /// The controls in place.
    pub controls: Vec<String>,
}

/// A data flow of a threat model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ThreatFlow {
    /// Its id in the model.
    pub id: String,
    /// Its name.
    pub name: String,
    /// From element id.
    pub from: String,
    /// To element id.
    pub to: String,
    /// Protocol.
    pub protocol: String,
    /// Whether it is encrypted.
    pub encrypted: bool,
    /// How it authenticates.
    pub authentication: String,
    /// The data's classification.
    pub classification: String,
}

/// A trust boundary of a threat model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ThreatBoundary {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
}

/// One version of a threat model with its diagram and inventory
/// (`GET /api/v1/threat-models/{owner}/{id}`); its findings are the risks
/// recorded from it (`GET /api/v1/risks?source=threat-model:<name>`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ThreatModelView {
    /// The version shown.
    pub model: ThreatModelSummary,
    /// The model's title.
    pub title: Option<String>,
    /// The data-flow diagram (SVG, laid out by the node; text escaped).
    pub diagram_svg: Option<String>,
    /// Why the model could not be read (a model in the log that this node's
    /// parser refuses is shown with the reason).
    pub problem: Option<String>,
    /// Its elements.
    pub elements: Vec<ThreatElement>,
    /// Its data flows.
    pub flows: Vec<ThreatFlow>,
    /// Its trust boundaries.
    pub boundaries: Vec<ThreatBoundary>,
    /// The model file (YAML), exactly as published.
    pub source: String,
    /// Every version under this id, oldest first.
    pub versions: Vec<ThreatModelSummary>,
}

/// The query of `GET /api/v1/threat-models/{owner}/{id}`.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, utoipa::IntoParams,
)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ThreatModelQuery {
    /// The version published at this entry (default: the one in force).
    #[param(minimum = 0)]
    pub entry: Option<u64>,
}

/// Entries listed per page of a digest lookup at most.
pub const DIGEST_MATCHES_MAX: usize = 100;

/// The query of `GET /api/v1/digests/{sha256}`.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, utoipa::IntoParams,
)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DigestQuery {
    /// Only entries after this one (`next_after` of the previous page).
    #[param(minimum = 0)]
    pub after: Option<u64>,
}

/// A statement that names a digest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DigestMatch {
    /// What the digest is in it (`firmware image`, `SBOM document`,
    /// `configuration`, `AI model`, `tested image or model`, `test report`).
    pub field: String,
    /// The statement, as the caller may see it (its receipt is
    /// `/entries/{entry}`).
    pub statement: crate::twins::StatementView,
}

/// The statements that name a SHA-256 digest, oldest first
/// (`GET /api/v1/digests/{sha256}`): what a dropped file is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DigestLookup {
    /// The digest, 64 lower-case hex digits.
    pub sha256: String,
    /// The statements the caller may see with the digest shown, at most
    /// 100 per page.
    pub matches: Vec<DigestMatch>,
    /// The entry to pass as `after` for the next page, if there may be more
    /// (a page also ends after 2,048 statements examined, shown or not).
    pub next_after: Option<u64>,
    /// Statements from this log position on are indexed by digest (earlier
    /// ones after `sectwin reindex`).
    pub indexed_from: u64,
    /// The log size the answer reflects.
    pub as_of: u64,
}

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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
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

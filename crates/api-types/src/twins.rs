//! The views of the security twins under `/api/v1`: the node's status, the
//! stakeholder registry, published policies, one device's twin, device lists
//! and counts, timelines, statements and read records; the query strings and
//! the body of a confidential registration.
//!
//! Every view is what one reader may see: a field the owner's sharing policy
//! hides is `null`, never absent.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

/// Largest page of `/api/v1` lists.
pub const PAGE_SIZE_MAX: usize = 1000;
/// Page size when none is asked for.
pub const PAGE_SIZE_DEFAULT: usize = 100;

/// What a stakeholder is to a device.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Made it; releases its firmware and assesses its vulnerabilities.
    Manufacturer,
    /// Runs it day to day.
    Operator,
    /// Maintains it under contract.
    Maintainer,
    /// Audits it.
    Auditor,
    /// Owns it.
    Owner,
    /// The device itself, signing with its own key.
    Device,
}

impl Role {
    /// Its name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Manufacturer => "manufacturer",
            Role::Operator => "operator",
            Role::Maintainer => "maintainer",
            Role::Auditor => "auditor",
            Role::Owner => "owner",
            Role::Device => "device",
        }
    }
}

/// A device's lifecycle state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Lifecycle {
    /// Registered by its manufacturer.
    Manufactured,
    /// Given its identity and credentials for a site.
    Provisioned,
    /// In service.
    Deployed,
    /// Out of service for maintenance.
    InMaintenance,
    /// Retired for good.
    Decommissioned,
}

impl Lifecycle {
    /// The state's name on the wire (and in device filters).
    pub fn as_str(self) -> &'static str {
        match self {
            Lifecycle::Manufactured => "manufactured",
            Lifecycle::Provisioned => "provisioned",
            Lifecycle::Deployed => "deployed",
            Lifecycle::InMaintenance => "in_maintenance",
            Lifecycle::Decommissioned => "decommissioned",
        }
    }
}

/// `GET /api/v1/status`: the projection, the log and their faults (public).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct NodeStatus {
    /// The registry authority (the log's bootstrap stakeholder), once known.
    pub authority: Option<String>,
    /// Entries the twins refused.
    pub entries_refused: u64,
    /// Why the log stopped writing (a storage fault), if it did.
    pub log_fault: Option<String>,
    /// How often the log's writer reopened its store after a fault.
    pub log_restarts: u64,
    /// The log size the twins reflect.
    pub projected_size: u64,
    /// Why the projection stopped, if it did.
    pub projector_fault: Option<String>,
    /// The size of the published checkpoint.
    pub published_size: u64,
    /// Whether the log stopped writing (it writes again by itself once the
    /// cause is gone).
    pub read_only: bool,
    /// Registered stakeholders.
    pub stakeholders: u64,
    /// Statements the twins applied.
    pub statements_applied: u64,
}

/// A key of a stakeholder, valid per log position.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct KeyView {
    /// The entry that added it.
    pub added_at: u64,
    /// `EdDSA` or `ES256`.
    #[schema(example = "EdDSA")]
    pub alg: String,
    /// RFC 9679 thumbprint, hex: the `kid` statements carry.
    pub kid: String,
    /// Validity end (unix seconds), if any.
    pub not_after: Option<i64>,
    /// Validity start (unix seconds), if any.
    pub not_before: Option<i64>,
    /// The key, PEM.
    pub pem: String,
    /// The entry that revoked it, if any.
    pub revoked_at: Option<u64>,
}

/// A registered organization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct StakeholderView {
    /// Its id (its statements' `iss`).
    pub id: String,
    /// Its keys, in the order they were added.
    pub keys: Vec<KeyView>,
    /// Display name.
    pub name: String,
    /// The entry that registered it.
    pub registered_at: u64,
    /// Organization-level roles.
    pub roles: Vec<Role>,
}

/// `GET /api/v1/stakeholders/{id}`: one stakeholder, and the log size read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct StakeholderRecord {
    /// The log size the registry was read at.
    pub as_of: u64,
    /// The stakeholder.
    #[serde(flatten)]
    pub stakeholder: StakeholderView,
}

/// `GET /api/v1/stakeholders`: the registry (public: it is in the log, and
/// relying parties need the keys to verify statements).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct StakeholderList {
    /// The log size the registry was read at.
    pub as_of: u64,
    /// Every stakeholder.
    pub stakeholders: Vec<StakeholderView>,
}

/// The kind of a published policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum PolicyKind {
    /// A data-sharing policy.
    #[serde(rename = "sharing")]
    Sharing,
    /// A read-transparency policy.
    #[serde(rename = "transparency")]
    Transparency,
    /// An AI-use policy.
    #[serde(rename = "ai-use")]
    AiUse,
    /// A security profile (detection behaviours).
    #[serde(rename = "security-profile")]
    SecurityProfile,
    /// A threat model (`sectwin threat record` publishes it).
    #[serde(rename = "threat-model")]
    ThreatModel,
}

/// One version of a published policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PolicyVersion {
    /// Its entry.
    pub entry: u64,
    /// The policy's id (the owner's choice; versions share it).
    pub id: String,
    /// Whether no later version replaced it.
    pub in_force: bool,
    /// Its kind.
    pub kind: PolicyKind,
    /// Who published it.
    pub owner: String,
    /// The policy document as signed: its shape depends on `kind` (open
    /// here; see the statement types of the twins).
    #[schema(value_type = Object)]
    pub policy: Value,
    /// Where its COSE receipt is (SCRAPI).
    #[schema(example = "/entries/12")]
    pub receipt: String,
    /// The entry of the version that replaced it.
    pub superseded_by: Option<u64>,
}

/// `GET /api/v1/policies`: published policies with every version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PolicyList {
    /// The log size read.
    pub as_of: u64,
    /// The versions.
    pub policies: Vec<PolicyVersion>,
}

/// The query of `GET /api/v1/policies`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PolicyQuery {
    /// Only this stakeholder's policies.
    pub stakeholder: Option<String>,
    /// Only this kind.
    pub kind: Option<PolicyKind>,
    /// Only the versions in force just before this log position.
    #[param(minimum = 0)]
    pub at: Option<u64>,
}

/// The consensus state of a claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConsensusState {
    /// Every required role asserted or endorsed it; no dispute.
    Agreed,
    /// Waiting for the roles in `awaiting` to endorse.
    Claimed,
    /// Disputed by the stakeholders in `by`.
    Disputed,
}

/// The consensus status of a claim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ConsensusStatus {
    /// The roles still missing (`claimed` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub awaiting: Option<Vec<Role>>,
    /// Who disputed it (`disputed` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<Vec<String>>,
    /// The state.
    pub status: ConsensusState,
}

/// What a claim is about: a class, and for keyed classes its key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AttributeRef {
    /// `identity`, `ownership`, `lifecycle`, `firmware`, `configuration`,
    /// `ai_model`, `test_evidence`, `vulnerability`, `maintenance`,
    /// `incident`, `access`, `risk`, `custom` or `archivist`.
    #[schema(example = "firmware")]
    pub class: String,
    /// The key of a keyed class (a tested artifact's hash, a vulnerability,
    /// a grantee, a risk, a custom type).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

/// An endorsement of a claim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Endorsement {
    /// The endorser.
    pub by: String,
    /// The endorsement's entry.
    pub entry: u64,
    /// The endorser's roles on the device then.
    pub roles: Vec<Role>,
}

/// A dispute of a claim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Dispute {
    /// The disputer.
    pub by: String,
    /// The dispute's entry.
    pub entry: u64,
    /// Why.
    pub reason: String,
}

/// A claim: a statement asserting an attribute of a device, as the reader
/// may see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ClaimView {
    /// The roles the asserter held on the device when asserting.
    pub asserter_roles: Vec<Role>,
    /// Its disputes.
    pub disputes: Vec<Dispute>,
    /// Its endorsements.
    pub endorsements: Vec<Endorsement>,
    /// Its log entry.
    pub entry: u64,
    /// Who asserted it (whose data it is).
    pub issuer: String,
    /// Where its COSE receipt is (SCRAPI).
    #[schema(example = "/entries/7")]
    pub receipt: String,
    /// The registry authority, when it signed on the issuer's behalf.
    pub signed_by: Option<String>,
    /// The statement's payload with only the fields the owner's policy
    /// shares: its shape depends on its `type` (open here).
    #[schema(value_type = Object)]
    pub statement: Value,
    /// Its consensus status.
    pub status: Option<ConsensusStatus>,
}

/// One current attribute of a twin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AttributeView {
    /// What the claim is about.
    pub attribute: AttributeRef,
    /// The current claim.
    pub claim: ClaimView,
}

/// An asset attribute set by an Archivist event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AssetAttribute {
    /// The event that set it.
    pub entry: u64,
    /// Who set it.
    pub issuer: String,
    /// Its value (any JSON, as the event gave it).
    #[schema(value_type = Object)]
    pub value: Value,
}

/// A twin's summary as the reader may see it: a field whose attribute the
/// owner's policy hides is `null`; the activity counters show only to a
/// reader who sees every attribute.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TwinSummary {
    /// The asset attributes set by Archivist events, by name (absent when
    /// there are none).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub asset_attributes: std::collections::BTreeMap<String, AssetAttribute>,
    /// Device id (the statement subject without `device:`).
    pub device: String,
    /// The device's own public key (PEM), if it signs statements.
    pub device_key: Option<String>,
    /// The installed firmware version, as last reported.
    pub firmware: Option<String>,
    /// Groups.
    pub groups: Option<Vec<String>>,
    /// Hardware id.
    pub hardware_id: Option<String>,
    /// Lifecycle state.
    pub lifecycle: Option<Lifecycle>,
    /// Location within the site.
    pub location: Option<String>,
    /// Maintainer.
    pub maintainer: Option<String>,
    /// Who registered it.
    pub manufacturer: String,
    /// Model.
    pub model: Option<String>,
    /// Operator.
    pub operator: Option<String>,
    /// Owner.
    pub owner: Option<String>,
    /// The entry that registered it.
    pub registered_at: u64,
    /// Serial.
    pub serial: Option<String>,
    /// Site.
    pub site: Option<String>,
    /// How many entries are about it.
    pub statements: Option<u64>,
    /// The latest entry about it.
    pub updated_at: Option<u64>,
}

/// A current AI-use policy covering a device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AiUsePolicy {
    /// Its entry.
    pub entry: u64,
    /// Who published it (a stakeholder with a role on the device).
    pub owner: String,
    /// The policy document (open here: see the `ai-use-policy` statement).
    #[schema(value_type = Object)]
    pub policy: Value,
    /// Where its COSE receipt is.
    pub receipt: String,
}

/// `GET /api/v1/devices/{id}`: a device's twin with each attribute's
/// consensus status.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DeviceView {
    /// Current AI-use policies covering the device, published by
    /// stakeholders with a role on it.
    pub ai_use_policies: Vec<AiUsePolicy>,
    /// The log size the twin reflects.
    pub as_of: u64,
    /// The current attributes the reader may see.
    pub attributes: Vec<AttributeView>,
    /// The twin's summary.
    pub twin: TwinSummary,
}

/// `GET /api/v1/devices`: a page of devices.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DeviceList {
    /// The log size the twins were read at.
    pub as_of: u64,
    /// The twins the reader may see, in id order.
    pub devices: Vec<TwinSummary>,
    /// The token of the next page, when there may be more.
    pub next_page_token: Option<String>,
}

/// `GET /api/v1/devices/count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DeviceCount {
    /// The log size the twins were read at.
    pub as_of: u64,
    /// Whether every device was examined (a count stops after 100,000).
    pub complete: bool,
    /// Devices the reader may see that match (also in `X-Total-Count`).
    pub count: u64,
}

/// One statement of a device's timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TimelineEntry {
    /// Its log entry.
    pub entry: u64,
    /// Whose data it is.
    pub issuer: String,
    /// Where its COSE receipt is.
    pub receipt: String,
    /// The registry authority, when it signed on the issuer's behalf.
    pub signed_by: Option<String>,
    /// The payload with only the fields shared (open here); `null` when it
    /// is not a claim.
    #[schema(value_type = Option<Object>)]
    pub statement: Option<Value>,
    /// Its consensus status, for a claim.
    pub status: Option<ConsensusStatus>,
    /// The statement type.
    #[serde(rename = "type")]
    pub kind: String,
}

/// `GET /api/v1/devices/{id}/timeline`: a page of a device's statements, in
/// log order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Timeline {
    /// The log size the twins were read at.
    pub as_of: u64,
    /// The device.
    pub device: String,
    /// The statements the reader may see.
    pub entries: Vec<TimelineEntry>,
    /// The token of the next page, when there may be more.
    pub next_page_token: Option<String>,
}

/// `GET /api/v1/statements/{entry}`: a registered statement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct StatementView {
    /// The log size read.
    pub as_of: u64,
    /// Its log entry.
    pub entry: u64,
    /// Whose data it is.
    pub issuer: String,
    /// Where its COSE receipt is.
    pub receipt: String,
    /// Why the twins refused it, if they did.
    pub refused: Option<String>,
    /// The registry authority, when it signed on the issuer's behalf.
    pub signed_by: Option<String>,
    /// The payload with only the fields shared (open here); `null` for a
    /// payload that is not JSON or is kept elsewhere.
    #[schema(value_type = Option<Object>)]
    pub statement: Option<Value>,
    /// Its consensus status, for a claim.
    pub status: Option<ConsensusStatus>,
    /// The statement's subject (`device:…`, `stakeholder:…`, `model:…`).
    pub subject: String,
    /// The statement type.
    #[serde(rename = "type")]
    pub kind: String,
}

/// The read path of a read record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReadKind {
    /// A twin view.
    Twin,
    /// A list.
    List,
    /// A device's timeline.
    Timeline,
    /// One statement.
    Statement,
    /// Search results.
    Search,
    /// A count (no contents shown).
    Count,
    /// A receipt.
    Receipt,
    /// An export.
    Export,
}

/// What a read record shows of the owner's entries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReadEntries {
    /// The entries whose (possibly redacted) contents were shown.
    Listed(Vec<u64>),
    /// Only how many matched was shown.
    Counted(u64),
}

/// A read of one organization's data by another.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ReadRecordView {
    /// When, in milliseconds since the Unix epoch.
    pub at_unix_ms: u64,
    /// The device, when the read was about one.
    pub device: Option<String>,
    /// The owner's entries shown, or how many were counted.
    pub entries: ReadEntries,
    /// The grants of the policy that allowed the entries shown (indices).
    pub grants: Vec<u64>,
    /// Whose data was read.
    pub owner: String,
    /// The id of the policy that allowed the read (`default` without one).
    pub policy: String,
    /// The entry of that policy's statement.
    pub policy_entry: Option<u64>,
    /// Who read; `null` for an anonymous reader.
    pub reader: Option<String>,
    /// Which read path.
    pub what: ReadKind,
}

/// `GET /api/v1/reads`: a page of read records, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ReadsPage {
    /// The records.
    pub reads: Vec<ReadRecordView>,
    /// The token of the next page, when there may be more.
    pub next_page_token: Option<String>,
}

/// The page query of a device's timeline (`GET /api/v1/devices/{id}/timeline`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Items per page (1 to 1000, default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub page_size: Option<usize>,
    /// The `next_page_token` of the previous page.
    pub page_token: Option<String>,
}

/// The query of `GET /api/v1/reads`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ReadsQuery {
    /// Whose read records (default: the caller's organization); another
    /// owner's only if its transparency policy names the caller as a record
    /// viewer.
    pub owner: Option<String>,
    /// Items per page (1 to 1000, default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub page_size: Option<usize>,
    /// The `next_page_token` of the previous page.
    pub page_token: Option<String>,
}

/// The attribute filters of device lists and counts (the query of
/// `GET /api/v1/devices/count`): each matches only devices whose
/// attribute, as the reader may see it, equals the value.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeviceFilter {
    /// Only devices of this manufacturer.
    pub manufacturer: Option<String>,
    /// Only devices of this model.
    pub model: Option<String>,
    /// Only the device with this serial.
    pub serial: Option<String>,
    /// Only the device with this hardware id.
    pub hardware_id: Option<String>,
    /// Only devices at this site.
    pub site: Option<String>,
    /// Only devices at this location.
    pub location: Option<String>,
    /// Only devices in this group.
    pub group: Option<String>,
    /// Only devices in this lifecycle state.
    pub lifecycle: Option<Lifecycle>,
    /// Only devices of this owner.
    pub owner: Option<String>,
    /// Only devices of this operator.
    pub operator: Option<String>,
    /// Only devices of this maintainer.
    pub maintainer: Option<String>,
    /// Only devices running this firmware version.
    pub firmware: Option<String>,
}

impl DeviceFilter {
    /// The filters given, as (attribute, value), in declaration order.
    pub fn pairs(&self) -> Vec<(&'static str, &str)> {
        let DeviceFilter {
            manufacturer,
            model,
            serial,
            hardware_id,
            site,
            location,
            group,
            lifecycle,
            owner,
            operator,
            maintainer,
            firmware,
        } = self;
        [
            ("manufacturer", manufacturer.as_deref()),
            ("model", model.as_deref()),
            ("serial", serial.as_deref()),
            ("hardware_id", hardware_id.as_deref()),
            ("site", site.as_deref()),
            ("location", location.as_deref()),
            ("group", group.as_deref()),
            ("lifecycle", lifecycle.map(Lifecycle::as_str)),
            ("owner", owner.as_deref()),
            ("operator", operator.as_deref()),
            ("maintainer", maintainer.as_deref()),
            ("firmware", firmware.as_deref()),
        ]
        .into_iter()
        .filter_map(|(k, v)| Some((k, v?)))
        .collect()
    }
}

/// The query of `GET /api/v1/devices`: a page, and the filters of
/// [`DeviceFilter`] (repeated here: serde's `flatten` does not combine with
/// `deny_unknown_fields`, nor with the string values of a query).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeviceQuery {
    /// Items per page (1 to 1000, default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub page_size: Option<usize>,
    /// The `next_page_token` of the previous page.
    pub page_token: Option<String>,
    /// Only devices of this manufacturer.
    pub manufacturer: Option<String>,
    /// Only devices of this model.
    pub model: Option<String>,
    /// Only the device with this serial.
    pub serial: Option<String>,
    /// Only the device with this hardware id.
    pub hardware_id: Option<String>,
    /// Only devices at this site.
    pub site: Option<String>,
    /// Only devices at this location.
    pub location: Option<String>,
    /// Only devices in this group.
    pub group: Option<String>,
    /// Only devices in this lifecycle state.
    pub lifecycle: Option<Lifecycle>,
    /// Only devices of this owner.
    pub owner: Option<String>,
    /// Only devices of this operator.
    pub operator: Option<String>,
    /// Only devices of this maintainer.
    pub maintainer: Option<String>,
    /// Only devices running this firmware version.
    pub firmware: Option<String>,
}

impl DeviceQuery {
    /// The page and the filters.
    pub fn split(self) -> (PageQuery, DeviceFilter) {
        let DeviceQuery {
            page_size,
            page_token,
            manufacturer,
            model,
            serial,
            hardware_id,
            site,
            location,
            group,
            lifecycle,
            owner,
            operator,
            maintainer,
            firmware,
        } = self;
        (
            PageQuery {
                page_size,
                page_token,
            },
            DeviceFilter {
                manufacturer,
                model,
                serial,
                hardware_id,
                site,
                location,
                group,
                lifecycle,
                owner,
                operator,
                maintainer,
                firmware,
            },
        )
    }
}

/// `POST /api/v1/statements`: a hash envelope with its payload, registered
/// together.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterStatement {
    /// The COSE_Sign1 hash envelope, base64.
    #[schema(format = Byte)]
    pub statement: String,
    /// The payload it commits to, base64 (kept beside the log, never in it).
    #[schema(format = Byte)]
    pub payload: String,
}

/// The answer of `POST /api/v1/statements`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Registered {
    /// Whether it was registered before (then `entry` is the first one).
    pub duplicate: bool,
    /// Its log entry.
    pub entry: u64,
    /// Where its COSE receipt is.
    pub receipt: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `as_str` is the name serde writes, for every variant.
    #[test]
    fn names_are_the_wire_names() {
        let wire = |v: serde_json::Value| v.as_str().unwrap_or_default().to_string();
        for r in [
            Role::Manufacturer,
            Role::Operator,
            Role::Maintainer,
            Role::Auditor,
            Role::Owner,
            Role::Device,
        ] {
            assert_eq!(r.as_str(), wire(serde_json::json!(r)));
        }
        for l in [
            Lifecycle::Manufactured,
            Lifecycle::Provisioned,
            Lifecycle::Deployed,
            Lifecycle::InMaintenance,
            Lifecycle::Decommissioned,
        ] {
            assert_eq!(l.as_str(), wire(serde_json::json!(l)));
        }
    }

    /// The query types refuse what they do not know, whoever reads them.
    #[test]
    fn queries_refuse_unknown_fields() {
        let unknown = serde_json::json!({"colour": "red"});
        assert!(serde_json::from_value::<PolicyQuery>(unknown.clone()).is_err());
        assert!(serde_json::from_value::<DeviceQuery>(unknown.clone()).is_err());
        assert!(serde_json::from_value::<DeviceFilter>(unknown.clone()).is_err());
        assert!(serde_json::from_value::<PageQuery>(unknown.clone()).is_err());
        assert!(serde_json::from_value::<ReadsQuery>(unknown.clone()).is_err());
        assert!(serde_json::from_value::<crate::notify::DeliveryQuery>(unknown).is_err());
    }
}

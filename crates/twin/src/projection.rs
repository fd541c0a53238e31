//! The projection of the log into twins. [`Projection::apply`] folds one
//! registered statement in, in log order, or refuses it and changes nothing;
//! rebuilding from the log (reindex) is applying every entry again.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use crate::consensus::{evaluate, AttributeClass, ConsensusPolicy, Status};
use crate::model::{DeviceId, Lifecycle, Role, StakeholderId};
use crate::published::{
    AiUsePolicy, PolicyKind, PolicyVersion, SecurityProfile, ThreatModelDoc, TransparencyPolicy,
};
use crate::registry::{Registry, RegistryError};
use crate::sharing::{PolicyError, SharingPolicy};
use crate::statement::{Delegated, SbomComponent, StatementBody, StatementParseError};

/// A statement as registered: its log entry, its verified issuer and subject,
/// and its payload.
#[derive(Debug, Clone, Copy)]
pub struct Registered<'a> {
    /// Log index.
    pub entry: u64,
    /// SCITT `iss` (signature already verified by the registration policy).
    pub issuer: &'a str,
    /// SCITT `sub`.
    pub subject: &'a str,
    /// The payload.
    pub payload: &'a [u8],
    /// CWT `iat` of the statement, seconds since the epoch, if it has one:
    /// the issuer's own clock, which orders the issuer's statements on one
    /// attribute (see [`IssuerClocks`]).
    pub issued_at: Option<i64>,
}

/// Per attribute, the latest `iat` of each issuer's statements on it: the
/// issuer's own clock. A statement issued *before* the issuer's latest
/// statement on the same attribute is refused ([`ApplyError::BackInTime`]):
/// it would take the attribute back in time (a replayed old statement, or
/// statements registered out of order). Clocks of different issuers are
/// never compared, so skew between them does not matter; statements issued
/// in the same second apply in log order; a statement without `iat`
/// (registered before the service required one) is neither checked nor
/// advances the clock. Attributes are a twin's [`AttributeClass`] slots,
/// `claim <entry>` for endorsements and disputes, and the statement kind (or
/// its attribute class) for statements about models and stakeholders.
///
/// Kept compact because every twin carries one and a fold reads and writes
/// twins at every statement: a sorted list of ([`ClockKey`], `iat`), one
/// allocation, serialized as one base64 string of 24-byte records.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IssuerClocks(Vec<(ClockKey, i64)>);

/// Which clock: the first 16 bytes of SHA-256(attribute, 0x00, issuer). A
/// stakeholder able to choose attribute names (custom types, risk ids)
/// would need a 128-bit second preimage to move another issuer's clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ClockKey(u128);

impl ClockKey {
    /// The clock of `issuer` on the attribute named by `attribute` (its parts
    /// concatenated).
    pub fn new(attribute: &[&str], issuer: &StakeholderId) -> ClockKey {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        for part in attribute {
            h.update(part.as_bytes());
        }
        h.update([0u8]);
        h.update(issuer.0.as_bytes());
        let digest = h.finalize();
        let mut first = [0u8; 16];
        for (to, from) in first.iter_mut().zip(digest.iter()) {
            *to = *from;
        }
        ClockKey(u128::from_be_bytes(first))
    }

    /// The clock of `issuer` on a twin attribute of `class`.
    pub fn of_class(class: &AttributeClass, issuer: &StakeholderId) -> ClockKey {
        match class.key() {
            Some(key) => ClockKey::new(&[class.name(), ":", key], issuer),
            None => ClockKey::new(&[class.name()], issuer),
        }
    }
}

/// Bytes of one serialized [`IssuerClocks`] record: key, then `iat`, big-endian.
const CLOCK_RECORD_BYTES: usize = 24;

impl Serialize for IssuerClocks {
    fn serialize<Z: serde::Serializer>(&self, z: Z) -> Result<Z::Ok, Z::Error> {
        use base64::Engine as _;
        let mut bytes = Vec::with_capacity(self.0.len() * CLOCK_RECORD_BYTES);
        for (key, issued_at) in &self.0 {
            bytes.extend_from_slice(&key.0.to_be_bytes());
            bytes.extend_from_slice(&issued_at.to_be_bytes());
        }
        z.serialize_str(&base64::engine::general_purpose::STANDARD_NO_PAD.encode(bytes))
    }
}

impl<'de> Deserialize<'de> for IssuerClocks {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<IssuerClocks, D::Error> {
        use base64::Engine as _;
        use serde::de::Error;
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        let bytes = base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(text.as_bytes())
            .map_err(D::Error::custom)?;
        if bytes.len() % CLOCK_RECORD_BYTES != 0 {
            return Err(D::Error::custom("issuer clocks: not whole records"));
        }
        let mut clocks = IssuerClocks(Vec::with_capacity(bytes.len() / CLOCK_RECORD_BYTES));
        for record in bytes.chunks_exact(CLOCK_RECORD_BYTES) {
            let (key, issued_at) = record.split_at(16);
            let mut k = [0u8; 16];
            k.copy_from_slice(key);
            let mut t = [0u8; 8];
            t.copy_from_slice(issued_at);
            clocks.advance(ClockKey(u128::from_be_bytes(k)), i64::from_be_bytes(t));
        }
        Ok(clocks)
    }
}

impl IssuerClocks {
    /// No clock yet.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The latest `iat` on clock `key`.
    pub fn latest(&self, key: ClockKey) -> Option<i64> {
        let i = self.0.binary_search_by_key(&key, |(k, _)| *k).ok()?;
        self.0.get(i).map(|(_, t)| *t)
    }

    /// The latest `iat` on clock `key` if `issued_at` is before it (then the
    /// statement would go back in time).
    pub fn refuses(&self, key: ClockKey, issued_at: i64) -> Option<i64> {
        self.latest(key).filter(|latest| issued_at < *latest)
    }

    /// Records a statement issued at `issued_at` on clock `key`.
    pub fn advance(&mut self, key: ClockKey, issued_at: i64) {
        match self.0.binary_search_by_key(&key, |(k, _)| *k) {
            Ok(i) => {
                if let Some((_, t)) = self.0.get_mut(i) {
                    *t = (*t).max(issued_at);
                }
            }
            Err(i) => self.0.insert(i, (key, issued_at)),
        }
    }
}

/// The clock a statement moves, with its `iat`.
#[derive(Debug, Clone, Copy)]
struct ClockMark {
    key: ClockKey,
    issued_at: i64,
}

impl ClockMark {
    /// The mark of a statement issued at `issued_at` (none without `iat`) on
    /// clock `key` (computed only then), refused if it would take `clocks`
    /// back in time (`attribute`: its name, for the refusal).
    fn check(
        clocks: Option<&IssuerClocks>,
        key: impl FnOnce() -> ClockKey,
        attribute: impl FnOnce() -> String,
        issuer: &StakeholderId,
        issued_at: Option<i64>,
    ) -> Result<Option<ClockMark>, ApplyError> {
        let Some(issued_at) = issued_at else {
            return Ok(None);
        };
        let key = key();
        if let Some(latest) = clocks.and_then(|c| c.refuses(key, issued_at)) {
            return Err(ApplyError::BackInTime {
                issuer: issuer.0.clone(),
                attribute: attribute(),
                issued_at,
                latest,
            });
        }
        Ok(Some(ClockMark { key, issued_at }))
    }
}

/// The attribute of [`IssuerClocks`] a statement about a model or a
/// stakeholder moves.
fn clock_attribute(body: &StatementBody) -> String {
    match body {
        StatementBody::KeyAdded { .. } | StatementBody::KeyRevoked { .. } => "keys".into(),
        body => AttributeClass::of(body)
            .map(|c| c.slot())
            .unwrap_or_else(|| body.kind().to_string()),
    }
}

/// Why a statement does not fit the twins. Each is a client error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApplyError {
    /// The payload is not a statement of this model.
    #[error(transparent)]
    Parse(#[from] StatementParseError),
    /// The statement type needs a `device:<id>` subject.
    #[error("subject {subject:?} is not a device (expected device:<id>) for a {kind} statement")]
    NotADevice {
        /// The subject.
        subject: String,
        /// The type.
        kind: &'static str,
    },
    /// Firmware releases are about models: `model:<vendor>/<model>`.
    #[error("subject {0:?} is not a model (expected model:<vendor>/<model>)")]
    NotAModel(String),
    /// No device registered under that id.
    #[error("unknown device {0:?}: it must be registered first")]
    UnknownDevice(String),
    /// The device is registered already.
    #[error("device {0:?} is already registered")]
    AlreadyRegistered(String),
    /// The device is decommissioned: nothing more happens to it.
    #[error("device {0:?} is decommissioned")]
    Decommissioned(String),
    /// The lifecycle does not allow this transition.
    #[error("device {device:?} cannot go from {from:?} to {to:?}")]
    IllegalTransition {
        /// The device.
        device: String,
        /// Current state.
        from: Lifecycle,
        /// Requested state.
        to: Lifecycle,
    },
    /// The issuer holds none of the roles that may assert this class.
    #[error("{issuer} may not assert {class} for {device:?}: allowed roles are {allowed:?}, it holds {held:?}")]
    NotAllowed {
        /// The issuer.
        issuer: String,
        /// The device.
        device: String,
        /// The class name.
        class: &'static str,
        /// Roles allowed.
        allowed: BTreeSet<Role>,
        /// Roles the issuer holds on the device.
        held: BTreeSet<Role>,
    },
    /// Endorse/dispute of an entry that is not a claim about a device.
    #[error("entry {0} is not a claim about a device")]
    UnknownClaim(u64),
    /// Endorse/dispute whose subject is not the claim's device.
    #[error("entry {entry} is about {claim_subject:?}, not {subject:?}")]
    SubjectMismatch {
        /// The referenced entry.
        entry: u64,
        /// The claim's subject.
        claim_subject: String,
        /// This statement's subject.
        subject: String,
    },
    /// Endorse/dispute by a stakeholder without a role on the device.
    #[error("{issuer} has no role on {device:?} and cannot endorse or dispute its claims")]
    NoRole {
        /// The issuer.
        issuer: String,
        /// The device.
        device: String,
    },
    /// Endorsing or disputing one's own claim.
    #[error("{0} cannot endorse or dispute its own statement")]
    OwnClaim(String),
    /// A registry statement (stakeholders, keys) refused.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// Registering devices needs the organization-level manufacturer role.
    #[error("{0} is not registered as a manufacturer and cannot register devices")]
    NotAManufacturer(String),
    /// A sharing policy that does not parse, or about another stakeholder.
    #[error("sharing policy refused: {0}")]
    Policy(String),
    /// A transparency or AI-use policy that does not parse.
    #[error("policy refused: {0}")]
    Published(#[from] crate::published::PublishedError),
    /// A CRA report case statement that does not fit ([`crate::cra`]).
    #[error("report case refused: {0}")]
    Cra(#[from] crate::cra::CraError),
    /// A model-level statement about a firmware release nobody released.
    #[error("{model} has no firmware release {release:?}: register it (firmware-released) first")]
    UnknownRelease {
        /// The model subject.
        model: String,
        /// The release.
        release: String,
    },
    /// Only the manufacturer who released a firmware may describe it.
    #[error("{issuer} did not release {model} firmware {release:?} and may not make statements scoped to it")]
    NotReleaser {
        /// The issuer.
        issuer: String,
        /// The model subject.
        model: String,
        /// The release.
        release: String,
    },
    /// A statement whose fields are inconsistent (a bad date, a part number
    /// beyond the parts, a hash that is not hex...).
    #[error("invalid {kind} statement: {why}")]
    Invalid {
        /// The type.
        kind: &'static str,
        /// What is wrong.
        why: String,
    },
    /// `on_behalf_of` in a statement not signed by the registry authority,
    /// naming no registered stakeholder, or on a type that cannot be delegated.
    #[error("delegation refused: {0}")]
    Delegation(String),
    /// The issuer already said something later about the same attribute.
    #[error("{issuer} issued this statement at {issued_at} (iat), before its statement of {latest} on {attribute}: a statement cannot take an attribute back in time (replayed, or registered out of order)")]
    BackInTime {
        /// The issuer.
        issuer: String,
        /// The attribute ([`IssuerClocks`]).
        attribute: String,
        /// The statement's `iat`.
        issued_at: i64,
        /// The issuer's latest `iat` on the attribute.
        latest: i64,
    },
    /// A custom type registration refused.
    #[error("custom type {name:?} refused: {why}")]
    CustomType {
        /// The type.
        name: String,
        /// Why.
        why: String,
    },

    /// An audit grant or revocation refused, or an auditor signing more
    /// than its findings.
    #[error(transparent)]
    Audit(#[from] crate::audit::AuditError),
}

impl From<PolicyError> for ApplyError {
    fn from(e: PolicyError) -> ApplyError {
        ApplyError::Policy(e.to_string())
    }
}

/// A claim: a statement asserting an attribute of a device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Claim {
    /// Its log entry.
    pub entry: u64,
    /// The device.
    pub device: DeviceId,
    /// Who asserted it.
    pub issuer: StakeholderId,
    /// What it asserts.
    pub class: AttributeClass,
    /// The statement.
    pub body: StatementBody,
    /// The roles the asserter held on the device when asserting.
    pub asserter_roles: BTreeSet<Role>,
    /// Endorsements: endorser → (entry, the endorser's roles then).
    pub endorsements: BTreeMap<StakeholderId, (u64, BTreeSet<Role>)>,
    /// Disputes: disputer → (entry, reason).
    pub disputes: BTreeMap<StakeholderId, (u64, String)>,
    /// When the service signed it on the issuer's behalf (a payload with
    /// `on_behalf_of`, signed by the registry authority): the authority.
    /// `None` when the issuer signed it itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed_by: Option<StakeholderId>,
}

/// A device's twin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Twin {
    /// Device id.
    pub device: DeviceId,
    /// Who registered it (its manufacturer).
    pub manufacturer: StakeholderId,
    /// Manufacturer's name, model, serial as registered.
    pub model: String,
    /// Serial.
    pub serial: String,
    /// Hardware id, if registered.
    #[serde(default)]
    pub hardware_id: Option<String>,
    /// The device's own public key (PEM), if it signs statements.
    #[serde(default)]
    pub device_key: Option<String>,
    /// Lifecycle state.
    pub lifecycle: Lifecycle,
    /// Owner, operator, maintainer, if transferred.
    pub owner: Option<StakeholderId>,
    /// Operator.
    pub operator: Option<StakeholderId>,
    /// Maintainer.
    pub maintainer: Option<StakeholderId>,
    /// Site.
    pub site: Option<String>,
    /// Location within the site.
    #[serde(default)]
    pub location: Option<String>,
    /// Groups.
    #[serde(default)]
    pub groups: Vec<String>,
    /// The installed firmware version, as last reported.
    #[serde(default)]
    pub firmware: Option<String>,
    /// Latest claim entry per attribute (shown with statuses in [`TwinView`]).
    #[serde(with = "current_as_list")]
    pub current: BTreeMap<AttributeClass, u64>,
    /// The entry that registered it.
    pub registered_at: u64,
    /// The latest entry about it.
    pub updated_at: u64,
    /// How many entries are about it.
    pub statements: u64,
    /// The twin's free-form attributes, by name, set by statements of the
    /// types that set attributes ([`CustomType::sets_attributes`],
    /// [`BuiltinType::sets_attributes`]), each with the entry and
    /// effective issuer that last set it.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub asset_attributes: BTreeMap<String, AssetAttribute>,
    /// Each issuer's latest `iat` per attribute of the twin.
    #[serde(default, skip_serializing_if = "IssuerClocks::is_empty")]
    pub clocks: IssuerClocks,
    /// The firmware updates the device itself told of ([`crate::update`]).
    #[serde(default, skip_serializing_if = "crate::update::Updates::is_empty")]
    pub updates: crate::update::Updates,
}

/// One asset attribute of a twin, as last set by a statement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AssetAttribute {
    /// Its value.
    pub value: serde_json::Value,
    /// The event that set it.
    pub entry: u64,
    /// Who set it (the effective issuer: its data, under its sharing policy).
    pub issuer: StakeholderId,
}

/// The asset attribute by which a twin's manufacturer makes the twin
/// public (`true`): anyone may then read the manufacturer's statements about
/// it ([`decide_read`]), recorded as reads under [`PUBLIC_POLICY_ID`].
pub const PUBLIC_ATTRIBUTE: &str = "sectwin_public";

/// The policy id under which reads of a public twin are decided and recorded.
pub const PUBLIC_POLICY_ID: &str = "public";

impl Twin {
    /// The stakeholder that made this twin public, if one did: only its
    /// manufacturer can ([`PUBLIC_ATTRIBUTE`] set to `true` by it).
    pub fn public_by(&self) -> Option<&StakeholderId> {
        let a = self.asset_attributes.get(PUBLIC_ATTRIBUTE)?;
        (a.value == serde_json::Value::Bool(true) && a.issuer == self.manufacturer)
            .then_some(&a.issuer)
    }
}

/// Most asset attributes one twin keeps (a statement that would exceed it is
/// refused): the twin is read whole on every statement about the device.
pub const ASSET_ATTRIBUTES_MAX: usize = 1024;

/// `current` as a list of `[class, entry]` (JSON maps need string keys).
mod current_as_list {
    use std::collections::BTreeMap;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use crate::consensus::AttributeClass;

    pub fn serialize<S: Serializer>(
        map: &BTreeMap<AttributeClass, u64>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        let list: Vec<(&AttributeClass, &u64)> = map.iter().collect();
        list.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<BTreeMap<AttributeClass, u64>, D::Error> {
        let list: Vec<(AttributeClass, u64)> = Vec::deserialize(d)?;
        Ok(list.into_iter().collect())
    }
}

/// One attribute in a twin view.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AttributeView {
    /// The attribute.
    pub attribute: AttributeClass,
    /// The current claim.
    pub claim: Claim,
    /// Its status.
    pub status: Status,
}

/// A twin with every attribute's consensus status.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TwinView {
    /// The twin.
    pub twin: Twin,
    /// Current attributes.
    pub attributes: Vec<AttributeView>,
}

/// What applying a statement did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// The device concerned, if any.
    pub device: Option<DeviceId>,
    /// The statement type.
    pub kind: &'static str,
}

/// A firmware release of a model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Release {
    /// Its entry.
    pub entry: u64,
    /// Who released it.
    pub issuer: StakeholderId,
    /// Version.
    pub version: String,
    /// SHA-256 of the image, hex.
    pub image_sha256: String,
    /// SBOM reference, if any.
    pub sbom: Option<String>,
    /// The release manifest's other fields (`firmware-released`), as signed.
    #[serde(default)]
    pub manifest: ReleaseManifest,
    /// The entry of the manufacturer's `firmware-withdrawn`, if withdrawn.
    #[serde(default)]
    pub withdrawn: Option<u64>,
    /// The release statement's `iat` (unix seconds), if it has one: when
    /// the release, and so the fixes it carries, became available.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issued_at: Option<i64>,
}

/// What a `firmware-released` statement says besides version, image digest
/// and SBOM: what a device checks before installing the image.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseManifest {
    /// SHA-512 of the image, hex.
    pub image_sha512: Option<String>,
    /// The image's length in bytes.
    pub image_length: Option<u64>,
    /// Hardware ids the image is for.
    pub hardware_ids: Vec<String>,
    /// Anti-rollback counter.
    pub release_counter: Option<u64>,
    /// Lowest version a device may run after installing it.
    pub min_version: Option<String>,
    /// SHA-256 of the VEX document for this image.
    pub vex: Option<String>,
    /// Last day of promised security updates, `YYYY-MM-DD`.
    pub support_end: Option<String>,
    /// SHA-256 of a reproducible-build attestation.
    pub build_attestation: Option<String>,
}

impl Release {
    /// Whether a device can check this release by itself (`ota-verify`):
    /// the manifest names the image's length, its hardware and a counter.
    pub fn is_installable_manifest(&self) -> bool {
        self.manifest.image_length.is_some()
            && !self.manifest.hardware_ids.is_empty()
            && self.manifest.release_counter.is_some()
    }
}

/// Most hardware ids one release manifest may name.
pub const RELEASE_HARDWARE_IDS_MAX: usize = 256;

/// How the SBOM of an AI model package is keyed in [`Meta::sboms`]:
/// `ai-model:<name>@<version>` (firmware SBOMs by their release).
pub const AI_MODEL_PREFIX: &str = "ai-model:";

/// Most parts one SBOM may be registered in.
pub const SBOM_PARTS_MAX: u32 = 256;
/// Most components in one SBOM part (the payload limit bounds it too).
pub const SBOM_PART_COMPONENTS_MAX: usize = 4096;
/// Most model-level statements kept per model subject (VEX and risks each).
pub const MODEL_RECORDS_MAX: usize = 100_000;

/// The SBOM registered for a firmware release (its parts' components live
/// in the state, by entry: [`State::sbom_part`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SbomRef {
    /// Who registered it.
    pub issuer: StakeholderId,
    /// The original document's format.
    pub format: String,
    /// SHA-256 of the original document, hex.
    pub document_sha256: String,
    /// Parts announced.
    pub parts: u32,
    /// Part number → its entry.
    pub entries: BTreeMap<u32, u64>,
    /// Components registered so far (all parts).
    pub components: u64,
}

impl SbomRef {
    /// Whether every announced part is registered.
    pub fn is_complete(&self) -> bool {
        self.entries.len() as u64 == u64::from(self.parts)
    }
}

/// A VEX statement scoped to a firmware release (a `vulnerability-assessment`
/// on a model subject).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseVex {
    /// Its entry.
    pub entry: u64,
    /// Who signed it.
    pub issuer: StakeholderId,
    /// The release.
    pub release: String,
    /// The vulnerability.
    pub vulnerability: String,
    /// The status.
    pub status: crate::statement::VexStatus,
    /// Justification, if any.
    pub justification: Option<String>,
    /// The component, if it is about one.
    pub component: Option<String>,
    /// Impact statement, if any.
    pub impact: Option<String>,
}

/// A manufacturer's announced release plan for a model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleasePlanRecord {
    /// Its entry.
    pub entry: u64,
    /// Who announced it.
    pub issuer: StakeholderId,
    /// The plan (validated).
    pub plan: risk::ReleasePlan,
}

/// A risk recorded and decided on a model (threat-model findings, and
/// decisions on the risks of a firmware release): its statements in log order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelRisk {
    /// (entry, issuer, statement) in log order.
    pub history: Vec<(u64, StakeholderId, StatementBody)>,
}

/// Where twins and claims live: in memory ([`MemState`]) or in a store. The
/// projection reads through it and writes whole objects back; everything
/// else it keeps in [`Meta`].
pub trait State {
    /// The twin of `device`.
    fn twin(&self, device: &DeviceId) -> Option<Twin>;
    /// The claim registered as `entry`.
    fn claim(&self, entry: u64) -> Option<Claim>;
    /// Stores `twin` (a state that keeps secondary indexes finds the value
    /// it replaces itself: most writes replace one it already holds).
    fn put_twin(&mut self, twin: Twin);
    /// Stores `claim`.
    fn put_claim(&mut self, claim: Claim);
    /// Records that `entry` (of type `kind`, signed by `issuer`) is about `device`.
    fn record(&mut self, device: &DeviceId, entry: u64, kind: &str, issuer: &StakeholderId);
    /// Stores the components of the SBOM part registered as `entry`.
    fn put_sbom_part(&mut self, entry: u64, components: Vec<SbomComponent>);
    /// The components of the SBOM part registered as `entry`.
    fn sbom_part(&self, entry: u64) -> Option<Vec<SbomComponent>>;
    /// Records that the statement of `entry` names the SHA-256 `digest` in
    /// its field `field` (see [`StatementBody::digests`]).
    fn record_digest(&mut self, digest: [u8; 32], entry: u64, field: &'static str);
}

/// Twins and claims in memory (tests, the pure benchmark, the demo's check).
#[derive(Debug, Clone, Default)]
pub struct MemState {
    twins: BTreeMap<DeviceId, Twin>,
    claims: HashMap<u64, Claim>,
    history: HashMap<DeviceId, Vec<(u64, String)>>,
    sbom_parts: HashMap<u64, Vec<SbomComponent>>,
    digests: BTreeMap<([u8; 32], u64), &'static str>,
}

impl MemState {
    /// Every twin, by id.
    pub fn twins(&self) -> impl Iterator<Item = &Twin> {
        self.twins.values()
    }

    /// Every entry about `device`, in log order.
    pub fn history(&self, device: &DeviceId) -> &[(u64, String)] {
        self.history.get(device).map(Vec::as_slice).unwrap_or(&[])
    }

    /// The entries whose statements name `digest`, with the field, in log
    /// order.
    pub fn digest_entries(&self, digest: &[u8; 32]) -> Vec<(u64, &'static str)> {
        self.digests
            .range((*digest, 0)..=(*digest, u64::MAX))
            .map(|((_, entry), field)| (*entry, *field))
            .collect()
    }
}

impl State for MemState {
    fn twin(&self, device: &DeviceId) -> Option<Twin> {
        self.twins.get(device).cloned()
    }
    fn claim(&self, entry: u64) -> Option<Claim> {
        self.claims.get(&entry).cloned()
    }
    fn put_twin(&mut self, twin: Twin) {
        self.twins.insert(twin.device.clone(), twin);
    }
    fn put_claim(&mut self, claim: Claim) {
        self.claims.insert(claim.entry, claim);
    }
    fn record(&mut self, device: &DeviceId, entry: u64, kind: &str, _issuer: &StakeholderId) {
        self.history
            .entry(device.clone())
            .or_default()
            .push((entry, kind.to_string()));
    }
    fn put_sbom_part(&mut self, entry: u64, components: Vec<SbomComponent>) {
        self.sbom_parts.insert(entry, components);
    }
    fn sbom_part(&self, entry: u64) -> Option<Vec<SbomComponent>> {
        self.sbom_parts.get(&entry).cloned()
    }
    fn record_digest(&mut self, digest: [u8; 32], entry: u64, field: &'static str) {
        self.digests.insert((digest, entry), field);
    }
}

/// What the projection keeps besides twins and claims: small, kept in memory
/// and persisted whole.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Meta {
    /// The consensus policy.
    pub policy: ConsensusPolicy,
    /// Stakeholders and keys.
    pub registry: Registry,
    /// Audit grants in force: the only source of the auditor role on a device.
    #[serde(default)]
    pub audits: crate::audit::AuditGrants,
    /// Firmware releases by model subject.
    pub releases: BTreeMap<String, Vec<Release>>,
    /// Each stakeholder's current sharing policy, with its entry.
    pub sharing: BTreeMap<StakeholderId, (u64, SharingPolicy)>,
    /// Every published policy version (sharing, transparency, AI use).
    #[serde(default)]
    pub published: crate::published::Published,
    /// SBOMs by model subject, then release.
    #[serde(default)]
    pub sboms: BTreeMap<String, BTreeMap<String, SbomRef>>,
    /// VEX statements scoped to releases, by model subject, in log order.
    #[serde(default)]
    pub release_vex: BTreeMap<String, Vec<ReleaseVex>>,
    /// Announced release plans, by model subject.
    #[serde(default)]
    pub release_plans: BTreeMap<String, ReleasePlanRecord>,
    /// Risks recorded and decided on models, by model subject, then risk id.
    #[serde(default)]
    pub model_risks: BTreeMap<String, BTreeMap<String, ModelRisk>>,
    /// Registered custom statement types, by name.
    #[serde(default)]
    pub custom_types: BTreeMap<String, CustomType>,
    /// The manufacturers' CRA report cases ([`crate::cra`]).
    #[serde(default)]
    pub cra: crate::cra::Cases,
    /// The support periods promised, by model subject ([`crate::cra`]).
    #[serde(default)]
    pub support: crate::cra::SupportPeriods,
    /// The deployment's built-in statement types, by name: given when the
    /// projection is opened ([`Projection::with_builtin_types`]), never
    /// persisted, so that they are the same on every fold of the log.
    #[serde(skip)]
    pub builtin_types: std::sync::Arc<BuiltinTypes>,
    /// Each issuer's latest `iat` per attribute of models and stakeholders,
    /// by subject.
    #[serde(default)]
    pub clocks: BTreeMap<String, IssuerClocks>,
    /// Compiled schemas of the custom types (a cache).
    #[serde(skip)]
    pub validators: Validators,
    /// The log position from which the statements' digests are indexed
    /// ([`State::record_digest`]): 0 for a projection that always indexed
    /// them, the size it had when it first ran with the index otherwise (a
    /// `reindex` indexes the whole log).
    #[serde(default)]
    pub digests_from: Option<u64>,
    /// Statements applied.
    pub applied: u64,
    /// Entries refused (statements that do not fit the model, or foreign entries).
    pub refused: u64,
    /// Log entries processed: the projection reflects the log prefix `[0, size)`.
    pub size: u64,
}

impl Meta {
    /// Rebuilds caches after deserializing.
    pub fn reload(&mut self) {
        self.registry.reparse();
    }
}

/// A registered custom statement type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomType {
    /// Who registered it.
    pub owner: StakeholderId,
    /// The registering entry.
    pub entry: u64,
    /// Its JSON Schema.
    pub schema: serde_json::Value,
    /// What it records.
    pub description: Option<String>,
    /// The payload field, an object, whose members set the twin's
    /// [`Twin::asset_attributes`], if statements of the type set any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sets_attributes: Option<String>,
}

/// A statement type that a deployment defines in code instead of in the
/// log: a custom type (its statements are [`StatementBody::Custom`], checked
/// against its schema, classed as [`AttributeClass::Custom`]) that needs no
/// `statement-type-registered` entry, so that logs written before any
/// registration still replay. Its name may be any statement type name that
/// the core vocabulary does not use ([`crate::statement::TYPES`]).
///
/// The fold's determinism holds for a given set of built-in types: every
/// fold of one log (serving, `reindex`, offline tools) must be given the
/// same set, which is why the product gives them in one place.
#[derive(Debug, Clone, PartialEq)]
pub struct BuiltinType {
    /// The statement type's name, e.g. `acme-event`.
    pub name: String,
    /// The JSON Schema its payload (without `type` and `v`) must satisfy.
    pub schema: serde_json::Value,
    /// Who may assert it, who must endorse it.
    pub rule: crate::consensus::Rule,
    /// The payload field, an object, whose members set the twin's
    /// [`Twin::asset_attributes`], if any.
    pub sets_attributes: Option<String>,
    /// The payload field that holds a firmware update section
    /// ([`crate::update::UpdateSection`]), if statements of the type may
    /// carry one: the device's own statement is then kept as its latest
    /// update ([`Twin::updates`]), and an `installed` one sets the twin's
    /// firmware exactly as the device's `firmware-installed` would.
    pub update_field: Option<String>,
    /// What it records.
    pub description: String,
}

/// A deployment's built-in statement types, by name, and which of them
/// are *keyed* ([`BuiltinTypes::keyed`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BuiltinTypes(BTreeMap<String, BuiltinType>, BTreeMap<String, Vec<String>>);

/// Separates a keyed type's name from its key in an [`AttributeClass::Custom`]
/// class (`finding-suppressed ["RULE",null]`): no statement type name holds it.
pub const KEY_SEPARATOR: char = ' ';
/// Most payload fields a keyed type's key is made of.
pub const KEY_FIELDS_MAX: usize = 4;
/// Most keyed claims one twin keeps, over every keyed type (a statement that
/// would add one more is refused): the twin is read whole on every statement
/// about the device.
pub const KEYED_CLAIMS_MAX: usize = 1024;

/// The class of a statement of keyed type `name` whose key fields hold
/// `values` (in the order [`BuiltinTypes::keyed`] named them; `None` for a
/// field left out): `<name> <values as a JSON array>`, one class per key.
pub fn keyed_class(name: &str, values: &[Option<&serde_json::Value>]) -> AttributeClass {
    let key: Vec<serde_json::Value> = values
        .iter()
        .map(|v| v.cloned().unwrap_or(serde_json::Value::Null))
        .collect();
    AttributeClass::Custom(format!(
        "{name}{KEY_SEPARATOR}{}",
        serde_json::Value::Array(key)
    ))
}

/// The statement type of a custom class (the class's name without a key),
/// and whether it is keyed.
pub fn custom_type_of(class_key: &str) -> (&str, bool) {
    match class_key.split_once(KEY_SEPARATOR) {
        Some((name, _)) => (name, true),
        None => (class_key, false),
    }
}

impl BuiltinTypes {
    /// The set of `types` (a later type of the same name replaces an earlier one).
    ///
    /// # Errors
    /// A name of the core vocabulary, a name that is not `[a-z0-9-/.]`, or
    /// a schema that is not a valid JSON Schema: a programming error of the
    /// deployment, reported at start.
    pub fn new(types: impl IntoIterator<Item = BuiltinType>) -> Result<BuiltinTypes, String> {
        let mut map = BTreeMap::new();
        for t in types {
            if crate::statement::TYPES.contains(&t.name.as_str()) || t.name == "custom" {
                return Err(format!("{:?} is a core statement type", t.name));
            }
            let well_formed = !t.name.is_empty()
                && t.name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-./".contains(&b));
            if !well_formed {
                return Err(format!("{:?} is not a statement type name", t.name));
            }
            if let Err(e) = jsonschema::validator_for(&t.schema) {
                return Err(format!("the schema of {:?} is not valid: {e}", t.name));
            }
            map.insert(t.name.clone(), t);
        }
        Ok(BuiltinTypes(map, BTreeMap::new()))
    }

    /// These types with `name` *keyed* by the payload `fields`: a twin
    /// keeps the latest claim of the type per value of those fields (as it
    /// keeps one vulnerability assessment per vulnerability), instead of the
    /// latest claim of the type. Its claims are classed
    /// [`keyed_class`]`(name, values)`, so issuer clocks, endorsements and
    /// disputes are per key too; the type's rule applies to every key.
    ///
    /// # Errors
    /// `name` is not one of these types, or `fields` is empty, longer than
    /// [`KEY_FIELDS_MAX`] or names something else than a simple field name:
    /// a programming error of the deployment, reported at start.
    pub fn keyed(mut self, name: &str, fields: &[&str]) -> Result<BuiltinTypes, String> {
        if !self.0.contains_key(name) {
            return Err(format!("{name:?} is not a built-in type"));
        }
        let simple = |f: &&str| {
            !f.is_empty()
                && f.len() <= 64
                && *f != "type"
                && *f != "v"
                && f.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        };
        if fields.is_empty() || fields.len() > KEY_FIELDS_MAX || !fields.iter().all(simple) {
            return Err(format!(
                "{name:?} is keyed by 1 to {KEY_FIELDS_MAX} payload field names, not {fields:?}"
            ));
        }
        self.1.insert(
            name.to_string(),
            fields.iter().map(|f| f.to_string()).collect(),
        );
        Ok(self)
    }

    /// The type named `name`.
    pub fn get(&self, name: &str) -> Option<&BuiltinType> {
        self.0.get(name)
    }

    /// The payload fields that key type `name`, if it is keyed.
    pub fn key_fields(&self, name: &str) -> Option<&[String]> {
        self.1.get(name).map(Vec::as_slice)
    }

    /// The class a statement asserts under these types: [`AttributeClass::of`],
    /// with a keyed type's key ([`BuiltinTypes::keyed`]).
    pub fn class_of(&self, body: &StatementBody) -> Option<AttributeClass> {
        if let StatementBody::Custom {
            custom_type,
            content,
        } = body
        {
            if let Some(fields) = self.key_fields(custom_type) {
                let values: Vec<Option<&serde_json::Value>> = fields
                    .iter()
                    .map(|f| content.get(f.as_str()).filter(|v| !v.is_null()))
                    .collect();
                return Some(keyed_class(custom_type, &values));
            }
        }
        AttributeClass::of(body)
    }

    /// Every type, by name.
    pub fn iter(&self) -> impl Iterator<Item = &BuiltinType> {
        self.0.values()
    }
}

/// What a fold is given besides the log: the consensus policy a new
/// projection starts with (a stored projection keeps its own) and the
/// deployment's built-in statement types (never stored). Every fold of one
/// log (serving, `reindex`, offline checks) must be given the same, for the
/// twins to be a function of the log.
#[derive(Debug, Clone, Default)]
pub struct FoldRules {
    /// The consensus policy of a new projection.
    pub policy: ConsensusPolicy,
    /// The deployment's built-in statement types.
    pub builtin_types: std::sync::Arc<BuiltinTypes>,
}

/// What the fold needs of a statement type that is not in the core
/// vocabulary, built in or registered.
struct TypeDef<'a> {
    schema: &'a serde_json::Value,
    sets_attributes: Option<&'a str>,
}

impl Meta {
    /// The built-in or registered custom type `name`.
    fn type_def(&self, name: &str) -> Option<TypeDef<'_>> {
        if let Some(t) = self.builtin_types.get(name) {
            return Some(TypeDef {
                schema: &t.schema,
                sets_attributes: t.sets_attributes.as_deref(),
            });
        }
        self.custom_types.get(name).map(|t| TypeDef {
            schema: &t.schema,
            sets_attributes: t.sets_attributes.as_deref(),
        })
    }

    /// The attributes a statement sets on its twin, if its type sets any.
    fn attributes_set<'b>(
        &self,
        body: &'b StatementBody,
    ) -> Result<Option<&'b serde_json::Map<String, serde_json::Value>>, ApplyError> {
        let StatementBody::Custom {
            custom_type,
            content,
        } = body
        else {
            return Ok(None);
        };
        let Some(field) = self.type_def(custom_type).and_then(|t| t.sets_attributes) else {
            return Ok(None);
        };
        match content.get(field) {
            None => Ok(None),
            Some(serde_json::Value::Object(m)) => Ok(Some(m)),
            Some(_) => Err(ApplyError::Invalid {
                kind: "custom",
                why: format!("{custom_type}: {field} must be an object"),
            }),
        }
    }
}

/// Largest JSON Schema of a custom type, in bytes.
pub const CUSTOM_SCHEMA_BYTES_MAX: usize = 16 * 1024;
/// Most custom types a log may register: a bound on [`Meta`]'s size (each
/// schema up to [`CUSTOM_SCHEMA_BYTES_MAX`], 16 MiB in all), which is held in
/// memory and persisted whole. Stakeholders are admitted by the registry
/// authority, so exhausting it takes this many / [`CUSTOM_TYPES_PER_STAKEHOLDER_MAX`]
/// registered organizations.
pub const CUSTOM_TYPES_MAX: usize = 1024;
/// Most custom types one stakeholder may register (its own namespace): one
/// organization cannot take the whole log's room for types.
pub const CUSTOM_TYPES_PER_STAKEHOLDER_MAX: usize = 32;

/// Compiled JSON Schemas by custom type name (rebuilt on demand).
#[derive(Default)]
pub struct Validators(std::sync::Mutex<HashMap<String, std::sync::Arc<jsonschema::Validator>>>);

impl Clone for Validators {
    fn clone(&self) -> Validators {
        Validators::default()
    }
}

impl std::fmt::Debug for Validators {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Validators")
    }
}

impl Validators {
    fn get(
        &self,
        name: &str,
        schema: &serde_json::Value,
    ) -> Result<std::sync::Arc<jsonschema::Validator>, String> {
        let mut cache = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(v) = cache.get(name) {
            return Ok(v.clone());
        }
        let v = std::sync::Arc::new(jsonschema::validator_for(schema).map_err(|e| e.to_string())?);
        cache.insert(name.to_string(), v.clone());
        Ok(v)
    }
}

/// The twins as a fold of the log: the policy, the registry and the releases
/// in [`Meta`], twins and claims in a [`State`].
#[derive(Debug, Clone, Default)]
pub struct Projection<S = MemState> {
    meta: Meta,
    state: S,
}

impl Projection<MemState> {
    /// An empty projection under `policy`, in memory.
    pub fn new(policy: ConsensusPolicy) -> Projection<MemState> {
        Projection::with_state(
            Meta {
                policy,
                ..Meta::default()
            },
            MemState::default(),
        )
    }

    /// Every twin, by id.
    pub fn twins(&self) -> impl Iterator<Item = &Twin> {
        self.state.twins()
    }
}

impl<S: State> Projection<S> {
    /// A projection resuming from `meta` over `state`.
    pub fn with_state(mut meta: Meta, state: S) -> Projection<S> {
        meta.digests_from.get_or_insert(meta.size);
        Projection { meta, state }
    }

    /// This projection with the deployment's built-in statement types (see
    /// [`BuiltinType`]): their rules join the consensus policy.
    pub fn with_builtin_types(mut self, types: std::sync::Arc<BuiltinTypes>) -> Projection<S> {
        for t in types.iter() {
            self.meta
                .policy
                .rules
                .insert(t.name.clone(), t.rule.clone());
        }
        self.meta.builtin_types = types;
        self
    }

    /// Statements applied so far.
    pub fn applied(&self) -> u64 {
        self.meta.applied
    }

    /// The metadata (registry, releases, policies, counters).
    pub fn meta(&self) -> &Meta {
        &self.meta
    }

    /// The metadata, to advance `size` or count refusals.
    pub fn meta_mut(&mut self) -> &mut Meta {
        &mut self.meta
    }

    /// The state.
    pub fn state(&self) -> &S {
        &self.state
    }

    /// The state, mutably (to flush it).
    pub fn state_mut(&mut self) -> &mut S {
        &mut self.state
    }

    /// The stakeholder registry.
    pub fn registry(&self) -> &Registry {
        &self.meta.registry
    }

    /// The twin of `device`.
    pub fn twin(&self, device: &DeviceId) -> Option<Twin> {
        self.state.twin(device)
    }

    /// The claim registered as `entry`.
    pub fn claim(&self, entry: u64) -> Option<Claim> {
        self.state.claim(entry)
    }

    /// Firmware releases of a model subject (`model:<vendor>/<model>`).
    pub fn releases(&self, model_subject: &str) -> &[Release] {
        self.meta
            .releases
            .get(model_subject)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// The roles `issuer` holds on `twin`.
    pub fn roles_of(&self, issuer: &StakeholderId, twin: &Twin) -> BTreeSet<Role> {
        roles_of(&self.meta, issuer, twin)
    }

    /// The consensus status of a claim.
    pub fn status_of(&self, claim: &Claim) -> Option<Status> {
        status_of(&self.meta.policy, claim)
    }

    /// The consensus status of the claim `entry`.
    pub fn status(&self, entry: u64) -> Option<Status> {
        self.status_of(&self.state.claim(entry)?)
    }

    /// The twin of `device` with each current attribute's status.
    pub fn view(&self, device: &DeviceId) -> Option<TwinView> {
        view(&self.meta.policy, &self.state, device)
    }

    /// Checks what [`Projection::apply`] would do with `s` without changing
    /// anything: the registration pre-check.
    pub fn check(&self, s: Registered<'_>) -> Result<Applied, ApplyError> {
        Ok(self.plan(s)?.0.applied())
    }

    /// Applies one registered statement (see the module documentation): all
    /// checks first, then the changes, so a refusal changes nothing.
    pub fn apply(&mut self, s: Registered<'_>) -> Result<Applied, ApplyError> {
        let parsed = StatementBody::parse_delegated(s.payload);
        self.apply_parsed(s, parsed)
    }

    /// [`Projection::apply`] with the payload already parsed by
    /// [`StatementBody::parse_delegated`] (a fold parses ahead, on other
    /// cores). `parsed` must be what that function answers for `s.payload`.
    pub fn apply_parsed(
        &mut self,
        s: Registered<'_>,
        parsed: Result<Delegated, StatementParseError>,
    ) -> Result<Applied, ApplyError> {
        let entry = s.entry;
        let mut digests = Vec::new();
        if let Ok(d) = &parsed {
            digests = d.body.digests();
        }
        let (plan, clock) = self.plan_parsed(s, parsed)?;
        let applied = plan.applied();
        self.commit(plan);
        for (field, digest) in digests {
            self.state.record_digest(digest, entry, field);
        }
        if let Some((subject, mark)) = clock {
            self.meta
                .clocks
                .entry(subject)
                .or_default()
                .advance(mark.key, mark.issued_at);
        }
        self.meta.applied += 1;
        Ok(applied)
    }

    /// The stakeholder a policy statement is about, which must be its issuer.
    fn policy_owner(
        subject: &str,
        issuer: &StakeholderId,
        kind: &'static str,
    ) -> Result<StakeholderId, ApplyError> {
        let owner = crate::registry::stakeholder_of(subject)
            .ok_or_else(|| RegistryError::NotAStakeholder(subject.to_string()))?;
        if &owner != issuer {
            return Err(crate::published::PublishedError::NotTheirs {
                issuer: issuer.0.clone(),
                owner: owner.0,
                kind,
            }
            .into());
        }
        Ok(owner)
    }

    fn device_of(subject: &str, kind: &'static str) -> Result<DeviceId, ApplyError> {
        DeviceId::from_subject(subject).ok_or_else(|| ApplyError::NotADevice {
            subject: subject.to_string(),
            kind,
        })
    }

    /// Every check; the plan says what to change.
    fn plan(&self, s: Registered<'_>) -> Result<(Plan, Option<(String, ClockMark)>), ApplyError> {
        let parsed = StatementBody::parse_delegated(s.payload);
        self.plan_parsed(s, parsed)
    }

    /// [`Projection::plan`] of a payload parsed by
    /// [`StatementBody::parse_delegated`]; custom types are parsed here,
    /// under the schemas registered so far.
    fn plan_parsed(
        &self,
        s: Registered<'_>,
        parsed: Result<Delegated, StatementParseError>,
    ) -> Result<(Plan, Option<(String, ClockMark)>), ApplyError> {
        let parsed = match parsed {
            Ok(b) => b,
            Err(StatementParseError::UnknownType(kind)) => match self.meta.type_def(&kind) {
                Some(t) => {
                    let parsed = StatementBody::parse_custom_delegated(s.payload, &kind)?;
                    let body = &parsed.body;
                    if let StatementBody::Custom { content, .. } = &body {
                        let validator =
                            self.meta.validators.get(&kind, t.schema).map_err(|why| {
                                StatementParseError::SchemaViolation {
                                    kind: kind.clone(),
                                    why,
                                }
                            })?;
                        let instance = serde_json::Value::Object(content.clone());
                        if let Err(e) = validator.validate(&instance) {
                            return Err(StatementParseError::SchemaViolation {
                                kind,
                                why: format!("{} at {}", e, e.instance_path),
                            }
                            .into());
                        }
                    }
                    parsed
                }
                None => return Err(StatementParseError::UnknownType(kind).into()),
            },
            Err(e) => return Err(e.into()),
        };
        let body = parsed.body;
        let (issuer, signed_by) = self.effective_issuer(s.issuer, parsed.on_behalf_of, &body)?;
        // A twin's clocks are checked and moved with the twin (plan_assert,
        // plan_support); a model's or stakeholder's here.
        let clock = if DeviceId::from_subject(s.subject).is_none() {
            ClockMark::check(
                self.meta.clocks.get(s.subject),
                || ClockKey::new(&[&clock_attribute(&body)], &issuer),
                || clock_attribute(&body),
                &issuer,
                s.issued_at,
            )?
            .map(|mark| (s.subject.to_string(), mark))
        } else {
            None
        };
        Ok((self.plan_body(&s, issuer, signed_by, body)?, clock))
    }

    /// The plan of a parsed statement by its effective issuer.
    fn plan_body(
        &self,
        s: &Registered<'_>,
        issuer: StakeholderId,
        signed_by: Option<StakeholderId>,
        body: StatementBody,
    ) -> Result<Plan, ApplyError> {
        let s = *s;
        let registry = &self.meta.registry;
        match body {
            StatementBody::Endorse { entry } => self.plan_support(&s, issuer, entry, None),
            StatementBody::Dispute { entry, reason } => {
                self.plan_support(&s, issuer, entry, Some(reason))
            }
            StatementBody::FirmwareReleased {
                version,
                image_sha256,
                sbom,
                image_sha512,
                image_length,
                hardware_ids,
                release_counter,
                min_version,
                vex,
                support_end,
                build_attestation,
            } => {
                self.check_model_manufacturer(&s, &issuer)?;
                let manifest = ReleaseManifest {
                    image_sha512,
                    image_length,
                    hardware_ids,
                    release_counter,
                    min_version,
                    vex,
                    support_end,
                    build_attestation,
                };
                self.check_manifest(s.subject, &image_sha256, &manifest)?;
                Ok(Plan::Release {
                    subject: s.subject.to_string(),
                    release: Release {
                        entry: s.entry,
                        issuer,
                        version,
                        image_sha256,
                        sbom,
                        manifest,
                        withdrawn: None,
                        issued_at: s.issued_at,
                    },
                })
            }
            StatementBody::FirmwareWithdrawn { version, .. } => {
                self.check_releaser(&s, &issuer, &version)?;
                Ok(Plan::Withdraw {
                    subject: s.subject.to_string(),
                    version,
                    entry: s.entry,
                })
            }
            StatementBody::StakeholderRegistered { name, roles, keys } => {
                let id = registry.check_register(s.issuer, s.subject, &keys)?;
                Ok(Plan::Registry(RegistryPlan::Register {
                    entry: s.entry,
                    id,
                    name,
                    roles,
                    keys,
                }))
            }
            StatementBody::KeyAdded { key } => {
                let id = registry.check_add_key(s.issuer, s.subject, &key)?;
                Ok(Plan::Registry(RegistryPlan::AddKey {
                    entry: s.entry,
                    id,
                    key,
                }))
            }
            StatementBody::KeyRevoked { kid, .. } => {
                let id = registry.check_revoke(s.issuer, s.subject, &kid)?;
                Ok(Plan::Registry(RegistryPlan::Revoke {
                    entry: s.entry,
                    id,
                    kid,
                }))
            }
            StatementBody::SharingPolicy { policy } => {
                let owner = crate::registry::stakeholder_of(s.subject)
                    .ok_or_else(|| RegistryError::NotAStakeholder(s.subject.to_string()))?;
                if owner != issuer {
                    return Err(ApplyError::Policy(format!(
                        "{} may not publish the sharing policy of {}",
                        issuer.0, owner.0
                    )));
                }
                let parsed = SharingPolicy::parse(&policy)?;
                parsed.unknown_types(|name| self.meta.builtin_types.get(name).is_some())?;
                Ok(Plan::Sharing {
                    entry: s.entry,
                    owner,
                    version: PolicyVersion {
                        entry: s.entry,
                        kind: PolicyKind::Sharing,
                        id: parsed.id().to_string(),
                        policy,
                        superseded_by: None,
                    },
                    policy: parsed,
                })
            }
            StatementBody::TransparencyPolicy { policy } => {
                let owner = Self::policy_owner(s.subject, &issuer, "transparency")?;
                let id = TransparencyPolicy::parse(&policy)?.id;
                Ok(Plan::Publish {
                    owner,
                    version: PolicyVersion {
                        entry: s.entry,
                        kind: PolicyKind::Transparency,
                        id,
                        policy,
                        superseded_by: None,
                    },
                })
            }
            StatementBody::AiUsePolicy { policy } => {
                let owner = Self::policy_owner(s.subject, &issuer, "ai-use")?;
                let id = AiUsePolicy::parse(&policy)?.id;
                Ok(Plan::Publish {
                    owner,
                    version: PolicyVersion {
                        entry: s.entry,
                        kind: PolicyKind::AiUse,
                        id,
                        policy,
                        superseded_by: None,
                    },
                })
            }
            StatementBody::SecurityProfile { policy } => {
                let owner = Self::policy_owner(s.subject, &issuer, "security-profile")?;
                let id = SecurityProfile::parse(&policy)?.id;
                Ok(Plan::Publish {
                    owner,
                    version: PolicyVersion {
                        entry: s.entry,
                        kind: PolicyKind::SecurityProfile,
                        id,
                        policy,
                        superseded_by: None,
                    },
                })
            }
            StatementBody::ThreatModel { policy } => {
                let owner = Self::policy_owner(s.subject, &issuer, "threat-model")?;
                let id = ThreatModelDoc::parse(&policy)?.id;
                Ok(Plan::Publish {
                    owner,
                    version: PolicyVersion {
                        entry: s.entry,
                        kind: PolicyKind::ThreatModel,
                        id,
                        policy,
                        superseded_by: None,
                    },
                })
            }
            StatementBody::CraCaseOpened {
                case,
                kind,
                vulnerability,
                source,
                products,
                evidence,
            } => {
                let manufacturer = Self::subject_stakeholder(s.subject)?;
                if registry.authority().is_some() {
                    if !registry.has_role(&manufacturer, Role::Manufacturer) {
                        return Err(ApplyError::NotAManufacturer(manufacturer.0));
                    }
                    if registry.get(&issuer).is_none() {
                        return Err(RegistryError::UnknownIssuer(issuer.0).into());
                    }
                }
                let opening = crate::cra::Opening {
                    case,
                    kind,
                    vulnerability,
                    source,
                    products,
                    evidence,
                };
                Ok(Plan::Cra(self.meta.cra.check_open(
                    manufacturer,
                    opening,
                    Self::cra_stamp(&s, issuer),
                )?))
            }
            StatementBody::CraAwareness { case, aware_at } => {
                let manufacturer = Self::subject_stakeholder(s.subject)?;
                Ok(Plan::Cra(self.meta.cra.check_awareness(
                    manufacturer,
                    case,
                    aware_at,
                    Self::cra_stamp(&s, issuer),
                )?))
            }
            StatementBody::CraReport { case, stage, .. } => {
                let manufacturer = Self::subject_stakeholder(s.subject)?;
                Ok(Plan::Cra(self.meta.cra.check_report(
                    manufacturer,
                    case,
                    stage,
                    Self::cra_stamp(&s, issuer),
                )?))
            }
            StatementBody::SupportPeriod { end, note } => {
                self.check_model_manufacturer(&s, &issuer)?;
                if let Some(releaser) = self
                    .meta
                    .releases
                    .get(s.subject)
                    .and_then(|r| r.first())
                    .map(|r| &r.issuer)
                {
                    if releaser != &issuer {
                        return Err(ApplyError::Invalid {
                            kind: "support-period",
                            why: format!(
                                "{} releases {}: only it promises its support period",
                                releaser.0, s.subject
                            ),
                        });
                    }
                }
                if note
                    .as_ref()
                    .is_some_and(|n| n.len() > crate::cra::SUPPORT_NOTE_BYTES_MAX)
                {
                    return Err(ApplyError::Invalid {
                        kind: "support-period",
                        why: format!("note: at most {} bytes", crate::cra::SUPPORT_NOTE_BYTES_MAX),
                    });
                }
                Ok(Plan::SupportPeriod {
                    subject: s.subject.to_string(),
                    promise: crate::cra::SupportPromise {
                        stamp: Self::cra_stamp(&s, issuer),
                        end,
                        note,
                    },
                })
            }
            StatementBody::AuditGranted {
                grant,
                auditor,
                devices,
                not_before,
                not_after,
            } => {
                let grantor = self.audit_grantor(s.subject, &issuer)?;
                let registry = &self.meta.registry;
                let registered = |id: &StakeholderId| {
                    registry.authority().is_none() || registry.get(id).is_some()
                };
                let grant = crate::audit::AuditGrant {
                    grantor,
                    id: grant,
                    auditor,
                    devices,
                    not_before,
                    not_after,
                    entry: s.entry,
                };
                Ok(Plan::Audit(
                    self.meta.audits.check_grant(grant, registered)?,
                ))
            }
            StatementBody::AuditRevoked { grant } => {
                let grantor = self.audit_grantor(s.subject, &issuer)?;
                Ok(Plan::Audit(self.meta.audits.check_revoke(grantor, grant)?))
            }
            StatementBody::StatementTypeRegistered {
                name,
                schema,
                asserted_by,
                endorsed_by,
                description,
                sets_attributes,
            } => {
                let owner = crate::registry::stakeholder_of(s.subject)
                    .ok_or_else(|| RegistryError::NotAStakeholder(s.subject.to_string()))?;
                let refuse = |why: String| {
                    Err(ApplyError::CustomType {
                        name: name.clone(),
                        why,
                    })
                };
                if owner != issuer {
                    return refuse(format!("{} may register types only as itself", issuer.0));
                }
                if !crate::sharing::is_custom_type_name(&name) {
                    return refuse(
                        "names are namespace/name: lower-case letters, digits, dots and dashes, then lower-case letters, digits and dashes".into(),
                    );
                }
                // A namespace is the stakeholder id it carries, exactly: an
                // organization registers only `<its id>/<name>` (the registry
                // authority may do it for it with `on_behalf_of`). Checked
                // before anything is looked up, so the refusal says nothing
                // about the types of the namespace's owner.
                if name.split_once('/').map(|(ns, _)| ns) != Some(owner.0.as_str()) {
                    return refuse(format!(
                        "{} may register types only in its own namespace, {}/<name>",
                        owner.0, owner.0
                    ));
                }
                if self.meta.custom_types.contains_key(&name) {
                    return refuse("already registered".into());
                }
                let own = self
                    .meta
                    .custom_types
                    .values()
                    .filter(|t| t.owner == owner)
                    .count();
                if own >= CUSTOM_TYPES_PER_STAKEHOLDER_MAX {
                    return refuse(format!(
                        "a stakeholder registers at most {CUSTOM_TYPES_PER_STAKEHOLDER_MAX} custom types"
                    ));
                }
                if self.meta.custom_types.len() >= CUSTOM_TYPES_MAX {
                    return refuse(format!(
                        "a log holds at most {CUSTOM_TYPES_MAX} custom types"
                    ));
                }
                if schema.to_string().len() > CUSTOM_SCHEMA_BYTES_MAX {
                    return refuse(format!(
                        "the schema exceeds {CUSTOM_SCHEMA_BYTES_MAX} bytes"
                    ));
                }
                if let Err(e) = jsonschema::validator_for(&schema) {
                    return refuse(format!("the schema is not a valid JSON Schema: {e}"));
                }
                if let Some(field) = &sets_attributes {
                    let simple = !field.is_empty()
                        && field.len() <= 64
                        && field
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
                    if !simple || field == "type" || field == "v" {
                        return refuse(format!(
                            "sets_attributes names a payload field: 1 to 64 letters, digits, '_' or '-', not {field:?}"
                        ));
                    }
                }
                let asserted_by = if asserted_by.is_empty() {
                    Role::ALL.to_vec()
                } else {
                    asserted_by
                };
                Ok(Plan::CustomType {
                    name,
                    rule: crate::consensus::Rule::new(&asserted_by, &endorsed_by),
                    custom: CustomType {
                        owner,
                        entry: s.entry,
                        schema,
                        description,
                        sets_attributes,
                    },
                })
            }
            StatementBody::SbomRegistered {
                release,
                format,
                document_sha256,
                part,
                parts,
                components,
                ai_model,
            } => {
                let kind = "sbom-registered";
                let invalid = |why: String| Err(ApplyError::Invalid { kind, why });
                // Firmware SBOMs are keyed by release; AI model packages' by
                // `ai-model:<name>@<version>`.
                let release = match &ai_model {
                    None => {
                        self.check_releaser(&s, &issuer, &release)?;
                        release
                    }
                    Some(name) => {
                        self.check_model_manufacturer(&s, &issuer)?;
                        let bad = |t: &str| {
                            t.trim().is_empty()
                                || t.len() > 128
                                || t.contains('@')
                                || t.chars().any(char::is_control)
                        };
                        if bad(name) || bad(&release) {
                            return invalid(
                                "ai_model and release must be 1 to 128 characters, without '@'"
                                    .into(),
                            );
                        }
                        format!("{AI_MODEL_PREFIX}{name}@{release}")
                    }
                };
                if !is_sha256_hex(&document_sha256) {
                    return invalid("document_sha256 must be 64 hex digits".into());
                }
                if parts == 0 || parts > SBOM_PARTS_MAX || part == 0 || part > parts {
                    return invalid(format!(
                        "part {part} of {parts}: parts must be 1..={SBOM_PARTS_MAX} and part 1..=parts"
                    ));
                }
                if components.len() > SBOM_PART_COMPONENTS_MAX {
                    return invalid(format!(
                        "{} components in one part (at most {SBOM_PART_COMPONENTS_MAX})",
                        components.len()
                    ));
                }
                if format.trim().is_empty() || format.len() > 64 {
                    return invalid("format must be 1 to 64 characters".into());
                }
                for (i, c) in components.iter().enumerate() {
                    if c.name.trim().is_empty() {
                        return invalid(format!("component {i} has an empty name"));
                    }
                    if let Some(h) = &c.sha256 {
                        if !is_sha256_hex(h) {
                            return invalid(format!("component {i}: sha256 must be 64 hex digits"));
                        }
                    }
                }
                if let Some(existing) = self.meta.sboms.get(s.subject).and_then(|m| m.get(&release))
                {
                    if existing.document_sha256 == document_sha256
                        && existing.entries.contains_key(&part)
                    {
                        return invalid(format!("part {part} of this SBOM is registered already"));
                    }
                    if existing.document_sha256 == document_sha256 && existing.parts != parts {
                        return invalid(format!(
                            "this SBOM was announced in {} parts, not {parts}",
                            existing.parts
                        ));
                    }
                }
                Ok(Plan::Sbom(Box::new(SbomPlan {
                    entry: s.entry,
                    subject: s.subject.to_string(),
                    release,
                    issuer,
                    format,
                    document_sha256,
                    part,
                    parts,
                    components,
                })))
            }
            StatementBody::ReleasePlan { current, releases } => {
                let kind = "release-plan";
                self.check_model_manufacturer(&s, &issuer)?;
                let invalid = |why: String| ApplyError::Invalid { kind, why };
                let current = risk::Version::parse(&current).map_err(|e| invalid(e.to_string()))?;
                let mut planned = Vec::with_capacity(releases.len());
                for r in &releases {
                    planned.push(risk::Release {
                        version: risk::Version::parse(&r.version)
                            .map_err(|e| invalid(e.to_string()))?,
                        date: risk::Date::parse(&r.date).map_err(|e| invalid(e.to_string()))?,
                    });
                }
                Ok(Plan::Roadmap {
                    subject: s.subject.to_string(),
                    record: ReleasePlanRecord {
                        entry: s.entry,
                        issuer,
                        plan: risk::ReleasePlan {
                            current,
                            releases: planned,
                        },
                    },
                })
            }
            StatementBody::VulnerabilityAssessment {
                vulnerability,
                status,
                justification,
                release,
                component,
                impact,
            } if s.subject.starts_with("model:") => {
                let Some(release) = release else {
                    return Err(ApplyError::Invalid {
                        kind: "vulnerability-assessment",
                        why: "on a model subject, name the firmware release it is about (release)"
                            .into(),
                    });
                };
                self.check_releaser(&s, &issuer, &release)?;
                self.check_model_room(self.meta.release_vex.get(s.subject).map_or(0, Vec::len))?;
                Ok(Plan::ReleaseVex {
                    subject: s.subject.to_string(),
                    vex: ReleaseVex {
                        entry: s.entry,
                        issuer,
                        release,
                        vulnerability,
                        status,
                        justification,
                        component,
                        impact,
                    },
                })
            }
            body @ (StatementBody::RiskRecorded { .. }
            | StatementBody::RiskAccepted { .. }
            | StatementBody::RiskMitigated { .. }
            | StatementBody::RiskTransferred { .. }
            | StatementBody::RiskFalsePositive { .. })
                if s.subject.starts_with("model:") =>
            {
                self.check_model_manufacturer(&s, &issuer)?;
                let risk = risk_id(&body).unwrap_or_default().to_string();
                let risks = self.meta.model_risks.get(s.subject);
                if !matches!(body, StatementBody::RiskRecorded { .. })
                    && !risk.starts_with("vuln/")
                    && risks.is_none_or(|r| !r.contains_key(&risk))
                {
                    return Err(ApplyError::Invalid {
                        kind: body.kind(),
                        why: format!("risk {risk:?} is not recorded on {}", s.subject),
                    });
                }
                self.check_model_room(risks.map_or(0, BTreeMap::len))?;
                Ok(Plan::ModelRisk {
                    subject: s.subject.to_string(),
                    risk,
                    event: (s.entry, issuer, body),
                })
            }
            body => self.plan_assert(&s, issuer, signed_by, body),
        }
    }

    /// The stakeholder a statement counts as issued by, and who signed it
    /// for them: a payload with `on_behalf_of` counts only when the registry
    /// authority signed it, and then as issued by the named (registered)
    /// stakeholder for every check. Registry statements cannot be delegated
    /// (their rules are about who signs).
    fn effective_issuer(
        &self,
        signer: &str,
        on_behalf_of: Option<StakeholderId>,
        body: &StatementBody,
    ) -> Result<(StakeholderId, Option<StakeholderId>), ApplyError> {
        let signer = StakeholderId(signer.to_string());
        let Some(principal) = on_behalf_of else {
            return Ok((signer, None));
        };
        let registry = &self.meta.registry;
        if registry.authority() != Some(&signer) {
            return Err(ApplyError::Delegation(format!(
                "only the registry authority signs on another stakeholder's behalf; {} is not it",
                signer.0
            )));
        }
        if matches!(
            body,
            StatementBody::StakeholderRegistered { .. }
                | StatementBody::KeyAdded { .. }
                | StatementBody::KeyRevoked { .. }
        ) {
            return Err(ApplyError::Delegation(format!(
                "{} statements cannot be signed on another stakeholder's behalf",
                body.kind()
            )));
        }
        if principal == signer {
            return Err(ApplyError::Delegation(
                "the authority signs its own statements without on_behalf_of".into(),
            ));
        }
        if registry.get(&principal).is_none() {
            return Err(ApplyError::Delegation(format!(
                "{} is not a registered stakeholder",
                principal.0
            )));
        }
        Ok((principal, Some(signer)))
    }

    /// The grantor of an audit statement: its subject's stakeholder, which
    /// must be its (effective) issuer.
    /// The stakeholder a `stakeholder:<id>` subject names.
    fn subject_stakeholder(subject: &str) -> Result<StakeholderId, ApplyError> {
        crate::registry::stakeholder_of(subject)
            .ok_or_else(|| RegistryError::NotAStakeholder(subject.to_string()).into())
    }

    fn cra_stamp(s: &Registered<'_>, by: StakeholderId) -> crate::cra::Stamp {
        crate::cra::Stamp {
            entry: s.entry,
            at: s.issued_at,
            by,
        }
    }

    fn audit_grantor(
        &self,
        subject: &str,
        issuer: &StakeholderId,
    ) -> Result<StakeholderId, ApplyError> {
        let grantor = crate::registry::stakeholder_of(subject)
            .ok_or_else(|| RegistryError::NotAStakeholder(subject.to_string()))?;
        if &grantor != issuer {
            return Err(crate::audit::AuditError::NotTheirs {
                issuer: issuer.0.clone(),
                grantor: grantor.0,
            }
            .into());
        }
        Ok(grantor)
    }

    /// The roles `issuer` asserts `body` about `twin` with: the auditor role
    /// counts only for an auditor's own findings ([`crate::audit`], rule 4),
    /// and only if the statement was issued (`iat`, signed, so the same at
    /// registration, in the fold and in a reindex) within an audit grant's
    /// window; a statement without `iat` (logs from before the rule) is
    /// judged by log order alone.
    fn asserting_roles(
        &self,
        issuer: &StakeholderId,
        twin: &Twin,
        kind: &str,
        issued_at: Option<i64>,
    ) -> Result<BTreeSet<Role>, ApplyError> {
        let mut held = match issued_at {
            Some(t) => roles_at(&self.meta, issuer, twin, t),
            None => self.roles_of(issuer, twin),
        };
        if crate::audit::AUDIT_FINDING_TYPES.contains(&kind) || !held.remove(&Role::Auditor) {
            return Ok(held);
        }
        if held.is_empty() {
            return Err(crate::audit::AuditError::ReadOnly {
                issuer: issuer.0.clone(),
                device: twin.device.to_string(),
                kind: kind.to_string(),
            }
            .into());
        }
        Ok(held)
    }

    fn check_model_manufacturer(
        &self,
        s: &Registered<'_>,
        issuer: &StakeholderId,
    ) -> Result<(), ApplyError> {
        if !s.subject.starts_with("model:") || s.subject.len() <= "model:".len() {
            return Err(ApplyError::NotAModel(s.subject.to_string()));
        }
        let registry = &self.meta.registry;
        if registry.authority().is_some() && !registry.has_role(issuer, Role::Manufacturer) {
            return Err(ApplyError::NotAManufacturer(issuer.0.clone()));
        }
        Ok(())
    }

    /// A release manifest's fields are well formed and its counter only grows.
    fn check_manifest(
        &self,
        subject: &str,
        image_sha256: &str,
        m: &ReleaseManifest,
    ) -> Result<(), ApplyError> {
        let invalid = |why: String| ApplyError::Invalid {
            kind: "firmware-released",
            why,
        };
        let is_hex = |s: &str, n: usize| {
            s.len() == n && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        };
        if (m.image_length.is_some() || !m.hardware_ids.is_empty() || m.release_counter.is_some())
            && !is_hex(image_sha256, 64)
        {
            return Err(invalid(format!(
                "image_sha256 {image_sha256:?} is not 64 lowercase hex digits (a manifest names the image's digest)"
            )));
        }
        if let Some(d) = &m.image_sha512 {
            if !is_hex(d, 128) {
                return Err(invalid(format!(
                    "image_sha512 {d:?} is not 128 lowercase hex digits"
                )));
            }
        }
        for (name, d) in [("vex", &m.vex), ("build_attestation", &m.build_attestation)] {
            if let Some(d) = d {
                if !is_hex(d, 64) {
                    return Err(invalid(format!(
                        "{name} {d:?} is not a SHA-256 (64 lowercase hex digits)"
                    )));
                }
            }
        }
        if m.hardware_ids.len() > RELEASE_HARDWARE_IDS_MAX {
            return Err(invalid(format!(
                "{} hardware ids; at most {RELEASE_HARDWARE_IDS_MAX}",
                m.hardware_ids.len()
            )));
        }
        if m.hardware_ids.iter().any(|h| h.is_empty() || h.len() > 256) {
            return Err(invalid(
                "a hardware id is empty or longer than 256 bytes".into(),
            ));
        }
        if let Some(d) = &m.support_end {
            risk::Date::parse(d).map_err(|e| invalid(format!("support_end: {e}")))?;
        }
        if let Some(v) = &m.min_version {
            risk::Version::parse(v).map_err(|e| invalid(format!("min_version: {e}")))?;
        }
        if let Some(c) = m.release_counter {
            let highest = self
                .releases(subject)
                .iter()
                .filter_map(|r| r.manifest.release_counter)
                .max();
            if let Some(h) = highest.filter(|h| c <= *h) {
                return Err(invalid(format!(
                    "release_counter {c} does not grow: an earlier release of {subject} has {h}"
                )));
            }
        }
        Ok(())
    }

    fn check_releaser(
        &self,
        s: &Registered<'_>,
        issuer: &StakeholderId,
        release: &str,
    ) -> Result<(), ApplyError> {
        self.check_model_manufacturer(s, issuer)?;
        let r = self
            .releases(s.subject)
            .iter()
            .rev()
            .find(|r| r.version == release)
            .ok_or_else(|| ApplyError::UnknownRelease {
                model: s.subject.to_string(),
                release: release.to_string(),
            })?;
        if &r.issuer != issuer {
            return Err(ApplyError::NotReleaser {
                issuer: issuer.0.clone(),
                model: s.subject.to_string(),
                release: release.to_string(),
            });
        }
        Ok(())
    }

    fn check_model_room(&self, n: usize) -> Result<(), ApplyError> {
        if n >= MODEL_RECORDS_MAX {
            return Err(ApplyError::Invalid {
                kind: "model statement",
                why: format!("a model holds at most {MODEL_RECORDS_MAX} of these"),
            });
        }
        Ok(())
    }

    fn plan_assert(
        &self,
        s: &Registered<'_>,
        issuer: StakeholderId,
        signed_by: Option<StakeholderId>,
        body: StatementBody,
    ) -> Result<Plan, ApplyError> {
        let kind = body.kind();
        let device = Self::device_of(s.subject, kind)?;
        let class = self
            .meta
            .builtin_types
            .class_of(&body)
            .ok_or(ApplyError::UnknownClaim(s.entry))?;
        let (twin, lifecycle) = if let StatementBody::DeviceRegistered {
            model,
            serial,
            hardware_id,
            device_key,
            ..
        } = &body
        {
            if self.state.twin(&device).is_some() {
                return Err(ApplyError::AlreadyRegistered(device.to_string()));
            }
            let registry = &self.meta.registry;
            if registry.authority().is_some() && !registry.has_role(&issuer, Role::Manufacturer) {
                return Err(ApplyError::NotAManufacturer(issuer.0));
            }
            if let Some(pem) = device_key {
                scitt::PublicKey::from_pem(pem).map_err(|e| {
                    ApplyError::Registry(RegistryError::BadKey {
                        index: 0,
                        why: e.to_string(),
                    })
                })?;
            }
            let twin = Twin {
                device: device.clone(),
                manufacturer: issuer.clone(),
                model: model.clone(),
                serial: serial.clone(),
                hardware_id: hardware_id.clone(),
                device_key: device_key.clone(),
                lifecycle: Lifecycle::Manufactured,
                owner: None,
                operator: None,
                maintainer: None,
                site: None,
                location: None,
                groups: Vec::new(),
                firmware: None,
                current: BTreeMap::new(),
                registered_at: s.entry,
                updated_at: s.entry,
                statements: 0,
                asset_attributes: BTreeMap::new(),
                clocks: IssuerClocks::default(),
                updates: crate::update::Updates::default(),
            };
            (twin, Lifecycle::Manufactured)
        } else {
            let twin = self
                .state
                .twin(&device)
                .ok_or_else(|| ApplyError::UnknownDevice(device.to_string()))?;
            let lifecycle = twin.lifecycle;
            (twin, lifecycle)
        };
        let held = self.asserting_roles(&issuer, &twin, body.type_name(), s.issued_at)?;
        if lifecycle == Lifecycle::Decommissioned {
            return Err(ApplyError::Decommissioned(device.to_string()));
        }
        let allowed = self.meta.policy.rule(&class).map(|r| &r.asserted_by);
        if allowed.is_none_or(|a| held.is_disjoint(a)) {
            return Err(ApplyError::NotAllowed {
                issuer: issuer.0,
                device: device.to_string(),
                class: class.name(),
                allowed: allowed.cloned().unwrap_or_default(),
                held,
            });
        }
        let clock = ClockMark::check(
            Some(&twin.clocks),
            || ClockKey::of_class(&class, &issuer),
            || class.slot(),
            &issuer,
            s.issued_at,
        )?;
        if let AttributeClass::Custom(k) = &class {
            let keyed = |k: &str| custom_type_of(k).1;
            if keyed(k) && !twin.current.contains_key(&class) {
                let held = twin
                    .current
                    .keys()
                    .filter(|c| matches!(c, AttributeClass::Custom(k) if keyed(k)))
                    .count();
                if held >= KEYED_CLAIMS_MAX {
                    return Err(ApplyError::Invalid {
                        kind: "custom",
                        why: format!("a twin keeps at most {KEYED_CLAIMS_MAX} keyed claims"),
                    });
                }
            }
        }
        if let Some(asset_attributes) = self.meta.attributes_set(&body)? {
            let added = asset_attributes
                .keys()
                .filter(|k| !twin.asset_attributes.contains_key(*k))
                .count();
            if twin.asset_attributes.len() + added > ASSET_ATTRIBUTES_MAX {
                return Err(ApplyError::Invalid {
                    kind: "custom",
                    why: format!("a twin keeps at most {ASSET_ATTRIBUTES_MAX} attributes"),
                });
            }
        }
        let update = self.plan_update(s, &issuer, &held, &twin, &body)?;
        let next_lifecycle = match &body {
            StatementBody::LifecycleChanged { to } => Some(*to),
            StatementBody::Decommissioned { .. } => Some(Lifecycle::Decommissioned),
            _ => None,
        };
        if let Some(to) = next_lifecycle {
            if !lifecycle.can_become(to) {
                return Err(ApplyError::IllegalTransition {
                    device: device.to_string(),
                    from: lifecycle,
                    to,
                });
            }
        }
        Ok(Plan::Assert(Box::new(AssertPlan {
            entry: s.entry,
            clock,
            class,
            issuer,
            signed_by,
            body,
            held,
            next_lifecycle,
            twin,
            update,
        })))
    }

    /// What the update section of `body` does, if its type carries one
    /// ([`BuiltinType::update_field`]) and the device itself signed it: an
    /// `installed` one sets the firmware when the device may assert it and
    /// its firmware clock allows (else the report stands without it).
    fn plan_update(
        &self,
        s: &Registered<'_>,
        issuer: &StakeholderId,
        held: &BTreeSet<Role>,
        twin: &Twin,
        body: &StatementBody,
    ) -> Result<Option<UpdatePlan>, ApplyError> {
        let StatementBody::Custom {
            custom_type,
            content,
        } = body
        else {
            return Ok(None);
        };
        let field = self
            .meta
            .builtin_types
            .get(custom_type)
            .and_then(|t| t.update_field.as_deref());
        let Some(value) = field.and_then(|f| content.get(f)).filter(|v| !v.is_null()) else {
            return Ok(None);
        };
        let u = crate::update::UpdateSection::parse(value).map_err(|why| ApplyError::Invalid {
            kind: "custom",
            why,
        })?;
        if issuer.0.strip_prefix("device:") != Some(twin.device.as_str()) {
            return Ok(None);
        }
        let firmware = if u.state == crate::update::UpdateState::Installed {
            let class = AttributeClass::Firmware;
            let may = self
                .meta
                .policy
                .rule(&class)
                .is_some_and(|r| !held.is_disjoint(&r.asserted_by));
            may.then(|| {
                ClockMark::check(
                    Some(&twin.clocks),
                    || ClockKey::of_class(&class, issuer),
                    || class.slot(),
                    issuer,
                    s.issued_at,
                )
                .ok()
            })
            .flatten()
        } else {
            None
        };
        Ok(Some(UpdatePlan {
            record: crate::update::UpdateRecord {
                entry: s.entry,
                at: s.issued_at,
                state: u.state,
                version: u.version,
                image_sha256: u.image_sha256,
                release_counter: u.release_counter,
                reason: u.reason,
            },
            firmware,
            kind: custom_type.clone(),
        }))
    }

    fn plan_support(
        &self,
        s: &Registered<'_>,
        issuer: StakeholderId,
        target: u64,
        reason: Option<String>,
    ) -> Result<Plan, ApplyError> {
        let claim = self
            .state
            .claim(target)
            .ok_or(ApplyError::UnknownClaim(target))?;
        let device = claim.device.clone();
        if s.subject != device.subject() {
            return Err(ApplyError::SubjectMismatch {
                entry: target,
                claim_subject: device.subject(),
                subject: s.subject.to_string(),
            });
        }
        if claim.issuer == issuer {
            return Err(ApplyError::OwnClaim(issuer.0));
        }
        let twin = self
            .state
            .twin(&device)
            .ok_or_else(|| ApplyError::UnknownDevice(device.to_string()))?;
        let kind = if reason.is_some() {
            "dispute"
        } else {
            "endorse"
        };
        let roles = self.asserting_roles(&issuer, &twin, kind, s.issued_at)?;
        if roles.is_empty() {
            return Err(ApplyError::NoRole {
                issuer: issuer.0,
                device: device.to_string(),
            });
        }
        let clock = ClockMark::check(
            Some(&twin.clocks),
            || ClockKey::new(&["claim ", &target.to_string()], &issuer),
            || format!("claim {target}"),
            &issuer,
            s.issued_at,
        )?;
        Ok(Plan::Support(Box::new(SupportPlan {
            entry: s.entry,
            clock,
            claim,
            twin,
            issuer,
            roles,
            reason,
        })))
    }

    /// The changes of a checked plan (infallible).
    fn commit(&mut self, plan: Plan) {
        match plan {
            Plan::Release { subject, release } => {
                self.meta.releases.entry(subject).or_default().push(release)
            }
            Plan::Withdraw {
                subject,
                version,
                entry,
            } => {
                if let Some(r) = self
                    .meta
                    .releases
                    .get_mut(&subject)
                    .and_then(|rs| rs.iter_mut().rev().find(|r| r.version == version))
                {
                    r.withdrawn.get_or_insert(entry);
                }
            }
            Plan::Sbom(p) => {
                let SbomPlan {
                    entry,
                    subject,
                    release,
                    issuer,
                    format,
                    document_sha256,
                    part,
                    parts,
                    components,
                } = *p;
                let slot = self
                    .meta
                    .sboms
                    .entry(subject)
                    .or_default()
                    .entry(release)
                    .or_insert_with(|| SbomRef {
                        issuer: issuer.clone(),
                        format: format.clone(),
                        document_sha256: document_sha256.clone(),
                        parts,
                        entries: BTreeMap::new(),
                        components: 0,
                    });
                if slot.document_sha256 != document_sha256 {
                    // A new SBOM for the release replaces the old one.
                    *slot = SbomRef {
                        issuer,
                        format,
                        document_sha256,
                        parts,
                        entries: BTreeMap::new(),
                        components: 0,
                    };
                }
                slot.entries.insert(part, entry);
                slot.components += components.len() as u64;
                self.state.put_sbom_part(entry, components);
            }
            Plan::Roadmap { subject, record } => {
                self.meta.release_plans.insert(subject, record);
            }
            Plan::ReleaseVex { subject, vex } => {
                self.meta.release_vex.entry(subject).or_default().push(vex)
            }
            Plan::ModelRisk {
                subject,
                risk,
                event,
            } => self
                .meta
                .model_risks
                .entry(subject)
                .or_default()
                .entry(risk)
                .or_insert_with(|| ModelRisk {
                    history: Vec::new(),
                })
                .history
                .push(event),
            Plan::Registry(r) => match r {
                RegistryPlan::Register {
                    entry,
                    id,
                    name,
                    roles,
                    keys,
                } => self.meta.registry.register(entry, id, &name, &roles, &keys),
                RegistryPlan::AddKey { entry, id, key } => {
                    self.meta.registry.add_key(entry, &id, &key)
                }
                RegistryPlan::Revoke { entry, id, kid } => {
                    self.meta.registry.revoke(entry, &id, &kid)
                }
            },
            Plan::Sharing {
                entry,
                owner,
                policy,
                version,
            } => {
                self.meta.published.publish(&owner, version);
                self.meta.sharing.insert(owner, (entry, policy));
            }
            Plan::Publish { owner, version } => {
                self.meta.published.publish(&owner, version);
            }
            Plan::Audit(change) => self.meta.audits.apply(change),
            Plan::Cra(change) => self.meta.cra.apply(change),
            Plan::SupportPeriod { subject, promise } => {
                self.meta.support.promise(subject, promise);
            }
            Plan::CustomType { name, rule, custom } => {
                self.meta.policy.rules.insert(name.clone(), rule);
                self.meta.custom_types.insert(name, custom);
            }
            Plan::Support(p) => {
                let SupportPlan {
                    entry,
                    clock,
                    mut claim,
                    mut twin,
                    issuer,
                    roles,
                    reason,
                } = *p;
                let kind = match reason {
                    None => {
                        claim.endorsements.insert(issuer.clone(), (entry, roles));
                        "endorse"
                    }
                    Some(r) => {
                        claim.disputes.insert(issuer.clone(), (entry, r));
                        "dispute"
                    }
                };
                twin.updated_at = entry;
                twin.statements += 1;
                if let Some(mark) = clock {
                    twin.clocks.advance(mark.key, mark.issued_at);
                }
                self.state.record(&twin.device, entry, kind, &issuer);
                self.state.put_claim(claim);
                self.state.put_twin(twin);
            }
            Plan::Assert(p) => {
                let AssertPlan {
                    entry,
                    clock,
                    class,
                    issuer,
                    signed_by,
                    body,
                    held,
                    next_lifecycle,
                    mut twin,
                    update,
                } = *p;
                if let Some(to) = next_lifecycle {
                    twin.lifecycle = to;
                }
                if let StatementBody::OwnershipTransferred {
                    owner,
                    operator,
                    maintainer,
                    site,
                    location,
                    groups,
                } = &body
                {
                    twin.owner = Some(owner.clone());
                    twin.operator = operator.clone();
                    twin.maintainer = maintainer.clone();
                    if site.is_some() {
                        twin.site = site.clone();
                    }
                    if location.is_some() {
                        twin.location = location.clone();
                    }
                    if let Some(g) = groups {
                        twin.groups = g.clone();
                    }
                }
                if let StatementBody::FirmwareInstalled {
                    version,
                    image_sha256,
                } = &body
                {
                    twin.firmware = Some(version.clone());
                    if issuer.0.strip_prefix("device:") == Some(twin.device.as_str()) {
                        twin.updates.installed(crate::update::Install {
                            entry,
                            at: clock.as_ref().map(|m| m.issued_at),
                            version: version.clone(),
                            image_sha256: image_sha256.clone(),
                            kind: body.kind().to_string(),
                        });
                    }
                }
                if let Some(u) = update {
                    if let Some(mark) = u.firmware {
                        // As the device's `firmware-installed` would: the
                        // firmware, its claim (this entry) and its clock.
                        twin.firmware = Some(u.record.version.clone());
                        twin.current.insert(AttributeClass::Firmware, entry);
                        if let Some(mark) = mark {
                            twin.clocks.advance(mark.key, mark.issued_at);
                        }
                        twin.updates.installed(crate::update::Install {
                            entry,
                            at: u.record.at,
                            version: u.record.version.clone(),
                            image_sha256: u.record.image_sha256.clone(),
                            kind: u.kind,
                        });
                    }
                    twin.updates.latest = Some(u.record);
                }
                if let Ok(Some(attributes)) = self.meta.attributes_set(&body) {
                    for (k, v) in attributes {
                        twin.asset_attributes.insert(
                            k.clone(),
                            AssetAttribute {
                                value: v.clone(),
                                entry,
                                issuer: issuer.clone(),
                            },
                        );
                    }
                }
                twin.current.insert(class.clone(), entry);
                if let Some(mark) = clock {
                    twin.clocks.advance(mark.key, mark.issued_at);
                }
                twin.updated_at = entry;
                twin.statements += 1;
                let device = twin.device.clone();
                self.state.record(&device, entry, body.type_name(), &issuer);
                self.state.put_claim(Claim {
                    entry,
                    device,
                    issuer,
                    class,
                    body,
                    asserter_roles: held,
                    endorsements: BTreeMap::new(),
                    disputes: BTreeMap::new(),
                    signed_by,
                });
                self.state.put_twin(twin);
            }
        }
    }
}

/// The roles `issuer` holds on `twin` under `meta`, in log order: the
/// auditor role while an audit grant covers the twin, its window not
/// consulted (the fold has no clock; reads use [`roles_at`]).
pub fn roles_of(meta: &Meta, issuer: &StakeholderId, twin: &Twin) -> BTreeSet<Role> {
    roles_under(meta, issuer, twin, crate::audit::AuditClock::LogOrder)
}

/// The roles `reader` holds on `twin` for a read at `now_unix_s`: the
/// auditor role only within an audit grant's window.
pub fn roles_at(
    meta: &Meta,
    reader: &StakeholderId,
    twin: &Twin,
    now_unix_s: i64,
) -> BTreeSet<Role> {
    roles_under(
        meta,
        reader,
        twin,
        crate::audit::AuditClock::Now(now_unix_s),
    )
}

fn roles_under(
    meta: &Meta,
    issuer: &StakeholderId,
    twin: &Twin,
    clock: crate::audit::AuditClock,
) -> BTreeSet<Role> {
    let mut roles = BTreeSet::new();
    if *issuer == twin.manufacturer {
        roles.insert(Role::Manufacturer);
    }
    if twin.owner.as_ref() == Some(issuer) {
        roles.insert(Role::Owner);
    }
    if twin.operator.as_ref() == Some(issuer) {
        roles.insert(Role::Operator);
    }
    if twin.maintainer.as_ref() == Some(issuer) {
        roles.insert(Role::Maintainer);
    }
    if issuer.0.strip_prefix("device:") == Some(twin.device.as_str()) {
        roles.insert(Role::Device);
    }
    // Never organization-wide: only a grant by the twin's owner.
    if meta.audits.covers(issuer, twin, clock) {
        roles.insert(Role::Auditor);
    }
    roles
}

impl Twin {
    /// What sharing policies' device filters match on.
    pub fn facts(&self) -> crate::sharing::DeviceFacts<'_> {
        crate::sharing::DeviceFacts {
            device: &self.device,
            manufacturer: &self.manufacturer,
            model: &self.model,
            site: self.site.as_deref(),
            groups: &self.groups,
        }
    }
}

/// The one sharing decision of every read path: may `reader` (anonymous if
/// `None`) read statements of type `kind` owned by `owner` about `twin` at
/// `now_unix_s` (audit grants have windows), under the sharing policy
/// `owner` published (its log entry answered beside the decision)? A
/// public twin's manufacturer's statements are allowed to anyone, whole
/// ([`Twin::public_by`], [`PUBLIC_POLICY_ID`], no policy entry). The
/// device's own statements (its reports) are decided under the policy of
/// the stakeholder whose data they are ([`data_holder`]).
pub fn decide_read<'m>(
    meta: &'m Meta,
    reader: Option<&StakeholderId>,
    twin: &Twin,
    owner: &StakeholderId,
    kind: &str,
    now_unix_s: i64,
) -> (crate::sharing::Decision<'m>, Option<u64>) {
    let roles = reader
        .map(|r| roles_at(meta, r, twin, now_unix_s))
        .unwrap_or_default();
    let facts = twin.facts();
    // The device reads what it signed itself; anyone else reads it under
    // the policy of the stakeholder whose data it is.
    let holder = if reader == Some(owner) {
        owner
    } else {
        data_holder(twin, owner)
    };
    let req = crate::sharing::ReadRequest {
        reader,
        reader_roles: &roles,
        owner: holder,
        device: &facts,
        statement_type: kind,
    };
    let published = meta.sharing.get(holder);
    let decision = crate::sharing::decide(published.map(|(_, p)| p), &req);
    // A public twin: its maker's statements are everyone's to read, whole,
    // whatever its sharing policy says (it cannot take back what the log
    // already shows to anyone who mirrors it).
    if twin.public_by() == Some(owner) && decision != crate::sharing::Decision::Own {
        let all = crate::sharing::Decision::Allowed {
            policy: PUBLIC_POLICY_ID,
            grants: crate::sharing::GrantSet::EMPTY,
            fields: None,
        };
        return (all, None);
    }
    (decision, published.map(|(e, _)| *e))
}

/// Whose sharing policy decides who reads `owner`'s statements about
/// `twin`: `owner`'s own, except for the statements the device signs
/// itself (`device:{id}`, its reports). A device is no stakeholder and
/// publishes no policy; what it says about itself is its operator's data
/// (the operator runs it), else its owner's, else, while it has neither,
/// its manufacturer's. So an operator's published policy decides who else
/// reads its devices' reports, like its own statements, and with no policy
/// the default lets every stakeholder with a role on the device read them.
pub fn data_holder<'t>(twin: &'t Twin, owner: &'t StakeholderId) -> &'t StakeholderId {
    if owner.0.strip_prefix("device:") != Some(twin.device.as_str()) {
        return owner;
    }
    twin.operator
        .as_ref()
        .or(twin.owner.as_ref())
        .unwrap_or(&twin.manufacturer)
}

/// The consensus status of `claim` under `policy`.
pub fn status_of(policy: &ConsensusPolicy, claim: &Claim) -> Option<Status> {
    status_as(policy, claim, &claim.class)
}

/// The consensus status of `claim` as the current claim of `class`: a
/// statement that sets another attribute besides its own (an update
/// report's firmware) is judged there under that attribute's rule.
fn status_as(policy: &ConsensusPolicy, claim: &Claim, class: &AttributeClass) -> Option<Status> {
    let rule = policy.rule(class)?;
    let mut supporting = claim.asserter_roles.clone();
    for (_, roles) in claim.endorsements.values() {
        supporting.extend(roles.iter().copied());
    }
    let disputers = claim.disputes.keys().cloned().collect();
    Some(evaluate(rule, &supporting, &disputers))
}

/// The twin of `device` in `state` with each current attribute's status.
pub fn view<S: State + ?Sized>(
    policy: &ConsensusPolicy,
    state: &S,
    device: &DeviceId,
) -> Option<TwinView> {
    let twin = state.twin(device)?;
    let attributes = twin
        .current
        .iter()
        .filter_map(|(class, entry)| {
            let claim = state.claim(*entry)?;
            let status = status_as(policy, &claim, class)?;
            Some(AttributeView {
                attribute: class.clone(),
                claim,
                status,
            })
        })
        .collect();
    Some(TwinView { twin, attributes })
}

enum RegistryPlan {
    Register {
        entry: u64,
        id: StakeholderId,
        name: String,
        roles: Vec<Role>,
        keys: Vec<crate::statement::KeySpec>,
    },
    AddKey {
        entry: u64,
        id: StakeholderId,
        key: crate::statement::KeySpec,
    },
    Revoke {
        entry: u64,
        id: StakeholderId,
        kid: String,
    },
}

struct SupportPlan {
    entry: u64,
    clock: Option<ClockMark>,
    claim: Claim,
    twin: Twin,
    issuer: StakeholderId,
    roles: BTreeSet<Role>,
    reason: Option<String>,
}

struct AssertPlan {
    entry: u64,
    clock: Option<ClockMark>,
    class: AttributeClass,
    issuer: StakeholderId,
    signed_by: Option<StakeholderId>,
    body: StatementBody,
    held: BTreeSet<Role>,
    next_lifecycle: Option<Lifecycle>,
    twin: Twin,
    update: Option<UpdatePlan>,
}

/// What an update section does ([`BuiltinType::update_field`]).
struct UpdatePlan {
    record: crate::update::UpdateRecord,
    /// For an `installed` one the device may assert: `Some`, with the
    /// firmware clock's mark if the statement has a time (the firmware is
    /// then set).
    firmware: Option<Option<ClockMark>>,
    /// The statement type carrying it.
    kind: String,
}

struct SbomPlan {
    entry: u64,
    subject: String,
    release: String,
    issuer: StakeholderId,
    format: String,
    document_sha256: String,
    part: u32,
    parts: u32,
    components: Vec<SbomComponent>,
}

/// Whether `s` is 64 hex digits.
fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The risk id of a risk statement.
pub fn risk_id(body: &StatementBody) -> Option<&str> {
    match body {
        StatementBody::RiskRecorded { risk, .. }
        | StatementBody::RiskAccepted { risk, .. }
        | StatementBody::RiskMitigated { risk, .. }
        | StatementBody::RiskTransferred { risk, .. }
        | StatementBody::RiskFalsePositive { risk, .. } => Some(risk),
        _ => None,
    }
}

/// What a checked statement will change.
enum Plan {
    Release {
        subject: String,
        release: Release,
    },
    Withdraw {
        subject: String,
        version: String,
        entry: u64,
    },
    Sbom(Box<SbomPlan>),
    Roadmap {
        subject: String,
        record: ReleasePlanRecord,
    },
    ReleaseVex {
        subject: String,
        vex: ReleaseVex,
    },
    ModelRisk {
        subject: String,
        risk: String,
        event: (u64, StakeholderId, StatementBody),
    },
    Registry(RegistryPlan),
    Sharing {
        entry: u64,
        owner: StakeholderId,
        policy: SharingPolicy,
        version: PolicyVersion,
    },
    Publish {
        owner: StakeholderId,
        version: PolicyVersion,
    },
    CustomType {
        name: String,
        rule: crate::consensus::Rule,
        custom: CustomType,
    },
    Audit(crate::audit::AuditChange),
    Cra(crate::cra::CraChange),
    SupportPeriod {
        subject: String,
        promise: crate::cra::SupportPromise,
    },
    Support(Box<SupportPlan>),
    Assert(Box<AssertPlan>),
}

impl Plan {
    fn applied(&self) -> Applied {
        match self {
            Plan::Release { .. } => Applied {
                device: None,
                kind: "firmware-released",
            },
            Plan::Withdraw { .. } => Applied {
                device: None,
                kind: "firmware-withdrawn",
            },
            Plan::Sbom(_) => Applied {
                device: None,
                kind: "sbom-registered",
            },
            Plan::Roadmap { .. } => Applied {
                device: None,
                kind: "release-plan",
            },
            Plan::ReleaseVex { .. } => Applied {
                device: None,
                kind: "vulnerability-assessment",
            },
            Plan::ModelRisk { event, .. } => Applied {
                device: None,
                kind: event.2.kind(),
            },
            Plan::Registry(r) => Applied {
                device: None,
                kind: match r {
                    RegistryPlan::Register { .. } => "stakeholder-registered",
                    RegistryPlan::AddKey { .. } => "key-added",
                    RegistryPlan::Revoke { .. } => "key-revoked",
                },
            },
            Plan::Sharing { .. } => Applied {
                device: None,
                kind: "sharing-policy",
            },
            Plan::Publish { version, .. } => Applied {
                device: None,
                kind: match version.kind {
                    PolicyKind::Sharing => "sharing-policy",
                    PolicyKind::Transparency => "transparency-policy",
                    PolicyKind::AiUse => "ai-use-policy",
                    PolicyKind::SecurityProfile => "security-profile",
                    PolicyKind::ThreatModel => "threat-model",
                },
            },
            Plan::CustomType { .. } => Applied {
                device: None,
                kind: "statement-type-registered",
            },
            Plan::Audit(change) => Applied {
                device: None,
                kind: change.kind(),
            },
            Plan::Cra(change) => Applied {
                device: None,
                kind: change.kind(),
            },
            Plan::SupportPeriod { .. } => Applied {
                device: None,
                kind: "support-period",
            },
            Plan::Support(p) => Applied {
                device: Some(p.twin.device.clone()),
                kind: if p.reason.is_some() {
                    "dispute"
                } else {
                    "endorse"
                },
            },
            Plan::Assert(p) => Applied {
                device: Some(p.twin.device.clone()),
                kind: p.body.kind(),
            },
        }
    }
}

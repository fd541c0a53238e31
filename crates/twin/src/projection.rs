//! The projection of the log into twins. [`Projection::apply`] folds one
//! registered statement in, in log order, or refuses it and changes nothing;
//! rebuilding from the log (reindex) is applying every entry again.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use crate::consensus::{evaluate, AttributeClass, ConsensusPolicy, Status};
use crate::model::{DeviceId, Lifecycle, Role, StakeholderId};
use crate::published::{AiUsePolicy, PolicyKind, PolicyVersion, TransparencyPolicy};
use crate::registry::{Registry, RegistryError};
use crate::sharing::{PolicyError, SharingPolicy};
use crate::statement::{StatementBody, StatementParseError};

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
    /// A custom type registration refused.
    #[error("custom type {name:?} refused: {why}")]
    CustomType {
        /// The type.
        name: String,
        /// Why.
        why: String,
    },
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
}

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
}

/// Where twins and claims live: in memory ([`MemState`]) or in a store. The
/// projection reads through it and writes whole objects back; everything
/// else it keeps in [`Meta`].
pub trait State {
    /// The twin of `device`.
    fn twin(&self, device: &DeviceId) -> Option<Twin>;
    /// The claim registered as `entry`.
    fn claim(&self, entry: u64) -> Option<Claim>;
    /// Stores `twin`; `before` is its previous value (for secondary indexes).
    fn put_twin(&mut self, twin: Twin, before: Option<&Twin>);
    /// Stores `claim`.
    fn put_claim(&mut self, claim: Claim);
    /// Records that `entry` (of type `kind`, signed by `issuer`) is about `device`.
    fn record(&mut self, device: &DeviceId, entry: u64, kind: &str, issuer: &StakeholderId);
}

/// Twins and claims in memory (tests, the pure benchmark, the demo's check).
#[derive(Debug, Clone, Default)]
pub struct MemState {
    twins: BTreeMap<DeviceId, Twin>,
    claims: HashMap<u64, Claim>,
    history: HashMap<DeviceId, Vec<(u64, String)>>,
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
}

impl State for MemState {
    fn twin(&self, device: &DeviceId) -> Option<Twin> {
        self.twins.get(device).cloned()
    }
    fn claim(&self, entry: u64) -> Option<Claim> {
        self.claims.get(&entry).cloned()
    }
    fn put_twin(&mut self, twin: Twin, _before: Option<&Twin>) {
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
}

/// What the projection keeps besides twins and claims: small, kept in memory
/// and persisted whole.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Meta {
    /// The consensus policy.
    pub policy: ConsensusPolicy,
    /// Stakeholders and keys.
    pub registry: Registry,
    /// Auditors of every device besides organization-level auditors (tests).
    pub auditors: BTreeSet<StakeholderId>,
    /// Firmware releases by model subject.
    pub releases: BTreeMap<String, Vec<Release>>,
    /// Each stakeholder's current sharing policy, with its entry.
    pub sharing: BTreeMap<StakeholderId, (u64, SharingPolicy)>,
    /// Every published policy version (sharing, transparency, AI use).
    #[serde(default)]
    pub published: crate::published::Published,
    /// Registered custom statement types, by name.
    #[serde(default)]
    pub custom_types: BTreeMap<String, CustomType>,
    /// Compiled schemas of the custom types (a cache).
    #[serde(skip)]
    pub validators: Validators,
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
}

/// Largest JSON Schema of a custom type, in bytes.
pub const CUSTOM_SCHEMA_BYTES_MAX: usize = 16 * 1024;
/// Most custom types a log may register.
pub const CUSTOM_TYPES_MAX: usize = 1024;

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
    pub fn with_state(meta: Meta, state: S) -> Projection<S> {
        Projection { meta, state }
    }

    /// Gives `stakeholder` the auditor role on every device.
    pub fn add_auditor(&mut self, stakeholder: StakeholderId) {
        self.meta.auditors.insert(stakeholder);
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
        Ok(self.plan(s)?.applied())
    }

    /// Applies one registered statement (see the module documentation): all
    /// checks first, then the changes, so a refusal changes nothing.
    pub fn apply(&mut self, s: Registered<'_>) -> Result<Applied, ApplyError> {
        let plan = self.plan(s)?;
        let applied = plan.applied();
        self.commit(plan);
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
    fn plan(&self, s: Registered<'_>) -> Result<Plan, ApplyError> {
        let body = match StatementBody::parse(s.payload) {
            Ok(b) => b,
            Err(StatementParseError::UnknownType(kind)) => {
                match self.meta.custom_types.get(&kind) {
                    Some(t) => {
                        let body = StatementBody::parse_custom(s.payload, &kind)?;
                        if let StatementBody::Custom { content, .. } = &body {
                            let validator =
                                self.meta.validators.get(&kind, &t.schema).map_err(|why| {
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
                        body
                    }
                    None => return Err(StatementParseError::UnknownType(kind).into()),
                }
            }
            Err(e) => return Err(e.into()),
        };
        let issuer = StakeholderId(s.issuer.to_string());
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
            } => {
                if !s.subject.starts_with("model:") || s.subject.len() <= "model:".len() {
                    return Err(ApplyError::NotAModel(s.subject.to_string()));
                }
                if registry.authority().is_some() && !registry.has_role(&issuer, Role::Manufacturer)
                {
                    return Err(ApplyError::NotAManufacturer(issuer.0));
                }
                Ok(Plan::Release {
                    subject: s.subject.to_string(),
                    release: Release {
                        entry: s.entry,
                        issuer,
                        version,
                        image_sha256,
                        sbom,
                    },
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
            StatementBody::StatementTypeRegistered {
                name,
                schema,
                asserted_by,
                endorsed_by,
                description,
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
                        "names are namespace/name: lower-case letters, digits and dashes".into(),
                    );
                }
                if self.meta.custom_types.contains_key(&name) {
                    return refuse("already registered".into());
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
                    },
                })
            }
            body => self.plan_assert(&s, issuer, body),
        }
    }

    fn plan_assert(
        &self,
        s: &Registered<'_>,
        issuer: StakeholderId,
        body: StatementBody,
    ) -> Result<Plan, ApplyError> {
        let kind = body.kind();
        let device = Self::device_of(s.subject, kind)?;
        let class = AttributeClass::of(&body).ok_or(ApplyError::UnknownClaim(s.entry))?;
        let (twin, before, lifecycle) = if let StatementBody::DeviceRegistered {
            model,
            serial,
            hardware_id,
            device_key,
            ..
        } = &body
        {
            if self.state.twin(&device).is_some() {
                return Err(ApplyError::AlreadyRegistered(device.0));
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
            };
            (twin, None, Lifecycle::Manufactured)
        } else {
            let twin = self
                .state
                .twin(&device)
                .ok_or_else(|| ApplyError::UnknownDevice(device.0.clone()))?;
            let lifecycle = twin.lifecycle;
            (twin.clone(), Some(twin), lifecycle)
        };
        let held = self.roles_of(&issuer, &twin);
        if lifecycle == Lifecycle::Decommissioned {
            return Err(ApplyError::Decommissioned(device.0));
        }
        let allowed = self
            .meta
            .policy
            .rule(&class)
            .map(|r| r.asserted_by.clone())
            .unwrap_or_default();
        if held.is_disjoint(&allowed) {
            return Err(ApplyError::NotAllowed {
                issuer: issuer.0,
                device: device.0,
                class: class.name(),
                allowed,
                held,
            });
        }
        let next_lifecycle = match &body {
            StatementBody::LifecycleChanged { to } => Some(*to),
            StatementBody::Decommissioned { .. } => Some(Lifecycle::Decommissioned),
            _ => None,
        };
        if let Some(to) = next_lifecycle {
            if !lifecycle.can_become(to) {
                return Err(ApplyError::IllegalTransition {
                    device: device.0,
                    from: lifecycle,
                    to,
                });
            }
        }
        Ok(Plan::Assert(Box::new(AssertPlan {
            entry: s.entry,
            class,
            issuer,
            body,
            held,
            next_lifecycle,
            twin,
            before,
        })))
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
            .ok_or_else(|| ApplyError::UnknownDevice(device.0.clone()))?;
        let roles = self.roles_of(&issuer, &twin);
        if roles.is_empty() {
            return Err(ApplyError::NoRole {
                issuer: issuer.0,
                device: device.0,
            });
        }
        Ok(Plan::Support(Box::new(SupportPlan {
            entry: s.entry,
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
            Plan::CustomType { name, rule, custom } => {
                self.meta.policy.rules.insert(name.clone(), rule);
                self.meta.custom_types.insert(name, custom);
            }
            Plan::Support(p) => {
                let SupportPlan {
                    entry,
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
                let before = twin.clone();
                twin.updated_at = entry;
                twin.statements += 1;
                self.state.record(&twin.device, entry, kind, &issuer);
                self.state.put_claim(claim);
                self.state.put_twin(twin, Some(&before));
            }
            Plan::Assert(p) => {
                let AssertPlan {
                    entry,
                    class,
                    issuer,
                    body,
                    held,
                    next_lifecycle,
                    mut twin,
                    before,
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
                if let StatementBody::FirmwareInstalled { version, .. } = &body {
                    twin.firmware = Some(version.clone());
                }
                twin.current.insert(class.clone(), entry);
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
                });
                self.state.put_twin(twin, before.as_ref());
            }
        }
    }
}

/// The roles `issuer` holds on `twin` under `meta`.
pub fn roles_of(meta: &Meta, issuer: &StakeholderId, twin: &Twin) -> BTreeSet<Role> {
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
    if issuer.0.strip_prefix("device:") == Some(twin.device.0.as_str()) {
        roles.insert(Role::Device);
    }
    if meta.auditors.contains(issuer) || meta.registry.has_role(issuer, Role::Auditor) {
        roles.insert(Role::Auditor);
    }
    roles
}

/// The consensus status of `claim` under `policy`.
pub fn status_of(policy: &ConsensusPolicy, claim: &Claim) -> Option<Status> {
    let rule = policy.rule(&claim.class)?;
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
            let status = status_of(policy, &claim)?;
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
    claim: Claim,
    twin: Twin,
    issuer: StakeholderId,
    roles: BTreeSet<Role>,
    reason: Option<String>,
}

struct AssertPlan {
    entry: u64,
    class: AttributeClass,
    issuer: StakeholderId,
    body: StatementBody,
    held: BTreeSet<Role>,
    next_lifecycle: Option<Lifecycle>,
    twin: Twin,
    before: Option<Twin>,
}

/// What a checked statement will change.
enum Plan {
    Release {
        subject: String,
        release: Release,
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
                },
            },
            Plan::CustomType { .. } => Applied {
                device: None,
                kind: "statement-type-registered",
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

//! The projection of the log into twins. [`Projection::apply`] folds one
//! registered statement in, in log order, or refuses it and changes nothing;
//! rebuilding from the log (reindex) is applying every entry again.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Serialize;

use crate::consensus::{evaluate, AttributeClass, ConsensusPolicy, Status};
use crate::model::{DeviceId, Lifecycle, Role, StakeholderId};
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
}

/// A claim: a statement asserting an attribute of a device.
#[derive(Debug, Clone, Serialize)]
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
#[derive(Debug, Clone, Serialize)]
pub struct Twin {
    /// Device id.
    pub device: DeviceId,
    /// Who registered it (its manufacturer).
    pub manufacturer: StakeholderId,
    /// Manufacturer's name, model, serial as registered.
    pub model: String,
    /// Serial.
    pub serial: String,
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
    /// Latest claim entry per attribute (shown with statuses in [`TwinView`]).
    #[serde(skip)]
    pub current: BTreeMap<AttributeClass, u64>,
    /// Every entry about the device, in log order.
    pub history: Vec<u64>,
}

/// One attribute in a twin view.
#[derive(Debug, Clone, Serialize)]
pub struct AttributeView {
    /// The attribute.
    pub attribute: AttributeClass,
    /// The current claim.
    pub claim: Claim,
    /// Its status.
    pub status: Status,
}

/// A twin with every attribute's consensus status.
#[derive(Debug, Clone, Serialize)]
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

/// All twins, the claims about them, and firmware releases per model.
#[derive(Debug, Clone, Default)]
pub struct Projection {
    policy: ConsensusPolicy,
    auditors: BTreeSet<StakeholderId>,
    twins: BTreeMap<DeviceId, Twin>,
    claims: HashMap<u64, Claim>,
    releases: BTreeMap<String, Vec<(u64, StakeholderId, StatementBody)>>,
    applied: u64,
}

impl Projection {
    /// An empty projection under `policy`.
    pub fn new(policy: ConsensusPolicy) -> Projection {
        Projection {
            policy,
            ..Projection::default()
        }
    }

    /// Gives `stakeholder` the auditor role on every device.
    pub fn add_auditor(&mut self, stakeholder: StakeholderId) {
        self.auditors.insert(stakeholder);
    }

    /// Statements applied so far.
    pub fn applied(&self) -> u64 {
        self.applied
    }

    /// The twin of `device`.
    pub fn twin(&self, device: &DeviceId) -> Option<&Twin> {
        self.twins.get(device)
    }

    /// Every twin, by id.
    pub fn twins(&self) -> impl Iterator<Item = &Twin> {
        self.twins.values()
    }

    /// The claim registered as `entry`.
    pub fn claim(&self, entry: u64) -> Option<&Claim> {
        self.claims.get(&entry)
    }

    /// Firmware releases of a model subject (`model:<vendor>/<model>`).
    pub fn releases(&self, model_subject: &str) -> &[(u64, StakeholderId, StatementBody)] {
        self.releases
            .get(model_subject)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// The roles `issuer` holds on `twin`.
    pub fn roles_of(&self, issuer: &StakeholderId, twin: &Twin) -> BTreeSet<Role> {
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
        if issuer.0 == twin.device.subject() {
            roles.insert(Role::Device);
        }
        if self.auditors.contains(issuer) {
            roles.insert(Role::Auditor);
        }
        roles
    }

    /// The consensus status of the claim `entry`.
    pub fn status(&self, entry: u64) -> Option<Status> {
        let claim = self.claims.get(&entry)?;
        let rule = self.policy.rule(&claim.class)?;
        let mut supporting = claim.asserter_roles.clone();
        for (_, roles) in claim.endorsements.values() {
            supporting.extend(roles.iter().copied());
        }
        let disputers = claim.disputes.keys().cloned().collect();
        Some(evaluate(rule, &supporting, &disputers))
    }

    /// The twin of `device` with each current attribute's status.
    pub fn view(&self, device: &DeviceId) -> Option<TwinView> {
        let twin = self.twins.get(device)?;
        let attributes = twin
            .current
            .iter()
            .filter_map(|(class, entry)| {
                Some(AttributeView {
                    attribute: class.clone(),
                    claim: self.claims.get(entry)?.clone(),
                    status: self.status(*entry)?,
                })
            })
            .collect();
        Some(TwinView {
            twin: twin.clone(),
            attributes,
        })
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
        self.applied += 1;
        Ok(applied)
    }

    fn device_of(subject: &str, kind: &'static str) -> Result<DeviceId, ApplyError> {
        DeviceId::from_subject(subject).ok_or_else(|| ApplyError::NotADevice {
            subject: subject.to_string(),
            kind,
        })
    }

    /// Every check; the plan says what to change.
    fn plan(&self, s: Registered<'_>) -> Result<Plan, ApplyError> {
        let body = StatementBody::parse(s.payload)?;
        let issuer = StakeholderId(s.issuer.to_string());
        match body {
            StatementBody::Endorse { entry } => self.plan_support(&s, issuer, entry, None),
            StatementBody::Dispute { entry, reason } => {
                self.plan_support(&s, issuer, entry, Some(reason))
            }
            StatementBody::FirmwareReleased { .. } => {
                if !s.subject.starts_with("model:") || s.subject.len() <= "model:".len() {
                    return Err(ApplyError::NotAModel(s.subject.to_string()));
                }
                Ok(Plan::Release {
                    subject: s.subject.to_string(),
                    entry: s.entry,
                    issuer,
                    body,
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
        let (new_twin, held, lifecycle) =
            if let StatementBody::DeviceRegistered { model, serial, .. } = &body {
                if self.twins.contains_key(&device) {
                    return Err(ApplyError::AlreadyRegistered(device.0));
                }
                let twin = Twin {
                    device: device.clone(),
                    manufacturer: issuer.clone(),
                    model: model.clone(),
                    serial: serial.clone(),
                    lifecycle: Lifecycle::Manufactured,
                    owner: None,
                    operator: None,
                    maintainer: None,
                    site: None,
                    current: BTreeMap::new(),
                    history: Vec::new(),
                };
                let held = self.roles_of(&issuer, &twin);
                (Some(Box::new(twin)), held, Lifecycle::Manufactured)
            } else {
                let twin = self
                    .twins
                    .get(&device)
                    .ok_or_else(|| ApplyError::UnknownDevice(device.0.clone()))?;
                (None, self.roles_of(&issuer, twin), twin.lifecycle)
            };
        if lifecycle == Lifecycle::Decommissioned {
            return Err(ApplyError::Decommissioned(device.0));
        }
        let allowed = self
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
        Ok(Plan::Assert {
            entry: s.entry,
            device,
            class,
            issuer,
            body,
            held,
            next_lifecycle,
            new_twin,
        })
    }

    fn plan_support(
        &self,
        s: &Registered<'_>,
        issuer: StakeholderId,
        target: u64,
        reason: Option<String>,
    ) -> Result<Plan, ApplyError> {
        let claim = self
            .claims
            .get(&target)
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
            .twins
            .get(&device)
            .ok_or_else(|| ApplyError::UnknownDevice(device.0.clone()))?;
        let roles = self.roles_of(&issuer, twin);
        if roles.is_empty() {
            return Err(ApplyError::NoRole {
                issuer: issuer.0,
                device: device.0,
            });
        }
        Ok(Plan::Support {
            entry: s.entry,
            target,
            device,
            issuer,
            roles,
            reason,
        })
    }

    /// The changes of a checked plan (infallible).
    fn commit(&mut self, plan: Plan) {
        match plan {
            Plan::Release {
                subject,
                entry,
                issuer,
                body,
            } => self
                .releases
                .entry(subject)
                .or_default()
                .push((entry, issuer, body)),
            Plan::Support {
                entry,
                target,
                device,
                issuer,
                roles,
                reason,
            } => {
                if let Some(claim) = self.claims.get_mut(&target) {
                    match reason {
                        None => {
                            claim.endorsements.insert(issuer, (entry, roles));
                        }
                        Some(r) => {
                            claim.disputes.insert(issuer, (entry, r));
                        }
                    }
                }
                if let Some(twin) = self.twins.get_mut(&device) {
                    twin.history.push(entry);
                }
            }
            Plan::Assert {
                entry,
                device,
                class,
                issuer,
                body,
                held,
                next_lifecycle,
                new_twin,
            } => {
                if let Some(twin) = new_twin {
                    self.twins.insert(device.clone(), *twin);
                }
                if let Some(twin) = self.twins.get_mut(&device) {
                    if let Some(to) = next_lifecycle {
                        twin.lifecycle = to;
                    }
                    if let StatementBody::OwnershipTransferred {
                        owner,
                        operator,
                        maintainer,
                        site,
                    } = &body
                    {
                        twin.owner = Some(owner.clone());
                        twin.operator = operator.clone();
                        twin.maintainer = maintainer.clone();
                        if site.is_some() {
                            twin.site = site.clone();
                        }
                    }
                    twin.current.insert(class.clone(), entry);
                    twin.history.push(entry);
                }
                self.claims.insert(
                    entry,
                    Claim {
                        entry,
                        device,
                        issuer,
                        class,
                        body,
                        asserter_roles: held,
                        endorsements: BTreeMap::new(),
                        disputes: BTreeMap::new(),
                    },
                );
            }
        }
    }
}

/// What a checked statement will change.
enum Plan {
    Release {
        subject: String,
        entry: u64,
        issuer: StakeholderId,
        body: StatementBody,
    },
    Support {
        entry: u64,
        target: u64,
        device: DeviceId,
        issuer: StakeholderId,
        roles: BTreeSet<Role>,
        reason: Option<String>,
    },
    Assert {
        entry: u64,
        device: DeviceId,
        class: AttributeClass,
        issuer: StakeholderId,
        body: StatementBody,
        held: BTreeSet<Role>,
        next_lifecycle: Option<Lifecycle>,
        new_twin: Option<Box<Twin>>,
    },
}

impl Plan {
    fn applied(&self) -> Applied {
        match self {
            Plan::Release { body, .. } => Applied {
                device: None,
                kind: body.kind(),
            },
            Plan::Support { device, reason, .. } => Applied {
                device: Some(device.clone()),
                kind: if reason.is_some() {
                    "dispute"
                } else {
                    "endorse"
                },
            },
            Plan::Assert { device, body, .. } => Applied {
                device: Some(device.clone()),
                kind: body.kind(),
            },
        }
    }
}

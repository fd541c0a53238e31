//! Consensus: for each attribute class, which roles may assert it and which
//! must endorse it before it counts as agreed. A claim is *disputed* as soon
//! as any stakeholder with a role on the device disputes it; otherwise it is
//! *agreed* once every required endorsing role has asserted or endorsed it,
//! and *claimed* (awaiting those roles) until then.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::model::{Role, StakeholderId};
use crate::statement::StatementBody;

/// What a claim is about: the twin shows one current value per class (and
/// key, for per-vulnerability and per-risk classes).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "class", content = "key")]
pub enum AttributeClass {
    /// Identity (device registered).
    Identity,
    /// Owner, operator, maintainer, site.
    Ownership,
    /// Lifecycle state.
    Lifecycle,
    /// Installed firmware.
    Firmware,
    /// Reported configuration.
    Configuration,
    /// Deployed AI model.
    AiModel,
    /// Security test evidence (keyed by the tested artifact's hash).
    TestEvidence(String),
    /// Status with respect to one vulnerability (keyed by its id).
    Vulnerability(String),
    /// Maintenance work.
    Maintenance,
    /// Incidents.
    Incident,
    /// Access of one grantee.
    Access(String),
    /// One risk of the register.
    Risk(String),
    /// A custom statement type (keyed by its name; for a keyed built-in
    /// type, by its name and key, see `projection::keyed_class`).
    Custom(String),
}

impl AttributeClass {
    /// The class a statement body asserts, or `None` for endorse/dispute and
    /// statements about models rather than devices.
    pub fn of(body: &StatementBody) -> Option<AttributeClass> {
        use StatementBody as B;
        Some(match body {
            B::DeviceRegistered { .. } => AttributeClass::Identity,
            B::OwnershipTransferred { .. } => AttributeClass::Ownership,
            B::LifecycleChanged { .. } | B::Decommissioned { .. } => AttributeClass::Lifecycle,
            B::FirmwareInstalled { .. } => AttributeClass::Firmware,
            B::ConfigurationReported { .. } => AttributeClass::Configuration,
            B::AiModelDeployed { .. } => AttributeClass::AiModel,
            B::SecurityTestEvidence { target_sha256, .. } => {
                AttributeClass::TestEvidence(target_sha256.clone())
            }
            B::VulnerabilityAssessment { vulnerability, .. } => {
                AttributeClass::Vulnerability(vulnerability.clone())
            }
            B::MaintenancePerformed { .. } => AttributeClass::Maintenance,
            B::IncidentReported { .. } => AttributeClass::Incident,
            B::AccessGranted { grantee, .. } | B::AccessRevoked { grantee, .. } => {
                AttributeClass::Access(grantee.0.clone())
            }
            B::Custom { custom_type, .. } => AttributeClass::Custom(custom_type.clone()),
            B::RiskRecorded { risk, .. }
            | B::RiskAccepted { risk, .. }
            | B::RiskMitigated { risk, .. }
            | B::RiskTransferred { risk, .. }
            | B::RiskFalsePositive { risk, .. } => AttributeClass::Risk(risk.clone()),
            B::FirmwareReleased { .. }
            | B::FirmwareWithdrawn { .. }
            | B::SbomRegistered { .. }
            | B::ReleasePlan { .. }
            | B::AuditGranted { .. }
            | B::AuditRevoked { .. }
            | B::StakeholderRegistered { .. }
            | B::KeyAdded { .. }
            | B::KeyRevoked { .. }
            | B::SharingPolicy { .. }
            | B::TransparencyPolicy { .. }
            | B::AiUsePolicy { .. }
            | B::SecurityProfile { .. }
            | B::ThreatModel { .. }
            | B::StatementTypeRegistered { .. }
            | B::CraCaseOpened { .. }
            | B::CraAwareness { .. }
            | B::CraReport { .. }
            | B::SupportPeriod { .. }
            | B::Endorse { .. }
            | B::Dispute { .. } => return None,
        })
    }

    /// The class with its key, as one string (`vulnerability:CVE-2024-1`):
    /// what a newer statement supersedes.
    pub fn slot(&self) -> String {
        match self.key() {
            Some(k) => format!("{}:{k}", self.name()),
            None => self.name().to_string(),
        }
    }

    /// The key of a keyed class (the vulnerability, the grantee...).
    pub fn key(&self) -> Option<&str> {
        match self {
            AttributeClass::TestEvidence(k)
            | AttributeClass::Vulnerability(k)
            | AttributeClass::Access(k)
            | AttributeClass::Risk(k)
            | AttributeClass::Custom(k) => Some(k),
            _ => None,
        }
    }

    /// The class's name without its key (the policy is per name).
    pub fn name(&self) -> &'static str {
        match self {
            AttributeClass::Identity => "identity",
            AttributeClass::Ownership => "ownership",
            AttributeClass::Lifecycle => "lifecycle",
            AttributeClass::Firmware => "firmware",
            AttributeClass::Configuration => "configuration",
            AttributeClass::AiModel => "ai_model",
            AttributeClass::TestEvidence(_) => "test_evidence",
            AttributeClass::Vulnerability(_) => "vulnerability",
            AttributeClass::Maintenance => "maintenance",
            AttributeClass::Incident => "incident",
            AttributeClass::Access(_) => "access",
            AttributeClass::Risk(_) => "risk",
            AttributeClass::Custom(_) => "custom",
        }
    }
}

/// Who may assert a class, and who must endorse it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    /// Roles allowed to assert.
    pub asserted_by: BTreeSet<Role>,
    /// Roles that must assert or endorse before the claim is agreed.
    pub endorsed_by: BTreeSet<Role>,
}

impl Rule {
    /// A rule from role lists.
    pub fn new(asserted_by: &[Role], endorsed_by: &[Role]) -> Rule {
        Rule {
            asserted_by: asserted_by.iter().copied().collect(),
            endorsed_by: endorsed_by.iter().copied().collect(),
        }
    }
}

/// The consensus policy: a rule per class name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsensusPolicy {
    /// Rules by [`AttributeClass::name`].
    pub rules: BTreeMap<String, Rule>,
}

impl Default for ConsensusPolicy {
    /// The default policy, as the stakeholders of a building would agree it:
    /// firmware is reported by the device (or its operator or maintainer) and
    /// endorsed by the operator; a vulnerability status is the
    /// manufacturer's to assert; maintenance needs the maintainer and the
    /// operator; identity is the manufacturer's; ownership the owner's or the
    /// manufacturer's (the first sale).
    fn default() -> Self {
        use Role::*;
        let rules = [
            ("identity", Rule::new(&[Manufacturer], &[])),
            ("ownership", Rule::new(&[Manufacturer, Owner], &[])),
            (
                "lifecycle",
                Rule::new(&[Manufacturer, Owner, Operator], &[]),
            ),
            (
                "firmware",
                Rule::new(&[Device, Operator, Maintainer], &[Operator]),
            ),
            (
                "configuration",
                Rule::new(&[Device, Operator, Maintainer], &[]),
            ),
            (
                "ai_model",
                Rule::new(&[Manufacturer, Operator], &[Operator]),
            ),
            ("test_evidence", Rule::new(&[Manufacturer, Auditor], &[])),
            ("vulnerability", Rule::new(&[Manufacturer], &[])),
            ("maintenance", Rule::new(&[Maintainer], &[Operator])),
            (
                "incident",
                Rule::new(&[Device, Operator, Maintainer, Owner, Auditor], &[]),
            ),
            ("access", Rule::new(&[Owner, Operator], &[])),
            (
                "risk",
                Rule::new(&[Operator, Owner, Auditor, Manufacturer], &[]),
            ),
        ]
        .into_iter()
        .map(|(k, r)| (k.to_string(), r))
        .collect();
        ConsensusPolicy { rules }
    }
}

impl ConsensusPolicy {
    /// The rule for `class`; a class without a rule may be asserted by no one.
    pub fn rule(&self, class: &AttributeClass) -> Option<&Rule> {
        match class {
            // A keyed built-in type's claims are classed per key: the rule
            // is the type's.
            AttributeClass::Custom(name) => {
                self.rules.get(crate::projection::custom_type_of(name).0)
            }
            other => self.rules.get(other.name()),
        }
    }
}

/// The consensus status of a claim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "status")]
pub enum Status {
    /// Every required role asserted or endorsed it; no dispute.
    Agreed,
    /// Waiting for these roles to endorse.
    Claimed {
        /// The roles still missing.
        awaiting: BTreeSet<Role>,
    },
    /// Someone disputed it.
    Disputed {
        /// Who disputed.
        by: BTreeSet<StakeholderId>,
    },
}

/// The status of a claim whose asserter and endorsers hold `supporting`
/// roles, disputed by `disputers`.
pub fn evaluate(
    rule: &Rule,
    supporting: &BTreeSet<Role>,
    disputers: &BTreeSet<StakeholderId>,
) -> Status {
    if !disputers.is_empty() {
        return Status::Disputed {
            by: disputers.clone(),
        };
    }
    let awaiting: BTreeSet<Role> = rule.endorsed_by.difference(supporting).copied().collect();
    if awaiting.is_empty() {
        Status::Agreed
    } else {
        Status::Claimed { awaiting }
    }
}

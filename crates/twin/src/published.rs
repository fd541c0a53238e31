//! Published policies: what a stakeholder declares about how it treats the
//! data and the devices it is responsible for, as signed statements in the
//! log, so that everyone can see which policy was in force when.
//!
//! Three kinds, each a statement about the stakeholder itself (subject
//! `stakeholder:<id>`, signed by that stakeholder). A sharing or transparency
//! policy replaces the owner's earlier one of its kind; an AI-use policy
//! replaces the earlier one with the same id (one per device class):
//!
//! - `sharing-policy`: who may read which of its statements
//!   ([`crate::sharing`]; enforced on every read path);
//! - `transparency-policy` ([`TransparencyPolicy`]): who besides the owner may
//!   list the records of reads of the owner's data (enforced by the read
//!   records endpoint), and whom to contact;
//! - `ai-use-policy` ([`AiUsePolicy`]): for a class of devices, which
//!   decisions an AI model on the device makes, how autonomously, and with
//!   what human oversight; shown with the twins of the devices it covers.
//!
//! [`Published`] keeps every version with its log entry; [`Published::in_force`]
//! answers "which policy applied at log position N". This module only parses
//! and keeps policies; it does no I/O and decides no reads.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::model::{Role, StakeholderId};
use crate::sharing::{DeviceFacts, DeviceFilter, Reader};

/// Longest policy id, in bytes.
pub const POLICY_ID_BYTES_MAX: usize = 128;
/// Longest free-text field (a decision, an oversight description), in bytes.
pub const TEXT_BYTES_MAX: usize = 2048;
/// Most decisions one AI-use policy may describe.
pub const AI_DECISIONS_MAX: usize = 64;
/// Most behaviours one security profile may hold (Device Defender: 100).
pub const PROFILE_BEHAVIOURS_MAX: usize = 100;
/// Most readers a transparency policy may name.
pub const RECORD_VIEWERS_MAX: usize = 64;
/// Most policy versions kept per stakeholder (older ones stay in the log).
pub const VERSIONS_PER_STAKEHOLDER_MAX: usize = 4096;

/// The kinds of published policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PolicyKind {
    /// A data-sharing policy.
    Sharing,
    /// A read-transparency policy.
    Transparency,
    /// An AI-use policy.
    AiUse,
    /// A security profile (detection behaviours).
    SecurityProfile,
    /// A threat model (a system's elements, flows and trust boundaries, as
    /// written for `sectwin threat`).
    ThreatModel,
}

impl PolicyKind {
    /// As in query strings and JSON: `sharing`, `transparency`, `ai-use`.
    pub fn name(self) -> &'static str {
        match self {
            PolicyKind::Sharing => "sharing",
            PolicyKind::Transparency => "transparency",
            PolicyKind::AiUse => "ai-use",
            PolicyKind::SecurityProfile => "security-profile",
            PolicyKind::ThreatModel => "threat-model",
        }
    }

    /// Whether an owner may hold several policies of this kind, one per id
    /// (AI-use policies, security profiles and threat models), rather than
    /// one.
    pub fn per_id(self) -> bool {
        matches!(
            self,
            PolicyKind::AiUse | PolicyKind::SecurityProfile | PolicyKind::ThreatModel
        )
    }

    /// Parses [`PolicyKind::name`].
    pub fn parse(s: &str) -> Option<PolicyKind> {
        [
            PolicyKind::Sharing,
            PolicyKind::Transparency,
            PolicyKind::AiUse,
            PolicyKind::SecurityProfile,
            PolicyKind::ThreatModel,
        ]
        .into_iter()
        .find(|k| k.name() == s)
    }
}

/// Why a published policy is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PublishedError {
    /// Not the policy's shape (the deserializer's message).
    #[error("invalid {kind} policy: {why}")]
    Invalid {
        /// Which kind.
        kind: &'static str,
        /// What is wrong.
        why: String,
    },
    /// The id is empty, too long or has characters outside `[A-Za-z0-9._-]`.
    #[error("policy id {0:?} is not valid: expected 1 to 128 of [A-Za-z0-9._-]")]
    BadId(String),
    /// A free-text field is too long.
    #[error("{field} of {bytes} bytes exceeds {max_bytes} bytes")]
    TextTooLong {
        /// Which field.
        field: &'static str,
        /// Its size.
        bytes: usize,
        /// The limit.
        max_bytes: usize,
    },
    /// A list is too long or empty.
    #[error("{what}: {count} given, expected 1 to {max}")]
    Count {
        /// Which list.
        what: &'static str,
        /// How many.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// A transparency policy names a role: read records are per owner, not
    /// per device, so a role on a device says nothing about who may list them.
    #[error("record_viewers: a role ({0}) cannot be a viewer of read records; name stakeholders, \"authenticated\" or \"public\"")]
    RoleViewer(String),
    /// A stakeholder publishing another's policy.
    #[error("{issuer} may not publish the {kind} policy of {owner}")]
    NotTheirs {
        /// Who signed.
        issuer: String,
        /// Whose policy it claims to be.
        owner: String,
        /// Which kind.
        kind: &'static str,
    },
    /// A device filter with no criteria.
    #[error("devices: a \"matching\" filter needs at least one criterion (or say \"all\")")]
    EmptyDevices,
}

/// Who besides the owner may list the records of reads of the owner's data,
/// and whom readers may contact. JSON:
/// `{"id":"acme-transparency","record_viewers":[{"stakeholder":"audit.example"}],"contact":"psirt@acme.example"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransparencyPolicy {
    /// The policy's id.
    pub id: String,
    /// Who may list the read records (besides the owner, who always may).
    #[serde(default)]
    pub record_viewers: Vec<Reader>,
    /// Whom to contact about the owner's data.
    #[serde(default)]
    pub contact: Option<String>,
}

/// How autonomously an AI model makes a decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Autonomy {
    /// It only advises; a person decides.
    Advisory,
    /// It proposes; a person confirms each decision before it takes effect.
    HumanInTheLoop,
    /// It decides; a person monitors and can override.
    HumanOnTheLoop,
    /// It decides alone.
    Autonomous,
}

/// One decision an AI model on the device makes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AiDecision {
    /// What is decided (e.g. "unlock the door for a recognised person").
    pub decision: String,
    /// The model making it (a name or the hash from `ai-model-deployed`).
    #[serde(default)]
    pub model: Option<String>,
    /// How autonomously.
    pub autonomy: Autonomy,
    /// The human oversight in place (who, how, how fast).
    pub human_oversight: String,
    /// Roles that may override the decision.
    #[serde(default)]
    pub override_by: Vec<Role>,
    /// What happens when the model is unavailable or unsure.
    #[serde(default)]
    pub fallback: Option<String>,
}

/// An AI-use policy for a class of devices. JSON:
/// `{"id":"cam-ai","devices":{"matching":{"models":["CAM-9"]}},"decisions":[{"decision":"...","autonomy":"human-on-the-loop","human_oversight":"..."}]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AiUsePolicy {
    /// The policy's id.
    pub id: String,
    /// The devices it covers.
    pub devices: DeviceFilter,
    /// The decisions the AI makes on them.
    pub decisions: Vec<AiDecision>,
    /// Free text.
    #[serde(default)]
    pub description: Option<String>,
}

fn check_id(id: &str) -> Result<(), PublishedError> {
    let ok = !id.is_empty()
        && id.len() <= POLICY_ID_BYTES_MAX
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(PublishedError::BadId(id.to_string()))
    }
}

fn check_text(field: &'static str, text: &str) -> Result<(), PublishedError> {
    if text.len() > TEXT_BYTES_MAX {
        return Err(PublishedError::TextTooLong {
            field,
            bytes: text.len(),
            max_bytes: TEXT_BYTES_MAX,
        });
    }
    Ok(())
}

fn check_count(what: &'static str, count: usize, max: usize) -> Result<(), PublishedError> {
    if count == 0 || count > max {
        return Err(PublishedError::Count { what, count, max });
    }
    Ok(())
}

/// A published threat model: the model file as its author wrote it (YAML,
/// the format of `sectwin threat`), named, versioned and hashed, so that the
/// diagram and the findings recorded from it (`risk-recorded` statements
/// whose `source` is `threat-model:<name>`) can be shown and checked against
/// exactly what was analysed. JSON:
/// `{"id":"smart-building","name":"Smart building","version":"3","source":"..."}`.
/// This crate does not parse the model (crate `threat` does); it checks the
/// outline and the size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThreatModelDoc {
    /// The published id (`[A-Za-z0-9._-]`, derived from the name).
    pub id: String,
    /// The target of evaluation's name, as in the model (and in the
    /// `threat-model:<name>` source of its recorded risks).
    pub name: String,
    /// The model's version, if it has one.
    #[serde(default)]
    pub version: Option<String>,
    /// The model file (YAML), exactly.
    pub source: String,
}

impl ThreatModelDoc {
    /// Parses and checks a threat model's outline from its statement's
    /// `policy` field.
    pub fn parse(value: &Value) -> Result<ThreatModelDoc, PublishedError> {
        let d: ThreatModelDoc =
            serde_json::from_value(value.clone()).map_err(|e| PublishedError::Invalid {
                kind: "threat-model",
                why: e.to_string(),
            })?;
        check_id(&d.id)?;
        check_text("name", &d.name)?;
        if d.name.trim().is_empty() {
            return Err(PublishedError::Invalid {
                kind: "threat-model",
                why: "name is empty".into(),
            });
        }
        if let Some(v) = &d.version {
            check_text("version", v)?;
        }
        if d.source.trim().is_empty() {
            return Err(PublishedError::Invalid {
                kind: "threat-model",
                why: "source is empty".into(),
            });
        }
        Ok(d)
    }
}

impl TransparencyPolicy {
    /// Parses and checks a policy from its statement's `policy` field.
    pub fn parse(value: &Value) -> Result<TransparencyPolicy, PublishedError> {
        let p: TransparencyPolicy =
            serde_json::from_value(value.clone()).map_err(|e| PublishedError::Invalid {
                kind: "transparency",
                why: e.to_string(),
            })?;
        check_id(&p.id)?;
        if p.record_viewers.len() > RECORD_VIEWERS_MAX {
            return Err(PublishedError::Count {
                what: "record_viewers",
                count: p.record_viewers.len(),
                max: RECORD_VIEWERS_MAX,
            });
        }
        if let Some(Reader::Role(role)) = p
            .record_viewers
            .iter()
            .find(|r| matches!(r, Reader::Role(_)))
        {
            return Err(PublishedError::RoleViewer(
                format!("{role:?}").to_lowercase(),
            ));
        }
        if let Some(c) = &p.contact {
            check_text("contact", c)?;
        }
        Ok(p)
    }

    /// Whether `viewer` (`None`: anonymous) may list the owner's read records
    /// under this policy (the owner itself always may; not asked here).
    pub fn admits(&self, viewer: Option<&StakeholderId>) -> bool {
        let no_roles = std::collections::BTreeSet::new();
        self.record_viewers
            .iter()
            .any(|r| r.admits(viewer, &no_roles))
    }
}

impl AiUsePolicy {
    /// Parses and checks a policy from its statement's `policy` field.
    pub fn parse(value: &Value) -> Result<AiUsePolicy, PublishedError> {
        let p: AiUsePolicy =
            serde_json::from_value(value.clone()).map_err(|e| PublishedError::Invalid {
                kind: "ai-use",
                why: e.to_string(),
            })?;
        check_id(&p.id)?;
        if let DeviceFilter::Matching(c) = &p.devices {
            if c.is_empty() {
                return Err(PublishedError::EmptyDevices);
            }
        }
        check_count("decisions", p.decisions.len(), AI_DECISIONS_MAX)?;
        for d in &p.decisions {
            check_text("decision", &d.decision)?;
            check_text("human_oversight", &d.human_oversight)?;
            if let Some(m) = &d.model {
                check_text("model", m)?;
            }
            if let Some(f) = &d.fallback {
                check_text("fallback", f)?;
            }
        }
        if let Some(d) = &p.description {
            check_text("description", d)?;
        }
        Ok(p)
    }

    /// Whether the policy covers the device.
    pub fn covers(&self, device: &DeviceFacts<'_>) -> bool {
        self.devices.matches(device)
    }
}

/// A security profile: behaviours that say what is normal for the devices
/// it covers (Device Defender's rules-based security profile), attached by
/// a device filter (ids, groups, sites, models, manufacturers). JSON:
/// `{"id":"cameras","devices":{"matching":{"models":["CAM-9"]}},"behaviours":[{"name":"bytes-out","metric":"all-bytes-out","criteria":{...}}]}`.
///
/// The behaviours are kept as written: the detector (crate `posture`,
/// `detect::BehaviourDef`) checks each, and the service refuses a profile
/// it cannot run before signing one; a profile in the log that the
/// detector cannot run is shown with the reason and runs nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecurityProfile {
    /// The profile's id.
    pub id: String,
    /// The devices it covers (among those the publisher operates, owns or
    /// maintains).
    pub devices: DeviceFilter,
    /// The behaviours, as written.
    pub behaviours: Vec<Value>,
    /// Free text.
    #[serde(default)]
    pub description: Option<String>,
}

impl SecurityProfile {
    /// Parses and checks a profile's outline from its statement's `policy`
    /// field.
    pub fn parse(value: &Value) -> Result<SecurityProfile, PublishedError> {
        let p: SecurityProfile =
            serde_json::from_value(value.clone()).map_err(|e| PublishedError::Invalid {
                kind: "security-profile",
                why: e.to_string(),
            })?;
        check_id(&p.id)?;
        if let DeviceFilter::Matching(c) = &p.devices {
            if c.is_empty() {
                return Err(PublishedError::EmptyDevices);
            }
        }
        check_count("behaviours", p.behaviours.len(), PROFILE_BEHAVIOURS_MAX)?;
        if let Some(d) = &p.description {
            check_text("description", d)?;
        }
        Ok(p)
    }

    /// Whether the profile covers the device.
    pub fn covers(&self, device: &DeviceFacts<'_>) -> bool {
        self.devices.matches(device)
    }
}

/// One published version of a policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicyVersion {
    /// The publishing statement's log entry.
    pub entry: u64,
    /// Its kind.
    pub kind: PolicyKind,
    /// Its id.
    pub id: String,
    /// The policy as published (the statement's `policy` field).
    pub policy: Value,
    /// The entry of the version that replaced it, if any.
    #[serde(default)]
    pub superseded_by: Option<u64>,
}

/// Every published policy version, per stakeholder, in log order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Published {
    by_owner: std::collections::BTreeMap<StakeholderId, Vec<PolicyVersion>>,
}

impl Published {
    /// Records a new version; it supersedes the owner's current one of its
    /// kind (for AI-use policies: of its kind and id). Beyond [`VERSIONS_PER_STAKEHOLDER_MAX`] versions the
    /// oldest superseded one is dropped here (it stays in the log).
    pub fn publish(&mut self, owner: &StakeholderId, version: PolicyVersion) {
        let versions = self.by_owner.entry(owner.clone()).or_default();
        for v in versions.iter_mut() {
            let replaced = v.kind == version.kind && (!version.kind.per_id() || v.id == version.id);
            if replaced && v.superseded_by.is_none() {
                v.superseded_by = Some(version.entry);
            }
        }
        versions.push(version);
        if versions.len() > VERSIONS_PER_STAKEHOLDER_MAX {
            if let Some(i) = versions.iter().position(|v| v.superseded_by.is_some()) {
                versions.remove(i);
            }
        }
    }

    /// Every version of `owner`'s policies (all owners when `None`), in log
    /// order per owner.
    pub fn versions<'a>(
        &'a self,
        owner: Option<&'a StakeholderId>,
    ) -> impl Iterator<Item = (&'a StakeholderId, &'a PolicyVersion)> + 'a {
        self.by_owner
            .iter()
            .filter(move |(o, _)| owner.is_none_or(|want| *o == want))
            .flat_map(|(o, vs)| vs.iter().map(move |v| (o, v)))
    }

    /// Whether `v` was in force just before log position `at`: published
    /// before it and not yet superseded.
    pub fn in_force(v: &PolicyVersion, at: u64) -> bool {
        v.entry < at && v.superseded_by.is_none_or(|s| s >= at)
    }

    /// The owner's current transparency policy, if it published one.
    pub fn transparency(&self, owner: &StakeholderId) -> Option<TransparencyPolicy> {
        self.current(owner, PolicyKind::Transparency)
            .and_then(|v| TransparencyPolicy::parse(&v.policy).ok())
    }

    /// The current AI-use policies of every owner, parsed, with their entries.
    pub fn ai_use(&self) -> impl Iterator<Item = (&StakeholderId, u64, AiUsePolicy)> + '_ {
        self.by_owner.iter().flat_map(|(o, vs)| {
            vs.iter()
                .filter(|v| v.kind == PolicyKind::AiUse && v.superseded_by.is_none())
                .filter_map(move |v| Some((o, v.entry, AiUsePolicy::parse(&v.policy).ok()?)))
        })
    }

    /// The current security profiles of every owner, parsed, with their
    /// entries, in (owner, log) order.
    pub fn security_profiles(
        &self,
    ) -> impl Iterator<Item = (&StakeholderId, u64, SecurityProfile)> + '_ {
        self.by_owner.iter().flat_map(|(o, vs)| {
            vs.iter()
                .filter(|v| v.kind == PolicyKind::SecurityProfile && v.superseded_by.is_none())
                .filter_map(move |v| Some((o, v.entry, SecurityProfile::parse(&v.policy).ok()?)))
        })
    }

    fn current(&self, owner: &StakeholderId, kind: PolicyKind) -> Option<&PolicyVersion> {
        self.by_owner
            .get(owner)?
            .iter()
            .rev()
            .find(|v| v.kind == kind && v.superseded_by.is_none())
    }
}

//! Typed, versioned statement payloads: a JSON object with a `type` tag and
//! an optional schema version `v` (only version 1 exists). Parsing is strict:
//! unknown types and unknown fields are refused with a message naming them.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::model::{Lifecycle, Role, StakeholderId};

/// A public key in a registry statement, with its validity period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeySpec {
    /// The key, PEM (SubjectPublicKeyInfo; Ed25519 or P-256).
    pub pem: String,
    /// Not valid for statements issued before (unix seconds, the statement's `iat`).
    #[serde(default)]
    pub not_before: Option<i64>,
    /// Not valid for statements issued after (unix seconds).
    #[serde(default)]
    pub not_after: Option<i64>,
}

/// Largest statement payload this model parses, in bytes.
pub const PAYLOAD_BYTES_MAX: usize = 60 * 1024;

/// The statement schema version this build understands.
pub const SCHEMA_VERSION: u64 = 1;

/// Kind of security test evidence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TestKind {
    /// Static analysis of code or binaries.
    StaticAnalysis,
    /// Dynamic analysis / fuzzing.
    DynamicAnalysis,
    /// A penetration test.
    PenetrationTest,
    /// Robustness testing of an AI model (adversarial inputs, drift).
    AiRobustness,
}

/// Outcome of a security test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TestResult {
    /// Passed.
    Pass,
    /// Findings to address.
    Findings,
    /// Failed.
    Fail,
}

/// VEX-style status of a device with respect to a vulnerability.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VexStatus {
    /// Not affected (a justification is expected).
    NotAffected,
    /// Affected.
    Affected,
    /// Fixed.
    Fixed,
    /// Being investigated.
    UnderInvestigation,
}

/// Severity of an incident or a risk: the workspace's one severity scale
/// (`risk::Severity`, the CVSS qualitative bands; lowercase on the wire).
pub use risk::Severity;

fn one() -> u32 {
    1
}

/// One component of a registered SBOM.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SbomComponent {
    /// Name.
    pub name: String,
    /// Group or namespace, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Version, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Package URL, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purl: Option<String>,
    /// CPE 2.3 names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cpe: Vec<String>,
    /// SHA-256 of the component, hex, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

/// An announced release in a [`StatementBody::ReleasePlan`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlannedRelease {
    /// Its version, e.g. `2.2.0`.
    pub version: String,
    /// Its planned date, `YYYY-MM-DD`.
    pub date: String,
}

/// A statement's payload, by type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case", deny_unknown_fields)]
pub enum StatementBody {
    /// A manufacturer registers a device it made (subject: the device).
    DeviceRegistered {
        /// Manufacturer's name.
        manufacturer: String,
        /// Model.
        model: String,
        /// Serial number.
        serial: String,
        /// Hardware id (e.g. a TPM EK hash), if any.
        #[serde(default)]
        hardware_id: Option<String>,
        /// The device's own public key (PEM), if it signs statements.
        #[serde(default)]
        device_key: Option<String>,
    },
    /// Ownership (and operation, maintenance) passes to stakeholders.
    OwnershipTransferred {
        /// The new owner.
        owner: StakeholderId,
        /// The operator, if named.
        #[serde(default)]
        operator: Option<StakeholderId>,
        /// The maintenance contractor, if named.
        #[serde(default)]
        maintainer: Option<StakeholderId>,
        /// Site, if named.
        #[serde(default)]
        site: Option<String>,
        /// Location within the site (room, floor), if named.
        #[serde(default)]
        location: Option<String>,
        /// Groups the device belongs to (replaces earlier groups when given).
        #[serde(default)]
        groups: Option<Vec<String>>,
    },
    /// The device moves to another lifecycle state.
    LifecycleChanged {
        /// The new state.
        to: Lifecycle,
    },
    /// A manufacturer releases firmware (subject: `model:<vendor>/<model>`).
    /// With `image_length`, `hardware_ids` and `release_counter` it is a
    /// *release manifest* a device can check by itself before installing the
    /// image (`ota-verify`; `docs/secure-updates.md`).
    FirmwareReleased {
        /// Version.
        version: String,
        /// SHA-256 of the image, hex.
        image_sha256: String,
        /// Where the SBOM is (or its hash), if any.
        #[serde(default)]
        sbom: Option<String>,
        /// SHA-512 of the image, hex (128 digits), if given.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        image_sha512: Option<String>,
        /// The image's length in bytes.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        image_length: Option<u64>,
        /// The hardware ids the image is for (a device accepts it only if its
        /// own is listed).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        hardware_ids: Vec<String>,
        /// Anti-rollback counter: greater than every earlier release's of the
        /// model; a device refuses an image whose counter is below its own.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        release_counter: Option<u64>,
        /// The lowest version a device may run from now on (a device that
        /// installs this release refuses anything older afterwards).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min_version: Option<String>,
        /// SHA-256 of the VEX document that describes exactly this image, hex.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        vex: Option<String>,
        /// The last day the manufacturer promises security updates for
        /// devices running this release, `YYYY-MM-DD`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        support_end: Option<String>,
        /// SHA-256 of a reproducible-build attestation of the image, hex.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        build_attestation: Option<String>,
    },
    /// A manufacturer withdraws one of its releases (subject
    /// `model:<vendor>/<model>`): no bundle is built for it any more and
    /// lookups say so. The release stays in the log.
    FirmwareWithdrawn {
        /// The version withdrawn.
        version: String,
        /// Why.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// Firmware now running on the device.
    FirmwareInstalled {
        /// Version.
        version: String,
        /// SHA-256 of the image, hex.
        image_sha256: String,
    },
    /// The device's configuration.
    ConfigurationReported {
        /// SHA-256 of the configuration, hex.
        config_sha256: String,
        /// Security-relevant settings.
        #[serde(default)]
        settings: serde_json::Map<String, Value>,
    },
    /// An AI model deployed on the device.
    AiModelDeployed {
        /// Model name.
        name: String,
        /// Model version.
        version: String,
        /// SHA-256 of the model, hex.
        model_sha256: String,
        /// Reference to the training data's provenance.
        #[serde(default)]
        training_data: Option<String>,
    },
    /// Evidence of a security test of a firmware release or a model.
    SecurityTestEvidence {
        /// SHA-256 of what was tested (image or model), hex.
        target_sha256: String,
        /// Kind of test.
        kind: TestKind,
        /// Tool used.
        tool: String,
        /// SHA-256 of the report, hex.
        report_sha256: String,
        /// Outcome.
        result: TestResult,
        /// Summary.
        #[serde(default)]
        summary: Option<String>,
    },
    /// A VEX-style assessment of one vulnerability for the subject.
    VulnerabilityAssessment {
        /// CVE or other id.
        vulnerability: String,
        /// Status.
        status: VexStatus,
        /// Why (expected for `not_affected`): an OpenVEX/CSAF justification
        /// (`component_not_present`, `vulnerable_code_not_present`,
        /// `vulnerable_code_not_in_execute_path`,
        /// `vulnerable_code_cannot_be_controlled_by_adversary`,
        /// `inline_mitigations_already_exist`) or free text.
        #[serde(default)]
        justification: Option<String>,
        /// On a model subject: the firmware release it is about (required
        /// there; inherited by later releases while the component is unchanged).
        #[serde(default)]
        release: Option<String>,
        /// The component it is about (a purl, or `name` or `name@version`);
        /// every component when absent.
        #[serde(default)]
        component: Option<String>,
        /// Free-text impact statement.
        #[serde(default)]
        impact: Option<String>,
    },
    /// The SBOM of a firmware release (subject `model:<vendor>/<model>`, by
    /// the manufacturer), normalized: the components of the original
    /// CycloneDX or SPDX document, whose hash it records. A large SBOM is
    /// registered in parts (`part` of `parts`, same `document_sha256`).
    SbomRegistered {
        /// The firmware release (its version, as released).
        release: String,
        /// The original document's format, e.g. `CycloneDX 1.6`, `SPDX-2.3`.
        format: String,
        /// SHA-256 of the original document, hex.
        document_sha256: String,
        /// This part's number, from 1.
        #[serde(default = "one")]
        part: u32,
        /// How many parts the SBOM has.
        #[serde(default = "one")]
        parts: u32,
        /// The components (in this part).
        components: Vec<SbomComponent>,
        /// The AI model package this SBOM describes (its name; `release` is
        /// then the package's version), deployed on devices of the subject
        /// model as `ai-model-deployed`; absent for a firmware release.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ai_model: Option<String>,
    },
    /// A manufacturer's announced release plan for a model (subject
    /// `model:<vendor>/<model>`): "next minor" and "next major" deadlines
    /// resolve to these dates. It replaces the previous plan.
    ReleasePlan {
        /// The version released now, e.g. `2.1.0`.
        current: String,
        /// Announced releases.
        #[serde(default)]
        releases: Vec<PlannedRelease>,
    },
    /// Maintenance work done on the device.
    MaintenancePerformed {
        /// What was done.
        work: String,
    },
    /// A security incident on the device.
    IncidentReported {
        /// Severity.
        severity: Severity,
        /// What happened.
        summary: String,
        /// The alarm it confirms, when an operator confirmed one
        /// (`<rule>@<entry of the report that raised it>`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        alarm: Option<String>,
    },
    /// Access to the device granted to a stakeholder.
    AccessGranted {
        /// Who.
        grantee: StakeholderId,
        /// What access.
        scope: String,
    },
    /// Access revoked.
    AccessRevoked {
        /// Who.
        grantee: StakeholderId,
        /// What access.
        scope: String,
    },
    /// A risk recorded in the register.
    RiskRecorded {
        /// Risk id.
        risk: String,
        /// Severity.
        severity: Severity,
        /// Description.
        description: String,
        /// Its CVSS vector, if scored.
        #[serde(default)]
        cvss_vector: Option<String>,
        /// Where it comes from, e.g. `threat-model:<name>@<version>`.
        #[serde(default)]
        source: Option<String>,
        /// The element or component it is about, if any.
        #[serde(default)]
        element: Option<String>,
        /// The deadline the recorder computed (`YYYY-MM-DD`), if any.
        #[serde(default)]
        deadline: Option<String>,
    },
    /// A risk accepted (not fixed), with a rationale.
    RiskAccepted {
        /// Risk id.
        risk: String,
        /// Why.
        rationale: String,
        /// Until when the acceptance holds (`YYYY-MM-DD`); for good when absent.
        #[serde(default)]
        until: Option<String>,
    },
    /// A risk mitigated.
    RiskMitigated {
        /// Risk id.
        risk: String,
        /// How.
        how: String,
    },
    /// A risk transferred to another stakeholder (who now owns it).
    RiskTransferred {
        /// Risk id.
        risk: String,
        /// The new owner.
        to: StakeholderId,
        /// Why.
        rationale: String,
    },
    /// A risk that is not one: the match or finding does not apply.
    RiskFalsePositive {
        /// Risk id.
        risk: String,
        /// Why.
        rationale: String,
    },
    /// The device is retired for good.
    Decommissioned {
        /// Why.
        reason: String,
    },
    /// The registry authority registers a stakeholder (subject
    /// `stakeholder:<id>`); the log's first such statement, signed by one of
    /// its own keys, makes its subject the authority (the bootstrap).
    StakeholderRegistered {
        /// Display name of the organization.
        name: String,
        /// Roles the organization holds (a manufacturer may register devices;
        /// the auditor role alone grants nothing: an auditor audits the
        /// devices an `audit-granted` statement covers).
        #[serde(default)]
        roles: Vec<Role>,
        /// Its signing keys.
        keys: Vec<KeySpec>,
    },
    /// A key added to a stakeholder (rotation), by itself or the authority.
    KeyAdded {
        /// The key.
        key: KeySpec,
    },
    /// A key revoked: statements after this entry signed with it are refused.
    KeyRevoked {
        /// The key's id (RFC 9679 thumbprint), hex.
        kid: String,
        /// Why.
        #[serde(default)]
        reason: Option<String>,
    },
    /// A stakeholder's data-sharing policy (subject `stakeholder:<id>`, signed
    /// by that stakeholder); it replaces the previous one.
    SharingPolicy {
        /// The policy (see [`crate::sharing::SharingPolicy`]).
        policy: Value,
    },
    /// A stakeholder's read-transparency policy (subject `stakeholder:<id>`,
    /// signed by that stakeholder; see [`crate::published::TransparencyPolicy`]).
    TransparencyPolicy {
        /// The policy.
        policy: Value,
    },
    /// A stakeholder's AI-use policy for a class of devices (subject
    /// `stakeholder:<id>`, signed by that stakeholder; see
    /// [`crate::published::AiUsePolicy`]).
    AiUsePolicy {
        /// The policy.
        policy: Value,
    },
    /// A stakeholder's security profile (subject `stakeholder:<id>`,
    /// signed by that stakeholder; see
    /// [`crate::published::SecurityProfile`]): behaviours that say what is
    /// normal for the devices it covers, in the manner of AWS IoT Device
    /// Defender's security profiles. Publishing again under the same id
    /// replaces it.
    SecurityProfile {
        /// The profile.
        policy: Value,
    },
    /// A stakeholder's threat model (subject `stakeholder:<id>`, signed by
    /// that stakeholder; see [`crate::published::ThreatModelDoc`]): the model
    /// its recorded threat findings come from. Publishing again under the
    /// same id is a new version.
    ThreatModel {
        /// The model, named and versioned.
        policy: Value,
    },
    /// A stakeholder registers a custom statement type (subject
    /// `stakeholder:<id>`, its own): statements of type `name` are then
    /// accepted when their payload validates against `schema` (JSON Schema).
    StatementTypeRegistered {
        /// `namespace/name`, lower-case letters, digits and dashes.
        name: String,
        /// The JSON Schema the payload (without `type` and `v`) must satisfy.
        schema: Value,
        /// Roles that may assert it (default: any role on the device).
        #[serde(default)]
        asserted_by: Vec<Role>,
        /// Roles that must assert or endorse it before it is agreed.
        #[serde(default)]
        endorsed_by: Vec<Role>,
        /// What it records.
        #[serde(default)]
        description: Option<String>,
        /// The payload field, an object, whose members set the twin's
        /// attributes ([`crate::projection::Twin::asset_attributes`]), if statements of
        /// the type set any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sets_attributes: Option<String>,
    },
    /// A statement of a registered custom type (on the wire:
    /// `{"type":"<namespace/name>", ...fields}`; this form is internal).
    Custom {
        /// The custom type's name.
        custom_type: String,
        /// The payload's fields (without `type` and `v`).
        content: serde_json::Map<String, Value>,
    },
    /// A device owner lets an auditor read its devices (subject
    /// `stakeholder:<grantor>`, signed by the grantor; see [`crate::audit`]).
    /// Granting again under the same `grant` id replaces the grant.
    AuditGranted {
        /// The grantor's id for the grant, `[A-Za-z0-9._-]{1,128}`.
        grant: String,
        /// Who may audit.
        auditor: StakeholderId,
        /// Which of the grantor's devices: `"all"` or
        /// `{"matching": {"ids"|"groups"|"sites"|"models"|"manufacturers": [...]}}`.
        devices: crate::sharing::DeviceFilter,
        /// Not in force before (unix seconds, inclusive).
        #[serde(default)]
        not_before: Option<i64>,
        /// Not in force after (unix seconds, inclusive).
        #[serde(default)]
        not_after: Option<i64>,
    },
    /// A grant withdrawn (subject `stakeholder:<grantor>`, signed by the grantor).
    AuditRevoked {
        /// The grant's id.
        grant: String,
    },
    /// A report case under the EU Cyber Resilience Act (Art. 14) opened on a
    /// manufacturer (subject `stakeholder:<manufacturer>`; see
    /// [`crate::cra`]): by the manufacturer, the registry authority (a
    /// known-exploited list names the vulnerability) or a stakeholder that
    /// reports an exploitation or an incident.
    CraCaseOpened {
        /// The case id, `[A-Za-z0-9._:-]{1,128}`.
        case: String,
        /// Vulnerability or incident.
        kind: crate::cra::CaseKind,
        /// The vulnerability (CVE or EUVD id); required for a vulnerability.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        vulnerability: Option<String>,
        /// How it came to be opened.
        source: crate::cra::CaseSource,
        /// The products (model names) concerned.
        products: Vec<String>,
        /// What it rests on.
        #[serde(default)]
        evidence: String,
    },
    /// The manufacturer states when it became aware of a case (subject
    /// `stakeholder:<manufacturer>`, its own): the reporting clock's start.
    CraAwareness {
        /// The case id.
        case: String,
        /// When it became aware, unix seconds (not after the statement).
        aware_at: i64,
    },
    /// A stage of the manufacturer's report on a case, as it signs it
    /// (subject `stakeholder:<manufacturer>`, its own): the fields the
    /// reporting platform asks for, in `report`.
    CraReport {
        /// The case id.
        case: String,
        /// Early warning, notification or final report.
        stage: crate::cra::Stage,
        /// The report (a JSON object).
        report: serde_json::Map<String, Value>,
    },
    /// The end of security support a manufacturer promises for a model
    /// (subject `model:<vendor>/<model>`; CRA Art. 13(8)). A later promise
    /// replaces it; one ending earlier than a promise before it is a
    /// promise cut short.
    SupportPeriod {
        /// The last day of security support, `YYYY-MM-DD`.
        end: risk::Date,
        /// What the manufacturer says of it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },
    /// Agreement with another statement (by its log entry).
    Endorse {
        /// The endorsed statement's entry index.
        entry: u64,
    },
    /// Disagreement with another statement (by its log entry).
    Dispute {
        /// The disputed statement's entry index.
        entry: u64,
        /// Why.
        reason: String,
    },
}

/// Why a payload is not a statement of this model.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StatementParseError {
    /// Larger than [`PAYLOAD_BYTES_MAX`].
    #[error("payload of {bytes} bytes exceeds {max_bytes} bytes")]
    TooLarge {
        /// Its size.
        bytes: usize,
        /// The limit.
        max_bytes: usize,
    },
    /// Not a JSON object.
    #[error("payload is not a JSON object: {0}")]
    NotJson(String),
    /// No `type`.
    #[error("payload has no \"type\"")]
    MissingType,
    /// A version this build does not know.
    #[error("schema version {0} is not supported (this build knows version 1)")]
    UnsupportedVersion(String),
    /// A type this model does not know.
    #[error(
        "unknown statement type {0:?} (custom types must be registered with a JSON Schema first)"
    )]
    UnknownType(String),
    /// A custom statement that does not satisfy its type's schema.
    #[error("the {kind:?} statement does not satisfy its schema: {why}")]
    SchemaViolation {
        /// The custom type.
        kind: String,
        /// The validator's first error.
        why: String,
    },
    /// An `on_behalf_of` that is not a stakeholder id.
    #[error(
        "on_behalf_of must be a stakeholder id (a non-empty string of at most 256 bytes), not {0}"
    )]
    BadDelegation(String),
    /// A `salt` that is not a string of the allowed length.
    #[error(
        "salt must be a string of {SALT_CHARS_MIN} to {SALT_CHARS_MAX} characters (random, e.g. 16 bytes in base64url), not {0}"
    )]
    BadSalt(String),
    /// Fields missing, unknown or of the wrong type.
    #[error("invalid {kind:?} statement: {why}")]
    Invalid {
        /// The type.
        kind: String,
        /// What is wrong (from the parser).
        why: String,
    },
}

/// Every type tag, as on the wire.
pub const TYPES: &[&str] = &[
    "device-registered",
    "ownership-transferred",
    "lifecycle-changed",
    "firmware-released",
    "firmware-withdrawn",
    "firmware-installed",
    "configuration-reported",
    "ai-model-deployed",
    "security-test-evidence",
    "vulnerability-assessment",
    "maintenance-performed",
    "incident-reported",
    "access-granted",
    "access-revoked",
    "risk-recorded",
    "risk-accepted",
    "risk-mitigated",
    "risk-transferred",
    "risk-false-positive",
    "sbom-registered",
    "release-plan",
    "decommissioned",
    "stakeholder-registered",
    "key-added",
    "key-revoked",
    "sharing-policy",
    "transparency-policy",
    "ai-use-policy",
    "security-profile",
    "threat-model",
    "statement-type-registered",
    "endorse",
    "dispute",
    "audit-granted",
    "audit-revoked",
    "cra-case-opened",
    "cra-awareness",
    "cra-report",
    "support-period",
];

/// A SHA-256 digest written as 64 hex digits (either case), decoded.
pub fn sha256_hex(text: &str) -> Option<[u8; 32]> {
    let text = text.strip_prefix("sha256:").unwrap_or(text);
    if text.len() != 64 {
        return None;
    }
    let hex = |b: u8| (b as char).to_digit(16);
    let mut out = [0u8; 32];
    for (slot, pair) in out.iter_mut().zip(text.as_bytes().chunks_exact(2)) {
        let &[hi, lo] = pair else { return None };
        *slot = u8::try_from(hex(hi)? * 16 + hex(lo)?).ok()?;
    }
    Some(out)
}

/// The payload field naming the stakeholder a statement is made for when
/// the registry authority (the service) signs it on that stakeholder's
/// behalf (see [`Delegated`]).
pub const ON_BEHALF_OF: &str = "on_behalf_of";

/// The payload field holding random characters that make a confidential
/// payload's digest unguessable. A hash envelope puts the payload's SHA-256
/// in the public log; without a salt, anyone could confirm a guess of a
/// low-entropy payload (a serial number, an attribute value) by hashing it.
/// The projection ignores the field.
pub const SALT: &str = "salt";
/// Shortest salt, in characters: 22 base64url characters carry 128 bits.
pub const SALT_CHARS_MIN: usize = 22;
/// Longest salt, in characters.
pub const SALT_CHARS_MAX: usize = 128;

/// A parsed payload and, if it has one, its `on_behalf_of` field: the
/// stakeholder the signer says it signs for. Whether the signer may do so
/// is the projection's decision (only the registry authority may).
#[derive(Debug, Clone, PartialEq)]
pub struct Delegated {
    /// The statement.
    pub body: StatementBody,
    /// The stakeholder named by `on_behalf_of`, if any.
    pub on_behalf_of: Option<StakeholderId>,
}

/// Removes `v` (checking it), `salt` (checking it) and `on_behalf_of` from
/// a payload object.
fn strip_envelope(
    map: &mut serde_json::Map<String, Value>,
) -> Result<Option<StakeholderId>, StatementParseError> {
    if let Some(v) = map.remove("v") {
        if v.as_u64() != Some(SCHEMA_VERSION) {
            return Err(StatementParseError::UnsupportedVersion(v.to_string()));
        }
    }
    match map.remove(SALT) {
        None => {}
        Some(Value::String(s)) if (SALT_CHARS_MIN..=SALT_CHARS_MAX).contains(&s.len()) => {}
        Some(other) => return Err(StatementParseError::BadSalt(other.to_string())),
    }
    match map.remove(ON_BEHALF_OF) {
        None => Ok(None),
        Some(Value::String(s)) if !s.is_empty() && s.len() <= 256 => Ok(Some(StakeholderId(s))),
        Some(other) => Err(StatementParseError::BadDelegation(other.to_string())),
    }
}

impl StatementBody {
    /// Parses a payload strictly (an `on_behalf_of` field is accepted and
    /// dropped: see [`StatementBody::parse_delegated`]).
    pub fn parse(payload: &[u8]) -> Result<StatementBody, StatementParseError> {
        Self::parse_delegated(payload).map(|d| d.body)
    }

    /// Parses a payload strictly, with its `on_behalf_of` field.
    pub fn parse_delegated(payload: &[u8]) -> Result<Delegated, StatementParseError> {
        if payload.len() > PAYLOAD_BYTES_MAX {
            return Err(StatementParseError::TooLarge {
                bytes: payload.len(),
                max_bytes: PAYLOAD_BYTES_MAX,
            });
        }
        let mut value: Value = serde_json::from_slice(payload)
            .map_err(|e| StatementParseError::NotJson(e.to_string()))?;
        let Value::Object(map) = &mut value else {
            return Err(StatementParseError::NotJson("not an object".into()));
        };
        let on_behalf_of = strip_envelope(map)?;
        let kind = match map.get("type") {
            Some(Value::String(t)) => t.clone(),
            Some(_) | None => return Err(StatementParseError::MissingType),
        };
        if !TYPES.contains(&kind.as_str()) {
            return Err(StatementParseError::UnknownType(kind));
        }
        // The internal form of custom statements is not a wire type.
        if kind == "custom" {
            return Err(StatementParseError::UnknownType(kind));
        }
        let body = serde_json::from_value(value).map_err(|e| StatementParseError::Invalid {
            kind,
            why: e.to_string(),
        })?;
        Ok(Delegated { body, on_behalf_of })
    }

    /// The SHA-256 digests the statement names, with the field's meaning:
    /// a firmware image, a configuration, an AI model, a test's target or
    /// report, an SBOM document. Only well-formed digests (64 hex digits);
    /// a file with one of them is found by it (`GET /api/v1/digests/{sha256}`).
    pub fn digests(&self) -> Vec<(&'static str, [u8; 32])> {
        let candidates: Vec<(&'static str, &str)> = match self {
            StatementBody::FirmwareReleased {
                image_sha256,
                sbom,
                vex,
                build_attestation,
                ..
            } => {
                let mut v = vec![("firmware image", image_sha256.as_str())];
                if let Some(s) = sbom {
                    v.push(("SBOM document", s.as_str()));
                }
                if let Some(s) = vex {
                    v.push(("VEX document", s.as_str()));
                }
                if let Some(s) = build_attestation {
                    v.push(("build attestation", s.as_str()));
                }
                v
            }
            StatementBody::FirmwareInstalled { image_sha256, .. } => {
                vec![("firmware image", image_sha256.as_str())]
            }
            StatementBody::ConfigurationReported { config_sha256, .. } => {
                vec![("configuration", config_sha256.as_str())]
            }
            StatementBody::AiModelDeployed { model_sha256, .. } => {
                vec![("AI model", model_sha256.as_str())]
            }
            StatementBody::SecurityTestEvidence {
                target_sha256,
                report_sha256,
                ..
            } => vec![
                ("tested image or model", target_sha256.as_str()),
                ("test report", report_sha256.as_str()),
            ],
            StatementBody::SbomRegistered {
                document_sha256, ..
            } => vec![("SBOM document", document_sha256.as_str())],
            _ => Vec::new(),
        };
        candidates
            .into_iter()
            .filter_map(|(field, text)| Some((field, sha256_hex(text)?)))
            .collect()
    }

    /// The statement's type as on the wire: the custom type's name for a
    /// custom statement, [`StatementBody::kind`] otherwise.
    pub fn type_name(&self) -> &str {
        match self {
            StatementBody::Custom { custom_type, .. } => custom_type,
            other => other.kind(),
        }
    }

    /// The payload as on the wire (a custom statement as
    /// `{"type":"<name>", ...fields}`).
    pub fn to_wire(&self) -> Value {
        match self {
            StatementBody::Custom {
                custom_type,
                content,
            } => {
                let mut m = content.clone();
                m.insert("type".into(), Value::String(custom_type.clone()));
                Value::Object(m)
            }
            other => serde_json::to_value(other).unwrap_or(Value::Null),
        }
    }

    /// The payload's bytes as a signer puts them in a statement: the JSON of
    /// [`StatementBody::to_wire`]. [`StatementBody::parse`] (or, for a
    /// custom statement, [`StatementBody::parse_custom`]) gives back the
    /// same value.
    pub fn to_payload(&self) -> Vec<u8> {
        self.to_wire().to_string().into_bytes()
    }

    /// The type tag of a payload, if it has one (no full parse).
    pub fn peek_type(payload: &[u8]) -> Option<String> {
        #[derive(Deserialize)]
        struct Tag {
            #[serde(rename = "type")]
            kind: String,
        }
        serde_json::from_slice::<Tag>(payload).ok().map(|t| t.kind)
    }

    /// The stakeholder a payload says it is made for (`on_behalf_of`),
    /// whatever its type (core, built-in or custom), without parsing the
    /// rest; `None` if it names none or is not a JSON object. Whether the
    /// signer may delegate is the projection's decision.
    pub fn peek_on_behalf_of(payload: &[u8]) -> Option<StakeholderId> {
        #[derive(Deserialize)]
        struct Envelope {
            on_behalf_of: Option<String>,
        }
        serde_json::from_slice::<Envelope>(payload)
            .ok()?
            .on_behalf_of
            .filter(|s| !s.is_empty() && s.len() <= 256)
            .map(StakeholderId)
    }

    /// Parses a payload of the custom type `name` (its schema is checked by
    /// the caller): the object's fields without `type` and `v`.
    pub fn parse_custom(payload: &[u8], name: &str) -> Result<StatementBody, StatementParseError> {
        Self::parse_custom_delegated(payload, name).map(|d| d.body)
    }

    /// [`StatementBody::parse_custom`], with the payload's `on_behalf_of`.
    pub fn parse_custom_delegated(
        payload: &[u8],
        name: &str,
    ) -> Result<Delegated, StatementParseError> {
        if payload.len() > PAYLOAD_BYTES_MAX {
            return Err(StatementParseError::TooLarge {
                bytes: payload.len(),
                max_bytes: PAYLOAD_BYTES_MAX,
            });
        }
        let value: Value = serde_json::from_slice(payload)
            .map_err(|e| StatementParseError::NotJson(e.to_string()))?;
        let Value::Object(mut map) = value else {
            return Err(StatementParseError::NotJson("not an object".into()));
        };
        let on_behalf_of = strip_envelope(&mut map)?;
        map.remove("type");
        Ok(Delegated {
            body: StatementBody::Custom {
                custom_type: name.to_string(),
                content: map,
            },
            on_behalf_of,
        })
    }

    /// The wire type tag.
    pub fn kind(&self) -> &'static str {
        match self {
            StatementBody::DeviceRegistered { .. } => "device-registered",
            StatementBody::OwnershipTransferred { .. } => "ownership-transferred",
            StatementBody::LifecycleChanged { .. } => "lifecycle-changed",
            StatementBody::FirmwareReleased { .. } => "firmware-released",
            StatementBody::FirmwareWithdrawn { .. } => "firmware-withdrawn",
            StatementBody::FirmwareInstalled { .. } => "firmware-installed",
            StatementBody::ConfigurationReported { .. } => "configuration-reported",
            StatementBody::AiModelDeployed { .. } => "ai-model-deployed",
            StatementBody::SecurityTestEvidence { .. } => "security-test-evidence",
            StatementBody::VulnerabilityAssessment { .. } => "vulnerability-assessment",
            StatementBody::MaintenancePerformed { .. } => "maintenance-performed",
            StatementBody::IncidentReported { .. } => "incident-reported",
            StatementBody::AccessGranted { .. } => "access-granted",
            StatementBody::AccessRevoked { .. } => "access-revoked",
            StatementBody::RiskRecorded { .. } => "risk-recorded",
            StatementBody::RiskAccepted { .. } => "risk-accepted",
            StatementBody::RiskMitigated { .. } => "risk-mitigated",
            StatementBody::RiskTransferred { .. } => "risk-transferred",
            StatementBody::RiskFalsePositive { .. } => "risk-false-positive",
            StatementBody::SbomRegistered { .. } => "sbom-registered",
            StatementBody::ReleasePlan { .. } => "release-plan",
            StatementBody::Decommissioned { .. } => "decommissioned",
            StatementBody::StakeholderRegistered { .. } => "stakeholder-registered",
            StatementBody::KeyAdded { .. } => "key-added",
            StatementBody::KeyRevoked { .. } => "key-revoked",
            StatementBody::SharingPolicy { .. } => "sharing-policy",
            StatementBody::TransparencyPolicy { .. } => "transparency-policy",
            StatementBody::AiUsePolicy { .. } => "ai-use-policy",
            StatementBody::SecurityProfile { .. } => "security-profile",
            StatementBody::ThreatModel { .. } => "threat-model",
            StatementBody::StatementTypeRegistered { .. } => "statement-type-registered",
            StatementBody::Custom { .. } => "custom",
            StatementBody::Endorse { .. } => "endorse",
            StatementBody::Dispute { .. } => "dispute",
            StatementBody::AuditGranted { .. } => "audit-granted",
            StatementBody::AuditRevoked { .. } => "audit-revoked",
            StatementBody::CraCaseOpened { .. } => "cra-case-opened",
            StatementBody::CraAwareness { .. } => "cra-awareness",
            StatementBody::CraReport { .. } => "cra-report",
            StatementBody::SupportPeriod { .. } => "support-period",
        }
    }
}

//! The risk views under `/api/v1`: the register (`/risks`), its summary,
//! exposure, VEX, their typed queries (unknown parameters refused), and the
//! answers of advisory imports.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// Largest page of risks.
pub const RISK_PAGE_SIZE_MAX: usize = 1000;
/// Page size when none is asked for.
pub const RISK_PAGE_SIZE_DEFAULT: usize = 100;

/// The qualitative severity of a vulnerability (CVSS v3.1 §5).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Score 0.0.
    None,
    /// Score 0.1 to 3.9.
    Low,
    /// Score 4.0 to 6.9.
    Medium,
    /// Score 7.0 to 8.9.
    High,
    /// Score 9.0 to 10.0.
    Critical,
}

impl Severity {
    /// Its name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::None => "none",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

/// Where a risk stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RiskStatus {
    /// Nothing decided (or an acceptance expired).
    Open,
    /// Accepted.
    Accepted,
    /// Mitigated.
    Mitigated,
    /// Transferred to another owner (open for them).
    Transferred,
    /// Not a real risk.
    FalsePositive,
}

impl RiskStatus {
    /// Its name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            RiskStatus::Open => "open",
            RiskStatus::Accepted => "accepted",
            RiskStatus::Mitigated => "mitigated",
            RiskStatus::Transferred => "transferred",
            RiskStatus::FalsePositive => "false_positive",
        }
    }
}

/// What a risk is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RiskKind {
    /// A vulnerability of a device's firmware.
    DeviceVulnerability,
    /// A vulnerability of a firmware release.
    ReleaseVulnerability,
    /// A risk recorded on a model (threat modeling).
    Recorded,
    /// An open posture audit finding on a device's latest signed report
    /// (risk id `posture/<RULE>`).
    PostureFinding,
}

/// Which kind of risk a query asks for (`kind=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum KindFilter {
    /// Device vulnerabilities.
    Device,
    /// Release vulnerabilities.
    Release,
    /// Risks recorded on a model (threat modeling).
    Recorded,
    /// Open posture audit findings on devices.
    Posture,
}

impl From<KindFilter> for RiskKind {
    fn from(k: KindFilter) -> RiskKind {
        match k {
            KindFilter::Device => RiskKind::DeviceVulnerability,
            KindFilter::Release => RiskKind::ReleaseVulnerability,
            KindFilter::Recorded => RiskKind::Recorded,
            KindFilter::Posture => RiskKind::PostureFinding,
        }
    }
}

/// The query of `GET /api/v1/risks`: every filter optional, then a page.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RiskQuery {
    /// Only this device's risks.
    pub device: Option<String>,
    /// Only this vulnerability's (advisory id).
    pub vulnerability: Option<String>,
    /// Only this model's (`model:<vendor>/<model>`).
    pub model: Option<String>,
    /// Only this release's (firmware version).
    pub release: Option<String>,
    /// Only the risks of devices of this site.
    pub site: Option<String>,
    /// Only risks in this status.
    pub status: Option<RiskStatus>,
    /// Only risks of this severity.
    pub severity: Option<Severity>,
    /// Only this kind.
    pub kind: Option<KindFilter>,
    /// Only overdue (`true`) or not overdue (`false`) risks.
    pub overdue: Option<bool>,
    /// Only risks recorded from this source (e.g. `threat-model:<name>`).
    pub source: Option<String>,
    /// Risks per page (1 to 1000, default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub page_size: Option<usize>,
    /// Risks to skip (`next_offset` of the previous page).
    #[param(minimum = 0)]
    pub offset: Option<usize>,
}

/// `/risks/summary` takes no parameters (any is refused).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct NoParameters {}

/// How exposure is grouped (`by=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ExposureBy {
    /// By vulnerability (the default).
    #[default]
    Vulnerability,
    /// By device.
    Device,
    /// By firmware (`model@version`).
    Firmware,
    /// By site.
    Site,
}

/// The query of `GET /api/v1/exposure`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ExposureQuery {
    /// The grouping (default `vulnerability`).
    #[serde(default)]
    #[param(inline)]
    pub by: ExposureBy,
}

/// The query of `GET /api/v1/vex`: a model, and optionally one release.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct VexQuery {
    /// The model subject, `model:<vendor>/<model>` (required; its absence
    /// is answered 400).
    #[param(required = true)]
    pub model: Option<String>,
    /// Only this release (version).
    pub release: Option<String>,
}

/// Why a component matched an advisory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RiskMatch {
    /// The component's name.
    pub component: String,
    /// Its version, if known.
    pub version: Option<String>,
    /// The rule (`purl`, `cpe`, `cpe-vendor-product`, `name-version`).
    pub rule: String,
    /// The affected interval.
    pub range: String,
    /// `low`, `medium` or `high`.
    pub confidence: String,
    /// The explanation.
    pub reason: String,
}

/// A VEX statement that applies to a risk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RiskVex {
    /// `affected`, `not_affected`, `fixed`, `under_investigation`.
    pub status: String,
    /// Justification, if any.
    pub justification: Option<String>,
    /// The release it was made for, or `device` for a device-level one.
    pub from: String,
    /// Whether it was inherited from an earlier release.
    pub inherited: bool,
    /// Who signed it.
    pub stakeholder: String,
}

/// What a decision on a risk decided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum DecisionKind {
    /// Accepted (not fixed), until a date or for good.
    Accepted {
        /// Why.
        rationale: String,
        /// Until when.
        until: Option<String>,
    },
    /// Mitigated.
    Mitigated {
        /// How.
        how: String,
    },
    /// Transferred to another stakeholder.
    Transferred {
        /// The new owner.
        to: String,
        /// Why.
        rationale: String,
    },
    /// Not a real risk.
    FalsePositive {
        /// Why.
        rationale: String,
    },
}

/// A decision on a risk: a signed `risk-*` statement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Decision {
    /// Its entry.
    pub entry: u64,
    /// Who signed it.
    pub issuer: String,
    /// What it decided.
    #[serde(flatten)]
    pub kind: DecisionKind,
}

/// Why a deadline is what it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "basis", rename_all = "snake_case")]
pub enum DeadlineBasis {
    /// High or critical: due on the day it was found.
    Immediate,
    /// High or critical with a configured number of days.
    Days {
        /// The days after the finding's date.
        days: u32,
    },
    /// The announced release that must carry the fix.
    Release {
        /// Its version.
        version: String,
    },
    /// No release plan (or no matching release in it): a day count instead.
    Fallback {
        /// The days after the finding's date.
        days: u32,
        /// Which release was wanted: `next minor` or `next major`.
        wanted: String,
    },
    /// Severity none: no deadline.
    NoDeadline,
    /// On a known-exploited list: the policy's days for those (`kev_days`),
    /// sooner than the severity's deadline.
    KnownExploited {
        /// The days after the finding's date.
        days: u32,
    },
}

impl DeadlineBasis {
    /// Its name on the wire (the `basis` member).
    pub fn as_str(&self) -> &'static str {
        match self {
            DeadlineBasis::Immediate => "immediate",
            DeadlineBasis::Days { .. } => "days",
            DeadlineBasis::Release { .. } => "release",
            DeadlineBasis::Fallback { .. } => "fallback",
            DeadlineBasis::NoDeadline => "no_deadline",
            DeadlineBasis::KnownExploited { .. } => "known_exploited",
        }
    }
}

/// A deadline: its date (none for severity none) and its basis.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Deadline {
    /// The date by which the risk must be fixed (`YYYY-MM-DD`).
    #[schema(format = Date)]
    pub date: Option<String>,
    /// Why.
    #[serde(flatten)]
    pub basis: DeadlineBasis,
}

/// Where a deadline stands on the register's day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum DeadlineStatus {
    /// No deadline.
    NoDeadline,
    /// Not past yet (due today counts as not past).
    Due {
        /// Days left (0 on the deadline itself).
        days_left: i64,
    },
    /// Past the deadline.
    Overdue {
        /// Days past the deadline (at least 1).
        days_overdue: i64,
    },
}

/// A known-exploited list's entry for a vulnerability.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct KevListing {
    /// The list (`cisa-kev`, or the name another list was imported under).
    pub list: String,
    /// When it was added (`YYYY-MM-DD`).
    #[schema(format = Date)]
    pub date_added: String,
    /// The list's due date (`YYYY-MM-DD`).
    #[schema(format = Date)]
    pub due_date: String,
    /// Known to be used in ransomware campaigns.
    pub ransomware: bool,
    /// What the list says to do.
    pub required_action: String,
}

/// A vulnerability's EPSS score (FIRST).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct EpssScore {
    /// The probability of exploitation activity in the next 30 days.
    pub score: f64,
    /// Its percentile.
    pub percentile: f64,
    /// The day it was scored (`YYYY-MM-DD`).
    #[schema(format = Date)]
    pub day: String,
    /// The score before, when it changed.
    pub previous: Option<f64>,
    /// Whether the latest change is a jump (a rise of at least 0.1, or a
    /// crossing of 0.1).
    pub jumped: bool,
}

/// What is known about a vulnerability's exploitation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Exploitation {
    /// Its known-exploited entries.
    pub kev: Vec<KevListing>,
    /// Its EPSS score, if scored.
    pub epss: Option<EpssScore>,
    /// The earliest due date of its known-exploited entries.
    #[schema(format = Date)]
    pub kev_due: Option<String>,
    /// Known to be used in ransomware campaigns.
    pub ransomware: bool,
}

/// A risk's priority tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PriorityTier {
    /// On a known-exploited list, or SSVC exploitation `active`.
    Exploited,
    /// EPSS at least 0.1, or SSVC exploitation `poc`.
    Likely,
    /// Neither.
    Other,
}

/// A risk's priority.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Priority {
    /// The tier.
    pub tier: PriorityTier,
    /// CISA's SSVC decision (`Track`, `Track*`, `Attend`, `Act`), when the
    /// vulnerability's SSVC inputs are known.
    pub ssvc: Option<String>,
    /// The EPSS probability, if scored.
    pub epss: Option<f64>,
}

/// One risk of the register.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Risk {
    /// Unique in the register: `<subject> <risk id>`.
    pub key: String,
    /// `device:<id>` or `model:<vendor>/<model>`.
    pub subject: String,
    /// The risk id, as decisions name it: `vuln/<ID>` (device),
    /// `vuln/<ID>@<version>` (release), or the recorded id.
    pub risk: String,
    /// What it is about.
    pub kind: RiskKind,
    /// The device, for a device risk.
    pub device: Option<String>,
    /// The model subject.
    pub model: Option<String>,
    /// The firmware release (version).
    pub release: Option<String>,
    /// The device's site.
    pub site: Option<String>,
    /// The vulnerability, for a vulnerability risk.
    pub vulnerability: Option<String>,
    /// One line.
    pub title: String,
    /// Severity.
    pub severity: Severity,
    /// The worst recomputed CVSS base score, if scored.
    pub score: Option<f64>,
    /// Its vector.
    pub cvss_vector: Option<String>,
    /// On a known-exploited list (CISA's KEV catalogue or an imported list
    /// in its format).
    pub kev: bool,
    /// What is known about its exploitation, if anything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exploitation: Option<Exploitation>,
    /// Its priority (the register's order: exploited, then likely
    /// exploited, then by ransomware use, SSVC, EPSS and CVSS).
    pub priority: Priority,
    /// Who must act.
    pub owner: String,
    /// Where it stands.
    pub status: RiskStatus,
    /// The decision that set the status, if any.
    pub decision: Option<Decision>,
    /// The advisory's publication, if known.
    pub found: Option<String>,
    /// The day this node first knew of the risk (`YYYY-MM-DD`): the
    /// deadline counts from here; `null` for recorded risks, which carry
    /// their own deadlines.
    #[schema(format = Date)]
    pub discovered: Option<String>,
    /// The deadline.
    pub deadline: Deadline,
    /// The deadline on the register's day.
    pub deadline_status: DeadlineStatus,
    /// Unresolved and past its deadline.
    pub overdue: bool,
    /// The matches that explain it.
    pub matches: Vec<RiskMatch>,
    /// The VEX statement that applies, if any.
    pub vex: Option<RiskVex>,
    /// The nearest later release of the model not exposed to it.
    pub fixed_in: Option<String>,
    /// The consensus status of the device's firmware claim.
    pub firmware_status: Option<String>,
    /// Every stakeholder with a role on the subject (who may be told).
    pub stakeholders: Vec<String>,
    /// Where a recorded risk comes from (e.g. `threat-model:<name>`), or
    /// `advisory:<stakeholder>` for a vulnerability only a stakeholder's own
    /// advisory reports.
    pub source: Option<String>,
    /// The element or component a recorded risk is about.
    pub element: Option<String>,
}

/// `GET /api/v1/risks`: a page of the risks a reader may see.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RiskPage {
    /// The day the register is for (`YYYY-MM-DD`).
    pub today: String,
    /// The log size the twins were read at.
    pub as_of: u64,
    /// Advisories held.
    pub advisories: usize,
    /// Risks matching the query that the reader may see.
    pub total: usize,
    /// Offset of the next page, if any.
    pub next_offset: Option<usize>,
    /// This page, worst first.
    pub risks: Vec<Risk>,
}

/// The fleet's counts, over every risk whoever reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FleetSummary {
    /// Devices in the snapshot (not decommissioned).
    pub devices: u64,
    /// Devices assessed (firmware with a registered SBOM).
    pub devices_assessed: u64,
    /// Devices with at least one unresolved vulnerability risk.
    pub devices_exposed: u64,
    /// Releases with a registered SBOM.
    pub releases_assessed: u64,
    /// Releases with at least one unresolved vulnerability risk.
    pub releases_exposed: u64,
    /// Distinct vulnerabilities with an unresolved risk.
    pub vulnerabilities: u64,
    /// Risks by status.
    pub by_status: BTreeMap<String, u64>,
    /// Unresolved risks by severity.
    pub open_by_severity: BTreeMap<String, u64>,
    /// Unresolved risks past their deadline.
    pub overdue: u64,
    /// Unresolved risks whose deadline is within the approaching window.
    pub due_soon: u64,
}

/// `GET /api/v1/risks/summary`: the register's counts over the risks a
/// reader may see, and the fleet's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RiskSummary {
    /// The day the register is for.
    pub today: String,
    /// The log size the twins were read at.
    pub as_of: u64,
    /// Advisories held.
    pub advisories: usize,
    /// Risks the reader may see.
    pub risks: usize,
    /// Those by status.
    pub by_status: BTreeMap<String, u64>,
    /// Unresolved ones by severity.
    pub open_by_severity: BTreeMap<String, u64>,
    /// Unresolved ones past their deadline.
    pub overdue: u64,
    /// Devices with an unresolved device risk.
    pub devices_exposed: usize,
    /// Releases with an unresolved release risk.
    pub releases_exposed: usize,
    /// Vulnerabilities with an unresolved risk.
    pub vulnerabilities: usize,
    /// The fleet's counts (every risk, whoever reads).
    pub fleet: FleetSummary,
}

/// One group of exposure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ExposureGroup {
    /// The vulnerability, device, `model@version` or site.
    pub key: String,
    /// Risks in it.
    pub risks: u64,
    /// Unresolved ones.
    pub unresolved: u64,
    /// Unresolved ones past their deadline.
    pub overdue: u64,
    /// The worst severity of the unresolved ones.
    pub worst_severity: Option<Severity>,
    /// Distinct devices.
    pub devices: usize,
    /// Distinct vulnerabilities.
    pub vulnerabilities: usize,
}

/// `GET /api/v1/exposure`: exposure, worst group first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Exposure {
    /// The day the register is for.
    pub today: String,
    /// The grouping.
    pub by: ExposureBy,
    /// The groups.
    pub groups: Vec<ExposureGroup>,
}

/// A VEX statement scoped to a firmware release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ReleaseVex {
    /// Its entry.
    pub entry: u64,
    /// Who signed it.
    pub issuer: String,
    /// The release.
    pub release: String,
    /// The vulnerability.
    pub vulnerability: String,
    /// `not_affected`, `affected`, `fixed` or `under_investigation`.
    pub status: String,
    /// Justification, if any.
    pub justification: Option<String>,
    /// The component, if it is about one.
    pub component: Option<String>,
    /// Impact statement, if any.
    pub impact: Option<String>,
}

/// `GET /api/v1/vex`: the VEX statements a manufacturer made for a model's
/// releases.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct VexView {
    /// The model subject.
    pub model: String,
    /// The log size the twins were read at.
    pub as_of: u64,
    /// The statements, per release.
    pub statements: Vec<ReleaseVex>,
}

/// `POST /api/v1/advisories` by the node's administrator: its advisories
/// are the shared ones.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SharedImport {
    /// The advisories' ids.
    pub advisories: Vec<String>,
    /// The document's format (`Osv`, `Cve5`, `NvdApi2`, `Csaf`).
    pub format: String,
    /// Advisories held after the import.
    pub held: usize,
    /// New ones.
    pub new: usize,
    /// Not taken: older than the version held.
    pub older: usize,
    /// The log entries recording the changes.
    pub recorded: Vec<u64>,
    /// Always `shared`.
    pub source: String,
    /// Unchanged ones.
    pub unchanged: usize,
    /// Updated ones.
    pub updated: usize,
}

/// `POST /api/v1/advisories` by any other stakeholder: its own claims about
/// the firmware it released.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct OwnImport {
    /// The advisories' ids.
    pub advisories: Vec<String>,
    /// The caller's firmware releases they apply to.
    pub applies_to_releases: usize,
    /// The document's format (`Osv`, `Cve5`, `NvdApi2`, `Csaf`).
    pub format: String,
    /// New ones.
    pub new: usize,
    /// What these advisories are (they add to the shared advisories, never
    /// replace them).
    pub note: String,
    /// Not taken: older than the version held.
    pub older: usize,
    /// The log entries recording the changes.
    pub recorded: Vec<u64>,
    /// `advisory:<stakeholder>`.
    pub source: String,
    /// Unchanged ones.
    pub unchanged: usize,
    /// Updated ones.
    pub updated: usize,
}

/// The answer of `POST /api/v1/advisories`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum AdvisoryImport {
    /// The administrator's (shared) import.
    Shared(SharedImport),
    /// Another stakeholder's own advisories.
    Own(OwnImport),
}

/// The answer of `POST /api/v1/advisories/bulk`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BulkImport {
    /// The first refused records (line and why), at most 20.
    pub errors: Vec<String>,
    /// Refused records.
    pub failed: usize,
    /// Always `Cve5 JSON lines`.
    pub format: String,
    /// Advisories held after the import.
    pub held: usize,
    /// New ones.
    pub new: usize,
    /// Not taken: older than the version held.
    pub older: usize,
    /// How many changes were recorded in the log.
    pub recorded: usize,
    /// Lines read.
    pub records: usize,
    /// Always `shared`.
    pub source: String,
    /// Unchanged ones.
    pub unchanged: usize,
    /// Updated ones.
    pub updated: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `as_str` is the name serde writes, for every variant.
    #[test]
    fn names_are_the_wire_names() {
        let wire = |v: serde_json::Value, key: Option<&str>| {
            let v = match key {
                Some(k) => v[k].clone(),
                None => v,
            };
            v.as_str().unwrap_or_default().to_string()
        };
        for s in [
            Severity::None,
            Severity::Low,
            Severity::Medium,
            Severity::High,
            Severity::Critical,
        ] {
            assert_eq!(s.as_str(), wire(serde_json::json!(s), None));
        }
        for s in [
            RiskStatus::Open,
            RiskStatus::Accepted,
            RiskStatus::Mitigated,
            RiskStatus::Transferred,
            RiskStatus::FalsePositive,
        ] {
            assert_eq!(s.as_str(), wire(serde_json::json!(s), None));
        }
        for b in [
            DeadlineBasis::Immediate,
            DeadlineBasis::Days { days: 1 },
            DeadlineBasis::Release {
                version: "1".into(),
            },
            DeadlineBasis::Fallback {
                days: 1,
                wanted: "next minor".into(),
            },
            DeadlineBasis::NoDeadline,
        ] {
            assert_eq!(b.as_str(), wire(serde_json::json!(b), Some("basis")));
        }
    }
}

/// The query of `POST /api/v1/exploitation/kev`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct KevImportQuery {
    /// The name the list is kept under (`[a-z0-9-]`, at most 64): `cisa-kev`
    /// when absent; another list in the same format (an EU list, a
    /// vendor's own) takes its own name.
    pub list: Option<String>,
}

/// The answer of `POST /api/v1/exploitation/kev`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct KevImported {
    /// The list's name.
    pub list: String,
    /// Its `catalogVersion`.
    pub version: String,
    /// Its `dateReleased`.
    pub date_released: String,
    /// SHA-256 (hex) of the file.
    pub sha256: String,
    /// Its entries.
    pub entries: usize,
    /// CVEs newly listed (all of them).
    pub added: Vec<String>,
    /// CVEs whose entry changed.
    pub updated: Vec<String>,
    /// CVEs no longer listed.
    pub removed: Vec<String>,
    /// Entries as they were.
    pub unchanged: usize,
    /// The log entry recording the import.
    pub entry: u64,
}

/// A CVE whose EPSS score jumped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct EpssJumpView {
    /// The CVE.
    pub cve: String,
    /// The score before.
    pub before: f64,
    /// The score now.
    pub after: f64,
}

/// The answer of `POST /api/v1/exploitation/epss`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct EpssImported {
    /// The scores' day (`YYYY-MM-DD`).
    #[schema(format = Date)]
    pub day: String,
    /// The model version, if the file names it.
    pub model_version: Option<String>,
    /// SHA-256 (hex) of the file as read (decompressed).
    pub sha256: String,
    /// Rows read.
    pub rows: usize,
    /// CVEs scored for the first time.
    pub new: usize,
    /// CVEs whose score changed.
    pub changed: usize,
    /// The jumps, highest rise first (at most 1,000 named).
    pub jumps: Vec<EpssJumpView>,
    /// How many jumps there were.
    pub jumps_total: usize,
    /// The log entry recording the import.
    pub entry: u64,
}

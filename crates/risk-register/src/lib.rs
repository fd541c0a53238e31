//! The risk register over the security twins.
//!
//! Input: a [`Snapshot`] of what the twins hold (firmware releases with
//! their registered SBOMs, release-scoped VEX, release plans, the devices
//! with their reported firmware, device-level VEX and risk decisions, risks
//! recorded on models by threat modeling) and an [`AdvisoryIndex`]. Output:
//! a [`Register`]: every unresolved (device or firmware release,
//! vulnerability) pair, every recorded model risk and every open posture
//! finding on a device ([`DeviceFacts::findings`]), each with severity,
//! owner, status (from the latest signed decision), a deadline from the
//! [`risk::DeadlinePolicy`] (with the model's announced release plan) and,
//! for vulnerabilities, the matches that explain it and the firmware that
//! fixes it. [`notifications`] compares two registers and says what to tell
//! whom.
//!
//! Exposure flows from a firmware release to the devices whose twin reports
//! running it (the current `firmware-installed` claim; its consensus status
//! is carried on the risk). A device-level `vulnerability-assessment` saying
//! `not_affected` or `fixed` clears the device; a release-level one (VEX on
//! the model subject) is inherited by later releases while the component is
//! unchanged (see [`vuln::exposure`]).
//!
//! Deliberately absent: I/O, the clock (the snapshot carries `today`),
//! signatures (the twins verified them) and who may see what (the caller
//! filters by sharing policy).

mod build;
pub mod cra;
mod devices;
mod events;
pub mod ranked;

pub use build::{build, build_with, device_on_key, splice_fallbacks, BuildError, Engine};
pub use devices::{Deadlines, DeviceRow, Devices, Selector};
pub use events::{
    notifications, notifications_for, notifications_limited, Event, EventKind, DEVICE_EVENTS_MAX,
};

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use twin::statement::{SbomComponent, StatementBody, VexStatus};

pub use vuln::index::AdvisoryIndex;

/// Days before a deadline at which "deadline approaching" is announced, by default.
pub const APPROACHING_DAYS_DEFAULT: u32 = 7;

/// A firmware release as the twins hold it.
#[derive(Debug, Clone, PartialEq)]
pub struct ReleaseFacts {
    /// The model subject, `model:<vendor>/<model>`.
    pub model: String,
    /// The version.
    pub version: String,
    /// Who released it.
    pub manufacturer: String,
    /// The components of its SBOM, when every part is registered.
    pub components: Option<Vec<SbomComponent>>,
}

/// A device-level VEX statement (a `vulnerability-assessment` claim).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceVex {
    /// Its entry.
    pub entry: u64,
    /// Who asserted it.
    pub issuer: String,
    /// The status.
    pub status: VexStatus,
    /// Justification, if any.
    pub justification: Option<String>,
    /// Whether its consensus status is agreed.
    pub agreed: bool,
}

/// A decision on a risk: a signed `risk-*` statement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// Its entry.
    pub entry: u64,
    /// Who signed it.
    pub issuer: String,
    /// What it decided.
    #[serde(flatten)]
    pub kind: DecisionKind,
}

/// What a decision decided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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

impl Decision {
    /// The decision a statement makes, if it is a decision.
    pub fn from_body(entry: u64, issuer: &str, body: &StatementBody) -> Option<Decision> {
        let kind = match body {
            StatementBody::RiskAccepted {
                rationale, until, ..
            } => DecisionKind::Accepted {
                rationale: rationale.clone(),
                until: until.clone(),
            },
            StatementBody::RiskMitigated { how, .. } => {
                DecisionKind::Mitigated { how: how.clone() }
            }
            StatementBody::RiskTransferred { to, rationale, .. } => DecisionKind::Transferred {
                to: to.0.clone(),
                rationale: rationale.clone(),
            },
            StatementBody::RiskFalsePositive { rationale, .. } => DecisionKind::FalsePositive {
                rationale: rationale.clone(),
            },
            _ => return None,
        };
        Some(Decision {
            entry,
            issuer: issuer.to_string(),
            kind,
        })
    }
}

/// A device as the twins hold it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DeviceFacts {
    /// Device id (without `device:`).
    pub device: String,
    /// The model subject of its manufacturer's releases for its model, if any.
    pub model: Option<String>,
    /// Its manufacturer.
    pub manufacturer: String,
    /// Owner.
    pub owner: Option<String>,
    /// Operator.
    pub operator: Option<String>,
    /// Maintainer.
    pub maintainer: Option<String>,
    /// Site.
    pub site: Option<String>,
    /// Reported firmware version.
    pub firmware: Option<String>,
    /// The deployed AI model (name, version), if any.
    pub ai_model: Option<(String, String)>,
    /// Consensus status of the firmware claim: `agreed`, `claimed` or `disputed`.
    pub firmware_status: Option<String>,
    /// Decommissioned devices carry no risk.
    pub decommissioned: bool,
    /// Device-level VEX by vulnerability id.
    pub vex: BTreeMap<String, DeviceVex>,
    /// Latest decision by risk id.
    pub decisions: BTreeMap<String, Decision>,
    /// The open posture findings on its latest report (suppressed ones left
    /// out), in rule order: each is a risk `posture/<RULE>` of the device.
    pub findings: Vec<PostureFinding>,
}

/// A posture audit rule that fired on a device's latest report and that no
/// suppression covers: what the register needs of it (the audit itself,
/// with its evidence and the report it rests on, is the caller's:
/// `posture::audit`; a new report with the same findings changes nothing
/// here, so it costs the register nothing).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PostureFinding {
    /// The rule id (`POSTURE-...` or a Device Defender check name).
    pub rule: String,
    /// The rule's title.
    pub title: String,
    /// The rule's severity.
    pub severity: risk::Severity,
    /// The rule's CVSS v3.1 base vector and its score, if it has one.
    pub cvss: Option<(String, f64)>,
}

/// The risk id of posture rule `rule` on a device.
pub fn posture_risk_id(rule: &str) -> String {
    format!("{POSTURE_RISK_PREFIX}{rule}")
}

/// What every posture risk id starts with.
pub const POSTURE_RISK_PREFIX: &str = "posture/";

/// The `source` of posture risks.
pub const POSTURE_SOURCE: &str = "posture-audit";

impl DeviceFacts {
    /// Every stakeholder with a role on the device.
    pub fn stakeholders(&self) -> Vec<String> {
        let mut v = vec![self.manufacturer.clone()];
        for s in [&self.owner, &self.operator, &self.maintainer]
            .into_iter()
            .flatten()
        {
            if !v.contains(s) {
                v.push(s.clone());
            }
        }
        v
    }

    /// Who owns the device's risks: the operator, else the owner, else the
    /// manufacturer.
    pub fn risk_owner(&self) -> String {
        self.operator
            .clone()
            .or_else(|| self.owner.clone())
            .unwrap_or_else(|| self.manufacturer.clone())
    }
}

/// A manufacturer's SSVC inputs for a vulnerability of one of its models
/// (what it says; the rest comes from CISA's ADP values).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SsvcStatement {
    /// Its log entry.
    pub entry: u64,
    /// Exploitation, if it says.
    pub exploitation: Option<vuln::exploit::Exploitation>,
    /// Automatable, if it says.
    pub automatable: Option<vuln::exploit::Automatable>,
    /// Technical impact, if it says.
    pub technical_impact: Option<vuln::exploit::TechnicalImpact>,
}

/// The manufacturers' SSVC inputs by (manufacturer, model name,
/// vulnerability id or alias).
pub type SsvcStatements = BTreeMap<(String, String, String), SsvcStatement>;

/// CISA's ADP inputs with a manufacturer's statement over them; `None`
/// when a decision point is still unknown.
/// A known-exploited listing stands for Exploitation `active` when neither
/// says it.
pub fn merge_ssvc(
    adp: Option<&vuln::exploit::SsvcInputs>,
    statement: Option<&SsvcStatement>,
    listed: bool,
) -> Option<vuln::exploit::SsvcInputs> {
    let Some(s) = statement else {
        return adp.cloned();
    };
    Some(vuln::exploit::SsvcInputs {
        exploitation: s
            .exploitation
            .or(adp.map(|a| a.exploitation))
            .or(listed.then_some(vuln::exploit::Exploitation::Active))?,
        automatable: s.automatable.or(adp.map(|a| a.automatable))?,
        technical_impact: s.technical_impact.or(adp.map(|a| a.technical_impact))?,
        source: format!("ssvc-technical@{}", s.entry),
    })
}

/// What the register is computed from.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// The day the register is for.
    pub today: risk::Date,
    /// The deadline policy (a model's announced release plan replaces its
    /// `release_plan`).
    pub policy: risk::DeadlinePolicy,
    /// Firmware releases, in log order.
    pub releases: Vec<ReleaseFacts>,
    /// Devices.
    pub devices: Vec<DeviceFacts>,
    /// Release-scoped VEX, by model subject, in log order.
    pub release_vex: BTreeMap<String, Vec<twin::projection::ReleaseVex>>,
    /// Announced release plans, by model subject.
    pub release_plans: BTreeMap<String, risk::ReleasePlan>,
    /// Risks recorded and decided on models.
    pub model_risks: BTreeMap<String, BTreeMap<String, twin::projection::ModelRisk>>,
    /// What is known about exploitation, by CVE (known-exploited lists,
    /// EPSS): it sets the risks' priority and, with
    /// [`risk::DeadlinePolicy::kev_days`], shortens deadlines.
    pub exploitation: std::sync::Arc<vuln::exploit::ExploitIndex>,
    /// The mission and well-being impact SSVC decisions assume where no
    /// operator or owner stated one.
    pub mission: vuln::exploit::MissionWellbeing,
    /// The Mission & Well-being stated for devices (the highest undisputed
    /// `ssvc-mission` statement covering each), by device id: a device
    /// risk's SSVC decision takes its device's, a release risk's the
    /// highest of its devices'.
    pub missions: std::sync::Arc<BTreeMap<String, vuln::exploit::MissionWellbeing>>,
    /// The manufacturers' own SSVC inputs (undisputed `ssvc-technical`
    /// statements): they override CISA's ADP values point by point for
    /// the releases of their models.
    pub ssvc_statements: std::sync::Arc<SsvcStatements>,
    /// When each risk (by [`Risk::key`]) was first known: a risk not in it
    /// is discovered today. Kept by the caller across builds: it records the
    /// keys of a built register's risks it did not know yet.
    pub discovered: std::sync::Arc<std::collections::HashMap<String, risk::Date>>,
}

impl Snapshot {
    /// The day the risk `key` was first known (today if never before).
    pub fn discovered_on(&self, key: &str) -> risk::Date {
        self.discovered.get(key).copied().unwrap_or(self.today)
    }
}

/// Where a risk stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
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
    /// Whether someone still has to act on it by its deadline.
    pub fn is_unresolved(self) -> bool {
        matches!(self, RiskStatus::Open | RiskStatus::Transferred)
    }

    /// The wire name.
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RiskKind {
    /// A vulnerability of a device's firmware.
    DeviceVulnerability,
    /// A vulnerability of a firmware release.
    ReleaseVulnerability,
    /// A risk recorded on a model (threat modeling).
    Recorded,
    /// An open posture audit finding on a device's latest report.
    PostureFinding,
}

/// Why a component matched an advisory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatchInfo {
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VexInfo {
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

/// Text shared between the risks that carry it (a release's model and
/// version, an advisory's title and vector): a register holds a million
/// risks, so a clone is a count, not a copy.
pub type Text = std::sync::Arc<str>;

/// One risk of the register.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Risk {
    /// Unique in the register: `<subject> <risk id>`.
    pub key: String,
    /// `device:<id>` or `model:<vendor>/<model>`.
    pub subject: Text,
    /// The risk id, as decisions name it: `vuln/<ID>` (device),
    /// `vuln/<ID>@<version>` (release), `posture/<RULE>` (a posture
    /// finding on a device), or the recorded id.
    pub risk: String,
    /// What it is about.
    pub kind: RiskKind,
    /// The device, for a device risk.
    pub device: Option<String>,
    /// The model subject.
    pub model: Option<Text>,
    /// The firmware release (version).
    pub release: Option<Text>,
    /// The device's site.
    pub site: Option<String>,
    /// The vulnerability, for a vulnerability risk.
    pub vulnerability: Option<Text>,
    /// One line.
    pub title: Text,
    /// Severity.
    pub severity: risk::Severity,
    /// The worst recomputed CVSS base score, if scored.
    pub score: Option<f64>,
    /// Its vector.
    pub cvss_vector: Option<Text>,
    /// On a known-exploited list (CISA's KEV catalogue, as the advisory's
    /// CISA ADP says or as an imported list says).
    pub kev: bool,
    /// What is known about its exploitation (known-exploited entries with
    /// their due dates and ransomware use, EPSS), if anything.
    #[serde(default)]
    pub exploit: Option<std::sync::Arc<vuln::exploit::ExploitFacts>>,
    /// CISA's SSVC decision, when the vulnerability's SSVC inputs are known
    /// (Mission & Well-being: the device's as stated, for a release risk
    /// the highest stated for its devices, else the snapshot's).
    #[serde(default)]
    pub ssvc: Option<vuln::exploit::SsvcDecision>,
    /// The SSVC inputs the decision was made from (CISA's ADP values,
    /// overridden point by point by the manufacturer's statement).
    #[serde(default)]
    pub ssvc_inputs: Option<std::sync::Arc<vuln::exploit::SsvcInputs>>,
    /// Its priority: the register's order (see [`vuln::exploit`]).
    #[serde(default)]
    pub priority: vuln::exploit::Priority,
    /// Who must act.
    pub owner: Text,
    /// Where it stands.
    pub status: RiskStatus,
    /// The decision that set the status, if any.
    pub decision: Option<Decision>,
    /// The advisory's publication, if known.
    pub found: Option<Text>,
    /// The day this node first knew of the risk (its register first held
    /// it): the deadline counts from here. `None` for recorded risks, which
    /// carry their own deadlines.
    pub discovered: Option<risk::Date>,
    /// The deadline.
    pub deadline: risk::Deadline,
    /// The deadline on [`Register::today`].
    pub deadline_status: risk::DeadlineStatus,
    /// Unresolved and past its deadline.
    pub overdue: bool,
    /// The matches that explain it.
    pub matches: std::sync::Arc<[MatchInfo]>,
    /// The VEX statement that applies, if any (`affected`, `under_investigation`).
    pub vex: Option<VexInfo>,
    /// The nearest later release of the model not exposed to it.
    pub fixed_in: Option<Text>,
    /// The consensus status of the device's firmware claim.
    pub firmware_status: Option<String>,
    /// Every stakeholder with a role on the subject (who may be told).
    pub stakeholders: std::sync::Arc<[String]>,
    /// Where a recorded risk comes from (e.g. `threat-model:<name>`),
    /// `advisory:<stakeholder>` for a vulnerability only a stakeholder's
    /// own advisory reports, or `posture-audit` for a posture finding.
    #[serde(default)]
    pub source: Option<String>,
    /// The element or component a recorded risk is about.
    #[serde(default)]
    pub element: Option<String>,
}

/// A device the register could not assess, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unassessed {
    /// The device.
    pub device: String,
    /// Why.
    pub reason: String,
}

/// Counts for the fleet summary.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
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

/// The register.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Register {
    /// The day it is for (`YYYY-MM-DD`).
    pub today: String,
    /// The release, recorded and posture risks, worst first (severity,
    /// then deadline), shared with the registers built after it from the
    /// same facts. Device vulnerability risks are derived from the release
    /// risks ([`Register::iter`], [`Register::select`],
    /// [`Register::device_risks`]); posture risks are kept as they are (one
    /// per open finding: far fewer than device vulnerability risks).
    pub risks: ranked::Ranked,
    /// Devices not assessed, and why.
    pub unassessed: Vec<Unassessed>,
    /// The status of every release-scoped VEX decision in force, keyed
    /// `<model>@<version> <vulnerability>` (for "VEX changed").
    pub vex_state: std::sync::Arc<BTreeMap<String, String>>,
    /// Counts.
    pub summary: Summary,
    /// The devices on the assessed releases.
    #[serde(skip)]
    pub devices: std::sync::Arc<Devices>,
    /// How device risks' deadlines are computed.
    #[serde(skip)]
    pub deadlines: std::sync::Arc<Deadlines>,
    /// Release risks by release key and by vulnerability, in register
    /// order; shared, list by list, with the registers built after it.
    #[serde(skip)]
    pub(crate) indexes: Indexes,
}

/// No risks.
static EMPTY: ranked::Ranked = ranked::Ranked::EMPTY;

/// A list of risks shared between registers.
pub(crate) type RiskList = std::sync::Arc<Vec<std::sync::Arc<Risk>>>;

#[derive(Debug, Clone, Default)]
pub(crate) struct Indexes {
    pub(crate) by_release: HashMap<String, std::sync::Arc<ranked::Ranked>>,
    pub(crate) by_vulnerability: HashMap<Text, RiskList>,
    /// The risks of the register that are a device's own (posture
    /// findings), by device id; vulnerability deltas never change them, so
    /// the registers a delta builds share the whole map.
    pub(crate) by_device: std::sync::Arc<HashMap<String, RiskList>>,
}

impl Indexes {
    /// The indexes of `risks` (in register order).
    pub(crate) fn of<'a>(risks: impl IntoIterator<Item = &'a std::sync::Arc<Risk>>) -> Indexes {
        let mut by_release: HashMap<String, Vec<std::sync::Arc<Risk>>> = HashMap::new();
        let mut by_vulnerability: HashMap<Text, Vec<std::sync::Arc<Risk>>> = HashMap::new();
        let mut by_device: HashMap<String, Vec<std::sync::Arc<Risk>>> = HashMap::new();
        for r in risks {
            if let Some(d) = &r.device {
                by_device.entry(d.clone()).or_default().push(r.clone());
            }
            if let Some(key) = devices::release_key_of(r) {
                by_release.entry(key).or_default().push(r.clone());
            }
            if let Some(v) = &r.vulnerability {
                match by_vulnerability.get_mut(v) {
                    Some(list) => list.push(r.clone()),
                    None => {
                        by_vulnerability.insert(v.clone(), vec![r.clone()]);
                    }
                }
            }
        }
        Indexes {
            by_release: by_release
                .into_iter()
                .map(|(k, v)| (k, std::sync::Arc::new(ranked::Ranked::from_vec(v))))
                .collect(),
            by_vulnerability: by_vulnerability
                .into_iter()
                .map(|(k, v)| (k, std::sync::Arc::new(v)))
                .collect(),
            by_device: std::sync::Arc::new(
                by_device
                    .into_iter()
                    .map(|(k, v)| (k, std::sync::Arc::new(v)))
                    .collect(),
            ),
        }
    }

    /// `self` after the risks of `vulnerabilities` were replaced by `fresh`
    /// (sorted in register order): only their lists and those of the
    /// releases they are on are made again, each old risk found in its
    /// release's list by binary search and each fresh one put in its place.
    pub(crate) fn patched(
        &self,
        fresh: &[std::sync::Arc<Risk>],
        vulnerabilities: &std::collections::BTreeSet<String>,
    ) -> Indexes {
        let mut ix = self.clone();
        // Per release touched: its old risks of `vulnerabilities`, and the
        // fresh ones.
        type Touched<'a> = (Vec<&'a std::sync::Arc<Risk>>, Vec<std::sync::Arc<Risk>>);
        let mut touched: HashMap<String, Touched<'_>> = HashMap::new();
        for v in vulnerabilities {
            if ix.by_vulnerability.remove(v.as_str()).is_some() {
                let list = self.by_vulnerability.get(v.as_str());
                for r in list.map_or(&[][..], |l| l.as_slice()) {
                    if let Some(key) = devices::release_key_of(r) {
                        touched.entry(key).or_default().0.push(r);
                    }
                }
            }
        }
        let mut by_vulnerability: HashMap<Text, Vec<std::sync::Arc<Risk>>> = HashMap::new();
        for r in fresh {
            if let Some(v) = &r.vulnerability {
                by_vulnerability
                    .entry(v.clone())
                    .or_default()
                    .push(r.clone());
            }
            if let Some(key) = devices::release_key_of(r) {
                touched.entry(key).or_default().1.push(r.clone());
            }
        }
        for (v, list) in by_vulnerability {
            ix.by_vulnerability.insert(v, std::sync::Arc::new(list));
        }
        // Each release's list spliced (the lists are many and the work
        // memory-bound: side by side).
        let touched: Vec<(String, Touched<'_>)> = touched.into_iter().collect();
        let lists = build::in_parts(&touched, RELEASE_SPLICES_PER_THREAD_MIN, |part| {
            part.iter()
                .map(|(key, (gone, added))| {
                    let before: &ranked::Ranked = self.by_release.get(key).map_or(&EMPTY, |l| l);
                    let list = before
                        .splice(gone, added, build::risk_order)
                        .unwrap_or_else(|| {
                            build::fell_back();
                            let mut list: Vec<std::sync::Arc<Risk>> = before
                                .iter()
                                .filter(|r| {
                                    r.vulnerability
                                        .as_ref()
                                        .is_none_or(|v| !vulnerabilities.contains(&**v))
                                })
                                .cloned()
                                .collect();
                            list.extend(added.iter().cloned());
                            list.sort_by(|a, b| build::risk_order(a, b));
                            ranked::Ranked::from_vec(list)
                        });
                    (key.clone(), list)
                })
                .collect::<Vec<_>>()
        });
        for (key, list) in lists.into_iter().flatten() {
            if list.is_empty() {
                ix.by_release.remove(&key);
            } else {
                ix.by_release.insert(key, std::sync::Arc::new(list));
            }
        }
        ix
    }
}

/// Fewer release lists to splice than this per thread are spliced on one.
const RELEASE_SPLICES_PER_THREAD_MIN: usize = 128;

impl PartialEq for Register {
    fn eq(&self, other: &Register) -> bool {
        self.today == other.today
            && self.risks == other.risks
            && self.unassessed == other.unassessed
            && self.vex_state == other.vex_state
            && self.summary == other.summary
            && self.devices == other.devices
            && self.deadlines == other.deadlines
    }
}

impl Register {
    /// The day it is for.
    pub fn day(&self) -> risk::Date {
        risk::Date::parse(&self.today).unwrap_or_else(|_| {
            #[allow(clippy::expect_used)]
            risk::Date::from_ymd(1970, 1, 1).expect("1970-01-01 is a date")
        })
    }

    /// The release risks of release `key` (`<model>@<version>`).
    pub fn risks_of_release(&self, key: &str) -> &ranked::Ranked {
        self.indexes.by_release.get(key).map_or(&EMPTY, |l| l)
    }

    /// The risks of the register that are device `id`'s own (its posture
    /// findings), in register order.
    pub fn own_risks_of_device(&self, id: &str) -> &[std::sync::Arc<Risk>] {
        self.indexes.by_device.get(id).map_or(&[], |l| l.as_slice())
    }

    /// The release risks of vulnerability `id`.
    pub fn risks_of_vulnerability(&self, id: &str) -> &[std::sync::Arc<Risk>] {
        self.indexes
            .by_vulnerability
            .get(id)
            .map_or(&[], |l| l.as_slice())
    }

    /// The risks of a device.
    pub fn by_device(&self, device: &str) -> impl Iterator<Item = Cow<'_, Risk>> + '_ {
        self.select(&Selector {
            device: Some(device),
            ..Selector::default()
        })
    }

    /// The risks of a vulnerability (by id), its devices' included.
    pub fn by_vulnerability(&self, id: &str) -> impl Iterator<Item = Cow<'_, Risk>> + '_ {
        self.select(&Selector {
            vulnerability: Some(id),
            ..Selector::default()
        })
    }

    /// The risks of a firmware release (`model:<vendor>/<model>` and version),
    /// its devices' included.
    pub fn by_release(
        &self,
        model: &str,
        version: &str,
    ) -> impl Iterator<Item = Cow<'_, Risk>> + '_ {
        self.select(&Selector {
            model: Some(model),
            release: Some(version),
            ..Selector::default()
        })
    }

    /// The risks of the devices of a site.
    pub fn by_site(&self, site: &str) -> impl Iterator<Item = Cow<'_, Risk>> + '_ {
        self.select(&Selector {
            site: Some(site),
            ..Selector::default()
        })
    }

    /// The risk with this key (a device risk is derived).
    pub fn get(&self, key: &str) -> Option<Cow<'_, Risk>> {
        if let Some(rest) = key.strip_prefix("device:") {
            let (device, _) = rest.split_once(' ')?;
            return self.by_device(device).find(|r| r.key == key);
        }
        self.risks
            .iter()
            .find(|r| r.key == key)
            .map(|r| Cow::Borrowed(&**r))
    }
}

/// The product line of an AI model package shipped with devices of `model`.
pub fn ai_line(model: &str, package: &str) -> String {
    format!("{model}#{}{package}", twin::projection::AI_MODEL_PREFIX)
}

/// The model subject and package name of an AI product line.
pub fn split_ai_line(line: &str) -> Option<(&str, &str)> {
    let (model, rest) = line.split_once('#')?;
    Some((model, rest.strip_prefix(twin::projection::AI_MODEL_PREFIX)?))
}

/// The model subject of each (manufacturer, model name) that released
/// firmware: `model:<vendor>/<model>` subjects whose releases that
/// manufacturer signed (the first such subject wins).
pub fn model_subjects(meta: &twin::Meta) -> BTreeMap<(String, String), String> {
    let mut out = BTreeMap::new();
    for (subject, releases) in &meta.releases {
        let Some(name) = subject.rsplit('/').next() else {
            continue;
        };
        for r in releases {
            out.entry((r.issuer.0.clone(), name.to_string()))
                .or_insert_with(|| subject.clone());
        }
    }
    out
}

impl DeviceFacts {
    /// The facts of a twin view; `models` from [`model_subjects`].
    pub fn from_view(
        view: &twin::projection::TwinView,
        models: &BTreeMap<(String, String), String>,
    ) -> DeviceFacts {
        let t = &view.twin;
        let mut facts = DeviceFacts {
            device: t.device.to_string(),
            model: models
                .get(&(t.manufacturer.0.clone(), t.model.clone()))
                .cloned(),
            manufacturer: t.manufacturer.0.clone(),
            owner: t.owner.as_ref().map(|s| s.0.clone()),
            operator: t.operator.as_ref().map(|s| s.0.clone()),
            maintainer: t.maintainer.as_ref().map(|s| s.0.clone()),
            site: t.site.clone(),
            firmware: t.firmware.clone(),
            ai_model: None,
            firmware_status: None,
            decommissioned: t.lifecycle == twin::Lifecycle::Decommissioned,
            vex: BTreeMap::new(),
            decisions: BTreeMap::new(),
            findings: Vec::new(),
        };
        for a in &view.attributes {
            let agreed = matches!(a.status, twin::Status::Agreed);
            match (&a.attribute, &a.claim.body) {
                (twin::AttributeClass::Firmware, _) => {
                    facts.firmware_status = Some(
                        match a.status {
                            twin::Status::Agreed => "agreed",
                            twin::Status::Claimed { .. } => "claimed",
                            twin::Status::Disputed { .. } => "disputed",
                        }
                        .to_string(),
                    );
                }
                (
                    twin::AttributeClass::AiModel,
                    StatementBody::AiModelDeployed { name, version, .. },
                ) => {
                    facts.ai_model = Some((name.clone(), version.clone()));
                }
                (
                    twin::AttributeClass::Vulnerability(id),
                    StatementBody::VulnerabilityAssessment {
                        status,
                        justification,
                        ..
                    },
                ) if !matches!(a.status, twin::Status::Disputed { .. }) => {
                    // A disputed assessment does not clear the device.
                    facts.vex.insert(
                        id.clone(),
                        DeviceVex {
                            entry: a.claim.entry,
                            issuer: a.claim.issuer.0.clone(),
                            status: *status,
                            justification: justification.clone(),
                            agreed,
                        },
                    );
                }
                (twin::AttributeClass::Risk(id), body) => {
                    if matches!(a.status, twin::Status::Disputed { .. }) {
                        continue;
                    }
                    if let Some(d) = Decision::from_body(a.claim.entry, &a.claim.issuer.0, body) {
                        facts.decisions.insert(id.clone(), d);
                    }
                }
                _ => {}
            }
        }
        facts
    }
}

impl Snapshot {
    /// The snapshot of the twins: `meta` for releases, SBOMs, VEX, plans and
    /// model risks; `devices` from [`DeviceFacts::from_view`]; `sbom_part`
    /// reads an SBOM part's components by entry.
    pub fn from_meta(
        meta: &twin::Meta,
        devices: Vec<DeviceFacts>,
        sbom_part: impl Fn(u64) -> Option<Vec<SbomComponent>>,
        today: risk::Date,
        policy: risk::DeadlinePolicy,
    ) -> Snapshot {
        let mut releases = Vec::new();
        // AI model packages: a product line per (model, package name).
        for (model, sboms) in &meta.sboms {
            for (key, sbom) in sboms {
                let Some(rest) = key.strip_prefix(twin::projection::AI_MODEL_PREFIX) else {
                    continue;
                };
                let Some((name, version)) = rest.rsplit_once('@') else {
                    continue;
                };
                let components = sbom.is_complete().then(|| {
                    let mut all = Vec::new();
                    for entry in sbom.entries.values() {
                        all.extend(sbom_part(*entry).unwrap_or_default());
                    }
                    all
                });
                releases.push(ReleaseFacts {
                    model: ai_line(model, name),
                    version: version.to_string(),
                    manufacturer: sbom.issuer.0.clone(),
                    components,
                });
            }
        }
        for (model, list) in &meta.releases {
            for r in list {
                let sbom = meta.sboms.get(model).and_then(|m| m.get(&r.version));
                let components = sbom.filter(|s| s.is_complete()).and_then(|s| {
                    let mut all = Vec::new();
                    for entry in s.entries.values() {
                        all.extend(sbom_part(*entry)?);
                    }
                    Some(all)
                });
                releases.push(ReleaseFacts {
                    model: model.clone(),
                    version: r.version.clone(),
                    manufacturer: r.issuer.0.clone(),
                    components,
                });
            }
        }
        Snapshot {
            today,
            policy,
            releases,
            devices,
            release_vex: meta.release_vex.clone(),
            release_plans: meta
                .release_plans
                .iter()
                .map(|(k, v)| (k.clone(), v.plan.clone()))
                .collect(),
            model_risks: meta.model_risks.clone(),
            exploitation: std::sync::Arc::default(),
            mission: vuln::exploit::MissionWellbeing::Medium,
            missions: std::sync::Arc::default(),
            ssvc_statements: std::sync::Arc::default(),
            discovered: std::sync::Arc::default(),
        }
    }
}

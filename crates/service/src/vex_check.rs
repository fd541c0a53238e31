//! VEX checked against the fleet. A manufacturer's `not_affected`
//! statement about a firmware release (a release-scoped
//! `vulnerability-assessment`) may name the device facts it rests on, as
//! device conditions in its impact text (`device-condition: tcp port 23 not
//! listening`; grammar in `docs/vex.md`, parser in `posture::vex`). A
//! device of that model running that release whose latest report shows a
//! condition false contradicts the statement:
//!
//! - [`VexCheck`] makes each contradiction a finding on the device (rule
//!   [`RULE_ID`], severity from the vulnerability's worst CVSS score, high
//!   when no advisory scores it), shown with the posture findings to whoever
//!   may read the device's reports;
//! - [`FleetWatch`] keeps the contradictions of the whole fleet up to date
//!   with the twins (devices the projector's change journal names, all of
//!   them when the conditioned statements change) and answers one
//!   [`VexNotice`] per contradicted statement for the manufacturer who
//!   signed it: the vulnerability, the statement's entry, how many devices
//!   contradict it, and the ids of those whose reports the operator's
//!   sharing policy lets the manufacturer read (the others only counted).
//!
//! Which statement applies to a device: the latest one per (release,
//! vulnerability, component) of the device's model (the model subject whose
//! releases its manufacturer signed) whose release is the firmware the
//! report names (`firmware.version`; the twin's installed firmware when the
//! report names none). A statement inherited by later releases in the risk
//! register (the component unchanged) is checked on its own release only:
//! the register decides inheritance from SBOMs this check does not read.
//!
//! Deliberately absent: delivery (the node's pump enqueues the notices in
//! `notify`), the clock (callers pass `now`), and judging the facts
//! (`posture::vex`).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use api_types::devices::FindingView;
use posture::report::DeviceReport;
use posture::vex::{conditions_in, contradictions, Contradiction, DeviceCondition, NotAffected};
use risk::Severity;
use sha2::Digest as _;
use twin::projection::Twin;
use twin::statement::VexStatus;
use twin::{AttributeClass, DeviceId, Meta, StakeholderId};
use twin_store::{Projector, RiskService};

use crate::devices::REPORT_TYPE;
use crate::reads::{Audit, ReadRecorder, Reader, Seen};
use crate::ServiceError;

/// The rule id of the finding a contradiction makes.
pub const RULE_ID: &str = "VEX_CONTRADICTED_BY_DEVICE";
/// Its title.
pub const TITLE: &str = "The device contradicts a not_affected VEX statement of its manufacturer";
/// What to do about it.
pub const MITIGATION: &str = "The manufacturer should reassess the VEX statement: the device shows false a fact it rests on. The operator should close the service or disable the feature the report shows.";
/// Where the rule comes from, in place of a rule file.
pub const RULES: &str = "built-in vex-check v1";
/// Severity of a contradiction when no advisory scores its vulnerability.
pub const SEVERITY_UNSCORED: Severity = Severity::High;
/// Most device ids named in one notice; the rest are counted.
pub const NOTICE_DEVICES_MAX: usize = 1_000;
/// Twins read per batch when scanning a model's devices.
const DEVICE_BATCH: usize = 256;

type Res<T> = Result<T, ServiceError>;

/// One conditioned `not_affected` statement in force.
#[derive(Debug, Clone, PartialEq)]
struct Statement {
    entry: u64,
    issuer: String,
    vulnerability: String,
    release: String,
    component: Option<String>,
    conditions: Vec<DeviceCondition>,
}

/// The `not_affected` release statements in force that carry device
/// conditions, by model, with the models they concern. Built from the
/// projection's meta ([`Conditioned::of`]); equal when nothing that
/// matters to the check changed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Conditioned {
    /// (model subject, release) → its statements, in log order.
    by_release: BTreeMap<(String, String), Vec<Statement>>,
    /// (manufacturer, model name) → model subject, for the subjects above.
    models: BTreeMap<(String, String), String>,
    /// Statement entry → its model subject.
    subjects: BTreeMap<u64, String>,
}

impl Conditioned {
    /// The conditioned statements in force in `meta`: per model subject,
    /// release, vulnerability and component the latest statement, kept when
    /// it says `not_affected` and names at least one device condition.
    pub fn of(meta: &Meta) -> Conditioned {
        let mut by_release: BTreeMap<(String, String), Vec<Statement>> = BTreeMap::new();
        let mut subjects = BTreeMap::new();
        for (subject, list) in &meta.release_vex {
            let mut latest: BTreeMap<(&str, &str, Option<&str>), &twin::projection::ReleaseVex> =
                BTreeMap::new();
            for v in list {
                let key = (
                    v.release.as_str(),
                    v.vulnerability.as_str(),
                    v.component.as_deref(),
                );
                match latest.get(&key) {
                    Some(held) if held.entry > v.entry => {}
                    _ => {
                        latest.insert(key, v);
                    }
                }
            }
            let mut held: Vec<&twin::projection::ReleaseVex> = latest
                .into_values()
                .filter(|v| v.status == VexStatus::NotAffected)
                .collect();
            held.sort_by_key(|v| v.entry);
            for v in held {
                let conditions = conditions_in(v.impact.as_deref().unwrap_or_default()).conditions;
                if conditions.is_empty() {
                    continue;
                }
                subjects.insert(v.entry, subject.clone());
                by_release
                    .entry((subject.clone(), v.release.clone()))
                    .or_default()
                    .push(Statement {
                        entry: v.entry,
                        issuer: v.issuer.0.clone(),
                        vulnerability: v.vulnerability.clone(),
                        release: v.release.clone(),
                        component: v.component.clone(),
                        conditions,
                    });
            }
        }
        let concerned: BTreeSet<&str> = by_release.keys().map(|(s, _)| s.as_str()).collect();
        let models = risk_register::model_subjects(meta)
            .into_iter()
            .filter(|(_, subject)| concerned.contains(subject.as_str()))
            .collect();
        Conditioned {
            by_release,
            models,
            subjects,
        }
    }

    /// Whether no statement carries a device condition (nothing to check).
    pub fn is_empty(&self) -> bool {
        self.by_release.is_empty()
    }

    /// Whether devices of `twin`'s model may contradict a statement.
    fn concerns(&self, twin: &Twin) -> bool {
        self.models
            .contains_key(&(twin.manufacturer.0.clone(), twin.model.clone()))
    }

    /// The contradictions `report` (the latest of `twin`) shows.
    pub fn contradictions(&self, twin: &Twin, report: &DeviceReport) -> Vec<Contradiction> {
        let Some(subject) = self
            .models
            .get(&(twin.manufacturer.0.clone(), twin.model.clone()))
        else {
            return Vec::new();
        };
        let release = match (&report.firmware, &twin.firmware) {
            (Some(f), _) => f.version.as_str(),
            (None, Some(installed)) => installed.as_str(),
            (None, None) => return Vec::new(),
        };
        let Some(list) = self.by_release.get(&(subject.clone(), release.to_string())) else {
            return Vec::new();
        };
        let statements: Vec<NotAffected<'_>> = list
            .iter()
            .map(|s| NotAffected {
                vulnerability: &s.vulnerability,
                issuer: &s.issuer,
                entry: s.entry,
                release: &s.release,
                component: s.component.as_deref(),
                conditions: &s.conditions,
            })
            .collect();
        contradictions(twin.device.as_str(), report, &statements)
    }
}

/// Contradictions made findings, with the vulnerabilities' severities from
/// the advisories the node holds.
#[derive(Clone, Default)]
pub struct VexCheck {
    risks: Option<Arc<RiskService>>,
}

impl VexCheck {
    /// Severities from `risks`' advisories ([`SEVERITY_UNSCORED`] without).
    pub fn new(risks: Option<Arc<RiskService>>) -> VexCheck {
        VexCheck { risks }
    }

    /// The vulnerability's severity (its worst recomputed CVSS base score)
    /// and that score's vector, when an advisory the node holds scores it.
    fn rating(&self, vulnerability: &str) -> (Severity, Option<String>) {
        let scored = self.risks.as_ref().and_then(|risks| {
            let id = vuln_formats::model::VulnId::new(vulnerability).ok()?;
            risks.with_advisories(|index| {
                let a = index.advisory(&id)?;
                let worst = a.scores().iter().max_by_key(|s| s.base())?;
                Some((worst.base().severity(), worst.vector.to_string()))
            })
        });
        match scored {
            Some((severity, vector)) => (severity, Some(vector)),
            None => (SEVERITY_UNSCORED, None),
        }
    }

    /// The finding a contradiction makes, with its severity.
    pub fn finding(&self, c: &Contradiction) -> (Severity, FindingView) {
        let (severity, cvss) = self.rating(&c.vulnerability);
        let view = FindingView {
            rule: RULE_ID.to_string(),
            title: TITLE.to_string(),
            severity: severity.as_str().to_string(),
            cvss,
            device: c.device.clone(),
            mitigation: MITIGATION.to_string(),
            references: vec![
                format!("/entries/{}", c.vex_entry),
                c.vulnerability.clone(),
                "CISA, Minimum Requirements for Vulnerability Exploitability eXchange (VEX), 2023"
                    .to_string(),
            ],
            evidence: serde_json::to_value(&c.evidence).unwrap_or_default(),
            rules: RULES.to_string(),
            suppressed: None,
        };
        (severity, view)
    }

    /// The findings `report` (the latest of `twin`) makes under `conditioned`.
    pub fn findings(
        &self,
        conditioned: &Conditioned,
        twin: &Twin,
        report: &DeviceReport,
    ) -> Vec<(Severity, FindingView)> {
        conditioned
            .contradictions(twin, report)
            .iter()
            .map(|c| self.finding(c))
            .collect()
    }
}

/// What the manufacturer who signed a contradicted statement is told.
#[derive(Debug, Clone)]
pub struct VexNotice {
    /// A stable id: the statement, the count, and a digest of the ids
    /// named (a change of either is news; the same notice is not).
    pub id: String,
    /// Who signed the statement (the recipient).
    pub recipient: String,
    /// The statement's vulnerability.
    pub vulnerability: String,
    /// The statement's log entry.
    pub vex_entry: u64,
    /// The model subject (`model:<manufacturer>/<model>`).
    pub model: String,
    /// The release it is about.
    pub release: String,
    /// The component it is about, if one.
    pub component: Option<String>,
    /// The vulnerability's severity (as the findings').
    pub severity: Severity,
    /// The statement's conditions that devices contradict.
    pub conditions: Vec<String>,
    /// How many devices contradict it.
    pub devices_contradicting: u64,
    /// The ids of those the recipient may read the reports of (at most
    /// [`NOTICE_DEVICES_MAX`]), ascending.
    pub devices: Vec<String>,
    /// How many are not named.
    pub devices_withheld: u64,
    /// The reads the named ids disclose: (whose data, as seen, the report
    /// entry, the device).
    disclosed: Vec<(StakeholderId, Seen, u64, DeviceId)>,
}

impl VexNotice {
    /// One human line.
    pub fn summary(&self) -> String {
        let n = self.devices_contradicting;
        let devices = if n == 1 { "device" } else { "devices" };
        format!(
            "{n} {devices} on {}@{} contradict your not_affected VEX statement on {} (entry {}): {}",
            self.model,
            self.release,
            self.vulnerability,
            self.vex_entry,
            self.conditions.join("; ")
        )
    }

    /// Writes the read records of what the named ids disclose (each
    /// device's latest report, read by the recipient), before the notice
    /// is delivered: a notice whose records cannot be written must not be.
    pub fn record(&self, reads: &ReadRecorder) -> Res<()> {
        let mut audit = Audit::default();
        for (holder, seen, entry, device) in &self.disclosed {
            audit.note(holder, seen.clone(), *entry, Some(device));
        }
        audit.write(
            reads,
            &Some(StakeholderId(self.recipient.clone())),
            twin::sharing::ReadKind::Search,
            None,
        )
    }
}

/// One device's contradictions, with what they were read from.
struct Found {
    twin: Twin,
    report_entry: u64,
    contradictions: Vec<Contradiction>,
}

/// The contradictions of the whole fleet, kept up to date with the twins
/// by [`FleetWatch::update`], told by [`FleetWatch::notices`]. Not shared
/// between threads: the node's pump owns one.
pub struct FleetWatch {
    projector: Projector,
    check: VexCheck,
    conditioned: Conditioned,
    /// The log size the contradictions reflect (`None`: never scanned).
    size: Option<u64>,
    found: BTreeMap<String, Found>,
}

/// What an update looked at.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WatchUpdate {
    /// Whether every device of the concerned models was read again.
    pub rescanned: bool,
    /// Devices whose twin and report were read.
    pub devices_read: u64,
    /// Devices that contradict a statement now.
    pub devices_contradicting: u64,
}

impl FleetWatch {
    /// A watch over `projector`'s twins, severities from `check`.
    pub fn new(projector: Projector, check: VexCheck) -> FleetWatch {
        FleetWatch {
            projector,
            check,
            conditioned: Conditioned::default(),
            size: None,
            found: BTreeMap::new(),
        }
    }

    /// Brings the contradictions up to date: every device of the concerned
    /// models read again when the conditioned statements changed (or the
    /// change journal no longer reaches back to the last update), else
    /// only the devices the journal names.
    pub fn update(&mut self) -> Res<WatchUpdate> {
        let meta = self.projector.meta();
        let conditioned = Conditioned::of(&meta);
        let changed = match self.size {
            Some(size) if conditioned == self.conditioned => {
                self.projector.devices_changed_since(size)
            }
            _ => None,
        };
        self.conditioned = conditioned;
        let mut update = WatchUpdate::default();
        match changed {
            Some((upto, devices)) => {
                for device in devices {
                    let Ok(id) = DeviceId::new(device.clone()) else {
                        continue;
                    };
                    let twin = self
                        .projector
                        .store()
                        .twin(&id)
                        .map_err(ServiceError::internal)?;
                    self.found.remove(&device);
                    if let Some(twin) = twin {
                        update.devices_read += 1;
                        self.look_at(twin)?;
                    }
                }
                self.size = Some(upto);
            }
            None => {
                // Changes folded from now on are in the journal after this.
                let size = self.projector.size();
                self.found.clear();
                update.rescanned = true;
                let models: Vec<(String, String)> =
                    self.conditioned.models.keys().cloned().collect();
                for (manufacturer, model) in models {
                    let mut after: Option<String> = None;
                    loop {
                        let ids = self
                            .projector
                            .store()
                            .search("model", &model, after.as_deref(), DEVICE_BATCH)
                            .map_err(ServiceError::internal)?;
                        let Some(last) = ids.last() else { break };
                        after = Some(last.to_string());
                        for id in ids {
                            let twin = self
                                .projector
                                .store()
                                .twin(&id)
                                .map_err(ServiceError::internal)?;
                            if let Some(twin) = twin.filter(|t| t.manufacturer.0 == manufacturer) {
                                update.devices_read += 1;
                                self.look_at(twin)?;
                            }
                        }
                    }
                }
                self.size = Some(size);
            }
        }
        update.devices_contradicting = self.found.len() as u64;
        Ok(update)
    }

    /// Reads `twin`'s latest report and keeps its contradictions, if any.
    fn look_at(&mut self, twin: Twin) -> Res<()> {
        if !self.conditioned.concerns(&twin) {
            return Ok(());
        }
        let Some((report_entry, report)) = latest_report(&self.projector, &twin)? else {
            return Ok(());
        };
        let found = self.conditioned.contradictions(&twin, &report);
        if !found.is_empty() {
            self.found.insert(
                twin.device.to_string(),
                Found {
                    twin,
                    report_entry,
                    contradictions: found,
                },
            );
        }
        Ok(())
    }

    /// One notice per contradicted statement, for its signer, as of the
    /// last update, with the sharing policies in force at `now_unix_s`.
    pub fn notices(&self, now_unix_s: i64) -> Vec<VexNotice> {
        let meta = self.projector.meta();
        // (statement entry) → (a contradiction of it, devices, conditions).
        let mut by_statement: BTreeMap<u64, (&Contradiction, Vec<&Found>, BTreeSet<String>)> =
            BTreeMap::new();
        for f in self.found.values() {
            for c in &f.contradictions {
                let slot = by_statement
                    .entry(c.vex_entry)
                    .or_insert_with(|| (c, Vec::new(), BTreeSet::new()));
                if !slot.1.iter().any(|g| g.twin.device == f.twin.device) {
                    slot.1.push(f);
                }
                slot.2.insert(c.condition.to_string());
            }
        }
        let mut out = Vec::with_capacity(by_statement.len());
        for (entry, (c, devices, conditions)) in by_statement {
            let recipient = StakeholderId(c.issuer.clone());
            let reader = Reader::new(Some(recipient.clone()), &meta, now_unix_s);
            let mut named = Vec::new();
            let mut disclosed = Vec::new();
            for f in &devices {
                if named.len() >= NOTICE_DEVICES_MAX {
                    break;
                }
                let sections: Vec<&str> = f
                    .contradictions
                    .iter()
                    .filter(|x| x.vex_entry == entry)
                    .map(|x| x.condition.report_section())
                    .collect();
                let device_owner = StakeholderId(format!("device:{}", f.twin.device.as_str()));
                let Some(seen) = reader.decide(&f.twin, &device_owner, REPORT_TYPE) else {
                    continue;
                };
                // The id tells what the report shows: only to a reader
                // who may see those sections of it.
                let shows = seen.fields.as_ref().is_none_or(|fields| {
                    sections
                        .iter()
                        .all(|section| fields.iter().any(|field| field == section))
                });
                if !shows {
                    continue;
                }
                named.push(f.twin.device.to_string());
                let holder = twin::projection::data_holder(&f.twin, &device_owner).clone();
                disclosed.push((holder, seen, f.report_entry, f.twin.device.clone()));
            }
            named.sort();
            let count = devices.len() as u64;
            let digest = sha2::Sha256::digest(named.join("\n").as_bytes());
            let (severity, _) = self.check.rating(&c.vulnerability);
            let model = self
                .conditioned
                .subjects
                .get(&entry)
                .cloned()
                .unwrap_or_default();
            out.push(VexNotice {
                id: format!(
                    "vex-contradicted:{entry}:{count}:{}",
                    hex::encode(digest.get(..8).unwrap_or_default())
                ),
                recipient: c.issuer.clone(),
                vulnerability: c.vulnerability.clone(),
                vex_entry: entry,
                model,
                release: c.release.clone(),
                component: c.component.clone(),
                severity,
                conditions: conditions.into_iter().collect(),
                devices_contradicting: count,
                devices_withheld: count - named.len() as u64,
                devices: named,
                disclosed,
            });
        }
        out
    }
}

/// `twin`'s latest report, parsed, with its entry (`None` without one, or
/// when the stored payload no longer parses).
fn latest_report(projector: &Projector, twin: &Twin) -> Res<Option<(u64, DeviceReport)>> {
    let class = AttributeClass::Custom(REPORT_TYPE.into());
    let Some(&entry) = twin.current.get(&class) else {
        return Ok(None);
    };
    let Some(claim) = projector
        .store()
        .claim(entry)
        .map_err(ServiceError::internal)?
    else {
        return Ok(None);
    };
    let mut wire = claim.body.to_wire();
    if let Some(m) = wire.as_object_mut() {
        m.entry("v").or_insert(serde_json::json!(1));
    }
    Ok(DeviceReport::parse(wire.to_string().as_bytes())
        .ok()
        .map(|r| (entry, r)))
}

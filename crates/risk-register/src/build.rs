//! [`build`]: a [`Snapshot`] and an advisory index to a [`Register`].
//!
//! Deliberately absent: matching logic (all in [`vuln`]); this file turns
//! exposures into risks and applies decisions, VEX and deadlines.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use twin::statement::{SbomComponent, StatementBody, VexStatus};
use vuln::exposure::{ComponentSelector, FleetBuilder, ReleaseExposure, ReleaseId, ScopedVex};
use vuln::index::{AdvisoryIndex, PreparedAdvisory};
use vuln_formats::model::{Component, ComponentKind, Cpe, Digest, Justification, Purl, VulnId};

use crate::Text;
use crate::{
    Deadlines, Decision, DecisionKind, DeviceFacts, DeviceRow, Devices, MatchInfo, Register, Risk,
    RiskKind, RiskStatus, Snapshot, Summary, Unassessed, VexInfo, APPROACHING_DAYS_DEFAULT,
};

/// Why a register could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    /// The fleet is beyond the engine's limits.
    #[error("fleet: {0}")]
    Fleet(#[from] vuln::exposure::FleetError),
}

mod reprioritize;

use reprioritize::{Prioritized, Terms};

fn release_key(model: &str, version: &str) -> String {
    format!("{model}@{version}")
}

/// An SBOM component of the twins as the matcher's model. Identifiers that
/// do not parse are dropped (the name and version still match).
pub(crate) fn component_of(c: &SbomComponent) -> Component {
    Component {
        bom_ref: None,
        kind: ComponentKind::Library,
        name: c.name.clone(),
        group: c.group.clone(),
        version: c.version.clone(),
        supplier: None,
        purl: c.purl.as_deref().and_then(|p| Purl::new(p).ok()),
        cpes: c.cpe.iter().filter_map(|x| Cpe::new(x).ok()).collect(),
        hashes: c
            .sha256
            .as_deref()
            .and_then(|h| Digest::new("SHA-256", h).ok())
            .into_iter()
            .collect(),
    }
}

fn vex_status(s: VexStatus) -> vuln_formats::model::VexStatus {
    use vuln_formats::model::VexStatus as V;
    match s {
        VexStatus::Affected => V::Affected,
        VexStatus::NotAffected => V::NotAffected,
        VexStatus::Fixed => V::Fixed,
        VexStatus::UnderInvestigation => V::UnderInvestigation,
    }
}

fn vex_name(s: vuln_formats::model::VexStatus) -> &'static str {
    use vuln_formats::model::VexStatus as V;
    match s {
        V::Affected => "affected",
        V::NotAffected => "not_affected",
        V::Fixed => "fixed",
        V::UnderInvestigation => "under_investigation",
    }
}

fn selector(component: &str) -> ComponentSelector {
    if component.starts_with("pkg:") {
        ComponentSelector::Purl(component.to_string())
    } else {
        match component.rsplit_once('@') {
            Some((n, v)) if !n.is_empty() && !v.is_empty() => ComponentSelector::Name {
                name: n.to_string(),
                version: Some(v.to_string()),
            },
            _ => ComponentSelector::Name {
                name: component.to_string(),
                version: None,
            },
        }
    }
}

/// The severity of an advisory: from its worst recomputed CVSS base score,
/// else its declared severity, else medium (unscored is not harmless).
fn severity_of(a: &PreparedAdvisory) -> (risk::Severity, Option<f64>, Option<String>) {
    let worst = a
        .scores()
        .iter()
        .max_by_key(|s| s.base().tenths())
        .map(|s| (s.base(), s.vector.to_string()));
    match worst {
        Some((score, vector)) => (
            risk::Severity::from_cvss_tenths(score.tenths()),
            Some(score.value()),
            Some(vector),
        ),
        None => (
            a.severity()
                .and_then(|s| {
                    s.as_str()
                        .to_ascii_lowercase()
                        .parse::<risk::Severity>()
                        .ok()
                })
                .unwrap_or(risk::Severity::Medium),
            None,
            None,
        ),
    }
}

fn date_of(ts: &str) -> Option<risk::Date> {
    risk::Date::parse(ts.get(..10)?).ok()
}

/// The status a decision gives on `today` (an expired acceptance is open again).
pub(crate) fn status_of(d: Option<&Decision>, today: risk::Date) -> RiskStatus {
    match d.map(|d| &d.kind) {
        None => RiskStatus::Open,
        Some(DecisionKind::Accepted { until, .. }) => match until.as_deref().map(date_of) {
            Some(Some(u)) if today.days_until(u) < 0 => RiskStatus::Open,
            _ => RiskStatus::Accepted,
        },
        Some(DecisionKind::Mitigated { .. }) => RiskStatus::Mitigated,
        Some(DecisionKind::Transferred { .. }) => RiskStatus::Transferred,
        Some(DecisionKind::FalsePositive { .. }) => RiskStatus::FalsePositive,
    }
}

pub(crate) fn owner_after(d: Option<&Decision>, default: Text) -> Text {
    match d.map(|d| &d.kind) {
        Some(DecisionKind::Transferred { to, .. }) => to.as_str().into(),
        _ => default,
    }
}

/// The latest decision in a model risk's history.
fn model_decision(
    snapshot: &Snapshot,
    model: &str,
    risk: &str,
) -> (Option<Decision>, Option<(u64, String, StatementBody)>) {
    let Some(h) = snapshot.model_risks.get(model).and_then(|m| m.get(risk)) else {
        return (None, None);
    };
    let mut decision = None;
    let mut recorded = None;
    for (entry, issuer, body) in &h.history {
        if let StatementBody::RiskRecorded { .. } = body {
            recorded = Some((*entry, issuer.0.clone(), body.clone()));
            // Recorded again (the finding is back, or changed): a mitigation
            // no longer holds; acceptances, transfers and false-positive
            // verdicts carry over (a risk keeps its status across versions).
            if matches!(
                decision.as_ref().map(|d: &Decision| &d.kind),
                Some(DecisionKind::Mitigated { .. })
            ) {
                decision = None;
            }
        } else if let Some(d) = Decision::from_body(*entry, &issuer.0, body) {
            decision = Some(d);
        }
    }
    (decision, recorded)
}

/// Builds the register of `snapshot` against the shared advisories `index`.
pub fn build(snapshot: &Snapshot, index: &AdvisoryIndex) -> Result<Register, BuildError> {
    build_with(snapshot, index, &[])
}

/// Builds the register of `snapshot` against the shared advisories `index`
/// and the advisories stakeholders submitted themselves: `submitted` pairs
/// a stakeholder id with its own advisories. A stakeholder's advisories are
/// its claims about its own products: they apply only to the releases it
/// released (as manufacturer), and only add vulnerabilities the shared
/// advisories do not report for that release; they never remove or change
/// what another source reports (a stakeholder that disagrees says so with
/// VEX). Risks they add name their source (`advisory:<stakeholder>`).
pub fn build_with(
    snapshot: &Snapshot,
    index: &AdvisoryIndex,
    submitted: &[(&str, &AdvisoryIndex)],
) -> Result<Register, BuildError> {
    Ok(Engine::new(snapshot, index, submitted)?.register(snapshot))
}

/// One release's exposure to one vulnerability, as the register keeps it
/// between builds.
/// What a risk takes from its advisory, worked out once per advisory
/// (not once per release it exposes).
#[derive(Debug)]
struct Advised {
    /// The vulnerability (the advisory's id).
    id: Text,
    severity: risk::Severity,
    score: Option<f64>,
    vector: Option<Text>,
    kev: bool,
    found: Option<Text>,
    title: Text,
    /// Its id and aliases: where exploitation facts are looked up.
    ids: Arc<[Text]>,
    ssvc: Option<vuln::exploit::SsvcInputs>,
}

impl Advised {
    /// What is known about its exploitation in `snapshot`.
    fn exploit(&self, snapshot: &Snapshot) -> Option<Arc<vuln::exploit::ExploitFacts>> {
        snapshot
            .exploitation
            .find_shared(self.ids.iter().map(|t| &**t))
    }
}

impl Advised {
    fn of(advisory: &PreparedAdvisory) -> Advised {
        let (severity, score, vector) = severity_of(advisory);
        Advised {
            id: advisory.id().as_str().into(),
            severity,
            score,
            vector: vector.map(Text::from),
            kev: advisory.is_known_exploited(),
            found: advisory.published().map(|t| t.as_str().into()),
            title: title_of(advisory, advisory.id().as_str()).into(),
            ids: std::iter::once(advisory.id())
                .chain(advisory.aliases())
                .map(|v| Text::from(v.as_str()))
                .collect(),
            ssvc: advisory.ssvc().cloned(),
        }
    }
}

/// [`Advised`] by advisory (its address in the index being evaluated).
#[derive(Default)]
struct AdvisedCache(HashMap<usize, Arc<Advised>>);

impl AdvisedCache {
    fn get(&mut self, advisory: &PreparedAdvisory) -> Arc<Advised> {
        self.0
            .entry(std::ptr::from_ref(advisory) as usize)
            .or_insert_with(|| Arc::new(Advised::of(advisory)))
            .clone()
    }
}

#[derive(Debug, Clone)]
struct Exposure {
    advised: Arc<Advised>,
    matches: Arc<[MatchInfo]>,
    /// The release-scoped VEX statement that applies, if any.
    vex: Option<VexInfo>,
    /// Not cleared by VEX.
    exposed: bool,
    /// The position in its release's line of the nearest later release
    /// not exposed to it ([`Engine::link_fixes`]).
    fixed_at: Option<u32>,
    /// The stakeholder whose own advisory reported it, when not the shared
    /// advisories.
    submitted_by: Option<String>,
}

impl Exposure {
    fn of(advised: Arc<Advised>, rows: &[ReleaseExposure<'_>], who: Option<&str>) -> Self {
        Exposure {
            advised,
            matches: match_infos(rows).into(),
            vex: rows.iter().find_map(|r| r.vex).map(|x| VexInfo {
                status: vex_name(x.status).to_string(),
                justification: x.justification.map(|j| j.as_str().to_string()),
                from: x.from_release.to_string(),
                inherited: x.inherited,
                stakeholder: x.stakeholder.to_string(),
            }),
            exposed: rows.iter().any(ReleaseExposure::is_exposed),
            fixed_at: None,
            submitted_by: who.map(str::to_string),
        }
    }
}

/// Exposures by release key, then vulnerability.
type Exposures = HashMap<String, BTreeMap<String, Exposure>>;

/// Advisories changed since the last evaluation, above this share of the
/// index (in percent) and above [`ONE_BY_ONE_COUNT_MIN`], are evaluated
/// again in full rather than one by one.
const ONE_BY_ONE_PERCENT_MAX: usize = 2;
/// This many changed advisories are always evaluated one by one.
const ONE_BY_ONE_COUNT_MIN: usize = 64;

/// The register's state between builds: the fleet of firmware releases
/// (their SBOMs and release-scoped VEX) prepared for matching, and every
/// release's exposures. Kept while the releases are unchanged: an advisory
/// change re-evaluates that advisory only ([`Engine::update`]) and
/// [`Engine::register_delta`] rebuilds only its risks; a change of the
/// devices needs no evaluation at all ([`Engine::register`]).
pub struct Engine {
    fleet: vuln::exposure::Fleet,
    /// Release key → its index in the snapshot's releases (those with a
    /// complete SBOM).
    assessed: HashMap<String, usize>,
    /// Release keys and versions of each model's line, in release order.
    lines: BTreeMap<String, Vec<(String, Text)>>,
    /// Release key → manufacturer.
    manufacturers: HashMap<String, String>,
    exposures: Exposures,
}

impl Engine {
    /// Prepares `snapshot`'s releases and evaluates them against every
    /// advisory (see [`build_with`] for `submitted`).
    pub fn new(
        snapshot: &Snapshot,
        index: &AdvisoryIndex,
        submitted: &[(&str, &AdvisoryIndex)],
    ) -> Result<Engine, BuildError> {
        let mut fleet = FleetBuilder::new();
        let mut assessed: HashMap<String, usize> = HashMap::new();
        let mut lines: BTreeMap<String, Vec<(String, Text)>> = BTreeMap::new();
        let mut manufacturers = HashMap::new();
        for (i, r) in snapshot.releases.iter().enumerate() {
            let key = release_key(&r.model, &r.version);
            let Some(components) = &r.components else {
                continue;
            };
            if assessed.contains_key(&key) {
                continue;
            }
            let comps: Vec<Component> = components.iter().map(component_of).collect();
            fleet.add_release_components(ReleaseId::new(&key)?, &r.model, &comps)?;
            lines
                .entry(r.model.clone())
                .or_default()
                .push((key.clone(), r.version.as_str().into()));
            manufacturers.insert(key.clone(), r.manufacturer.clone());
            assessed.insert(key, i);
        }
        for (model, list) in &snapshot.release_vex {
            for v in list {
                let key = release_key(model, &v.release);
                if !assessed.contains_key(&key) {
                    continue;
                }
                let Ok(vulnerability) = VulnId::new(&v.vulnerability) else {
                    continue;
                };
                let justification = v
                    .justification
                    .as_deref()
                    .and_then(Justification::from_name);
                let impact = match (&v.impact, justification, &v.justification) {
                    (Some(i), _, _) => Some(i.clone()),
                    (None, None, Some(free)) => Some(free.clone()),
                    _ => None,
                };
                let scoped = ScopedVex {
                    release: ReleaseId::new(&key)?,
                    vulnerability,
                    component: v.component.as_deref().map(selector),
                    status: vex_status(v.status),
                    justification,
                    impact_statement: impact,
                    stakeholder: v.issuer.0.clone(),
                };
                // A not_affected without any reason is refused by the engine
                // (CISA minimum); the twins accepted it, so it simply does not apply.
                let _ = fleet.add_vex(scoped);
            }
        }
        let mut engine = Engine {
            fleet: fleet.build(),
            assessed,
            lines,
            manufacturers,
            exposures: HashMap::new(),
        };
        engine.evaluate_all(index, submitted);
        Ok(engine)
    }

    /// Firmware releases with a complete SBOM.
    pub fn releases_assessed(&self) -> usize {
        self.assessed.len()
    }

    fn evaluate_all(&mut self, index: &AdvisoryIndex, submitted: &[(&str, &AdvisoryIndex)]) {
        let evaluation = self.fleet.evaluate(index);
        let own: Vec<(&str, vuln::exposure::Evaluation<'_>)> = submitted
            .iter()
            .filter(|(_, i)| !i.is_empty())
            .map(|(who, i)| (*who, self.fleet.evaluate(i)))
            .collect();
        // Release by release, the releases split between threads.
        let keys: Vec<&String> = self.assessed.keys().collect();
        let manufacturers = &self.manufacturers;
        let (evaluation, own) = (&evaluation, &own);
        let chunk = keys.len().div_ceil(threads()).max(1);
        let parts = std::thread::scope(|scope| {
            let handles: Vec<_> = keys
                .chunks(chunk)
                .map(|part| {
                    scope.spawn(move || {
                        let mut cache = AdvisedCache::default();
                        part.iter()
                            .map(|key| {
                                let manufacturer = manufacturers.get(*key).map(String::as_str);
                                let by_vuln = release_exposures(
                                    key,
                                    manufacturer,
                                    evaluation,
                                    own,
                                    &mut cache,
                                );
                                ((*key).clone(), by_vuln)
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles.into_iter().map(join).collect::<Vec<_>>()
        });
        let mut exposures: Exposures = HashMap::with_capacity(self.assessed.len());
        for part in parts {
            exposures.extend(part);
        }
        self.exposures = exposures;
        self.link_fixes(None);
    }

    /// Evaluates again the advisories with ids `changed` (added, updated or
    /// withdrawn, in the shared index or a stakeholder's own): one by one
    /// through the fleet's component index when they are few, else all of
    /// them. Answers the vulnerabilities whose risks may differ (for
    /// [`Engine::register_delta`]); `None` when everything was evaluated
    /// again (build with [`Engine::register`]).
    pub fn update(
        &mut self,
        index: &AdvisoryIndex,
        submitted: &[(&str, &AdvisoryIndex)],
        changed: &BTreeSet<String>,
    ) -> Option<BTreeSet<String>> {
        let total = index.len() + submitted.iter().map(|(_, i)| i.len()).sum::<usize>();
        if changed.len() > ONE_BY_ONE_COUNT_MIN
            && changed.len() * 100 > total.max(1) * ONE_BY_ONE_PERCENT_MAX
        {
            self.evaluate_all(index, submitted);
            return None;
        }
        for by_vuln in self.exposures.values_mut() {
            by_vuln.retain(|v, _| !changed.contains(v));
        }
        for id in changed {
            let Ok(vid) = VulnId::new(id) else {
                continue;
            };
            let mut shared_on: HashSet<String> = HashSet::new();
            if let Some(impact) = self.fleet.impact(index, &vid) {
                let rows = impact.exposures();
                let advised = Arc::new(Advised::of(impact.advisory()));
                for (release, rows) in group_by_release(&rows) {
                    shared_on.insert(release.clone());
                    let e = Exposure::of(advised.clone(), rows, None);
                    if let Some(m) = self.exposures.get_mut(&release) {
                        m.insert(id.clone(), e);
                    }
                }
            }
            for (who, own) in submitted {
                let Some(impact) = self.fleet.impact(own, &vid) else {
                    continue;
                };
                let rows = impact.exposures();
                let advised = Arc::new(Advised::of(impact.advisory()));
                for (release, rows) in group_by_release(&rows) {
                    if shared_on.contains(&release)
                        || self.manufacturers.get(&release).map(String::as_str) != Some(*who)
                    {
                        continue;
                    }
                    let e = Exposure::of(advised.clone(), rows, Some(who));
                    if let Some(m) = self.exposures.get_mut(&release) {
                        m.entry(id.clone()).or_insert(e);
                    }
                }
            }
        }
        self.link_fixes(Some(changed));
        Some(changed.clone())
    }

    /// Links each exposure (of the vulnerabilities `only`, or of all) to
    /// the nearest later release of its line not exposed to it: one pass
    /// per line from its last release back.
    fn link_fixes(&mut self, only: Option<&BTreeSet<String>>) {
        for line in self.lines.values() {
            for j in (0..line.len()).rev() {
                let Some((key, _)) = line.get(j) else {
                    continue;
                };
                let Some(mut mine) = self.exposures.remove(key) else {
                    continue;
                };
                let next = line.get(j + 1).map(|(k, _)| self.exposures.get(k));
                let position = u32::try_from(j + 1).ok();
                let link = |v: &str, e: &mut Exposure| {
                    e.fixed_at = match next {
                        None => None,
                        Some(later) => match later.and_then(|m| m.get(v)) {
                            Some(x) if x.exposed => x.fixed_at,
                            _ => position,
                        },
                    };
                };
                match only {
                    None => {
                        for (v, e) in &mut mine {
                            link(v, e);
                        }
                    }
                    Some(only) => {
                        for v in only {
                            if let Some(e) = mine.get_mut(v) {
                                link(v, e);
                            }
                        }
                    }
                }
                self.exposures.insert(key.clone(), mine);
            }
        }
    }

    /// The version of the release at `position` in `model`'s line.
    fn version_at(&self, model: &str, position: Option<u32>) -> Option<Text> {
        let p = usize::try_from(position?).ok()?;
        self.lines.get(model)?.get(p).map(|(_, v)| v.clone())
    }

    /// The register of `snapshot` (whose releases must be the ones this
    /// engine was made from) on its day.
    pub fn register(&self, snapshot: &Snapshot) -> Register {
        let (devices, unassessed) = self.devices_of(snapshot);
        self.register_with(snapshot, Arc::new(devices), unassessed)
    }

    /// The register of `snapshot` after a full evaluation, when its devices
    /// are those `previous` was built from (same facts, same day, same
    /// releases): `previous`'s device table is kept, not made again.
    pub fn register_reusing(&self, snapshot: &Snapshot, previous: &Register) -> Register {
        self.register_with(
            snapshot,
            previous.devices.clone(),
            previous.unassessed.clone(),
        )
    }

    /// The device table of `snapshot`, and the devices not assessed.
    fn devices_of(&self, snapshot: &Snapshot) -> (Devices, Vec<Unassessed>) {
        let live: Vec<&DeviceFacts> = snapshot
            .devices
            .iter()
            .filter(|d| !d.decommissioned)
            .collect();
        let mut unassessed = Vec::new();
        let mut rows = Vec::new();
        for d in &live {
            let reason = match (&d.model, &d.firmware) {
                (_, None) => Some("no firmware reported".to_string()),
                (None, Some(_)) => Some(format!(
                    "its manufacturer {} released no firmware for its model",
                    d.manufacturer
                )),
                (Some(m), Some(f)) if !self.assessed.contains_key(&release_key(m, f)) => Some(
                    format!("firmware {f} of {m} has no complete registered SBOM"),
                ),
                _ => None,
            };
            if let Some(reason) = reason {
                unassessed.push(Unassessed {
                    device: d.device.clone(),
                    reason,
                });
            }
            let Some(m) = &d.model else { continue };
            let mut releases = Vec::new();
            let mut on = |key: String| {
                if self.assessed.contains_key(&key) {
                    let since = snapshot.discovered_on(&device_on_key(&d.device, &key));
                    releases.push((key, since));
                }
            };
            if let Some(f) = &d.firmware {
                on(release_key(m, f));
            }
            if let Some((name, version)) = &d.ai_model {
                on(release_key(&crate::ai_line(m, name), version));
            }
            if releases.is_empty() {
                continue;
            }
            rows.push(DeviceRow {
                device: d.device.clone(),
                site: d.site.clone(),
                owner: d.risk_owner().into(),
                stakeholders: d.stakeholders().into(),
                firmware_status: d.firmware_status.clone(),
                releases,
                vex: d.vex.clone(),
                decisions: d.decisions.clone(),
                mission: snapshot.missions.get(&d.device).copied(),
            });
        }
        unassessed.sort_by(|a, b| a.device.cmp(&b.device));
        (Devices::new(rows), unassessed)
    }

    fn register_with(
        &self,
        snapshot: &Snapshot,
        devices: Arc<Devices>,
        unassessed: Vec<Unassessed>,
    ) -> Register {
        let today = snapshot.today;
        let live: Vec<&DeviceFacts> = snapshot
            .devices
            .iter()
            .filter(|d| !d.decommissioned)
            .collect();
        // Release by release, the releases split between threads, each
        // part sorted there, then merged.
        let keys: Vec<&String> = self.assessed.keys().collect();
        let chunk = keys.len().div_ceil(threads()).max(1);
        let devices_ref: &Devices = &devices;
        let mut parts = std::thread::scope(|scope| {
            let handles: Vec<_> = keys
                .chunks(chunk)
                .map(|part| {
                    scope.spawn(move || {
                        let mut risks = Vec::new();
                        for key in part {
                            self.release_risks(snapshot, key, None, devices_ref, &mut risks);
                        }
                        sort_risks(&mut risks);
                        risks
                    })
                })
                .collect();
            handles.into_iter().map(join).collect::<Vec<_>>()
        });
        let mut recorded = Vec::new();
        recorded_risks(snapshot, &live, &mut recorded);
        sort_risks(&mut recorded);
        parts.push(recorded);
        let mut posture = Vec::new();
        posture_risks(snapshot, &live, &mut posture);
        sort_risks(&mut posture);
        parts.push(posture);
        let mut risks = Vec::new();
        for part in parts {
            risks = merge_sorted(risks.into_iter(), part);
        }
        let mut vex_state = BTreeMap::new();
        for (key, by_vuln) in &self.exposures {
            for (v, e) in by_vuln {
                if let Some(x) = &e.vex {
                    vex_state.insert(format!("{key} {v}"), x.status.clone());
                }
            }
        }
        let summary = Summary {
            devices: live.len() as u64,
            devices_assessed: (live.len() - unassessed.len().min(live.len())) as u64,
            releases_assessed: self.assessed.len() as u64,
            ..Summary::default()
        };
        let mut register = Register {
            today: today.to_string(),
            risks: crate::ranked::Ranked::from_vec(risks),
            unassessed,
            vex_state: Arc::new(vex_state),
            summary,
            indexes: crate::Indexes::default(),
            devices,
            deadlines: Arc::new(Deadlines {
                policy: snapshot.policy.clone(),
                plans: snapshot.release_plans.clone(),
                mission: snapshot.mission,
            }),
        };
        indexed_and_counted(&mut register);
        register
    }

    /// The register of `snapshot` after an [`Engine::update`] that answered
    /// `vulnerabilities`: `previous` (built by this engine from the same
    /// snapshot, on the same day) with the risks of those vulnerabilities
    /// built again.
    pub fn register_delta(
        &self,
        snapshot: &Snapshot,
        previous: &Register,
        vulnerabilities: &BTreeSet<String>,
    ) -> Register {
        let touched: Vec<&str> = self
            .exposures
            .iter()
            .filter(|(_, m)| vulnerabilities.iter().any(|v| m.contains_key(v)))
            .map(|(k, _)| k.as_str())
            .collect();
        let mut fresh = Vec::new();
        for key in &touched {
            self.release_risks(
                snapshot,
                key,
                Some(vulnerabilities),
                &previous.devices,
                &mut fresh,
            );
        }
        sort_risks(&mut fresh);
        let vex_state = self.vex_state_after(previous, vulnerabilities, &touched);
        spliced(previous, vulnerabilities, fresh, vex_state)
    }

    /// `previous`'s VEX decisions with those of `vulnerabilities` (on the
    /// releases `touched`) taken again: the map is made again only when
    /// they differ (a listing or a score changes none).
    fn vex_state_after(
        &self,
        previous: &Register,
        vulnerabilities: &BTreeSet<String>,
        touched: &[&str],
    ) -> Arc<BTreeMap<String, String>> {
        let of_vulns = |(k, _): &(&String, &String)| {
            k.rsplit_once(' ')
                .is_some_and(|(_, v)| vulnerabilities.contains(v))
        };
        let mut now: BTreeMap<String, String> = BTreeMap::new();
        for key in touched {
            if let Some(m) = self.exposures.get(*key) {
                for v in vulnerabilities {
                    if let Some(x) = m.get(v).and_then(|e| e.vex.as_ref()) {
                        now.insert(format!("{key} {v}"), x.status.clone());
                    }
                }
            }
        }
        let same = previous.vex_state.iter().filter(of_vulns).eq(now.iter());
        if same {
            previous.vex_state.clone()
        } else {
            let mut all: BTreeMap<String, String> = previous
                .vex_state
                .iter()
                .filter(|e| !of_vulns(e))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            all.extend(now);
            Arc::new(all)
        }
    }

    /// The risks of release `key` (of every vulnerability, or of `only`).
    fn release_risks(
        &self,
        snapshot: &Snapshot,
        key: &str,
        only: Option<&BTreeSet<String>>,
        devices: &Devices,
        risks: &mut Vec<Arc<Risk>>,
    ) {
        let today = snapshot.today;
        let (Some(by_vuln), Some(release)) = (
            self.exposures.get(key),
            self.assessed
                .get(key)
                .and_then(|&i| snapshot.releases.get(i)),
        ) else {
            return;
        };
        let terms = Terms::of(snapshot, release, key, devices);
        // An AI model package's line is `<model>#ai-model:<name>`: its risks
        // are on the model subject, its device risks name the package.
        let ai = crate::split_ai_line(&release.model);
        let subject_model = ai.map_or(release.model.as_str(), |(m, _)| m);
        let mut release_stakeholders = vec![release.manufacturer.clone()];
        for s in devices.stakeholders_on(key) {
            if *s != release.manufacturer {
                release_stakeholders.push(s.clone());
            }
        }
        let release_stakeholders: Arc<[String]> = release_stakeholders.into();
        // Shared by every risk of the release.
        let subject: Text = subject_model.into();
        let model: Text = release.model.as_str().into();
        let version: Text = release.version.as_str().into();
        let maker: Text = release.manufacturer.as_str().into();
        // A delta asks for a few vulnerabilities of a release exposed to
        // hundreds: looked up, not filtered.
        let picked: Box<dyn Iterator<Item = (&String, &Exposure)>> = match only {
            Some(o) if o.len() < by_vuln.len() => {
                Box::new(o.iter().filter_map(|v| by_vuln.get_key_value(v)))
            }
            Some(o) => Box::new(by_vuln.iter().filter(move |(v, _)| o.contains(*v))),
            None => Box::new(by_vuln.iter()),
        };
        for (vuln, e) in picked {
            if !e.exposed {
                continue;
            }
            let risk_id = match ai {
                None => format!("vuln/{vuln}@{}", release.version),
                Some((_, name)) => format!("vuln/{vuln}@ai-model:{name}@{}", release.version),
            };
            // The deadline counts from when this node first knew of the
            // risk, not from the advisory's publication.
            let risk_key = format!("{subject_model} {risk_id}");
            let discovered = snapshot.discovered_on(&risk_key);
            let a = &e.advised;
            let Prioritized {
                exploit,
                kev,
                ssvc_inputs: ssvc,
                priority,
                deadline,
            } = Prioritized::of(snapshot, &terms, a, discovered);
            let (decision, _) = model_decision(snapshot, subject_model, &risk_id);
            let status = status_of(decision.as_ref(), today);
            risks.push(Arc::new(Risk {
                key: risk_key,
                subject: subject.clone(),
                risk: risk_id,
                kind: RiskKind::ReleaseVulnerability,
                device: None,
                model: Some(model.clone()),
                release: Some(version.clone()),
                site: None,
                vulnerability: Some(a.id.clone()),
                title: a.title.clone(),
                severity: a.severity,
                score: a.score,
                cvss_vector: a.vector.clone(),
                kev,
                ssvc: priority.ssvc,
                ssvc_inputs: ssvc,
                priority,
                exploit,
                owner: owner_after(decision.as_ref(), maker.clone()),
                status,
                decision,
                found: a.found.clone(),
                discovered: Some(discovered),
                deadline_status: deadline.status(today),
                overdue: status.is_unresolved() && deadline.is_overdue(today),
                deadline,
                matches: e.matches.clone(),
                vex: e.vex.clone(),
                fixed_in: self.version_at(&release.model, e.fixed_at),
                firmware_status: None,
                stakeholders: release_stakeholders.clone(),
                source: e.submitted_by.as_ref().map(|who| format!("advisory:{who}")),
                element: None,
            }));
        }
    }
}

/// `previous` with the risks of `vulnerabilities` replaced by `fresh`
/// (sorted in register order) and `vex_state`: the list and the indexes
/// spliced, the counts of those vulnerabilities taken again.
fn spliced(
    previous: &Register,
    vulnerabilities: &BTreeSet<String>,
    fresh: Vec<Arc<Risk>>,
    vex_state: Arc<BTreeMap<String, String>>,
) -> Register {
    let old: Vec<&Arc<Risk>> = vulnerabilities
        .iter()
        .flat_map(|v| previous.risks_of_vulnerability(v))
        .collect();
    // The register's list and the indexes side by side.
    let (risks, indexes) = std::thread::scope(|scope| {
        let indexes = scope.spawn(|| previous.indexes.patched(&fresh, vulnerabilities));
        let risks = previous.risks.splice(&old, &fresh, risk_order);
        (risks, join(indexes))
    });
    let risks = risks.unwrap_or_else(|| {
        fell_back();
        let kept = previous.risks.iter().filter(|r| {
            r.vulnerability
                .as_ref()
                .is_none_or(|v| !vulnerabilities.contains(&**v))
        });
        crate::ranked::Ranked::from_vec(merge_sorted(kept.cloned(), fresh))
    });
    let mut register = Register {
        today: previous.today.clone(),
        risks,
        unassessed: previous.unassessed.clone(),
        vex_state,
        summary: Summary {
            devices: previous.summary.devices,
            devices_assessed: previous.summary.devices_assessed,
            releases_assessed: previous.summary.releases_assessed,
            ..Summary::default()
        },
        indexes,
        devices: previous.devices.clone(),
        deadlines: previous.deadlines.clone(),
    };
    let mut summary = std::mem::take(&mut register.summary);
    register.count_delta(
        previous,
        vulnerabilities,
        APPROACHING_DAYS_DEFAULT,
        &mut summary,
    );
    register.summary = summary;
    register
}

/// Makes `register`'s indexes and counts from its risks (its summary holds
/// the device counts already).
fn indexed_and_counted(register: &mut Register) {
    // The indexes and the counts read the same risks: side by side.
    let mut summary = std::mem::take(&mut register.summary);
    let indexes = std::thread::scope(|scope| {
        let indexes = scope.spawn(|| crate::Indexes::of(register.risks.iter()));
        register.count(APPROACHING_DAYS_DEFAULT, &mut summary);
        join(indexes)
    });
    register.summary = summary;
    register.indexes = indexes;
}

/// The key under which the day a device was first seen on a release is
/// remembered.
pub fn device_on_key(device: &str, release_key: &str) -> String {
    format!("device:{device} on {release_key}")
}

/// Fills in the counts that depend on the risks.
/// Exposure rows grouped by release key, in order.
fn group_by_release<'r, 'a>(
    rows: &'r [ReleaseExposure<'a>],
) -> Vec<(String, &'r [ReleaseExposure<'a>])> {
    let mut out = Vec::new();
    let mut start = 0;
    while let Some(first) = rows.get(start) {
        let end = rows
            .iter()
            .skip(start)
            .position(|r| r.release != first.release)
            .map_or(rows.len(), |n| start + n);
        if let Some(part) = rows.get(start..end) {
            out.push((first.release.to_string(), part));
        }
        start = end;
    }
    out
}

/// The register's order: the highest priority first (exploited, then
/// likely exploited; see [`vuln::exploit`]), then the worst severity, then
/// the nearest deadline, then key.
pub(crate) fn risk_order(a: &Risk, b: &Risk) -> std::cmp::Ordering {
    b.priority
        .rank(&a.priority)
        .then_with(|| b.severity.cmp(&a.severity))
        .then_with(|| a.deadline.date.cmp(&b.deadline.date))
        .then_with(|| a.key.cmp(&b.key))
}

fn sort_risks(risks: &mut [Arc<Risk>]) {
    risks.sort_by(|a, b| risk_order(a, b));
}

/// How many times a splice did not find a risk where the order puts it (a
/// bug: the delta then filters the whole list instead).
static SPLICE_FALLBACKS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Counts a splice ([`crate::ranked::Ranked::splice`]) that did not find
/// its risks.
pub(crate) fn fell_back() {
    SPLICE_FALLBACKS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
}

/// How many register deltas could not splice their risks into the list
/// and filtered it whole (for tests: it must stay 0).
#[doc(hidden)]
pub fn splice_fallbacks() -> u64 {
    SPLICE_FALLBACKS.load(std::sync::atomic::Ordering::Relaxed)
}

/// Merges `fresh` (sorted) into `kept` (sorted).
fn merge_sorted(kept: impl Iterator<Item = Arc<Risk>>, fresh: Vec<Arc<Risk>>) -> Vec<Arc<Risk>> {
    let mut out = Vec::new();
    let mut fresh = fresh.into_iter().peekable();
    for r in kept {
        while let Some(f) = fresh.next_if(|f| risk_order(f, &r).is_lt()) {
            out.push(f);
        }
        out.push(r);
    }
    out.extend(fresh);
    out
}

/// The risks recorded on models (threat modeling).
fn recorded_risks(snapshot: &Snapshot, live: &[&DeviceFacts], risks: &mut Vec<Arc<Risk>>) {
    let today = snapshot.today;
    for (model, by_risk) in &snapshot.model_risks {
        for risk_id in by_risk.keys() {
            let (decision, recorded) = model_decision(snapshot, model, risk_id);
            let Some((
                _entry,
                recorder,
                StatementBody::RiskRecorded {
                    severity,
                    description,
                    cvss_vector,
                    element,
                    deadline: recorded_deadline,
                    source,
                    ..
                },
            )) = recorded
            else {
                continue;
            };
            let deadline = match recorded_deadline.as_deref().and_then(date_of) {
                Some(d) => risk::Deadline {
                    date: Some(d),
                    basis: risk::DeadlineBasis::Days { days: 0 },
                },
                None => policy_for(snapshot, model).deadline(severity, today),
            };
            let score = cvss_vector
                .as_deref()
                .and_then(|v| vuln::cvss::CvssVector::parse(v).ok())
                .map(|v| v.base_score().value());
            let status = status_of(decision.as_ref(), today);
            let mut stakeholders = vec![recorder.clone()];
            for d in live {
                if d.model.as_deref() == Some(model.as_str()) {
                    for s in d.stakeholders() {
                        if !stakeholders.contains(&s) {
                            stakeholders.push(s);
                        }
                    }
                }
            }
            let title = match &element {
                Some(e) => format!("{description} ({e})"),
                None => description.clone(),
            };
            risks.push(Arc::new(Risk {
                key: format!("{model} {risk_id}"),
                subject: model.as_str().into(),
                risk: risk_id.clone(),
                kind: RiskKind::Recorded,
                device: None,
                model: Some(model.as_str().into()),
                release: None,
                site: None,
                vulnerability: None,
                title: title.into(),
                severity,
                score,
                cvss_vector: cvss_vector.map(Text::from),
                kev: false,
                exploit: None,
                ssvc: None,
                ssvc_inputs: None,
                priority: vuln::exploit::Priority::of_score(score),
                owner: owner_after(decision.as_ref(), recorder.into()),
                status,
                decision,
                found: None,
                discovered: None,
                deadline_status: deadline.status(today),
                overdue: status.is_unresolved() && deadline.is_overdue(today),
                deadline,
                matches: Arc::from([]),
                vex: None,
                fixed_in: None,
                firmware_status: None,
                stakeholders: stakeholders.into(),
                source,
                element,
            }));
        }
    }
}

/// The open posture findings of the devices (not decommissioned), each a
/// risk `posture/<RULE>` on its device: severity from the rule, the
/// deadline from the policy (with the model's release plan) counted from
/// the day the register first held it, owned like the device's other
/// risks, its status from the device's latest decision on it.
fn posture_risks(snapshot: &Snapshot, live: &[&DeviceFacts], risks: &mut Vec<Arc<Risk>>) {
    let today = snapshot.today;
    for d in live.iter().filter(|d| !d.findings.is_empty()) {
        let subject: Text = format!("device:{}", d.device).into();
        let stakeholders: Arc<[String]> = d.stakeholders().into();
        let owner: Text = d.risk_owner().into();
        let model: Option<Text> = d.model.as_deref().map(Text::from);
        let policy = match &d.model {
            Some(m) => policy_for(snapshot, m),
            None => snapshot.policy.clone(),
        };
        for f in &d.findings {
            let risk_id = crate::posture_risk_id(&f.rule);
            let key = format!("{subject} {risk_id}");
            let discovered = snapshot.discovered_on(&key);
            let deadline = policy.deadline(f.severity, discovered);
            let decision = d.decisions.get(&risk_id).cloned();
            let status = status_of(decision.as_ref(), today);
            risks.push(Arc::new(Risk {
                key,
                subject: subject.clone(),
                risk: risk_id,
                kind: RiskKind::PostureFinding,
                device: Some(d.device.clone()),
                model: model.clone(),
                release: None,
                site: d.site.clone(),
                vulnerability: None,
                title: f.title.as_str().into(),
                severity: f.severity,
                score: f.cvss.as_ref().map(|(_, score)| *score),
                cvss_vector: f.cvss.as_ref().map(|(v, _)| Text::from(v.as_str())),
                kev: false,
                exploit: None,
                ssvc: None,
                ssvc_inputs: None,
                priority: vuln::exploit::Priority::of_score(f.cvss.as_ref().map(|(_, s)| *s)),
                owner: owner_after(decision.as_ref(), owner.clone()),
                status,
                decision,
                found: None,
                discovered: Some(discovered),
                deadline_status: deadline.status(today),
                overdue: status.is_unresolved() && deadline.is_overdue(today),
                deadline,
                matches: Arc::from([]),
                vex: None,
                fixed_in: None,
                firmware_status: None,
                stakeholders: stakeholders.clone(),
                source: Some(crate::POSTURE_SOURCE.to_string()),
                element: None,
            }));
        }
    }
}

fn title_of(a: &PreparedAdvisory, id: &str) -> String {
    match a.summary() {
        Some(s) => {
            let s: String = s.chars().take(160).collect();
            format!("{id}: {s}")
        }
        None => id.to_string(),
    }
}

fn match_infos(rows: &[ReleaseExposure<'_>]) -> Vec<MatchInfo> {
    let mut seen: HashSet<(&str, &str)> = HashSet::new();
    rows.iter()
        .filter(|r| seen.insert((r.component.name(), r.matched.range.as_str())))
        .map(|r| MatchInfo {
            component: r.component.name().to_string(),
            version: r.component.version().map(str::to_string),
            rule: r.matched.rule.as_str().to_string(),
            range: r.matched.range.clone(),
            confidence: r.matched.confidence.as_str().to_string(),
            reason: r.matched.reason.clone(),
        })
        .collect()
}

fn policy_for(snapshot: &Snapshot, model: &str) -> risk::DeadlinePolicy {
    let mut p = snapshot.policy.clone();
    if let Some(plan) = snapshot.release_plans.get(model) {
        p.release_plan = Some(plan.clone());
    }
    p
}

/// Threads for the work a build splits by release.
fn threads() -> usize {
    std::thread::available_parallelism()
        .map_or(1, usize::from)
        .clamp(1, BUILD_THREADS_MAX)
}

/// Most threads a build uses.
const BUILD_THREADS_MAX: usize = 8;

/// `f` of each part of `items`, in order: in [`threads`] parts side by side
/// when there are at least `per_thread_min` items for each, else `f` of
/// them all on this thread (a thread costs tens of microseconds).
pub(crate) fn in_parts<T: Sync, R: Send>(
    items: &[T],
    per_thread_min: usize,
    f: impl Fn(&[T]) -> R + Sync,
) -> Vec<R> {
    let parts = threads().min(items.len() / per_thread_min.max(1)).max(1);
    if parts == 1 {
        return vec![f(items)];
    }
    let chunk = items.len().div_ceil(parts);
    let f = &f;
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|part| scope.spawn(move || f(part)))
            .collect();
        handles.into_iter().map(join).collect()
    })
}

/// A scoped thread's result; its panic goes on in the caller.
fn join<T>(h: std::thread::ScopedJoinHandle<'_, T>) -> T {
    match h.join() {
        Ok(t) => t,
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

/// One release's exposures, by vulnerability: the shared advisories', then
/// those only the release's manufacturer's own advisories report.
fn release_exposures(
    key: &str,
    manufacturer: Option<&str>,
    evaluation: &vuln::exposure::Evaluation<'_>,
    own: &[(&str, vuln::exposure::Evaluation<'_>)],
    cache: &mut AdvisedCache,
) -> BTreeMap<String, Exposure> {
    let Ok(id) = ReleaseId::new(key) else {
        return BTreeMap::new();
    };
    let mut rows: BTreeMap<String, Vec<ReleaseExposure<'_>>> = BTreeMap::new();
    for row in evaluation.by_release(&id) {
        rows.entry(row.vulnerability().as_str().to_string())
            .or_default()
            .push(row);
    }
    let mut by_vuln: BTreeMap<String, Exposure> = rows
        .into_iter()
        .filter_map(|(v, rows)| {
            let first = rows.first()?;
            let advised = cache.get(first.advisory);
            Some((v, Exposure::of(advised, &rows, None)))
        })
        .collect();
    for (who, own) in own {
        if manufacturer != Some(*who) {
            continue;
        }
        let mut added: BTreeMap<String, Vec<ReleaseExposure<'_>>> = BTreeMap::new();
        for row in own.by_release(&id) {
            let vuln = row.vulnerability().as_str();
            if by_vuln.contains_key(vuln) {
                continue;
            }
            added.entry(vuln.to_string()).or_default().push(row);
        }
        for (v, rows) in added {
            if let Some(first) = rows.first() {
                let e = Exposure::of(cache.get(first.advisory), &rows, Some(who));
                by_vuln.insert(v, e);
            }
        }
    }
    by_vuln
}

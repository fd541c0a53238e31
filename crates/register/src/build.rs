//! [`build`]: a [`Snapshot`] and an advisory index to a [`Register`].
//!
//! Deliberately absent: matching logic (all in [`vuln`]); this file turns
//! exposures into risks and applies decisions, VEX and deadlines.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use twin::statement::{SbomComponent, StatementBody, VexStatus};
use vuln::exposure::{ComponentSelector, FleetBuilder, ReleaseExposure, ReleaseId, ScopedVex};
use vuln::index::{AdvisoryIndex, PreparedAdvisory};
use vuln_formats::model::{Component, ComponentKind, Cpe, Digest, Justification, Purl, VulnId};

use crate::{
    Decision, DecisionKind, DeviceFacts, MatchInfo, Register, Risk, RiskKind, RiskStatus, Snapshot,
    Summary, Unassessed, VexInfo, APPROACHING_DAYS_DEFAULT,
};

/// Why a register could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    /// The fleet is beyond the engine's limits.
    #[error("fleet: {0}")]
    Fleet(#[from] vuln::exposure::FleetError),
}

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
fn status_of(d: Option<&Decision>, today: risk::Date) -> RiskStatus {
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

fn owner_after(d: Option<&Decision>, default: String) -> String {
    match d.map(|d| &d.kind) {
        Some(DecisionKind::Transferred { to, .. }) => to.clone(),
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

/// One release's exposure to one vulnerability.
struct Exposure<'a> {
    advisory: &'a PreparedAdvisory,
    rows: Vec<ReleaseExposure<'a>>,
    exposed: bool,
    /// The stakeholder whose own advisory reported it, when not the shared
    /// advisories.
    submitted_by: Option<&'a str>,
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
    let today = snapshot.today;
    let mut fleet = FleetBuilder::new();
    // Releases with an SBOM, by key; line order per model.
    let mut assessed: HashMap<String, &crate::ReleaseFacts> = HashMap::new();
    let mut lines: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for r in &snapshot.releases {
        let key = release_key(&r.model, &r.version);
        let Some(components) = &r.components else {
            continue;
        };
        if assessed.contains_key(&key) {
            continue;
        }
        let comps: Vec<Component> = components.iter().map(component_of).collect();
        fleet.add_release_components(ReleaseId::new(&key)?, &r.model, &comps)?;
        lines.entry(&r.model).or_default().push(key.clone());
        assessed.insert(key, r);
    }
    let mut unassessed = Vec::new();
    let mut live: Vec<&DeviceFacts> = Vec::new();
    for d in &snapshot.devices {
        if d.decommissioned {
            continue;
        }
        live.push(d);
        let reason = match (&d.model, &d.firmware) {
            (_, None) => Some("no firmware reported".to_string()),
            (None, Some(_)) => Some(format!(
                "its manufacturer {} released no firmware for its model",
                d.manufacturer
            )),
            (Some(m), Some(f)) if !assessed.contains_key(&release_key(m, f)) => Some(format!(
                "firmware {f} of {m} has no complete registered SBOM"
            )),
            _ => None,
        };
        match reason {
            Some(reason) => unassessed.push(Unassessed {
                device: d.device.clone(),
                reason,
            }),
            None => {
                if let (Some(m), Some(f)) = (&d.model, &d.firmware) {
                    fleet.add_device(&d.device, &ReleaseId::new(&release_key(m, f))?)?;
                }
            }
        }
        // The AI model it runs, when that package has an SBOM.
        if let (Some(m), Some((name, version))) = (&d.model, &d.ai_model) {
            let key = release_key(&crate::ai_line(m, name), version);
            if assessed.contains_key(&key) {
                fleet.add_device(&format!("{}#ai-model", d.device), &ReleaseId::new(&key)?)?;
            }
        }
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
    let fleet = fleet.build();
    let evaluation = fleet.evaluate(index);
    let own_evaluations: Vec<(&str, vuln::exposure::Evaluation<'_>)> = submitted
        .iter()
        .filter(|(_, i)| !i.is_empty())
        .map(|(who, i)| (*who, fleet.evaluate(i)))
        .collect();

    // Per release: vulnerability → exposure.
    let mut per_release: HashMap<&str, BTreeMap<String, Exposure<'_>>> = HashMap::new();
    let mut vex_state = BTreeMap::new();
    for key in assessed.keys() {
        let Ok(id) = ReleaseId::new(key) else {
            continue;
        };
        let mut by_vuln: BTreeMap<String, Exposure<'_>> = BTreeMap::new();
        for row in evaluation.by_release(&id) {
            let e = by_vuln
                .entry(row.vulnerability().as_str().to_string())
                .or_insert(Exposure {
                    advisory: row.advisory,
                    rows: Vec::new(),
                    exposed: false,
                    submitted_by: None,
                });
            e.exposed |= row.is_exposed();
            e.rows.push(row);
        }
        let manufacturer = assessed.get(key.as_str()).map(|r| r.manufacturer.as_str());
        for (who, own) in &own_evaluations {
            if manufacturer != Some(*who) {
                continue;
            }
            let mut added: BTreeMap<String, Exposure<'_>> = BTreeMap::new();
            for row in own.by_release(&id) {
                let vuln = row.vulnerability().as_str().to_string();
                if by_vuln.contains_key(&vuln) {
                    continue;
                }
                let e = added.entry(vuln).or_insert(Exposure {
                    advisory: row.advisory,
                    rows: Vec::new(),
                    exposed: false,
                    submitted_by: Some(who),
                });
                e.exposed |= row.is_exposed();
                e.rows.push(row);
            }
            by_vuln.extend(added);
        }
        for (v, e) in &by_vuln {
            if let Some(x) = e.rows.iter().find_map(|r| r.vex) {
                vex_state.insert(format!("{key} {v}"), vex_name(x.status).to_string());
            }
        }
        per_release.insert(key.as_str(), by_vuln);
    }
    let exposed_to = |key: &str, vuln: &str| {
        per_release
            .get(key)
            .and_then(|m| m.get(vuln))
            .is_some_and(|e| e.exposed)
    };
    let fixed_in = |model: &str, key: &str, vuln: &str| -> Option<String> {
        let line = lines.get(model)?;
        let pos = line.iter().position(|k| k == key)?;
        line.get(pos + 1..)?
            .iter()
            .find(|k| !exposed_to(k, vuln))
            .and_then(|k| assessed.get(k.as_str()).map(|r| r.version.clone()))
    };

    let mut risks = Vec::new();
    // Release risks.
    for (key, by_vuln) in &per_release {
        let Some(release) = assessed.get(*key) else {
            continue;
        };
        let policy = policy_for(snapshot, &release.model);
        // An AI model package's line is `<model>#ai-model:<name>`: its risks
        // are on the model subject, its device risks name the package.
        let ai = crate::split_ai_line(&release.model);
        let subject_model = ai.map_or(release.model.as_str(), |(m, _)| m);
        let mut devices_on: Vec<&DeviceFacts> = live
            .iter()
            .copied()
            .filter(|d| match ai {
                None => {
                    d.model.as_deref() == Some(release.model.as_str())
                        && d.firmware.as_deref() == Some(release.version.as_str())
                }
                Some((m, name)) => {
                    d.model.as_deref() == Some(m)
                        && d.ai_model
                            .as_ref()
                            .is_some_and(|(n, v)| n == name && v == &release.version)
                }
            })
            .collect();
        devices_on.sort_by(|a, b| a.device.cmp(&b.device));
        for (vuln, e) in by_vuln {
            if !e.exposed {
                continue;
            }
            let (severity, score, vector) = severity_of(e.advisory);
            let found = e.advisory.published().map(|t| t.as_str().to_string());
            let risk_id = match ai {
                None => format!("vuln/{vuln}@{}", release.version),
                Some((_, name)) => format!("vuln/{vuln}@ai-model:{name}@{}", release.version),
            };
            // The deadline counts from when this node first knew of the
            // risk, not from the advisory's publication.
            let discovered = snapshot.discovered_on(&format!("{subject_model} {risk_id}"));
            let deadline = policy.deadline(severity, discovered);
            let matches = match_infos(&e.rows);
            let vex = e.rows.iter().find_map(|r| r.vex).map(|x| VexInfo {
                status: vex_name(x.status).to_string(),
                justification: x.justification.map(|j| j.as_str().to_string()),
                from: x.from_release.to_string(),
                inherited: x.inherited,
                stakeholder: x.stakeholder.to_string(),
            });
            let fix = fixed_in(&release.model, key, vuln);
            let (decision, _) = model_decision(snapshot, subject_model, &risk_id);
            let status = status_of(decision.as_ref(), today);
            let mut stakeholders = vec![release.manufacturer.clone()];
            for d in &devices_on {
                for s in d.stakeholders() {
                    if !stakeholders.contains(&s) {
                        stakeholders.push(s);
                    }
                }
            }
            let title = title_of(e.advisory, vuln);
            risks.push(Risk {
                key: format!("{subject_model} {risk_id}"),
                subject: subject_model.to_string(),
                risk: risk_id,
                kind: RiskKind::ReleaseVulnerability,
                device: None,
                model: Some(release.model.clone()),
                release: Some(release.version.clone()),
                site: None,
                vulnerability: Some(vuln.clone()),
                title: title.clone(),
                severity,
                score,
                cvss_vector: vector.clone(),
                kev: e.advisory.is_known_exploited(),
                owner: owner_after(decision.as_ref(), release.manufacturer.clone()),
                status,
                decision: decision.clone(),
                found: found.clone(),
                discovered: Some(discovered),
                deadline_status: deadline.status(today),
                overdue: status.is_unresolved() && deadline.is_overdue(today),
                deadline: deadline.clone(),
                matches: matches.clone(),
                vex: vex.clone(),
                fixed_in: fix.clone(),
                firmware_status: None,
                stakeholders,
                source: e.submitted_by.map(|who| format!("advisory:{who}")),
                element: None,
            });
            for d in &devices_on {
                if let Some(v) = d.vex.get(vuln) {
                    if matches!(v.status, VexStatus::NotAffected | VexStatus::Fixed) {
                        continue;
                    }
                }
                let device_risk = match ai {
                    None => format!("vuln/{vuln}"),
                    Some((_, name)) => format!("vuln/{vuln}@ai-model:{name}"),
                };
                // The device's own decision, else the release's.
                let decision = d
                    .decisions
                    .get(&device_risk)
                    .cloned()
                    .or_else(|| decision.clone());
                let status = status_of(decision.as_ref(), today);
                let device_vex = d.vex.get(vuln).map(|v| VexInfo {
                    status: match v.status {
                        VexStatus::Affected => "affected",
                        VexStatus::UnderInvestigation => "under_investigation",
                        VexStatus::NotAffected => "not_affected",
                        VexStatus::Fixed => "fixed",
                    }
                    .to_string(),
                    justification: v.justification.clone(),
                    from: "device".into(),
                    inherited: false,
                    stakeholder: v.issuer.clone(),
                });
                let device_key = format!("device:{} {device_risk}", d.device);
                let device_discovered = snapshot.discovered_on(&device_key);
                let device_deadline = policy.deadline(severity, device_discovered);
                risks.push(Risk {
                    key: device_key,
                    subject: format!("device:{}", d.device),
                    risk: device_risk,
                    kind: RiskKind::DeviceVulnerability,
                    device: Some(d.device.clone()),
                    model: Some(release.model.clone()),
                    release: Some(release.version.clone()),
                    site: d.site.clone(),
                    vulnerability: Some(vuln.clone()),
                    title: title.clone(),
                    severity,
                    score,
                    cvss_vector: vector.clone(),
                    kev: e.advisory.is_known_exploited(),
                    owner: owner_after(decision.as_ref(), d.risk_owner()),
                    status,
                    decision,
                    found: found.clone(),
                    discovered: Some(device_discovered),
                    deadline_status: device_deadline.status(today),
                    overdue: status.is_unresolved() && device_deadline.is_overdue(today),
                    deadline: device_deadline,
                    matches: matches.clone(),
                    vex: device_vex.or_else(|| vex.clone()),
                    fixed_in: fix.clone(),
                    firmware_status: d.firmware_status.clone(),
                    stakeholders: d.stakeholders(),
                    source: e.submitted_by.map(|who| format!("advisory:{who}")),
                    element: None,
                });
            }
        }
    }
    // Recorded model risks (threat modeling).
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
            let severity = match severity {
                twin::statement::Severity::Low => risk::Severity::Low,
                twin::statement::Severity::Medium => risk::Severity::Medium,
                twin::statement::Severity::High => risk::Severity::High,
                twin::statement::Severity::Critical => risk::Severity::Critical,
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
            for d in &live {
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
            risks.push(Risk {
                key: format!("{model} {risk_id}"),
                subject: model.clone(),
                risk: risk_id.clone(),
                kind: RiskKind::Recorded,
                device: None,
                model: Some(model.clone()),
                release: None,
                site: None,
                vulnerability: None,
                title,
                severity,
                score,
                cvss_vector,
                kev: false,
                owner: owner_after(decision.as_ref(), recorder),
                status,
                decision,
                found: None,
                discovered: None,
                deadline_status: deadline.status(today),
                overdue: status.is_unresolved() && deadline.is_overdue(today),
                deadline,
                matches: Vec::new(),
                vex: None,
                fixed_in: None,
                firmware_status: None,
                stakeholders,
                source,
                element,
            });
        }
    }
    risks.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| a.deadline.date.cmp(&b.deadline.date))
            .then_with(|| a.key.cmp(&b.key))
    });
    let summary = summarize(&risks, &live, &unassessed, assessed.len(), today);
    Ok(Register {
        today: today.to_string(),
        risks,
        unassessed,
        vex_state,
        summary,
    })
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
    let mut seen = HashSet::new();
    rows.iter()
        .filter(|r| seen.insert((r.component.name().to_string(), r.matched.range.clone())))
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

fn summarize(
    risks: &[Risk],
    live: &[&DeviceFacts],
    unassessed: &[Unassessed],
    releases_assessed: usize,
    today: risk::Date,
) -> Summary {
    let mut s = Summary {
        devices: live.len() as u64,
        devices_assessed: (live.len() - unassessed.len().min(live.len())) as u64,
        releases_assessed: releases_assessed as u64,
        ..Summary::default()
    };
    let mut devices = BTreeSet::new();
    let mut releases = BTreeSet::new();
    let mut vulns = BTreeSet::new();
    for r in risks {
        *s.by_status
            .entry(r.status.as_str().to_string())
            .or_default() += 1;
        if !r.status.is_unresolved() {
            continue;
        }
        *s.open_by_severity
            .entry(r.severity.as_str().to_string())
            .or_default() += 1;
        if r.overdue {
            s.overdue += 1;
        } else if let Some(d) = r.deadline.date {
            if today.days_until(d) <= i64::from(APPROACHING_DAYS_DEFAULT) {
                s.due_soon += 1;
            }
        }
        match r.kind {
            RiskKind::DeviceVulnerability => {
                devices.insert(r.device.clone());
            }
            RiskKind::ReleaseVulnerability => {
                releases.insert((r.model.clone(), r.release.clone()));
            }
            RiskKind::Recorded => {}
        }
        if let Some(v) = &r.vulnerability {
            vulns.insert(v.clone());
        }
    }
    s.devices_exposed = devices.len() as u64;
    s.releases_exposed = releases.len() as u64;
    s.vulnerabilities = vulns.len() as u64;
    s
}

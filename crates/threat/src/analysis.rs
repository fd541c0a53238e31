//! Analysis: every rule against every element and flow it targets, the
//! fields computed for rules (trust boundary crossings from boundary
//! membership, `exposed`, the held classification, the types of an
//! element's peers and how its inputs authenticate), findings with stable
//! ids, CVSS scores, risk levels and deadlines from the shared
//! [`risk::DeadlinePolicy`], suppressions with expiry, the "removed by
//! controls" accounting, the diff of two analyses and the CI gate
//! ([`gate`]).
//!
//! Deliberately absent: I/O, a clock (the finding date and "today" are
//! inputs), and any order dependence: a finding's id is derived from the rule
//! id and the element or flow id only, so reordering or adding unrelated
//! elements never changes it.

use std::collections::{BTreeMap, BTreeSet};

use risk::{Date, Deadline, DeadlinePolicy, RiskLevel, Severity};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::expr::{Root, Scope, Value, WithoutControls};
use crate::model::{Classification, Model, Suppression};
use crate::rules::{Rule, RuleSet, Stride, Targets};

/// Characters of base32 in a finding id after `T-` (80 bits of SHA-256).
pub const FINDING_ID_CHARS: usize = 16;

/// The stable id of the finding of `rule` on the element or flow `target`:
/// `T-` and the first [`FINDING_ID_CHARS`] characters of the RFC 4648 base32
/// of SHA-256(`"sectwin-threat-finding-v1" 0x00 rule 0x00 target`).
pub fn finding_id(rule: &str, target: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"sectwin-threat-finding-v1\0");
    h.update(rule.as_bytes());
    h.update([0u8]);
    h.update(target.as_bytes());
    let digest = h.finalize();
    let mut out = String::from("T-");
    out.push_str(&base32(&digest, FINDING_ID_CHARS));
    out
}

fn base32(bytes: &[u8], chars: usize) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::with_capacity(chars);
    let (mut acc, mut bits) = (0u32, 0u32);
    for &b in bytes {
        acc = (acc << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 && out.len() < chars {
            bits -= 5;
            let idx = ((acc >> bits) & 31) as usize;
            out.push(char::from(*ALPHABET.get(idx).unwrap_or(&b'A')));
        }
        acc &= (1 << bits) - 1;
        if out.len() >= chars {
            break;
        }
    }
    out
}

/// Whether a finding is about an element or a flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetKind {
    /// An element.
    Element,
    /// A data flow.
    Flow,
}

/// The state of a finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum FindingStatus {
    /// Open: counts for the deadline gate.
    Open,
    /// Suppressed until `expires`.
    Suppressed {
        /// Why.
        reason: String,
        /// Last day the suppression holds.
        expires: Date,
    },
}

/// A threat that applies to an element or flow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// Stable id ([`finding_id`]).
    pub id: String,
    /// Rule id.
    pub rule: String,
    /// Rule title.
    pub title: String,
    /// Id of the element or flow.
    pub element: String,
    /// Its display name.
    pub element_name: String,
    /// Element or flow.
    pub target_kind: TargetKind,
    /// The element's device model in the twins (`manufacturer/model`), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_model: Option<String>,
    /// STRIDE category.
    pub stride: Stride,
    /// CVSS v3.1 base vector.
    pub cvss_vector: String,
    /// CVSS v3.1 base score.
    pub cvss_score: f64,
    /// Severity from the score.
    pub severity: Severity,
    /// Risk level for the policy.
    pub risk_level: RiskLevel,
    /// The date the finding counts from.
    pub found: Date,
    /// Deadline and its basis.
    pub deadline: Deadline,
    /// Open or suppressed.
    #[serde(flatten)]
    pub status: FindingStatus,
    /// Open and past its deadline on the analysis' "today".
    pub overdue: bool,
    /// What can happen.
    pub description: String,
    /// What to do.
    pub mitigations: Vec<String>,
    /// CWE, CAPEC, OWASP, ATLAS, ETSI references.
    pub references: Vec<String>,
}

/// A rule whose target matched but whose condition is false only because of
/// controls in place (it would hold with the controls removed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemovedByControl {
    /// Rule id.
    pub rule: String,
    /// Element or flow id.
    pub element: String,
    /// STRIDE category.
    pub stride: Stride,
}

/// Inputs of an analysis besides the model and rules.
#[derive(Debug, Clone)]
pub struct AnalysisOptions {
    /// The date findings count from (usually the model's `date`).
    pub found: Date,
    /// The day overdue status and suppression expiry are judged on.
    pub today: Date,
    /// The deadline policy.
    pub policy: DeadlinePolicy,
    /// Suppressions beside the model's own.
    pub suppressions: Vec<Suppression>,
}

/// The result of an analysis.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Analysis {
    /// Findings, sorted by severity (highest first), then id.
    pub findings: Vec<Finding>,
    /// Threats removed by controls in place.
    pub removed_by_controls: Vec<RemovedByControl>,
    /// Suppressions past their expiry (ignored).
    pub expired_suppressions: Vec<Suppression>,
    /// Suppressions that matched no finding.
    pub unused_suppressions: Vec<Suppression>,
    /// Rule × target pairs evaluated.
    pub evaluations: u64,
}

impl Analysis {
    /// Open findings past their deadline.
    pub fn overdue(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(|f| f.overdue)
    }

    /// Findings per STRIDE category (all six, open and suppressed).
    pub fn per_stride(&self) -> BTreeMap<Stride, usize> {
        let mut m: BTreeMap<Stride, usize> = Stride::ALL.iter().map(|s| (*s, 0)).collect();
        for f in &self.findings {
            *m.entry(f.stride).or_default() += 1;
        }
        m
    }

    /// Threats removed by controls per STRIDE category.
    pub fn removed_per_stride(&self) -> BTreeMap<Stride, usize> {
        let mut m: BTreeMap<Stride, usize> = Stride::ALL.iter().map(|s| (*s, 0)).collect();
        for r in &self.removed_by_controls {
            *m.entry(r.stride).or_default() += 1;
        }
        m
    }
}

/// The fields rules read, per element (index-aligned with `model.elements`).
struct Records {
    elements: Vec<BTreeMap<String, Value>>,
    flows: Vec<BTreeMap<String, Value>>,
}

fn strs(v: &[String]) -> Value {
    Value::List(v.iter().map(|s| Value::Str(s.clone())).collect())
}

fn records(model: &Model) -> (Records, BTreeMap<&str, usize>) {
    let index: BTreeMap<&str, usize> = model.element_positions();
    let mut member: Vec<Vec<&str>> = vec![Vec::new(); model.elements.len()];
    for b in &model.boundaries {
        for m in &b.elements {
            if let Some(slot) = index.get(m.as_str()).and_then(|&i| member.get_mut(i)) {
                slot.push(b.id.as_str());
            }
        }
    }
    for m in &mut member {
        m.sort_unstable();
        m.dedup();
    }
    let mut held: Vec<Option<Classification>> = vec![None; model.elements.len()];
    for a in &model.assets {
        for s in &a.stored_in {
            if let Some(slot) = index.get(s.as_str()).and_then(|&i| held.get_mut(i)) {
                *slot = (*slot).max(Some(a.classification));
            }
        }
    }
    let crosses: Vec<bool> = model
        .flows
        .iter()
        .map(|f| {
            f.crosses_boundary.unwrap_or_else(|| {
                let a = index.get(f.from.as_str()).and_then(|&i| member.get(i));
                let b = index.get(f.to.as_str()).and_then(|&i| member.get(i));
                a != b
            })
        })
        .collect();
    let mut exposed = vec![false; model.elements.len()];
    // Per element: the types of the elements sending to it and receiving
    // from it, and how the flows into it authenticate their sender.
    let mut input_types: Vec<Vec<&str>> = vec![Vec::new(); model.elements.len()];
    let mut output_types: Vec<Vec<&str>> = vec![Vec::new(); model.elements.len()];
    let mut input_auth: Vec<Vec<&str>> = vec![Vec::new(); model.elements.len()];
    let kind_of = |id: &str| {
        index
            .get(id)
            .and_then(|&i| model.elements.get(i))
            .map(|e| e.kind.as_str())
    };
    for (f, c) in model.flows.iter().zip(&crosses) {
        let to = index.get(f.to.as_str()).copied();
        let from = index.get(f.from.as_str()).copied();
        if *c {
            if let Some(slot) = to.and_then(|i| exposed.get_mut(i)) {
                *slot = true;
            }
        }
        if let (Some(slot), Some(k)) = (to.and_then(|i| input_types.get_mut(i)), kind_of(&f.from)) {
            slot.push(k);
        }
        if let (Some(slot), Some(k)) = (from.and_then(|i| output_types.get_mut(i)), kind_of(&f.to))
        {
            slot.push(k);
        }
        if let Some(slot) = to.and_then(|i| input_auth.get_mut(i)) {
            slot.push(f.authentication.as_str());
        }
    }
    let listed = |v: Option<&Vec<&str>>| {
        let mut v: Vec<&str> = v.cloned().unwrap_or_default();
        v.sort_unstable();
        v.dedup();
        Value::List(v.into_iter().map(|s| Value::Str(s.to_string())).collect())
    };
    let elements = model
        .elements
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let mut m = e.attributes.clone();
            let bs = member.get(i).cloned().unwrap_or_default();
            m.insert("id".into(), Value::Str(e.id.clone()));
            m.insert("name".into(), Value::Str(e.name.clone()));
            m.insert("type".into(), Value::Str(e.kind.as_str().into()));
            m.insert("controls".into(), strs(&e.controls));
            if let Some(dm) = &e.device_model {
                m.insert("device_model".into(), Value::Str(dm.clone()));
            }
            if let Some(first) = bs.first() {
                m.insert("boundary".into(), Value::Str((*first).to_string()));
            }
            m.insert(
                "boundaries".into(),
                Value::List(bs.iter().map(|b| Value::Str((*b).to_string())).collect()),
            );
            m.insert(
                "exposed".into(),
                Value::Bool(exposed.get(i).copied().unwrap_or(false)),
            );
            if let Some(c) = held.get(i).copied().flatten() {
                m.insert("classification".into(), Value::Str(c.as_str().into()));
            }
            m.insert("input_types".into(), listed(input_types.get(i)));
            m.insert("output_types".into(), listed(output_types.get(i)));
            m.insert("input_authentication".into(), listed(input_auth.get(i)));
            m
        })
        .collect();
    let flows = model
        .flows
        .iter()
        .zip(&crosses)
        .map(|(f, c)| {
            let mut m = f.attributes.clone();
            m.insert("id".into(), Value::Str(f.id.clone()));
            m.insert("name".into(), Value::Str(f.name.clone()));
            m.insert("protocol".into(), Value::Str(f.protocol.clone()));
            if let Some(p) = f.port {
                m.insert("port".into(), Value::Num(f64::from(p)));
            }
            m.insert(
                "authentication".into(),
                Value::Str(f.authentication.clone()),
            );
            m.insert("encrypted".into(), Value::Bool(f.encrypted));
            m.insert(
                "classification".into(),
                Value::Str(f.classification.as_str().into()),
            );
            m.insert("controls".into(), strs(&f.controls));
            m.insert("crosses_boundary".into(), Value::Bool(*c));
            m
        })
        .collect();
    (Records { elements, flows }, index)
}

struct ElementScope<'a>(&'a BTreeMap<String, Value>);

impl Scope for ElementScope<'_> {
    fn lookup(&self, root: Root, field: &str) -> Option<&Value> {
        match root {
            Root::Element => self.0.get(field),
            _ => None,
        }
    }
}

struct FlowScope<'a> {
    flow: &'a BTreeMap<String, Value>,
    source: Option<&'a BTreeMap<String, Value>>,
    target: Option<&'a BTreeMap<String, Value>>,
}

impl Scope for FlowScope<'_> {
    fn lookup(&self, root: Root, field: &str) -> Option<&Value> {
        match root {
            Root::Flow => self.flow.get(field),
            Root::Source => self.source.and_then(|m| m.get(field)),
            Root::Target => self.target.and_then(|m| m.get(field)),
            Root::Element => None,
        }
    }
}

/// Analyzes `model` with `rules`.
pub fn analyze(model: &Model, rules: &RuleSet, options: &AnalysisOptions) -> Analysis {
    let (records, index) = records(model);
    let mut hits: Vec<(&Rule, &str, &str, TargetKind, Option<&str>)> = Vec::new();
    let mut removed = Vec::new();
    let mut evaluations = 0u64;
    let element_rules: Vec<&Rule> = rules
        .rules
        .iter()
        .filter(|r| matches!(r.targets, Targets::Elements(_)))
        .collect();
    let flow_rules: Vec<&Rule> = rules
        .rules
        .iter()
        .filter(|r| r.targets == Targets::Flows)
        .collect();
    for (e, rec) in model.elements.iter().zip(&records.elements) {
        let scope = ElementScope(rec);
        for r in &element_rules {
            let Targets::Elements(types) = &r.targets else {
                continue;
            };
            if !types.contains(&e.kind) {
                continue;
            }
            evaluations += 1;
            if r.condition.eval(&scope) {
                hits.push((
                    r,
                    &e.id,
                    &e.name,
                    TargetKind::Element,
                    e.device_model.as_deref(),
                ));
            } else if r.condition.eval(&WithoutControls(&scope)) {
                removed.push(RemovedByControl {
                    rule: r.def.id.clone(),
                    element: e.id.clone(),
                    stride: r.def.stride,
                });
            }
        }
    }
    for (f, rec) in model.flows.iter().zip(&records.flows) {
        let get = |id: &str| index.get(id).and_then(|&i| records.elements.get(i));
        let scope = FlowScope {
            flow: rec,
            source: get(&f.from),
            target: get(&f.to),
        };
        for r in &flow_rules {
            evaluations += 1;
            if r.condition.eval(&scope) {
                hits.push((r, &f.id, &f.name, TargetKind::Flow, None));
            } else if r.condition.eval(&WithoutControls(&scope)) {
                removed.push(RemovedByControl {
                    rule: r.def.id.clone(),
                    element: f.id.clone(),
                    stride: r.def.stride,
                });
            }
        }
    }
    let all_suppressions: Vec<&Suppression> = model
        .suppressions
        .iter()
        .chain(&options.suppressions)
        .collect();
    let (expired, active): (Vec<&Suppression>, Vec<&Suppression>) = all_suppressions
        .into_iter()
        .partition(|s| s.expires < options.today);
    let mut used = vec![false; active.len()];
    let mut findings: Vec<Finding> = hits
        .into_iter()
        .map(|(r, target, name, kind, dm)| {
            let id = finding_id(&r.def.id, target);
            let score = r.cvss.base_score();
            let severity = Severity::from_cvss_tenths(score.tenths());
            let deadline = options.policy.deadline(severity, options.found);
            let matched = active.iter().position(|s| match &s.finding {
                Some(fid) => *fid == id,
                None => {
                    s.rule.as_deref() == Some(&r.def.id) && s.element.as_deref() == Some(target)
                }
            });
            let status = match matched.and_then(|i| active.get(i).map(|s| (i, s))) {
                Some((i, s)) => {
                    if let Some(u) = used.get_mut(i) {
                        *u = true;
                    }
                    FindingStatus::Suppressed {
                        reason: s.reason.clone(),
                        expires: s.expires,
                    }
                }
                None => FindingStatus::Open,
            };
            let overdue = status == FindingStatus::Open && deadline.is_overdue(options.today);
            Finding {
                id,
                rule: r.def.id.clone(),
                title: r.def.title.clone(),
                element: target.to_string(),
                element_name: name.to_string(),
                target_kind: kind,
                device_model: dm.map(str::to_string),
                stride: r.def.stride,
                cvss_vector: r.cvss.to_string(),
                cvss_score: score.value(),
                severity,
                risk_level: severity.risk_level(),
                found: options.found,
                deadline,
                status,
                overdue,
                description: r.def.description.clone(),
                mitigations: r.def.mitigations.clone(),
                references: r.def.references.clone(),
            }
        })
        .collect();
    findings.sort_by(|a, b| b.severity.cmp(&a.severity).then_with(|| a.id.cmp(&b.id)));
    let unused = active
        .iter()
        .zip(&used)
        .filter(|(_, u)| !**u)
        .map(|(s, _)| (*s).clone())
        .collect();
    Analysis {
        findings,
        removed_by_controls: removed,
        expired_suppressions: expired.into_iter().cloned().collect(),
        unused_suppressions: unused,
        evaluations,
    }
}

/// The open findings at or above `threshold` that `baseline` (the finding
/// ids of an earlier analysis) does not have: what fails a CI gate
/// (`threat check --fail-on SEVERITY [--baseline FILE]`). Suppressed
/// findings never count.
pub fn gate<'a>(
    a: &'a Analysis,
    threshold: Severity,
    baseline: Option<&BTreeSet<String>>,
) -> Vec<&'a Finding> {
    a.findings
        .iter()
        .filter(|f| {
            f.status == FindingStatus::Open
                && f.severity >= threshold
                && baseline.is_none_or(|b| !b.contains(&f.id))
        })
        .collect()
}

/// A finding present in both analyses whose assessment changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangedFinding {
    /// Stable id.
    pub id: String,
    /// Names of the fields that changed.
    pub fields: Vec<String>,
    /// Before.
    pub old: Finding,
    /// After.
    pub new: Finding,
}

/// The difference between two analyses, by stable id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Diff {
    /// Findings only in the new analysis.
    pub new: Vec<Finding>,
    /// Findings only in the old analysis.
    pub resolved: Vec<Finding>,
    /// Findings in both whose assessment changed.
    pub changed: Vec<ChangedFinding>,
    /// Findings in both, unchanged.
    pub unchanged: usize,
}

impl Diff {
    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.new.is_empty() && self.resolved.is_empty() && self.changed.is_empty()
    }
}

/// Compares two analyses by finding id.
pub fn diff(old: &Analysis, new: &Analysis) -> Diff {
    let old_by: BTreeMap<&str, &Finding> =
        old.findings.iter().map(|f| (f.id.as_str(), f)).collect();
    let new_ids: BTreeSet<&str> = new.findings.iter().map(|f| f.id.as_str()).collect();
    let mut out = Diff {
        new: Vec::new(),
        resolved: Vec::new(),
        changed: Vec::new(),
        unchanged: 0,
    };
    for f in &new.findings {
        match old_by.get(f.id.as_str()) {
            None => out.new.push(f.clone()),
            Some(o) => {
                let mut fields = Vec::new();
                if o.cvss_vector != f.cvss_vector {
                    fields.push("cvss_vector".to_string());
                }
                if o.severity != f.severity {
                    fields.push("severity".to_string());
                }
                if o.status != f.status {
                    fields.push("status".to_string());
                }
                if o.deadline != f.deadline {
                    fields.push("deadline".to_string());
                }
                if o.element_name != f.element_name {
                    fields.push("element_name".to_string());
                }
                if o.title != f.title {
                    fields.push("title".to_string());
                }
                if fields.is_empty() {
                    out.unchanged += 1;
                } else {
                    out.changed.push(ChangedFinding {
                        id: f.id.clone(),
                        fields,
                        old: (*o).clone(),
                        new: f.clone(),
                    });
                }
            }
        }
    }
    out.resolved = old
        .findings
        .iter()
        .filter(|f| !new_ids.contains(f.id.as_str()))
        .cloned()
        .collect();
    out
}

#[cfg(test)]
mod tests;

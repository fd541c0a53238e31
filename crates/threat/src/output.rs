//! Renderings of an analysis: a text table, JSON (each finding with `id`,
//! `rule`, `element`, `stride`, `cvss_vector`, `cvss_score`, `severity`,
//! `deadline`...), SARIF 2.1.0 (rules, results with `ruleId`, `level`,
//! `message` and a logical location for the element or flow, suppressions),
//! Markdown and HTML reports, and the text and JSON forms of a diff.
//!
//! Deliberately absent: writing files and choosing a format from a file
//! name; nothing here reads the clock (the "today" shown is passed in).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use risk::Date;
use serde_json::{json, Value as Json};

use crate::analysis::{Analysis, Diff, Finding, FindingStatus, TargetKind};
use crate::diagram;
use crate::model::Model;
use crate::rules::{RuleSet, Stride};

/// The SARIF schema URI written into SARIF logs.
pub const SARIF_SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

fn status_str(f: &Finding) -> &'static str {
    match f.status {
        FindingStatus::Open if f.overdue => "overdue",
        FindingStatus::Open => "open",
        FindingStatus::Suppressed { .. } => "suppressed",
    }
}

fn deadline_str(f: &Finding) -> String {
    f.deadline
        .date
        .map_or_else(|| "-".to_string(), |d| d.to_string())
}

/// One finding as a flat JSON object.
pub fn finding_json(f: &Finding) -> Json {
    let mut v = json!({
        "id": f.id,
        "rule": f.rule,
        "title": f.title,
        "element": f.element,
        "element_name": f.element_name,
        "target_kind": match f.target_kind { TargetKind::Element => "element", TargetKind::Flow => "flow" },
        "stride": f.stride.as_str(),
        "cvss_vector": f.cvss_vector,
        "cvss_score": f.cvss_score,
        "severity": f.severity.as_str(),
        "risk_level": f.risk_level.as_str(),
        "found": f.found.to_string(),
        "deadline": f.deadline.date.map(|d| d.to_string()),
        "deadline_basis": f.deadline.basis.to_string(),
        "status": status_str(f),
        "overdue": f.overdue,
        "description": f.description,
        "mitigations": f.mitigations,
        "references": f.references,
    });
    if let (Some(obj), Some(dm)) = (v.as_object_mut(), &f.device_model) {
        obj.insert("device_model".into(), json!(dm));
        obj.insert("device_model_subject".into(), json!(format!("model:{dm}")));
    }
    if let (Some(obj), FindingStatus::Suppressed { reason, expires }) =
        (v.as_object_mut(), &f.status)
    {
        obj.insert(
            "suppression".into(),
            json!({"reason": reason, "expires": expires.to_string()}),
        );
    }
    v
}

fn stride_counts(m: &BTreeMap<Stride, usize>) -> Json {
    Json::Object(
        m.iter()
            .map(|(s, n)| (s.as_str().to_string(), json!(n)))
            .collect(),
    )
}

/// The analysis as one JSON object.
pub fn json(model: &Model, a: &Analysis, today: Date) -> Json {
    let open = a
        .findings
        .iter()
        .filter(|f| f.status == FindingStatus::Open)
        .count();
    json!({
        "model": model.title,
        "version": model.version,
        "date": a.findings.first().map(|f| f.found.to_string()).or(model.date.map(|d| d.to_string())),
        "today": today.to_string(),
        "summary": {
            "findings": a.findings.len(),
            "open": open,
            "suppressed": a.findings.len() - open,
            "overdue": a.overdue().count(),
            "per_stride": stride_counts(&a.per_stride()),
            "removed_by_controls": stride_counts(&a.removed_per_stride()),
            "removed_by_controls_total": a.removed_by_controls.len(),
            "evaluations": a.evaluations,
        },
        "findings": a.findings.iter().map(finding_json).collect::<Vec<_>>(),
        "removed_by_controls": a.removed_by_controls,
        "expired_suppressions": a.expired_suppressions,
        "unused_suppressions": a.unused_suppressions,
    })
}

/// A plain-text table, one finding per line, then the summary.
pub fn text(model: &Model, a: &Analysis, today: Date) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "{} — threat analysis on {today}", model.title);
    let _ = writeln!(
        s,
        "{:<18} {:<9} {:>4} {:<23} {:<30} {:<26} {:<10} STATUS",
        "ID", "SEVERITY", "CVSS", "STRIDE", "RULE", "ELEMENT", "DEADLINE"
    );
    for f in &a.findings {
        let _ = writeln!(
            s,
            "{:<18} {:<9} {:>4.1} {:<23} {:<30} {:<26} {:<10} {}",
            f.id,
            f.severity.as_str(),
            f.cvss_score,
            f.stride.as_str(),
            f.rule,
            f.element,
            deadline_str(f),
            status_str(f)
        );
    }
    let _ = writeln!(s);
    let per = a.per_stride();
    let removed = a.removed_per_stride();
    let _ = writeln!(
        s,
        "{:<23} {:>8} {:>19}",
        "STRIDE", "FINDINGS", "REMOVED BY CONTROLS"
    );
    for c in Stride::ALL {
        let _ = writeln!(
            s,
            "{:<23} {:>8} {:>19}",
            c.as_str(),
            per.get(&c).copied().unwrap_or(0),
            removed.get(&c).copied().unwrap_or(0)
        );
    }
    let _ = writeln!(
        s,
        "{} findings ({} overdue), {} removed by controls in place",
        a.findings.len(),
        a.overdue().count(),
        a.removed_by_controls.len()
    );
    for e in &a.expired_suppressions {
        let _ = writeln!(
            s,
            "warning: suppression expired on {} and was ignored: {}",
            e.expires, e.reason
        );
    }
    s
}

/// A SARIF 2.1.0 log of the analysis; `artifact` is the model file's URI.
pub fn sarif(rules: &RuleSet, a: &Analysis, artifact: &str) -> Json {
    let rule_index: BTreeMap<&str, usize> = rules
        .rules
        .iter()
        .enumerate()
        .map(|(i, r)| (r.def.id.as_str(), i))
        .collect();
    let sarif_rules: Vec<Json> = rules
        .rules
        .iter()
        .map(|r| {
            let score = r.cvss.base_score();
            json!({
                "id": r.def.id,
                "name": r.def.id,
                "shortDescription": {"text": r.def.title},
                "fullDescription": {"text": r.def.description},
                "help": {"text": r.def.mitigations.join("\n")},
                "properties": {
                    "security-severity": score.to_string(),
                    "tags": ["security", "threat-model", r.def.stride.as_str()],
                    "cvss": r.cvss.to_string(),
                    "references": r.def.references,
                },
            })
        })
        .collect();
    let results: Vec<Json> = a
        .findings
        .iter()
        .map(|f| {
            let level = match f.severity {
                risk::Severity::Critical | risk::Severity::High => "error",
                risk::Severity::Medium => "warning",
                _ => "note",
            };
            let mut r = json!({
                "ruleId": f.rule,
                "ruleIndex": rule_index.get(f.rule.as_str()).copied().unwrap_or(0),
                "level": level,
                "message": {"text": format!("{}: {} ({} {}, deadline {})",
                    f.element_name, f.title, f.severity.as_str(), f.cvss_score, deadline_str(f))},
                "locations": [{
                    "physicalLocation": {"artifactLocation": {"uri": artifact}},
                    "logicalLocations": [{
                        "name": f.element,
                        "fullyQualifiedName": format!("{}/{}",
                            match f.target_kind { TargetKind::Element => "elements", TargetKind::Flow => "flows" },
                            f.element),
                        "kind": "resource",
                    }],
                }],
                "partialFingerprints": {"sectwinFindingId/v1": f.id},
                "properties": {
                    "findingId": f.id,
                    "stride": f.stride.as_str(),
                    "cvssVector": f.cvss_vector,
                    "deadline": f.deadline.date.map(|d| d.to_string()),
                    "overdue": f.overdue,
                },
            });
            if let (Some(obj), FindingStatus::Suppressed { reason, expires }) = (r.as_object_mut(), &f.status) {
                obj.insert(
                    "suppressions".into(),
                    json!([{"kind": "external", "status": "accepted",
                        "justification": format!("{reason} (until {expires})")}]),
                );
            }
            r
        })
        .collect();
    json!({
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "sectwin threat",
                "informationUri": "https://github.com/sectwin/sectwin",
                "rules": sarif_rules,
            }},
            "artifacts": [{"location": {"uri": artifact}}],
            "results": results,
        }],
    })
}

fn md_escape(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// A Markdown report: target of evaluation, objectives, assets,
/// assumptions, the data-flow diagram (Mermaid), the element and flow
/// inventory, a summary per STRIDE category, the findings (one row per rule
/// with where it applies) and their details.
pub fn markdown(model: &Model, a: &Analysis, today: Date) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# Threat model: {}\n", model.title);
    if let Some(v) = &model.version {
        let _ = writeln!(s, "Model version {v}.");
    }
    let _ = writeln!(s, "Analysed on {today}.\n");
    let toe = &model.target_of_evaluation;
    let _ = writeln!(
        s,
        "## Target of evaluation\n\n**{}**: {}\n",
        toe.name,
        toe.description.trim()
    );
    if !toe.objectives.is_empty() {
        let _ = writeln!(s, "Security objectives:\n");
        for o in &toe.objectives {
            let _ = writeln!(s, "- {o}");
        }
        let _ = writeln!(s);
    }
    if !model.assets.is_empty() {
        let _ = writeln!(
            s,
            "## Assets\n\n| Asset | Classification | Held by |\n|---|---|---|"
        );
        for x in &model.assets {
            let _ = writeln!(
                s,
                "| {} | {} | {} |",
                md_escape(&x.name),
                x.classification.as_str(),
                x.stored_in.join(", ")
            );
        }
        let _ = writeln!(s);
    }
    if !model.assumptions.is_empty() {
        let _ = writeln!(s, "## Assumptions\n");
        for x in &model.assumptions {
            match x.description.trim() {
                "" => {
                    let _ = writeln!(s, "- **{}**", md_escape(&x.name));
                }
                d => {
                    let _ = writeln!(s, "- **{}**: {}", md_escape(&x.name), md_escape(d));
                }
            }
        }
        let _ = writeln!(s);
    }
    let _ = writeln!(
        s,
        "## Data-flow diagram\n\n```mermaid\n{}```\n\n## Elements\n",
        mermaid(model)
    );
    elements_table(model).markdown(&mut s);
    let _ = writeln!(s, "## Data flows\n");
    flows_table(model).markdown(&mut s);
    let _ = writeln!(
        s,
        "## Summary\n\n{} findings, {} overdue, {} threats removed by controls in place.\n",
        a.findings.len(),
        a.overdue().count(),
        a.removed_by_controls.len()
    );
    let _ = writeln!(
        s,
        "| STRIDE | Findings | Removed by controls |\n|---|---:|---:|"
    );
    let per = a.per_stride();
    let removed = a.removed_per_stride();
    for c in Stride::ALL {
        let _ = writeln!(
            s,
            "| {} | {} | {} |",
            c.title(),
            per.get(&c).copied().unwrap_or(0),
            removed.get(&c).copied().unwrap_or(0)
        );
    }
    let _ = writeln!(s, "\n## Findings\n");
    findings_table(a).markdown(&mut s);
    let _ = writeln!(s, "## Details\n");
    for g in grouped(a) {
        let Some(f) = g.first() else { continue };
        let _ = writeln!(s, "### `{}` {}\n", g.rule, f.title);
        let _ = writeln!(s, "{}, {}.\n", f.stride.title(), f.severity.as_str());
        let _ = writeln!(s, "{}\n", f.description.trim());
        if !f.mitigations.is_empty() {
            let _ = writeln!(s, "Mitigations:\n");
            for m in &f.mitigations {
                let _ = writeln!(s, "- {m}");
            }
            let _ = writeln!(s);
        }
        if !f.references.is_empty() {
            let _ = writeln!(s, "References: {}\n", f.references.join(", "));
        }
        let _ = writeln!(s, "Where:\n");
        for f in &g.findings {
            let _ = write!(
                s,
                "- `{}` {}: CVSS {} `{}`, deadline {} ({}), {}",
                f.id,
                f.element_name,
                f.cvss_score,
                f.cvss_vector,
                deadline_str(f),
                f.deadline.basis,
                status_str(f)
            );
            if let Some(dm) = &f.device_model {
                let _ = write!(s, "; device model `model:{dm}`");
            }
            if let FindingStatus::Suppressed { reason, expires } = &f.status {
                let _ = write!(s, "; suppressed until {expires}: {reason}");
            }
            let _ = writeln!(s);
        }
        let _ = writeln!(s);
    }
    s
}

/// Escapes text for HTML and XML.
pub fn html_escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            _ => o.push(c),
        }
    }
    o
}

/// A self-contained HTML report (with the pure-Rust SVG diagram inline).
pub fn html(model: &Model, a: &Analysis, today: Date) -> String {
    let e = html_escape;
    let mut s = String::new();
    let _ = write!(
        s,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Threat model: {t}</title>\
         <style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto}}table{{border-collapse:collapse}}\
         td,th{{border:1px solid #ccc;padding:4px 8px;text-align:left}}.critical,.high{{color:#b00}}.medium{{color:#b60}}</style>\
         </head><body>\n<h1>Threat model: {t}</h1>\n<p>Analysed on {today}.</p>\n",
        t = e(&model.title)
    );
    let toe = &model.target_of_evaluation;
    let _ = writeln!(
        s,
        "<h2>Target of evaluation</h2><p><b>{}</b>: {}</p>",
        e(&toe.name),
        e(toe.description.trim())
    );
    if !toe.objectives.is_empty() {
        s.push_str("<ul>");
        for o in &toe.objectives {
            let _ = write!(s, "<li>{}</li>", e(o));
        }
        s.push_str("</ul>\n");
    }
    if !model.assumptions.is_empty() {
        s.push_str("<h2>Assumptions</h2><ul>");
        for x in &model.assumptions {
            let _ = write!(
                s,
                "<li><b>{}</b> {}</li>",
                e(&x.name),
                e(x.description.trim())
            );
        }
        s.push_str("</ul>\n");
    }
    let _ = writeln!(s, "<h2>Data-flow diagram</h2>\n{}", diagram::svg(model));
    s.push_str("<h2>Elements</h2>");
    elements_table(model).html(&mut s);
    s.push_str("<h2>Data flows</h2>");
    flows_table(model).html(&mut s);
    let _ = writeln!(
        s,
        "<h2>Summary</h2><p>{} findings, {} overdue, {} threats removed by controls in place.</p>\
         <table><tr><th>STRIDE</th><th>Findings</th><th>Removed by controls</th></tr>",
        a.findings.len(),
        a.overdue().count(),
        a.removed_by_controls.len()
    );
    let per = a.per_stride();
    let removed = a.removed_per_stride();
    for c in Stride::ALL {
        let _ = write!(
            s,
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            c.title(),
            per.get(&c).copied().unwrap_or(0),
            removed.get(&c).copied().unwrap_or(0)
        );
    }
    s.push_str("</table>\n<h2>Findings</h2>");
    findings_table(a).html(&mut s);
    s.push_str("<h2>Details</h2>\n");
    for g in grouped(a) {
        let Some(f) = g.first() else { continue };
        let _ = write!(
            s,
            "<h3><code>{}</code> {}</h3><p>{}, <span class=\"{sev}\">{sev}</span>. {}</p>",
            e(g.rule),
            e(&f.title),
            f.stride.title(),
            e(f.description.trim()),
            sev = f.severity.as_str()
        );
        if !f.mitigations.is_empty() {
            s.push_str("<p>Mitigations:</p><ul>");
            for m in &f.mitigations {
                let _ = write!(s, "<li>{}</li>", e(m));
            }
            s.push_str("</ul>");
        }
        if !f.references.is_empty() {
            let _ = write!(s, "<p>References: {}</p>", e(&f.references.join(", ")));
        }
        s.push_str("<ul>");
        for f in &g.findings {
            let _ = write!(
                s,
                "<li><code>{}</code> {}: CVSS {} <code>{}</code>, deadline {}, {}</li>",
                e(&f.id),
                e(&f.element_name),
                f.cvss_score,
                e(&f.cvss_vector),
                deadline_str(f),
                status_str(f)
            );
        }
        s.push_str("</ul>\n");
    }
    s.push_str("</body></html>\n");
    s
}

/// A diff as text: new, resolved and changed findings.
pub fn diff_text(d: &Diff) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{} new, {} resolved, {} changed, {} unchanged",
        d.new.len(),
        d.resolved.len(),
        d.changed.len(),
        d.unchanged
    );
    for f in &d.new {
        let _ = writeln!(
            s,
            "+ {} {} {} on {} ({})",
            f.id,
            f.severity.as_str(),
            f.rule,
            f.element,
            f.title
        );
    }
    for f in &d.resolved {
        let _ = writeln!(
            s,
            "- {} {} {} on {} ({})",
            f.id,
            f.severity.as_str(),
            f.rule,
            f.element,
            f.title
        );
    }
    for c in &d.changed {
        let _ = writeln!(
            s,
            "~ {} {} on {}: {}",
            c.id,
            c.new.rule,
            c.new.element,
            c.fields.join(", ")
        );
    }
    s
}

/// A diff as JSON.
pub fn diff_json(d: &Diff) -> Json {
    json!({
        "new": d.new.iter().map(finding_json).collect::<Vec<_>>(),
        "resolved": d.resolved.iter().map(finding_json).collect::<Vec<_>>(),
        "changed": d.changed.iter().map(|c| json!({
            "id": c.id, "fields": c.fields,
            "old": finding_json(&c.old), "new": finding_json(&c.new),
        })).collect::<Vec<_>>(),
        "unchanged": d.unchanged,
    })
}

/// The boundaries each element is in, by element id, in model order.
fn boundaries_of(model: &Model) -> BTreeMap<&str, Vec<&str>> {
    let mut m: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for b in &model.boundaries {
        for e in &b.elements {
            m.entry(e.as_str()).or_default().push(b.name.as_str());
        }
    }
    m
}

/// The findings of one rule: one row of a report's findings table.
struct Group<'a> {
    rule: &'a str,
    findings: Vec<&'a Finding>,
}

impl Group<'_> {
    fn first(&self) -> Option<&Finding> {
        self.findings.first().copied()
    }

    /// The worst severity and score of its findings.
    fn worst(&self) -> Option<&Finding> {
        self.findings.iter().copied().max_by(|a, b| {
            a.severity
                .cmp(&b.severity)
                .then(a.cvss_score.total_cmp(&b.cvss_score))
        })
    }

    /// The earliest deadline of its open findings (else of any).
    fn deadline(&self) -> String {
        let open = self
            .findings
            .iter()
            .filter(|f| matches!(f.status, FindingStatus::Open))
            .filter_map(|f| f.deadline.date)
            .min();
        open.or_else(|| self.findings.iter().filter_map(|f| f.deadline.date).min())
            .map_or_else(|| "-".to_string(), |d| d.to_string())
    }

    /// "2 open, 1 overdue, 1 suppressed".
    fn statuses(&self) -> String {
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for f in &self.findings {
            *counts.entry(status_str(f)).or_default() += 1;
        }
        if self.findings.len() == 1 {
            return counts.keys().next().copied().unwrap_or("-").to_string();
        }
        ["overdue", "open", "suppressed"]
            .iter()
            .filter_map(|k| counts.get(k).map(|n| format!("{n} {k}")))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Where it applies: the element or flow names.
    fn targets(&self) -> String {
        self.findings
            .iter()
            .map(|f| f.element_name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The findings grouped by rule, in the order of each rule's first finding
/// (the analysis's order: worst first).
fn grouped(a: &Analysis) -> Vec<Group<'_>> {
    let mut groups: Vec<Group<'_>> = Vec::new();
    let mut at: BTreeMap<&str, usize> = BTreeMap::new();
    for f in &a.findings {
        match at.get(f.rule.as_str()).and_then(|&i| groups.get_mut(i)) {
            Some(g) => g.findings.push(f),
            None => {
                at.insert(f.rule.as_str(), groups.len());
                groups.push(Group {
                    rule: &f.rule,
                    findings: vec![f],
                });
            }
        }
    }
    groups
}

/// What [`mermaid`] draws the boundaries and elements from.
struct MermaidDrawing<'a> {
    model: &'a Model,
    /// Each boundary's parent boundary, if it nests in one.
    parent: &'a [Option<usize>],
    /// The boundary each element is drawn in.
    home: &'a BTreeMap<&'a str, usize>,
    /// Element positions by id.
    index: &'a BTreeMap<&'a str, usize>,
}

impl MermaidDrawing<'_> {
    /// Element `i` as a node, its shape after its type.
    fn node(&self, s: &mut String, i: usize, indent: &str) {
        use crate::model::ElementType as T;
        let Some(e) = self.model.elements.get(i) else {
            return;
        };
        let (open, close) = match e.kind {
            T::ExternalEntity => ("[\"", "\"]"),
            T::DataStore | T::DataSource => ("[(\"", "\")]"),
            T::Device | T::Gateway => ("[[\"", "\"]]"),
            T::AiModel | T::TrainingPipeline => ("{{\"", "\"}}"),
            _ => ("(\"", "\")"),
        };
        let _ = writeln!(
            s,
            "{indent}{}{open}{}{close}",
            mermaid_id(i),
            mermaid_text(&e.name)
        );
    }

    /// Boundary `b` as a subgraph: the boundaries nested in it, then the
    /// elements drawn in it.
    fn subgraph(&self, s: &mut String, b: usize, level: usize) {
        let Some(boundary) = self.model.boundaries.get(b) else {
            return;
        };
        let indent = "  ".repeat(level + 1);
        let _ = writeln!(
            s,
            "{indent}subgraph b{b}[\"{}\"]",
            mermaid_text(&boundary.name)
        );
        for (child, p) in self.parent.iter().enumerate() {
            if *p == Some(b) && level < self.model.boundaries.len() {
                self.subgraph(s, child, level + 1);
            }
        }
        for e in &boundary.elements {
            if self.home.get(e.as_str()) == Some(&b) {
                if let Some(&i) = self.index.get(e.as_str()) {
                    self.node(s, i, &format!("{indent}  "));
                }
            }
        }
        let _ = writeln!(s, "{indent}end");
    }
}

/// A Mermaid node id for the element at `i`.
fn mermaid_id(i: usize) -> String {
    format!("e{i}")
}

/// Text for a quoted Mermaid label.
fn mermaid_text(s: &str) -> String {
    s.replace('"', "#quot;").replace(['\n', '\r'], " ")
}

/// The data-flow diagram as a Mermaid flowchart (GitHub, GitLab and most
/// Markdown viewers draw it): trust boundaries as subgraphs, a boundary
/// inside another when all its elements are in the other; an element in
/// two boundaries that do not nest is drawn in the first and named in a
/// comment.
pub fn mermaid(model: &Model) -> String {
    let mut s = String::from("flowchart LR\n");
    let index: BTreeMap<&str, usize> = model.element_positions();
    let sets: Vec<std::collections::BTreeSet<&str>> = model
        .boundaries
        .iter()
        .map(|b| b.elements.iter().map(String::as_str).collect())
        .collect();
    // The parent of each boundary: the smallest other boundary holding all
    // of its elements (ties broken by model order; never itself).
    let parent: Vec<Option<usize>> = sets
        .iter()
        .enumerate()
        .map(|(i, set)| {
            sets.iter()
                .enumerate()
                .filter(|&(j, other)| {
                    j != i
                        && !set.is_empty()
                        && set.is_subset(other)
                        && (other.len() > set.len() || j < i)
                })
                .min_by_key(|&(j, other)| (other.len(), j))
                .map(|(j, _)| j)
        })
        .collect();
    // Each element is drawn in the deepest boundary holding it.
    let depth = |mut b: usize| {
        let mut d = 0;
        while let Some(p) = parent.get(b).copied().flatten() {
            d += 1;
            b = p;
            if d > sets.len() {
                break;
            }
        }
        d
    };
    let mut home: BTreeMap<&str, usize> = BTreeMap::new();
    let mut also: Vec<String> = Vec::new();
    for (i, set) in sets.iter().enumerate() {
        for e in set {
            match home.get(e).copied() {
                None => {
                    home.insert(e, i);
                }
                Some(h) => {
                    let nested = |mut x: usize, ancestor: usize| {
                        for _ in 0..=sets.len() {
                            match parent.get(x).copied().flatten() {
                                Some(p) if p == ancestor => return true,
                                Some(p) => x = p,
                                None => return false,
                            }
                        }
                        false
                    };
                    if nested(i, h) && depth(i) > depth(h) {
                        home.insert(e, i);
                    } else if !nested(h, i) {
                        also.push(format!(
                            "{e} is also in {}",
                            model.boundaries.get(i).map_or("", |b| b.name.as_str())
                        ));
                    }
                }
            }
        }
    }
    let drawing = MermaidDrawing {
        model,
        parent: &parent,
        home: &home,
        index: &index,
    };
    for (b, p) in parent.iter().enumerate() {
        if p.is_none() && sets.get(b).is_some_and(|x| !x.is_empty()) {
            drawing.subgraph(&mut s, b, 0);
        }
    }
    for (i, e) in model.elements.iter().enumerate() {
        if !home.contains_key(e.id.as_str()) {
            drawing.node(&mut s, i, "  ");
        }
    }
    let crosses = diagram::crossing(model);
    let mut red = Vec::new();
    for (n, (f, c)) in model.flows.iter().zip(&crosses).enumerate() {
        let (Some(a), Some(b)) = (index.get(f.from.as_str()), index.get(f.to.as_str())) else {
            continue;
        };
        let label = mermaid_text(&flow_label(f));
        let _ = writeln!(
            s,
            "  {} -->|\"{label}\"| {}",
            mermaid_id(*a),
            mermaid_id(*b)
        );
        if *c && !f.encrypted {
            red.push(n.to_string());
        }
    }
    if !red.is_empty() {
        let _ = writeln!(
            s,
            "  linkStyle {} stroke:#c00,stroke-width:2px",
            red.join(",")
        );
    }
    for a in also {
        let _ = writeln!(s, "  %% {}", mermaid_text(&a));
    }
    s
}

/// A table: its headers and rows of plain text.
struct Table {
    headers: &'static [&'static str],
    rows: Vec<Vec<String>>,
}

impl Table {
    fn markdown(&self, s: &mut String) {
        let _ = writeln!(s, "| {} |", self.headers.join(" | "));
        let _ = writeln!(s, "|{}", "---|".repeat(self.headers.len()));
        for r in &self.rows {
            let cells: Vec<String> = r.iter().map(|c| md_escape(c)).collect();
            let _ = writeln!(s, "| {} |", cells.join(" | "));
        }
        let _ = writeln!(s);
    }

    fn html(&self, s: &mut String) {
        s.push_str("<table><tr>");
        for h in self.headers {
            let _ = write!(s, "<th>{}</th>", html_escape(h));
        }
        s.push_str("</tr>\n");
        for r in &self.rows {
            s.push_str("<tr>");
            for c in r {
                let _ = write!(s, "<td>{}</td>", html_escape(c));
            }
            s.push_str("</tr>\n");
        }
        s.push_str("</table>\n");
    }
}

/// The element inventory.
fn elements_table(model: &Model) -> Table {
    let member = boundaries_of(model);
    Table {
        headers: &[
            "Id",
            "Name",
            "Type",
            "Trust boundaries",
            "Controls",
            "Device model",
        ],
        rows: model
            .elements
            .iter()
            .map(|e| {
                vec![
                    e.id.clone(),
                    e.name.clone(),
                    e.kind.as_str().to_string(),
                    member
                        .get(e.id.as_str())
                        .map(|b| b.join(", "))
                        .unwrap_or_default(),
                    e.controls.join(", "),
                    e.device_model
                        .as_deref()
                        .map_or(String::new(), |m| format!("model:{m}")),
                ]
            })
            .collect(),
    }
}

/// The data-flow inventory.
fn flows_table(model: &Model) -> Table {
    let crosses = diagram::crossing(model);
    let name = |id: &str| model.element(id).map_or(id.to_string(), |e| e.name.clone());
    Table {
        headers: &[
            "Id",
            "Name",
            "From → To",
            "Protocol",
            "Authentication",
            "Encrypted",
            "Data",
            "Crosses a boundary",
            "Controls",
        ],
        rows: model
            .flows
            .iter()
            .zip(&crosses)
            .map(|(f, c)| {
                vec![
                    f.id.clone(),
                    f.name.clone(),
                    format!("{} → {}", name(&f.from), name(&f.to)),
                    protocol_str(f),
                    f.authentication.clone(),
                    if f.encrypted { "yes" } else { "no" }.to_string(),
                    f.classification.as_str().to_string(),
                    if *c { "yes" } else { "no" }.to_string(),
                    f.controls.join(", "),
                ]
            })
            .collect(),
    }
}

/// The findings, one row per rule with the elements and flows it applies
/// to.
fn findings_table(a: &Analysis) -> Table {
    Table {
        headers: &[
            "Rule", "Severity", "CVSS", "STRIDE", "Threat", "Where", "Deadline", "Status",
        ],
        rows: grouped(a)
            .iter()
            .filter_map(|g| {
                let w = g.worst()?;
                let first = g.first()?;
                Some(vec![
                    g.rule.to_string(),
                    w.severity.as_str().to_string(),
                    format!("{:.1}", w.cvss_score),
                    first.stride.title().to_string(),
                    first.title.clone(),
                    g.targets(),
                    g.deadline(),
                    g.statuses(),
                ])
            })
            .collect(),
    }
}

fn protocol_str(f: &crate::model::Flow) -> String {
    match (f.protocol.as_str(), f.port) {
        ("", None) => "-".into(),
        ("", Some(p)) => format!("port {p}"),
        (p, None) => p.to_string(),
        (p, Some(port)) => format!("{p}/{port}"),
    }
}

fn flow_label(f: &crate::model::Flow) -> String {
    match (f.protocol.as_str(), f.port) {
        ("", _) => f.name.clone(),
        (_, None) => format!("{} ({})", f.name, f.protocol),
        (p, Some(port)) => format!("{} {p}/{port}", f.name),
    }
}

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

/// A Markdown report: target of evaluation, objectives, assets, summary per
/// STRIDE category, findings table and details.
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
    let _ = writeln!(
        s,
        "\n## Findings\n\n| Id | Severity | CVSS | STRIDE | Threat | Element | Deadline | Status |\n|---|---|---:|---|---|---|---|---|"
    );
    for f in &a.findings {
        let _ = writeln!(
            s,
            "| `{}` | {} | {:.1} | {} | {} | {} | {} | {} |",
            f.id,
            f.severity.as_str(),
            f.cvss_score,
            f.stride.title(),
            md_escape(&f.title),
            md_escape(&f.element_name),
            deadline_str(f),
            status_str(f)
        );
    }
    let _ = writeln!(s, "\n## Details\n");
    for f in &a.findings {
        let _ = writeln!(s, "### `{}` {} — {}\n", f.id, f.title, f.element_name);
        let _ = writeln!(
            s,
            "Rule `{}`, {}, CVSS {} `{}`, deadline {} ({}).\n",
            f.rule,
            f.stride.title(),
            f.cvss_score,
            f.cvss_vector,
            deadline_str(f),
            f.deadline.basis
        );
        if let Some(dm) = &f.device_model {
            let _ = writeln!(s, "Device model: `model:{dm}`.\n");
        }
        let _ = writeln!(s, "{}\n", f.description.trim());
        for m in &f.mitigations {
            let _ = writeln!(s, "- {m}");
        }
        if !f.references.is_empty() {
            let _ = writeln!(s, "\nReferences: {}\n", f.references.join(", "));
        }
        if let FindingStatus::Suppressed { reason, expires } = &f.status {
            let _ = writeln!(s, "Suppressed until {expires}: {reason}\n");
        }
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
    let _ = writeln!(s, "<h2>Data-flow diagram</h2>\n{}", diagram::svg(model));
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
    s.push_str("</table>\n<h2>Findings</h2><table><tr><th>Id</th><th>Severity</th><th>CVSS</th><th>STRIDE</th><th>Threat</th><th>Element</th><th>Deadline</th><th>Status</th></tr>\n");
    for f in &a.findings {
        let _ = writeln!(
            s,
            "<tr><td><code>{}</code></td><td class=\"{sev}\">{sev}</td><td>{:.1}</td><td>{}</td><td title=\"{}\">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            e(&f.id),
            f.cvss_score,
            f.stride.title(),
            e(f.description.trim()),
            e(&f.title),
            e(&f.element_name),
            deadline_str(f),
            status_str(f),
            sev = f.severity.as_str(),
        );
    }
    s.push_str("</table>\n</body></html>\n");
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

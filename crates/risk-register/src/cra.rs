//! What the register tells of a CRA report case (`twin::cra`): the
//! manufacturer's releases and devices a case concerns, the fix and when it
//! became available, the Member States its devices are in; the drafts of
//! each stage written from them (Art. 14(2) for vulnerabilities, 14(4) for
//! incidents), the export of a signed stage with the reporting platform's
//! fields, and the fix as a CSAF 2.0 security advisory.
//!
//! Pure: the register, the releases and the case are inputs; times are
//! unix seconds given by the caller.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Map, Value};
use twin::cra::{Case, CaseKind, Stage, Stamp};
use twin::projection::Release;
use twin::StakeholderId;

use crate::Register;

/// The schema tag of an exported stage.
pub const EXPORT_SCHEMA: &str = "sectwin-cra-report/1";

/// The EU Member States by ISO 3166-1 alpha-2 code (Greece also as `EL`,
/// the EU's own code).
pub const MEMBER_STATES: [&str; 27] = [
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE", "IT",
    "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK",
];

/// The Member State a site names: its first or last word, if that is a
/// Member State's code in capitals (`DE-Munich`, `Plant 4, FR`; `EL` is
/// Greece). Other sites name none: the manufacturer completes the draft.
pub fn member_state(site: &str) -> Option<&'static str> {
    let words: Vec<&str> = site
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let code = |w: &&str| -> Option<&'static str> {
        let w = if *w == "EL" { "GR" } else { w };
        MEMBER_STATES.iter().copied().find(|m| *m == w)
    };
    words
        .first()
        .and_then(code)
        .or_else(|| words.last().and_then(code))
}

/// Unix seconds as RFC 3339 UTC (`2026-12-07T10:00:00Z`).
pub fn rfc3339(unix_s: i64) -> String {
    let day = risk::Date::from_unix_s(unix_s);
    let s = unix_s - day.unix_s();
    format!(
        "{day}T{:02}:{:02}:{:02}Z",
        s / 3600,
        (s % 3600) / 60,
        s % 60
    )
}

/// The product (model name) of a model subject `model:<vendor>/<model>`.
pub fn product_of(model: &str) -> &str {
    let rest = model.strip_prefix("model:").unwrap_or(model);
    rest.split_once('/').map_or(rest, |(_, name)| name)
}

/// One affected release of a case.
#[derive(Debug, Clone, PartialEq)]
pub struct AffectedRelease {
    /// The model subject.
    pub model: String,
    /// Its version.
    pub version: String,
    /// Devices running it.
    pub devices: usize,
    /// The nearest later release not exposed, if any.
    pub fixed_in: Option<String>,
    /// When that release was issued (unix seconds), if known.
    pub fix_available_at: Option<i64>,
}

/// What the register tells of a case.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CaseFacts {
    /// The manufacturer's releases concerned.
    pub affected: Vec<AffectedRelease>,
    /// Devices on them.
    pub devices: usize,
    /// Member States their devices are in.
    pub member_states: BTreeSet<String>,
    /// Sites that name no Member State.
    pub unmapped_sites: BTreeSet<String>,
    /// When every affected model had a fix (unix seconds), if each has.
    pub fix_available_at: Option<i64>,
    /// The vulnerability's title, severity, score and vector (its worst
    /// release risk's).
    pub title: Option<String>,
    /// Severity.
    pub severity: Option<String>,
    /// CVSS base score.
    pub score: Option<f64>,
    /// CVSS vector.
    pub vector: Option<String>,
    /// CISA's SSVC decision, if known.
    pub ssvc: Option<String>,
    /// Known-exploited entries and EPSS.
    pub exploit: Option<std::sync::Arc<vuln::exploit::ExploitFacts>>,
}

impl CaseFacts {
    /// The fixing releases, `<product> <version>`, one per model.
    pub fn fixes(&self) -> Vec<String> {
        let mut out: BTreeSet<String> = BTreeSet::new();
        for a in &self.affected {
            if let Some(f) = &a.fixed_in {
                out.insert(format!("{} {f}", product_of(&a.model)));
            }
        }
        out.into_iter().collect()
    }
}

/// The model subjects `manufacturer` releases firmware for.
pub fn models_of<'a>(
    releases: &'a BTreeMap<String, Vec<Release>>,
    manufacturer: &'a StakeholderId,
) -> impl Iterator<Item = &'a str> + 'a {
    releases
        .iter()
        .filter(move |(_, r)| r.first().is_some_and(|r| &r.issuer == manufacturer))
        .map(|(m, _)| m.as_str())
}

/// The release risks of `vulnerability`: those under its id, else those
/// whose exploitation facts are known under it (an advisory whose id is
/// not the CVE a known-exploited list names, with it as an alias).
pub fn risks_about<'a>(register: &'a Register, vulnerability: &str) -> Vec<&'a crate::Risk> {
    let direct = register.risks_of_vulnerability(vulnerability);
    if !direct.is_empty() {
        return direct.iter().map(|r| &**r).collect();
    }
    register
        .risks
        .iter()
        .filter(|r| {
            r.release.is_some() && r.exploit.as_deref().is_some_and(|e| e.cve == vulnerability)
        })
        .map(|r| &**r)
        .collect()
}

/// The products (model names) of `manufacturer` the register finds exposed
/// to `vulnerability`.
pub fn exposed_products(
    register: &Register,
    releases: &BTreeMap<String, Vec<Release>>,
    manufacturer: &StakeholderId,
    vulnerability: &str,
) -> Vec<String> {
    let models: BTreeSet<&str> = models_of(releases, manufacturer).collect();
    let mut out = BTreeSet::new();
    for r in risks_about(register, vulnerability) {
        if let Some(m) = r.model.as_deref() {
            if models.contains(m) {
                out.insert(product_of(m).to_string());
            }
        }
    }
    out.into_iter().collect()
}

/// What the register tells of `case` of `manufacturer`.
pub fn case_facts(
    register: &Register,
    releases: &BTreeMap<String, Vec<Release>>,
    manufacturer: &StakeholderId,
    case: &Case,
) -> CaseFacts {
    let risks = case
        .vulnerability
        .as_deref()
        .map(|v| risks_about(register, v))
        .unwrap_or_default();
    case_facts_of(register, releases, manufacturer, case, &risks)
}

/// The release risks of each of `vulnerabilities`, as [`risks_about`]
/// answers them, in one pass over the register.
pub fn risks_about_each<'a>(
    register: &'a Register,
    vulnerabilities: &BTreeSet<&str>,
) -> BTreeMap<String, Vec<&'a crate::Risk>> {
    let mut out: BTreeMap<String, Vec<&'a crate::Risk>> = BTreeMap::new();
    let mut by_alias: BTreeMap<String, Vec<&'a crate::Risk>> = BTreeMap::new();
    for v in vulnerabilities {
        let direct = register.risks_of_vulnerability(v);
        if !direct.is_empty() {
            out.insert((*v).to_string(), direct.iter().map(|r| &**r).collect());
        }
    }
    if out.len() < vulnerabilities.len() {
        for r in &register.risks {
            let Some(e) = r.exploit.as_deref() else {
                continue;
            };
            if r.release.is_some()
                && vulnerabilities.contains(e.cve.as_str())
                && !out.contains_key(&e.cve)
            {
                by_alias.entry(e.cve.clone()).or_default().push(r);
            }
        }
    }
    out.extend(by_alias);
    out
}

/// [`case_facts`] with the case's release risks found already.
pub fn case_facts_of(
    register: &Register,
    releases: &BTreeMap<String, Vec<Release>>,
    manufacturer: &StakeholderId,
    case: &Case,
    risks: &[&crate::Risk],
) -> CaseFacts {
    let models: BTreeSet<&str> = models_of(releases, manufacturer)
        .filter(|m| case.products.iter().any(|p| p == product_of(m)))
        .collect();
    let mut facts = CaseFacts::default();
    let mut keys: Vec<(String, String, Option<String>)> = Vec::new();
    match (&case.kind, &case.vulnerability) {
        (CaseKind::Vulnerability, Some(_)) => {
            let mut worst: Option<&crate::Risk> = None;
            for r in risks.iter().copied() {
                let (Some(model), Some(version)) = (r.model.as_deref(), r.release.as_deref())
                else {
                    continue;
                };
                if !models.contains(model) {
                    continue;
                }
                if worst.is_none_or(|w| r.score > w.score) {
                    worst = Some(r);
                }
                keys.push((
                    model.to_string(),
                    version.to_string(),
                    r.fixed_in.as_deref().map(str::to_string),
                ));
            }
            if let Some(w) = worst {
                facts.title = Some(w.title.to_string());
                facts.severity = Some(w.severity.as_str().to_string());
                facts.score = w.score;
                facts.vector = w.cvss_vector.as_deref().map(str::to_string);
                facts.ssvc = w.ssvc.map(|s| s.as_str().to_string());
                facts.exploit = w.exploit.clone();
            }
        }
        _ => {
            for m in &models {
                for r in releases.get(*m).into_iter().flatten() {
                    keys.push((m.to_string(), r.version.clone(), None));
                }
            }
        }
    }
    keys.sort();
    keys.dedup();
    let mut fix_of_model: BTreeMap<String, Option<i64>> = BTreeMap::new();
    for (model, version, fixed_in) in keys {
        let key = format!("{model}@{version}");
        let mut devices = 0;
        for row in register.devices.on(&key) {
            devices += 1;
            if let Some(site) = &row.site {
                match member_state(site) {
                    Some(ms) => {
                        facts.member_states.insert(ms.to_string());
                    }
                    None => {
                        facts.unmapped_sites.insert(site.clone());
                    }
                }
            }
        }
        let fix_at = fixed_in.as_deref().and_then(|f| {
            releases
                .get(&model)?
                .iter()
                .find(|r| r.version == f)?
                .issued_at
        });
        if case.kind == CaseKind::Vulnerability {
            let slot = fix_of_model.entry(model.clone()).or_insert(fix_at);
            *slot = match (*slot, fix_at) {
                (Some(a), Some(b)) => Some(a.max(b)),
                _ => None,
            };
        }
        facts.devices += devices;
        facts.affected.push(AffectedRelease {
            model,
            version,
            devices,
            fixed_in,
            fix_available_at: fix_at,
        });
    }
    if !fix_of_model.is_empty() && fix_of_model.values().all(Option::is_some) {
        facts.fix_available_at = fix_of_model.values().flatten().copied().max();
    }
    facts
}

fn notification_type(kind: CaseKind) -> &'static str {
    match kind {
        CaseKind::Vulnerability => "actively-exploited-vulnerability",
        CaseKind::Incident => "severe-incident",
    }
}

fn products_json(facts: &CaseFacts, case: &Case) -> Value {
    let mut by_model: BTreeMap<&str, (Vec<&str>, BTreeSet<&str>, usize)> = BTreeMap::new();
    for a in &facts.affected {
        let e = by_model.entry(product_of(&a.model)).or_default();
        e.0.push(&a.version);
        if let Some(f) = &a.fixed_in {
            e.1.insert(f);
        }
        e.2 += a.devices;
    }
    let mut out: Vec<Value> = by_model
        .into_iter()
        .map(|(name, (versions, fixed, devices))| {
            json!({
                "name": name,
                "product_class": "default",
                "versions_affected": versions,
                "fixed_in": fixed,
                "devices_known": devices,
            })
        })
        .collect();
    for p in &case.products {
        if !out.iter().any(|v| v["name"] == p.as_str()) {
            out.push(json!({"name": p, "product_class": "default", "versions_affected": [], "fixed_in": [], "devices_known": 0}));
        }
    }
    Value::Array(out)
}

/// The draft of `stage` for `case`, written from the twins and the
/// register: the fields Art. 14 asks for, filled where the twins know them
/// and left for the manufacturer where they do not (`null`, or a text
/// beginning `TO COMPLETE:`).
pub fn draft(
    stage: Stage,
    manufacturer: (&StakeholderId, &str),
    case: &Case,
    facts: &CaseFacts,
) -> Map<String, Value> {
    let mut d = Map::new();
    d.insert(
        "notification_type".into(),
        json!(notification_type(case.kind)),
    );
    d.insert("stage".into(), json!(stage.as_str()));
    d.insert(
        "manufacturer".into(),
        json!({"id": manufacturer.0 .0, "name": manufacturer.1}),
    );
    d.insert("products".into(), products_json(facts, case));
    if let Some(v) = &case.vulnerability {
        let euvd = v.starts_with("EUVD-").then_some(v.as_str());
        let cve = v.starts_with("CVE-").then_some(v.as_str());
        d.insert("vulnerability".into(), json!({"cve": cve, "euvd": euvd}));
    }
    d.insert("member_states".into(), json!(facts.member_states));
    if !facts.unmapped_sites.is_empty() {
        d.insert(
            "sites_without_member_state".into(),
            json!(facts.unmapped_sites),
        );
    }
    let exploit = facts.exploit.as_deref();
    let kev = exploit.and_then(|e| e.kev.first());
    let incident = case.kind == CaseKind::Incident;
    match stage {
        Stage::EarlyWarning => {
            if incident {
                d.insert(
                    "suspected_unlawful_or_malicious".into(),
                    json!("TO COMPLETE: whether the incident is suspected to be caused by unlawful or malicious acts"),
                );
            }
            d.insert("summary".into(), json!(summary(case, facts)));
        }
        Stage::Notification => {
            if incident {
                d.insert("incident_nature".into(), json!(case.evidence));
                d.insert(
                    "initial_assessment".into(),
                    json!("TO COMPLETE: initial assessment of the incident"),
                );
            } else {
                d.insert(
                    "exploit_nature".into(),
                    json!(match kev {
                        Some(k) => format!(
                            "Listed as exploited in the wild on {} ({}){}",
                            k.list,
                            k.date_added,
                            if k.ransomware {
                                "; known to be used in ransomware campaigns"
                            } else {
                                ""
                            }
                        ),
                        None => format!("Reported as actively exploited: {}", case.evidence),
                    }),
                );
                d.insert(
                    "vulnerability_nature".into(),
                    json!({"title": facts.title, "cvss_vector": facts.vector}),
                );
            }
            d.insert(
                "corrective_measures_taken".into(),
                json!(if facts.fixes().is_empty() {
                    "TO COMPLETE: no release fixes it yet; mitigations taken".to_string()
                } else {
                    format!("Security update released: {}", facts.fixes().join(", "))
                }),
            );
            d.insert(
                "user_measures".into(),
                json!(match (facts.fixes().is_empty(), kev) {
                    (false, _) => format!("Install {}", facts.fixes().join(", ")),
                    (true, Some(k)) => k.required_action.clone(),
                    (true, None) => "TO COMPLETE: measures users can take".to_string(),
                }),
            );
            d.insert("sensitivity".into(), json!("TLP:AMBER"));
        }
        Stage::FinalReport => {
            d.insert(
                "description".into(),
                json!(facts
                    .title
                    .clone()
                    .unwrap_or_else(|| format!("TO COMPLETE: {}", case.evidence))),
            );
            d.insert(
                "severity".into(),
                json!({"severity": facts.severity, "cvss_base_score": facts.score, "cvss_vector": facts.vector, "ssvc": facts.ssvc}),
            );
            d.insert(
                "impact".into(),
                json!(format!(
                    "{} device(s) known to run an affected release in {} Member State(s)",
                    facts.devices,
                    facts.member_states.len()
                )),
            );
            if incident {
                d.insert(
                    "root_cause".into(),
                    json!("TO COMPLETE: the type of threat or root cause that likely triggered the incident"),
                );
                d.insert(
                    "mitigations".into(),
                    json!("TO COMPLETE: mitigations applied and ongoing"),
                );
            } else {
                d.insert(
                    "malicious_actors".into(),
                    json!(match exploit {
                        Some(e) if e.ransomware() =>
                            "Known to be used in ransomware campaigns (known-exploited list)",
                        _ => "TO COMPLETE: what is known of the actors exploiting it",
                    }),
                );
                let fixes: BTreeSet<(&str, &str, Option<i64>)> = facts
                    .affected
                    .iter()
                    .filter_map(|a| {
                        Some((
                            product_of(&a.model),
                            a.fixed_in.as_deref()?,
                            a.fix_available_at,
                        ))
                    })
                    .collect();
                let fixes: Vec<Value> = fixes
                    .into_iter()
                    .map(|(product, release, at)| {
                        json!({"product": product, "release": release, "available_at": at.map(rfc3339)})
                    })
                    .collect();
                d.insert("security_update".into(), Value::Array(fixes));
            }
        }
    }
    d
}

fn summary(case: &Case, facts: &CaseFacts) -> String {
    match (&case.kind, &case.vulnerability) {
        (CaseKind::Vulnerability, Some(v)) => format!(
            "{v}{} is actively exploited; it affects {} release(s) of {} ({} device(s) known).",
            facts
                .title
                .as_deref()
                .map(|t| format!(" ({t})"))
                .unwrap_or_default(),
            facts.affected.len(),
            case.products.join(", "),
            facts.devices
        ),
        _ => format!(
            "Severe incident affecting {}: {}",
            case.products.join(", "),
            case.evidence
        ),
    }
}

/// A signed stage as the reporting platform takes it: the report as signed,
/// with the notification type and stage, the manufacturer, the ids and the
/// dates, and where the log proves it.
pub struct Export<'a> {
    /// The manufacturer's id and name.
    pub manufacturer: (&'a StakeholderId, &'a str),
    /// The case.
    pub case: &'a Case,
    /// The stage.
    pub stage: Stage,
    /// The report as signed.
    pub report: &'a Map<String, Value>,
    /// The stage's statement.
    pub submitted: &'a Stamp,
    /// Its deadline.
    pub due_at: Option<i64>,
    /// The statement's SHA-256, hex.
    pub statement_sha256: String,
}

impl Export<'_> {
    /// The JSON.
    pub fn to_json(&self) -> Value {
        let c = self.case;
        let v = c.vulnerability.as_deref();
        json!({
            "schema": EXPORT_SCHEMA,
            "notification_type": notification_type(c.kind),
            "stage": self.stage.as_str(),
            "manufacturer": {"id": self.manufacturer.0 .0, "name": self.manufacturer.1},
            "case": c.id,
            "products": self.report.get("products").cloned().unwrap_or_else(|| json!(c.products)),
            "cve": v.filter(|v| v.starts_with("CVE-")),
            "euvd": v.filter(|v| v.starts_with("EUVD-")),
            "aware_at": c.awareness.as_ref().map(|(_, at)| rfc3339(*at)),
            "submitted_at": self.submitted.at.map(rfc3339),
            "deadline": self.due_at.map(rfc3339),
            "on_time": match (self.submitted.at, self.due_at) {
                (Some(at), Some(due)) => Some(at <= due),
                _ => None,
            },
            "report": self.report,
            "evidence": {
                "log_entry": self.submitted.entry,
                "receipt": format!("/entries/{}", self.submitted.entry),
                "statement_sha256": self.statement_sha256,
            },
        })
    }
}

/// The fix of a vulnerability case as a CSAF 2.0 security advisory
/// (`csaf_security_advisory`): the manufacturer's product tree (affected
/// and fixed versions), the vulnerability with its CVSS v3 score, its
/// exploitation as a threat, and the fix as a vendor fix. `now` dates it.
pub fn csaf_advisory(
    manufacturer: (&StakeholderId, &str),
    case: &Case,
    facts: &CaseFacts,
    now: i64,
) -> Value {
    let vendor = manufacturer.1;
    let mut ids: BTreeMap<(String, String), String> = BTreeMap::new();
    let mut id_of = |product: &str, version: &str| -> String {
        let n = ids.len() + 1;
        ids.entry((product.to_string(), version.to_string()))
            .or_insert_with(|| format!("CSAFPID-{n:04}"))
            .clone()
    };
    let mut affected = Vec::new();
    let mut fixed = BTreeSet::new();
    for a in &facts.affected {
        let product = product_of(&a.model);
        affected.push(id_of(product, &a.version));
        if let Some(f) = &a.fixed_in {
            fixed.insert(id_of(product, f));
        }
    }
    affected.sort();
    affected.dedup();
    let mut by_product: BTreeMap<&str, Vec<(&str, &str)>> = BTreeMap::new();
    for ((product, version), id) in &ids {
        by_product
            .entry(product.as_str())
            .or_default()
            .push((version.as_str(), id.as_str()));
    }
    let branches: Vec<Value> = by_product
        .into_iter()
        .map(|(product, versions)| {
            json!({
                "category": "product_name",
                "name": product,
                "branches": versions.into_iter().map(|(version, id)| json!({
                    "category": "product_version",
                    "name": version,
                    "product": {"name": format!("{vendor} {product} {version}"), "product_id": id},
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    let date = rfc3339(now);
    let vuln_id = case
        .vulnerability
        .clone()
        .unwrap_or_else(|| case.id.clone());
    let mut vulnerability = json!({
        "title": facts.title.clone().unwrap_or_else(|| vuln_id.clone()),
        "product_status": {"known_affected": affected, "fixed": fixed},
        "notes": [{"category": "summary", "text": summary(case, facts)}],
    });
    if vuln_id.starts_with("CVE-") {
        vulnerability["cve"] = json!(vuln_id);
    } else {
        vulnerability["ids"] = json!([{"system_name": "EUVD", "text": vuln_id}]);
    }
    if !fixed.is_empty() {
        vulnerability["remediations"] = json!([{
            "category": "vendor_fix",
            "details": format!("Install {}", facts.fixes().join(", ")),
            "product_ids": affected,
            "date": facts.fix_available_at.map(rfc3339),
        }]);
    }
    if let (Some(vector), Some(score), Some(sev)) = (&facts.vector, facts.score, &facts.severity) {
        if let Some(version) = vector
            .strip_prefix("CVSS:")
            .and_then(|v| v.split('/').next())
            .filter(|v| *v == "3.0" || *v == "3.1")
        {
            vulnerability["scores"] = json!([{
                "cvss_v3": {
                    "version": version,
                    "vectorString": vector,
                    "baseScore": score,
                    "baseSeverity": sev.to_uppercase(),
                },
                "products": affected,
            }]);
        }
    }
    if let Some(k) = facts.exploit.as_deref().and_then(|e| e.kev.first()) {
        vulnerability["threats"] = json!([{
            "category": "exploit_status",
            "details": format!("Exploited in the wild: on the {} list since {}", k.list, k.date_added),
            "product_ids": affected,
        }]);
    }
    json!({
        "document": {
            "category": "csaf_security_advisory",
            "csaf_version": "2.0",
            "title": format!("{vendor}: {}", facts.title.clone().unwrap_or_else(|| vuln_id.clone())),
            "publisher": {
                "category": "vendor",
                "name": vendor,
                "namespace": format!("urn:sectwin:stakeholder:{}", manufacturer.0 .0),
            },
            "distribution": {"tlp": {"label": "WHITE"}},
            "lang": "en",
            "notes": [{"category": "summary", "title": "Summary", "text": summary(case, facts)}],
            "tracking": {
                "id": format!("{}-{}", manufacturer.0 .0, case.id),
                "status": "final",
                "version": "1",
                "initial_release_date": date,
                "current_release_date": date,
                "revision_history": [{"date": date, "number": "1", "summary": "Initial release."}],
                "generator": {"engine": {"name": "sectwin"}},
            },
        },
        "product_tree": {"branches": [{"category": "vendor", "name": vendor, "branches": branches}]},
        "vulnerabilities": [vulnerability],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sites_name_member_states_by_their_first_or_last_word() {
        assert_eq!(member_state("DE-Munich"), Some("DE"));
        assert_eq!(member_state("Plant 4, FR"), Some("FR"));
        assert_eq!(member_state("EL/Athens"), Some("GR"));
        assert_eq!(member_state("Building A"), None);
        assert_eq!(member_state("US-Austin"), None);
        assert_eq!(member_state("de-munich"), None);
    }

    #[test]
    fn rfc3339_is_utc_to_the_second() {
        assert_eq!(rfc3339(1_789_084_800), "2026-09-11T00:00:00Z");
        assert_eq!(rfc3339(1_789_084_800 + 3_723), "2026-09-11T01:02:03Z");
    }

    #[test]
    fn products_are_model_names() {
        assert_eq!(product_of("model:acme/DC-200"), "DC-200");
        assert_eq!(product_of("DC-200"), "DC-200");
    }
}

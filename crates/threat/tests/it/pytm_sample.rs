//! pytm's own sample model (`tm.py` of pytm 1.4.0, its JSON output and
//! findings in `tests/data/pytm-sample/`, see PROVENANCE.md), imported and
//! analyzed with the default library: every finding class pytm reports for
//! it is covered by a finding of a rule the mapping table names (on the same
//! element or flow where the table says "covered"), unless the table says it
//! does not apply; and the import keeps the LLM and agent attributes, PII
//! and classification, data objects as assets, assumptions and controls.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use risk::{Date, DeadlinePolicy};
use threat::analysis::{analyze, Analysis, AnalysisOptions};
use threat::expr::Value;
use threat::import::Imported;
use threat::model::{Classification, ElementType, Model};
use threat::rules::RuleSet;

use crate::mapping::{sample_exceptions, table, Status};

fn sample() -> (Imported, serde_json::Value) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/pytm-sample/tm.json");
    let text = std::fs::read_to_string(path).expect("tm.json");
    let json = serde_json::from_str(&text).expect("JSON");
    (threat::import::pytm(&text).expect("import"), json)
}

fn analysis(m: &Model) -> Analysis {
    let day = Date::parse("2026-09-01").expect("date");
    let rules = RuleSet::default_library().expect("the default library");
    analyze(
        m,
        &rules,
        &AnalysisOptions {
            found: day,
            today: day,
            policy: DeadlinePolicy::default(),
            suppressions: Vec::new(),
        },
    )
}

#[test]
fn every_pytm_finding_class_on_its_sample_is_covered() {
    let (imported, json) = sample();
    let a = analysis(&imported.model);
    // pytm's findings: class → the names of the elements and flows.
    let mut pytm: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in json["findings"].as_array().expect("findings") {
        pytm.entry(f["threat_id"].as_str().expect("threat_id").to_string())
            .or_default()
            .insert(f["target"].as_str().expect("target").to_string());
    }
    assert_eq!(
        pytm.len(),
        60,
        "finding classes pytm 1.4.0 reports for its sample"
    );
    let rows = table("pytm");
    let exceptions = sample_exceptions();
    let ours = |rules: &[String], target: Option<&str>| {
        a.findings
            .iter()
            .any(|f| rules.contains(&f.rule) && target.is_none_or(|t| f.element_name == t))
    };
    let (mut same, mut differently, mut not_applicable) = (0, 0, 0);
    let mut missing = Vec::new();
    for (class, targets) in &pytm {
        let row = rows.get(class).unwrap_or_else(|| panic!("{class}: no row"));
        if exceptions.contains_key(class) {
            // Listed as not applying to the sample: and indeed not found,
            // or the list is longer than it needs to be.
            assert!(
                !ours(&row.rules, None),
                "{class} is covered after all: remove it from the sample's exceptions"
            );
            not_applicable += 1;
            continue;
        }
        match row.status {
            Status::NotApplicable => not_applicable += 1,
            Status::Covered => {
                for t in targets {
                    if !ours(&row.rules, Some(t)) {
                        missing.push(format!("{class} on {t} ({:?})", row.rules));
                    }
                }
                same += 1;
            }
            Status::Differently => {
                if !ours(&row.rules, None) {
                    missing.push(format!("{class} anywhere ({:?})", row.rules));
                }
                differently += 1;
            }
        }
    }
    for class in exceptions.keys() {
        assert!(
            pytm.contains_key(class),
            "{class}: not reported for the sample"
        );
    }
    println!(
        "pytm sample: {} finding classes: {same} covered on the same targets, {differently} covered differently, {not_applicable} not applicable; sectwin: {} findings",
        pytm.len(),
        a.findings.len()
    );
    assert!(missing.is_empty(), "not covered: {missing:#?}");
}

#[test]
fn the_import_keeps_llm_agent_pii_assets_assumptions_and_controls() {
    let (imported, _) = sample();
    let m = &imported.model;
    let el = |name: &str| {
        m.elements
            .iter()
            .find(|e| e.name == name)
            .unwrap_or_else(|| panic!("{name}"))
    };
    let attr = |name: &str, k: &str| el(name).attributes.get(k).cloned();
    assert_eq!(el("AI Writing Assistant").kind, ElementType::Llm);
    assert_eq!(el("Moderation Agent").kind, ElementType::Agent);
    assert_eq!(el("AWS Lambda").kind, ElementType::ServerlessFunction);
    assert_eq!(el("Web Server").kind, ElementType::CloudService);
    for k in ["third_party", "processes_personal_data", "untrusted_input"] {
        assert_eq!(
            attr("AI Writing Assistant", k),
            Some(Value::Bool(true)),
            "{k}"
        );
    }
    assert_eq!(
        attr("Comment Moderation LLM", "third_party"),
        Some(Value::Bool(false))
    );
    assert!(el("Comment Moderation LLM")
        .controls
        .contains(&"content_filtering".to_string()));
    assert_eq!(
        attr("Moderation Agent", "external_tools"),
        Some(Value::Bool(true))
    );
    let web = el("Web Server");
    for c in ["output_encoding", "hardening"] {
        assert!(
            web.controls.contains(&c.to_string()),
            "{c}: {:?}",
            web.controls
        );
    }
    // Clients of the SQL data stores feed SQL.
    assert_eq!(
        attr("Web Server", "interpreters"),
        Some(Value::List(vec![Value::Str("sql".into())]))
    );
    // Data objects are assets; PII stores get an asset of their own.
    let token = m
        .assets
        .iter()
        .find(|a| a.name == "User ID Token")
        .expect("User ID Token asset");
    assert_eq!(token.classification, Classification::Restricted);
    assert_eq!(token.stored_in, ["real-identity-database", "sql-database"]);
    assert!(m
        .assets
        .iter()
        .any(|a| a.name == "Personal data in Real Identity Database"
            && a.classification == Classification::Confidential));
    assert_eq!(m.assets.len(), 12);
    // Assumptions, with the threats pytm excluded under them.
    assert_eq!(m.assumptions.len(), 2);
    assert!(m
        .assumptions
        .iter()
        .any(|a| a.name == "This webserver does not use PHP" && a.description.contains("INP16")));
    // What could not be mapped is said, once per attribute.
    let notes = imported.notes.join("\n");
    for unmapped in [
        "`onAWS` on AWS Lambda",
        "`sourceFiles` on",
        "`maxClassification` on",
    ] {
        assert!(notes.contains(unmapped), "{unmapped}: {notes}");
    }
    // The imported model is a valid model for the strict parser.
    let again = Model::parse(&m.to_yaml().expect("YAML")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(&again, m);
}

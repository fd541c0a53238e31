//! The table mapping pytm's threats and Threagile's risk rules to sectwin's
//! rules (`docs/threat-rule-mapping.md`) is complete and names only rules
//! that exist: every pytm id of the vendored pytm 1.4.0 `threats.json` and
//! every Threagile id of `risk-rules.tsv` has exactly one row, with a known
//! status; covered rows name rules, rows not applicable say why.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use threat::rules::RuleSet;

/// How a pytm threat or Threagile rule maps to sectwin's rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// The same threat under comparable conditions.
    Covered,
    /// Found under other conditions or on another element.
    Differently,
    /// No sectwin rule.
    NotApplicable,
}

/// One row of the table.
#[derive(Debug, Clone)]
pub struct Row {
    pub status: Status,
    pub rules: Vec<String>,
    pub why: String,
}

fn data(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(p)
}

/// The rows of one section ("pytm" or "Threagile") by id; a repeated id
/// is an error.
pub fn table(section: &str) -> BTreeMap<String, Row> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/threat-rule-mapping.md");
    let text = std::fs::read_to_string(&path).expect("docs/threat-rule-mapping.md");
    let mut out = BTreeMap::new();
    let mut inside = false;
    for line in text.lines() {
        if let Some(h) = line.strip_prefix("## ") {
            inside = h.trim() == section;
            continue;
        }
        if !inside || !line.starts_with("| ") {
            continue;
        }
        let cells: Vec<&str> = line.trim_matches('|').split(" | ").map(str::trim).collect();
        let [id, _title, status, rules, why] = cells.as_slice() else {
            panic!("a row has not 5 cells: {line}");
        };
        if id.ends_with(" id") || id.starts_with("---") {
            continue;
        }
        let status = match *status {
            "covered" => Status::Covered,
            "covered differently" => Status::Differently,
            "not applicable" => Status::NotApplicable,
            other => panic!("{id}: unknown status {other:?}"),
        };
        let rules = rules
            .split(", ")
            .map(|r| r.trim_matches('`').to_string())
            .filter(|r| !r.is_empty() && r != "–")
            .collect();
        let row = Row {
            status,
            rules,
            why: why.to_string(),
        };
        assert!(
            out.insert(id.to_string(), row).is_none(),
            "{id} has two rows"
        );
    }
    out
}

/// The classes pytm reports for its sample that do not apply to it
/// (section "pytm's sample"): id → why.
pub fn sample_exceptions() -> BTreeMap<String, String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/threat-rule-mapping.md");
    let text = std::fs::read_to_string(&path).expect("docs/threat-rule-mapping.md");
    let mut out = BTreeMap::new();
    let mut inside = false;
    for line in text.lines() {
        if let Some(h) = line.strip_prefix("## ") {
            inside = h.trim() == "pytm's sample";
            continue;
        }
        if !inside || !line.starts_with("| ") {
            continue;
        }
        let cells: Vec<&str> = line.trim_matches('|').split(" | ").map(str::trim).collect();
        let [id, _on, why] = cells.as_slice() else {
            panic!("a row has not 3 cells: {line}");
        };
        if *id != "pytm id" && !id.starts_with("---") {
            out.insert(id.to_string(), why.to_string());
        }
    }
    out
}

#[test]
fn every_pytm_threat_has_one_row() {
    let text = std::fs::read_to_string(data("pytm-sample/threats.json")).expect("threats.json");
    let threats: Vec<serde_json::Value> = serde_json::from_str(&text).expect("JSON");
    let ids: BTreeSet<String> = threats
        .iter()
        .map(|t| t["SID"].as_str().expect("SID").to_string())
        .collect();
    assert_eq!(ids.len(), 114, "pytm 1.4.0 has 114 threats");
    let rows: BTreeSet<String> = table("pytm").into_keys().collect();
    assert_eq!(rows, ids, "pytm rows and threats.json differ");
}

#[test]
fn every_threagile_rule_has_one_row() {
    let text = std::fs::read_to_string(data("threagile/risk-rules.tsv")).expect("risk-rules.tsv");
    let ids: BTreeSet<String> = text
        .lines()
        .skip(1)
        .map(|l| l.split('\t').next().expect("id").to_string())
        .collect();
    assert_eq!(ids.len(), 42, "Threagile's built-in rules");
    let rows: BTreeSet<String> = table("Threagile").into_keys().collect();
    assert_eq!(rows, ids, "Threagile rows and risk-rules.tsv differ");
}

#[test]
fn named_rules_exist_and_every_row_says_how_or_why() {
    let library = RuleSet::default_library().expect("the default library");
    let known: BTreeSet<&str> = library.rules.iter().map(|r| r.def.id.as_str()).collect();
    for section in ["pytm", "Threagile"] {
        for (id, row) in table(section) {
            for r in &row.rules {
                assert!(known.contains(r.as_str()), "{section} {id}: no rule {r}");
            }
            match row.status {
                Status::Covered | Status::Differently => {
                    assert!(!row.rules.is_empty(), "{section} {id}: covered by nothing")
                }
                Status::NotApplicable => {
                    assert!(
                        row.rules.is_empty(),
                        "{section} {id}: not applicable, yet rules"
                    )
                }
            }
            assert!(row.why.len() >= 6, "{section} {id}: say how or why");
        }
    }
}

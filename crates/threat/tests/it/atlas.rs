//! Every MITRE ATLAS technique the default rule library cites exists in the
//! ATLAS technique list (`testdata/threats/mitre-atlas-techniques.tsv`,
//! ATLAS v5.6.0, vendored from mitre-atlas/atlas-data), and a sub-technique
//! is cited only where its parent exists: a typo or a retired id in a rule's
//! `references` fails here.

use std::collections::BTreeMap;
use std::path::PathBuf;

use threat::rules::RuleSet;

/// The technique list: id → parent technique (empty for a technique).
fn techniques() -> BTreeMap<String, String> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/threats/mitre-atlas-techniques.tsv");
    let text = std::fs::read_to_string(&path).expect("the vendored ATLAS list");
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("id\tname\ttactics\tparent"));
    lines
        .map(|l| {
            let fields: Vec<&str> = l.split('\t').collect();
            assert_eq!(fields.len(), 4, "{l}");
            let (id, parent) = (fields.first(), fields.get(3));
            (
                id.expect("id").to_string(),
                parent.expect("parent").to_string(),
            )
        })
        .collect()
}

#[test]
fn cited_atlas_techniques_exist() {
    let atlas = techniques();
    assert_eq!(atlas.len(), 170, "ATLAS v5.6.0 techniques");
    let rules = RuleSet::default_library().expect("the default library");
    let mut cited = 0;
    for rule in &rules.rules {
        for r in &rule.def.references {
            let Some(id) = r.strip_prefix("MITRE ATLAS ") else {
                continue;
            };
            let parent = atlas
                .get(id)
                .unwrap_or_else(|| panic!("rule {}: {id} is not an ATLAS technique", rule.def.id));
            assert!(
                parent.is_empty() || atlas.contains_key(parent),
                "{id}: parent {parent} missing"
            );
            cited += 1;
        }
    }
    assert!(cited >= 15, "only {cited} ATLAS references found");
}

//! Every rule of the default library says what to do and where it comes
//! from: at least one mitigation and one CWE, well-formed CWE and CAPEC ids,
//! OWASP Top 10 for LLM Applications ids among LLM01..LLM10 of 2025, and
//! every LLM rule cites both an OWASP LLM id and a MITRE ATLAS technique
//! (checked against the ATLAS list in `atlas.rs`).

use threat::rules::RuleSet;

fn numbered(r: &str, prefix: &str) -> bool {
    r.strip_prefix(prefix).is_some_and(|n| {
        !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) && !n.starts_with('0')
    })
}

#[test]
fn every_rule_has_mitigations_and_well_formed_references() {
    let rules = RuleSet::default_library().expect("the default library");
    assert!(rules.rules.len() >= 90, "{}", rules.rules.len());
    for rule in &rules.rules {
        let d = &rule.def;
        assert!(!d.mitigations.is_empty(), "{}: no mitigation", d.id);
        assert!(
            d.references.iter().any(|r| numbered(r, "CWE-")),
            "{}: no CWE",
            d.id
        );
        for r in &d.references {
            if r.starts_with("CWE") {
                assert!(numbered(r, "CWE-"), "{}: {r}", d.id);
            }
            if r.starts_with("CAPEC") {
                assert!(numbered(r, "CAPEC-"), "{}: {r}", d.id);
            }
            if let Some(id) = r.strip_prefix("OWASP LLM") {
                let ok = id
                    .strip_suffix(":2025")
                    .and_then(|n| n.parse::<u8>().ok())
                    .is_some_and(|n| (1..=10).contains(&n) && id.len() == 7);
                assert!(ok, "{}: {r} is not LLM01:2025..LLM10:2025", d.id);
            }
        }
        if rule.file == "llm.yaml" {
            assert!(
                d.references.iter().any(|r| r.starts_with("OWASP LLM")),
                "{}: no OWASP LLM id",
                d.id
            );
            assert!(
                d.references
                    .iter()
                    .any(|r| r.starts_with("MITRE ATLAS AML.T")),
                "{}: no ATLAS technique",
                d.id
            );
        }
    }
    // The LLM pack covers the whole OWASP Top 10 for LLM Applications 2025.
    for n in 1..=10 {
        let id = format!("OWASP LLM{n:02}:2025");
        assert!(
            rules.rules.iter().any(|r| r.def.references.contains(&id)),
            "{id} is cited by no rule"
        );
    }
}

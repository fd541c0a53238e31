//! Strict model parsing, data-driven: every `tests/data/broken-models/*.yaml`
//! fails with exactly the error (`line:col: message`) in the `.err` file
//! beside it; a user's rule file and a model's `attribute_names` extend the
//! attribute vocabulary; the typo of issue 20 (`default_password` for
//! `default_credentials`) is an error instead of a critical finding lost.

use std::path::Path;

use threat::model::Model;
use threat::rules::RuleSet;
use threat::vocabulary::Vocabulary;

#[test]
fn every_broken_model_fails_with_its_expected_error() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/broken-models");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("broken-models")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 10, "{files:?}");
    let mut wrong = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).expect("model");
        let want = std::fs::read_to_string(f.with_extension("err"))
            .unwrap_or_else(|_| panic!("{}: no .err beside it", f.display()));
        let got = match Model::parse(&text) {
            Ok(_) => "parsed without error".to_string(),
            Err(e) => e.to_string(),
        };
        if got != want.trim_end() {
            wrong.push(format!(
                "{}:\n  want {}\n  got  {got}",
                f.display(),
                want.trim_end()
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

const LOBBY: &str = "title: t\nelements:\n  - id: lobby\n    name: Lobby display\n    type: device\n    attributes: {colour: red}\n";

#[test]
fn users_rules_and_a_models_attribute_names_extend_the_vocabulary() {
    let e = Model::parse(LOBBY).expect_err("colour is unknown");
    assert!(
        e.message.contains("unknown element attribute `colour`"),
        "{e}"
    );
    let mut rules = RuleSet::default_library().expect("the default library");
    rules
        .add_file(
            "mine.yaml",
            "rules:\n  - id: MINE-COLOUR\n    title: Red displays\n    stride: tampering\n    targets: [device]\n    condition: 'element.colour == \"red\"'\n    description: d\n    cvss: CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:L/A:N\n",
        )
        .expect("rule file");
    let vocabulary = Vocabulary::for_rules(&rules);
    let m = Model::parse_with(LOBBY, &vocabulary).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(m.elements.len(), 1);
    let declared = format!("attribute_names: [colour]\n{LOBBY}");
    Model::parse(&declared).unwrap_or_else(|e| panic!("{e}"));
    // Lenient parsing (documents written under other rule sets) still reads it.
    Model::parse_lenient(LOBBY).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn a_typo_in_the_reference_model_is_an_error_not_a_lost_critical_finding() {
    let text =
        threat::REFERENCE_MODEL.replacen("default_credentials: true", "default_password: true", 1);
    assert_ne!(text, threat::REFERENCE_MODEL);
    let e = Model::parse(&text).expect_err("typo");
    let line = text
        .lines()
        .position(|l| l.contains("default_password"))
        .expect("line")
        + 1;
    assert_eq!(e.position.map(|p| p.0), Some(line), "{e}");
    assert!(
        e.message.ends_with(
            "unknown element attribute `default_password`; did you mean `default_credentials`?"
        ),
        "{e}"
    );
}

#[test]
fn every_attribute_of_the_tool_is_documented_in_the_schema_and_the_guide() {
    let schema = threat::model::model_schema();
    let guide = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/threat-modeling.md"),
    )
    .expect("docs/threat-modeling.md");
    for a in threat::vocabulary::TOOL_ATTRIBUTES {
        assert!(
            schema.contains(&format!("`{}`", a.name)),
            "{}: not in the schema's doc comments",
            a.name
        );
        assert!(
            guide.contains(&format!("| `{}` |", a.name)),
            "{}: not in docs/threat-modeling.md",
            a.name
        );
    }
}

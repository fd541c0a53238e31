//! The Markdown and HTML reports of the reference model: the inventory,
//! the assumptions, the diagram and the findings grouped by rule.

use threat::analysis::{analyze, AnalysisOptions};
use threat::model::{Assumption, Model};
use threat::output;
use threat::rules::RuleSet;

fn options() -> AnalysisOptions {
    let day = risk::Date::parse("2026-12-07").expect("date");
    AnalysisOptions {
        found: day,
        today: day,
        policy: risk::DeadlinePolicy::default(),
        suppressions: Vec::new(),
    }
}

fn reference() -> (Model, threat::analysis::Analysis) {
    let mut model = Model::parse(threat::REFERENCE_MODEL).expect("the reference model parses");
    model.assumptions.push(Assumption {
        name: "Badge readers are tamper-evident".into(),
        description: "Housings are sealed; a broken seal is seen on the weekly round.".into(),
    });
    let rules = RuleSet::default_library().expect("the default library loads");
    let analysis = analyze(&model, &rules, &options());
    (model, analysis)
}

#[test]
fn the_markdown_report_has_the_inventory_the_diagram_and_one_row_per_rule() {
    let (model, analysis) = reference();
    let today = risk::Date::parse("2026-12-07").expect("date");
    let md = output::markdown(&model, &analysis, today);
    for section in [
        "## Assumptions",
        "## Data-flow diagram",
        "```mermaid\nflowchart LR",
        "## Elements",
        "## Data flows",
        "## Findings",
        "## Details",
    ] {
        assert!(md.contains(section), "no {section:?} in\n{md}");
    }
    assert!(md.contains("**Badge readers are tamper-evident**: Housings are sealed"));
    // Every element and every flow is in the inventory, by id.
    for e in &model.elements {
        assert!(
            md.contains(&format!("| {} | {} |", e.id, e.name)),
            "{}",
            e.id
        );
    }
    for f in &model.flows {
        assert!(
            md.contains(&format!("| {} | {} |", f.id, f.name)),
            "{}",
            f.id
        );
    }
    // One row per rule: a rule that fires on several targets is one row
    // naming them all, and each of its findings is listed in its details.
    let rows = |rule: &str| {
        md.lines()
            .filter(|l| l.starts_with(&format!("| {rule} |")))
            .count()
    };
    let mut per_rule: std::collections::BTreeMap<&str, Vec<&str>> = Default::default();
    for f in &analysis.findings {
        per_rule
            .entry(f.rule.as_str())
            .or_default()
            .push(f.element_name.as_str());
    }
    let (rule, targets) = per_rule
        .iter()
        .max_by_key(|(_, t)| t.len())
        .expect("findings");
    assert!(targets.len() > 1, "a rule fires on several targets");
    assert_eq!(rows(rule), 1, "{rule} is one row");
    assert_eq!(
        per_rule.len(),
        md.lines().filter(|l| l.starts_with("### `")).count()
    );
    for f in &analysis.findings {
        assert!(md.contains(&format!("- `{}` ", f.id)), "{} listed", f.id);
    }
    // The diagram: a subgraph per non-empty boundary, a node per element,
    // an edge per flow.
    let mermaid = output::mermaid(&model);
    let subgraphs = mermaid.matches("subgraph ").count();
    assert_eq!(
        subgraphs,
        model
            .boundaries
            .iter()
            .filter(|b| !b.elements.is_empty())
            .count()
    );
    assert_eq!(mermaid.matches(" -->|").count(), model.flows.len());
    for i in 0..model.elements.len() {
        let node = format!("e{i}");
        assert_eq!(
            mermaid
                .lines()
                .filter(|l| l.trim_start().starts_with(&format!("{node}["))
                    || l.trim_start().starts_with(&format!("{node}("))
                    || l.trim_start().starts_with(&format!("{node}{{")))
                .count(),
            1,
            "element {i} is drawn once:\n{mermaid}"
        );
    }
}

#[test]
fn the_html_report_has_the_same_sections_and_escapes_what_it_shows() {
    let (mut model, _) = reference();
    model.assumptions.push(Assumption {
        name: "<script>alert(1)</script>".into(),
        description: String::new(),
    });
    let rules = RuleSet::default_library().expect("the default library loads");
    let analysis = analyze(&model, &rules, &options());
    let today = risk::Date::parse("2026-12-07").expect("date");
    let html = output::html(&model, &analysis, today);
    for section in [
        "<h2>Assumptions</h2>",
        "<h2>Data-flow diagram</h2>",
        "<svg",
        "<h2>Elements</h2>",
        "<h2>Data flows</h2>",
        "<h2>Findings</h2>",
        "<h2>Details</h2>",
    ] {
        assert!(html.contains(section), "no {section:?}");
    }
    assert!(!html.contains("<script>"));
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
}

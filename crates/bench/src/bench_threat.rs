//! `sectwin-bench threat`: threat-analysis time for models the size of
//! pytm's sample (the committed pytm imports: our IoT model and pytm's own
//! sample, 8 elements and 11 flows each) and for a
//! generated 10,000-element / 30,000-flow model (median of N runs each), and
//! the reference model's findings and removed-by-controls counts per STRIDE
//! category. A benchmark, not a test: nothing here asserts a time.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use risk::{Date, DeadlinePolicy};
use threat::analysis::{analyze, Analysis, AnalysisOptions};
use threat::expr::Value;
use threat::model::{Boundary, Classification, Element, ElementType, Flow, Model};
use threat::rules::{RuleSet, Stride};

/// The pytm-sample-size model: our own pytm script's JSON output (see
/// crates/threat/tests/data/PROVENANCE.md), embedded.
const PYTM_SAMPLE: &str = include_str!("../../threat/tests/data/pytm/tm.json");
/// pytm's own sample model (`tm.py` of pytm 1.4.0: a web comment system with
/// two LLMs and an agent), as pytm 1.4.0 writes it with `--json`.
const PYTM_OWN_SAMPLE: &str = include_str!("../../threat/tests/data/pytm-sample/tm.json");

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

fn time(
    model: &Model,
    rules: &RuleSet,
    options: &AnalysisOptions,
    runs: usize,
) -> (Duration, Analysis) {
    let mut times = Vec::with_capacity(runs);
    let mut last = None;
    for _ in 0..runs.max(1) {
        let t = Instant::now();
        let a = analyze(model, rules, options);
        times.push(t.elapsed());
        last = Some(a);
    }
    (
        median(times),
        last.unwrap_or_else(|| analyze(model, rules, options)),
    )
}

/// A synthetic model: `elements` elements of every type in equal shares,
/// `flows` flows between pseudo-random pairs, one boundary per 100 elements,
/// and controls on every other element, so that both hits and
/// removed-by-controls paths run.
pub fn generated(elements: usize, flows: usize) -> Model {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let types = ElementType::ALL;
    let controls = [
        "device_identity",
        "secure_boot",
        "audit_logging",
        "least_privilege",
        "rate_limiting",
    ];
    let els: Vec<Element> = (0..elements)
        .map(|i| {
            let kind = types
                .get(i % types.len())
                .copied()
                .unwrap_or(ElementType::Process);
            let mut attributes = BTreeMap::new();
            attributes.insert("ota_updates".into(), Value::Bool(i % 3 == 0));
            attributes.insert("debug_port".into(), Value::Bool(i % 4 == 0));
            attributes.insert("physically_accessible".into(), Value::Bool(i % 5 == 0));
            attributes.insert("inference_api".into(), Value::Bool(i % 2 == 0));
            Element {
                id: format!("e{i}"),
                name: format!("Element {i}"),
                kind,
                description: String::new(),
                device_model: None,
                controls: if i % 2 == 0 {
                    controls.iter().map(|c| c.to_string()).collect()
                } else {
                    Vec::new()
                },
                attributes,
            }
        })
        .collect();
    let n = elements.max(1) as u64;
    let fls: Vec<Flow> = (0..flows)
        .map(|i| Flow {
            id: format!("f{i}"),
            name: format!("Flow {i}"),
            from: format!("e{}", next() % n),
            to: format!("e{}", next() % n),
            protocol: "MQTT".into(),
            port: Some(8883),
            authentication: if i % 3 == 0 {
                "none".into()
            } else {
                "mtls".into()
            },
            encrypted: i % 2 == 0,
            classification: if i % 4 == 0 {
                Classification::Confidential
            } else {
                Classification::Internal
            },
            controls: Vec::new(),
            crosses_boundary: None,
            attributes: BTreeMap::new(),
        })
        .collect();
    let boundaries = (0..elements.div_ceil(100))
        .map(|b| Boundary {
            id: format!("b{b}"),
            name: format!("Boundary {b}"),
            description: String::new(),
            elements: (b * 100..((b + 1) * 100).min(elements))
                .map(|i| format!("e{i}"))
                .collect(),
        })
        .collect();
    Model {
        title: "generated".into(),
        elements: els,
        flows: fls,
        boundaries,
        ..Model::default()
    }
}

/// Runs the benchmark.
pub fn run(runs: usize, elements: usize, flows: usize) -> Result<()> {
    let rules = RuleSet::default_library().map_err(|e| anyhow::anyhow!("{e}"))?;
    let day = Date::parse("2026-09-01").context("date")?;
    let options = AnalysisOptions {
        found: day,
        today: day,
        policy: DeadlinePolicy::default(),
        suppressions: Vec::new(),
    };
    let pytm = threat::import::pytm(PYTM_SAMPLE)
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .model;
    let pytm_own = threat::import::pytm(PYTM_OWN_SAMPLE)
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .model;
    let big = generated(elements, flows);
    let reference = Model::parse(threat::REFERENCE_MODEL).map_err(|e| anyhow::anyhow!("{e}"))?;
    println!(
        "threat analysis, {} rules, median of {runs} runs",
        rules.rules.len()
    );
    println!(
        "{:<40} {:>9} {:>7} {:>12} {:>9} {:>12}",
        "MODEL", "ELEMENTS", "FLOWS", "EVALUATIONS", "FINDINGS", "MEDIAN"
    );
    for (name, model, runs) in [
        ("pytm-sized IoT model (imported)", &pytm, runs),
        ("pytm's own sample (imported)", &pytm_own, runs),
        ("reference (smart building)", &reference, runs),
        ("generated", &big, runs.min(11)),
    ] {
        let (t, a) = time(model, &rules, &options, runs);
        println!(
            "{:<40} {:>9} {:>7} {:>12} {:>9} {:>9.3} ms",
            name,
            model.elements.len(),
            model.flows.len(),
            a.evaluations,
            a.findings.len(),
            t.as_secs_f64() * 1000.0
        );
    }
    let parse_start = Instant::now();
    let yaml = big.to_yaml().map_err(|e| anyhow::anyhow!("{e}"))?;
    let serialize = parse_start.elapsed();
    let parse_start = Instant::now();
    Model::parse(&yaml).map_err(|e| anyhow::anyhow!("{e}"))?;
    println!(
        "generated model as YAML: {:.1} MB, written in {:.0} ms, parsed and validated in {:.0} ms",
        yaml.len() as f64 / 1e6,
        serialize.as_secs_f64() * 1000.0,
        parse_start.elapsed().as_secs_f64() * 1000.0
    );
    let a = analyze(&reference, &rules, &options);
    let per = a.per_stride();
    let removed = a.removed_per_stride();
    println!("\nreference model: findings and threats removed by controls in place");
    println!(
        "{:<24} {:>9} {:>20}",
        "STRIDE", "FINDINGS", "REMOVED BY CONTROLS"
    );
    for s in Stride::ALL {
        println!(
            "{:<24} {:>9} {:>20}",
            s.as_str(),
            per.get(&s).copied().unwrap_or(0),
            removed.get(&s).copied().unwrap_or(0)
        );
    }
    println!(
        "{:<24} {:>9} {:>20}",
        "total",
        a.findings.len(),
        a.removed_by_controls.len()
    );
    Ok(())
}

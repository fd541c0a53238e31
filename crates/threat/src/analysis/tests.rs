//! Analysis tests: stable ids under reordering and unrelated additions,
//! suppressions with expiry, removed-by-controls accounting, diff, the
//! reference model, and the importers on the committed real samples.

use super::*;
use crate::model::Model;
use crate::rules::RuleSet;

fn d(s: &str) -> Date {
    Date::parse(s).expect("date")
}

fn opts(today: &str) -> AnalysisOptions {
    AnalysisOptions {
        found: d("2026-09-01"),
        today: d(today),
        policy: DeadlinePolicy::default(),
        suppressions: Vec::new(),
    }
}

fn lib() -> RuleSet {
    RuleSet::default_library().unwrap_or_else(|e| panic!("{e}"))
}

fn reference() -> Model {
    Model::parse(crate::REFERENCE_MODEL).unwrap_or_else(|e| panic!("{e}"))
}

fn ids(a: &Analysis) -> BTreeSet<String> {
    a.findings.iter().map(|f| f.id.clone()).collect()
}

#[test]
fn finding_ids_are_stable_and_well_formed() {
    let id = finding_id("IOT-DEBUG-PORT", "camera");
    assert_eq!(id, finding_id("IOT-DEBUG-PORT", "camera"));
    assert_ne!(id, finding_id("IOT-DEBUG-PORT", "camera2"));
    assert_ne!(finding_id("A", "BC"), finding_id("AB", "C"));
    assert_eq!(id.len(), 2 + FINDING_ID_CHARS);
    assert!(id
        .chars()
        .skip(2)
        .all(|c| c.is_ascii_uppercase() || ('2'..='7').contains(&c)));
}

#[test]
fn ids_survive_reordering_and_unrelated_additions() {
    let rules = lib();
    let base = reference();
    let a = analyze(&base, &rules, &opts("2026-09-01"));
    let mut shuffled = base.clone();
    shuffled.elements.reverse();
    shuffled.flows.reverse();
    shuffled.boundaries.reverse();
    let b = analyze(&shuffled, &rules, &opts("2026-09-01"));
    assert_eq!(ids(&a), ids(&b));
    let mut grown = base.clone();
    grown.elements.insert(
        0,
        crate::model::Element {
            id: "lobby-display".into(),
            name: "Lobby display".into(),
            kind: crate::model::ElementType::Device,
            description: String::new(),
            device_model: None,
            controls: Vec::new(),
            attributes: BTreeMap::new(),
        },
    );
    let c = analyze(&grown, &rules, &opts("2026-09-01"));
    assert!(ids(&a).is_subset(&ids(&c)));
    assert!(c.findings.iter().any(|f| f.element == "lobby-display"));
}

#[test]
fn the_reference_model_yields_findings_in_every_category_and_controls_remove_some() {
    let a = analyze(&reference(), &lib(), &opts("2026-09-01"));
    let per = a.per_stride();
    for (s, n) in &per {
        assert!(*n > 0, "no {s} finding");
    }
    assert!(
        a.removed_by_controls.len() > a.findings.len(),
        "{}",
        a.removed_by_controls.len()
    );
    let has = |rule: &str, el: &str| a.findings.iter().any(|f| f.rule == rule && f.element == el);
    // The camera ships with a default password; the gateway does not.
    assert!(has("IOT-DEFAULT-CREDENTIALS", "camera"));
    assert!(!has("IOT-DEFAULT-CREDENTIALS", "gateway"));
    // Controls in place remove threats: the door controller's debug port is fused off.
    assert!(!has("IOT-DEBUG-PORT", "door-controller"));
    assert!(a
        .removed_by_controls
        .iter()
        .any(|r| r.rule == "IOT-DEBUG-PORT" && r.element == "door-controller"));
    assert!(has("AI-POISONED-SOURCE", "public-dataset"));
    assert!(has("STRIDE-I-FLOW-LOCAL", "camera-stream"));
    let camera = a
        .findings
        .iter()
        .find(|f| f.element == "camera")
        .expect("camera finding");
    assert_eq!(camera.device_model.as_deref(), Some("acme/CAM-7"));
}

#[test]
fn deadlines_follow_the_policy_and_gate_on_today() {
    let model = reference();
    let rules = lib();
    let before = analyze(&model, &rules, &opts("2026-09-01"));
    assert_eq!(before.overdue().count(), 0);
    let high = before
        .findings
        .iter()
        .find(|f| f.risk_level == RiskLevel::High)
        .expect("a high finding");
    assert_eq!(high.deadline.date, Some(d("2026-09-01")));
    let medium = before
        .findings
        .iter()
        .find(|f| f.risk_level == RiskLevel::Medium)
        .expect("a medium finding");
    assert_eq!(medium.deadline.date, Some(d("2026-11-30")));
    let after = analyze(&model, &rules, &opts("2026-09-02"));
    assert!(after.overdue().count() > 0);
    assert!(after.overdue().all(|f| f.risk_level == RiskLevel::High));
}

#[test]
fn suppressions_hold_until_they_expire() {
    let model = reference();
    let rules = lib();
    let target = finding_id("IOT-DEFAULT-CREDENTIALS", "camera");
    let by_id = Suppression {
        finding: Some(target.clone()),
        rule: None,
        element: None,
        reason: "replaced in camera firmware 7.2 (rollout in progress)".into(),
        expires: d("2026-10-01"),
    };
    let by_rule = Suppression {
        finding: None,
        rule: Some("IOT-DEBUG-PORT".into()),
        element: Some("camera".into()),
        reason: "UART pads removed in hardware rev C".into(),
        expires: d("2026-09-15"),
    };
    let unused = Suppression {
        finding: Some("T-AAAAAAAAAAAAAAAA".into()),
        rule: None,
        element: None,
        reason: "stale".into(),
        expires: d("2030-01-01"),
    };
    let mut o = opts("2026-09-10");
    o.suppressions = vec![by_id.clone(), by_rule.clone(), unused.clone()];
    let a = analyze(&model, &rules, &o);
    let status = |a: &Analysis, rule: &str| {
        a.findings
            .iter()
            .find(|f| f.rule == rule && f.element == "camera")
            .map(|f| f.status.clone())
    };
    assert!(matches!(
        status(&a, "IOT-DEFAULT-CREDENTIALS"),
        Some(FindingStatus::Suppressed { .. })
    ));
    assert!(matches!(
        status(&a, "IOT-DEBUG-PORT"),
        Some(FindingStatus::Suppressed { .. })
    ));
    assert!(a
        .findings
        .iter()
        .filter(|f| f.id == target)
        .all(|f| !f.overdue));
    assert_eq!(a.unused_suppressions, vec![unused.clone()]);
    assert!(a.expired_suppressions.is_empty());
    // On 2026-09-20 the rule+element suppression has expired: ignored and reported.
    o.today = d("2026-09-20");
    let b = analyze(&model, &rules, &o);
    assert_eq!(status(&b, "IOT-DEBUG-PORT"), Some(FindingStatus::Open));
    assert_eq!(b.expired_suppressions, vec![by_rule]);
}

#[test]
fn diff_reports_new_resolved_and_changed() {
    let rules = lib();
    let old = reference();
    let mut new = old.clone();
    // Fix: the camera gets unique credentials; regress: the RTSP stream goes to the cloud.
    if let Some(cam) = new.elements.iter_mut().find(|e| e.id == "camera") {
        cam.controls.push("unique_credentials".into());
        cam.name = "Entrance camera".into();
    }
    if let Some(f) = new.flows.iter_mut().find(|f| f.id == "camera-stream") {
        f.to = "cloud-backend".into();
    }
    let a = analyze(&old, &rules, &opts("2026-09-01"));
    let b = analyze(&new, &rules, &opts("2026-09-01"));
    let dd = diff(&a, &b);
    assert!(dd
        .resolved
        .iter()
        .any(|f| f.rule == "IOT-DEFAULT-CREDENTIALS" && f.element == "camera"));
    assert!(dd
        .resolved
        .iter()
        .any(|f| f.rule == "STRIDE-I-FLOW-LOCAL" && f.element == "camera-stream"));
    assert!(dd
        .new
        .iter()
        .any(|f| f.rule == "STRIDE-I-FLOW-BOUNDARY" && f.element == "camera-stream"));
    assert!(dd
        .changed
        .iter()
        .any(|c| c.new.element == "camera" && c.fields == vec!["element_name".to_string()]));
    assert!(diff(&a, &a).is_empty());
}

#[test]
fn model_errors_carry_line_numbers() {
    let good = crate::REFERENCE_MODEL;
    for (from, to, line_of, needle) in [
        (
            "type: gateway\n",
            "type: gatewy\n",
            "type: gatewy",
            "unknown variant",
        ),
        (
            "to: update-server,",
            "to: update-srv,",
            "to: update-srv",
            "unknown element",
        ),
        (
            "controls: [model_signing, inference_watchdog]",
            "controls: [model_signing, inference_watchdg]",
            "inference_watchdg",
            "catalogue",
        ),
        (
            "  - id: camera\n",
            "  - id: gateway\n",
            "  - id: gateway",
            "duplicate id",
        ),
        (
            "device_model: acme/GW-3",
            "device_model: GW-3",
            "device_model: GW-3",
            "manufacturer/model",
        ),
    ] {
        assert!(good.contains(from), "{from}");
        let text = good.replacen(from, to, 1);
        let e = Model::parse(&text).expect_err(to);
        // A duplicate is reported where it occurs the second time, hence the last line.
        let want = text
            .lines()
            .collect::<Vec<_>>()
            .iter()
            .rposition(|l| l.contains(line_of))
            .map(|i| i + 1);
        assert_eq!(e.position.map(|p| p.0), want, "{to}: {e}");
        assert!(e.message.contains(needle), "{to}: {e}");
    }
}

#[test]
fn pytm_sample_imports() {
    let imported = crate::import::pytm(include_str!("../../tests/data/pytm/tm.json"))
        .unwrap_or_else(|e| panic!("{e}"));
    let m = &imported.model;
    assert_eq!(m.elements.len(), 8);
    assert_eq!(m.flows.len(), 11);
    assert_eq!(m.boundaries.len(), 3);
    let upload = m
        .flows
        .iter()
        .find(|f| f.name == "Telemetry upload")
        .expect("flow");
    assert!(upload.encrypted);
    assert_eq!(upload.port, Some(443));
    assert!(imported
        .notes
        .iter()
        .any(|n| n.contains("findings generated by pytm")));
    let again = Model::parse(&m.to_yaml().expect("yaml")).expect("round trip");
    assert_eq!(&again, m);
    let a = analyze(m, &lib(), &opts("2026-09-01"));
    assert!(!a.findings.is_empty());
}

#[test]
fn threat_dragon_sample_imports() {
    let imported = crate::import::threat_dragon(include_str!(
        "../../tests/data/threat-dragon/iot-device.json"
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    let m = &imported.model;
    assert_eq!(m.elements.len(), 11);
    assert_eq!(m.flows.len(), 14);
    // The "Internet" curve separates the browser from the web site, and the
    // IoT device from the cloud API.
    let crossing = |from: &str, to: &str| {
        m.flows
            .iter()
            .find(|f| f.from == from && f.to == to)
            .and_then(|f| f.crosses_boundary)
    };
    assert_eq!(crossing("browser", "web-site"), Some(true));
    assert_eq!(crossing("iot-device", "cloud-api"), Some(true));
    assert_eq!(crossing("user", "browser"), Some(false));
    assert!(imported
        .notes
        .iter()
        .any(|n| n.contains("4 threats recorded")));
    let again = Model::parse(&m.to_yaml().expect("yaml")).expect("round trip");
    assert_eq!(&again, m);
}

#[test]
fn the_schema_describes_the_model() {
    let schema: serde_json::Value =
        serde_json::from_str(&crate::model::model_schema()).expect("schema JSON");
    let props = schema.get("properties").expect("properties");
    for k in [
        "title",
        "elements",
        "flows",
        "boundaries",
        "suppressions",
        "target_of_evaluation",
    ] {
        assert!(props.get(k).is_some(), "{k} missing");
    }
}

#[test]
fn the_gate_counts_open_findings_at_or_above_the_threshold_not_in_the_baseline() {
    let rules = lib();
    let old = reference();
    let a = analyze(&old, &rules, &opts("2026-09-01"));
    let critical = gate(&a, Severity::Critical, None);
    assert!(critical
        .iter()
        .any(|f| f.rule == "IOT-DEFAULT-CREDENTIALS" && f.element == "camera"));
    assert!(critical.iter().all(|f| f.severity == Severity::Critical));
    assert!(gate(&a, Severity::Low, None).len() >= critical.len());
    // Against itself nothing is new; a regression is.
    let ids: BTreeSet<String> = a.findings.iter().map(|f| f.id.clone()).collect();
    assert!(gate(&a, Severity::Low, Some(&ids)).is_empty());
    let mut new = old.clone();
    if let Some(gw) = new.elements.iter_mut().find(|e| e.id == "gateway") {
        gw.attributes
            .insert("default_credentials".into(), crate::expr::Value::Bool(true));
        gw.controls.retain(|c| c != "unique_credentials");
    }
    let b = analyze(&new, &rules, &opts("2026-09-01"));
    let fresh = gate(&b, Severity::High, Some(&ids));
    assert_eq!(fresh.len(), 1, "{fresh:?}");
    assert_eq!(
        fresh.first().map(|f| f.rule.as_str()),
        Some("IOT-DEFAULT-CREDENTIALS")
    );
    // Suppressed findings never count.
    let mut o = opts("2026-09-01");
    o.suppressions = vec![Suppression {
        finding: None,
        rule: Some("IOT-DEFAULT-CREDENTIALS".into()),
        element: Some("gateway".into()),
        reason: "accepted for the test".into(),
        expires: d("2026-12-31"),
    }];
    assert!(gate(&analyze(&new, &rules, &o), Severity::High, Some(&ids)).is_empty());
}

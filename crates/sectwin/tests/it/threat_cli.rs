//! `sectwin threat` end to end on the reference model: exit codes of
//! `threat check` as a CI gate (0 before deadlines, 1 after, 2 on a model
//! error with its line), `--format json` fields, SARIF shape, `threat diff`
//! on two versions of a model, suppressions, the SVG diagram, reports, and
//! the importers on the committed real pytm and Threat Dragon samples; the
//! CI gate (`--fail-on`, `--baseline`, `--strict`), strict parsing of a typo
//! (exit 2, its position, a suggestion) and the LLM example model.

use std::path::{Path, PathBuf};
use std::process::Command;

fn threat_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../threat")
}

fn reference() -> PathBuf {
    threat_dir().join("models/smart-building.yaml")
}

/// Runs `sectwin threat ARGS`; returns (exit code, stdout, stderr).
fn threat(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_sectwin"))
        .arg("threat")
        .args(args)
        .output()
        .expect("run sectwin");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

#[test]
fn check_gates_ci_on_deadlines() {
    let model = reference();
    // The model is dated 2026-09-01: high findings are due that day.
    let (code, out, err) = threat(&["check", path(&model), "--today", "2026-09-01"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("IOT-DEFAULT-CREDENTIALS"), "{out}");
    let (code, _, err) = threat(&["check", path(&model), "--today", "2026-09-02"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("past their deadline"), "{err}");
    assert!(err.contains("IOT-DEFAULT-CREDENTIALS on camera"), "{err}");
}

#[test]
fn check_json_carries_the_finding_fields() {
    let (code, out, err) = threat(&[
        "check",
        path(&reference()),
        "--today",
        "2026-09-01",
        "--format",
        "json",
    ]);
    assert_eq!(code, Some(0), "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    let findings = v["findings"].as_array().expect("findings");
    assert!(findings.len() > 10);
    for f in findings {
        for k in [
            "id",
            "rule",
            "element",
            "stride",
            "cvss_vector",
            "cvss_score",
            "severity",
            "deadline",
        ] {
            assert!(f.get(k).is_some(), "{k} missing in {f}");
        }
        assert!(f["id"].as_str().is_some_and(|s| s.starts_with("T-")));
        assert!(f["cvss_vector"]
            .as_str()
            .is_some_and(|s| s.starts_with("CVSS:3.1/")));
    }
    let cam = findings
        .iter()
        .find(|f| f["rule"] == "IOT-DEFAULT-CREDENTIALS")
        .expect("default credentials finding");
    assert_eq!(cam["element"], "camera");
    assert_eq!(cam["severity"], "critical");
    assert_eq!(cam["cvss_score"], 9.8);
    assert_eq!(cam["deadline"], "2026-09-01");
    assert_eq!(cam["device_model_subject"], "model:acme/CAM-7");
    assert!(v["summary"]["removed_by_controls_total"]
        .as_u64()
        .is_some_and(|n| n > 0));
}

#[test]
fn check_sarif_has_the_required_shape() {
    let (code, out, err) = threat(&[
        "check",
        path(&reference()),
        "--today",
        "2026-09-01",
        "--format",
        "sarif",
    ]);
    assert_eq!(code, Some(0), "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(v["version"], "2.1.0");
    let run = &v["runs"][0];
    assert_eq!(run["tool"]["driver"]["name"], "sectwin threat");
    let rules = run["tool"]["driver"]["rules"].as_array().expect("rules");
    let results = run["results"].as_array().expect("results");
    assert!(!results.is_empty());
    for r in results {
        let rule_id = r["ruleId"].as_str().expect("ruleId");
        let idx = r["ruleIndex"].as_u64().expect("ruleIndex") as usize;
        assert_eq!(rules[idx]["id"], rule_id);
        assert!(["error", "warning", "note"].contains(&r["level"].as_str().expect("level")));
        assert!(r["message"]["text"].as_str().is_some_and(|t| !t.is_empty()));
        assert!(r["locations"][0]["logicalLocations"][0]["name"].is_string());
    }
}

#[test]
fn model_errors_exit_2_with_a_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = dir.path().join("bad.yaml");
    let text = std::fs::read_to_string(reference())
        .expect("model")
        .replacen("to: update-server,", "to: update-srv,", 1);
    std::fs::write(&bad, &text).expect("write");
    let line = text
        .lines()
        .position(|l| l.contains("update-srv"))
        .expect("line")
        + 1;
    let (code, _, err) = threat(&["check", path(&bad)]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains(&format!("bad.yaml:{line}:")), "{err}");
    assert!(err.contains("unknown element"), "{err}");
}

#[test]
fn diff_shows_new_resolved_and_changed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let old = reference();
    let new = dir.path().join("v2.yaml");
    let text = std::fs::read_to_string(&old)
        .expect("model")
        .replacen(
            "controls: [device_identity, secure_element, secure_boot, signed_firmware, anti_rollback]",
            "controls: [device_identity, secure_element, secure_boot, signed_firmware, anti_rollback, unique_credentials]",
            1,
        )
        .replacen("from: camera, to: gateway, protocol: RTSP", "from: camera, to: cloud-backend, protocol: RTSP", 1)
        .replacen("name: Person detector (on-device AI)", "name: Person detector v2", 1);
    std::fs::write(&new, text).expect("write");
    let (code, out, err) = threat(&["diff", path(&old), path(&new), "--today", "2026-09-01"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("- ") && l.contains("IOT-DEFAULT-CREDENTIALS on camera")),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with("+ ") && l.contains("STRIDE-I-FLOW-BOUNDARY on camera-stream")),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with("~ ") && l.contains("person-detector: element_name")),
        "{out}"
    );
    let (_, json, _) = threat(&[
        "diff",
        path(&old),
        path(&new),
        "--today",
        "2026-09-01",
        "--format",
        "json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&json).expect("JSON");
    assert!(!v["new"].as_array().expect("new").is_empty());
    assert!(!v["resolved"].as_array().expect("resolved").is_empty());
    assert!(!v["changed"].as_array().expect("changed").is_empty());
}

#[test]
fn suppressions_keep_the_gate_green_until_they_expire() {
    let dir = tempfile::tempdir().expect("tempdir");
    let model = reference();
    let (_, out, _) = threat(&[
        "check",
        path(&model),
        "--today",
        "2026-09-01",
        "--format",
        "json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    let high: Vec<String> = v["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["risk_level"] == "high")
        .map(|f| f["id"].as_str().expect("id").to_string())
        .collect();
    let mut yaml = String::from("suppressions:\n");
    for id in &high {
        yaml.push_str(&format!(
            "  - finding: {id}\n    reason: accepted until the 2.5 release\n    expires: 2026-12-31\n"
        ));
    }
    let file = dir.path().join("suppressions.yaml");
    std::fs::write(&file, yaml).expect("write");
    let (code, _, err) = threat(&[
        "check",
        path(&model),
        "--today",
        "2026-10-01",
        "--suppressions",
        path(&file),
    ]);
    assert_eq!(code, Some(0), "{err}");
    let (code, _, err) = threat(&[
        "check",
        path(&model),
        "--today",
        "2027-01-01",
        "--suppressions",
        path(&file),
    ]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("suppression expired on 2026-12-31"), "{err}");
}

#[test]
fn diagram_and_reports_render() {
    let dir = tempfile::tempdir().expect("tempdir");
    let svg = dir.path().join("dfd.svg");
    let (code, _, err) = threat(&["diagram", path(&reference()), "-o", path(&svg)]);
    assert_eq!(code, Some(0), "{err}");
    let text = std::fs::read_to_string(&svg).expect("svg");
    assert!(text.contains("<svg"), "{text}");
    assert!(text.contains("Door controller") && text.contains("ACME cloud"));
    let dot = dir.path().join("dfd.dot");
    let (code, _, _) = threat(&["diagram", path(&reference()), "-o", path(&dot)]);
    assert_eq!(code, Some(0));
    assert!(std::fs::read_to_string(&dot)
        .expect("dot")
        .contains("subgraph \"cluster_0\""));
    let (code, md, _) = threat(&["report", path(&reference()), "--today", "2026-09-01"]);
    assert_eq!(code, Some(0));
    assert!(
        md.contains("## Findings") && md.contains("| Spoofing |"),
        "{md}"
    );
    let html = dir.path().join("r.html");
    let (code, _, _) = threat(&[
        "report",
        path(&reference()),
        "--today",
        "2026-09-01",
        "--format",
        "html",
        "-o",
        path(&html),
    ]);
    assert_eq!(code, Some(0));
    let h = std::fs::read_to_string(&html).expect("html");
    assert!(h.starts_with("<!DOCTYPE html>") && h.contains("<svg"));
}

#[test]
fn importers_convert_the_committed_samples() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (kind, file, elements) in [
        ("pytm", "tests/data/pytm/tm.json", 8),
        (
            "threat-dragon",
            "tests/data/threat-dragon/iot-device.json",
            11,
        ),
    ] {
        let out = dir.path().join(format!("{kind}.yaml"));
        let (code, stdout, err) = threat(&[
            "import",
            kind,
            path(&threat_dir().join(file)),
            "-o",
            path(&out),
        ]);
        assert_eq!(code, Some(0), "{kind}: {err}");
        assert!(
            stdout.contains(&format!("imported {elements} elements")),
            "{stdout}"
        );
        let (code, checked, err) = threat(&[
            "check",
            path(&out),
            "--today",
            "2026-09-01",
            "--format",
            "json",
        ]);
        assert!(code == Some(0) || code == Some(1), "{kind}: {err}");
        let v: serde_json::Value = serde_json::from_str(&checked).expect("JSON");
        assert!(
            !v["findings"].as_array().expect("findings").is_empty(),
            "{kind}"
        );
    }
}

#[test]
fn schema_and_rules_list() {
    let (code, out, _) = threat(&["schema"]);
    assert_eq!(code, Some(0));
    let v: serde_json::Value = serde_json::from_str(&out).expect("schema JSON");
    assert!(v["properties"]["elements"].is_object());
    let (code, out, _) = threat(&["rules"]);
    assert_eq!(code, Some(0));
    assert!(
        out.contains("AI-POISONING") && out.contains("IOT-INSECURE-OTA"),
        "{out}"
    );
}

#[test]
fn check_fails_on_a_severity_and_only_on_new_findings_against_a_baseline() {
    let dir = tempfile::tempdir().expect("tempdir");
    let model = reference();
    // The camera's default password is critical: --fail-on critical fails.
    let (code, _, err) = threat(&[
        "check",
        path(&model),
        "--today",
        "2026-09-01",
        "--fail-on",
        "critical",
    ]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("at or above critical"), "{err}");
    assert!(err.contains("IOT-DEFAULT-CREDENTIALS on camera"), "{err}");
    // Against itself (as a model, or as the JSON of an earlier check) nothing is new.
    let (_, json, _) = threat(&[
        "check",
        path(&model),
        "--today",
        "2026-09-01",
        "--format",
        "json",
    ]);
    let old_json = dir.path().join("old.json");
    std::fs::write(&old_json, json).expect("write");
    for baseline in [path(&model), path(&old_json)] {
        let (code, _, err) = threat(&[
            "check",
            path(&model),
            "--today",
            "2026-09-01",
            "--fail-on",
            "low",
            "--baseline",
            baseline,
        ]);
        assert_eq!(code, Some(0), "{baseline}: {err}");
    }
    // A regression: the gateway ships with a default password too.
    let text = std::fs::read_to_string(&model).expect("model").replacen(
        "attributes: {ota_updates: true, debug_port: true, stores_secrets: true, services: [mqtt-tls, ssh]}",
        "attributes: {ota_updates: true, debug_port: true, stores_secrets: true, default_credentials: true, services: [mqtt-tls, ssh]}",
        1,
    );
    let text = text.replacen(
        "anti_rollback, debug_disabled, unique_credentials, audit_logging",
        "anti_rollback, debug_disabled, audit_logging",
        1,
    );
    let new = dir.path().join("new.yaml");
    std::fs::write(&new, text).expect("write");
    let (code, _, err) = threat(&[
        "check",
        path(&new),
        "--today",
        "2026-09-01",
        "--fail-on",
        "high",
        "--baseline",
        path(&old_json),
    ]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("1 open finding(s) at or above high not in the baseline"),
        "{err}"
    );
    assert!(err.contains("IOT-DEFAULT-CREDENTIALS on gateway"), "{err}");
    assert!(!err.contains("on camera"), "{err}");
    let (code, _, err) = threat(&["check", path(&new), "--fail-on", "none"]);
    assert_eq!(code, Some(2), "{err}");
}

#[test]
fn strict_turns_suppression_warnings_into_a_failed_check() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("suppressions.yaml");
    std::fs::write(
        &file,
        "suppressions:\n  - finding: T-AAAAAAAAAAAAAAAA\n    reason: a finding removed long ago\n    expires: 2030-01-01\n",
    )
    .expect("write");
    let model = reference();
    let args = [
        "check",
        path(&model),
        "--today",
        "2026-09-01",
        "--suppressions",
        path(&file),
    ];
    let (code, _, err) = threat(&args);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        err.contains("warning: suppression matches no finding"),
        "{err}"
    );
    let mut strict = args.to_vec();
    strict.push("--strict");
    let (code, _, err) = threat(&strict);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("--strict: warnings are errors"), "{err}");
}

#[test]
fn a_typo_in_an_attribute_exits_2_with_its_position_and_a_suggestion() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = dir.path().join("typo.yaml");
    let text = std::fs::read_to_string(reference())
        .expect("model")
        .replacen("default_credentials: true", "default_password: true", 1);
    std::fs::write(&bad, &text).expect("write");
    let line = text
        .lines()
        .position(|l| l.contains("default_password"))
        .expect("line")
        + 1;
    let (code, _, err) = threat(&["check", path(&bad)]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains(&format!("typo.yaml:{line}:")), "{err}");
    assert!(err.contains("did you mean `default_credentials`?"), "{err}");
    // A rule directory that reads the attribute makes it known.
    let rules = dir.path().join("rules");
    std::fs::create_dir(&rules).expect("mkdir");
    std::fs::write(
        rules.join("mine.yaml"),
        "rules:\n  - id: MINE-DEFAULT-PASSWORD\n    title: Default password\n    stride: spoofing\n    targets: [device]\n    condition: element.default_password\n    description: d\n    cvss: CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H\n",
    )
    .expect("write");
    let (code, out, err) = threat(&[
        "check",
        path(&bad),
        "--rules",
        path(&rules),
        "--today",
        "2026-09-01",
    ]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("MINE-DEFAULT-PASSWORD"), "{out}");
}

#[test]
fn the_llm_example_model_checks_with_llm_findings() {
    let (code, model, _) = threat(&["example", "maintenance-assistant"]);
    assert_eq!(code, Some(0));
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("assistant.yaml");
    std::fs::write(&file, model).expect("write");
    let (code, out, err) = threat(&[
        "check",
        path(&file),
        "--today",
        "2026-09-01",
        "--format",
        "json",
    ]);
    assert_eq!(code, Some(0), "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    let rules: Vec<&str> = v["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter_map(|f| f["rule"].as_str())
        .collect();
    for r in [
        "LLM-INDIRECT-PROMPT-INJECTION",
        "LLM-THIRD-PARTY-LEAKAGE",
        "LLM-RAG-POISONING",
    ] {
        assert!(rules.contains(&r), "{r}: {rules:?}");
    }
    // Controls in place remove threats: the agent asks a person before it acts.
    assert!(!rules.contains(&"LLM-EXCESSIVE-AGENCY"), "{rules:?}");
}

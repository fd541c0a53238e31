//! The register end to end over a real projection: statements folded by
//! `twin::Projection`, an OSV advisory parsed by `vuln-formats`, exposure,
//! VEX inheritance, decisions, deadlines and notifications.

use std::collections::HashMap;
use std::sync::Arc;

use risk_register::{
    build, build_with, notifications, DeviceFacts, EventKind, Register, RiskKind, RiskStatus,
    Snapshot,
};
use twin::{ConsensusPolicy, MemState, Projection, Registered, State};
use vuln::index::AdvisoryIndex;

const MODEL: &str = "model:acme/DC-200";

struct Log {
    p: Projection<MemState>,
    next: u64,
}

impl Log {
    fn new() -> Log {
        Log {
            p: Projection::new(ConsensusPolicy::default()),
            next: 0,
        }
    }

    fn add(&mut self, issuer: &str, subject: &str, payload: &str) -> u64 {
        let entry = self.next;
        self.next += 1;
        self.p
            .apply(Registered {
                issued_at: None,
                entry,
                issuer,
                subject,
                payload: payload.as_bytes(),
            })
            .unwrap_or_else(|e| panic!("entry {entry} ({payload}) refused: {e}"));
        entry
    }

    fn refuse(&mut self, issuer: &str, subject: &str, payload: &str) -> String {
        let entry = self.next;
        self.p
            .apply(Registered {
                issued_at: None,
                entry,
                issuer,
                subject,
                payload: payload.as_bytes(),
            })
            .map(|_| ())
            .expect_err("must be refused")
            .to_string()
    }

    fn snapshot(&self, today: &str) -> Snapshot {
        let models = risk_register::model_subjects(self.p.meta());
        let devices = self
            .p
            .twins()
            .map(|t| DeviceFacts::from_view(&self.p.view(&t.device).expect("view"), &models))
            .collect();
        Snapshot::from_meta(
            self.p.meta(),
            devices,
            |e| self.p.state().sbom_part(e),
            risk::Date::parse(today).expect("date"),
            risk::DeadlinePolicy::default(),
        )
    }
}

/// Every risk of `reg` known since `day` (as a node that built it then
/// would remember).
fn known_since(reg: &Register, day: &str) -> Arc<HashMap<String, risk::Date>> {
    let day = risk::Date::parse(day).expect("date");
    let mut known: HashMap<String, risk::Date> =
        reg.risks.iter().map(|r| (r.key.clone(), day)).collect();
    for row in reg.devices.rows() {
        for (release, _) in &row.releases {
            known.insert(risk_register::device_on_key(&row.device, release), day);
        }
    }
    Arc::new(known)
}

/// busybox < 1.36.1 is affected (an OSV record with a purl and an ECOSYSTEM range).
fn index() -> AdvisoryIndex {
    index_fixed_in("1:1.36.1-1", "2026-11-02T00:00:00Z")
}

/// The same advisory, fixed in `fixed`, modified at `modified`.
fn index_fixed_in(fixed: &str, modified: &str) -> AdvisoryIndex {
    let osv = r#"{
      "schema_version": "1.6.0",
      "id": "OSV-TEST-1",
      "aliases": ["CVE-2099-0001"],
      "published": "2026-11-01T00:00:00Z",
      "modified": "MODIFIED",
      "summary": "busybox wget heap overflow",
      "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
      "affected": [{
        "package": {"ecosystem": "Debian", "name": "busybox", "purl": "pkg:deb/debian/busybox"},
        "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "FIXED"}]}]
      }]
    }"#
    .replace("MODIFIED", modified)
    .replace("FIXED", fixed);
    let advisories = vuln_formats::osv::parse(osv.as_bytes()).expect("osv parses");
    let mut index = AdvisoryIndex::new();
    for a in &advisories {
        index.upsert(a);
    }
    index
}

fn sbom(release: &str, busybox: &str) -> String {
    format!(
        r#"{{"type":"sbom-registered","release":"{release}","format":"CycloneDX 1.6","document_sha256":"{}","components":[{{"name":"busybox","version":"{busybox}","purl":"pkg:deb/debian/busybox@{busybox}"}},{{"name":"zlib","version":"1.3.1"}}]}}"#,
        hex_of(release)
    )
}

fn hex_of(s: &str) -> String {
    let mut h = String::new();
    for b in s.bytes().cycle().take(32) {
        h.push_str(&format!("{b:02x}"));
    }
    h
}

fn fleet() -> Log {
    let mut log = Log::new();
    for (dev, serial) in [("door-1", "1"), ("door-2", "2")] {
        log.add(
            "acme",
            &format!("device:{dev}"),
            &format!(r#"{{"type":"device-registered","manufacturer":"Acme","model":"DC-200","serial":"{serial}"}}"#),
        );
        log.add(
            "acme",
            &format!("device:{dev}"),
            r#"{"type":"ownership-transferred","owner":"op","operator":"op","site":"Building A"}"#,
        );
    }
    log.add(
        "acme",
        MODEL,
        r#"{"type":"firmware-released","version":"2.4.0","image_sha256":"aa"}"#,
    );
    log.add("acme", MODEL, &sbom("2.4.0", "1:1.35.0-4"));
    log.add(
        "op",
        "device:door-1",
        r#"{"type":"firmware-installed","version":"2.4.0","image_sha256":"aa"}"#,
    );
    log.add(
        "op",
        "device:door-2",
        r#"{"type":"firmware-installed","version":"2.4.0","image_sha256":"aa"}"#,
    );
    log
}

#[test]
fn exposure_flows_from_the_sbom_of_a_release_to_its_devices_with_reasons() {
    let log = fleet();
    let reg = build(&log.snapshot("2026-11-21"), &index()).expect("builds");
    let device: Vec<_> = reg.by_device("door-1").collect();
    assert_eq!(device.len(), 1, "{:#?}", reg.risks);
    let r = &device[0];
    assert_eq!(r.kind, RiskKind::DeviceVulnerability);
    assert_eq!(r.vulnerability.as_deref(), Some("OSV-TEST-1"));
    assert_eq!(&*r.owner, "op");
    assert_eq!(r.status, RiskStatus::Open);
    assert_eq!(r.severity, risk::Severity::Critical);
    // High and critical: due the day the node discovered it (today, on a
    // first build), not the day the advisory was published.
    assert_eq!(
        r.deadline.date.map(|d| d.to_string()).as_deref(),
        Some("2026-11-21")
    );
    assert_eq!(
        r.discovered.map(|d| d.to_string()).as_deref(),
        Some("2026-11-21")
    );
    assert_eq!(r.found.as_deref(), Some("2026-11-01T00:00:00Z"));
    assert!(!r.overdue);
    // Known since 2026-11-05: due then, overdue on the 21st; a rebuild (a
    // re-import, a re-evaluation) keeps that day.
    let mut snap = log.snapshot("2026-11-21");
    snap.discovered = known_since(&reg, "2026-11-05");
    let later = build(&snap, &index()).expect("builds");
    let r = later.by_device("door-1").next().expect("exposed");
    assert_eq!(
        r.deadline.date.map(|d| d.to_string()).as_deref(),
        Some("2026-11-05")
    );
    assert!(r.overdue);
    assert_eq!(r.matches.len(), 1);
    assert_eq!(r.matches[0].component, "busybox");
    assert!(!r.matches[0].reason.is_empty());
    assert_eq!(r.fixed_in, None);
    // The release risk too, owned by the manufacturer.
    let release: Vec<_> = reg.by_release(MODEL, "2.4.0").collect();
    assert!(release
        .iter()
        .any(|r| r.kind == RiskKind::ReleaseVulnerability && &*r.owner == "acme"));
    assert_eq!(reg.summary.devices_exposed, 2);
    assert_eq!(reg.summary.releases_exposed, 1);
    assert_eq!(reg.by_site("Building A").count(), 2);
    // zlib matched nothing: no version-less match of everything.
    assert!(reg
        .iter()
        .all(|r| r.matches.iter().all(|m| m.component == "busybox")));
}

#[test]
fn a_fixed_release_is_offered_and_vex_is_inherited_while_the_component_is_unchanged() {
    let mut log = fleet();
    let before = build(&log.snapshot("2026-11-21"), &index()).expect("builds");
    // 2.4.1 keeps busybox 1.35 (VEX: not affected, inherited from 2.4.0 on);
    // 2.5.0 upgrades it.
    log.add(
        "acme",
        MODEL,
        r#"{"type":"vulnerability-assessment","vulnerability":"OSV-TEST-1","status":"not_affected","justification":"vulnerable_code_not_in_execute_path","release":"2.4.0","component":"busybox"}"#,
    );
    log.add(
        "acme",
        MODEL,
        r#"{"type":"firmware-released","version":"2.4.1","image_sha256":"bb"}"#,
    );
    log.add("acme", MODEL, &sbom("2.4.1", "1:1.35.0-4"));
    let after_vex = build(&log.snapshot("2026-11-21"), &index()).expect("builds");
    assert_eq!(
        after_vex.by_device("door-1").count(),
        0,
        "{:#?}",
        after_vex.risks
    );
    assert_eq!(
        after_vex
            .vex_state
            .get("model:acme/DC-200@2.4.1 OSV-TEST-1")
            .map(String::as_str),
        Some("not_affected")
    );
    let events = notifications(&before, &after_vex, 7);
    assert!(events
        .iter()
        .any(|e| e.kind == EventKind::VexChanged && e.recipients.contains(&"op".to_string())));
}

#[test]
fn decisions_deadlines_and_notifications() {
    let mut log = fleet();
    let empty = risk_register::Register::default();
    // Known since the advisory came out: overdue by the 21st.
    let seen = build(&log.snapshot("2026-11-01"), &index()).expect("builds");
    let known = known_since(&seen, "2026-11-01");
    let snapshot = |log: &Log, day: &str| {
        let mut s = log.snapshot(day);
        s.discovered = known.clone();
        s
    };
    let first = build(&snapshot(&log, "2026-11-21"), &index()).expect("builds");
    let events = notifications(&empty, &first, 7);
    let new: Vec<_> = events
        .iter()
        .filter(|e| e.kind == EventKind::NewVulnerableDevice)
        .collect();
    assert_eq!(new.len(), 2);
    assert!(new[0].recipients.contains(&"op".to_string()));
    assert!(events.iter().any(|e| e.kind == EventKind::DeadlineOverdue));
    // Same register again: nothing new.
    assert!(notifications(&first, &first, 7).is_empty());

    // A fixed release appears: fixed firmware available.
    log.add(
        "acme",
        MODEL,
        r#"{"type":"firmware-released","version":"2.5.0","image_sha256":"cc"}"#,
    );
    log.add("acme", MODEL, &sbom("2.5.0", "1:1.36.1-1"));
    let second = build(&log.snapshot("2026-11-21"), &index()).expect("builds");
    let r = second.by_device("door-1").next().expect("still exposed");
    assert_eq!(r.fixed_in.as_deref(), Some("2.5.0"));
    let events = notifications(&first, &second, 7);
    assert_eq!(
        events
            .iter()
            .filter(|e| e.kind == EventKind::FixedFirmwareAvailable)
            .count(),
        2
    );

    // The operator accepts door-1's risk until a date; it is no longer open,
    // then open again after that date.
    log.add(
        "op",
        "device:door-1",
        r#"{"type":"risk-accepted","risk":"vuln/OSV-TEST-1","rationale":"door is in a locked room","until":"2026-12-31"}"#,
    );
    let third = build(&log.snapshot("2026-11-21"), &index()).expect("builds");
    let r = third.by_device("door-1").next().expect("listed");
    assert_eq!(r.status, RiskStatus::Accepted);
    assert!(!r.overdue);
    let later = build(&log.snapshot("2027-01-05"), &index()).expect("builds");
    assert_eq!(
        later.by_device("door-1").next().map(|r| r.status),
        Some(RiskStatus::Open)
    );

    // Installing the fixed release clears the device.
    log.add(
        "op",
        "device:door-2",
        r#"{"type":"firmware-installed","version":"2.5.0","image_sha256":"cc"}"#,
    );
    let fourth = build(&log.snapshot("2026-11-21"), &index()).expect("builds");
    assert_eq!(fourth.by_device("door-2").count(), 0);
}

#[test]
fn release_scoped_statements_are_checked() {
    let mut log = fleet();
    // Unknown release.
    let why = log.refuse("acme", MODEL, &sbom("9.9.9", "1"));
    assert!(why.contains("no firmware release"), "{why}");
    // Not the releaser.
    let why = log.refuse("other", MODEL, &sbom("2.4.0", "1"));
    assert!(why.contains("did not release"), "{why}");
    // The same part twice.
    let why = log.refuse("acme", MODEL, &sbom("2.4.0", "1:1.35.0-4"));
    assert!(why.contains("registered already"), "{why}");
    // A model-level VEX needs a release.
    let why = log.refuse(
        "acme",
        MODEL,
        r#"{"type":"vulnerability-assessment","vulnerability":"X","status":"affected"}"#,
    );
    assert!(why.contains("name the firmware release"), "{why}");
    // A bad release plan date.
    let why = log.refuse(
        "acme",
        MODEL,
        r#"{"type":"release-plan","current":"2.4.0","releases":[{"version":"2.5.0","date":"2027-02-30"}]}"#,
    );
    assert!(why.contains("release-plan"), "{why}");
    // A decision on an unrecorded model risk.
    let why = log.refuse(
        "acme",
        MODEL,
        r#"{"type":"risk-mitigated","risk":"threat/T-X","how":"x"}"#,
    );
    assert!(why.contains("not recorded"), "{why}");
}

#[test]
fn medium_risks_follow_the_release_plan_and_recorded_risks_are_listed() {
    let mut log = fleet();
    log.add(
        "acme",
        MODEL,
        r#"{"type":"release-plan","current":"2.4.0","releases":[{"version":"2.5.0","date":"2027-01-15"},{"version":"3.0.0","date":"2027-09-01"}]}"#,
    );
    log.add(
        "acme",
        MODEL,
        r#"{"type":"risk-recorded","risk":"threat/T-ABC","severity":"medium","description":"Tampering of OTA image","cvss_vector":"CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:N/I:H/A:N","source":"threat-model:smart-building@1","element":"update-server","deadline":"2027-01-15"}"#,
    );
    let reg = build(&log.snapshot("2026-11-21"), &index()).expect("builds");
    let t = reg
        .risks
        .iter()
        .find(|r| r.risk == "threat/T-ABC")
        .expect("recorded risk listed");
    assert_eq!(t.kind, RiskKind::Recorded);
    assert_eq!(
        t.deadline.date.map(|d| d.to_string()).as_deref(),
        Some("2027-01-15")
    );
    assert_eq!(
        t.stakeholders.to_vec(),
        vec!["acme".to_string(), "op".to_string()]
    );
    assert_eq!(t.score, Some(5.9));
    log.add(
        "acme",
        MODEL,
        r#"{"type":"risk-mitigated","risk":"threat/T-ABC","how":"images signed, verified by the bootloader"}"#,
    );
    let reg = build(&log.snapshot("2026-11-21"), &index()).expect("builds");
    let t = reg
        .risks
        .iter()
        .find(|r| r.risk == "threat/T-ABC")
        .expect("listed");
    assert_eq!(t.status, RiskStatus::Mitigated);
}

#[test]
fn an_ai_model_package_sbom_exposes_the_devices_that_run_it() {
    let mut log = fleet();
    log.add(
        "op",
        "device:door-1",
        r#"{"type":"ai-model-deployed","name":"person-detector","version":"3","model_sha256":"ab"}"#,
    );
    log.add(
        "acme",
        MODEL,
        &format!(
            r#"{{"type":"sbom-registered","ai_model":"person-detector","release":"3","format":"CycloneDX 1.6","document_sha256":"{}","components":[{{"name":"onnxruntime","version":"1.15.0","purl":"pkg:pypi/onnxruntime@1.15.0"}}]}}"#,
            hex_of("ai")
        ),
    );
    let osv = br#"{
      "schema_version": "1.6.0",
      "id": "OSV-AI-1",
      "published": "2026-10-01T00:00:00Z",
      "modified": "2026-10-02T00:00:00Z",
      "summary": "onnxruntime out-of-bounds read in a crafted model",
      "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:L/I:N/A:L"}],
      "affected": [{
        "package": {"ecosystem": "PyPI", "name": "onnxruntime", "purl": "pkg:pypi/onnxruntime"},
        "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.16.0"}]}]
      }]
    }"#;
    let mut index = index();
    for a in &vuln_formats::osv::parse(osv).expect("osv parses") {
        index.upsert(a);
    }
    let snap = log.snapshot("2026-11-21");
    let reg = build(&snap, &index).expect("builds");
    let ai: Vec<_> = reg
        .by_device("door-1")
        .filter(|r| r.vulnerability.as_deref() == Some("OSV-AI-1"))
        .collect();
    assert_eq!(ai.len(), 1, "{:#?}", reg.risks);
    assert_eq!(ai[0].risk, "vuln/OSV-AI-1@ai-model:person-detector");
    assert_eq!(&*ai[0].subject, "device:door-1");
    assert_eq!(ai[0].matches[0].component, "onnxruntime");
    // door-2 runs no AI model: only its firmware risk.
    assert!(reg
        .by_device("door-2")
        .all(|r| r.vulnerability.as_deref() != Some("OSV-AI-1")));
    // The package's own risk is on the model, owned by the manufacturer.
    assert!(reg.risks.iter().any(|r| &*r.subject == MODEL
        && r.risk == "vuln/OSV-AI-1@ai-model:person-detector@3"
        && &*r.owner == "acme"));
    // An AI package SBOM with '@' in its name is refused.
    let why = log.refuse(
        "acme",
        MODEL,
        &format!(
            r#"{{"type":"sbom-registered","ai_model":"a@b","release":"3","format":"CycloneDX 1.6","document_sha256":"{}","components":[]}}"#,
            hex_of("x")
        ),
    );
    assert!(why.contains("without '@'"), "{why}");
}

/// Issue 14: a stakeholder's own advisories are its claims about its own
/// releases. Another organization's narrowed copy never removes a risk the
/// shared advisories report; its advisories apply to nothing it did not
/// release; the manufacturer's own add risks to its releases, named as
/// their source, and never duplicate the shared advisories' risks.
#[test]
fn own_advisories_apply_to_the_submitters_releases_only_and_never_replace_shared_ones() {
    let log = fleet();
    let snap = log.snapshot("2026-11-21");
    let narrowed = index_fixed_in("0.1", "2026-11-30T00:00:00Z");
    let none = AdvisoryIndex::new();

    let shared_only = build(&snap, &index()).expect("builds");
    let with_copy = build_with(&snap, &index(), &[("op", &narrowed)]).expect("builds");
    assert_eq!(
        with_copy.risks, shared_only.risks,
        "a narrowed copy changes nothing"
    );

    let ops_own = build_with(&snap, &none, &[("op", &index())]).expect("builds");
    assert!(
        ops_own.risks.is_empty(),
        "op released nothing: {:#?}",
        ops_own.risks
    );

    let acmes_own = build_with(&snap, &none, &[("acme", &index())]).expect("builds");
    let r = acmes_own
        .by_device("door-1")
        .next()
        .expect("acme's advisory applies");
    assert_eq!(r.source.as_deref(), Some("advisory:acme"));
    assert_eq!(acmes_own.by_device("door-2").count(), 1);

    let both = build_with(&snap, &index(), &[("acme", &index())]).expect("builds");
    assert_eq!(both.by_device("door-1").count(), 1, "{:#?}", both.risks);
    assert_eq!(both.by_device("door-1").next().expect("risk").source, None);
}

/// An open posture finding is a device risk `posture/<RULE>`: severity from
/// its rule, deadline from the policy counted from its discovery, owned and
/// decided like the device's other risks, told once when it is new, and
/// found by device, site and kind.
#[test]
fn posture_findings_are_device_risks_with_deadlines_and_decisions() {
    use risk_register::{PostureFinding, Selector};
    let mut log = fleet();
    let finding = |rule: &str, severity: risk::Severity| PostureFinding {
        rule: rule.to_string(),
        title: format!("{rule} title"),
        severity,
        cvss: None,
    };
    let with_findings = |log: &Log, day: &str| {
        let mut s = log.snapshot(day);
        for d in &mut s.devices {
            if d.device == "door-1" {
                d.findings = vec![
                    finding("POSTURE-NO-SECURE-BOOT", risk::Severity::High),
                    finding("LOGGING_DISABLED_CHECK", risk::Severity::Low),
                ];
            }
        }
        s
    };
    let empty = risk_register::AdvisoryIndex::new();
    let reg = build(&with_findings(&log, "2026-11-21"), &empty).expect("builds");
    let posture: Vec<_> = reg
        .select(&Selector {
            kind: Some(RiskKind::PostureFinding),
            ..Selector::default()
        })
        .collect();
    assert_eq!(posture.len(), 2, "{posture:#?}");
    let high = reg
        .get("device:door-1 posture/POSTURE-NO-SECURE-BOOT")
        .expect("by key");
    assert_eq!(high.risk, "posture/POSTURE-NO-SECURE-BOOT");
    assert_eq!(&*high.subject, "device:door-1");
    assert_eq!(high.severity, risk::Severity::High);
    assert_eq!(&*high.owner, "op");
    assert_eq!(high.source.as_deref(), Some("posture-audit"));
    assert_eq!(high.deadline.basis, risk::DeadlineBasis::Immediate);
    assert_eq!(high.status, RiskStatus::Open);
    let low = reg
        .get("device:door-1 posture/LOGGING_DISABLED_CHECK")
        .expect("by key");
    assert_eq!(
        low.deadline.date.map(|d| d.to_string()).as_deref(),
        Some("2027-11-21"),
        "low: the next major release, 365 days without a plan"
    );
    // Found by device (after its vulnerability risks), by site, not by a
    // vulnerability or another device.
    assert_eq!(
        reg.by_device("door-1")
            .filter(|r| r.kind == RiskKind::PostureFinding)
            .count(),
        2
    );
    assert_eq!(
        reg.by_site("Building A")
            .filter(|r| r.kind == RiskKind::PostureFinding)
            .count(),
        2
    );
    assert_eq!(reg.by_site("Building B").count(), 0);
    assert_eq!(reg.by_device("door-2").count(), 0);
    assert_eq!(reg.summary.open_by_severity.get("high"), Some(&1));
    // Told once, to the device's stakeholders.
    let events = notifications(&Register::default(), &reg, 7);
    let new: Vec<_> = events
        .iter()
        .filter(|e| e.kind == EventKind::NewPostureFinding)
        .collect();
    assert_eq!(new.len(), 2, "{events:#?}");
    assert!(new.iter().all(|e| e.recipients.contains(&"op".to_string())));
    assert!(notifications(&reg, &reg, 7).is_empty());

    // A decision on it works as on any risk.
    log.add(
        "op",
        "device:door-1",
        r#"{"type":"risk-mitigated","risk":"posture/POSTURE-NO-SECURE-BOOT","how":"the cabinet is sealed"}"#,
    );
    let decided = build(&with_findings(&log, "2026-11-21"), &empty).expect("builds");
    let r = decided
        .get("device:door-1 posture/POSTURE-NO-SECURE-BOOT")
        .expect("still listed");
    assert_eq!(r.status, RiskStatus::Mitigated);
    assert_eq!(decided.summary.open_by_severity.get("high"), None);

    // A fixed finding is no risk; decommissioned devices carry none.
    let fixed = build(&log.snapshot("2026-11-21"), &empty).expect("builds");
    assert_eq!(fixed.iter().count(), 0);
    log.add(
        "acme",
        "device:door-1",
        r#"{"type":"decommissioned","reason":"replaced"}"#,
    );
    let gone = build(&with_findings(&log, "2026-11-21"), &empty).expect("builds");
    assert_eq!(gone.iter().count(), 0);
}

/// SSVC's Mission & Well-being is the operators': a device risk decides
/// with its device's stated mission (else medium), a release risk with the
/// highest stated for its devices, so the register's order puts the
/// release that a high-mission device runs first.
#[test]
fn stated_missions_decide_the_ssvc_outcome_of_device_and_release_risks() {
    use vuln::exploit::{
        cisa_decision, Automatable, Exploitation, MissionWellbeing, TechnicalImpact,
    };
    let log = fleet();
    let (e, a, t) = (Exploitation::Poc, Automatable::Yes, TechnicalImpact::Total);
    let medium = cisa_decision(e, a, t, MissionWellbeing::Medium);
    let high = cisa_decision(e, a, t, MissionWellbeing::High);
    assert_ne!(medium, high, "the inputs must make the mission matter");
    let mut snap = log.snapshot("2026-11-21");
    snap.ssvc_statements = Arc::new(
        [(
            (
                "acme".to_string(),
                "DC-200".to_string(),
                "CVE-2099-0001".to_string(),
            ),
            risk_register::SsvcStatement {
                entry: 7,
                exploitation: Some(e),
                automatable: Some(a),
                technical_impact: Some(t),
            },
        )]
        .into_iter()
        .collect(),
    );
    let before = build(&snap, &index()).expect("builds");
    let release = |reg: &Register| {
        reg.by_release(MODEL, "2.4.0")
            .find(|r| r.kind == RiskKind::ReleaseVulnerability)
            .map(|r| r.ssvc)
            .expect("release risk")
    };
    let device = |reg: &Register, d: &str| reg.by_device(d).next().expect("exposed").ssvc;
    assert_eq!(release(&before), Some(medium), "no mission stated: medium");
    assert_eq!(device(&before, "door-1"), Some(medium));

    snap.missions = Arc::new([("door-1".to_string(), MissionWellbeing::High)].into());
    let after = build(&snap, &index()).expect("builds");
    assert_eq!(release(&after), Some(high), "the highest of its devices'");
    assert_eq!(device(&after, "door-1"), Some(high), "its own");
    assert_eq!(
        device(&after, "door-2"),
        Some(medium),
        "not its neighbour's"
    );
    let r = after.by_device("door-2").next().expect("exposed");
    assert_eq!(r.priority.ssvc, Some(medium));
    assert_eq!(
        r.ssvc_inputs.as_ref().map(|i| i.source.as_str()),
        Some("ssvc-technical@7")
    );
}

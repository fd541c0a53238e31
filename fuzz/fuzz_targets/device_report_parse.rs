//! Fuzz target: the device report parser must never panic, a report it
//! accepts must read back the same from its own encoding, and auditing and
//! running the incident rules on it must never panic either; nor must
//! reading VEX device conditions from the same bytes as text, or checking
//! them against the report.
#![no_main]

use libfuzzer_sys::fuzz_target;
use posture::audit::{Auditor, DevicePosture, FleetIndex, RuleSet};
use posture::report::DeviceReport;

fuzz_target!(|data: &[u8]| {
    // The same bytes as a VEX statement's impact text: reading its device
    // conditions must never panic, and each reads back from its own text.
    let conditions = posture::vex::conditions_in(&String::from_utf8_lossy(data)).conditions;
    for c in &conditions {
        assert_eq!(posture::vex::DeviceCondition::parse(&c.to_string()).as_ref(), Ok(c));
    }
    let Ok(report) = DeviceReport::parse(data) else {
        return;
    };
    let again = DeviceReport::parse(&report.to_json()).expect("a parsed report re-parses");
    assert_eq!(again, report);
    let rules = RuleSet::default_library().expect("the default rules load");
    let mut device = DevicePosture::new("fuzz", &report);
    device.latest_release = Some("2.4.0");
    device.support_end = Some(1_750_000_000);
    device.certificate_revoked = Some(true);
    let postures = [device];
    let fleet = FleetIndex::build(&postures);
    let mut findings = Vec::new();
    Auditor::new(&rules, &[], 1_750_000_000).audit_device(&postures[0], &fleet, &mut findings);
    let _ = posture::incident::firmware_below_minimum("fuzz", &report, "1.0");
    let _ = posture::incident::split_view("fuzz", &report, 100, |_| None);
    let _ = posture::incident::NetworkBaseline::default().new_activity("fuzz", &report);
    let statements = [posture::vex::NotAffected {
        vulnerability: "CVE-2024-0001",
        issuer: "fuzz",
        entry: 0,
        release: "2.4.0",
        component: None,
        conditions: &conditions,
    }];
    let _ = posture::vex::contradictions("fuzz", &report, &statements);
});

//! What a device signs about itself (its reports) is its operator's data:
//! who else reads it is decided by the operator's sharing policy (the
//! default while it published none), never by the device, which publishes
//! none. On the audit tests' fleet: door-1 made by Acme, owned and
//! operated by Op; cam-9 operated by Globex.

use serde_json::json;
use twin::projection::{data_holder, decide_read};
use twin::sharing::Decision;
use twin::{DeviceId, StakeholderId};

use crate::audit::{fleet, ACME, GLOBEX, OP};

const REPORT: &str = "device-report";

#[test]
fn a_devices_reports_are_shared_under_its_operators_policy() {
    let mut log = fleet();
    let reads = |log: &crate::audit::Log, reader: &str, device: &str| {
        log.reads(reader, device, &format!("device:{device}"), REPORT, 1_500)
    };
    // No policy: the default, every role on the device reads them.
    assert!(reads(&log, ACME, "door-1"), "the manufacturer, by default");
    assert!(reads(&log, OP, "door-1"));
    assert!(reads(&log, "device:door-1", "door-1"), "the device itself");
    assert!(!reads(&log, GLOBEX, "door-1"), "no role on the device");

    // Op publishes a policy that shares nothing: only Op and the device read.
    log.add(
        OP,
        "stakeholder:op.example",
        json!({"type": "sharing-policy", "policy": {"id": "p1", "grants": []}}),
    )
    .expect("policy");
    assert!(!reads(&log, ACME, "door-1"), "the operator's policy rules");
    assert!(reads(&log, OP, "door-1"));
    assert!(reads(&log, "device:door-1", "door-1"));
    assert!(reads(&log, ACME, "cam-9"), "Globex published no policy");

    // Op shares its devices' reports with Acme, their metrics only.
    log.add(
        OP,
        "stakeholder:op.example",
        json!({"type": "sharing-policy", "policy": {"id": "p2", "grants": [
            {"readers": [{"stakeholder": ACME}], "devices": "all", "types": ["*"], "fields": ["metrics"]}
        ]}}),
    )
    .expect("policy");
    let twin = log
        .p
        .twin(&DeviceId::new("door-1").expect("id"))
        .expect("twin");
    let device = StakeholderId("device:door-1".into());
    let acme = StakeholderId(ACME.into());
    let (decision, policy_entry) =
        decide_read(log.p.meta(), Some(&acme), &twin, &device, REPORT, 1_500);
    match decision {
        Decision::Allowed { policy, fields, .. } => {
            assert_eq!(policy, "p2");
            assert_eq!(fields.as_deref(), Some(&["metrics".to_string()][..]));
        }
        other => panic!("{other:?}"),
    }
    assert!(policy_entry.is_some(), "the operator's policy entry");
    // The operator reads them as its own.
    let op = StakeholderId(OP.into());
    let (decision, _) = decide_read(log.p.meta(), Some(&op), &twin, &device, REPORT, 1_500);
    assert_eq!(decision, Decision::Own);
    // Statements of stakeholders keep their own policies.
    assert_eq!(data_holder(&twin, &acme), &acme);
    assert_eq!(data_holder(&twin, &device), &op);
    let other = StakeholderId("device:door-2".into());
    assert_eq!(data_holder(&twin, &other), &other, "another device's id");
}

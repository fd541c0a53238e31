//! Firmware updates a device tells of in its own signed statements
//! (`twin::update`): an `installed` update section sets the twin's firmware
//! exactly as the device's `firmware-installed` would (the version, the
//! firmware claim at the report's entry, its status under the firmware
//! rule, the device's firmware clock), attempts and failures are kept as
//! the latest update, and a fold of the same entries gives the same twins.

use std::sync::Arc;

use scitt::{Algorithm, SigningKey, StatementBuilder};
use serde_json::{json, Value};
use twin::update::{UpdateState, INSTALLS_KEPT_MAX};
use twin::{
    AttributeClass, BuiltinType, BuiltinTypes, ConsensusPolicy, DeviceId, Projection, Role, Rule,
    Status,
};

const AUTH: &str = "authority.example";
const ACME: &str = "acme.example";
const OP: &str = "op.example";
const DEVICE: &str = "device:door-1";

fn report_type() -> Arc<BuiltinTypes> {
    let report = BuiltinType {
        name: "device-report".into(),
        schema: json!({"type": "object", "required": ["counter"]}),
        rule: Rule::new(&[Role::Device], &[]),
        sets_attributes: None,
        update_field: Some("update".into()),
        description: "a device's report".into(),
    };
    Arc::new(BuiltinTypes::new([report]).expect("valid"))
}

struct Log {
    p: Projection,
    entries: Vec<Vec<u8>>,
    keys: Vec<(&'static str, SigningKey)>,
}

impl Log {
    fn new() -> Log {
        let key = || SigningKey::generate(Algorithm::EdDSA, &mut rand_core::OsRng);
        let mut log = Log {
            p: Projection::new(ConsensusPolicy::default()).with_builtin_types(report_type()),
            entries: Vec::new(),
            keys: vec![(AUTH, key()), (ACME, key()), (OP, key()), (DEVICE, key())],
        };
        for (who, roles) in [
            (AUTH, &[][..]),
            (ACME, &["manufacturer"][..]),
            (OP, &["operator"][..]),
        ] {
            let pem = log.key(who).public_key().to_pem();
            log.add(AUTH, &format!("stakeholder:{who}"), json!({"type": "stakeholder-registered", "name": who, "roles": roles, "keys": [{"pem": pem}]}), 1)
                .expect("registered");
        }
        let device_pem = log.key(DEVICE).public_key().to_pem();
        log.add(ACME, DEVICE, json!({"type": "device-registered", "manufacturer": "Acme", "model": "DC-200", "serial": "door-1", "device_key": device_pem}), 1)
            .expect("device");
        log.add(
            ACME,
            DEVICE,
            json!({"type": "ownership-transferred", "owner": OP, "operator": OP}),
            1,
        )
        .expect("sold");
        log
    }

    fn key(&self, who: &str) -> &SigningKey {
        &self.keys.iter().find(|(n, _)| *n == who).expect("a key").1
    }

    fn add(&mut self, iss: &str, sub: &str, payload: Value, iat: i64) -> Result<u64, String> {
        let bytes = StatementBuilder::new(iss, sub, payload.to_string().as_bytes())
            .content_type("application/json")
            .issued_at(iat)
            .sign(self.key(iss));
        let entry = self.entries.len() as u64;
        self.entries.push(bytes.clone());
        self.p
            .ingest(entry, &bytes)
            .map(|_| entry)
            .map_err(|e| e.to_string())
    }

    fn report(&mut self, counter: u64, at: i64, update: Value) -> Result<u64, String> {
        self.add(
            DEVICE,
            DEVICE,
            json!({"type": "device-report", "counter": counter, "timestamp": at, "update": update}),
            at,
        )
    }

    fn twin(&self) -> twin::projection::Twin {
        self.p
            .twin(&DeviceId::new("door-1").expect("id"))
            .expect("twin")
    }
}

fn digest(b: u8) -> String {
    format!("{b:02x}").repeat(32)
}

#[test]
fn an_installed_update_report_sets_the_firmware_as_the_devices_firmware_installed_would() {
    let mut log = Log::new();
    let attempt = log
        .report(
            1,
            100,
            json!({"state": "attempted", "version": "2.0", "image_sha256": digest(2)}),
        )
        .expect("attempt");
    let t = log.twin();
    assert_eq!(t.firmware, None, "an attempt installs nothing");
    let latest = t.updates.latest.as_ref().expect("latest");
    assert_eq!(
        (latest.entry, latest.state),
        (attempt, UpdateState::Attempted)
    );
    assert!(t.updates.installs.is_empty());

    let installed = log
        .report(2, 200, json!({"state": "installed", "version": "2.0", "image_sha256": digest(2), "release_counter": 7}))
        .expect("installed");
    let t = log.twin();
    assert_eq!(t.firmware.as_deref(), Some("2.0"));
    assert_eq!(t.current.get(&AttributeClass::Firmware), Some(&installed));
    let install = t.updates.installs.last().expect("an install");
    assert_eq!(
        (install.entry, install.at, install.kind.as_str()),
        (installed, Some(200), "device-report")
    );
    assert_eq!(
        t.updates.running(Some(installed)).map(|i| i.entry),
        Some(installed)
    );
    // Its status is the firmware rule's: claimed by the device, awaiting
    // the operator, as the device's own `firmware-installed` would be.
    let view = log.p.view(&t.device).expect("view");
    let firmware = view
        .attributes
        .iter()
        .find(|a| a.attribute == AttributeClass::Firmware)
        .expect("firmware attribute");
    assert_eq!(firmware.claim.entry, installed);
    assert!(
        matches!(firmware.status, Status::Claimed { .. }),
        "{:?}",
        firmware.status
    );

    // The device's firmware clock moved: its own firmware-installed issued
    // before the report is refused, as after its own firmware-installed.
    let back = log.add(
        DEVICE,
        DEVICE,
        json!({"type": "firmware-installed", "version": "1.0", "image_sha256": digest(1)}),
        150,
    );
    assert!(back.is_err(), "back in time: {back:?}");
    assert_eq!(log.twin().firmware.as_deref(), Some("2.0"));
    // A later one by the device is an install too.
    let plain = log
        .add(
            DEVICE,
            DEVICE,
            json!({"type": "firmware-installed", "version": "2.1", "image_sha256": digest(3)}),
            300,
        )
        .expect("firmware-installed");
    let t = log.twin();
    assert_eq!(t.firmware.as_deref(), Some("2.1"));
    assert_eq!(
        t.updates
            .running(t.current.get(&AttributeClass::Firmware).copied())
            .map(|i| (i.entry, i.kind.as_str())),
        Some((plain, "firmware-installed"))
    );
}

#[test]
fn a_failure_is_kept_as_the_latest_update_and_changes_no_firmware() {
    let mut log = Log::new();
    log.report(
        1,
        100,
        json!({"state": "installed", "version": "1.0", "image_sha256": digest(1)}),
    )
    .expect("installed");
    let failed = log
        .report(2, 200, json!({"state": "failed", "version": "2.0", "image_sha256": digest(2), "reason": "signature"}))
        .expect("failed");
    let t = log.twin();
    assert_eq!(t.firmware.as_deref(), Some("1.0"));
    let latest = t.updates.latest.as_ref().expect("latest");
    assert_eq!(
        (latest.entry, latest.state, latest.reason.as_deref()),
        (failed, UpdateState::Failed, Some("signature"))
    );
    // A report without an update section keeps it.
    log.add(
        DEVICE,
        DEVICE,
        json!({"type": "device-report", "counter": 3, "timestamp": 300}),
        300,
    )
    .expect("plain report");
    assert_eq!(log.twin().updates.latest.map(|l| l.entry), Some(failed));
}

#[test]
fn a_malformed_update_section_refuses_the_statement_and_changes_nothing() {
    for (update, why) in [
        (
            json!({"state": "done", "version": "2.0", "image_sha256": digest(2)}),
            "unknown variant",
        ),
        (
            json!({"state": "installed", "version": "2.0", "image_sha256": "AB"}),
            "64 lowercase hex",
        ),
        (
            json!({"state": "failed", "version": "2.0", "image_sha256": digest(2)}),
            "says why",
        ),
        (
            json!({"state": "installed", "version": "", "image_sha256": digest(2)}),
            "update.version",
        ),
        (
            json!({"state": "installed", "version": "2.0", "image_sha256": digest(2), "extra": 1}),
            "unknown field",
        ),
    ] {
        let mut log = Log::new();
        let before = log.twin();
        let got = log.report(1, 100, update.clone());
        let err = got.expect_err("refused");
        assert!(err.contains(why), "{update}: {err}");
        assert_eq!(log.twin(), before, "{update}");
    }
}

#[test]
fn only_the_latest_installs_are_kept_and_a_refold_gives_the_same_twin() {
    let mut log = Log::new();
    for i in 0..(INSTALLS_KEPT_MAX as u64 + 3) {
        log.report(i + 1, 100 + i as i64, json!({"state": "installed", "version": format!("1.{i}"), "image_sha256": digest(i as u8)}))
            .expect("installed");
    }
    let t = log.twin();
    assert_eq!(t.updates.installs.len(), INSTALLS_KEPT_MAX);
    assert_eq!(
        t.updates.installs.first().map(|i| i.version.as_str()),
        Some("1.3")
    );
    let mut again = Projection::new(ConsensusPolicy::default()).with_builtin_types(report_type());
    for (i, e) in log.entries.iter().enumerate() {
        let _ = again.ingest(i as u64, e);
    }
    assert_eq!(again.twin(&t.device), Some(t));
}

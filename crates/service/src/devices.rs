//! What devices say about themselves: the `device-report` statement type
//! (a device's signed report, see `docs/device-reports.md`), as a built-in
//! custom type of the fold, and the use cases on reports.
//!
//! A report enters the log as a statement the device signs with its
//! registered key (`device-registered.device_key`); only the device itself
//! may assert it (role `device`), never on a decommissioned twin. The
//! projection keeps the latest as the twin's `custom:device-report`
//! attribute; the strict parse of the payload (`posture::report`) is the
//! ingester's, before registration.

use serde_json::json;

/// The statement type of device reports.
pub const REPORT_TYPE: &str = "device-report";

/// The device report as a built-in statement type. The fold checks its
/// shape's outline (a counter and a timestamp, integers); the device
/// channel parses every field strictly before it registers one.
pub fn report_type() -> twin::BuiltinType {
    twin::BuiltinType {
        name: REPORT_TYPE.into(),
        schema: json!({
            "type": "object",
            "properties": {
                "counter": {"type": "integer", "minimum": 0},
                "timestamp": {"type": "integer", "minimum": 0}
            },
            "required": ["counter", "timestamp"]
        }),
        rule: twin::Rule::new(&[twin::Role::Device], &[]),
        sets_attributes: None,
        description: "a device's signed report of its own state (docs/device-reports.md)".into(),
    }
}

/// The counter of a `device-report` claim's payload, if it is one.
pub fn report_counter(body: &twin::StatementBody) -> Option<u64> {
    match body {
        twin::StatementBody::Custom {
            custom_type,
            content,
        } if custom_type == REPORT_TYPE => content.get("counter").and_then(|c| c.as_u64()),
        _ => None,
    }
}

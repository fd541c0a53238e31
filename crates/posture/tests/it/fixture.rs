//! Compact fixtures: a clean device report (every section present, no rule
//! fires on it) as JSON, patched by dotted path to plant one weakness.

use posture::report::DeviceReport;
use serde_json::{json, Value};

/// The audit's "now", unix seconds (2025-06-15).
pub const NOW: i64 = 1_750_000_000;
/// A day, in seconds.
pub const DAY: i64 = 86_400;

/// 64 hex digits: the byte `b` 32 times.
pub fn hex(b: u8) -> String {
    format!("{b:02x}").repeat(32)
}

/// A clean report of device number `n` (its own certificate and client id).
pub fn clean(n: u8) -> Value {
    json!({
        "type": "device-report",
        "v": 1,
        "counter": 7,
        "timestamp": NOW - 60,
        "client_id": format!("dev-{n}"),
        "firmware": {"version": "2.4.0", "image_sha256": hex(0xaa)},
        "secure_boot": true,
        "secure_storage": true,
        "debug_interfaces": {"jtag": false, "uart": false, "ssh": false},
        "credentials": "unique-per-device",
        "tls": {
            "versions": ["TLSv1.2", "TLSv1.3"],
            "cipher_suites": ["TLS_AES_128_GCM_SHA256", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"]
        },
        "certificate": {
            "subject": format!("CN=dev-{n},O=Acme"),
            "issuer": "CN=Acme Device CA,O=Acme",
            "key_type": "ecdsa",
            "key_bits": 256,
            "not_before": NOW - 100 * DAY,
            "not_after": NOW + 300 * DAY,
            "serial": "1f2e3d",
            "fingerprint_sha256": hex(n)
        },
        "logging_enabled": true,
        "ai_models": [{"id": "person-detector", "model_sha256": hex(0xcc)}],
        "metrics": {
            "listening-tcp-ports": [443, 8883],
            "listening-udp-ports": [5683],
            "num-listening-tcp-ports": 2,
            "num-listening-udp-ports": 1,
            "num-established-tcp-connections": 3,
            "all-bytes-in": 1000,
            "all-bytes-out": 2000,
            "all-packets-in": 10,
            "all-packets-out": 20,
            "destination-ip-addresses": ["203.0.113.10"],
            "authentication-failures": 0,
            "reboots": 0,
            "update-attempts": 0
        },
        "checkpoint_seen": {"size": 10, "root_hash": hex(0xdd)}
    })
}

/// Sets `path` (dotted; objects created on the way) to `value`.
pub fn set(doc: &mut Value, path: &str, value: Value) {
    let mut at = doc;
    let mut parts = path.split('.').peekable();
    while let Some(key) = parts.next() {
        let obj = at.as_object_mut().expect("an object on the path");
        if parts.peek().is_none() {
            obj.insert(key.to_string(), value);
            return;
        }
        at = obj.entry(key).or_insert_with(|| json!({}));
    }
}

/// Removes `path` (dotted).
pub fn remove(doc: &mut Value, path: &str) {
    let (parent, key) = match path.rsplit_once('.') {
        Some((p, k)) => (doc.pointer_mut(&format!("/{}", p.replace('.', "/"))), k),
        None => (Some(doc), path),
    };
    if let Some(obj) = parent.and_then(Value::as_object_mut) {
        obj.remove(key);
    }
}

/// Parses a JSON report that must be valid.
pub fn report(doc: &Value) -> DeviceReport {
    DeviceReport::parse(&serde_json::to_vec(doc).expect("JSON"))
        .unwrap_or_else(|e| panic!("fixture does not parse: {e}"))
}

/// `clean(n)` with `patch` applied, parsed.
pub fn planted(n: u8, patch: impl FnOnce(&mut Value)) -> DeviceReport {
    let mut doc = clean(n);
    patch(&mut doc);
    report(&doc)
}

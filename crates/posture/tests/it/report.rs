//! The report payload at the boundary: what parses (and how it is
//! normalized), and every refusal with its exact error.

use std::net::IpAddr;

use posture::replay::RejectReason;
use posture::report::{
    AddressSet, AiModel, Bounded, Certificate, CheckpointSeen, Credentials, DebugInterfaces,
    DeviceReport, DistinguishedName, Firmware, KeyType, Metrics, PortSet, ReportError, ReportText,
    Serial, ServiceName, ServiceSet, Sha256, Tls, TlsVersion, Update, UpdateState, AI_MODELS_MAX,
    CIPHER_SUITES_MAX, DESTINATIONS_MAX, DISTINGUISHED_NAME_BYTES_MAX, PORTS_MAX, REPORT_BYTES_MAX,
    SERVICES_MAX, SERVICE_NAME_BYTES_MAX, TEXT_BYTES_MAX, TLS_VERSIONS_MAX,
};
use serde_json::{json, Value};

use crate::fixture::{clean, hex, remove, report, set, NOW};

#[test]
fn the_clean_report_parses_and_round_trips() {
    let r = report(&clean(1));
    assert_eq!(r.counter, 7);
    assert_eq!(r.credentials, Some(Credentials::UniquePerDevice));
    assert_eq!(r.metrics.as_ref().and_then(|m| m.all_bytes_out), Some(2000));
    let again = DeviceReport::parse(&r.to_json()).expect("round trip");
    assert_eq!(again, r);
    // The fixture is written in the canonical form: same JSON back.
    let back: Value = serde_json::from_slice(&r.to_json()).expect("JSON");
    assert_eq!(back, clean(1));
}

#[test]
fn every_section_is_optional_and_null_is_absent() {
    let r = DeviceReport::parse(br#"{"type":"device-report","v":1,"counter":0,"timestamp":0}"#)
        .expect("minimal");
    assert_eq!(r, DeviceReport::new(0, 0));
    let r = DeviceReport::parse(
        br#"{"type":"device-report","v":1,"counter":1,"timestamp":2,"firmware":null,"metrics":{}}"#,
    )
    .expect("null and empty");
    assert_eq!(r.firmware, None);
    assert_eq!(r.metrics, Some(Metrics::default()));
}

#[test]
fn sets_are_normalized() {
    let mut doc = clean(1);
    set(
        &mut doc,
        "metrics.listening-tcp-ports",
        json!([8883, 443, 443]),
    );
    set(
        &mut doc,
        "metrics.destination-ip-addresses",
        json!(["2001:db8:0:0:0:0:0:1", "10.0.0.1", "2001:db8::1"]),
    );
    let r = report(&doc);
    let m = r.metrics.as_ref().expect("metrics");
    assert_eq!(
        m.listening_tcp_ports.as_ref().map(PortSet::as_slice),
        Some(&[443, 8883][..])
    );
    let want: Vec<IpAddr> = ["10.0.0.1", "2001:db8::1"]
        .iter()
        .map(|a| a.parse().expect("ip"))
        .collect();
    assert_eq!(
        m.destination_ip_addresses
            .as_ref()
            .map(AddressSet::as_slice),
        Some(&want[..])
    );
}

#[test]
fn services_are_a_set_of_names_found_without_regard_to_case() {
    let mut doc = clean(1);
    set(
        &mut doc,
        "services",
        json!(["telnetd", "dropbear", "avahi-daemon", "telnetd"]),
    );
    let r = report(&doc);
    let services = r.services.as_ref().expect("services");
    let names: Vec<&str> = services
        .as_slice()
        .iter()
        .map(ServiceName::as_str)
        .collect();
    assert_eq!(names, ["avahi-daemon", "dropbear", "telnetd"]);
    assert_eq!(
        services.find("TelnetD").map(ServiceName::as_str),
        Some("telnetd")
    );
    assert_eq!(services.find("telnet"), None, "a name, not a prefix");
    assert_eq!(DeviceReport::parse(&r.to_json()).expect("round trip"), r);
    // A report without the section says nothing about services.
    assert_eq!(report(&clean(1)).services, None);
}

#[test]
fn brackets_and_quotes_inside_strings_are_text() {
    let mut doc = clean(1);
    set(&mut doc, "client_id", json!("dev \"[1]\" {x} \\"));
    set(&mut doc, "certificate.subject", json!("CN=[a],O={b}"));
    let r = report(&doc);
    assert_eq!(
        r.client_id.as_ref().map(ReportText::as_str),
        Some("dev \"[1]\" {x} \\")
    );
}

/// What a refused payload must answer.
enum Expect {
    Invalid(&'static str, &'static str),
    WrongType(&'static str),
    Unsupported(&'static str),
    Oversized,
}

fn patched(patch: impl FnOnce(&mut Value)) -> Vec<u8> {
    let mut doc = clean(1);
    patch(&mut doc);
    serde_json::to_vec(&doc).expect("JSON")
}

fn many(n: usize, item: impl Fn(usize) -> Value) -> Value {
    Value::Array((0..n).map(item).collect())
}

#[test]
fn refusals_name_the_field_and_the_reason() {
    use Expect::*;
    let clean_bytes = serde_json::to_vec(&clean(1)).expect("JSON");
    let cases: Vec<(&str, Vec<u8>, Expect)> = vec![
        (
            "not JSON",
            b"hello".to_vec(),
            Invalid(".", "expected value"),
        ),
        (
            "a list",
            b"[]".to_vec(),
            Invalid(".", "a report is a JSON object"),
        ),
        (
            "the fields as a list",
            serde_json::to_vec(&json!([
                "device-report",
                1,
                7,
                NOW,
                null,
                null,
                null,
                null,
                null,
                null,
                null,
                null,
                null,
                null,
                null,
                null
            ]))
            .expect("JSON"),
            Invalid(".", "a report is a JSON object"),
        ),
        (
            "a section as a list",
            patched(|d| set(d, "firmware", json!(["2.4.0", hex(0xaa)]))),
            Invalid("firmware", "a list where an object or a value belongs"),
        ),
        (
            "a model as a list",
            patched(|d| set(d, "ai_models", json!([["m", hex(1)]]))),
            Invalid(".", "a list inside a list"),
        ),
        (
            "trailing bytes",
            [clean_bytes.as_slice(), b" x"].concat(),
            Invalid(".", "trailing characters"),
        ),
        (
            "a duplicate key",
            br#"{"type":"device-report","v":1,"counter":1,"counter":2,"timestamp":0}"#.to_vec(),
            Invalid(".", "duplicate field `counter`"),
        ),
        (
            "an unknown field",
            patched(|d| set(d, "colour", json!("red"))),
            Invalid("colour", "unknown field `colour`"),
        ),
        (
            "an unknown metric",
            patched(|d| set(d, "metrics.aws:all-bytes-out", json!(1))),
            Invalid("metrics.aws:all-bytes-out", "unknown field"),
        ),
        (
            "an unknown section field",
            patched(|d| set(d, "firmware.build", json!("x"))),
            Invalid("firmware.build", "unknown field"),
        ),
        (
            "no counter",
            patched(|d| remove(d, "counter")),
            Invalid(".", "missing field `counter`"),
        ),
        (
            "no v",
            patched(|d| remove(d, "v")),
            Invalid(".", "missing field `v`"),
        ),
        (
            "another statement type",
            patched(|d| set(d, "type", json!("firmware-installed"))),
            WrongType("\"firmware-installed\""),
        ),
        (
            "a type that is not a string",
            patched(|d| set(d, "type", json!(1))),
            WrongType("1"),
        ),
        (
            "version 2",
            patched(|d| set(d, "v", json!(2))),
            Unsupported("2"),
        ),
        (
            "a negative counter",
            patched(|d| set(d, "counter", json!(-1))),
            Invalid("counter", "invalid value: integer `-1`"),
        ),
        (
            "a negative timestamp",
            patched(|d| set(d, "timestamp", json!(-1))),
            Invalid("timestamp", "negative"),
        ),
        (
            "an uppercase digest",
            patched(|d| set(d, "firmware.image_sha256", json!(hex(0xaa).to_uppercase()))),
            Invalid("firmware.image_sha256", "64 lowercase hex digits"),
        ),
        (
            "a short digest",
            patched(|d| set(d, "checkpoint_seen.root_hash", json!("abcd"))),
            Invalid("checkpoint_seen.root_hash", "64 lowercase hex digits"),
        ),
        (
            "an unknown update state",
            patched(|d| {
                set(
                    d,
                    "update",
                    json!({"state": "done", "version": "2.5.0", "image_sha256": hex(0xbb)}),
                )
            }),
            Invalid("update.state", "unknown variant `done`"),
        ),
        (
            "an update without a digest",
            patched(|d| {
                set(
                    d,
                    "update",
                    json!({"state": "installed", "version": "2.5.0"}),
                )
            }),
            Invalid("update", "missing field `image_sha256`"),
        ),
        (
            "a failed update without a reason",
            patched(|d| {
                set(
                    d,
                    "update",
                    json!({"state": "failed", "version": "2.5.0", "image_sha256": hex(0xbb)}),
                )
            }),
            Invalid("update.reason", "a failed update says why"),
        ),
        (
            "an installed update with a reason",
            patched(|d| {
                set(
                    d,
                    "update",
                    json!({"state": "installed", "version": "2.5.0", "image_sha256": hex(0xbb), "reason": "ok"}),
                )
            }),
            Invalid("update.reason", "only a failed update has a reason"),
        ),
        (
            "an unknown update field",
            patched(|d| {
                set(
                    d,
                    "update",
                    json!({"state": "attempted", "version": "2.5.0", "image_sha256": hex(0xbb), "slot": "b"}),
                )
            }),
            Invalid("update.slot", "unknown field"),
        ),
        (
            "an update as a list",
            patched(|d| set(d, "update", json!(["attempted", "2.5.0", hex(0xbb)]))),
            Invalid("update", "a list where an object or a value belongs"),
        ),
        (
            "unknown credentials",
            patched(|d| set(d, "credentials", json!("default"))),
            Invalid("credentials", "unknown variant `default`"),
        ),
        (
            "an unknown TLS version",
            patched(|d| set(d, "tls.versions", json!(["TLSv1.4"]))),
            Invalid("tls.versions[0]", "unknown variant `TLSv1.4`"),
        ),
        (
            "no TLS version",
            patched(|d| set(d, "tls.versions", json!([]))),
            Invalid("tls.versions", "at least one version"),
        ),
        (
            "too many TLS versions",
            patched(|d| {
                set(
                    d,
                    "tls.versions",
                    many(TLS_VERSIONS_MAX + 1, |_| json!("TLSv1.3")),
                )
            }),
            Invalid("tls.versions", "more than 8 items"),
        ),
        (
            "too many cipher suites",
            patched(|d| {
                let suites = many(CIPHER_SUITES_MAX + 1, |i| json!(format!("TLS_{i}")));
                set(d, "tls.cipher_suites", suites)
            }),
            Invalid("tls.cipher_suites", "more than 64 items"),
        ),
        (
            "port 0",
            patched(|d| set(d, "metrics.listening-tcp-ports", json!([0, 443]))),
            Invalid("metrics.listening-tcp-ports", "port 0"),
        ),
        (
            "a port above 65535",
            patched(|d| set(d, "metrics.listening-udp-ports", json!([70000]))),
            Invalid(
                "metrics.listening-udp-ports[0]",
                "invalid value: integer `70000`",
            ),
        ),
        (
            "a port as a string",
            patched(|d| set(d, "metrics.listening-tcp-ports", json!(["443"]))),
            Invalid("metrics.listening-tcp-ports[0]", "invalid type: string"),
        ),
        (
            "too many ports",
            patched(|d| {
                let ports = many(PORTS_MAX + 1, |i| json!(i + 1));
                set(d, "metrics.listening-tcp-ports", ports)
            }),
            Invalid("metrics.listening-tcp-ports", "more than 1024 items"),
        ),
        (
            "a count below its list",
            patched(|d| set(d, "metrics.num-listening-tcp-ports", json!(1))),
            Invalid(
                "metrics.num-listening-tcp-ports",
                "fewer than the 2 ports listed",
            ),
        ),
        (
            "a destination that is not an address",
            patched(|d| set(d, "metrics.destination-ip-addresses", json!(["999.1.1.1"]))),
            Invalid("metrics.destination-ip-addresses[0]", "invalid IP address"),
        ),
        (
            "too many destinations",
            patched(|d| {
                let addrs = many(DESTINATIONS_MAX + 1, |i| {
                    json!(format!("10.0.{}.{}", i / 256, i % 256))
                });
                set(d, "metrics.destination-ip-addresses", addrs)
            }),
            Invalid("metrics.destination-ip-addresses", "more than 256 items"),
        ),
        (
            "a control character",
            patched(|d| set(d, "client_id", json!("dev\n1"))),
            Invalid("client_id", "without control characters"),
        ),
        (
            "empty text",
            patched(|d| set(d, "firmware.version", json!(""))),
            Invalid("firmware.version", "1 to 128 bytes"),
        ),
        (
            "text too long",
            patched(|d| set(d, "client_id", json!("x".repeat(TEXT_BYTES_MAX + 1)))),
            Invalid("client_id", "1 to 128 bytes"),
        ),
        (
            "a subject too long",
            patched(|d| {
                let dn = format!("CN={}", "x".repeat(DISTINGUISHED_NAME_BYTES_MAX));
                set(d, "certificate.subject", json!(dn))
            }),
            Invalid("certificate.subject", "1 to 512 bytes"),
        ),
        (
            "a serial that is not hex",
            patched(|d| set(d, "certificate.serial", json!("0x1f"))),
            Invalid("certificate.serial", "lowercase hex digits"),
        ),
        (
            "an unknown key type",
            patched(|d| set(d, "certificate.key_type", json!("dsa"))),
            Invalid("certificate.key_type", "unknown variant `dsa`"),
        ),
        (
            "a key of 0 bits",
            patched(|d| set(d, "certificate.key_bits", json!(0))),
            Invalid("certificate.key_bits", "expected 1 to 16384"),
        ),
        (
            "a certificate that ends before it starts",
            patched(|d| set(d, "certificate.not_after", json!(NOW - 200 * 86_400))),
            Invalid("certificate.not_after", "before not_before"),
        ),
        (
            "a model listed twice",
            patched(|d| {
                let m = json!({"id": "m", "model_sha256": hex(1)});
                set(d, "ai_models", json!([m.clone(), m]))
            }),
            Invalid("ai_models[1].id", "\"m\" listed twice"),
        ),
        (
            "too many models",
            patched(|d| {
                let ms = many(
                    AI_MODELS_MAX + 1,
                    |i| json!({"id": format!("m{i}"), "model_sha256": hex(1)}),
                );
                set(d, "ai_models", ms)
            }),
            Invalid("ai_models", "more than 16 items"),
        ),
        (
            "a service name with a space",
            patched(|d| set(d, "services", json!(["telnet d"]))),
            Invalid("services[0]", "expected a service name"),
        ),
        (
            "a service name too long",
            patched(|d| {
                set(
                    d,
                    "services",
                    json!(["s".repeat(SERVICE_NAME_BYTES_MAX + 1)]),
                )
            }),
            Invalid("services[0]", "1 to 64 bytes"),
        ),
        (
            "too many services",
            patched(|d| {
                set(
                    d,
                    "services",
                    many(SERVICES_MAX + 1, |i| json!(format!("d{i}"))),
                )
            }),
            Invalid("services", "more than 32 items"),
        ),
        (
            "services as an object",
            patched(|d| set(d, "services", json!({"telnetd": true}))),
            Invalid("services", "invalid type: map"),
        ),
        (
            "a section that is not an object",
            patched(|d| set(d, "debug_interfaces", json!(true))),
            Invalid("debug_interfaces", "invalid type: boolean"),
        ),
        (
            "a half-told section",
            patched(|d| remove(d, "debug_interfaces.ssh")),
            Invalid("debug_interfaces", "missing field `ssh`"),
        ),
        (
            "one byte over the bound",
            {
                let mut b = clean_bytes.clone();
                b.resize(REPORT_BYTES_MAX + 1, b' ');
                b
            },
            Oversized,
        ),
    ];
    let mut failures = Vec::new();
    for (name, payload, expect) in cases {
        let got = DeviceReport::parse(&payload);
        let ok = match (&got, &expect) {
            (Err(ReportError::Invalid { path, message }), Invalid(p, m)) => {
                path == p && message.contains(m)
            }
            (Err(ReportError::WrongType(t)), WrongType(w)) => t == w,
            (Err(ReportError::UnsupportedVersion(v)), Unsupported(w)) => v == w,
            (Err(ReportError::Oversized { bytes, max_bytes }), Oversized) => {
                *bytes == REPORT_BYTES_MAX + 1 && *max_bytes == REPORT_BYTES_MAX
            }
            _ => false,
        };
        if !ok {
            failures.push(format!("{name}: got {got:?}"));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn a_refused_payload_is_counted_as_malformed_or_oversized() {
    let oversized = ReportError::Oversized {
        bytes: 1,
        max_bytes: 0,
    };
    assert_eq!(oversized.reject_reason(), RejectReason::Oversized);
    let e = DeviceReport::parse(b"{}").expect_err("empty object");
    assert_eq!(e.reject_reason(), RejectReason::Malformed);
}

/// The largest legitimate report: every list at its bound, every text at
/// its longest. It must fit in `REPORT_BYTES_MAX` (whose comment says ~39 KiB).
#[test]
fn the_largest_legitimate_report_fits_the_bound() {
    let text = |c: char| ReportText::new(c.to_string().repeat(TEXT_BYTES_MAX)).expect("text");
    let dn = DistinguishedName::new("d".repeat(DISTINGUISHED_NAME_BYTES_MAX)).expect("dn");
    let digest = Sha256::from_bytes([0xff; 32]);
    let mut r = DeviceReport::new(u64::MAX, i64::MAX);
    r.client_id = Some(text('c'));
    r.firmware = Some(Firmware {
        version: text('v'),
        image_sha256: digest,
    });
    r.secure_boot = Some(false);
    r.secure_storage = Some(false);
    r.debug_interfaces = Some(DebugInterfaces {
        jtag: false,
        uart: false,
        ssh: false,
    });
    r.services =
        Some(
            ServiceSet::new((0..SERVICES_MAX).map(|i| {
                ServiceName::new(format!("{i:x<SERVICE_NAME_BYTES_MAX$}")).expect("service")
            }))
            .expect("services"),
        );
    r.credentials = Some(Credentials::UniversalDefault);
    r.tls = Some(Tls {
        versions: Bounded::new(vec![TlsVersion::Dtls1_0; TLS_VERSIONS_MAX]).expect("versions"),
        cipher_suites: Bounded::new(vec![text('s'); CIPHER_SUITES_MAX]).expect("suites"),
    });
    r.certificate = Some(Certificate {
        subject: dn.clone(),
        issuer: dn,
        key_type: KeyType::Ed25519,
        key_bits: 16_384,
        not_before: i64::MAX,
        not_after: i64::MAX,
        serial: Serial::new("f".repeat(40)).expect("serial"),
        fingerprint_sha256: digest,
    });
    r.logging_enabled = Some(false);
    r.ai_models = Some(
        Bounded::new(
            (0..AI_MODELS_MAX)
                .map(|i| AiModel {
                    id: ReportText::new(format!("{i:x<128}")).expect("id"),
                    model_sha256: digest,
                })
                .collect(),
        )
        .expect("models"),
    );
    let ports = PortSet::new((0..PORTS_MAX).map(|i| 65535 - i as u16)).expect("ports");
    let destinations = AddressSet::new((0..DESTINATIONS_MAX).map(|i| {
        let s = format!("ffff:ffff:ffff:ffff:ffff:ffff:ffff:{:04x}", 0xff00 + i);
        s.parse::<IpAddr>().expect("ipv6")
    }))
    .expect("destinations");
    r.metrics = Some(Metrics {
        listening_tcp_ports: Some(ports.clone()),
        listening_udp_ports: Some(ports),
        num_listening_tcp_ports: Some(u64::MAX),
        num_listening_udp_ports: Some(u64::MAX),
        num_established_tcp_connections: Some(u64::MAX),
        all_bytes_in: Some(u64::MAX),
        all_bytes_out: Some(u64::MAX),
        all_packets_in: Some(u64::MAX),
        all_packets_out: Some(u64::MAX),
        destination_ip_addresses: Some(destinations),
        authentication_failures: Some(u64::MAX),
        reboots: Some(u64::MAX),
        update_attempts: Some(u64::MAX),
    });
    r.checkpoint_seen = Some(CheckpointSeen {
        size: u64::MAX,
        root_hash: digest,
    });
    let bytes = r.to_json();
    assert!(
        (36 * 1024..=REPORT_BYTES_MAX).contains(&bytes.len()),
        "the largest report is {} bytes",
        bytes.len()
    );
    assert_eq!(DeviceReport::parse(&bytes).expect("parses"), r);
}

#[test]
fn digests_are_hex_both_ways() {
    let d = Sha256::from_hex(&hex(0x0f)).expect("digest");
    assert_eq!(d.as_bytes(), &[0x0f; 32]);
    assert_eq!(d.to_hex(), hex(0x0f));
    for bad in [
        "",
        "0f",
        &hex(0x0f).to_uppercase(),
        &format!("{}g", &hex(0)[1..]),
    ] {
        assert_eq!(Sha256::from_hex(bad), None, "{bad}");
    }
}

/// The example in the vendors' page (`docs/device-reports.md`) is a valid
/// report, so the page cannot drift from the parser.
#[test]
fn the_documented_example_parses() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/device-reports.md");
    let page = std::fs::read_to_string(path).expect("docs/device-reports.md");
    let start = page.find("```json\n").expect("a JSON example") + "```json\n".len();
    let end = start + page[start..].find("```").expect("its end");
    let r = DeviceReport::parse(&page.as_bytes()[start..end]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.counter, 1042);
    assert!(r.metrics.is_some() && r.checkpoint_seen.is_some() && r.certificate.is_some());
}

#[test]
fn an_update_section_parses_in_each_state_and_round_trips() {
    for (state, reason, want) in [
        ("attempted", None, UpdateState::Attempted),
        ("installed", None, UpdateState::Installed),
        (
            "failed",
            Some("signature check failed"),
            UpdateState::Failed,
        ),
    ] {
        let mut doc = clean(1);
        let mut update = json!({"state": state, "version": "2.5.0", "image_sha256": hex(0xbb), "release_counter": 12});
        if let Some(r) = reason {
            update["reason"] = json!(r);
        }
        set(&mut doc, "update", update);
        let r = report(&doc);
        let u: &Update = r.update.as_ref().expect("update");
        assert_eq!(u.state, want);
        assert_eq!(u.state.as_str(), state);
        assert_eq!(u.version.as_str(), "2.5.0");
        assert_eq!(u.release_counter, Some(12));
        assert_eq!(u.reason.as_ref().map(ReportText::as_str), reason);
        assert_eq!(DeviceReport::parse(&r.to_json()).expect("round trip"), r);
    }
}

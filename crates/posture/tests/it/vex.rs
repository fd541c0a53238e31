//! VEX checked against device reports: the device conditions read from a
//! statement's impact text (and every refusal), and each condition held
//! against reports that make it true, false and unknown.

use posture::evidence::Evidence;
use posture::report::ServiceName;
use posture::vex::{
    conditions_in, contradictions, ConditionError, DebugInterface, DeviceCondition, NotAffected,
    Transport, Verdict, CONDITIONS_MAX,
};
use serde_json::{json, Value};

use crate::fixture::{clean, remove, report, set};

fn port(transport: Transport, port: u16) -> DeviceCondition {
    DeviceCondition::PortNotListening { transport, port }
}

fn service(name: &str) -> DeviceCondition {
    DeviceCondition::ServiceNotRunning(ServiceName::new(name).expect("name"))
}

#[test]
fn conditions_are_read_from_the_impact_text() {
    let cases: Vec<(&str, Vec<DeviceCondition>)> = vec![
        ("no condition here", vec![]),
        (
            "device-condition: tcp port 23 not listening",
            vec![port(Transport::Tcp, 23)],
        ),
        (
            "Telnet is never started. Device-Condition:  TCP  Port 23 NOT listening.",
            vec![port(Transport::Tcp, 23)],
        ),
        (
            "UPnP off by default; device-condition: udp port 1900 not listening; \
             device-condition: service miniupnpd not running",
            vec![port(Transport::Udp, 1900), service("miniupnpd")],
        ),
        (
            "fused at the factory\ndevice-condition: debug interface JTAG disabled\n\
             device-condition: debug interface uart disabled\r\n",
            vec![
                DeviceCondition::DebugInterfaceDisabled(DebugInterface::Jtag),
                DeviceCondition::DebugInterfaceDisabled(DebugInterface::Uart),
            ],
        ),
        (
            "device-condition: service busybox.telnetd@0 not running",
            vec![service("busybox.telnetd@0")],
        ),
        (
            "device-condition: tcp port 23 not listening; device-condition: tcp port 23 not listening",
            vec![port(Transport::Tcp, 23)],
        ),
        (
            "device-condition: tcp port 65535 not listening",
            vec![port(Transport::Tcp, 65535)],
        ),
    ];
    for (text, want) in cases {
        let got = conditions_in(text);
        assert_eq!(got.conditions, want, "{text:?}");
        assert_eq!(got.refused, vec![], "{text:?}");
    }
}

#[test]
fn text_that_is_not_a_condition_is_refused_and_named() {
    let unknown = |t: &str| ConditionError::Unknown { text: t.into() };
    let cases: Vec<(&str, Vec<ConditionError>)> = vec![
        (
            "device-condition: telnet is off",
            vec![unknown("telnet is off")],
        ),
        (
            "device-condition: sctp port 23 not listening",
            vec![unknown("sctp port 23 not listening")],
        ),
        (
            "device-condition: tcp port 0 not listening",
            vec![ConditionError::Port {
                text: "tcp port 0 not listening".into(),
            }],
        ),
        (
            "device-condition: tcp port 65536 not listening",
            vec![ConditionError::Port {
                text: "tcp port 65536 not listening".into(),
            }],
        ),
        (
            "device-condition: tcp port +23 not listening",
            vec![ConditionError::Port {
                text: "tcp port +23 not listening".into(),
            }],
        ),
        (
            "device-condition: tcp port 23 listening",
            vec![unknown("tcp port 23 listening")],
        ),
        (
            "device-condition: debug interface swd disabled",
            vec![unknown("debug interface swd disabled")],
        ),
        (
            "device-condition: service tel/netd not running",
            vec![ConditionError::ServiceName {
                text: "service tel/netd not running".into(),
            }],
        ),
        ("device-condition:", vec![unknown("")]),
    ];
    for (text, want) in cases {
        let got = conditions_in(text);
        assert_eq!(got.conditions, vec![], "{text:?}");
        assert_eq!(got.refused, want, "{text:?}");
    }
    // A long text is cut in the error, at a character boundary.
    let long = format!("device-condition: {}", "é".repeat(100));
    match conditions_in(&long).refused.as_slice() {
        [ConditionError::Unknown { text }] => assert_eq!(text.len(), 80),
        other => panic!("{other:?}"),
    }
}

#[test]
fn at_most_conditions_max_are_read_from_one_statement() {
    let text: String = (1..=CONDITIONS_MAX as u16 + 1)
        .map(|p| format!("device-condition: tcp port {p} not listening;"))
        .collect();
    let got = conditions_in(&text);
    assert_eq!(got.conditions.len(), CONDITIONS_MAX);
    assert_eq!(got.refused, vec![ConditionError::TooMany]);
}

#[test]
fn a_condition_reads_back_from_its_text() {
    for c in [
        port(Transport::Tcp, 23),
        port(Transport::Udp, 1900),
        DeviceCondition::DebugInterfaceDisabled(DebugInterface::Ssh),
        service("telnetd"),
    ] {
        assert_eq!(DeviceCondition::parse(&c.to_string()), Ok(c.clone()));
    }
}

/// Each condition against a clean report patched: (condition, patch,
/// verdict, the report fact that contradicts it).
#[test]
fn each_condition_holds_is_contradicted_or_is_unknown() {
    use Verdict::*;
    type Patch = fn(&mut Value);
    type Fact = Option<(&'static str, Value)>;
    let cases: Vec<(DeviceCondition, &str, Patch, Verdict, Fact)> = vec![
        // The clean report listens on tcp 443 and 8883, udp 5683.
        (port(Transport::Tcp, 23), "clean", |_| {}, Holds, None),
        (
            port(Transport::Tcp, 23),
            "telnet listening",
            |d| set(d, "metrics.listening-tcp-ports", json!([23, 443])),
            Contradicted,
            Some(("metrics.listening-tcp-ports", json!([23, 443]))),
        ),
        (
            port(Transport::Tcp, 5683),
            "the port listens on udp only",
            |_| {},
            Holds,
            None,
        ),
        (
            port(Transport::Udp, 5683),
            "coap listening",
            |_| {},
            Contradicted,
            Some(("metrics.listening-udp-ports", json!([5683]))),
        ),
        (
            port(Transport::Tcp, 23),
            "no port list",
            |d| remove(d, "metrics.listening-tcp-ports"),
            Unknown,
            None,
        ),
        (
            port(Transport::Tcp, 23),
            "no metrics",
            |d| remove(d, "metrics"),
            Unknown,
            None,
        ),
        (
            port(Transport::Tcp, 23),
            "more ports listen than listed",
            |d| set(d, "metrics.num-listening-tcp-ports", json!(5)),
            Unknown,
            None,
        ),
        (
            port(Transport::Tcp, 443),
            "listed, whatever the count",
            |d| set(d, "metrics.num-listening-tcp-ports", json!(5)),
            Contradicted,
            Some(("metrics.listening-tcp-ports", json!([443, 8883]))),
        ),
        (
            DeviceCondition::DebugInterfaceDisabled(DebugInterface::Ssh),
            "clean",
            |_| {},
            Holds,
            None,
        ),
        (
            DeviceCondition::DebugInterfaceDisabled(DebugInterface::Ssh),
            "ssh enabled",
            |d| set(d, "debug_interfaces.ssh", json!(true)),
            Contradicted,
            Some(("debug_interfaces.ssh", json!(true))),
        ),
        (
            DeviceCondition::DebugInterfaceDisabled(DebugInterface::Jtag),
            "ssh enabled says nothing of jtag",
            |d| set(d, "debug_interfaces.ssh", json!(true)),
            Holds,
            None,
        ),
        (
            DeviceCondition::DebugInterfaceDisabled(DebugInterface::Uart),
            "no debug section",
            |d| remove(d, "debug_interfaces"),
            Unknown,
            None,
        ),
        (
            service("telnetd"),
            "no services section",
            |_| {},
            Unknown,
            None,
        ),
        (
            service("telnetd"),
            "other services",
            |d| set(d, "services", json!(["dropbear"])),
            Holds,
            None,
        ),
        (
            service("telnetd"),
            "telnetd running (any case)",
            |d| set(d, "services", json!(["TelnetD", "dropbear"])),
            Contradicted,
            Some(("services", json!(["TelnetD", "dropbear"]))),
        ),
        (
            service("telnetd"),
            "an empty list: nothing runs",
            |d| set(d, "services", json!([])),
            Holds,
            None,
        ),
    ];
    for (condition, name, patch, want, fact) in cases {
        let mut doc = clean(1);
        patch(&mut doc);
        let r = report(&doc);
        let mut evidence = Evidence::new(r.counter);
        let got = condition.check(&r, &mut evidence);
        assert_eq!(got, want, "{condition} / {name}");
        let facts: Vec<(&str, Value)> = evidence
            .report
            .iter()
            .map(|f| (f.field, f.value.clone()))
            .collect();
        assert_eq!(
            facts,
            fact.into_iter().collect::<Vec<_>>(),
            "{condition} / {name}"
        );
    }
}

#[test]
fn contradictions_name_the_statement_and_the_report() {
    let conditions = [
        port(Transport::Tcp, 23),
        DeviceCondition::DebugInterfaceDisabled(DebugInterface::Ssh),
    ];
    let other = [service("telnetd")];
    let statements = [
        NotAffected {
            vulnerability: "CVE-2024-0001",
            issuer: "acme.test",
            entry: 41,
            release: "2.4.0",
            component: Some("pkg:generic/busybox@1.36.1"),
            conditions: &conditions,
        },
        NotAffected {
            vulnerability: "CVE-2024-0002",
            issuer: "acme.test",
            entry: 42,
            release: "2.4.0",
            component: None,
            conditions: &other,
        },
    ];
    let mut doc = clean(1);
    set(&mut doc, "metrics.listening-tcp-ports", json!([23, 443]));
    let r = report(&doc);
    let found = contradictions("door-1", &r, &statements);
    assert_eq!(found.len(), 1, "{found:#?}");
    let c = &found[0];
    assert_eq!(
        (
            c.device.as_str(),
            c.vulnerability.as_str(),
            c.vex_entry,
            c.condition.to_string()
        ),
        (
            "door-1",
            "CVE-2024-0001",
            41,
            "tcp port 23 not listening".into()
        )
    );
    assert_eq!(c.condition.contradicted_by(), "tcp port 23 listening");
    assert_eq!(c.condition.report_section(), "metrics");
    let e = serde_json::to_value(&c.evidence).expect("JSON");
    assert_eq!(
        e,
        json!({
            "report_counter": 7,
            "report": [
                {"field": "metrics.listening-tcp-ports", "value": [23, 443]},
                {"field": "firmware.version", "value": "2.4.0"}
            ],
            "context": [
                {"field": "vex.vulnerability", "value": "CVE-2024-0001"},
                {"field": "vex.issuer", "value": "acme.test"},
                {"field": "vex.entry", "value": 41},
                {"field": "vex.release", "value": "2.4.0"},
                {"field": "vex.component", "value": "pkg:generic/busybox@1.36.1"},
                {"field": "vex.condition", "value": "tcp port 23 not listening"}
            ]
        })
    );
    // The same statements against the clean report: nothing.
    assert_eq!(
        contradictions("door-2", &report(&clean(2)), &statements),
        vec![]
    );
    // Both conditions of the first statement contradicted: two results.
    set(&mut doc, "debug_interfaces.ssh", json!(true));
    let found = contradictions("door-1", &report(&doc), &statements);
    let conditions: Vec<String> = found.iter().map(|c| c.condition.to_string()).collect();
    assert_eq!(
        conditions,
        ["tcp port 23 not listening", "debug interface ssh disabled"]
    );
}

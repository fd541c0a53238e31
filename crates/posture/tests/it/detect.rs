//! Behaviours and alarms: static and statistical thresholds, port and CIDR
//! sets, datapoints to alarm and to clear, verification, and behaviour
//! definitions refused with a reason.

use posture::detect::{
    AlarmEvent, AlarmState, Behaviour, Cidr, Datapoint, Metric, MetricWindow, Monitor, Statistic,
    Verification,
};
use posture::report::DeviceReport;
use serde_json::{json, Value};

use crate::fixture::{planted, set, NOW};

fn behaviour(def: Value) -> Behaviour {
    Behaviour::from_json(def.to_string().as_bytes()).unwrap_or_else(|e| panic!("{e}"))
}

/// A report of device 1 with counter `counter`, `timestamp` NOW + counter
/// minutes, and `metric` set to `value`.
fn with_metric(counter: u64, metric: &str, value: Value) -> DeviceReport {
    planted(1, |r| {
        set(r, "counter", json!(counter));
        set(r, "timestamp", json!(NOW + 60 * counter as i64));
        set(r, &format!("metrics.{metric}"), value);
    })
}

/// Feeds `values` of `metric` to a monitor of `b` for `device`, one
/// report each; the events as (index of the value, "raised"/"cleared").
fn run(
    monitor: &mut Monitor,
    device: &str,
    metric: &str,
    values: &[u64],
    from: u64,
) -> Vec<(u64, &'static str)> {
    let mut out = Vec::new();
    for (i, v) in values.iter().enumerate() {
        let counter = from + i as u64;
        for e in monitor.observe(device, &with_metric(counter, metric, json!(v))) {
            out.push((
                counter,
                match e {
                    AlarmEvent::Raised(_) => "raised",
                    AlarmEvent::Cleared { .. } => "cleared",
                },
            ));
        }
    }
    out
}

#[test]
fn a_static_threshold_alarms_and_clears_after_consecutive_datapoints() {
    let b = behaviour(json!({
        "name": "bytes-out",
        "metric": "all-bytes-out",
        "criteria": {
            "comparison_operator": "less-than-equals",
            "value": {"count": 4096},
            "datapoints_to_alarm": 2,
            "datapoints_to_clear": 3
        }
    }));
    let mut m = Monitor::new(vec![b]).expect("monitor");
    // One violation alone, then two in a row (raised at 3); three normal in
    // a row clear it (at 8): the violation at 5 restarts the count.
    let values = [5000, 10, 5000, 5000, 10, 5000, 10, 10, 10, 5000];
    assert_eq!(
        run(&mut m, "dev-1", "all-bytes-out", &values, 0),
        [(3, "raised"), (8, "cleared")]
    );
    // Another device has its own state.
    assert_eq!(run(&mut m, "dev-2", "all-bytes-out", &[5000], 0), []);
    assert!(m
        .alarm("dev-1", "bytes-out")
        .and_then(AlarmState::active)
        .is_none());
}

#[test]
fn an_alarm_carries_its_evidence_and_verification() {
    let b = behaviour(json!({
        "name": "auth",
        "metric": "authentication-failures",
        "criteria": {"comparison_operator": "less-than", "value": {"count": 5}}
    }));
    let mut m = Monitor::new(vec![b]).expect("monitor");
    let events = m.observe(
        "dev-1",
        &with_metric(42, "authentication-failures", json!(9)),
    );
    let [AlarmEvent::Raised(alarm)] = events.as_slice() else {
        panic!("{events:?}");
    };
    assert_eq!(alarm.device, "dev-1");
    assert_eq!(alarm.raised_at, NOW + 42 * 60);
    assert_eq!(alarm.evidence.report_counter, 42);
    assert_eq!(
        alarm
            .evidence
            .report_value("metrics.authentication-failures"),
        Some(&json!(9))
    );
    assert_eq!(alarm.evidence.context_value("threshold"), Some(&json!(5)));
    assert_eq!(
        alarm.evidence.context_value("operator"),
        Some(&json!("less-than"))
    );
    assert_eq!(alarm.verification, Verification::Unknown);
    assert!(m.verify("dev-1", "auth", Verification::BenignPositive));
    let state = m
        .alarm("dev-1", "auth")
        .and_then(AlarmState::active)
        .expect("active");
    assert_eq!(state.verification.as_str(), "benign-positive");
    assert!(
        !m.verify("dev-2", "auth", Verification::TruePositive),
        "no alarm there"
    );
    assert!(!m.verify("dev-1", "nope", Verification::TruePositive));
}

#[test]
fn a_device_baseline_percentile_needs_enough_samples() {
    let b = behaviour(json!({
        "name": "conns",
        "metric": "num-established-tcp-connections",
        "criteria": {
            "comparison_operator": "less-than-equals",
            "statistical_threshold": {"statistic": "p90", "baseline": "device", "samples_min": 5},
            "duration_s": 3600,
            "datapoints_to_alarm": 1,
            "datapoints_to_clear": 1
        }
    }));
    let mut m = Monitor::new(vec![b]).expect("monitor");
    // The first five build the baseline (no data: fewer than 5 samples
    // before each); 1000 at the sixth exceeds p90 of [3,4,5,4,3] = 5 and
    // raises; 4 clears.
    let values = [3, 4, 5, 4, 3, 1000, 4];
    assert_eq!(
        run(
            &mut m,
            "dev-1",
            "num-established-tcp-connections",
            &values,
            0
        ),
        [(5, "raised"), (6, "cleared")]
    );
    // A device's own baseline is its own: dev-2 has none yet.
    assert_eq!(
        run(
            &mut m,
            "dev-2",
            "num-established-tcp-connections",
            &[1000],
            0
        ),
        []
    );
}

#[test]
fn a_group_baseline_is_shared_by_the_profile_s_devices() {
    let b = behaviour(json!({
        "name": "bytes-in",
        "metric": "all-bytes-in",
        "criteria": {
            "comparison_operator": "less-than-equals",
            "statistical_threshold": {"statistic": "p99", "baseline": "group", "samples_min": 3},
            "duration_s": 3600,
            "datapoints_to_alarm": 1
        }
    }));
    let mut m = Monitor::new(vec![b]).expect("monitor");
    for (i, dev) in ["dev-1", "dev-2", "dev-3"].iter().enumerate() {
        assert_eq!(run(&mut m, dev, "all-bytes-in", &[100], i as u64), []);
    }
    // dev-4's first report is judged against the others' values.
    assert_eq!(
        run(&mut m, "dev-4", "all-bytes-in", &[101], 3),
        [(3, "raised")]
    );
}

#[test]
fn a_window_forgets_what_is_older_than_its_duration() {
    let b = behaviour(json!({
        "name": "w",
        "metric": "reboots",
        "criteria": {
            "comparison_operator": "less-than-equals",
            "statistical_threshold": {"statistic": "p50", "baseline": "device", "samples_min": 2},
            "duration_s": 120
        }
    }));
    let mut m = Monitor::new(vec![b]).expect("monitor");
    // Reports a minute apart, a two-minute window. At counter 2 the window
    // holds [0, 0] (p50 0): 1 violates. At counter 4 it holds only the
    // values of counters 2 and 3, [1, 5] (p50 1): 1 is normal again, where
    // a window that forgot nothing, [0, 0, 1, 5], would still say 0.
    assert_eq!(run(&mut m, "d", "reboots", &[0, 0, 1], 0), [(2, "raised")]);
    assert_eq!(run(&mut m, "d", "reboots", &[5, 1], 3), [(4, "cleared")]);
}

#[test]
fn percentiles_are_nearest_rank() {
    let mut w = MetricWindow::new(3600, 100);
    assert_eq!(w.percentile(Statistic::P50), None);
    for v in 1..=10 {
        w.push(NOW, v);
    }
    for (s, want) in [
        (Statistic::P0_1, 1),
        (Statistic::P1, 1),
        (Statistic::P10, 1),
        (Statistic::P50, 5),
        (Statistic::P90, 9),
        (Statistic::P99, 10),
        (Statistic::P99_9, 10),
    ] {
        assert_eq!(w.percentile(s), Some(want), "{}", s.as_str());
    }
    // The sample bound drops the oldest first.
    let mut w = MetricWindow::new(3600, 3);
    for v in [9, 1, 2, 3] {
        w.push(NOW, v);
    }
    assert_eq!((w.len(), w.percentile(Statistic::P99)), (3, Some(3)));
}

#[test]
fn port_and_cidr_sets() {
    let only_tls = behaviour(json!({
        "name": "ports", "metric": "listening-tcp-ports",
        "criteria": {"comparison_operator": "in-port-set", "value": {"ports": [443, 8883]}}
    }));
    let no_telnet = behaviour(json!({
        "name": "telnet", "metric": "listening-tcp-ports",
        "criteria": {"comparison_operator": "not-in-port-set", "value": {"ports": [23, 2323]}}
    }));
    let inside = behaviour(json!({
        "name": "dest", "metric": "destination-ip-addresses",
        "criteria": {"comparison_operator": "in-cidr-set", "value": {"cidrs": ["203.0.113.0/24", "2001:db8::/32"]}}
    }));
    let not_bad = behaviour(json!({
        "name": "bad", "metric": "destination-ip-addresses",
        "criteria": {"comparison_operator": "not-in-cidr-set", "value": {"cidrs": ["198.51.100.7/32"]}}
    }));
    let ports = |p: Value| {
        planted(1, |r| {
            crate::fixture::remove(r, "metrics.num-listening-tcp-ports");
            set(r, "metrics.listening-tcp-ports", p);
        })
    };
    let dests = |d: Value| with_metric(1, "destination-ip-addresses", d);
    let violation = |observed: Value| match observed {
        Value::Null => Datapoint::Normal,
        o => Datapoint::Violation(posture::detect::Violation {
            observed: o,
            threshold: None,
            baseline_samples: None,
        }),
    };
    let cases: Vec<(&Behaviour, DeviceReport, Value)> = vec![
        (&only_tls, ports(json!([443])), Value::Null),
        (&only_tls, ports(json!([22, 443, 8080])), json!([22, 8080])),
        (&no_telnet, ports(json!([443])), Value::Null),
        (&no_telnet, ports(json!([23, 443])), json!([23])),
        (
            &inside,
            dests(json!(["203.0.113.9", "2001:db8::5"])),
            Value::Null,
        ),
        (
            &inside,
            dests(json!(["203.0.114.1", "10.0.0.1"])),
            json!(["10.0.0.1", "203.0.114.1"]),
        ),
        (&not_bad, dests(json!(["198.51.100.8"])), Value::Null),
        (
            &not_bad,
            dests(json!(["198.51.100.7"])),
            json!(["198.51.100.7"]),
        ),
    ];
    for (b, report, want) in cases {
        assert_eq!(
            b.evaluate(&report, None),
            violation(want.clone()),
            "{} {want}",
            b.name()
        );
    }
    // Not reported: no data, never normal.
    let silent = planted(1, |r| crate::fixture::remove(r, "metrics"));
    assert_eq!(only_tls.evaluate(&silent, None), Datapoint::NoData);
}

#[test]
fn cidr_blocks_parse_strictly() {
    let addr = |s: &str| s.parse().expect("ip");
    for (text, inside, outside) in [
        ("10.0.0.0/8", "10.255.0.1", "11.0.0.1"),
        ("0.0.0.0/0", "1.2.3.4", "::1"),
        ("2001:db8::/32", "2001:db8:ffff::1", "2001:db9::1"),
        ("::/0", "::1", "1.2.3.4"),
        ("192.0.2.1/32", "192.0.2.1", "192.0.2.2"),
    ] {
        let c = Cidr::parse(text).unwrap_or_else(|| panic!("{text}"));
        assert!(c.contains(&addr(inside)), "{text} ∋ {inside}");
        assert!(!c.contains(&addr(outside)), "{text} ∌ {outside}");
        assert_eq!(c.to_string(), text);
    }
    for bad in [
        "10.0.0.1/8",
        "10.0.0.0/33",
        "10.0.0.0",
        "10.0.0.0/",
        "10.0.0.0/+8",
        "::/129",
        "x/8",
    ] {
        assert_eq!(Cidr::parse(bad), None, "{bad}");
    }
}

#[test]
fn behaviours_are_checked() {
    let cases: Vec<(Value, &str)> = vec![
        (
            json!({"name": "a b", "metric": "reboots", "criteria": {"comparison_operator": "less-than", "value": {"count": 1}}}),
            "a name is",
        ),
        (
            json!({"name": "x", "metric": "aws:reboots", "criteria": {"comparison_operator": "less-than", "value": {"count": 1}}}),
            "unknown variant",
        ),
        (
            json!({"name": "x", "metric": "reboots", "criteria": {"comparison_operator": "less-than"}}),
            "a comparison needs",
        ),
        (
            json!({"name": "x", "metric": "reboots", "criteria": {"comparison_operator": "less-than", "value": {"count": 1}, "datapoints_to_alarm": 11}}),
            "1 to 10",
        ),
        (
            json!({"name": "x", "metric": "reboots", "criteria": {"comparison_operator": "less-than", "value": {"count": 1}, "datapoints_to_clear": 0}}),
            "1 to 10",
        ),
        (
            json!({"name": "x", "metric": "listening-tcp-ports", "criteria": {"comparison_operator": "less-than", "value": {"count": 1}}}),
            "count metrics",
        ),
        (
            json!({"name": "x", "metric": "reboots", "criteria": {"comparison_operator": "in-port-set", "value": {"ports": [22]}}}),
            "port sets apply",
        ),
        (
            json!({"name": "x", "metric": "listening-udp-ports", "criteria": {"comparison_operator": "in-cidr-set", "value": {"cidrs": ["10.0.0.0/8"]}}}),
            "CIDR sets apply",
        ),
        (
            json!({"name": "x", "metric": "destination-ip-addresses", "criteria": {"comparison_operator": "in-cidr-set", "value": {"cidrs": ["10.0.0.1/8"]}}}),
            "not a CIDR block",
        ),
        (
            json!({"name": "x", "metric": "listening-tcp-ports", "criteria": {"comparison_operator": "in-port-set", "value": {"count": 1}}}),
            "does not fit",
        ),
        (
            json!({"name": "x", "metric": "reboots", "criteria": {"comparison_operator": "less-than", "statistical_threshold": {"statistic": "p90", "baseline": "device"}}}),
            "needs duration_s",
        ),
        (
            json!({"name": "x", "metric": "reboots", "criteria": {"comparison_operator": "less-than", "statistical_threshold": {"statistic": "p95", "baseline": "device"}, "duration_s": 60}}),
            "unknown variant `p95`",
        ),
        (
            json!({"name": "x", "metric": "reboots", "criteria": {"comparison_operator": "less-than", "value": {"count": 1}, "statistical_threshold": {"statistic": "p90", "baseline": "group"}, "duration_s": 60}}),
            "not both",
        ),
        (
            json!({"name": "x", "metric": "reboots", "criteria": {"comparison_operator": "less-than", "value": {"count": 1}, "suppress": true}}),
            "unknown field",
        ),
    ];
    for (def, needle) in cases {
        let e = Behaviour::from_json(def.to_string().as_bytes()).expect_err(needle);
        assert!(e.to_string().contains(needle), "{def}: {e}");
    }
    let b = behaviour(
        json!({"name": "x", "metric": "reboots", "criteria": {"comparison_operator": "less-than", "value": {"count": 1}}}),
    );
    assert_eq!(b.metric(), Metric::Reboots);
    let e = Monitor::new(vec![b.clone(), b]).expect_err("duplicate name");
    assert!(e.to_string().contains("two behaviours"), "{e}");
}

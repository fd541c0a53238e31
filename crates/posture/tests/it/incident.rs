//! The built-in incident rules, each firing on its planted incident with
//! both sides as evidence, and silent on a clean report and on unknowns.

use posture::detect::{MetricWindow, Statistic};
use posture::incident::{
    ai_model_substituted, device_silent, firmware_below_minimum, firmware_not_released, split_view,
    AuthFailureSpike, IncidentKind, NetworkBaseline, Releases,
};
use posture::report::Sha256;
use serde_json::json;

use crate::fixture::{clean, hex, planted, report, set, NOW};

fn digest(b: u8) -> Sha256 {
    Sha256::from_bytes([b; 32])
}

#[test]
fn unreleased_firmware() {
    let releases = Releases::new([("2.3.0", digest(0xa9)), ("2.4.0", digest(0xaa))]);
    assert_eq!(
        firmware_not_released("dev-1", &report(&clean(1)), &releases),
        None
    );
    let tampered = planted(1, |r| set(r, "firmware.image_sha256", json!(hex(0xbb))));
    let i = firmware_not_released("dev-1", &tampered, &releases).expect("incident");
    assert_eq!(i.kind, IncidentKind::FirmwareNotReleased);
    assert_eq!(i.severity().as_str(), "critical");
    assert_eq!(
        i.evidence.report_value("firmware.image_sha256"),
        Some(&json!(hex(0xbb)))
    );
    assert_eq!(
        i.evidence.context_value("released_image_sha256"),
        Some(&json!(hex(0xaa))),
        "the image released under the version the device claims"
    );
    let unknown_version = planted(1, |r| {
        set(r, "firmware.version", json!("6.6.6"));
        set(r, "firmware.image_sha256", json!(hex(0xbb)));
    });
    let i = firmware_not_released("dev-1", &unknown_version, &releases).expect("incident");
    assert_eq!(
        i.evidence.context_value("released_image_sha256"),
        Some(&json!(null))
    );
    let silent = planted(1, |r| crate::fixture::remove(r, "firmware"));
    assert_eq!(firmware_not_released("dev-1", &silent, &releases), None);
}

#[test]
fn an_installed_update_of_an_image_no_release_names_is_unreleased_firmware() {
    let releases = Releases::new([("2.4.0", digest(0xaa)), ("2.5.0", digest(0xab))]);
    let update = |state: &str, image: u8| {
        planted(1, |r| {
            set(
                r,
                "update",
                json!({"state": state, "version": "2.5.0", "image_sha256": hex(image)}),
            );
        })
    };
    assert_eq!(
        firmware_not_released("dev-1", &update("installed", 0xab), &releases),
        None,
        "the released 2.5.0"
    );
    assert_eq!(
        firmware_not_released("dev-1", &update("attempted", 0xcc), &releases),
        None,
        "an attempt installs nothing"
    );
    let i =
        firmware_not_released("dev-1", &update("installed", 0xcc), &releases).expect("incident");
    assert_eq!(
        i.evidence.report_value("update.image_sha256"),
        Some(&json!(hex(0xcc)))
    );
    assert_eq!(
        i.evidence.context_value("released_image_sha256"),
        Some(&json!(hex(0xab)))
    );
}

#[test]
fn firmware_below_the_minimum() {
    let r = report(&clean(1)); // 2.4.0
    for (minimum, fires) in [
        ("2.4.0", false),
        ("2.3.9", false),
        ("2.10", true),
        ("v3", true),
        ("2.4.0@x", false),
    ] {
        let got = firmware_below_minimum("dev-1", &r, minimum);
        assert_eq!(got.is_some(), fires, "minimum {minimum}");
        if let Some(i) = got {
            assert_eq!(i.kind, IncidentKind::FirmwareBelowMinimum);
            assert_eq!(
                i.evidence.context_value("minimum_version"),
                Some(&json!(minimum))
            );
        }
    }
}

#[test]
fn substituted_ai_models() {
    let endorsed = |id: &str| (id == "person-detector").then_some(digest(0xcc));
    assert_eq!(
        ai_model_substituted("dev-1", &report(&clean(1)), endorsed),
        None
    );
    let swapped = planted(1, |r| {
        set(
            r,
            "ai_models",
            json!([
                {"id": "person-detector", "model_sha256": hex(0x66)},
                {"id": "face-id", "model_sha256": hex(0x77)}
            ]),
        )
    });
    let i = ai_model_substituted("dev-1", &swapped, endorsed).expect("incident");
    assert_eq!(i.kind, IncidentKind::AiModelSubstituted);
    assert_eq!(
        i.evidence.report_value("ai_models"),
        Some(&json!([
            {"id": "person-detector", "model_sha256": hex(0x66)},
            {"id": "face-id", "model_sha256": hex(0x77)}
        ]))
    );
    assert_eq!(
        i.evidence.context_value("endorsed_model_sha256"),
        Some(&json!({"person-detector": hex(0xcc), "face-id": null}))
    );
    assert!(IncidentKind::AiModelSubstituted
        .references()
        .iter()
        .any(|r| r.starts_with("MITRE ATLAS")));
}

#[test]
fn new_ports_and_destinations_against_the_baseline() {
    let mut baseline = NetworkBaseline::default();
    baseline.learn(&report(&clean(1)));
    assert_eq!(baseline.new_activity("dev-1", &report(&clean(1))), []);
    let backdoor = planted(1, |r| {
        set(r, "metrics.listening-tcp-ports", json!([443, 4444, 8883]));
        set(r, "metrics.num-listening-tcp-ports", json!(3));
        set(
            r,
            "metrics.destination-ip-addresses",
            json!(["203.0.113.10", "198.51.100.66"]),
        );
    });
    let found = baseline.new_activity("dev-1", &backdoor);
    let kinds: Vec<IncidentKind> = found.iter().map(|i| i.kind).collect();
    assert_eq!(
        kinds,
        [IncidentKind::NewListeningPort, IncidentKind::NewDestination]
    );
    assert_eq!(
        found[0]
            .evidence
            .report_value("metrics.listening-tcp-ports"),
        Some(&json!([4444]))
    );
    assert_eq!(
        found[0]
            .evidence
            .report_value("metrics.listening-udp-ports"),
        None
    );
    assert_eq!(
        found[1]
            .evidence
            .report_value("metrics.destination-ip-addresses"),
        Some(&json!(["198.51.100.66"]))
    );
    // Once learned, no longer new.
    baseline.learn(&backdoor);
    assert_eq!(baseline.new_activity("dev-1", &backdoor), []);
}

#[test]
fn authentication_failure_spikes() {
    let spike = AuthFailureSpike {
        statistic: Statistic::P99,
        factor: 3,
        floor: 10,
        samples_min: 4,
    };
    let failures = |n: u64| planted(1, |r| set(r, "metrics.authentication-failures", json!(n)));
    let mut history = MetricWindow::new(86_400, 100);
    for v in [2, 0, 1] {
        history.push(NOW, v);
    }
    assert_eq!(
        spike.check("dev-1", &failures(500), &history),
        None,
        "too few samples"
    );
    history.push(NOW, 4);
    // p99 of [0, 1, 2, 4] = 4: threshold max(3 × 4, 10) = 12.
    assert_eq!(spike.check("dev-1", &failures(12), &history), None);
    let i = spike
        .check("dev-1", &failures(13), &history)
        .expect("spike");
    assert_eq!(i.kind, IncidentKind::AuthFailureSpike);
    assert_eq!(i.evidence.context_value("threshold"), Some(&json!(12)));
    assert_eq!(i.evidence.context_value("baseline"), Some(&json!(4)));
    // A quiet device: the floor keeps one typo from being an attack.
    let mut quiet = MetricWindow::new(86_400, 100);
    for _ in 0..12 {
        quiet.push(NOW, 0);
    }
    let default = AuthFailureSpike::default();
    assert_eq!(default.check("dev-1", &failures(10), &quiet), None);
    assert!(default.check("dev-1", &failures(11), &quiet).is_some());
}

#[test]
fn silent_devices() {
    // Reports every 300 s; silent after 3 intervals.
    for (last_seen, fires) in [(NOW - 900, false), (NOW - 901, true), (NOW + 60, false)] {
        let got = device_silent("dev-1", 41, last_seen, 300, 3, NOW);
        assert_eq!(got.is_some(), fires, "last seen {}", NOW - last_seen);
        if let Some(i) = got {
            assert_eq!(i.kind, IncidentKind::DeviceSilent);
            assert_eq!(i.evidence.report_counter, 41);
            assert_eq!(
                i.evidence.context_value("intervals_missed"),
                Some(&json!(3))
            );
        }
    }
    assert_eq!(
        device_silent("dev-1", 1, i64::MIN, 0, 3, NOW),
        None,
        "no interval"
    );
    assert!(device_silent("dev-1", 1, i64::MIN, 1, u32::MAX, i64::MAX).is_some());
}

#[test]
fn split_views_seen_by_a_device() {
    // The log has 20 entries; its root at size s is digest(s).
    let root_at = |s: u64| (s <= 20).then(|| digest(s as u8));
    let seen = |size: u64, root: Sha256| {
        planted(1, |r| {
            set(
                r,
                "checkpoint_seen",
                json!({"size": size, "root_hash": root.to_hex()}),
            )
        })
    };
    assert_eq!(
        split_view("dev-1", &seen(10, digest(10)), 20, root_at),
        None
    );
    assert_eq!(
        split_view("dev-1", &seen(20, digest(20)), 20, root_at),
        None
    );
    let other =
        split_view("dev-1", &seen(10, digest(99)), 20, root_at).expect("same size, other root");
    assert_eq!(other.kind, IncidentKind::SplitView);
    assert_eq!(
        other.evidence.report_value("checkpoint_seen.size"),
        Some(&json!(10))
    );
    assert_eq!(
        other.evidence.report_value("checkpoint_seen.root_hash"),
        Some(&json!(digest(99).to_hex()))
    );
    assert_eq!(other.evidence.context_value("log_size"), Some(&json!(10)));
    assert_eq!(
        other.evidence.context_value("log_root_hash"),
        Some(&json!(digest(10).to_hex()))
    );
    let larger = split_view("dev-1", &seen(25, digest(25)), 20, root_at).expect("larger than ours");
    assert_eq!(larger.evidence.context_value("log_size"), Some(&json!(20)));
    assert_eq!(
        larger.evidence.context_value("log_root_hash"),
        Some(&json!(digest(20).to_hex()))
    );
    // A size the caller cannot answer for decides nothing.
    assert_eq!(
        split_view("dev-1", &seen(10, digest(99)), 20, |_| None),
        None
    );
    let none = planted(1, |r| crate::fixture::remove(r, "checkpoint_seen"));
    assert_eq!(split_view("dev-1", &none, 20, root_at), None);
}

#[test]
fn every_kind_has_a_stable_label_title_and_references() {
    let labels: Vec<&str> = IncidentKind::ALL.iter().map(|k| k.as_str()).collect();
    assert_eq!(
        labels,
        [
            "firmware_not_released",
            "ai_model_substituted",
            "new_listening_port",
            "new_destination",
            "auth_failure_spike",
            "firmware_below_minimum",
            "device_silent",
            "split_view"
        ]
    );
    for k in IncidentKind::ALL {
        assert!(
            !k.title().is_empty() && !k.references().is_empty(),
            "{}",
            k.as_str()
        );
    }
}

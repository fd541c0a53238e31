//! The device channel of the real binary under `kill -9`: devices keep
//! publishing QoS 1 reports through a private Mosquitto
//! (`testkit::mosquitto::PrivateBroker`: `mosquitto` must be installed) while `sectwin serve
//! --device-broker` is killed mid-stream and restarted on the same data
//! directory. Afterwards every report is in the log exactly once: none lost
//! (the node acknowledges a report to the broker only once it is durable,
//! and the broker keeps the rest for the persistent session) and none
//! recorded twice (a redelivery is the same log entry).

use crate::common;

use std::time::{Duration, Instant};

use common::{credential, keypair, p, stdout_of, Server};
use testkit::mosquitto::PrivateBroker;

const DEVICES: usize = 12;
const REPORTS: u64 = 40;
const RATE_PER_S: u64 = 200;

/// The `device-report` entries of `device`'s timeline.
pub(crate) async fn reports_of(url: &str, token: &str, device: &str) -> Vec<u64> {
    let v: serde_json::Value = reqwest::Client::new()
        .get(format!(
            "{url}/api/v1/devices/{device}/timeline?page_size=1000"
        ))
        .bearer_auth(token)
        .send()
        .await
        .expect("timeline")
        .json()
        .await
        .expect("JSON");
    v["entries"]
        .as_array()
        .unwrap_or_else(|| panic!("no entries: {v}"))
        .iter()
        .filter(|e| e["type"] == "device-report")
        .filter_map(|e| e["statement"]["counter"].as_u64())
        .collect()
}

/// The reports a node accepted (`sectwin_device_reports_accepted_total`).
pub(crate) async fn accepted(url: &str) -> u64 {
    let metrics = reqwest::get(format!("{url}/metrics"))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    metrics
        .lines()
        .find_map(|l| l.strip_prefix("sectwin_device_reports_accepted_total "))
        .and_then(|n| n.trim().parse().ok())
        .expect("the accepted counter")
}

pub(crate) async fn connected(url: &str) -> bool {
    match reqwest::get(format!("{url}/metrics")).await {
        Ok(r) => r
            .text()
            .await
            .is_ok_and(|t| t.contains("sectwin_device_channel_connected 1")),
        Err(_) => false,
    }
}

#[test]
fn a_sigkilled_node_loses_no_report_and_records_none_twice() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let private_broker = PrivateBroker::start(d);
    let port = private_broker.port();
    let broker = format!("127.0.0.1:{port}");
    let data = d.join("data");
    let args = ["--checkpoint-interval-ms", "50", "--device-broker", &broker];
    let mut server = Server::start(&data, &args);
    let url = server.base().trim_end_matches("/log").to_string();
    let (acme_key, acme_pub) = keypair(d, "acme", "eddsa");
    stdout_of(&[
        "stakeholder",
        "register",
        "--server",
        &url,
        "--authority-key",
        p(&data.join("authority.key")),
        "--id",
        "acme.example",
        "--name",
        "Acme",
        "--role",
        "manufacturer",
        "--key",
        &acme_pub,
    ]);
    let count = DEVICES.to_string();
    let fleet = [
        "--broker", &broker, "--count", &count, "--seed", "5", "--prefix", "k-",
    ];
    // Register the fleet (no report yet).
    stdout_of(
        &[
            &["device", "simulate"][..],
            &fleet[..],
            &[
                "--reports",
                "0",
                "--register",
                "--server",
                &url,
                "--key",
                &acme_key,
                "--as",
                "acme.example",
            ],
        ]
        .concat(),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while !rt.block_on(connected(&url)) {
        assert!(
            Instant::now() < deadline,
            "the device channel did not connect"
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    // The devices publish for a while; the node is killed mid-stream.
    let reports = REPORTS.to_string();
    let rate = RATE_PER_S.to_string();
    let publisher = std::thread::spawn({
        let fleet: Vec<String> = fleet.iter().map(|s| s.to_string()).collect();
        let (reports, rate) = (reports.clone(), rate.clone());
        move || {
            let mut a: Vec<&str> = vec!["device", "simulate"];
            a.extend(fleet.iter().map(String::as_str));
            a.extend(["--reports", &reports, "--rate", &rate]);
            stdout_of(&a)
        }
    });
    std::thread::sleep(Duration::from_millis(800));
    server.kill();
    let published = publisher.join().expect("publisher");
    assert!(
        published.contains(&format!("{} acknowledged", DEVICES as u64 * REPORTS)),
        "{published}"
    );

    // Restarted on the same data, the node takes the rest from the broker.
    let mut server = Server::start(&data, &args);
    let url = server.base().trim_end_matches("/log").to_string();
    let (id, secret) = credential(&data, "acme.example");
    let token = rt.block_on(async {
        let r: serde_json::Value = reqwest::Client::new()
            .post(format!("{url}/oauth/token"))
            .basic_auth(&id, Some(&secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .expect("token")
            .json()
            .await
            .expect("JSON");
        r["access_token"].as_str().expect("token").to_string()
    });
    let want: Vec<u64> = (1..=REPORTS).collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    for i in 0..DEVICES {
        let device = format!("k-{i:06}");
        loop {
            let mut got = rt.block_on(reports_of(&url, &token, &device));
            got.sort_unstable();
            if got == want {
                break;
            }
            let mut unique = got.clone();
            unique.dedup();
            assert_eq!(
                unique.len(),
                got.len(),
                "{device}: a report recorded twice: {got:?}"
            );
            assert!(
                Instant::now() < deadline,
                "{device}: reports {got:?} in the log, not 1..={REPORTS}\n{}",
                server.stderr()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    // The kill came mid-stream: the restarted node registered some of the
    // reports, the killed one the others.
    let after = rt.block_on(accepted(&url));
    let total = DEVICES as u64 * REPORTS;
    eprintln!("device crash: {total} reports, {} registered before the kill, {after} after the restart, each once", total - after);
    assert!(
        after > 0 && after < total,
        "the restarted node registered {after} of {total} reports: the kill did not come mid-stream"
    );
    server.stop();
    common::assert_fsck_passes(&data);
}

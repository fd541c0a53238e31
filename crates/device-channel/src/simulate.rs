//! A fleet of simulated devices that report as real ones do
//! (`docs/device-reports.md`): each holds a key derived from a seed and its
//! index (so the same fleet can be registered once and simulated many
//! times), signs realistic reports with a growing counter, and publishes
//! them with QoS 1. Weaknesses and incidents can be planted on chosen
//! devices, and devices can update their firmware (successfully, failing,
//! or maliciously: [`SimDevice::update_reports`]). Used by `sectwin device simulate`, the demo, the tests and the
//! benchmark.

use std::time::Duration;

use rand::{Rng, SeedableRng};
use rumqttc::{AsyncClient, Event, MqttOptions, Outgoing, Packet, QoS};
use scitt::{Algorithm, SigningKey, StatementBuilder};
use serde_json::{json, Value};

use crate::topic::reports_topic;

/// A weakness or incident planted in a device's reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Plant {
    /// The universal default password is still set (OWASP I1, ETSI 5.1).
    DefaultCredentials,
    /// JTAG and a UART console are enabled (ETSI 5.6).
    DebugEnabled,
    /// Telnet listens on TCP 23 (OWASP I2).
    Telnet,
    /// Secure boot is off (ETSI 5.7).
    NoSecureBoot,
    /// Logging is off (`LOGGING_DISABLED_CHECK`).
    LoggingDisabled,
    /// The running image's digest is one no release covers (tampering).
    TamperedFirmware,
    /// A burst of authentication failures (from the device's
    /// [`LATE_PLANT_COUNTER`]th report: before it, a quiet history).
    AuthFailureSpike,
    /// A port (TCP 4444) starts listening from the
    /// [`LATE_PLANT_COUNTER`]th report, after a learned baseline.
    NewPort,
    /// The AI model loaded (`person-detector`) is not the endorsed one.
    SubstitutedModel,
    /// The device reports a checkpoint of the log whose root is not the
    /// log's (`checkpoint_seen`, size 1): a split view.
    SplitView,
    /// From the [`LATE_PLANT_COUNTER`]th report the device runs
    /// version `0.9.0`, below what it ran before (a downgrade).
    Downgrade,
}

/// The report counter from which the late plants (a new port, an
/// authentication-failure spike, a downgrade) show: earlier reports make
/// the device's baseline.
pub const LATE_PLANT_COUNTER: u64 = 15;

/// The digest of the AI model every healthy simulated camera loads
/// (`person-detector`), as its `ai-model-deployed` statement names it.
pub const MODEL_SHA256: &str = "fcde2b2edba56bf408601fb721fe9b5c338d10ee429ea04fae5511b68fbf8fb9";

impl Plant {
    /// Every plant.
    pub const ALL: [Plant; 11] = [
        Plant::DefaultCredentials,
        Plant::DebugEnabled,
        Plant::Telnet,
        Plant::NoSecureBoot,
        Plant::LoggingDisabled,
        Plant::TamperedFirmware,
        Plant::AuthFailureSpike,
        Plant::NewPort,
        Plant::SubstitutedModel,
        Plant::SplitView,
        Plant::Downgrade,
    ];

    /// Its name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Plant::DefaultCredentials => "default-credentials",
            Plant::DebugEnabled => "debug-enabled",
            Plant::Telnet => "telnet",
            Plant::NoSecureBoot => "no-secure-boot",
            Plant::LoggingDisabled => "logging-disabled",
            Plant::TamperedFirmware => "tampered-firmware",
            Plant::AuthFailureSpike => "auth-failure-spike",
            Plant::NewPort => "new-port",
            Plant::SubstitutedModel => "substituted-model",
            Plant::SplitView => "split-view",
            Plant::Downgrade => "downgrade",
        }
    }

    /// The plant named `name`.
    pub fn from_name(name: &str) -> Option<Plant> {
        Plant::ALL.into_iter().find(|p| p.name() == name)
    }
}

/// The firmware every healthy simulated device runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirmwareImage {
    /// Its version.
    pub version: String,
    /// SHA-256 of the image, lower-case hex.
    pub image_sha256: String,
}

/// How a simulated firmware update ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UpdateOutcome {
    /// The new image installs and runs.
    Installs,
    /// The update fails (the image's signature does not verify); the device
    /// keeps its image.
    Fails,
    /// The device reports the update installed, but what runs is an image
    /// no release names ([`MALICIOUS_IMAGE_SHA256`]): a malicious update.
    Malicious,
}

impl UpdateOutcome {
    /// Every outcome.
    pub const ALL: [UpdateOutcome; 3] = [
        UpdateOutcome::Installs,
        UpdateOutcome::Fails,
        UpdateOutcome::Malicious,
    ];

    /// Its name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            UpdateOutcome::Installs => "installs",
            UpdateOutcome::Fails => "fails",
            UpdateOutcome::Malicious => "malicious",
        }
    }

    /// The outcome named `name`.
    pub fn from_name(name: &str) -> Option<UpdateOutcome> {
        UpdateOutcome::ALL.into_iter().find(|o| o.name() == name)
    }
}

/// The digest a malicious update installs: no release names it.
pub const MALICIOUS_IMAGE_SHA256: &str =
    "badc0de0badc0de0badc0de0badc0de0badc0de0badc0de0badc0de0badc0de0";

/// Seconds between a simulated update's `attempted` report and its outcome.
pub const UPDATE_DURATION_S: i64 = 90;

/// Why a simulated update failed.
pub const UPDATE_FAILURE_REASON: &str = "image signature did not verify";

/// One simulated device.
pub struct SimDevice {
    /// Its id (the twin's device id).
    pub id: String,
    /// Its key.
    pub key: SigningKey,
    /// The next report's counter.
    pub counter: u64,
    /// What is planted in its reports.
    pub plants: Vec<Plant>,
}

/// The fleet of `count` devices `{prefix}{i:06}` with keys derived from
/// `seed`.
pub fn fleet(seed: u64, prefix: &str, count: usize) -> Vec<SimDevice> {
    (0..count)
        .map(|i| SimDevice {
            id: format!("{prefix}{i:06}"),
            key: device_key(seed, i),
            counter: 1,
            plants: Vec::new(),
        })
        .collect()
}

/// The key of device `i` of the fleet of `seed` (Ed25519).
pub fn device_key(seed: u64, i: usize) -> SigningKey {
    let mut rng =
        rand::rngs::StdRng::seed_from_u64(seed ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    SigningKey::generate(Algorithm::EdDSA, &mut rng)
}

impl SimDevice {
    /// The report it would send at `now_unix_s` (the JSON payload), and
    /// moves its counter on.
    pub fn next_report(&mut self, firmware: &FirmwareImage, now_unix_s: i64) -> Value {
        let counter = self.counter;
        self.counter += 1;
        let has = |p: Plant| self.plants.contains(&p);
        let mut rng = rand::rngs::StdRng::seed_from_u64(counter ^ self.id.len() as u64);
        let mut tcp: Vec<u16> = vec![443, 8883];
        if has(Plant::Telnet) {
            tcp.insert(0, 23);
        }
        let late = counter >= LATE_PLANT_COUNTER;
        if has(Plant::NewPort) && late {
            tcp.push(4444);
        }
        let image = if has(Plant::TamperedFirmware) {
            "6d0fd1a5c5a4e6a0b2c9f8e7d6c5b4a392817161514131211100f0e0d0c0b0a0".to_string()
        } else {
            firmware.image_sha256.clone()
        };
        let version = if has(Plant::Downgrade) && late {
            "0.9.0".to_string()
        } else {
            firmware.version.clone()
        };
        let model = if has(Plant::SubstitutedModel) {
            "00000000000000000000000000000000000000000000000000000000deadbeef"
        } else {
            MODEL_SHA256
        };
        let mut report = json!({
            "type": "device-report",
            "v": 1,
            "counter": counter,
            "timestamp": now_unix_s,
            "client_id": self.id,
            "firmware": {"version": version, "image_sha256": image},
            "secure_boot": !has(Plant::NoSecureBoot),
            "secure_storage": true,
            "debug_interfaces": {"jtag": has(Plant::DebugEnabled), "uart": has(Plant::DebugEnabled), "ssh": false},
            "credentials": if has(Plant::DefaultCredentials) { "universal-default" } else { "unique-per-device" },
            "tls": {"versions": ["TLSv1.2", "TLSv1.3"], "cipher_suites": ["TLS_AES_128_GCM_SHA256", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"]},
            "logging_enabled": !has(Plant::LoggingDisabled),
            "ai_models": [{"id": "person-detector", "model_sha256": model}],
            "metrics": {
                "listening-tcp-ports": tcp,
                "listening-udp-ports": [5683],
                "num-listening-tcp-ports": tcp.len(),
                "num-listening-udp-ports": 1,
                "num-established-tcp-connections": rng.gen_range(1..6),
                "all-bytes-in": rng.gen_range(4_000..40_000),
                "all-bytes-out": rng.gen_range(4_000..40_000),
                "all-packets-in": rng.gen_range(40..400),
                "all-packets-out": rng.gen_range(40..400),
                "destination-ip-addresses": ["203.0.113.10"],
                "authentication-failures": if has(Plant::AuthFailureSpike) && late { 250 } else { rng.gen_range(0..2) },
                "reboots": 0,
                "update-attempts": 0
            }
        });
        if has(Plant::SplitView) {
            report["checkpoint_seen"] = json!({"size": 1, "root_hash": "5eed00000000000000000000000000000000000000000000000000000000f00d"});
        }
        report
    }

    /// The two reports of an update from `from` to `to` that starts at
    /// `now_unix_s` (moving the counter on twice): an `attempted` report
    /// while `from` runs, then, [`UPDATE_DURATION_S`] later, its outcome:
    /// `installed` with `to` running, `failed` with `from` still running,
    /// or, for a malicious update, `installed` with an image no release
    /// names ([`MALICIOUS_IMAGE_SHA256`]) running under `to`'s version.
    /// Answers the reports and the firmware the device runs afterwards
    /// (what its later reports should say).
    pub fn update_reports(
        &mut self,
        from: &FirmwareImage,
        to: &FirmwareImage,
        outcome: UpdateOutcome,
        now_unix_s: i64,
    ) -> ([Value; 2], FirmwareImage) {
        let target = |state: &str| json!({"state": state, "version": to.version, "image_sha256": to.image_sha256});
        let mut attempted = self.next_report(from, now_unix_s);
        attempted["update"] = target("attempted");
        let at = now_unix_s + UPDATE_DURATION_S;
        let (running, update) = match outcome {
            UpdateOutcome::Installs => (to.clone(), target("installed")),
            UpdateOutcome::Fails => {
                let mut u = target("failed");
                u["reason"] = json!(UPDATE_FAILURE_REASON);
                (from.clone(), u)
            }
            UpdateOutcome::Malicious => (
                FirmwareImage {
                    version: to.version.clone(),
                    image_sha256: MALICIOUS_IMAGE_SHA256.into(),
                },
                json!({"state": "installed", "version": to.version, "image_sha256": MALICIOUS_IMAGE_SHA256}),
            ),
        };
        let mut outcome_report = self.next_report(&running, at);
        outcome_report["update"] = update;
        ([attempted, outcome_report], running)
    }

    /// `report` signed by the device (the MQTT payload): a COSE_Sign1
    /// statement with `iss` = `sub` = `device:{id}` and `iat` = its
    /// timestamp.
    pub fn sign(&self, report: &Value) -> Vec<u8> {
        let subject = format!("device:{}", self.id);
        let iat = report["timestamp"].as_i64().unwrap_or_default();
        StatementBuilder::new(&subject, &subject, report.to_string().as_bytes())
            .content_type("application/json")
            .issued_at(iat)
            .sign(&self.key)
    }

    /// The topic it publishes on.
    pub fn topic(&self) -> String {
        reports_topic(&self.id)
    }
}

/// What a publishing run did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Published {
    /// Messages the broker acknowledged (PUBACK).
    pub acknowledged: u64,
}

/// Why publishing failed.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// The broker could not be reached or dropped the connection.
    #[error("MQTT broker {broker}: {why}")]
    Broker {
        /// `host:port`.
        broker: String,
        /// Why.
        why: String,
    },
    /// Not every message was acknowledged in time.
    #[error("{acknowledged} of {sent} messages acknowledged by the broker within {wait_s} s")]
    Unacknowledged {
        /// Acknowledged.
        acknowledged: u64,
        /// Sent.
        sent: u64,
        /// The wait.
        wait_s: u64,
    },
}

/// Publishes `messages` (topic, payload) with QoS 1 on `host:port`, at most
/// `rate_per_s` per second (0: as fast as the broker takes them), and waits
/// for every PUBACK.
pub async fn publish(
    host: &str,
    port: u16,
    client_id: &str,
    messages: Vec<(String, Vec<u8>)>,
    rate_per_s: u64,
) -> Result<Published, PublishError> {
    let broker = format!("{host}:{port}");
    let mut options = MqttOptions::new(client_id, host, port);
    options
        .set_keep_alive(Duration::from_secs(30))
        .set_inflight(200)
        .set_max_packet_size(1 << 20, 1 << 20);
    let (client, mut eventloop) = AsyncClient::new(options, 1024);
    let sent = messages.len() as u64;
    let sender = tokio::spawn(async move {
        let start = tokio::time::Instant::now();
        for (i, (topic, payload)) in messages.into_iter().enumerate() {
            if rate_per_s > 0 {
                let due = start + Duration::from_secs_f64(i as f64 / rate_per_s as f64);
                tokio::time::sleep_until(due).await;
            }
            if client
                .publish(topic, QoS::AtLeastOnce, false, payload)
                .await
                .is_err()
            {
                break;
            }
        }
        client
    });
    let mut acknowledged = 0u64;
    let wait_s = 60 + sent / 1000;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(wait_s);
    while acknowledged < sent {
        let event = match tokio::time::timeout_at(deadline, eventloop.poll()).await {
            Err(_) => {
                return Err(PublishError::Unacknowledged {
                    acknowledged,
                    sent,
                    wait_s,
                })
            }
            Ok(event) => event,
        };
        match event {
            Ok(Event::Incoming(Packet::PubAck(_))) => acknowledged += 1,
            Ok(Event::Outgoing(Outgoing::Disconnect)) => break,
            Ok(_) => {}
            Err(e) => {
                return Err(PublishError::Broker {
                    broker,
                    why: e.to_string(),
                })
            }
        }
    }
    if let Ok(client) = sender.await {
        let _ = client.disconnect().await;
        // Drive the disconnect out.
        let _ = tokio::time::timeout(Duration::from_millis(200), eventloop.poll()).await;
    }
    Ok(Published { acknowledged })
}

//! The verified roll-out on the production router: devices report their
//! updates in signed reports (attempted, installed, failed), an installed
//! one becomes the device's firmware, and the roll-out views count who is
//! patched, since when (a daily series), how long each device took, who is
//! stuck and who runs a release past its support end, each row naming the
//! device's own statement; only devices the caller may see are counted;
//! bad input is a 4xx that says why. On an injected clock, so the days are
//! the test's.

use std::sync::Arc;

use node::testing::TestNode;
use scitt::{Algorithm, SigningKey, StatementBuilder};
use serde_json::{json, Value};

const DAY_S: i64 = 86_400;
const ACME: &str = "acme.test";
const OP: &str = "op.test";
const OTHER: &str = "other.test";

fn sign(issuer: &str, key: &SigningKey, subject: &str, payload: &Value, iat: i64) -> Vec<u8> {
    StatementBuilder::new(issuer, subject, payload.to_string().as_bytes())
        .content_type("application/json")
        .issued_at(iat)
        .sign(key)
}

fn digest(b: u8) -> String {
    format!("{b:02x}").repeat(32)
}

async fn get(t: &TestNode, path: &str, token: &str) -> (u16, Value) {
    let r = reqwest::Client::new()
        .get(format!("{}{path}", t.base))
        .bearer_auth(token)
        .send()
        .await
        .expect("GET");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

struct Fleet {
    t: TestNode,
    clock: Arc<clock::FixedClock>,
    keys: Vec<(String, SigningKey)>,
    counters: std::collections::BTreeMap<String, u64>,
}

impl Fleet {
    fn at(&self, s: i64) {
        self.clock.set(u64::try_from(s * 1000).expect("positive"));
    }

    fn key(&self, who: &str) -> &SigningKey {
        &self.keys.iter().find(|(n, _)| n == who).expect("a key").1
    }

    async fn say(&self, who: &str, subject: &str, payload: Value, iat: i64) -> u64 {
        self.at(iat);
        self.t
            .register_signed(sign(who, self.key(who), subject, &payload, iat))
            .await
    }

    /// Device `id` reports `update` at `iat`.
    async fn update(&mut self, id: &str, update: Value, iat: i64) -> u64 {
        let me = format!("device:{id}");
        let counter = self.counters.entry(id.to_string()).or_insert(0);
        *counter += 1;
        let report = json!({"type": "device-report", "v": 1, "counter": *counter, "timestamp": iat, "update": update});
        self.say(&me, &me, report, iat).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rollout_of_a_release_is_told_from_the_devices_own_statements() {
    // The stakeholders register now (the test kit signs with the system
    // clock); the roll-out starts at the next midnight (UTC), and the
    // node's clock moves on with it.
    let now = clock::Clock::now_unix_s(&clock::SystemClock);
    let clock = Arc::new(clock::FixedClock::at(
        u64::try_from(now * 1000).expect("positive"),
    ));
    let t = TestNode::start_with_clock("rollout.test/log", clock.clone()).await;
    let acme = t.register_stakeholder(ACME, &["manufacturer"]).await;
    let op = t.register_stakeholder(OP, &["owner", "operator"]).await;
    t.register_stakeholder(OTHER, &["operator"]).await;
    let t0_s = (now / DAY_S + 1) * DAY_S;
    let day = |s: i64| twin_store::risks::day_of_unix_s(s).to_string();
    let mut f = Fleet {
        t,
        clock,
        keys: vec![(ACME.into(), acme), (OP.into(), op)],
        counters: Default::default(),
    };
    // Release 1.0 (support ended 2020-01-01) and, a day later, 2.0.
    f.say(ACME, "model:acme/door", json!({"type": "firmware-released", "version": "1.0", "image_sha256": digest(1), "support_end": "2020-01-01"}), t0_s)
        .await;
    let release = f
        .say(ACME, "model:acme/door", json!({"type": "firmware-released", "version": "2.0", "image_sha256": digest(2), "support_end": "2035-01-01"}), t0_s + DAY_S)
        .await;
    for id in ["d-patched", "d-failed", "d-idle", "d-attempt"] {
        let key = SigningKey::generate(Algorithm::EdDSA, &mut rand_core::OsRng);
        let subject = format!("device:{id}");
        f.say(ACME, &subject, json!({"type": "device-registered", "manufacturer": "Acme", "model": "door", "serial": id, "device_key": key.public_key().to_pem()}), t0_s + DAY_S)
            .await;
        f.say(
            ACME,
            &subject,
            json!({"type": "ownership-transferred", "owner": OP, "operator": OP}),
            t0_s + DAY_S,
        )
        .await;
        f.keys.push((subject, key));
    }
    // Every device first reports 1.0 installed.
    for id in ["d-patched", "d-failed", "d-idle", "d-attempt"] {
        f.update(
            id,
            json!({"state": "installed", "version": "1.0", "image_sha256": digest(1)}),
            t0_s + DAY_S + 60,
        )
        .await;
    }
    // Three days after the release, d-patched installs 2.0; d-failed fails.
    f.update(
        "d-patched",
        json!({"state": "attempted", "version": "2.0", "image_sha256": digest(2)}),
        t0_s + 4 * DAY_S,
    )
    .await;
    let installed = f
        .update(
            "d-patched",
            json!({"state": "installed", "version": "2.0", "image_sha256": digest(2)}),
            t0_s + 4 * DAY_S + 120,
        )
        .await;
    let failed = f
        .update("d-failed", json!({"state": "failed", "version": "2.0", "image_sha256": digest(2), "reason": "image digest mismatch"}), t0_s + 4 * DAY_S)
        .await;
    // d-attempt started the update ten days after the release and was never heard of again.
    let attempt = f
        .update(
            "d-attempt",
            json!({"state": "attempted", "version": "2.0", "image_sha256": digest(2)}),
            t0_s + 11 * DAY_S,
        )
        .await;

    // The twin of d-patched runs 2.0, claimed by the device, evidence its report.
    let twin =
        f.t.projector()
            .store()
            .twin(&twin::DeviceId::new("d-patched").expect("id"))
            .expect("store")
            .expect("twin");
    assert_eq!(twin.firmware.as_deref(), Some("2.0"));
    assert_eq!(
        twin.current.get(&twin::AttributeClass::Firmware),
        Some(&installed)
    );

    // Twelve days after the release, stuck after ten days.
    f.at(t0_s + 13 * DAY_S);
    let token = f.t.token(OP).await;
    let (status, v) = get(
        &f.t,
        "/api/v1/rollout/releases/acme/door/2.0?stuck_after_days=10",
        &token,
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        (&v["devices"], &v["patched"], &v["pending"], &v["stuck"]),
        (&json!(4), &json!(1), &json!(0), &json!(3)),
        "{v:#}"
    );
    assert_eq!(v["support_ended"], json!(3), "three still run 1.0: {v:#}");
    let target = &v["targets"][0];
    assert_eq!(target["release_entry"], json!(release));
    assert_eq!(target["released_at"], json!(t0_s + DAY_S));
    assert_eq!(target["patched_versions"], json!(["2.0"]));
    // Time-to-fix: three days and two minutes, the one patched device.
    assert_eq!(v["time_to_fix"]["devices"], json!(1));
    assert_eq!(v["time_to_fix"]["median_s"], json!(3 * DAY_S + 120));
    // The series: from the release's day to today, one device from day 4 on.
    let series: Vec<(String, u64)> = v["series"]
        .as_array()
        .expect("series")
        .iter()
        .map(|d| {
            (
                d["day"].as_str().expect("day").to_string(),
                d["patched"].as_u64().expect("n"),
            )
        })
        .collect();
    assert_eq!(series.len(), 13, "{series:?}");
    assert_eq!(series.first(), Some(&(day(t0_s + DAY_S), 0)), "{series:?}");
    assert_eq!(series.get(3), Some(&(day(t0_s + 4 * DAY_S), 1)));
    assert_eq!(series.last(), Some(&(day(t0_s + 13 * DAY_S), 1)));
    // The rows: stuck first, each with the entry of the device's own statement.
    let rows = v["rows"].as_array().expect("rows");
    let row = |id: &str| {
        rows.iter()
            .find(|r| r["device"] == id)
            .unwrap_or_else(|| panic!("no row {id}: {v:#}"))
    };
    assert_eq!(row("d-patched")["state"], "patched");
    assert_eq!(row("d-patched")["evidence_entry"], json!(installed));
    assert_eq!(row("d-patched")["patched_entry"], json!(installed));
    assert_eq!(row("d-patched")["support_ended"], Value::Null);
    assert_eq!(row("d-failed")["state"], "stuck");
    assert_eq!(row("d-failed")["update"]["entry"], json!(failed));
    assert!(row("d-failed")["stuck_reason"]
        .as_str()
        .is_some_and(|r| r.contains("image digest mismatch")));
    assert_eq!(row("d-failed")["support_ended"], "2020-01-01");
    assert_eq!(row("d-attempt")["update"]["entry"], json!(attempt));
    assert!(row("d-attempt")["stuck_reason"]
        .as_str()
        .is_some_and(|r| r.contains("never reported installed")));
    assert!(row("d-idle")["stuck_reason"]
        .as_str()
        .is_some_and(|r| r.contains("days after the release")));
    assert_eq!(rows.last().map(|r| &r["device"]), Some(&json!("d-patched")));
    // Rows are bounded; counts are not.
    let (_, few) = get(
        &f.t,
        "/api/v1/rollout/releases/acme/door/2.0?rows=1",
        &token,
    )
    .await;
    assert_eq!(few["rows"].as_array().map(Vec::len), Some(1));
    assert_eq!(few["rows_truncated"], json!(true));
    assert_eq!(few["devices"], json!(4));
    // With the default 30 days, only the failed and the abandoned are stuck.
    let (_, lenient) = get(&f.t, "/api/v1/rollout/releases/acme/door/2.0", &token).await;
    assert_eq!(
        (&lenient["stuck"], &lenient["pending"]),
        (&json!(2), &json!(1))
    );

    // Another operator sees none of these devices.
    let other = f.t.token(OTHER).await;
    let (status, v) = get(&f.t, "/api/v1/rollout/releases/acme/door/2.0", &other).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["devices"], json!(0));
    assert_eq!(v["rows"], json!([]));

    // A device that installs the release later shows in the next view
    // (the views' index follows the projection).
    let late = f
        .update(
            "d-idle",
            json!({"state": "installed", "version": "2.0", "image_sha256": digest(2)}),
            t0_s + 13 * DAY_S + 60,
        )
        .await;
    let (_, v) = get(&f.t, "/api/v1/rollout/releases/acme/door/2.0", &token).await;
    assert_eq!(
        (&v["patched"], &v["stuck"]),
        (&json!(2), &json!(2)),
        "{v:#}"
    );
    let idle = v["rows"]
        .as_array()
        .and_then(|rows| rows.iter().find(|r| r["device"] == "d-idle"))
        .expect("d-idle");
    assert_eq!(idle["evidence_entry"], json!(late));
    assert_eq!(idle["time_to_fix_s"], json!(12 * DAY_S + 60));

    // Bad input says why.
    for (path, want, says) in [
        ("/api/v1/rollout/releases/acme/door/9.9", 404, "no release"),
        (
            "/api/v1/rollout/releases/acme/window/2.0",
            404,
            "no release",
        ),
        (
            "/api/v1/rollout/releases/acme/door/2.0?stuck_after_days=0",
            400,
            "stuck_after_days",
        ),
        (
            "/api/v1/rollout/releases/acme/door/2.0?rows=5000",
            400,
            "rows",
        ),
        (
            "/api/v1/rollout/releases/acme/door/2.0?color=red",
            400,
            "color",
        ),
        (
            "/api/v1/rollout/vulnerabilities/CVE-2030-0001",
            404,
            "no firmware release is exposed",
        ),
    ] {
        let (status, body) = get(&f.t, path, &token).await;
        assert_eq!(status, want, "{path}: {body}");
        let text = body.to_string();
        assert!(text.contains(says), "{path}: {text}");
    }
    f.t.node.shutdown().await;
}

//! Vulnerability management end to end against a real `sectwin serve`, a
//! real MQTT broker (Mosquitto on 127.0.0.1:1883) and a real webhook
//! receiver: stakeholders and a device registered, a firmware release with
//! its SBOM as signed statements, the device reporting it, an advisory
//! imported; the risk register shows the exposure with its reason and
//! deadline, the operator's webhook and MQTT subscriptions receive "new
//! vulnerable device" (signed, Standard Webhooks), a manufacturer's
//! stranger sees nothing, and the operator's signed acceptance changes the
//! risk's status.

use crate::common;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{credential, p, sectwin, Server};
use serde_json::Value;

pub(crate) fn ok(args: &[&str]) -> String {
    let (ok, out) = sectwin(args);
    assert!(ok, "sectwin {args:?}: {out}");
    out
}

/// Signs and submits a statement that must be registered.
pub(crate) fn submit(url: &str, d: &Path, key: &str, issuer: &str, subject: &str, payload: &str) {
    let (ok, out) = common::submit(url, d, key, issuer, subject, payload);
    assert!(ok, "{subject} {payload}: {out}");
}

pub(crate) async fn token(url: &str, id: &str, secret: &str) -> String {
    // The server reloads the credentials file within a second.
    for _ in 0..50 {
        let r = reqwest::Client::new()
            .post(format!("{url}/oauth/token"))
            .basic_auth(id, Some(secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .expect("token request");
        if r.status().is_success() {
            let v: Value = r.json().await.expect("json");
            return v["access_token"].as_str().expect("token").to_string();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no token for {id}");
}

/// The JSON payload of the signed statement at log entry `entry`.
/// (Retried until a checkpoint covers it.)
pub(crate) async fn statement_payload(url: &str, entry: u64) -> Value {
    let mut bytes = None;
    // Not following redirects: an entry not yet covered by a checkpoint
    // answers 303 to itself.
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    for _ in 0..100 {
        let r = client
            .get(format!("{url}/entries/{entry}/statement"))
            .send()
            .await
            .expect("statement");
        if r.status().is_success() {
            bytes = Some(r.bytes().await.expect("statement bytes"));
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let bytes = bytes.unwrap_or_else(|| panic!("entry {entry} never served"));
    let st = scitt::SignedStatement::parse(&bytes).expect("a signed statement");
    serde_json::from_slice(st.payload().expect("attached payload")).expect("JSON payload")
}

pub(crate) async fn get(url: &str, path: &str, token: &str) -> (u16, Value) {
    let r = reqwest::Client::new()
        .get(format!("{url}{path}"))
        .bearer_auth(token)
        .send()
        .await
        .expect("get");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

pub(crate) async fn post(url: &str, path: &str, token: &str, body: Vec<u8>) -> (u16, Value) {
    let r = reqwest::Client::new()
        .post(format!("{url}{path}"))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("post");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

pub(crate) const ADVISORY: &str = r#"{
  "schema_version": "1.6.0",
  "id": "OSV-E2E-1",
  "aliases": ["CVE-2099-4242"],
  "published": "2026-11-01T00:00:00Z",
  "modified": "2026-11-02T00:00:00Z",
  "summary": "busybox wget heap overflow",
  "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
  "affected": [{
    "package": {"ecosystem": "Debian", "name": "busybox", "purl": "pkg:deb/debian/busybox"},
    "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1:1.36.1-1"}]}]
  }]
}"#;

pub(crate) const CYCLONEDX: &str = r#"{
  "bomFormat": "CycloneDX",
  "specVersion": "1.6",
  "serialNumber": "urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79",
  "version": 1,
  "metadata": {"component": {"type": "firmware", "name": "DC-200 firmware", "version": "2.4.0"}},
  "components": [
    {"type": "application", "name": "busybox", "version": "1:1.35.0-4", "purl": "pkg:deb/debian/busybox@1:1.35.0-4"},
    {"type": "library", "name": "zlib", "version": "1.3.1"}
  ]
}"#;

const OPENVEX: &str = r#"{
  "@context": "https://openvex.dev/ns/v0.2.0",
  "@id": "https://acme.example/vex/dc-200-2.4.0",
  "author": "Acme",
  "timestamp": "2026-11-20T00:00:00Z",
  "version": 1,
  "statements": [{
    "vulnerability": {"name": "OSV-E2E-1"},
    "products": [{"@id": "pkg:generic/acme/dc-200@2.4.0", "subcomponents": [{"@id": "pkg:deb/debian/busybox"}]}],
    "status": "not_affected",
    "justification": "vulnerable_code_not_in_execute_path"
  }]
}"#;

type Messages = Arc<Mutex<Vec<(String, Vec<u8>)>>>;
/// The fleet the end-to-end tests start from: acme.example (manufacturer),
/// op.example (operator) and `others` registered; Acme's door-1 (model
/// DC-200), owned and operated by op.example in Building A, running release
/// 2.4.0, whose SBOM (`CYCLONEDX`) Acme registers through the CLI. Answers
/// the key files of (acme.example, op.example).
pub(crate) fn door_on_release(
    url: &str,
    d: &Path,
    data: &Path,
    others: &[(&str, &str, &str)],
) -> (String, String) {
    let (acme_key, acme_pub) = common::keypair(d, "acme", "eddsa");
    let (op_key, op_pub) = common::keypair(d, "op", "eddsa");
    let mut stakeholders = vec![
        ("acme.example", "manufacturer", acme_pub.as_str()),
        ("op.example", "operator", op_pub.as_str()),
    ];
    stakeholders.extend_from_slice(others);
    common::register_stakeholders(url, &data.join("authority.key"), &stakeholders);
    let model = "model:acme/DC-200";
    for payload in [
        r#"{"type":"device-registered","manufacturer":"Acme","model":"DC-200","serial":"1"}"#,
        r#"{"type":"ownership-transferred","owner":"op.example","operator":"op.example","site":"Building A"}"#,
    ] {
        submit(url, d, &acme_key, "acme.example", "device:door-1", payload);
    }
    submit(
        url,
        d,
        &acme_key,
        "acme.example",
        model,
        r#"{"type":"firmware-released","version":"2.4.0","image_sha256":"aa"}"#,
    );
    // The SBOM, from a CycloneDX document, through the CLI.
    let bom = d.join("bom.json");
    std::fs::write(&bom, CYCLONEDX).expect("write");
    let out = ok(&[
        "sbom",
        "register",
        "--server",
        url,
        "--key",
        &acme_key,
        "--as",
        "acme.example",
        "--model",
        model,
        "--release",
        "2.4.0",
        p(&bom),
    ]);
    assert!(
        out.contains("registered SBOM part 1/1") && out.contains("2 components"),
        "{out}"
    );
    submit(
        url,
        d,
        &op_key,
        "op.example",
        "device:door-1",
        r#"{"type":"firmware-installed","version":"2.4.0","image_sha256":"aa"}"#,
    );
    (acme_key, op_key)
}

/// A token of the node's administrator: the registry authority, named by
/// the log's origin (its first path segment).
pub(crate) async fn administrator_token(url: &str, data: &Path) -> String {
    let checkpoint = reqwest::get(format!("{url}/log/checkpoint"))
        .await
        .expect("checkpoint")
        .text()
        .await
        .expect("checkpoint text");
    let origin = checkpoint.lines().next().expect("origin line");
    let authority = origin.split('/').next().expect("authority id").to_string();
    let (admin_id, admin_secret) = credential(data, &authority);
    token(url, &admin_id, &admin_secret).await
}

pub(crate) type Received = Arc<Mutex<Vec<(axum::http::HeaderMap, Vec<u8>)>>>;

pub(crate) async fn webhook_receiver() -> (String, Received) {
    let received: Received = Arc::default();
    let r = received.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(
            move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                let r = r.clone();
                async move {
                    r.lock().expect("lock").push((headers, body.to_vec()));
                    axum::http::StatusCode::NO_CONTENT
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}/hook"), received)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exposure_register_and_notifications_end_to_end() {
    if std::net::TcpStream::connect_timeout(
        &"127.0.0.1:1883".parse().expect("addr"),
        Duration::from_secs(2),
    )
    .is_err()
    {
        panic!("this test needs an MQTT broker on 127.0.0.1:1883: start Mosquitto (apt install mosquitto; mosquitto -p 1883)");
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path().to_path_buf();
    let data = d.join("data");
    let mut server = Server::start(
        &data,
        &[
            "--checkpoint-interval-ms",
            "50",
            "--mqtt",
            "127.0.0.1:1883",
            "--risk-interval-ms",
            "200",
            // The operator's webhook receiver listens on 127.0.0.1.
            "--webhook-allow-private",
        ],
    );
    let url = server.base().trim_end_matches("/log").to_string();
    let model = "model:acme/DC-200";
    let (_, other_pub) = common::keypair(&d, "other", "eddsa");
    let (acme_key, op_key) = door_on_release(
        &url,
        &d,
        &data,
        &[("other.example", "operator", &other_pub)],
    );
    let (op_id, op_secret) = credential(&data, "op.example");
    let (other_id, other_secret) = credential(&data, "other.example");
    let op = token(&url, &op_id, &op_secret).await;
    let other = token(&url, &other_id, &other_secret).await;
    let admin = administrator_token(&url, &data).await;

    // Subscriptions: a webhook and an MQTT topic.
    let (hook, received) = webhook_receiver().await;
    let (status, sub) = post(
        &url,
        "/api/v1/subscriptions",
        &op,
        format!(
            r#"{{"id":"op-hook","webhook":{{"url":"{hook}"}},"kinds":["new-vulnerable-device"]}}"#
        )
        .into_bytes(),
    )
    .await;
    assert_eq!(status, 201, "{sub}");
    let secret = sub["secret"]
        .as_str()
        .expect("secret shown once")
        .to_string();
    let prefix = format!("sectwin-e2e-{}", std::process::id());
    let (status, sub) = post(
        &url,
        "/api/v1/subscriptions",
        &op,
        format!(r#"{{"id":"op-mqtt","mqtt":{{"topic_prefix":"{prefix}"}}}}"#).into_bytes(),
    )
    .await;
    assert_eq!(status, 201, "{sub}");
    let (status, err) = post(
        &url,
        "/api/v1/subscriptions",
        &other,
        br#"{"id":"op-hook","mqtt":{"topic_prefix":"x"}}"#.to_vec(),
    )
    .await;
    // Subscription ids are per stakeholder (issue 13, item 9): another
    // organization may use the same id, learns nothing of op's, and
    // removing its own leaves op's in place.
    assert_eq!(status, 201, "ids are per stakeholder: {err}");
    let (status, list) = get(&url, "/api/v1/subscriptions", &other).await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(
        list["subscriptions"].as_array().map(Vec::len),
        Some(1),
        "{list}"
    );
    assert_eq!(
        list["subscriptions"][0]["target"]["mqtt"]["topic_prefix"], "x",
        "{list}"
    );
    let removed = reqwest::Client::new()
        .delete(format!("{url}/api/v1/subscriptions/op-hook"))
        .bearer_auth(&other)
        .send()
        .await
        .expect("delete");
    assert_eq!(removed.status().as_u16(), 204);
    let (_, list) = get(&url, "/api/v1/subscriptions", &op).await;
    let ids: Vec<&str> = list["subscriptions"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|s| s["id"].as_str())
        .collect();
    assert_eq!(ids, ["op-hook", "op-mqtt"], "{list}");
    assert!(
        list["subscriptions"][0]["target"]["webhook"].is_object(),
        "{list}"
    );
    let (status, err) = post(
        &url,
        "/api/v1/subscriptions",
        &op,
        br#"{"id":"x"}"#.to_vec(),
    )
    .await;
    assert_eq!(status, 400, "{err}");

    let mut options =
        rumqttc::MqttOptions::new(format!("e2e-sub-{}", std::process::id()), "127.0.0.1", 1883);
    options.set_keep_alive(Duration::from_secs(10));
    let (client, mut events) = rumqttc::AsyncClient::new(options, 16);
    client
        .subscribe(format!("{prefix}/#"), rumqttc::QoS::AtLeastOnce)
        .await
        .expect("subscribe");
    let mqtt_messages: Messages = Arc::default();
    let m = mqtt_messages.clone();
    tokio::spawn(async move {
        while let Ok(ev) = events.poll().await {
            if let rumqttc::Event::Incoming(rumqttc::Packet::Publish(p)) = ev {
                m.lock()
                    .expect("lock")
                    .push((p.topic.clone(), p.payload.to_vec()));
            }
        }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;

    // Bad advisory input: 400 with a message; no token: 401.
    let (status, err) = post(&url, "/api/v1/advisories", &op, b"{\"hello\":1}".to_vec()).await;
    assert_eq!(status, 400, "{err}");
    assert!(
        err["message"]
            .as_str()
            .unwrap_or("")
            .contains("not an advisory"),
        "{err}"
    );
    let r = reqwest::Client::new()
        .post(format!("{url}/api/v1/advisories"))
        .body(ADVISORY)
        .send()
        .await
        .expect("post");
    assert_eq!(r.status().as_u16(), 401);

    // The advisory, imported by the administrator into the shared
    // advisories: the device is exposed, and the change is in the log.
    let (status, imported) = post(
        &url,
        "/api/v1/advisories",
        &admin,
        ADVISORY.as_bytes().to_vec(),
    )
    .await;
    assert_eq!(status, 200, "{imported}");
    assert_eq!(imported["source"], "shared", "{imported}");
    let change_entry = imported["recorded"][0].as_u64().expect("recorded entry");
    let recorded = statement_payload(&url, change_entry).await;
    assert_eq!(recorded["type"], "advisory-changed", "{recorded}");
    assert_eq!(recorded["id"], "OSV-E2E-1", "{recorded}");
    assert_eq!(recorded["source"], "shared", "{recorded}");
    let (status, risks) = get(&url, "/api/v1/risks?device=door-1", &op).await;
    assert_eq!(status, 200, "{risks}");
    assert_eq!(risks["total"], 1, "{risks}");
    let r = &risks["risks"][0];
    assert_eq!(r["vulnerability"], "OSV-E2E-1");
    assert_eq!(r["severity"], "critical");
    assert_eq!(r["status"], "open");
    assert_eq!(r["owner"], "op.example");
    // Critical: fix immediately, counted from when the node discovered it
    // (today), not from the advisory's publication a month earlier.
    let today = risks["today"].as_str().expect("today").to_string();
    assert_eq!(r["discovered"], today.as_str(), "{r}");
    assert_eq!(r["found"], "2026-11-01T00:00:00Z", "{r}");
    assert_eq!(r["deadline"]["date"], today.as_str(), "{r}");
    assert_eq!(r["overdue"], false, "{r}");
    assert_eq!(r["matches"][0]["component"], "busybox");
    let (_, summary) = get(&url, "/api/v1/risks/summary", &op).await;
    assert_eq!(summary["devices_exposed"], 1, "{summary}");
    let (_, by_site) = get(&url, "/api/v1/exposure?by=site", &op).await;
    assert_eq!(by_site["groups"][0]["key"], "Building A", "{by_site}");
    let (status, _) = get(&url, "/api/v1/exposure?by=color", &op).await;
    assert_eq!(status, 400);
    // A stakeholder without a role on the device sees none of it.
    let (_, theirs) = get(&url, "/api/v1/risks", &other).await;
    assert_eq!(theirs["total"], 0, "{theirs}");

    // Issue 14's attack: another organization posts a narrowed, newer copy
    // of the advisory. It is kept as that organization's own claim (it
    // released no firmware, so it applies to nothing), recorded in the log
    // with its author, and the operator's risk stays.
    let narrowed = ADVISORY
        .replace("2026-11-02T00:00:00Z", "2026-11-30T00:00:00Z")
        .replace("1:1.36.1-1", "0.1");
    let (status, theirs) = post(&url, "/api/v1/advisories", &other, narrowed.into_bytes()).await;
    assert_eq!(status, 200, "{theirs}");
    assert_eq!(theirs["source"], "advisory:other.example", "{theirs}");
    assert_eq!(theirs["applies_to_releases"], 0, "{theirs}");
    let recorded = statement_payload(&url, theirs["recorded"][0].as_u64().expect("entry")).await;
    assert_eq!(recorded["on_behalf_of"], "other.example", "{recorded}");
    assert_eq!(recorded["source"], "submitted", "{recorded}");
    let (_, still) = get(&url, "/api/v1/risks?device=door-1", &op).await;
    assert_eq!(
        still["total"], 1,
        "the narrowed copy changed nothing: {still}"
    );
    assert_eq!(still["risks"][0]["severity"], "critical", "{still}");
    // An older version of a shared advisory never replaces the newer one.
    let older = ADVISORY
        .replace("2026-11-02T00:00:00Z", "2026-10-01T00:00:00Z")
        .replace("1:1.36.1-1", "0.1");
    let (status, stale) = post(&url, "/api/v1/advisories", &admin, older.into_bytes()).await;
    assert_eq!(status, 200, "{stale}");
    assert_eq!(stale["older"], 1, "{stale}");
    assert_eq!(stale["recorded"], serde_json::json!([]), "{stale}");
    let (_, still) = get(&url, "/api/v1/risks?device=door-1", &op).await;
    assert_eq!(
        still["total"], 1,
        "the older version changed nothing: {still}"
    );

    // A dump (gzip JSON lines of CVE 5 records), the administrator's only:
    // two real records (the first two of the vendored vulnrichment subset,
    // which are the full dump's first two) and a broken line; the good ones
    // are imported and recorded, the broken one named.
    let dump = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/cve/vulnrichment-subset.jsonl.gz");
    let lines: Vec<String> = {
        use std::io::BufRead;
        let f = std::fs::File::open(&dump).expect("the vendored CVE subset");
        std::io::BufReader::new(flate2::read::MultiGzDecoder::new(f))
            .lines()
            .take(2)
            .map(|l| l.expect("line"))
            .collect()
    };
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    {
        use std::io::Write;
        writeln!(gz, "{}\n{{\"not\": \"a record\"}}\n{}", lines[0], lines[1]).expect("gzip");
    }
    let gz = gz.finish().expect("gzip");
    let (status, refused) = post(&url, "/api/v1/advisories/bulk", &op, gz.clone()).await;
    assert_eq!(status, 403, "{refused}");
    let (status, bulk) = post(&url, "/api/v1/advisories/bulk", &admin, gz).await;
    assert_eq!(status, 200, "{bulk}");
    assert_eq!(bulk["records"], 3, "{bulk}");
    assert_eq!(bulk["new"], 2, "{bulk}");
    assert_eq!(bulk["failed"], 1, "{bulk}");
    assert_eq!(bulk["recorded"], 2, "{bulk}");
    assert!(
        bulk["errors"][0]
            .as_str()
            .unwrap_or("")
            .starts_with("line 2"),
        "{bulk}"
    );
    let (status, empty) = post(&url, "/api/v1/advisories/bulk", &admin, b"garbage".to_vec()).await;
    assert_eq!(status, 400, "{empty}");

    // Notifications arrive: the webhook (signed), and MQTT.
    let mut delivered = false;
    for _ in 0..100 {
        // Events of one change are published concurrently: wait for the one
        // this test checks, not for whichever arrives first.
        let hooks = received.lock().expect("lock").len();
        let mqtt = mqtt_messages
            .lock()
            .expect("lock")
            .iter()
            .any(|(t, _)| t.ends_with("/op.example/new-vulnerable-device"));
        if hooks >= 1 && mqtt {
            delivered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        delivered,
        "no notification arrived; server log:\n{}",
        server.output()
    );
    let (headers, body) = received.lock().expect("lock")[0].clone();
    let n: Value = serde_json::from_slice(&body).expect("json body");
    assert_eq!(n["kind"], "new-vulnerable-device", "{n}");
    assert_eq!(n["subject"], "device:door-1");
    assert_eq!(n["stakeholder"], "op.example");
    let id = headers["webhook-id"].to_str().expect("id");
    let ts: i64 = headers["webhook-timestamp"]
        .to_str()
        .expect("ts")
        .parse()
        .expect("int");
    let expected = notify::WebhookSecret::parse(&secret)
        .expect("secret")
        .sign(id, ts, &body);
    assert_eq!(
        headers["webhook-signature"].to_str().expect("sig"),
        expected
    );
    let topics: Vec<String> = mqtt_messages
        .lock()
        .expect("lock")
        .iter()
        .map(|(t, _)| t.clone())
        .collect();
    assert!(
        topics
            .iter()
            .any(|t| t == &format!("{prefix}/op.example/new-vulnerable-device")),
        "{topics:?}"
    );
    // other.example subscribed to nothing and sees nothing; its deliveries are empty.
    let (_, theirs) = get(&url, "/api/v1/deliveries", &other).await;
    assert_eq!(theirs["deliveries"].as_array().map(Vec::len), Some(0));

    // The operator accepts the risk (a signed decision): no longer open.
    let table = ok(&[
        "risks",
        "list",
        "--server",
        &url,
        "--client-id",
        &op_id,
        "--client-secret",
        &op_secret,
        "--filter",
        "device=door-1",
    ]);
    assert!(
        table.contains("OSV-E2E-1") && table.contains("why:") && table.contains("OVERDUE"),
        "{table}"
    );
    let out = ok(&[
        "risks",
        "decide",
        "--server",
        &url,
        "--key",
        &op_key,
        "--as",
        "op.example",
        "--subject",
        "device:door-1",
        "--risk",
        "vuln/OSV-E2E-1",
        "accept",
        "--rationale",
        "wget is not reachable from the network",
        "--until",
        "2099-01-01",
    ]);
    assert!(out.contains("risk-accepted on device:door-1"), "{out}");
    let mut accepted = false;
    for _ in 0..50 {
        let (_, risks) = get(&url, "/api/v1/risks?device=door-1", &op).await;
        if risks["risks"][0]["status"] == "accepted" {
            accepted = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(accepted);

    // The manufacturer's VEX (OpenVEX, through the CLI): not affected. The
    // device's risk is gone, the change is told over MQTT, and the VEX is
    // exported again in the three formats.
    let vex = d.join("vex.json");
    std::fs::write(&vex, OPENVEX).expect("write");
    let out = ok(&[
        "vex",
        "import",
        "--server",
        &url,
        "--key",
        &acme_key,
        "--as",
        "acme.example",
        "--model",
        model,
        "--release",
        "2.4.0",
        p(&vex),
    ]);
    assert!(out.contains("OSV-E2E-1 not_affected"), "{out}");
    let mut cleared = false;
    for _ in 0..50 {
        let (_, risks) = get(&url, "/api/v1/risks?device=door-1", &op).await;
        if risks["total"] == 0 {
            cleared = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(cleared, "VEX not_affected clears the device");
    let mut told = false;
    for _ in 0..100 {
        if mqtt_messages
            .lock()
            .expect("lock")
            .iter()
            .any(|(t, _)| t.ends_with("/op.example/vex-changed"))
        {
            told = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(told, "vex-changed over MQTT");
    let (acme_id, acme_secret) = credential(&data, "acme.example");
    let _ = token(&url, &acme_id, &acme_secret).await;
    for format in ["openvex", "cyclonedx", "csaf"] {
        let doc = ok(&[
            "vex",
            "export",
            "--server",
            &url,
            "--client-id",
            &acme_id,
            "--client-secret",
            &acme_secret,
            "--model",
            model,
            "--format",
            format,
        ]);
        let v: Value =
            serde_json::from_str(&doc).unwrap_or_else(|e| panic!("{format}: {e}: {doc}"));
        assert!(
            doc.contains("OSV-E2E-1") && doc.contains("not_affected"),
            "{format}: {v}"
        );
    }
    // The stranger gets nothing.
    let (status, _) = get(&url, "/api/v1/vex?model=model:acme/DC-200", &other).await;
    assert_eq!(status, 404);
    server.stop();
}

/// `threat record` puts the reference model's findings on the device models
/// they are about, is idempotent, and resolves a finding the next model
/// version no longer has; the device's operator sees those risks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn threat_findings_become_risks_and_keep_their_status_across_versions() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path().to_path_buf();
    let data = d.join("data");
    let mut server = Server::start(&data, &["--checkpoint-interval-ms", "50"]);
    let url = server.base().trim_end_matches("/log").to_string();
    let authority = data.join("authority.key");
    let (acme_key, acme_pub) = common::keypair(&d, "acme", "eddsa");
    let (_, op_pub) = common::keypair(&d, "op", "eddsa");
    let (_, x_pub) = common::keypair(&d, "x", "eddsa");
    common::register_stakeholders(
        &url,
        &authority,
        &[
            ("acme.example", "manufacturer", &acme_pub),
            ("op.example", "operator", &op_pub),
            ("x.example", "operator", &x_pub),
        ],
    );
    // A camera of model CAM-7 operated by op.example, whose firmware acme released.
    submit(
        &url,
        &d,
        &acme_key,
        "acme.example",
        "device:cam-1",
        r#"{"type":"device-registered","manufacturer":"Acme","model":"CAM-7","serial":"1"}"#,
    );
    submit(
        &url,
        &d,
        &acme_key,
        "acme.example",
        "device:cam-1",
        r#"{"type":"ownership-transferred","owner":"op.example","operator":"op.example","site":"HQ"}"#,
    );
    submit(
        &url,
        &d,
        &acme_key,
        "acme.example",
        "model:acme/CAM-7",
        r#"{"type":"firmware-released","version":"1.0.0","image_sha256":"aa"}"#,
    );
    let (acme_id, acme_secret) = credential(&data, "acme.example");
    let (op_id, op_secret) = credential(&data, "op.example");
    let acme = token(&url, &acme_id, &acme_secret).await;
    let op = token(&url, &op_id, &op_secret).await;

    let v1 = d.join("v1.yaml");
    std::fs::write(&v1, ok(&["threat", "example"])).expect("write");
    let record_paged = |model: &Path, page_size: &str| {
        ok(&[
            "threat",
            "record",
            p(model),
            "--page-size",
            page_size,
            "--server",
            &url,
            "--key",
            &acme_key,
            "--as",
            "acme.example",
            "--client-id",
            &acme_id,
            "--client-secret",
            &acme_secret,
            "--today",
            "2026-11-21",
        ])
    };
    let record = |model: &Path| record_paged(model, "500");
    let out = record(&v1);
    let count = |out: &str, what: &str| -> u64 {
        out.split(", ")
            .find_map(|part| part.trim().strip_suffix(what).map(str::trim))
            .and_then(|n| n.rsplit(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no {what:?} in {out}"))
    };
    let new = count(&out, "new");
    assert!(new > 0, "{out}");
    assert_eq!(count(&out, "changed"), 0, "{out}");
    let recorded = |t: &str| {
        let t = t.to_string();
        let url = url.clone();
        async move {
            let (status, v) = get(&url, "/api/v1/risks?kind=recorded&page_size=1000", &t).await;
            assert_eq!(status, 200, "{v}");
            v
        }
    };
    // The projection catches up with the statements.
    let mut listed = Value::Null;
    for _ in 0..50 {
        listed = recorded(&acme).await;
        if listed["total"].as_u64() == Some(new) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(listed["total"].as_u64(), Some(new), "{listed}");
    // The operator of a CAM-7 sees the camera's findings, not the others'.
    let theirs = recorded(&op).await;
    let subjects: std::collections::BTreeSet<&str> = theirs["risks"]
        .as_array()
        .expect("risks")
        .iter()
        .filter_map(|r| r["subject"].as_str())
        .collect();
    assert_eq!(
        subjects.into_iter().collect::<Vec<_>>(),
        vec!["model:acme/CAM-7"],
        "{theirs}"
    );

    // The model itself is published first: its diagram, its inventory and
    // the file as written, found by id; its findings by their source.
    assert!(out.contains("published as acme.example/"), "{out}");
    let (status, models) = get(&url, "/api/v1/threat-models", &op).await;
    assert_eq!(status, 200, "{models}");
    let first = models["models"][0].clone();
    assert_eq!(
        models["models"].as_array().map(Vec::len),
        Some(1),
        "{models}"
    );
    let v1_text = std::fs::read_to_string(&v1).expect("read");
    assert_eq!(
        first["source_sha256"],
        hex::encode(<sha2::Sha256 as sha2::Digest>::digest(v1_text.as_bytes()))
    );
    assert_eq!(first["superseded_by"], Value::Null);
    let id = first["id"].as_str().expect("id").to_string();
    let name = first["name"].as_str().expect("name").to_string();
    let model_path = format!("/api/v1/threat-models/acme.example/{id}");
    let (status, model) = get(&url, &model_path, &op).await;
    assert_eq!(status, 200, "{model}");
    assert_eq!(model["source"], v1_text.as_str());
    assert!(
        model["diagram_svg"]
            .as_str()
            .is_some_and(|s| s.contains("<svg")),
        "{model}"
    );
    assert!(model["elements"].as_array().is_some_and(|e| e.len() > 3));
    assert!(model["flows"].as_array().is_some_and(|f| !f.is_empty()));
    let source = format!("threat-model:{name}");
    let (status, from_model) = get(
        &url,
        &format!(
            "/api/v1/risks?source={}&page_size=1000",
            url_escape(&source)
        ),
        &acme,
    )
    .await;
    assert_eq!(status, 200, "{from_model}");
    assert_eq!(from_model["total"].as_u64(), Some(new), "{from_model}");
    // Not public: it says where the system is weak. The log holds the
    // digest of a salted payload; the node shows the model to acme and to
    // op (a finding on its camera's model), to no one else.
    let (x_id, x_secret) = credential(&data, "x.example");
    let x = token(&url, &x_id, &x_secret).await;
    let (status, none) = get(&url, "/api/v1/threat-models", &x).await;
    assert_eq!(
        (status, none["models"].clone()),
        (200, serde_json::json!([])),
        "{none}"
    );
    assert_eq!(get(&url, &model_path, &x).await.0, 404);
    for path in ["/api/v1/threat-models", model_path.as_str()] {
        let r = reqwest::get(format!("{url}{path}")).await.expect("get");
        assert_eq!(r.status(), 401, "{path}");
    }
    let (_, policies) = get(&url, "/api/v1/policies", &x).await;
    assert!(!policies.to_string().contains("threat-model"), "{policies}");
    assert_eq!(
        get(&url, "/api/v1/policies?kind=threat-model", &x).await.0,
        400
    );
    let entry = first["entry"].as_u64().expect("entry");
    let logged = reqwest::get(format!("{url}/entries/{entry}/statement"))
        .await
        .expect("get");
    assert_eq!(logged.status(), 200);
    let logged = logged.bytes().await.expect("statement");
    let title = model["title"].as_str().expect("title");
    assert!(
        !logged.windows(title.len()).any(|w| w == title.as_bytes()),
        "the log holds the model's text"
    );
    for (path, want) in [
        (format!("{model_path}?entry=1"), 404),
        ("/api/v1/threat-models/acme.example/nope".to_string(), 404),
        (format!("{model_path}?version=1"), 400),
    ] {
        assert_eq!(get(&url, &path, &op).await.0, want, "{path}");
    }

    // The same version again: nothing to sign, however many pages the
    // register's recorded risks take.
    let out = record(&v1);
    assert!(
        out.contains("the version in force is this file, not published again"),
        "{out}"
    );
    assert_eq!(count(&out, "new"), 0, "{out}");
    assert_eq!(count(&out, "unchanged"), new, "{out}");
    assert!(new > 2, "the model must take several pages of two: {out}");
    let out = record_paged(&v1, "2");
    assert_eq!(count(&out, "new"), 0, "{out}");
    assert_eq!(count(&out, "unchanged"), new, "{out}");

    // Version 2.5: the camera no longer ships default credentials.
    let text = std::fs::read_to_string(&v1).expect("read");
    assert!(text.contains("default_credentials: true"));
    let v2 = d.join("v2.yaml");
    std::fs::write(
        &v2,
        text.replace("default_credentials: true", "default_credentials: false")
            .replace("version: \"2.4\"", "version: \"2.5\""),
    )
    .expect("write");
    let out = record(&v2);
    let resolved = count(&out, "resolved");
    assert!(resolved >= 1, "{out}");
    let mut mitigated = 0;
    for _ in 0..50 {
        let v = recorded(&acme).await;
        mitigated = v["risks"]
            .as_array()
            .expect("risks")
            .iter()
            .filter(|r| r["status"] == "mitigated")
            .count() as u64;
        if mitigated == resolved {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(mitigated, resolved);
    // Version 2.5 is in force; 2.4 stays readable at its entry.
    let (_, models) = get(&url, "/api/v1/threat-models", &op).await;
    let versions = models["models"].as_array().expect("models");
    assert_eq!(versions.len(), 2, "{models}");
    assert_eq!(versions[0]["version"], "2.5");
    assert_eq!(versions[1]["superseded_by"], versions[0]["entry"]);
    let old = versions[1]["entry"].as_u64().expect("entry");
    let (status, then) = get(&url, &format!("{model_path}?entry={old}"), &op).await;
    assert_eq!(status, 200, "{then}");
    assert_eq!(then["source"], v1_text.as_str());
    assert_eq!(then["versions"].as_array().map(Vec::len), Some(2));
    server.stop();
}

/// `s` escaped for a query string value.
fn url_escape(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

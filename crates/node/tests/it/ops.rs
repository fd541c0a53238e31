//! What an operator watches: `/metrics` parsed with an OpenMetrics parser
//! (the format Prometheus scrapes, checked strictly), `/healthz`, `/readyz`,
//! and the request id every answer carries.

use node::testing::TestNode;
use openmetrics_parser::{MetricsExposition, OpenMetricsType, OpenMetricsValue};
use serde_json::{json, Value};

pub(crate) type Exposition = MetricsExposition<OpenMetricsType, OpenMetricsValue>;

/// `/metrics` of the node at `base`, parsed (and its text).
pub(crate) async fn scrape(base: &str) -> (Exposition, String) {
    let r = reqwest::get(format!("{base}/metrics"))
        .await
        .expect("GET /metrics");
    assert_eq!(r.status(), 200);
    let content_type = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    let text = r.text().await.expect("text");
    let parsed = openmetrics_parser::openmetrics::parse_openmetrics(&text)
        .unwrap_or_else(|e| panic!("not OpenMetrics: {e:?}\n{text}"));
    (parsed, text)
}

/// The value of `family`'s sample with `labels` (a histogram's count).
pub(crate) fn value(m: &Exposition, family: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let f = m.families.get(family)?;
    f.iter_samples()
        .find(|s| {
            let set = s.get_labelset().expect("labels");
            labels
                .iter()
                .all(|(k, v)| set.get_label_value(k) == Some(*v))
        })
        .map(|s| match &s.value {
            OpenMetricsValue::Gauge(n) | OpenMetricsValue::Unknown(n) => n.as_f64(),
            OpenMetricsValue::Counter(c) => c.value.as_f64(),
            OpenMetricsValue::Histogram(h) => h.count.unwrap_or(0) as f64,
            other => panic!("{family}: {other:?}"),
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_probes_and_request_ids_tell_an_operator_what_the_node_does() {
    let t = TestNode::start("ops.test/log").await;
    let client = reqwest::Client::new();
    // One registration accepted, one refused (not a signed statement).
    let key = scitt::SigningKey::generate(scitt::Algorithm::EdDSA, &mut rand_core::OsRng);
    let statement = TestNode::sign(
        t.authority_id(),
        &t.authority_key(),
        "stakeholder:ops.example",
        &json!({"type":"stakeholder-registered","name":"Ops","roles":["operator"],
                "keys":[{"pem": key.public_key().to_pem()}]}),
    );
    let r = client
        .post(format!("{}/entries", t.base))
        .header("content-type", "application/cose")
        .body(statement)
        .send()
        .await
        .expect("POST /entries");
    let accepted_status = r.status().as_u16();
    assert!(
        accepted_status < 400,
        "{accepted_status}: {}",
        r.text().await.unwrap_or_default()
    );
    let r = client
        .post(format!("{}/entries", t.base))
        .header("content-type", "application/cose")
        .header("x-request-id", "op-req-42")
        .body(b"not cose".to_vec())
        .send()
        .await
        .expect("POST /entries");
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok()),
        Some("op-req-42"),
        "the caller's request id comes back"
    );
    // Without one, the node makes one.
    let r = reqwest::get(format!("{}/log/checkpoint", t.base))
        .await
        .expect("GET checkpoint");
    let made = r
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert_eq!(made.len(), 32, "{made}");
    // An unusable one is replaced.
    let r = client
        .get(format!("{}/healthz", t.base))
        .header("x-request-id", "x".repeat(65))
        .send()
        .await
        .expect("GET /healthz");
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::len),
        Some(32)
    );
    assert_eq!(
        r.json::<Value>().await.expect("json"),
        json!({"status": "ok"})
    );

    // Ready: every check, and the role.
    let r = reqwest::get(format!("{}/readyz", t.base))
        .await
        .expect("GET /readyz");
    assert_eq!(r.status(), 200);
    let ready: Value = r.json().await.expect("json");
    assert_eq!(ready["ready"], true, "{ready}");
    assert_eq!(ready["role"], "sequencer", "{ready}");
    let names: Vec<&str> = ready["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .map(|c| c["name"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(names, ["store", "log_writer", "signer", "projector"]);

    // Wait for a checkpoint over the registration, and for the store
    // sizes' first measurement, then scrape.
    let size = t.node.log.durable_size().get();
    t.node.log.wait_published(size).await.expect("published");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let (m, text) = loop {
        let (m, text) = scrape(&t.base).await;
        if m.families.contains_key("sectwin_store_bytes") {
            break (m, text);
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no store sizes:\n{text}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    let get = |family: &str, labels: &[(&str, &str)]| {
        value(&m, family, labels).unwrap_or_else(|| panic!("no {family} {labels:?} in\n{text}"))
    };
    assert!(get("sectwin_registrations_accepted", &[]) >= 1.0);
    assert_eq!(
        get(
            "sectwin_registrations_refused",
            &[("reason", "bad_statement")]
        ),
        1.0
    );
    assert_eq!(
        get(
            "sectwin_registrations_refused",
            &[("reason", "unknown_key")]
        ),
        0.0,
        "every reason is listed"
    );
    assert_eq!(
        get(
            "sectwin_http_requests",
            &[("route", "/entries"), ("method", "POST"), ("status", "400")]
        ),
        1.0
    );
    assert_eq!(
        get(
            "sectwin_http_requests",
            &[
                ("route", "/entries"),
                ("method", "POST"),
                ("status", &accepted_status.to_string())
            ]
        ),
        1.0
    );
    assert!(
        get(
            "sectwin_http_request_duration_seconds",
            &[("route", "/entries"), ("method", "POST")]
        ) >= 2.0
    );
    assert_eq!(
        get("sectwin_log_entries", &[]),
        t.node.log.durable_size().get() as f64
    );
    assert!(get("sectwin_log_published_entries", &[]) >= size as f64);
    assert!(get("sectwin_log_append_duration_seconds", &[]) >= 1.0);
    assert!(get("sectwin_log_integration_duration_seconds", &[]) >= 1.0);
    let age = get("sectwin_log_checkpoint_age_seconds", &[]);
    assert!((0.0..60.0).contains(&age), "{age}");
    assert_eq!(get("sectwin_node_role", &[("role", "sequencer")]), 1.0);
    assert_eq!(get("sectwin_log_writer_faulted", &[]), 0.0);
    assert!(get("sectwin_projector_lag_entries", &[]) >= 0.0);
    assert_eq!(get("sectwin_device_channel_enabled", &[]), 0.0);
    assert_eq!(
        get(
            "sectwin_device_reports_rejected",
            &[("reason", "bad_signature")]
        ),
        0.0
    );
    let mut families = vec![
        "sectwin_log_quorum_failures",
        "sectwin_register_build_seconds",
    ];
    if t.node.notifier.is_some() {
        families.extend([
            "sectwin_notifications_delivered",
            "sectwin_notifications_retries",
            "sectwin_notifications_pending",
            "sectwin_notifier_active",
        ]);
    }
    for family in families {
        assert!(m.families.contains_key(family), "no {family} in\n{text}");
    }
    if t.node.notifier.is_some() {
        // A single node sends its notifications itself.
        assert_eq!(get("sectwin_notifier_active", &[]), 1.0);
    }
    assert!(get("sectwin_store_bytes", &[("store", "log")]) > 0.0);
    // No witness, no cosignature: the family is left out (OpenMetrics
    // parsers refuse a family without samples).
    assert!(!m
        .families
        .contains_key("sectwin_log_cosignature_age_seconds"));
    // The unmatched are counted under one route (bounded labels).
    let _ = reqwest::get(format!("{}/no/such/{}", t.base, "x".repeat(10))).await;
    let (m, _) = scrape(&t.base).await;
    assert_eq!(
        value(
            &m,
            "sectwin_http_requests",
            &[("route", "unmatched"), ("status", "404")]
        ),
        Some(1.0)
    );
    t.node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_whose_log_stopped_is_not_ready() {
    let t = TestNode::start("notready.test/log").await;
    t.node.log.shutdown().await;
    let r = reqwest::get(format!("{}/readyz", t.base))
        .await
        .expect("GET /readyz");
    assert_eq!(r.status(), 503);
    let ready: Value = r.json().await.expect("json");
    assert_eq!(ready["ready"], false, "{ready}");
    let writer = ready["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|c| c["name"] == "log_writer")
        .cloned()
        .unwrap_or(Value::Null);
    assert_eq!(writer["ok"], false, "{ready}");
    // Alive all the same.
    let r = reqwest::get(format!("{}/healthz", t.base))
        .await
        .expect("GET /healthz");
    assert_eq!(r.status(), 200);
}

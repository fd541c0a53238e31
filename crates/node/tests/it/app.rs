//! The production application (`node::app`) as `sectwin serve` runs it:
//! every API is mounted, the raw-append filter that `reindex
//! --trust-admission` relies on is in force, and a node whose Archivist
//! data cannot be opened does not start (it used to start without the API).

use node::testing::TestNode;
use serde_json::{json, Value};

async fn get(base: &str, path: &str, token: &str) -> (u16, Value) {
    let r = reqwest::Client::new()
        .get(format!("{base}{path}"))
        .bearer_auth(token)
        .send()
        .await
        .expect("GET");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_api_is_mounted_on_the_production_app() {
    let t = TestNode::start("app.test/log").await;
    let token = t.token("app.test").await;
    for path in [
        "/api/v1/devices",
        "/api/v1/risks",
        "/api/v1/risks/summary",
        "/api/v1/subscriptions",
        "/archivist/v2/assets",
        "/archivist/v2/publicassets",
    ] {
        let (status, body) = get(&t.base, path, &token).await;
        assert_eq!(status, 200, "{path}: {body}");
    }
    let r = reqwest::get(format!("{}/log/checkpoint", t.base))
        .await
        .expect("GET /log/checkpoint");
    assert_eq!(r.status(), 200);
    assert!(r.text().await.expect("text").starts_with("app.test/log\n"));
    // An unknown route answers in the problem format, not an empty 404.
    let (status, body) = get(&t.base, "/api/v1/nothing-here", &token).await;
    assert_eq!(status, 404);
    assert!(body.is_object(), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_twin_statement_cannot_enter_the_log_around_the_registration_policy() {
    let t = TestNode::start("filter.test/log").await;
    let statement = TestNode::sign(
        t.authority_id(),
        &t.authority_key(),
        "device:door-1",
        &json!({"type":"device-registered","manufacturer":"Acme","model":"DC-200","serial":"S-1"}),
    );
    let client = reqwest::Client::new();
    let r = client
        .post(format!("{}/log/add", t.base))
        .body(statement.clone())
        .send()
        .await
        .expect("POST /log/add");
    let status = r.status().as_u16();
    let text = r.text().await.expect("text");
    assert!(
        (400..500).contains(&status),
        "a raw append of a twin statement answered {status}: {text}"
    );
    assert!(
        text.contains("SCRAPI"),
        "the refusal says where to go: {text}"
    );
    // Anything else may be appended raw.
    let r = client
        .post(format!("{}/log/add", t.base))
        .body(b"not a statement".to_vec())
        .send()
        .await
        .expect("POST /log/add");
    assert_eq!(r.status(), 200, "{:?}", r.text().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_whose_archivist_data_cannot_be_opened_does_not_start() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("archivist"),
        b"a file where a directory belongs",
    )
    .expect("write");
    let opened = node::open_node(
        dir.path(),
        Some("broken.test/log"),
        log_service::LogConfig::default(),
        None,
        transparency::RegistrationPolicy::default(),
    )
    .await;
    let Err(e) = opened else {
        panic!("a node opened without its Archivist API");
    };
    let message = format!("{e:#}");
    assert!(message.contains("Archivist"), "{message}");
    assert!(
        message.contains("archivist"),
        "names the directory: {message}"
    );
}

/// Typed queries: an unknown parameter or a bad value is refused with a 400
/// that names the parameter, before anything is read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_queries_name_the_parameter_that_is_wrong() {
    let t = TestNode::start("query.test/log").await;
    let token = t.token("query.test").await;
    for (path, names) in [
        ("/api/v1/risks?colour=red", "colour"),
        ("/api/v1/risks?overdue=maybe", "overdue"),
        ("/api/v1/risks?status=closed", "status"),
        ("/api/v1/risks?severity=urgent", "severity"),
        ("/api/v1/risks?page_size=many", "page_size"),
        ("/api/v1/exposure?by=color", "by"),
        ("/api/v1/risks/summary?x=1", "x"),
        ("/api/v1/vex?model=m&colour=red", "colour"),
        ("/api/v1/devices?colour=red", "colour"),
        ("/api/v1/devices?lifecycle=lost", "lifecycle"),
        ("/api/v1/devices?page_size=many", "page_size"),
        ("/api/v1/devices/count?colour=red", "colour"),
        ("/api/v1/devices/count?page_size=10", "page_size"),
        ("/api/v1/devices/count?lifecycle=lost", "lifecycle"),
        ("/api/v1/devices/cam-1/timeline?colour=red", "colour"),
        ("/api/v1/devices/cam-1/timeline?page_size=many", "page_size"),
        ("/api/v1/reads?reader=x", "reader"),
        ("/api/v1/reads?page_size=-1", "page_size"),
        ("/api/v1/policies?owner=x", "owner"),
        ("/api/v1/policies?kind=privacy", "privacy"),
        ("/api/v1/policies?at=soon", "at="),
        ("/api/v1/deliveries?kind=vex-changed", "kind"),
        ("/api/v1/deliveries?status=lost", "status"),
    ] {
        let (status, body) = get(&t.base, path, &token).await;
        assert_eq!(status, 400, "{path}: {body}");
        let message = body["message"].as_str().unwrap_or_default();
        assert!(message.contains(names), "{path}: {message}");
    }
    // Ranges are the service's: still a 400 saying what is allowed.
    for path in [
        "/api/v1/risks?page_size=1001",
        "/api/v1/devices?page_size=0",
        "/api/v1/devices/cam-1/timeline?page_size=1001",
        "/api/v1/reads?page_size=0",
    ] {
        let (status, body) = get(&t.base, path, &token).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert!(
            body["message"]
                .as_str()
                .unwrap_or_default()
                .contains("page_size must be an integer from 1 to 1000"),
            "{path}: {body}"
        );
    }
    // Without a token, the register is not shown.
    let r = reqwest::get(format!("{}/api/v1/risks", t.base))
        .await
        .expect("GET");
    assert_eq!(r.status(), 401);
}

/// Every store of a data directory carries a format marker; a node whose
/// data a newer build wrote does not start, and says which store and why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_refuses_data_written_by_a_newer_format() {
    let stores = ["twins", "payloads", "advisories", "notify"];
    let t = TestNode::start("format.test/log").await;
    for (store, version) in stores.iter().zip([twin_store::TWIN_STORE_FORMAT, 1, 1, 1]) {
        let marker = t.data().join(store).join(durable::format::FORMAT_FILE);
        assert_eq!(
            std::fs::read_to_string(&marker).expect("marker"),
            format!("{store} {version}\n"),
            "{store}"
        );
    }
    // The log's own marker sits in the data directory itself.
    assert_eq!(
        std::fs::read_to_string(t.data().join(durable::format::FORMAT_FILE)).expect("log marker"),
        "log 1\n"
    );
    for store in stores {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir_all(dir.path().join(store)).expect("dir");
        std::fs::write(
            dir.path().join(store).join(durable::format::FORMAT_FILE),
            format!("{store} 99\n"),
        )
        .expect("marker");
        let opened = async {
            let (mut node, _) = node::open_node(
                dir.path(),
                Some("newer.test/log"),
                log_service::LogConfig::default(),
                None,
                transparency::RegistrationPolicy::default(),
            )
            .await?;
            node::start_notifications(
                &mut node,
                dir.path(),
                node::NotifyConfig {
                    mqtt: None,
                    interval: std::time::Duration::from_secs(1),
                    webhooks_to_private_addresses: false,
                    shared_outbox: None,
                },
            )
            .await?;
            anyhow::Ok(node)
        }
        .await;
        let message = match opened {
            Ok(_) => panic!("a node opened over {store} format 99"),
            Err(e) => format!("{e:#}"),
        };
        assert!(
            message.contains("format 99") && message.contains("newer sectwin"),
            "{store}: {message}"
        );
    }
}

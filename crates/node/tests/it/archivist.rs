//! The DataTrails (Archivist) API on the production app: assets, events,
//! counts and filters, public assets under the one sharing decision, access
//! policies that publish the owner's sharing policy, blobs, and errors in
//! DataTrails' shape. (The official Python SDK runs against a real server in
//! `tests-interop/archivist`.)

use node::testing::TestNode;
use reqwest::StatusCode;
use serde_json::{json, Value};

const ACME: &str = "acme.test";
const MAINT: &str = "maint.test";

/// A node with Acme (manufacturer, owner, operator) and a maintainer that
/// has no role on Acme's devices; answers it with their tokens.
async fn node(origin: &str) -> (TestNode, String, String) {
    let t = TestNode::start(origin).await;
    t.register_stakeholder(ACME, &["manufacturer", "owner", "operator"])
        .await;
    t.register_stakeholder(MAINT, &["maintainer"]).await;
    let acme = t.token(ACME).await;
    let maint = t.token(MAINT).await;
    (t, acme, maint)
}

struct Answer {
    status: StatusCode,
    total: Option<u64>,
    body: Value,
}

async fn call(
    t: &TestNode,
    method: reqwest::Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
    count: bool,
) -> Answer {
    let mut r = reqwest::Client::new().request(method, format!("{}{path}", t.base));
    if let Some(token) = token {
        r = r.bearer_auth(token);
    }
    if let Some(body) = body {
        r = r.json(&body);
    }
    if count {
        r = r.header("x-request-total-count", "true");
    }
    let r = r.send().await.expect("request");
    let status = r.status();
    let total = r
        .headers()
        .get("x-total-count")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let body = r.json().await.unwrap_or(Value::Null);
    Answer {
        status,
        total,
        body,
    }
}

async fn get(t: &TestNode, path: &str, token: Option<&str>) -> Answer {
    call(t, reqwest::Method::GET, path, token, None, false).await
}

async fn post(t: &TestNode, path: &str, token: &str, body: Value) -> Answer {
    call(
        t,
        reqwest::Method::POST,
        path,
        Some(token),
        Some(body),
        false,
    )
    .await
}

/// A DataTrails error: the status, and the body's gRPC code and message.
fn assert_error(a: &Answer, status: u16, code: u64, says: &str) {
    assert_eq!(a.status.as_u16(), status, "{}", a.body);
    assert_eq!(a.body["code"], code, "{}", a.body);
    assert_eq!(a.body["details"], json!([]), "{}", a.body);
    let message = a.body["message"].as_str().unwrap_or_default();
    assert!(message.contains(says), "{message:?} does not say {says:?}");
}

async fn create_door(t: &TestNode, token: &str, public: bool) -> String {
    let a = post(
        t,
        "/archivist/v2/assets",
        token,
        json!({"behaviours": ["RecordEvidence"], "public": public,
               "attributes": {"arc_display_type": "door", "arc_serial_number": "D-1", "floor": "2"}}),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    a.body["identity"]
        .as_str()
        .unwrap_or_else(|| panic!("no identity in {}", a.body))
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assets_and_events_with_filters_counts_and_errors() {
    let (t, acme, maint) = node("archivist.test/log").await;
    let asset = create_door(&t, &acme, false).await;
    let a = get(&t, &format!("/archivist/v2/{asset}"), Some(&acme)).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.body["attributes"]["floor"], "2");
    assert_eq!(a.body["public"], false);
    assert_eq!(a.body["owner"], ACME);
    // Nobody without a role on it sees it, nor anyone anonymous.
    assert_error(
        &get(&t, &format!("/archivist/v2/{asset}"), Some(&maint)).await,
        404,
        5,
        "not found",
    );
    let public = asset.replace("assets/", "publicassets/");
    assert_error(
        &get(&t, &format!("/archivist/v2/{public}"), None).await,
        404,
        5,
        "not found",
    );

    let e = post(
        &t,
        &format!("/archivist/v2/{asset}/events"),
        &acme,
        json!({"operation": "Record", "behaviour": "RecordEvidence",
               "event_attributes": {"arc_description": "door opened"},
               "asset_attributes": {"state": "open"}}),
    )
    .await;
    assert_eq!(e.status, StatusCode::OK, "{}", e.body);
    assert_eq!(e.body["signed_by_service"], true);
    assert_eq!(e.body["from"], ACME);
    let a = get(&t, &format!("/archivist/v2/{asset}"), Some(&acme)).await;
    assert_eq!(
        a.body["attributes"]["state"], "open",
        "the event set the asset's attribute"
    );

    let events = format!("/archivist/v2/{asset}/events");
    let count = call(&t, reqwest::Method::GET, &events, Some(&acme), None, true).await;
    assert_eq!(count.total, Some(2), "NewAsset and Record");
    let q = format!("{events}?event_attributes[arc_description]=door%20opened");
    let filtered = get(&t, &q, Some(&acme)).await;
    let list = filtered.body["events"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(list.len(), 1, "{}", filtered.body);
    assert_eq!(list[0]["operation"], "Record");
    // Pages: one event per page, then the token alone brings the next.
    let first = get(&t, &format!("{events}?page_size=1"), Some(&acme)).await;
    let token = first.body["next_page_token"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(!token.is_empty(), "{}", first.body);
    let second = get(
        &t,
        &format!("{events}?page_size=1&page_token={token}"),
        Some(&acme),
    )
    .await;
    assert_ne!(
        first.body["events"][0]["identity"],
        second.body["events"][0]["identity"]
    );

    // Errors say what is wrong, in DataTrails' shape.
    assert_error(
        &get(&t, "/archivist/v2/assets?colour=red", Some(&acme)).await,
        400,
        3,
        "unknown filter",
    );
    assert_error(
        &get(&t, "/archivist/v2/assets?page_size=0", Some(&acme)).await,
        400,
        3,
        "page_size",
    );
    assert_error(
        &post(&t, &events, &acme, json!({"operation": "Record"})).await,
        400,
        3,
        "needs behaviour",
    );
    assert_error(
        &post(
            &t,
            "/archivist/v2/assets",
            &acme,
            json!({"attributes": {}, "colour": 1}),
        )
        .await,
        400,
        3,
        "unknown asset field",
    );
    assert_error(
        &post(
            &t,
            "/archivist/v2/assets",
            &acme,
            json!({"attributes": {"sectwin_public": true}}),
        )
        .await,
        400,
        3,
        "reserved",
    );
    // Writing needs a caller.
    let anonymous = call(
        &t,
        reqwest::Method::POST,
        &events,
        None,
        Some(json!({})),
        false,
    )
    .await;
    assert_eq!(
        anonymous.status,
        StatusCode::UNAUTHORIZED,
        "{}",
        anonymous.body
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_public_asset_is_read_by_anyone_and_every_read_is_recorded() {
    let (t, acme, maint) = node("public.test/log").await;
    let asset = create_door(&t, &acme, true).await;
    let public = asset.replace("assets/", "publicassets/");
    let a = get(&t, &format!("/archivist/v2/{public}"), None).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(a.body["public"], true);
    assert_eq!(a.body["attributes"]["floor"], "2");
    // The same decision on every API: the twin is public on /api/v1 too.
    let device = asset.trim_start_matches("assets/");
    let twin = get(&t, &format!("/api/v1/devices/{device}"), None).await;
    assert_eq!(twin.status, StatusCode::OK, "{}", twin.body);
    let by_maint = get(&t, &format!("/archivist/v2/{asset}"), Some(&maint)).await;
    assert_eq!(by_maint.status, StatusCode::OK, "{}", by_maint.body);
    // Another stakeholder's private asset is not in the public list.
    create_door(&t, &acme, false).await;
    let list = get(&t, "/archivist/v2/publicassets", None).await;
    let items = list.body["publicassets"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(items.len(), 1, "{}", list.body);
    // Acme sees who read its public asset, and under which rule.
    let reads = get(&t, "/api/v1/reads", Some(&acme)).await;
    assert_eq!(reads.status, StatusCode::OK, "{}", reads.body);
    let records = reads.body["reads"].as_array().cloned().unwrap_or_default();
    assert!(
        records
            .iter()
            .any(|r| r["reader"].is_null() && r["policy"] == "public"),
        "no anonymous read under the public rule in {records:#?}"
    );
    assert!(
        records.iter().any(|r| r["reader"] == MAINT),
        "no read by the maintainer in {records:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_policies_publish_the_owners_sharing_policy() {
    let (t, acme, maint) = node("access.test/log").await;
    let asset = create_door(&t, &acme, false).await;
    let path = format!("/archivist/v2/{asset}");
    assert_eq!(
        get(&t, &path, Some(&maint)).await.status,
        StatusCode::NOT_FOUND
    );
    let subject = post(
        &t,
        "/archivist/iam/v1/subjects",
        &acme,
        json!({"display_name": MAINT, "wallet_pub_key": [], "tessera_pub_key": []}),
    )
    .await;
    assert_eq!(subject.status, StatusCode::OK, "{}", subject.body);
    let policy = post(
        &t,
        "/archivist/iam/v1/access_policies",
        &acme,
        json!({"display_name": "doors to the maintainer",
               "filters": [{"or": ["attributes.arc_display_type=door"]}],
               "access_permissions": [{"subjects": [subject.body["identity"]],
                                       "behaviours": ["RecordEvidence"]}]}),
    )
    .await;
    assert_eq!(policy.status, StatusCode::OK, "{}", policy.body);
    let policy_id = policy.body["identity"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    // Published: Acme's sharing policy now lets the maintainer read the door.
    let read = get(&t, &path, Some(&maint)).await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.body);
    let policies = get(&t, "/api/v1/policies", Some(&acme)).await;
    assert!(
        policies
            .body
            .to_string()
            .contains("archivist-access-policies"),
        "{}",
        policies.body
    );
    let covered = get(
        &t,
        &format!("/archivist/iam/v1/{policy_id}/assets"),
        Some(&acme),
    )
    .await;
    assert_eq!(
        covered.body["assets"].as_array().map(Vec::len),
        Some(1),
        "{}",
        covered.body
    );
    let of_asset = get(
        &t,
        &format!("/archivist/iam/v1/{asset}/access_policies"),
        Some(&acme),
    )
    .await;
    assert_eq!(
        of_asset.body["access_policies"].as_array().map(Vec::len),
        Some(1)
    );
    // Withdrawn: published again, and the maintainer reads nothing.
    let gone = call(
        &t,
        reqwest::Method::DELETE,
        &format!("/archivist/iam/v1/{policy_id}"),
        Some(&acme),
        None,
        false,
    )
    .await;
    assert_eq!(gone.status, StatusCode::OK, "{}", gone.body);
    assert_eq!(
        get(&t, &path, Some(&maint)).await.status,
        StatusCode::NOT_FOUND
    );
    // Configuration is the caller's own.
    assert_error(
        &get(
            &t,
            &format!(
                "/archivist/iam/v1/{}",
                subject.body["identity"].as_str().unwrap_or_default()
            ),
            Some(&maint),
        )
        .await,
        404,
        5,
        "not found",
    );
    assert_error(
        &post(
            &t,
            "/archivist/v2/locations",
            &acme,
            json!({"description": "x"}),
        )
        .await,
        400,
        3,
        "display_name",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blobs_round_trip_and_stay_with_their_uploader() {
    let (t, acme, maint) = node("blobs.test/log").await;
    let data = b"\x89PNG a photo of the door\r\n--not-a-boundary\r\n".to_vec();
    let boundary = "sectwin-test-boundary";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"door.png\"\r\nContent-Type: image/png\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(&data);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let client = reqwest::Client::new();
    let r = client
        .post(format!("{}/archivist/v1/blobs", t.base))
        .bearer_auth(&acme)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
        .send()
        .await
        .expect("upload");
    assert_eq!(r.status(), StatusCode::OK);
    let info: Value = r.json().await.expect("json");
    assert_eq!(info["mime_type"], "image/png");
    assert_eq!(info["size"], data.len());
    let id = info["identity"].as_str().unwrap_or_default().to_string();
    let r = client
        .get(format!("{}/archivist/v1/{id}", t.base))
        .bearer_auth(&acme)
        .send()
        .await
        .expect("download");
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("image/png")
    );
    assert_eq!(r.bytes().await.expect("bytes").to_vec(), data);
    let again = get(&t, &format!("/archivist/v1/{id}/info"), Some(&acme)).await;
    assert_eq!(again.body, info);
    // Only the uploader's organization reads it.
    assert_error(
        &get(&t, &format!("/archivist/v1/{id}/info"), Some(&maint)).await,
        404,
        5,
        "not found",
    );
    // A body that is not a multipart upload is refused, saying so.
    let r = client
        .post(format!("{}/archivist/v1/blobs", t.base))
        .bearer_auth(&acme)
        .json(&json!({"file": "x"}))
        .send()
        .await
        .expect("upload");
    let a = Answer {
        status: r.status(),
        total: None,
        body: r.json().await.unwrap_or(Value::Null),
    };
    assert_error(&a, 400, 3, "multipart");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_token_is_a_datatrails_error_with_its_challenge() {
    let (t, _, _) = node("archivist-401.test/log").await;
    // No token where one is needed: 401, code 16 (UNAUTHENTICATED).
    let r = reqwest::Client::new()
        .post(format!("{}/archivist/v2/assets", t.base))
        .json(&json!({"attributes": {"arc_display_type": "door"}}))
        .send()
        .await
        .expect("request");
    let challenge = r
        .headers()
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let a = Answer {
        status: r.status(),
        total: None,
        body: r.json().await.unwrap_or(Value::Null),
    };
    assert_error(&a, 401, 16, "Bearer");
    assert!(challenge.starts_with("Bearer realm="), "{challenge}");
    // A token that does not verify, on a read that allows anonymous.
    let a = get(&t, "/archivist/v2/assets", Some("not-a-token")).await;
    assert_error(&a, 401, 16, "");
    t.node.shutdown().await;
}

//! Data the log cannot rebuild, written by an earlier build, opens with
//! nothing lost. `tests/golden/node-v1.tar.gz` is a data directory written
//! by the build of 2026-12-06 (log format 1, twins 1, payloads 1,
//! advisories 1, notify 1, archivist 2): private payloads, read records,
//! an advisory, a subscription, Archivist configuration and a blob, besides
//! the log. The test opens a copy with this build and reads each of them
//! back through the API. The twins, which the log rebuilds, are in format
//! 1 there: this build folds them again (DataTrails events included, as
//! the built-in type they now are) and the asset attributes come back.
//!
//! Do not regenerate the archive when a format changes: it stands for data
//! already on disk, and the store must read it (or move it at open). Add an
//! archive for the new format beside it instead, with
//! `SECTWIN_WRITE_GOLDEN=<path>.tar.gz cargo test -p node --test it golden::write -- --ignored`.

use std::path::{Path, PathBuf};
use std::process::Command;

use node::testing::TestNode;
use reqwest::StatusCode;
use serde_json::{json, Value};

const ORIGIN: &str = "golden.test/log";
const ACME: &str = "acme.test";
const MAINT: &str = "maint.test";
/// The blob uploaded, and the private asset's attribute that only its
/// payload (beside the log, not in it) holds.
const BLOB: &[u8] = b"golden photo of door 7\n";
const SECRET_ATTRIBUTE: &str = "kept beside the log, never in it";

const ADVISORY: &str = r#"{
  "schema_version": "1.6.0",
  "id": "OSV-GOLDEN-1",
  "aliases": ["CVE-2099-7777"],
  "published": "2026-11-01T00:00:00Z",
  "modified": "2026-11-02T00:00:00Z",
  "summary": "golden advisory",
  "affected": [{
    "package": {"ecosystem": "Debian", "name": "busybox", "purl": "pkg:deb/debian/busybox"},
    "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1:1.36.1-1"}]}]
  }]
}"#;

fn archive() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/node-v1.tar.gz")
}

async fn send(
    t: &TestNode,
    method: reqwest::Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut r = reqwest::Client::new()
        .request(method, format!("{}{path}", t.base))
        .bearer_auth(token);
    if let Some(body) = body {
        r = r.json(&body);
    }
    let r = r.send().await.expect("request");
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// Writes the archive named by `SECTWIN_WRITE_GOLDEN` with this build.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "writes a golden data directory; run by hand when a format changes"]
async fn write() {
    let out = std::env::var("SECTWIN_WRITE_GOLDEN")
        .expect("SECTWIN_WRITE_GOLDEN=<path>.tar.gz names the archive to write");
    let data_dir = tempfile::tempdir().expect("temp dir");
    let node_path = data_dir.path().to_path_buf();
    let t = TestNode::start_in(data_dir, ORIGIN).await;
    t.register_stakeholder(ACME, &["manufacturer", "owner", "operator"])
        .await;
    t.register_stakeholder(MAINT, &["maintainer"]).await;
    let acme = t.token(ACME).await;
    let maint = t.token(MAINT).await;
    let admin = t.token(t.authority_id()).await;
    let post = reqwest::Method::POST;
    // A private asset (its payloads beside the log) and a public one.
    let (s, private) = send(&t, post.clone(), "/archivist/v2/assets", &acme, Some(json!({
        "attributes": {"arc_display_type": "door", "arc_serial_number": "D-7", "note": SECRET_ATTRIBUTE}}))).await;
    assert_eq!(s, StatusCode::OK, "{private}");
    let (s, public) = send(
        &t,
        post.clone(),
        "/archivist/v2/assets",
        &acme,
        Some(json!({
        "public": true, "attributes": {"arc_display_type": "camera", "arc_serial_number": "C-1"}})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{public}");
    // A read of another organization's data: a read record.
    let (s, _) = send(
        &t,
        reqwest::Method::GET,
        &format!(
            "/archivist/v2/{}",
            public["identity"].as_str().unwrap_or_default()
        ),
        &maint,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    // Configuration, and a blob.
    let (s, _) = send(
        &t,
        post.clone(),
        "/archivist/v2/locations",
        &acme,
        Some(json!({"display_name": "HQ"})),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let boundary = "golden";
    let mut body = format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f\"\r\nContent-Type: text/plain\r\n\r\n").into_bytes();
    body.extend_from_slice(BLOB);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let r = reqwest::Client::new()
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
    // An advisory and a subscription.
    let r = reqwest::Client::new()
        .post(format!("{}/api/v1/advisories", t.base))
        .bearer_auth(&admin)
        .body(ADVISORY)
        .send()
        .await
        .expect("advisory");
    assert_eq!(r.status(), StatusCode::OK);
    let (s, sub) = send(
        &t,
        post,
        "/api/v1/subscriptions",
        &acme,
        Some(json!({"id": "golden-hook", "webhook": {"url": "https://hooks.example.com/sectwin"}, "kinds": ["new-vulnerable-device"]})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{sub}");
    // Everything acknowledged is durable: the archive is what a node
    // stopped now would leave (opening it recovers the journals).
    let status = Command::new("tar")
        .arg("-czf")
        .arg(&out)
        .arg("--exclude=LOCK")
        .arg("-C")
        .arg(&node_path)
        .arg(".")
        .status()
        .expect("tar");
    assert!(status.success());
    drop(t);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_written_by_the_first_formats_opens_with_nothing_lost() {
    let dir = tempfile::tempdir().expect("temp dir");
    let status = Command::new("tar")
        .arg("-xzf")
        .arg(archive())
        .arg("-C")
        .arg(dir.path())
        .status()
        .expect("tar (from the system) unpacks the golden archive");
    assert!(status.success(), "unpacking {}", archive().display());
    let t = TestNode::start_in(dir, ORIGIN).await;
    // The twins were in format 1: emptied at open and folded again from the
    // log, DataTrails events included (now a built-in custom type).
    assert_eq!(
        std::fs::read_to_string(t.data().join("twins").join(durable::format::FORMAT_FILE))
            .expect("twins marker"),
        format!("twins {}\n", twin_store::TWIN_STORE_FORMAT)
    );
    let published = t.node.log.published().size.get();
    assert!(
        t.projector()
            .wait_projected(published, std::time::Duration::from_secs(60))
            .await,
        "the twins are folded again from the log"
    );
    let acme = t.token(ACME).await;
    let maint = t.token(MAINT).await;
    let get = reqwest::Method::GET;
    // The private asset's attributes come from the payload store.
    let (s, assets) = send(
        &t,
        get.clone(),
        "/archivist/v2/assets?attributes.arc_serial_number=D-7",
        &acme,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{assets}");
    assert_eq!(
        assets["assets"][0]["attributes"]["note"], SECRET_ATTRIBUTE,
        "{assets}"
    );
    let (s, all) = send(&t, get.clone(), "/archivist/v2/assets", &acme, None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(all["assets"].as_array().map(Vec::len), Some(2), "{all}");
    // The read records.
    let (_, reads) = send(&t, get.clone(), "/api/v1/reads", &acme, None).await;
    let reads = reads["reads"].as_array().cloned().unwrap_or_default();
    assert!(reads.iter().any(|r| r["reader"] == MAINT), "{reads:#?}");
    // Archivist configuration and the blob.
    let (_, locations) = send(&t, get.clone(), "/archivist/v2/locations", &acme, None).await;
    assert_eq!(
        locations["locations"][0]["display_name"], "HQ",
        "{locations}"
    );
    let blob = std::fs::read_dir(t.data().join("archivist/blobs"))
        .expect("blobs")
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().into_string().ok())
        .find_map(|n| n.strip_suffix(".json").map(String::from))
        .expect("a blob record");
    let r = reqwest::Client::new()
        .get(format!("{}/archivist/v1/blobs/{blob}", t.base))
        .bearer_auth(&acme)
        .send()
        .await
        .expect("download");
    assert_eq!(r.bytes().await.expect("bytes").as_ref(), BLOB);
    // The advisory and the subscription.
    assert_eq!(t.node.risks.advisory_count(), 1);
    let (_, subs) = send(&t, get.clone(), "/api/v1/subscriptions", &acme, None).await;
    assert!(subs.to_string().contains("golden-hook"), "{subs}");
    // And the maintainer still reads only what it may.
    let (s, _) = send(
        &t,
        get,
        &format!(
            "/archivist/v2/{}",
            assets["assets"][0]["identity"].as_str().unwrap_or_default()
        ),
        &maint,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

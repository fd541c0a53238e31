//! Issue 13, item 10: a full disk and stakeholders' stored bytes, against the
//! real `sectwin serve` on a small tmpfs (mounting needs root or
//! CAP_SYS_ADMIN; without it these tests fail saying so, never skip).
//!
//! * one stakeholder fills its blob quota and is refused (507) while another
//!   still uploads, until the free space kept for the log is reached (507);
//!   the log still appends afterwards;
//! * on a full disk a blob upload answers 507 with the reason and leaves no
//!   `.tmp` file; the log turns read-only and `/api/v1/status` says so and
//!   why; Archivist asset creation gives that reason (507), not "read it
//!   again shortly".

use crate::common;

use std::path::Path;

use common::{bearer_token as token, p, stdout_of, AddAnswer, LogClient, Server};
use serde_json::Value;
use testkit::Tmpfs;

const MIB: usize = 1024 * 1024;

/// Uploads `bytes` as a blob; answers the status and body.
async fn upload(url: &str, token: &str, bytes: Vec<u8>) -> (u16, Value) {
    // multipart/form-data by hand (reqwest is built without `multipart`).
    let boundary = "sectwin-test-boundary-7f3a";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"blob.bin\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(&bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let r = reqwest::Client::new()
        .post(format!("{url}/archivist/v1/blobs"))
        .bearer_auth(token)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
        .send()
        .await
        .expect("upload");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// Distinct content per call (blobs are content-addressed).
fn blob(tag: u32, len: usize) -> Vec<u8> {
    let mut b = vec![0u8; len];
    for (i, x) in b.iter_mut().enumerate() {
        *x = (i as u32 ^ tag.wrapping_mul(2_654_435_761)) as u8;
    }
    b[..4].copy_from_slice(&tag.to_be_bytes());
    b
}

async fn add(url: &str, entry: &str) -> u16 {
    reqwest::Client::new()
        .post(format!("{url}/log/add"))
        .body(entry.to_string())
        .send()
        .await
        .expect("add")
        .status()
        .as_u16()
}

fn tmp_files(blobs: &Path) -> Vec<String> {
    std::fs::read_dir(blobs)
        .expect("blob dir")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blob_quota_and_log_reserve_keep_one_stakeholder_from_filling_the_log_volume() {
    let dir = tempfile::tempdir().expect("temp dir");
    let fs = Tmpfs::mount(&dir.path().join("fs"), "64m");
    let data = fs.dir().join("data");
    let quota = 8 * MIB;
    let reserve = 50 * MIB;
    let server = Server::start(
        &data,
        &[
            "--checkpoint-interval-ms",
            "50",
            "--stakeholder-blob-bytes-max",
            &quota.to_string(),
            "--log-reserve-bytes",
            &reserve.to_string(),
        ],
    );
    let url = server.base().trim_end_matches("/log").to_string();
    let a = token(&url, &data, "a.test").await;
    let b = token(&url, &data, "b.test").await;

    // A fills its quota: 8 uploads of 1 MiB, then 507 naming the quota.
    for i in 0..8 {
        let (status, body) = upload(&url, &a, blob(i, MIB)).await;
        assert_eq!(status, 200, "upload {i} of a.test: {body}");
    }
    let (status, body) = upload(&url, &a, blob(100, MIB)).await;
    assert_eq!(status, 507, "{body}");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("quota")),
        "{body}"
    );
    // B still uploads, until the free space kept for the log is reached.
    let mut b_uploads = 0;
    let refusal = loop {
        let (status, body) = upload(&url, &b, blob(200 + b_uploads, MIB)).await;
        match status {
            200 => b_uploads += 1,
            507 => break body,
            other => panic!("b.test upload answered {other}: {body}"),
        }
        assert!(b_uploads < 8, "b.test was never refused: no reserve");
    };
    assert!(b_uploads >= 1, "b.test was refused at once: {refusal}");
    assert!(
        refusal["message"]
            .as_str()
            .is_some_and(|m| m.contains("kept for the log")),
        "{refusal}"
    );
    let free = fs.free_bytes() as usize;
    assert!(
        free + MIB >= reserve,
        "the reserve was eaten into: {free} bytes free"
    );
    // The log still appends.
    for i in 0..20 {
        assert_eq!(add(&url, &format!("after the blobs {i}")).await, 200);
    }
    assert!(tmp_files(&data.join("archivist").join("blobs")).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_answers_507_leaves_no_tmp_files_and_status_says_read_only() {
    let dir = tempfile::tempdir().expect("temp dir");
    let fs = Tmpfs::mount(&dir.path().join("fs"), "48m");
    let data = fs.dir().join("data");
    let server = Server::start(
        &data,
        &["--checkpoint-interval-ms", "50", "--log-reserve-bytes", "0"],
    );
    let url = server.base().trim_end_matches("/log").to_string();
    let (_, acme_pub) = common::keypair(dir.path(), "acme", "eddsa");
    stdout_of(&[
        "stakeholder",
        "register",
        "--server",
        &url,
        "--authority-key",
        p(&data.join("authority.key")),
        "--id",
        "acme.test",
        "--name",
        "Acme",
        "--role",
        "manufacturer",
        "--key",
        &acme_pub,
    ]);
    let acme = token(&url, &data, "acme.test").await;
    let status: Value = get_status(&url).await;
    assert_eq!(status["read_only"], false, "{status}");

    // Leave exactly one blob's bytes free: the upload passes the space check,
    // its content takes the last page, and writing its info file fails.
    let free = fs.free_bytes() as usize;
    std::fs::write(fs.dir().join("filler"), vec![0u8; free - 2 * MIB]).expect("filler");
    let (code, body) = upload(&url, &acme, blob(1, 2 * MIB)).await;
    assert_eq!(code, 507, "{body}");
    assert!(
        body["message"].as_str().is_some_and(|m| m.contains("full")),
        "{body}"
    );
    let blobs = data.join("archivist").join("blobs");
    assert_eq!(
        tmp_files(&blobs),
        Vec::<String>::new(),
        "temporary files left"
    );

    // Fill the rest: the log's next write fails and it turns read-only.
    let rest = fs.free_bytes() as usize;
    std::fs::write(fs.dir().join("filler2"), vec![0u8; rest]).ok();
    let mut refused = false;
    for i in 0..2000 {
        if add(&url, &format!("{i:0>4000}")).await == 503 {
            refused = true;
            break;
        }
    }
    assert!(refused, "the log never refused an append on a full disk");
    let status: Value = get_status(&url).await;
    assert_eq!(status["read_only"], true, "{status}");
    assert!(status["log_fault"].as_str().is_some(), "{status}");

    // Asset creation says why it cannot be done.
    let (code, body) = create_asset(&url, &acme, "Door").await;
    assert_eq!(code, 507, "{body}");
    let message = body["message"].as_str().unwrap_or("");
    // The log's fault, or (a private asset's payload is kept first) the
    // full volume: either way the reason, never "read it again shortly".
    assert!(
        message.contains("read-only") || message.contains("could not be kept"),
        "{body}"
    );
    assert!(!message.contains("shortly"), "{body}");

    // Space comes back: the log and the twins write again by themselves,
    // without a restart, and the status says so.
    std::fs::remove_file(fs.dir().join("filler")).expect("remove filler");
    std::fs::remove_file(fs.dir().join("filler2")).expect("remove filler2");
    let status = wait_writable(&url).await;
    assert!(status["log_restarts"].as_u64() >= Some(1), "{status}");
    assert_eq!(add(&url, "after space came back").await, 200);
    let (code, body) = create_asset(&url, &acme, "Door 2").await;
    assert_eq!(code, 200, "{body}");
    drop(server);
}

/// Creates an Archivist asset named `name`; answers the status and body.
async fn create_asset(url: &str, token: &str, name: &str) -> (u16, Value) {
    let r = reqwest::Client::new()
        .post(format!("{url}/archivist/v2/assets"))
        .bearer_auth(token)
        .json(&serde_json::json!({"attributes": {"arc_display_name": name}}))
        .send()
        .await
        .expect("create asset");
    let code = r.status().as_u16();
    (code, r.json().await.unwrap_or(Value::Null))
}

/// `GET /api/v1/status`.
async fn get_status(url: &str) -> Value {
    reqwest::get(format!("{url}/api/v1/status"))
        .await
        .expect("status")
        .json()
        .await
        .expect("status json")
}

/// Polls `/api/v1/status` until neither the log nor the projector reports
/// a fault (at most 60 s); answers the last status.
async fn wait_writable(url: &str) -> Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let status: Value = get_status(url).await;
        if status["read_only"] == false && status["projector_fault"].is_null() {
            return status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still not writable 60 s after space came back: {status}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// Issue 13 item 10: a restart needed free space for everything the journal
/// held beyond the last sync, and was refused on a full disk. Now the node
/// starts read-only (serving its checkpoint, saying why), and writes once
/// space is back, with every acknowledged entry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_on_a_full_disk_opens_read_only_and_writes_once_space_is_back() {
    let dir = tempfile::tempdir().expect("temp dir");
    let fs = Tmpfs::mount(&dir.path().join("fs"), "48m");
    let data = fs.dir().join("data");
    // Never synced: recovery re-derives everything from the journal.
    let flags = [
        "--checkpoint-interval-ms",
        "50",
        "--sync-interval-ms",
        "3600000",
        "--log-reserve-bytes",
        "0",
    ];
    let mut server = Server::start(&data, &flags);
    let url = server.base().trim_end_matches("/log").to_string();
    let mut acknowledged = Vec::new();
    let client = LogClient::new(server.base());
    for i in 0..200 {
        let entry = format!("acknowledged {i:0>4000}").into_bytes();
        match client.add(entry.clone()).await.expect("add") {
            AddAnswer::Added { index, .. } => acknowledged.push((entry, index)),
            other => panic!("append {i}: {other:?}"),
        }
    }
    let rest = fs.free_bytes() as usize;
    std::fs::write(fs.dir().join("filler"), vec![0u8; rest]).ok();
    let mut refused = false;
    for i in 0..2000 {
        if add(&url, &format!("while full {i:0>4000}")).await == 503 {
            refused = true;
            break;
        }
    }
    assert!(refused, "the log never refused an append on a full disk");
    let checkpoint_before = reqwest::get(format!("{url}/log/checkpoint"))
        .await
        .expect("checkpoint")
        .text()
        .await
        .expect("checkpoint text");
    server.kill();
    drop(server);

    // The disk is still full: the node starts anyway, read-only.
    let server = Server::start(&data, &flags);
    let url = url_of(&server);
    let status: Value = get_status(&url).await;
    println!("status after a restart on a full disk: {status}");
    assert_eq!(status["read_only"], true, "{status}");
    let fault = status["log_fault"].as_str().unwrap_or("");
    assert!(fault.contains("space"), "{status}");
    assert_eq!(add(&url, "refused while full").await, 503);
    let checkpoint = reqwest::get(format!("{url}/log/checkpoint"))
        .await
        .expect("checkpoint");
    assert_eq!(checkpoint.status().as_u16(), 200);
    let checkpoint_after = checkpoint.text().await.expect("checkpoint text");
    assert_eq!(
        checkpoint_before.lines().take(3).collect::<Vec<_>>(),
        checkpoint_after.lines().take(3).collect::<Vec<_>>(),
        "the checkpoint served read-only is not the last one"
    );

    std::fs::remove_file(fs.dir().join("filler")).expect("remove filler");
    wait_writable(&url).await;
    assert_eq!(add(&url, "after space came back").await, 200);
    // Every acknowledged entry is still there: re-adding answers its index.
    let client = LogClient::new(server.base());
    for (entry, index) in &acknowledged {
        let answer = client.add(entry.clone()).await.expect("re-add");
        assert_eq!(
            answer,
            AddAnswer::Added {
                index: *index,
                duplicate: true
            }
        );
    }
    drop(server);
    common::assert_fsck_passes(&data);
}

fn url_of(server: &Server) -> String {
    server.base().trim_end_matches("/log").to_string()
}

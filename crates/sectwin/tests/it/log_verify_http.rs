//! End-to-end tests of `sectwin log verify | mirror | vkey | fsck` against
//! real `sectwin serve` processes over HTTP on loopback port 0: the verifier
//! fetches the checkpoint, every tile and every (gzip-compressed) entry
//! bundle through the real HTTP API, and a second server started with a copy
//! of the first one's key plays the forked log.
//!
//! Deliberately absent: tampering with individual tiles (covered, byte by
//! byte, by `crates/log-service/tests/verify_tools.rs` on directories).

use crate::common;

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::{AddAnswer, LogClient, Server, SECTWIN};

fn sectwin(args: &[&str]) -> Output {
    Command::new(SECTWIN)
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap_or_else(|e| panic!("running sectwin {args:?}: {e}"))
}

fn describe(out: &Output) -> String {
    format!(
        "status {}\n--- stdout ---\n{}--- stderr ---\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn json_of(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e})\n{}", describe(out)))
}

fn path_str(p: &Path) -> &str {
    p.to_str()
        .unwrap_or_else(|| panic!("non-UTF-8 temp path {}", p.display()))
}

/// Appends `entries` and waits until the served checkpoint covers them.
async fn add_all(client: &LogClient, data: &Path, entries: Vec<Vec<u8>>) -> u64 {
    let answers = futures::future::join_all(entries.into_iter().map(|e| client.add(e))).await;
    let mut size = 0;
    for a in answers {
        match a.expect("POST /log/add") {
            AddAnswer::Added {
                index,
                duplicate: false,
            } => size = size.max(index + 1),
            other => panic!("append refused or duplicate: {other:?}"),
        }
    }
    let log = common::verifier(data);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (cp, _) = client.checkpoint(&log).await.expect("checkpoint");
        if cp.size().get() >= size {
            return size;
        }
        assert!(
            Instant::now() < deadline,
            "no checkpoint of size {size} in time"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn entries(tag: &str, range: std::ops::Range<usize>) -> Vec<Vec<u8>> {
    range
        .map(|n| format!("{tag} device-record {n}").into_bytes())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_and_mirror_over_http_then_catch_a_fork() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let data = tmp.path().join("data");
    let fast = ["--checkpoint-interval-ms", "20"];
    let mut server = Server::start(&data, &fast);
    let client = LogClient::new(server.base());
    add_all(&client, &data, entries("a", 0..300)).await;
    let vkey_file = data.join("log.vkey");
    let saved = tmp.path().join("state").join("checkpoint");

    // `log vkey` prints the key the server wrote.
    let out = sectwin(&["log", "vkey", "--data", path_str(&data)]);
    assert!(out.status.success(), "{}", describe(&out));
    let vkey = std::fs::read_to_string(&vkey_file).expect("log.vkey");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), vkey.trim());

    // First verification over HTTP; the checkpoint is saved.
    let base = server.base();
    let verify = |source: &str| {
        sectwin(&[
            "log",
            "verify",
            source,
            "--vkey-file",
            path_str(&vkey_file),
            "--saved",
            path_str(&saved),
            "--update-saved",
            "--json",
        ])
    };
    let out = verify(&base);
    assert!(out.status.success(), "{}", describe(&out));
    let v = json_of(&out);
    assert_eq!(v["ok"], true);
    // Entry 0 is the stakeholder registry's bootstrap, appended by `serve`.
    assert_eq!(v["size"], 301);
    assert_eq!(v["entries"], 301);
    assert_eq!(v["tiles"], 3);
    assert!(v["saved"].is_null(), "{v}");
    assert!(saved.exists());

    // The log grows; the next run proves it extends the saved checkpoint.
    add_all(&client, &data, entries("a", 300..700)).await;
    let out = verify(&base);
    assert!(out.status.success(), "{}", describe(&out));
    let v = json_of(&out);
    assert_eq!(v["size"], 701);
    assert_eq!(v["saved"]["size"], 301);
    assert_eq!(v["saved"]["relation"], "extends");

    // Mirror it, and verify the mirror as a directory.
    let mirror_dir = tmp.path().join("mirror");
    let mirror = |source: &str| {
        sectwin(&[
            "log",
            "mirror",
            source,
            "--dest",
            path_str(&mirror_dir),
            "--vkey-file",
            path_str(&vkey_file),
            "--json",
        ])
    };
    let out = mirror(&base);
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(json_of(&out)["size"], 701);
    let out = sectwin(&[
        "log",
        "verify",
        path_str(&mirror_dir),
        "--vkey-file",
        path_str(&vkey_file),
    ]);
    assert!(out.status.success(), "{}", describe(&out));

    // A second server with the same key and different entries: a fork.
    let fork_data = tmp.path().join("fork");
    std::fs::create_dir_all(&fork_data).expect("mkdir");
    std::fs::copy(data.join("log.key"), fork_data.join("log.key")).expect("copy key");
    std::fs::copy(&vkey_file, fork_data.join("log.vkey")).expect("copy vkey");
    let mut fork = Server::start(&fork_data, &fast);
    let fork_client = LogClient::new(fork.base());
    let mut forked = entries("a", 0..100);
    forked.extend(entries("fork", 100..900));
    add_all(&fork_client, &fork_data, forked).await;

    let out = verify(&fork.base());
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let v = json_of(&out);
    assert_eq!(v["ok"], false);
    assert_eq!(v["error"], "inconsistent");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("INCONSISTENT"),
        "{}",
        describe(&out)
    );
    let out = mirror(&fork.base());
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert_eq!(json_of(&out)["error"], "split_view");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("SPLIT VIEW"),
        "{}",
        describe(&out)
    );

    // The wrong key is refused.
    let stranger =
        tlog::Signer::generate("sectwin.localhost/log", &mut rand_core::OsRng).expect("signer");
    let out = sectwin(&["log", "verify", &base, "--vkey", &stranger.vkey(), "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert_eq!(json_of(&out)["error"], "unknown_key");

    fork.stop();
    server.stop();
    common::assert_fsck_passes(&data);
}

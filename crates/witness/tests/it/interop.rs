//! Interoperability: OUR witness client against THEIR witness server, the
//! independent Python implementation `aics-witness` (PyPI, with `aics-tlog`),
//! run as a real process on 127.0.0.1.
//!
//! The other direction (their log and client against our HTTP router) is in
//! `crates/http-api/src/witness.rs`. Both need the Python packages, so they
//! are marked ignored here and run by `tests-interop/witness/run.sh`, which
//! installs them into a virtualenv and sets `SECTWIN_AICS_VENV`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs
)]

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use tlog::{open_checkpoint, verify_cosignature, Hash, MemoryTree, Note, TreeSize, Verifier};
use witness::{WitnessClient, WitnessClientError};

const VENV_ENV: &str = "SECTWIN_AICS_VENV";
const STARTUP_DEADLINE: Duration = Duration::from_secs(20);

fn venv_bin(tool: &str) -> PathBuf {
    let venv = std::env::var(VENV_ENV).unwrap_or_else(|_| {
        panic!(
            "{VENV_ENV} is not set: run tests-interop/witness/run.sh, which installs aics-witness"
        )
    });
    let p = Path::new(&venv).join("bin").join(tool);
    assert!(
        p.exists(),
        "{} missing: is {VENV_ENV} an aics-witness virtualenv?",
        p.display()
    );
    p
}

/// Kills the child process it owns when dropped (test failure included).
struct KillOnDrop(Child);
impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts `aics-witness serve` trusting `log_vkey` for `origin`; returns the
/// process, its URL and its witness vkey.
async fn start_aics_witness(
    dir: &Path,
    origin: &str,
    log_vkey: &str,
) -> (KillOnDrop, String, String) {
    let exe = venv_bin("aics-witness");
    let config = dir.join("witness.json");
    let port = free_port();
    let vkey = run(Command::new(&exe)
        .arg("init")
        .arg("--config")
        .arg(&config)
        .args([
            "--name",
            "witness.aics.test/w1",
            "--listen",
            &format!("127.0.0.1:{port}"),
        ]))
    .trim()
    .to_owned();
    run(Command::new(&exe)
        .arg("add-log")
        .arg("--config")
        .arg(&config)
        .args(["--origin", origin, "--vkey", log_vkey]));
    let child = Command::new(&exe)
        .arg("serve")
        .arg("--config")
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let child = KillOnDrop(child);
    let deadline = Instant::now() + STARTUP_DEADLINE;
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(
            Instant::now() < deadline,
            "aics-witness did not start listening"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    (child, format!("http://127.0.0.1:{port}"), vkey)
}

fn prover(tree: &MemoryTree, new: u64) -> impl Fn(TreeSize) -> Result<Vec<Hash>, String> {
    let tree = MemoryTree::from_leaves(
        (0..tree.size().get()).map(|i| tree.leaf(tlog::LeafIndex::new(i)).unwrap()),
    );
    move |old| tlog::prove_consistency(old, TreeSize::new(new), &tree).map_err(|e| e.to_string())
}

#[tokio::test]
#[ignore = "interop: needs aics-witness from PyPI; run tests-interop/witness/run.sh"]
async fn our_client_gets_verified_cosignatures_from_aics_witness() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = TestLog::new(ORIGIN, "leaf");
    let (_server, url, their_vkey) =
        start_aics_witness(dir.path(), ORIGIN, &log.signer.vkey()).await;
    let wv = Verifier::from_vkey(&their_vkey).unwrap();
    let http = reqwest::Client::new();
    let client = WitnessClient::new(&url, &their_vkey, http.clone()).unwrap();

    // From the empty tree, growth, the same size again, more growth: the
    // client's cached size means no 409 round trips after the first.
    let mut cosigned = Vec::new();
    for size in [1u64, 5, 5, 13] {
        let cp = log.checkpoint(size);
        let lines = client
            .add_checkpoint(&cp, prover(&log.tree, size))
            .await
            .unwrap();
        let full = [cp.as_slice(), lines.concat().as_bytes()].concat();
        let ts = verify_cosignature(&Note::parse(&full).unwrap(), &wv).unwrap();
        assert!(ts.is_some_and(|t| t > 0));
        cosigned.push(full);
    }

    // A restarted log (fresh client): their 409 tells it the size, it proves from there.
    let fresh = WitnessClient::new(&url, &their_vkey, http.clone()).unwrap();
    let cp = log.checkpoint(20);
    let lines = fresh
        .add_checkpoint(&cp, prover(&log.tree, 20))
        .await
        .unwrap();
    assert_eq!(lines.len(), 1);

    // A stale checkpoint: their witness is ahead.
    let stale = log.checkpoint(13);
    let r = WitnessClient::new(&url, &their_vkey, http.clone())
        .unwrap()
        .add_checkpoint(&stale, prover(&log.tree, 13))
        .await;
    assert!(
        matches!(r, Err(WitnessClientError::WitnessAhead { latest }) if latest == TreeSize::new(20)),
        "{r:?}"
    );

    // A fork from 20: their witness refuses with 422, as ours does.
    let mut fork = log.fork("forked");
    let cp = fork.checkpoint(25);
    let r = fresh.add_checkpoint(&cp, prover(&fork.tree, 25)).await;
    assert!(
        matches!(r, Err(WitnessClientError::Rejected { status: 422, .. })),
        "{r:?}"
    );

    // Their monitoring endpoint serves the checkpoint with our log's
    // signature and their cosignature; our code verifies both.
    use sha2::Digest;
    let hash = hex::encode(sha2::Sha256::digest(ORIGIN.as_bytes()));
    let served = http
        .get(format!("{url}/{hash}/checkpoint"))
        .send()
        .await
        .unwrap();
    assert_eq!(served.status(), 200);
    let served = served.bytes().await.unwrap();
    let (cp, note) = open_checkpoint(&served, &log.signer.verifier()).unwrap();
    assert_eq!(cp.size(), TreeSize::new(20));
    assert!(verify_cosignature(&note, &wv).unwrap().is_some());
}

#[tokio::test]
#[ignore = "interop: needs aics-witness from PyPI; run tests-interop/witness/run.sh"]
async fn aics_tlog_verifies_a_checkpoint_cosigned_by_our_witness() {
    // Their offline verifier (`aics-tlog verify-checkpoint`) on a checkpoint
    // our witness core cosigned: log key + our witness key, quorum 1.
    let dir = tempfile::tempdir().unwrap();
    let mut log = TestLog::new(ORIGIN, "leaf");
    let w = witness::Witness::open(
        &dir.path().join("state"),
        cosigner(),
        vec![log.signer.verifier()],
        Arc::new(witness::SystemClock),
    )
    .unwrap();
    let cp = log.checkpoint(8);
    let lines = w.add_checkpoint(&body(0, &[], &cp)).unwrap();
    let note_path = dir.path().join("cp.txt");
    std::fs::write(&note_path, [cp.as_slice(), lines.as_bytes()].concat()).unwrap();
    let out = run(Command::new(venv_bin("aics-tlog"))
        .arg("verify-checkpoint")
        .arg("--note")
        .arg(&note_path)
        .args([
            "--origin",
            ORIGIN,
            "--log-key",
            &log.signer.vkey(),
            "--witness-key",
            &w.vkey(),
        ])
        .args(["--quorum", "1", "--max-age", "600"]));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["ok"], true, "{out}");
    assert_eq!(v["witnesses"][0], WITNESS_NAME, "{out}");

    // And it rejects the same note with one cosignature byte changed: the
    // check above can fail.
    let mut tampered = [cp.as_slice(), lines.as_bytes()].concat();
    let n = tampered.len();
    tampered[n - 3] = if tampered[n - 3] == b'A' { b'B' } else { b'A' };
    std::fs::write(&note_path, tampered).unwrap();
    let out = Command::new(venv_bin("aics-tlog"))
        .arg("verify-checkpoint")
        .arg("--note")
        .arg(&note_path)
        .args([
            "--origin",
            ORIGIN,
            "--log-key",
            &log.signer.vkey(),
            "--witness-key",
            &w.vkey(),
        ])
        .args(["--quorum", "1", "--max-age", "600"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        !out.status.success() || !text.contains("\"ok\": true"),
        "{text}"
    );
}

//! The witness client against real HTTP servers on 127.0.0.1: our witness
//! core behind a minimal axum adapter (the production router lives in
//! `http-api`, which depends on this crate), and deliberately misbehaving
//! servers (hanging, wrong key, wrong content type, oversized body).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs
)]

use crate::common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use common::*;
use tlog::{Hash, Note, TreeSize, Verifier};
use witness::{Witness, WitnessClient, WitnessClientError};

async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

/// Our witness core over HTTP, the way c2sp.org/tlog-witness says.
async fn serve_witness(w: Arc<Witness>) -> String {
    async fn handler(State(w): State<Arc<Witness>>, body: Bytes) -> Response {
        match tokio::task::spawn_blocking(move || w.add_checkpoint(&body))
            .await
            .unwrap()
        {
            Ok(lines) => lines.into_response(),
            Err(witness::AddCheckpointError::Conflict { latest }) => (
                StatusCode::CONFLICT,
                [(header::CONTENT_TYPE, "text/x.tlog.size")],
                format!("{latest}\n"),
            )
                .into_response(),
            Err(e) => (StatusCode::from_u16(e.status()).unwrap(), e.to_string()).into_response(),
        }
    }
    serve(
        Router::new()
            .route("/add-checkpoint", post(handler))
            .with_state(w),
    )
    .await
}

fn client(url: &str, vkey: &str) -> WitnessClient {
    WitnessClient::new(url, vkey, reqwest::Client::new()).unwrap()
}

/// A proof function over the test log that records which old sizes it was asked for.
fn prover(
    log: &TestLog,
    new: u64,
    asked: Arc<Mutex<Vec<u64>>>,
) -> impl Fn(TreeSize) -> Result<Vec<Hash>, String> {
    let tree = tlog::MemoryTree::from_leaves(
        (0..log.tree.size().get()).map(|i| log.tree.leaf(tlog::LeafIndex::new(i)).unwrap()),
    );
    move |old: TreeSize| {
        asked.lock().unwrap().push(old.get());
        tlog::prove_consistency(old, TreeSize::new(new), &tree).map_err(|e| e.to_string())
    }
}

fn assert_lines_verify(vkey: &str, cp: &[u8], lines: &[String]) {
    let full = [cp, lines.concat().as_bytes()].concat();
    let note = Note::parse(&full).unwrap();
    assert!(
        tlog::verify_cosignature(&note, &Verifier::from_vkey(vkey).unwrap())
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn submits_from_zero_then_from_the_cached_size() {
    let mut f = Fixture::new();
    f.clock.set(T0 * 1000);
    let w = Arc::new(f.witness);
    let url = serve_witness(w.clone()).await;
    let c = client(&url, &w.vkey());
    let asked = Arc::new(Mutex::new(Vec::new()));

    let cp = f.log.checkpoint(5);
    let lines = c
        .add_checkpoint(&cp, prover(&f.log, 5, asked.clone()))
        .await
        .unwrap();
    assert_lines_verify(&w.vkey(), &cp, &lines);
    assert!(asked.lock().unwrap().is_empty(), "no proof needed from 0");

    let cp = f.log.checkpoint(11);
    let lines = c
        .add_checkpoint(&cp, prover(&f.log, 11, asked.clone()))
        .await
        .unwrap();
    assert_lines_verify(&w.vkey(), &cp, &lines);
    assert_eq!(
        *asked.lock().unwrap(),
        vec![5],
        "one request, proof from the cached size"
    );
}

#[tokio::test]
async fn a_fresh_client_learns_the_size_from_409_and_retries_once() {
    let mut f = Fixture::new();
    let w = Arc::new(f.witness);
    let url = serve_witness(w.clone()).await;
    let cp = f.log.checkpoint(7);
    client(&url, &w.vkey())
        .add_checkpoint(&cp, |_| Err("unused".into()))
        .await
        .unwrap();

    // A restarted log: empty cache, so it tries 0, gets 409 "7", proves from 7.
    let c = client(&url, &w.vkey());
    let asked = Arc::new(Mutex::new(Vec::new()));
    let cp = f.log.checkpoint(20);
    let lines = c
        .add_checkpoint(&cp, prover(&f.log, 20, asked.clone()))
        .await
        .unwrap();
    assert_lines_verify(&w.vkey(), &cp, &lines);
    assert_eq!(*asked.lock().unwrap(), vec![7]);
}

#[tokio::test]
async fn witness_ahead_of_the_checkpoint_is_reported() {
    let mut f = Fixture::new();
    let w = Arc::new(f.witness);
    let url = serve_witness(w.clone()).await;
    let cp = f.log.checkpoint(9);
    client(&url, &w.vkey())
        .add_checkpoint(&cp, |_| Err("unused".into()))
        .await
        .unwrap();
    let stale = f.log.checkpoint(4);
    let r = client(&url, &w.vkey())
        .add_checkpoint(&stale, |_| Err("unused".into()))
        .await;
    assert!(
        matches!(r, Err(WitnessClientError::WitnessAhead { latest }) if latest == TreeSize::new(9)),
        "{r:?}"
    );
}

#[tokio::test]
async fn a_refusal_is_returned_with_its_status() {
    let mut f = Fixture::new();
    let w = Arc::new(f.witness);
    let url = serve_witness(w.clone()).await;
    let mut other = TestLog::new("example.com/unknown", "x");
    let r = client(&url, &w.vkey())
        .add_checkpoint(&other.checkpoint(2), |_| Err("unused".into()))
        .await;
    assert!(
        matches!(r, Err(WitnessClientError::Rejected { status: 404, .. })),
        "{r:?}"
    );
    // A fork after a cosignature: 422 from the witness.
    client(&url, &w.vkey())
        .add_checkpoint(&f.log.checkpoint(3), |_| Err("unused".into()))
        .await
        .unwrap();
    let mut fork = f.log.fork("forked");
    let c = client(&url, &w.vkey());
    let asked = Arc::new(Mutex::new(Vec::new()));
    let cp = fork.checkpoint(6);
    let r = c.add_checkpoint(&cp, prover(&fork, 6, asked)).await;
    assert!(
        matches!(r, Err(WitnessClientError::Rejected { status: 422, .. })),
        "{r:?}"
    );
}

#[tokio::test]
async fn a_cosignature_from_another_key_under_the_witness_name_is_rejected() {
    // A witness whose responses come from a different key than the one we
    // trust (same name): the name matches but the key ID does not, so the
    // line is ignored and no cosignature remains.
    let mut f = Fixture::new();
    let w = Arc::new(f.witness);
    let url = serve_witness(w.clone()).await;
    let other_vkey = cosigner().vkey();
    let r = client(&url, &other_vkey)
        .add_checkpoint(&f.log.checkpoint(2), |_| Err("unused".into()))
        .await;
    assert!(
        matches!(r, Err(WitnessClientError::BadResponse(_))),
        "{r:?}"
    );
}

#[tokio::test]
async fn a_corrupted_cosignature_from_the_trusted_key_is_rejected() {
    let mut f = Fixture::new();
    let w = Arc::new(f.witness);
    let vkey = w.vkey();
    async fn corrupting(State(w): State<Arc<Witness>>, body: Bytes) -> Response {
        let line = tokio::task::spawn_blocking(move || w.add_checkpoint(&body))
            .await
            .unwrap()
            .unwrap();
        // Flip the timestamp: name and key ID still match, the signature fails.
        let (head, b64) = line.trim_end().rsplit_once(' ').unwrap();
        use base64::Engine as _;
        let mut raw = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap();
        raw[11] ^= 1;
        format!(
            "{head} {}\n",
            base64::engine::general_purpose::STANDARD.encode(raw)
        )
        .into_response()
    }
    let url = serve(
        Router::new()
            .route("/add-checkpoint", post(corrupting))
            .with_state(w),
    )
    .await;
    let r = client(&url, &vkey)
        .add_checkpoint(&f.log.checkpoint(2), |_| Err("unused".into()))
        .await;
    assert!(
        matches!(&r, Err(WitnessClientError::BadResponse(m)) if m.contains("does not verify")),
        "{r:?}"
    );
}

#[tokio::test]
async fn a_409_without_the_size_content_type_is_a_bad_response() {
    let mut f = Fixture::new();
    let vkey = f.witness.vkey();
    let url = serve(Router::new().route(
        "/add-checkpoint",
        post(|| async { (StatusCode::CONFLICT, "5\n") }),
    ))
    .await;
    let r = client(&url, &vkey)
        .add_checkpoint(&f.log.checkpoint(9), |_| Err("unused".into()))
        .await;
    assert!(
        matches!(r, Err(WitnessClientError::BadResponse(_))),
        "{r:?}"
    );
}

#[tokio::test]
async fn a_witness_answering_409_twice_stops_after_one_retry() {
    let f = Fixture::new();
    let vkey = f.witness.vkey();
    let hits = Arc::new(AtomicUsize::new(0));
    let h = hits.clone();
    let app = Router::new().route(
        "/add-checkpoint",
        post(move || {
            let n = h.fetch_add(1, Ordering::SeqCst);
            async move {
                (
                    StatusCode::CONFLICT,
                    [(header::CONTENT_TYPE, "text/x.tlog.size")],
                    format!("{}\n", n + 1),
                )
            }
        }),
    );
    let url = serve(app).await;
    let mut log = TestLog::new(ORIGIN, "leaf");
    log.grow_to(9);
    let asked = Arc::new(Mutex::new(Vec::new()));
    let cp = log.checkpoint(9);
    let r = client(&url, &vkey)
        .add_checkpoint(&cp, prover(&log, 9, asked))
        .await;
    assert!(
        matches!(r, Err(WitnessClientError::Conflict { .. })),
        "{r:?}"
    );
    assert_eq!(hits.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn an_oversized_response_is_refused() {
    let mut f = Fixture::new();
    let vkey = f.witness.vkey();
    let big = "a".repeat(witness::CLIENT_RESPONSE_BYTES_MAX + 1);
    let url = serve(Router::new().route("/add-checkpoint", post(move || async move { big }))).await;
    let r = client(&url, &vkey)
        .add_checkpoint(&f.log.checkpoint(2), |_| Err("unused".into()))
        .await;
    assert!(
        matches!(&r, Err(WitnessClientError::BadResponse(m)) if m.contains("longer")),
        "{r:?}"
    );
}

#[tokio::test]
async fn a_hanging_witness_times_out() {
    let mut f = Fixture::new();
    let vkey = f.witness.vkey();
    // Accepts connections and never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            held.push(s);
        }
    });
    let c =
        client(&format!("http://{addr}"), &vkey).with_request_timeout(Duration::from_millis(300));
    let start = Instant::now();
    let r = c
        .add_checkpoint(&f.log.checkpoint(2), |_| Err("unused".into()))
        .await;
    assert!(matches!(r, Err(WitnessClientError::Timeout)), "{r:?}");
    assert!(start.elapsed() < Duration::from_secs(5));
}

#[test]
fn constructor_rejects_bad_urls_and_non_cosignature_keys() {
    let f = Fixture::new();
    let http = reqwest::Client::new();
    assert!(matches!(
        WitnessClient::new("ftp://x", &f.witness.vkey(), http.clone()),
        Err(WitnessClientError::BadUrl(_))
    ));
    // A log (type 0x01) key is not a witness key.
    let r = WitnessClient::new("http://127.0.0.1:1", &f.log.signer.vkey(), http.clone());
    assert!(matches!(r, Err(WitnessClientError::BadVkey(_))), "{r:?}");
    assert!(matches!(
        WitnessClient::new("http://127.0.0.1:1", "garbage", http),
        Err(WitnessClientError::BadVkey(_))
    ));
}

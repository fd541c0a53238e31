//! HTTP tests of the log routes through `tower::ServiceExt::oneshot` on
//! `log_router(LogApi::new(log))`, over a real log on an `EmbeddedStore` in a
//! temporary directory: status codes, headers, wire formats, and that what the
//! proof endpoints answer verifies with `tlog`.
//!
//! Deliberately few: the log's behaviour is tested in `log-service`; here only
//! the mapping to HTTP. No sockets (see `crates/sectwin/tests` for those).

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use http_api::{log_router, LogApi};
use http_body_util::BodyExt;
use log_service::{Log, LogConfig};
use log_store::testing::GatedStore;
use log_store::{EmbeddedStore, EmbeddedStoreOptions, LogStore};
use tlog::{Hash, LeafIndex, MemoryTree, Signer, TreeSize, Verifier};
use tower::ServiceExt;

const ORIGIN: &str = "example.test/http-tests";
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// A log with `n` published entries, and the router over it.
struct Fixture {
    _dir: tempfile::TempDir,
    log: Log,
    verifier: Verifier,
    entries: Vec<Vec<u8>>,
}

impl Fixture {
    async fn with_entries(n: usize) -> Fixture {
        Fixture::open(
            n,
            LogConfig {
                checkpoint_interval: Duration::from_millis(5),
                ..LogConfig::default()
            },
            false,
        )
        .await
        .0
    }

    /// Opens a log of `n` entries; with `gated`, behind a [`GatedStore`]
    /// (returned too).
    async fn open(n: usize, config: LogConfig, gated: bool) -> (Fixture, Option<Arc<GatedStore>>) {
        let dir = tempfile::tempdir().expect("temp dir");
        let signer = Signer::generate(ORIGIN, &mut rand_core::OsRng).expect("signer");
        let verifier = signer.verifier();
        let embedded = EmbeddedStore::open(EmbeddedStoreOptions {
            dir: dir.path().to_path_buf(),
        })
        .expect("store");
        let (store, gate): (Arc<dyn LogStore>, _) = if gated {
            let g = Arc::new(GatedStore::new(Arc::new(embedded)));
            (g.clone(), Some(g))
        } else {
            (Arc::new(embedded), None)
        };
        let log = Log::open(store, signer, config).expect("open log");
        let mut entries = Vec::new();
        for i in 0..n {
            let e = format!("http test entry {i}").into_bytes();
            let a = log.append(e.clone()).await.expect("append");
            assert_eq!(a.index, LeafIndex::new(i as u64));
            entries.push(e);
        }
        tokio::time::timeout(Duration::from_secs(20), log.wait_published(n as u64))
            .await
            .expect("published in time")
            .expect("log running");
        (
            Fixture {
                _dir: dir,
                log,
                verifier,
                entries,
            },
            gate,
        )
    }

    fn router(&self) -> Router {
        log_router(LogApi::new(self.log.clone()))
    }

    fn tree(&self) -> MemoryTree {
        MemoryTree::from_leaves(self.entries.iter().map(|e| tlog::leaf_hash(e)))
    }
}

struct Answer {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: header::HeaderName) -> &str {
        self.headers
            .get(&name)
            .unwrap_or_else(|| panic!("no {name} header"))
            .to_str()
            .expect("ASCII header")
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
}

async fn call(router: Router, method: Method, uri: &str, body: Vec<u8>) -> Answer {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .body(Body::from(body))
        .expect("request");
    let response = router.oneshot(request).await.expect("infallible router");
    let status = response.status();
    let headers = response.headers().clone();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes()
        .to_vec();
    Answer {
        status,
        headers,
        body,
    }
}

async fn get(router: Router, uri: &str) -> Answer {
    call(router, Method::GET, uri, Vec::new()).await
}

async fn post(router: Router, uri: &str, body: Vec<u8>) -> Answer {
    call(router, Method::POST, uri, body).await
}

/// Percent-encodes a query value (base64 has `+`, `/` and `=`).
fn query_escape(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn hashes(json: &serde_json::Value) -> Vec<Hash> {
    json.as_array()
        .unwrap_or_else(|| panic!("not an array: {json}"))
        .iter()
        .map(|h| Hash::from_base64(h.as_str().expect("string")).expect("base64 hash"))
        .collect()
}

// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkpoint_is_signed_text_that_caches_must_revalidate() {
    let fx = Fixture::with_entries(5).await;
    let a = get(fx.router(), "/checkpoint").await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.header(header::CONTENT_TYPE), "text/plain; charset=utf-8");
    assert_eq!(a.header(header::CACHE_CONTROL), "no-cache");
    let (cp, _) = tlog::open_checkpoint(&a.body, &fx.verifier).expect("checkpoint verifies");
    assert_eq!(cp.size(), TreeSize::new(5));
    assert_eq!(cp.root(), fx.tree().root());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tiles_and_bundles_are_served_immutable() {
    let fx = Fixture::with_entries(5).await;
    let leaves: Vec<u8> = fx
        .entries
        .iter()
        .flat_map(|e| tlog::leaf_hash(e).as_bytes().to_vec())
        .collect();
    let a = get(fx.router(), "/tile/0/000.p/5").await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    assert_eq!(a.header(header::CACHE_CONTROL), IMMUTABLE);
    assert_eq!(a.header(header::CONTENT_TYPE), "application/octet-stream");
    assert_eq!(a.body, leaves);
    // A narrower partial tile is answered from the wider one (C2SP allows it).
    let a = get(fx.router(), "/tile/0/000.p/2").await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    assert_eq!(a.body, leaves[..64]);
    let a = get(fx.router(), "/tile/entries/000.p/5").await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    assert_eq!(a.header(header::CACHE_CONTROL), IMMUTABLE);
    assert_eq!(
        a.body,
        tlog::encode_bundle(fx.entries.iter().map(Vec::as_slice)).expect("bundle")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_tile_paths_are_400_with_a_message_and_missing_tiles_404() {
    let fx = Fixture::with_entries(5).await;
    for path in [
        "/tile/0/1",
        "/tile/0/x000/001",
        "/tile/0/000.p/256",
        "/tile/64/000",
        "/tile/entries/abc",
    ] {
        let a = get(fx.router(), path).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{path}: {}", a.text());
        assert!(a.text().contains("bad tile path"), "{path}: {}", a.text());
        assert!(
            a.headers.get(header::CACHE_CONTROL).is_none(),
            "{path}: errors must not be cached as immutable"
        );
    }
    for path in [
        "/tile/0/001",
        "/tile/1/000.p/1",
        "/tile/entries/000",
        "/tile/entries/001.p/3",
    ] {
        let a = get(fx.router(), path).await;
        assert_eq!(a.status, StatusCode::NOT_FOUND, "{path}: {}", a.text());
        assert!(
            a.headers.get(header::CACHE_CONTROL).is_none(),
            "{path}: a 404 must not be cached as immutable"
        );
    }
    // A partial tile wider than the tree is not served either.
    let a = get(fx.router(), "/tile/0/000.p/6").await;
    assert_eq!(a.status, StatusCode::NOT_FOUND, "{}", a.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_answers_json_once_durable_and_refuses_empty_and_oversized_entries() {
    let fx = Fixture::with_entries(0).await;
    let a = post(fx.router(), "/add", b"first".to_vec()).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    assert_eq!(a.header(header::CONTENT_TYPE), "application/json");
    assert_eq!(
        a.json(),
        serde_json::json!({"index": 0, "duplicate": false})
    );
    let a = post(fx.router(), "/add", b"first".to_vec()).await;
    assert_eq!(a.json(), serde_json::json!({"index": 0, "duplicate": true}));

    let a = post(fx.router(), "/add", Vec::new()).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert_eq!(a.text(), "entry is empty\n");

    let a = post(fx.router(), "/add", vec![b'x'; 65536]).await;
    assert_eq!(a.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        a.text(),
        "entry of 65536 bytes exceeds the maximum of 65535 bytes\n"
    );
    // Far above the limit, the body cap refuses before buffering it all.
    let a = post(fx.router(), "/add", vec![b'x'; 1 << 20]).await;
    assert_eq!(a.status, StatusCode::PAYLOAD_TOO_LARGE);

    let a = post(fx.router(), "/add", vec![b'y'; 65535]).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    assert_eq!(
        a.json(),
        serde_json::json!({"index": 1, "duplicate": false})
    );
    assert_eq!(
        fx.log.durable_size(),
        TreeSize::new(2),
        "refused entries took no index"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_when_the_pending_pool_is_full_is_503_with_retry_after() {
    let config = LogConfig {
        checkpoint_interval: Duration::from_millis(5),
        pending_entries_max: 1,
        ..LogConfig::default()
    };
    let (fx, gate) = Fixture::open(0, config, true).await;
    let gate = gate.expect("gated store");
    gate.close_gate();
    let first = tokio::spawn(post(fx.router(), "/add", b"one".to_vec()));
    let deadline = Instant::now() + Duration::from_secs(10);
    while gate.entered() < 1 {
        assert!(
            Instant::now() < deadline,
            "the sequencer never reached the journal"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let second = tokio::spawn(post(fx.router(), "/add", b"two".to_vec()));
    let deadline = Instant::now() + Duration::from_secs(10);
    while fx.log.pending() < 1 {
        assert!(Instant::now() < deadline, "second entry never queued");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let a = post(fx.router(), "/add", b"three".to_vec()).await;
    assert_eq!(a.status, StatusCode::SERVICE_UNAVAILABLE, "{}", a.text());
    assert_eq!(a.header(header::RETRY_AFTER), "1");
    assert!(a.text().contains("busy"), "{}", a.text());
    gate.open_gate();
    assert_eq!(
        first.await.expect("task").json(),
        serde_json::json!({"index": 0, "duplicate": false})
    );
    assert_eq!(
        second.await.expect("task").json(),
        serde_json::json!({"index": 1, "duplicate": false})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inclusion_proofs_as_tlog_proof_and_json_verify() {
    let fx = Fixture::with_entries(300).await;
    let tree = fx.tree();
    let size = TreeSize::new(300);
    let policy =
        tlog::Policy::parse(&format!("log {}\nquorum none\n", fx.verifier.vkey())).expect("policy");
    for index in [0u64, 1, 255, 256, 299] {
        let leaf = tlog::leaf_hash(&fx.entries[index as usize]);
        // Default: C2SP tlog-proof text.
        let a = get(fx.router(), &format!("/proof/inclusion?index={index}")).await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.text());
        assert_eq!(a.header(header::CONTENT_TYPE), "text/plain; charset=utf-8");
        let proof = tlog::TlogProof::parse(&a.body).expect("tlog-proof parses");
        assert_eq!(proof.index, LeafIndex::new(index));
        let verified = proof.verify(&leaf, &policy).expect("tlog-proof verifies");
        assert_eq!(verified.checkpoint().size(), size);
        assert_eq!(verified.checkpoint().root(), tree.root());
        let other = tlog::leaf_hash(b"not in the log");
        assert!(
            proof.verify(&other, &policy).is_err(),
            "a proof must not verify another entry"
        );

        // JSON, also by leaf hash.
        let by_hash = format!(
            "/proof/inclusion?hash={}&format=json",
            query_escape(&leaf.to_base64())
        );
        for uri in [
            format!("/proof/inclusion?index={index}&format=json"),
            by_hash,
        ] {
            let a = get(fx.router(), &uri).await;
            assert_eq!(a.status, StatusCode::OK, "{uri}: {}", a.text());
            let json = a.json();
            assert_eq!(json["index"], index);
            assert_eq!(json["tree_size"], 300);
            assert_eq!(json["leaf_hash"], leaf.to_base64());
            assert_eq!(json["root"], tree.root().to_base64());
            tlog::verify_inclusion(
                &leaf,
                LeafIndex::new(index),
                size,
                &hashes(&json["proof"]),
                &tree.root(),
            )
            .expect("JSON inclusion proof verifies");
        }
    }
    // At an older size, in JSON.
    let a = get(fx.router(), "/proof/inclusion?index=7&size=100&format=json").await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    let old_root = tree.root_at(TreeSize::new(100)).expect("root at 100");
    assert_eq!(a.json()["root"], old_root.to_base64());
    tlog::verify_inclusion(
        &tlog::leaf_hash(&fx.entries[7]),
        LeafIndex::new(7),
        TreeSize::new(100),
        &hashes(&a.json()["proof"]),
        &old_root,
    )
    .expect("inclusion at size 100 verifies");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inclusion_beyond_the_checkpoint_is_404_and_malformed_queries_400() {
    let fx = Fixture::with_entries(10).await;
    let a = get(fx.router(), "/proof/inclusion?index=10").await;
    assert_eq!(a.status, StatusCode::NOT_FOUND, "{}", a.text());
    assert!(a.text().contains("not covered"), "{}", a.text());
    let unknown = tlog::leaf_hash(b"never appended").to_base64();
    let a = get(
        fx.router(),
        &format!("/proof/inclusion?hash={}", query_escape(&unknown)),
    )
    .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND, "{}", a.text());
    for uri in [
        "/proof/inclusion",
        "/proof/inclusion?index=1&hash=AAAA",
        "/proof/inclusion?hash=not-base64",
        "/proof/inclusion?index=1&size=11&format=json",
        // A tlog-proof carries the published checkpoint: no size= without JSON.
        "/proof/inclusion?index=3&size=9",
        "/proof/inclusion?index=-1",
        "/proof/consistency?old=5&new=11",
        "/proof/consistency?old=6&new=5",
        "/proof/consistency?old=0&new=5",
        "/proof/consistency",
    ] {
        let a = get(fx.router(), uri).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{uri}: {}", a.text());
        assert!(
            !a.text().trim().is_empty(),
            "{uri}: a 400 says what is wrong"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consistency_proofs_verify_between_any_two_sizes() {
    let fx = Fixture::with_entries(300).await;
    let tree = fx.tree();
    for (old, new) in [
        (1u64, 300u64),
        (7, 8),
        (100, 256),
        (256, 257),
        (299, 300),
        (300, 300),
        (5, 255),
    ] {
        let a = get(
            fx.router(),
            &format!("/proof/consistency?old={old}&new={new}"),
        )
        .await;
        assert_eq!(a.status, StatusCode::OK, "{old}->{new}: {}", a.text());
        assert_eq!(a.header(header::CACHE_CONTROL), IMMUTABLE);
        let json = a.json();
        assert_eq!(json["old"], old);
        assert_eq!(json["new"], new);
        let (o, n) = (TreeSize::new(old), TreeSize::new(new));
        let (old_root, new_root) = (
            tree.root_at(o).expect("old root"),
            tree.root_at(n).expect("new root"),
        );
        tlog::verify_consistency(o, n, &old_root, &new_root, &hashes(&json["proof"]))
            .unwrap_or_else(|e| panic!("consistency {old}->{new}: {e}"));
    }
    // `new` defaults to the published size.
    let a = get(fx.router(), "/proof/consistency?old=42").await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    assert_eq!(a.json()["new"], 300);
}

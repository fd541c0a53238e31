//! SCRAPI over a real log: registration answers 201 with a receipt that
//! verifies (with `scitt::verify_receipt` and against the log's own
//! checkpoint), duplicates get their first entry, every refusal is a specific
//! Concise Problem Details answer, and the key and statement resources serve
//! what relying parties need.

use crate::scrapi_common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Counts the bytes this test binary holds, and their high-water mark, so a
/// test can bound what one request makes the server allocate.
struct Counting;

static HELD_BYTES: AtomicUsize = AtomicUsize::new(0);
static HELD_BYTES_PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc(layout);
        if !p.is_null() {
            let now = HELD_BYTES.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            HELD_BYTES_PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, layout: Layout) {
        HELD_BYTES.fetch_sub(layout.size(), Ordering::Relaxed);
        System.dealloc(p, layout)
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use scitt::{Algorithm, PublicKey, SigningKey, StatementBuilder};
use scrapi_common::Fixture;
use tlog::LeafIndex;

fn issuer_key(fx: &Fixture, issuer: &str, alg: Algorithm) -> SigningKey {
    let k = SigningKey::generate(alg, &mut rand_core::OsRng);
    fx.keys.add(issuer, k.public_key());
    k
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registered_statement_gets_a_receipt_that_verifies_against_the_log() {
    let fx = Fixture::open();
    for (n, alg) in [Algorithm::EdDSA, Algorithm::ES256].into_iter().enumerate() {
        let k = issuer_key(&fx, "acme.example", alg);
        let statement = StatementBuilder::new(
            "acme.example",
            &format!("device:door-{n}"),
            br#"{"type":"firmware_installed","version":"2.1.0"}"#,
        )
        .content_type("application/json")
        .issued_at(scrapi_common::now_unix_s())
        .sign(&k);
        let a = fx.post_cose(statement.clone()).await;
        assert_eq!(
            a.status,
            StatusCode::CREATED,
            "{:?}",
            String::from_utf8_lossy(&a.body)
        );
        assert_eq!(a.content_type, "application/cose");
        assert_eq!(
            a.location.as_deref(),
            Some(format!("/entries/{n}").as_str())
        );
        let v = scitt::verify_receipt(&a.body, &statement, &fx.service_key).expect("receipt");
        assert_eq!(v.leaf_index, LeafIndex::new(n as u64));
        // The receipt's root is a root the log signed in a checkpoint.
        let published = fx.log.published();
        assert!(v.tree_size <= published.size);
        assert_eq!(
            fx.log.prover().root(v.tree_size).expect("root"),
            v.root,
            "the receipt's tree is the log's tree"
        );
        assert_eq!(
            v.claims.expect("claims").subject,
            format!("device:door-{n}")
        );

        // GET /entries/{id}: a fresh receipt; the statement resource carries it.
        let again = fx.get(&format!("/entries/{n}")).await;
        assert_eq!(again.status, StatusCode::OK);
        scitt::verify_receipt(&again.body, &statement, &fx.service_key).expect("fresh receipt");
        let t = fx.get(&format!("/entries/{n}/statement")).await;
        assert_eq!(t.status, StatusCode::OK);
        let parsed = scitt::SignedStatement::parse(&t.body).expect("transparent statement");
        parsed
            .verify(&k.public_key())
            .expect("still signed by the issuer");

        // The same statement again: the same entry.
        let dup = fx.post_cose(statement).await;
        assert_eq!(dup.status, StatusCode::CREATED);
        assert_eq!(
            dup.location.as_deref(),
            Some(format!("/entries/{n}").as_str())
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_refusal_is_a_specific_problem_and_nothing_is_appended() {
    let fx = Fixture::open();
    let known = issuer_key(&fx, "acme.example", Algorithm::EdDSA);
    let stranger = SigningKey::generate(Algorithm::EdDSA, &mut rand_core::OsRng);

    let unknown = StatementBuilder::new("acme.example", "device:1", b"{}")
        .issued_at(scrapi_common::now_unix_s())
        .sign(&stranger);
    let a = fx.post_cose(unknown).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert_eq!(a.problem_title(), "Unknown issuer key");

    // Known key, but presented as another issuer.
    let wrong_issuer = StatementBuilder::new("evil.example", "device:1", b"{}")
        .issued_at(scrapi_common::now_unix_s())
        .sign(&known);
    let a = fx.post_cose(wrong_issuer).await;
    assert_eq!(a.problem_title(), "Unknown issuer key");

    let detached = StatementBuilder::new("acme.example", "device:1", b"{}")
        .detached()
        .issued_at(scrapi_common::now_unix_s())
        .sign(&known);
    let a = fx.post_cose(detached).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert_eq!(a.problem_title(), "Detached payload");

    let good = StatementBuilder::new("acme.example", "device:1", b"payload!")
        .issued_at(scrapi_common::now_unix_s())
        .sign(&known);
    let pos = good
        .windows(8)
        .position(|w| w == b"payload!")
        .expect("payload");
    let mut tampered = good.clone();
    tampered[pos] ^= 1;
    let a = fx.post_cose(tampered).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert_eq!(a.problem_title(), "Signature verification failed");

    let a = fx.post_cose(b"not cbor at all".to_vec()).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert_eq!(a.problem_title(), "Malformed request");

    let a = fx
        .post_cose(vec![0u8; scitt::STATEMENT_BYTES_MAX + 10])
        .await;
    assert_eq!(a.status, StatusCode::PAYLOAD_TOO_LARGE);

    let a = fx
        .request(
            Request::post("/entries")
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(good.clone()))
                .expect("request"),
        )
        .await;
    assert_eq!(a.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);

    assert_eq!(
        fx.log.durable_size().get(),
        0,
        "a refused statement was appended"
    );

    let a = fx.get("/entries/7").await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    assert_eq!(a.problem_title(), "Not Found");
    let a = fx.get("/entries/seven").await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);

    // Revoking the key stops further registrations by it.
    assert_eq!(fx.post_cose(good.clone()).await.status, StatusCode::CREATED);
    fx.keys
        .remove("acme.example", &known.public_key().thumbprint());
    let later = StatementBuilder::new("acme.example", "device:2", b"{}")
        .issued_at(scrapi_common::now_unix_s())
        .sign(&known);
    assert_eq!(
        fx.post_cose(later).await.problem_title(),
        "Unknown issuer key"
    );
    assert_eq!(fx.log.durable_size().get(), 1);

    // Bytes in the log as a raw entry (POST /log/add) are not a statement:
    // 400, not a 404 for an entry that exists.
    let raw = b"a raw log entry".to_vec();
    fx.log.append(raw.clone()).await.expect("raw append");
    let a = fx.post_cose(raw).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert_eq!(a.problem_title(), "Malformed request");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_keys_and_configuration_are_served_as_cbor() {
    let fx = Fixture::open();
    let a = fx.get("/.well-known/scitt-keys").await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.content_type, "application/cbor");
    let set: Vec<ciborium::Value> = ciborium::from_reader(a.body.as_slice()).expect("key set");
    assert_eq!(set.len(), 1);
    let mut bytes = Vec::new();
    ciborium::into_writer(&set[0], &mut bytes).expect("encode");
    let key = <coset::CoseKey as coset::CborSerializable>::from_slice(&bytes).expect("COSE_Key");
    assert_eq!(PublicKey::from_cose_key(&key).expect("key"), fx.service_key);

    use base64::Engine as _;
    let kid = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(fx.service_key.thumbprint());
    let one = fx.get(&format!("/.well-known/scitt-keys/{kid}")).await;
    assert_eq!(one.status, StatusCode::OK);
    let missing = fx.get("/.well-known/scitt-keys/AAAA").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.problem_title(), "No such key");

    let c = fx.get("/.well-known/transparency-configuration").await;
    assert_eq!(c.status, StatusCode::OK);
    let v: ciborium::Value = ciborium::from_reader(c.body.as_slice()).expect("config");
    assert!(format!("{v:?}").contains("example.test"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_registers_the_good_statements_and_names_each_bad_one() {
    let fx = Fixture::open();
    let eddsa = issuer_key(&fx, "acme.example", Algorithm::EdDSA);
    let es256 = issuer_key(&fx, "vista.example", Algorithm::ES256);
    let stranger = SigningKey::generate(Algorithm::EdDSA, &mut rand_core::OsRng);
    let mut statements: Vec<Vec<u8>> = (0..10)
        .map(|i| {
            let key = if i % 3 == 0 { &es256 } else { &eddsa };
            let issuer = if i % 3 == 0 {
                "vista.example"
            } else {
                "acme.example"
            };
            StatementBuilder::new(issuer, &format!("device:{i}"), b"{\"fw\":\"1\"}")
                .issued_at(scrapi_common::now_unix_s())
                .sign(key)
        })
        .collect();
    // Position 10: unknown key. Position 11: a tampered Ed25519 statement,
    // which makes the Ed25519 batch fail and each be checked alone.
    statements.push(
        StatementBuilder::new("acme.example", "device:x", b"{}")
            .issued_at(scrapi_common::now_unix_s())
            .sign(&stranger),
    );
    let mut tampered = StatementBuilder::new("acme.example", "device:y", b"payload!")
        .issued_at(scrapi_common::now_unix_s())
        .sign(&eddsa);
    let pos = tampered
        .windows(8)
        .position(|w| w == b"payload!")
        .expect("payload");
    tampered[pos] ^= 1;
    statements.push(tampered);
    let body = {
        let v = ciborium::Value::Array(
            statements
                .iter()
                .map(|s| ciborium::Value::Bytes(s.clone()))
                .collect(),
        );
        let mut out = Vec::new();
        ciborium::into_writer(&v, &mut out).expect("cbor");
        out
    };
    let post = |body: Vec<u8>, content_type: &'static str| {
        Request::post("/api/v1/statements/batch")
            .header(header::CONTENT_TYPE, content_type)
            .body(Body::from(body))
            .expect("request")
    };
    let a = fx.request(post(body.clone(), "application/cbor")).await;
    assert_eq!(
        a.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&a.body)
    );
    let json: serde_json::Value = serde_json::from_slice(&a.body).expect("json");
    let results = json["results"].as_array().expect("results");
    assert_eq!(results.len(), 12);
    let mut indices = std::collections::BTreeSet::new();
    for r in &results[..10] {
        indices.insert(r["index"].as_u64().expect("registered"));
    }
    assert_eq!(indices, (0..10).collect());
    assert_eq!(results[10]["error"]["title"], "Unknown issuer key");
    assert_eq!(
        results[11]["error"]["title"],
        "Signature verification failed"
    );
    assert_eq!(fx.log.durable_size().get(), 10);
    assert!(
        fx.service
            .wait_covered(LeafIndex::new(9), std::time::Duration::from_secs(10))
            .await
    );
    for (i, r) in results[..10].iter().enumerate() {
        let index = r["index"].as_u64().expect("index");
        let receipt = fx.get(&format!("/entries/{index}")).await;
        assert_eq!(receipt.status, StatusCode::OK);
        scitt::verify_receipt(&receipt.body, &statements[i], &fx.service_key).expect("receipt");
    }

    // The whole request is refused when it is not an array of byte strings.
    let mut not_bytes = Vec::new();
    ciborium::into_writer(
        &ciborium::Value::Array(vec![ciborium::Value::from(1)]),
        &mut not_bytes,
    )
    .expect("cbor");
    let a = fx.request(post(not_bytes, "application/cbor")).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert_eq!(a.problem_title(), "Malformed request");
    let a = fx.request(post(body, "application/json")).await;
    assert_eq!(a.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(fx.log.durable_size().get(), 10);

    // One statement with Prefer: respond-async: 303 as soon as it is durable.
    let one = StatementBuilder::new("acme.example", "device:async", b"{}")
        .issued_at(scrapi_common::now_unix_s())
        .sign(&eddsa);
    let a = fx
        .request(
            Request::post("/entries")
                .header(header::CONTENT_TYPE, "application/cose")
                .header("prefer", "respond-async")
                .body(Body::from(one))
                .expect("request"),
        )
        .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER);
    assert_eq!(a.location.as_deref(), Some("/entries/10"));
}

/// Re-encodings of one signed statement: what its signature covers (the
/// protected header, the payload) and its signature are the same, only the
/// envelope differs.
fn re_encodings(statement: &[u8]) -> Vec<(&'static str, Vec<u8>)> {
    use coset::{CborSerializable, TaggedCborSerializable};
    assert_eq!(statement[..2], [0xd2, 0x84], "a tagged COSE_Sign1 array");
    let mut with_header = coset::CoseSign1::from_tagged_slice(statement).expect("parse");
    with_header
        .unprotected
        .rest
        .push((coset::Label::Int(99), ciborium::Value::Text("added".into())));
    let untagged_with_header = with_header.clone().to_vec().expect("encode");
    let with_header = with_header.to_tagged_vec().expect("encode");
    let body = &statement[2..];
    vec![
        ("untagged", statement[1..].to_vec()),
        ("an unprotected header added", with_header),
        (
            "untagged, an unprotected header added",
            untagged_with_header,
        ),
        (
            "an indefinite-length array",
            [&[0xd2, 0x9f][..], body, &[0xff]].concat(),
        ),
        (
            "a longer array head",
            [&[0xd2, 0x98, 0x04][..], body].concat(),
        ),
        (
            "a longer tag head",
            [&[0xd8, 0x12, 0x84][..], body].concat(),
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_re_encoding_of_a_registered_statement_answers_its_entry() {
    let fx = Fixture::open();
    for (n, alg) in [Algorithm::EdDSA, Algorithm::ES256].into_iter().enumerate() {
        let key = issuer_key(&fx, "acme.example", alg);
        let statement =
            StatementBuilder::new("acme.example", &format!("device:{n}"), b"{\"fw\":\"1\"}")
                .issued_at(scrapi_common::now_unix_s())
                .sign(&key);
        let first = fx.post_cose(statement.clone()).await;
        assert_eq!(first.status, StatusCode::CREATED);
        let location = format!("/entries/{n}");
        assert_eq!(first.location.as_deref(), Some(location.as_str()));

        let mut variants = re_encodings(&statement);
        // The statement as the service serves it, with its receipt.
        let transparent = fx.get(&format!("{location}/statement")).await;
        assert_eq!(transparent.status, StatusCode::OK);
        variants.push(("the transparent statement served", transparent.body));
        if alg == Algorithm::ES256 {
            // (r, n - s): another valid signature anyone can make from (r, s).
            let parsed = scitt::SignedStatement::parse(&statement).expect("parse");
            let flipped = parsed.registration_forms().pop().expect("two forms");
            assert_ne!(flipped, statement);
            let reparsed = scitt::SignedStatement::parse(&flipped).expect("parse");
            reparsed
                .verify(&key.public_key())
                .expect("the malleated signature verifies");
            assert_ne!(reparsed.signature(), parsed.signature());
            variants.push(("the ECDSA signature malleated", flipped));
        }
        for (how, bytes) in variants {
            assert_ne!(bytes, statement, "{how}: a re-encoding");
            let a = fx.post_cose(bytes.clone()).await;
            assert_eq!(
                (a.status, a.location.as_deref()),
                (StatusCode::CREATED, Some(location.as_str())),
                "{how}: {}",
                String::from_utf8_lossy(&a.body)
            );
            let batch = {
                let mut out = Vec::new();
                ciborium::into_writer(
                    &ciborium::Value::Array(vec![ciborium::Value::Bytes(bytes)]),
                    &mut out,
                )
                .expect("cbor");
                out
            };
            let a = fx
                .request(
                    Request::post("/api/v1/statements/batch")
                        .header(header::CONTENT_TYPE, "application/cbor")
                        .body(Body::from(batch))
                        .expect("request"),
                )
                .await;
            let json: serde_json::Value = serde_json::from_slice(&a.body).expect("json");
            assert_eq!(
                (
                    &json["results"][0]["index"],
                    &json["results"][0]["duplicate"]
                ),
                (&serde_json::json!(n), &serde_json::json!(true)),
                "{how} in a batch: {json}"
            );
        }
        assert_eq!(
            fx.log.durable_size().get(),
            n as u64 + 1,
            "a re-encoding was registered as a new entry"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_statement_is_registered_only_within_its_issued_at_window() {
    let fx = Fixture::open();
    let key = issuer_key(&fx, "acme.example", Algorithm::EdDSA);
    let now = scrapi_common::now_unix_s();
    let sign = |iat: Option<i64>| {
        let b = StatementBuilder::new("acme.example", "device:1", b"{}");
        match iat {
            Some(t) => b.issued_at(t),
            None => b,
        }
        .sign(&key)
    };
    for (iat, expected) in [
        (None, "the CWT Claims have no iat (6)"),
        (Some(now - 2 * 24 * 3600), "s before the service's clock"),
        (Some(now + 3600), "s ahead of the service's clock"),
    ] {
        let a = fx.post_cose(sign(iat)).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{iat:?}");
        assert_eq!(a.problem_title(), "Issued-at outside the window");
        let detail = String::from_utf8_lossy(&a.body).to_string();
        assert!(detail.contains(expected), "{iat:?}: {detail}");
    }
    assert_eq!(
        fx.log.durable_size().get(),
        0,
        "a stale statement was appended"
    );
    // Within the window on either side: registered.
    for iat in [now - 23 * 3600, now + 60] {
        let a = fx.post_cose(sign(Some(iat))).await;
        assert_eq!(a.status, StatusCode::CREATED, "{iat}");
    }
}

fn batch_post(body: Vec<u8>) -> Request<Body> {
    Request::post("/api/v1/statements/batch")
        .header(header::CONTENT_TYPE, "application/cbor")
        .body(Body::from(body))
        .expect("request")
}

/// Issue 13 item 4: a 16 MiB array head announcing 16.7 million empty byte
/// strings was decoded completely (about 1 GiB) before its count was checked.
/// The count is now read from the head: the request is refused with the limit
/// and costs the server no more than a few times its body.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_of_millions_of_empty_byte_strings_is_refused_from_its_head() {
    let fx = Fixture::open();
    let body_bytes = http_api::BATCH_BODY_BYTES_MAX;
    // Head 0x9a + 4-byte count, then one 0x40 (empty byte string) per item.
    let count = body_bytes - 5;
    let mut body = Vec::with_capacity(body_bytes);
    body.push(0x9a);
    body.extend_from_slice(&(count as u32).to_be_bytes());
    body.resize(body_bytes, 0x40);
    let request = batch_post(body);
    let before = HELD_BYTES.load(Ordering::Relaxed);
    HELD_BYTES_PEAK.store(before, Ordering::Relaxed);
    let a = fx.request(request).await;
    let peak = HELD_BYTES_PEAK.load(Ordering::Relaxed) - before;
    assert_eq!(a.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        a.problem_detail(),
        format!("{count} statements in one batch; at most 4096")
    );
    // Decoding first held about 1 GiB; the body itself is 16 MiB.
    assert!(
        peak < 4 * body_bytes,
        "the request made the server hold {peak} bytes more"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_over_the_item_limit_or_not_definite_is_refused_precisely() {
    let fx = Fixture::open();
    // 4,097 empty byte strings: 413 naming the limit.
    let mut body = vec![0x99, 0x10, 0x01];
    body.resize(3 + 4097, 0x40);
    let a = fx.request(batch_post(body)).await;
    assert_eq!(a.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        a.problem_detail(),
        "4097 statements in one batch; at most 4096"
    );
    for (body, detail) in [
        (
            vec![0x9f, 0x40, 0xff],
            "the body is an indefinite-length CBOR array; send a definite-length array of byte strings",
        ),
        (
            vec![0x81, 0x5f, 0x41, 0x00, 0xff],
            "item 0 is an indefinite-length byte string; send definite lengths",
        ),
        (
            vec![0x81, 0x81, 0x40],
            "item 0 is not a byte string (CBOR major type 4)",
        ),
        (
            vec![0x82, 0x5a, 0xff, 0xff, 0xff, 0xff],
            "item 0 claims 4294967295 bytes but only 0 are left in the body",
        ),
        (
            vec![0x81, 0x40, 0x40],
            "1 bytes follow the array; the body must be exactly one CBOR array",
        ),
        (vec![0xa0], "the body must be a CBOR array of byte strings, not CBOR major type 5"),
        (vec![0x9b, 0x00], "the body is not CBOR: the body ends inside a CBOR head"),
    ] {
        let a = fx.request(batch_post(body.clone())).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{body:02x?}");
        assert_eq!(a.problem_title(), "Malformed request");
        assert_eq!(a.problem_detail(), detail, "{body:02x?}");
    }
    assert_eq!(fx.log.durable_size().get(), 0);
}

/// The node's composition in small: the log under `/log`, SCRAPI, the token
/// endpoint, behind the problem-details middleware.
fn composed(fx: &Fixture) -> axum::Router {
    let tokens = std::sync::Arc::new(http_api::oauth::TokenEndpoint::new(
        std::sync::Arc::new(parking_lot::RwLock::new(access::Credentials::default())),
        access::TokenKey::from_bytes([7; 32]),
    ));
    axum::Router::new()
        .nest(
            "/log",
            http_api::log_router(http_api::LogApi::new(fx.log.clone())),
        )
        .merge(fx.router())
        .merge(http_api::oauth::token_routes(tokens, "/oauth/token"))
        .layer(axum::middleware::from_fn(http_api::problem::fill_errors))
}

/// Issue 13 item 12: 404, 405, 413, 414 and 431 answered empty or plain-text
/// bodies. Every error now has a problem body in its API's format (RFC 9457
/// JSON, RFC 9290 CBOR, or one line of text on the C2SP log routes) saying
/// what is wrong, and the body limit's 413 states the limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_error_has_a_problem_body_in_its_apis_format() {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let fx = Fixture::open();
    let app = composed(&fx);
    let ask = |request: Request<Body>| {
        let app = app.clone();
        async move {
            let response = app.oneshot(request).await.expect("infallible");
            let status = response.status();
            let content_type = response
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string();
            let body = response
                .into_body()
                .collect()
                .await
                .expect("body")
                .to_bytes()
                .to_vec();
            (status, content_type, body)
        }
    };
    let json_detail = |(status, content_type, body): (StatusCode, String, Vec<u8>)| {
        assert_eq!(content_type, "application/problem+json", "{status}");
        let v: serde_json::Value = serde_json::from_slice(&body).expect("problem JSON");
        assert_eq!(v["status"], status.as_u16());
        assert_eq!(v["type"], "about:blank");
        (status, v["detail"].as_str().expect("detail").to_string())
    };
    let cbor_detail = |(status, content_type, body): (StatusCode, String, Vec<u8>)| {
        let a = scrapi_common::Answer {
            status,
            content_type,
            location: None,
            body,
        };
        (status, a.problem_detail())
    };
    let get = |path: &str| Request::get(path).body(Body::empty()).expect("request");

    // 404: JSON for unknown paths, CBOR under SCRAPI, text under /log.
    let (status, detail) = json_detail(ask(get("/api/v1/nothing-here")).await);
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(detail, "no resource at /api/v1/nothing-here");
    let (status, detail) = cbor_detail(ask(get("/.well-known/nothing-here")).await);
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(detail, "no resource at /.well-known/nothing-here");
    let (status, content_type, body) = ask(get("/log/nothing-here")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    assert_eq!(body, b"no resource at /log/nothing-here\n");

    // 405 names the allowed methods.
    let (status, detail) = json_detail(ask(get("/oauth/token")).await);
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(
        detail.starts_with("GET is not allowed on /oauth/token"),
        "{detail}"
    );
    let delete = Request::delete("/entries")
        .body(Body::empty())
        .expect("request");
    let (status, detail) = cbor_detail(ask(delete).await);
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(
        detail.starts_with("DELETE is not allowed on /entries"),
        "{detail}"
    );

    // 413 from the body limit states the limit.
    let limit = http_api::BATCH_BODY_BYTES_MAX;
    let (status, detail) = cbor_detail(ask(batch_post(vec![0x40; limit + 1])).await);
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        detail,
        format!("the request body exceeds this route's limit of {limit} bytes")
    );

    // 414 and 431 before any route runs.
    let long = format!(
        "/api/v1/devices?q={}",
        "a".repeat(http_api::problem::URI_BYTES_MAX)
    );
    let (status, detail) = json_detail(ask(get(&long)).await);
    assert_eq!(status, StatusCode::URI_TOO_LONG);
    assert!(
        detail.starts_with("the request target has 8210 bytes; at most 8192"),
        "{detail}"
    );
    let big_headers = Request::get("/api/v1/status")
        .header("x-padding", "p".repeat(http_api::problem::HEADER_BYTES_MAX))
        .body(Body::empty())
        .expect("request");
    let (status, detail) = json_detail(ask(big_headers).await);
    assert_eq!(status, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
    assert!(detail.ends_with("at most 32768"), "{detail}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipts_are_dated_by_the_injected_clock() {
    let fx = Fixture::open();
    let clock = std::sync::Arc::new(clock::FixedClock::at(1_800_000_000_999));
    let router = || {
        http_api::scrapi_router(
            http_api::ScrapiApi::new(fx.service.clone()).with_clock(clock.clone()),
        )
    };
    let k = issuer_key(&fx, "acme.example", Algorithm::EdDSA);
    let statement = StatementBuilder::new(
        "acme.example",
        "device:door-clock",
        br#"{"type":"firmware_installed","version":"2.1.0"}"#,
    )
    .content_type("application/json")
    .issued_at(scrapi_common::now_unix_s())
    .sign(&k);
    let post = Request::post("/entries")
        .header(header::CONTENT_TYPE, "application/cose")
        .body(Body::from(statement.clone()))
        .unwrap();
    let a = Fixture::request_to(router(), post).await;
    assert_eq!(
        a.status,
        StatusCode::CREATED,
        "{:?}",
        String::from_utf8_lossy(&a.body)
    );
    let issued_at = |receipt: &[u8]| {
        scitt::verify_receipt(receipt, &statement, &fx.service_key)
            .expect("receipt")
            .claims
            .expect("claims")
            .issued_at
    };
    assert_eq!(
        issued_at(&a.body),
        Some(1_800_000_000),
        "seconds, rounded down"
    );
    // The same entry's receipt, asked for later, carries the later time.
    clock.set(1_900_000_000_000);
    let location = a.location.expect("location");
    let again = Fixture::request_to(
        router(),
        Request::get(location.as_str()).body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(issued_at(&again.body), Some(1_900_000_000));
}

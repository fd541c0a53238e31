//! Shared fixture of the SCRAPI tests: a real log in a temporary directory, a
//! [`TransparencyService`] with an in-memory key directory, and the router
//! driven in-process.

// Each test binary uses a different part of the fixture.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use log_service::{Log, LogConfig};
use log_store::{EmbeddedStore, EmbeddedStoreOptions};
use scitt::{Algorithm, SigningKey};
use tower::ServiceExt;
use transparency::{StaticKeys, TransparencyService};

pub struct Fixture {
    pub _dir: tempfile::TempDir,
    pub log: Log,
    pub keys: Arc<StaticKeys>,
    pub service: Arc<TransparencyService>,
    pub service_key: scitt::PublicKey,
}

pub struct Answer {
    pub status: StatusCode,
    pub content_type: String,
    pub location: Option<String>,
    pub body: Vec<u8>,
}

impl Answer {
    /// The Concise Problem Details detail (-2) of an error answer.
    pub fn problem_detail(&self) -> String {
        self.problem_field(-2)
    }

    /// The Concise Problem Details title (-1) of an error answer.
    pub fn problem_title(&self) -> String {
        self.problem_field(-1)
    }

    fn problem_field(&self, key: i128) -> String {
        assert_eq!(
            self.content_type, "application/concise-problem-details+cbor",
            "status {}",
            self.status
        );
        let v: ciborium::Value = ciborium::from_reader(self.body.as_slice()).expect("CBOR");
        let ciborium::Value::Map(m) = v else {
            panic!("problem details is not a map")
        };
        m.iter()
            .find_map(|(k, v)| match (k, v) {
                (ciborium::Value::Integer(i), ciborium::Value::Text(t))
                    if i128::from(*i) == key =>
                {
                    Some(t.clone())
                }
                _ => None,
            })
            .expect("problem field")
    }
}

impl Fixture {
    pub fn open() -> Fixture {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = EmbeddedStore::open(EmbeddedStoreOptions {
            dir: dir.path().to_path_buf(),
        })
        .expect("store");
        let signer =
            tlog::Signer::generate("example.test/scrapi", &mut rand_core::OsRng).expect("signer");
        let log = Log::open(
            Arc::new(store),
            signer,
            LogConfig {
                checkpoint_interval: Duration::from_millis(20),
                ..LogConfig::default()
            },
        )
        .expect("log");
        let keys = Arc::new(StaticKeys::new());
        let receipt_key = SigningKey::generate(Algorithm::EdDSA, &mut rand_core::OsRng);
        let service_key = receipt_key.public_key();
        let service = Arc::new(TransparencyService::new(
            log.clone(),
            keys.clone(),
            receipt_key,
            "example.test",
        ));
        Fixture {
            _dir: dir,
            log,
            keys,
            service,
            service_key,
        }
    }

    pub fn router(&self) -> Router {
        http_api::scrapi_router(http_api::ScrapiApi::new(self.service.clone()))
    }

    pub async fn request(&self, req: Request<Body>) -> Answer {
        Self::request_to(self.router(), req).await
    }

    /// `req` answered by `router` (a router of this fixture's service built
    /// differently, e.g. with a fixed clock).
    pub async fn request_to(router: Router, req: Request<Body>) -> Answer {
        let resp = router.oneshot(req).await.expect("infallible");
        let status = resp.status();
        let header = |name| {
            resp.headers()
                .get(name)
                .and_then(|v: &axum::http::HeaderValue| v.to_str().ok())
                .map(str::to_string)
        };
        let content_type = header(header::CONTENT_TYPE).unwrap_or_default();
        let location = header(header::LOCATION);
        let body = resp
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes()
            .to_vec();
        Answer {
            status,
            content_type,
            location,
            body,
        }
    }

    pub async fn post_cose(&self, body: Vec<u8>) -> Answer {
        self.request(
            Request::post("/entries")
                .header(header::CONTENT_TYPE, "application/cose")
                .body(Body::from(body))
                .expect("request"),
        )
        .await
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.request(Request::get(path).body(Body::empty()).expect("request"))
            .await
    }
}

/// The system clock, seconds since the epoch (statements' CWT `iat`).
pub fn now_unix_s() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

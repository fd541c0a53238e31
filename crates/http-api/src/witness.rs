//! HTTP binding of the C2SP tlog-witness API (c2sp.org/tlog-witness) over
//! [`witness::Witness`]:
//!
//! * `POST /add-checkpoint`: 200 with the cosignature line(s) as
//!   `text/plain`; 409 with `<size>\n` as `text/x.tlog.size`; 400, 403, 404,
//!   422 with a one-line reason; 500 with a generic message.
//! * `GET /<sha256(origin) hex>/checkpoint`: the latest cosigned checkpoint
//!   (monitoring API), 404 if never cosigned.
//!
//! Mount it at the witness's submission (= monitoring) prefix. Deliberately
//! absent: any protocol logic (it is all in the `witness` crate; handlers
//! extract, call one function, map the result) and authentication (the spec
//! has none beyond the log's signature on the checkpoint).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use witness::{AddCheckpointError, Witness};

/// Largest `add-checkpoint` body, in bytes: the witness core's own limit, so
/// the two cannot disagree. Larger bodies get 413 before being buffered.
pub const WITNESS_BODY_BYTES_MAX: usize = witness::ADD_CHECKPOINT_BODY_BYTES_MAX;

const TEXT_PLAIN: &str = "text/plain; charset=utf-8";

/// The witness routes, to be mounted at the witness's URL prefix.
pub fn router(w: Arc<Witness>) -> Router {
    Router::new()
        .route("/add-checkpoint", post(add_checkpoint))
        .route("/{origin_hash}/checkpoint", get(latest_checkpoint))
        .layer(crate::problem::body_limit(WITNESS_BODY_BYTES_MAX))
        .with_state(w)
}

async fn add_checkpoint(State(w): State<Arc<Witness>>, body: Bytes) -> Response {
    // The witness fsyncs before answering: keep that off the async workers.
    let result = tokio::task::spawn_blocking(move || w.add_checkpoint(&body)).await;
    match result {
        Ok(Ok(lines)) => {
            (StatusCode::OK, [(header::CONTENT_TYPE, TEXT_PLAIN)], lines).into_response()
        }
        Ok(Err(e)) => add_checkpoint_error(&e),
        Err(join) => {
            tracing::error!(error = %join, "add-checkpoint task failed");
            internal_error()
        }
    }
}

fn add_checkpoint_error(e: &AddCheckpointError) -> Response {
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    match e {
        AddCheckpointError::Conflict { latest } => (
            status,
            [(header::CONTENT_TYPE, witness::TLOG_SIZE_CONTENT_TYPE)],
            format!("{latest}\n"),
        )
            .into_response(),
        _ if status.is_server_error() => {
            tracing::error!(error = %e, "add-checkpoint failed");
            internal_error()
        }
        _ => (
            status,
            [(header::CONTENT_TYPE, TEXT_PLAIN)],
            format!("{e}\n"),
        )
            .into_response(),
    }
}

async fn latest_checkpoint(
    State(w): State<Arc<Witness>>,
    Path(origin_hash): Path<String>,
) -> Response {
    let result = tokio::task::spawn_blocking(move || w.latest_checkpoint(&origin_hash)).await;
    match result {
        Ok(Ok(Some(note))) => {
            (StatusCode::OK, [(header::CONTENT_TYPE, TEXT_PLAIN)], note).into_response()
        }
        Ok(Ok(None)) => (StatusCode::NOT_FOUND, "never cosigned\n").into_response(),
        // A malformed hash names no log this witness cosigned.
        Ok(Err(witness::WitnessError::BadOriginHash)) => {
            (StatusCode::NOT_FOUND, "not a lowercase hex SHA-256\n").into_response()
        }
        Ok(Err(e)) => {
            tracing::error!(error = %e, "reading the latest checkpoint failed");
            internal_error()
        }
        Err(join) => {
            tracing::error!(error = %join, "checkpoint read task failed");
            internal_error()
        }
    }
}

fn internal_error() -> Response {
    (StatusCode::INTERNAL_SERVER_ERROR, "internal error\n").into_response()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

    use std::sync::Arc;

    use axum::body::Body;
    use axum::http::{Method, Request, StatusCode};
    use tlog::{
        leaf_hash, prove_consistency, sign_checkpoint, Checkpoint, Cosigner, MemoryTree, Signer,
        TreeSize,
    };
    use tower::ServiceExt as _;
    use witness::{FixedClock, Witness};

    const ORIGIN: &str = "example.com/http-api-witness-test";

    struct Fixture {
        _dir: tempfile::TempDir,
        signer: Signer,
        tree: MemoryTree,
        witness: Arc<Witness>,
    }

    impl Fixture {
        fn new(clock: Arc<dyn witness::Clock>) -> Self {
            let dir = tempfile::tempdir().unwrap();
            let signer = Signer::generate(ORIGIN, &mut rand_core::OsRng).unwrap();
            let cosigner =
                Cosigner::generate("witness.example.com/http", &mut rand_core::OsRng).unwrap();
            let witness =
                Witness::open(dir.path(), cosigner, vec![signer.verifier()], clock).unwrap();
            Self {
                _dir: dir,
                signer,
                tree: MemoryTree::new(),
                witness: Arc::new(witness),
            }
        }

        fn body(&mut self, old: u64, size: u64) -> Vec<u8> {
            while self.tree.size().get() < size {
                let i = self.tree.size().get();
                self.tree.push(leaf_hash(format!("leaf-{i}").as_bytes()));
            }
            let mut out = format!("old {old}\n").into_bytes();
            if old != 0 && old != size {
                for h in
                    prove_consistency(TreeSize::new(old), TreeSize::new(size), &self.tree).unwrap()
                {
                    out.extend_from_slice(format!("{}\n", h.to_base64()).as_bytes());
                }
            }
            out.push(b'\n');
            let root = self.tree.root_at(TreeSize::new(size)).unwrap();
            let cp = Checkpoint::new(ORIGIN, TreeSize::new(size), root).unwrap();
            out.extend_from_slice(&sign_checkpoint(&cp, &self.signer));
            out
        }

        async fn call(
            &self,
            method: Method,
            uri: &str,
            body: Vec<u8>,
        ) -> (StatusCode, String, Vec<u8>) {
            let req = Request::builder()
                .method(method)
                .uri(uri)
                .body(Body::from(body))
                .unwrap();
            let resp = super::router(self.witness.clone())
                .oneshot(req)
                .await
                .unwrap();
            let status = resp.status();
            let ct = resp
                .headers()
                .get(axum::http::header::CONTENT_TYPE)
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default();
            let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
                .await
                .unwrap();
            (status, ct, body.to_vec())
        }
    }

    fn fixed() -> Arc<dyn witness::Clock> {
        Arc::new(FixedClock::at(1_700_000_000_000))
    }

    #[tokio::test]
    async fn add_checkpoint_200_returns_signature_lines_as_text_plain() {
        let mut f = Fixture::new(fixed());
        let b = f.body(0, 5);
        let (status, ct, body) = f.call(Method::POST, "/add-checkpoint", b).await;
        assert_eq!(status, StatusCode::OK);
        assert!(ct.starts_with("text/plain"), "{ct}");
        let text = String::from_utf8(body).unwrap();
        assert!(
            text.starts_with("\u{2014} witness.example.com/http "),
            "{text}"
        );
        assert!(text.ends_with('\n'));
    }

    #[tokio::test]
    async fn conflict_409_is_the_size_and_a_newline_as_text_x_tlog_size() {
        let mut f = Fixture::new(fixed());
        let b = f.body(0, 5);
        assert_eq!(
            f.call(Method::POST, "/add-checkpoint", b).await.0,
            StatusCode::OK
        );
        let b = f.body(0, 8);
        let (status, ct, body) = f.call(Method::POST, "/add-checkpoint", b).await;
        assert_eq!(status, StatusCode::CONFLICT);
        assert_eq!(ct, "text/x.tlog.size");
        assert_eq!(body, b"5\n");
    }

    #[tokio::test]
    async fn each_refusal_maps_to_its_spec_status() {
        let mut f = Fixture::new(fixed());
        let good = f.body(0, 4);
        assert_eq!(
            f.call(Method::POST, "/add-checkpoint", good).await.0,
            StatusCode::OK
        );
        // 400: malformed.
        let (s, ct, _) = f
            .call(Method::POST, "/add-checkpoint", b"old x\n\n".to_vec())
            .await;
        assert_eq!(
            (s, ct.starts_with("text/plain")),
            (StatusCode::BAD_REQUEST, true)
        );
        // 400: old size above size.
        let mut b = f.body(4, 4);
        b.splice(0..5, b"old 9".iter().copied());
        assert_eq!(
            f.call(Method::POST, "/add-checkpoint", b).await.0,
            StatusCode::BAD_REQUEST
        );
        // 403: signed by another key under the log's name.
        let mut impostor = Fixture::new(fixed());
        let b = impostor.body(0, 6);
        assert_eq!(
            f.call(Method::POST, "/add-checkpoint", b).await.0,
            StatusCode::FORBIDDEN
        );
        // 404: unknown origin.
        let b = f.body(4, 6);
        let other = String::from_utf8(b)
            .unwrap()
            .replace(ORIGIN, "example.com/unknown");
        assert_eq!(
            f.call(Method::POST, "/add-checkpoint", other.into_bytes())
                .await
                .0,
            StatusCode::NOT_FOUND
        );
        // 422: old size matches but the proof is missing.
        let b = f.body(4, 6);
        let s = String::from_utf8(b).unwrap();
        let (_, cp) = s.split_once("\n\n").unwrap();
        let b = format!("old 4\n\n{cp}").into_bytes();
        assert_eq!(
            f.call(Method::POST, "/add-checkpoint", b).await.0,
            StatusCode::UNPROCESSABLE_ENTITY
        );
    }

    #[tokio::test]
    async fn bodies_over_the_limit_are_413_and_get_is_405() {
        let f = Fixture::new(fixed());
        let big = vec![b'a'; super::WITNESS_BODY_BYTES_MAX + 1];
        assert_eq!(
            f.call(Method::POST, "/add-checkpoint", big).await.0,
            StatusCode::PAYLOAD_TOO_LARGE
        );
        assert_eq!(
            f.call(Method::GET, "/add-checkpoint", vec![]).await.0,
            StatusCode::METHOD_NOT_ALLOWED
        );
    }

    #[tokio::test]
    async fn monitoring_checkpoint_is_404_until_cosigned_then_the_cosigned_note() {
        let mut f = Fixture::new(fixed());
        let path = format!("/{}/checkpoint", witness::origin_sha256_hex(ORIGIN));
        assert_eq!(
            f.call(Method::GET, &path, vec![]).await.0,
            StatusCode::NOT_FOUND
        );
        let b = f.body(0, 3);
        let (_, _, line) = f.call(Method::POST, "/add-checkpoint", b).await;
        let (status, _, body) = f.call(Method::GET, &path, vec![]).await;
        assert_eq!(status, StatusCode::OK);
        let (cp, note) = tlog::open_checkpoint(&body, &f.signer.verifier()).unwrap();
        assert_eq!(cp.size(), TreeSize::new(3));
        let v = tlog::Verifier::from_vkey(&f.witness.vkey()).unwrap();
        assert!(tlog::verify_cosignature(&note, &v).unwrap().is_some());
        assert!(body.ends_with(&line));
        assert_eq!(
            f.call(Method::GET, "/not-a-hash/checkpoint", vec![])
                .await
                .0,
            StatusCode::NOT_FOUND
        );
    }

    /// Interop: an independent log and tlog-witness client (the Python
    /// packages aics-tlog and aics-witness from PyPI, driven by
    /// tests-interop/witness/aics_log.py) submits to this router over real
    /// HTTP; it verifies every cosignature with its own code and expects a
    /// fork to be refused with 422.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "interop: needs aics-witness from PyPI; run tests-interop/witness/run.sh"]
    async fn interop_aics_client_submits_to_our_router() {
        let venv = std::env::var("SECTWIN_AICS_VENV")
            .expect("SECTWIN_AICS_VENV is not set: run tests-interop/witness/run.sh");
        let python = std::path::Path::new(&venv).join("bin").join("python");
        let script = std::env::var_os("SECTWIN_AICS_DRIVER").map_or_else(
            || {
                std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("../../tests-interop/witness/aics_log.py")
            },
            std::path::PathBuf::from,
        );
        let origin = "example.com/aics-driven-log";
        let seed = "2a".repeat(32);
        let out = std::process::Command::new(&python)
            .arg(&script)
            .args(["vkey", "--origin", origin, "--seed", &seed])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let log_vkey = String::from_utf8(out.stdout).unwrap().trim().to_owned();

        let dir = tempfile::tempdir().unwrap();
        let cosigner =
            Cosigner::generate("witness.example.com/interop", &mut rand_core::OsRng).unwrap();
        let w = Witness::open(
            &dir.path().join("state"),
            cosigner,
            vec![tlog::Verifier::from_vkey(&log_vkey).unwrap()],
            // Their client checks the cosignature is fresh against its clock.
            Arc::new(witness::SystemClock),
        )
        .unwrap();
        let w = Arc::new(w);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let app = super::router(w.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

        let state = dir.path().join("client");
        let (py, script, vkey, state) = (python.clone(), script.clone(), w.vkey(), state.clone());
        let url2 = url.clone();
        let out = tokio::task::spawn_blocking(move || {
            std::process::Command::new(py)
                .arg(script)
                .args([
                    "feed",
                    "--origin",
                    origin,
                    "--seed",
                    &seed,
                    "--witness-url",
                    &url2,
                    "--witness-vkey",
                    &vkey,
                ])
                .arg("--state")
                .arg(state)
                .output()
                .unwrap()
        })
        .await
        .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "stdout: {stdout}\nstderr: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            stdout.contains("\"verified_with_aics_tlog\": [1, 5, 5, 13]"),
            "{stdout}"
        );
        assert!(stdout.contains("\"status\": 422"), "{stdout}");

        // Our own state agrees: size 13 cosigned, the fork not.
        let served = w
            .latest_checkpoint(&witness::origin_sha256_hex(origin))
            .unwrap()
            .unwrap();
        let (cp, _) =
            tlog::open_checkpoint(&served, &tlog::Verifier::from_vkey(&log_vkey).unwrap()).unwrap();
        assert_eq!(cp.size(), TreeSize::new(13));
    }
}

//! SCRAPI interop with an independent SCITT implementation, the PyPI package
//! scitt-cose (see `tests-interop/scitt/run.sh`, which installs it and runs
//! this test): its statements register with us, its verifier accepts our
//! receipts (and refuses them for a tampered statement or another key), and
//! it verifies statements our `scitt` crate signed.

use crate::scrapi_common;

use std::path::{Path, PathBuf};
use std::process::Command;

use axum::http::StatusCode;
use scitt::{Algorithm, PublicKey, SigningKey, StatementBuilder};
use scrapi_common::Fixture;

struct Peer {
    python: PathBuf,
    script: PathBuf,
}

impl Peer {
    fn from_env() -> Peer {
        let var = |name: &str| {
            std::env::var_os(name).map(PathBuf::from).unwrap_or_else(|| {
                panic!("{name} is not set: run tests-interop/scitt/run.sh, which installs scitt-cose")
            })
        };
        Peer {
            python: var("SECTWIN_SCITT_PYTHON"),
            script: var("SECTWIN_SCITT_PEER"),
        }
    }

    /// scitt-cose's verdict on `receipt` for `statement` under `pem`.
    fn verify_receipt(&self, receipt: &Path, statement: &Path, pem: &Path) -> (bool, String) {
        self.run(&[
            "verify-receipt",
            "--receipt",
            path_str(receipt),
            "--statement",
            path_str(statement),
            "--pem",
            path_str(pem),
        ])
    }

    fn run(&self, args: &[&str]) -> (bool, String) {
        let out = Command::new(&self.python)
            .arg(&self.script)
            .args(args)
            .output()
            .expect("run the scitt-cose peer");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    }
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "interop: needs scitt-cose from PyPI; run tests-interop/scitt/run.sh"]
async fn scitt_cose_statements_register_and_our_receipts_verify_with_scitt_cose() {
    let peer = Peer::from_env();
    let fx = Fixture::open();
    let dir = tempfile::tempdir().expect("dir");
    let service_pem = dir.path().join("service.pem");
    std::fs::write(&service_pem, fx.service_key.to_pem()).expect("write");
    let other_pem = dir.path().join("other.pem");
    std::fs::write(
        &other_pem,
        SigningKey::generate(Algorithm::EdDSA, &mut rand_core::OsRng)
            .public_key()
            .to_pem(),
    )
    .expect("write");
    let payload = dir.path().join("payload.json");
    std::fs::write(
        &payload,
        br#"{"type":"vulnerability_assessment","status":"not_affected"}"#,
    )
    .expect("write");

    for alg in ["EdDSA", "ES256"] {
        let key = dir.path().join(format!("{alg}.key"));
        let (ok, public_pem) = peer.run(&["keygen", "--alg", alg, "--out", path_str(&key)]);
        assert!(ok, "keygen: {public_pem}");
        let public = PublicKey::from_pem(&public_pem).expect("their public key");
        fx.keys.add("maker.example", public.clone());
        let statement_path = dir.path().join(format!("{alg}.cose"));
        let kid = hex::encode(public.thumbprint());
        let (ok, text) = peer.run(&[
            "sign",
            "--key",
            path_str(&key),
            "--alg",
            alg,
            "--kid",
            &kid,
            "--issuer",
            "maker.example",
            "--subject",
            "device:cam-3",
            "--payload",
            path_str(&payload),
            "--out",
            path_str(&statement_path),
        ]);
        assert!(ok, "sign: {text}");
        let statement = std::fs::read(&statement_path).expect("statement");

        let a = fx.post_cose(statement.clone()).await;
        assert_eq!(
            a.status,
            StatusCode::CREATED,
            "{}",
            String::from_utf8_lossy(&a.body)
        );
        let receipt_path = dir.path().join(format!("{alg}.receipt"));
        std::fs::write(&receipt_path, &a.body).expect("write");

        let (ok, text) = peer.verify_receipt(&receipt_path, &statement_path, &service_pem);
        assert!(ok, "scitt-cose refused our receipt: {text}");
        let (ok, _) = peer.verify_receipt(&receipt_path, &statement_path, &other_pem);
        assert!(!ok, "scitt-cose accepted our receipt under another key");
        let mut tampered = statement.clone();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        let tampered_path = dir.path().join("tampered.cose");
        std::fs::write(&tampered_path, &tampered).expect("write");
        let (ok, _) = peer.verify_receipt(&receipt_path, &tampered_path, &service_pem);
        assert!(
            !ok,
            "scitt-cose accepted our receipt for a tampered statement"
        );
    }

    // Our statements, their verifier.
    for alg in [Algorithm::EdDSA, Algorithm::ES256] {
        let k = SigningKey::generate(alg, &mut rand_core::OsRng);
        let ours = StatementBuilder::new("acme.example", "device:door-1", b"{\"fw\":\"2.1.0\"}")
            .content_type("application/json")
            .issued_at(scrapi_common::now_unix_s())
            .sign(&k);
        let s = dir.path().join("ours.cose");
        let pem = dir.path().join("ours.pem");
        std::fs::write(&s, &ours).expect("write");
        std::fs::write(&pem, k.public_key().to_pem()).expect("write");
        let (ok, text) = peer.run(&[
            "verify-statement",
            "--statement",
            path_str(&s),
            "--pem",
            path_str(&pem),
        ]);
        assert!(ok, "scitt-cose refused our {alg:?} statement: {text}");
    }
}

//! The SCITT client commands against a real `sectwin serve`: generate a key,
//! sign a statement about a software artifact (outside the twins), register it (with the key allowed by `--issuer-key`),
//! verify its receipt offline, and see a tampered statement and an unknown
//! key refused.

use crate::common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use common::{p, sectwin};

/// The PEM block of `sectwin key` output.
fn pem_of(output: &str) -> String {
    output
        .lines()
        .take_while(|l| !l.starts_with("alg:"))
        .map(|l| format!("{l}\n"))
        .collect()
}

/// `sectwin statement sign` of `payload` by `key` as acme.example about the
/// DC-200 model, into `out`.
fn sign(key: &Path, payload: &Path, out: &Path) -> (bool, String) {
    sectwin(&[
        "statement",
        "sign",
        "--key",
        p(key),
        "--issuer",
        "acme.example",
        "--subject",
        "pkg:generic/acme/dc200-firmware@2.4.1",
        "--payload",
        p(payload),
        "--out",
        p(out),
    ])
}

/// `sectwin statement verify-receipt`.
fn verify_receipt(receipt: &Path, statement: &Path, service_key: &Path) -> (bool, String) {
    sectwin(&[
        "statement",
        "verify-receipt",
        "--receipt",
        p(receipt),
        "--statement",
        p(statement),
        "--service-key",
        p(service_key),
    ])
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn keys_statements_registration_and_offline_receipts_from_the_cli() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    let key = d.join("acme.key");
    let (ok, out) = sectwin(&["key", "generate", "--alg", "es256", "--out", p(&key)]);
    assert!(ok, "{out}");
    assert!(out.contains("alg: ES256"), "{out}");
    let public = d.join("acme.pub");
    std::fs::write(&public, pem_of(&out)).expect("write");
    // `key show` writes exactly the PEM to stdout, so it can be redirected.
    let shown = Command::new(env!("CARGO_BIN_EXE_sectwin"))
        .args(["key", "show", p(&key)])
        .output()
        .expect("key show");
    assert!(shown.status.success());
    let shown_pem = d.join("shown.pub");
    std::fs::write(&shown_pem, &shown.stdout).expect("write");
    let (ok, out) = sectwin(&["key", "show", p(&shown_pem)]);
    assert!(ok && out.contains("alg: ES256"), "{out}");

    let data = d.join("data");
    let mut child = Command::new(env!("CARGO_BIN_EXE_sectwin"))
        .args(["serve", "--data", p(&data), "--listen", "127.0.0.1:0"])
        .arg("--issuer-key")
        .arg(format!("acme.example={}", p(&public)))
        .arg("--checkpoint-interval-ms")
        .arg("50")
        .stdout(Stdio::piped())
        .spawn()
        .expect("start sectwin serve");
    let stdout = child.stdout.take().expect("stdout");
    let server = Server(child);
    let mut url = None;
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("line");
        if let Some(rest) = line.strip_prefix("serving on ") {
            url = rest.split("/log/").next().map(str::to_string);
            break;
        }
    }
    let url = url.expect("the server printed its address");

    let payload = d.join("fact.json");
    std::fs::write(
        &payload,
        br#"{"type":"firmware-released","version":"2.4.1","image_sha256":"9f2c"}"#,
    )
    .expect("write");
    let statement = d.join("fact.cose");
    let (ok, out) = sign(&key, &payload, &statement);
    assert!(ok, "{out}");
    let (ok, out) = sectwin(&["statement", "show", p(&statement), "--key", p(&public)]);
    assert!(
        ok && out.contains("signature:    OK")
            && out.contains("pkg:generic/acme/dc200-firmware@2.4.1"),
        "{out}"
    );

    let receipt = d.join("fact.receipt");
    let (ok, out) = sectwin(&[
        "statement",
        "submit",
        &url,
        p(&statement),
        "--receipt",
        p(&receipt),
    ]);
    assert!(ok, "{out}");
    // Entry 0 is the stakeholder registry's bootstrap.
    assert!(out.contains("registered as /entries/1"), "{out}");

    // Offline: the service key is the receipt key in the data directory.
    let service_key = data.join("scitt.key");
    let (ok, out) = verify_receipt(&receipt, &statement, &service_key);
    assert!(ok && out.contains("OK: the statement is entry 1"), "{out}");

    let mut tampered = std::fs::read(&statement).expect("read");
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    let tampered_path = d.join("tampered.cose");
    std::fs::write(&tampered_path, tampered).expect("write");
    let (ok, out) = verify_receipt(&receipt, &tampered_path, &service_key);
    assert!(!ok && out.contains("FAILED"), "{out}");

    // A key the server was not told about.
    let other = d.join("other.key");
    assert!(sectwin(&["key", "generate", "--out", p(&other)]).0);
    let forged = d.join("forged.cose");
    assert!(sign(&other, &payload, &forged).0);
    let (ok, out) = sectwin(&[
        "statement",
        "submit",
        &url,
        p(&forged),
        "--receipt",
        p(&d.join("x")),
    ]);
    assert!(!ok && out.contains("Unknown issuer key"), "{out}");
    drop(server);
}

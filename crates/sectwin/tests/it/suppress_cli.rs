//! `sectwin device suppress|suppressions` against a real `sectwin serve`
//! with its device channel on the broker (Mosquitto on 127.0.0.1:1883; the
//! test fails, never skips, without it): a simulated camera reports with
//! security logging off, its operator suppresses the finding (table and
//! JSON), the audit shows it suppressed, the suppression is lifted, and a
//! refused one says why.

use crate::common;

use common::{credential, keypair, p, sectwin, stdout_of, submit, Server};

#[test]
fn a_finding_is_suppressed_listed_and_lifted_from_the_cli() {
    assert!(
        std::net::TcpStream::connect("127.0.0.1:1883").is_ok(),
        "this test needs the MQTT broker at 127.0.0.1:1883 (apt install mosquitto)"
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    let data = d.join("data");
    let mut server = Server::start(
        &data,
        &[
            "--checkpoint-interval-ms",
            "50",
            "--device-broker",
            "127.0.0.1:1883",
        ],
    );
    let url = server.base().trim_end_matches("/log").to_string();
    let (acme_key, acme_pub) = keypair(d, "acme", "eddsa");
    stdout_of(&[
        "stakeholder",
        "register",
        "--server",
        &url,
        "--authority-key",
        p(&data.join("authority.key")),
        "--id",
        "acme.example",
        "--name",
        "Acme",
        "--role",
        "manufacturer",
        "--role",
        "operator",
        "--role",
        "owner",
        "--key",
        &acme_pub,
    ]);
    let run = format!("{}", std::process::id());
    let prefix = format!("supp-{run}-");
    let device = format!("{prefix}000000");
    // Registered, sold to Acme's operations, then it reports.
    let registered = stdout_of(&[
        "device",
        "simulate",
        "--count",
        "1",
        "--reports",
        "0",
        "--prefix",
        &prefix,
        "--register",
        "--server",
        &url,
        "--key",
        &acme_key,
        "--as",
        "acme.example",
    ]);
    assert!(registered.contains("published 0"), "{registered}");
    let (ok, out) = submit(
        &url,
        d,
        &acme_key,
        "acme.example",
        &format!("device:{device}"),
        r#"{"type":"ownership-transferred","owner":"acme.example","operator":"acme.example"}"#,
    );
    assert!(ok, "{out}");
    stdout_of(&[
        "device",
        "simulate",
        "--count",
        "1",
        "--prefix",
        &prefix,
        "--plant",
        "logging-disabled=0",
    ]);
    let (id, secret) = credential(&data, "acme.example");
    let auth = [
        "--client-id",
        id.as_str(),
        "--client-secret",
        secret.as_str(),
    ];
    let with = |args: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        v.extend(["--server".to_string(), url.clone()]);
        v.extend(auth.iter().map(|s| s.to_string()));
        v
    };
    let run_cli = |args: &[&str]| -> (bool, String) {
        let v = with(args);
        let refs: Vec<&str> = v.iter().map(String::as_str).collect();
        sectwin(&refs)
    };
    // The report arrives through the broker.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let (_, out) = run_cli(&["device", "audit", &device]);
        if out.contains("LOGGING_DISABLED_CHECK") {
            assert!(!out.contains("(suppressed)"), "{out}");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no finding: {out}\n{}",
            server.output()
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }

    let (ok, out) = run_cli(&[
        "device",
        "suppress",
        &device,
        "LOGGING_DISABLED_CHECK",
        "--reason",
        "logs go to the NVR",
        "--for",
        "7d",
    ]);
    assert!(ok, "{out}");
    assert!(
        out.contains("suppressed LOGGING_DISABLED_CHECK on")
            && out.contains("by acme.example (entry"),
        "{out}"
    );
    let (ok, out) = run_cli(&["device", "suppressions"]);
    assert!(ok, "{out}");
    assert!(
        out.lines()
            .any(|l| l.contains("LOGGING_DISABLED_CHECK") && l.contains("in force")),
        "{out}"
    );
    let (ok, out) = run_cli(&["device", "audit", &device]);
    assert!(ok && out.contains("(suppressed)"), "{out}");

    let (ok, out) = run_cli(&[
        "device",
        "suppress",
        &device,
        "LOGGING_DISABLED_CHECK",
        "--reason",
        "the NVR is gone",
        "--lift",
    ]);
    assert!(ok && out.contains("lifted LOGGING_DISABLED_CHECK"), "{out}");
    let (ok, out) = run_cli(&["device", "suppressions", "--all", "--json"]);
    assert!(ok, "{out}");
    let page: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    let list = page["suppressions"].as_array().expect("list");
    assert_eq!(list.len(), 1, "{page}");
    assert_eq!(
        (list[0]["in_force"].clone(), list[0]["reason"].clone()),
        (
            serde_json::json!(false),
            serde_json::json!("the NVR is gone")
        )
    );
    let (ok, out) = run_cli(&["device", "audit", &device]);
    assert!(ok && !out.contains("(suppressed)"), "{out}");

    let (ok, out) = run_cli(&[
        "device",
        "suppress",
        &device,
        "NO-SUCH-RULE",
        "--reason",
        "x",
        "--for",
        "1d",
    ]);
    assert!(
        !ok && out.contains("400") && out.contains("no posture rule"),
        "{out}"
    );
    server.stop();
}

//! The twin commands against a real `sectwin serve`: stakeholders registered
//! by the registry authority, a device with its own key, statements signed
//! and submitted with receipts verified offline, an endorsement, API
//! credentials, `twin show` (table and JSON) and `twin list`, key rotation
//! and revocation, the raw log API refusing twin statements, and `reindex`
//! plus a restart giving the same twin.

mod common;

use common::{credential, keypair, p, sectwin, stdout_of, submit, Server};

fn entry_of(out: &str) -> u64 {
    out.split("/entries/")
        .nth(1)
        .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no entry in {out}"))
}

#[test]
fn stakeholders_devices_and_twins_from_the_cli() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    let data = d.join("data");
    let mut server = Server::start(&data, &["--checkpoint-interval-ms", "50"]);
    let url = server.base().trim_end_matches("/log").to_string();
    let authority_key = data.join("authority.key");

    let (acme_key, acme_pub) = keypair(d, "acme", "eddsa");
    let (op_key, op_pub) = keypair(d, "op", "es256");
    let (door_key, door_pub) = keypair(d, "door", "eddsa");
    let (acme2_key, acme2_pub) = keypair(d, "acme2", "es256");

    let out = stdout_of(&[
        "stakeholder",
        "register",
        "--server",
        &url,
        "--authority-key",
        p(&authority_key),
        "--id",
        "acme.example",
        "--name",
        "Acme Locks",
        "--role",
        "manufacturer",
        "--key",
        &acme_pub,
    ]);
    assert!(
        out.contains("registered stakeholder acme.example as entry 1"),
        "{out}"
    );
    stdout_of(&[
        "stakeholder",
        "register",
        "--server",
        &url,
        "--authority-key",
        p(&authority_key),
        "--id",
        "op.example",
        "--name",
        "Building Ops",
        "--role",
        "operator",
        "--role",
        "owner",
        "--key",
        &op_pub,
    ]);
    // Only the authority registers stakeholders.
    let (ok, out) = sectwin(&[
        "stakeholder",
        "register",
        "--server",
        &url,
        "--authority-key",
        &acme_key,
        "--id",
        "evil.example",
        "--name",
        "Evil",
        "--role",
        "manufacturer",
        "--key",
        &acme2_pub,
    ]);
    assert!(!ok && out.contains("registration refused (400"), "{out}");
    let list = stdout_of(&["stakeholder", "list", "--server", &url]);
    assert!(
        list.contains("acme.example") && list.contains("operator,owner"),
        "{list}"
    );

    let out = stdout_of(&[
        "device",
        "register",
        "--server",
        &url,
        "--key",
        &acme_key,
        "--as",
        "acme.example",
        "--id",
        "door-1",
        "--model",
        "DC-200",
        "--serial",
        "0001",
        "--device-key",
        &door_pub,
    ]);
    assert!(out.contains("registered device:door-1"), "{out}");
    let (ok, out) = submit(
        &url,
        d,
        &acme_key,
        "acme.example",
        "device:door-1",
        r#"{"type":"ownership-transferred","owner":"op.example","operator":"op.example","site":"HQ"}"#,
    );
    assert!(ok, "{out}");
    let (ok, out) = submit(
        &url,
        d,
        &door_key,
        "device:door-1",
        "device:door-1",
        r#"{"type":"firmware-installed","version":"2.4.1","image_sha256":"9f2c"}"#,
    );
    assert!(ok, "{out}");
    let firmware = entry_of(&out);
    let (ok, out) = submit(
        &url,
        d,
        &op_key,
        "op.example",
        "device:door-1",
        &format!(r#"{{"type":"endorse","entry":{firmware}}}"#),
    );
    assert!(ok, "{out}");
    // An illegal transition is a clear 400, and nothing is appended.
    let (ok, out) = submit(
        &url,
        d,
        &op_key,
        "op.example",
        "device:door-1",
        r#"{"type":"lifecycle-changed","to":"deployed"}"#,
    );
    assert!(
        !ok && out.contains("cannot go from Manufactured to Deployed"),
        "{out}"
    );

    // The operator's view, with API credentials.
    let (id, secret) = credential(&data, "op.example");
    // The server reloads the credentials file within a second or so.
    let mut table = String::new();
    for _ in 0..50 {
        let (ok, out) = sectwin(&[
            "twin",
            "show",
            "--server",
            &url,
            "door-1",
            "--client-id",
            &id,
            "--client-secret",
            &secret,
            "--timeline",
        ]);
        if ok {
            table = out;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(
        table.contains("device:door-1 (acme.example DC-200), manufactured, operator op.example"),
        "{table}"
    );
    assert!(
        table.contains(&format!("firmware                     #{firmware:<3} firmware-installed       device:door-1          agreed")),
        "{table}"
    );
    assert!(
        table.contains("timeline:") && table.contains("receipt /entries/"),
        "{table}"
    );
    let json = stdout_of(&[
        "twin",
        "show",
        "--server",
        &url,
        "door-1",
        "--client-id",
        &id,
        "--client-secret",
        &secret,
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&json).expect("twin show --json");
    assert_eq!(v["twin"]["site"], "HQ");
    assert_eq!(v["attributes"].as_array().map(Vec::len), Some(3));
    let listed = stdout_of(&[
        "twin",
        "list",
        "--server",
        &url,
        "--filter",
        "site=HQ",
        "--client-id",
        &id,
        "--client-secret",
        &secret,
    ]);
    assert!(
        listed.contains("door-1") && listed.contains("1 devices"),
        "{listed}"
    );
    // Nobody else sees it by default.
    let (ok, out) = sectwin(&["twin", "show", "--server", &url, "door-1"]);
    assert!(!ok && out.contains("404"), "{out}");

    // Rotation: Acme adds a key, revokes the first; the first then fails.
    stdout_of(&[
        "stakeholder",
        "add-key",
        "--server",
        &url,
        "--signer-key",
        &acme_key,
        "--as",
        "acme.example",
        "--id",
        "acme.example",
        "--key",
        &acme2_pub,
    ]);
    let kid = sectwin(&["key", "show", &acme_key]).1;
    let kid = kid
        .lines()
        .find_map(|l| l.strip_prefix("kid: "))
        .expect("kid")
        .trim()
        .to_string();
    stdout_of(&[
        "stakeholder",
        "revoke-key",
        "--server",
        &url,
        "--signer-key",
        &acme2_key,
        "--as",
        "acme.example",
        "--id",
        "acme.example",
        "--kid",
        &kid,
        "--reason",
        "rotated",
    ]);
    let assessment =
        r#"{"type":"vulnerability-assessment","vulnerability":"CVE-2024-1","status":"fixed"}"#;
    let (ok, out) = submit(
        &url,
        d,
        &acme_key,
        "acme.example",
        "device:door-1",
        assessment,
    );
    assert!(!ok && out.contains("revoked"), "{out}");
    let (ok, out) = submit(
        &url,
        d,
        &acme2_key,
        "acme.example",
        "device:door-1",
        assessment,
    );
    assert!(ok, "{out}");

    // A confidential incident: the log holds its digest, the payload is kept
    // beside it and shown to the operator, who signed it.
    let incident = d.join("incident.json");
    std::fs::write(
        &incident,
        r#"{"type":"incident-reported","severity":"high","summary":"tamper alarm, case opened"}"#,
    )
    .expect("write");
    let envelope = d.join("incident.cose");
    stdout_of(&[
        "statement",
        "sign",
        "--key",
        &op_key,
        "--issuer",
        "op.example",
        "--subject",
        "device:door-1",
        "--payload",
        p(&incident),
        "--hash-envelope",
        "--out",
        p(&envelope),
    ]);
    assert!(
        !String::from_utf8_lossy(&std::fs::read(&envelope).expect("read")).contains("tamper alarm")
    );
    let out = stdout_of(&[
        "statement",
        "submit",
        &url,
        p(&envelope),
        "--receipt",
        p(&d.join("incident.receipt")),
        "--payload",
        p(&incident),
    ]);
    assert!(out.contains("registered as /entries/"), "{out}");
    let mut shown = String::new();
    for _ in 0..50 {
        shown = stdout_of(&[
            "twin",
            "show",
            "--server",
            &url,
            "door-1",
            "--client-id",
            &id,
            "--client-secret",
            &secret,
            "--json",
        ]);
        if shown.contains("tamper alarm, case opened") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(shown.contains("tamper alarm, case opened"), "{shown}");

    // The raw log API does not take twin statements.
    let raw = d.join("raw.cose");
    let payload = d.join("raw.json");
    std::fs::write(&payload, r#"{"type":"maintenance-performed","work":"x"}"#).expect("write");
    stdout_of(&[
        "statement",
        "sign",
        "--key",
        &op_key,
        "--issuer",
        "op.example",
        "--subject",
        "device:door-1",
        "--payload",
        p(&payload),
        "--out",
        p(&raw),
    ]);
    let body = std::fs::read(&raw).expect("read");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let (status, text) = rt.block_on(async {
        let r = reqwest::Client::new()
            .post(format!("{url}/log/add"))
            .body(body)
            .send()
            .await
            .expect("POST /log/add");
        (r.status().as_u16(), r.text().await.unwrap_or_default())
    });
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("through SCRAPI"), "{text}");

    // Stop, rebuild the twins from the log alone, restart: the same twin.
    let show_as_op = |url: &str| {
        let out = stdout_of(&[
            "twin",
            "show",
            "--server",
            url,
            "door-1",
            "--client-id",
            &id,
            "--client-secret",
            &secret,
            "--json",
            "--timeline",
        ]);
        let mut v: serde_json::Value = serde_json::from_str(&out).expect("json");
        v["as_of"] = serde_json::Value::Null;
        v
    };
    let before = show_as_op(&url);
    assert!(before["attributes"].to_string().contains("CVE-2024-1"));
    // Acme's read records (the operator read Acme's data) survive a reindex.
    let (acme_id, acme_secret) = credential(&data, "acme.example");
    let reads = |url: String| {
        let (id, secret) = (acme_id.clone(), acme_secret.clone());
        rt.block_on(async move {
            let http = reqwest::Client::new();
            for _ in 0..50 {
                let r = http
                    .post(format!("{url}/oauth/token"))
                    .basic_auth(&id, Some(&secret))
                    .form(&[("grant_type", "client_credentials")])
                    .send()
                    .await
                    .expect("token");
                if r.status().is_success() {
                    let t: serde_json::Value = r.json().await.expect("json");
                    let v: serde_json::Value = http
                        .get(format!("{url}/api/v1/reads?page_size=1000"))
                        .bearer_auth(t["access_token"].as_str().expect("token"))
                        .send()
                        .await
                        .expect("reads")
                        .json()
                        .await
                        .expect("json");
                    return v["reads"].as_array().map_or(0, Vec::len);
                }
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            panic!("no token for acme.example");
        })
    };
    let reads_before = reads(url.clone());
    assert!(
        reads_before > 0,
        "the operator's reads of Acme's data are recorded"
    );
    server.stop();
    let out = stdout_of(&["reindex", "--data", p(&data)]);
    assert!(out.contains(" 0 refused"), "{out}");
    let mut server = Server::start(&data, &["--checkpoint-interval-ms", "50"]);
    let url = server.base().trim_end_matches("/log").to_string();
    assert_eq!(show_as_op(&url), before);
    assert!(
        reads(url.clone()) >= reads_before,
        "read records survive a reindex"
    );
    server.stop();
}

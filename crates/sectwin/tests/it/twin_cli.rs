//! The twin commands against a real `sectwin serve`: stakeholders registered
//! by the registry authority, a device with its own key, statements signed
//! and submitted with receipts verified offline, an endorsement, API
//! credentials, `twin show` (table and JSON) and `twin list`, key rotation
//! and revocation, the raw log API refusing twin statements, and `reindex`
//! plus a restart giving the same twin.

use crate::common;

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

/// Issue 13, item 7: what an Archivist (DataTrails) client stores on a
/// private asset never enters the public log. Its statements are hash
/// envelopes over salted payloads kept beside the log, so a full mirror of
/// the log and `/entries/{id}/statement` show none of its attribute values,
/// while the owner reads them back through the API. A public asset's
/// creator's statements stay attached (the control that the scan sees
/// payloads at all). Kept payloads count against the stakeholder's quota:
/// past it, asset creation answers 507 and another stakeholder still writes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn archivist_private_attributes_stay_out_of_the_log() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    let data = d.join("data");
    let server = Server::start(
        &data,
        &[
            "--checkpoint-interval-ms",
            "50",
            "--stakeholder-payload-bytes-max",
            "6000",
        ],
    );
    let url = server.base().trim_end_matches("/log").to_string();
    let (_, acme_pub) = keypair(d, "acme", "eddsa");
    let (_, beta_pub) = keypair(d, "beta", "eddsa");
    let (_, aud_pub) = keypair(d, "aud", "eddsa");
    common::register_stakeholders(
        &url,
        &data.join("authority.key"),
        &[
            ("acme.example", "manufacturer", &acme_pub),
            ("beta.example", "manufacturer", &beta_pub),
            ("aud.example", "auditor", &aud_pub),
        ],
    );
    let acme = common::bearer_token(&url, &data, "acme.example").await;
    let http = reqwest::Client::new();
    let post = |path: String, token: String, body: serde_json::Value| {
        let http = http.clone();
        async move {
            let r = http
                .post(path)
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .expect("request");
            let code = r.status().as_u16();
            let v: serde_json::Value = r.json().await.unwrap_or(serde_json::Value::Null);
            (code, v)
        }
    };

    const SECRETS: [&str; 4] = [
        "SN-SECRET-4711",
        "tangerine-42",
        "private-note-9981",
        "opened-9981x",
    ];
    let (code, asset) = post(
        format!("{url}/archivist/v2/assets"),
        acme.clone(),
        serde_json::json!({"attributes": {
            "arc_display_name": "Door 7",
            "arc_serial_number": SECRETS[0],
            "secret_code": SECRETS[1],
        }}),
    )
    .await;
    assert_eq!(code, 200, "{asset}");
    let id = asset["identity"].as_str().expect("identity").to_string();
    let (code, event) = post(
        format!("{url}/archivist/v2/{id}/events"),
        acme.clone(),
        serde_json::json!({
            "operation": "Record",
            "behaviour": "RecordEvidence",
            "event_attributes": {"note": SECRETS[2]},
            "asset_attributes": {"state": SECRETS[3]},
        }),
    )
    .await;
    assert_eq!(code, 200, "{event}");
    // Issue 13 item 11: the auditor role no longer counts as a role on
    // every device. Without an owner's grant the auditor may not even read
    // Acme's asset, so its event is answered as for an asset that does not
    // exist (404: the refusal reveals nothing), and nothing is recorded.
    let auditor = common::bearer_token(&url, &data, "aud.example").await;
    let (code, refused) = post(
        format!("{url}/archivist/v2/{id}/events"),
        auditor,
        serde_json::json!({
            "operation": "Record",
            "behaviour": "RecordEvidence",
            "event_attributes": {"note": "auditor's own note"},
            "asset_attributes": {"state": "tampered"},
        }),
    )
    .await;
    assert_eq!(code, 404, "{refused}");
    let (code, public) = post(
        format!("{url}/archivist/v2/assets"),
        acme.clone(),
        serde_json::json!({"attributes": {"arc_display_name": "Lobby", "sign": "visible-lobby-77"}, "public": true}),
    )
    .await;
    assert_eq!(code, 200, "{public}");

    // The owner reads every value back (the payloads are kept and served).
    let got: serde_json::Value = http
        .get(format!("{url}/archivist/v2/{id}"))
        .bearer_auth(&acme)
        .send()
        .await
        .expect("read asset")
        .json()
        .await
        .expect("asset json");
    assert_eq!(got["attributes"]["secret_code"], SECRETS[1], "{got}");
    assert_eq!(got["attributes"]["state"], SECRETS[3], "{got}");

    // Everything anyone can fetch from the log: a full mirror (checkpoints,
    // tiles, entry bundles) and every entry's statement.
    let mirror = d.join("mirror");
    let vkey = std::fs::read_to_string(data.join("log.vkey")).expect("log.vkey");
    let (ok, out) = sectwin(&[
        "log",
        "mirror",
        &server.base(),
        "--dest",
        p(&mirror),
        "--vkey",
        vkey.trim(),
    ]);
    assert!(ok, "{out}");
    let mut public_bytes = Vec::new();
    for f in walk(&mirror) {
        public_bytes.extend(std::fs::read(f).expect("read mirror file"));
    }
    let size: u64 = std::fs::read_to_string(mirror.join("checkpoint"))
        .expect("mirrored checkpoint")
        .lines()
        .nth(1)
        .and_then(|l| l.parse().ok())
        .expect("checkpoint size");
    for i in 0..size {
        let r = http
            .get(format!("{url}/entries/{i}/statement"))
            .send()
            .await
            .expect("statement");
        assert_eq!(r.status().as_u16(), 200, "entry {i}");
        public_bytes.extend(r.bytes().await.expect("statement bytes"));
    }
    let contains = |needle: &str| {
        public_bytes
            .windows(needle.len())
            .any(|w| w == needle.as_bytes())
    };
    assert!(
        contains("visible-lobby-77"),
        "the public asset's attributes are in the log (the scan reads payloads)"
    );
    for secret in SECRETS {
        assert!(!contains(secret), "{secret} is readable in the public log");
    }

    // Kept payloads count against acme's quota of 6,000 bytes: creation
    // fails with 507 once it is spent; beta still creates assets.
    let mut refused = None;
    for i in 0..40 {
        let (code, v) = post(
            format!("{url}/archivist/v2/assets"),
            acme.clone(),
            serde_json::json!({"attributes": {"arc_display_name": format!("Door {i}"), "blob": "x".repeat(400)}}),
        )
        .await;
        if code != 200 {
            refused = Some((code, v));
            break;
        }
    }
    let (code, v) = refused.expect("acme's payload quota was never reached");
    assert_eq!(code, 507, "{v}");
    assert!(v["message"].as_str().unwrap_or("").contains("quota"), "{v}");
    let beta = common::bearer_token(&url, &data, "beta.example").await;
    let (code, v) = post(
        format!("{url}/archivist/v2/assets"),
        beta,
        serde_json::json!({"attributes": {"arc_display_name": "Gate"}}),
    )
    .await;
    assert_eq!(code, 200, "{v}");
}

/// Every file under `dir`.
fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read_dir") {
            let path = e.expect("dir entry").path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out
}

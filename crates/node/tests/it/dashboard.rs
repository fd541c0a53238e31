//! What the web dashboard needs of the production application: the page and
//! its modules at `/` (with their security headers, `ETag` and 304), the
//! other routes untouched beside them; `GET /api/v1/fleet` counting, for
//! every reader of the authorization matrix's building, exactly the devices
//! `/api/v1/devices/count` counts for it, hidden values as `(hidden)`;
//! `GET /api/v1/log` (the published checkpoint and the log's key); and
//! `POST /api/v1/risks/decisions`, signed on the caller's behalf, refused to
//! anonymous callers, bad fields and stakeholders the twin's rules refuse.

use serde_json::{json, Value};

use crate::twin_api::{scenario, start};

#[tokio::test]
async fn the_dashboard_is_served_at_the_root_beside_the_apis() {
    let node = start().await;
    let page = node.get_response("/", None).await;
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert_eq!(page.headers()["x-content-type-options"], "nosniff");
    let etag = page.headers()["etag"].to_str().unwrap().to_string();
    assert!(page.text().await.unwrap().contains("/ui/app.js"));
    let js = node.get_response("/ui/verify.js", None).await;
    assert_eq!(js.status(), 200);
    assert!(js.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/javascript"));
    let again = reqwest::Client::new()
        .get(format!("{}/ui/app.js", node.base))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304, "an unchanged build costs a 304");
    for missing in ["/ui/nope.js", "/ui/index.html", "/ui/..%2FCargo.toml"] {
        assert_eq!(
            node.get_response(missing, None).await.status(),
            404,
            "{missing}"
        );
    }
    // The APIs beside it are untouched.
    assert_eq!(
        node.get_response("/log/checkpoint", None).await.status(),
        200
    );
    assert_eq!(node.get("/api/v1/status", None).await.0, 200);
    assert_eq!(node.get("/api/v1/nope", None).await.0, 404);
}

#[tokio::test]
async fn the_fleet_counts_what_each_reader_may_see_as_it_sees_it() {
    let mut node = start().await;
    scenario(&mut node).await;
    for reader in [
        "acme.test",
        "vista.test",
        "op.test",
        "fix.test",
        "aud.test",
        "out.test",
        "anonymous",
    ] {
        let token = match reader {
            "anonymous" => None,
            r => Some(node.token(r).await),
        };
        let (status, fleet) = node.get("/api/v1/fleet", token.as_deref()).await;
        assert_eq!(status, 200, "{reader}: {fleet}");
        let (_, count) = node.get("/api/v1/devices/count", token.as_deref()).await;
        assert_eq!(
            fleet["devices"], count["count"],
            "{reader}: the fleet counts what the count counts"
        );
        for by in ["lifecycle", "model", "site", "firmware", "manufacturer"] {
            let sum: u64 = fleet[by]["values"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v["devices"].as_u64().unwrap())
                .sum::<u64>()
                + fleet[by]["other"].as_u64().unwrap();
            assert_eq!(
                Some(sum),
                fleet["devices"].as_u64(),
                "{reader}: every device counted once by {by}"
            );
        }
        let (_, list) = node.get("/api/v1/devices", token.as_deref()).await;
        let models: Vec<Value> = list["devices"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["model"].clone())
            .collect();
        for v in fleet["model"]["values"].as_array().unwrap() {
            let shown = match v["value"].as_str().unwrap() {
                "(hidden)" => Value::Null,
                m => json!(m),
            };
            assert!(
                models.contains(&shown),
                "{reader}: the model {v} is one the list shows"
            );
        }
    }
    // The operator sees its two devices; the site the maintainer may not
    // read (Acme's policy shares no ownership data with it) is hidden.
    let op = node.token("op.test").await;
    let (_, fleet) = node.get("/api/v1/fleet", Some(&op)).await;
    assert_eq!(fleet["devices"], 2);
    assert_eq!(
        fleet["site"]["values"],
        json!([{"value": "HQ", "devices": 2}])
    );
    let fix = node.token("fix.test").await;
    let (_, fleet) = node.get("/api/v1/fleet", Some(&fix)).await;
    assert_eq!(fleet["devices"], 1);
    assert_eq!(
        fleet["site"]["values"],
        json!([{"value": "(hidden)", "devices": 1}])
    );
    let out = node.token("out.test").await;
    let (_, fleet) = node.get("/api/v1/fleet", Some(&out)).await;
    assert!(
        !fleet["model"]["values"].to_string().contains("VC-9"),
        "the camera is not the outsider's to count: {fleet}"
    );
    assert_eq!(node.get("/api/v1/fleet?x=1", Some(&out)).await.0, 400);
}

#[tokio::test]
async fn the_log_status_is_the_published_checkpoint_and_the_log_key() {
    let mut node = start().await;
    scenario(&mut node).await;
    let (status, log) = node.get("/api/v1/log", None).await;
    assert_eq!(status, 200);
    let published = node.log.published();
    assert_eq!(log["size"], published.size.get());
    assert_eq!(
        log["checkpoint"],
        String::from_utf8(published.note.to_vec()).unwrap()
    );
    assert_eq!(log["vkey"], node.log.vkey());
    assert_eq!(log["origin"], "authority.test/log");
    // The test node asks no witness.
    assert_eq!(log["witnesses"], json!([]));
    assert_eq!(log["witness_quorum"], 0);
    assert_eq!(log["cosignatures"], json!([]));
    // Every registration above waited for a published checkpoint.
    let latency = &log["integration_latency"];
    let ms = |k: &str| {
        latency[k]
            .as_f64()
            .unwrap_or_else(|| panic!("{k}: {latency}"))
    };
    assert!(latency["samples"].as_u64().unwrap_or(0) >= 1, "{latency}");
    assert!(
        0.0 <= ms("p50_ms") && ms("p50_ms") <= ms("p99_ms"),
        "{latency}"
    );
    assert!(
        ms("p99_ms") <= ms("max_ms") && ms("last_ms") <= ms("max_ms"),
        "{latency}"
    );
}

#[tokio::test]
async fn decisions_are_signed_on_the_callers_behalf_when_the_twin_allows_it() {
    let mut node = start().await;
    scenario(&mut node).await;
    let post = |token: Option<String>, body: Value| {
        let url = format!("{}/api/v1/risks/decisions", node.base);
        async move {
            let mut req = reqwest::Client::new().post(url).json(&body);
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            let r = req.send().await.unwrap();
            (
                r.status().as_u16(),
                r.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    let accept = json!({"subject": "device:door-1", "risk": "vuln/CVE-2024-9", "decision": "accept",
        "rationale": "isolated VLAN", "until": "2030-01-31"});
    assert_eq!(post(None, accept.clone()).await.0, 401);
    let op = node.token("op.test").await;
    let (status, recorded) = post(Some(op.clone()), accept).await;
    assert_eq!(status, 201, "{recorded}");
    assert_eq!(recorded["type"], "risk-accepted");
    let entry = recorded["entry"].as_u64().unwrap();
    assert_eq!(recorded["receipt"], format!("/entries/{entry}"));
    let (_, st) = node
        .get(&format!("/api/v1/statements/{entry}"), Some(&op))
        .await;
    assert_eq!(st["issuer"], "op.test");
    assert_eq!(st["signed_by"], "authority.test");
    assert_eq!(st["statement"]["until"], "2030-01-31");
    // Bad fields, each refused with what is wrong.
    for (body, why) in [
        (
            json!({"subject": "device:door-1", "risk": "vuln/CVE-2024-9", "decision": "accept", "rationale": " "}),
            "rationale",
        ),
        (
            json!({"subject": "device:door-1", "risk": "vuln/CVE-2024-9", "decision": "accept", "rationale": "x", "until": "soon"}),
            "until",
        ),
        (
            json!({"subject": "device:door-1", "risk": "vuln/CVE-2024-9", "decision": "transfer", "rationale": "x"}),
            "to:",
        ),
        (
            json!({"subject": "device:door-1", "risk": "vuln/CVE-2024-9", "decision": "mitigate", "rationale": "x", "until": "2030-01-01"}),
            "until",
        ),
        (
            json!({"subject": "stakeholder:op.test", "risk": "r", "decision": "accept", "rationale": "x"}),
            "subject",
        ),
        (
            json!({"subject": "device:door-1", "risk": "r", "decision": "ignore", "rationale": "x"}),
            "decision",
        ),
    ] {
        let (status, problem) = post(Some(op.clone()), body.clone()).await;
        assert_eq!(status, 400, "{body}: {problem}");
        assert!(
            problem["detail"].as_str().unwrap_or_default().contains(why),
            "{body}: {problem}"
        );
    }
    // The outsider holds no role on the door: the twin's rules refuse it.
    let out = node.token("out.test").await;
    let (status, problem) = post(
        Some(out),
        json!({"subject": "device:door-1", "risk": "vuln/CVE-2024-9", "decision": "false_positive", "rationale": "not ours"}),
    )
    .await;
    assert!(status == 403 || status == 400, "{status}: {problem}");
}

/// A file's SHA-256 finds the statements that name it (a release, the
/// devices' reports of installing it), for each reader only where it may
/// see the statement with the digest shown; malformed digests are refused.
#[tokio::test]
async fn a_digest_finds_the_statements_that_name_it_as_each_reader_may_see_them() {
    let mut node = start().await;
    scenario(&mut node).await;
    let image = "5d41402abc4b2a76b9719d911017c592aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    let release = node
        .register(
            "acme.test",
            "model:acme/DC-200",
            &json!({"type":"firmware-released","version":"2.5.0","image_sha256":image}),
        )
        .await;
    // Written in upper case with a prefix: the same digest.
    let installed = node
        .register(
            "op.test",
            "device:door-1",
            &json!({"type":"firmware-installed","version":"2.5.0","image_sha256":format!("sha256:{}", image.to_uppercase())}),
        )
        .await;
    // The maintainer shares the firmware it installs with the public, the
    // version only: the digest stays hidden from anonymous readers.
    node.register(
        "fix.test",
        "stakeholder:fix.test",
        &json!({"type":"sharing-policy","policy":{"id":"fix-1","grants":[
        {"readers":[{"role":"operator"},{"role":"owner"}],"devices":"all","types":["*"]},
        {"readers":["public"],"devices":"all","types":["firmware-installed"],"fields":["version"]}]}}),
    )
    .await;
    let by_fix = node
        .register(
            "fix.test",
            "device:door-1",
            &json!({"type":"firmware-installed","version":"2.5.0","image_sha256":image}),
        )
        .await;
    let entries = |v: &Value| -> Vec<(u64, String, String)> {
        v["matches"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                (
                    m["statement"]["entry"].as_u64().unwrap(),
                    m["statement"]["type"].as_str().unwrap().to_string(),
                    m["field"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    let op = node.token("op.test").await;
    let (status, found) = node
        .get(&format!("/api/v1/digests/{image}"), Some(&op))
        .await;
    assert_eq!(status, 200, "{found}");
    assert_eq!(found["sha256"], image);
    assert_eq!(found["indexed_from"], 0);
    assert_eq!(found["next_after"], Value::Null);
    let image_field = "firmware image".to_string();
    assert_eq!(
        entries(&found),
        vec![
            (release, "firmware-released".into(), image_field.clone()),
            (installed, "firmware-installed".into(), image_field.clone()),
            (by_fix, "firmware-installed".into(), image_field.clone()),
        ],
        "{found}"
    );
    // Anonymous: the public release; the door's reports are not shared
    // (op's) or shared without the digest (the maintainer's).
    let (status, public) = node
        .get(
            &format!("/api/v1/digests/sha256:{}", image.to_uppercase()),
            None,
        )
        .await;
    assert_eq!(status, 200, "{public}");
    assert_eq!(
        entries(&public),
        vec![(release, "firmware-released".into(), image_field.clone())],
        "{public}"
    );
    let (_, shown) = node
        .get(&format!("/api/v1/statements/{by_fix}"), None)
        .await;
    assert_eq!(shown["statement"]["version"], "2.5.0", "{shown}");
    // A stranger to the door: the release only.
    let out = node.token("out.test").await;
    let (_, theirs) = node
        .get(&format!("/api/v1/digests/{image}"), Some(&out))
        .await;
    assert_eq!(entries(&theirs).len(), 1, "{theirs}");
    // A digest nothing names, and malformed ones.
    let (status, none) = node
        .get(&format!("/api/v1/digests/{}", "0".repeat(64)), Some(&op))
        .await;
    assert_eq!((status, none["matches"].clone()), (200, json!([])));
    for bad in [
        "aa",
        "zz5d41402abc4b2a76b9719d911017c592aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    ] {
        let (status, problem) = node.get(&format!("/api/v1/digests/{bad}"), None).await;
        assert_eq!(status, 400, "{bad}: {problem}");
        assert!(
            problem["detail"]
                .as_str()
                .unwrap_or_default()
                .contains("64 hex digits"),
            "{problem}"
        );
    }
    let (status, _) = node
        .get(&format!("/api/v1/digests/{image}?page=2"), None)
        .await;
    assert_eq!(status, 400);
}

/// A digest named by more statements than one lookup examines (a firmware
/// thousands of devices report): the page ends at the bound, says where to
/// go on, and the next page finds the rest; a reader who may see none of
/// them pages through to an empty end.
#[tokio::test]
async fn a_digest_lookup_examines_a_bounded_number_of_statements() {
    let mut node = start().await;
    scenario(&mut node).await;
    let image = "c".repeat(64);
    let total = http_api::DIGEST_ENTRIES_EXAMINED_MAX + 5;
    let statements: Vec<Vec<u8>> = (0..total)
        .map(|i| {
            node.sign(
                "op.test",
                "device:door-1",
                &json!({"type":"firmware-installed","version":format!("2.6.{i}"),"image_sha256":image}),
            )
        })
        .collect();
    let registered =
        futures::future::join_all(statements.into_iter().map(|s| node.scitt.register(s))).await;
    let last = registered
        .iter()
        .map(|r| r.as_ref().expect("registered").index.get())
        .max()
        .expect("entries");
    node.projected(last).await;
    let op = node.token("op.test").await;
    let page = |token: Option<String>, after: Option<u64>| {
        let path = format!(
            "/api/v1/digests/{image}{}",
            after.map(|a| format!("?after={a}")).unwrap_or_default()
        );
        let node = &node;
        async move { node.get(&path, token.as_deref()).await }
    };
    // The operator sees every one: the first page is full, the bound not
    // reached; paging on reaches all of them.
    let mut seen = 0;
    let mut after = None;
    for _ in 0..100 {
        let (status, p) = page(Some(op.clone()), after).await;
        assert_eq!(status, 200, "{p}");
        seen += p["matches"].as_array().expect("matches").len();
        match p["next_after"].as_u64() {
            Some(a) => after = Some(a),
            None => break,
        }
    }
    assert_eq!(seen, total);
    // Anonymous readers see none: the first page stops at the bound.
    let (_, first) = page(None, None).await;
    assert_eq!(first["matches"], json!([]), "{first}");
    let stop = first["next_after"].as_u64().expect("ends at the bound");
    let (_, rest) = page(None, Some(stop)).await;
    assert_eq!(
        (rest["matches"].clone(), rest["next_after"].clone()),
        (json!([]), Value::Null),
        "{rest}"
    );
}

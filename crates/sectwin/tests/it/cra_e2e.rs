//! The EU Cyber Resilience Act's reporting clock (issue 19), against a real
//! `sectwin serve` and a real webhook receiver, on CISA's real KEV
//! catalogue: Acme's door runs firmware whose zlib has a vulnerability the
//! catalogue lists. The operator's register puts it first with the KEV due
//! date; the node opens a report case on Acme, tells it, and drafts the
//! early warning with its 24-hour deadline. Acme states an awareness 25
//! hours old: the early warning is overdue and Acme is told. It signs the
//! stages in order (out of order is refused), releases a fix (the final
//! report's 14 days count from it), exports each stage for the reporting
//! platform with the log entry that proves it, and the fix as CSAF 2.0.
//! Support periods: a promise cut short is flagged, a past one flags the
//! devices. The operator may not read Acme's cases, but may report an
//! incident, which opens one.

use serde_json::{json, Value};

use crate::common::{credential, Server};
use crate::exploit_e2e::{kev_catalogue, post_as, told_where, ADVISORIES};
use crate::vuln_e2e::{
    administrator_token, door_on_release, get, post, statement_payload, token, webhook_receiver,
    Received, CYCLONEDX,
};

const LISTED: &str = "CVE-2025-48384";

/// Waits until the webhook received a notification of `kind` whose detail
/// names `case`.
async fn told_case(received: &Received, kind: &str, case: &str) -> Value {
    told_where(received, &format!("{kind} about case {case}"), |v| {
        v["kind"] == kind && v["detail"]["case"] == case
    })
    .await
}

fn stage<'a>(case: &'a Value, name: &str) -> &'a Value {
    case["stages"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["stage"] == name))
        .unwrap_or_else(|| panic!("no stage {name} in {case:#}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_known_exploited_vulnerability_opens_a_case_whose_clock_is_kept_and_proven() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path().to_path_buf();
    let data = d.join("data");
    std::fs::create_dir_all(&data).expect("data dir");
    let _server = Server::start(
        &data,
        &[
            "--checkpoint-interval-ms",
            "50",
            "--risk-interval-ms",
            "200",
            "--webhook-allow-private",
        ],
    );
    let url = _server.base().trim_end_matches("/log").to_string();
    let (acme_key, op_key) = door_on_release(&url, &d, &data, &[]);
    let (op_id, op_secret) = credential(&data, "op.example");
    let op = token(&url, &op_id, &op_secret).await;
    let (acme_id, acme_secret) = credential(&data, "acme.example");
    let acme = token(&url, &acme_id, &acme_secret).await;
    let admin = administrator_token(&url, &data).await;

    let (hook, received) = webhook_receiver().await;
    let (status, sub) = post(
        &url,
        "/api/v1/subscriptions",
        &acme,
        format!(
            r#"{{"id":"acme-cra","webhook":{{"url":"{hook}"}},"kinds":["report-case-opened","report-stage-due","report-stage-overdue"]}}"#
        )
        .into_bytes(),
    )
    .await;
    assert_eq!(status, 201, "{sub}");
    for a in ADVISORIES {
        let (status, imported) =
            post(&url, "/api/v1/advisories", &admin, a.as_bytes().to_vec()).await;
        assert_eq!(status, 200, "{imported}");
    }
    let (status, kev) = post_as(
        &url,
        "/api/v1/exploitation/kev",
        &admin,
        kev_catalogue(),
        "application/gzip",
    )
    .await;
    assert_eq!(status, 200, "{kev}");

    // The owner's register: the listed vulnerability first, with its KEV
    // due date.
    let mut first = Value::Null;
    for _ in 0..100 {
        let (status, page) = get(&url, "/api/v1/risks?device=door-1", &op).await;
        assert_eq!(status, 200, "{page}");
        first = page["risks"][0].clone();
        if first["vulnerability"] == "OSV-EXPLOIT-2" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(first["vulnerability"], "OSV-EXPLOIT-2", "{first:#}");
    assert_eq!(first["exploitation"]["kev_due"], "2025-09-15", "{first:#}");

    // The node opens a case on Acme (named by the CVE the list names) and
    // tells it; the early warning is due 24 hours after the opening.
    let opened = told_case(&received, "report-case-opened", LISTED).await;
    assert_eq!(opened["stakeholder"], "acme.example", "{opened:#}");
    let (status, case) = get(&url, &format!("/api/v1/cra/cases/{LISTED}"), &acme).await;
    assert_eq!(status, 200, "{case}");
    assert_eq!(case["source"], "known-exploited", "{case:#}");
    assert_eq!(case["products"], json!(["DC-200"]), "{case:#}");
    let opened_at = case["opened"]["at"].as_i64().expect("opened at");
    let early = stage(&case, "early-warning");
    assert_eq!(
        early["due_at"].as_i64(),
        Some(opened_at + 24 * 3600),
        "{case:#}"
    );
    assert_eq!(early["status"], "pending", "{case:#}");
    assert_eq!(
        stage(&case, "final-report")["status"],
        "waiting",
        "{case:#}"
    );
    // The opening is a statement in the log, by the registry authority.
    let payload = statement_payload(&url, case["opened"]["entry"].as_u64().expect("entry")).await;
    assert_eq!(payload["type"], "cra-case-opened", "{payload}");
    assert_eq!(payload["source"], "known-exploited", "{payload}");

    // Nobody else reads Acme's cases.
    let (status, refused) = get(&url, "/api/v1/cra/cases?manufacturer=acme.example", &op).await;
    assert_eq!(status, 403, "{refused}");

    // The draft of the early warning, from the twins.
    let (status, draft) = get(
        &url,
        &format!("/api/v1/cra/cases/{LISTED}/drafts/early-warning"),
        &acme,
    )
    .await;
    assert_eq!(status, 200, "{draft}");
    assert_eq!(
        draft["notification_type"],
        "actively-exploited-vulnerability"
    );
    assert_eq!(draft["vulnerability"]["cve"], LISTED, "{draft:#}");
    assert_eq!(draft["products"][0]["name"], "DC-200", "{draft:#}");
    assert_eq!(
        draft["products"][0]["versions_affected"],
        json!(["2.4.0"]),
        "{draft:#}"
    );
    assert_eq!(draft["products"][0]["devices_known"], 1, "{draft:#}");
    assert_eq!(
        draft["sites_without_member_state"],
        json!(["Building A"]),
        "{draft:#}"
    );

    // Acme learnt of it 25 hours ago: the early warning is overdue, and
    // Acme is told.
    let (status, refused) = post(
        &url,
        &format!("/api/v1/cra/cases/{LISTED}/reports/early-warning"),
        &acme,
        serde_json::to_vec(&json!({"report": draft})).expect("json"),
    )
    .await;
    assert_eq!(status, 400, "a stage before awareness: {refused}");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("time")
        .as_secs() as i64;
    let (status, case) = post(
        &url,
        &format!("/api/v1/cra/cases/{LISTED}/awareness"),
        &acme,
        format!(r#"{{"aware_at": {}}}"#, now - 25 * 3600).into_bytes(),
    )
    .await;
    assert_eq!(status, 200, "{case}");
    assert_eq!(
        stage(&case, "early-warning")["status"],
        "overdue",
        "{case:#}"
    );
    assert_eq!(
        stage(&case, "notification")["status"],
        "pending",
        "{case:#}"
    );
    assert_eq!(case["status"], "overdue", "{case:#}");
    let overdue = told_case(&received, "report-stage-overdue", LISTED).await;
    assert_eq!(overdue["detail"]["stage"], "early-warning", "{overdue:#}");
    let (status, twice) = post(
        &url,
        &format!("/api/v1/cra/cases/{LISTED}/awareness"),
        &acme,
        b"{}".to_vec(),
    )
    .await;
    assert_eq!(status, 409, "awareness is stated once: {twice}");

    // The stages, in order; out of order is refused.
    let sign = |stage: &'static str, report: Value| {
        let url = url.clone();
        let acme = acme.clone();
        async move {
            post(
                &url,
                &format!("/api/v1/cra/cases/{LISTED}/reports/{stage}"),
                &acme,
                serde_json::to_vec(&json!({ "report": report })).expect("json"),
            )
            .await
        }
    };
    let (status, refused) = sign("notification", json!({"x": 1})).await;
    assert_eq!(status, 400, "{refused}");
    assert!(
        refused["detail"]
            .as_str()
            .unwrap_or("")
            .contains("early-warning first"),
        "{refused}"
    );
    let (status, case) = sign("early-warning", draft.clone()).await;
    assert_eq!(status, 200, "{case}");
    let early = stage(&case, "early-warning");
    assert_eq!(early["status"], "submitted-late", "{case:#}");
    let (status, notification) = get(
        &url,
        &format!("/api/v1/cra/cases/{LISTED}/drafts/notification"),
        &acme,
    )
    .await;
    assert_eq!(status, 200, "{notification}");
    assert!(
        notification["exploit_nature"]
            .as_str()
            .unwrap_or("")
            .contains("cisa-kev"),
        "{notification:#}"
    );
    let (status, case) = sign("notification", notification).await;
    assert_eq!(status, 200, "{case}");
    assert_eq!(
        stage(&case, "notification")["status"],
        "submitted",
        "{case:#}"
    );

    // The export of the early warning names the entry that proves it.
    let (status, export) = get(
        &url,
        &format!("/api/v1/cra/cases/{LISTED}/reports/early-warning"),
        &acme,
    )
    .await;
    assert_eq!(status, 200, "{export}");
    assert_eq!(export["schema"], "sectwin-cra-report/1", "{export:#}");
    assert_eq!(export["stage"], "early-warning", "{export:#}");
    assert_eq!(export["cve"], LISTED, "{export:#}");
    assert_eq!(export["on_time"], false, "{export:#}");
    assert_eq!(export["manufacturer"]["id"], "acme.example", "{export:#}");
    let entry = export["evidence"]["log_entry"].as_u64().expect("entry");
    assert_eq!(entry, early["submitted"]["entry"].as_u64().expect("entry"));
    let signed = statement_payload(&url, entry).await;
    assert_eq!(signed["type"], "cra-report", "{signed}");
    assert_eq!(
        signed["report"], export["report"],
        "the export is what was signed"
    );
    let receipt = reqwest::get(format!("{url}/entries/{entry}"))
        .await
        .expect("receipt");
    assert_eq!(receipt.status().as_u16(), 200);

    // No fix yet: the final report waits. Acme releases 2.5.0 with zlib
    // fixed; the final report is then due 14 days after it.
    assert_eq!(
        stage(&case, "final-report")["status"],
        "waiting",
        "{case:#}"
    );
    crate::vuln_e2e::submit(
        &url,
        &d,
        &acme_key,
        "acme.example",
        "model:acme/DC-200",
        r#"{"type":"firmware-released","version":"2.5.0","image_sha256":"bb"}"#,
    );
    let bom = d.join("bom-2.5.0.json");
    std::fs::write(
        &bom,
        CYCLONEDX
            .replace("\"1.3.1\"", "\"1.3.2\"")
            .replace("\"2.4.0\"", "\"2.5.0\"")
            .replace(
                "3e671687-395b-41f5-a30f-a58921a69b79",
                "3e671687-395b-41f5-a30f-a58921a69b80",
            ),
    )
    .expect("write");
    crate::vuln_e2e::ok(&[
        "sbom",
        "register",
        "--server",
        &url,
        "--key",
        &acme_key,
        "--as",
        "acme.example",
        "--model",
        "model:acme/DC-200",
        "--release",
        "2.5.0",
        bom.to_str().expect("path"),
    ]);
    let mut case = Value::Null;
    for _ in 0..100 {
        let (status, c) = get(&url, &format!("/api/v1/cra/cases/{LISTED}"), &acme).await;
        assert_eq!(status, 200, "{c}");
        case = c;
        if case["fix_available_at"].is_i64() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let fix_at = case["fix_available_at"]
        .as_i64()
        .unwrap_or_else(|| panic!("no fix: {case:#}"));
    assert_eq!(case["fixed_in"], "DC-200 2.5.0", "{case:#}");
    let last = stage(&case, "final-report");
    assert_eq!(
        last["due_at"].as_i64(),
        Some(fix_at + 14 * 86_400),
        "{case:#}"
    );
    assert_eq!(last["status"], "pending", "{case:#}");
    let (status, final_draft) = get(
        &url,
        &format!("/api/v1/cra/cases/{LISTED}/drafts/final-report"),
        &acme,
    )
    .await;
    assert_eq!(status, 200, "{final_draft}");
    assert_eq!(
        final_draft["security_update"][0]["release"], "2.5.0",
        "{final_draft:#}"
    );
    let (status, case) = sign("final-report", final_draft).await;
    assert_eq!(status, 200, "{case}");
    assert_eq!(case["closed"], true, "{case:#}");

    // The fix as a CSAF 2.0 advisory, which sectwin's own CSAF reader takes.
    let (status, csaf) = get(&url, &format!("/api/v1/cra/cases/{LISTED}/csaf"), &acme).await;
    assert_eq!(status, 200, "{csaf}");
    assert_eq!(csaf["document"]["category"], "csaf_security_advisory");
    assert_eq!(csaf["document"]["csaf_version"], "2.0");
    assert_eq!(csaf["vulnerabilities"][0]["cve"], LISTED, "{csaf:#}");
    assert_eq!(
        csaf["vulnerabilities"][0]["remediations"][0]["category"], "vendor_fix",
        "{csaf:#}"
    );
    assert_eq!(
        csaf["vulnerabilities"][0]["threats"][0]["category"], "exploit_status",
        "{csaf:#}"
    );
    let parsed = vuln_formats::csaf::parse(&serde_json::to_vec(&csaf).expect("json"))
        .expect("a CSAF advisory sectwin reads back");
    assert_eq!(parsed.len(), 1);

    // Support periods: a promise cut short, then one already past.
    for (end, status_wanted) in [("2031-12-31", 201), ("2028-06-30", 201)] {
        let (status, view) = post(
            &url,
            "/api/v1/cra/support",
            &acme,
            format!(r#"{{"model":"model:acme/DC-200","end":"{end}"}}"#).into_bytes(),
        )
        .await;
        assert_eq!(status, status_wanted, "{view}");
    }
    let (status, list) = get(&url, "/api/v1/cra/support", &acme).await;
    assert_eq!(status, 200, "{list}");
    let dc200 = &list["models"][0];
    assert_eq!(dc200["end"], "2028-06-30", "{list:#}");
    assert_eq!(dc200["cut_short"]["was"], "2031-12-31", "{list:#}");
    assert_eq!(dc200["ended"], false, "{list:#}");
    let (status, refused) = post(
        &url,
        "/api/v1/cra/support",
        &op,
        br#"{"model":"model:acme/DC-200","end":"2040-01-01"}"#.to_vec(),
    )
    .await;
    assert!(status == 400 || status == 403, "{status} {refused}");
    let (status, view) = post(
        &url,
        "/api/v1/cra/support",
        &acme,
        br#"{"model":"model:acme/DC-200","end":"2026-01-31"}"#.to_vec(),
    )
    .await;
    assert_eq!(status, 201, "{view}");
    let (status, list) = get(&url, "/api/v1/cra/support", &op).await;
    assert_eq!(status, 200, "{list}");
    let dc200 = &list["models"][0];
    assert_eq!(dc200["ended"], true, "{list:#}");
    assert_eq!(dc200["devices_past_end"], 1, "{list:#}");
    assert_eq!(dc200["past_end_sample"], json!(["door-1"]), "{list:#}");

    // The operator reports a severe incident on Acme's product: a case
    // opens on Acme.
    let (status, incident) = post(
        &url,
        "/api/v1/cra/cases",
        &op,
        serde_json::to_vec(&json!({
            "manufacturer": "acme.example",
            "kind": "incident",
            "products": ["DC-200"],
            "evidence": "door-1 opened without a badge while its firmware was replaced",
        }))
        .expect("json"),
    )
    .await;
    assert_eq!(status, 201, "{incident}");
    assert_eq!(incident["source"], "incident", "{incident:#}");
    assert!(
        incident["case"]
            .as_str()
            .unwrap_or("")
            .ends_with(":op.example"),
        "a reporter's case is named after it: {incident:#}"
    );
    assert_eq!(incident["opened"]["by"], "op.example", "{incident:#}");
    let (status, mine) = get(&url, "/api/v1/cra/cases", &acme).await;
    assert_eq!(status, 200, "{mine}");
    assert_eq!(mine["cases"].as_array().map(Vec::len), Some(2), "{mine:#}");
    let (status, refused) = post(
        &url,
        "/api/v1/cra/cases",
        &op,
        br#"{"manufacturer":"op.example","kind":"incident","products":["x"]}"#.to_vec(),
    )
    .await;
    assert_eq!(status, 400, "not a manufacturer: {refused}");

    // SSVC inputs are signed by the stakeholders entitled to them: Acme
    // says the technical impact is total, the operator that the door's
    // mission is high; the operator disputes Acme's input, which is then
    // shown as disputed and not used.
    let (status, technical) = post(
        &url,
        "/api/v1/devices/door-1/ssvc",
        &acme,
        br#"{"vulnerability":"OSV-EXPLOIT-2","technical_impact":"total","automatable":"no","rationale":"zlib runs as root in the door firmware"}"#.to_vec(),
    )
    .await;
    assert_eq!(status, 201, "{technical}");
    assert_eq!(technical["status"], "agreed", "{technical:#}");
    // The register takes it: (active by the listing, not automatable,
    // total, mission medium) is Attend.
    let ssvc_in_register = |want: Option<&'static str>| {
        let (url, op) = (url.clone(), op.clone());
        async move {
            let mut last = Value::Null;
            for _ in 0..100 {
                let (status, page) = get(
                    &url,
                    "/api/v1/risks?vulnerability=OSV-EXPLOIT-2&kind=release",
                    &op,
                )
                .await;
                assert_eq!(status, 200, "{page}");
                last = page["risks"][0]["priority"]["ssvc"].clone();
                if last.as_str() == want {
                    return;
                }
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            panic!("the register's SSVC is {last}, not {want:?}");
        }
    };
    ssvc_in_register(Some("Attend")).await;
    let (status, refused) = post(
        &url,
        "/api/v1/devices/door-1/ssvc",
        &op,
        br#"{"vulnerability":"OSV-EXPLOIT-2","technical_impact":"partial","rationale":"we think not"}"#.to_vec(),
    )
    .await;
    assert_eq!(
        status, 403,
        "an operator does not say the technical impact: {refused}"
    );
    let (status, mission) = post(
        &url,
        "/api/v1/devices/door-1/ssvc",
        &op,
        br#"{"mission_wellbeing":"high","rationale":"the door guards the server room"}"#.to_vec(),
    )
    .await;
    assert_eq!(status, 201, "{mission}");
    let (status, view) = get(&url, "/api/v1/ssvc/OSV-EXPLOIT-2", &op).await;
    assert_eq!(status, 200, "{view}");
    let decision = &view["decisions"][0];
    assert_eq!(
        decision["inputs"]["exploitation"]["source"], "known-exploited",
        "{view:#}"
    );
    assert_eq!(
        decision["inputs"]["technical_impact"]["value"], "total",
        "{view:#}"
    );
    assert_eq!(
        decision["inputs"]["mission_wellbeing"]["value"], "high",
        "{view:#}"
    );
    // Active, not automatable, total, high: Act.
    assert_eq!(decision["decision"], "Act", "{view:#}");
    // The register's order takes the operator's mission too: the release
    // risk decides with the highest mission of its devices, the door's own
    // risk with the door's.
    ssvc_in_register(Some("Act")).await;
    let (status, page) = get(
        &url,
        "/api/v1/risks?vulnerability=OSV-EXPLOIT-2&device=door-1",
        &op,
    )
    .await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["risks"][0]["priority"]["ssvc"], "Act", "{page:#}");
    let entry = technical["entry"].as_u64().expect("entry");
    crate::vuln_e2e::submit(
        &url,
        &d,
        &op_key,
        "op.example",
        "device:door-1",
        &format!(
            r#"{{"type":"dispute","entry":{entry},"reason":"zlib runs unprivileged since 2.4.0"}}"#
        ),
    );
    let (status, view) = get(&url, "/api/v1/ssvc/OSV-EXPLOIT-2", &op).await;
    assert_eq!(status, 200, "{view}");
    let disputed = view["inputs"]
        .as_array()
        .and_then(|i| i.iter().find(|i| i["entry"] == entry))
        .unwrap_or_else(|| panic!("no input {entry}: {view:#}"));
    assert_eq!(disputed["status"], "disputed", "{view:#}");
    assert_eq!(disputed["disputed_by"], json!(["op.example"]), "{view:#}");
    let decision = &view["decisions"][0];
    assert!(
        decision["inputs"]["technical_impact"].is_null(),
        "a disputed input is not used (and the OSV advisory has no ADP values): {view:#}"
    );
    assert!(decision["decision"].is_null(), "{view:#}");
    // And the register no longer uses it.
    ssvc_in_register(None).await;
}

//! The demo's vulnerability data (the shared advisory, Acme's SBOMs, its
//! release plan and fix) and its step 12: an actively exploited
//! vulnerability and the EU Cyber Resilience Act's reporting clock, from
//! the listing to the final report, each stage signed with its receipt
//! checked.

use std::time::Duration;

use anyhow::{bail, Context, Result};
use api_types::cra::CaseView;
use twin::statement::{PlannedRelease, SbomComponent};
use twin::StatementBody;

/// The CVE the demo's known-exploited list names.
pub(crate) const DEMO_CVE: &str = "CVE-2099-0001";

/// The shared advisory of the demo (made up, with a made-up CVE alias that
/// the demo's known-exploited list names).
pub(crate) const DEMO_ADVISORY: &str = r#"{
  "schema_version": "1.6.0",
  "id": "SECTWIN-DEMO-2026-0001",
  "aliases": ["CVE-2099-0001"],
  "published": "2026-11-01T00:00:00Z",
  "modified": "2026-11-02T00:00:00Z",
  "summary": "busybox wget: heap buffer overflow on a long redirect (demo advisory)",
  "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:H/I:H/A:H"}],
  "affected": [{
    "package": {"ecosystem": "Debian", "name": "busybox", "purl": "pkg:deb/debian/busybox"},
    "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1:1.36.1-1"}]}]
  }]
}"#;

pub(crate) fn sbom_payload(release: &str, busybox: &str) -> StatementBody {
    let digest = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(
        format!("DC-200 {release} CycloneDX").as_bytes(),
    ));
    let component = |name: &str, version: &str, purl: Option<String>| SbomComponent {
        name: name.into(),
        group: None,
        version: Some(version.into()),
        purl,
        cpe: Vec::new(),
        sha256: None,
    };
    StatementBody::SbomRegistered {
        release: release.into(),
        format: "CycloneDX 1.6".into(),
        document_sha256: digest,
        part: 1,
        parts: 1,
        components: vec![
            component(
                "busybox",
                busybox,
                Some(format!("pkg:deb/debian/busybox@{busybox}")),
            ),
            component(
                "openssl",
                "3.0.15",
                Some("pkg:generic/openssl@3.0.15".into()),
            ),
            component("zlib", "1.3.1", Some("pkg:generic/zlib@1.3.1".into())),
            component("acme-door-app", release, None),
        ],
        ai_model: None,
    }
}

/// Acme's SBOM of the firmware the door runs, and its release plan.
pub(crate) fn vuln_statements() -> Vec<(&'static str, &'static str, StatementBody)> {
    let planned = |version: &str, date: &str| PlannedRelease {
        version: version.into(),
        date: date.into(),
    };
    vec![
        (
            "sbom-registered (DC-200 2.4.1, 4 comps)",
            "model:acme/DC-200",
            sbom_payload("2.4.1", "1:1.35.0-4"),
        ),
        (
            "release-plan (2.5.0, 3.0.0)",
            "model:acme/DC-200",
            StatementBody::ReleasePlan {
                current: "2.4.1".into(),
                releases: vec![
                    planned("2.5.0", "2027-01-15"),
                    planned("3.0.0", "2027-09-01"),
                ],
            },
        ),
    ]
}

/// Acme releases 2.5.0 with a fixed busybox.
pub(crate) fn fix_statements() -> Vec<(&'static str, &'static str, StatementBody)> {
    vec![
        (
            "firmware-released (DC-200 2.5.0)",
            "model:acme/DC-200",
            // A security fix: no device goes back below it.
            crate::demo_update::door_release("2.5.0", 5, "2.5.0", "2031-06-30"),
        ),
        (
            "sbom-registered (DC-200 2.5.0, 4 comps)",
            "model:acme/DC-200",
            sbom_payload("2.5.0", "1:1.36.1-1"),
        ),
    ]
}

/// Fetches the receipt of `entry` (once a checkpoint covers it) and checks
/// it against the statement the log holds there and the service key.
async fn receipt_verified(
    root: &str,
    node: &node::Node,
    entry: u64,
    service_key: &scitt::PublicKey,
) -> Result<()> {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let statement = node
        .scitt
        .statement(tlog::LeafIndex::new(entry))
        .map_err(|e| anyhow::anyhow!("the statement of #{entry}: {e}"))?;
    for _ in 0..100 {
        let r = client.get(format!("{root}/entries/{entry}")).send().await?;
        if r.status() == reqwest::StatusCode::OK {
            let receipt = r.bytes().await?;
            scitt::verify_receipt(&receipt, &statement, service_key)
                .map_err(|e| anyhow::anyhow!("receipt of #{entry} did not verify: {e}"))?;
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("no receipt for #{entry} within 10 s")
}

async fn call(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    token: &str,
    body: Option<serde_json::Value>,
) -> Result<serde_json::Value> {
    let mut req = http.request(method, &url).bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await?;
    let status = r.status();
    let v: serde_json::Value = r.json().await.unwrap_or_default();
    if !status.is_success() {
        bail!("{url}: {status}: {}", crate::twin_cmds::problem_detail(v));
    }
    Ok(v)
}

fn stage_line(case: &CaseView, stage: &str) -> String {
    let Some(s) = case.stages.iter().find(|s| s.stage == stage) else {
        return String::new();
    };
    format!(
        "{} due {} ({}): {}",
        s.stage,
        s.due.as_deref().unwrap_or("-"),
        s.basis,
        s.status
    )
}

/// Step 12: the administrator imports a known-exploited list naming the
/// door's busybox flaw; the node opens a report case on Acme; Acme states
/// its awareness and signs the early warning, the notification and (its
/// fix 2.5.0 being out) the final report, each drafted from the twins;
/// every statement's receipt is checked; the exports are written to `out`.
pub(crate) async fn cra_step(
    http: &reqwest::Client,
    root: &str,
    node: &node::Node,
    (admin, acme): (&str, &str),
    service_key: &scitt::PublicKey,
    out: &std::path::Path,
) -> Result<()> {
    println!("\n12. an actively exploited vulnerability and the EU Cyber Resilience Act's reporting clock (Art. 14)");
    let today = crate::now_unix_s();
    let day = |s: i64| risk::Date::from_unix_s(s).to_string();
    let list = serde_json::json!({
        "title": "Demo known-exploited list", "catalogVersion": day(today), "dateReleased": format!("{}T00:00:00Z", day(today)),
        "count": 1, "vulnerabilities": [{
            "cveID": DEMO_CVE, "vendorProject": "BusyBox", "product": "BusyBox",
            "vulnerabilityName": "BusyBox wget heap buffer overflow (demo)", "dateAdded": day(today),
            "shortDescription": "A long redirect overflows a heap buffer in wget.",
            "requiredAction": "Apply the vendor's update.", "dueDate": day(today + 21 * 86_400),
            "knownRansomwareCampaignUse": "Unknown", "notes": "", "cwes": ["CWE-122"],
        }],
    });
    let imported = call(
        http,
        reqwest::Method::POST,
        format!("{root}/api/v1/exploitation/kev?list=demo-exploited"),
        admin,
        Some(list),
    )
    .await?;
    println!(
        "   the administrator imports a known-exploited list (CISA KEV format, \"demo-exploited\") naming {DEMO_CVE}, an alias of the door's busybox advisory: entry #{}",
        imported["entry"]
    );
    let case_url = format!("{root}/api/v1/cra/cases/{DEMO_CVE}");
    let mut case = None;
    for _ in 0..150 {
        if let Ok(v) = call(http, reqwest::Method::GET, case_url.clone(), acme, None).await {
            case = Some(serde_json::from_value::<CaseView>(v)?);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let case = case.context("no report case opened on acme.example within 15 s")?;
    receipt_verified(root, node, case.opened.entry, service_key).await?;
    println!(
        "   #{:<3} {:<22} cra-case-opened {} on acme.example ({}: {})   receipt verified",
        case.opened.entry, case.opened.by, case.case, case.source, case.evidence
    );
    let sign = |path: String, body: serde_json::Value| {
        call(
            http,
            reqwest::Method::POST,
            format!("{case_url}/{path}"),
            acme,
            Some(body),
        )
    };
    let case: CaseView =
        serde_json::from_value(sign("awareness".into(), serde_json::json!({})).await?)?;
    let aware = case.awareness.as_ref().context("awareness")?;
    receipt_verified(root, node, aware.entry, service_key).await?;
    println!(
        "   #{:<3} acme.example           cra-awareness (the clock starts)          receipt verified",
        aware.entry
    );
    println!("        {}", stage_line(&case, "early-warning"));
    println!("        {}", stage_line(&case, "notification"));
    let mut last = case;
    for (stage, what) in [
        ("early-warning", "cra-report early warning"),
        ("notification", "cra-report notification"),
        ("final-report", "cra-report final report"),
    ] {
        let draft = call(
            http,
            reqwest::Method::GET,
            format!("{case_url}/drafts/{stage}"),
            acme,
            None,
        )
        .await?;
        if stage == "final-report" {
            println!(
                "        the fix: {} available since {} (its release statement), so {}",
                last.fixed_in.as_deref().unwrap_or("none"),
                last.fix_available_at
                    .map_or_else(|| "-".into(), risk_register::cra::rfc3339),
                stage_line(&last, "final-report")
            );
        }
        let case: CaseView = serde_json::from_value(
            sign(
                format!("reports/{stage}"),
                serde_json::json!({"report": draft}),
            )
            .await?,
        )?;
        let signed = case
            .stages
            .iter()
            .find(|s| s.stage == stage)
            .and_then(|s| s.submitted.clone())
            .context("the stage is not signed")?;
        receipt_verified(root, node, signed.entry, service_key).await?;
        println!(
            "   #{:<3} acme.example           {what:<41} receipt verified; {}",
            signed.entry,
            stage_line(&case, stage)
        );
        if stage == "early-warning" {
            println!(
                "        drafted from the twins: {} products {}; Member States {} (sites naming none: {})",
                draft["summary"].as_str().unwrap_or(""),
                draft["products"],
                draft["member_states"],
                draft["sites_without_member_state"]
            );
        }
        last = case;
    }
    if !last.closed {
        bail!("the report case is not closed after its final report");
    }
    std::fs::create_dir_all(out)?;
    for (name, path) in [
        ("final-report.json", "reports/final-report"),
        ("csaf.json", "csaf"),
    ] {
        let v = call(
            http,
            reqwest::Method::GET,
            format!("{case_url}/{path}"),
            acme,
            None,
        )
        .await?;
        let file = out.join(format!("{DEMO_CVE}-{name}"));
        std::fs::write(&file, serde_json::to_vec_pretty(&v)?)?;
        println!("   exported {}", file.display());
    }
    let support = call(
        http,
        reqwest::Method::POST,
        format!("{root}/api/v1/cra/support"),
        acme,
        Some(serde_json::json!({"model": "model:acme/DC-200", "end": "2031-06-30", "note": "security updates for five years from 2.5.0"})),
    )
    .await?;
    println!(
        "   acme.example promises security support for DC-200 until {} (entry #{}; CRA Art. 13): {} device(s), {} days left",
        support["end"].as_str().unwrap_or("?"),
        support["promised"]["entry"],
        support["devices"],
        support["days_left"]
    );
    Ok(())
}

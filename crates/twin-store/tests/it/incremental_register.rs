//! The risk service builds each register from the last one (changed devices
//! read again from the projector's change journal, changed advisories
//! evaluated one by one, the whole fleet only when releases, SBOMs or VEX
//! change). After every kind of change, its register must equal the one a
//! new service builds from scratch over the same twins and advisories, and
//! it must say which vulnerabilities' risks a step could have changed.

use std::sync::Arc;
use std::time::Duration;

use log_service::{Log, LogConfig};
use log_store::{EmbeddedStore, EmbeddedStoreOptions};
use scitt::{Algorithm, SigningKey, StatementBuilder};
use serde_json::{json, Value};
use twin_store::risks::{Delta, RiskService};
use twin_store::{Projector, Signatures, TwinStore};
use vuln_formats::model::Advisory;

const MODEL: &str = "model:maker.test/DC-1";

struct Fixture {
    _dir: tempfile::TempDir,
    log: Log,
    projector: Projector,
    keys: std::collections::BTreeMap<&'static str, SigningKey>,
}

impl Fixture {
    async fn add(&self, issuer: &'static str, subject: &str, payload: Value) {
        let bytes = StatementBuilder::new(issuer, subject, payload.to_string().as_bytes())
            .content_type("application/json")
            .issued_at(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs() as i64),
            )
            .sign(&self.keys[issuer]);
        let index = self.log.append(bytes).await.expect("append").index.get();
        assert!(
            self.projector
                .wait_projected(index + 1, Duration::from_secs(20))
                .await,
            "not projected: {subject} {payload}"
        );
        assert_eq!(
            self.projector.meta().refused,
            0,
            "refused: {subject} {payload}"
        );
    }
}

fn osv(id: &str, fixed: &str, modified: &str) -> Advisory {
    let text = json!({
        "schema_version": "1.6.0",
        "id": id,
        "published": "2026-11-01T00:00:00Z",
        "modified": modified,
        "summary": format!("{id} in busybox"),
        "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
        "affected": [{
            "package": {"ecosystem": "Debian", "name": "busybox", "purl": "pkg:deb/debian/busybox"},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": fixed}]}]
        }]
    })
    .to_string();
    vuln_formats::osv::parse(text.as_bytes())
        .expect("osv")
        .remove(0)
}

fn sbom(release: &str, busybox: &str) -> Value {
    json!({"type":"sbom-registered","release":release,"format":"CycloneDX 1.6",
        "document_sha256": format!("{:0>64}", release.replace('.', "")),
        "components":[{"name":"busybox","version":busybox,"purl":format!("pkg:deb/debian/busybox@{busybox}")}]})
}

/// The register of a new service over the same twins and advisories.
fn fresh(projector: &Projector, advisories: &[Advisory]) -> Arc<risk_register::Register> {
    let service = RiskService::new(projector.clone(), risk::DeadlinePolicy::default());
    service.import_shared(advisories).expect("import");
    service
        .register(twin_store::risks::today(&clock::SystemClock))
        .expect("fresh register")
}

/// A bulk import prepares its advisories before the store decides; the
/// index must hold what the store kept: of an id read several times in one
/// import, the latest `modified` (whatever the order), and never an older
/// version than the stored one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_index_holds_what_the_store_kept() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (_log, projector) = log_and_projector(dir.path());
    let store = advisory_store::AdvisoryStore::open(&dir.path().join("advisories")).expect("store");
    let service = RiskService::with_store(projector, risk::DeadlinePolicy::default(), store, None)
        .expect("service");
    let modified_of = |id: &str| {
        service.with_advisories(|i| {
            let id = vuln_formats::model::VulnId::new(id).expect("id");
            i.advisory(&id)
                .and_then(|a| a.modified().map(|m| m.as_str().to_string()))
        })
    };
    let summary = service
        .import_shared(&[
            osv("CVE-2026-1", "1.2", "2026-11-02T00:00:00Z"),
            osv("CVE-2026-1", "1.3", "2026-11-03T00:00:00Z"),
            osv("CVE-2026-1", "1.1", "2026-11-01T00:00:00Z"),
            osv("CVE-2026-2", "1.1", "2026-11-01T00:00:00Z"),
        ])
        .expect("import");
    assert_eq!(summary.changed_ids, ["CVE-2026-1", "CVE-2026-2"]);
    assert_eq!(
        modified_of("CVE-2026-1").as_deref(),
        Some("2026-11-03T00:00:00Z")
    );
    assert_eq!(
        modified_of("CVE-2026-2").as_deref(),
        Some("2026-11-01T00:00:00Z")
    );
    // An older version alone is refused by the store, and so by the index.
    let summary = service
        .import_shared(&[osv("CVE-2026-2", "1.0", "2026-10-01T00:00:00Z")])
        .expect("import");
    assert!(summary.changed_ids.is_empty(), "{summary:?}");
    assert_eq!(
        modified_of("CVE-2026-2").as_deref(),
        Some("2026-11-01T00:00:00Z")
    );
    // A newer one replaces it in both.
    let summary = service
        .import_shared(&[osv("CVE-2026-2", "1.4", "2026-11-05T00:00:00Z")])
        .expect("import");
    assert_eq!(summary.changed_ids, ["CVE-2026-2"]);
    assert_eq!(
        modified_of("CVE-2026-2").as_deref(),
        Some("2026-11-05T00:00:00Z")
    );
}

/// A log in `dir` and a projector of its twins.
fn log_and_projector(dir: &std::path::Path) -> (Log, Projector) {
    let store = EmbeddedStore::open(EmbeddedStoreOptions {
        dir: dir.join("log"),
    })
    .expect("store");
    let signer = tlog::Signer::generate("example.test/log", &mut rand_core::OsRng).expect("signer");
    let log = Log::open(
        Arc::new(store),
        signer,
        LogConfig {
            checkpoint_interval: Duration::from_millis(10),
            ..LogConfig::default()
        },
    )
    .expect("log");
    let projector = Projector::start(
        log.clone(),
        TwinStore::open(&dir.join("twins")).expect("twins"),
        None,
        twin::FoldRules::default(),
        Signatures::Verify,
    )
    .expect("projector");
    (log, projector)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_incremental_register_equals_a_fresh_build() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (log, projector) = log_and_projector(dir.path());
    let g = || SigningKey::generate(Algorithm::EdDSA, &mut rand_core::OsRng);
    let keys = [
        ("authority.test", g()),
        ("maker.test", g()),
        ("op.test", g()),
    ]
    .into_iter()
    .collect();
    let f = Fixture {
        _dir: dir,
        log,
        projector,
        keys,
    };
    for (id, roles) in [
        ("authority.test", json!([])),
        ("maker.test", json!(["manufacturer"])),
        ("op.test", json!(["operator", "owner"])),
    ] {
        let pem = f.keys[id].public_key().to_pem();
        f.add(
            "authority.test",
            &format!("stakeholder:{id}"),
            json!({"type":"stakeholder-registered","name":id,"roles":roles,"keys":[{"pem":pem}]}),
        )
        .await;
    }
    for (v, busybox) in [("1.0.0", "1.35.0"), ("1.1.0", "1.36.1")] {
        f.add(
            "maker.test",
            MODEL,
            json!({"type":"firmware-released","version":v,"image_sha256":"aa"}),
        )
        .await;
        f.add("maker.test", MODEL, sbom(v, busybox)).await;
    }
    for d in 0..12 {
        let subject = format!("device:d{d:02}");
        f.add(
            "maker.test",
            &subject,
            json!({"type":"device-registered","manufacturer":"Maker","model":"DC-1","serial":format!("{d}")}),
        )
        .await;
        f.add(
            "maker.test",
            &subject,
            json!({"type":"ownership-transferred","owner":"op.test","operator":"op.test","site":format!("s{}", d % 3)}),
        )
        .await;
        // Two thirds on the vulnerable release, one device reporting nothing.
        if d != 11 {
            let v = if d % 3 == 0 { "1.1.0" } else { "1.0.0" };
            f.add(
                "op.test",
                &subject,
                json!({"type":"firmware-installed","version":v,"image_sha256":"aa"}),
            )
            .await;
        }
    }

    let service = RiskService::new(f.projector.clone(), risk::DeadlinePolicy::default());
    let today = twin_store::risks::today(&clock::SystemClock);
    let mut advisories: Vec<Advisory> = Vec::new();
    let mut last = service.register(today).expect("register");
    assert_eq!(*last, *fresh(&f.projector, &advisories), "no advisories");
    assert!(last.risks.is_empty());

    // One advisory: only its risks are built.
    let a = osv("OSV-1", "1.36.1", "2026-11-02T00:00:00Z");
    advisories.push(a.clone());
    service.import_shared(&[a]).expect("import");
    let next = service.register(today).expect("register");
    assert_eq!(*next, *fresh(&f.projector, &advisories), "advisory added");
    assert_eq!(
        service.changes_between(&last, &next),
        Delta::Vulnerabilities(["OSV-1".to_string()].into_iter().collect())
    );
    let exposed = next
        .iter()
        .filter(|r| r.kind == risk_register::RiskKind::DeviceVulnerability)
        .count();
    assert_eq!(exposed, 7, "{:#?}", next.risks);
    last = next;

    // The advisory's record in the log is no change to the twins.
    let again = service.register(today).expect("register");
    assert!(Arc::ptr_eq(&last, &again), "nothing changed");

    // A device moves to the fixed release; another device joins.
    f.add(
        "op.test",
        "device:d01",
        json!({"type":"firmware-installed","version":"1.1.0","image_sha256":"aa"}),
    )
    .await;
    f.add(
        "maker.test",
        "device:d12",
        json!({"type":"device-registered","manufacturer":"Maker","model":"DC-1","serial":"12"}),
    )
    .await;
    f.add(
        "maker.test",
        "device:d12",
        json!({"type":"ownership-transferred","owner":"op.test","operator":"op.test","site":"s0"}),
    )
    .await;
    f.add(
        "op.test",
        "device:d12",
        json!({"type":"firmware-installed","version":"1.0.0","image_sha256":"aa"}),
    )
    .await;
    let next = service.register(today).expect("register");
    assert_eq!(*next, *fresh(&f.projector, &advisories), "devices changed");
    assert_eq!(service.changes_between(&last, &next), Delta::Everything);
    assert!(next.by_device("d01").next().is_none());
    assert!(next.by_device("d12").next().is_some());
    last = next;

    // The advisory narrowed, a second one added.
    let a2 = osv("OSV-1", "1.34.0", "2026-11-03T00:00:00Z");
    let b = osv("OSV-2", "1.37.0", "2026-11-03T00:00:00Z");
    advisories.retain(|x| x.id.as_str() != "OSV-1");
    advisories.push(a2.clone());
    advisories.push(b.clone());
    service.import_shared(&[a2, b]).expect("import");
    let next = service.register(today).expect("register");
    assert_eq!(
        *next,
        *fresh(&f.projector, &advisories),
        "advisories changed"
    );
    assert!(matches!(
        service.changes_between(&last, &next),
        Delta::Vulnerabilities(v) if v.len() == 2
    ));
    last = next;

    // Release-scoped VEX: the fleet is evaluated again.
    f.add(
        "maker.test",
        MODEL,
        json!({"type":"vulnerability-assessment","vulnerability":"OSV-2","status":"not_affected",
            "justification":"vulnerable_code_not_in_execute_path","release":"1.0.0","component":"busybox"}),
    )
    .await;
    let next = service.register(today).expect("register");
    assert_eq!(*next, *fresh(&f.projector, &advisories), "VEX");
    assert_eq!(service.changes_between(&last, &next), Delta::Everything);
    assert!(next.vex_state.values().any(|s| s == "not_affected"));

    // Across several steps, the deltas add up.
    let first = next;
    for (i, id) in ["OSV-3", "OSV-4"].iter().enumerate() {
        let x = osv(id, "1.36.0", &format!("2026-11-0{}T00:00:00Z", 4 + i));
        advisories.push(x.clone());
        service.import_shared(&[x]).expect("import");
        let _ = service.register(today).expect("register");
    }
    let now = service.register(today).expect("register");
    assert_eq!(*now, *fresh(&f.projector, &advisories), "two more");
    assert_eq!(
        service.changes_between(&first, &now),
        Delta::Vulnerabilities(
            ["OSV-3".to_string(), "OSV-4".to_string()]
                .into_iter()
                .collect()
        )
    );

    // Too many at once to evaluate one by one: every advisory evaluated
    // again, and the register shows them.
    let many: Vec<Advisory> = (100..200)
        .map(|i| osv(&format!("OSV-{i}"), "1.36.0", "2026-11-06T00:00:00Z"))
        .collect();
    advisories.extend(many.iter().cloned());
    service.import_shared(&many).expect("import");
    let next = service.register(today).expect("register");
    assert_eq!(*next, *fresh(&f.projector, &advisories), "a hundred more");
    assert!(next.risks_of_vulnerability("OSV-150").len() == 1);
    assert_eq!(service.changes_between(&now, &next), Delta::Everything);
    f.projector.stop();
}

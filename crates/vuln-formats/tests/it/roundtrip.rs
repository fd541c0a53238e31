//! Round trips of VEX statements through each exporter and its parser:
//! export → parse gives the same statements, compared per (vulnerability,
//! product) after the normalization each format needs (stated per test:
//! what the format cannot carry is cleared on both sides).

use vuln_formats::export::{to_csaf, to_cyclonedx, to_openvex, VexDocumentMeta};
use vuln_formats::{
    csaf, cyclonedx, openvex, Cpe, Justification, PackageId, Product, Purl, Timestamp,
    VexExportError, VexStatement, VexStatus, VulnId,
};

fn meta() -> VexDocumentMeta {
    VexDocumentMeta {
        id: "https://vex.acme.example/2024/0001".into(),
        author: "ACME Devices PSIRT".into(),
        author_namespace: "https://acme.example".into(),
        title: "ACME gateway firmware VEX".into(),
        timestamp: Timestamp::new("2024-05-01T12:00:00Z").expect("ts"),
        version: 1,
    }
}

fn product(purl: &str, cpe: Option<&str>, name: &str, version: &str) -> Product {
    let mut ids = vec![PackageId::Purl {
        purl: Purl::new(purl).expect("purl"),
    }];
    if let Some(c) = cpe {
        ids.push(PackageId::Cpe {
            cpe: Cpe::new(c).expect("cpe"),
        });
    }
    Product {
        ids,
        name: Some(name.into()),
        version: Some(version.into()),
        ..Product::default()
    }
}

fn statements() -> Vec<VexStatement> {
    let ts = Timestamp::new("2024-05-01T12:00:00Z").expect("ts");
    let gw = product(
        "pkg:generic/acme/gateway-fw@4.2.1",
        Some("cpe:2.3:o:acme:gateway_firmware:4.2.1:*:*:*:*:*:*:*"),
        "gateway-fw",
        "4.2.1",
    );
    let cam = product(
        "pkg:generic/acme/camera-fw@1.0.0",
        None,
        "camera-fw",
        "1.0.0",
    );
    let base = |id: &str, status, products: Vec<Product>| VexStatement {
        vulnerability: VulnId::new(id).expect("id"),
        aliases: Vec::new(),
        products,
        status,
        justification: None,
        impact_statement: None,
        action_statement: None,
        timestamp: Some(ts.clone()),
        author: Some("ACME Devices PSIRT".into()),
    };
    vec![
        VexStatement {
            aliases: vec![VulnId::new("GHSA-jfh8-c2jp-5v3q").expect("alias")],
            justification: Some(Justification::VulnerableCodeNotInExecutePath),
            impact_statement: Some("JNDI lookups are disabled at build time.".into()),
            ..base(
                "CVE-2021-44228",
                VexStatus::NotAffected,
                vec![gw.clone(), cam.clone()],
            )
        },
        VexStatement {
            action_statement: Some("Update the gateway firmware to 4.2.2.".into()),
            impact_statement: Some("Remote code execution over the management port.".into()),
            ..base("CVE-2023-0286", VexStatus::Affected, vec![gw.clone()])
        },
        VexStatement {
            action_statement: Some("Fixed in 1.0.0.".into()),
            ..base("CVE-2022-3602", VexStatus::Fixed, vec![cam.clone()])
        },
        base("CVE-2024-3094", VexStatus::UnderInvestigation, vec![gw]),
        VexStatement {
            justification: Some(Justification::ComponentNotPresent),
            ..base("CVE-2014-0160", VexStatus::NotAffected, vec![cam])
        },
    ]
}

/// One statement per (vulnerability, product), sorted, with `clear` applied
/// to every product.
fn units(list: &[VexStatement], clear: impl Fn(&mut Product)) -> Vec<String> {
    let mut out = Vec::new();
    for s in list {
        for p in &s.products {
            let mut p = p.clone();
            clear(&mut p);
            p.ids.sort();
            let mut one = s.clone();
            one.products = vec![p];
            out.push(serde_json::to_string(&one).expect("serialize"));
        }
    }
    out.sort();
    out
}

#[test]
fn openvex_round_trip() {
    let original = statements();
    let text = to_openvex(&original, &meta()).expect("export");
    assert!(openvex::detect(text.as_bytes()));
    let parsed = openvex::parse(text.as_bytes()).expect("parse");
    // OpenVEX has no product name or version field.
    let clear = |p: &mut Product| {
        p.name = None;
        p.version = None;
    };
    assert_eq!(units(&parsed, clear), units(&original, clear));
}

#[test]
fn cyclonedx_round_trip() {
    let original = statements();
    let text = to_cyclonedx(&original, &meta()).expect("export");
    assert!(cyclonedx::detect(text.as_bytes()));
    // The VEX BOM is also a valid SBOM of the products.
    let sbom = cyclonedx::parse(text.as_bytes()).expect("sbom");
    assert_eq!(sbom.components.len(), 2);
    let parsed = cyclonedx::parse_vex(text.as_bytes()).expect("parse");
    assert_eq!(parsed.len(), original.len());
    // Products come back with the bom-ref the exporter assigned.
    let clear = |p: &mut Product| p.product_ref = None;
    assert_eq!(units(&parsed, clear), units(&original, clear));
}

#[test]
fn csaf_round_trip() {
    let original = statements();
    let text = to_csaf(&original, &meta()).expect("export");
    assert!(csaf::detect(text.as_bytes()));
    let parsed = csaf::parse_vex(text.as_bytes()).expect("parse");
    // Products come back with the product_id the exporter assigned.
    let clear = |p: &mut Product| p.product_ref = None;
    assert_eq!(units(&parsed, clear), units(&original, clear));
    // And the same document reads as advisories.
    let advisories = csaf::parse(text.as_bytes()).expect("advisories");
    assert_eq!(advisories.len(), 5);
}

#[test]
fn csaf_vex_profile_fields_are_present() {
    let text = to_csaf(&statements(), &meta()).expect("export");
    let doc: serde_json::Value = serde_json::from_str(&text).expect("json");
    for pointer in [
        "/document/category",
        "/document/csaf_version",
        "/document/publisher/category",
        "/document/publisher/name",
        "/document/publisher/namespace",
        "/document/title",
        "/document/tracking/id",
        "/document/tracking/current_release_date",
        "/document/tracking/initial_release_date",
        "/document/tracking/revision_history/0/number",
        "/document/tracking/status",
        "/document/tracking/version",
        "/product_tree",
        "/vulnerabilities/0/cve",
        "/vulnerabilities/0/notes/0/category",
        "/vulnerabilities/0/product_status/known_not_affected",
        "/vulnerabilities/0/flags/0/label",
        "/vulnerabilities/1/remediations/0/category",
    ] {
        assert!(doc.pointer(pointer).is_some(), "missing {pointer}");
    }
    assert_eq!(
        doc.pointer("/document/category"),
        Some(&serde_json::json!("csaf_vex"))
    );
}

#[test]
fn exporters_refuse_statements_their_format_cannot_express() {
    let mut list = statements();
    if let Some(s) = list.get_mut(1) {
        s.action_statement = None;
    }
    assert_eq!(
        to_openvex(&list, &meta()),
        Err(VexExportError::MissingAction { index: 1 })
    );
    assert_eq!(
        to_csaf(&list, &meta()),
        Err(VexExportError::MissingAction { index: 1 })
    );
    // CycloneDX has no such requirement.
    assert!(to_cyclonedx(&list, &meta()).is_ok());
    let mut list = statements();
    if let Some(s) = list.get_mut(0) {
        s.justification = None;
        s.impact_statement = None;
    }
    assert_eq!(
        to_openvex(&list, &meta()),
        Err(VexExportError::MissingImpact { index: 0 })
    );
    let mut list = statements();
    if let Some(s) = list.get_mut(2) {
        s.products.clear();
    }
    assert_eq!(
        to_cyclonedx(&list, &meta()),
        Err(VexExportError::NoProduct { index: 2 })
    );
}

#[test]
fn export_is_deterministic() {
    let a = to_csaf(&statements(), &meta()).expect("export");
    let b = to_csaf(&statements(), &meta()).expect("export");
    assert_eq!(a, b);
}

//! VEX statements → CycloneDX 1.6 VEX JSON ([`to_cyclonedx`]), OpenVEX
//! v0.2.0 JSON ([`to_openvex`]) and CSAF 2.0 VEX JSON ([`to_csaf`]), with the
//! fields their schemas (and the CSAF VEX profile, §4.5) require.
//!
//! What each format carries, so what survives a round trip:
//! - CycloneDX: products become components (`bom-ref` = the product's
//!   `product_ref`, or `product-N`; name, version, one purl, one CPE);
//!   justification via the CISA mapping of [`crate::cyclonedx`]; impact →
//!   `analysis.detail`, action → `recommendation`, timestamp →
//!   `analysis.lastUpdated`; an author other than the document's goes into
//!   the property [`crate::cyclonedx::AUTHOR_PROPERTY`].
//! - OpenVEX: one author per document; a product's `@id` is its purl, else
//!   CPE, else `product_ref`, with `identifiers`; names and versions have no
//!   field and are not written.
//! - CSAF: products get `product_id` = `product_ref` or `CSAFPID-NNNN`; a
//!   product with a version is written under `product_name` /
//!   `product_version` branches; justification → `flags`, impact →
//!   `threats` (`impact`), action → `remediations` (category `mitigation`,
//!   `vendor_fix` for fixed products); one publisher per document.
//!
//! Output is deterministic (same statements, same bytes): no clock, no
//! randomness; the caller passes the document's id and time in
//! [`VexDocumentMeta`]. Statements an output format cannot express
//! (`not_affected` without justification or impact, `affected` without
//! action) are refused with [`VexExportError`] rather than written invalid.
//! Documents are not signed here (signing is the `scitt` crate's job).

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use crate::cyclonedx::{justification_to_cyclonedx, AUTHOR_PROPERTY};
use crate::error::VexExportError;
use crate::model::{PackageId, Product, Timestamp, VexStatement, VexStatus};

/// The document-level facts every exporter needs, passed in (no clock).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VexDocumentMeta {
    /// The document's id: OpenVEX `@id` (an IRI), CSAF `tracking.id`,
    /// CycloneDX `serialNumber` when it is a `urn:uuid:`.
    pub id: String,
    /// The author / publisher name.
    pub author: String,
    /// The publisher's namespace URL (CSAF `publisher.namespace`).
    pub author_namespace: String,
    /// The document's title (CSAF).
    pub title: String,
    /// When the document was issued.
    pub timestamp: Timestamp,
    /// The document's version (1 for the first).
    pub version: u32,
}

/// Checks what every format requires of a statement.
fn check(statements: &[VexStatement], require_statements: bool) -> Result<(), VexExportError> {
    for (index, s) in statements.iter().enumerate() {
        if s.products.is_empty() {
            return Err(VexExportError::NoProduct { index });
        }
        if require_statements {
            if s.status == VexStatus::NotAffected
                && s.justification.is_none()
                && s.impact_statement.is_none()
            {
                return Err(VexExportError::MissingImpact { index });
            }
            if s.status == VexStatus::Affected && s.action_statement.is_none() {
                return Err(VexExportError::MissingAction { index });
            }
        }
        for (product, p) in s.products.iter().enumerate() {
            if display_name(p).is_none() {
                return Err(VexExportError::UnnamedProduct { index, product });
            }
        }
    }
    Ok(())
}

/// A name for a product that has none: its purl's name, its CPE's product,
/// or its reference.
fn display_name(p: &Product) -> Option<String> {
    if let Some(n) = &p.name {
        return Some(n.clone());
    }
    for id in &p.ids {
        match id {
            PackageId::Purl { purl } => {
                let path = purl.as_str().split(['?', '#']).next().unwrap_or("");
                let last = path.rsplit('/').next().unwrap_or("");
                let name = last.split('@').next().unwrap_or("");
                if !name.is_empty() {
                    return Some(name.to_string());
                }
            }
            PackageId::Cpe { cpe } => {
                if let Some(product) = cpe
                    .as_str()
                    .strip_prefix("cpe:2.3:")
                    .and_then(|r| r.split(':').nth(2))
                {
                    return Some(product.to_string());
                }
            }
            PackageId::Ecosystem { name, .. } | PackageId::Name { name } => {
                return Some(name.clone())
            }
            PackageId::VendorProduct { product, .. } => return Some(product.clone()),
        }
    }
    p.product_ref.clone()
}

fn first_purl(p: &Product) -> Option<&str> {
    p.ids.iter().find_map(|id| match id {
        PackageId::Purl { purl } => Some(purl.as_str()),
        _ => None,
    })
}

fn first_cpe(p: &Product) -> Option<&str> {
    p.ids.iter().find_map(|id| match id {
        PackageId::Cpe { cpe } => Some(cpe.as_str()),
        _ => None,
    })
}

/// Assigns each distinct product a document-local reference: its own
/// `product_ref` when free, else `prefix` + a counter.
fn assign_refs<'a>(
    statements: &'a [VexStatement],
    prefix: &str,
    width: usize,
) -> Vec<(&'a Product, String)> {
    let mut out: Vec<(&Product, String)> = Vec::new();
    let mut n = 0usize;
    for s in statements {
        for p in &s.products {
            if out.iter().any(|(q, _)| *q == p) {
                continue;
            }
            let own = p
                .product_ref
                .as_ref()
                .filter(|r| !out.iter().any(|(_, used)| used == *r));
            let r = match own {
                Some(r) => r.clone(),
                None => loop {
                    n += 1;
                    let candidate = format!("{prefix}{n:0width$}");
                    if !out.iter().any(|(_, used)| *used == candidate)
                        && !statements
                            .iter()
                            .flat_map(|s| &s.products)
                            .any(|q| q.product_ref.as_deref() == Some(candidate.as_str()))
                    {
                        break candidate;
                    }
                },
            };
            out.push((p, r));
        }
    }
    out
}

fn ref_of<'a>(refs: &'a [(&Product, String)], p: &Product) -> &'a str {
    refs.iter()
        .find(|(q, _)| *q == p)
        .map_or("", |(_, r)| r.as_str())
}

fn alias_source(id: &str) -> String {
    if id.starts_with("CVE-") {
        "NVD".into()
    } else if id.starts_with("GHSA-") {
        "GitHub".into()
    } else {
        id.split('-').next().unwrap_or(id).to_string()
    }
}

fn to_string(v: &Value) -> String {
    // Serializing a `Value` cannot fail (string keys, finite numbers only).
    serde_json::to_string_pretty(v).unwrap_or_default()
}

/// Writes CycloneDX 1.6 VEX JSON (see the module docs for the mapping).
pub fn to_cyclonedx(
    statements: &[VexStatement],
    meta: &VexDocumentMeta,
) -> Result<String, VexExportError> {
    check(statements, false)?;
    let refs = assign_refs(statements, "product-", 1);
    let components: Vec<Value> = refs
        .iter()
        .map(|(p, r)| {
            let mut c = Map::new();
            c.insert("type".into(), json!("application"));
            c.insert("bom-ref".into(), json!(r));
            c.insert("name".into(), json!(display_name(p).unwrap_or_default()));
            if let Some(v) = &p.version {
                c.insert("version".into(), json!(v));
            }
            if let Some(purl) = first_purl(p) {
                c.insert("purl".into(), json!(purl));
            }
            if let Some(cpe) = first_cpe(p) {
                c.insert("cpe".into(), json!(cpe));
            }
            Value::Object(c)
        })
        .collect();
    let vulnerabilities: Vec<Value> = statements
        .iter()
        .map(|s| {
            let mut v = Map::new();
            v.insert("id".into(), json!(s.vulnerability.as_str()));
            if s.vulnerability.is_cve() {
                v.insert(
                    "source".into(),
                    json!({"name": "NVD", "url": format!("https://nvd.nist.gov/vuln/detail/{}", s.vulnerability.as_str())}),
                );
            }
            if !s.aliases.is_empty() {
                let r: Vec<Value> = s
                    .aliases
                    .iter()
                    .map(|a| json!({"id": a.as_str(), "source": {"name": alias_source(a.as_str())}}))
                    .collect();
                v.insert("references".into(), Value::Array(r));
            }
            if let Some(a) = &s.action_statement {
                v.insert("recommendation".into(), json!(a));
            }
            let mut analysis = Map::new();
            let state = match s.status {
                VexStatus::Affected => "exploitable",
                VexStatus::NotAffected => "not_affected",
                VexStatus::Fixed => "resolved",
                VexStatus::UnderInvestigation => "in_triage",
            };
            analysis.insert("state".into(), json!(state));
            if let Some(j) = s.justification {
                analysis.insert("justification".into(), json!(justification_to_cyclonedx(j)));
            }
            if let Some(d) = &s.impact_statement {
                analysis.insert("detail".into(), json!(d));
            }
            if let Some(t) = &s.timestamp {
                analysis.insert("lastUpdated".into(), json!(t.as_str()));
            }
            v.insert("analysis".into(), Value::Object(analysis));
            let affects: Vec<Value> = s
                .products
                .iter()
                .map(|p| json!({"ref": ref_of(&refs, p)}))
                .collect();
            v.insert("affects".into(), Value::Array(affects));
            if let Some(author) = s.author.as_deref().filter(|a| *a != meta.author) {
                v.insert(
                    "properties".into(),
                    json!([{"name": AUTHOR_PROPERTY, "value": author}]),
                );
            }
            Value::Object(v)
        })
        .collect();
    let mut doc = Map::new();
    doc.insert("bomFormat".into(), json!("CycloneDX"));
    doc.insert("specVersion".into(), json!("1.6"));
    if meta.id.starts_with("urn:uuid:") {
        doc.insert("serialNumber".into(), json!(meta.id));
    }
    doc.insert("version".into(), json!(meta.version.max(1)));
    doc.insert(
        "metadata".into(),
        json!({"timestamp": meta.timestamp.as_str(), "authors": [{"name": meta.author}]}),
    );
    doc.insert("components".into(), Value::Array(components));
    doc.insert("vulnerabilities".into(), Value::Array(vulnerabilities));
    Ok(to_string(&Value::Object(doc)))
}

/// Writes OpenVEX v0.2.0 JSON (see the module docs for the mapping).
pub fn to_openvex(
    statements: &[VexStatement],
    meta: &VexDocumentMeta,
) -> Result<String, VexExportError> {
    check(statements, true)?;
    let product_json =
        |p: &Product, index: usize, product: usize| -> Result<Value, VexExportError> {
            let id = first_purl(p)
                .or_else(|| first_cpe(p))
                .or(p.product_ref.as_deref())
                .ok_or(VexExportError::UnnamedProduct { index, product })?;
            let mut o = Map::new();
            o.insert("@id".into(), json!(id));
            let mut identifiers = Map::new();
            if let Some(purl) = first_purl(p) {
                identifiers.insert("purl".into(), json!(purl));
            }
            if let Some(cpe) = first_cpe(p) {
                let key = if cpe.starts_with("cpe:2.3:") {
                    "cpe23"
                } else {
                    "cpe22"
                };
                identifiers.insert(key.into(), json!(cpe));
            }
            if !identifiers.is_empty() {
                o.insert("identifiers".into(), Value::Object(identifiers));
            }
            let subs: Vec<Value> = p
                .subcomponents
                .iter()
                .filter_map(|s| match s {
                    PackageId::Purl { purl } => Some(json!({"@id": purl.as_str()})),
                    PackageId::Cpe { cpe } => Some(json!({"@id": cpe.as_str()})),
                    _ => None,
                })
                .collect();
            if !subs.is_empty() {
                o.insert("subcomponents".into(), Value::Array(subs));
            }
            Ok(Value::Object(o))
        };
    let mut out = Vec::with_capacity(statements.len());
    for (index, s) in statements.iter().enumerate() {
        let mut v = Map::new();
        v.insert("name".into(), json!(s.vulnerability.as_str()));
        if !s.aliases.is_empty() {
            v.insert(
                "aliases".into(),
                Value::Array(s.aliases.iter().map(|a| json!(a.as_str())).collect()),
            );
        }
        let mut st = Map::new();
        st.insert("vulnerability".into(), Value::Object(v));
        if let Some(t) = &s.timestamp {
            st.insert("timestamp".into(), json!(t.as_str()));
        }
        let products = s
            .products
            .iter()
            .enumerate()
            .map(|(k, p)| product_json(p, index, k))
            .collect::<Result<Vec<_>, _>>()?;
        st.insert("products".into(), Value::Array(products));
        st.insert("status".into(), json!(s.status.as_str()));
        if let Some(j) = s.justification {
            st.insert("justification".into(), json!(j.as_str()));
        }
        if let Some(i) = &s.impact_statement {
            st.insert("impact_statement".into(), json!(i));
        }
        if let Some(a) = &s.action_statement {
            st.insert("action_statement".into(), json!(a));
        }
        out.push(Value::Object(st));
    }
    let doc = json!({
        "@context": "https://openvex.dev/ns/v0.2.0",
        "@id": meta.id,
        "author": meta.author,
        "timestamp": meta.timestamp.as_str(),
        "version": meta.version.max(1),
        "statements": out,
    });
    Ok(to_string(&doc))
}

/// Writes CSAF 2.0 VEX JSON (`csaf_vex` profile; see the module docs for the
/// mapping).
pub fn to_csaf(
    statements: &[VexStatement],
    meta: &VexDocumentMeta,
) -> Result<String, VexExportError> {
    check(statements, true)?;
    let refs = assign_refs(statements, "CSAFPID-", 4);

    // Product tree: plain full product names, or name/version branches.
    let mut full_product_names = Vec::new();
    let mut by_name: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for (p, r) in &refs {
        let name = display_name(p).unwrap_or_default();
        let mut fpn = Map::new();
        fpn.insert("name".into(), json!(name));
        fpn.insert("product_id".into(), json!(r));
        let mut helper = Map::new();
        if let Some(purl) = first_purl(p) {
            helper.insert("purl".into(), json!(purl));
        }
        if let Some(cpe) = first_cpe(p) {
            helper.insert("cpe".into(), json!(cpe));
        }
        if !helper.is_empty() {
            fpn.insert(
                "product_identification_helper".into(),
                Value::Object(helper),
            );
        }
        match &p.version {
            Some(v) => by_name.entry(name).or_default().push(json!({
                "category": "product_version",
                "name": v,
                "product": Value::Object(fpn),
            })),
            None => full_product_names.push(Value::Object(fpn)),
        }
    }
    let mut product_tree = Map::new();
    if !by_name.is_empty() {
        let branches: Vec<Value> = by_name
            .into_iter()
            .map(|(name, versions)| json!({"category": "product_name", "name": name, "branches": versions}))
            .collect();
        product_tree.insert("branches".into(), Value::Array(branches));
    }
    if !full_product_names.is_empty() {
        product_tree.insert(
            "full_product_names".into(),
            Value::Array(full_product_names),
        );
    }

    // One vulnerability entry per vulnerability id, in first-seen order.
    let mut order: Vec<&str> = Vec::new();
    for s in statements {
        if !order.contains(&s.vulnerability.as_str()) {
            order.push(s.vulnerability.as_str());
        }
    }
    let mut vulnerabilities = Vec::with_capacity(order.len());
    for id in order {
        let group: Vec<&VexStatement> = statements
            .iter()
            .filter(|s| s.vulnerability.as_str() == id)
            .collect();
        let mut v = Map::new();
        let mut aliases: Vec<&str> = Vec::new();
        for s in &group {
            for a in &s.aliases {
                if !aliases.contains(&a.as_str()) {
                    aliases.push(a.as_str());
                }
            }
        }
        let first = group.first().map(|s| &s.vulnerability);
        let is_cve = first.is_some_and(|f| f.is_cve());
        let mut ids: Vec<Value> = Vec::new();
        if is_cve {
            v.insert("cve".into(), json!(id));
        } else {
            ids.push(json!({"system_name": alias_source(id), "text": id}));
        }
        for a in &aliases {
            ids.push(json!({"system_name": alias_source(a), "text": a}));
        }
        if !ids.is_empty() {
            v.insert("ids".into(), Value::Array(ids));
        }
        v.insert(
            "notes".into(),
            json!([{"category": "description", "title": "Status", "text": format!("VEX statements about {id}.")}]),
        );
        let mut status: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        let mut flags = Vec::new();
        let mut threats = Vec::new();
        let mut remediations = Vec::new();
        for s in &group {
            let pids: Vec<&str> = s.products.iter().map(|p| ref_of(&refs, p)).collect();
            let key = match s.status {
                VexStatus::Affected => "known_affected",
                VexStatus::NotAffected => "known_not_affected",
                VexStatus::Fixed => "fixed",
                VexStatus::UnderInvestigation => "under_investigation",
            };
            let list = status.entry(key).or_default();
            for p in &pids {
                if !list.contains(p) {
                    list.push(p);
                }
            }
            let date = s.timestamp.as_ref().map(Timestamp::as_str);
            if let Some(j) = s.justification {
                let mut f = json!({"label": j.as_str(), "product_ids": pids});
                if let (Some(d), Value::Object(o)) = (date, &mut f) {
                    o.insert("date".into(), json!(d));
                }
                flags.push(f);
            }
            if let Some(i) = &s.impact_statement {
                let mut t = json!({"category": "impact", "details": i, "product_ids": pids});
                if let (Some(d), Value::Object(o)) = (date, &mut t) {
                    o.insert("date".into(), json!(d));
                }
                threats.push(t);
            }
            if let Some(a) = &s.action_statement {
                let category = if s.status == VexStatus::Fixed {
                    "vendor_fix"
                } else {
                    "mitigation"
                };
                let mut r = json!({"category": category, "details": a, "product_ids": pids});
                if let (Some(d), Value::Object(o)) = (date, &mut r) {
                    o.insert("date".into(), json!(d));
                }
                remediations.push(r);
            }
        }
        v.insert("product_status".into(), json!(status));
        if !flags.is_empty() {
            v.insert("flags".into(), Value::Array(flags));
        }
        if !threats.is_empty() {
            v.insert("threats".into(), Value::Array(threats));
        }
        if !remediations.is_empty() {
            v.insert("remediations".into(), Value::Array(remediations));
        }
        vulnerabilities.push(Value::Object(v));
    }
    let version = meta.version.max(1).to_string();
    let doc = json!({
        "document": {
            "category": "csaf_vex",
            "csaf_version": "2.0",
            "publisher": {
                "category": "vendor",
                "name": meta.author,
                "namespace": meta.author_namespace,
            },
            "title": meta.title,
            "notes": [{"category": "summary", "title": "About", "text": format!("{}: VEX statements.", meta.title)}],
            "tracking": {
                "id": meta.id,
                "status": "final",
                "version": version,
                "initial_release_date": meta.timestamp.as_str(),
                "current_release_date": meta.timestamp.as_str(),
                "revision_history": [{"date": meta.timestamp.as_str(), "number": version, "summary": "Initial version."}],
            },
        },
        "product_tree": Value::Object(product_tree),
        "vulnerabilities": vulnerabilities,
    });
    Ok(to_string(&doc))
}

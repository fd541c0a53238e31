//! CSAF 2.0 → [`Advisory`]s ([`parse`]) and → [`VexStatement`]s
//! ([`parse_vex`], for the `csaf_vex` profile and any CSAF document with
//! `product_status`).
//!
//! The product tree is resolved first: every `product_id` (from `branches`
//! at any depth, `full_product_names` and `relationships`) maps to a
//! [`Product`] with its full product name, its identification helper's purl
//! and CPE, and the version of its nearest `product_version` branch. A
//! relationship's product takes the identifiers of its `product_reference`
//! (the component). Product groups are expanded.
//!
//! For advisories, `known_affected`/`first_affected`/`last_affected`
//! products become [`Affected`] entries (their version exact, or a
//! `product_version_range` read as a `vers:` range), and `fixed`/
//! `first_fixed` products add unaffected versions. For VEX, product status
//! maps to the VEX status; `flags` labels are the justification set itself;
//! `threats` of category `impact` give the impact statement and
//! `remediations` the action statement. Products with identical outcomes
//! are grouped into one statement.
//!
//! Read with serde structs of this module, not the `csaf` crate (0.5): it
//! pulls in `rustsec` and `crates-index` by default, is unmaintained since
//! 2023, and requires fields real documents omit. This module does not run
//! the CSAF validator's mandatory tests (6.1.x) and does not read CSAF 2.1.

use std::collections::HashMap;

use serde::Deserialize;

use crate::common::{adv_id, adv_timestamp, push_unique};
use crate::error::{AdvisoryParseError, VexParseError};
use crate::json::{self, lenient_f64, non_empty, null_default};
use crate::limits::Limits;
use crate::model::{
    Advisory, AdvisoryFormat, Affected, Bound, Cpe, Dropped, Justification, PackageId, Product,
    Purl, Reference, ScorePublisher, Severity, SeverityScheme, VersionRange, VexStatement,
    VexStatus, VulnId,
};

/// Whether `bytes` look like a CSAF document (`document.csaf_version`).
pub fn detect(bytes: &[u8]) -> bool {
    #[derive(Deserialize)]
    struct Inner {
        csaf_version: Option<String>,
    }
    #[derive(Deserialize)]
    struct Probe {
        document: Option<Inner>,
    }
    json::peek::<Probe>(bytes)
        .and_then(|p| p.document)
        .is_some_and(|d| d.csaf_version.is_some())
}

/// Parses a CSAF 2.0 document into advisories (one per vulnerability) with
/// the default [`Limits`].
pub fn parse(bytes: &[u8]) -> Result<Vec<Advisory>, AdvisoryParseError> {
    parse_with(bytes, &Limits::DEFAULT)
}

/// Parses a CSAF 2.0 document into advisories.
pub fn parse_with(bytes: &[u8], limits: &Limits) -> Result<Vec<Advisory>, AdvisoryParseError> {
    let doc: Doc = json::from_slice(bytes, limits.document_bytes_max)?;
    let tree = resolve(&doc, limits)?;
    let publisher = doc
        .document
        .publisher
        .as_ref()
        .and_then(|p| non_empty(p.name.as_deref()));
    let tracking = doc.document.tracking.as_ref();
    let tracking_id = tracking.and_then(|t| t.id.as_deref());
    let mut out = Vec::with_capacity(doc.vulnerabilities.len());
    for (i, v) in doc.vulnerabilities.iter().enumerate() {
        let path = format!("vulnerabilities[{i}]");
        let (id, aliases) = ids(v, &path, tracking_id, i)?;
        let mut advisory = Advisory {
            id,
            aliases,
            source: AdvisoryFormat::Csaf2,
            published: adv_timestamp(
                || format!("{path}.release_date"),
                v.release_date
                    .as_deref()
                    .or(tracking.and_then(|t| t.initial_release_date.as_deref())),
            )?,
            modified: adv_timestamp(
                || "document.tracking.current_release_date".into(),
                tracking.and_then(|t| t.current_release_date.as_deref()),
            )?,
            withdrawn: None,
            summary: non_empty(v.title.as_deref())
                .or_else(|| non_empty(doc.document.title.as_deref())),
            description: v
                .notes
                .iter()
                .find(|n| matches!(n.category.as_deref(), Some("description" | "summary")))
                .or_else(|| {
                    v.notes
                        .iter()
                        .find(|n| n.category.as_deref() == Some("details"))
                })
                .and_then(|n| non_empty(n.text.as_deref())),
            cwes: v
                .cwe
                .as_ref()
                .and_then(|c| non_empty(c.id.as_deref()))
                .into_iter()
                .collect(),
            references: v
                .references
                .iter()
                .chain(doc.document.references.iter())
                .filter_map(|r| {
                    Some(Reference {
                        url: non_empty(r.url.as_deref())?,
                        tags: r.category.iter().cloned().collect(),
                    })
                })
                .collect(),
            severities: Vec::new(),
            cisa_adp: None,
            affected: Vec::new(),
            dropped: Vec::new(),
        };
        for s in &v.scores {
            for (cvss, default) in [
                (&s.cvss_v3, SeverityScheme::CvssV31),
                (&s.cvss_v2, SeverityScheme::CvssV2),
            ] {
                let Some(c) = cvss else { continue };
                let Some(vector) = non_empty(c.vector_string.as_deref()) else {
                    continue;
                };
                let scheme = match c.version.as_deref() {
                    Some(version) => SeverityScheme::from_cvss_version(version),
                    None => default,
                };
                push_unique(
                    &mut advisory.severities,
                    Severity {
                        scheme,
                        vector,
                        score: c.base_score,
                        publisher: ScorePublisher::Publisher(publisher.clone()),
                    },
                );
            }
        }
        let status = &v.product_status;
        let affected_ids = status
            .known_affected
            .iter()
            .chain(&status.first_affected)
            .chain(&status.last_affected);
        let mut seen = Vec::new();
        for pid in affected_ids {
            if seen.contains(&pid) {
                continue;
            }
            seen.push(pid);
            let Some(p) = tree.products.get(pid.as_str()) else {
                return Err(unknown_product(&format!("{path}.product_status"), pid));
            };
            let entry = affected_entry(p, true, &mut advisory.dropped);
            advisory.affected.push(entry);
        }
        for pid in status.fixed.iter().chain(&status.first_fixed) {
            let Some(p) = tree.products.get(pid.as_str()) else {
                return Err(unknown_product(&format!("{path}.product_status"), pid));
            };
            let entry = affected_entry(p, false, &mut advisory.dropped);
            if !entry.unaffected_versions.is_empty() || !entry.unaffected_ranges.is_empty() {
                advisory.affected.push(entry);
            }
        }
        if advisory.affected.len() > limits.affected_per_advisory_max {
            return Err(AdvisoryParseError::TooMany {
                field: format!("{path}.product_status"),
                count_max: limits.affected_per_advisory_max,
            });
        }
        out.push(advisory);
    }
    Ok(out)
}

/// Parses the VEX content of a CSAF 2.0 document with the default
/// [`Limits`].
pub fn parse_vex(bytes: &[u8]) -> Result<Vec<VexStatement>, VexParseError> {
    parse_vex_with(bytes, &Limits::DEFAULT)
}

/// Parses the VEX content of a CSAF 2.0 document.
pub fn parse_vex_with(bytes: &[u8], limits: &Limits) -> Result<Vec<VexStatement>, VexParseError> {
    let doc: Doc = json::from_slice(bytes, limits.document_bytes_max)?;
    let tree = resolve(&doc, limits).map_err(adv_to_vex)?;
    let author = doc
        .document
        .publisher
        .as_ref()
        .and_then(|p| non_empty(p.name.as_deref()));
    let doc_time = doc
        .document
        .tracking
        .as_ref()
        .and_then(|t| t.current_release_date.as_deref());
    let doc_time = crate::common::timestamp(
        || "document.tracking.current_release_date".into(),
        doc_time,
        VexParseError::invalid,
    )?;
    let tracking_id = doc.document.tracking.as_ref().and_then(|t| t.id.as_deref());
    let mut out: Vec<VexStatement> = Vec::new();
    for (i, v) in doc.vulnerabilities.iter().enumerate() {
        let path = format!("vulnerabilities[{i}]");
        let (vulnerability, aliases) = ids(v, &path, tracking_id, i).map_err(adv_to_vex)?;
        let expand = |pids: &[String], gids: &[String]| -> Vec<String> {
            let mut all: Vec<String> = pids.to_vec();
            for g in gids {
                if let Some(members) = tree.groups.get(g.as_str()) {
                    all.extend(members.iter().cloned());
                }
            }
            all
        };
        let s = &v.product_status;
        let groups: [(&[String], VexStatus); 7] = [
            (&s.known_affected, VexStatus::Affected),
            (&s.first_affected, VexStatus::Affected),
            (&s.last_affected, VexStatus::Affected),
            (&s.known_not_affected, VexStatus::NotAffected),
            (&s.fixed, VexStatus::Fixed),
            (&s.first_fixed, VexStatus::Fixed),
            (&s.under_investigation, VexStatus::UnderInvestigation),
        ];
        let first_new = out.len();
        for (pids, status) in groups {
            for pid in pids {
                let Some(product) = tree.products.get(pid.as_str()).map(|r| &r.product) else {
                    return Err(adv_to_vex(unknown_product(
                        &format!("{path}.product_status"),
                        pid,
                    )));
                };
                let mut justification = None;
                let mut timestamp = None;
                for (k, flag) in v.flags.iter().enumerate() {
                    if !expand(&flag.product_ids, &flag.group_ids).contains(pid) {
                        continue;
                    }
                    let label = flag.label.as_deref().unwrap_or("");
                    justification = Some(Justification::from_name(label).ok_or_else(|| {
                        VexParseError::Invalid {
                            field: format!("{path}.flags[{k}].label"),
                            value: crate::error::quote(label),
                            expected: "a CSAF flag label (component_not_present, ...)".into(),
                        }
                    })?);
                    timestamp = crate::common::timestamp(
                        || format!("{path}.flags[{k}].date"),
                        flag.date.as_deref(),
                        VexParseError::invalid,
                    )?;
                }
                let mut impact: Vec<&str> = Vec::new();
                for (k, t) in v.threats.iter().enumerate() {
                    if t.category.as_deref() != Some("impact")
                        || !expand(&t.product_ids, &t.group_ids).contains(pid)
                    {
                        continue;
                    }
                    impact.extend(t.details.as_deref());
                    if timestamp.is_none() {
                        timestamp = crate::common::timestamp(
                            || format!("{path}.threats[{k}].date"),
                            t.date.as_deref(),
                            VexParseError::invalid,
                        )?;
                    }
                }
                let mut action: Vec<&str> = Vec::new();
                for (k, r) in v.remediations.iter().enumerate() {
                    if !expand(&r.product_ids, &r.group_ids).contains(pid) {
                        continue;
                    }
                    action.extend(r.details.as_deref());
                    if timestamp.is_none() {
                        timestamp = crate::common::timestamp(
                            || format!("{path}.remediations[{k}].date"),
                            r.date.as_deref(),
                            VexParseError::invalid,
                        )?;
                    }
                }
                let statement = VexStatement {
                    vulnerability: vulnerability.clone(),
                    aliases: aliases.clone(),
                    products: vec![product.clone()],
                    status,
                    justification,
                    impact_statement: non_empty(Some(&impact.join("\n"))),
                    action_statement: non_empty(Some(&action.join("\n"))),
                    timestamp: timestamp.or_else(|| doc_time.clone()),
                    author: author.clone(),
                };
                // Group with an earlier statement of this vulnerability that
                // differs only in its products.
                let same = out.get_mut(first_new..).and_then(|slice| {
                    slice.iter_mut().find(|o| {
                        o.status == statement.status
                            && o.justification == statement.justification
                            && o.impact_statement == statement.impact_statement
                            && o.action_statement == statement.action_statement
                            && o.timestamp == statement.timestamp
                    })
                });
                match same {
                    Some(o) => {
                        if !o.products.contains(product) {
                            o.products.push(product.clone());
                        }
                    }
                    None => out.push(statement),
                }
                if out.len() > limits.statements_max {
                    return Err(VexParseError::TooMany {
                        field: "vulnerabilities[].product_status".into(),
                        count_max: limits.statements_max,
                    });
                }
            }
        }
    }
    Ok(out)
}

fn adv_to_vex(e: AdvisoryParseError) -> VexParseError {
    match e {
        AdvisoryParseError::TooLarge { bytes, bytes_max } => {
            VexParseError::TooLarge { bytes, bytes_max }
        }
        AdvisoryParseError::Json { path, message } => VexParseError::Json { path, message },
        AdvisoryParseError::WrongFormat { reason } => VexParseError::WrongFormat { reason },
        AdvisoryParseError::UnsupportedVersion {
            format,
            field,
            found,
            supported,
        } => VexParseError::UnsupportedVersion {
            format,
            field,
            found,
            supported,
        },
        AdvisoryParseError::Missing { field } => VexParseError::Missing { field },
        AdvisoryParseError::Invalid {
            field,
            value,
            expected,
        } => VexParseError::Invalid {
            field,
            value,
            expected,
        },
        AdvisoryParseError::TooMany { field, count_max } => {
            VexParseError::TooMany { field, count_max }
        }
    }
}

fn unknown_product(field: &str, pid: &str) -> AdvisoryParseError {
    AdvisoryParseError::Invalid {
        field: field.to_string(),
        value: crate::error::quote(pid),
        expected: "a product_id defined in the product tree".into(),
    }
}

/// The vulnerability's id (`cve`, else the first of `ids`) and aliases. A
/// vulnerability with neither (CSAF allows it) is named
/// `<document.tracking.id>#<index>`, so its statements are kept and still
/// traceable to the document.
fn ids(
    v: &Vulnerability,
    path: &str,
    tracking_id: Option<&str>,
    index: usize,
) -> Result<(VulnId, Vec<VulnId>), AdvisoryParseError> {
    let mut all = Vec::new();
    if let Some(cve) = non_empty(v.cve.as_deref()) {
        all.push(adv_id(|| format!("{path}.cve"), &cve)?);
    }
    for (i, x) in v.ids.iter().enumerate() {
        if let Some(text) = non_empty(x.text.as_deref()) {
            push_unique(&mut all, adv_id(|| format!("{path}.ids[{i}].text"), &text)?);
        }
    }
    if all.is_empty() {
        let tracking = tracking_id.ok_or_else(|| AdvisoryParseError::Missing {
            field: format!("{path}.cve"),
        })?;
        let synthetic = format!("{tracking}#{index}");
        all.push(adv_id(|| "document.tracking.id".into(), &synthetic)?);
    }
    let mut all = all.into_iter();
    let id = all.next().ok_or_else(|| AdvisoryParseError::Missing {
        field: format!("{path}.cve"),
    })?;
    Ok((id, all.collect()))
}

/// An affected entry for a product: its identifiers and its version (exact
/// or a `vers:` range), as affected or (for fixed products) unaffected.
fn affected_entry(p: &Resolved, affected: bool, dropped: &mut Vec<Dropped>) -> Affected {
    let mut ids = p.product.ids.clone();
    if let (Some(vendor), Some(product)) = (&p.vendor, &p.product_name) {
        ids.push(PackageId::VendorProduct {
            vendor: vendor.clone(),
            product: product.clone(),
        });
    }
    if let Some(name) = &p.product.name {
        ids.push(PackageId::Name { name: name.clone() });
    }
    let mut entry = Affected::new(ids);
    if let Some(v) = &p.product.version {
        if affected {
            entry.versions.push(v.clone());
        } else {
            entry.unaffected_versions.push(v.clone());
        }
    }
    if let Some(range) = &p.version_range {
        match vers(range) {
            Some((ranges, exact, all)) => {
                if affected {
                    entry.ranges.extend(ranges);
                    entry.versions.extend(exact);
                    entry.all_versions |= all;
                } else {
                    entry.unaffected_ranges.extend(ranges);
                    entry.unaffected_versions.extend(exact);
                }
            }
            None => dropped.push(Dropped {
                field: format!(
                    "product_tree (product_version_range of {})",
                    p.product.product_ref.as_deref().unwrap_or("")
                ),
                value: crate::error::quote(range),
                expected: "a `vers:` range (free-text ranges are not interpreted)".into(),
            }),
        }
    }
    entry
}

/// Reads a `vers:<scheme>/<constraints>` range (the CSAF
/// `product_version_range` form): `|`-separated constraints with `>=`, `>`,
/// `<=`, `<`, `=` or no comparator (exact), or `*`. Lower bounds open an
/// interval and upper bounds close it, in order. Returns ranges, exact
/// versions and whether `*` was given; `None` if it is not `vers:`.
fn vers(value: &str) -> Option<(Vec<VersionRange>, Vec<String>, bool)> {
    let rest = value.trim().strip_prefix("vers:")?;
    let (scheme, constraints) = rest.split_once('/')?;
    let scheme = format!("vers:{scheme}");
    let mut ranges = Vec::new();
    let mut exact = Vec::new();
    let mut all = false;
    let mut open: Option<Bound> = None;
    for c in constraints
        .split('|')
        .map(str::trim)
        .filter(|c| !c.is_empty())
    {
        if c == "*" {
            all = true;
        } else if let Some(v) = c.strip_prefix(">=") {
            open = Some(Bound::including(v.trim()));
        } else if let Some(v) = c.strip_prefix('>') {
            open = Some(Bound::excluding(v.trim()));
        } else if let Some(v) = c.strip_prefix("<=") {
            ranges.push(VersionRange {
                scheme: scheme.clone(),
                introduced: open.take(),
                end: Some(Bound::including(v.trim())),
            });
        } else if let Some(v) = c.strip_prefix('<') {
            ranges.push(VersionRange {
                scheme: scheme.clone(),
                introduced: open.take(),
                end: Some(Bound::excluding(v.trim())),
            });
        } else if c.starts_with("!=") {
            // An exclusion inside a range; the matcher works on intervals,
            // so it is not represented.
        } else {
            exact.push(c.trim_start_matches('=').trim().to_string());
        }
    }
    if let Some(start) = open {
        ranges.push(VersionRange {
            scheme,
            introduced: Some(start),
            end: None,
        });
    }
    Some((ranges, exact, all))
}

struct Resolved {
    product: Product,
    vendor: Option<String>,
    product_name: Option<String>,
    version_range: Option<String>,
}

struct Tree {
    products: HashMap<String, Resolved>,
    groups: HashMap<String, Vec<String>>,
}

fn resolve(doc: &Doc, limits: &Limits) -> Result<Tree, AdvisoryParseError> {
    let version = doc.document.csaf_version.as_deref().unwrap_or("");
    if doc.document.csaf_version.is_none() {
        return Err(AdvisoryParseError::WrongFormat {
            reason: "`document.csaf_version` is missing".into(),
        });
    }
    if version != "2.0" {
        return Err(AdvisoryParseError::UnsupportedVersion {
            format: "CSAF",
            field: "document.csaf_version",
            found: version.to_string(),
            supported: "2.0",
        });
    }
    if doc.vulnerabilities.len() > limits.advisories_max {
        return Err(AdvisoryParseError::TooMany {
            field: "vulnerabilities".into(),
            count_max: limits.advisories_max,
        });
    }
    let mut tree = Tree {
        products: HashMap::new(),
        groups: HashMap::new(),
    };
    let Some(pt) = &doc.product_tree else {
        return Ok(tree);
    };
    let mut ctx = Context::default();
    walk(
        &pt.branches,
        "product_tree.branches",
        1,
        limits,
        &mut ctx,
        &mut tree,
    )?;
    for (i, f) in pt.full_product_names.iter().enumerate() {
        add(
            f,
            &format!("product_tree.full_product_names[{i}]"),
            &Context::default(),
            limits,
            &mut tree,
        )?;
    }
    for (i, r) in pt.relationships.iter().enumerate() {
        let path = format!("product_tree.relationships[{i}]");
        let Some(f) = &r.full_product_name else {
            return Err(AdvisoryParseError::Missing {
                field: format!("{path}.full_product_name"),
            });
        };
        add(
            f,
            &format!("{path}.full_product_name"),
            &Context::default(),
            limits,
            &mut tree,
        )?;
        // The composite product is identified by its component.
        let component_ids = r
            .product_reference
            .as_deref()
            .and_then(|p| tree.products.get(p))
            .map(|p| p.product.ids.clone());
        if let (Some(ids), Some(pid)) = (component_ids, f.product_id.as_deref()) {
            if let Some(p) = tree.products.get_mut(pid) {
                if p.product.ids.is_empty() {
                    p.product.ids = ids;
                }
            }
        }
    }
    for g in &pt.product_groups {
        if let Some(id) = non_empty(g.group_id.as_deref()) {
            tree.groups.insert(id, g.product_ids.clone());
        }
    }
    Ok(tree)
}

#[derive(Clone, Default)]
struct Context {
    vendor: Option<String>,
    product_name: Option<String>,
    version: Option<String>,
    version_range: Option<String>,
}

fn walk(
    branches: &[Branch],
    path: &str,
    depth: usize,
    limits: &Limits,
    ctx: &mut Context,
    tree: &mut Tree,
) -> Result<(), AdvisoryParseError> {
    if depth > limits.nesting_depth_max {
        return Err(AdvisoryParseError::TooMany {
            field: format!("{path} (nesting depth)"),
            count_max: limits.nesting_depth_max,
        });
    }
    for (i, b) in branches.iter().enumerate() {
        let here = format!("{path}[{i}]");
        let mut inner = ctx.clone();
        let name = non_empty(b.name.as_deref());
        match b.category.as_deref() {
            Some("vendor") => inner.vendor = name,
            Some("product_name") => inner.product_name = name,
            Some("product_version") => inner.version = name,
            Some("product_version_range") => inner.version_range = name,
            _ => {}
        }
        if let Some(product) = &b.product {
            add(product, &format!("{here}.product"), &inner, limits, tree)?;
        }
        walk(
            &b.branches,
            &format!("{here}.branches"),
            depth + 1,
            limits,
            &mut inner,
            tree,
        )?;
    }
    Ok(())
}

fn add(
    f: &FullProductName,
    path: &str,
    ctx: &Context,
    limits: &Limits,
    tree: &mut Tree,
) -> Result<(), AdvisoryParseError> {
    let pid = non_empty(f.product_id.as_deref()).ok_or_else(|| AdvisoryParseError::Missing {
        field: format!("{path}.product_id"),
    })?;
    if tree.products.len() >= limits.products_max {
        return Err(AdvisoryParseError::TooMany {
            field: "product_tree".into(),
            count_max: limits.products_max,
        });
    }
    let mut ids = Vec::new();
    if let Some(h) = &f.helper {
        if let Some(p) = non_empty(h.purl.as_deref()) {
            let purl = Purl::new(&p).map_err(|e| {
                AdvisoryParseError::invalid(
                    format!("{path}.product_identification_helper.purl"),
                    &p,
                    e,
                )
            })?;
            ids.push(PackageId::Purl { purl });
        }
        if let Some(c) = non_empty(h.cpe.as_deref()) {
            let cpe = Cpe::new(&c).map_err(|e| {
                AdvisoryParseError::invalid(
                    format!("{path}.product_identification_helper.cpe"),
                    &c,
                    e,
                )
            })?;
            ids.push(PackageId::Cpe { cpe });
        }
    }
    tree.products.insert(
        pid.clone(),
        Resolved {
            product: Product {
                ids,
                name: non_empty(f.name.as_deref()),
                version: ctx.version.clone(),
                product_ref: Some(pid),
                subcomponents: Vec::new(),
            },
            vendor: ctx.vendor.clone(),
            product_name: ctx.product_name.clone(),
            version_range: ctx.version_range.clone(),
        },
    );
    Ok(())
}

// --- serde structs: only what the model reads ------------------------------

#[derive(Deserialize)]
struct Doc {
    document: DocumentMeta,
    product_tree: Option<ProductTree>,
    #[serde(default, deserialize_with = "null_default")]
    vulnerabilities: Vec<Vulnerability>,
}

#[derive(Deserialize)]
struct DocumentMeta {
    csaf_version: Option<String>,
    title: Option<String>,
    publisher: Option<Publisher>,
    tracking: Option<Tracking>,
    #[serde(default, deserialize_with = "null_default")]
    references: Vec<CsafReference>,
}

#[derive(Deserialize)]
struct Publisher {
    name: Option<String>,
}

#[derive(Deserialize)]
struct Tracking {
    id: Option<String>,
    current_release_date: Option<String>,
    initial_release_date: Option<String>,
}

#[derive(Deserialize)]
struct CsafReference {
    category: Option<String>,
    url: Option<String>,
}

#[derive(Deserialize)]
struct ProductTree {
    #[serde(default, deserialize_with = "null_default")]
    branches: Vec<Branch>,
    #[serde(default, deserialize_with = "null_default")]
    full_product_names: Vec<FullProductName>,
    #[serde(default, deserialize_with = "null_default")]
    relationships: Vec<Relationship>,
    #[serde(default, deserialize_with = "null_default")]
    product_groups: Vec<ProductGroup>,
}

#[derive(Deserialize)]
struct Branch {
    category: Option<String>,
    name: Option<String>,
    product: Option<FullProductName>,
    #[serde(default, deserialize_with = "null_default")]
    branches: Vec<Branch>,
}

#[derive(Deserialize)]
struct FullProductName {
    name: Option<String>,
    product_id: Option<String>,
    #[serde(rename = "product_identification_helper")]
    helper: Option<Helper>,
}

#[derive(Deserialize)]
struct Helper {
    purl: Option<String>,
    cpe: Option<String>,
}

#[derive(Deserialize)]
struct Relationship {
    product_reference: Option<String>,
    full_product_name: Option<FullProductName>,
}

#[derive(Deserialize)]
struct ProductGroup {
    group_id: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    product_ids: Vec<String>,
}

#[derive(Deserialize)]
struct Vulnerability {
    cve: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    ids: Vec<CsafId>,
    title: Option<String>,
    release_date: Option<String>,
    cwe: Option<Cwe>,
    #[serde(default, deserialize_with = "null_default")]
    notes: Vec<Note>,
    #[serde(default, deserialize_with = "null_default")]
    references: Vec<CsafReference>,
    #[serde(default, deserialize_with = "null_default")]
    product_status: ProductStatus,
    #[serde(default, deserialize_with = "null_default")]
    scores: Vec<Score>,
    #[serde(default, deserialize_with = "null_default")]
    remediations: Vec<Remediation>,
    #[serde(default, deserialize_with = "null_default")]
    flags: Vec<Flag>,
    #[serde(default, deserialize_with = "null_default")]
    threats: Vec<Threat>,
}

#[derive(Deserialize)]
struct CsafId {
    text: Option<String>,
}

#[derive(Deserialize)]
struct Cwe {
    id: Option<String>,
}

#[derive(Deserialize)]
struct Note {
    category: Option<String>,
    text: Option<String>,
}

#[derive(Deserialize, Default)]
struct ProductStatus {
    #[serde(default, deserialize_with = "null_default")]
    first_affected: Vec<String>,
    #[serde(default, deserialize_with = "null_default")]
    first_fixed: Vec<String>,
    #[serde(default, deserialize_with = "null_default")]
    fixed: Vec<String>,
    #[serde(default, deserialize_with = "null_default")]
    known_affected: Vec<String>,
    #[serde(default, deserialize_with = "null_default")]
    known_not_affected: Vec<String>,
    #[serde(default, deserialize_with = "null_default")]
    last_affected: Vec<String>,
    #[serde(default, deserialize_with = "null_default")]
    under_investigation: Vec<String>,
}

#[derive(Deserialize)]
struct Score {
    cvss_v2: Option<CsafCvss>,
    cvss_v3: Option<CsafCvss>,
}

#[derive(Deserialize)]
struct CsafCvss {
    version: Option<String>,
    #[serde(rename = "vectorString")]
    vector_string: Option<String>,
    #[serde(rename = "baseScore", default, deserialize_with = "lenient_f64")]
    base_score: Option<f64>,
}

#[derive(Deserialize)]
struct Remediation {
    details: Option<String>,
    date: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    product_ids: Vec<String>,
    #[serde(default, deserialize_with = "null_default")]
    group_ids: Vec<String>,
}

#[derive(Deserialize)]
struct Flag {
    label: Option<String>,
    date: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    product_ids: Vec<String>,
    #[serde(default, deserialize_with = "null_default")]
    group_ids: Vec<String>,
}

#[derive(Deserialize)]
struct Threat {
    category: Option<String>,
    date: Option<String>,
    details: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    product_ids: Vec<String>,
    #[serde(default, deserialize_with = "null_default")]
    group_ids: Vec<String>,
}

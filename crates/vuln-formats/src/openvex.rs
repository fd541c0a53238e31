//! OpenVEX JSON (`@context` `https://openvex.dev/ns/v0.2.0`, and the earlier
//! v0.0.1 where `vulnerability` and `products` were plain strings) →
//! [`VexStatement`]s.
//!
//! A product's `@id` is read as a purl (`pkg:`), a CPE (`cpe:`) or, for any
//! other IRI, kept as its `product_ref`; its `identifiers` (`purl`, `cpe23`,
//! `cpe22`) are added to its ids. A statement without `timestamp` takes the
//! document's; the author is the document's (OpenVEX has one per
//! document). Read with serde structs of this module (there is no OpenVEX
//! crate). Not done here: merging several OpenVEX documents, or checking
//! the `@id` IRIs.

use serde::Deserialize;

use crate::common::timestamp;
use crate::error::VexParseError;
use crate::json::{self, non_empty, null_default};
use crate::limits::Limits;
use crate::model::{Cpe, Justification, PackageId, Product, Purl, VexStatement, VexStatus, VulnId};

/// The `@context` values read.
pub const CONTEXTS: &[&str] = &[
    "https://openvex.dev/ns",
    "https://openvex.dev/ns/v0.0.1",
    "https://openvex.dev/ns/v0.2.0",
];

/// Whether `bytes` look like OpenVEX (`@context` under `https://openvex.dev/ns`).
pub fn detect(bytes: &[u8]) -> bool {
    #[derive(Deserialize)]
    struct Probe {
        #[serde(rename = "@context")]
        context: Option<String>,
    }
    json::peek::<Probe>(bytes)
        .and_then(|p| p.context)
        .is_some_and(|c| c.starts_with("https://openvex.dev/ns"))
}

/// Parses an OpenVEX document with the default [`Limits`].
pub fn parse(bytes: &[u8]) -> Result<Vec<VexStatement>, VexParseError> {
    parse_with(bytes, &Limits::DEFAULT)
}

/// Parses an OpenVEX document.
pub fn parse_with(bytes: &[u8], limits: &Limits) -> Result<Vec<VexStatement>, VexParseError> {
    let doc: Doc = json::from_slice(bytes, limits.document_bytes_max)?;
    let context = doc
        .context
        .as_deref()
        .ok_or_else(|| VexParseError::WrongFormat {
            reason: "`@context` is missing".into(),
        })?;
    if !context.starts_with("https://openvex.dev/ns") {
        return Err(VexParseError::WrongFormat {
            reason: format!(
                "`@context` is `{}`, not under `https://openvex.dev/ns`",
                crate::error::quote(context)
            ),
        });
    }
    if !CONTEXTS.contains(&context.trim_end_matches('/')) {
        return Err(VexParseError::UnsupportedVersion {
            format: "OpenVEX",
            field: "@context",
            found: context.to_string(),
            supported: "v0.0.1, v0.2.0",
        });
    }
    if doc.statements.len() > limits.statements_max {
        return Err(VexParseError::TooMany {
            field: "statements".into(),
            count_max: limits.statements_max,
        });
    }
    let doc_time = timestamp(
        || "timestamp".into(),
        doc.timestamp.as_deref(),
        VexParseError::invalid,
    )?;
    let author = non_empty(doc.author.as_deref());
    let mut out = Vec::with_capacity(doc.statements.len());
    for (i, s) in doc.statements.iter().enumerate() {
        let path = format!("statements[{i}]");
        let (name, alias_texts): (String, &[String]) = match &s.vulnerability {
            Some(Vulnerability::Name(n)) => (n.clone(), &[]),
            Some(Vulnerability::Object { name, id, aliases }) => (
                non_empty(name.as_deref())
                    .or_else(|| non_empty(id.as_deref()))
                    .unwrap_or_default(),
                aliases.as_slice(),
            ),
            None => {
                return Err(VexParseError::Missing {
                    field: format!("{path}.vulnerability"),
                })
            }
        };
        let vulnerability = VulnId::new(&name)
            .map_err(|e| VexParseError::invalid(format!("{path}.vulnerability.name"), &name, e))?;
        let mut aliases = Vec::new();
        for (j, a) in alias_texts.iter().enumerate() {
            let a = VulnId::new(a).map_err(|e| {
                VexParseError::invalid(format!("{path}.vulnerability.aliases[{j}]"), a, e)
            })?;
            if a != vulnerability && !aliases.contains(&a) {
                aliases.push(a);
            }
        }
        let status_text = s.status.as_deref().unwrap_or("");
        let status = match status_text {
            "affected" => VexStatus::Affected,
            "not_affected" => VexStatus::NotAffected,
            "fixed" => VexStatus::Fixed,
            "under_investigation" => VexStatus::UnderInvestigation,
            "" => {
                return Err(VexParseError::Missing {
                    field: format!("{path}.status"),
                })
            }
            other => {
                return Err(VexParseError::Invalid {
                    field: format!("{path}.status"),
                    value: crate::error::quote(other),
                    expected: "affected, not_affected, fixed or under_investigation".into(),
                })
            }
        };
        let justification = match non_empty(s.justification.as_deref()) {
            None => None,
            Some(j) => {
                Some(
                    Justification::from_name(&j).ok_or_else(|| VexParseError::Invalid {
                        field: format!("{path}.justification"),
                        value: crate::error::quote(&j),
                        expected: "an OpenVEX justification (component_not_present, ...)".into(),
                    })?,
                )
            }
        };
        if s.products.len() > limits.products_max {
            return Err(VexParseError::TooMany {
                field: format!("{path}.products"),
                count_max: limits.products_max,
            });
        }
        let mut products = Vec::with_capacity(s.products.len());
        for (j, p) in s.products.iter().enumerate() {
            let ppath = format!("{path}.products[{j}]");
            let mut product = Product::default();
            let (id, identifiers, subs) = match p {
                ProductEntry::Id(id) => (Some(id.as_str()), None, &[][..]),
                ProductEntry::Object {
                    id,
                    identifiers,
                    subcomponents,
                } => (
                    id.as_deref(),
                    identifiers.as_ref(),
                    subcomponents.as_slice(),
                ),
            };
            identify(
                id,
                identifiers,
                &ppath,
                &mut product.ids,
                &mut product.product_ref,
            )?;
            for (k, sub) in subs.iter().enumerate() {
                let spath = format!("{ppath}.subcomponents[{k}]");
                let (id, identifiers) = match sub {
                    ProductEntry::Id(id) => (Some(id.as_str()), None),
                    ProductEntry::Object {
                        id, identifiers, ..
                    } => (id.as_deref(), identifiers.as_ref()),
                };
                let mut ignored = None;
                identify(
                    id,
                    identifiers,
                    &spath,
                    &mut product.subcomponents,
                    &mut ignored,
                )?;
            }
            products.push(product);
        }
        let ts = timestamp(
            || format!("{path}.timestamp"),
            s.timestamp.as_deref(),
            VexParseError::invalid,
        )?;
        out.push(VexStatement {
            vulnerability,
            aliases,
            products,
            status,
            justification,
            impact_statement: non_empty(s.impact_statement.as_deref()),
            action_statement: non_empty(s.action_statement.as_deref()),
            timestamp: ts.or_else(|| doc_time.clone()),
            author: author.clone(),
        });
    }
    Ok(out)
}

fn identify(
    id: Option<&str>,
    identifiers: Option<&Identifiers>,
    path: &str,
    ids: &mut Vec<PackageId>,
    other_ref: &mut Option<String>,
) -> Result<(), VexParseError> {
    let mut push = |id: PackageId| {
        if !ids.contains(&id) {
            ids.push(id);
        }
    };
    if let Some(id) = id.map(str::trim).filter(|s| !s.is_empty()) {
        if id.starts_with("pkg:") {
            let purl =
                Purl::new(id).map_err(|e| VexParseError::invalid(format!("{path}.@id"), id, e))?;
            push(PackageId::Purl { purl });
        } else if id.starts_with("cpe:") {
            let cpe =
                Cpe::new(id).map_err(|e| VexParseError::invalid(format!("{path}.@id"), id, e))?;
            push(PackageId::Cpe { cpe });
        } else {
            *other_ref = Some(id.to_string());
        }
    }
    if let Some(x) = identifiers {
        if let Some(p) = non_empty(x.purl.as_deref()) {
            let purl = Purl::new(&p)
                .map_err(|e| VexParseError::invalid(format!("{path}.identifiers.purl"), &p, e))?;
            push(PackageId::Purl { purl });
        }
        for (field, value) in [("cpe23", &x.cpe23), ("cpe22", &x.cpe22)] {
            if let Some(c) = non_empty(value.as_deref()) {
                let cpe = Cpe::new(&c).map_err(|e| {
                    VexParseError::invalid(format!("{path}.identifiers.{field}"), &c, e)
                })?;
                push(PackageId::Cpe { cpe });
            }
        }
    }
    if ids.is_empty() && other_ref.is_none() {
        return Err(VexParseError::Missing {
            field: format!("{path}.@id"),
        });
    }
    Ok(())
}

// --- serde structs: only what the model reads ------------------------------

#[derive(Deserialize)]
struct Doc {
    #[serde(rename = "@context")]
    context: Option<String>,
    author: Option<String>,
    timestamp: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    statements: Vec<Statement>,
}

#[derive(Deserialize)]
struct Statement {
    vulnerability: Option<Vulnerability>,
    #[serde(default, deserialize_with = "null_default")]
    products: Vec<ProductEntry>,
    status: Option<String>,
    justification: Option<String>,
    impact_statement: Option<String>,
    action_statement: Option<String>,
    timestamp: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Vulnerability {
    Name(String),
    Object {
        name: Option<String>,
        #[serde(rename = "@id")]
        id: Option<String>,
        #[serde(default, deserialize_with = "null_default")]
        aliases: Vec<String>,
    },
}

#[derive(Deserialize)]
#[serde(untagged)]
enum ProductEntry {
    Id(String),
    Object {
        #[serde(rename = "@id")]
        id: Option<String>,
        identifiers: Option<Identifiers>,
        #[serde(default, deserialize_with = "null_default")]
        subcomponents: Vec<ProductEntry>,
    },
}

#[derive(Deserialize)]
struct Identifiers {
    purl: Option<String>,
    cpe23: Option<String>,
    cpe22: Option<String>,
}

//! SPDX JSON 2.2 and 2.3 → [`Sbom`]: packages (name, `versionInfo`,
//! supplier, checksums, `externalRefs` of type `purl`, `cpe23Type` and
//! `cpe22Type`, `primaryPackagePurpose`), the described package (subject) and
//! dependency relationships.
//!
//! Read with serde structs of this module, not with `spdx-rs` (0.5): that
//! crate models the whole 2.x spec with many fields required (for example
//! `downloadLocation`, `filesAnalyzed` defaults, file and snippet details),
//! so sloppy real documents that the model would read fine are refused, and
//! it builds everything the model then throws away. Files and snippets are
//! deliberately not components here (vulnerability matching works on
//! packages); `CONTAINS` is containment, not dependency, and is not an
//! edge. Only `DEPENDS_ON` and the `*DEPENDENCY_OF` family are. SPDX 3
//! (JSON-LD) and the tag-value, RDF and YAML forms are not read.

use std::collections::HashMap;

use serde::Deserialize;

use crate::error::SbomParseError;
use crate::json::{self, lenient_string, non_empty, null_default};
use crate::limits::Limits;
use crate::model::{
    Component, ComponentKind, Cpe, Dependency, Digest, Purl, Sbom, SbomFormat, Timestamp,
};

/// The spec versions read (`spdxVersion`).
pub const SPEC_VERSIONS: &[&str] = &["SPDX-2.2", "SPDX-2.3"];

/// Whether `bytes` look like an SPDX JSON document (`spdxVersion`).
pub fn detect(bytes: &[u8]) -> bool {
    #[derive(Deserialize)]
    struct Probe {
        #[serde(rename = "spdxVersion")]
        spdx_version: Option<String>,
    }
    json::peek::<Probe>(bytes)
        .and_then(|p| p.spdx_version)
        .is_some_and(|v| v.starts_with("SPDX-"))
}

/// Parses an SPDX JSON document with the default [`Limits`].
pub fn parse(bytes: &[u8]) -> Result<Sbom, SbomParseError> {
    parse_with(bytes, &Limits::DEFAULT)
}

/// Parses an SPDX JSON document.
pub fn parse_with(bytes: &[u8], limits: &Limits) -> Result<Sbom, SbomParseError> {
    let doc: Doc = json::from_slice(bytes, limits.document_bytes_max)?;
    let version = match doc.spdx_version.as_deref() {
        None => {
            return Err(SbomParseError::WrongFormat {
                reason: "`spdxVersion` is missing".into(),
            })
        }
        Some(v) => v.to_string(),
    };
    if !SPEC_VERSIONS.contains(&version.as_str()) {
        return Err(SbomParseError::UnsupportedVersion {
            format: "SPDX",
            field: "spdxVersion",
            found: version,
            supported: "SPDX-2.2, SPDX-2.3",
        });
    }
    if doc.packages.len() > limits.components_max {
        return Err(SbomParseError::TooMany {
            field: "packages".into(),
            count_max: limits.components_max,
        });
    }
    if doc.relationships.len() > limits.dependency_edges_max {
        return Err(SbomParseError::TooMany {
            field: "relationships".into(),
            count_max: limits.dependency_edges_max,
        });
    }
    let mut components = Vec::with_capacity(doc.packages.len());
    for (i, p) in doc.packages.iter().enumerate() {
        components.push(package(p, i)?);
    }

    // The subject: the one package the document describes.
    let doc_id = doc.spdx_id.as_deref().unwrap_or("SPDXRef-DOCUMENT");
    let mut described: Vec<&str> = doc.document_describes.iter().map(String::as_str).collect();
    for r in &doc.relationships {
        let (Some(a), Some(t), Some(b)) = (
            r.element.as_deref(),
            r.kind.as_deref(),
            r.related.as_deref(),
        ) else {
            continue;
        };
        if a == doc_id && t == "DESCRIBES" && !described.contains(&b) {
            described.push(b);
        } else if b == doc_id && t == "DESCRIBED_BY" && !described.contains(&a) {
            described.push(a);
        }
    }
    let mut subject = None;
    if let [only] = described.as_slice() {
        if let Some(pos) = components
            .iter()
            .position(|c| c.bom_ref.as_deref() == Some(*only))
        {
            subject = Some(components.remove(pos));
        }
    }

    // Dependency edges, grouped by the depending element in first-seen order.
    let mut order: Vec<String> = Vec::new();
    let mut edges: HashMap<String, Vec<String>> = HashMap::new();
    for (i, r) in doc.relationships.iter().enumerate() {
        let (Some(a), Some(t), Some(b)) = (
            r.element.as_deref(),
            r.kind.as_deref(),
            r.related.as_deref(),
        ) else {
            continue;
        };
        let (from, to) = match t {
            "DEPENDS_ON" => (a, b),
            t if t.ends_with("DEPENDENCY_OF") => (b, a),
            _ => continue,
        };
        if from.is_empty() || to.is_empty() {
            return Err(SbomParseError::Missing {
                field: format!("relationships[{i}].spdxElementId"),
            });
        }
        let list = edges.entry(from.to_string()).or_insert_with(|| {
            order.push(from.to_string());
            Vec::new()
        });
        if !list.iter().any(|x| x == to) {
            list.push(to.to_string());
        }
    }
    let dependencies = order
        .into_iter()
        .map(|from| Dependency {
            to: edges.remove(&from).unwrap_or_default(),
            from,
        })
        .collect();

    let created = match doc
        .creation_info
        .as_ref()
        .and_then(|c| c.created.as_deref())
    {
        Some(t) => Some(
            Timestamp::new(t).map_err(|e| SbomParseError::invalid("creationInfo.created", t, e))?,
        ),
        None => None,
    };
    Ok(Sbom {
        format: SbomFormat::Spdx,
        spec_version: version.trim_start_matches("SPDX-").to_string(),
        serial_number: non_empty(doc.document_namespace.as_deref()),
        created,
        subject,
        components,
        dependencies,
    })
}

/// `Organization: Acme Inc. (sec@acme.example)` → `Acme Inc.`;
/// `NOASSERTION` → `None`.
fn actor_name(value: Option<&str>) -> Option<String> {
    let v = value?.trim();
    if v.eq_ignore_ascii_case("NOASSERTION") || v.is_empty() {
        return None;
    }
    let v = v
        .strip_prefix("Organization:")
        .or_else(|| v.strip_prefix("Person:"))
        .or_else(|| v.strip_prefix("Tool:"))
        .unwrap_or(v)
        .trim();
    let v = match v.rfind(" (") {
        Some(pos) if v.ends_with(')') => v.get(..pos).unwrap_or(v),
        _ => v,
    };
    non_empty(Some(v))
}

fn package(p: &Package, i: usize) -> Result<Component, SbomParseError> {
    let path = format!("packages[{i}]");
    let name = non_empty(p.name.as_deref()).ok_or_else(|| SbomParseError::Missing {
        field: format!("{path}.name"),
    })?;
    let mut purl = None;
    let mut cpes = Vec::new();
    for (j, r) in p.external_refs.iter().enumerate() {
        let Some(locator) = non_empty(r.locator.as_deref()) else {
            continue;
        };
        let field = || format!("{path}.externalRefs[{j}].referenceLocator");
        match r.kind.as_deref() {
            Some("purl") => {
                let parsed = Purl::new(&locator)
                    .map_err(|e| SbomParseError::invalid(field(), &locator, e))?;
                // The first purl is the package's; later ones are aliases.
                if purl.is_none() {
                    purl = Some(parsed);
                }
            }
            Some("cpe23Type" | "cpe22Type") => {
                let cpe = Cpe::new(&locator)
                    .map_err(|e| SbomParseError::invalid(field(), &locator, e))?;
                if !cpes.contains(&cpe) {
                    cpes.push(cpe);
                }
            }
            _ => {}
        }
    }
    let mut hashes = Vec::with_capacity(p.checksums.len());
    for (j, c) in p.checksums.iter().enumerate() {
        hashes.push(Digest::new(&c.algorithm, &c.value).map_err(|e| {
            SbomParseError::invalid(
                format!("{path}.checksums[{j}]"),
                &format!("{}:{}", c.algorithm, c.value),
                e,
            )
        })?);
    }
    let version = non_empty(p.version.as_deref()).filter(|v| v != "NOASSERTION");
    Ok(Component {
        bom_ref: non_empty(p.spdx_id.as_deref()),
        kind: p
            .purpose
            .as_deref()
            .map_or(ComponentKind::Unspecified, ComponentKind::from_name),
        name,
        group: None,
        version,
        supplier: actor_name(p.supplier.as_deref()).or_else(|| actor_name(p.originator.as_deref())),
        purl,
        cpes,
        hashes,
    })
}

// --- serde structs: only what the model reads ------------------------------

#[derive(Deserialize)]
struct Doc {
    #[serde(rename = "spdxVersion")]
    spdx_version: Option<String>,
    #[serde(rename = "SPDXID")]
    spdx_id: Option<String>,
    #[serde(rename = "documentNamespace")]
    document_namespace: Option<String>,
    #[serde(rename = "creationInfo")]
    creation_info: Option<CreationInfo>,
    #[serde(
        rename = "documentDescribes",
        default,
        deserialize_with = "null_default"
    )]
    document_describes: Vec<String>,
    #[serde(default, deserialize_with = "null_default")]
    packages: Vec<Package>,
    #[serde(default, deserialize_with = "null_default")]
    relationships: Vec<Relationship>,
}

#[derive(Deserialize)]
struct CreationInfo {
    created: Option<String>,
}

#[derive(Deserialize)]
struct Package {
    #[serde(rename = "SPDXID")]
    spdx_id: Option<String>,
    name: Option<String>,
    #[serde(rename = "versionInfo", default, deserialize_with = "lenient_string")]
    version: Option<String>,
    supplier: Option<String>,
    originator: Option<String>,
    #[serde(rename = "primaryPackagePurpose")]
    purpose: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    checksums: Vec<Checksum>,
    #[serde(rename = "externalRefs", default, deserialize_with = "null_default")]
    external_refs: Vec<ExternalRef>,
}

#[derive(Deserialize)]
struct Checksum {
    algorithm: String,
    #[serde(rename = "checksumValue")]
    value: String,
}

#[derive(Deserialize)]
struct ExternalRef {
    #[serde(rename = "referenceType")]
    kind: Option<String>,
    #[serde(rename = "referenceLocator")]
    locator: Option<String>,
}

#[derive(Deserialize)]
struct Relationship {
    #[serde(rename = "spdxElementId")]
    element: Option<String>,
    #[serde(rename = "relationshipType")]
    kind: Option<String>,
    #[serde(rename = "relatedSpdxElement")]
    related: Option<String>,
}

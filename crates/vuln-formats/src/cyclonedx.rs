//! CycloneDX JSON 1.4, 1.5, 1.6 and 1.7: the SBOM ([`parse`] → [`Sbom`]) and
//! its VEX use ([`parse_vex`]: `vulnerabilities[].analysis` → [`VexStatement`]s).
//!
//! Read with serde structs of this module that declare only the fields the
//! model needs; everything else is skipped unread, so unknown fields and the
//! parts of the spec the model does not use (licenses, services, formulation,
//! annotations, ...) cost nothing and never fail. The `cyclonedx-bom` crate
//! (0.8) was not used: it reads only up to spec 1.5 and models the whole
//! spec, validating far more than the model needs. Spec versions other than
//! 1.4–1.7 are refused with a precise error (1.2 and 1.3 differ in hashes,
//! licenses and metadata; the XML form is not read). What this module does
//! not do: validate against the JSON schema, resolve BOM-Links to other
//! documents, or read XML or protobuf.

use serde::Deserialize;

use crate::error::{SbomParseError, VexParseError};
use crate::json::{self, lenient_string, non_empty, null_default};
use crate::limits::Limits;
use crate::model::{
    Component, ComponentKind, Cpe, Dependency, Digest, Justification, PackageId, Product, Purl,
    Sbom, SbomFormat, Timestamp, VexStatement, VexStatus, VulnId,
};

/// The spec versions read.
pub const SPEC_VERSIONS: &[&str] = &["1.4", "1.5", "1.6", "1.7"];

/// The property name under which the exporter records a statement's author
/// when it differs from the document's (CycloneDX has one author per BOM).
pub const AUTHOR_PROPERTY: &str = "sectwin:vex:author";

/// Whether `bytes` look like a CycloneDX JSON document (`bomFormat`).
pub fn detect(bytes: &[u8]) -> bool {
    #[derive(Deserialize)]
    struct Probe {
        #[serde(rename = "bomFormat")]
        bom_format: Option<String>,
    }
    json::peek::<Probe>(bytes).is_some_and(|p| p.bom_format.as_deref() == Some("CycloneDX"))
}

/// Parses a CycloneDX JSON SBOM with the default [`Limits`].
pub fn parse(bytes: &[u8]) -> Result<Sbom, SbomParseError> {
    parse_with(bytes, &Limits::DEFAULT)
}

/// Parses a CycloneDX JSON SBOM.
pub fn parse_with(bytes: &[u8], limits: &Limits) -> Result<Sbom, SbomParseError> {
    let bom: Bom = json::from_slice(bytes, limits.document_bytes_max)?;
    let spec_version = check_header(&bom).map_err(|h| match h {
        Header::WrongFormat(reason) => SbomParseError::WrongFormat { reason },
        Header::Version(found) => SbomParseError::UnsupportedVersion {
            format: "CycloneDX",
            field: "specVersion",
            found,
            supported: "1.4, 1.5, 1.6, 1.7",
        },
    })?;
    let mut components = Vec::new();
    let mut subject = None;
    let metadata = bom.metadata.unwrap_or_default();
    if let Some(c) = &metadata.component {
        subject = Some(component(c, "metadata.component")?);
        flatten(
            &c.components,
            "metadata.component.components",
            1,
            limits,
            &mut components,
        )?;
    }
    flatten(&bom.components, "components", 0, limits, &mut components)?;
    let mut dependencies = Vec::with_capacity(bom.dependencies.len());
    let mut edges = 0usize;
    for (i, d) in bom.dependencies.iter().enumerate() {
        let from = non_empty(d.reference.as_deref()).ok_or_else(|| SbomParseError::Missing {
            field: format!("dependencies[{i}].ref"),
        })?;
        edges += d.depends_on.len();
        if edges > limits.dependency_edges_max {
            return Err(SbomParseError::TooMany {
                field: "dependencies[].dependsOn".into(),
                count_max: limits.dependency_edges_max,
            });
        }
        dependencies.push(Dependency {
            from,
            to: d.depends_on.clone(),
        });
    }
    let created = match metadata.timestamp.as_deref() {
        Some(t) => Some(
            Timestamp::new(t).map_err(|e| SbomParseError::invalid("metadata.timestamp", t, e))?,
        ),
        None => None,
    };
    Ok(Sbom {
        format: SbomFormat::CycloneDx,
        spec_version,
        serial_number: bom.serial_number,
        created,
        subject,
        components,
        dependencies,
    })
}

/// Parses the VEX content of a CycloneDX JSON document with the default
/// [`Limits`]: one [`VexStatement`] per vulnerability that has an
/// `analysis.state`, its products resolved from `affects[].ref` to the
/// components (a BOM-Link `urn:cdx:…#ref` is resolved by its fragment; a
/// reference to no component in this document is kept as a product with
/// only `product_ref`). Vulnerabilities without analysis are vulnerability
/// reports, not VEX, and are skipped.
pub fn parse_vex(bytes: &[u8]) -> Result<Vec<VexStatement>, VexParseError> {
    parse_vex_with(bytes, &Limits::DEFAULT)
}

/// [`parse_vex`] with explicit limits.
pub fn parse_vex_with(bytes: &[u8], limits: &Limits) -> Result<Vec<VexStatement>, VexParseError> {
    let bom: Bom = json::from_slice(bytes, limits.document_bytes_max)?;
    check_header(&bom).map_err(|h| match h {
        Header::WrongFormat(reason) => VexParseError::WrongFormat { reason },
        Header::Version(found) => VexParseError::UnsupportedVersion {
            format: "CycloneDX",
            field: "specVersion",
            found,
            supported: "1.4, 1.5, 1.6, 1.7",
        },
    })?;
    if bom.vulnerabilities.len() > limits.statements_max {
        return Err(VexParseError::TooMany {
            field: "vulnerabilities".into(),
            count_max: limits.statements_max,
        });
    }
    let metadata = bom.metadata.unwrap_or_default();
    // Every component by bom-ref, the subject included.
    let mut all = Vec::new();
    if let Some(c) = &metadata.component {
        all.push(c);
        collect(&c.components, 1, limits, &mut all).map_err(|_| VexParseError::TooMany {
            field: "components".into(),
            count_max: limits.components_max,
        })?;
    }
    collect(&bom.components, 0, limits, &mut all).map_err(|_| VexParseError::TooMany {
        field: "components".into(),
        count_max: limits.components_max,
    })?;
    let by_ref: std::collections::HashMap<&str, &CdxComponent> = all
        .iter()
        .filter_map(|c| c.bom_ref.as_deref().map(|r| (r, *c)))
        .collect();
    let doc_author = metadata
        .authors
        .iter()
        .find_map(|a| non_empty(a.name.as_deref()))
        .or_else(|| {
            metadata
                .supplier
                .as_ref()
                .and_then(|s| non_empty(s.name.as_deref()))
        })
        .or_else(|| {
            metadata
                .manufacturer
                .as_ref()
                .and_then(|s| non_empty(s.name.as_deref()))
        });
    let mut out = Vec::new();
    for (i, v) in bom.vulnerabilities.iter().enumerate() {
        let Some(analysis) = &v.analysis else {
            continue;
        };
        let Some(state) = analysis.state.as_deref() else {
            continue;
        };
        let field = |f: &str| format!("vulnerabilities[{i}].{f}");
        let status = match state {
            "resolved" | "resolved_with_pedigree" => VexStatus::Fixed,
            "exploitable" => VexStatus::Affected,
            "in_triage" => VexStatus::UnderInvestigation,
            "false_positive" | "not_affected" => VexStatus::NotAffected,
            other => {
                return Err(VexParseError::Invalid {
                    field: field("analysis.state"),
                    value: crate::error::quote(other),
                    expected: "resolved, resolved_with_pedigree, exploitable, in_triage, false_positive or not_affected".into(),
                })
            }
        };
        let id_text = v.id.as_deref().unwrap_or("");
        let vulnerability =
            VulnId::new(id_text).map_err(|e| VexParseError::invalid(field("id"), id_text, e))?;
        let mut aliases = Vec::new();
        for (j, r) in v.references.iter().enumerate() {
            let text = r.id.as_deref().unwrap_or("");
            let a = VulnId::new(text).map_err(|e| {
                VexParseError::invalid(field(&format!("references[{j}].id")), text, e)
            })?;
            if a != vulnerability && !aliases.contains(&a) {
                aliases.push(a);
            }
        }
        let justification = match analysis.justification.as_deref() {
            None => None,
            Some(j) => {
                Some(
                    justification_from_cyclonedx(j).ok_or_else(|| VexParseError::Invalid {
                        field: field("analysis.justification"),
                        value: crate::error::quote(j),
                        expected: "a CycloneDX impact analysis justification".into(),
                    })?,
                )
            }
        };
        if v.affects.len() > limits.products_max {
            return Err(VexParseError::TooMany {
                field: field("affects"),
                count_max: limits.products_max,
            });
        }
        let mut products = Vec::with_capacity(v.affects.len());
        for (j, a) in v.affects.iter().enumerate() {
            let r = non_empty(a.reference.as_deref()).ok_or_else(|| VexParseError::Missing {
                field: field(&format!("affects[{j}].ref")),
            })?;
            let local = match r.strip_prefix("urn:cdx:") {
                Some(link) => link.split_once('#').map(|(_, f)| f).unwrap_or(""),
                None => r.as_str(),
            };
            let product = match by_ref.get(local) {
                Some(c) => {
                    let path = field(&format!("affects[{j}] → component"));
                    let comp = component(c, &path).map_err(sbom_to_vex)?;
                    product_of(comp)
                }
                None => Product {
                    product_ref: Some(r.clone()),
                    ..Product::default()
                },
            };
            products.push(product);
        }
        let action_statement = non_empty(v.recommendation.as_deref()).or_else(|| {
            (!analysis.response.is_empty())
                .then(|| format!("response: {}", analysis.response.join(", ")))
        });
        let ts_text = analysis
            .last_updated
            .as_deref()
            .or(analysis.first_issued.as_deref())
            .or(v.updated.as_deref())
            .or(v.published.as_deref())
            .or(metadata.timestamp.as_deref());
        let timestamp = match ts_text {
            Some(t) => Some(
                Timestamp::new(t)
                    .map_err(|e| VexParseError::invalid(field("analysis.lastUpdated"), t, e))?,
            ),
            None => None,
        };
        let author = v
            .properties
            .iter()
            .find(|p| p.name.as_deref() == Some(AUTHOR_PROPERTY))
            .and_then(|p| non_empty(p.value.as_deref()))
            .or_else(|| doc_author.clone());
        out.push(VexStatement {
            vulnerability,
            aliases,
            products,
            status,
            justification,
            impact_statement: non_empty(analysis.detail.as_deref()),
            action_statement,
            timestamp,
            author,
        });
    }
    Ok(out)
}

/// Maps a CycloneDX `analysis.justification` onto the CISA / OpenVEX set
/// (the mapping CISA's "Minimum Requirements for VEX" and the CycloneDX
/// guide give): `code_not_present` → vulnerable code not present;
/// `code_not_reachable` → not in execute path; `requires_configuration`,
/// `requires_environment` → cannot be controlled by adversary;
/// `requires_dependency` → component not present; `protected_*` → inline
/// mitigations already exist.
pub fn justification_from_cyclonedx(value: &str) -> Option<Justification> {
    Some(match value {
        "code_not_present" => Justification::VulnerableCodeNotPresent,
        "code_not_reachable" => Justification::VulnerableCodeNotInExecutePath,
        "requires_configuration" | "requires_environment" => {
            Justification::VulnerableCodeCannotBeControlledByAdversary
        }
        "requires_dependency" => Justification::ComponentNotPresent,
        "protected_by_compiler"
        | "protected_at_runtime"
        | "protected_at_perimeter"
        | "protected_by_mitigating_control" => Justification::InlineMitigationsAlreadyExist,
        _ => return None,
    })
}

/// The CycloneDX justification the exporter writes for `j` (the inverse of
/// [`justification_from_cyclonedx`] on one representative each).
pub fn justification_to_cyclonedx(j: Justification) -> &'static str {
    match j {
        Justification::VulnerableCodeNotPresent => "code_not_present",
        Justification::VulnerableCodeNotInExecutePath => "code_not_reachable",
        Justification::VulnerableCodeCannotBeControlledByAdversary => "requires_configuration",
        Justification::ComponentNotPresent => "requires_dependency",
        Justification::InlineMitigationsAlreadyExist => "protected_by_mitigating_control",
    }
}

/// A component as a VEX product.
pub(crate) fn product_of(c: Component) -> Product {
    let mut ids = Vec::new();
    if let Some(purl) = c.purl {
        ids.push(PackageId::Purl { purl });
    }
    ids.extend(c.cpes.into_iter().map(|cpe| PackageId::Cpe { cpe }));
    Product {
        ids,
        name: Some(match c.group {
            Some(g) => format!("{g}/{}", c.name),
            None => c.name,
        }),
        version: c.version,
        product_ref: c.bom_ref,
        subcomponents: Vec::new(),
    }
}

fn sbom_to_vex(e: SbomParseError) -> VexParseError {
    match e {
        SbomParseError::Missing { field } => VexParseError::Missing { field },
        SbomParseError::Invalid {
            field,
            value,
            expected,
        } => VexParseError::Invalid {
            field,
            value,
            expected,
        },
        other => VexParseError::Invalid {
            field: ".".into(),
            value: String::new(),
            expected: other.to_string(),
        },
    }
}

enum Header {
    WrongFormat(String),
    Version(String),
}

fn check_header(bom: &Bom) -> Result<String, Header> {
    match bom.bom_format.as_deref() {
        Some("CycloneDX") => {}
        Some(other) => {
            return Err(Header::WrongFormat(format!(
                "`bomFormat` is `{}`, not `CycloneDX`",
                crate::error::quote(other)
            )))
        }
        None => return Err(Header::WrongFormat("`bomFormat` is missing".into())),
    }
    let v = bom.spec_version.clone().unwrap_or_default();
    if SPEC_VERSIONS.contains(&v.as_str()) {
        Ok(v)
    } else {
        Err(Header::Version(v))
    }
}

fn flatten(
    list: &[CdxComponent],
    path: &str,
    depth: usize,
    limits: &Limits,
    out: &mut Vec<Component>,
) -> Result<(), SbomParseError> {
    if depth > limits.nesting_depth_max {
        return Err(SbomParseError::TooMany {
            field: format!("{path} (nesting depth)"),
            count_max: limits.nesting_depth_max,
        });
    }
    for (i, c) in list.iter().enumerate() {
        if out.len() >= limits.components_max {
            return Err(SbomParseError::TooMany {
                field: "components".into(),
                count_max: limits.components_max,
            });
        }
        let here = format!("{path}[{i}]");
        out.push(component(c, &here)?);
        if !c.components.is_empty() {
            flatten(
                &c.components,
                &format!("{here}.components"),
                depth + 1,
                limits,
                out,
            )?;
        }
    }
    Ok(())
}

fn collect<'a>(
    list: &'a [CdxComponent],
    depth: usize,
    limits: &Limits,
    out: &mut Vec<&'a CdxComponent>,
) -> Result<(), ()> {
    if depth > limits.nesting_depth_max {
        return Err(());
    }
    for c in list {
        if out.len() >= limits.components_max {
            return Err(());
        }
        out.push(c);
        collect(&c.components, depth + 1, limits, out)?;
    }
    Ok(())
}

fn component(c: &CdxComponent, path: &str) -> Result<Component, SbomParseError> {
    let name = non_empty(c.name.as_deref()).ok_or_else(|| SbomParseError::Missing {
        field: format!("{path}.name"),
    })?;
    let purl = match non_empty(c.purl.as_deref()) {
        Some(p) => Some(
            Purl::new(&p).map_err(|e| SbomParseError::invalid(format!("{path}.purl"), &p, e))?,
        ),
        None => None,
    };
    let cpes = match non_empty(c.cpe.as_deref()) {
        Some(p) => {
            vec![Cpe::new(&p).map_err(|e| SbomParseError::invalid(format!("{path}.cpe"), &p, e))?]
        }
        None => Vec::new(),
    };
    let mut hashes = Vec::with_capacity(c.hashes.len());
    for (j, h) in c.hashes.iter().enumerate() {
        hashes.push(Digest::new(&h.alg, &h.content).map_err(|e| {
            SbomParseError::invalid(
                format!("{path}.hashes[{j}]"),
                &format!("{}:{}", h.alg, h.content),
                e,
            )
        })?);
    }
    let supplier = c
        .supplier
        .as_ref()
        .and_then(|s| non_empty(s.name.as_deref()))
        .or_else(|| {
            c.manufacturer
                .as_ref()
                .and_then(|s| non_empty(s.name.as_deref()))
        })
        .or_else(|| non_empty(c.publisher.as_deref()))
        .or_else(|| non_empty(c.author.as_deref()));
    Ok(Component {
        bom_ref: non_empty(c.bom_ref.as_deref()),
        kind: c
            .kind
            .as_deref()
            .map_or(ComponentKind::Unspecified, ComponentKind::from_name),
        name,
        group: non_empty(c.group.as_deref()),
        version: non_empty(c.version.as_deref()),
        supplier,
        purl,
        cpes,
        hashes,
    })
}

// --- serde structs: only what the model reads ------------------------------

#[derive(Deserialize)]
struct Bom {
    #[serde(rename = "bomFormat")]
    bom_format: Option<String>,
    #[serde(rename = "specVersion", default, deserialize_with = "lenient_string")]
    spec_version: Option<String>,
    #[serde(rename = "serialNumber")]
    serial_number: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    metadata: Option<Metadata>,
    #[serde(default, deserialize_with = "null_default")]
    components: Vec<CdxComponent>,
    #[serde(default, deserialize_with = "null_default")]
    dependencies: Vec<CdxDependency>,
    #[serde(default, deserialize_with = "null_default")]
    vulnerabilities: Vec<CdxVulnerability>,
}

#[derive(Deserialize, Default)]
struct Metadata {
    timestamp: Option<String>,
    component: Option<CdxComponent>,
    #[serde(default, deserialize_with = "null_default")]
    authors: Vec<Org>,
    supplier: Option<Org>,
    #[serde(alias = "manufacture")]
    manufacturer: Option<Org>,
}

#[derive(Deserialize)]
struct Org {
    name: Option<String>,
}

#[derive(Deserialize)]
struct CdxComponent {
    #[serde(rename = "type")]
    kind: Option<String>,
    #[serde(rename = "bom-ref")]
    bom_ref: Option<String>,
    name: Option<String>,
    group: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    version: Option<String>,
    supplier: Option<Org>,
    manufacturer: Option<Org>,
    publisher: Option<String>,
    author: Option<String>,
    purl: Option<String>,
    cpe: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    hashes: Vec<CdxHash>,
    #[serde(default, deserialize_with = "null_default")]
    components: Vec<CdxComponent>,
}

#[derive(Deserialize)]
struct CdxHash {
    alg: String,
    content: String,
}

#[derive(Deserialize)]
struct CdxDependency {
    #[serde(rename = "ref")]
    reference: Option<String>,
    #[serde(rename = "dependsOn", default, deserialize_with = "null_default")]
    depends_on: Vec<String>,
}

#[derive(Deserialize)]
struct CdxVulnerability {
    id: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    references: Vec<CdxVulnReference>,
    recommendation: Option<String>,
    published: Option<String>,
    updated: Option<String>,
    analysis: Option<Analysis>,
    #[serde(default, deserialize_with = "null_default")]
    affects: Vec<Affects>,
    #[serde(default, deserialize_with = "null_default")]
    properties: Vec<Property>,
}

#[derive(Deserialize)]
struct CdxVulnReference {
    id: Option<String>,
}

#[derive(Deserialize)]
struct Analysis {
    state: Option<String>,
    justification: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    response: Vec<String>,
    detail: Option<String>,
    #[serde(rename = "firstIssued")]
    first_issued: Option<String>,
    #[serde(rename = "lastUpdated")]
    last_updated: Option<String>,
}

#[derive(Deserialize)]
struct Affects {
    #[serde(rename = "ref")]
    reference: Option<String>,
}

#[derive(Deserialize)]
struct Property {
    name: Option<String>,
    value: Option<String>,
}

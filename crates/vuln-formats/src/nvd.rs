//! NVD CVE API 2.0 responses (`format: NVD_CVE`, `version: 2.0`, the
//! `vulnerabilities[].cve` items) → [`Advisory`]s.
//!
//! Every `vulnerable: true` `cpeMatch` of a configuration becomes one
//! [`Affected`] with its CPE as the package and its
//! `versionStart*`/`versionEnd*` bounds as a range of scheme `nvd`; with no
//! bound, the CPE's own version field says it: `*` sets `all_versions`, any
//! other value (including `-`, "not applicable") is an exact version. The
//! non-vulnerable CPEs of the same configuration (an `AND` of "this
//! software running on that platform") go to [`Affected::platforms`].
//! Negated nodes are skipped. Metrics v2, v3.0, v3.1 and v4.0 keep their
//! source and `Primary`/`Secondary` type; CISA KEV fields
//! (`cisaExploitAdd`) fill [`CisaAdp::kev`].
//!
//! Read with serde structs of this module (no maintained crate reads API
//! 2.0). The legacy 1.1 JSON feeds (`CVE_Items`) are refused with a precise
//! error. Nothing here talks to the API.

use serde::Deserialize;

use crate::common::{adv_id, adv_timestamp, push_unique};
use crate::error::AdvisoryParseError;
use crate::json::{self, lenient_f64, non_empty, null_default};
use crate::limits::Limits;
use crate::model::{
    Advisory, AdvisoryFormat, Affected, Bound, CisaAdp, Cpe, Kev, PackageId, Reference,
    ScorePublisher, Severity, SeverityScheme, VersionRange,
};

/// Whether `bytes` look like an NVD CVE API 2.0 response (`format:
/// NVD_CVE`, or `vulnerabilities` with `resultsPerPage`) or a legacy NVD
/// feed (`CVE_Items`, refused by [`parse`] with a precise error).
pub fn detect(bytes: &[u8]) -> bool {
    #[derive(Deserialize)]
    struct Probe {
        format: Option<String>,
        #[serde(rename = "resultsPerPage")]
        results_per_page: Option<serde::de::IgnoredAny>,
        vulnerabilities: Option<serde::de::IgnoredAny>,
        #[serde(rename = "CVE_Items")]
        cve_items: Option<serde::de::IgnoredAny>,
    }
    json::peek::<Probe>(bytes).is_some_and(|p| {
        p.format.as_deref() == Some("NVD_CVE")
            || (p.vulnerabilities.is_some() && p.results_per_page.is_some())
            || p.cve_items.is_some()
    })
}

/// Parses an NVD CVE API 2.0 response with the default [`Limits`].
pub fn parse(bytes: &[u8]) -> Result<Vec<Advisory>, AdvisoryParseError> {
    parse_with(bytes, &Limits::DEFAULT)
}

/// Parses an NVD CVE API 2.0 response.
pub fn parse_with(bytes: &[u8], limits: &Limits) -> Result<Vec<Advisory>, AdvisoryParseError> {
    let response: Response = json::from_slice(bytes, limits.document_bytes_max)?;
    if response.cve_items.is_some() {
        return Err(AdvisoryParseError::UnsupportedVersion {
            format: "NVD",
            field: "CVE_data_version",
            found: response.cve_data_version.unwrap_or_else(|| "1.x".into()),
            supported: "CVE API 2.0",
        });
    }
    match response.format.as_deref() {
        None | Some("NVD_CVE") => {}
        Some(other) => {
            return Err(AdvisoryParseError::WrongFormat {
                reason: format!(
                    "`format` is `{}`, not `NVD_CVE`",
                    crate::error::quote(other)
                ),
            })
        }
    }
    if let Some(v) = response.version.as_deref() {
        if v != "2.0" {
            return Err(AdvisoryParseError::UnsupportedVersion {
                format: "NVD CVE API",
                field: "version",
                found: v.to_string(),
                supported: "2.0",
            });
        }
    }
    let Some(items) = response.vulnerabilities else {
        return Err(AdvisoryParseError::WrongFormat {
            reason: "`vulnerabilities` is missing".into(),
        });
    };
    if items.len() > limits.advisories_max {
        return Err(AdvisoryParseError::TooMany {
            field: "vulnerabilities".into(),
            count_max: limits.advisories_max,
        });
    }
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let path = format!("vulnerabilities[{i}].cve");
            let cve = item
                .cve
                .as_ref()
                .ok_or_else(|| AdvisoryParseError::Missing {
                    field: path.clone(),
                })?;
            advisory(cve, &path, limits)
        })
        .collect()
}

fn advisory(c: &Cve, path: &str, limits: &Limits) -> Result<Advisory, AdvisoryParseError> {
    let f = |s: &str| format!("{path}.{s}");
    let id_text =
        non_empty(c.id.as_deref()).ok_or_else(|| AdvisoryParseError::Missing { field: f("id") })?;
    let id = adv_id(|| f("id"), &id_text)?;
    let mut severities = Vec::new();
    for (list, name, scheme) in [
        (&c.metrics.v40, "cvssMetricV40", SeverityScheme::CvssV40),
        (&c.metrics.v31, "cvssMetricV31", SeverityScheme::CvssV31),
        (&c.metrics.v30, "cvssMetricV30", SeverityScheme::CvssV30),
        (&c.metrics.v2, "cvssMetricV2", SeverityScheme::CvssV2),
    ] {
        for (i, m) in list.iter().enumerate() {
            let data = m.cvss_data.as_ref();
            let vector = data
                .and_then(|d| non_empty(d.vector_string.as_deref()))
                .ok_or_else(|| AdvisoryParseError::Missing {
                    field: f(&format!("metrics.{name}[{i}].cvssData.vectorString")),
                })?;
            let source = non_empty(m.source.as_deref());
            let publisher = match m.kind.as_deref() {
                Some("Primary") => ScorePublisher::NvdPrimary(source),
                Some("Secondary") => ScorePublisher::NvdSecondary(source),
                other => {
                    return Err(AdvisoryParseError::Invalid {
                        field: f(&format!("metrics.{name}[{i}].type")),
                        value: crate::error::quote(other.unwrap_or("")),
                        expected: "Primary or Secondary".into(),
                    })
                }
            };
            push_unique(
                &mut severities,
                Severity {
                    scheme: scheme.clone(),
                    vector,
                    score: data.and_then(|d| d.base_score),
                    publisher,
                },
            );
        }
    }
    let mut cwes = Vec::new();
    for w in &c.weaknesses {
        for d in &w.description {
            if let Some(v) = d.value.as_deref().filter(|v| v.starts_with("CWE-")) {
                push_unique(&mut cwes, v.to_string());
            }
        }
    }
    let mut affected: Vec<Affected> = Vec::new();
    for (i, config) in c.configurations.iter().enumerate() {
        // Platforms: the non-vulnerable CPEs of an AND configuration.
        let and = config.operator.as_deref() == Some("AND");
        let mut platforms = Vec::new();
        if and {
            for node in config.nodes.iter().filter(|n| !n.negate) {
                for m in node.cpe_match.iter().filter(|m| !m.vulnerable) {
                    if let Some(c) = non_empty(m.criteria.as_deref()) {
                        push_unique(&mut platforms, c);
                    }
                }
            }
        }
        for (j, node) in config.nodes.iter().enumerate() {
            if node.negate {
                continue;
            }
            for (k, m) in node.cpe_match.iter().enumerate() {
                if !m.vulnerable {
                    continue;
                }
                let field = f(&format!("configurations[{i}].nodes[{j}].cpeMatch[{k}]"));
                if affected.len() >= limits.affected_per_advisory_max {
                    return Err(AdvisoryParseError::TooMany {
                        field: f("configurations"),
                        count_max: limits.affected_per_advisory_max,
                    });
                }
                let criteria = m.criteria.as_deref().unwrap_or("");
                let cpe = Cpe::new(criteria).map_err(|e| {
                    AdvisoryParseError::invalid(format!("{field}.criteria"), criteria, e)
                })?;
                let mut entry = Affected::new(Vec::new());
                let introduced = match (&m.start_including, &m.start_excluding) {
                    (Some(v), _) => Some(Bound::including(v)),
                    (None, Some(v)) => Some(Bound::excluding(v)),
                    (None, None) => None,
                };
                let end = match (&m.end_including, &m.end_excluding) {
                    (Some(v), _) => Some(Bound::including(v)),
                    (None, Some(v)) => Some(Bound::excluding(v)),
                    (None, None) => None,
                };
                if introduced.is_some() || end.is_some() {
                    entry.ranges.push(VersionRange {
                        scheme: "nvd".into(),
                        introduced,
                        end,
                    });
                } else {
                    match cpe.version_field() {
                        Some("*") | None => entry.all_versions = true,
                        Some(v) => entry.versions.push(v.to_string()),
                    }
                }
                entry.package.push(PackageId::Cpe { cpe });
                entry.platforms = platforms.clone();
                affected.push(entry);
            }
        }
    }
    let references = c
        .references
        .iter()
        .filter_map(|r| {
            Some(Reference {
                url: non_empty(r.url.as_deref())?,
                tags: r.tags.clone(),
            })
        })
        .collect();
    let cisa_adp = match c.cisa_exploit_add.as_deref() {
        Some(date) => Some(CisaAdp {
            kev: Some(Kev {
                date_added: adv_timestamp(|| f("cisaExploitAdd"), Some(date))?,
                reference: None,
            }),
            ssvc: None,
        }),
        None => None,
    };
    let rejected = c.vuln_status.as_deref() == Some("Rejected");
    let modified = adv_timestamp(|| f("lastModified"), c.last_modified.as_deref())?;
    Ok(Advisory {
        id,
        aliases: Vec::new(),
        source: AdvisoryFormat::NvdApi2,
        published: adv_timestamp(|| f("published"), c.published.as_deref())?,
        withdrawn: if rejected { modified.clone() } else { None },
        modified,
        summary: non_empty(c.cisa_vulnerability_name.as_deref()),
        description: c
            .descriptions
            .iter()
            .find(|d| d.lang.as_deref() == Some("en"))
            .or_else(|| c.descriptions.first())
            .and_then(|d| non_empty(d.value.as_deref())),
        cwes,
        references,
        severities,
        cisa_adp,
        affected,
        dropped: Vec::new(),
    })
}

// --- serde structs: only what the model reads ------------------------------

#[derive(Deserialize)]
struct Response {
    format: Option<String>,
    version: Option<String>,
    vulnerabilities: Option<Vec<Item>>,
    #[serde(rename = "CVE_Items")]
    cve_items: Option<serde::de::IgnoredAny>,
    #[serde(rename = "CVE_data_version")]
    cve_data_version: Option<String>,
}

#[derive(Deserialize)]
struct Item {
    cve: Option<Cve>,
}

#[derive(Deserialize)]
struct Cve {
    id: Option<String>,
    published: Option<String>,
    #[serde(rename = "lastModified")]
    last_modified: Option<String>,
    #[serde(rename = "vulnStatus")]
    vuln_status: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    descriptions: Vec<LangString>,
    #[serde(default, deserialize_with = "null_default")]
    metrics: Metrics,
    #[serde(default, deserialize_with = "null_default")]
    weaknesses: Vec<Weakness>,
    #[serde(default, deserialize_with = "null_default")]
    configurations: Vec<Configuration>,
    #[serde(default, deserialize_with = "null_default")]
    references: Vec<NvdReference>,
    #[serde(rename = "cisaExploitAdd")]
    cisa_exploit_add: Option<String>,
    #[serde(rename = "cisaVulnerabilityName")]
    cisa_vulnerability_name: Option<String>,
}

#[derive(Deserialize)]
struct LangString {
    lang: Option<String>,
    value: Option<String>,
}

#[derive(Deserialize, Default)]
struct Metrics {
    #[serde(rename = "cvssMetricV40", default, deserialize_with = "null_default")]
    v40: Vec<Metric>,
    #[serde(rename = "cvssMetricV31", default, deserialize_with = "null_default")]
    v31: Vec<Metric>,
    #[serde(rename = "cvssMetricV30", default, deserialize_with = "null_default")]
    v30: Vec<Metric>,
    #[serde(rename = "cvssMetricV2", default, deserialize_with = "null_default")]
    v2: Vec<Metric>,
}

#[derive(Deserialize)]
struct Metric {
    source: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    #[serde(rename = "cvssData")]
    cvss_data: Option<CvssData>,
}

#[derive(Deserialize)]
struct CvssData {
    #[serde(rename = "vectorString")]
    vector_string: Option<String>,
    #[serde(rename = "baseScore", default, deserialize_with = "lenient_f64")]
    base_score: Option<f64>,
}

#[derive(Deserialize)]
struct Weakness {
    #[serde(default, deserialize_with = "null_default")]
    description: Vec<LangString>,
}

#[derive(Deserialize)]
struct Configuration {
    operator: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    nodes: Vec<Node>,
}

#[derive(Deserialize)]
struct Node {
    #[serde(default)]
    negate: bool,
    #[serde(rename = "cpeMatch", default, deserialize_with = "null_default")]
    cpe_match: Vec<CpeMatch>,
}

#[derive(Deserialize)]
struct CpeMatch {
    #[serde(default)]
    vulnerable: bool,
    criteria: Option<String>,
    #[serde(rename = "versionStartIncluding")]
    start_including: Option<String>,
    #[serde(rename = "versionStartExcluding")]
    start_excluding: Option<String>,
    #[serde(rename = "versionEndIncluding")]
    end_including: Option<String>,
    #[serde(rename = "versionEndExcluding")]
    end_excluding: Option<String>,
}

#[derive(Deserialize)]
struct NvdReference {
    url: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    tags: Vec<String>,
}

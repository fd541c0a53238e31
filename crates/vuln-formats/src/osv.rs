//! OSV JSON (schema 1.x; one record or an array of records) → [`Advisory`]s.
//!
//! `affected[].ranges[].events` are folded in order into intervals
//! (`introduced` inclusive; `fixed` and `limit` exclusive; `last_affected`
//! inclusive); `introduced: "0"` with no end sets `all_versions`. The range
//! scheme is `SEMVER`, `ECOSYSTEM:<ecosystem>` or `GIT:<repo>`. CWE ids come
//! from `database_specific.cwe_ids` (GitHub's convention) when present.
//!
//! Read with serde structs of this module rather than the `osv` crate (0.3),
//! whose types require fields real records omit and whose schema feature
//! pulls in more than the model needs. This module does not fetch anything
//! (no OSV API client) and does not order events by version.

use serde::Deserialize;

use crate::common::{adv_id, adv_timestamp, fold_events, push_unique, Event};
use crate::error::AdvisoryParseError;
use crate::json::{self, lenient_string, non_empty, null_default};
use crate::limits::Limits;
use crate::model::{
    Advisory, AdvisoryFormat, Affected, PackageId, Purl, Reference, ScorePublisher, Severity,
    SeverityScheme,
};

/// Whether `bytes` look like OSV JSON: an object (or array of objects) with
/// `id` and `modified`, the schema's two required fields.
pub fn detect(bytes: &[u8]) -> bool {
    #[derive(Deserialize)]
    struct Probe {
        id: Option<serde::de::IgnoredAny>,
        modified: Option<serde::de::IgnoredAny>,
    }
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(Probe),
        Many(Vec<Probe>),
    }
    match json::peek::<OneOrMany>(bytes) {
        Some(OneOrMany::One(p)) => p.id.is_some() && p.modified.is_some(),
        Some(OneOrMany::Many(list)) => list
            .first()
            .is_some_and(|p| p.id.is_some() && p.modified.is_some()),
        None => false,
    }
}

/// Parses OSV JSON (a record or an array) with the default [`Limits`].
pub fn parse(bytes: &[u8]) -> Result<Vec<Advisory>, AdvisoryParseError> {
    parse_with(bytes, &Limits::DEFAULT)
}

/// Parses OSV JSON (a record or an array).
pub fn parse_with(bytes: &[u8], limits: &Limits) -> Result<Vec<Advisory>, AdvisoryParseError> {
    let first = bytes
        .iter()
        .find(|b| !b.is_ascii_whitespace() && !matches!(b, 0xEF | 0xBB | 0xBF))
        .copied();
    if first == Some(b'[') {
        let records: Vec<Record> = json::from_slice(bytes, limits.document_bytes_max)?;
        if records.len() > limits.advisories_max {
            return Err(AdvisoryParseError::TooMany {
                field: ".".into(),
                count_max: limits.advisories_max,
            });
        }
        records
            .iter()
            .enumerate()
            .map(|(i, r)| advisory(r, &format!("[{i}]."), limits))
            .collect()
    } else {
        let record: Record = json::from_slice(bytes, limits.document_bytes_max)?;
        Ok(vec![advisory(&record, "", limits)?])
    }
}

fn advisory(r: &Record, prefix: &str, limits: &Limits) -> Result<Advisory, AdvisoryParseError> {
    let f = |s: &str| format!("{prefix}{s}");
    if let Some(v) = r.schema_version.as_deref() {
        if !(v.starts_with("1.") || v == "1") {
            return Err(AdvisoryParseError::UnsupportedVersion {
                format: "OSV",
                field: "schema_version",
                found: v.to_string(),
                supported: "1.x",
            });
        }
    }
    let id_text =
        non_empty(r.id.as_deref()).ok_or_else(|| AdvisoryParseError::Missing { field: f("id") })?;
    let id = adv_id(|| f("id"), &id_text)?;
    let modified = adv_timestamp(|| f("modified"), r.modified.as_deref())?;
    if modified.is_none() {
        return Err(AdvisoryParseError::Missing {
            field: f("modified"),
        });
    }
    let mut aliases = Vec::new();
    for (i, a) in r.aliases.iter().enumerate() {
        let a = adv_id(|| f(&format!("aliases[{i}]")), a)?;
        if a != id {
            push_unique(&mut aliases, a);
        }
    }
    let mut severities = Vec::new();
    let mut push_severity = |list: &[OsvSeverity]| {
        for s in list {
            let (Some(kind), Some(score)) = (s.kind.as_deref(), non_empty(s.score.as_deref()))
            else {
                continue;
            };
            let scheme = match kind {
                "CVSS_V2" => SeverityScheme::CvssV2,
                "CVSS_V3" | "CVSS_V4" => SeverityScheme::from_vector(&score),
                other => SeverityScheme::Other(other.to_string()),
            };
            push_unique(
                &mut severities,
                Severity {
                    scheme,
                    vector: score,
                    score: None,
                    publisher: ScorePublisher::Publisher(None),
                },
            );
        }
    };
    push_severity(&r.severity);
    if r.affected.len() > limits.affected_per_advisory_max {
        return Err(AdvisoryParseError::TooMany {
            field: f("affected"),
            count_max: limits.affected_per_advisory_max,
        });
    }
    let mut affected = Vec::with_capacity(r.affected.len());
    for (i, a) in r.affected.iter().enumerate() {
        push_severity(&a.severity);
        let path = f(&format!("affected[{i}]"));
        let mut package = Vec::new();
        if let Some(p) = &a.package {
            if let Some(purl) = non_empty(p.purl.as_deref()) {
                let purl = Purl::new(&purl).map_err(|e| {
                    AdvisoryParseError::invalid(format!("{path}.package.purl"), &purl, e)
                })?;
                package.push(PackageId::Purl { purl });
            }
            if let (Some(ecosystem), Some(name)) = (
                non_empty(p.ecosystem.as_deref()),
                non_empty(p.name.as_deref()),
            ) {
                package.push(PackageId::Ecosystem { ecosystem, name });
            }
        }
        let mut entry = Affected::new(package);
        let events: usize = a.ranges.iter().map(|r| r.events.len()).sum();
        if events + a.versions.len() > limits.versions_per_affected_max {
            return Err(AdvisoryParseError::TooMany {
                field: format!("{path}.ranges"),
                count_max: limits.versions_per_affected_max,
            });
        }
        let ecosystem = a
            .package
            .as_ref()
            .and_then(|p| p.ecosystem.clone())
            .unwrap_or_default();
        for (j, range) in a.ranges.iter().enumerate() {
            let kind = range.kind.as_deref().unwrap_or("");
            let scheme = match kind {
                "ECOSYSTEM" => format!("ECOSYSTEM:{ecosystem}"),
                "GIT" => format!("GIT:{}", range.repo.as_deref().unwrap_or("")),
                "SEMVER" => "SEMVER".to_string(),
                other => {
                    return Err(AdvisoryParseError::Invalid {
                        field: format!("{path}.ranges[{j}].type"),
                        value: crate::error::quote(other),
                        expected: "SEMVER, ECOSYSTEM or GIT".into(),
                    })
                }
            };
            let mut events = Vec::with_capacity(range.events.len());
            for (k, e) in range.events.iter().enumerate() {
                events.push(if let Some(v) = e.introduced.as_deref() {
                    Event::Introduced(v)
                } else if let Some(v) = e.fixed.as_deref() {
                    Event::Fixed(v)
                } else if let Some(v) = e.last_affected.as_deref() {
                    Event::LastAffected(v)
                } else if let Some(v) = e.limit.as_deref() {
                    Event::Limit(v)
                } else {
                    return Err(AdvisoryParseError::Missing {
                        field: format!(
                            "{path}.ranges[{j}].events[{k}].introduced|fixed|last_affected|limit"
                        ),
                    });
                });
            }
            let (ranges, all) = fold_events(&scheme, events);
            entry.ranges.extend(ranges);
            entry.all_versions |= all;
        }
        entry.versions = a.versions.iter().flatten().cloned().collect();
        affected.push(entry);
    }
    let mut cwes = Vec::new();
    if let Some(d) = &r.database_specific {
        for c in &d.cwe_ids {
            push_unique(&mut cwes, c.clone());
        }
    }
    let references = r
        .references
        .iter()
        .filter_map(|x| {
            Some(Reference {
                url: non_empty(x.url.as_deref())?,
                tags: x.kind.iter().cloned().collect(),
            })
        })
        .collect();
    Ok(Advisory {
        id,
        aliases,
        source: AdvisoryFormat::Osv,
        published: adv_timestamp(|| f("published"), r.published.as_deref())?,
        modified,
        withdrawn: adv_timestamp(|| f("withdrawn"), r.withdrawn.as_deref())?,
        summary: non_empty(r.summary.as_deref()),
        description: non_empty(r.details.as_deref()),
        cwes,
        references,
        severities,
        cisa_adp: None,
        affected,
        dropped: Vec::new(),
    })
}

// --- serde structs: only what the model reads ------------------------------

#[derive(Deserialize)]
struct Record {
    schema_version: Option<String>,
    id: Option<String>,
    modified: Option<String>,
    published: Option<String>,
    withdrawn: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    aliases: Vec<String>,
    summary: Option<String>,
    details: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    severity: Vec<OsvSeverity>,
    #[serde(default, deserialize_with = "null_default")]
    affected: Vec<OsvAffected>,
    #[serde(default, deserialize_with = "null_default")]
    references: Vec<OsvReference>,
    database_specific: Option<DatabaseSpecific>,
}

#[derive(Deserialize)]
struct OsvSeverity {
    #[serde(rename = "type")]
    kind: Option<String>,
    score: Option<String>,
}

#[derive(Deserialize)]
struct OsvAffected {
    package: Option<OsvPackage>,
    #[serde(default, deserialize_with = "null_default")]
    severity: Vec<OsvSeverity>,
    #[serde(default, deserialize_with = "null_default")]
    ranges: Vec<OsvRange>,
    #[serde(default, deserialize_with = "null_default")]
    versions: Vec<LenientVersion>,
}

/// A version that may be written as a number.
#[derive(Deserialize)]
#[serde(transparent)]
struct LenientVersion(#[serde(deserialize_with = "lenient_string")] Option<String>);

impl<'a> IntoIterator for &'a LenientVersion {
    type Item = &'a String;
    type IntoIter = std::option::Iter<'a, String>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

#[derive(Deserialize)]
struct OsvPackage {
    ecosystem: Option<String>,
    name: Option<String>,
    purl: Option<String>,
}

#[derive(Deserialize)]
struct OsvRange {
    #[serde(rename = "type")]
    kind: Option<String>,
    repo: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    events: Vec<OsvEvent>,
}

#[derive(Deserialize)]
struct OsvEvent {
    #[serde(default, deserialize_with = "lenient_string")]
    introduced: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    fixed: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    last_affected: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    limit: Option<String>,
}

#[derive(Deserialize)]
struct OsvReference {
    #[serde(rename = "type")]
    kind: Option<String>,
    url: Option<String>,
}

#[derive(Deserialize)]
struct DatabaseSpecific {
    #[serde(default, deserialize_with = "null_default")]
    cwe_ids: Vec<String>,
}

//! Known-exploited lists in the format of CISA's Known Exploited
//! Vulnerabilities catalogue (its JSON and its JSON Schema, as CISA
//! publishes them; an EU list or a vendor's own in the same format reads
//! the same way).
//!
//! Strict where the schema is: every required field present with the
//! right type, `cveID` of the form `CVE-YYYY-NNNN…`, `dateAdded` and
//! `dueDate` calendar dates, `cwes` of the form `CWE-N`, no id listed twice,
//! and `count` equal to the entries. `knownRansomwareCampaignUse` is
//! `Known` or `Unknown` (any other value is kept as written: the schema
//! leaves it open, and a new value is news, not an error).

use serde::{Deserialize, Serialize};

use crate::limits::Limits;

/// Why a catalogue does not read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KevParseError {
    /// Larger than [`Limits::document_bytes_max`].
    #[error("the catalogue is {bytes} bytes, more than the {bytes_max} allowed")]
    TooLarge {
        /// Its size.
        bytes: usize,
        /// The limit.
        bytes_max: usize,
    },
    /// Not JSON, or a field of the wrong type or missing.
    #[error("invalid catalogue at `{path}`: {message}")]
    Json {
        /// Where.
        path: String,
        /// What was wrong.
        message: String,
    },
    /// A field whose value breaks the schema.
    #[error("`{path}`: {value:?} is not {expected}")]
    Field {
        /// Where (`vulnerabilities[3].dueDate`).
        path: String,
        /// The value.
        value: String,
        /// What the schema wants.
        expected: &'static str,
    },
    /// One CVE listed twice.
    #[error("{cve} is listed twice (vulnerabilities[{first}] and vulnerabilities[{second}])")]
    Duplicate {
        /// The CVE.
        cve: String,
        /// Its first position.
        first: usize,
        /// Its second position.
        second: usize,
    },
    /// `count` disagrees with the entries.
    #[error("the catalogue says count {count} but lists {listed} vulnerabilities")]
    Count {
        /// What `count` says.
        count: u64,
        /// How many there are.
        listed: usize,
    },
    /// More entries than [`Limits::advisories_max`].
    #[error("the catalogue lists {listed} vulnerabilities, more than the {max} allowed")]
    TooMany {
        /// How many.
        listed: usize,
        /// The limit.
        max: usize,
    },
}

/// Whether an exploited vulnerability is known to be used in ransomware
/// campaigns (`knownRansomwareCampaignUse`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RansomwareUse {
    /// `Known`.
    Known,
    /// `Unknown`.
    Unknown,
    /// Another value, as written.
    Other(String),
}

impl RansomwareUse {
    fn from_field(s: &str) -> RansomwareUse {
        match s {
            "Known" => RansomwareUse::Known,
            "Unknown" | "" => RansomwareUse::Unknown,
            other => RansomwareUse::Other(other.to_string()),
        }
    }

    /// Known to be used by ransomware.
    pub fn is_known(&self) -> bool {
        matches!(self, RansomwareUse::Known)
    }
}

/// One entry of a known-exploited list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KevEntry {
    /// `CVE-YYYY-NNNN`.
    pub cve: String,
    /// The vendor or project.
    pub vendor_project: String,
    /// The product.
    pub product: String,
    /// The vulnerability's name.
    pub name: String,
    /// When it was added (`YYYY-MM-DD`).
    pub date_added: String,
    /// What it is.
    pub short_description: String,
    /// What to do.
    pub required_action: String,
    /// By when (`YYYY-MM-DD`).
    pub due_date: String,
    /// Used by ransomware.
    pub ransomware: RansomwareUse,
    /// Notes (references), if any.
    pub notes: String,
    /// CWE ids.
    pub cwes: Vec<String>,
}

/// A whole list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KevCatalog {
    /// Its title, if any.
    pub title: Option<String>,
    /// `catalogVersion`.
    pub version: String,
    /// `dateReleased` (RFC 3339, as written).
    pub date_released: String,
    /// The entries, in the list's order.
    pub entries: Vec<KevEntry>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawCatalog {
    title: Option<String>,
    catalog_version: String,
    date_released: String,
    count: u64,
    vulnerabilities: Vec<RawEntry>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawEntry {
    #[serde(rename = "cveID")]
    cve_id: String,
    vendor_project: String,
    product: String,
    vulnerability_name: String,
    date_added: String,
    short_description: String,
    required_action: String,
    due_date: String,
    #[serde(default)]
    known_ransomware_campaign_use: Option<String>,
    #[serde(default)]
    notes: Option<String>,
    #[serde(default)]
    cwes: Option<Vec<String>>,
}

/// Whether `s` is `CVE-YYYY-NNNN…` (4 to 19 digits after the year).
pub fn is_cve_id(s: &str) -> bool {
    let Some(rest) = s.strip_prefix("CVE-") else {
        return false;
    };
    let Some((year, number)) = rest.split_once('-') else {
        return false;
    };
    year.len() == 4
        && year.bytes().all(|b| b.is_ascii_digit())
        && (4..=19).contains(&number.len())
        && number.bytes().all(|b| b.is_ascii_digit())
}

/// Whether `s` is a calendar date `YYYY-MM-DD`.
pub fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|d| d.iter().all(u8::is_ascii_digit));
    if !(b.len() == 10 && digits(0..4) && b.get(4) == Some(&b'-') && digits(5..7))
        || b.get(7) != Some(&b'-')
        || !digits(8..10)
    {
        return false;
    }
    let num = |r: std::ops::Range<usize>| s.get(r).and_then(|p| p.parse::<u32>().ok());
    let (Some(y), Some(m), Some(d)) = (num(0..4), num(5..7), num(8..10)) else {
        return false;
    };
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&d)
}

fn is_cwe(s: &str) -> bool {
    s.strip_prefix("CWE-")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// Reads a catalogue (see the module docs for what is checked).
pub fn parse(bytes: &[u8], limits: &Limits) -> Result<KevCatalog, KevParseError> {
    if bytes.len() > limits.document_bytes_max {
        return Err(KevParseError::TooLarge {
            bytes: bytes.len(),
            bytes_max: limits.document_bytes_max,
        });
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    let raw: RawCatalog =
        serde_path_to_error::deserialize(de).map_err(|e| KevParseError::Json {
            path: e.path().to_string(),
            message: e.inner().to_string(),
        })?;
    if raw.vulnerabilities.len() > limits.advisories_max {
        return Err(KevParseError::TooMany {
            listed: raw.vulnerabilities.len(),
            max: limits.advisories_max,
        });
    }
    if usize::try_from(raw.count).ok() != Some(raw.vulnerabilities.len()) {
        return Err(KevParseError::Count {
            count: raw.count,
            listed: raw.vulnerabilities.len(),
        });
    }
    let mut seen = std::collections::HashMap::with_capacity(raw.vulnerabilities.len());
    let mut entries = Vec::with_capacity(raw.vulnerabilities.len());
    for (i, e) in raw.vulnerabilities.into_iter().enumerate() {
        let field = |name: &str, value: &str, expected: &'static str| KevParseError::Field {
            path: format!("vulnerabilities[{i}].{name}"),
            value: crate::error::quote(value),
            expected,
        };
        if !is_cve_id(&e.cve_id) {
            return Err(field("cveID", &e.cve_id, "a CVE id like CVE-2024-12345"));
        }
        for (name, value) in [("dateAdded", &e.date_added), ("dueDate", &e.due_date)] {
            if !is_date(value) {
                return Err(field(name, value, "a calendar date YYYY-MM-DD"));
            }
        }
        let cwes = e.cwes.unwrap_or_default();
        for (k, cwe) in cwes.iter().enumerate() {
            if !is_cwe(cwe) {
                return Err(field(&format!("cwes[{k}]"), cwe, "a CWE id like CWE-79"));
            }
        }
        if let Some(first) = seen.insert(e.cve_id.clone(), i) {
            return Err(KevParseError::Duplicate {
                cve: e.cve_id,
                first,
                second: i,
            });
        }
        entries.push(KevEntry {
            cve: e.cve_id,
            vendor_project: e.vendor_project,
            product: e.product,
            name: e.vulnerability_name,
            date_added: e.date_added,
            short_description: e.short_description,
            required_action: e.required_action,
            due_date: e.due_date,
            ransomware: RansomwareUse::from_field(
                e.known_ransomware_campaign_use.as_deref().unwrap_or(""),
            ),
            notes: e.notes.unwrap_or_default(),
            cwes,
        });
    }
    Ok(KevCatalog {
        title: raw.title,
        version: raw.catalog_version,
        date_released: raw.date_released,
        entries,
    })
}

/// Whether `bytes` look like a known-exploited list (a JSON object with
/// `catalogVersion` and `vulnerabilities`), without parsing it.
pub fn detect(bytes: &[u8]) -> bool {
    let head = bytes.get(..bytes.len().min(4096)).unwrap_or(bytes);
    let text = String::from_utf8_lossy(head);
    text.trim_start().starts_with('{') && text.contains("\"catalogVersion\"")
}

//! The normalized model every parser of this crate produces: [`Sbom`],
//! [`Advisory`] and [`VexStatement`], plus the checked newtypes they are made of
//! ([`Purl`], [`Cpe`], [`VulnId`], [`Timestamp`], [`Digest`]).
//!
//! The model is serde-serializable because it is stored and served. It keeps
//! package identifiers, versions and range bounds as *strings* together with
//! the name of their scheme or ecosystem: comparing versions and matching CPEs
//! is the job of the `vuln` crate, deliberately not of this one. Nothing here
//! knows which format a value came from except the `format`/`source` fields.

use serde::{Deserialize, Serialize};

use crate::error::FieldError;

// ---------------------------------------------------------------------------
// Newtypes
// ---------------------------------------------------------------------------

/// A package URL (`pkg:type/namespace/name@version?qualifiers#subpath`).
///
/// Checked only for its shape: the `pkg:` scheme and a non-empty type and
/// name. Parsing its parts is left to the matcher.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Purl(String);

impl Purl {
    /// Checks the shape of `value` (see the type's docs).
    pub fn new(value: &str) -> Result<Self, FieldError> {
        let value = value.trim();
        let rest = value
            .strip_prefix("pkg:")
            .ok_or_else(|| FieldError::new("a package URL starts with `pkg:`"))?;
        let rest = rest.trim_start_matches('/');
        let (ty, name) = rest
            .split_once('/')
            .ok_or_else(|| FieldError::new("a package URL has a type and a name"))?;
        if ty.is_empty() || name.is_empty() || name.starts_with(['@', '?', '#']) {
            return Err(FieldError::new("a package URL has a type and a name"));
        }
        Ok(Self(value.to_string()))
    }

    /// The package URL as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The package type (`npm`, `pypi`, `deb`, ...), lower-cased.
    pub fn package_type(&self) -> String {
        let rest = self.0.trim_start_matches("pkg:").trim_start_matches('/');
        rest.split('/').next().unwrap_or("").to_ascii_lowercase()
    }
}

impl TryFrom<String> for Purl {
    type Error = FieldError;
    fn try_from(value: String) -> Result<Self, FieldError> {
        Self::new(&value)
    }
}

impl From<Purl> for String {
    fn from(value: Purl) -> String {
        value.0
    }
}

/// A CPE name: a CPE 2.3 formatted string (`cpe:2.3:part:vendor:product:...`,
/// 13 colon-separated parts, escaped colons allowed) or a CPE 2.2 URI
/// (`cpe:/a:vendor:product...`), kept as written.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Cpe(String);

impl Cpe {
    /// Checks the shape of `value` (see the type's docs).
    pub fn new(value: &str) -> Result<Self, FieldError> {
        let value = value.trim();
        if let Some(rest) = value.strip_prefix("cpe:2.3:") {
            // Count unescaped colons: 11 more separators after `cpe:2.3:`.
            let mut parts = 1usize;
            let mut escaped = false;
            for c in rest.chars() {
                match (escaped, c) {
                    (true, _) => escaped = false,
                    (false, '\\') => escaped = true,
                    (false, ':') => parts += 1,
                    _ => {}
                }
            }
            if parts != 11 {
                return Err(FieldError::new(
                    "a CPE 2.3 formatted string has 13 colon-separated parts",
                ));
            }
            let part = rest.split(':').next().unwrap_or("");
            if !matches!(part, "a" | "o" | "h" | "*") {
                return Err(FieldError::new("a CPE 2.3 part is `a`, `o`, `h` or `*`"));
            }
            Ok(Self(value.to_string()))
        } else if value.starts_with("cpe:/") && value.len() > 5 {
            Ok(Self(value.to_string()))
        } else {
            Err(FieldError::new(
                "a CPE name starts with `cpe:2.3:` or `cpe:/`",
            ))
        }
    }

    /// The CPE as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The version field of a CPE 2.3 string (`*`, `-` or a version), `None`
    /// for a CPE 2.2 URI.
    pub fn version_field(&self) -> Option<&str> {
        let rest = self.0.strip_prefix("cpe:2.3:")?;
        split_cpe23(rest).nth(3)
    }
}

/// Splits the fields of a CPE 2.3 formatted string after `cpe:2.3:` at its
/// unescaped colons.
fn split_cpe23(rest: &str) -> impl Iterator<Item = &str> {
    let mut start = 0usize;
    let mut escaped = false;
    let mut bounds = Vec::new();
    for (i, c) in rest.char_indices() {
        match (escaped, c) {
            (true, _) => escaped = false,
            (false, '\\') => escaped = true,
            (false, ':') => {
                bounds.push((start, i));
                start = i + 1;
            }
            _ => {}
        }
    }
    bounds.push((start, rest.len()));
    bounds
        .into_iter()
        .map(move |(a, b)| rest.get(a..b).unwrap_or(""))
}

impl TryFrom<String> for Cpe {
    type Error = FieldError;
    fn try_from(value: String) -> Result<Self, FieldError> {
        Self::new(&value)
    }
}

impl From<Cpe> for String {
    fn from(value: Cpe) -> String {
        value.0
    }
}

/// A vulnerability identifier (`CVE-2024-1234`, `GHSA-xxxx-xxxx-xxxx`,
/// `PYSEC-...`): non-empty, no whitespace, at most
/// [`VulnId::BYTES_MAX`] bytes.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct VulnId(String);

impl VulnId {
    /// The longest identifier accepted, in bytes (real ones are under 64).
    pub const BYTES_MAX: usize = 256;

    /// Checks `value` (see the type's docs).
    pub fn new(value: &str) -> Result<Self, FieldError> {
        let value = value.trim();
        if value.is_empty() {
            return Err(FieldError::new("a vulnerability id is not empty"));
        }
        if value.len() > Self::BYTES_MAX {
            return Err(FieldError::new("a vulnerability id is at most 256 bytes"));
        }
        if value.chars().any(char::is_whitespace) {
            return Err(FieldError::new("a vulnerability id has no whitespace"));
        }
        Ok(Self(value.to_string()))
    }

    /// The identifier as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is a CVE id (`CVE-YYYY-NNNN...`).
    pub fn is_cve(&self) -> bool {
        let Some(rest) = self.0.strip_prefix("CVE-") else {
            return false;
        };
        let mut parts = rest.splitn(2, '-');
        let year = parts.next().unwrap_or("");
        let number = parts.next().unwrap_or("");
        year.len() == 4
            && year.bytes().all(|b| b.is_ascii_digit())
            && number.len() >= 4
            && number.bytes().all(|b| b.is_ascii_digit())
    }
}

impl TryFrom<String> for VulnId {
    type Error = FieldError;
    fn try_from(value: String) -> Result<Self, FieldError> {
        Self::new(&value)
    }
}

impl From<VulnId> for String {
    fn from(value: VulnId) -> String {
        value.0
    }
}

/// An RFC 3339 date-time, normalized: a date alone gets `T00:00:00Z`, and a
/// date-time without an offset (as CVE 5 and NVD often write them, meaning
/// UTC) gets `Z`. Fractional seconds and offsets are kept as written.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Timestamp(String);

impl Timestamp {
    /// Checks and normalizes `value` (see the type's docs).
    pub fn new(value: &str) -> Result<Self, FieldError> {
        let v = value.trim();
        let b = v.as_bytes();
        let digits =
            |r: std::ops::Range<usize>| b.get(r).is_some_and(|s| s.iter().all(u8::is_ascii_digit));
        let at = |i: usize, c: u8| b.get(i) == Some(&c);
        let bad = || FieldError::new("an RFC 3339 date-time like `2024-05-01T12:00:00Z`");
        if !(digits(0..4) && at(4, b'-') && digits(5..7) && at(7, b'-') && digits(8..10)) {
            return Err(bad());
        }
        if b.len() == 10 {
            return Ok(Self(format!("{v}T00:00:00Z")));
        }
        if !((at(10, b'T') || at(10, b't') || at(10, b' '))
            && digits(11..13)
            && at(13, b':')
            && digits(14..16))
        {
            return Err(bad());
        }
        let mut i = 16;
        let mut out = String::with_capacity(v.len() + 4);
        out.push_str(v.get(..10).unwrap_or(""));
        out.push('T');
        out.push_str(v.get(11..16).unwrap_or(""));
        if at(16, b':') {
            if !digits(17..19) {
                return Err(bad());
            }
            out.push_str(v.get(16..19).unwrap_or(""));
            i = 19;
            if at(19, b'.') {
                let mut j = 20;
                while b.get(j).is_some_and(u8::is_ascii_digit) {
                    j += 1;
                }
                if j == 20 {
                    return Err(bad());
                }
                out.push_str(v.get(19..j).unwrap_or(""));
                i = j;
            }
        } else {
            out.push_str(":00");
        }
        let zone = v.get(i..).unwrap_or("");
        match zone {
            "" | "Z" | "z" => out.push('Z'),
            _ => {
                let z = zone.as_bytes();
                let ok = z.len() == 6
                    && matches!(z.first(), Some(b'+' | b'-'))
                    && z.get(1..3)
                        .is_some_and(|s| s.iter().all(u8::is_ascii_digit))
                    && z.get(3) == Some(&b':')
                    && z.get(4..6)
                        .is_some_and(|s| s.iter().all(u8::is_ascii_digit));
                if !ok {
                    return Err(bad());
                }
                out.push_str(zone);
            }
        }
        Ok(Self(out))
    }

    /// The normalized RFC 3339 string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Timestamp {
    type Error = FieldError;
    fn try_from(value: String) -> Result<Self, FieldError> {
        Self::new(&value)
    }
}

impl From<Timestamp> for String {
    fn from(value: Timestamp) -> String {
        value.0
    }
}

/// A hash algorithm name as the SBOM formats spell them, normalized to the
/// CycloneDX spelling (`SHA-256`, `SHA3-512`, `BLAKE2b-256`, `MD5`, ...).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct HashAlgorithm(String);

impl HashAlgorithm {
    /// Normalizes an algorithm name (`SHA256`, `sha-256`, `SHA-256` are one).
    pub fn new(value: &str) -> Result<Self, FieldError> {
        let upper = value.trim().to_ascii_uppercase();
        let name = match upper.as_str() {
            "MD2" | "MD4" | "MD5" | "MD6" | "ADLER32" => upper.clone(),
            "SHA1" | "SHA-1" => "SHA-1".into(),
            "SHA224" | "SHA-224" => "SHA-224".into(),
            "SHA256" | "SHA-256" => "SHA-256".into(),
            "SHA384" | "SHA-384" => "SHA-384".into(),
            "SHA512" | "SHA-512" => "SHA-512".into(),
            "SHA3-224" | "SHA3_224" => "SHA3-224".into(),
            "SHA3-256" | "SHA3_256" => "SHA3-256".into(),
            "SHA3-384" | "SHA3_384" => "SHA3-384".into(),
            "SHA3-512" | "SHA3_512" => "SHA3-512".into(),
            "BLAKE2B-256" | "BLAKE2B_256" | "BLAKE2B256" => "BLAKE2b-256".into(),
            "BLAKE2B-384" | "BLAKE2B_384" | "BLAKE2B384" => "BLAKE2b-384".into(),
            "BLAKE2B-512" | "BLAKE2B_512" | "BLAKE2B512" => "BLAKE2b-512".into(),
            "BLAKE3" => "BLAKE3".into(),
            "STREEBOG-256" | "STREEBOG-512" => upper.clone(),
            _ => {
                return Err(FieldError::new(
                    "a known hash algorithm (SHA-256, SHA-1, MD5, SHA3-256, BLAKE2b-256, ...)",
                ))
            }
        };
        Ok(Self(name))
    }

    /// The normalized name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A digest: algorithm and lower-case hex value (checked: hex digits only,
/// even length, at most [`Digest::HEX_CHARS_MAX`]).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Digest {
    /// The algorithm.
    pub alg: HashAlgorithm,
    /// The value, lower-case hex.
    pub hex: String,
}

impl Digest {
    /// The longest hex value accepted (SHA-512 is 128).
    pub const HEX_CHARS_MAX: usize = 256;

    /// Checks `alg` and `hex`.
    pub fn new(alg: &str, hex: &str) -> Result<Self, FieldError> {
        let alg = HashAlgorithm::new(alg)?;
        let hex = hex.trim();
        if hex.is_empty()
            || !hex.len().is_multiple_of(2)
            || hex.len() > Self::HEX_CHARS_MAX
            || !hex.bytes().all(|b| b.is_ascii_hexdigit())
        {
            return Err(FieldError::new("a digest is an even number of hex digits"));
        }
        Ok(Self {
            alg,
            hex: hex.to_ascii_lowercase(),
        })
    }
}

// ---------------------------------------------------------------------------
// SBOM
// ---------------------------------------------------------------------------

/// The SBOM formats read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SbomFormat {
    /// OWASP CycloneDX (JSON).
    CycloneDx,
    /// SPDX (JSON).
    Spdx,
}

/// A software bill of materials, normalized.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sbom {
    /// Which format it was read from.
    pub format: SbomFormat,
    /// The format's spec version (`1.6`, `2.3`).
    pub spec_version: String,
    /// The document's own identifier (CycloneDX `serialNumber`, SPDX
    /// `documentNamespace`).
    pub serial_number: Option<String>,
    /// When the document was made.
    pub created: Option<Timestamp>,
    /// What the SBOM describes (CycloneDX `metadata.component`; SPDX: the
    /// package the document `DESCRIBES`, when there is exactly one).
    pub subject: Option<Component>,
    /// Every component, flattened (nested CycloneDX components included), in
    /// document order. The subject is not repeated here.
    pub components: Vec<Component>,
    /// Dependency edges where the document gives them.
    pub dependencies: Vec<Dependency>,
}

/// One component of an SBOM.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Component {
    /// The document-local reference (CycloneDX `bom-ref`, SPDX `SPDXID`).
    pub bom_ref: Option<String>,
    /// What kind of thing it is.
    pub kind: ComponentKind,
    /// Its name (CycloneDX `group` is kept apart).
    pub name: String,
    /// CycloneDX `group` (Maven group id, npm scope, ...).
    pub group: Option<String>,
    /// Its version as written; firmware SBOMs often have only name and version.
    pub version: Option<String>,
    /// Who supplied it (organization or person name).
    pub supplier: Option<String>,
    /// Its package URL, if given.
    pub purl: Option<Purl>,
    /// Its CPE names, if given (CycloneDX has one; SPDX may list several).
    pub cpes: Vec<Cpe>,
    /// Its digests.
    pub hashes: Vec<Digest>,
}

/// The kind of a component (CycloneDX `type`; SPDX `primaryPackagePurpose`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ComponentKind {
    /// A library.
    Library,
    /// An application.
    Application,
    /// A framework.
    Framework,
    /// A container image.
    Container,
    /// A platform.
    Platform,
    /// An operating system.
    OperatingSystem,
    /// A device (hardware).
    Device,
    /// A device driver.
    DeviceDriver,
    /// Firmware.
    Firmware,
    /// A file.
    File,
    /// A machine-learning model.
    MachineLearningModel,
    /// Data.
    Data,
    /// A cryptographic asset.
    CryptographicAsset,
    /// Not said by the document.
    Unspecified,
    /// Any other kind, as written.
    Other(String),
}

impl ComponentKind {
    /// Maps a CycloneDX `type` or SPDX `primaryPackagePurpose` value.
    pub fn from_name(value: &str) -> Self {
        match value.to_ascii_lowercase().replace('_', "-").as_str() {
            "library" => Self::Library,
            "application" => Self::Application,
            "framework" => Self::Framework,
            "container" => Self::Container,
            "platform" => Self::Platform,
            "operating-system" => Self::OperatingSystem,
            "device" => Self::Device,
            "device-driver" => Self::DeviceDriver,
            "firmware" => Self::Firmware,
            "file" | "source" | "archive" => Self::File,
            "machine-learning-model" => Self::MachineLearningModel,
            "data" => Self::Data,
            "cryptographic-asset" => Self::CryptographicAsset,
            "" => Self::Unspecified,
            _ => Self::Other(value.to_string()),
        }
    }
}

/// A dependency edge set: `from` depends on each of `to` (bom-refs).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dependency {
    /// The depending component's bom-ref.
    pub from: String,
    /// The bom-refs it depends on.
    pub to: Vec<String>,
}

// ---------------------------------------------------------------------------
// Advisory
// ---------------------------------------------------------------------------

/// The advisory formats read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AdvisoryFormat {
    /// OSV schema.
    Osv,
    /// CVE JSON 5.x record (CNA and ADP containers).
    Cve5,
    /// NVD CVE API 2.0 response item.
    NvdApi2,
    /// CSAF 2.0 document.
    Csaf2,
}

/// A vulnerability advisory, normalized.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Advisory {
    /// Its identifier.
    pub id: VulnId,
    /// Other identifiers of the same vulnerability.
    pub aliases: Vec<VulnId>,
    /// Which format it was read from.
    pub source: AdvisoryFormat,
    /// When it was published.
    pub published: Option<Timestamp>,
    /// When it was last modified.
    pub modified: Option<Timestamp>,
    /// When it was withdrawn or rejected, if it was.
    pub withdrawn: Option<Timestamp>,
    /// A one-line summary or title.
    pub summary: Option<String>,
    /// The description (English where several languages are given).
    pub description: Option<String>,
    /// CWE ids (`CWE-79`).
    pub cwes: Vec<String>,
    /// References.
    pub references: Vec<Reference>,
    /// Severity scores, each with who published it.
    pub severities: Vec<Severity>,
    /// What CISA's ADP container (vulnrichment) adds, if present.
    pub cisa_adp: Option<CisaAdp>,
    /// What is affected.
    pub affected: Vec<Affected>,
    /// Values dropped as malformed where one bad value should not cost the
    /// whole record (a CNA's malformed CPE in CVE 5 `cpes[]`); empty for
    /// most records. Each names the field and says why.
    pub dropped: Vec<Dropped>,
}

/// A malformed value a parser dropped, keeping the rest of the record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dropped {
    /// Its JSON path.
    pub field: String,
    /// The value (shortened).
    pub value: String,
    /// What was expected.
    pub expected: String,
}

/// A reference of an advisory.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reference {
    /// The URL.
    pub url: String,
    /// Tags or type (`vendor-advisory`, `patch`, `WEB`, `FIX`, ...).
    pub tags: Vec<String>,
}

/// A CVSS (or other) severity with its publisher.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Severity {
    /// Which scoring system.
    pub scheme: SeverityScheme,
    /// The vector string as published (`CVSS:3.1/AV:N/...`; a CVSS 2 vector
    /// has no prefix).
    pub vector: String,
    /// The base score as published, if it was (never computed here).
    pub score: Option<f64>,
    /// Who published it.
    pub publisher: ScorePublisher,
}

/// A scoring system.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SeverityScheme {
    /// CVSS v2.0.
    CvssV2,
    /// CVSS v3.0.
    CvssV30,
    /// CVSS v3.1.
    CvssV31,
    /// CVSS v4.0.
    CvssV40,
    /// Another system (OSV `Ubuntu`, ...), as written.
    Other(String),
}

impl SeverityScheme {
    /// Maps a CVSS `version` field (`2.0`, `3.0`, `3.1`, `4.0`).
    pub fn from_cvss_version(version: &str) -> Self {
        match version {
            "2.0" | "2" => Self::CvssV2,
            "3.0" => Self::CvssV30,
            "3.1" => Self::CvssV31,
            "4.0" | "4" => Self::CvssV40,
            other => Self::Other(format!("CVSS {other}")),
        }
    }

    /// Infers the scheme from a vector's prefix (`CVSS:3.1/`), CVSS 2 when none.
    pub fn from_vector(vector: &str) -> Self {
        if let Some(rest) = vector.strip_prefix("CVSS:") {
            Self::from_cvss_version(rest.split('/').next().unwrap_or(""))
        } else {
            Self::CvssV2
        }
    }
}

/// Who published a score.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "role", content = "name")]
pub enum ScorePublisher {
    /// The CVE Numbering Authority of a CVE 5 record (its short name).
    Cna(Option<String>),
    /// CISA's ADP container (vulnrichment).
    CisaAdp,
    /// Another ADP container (its short name).
    Adp(Option<String>),
    /// NVD, `type: Primary` (the `source`, e.g. `nvd@nist.gov`).
    NvdPrimary(Option<String>),
    /// NVD, `type: Secondary` (the `source`, usually the CNA).
    NvdSecondary(Option<String>),
    /// The document's publisher (OSV database, CSAF publisher name).
    Publisher(Option<String>),
}

/// What CISA's ADP container adds to a CVE record.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CisaAdp {
    /// Known Exploited Vulnerabilities catalog entry, if listed.
    pub kev: Option<Kev>,
    /// The SSVC decision points CISA recorded.
    pub ssvc: Option<Ssvc>,
}

/// A KEV catalog entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Kev {
    /// When it was added to the catalog.
    pub date_added: Option<Timestamp>,
    /// The reference URL.
    pub reference: Option<String>,
}

/// SSVC decision points (CISA coordinator role).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ssvc {
    /// `none`, `poc` or `active`.
    pub exploitation: Option<String>,
    /// `yes` or `no`.
    pub automatable: Option<String>,
    /// `partial` or `total`.
    pub technical_impact: Option<String>,
    /// The SSVC version.
    pub version: Option<String>,
    /// The role (`CISA Coordinator`).
    pub role: Option<String>,
    /// When decided.
    pub timestamp: Option<Timestamp>,
}

/// One identifier of a package or product.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum PackageId {
    /// A package URL.
    Purl {
        /// The purl.
        purl: Purl,
    },
    /// A CPE name.
    Cpe {
        /// The CPE.
        cpe: Cpe,
    },
    /// An ecosystem and a package name (OSV, CVE 5 `collectionURL`+`packageName`).
    Ecosystem {
        /// The ecosystem (`PyPI`, `npm`, `Debian:12`) or collection URL.
        ecosystem: String,
        /// The package name.
        name: String,
    },
    /// A vendor and a product (CVE 5).
    VendorProduct {
        /// The vendor.
        vendor: String,
        /// The product.
        product: String,
    },
    /// A bare product name (CSAF full product name, CycloneDX component name).
    Name {
        /// The name.
        name: String,
    },
}

/// Whether versions not listed are affected (CVE 5 `defaultStatus`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DefaultStatus {
    /// Versions not listed are affected.
    Affected,
    /// Versions not listed are not affected.
    Unaffected,
    /// Unknown.
    Unknown,
}

/// A package or product affected by an advisory, with its versions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Affected {
    /// Identifiers of the one package (several when the source gives e.g. a
    /// vendor/product and CPEs for the same entry).
    pub package: Vec<PackageId>,
    /// Affected version intervals.
    pub ranges: Vec<VersionRange>,
    /// Affected exact versions.
    pub versions: Vec<String>,
    /// Set only when the source says every version is affected (OSV range
    /// introduced at `0` with no end; CVE 5 `*` or `0`..`*`; NVD CPE with
    /// version `*` and no bounds; CVE 5 `defaultStatus: affected` with no
    /// version listed).
    pub all_versions: bool,
    /// Intervals explicitly not affected (CVE 5 `status: unaffected`).
    pub unaffected_ranges: Vec<VersionRange>,
    /// Exact versions explicitly not affected.
    pub unaffected_versions: Vec<String>,
    /// The status of versions not listed (CVE 5), when given.
    pub default_status: Option<DefaultStatus>,
    /// Platforms the package must run on to be affected (NVD `AND`
    /// configurations' non-vulnerable CPEs; CVE 5 `platforms`).
    pub platforms: Vec<String>,
}

impl Affected {
    /// An entry for `package` with no version information yet.
    pub fn new(package: Vec<PackageId>) -> Self {
        Self {
            package,
            ranges: Vec::new(),
            versions: Vec::new(),
            all_versions: false,
            unaffected_ranges: Vec::new(),
            unaffected_versions: Vec::new(),
            default_status: None,
            platforms: Vec::new(),
        }
    }
}

/// A version interval in one versioning scheme.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionRange {
    /// The scheme or ecosystem the bounds are versions of: OSV range type
    /// (`SEMVER`, `GIT`) or `ECOSYSTEM:<ecosystem>`; CVE 5 `versionType`
    /// (`semver`, `rpm`, `git`, `custom`, ...); `nvd` for NVD CPE bounds;
    /// `vers:<scheme>` for CSAF `vers` ranges.
    pub scheme: String,
    /// Lower bound; `None` means from the first version.
    pub introduced: Option<Bound>,
    /// Upper bound (`fixed`/`lessThan` exclusive, `last_affected`/
    /// `lessThanOrEqual` inclusive); `None` means no upper bound.
    pub end: Option<Bound>,
}

/// One bound of a [`VersionRange`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bound {
    /// The version as written.
    pub version: String,
    /// Whether the bound itself is in the interval.
    pub inclusive: bool,
}

impl Bound {
    /// An inclusive bound.
    pub fn including(version: &str) -> Self {
        Self {
            version: version.to_string(),
            inclusive: true,
        }
    }

    /// An exclusive bound.
    pub fn excluding(version: &str) -> Self {
        Self {
            version: version.to_string(),
            inclusive: false,
        }
    }
}

// ---------------------------------------------------------------------------
// VEX
// ---------------------------------------------------------------------------

/// The VEX formats read and written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VexFormat {
    /// CycloneDX `vulnerabilities[].analysis`.
    CycloneDx,
    /// OpenVEX.
    OpenVex,
    /// CSAF 2.0 (VEX profile or any CSAF with `product_status`).
    Csaf,
}

/// A VEX status (CISA minimum requirements, OpenVEX).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VexStatus {
    /// The product is affected.
    Affected,
    /// The product is not affected.
    NotAffected,
    /// The product contains a fix.
    Fixed,
    /// Not known yet.
    UnderInvestigation,
}

impl VexStatus {
    /// The OpenVEX / CISA spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Affected => "affected",
            Self::NotAffected => "not_affected",
            Self::Fixed => "fixed",
            Self::UnderInvestigation => "under_investigation",
        }
    }
}

/// Why a product is not affected: the CISA / OpenVEX / CSAF flag set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Justification {
    /// The vulnerable component is not in the product.
    ComponentNotPresent,
    /// The component is present but not the vulnerable code.
    VulnerableCodeNotPresent,
    /// The vulnerable code cannot be executed.
    VulnerableCodeNotInExecutePath,
    /// The vulnerable code cannot be controlled by an adversary.
    VulnerableCodeCannotBeControlledByAdversary,
    /// Built-in protections prevent exploitation.
    InlineMitigationsAlreadyExist,
}

impl Justification {
    /// The OpenVEX / CSAF flag spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ComponentNotPresent => "component_not_present",
            Self::VulnerableCodeNotPresent => "vulnerable_code_not_present",
            Self::VulnerableCodeNotInExecutePath => "vulnerable_code_not_in_execute_path",
            Self::VulnerableCodeCannotBeControlledByAdversary => {
                "vulnerable_code_cannot_be_controlled_by_adversary"
            }
            Self::InlineMitigationsAlreadyExist => "inline_mitigations_already_exist",
        }
    }

    /// Reads the OpenVEX / CSAF flag spelling.
    pub fn from_name(value: &str) -> Option<Self> {
        Some(match value {
            "component_not_present" => Self::ComponentNotPresent,
            "vulnerable_code_not_present" => Self::VulnerableCodeNotPresent,
            "vulnerable_code_not_in_execute_path" => Self::VulnerableCodeNotInExecutePath,
            "vulnerable_code_cannot_be_controlled_by_adversary" => {
                Self::VulnerableCodeCannotBeControlledByAdversary
            }
            "inline_mitigations_already_exist" => Self::InlineMitigationsAlreadyExist,
            _ => return None,
        })
    }
}

/// A product a VEX statement is about.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Product {
    /// Its identifiers (purl, CPE).
    pub ids: Vec<PackageId>,
    /// Its name (CSAF full product name, CycloneDX component name).
    pub name: Option<String>,
    /// Its version, when given apart from the identifiers.
    pub version: Option<String>,
    /// The document-local reference it was resolved from: the CSAF
    /// `product_id` (resolved to its full product name and identification
    /// helper) or the CycloneDX `bom-ref`.
    pub product_ref: Option<String>,
    /// Subcomponents the statement is about (OpenVEX).
    pub subcomponents: Vec<PackageId>,
}

/// One VEX statement: the status of products with respect to one vulnerability.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VexStatement {
    /// The vulnerability.
    pub vulnerability: VulnId,
    /// Other ids of the vulnerability.
    pub aliases: Vec<VulnId>,
    /// The products.
    pub products: Vec<Product>,
    /// The status.
    pub status: VexStatus,
    /// Why not affected (for `not_affected`).
    pub justification: Option<Justification>,
    /// Free-text impact statement (why not affected, or details).
    pub impact_statement: Option<String>,
    /// Free-text action statement (what to do when affected).
    pub action_statement: Option<String>,
    /// When the statement was made.
    pub timestamp: Option<Timestamp>,
    /// Who made it.
    pub author: Option<String>,
}

//! Package URLs: [`Purl`], a checked newtype over a parsed `pkg:` URL
//! (parsed by the `packageurl` crate: percent-decoding, qualifiers, subpath,
//! and the per-type canonicalization of the purl spec, e.g. lower-cased
//! `pypi` names), with the [`VersionScheme`] of its type.
//!
//! Deliberately absent: building purls from parts, and any lookup in a
//! package registry.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use crate::version::VersionScheme;

/// Longest purl accepted, in bytes.
pub const PURL_BYTES_MAX: usize = 2048;

/// Why a purl was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PurlError {
    /// Longer than [`PURL_BYTES_MAX`].
    #[error("purl of {len_bytes} bytes is longer than the {PURL_BYTES_MAX} allowed")]
    TooLong {
        /// Its length in bytes.
        len_bytes: usize,
    },
    /// The `packageurl` parser refused it.
    #[error("invalid purl: {0}")]
    Invalid(String),
}

/// A parsed package URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Purl {
    ty: String,
    namespace: Option<String>,
    name: String,
    version: Option<String>,
    qualifiers: BTreeMap<String, String>,
    subpath: Option<String>,
    canonical: String,
}

impl Purl {
    /// Parses `pkg:type/namespace/name@version?qualifiers#subpath`.
    pub fn parse(s: &str) -> Result<Purl, PurlError> {
        let s = s.trim();
        if s.len() > PURL_BYTES_MAX {
            return Err(PurlError::TooLong { len_bytes: s.len() });
        }
        let p =
            packageurl::PackageUrl::from_str(s).map_err(|e| PurlError::Invalid(e.to_string()))?;
        Ok(Purl {
            ty: p.ty().to_string(),
            namespace: p.namespace().map(str::to_string),
            name: p.name().to_string(),
            version: p.version().map(str::to_string),
            qualifiers: p
                .qualifiers()
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            subpath: p.subpath().map(str::to_string),
            canonical: p.to_string(),
        })
    }

    /// The type (`npm`, `deb`, `pypi`, `generic`...), lower case.
    pub fn ty(&self) -> &str {
        &self.ty
    }

    /// The namespace (percent-decoded), if any.
    pub fn namespace(&self) -> Option<&str> {
        self.namespace.as_deref()
    }

    /// The name (percent-decoded).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The version (percent-decoded), if any.
    pub fn version(&self) -> Option<&str> {
        self.version.as_deref()
    }

    /// The qualifiers, by key.
    pub fn qualifiers(&self) -> &BTreeMap<String, String> {
        &self.qualifiers
    }

    /// The subpath, if any.
    pub fn subpath(&self) -> Option<&str> {
        self.subpath.as_deref()
    }

    /// How versions of this type are ordered.
    pub fn scheme(&self) -> VersionScheme {
        VersionScheme::from_purl_type(&self.ty)
    }
}

impl FromStr for Purl {
    type Err = PurlError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Purl::parse(s)
    }
}

impl fmt::Display for Purl {
    /// The canonical form (qualifiers sorted, components percent-encoded).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.canonical)
    }
}

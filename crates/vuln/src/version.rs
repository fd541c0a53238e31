//! Version orderings per ecosystem ([`VersionScheme`]) and version ranges
//! ([`VersionRange`]) built from OSV events, CVE JSON 5 `versions[]`, NVD
//! `cpeMatch` bounds and `vers:` URIs.
//!
//! Schemes and where their ordering comes from:
//! - [`VersionScheme::Semver`]: the `semver` crate, compared by SemVer 2.0
//!   precedence (build metadata ignored, unlike `semver::Version`'s `Ord`); a
//!   leading `v` (Go, many tags) is tolerated.
//! - [`VersionScheme::Debian`]: dpkg's `verrevcmp` written by hand
//!   ([`debian`]); the `debversion` crate pulls chrono, lazy-regex and
//!   num-bigint for forty lines of algorithm.
//! - [`VersionScheme::Rpm`]: rpm's `rpmvercmp` (with `~` and `^`) written by
//!   hand ([`rpm`]): no maintained crate implements the current algorithm.
//! - [`VersionScheme::Pep440`]: the `pep440_rs` crate (the parser uv grew
//!   from).
//! - [`VersionScheme::Generic`]: our ordering for firmware versions that only
//!   carry a name and a version ([`generic`]).
//!
//! Maven's `ComparableVersion` is not implemented: Maven maps to
//! [`VersionScheme::Generic`], which orders numeric releases and the usual
//! pre-release qualifiers the same way but differs on Maven's special
//! qualifiers (`sp`, `ga`, `final`). RubyGems, NuGet, Packagist and Alpine map
//! to Generic for the same reason.
//!
//! Deliberately absent: any comparison that guesses. A version that does not
//! parse under its scheme is an error, and a range check on it answers
//! [`Containment::Unknown`], never "affected" or "not affected".

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

pub mod debian;
pub mod generic;
mod range;
pub mod rpm;

pub use range::{
    Bound, Containment, Cve5Change, Cve5Status, Cve5Version, Interval, NvdBounds, OsvEvent,
    RangeError, Unknown, VersionRange,
};

/// Longest version string accepted, in bytes (real versions are far shorter;
/// this bounds the work of one comparison).
pub const VERSION_BYTES_MAX: usize = 256;

/// How the versions of an ecosystem are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VersionScheme {
    /// SemVer 2.0 (npm, crates.io, Go, Hex, Pub).
    Semver,
    /// Debian and Ubuntu (`epoch:upstream-revision`).
    Debian,
    /// RPM (`epoch:version-release`: Red Hat, SUSE, Rocky, Alma, ...).
    Rpm,
    /// PEP 440 (PyPI).
    Pep440,
    /// Our generic ordering for name-and-version firmware and unknown
    /// ecosystems.
    Generic,
}

/// A version that does not parse under its scheme.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{version:?} is not a valid {scheme} version: {reason}")]
pub struct VersionError {
    /// The scheme it was parsed under.
    pub scheme: VersionScheme,
    /// The version string (truncated to [`VERSION_BYTES_MAX`]).
    pub version: String,
    /// Why.
    pub reason: String,
}

impl VersionError {
    pub(crate) fn new(scheme: VersionScheme, version: &str, reason: impl Into<String>) -> Self {
        let mut end = version.len().min(VERSION_BYTES_MAX);
        while !version.is_char_boundary(end) {
            end -= 1;
        }
        VersionError {
            scheme,
            version: version.get(..end).unwrap_or_default().to_string(),
            reason: reason.into(),
        }
    }
}

impl fmt::Display for VersionScheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            VersionScheme::Semver => "semver",
            VersionScheme::Debian => "Debian",
            VersionScheme::Rpm => "RPM",
            VersionScheme::Pep440 => "PEP 440",
            VersionScheme::Generic => "generic",
        })
    }
}

impl VersionScheme {
    /// The scheme of an OSV `affected[].package.ecosystem` (a suffix after
    /// `:`, as in `Debian:12` or `Alpine:v3.19`, is ignored). Unknown
    /// ecosystems are [`VersionScheme::Generic`].
    pub fn from_osv_ecosystem(ecosystem: &str) -> VersionScheme {
        let name = ecosystem.split(':').next().unwrap_or_default().trim();
        match name {
            "Debian" | "Ubuntu" => VersionScheme::Debian,
            "Red Hat" | "Rocky Linux" | "AlmaLinux" | "openSUSE" | "SUSE" | "Mageia"
            | "Photon OS" | "openEuler" | "Azure Linux" => VersionScheme::Rpm,
            "PyPI" => VersionScheme::Pep440,
            "npm" | "crates.io" | "Go" | "Hex" | "Pub" | "SwiftURL" => VersionScheme::Semver,
            _ => VersionScheme::Generic,
        }
    }

    /// The scheme of a purl type (also the scheme names of `vers:` URIs).
    /// Unknown types are [`VersionScheme::Generic`].
    pub fn from_purl_type(ty: &str) -> VersionScheme {
        match ty.to_ascii_lowercase().as_str() {
            "deb" => VersionScheme::Debian,
            "rpm" => VersionScheme::Rpm,
            "pypi" => VersionScheme::Pep440,
            "npm" | "cargo" | "golang" | "hex" | "pub" | "semver" | "swift" => {
                VersionScheme::Semver
            }
            _ => VersionScheme::Generic,
        }
    }

    /// The scheme of a CVE JSON 5 `versionType` (`semver`, `rpm`, `python`,
    /// `deb`...); anything else (`custom`, `git`, absent) is
    /// [`VersionScheme::Generic`].
    pub fn from_cve_version_type(version_type: &str) -> VersionScheme {
        match version_type.to_ascii_lowercase().as_str() {
            "semver" => VersionScheme::Semver,
            "rpm" => VersionScheme::Rpm,
            "python" | "pep440" | "pypi" => VersionScheme::Pep440,
            "deb" | "debian" | "dpkg" => VersionScheme::Debian,
            _ => VersionScheme::Generic,
        }
    }

    /// Checks that `version` parses under this scheme.
    pub fn validate(self, version: &str) -> Result<(), VersionError> {
        self.compare(version, version).map(|_| ())
    }

    /// Orders two versions under this scheme; an error names the first that
    /// does not parse.
    pub fn compare(self, a: &str, b: &str) -> Result<Ordering, VersionError> {
        for v in [a, b] {
            if v.len() > VERSION_BYTES_MAX {
                return Err(VersionError::new(
                    self,
                    v,
                    format!("longer than {VERSION_BYTES_MAX} bytes"),
                ));
            }
        }
        match self {
            VersionScheme::Semver => match (parse_semver(a), parse_semver(b)) {
                (Ok(pa), Ok(pb)) => Ok(pa.cmp_precedence(&pb)),
                // Declared semver with more than three numbers (1.2.3.4, as
                // vendors write it): ordered number by number.
                _ if numeric_dotted(a) && numeric_dotted(b) => generic::compare(a, b),
                (Err(e), _) | (_, Err(e)) => Err(e),
            },
            VersionScheme::Pep440 => {
                let pa = parse_pep440(a)?;
                let pb = parse_pep440(b)?;
                Ok(pa.cmp(&pb))
            }
            VersionScheme::Debian => debian::compare(a, b),
            VersionScheme::Rpm => rpm::compare(a, b),
            VersionScheme::Generic => generic::compare(a, b),
        }
    }
}

/// A SemVer version, read as npm's loose mode does when it is not strict
/// SemVer: one or two numbers are padded with zeros (`2.4` = `2.4.0`) and
/// leading zeros dropped (`1.02.3` = `1.2.3`). Vendors declare `semver` for
/// such versions; nothing else is coerced.
fn parse_semver(v: &str) -> Result<semver::Version, VersionError> {
    let s = v.trim();
    let s = s
        .strip_prefix('v')
        .or_else(|| s.strip_prefix('V'))
        .unwrap_or(s);
    semver::Version::parse(s).or_else(|strict| {
        let end = s.find(['-', '+']).unwrap_or(s.len());
        let (core, rest) = s.split_at(end);
        let parts: Vec<&str> = core.split('.').collect();
        if parts.is_empty()
            || parts.len() > 3
            || parts
                .iter()
                .any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(VersionError::new(
                VersionScheme::Semver,
                v,
                strict.to_string(),
            ));
        }
        let mut numbers: Vec<&str> = parts
            .iter()
            .map(|p| match p.trim_start_matches('0') {
                "" => "0",
                n => n,
            })
            .collect();
        numbers.resize(3, "0");
        semver::Version::parse(&format!("{}{rest}", numbers.join(".")))
            .map_err(|_| VersionError::new(VersionScheme::Semver, v, strict.to_string()))
    })
}

/// Digits separated by dots, with an optional leading `v`.
fn numeric_dotted(v: &str) -> bool {
    let s = v.trim();
    let s = s.strip_prefix(['v', 'V']).unwrap_or(s);
    !s.is_empty()
        && s.split('.')
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

fn parse_pep440(v: &str) -> Result<pep440_rs::Version, VersionError> {
    pep440_rs::Version::from_str(v.trim())
        .map_err(|e| VersionError::new(VersionScheme::Pep440, v, e.to_string()))
}

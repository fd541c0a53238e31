//! Version ranges: a union of intervals (each bound included, excluded or
//! unbounded) under one [`VersionScheme`], with the intervals a source says
//! are *not* affected or of *unknown* status, built from OSV `events`, CVE
//! JSON 5 `versions[]`, NVD `cpeMatch` bounds or a `vers:` URI.
//!
//! [`VersionRange::contains`] says which interval matched, so a matcher can
//! explain each match; a version that does not parse under the scheme is
//! [`Containment::Unknown`], never in or out. Unaffected intervals take
//! precedence over affected ones (a vendor's "this version is fixed" wins).
//!
//! A bound `P.*` under the generic scheme is a series: every version whose
//! first components are `P`'s (`6.1.*` holds `6.1`, `6.1.80`, `6.1.80-rt5`,
//! not `6.10`), so `lessThanOrEqual: "6.1.*"` ends after the 6.1 branch, as
//! the Linux kernel CNA writes a fixed stable branch. `lessThan` a series
//! ends there too, as vendors write it (Juniper's `lessThan: "21.1*"` after
//! `21.1R1`): "before every version of the series" would leave such ranges
//! empty. `21.1*` (after a digit) is the versions starting with `21.1` not
//! followed by a digit.
//!
//! Deliberately absent: git commit ranges (OSV `GIT`: not versions), other
//! wildcard bounds (`5.*.3`, or any under a scheme other than generic),
//! refused as [`RangeError::Unsupported`]; and a range with no bound at all
//! from NVD (project rule: never a version-less match of everything).

use std::cmp::Ordering;
use std::fmt;

use super::{VersionError, VersionScheme};

/// One end of an interval.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bound {
    /// No bound.
    Unbounded,
    /// This version is inside.
    Included(String),
    /// This version is outside.
    Excluded(String),
}

/// An interval of versions, with where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interval {
    /// Lower bound.
    pub lower: Bound,
    /// Upper bound.
    pub upper: Bound,
    /// Which statement of the source produced it (e.g. `OSV introduced/fixed`).
    pub source: &'static str,
}

impl fmt::Display for Interval {
    /// `>=1.0, <1.2`, `=1.4`, `*`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let (Bound::Included(a), Bound::Included(b)) = (&self.lower, &self.upper) {
            if a == b {
                return write!(f, "={a}");
            }
        }
        let lower = match &self.lower {
            Bound::Unbounded => None,
            Bound::Included(v) => Some(format!(">={v}")),
            Bound::Excluded(v) => Some(format!(">{v}")),
        };
        let upper = match &self.upper {
            Bound::Unbounded => None,
            Bound::Included(v) => Some(format!("<={v}")),
            Bound::Excluded(v) => Some(format!("<{v}")),
        };
        match (lower, upper) {
            (None, None) => f.write_str("*"),
            (Some(l), None) => f.write_str(&l),
            (None, Some(u)) => f.write_str(&u),
            (Some(l), Some(u)) => write!(f, "{l}, {u}"),
        }
    }
}

/// Whether a version is in a range, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Containment<'a> {
    /// In this affected interval.
    Affected(&'a Interval),
    /// In this interval that the source says is not affected.
    Unaffected(&'a Interval),
    /// In no interval.
    Outside,
    /// Cannot be decided.
    Unknown(Unknown<'a>),
}

impl Containment<'_> {
    /// `Some(true)` if affected, `Some(false)` if not, `None` if unknown.
    pub fn is_affected(&self) -> Option<bool> {
        match self {
            Containment::Affected(_) => Some(true),
            Containment::Unaffected(_) | Containment::Outside => Some(false),
            Containment::Unknown(_) => None,
        }
    }
}

/// Why [`Containment::Unknown`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unknown<'a> {
    /// The version does not parse under the range's scheme.
    Incomparable(VersionError),
    /// The version is in an interval whose status the source says is unknown.
    StatusUnknown(&'a Interval),
}

/// Why a range could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RangeError {
    /// A bound does not parse under the scheme.
    #[error(transparent)]
    Version(#[from] VersionError),
    /// The input is not a well-formed range.
    #[error("invalid range: {0}")]
    Invalid(String),
    /// A well-formed range this module deliberately does not evaluate.
    #[error("unsupported range: {0}")]
    Unsupported(String),
}

/// An OSV `ranges[].events[]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OsvEvent {
    /// `introduced` (`"0"`: from the first version).
    Introduced(String),
    /// `fixed`: first unaffected version.
    Fixed(String),
    /// `last_affected`: last affected version.
    LastAffected(String),
    /// `limit`: nothing at or above it is affected.
    Limit(String),
}

/// A CVE JSON 5 `status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cve5Status {
    /// `affected`.
    Affected,
    /// `unaffected`.
    Unaffected,
    /// `unknown`.
    Unknown,
}

impl Cve5Status {
    /// Parses `affected`, `unaffected` or `unknown`.
    pub fn parse(s: &str) -> Option<Cve5Status> {
        match s {
            "affected" => Some(Cve5Status::Affected),
            "unaffected" => Some(Cve5Status::Unaffected),
            "unknown" => Some(Cve5Status::Unknown),
            _ => None,
        }
    }
}

/// A CVE JSON 5 `affected[].versions[].changes[]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cve5Change {
    /// `at`.
    pub at: String,
    /// `status` from `at` on.
    pub status: Cve5Status,
}

/// A CVE JSON 5 `affected[].versions[]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cve5Version {
    /// `version`: the single version, or the range's lower bound.
    pub version: String,
    /// `status`.
    pub status: Cve5Status,
    /// `lessThan` (`"*"`: no upper bound).
    pub less_than: Option<String>,
    /// `lessThanOrEqual` (`"*"`: no upper bound).
    pub less_than_or_equal: Option<String>,
    /// `changes`.
    pub changes: Vec<Cve5Change>,
}

/// The version bounds of an NVD `cpeMatch`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NvdBounds {
    /// `versionStartIncluding`.
    pub start_including: Option<String>,
    /// `versionStartExcluding`.
    pub start_excluding: Option<String>,
    /// `versionEndIncluding`.
    pub end_including: Option<String>,
    /// `versionEndExcluding`.
    pub end_excluding: Option<String>,
}

/// A set of versions under one scheme.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionRange {
    scheme: VersionScheme,
    affected: Vec<Interval>,
    unaffected: Vec<Interval>,
    unknown: Vec<Interval>,
}

impl VersionRange {
    /// Exactly `version`.
    pub fn exact(scheme: VersionScheme, version: &str) -> Result<VersionRange, RangeError> {
        scheme.validate(version)?;
        Ok(VersionRange {
            scheme,
            affected: vec![point(version, "exact")],
            unaffected: Vec::new(),
            unknown: Vec::new(),
        })
    }

    /// From the events of one OSV `ECOSYSTEM` or `SEMVER` range, evaluated
    /// as the OSV schema says: sorted by version, each `introduced` opens an
    /// interval that the next `fixed` (excluded) or `last_affected`
    /// (included) closes; `limit`s cap every interval (below the largest
    /// limit).
    pub fn from_osv(
        scheme: VersionScheme,
        events: &[OsvEvent],
    ) -> Result<VersionRange, RangeError> {
        let mut sorted: Vec<(&OsvEvent, &str)> = Vec::new();
        let mut limits: Vec<&str> = Vec::new();
        for e in events {
            match e {
                OsvEvent::Introduced(v) if v == "0" => sorted.push((e, "0")),
                OsvEvent::Introduced(v) | OsvEvent::Fixed(v) | OsvEvent::LastAffected(v) => {
                    scheme.validate(v)?;
                    sorted.push((e, v));
                }
                OsvEvent::Limit(v) if v == "*" => {}
                OsvEvent::Limit(v) => {
                    scheme.validate(v)?;
                    limits.push(v);
                }
            }
        }
        // Validated above, so comparisons succeed; "0" sorts first.
        let mut cmp_error = None;
        sorted.sort_by(|(_, a), (_, b)| match (*a, *b) {
            ("0", "0") => Ordering::Equal,
            ("0", _) => Ordering::Less,
            (_, "0") => Ordering::Greater,
            (a, b) => scheme.compare(a, b).unwrap_or_else(|e| {
                cmp_error = Some(e);
                Ordering::Equal
            }),
        });
        if let Some(e) = cmp_error {
            return Err(e.into());
        }
        let mut affected = Vec::new();
        let mut open: Option<Bound> = None;
        for (event, v) in sorted {
            match event {
                OsvEvent::Introduced(_) => {
                    if open.is_none() {
                        open = Some(if v == "0" {
                            Bound::Unbounded
                        } else {
                            Bound::Included(v.to_string())
                        });
                    }
                }
                OsvEvent::Fixed(_) | OsvEvent::LastAffected(_) => {
                    if let Some(lower) = open.take() {
                        let (upper, source) = if matches!(event, OsvEvent::Fixed(_)) {
                            (Bound::Excluded(v.to_string()), "OSV introduced/fixed")
                        } else {
                            (
                                Bound::Included(v.to_string()),
                                "OSV introduced/last_affected",
                            )
                        };
                        affected.push(Interval {
                            lower,
                            upper,
                            source,
                        });
                    }
                }
                OsvEvent::Limit(_) => {}
            }
        }
        if let Some(lower) = open {
            affected.push(Interval {
                lower,
                upper: Bound::Unbounded,
                source: "OSV introduced",
            });
        }
        let mut max_limit: Option<&str> = None;
        for l in limits {
            max_limit = match max_limit {
                Some(m) if scheme.compare(m, l)? != Ordering::Less => Some(m),
                _ => Some(l),
            };
        }
        if let Some(limit) = max_limit {
            for interval in &mut affected {
                let below = match &interval.upper {
                    Bound::Unbounded => false,
                    Bound::Included(u) | Bound::Excluded(u) => {
                        scheme.compare(u, limit)? == Ordering::Less
                    }
                };
                if !below {
                    interval.upper = Bound::Excluded(limit.to_string());
                }
            }
        }
        Ok(VersionRange {
            scheme,
            affected,
            unaffected: Vec::new(),
            unknown: Vec::new(),
        })
    }

    /// From the `versions[]` of one CVE JSON 5 `affected[]` entry: a single
    /// `version`, or `version` up to `lessThan`/`lessThanOrEqual` (`"*"`: no
    /// upper bound; a lower bound `"0"` means from the first version), split
    /// at each `changes[].at`, each piece with its status.
    pub fn from_cve5(
        scheme: VersionScheme,
        versions: &[Cve5Version],
    ) -> Result<VersionRange, RangeError> {
        let mut range = VersionRange {
            scheme,
            affected: Vec::new(),
            unaffected: Vec::new(),
            unknown: Vec::new(),
        };
        for entry in versions {
            let upper = match (&entry.less_than, &entry.less_than_or_equal) {
                (Some(_), Some(_)) => {
                    return Err(RangeError::Invalid(format!(
                        "version {:?} has both lessThan and lessThanOrEqual",
                        entry.version
                    )))
                }
                (Some(v), None) => Some(upper_bound(scheme, v, false)?),
                (None, Some(v)) => Some(upper_bound(scheme, v, true)?),
                (None, None) => None,
            };
            let Some(upper) = upper else {
                if !entry.changes.is_empty() {
                    return Err(RangeError::Invalid(format!(
                        "version {:?} has changes but no lessThan/lessThanOrEqual",
                        entry.version
                    )));
                }
                scheme.validate(&entry.version)?;
                range.push(entry.status, point(&entry.version, "CVE 5 version"));
                continue;
            };
            let lower = if entry.version == "0" || entry.version == "*" {
                Bound::Unbounded
            } else {
                check_bound(scheme, &entry.version)?;
                Bound::Included(entry.version.clone())
            };
            let mut changes: Vec<&Cve5Change> = entry.changes.iter().collect();
            for c in &changes {
                scheme.validate(&c.at)?;
            }
            let mut cmp_error = None;
            changes.sort_by(|a, b| {
                scheme.compare(&a.at, &b.at).unwrap_or_else(|e| {
                    cmp_error = Some(e);
                    Ordering::Equal
                })
            });
            if let Some(e) = cmp_error {
                return Err(e.into());
            }
            let mut status = entry.status;
            let mut start = lower;
            for c in changes {
                range.push(
                    status,
                    Interval {
                        lower: start,
                        upper: Bound::Excluded(c.at.clone()),
                        source: "CVE 5 versions/changes",
                    },
                );
                start = Bound::Included(c.at.clone());
                status = c.status;
            }
            range.push(
                status,
                Interval {
                    lower: start,
                    upper,
                    source: "CVE 5 versions",
                },
            );
        }
        Ok(range)
    }

    /// From an NVD `cpeMatch`'s version bounds. At least one bound is
    /// required: without one the CPE's own version decides, and a CPE with
    /// version ANY and no bound matches nothing (project rule).
    pub fn from_nvd(scheme: VersionScheme, bounds: &NvdBounds) -> Result<VersionRange, RangeError> {
        let lower = match (&bounds.start_including, &bounds.start_excluding) {
            (Some(_), Some(_)) => {
                return Err(RangeError::Invalid(
                    "both versionStartIncluding and versionStartExcluding".into(),
                ))
            }
            (Some(v), None) => {
                check_bound(scheme, v)?;
                Bound::Included(v.clone())
            }
            (None, Some(v)) => {
                check_bound(scheme, v)?;
                Bound::Excluded(v.clone())
            }
            (None, None) => Bound::Unbounded,
        };
        let upper = match (&bounds.end_including, &bounds.end_excluding) {
            (Some(_), Some(_)) => {
                return Err(RangeError::Invalid(
                    "both versionEndIncluding and versionEndExcluding".into(),
                ))
            }
            (Some(v), None) => {
                check_bound(scheme, v)?;
                Bound::Included(v.clone())
            }
            (None, Some(v)) => {
                check_bound(scheme, v)?;
                Bound::Excluded(v.clone())
            }
            (None, None) => Bound::Unbounded,
        };
        if lower == Bound::Unbounded && upper == Bound::Unbounded {
            return Err(RangeError::Invalid(
                "an NVD cpeMatch without any version bound is not a range".into(),
            ));
        }
        Ok(VersionRange {
            scheme,
            affected: vec![Interval {
                lower,
                upper,
                source: "NVD cpeMatch",
            }],
            unaffected: Vec::new(),
            unknown: Vec::new(),
        })
    }

    /// From a `vers:` URI (purl-spec VERS): `vers:<type>/<constraints>`,
    /// constraints separated by `|`, each `=`, `!=`, `<`, `<=`, `>`, `>=`
    /// followed by a percent-encoded version, or `*` alone. The scheme is
    /// the one of the URI's type ([`VersionScheme::from_purl_type`]).
    pub fn from_vers(uri: &str) -> Result<VersionRange, RangeError> {
        let invalid = |m: &str| RangeError::Invalid(format!("{m} in {uri:?}"));
        let rest = uri
            .trim()
            .strip_prefix("vers:")
            .ok_or_else(|| invalid("no vers: prefix"))?;
        let (ty, constraints) = rest
            .split_once('/')
            .ok_or_else(|| invalid("no '/' after the versioning scheme"))?;
        if ty.is_empty() {
            return Err(invalid("empty versioning scheme"));
        }
        let scheme = VersionScheme::from_purl_type(ty);
        let mut range = VersionRange {
            scheme,
            affected: Vec::new(),
            unaffected: Vec::new(),
            unknown: Vec::new(),
        };
        let constraints = constraints.trim();
        if constraints == "*" {
            range.affected.push(Interval {
                lower: Bound::Unbounded,
                upper: Bound::Unbounded,
                source: "vers *",
            });
            return Ok(range);
        }
        let mut parsed: Vec<(&str, String)> = Vec::new();
        for c in constraints.split('|') {
            let c: String = c.chars().filter(|ch| !ch.is_whitespace()).collect();
            let (op, v) = ["!=", "<=", ">=", "=", "<", ">"]
                .iter()
                .find_map(|op| c.strip_prefix(op).map(|v| (*op, v)))
                .unwrap_or(("=", c.as_str()));
            if v.is_empty() || v == "*" {
                return Err(invalid("a constraint without a version"));
            }
            let v = percent_decode(v).ok_or_else(|| invalid("bad percent-encoding"))?;
            scheme.validate(&v)?;
            parsed.push((op, v));
        }
        let mut cmp_error = None;
        parsed.sort_by(|(_, a), (_, b)| {
            scheme.compare(a, b).unwrap_or_else(|e| {
                cmp_error = Some(e);
                Ordering::Equal
            })
        });
        if let Some(e) = cmp_error {
            return Err(e.into());
        }
        let mut open: Option<Bound> = None;
        let mut seen_upper_without_lower = false;
        for (op, v) in parsed {
            match op {
                "=" => range.affected.push(point(&v, "vers =")),
                "!=" => range.unaffected.push(point(&v, "vers !=")),
                ">" | ">=" => {
                    if open.is_some() {
                        return Err(invalid("two lower bounds in a row"));
                    }
                    open = Some(if op == ">" {
                        Bound::Excluded(v)
                    } else {
                        Bound::Included(v)
                    });
                }
                _ => {
                    let lower = match open.take() {
                        Some(l) => l,
                        None if !seen_upper_without_lower && range.affected.is_empty() => {
                            seen_upper_without_lower = true;
                            Bound::Unbounded
                        }
                        None => return Err(invalid("an upper bound without a lower bound")),
                    };
                    range.affected.push(Interval {
                        lower,
                        upper: if op == "<" {
                            Bound::Excluded(v)
                        } else {
                            Bound::Included(v)
                        },
                        source: "vers",
                    });
                }
            }
        }
        if let Some(lower) = open {
            range.affected.push(Interval {
                lower,
                upper: Bound::Unbounded,
                source: "vers",
            });
        }
        if range.affected.is_empty() {
            // Only != constraints: everything but those versions.
            range.affected.push(Interval {
                lower: Bound::Unbounded,
                upper: Bound::Unbounded,
                source: "vers !=",
            });
        }
        Ok(range)
    }

    /// From intervals a caller already split by status (e.g. a normalized
    /// advisory model whose bounds are strings): every bound is checked under
    /// `scheme`, and wildcard bounds are refused as with CVE 5.
    pub fn from_intervals(
        scheme: VersionScheme,
        affected: Vec<Interval>,
        unaffected: Vec<Interval>,
    ) -> Result<VersionRange, RangeError> {
        for interval in affected.iter().chain(&unaffected) {
            for bound in [&interval.lower, &interval.upper] {
                if let Bound::Included(v) | Bound::Excluded(v) = bound {
                    check_bound(scheme, v)?;
                }
            }
        }
        Ok(VersionRange {
            scheme,
            affected,
            unaffected,
            unknown: Vec::new(),
        })
    }

    /// The scheme the bounds are compared under.
    pub fn scheme(&self) -> VersionScheme {
        self.scheme
    }

    /// The affected intervals.
    pub fn affected(&self) -> &[Interval] {
        &self.affected
    }

    /// The intervals the source says are not affected.
    pub fn unaffected(&self) -> &[Interval] {
        &self.unaffected
    }

    /// Whether `version` is in the range, and which interval says so.
    pub fn contains(&self, version: &str) -> Containment<'_> {
        if let Err(e) = self.scheme.validate(version) {
            return Containment::Unknown(Unknown::Incomparable(e));
        }
        for list in [&self.unaffected, &self.affected, &self.unknown] {
            for interval in list.iter() {
                match self.in_interval(interval, version) {
                    Ok(false) => {}
                    Ok(true) => {
                        return if std::ptr::eq(list, &self.unaffected) {
                            Containment::Unaffected(interval)
                        } else if std::ptr::eq(list, &self.affected) {
                            Containment::Affected(interval)
                        } else {
                            Containment::Unknown(Unknown::StatusUnknown(interval))
                        }
                    }
                    Err(e) => return Containment::Unknown(Unknown::Incomparable(e)),
                }
            }
        }
        Containment::Outside
    }

    fn in_interval(&self, interval: &Interval, version: &str) -> Result<bool, VersionError> {
        let scheme = self.scheme;
        let above = match &interval.lower {
            Bound::Unbounded => true,
            Bound::Included(l) => compare_bound(scheme, version, l)? != Ordering::Less,
            Bound::Excluded(l) => compare_bound(scheme, version, l)? == Ordering::Greater,
        };
        if !above {
            return Ok(false);
        }
        Ok(match &interval.upper {
            Bound::Unbounded => true,
            Bound::Included(u) => compare_bound(scheme, version, u)? != Ordering::Greater,
            // `lessThan` a series is read as through its end, as vendors
            // write it (Juniper's `21.1R1` to `lessThan: "21.1*"`): "less
            // than every version of the series" would leave such a range empty.
            Bound::Excluded(u) if series(u).is_some() => {
                compare_bound(scheme, version, u)? != Ordering::Greater
            }
            Bound::Excluded(u) => compare_bound(scheme, version, u)? == Ordering::Less,
        })
    }

    fn push(&mut self, status: Cve5Status, interval: Interval) {
        match status {
            Cve5Status::Affected => self.affected.push(interval),
            Cve5Status::Unaffected => self.unaffected.push(interval),
            Cve5Status::Unknown => self.unknown.push(interval),
        }
    }
}

fn point(version: &str, source: &'static str) -> Interval {
    Interval {
        lower: Bound::Included(version.to_string()),
        upper: Bound::Included(version.to_string()),
        source,
    }
}

/// The series `P` of a wildcard bound `P.*` (CVE 5 `lessThanOrEqual:
/// "6.1.*"`, as the Linux kernel CNA writes a stable branch) or `P.x` (as
/// Dell and others write `10.5.6.x`): every version whose first components
/// are `P`'s; or `P*` after a digit (Juniper's `21.1*`): every version that
/// starts with `P` not followed by a digit. `None` for any other bound.
fn series(v: &str) -> Option<&str> {
    v.strip_suffix(".*")
        .or_else(|| v.strip_suffix(".x"))
        .or_else(|| v.strip_suffix(".X"))
        // Juniper's `21.1*`: the 21.1 release train (21.1R1, 21.1R3-S2).
        .or_else(|| {
            v.strip_suffix('*')
                .filter(|p| p.ends_with(|c: char| c.is_ascii_digit()))
        })
        .filter(|p| !p.is_empty() && !p.contains('*'))
}

/// Orders `version` against the series `prefix`: `Equal` when the version
/// is in it, else as its first components (as many as the prefix has)
/// compare with the prefix.
fn compare_series(
    scheme: VersionScheme,
    version: &str,
    prefix: &str,
) -> Result<Ordering, VersionError> {
    // Starts with the prefix, not followed by a digit: in the series
    // (`21.1R3` in `21.1*`; `6.10` is not in `6.1.*`).
    if version
        .strip_prefix(prefix)
        .is_some_and(|rest| !rest.starts_with(|c: char| c.is_ascii_digit()))
    {
        return Ok(Ordering::Equal);
    }
    let components = prefix.split('.').count();
    let head: Vec<&str> = version
        .splitn(components + 1, '.')
        .take(components)
        .collect();
    scheme.compare(&head.join("."), prefix)
}

/// Orders `version` against a bound, which may be a series `P.*`.
fn compare_bound(
    scheme: VersionScheme,
    version: &str,
    bound: &str,
) -> Result<Ordering, VersionError> {
    match series(bound) {
        Some(prefix) => compare_series(scheme, version, prefix),
        None => scheme.compare(version, bound),
    }
}

fn check_bound(scheme: VersionScheme, v: &str) -> Result<(), RangeError> {
    if let Some(prefix) = series(v) {
        // Components are dot-separated in the generic ordering only.
        if scheme != VersionScheme::Generic {
            return Err(RangeError::Unsupported(format!(
                "wildcard bound {v:?} under the {scheme} scheme"
            )));
        }
        scheme.validate(prefix)?;
        return Ok(());
    }
    if v.contains('*') {
        return Err(RangeError::Unsupported(format!("wildcard bound {v:?}")));
    }
    scheme.validate(v)?;
    Ok(())
}

fn upper_bound(scheme: VersionScheme, v: &str, inclusive: bool) -> Result<Bound, RangeError> {
    if v == "*" {
        return Ok(Bound::Unbounded);
    }
    check_bound(scheme, v)?;
    Ok(if inclusive {
        Bound::Included(v.to_string())
    } else {
        Bound::Excluded(v.to_string())
    })
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut k = 0;
    while let Some(&c) = bytes.get(k) {
        if c == b'%' {
            let hex = s.get(k + 1..k + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            k += 3;
        } else {
            out.push(c);
            k += 1;
        }
    }
    String::from_utf8(out).ok()
}

//! Matching one SBOM component against one advisory entry: [`PreparedComponent`]
//! and [`PreparedAffected`] (identifiers parsed and version ranges built once),
//! [`evaluate`] (the [`Outcome`] with its reason either way) and
//! [`match_component`] (the same from the unprepared model).
//!
//! Rules, tried in this order:
//! 1. [`MatchRule::Purl`]: the component's purl and an advisory purl (or an
//!    OSV/CVE 5 ecosystem + package name mapped to a purl type) have the same
//!    type, namespace and name after normalization; the component's version
//!    is compared under the entry's scheme (declared by the advisory, else the
//!    purl type's).
//! 2. [`MatchRule::Cpe`]: a component CPE is named by an advisory CPE under
//!    NISTIR 7696 with the project rules of [`crate::cpe::Cpe::matches`]
//!    (vendor *and* product agree, a version ANY needs a range). CISA's ADP
//!    writes the range's first version into its CPE's version next to the
//!    range; when an entry has a usable range, the range decides and the
//!    advisory CPE's version is read as ANY.
//! 3. [`MatchRule::CpeVendorProduct`]: a component CPE's vendor and product
//!    equal an advisory's free-text vendor and product, normalized (lower
//!    case, spaces and hyphens as `_`), version in the range.
//! 4. [`MatchRule::NameVersion`]: only for components with a name and a
//!    version and nothing else (no purl, no CPE, as firmware SBOMs often
//!    are): the normalized name equals an advisory product or package name,
//!    version in the range under the entry's scheme (generic unless the
//!    advisory declares one).
//!
//! Confidence: each rule has a base (purl and CPE [`Confidence::High`],
//! vendor/product text [`Confidence::Medium`], name and version
//! [`Confidence::Low`]), lowered to at most Medium when the match leans on
//! something weaker: for a purl, a range scheme not declared by the advisory
//! but inferred from the purl type (CPE and name bounds are generic by
//! nature, so the generic scheme does not lower them),
//! a CPE version taken from the component's `version` field because its CPE
//! had none, "every version" stated without a range, platforms the advisory
//! restricts to, or unaffected intervals the advisory gave but that could not
//! be evaluated (then Low).
//!
//! Never a match when the component's version is missing or does not parse
//! under the entry's scheme ([`Outcome::Undecided`], with the reason), unless
//! the advisory explicitly says every version is affected and excludes none;
//! never a version-less CPE match of everything.
//!
//! Deliberately absent: cross-mapping between identifier systems (a
//! component with only a purl is not matched against an advisory with only
//! CPEs), fuzzy names, and any I/O.

use std::fmt;

use vuln_formats::model::{Affected, Component, DefaultStatus, PackageId, VulnId};

use crate::cpe::{AttrValue, Cpe, CpeMatch, Mismatch};
use crate::purl::Purl;
use crate::version::{Bound, Containment, Interval, Unknown, VersionRange, VersionScheme};

/// Which rule produced a [`Match`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MatchRule {
    /// Same purl type, namespace and name; version in range.
    Purl,
    /// Component CPE named by an advisory CPE (NISTIR 7696 + project rules).
    Cpe,
    /// Component CPE vendor and product equal the advisory's free-text ones.
    CpeVendorProduct,
    /// Name and version only (no purl, no CPE on the component).
    NameVersion,
}

impl MatchRule {
    /// `purl`, `cpe`, `cpe-vendor-product` or `name-version`.
    pub fn as_str(self) -> &'static str {
        match self {
            MatchRule::Purl => "purl",
            MatchRule::Cpe => "cpe",
            MatchRule::CpeVendorProduct => "cpe-vendor-product",
            MatchRule::NameVersion => "name-version",
        }
    }
}

impl fmt::Display for MatchRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How sure a match is (see the module docs for the criteria).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Confidence {
    /// Identity by name only: confirm before acting.
    Low,
    /// Identity or version leaning on something weaker than an identifier.
    Medium,
    /// Identity by purl or CPE, version compared under a declared scheme.
    High,
}

impl Confidence {
    /// `low`, `medium` or `high`.
    pub fn as_str(self) -> &'static str {
        match self {
            Confidence::Low => "low",
            Confidence::Medium => "medium",
            Confidence::High => "high",
        }
    }
}

impl fmt::Display for Confidence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A component affected by an advisory, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Match {
    /// The advisory.
    pub advisory: VulnId,
    /// The rule that matched.
    pub rule: MatchRule,
    /// The affected interval the version is in (`>=2.0.0, <2.4.1`; `*` when
    /// the advisory says every version).
    pub range: String,
    /// How sure.
    pub confidence: Confidence,
    /// A sentence saying which identifier matched which, and which version
    /// is in which interval.
    pub reason: String,
}

/// The result of [`evaluate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Affected.
    Match(Match),
    /// Not affected: no identifier agrees, or the version is outside.
    NoMatch {
        /// Why.
        reason: String,
    },
    /// Cannot be decided (version missing or incomparable, status unknown):
    /// never reported as a match.
    Undecided {
        /// Why.
        reason: String,
    },
}

impl Outcome {
    /// The match, if it is one.
    pub fn into_match(self) -> Option<Match> {
        match self {
            Outcome::Match(m) => Some(m),
            _ => None,
        }
    }

    /// The reason of a non-match, `None` for a match.
    pub fn reason(&self) -> Option<&str> {
        match self {
            Outcome::Match(_) => None,
            Outcome::NoMatch { reason } | Outcome::Undecided { reason } => Some(reason),
        }
    }
}

/// A key under which advisories are looked up for a component: what the
/// [`crate::index::AdvisoryIndex`] and the fleet's component index share.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MatchKey {
    /// Purl type, namespace (empty when none) and name, normalized.
    Purl {
        /// Type, lower case.
        ty: String,
        /// Namespace, empty when none.
        namespace: String,
        /// Name.
        name: String,
    },
    /// CPE vendor and product literals (or free text), normalized.
    VendorProduct {
        /// Vendor.
        vendor: String,
        /// Product.
        product: String,
    },
    /// A product or package name, normalized (for name-only components).
    Name(String),
}

/// Normalizes a free-text name, vendor or product for comparison: trimmed,
/// ASCII lower case, spaces and hyphens as `_` (CPE dictionary style).
pub fn normalize_name(s: &str) -> String {
    s.trim()
        .chars()
        .map(|c| match c {
            ' ' | '-' => '_',
            c => c.to_ascii_lowercase(),
        })
        .collect()
}

fn purl_key(ty: &str, namespace: Option<&str>, name: &str) -> MatchKey {
    let ty = ty.to_ascii_lowercase();
    let (namespace, name) = match ty.as_str() {
        // PEP 503 name normalization (the purl spec's rule for pypi).
        "pypi" => (
            namespace.unwrap_or("").to_ascii_lowercase(),
            name.to_ascii_lowercase().replace(['_', '.'], "-"),
        ),
        // Case-insensitive per the purl spec.
        "npm" | "deb" | "apk" | "github" | "bitbucket" | "composer" | "hex" | "golang"
        | "nuget" => (
            namespace.unwrap_or("").to_ascii_lowercase(),
            name.to_ascii_lowercase(),
        ),
        _ => (namespace.unwrap_or("").to_string(), name.to_string()),
    };
    MatchKey::Purl {
        ty,
        namespace,
        name,
    }
}

/// Maps an OSV ecosystem or a CVE 5 `collectionURL` and a package name to a
/// purl key, for the ecosystems whose purl type is unambiguous.
fn ecosystem_key(ecosystem: &str, name: &str) -> Option<MatchKey> {
    let eco = ecosystem.trim();
    let base = eco.split(':').next().unwrap_or("").trim();
    let url = eco.to_ascii_lowercase();
    let ty = match base {
        "npm" => "npm",
        "PyPI" => "pypi",
        "crates.io" => "cargo",
        "Go" => "golang",
        "Maven" => "maven",
        "NuGet" => "nuget",
        "RubyGems" => "gem",
        "Packagist" => "composer",
        "Hex" => "hex",
        "Pub" => "pub",
        "Debian" => "deb",
        "Ubuntu" => "deb",
        "Alpine" => "apk",
        _ if url.contains("npmjs") => "npm",
        _ if url.contains("pypi.org") => "pypi",
        _ if url.contains("crates.io") => "cargo",
        _ if url.contains("maven") => "maven",
        _ if url.contains("nuget.org") => "nuget",
        _ if url.contains("rubygems.org") => "gem",
        _ if url.contains("packagist.org") => "composer",
        _ if url.contains("pkg.go.dev") || url.contains("proxy.golang.org") => "golang",
        _ => return None,
    };
    let (ns, name) = match ty {
        "maven" => match name.split_once(':') {
            Some((g, a)) => (Some(g), a),
            None => (None, name),
        },
        "npm" if name.starts_with('@') => match name.split_once('/') {
            Some((s, n)) => (Some(s), n),
            None => (None, name),
        },
        "golang" | "composer" => match name.rsplit_once('/') {
            Some((s, n)) => (Some(s), n),
            None => (None, name),
        },
        "deb" => (
            Some(if base == "Ubuntu" { "ubuntu" } else { "debian" }),
            name,
        ),
        "apk" => (Some("alpine"), name),
        _ => (None, name),
    };
    Some(purl_key(ty, ns, name))
}

/// A component with its identifiers parsed once (a fleet evaluates each
/// distinct component once against many advisories).
#[derive(Debug, Clone)]
pub struct PreparedComponent {
    name: String,
    version: Option<String>,
    purl: Option<PreparedPurl>,
    /// Parsed CPEs, each with whether its version came from `version`.
    cpes: Vec<(Cpe, bool)>,
    name_key: String,
    purl_text: Option<String>,
    notes: Vec<String>,
}

#[derive(Debug, Clone)]
struct PreparedPurl {
    key: MatchKey,
    version: Option<String>,
}

impl PreparedComponent {
    /// Parses the component's purl and CPEs; an identifier that does not
    /// parse is left out and noted ([`PreparedComponent::notes`]).
    pub fn new(component: &Component) -> PreparedComponent {
        let mut notes = Vec::new();
        let version = component
            .version
            .as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string);
        let purl = component
            .purl
            .as_ref()
            .and_then(|p| match Purl::parse(p.as_str()) {
                Ok(p) => Some(PreparedPurl {
                    key: purl_key(p.ty(), p.namespace(), p.name()),
                    version: p.version().map(str::to_string).or_else(|| version.clone()),
                }),
                Err(e) => {
                    notes.push(format!("purl {:?} left out: {e}", p.as_str()));
                    None
                }
            });
        let mut cpes = Vec::new();
        for c in &component.cpes {
            match Cpe::parse(c.as_str()) {
                Ok(cpe) => {
                    let unversioned = matches!(cpe.version(), AttrValue::Any | AttrValue::Na);
                    match (&version, unversioned) {
                        (Some(v), true) => match with_version(&cpe, v) {
                            Some(filled) => cpes.push((filled, true)),
                            None => cpes.push((cpe, false)),
                        },
                        _ => cpes.push((cpe, false)),
                    }
                }
                Err(e) => notes.push(format!("CPE {:?} left out: {e}", c.as_str())),
            }
        }
        PreparedComponent {
            name: component.name.clone(),
            version,
            purl,
            cpes,
            name_key: normalize_name(&component.name),
            purl_text: component.purl.as_ref().map(|p| p.as_str().to_string()),
            notes,
        }
    }

    /// The name as written.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The version as written (trimmed), if any.
    pub fn version(&self) -> Option<&str> {
        self.version.as_deref()
    }

    /// The purl as written, if any.
    pub fn purl(&self) -> Option<&str> {
        self.purl_text.as_deref()
    }

    /// The normalized name ([`normalize_name`]).
    pub fn name_key(&self) -> &str {
        &self.name_key
    }

    /// Whether only the name and version identify it (no usable purl or CPE).
    pub fn is_name_only(&self) -> bool {
        self.purl.is_none() && self.cpes.is_empty()
    }

    /// Identifiers left out because they did not parse.
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    /// The keys to look advisories up under.
    pub fn keys(&self) -> Vec<MatchKey> {
        let mut keys = Vec::new();
        if let Some(p) = &self.purl {
            keys.push(p.key.clone());
        }
        for (cpe, _) in &self.cpes {
            if let Some(k) = cpe_key(cpe) {
                if !keys.contains(&k) {
                    keys.push(k);
                }
            }
        }
        if self.is_name_only() && !self.name_key.is_empty() {
            keys.push(MatchKey::Name(self.name_key.clone()));
        }
        keys
    }
}

/// The CPE with its version attribute replaced by `version` (CPE 2.3
/// formatted-string quoting), `None` if that does not parse.
fn with_version(cpe: &Cpe, version: &str) -> Option<Cpe> {
    let mut quoted = String::with_capacity(version.len() + 4);
    for c in version.chars() {
        if !(c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')) {
            quoted.push('\\');
        }
        quoted.push(c);
    }
    with_version_field(cpe, &quoted)
}

/// The CPE with its version field replaced by `field` (already in
/// formatted-string form, e.g. `*`).
fn with_version_field(cpe: &Cpe, field: &str) -> Option<Cpe> {
    let text = cpe.to_string();
    let fields = split_unescaped(&text);
    let quoted = field;
    let mut out = Vec::with_capacity(fields.len());
    for (k, f) in fields.iter().enumerate() {
        out.push(if k == 5 { quoted } else { f });
    }
    Cpe::parse(&out.join(":")).ok()
}

fn split_unescaped(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        match (escaped, c) {
            (true, _) => escaped = false,
            (false, '\\') => escaped = true,
            (false, ':') => {
                out.push(s.get(start..i).unwrap_or(""));
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(s.get(start..).unwrap_or(""));
    out
}

fn cpe_key(cpe: &Cpe) -> Option<MatchKey> {
    Some(MatchKey::VendorProduct {
        vendor: normalize_name(&cpe.vendor().literal()?),
        product: normalize_name(&cpe.product().literal()?),
    })
}

/// How the entry's scheme was decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SchemeOrigin {
    Declared,
    Inferred,
}

/// One `affected[]` entry of an advisory, prepared: identifiers parsed and
/// normalized, ranges built once under the entry's scheme.
#[derive(Debug, Clone)]
pub struct PreparedAffected {
    purls: Vec<MatchKey>,
    cpes: Vec<Cpe>,
    vendor_products: Vec<(String, String)>,
    names: Vec<String>,
    range: Option<VersionRange>,
    /// Every version affected, none excluded: matches without comparing.
    all_versions: bool,
    scheme_origin: SchemeOrigin,
    unaffected_incomplete: bool,
    /// Affected versions that cannot be ordered under the scheme (Qualcomm
    /// writes chip names, others free text): matched only by exact text,
    /// with low confidence. Lower case, trimmed.
    texts: Vec<String>,
    platforms: Vec<String>,
    notes: Vec<String>,
}

/// What the `scheme` string of a model range says.
enum Declared {
    Scheme(VersionScheme),
    Unspecified,
    Unsupported(&'static str),
}

fn declared_scheme(s: &str) -> Declared {
    let t = s.trim();
    if let Some(eco) = t.strip_prefix("ECOSYSTEM:") {
        return Declared::Scheme(VersionScheme::from_osv_ecosystem(eco));
    }
    if let Some(ty) = t.strip_prefix("vers:") {
        return Declared::Scheme(VersionScheme::from_purl_type(ty));
    }
    match t.to_ascii_lowercase().as_str() {
        "git" => Declared::Unsupported("git commit ranges are not versions"),
        "semver" => Declared::Scheme(VersionScheme::Semver),
        "" | "nvd" | "custom" | "unspecified" | "ecosystem" => Declared::Unspecified,
        other => match VersionScheme::from_cve_version_type(other) {
            VersionScheme::Generic => Declared::Unspecified,
            scheme => Declared::Scheme(scheme),
        },
    }
}

impl PreparedAffected {
    /// Prepares an entry. Identifiers and ranges that cannot be used are left
    /// out with a note ([`PreparedAffected::notes`]); an entry left with no
    /// identifier or no version information matches nothing
    /// ([`PreparedAffected::is_matchable`]).
    pub fn new(a: &Affected) -> PreparedAffected {
        let mut notes = Vec::new();
        let mut purls = Vec::new();
        let mut cpes: Vec<Cpe> = Vec::new();
        let mut vendor_products = Vec::new();
        let mut names = Vec::new();
        let mut purl_versions = Vec::new();
        let mut purl_scheme = None;
        let push_name = |names: &mut Vec<String>, n: &str| {
            let n = normalize_name(n);
            if !n.is_empty() && !names.contains(&n) {
                names.push(n);
            }
        };
        for id in &a.package {
            match id {
                PackageId::Purl { purl } => match Purl::parse(purl.as_str()) {
                    Ok(p) => {
                        purl_scheme.get_or_insert(p.scheme());
                        if let Some(v) = p.version() {
                            purl_versions.push(v.to_string());
                        }
                        push_name(&mut names, p.name());
                        purls.push(purl_key(p.ty(), p.namespace(), p.name()));
                    }
                    Err(e) => notes.push(format!("purl {:?} left out: {e}", purl.as_str())),
                },
                PackageId::Cpe { cpe } => match Cpe::parse(cpe.as_str()) {
                    Ok(c) => {
                        if cpe_key(&c).is_some() {
                            if let Some(p) = c.product().literal() {
                                push_name(&mut names, &p);
                            }
                            cpes.push(c);
                        } else {
                            notes.push(format!(
                                "CPE {:?} left out: its vendor and product must both be values",
                                cpe.as_str()
                            ));
                        }
                    }
                    Err(e) => notes.push(format!("CPE {:?} left out: {e}", cpe.as_str())),
                },
                PackageId::Ecosystem { ecosystem, name } => {
                    if let Some(key) = ecosystem_key(ecosystem, name) {
                        if let MatchKey::Purl { ty, .. } = &key {
                            purl_scheme.get_or_insert(VersionScheme::from_purl_type(ty));
                        }
                        purls.push(key);
                    }
                    let short = name.rsplit(['/', ':']).next().unwrap_or(name);
                    push_name(&mut names, short);
                }
                PackageId::VendorProduct { vendor, product } => {
                    let pair = (normalize_name(vendor), normalize_name(product));
                    // The kernel CNA names the kernel Linux/Linux; CPEs
                    // (and so SBOMs) name it linux/linux_kernel.
                    if pair.0 == "linux" && pair.1 == "linux" {
                        vendor_products.push(("linux".to_string(), "linux_kernel".to_string()));
                    }
                    vendor_products.push(pair);
                    push_name(&mut names, product);
                }
                PackageId::Name { name } => push_name(&mut names, name),
            }
        }

        // The entry's scheme: the first one a range declares, else the purl
        // type's, else generic.
        let mut scheme = None;
        for r in a.ranges.iter().chain(&a.unaffected_ranges) {
            if let Declared::Scheme(s) = declared_scheme(&r.scheme) {
                scheme = Some(s);
                break;
            }
        }
        let (mut scheme, mut scheme_origin) = match (scheme, purl_scheme) {
            (Some(s), _) => (s, SchemeOrigin::Declared),
            (None, Some(s)) => (s, SchemeOrigin::Inferred),
            (None, None) => (VersionScheme::Generic, SchemeOrigin::Inferred),
        };
        // Vendors declare `semver` for versions that are not (Juniper's
        // `21.2R3-S5`): when more bounds read under the generic ordering
        // than as SemVer, that ordering is used, and said.
        if scheme == VersionScheme::Semver && scheme_origin == SchemeOrigin::Declared {
            let bounds: Vec<&str> = a
                .ranges
                .iter()
                .chain(&a.unaffected_ranges)
                .filter(|r| matches!(declared_scheme(&r.scheme), Declared::Scheme(_)))
                .flat_map(|r| [&r.introduced, &r.end])
                .flatten()
                .map(|b| b.version.as_str())
                .chain(a.versions.iter().map(String::as_str))
                .filter(|v| !v.contains('*'))
                .collect();
            let valid = |s: VersionScheme| bounds.iter().filter(|v| s.validate(v).is_ok()).count();
            if valid(VersionScheme::Generic) > valid(VersionScheme::Semver) {
                notes.push(
                    "versions declared semver are not SemVer: compared under the generic ordering"
                        .to_string(),
                );
                scheme = VersionScheme::Generic;
                scheme_origin = SchemeOrigin::Inferred;
            }
        }

        let mut affected = Vec::new();
        let mut unaffected = Vec::new();
        let mut unaffected_incomplete = false;
        for (ranges, is_unaffected) in [(&a.ranges, false), (&a.unaffected_ranges, true)] {
            for r in ranges {
                match declared_scheme(&r.scheme) {
                    Declared::Unsupported(why) => {
                        notes.push(format!("{} range left out: {why}", r.scheme));
                        if is_unaffected {
                            unaffected_incomplete = true;
                        }
                        continue;
                    }
                    _ if [&r.introduced, &r.end]
                        .into_iter()
                        .flatten()
                        .any(|b| looks_like_commit(&b.version)) =>
                    {
                        // Enrichers copy the kernel CNA's git ranges with
                        // another type: commit ids are not versions.
                        notes.push(format!(
                            "{} range left out: its bounds are git commit ids, not versions",
                            r.scheme
                        ));
                        if is_unaffected {
                            unaffected_incomplete = true;
                        }
                        continue;
                    }
                    Declared::Scheme(s)
                        if s != scheme
                            && !(s == VersionScheme::Semver
                                && scheme == VersionScheme::Generic) =>
                    {
                        notes.push(format!(
                            "{} range left out: the entry's versions are {scheme}",
                            r.scheme
                        ));
                        if is_unaffected {
                            unaffected_incomplete = true;
                        }
                        continue;
                    }
                    _ => {}
                }
                let bound = |b: &Option<vuln_formats::model::Bound>| match b {
                    None => Bound::Unbounded,
                    Some(b) if b.inclusive => Bound::Included(b.version.clone()),
                    Some(b) => Bound::Excluded(b.version.clone()),
                };
                let interval = Interval {
                    lower: bound(&r.introduced),
                    upper: bound(&r.end),
                    source: if is_unaffected {
                        "advisory unaffected range"
                    } else {
                        "advisory range"
                    },
                };
                let list = if is_unaffected {
                    &mut unaffected
                } else {
                    &mut affected
                };
                add_interval(
                    scheme,
                    list,
                    interval,
                    &mut notes,
                    is_unaffected,
                    &mut unaffected_incomplete,
                );
            }
        }
        let mut texts = Vec::new();
        for v in a.versions.iter().chain(&purl_versions) {
            if looks_like_commit(v) {
                notes.push(format!(
                    "version {v:?} left out: a git commit id, not a version"
                ));
                continue;
            }
            let ordered = add_interval(
                scheme,
                &mut affected,
                point(v, "advisory version"),
                &mut notes,
                false,
                &mut unaffected_incomplete,
            );
            if !ordered {
                let text = v.trim().to_ascii_lowercase();
                if !text.is_empty() && !texts.contains(&text) {
                    notes.push(format!(
                        "version {v:?} cannot be ordered: matched only as exact text, with low confidence"
                    ));
                    texts.push(text);
                }
            }
        }
        for v in &a.unaffected_versions {
            if looks_like_commit(v) {
                notes.push(format!(
                    "unaffected version {v:?} left out: a git commit id, not a version"
                ));
                unaffected_incomplete = true;
                continue;
            }
            add_interval(
                scheme,
                &mut unaffected,
                point(v, "advisory unaffected version"),
                &mut notes,
                true,
                &mut unaffected_incomplete,
            );
        }
        let stated_all = a.all_versions
            || (a.default_status == Some(DefaultStatus::Affected)
                && a.ranges.is_empty()
                && a.versions.is_empty()
                && (!a.unaffected_ranges.is_empty() || !a.unaffected_versions.is_empty()));
        if stated_all {
            affected.push(Interval {
                lower: Bound::Unbounded,
                upper: Bound::Unbounded,
                source: "every version (stated by the advisory)",
            });
        } else if a.default_status == Some(DefaultStatus::Affected)
            && affected.is_empty()
            && unaffected.is_empty()
        {
            // Every version it lists was left out (git commit ranges, as
            // CISA's enrichment splits a kernel record): the default is
            // relative to nothing that can be read.
            notes.push(
                "defaultStatus affected left out: none of the entry's versions could be read"
                    .to_string(),
            );
        } else if a.default_status == Some(DefaultStatus::Affected) {
            // CVE 5: versions the entry does not list have the default
            // status. Its unaffected intervals (checked first) carve out
            // the fixed ones, as the Linux kernel CNA writes its records.
            affected.push(Interval {
                lower: Bound::Unbounded,
                upper: Bound::Unbounded,
                source: "every version not listed (defaultStatus: affected)",
            });
        }
        let all_versions = stated_all && unaffected.is_empty() && !unaffected_incomplete;
        let range = if affected.is_empty() {
            None
        } else {
            VersionRange::from_intervals(scheme, affected, unaffected).ok()
        };
        // CISA's ADP writes the range's first version into the CPE's version
        // attribute next to the range itself; when the entry has a usable
        // range, the range decides and the CPE's version is read as ANY.
        if range.is_some() {
            for c in &mut cpes {
                // ... or `-` (NA) there, as it copies NVD's CPEs.
                if matches!(c.version(), AttrValue::Value(_) | AttrValue::Na) {
                    if let Some(any) = with_version_field(c, "*") {
                        *c = any;
                    }
                }
            }
        }
        PreparedAffected {
            purls,
            cpes,
            vendor_products,
            names,
            range,
            all_versions,
            scheme_origin,
            unaffected_incomplete,
            texts,
            platforms: a.platforms.clone(),
            notes,
        }
    }

    /// Why identifiers or intervals were left out.
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    /// The prepared range, if the entry has usable version information.
    pub fn range(&self) -> Option<&VersionRange> {
        self.range.as_ref()
    }

    /// The advisory CPEs (vendor and product are values).
    pub fn cpes(&self) -> &[Cpe] {
        &self.cpes
    }

    /// The purl keys.
    pub fn purl_keys(&self) -> &[MatchKey] {
        &self.purls
    }

    /// Whether the entry can match anything: an identifier, and a range or a
    /// CPE with a specific version.
    pub fn is_matchable(&self) -> bool {
        let has_id = !self.purls.is_empty()
            || !self.cpes.is_empty()
            || !self.vendor_products.is_empty()
            || !self.names.is_empty();
        // A CPE version `-` (NA, CPE 2.3) names the product's versionless
        // form: it matches components whose CPE version is NA too.
        let has_versions = self.range.is_some()
            || !self.texts.is_empty()
            || self
                .cpes
                .iter()
                .any(|c| matches!(c.version(), AttrValue::Value(_) | AttrValue::Na));
        has_id && has_versions
    }

    /// Why the entry can match nothing (`None` when it can): no identifier,
    /// or no usable version, with the first note saying what was left out.
    pub fn unmatchable_reason(&self) -> Option<String> {
        if self.is_matchable() {
            return None;
        }
        let has_id = !self.purls.is_empty()
            || !self.cpes.is_empty()
            || !self.vendor_products.is_empty()
            || !self.names.is_empty();
        Some(if !has_id {
            "no product identifier".to_string()
        } else if let Some(note) = self.notes.first() {
            format!("no usable version: {note}")
        } else {
            "no version given".to_string()
        })
    }

    /// The keys a component must have one of to possibly match.
    pub fn keys(&self) -> Vec<MatchKey> {
        if !self.is_matchable() {
            return Vec::new();
        }
        let mut keys: Vec<MatchKey> = self.purls.clone();
        for c in &self.cpes {
            if let Some(k) = cpe_key(c) {
                keys.push(k);
            }
        }
        for (vendor, product) in &self.vendor_products {
            keys.push(MatchKey::VendorProduct {
                vendor: vendor.clone(),
                product: product.clone(),
            });
        }
        if self.range.is_some() {
            for n in &self.names {
                keys.push(MatchKey::Name(n.clone()));
            }
        }
        keys.sort();
        keys.dedup();
        keys
    }
}

/// Adds `interval` to `list` if its bounds parse under `scheme`, else notes
/// why (and, for an unaffected interval, that the exclusions are incomplete).
fn add_interval(
    scheme: VersionScheme,
    list: &mut Vec<Interval>,
    interval: Interval,
    notes: &mut Vec<String>,
    is_unaffected: bool,
    unaffected_incomplete: &mut bool,
) -> bool {
    match VersionRange::from_intervals(scheme, vec![interval.clone()], Vec::new()) {
        Ok(_) => {
            list.push(interval);
            true
        }
        Err(e) => {
            if is_unaffected {
                *unaffected_incomplete = true;
            }
            let kind = if is_unaffected {
                "unaffected"
            } else {
                "affected"
            };
            notes.push(format!("{kind} interval {interval} left out: {e}"));
            false
        }
    }
}

/// A bound that is a git commit id (7 to 40 hexadecimal digits, with both
/// letters and digits), not a version: the Linux kernel CNA's `git` ranges,
/// copied by enrichers as `custom`.
fn looks_like_commit(v: &str) -> bool {
    (7..=40).contains(&v.len())
        && v.bytes().all(|b| b.is_ascii_hexdigit())
        && v.bytes().any(|b| b.is_ascii_digit())
        && v.bytes().any(|b| b.is_ascii_alphabetic())
}

fn point(v: &str, source: &'static str) -> Interval {
    Interval {
        lower: Bound::Included(v.to_string()),
        upper: Bound::Included(v.to_string()),
        source,
    }
}

/// The version check of one rule.
enum VersionCheck {
    In {
        interval: String,
        all: bool,
    },
    /// Equal to a version the advisory lists as text that cannot be ordered.
    Text(String),
    Out(String),
    Undecided(String),
}

fn check_version(entry: &PreparedAffected, version: Option<&str>) -> VersionCheck {
    let check = check_range(entry, version);
    if matches!(check, VersionCheck::In { .. }) {
        return check;
    }
    match version {
        Some(v) if entry.texts.contains(&v.trim().to_ascii_lowercase()) => {
            VersionCheck::Text(v.trim().to_string())
        }
        _ => check,
    }
}

fn check_range(entry: &PreparedAffected, version: Option<&str>) -> VersionCheck {
    let Some(range) = &entry.range else {
        return VersionCheck::Out("the advisory gives no usable version range for it".into());
    };
    if entry.all_versions {
        return VersionCheck::In {
            interval: "*".into(),
            all: true,
        };
    }
    let Some(version) = version else {
        return VersionCheck::Undecided(
            "the component has no version, and the advisory does not say every version is affected"
                .into(),
        );
    };
    match range.contains(version) {
        Containment::Affected(i) => VersionCheck::In {
            interval: i.to_string(),
            all: matches!((&i.lower, &i.upper), (Bound::Unbounded, Bound::Unbounded)),
        },
        Containment::Unaffected(i) => VersionCheck::Out(format!(
            "version {version} is in the unaffected interval {i} ({})",
            range.scheme()
        )),
        Containment::Outside => VersionCheck::Out(format!(
            "version {version} is outside every affected interval ({})",
            range.scheme()
        )),
        Containment::Unknown(Unknown::Incomparable(e)) => {
            VersionCheck::Undecided(format!("versions cannot be compared: {e}"))
        }
        Containment::Unknown(Unknown::StatusUnknown(i)) => VersionCheck::Undecided(format!(
            "version {version} is in {i}, whose status the advisory says is unknown"
        )),
    }
}

/// Evaluates one prepared component against one prepared entry of advisory
/// `advisory` (rules and confidence in the module docs).
pub fn evaluate(
    component: &PreparedComponent,
    entry: &PreparedAffected,
    advisory: &VulnId,
) -> Outcome {
    let mut undecided: Option<String> = None;
    let mut no_match: Option<String> = None;

    // 1. purl.
    if let Some(p) = &component.purl {
        if entry.purls.contains(&p.key) {
            return finish(
                component,
                entry,
                advisory,
                MatchRule::Purl,
                Confidence::High,
                check_version(entry, p.version.as_deref()),
                &format!("purl {} names the advisory's package", show_key(&p.key)),
                entry.scheme_origin == SchemeOrigin::Inferred,
                p.version.as_deref(),
            );
        }
    }

    // 2. CPE against CPE, 3. CPE against vendor/product text.
    for (target, version_from_field) in &component.cpes {
        for source in &entry.cpes {
            match source.matches(target, entry.range.as_ref()) {
                CpeMatch::Match(interval) => {
                    let (interval, all) = match interval {
                        Some(i) => (
                            i.to_string(),
                            matches!((&i.lower, &i.upper), (Bound::Unbounded, Bound::Unbounded)),
                        ),
                        None => (format!("={}", target_version(target)), false),
                    };
                    return finish(
                        component,
                        entry,
                        advisory,
                        MatchRule::Cpe,
                        Confidence::High,
                        VersionCheck::In { interval, all },
                        &format!("CPE {target} is named by the advisory's {source}"),
                        *version_from_field,
                        Some(&target_version(target)),
                    );
                }
                CpeMatch::NoMatch(Mismatch::Attribute(_)) => {}
                CpeMatch::NoMatch(m) => {
                    let why = match m {
                        Mismatch::VersionAnyWithoutRange => "the advisory's CPE has version ANY and no usable range (never a version-less match of everything)".to_string(),
                        Mismatch::OutsideRange => format!("version {} is outside the advisory's range", target_version(target)),
                        Mismatch::TargetVersionUnspecified => "the component's CPE has no version".to_string(),
                        other => format!("{other:?}"),
                    };
                    no_match.get_or_insert(format!("CPE {target} vs {source}: {why}"));
                }
                CpeMatch::Unknown(why) => {
                    undecided.get_or_insert(format!("CPE {target} vs {source}: {why}"));
                }
            }
        }
        let (Some(vendor), Some(product)) = (target.vendor().literal(), target.product().literal())
        else {
            continue;
        };
        let (vendor, product) = (normalize_name(&vendor), normalize_name(&product));
        if entry
            .vendor_products
            .iter()
            .any(|(v, p)| *v == vendor && *p == product)
        {
            let version = target.version().literal();
            let check = check_version(entry, version.as_deref());
            match check {
                VersionCheck::In { .. } | VersionCheck::Text(_) => {
                    return finish(
                        component,
                        entry,
                        advisory,
                        MatchRule::CpeVendorProduct,
                        Confidence::Medium,
                        check,
                        &format!(
                            "CPE {target}'s vendor and product equal the advisory's {vendor}/{product}"
                        ),
                        false,
                        version.as_deref(),
                    );
                }
                VersionCheck::Out(r) => {
                    no_match.get_or_insert(r);
                }
                VersionCheck::Undecided(r) => {
                    undecided.get_or_insert(r);
                }
            }
        }
    }

    // 4. Name and version only.
    if component.is_name_only() {
        if entry.names.contains(&component.name_key) {
            return finish(
                component,
                entry,
                advisory,
                MatchRule::NameVersion,
                Confidence::Low,
                check_version(entry, component.version.as_deref()),
                &format!(
                    "name {:?} equals an advisory product or package name",
                    component.name
                ),
                false,
                component.version.as_deref(),
            );
        }
        no_match.get_or_insert(format!(
            "name {:?} is not a product or package name of the advisory",
            component.name
        ));
    }
    if let Some(reason) = undecided {
        return Outcome::Undecided { reason };
    }
    Outcome::NoMatch {
        reason: no_match.unwrap_or_else(|| {
            "no identifier of the component names the advisory's package".into()
        }),
    }
}

fn show_key(k: &MatchKey) -> String {
    match k {
        MatchKey::Purl {
            ty,
            namespace,
            name,
        } if namespace.is_empty() => format!("pkg:{ty}/{name}"),
        MatchKey::Purl {
            ty,
            namespace,
            name,
        } => format!("pkg:{ty}/{namespace}/{name}"),
        MatchKey::VendorProduct { vendor, product } => format!("{vendor}:{product}"),
        MatchKey::Name(n) => n.clone(),
    }
}

fn target_version(cpe: &Cpe) -> String {
    cpe.version().literal().unwrap_or_else(|| "*".into())
}

#[allow(clippy::too_many_arguments)]
fn finish(
    component: &PreparedComponent,
    entry: &PreparedAffected,
    advisory: &VulnId,
    rule: MatchRule,
    base: Confidence,
    check: VersionCheck,
    identity: &str,
    weaker: bool,
    version: Option<&str>,
) -> Outcome {
    match check {
        VersionCheck::Out(reason) => Outcome::NoMatch {
            reason: format!("{identity}, but {reason}"),
        },
        VersionCheck::Undecided(reason) => Outcome::Undecided {
            reason: format!("{identity}, but {reason}"),
        },
        VersionCheck::Text(text) => Outcome::Match(Match {
            advisory: advisory.clone(),
            rule,
            range: format!("={text}"),
            confidence: Confidence::Low,
            reason: format!(
                "{identity}; {} {text} equals a version the advisory lists as text that cannot be ordered (exact match only)",
                component.name
            ),
        }),
        VersionCheck::In { interval, all } => {
            let mut confidence = base;
            let mut caveats = Vec::new();
            if weaker || all || !entry.platforms.is_empty() {
                confidence = confidence.min(Confidence::Medium);
            }
            if all {
                caveats.push("the advisory says every version is affected".to_string());
            }
            if !entry.platforms.is_empty() {
                caveats.push(format!("only on {}", entry.platforms.join(", ")));
            }
            if entry.unaffected_incomplete {
                confidence = Confidence::Low;
                caveats.push(
                    "some unaffected intervals of the advisory could not be evaluated".into(),
                );
            }
            let scheme = entry
                .range
                .as_ref()
                .map_or(VersionScheme::Generic, VersionRange::scheme);
            let mut reason = format!(
                "{identity}; {} {} is in {interval} ({scheme}{})",
                component.name,
                version.unwrap_or("(any version)"),
                if entry.scheme_origin == SchemeOrigin::Inferred {
                    ", inferred"
                } else {
                    ""
                }
            );
            for c in caveats {
                reason.push_str("; ");
                reason.push_str(&c);
            }
            Outcome::Match(Match {
                advisory: advisory.clone(),
                rule,
                range: interval,
                confidence,
                reason,
            })
        }
    }
}

/// [`evaluate`] from the unprepared model: whether `component` is affected by
/// the entry `affected` of advisory `advisory`.
pub fn match_component(
    component: &Component,
    advisory: &VulnId,
    affected: &Affected,
) -> Option<Match> {
    explain(component, advisory, affected).into_match()
}

/// [`evaluate`] from the unprepared model, with the reason of a non-match.
pub fn explain(component: &Component, advisory: &VulnId, affected: &Affected) -> Outcome {
    evaluate(
        &PreparedComponent::new(component),
        &PreparedAffected::new(affected),
        advisory,
    )
}

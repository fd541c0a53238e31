//! CPE names: [`Cpe`], a well-formed name (WFN, NISTIR 7695 §5) parsed from
//! the CPE 2.3 formatted string binding (§6.2) or the CPE 2.2 URI binding
//! (§6.1, including packed editions), shown back as a formatted string, and
//! matched per NISTIR 7696 (name matching) with the project's rules on top
//! ([`Cpe::matches`]).
//!
//! Written by hand: the `cpe` crate (0.1.5) has no name matching at all,
//! does not keep quoted and unquoted wildcards apart, prints with
//! `eprintln!` while parsing, and slices strings in ways that can panic on
//! outside input.
//!
//! Attribute values are kept in WFN form: every character other than a
//! letter, digit or `_` is quoted with `\`, and an unquoted `*` or `?` (only
//! at the start or end) is a wildcard. Comparisons are ASCII case-insensitive
//! (NISTIR 7696 §6.1 compares lower-cased values).
//!
//! Deliberately absent: the CPE dictionary, language-tag validation, and any
//! match that the project rules forbid: a match needs vendor *and* product,
//! and a source whose version is ANY matches only through a version range.

use std::fmt;
use std::str::FromStr;

use crate::version::{Containment, Interval, VersionRange};

/// Longest CPE accepted, in bytes.
pub const CPE_BYTES_MAX: usize = 1024;

/// The eleven WFN attributes, in binding order.
pub const ATTRIBUTES: [&str; 11] = [
    "part",
    "vendor",
    "product",
    "version",
    "update",
    "edition",
    "language",
    "sw_edition",
    "target_sw",
    "target_hw",
    "other",
];

/// Why a CPE string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CpeError {
    /// Longer than [`CPE_BYTES_MAX`].
    #[error("CPE of {len_bytes} bytes is longer than the {CPE_BYTES_MAX} allowed")]
    TooLong {
        /// Its length in bytes.
        len_bytes: usize,
    },
    /// Neither `cpe:2.3:` nor `cpe:/`.
    #[error("not a CPE: expected the prefix cpe:2.3: or cpe:/")]
    Prefix,
    /// A formatted string without exactly 11 attributes.
    #[error("a CPE 2.3 formatted string has 11 attributes, found {found}")]
    AttributeCount {
        /// How many were found.
        found: usize,
    },
    /// A URI with more than 7 components.
    #[error("a CPE 2.2 URI has at most 7 components, found {found}")]
    UriComponentCount {
        /// How many were found.
        found: usize,
    },
    /// A bad attribute value.
    #[error("invalid {attribute} {value:?}: {reason}")]
    Attribute {
        /// The attribute's name.
        attribute: &'static str,
        /// The value as found.
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
}

/// One attribute value of a WFN.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub enum AttrValue {
    /// ANY (`*`).
    #[default]
    Any,
    /// NA, not applicable (`-`).
    Na,
    /// A value in WFN form (quoted with `\`, wildcards unquoted).
    Value(String),
}

impl AttrValue {
    /// The value with quoting removed, for a value without wildcards
    /// (e.g. `1.2.3` for `1\.2\.3`); `None` for ANY, NA or wildcards.
    pub fn literal(&self) -> Option<String> {
        let AttrValue::Value(v) = self else {
            return None;
        };
        let mut out = String::with_capacity(v.len());
        let mut chars = v.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => out.push(chars.next()?),
                '*' | '?' => return None,
                c => out.push(c),
            }
        }
        Some(out)
    }

    fn has_wildcards(&self) -> bool {
        matches!(self, AttrValue::Value(_)) && self.literal().is_none()
    }
}

/// A CPE name (WFN). Construct with [`Cpe::parse`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Cpe {
    attrs: [AttrValue; 11],
}

/// NISTIR 7696 §6.2 attribute comparison relations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relation {
    /// The source is a superset of the target.
    Superset,
    /// The source is a subset of the target.
    Subset,
    /// Equal.
    Equal,
    /// Disjoint.
    Disjoint,
    /// Undefined (the target has wildcards).
    Undefined,
}

/// The outcome of [`Cpe::matches`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CpeMatch<'a> {
    /// The source names the target; with a range, the interval the target's
    /// version is in.
    Match(Option<&'a Interval>),
    /// The source does not name the target.
    NoMatch(Mismatch),
    /// Cannot be decided (e.g. the target's version does not parse under the
    /// range's scheme, or the target has wildcards).
    Unknown(String),
}

/// Why a [`CpeMatch::NoMatch`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mismatch {
    /// This attribute is disjoint (or the source is narrower than the target).
    Attribute(&'static str),
    /// The source's vendor or product is ANY or NA: project rule, never a
    /// vendor-only or product-only match.
    VendorOrProductUnspecified,
    /// The source's version is ANY and no range was given: project rule,
    /// never a version-less match of everything.
    VersionAnyWithoutRange,
    /// The target's version is outside the range.
    OutsideRange,
    /// The target's version is ANY, NA or a wildcard while a range was given.
    TargetVersionUnspecified,
}

impl Cpe {
    /// Parses a CPE 2.3 formatted string (`cpe:2.3:a:vendor:product:...`)
    /// or a CPE 2.2 URI (`cpe:/a:vendor:product:...`).
    pub fn parse(s: &str) -> Result<Cpe, CpeError> {
        let s = s.trim();
        if s.len() > CPE_BYTES_MAX {
            return Err(CpeError::TooLong { len_bytes: s.len() });
        }
        if let Some(rest) = s.strip_prefix("cpe:2.3:") {
            Cpe::parse_fs(rest)
        } else if let Some(rest) = s.strip_prefix("cpe:/") {
            Cpe::parse_uri(rest)
        } else {
            Err(CpeError::Prefix)
        }
    }

    /// The value of attribute `index` (see [`ATTRIBUTES`]).
    fn attr(&self, index: usize) -> &AttrValue {
        self.attrs.get(index).unwrap_or(&AttrValue::Any)
    }

    /// `part`: `a`, `o`, `h` or ANY.
    pub fn part(&self) -> &AttrValue {
        self.attr(0)
    }
    /// `vendor`.
    pub fn vendor(&self) -> &AttrValue {
        self.attr(1)
    }
    /// `product`.
    pub fn product(&self) -> &AttrValue {
        self.attr(2)
    }
    /// `version`.
    pub fn version(&self) -> &AttrValue {
        self.attr(3)
    }
    /// `update`.
    pub fn update(&self) -> &AttrValue {
        self.attr(4)
    }
    /// `edition`.
    pub fn edition(&self) -> &AttrValue {
        self.attr(5)
    }
    /// `language`.
    pub fn language(&self) -> &AttrValue {
        self.attr(6)
    }
    /// `sw_edition`.
    pub fn sw_edition(&self) -> &AttrValue {
        self.attr(7)
    }
    /// `target_sw`.
    pub fn target_sw(&self) -> &AttrValue {
        self.attr(8)
    }
    /// `target_hw`.
    pub fn target_hw(&self) -> &AttrValue {
        self.attr(9)
    }
    /// `other`.
    pub fn other(&self) -> &AttrValue {
        self.attr(10)
    }

    /// The NISTIR 7696 relation of each attribute, `self` as the source.
    pub fn compare(&self, target: &Cpe) -> [Relation; 11] {
        let mut out = [Relation::Equal; 11];
        for (k, r) in out.iter_mut().enumerate() {
            *r = compare_attr(self.attr(k), target.attr(k));
        }
        out
    }

    /// NISTIR 7696 `CPE_SUPERSET` or `CPE_EQUAL`: every attribute of the
    /// source is a superset of or equal to the target's.
    pub fn is_superset_of(&self, target: &Cpe) -> bool {
        self.compare(target)
            .iter()
            .all(|r| matches!(r, Relation::Superset | Relation::Equal))
    }

    /// Whether this CPE (the source, e.g. from an advisory, may carry
    /// wildcards) names `target` (a device's component), under NISTIR 7696
    /// name matching and the project rules: the source's vendor and product
    /// must be values that agree with the target's; a source version ANY
    /// matches only with `range`, which the target's version must be in;
    /// with `range` and a specific source version, both must hold.
    pub fn matches<'r>(&self, target: &Cpe, range: Option<&'r VersionRange>) -> CpeMatch<'r> {
        for k in [1, 2] {
            if !matches!(self.attr(k), AttrValue::Value(_)) {
                return CpeMatch::NoMatch(Mismatch::VendorOrProductUnspecified);
            }
        }
        let relations = self.compare(target);
        for (k, r) in relations.iter().enumerate() {
            match r {
                Relation::Superset | Relation::Equal => {}
                Relation::Undefined => {
                    return CpeMatch::Unknown(format!(
                        "the target's {} has wildcards",
                        ATTRIBUTES.get(k).copied().unwrap_or("attribute")
                    ))
                }
                Relation::Subset | Relation::Disjoint => {
                    return CpeMatch::NoMatch(Mismatch::Attribute(
                        ATTRIBUTES.get(k).copied().unwrap_or("attribute"),
                    ))
                }
            }
        }
        let Some(range) = range else {
            if *self.version() == AttrValue::Any {
                return CpeMatch::NoMatch(Mismatch::VersionAnyWithoutRange);
            }
            return CpeMatch::Match(None);
        };
        let Some(version) = target.version().literal() else {
            return CpeMatch::NoMatch(Mismatch::TargetVersionUnspecified);
        };
        match range.contains(&version) {
            Containment::Affected(interval) => CpeMatch::Match(Some(interval)),
            Containment::Unaffected(_) | Containment::Outside => {
                CpeMatch::NoMatch(Mismatch::OutsideRange)
            }
            Containment::Unknown(u) => CpeMatch::Unknown(format!("{u:?}")),
        }
    }

    fn parse_fs(rest: &str) -> Result<Cpe, CpeError> {
        // Split on colons that are not quoted.
        let mut fields: Vec<String> = Vec::with_capacity(11);
        let mut current = String::new();
        let mut chars = rest.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => {
                    current.push('\\');
                    if let Some(n) = chars.next() {
                        current.push(n);
                    }
                }
                ':' => fields.push(std::mem::take(&mut current)),
                c => current.push(c),
            }
        }
        fields.push(current);
        if fields.len() != 11 {
            return Err(CpeError::AttributeCount {
                found: fields.len(),
            });
        }
        let mut attrs: [AttrValue; 11] = Default::default();
        for (k, (field, slot)) in fields.iter().zip(attrs.iter_mut()).enumerate() {
            let name = ATTRIBUTES.get(k).copied().unwrap_or("attribute");
            *slot = unbind_fs_value(name, field)?;
        }
        if let Some(part) = attrs.first() {
            check_part(part)?;
        }
        Ok(Cpe { attrs })
    }

    fn parse_uri(rest: &str) -> Result<Cpe, CpeError> {
        let components: Vec<&str> = rest.split(':').collect();
        if components.len() > 7 {
            return Err(CpeError::UriComponentCount {
                found: components.len(),
            });
        }
        let mut attrs: [AttrValue; 11] = Default::default();
        for (k, comp) in components.iter().enumerate() {
            let name = ATTRIBUTES.get(k).copied().unwrap_or("attribute");
            if k == 5 && comp.starts_with('~') {
                // Packed edition: ~edition~sw_edition~target_sw~target_hw~other.
                let packed: Vec<&str> = comp.split('~').skip(1).collect();
                if packed.len() != 5 {
                    return Err(CpeError::Attribute {
                        attribute: "edition",
                        value: comp.to_string(),
                        reason: "a packed edition has exactly five ~-separated parts",
                    });
                }
                for (j, p) in packed.iter().enumerate() {
                    let index = [5, 7, 8, 9, 10].get(j).copied().unwrap_or(10);
                    let pname = ATTRIBUTES.get(index).copied().unwrap_or("attribute");
                    if let Some(slot) = attrs.get_mut(index) {
                        *slot = decode_uri_value(pname, p)?;
                    }
                }
                continue;
            }
            if let Some(slot) = attrs.get_mut(k) {
                *slot = decode_uri_value(name, comp)?;
            }
        }
        if let Some(part) = attrs.first() {
            check_part(part)?;
        }
        Ok(Cpe { attrs })
    }
}

impl FromStr for Cpe {
    type Err = CpeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Cpe::parse(s)
    }
}

impl fmt::Display for Cpe {
    /// The CPE 2.3 formatted string binding (NISTIR 7695 §6.2.2).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("cpe:2.3")?;
        for a in &self.attrs {
            f.write_str(":")?;
            match a {
                AttrValue::Any => f.write_str("*")?,
                AttrValue::Na => f.write_str("-")?,
                // A lone quoted hyphen must stay quoted, or it would read as NA.
                AttrValue::Value(v) if v == "\\-" => f.write_str("\\-")?,
                AttrValue::Value(v) => {
                    let mut chars = v.chars();
                    while let Some(c) = chars.next() {
                        if c == '\\' {
                            match chars.next() {
                                Some(n @ ('.' | '-' | '_')) => write!(f, "{n}")?,
                                Some(n) => write!(f, "\\{n}")?,
                                None => f.write_str("\\\\")?,
                            }
                        } else {
                            write!(f, "{c}")?;
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

fn check_part(part: &AttrValue) -> Result<(), CpeError> {
    match part {
        AttrValue::Any => Ok(()),
        AttrValue::Value(v) if matches!(v.to_ascii_lowercase().as_str(), "a" | "o" | "h") => Ok(()),
        other => Err(CpeError::Attribute {
            attribute: "part",
            value: format!("{other:?}"),
            reason: "part is a, o, h or *",
        }),
    }
}

/// NISTIR 7695 §6.2.3.2 `unbind_value_fs` with the validity checks of
/// §5.3.2: wildcards only at the start or end, quoted characters only
/// printable non-alphanumerics.
fn unbind_fs_value(attribute: &'static str, s: &str) -> Result<AttrValue, CpeError> {
    let err = |reason| CpeError::Attribute {
        attribute,
        value: s.to_string(),
        reason,
    };
    match s {
        "*" => return Ok(AttrValue::Any),
        "-" => return Ok(AttrValue::Na),
        "" => return Err(err("empty (use * for ANY or - for NA)")),
        _ => {}
    }
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len() + 8);
    let mut k = 0;
    let mut embedded = false;
    while let Some(&c) = chars.get(k) {
        if c.is_ascii_alphanumeric() || c == '_' {
            out.push(c);
            embedded = true;
        } else if c == '\\' {
            let Some(&n) = chars.get(k + 1) else {
                return Err(err("ends with an unfinished \\ escape"));
            };
            if !(n.is_ascii_punctuation()) {
                return Err(err("\\ escapes only printable non-alphanumeric characters"));
            }
            if n == '_' {
                out.push('_');
            } else {
                out.push('\\');
                out.push(n);
            }
            embedded = true;
            k += 1;
        } else if c == '*' {
            // Only at the very start or end, and not doubled.
            let at_start = k == 0;
            let at_end = k + 1 == chars.len();
            if !(at_start || at_end) || (at_start && chars.get(1) == Some(&'*')) {
                return Err(err("unquoted * only at the start or end"));
            }
            out.push('*');
        } else if c == '?' {
            // A run of ? at the start, or at the end.
            let leading = !embedded;
            let trailing = chars
                .get(k..)
                .is_some_and(|rest| rest.iter().all(|x| *x == '?'));
            if !(leading || trailing) {
                return Err(err("unquoted ? only at the start or end"));
            }
            out.push('?');
        } else if c == '.' || c == '-' {
            out.push('\\');
            out.push(c);
            embedded = true;
        } else {
            return Err(err(
                "an unquoted character other than a letter, digit, _ - . * ?",
            ));
        }
        k += 1;
    }
    finish(out).map_err(err)
}

/// A decoded value: `*` alone is ANY; wildcards alone with a `*` are refused
/// (they have no formatted-string binding).
fn finish(out: String) -> Result<AttrValue, &'static str> {
    if out == "*" {
        return Ok(AttrValue::Any);
    }
    if out.contains('*') && out.chars().all(|c| c == '*' || c == '?') {
        return Err("only wildcards");
    }
    Ok(AttrValue::Value(out))
}

/// NISTIR 7695 §6.1.3.2 `decode` of a CPE 2.2 URI component.
fn decode_uri_value(attribute: &'static str, s: &str) -> Result<AttrValue, CpeError> {
    let err = |reason| CpeError::Attribute {
        attribute,
        value: s.to_string(),
        reason,
    };
    match s {
        "" => return Ok(AttrValue::Any),
        "-" => return Ok(AttrValue::Na),
        _ => {}
    }
    let bytes = s.as_bytes();
    let mut out = String::with_capacity(s.len() + 8);
    let mut k = 0;
    let mut embedded = false;
    while let Some(&c) = bytes.get(k) {
        if c.is_ascii_alphanumeric() || c == b'_' {
            out.push(char::from(c));
            embedded = true;
            k += 1;
            continue;
        }
        if c == b'.' || c == b'-' || c == b'~' {
            out.push('\\');
            out.push(char::from(c));
            embedded = true;
            k += 1;
            continue;
        }
        if c != b'%' {
            return Err(err("a character that a CPE 2.2 URI must percent-encode"));
        }
        let hex = s
            .get(k + 1..k + 3)
            .ok_or_else(|| err("truncated %-escape"))?;
        let byte = u8::from_str_radix(hex, 16).map_err(|_| err("bad %-escape"))?;
        match byte {
            0x01 => {
                // %01 is ?; only at the start or end.
                let trailing = bytes
                    .get(k..)
                    .is_some_and(|rest| rest.chunks(3).all(|ch| ch.eq_ignore_ascii_case(b"%01")));
                if embedded && !trailing {
                    return Err(err("%01 (?) only at the start or end"));
                }
                out.push('?');
            }
            0x02 => {
                if !(k == 0 || k + 3 == bytes.len()) || out.ends_with('*') {
                    return Err(err("%02 (*) only at the start or end"));
                }
                out.push('*');
            }
            b if b.is_ascii_punctuation() => {
                out.push('\\');
                out.push(char::from(b));
                embedded = true;
            }
            _ => {
                return Err(err(
                    "%-escape of a character that is not printable punctuation",
                ))
            }
        }
        k += 3;
    }
    finish(out).map_err(err)
}

/// NISTIR 7696 §6.2 `compare` of one attribute, `source` against `target`.
fn compare_attr(source: &AttrValue, target: &AttrValue) -> Relation {
    if target.has_wildcards() {
        return Relation::Undefined;
    }
    match (source, target) {
        (AttrValue::Value(s), AttrValue::Value(t)) if s.eq_ignore_ascii_case(t) => Relation::Equal,
        (AttrValue::Any, AttrValue::Any) | (AttrValue::Na, AttrValue::Na) => Relation::Equal,
        (AttrValue::Any, _) => Relation::Superset,
        (_, AttrValue::Any) => Relation::Subset,
        (AttrValue::Na, _) | (_, AttrValue::Na) => Relation::Disjoint,
        (AttrValue::Value(s), AttrValue::Value(t)) => compare_strings(s, t),
    }
}

/// A WFN value as a pattern: optional leading/trailing wildcards around a
/// literal body.
enum Wild {
    None,
    Star,
    /// `n` question marks: up to `n` characters (the reference algorithm of
    /// NISTIR 7696 §6.2, `compareStrings`, accepts fewer).
    Question(usize),
}

/// NISTIR 7696 `compareStrings`: `Superset` when the source's wildcards
/// let it match the target, else `Disjoint` (equality was handled before).
fn compare_strings(source: &str, target: &str) -> Relation {
    let src: Vec<char> = source.chars().collect();
    let mut body: Vec<char> = Vec::new();
    let mut begin = Wild::None;
    let mut end = Wild::None;
    let mut k = 0;
    let mut q = 0;
    while let Some(&c) = src.get(k) {
        match c {
            '*' if k == 0 => begin = Wild::Star,
            '?' if body.is_empty() && matches!(begin, Wild::None | Wild::Question(_)) => {
                q += 1;
                begin = Wild::Question(q);
            }
            '*' => end = Wild::Star,
            '?' => {
                end = match end {
                    Wild::Question(n) => Wild::Question(n + 1),
                    _ => Wild::Question(1),
                }
            }
            '\\' => {
                k += 1;
                if let Some(&n) = src.get(k) {
                    body.push(n.to_ascii_lowercase());
                }
            }
            c => body.push(c.to_ascii_lowercase()),
        }
        k += 1;
    }
    let mut tgt: Vec<char> = Vec::with_capacity(target.len());
    let mut chars = target.chars();
    while let Some(c) = chars.next() {
        let c = if c == '\\' {
            chars.next().unwrap_or(c)
        } else {
            c
        };
        tgt.push(c.to_ascii_lowercase());
    }
    if tgt.len() < body.len() {
        return Relation::Disjoint;
    }
    let fits = |w: &Wild, n: usize| match w {
        Wild::None => n == 0,
        Wild::Star => true,
        Wild::Question(q) => n <= *q,
    };
    for i in 0..=(tgt.len() - body.len()) {
        let window = tgt.get(i..i + body.len()).unwrap_or_default();
        if window == body.as_slice() && fits(&begin, i) && fits(&end, tgt.len() - i - body.len()) {
            return Relation::Superset;
        }
    }
    Relation::Disjoint
}

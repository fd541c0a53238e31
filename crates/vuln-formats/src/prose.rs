//! Version ranges written as text in a CVE 5 `version` field, as many CNAs
//! write them instead of `lessThan`/`lessThanOrEqual`: `< 5.1.1`,
//! `>= 1.3.0, < 1.3.19`, `5.5.58 and prior`, `7.2.26 and earlier`,
//! `8.5.0 to 8.5.6`, `All versions < V4.1.1`, `all versions`, `= 2.39.0`.
//! [`read`] turns one into bounds; anything else is `None` (the version is
//! then used as written, and the matcher says if it cannot be ordered).
//!
//! Deliberately absent: guessing. Only the phrasings above are read, each
//! with one meaning; the versions inside are kept as written.

use crate::model::Bound;

/// What a version text says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Prose {
    /// Every version.
    All,
    /// An interval: lower and upper bound (`None`: unbounded).
    Range(Option<Bound>, Option<Bound>),
    /// Exactly this version (`= 2.39.0`).
    Exact(String),
}

/// Phrases after a version that make it an inclusive upper bound.
const AND_BEFORE: &[&str] = &[
    " and prior",
    " and earlier",
    " or earlier",
    " and below",
    " and lower",
    " or lower",
    " and older",
    " or older",
];
/// Phrases after a version that make it an inclusive lower bound.
const AND_AFTER: &[&str] = &[
    " and later",
    " or later",
    " and above",
    " or above",
    " and newer",
    " or newer",
    " and higher",
    " or higher",
];
/// Phrases before a version that make it an exclusive upper bound.
const BEFORE: &[&str] = &["before ", "prior to ", "earlier than ", "below "];
/// Words between two versions that make an inclusive interval.
const BETWEEN: &[&str] = &[" to ", " through ", " thru ", " - "];

/// Reads a version text (see the module documentation).
pub fn read(text: &str) -> Option<Prose> {
    let t = text.trim();
    let lower = t.to_ascii_lowercase();
    if lower == "all" || lower == "all versions" {
        return Some(Prose::All);
    }
    let (t, lower) = match lower.strip_prefix("all versions") {
        Some(rest) => {
            let cut = t.len() - rest.len();
            (t.get(cut..)?.trim(), rest.trim().to_string())
        }
        None => (t, lower),
    };
    if let Some(p) = operators(t) {
        return Some(p);
    }
    for phrase in AND_BEFORE {
        if let Some(v) = lower.strip_suffix(phrase) {
            return version(t.get(..v.len())?)
                .map(|v| Prose::Range(None, Some(Bound::including(v))));
        }
    }
    for phrase in AND_AFTER {
        if let Some(v) = lower.strip_suffix(phrase) {
            return version(t.get(..v.len())?)
                .map(|v| Prose::Range(Some(Bound::including(v)), None));
        }
    }
    for phrase in BEFORE {
        if lower.starts_with(phrase) {
            return version(t.get(phrase.len()..)?)
                .map(|v| Prose::Range(None, Some(Bound::excluding(v))));
        }
    }
    let from = lower.strip_prefix("from ").map_or(0, |_| "from ".len());
    for word in BETWEEN {
        if let Some(at) = lower.find(word) {
            if at < from {
                continue;
            }
            let a = version(t.get(from..at)?)?;
            let b = version(t.get(at + word.len()..)?)?;
            return Some(Prose::Range(
                Some(Bound::including(a)),
                Some(Bound::including(b)),
            ));
        }
    }
    None
}

/// One or two comparisons: `< 5.1.1`, `>=1.0`, `>= 1.3.0, < 1.3.19`,
/// `>1.0 <=2.0`, `= 2.39.0`.
fn operators(t: &str) -> Option<Prose> {
    let mut lower: Option<Bound> = None;
    let mut upper: Option<Bound> = None;
    let mut exact: Option<String> = None;
    let mut rest = t.trim();
    let mut count = 0;
    while !rest.is_empty() {
        let (op, after) = [">=", "<=", ">", "<", "=="]
            .iter()
            .chain(&["="])
            .find_map(|op| rest.strip_prefix(op).map(|a| (*op, a)))?;
        let after = after.trim_start();
        let end = after.find([',', '<', '>', '=', ' ']).unwrap_or(after.len());
        let v = version(after.get(..end)?)?;
        rest = after
            .get(end..)?
            .trim_start_matches([',', ' '])
            .trim_start();
        count += 1;
        match op {
            ">=" => lower = Some(Bound::including(v)),
            ">" => lower = Some(Bound::excluding(v)),
            "<=" => upper = Some(Bound::including(v)),
            "<" => upper = Some(Bound::excluding(v)),
            _ => exact = Some(v.to_string()),
        }
    }
    match (count, exact) {
        (1, Some(v)) => Some(Prose::Exact(v)),
        (1 | 2, None) if lower.is_some() || upper.is_some() => Some(Prose::Range(lower, upper)),
        _ => None,
    }
}

/// A version inside a phrase: trimmed, non-empty, with a digit, no spaces.
fn version(v: &str) -> Option<&str> {
    let v = v.trim();
    (!v.is_empty() && v.chars().any(|c| c.is_ascii_digit()) && !v.contains(' ')).then_some(v)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn range(lo: Option<(&str, bool)>, hi: Option<(&str, bool)>) -> Option<Prose> {
        let b = |(v, inclusive): (&str, bool)| Bound {
            version: v.to_string(),
            inclusive,
        };
        Some(Prose::Range(lo.map(b), hi.map(b)))
    }

    #[test]
    fn phrasings_of_real_records() {
        let cases: &[(&str, Option<Prose>)] = &[
            ("< 5.1.1", range(None, Some(("5.1.1", false)))),
            ("<=4.4.11", range(None, Some(("4.4.11", true)))),
            (">= 3.3.0", range(Some(("3.3.0", true)), None)),
            (
                ">= 1.3.0, < 1.3.19",
                range(Some(("1.3.0", true)), Some(("1.3.19", false))),
            ),
            (
                ">1.0 <=2.0",
                range(Some(("1.0", false)), Some(("2.0", true))),
            ),
            ("= 2.39.0", Some(Prose::Exact("2.39.0".into()))),
            ("5.5.58 and prior", range(None, Some(("5.5.58", true)))),
            ("7.2.26 and earlier", range(None, Some(("7.2.26", true)))),
            ("2.0 and later", range(Some(("2.0", true)), None)),
            ("before 3.2", range(None, Some(("3.2", false)))),
            (
                "8.5.0 to 8.5.6",
                range(Some(("8.5.0", true)), Some(("8.5.6", true))),
            ),
            (
                "from 1.0 through 1.4",
                range(Some(("1.0", true)), Some(("1.4", true))),
            ),
            ("All versions", Some(Prose::All)),
            ("all", Some(Prose::All)),
            (
                "All versions < V4.1.1",
                range(None, Some(("V4.1.1", false))),
            ),
            // Not read: left as written.
            ("2.6.0 p1", None),
            ("Snapdragon 855 Mobile Platform", None),
            ("< ", None),
            ("<1.0 <2.0 <3.0", None),
            ("10.5(0)", None),
        ];
        for (text, expected) in cases {
            assert_eq!(&read(text), expected, "{text}");
        }
    }
}

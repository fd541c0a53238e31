//! RPM version ordering: `[epoch:]version[-release]` compared as rpm does
//! (`rpmio/rpmvercmp.c`, rpm ≥ 4.15): alphanumeric segments, digits
//! numerically and above letters, `~` before everything (even the end),
//! `^` after the end but before anything else; the release is compared only
//! when both versions have one (`rpmverCmp`).
//!
//! Deliberately absent: the package name (NEVRA parsing belongs to whoever
//! reads the SBOM) and any validation beyond what rpm itself refuses: rpm
//! accepts almost any string, so only empty versions and non-numeric epochs
//! are errors here.

use std::cmp::Ordering;

use super::{VersionError, VersionScheme};

/// Orders two RPM `[epoch:]version[-release]` strings.
pub fn compare(a: &str, b: &str) -> Result<Ordering, VersionError> {
    let pa = parse(a)?;
    let pb = parse(b)?;
    let mut ord = pa.epoch.cmp(&pb.epoch);
    if ord == Ordering::Equal {
        ord = rpmvercmp(pa.version, pb.version);
    }
    if ord == Ordering::Equal {
        if let (Some(ra), Some(rb)) = (pa.release, pb.release) {
            ord = rpmvercmp(ra, rb);
        }
    }
    Ok(ord)
}

struct Parsed<'a> {
    epoch: u64,
    version: &'a str,
    release: Option<&'a str>,
}

fn parse(v: &str) -> Result<Parsed<'_>, VersionError> {
    let err = |reason: &str| VersionError::new(VersionScheme::Rpm, v, reason);
    let s = v.trim();
    let (epoch, rest) = match s.split_once(':') {
        Some((e, rest)) => {
            if e.is_empty() || !e.bytes().all(|c| c.is_ascii_digit()) {
                return Err(err("the epoch is not a number"));
            }
            (
                e.parse::<u64>()
                    .map_err(|_| err("the epoch is too large"))?,
                rest,
            )
        }
        None => (0, s),
    };
    let (version, release) = match rest.rsplit_once('-') {
        Some((ver, rel)) => (ver, Some(rel)),
        None => (rest, None),
    };
    if version.is_empty() {
        return Err(err("empty version"));
    }
    if release.is_some_and(str::is_empty) {
        return Err(err("empty release after '-'"));
    }
    Ok(Parsed {
        epoch,
        version,
        release,
    })
}

/// rpm's `rpmvercmp`, byte for byte.
pub fn rpmvercmp(a: &str, b: &str) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    let a = a.as_bytes();
    let b = b.as_bytes();
    let (mut i, mut j) = (0usize, 0usize);
    let at = |s: &[u8], k: usize| s.get(k).copied();
    let separator =
        |c: Option<u8>| c.is_some_and(|c| !c.is_ascii_alphanumeric() && c != b'~' && c != b'^');
    while at(a, i).is_some() || at(b, j).is_some() {
        while separator(at(a, i)) {
            i += 1;
        }
        while separator(at(b, j)) {
            j += 1;
        }
        // Tilde: sorts before everything else.
        if at(a, i) == Some(b'~') || at(b, j) == Some(b'~') {
            if at(a, i) != Some(b'~') {
                return Ordering::Greater;
            }
            if at(b, j) != Some(b'~') {
                return Ordering::Less;
            }
            i += 1;
            j += 1;
            continue;
        }
        // Caret: after the end of the string, before anything else.
        if at(a, i) == Some(b'^') || at(b, j) == Some(b'^') {
            if at(a, i).is_none() {
                return Ordering::Less;
            }
            if at(b, j).is_none() {
                return Ordering::Greater;
            }
            if at(a, i) != Some(b'^') {
                return Ordering::Greater;
            }
            if at(b, j) != Some(b'^') {
                return Ordering::Less;
            }
            i += 1;
            j += 1;
            continue;
        }
        if at(a, i).is_none() || at(b, j).is_none() {
            break;
        }
        let numeric = at(a, i).is_some_and(|c| c.is_ascii_digit());
        let class = |c: Option<u8>| {
            c.is_some_and(|c| {
                if numeric {
                    c.is_ascii_digit()
                } else {
                    c.is_ascii_alphabetic()
                }
            })
        };
        let (start_a, start_b) = (i, j);
        while class(at(a, i)) {
            i += 1;
        }
        while class(at(b, j)) {
            j += 1;
        }
        let seg_a = a.get(start_a..i).unwrap_or_default();
        let seg_b = b.get(start_b..j).unwrap_or_default();
        if seg_b.is_empty() {
            // Different segment types: numeric is newer than alpha.
            return if numeric {
                Ordering::Greater
            } else {
                Ordering::Less
            };
        }
        let ord = if numeric {
            let ta = trim_zeros(seg_a);
            let tb = trim_zeros(seg_b);
            ta.len().cmp(&tb.len()).then_with(|| ta.cmp(tb))
        } else {
            seg_a.cmp(seg_b)
        };
        if ord != Ordering::Equal {
            return ord;
        }
    }
    match (at(a, i).is_none(), at(b, j).is_none()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        _ => Ordering::Greater,
    }
}

fn trim_zeros(s: &[u8]) -> &[u8] {
    let n = s.iter().take_while(|c| **c == b'0').count();
    s.get(n..).unwrap_or_default()
}

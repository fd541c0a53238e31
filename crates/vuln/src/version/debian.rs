//! Debian version ordering: `[epoch:]upstream[-revision]` compared as dpkg
//! does (`lib/dpkg/version.c`, `verrevcmp`), per Debian Policy §5.6.12: `~`
//! sorts before everything, even the end of the string; letters sort before
//! other non-digits; digit runs compare numerically.
//!
//! Deliberately absent: dpkg's leniency. An upstream version must start with
//! a digit and use only `[A-Za-z0-9.+~-]` (and `:` when there is an epoch),
//! a revision only `[A-Za-z0-9.+~]`, as Policy requires; anything else is an
//! error rather than an order dpkg would warn about.

use std::cmp::Ordering;

use super::{VersionError, VersionScheme};

/// Orders two Debian versions.
pub fn compare(a: &str, b: &str) -> Result<Ordering, VersionError> {
    let pa = parse(a)?;
    let pb = parse(b)?;
    Ok(pa
        .epoch
        .cmp(&pb.epoch)
        .then_with(|| verrevcmp(pa.upstream, pb.upstream))
        .then_with(|| verrevcmp(pa.revision, pb.revision)))
}

struct Parsed<'a> {
    epoch: u64,
    upstream: &'a str,
    /// Empty when absent (which dpkg orders as `0`).
    revision: &'a str,
}

fn parse(v: &str) -> Result<Parsed<'_>, VersionError> {
    let err = |reason: &str| VersionError::new(VersionScheme::Debian, v, reason);
    let s = v.trim();
    if s.is_empty() {
        return Err(err("empty"));
    }
    let (epoch, rest) = match s.split_once(':') {
        Some((e, rest)) => {
            if e.is_empty() || !e.bytes().all(|c| c.is_ascii_digit()) {
                return Err(err("the epoch is not a number"));
            }
            let epoch = e
                .parse::<u64>()
                .map_err(|_| err("the epoch is too large"))?;
            (epoch, rest)
        }
        None => (0, s),
    };
    let (upstream, revision) = match rest.rsplit_once('-') {
        Some((u, r)) => {
            if r.is_empty() {
                return Err(err("empty revision after '-'"));
            }
            (u, r)
        }
        None => (rest, ""),
    };
    if !upstream.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(err("the upstream version does not start with a digit"));
    }
    let colon_ok = epoch > 0 || s.contains(':');
    if !upstream.chars().all(|c| {
        c.is_ascii_alphanumeric() || matches!(c, '.' | '+' | '~' | '-') || (colon_ok && c == ':')
    }) {
        return Err(err(
            "the upstream version has a character outside [A-Za-z0-9.+~-]",
        ));
    }
    if !revision
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '+' | '~'))
    {
        return Err(err("the revision has a character outside [A-Za-z0-9.+~]"));
    }
    Ok(Parsed {
        epoch,
        upstream,
        revision,
    })
}

/// dpkg's `order()`: `~` < end of string < letters < other characters.
fn order(c: Option<u8>) -> i32 {
    match c {
        None => 0,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => i32::from(c),
        Some(b'~') => -1,
        Some(c) => i32::from(c) + 256,
    }
}

/// dpkg's `verrevcmp`.
fn verrevcmp(a: &str, b: &str) -> Ordering {
    let a = a.as_bytes();
    let b = b.as_bytes();
    let (mut i, mut j) = (0, 0);
    let at = |s: &[u8], k: usize| s.get(k).copied();
    let is_digit = |c: Option<u8>| c.is_some_and(|c| c.is_ascii_digit());
    while at(a, i).is_some() || at(b, j).is_some() {
        while (at(a, i).is_some() && !is_digit(at(a, i)))
            || (at(b, j).is_some() && !is_digit(at(b, j)))
        {
            let ac = order(at(a, i).filter(|c| !c.is_ascii_digit()));
            let bc = order(at(b, j).filter(|c| !c.is_ascii_digit()));
            if ac != bc {
                return ac.cmp(&bc);
            }
            i += 1;
            j += 1;
        }
        while at(a, i) == Some(b'0') {
            i += 1;
        }
        while at(b, j) == Some(b'0') {
            j += 1;
        }
        let mut first_diff = Ordering::Equal;
        while is_digit(at(a, i)) && is_digit(at(b, j)) {
            if first_diff == Ordering::Equal {
                first_diff = at(a, i).cmp(&at(b, j));
            }
            i += 1;
            j += 1;
        }
        if is_digit(at(a, i)) {
            return Ordering::Greater;
        }
        if is_digit(at(b, j)) {
            return Ordering::Less;
        }
        if first_diff != Ordering::Equal {
            return first_diff;
        }
    }
    Ordering::Equal
}

//! Firmware version order for the minimum-version rule: dot-separated numeric
//! components (missing ones are 0), then an optional pre-release after `-`
//! (lower than the release itself, compared as text); build metadata after
//! `+` is ignored, as in SemVer.

use core::cmp::Ordering;

/// A version the rule cannot order.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VersionError {
    /// Empty, or a component is not a decimal number below 2^64.
    #[error("version {0:?} is not dot-separated decimal numbers (e.g. 2.4.1 or 2.5.0-rc1)")]
    NotNumeric(alloc::string::String),
}

fn split(v: &str) -> Result<(&str, Option<&str>), VersionError> {
    let v = v.split('+').next().unwrap_or(v);
    let (core, pre) = match v.split_once('-') {
        Some((c, p)) => (c, Some(p)),
        None => (v, None),
    };
    let bad = || VersionError::NotNumeric(v.into());
    if core.is_empty()
        || core
            .split('.')
            .any(|c| c.is_empty() || c.len() > 19 || !c.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(bad());
    }
    Ok((core, pre))
}

/// Orders two firmware versions (`2.4.1` < `2.5.0-rc1` < `2.5.0` = `2.5`).
pub fn compare_versions(a: &str, b: &str) -> Result<Ordering, VersionError> {
    let (ca, pa) = split(a)?;
    let (cb, pb) = split(b)?;
    let mut ia = ca.split('.');
    let mut ib = cb.split('.');
    loop {
        let (x, y) = (ia.next(), ib.next());
        if x.is_none() && y.is_none() {
            break;
        }
        // Checked by `split`: decimal, at most 19 digits.
        let x: u64 = x.map_or(0, |s| s.parse().unwrap_or(0));
        let y: u64 = y.map_or(0, |s| s.parse().unwrap_or(0));
        match x.cmp(&y) {
            Ordering::Equal => {}
            o => return Ok(o),
        }
    }
    Ok(match (pa, pb) {
        (None, None) => Ordering::Equal,
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (Some(x), Some(y)) => x.cmp(y),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_like_firmware_versions() {
        let cases = [
            ("2.4.1", "2.5.0", Ordering::Less),
            ("2.5", "2.5.0", Ordering::Equal),
            ("2.10.0", "2.9.9", Ordering::Greater),
            ("2.5.0-rc1", "2.5.0", Ordering::Less),
            ("2.5.0-rc1", "2.4.9", Ordering::Greater),
            ("2.5.0+build7", "2.5.0", Ordering::Equal),
        ];
        for (a, b, want) in cases {
            assert_eq!(compare_versions(a, b), Ok(want), "{a} vs {b}");
        }
        for bad in ["", "v2", "2..1", "2.x", "99999999999999999999"] {
            assert!(compare_versions(bad, "1").is_err(), "{bad}");
        }
    }
}

//! Small helpers the advisory and VEX parsers share: optional timestamps
//! with their field path, de-duplicating pushes, and the OSV-style event
//! list → interval folding. No format knowledge beyond that.

use crate::error::{AdvisoryParseError, FieldError};
use crate::model::{Bound, Timestamp, VersionRange, VulnId};

/// Reads an optional timestamp, naming `field` on error.
pub(crate) fn timestamp<E>(
    field: impl FnOnce() -> String,
    value: Option<&str>,
    err: impl FnOnce(String, &str, FieldError) -> E,
) -> Result<Option<Timestamp>, E> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => Timestamp::new(v).map(Some).map_err(|e| err(field(), v, e)),
    }
}

/// [`timestamp`] for advisories.
pub(crate) fn adv_timestamp(
    field: impl FnOnce() -> String,
    value: Option<&str>,
) -> Result<Option<Timestamp>, AdvisoryParseError> {
    timestamp(field, value, AdvisoryParseError::invalid)
}

/// Reads a vulnerability id for advisories.
pub(crate) fn adv_id(
    field: impl FnOnce() -> String,
    value: &str,
) -> Result<VulnId, AdvisoryParseError> {
    VulnId::new(value).map_err(|e| AdvisoryParseError::invalid(field(), value, e))
}

/// Pushes `v` unless already present.
pub(crate) fn push_unique<T: PartialEq>(list: &mut Vec<T>, v: T) {
    if !list.contains(&v) {
        list.push(v);
    }
}

/// One OSV-style event.
pub(crate) enum Event<'a> {
    Introduced(&'a str),
    Fixed(&'a str),
    LastAffected(&'a str),
    Limit(&'a str),
}

/// Folds events, in the order given, into intervals. Returns the intervals
/// and whether the events say "every version" (introduced at `0` and never
/// ended), in which case that open interval is not listed.
pub(crate) fn fold_events<'a>(
    scheme: &str,
    events: impl IntoIterator<Item = Event<'a>>,
) -> (Vec<VersionRange>, bool) {
    let mut out = Vec::new();
    let mut all = false;
    // `Some(None)`: open since the first version; `Some(Some(v))`: since v.
    let mut open: Option<Option<&str>> = None;
    let close = |open: Option<&str>, end: Option<Bound>, out: &mut Vec<VersionRange>| {
        out.push(VersionRange {
            scheme: scheme.to_string(),
            introduced: open.map(Bound::including),
            end,
        });
    };
    for e in events {
        match e {
            Event::Introduced(v) => {
                if let Some(prev) = open.take() {
                    if prev.is_none() {
                        all = true;
                    } else {
                        close(prev, None, &mut out);
                    }
                }
                open = Some(if v == "0" || v.is_empty() {
                    None
                } else {
                    Some(v)
                });
            }
            Event::Fixed(v) | Event::Limit(v) => {
                let start = open.take().unwrap_or(None);
                close(start, Some(Bound::excluding(v)), &mut out);
            }
            Event::LastAffected(v) => {
                let start = open.take().unwrap_or(None);
                close(start, Some(Bound::including(v)), &mut out);
            }
        }
    }
    match open {
        Some(None) => all = true,
        Some(Some(v)) => close(Some(v), None, &mut out),
        None => {}
    }
    (out, all)
}

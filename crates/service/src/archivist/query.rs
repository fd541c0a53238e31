//! List requests: filters (`attributes[k]` and `attributes.k` alike), page
//! size, and opaque page tokens that carry the filters and the position, so
//! that follow-up requests carry only the token (and, as the SDK sends, the
//! page size).

use base64::Engine as _;
use serde_json::{json, Value};

use super::{PAGE_SIZE_DEFAULT, PAGE_SIZE_MAX};
use crate::ServiceError;

/// The parameters of a list request.
#[derive(Debug, Clone, PartialEq)]
pub struct ListQuery {
    /// `(key, value)`: keys normalized (`attributes.k`); `*` matches any
    /// value that is present.
    pub filters: Vec<(String, String)>,
    /// Items per page.
    pub page_size: usize,
    /// Where the previous page stopped (from the page token).
    pub after: Option<Value>,
    /// Whether only the count is asked for.
    pub count_only: bool,
}

/// One page of a list, or its count.
#[derive(Debug, Clone, PartialEq)]
pub struct Listing {
    /// The items of this page (none when counting).
    pub items: Vec<Value>,
    /// The token of the next page, empty on the last one.
    pub next_page_token: String,
    /// The number of items that match, when counted.
    pub total: Option<u64>,
}

/// Normalizes `attributes[k]` (and the event forms) to `attributes.k`.
pub fn normalize_key(k: &str) -> String {
    for prefix in ["attributes", "event_attributes", "asset_attributes"] {
        if let Some(rest) = k.strip_prefix(prefix) {
            if let Some(inner) = rest.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
                return format!("{prefix}.{inner}");
            }
        }
    }
    k.to_string()
}

impl ListQuery {
    /// Parses a list request's query pairs; `allowed` says which filter keys
    /// (exact names, or prefixes ending with `.`) this list understands.
    pub fn parse(
        pairs: Vec<(String, String)>,
        allowed: &[&str],
        count_only: bool,
    ) -> Result<ListQuery, ServiceError> {
        let mut filters = Vec::new();
        let mut page_size = PAGE_SIZE_DEFAULT;
        let mut token = None;
        for (k, v) in pairs {
            match k.as_str() {
                "page_size" => {
                    page_size = match v.parse::<usize>() {
                        Ok(n) if (1..=PAGE_SIZE_MAX).contains(&n) => n,
                        _ => {
                            return Err(ServiceError::invalid(format!(
                                "page_size must be an integer from 1 to {PAGE_SIZE_MAX}, not {v:?}"
                            )))
                        }
                    }
                }
                "page_token" => token = Some(v),
                "order_by" => {}
                _ => {
                    let key = normalize_key(&k);
                    let known = allowed.iter().any(|a| {
                        if a.ends_with('.') {
                            key.starts_with(a) && key.len() > a.len()
                        } else {
                            key == *a
                        }
                    });
                    if !known {
                        return Err(ServiceError::invalid(format!(
                            "unknown filter {k:?}: this list filters on {}",
                            allowed.join(", ")
                        )));
                    }
                    filters.push((key, v));
                }
            }
        }
        let mut q = ListQuery {
            filters,
            page_size,
            after: None,
            count_only,
        };
        if let Some(t) = token {
            let (filters, after) = decode_token(&t)?;
            q.filters = filters;
            q.after = after;
        }
        Ok(q)
    }

    /// The token of the page after the one that ended at `after`.
    pub fn next_token(&self, after: Value) -> String {
        let text = json!({"f": self.filters, "a": after}).to_string();
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
    }

    /// Whether `item` (an asset, event or configuration item as served)
    /// meets every filter.
    pub fn matches(&self, item: &Value) -> bool {
        matches_filters(item, &self.filters)
    }
}

type Filters = Vec<(String, String)>;

fn decode_token(t: &str) -> Result<(Filters, Option<Value>), ServiceError> {
    let bad = || ServiceError::invalid("page_token is not a token this API issued");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(t)
        .map_err(|_| bad())?;
    let v: Value = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    let filters = v
        .get("f")
        .and_then(Value::as_array)
        .ok_or_else(bad)?
        .iter()
        .map(|p| {
            Some((
                p.get(0)?.as_str()?.to_string(),
                p.get(1)?.as_str()?.to_string(),
            ))
        })
        .collect::<Option<Vec<_>>>()
        .ok_or_else(bad)?;
    Ok((filters, v.get("a").cloned()))
}

/// Whether a JSON value matches a filter value (strings exactly, other
/// values by their JSON text; `*` matches any value that is present).
fn value_matches(v: Option<&Value>, want: &str) -> bool {
    match v {
        None => false,
        Some(_) if want == "*" => true,
        Some(Value::String(s)) => s == want,
        Some(other) => serde_json::to_string(other).is_ok_and(|t| t == want),
    }
}

/// Whether `item` meets every filter: a dotted key looks one level into an
/// object field.
pub fn matches_filters(item: &Value, filters: &[(String, String)]) -> bool {
    filters.iter().all(|(k, want)| match k.split_once('.') {
        Some((field, key)) => value_matches(item.get(field).and_then(|o| o.get(key)), want),
        None => value_matches(item.get(k.as_str()), want),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(q: &str) -> Vec<(String, String)> {
        serde_urlencoded::from_str(q).unwrap_or_else(|e| panic!("{e}"))
    }

    const ASSET_FILTERS: &[&str] = &["attributes.", "public"];

    #[test]
    fn filters_take_both_forms_and_tokens_carry_them() {
        let q = ListQuery::parse(
            pairs("attributes.arc_display_type=door&attributes%5Bfloor%5D=2&page_size=5"),
            ASSET_FILTERS,
            false,
        )
        .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(
            q.filters,
            vec![
                ("attributes.arc_display_type".into(), "door".into()),
                ("attributes.floor".into(), "2".into())
            ]
        );
        let t = q.next_token(json!("abc"));
        let again = ListQuery::parse(
            pairs(&format!("page_token={t}&page_size=5")),
            ASSET_FILTERS,
            false,
        )
        .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(again.filters, q.filters);
        assert_eq!(again.after, Some(json!("abc")));
        assert!(ListQuery::parse(pairs("colour=red"), ASSET_FILTERS, false).is_err());
        assert!(ListQuery::parse(pairs("page_token=zz!"), ASSET_FILTERS, false).is_err());
        assert!(ListQuery::parse(pairs("page_size=0"), ASSET_FILTERS, false).is_err());
        let asset = json!({"attributes": {"arc_display_type": "door", "floor": 2}});
        assert!(q.matches(&asset));
        assert!(!matches_filters(
            &asset,
            &[("attributes.floor".into(), "3".into())]
        ));
        assert!(matches_filters(
            &asset,
            &[("attributes.floor".into(), "*".into())]
        ));
    }
}

//! [`ApiQuery`]: a query string parsed into a typed query of `api_types`
//! ([`QueryParams`]: serde with `deny_unknown_fields`, and the parameters
//! its OpenAPI description documents), refused with a 400 that names the
//! parameter and what is wrong with it. The one mapping of query errors to
//! problem details for `/api/v1`.
//!
//! Deliberately absent: checks of ranges and of what a value means (a page
//! size of 0, a model that is not one): the service makes them.

use api_types::devices::{AlarmsQuery, FindingsQuery, IncidentsQuery, SuppressionsQuery};
use api_types::notify::DeliveryQuery;
use api_types::risks::{ExposureQuery, NoParameters, RiskQuery, VexQuery};
use api_types::twins::{DeviceFilter, DeviceQuery, PageQuery, PolicyQuery, ReadsQuery};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use utoipa::IntoParams;

use crate::twin_api::JsonError;

/// A typed query string.
pub struct ApiQuery<T>(pub T);

impl<T: QueryParams, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = JsonError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, JsonError> {
        parse(parts.uri.query().unwrap_or("")).map(ApiQuery)
    }
}

/// A query string type of the API. Its parameters are the ones its
/// `IntoParams` documents (the OpenAPI document's): a parameter that is not
/// one of them is refused before serde runs, with the list of those that
/// are; serde's `deny_unknown_fields` on the type says the same to other
/// readers of it.
pub trait QueryParams: DeserializeOwned + IntoParams {
    /// The refusal of the unknown parameter `name`; `known` are the
    /// documented ones.
    fn unknown(name: &str, known: &[String]) -> String {
        if known.is_empty() {
            format!("unknown parameter {name:?}: this route takes no parameters")
        } else {
            format!("unknown parameter {name:?}; expected {}", one_of(known))
        }
    }

    /// The refusal of `value` for the parameter `name`, which serde refused
    /// saying `why`.
    fn invalid(name: &str, _value: &str, why: &str) -> String {
        format!("bad query parameter {name:?}: {why}")
    }
}

impl QueryParams for RiskQuery {}
impl QueryParams for ExposureQuery {}
impl QueryParams for VexQuery {}
impl QueryParams for NoParameters {}
impl QueryParams for api_types::cra::CaseQuery {}
impl QueryParams for api_types::risks::KevImportQuery {}
impl QueryParams for api_types::ota::ReleasesQuery {}
impl QueryParams for api_types::ota::BundleQuery {}
impl QueryParams for api_types::ota::StateQuery {}
impl QueryParams for api_types::dashboard::ThreatModelQuery {}
impl QueryParams for api_types::dashboard::DigestQuery {}
impl QueryParams for PageQuery {}
impl QueryParams for ReadsQuery {}
impl QueryParams for DeliveryQuery {}
impl QueryParams for FindingsQuery {}
impl QueryParams for AlarmsQuery {}
impl QueryParams for IncidentsQuery {}
impl QueryParams for SuppressionsQuery {}
impl QueryParams for api_types::rollout::RolloutQuery {}

impl QueryParams for PolicyQuery {
    fn invalid(name: &str, value: &str, why: &str) -> String {
        match name {
            "kind" => {
                format!("unknown policy kind {value:?}; expected sharing, transparency or ai-use")
            }
            "at" => format!("at={value:?} is not a log position (an integer)"),
            _ => format!("bad query parameter {name:?}: {why}"),
        }
    }
}

/// Device searches call their parameters filters, and list the searchable
/// attributes.
fn unknown_filter(name: &str, known: &[String]) -> String {
    let filters: Vec<String> = known
        .iter()
        .filter(|k| !k.starts_with("page_"))
        .cloned()
        .collect();
    format!(
        "unknown filter {name:?}; devices can be searched by {}",
        filters.join(", ")
    )
}

impl QueryParams for DeviceQuery {
    fn unknown(name: &str, known: &[String]) -> String {
        unknown_filter(name, known)
    }
}

impl QueryParams for DeviceFilter {
    fn unknown(name: &str, known: &[String]) -> String {
        unknown_filter(name, known)
    }
}

/// Parses `query` (without `?`) into `T`.
pub fn parse<T: QueryParams>(query: &str) -> Result<T, JsonError> {
    let known: Vec<String> = T::into_params(|| None)
        .into_iter()
        .map(|p| p.name)
        .collect();
    let pairs = form_urlencoded::parse(query.as_bytes());
    if let Some((name, _)) = pairs
        .clone()
        .find(|(name, _)| !known.iter().any(|k| k == name))
    {
        return Err(JsonError::bad_request(T::unknown(&name, &known)));
    }
    serde_path_to_error::deserialize(serde_urlencoded::Deserializer::new(pairs)).map_err(|e| {
        let path = e.path().to_string();
        let why = e.into_inner().to_string();
        JsonError::bad_request(if path.is_empty() || path == "." {
            format!("bad query parameters: {why}")
        } else {
            let value = pairs
                .clone()
                .find(|(name, _)| *name == path)
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default();
            T::invalid(&path, &value, &why)
        })
    })
}

/// `a, b or c`.
fn one_of(names: &[String]) -> String {
    match names {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

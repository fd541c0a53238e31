//! [`ApiQuery`]: a query string parsed into a typed query (serde,
//! `deny_unknown_fields` on the type), refused with a 400 that names the
//! parameter and what is wrong with it.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::twin_api::JsonError;

/// A typed query string.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = JsonError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, JsonError> {
        parse(parts.uri.query().unwrap_or("")).map(ApiQuery)
    }
}

/// Parses `query` (without `?`) into `T`.
pub fn parse<T: DeserializeOwned>(query: &str) -> Result<T, JsonError> {
    let pairs = form_urlencoded::parse(query.as_bytes());
    serde_path_to_error::deserialize(serde_urlencoded::Deserializer::new(pairs)).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        JsonError::bad_request(if path.is_empty() || path == "." {
            format!("bad query parameters: {inner}")
        } else {
            format!("bad query parameter {path:?}: {inner}")
        })
    })
}

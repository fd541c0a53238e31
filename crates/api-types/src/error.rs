//! The error body of the JSON APIs: RFC 9457 problem details.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// RFC 9457 problem details (`application/problem+json`). `error` and
/// `message` repeat the error code and the detail for clients of the earlier
/// `{"error", "message"}` shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Problem {
    /// What is wrong, precisely (4xx), or `internal error` (5xx).
    pub detail: String,
    /// A short code: `bad_request`, `not_found`, `forbidden`,
    /// `unauthorized`, `unavailable`, `read_not_recorded`, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The detail again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The HTTP status code.
    pub status: u16,
    /// The status's reason phrase.
    pub title: String,
    /// Always `about:blank`.
    #[serde(rename = "type")]
    #[schema(example = "about:blank")]
    pub kind: String,
}

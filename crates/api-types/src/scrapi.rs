//! The JSON answer of SCRAPI's batch registration
//! (`POST /api/v1/statements/batch`). SCRAPI's own routes answer COSE and
//! CBOR, described in the OpenAPI document by their media types.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A statement of a batch registered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BatchRegistered {
    /// Whether it was registered before (then `index` is the first one).
    pub duplicate: bool,
    /// Its log entry.
    pub index: u64,
    /// Where its receipt is (`/entries/{index}`).
    pub location: String,
}

/// Why a statement of a batch was refused: the problem details SCRAPI
/// would have answered for it alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BatchProblem {
    /// What is wrong.
    pub detail: String,
    /// The HTTP status it would have had.
    pub status: u16,
    /// The problem's title.
    pub title: String,
}

/// A statement of a batch refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BatchRefused {
    /// Why.
    pub error: BatchProblem,
}

/// The result for one statement of a batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum BatchResult {
    /// Registered.
    Registered(BatchRegistered),
    /// Refused.
    Refused(BatchRefused),
}

/// The answer of a batch registration: one result per statement, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BatchResults {
    /// The results.
    pub results: Vec<BatchResult>,
}

/// A binary body (COSE, CBOR, gzip): its bytes as they are, described by
/// its media type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct Binary(pub Vec<u8>);

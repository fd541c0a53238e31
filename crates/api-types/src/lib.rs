//! The wire types of sectwin's native HTTP API: request bodies, query
//! strings and response views of `/api/v1`, the token endpoint and the JSON
//! answers of SCRAPI's batch route, each with its OpenAPI schema (`utoipa`).
//! The server serializes these types and the OpenAPI document is generated
//! from them, so the two cannot drift; a client can deserialize them.
//!
//! What it must not know: I/O, HTTP frameworks (no axum, no routes, no status
//! codes), storage, the clock, or the domain's rules. It depends on no crate
//! of this workspace: the service maps the domain's types to these views, so
//! the domain's own types stay free to change without changing the wire.
//!
//! Byte compatibility: most views replace `serde_json::json!` objects, whose
//! keys serialize sorted; their fields are declared in alphabetical order so
//! that the bytes on the wire stay what they were. Types that were already
//! structs keep their order. A field typed [`serde_json::Value`] is open by
//! nature (a statement's payload, a policy document) and says so in its
//! schema.

pub mod cra;
pub mod dashboard;
pub mod devices;
pub mod error;
pub mod notify;
pub mod oauth;
pub mod ops;
pub mod ota;
pub mod risks;
pub mod rollout;
pub mod scrapi;
pub mod ssvc;
pub mod twins;

pub use error::Problem;

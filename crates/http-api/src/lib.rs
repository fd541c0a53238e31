//! The HTTP edge of sectwin: the only crate that knows routes, status codes,
//! headers and JSON. Handlers extract, call one service function, and map the
//! result; every body has a size cap.
//!
//! * [`log_router`]: the C2SP tlog-tiles read API, `POST /log/add`, and proof
//!   endpoints, mounted under `/log`.
//! * [`witness::router`]: the C2SP tlog-witness API.
//! * [`scrapi_router`]: IETF SCRAPI (`POST /entries`, receipts, service keys).

#![deny(clippy::unwrap_used, clippy::expect_used)]

pub mod witness;

mod error;
mod log_routes;
mod scrapi;

pub use error::ApiError;
pub use log_routes::{log_router, LogApi};
pub use scrapi::{scrapi_router, ScrapiApi};

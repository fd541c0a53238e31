//! The HTTP edge of sectwin: the only crate that knows routes, status codes,
//! headers and JSON. Handlers extract, call one service function, and map the
//! result; every body has a size cap.
//!
//! * [`log_router`]: the C2SP tlog-tiles read API, `POST /log/add`, and proof
//!   endpoints, mounted under `/log`.
//! * [`witness::router`]: the C2SP tlog-witness API.
//! * [`scrapi_router`]: IETF SCRAPI (`POST /entries`, receipts, service keys).
//! * [`oauth::token_routes`]: the OAuth 2.0 client credentials token endpoint,
//!   and [`oauth::Caller`], the bearer token extractor of authenticated routes.
//! * [`twin_router`]: the native REST API of the security twins under
//!   `/api/v1`, every read filtered by sharing policies and recorded.
//! * [`openapi`]: the OpenAPI 3.1 document of the native API, generated from
//!   the handlers' annotations and the wire types of `api_types`.
//! * [`archivist_router`]: the DataTrails (Archivist v2) compatible API under
//!   `/archivist`, mapped onto the twins.
//! * [`dashboard::dashboard_router`]: the web dashboard at `/` (embedded
//!   assets of the `dashboard` crate; a client of the routes above).
//! * [`ops_router`]: `/healthz`, `/readyz` and `/metrics`, and
//!   [`ops_api::track`], the layer that counts, times and names every
//!   request.
//! * [`serve::serve`]: the server loop with a connection cap, header-read,
//!   idle and body timeouts.

#![deny(clippy::unwrap_used, clippy::expect_used)]

pub mod archivist;
pub mod cra_api;
pub mod dashboard;
pub mod decisions_api;
pub mod devices_api;
pub mod exploit_api;
pub mod log_status_api;
pub mod notify_api;
pub mod oauth;
pub mod openapi;
pub mod ops_api;
pub mod ota_api;
pub mod problem;
pub mod risk_api;
pub mod rollout_api;
pub mod serve;
pub mod ssvc_api;
pub mod suppressions_api;
pub mod twin_api;
pub mod witness;

mod error;
mod log_routes;
pub mod query;
mod scrapi;

pub use archivist::{archivist_router, ArchivistApi};
pub use cra_api::{cra_router, CraApi};
pub use dashboard::dashboard_router;
pub use decisions_api::{decisions_router, DecisionsApi};
pub use devices_api::{devices_router, DevicesApi};
pub use error::ApiError;
pub use log_routes::{log_router, EntryFilter, LogApi};
pub use log_status_api::log_status_router;
pub use notify_api::{notify_router, NotifyApi};
pub use ops_api::{ops_router, HttpMetrics, OpsApi};
pub use ota_api::{ota_router, OtaApi};
pub use risk_api::{risk_router, RiskApi};
pub use rollout_api::{rollout_router, RolloutApi};
pub use scrapi::{scrapi_router, ScrapiApi, BATCH_BODY_BYTES_MAX, BATCH_STATEMENTS_MAX};
pub use ssvc_api::{ssvc_router, SsvcApi};
pub use suppressions_api::{suppressions_router, SuppressionsApi};
pub use twin_api::{twin_router, TwinApi, DIGEST_ENTRIES_EXAMINED_MAX};

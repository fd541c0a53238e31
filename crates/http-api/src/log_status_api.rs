//! `GET /api/v1/log`: the log's status and the keys a client verifies it
//! with (public, like the log): the published checkpoint, its cosignatures
//! and their age, the entries not yet published, the log's verifier key,
//! the witnesses the node asks and their quorum. The dashboard's "Log &
//! witnesses" view and its in-browser verification read it.

use api_types::dashboard::LogStatus;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use service::log_status::LogViews;

/// The `/api/v1/log` route (mount at the root).
pub fn log_status_router(views: LogViews) -> Router {
    Router::new()
        .route("/api/v1/log", get(log_status))
        .with_state(views)
}

#[utoipa::path(
    get,
    path = "/api/v1/log",
    tag = "twins",
    summary = "The log's status and trust anchors (public)",
    description = "The published checkpoint, its witness cosignatures (each checked against the configured witnesses' keys, with its age), entries durable but not yet published, the log's verifier key, the witnesses the node asks and how many must cosign. The keys are what this node announces: pin them on first use, or compare them with keys obtained elsewhere (`sectwin log vkey`, the witnesses' operators).",
    responses((status = 200, description = "The status", body = LogStatus)),
)]
pub(crate) async fn log_status(State(views): State<LogViews>) -> Json<LogStatus> {
    Json(views.status())
}

//! Secure updates (`docs/secure-updates.md`), public like a TUF repository:
//!
//! | Route | Answer |
//! |---|---|
//! | `GET /api/v1/ota/releases?model=M` | the model's release manifests |
//! | `GET /api/v1/ota/bundle?model=M&version=V&from=N` | the offline proof bundle (`sectwin-ota-bundle/1`) for a device whose checkpoint has size N |
//! | `GET /api/v1/ota/state?model=M&hardware_id=H[&running=V]` | a trust state to provision a device with (`sectwin-ota-state/1`) |
//!
//! A device trusts none of these answers: it checks the bundle itself
//! (`ota-verify`). Provisioning is the one step it must get from a trusted
//! channel (the factory).

use api_types::ota::{BundleQuery, Releases, ReleasesQuery, StateQuery};
use api_types::Problem;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use service::ota::OtaViews;

use crate::query::ApiQuery;
use crate::twin_api::{ApiResult, JsonError};

/// The secure-update routes (mount at the root).
pub fn ota_router(views: OtaViews) -> Router {
    Router::new()
        .route("/api/v1/ota/releases", get(releases))
        .route("/api/v1/ota/bundle", get(bundle))
        .route("/api/v1/ota/state", get(state))
        .with_state(views)
}

/// A parameter the route needs (the query types keep every parameter
/// optional, as the whole API does; the route says which is missing).
fn required<T>(v: Option<T>, name: &str) -> Result<T, JsonError> {
    v.ok_or_else(|| {
        JsonError::from(service::ServiceError::invalid(format!(
            "the query parameter {name} is required"
        )))
    })
}

fn json(bytes: Vec<u8>) -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        bytes,
    )
        .into_response()
}

#[utoipa::path(
    get,
    path = "/api/v1/ota/releases",
    tag = "ota",
    summary = "A model's release manifests",
    description = "Every `firmware-released` statement of the model, in log order, with what a device checks (digests, length, hardware ids, release counter, minimum version), the SBOM and VEX digests, the support end date, and the entry of a `firmware-withdrawn` if the release was withdrawn. Public.",
    params(ReleasesQuery),
    responses(
        (status = 200, description = "The releases (none: an empty list)", body = Releases),
        (status = 400, description = "A bad parameter, with a message saying which", body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn releases(
    State(views): State<OtaViews>,
    ApiQuery(q): ApiQuery<ReleasesQuery>,
) -> ApiResult<Json<Releases>> {
    Ok(Json(views.releases(&required(q.model, "model")?)?))
}

#[utoipa::path(
    get,
    path = "/api/v1/ota/bundle",
    tag = "ota",
    summary = "The offline proof bundle of a release, for one device state",
    description = "A `sectwin-ota-bundle/1` JSON document: the release manifest (its signed statement and C2SP tlog-proof under the published, witnessed checkpoint), the manufacturer's and the registry authority's key events since `from`, each with its proof under the same checkpoint, and the consistency proof from size `from`. The device checks it with `ota-verify` (docs/secure-updates.md). Public.",
    params(BundleQuery),
    responses(
        (status = 200, description = "The bundle", content_type = "application/json"),
        (status = 400, description = "A bad parameter, or `from` beyond the published checkpoint", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such model or release", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The release was withdrawn, or is not a manifest a device can check", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The twins are catching up with the log; retry", body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn bundle(
    State(views): State<OtaViews>,
    ApiQuery(q): ApiQuery<BundleQuery>,
) -> Result<Response, JsonError> {
    let b = views
        .bundle(
            &required(q.model, "model")?,
            &required(q.version, "version")?,
            required(q.from, "from")?,
        )
        .await?;
    Ok(json(b.to_json()))
}

#[utoipa::path(
    get,
    path = "/api/v1/ota/state",
    tag = "ota",
    summary = "A trust state to provision a device with",
    description = "A `sectwin-ota-state/1` JSON document at the published checkpoint: this log's tlog-policy (its key, its witnesses and quorum), the manufacturer's and the registry authority's keys with the entries where each was registered and revoked, the device's hardware id and, with `running`, that release's counter. A factory writes it into the device once; the device updates it after each accepted image. Public.",
    params(StateQuery),
    responses(
        (status = 200, description = "The trust state", content_type = "application/json"),
        (status = 400, description = "A bad parameter", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No release of that model (or not that running one)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The twins are catching up with the log; retry", body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn state(
    State(views): State<OtaViews>,
    ApiQuery(q): ApiQuery<StateQuery>,
) -> Result<Response, JsonError> {
    let s = views
        .provisioning_state(
            &required(q.model, "model")?,
            &required(q.hardware_id, "hardware_id")?,
            q.running.as_deref(),
        )
        .await?;
    Ok(json(s.to_json()))
}

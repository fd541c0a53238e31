//! Secure updates (`docs/secure-updates.md`), public like a TUF repository:
//!
//! | Route | Answer |
//! |---|---|
//! | `GET /api/v1/ota/releases?model=M` | the model's release manifests |
//! | `GET /api/v1/ota/bundle?model=M&version=V&from=N` | the offline proof bundle (`sectwin-ota-bundle/1`) for a device whose checkpoint has size N |
//! | `GET /api/v1/ota/state?model=M&hardware_id=H[&running=V]` | a trust state to provision a device with (`sectwin-ota-state/1`) |
//! | `GET /api/v1/firmware/{sha256}` | what an image is (releases, SBOM, VEX, open vulnerabilities, support end, the devices running it), with proofs; devices as the caller may see them |
//!
//! A device trusts none of these answers: it checks the bundle itself
//! (`ota-verify`). Provisioning is the one step it must get from a trusted
//! channel (the factory).

use std::sync::Arc;

use api_types::ota::{BundleQuery, FirmwareLookup, Releases, ReleasesQuery, StateQuery};
use api_types::risks::NoParameters;
use api_types::Problem;
use axum::extract::{FromRef, Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use service::ota::OtaViews;
use service::risks::RiskViews;

use crate::oauth::{MaybeCaller, TokenEndpoint};
use crate::query::ApiQuery;
use crate::twin_api::{caller_id, ApiResult, JsonError, TwinApi};

/// The state of the secure-update routes.
#[derive(Clone)]
pub struct OtaApi {
    views: OtaViews,
    twins: TwinApi,
    risks: RiskViews,
}

impl OtaApi {
    /// The routes over `views`, reading devices and the register through
    /// `twins` and `risks` (the caller's visibility, read records).
    pub fn new(views: OtaViews, twins: TwinApi, risks: Arc<twin_store::RiskService>) -> OtaApi {
        let risks = RiskViews::new(twins.projector.clone(), risks, twins.reads.clone());
        OtaApi {
            views,
            twins,
            risks,
        }
    }
}

impl FromRef<OtaApi> for Arc<TokenEndpoint> {
    fn from_ref(api: &OtaApi) -> Arc<TokenEndpoint> {
        api.twins.tokens.clone()
    }
}

impl FromRef<OtaApi> for OtaViews {
    fn from_ref(api: &OtaApi) -> OtaViews {
        api.views.clone()
    }
}

/// The secure-update routes (mount at the root).
pub fn ota_router(api: OtaApi) -> Router {
    Router::new()
        .route("/api/v1/ota/releases", get(releases))
        .route("/api/v1/ota/bundle", get(bundle))
        .route("/api/v1/ota/state", get(state))
        .route("/api/v1/firmware/{sha256}", get(firmware))
        .with_state(api)
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

#[utoipa::path(
    get,
    path = "/api/v1/firmware/{sha256}",
    tag = "ota",
    summary = "What a firmware image is, with proofs",
    description = "For the image whose SHA-256 is given: every release naming it (the manifest, its SBOM, the manufacturer's VEX, the open vulnerabilities of the devices running it that the caller may see, whether its support has ended, whether it was withdrawn) and the devices' statements of running it that the caller may see (each read recorded), each entry with its bytes and C2SP tlog-proof under the published checkpoint, and the log's tlog-policy to check them with (`sectwin firmware lookup` does). Anonymous callers see what is public.",
    security((), ("bearer" = [])),
    params(("sha256" = String, Path, description = "The image's SHA-256, 64 hex digits (a `sha256:` prefix is accepted)"), NoParameters),
    responses(
        (status = 200, description = "What the image is (empty lists: nothing the caller may see names it)", body = FirmwareLookup),
        (status = 400, description = "Not a SHA-256, or a parameter (it takes none)", body = Problem, content_type = "application/problem+json"),
        (status = 401, response = crate::oauth::Unauthorized),
    ),
)]
async fn firmware(
    State(api): State<OtaApi>,
    caller: MaybeCaller,
    Path(sha256): Path<String>,
    ApiQuery(_): ApiQuery<NoParameters>,
) -> ApiResult<Json<FirmwareLookup>> {
    let who = caller_id(&caller);
    let today = twin_store::risks::today(api.twins.reads.clock().as_ref()).to_string();
    let lookup = tokio::task::spawn_blocking(move || {
        api.views
            .firmware(who, &sha256, &today, &api.twins.views, &api.risks)
    })
    .await
    .map_err(JsonError::internal)??;
    Ok(Json(lookup))
}

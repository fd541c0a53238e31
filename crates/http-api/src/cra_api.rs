//! The EU Cyber Resilience Act's reporting, under `/api/v1/cra`:
//!
//! - `GET /api/v1/cra/cases`, `GET /api/v1/cra/cases/{case}`: a
//!   manufacturer's report cases with each stage's clock;
//! - `POST /api/v1/cra/cases`: open one (the manufacturer, or a stakeholder
//!   reporting an exploitation or an incident of its product);
//! - `POST /api/v1/cra/cases/{case}/awareness`: the manufacturer states
//!   when it became aware;
//! - `GET /api/v1/cra/cases/{case}/drafts/{stage}`: the draft of a stage,
//!   written from the twins;
//! - `POST /api/v1/cra/cases/{case}/reports/{stage}`: the manufacturer signs
//!   a stage; `GET` the same path exports it for the reporting platform;
//! - `GET /api/v1/cra/cases/{case}/csaf`: the fix as a CSAF 2.0 advisory;
//! - `GET|POST /api/v1/cra/support`: support periods.
//!
//! Deliberately absent: every check and decision (`service::cra`).

use std::sync::Arc;

use api_types::cra::{
    Awareness, CaseList, CaseQuery, CaseView, OpenCase, PromiseSupport, SignStage, SupportList,
    SupportView,
};
use api_types::Problem;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use service::cra::CraService;

use crate::oauth::{Caller, TokenEndpoint, Unauthorized};
use crate::query::ApiQuery;
use crate::twin_api::{ApiResult, JsonError};

/// Largest body of a CRA request, in bytes (a signed report is at most
/// 48 KiB of JSON).
pub const CRA_BODY_BYTES_MAX: usize = 64 * 1024;

/// The state of the CRA routes.
#[derive(Clone)]
pub struct CraApi {
    service: CraService,
    tokens: Arc<TokenEndpoint>,
}

impl CraApi {
    /// The routes over `service`, authenticating with `tokens`.
    pub fn new(service: CraService, tokens: Arc<TokenEndpoint>) -> CraApi {
        CraApi { service, tokens }
    }
}

impl axum::extract::FromRef<CraApi> for Arc<TokenEndpoint> {
    fn from_ref(api: &CraApi) -> Arc<TokenEndpoint> {
        api.tokens.clone()
    }
}

/// The CRA routes (mount at the root).
pub fn cra_router(api: CraApi) -> Router {
    let limit = || crate::problem::body_limit(CRA_BODY_BYTES_MAX);
    Router::new()
        .route("/api/v1/cra/cases", get(cases).post(open).layer(limit()))
        .route("/api/v1/cra/cases/{case}", get(case))
        .route(
            "/api/v1/cra/cases/{case}/awareness",
            axum::routing::post(aware).layer(limit()),
        )
        .route("/api/v1/cra/cases/{case}/drafts/{stage}", get(draft))
        .route(
            "/api/v1/cra/cases/{case}/reports/{stage}",
            get(export).post(sign).layer(limit()),
        )
        .route("/api/v1/cra/cases/{case}/csaf", get(csaf))
        .route(
            "/api/v1/cra/support",
            get(support).post(promise).layer(limit()),
        )
        .with_state(api)
}

fn who(caller: &Caller) -> Option<twin::StakeholderId> {
    Some(twin::StakeholderId(caller.0.stakeholder.clone()))
}

fn body<T: DeserializeOwned>(bytes: &[u8], expected: &str) -> Result<T, JsonError> {
    serde_json::from_slice(bytes)
        .map_err(|e| JsonError::bad_request(format!("expected {expected}: {e}")))
}

#[utoipa::path(
    get,
    path = "/api/v1/cra/cases",
    tag = "cra",
    summary = "A manufacturer's CRA report cases, each stage with its deadline and status",
    description = "The caller's own cases (the node's administrator names a manufacturer). Open cases first, then by the nearest deadline. A stage is `waiting` (no deadline yet), `pending`, `due-soon`, `overdue`, `submitted` or `submitted-late`.",
    security(("bearer" = [])),
    params(CaseQuery),
    responses(
        (status = 200, description = "The cases", body = CaseList),
        (status = 400, description = "A bad parameter", body = Problem, content_type = "application/problem+json"),
        (status = 401, response = Unauthorized),
        (status = 403, description = "Another manufacturer's cases", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub(crate) async fn cases(
    State(api): State<CraApi>,
    caller: Caller,
    ApiQuery(q): ApiQuery<CaseQuery>,
) -> ApiResult<Json<CaseList>> {
    Ok(Json(api.service.cases(who(&caller), &q)?))
}

#[utoipa::path(
    post,
    path = "/api/v1/cra/cases",
    tag = "cra",
    summary = "Open a report case: a manufacturer on itself, or a stakeholder reporting an exploitation or incident of a manufacturer's product",
    description = "The service signs a `cra-case-opened` statement on the caller's behalf and registers it in the log. The products default to the manufacturer's models the register finds exposed to the vulnerability. The manufacturer is notified (`report-case-opened`); its clock runs from the opening until it states its awareness.",
    security(("bearer" = [])),
    request_body(content = OpenCase, content_type = "application/json"),
    responses(
        (status = 201, description = "The case as opened", body = CaseView),
        (status = 400, description = "Refused (the message says why): not a manufacturer, no products, a malformed id", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A case with this id is open on the manufacturer", body = Problem, content_type = "application/problem+json"),
        (status = 401, response = Unauthorized),
        (status = 503, description = "Registered but not projected yet, or the log cannot append now", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub(crate) async fn open(
    State(api): State<CraApi>,
    caller: Caller,
    bytes: axum::body::Bytes,
) -> ApiResult<(StatusCode, Json<CaseView>)> {
    let req: OpenCase = body(
        &bytes,
        "{\"manufacturer\", \"kind\": \"vulnerability\"|\"incident\", \"vulnerability\"?, \"products\"?, \"evidence\"?, \"case\"?}",
    )?;
    let view = api.service.open(who(&caller), &req).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

#[utoipa::path(
    get,
    path = "/api/v1/cra/cases/{case}",
    tag = "cra",
    summary = "One report case with its clock",
    security(("bearer" = [])),
    params(("case" = String, Path, description = "The case id"), CaseQuery),
    responses(
        (status = 200, description = "The case", body = CaseView),
        (status = 401, response = Unauthorized),
        (status = 403, description = "Another manufacturer's case", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such case", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub(crate) async fn case(
    State(api): State<CraApi>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<CaseQuery>,
) -> ApiResult<Json<CaseView>> {
    Ok(Json(api.service.case(who(&caller), &q, &id)?))
}

#[utoipa::path(
    post,
    path = "/api/v1/cra/cases/{case}/awareness",
    tag = "cra",
    summary = "The manufacturer states when it became aware of the case: the reporting clock's start",
    description = "Signed as `cra-awareness` on the manufacturer's behalf, once per case; `aware_at` defaults to now and may not be in the future.",
    security(("bearer" = [])),
    params(("case" = String, Path, description = "The case id")),
    request_body(content = Awareness, content_type = "application/json"),
    responses(
        (status = 200, description = "The case", body = CaseView),
        (status = 400, description = "Refused: a time in the future", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Awareness is stated already", body = Problem, content_type = "application/problem+json"),
        (status = 401, response = Unauthorized),
        (status = 404, description = "No such case of the caller", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub(crate) async fn aware(
    State(api): State<CraApi>,
    caller: Caller,
    Path(id): Path<String>,
    bytes: axum::body::Bytes,
) -> ApiResult<Json<CaseView>> {
    let req: Awareness = if bytes.is_empty() {
        Awareness { aware_at: None }
    } else {
        body(&bytes, "{\"aware_at\"?: unix seconds}")?
    };
    Ok(Json(api.service.aware(who(&caller), &id, &req).await?))
}

#[utoipa::path(
    get,
    path = "/api/v1/cra/cases/{case}/drafts/{stage}",
    tag = "cra",
    summary = "The draft of a stage (early-warning, notification, final-report), written from the twins and the register",
    description = "Affected products and versions, the Member States the devices' sites name, the exploit's nature from the known-exploited list, the fix and when it became available, severity and impact. What the twins do not know is `null` or begins `TO COMPLETE:`. Edit it and POST it to `/reports/{stage}`.",
    security(("bearer" = [])),
    params(("case" = String, Path, description = "The case id"), ("stage" = String, Path, description = "early-warning, notification or final-report"), CaseQuery),
    responses(
        (status = 200, description = "The draft", body = Object),
        (status = 400, description = "Not a stage", body = Problem, content_type = "application/problem+json"),
        (status = 401, response = Unauthorized),
        (status = 404, description = "No such case", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub(crate) async fn draft(
    State(api): State<CraApi>,
    caller: Caller,
    Path((id, stage)): Path<(String, String)>,
    ApiQuery(q): ApiQuery<CaseQuery>,
) -> ApiResult<Json<serde_json::Map<String, serde_json::Value>>> {
    Ok(Json(api.service.draft(who(&caller), &q, &id, &stage)?))
}

#[utoipa::path(
    post,
    path = "/api/v1/cra/cases/{case}/reports/{stage}",
    tag = "cra",
    summary = "The manufacturer signs a stage of its report",
    description = "Signed as `cra-report` on the manufacturer's behalf and registered in the log: the receipt proves when. Stages are signed in order (early warning, notification, final report), each once, after the awareness statement.",
    security(("bearer" = [])),
    params(("case" = String, Path, description = "The case id"), ("stage" = String, Path, description = "early-warning, notification or final-report")),
    request_body(content = SignStage, content_type = "application/json"),
    responses(
        (status = 200, description = "The case", body = CaseView),
        (status = 400, description = "Refused: out of order, signed already, no awareness stated", body = Problem, content_type = "application/problem+json"),
        (status = 401, response = Unauthorized),
        (status = 404, description = "No such case of the caller", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The report is too large", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub(crate) async fn sign(
    State(api): State<CraApi>,
    caller: Caller,
    Path((id, stage)): Path<(String, String)>,
    bytes: axum::body::Bytes,
) -> ApiResult<Json<CaseView>> {
    let req: SignStage = body(&bytes, "{\"report\": {...}}")?;
    Ok(Json(
        api.service.sign(who(&caller), &id, &stage, req).await?,
    ))
}

#[utoipa::path(
    get,
    path = "/api/v1/cra/cases/{case}/reports/{stage}",
    tag = "cra",
    summary = "A signed stage as the reporting platform takes it",
    description = "The report as signed, with the notification type and stage, the manufacturer, the products, the CVE or EUVD id, the awareness, submission and deadline times, and the log entry, receipt and statement digest that prove it.",
    security(("bearer" = [])),
    params(("case" = String, Path, description = "The case id"), ("stage" = String, Path, description = "early-warning, notification or final-report"), CaseQuery),
    responses(
        (status = 200, description = "The export", body = Object),
        (status = 401, response = Unauthorized),
        (status = 404, description = "No such case, or the stage is not signed", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub(crate) async fn export(
    State(api): State<CraApi>,
    caller: Caller,
    Path((id, stage)): Path<(String, String)>,
    ApiQuery(q): ApiQuery<CaseQuery>,
) -> ApiResult<Json<serde_json::Value>> {
    Ok(Json(api.service.export(who(&caller), &q, &id, &stage)?))
}

#[utoipa::path(
    get,
    path = "/api/v1/cra/cases/{case}/csaf",
    tag = "cra",
    summary = "The fix of a vulnerability case as a CSAF 2.0 security advisory",
    security(("bearer" = [])),
    params(("case" = String, Path, description = "The case id"), CaseQuery),
    responses(
        (status = 200, description = "The advisory", body = Object),
        (status = 400, description = "An incident case", body = Problem, content_type = "application/problem+json"),
        (status = 401, response = Unauthorized),
        (status = 404, description = "No such case", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub(crate) async fn csaf(
    State(api): State<CraApi>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<CaseQuery>,
) -> ApiResult<Json<serde_json::Value>> {
    Ok(Json(api.service.csaf(who(&caller), &q, &id)?))
}

#[utoipa::path(
    get,
    path = "/api/v1/cra/support",
    tag = "cra",
    summary = "Support periods: the end of security support promised per model, promises cut short, devices past the end",
    description = "A manufacturer sees its models; another stakeholder the models of its devices.",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The support periods", body = SupportList),
        (status = 401, response = Unauthorized),
    ),
)]
pub(crate) async fn support(
    State(api): State<CraApi>,
    caller: Caller,
) -> ApiResult<Json<SupportList>> {
    Ok(Json(api.service.support(who(&caller))?))
}

#[utoipa::path(
    post,
    path = "/api/v1/cra/support",
    tag = "cra",
    summary = "The manufacturer promises the end of security support for a model (CRA Art. 13)",
    description = "Signed as `support-period` on the manufacturer's behalf. A promise ending earlier than one before it is flagged as cut short.",
    security(("bearer" = [])),
    request_body(content = PromiseSupport, content_type = "application/json"),
    responses(
        (status = 201, description = "The support period", body = SupportView),
        (status = 400, description = "Refused: not a date, not the model's manufacturer", body = Problem, content_type = "application/problem+json"),
        (status = 401, response = Unauthorized),
    ),
)]
pub(crate) async fn promise(
    State(api): State<CraApi>,
    caller: Caller,
    bytes: axum::body::Bytes,
) -> ApiResult<(StatusCode, Json<SupportView>)> {
    let req: PromiseSupport = body(&bytes, "{\"model\", \"end\": \"YYYY-MM-DD\", \"note\"?}")?;
    let view = api.service.promise(who(&caller), &req).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

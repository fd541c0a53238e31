//! The vulnerability and risk views of the twins, under `/api/v1`:
//!
//! - `GET /api/v1/risks`: the risk register (filters `device`,
//!   `vulnerability`, `model`, `release`, `site`, `status`, `severity`,
//!   `kind`, `overdue`; paging with `page_size` and `offset`);
//! - `GET /api/v1/risks/summary`: the fleet risk summary;
//! - `GET /api/v1/exposure?by=vulnerability|device|firmware|site`: exposure
//!   grouped;
//! - `GET /api/v1/vex?model=M[&release=V]`: the VEX statements a
//!   manufacturer made for its firmware releases (to its devices' role
//!   holders, auditors and itself);
//! - `POST /api/v1/advisories`: the caller's own advisories (OSV, CVE JSON
//!   5, NVD CVE API 2.0, CSAF 2.0; detected from its fields), kept apart
//!   from the shared advisories and every other stakeholder's: they apply
//!   to the firmware the caller released only, add to the shared
//!   advisories and never replace them; an older `modified` never replaces
//!   a newer version; every accepted change is registered in the log
//!   (`advisory-changed`, signed by the node on the caller's behalf) before
//!   the answer. The shared advisories change only by the administrator's
//!   import (`sectwin vuln import`), recorded in the log when the node starts.
//!
//! Who sees a risk: a caller with a role on its subject (for a release, on
//! the release or on a device running it) or an organization-level auditor;
//! for a device risk, also only when the manufacturer's sharing policy lets
//! the caller see its SBOM data for that device (the risk is derived from
//! it). Such a cross-organization read is recorded like every other.
//!
//! Deliberately absent: risk logic (crate `risk-register`) and matching.

use std::sync::Arc;

use api_types::dashboard::{ThreatModelList, ThreatModelQuery, ThreatModelView};
use api_types::risks::{AdvisoryImport, BulkImport, NoParameters, OwnImport, SharedImport};
use api_types::Problem;
use axum::extract::Path;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use service::threat_models::ThreatModelViews;
use twin_store::RiskService;
use vuln_formats::DocumentFormat;

use crate::oauth::{Caller, MaybeCaller, Unauthorized};
use crate::query::ApiQuery;
use crate::twin_api::{caller_id, ApiResult, JsonError, ServiceError, TwinApi};
use service::risks::{
    Exposure, ExposureQuery, RiskPage, RiskQuery, RiskSummary, RiskViews, VexQuery, VexView,
};

/// Largest advisory document accepted by `POST /api/v1/advisories`, in bytes.
pub const ADVISORY_BYTES_MAX: usize = 16 * 1024 * 1024;

/// Largest body of `POST /api/v1/advisories/bulk` (a gzip JSON-lines dump
/// of CVE 5 records), in bytes.
pub const BULK_BYTES_MAX: usize = 64 * 1024 * 1024;

/// Most bytes a bulk dump may expand to once decompressed.
pub const BULK_EXPANDED_BYTES_MAX: u64 = 2 * 1024 * 1024 * 1024;

/// Refused records of a bulk import named in its answer, at most.
const BULK_ERRORS_SHOWN_MAX: usize = 20;

/// The state of the risk routes.
#[derive(Clone)]
pub struct RiskApi {
    twins: TwinApi,
    risks: Arc<RiskService>,
    views: RiskViews,
    threat_models: ThreatModelViews,
    sign: ChangeSigner,
}

/// Signs a statement recording an advisory change (subject, payload) as the
/// node's registry authority.
pub type ChangeSigner = Arc<dyn Fn(&str, &[u8]) -> Vec<u8> + Send + Sync>;

impl RiskApi {
    /// The risk views over `twins` (for reads and their records) and
    /// `risks`; advisory changes are recorded in the log signed by `sign`.
    pub fn new(twins: TwinApi, risks: Arc<RiskService>, sign: ChangeSigner) -> RiskApi {
        let views = RiskViews::new(twins.projector.clone(), risks.clone(), twins.reads.clone());
        RiskApi {
            threat_models: ThreatModelViews::new(twins.projector.clone(), views.clone()),
            twins,
            risks,
            views,
            sign,
        }
    }
}

impl RiskApi {
    pub(crate) fn risks(&self) -> &Arc<RiskService> {
        &self.risks
    }
    pub(crate) fn twins(&self) -> &TwinApi {
        &self.twins
    }
    pub(crate) fn signer(&self) -> &ChangeSigner {
        &self.sign
    }
}

impl axum::extract::FromRef<RiskApi> for Arc<crate::oauth::TokenEndpoint> {
    fn from_ref(api: &RiskApi) -> Arc<crate::oauth::TokenEndpoint> {
        api.twins.tokens.clone()
    }
}

/// The risk routes (mount at the root).
pub fn risk_router(api: RiskApi) -> Router {
    Router::new()
        .route("/api/v1/risks", get(risks))
        .route("/api/v1/risks/summary", get(summary))
        .route("/api/v1/exposure", get(exposure))
        .route("/api/v1/vex", get(vex))
        .route("/api/v1/threat-models", get(threat_models))
        .route("/api/v1/threat-models/{owner}/{id}", get(threat_model))
        .route(
            "/api/v1/advisories",
            post(import).layer(crate::problem::body_limit(ADVISORY_BYTES_MAX)),
        )
        .route(
            "/api/v1/advisories/bulk",
            post(import_bulk).layer(crate::problem::body_limit(BULK_BYTES_MAX)),
        )
        .route(
            "/api/v1/exploitation/kev",
            post(crate::exploit_api::import_kev).layer(crate::problem::body_limit(
                crate::exploit_api::EXPLOITATION_BYTES_MAX,
            )),
        )
        .route(
            "/api/v1/exploitation/epss",
            post(crate::exploit_api::import_epss).layer(crate::problem::body_limit(
                crate::exploit_api::EXPLOITATION_BYTES_MAX,
            )),
        )
        .with_state(api)
}

/// Starts building the register on a blocking thread after an advisory
/// change, beside recording the change in the log: the next reader (or the
/// notification pump) finds it built, or being built.
pub(crate) fn warm(api: &RiskApi) {
    warm_register(api);
}

fn warm_register(api: &RiskApi) {
    let risks = api.risks.clone();
    let today = twin_store::risks::today(api.twins.reads.clock().as_ref());
    drop(tokio::task::spawn_blocking(move || {
        if let Err(e) = risks.register(today) {
            tracing::error!("building the risk register: {e}");
        }
    }));
}

/// Runs a use case on a blocking thread (building the register takes
/// seconds on a large fleet; never on a runtime worker).
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ServiceError> + Send + 'static,
) -> ApiResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(JsonError::internal)?
        .map_err(JsonError::from)
}

#[utoipa::path(
    get,
    path = "/api/v1/risks",
    tag = "risks",
    summary = "The risk register: every unresolved (device or firmware release, vulnerability) pair and every risk recorded on a model, with severity, owner, status from signed decisions, deadline and the matches that explain it; only risks the caller may see",
    security(("bearer" = [])),
    params(RiskQuery),
    responses(
        (status = 200, description = "A page of risks", body = RiskPage),
        (status = 400, description = "A bad parameter, with a message saying which", body = Problem, content_type = "application/problem+json"),
        (status = 401, response = Unauthorized),
    ),
)]
async fn risks(
    State(api): State<RiskApi>,
    caller: MaybeCaller,
    ApiQuery(query): ApiQuery<RiskQuery>,
) -> ApiResult<Json<RiskPage>> {
    let (views, who) = (api.views.clone(), caller_id(&caller));
    blocking(move || views.list(who, &query)).await.map(Json)
}

#[utoipa::path(
    get,
    path = "/api/v1/risks/summary",
    tag = "risks",
    summary = "The fleet risk summary over the risks the caller may see",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Counts by status and severity, overdue, devices and releases exposed, and the fleet's", body = RiskSummary),
        (status = 400, description = "A parameter was given (it takes none)", body = Problem, content_type = "application/problem+json"),
        (status = 401, response = Unauthorized),
    ),
)]
async fn summary(
    State(api): State<RiskApi>,
    caller: MaybeCaller,
    ApiQuery(NoParameters {}): ApiQuery<NoParameters>,
) -> ApiResult<Json<RiskSummary>> {
    let (views, who) = (api.views.clone(), caller_id(&caller));
    blocking(move || views.summary(who)).await.map(Json)
}

#[utoipa::path(
    get,
    path = "/api/v1/exposure",
    tag = "risks",
    summary = "Exposure grouped by vulnerability, device, firmware release or site",
    security(("bearer" = [])),
    params(ExposureQuery),
    responses(
        (status = 200, description = "The groups, worst first", body = Exposure),
        (status = 400, description = "A bad parameter, with a message saying which", body = Problem, content_type = "application/problem+json"),
        (status = 401, response = Unauthorized),
    ),
)]
async fn exposure(
    State(api): State<RiskApi>,
    caller: MaybeCaller,
    ApiQuery(query): ApiQuery<ExposureQuery>,
) -> ApiResult<Json<Exposure>> {
    let (views, who) = (api.views.clone(), caller_id(&caller));
    blocking(move || views.exposure(who, query.by))
        .await
        .map(Json)
}

/// Whether `who` is the node's administrator: the registry authority.
pub(crate) fn is_administrator(api: &RiskApi, who: &str) -> bool {
    api.twins
        .projector
        .meta()
        .registry
        .authority()
        .is_some_and(|a| a.0 == who)
}

/// `POST /api/v1/advisories/bulk`: the node's administrator imports a dump
/// of CVE 5 records, one per line (CISA's vulnrichment export), gzip
/// compressed or not, into the shared advisories: incrementally (an
/// unchanged record is not rewritten; an older `dateUpdated` never replaces
/// a newer one), every change recorded in the log before the answer.
/// Refused records are counted and the first ones named; the rest are
/// imported.
#[utoipa::path(
    post,
    path = "/api/v1/advisories/bulk",
    tag = "risks",
    summary = "The node's administrator (the registry authority) imports a dump of CVE JSON 5 records, one per line (CISA's vulnrichment export), gzip compressed or not, into the shared advisories",
    description = "Incremental: an unchanged record is not rewritten and an older dateUpdated never replaces a newer one; every change is recorded in the log before the answer. At most 64 MiB, expanding to at most 2 GiB.",
    security(("bearer" = [])),
    request_body(content(
        (api_types::scrapi::Binary = "application/gzip"),
        (String = "application/x-ndjson"),
    )),
    responses(
        (status = 200, description = "What the import did", body = BulkImport),
        (status = 400, description = "Not a dump of CVE JSON 5 records, or one that expands past 2 GiB", body = Problem, content_type = "application/problem+json"),
        (status = 401, response = Unauthorized),
        (status = 403, description = "Not the node's administrator", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Larger than 64 MiB", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The advisory store or the log cannot write now", body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn import_bulk(
    State(api): State<RiskApi>,
    caller: Caller,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<BulkImport>)> {
    let who = caller.0.stakeholder.clone();
    if !is_administrator(&api, &who) {
        return Err(JsonError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "only the node's administrator (the registry authority) imports shared advisory dumps; a stakeholder submits its own advisories to /api/v1/advisories",
        ));
    }
    let gzip = body.starts_with(&[0x1f, 0x8b]);
    let started = std::time::Instant::now();
    let parsed = tokio::task::spawn_blocking(move || {
        use std::io::Read;
        let options = vuln_formats::cve5::JsonlOptions::default();
        let mut advisories = Vec::new();
        let mut errors: Vec<String> = Vec::new();
        let mut failed = 0usize;
        let on_record = |line: usize, r: Result<_, vuln_formats::AdvisoryParseError>| match r {
            Ok(a) => advisories.push(a),
            Err(e) => {
                failed += 1;
                if errors.len() < BULK_ERRORS_SHOWN_MAX {
                    errors.push(format!("line {line}: {e}"));
                }
            }
        };
        let reader = std::io::Cursor::new(body);
        let summary = if gzip {
            vuln_formats::cve5::parse_jsonl(
                flate2::read::MultiGzDecoder::new(reader).take(BULK_EXPANDED_BYTES_MAX),
                &options,
                on_record,
            )
        } else {
            vuln_formats::cve5::parse_jsonl(reader, &options, on_record)
        };
        summary.map(|s| (s, advisories, failed, errors))
    })
    .await
    .map_err(JsonError::internal)?
    .map_err(|e| JsonError::bad_request(format!("the dump does not read: {e}")))?;
    let (summary, advisories, failed, errors) = parsed;
    if summary.bytes >= BULK_EXPANDED_BYTES_MAX {
        return Err(JsonError::bad_request(format!(
            "the dump expands past {BULK_EXPANDED_BYTES_MAX} bytes"
        )));
    }
    if advisories.is_empty() {
        return Err(JsonError::bad_request(format!(
            "no CVE 5 record in the dump ({} lines, {failed} refused){}",
            summary.records,
            errors
                .first()
                .map(|e| format!("; first: {e}"))
                .unwrap_or_default()
        )));
    }
    let parsed_at = started.elapsed();
    let risks = api.risks.clone();
    let stored = tokio::task::spawn_blocking(move || risks.import_shared(&advisories))
        .await
        .map_err(JsonError::internal)?
        .map_err(|e| JsonError::storage_unavailable(e.to_string()))?;
    let stored_at = started.elapsed();
    warm_register(&api);
    let recorded = api
        .risks
        .record_changes(&api.twins.scitt, &*api.sign)
        .await
        .map_err(|e| JsonError::storage_unavailable(e.to_string()))?;
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
    tracing::info!(
        stakeholder = %who,
        parse_ms = ms(parsed_at),
        store_ms = ms(stored_at - parsed_at),
        log_ms = ms(started.elapsed() - stored_at),
        records = summary.records,
        new = stored.new,
        updated = stored.updated,
        older = stored.older,
        failed,
        recorded = recorded.len(),
        "advisory dump imported"
    );
    Ok((
        StatusCode::OK,
        Json(BulkImport {
            format: "Cve5 JSON lines".to_string(),
            source: "shared".to_string(),
            records: summary.records,
            held: api.risks.advisory_count(),
            new: stored.new,
            updated: stored.updated,
            unchanged: stored.unchanged,
            older: stored.older,
            failed,
            errors,
            recorded: recorded.len(),
        }),
    ))
}

#[utoipa::path(
    post,
    path = "/api/v1/advisories",
    tag = "risks",
    summary = "Import an advisory document (OSV, CVE JSON 5, NVD CVE API 2.0 or CSAF 2.0; detected from its fields); the register reflects it at once",
    description = "The node's administrator's advisories are the shared ones; any other stakeholder's are its own claims about the firmware it released: they apply to its releases only and add to the shared advisories, never replace them. Every accepted change is registered in the log before the answer. At most 16 MiB.",
    security(("bearer" = [])),
    request_body(content = Object, description = "The advisory document", content_type = "application/json"),
    responses(
        (status = 200, description = "What the import did", body = AdvisoryImport),
        (status = 400, description = "Not an advisory document, or one that does not parse", body = Problem, content_type = "application/problem+json"),
        (status = 401, response = Unauthorized),
        (status = 413, description = "Larger than 16 MiB", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The advisory store or the log cannot write now", body = Problem, content_type = "application/problem+json"),
        (status = 507, description = "Too many stakeholders keep their own advisories", body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn import(
    State(api): State<RiskApi>,
    caller: Caller,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<AdvisoryImport>)> {
    tracing::info!(stakeholder = %caller.0.stakeholder, "advisory import");
    let format = vuln_formats::detect(&body).ok_or_else(|| {
        JsonError::bad_request(
            "not an advisory document: expected OSV, CVE JSON 5, NVD CVE API 2.0 or CSAF 2.0 JSON",
        )
    })?;
    let parsed = match format {
        DocumentFormat::Osv => vuln_formats::osv::parse(&body),
        DocumentFormat::Cve5 => vuln_formats::cve5::parse(&body).map(|a| vec![a]),
        DocumentFormat::NvdApi2 => vuln_formats::nvd::parse(&body),
        DocumentFormat::Csaf => vuln_formats::csaf::parse(&body),
        other => {
            return Err(JsonError::bad_request(format!(
                "a {other:?} document is not an advisory (SBOMs are registered as sbom-registered statements, VEX as vulnerability-assessment statements)"
            )))
        }
    }
    .map_err(|e| JsonError::bad_request(format!("the {format:?} document does not parse: {e}")))?;
    let who = caller.0.stakeholder.clone();
    // The node's administrator's advisories are the shared ones. Everyone
    // else's are its own claims.
    let admin = is_administrator(&api, &who);
    let summary = if admin {
        api.risks
            .import_shared(&parsed)
            .map_err(|e| JsonError::storage_unavailable(e.to_string()))?
    } else {
        api.risks.submit(&who, &parsed).map_err(|e| match e {
            twin_store::risks::SubmitError::TooManyStakeholders => JsonError::new(
                StatusCode::INSUFFICIENT_STORAGE,
                "insufficient_storage",
                e.to_string(),
            ),
            twin_store::risks::SubmitError::Store(_) => {
                JsonError::storage_unavailable(e.to_string())
            }
        })?
    };
    if !summary.changed_ids.is_empty() {
        warm_register(&api);
    }
    // Every accepted change is in the log, with its author, before the
    // answer. (Were this to fail, the change is recorded when the node
    // next records changes: after the next import, or at start.)
    let recorded = api
        .risks
        .record_changes(&api.twins.scitt, &*api.sign)
        .await
        .map_err(|e| JsonError::storage_unavailable(e.to_string()))?;
    tracing::info!(
        stakeholder = %who,
        shared = admin,
        new = summary.new,
        updated = summary.updated,
        older = summary.older,
        recorded = recorded.len(),
        "advisories imported"
    );
    if admin {
        return Ok((
            StatusCode::OK,
            Json(AdvisoryImport::Shared(SharedImport {
                format: format!("{format:?}"),
                source: "shared".to_string(),
                advisories: parsed.iter().map(|a| a.id.as_str().to_string()).collect(),
                held: api.risks.advisory_count(),
                new: summary.new,
                updated: summary.updated,
                unchanged: summary.unchanged,
                older: summary.older,
                recorded,
            })),
        ));
    }
    let releases = {
        let meta = api.twins.projector.meta();
        meta.releases
            .values()
            .flatten()
            .filter(|r| r.issuer.0 == who)
            .count()
    };
    Ok((
        StatusCode::OK,
        Json(AdvisoryImport::Own(OwnImport {
            format: format!("{format:?}"),
            source: format!("advisory:{who}"),
            advisories: parsed.iter().map(|a| a.id.as_str().to_string()).collect(),
            new: summary.new,
            updated: summary.updated,
            unchanged: summary.unchanged,
            older: summary.older,
            recorded,
            applies_to_releases: releases,
            note: "your advisories are your claims about the firmware you released: they apply to your releases only and add to the shared advisories, never replace them; disagree with an advisory by a VEX statement".to_string(),
        })),
    ))
}

#[utoipa::path(
    get,
    path = "/api/v1/vex",
    tag = "risks",
    summary = "VEX statements registered for a device model's releases, as shared with the caller",
    description = "For the model's manufacturer, the holders of a risk on it and the holders of a role on one of its devices; to anyone else the model has none (404, so that a model's existence does not leak).",
    security(("bearer" = [])),
    params(VexQuery),
    responses(
        (status = 200, description = "The model, the log size read and the statements", body = VexView),
        (status = 400, description = "No model given, or a bad parameter", body = Problem, content_type = "application/problem+json"),
        (status = 401, response = Unauthorized),
        (status = 404, description = "No release of this model, or no VEX shared with the caller", body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn vex(
    State(api): State<RiskApi>,
    caller: Caller,
    ApiQuery(query): ApiQuery<VexQuery>,
) -> ApiResult<Json<VexView>> {
    let views = api.views.clone();
    let who = twin::StakeholderId(caller.0.stakeholder.clone());
    blocking(move || views.vex(who, &query)).await.map(Json)
}

#[utoipa::path(
    get,
    path = "/api/v1/threat-models",
    tag = "risks",
    summary = "The threat models that concern the caller, every version",
    description = "`sectwin threat record` publishes a model (a `threat-model` statement, registered as a hash envelope: the log holds the digest of a salted payload) before it records the model's findings as risks whose `source` is `threat-model:<name>`. A model is shown to its publisher and to the stakeholders who may see one of its findings in the risk register.",
    security(("bearer" = [])),
    params(NoParameters),
    responses(
        (status = 200, description = "Every version, those in force first", body = ThreatModelList),
        (status = 400, description = "A parameter (it takes none)", body = Problem, content_type = "application/problem+json"),
        (status = 401, response = Unauthorized),
    ),
)]
async fn threat_models(
    State(api): State<RiskApi>,
    caller: MaybeCaller,
    ApiQuery(_): ApiQuery<NoParameters>,
) -> ApiResult<Json<ThreatModelList>> {
    let (views, who) = (api.threat_models.clone(), caller_id(&caller));
    blocking(move || views.list(who)).await.map(Json)
}

#[utoipa::path(
    get,
    path = "/api/v1/threat-models/{owner}/{id}",
    tag = "risks",
    summary = "One threat model with its data-flow diagram (SVG) and its elements, flows and trust boundaries",
    description = "Its findings are the risks recorded from it: `GET /api/v1/risks?source=threat-model:<name>` (authenticated, with the register's visibility).",
    params(
        ("owner" = String, Path, description = "Who published it"),
        ("id" = String, Path, description = "Its published id"),
        ThreatModelQuery,
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The model", body = ThreatModelView),
        (status = 400, description = "A bad parameter", body = Problem, content_type = "application/problem+json"),
        (status = 401, response = Unauthorized),
        (status = 404, description = "No such model (or version), or not one that concerns the caller", body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn threat_model(
    State(api): State<RiskApi>,
    caller: MaybeCaller,
    Path((owner, id)): Path<(String, String)>,
    ApiQuery(q): ApiQuery<ThreatModelQuery>,
) -> ApiResult<Json<ThreatModelView>> {
    let (views, who) = (api.threat_models.clone(), caller_id(&caller));
    // Reading the register and laying out a model of up to 60 KiB: a
    // blocking thread.
    blocking(move || views.get(who, &owner, &id, q.entry))
        .await
        .map(Json)
}

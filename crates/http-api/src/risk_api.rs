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
//! Deliberately absent: risk logic (crate `register`) and matching.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use register::{Register, Risk, RiskKind, Selector};
use serde_json::{json, Value};
use twin::sharing::ReadKind;
use twin::{DeviceId, Role};
use twin_store::RiskService;
use vuln_formats::DocumentFormat;

use crate::oauth::{Caller, MaybeCaller};
use crate::twin_api::{caller_id, page_size, ApiResult, Audit, JsonError, Reader, TwinApi};

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
    sign: ChangeSigner,
}

/// Signs a statement recording an advisory change (subject, payload) as the
/// node's registry authority.
pub type ChangeSigner = Arc<dyn Fn(&str, &[u8]) -> Vec<u8> + Send + Sync>;

impl RiskApi {
    /// The risk views over `twins` (for reads and their records) and
    /// `risks`; advisory changes are recorded in the log signed by `sign`.
    pub fn new(twins: TwinApi, risks: Arc<RiskService>, sign: ChangeSigner) -> RiskApi {
        RiskApi { twins, risks, sign }
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
        .route(
            "/api/v1/advisories",
            post(import).layer(crate::problem::body_limit(ADVISORY_BYTES_MAX)),
        )
        .route(
            "/api/v1/advisories/bulk",
            post(import_bulk).layer(crate::problem::body_limit(BULK_BYTES_MAX)),
        )
        .with_state(api)
}

/// Starts building the register on a blocking thread after an advisory
/// change, beside recording the change in the log: the next reader (or the
/// notification pump) finds it built, or being built.
fn warm_register(api: &RiskApi) {
    let risks = api.risks.clone();
    drop(tokio::task::spawn_blocking(move || {
        if let Err(e) = risks.register(twin_store::risks::today()) {
            tracing::error!("building the risk register: {e}");
        }
    }));
}

async fn register_now(api: &RiskApi) -> ApiResult<Arc<Register>> {
    // A step on a large fleet takes seconds: never on a runtime worker.
    let risks = api.risks.clone();
    tokio::task::spawn_blocking(move || risks.register(twin_store::risks::today()))
        .await
        .map_err(JsonError::internal)?
        .map_err(JsonError::internal)
}

/// The risks `caller` may see, noting the cross-organization reads.
fn visible<'a>(
    api: &RiskApi,
    reader: &Reader<'_>,
    risks: impl Iterator<Item = Cow<'a, Risk>>,
    audit: &mut Audit,
) -> ApiResult<Vec<Cow<'a, Risk>>> {
    let Some(who) = &reader.who else {
        return Err(JsonError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "the risk register is shown to authenticated stakeholders only: send a bearer token from /oauth/token",
        ));
    };
    // An auditor sees the risks of the devices an audit grant covers now
    // (never of models, nor organization-wide).
    let audits = !reader.meta.audits.of(who).is_empty();
    let now = crate::twin_api::now_s();
    let store = api.twins.projector.store();
    let mut out = Vec::new();
    // A device's twin, read once per request.
    let mut twins: HashMap<String, Option<twin::projection::Twin>> = HashMap::new();
    for item in risks {
        let r: &Risk = &item;
        let listed = r.stakeholders.contains(&who.0);
        if !(listed || (audits && r.device.is_some())) {
            continue;
        }
        if let Some(device) = &r.device {
            let twin = match twins.entry(device.clone()) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(e) => e.insert(
                    store
                        .twin(&DeviceId::new(device.clone()).map_err(JsonError::internal)?)
                        .map_err(JsonError::internal)?,
                ),
            };
            let Some(twin) = twin.as_ref() else {
                continue;
            };
            if !listed
                && !twin::projection::roles_at(reader.meta, who, twin, now).contains(&Role::Auditor)
            {
                continue;
            }
            let Some(seen) = reader.decide(twin, &twin.manufacturer, "sbom-registered") else {
                continue;
            };
            let entries: Vec<u64> = r
                .model
                .as_deref()
                .zip(r.release.as_deref())
                .and_then(|(m, v)| reader.meta.sboms.get(m)?.get(v))
                .map(|s| s.entries.values().copied().collect())
                .unwrap_or_default();
            for e in entries.iter().take(1) {
                audit.note(&twin.manufacturer, seen.clone(), *e, Some(&twin.device));
            }
            if entries.is_empty() {
                audit.note(
                    &twin.manufacturer,
                    seen,
                    twin.registered_at,
                    Some(&twin.device),
                );
            }
        }
        out.push(item);
    }
    Ok(out)
}

/// The query's filter (checked first: a bad parameter is refused before
/// anything is read).
fn filter(q: &BTreeMap<String, String>) -> ApiResult<impl Fn(&Risk) -> bool + '_> {
    const KNOWN: &[&str] = &[
        "device",
        "vulnerability",
        "model",
        "release",
        "site",
        "status",
        "severity",
        "kind",
        "overdue",
        "page_size",
        "offset",
    ];
    if let Some(k) = q.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        return Err(JsonError::bad_request(format!(
            "unknown parameter {k:?}; known: {}",
            KNOWN.join(", ")
        )));
    }
    let overdue = match q.get("overdue").map(String::as_str) {
        None => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(other) => {
            return Err(JsonError::bad_request(format!(
                "overdue must be true or false, not {other:?}"
            )))
        }
    };
    if let Some(s) = q.get("status") {
        if ![
            "open",
            "accepted",
            "mitigated",
            "transferred",
            "false_positive",
        ]
        .contains(&s.as_str())
        {
            return Err(JsonError::bad_request(format!(
                "status must be open, accepted, mitigated, transferred or false_positive, not {s:?}"
            )));
        }
    }
    if let Some(s) = q.get("severity") {
        if s.parse::<risk::Severity>().is_err() {
            return Err(JsonError::bad_request(format!(
                "severity must be none, low, medium, high or critical, not {s:?}"
            )));
        }
    }
    let kind = match q.get("kind").map(String::as_str) {
        None => None,
        Some("device") => Some(RiskKind::DeviceVulnerability),
        Some("release") => Some(RiskKind::ReleaseVulnerability),
        Some("recorded") => Some(RiskKind::Recorded),
        Some(other) => {
            return Err(JsonError::bad_request(format!(
                "kind must be device, release or recorded, not {other:?}"
            )))
        }
    };
    let eq = |want: Option<&String>, have: Option<&str>| want.is_none_or(|w| have == Some(w));
    Ok(move |r: &Risk| {
        eq(q.get("device"), r.device.as_deref())
            && eq(q.get("vulnerability"), r.vulnerability.as_deref())
            && eq(q.get("model"), r.model.as_deref())
            && eq(q.get("release"), r.release.as_deref())
            && eq(q.get("site"), r.site.as_deref())
            && eq(q.get("status"), Some(r.status.as_str()))
            && eq(q.get("severity"), Some(r.severity.as_str()))
            && kind.is_none_or(|k| r.kind == k)
            && overdue.is_none_or(|o| r.overdue == o)
    })
}

async fn risks(
    State(api): State<RiskApi>,
    caller: MaybeCaller,
    Query(q): Query<BTreeMap<String, String>>,
) -> ApiResult<Json<Value>> {
    let register = register_now(&api).await?;
    let meta = api.twins.projector.meta();
    let reader = Reader {
        who: caller_id(&caller),
        meta: &meta,
    };
    let limit = page_size(&q)?;
    let offset: usize = match q.get("offset") {
        None => 0,
        Some(o) => o
            .parse()
            .map_err(|_| JsonError::bad_request(format!("offset must be a number, not {o:?}")))?,
    };
    let mut audit = Audit::default();
    let wanted = filter(&q)?;
    // The filters that narrow which risks are derived at all.
    let selector = Selector {
        device: q.get("device").map(String::as_str),
        vulnerability: q.get("vulnerability").map(String::as_str),
        model: q.get("model").map(String::as_str),
        release: q.get("release").map(String::as_str),
        site: q.get("site").map(String::as_str),
        kind: match q.get("kind").map(String::as_str) {
            Some("device") => Some(RiskKind::DeviceVulnerability),
            Some("release") => Some(RiskKind::ReleaseVulnerability),
            Some("recorded") => Some(RiskKind::Recorded),
            _ => None,
        },
    };
    let all = visible(
        &api,
        &reader,
        register.select(&selector).filter(|r| wanted(r)),
        &mut audit,
    )?;
    let total = all.len();
    let page: Vec<Cow<'_, Risk>> = all.into_iter().skip(offset).take(limit).collect();
    let next = (offset + page.len() < total).then_some(offset + page.len());
    audit.write(&api.twins, &reader.who, ReadKind::List, None)?;
    Ok(Json(json!({
        "today": register.today,
        "as_of": meta.size,
        "advisories": api.risks.advisory_count(),
        "total": total,
        "next_offset": next,
        "risks": page,
    })))
}

async fn summary(State(api): State<RiskApi>, caller: MaybeCaller) -> ApiResult<Json<Value>> {
    let register = register_now(&api).await?;
    let meta = api.twins.projector.meta();
    let reader = Reader {
        who: caller_id(&caller),
        meta: &meta,
    };
    let mut audit = Audit::default();
    let risks = visible(&api, &reader, register.iter(), &mut audit)?;
    let mut by_status: BTreeMap<&str, u64> = BTreeMap::new();
    let mut open_by_severity: BTreeMap<&str, u64> = BTreeMap::new();
    let mut devices = std::collections::BTreeSet::new();
    let mut releases = std::collections::BTreeSet::new();
    let mut vulns = std::collections::BTreeSet::new();
    let mut overdue = 0u64;
    for r in &risks {
        *by_status.entry(r.status.as_str()).or_default() += 1;
        if !r.status.is_unresolved() {
            continue;
        }
        *open_by_severity.entry(r.severity.as_str()).or_default() += 1;
        overdue += u64::from(r.overdue);
        match r.kind {
            RiskKind::DeviceVulnerability => {
                devices.insert(r.device.clone());
            }
            RiskKind::ReleaseVulnerability => {
                releases.insert((r.model.clone(), r.release.clone()));
            }
            RiskKind::Recorded => {}
        }
        if let Some(v) = &r.vulnerability {
            vulns.insert(v.clone());
        }
    }
    audit.write(
        &api.twins,
        &reader.who,
        ReadKind::Count,
        Some(risks.len() as u64),
    )?;
    Ok(Json(json!({
        "today": register.today,
        "as_of": meta.size,
        "advisories": api.risks.advisory_count(),
        "risks": risks.len(),
        "by_status": by_status,
        "open_by_severity": open_by_severity,
        "overdue": overdue,
        "devices_exposed": devices.len(),
        "releases_exposed": releases.len(),
        "vulnerabilities": vulns.len(),
        "fleet": register.summary,
    })))
}

async fn exposure(
    State(api): State<RiskApi>,
    caller: MaybeCaller,
    Query(q): Query<BTreeMap<String, String>>,
) -> ApiResult<Json<Value>> {
    let by = q.get("by").map(String::as_str).unwrap_or("vulnerability");
    let key_of: fn(&Risk) -> Option<String> = match by {
        "vulnerability" => |r| r.vulnerability.as_deref().map(str::to_string),
        "device" => |r| r.device.clone(),
        "firmware" => |r| {
            r.model
                .as_ref()
                .zip(r.release.as_ref())
                .map(|(m, v)| format!("{m}@{v}"))
        },
        "site" => |r| r.site.clone(),
        other => {
            return Err(JsonError::bad_request(format!(
                "by must be vulnerability, device, firmware or site, not {other:?}"
            )))
        }
    };
    let register = register_now(&api).await?;
    let meta = api.twins.projector.meta();
    let reader = Reader {
        who: caller_id(&caller),
        meta: &meta,
    };
    let mut audit = Audit::default();
    let risks = visible(&api, &reader, register.iter(), &mut audit)?;
    #[derive(Default)]
    struct Group {
        risks: u64,
        unresolved: u64,
        overdue: u64,
        worst: Option<risk::Severity>,
        devices: std::collections::BTreeSet<String>,
        vulnerabilities: std::collections::BTreeSet<String>,
    }
    let mut groups: BTreeMap<String, Group> = BTreeMap::new();
    for r in risks.iter().filter(|r| r.kind != RiskKind::Recorded) {
        let Some(k) = key_of(r) else { continue };
        let g = groups.entry(k).or_default();
        g.risks += 1;
        if r.status.is_unresolved() {
            g.unresolved += 1;
            g.overdue += u64::from(r.overdue);
            g.worst = g.worst.max(Some(r.severity));
        }
        if let Some(d) = &r.device {
            g.devices.insert(d.clone());
        }
        if let Some(v) = &r.vulnerability {
            g.vulnerabilities.insert(v.to_string());
        }
    }
    let mut list: Vec<(String, Group)> = groups.into_iter().collect();
    list.sort_by(|a, b| {
        b.1.worst
            .cmp(&a.1.worst)
            .then(b.1.unresolved.cmp(&a.1.unresolved))
            .then(a.0.cmp(&b.0))
    });
    audit.write(&api.twins, &reader.who, ReadKind::List, None)?;
    Ok(Json(json!({
        "today": register.today,
        "by": by,
        "groups": list.iter().map(|(k, g)| json!({
            "key": k,
            "risks": g.risks,
            "unresolved": g.unresolved,
            "overdue": g.overdue,
            "worst_severity": g.worst.map(|s| s.as_str()),
            "devices": g.devices.len(),
            "vulnerabilities": g.vulnerabilities.len(),
        })).collect::<Vec<_>>(),
    })))
}

/// Whether `who` is the node's administrator: the registry authority.
fn is_administrator(api: &RiskApi, who: &str) -> bool {
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
async fn import_bulk(
    State(api): State<RiskApi>,
    caller: Caller,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<Value>)> {
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
        Json(json!({
            "format": "Cve5 JSON lines",
            "source": "shared",
            "records": summary.records,
            "held": api.risks.advisory_count(),
            "new": stored.new,
            "updated": stored.updated,
            "unchanged": stored.unchanged,
            "older": stored.older,
            "failed": failed,
            "errors": errors,
            "recorded": recorded.len(),
        })),
    ))
}

async fn import(
    State(api): State<RiskApi>,
    caller: Caller,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<Value>)> {
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
            Json(json!({
                "format": format!("{format:?}"),
                "source": "shared",
                "advisories": parsed.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(),
                "held": api.risks.advisory_count(),
                "new": summary.new,
                "updated": summary.updated,
                "unchanged": summary.unchanged,
                "older": summary.older,
                "recorded": recorded,
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
        Json(json!({
            "format": format!("{format:?}"),
            "source": format!("advisory:{who}"),
            "advisories": parsed.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(),
            "new": summary.new,
            "updated": summary.updated,
            "unchanged": summary.unchanged,
            "older": summary.older,
            "recorded": recorded,
            "applies_to_releases": releases,
            "note": "your advisories are your claims about the firmware you released: they apply to your releases only and add to the shared advisories, never replace them; disagree with an advisory by a VEX statement",
        })),
    ))
}

async fn vex(
    State(api): State<RiskApi>,
    caller: Caller,
    Query(q): Query<BTreeMap<String, String>>,
) -> ApiResult<Json<Value>> {
    let model = q.get("model").ok_or_else(|| {
        JsonError::bad_request("give the model subject: ?model=model:<vendor>/<model>")
    })?;
    let meta = api.twins.projector.meta();
    let who = twin::StakeholderId(caller.0.stakeholder.clone());
    let releases = meta
        .releases
        .get(model.as_str())
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    if releases.is_empty() {
        return Err(JsonError::not_found(format!(
            "no firmware released for {model:?}"
        )));
    }
    let register = register_now(&api).await?;
    let now = crate::twin_api::now_s();
    let related = releases.iter().any(|r| r.issuer == who)
        || register
            .risks
            .iter()
            .any(|r| r.model.as_deref() == Some(model.as_str()) && r.stakeholders.contains(&who.0))
        || {
            // A role on a device of the model, exposed or not.
            let models = register::model_subjects(&meta);
            let store = api.twins.projector.store();
            let mut found = false;
            let mut after: Option<String> = None;
            'scan: loop {
                let page = store
                    .devices(after.as_deref(), 1024)
                    .map_err(JsonError::internal)?;
                let Some(last) = page.last() else { break };
                after = Some(last.device.to_string());
                for t in &page {
                    if models.get(&(t.manufacturer.0.clone(), t.model.clone())) == Some(model)
                        && !twin::projection::roles_at(&meta, &who, t, now).is_empty()
                    {
                        found = true;
                        break 'scan;
                    }
                }
                if page.len() < 1024 {
                    break;
                }
            }
            found
        };
    if !related {
        return Err(JsonError::not_found(format!(
            "no VEX for {model:?} shared with you"
        )));
    }
    let list: Vec<&twin::projection::ReleaseVex> = meta
        .release_vex
        .get(model.as_str())
        .map(|v| {
            v.iter()
                .filter(|x| q.get("release").is_none_or(|r| &x.release == r))
                .collect()
        })
        .unwrap_or_default();
    Ok(Json(
        json!({"model": model, "as_of": meta.size, "statements": list}),
    ))
}

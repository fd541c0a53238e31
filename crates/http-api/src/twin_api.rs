//! The native REST API of the security twins, under `/api/v1` (its OpenAPI 3
//! document at `/api/v1/openapi.json`).
//!
//! Every read path decides per piece of data: the data of a statement belongs
//! to the stakeholder that signed it, and its owner's sharing policy
//! ([`twin::sharing::decide`]) says whether the caller may see it and which
//! of its fields. Callers authenticate with a bearer token
//! ([`crate::oauth::MaybeCaller`]); anonymous callers see what policies make
//! public. Every read of one organization's data by another is recorded
//! ([`twin::sharing::ReadRecord`]), and the owner lists those records at
//! `GET /api/v1/reads`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::{FromRef, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine;
use serde::Serialize;
use serde_json::{json, Value};
use tlog::LeafIndex;
use transparency::TransparencyService;
use twin::projection::{roles_of, status_of, Claim, Twin};
use twin::published::{PolicyKind, Published};
use twin::sharing::{ReadEntries, ReadKind, ReadRecord};
use twin::{AttributeClass, DeviceId, Meta, StakeholderId};
use twin_store::store::SEARCH_ATTRIBUTES;
use twin_store::{NewReadRecord, Projector};

use crate::oauth::{Caller, MaybeCaller, TokenEndpoint};

/// Largest page.
pub const PAGE_SIZE_MAX: usize = 1000;
/// Page size when none is asked for.
pub const PAGE_SIZE_DEFAULT: usize = 100;
/// Devices examined at most to answer one list or count (policy filtering
/// happens after the index scan).
pub const SCAN_DEVICES_MAX: usize = 100_000;

/// The state of the `/api/v1` routes.
#[derive(Clone)]
pub struct TwinApi {
    pub(crate) projector: Projector,
    pub(crate) scitt: Arc<TransparencyService>,
    pub(crate) tokens: Arc<TokenEndpoint>,
    seq: Arc<AtomicU64>,
}

impl FromRef<TwinApi> for Arc<TokenEndpoint> {
    fn from_ref(api: &TwinApi) -> Arc<TokenEndpoint> {
        api.tokens.clone()
    }
}

impl TwinApi {
    /// The API over the twins of `projector`, statements and receipts of
    /// `scitt`, authenticating with `tokens`.
    pub fn new(
        projector: Projector,
        scitt: Arc<TransparencyService>,
        tokens: Arc<TokenEndpoint>,
    ) -> TwinApi {
        TwinApi {
            projector,
            scitt,
            tokens,
            seq: Arc::new(AtomicU64::new(0)),
        }
    }
}

/// The `/api/v1` routes (mount at the root).
pub fn twin_router(api: TwinApi) -> Router {
    Router::new()
        .route("/api/v1/openapi.json", get(openapi))
        .route("/api/v1/status", get(status))
        .route("/api/v1/stakeholders", get(stakeholders))
        .route("/api/v1/stakeholders/{id}", get(stakeholder))
        .route("/api/v1/devices", get(devices))
        .route("/api/v1/devices/count", get(device_count))
        .route("/api/v1/devices/{id}", get(device))
        .route("/api/v1/devices/{id}/timeline", get(timeline))
        .route(
            "/api/v1/statements",
            axum::routing::post(register_statement),
        )
        .route("/api/v1/statements/{entry}", get(statement))
        .route("/api/v1/reads", get(reads))
        .route("/api/v1/policies", get(policies))
        .with_state(api)
}

/// A JSON error: `{"error": code, "message": text}`.
#[derive(Debug)]
pub struct JsonError {
    status: StatusCode,
    code: &'static str,
    message: String,
    retry_after_s: Option<u64>,
}

/// How long a client refused because a read could not be recorded (or the
/// disk is full) waits before it tries again.
pub const STORAGE_RETRY_AFTER_S: u64 = 5;

impl JsonError {
    pub(crate) fn new(
        status: StatusCode,
        code: &'static str,
        message: impl Into<String>,
    ) -> JsonError {
        JsonError {
            status,
            code,
            message: message.into(),
            retry_after_s: None,
        }
    }
    /// 503 with `Retry-After`: the read could not be recorded, so its data
    /// is not returned (read transparency fails closed).
    pub(crate) fn read_not_recorded(detail: impl std::fmt::Display) -> JsonError {
        tracing::error!(%detail, "a read could not be recorded; refused");
        JsonError {
            retry_after_s: Some(STORAGE_RETRY_AFTER_S),
            ..JsonError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "read_not_recorded",
                "this read of another organization's data could not be recorded \
                 (the node's storage is failing or full), so its data is not returned; \
                 try again later",
            )
        }
    }
    pub(crate) fn retry_after_s(&self) -> Option<u64> {
        self.retry_after_s
    }
    /// A storage failure worth retrying: 503 with `Retry-After`.
    pub(crate) fn storage_unavailable(message: impl Into<String>) -> JsonError {
        JsonError {
            retry_after_s: Some(STORAGE_RETRY_AFTER_S),
            ..JsonError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
        }
    }
    pub(crate) fn parts(self) -> (StatusCode, String) {
        (self.status, self.message)
    }
    pub(crate) fn bad_request(message: impl Into<String>) -> JsonError {
        JsonError::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }
    pub(crate) fn not_found(message: impl Into<String>) -> JsonError {
        JsonError::new(StatusCode::NOT_FOUND, "not_found", message)
    }
    pub(crate) fn forbidden(message: impl Into<String>) -> JsonError {
        JsonError::new(StatusCode::FORBIDDEN, "forbidden", message)
    }
    pub(crate) fn internal(detail: impl std::fmt::Display) -> JsonError {
        tracing::error!(%detail, "internal error");
        JsonError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error",
        )
    }
}

impl IntoResponse for JsonError {
    /// RFC 9457 problem details ([`crate::problem`]), with `error` (this
    /// error's code) and `message` as extension members.
    fn into_response(self) -> Response {
        let mut response =
            crate::problem::problem(crate::problem::Family::Json, self.status, &self.message);
        let body = json!({
            "type": "about:blank",
            "title": self.status.canonical_reason().unwrap_or("Error"),
            "status": self.status.as_u16(),
            "detail": self.message,
            "error": self.code,
            "message": self.message,
        });
        *response.body_mut() = axum::body::Body::from(body.to_string());
        if let Some(s) = self.retry_after_s {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, HeaderValue::from(s));
        }
        response
    }
}

pub(crate) type ApiResult<T> = Result<T, JsonError>;

pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Now, in unix seconds: audit grants have windows.
pub(crate) fn now_s() -> i64 {
    (now_ms() / 1000) as i64
}

pub(crate) fn encode_token(s: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s)
}

pub(crate) fn decode_token(t: &str) -> ApiResult<String> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(t)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| JsonError::bad_request("page_token is not a token this API issued"))
}

pub(crate) fn page_size(q: &BTreeMap<String, String>) -> ApiResult<usize> {
    match q.get("page_size") {
        None => Ok(PAGE_SIZE_DEFAULT),
        Some(s) => match s.parse::<usize>() {
            Ok(n) if (1..=PAGE_SIZE_MAX).contains(&n) => Ok(n),
            _ => Err(JsonError::bad_request(format!(
                "page_size must be an integer from 1 to {PAGE_SIZE_MAX}, not {s:?}"
            ))),
        },
    }
}

/// Who is reading, and what they may see of one device.
pub(crate) struct Reader<'a> {
    pub(crate) who: Option<StakeholderId>,
    pub(crate) meta: &'a Meta,
}

/// What the reader may see of one statement.
#[derive(Clone)]
pub(crate) struct Seen {
    pub(crate) fields: Option<Vec<String>>,
    policy: String,
    policy_entry: Option<u64>,
    grants: twin::sharing::GrantSet,
    own: bool,
}

impl Seen {
    /// What anyone sees of data its owner made public through the Archivist
    /// API (`"public": true` on an asset): everything, recorded as a read.
    pub(crate) fn archivist_public() -> Seen {
        Seen {
            fields: None,
            policy: "archivist-public".into(),
            policy_entry: None,
            grants: twin::sharing::GrantSet::EMPTY,
            own: false,
        }
    }
}

impl Reader<'_> {
    pub(crate) fn decide(&self, twin: &Twin, owner: &StakeholderId, kind: &str) -> Option<Seen> {
        let (decision, policy_entry) =
            twin::projection::decide_read(self.meta, self.who.as_ref(), twin, owner, kind, now_s());
        match decision {
            twin::sharing::Decision::Own => Some(Seen {
                fields: None,
                policy: "own".into(),
                policy_entry: None,
                grants: twin::sharing::GrantSet::EMPTY,
                own: true,
            }),
            twin::sharing::Decision::Allowed {
                policy,
                grants,
                fields,
            } => Some(Seen {
                fields: fields.map(|f| f.into_owned()),
                policy: policy.to_string(),
                policy_entry,
                grants,
                own: false,
            }),
            twin::sharing::Decision::Denied => None,
        }
    }

    /// Whether the device itself (its identity, the manufacturer's data) is visible.
    pub(crate) fn sees_device(&self, twin: &Twin) -> Option<Seen> {
        self.decide(twin, &twin.manufacturer, "device-registered")
    }
}

/// Read records to write, one per owner.
#[derive(Default)]
pub(crate) struct Audit {
    by_owner: BTreeMap<String, (Seen, Vec<u64>, Option<DeviceId>)>,
}

impl Audit {
    pub(crate) fn note(
        &mut self,
        owner: &StakeholderId,
        seen: Seen,
        entry: u64,
        device: Option<&DeviceId>,
    ) {
        if seen.own {
            return;
        }
        let slot = self
            .by_owner
            .entry(owner.0.clone())
            .or_insert_with(|| (seen, Vec::new(), device.cloned()));
        slot.1.push(entry);
        if slot.2.as_ref() != device {
            slot.2 = None;
        }
    }

    /// Adds the reads noted in `other`.
    pub(crate) fn merge(&mut self, other: Audit) {
        for (owner, (seen, entries, device)) in other.by_owner {
            let slot = self
                .by_owner
                .entry(owner)
                .or_insert_with(|| (seen, Vec::new(), device.clone()));
            slot.1.extend(entries);
            if slot.2 != device {
                slot.2 = None;
            }
        }
    }

    /// Writes one record per owner. Fails when a record cannot be written:
    /// the caller must then answer the error and not the data.
    pub(crate) fn write(
        self,
        api: &TwinApi,
        reader: &Option<StakeholderId>,
        what: ReadKind,
        counted: Option<u64>,
    ) -> ApiResult<()> {
        if self.by_owner.is_empty() {
            return Ok(());
        }
        let side = api
            .projector
            .payloads()
            .ok_or_else(|| JsonError::read_not_recorded("this node keeps no read records"))?;
        let at = now_ms();
        let mut encoded = Vec::with_capacity(self.by_owner.len());
        for (owner, (seen, entries, device)) in self.by_owner {
            let record = ReadRecord {
                reader: reader.clone(),
                owner: StakeholderId(owner.clone()),
                device,
                what,
                entries: match counted {
                    Some(n) => ReadEntries::Counted(n),
                    None => ReadEntries::Listed(entries),
                },
                policy: seen.policy,
                policy_entry: seen.policy_entry,
                grants: seen.grants,
                at_unix_ms: at,
            };
            let seq = api.seq.fetch_add(1, Ordering::Relaxed);
            let bytes = serde_json::to_vec(&record).map_err(JsonError::read_not_recorded)?;
            encoded.push((owner, seq, bytes));
        }
        let records: Vec<NewReadRecord<'_>> = encoded
            .iter()
            .map(|(owner, seq, bytes)| NewReadRecord {
                owner,
                at_ms: at,
                seq: *seq,
                record: bytes,
            })
            .collect();
        side.record_reads(&records)
            .map_err(JsonError::read_not_recorded)
    }
}

pub(crate) fn caller_id(c: &MaybeCaller) -> Option<StakeholderId> {
    c.0.as_ref().map(|t| StakeholderId(t.stakeholder.clone()))
}

async fn openapi() -> impl IntoResponse {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        OPENAPI,
    )
}

async fn status(State(api): State<TwinApi>) -> Json<Value> {
    let meta = api.projector.meta();
    let published = api.scitt.log().published();
    let log_fault = api.scitt.log().fault();
    Json(json!({
        "projected_size": meta.size,
        "published_size": published.size.get(),
        "statements_applied": meta.applied,
        "entries_refused": meta.refused,
        "stakeholders": meta.registry.all().count(),
        "authority": meta.registry.authority().map(|a| a.0.clone()),
        "projector_fault": api.projector.fault(),
        // The log stops writing on a storage error (a full disk): say so.
        // It writes again by itself once the cause is gone.
        "read_only": log_fault.is_some(),
        "log_fault": log_fault,
        "log_restarts": api.scitt.log().restarts(),
    }))
}

fn stakeholder_json(s: &twin::registry::Stakeholder) -> Value {
    json!({
        "id": s.id.0,
        "name": s.name,
        "roles": s.roles,
        "registered_at": s.registered_at,
        "keys": s.keys.iter().map(|k| json!({
            "kid": k.kid, "alg": k.alg, "pem": k.pem,
            "not_before": k.not_before, "not_after": k.not_after,
            "added_at": k.added_at, "revoked_at": k.revoked_at,
        })).collect::<Vec<_>>(),
    })
}

/// The registry is public: it is in the log, and relying parties need the
/// keys to verify statements.
async fn stakeholders(State(api): State<TwinApi>) -> Json<Value> {
    let meta = api.projector.meta();
    let list: Vec<Value> = meta.registry.all().map(stakeholder_json).collect();
    Json(json!({ "stakeholders": list, "as_of": meta.size }))
}

async fn stakeholder(State(api): State<TwinApi>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let meta = api.projector.meta();
    let s = meta
        .registry
        .get(&StakeholderId(id.clone()))
        .ok_or_else(|| JsonError::not_found(format!("no stakeholder {id:?}")))?;
    let mut v = stakeholder_json(s);
    v["as_of"] = json!(meta.size);
    Ok(Json(v))
}

/// The twin fields each attribute contributes: (twin field, statement
/// field). A twin field shows only if its attribute's statement is visible
/// to the reader and that statement field is among the fields shared.
fn contributed(class: &AttributeClass) -> &'static [(&'static str, &'static str)] {
    match class {
        AttributeClass::Identity => &[
            ("model", "model"),
            ("serial", "serial"),
            ("hardware_id", "hardware_id"),
            ("device_key", "device_key"),
        ],
        AttributeClass::Ownership => &[
            ("owner", "owner"),
            ("operator", "operator"),
            ("maintainer", "maintainer"),
            ("site", "site"),
            ("location", "location"),
            ("groups", "groups"),
        ],
        AttributeClass::Lifecycle => &[("lifecycle", "to")],
        AttributeClass::Firmware => &[("firmware", "version")],
        _ => &[],
    }
}

/// Nulls the twin fields of `class` the reader may not see (`seen`: `None`
/// when the attribute's statement is hidden altogether).
fn redact_summary(class: &AttributeClass, seen: Option<&Seen>, twin: &mut Value) {
    let Some(obj) = twin.as_object_mut() else {
        return;
    };
    for (field, statement_field) in contributed(class) {
        let shown = match seen {
            None => false,
            Some(s) => match &s.fields {
                None => true,
                Some(fields) => fields.iter().any(|f| f == statement_field),
            },
        };
        if !shown {
            obj.insert((*field).to_string(), Value::Null);
        }
    }
}

/// Fields of a twin summary that no attribute stands behind when it has no
/// claim for them (a device never transferred has no owner to hide), and
/// the twin-level counters, which reveal activity: shown only to readers
/// who see every attribute.
const ACTIVITY_FIELDS: &[&str] = &["statements", "updated_at"];

/// A current claim of a twin and what the reader may see of it.
type VisibleClaim = (AttributeClass, Claim, Option<Seen>);

/// The twin summary `reader` may see, with the claims behind it (class,
/// claim, what the reader may see of it).
fn visible_twin(
    api: &TwinApi,
    reader: &Reader<'_>,
    twin: &Twin,
) -> ApiResult<(Value, Vec<VisibleClaim>)> {
    let mut summary = twin_summary(twin);
    let mut claims = Vec::new();
    let mut all_seen = true;
    for (class, entry) in &twin.current {
        let Some(claim) = api
            .projector
            .store()
            .claim(*entry)
            .map_err(JsonError::internal)?
        else {
            continue;
        };
        let seen = reader.decide(twin, &claim.issuer, claim.body.type_name());
        all_seen &= seen.as_ref().is_some_and(|s| s.fields.is_none());
        redact_summary(class, seen.as_ref(), &mut summary);
        claims.push((class.clone(), claim, seen));
    }
    if !all_seen {
        if let Some(obj) = summary.as_object_mut() {
            for f in ACTIVITY_FIELDS {
                obj.insert((*f).to_string(), Value::Null);
            }
        }
    }
    Ok((summary, claims))
}

fn claim_json(claim: &Claim, seen: &Seen, meta: &Meta) -> Value {
    let body = claim.body.to_wire();
    let shown = twin::sharing::redact(&body, seen.fields.as_deref());
    json!({
        "entry": claim.entry,
        "issuer": claim.issuer.0,
        "signed_by": claim.signed_by.as_ref().map(|s| s.0.clone()),
        "statement": shown,
        "asserter_roles": claim.asserter_roles,
        "endorsements": claim.endorsements.iter().map(|(who, (e, roles))| json!({"by": who.0, "entry": e, "roles": roles})).collect::<Vec<_>>(),
        "disputes": claim.disputes.iter().map(|(who, (e, why))| json!({"by": who.0, "entry": e, "reason": why})).collect::<Vec<_>>(),
        "status": status_of(&meta.policy, claim),
        "receipt": format!("/entries/{}", claim.entry),
    })
}

fn twin_summary(twin: &Twin) -> Value {
    let mut v = serde_json::to_value(twin).unwrap_or(Value::Null);
    if let Some(o) = v.as_object_mut() {
        // Bookkeeping of the projection: which claims are current is shown
        // per attribute (as the reader may see them), and the issuers'
        // clocks would name attributes the reader may not see.
        o.remove("current");
        o.remove("clocks");
    }
    v
}

/// The twin of one device as `reader` may see it.
fn twin_view(
    api: &TwinApi,
    reader: &Reader<'_>,
    twin: &Twin,
    audit: &mut Audit,
) -> ApiResult<Option<Value>> {
    if reader.sees_device(twin).is_none() {
        return Ok(None);
    }
    let (summary, claims) = visible_twin(api, reader, twin)?;
    let mut attributes = Vec::new();
    for (class, claim, seen) in claims {
        if let Some(seen) = seen {
            let v = claim_json(&claim, &seen, reader.meta);
            audit.note(&claim.issuer, seen, claim.entry, Some(&twin.device));
            attributes.push(json!({"attribute": class, "claim": v}));
        }
    }
    let ai_use = ai_use_policies(reader.meta, twin);
    Ok(Some(
        json!({ "twin": summary, "attributes": attributes, "ai_use_policies": ai_use }),
    ))
}

/// The current AI-use policies covering a device, published by stakeholders
/// holding a role on it. Published policies are public (they are in the
/// log), so whoever sees the device sees them.
fn ai_use_policies(meta: &Meta, twin: &Twin) -> Vec<Value> {
    let facts = twin.facts();
    meta.published
        .ai_use()
        .filter(|(owner, _, p)| !roles_of(meta, owner, twin).is_empty() && p.covers(&facts))
        .map(|(owner, entry, p)| {
            json!({"owner": owner.0, "entry": entry, "receipt": format!("/entries/{entry}"), "policy": p})
        })
        .collect()
}

/// Published policies (sharing, transparency, AI use) with their versions:
/// public, like the log they come from.
async fn policies(
    State(api): State<TwinApi>,
    Query(q): Query<BTreeMap<String, String>>,
) -> ApiResult<Json<Value>> {
    let meta = api.projector.meta();
    for k in q.keys() {
        if !["stakeholder", "kind", "at"].contains(&k.as_str()) {
            return Err(JsonError::bad_request(format!(
                "unknown parameter {k:?}; expected stakeholder, kind or at"
            )));
        }
    }
    let owner = q.get("stakeholder").map(|s| StakeholderId(s.clone()));
    let kind = match q.get("kind") {
        Some(k) => Some(PolicyKind::parse(k).ok_or_else(|| {
            JsonError::bad_request(format!(
                "unknown policy kind {k:?}; expected sharing, transparency or ai-use"
            ))
        })?),
        None => None,
    };
    let at = match q.get("at") {
        Some(a) => Some(a.parse::<u64>().map_err(|_| {
            JsonError::bad_request(format!("at={a:?} is not a log position (an integer)"))
        })?),
        None => None,
    };
    let list: Vec<Value> = meta
        .published
        .versions(owner.as_ref())
        .filter(|(_, v)| kind.is_none_or(|k| v.kind == k))
        .filter(|(_, v)| at.is_none_or(|at| Published::in_force(v, at)))
        .map(|(o, v)| {
            json!({
                "owner": o.0,
                "kind": v.kind.name(),
                "id": v.id,
                "entry": v.entry,
                "receipt": format!("/entries/{}", v.entry),
                "superseded_by": v.superseded_by,
                "in_force": v.superseded_by.is_none(),
                "policy": v.policy,
            })
        })
        .collect();
    Ok(Json(json!({ "policies": list, "as_of": meta.size })))
}

async fn device(
    State(api): State<TwinApi>,
    caller: MaybeCaller,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let meta = api.projector.meta();
    let reader = Reader {
        who: caller_id(&caller),
        meta: &meta,
    };
    let not_found = || JsonError::not_found(format!("no device {id:?} (or not shared with you)"));
    let device = DeviceId::new(id.clone()).map_err(|_| not_found())?;
    let twin = api
        .projector
        .store()
        .twin(&device)
        .map_err(JsonError::internal)?
        .ok_or_else(not_found)?;
    let mut audit = Audit::default();
    let mut view = twin_view(&api, &reader, &twin, &mut audit)?.ok_or_else(not_found)?;
    view["as_of"] = json!(meta.size);
    audit.write(&api, &reader.who, ReadKind::Twin, None)?;
    Ok(Json(view))
}

/// The attribute filter of a list or count: at most one indexed attribute
/// drives the scan; every other one filters.
fn filters(q: &BTreeMap<String, String>) -> ApiResult<Vec<(String, String)>> {
    let mut out = Vec::new();
    for (k, v) in q {
        if k == "page_size" || k == "page_token" {
            continue;
        }
        if !SEARCH_ATTRIBUTES.contains(&k.as_str()) {
            return Err(JsonError::bad_request(format!(
                "unknown filter {k:?}; devices can be searched by {}",
                SEARCH_ATTRIBUTES.join(", ")
            )));
        }
        out.push((k.clone(), v.clone()));
    }
    Ok(out)
}

fn matches(twin: &Twin, filters: &[(String, String)]) -> bool {
    filters.iter().all(|(k, v)| {
        twin_store::store::index_keys(twin).iter().any(|key| {
            let mut p = k.as_bytes().to_vec();
            p.push(0);
            p.extend_from_slice(v.as_bytes());
            p.push(0);
            key.starts_with(&p)
        })
    })
}

/// Whether the reader's view of a twin (`summary`) shows every filtered value.
fn visible_match(summary: &Value, filters: &[(String, String)]) -> bool {
    filters.iter().all(|(k, v)| {
        let field = if k == "group" { "groups" } else { k.as_str() };
        match &summary[field] {
            Value::String(s) => s == v,
            Value::Array(a) => a.iter().any(|x| x.as_str() == Some(v)),
            _ => false,
        }
    })
}

/// Scans devices in id order after `after`, applying filters and the
/// caller's visibility; stops after `limit` visible ones or the scan bound.
fn scan(
    api: &TwinApi,
    reader: &Reader<'_>,
    filters: &[(String, String)],
    mut after: Option<String>,
    limit: usize,
    mut visit: impl FnMut(&Twin, Seen) -> ApiResult<()>,
) -> ApiResult<(usize, Option<String>)> {
    let store = api.projector.store();
    let mut found = 0;
    let mut examined = 0;
    loop {
        let batch: Vec<Twin> = match filters.first() {
            Some((k, v)) => {
                let ids = store
                    .search(k, v, after.as_deref(), 256)
                    .map_err(JsonError::internal)?;
                let mut twins = Vec::with_capacity(ids.len());
                for id in ids {
                    if let Some(t) = store.twin(&id).map_err(JsonError::internal)? {
                        twins.push(t);
                    }
                }
                twins
            }
            None => store
                .devices(after.as_deref(), 256)
                .map_err(JsonError::internal)?,
        };
        if batch.is_empty() {
            return Ok((found, None));
        }
        for twin in &batch {
            examined += 1;
            after = Some(twin.device.to_string());
            if !matches(twin, filters) {
                continue;
            }
            if let Some(seen) = reader.sees_device(twin) {
                // A filter matches only on what the reader may see: a search
                // never reveals a hidden attribute.
                if !filters.is_empty() {
                    let (summary, _) = visible_twin(api, reader, twin)?;
                    if !visible_match(&summary, filters) {
                        continue;
                    }
                }
                visit(twin, seen)?;
                found += 1;
                if found >= limit {
                    return Ok((found, after));
                }
            }
            if examined >= SCAN_DEVICES_MAX {
                return Ok((found, after));
            }
        }
    }
}

async fn devices(
    State(api): State<TwinApi>,
    caller: MaybeCaller,
    Query(q): Query<BTreeMap<String, String>>,
) -> ApiResult<Response> {
    let meta = api.projector.meta();
    let reader = Reader {
        who: caller_id(&caller),
        meta: &meta,
    };
    let size = page_size(&q)?;
    let after = q.get("page_token").map(|t| decode_token(t)).transpose()?;
    let filters = filters(&q)?;
    let mut audit = Audit::default();
    let mut items = Vec::new();
    let (_, last) = scan(&api, &reader, &filters, after, size, |twin, seen| {
        audit.note(
            &twin.manufacturer,
            seen,
            twin.registered_at,
            Some(&twin.device),
        );
        items.push(visible_twin(&api, &reader, twin)?.0);
        Ok(())
    })?;
    audit.write(&api, &reader.who, ReadKind::List, None)?;
    let next = if items.len() >= size {
        last.map(|l| encode_token(&l))
    } else {
        None
    };
    Ok(
        Json(json!({ "devices": items, "next_page_token": next, "as_of": meta.size }))
            .into_response(),
    )
}

async fn device_count(
    State(api): State<TwinApi>,
    caller: MaybeCaller,
    Query(q): Query<BTreeMap<String, String>>,
) -> ApiResult<Response> {
    let meta = api.projector.meta();
    let reader = Reader {
        who: caller_id(&caller),
        meta: &meta,
    };
    let filters = filters(&q)?;
    let mut audit = Audit::default();
    let (n, more) = scan(&api, &reader, &filters, None, usize::MAX, |twin, seen| {
        audit.note(
            &twin.manufacturer,
            seen,
            twin.registered_at,
            Some(&twin.device),
        );
        Ok(())
    })?;
    let counted = audit
        .by_owner
        .values()
        .map(|(_, e, _)| e.len() as u64)
        .sum::<u64>();
    audit.write(&api, &reader.who, ReadKind::Count, Some(counted))?;
    let mut headers = HeaderMap::new();
    headers.insert("x-total-count", HeaderValue::from(n as u64));
    Ok((
        headers,
        Json(json!({ "count": n, "complete": more.is_none(), "as_of": meta.size })),
    )
        .into_response())
}

async fn timeline(
    State(api): State<TwinApi>,
    caller: MaybeCaller,
    Path(id): Path<String>,
    Query(q): Query<BTreeMap<String, String>>,
) -> ApiResult<Json<Value>> {
    let meta = api.projector.meta();
    let reader = Reader {
        who: caller_id(&caller),
        meta: &meta,
    };
    let size = page_size(&q)?;
    let after =
        match q.get("page_token") {
            Some(t) => Some(decode_token(t)?.parse::<u64>().map_err(|_| {
                JsonError::bad_request("page_token is not a token this API issued")
            })?),
            None => None,
        };
    let not_found = || JsonError::not_found(format!("no device {id:?} (or not shared with you)"));
    let device = DeviceId::new(id.clone()).map_err(|_| not_found())?;
    let store = api.projector.store();
    let twin = store
        .twin(&device)
        .map_err(JsonError::internal)?
        .ok_or_else(not_found)?;
    reader.sees_device(&twin).ok_or_else(not_found)?;
    let mut audit = Audit::default();
    let mut items = Vec::new();
    let mut cursor = after;
    let mut more = true;
    while items.len() < size && more {
        let batch = store
            .history(&device, cursor, 256)
            .map_err(JsonError::internal)?;
        more = batch.len() == 256;
        for (entry, kind, issuer) in batch {
            cursor = Some(entry);
            let Some(seen) = reader.decide(&twin, &issuer, &kind) else {
                continue;
            };
            let claim = store.claim(entry).map_err(JsonError::internal)?;
            let status = claim.as_ref().and_then(|c| status_of(&meta.policy, c));
            let signed_by = claim
                .as_ref()
                .and_then(|c| c.signed_by.as_ref())
                .map(|s| s.0.clone());
            let shown =
                claim.map(|c| twin::sharing::redact(&c.body.to_wire(), seen.fields.as_deref()));
            audit.note(&issuer, seen, entry, Some(&device));
            items.push(json!({
                "entry": entry,
                "type": kind,
                "issuer": issuer.0,
                "signed_by": signed_by,
                "statement": shown,
                "status": status,
                "receipt": format!("/entries/{entry}"),
            }));
            if items.len() >= size {
                more = true;
                break;
            }
        }
    }
    audit.write(&api, &reader.who, ReadKind::Timeline, None)?;
    let next = if more {
        cursor.map(|c| encode_token(&c.to_string()))
    } else {
        None
    };
    Ok(Json(json!({
        "device": id,
        "entries": items,
        "next_page_token": next,
        "as_of": meta.size,
    })))
}

async fn statement(
    State(api): State<TwinApi>,
    caller: MaybeCaller,
    Path(entry): Path<String>,
) -> ApiResult<Json<Value>> {
    let meta = api.projector.meta();
    let reader = Reader {
        who: caller_id(&caller),
        meta: &meta,
    };
    let index: u64 = entry
        .parse()
        .map_err(|_| JsonError::bad_request(format!("{entry:?} is not an entry number")))?;
    let not_found =
        || JsonError::not_found(format!("no statement {index} (or not shared with you)"));
    if index >= meta.size {
        return Err(not_found());
    }
    let bytes = api
        .scitt
        .statement(LeafIndex::new(index))
        .map_err(|_| not_found())?;
    let st = scitt::SignedStatement::parse(&bytes).map_err(|_| not_found())?;
    let store = api.projector.store();
    let issuer = StakeholderId(st.issuer().to_string());
    let payload: Option<Value> = st.payload().and_then(|p| serde_json::from_slice(p).ok());
    let kind = payload
        .as_ref()
        .and_then(|p| p.get("type"))
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let refused = store.refusal(index).map_err(JsonError::internal)?;
    // Statements about devices follow the device's policies; registry and
    // release statements (about stakeholders and models) are public records.
    let mut audit = Audit::default();
    let mut shown = payload.clone();
    let mut status = None;
    let mut issuer = issuer;
    let mut signed_by = None;
    if let Some(device) = DeviceId::from_subject(st.subject()) {
        let twin = store
            .twin(&device)
            .map_err(JsonError::internal)?
            .ok_or_else(not_found)?;
        let claim = store.claim(index).map_err(JsonError::internal)?;
        // A statement signed by the service on a stakeholder's behalf is
        // that stakeholder's data.
        if let Some(c) = &claim {
            if c.signed_by.is_some() {
                signed_by = c.signed_by.clone();
                issuer = c.issuer.clone();
            }
        }
        let seen = reader.decide(&twin, &issuer, &kind).ok_or_else(not_found)?;
        shown = payload
            .as_ref()
            .map(|p| twin::sharing::redact(p, seen.fields.as_deref()));
        if let Some(c) = &claim {
            status = status_of(&meta.policy, c);
        }
        audit.note(&issuer, seen, index, Some(&device));
    }
    audit.write(&api, &reader.who, ReadKind::Statement, None)?;
    Ok(Json(json!({
        "entry": index,
        "issuer": issuer.0,
        "signed_by": signed_by.map(|s| s.0),
        "subject": st.subject(),
        "type": kind,
        "statement": shown,
        "status": status,
        "refused": refused,
        "receipt": format!("/entries/{index}"),
        "as_of": meta.size,
    })))
}

/// A hash envelope with its payload, registered together.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RegisterBody {
    /// The COSE_Sign1 hash envelope, base64.
    statement: String,
    /// The payload it commits to, base64 (kept beside the log, never in it).
    payload: String,
}

/// `POST /api/v1/statements`: registers a confidential statement (a hash
/// envelope) with its payload. The signature is the authentication, as for
/// SCRAPI; the payload is then served only under the owner's policy.
async fn register_statement(
    State(api): State<TwinApi>,
    body: Result<Json<RegisterBody>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let Json(body) = body.map_err(|e| JsonError::bad_request(e.body_text()))?;
    let b64 = |what: &str, s: &str| {
        base64::engine::general_purpose::STANDARD
            .decode(s)
            .map_err(|e| JsonError::bad_request(format!("{what} is not base64: {e}")))
    };
    let statement = b64("statement", &body.statement)?;
    let payload = b64("payload", &body.payload)?;
    match api.scitt.register_with_payload(statement, &payload).await {
        Ok(r) => Ok((
            StatusCode::CREATED,
            Json(json!({
                "entry": r.index.get(),
                "duplicate": r.duplicate,
                "receipt": format!("/entries/{}", r.index.get()),
            })),
        )),
        Err(transparency::RegisterError::Append(e)) => Err(JsonError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            e.to_string(),
        )),
        Err(e @ transparency::RegisterError::PayloadNotKept(_)) => Err(JsonError::new(
            StatusCode::INSUFFICIENT_STORAGE,
            "insufficient_storage",
            e.to_string(),
        )),
        Err(e) => Err(JsonError::new(
            StatusCode::BAD_REQUEST,
            "refused",
            e.to_string(),
        )),
    }
}

#[derive(Serialize)]
struct ReadsPage {
    reads: Vec<Value>,
    next_page_token: Option<String>,
}

async fn reads(
    State(api): State<TwinApi>,
    Caller(claims): Caller,
    Query(q): Query<BTreeMap<String, String>>,
) -> ApiResult<Json<ReadsPage>> {
    let size = page_size(&q)?;
    let after = match q.get("page_token") {
        Some(t) => {
            let s = decode_token(t)?;
            let parsed = s
                .split_once('.')
                .and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)));
            Some(parsed.ok_or_else(|| {
                JsonError::bad_request("page_token is not a token this API issued")
            })?)
        }
        None => None,
    };
    // Another owner's records are listed only as its transparency policy says.
    let owner = match q.get("owner") {
        Some(o) if *o != claims.stakeholder => {
            let caller = StakeholderId(claims.stakeholder.clone());
            let meta = api.projector.meta();
            let admitted = meta
                .published
                .transparency(&StakeholderId(o.clone()))
                .is_some_and(|p| p.admits(Some(&caller)));
            if !admitted {
                return Err(JsonError::forbidden(format!(
                    "the transparency policy of {o:?} does not let {} list its read records",
                    claims.stakeholder
                )));
            }
            o.clone()
        }
        _ => claims.stakeholder.clone(),
    };
    let side = api
        .projector
        .payloads()
        .ok_or_else(|| JsonError::internal("this node keeps no read records"))?;
    let records = side
        .reads(&owner, after, size)
        .map_err(JsonError::internal)?;
    let next = (records.len() >= size)
        .then(|| {
            records
                .last()
                .map(|((t, s), _)| encode_token(&format!("{t}.{s}")))
        })
        .flatten();
    let reads = records
        .into_iter()
        .filter_map(|(_, v)| serde_json::from_slice(&v).ok())
        .collect();
    Ok(Json(ReadsPage {
        reads,
        next_page_token: next,
    }))
}

/// The OpenAPI 3 document of `/api/v1`, SCRAPI and the token endpoint.
pub const OPENAPI: &str = include_str!("openapi.json");

//! A drop-in for DataTrails (Jitsuin Archivist) clients: the Archivist v2
//! REST surface under `/archivist/`, as the official Python SDK
//! (`datatrails-archivist`) calls it, mapped onto the security twins.
//!
//! * Assets are twins: asset `assets/<uuid>` is the device `<uuid>`
//!   (subject `device:<uuid>`); creating one registers a `device-registered`
//!   statement and a `NewAsset` `archivist-event` carrying its attributes.
//!   Every twin shows as an asset, including those registered natively.
//! * Events are statements: `archivist-event` statements (and, read-only,
//!   the twin's native statements, with their type as the operation).
//!   `asset_attributes` of events update the asset's attributes, which the
//!   projection keeps on the twin (so `reindex` rebuilds them).
//! * Everything written is signed by the service (the registry authority)
//!   *on behalf of* the caller's stakeholder (`on_behalf_of`); the projection
//!   treats the stakeholder as the issuer for every check and marks the
//!   claim as service-signed.
//! * Reads decide per statement with the owner's sharing policy, like
//!   `/api/v1`, and record reads of another organization's data.
//! * Blobs are kept content-addressed under `DATA/archivist/blobs`; the log
//!   holds their hashes through the events that reference them. Locations,
//!   subjects and access policies are per-stakeholder service configuration
//!   in `DATA/archivist/*.json`; saving an access policy publishes the
//!   stakeholder's sharing policy derived from all its access policies.
//!
//! Errors answer `{"code", "message", "details"}` (DataTrails' shape) with
//! the status the SDK maps to its exceptions (400, 401, 403, 404).
//! See `docs/design/archivist.md` for the mapping, field by field.

use std::collections::BTreeMap;
use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use twin::projection::{Claim, Twin};
use twin::sharing::ReadKind;
use twin::{DeviceId, Meta, StakeholderId};

use crate::oauth::{Caller, MaybeCaller};
use crate::twin_api::{
    caller_id, decode_token, encode_token, now_ms, Audit, Reader, Seen, TwinApi,
};

/// Signs a statement payload (JSON bytes) about a subject as the registry
/// authority (the node's key stays in the binary): attached for
/// [`Disclosure::Public`], a COSE hash envelope over the payload for
/// [`Disclosure::Private`].
pub type AuthoritySigner = Arc<dyn Fn(&str, &[u8], Disclosure) -> Vec<u8> + Send + Sync>;

/// Who may read a statement the service registers for a client, and so how
/// it enters the log (which anyone may mirror).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disclosure {
    /// Readable by anyone (a public asset's creator's statements, sharing
    /// policies): the payload is attached, in the log.
    Public,
    /// Readable only under the owner's sharing policy: the log holds a hash
    /// envelope (the digest of a salted payload), and the payload is kept
    /// beside the log and served through the API only.
    Private,
}

/// Random bytes of the salt of a private payload (128 bits).
const SALT_RANDOM_BYTES: usize = 16;

/// Largest blob, in bytes (DataTrails' limit is larger; photos and SBOMs fit).
pub const BLOB_BYTES_MAX: usize = 32 * 1024 * 1024;
/// Largest JSON body of an asset or event, in bytes (a statement payload is
/// at most `twin::statement::PAYLOAD_BYTES_MAX`).
pub const JSON_BODY_BYTES_MAX: usize = 256 * 1024;
/// Largest page.
pub const PAGE_SIZE_MAX: usize = 1000;
/// Page size when none is asked for.
pub const PAGE_SIZE_DEFAULT: usize = 100;
/// Devices examined at most to answer one list or count.
pub const SCAN_DEVICES_MAX: usize = 100_000;
/// Most items of one side-store collection per stakeholder.
pub const SIDE_ITEMS_MAX: usize = 10_000;
/// How long a write waits for its statements to be projected.
pub const PROJECTED_WAIT_S_MAX: u64 = 30;
/// The asset attribute recording `"public": true` (shown as `public`).
const PUBLIC_ATTRIBUTE: &str = "sectwin_public";

/// The state of the `/archivist` routes.
#[derive(Clone)]
pub struct ArchivistApi {
    twins: TwinApi,
    sign: AuthoritySigner,
    dir: PathBuf,
    side: Arc<parking_lot::Mutex<()>>,
    limits: twin_store::StorageLimits,
    /// Blob bytes kept per stakeholder (from the blobs' info files at start,
    /// then counted as uploads are written), for the quota.
    blob_usage: Arc<parking_lot::Mutex<BTreeMap<String, u64>>>,
}

impl ArchivistApi {
    /// The Archivist API over `twins`, writing statements signed by `sign`,
    /// keeping blobs and configuration under `dir` (created if absent).
    pub fn new(twins: TwinApi, sign: AuthoritySigner, dir: &FsPath) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir.join("blobs"))?;
        let blob_usage = blob_usage(&dir.join("blobs"))?;
        Ok(ArchivistApi {
            twins,
            sign,
            dir: dir.to_path_buf(),
            side: Arc::new(parking_lot::Mutex::new(())),
            limits: twin_store::StorageLimits::default(),
            blob_usage: Arc::new(parking_lot::Mutex::new(blob_usage)),
        })
    }

    /// The same API under other storage limits (blob quota, log reserve).
    pub fn with_limits(mut self, limits: twin_store::StorageLimits) -> Self {
        self.limits = limits;
        self
    }
}

/// Blob bytes per stakeholder, from the info files in `blobs`; removes the
/// temporary files an interrupted upload left behind.
fn blob_usage(blobs: &FsPath) -> std::io::Result<BTreeMap<String, u64>> {
    let mut usage = BTreeMap::new();
    for entry in std::fs::read_dir(blobs)? {
        let path = entry?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if name.contains(".tmp") {
            let _ = std::fs::remove_file(&path);
            continue;
        }
        if !name.ends_with(".json") {
            continue;
        }
        let Ok(info) = std::fs::read(&path).map(|b| serde_json::from_slice::<Value>(&b)) else {
            continue;
        };
        let Ok(info) = info else { continue };
        let (Some(tenant), Some(size)) = (
            info["tenant_identity"]
                .as_str()
                .and_then(|t| t.strip_prefix("tenant/")),
            info["size"].as_u64(),
        ) else {
            continue;
        };
        *usage.entry(tenant.to_string()).or_insert(0) += size;
    }
    Ok(usage)
}

impl axum::extract::FromRef<ArchivistApi> for Arc<crate::oauth::TokenEndpoint> {
    fn from_ref(api: &ArchivistApi) -> Arc<crate::oauth::TokenEndpoint> {
        api.twins.tokens.clone()
    }
}

/// The `/archivist` routes (mount at the root).
pub fn archivist_router(api: ArchivistApi) -> Router {
    let tokens =
        crate::oauth::token_routes(api.twins.tokens.clone(), "/archivist/iam/v1/appidp/token");
    Router::new()
        .route("/archivist/v2/assets", get(list_assets).post(create_asset))
        .route("/archivist/v2/assets/{id}", get(read_asset))
        .route(
            "/archivist/v2/assets/{id}/events",
            get(list_events).post(create_event),
        )
        .route("/archivist/v2/assets/{id}/events/{eid}", get(read_event))
        .route("/archivist/v2/publicassets", get(list_public_assets))
        .route("/archivist/v2/publicassets/{id}", get(read_public_asset))
        .route(
            "/archivist/v2/publicassets/{id}/events",
            get(list_public_events),
        )
        .route(
            "/archivist/v2/publicassets/{id}/events/{eid}",
            get(read_public_event),
        )
        .route(
            "/archivist/v1/blobs",
            post(upload_blob).layer(crate::problem::body_limit(BLOB_BYTES_MAX + 64 * 1024)),
        )
        .route("/archivist/v1/blobs/{id}", get(download_blob))
        .route("/archivist/v1/blobs/{id}/info", get(blob_info))
        .route(
            "/archivist/v2/locations",
            get(side_list::<0>).post(side_create::<0>),
        )
        .route(
            "/archivist/v2/locations/{id}",
            get(side_read::<0>)
                .patch(side_update::<0>)
                .delete(side_delete::<0>),
        )
        .route(
            "/archivist/iam/v1/subjects",
            get(side_list::<1>).post(side_create::<1>),
        )
        .route(
            "/archivist/iam/v1/subjects/{id}",
            get(side_read::<1>)
                .patch(side_update::<1>)
                .delete(side_delete::<1>),
        )
        .route(
            "/archivist/iam/v1/access_policies",
            get(side_list::<2>).post(side_create::<2>),
        )
        .route(
            "/archivist/iam/v1/access_policies/{id}",
            get(side_read::<2>)
                .patch(side_update::<2>)
                .delete(side_delete::<2>),
        )
        .route(
            "/archivist/iam/v1/access_policies/{id}/assets",
            get(policy_assets),
        )
        .route(
            "/archivist/iam/v1/assets/{id}/access_policies",
            get(asset_policies),
        )
        .layer(crate::problem::body_limit(JSON_BODY_BYTES_MAX))
        .with_state(api)
        .merge(tokens)
}

// ---------------------------------------------------------------- errors

/// An error in DataTrails' shape: `{"code", "message", "details"}` (gRPC
/// status codes, as its gateway answers).
#[derive(Debug)]
pub struct ArchivistError {
    status: StatusCode,
    message: String,
    retry_after_s: Option<u64>,
}

impl ArchivistError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ArchivistError {
            status,
            message: message.into(),
            retry_after_s: None,
        }
    }
    fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
    fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }
    fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, message)
    }
    /// 507 Insufficient Storage: a quota, the log's reserve, or a full disk.
    fn storage(e: twin_store::SpaceError) -> Self {
        match e {
            twin_store::SpaceError::Measure(detail) => Self::internal(detail),
            e => Self::new(StatusCode::INSUFFICIENT_STORAGE, e.to_string()),
        }
    }
    /// An I/O error: a full disk is 507 with the reason, anything else 500.
    fn io(e: std::io::Error) -> Self {
        if e.kind() == std::io::ErrorKind::StorageFull {
            Self::new(
                StatusCode::INSUFFICIENT_STORAGE,
                format!("the node's storage is full: {e}"),
            )
        } else {
            Self::internal(e)
        }
    }
    fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(%detail, "archivist: internal error");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
    }
}

impl IntoResponse for ArchivistError {
    fn into_response(self) -> Response {
        let code = match self.status {
            StatusCode::BAD_REQUEST => 3,
            StatusCode::NOT_FOUND => 5,
            StatusCode::FORBIDDEN => 7,
            StatusCode::UNAUTHORIZED => 16,
            StatusCode::SERVICE_UNAVAILABLE => 14,
            StatusCode::INSUFFICIENT_STORAGE => 8,
            _ => 13,
        };
        let mut response = (
            self.status,
            Json(json!({"code": code, "message": self.message, "details": []})),
        )
            .into_response();
        if let Some(s) = self.retry_after_s {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, HeaderValue::from(s));
        }
        response
    }
}

impl From<crate::twin_api::JsonError> for ArchivistError {
    fn from(e: crate::twin_api::JsonError) -> Self {
        let retry_after_s = e.retry_after_s();
        let (status, message) = e.parts();
        ArchivistError {
            retry_after_s,
            ..ArchivistError::new(status, message)
        }
    }
}

impl From<service::ServiceError> for ArchivistError {
    fn from(e: service::ServiceError) -> Self {
        ArchivistError::from(crate::twin_api::JsonError::from(e))
    }
}

type Res<T> = Result<T, ArchivistError>;

// ---------------------------------------------------------------- pure mapping

/// Current time as RFC 3339 (UTC, seconds).
fn rfc3339(ms: u64) -> String {
    let secs = ms / 1000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    )
}

/// A random (v4) UUID.
fn uuid4() -> String {
    use rand_core::RngCore;
    let mut b = [0u8; 16];
    rand_core::OsRng.fill_bytes(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// Whether `s` is a UUID as this API issues them (ids are path segments).
fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

/// The parameters of a list request: filters (normalized: `attributes[k]`
/// is `attributes.k`), page size, where to resume, whether to count.
#[derive(Debug, Clone, PartialEq)]
struct ListQuery {
    filters: Vec<(String, String)>,
    page_size: usize,
    after: Option<Value>,
}

/// Normalizes `attributes[k]` (and the event forms) to `attributes.k`.
fn normalize_key(k: &str) -> String {
    for prefix in ["attributes", "event_attributes", "asset_attributes"] {
        if let Some(rest) = k.strip_prefix(prefix) {
            if let Some(inner) = rest.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
                return format!("{prefix}.{inner}");
            }
        }
    }
    k.to_string()
}

/// Parses a list request's query. A `page_token` carries the original
/// filters and the position, so follow-up requests carry only the token
/// (and, as the SDK sends, the page size). `allowed` says which filter keys
/// (exact names, or prefixes ending with `.`) this list understands.
fn parse_list_query(raw: Option<&str>, allowed: &[&str]) -> Res<ListQuery> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw.unwrap_or(""))
        .map_err(|e| ArchivistError::bad_request(format!("query string: {e}")))?;
    let mut filters = Vec::new();
    let mut page_size = PAGE_SIZE_DEFAULT;
    let mut token = None;
    for (k, v) in pairs {
        match k.as_str() {
            "page_size" => {
                page_size = match v.parse::<usize>() {
                    Ok(n) if (1..=PAGE_SIZE_MAX).contains(&n) => n,
                    _ => {
                        return Err(ArchivistError::bad_request(format!(
                            "page_size must be an integer from 1 to {PAGE_SIZE_MAX}, not {v:?}"
                        )))
                    }
                }
            }
            "page_token" => token = Some(v),
            "order_by" => {}
            _ => {
                let key = normalize_key(&k);
                let known = allowed.iter().any(|a| {
                    if a.ends_with('.') {
                        key.starts_with(a) && key.len() > a.len()
                    } else {
                        key == *a
                    }
                });
                if !known {
                    return Err(ArchivistError::bad_request(format!(
                        "unknown filter {k:?}: this list filters on {}",
                        allowed.join(", ")
                    )));
                }
                filters.push((key, v));
            }
        }
    }
    if let Some(t) = token {
        let bad = || ArchivistError::bad_request("page_token is not a token this API issued");
        let text = decode_token(&t).map_err(|_| bad())?;
        let v: Value = serde_json::from_str(&text).map_err(|_| bad())?;
        let filters = v
            .get("f")
            .and_then(Value::as_array)
            .ok_or_else(bad)?
            .iter()
            .map(|p| {
                Some((
                    p.get(0)?.as_str()?.to_string(),
                    p.get(1)?.as_str()?.to_string(),
                ))
            })
            .collect::<Option<Vec<_>>>()
            .ok_or_else(bad)?;
        return Ok(ListQuery {
            filters,
            page_size,
            after: v.get("a").cloned(),
        });
    }
    Ok(ListQuery {
        filters,
        page_size,
        after: None,
    })
}

fn next_token(filters: &[(String, String)], after: Value) -> String {
    encode_token(&json!({"f": filters, "a": after}).to_string())
}

/// Whether a JSON value matches a filter value (strings exactly, other
/// values by their JSON text; `*` matches any value that is present).
fn value_matches(v: Option<&Value>, want: &str) -> bool {
    match v {
        None => false,
        Some(_) if want == "*" => true,
        Some(Value::String(s)) => s == want,
        Some(other) => serde_json::to_string(other).is_ok_and(|t| t == want),
    }
}

/// Whether `item` (an asset or event as served) meets every filter: a
/// dotted key looks one level into an object field.
fn matches_filters(item: &Value, filters: &[(String, String)]) -> bool {
    filters.iter().all(|(k, want)| match k.split_once('.') {
        Some((field, key)) => value_matches(item.get(field).and_then(|o| o.get(key)), want),
        None => value_matches(item.get(k.as_str()), want),
    })
}

// ---------------------------------------------------------------- views

/// Who reads, and whether the public endpoints are in use.
struct Viewer<'a> {
    reader: Reader<'a>,
    public: bool,
}

impl Viewer<'_> {
    /// What the viewer sees of `owner`'s statement of type `kind` about `twin`.
    fn decide(&self, twin: &Twin, owner: &StakeholderId, kind: &str) -> Option<Seen> {
        if self.public {
            if public_owner(twin).as_ref() == Some(owner) {
                return Some(Seen::archivist_public());
            }
            return None;
        }
        self.reader.decide(twin, owner, kind)
    }

    fn sees_device(&self, twin: &Twin) -> Option<Seen> {
        if self.public {
            return public_owner(twin).map(|_| Seen::archivist_public());
        }
        self.reader.sees_device(twin)
    }
}

/// The stakeholder that made an asset public, if one did (its creator).
fn public_owner(twin: &Twin) -> Option<StakeholderId> {
    let a = twin.asset_attributes.get(PUBLIC_ATTRIBUTE)?;
    (a.value == Value::Bool(true) && a.issuer == twin.manufacturer).then(|| a.issuer.clone())
}

fn status_of_entry(entry: u64, published: u64) -> &'static str {
    if entry < published {
        "CONFIRMED"
    } else {
        "PENDING"
    }
}

fn principal(who: &StakeholderId, meta: &Meta) -> Value {
    let name = meta
        .registry
        .get(who)
        .map_or_else(|| who.0.clone(), |s| s.name.clone());
    json!({"issuer": "sectwin", "subject": who.0, "display_name": name, "email": ""})
}

/// The asset of `twin` as `viewer` may see it (attributes each decided by
/// the sharing policy of the stakeholder that set it).
fn asset_json(
    viewer: &Viewer<'_>,
    twin: &Twin,
    audit: &mut Audit,
    published: u64,
    public_base: Option<&str>,
) -> Option<Value> {
    let seen = viewer.sees_device(twin)?;
    audit.note(
        &twin.manufacturer,
        seen,
        twin.registered_at,
        Some(&twin.device),
    );
    let mut attributes = Map::new();
    for (k, a) in &twin.asset_attributes {
        if k == PUBLIC_ATTRIBUTE {
            continue;
        }
        let Some(seen) = viewer.decide(twin, &a.issuer, "archivist-event") else {
            continue;
        };
        if seen
            .fields
            .as_ref()
            .is_some_and(|f| !f.iter().any(|f| f == "asset_attributes"))
        {
            continue;
        }
        audit.note(&a.issuer, seen, a.entry, Some(&twin.device));
        attributes.insert(k.clone(), a.value.clone());
    }
    // Twins registered natively show their identity in Archivist terms.
    for (k, v) in [
        ("arc_display_type", &twin.model),
        ("arc_serial_number", &twin.serial),
    ] {
        attributes
            .entry(k.to_string())
            .or_insert_with(|| Value::String(v.clone()));
    }
    let public = public_owner(twin).is_some();
    let identity = format!("assets/{}", twin.device);
    let mut v = json!({
        "identity": identity,
        "behaviours": ["RecordEvidence"],
        "attributes": attributes,
        "confirmation_status": status_of_entry(twin.updated_at, published),
        "tracked": if twin.lifecycle == twin::Lifecycle::Decommissioned { "NOT_TRACKED" } else { "TRACKED" },
        "owner": twin.owner.as_ref().unwrap_or(&twin.manufacturer).0,
        "at_time": rfc3339(now_ms()),
        "storage_integrity": "TENANT_STORAGE",
        "proof_mechanism": "MERKLE_LOG",
        "chain_id": "sectwin",
        "public": public,
        "tenant_identity": format!("tenant/{}", twin.manufacturer.0),
        "sectwin": {
            "device": twin.device.to_string(),
            "subject": twin.device.subject(),
            "manufacturer": twin.manufacturer.0,
            "lifecycle": twin.lifecycle,
            "firmware": twin.firmware,
            "registered_at": twin.registered_at,
            "receipt": format!("/entries/{}", twin.registered_at),
            "twin": format!("/api/v1/devices/{}", twin.device.to_string()),
        },
    });
    if let (true, Some(base)) = (public, public_base) {
        v["publicurl"] = json!(format!(
            "{base}/archivist/v2/publicassets/{}",
            twin.device.as_str()
        ));
    }
    Some(v)
}

/// Statement types not shown as events: the registration is the asset
/// itself; endorsements and disputes are about other statements.
fn is_event_type(kind: &str) -> bool {
    !matches!(kind, "device-registered" | "endorse" | "dispute")
}

/// An event from a claim as `seen` allows.
fn event_json(twin: &Twin, claim: &Claim, seen: &Seen, meta: &Meta, published: u64) -> Value {
    let wire = twin::sharing::redact(&claim.body.to_wire(), seen.fields.as_deref());
    let get = |k: &str| wire.get(k).cloned();
    let (operation, behaviour, event_attributes, asset_attributes) =
        if claim.body.kind() == "archivist-event" {
            (
                get("operation").unwrap_or(Value::Null),
                get("behaviour").unwrap_or(Value::Null),
                get("event_attributes").unwrap_or_else(|| json!({})),
                get("asset_attributes").unwrap_or_else(|| json!({})),
            )
        } else {
            let mut attrs = wire.as_object().cloned().unwrap_or_default();
            attrs.remove("type");
            attrs.insert("sectwin_type".into(), json!(claim.body.type_name()));
            (
                json!(claim.body.type_name()),
                json!("RecordEvidence"),
                Value::Object(attrs),
                json!({}),
            )
        };
    let accepted = principal(&claim.issuer, meta);
    let timestamp_accepted = get("timestamp_accepted").unwrap_or(Value::Null);
    json!({
        "identity": format!("assets/{}/events/{}", twin.device.to_string(), claim.entry),
        "asset_identity": format!("assets/{}", twin.device.to_string()),
        "operation": operation,
        "behaviour": behaviour,
        "event_attributes": event_attributes,
        "asset_attributes": asset_attributes,
        "timestamp_accepted": timestamp_accepted,
        "timestamp_declared": get("timestamp_declared").filter(|v| !v.is_null()).unwrap_or(timestamp_accepted.clone()),
        "timestamp_committed": timestamp_accepted,
        "principal_declared": get("principal_declared").filter(|v| !v.is_null()).unwrap_or(accepted.clone()),
        "principal_accepted": accepted,
        "confirmation_status": status_of_entry(claim.entry, published),
        "transaction_id": "",
        "block_number": 0,
        "transaction_index": 0,
        "from": claim.issuer.0,
        "tenant_identity": format!("tenant/{}", claim.issuer.0),
        "merklelog_entry": {"commit": {"index": claim.entry}},
        "signed_by_service": claim.signed_by.is_some(),
        "sectwin": {
            "entry": claim.entry,
            "type": claim.body.type_name(),
            "issuer": claim.issuer.0,
            "signed_by": claim.signed_by.as_ref().map(|s| s.0.clone()),
            "receipt": format!("/entries/{}", claim.entry),
        },
    })
}

// ---------------------------------------------------------------- helpers

/// The device named by an asset path segment (`<uuid>` or `<uuid>:publicurl`).
fn device_of(id: &str) -> Result<(DeviceId, bool), ArchivistError> {
    let (device, publicurl) = match id.strip_suffix(":publicurl") {
        Some(d) => (d, true),
        None => (id, false),
    };
    let device = DeviceId::new(device)
        .map_err(|e| ArchivistError::not_found(format!("no asset {id:?}: {e}")))?;
    Ok((device, publicurl))
}

fn base_url(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    format!("http://{host}")
}

fn wants_count(headers: &HeaderMap) -> bool {
    headers
        .get("x-request-total-count")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

fn with_count(body: Value, count: Option<u64>) -> Response {
    let mut r = Json(body).into_response();
    if let Some(n) = count {
        if let Ok(v) = HeaderValue::from_str(&n.to_string()) {
            r.headers_mut().insert("x-total-count", v);
        }
    }
    r
}

fn load_twin(api: &ArchivistApi, device: &DeviceId) -> Res<Option<Twin>> {
    api.twins
        .projector
        .store()
        .twin(device)
        .map_err(ArchivistError::internal)
}

fn parse_object(body: &[u8], what: &str) -> Res<Map<String, Value>> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(ArchivistError::bad_request(format!(
            "the {what} body must be a JSON object"
        ))),
        Err(e) => Err(ArchivistError::bad_request(format!(
            "the {what} body is not JSON: {e}"
        ))),
    }
}

/// A salt for a private payload ([`twin::statement::SALT`]).
fn salt() -> String {
    use base64::Engine as _;
    use rand_core::RngCore;
    let mut b = [0u8; SALT_RANDOM_BYTES];
    rand_core::OsRng.fill_bytes(&mut b);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

/// Registers a statement signed by the authority on `caller`'s behalf and
/// waits until it is projected; answers its entry. A private statement
/// enters the log as a hash envelope over its salted payload, and the
/// payload is kept beside the log (under the caller's payload quota).
async fn register_delegated(
    api: &ArchivistApi,
    caller: &StakeholderId,
    subject: &str,
    mut payload: Value,
    disclosure: Disclosure,
) -> Res<u64> {
    payload["on_behalf_of"] = json!(caller.0);
    if disclosure == Disclosure::Private {
        payload[twin::statement::SALT] = json!(salt());
    }
    let bytes = serde_json::to_vec(&payload).map_err(ArchivistError::internal)?;
    let statement = (api.sign)(subject, &bytes, disclosure);
    let registered = match disclosure {
        Disclosure::Public => api.twins.scitt.register(statement).await,
        Disclosure::Private => {
            api.twins
                .scitt
                .register_with_payload(statement, &bytes)
                .await
        }
    };
    let registered = registered.map_err(|e| match e {
        transparency::RegisterError::Refused(why) => {
            if why.contains("may not")
                || why.contains("manufacturer")
                || why.contains("no role")
                || why.contains("delegation")
            {
                ArchivistError::forbidden(why)
            } else {
                ArchivistError::bad_request(why)
            }
        }
        transparency::RegisterError::Append(log_service::AppendError::ReadOnly(why))
            if api.twins.scitt.log().fault().is_some() =>
        {
            log_stopped(&why)
        }
        e @ transparency::RegisterError::PayloadNotKept(_) => {
            ArchivistError::new(StatusCode::INSUFFICIENT_STORAGE, e.to_string())
        }
        other => ArchivistError::internal(other),
    })?;
    let entry = registered.index.get();
    let projected = api
        .twins
        .projector
        .wait_projected(
            entry + 1,
            std::time::Duration::from_secs(PROJECTED_WAIT_S_MAX),
        )
        .await;
    if !projected {
        // The real reason, not "read it again shortly": a log that stopped
        // writing (a full disk) publishes nothing until it recovers.
        if let Some(why) = api.twins.scitt.log().fault() {
            return Err(log_stopped(&format!(
                "entry {entry} is durable but not yet published: {why}"
            )));
        }
        if let Some(why) = api.twins.projector.fault() {
            return Err(ArchivistError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("entry {entry} is registered, but projecting stopped: {why}"),
            ));
        }
        return Err(ArchivistError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("entry {entry} is registered but not projected yet; read it again shortly"),
        ));
    }
    if let Some(why) = api
        .twins
        .projector
        .store()
        .refusal(entry)
        .map_err(ArchivistError::internal)?
    {
        return Err(ArchivistError::bad_request(format!(
            "entry {entry} was refused by the twins: {why}"
        )));
    }
    Ok(entry)
}

/// The log stopped writing (read-only after a storage error): 507 with the
/// reason when the storage is full or failing, as it then is.
fn log_stopped(why: &str) -> ArchivistError {
    ArchivistError::new(
        StatusCode::INSUFFICIENT_STORAGE,
        format!("the log is read-only after a storage error, so nothing can be registered until it recovers: {why}"),
    )
}

fn string_attr<'a>(attrs: &'a Map<String, Value>, keys: &[&str]) -> Option<&'a str> {
    keys.iter()
        .find_map(|k| attrs.get(*k).and_then(Value::as_str))
        .filter(|s| !s.is_empty())
}

// ---------------------------------------------------------------- assets

async fn create_asset(
    State(api): State<ArchivistApi>,
    Caller(claims): Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Res<Response> {
    let caller = StakeholderId(claims.stakeholder.clone());
    let mut body = parse_object(&body, "asset")?;
    for k in body.keys() {
        if !matches!(
            k.as_str(),
            "behaviours"
                | "attributes"
                | "public"
                | "storage_integrity"
                | "proof_mechanism"
                | "chain_id"
        ) {
            return Err(ArchivistError::bad_request(format!(
                "unknown asset field {k:?} (expected behaviours, attributes, public, proof_mechanism, storage_integrity)"
            )));
        }
    }
    let mut attrs = match body.remove("attributes") {
        Some(Value::Object(m)) => m,
        Some(_) => return Err(ArchivistError::bad_request("attributes must be an object")),
        None => return Err(ArchivistError::bad_request("an asset needs attributes")),
    };
    if let Some(b) = body.get("behaviours") {
        if !b.as_array().is_some_and(|a| a.iter().all(Value::is_string)) {
            return Err(ArchivistError::bad_request(
                "behaviours must be a list of strings",
            ));
        }
    }
    let public = match body.get("public") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(ArchivistError::bad_request("public must be true or false")),
    };
    if attrs.contains_key(PUBLIC_ATTRIBUTE) {
        return Err(ArchivistError::bad_request(format!(
            "{PUBLIC_ATTRIBUTE} is reserved: use \"public\": true"
        )));
    }
    let uuid = uuid4();
    let subject = format!("device:{uuid}");
    let meta = api.twins.projector.meta();
    let manufacturer = string_attr(&attrs, &["arc_manufacturer"])
        .map(str::to_string)
        .unwrap_or_else(|| {
            meta.registry
                .get(&caller)
                .map_or_else(|| caller.0.clone(), |s| s.name.clone())
        });
    let registered = json!({
        "type": "device-registered",
        "manufacturer": manufacturer,
        "model": string_attr(&attrs, &["arc_model", "arc_display_type"]).unwrap_or("asset"),
        "serial": string_attr(&attrs, &["arc_serial_number"]).unwrap_or(&uuid),
    });
    let disclosure = if public {
        Disclosure::Public
    } else {
        Disclosure::Private
    };
    register_delegated(&api, &caller, &subject, registered, disclosure).await?;
    if public {
        attrs.insert(PUBLIC_ATTRIBUTE.into(), Value::Bool(true));
    }
    let event = json!({
        "type": "archivist-event",
        "operation": "NewAsset",
        "behaviour": "AssetCreator",
        "event_attributes": {},
        "asset_attributes": attrs,
        "timestamp_accepted": rfc3339(now_ms()),
    });
    register_delegated(&api, &caller, &subject, event, disclosure).await?;
    let device = DeviceId::new(uuid.clone()).map_err(ArchivistError::internal)?;
    let twin = load_twin(&api, &device)?
        .ok_or_else(|| ArchivistError::internal("created asset not projected"))?;
    let meta = api.twins.projector.meta();
    let viewer = Viewer {
        reader: api.twins.reads.reader(Some(caller.clone()), &meta),
        public: false,
    };
    let published = api.twins.scitt.log().published().size.get();
    let mut audit = Audit::default();
    let asset = asset_json(
        &viewer,
        &twin,
        &mut audit,
        published,
        Some(&base_url(&headers)),
    )
    .ok_or_else(|| ArchivistError::internal("created asset not visible to its creator"))?;
    republish_access_policies(&api, &caller).await?;
    Ok(Json(asset).into_response())
}

async fn read_asset(
    State(api): State<ArchivistApi>,
    caller: MaybeCaller,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Res<Response> {
    read_asset_as(&api, caller_id(&caller), false, &headers, &id)
}

async fn read_public_asset(
    State(api): State<ArchivistApi>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Res<Response> {
    read_asset_as(&api, None, true, &headers, &id)
}

fn read_asset_as(
    api: &ArchivistApi,
    who: Option<StakeholderId>,
    public: bool,
    headers: &HeaderMap,
    id: &str,
) -> Res<Response> {
    let (device, publicurl) = device_of(id)?;
    let not_found = || ArchivistError::not_found(format!("assets/{} not found", device));
    let twin = load_twin(api, &device)?.ok_or_else(not_found)?;
    let meta = api.twins.projector.meta();
    let viewer = Viewer {
        reader: api.twins.reads.reader(who, &meta),
        public,
    };
    let published = api.twins.scitt.log().published().size.get();
    let mut audit = Audit::default();
    let base = base_url(headers);
    let asset =
        asset_json(&viewer, &twin, &mut audit, published, Some(&base)).ok_or_else(not_found)?;
    audit.write(&api.twins.reads, &viewer.reader.who, ReadKind::Twin, None)?;
    if publicurl {
        let url = asset
            .get("publicurl")
            .cloned()
            .ok_or_else(|| ArchivistError::not_found(format!("assets/{} is not public", device)))?;
        return Ok(Json(json!({ "publicurl": url })).into_response());
    }
    Ok(Json(asset).into_response())
}

const ASSET_FILTERS: &[&str] = &[
    "attributes.",
    "confirmation_status",
    "tracked",
    "public",
    "owner",
];

async fn list_assets(
    State(api): State<ArchivistApi>,
    caller: MaybeCaller,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Res<Response> {
    list_assets_as(
        &api,
        caller_id(&caller),
        false,
        &headers,
        q.as_deref(),
        |_| true,
    )
}

async fn list_public_assets(
    State(api): State<ArchivistApi>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Res<Response> {
    list_assets_as(&api, None, true, &headers, q.as_deref(), |_| true)
}

/// Every asset the viewer sees that meets the query and `keep`, one page
/// (or the count when asked), in device id order.
fn list_assets_as(
    api: &ArchivistApi,
    who: Option<StakeholderId>,
    public: bool,
    headers: &HeaderMap,
    raw: Option<&str>,
    keep: impl Fn(&Twin) -> bool,
) -> Res<Response> {
    let q = parse_list_query(raw, ASSET_FILTERS)?;
    let label = if public { "publicassets" } else { "assets" };
    let meta = api.twins.projector.meta();
    let viewer = Viewer {
        reader: api.twins.reads.reader(who, &meta),
        public,
    };
    let published = api.twins.scitt.log().published().size.get();
    let base = base_url(headers);
    let count = wants_count(headers);
    let store = api.twins.projector.store();
    let mut cursor: Option<String> = q.after.as_ref().and_then(Value::as_str).map(String::from);
    let mut audit = Audit::default();
    let mut items = Vec::new();
    let mut total = 0u64;
    let mut next = None;
    let mut scanned = 0usize;
    'scan: loop {
        let batch = store
            .devices(cursor.as_deref(), 256)
            .map_err(ArchivistError::internal)?;
        if batch.is_empty() {
            break;
        }
        for twin in batch {
            scanned += 1;
            cursor = Some(twin.device.to_string());
            if scanned > SCAN_DEVICES_MAX || !keep(&twin) {
                continue;
            }
            let mut seen = Audit::default();
            let Some(asset) = asset_json(&viewer, &twin, &mut seen, published, Some(&base)) else {
                continue;
            };
            if !matches_filters(&asset, &q.filters) {
                continue;
            }
            total += 1;
            if count {
                continue;
            }
            if items.len() == q.page_size {
                next = Some(next_token(&q.filters, json!(items_last_device(&items))));
                break 'scan;
            }
            audit.merge(seen);
            items.push(asset);
        }
    }
    let who = viewer.reader.who.clone();
    if count {
        audit.write(&api.twins.reads, &who, ReadKind::Count, Some(total))?;
        return Ok(with_count(
            json!({ label: [] , "next_page_token": ""}),
            Some(total),
        ));
    }
    audit.write(&api.twins.reads, &who, ReadKind::List, None)?;
    Ok(with_count(
        json!({ label: items, "next_page_token": next.unwrap_or_default() }),
        None,
    ))
}

fn items_last_device(items: &[Value]) -> String {
    items
        .last()
        .and_then(|a| a.get("identity"))
        .and_then(Value::as_str)
        .and_then(|s| s.strip_prefix("assets/"))
        .unwrap_or_default()
        .to_string()
}

// ---------------------------------------------------------------- events

const EVENT_FILTERS: &[&str] = &[
    "event_attributes.",
    "asset_attributes.",
    "operation",
    "behaviour",
    "confirmation_status",
    "asset_identity",
    "from",
    "signed_by_service",
];

async fn create_event(
    State(api): State<ArchivistApi>,
    Caller(claims): Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> Res<Response> {
    let caller = StakeholderId(claims.stakeholder.clone());
    let (device, _) = device_of(&id)?;
    let mut body = parse_object(&body, "event")?;
    let mut payload = Map::new();
    payload.insert("type".into(), json!("archivist-event"));
    for (k, v) in std::mem::take(&mut body) {
        match (k.as_str(), &v) {
            ("operation" | "behaviour", Value::String(s)) if !s.is_empty() => {
                payload.insert(k, v);
            }
            ("event_attributes" | "asset_attributes", Value::Object(_)) => {
                payload.insert(k, v);
            }
            ("timestamp_declared", Value::String(_)) | ("principal_declared", Value::Object(_)) => {
                payload.insert(k, v);
            }
            ("operation" | "behaviour", _) => {
                return Err(ArchivistError::bad_request(format!(
                    "{k} must be a non-empty string"
                )))
            }
            ("event_attributes" | "asset_attributes" | "principal_declared", _) => {
                return Err(ArchivistError::bad_request(format!("{k} must be an object")))
            }
            ("timestamp_declared", _) => {
                return Err(ArchivistError::bad_request(
                    "timestamp_declared must be an RFC 3339 string",
                ))
            }
            _ => {
                return Err(ArchivistError::bad_request(format!(
                    "unknown event field {k:?} (expected operation, behaviour, event_attributes, asset_attributes, timestamp_declared, principal_declared)"
                )))
            }
        }
    }
    for k in ["operation", "behaviour"] {
        if !payload.contains_key(k) {
            return Err(ArchivistError::bad_request(format!("an event needs {k}")));
        }
    }
    if payload
        .get("asset_attributes")
        .is_some_and(|a| a.get(PUBLIC_ATTRIBUTE).is_some())
    {
        return Err(ArchivistError::bad_request(format!(
            "{PUBLIC_ATTRIBUTE} is reserved"
        )));
    }
    payload.insert("timestamp_accepted".into(), json!(rfc3339(now_ms())));
    let not_found = || ArchivistError::not_found(format!("assets/{} not found", device));
    let twin = load_twin(&api, &device)?.ok_or_else(not_found)?;
    {
        let meta = api.twins.projector.meta();
        let reader = api.twins.reads.reader(Some(caller.clone()), &meta);
        reader.sees_device(&twin).ok_or_else(not_found)?;
    }
    // Public only where the API serves it to anyone: a public asset's
    // creator's events.
    let disclosure = if public_owner(&twin).as_ref() == Some(&caller) {
        Disclosure::Public
    } else {
        Disclosure::Private
    };
    let entry = register_delegated(
        &api,
        &caller,
        &device.subject(),
        Value::Object(payload),
        disclosure,
    )
    .await?;
    let claim = api
        .twins
        .projector
        .store()
        .claim(entry)
        .map_err(ArchivistError::internal)?
        .ok_or_else(|| ArchivistError::internal("event not projected"))?;
    let meta = api.twins.projector.meta();
    let published = api.twins.scitt.log().published().size.get();
    let seen = api
        .twins
        .reads
        .reader(Some(caller.clone()), &meta)
        .decide(&twin, &claim.issuer, "archivist-event")
        .ok_or_else(|| ArchivistError::internal("event not visible to its issuer"))?;
    Ok(Json(event_json(&twin, &claim, &seen, &meta, published)).into_response())
}

async fn read_event(
    State(api): State<ArchivistApi>,
    caller: MaybeCaller,
    Path((id, eid)): Path<(String, String)>,
) -> Res<Response> {
    read_event_as(&api, caller_id(&caller), false, &id, &eid)
}

async fn read_public_event(
    State(api): State<ArchivistApi>,
    Path((id, eid)): Path<(String, String)>,
) -> Res<Response> {
    read_event_as(&api, None, true, &id, &eid)
}

fn read_event_as(
    api: &ArchivistApi,
    who: Option<StakeholderId>,
    public: bool,
    id: &str,
    eid: &str,
) -> Res<Response> {
    let (device, _) = device_of(id)?;
    let (eid, publicurl) = match eid.strip_suffix(":publicurl") {
        Some(e) => (e, true),
        None => (eid, false),
    };
    let not_found =
        || ArchivistError::not_found(format!("assets/{}/events/{eid} not found", device));
    let entry: u64 = eid.parse().map_err(|_| not_found())?;
    let twin = load_twin(api, &device)?.ok_or_else(not_found)?;
    let claim = api
        .twins
        .projector
        .store()
        .claim(entry)
        .map_err(ArchivistError::internal)?
        .filter(|c| c.device == device && is_event_type(c.body.kind()))
        .ok_or_else(not_found)?;
    let meta = api.twins.projector.meta();
    let viewer = Viewer {
        reader: api.twins.reads.reader(who, &meta),
        public,
    };
    viewer.sees_device(&twin).ok_or_else(not_found)?;
    let seen = viewer
        .decide(&twin, &claim.issuer, claim.body.type_name())
        .ok_or_else(not_found)?;
    let published = api.twins.scitt.log().published().size.get();
    let mut audit = Audit::default();
    audit.note(&claim.issuer, seen.clone(), entry, Some(&device));
    audit.write(
        &api.twins.reads,
        &viewer.reader.who,
        ReadKind::Statement,
        None,
    )?;
    if publicurl {
        if public_owner(&twin).is_none() {
            return Err(ArchivistError::not_found(format!(
                "assets/{} is not public",
                device.as_str()
            )));
        }
        return Ok(Json(json!({
            "publicurl": format!("/archivist/v2/publicassets/{}/events/{entry}", device.to_string())
        }))
        .into_response());
    }
    Ok(Json(event_json(&twin, &claim, &seen, &meta, published)).into_response())
}

async fn list_events(
    State(api): State<ArchivistApi>,
    caller: MaybeCaller,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Res<Response> {
    list_events_as(&api, caller_id(&caller), false, &headers, &id, q.as_deref())
}

async fn list_public_events(
    State(api): State<ArchivistApi>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Res<Response> {
    if id == "-" {
        return Err(ArchivistError::new(
            StatusCode::UNAUTHORIZED,
            "public event lists need an asset",
        ));
    }
    list_events_as(&api, None, true, &headers, &id, q.as_deref())
}

/// Events of one asset, or of every asset (`-`), in (device, entry) order.
fn list_events_as(
    api: &ArchivistApi,
    who: Option<StakeholderId>,
    public: bool,
    headers: &HeaderMap,
    id: &str,
    raw: Option<&str>,
) -> Res<Response> {
    let q = parse_list_query(raw, EVENT_FILTERS)?;
    let meta = api.twins.projector.meta();
    let viewer = Viewer {
        reader: api.twins.reads.reader(who, &meta),
        public,
    };
    let published = api.twins.scitt.log().published().size.get();
    let count = wants_count(headers);
    let store = api.twins.projector.store();
    // Position: [device, entry] of the last event served.
    let (mut dev_cursor, mut entry_cursor) = match &q.after {
        Some(Value::Array(a)) => (
            a.first().and_then(Value::as_str).map(String::from),
            a.get(1).and_then(Value::as_u64),
        ),
        _ => (None, None),
    };
    let single = if id == "-" {
        None
    } else {
        Some(device_of(id)?.0)
    };
    if let Some(d) = &single {
        let not_found = || ArchivistError::not_found(format!("assets/{} not found", d));
        let twin = load_twin(api, d)?.ok_or_else(not_found)?;
        viewer.sees_device(&twin).ok_or_else(not_found)?;
    }
    let mut audit = Audit::default();
    let mut items: Vec<Value> = Vec::new();
    let mut total = 0u64;
    let mut next = None;
    let mut scanned = 0usize;
    'devices: loop {
        let twins: Vec<Twin> = match &single {
            Some(d) => {
                if scanned > 0 {
                    break;
                }
                load_twin(api, d)?.into_iter().collect()
            }
            None => {
                // Resume inside the cursor's device first.
                let mut v = Vec::new();
                if let (Some(d), Some(_)) = (&dev_cursor, entry_cursor) {
                    if let Ok(d) = DeviceId::new(d.clone()) {
                        v.extend(load_twin(api, &d)?);
                    }
                }
                let after = dev_cursor.clone();
                v.extend(
                    store
                        .devices(after.as_deref(), 64)
                        .map_err(ArchivistError::internal)?,
                );
                if v.is_empty() {
                    break;
                }
                v
            }
        };
        if twins.is_empty() {
            break;
        }
        for twin in twins {
            scanned += 1;
            if scanned > SCAN_DEVICES_MAX {
                break 'devices;
            }
            let resume = if dev_cursor.as_deref() == Some(twin.device.as_str()) {
                entry_cursor
            } else {
                None
            };
            dev_cursor = Some(twin.device.to_string());
            entry_cursor = None;
            if viewer.sees_device(&twin).is_none() {
                continue;
            }
            let mut after = resume;
            loop {
                let batch = store
                    .history(&twin.device, after, 256)
                    .map_err(ArchivistError::internal)?;
                let more = batch.len() == 256;
                for (entry, kind, issuer) in batch {
                    after = Some(entry);
                    if !is_event_type(&kind) {
                        continue;
                    }
                    let Some(seen) = viewer.decide(&twin, &issuer, &kind) else {
                        continue;
                    };
                    let Some(claim) = store.claim(entry).map_err(ArchivistError::internal)? else {
                        continue;
                    };
                    let event = event_json(&twin, &claim, &seen, &meta, published);
                    if !matches_filters(&event, &q.filters) {
                        continue;
                    }
                    total += 1;
                    if count {
                        audit.note(&issuer, seen, entry, Some(&twin.device));
                        continue;
                    }
                    if items.len() == q.page_size {
                        let last = items.last().and_then(|e| e.get("sectwin")).cloned();
                        let last_entry = last
                            .as_ref()
                            .and_then(|s| s.get("entry"))
                            .and_then(Value::as_u64);
                        let last_dev = items
                            .last()
                            .and_then(|e| e.get("asset_identity"))
                            .and_then(Value::as_str)
                            .and_then(|s| s.strip_prefix("assets/"))
                            .map(String::from);
                        next = Some(next_token(&q.filters, json!([last_dev, last_entry])));
                        break 'devices;
                    }
                    audit.note(&issuer, seen, entry, Some(&twin.device));
                    items.push(event);
                }
                if !more {
                    break;
                }
            }
        }
        if single.is_some() {
            break;
        }
    }
    let who = viewer.reader.who.clone();
    if count {
        audit.write(&api.twins.reads, &who, ReadKind::Count, Some(total))?;
        return Ok(with_count(
            json!({"events": [], "next_page_token": ""}),
            Some(total),
        ));
    }
    audit.write(&api.twins.reads, &who, ReadKind::Timeline, None)?;
    Ok(with_count(
        json!({"events": items, "next_page_token": next.unwrap_or_default()}),
        None,
    ))
}

// ---------------------------------------------------------------- blobs

/// The single file part of a `multipart/form-data` body: (content type, bytes).
fn multipart_file<'a>(content_type: &str, body: &'a [u8]) -> Res<(Option<String>, &'a [u8])> {
    let bad = |why: &str| ArchivistError::bad_request(format!("multipart body: {why}"));
    let boundary = content_type
        .split(';')
        .map(str::trim)
        .find_map(|p| p.strip_prefix("boundary="))
        .map(|b| b.trim_matches('"'))
        .filter(|b| !b.is_empty())
        .ok_or_else(|| bad("Content-Type has no boundary (send multipart/form-data)"))?;
    let delim = format!("--{boundary}");
    let start = find(body, delim.as_bytes(), 0).ok_or_else(|| bad("no part"))?;
    let headers_start = start + delim.len() + 2;
    let headers_end =
        find(body, b"\r\n\r\n", headers_start).ok_or_else(|| bad("part headers do not end"))?;
    let part_headers =
        String::from_utf8_lossy(body.get(headers_start..headers_end).unwrap_or(&[])).to_string();
    let data_start = headers_end + 4;
    let end_delim = format!("\r\n--{boundary}");
    let data_end =
        find(body, end_delim.as_bytes(), data_start).ok_or_else(|| bad("the part does not end"))?;
    if !part_headers.to_ascii_lowercase().contains("name=\"file\"") {
        return Err(bad("the part must be the form field \"file\""));
    }
    let mime = part_headers.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim()
            .eq_ignore_ascii_case("content-type")
            .then(|| v.trim().to_string())
    });
    Ok((mime, body.get(data_start..data_end).unwrap_or(&[])))
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    hay.get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

fn blob_dir(api: &ArchivistApi) -> PathBuf {
    api.dir.join("blobs")
}

async fn upload_blob(
    State(api): State<ArchivistApi>,
    Caller(claims): Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Res<Response> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let (mime, data) = multipart_file(ct, &body)?;
    if data.len() > BLOB_BYTES_MAX {
        return Err(ArchivistError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("a blob holds at most {BLOB_BYTES_MAX} bytes"),
        ));
    }
    let hash = hex::encode(Sha256::digest(data));
    let id = uuid4();
    let info = json!({
        "identity": format!("blobs/{id}"),
        "hash": {"alg": "SHA256", "value": hash},
        "mime_type": mime.unwrap_or_else(|| "application/octet-stream".into()),
        "size": data.len(),
        "timestamp_accepted": rfc3339(now_ms()),
        "tenant_identity": format!("tenant/{}", claims.stakeholder),
    });
    let dir = blob_dir(&api);
    let size = data.len() as u64;
    // Quota and reserve first, under the lock that counts usage, so that
    // concurrent uploads cannot pass the check together.
    {
        let mut usage = api.blob_usage.lock();
        let used = usage.get(&claims.stakeholder).copied().unwrap_or(0);
        twin_store::space::check_quota(
            &claims.stakeholder,
            "blobs",
            used,
            size,
            api.limits.stakeholder_blob_bytes_max,
        )
        .and_then(|()| twin_store::space::check_reserve(&dir, size, api.limits.log_reserve_bytes))
        .map_err(ArchivistError::storage)?;
        *usage.entry(claims.stakeholder.clone()).or_insert(0) += size;
    }
    let data = data.to_vec();
    let info_bytes = serde_json::to_vec(&info).map_err(ArchivistError::internal)?;
    let written = tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        let content = dir.join(&hash);
        if !content.exists() {
            write_atomic(&content, &data)?;
        }
        // If this fails the content stays, unnamed: a concurrent upload of
        // the same content may already name it.
        write_atomic(&dir.join(format!("{id}.json")), &info_bytes)
    })
    .await
    .map_err(ArchivistError::internal)
    .and_then(|r| r.map_err(ArchivistError::io));
    if let Err(e) = written {
        if let Some(used) = api.blob_usage.lock().get_mut(&claims.stakeholder) {
            *used = used.saturating_sub(size);
        }
        return Err(e);
    }
    Ok(Json(info).into_response())
}

/// Writes `bytes` to `path` atomically and durably ([`durable::write`]).
fn write_atomic(path: &FsPath, bytes: &[u8]) -> std::io::Result<()> {
    durable::write(path, bytes)
}

/// The blob's info, if the caller may read it (its uploader's organization).
fn blob_meta(api: &ArchivistApi, caller: &str, id: &str) -> Res<Value> {
    let not_found = || ArchivistError::not_found(format!("blobs/{id} not found"));
    if !is_uuid(id) {
        return Err(not_found());
    }
    let bytes = std::fs::read(blob_dir(api).join(format!("{id}.json"))).map_err(|_| not_found())?;
    let info: Value = serde_json::from_slice(&bytes).map_err(ArchivistError::internal)?;
    if info.get("tenant_identity").and_then(Value::as_str) != Some(&format!("tenant/{caller}")) {
        return Err(not_found());
    }
    Ok(info)
}

async fn blob_info(
    State(api): State<ArchivistApi>,
    Caller(claims): Caller,
    Path(id): Path<String>,
) -> Res<Response> {
    Ok(Json(blob_meta(&api, &claims.stakeholder, &id)?).into_response())
}

async fn download_blob(
    State(api): State<ArchivistApi>,
    Caller(claims): Caller,
    Path(id): Path<String>,
) -> Res<Response> {
    let info = blob_meta(&api, &claims.stakeholder, &id)?;
    let hash = info
        .pointer("/hash/value")
        .and_then(Value::as_str)
        .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
        .ok_or_else(|| ArchivistError::internal("blob info without hash"))?
        .to_string();
    let data = tokio::fs::read(blob_dir(&api).join(&hash))
        .await
        .map_err(ArchivistError::internal)?;
    let mime = info
        .get("mime_type")
        .and_then(Value::as_str)
        .unwrap_or("application/octet-stream")
        .to_string();
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_str(&mime)
                .unwrap_or(HeaderValue::from_static("application/octet-stream")),
        )],
        data,
    )
        .into_response())
}

// ---------------------------------------------------------------- side store

/// Service configuration kept per stakeholder beside the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Coll {
    Locations,
    Subjects,
    AccessPolicies,
}

impl Coll {
    const fn from_u8(c: u8) -> Coll {
        match c {
            0 => Coll::Locations,
            1 => Coll::Subjects,
            _ => Coll::AccessPolicies,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Coll::Locations => "locations",
            Coll::Subjects => "subjects",
            Coll::AccessPolicies => "access_policies",
        }
    }
}

type SideFile = BTreeMap<String, BTreeMap<String, Value>>;

fn side_path(api: &ArchivistApi, c: Coll) -> PathBuf {
    api.dir.join(format!("{}.json", c.label()))
}

fn side_load(api: &ArchivistApi, c: Coll) -> Res<SideFile> {
    match std::fs::read(side_path(api, c)) {
        Ok(b) => serde_json::from_slice(&b).map_err(ArchivistError::internal),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(SideFile::new()),
        Err(e) => Err(ArchivistError::internal(e)),
    }
}

fn side_save(api: &ArchivistApi, c: Coll, file: &SideFile) -> Res<()> {
    let bytes = serde_json::to_vec_pretty(file).map_err(ArchivistError::internal)?;
    write_atomic(&side_path(api, c), &bytes).map_err(ArchivistError::io)
}

fn side_validate(c: Coll, body: &Map<String, Value>) -> Res<()> {
    let display_name = body.get("display_name");
    if !display_name.is_some_and(Value::is_string) {
        return Err(ArchivistError::bad_request(format!(
            "a {} item needs a display_name string",
            c.label()
        )));
    }
    if c == Coll::AccessPolicies {
        for k in ["filters", "access_permissions"] {
            if !body.get(k).is_some_and(Value::is_array) {
                return Err(ArchivistError::bad_request(format!(
                    "an access policy needs {k} (a list)"
                )));
            }
        }
    }
    Ok(())
}

async fn side_create<const C: u8>(
    State(api): State<ArchivistApi>,
    Caller(claims): Caller,
    body: Bytes,
) -> Res<Response> {
    let c = Coll::from_u8(C);
    let mut body = parse_object(&body, c.label())?;
    side_validate(c, &body)?;
    let id = format!("{}/{}", c.label(), uuid4());
    body.insert("identity".into(), json!(id));
    body.insert(
        "tenant_identity".into(),
        json!(format!("tenant/{}", claims.stakeholder)),
    );
    {
        let _g = api.side.lock();
        let mut file = side_load(&api, c)?;
        let mine = file.entry(claims.stakeholder.clone()).or_default();
        if mine.len() >= SIDE_ITEMS_MAX {
            return Err(ArchivistError::bad_request(format!(
                "at most {SIDE_ITEMS_MAX} {} per stakeholder",
                c.label()
            )));
        }
        mine.insert(id.clone(), Value::Object(body.clone()));
        side_save(&api, c, &file)?;
    }
    if c == Coll::AccessPolicies {
        republish_access_policies(&api, &StakeholderId(claims.stakeholder.clone())).await?;
    }
    Ok(Json(Value::Object(body)).into_response())
}

fn side_get(api: &ArchivistApi, c: Coll, who: &str, id: &str) -> Res<Value> {
    let key = format!("{}/{id}", c.label());
    side_load(api, c)?
        .get(who)
        .and_then(|m| m.get(&key))
        .cloned()
        .ok_or_else(|| ArchivistError::not_found(format!("{key} not found")))
}

async fn side_read<const C: u8>(
    State(api): State<ArchivistApi>,
    Caller(claims): Caller,
    Path(id): Path<String>,
) -> Res<Response> {
    let c = Coll::from_u8(C);
    Ok(Json(side_get(&api, c, &claims.stakeholder, &id)?).into_response())
}

async fn side_update<const C: u8>(
    State(api): State<ArchivistApi>,
    Caller(claims): Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> Res<Response> {
    let c = Coll::from_u8(C);
    let patch = parse_object(&body, c.label())?;
    let key = format!("{}/{id}", c.label());
    let updated = {
        let _g = api.side.lock();
        let mut file = side_load(&api, c)?;
        let item = file
            .get_mut(&claims.stakeholder)
            .and_then(|m| m.get_mut(&key))
            .and_then(Value::as_object_mut)
            .ok_or_else(|| ArchivistError::not_found(format!("{key} not found")))?;
        for (k, v) in patch {
            if k != "identity" && k != "tenant_identity" {
                item.insert(k, v);
            }
        }
        side_validate(c, item)?;
        let updated = Value::Object(item.clone());
        side_save(&api, c, &file)?;
        updated
    };
    if c == Coll::AccessPolicies {
        republish_access_policies(&api, &StakeholderId(claims.stakeholder.clone())).await?;
    }
    Ok(Json(updated).into_response())
}

async fn side_delete<const C: u8>(
    State(api): State<ArchivistApi>,
    Caller(claims): Caller,
    Path(id): Path<String>,
) -> Res<Response> {
    let c = Coll::from_u8(C);
    let key = format!("{}/{id}", c.label());
    {
        let _g = api.side.lock();
        let mut file = side_load(&api, c)?;
        file.get_mut(&claims.stakeholder)
            .and_then(|m| m.remove(&key))
            .ok_or_else(|| ArchivistError::not_found(format!("{key} not found")))?;
        side_save(&api, c, &file)?;
    }
    if c == Coll::AccessPolicies {
        republish_access_policies(&api, &StakeholderId(claims.stakeholder.clone())).await?;
    }
    Ok(Json(json!({})).into_response())
}

async fn side_list<const C: u8>(
    State(api): State<ArchivistApi>,
    Caller(claims): Caller,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Res<Response> {
    let c = Coll::from_u8(C);
    let q = parse_list_query(q.as_deref(), &["display_name"])?;
    let file = side_load(&api, c)?;
    let after = q.after.as_ref().and_then(Value::as_str).unwrap_or("");
    let all: Vec<&Value> = file
        .get(&claims.stakeholder)
        .map(|m| {
            m.iter()
                .filter(|(k, _)| k.as_str() > after)
                .map(|(_, v)| v)
                .filter(|v| matches_filters(v, &q.filters))
                .collect()
        })
        .unwrap_or_default();
    if wants_count(&headers) {
        return Ok(with_count(
            json!({c.label(): [], "next_page_token": ""}),
            Some(all.len() as u64),
        ));
    }
    let page: Vec<&Value> = all.iter().take(q.page_size).copied().collect();
    let next = if all.len() > q.page_size {
        page.last()
            .and_then(|v| v.get("identity"))
            .map(|id| next_token(&q.filters, id.clone()))
            .unwrap_or_default()
    } else {
        String::new()
    };
    Ok(with_count(
        json!({c.label(): page, "next_page_token": next}),
        None,
    ))
}

// ---------------------------------------------------------------- access policies

/// Whether an asset meets an access policy's filters: every entry of
/// `filters` is `{"or": ["attributes.k=v", ...]}`, and the asset must meet
/// one term of each.
fn policy_matches(policy: &Value, asset: &Value) -> bool {
    let Some(filters) = policy.get("filters").and_then(Value::as_array) else {
        return false;
    };
    filters.iter().all(|f| {
        f.get("or").and_then(Value::as_array).is_some_and(|terms| {
            terms.iter().filter_map(Value::as_str).any(|t| {
                t.split_once('=').is_some_and(|(k, v)| {
                    matches_filters(asset, &[(normalize_key(k.trim()), v.trim().to_string())])
                })
            })
        })
    })
}

/// The stakeholders an access permission names: its subjects, each a
/// `subjects/<uuid>` of the owner's (its `display_name` naming a registered
/// stakeholder) or a stakeholder id directly.
fn permission_readers(
    perm: &Value,
    subjects: Option<&BTreeMap<String, Value>>,
    meta: &Meta,
) -> Vec<String> {
    let mut out = Vec::new();
    for s in perm
        .get("subjects")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        let name = match subjects.and_then(|m| m.get(s)) {
            Some(subject) => subject
                .get("display_name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            None => s.to_string(),
        };
        if meta.registry.get(&StakeholderId(name.clone())).is_some() && !out.contains(&name) {
            out.push(name);
        }
    }
    out
}

/// Builds the stakeholder's sharing policy from its access policies and
/// publishes it (signed by the service on its behalf) when it changed: a
/// first grant keeps the default (every role on a device reads everything
/// about it), then one grant per access permission: its subjects read the
/// Archivist data (registration and events) of the assets that meet the
/// policy's filters now.
async fn republish_access_policies(api: &ArchivistApi, owner: &StakeholderId) -> Res<()> {
    let (policies, subjects) = {
        let _g = api.side.lock();
        (
            side_load(api, Coll::AccessPolicies)?
                .remove(&owner.0)
                .unwrap_or_default(),
            side_load(api, Coll::Subjects)?.remove(&owner.0),
        )
    };
    let meta = api.twins.projector.meta();
    let current = meta.sharing.get(owner);
    if policies.is_empty() && current.is_none_or(|(_, p)| p.id() != "archivist-access-policies") {
        return Ok(());
    }
    let mut grants = vec![json!({
        "readers": twin::Role::ALL.iter().map(|r| json!({"role": r})).collect::<Vec<_>>(),
        "devices": "all",
        "types": ["*"],
    })];
    let published = api.twins.scitt.log().published().size.get();
    let store = api.twins.projector.store();
    let mut owned: Vec<Value> = Vec::new();
    let mut cursor: Option<String> = None;
    let viewer = Viewer {
        reader: api.twins.reads.reader(Some(owner.clone()), &meta),
        public: false,
    };
    'scan: loop {
        let batch = store
            .devices(cursor.as_deref(), 256)
            .map_err(ArchivistError::internal)?;
        if batch.is_empty() {
            break;
        }
        for t in batch {
            cursor = Some(t.device.to_string());
            if owned.len() >= SCAN_DEVICES_MAX {
                break 'scan;
            }
            if t.manufacturer != *owner {
                continue;
            }
            let mut a = Audit::default();
            if let Some(asset) = asset_json(&viewer, &t, &mut a, published, None) {
                owned.push(asset);
            }
        }
    }
    for policy in policies.values() {
        let ids: Vec<String> = owned
            .iter()
            .filter(|a| policy_matches(policy, a))
            .filter_map(|a| a.pointer("/sectwin/device").and_then(Value::as_str))
            .take(twin::sharing::CRITERION_VALUES_MAX)
            .map(String::from)
            .collect();
        for perm in policy
            .get("access_permissions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let readers = permission_readers(perm, subjects.as_ref(), &meta);
            if readers.is_empty() || ids.is_empty() {
                continue;
            }
            if grants.len() >= twin::sharing::GRANTS_MAX {
                break;
            }
            grants.push(json!({
                "readers": readers.iter().map(|r| json!({"stakeholder": r})).collect::<Vec<_>>(),
                "devices": {"matching": {"ids": ids}},
                "types": ["device-registered", "archivist-event"],
            }));
        }
    }
    let policy = json!({"id": "archivist-access-policies", "grants": grants});
    let parsed = twin::sharing::SharingPolicy::parse(&policy)
        .map_err(|e| ArchivistError::bad_request(format!("access policies: {e}")))?;
    if current.is_some_and(|(_, p)| *p == parsed) {
        return Ok(());
    }
    drop(meta);
    register_delegated(
        api,
        owner,
        &format!("stakeholder:{}", owner.0),
        json!({"type": "sharing-policy", "policy": policy}),
        // Policies are public, like every sharing policy: anyone can check
        // who was allowed to read what.
        Disclosure::Public,
    )
    .await
    .map(|_| ())
}

async fn policy_assets(
    State(api): State<ArchivistApi>,
    Caller(claims): Caller,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Res<Response> {
    let policy = side_get(&api, Coll::AccessPolicies, &claims.stakeholder, &id)?;
    let meta = api.twins.projector.meta();
    let published = api.twins.scitt.log().published().size.get();
    let owner = StakeholderId(claims.stakeholder.clone());
    let viewer = Viewer {
        reader: api.twins.reads.reader(Some(owner.clone()), &meta),
        public: false,
    };
    list_assets_as(
        &api,
        Some(owner.clone()),
        false,
        &headers,
        q.as_deref(),
        |t| {
            let mut a = Audit::default();
            t.manufacturer == owner
                && asset_json(&viewer, t, &mut a, published, None)
                    .is_some_and(|asset| policy_matches(&policy, &asset))
        },
    )
}

async fn asset_policies(
    State(api): State<ArchivistApi>,
    Caller(claims): Caller,
    Path(id): Path<String>,
) -> Res<Response> {
    let (device, _) = device_of(&id)?;
    let not_found = || ArchivistError::not_found(format!("assets/{} not found", device));
    let twin = load_twin(&api, &device)?.ok_or_else(not_found)?;
    let meta = api.twins.projector.meta();
    let published = api.twins.scitt.log().published().size.get();
    let viewer = Viewer {
        reader: api
            .twins
            .reads
            .reader(Some(StakeholderId(claims.stakeholder.clone())), &meta),
        public: false,
    };
    let mut a = Audit::default();
    let asset = asset_json(&viewer, &twin, &mut a, published, None).ok_or_else(not_found)?;
    let file = side_load(&api, Coll::AccessPolicies)?;
    let list: Vec<&Value> = file
        .get(&claims.stakeholder)
        .into_iter()
        .flat_map(|m| m.values())
        .filter(|p| policy_matches(p, &asset))
        .collect();
    Ok(Json(json!({"access_policies": list, "next_page_token": ""})).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_take_both_forms_and_tokens_carry_them() {
        let q = parse_list_query(
            Some("attributes.arc_display_type=door&attributes%5Bfloor%5D=2&page_size=5"),
            ASSET_FILTERS,
        )
        .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(
            q.filters,
            vec![
                ("attributes.arc_display_type".into(), "door".into()),
                ("attributes.floor".into(), "2".into())
            ]
        );
        let t = next_token(&q.filters, json!("abc"));
        let again = parse_list_query(Some(&format!("page_token={t}&page_size=5")), ASSET_FILTERS)
            .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(again.filters, q.filters);
        assert_eq!(again.after, Some(json!("abc")));
        assert!(parse_list_query(Some("colour=red"), ASSET_FILTERS).is_err());
        assert!(parse_list_query(Some("page_token=zz!"), ASSET_FILTERS).is_err());
        let asset = json!({"attributes": {"arc_display_type": "door", "floor": 2}});
        assert!(matches_filters(&asset, &q.filters));
        assert!(!matches_filters(
            &asset,
            &[("attributes.floor".into(), "3".into())]
        ));
        assert!(matches_filters(
            &asset,
            &[("attributes.floor".into(), "*".into())]
        ));
    }

    #[test]
    fn times_and_ids() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_709_251_199_000), "2024-02-29T23:59:59Z");
        let u = uuid4();
        assert!(is_uuid(&u), "{u}");
        assert!(!is_uuid("../../etc/passwd"));
    }

    #[test]
    fn multipart_single_file() {
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"filename\"\r\nContent-Type: image/jpeg\r\n\r\nJPEG\r\n--XyZ--\r\n";
        let (mime, data) = multipart_file("multipart/form-data; boundary=XyZ", body)
            .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(mime.as_deref(), Some("image/jpeg"));
        assert_eq!(data, b"JPEG");
        assert!(multipart_file("application/json", body).is_err());
    }

    #[test]
    fn access_policy_filters() {
        let p = json!({"filters": [{"or": ["attributes.arc_display_type=door", "attributes.arc_display_type=reader"]},
                                   {"or": ["attributes.site=hq"]}]});
        assert!(policy_matches(
            &p,
            &json!({"attributes": {"arc_display_type": "door", "site": "hq"}})
        ));
        assert!(!policy_matches(
            &p,
            &json!({"attributes": {"arc_display_type": "door", "site": "annex"}})
        ));
    }
}

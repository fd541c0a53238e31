//! OAuth 2.0 over HTTP: the client credentials token endpoint (RFC 6749
//! §4.4) and the bearer token extractors (RFC 6750) that routes use to know
//! who calls.
//!
//! * [`token_routes`]: `POST <path>`, body `application/x-www-form-urlencoded`
//!   (or `application/json`, which some SDKs send) with
//!   `grant_type=client_credentials` and an optional `scope`; the client
//!   authenticates with HTTP Basic (`client_id:client_secret`, each
//!   form-urlencoded first, RFC 6749 §2.3.1) or with `client_id` and
//!   `client_secret` in the body, never both. 200 answers
//!   `{access_token, token_type: "Bearer", expires_in, scope?}` (§5.1);
//!   errors answer `{error, error_description}` (§5.2): `invalid_client`
//!   401 with `WWW-Authenticate: Basic realm="sectwin"` (not when the
//!   client sent its credentials in the body: a browser would open its own
//!   login prompt for a page's script), `invalid_request`,
//!   `unsupported_grant_type` and `invalid_scope` 400. Every answer carries
//!   `Cache-Control: no-store`.
//! * Failed authentications back off ([`access::throttle`]) per client id
//!   ([`CLIENT_BACKOFF`]: 5 free failures, then 1 s doubling to 60 s) and per
//!   client address ([`ADDRESS_BACKOFF`], an IPv4 address or an IPv6 /64:
//!   20 free failures, then 1 s doubling to 5 min). A locked client id or
//!   address is answered 429 `slow_down` with `Retry-After`, before any
//!   secret is checked, even a right one. Only client ids that exist are
//!   tracked (an unknown one counts against its address only), a success
//!   forgets the client id's failures, and 15 min without a failure forget
//!   a key. Memory is bounded (100,000 keys each). Behind a reverse proxy
//!   every client shares the proxy's address.
//! * [`Caller`] and [`MaybeCaller`]: the claims of the
//!   `Authorization: Bearer <token>` of a request, checked against the key,
//!   the clock, and the current credentials (a revoked credential's tokens
//!   stop at once). Refusals are 401 with a `WWW-Authenticate: Bearer`
//!   challenge (RFC 6750 §3) and RFC 9457 problem details, like every other
//!   error of the native API (`error` is the RFC 6750 code, or
//!   `missing_token`; [`Unauthorized`] describes them in the OpenAPI
//!   document).
//!
//! Deliberately absent: the grant itself (`access::TokenIssuer`), where the
//! credentials come from and how they are persisted (the owner of the
//! shared `Arc<RwLock<Credentials>>`), and what a stakeholder may do (the
//! routes that take a [`Caller`]).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use access::throttle::{Backoff, Locked, Throttle};
use access::{
    CredentialError, Credentials, Grant, GrantError, ScopeError, TokenClaims, TokenError,
    TokenIssuer, TokenKey,
};
use api_types::oauth::{OAuthError as OAuthErrorBody, TokenResponse};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::ConnectInfo;
use axum::extract::{FromRef, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use base64::Engine as _;
use clock::Clock;
use parking_lot::RwLock;
use serde::Deserialize;

/// Largest token request body, in bytes: four short parameters need a few
/// hundred; larger bodies get 413 before being buffered.
pub const TOKEN_REQUEST_BODY_BYTES_MAX: usize = 4096;

/// The realm named in `WWW-Authenticate` challenges.
pub const REALM: &str = "sectwin";

const BASIC_CHALLENGE: &str = r#"Basic realm="sectwin""#;
pub(crate) const BEARER_CHALLENGE: &str = r#"Bearer realm="sectwin""#;
const NO_STORE: &str = "no-store";

/// The token endpoint's state: the shared credentials, the issuer (key,
/// lifetime, scopes), and the clock. Also what [`Caller`] checks tokens
/// with, so routes that take a `Caller` need `Arc<TokenEndpoint>` in their
/// state (via `FromRef`).
pub struct TokenEndpoint {
    credentials: Arc<RwLock<Credentials>>,
    issuer: TokenIssuer,
    clock: Arc<dyn Clock>,
    throttles: parking_lot::Mutex<Throttles>,
    reload: Option<Arc<dyn Fn() -> bool + Send + Sync>>,
}

/// Backoff of a client id after failed authentications.
pub const CLIENT_BACKOFF: Backoff = Backoff {
    failures_free: 5,
    delay_s_first: 1,
    delay_s_max: 60,
    forget_after_s: 15 * 60,
    keys_max: 100_000,
};

/// Backoff of a client address (IPv4, or an IPv6 /64) after failed
/// authentications: more free failures, as several clients may share one
/// address (a NAT).
pub const ADDRESS_BACKOFF: Backoff = Backoff {
    failures_free: 20,
    delay_s_first: 1,
    delay_s_max: 5 * 60,
    forget_after_s: 15 * 60,
    keys_max: 100_000,
};

struct Throttles {
    clients: Throttle<String>,
    addresses: Throttle<IpAddr>,
}

/// Why [`TokenEndpoint::grant_from`] gave no token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GrantRefused {
    /// The grant was refused (bad credential, scope).
    Grant(GrantError),
    /// Too many failures from this client id or address: try again later.
    Throttled(Locked),
}

/// The key of a client address: an IPv4 address as is (IPv4-mapped IPv6
/// too), an IPv6 address's /64 (one subscriber's network).
pub fn address_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let bits = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(bits.into())
            }
        },
    }
}

impl TokenEndpoint {
    /// An endpoint over `credentials` (shared with whoever manages them)
    /// issuing under `key`, with `access`'s default lifetime, no scopes, and
    /// the system clock ([`clock::SystemClock`]).
    pub fn new(credentials: Arc<RwLock<Credentials>>, key: TokenKey) -> TokenEndpoint {
        TokenEndpoint {
            credentials,
            issuer: TokenIssuer::new(key),
            clock: Arc::new(clock::SystemClock),
            throttles: parking_lot::Mutex::new(Throttles {
                clients: Throttle::new(CLIENT_BACKOFF),
                addresses: Throttle::new(ADDRESS_BACKOFF),
            }),
            reload: None,
        }
    }

    /// Tokens valid for `lifetime_s` (clamped by [`TokenIssuer::with_lifetime_s`]).
    pub fn with_lifetime_s(mut self, lifetime_s: u64) -> TokenEndpoint {
        self.issuer = self.issuer.with_lifetime_s(lifetime_s);
        self
    }

    /// Grants scopes among `scopes` (see [`TokenIssuer::with_scopes_allowed`]).
    pub fn with_scopes_allowed<I, S>(mut self, scopes: I) -> Result<TokenEndpoint, ScopeError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.issuer = self.issuer.with_scopes_allowed(scopes)?;
        Ok(self)
    }

    /// Reads the time from `clock` (the node's; a fixed one in tests, so
    /// they can move time).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> TokenEndpoint {
        self.clock = clock;
        self
    }

    /// Calls `reload` when a client id is unknown, and grants again if it
    /// answers true (it reloaded the credentials): a credential created a
    /// moment ago by another process works at once, instead of failing
    /// (and counting against its address) until the next periodic reload.
    pub fn with_reload(
        mut self,
        reload: impl Fn() -> bool + Send + Sync + 'static,
    ) -> TokenEndpoint {
        self.reload = Some(Arc::new(reload));
        self
    }

    /// The shared credentials.
    pub fn credentials(&self) -> &Arc<RwLock<Credentials>> {
        &self.credentials
    }

    /// The issuer (lifetime, scopes allowed).
    pub fn issuer(&self) -> &TokenIssuer {
        &self.issuer
    }

    /// The time now by this endpoint's clock, Unix seconds. A clock before
    /// 1970 reads as 0: every token is then not yet valid, which fails
    /// closed.
    pub fn now_unix_s(&self) -> u64 {
        u64::try_from(self.clock.now_unix_s()).unwrap_or(0)
    }

    /// The client credentials grant at the current time
    /// ([`TokenIssuer::grant`]).
    pub fn grant(
        &self,
        client_id: &str,
        client_secret: &str,
        scope: Option<&str>,
    ) -> Result<Grant, GrantError> {
        let now_unix_s = self.now_unix_s();
        self.issuer.grant(
            &self.credentials.read(),
            client_id,
            client_secret,
            scope,
            now_unix_s,
        )
    }

    /// The client credentials grant to a client at `peer` (its address, if
    /// known), with the backoff of failed authentications per client id and
    /// per address (see the module documentation).
    pub fn grant_from(
        &self,
        peer: Option<IpAddr>,
        client_id: &str,
        client_secret: &str,
        scope: Option<&str>,
    ) -> Result<Grant, GrantRefused> {
        let now_unix_s = self.now_unix_s();
        let address = peer.map(address_key);
        {
            let t = self.throttles.lock();
            if let Some(a) = &address {
                t.addresses
                    .check(a, now_unix_s)
                    .map_err(GrantRefused::Throttled)?;
            }
            t.clients
                .check(&client_id.to_string(), now_unix_s)
                .map_err(GrantRefused::Throttled)?;
        }
        let grant = || {
            self.issuer.grant(
                &self.credentials.read(),
                client_id,
                client_secret,
                scope,
                now_unix_s,
            )
        };
        let mut result = grant();
        if result == Err(GrantError::Client(CredentialError::UnknownClient))
            && self.reload.as_ref().is_some_and(|reload| reload())
        {
            result = grant();
        }
        let mut t = self.throttles.lock();
        match &result {
            Ok(_) => t.clients.succeeded(&client_id.to_string()),
            Err(GrantError::Client(e)) => {
                if *e != CredentialError::UnknownClient {
                    t.clients.failed(client_id.to_string(), now_unix_s);
                }
                if let Some(a) = address {
                    t.addresses.failed(a, now_unix_s);
                }
            }
            Err(GrantError::Scope(_)) => {}
        }
        result.map_err(GrantRefused::Grant)
    }

    /// The claims of a bearer `token` at the current time, if its credential
    /// is still live ([`TokenIssuer::authenticate`]).
    pub fn authenticate(&self, token: &str) -> Result<TokenClaims, TokenError> {
        let now_unix_s = self.now_unix_s();
        self.issuer
            .authenticate(&self.credentials.read(), token, now_unix_s)
    }
}

/// The token endpoint at `path` (for example `/oauth/token`).
pub fn token_routes(endpoint: Arc<TokenEndpoint>, path: &str) -> Router {
    Router::new()
        .route(path, post(token))
        .layer(crate::problem::body_limit(TOKEN_REQUEST_BODY_BYTES_MAX))
        .with_state(endpoint)
}

/// The address of the client of a request, when the server recorded it
/// (`http_api::serve` does, as `ConnectInfo<SocketAddr>`).
pub struct Peer(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for Peer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Peer(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip()),
        ))
    }
}

#[utoipa::path(
    post,
    path = "/oauth/token",
    tag = "oauth",
    summary = "OAuth 2.0 client credentials token endpoint (RFC 6749 §4.4)",
    description = "The client authenticates with client_id and client_secret in the form or in HTTP Basic (RFC 6749 §2.3.1). Repeated failures from one client or address are slowed down (429 with Retry-After). The one exception to the problem details of this API: errors here are RFC 6749 §5.2 bodies `{error, error_description}` (application/json), which OAuth clients parse; a 401 challenges with `Basic`, not `Bearer` (unless the client sent its credentials in the body: no challenge then, so that a browser opens no login prompt of its own).",
    request_body(content = api_types::oauth::TokenRequest, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "A bearer token", body = TokenResponse),
        (status = 400, description = "invalid_request, unsupported_grant_type or invalid_scope", body = api_types::oauth::OAuthError),
        (status = 401, description = "invalid_client (RFC 6749 §5.2, not problem details)", body = api_types::oauth::OAuthError,
            headers(("WWW-Authenticate" = String, description = "`Basic realm=\"sectwin\"`, unless the credentials came in the body"))),
        (status = 429, description = "slow_down: too many failed authentications", body = api_types::oauth::OAuthError),
    ),
)]
async fn token(
    State(endpoint): State<Arc<TokenEndpoint>>,
    Peer(peer): Peer,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(body) => body,
        Err(rejection) => {
            return OAuthError::new(rejection.status(), "invalid_request", rejection.body_text())
                .into_response()
        }
    };
    let mut response = answer(&endpoint, peer, &headers, &body);
    // RFC 6749 §5.2: the challenge is owed to a client that authenticated
    // with the Authorization header; one that sent its credentials in the
    // body gets none (a browser would answer a Basic challenge to a
    // script's request with its own login prompt).
    let in_body = !headers.contains_key(header::AUTHORIZATION) && names_client_in_body(&body);
    if in_body {
        response.headers_mut().remove(header::WWW_AUTHENTICATE);
    }
    response
}

/// Whether a token request's body carries a `client_id` (form or JSON).
fn names_client_in_body(body: &[u8]) -> bool {
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) {
        return v.get("client_id").is_some();
    }
    form_urlencoded::parse(body).any(|(k, _)| k == "client_id")
}

/// The token endpoint's answer (before the challenge rule of [`token`]).
fn answer(
    endpoint: &TokenEndpoint,
    peer: Option<std::net::IpAddr>,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    let request = match TokenRequest::parse(headers, body) {
        Ok(request) => request,
        Err(e) => return e.into_response(),
    };
    match endpoint.grant_from(
        peer,
        &request.client_id,
        &request.client_secret,
        request.scope.as_deref(),
    ) {
        Ok(grant) => {
            let scope = (!grant.claims.scope.is_empty()).then(|| grant.claims.scope.join(" "));
            let response = TokenResponse {
                expires_in: grant.expires_in_s(),
                access_token: grant.access_token,
                token_type: "Bearer".to_string(),
                scope,
            };
            (
                [
                    (header::CACHE_CONTROL, NO_STORE),
                    (header::PRAGMA, "no-cache"),
                ],
                Json(response),
            )
                .into_response()
        }
        Err(GrantRefused::Grant(e)) => OAuthError::from(e).into_response(),
        Err(GrantRefused::Throttled(locked)) => {
            let mut response = OAuthError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "slow_down",
                format!(
                    "too many failed authentications from this client or address; try again in {} s",
                    locked.retry_after_s
                ),
            )
            .into_response();
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(locked.retry_after_s));
            response
        }
    }
}

/// A parsed client credentials token request.
struct TokenRequest {
    client_id: String,
    client_secret: String,
    scope: Option<String>,
}

/// The request parameters this endpoint reads; others are ignored
/// (RFC 6749 §3.2), and an empty value counts as absent.
#[derive(Default, Deserialize)]
struct Params {
    grant_type: Option<String>,
    scope: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

impl Params {
    fn from_form(body: &[u8]) -> Result<Params, OAuthError> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
            .map_err(|_| OAuthError::invalid_request("the body is not form-urlencoded"))?;
        let mut params = Params::default();
        for (name, value) in pairs {
            let (name, slot) = match name.as_str() {
                "grant_type" => ("grant_type", &mut params.grant_type),
                "scope" => ("scope", &mut params.scope),
                "client_id" => ("client_id", &mut params.client_id),
                "client_secret" => ("client_secret", &mut params.client_secret),
                _ => continue,
            };
            // RFC 6749 §3.2: parameters must not appear more than once.
            if slot.is_some() {
                return Err(OAuthError::invalid_request(format!(
                    "parameter {name} appears more than once"
                )));
            }
            *slot = Some(value);
        }
        Ok(params.without_empty())
    }

    fn from_json(body: &[u8]) -> Result<Params, OAuthError> {
        // serde refuses duplicate and non-string known fields; unknown ones
        // are ignored like unknown form parameters.
        let params: Params = serde_json::from_slice(body).map_err(|e| {
            OAuthError::invalid_request(format!(
                "the body is not a JSON object of string parameters: {e}"
            ))
        })?;
        Ok(params.without_empty())
    }

    fn without_empty(self) -> Params {
        let keep = |v: Option<String>| v.filter(|s| !s.is_empty());
        Params {
            grant_type: keep(self.grant_type),
            scope: keep(self.scope),
            client_id: keep(self.client_id),
            client_secret: keep(self.client_secret),
        }
    }
}

impl TokenRequest {
    fn parse(headers: &HeaderMap, body: &[u8]) -> Result<TokenRequest, OAuthError> {
        let content_type = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|v| v.trim().to_ascii_lowercase());
        let params =
            match content_type.as_deref() {
                Some("application/x-www-form-urlencoded") => Params::from_form(body)?,
                Some("application/json") => Params::from_json(body)?,
                _ => return Err(OAuthError::invalid_request(
                    "Content-Type must be application/x-www-form-urlencoded (or application/json)",
                )),
            };
        match params.grant_type.as_deref() {
            Some("client_credentials") => {}
            Some(_) => {
                return Err(OAuthError::new(
                    StatusCode::BAD_REQUEST,
                    "unsupported_grant_type",
                    "only grant_type=client_credentials is supported",
                ))
            }
            None => return Err(OAuthError::invalid_request("grant_type is missing")),
        }
        let Params {
            scope,
            client_id,
            client_secret,
            ..
        } = params;
        let (client_id, client_secret) =
            match (basic_credentials(headers)?, client_id, client_secret) {
                (Some(_), _, Some(_)) => Err(OAuthError::invalid_request(
                    "use one client authentication method: HTTP Basic or client_secret in the body",
                )),
                (Some((id, _)), Some(body_id), None) if body_id != id => {
                    Err(OAuthError::invalid_request(
                        "client_id in the body differs from the one in Authorization",
                    ))
                }
                (Some((id, secret)), _, None) => Ok((id, secret)),
                (None, Some(id), Some(secret)) => Ok((id, secret)),
                (None, Some(_), None) => Err(OAuthError::invalid_client(
                    "client_secret is missing: this grant is for confidential clients",
                )),
                (None, None, Some(_)) => Err(OAuthError::invalid_request(
                    "client_secret without client_id",
                )),
                (None, None, None) => Err(OAuthError::invalid_client(
                    "no client authentication: use HTTP Basic or client_id and client_secret",
                )),
            }?;
        Ok(TokenRequest {
            client_id,
            client_secret,
            scope,
        })
    }
}

/// The client id and secret of an `Authorization: Basic` header, if there
/// is one (RFC 7617; each part form-urlencoded, RFC 6749 §2.3.1).
fn basic_credentials(headers: &HeaderMap) -> Result<Option<(String, String)>, OAuthError> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(OAuthError::invalid_request(
            "more than one Authorization header",
        ));
    }
    let malformed = || {
        OAuthError::invalid_request(
            "Authorization: Basic must be base64 of client_id:client_secret, each form-urlencoded",
        )
    };
    let value = value.to_str().map_err(|_| malformed())?;
    let (scheme, encoded) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(OAuthError::invalid_client(
            "unsupported client authentication: use HTTP Basic or client_secret in the body",
        ));
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|_| malformed())?;
    let decoded = String::from_utf8(decoded).map_err(|_| malformed())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(malformed)?;
    let id = form_urldecode(id).ok_or_else(malformed)?;
    let secret = form_urldecode(secret).ok_or_else(malformed)?;
    Ok(Some((id, secret)))
}

/// `application/x-www-form-urlencoded` decoding of one value: `+` is a
/// space, `%XX` a byte; a bad escape or non-UTF-8 result is `None`.
fn form_urldecode(s: &str) -> Option<String> {
    fn hex_digit(b: u8) -> Option<u8> {
        char::from(b)
            .to_digit(16)
            .and_then(|d| u8::try_from(d).ok())
    }
    let mut out = Vec::with_capacity(s.len());
    let mut bytes = s.bytes();
    while let Some(b) = bytes.next() {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let hi = hex_digit(bytes.next()?)?;
                let lo = hex_digit(bytes.next()?)?;
                out.push(hi << 4 | lo);
            }
            _ => out.push(b),
        }
    }
    String::from_utf8(out).ok()
}

/// A token endpoint error (RFC 6749 §5.2).
struct OAuthError {
    status: StatusCode,
    error: &'static str,
    description: String,
}

impl OAuthError {
    fn new(status: StatusCode, error: &'static str, description: impl Into<String>) -> OAuthError {
        OAuthError {
            status,
            error,
            description: description.into(),
        }
    }

    fn invalid_request(description: impl Into<String>) -> OAuthError {
        OAuthError::new(StatusCode::BAD_REQUEST, "invalid_request", description)
    }

    fn invalid_client(description: impl Into<String>) -> OAuthError {
        OAuthError::new(StatusCode::UNAUTHORIZED, "invalid_client", description)
    }
}

impl From<GrantError> for OAuthError {
    fn from(e: GrantError) -> OAuthError {
        match e {
            // One answer for both, so the endpoint does not tell which
            // client ids exist.
            GrantError::Client(CredentialError::UnknownClient | CredentialError::BadSecret) => {
                OAuthError::invalid_client("unknown client_id or wrong client_secret")
            }
            GrantError::Client(e @ CredentialError::Revoked) => {
                OAuthError::invalid_client(e.to_string())
            }
            GrantError::Scope(e) => {
                OAuthError::new(StatusCode::BAD_REQUEST, "invalid_scope", e.to_string())
            }
        }
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let body = Json(OAuthErrorBody {
            error: self.error.to_string(),
            error_description: self.description,
        });
        let mut response = (
            self.status,
            [
                (header::CACHE_CONTROL, NO_STORE),
                (header::PRAGMA, "no-cache"),
            ],
            body,
        )
            .into_response();
        // RFC 6749 §5.2: a 401 names the authentication scheme to use.
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(BASIC_CHALLENGE),
            );
        }
        response
    }
}

/// The verified claims of the request's bearer token: the caller acts for
/// `claims.stakeholder`. Refuses (401) a request without a bearer token.
#[derive(Debug, Clone)]
pub struct Caller(pub TokenClaims);

/// Like [`Caller`], but a request without an `Authorization` header is
/// anonymous (`None`). A request *with* one that does not verify is still
/// refused: never silently anonymous.
#[derive(Debug, Clone)]
pub struct MaybeCaller(pub Option<TokenClaims>);

impl<S> FromRequestParts<S> for Caller
where
    Arc<TokenEndpoint>: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = BearerRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match authenticate(&parts.headers, &Arc::<TokenEndpoint>::from_ref(state))? {
            Some(claims) => Ok(Caller(claims)),
            None => Err(BearerRejection::missing(
                "this request needs Authorization: Bearer <token>",
            )),
        }
    }
}

impl<S> FromRequestParts<S> for MaybeCaller
where
    Arc<TokenEndpoint>: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = BearerRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        authenticate(&parts.headers, &Arc::<TokenEndpoint>::from_ref(state)).map(MaybeCaller)
    }
}

/// The claims of the request's bearer token; `None` without an
/// `Authorization` header.
fn authenticate(
    headers: &HeaderMap,
    endpoint: &TokenEndpoint,
) -> Result<Option<TokenClaims>, BearerRejection> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(BearerRejection::invalid_request(
            "more than one Authorization header",
        ));
    }
    let value = value.to_str().map_err(|_| {
        BearerRejection::invalid_request("the Authorization header is not visible ASCII")
    })?;
    let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        // RFC 6750 §3.1: no bearer credentials at all, so no error code.
        return Err(BearerRejection::missing(
            "the Authorization scheme must be Bearer",
        ));
    }
    let token = token.trim_start_matches(' ');
    if token.is_empty() {
        return Err(BearerRejection::invalid_request(
            "Authorization: Bearer without a token",
        ));
    }
    endpoint
        .authenticate(token)
        .map(Some)
        .map_err(|e| BearerRejection::invalid_token(&e))
}

/// Why a request's bearer token was refused: 401 (400 for a malformed
/// header) with a `WWW-Authenticate: Bearer` challenge (RFC 6750 §3) and
/// problem details whose `error` is the RFC 6750 code.
#[derive(Debug)]
pub struct BearerRejection {
    status: StatusCode,
    error: &'static str,
    message: String,
}

impl BearerRejection {
    fn missing(message: &str) -> BearerRejection {
        BearerRejection {
            status: StatusCode::UNAUTHORIZED,
            error: "missing_token",
            message: message.to_string(),
        }
    }

    fn invalid_request(message: &str) -> BearerRejection {
        BearerRejection {
            status: StatusCode::BAD_REQUEST,
            error: "invalid_request",
            message: message.to_string(),
        }
    }

    fn invalid_token(e: &TokenError) -> BearerRejection {
        BearerRejection {
            status: StatusCode::UNAUTHORIZED,
            error: "invalid_token",
            message: e.to_string(),
        }
    }

    /// The status code.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// What is wrong, in words.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The `WWW-Authenticate` challenge: the realm, and for a bearer token
    /// that was presented, the RFC 6750 §3.1 error code and description.
    pub fn challenge(&self) -> HeaderValue {
        if self.error == "missing_token" {
            return HeaderValue::from_static(BEARER_CHALLENGE);
        }
        // RFC 6750 §3: error_description is %x20-21 / %x23-5B / %x5D-7E.
        let description: String = self
            .message
            .chars()
            .map(|c| match c {
                ' ' | '!' | '#'..='[' | ']'..='~' => c,
                _ => '?',
            })
            .collect();
        let value = format!(
            r#"Bearer realm="{REALM}", error="{}", error_description="{description}""#,
            self.error
        );
        HeaderValue::from_str(&value).unwrap_or(HeaderValue::from_static(BEARER_CHALLENGE))
    }
}

impl IntoResponse for BearerRejection {
    /// The problem details of every other error of the API
    /// ([`crate::problem::json_problem`]), `error` being the RFC 6750 code
    /// (or `missing_token`), beside the challenge.
    fn into_response(self) -> Response {
        let challenge = self.challenge();
        let mut response = crate::problem::json_problem(self.status, self.error, &self.message);
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, challenge);
        response
    }
}

/// The OpenAPI description of a refused bearer token, the one 401 answer
/// of every route that reads one ([`Caller`], [`MaybeCaller`], or a use
/// case that needs a caller): RFC 9457 problem details like every other
/// error of `/api/v1`. The token endpoint's own 401 is not this one: it is
/// RFC 6749's `{error, error_description}`, which OAuth clients parse.
#[derive(utoipa::ToResponse)]
#[response(
    description = "No bearer token where the route needs one, or one that does not verify (malformed, another key, expired, revoked): problem details whose `error` is `missing_token`, `invalid_token` or `unauthorized`, with a `WWW-Authenticate: Bearer` challenge (RFC 6750 §3)",
    content_type = "application/problem+json",
    headers(("WWW-Authenticate" = String, description = "`Bearer realm=\"sectwin\"`, with `error` and `error_description` when a token was presented"))
)]
pub struct Unauthorized(pub api_types::Problem);

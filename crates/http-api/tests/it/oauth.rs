//! End-to-end tests of the OAuth 2.0 token endpoint and the bearer
//! extractors over a real socket (axum on 127.0.0.1:0, reqwest as the
//! client): tokens by HTTP Basic, by body and by JSON; every refusal with its
//! status, error code and challenge; bearer tokens on a route that takes a
//! `Caller` (and one that takes a `MaybeCaller`); expiry by moving the
//! endpoint's clock; revocation; that a token acts for its own organization
//! only; and the backoff of failed authentications per client id and per
//! address (429 with `Retry-After`, moved by the same clock).
//!
//! The grant and token logic is tested in `access`; here only the HTTP
//! mapping.

use std::sync::Arc;

use access::{Credentials, TokenClaims, TokenKey, CREDENTIAL_RANDOM_BYTES};
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine as _;
use http_api::oauth::{
    token_routes, Caller, MaybeCaller, TokenEndpoint, TOKEN_REQUEST_BODY_BYTES_MAX,
};
use parking_lot::RwLock;
use reqwest::header::{AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, WWW_AUTHENTICATE};
use reqwest::{RequestBuilder, StatusCode};
use serde_json::{json, Value};

const NOW: u64 = 1_700_000_000;
const LIFETIME_S: u64 = 600;
const KEY: [u8; 32] = [7; 32];
const FORM: &str = "application/x-www-form-urlencoded";
const GRANT: &str = "grant_type=client_credentials";
const BASIC_CHALLENGE: &str = r#"Basic realm="sectwin""#;
const BEARER_CHALLENGE: &str = r#"Bearer realm="sectwin""#;

/// A running server with a token endpoint at `/oauth/token`, `/whoami`
/// (takes a `Caller`) and `/maybe` (takes a `MaybeCaller`).
struct Server {
    base: String,
    http: reqwest::Client,
    clock: Arc<clock::FixedClock>,
    credentials: Arc<RwLock<Credentials>>,
    /// Client id and secret of a credential of `acme.example`.
    acme: (String, String),
    /// Client id and secret of a credential of `globex.example`.
    globex: (String, String),
    /// Client id and secret of a revoked credential of `acme.example`.
    revoked: (String, String),
}

async fn whoami(Caller(claims): Caller) -> Json<TokenClaims> {
    Json(claims)
}

async fn maybe(MaybeCaller(claims): MaybeCaller) -> String {
    claims.map_or_else(|| "anonymous".to_string(), |c| c.stakeholder)
}

impl Server {
    async fn start() -> Server {
        let mut credentials = Credentials::default();
        let mut create = |org: &str, n: u8| {
            let (c, secret) = credentials
                .create(org, "test", [n; CREDENTIAL_RANDOM_BYTES], NOW)
                .expect("create");
            (c.client_id().to_string(), secret)
        };
        let acme = create("acme.example", 1);
        let globex = create("globex.example", 2);
        let revoked = create("acme.example", 3);
        credentials.revoke(&revoked.0).expect("revoke");
        let credentials = Arc::new(RwLock::new(credentials));

        let clock = Arc::new(clock::FixedClock::at(NOW * 1000));
        let endpoint = Arc::new(
            TokenEndpoint::new(credentials.clone(), TokenKey::from_bytes(KEY))
                .with_lifetime_s(LIFETIME_S)
                .with_scopes_allowed(["twins:read", "statements:write"])
                .expect("scopes")
                .with_clock(clock.clone()),
        );
        let app = Router::new()
            .route("/whoami", get(whoami))
            .route("/maybe", get(maybe))
            .with_state(endpoint.clone())
            .merge(token_routes(endpoint, "/oauth/token"));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        // The node's own server loop: it records each client's address,
        // which the token endpoint's backoff keys on.
        tokio::spawn(http_api::serve::serve(
            listener,
            app,
            http_api::serve::ServeLimits::default(),
            std::future::pending(),
        ));
        Server {
            base: format!("http://{addr}"),
            http: reqwest::Client::builder()
                .no_proxy()
                .build()
                .expect("client"),
            clock,
            credentials,
            acme,
            globex,
            revoked,
        }
    }

    fn token_request(&self) -> RequestBuilder {
        self.http.post(format!("{}/oauth/token", self.base))
    }

    fn form(&self, body: impl Into<String>) -> RequestBuilder {
        self.token_request()
            .header(CONTENT_TYPE, FORM)
            .body(body.into())
    }

    /// A token for `(client_id, secret)` by HTTP Basic; panics unless 200.
    async fn token(&self, client: &(String, String), scope: Option<&str>) -> Value {
        let body = match scope {
            Some(s) => format!("{GRANT}&scope={}", s.replace(' ', "+")),
            None => GRANT.to_string(),
        };
        let response = self
            .form(body)
            .basic_auth(&client.0, Some(&client.1))
            .send()
            .await
            .expect("send");
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.expect("json")
    }

    async fn whoami(&self, authorization: Option<&str>) -> reqwest::Response {
        let mut request = self.http.get(format!("{}/whoami", self.base));
        if let Some(a) = authorization {
            request = request.header(AUTHORIZATION, a);
        }
        request.send().await.expect("send")
    }
}

fn header(response: &reqwest::Response, name: reqwest::header::HeaderName) -> String {
    response
        .headers()
        .get(name)
        .map(|v| v.to_str().expect("ascii").to_string())
        .unwrap_or_default()
}

/// Every byte percent-encoded, as RFC 6749 §2.3.1 allows before Basic.
fn percent_encode_all(s: &str) -> String {
    s.bytes().map(|b| format!("%{b:02X}")).collect()
}

fn basic(id: &str, secret: &str) -> String {
    let pair = format!("{id}:{secret}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    )
}

#[tokio::test]
async fn tokens_by_basic_body_and_json_act_for_the_credentials_stakeholder() {
    let s = Server::start().await;
    let (id, secret) = s.acme.clone();
    let ways: Vec<(&str, RequestBuilder)> = vec![
        ("basic", s.form(GRANT).basic_auth(&id, Some(&secret))),
        (
            "basic, form-urlencoded parts",
            s.form(GRANT).header(
                AUTHORIZATION,
                basic(&percent_encode_all(&id), &percent_encode_all(&secret)),
            ),
        ),
        (
            "basic, client_id repeated in the body",
            s.form(format!("{GRANT}&client_id={id}"))
                .basic_auth(&id, Some(&secret)),
        ),
        (
            "body",
            s.form(format!(
                "{GRANT}&client_id={id}&client_secret={secret}&ignored=x"
            )),
        ),
        (
            "form with charset",
            s.token_request()
                .header(
                    CONTENT_TYPE,
                    "application/x-www-form-urlencoded; charset=UTF-8",
                )
                .body(format!("client_secret={secret}&{GRANT}&client_id={id}")),
        ),
        (
            "json",
            s.token_request().json(&json!({
                "grant_type": "client_credentials",
                "client_id": id,
                "client_secret": secret,
                "audience": "ignored",
            })),
        ),
    ];
    for (what, request) in ways {
        let response = request.send().await.expect("send");
        assert_eq!(response.status(), StatusCode::OK, "{what}");
        assert_eq!(header(&response, CACHE_CONTROL), "no-store", "{what}");
        assert!(
            header(&response, CONTENT_TYPE).starts_with("application/json"),
            "{what}"
        );
        let body: Value = response.json().await.expect("json");
        assert_eq!(body["token_type"], "Bearer", "{what}");
        assert_eq!(body["expires_in"], LIFETIME_S, "{what}");
        assert!(
            body.get("scope").is_none(),
            "{what}: no scope asked, none granted"
        );
        let token = body["access_token"].as_str().expect("token");
        let who = s.whoami(Some(&format!("Bearer {token}"))).await;
        assert_eq!(who.status(), StatusCode::OK, "{what}");
        let claims: Value = who.json().await.expect("claims");
        assert_eq!(claims["stakeholder"], "acme.example", "{what}");
        assert_eq!(claims["client_id"], id.as_str(), "{what}");
        assert_eq!(claims["exp"], NOW + LIFETIME_S, "{what}");
    }
}

#[tokio::test]
async fn a_token_of_one_organization_never_acts_for_another() {
    let s = Server::start().await;
    for (client, org) in [(&s.acme, "acme.example"), (&s.globex, "globex.example")] {
        let body = s.token(client, Some("twins:read")).await;
        assert_eq!(body["scope"], "twins:read");
        let token = body["access_token"].as_str().expect("token");
        let who = s.whoami(Some(&format!("Bearer {token}"))).await;
        let claims: Value = who.json().await.expect("claims");
        assert_eq!(claims["stakeholder"], org);
        assert_eq!(claims["scope"], json!(["twins:read"]));
        let maybe = s
            .http
            .get(format!("{}/maybe", s.base))
            .bearer_auth(token)
            .send()
            .await
            .expect("send");
        assert_eq!(maybe.text().await.expect("text"), org);
    }
    // Organization B's secret does not get a token for A's client id.
    let response = s
        .form(GRANT)
        .basic_auth(&s.acme.0, Some(&s.globex.1))
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn token_endpoint_refusals() {
    let s = Server::start().await;
    let (id, secret) = s.acme.clone();
    let (revoked_id, revoked_secret) = s.revoked.clone();
    let big = format!("{GRANT}&pad={}", "x".repeat(TOKEN_REQUEST_BODY_BYTES_MAX));
    // (what, request, status, error code, error_description contains)
    let cases: Vec<(&str, RequestBuilder, StatusCode, &str, &str)> = vec![
        (
            "wrong secret by basic",
            s.form(GRANT).basic_auth(&id, Some("wrong")),
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "unknown client_id or wrong client_secret",
        ),
        (
            "wrong secret in the body",
            s.form(format!("{GRANT}&client_id={id}&client_secret=wrong")),
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "unknown client_id or wrong client_secret",
        ),
        (
            "unknown client",
            s.form(GRANT)
                .basic_auth("sc_ffffffffffffffffffffffffffffffff", Some(&secret)),
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "unknown client_id or wrong client_secret",
        ),
        (
            "revoked client",
            s.form(GRANT)
                .basic_auth(&revoked_id, Some(&revoked_secret)),
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "revoked",
        ),
        (
            "no client authentication",
            s.form(GRANT),
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "no client authentication",
        ),
        (
            "client_id without secret",
            s.form(format!("{GRANT}&client_id={id}")),
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client_secret is missing",
        ),
        (
            "empty client_secret counts as absent",
            s.form(format!("{GRANT}&client_id={id}&client_secret=")),
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client_secret is missing",
        ),
        (
            "bearer scheme on the token endpoint",
            s.form(GRANT).bearer_auth("st1.x.y"),
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "unsupported client authentication",
        ),
        (
            "password grant",
            s.form("grant_type=password&username=a&password=b")
                .basic_auth(&id, Some(&secret)),
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "client_credentials",
        ),
        (
            "missing grant_type",
            s.form(format!("client_id={id}&client_secret={secret}")),
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "grant_type is missing",
        ),
        (
            "two authentication methods",
            s.form(format!("{GRANT}&client_secret={secret}"))
                .basic_auth(&id, Some(&secret)),
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "one client authentication method",
        ),
        (
            "client_id in the body differs from Basic",
            s.form(format!("{GRANT}&client_id={}", s.globex.0))
                .basic_auth(&id, Some(&secret)),
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "differs",
        ),
        (
            "client_secret without client_id",
            s.form(format!("{GRANT}&client_secret={secret}")),
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "without client_id",
        ),
        (
            "repeated parameter",
            s.form(format!("{GRANT}&{GRANT}"))
                .basic_auth(&id, Some(&secret)),
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "grant_type appears more than once",
        ),
        (
            "repeated JSON field",
            s.token_request()
                .header(CONTENT_TYPE, "application/json")
                .body(format!(
                    r#"{{"grant_type":"client_credentials","client_id":"{id}","client_id":"{id}","client_secret":"{secret}"}}"#
                )),
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "duplicate field",
        ),
        (
            "JSON number for a parameter",
            s.token_request().json(&json!({"grant_type": 1})),
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "JSON object of string parameters",
        ),
        (
            "text/plain body",
            s.token_request()
                .header(CONTENT_TYPE, "text/plain")
                .body(GRANT)
                .basic_auth(&id, Some(&secret)),
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Content-Type",
        ),
        (
            "no content type",
            s.token_request().body(GRANT).basic_auth(&id, Some(&secret)),
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Content-Type",
        ),
        (
            "Basic that is not base64",
            s.form(GRANT).header(AUTHORIZATION, "Basic %%%"),
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Authorization: Basic",
        ),
        (
            "Basic without a colon",
            s.form(GRANT).header(
                AUTHORIZATION,
                format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(&id)
                ),
            ),
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Authorization: Basic",
        ),
        (
            "Basic with a bad percent escape",
            s.form(GRANT)
                .header(AUTHORIZATION, basic(&id, &format!("{secret}%zz"))),
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "form-urlencoded",
        ),
        (
            "scope not allowed",
            s.form(format!("{GRANT}&scope=twins:read+admin"))
                .basic_auth(&id, Some(&secret)),
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            "admin",
        ),
        (
            "body over the limit",
            s.form(big).basic_auth(&id, Some(&secret)),
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request",
            "",
        ),
    ];
    for (what, request, status, error, description) in cases {
        let response = request.send().await.expect("send");
        assert_eq!(response.status(), status, "{what}");
        assert_eq!(header(&response, CACHE_CONTROL), "no-store", "{what}");
        let challenge = header(&response, WWW_AUTHENTICATE);
        // Credentials in the body get no Basic challenge (a browser would
        // open its own login prompt).
        let in_body = matches!(
            what,
            "wrong secret in the body"
                | "client_id without secret"
                | "empty client_secret counts as absent"
        );
        if status == StatusCode::UNAUTHORIZED && !in_body {
            assert_eq!(challenge, BASIC_CHALLENGE, "{what}");
        } else {
            assert_eq!(challenge, "", "{what}");
        }
        let body: Value = response.json().await.expect("json error");
        assert_eq!(body["error"], error, "{what}: {body}");
        let got = body["error_description"].as_str().expect("description");
        assert!(got.contains(description), "{what}: {got}");
        assert!(body.get("access_token").is_none(), "{what}");
    }
    // The same client with its right secret gets a token: the refusals
    // above are not an endpoint that refuses everything.
    s.token(&s.acme, None).await;
}

#[tokio::test]
async fn bearer_refusals() {
    let s = Server::start().await;
    let good = s.token(&s.acme, None).await["access_token"]
        .as_str()
        .expect("token")
        .to_string();
    let other_key = TokenKey::from_bytes([8; 32]).issue(&TokenClaims {
        client_id: s.acme.0.clone(),
        stakeholder: "acme.example".into(),
        scope: vec![],
        iat: NOW,
        exp: NOW + LIFETIME_S,
    });
    let mut tampered = good.clone().into_bytes();
    let last = tampered.len() - 2;
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).expect("ascii");
    let basic_auth = basic(&s.acme.0, &s.acme.1);
    // (what, Authorization, status, challenge starts with, body error)
    let cases: Vec<(&str, Option<String>, StatusCode, String, &str)> = vec![
        (
            "no Authorization",
            None,
            StatusCode::UNAUTHORIZED,
            BEARER_CHALLENGE.into(),
            "missing_token",
        ),
        (
            "Basic instead of Bearer",
            Some(basic_auth),
            StatusCode::UNAUTHORIZED,
            BEARER_CHALLENGE.into(),
            "missing_token",
        ),
        (
            "Bearer without a token",
            Some("Bearer ".into()),
            StatusCode::BAD_REQUEST,
            format!(r#"{BEARER_CHALLENGE}, error="invalid_request""#),
            "invalid_request",
        ),
        (
            "garbage token",
            Some("Bearer not-a-token".into()),
            StatusCode::UNAUTHORIZED,
            format!(
                r#"{BEARER_CHALLENGE}, error="invalid_token", error_description="malformed token"#
            ),
            "invalid_token",
        ),
        (
            "token under another key",
            Some(format!("Bearer {other_key}")),
            StatusCode::UNAUTHORIZED,
            format!(
                r#"{BEARER_CHALLENGE}, error="invalid_token", error_description="token signature does not verify""#
            ),
            "invalid_token",
        ),
        (
            "tampered token",
            Some(format!("Bearer {tampered}")),
            StatusCode::UNAUTHORIZED,
            format!(r#"{BEARER_CHALLENGE}, error="invalid_token""#),
            "invalid_token",
        ),
    ];
    for (what, authorization, status, challenge, error) in cases {
        let response = s.whoami(authorization.as_deref()).await;
        assert_eq!(response.status(), status, "{what}");
        let got = header(&response, WWW_AUTHENTICATE);
        assert!(got.starts_with(&challenge), "{what}: {got}");
        // The problem details of every other error of the API, the RFC 6750
        // code as `error` (and `message` for clients of the earlier
        // `{error, message}` body).
        assert_eq!(
            header(&response, CONTENT_TYPE),
            "application/problem+json",
            "{what}"
        );
        let body: api_types::Problem = response.json().await.expect("problem details");
        assert_eq!(body.status, status.as_u16(), "{what}");
        assert_eq!(body.error.as_deref(), Some(error), "{what}");
        assert!(!body.detail.is_empty(), "{what}");
        assert_eq!(
            body.message.as_deref(),
            Some(body.detail.as_str()),
            "{what}"
        );

        // MaybeCaller: anonymous only without any Authorization header.
        let mut request = s.http.get(format!("{}/maybe", s.base));
        if let Some(a) = &authorization {
            request = request.header(AUTHORIZATION, a);
        }
        let response = request.send().await.expect("send");
        if authorization.is_none() {
            assert_eq!(response.status(), StatusCode::OK, "{what}");
            assert_eq!(response.text().await.expect("text"), "anonymous");
        } else {
            assert_eq!(
                response.status(),
                status,
                "{what}: never silently anonymous"
            );
        }
    }
    // Two Authorization headers.
    let response = s
        .http
        .get(format!("{}/whoami", s.base))
        .header(AUTHORIZATION, format!("Bearer {good}"))
        .header(AUTHORIZATION, format!("Bearer {good}"))
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    // The scheme name is case-insensitive; the good token works.
    let response = s.whoami(Some(&format!("bearer {good}"))).await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn expired_tokens_are_refused_when_the_clock_moves_on() {
    let s = Server::start().await;
    let token = s.token(&s.acme, None).await["access_token"]
        .as_str()
        .expect("token")
        .to_string();
    let bearer = format!("Bearer {token}");
    s.clock.set((NOW + LIFETIME_S - 1) * 1000);
    assert_eq!(s.whoami(Some(&bearer)).await.status(), StatusCode::OK);
    s.clock.set((NOW + LIFETIME_S) * 1000);
    let response = s.whoami(Some(&bearer)).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        header(&response, WWW_AUTHENTICATE),
        format!(
            r#"{BEARER_CHALLENGE}, error="invalid_token", error_description="token expired at {} (Unix seconds)""#,
            NOW + LIFETIME_S
        )
    );
    // A new token at the new time works.
    let fresh = s.token(&s.acme, None).await;
    let fresh = format!("Bearer {}", fresh["access_token"].as_str().expect("token"));
    assert_eq!(s.whoami(Some(&fresh)).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn revoking_a_credential_ends_its_tokens_at_once() {
    let s = Server::start().await;
    let acme = format!(
        "Bearer {}",
        s.token(&s.acme, None).await["access_token"]
            .as_str()
            .expect("token")
    );
    let globex = format!(
        "Bearer {}",
        s.token(&s.globex, None).await["access_token"]
            .as_str()
            .expect("token")
    );
    assert_eq!(s.whoami(Some(&acme)).await.status(), StatusCode::OK);
    s.credentials.write().revoke(&s.acme.0).expect("revoke");
    let response = s.whoami(Some(&acme)).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(header(&response, WWW_AUTHENTICATE).contains("revoked"));
    assert_eq!(s.whoami(Some(&globex)).await.status(), StatusCode::OK);
}

/// Issue 13, item 9: failed authentications back off per client id (5 free,
/// then 1 s doubling) and per address (20 free), answered 429 `slow_down`
/// with `Retry-After` before any secret is checked; a success forgets the
/// client id's failures; other clients and addresses are not affected.
#[tokio::test]
async fn failed_authentications_back_off_per_client_id_and_per_address() {
    let s = Server::start().await;
    let wrong = (s.acme.0.clone(), "wrong".to_string());
    let unknown = (
        "sc_ffffffffffffffffffffffffffffffff".to_string(),
        "x".to_string(),
    );
    let attempt =
        |client: &(String, String)| s.form(GRANT).basic_auth(&client.0, Some(&client.1)).send();
    let status = |r: &reqwest::Response| r.status();
    for i in 0..6 {
        let r = attempt(&wrong).await.expect("send");
        assert_eq!(status(&r), StatusCode::UNAUTHORIZED, "failure {i}");
    }
    // Locked: even the right secret gets 429, with when to come back.
    let r = attempt(&s.acme).await.expect("send");
    assert_eq!(status(&r), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(header(&r, reqwest::header::RETRY_AFTER), "1");
    assert_eq!(header(&r, CACHE_CONTROL), "no-store");
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["error"], "slow_down", "{body}");
    // Another client from the same address is not affected.
    s.token(&s.globex, None).await;
    // The lock doubles: a failure at the end of the first lock locks for 2 s.
    s.clock.advance_ms(1000);
    let r = attempt(&wrong).await.expect("send");
    assert_eq!(status(&r), StatusCode::UNAUTHORIZED);
    let r = attempt(&s.acme).await.expect("send");
    assert_eq!(status(&r), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(header(&r, reqwest::header::RETRY_AFTER), "2");
    s.clock.advance_ms(2000);
    // The right secret after the lock works, and forgets the failures.
    s.token(&s.acme, None).await;
    for i in 0..5 {
        let r = attempt(&wrong).await.expect("send");
        assert_eq!(status(&r), StatusCode::UNAUTHORIZED, "free again, {i}");
    }
    s.token(&s.acme, None).await;

    // Per address: after 15 min everything is forgotten; then unknown
    // client ids count against the address only, and past 20 failures
    // every client from it waits.
    s.clock.advance_ms(15 * 60 * 1000);
    for i in 0..21 {
        let r = attempt(&unknown).await.expect("send");
        assert_eq!(status(&r), StatusCode::UNAUTHORIZED, "failure {i}");
    }
    let r = attempt(&s.globex).await.expect("send");
    assert_eq!(status(&r), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(header(&r, reqwest::header::RETRY_AFTER), "1");
    s.clock.advance_ms(1000);
    s.token(&s.globex, None).await;
}

#[test]
fn client_addresses_are_keyed_by_ipv4_address_and_ipv6_slash_64() {
    use http_api::oauth::address_key;
    use std::net::IpAddr;
    let ip = |s: &str| s.parse::<IpAddr>().expect("ip");
    assert_eq!(address_key(ip("192.0.2.7")), ip("192.0.2.7"));
    assert_eq!(address_key(ip("::ffff:192.0.2.7")), ip("192.0.2.7"));
    assert_eq!(
        address_key(ip("2001:db8:1:2:aaaa:bbbb:cccc:dddd")),
        ip("2001:db8:1:2::")
    );
    assert_eq!(
        address_key(ip("2001:db8:1:2::1")),
        address_key(ip("2001:db8:1:2:ffff::9"))
    );
    assert_ne!(
        address_key(ip("2001:db8:1:2::1")),
        address_key(ip("2001:db8:1:3::1"))
    );
}

//! One problem-details format for every error, in each API's own media type:
//!
//! * the JSON APIs (`/api/v1`, `/oauth` bearer errors, unknown paths):
//!   RFC 9457 `application/problem+json` (`type`, `title`, `status`,
//!   `detail`; `error` and `message` kept as extension members for clients of
//!   the earlier `{"error","message"}` shape);
//! * SCRAPI (`/entries`, `/.well-known/...`, `/api/v1/statements/batch`):
//!   RFC 9290 Concise Problem Details, `application/concise-problem-details+cbor`
//!   (`{-1: title, -2: detail}`);
//! * the C2SP log and witness routes (`/log/...`, `/add-checkpoint`,
//!   `/{origin hash}/checkpoint`): `text/plain`, one line saying what is
//!   wrong, as C2SP clients (tlog-tiles, tlog-witness) expect.
//!
//! Handlers answer their own errors in these formats. [`fill_errors`], a
//! middleware on the composed application, gives the rest one too: axum's
//! 404 and 405 (empty bodies), its extractor rejections (plain text, e.g. the
//! body limit's 413, which then states the route's limit, recorded by
//! [`body_limit`]), and URIs and header sections over [`URI_BYTES_MAX`] and
//! [`HEADER_BYTES_MAX`] (414, 431). Deliberately left alone: the OAuth token
//! endpoint's errors (RFC 6749 §5.2 prescribes their JSON) and the
//! Archivist API's (the DataTrails `{code, message, details}` its clients
//! parse). Beyond hyper's own limits, set above these ([`crate::serve`]: a
//! ~400 KiB header buffer, [`crate::serve::HYPER_HEADER_COUNT_MAX`] fields),
//! hyper answers 431 itself, before any service runs, with an empty body.

use axum::extract::Request;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Longest request target (path and query) answered; longer ones get 414.
/// Every identifier in the API fits in a few hundred bytes.
pub const URI_BYTES_MAX: usize = 8 * 1024;
/// Largest header section (names and values) answered; larger ones get 431.
pub const HEADER_BYTES_MAX: usize = 32 * 1024;
/// Most header fields answered; more get 431. hyper's own limit is set above
/// it ([`crate::serve`]), so that this answer, with its body, is the one
/// clients see.
pub const HEADER_COUNT_MAX: usize = 100;
/// Largest error body read back to be rewritten (axum's rejections are a
/// line of text).
const REWRITTEN_BODY_BYTES_MAX: usize = 64 * 1024;

const PROBLEM_JSON: &str = "application/problem+json";
const PROBLEM_CBOR: &str = "application/concise-problem-details+cbor";

/// The error format of a path's API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// RFC 9457 JSON.
    Json,
    /// RFC 9290 CBOR.
    Cbor,
    /// One line of text (C2SP).
    Text,
}

/// The API family a request path belongs to.
pub fn family(path: &str) -> Family {
    if path == "/entries"
        || path.starts_with("/entries/")
        || path.starts_with("/.well-known/")
        || path == "/api/v1/statements/batch"
    {
        Family::Cbor
    } else if path == "/log"
        || path.starts_with("/log/")
        || path == "/add-checkpoint"
        || path.ends_with("/checkpoint")
    {
        Family::Text
    } else {
        Family::Json
    }
}

/// An error answer of `status` saying `detail`, in `family`'s format.
pub fn problem(family: Family, status: StatusCode, detail: &str) -> Response {
    let title = status.canonical_reason().unwrap_or("Error");
    match family {
        Family::Json => json_problem(status, code(status), detail),
        Family::Cbor => {
            let value = ciborium::Value::Map(vec![
                (
                    ciborium::Value::from(-1),
                    ciborium::Value::Text(title.into()),
                ),
                (
                    ciborium::Value::from(-2),
                    ciborium::Value::Text(detail.into()),
                ),
            ]);
            let mut body = Vec::new();
            // Writing CBOR to a Vec cannot fail.
            let _ = ciborium::into_writer(&value, &mut body);
            (status, [(header::CONTENT_TYPE, PROBLEM_CBOR)], body).into_response()
        }
        Family::Text => (
            status,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            format!("{detail}\n"),
        )
            .into_response(),
    }
}

/// An RFC 9457 problem (`application/problem+json`, [`api_types::Problem`])
/// of `status` with the short code `code` (its `error` member), saying
/// `detail`: every JSON error body of the native API is this one type.
pub fn json_problem(status: StatusCode, code: &str, detail: &str) -> Response {
    let body = api_types::Problem {
        kind: "about:blank".to_string(),
        title: status.canonical_reason().unwrap_or("Error").to_string(),
        status: status.as_u16(),
        detail: detail.to_string(),
        error: Some(code.to_string()),
        message: Some(detail.to_string()),
    };
    // A struct of strings and a number always serializes.
    let text = serde_json::to_string(&body).unwrap_or_default();
    (status, [(header::CONTENT_TYPE, PROBLEM_JSON)], text).into_response()
}

/// The `error` member of JSON problems: a stable snake_case word per status.
fn code(status: StatusCode) -> &'static str {
    match status {
        StatusCode::BAD_REQUEST => "bad_request",
        StatusCode::UNAUTHORIZED => "unauthorized",
        StatusCode::FORBIDDEN => "forbidden",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::CONFLICT => "conflict",
        StatusCode::PAYLOAD_TOO_LARGE => "too_large",
        StatusCode::URI_TOO_LONG => "uri_too_long",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::UNPROCESSABLE_ENTITY => "unprocessable",
        StatusCode::TOO_MANY_REQUESTS => "too_many_requests",
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => "headers_too_large",
        StatusCode::SERVICE_UNAVAILABLE => "unavailable",
        s if s.is_server_error() => "internal",
        _ => "error",
    }
}

/// The body limit of a route, recorded on its 413 answers so that
/// [`fill_errors`] can state it.
#[derive(Debug, Clone, Copy)]
struct BodyLimitBytes(usize);

/// `DefaultBodyLimit::max(bytes)`, whose 413 answers state `bytes`.
pub fn body_limit(bytes: usize) -> BodyLimit {
    BodyLimit { bytes }
}

/// The layer of [`body_limit`].
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit {
    bytes: usize,
}

impl<S> tower::Layer<S> for BodyLimit {
    type Service = MarkLimit<<axum::extract::DefaultBodyLimit as tower::Layer<S>>::Service>;
    fn layer(&self, inner: S) -> Self::Service {
        MarkLimit {
            inner: tower::Layer::layer(&axum::extract::DefaultBodyLimit::max(self.bytes), inner),
            bytes: self.bytes,
        }
    }
}

/// The service of [`BodyLimit`]: records the limit on 413 answers.
#[derive(Debug, Clone)]
pub struct MarkLimit<S> {
    inner: S,
    bytes: usize,
}

impl<S, B> tower::Service<axum::http::Request<B>> for MarkLimit<S>
where
    S: tower::Service<axum::http::Request<B>, Response = Response>,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<Response, S::Error>> + Send + 'static>,
    >;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: axum::http::Request<B>) -> Self::Future {
        let bytes = self.bytes;
        let answer = self.inner.call(request);
        Box::pin(async move {
            let mut response = answer.await?;
            if response.status() == StatusCode::PAYLOAD_TOO_LARGE {
                response.extensions_mut().insert(BodyLimitBytes(bytes));
            }
            Ok(response)
        })
    }
}

/// Middleware giving every error answer a problem body in its API's format
/// (see the module documentation); answers 414 and 431 itself.
pub async fn fill_errors(request: Request, next: Next) -> Response {
    let path = request.uri().path().to_string();
    let method = request.method().clone();
    let family = family(&path);
    let target_bytes = request
        .uri()
        .path_and_query()
        .map_or(0, |p| p.as_str().len());
    if target_bytes > URI_BYTES_MAX {
        return problem(
            family,
            StatusCode::URI_TOO_LONG,
            &format!("the request target has {target_bytes} bytes; at most {URI_BYTES_MAX}"),
        );
    }
    let header_bytes: usize = request
        .headers()
        .iter()
        .map(|(n, v)| n.as_str().len() + v.len() + 4)
        .sum();
    let header_count = request.headers().len();
    if header_count > HEADER_COUNT_MAX {
        return problem(
            family,
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            &format!("the request has {header_count} header fields; at most {HEADER_COUNT_MAX}"),
        );
    }
    if header_bytes > HEADER_BYTES_MAX {
        return problem(
            family,
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            &format!("the request headers have {header_bytes} bytes; at most {HEADER_BYTES_MAX}"),
        );
    }
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let plain = content_type.is_empty() || content_type.starts_with("text/plain");
    if !plain || (family == Family::Text && !response_is_empty(&response)) {
        // Already in its API's format.
        return response;
    }
    let allow = response.headers().get(header::ALLOW).cloned();
    let retry_after = response.headers().get(header::RETRY_AFTER).cloned();
    let limit = response.extensions().get::<BodyLimitBytes>().copied();
    let text = axum::body::to_bytes(response.into_body(), REWRITTEN_BODY_BYTES_MAX)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        .unwrap_or_default();
    let detail = detail_for(status, &method, &path, &text, allow.as_ref(), limit);
    let mut answer = problem(family, status, &detail);
    for (name, value) in [(header::ALLOW, allow), (header::RETRY_AFTER, retry_after)] {
        if let Some(v) = value {
            answer.headers_mut().insert(name, v);
        }
    }
    answer
}

fn response_is_empty(response: &Response) -> bool {
    use axum::body::HttpBody;
    response.body().size_hint().exact() == Some(0)
}

fn detail_for(
    status: StatusCode,
    method: &Method,
    path: &str,
    text: &str,
    allow: Option<&HeaderValue>,
    limit: Option<BodyLimitBytes>,
) -> String {
    match status {
        StatusCode::NOT_FOUND if text.is_empty() => format!("no resource at {path}"),
        StatusCode::METHOD_NOT_ALLOWED => {
            match allow
                .and_then(|v| v.to_str().ok())
                .filter(|a| !a.is_empty())
            {
                Some(allowed) => format!("{method} is not allowed on {path}; allowed: {allowed}"),
                None => format!("{method} is not allowed on {path}"),
            }
        }
        StatusCode::PAYLOAD_TOO_LARGE => match limit {
            Some(BodyLimitBytes(bytes)) => {
                format!("the request body exceeds this route's limit of {bytes} bytes")
            }
            None if text.is_empty() => "the request body is too large".into(),
            None => text.to_string(),
        },
        _ if text.is_empty() => status.canonical_reason().unwrap_or("error").to_string(),
        _ => text.to_string(),
    }
}

//! The web dashboard, served at `/` (the page) and `/ui/{file}` (its
//! embedded ES modules, CSS and icon, from the `dashboard` crate). Views are
//! hash routes (`/#/devices/door-1`), so one page serves every shareable URL.
//!
//! The answers carry a strict Content-Security-Policy (scripts, styles and
//! connections to this origin only, no inline script, no framing), an `ETag`
//! of the build's assets with `no-cache` (a new binary is picked up at once,
//! an unchanged one costs a 304), and gzip when the client asks.
//!
//! Deliberately absent: any data or authorization: the pages read the
//! public API like any other client.

use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

/// What the pages may load and connect to: this origin only; `blob:` for
/// the CSV export's download link, `data:` for inline SVG icons.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; \
     base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The dashboard's routes (mount at the root).
pub fn dashboard_router() -> Router {
    let etag = format!("\"{}\"", ::dashboard::version_tag());
    let page_tag = etag.clone();
    Router::new()
        .route(
            "/",
            get(move |headers: HeaderMap| async move {
                serve(::dashboard::index(), &page_tag, &headers)
            }),
        )
        .route(
            "/ui/{file}",
            get(
                move |Path(file): Path<String>, headers: HeaderMap| async move {
                    match ::dashboard::asset(&file).filter(|a| a.name != "index.html") {
                        Some(a) => serve(a, &etag, &headers),
                        None => crate::problem::json_problem(
                            StatusCode::NOT_FOUND,
                            "not_found",
                            &format!("the dashboard has no file {file:?}"),
                        ),
                    }
                },
            ),
        )
        .layer(tower_http::compression::CompressionLayer::new().gzip(true))
}

fn serve(asset: &'static ::dashboard::Asset, etag: &str, headers: &HeaderMap) -> Response {
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(header::CONTENT_TYPE, asset.content_type)], asset.bytes).into_response()
    };
    let h = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

//! The OpenAPI document against the production application (`node::app`):
//! every route under `/api/v1`, `/oauth`, `/entries`, `/.well-known`, `/metrics`,
//! `/healthz` and `/readyz` is
//! documented with its methods, and every documented operation is routed. A
//! route missing either way fails, naming it.

use std::collections::BTreeSet;

use node::testing::TestNode;

const ORIGIN: &str = "openapi.test/log";

/// The prefixes of the APIs the document covers (the C2SP log, witness and
/// Archivist APIs have their own specifications).
const DOCUMENTED_PREFIXES: &[&str] = &[
    "/api/v1",
    "/oauth",
    "/entries",
    "/.well-known",
    "/metrics",
    "/healthz",
    "/readyz",
];

/// Routes the production application has at least: fewer found means the
/// route listing below stopped working, not that routes went away.
const ROUTES_MIN: usize = 29;

/// The paths of a router, read from its `Debug` form: axum keeps no other
/// public list of routes. The form names each route as `RouteId(n): "path"`;
/// [`ROUTES_MIN`] catches a change of that form.
fn routed_paths(router: &axum::Router) -> BTreeSet<String> {
    let debug = format!("{router:?}");
    debug
        .split("RouteId(")
        .skip(1)
        .filter_map(|chunk| {
            let rest = chunk.split_once("): \"")?.1;
            Some(rest.split('"').next()?.to_string())
        })
        .filter(|p| {
            DOCUMENTED_PREFIXES
                .iter()
                .any(|prefix| p.starts_with(prefix))
        })
        .collect()
}

/// A concrete request path for a route path: each `{parameter}` replaced.
fn concrete(path: &str) -> String {
    path.split('/')
        .map(|segment| {
            if segment.starts_with('{') {
                "x0"
            } else {
                segment
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// The methods the application routes at `path`, from the `Allow` header of
/// the 405 it answers to a method no route takes (TRACE). HEAD, which axum
/// adds to every GET, is left out.
async fn routed_methods(base: &str, path: &str) -> BTreeSet<String> {
    let response = reqwest::Client::new()
        .request(reqwest::Method::TRACE, format!("{base}{}", concrete(path)))
        .send()
        .await
        .expect("TRACE request");
    assert_eq!(
        response.status(),
        405,
        "TRACE {path} is not answered 405: is the path routed?"
    );
    let allow = response
        .headers()
        .get("allow")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    allow
        .split(',')
        .map(|m| m.trim().to_lowercase())
        .filter(|m| !m.is_empty() && m != "head")
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_and_the_routes_agree() {
    let node = TestNode::start(ORIGIN).await;
    let (status, served) = {
        let response = reqwest::get(format!("{}/api/v1/openapi.json", node.base))
            .await
            .expect("GET openapi.json");
        let status = response.status().as_u16();
        (status, response.text().await.expect("body"))
    };
    assert_eq!(status, 200);
    assert_eq!(
        served,
        http_api::openapi::document_json(),
        "the served document is the generated one"
    );
    let doc: serde_json::Value = serde_json::from_str(&served).expect("JSON");

    let mut documented = BTreeSet::new();
    for (path, operations) in doc["paths"].as_object().expect("paths") {
        for method in operations.as_object().expect("operations").keys() {
            documented.insert((path.clone(), method.clone()));
        }
    }
    let paths = routed_paths(&node::app(&node.node));
    assert!(
        paths.len() >= ROUTES_MIN,
        "found only {} routes in the router's Debug form ({paths:?}): has axum changed it?",
        paths.len()
    );
    let mut routed = BTreeSet::new();
    for path in &paths {
        for method in routed_methods(&node.base, path).await {
            routed.insert((path.clone(), method));
        }
    }
    // Documented paths the router does not list: probed too, so that the
    // answer says what is wrong with them.
    for (path, _) in &documented {
        if !paths.contains(path) {
            let response = reqwest::Client::new()
                .request(
                    reqwest::Method::TRACE,
                    format!("{}{}", node.base, concrete(path)),
                )
                .send()
                .await
                .expect("TRACE request");
            assert_ne!(
                response.status(),
                405,
                "{path} is routed but was not listed"
            );
        }
    }
    let undocumented: Vec<_> = routed.difference(&documented).collect();
    let unrouted: Vec<_> = documented.difference(&routed).collect();
    assert!(
        undocumented.is_empty() && unrouted.is_empty(),
        "routes not in the OpenAPI document (annotate the handler with #[utoipa::path] and \
         list it in http_api::openapi): {undocumented:?}; documented but not routed: {unrouted:?}"
    );
    node.node.projector.stop();
}

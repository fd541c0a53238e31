//! The OpenAPI document is generated (`http_api::openapi`), and the copy
//! committed at `crates/http-api/openapi.json` is what it generates: a
//! change of a wire type or a handler's annotation shows in review as a
//! change of that file. That every route is documented, and every documented
//! path routed, is checked on the production application in `node`'s tests
//! (`twin_api::the_openapi_document_and_the_routes_agree`).

use std::path::Path;

/// Where the committed document is.
fn committed_path() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("openapi.json")
}

/// The generated document equals the committed one. With
/// `SECTWIN_UPDATE_OPENAPI=1` the test writes the generated one instead.
#[test]
fn the_committed_openapi_document_is_the_generated_one() {
    let generated = http_api::openapi::document_json();
    let path = committed_path();
    if std::env::var_os("SECTWIN_UPDATE_OPENAPI").is_some_and(|v| v == "1") {
        std::fs::write(&path, generated).expect("write openapi.json");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed != generated {
        let first_difference = committed
            .lines()
            .zip(generated.lines())
            .enumerate()
            .find(|(_, (a, b))| a != b)
            .map(|(i, (a, b))| format!("line {}: committed {a:?}, generated {b:?}", i + 1))
            .unwrap_or_else(|| "one is a prefix of the other".to_string());
        panic!(
            "{} is not the generated OpenAPI document ({first_difference}).\n\
             If the change of the API is intended, update it with\n\
             \tSECTWIN_UPDATE_OPENAPI=1 cargo test -p http-api --test it openapi\n\
             and commit the file.",
            path.display()
        );
    }
}

/// The document is OpenAPI 3.1, names its security schemes, and gives every
/// operation a summary, a tag and at least one response.
#[test]
fn the_openapi_document_is_complete() {
    let doc: serde_json::Value =
        serde_json::from_str(http_api::openapi::document_json()).expect("JSON");
    assert!(doc["openapi"]
        .as_str()
        .is_some_and(|v| v.starts_with("3.1")));
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    assert_eq!(
        schemes["oauth2"]["flows"]["clientCredentials"]["tokenUrl"],
        "/oauth/token"
    );
    let paths = doc["paths"].as_object().expect("paths");
    assert!(paths.len() >= 29, "only {} paths", paths.len());
    let mut operation_ids = std::collections::BTreeSet::new();
    for (path, operations) in paths {
        for (method, op) in operations.as_object().expect("operations") {
            let at = format!("{} {path}", method.to_uppercase());
            assert!(
                op["summary"].as_str().is_some_and(|s| !s.is_empty()),
                "{at}: no summary"
            );
            let id = op["operationId"].as_str().unwrap_or_default();
            assert!(
                operation_ids.insert(id.to_string()),
                "{at}: operationId {id:?} twice"
            );
            assert!(
                op["tags"].as_array().is_some_and(|t| !t.is_empty()),
                "{at}: no tag"
            );
            assert!(
                op["responses"].as_object().is_some_and(|r| !r.is_empty()),
                "{at}: no response"
            );
        }
    }
    // Every schema referenced is defined.
    let text = http_api::openapi::document_json();
    for reference in text.split("\"$ref\": \"#/components/schemas/").skip(1) {
        let name = reference.split('"').next().unwrap_or_default();
        assert!(
            doc["components"]["schemas"].get(name).is_some(),
            "schema {name} is referenced but not defined"
        );
    }
}

/// The device filters documented are the attributes the store can search:
/// the typed queries accept exactly the parameters they document, so a
/// searchable attribute missing from them could not be searched.
#[test]
fn documented_device_filters_are_the_searchable_attributes() {
    let doc: serde_json::Value =
        serde_json::from_str(http_api::openapi::document_json()).expect("JSON");
    let searchable: std::collections::BTreeSet<&str> = twin_store::store::SEARCH_ATTRIBUTES
        .iter()
        .copied()
        .collect();
    for (path, paging) in [("/api/v1/devices", true), ("/api/v1/devices/count", false)] {
        let names: std::collections::BTreeSet<&str> = doc["paths"][path]["get"]["parameters"]
            .as_array()
            .expect("parameters")
            .iter()
            .filter_map(|p| p["name"].as_str())
            .filter(|n| !(paging && (*n == "page_size" || *n == "page_token")))
            .collect();
        assert_eq!(names, searchable, "{path}");
    }
}

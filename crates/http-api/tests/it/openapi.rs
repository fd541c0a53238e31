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
    // Every schema and response referenced is defined.
    let text = http_api::openapi::document_json();
    for kind in ["schemas", "responses"] {
        let prefix = format!("\"$ref\": \"#/components/{kind}/");
        for reference in text.split(prefix.as_str()).skip(1) {
            let name = reference.split('"').next().unwrap_or_default();
            assert!(
                doc["components"][kind].get(name).is_some(),
                "{kind} {name} is referenced but not defined"
            );
        }
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

/// Every 401 of the document is the one answer of a refused bearer token
/// (problem details, like every other error of `/api/v1`), and every route
/// that reads a bearer token documents it; the token endpoint's 401 alone
/// is RFC 6749's body, which OAuth clients parse.
#[test]
fn every_401_is_the_problem_of_a_refused_bearer_token() {
    let doc: serde_json::Value =
        serde_json::from_str(http_api::openapi::document_json()).expect("JSON");
    let unauthorized = &doc["components"]["responses"]["Unauthorized"];
    assert_eq!(
        unauthorized["content"]["application/problem+json"]["schema"]["$ref"],
        "#/components/schemas/Problem",
        "{unauthorized}"
    );
    assert!(unauthorized["headers"]["WWW-Authenticate"].is_object());
    let mut bearer_routes = 0;
    for (path, operations) in doc["paths"].as_object().expect("paths") {
        for (method, op) in operations.as_object().expect("operations") {
            let at = format!("{} {path}", method.to_uppercase());
            let answer = &op["responses"]["401"];
            if path == "/oauth/token" {
                assert_eq!(
                    answer["content"]["application/json"]["schema"]["$ref"],
                    "#/components/schemas/OAuthError",
                    "{at}"
                );
                continue;
            }
            let reads_bearer = op["security"]
                .as_array()
                .is_some_and(|s| s.iter().any(|r| r.get("bearer").is_some()));
            if reads_bearer {
                bearer_routes += 1;
                assert!(
                    !answer.is_null(),
                    "{at} reads a bearer token but documents no 401"
                );
            }
            if !answer.is_null() {
                assert_eq!(
                    answer["$ref"], "#/components/responses/Unauthorized",
                    "{at}: {answer}"
                );
            }
        }
    }
    assert!(bearer_routes >= 15, "only {bearer_routes} bearer routes");
}

/// A field that may be absent or null (`Option`) is never `required`; every
/// other field is, but for those serde fills in when absent (listed here).
#[test]
fn optional_fields_and_only_they_are_not_required() {
    let doc: serde_json::Value =
        serde_json::from_str(http_api::openapi::document_json()).expect("JSON");
    let defaulted = [
        ("CreateSubscription", "kinds"),
        ("TwinSummary", "asset_attributes"),
    ];
    fn nullable(property: &serde_json::Value) -> bool {
        let null = serde_json::Value::from("null");
        property["type"] == null
            || property["type"]
                .as_array()
                .is_some_and(|types| types.contains(&null))
            || ["oneOf", "anyOf"].iter().any(|k| {
                property[*k]
                    .as_array()
                    .is_some_and(|alternatives| alternatives.iter().any(nullable))
            })
    }
    fn walk(
        name: &str,
        schema: &serde_json::Value,
        defaulted: &[(&str, &str)],
        found: &mut Vec<String>,
    ) {
        if let Some(properties) = schema["properties"].as_object() {
            let required: Vec<&str> = schema["required"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|r| r.as_str())
                .collect();
            for (field, property) in properties {
                let is_required = required.contains(&field.as_str());
                let excused = defaulted.contains(&(name, field.as_str()));
                if nullable(property) && is_required {
                    found.push(format!("{name}.{field} may be null but is required"));
                }
                if !nullable(property) && !is_required && !excused {
                    found.push(format!("{name}.{field} is never null but not required"));
                }
                walk(name, property, defaulted, found);
            }
        }
        for k in ["oneOf", "anyOf", "allOf"] {
            for alternative in schema[k].as_array().into_iter().flatten() {
                walk(name, alternative, defaulted, found);
            }
        }
        if schema["items"].is_object() {
            walk(name, &schema["items"], defaulted, found);
        }
    }
    let mut found = Vec::new();
    for (name, schema) in doc["components"]["schemas"].as_object().expect("schemas") {
        walk(name, schema, &defaulted, &mut found);
    }
    assert!(found.is_empty(), "{found:#?}");
    // And the query parameters: an `Option` is not required, but for
    // VexQuery's model, which the service refuses to go without.
    for (path, operations) in doc["paths"].as_object().expect("paths") {
        for op in operations.as_object().expect("operations").values() {
            for p in op["parameters"].as_array().into_iter().flatten() {
                let required = p["required"] == true;
                let in_path = p["in"] == "path";
                let name = p["name"].as_str().unwrap_or_default();
                let exception = path == "/api/v1/vex" && name == "model";
                assert_eq!(
                    required,
                    in_path || exception,
                    "{path} {name}: required {required}"
                );
            }
        }
    }
}

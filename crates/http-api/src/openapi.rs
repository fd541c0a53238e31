//! The OpenAPI 3.1 document of the native HTTP API (`/api/v1`, the OAuth
//! token endpoint, SCRAPI), generated with `utoipa` from the handlers'
//! `#[utoipa::path]` annotations and the wire types of `api_types`: it is
//! never written by hand. Served at `/api/v1/openapi.json`; a committed copy
//! (`crates/http-api/openapi.json`) is compared with it by a snapshot test,
//! and a test of `node` checks that every route of the production
//! application is in it and every path in it is routed.
//!
//! Deliberately absent: the C2SP log (`/log`), witness and Archivist APIs,
//! which follow their own specifications.

use std::sync::LazyLock;

use utoipa::openapi::security::{
    ClientCredentials, Flow, HttpAuthScheme, HttpBuilder, OAuth2, Scopes, SecurityScheme,
};
use utoipa::{Modify, OpenApi};

/// The document's description.
const DESCRIPTION: &str = "Security twins of connected devices: stakeholders, devices, signed \
statements with consensus status, timelines with receipts, the risk register and notifications. \
Reads are filtered by each data owner's sharing policy; reads of one organization's data by \
another are recorded. Statements are registered through SCRAPI (POST /entries) as COSE signed \
statements. Errors of /api/v1 are RFC 9457 problem details, a refused bearer token's 401 \
included (with its WWW-Authenticate challenge); those of SCRAPI are RFC 9290 concise problem \
details in CBOR. The one exception is the token endpoint (POST /oauth/token): its errors are \
RFC 6749 §5.2 bodies {error, error_description}, which OAuth clients parse.";

#[derive(OpenApi)]
#[openapi(
    info(title = "sectwin API", version = "1", description = DESCRIPTION),
    servers((url = "/")),
    paths(
        crate::twin_api::openapi,
        crate::ota_api::releases,
        crate::ota_api::bundle,
        crate::ota_api::state,
        crate::ota_api::firmware,
        crate::twin_api::status,
        crate::twin_api::stakeholders,
        crate::twin_api::stakeholder,
        crate::twin_api::policies,
        crate::twin_api::devices,
        crate::twin_api::device_count,
        crate::twin_api::device,
        crate::twin_api::timeline,
        crate::twin_api::statement,
        crate::twin_api::register_statement,
        crate::twin_api::reads,
        crate::twin_api::fleet,
        crate::risk_api::threat_models,
        crate::risk_api::threat_model,
        crate::twin_api::digest,
        crate::log_status_api::log_status,
        crate::risk_api::risks,
        crate::risk_api::summary,
        crate::risk_api::exposure,
        crate::risk_api::vex,
        crate::risk_api::import,
        crate::risk_api::import_bulk,
        crate::exploit_api::import_kev,
        crate::exploit_api::import_epss,
        crate::decisions_api::decide,
        crate::notify_api::list,
        crate::notify_api::create,
        crate::notify_api::remove,
        crate::notify_api::deliveries,
        crate::devices_api::posture,
        crate::devices_api::findings,
        crate::devices_api::alarms,
        crate::devices_api::verify_alarm,
        crate::devices_api::incidents,
        crate::devices_api::update_incident,
        crate::devices_api::quarantine,
        crate::devices_api::profiles,
        crate::devices_api::publish_profile,
        crate::devices_api::stats,
        crate::ops_api::healthz,
        crate::ops_api::readyz,
        crate::ops_api::metrics,
        crate::rollout_api::release,
        crate::rollout_api::vulnerability,
        crate::cra_api::cases,
        crate::cra_api::open,
        crate::cra_api::case,
        crate::cra_api::aware,
        crate::cra_api::draft,
        crate::cra_api::sign,
        crate::cra_api::export,
        crate::cra_api::csaf,
        crate::cra_api::support,
        crate::cra_api::promise,
        crate::ssvc_api::assert_input,
        crate::ssvc_api::decisions,
        crate::suppressions_api::suppress,
        crate::suppressions_api::list_suppressions,
        crate::oauth::token,
        crate::scrapi::register,
        crate::scrapi::entry_receipt,
        crate::scrapi::entry_statement,
        crate::scrapi::keys,
        crate::scrapi::one_key,
        crate::scrapi::configuration,
        crate::scrapi::register_batch,
    ),
    // Schemas that only query parameters refer to (parameters do not
    // collect them as bodies do).
    // The one 401 answer of every route that reads a bearer token.
    components(responses(crate::oauth::Unauthorized), schemas(
        api_types::Problem,
        api_types::risks::KindFilter,
        api_types::risks::RiskStatus,
        api_types::risks::Severity,
        api_types::twins::PolicyKind,
        api_types::twins::Lifecycle,
        api_types::notify::DeliveryStatus,
    )),
    modifiers(&SecuritySchemes),
    tags(
        (name = "twins", description = "The security twins, the stakeholder registry, policies and read records"),
        (name = "risks", description = "The risk register, exposure, VEX and advisories"),
        (name = "notifications", description = "The caller's notification subscriptions and deliveries"),
        (name = "ota", description = "Secure updates: release manifests, offline proof bundles a device checks by itself, provisioning trust states"),
        (name = "cra", description = "EU Cyber Resilience Act reporting: report cases for actively exploited vulnerabilities and severe incidents, their 24 h / 72 h / final-report clocks, drafts, signed stages, exports (reporting platform JSON, CSAF 2.0), and support periods"),
        (name = "rollout", description = "The verified roll-out of firmware releases and vulnerability fixes, from the devices' own signed statements"),
        (name = "devices", description = "What devices report about themselves (signed reports over MQTT) and the posture audit of it"),
        (name = "oauth", description = "The OAuth 2.0 client credentials token endpoint (RFC 6749 §4.4)"),
        (name = "scrapi", description = "IETF SCITT Reference APIs: registration, receipts, keys"),
        (name = "meta", description = "This document, and the node's Prometheus metrics"),
    ),
)]
struct ApiDoc;

/// The security schemes: a bearer token from the token endpoint, and that
/// endpoint as an OAuth 2.0 client credentials flow.
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("A token from POST /oauth/token (client credentials)"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "oauth2",
            SecurityScheme::OAuth2(OAuth2::new([Flow::ClientCredentials(
                ClientCredentials::new("/oauth/token", Scopes::new()),
            )])),
        );
    }
}

/// The document.
pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// The document as served and committed: pretty-printed JSON with its keys
/// sorted (through `serde_json::Value`, whose maps are ordered), ending in a
/// newline.
pub fn document_json() -> &'static str {
    static JSON: LazyLock<String> = LazyLock::new(|| {
        let value = serde_json::to_value(document()).unwrap_or_default();
        let mut text = serde_json::to_string_pretty(&value).unwrap_or_default();
        text.push('\n');
        text
    });
    &JSON
}

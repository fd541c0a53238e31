//! pytm's JSON output (`python3 tm.py --json FILE`, pytm 1.4) into a
//! [`Model`], keeping what has a meaning here: element classes as element
//! types (LLM and Agent included), their attributes and `controls.*` booleans
//! as sectwin attributes and control names, `Data` objects as assets (PII
//! and credentials flags raising their classification), the data a flow
//! carries as its classification, credentials and TLS version, the
//! interpreters a client feeds (SQL, LDAP or file-system data stores, XML
//! data and parsers), assumptions (with the threats pytm excluded under
//! them), nested boundaries. Every set attribute it cannot map is listed in
//! the notes, once per attribute with the elements that had it.
//!
//! Deliberately absent: pytm's findings (sectwin's rules derive their own;
//! `docs/threat-rule-mapping.md` maps pytm's threat ids to sectwin's rules)
//! and anything guessed where pytm says nothing.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value as Json;

use super::{invalid, parse_json, Ids, Imported};
use crate::expr::Value;
use crate::model::{
    Asset, Assumption, Boundary, Classification, Element, ElementType, Flow, Model, ModelError,
    TargetOfEvaluation,
};

fn classification(s: &str) -> Classification {
    match s.trim_start_matches("Classification.") {
        "PUBLIC" => Classification::Public,
        "SENSITIVE" => Classification::Confidential,
        "SECRET" | "TOP_SECRET" => Classification::Restricted,
        _ => Classification::Internal,
    }
}

fn kind_of(class: &str) -> ElementType {
    match class {
        "Actor" | "ExternalEntity" => ElementType::ExternalEntity,
        "Datastore" => ElementType::DataStore,
        "Server" => ElementType::CloudService,
        "Lambda" => ElementType::ServerlessFunction,
        "LLM" => ElementType::Llm,
        "Agent" => ElementType::Agent,
        _ => ElementType::Process,
    }
}

/// pytm `controls.*` booleans that mean the same as a control of the
/// default rule library, on any element.
const CONTROLS: [(&str, &[&str]); 20] = [
    ("hasAccessControl", &["access_control"]),
    ("authorizesSource", &["access_control"]),
    ("authenticatesSource", &["authentication"]),
    ("implementsAuthenticationScheme", &["authentication"]),
    ("usesMFA", &["mfa"]),
    ("validatesInput", &["input_validation"]),
    ("sanitizesInput", &["input_validation"]),
    ("implementsServerSideValidation", &["input_validation"]),
    ("implementsStrictHTTPValidation", &["input_validation"]),
    ("validatesHeaders", &["input_validation"]),
    ("encodesOutput", &["output_encoding"]),
    ("encodesHeaders", &["output_encoding"]),
    ("isEncryptedAtRest", &["encryption_at_rest"]),
    ("implementsPOLP", &["least_privilege"]),
    (
        "usesParameterizedInput",
        &["parameterized_queries", "parameterized_commands"],
    ),
    ("disablesDTD", &["xml_hardening"]),
    ("usesStrongSessionIdentifiers", &["session_management"]),
    ("implementsCSRFToken", &["csrf_protection"]),
    ("disablesiFrames", &["security_headers"]),
    ("validatesContentType", &["security_headers"]),
];

/// pytm `controls.*` booleans with a meaning here on some classes only, or
/// none; they are noted where set and not mapped.
const CONTROLS_UNMAPPED: [&str; 13] = [
    "authenticatesDestination",
    "checksDestinationRevocation",
    "definesConnectionTimeout",
    "encryptsCookies",
    "encryptsSessionData",
    "handlesCrashes",
    "handlesInterruptions",
    "invokesScriptFilters",
    "isResilient",
    "tracksExecutionFlow",
    "usesCodeSigning",
    "usesVPN",
    "verifySessionIdentifiers",
];

/// Element fields pytm computes, or that only place an element on pytm's
/// drawing: never noted.
const SKIPPED: [&str; 16] = [
    "__class__",
    "name",
    "description",
    "inBoundary",
    "controls",
    "findings",
    "inputs",
    "outputs",
    "severity",
    "uuid",
    "data",
    "assumptions",
    "port",
    "protocol",
    "minTLSVersion",
    "isEncrypted",
];

/// What the importer could not map: pytm attribute → names of the
/// elements or flows where it was set.
#[derive(Default)]
struct Unmapped(BTreeMap<String, BTreeSet<String>>);

impl Unmapped {
    fn add(&mut self, attribute: &str, on: &str) {
        self.0
            .entry(attribute.to_string())
            .or_default()
            .insert(on.to_string());
    }
}

/// Why some pytm attributes have no counterpart (the others: no sectwin
/// rule reads them).
fn why(attribute: &str) -> &'static str {
    match attribute {
        "hasPhysicalAccess" => {
            "sectwin marks the device a person can reach (`physically_accessible`), not the person"
        }
        "maxClassification" => {
            "sectwin has no per-element clearance; data classification drives its rules"
        }
        "levels" => "diagram levels",
        "sourceFiles" => "pytm's staleness check of the code a model describes",
        "note" => "flows have no description field",
        "overrides" => "pytm finding overrides; suppress sectwin findings instead",
        "usesVPN" => "taken as an encrypted flow where set on a flow",
        "isShared" => "model the sharing parties as elements with flows to the store",
        _ => "no sectwin rule reads it",
    }
}

fn s<'a>(v: &'a Json, k: &str) -> &'a str {
    v.get(k).and_then(Json::as_str).unwrap_or("")
}

fn b(v: &Json, k: &str) -> bool {
    v.get(k).and_then(Json::as_bool) == Some(true)
}

fn control(v: &Json, k: &str) -> bool {
    v.get("controls").is_some_and(|c| b(c, k))
}

fn strs(v: &Json, k: &str) -> Vec<String> {
    v.get(k)
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
        .filter_map(|x| x.as_str().map(str::to_string))
        .collect()
}

fn tls(s: &str) -> Option<&'static str> {
    match s.trim_start_matches("TLSVersion.") {
        "SSLv1" | "SSLv2" => Some("ssl2"),
        "SSLv3" => Some("ssl3"),
        "TLSv10" => Some("1.0"),
        "TLSv11" => Some("1.1"),
        "TLSv12" => Some("1.2"),
        "TLSv13" => Some("1.3"),
        _ => None,
    }
}

/// The element attributes of one pytm class that map to sectwin
/// attributes: (pytm name, sectwin name).
fn class_attributes(class: &str) -> &'static [(&'static str, &'static str)] {
    match class {
        "Actor" => &[("isAdmin", "privileged")],
        "Server" => &[("usesSessionTokens", "sessions")],
        "Process" | "SetOfProcesses" => &[("allowsClientSideScripting", "web_ui")],
        "Datastore" => &[("storesLogData", "stores_logs")],
        "LLM" => &[
            ("isThirdParty", "third_party"),
            ("processesPersonalData", "processes_personal_data"),
            ("retainsUserData", "retains_user_data"),
            ("hasAgentCapabilities", "tool_use"),
            ("hasAccessToSensitiveSystems", "consequential_actions"),
            ("executesCode", "executes_code"),
            ("processesUntrustedInput", "untrusted_input"),
            ("hasRAG", "retrieval_augmented"),
            ("hasFineTuning", "fine_tuned"),
        ],
        "Agent" => &[("usesExternalTools", "external_tools")],
        _ => &[],
    }
}

/// Element fields handled by hand for some class (not noted when set).
const HANDLED: [&str; 11] = [
    "OS",
    "inScope",
    "codeType",
    "usesXMLParser",
    "isSQL",
    "type",
    "storesPII",
    "storesSensitiveData",
    "hasSystemPrompt",
    "isSelfHosted",
    "hasContentFiltering",
];

struct ElementIn {
    element: Element,
    class: String,
    /// Datastore kinds its clients feed: "sql", "ldap", "file_path".
    feeds: Option<&'static str>,
    protocol: String,
    port: Option<u16>,
    min_tls: Option<&'static str>,
}

fn element(e: &Json, id: String, unmapped: &mut Unmapped) -> ElementIn {
    let name = s(e, "name").to_string();
    let class = s(e, "__class__").to_string();
    let kind = kind_of(&class);
    let mut attributes = BTreeMap::new();
    let mut set = |k: &str, v: Value| {
        attributes.insert(k.to_string(), v);
    };
    set("pytm_class", Value::Str(class.clone()));
    if !s(e, "OS").is_empty() {
        set("os", Value::Str(s(e, "OS").to_string()));
    }
    if e.get("inScope").and_then(Json::as_bool) == Some(false) {
        set("out_of_scope", Value::Bool(true));
    }
    let mapped = class_attributes(&class);
    for (theirs, ours) in mapped {
        if b(e, theirs) {
            set(ours, Value::Bool(true));
        }
    }
    let mut interpreters = Vec::new();
    if class == "Process" && s(e, "codeType") == "Unmanaged" {
        set("memory_unsafe", Value::Bool(true));
    }
    if class == "Server" && b(e, "usesXMLParser") {
        interpreters.push("xml");
    }
    if class == "LLM" {
        // pytm's default is a system prompt; say so only when it has none.
        if e.get("hasSystemPrompt").and_then(Json::as_bool) == Some(false) {
            set("system_prompt", Value::Bool(false));
        }
        // `isThirdParty` defaults to true in pytm: a model that says its LLM
        // is self-hosted means it is not a provider's.
        if b(e, "isSelfHosted") {
            set("third_party", Value::Bool(false));
        }
    }
    if !interpreters.is_empty() {
        set(
            "interpreters",
            Value::List(
                interpreters
                    .iter()
                    .map(|i| Value::Str((*i).into()))
                    .collect(),
            ),
        );
    }
    let feeds = (class == "Datastore")
        .then(|| match s(e, "type").trim_start_matches("DatastoreType.") {
            "SQL" => Some("sql"),
            "LDAP" => Some("ldap"),
            "FILE_SYSTEM" => Some("file_path"),
            "AWS_S3" => None,
            _ => b(e, "isSQL").then_some("sql"),
        })
        .flatten();
    // Controls.
    let mut controls = BTreeSet::new();
    for (theirs, ours) in CONTROLS {
        if control(e, theirs) {
            controls.extend(ours.iter().map(|c| c.to_string()));
        }
    }
    if control(e, "handlesResourceConsumption") {
        controls.insert(
            match kind {
                ElementType::DataStore => "resource_quotas",
                ElementType::ServerlessFunction => "concurrency_limit",
                ElementType::Llm | ElementType::Agent => "usage_quota",
                _ => "rate_limiting",
            }
            .to_string(),
        );
    }
    if control(e, "isHardened") {
        controls.insert("hardening".into());
        if matches!(kind, ElementType::Llm | ElementType::Agent) {
            // pytm's LLM06 reads isHardened for code the model runs.
            controls.insert("sandboxing".into());
        }
    }
    if control(e, "checksInputBounds") || control(e, "usesSecureFunctions") {
        controls.insert("bounds_checking".into());
    }
    match class.as_str() {
        "LLM" => {
            if b(e, "hasContentFiltering") {
                controls.insert("content_filtering".into());
            }
            if control(e, "providesConfidentiality") {
                controls.insert("pii_redaction".into());
            }
            if control(e, "providesIntegrity") {
                controls.insert("data_validation".into());
            }
        }
        "Agent" => {
            if b(e, "validatesToolLaunchConfig") {
                controls.insert("tool_allowlist".into());
            }
        }
        _ => {
            for k in ["providesConfidentiality", "providesIntegrity"] {
                if control(e, k) {
                    unmapped.add(&format!("controls.{k}"), &name);
                }
            }
        }
    }
    for k in CONTROLS_UNMAPPED {
        if control(e, k) {
            unmapped.add(&format!("controls.{k}"), &name);
        }
    }
    if control(e, "implementsNonce") {
        unmapped.add("controls.implementsNonce", &name);
    }
    if !s(
        e.get("controls").unwrap_or(&Json::Null),
        "authenticationScheme",
    )
    .is_empty()
    {
        unmapped.add("controls.authenticationScheme", &name);
    }
    let algorithm = e
        .get("controls")
        .map(|c| s(c, "usesEncryptionAlgorithm"))
        .unwrap_or("");
    if !algorithm.is_empty() {
        attributes.insert(
            "crypto_algorithms".into(),
            Value::List(vec![Value::Str(algorithm.to_ascii_lowercase())]),
        );
    }
    // Whatever else is set and was not mapped.
    if let Some(obj) = e.as_object() {
        for (k, v) in obj {
            let handled = SKIPPED.contains(&k.as_str())
                || HANDLED.contains(&k.as_str())
                || mapped.iter().any(|(t, _)| t == k)
                || (class == "Agent" && k == "validatesToolLaunchConfig");
            let set = match v {
                Json::Bool(x) => *x,
                Json::String(x) => {
                    !x.is_empty() && !x.ends_with(".UNKNOWN") && !x.ends_with(".NONE")
                }
                // pytm's default drawing level is [0].
                Json::Array(a) => {
                    !a.is_empty() && (k != "levels" || a.as_slice() != [Json::from(0)])
                }
                Json::Number(n) => n.as_i64().is_some_and(|n| n > 0),
                _ => false,
            };
            if !handled && set {
                unmapped.add(k, &name);
            }
        }
    }
    let port = e
        .get("port")
        .and_then(Json::as_i64)
        .and_then(|p| u16::try_from(p).ok())
        .filter(|p| *p > 0);
    ElementIn {
        element: Element {
            id,
            name,
            kind,
            description: s(e, "description").to_string(),
            device_model: None,
            controls: controls.into_iter().collect(),
            attributes,
        },
        class,
        feeds,
        protocol: s(e, "protocol").to_string(),
        port,
        min_tls: tls(s(e, "minTLSVersion")),
    }
}

/// A pytm `Data` object as read from the JSON.
struct DataIn {
    classification: Classification,
    credentials: bool,
    short_lived: bool,
    hardcoded: bool,
    xml: bool,
}

fn data(d: &Json) -> DataIn {
    let pii = b(d, "isPII");
    let credentials = b(d, "isCredentials");
    let mut c = classification(s(d, "classification"));
    if pii || credentials {
        c = c.max(Classification::Confidential);
    }
    let life = s(d, "credentialsLife").trim_start_matches("Lifetime.");
    DataIn {
        classification: c,
        credentials,
        short_lived: credentials && matches!(life, "SHORT" | "AUTO"),
        hardcoded: credentials && life == "HARDCODED",
        xml: s(d, "format").eq_ignore_ascii_case("xml"),
    }
}

/// Imports pytm's JSON output.
pub fn pytm(text: &str) -> Result<Imported, ModelError> {
    let doc = parse_json(text)?;
    let mut notes = Vec::new();
    let mut unmapped = Unmapped::default();
    let mut ids = Ids(BTreeSet::new());
    let arr = |k: &str| {
        doc.get(k)
            .and_then(Json::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let data_json = arr("data");
    let data_by_name: BTreeMap<String, DataIn> = data_json
        .iter()
        .filter(|d| !s(d, "name").is_empty())
        .map(|d| (s(d, "name").to_string(), data(d)))
        .collect();
    let elements_json = arr("elements");
    if elements_json.is_empty() {
        return Err(invalid("no `elements` array: not pytm JSON output"));
    }
    let mut by_name: BTreeMap<String, usize> = BTreeMap::new();
    let mut elements: Vec<ElementIn> = Vec::new();
    let mut members: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut assumptions = Vec::new();
    for e in &elements_json {
        let name = match s(e, "name") {
            "" => "unnamed",
            n => n,
        };
        let id = ids.make(name);
        if let Some(b) = e.get("inBoundary").and_then(Json::as_str) {
            members.entry(b.to_string()).or_default().push(id.clone());
        }
        let mut el = element(e, id, &mut unmapped);
        el.element.name = name.to_string();
        for a in strs(e, "assumptions") {
            assumptions.push((a, name.to_string()));
        }
        by_name.insert(name.to_string(), elements.len());
        elements.push(el);
    }
    // Boundaries, nested ones' members counted in their parents too.
    let boundaries_json = arr("boundaries");
    let parent: BTreeMap<String, String> = boundaries_json
        .iter()
        .filter_map(|b| {
            b.get("inBoundary")
                .and_then(Json::as_str)
                .map(|p| (s(b, "name").to_string(), p.to_string()))
        })
        .collect();
    let mut boundary_members: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (b, ms) in &members {
        let mut at = Some(b.clone());
        let mut hops = 0;
        while let Some(name) = at {
            boundary_members
                .entry(name.clone())
                .or_default()
                .extend(ms.iter().cloned());
            hops += 1;
            at = parent.get(&name).cloned().filter(|_| hops <= parent.len());
        }
    }
    let mut boundaries = Vec::new();
    for b in &boundaries_json {
        let name = match s(b, "name") {
            "" => "boundary",
            n => n,
        };
        boundaries.push(Boundary {
            id: ids.make(name),
            name: name.to_string(),
            description: s(b, "description").to_string(),
            elements: boundary_members
                .remove(name)
                .map(|m| m.into_iter().collect())
                .unwrap_or_default(),
        });
    }
    // Flows.
    let mut flows = Vec::new();
    let mut derived: BTreeMap<String, BTreeSet<&'static str>> = BTreeMap::new();
    let mut extra: Vec<(usize, &'static str, Value)> = Vec::new();
    let mut web_ui: BTreeSet<String> = BTreeSet::new();
    for f in arr("flows") {
        let name = match s(&f, "name") {
            "" => "flow",
            n => n,
        };
        let end = |k: &str| -> Result<usize, ModelError> {
            let n = s(&f, k);
            by_name
                .get(n)
                .copied()
                .ok_or_else(|| invalid(format!("flow {name:?}: unknown {k} {n:?}")))
        };
        let (from, to) = (end("source")?, end("sink")?);
        let (Some(source), Some(sink)) = (elements.get(from), elements.get(to)) else {
            continue;
        };
        let carried: Vec<&DataIn> = strs(&f, "data")
            .iter()
            .filter_map(|n| data_by_name.get(n))
            .collect();
        let classification = carried
            .iter()
            .map(|d| d.classification)
            .max()
            .unwrap_or_default();
        let mut attributes = BTreeMap::new();
        let mut controls = BTreeSet::new();
        if carried.iter().any(|d| d.credentials) {
            attributes.insert("carries_credentials".to_string(), Value::Bool(true));
            if carried
                .iter()
                .filter(|d| d.credentials)
                .all(|d| d.short_lived)
            {
                controls.insert("short_lived_credentials".to_string());
            }
        }
        if carried.iter().any(|d| d.hardcoded) {
            extra.push((from, "hardcoded_credentials", Value::Bool(true)));
        }
        if carried.iter().any(|d| d.xml) {
            derived
                .entry(sink.element.id.clone())
                .or_default()
                .insert("xml");
        }
        if let Some(kind) = sink.feeds {
            derived
                .entry(source.element.id.clone())
                .or_default()
                .insert(kind);
        }
        if b(&f, "usesSessionTokens") {
            extra.push((to, "sessions", Value::Bool(true)));
        }
        // pytm's threat library takes a Server for a web server (XSS, CSRF,
        // headers); one that answers a person serves them its interface.
        if source.class == "Server" && sink.element.kind == ElementType::ExternalEntity {
            extra.push((from, "web_ui", Value::Bool(true)));
            web_ui.insert(source.element.name.clone());
        }
        if let Some(v) = sink.min_tls.or_else(|| tls(s(&f, "tlsVersion"))) {
            attributes.insert("tls_version".to_string(), Value::Str(v.to_string()));
        }
        if control(&f, "providesIntegrity") {
            controls.insert("message_signing".to_string());
        }
        if control(&f, "implementsNonce") {
            controls.insert("replay_protection".to_string());
        }
        for k in ["note", "maxClassification"] {
            let v = s(&f, k);
            if !v.is_empty() && !v.ends_with(".UNKNOWN") {
                unmapped.add(k, name);
            }
        }
        let scheme = f
            .get("controls")
            .map(|c| s(c, "authenticationScheme"))
            .unwrap_or("");
        let authentication = if !scheme.is_empty() {
            scheme.to_ascii_lowercase()
        } else if control(&f, "authenticatesSource")
            || control(&f, "implementsAuthenticationScheme")
        {
            "yes".to_string()
        } else {
            "none".to_string()
        };
        let protocol = match s(&f, "protocol") {
            "" => sink.protocol.clone(),
            p => p.to_string(),
        };
        let port = f
            .get("dstPort")
            .and_then(Json::as_i64)
            .and_then(|p| u16::try_from(p).ok())
            .filter(|p| *p > 0)
            .or(sink.port);
        flows.push(Flow {
            id: ids.make(name),
            name: name.to_string(),
            from: source.element.id.clone(),
            to: sink.element.id.clone(),
            protocol,
            port,
            authentication,
            encrypted: control(&f, "isEncrypted") || b(&f, "usesVPN") || control(&f, "usesVPN"),
            classification,
            controls: controls.into_iter().collect(),
            crosses_boundary: None,
            attributes,
        });
    }
    for (i, k, v) in extra {
        if let Some(e) = elements.get_mut(i) {
            e.element.attributes.insert(k.to_string(), v);
        }
    }
    let mut derived_notes = Vec::new();
    for e in &mut elements {
        let Some(kinds) = derived.get(&e.element.id) else {
            continue;
        };
        let mut list: BTreeSet<String> = match e.element.attributes.get("interpreters") {
            Some(Value::List(l)) => l
                .iter()
                .filter_map(|v| match v {
                    Value::Str(s) => Some(s.clone()),
                    _ => None,
                })
                .collect(),
            _ => BTreeSet::new(),
        };
        list.extend(kinds.iter().map(|k| k.to_string()));
        derived_notes.push(format!(
            "{} ({})",
            e.element.name,
            kinds.iter().copied().collect::<Vec<_>>().join(", ")
        ));
        e.element.attributes.insert(
            "interpreters".into(),
            Value::List(list.into_iter().map(Value::Str).collect()),
        );
    }
    if !web_ui.is_empty() {
        notes.push(format!(
            "`web_ui` set on servers that answer a person (pytm's library takes a Server for a web server): {}",
            web_ui.iter().cloned().collect::<Vec<_>>().join(", ")
        ));
    }
    if !derived_notes.is_empty() {
        notes.push(format!(
            "`interpreters` derived from SQL, LDAP or file-system data stores fed and XML data received: {}",
            derived_notes.join("; ")
        ));
    }
    // Data objects become assets, after every element and flow so that
    // their ids never shift those that findings are keyed on.
    let mut assets = Vec::new();
    for d in &data_json {
        let name = s(d, "name");
        let Some(info) = data_by_name.get(name) else {
            continue;
        };
        let mut tags = Vec::new();
        if b(d, "isPII") {
            tags.push("personal data".to_string());
        }
        if info.credentials {
            tags.push(format!(
                "credentials, {}",
                s(d, "credentialsLife")
                    .trim_start_matches("Lifetime.")
                    .to_ascii_lowercase()
            ));
        }
        if !s(d, "format").is_empty() {
            tags.push(format!("format {}", s(d, "format")));
        }
        let mut description = s(d, "description").to_string();
        if !tags.is_empty() {
            if !description.is_empty() {
                description.push(' ');
            }
            description.push_str(&format!("(pytm: {})", tags.join("; ")));
        }
        let mut stored_in: Vec<String> = strs(d, "processedBy")
            .iter()
            .filter_map(|n| by_name.get(n).and_then(|&i| elements.get(i)))
            .map(|e| e.element.id.clone())
            .collect();
        stored_in.sort();
        stored_in.dedup();
        assets.push(Asset {
            id: ids.make(name),
            name: name.to_string(),
            description,
            classification: info.classification,
            stored_in,
        });
    }
    for e in &elements_json {
        for (flag, what) in [
            ("storesPII", "Personal data"),
            ("storesSensitiveData", "Sensitive data"),
        ] {
            if b(e, flag) {
                let name = format!("{what} in {}", s(e, "name"));
                let at = by_name
                    .get(s(e, "name"))
                    .and_then(|&i| elements.get(i))
                    .map(|e| e.element.id.clone());
                assets.push(Asset {
                    id: ids.make(&name),
                    name,
                    description: format!("(pytm: {flag})"),
                    classification: Classification::Confidential,
                    stored_in: at.into_iter().collect(),
                });
            }
        }
    }
    // Assumptions: the model's, then each element's with the threats pytm
    // excluded under it.
    let mut model_assumptions: Vec<Assumption> = Vec::new();
    for a in arr("assumptions") {
        let (name, description) = match &a {
            Json::String(n) => (n.clone(), String::new()),
            other => (
                s(other, "name").to_string(),
                s(other, "description").to_string(),
            ),
        };
        if !name.is_empty() {
            model_assumptions.push(Assumption { name, description });
        }
    }
    let mut excluded: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    for f in arr("excluded_findings") {
        let assumption = f
            .get("assumption")
            .map(|a| s(a, "name").to_string())
            .unwrap_or_default();
        excluded
            .entry((assumption, s(&f, "target").to_string()))
            .or_default()
            .insert(s(&f, "threat_id").to_string());
    }
    for (name, on) in assumptions {
        let mut description = format!("Holds for {on}.");
        if let Some(t) = excluded.get(&(name.clone(), on.clone())) {
            description.push_str(&format!(
                " pytm excluded its threats {} there under it.",
                t.iter().cloned().collect::<Vec<_>>().join(", ")
            ));
        }
        model_assumptions.push(Assumption { name, description });
    }
    let findings = arr("findings").len();
    if findings > 0 {
        notes.push(format!(
            "{findings} findings generated by pytm were not imported: sectwin's rules derive their own (docs/threat-rule-mapping.md maps pytm's threat ids to sectwin's rules)"
        ));
    }
    let classes: BTreeSet<String> = elements.iter().map(|e| e.class.clone()).collect();
    notes.push(format!(
        "pytm element classes were mapped to element types ({}); set device, gateway, update_server... where one applies",
        classes
            .iter()
            .map(|c| format!("{c} → {}", kind_of(c)))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    let excluded_threats: Vec<String> = strs(&doc, "threatsExcluded");
    if !excluded_threats.is_empty() {
        notes.push(format!(
            "threats excluded in pytm ({}) were not carried over: suppress the corresponding sectwin findings",
            excluded_threats.join(", ")
        ));
    }
    for (attribute, on) in &unmapped.0 {
        notes.push(format!(
            "not mapped: `{attribute}` on {} ({})",
            on.iter().cloned().collect::<Vec<_>>().join(", "),
            why(attribute.trim_start_matches("controls."))
        ));
    }
    let title = match s(&doc, "name") {
        "" => "Imported from pytm",
        n => n,
    };
    let model = Model {
        title: title.to_string(),
        target_of_evaluation: TargetOfEvaluation {
            name: s(&doc, "name").to_string(),
            description: s(&doc, "description").to_string(),
            objectives: Vec::new(),
        },
        assets,
        elements: elements.into_iter().map(|e| e.element).collect(),
        flows,
        boundaries,
        assumptions: model_assumptions,
        ..Model::default()
    };
    model.validate("")?;
    Ok(Imported { model, notes })
}

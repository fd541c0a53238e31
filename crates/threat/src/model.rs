//! The threat model: target of evaluation, security objectives, assets,
//! elements, data flows, trust boundaries and controls in place, read from
//! YAML with errors at a line and column (with a "did you mean" where a name
//! is close to a known one), validated (unique ids, known references,
//! attribute names and types from the [`Vocabulary`], limits), and published
//! as a JSON Schema derived from the same types.
//!
//! Deliberately absent: reading files (callers pass the text), rules and
//! analysis (`rules`, `analysis`), and any guessing: an unknown field, an
//! unknown element type, an unknown attribute or a flow to an unknown element
//! is an error.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use risk::Date;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::expr::Value;
use crate::vocabulary::{self, Vocabulary};

/// Largest model text accepted, in bytes.
pub const MODEL_BYTES_MAX: usize = 64 * 1024 * 1024;
/// Most elements in a model.
pub const ELEMENTS_MAX: usize = 100_000;
/// Most data flows in a model.
pub const FLOWS_MAX: usize = 300_000;
/// Most trust boundaries in a model.
pub const BOUNDARIES_MAX: usize = 10_000;
/// Longest id, in bytes.
pub const ID_BYTES_MAX: usize = 128;

/// A threat model.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Model {
    /// Title of the model.
    pub title: String,
    /// Version of this model (free text, e.g. "2.4" or a git tag).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Date of this version of the model (`YYYY-MM-DD`): findings are dated
    /// from it, and deadlines run from it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub date: Option<Date>,
    /// The target of evaluation.
    #[serde(default)]
    pub target_of_evaluation: TargetOfEvaluation,
    /// What is worth protecting.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub assets: Vec<Asset>,
    /// The catalogue of controls that elements and flows may name in their
    /// `controls`; when not empty, a control outside it is an error (typos
    /// would otherwise silently keep threats open).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub controls: Vec<ControlDef>,
    /// Devices, services, processes, stores, people, AI models...
    pub elements: Vec<Element>,
    /// Data flows between elements.
    #[serde(default)]
    pub flows: Vec<Flow>,
    /// Trust boundaries: groups of elements trusted alike.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub boundaries: Vec<Boundary>,
    /// Findings accepted or deferred, each with a reason and an expiry.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub suppressions: Vec<Suppression>,
    /// What the model takes for granted (pytm's assumptions): listed in
    /// the report so that a reader can challenge them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub assumptions: Vec<Assumption>,
    /// Names of extra attributes that only this model's own rules read
    /// (`--rules`): every other attribute name must be one the tool or a
    /// loaded rule knows, so that a typo is an error rather than a threat
    /// silently not found.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attribute_names: Vec<String>,
}

/// Something the model takes for granted.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Assumption {
    /// Short name.
    pub name: String,
    /// What is assumed, and why.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
}

/// The target of evaluation and its security objectives.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TargetOfEvaluation {
    /// Name of the product or system.
    #[serde(default)]
    pub name: String,
    /// What it is and where its scope ends.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Security objectives.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub objectives: Vec<String>,
}

/// Data classification, ordered from least to most sensitive.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Classification {
    /// Public.
    Public,
    /// Internal (the default).
    #[default]
    Internal,
    /// Confidential (personal data, credentials of limited scope).
    Confidential,
    /// Restricted (keys, biometric data, safety-relevant commands).
    Restricted,
}

impl Classification {
    /// The name used in YAML and expressions.
    pub fn as_str(self) -> &'static str {
        match self {
            Classification::Public => "public",
            Classification::Internal => "internal",
            Classification::Confidential => "confidential",
            Classification::Restricted => "restricted",
        }
    }
}

/// An asset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Asset {
    /// Unique id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Description.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Classification.
    #[serde(default)]
    pub classification: Classification,
    /// Ids of the elements that store or process it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stored_in: Vec<String>,
}

/// A control of the catalogue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ControlDef {
    /// The id elements and flows name.
    pub id: String,
    /// What it is.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
}

/// The kind of an element.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ElementType {
    /// An embedded or connected device (door controller, camera, sensor).
    Device,
    /// A gateway between device networks and the outside.
    Gateway,
    /// A service run in a cloud or data center.
    CloudService,
    /// A process or application.
    Process,
    /// A data store.
    DataStore,
    /// Someone or something outside the system's control (people, third parties).
    ExternalEntity,
    /// A machine-learning model, where it is deployed.
    AiModel,
    /// The pipeline that trains an AI model.
    TrainingPipeline,
    /// A source of training or inference data.
    DataSource,
    /// A server that distributes software or firmware updates.
    UpdateServer,
    /// A large language model, hosted by a provider (`third_party: true`)
    /// or by the product itself.
    Llm,
    /// An agent: software that plans with an LLM and invokes tools.
    Agent,
    /// A tool, plugin or MCP server an agent may invoke.
    Tool,
    /// A vector store: embeddings of documents for retrieval (RAG).
    VectorStore,
    /// A serverless function (AWS Lambda, Azure Functions, Cloud Run jobs).
    ServerlessFunction,
}

impl ElementType {
    /// Every element type.
    pub const ALL: [ElementType; 15] = [
        ElementType::Device,
        ElementType::Gateway,
        ElementType::CloudService,
        ElementType::Process,
        ElementType::DataStore,
        ElementType::ExternalEntity,
        ElementType::AiModel,
        ElementType::TrainingPipeline,
        ElementType::DataSource,
        ElementType::UpdateServer,
        ElementType::Llm,
        ElementType::Agent,
        ElementType::Tool,
        ElementType::VectorStore,
        ElementType::ServerlessFunction,
    ];

    /// The name used in YAML, rules and expressions.
    pub fn as_str(self) -> &'static str {
        match self {
            ElementType::Device => "device",
            ElementType::Gateway => "gateway",
            ElementType::CloudService => "cloud_service",
            ElementType::Process => "process",
            ElementType::DataStore => "data_store",
            ElementType::ExternalEntity => "external_entity",
            ElementType::AiModel => "ai_model",
            ElementType::TrainingPipeline => "training_pipeline",
            ElementType::DataSource => "data_source",
            ElementType::UpdateServer => "update_server",
            ElementType::Llm => "llm",
            ElementType::Agent => "agent",
            ElementType::Tool => "tool",
            ElementType::VectorStore => "vector_store",
            ElementType::ServerlessFunction => "serverless_function",
        }
    }

    /// The type named `s`.
    pub fn parse(s: &str) -> Option<ElementType> {
        ElementType::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

impl fmt::Display for ElementType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An element of the system.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Element {
    /// Unique id (letters, digits, `_`, `-`, `.`, `:`); findings are keyed on it.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Kind of element.
    #[serde(rename = "type")]
    pub kind: ElementType,
    /// Description.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// The device model in the twins this element stands for, as
    /// `manufacturer/model` (subject `model:manufacturer/model`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_model: Option<String>,
    /// Controls in place.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub controls: Vec<String>,
    /// Further attributes rules may test (flat: names to scalars or lists).
    /// A name must be one the tool understands, one a loaded rule reads, or
    /// one listed in the model's `attribute_names`; typed ones take only
    /// their type. The tool's own: people and devices: `privileged`,
    /// `safety_relevant`, `third_party`, `default_credentials`,
    /// `hardcoded_credentials`, `ota_updates`, `debug_port`,
    /// `physically_accessible`, `services` (list), `stores_secrets`; machine
    /// learning: `inference_api`, `deployed_on_device`,
    /// `trained_on_personal_data`, `security_decision`, `pretrained_base`,
    /// `realtime`; LLM applications and agents (types `llm`, `agent`,
    /// `tool`, `vector_store`): `untrusted_input`, `retrieval_augmented`,
    /// `untrusted_content`, `processes_personal_data`, `retains_user_data`,
    /// `system_prompt`, `system_prompt_secrets`, `fine_tuned`,
    /// `executes_code`, `tool_use`, `consequential_actions`,
    /// `external_tools`, `persistent_memory`, `multi_tenant`; application
    /// security: `interpreters` (list of sql, nosql, os_command, ldap, xml,
    /// template, code, html, file_path, deserialization), `sessions`,
    /// `web_ui`, `stores_passwords`, `secrets_in_config`,
    /// `crypto_algorithms` (list), `fetches_urls`, `accepts_files`,
    /// `memory_unsafe`, `debug_endpoints`, `builds_releases`, `container`,
    /// `stores_logs`; written by importers: `pytm_class`, `os`,
    /// `out_of_scope`. All are `true`/`false` unless said otherwise
    /// (`pytm_class`, `os`: strings). See docs/threat-modeling.md.
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "vocabulary::element_attributes"
    )]
    pub attributes: BTreeMap<String, Value>,
}

/// A data flow from one element to another.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Flow {
    /// Unique id; findings are keyed on it.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Id of the source element.
    pub from: String,
    /// Id of the target element.
    pub to: String,
    /// Protocol, e.g. "MQTT", "HTTPS", "OSDP", "RTSP".
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub protocol: String,
    /// Destination port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// How the sender is authenticated: none, password, token, mtls,
    /// certificate, api_key, physical...
    #[serde(default = "none_string")]
    pub authentication: String,
    /// Whether the channel is encrypted.
    #[serde(default)]
    pub encrypted: bool,
    /// Classification of the data carried.
    #[serde(default)]
    pub classification: Classification,
    /// Controls in place on this flow.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub controls: Vec<String>,
    /// Whether the flow crosses a trust boundary, when the boundaries
    /// cannot say it (e.g. imported curve boundaries); computed from
    /// boundary membership when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crosses_boundary: Option<bool>,
    /// Further attributes rules may test, checked like an element's. The
    /// tool's own: `same_host` (never leaves one machine),
    /// `carries_commands`, `carries_credentials`, `tls_version` (a string:
    /// "ssl2", "ssl3", "1.0", "1.1", "1.2" or "1.3"); written by the Threat
    /// Dragon importer: `public_network`, `bidirectional`.
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "vocabulary::flow_attributes"
    )]
    pub attributes: BTreeMap<String, Value>,
}

fn none_string() -> String {
    "none".into()
}

/// A trust boundary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Boundary {
    /// Unique id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Description.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Ids of the elements inside (nested boundaries list their elements too).
    #[serde(default)]
    pub elements: Vec<String>,
}

/// A suppression of a finding: by finding id, or by rule and element (or flow).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Suppression {
    /// The finding's stable id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finding: Option<String>,
    /// The rule id (with `element`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// The element or flow id (with `rule`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub element: Option<String>,
    /// Why the finding is accepted or deferred.
    pub reason: String,
    /// Last day the suppression holds (`YYYY-MM-DD`); after it, the finding is open again.
    #[schemars(with = "String")]
    pub expires: Date,
}

/// A file of suppressions (`--suppressions FILE`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SuppressionFile {
    /// The suppressions.
    #[serde(default)]
    pub suppressions: Vec<Suppression>,
}

/// A model or rule file error, with its position when known.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ModelError {
    /// 1-based line and column in the file, when known.
    pub position: Option<(usize, usize)>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ModelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.position {
            Some((l, c)) => write!(f, "{l}:{c}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl ModelError {
    pub(crate) fn at(text: &str, needle: &str, message: String) -> ModelError {
        ModelError {
            position: locate(text, needle),
            message,
        }
    }

    /// A YAML or serde error: its position, and its message without the
    /// position repeated and with a "did you mean" for an unknown field or
    /// variant close to a known one.
    pub(crate) fn yaml(e: &serde_norway::Error) -> ModelError {
        let position = e.location().map(|l| (l.line(), l.column()));
        let mut message = e.to_string();
        if let Some((l, c)) = position {
            message = message.replace(&format!(" at line {l} column {c}"), "");
        }
        ModelError {
            position,
            message: vocabulary::suggest_in_serde_message(&message),
        }
    }

    /// As [`ModelError::yaml`], naming the element or flow by its id
    /// instead of serde's path (`elements[6].attributes` → element `camera`).
    fn yaml_in(e: &serde_norway::Error, model: &Model) -> ModelError {
        let mut m = ModelError::yaml(e);
        for (prefix, what) in [("elements[", "element"), ("flows[", "flow")] {
            let Some(rest) = m.message.strip_prefix(prefix) else {
                continue;
            };
            let Some((index, tail)) = rest.split_once(']') else {
                continue;
            };
            let Some((_, text)) = tail.split_once(": ") else {
                continue;
            };
            let id = index.parse::<usize>().ok().and_then(|i| match what {
                "element" => model.elements.get(i).map(|e| e.id.as_str()),
                _ => model.flows.get(i).map(|f| f.id.as_str()),
            });
            if let Some(id) = id {
                m.message = format!("{what} {id}: {text}");
            }
        }
        m
    }
}

/// The 1-based line and column of the first occurrence of `needle` in
/// `text` as a whole YAML scalar (`id: needle`, `- needle`, `to: needle`...),
/// falling back to any occurrence.
pub(crate) fn locate(text: &str, needle: &str) -> Option<(usize, usize)> {
    if needle.is_empty() {
        return None;
    }
    let mut any = None;
    for (i, line) in text.lines().enumerate() {
        if let Some(col) = line.find(needle) {
            let after = line.get(col + needle.len()..).unwrap_or("");
            let before = line.get(..col).unwrap_or("").trim_end();
            let whole = (after.trim().is_empty() || after.starts_with([',', ']', '"', '\'', ' ']))
                && (before.ends_with(':')
                    || before.ends_with('-')
                    || before.ends_with('[')
                    || before.ends_with(',')
                    || before.ends_with('"')
                    || before.ends_with('\''));
            let pos = Some((
                i + 1,
                line.get(..col).map_or(col, |p| p.chars().count()) + 1,
            ));
            if whole {
                return pos;
            }
            if any.is_none() {
                any = pos;
            }
        }
    }
    any
}

/// The 1-based line and column of the `nth` (0-based) occurrence of
/// `key: value` in `text` (block or flow style), value ending at a
/// delimiter.
pub(crate) fn locate_key(text: &str, key: &str, value: &str, nth: usize) -> Option<(usize, usize)> {
    let pattern = format!("{key}: {value}");
    let mut seen = 0;
    for (i, line) in text.lines().enumerate() {
        let mut from = 0;
        while let Some(off) = line.get(from..).and_then(|l| l.find(&pattern)) {
            let col = from + off;
            let before_ok = col == 0
                || line
                    .get(..col)
                    .is_some_and(|b| b.ends_with([' ', '{', ',', '-']));
            let after = line.get(col + pattern.len()..).unwrap_or("");
            let after_ok = after.is_empty() || after.starts_with([',', '}', ' ', '#']);
            if before_ok && after_ok {
                if seen == nth {
                    return Some((i + 1, col + key.len() + 3));
                }
                seen += 1;
            }
            from = col + pattern.len();
        }
    }
    None
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= ID_BYTES_MAX
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':' | b'/'))
}

/// Whether an attribute may not take `name`: a field computed for rules
/// on elements or flows ([`vocabulary::ELEMENT_FIELDS`],
/// [`vocabulary::FLOW_FIELDS`]).
pub fn is_reserved_field(name: &str) -> bool {
    vocabulary::ELEMENT_FIELDS.contains(&name) || vocabulary::FLOW_FIELDS.contains(&name)
}

impl Model {
    /// Parses and validates a model from YAML (JSON is YAML too), its
    /// attributes checked against the default rule library's vocabulary
    /// (and the model's own `attribute_names`).
    pub fn parse(text: &str) -> Result<Model, ModelError> {
        Model::parse_with(text, Vocabulary::default_library())
    }

    /// Parses and validates a model, its attributes checked against
    /// `vocabulary` (usually [`Vocabulary::for_rules`] of the rules it will
    /// be analyzed with) and the model's own `attribute_names`: an unknown
    /// name, or a value of the wrong type, is an error at its line and
    /// column.
    pub fn parse_with(text: &str, vocabulary: &Vocabulary) -> Result<Model, ModelError> {
        let model = Model::parse_lenient(text)?;
        let vocabulary = if model.attribute_names.is_empty() {
            std::borrow::Cow::Borrowed(vocabulary)
        } else {
            let mut v = vocabulary.clone();
            for n in &model.attribute_names {
                v.declare(n);
            }
            std::borrow::Cow::Owned(v)
        };
        let Some((message, key)) = model.attribute_error(&vocabulary) else {
            return Ok(model);
        };
        // Parsed again, only on this error path, with every attribute map
        // checked while it is read: the error then carries the position of
        // the very key or value at fault.
        let again: Result<Model, serde_norway::Error> =
            vocabulary::strictly(vocabulary.into_owned(), || serde_norway::from_str(text));
        Err(match again {
            Err(e) => ModelError::yaml_in(&e, &model),
            Ok(_) => ModelError::at(text, &key, message),
        })
    }

    /// Parses and validates a model without checking attribute names (for
    /// documents written under other rule sets, e.g. models published
    /// earlier with users' rules).
    pub fn parse_lenient(text: &str) -> Result<Model, ModelError> {
        if text.len() > MODEL_BYTES_MAX {
            return Err(ModelError {
                position: None,
                message: format!("model larger than {MODEL_BYTES_MAX} bytes"),
            });
        }
        let model: Model = serde_norway::from_str(text).map_err(|e| ModelError::yaml(&e))?;
        model.validate(text)?;
        Ok(model)
    }

    /// The first attribute of an element or flow that `vocabulary` refuses:
    /// the message and the attribute's name.
    pub fn attribute_error(&self, vocabulary: &Vocabulary) -> Option<(String, String)> {
        let owners = self
            .elements
            .iter()
            .map(|e| (vocabulary::Owner::Element, &e.id, &e.attributes))
            .chain(
                self.flows
                    .iter()
                    .map(|f| (vocabulary::Owner::Flow, &f.id, &f.attributes)),
            );
        for (owner, id, attributes) in owners {
            for (k, v) in attributes {
                let e = vocabulary
                    .name_error(owner, k)
                    .or_else(|| vocabulary.value_error(owner, k, v));
                if let Some(e) = e {
                    return Some((format!("{} {id}: {e}", owner.as_str()), k.clone()));
                }
            }
        }
        None
    }

    /// Checks ids, references and limits; `text` (the source, possibly
    /// empty) is only used to point at the offending line.
    pub fn validate(&self, text: &str) -> Result<(), ModelError> {
        let plain = |m: String| ModelError {
            position: None,
            message: m,
        };
        if self.elements.len() > ELEMENTS_MAX {
            return Err(plain(format!("more than {ELEMENTS_MAX} elements")));
        }
        if self.flows.len() > FLOWS_MAX {
            return Err(plain(format!("more than {FLOWS_MAX} flows")));
        }
        if self.boundaries.len() > BOUNDARIES_MAX {
            return Err(plain(format!("more than {BOUNDARIES_MAX} boundaries")));
        }
        let mut ids = BTreeSet::new();
        let all_ids = self
            .elements
            .iter()
            .map(|e| ("element", e.id.as_str()))
            .chain(self.flows.iter().map(|f| ("flow", f.id.as_str())))
            .chain(self.boundaries.iter().map(|b| ("boundary", b.id.as_str())))
            .chain(self.assets.iter().map(|a| ("asset", a.id.as_str())));
        for (what, id) in all_ids {
            if !valid_id(id) {
                return Err(ModelError::at(
                    text,
                    id,
                    format!(
                        "{what} id {id:?} must be 1 to {ID_BYTES_MAX} letters, digits, `_`, `-`, `.`, `:` or `/`"
                    ),
                ));
            }
            if !ids.insert(id) {
                return Err(ModelError {
                    position: locate_key(text, "id", id, 1).or_else(|| locate(text, id)),
                    message: format!("duplicate id {id:?}"),
                });
            }
        }
        let elements: BTreeSet<&str> = self.elements.iter().map(|e| e.id.as_str()).collect();
        let catalogue: BTreeSet<&str> = self.controls.iter().map(|c| c.id.as_str()).collect();
        let check_controls = |owner: &str, controls: &[String]| -> Result<(), ModelError> {
            if catalogue.is_empty() {
                return Ok(());
            }
            for c in controls {
                if !catalogue.contains(c.as_str()) {
                    return Err(ModelError::at(
                        text,
                        c,
                        format!(
                            "{owner}: control {c:?} is not in the model's `controls` catalogue"
                        ),
                    ));
                }
            }
            Ok(())
        };
        let check_attrs = |what: &str,
                           id: &str,
                           attrs: &BTreeMap<String, Value>|
         -> Result<(), ModelError> {
            for k in attrs.keys() {
                if is_reserved_field(k) {
                    return Err(ModelError::at(
                            text,
                            k,
                            format!(
                                "{what} {id}: attribute `{k}` is a built-in field; set the field itself"
                            ),
                        ));
                }
            }
            Ok(())
        };
        for e in &self.elements {
            check_controls(&e.id, &e.controls)?;
            check_attrs("element", &e.id, &e.attributes)?;
            if let Some(dm) = &e.device_model {
                let ok = dm
                    .split_once('/')
                    .is_some_and(|(m, n)| !m.is_empty() && !n.is_empty() && !n.contains('/'));
                if !ok {
                    return Err(ModelError::at(
                        text,
                        dm,
                        format!("{}: device_model {dm:?} must be manufacturer/model", e.id),
                    ));
                }
            }
        }
        for f in &self.flows {
            check_controls(&f.id, &f.controls)?;
            check_attrs("flow", &f.id, &f.attributes)?;
            for (key, end) in [("from", &f.from), ("to", &f.to)] {
                if !elements.contains(end.as_str()) {
                    return Err(ModelError {
                        position: locate_key(text, key, end, 0).or_else(|| locate(text, end)),
                        message: format!("flow {}: unknown element {end:?}", f.id),
                    });
                }
            }
        }
        for b in &self.boundaries {
            for m in &b.elements {
                if !elements.contains(m.as_str()) {
                    return Err(ModelError::at(
                        text,
                        m,
                        format!("boundary {}: unknown element {m:?}", b.id),
                    ));
                }
            }
        }
        for a in &self.assets {
            for m in &a.stored_in {
                if !elements.contains(m.as_str()) {
                    return Err(ModelError::at(
                        text,
                        m,
                        format!("asset {}: unknown element {m:?}", a.id),
                    ));
                }
            }
        }
        for s in &self.suppressions {
            validate_suppression(s).map_err(|m| ModelError::at(text, &s.reason, m))?;
        }
        Ok(())
    }

    /// The model as YAML.
    pub fn to_yaml(&self) -> Result<String, ModelError> {
        serde_norway::to_string(self).map_err(|e| ModelError::yaml(&e))
    }

    /// Each element's position in `elements`, by id.
    pub fn element_positions(&self) -> BTreeMap<&str, usize> {
        self.elements
            .iter()
            .enumerate()
            .map(|(i, e)| (e.id.as_str(), i))
            .collect()
    }

    /// The element with id `id`.
    pub fn element(&self, id: &str) -> Option<&Element> {
        self.elements.iter().find(|e| e.id == id)
    }
}

pub(crate) fn validate_suppression(s: &Suppression) -> Result<(), String> {
    if s.reason.trim().is_empty() {
        return Err("a suppression needs a reason".into());
    }
    match (&s.finding, &s.rule, &s.element) {
        (Some(_), None, None) | (None, Some(_), Some(_)) => Ok(()),
        _ => Err("a suppression names either `finding`, or both `rule` and `element`".into()),
    }
}

impl SuppressionFile {
    /// Parses a suppressions file (YAML or JSON).
    pub fn parse(text: &str) -> Result<SuppressionFile, ModelError> {
        if text.len() > MODEL_BYTES_MAX {
            return Err(ModelError {
                position: None,
                message: format!("suppressions larger than {MODEL_BYTES_MAX} bytes"),
            });
        }
        let f: SuppressionFile = serde_norway::from_str(text).map_err(|e| ModelError::yaml(&e))?;
        for s in &f.suppressions {
            validate_suppression(s).map_err(|m| ModelError::at(text, &s.reason, m))?;
        }
        Ok(f)
    }
}

/// The JSON Schema (draft 2020-12) of the model file, pretty-printed.
pub fn model_schema() -> String {
    let schema = schemars::schema_for!(Model);
    serde_json::to_string_pretty(&schema).unwrap_or_default()
}

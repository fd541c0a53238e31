//! The attribute vocabulary: which names the free `attributes` maps of
//! elements and flows may use, and of which type. It is the union of the
//! attributes the tool itself understands ([`TOOL_ATTRIBUTES`], typed and
//! documented), every `element.X`, `flow.X`, `source.X` and `target.X` a
//! loaded rule reads (so a user's rule file extends it), and the names a
//! model declares under `attribute_names` for rules of its own. A name
//! outside it is an error with a "did you mean" suggestion: a typo such as
//! `default_password` for `default_credentials` would otherwise silently
//! keep a threat from being found.
//!
//! Deliberately absent: guessing. An attribute only a user's rule reads has
//! no declared type and takes any value; an attribute of the tool's own list
//! takes only its type (and, for a few, only its listed values).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::OnceLock;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

use crate::expr::{Root, Value};
use crate::rules::RuleSet;

/// What carries an attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Owner {
    /// Elements (read by rules as `element.X`, `source.X`, `target.X`).
    Element,
    /// Data flows (read by rules as `flow.X`).
    Flow,
}

impl Owner {
    /// "element" or "flow".
    pub fn as_str(self) -> &'static str {
        match self {
            Owner::Element => "element",
            Owner::Flow => "flow",
        }
    }

    fn other(self) -> Owner {
        match self {
            Owner::Element => Owner::Flow,
            Owner::Flow => Owner::Element,
        }
    }
}

/// The type of an attribute's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `true` or `false`.
    Bool,
    /// A string.
    Str,
    /// A number.
    Num,
    /// A list of strings.
    List,
    /// Anything (attributes only users' rules read).
    Any,
}

impl Kind {
    fn expects(self) -> &'static str {
        match self {
            Kind::Bool => "true or false",
            Kind::Str => "a string",
            Kind::Num => "a number",
            Kind::List => "a list of strings, e.g. [a, b]",
            Kind::Any => "any value",
        }
    }

    fn admits(self, v: &Value) -> bool {
        match (self, v) {
            (Kind::Any, _) | (_, Value::Null) => true,
            (Kind::Bool, Value::Bool(_)) | (Kind::Str, Value::Str(_)) => true,
            (Kind::Num, Value::Num(_)) => true,
            (Kind::List, Value::List(items)) => items.iter().all(|i| matches!(i, Value::Str(_))),
            _ => false,
        }
    }
}

/// An attribute the tool itself understands.
#[derive(Debug, Clone, Copy)]
pub struct AttributeDoc {
    /// Its name.
    pub name: &'static str,
    /// Elements or flows.
    pub owner: Owner,
    /// The type of its value.
    pub kind: Kind,
    /// The values it may take (strings, or list items); empty: any.
    pub values: &'static [&'static str],
    /// What it means.
    pub doc: &'static str,
}

const fn attr(name: &'static str, owner: Owner, kind: Kind, doc: &'static str) -> AttributeDoc {
    AttributeDoc {
        name,
        owner,
        kind,
        values: &[],
        doc,
    }
}

/// Values of `interpreters`: where an element passes data into a language.
pub const INTERPRETERS: [&str; 10] = [
    "sql",
    "nosql",
    "os_command",
    "ldap",
    "xml",
    "template",
    "code",
    "html",
    "file_path",
    "deserialization",
];

/// Values of `tls_version` (a string: quote "1.2").
pub const TLS_VERSIONS: [&str; 6] = ["ssl2", "ssl3", "1.0", "1.1", "1.2", "1.3"];

use Kind::{Bool, List, Str};
use Owner::{Element as E, Flow as F};

/// The attributes the tool itself understands: those the default rule
/// library reads, and those its importers write. Users' rule files and a
/// model's `attribute_names` add untyped names beside them.
pub const TOOL_ATTRIBUTES: &[AttributeDoc] = &[
    // People and devices (stride.yaml, iot.yaml).
    attr("privileged", E, Bool, "A person or account with administrative rights."),
    attr("safety_relevant", E, Bool, "Takes safety- or security-relevant decisions (e.g. opens a door)."),
    attr("third_party", E, Bool, "Run, hosted or supplied by a third party (a data source, an LLM API, a tool)."),
    attr("default_credentials", E, Bool, "Ships with a default password shared across units."),
    attr("hardcoded_credentials", E, Bool, "Has credentials compiled into its firmware or code."),
    attr("ota_updates", E, Bool, "Installs software or firmware updates over the air."),
    attr("debug_port", E, Bool, "Has a hardware debug interface (JTAG, SWD, UART)."),
    attr("physically_accessible", E, Bool, "Installed where attackers can reach it physically."),
    AttributeDoc {
        name: "services",
        owner: E,
        kind: List,
        values: &[],
        doc: "Network services it listens with, e.g. [ssh, http, telnet, ftp, upnp].",
    },
    attr("stores_secrets", E, Bool, "Keeps credentials or keys on the device."),
    // Machine-learning models (ai.yaml).
    attr("inference_api", E, Bool, "Answers queries from others (an inference interface)."),
    attr("deployed_on_device", E, Bool, "Ships to devices in the field."),
    attr("trained_on_personal_data", E, Bool, "Was trained on personal data."),
    attr("security_decision", E, Bool, "Its output drives an access, alarm, safety or maintenance decision."),
    attr("pretrained_base", E, Bool, "Starts from a pre-trained model from outside."),
    attr("realtime", E, Bool, "Must answer within a deadline (e.g. per video frame)."),
    // LLM applications and agents (llm.yaml).
    attr("untrusted_input", E, Bool, "Takes input from people or systems not fully trusted (prompts, requests)."),
    attr("retrieval_augmented", E, Bool, "Adds retrieved documents to its prompts (RAG), also when no flow from a vector store is drawn."),
    attr("untrusted_content", E, Bool, "Holds or ingests content others wrote: uploads, web pages, e-mails, tickets."),
    attr("processes_personal_data", E, Bool, "Personal data reaches it (in prompts, context or answers)."),
    attr("retains_user_data", E, Bool, "Keeps prompts and answers (e.g. a provider's retention)."),
    attr("system_prompt", E, Bool, "Has a system prompt with its instructions (assumed when absent)."),
    attr("system_prompt_secrets", E, Bool, "Its system prompt holds secrets, credentials or internal rules."),
    attr("fine_tuned", E, Bool, "Was fine-tuned on the product's own data."),
    attr("executes_code", E, Bool, "Runs code that a model wrote (code interpreter, generated scripts)."),
    attr("tool_use", E, Bool, "Calls tools or functions (also derived from flows to `tool` elements)."),
    attr("consequential_actions", E, Bool, "Can change things: unlock, configure, delete, pay, send messages."),
    attr("external_tools", E, Bool, "Launches tools or MCP servers configured outside the product."),
    attr("persistent_memory", E, Bool, "Keeps a memory across sessions that later prompts read."),
    attr("multi_tenant", E, Bool, "Holds data of several users, tenants or permission levels."),
    // Classic application security (appsec.yaml).
    AttributeDoc {
        name: "interpreters",
        owner: E,
        kind: List,
        values: &INTERPRETERS,
        doc: "Languages it passes data into: sql, nosql, os_command, ldap, xml, template, code, html, file_path, deserialization.",
    },
    attr("sessions", E, Bool, "Keeps user sessions (cookies, session tokens)."),
    attr("web_ui", E, Bool, "Serves a user interface to web browsers."),
    attr("stores_passwords", E, Bool, "Stores users' passwords (or their verifiers)."),
    attr("secrets_in_config", E, Bool, "Reads secrets from configuration files or environment variables."),
    AttributeDoc {
        name: "crypto_algorithms",
        owner: E,
        kind: List,
        values: &[],
        doc: "Cryptographic algorithms it uses, e.g. [aes-256-gcm, sha256]; md5, sha1, des, 3des, rc4, rsa-1024, ecb and dh-1024 are weak.",
    },
    attr("fetches_urls", E, Bool, "Fetches URLs that requests or data supply (webhooks, previews, browsing tools)."),
    attr("accepts_files", E, Bool, "Accepts uploaded files (firmware images, documents, pictures)."),
    attr("memory_unsafe", E, Bool, "Written in a memory-unsafe language (C, C++) and parses outside input."),
    attr("debug_endpoints", E, Bool, "Has test or debug endpoints, consoles or commands."),
    attr("builds_releases", E, Bool, "Builds, signs or deploys the product's releases."),
    attr("container", E, Bool, "Runs from a container image."),
    attr("stores_logs", E, Bool, "Holds audit or security logs."),
    // Written by the importers.
    attr("pytm_class", E, Str, "The pytm class an imported element had."),
    attr("os", E, Str, "Operating system (from pytm `OS`)."),
    attr("out_of_scope", E, Bool, "Outside the target of evaluation (from pytm `inScope`, Threat Dragon `outOfScope`)."),
    // Flows.
    attr("same_host", F, Bool, "Never leaves one machine (shared memory, loopback)."),
    attr("carries_commands", F, Bool, "Carries commands the target acts on (unlock, configure)."),
    attr("carries_credentials", F, Bool, "Carries passwords, tokens or keys."),
    AttributeDoc {
        name: "tls_version",
        owner: F,
        kind: Str,
        values: &TLS_VERSIONS,
        doc: "Lowest TLS (or SSL) version the channel accepts: \"ssl2\", \"ssl3\", \"1.0\", \"1.1\", \"1.2\", \"1.3\".",
    },
    attr("public_network", F, Bool, "Crosses a public network (from Threat Dragon)."),
    attr("bidirectional", F, Bool, "Data goes both ways (from Threat Dragon)."),
];

/// Fields computed for rules; an attribute may not take their names.
pub const ELEMENT_FIELDS: [&str; 12] = [
    "id",
    "name",
    "type",
    "controls",
    "device_model",
    "boundary",
    "boundaries",
    "exposed",
    "classification",
    "input_types",
    "output_types",
    "input_authentication",
];

/// Fields computed for rules on flows.
pub const FLOW_FIELDS: [&str; 9] = [
    "id",
    "name",
    "protocol",
    "port",
    "authentication",
    "encrypted",
    "classification",
    "controls",
    "crosses_boundary",
];

/// Where a name of the vocabulary comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// The tool's own list.
    Tool,
    /// A rule that reads it (the first one loaded).
    Rule(String),
    /// The model's `attribute_names`.
    Model,
}

/// A name of the vocabulary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    /// The type of its value.
    pub kind: Kind,
    /// The values it may take; empty: any.
    pub values: &'static [&'static str],
    /// Where it comes from.
    pub origin: Origin,
}

/// The names attributes may take, per owner.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Vocabulary {
    element: BTreeMap<String, Attribute>,
    flow: BTreeMap<String, Attribute>,
}

impl Vocabulary {
    /// The tool's own attributes only.
    pub fn tool() -> Vocabulary {
        let mut v = Vocabulary::default();
        for a in TOOL_ATTRIBUTES {
            v.map_mut(a.owner).insert(
                a.name.to_string(),
                Attribute {
                    kind: a.kind,
                    values: a.values,
                    origin: Origin::Tool,
                },
            );
        }
        v
    }

    /// The tool's attributes and every attribute a rule of `rules` reads.
    pub fn for_rules(rules: &RuleSet) -> Vocabulary {
        let mut v = Vocabulary::tool();
        for r in &rules.rules {
            for (root, field) in r.condition.paths() {
                let owner = match root {
                    Root::Flow => Owner::Flow,
                    Root::Element | Root::Source | Root::Target => Owner::Element,
                };
                if is_field(owner, field) {
                    continue;
                }
                v.map_mut(owner)
                    .entry(field.to_string())
                    .or_insert_with(|| Attribute {
                        kind: Kind::Any,
                        values: &[],
                        origin: Origin::Rule(r.def.id.clone()),
                    });
            }
        }
        v
    }

    /// The vocabulary of the default rule library (computed once).
    pub fn default_library() -> &'static Vocabulary {
        static V: OnceLock<Vocabulary> = OnceLock::new();
        V.get_or_init(|| match RuleSet::default_library() {
            Ok(rules) => Vocabulary::for_rules(&rules),
            Err(_) => Vocabulary::tool(),
        })
    }

    /// Adds a model's own attribute name (for elements and flows alike).
    pub fn declare(&mut self, name: &str) {
        for owner in [Owner::Element, Owner::Flow] {
            self.map_mut(owner)
                .entry(name.to_string())
                .or_insert(Attribute {
                    kind: Kind::Any,
                    values: &[],
                    origin: Origin::Model,
                });
        }
    }

    /// The attribute `name` of `owner`.
    pub fn get(&self, owner: Owner, name: &str) -> Option<&Attribute> {
        self.map(owner).get(name)
    }

    /// Every name of `owner`, sorted.
    pub fn names(&self, owner: Owner) -> impl Iterator<Item = (&str, &Attribute)> {
        self.map(owner).iter().map(|(k, v)| (k.as_str(), v))
    }

    fn map(&self, owner: Owner) -> &BTreeMap<String, Attribute> {
        match owner {
            Owner::Element => &self.element,
            Owner::Flow => &self.flow,
        }
    }

    fn map_mut(&mut self, owner: Owner) -> &mut BTreeMap<String, Attribute> {
        match owner {
            Owner::Element => &mut self.element,
            Owner::Flow => &mut self.flow,
        }
    }

    /// Why `name` is not an attribute of `owner`, or `None` when it is.
    pub fn name_error(&self, owner: Owner, name: &str) -> Option<String> {
        if is_field(owner, name) {
            return Some(format!(
                "attribute `{name}` is a built-in field of every {}; set the field itself",
                owner.as_str()
            ));
        }
        if self.get(owner, name).is_some() {
            return None;
        }
        if self.get(owner.other(), name).is_some() {
            return Some(format!(
                "`{name}` is a {} attribute, not an {} attribute",
                owner.other().as_str(),
                owner.as_str()
            ));
        }
        let hint = match did_you_mean(name, self.map(owner).keys().map(String::as_str)) {
            Some(s) => format!("; did you mean `{s}`?"),
            None => " (no rule reads it; list it under `attribute_names` if your own rules do)"
                .to_string(),
        };
        Some(format!(
            "unknown {} attribute `{name}`{hint}",
            owner.as_str()
        ))
    }

    /// Why `value` does not suit the attribute `name` of `owner`, or `None`.
    pub fn value_error(&self, owner: Owner, name: &str, value: &Value) -> Option<String> {
        let a = self.get(owner, name)?;
        value_error(name, a, value)
    }
}

fn is_field(owner: Owner, name: &str) -> bool {
    match owner {
        Owner::Element => ELEMENT_FIELDS.contains(&name),
        Owner::Flow => FLOW_FIELDS.contains(&name),
    }
}

fn describe(v: &Value) -> String {
    match v {
        Value::Bool(b) => format!("`{b}`"),
        Value::Num(n) => format!("the number {n}"),
        Value::Str(s) => format!("the string {s:?}"),
        Value::List(_) => "a list".into(),
        Value::Null => "null".into(),
    }
}

fn value_error(name: &str, a: &Attribute, value: &Value) -> Option<String> {
    if !a.kind.admits(value) {
        let quote = match (a.kind, value) {
            (Kind::Str, Value::Num(n)) => format!(" (quote it: \"{n}\")"),
            (Kind::Str | Kind::List, Value::Bool(b)) => format!(" (quote it: \"{b}\")"),
            (Kind::List, Value::Str(s)) => format!(" (write [{s}])"),
            _ => String::new(),
        };
        return Some(format!(
            "attribute `{name}` takes {}, not {}{quote}",
            a.kind.expects(),
            describe(value)
        ));
    }
    let items: Vec<&Value> = match value {
        Value::List(l) => l.iter().collect(),
        other => vec![other],
    };
    for item in items {
        if let Some(e) = item_error(name, a, item) {
            return Some(e);
        }
    }
    None
}

fn item_error(name: &str, a: &Attribute, item: &Value) -> Option<String> {
    let Value::Str(s) = item else {
        return None;
    };
    if a.values.is_empty() || a.values.contains(&s.as_str()) {
        return None;
    }
    let hint = did_you_mean(s, a.values.iter().copied())
        .map(|m| format!("did you mean {m:?}? "))
        .unwrap_or_default();
    Some(format!(
        "attribute `{name}`: unknown value {s:?}; {hint}(one of {})",
        a.values.join(", ")
    ))
}

/// The candidate closest to `word`, when one is close enough to be the
/// word meant: a few edits away (Damerau-Levenshtein, a third of the
/// length at most), or sharing a `_`-separated word with it and similar
/// overall (Jaro-Winkler ≥ 0.7), e.g. `default_password` →
/// `default_credentials`.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let candidates: Vec<&str> = candidates.into_iter().collect();
    let by_edits = candidates
        .iter()
        .map(|c| (strsim::damerau_levenshtein(word, c), *c))
        .min();
    if let Some((d, c)) = by_edits {
        let len = word.chars().count().max(c.chars().count());
        if d > 0 && d * 3 <= len.max(3) {
            return Some(c);
        }
    }
    // Words of three letters or more, so that `is_` or `on_` match nothing.
    fn words(s: &str) -> Vec<&str> {
        s.split(['_', '-']).filter(|t| t.len() >= 3).collect()
    }
    let mine = words(word);
    let mut best: Option<(usize, f64, &str)> = None;
    for c in candidates {
        let theirs = words(c);
        let shared = mine
            .iter()
            .filter(|m| theirs.iter().any(|t| strsim::jaro_winkler(m, t) >= 0.9))
            .count();
        let similarity = strsim::jaro_winkler(word, c);
        if shared == 0 || similarity < 0.7 {
            continue;
        }
        let better = match best {
            None => true,
            Some((s, j, _)) => shared > s || (shared == s && similarity > j),
        };
        if better {
            best = Some((shared, similarity, c));
        }
    }
    best.map(|(_, _, c)| c)
}

/// Adds a suggestion to serde's "unknown field `x`, expected one of `a`,
/// `b`" and "unknown variant" messages: "unknown field `x`; did you mean
/// `a`?" (the list stays when nothing is close).
pub(crate) fn suggest_in_serde_message(message: &str) -> String {
    for what in ["unknown field `", "unknown variant `"] {
        let Some(start) = message.find(what) else {
            continue;
        };
        let rest = message.get(start + what.len()..).unwrap_or("");
        let Some(end) = rest.find('`') else {
            continue;
        };
        let word = rest.get(..end).unwrap_or("");
        let after = rest.get(end + 1..).unwrap_or("");
        let expected: Vec<&str> = after.split('`').skip(1).step_by(2).collect();
        if let Some(m) = did_you_mean(word, expected.iter().copied()) {
            let head = message.get(..start).unwrap_or("");
            return format!("{head}{what}{word}`; did you mean `{m}`?");
        }
    }
    message.to_string()
}

thread_local! {
    /// The vocabulary the attribute maps being deserialized on this thread
    /// are checked against, if any. serde's derive cannot hand a seed to a
    /// nested field, and an error raised while deserializing the key itself
    /// is what carries the key's line and column; [`strictly`] sets it for
    /// one parse and always clears it.
    static STRICT: RefCell<Option<Vocabulary>> = const { RefCell::new(None) };
}

/// Runs `f` with attribute maps checked against `vocab`.
pub(crate) fn strictly<R>(vocab: Vocabulary, f: impl FnOnce() -> R) -> R {
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            STRICT.with(|s| *s.borrow_mut() = None);
        }
    }
    STRICT.with(|s| *s.borrow_mut() = Some(vocab));
    let _reset = Reset;
    f()
}

/// `deserialize_with` of `Element::attributes`.
pub(crate) fn element_attributes<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<BTreeMap<String, Value>, D::Error> {
    attributes(d, Owner::Element)
}

/// `deserialize_with` of `Flow::attributes`.
pub(crate) fn flow_attributes<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<BTreeMap<String, Value>, D::Error> {
    attributes(d, Owner::Flow)
}

fn attributes<'de, D: Deserializer<'de>>(
    d: D,
    owner: Owner,
) -> Result<BTreeMap<String, Value>, D::Error> {
    STRICT.with(|s| {
        let strict = s.borrow();
        match strict.as_ref() {
            None => BTreeMap::<String, Value>::deserialize(d),
            Some(vocab) => d.deserialize_map(MapVisitor { vocab, owner }),
        }
    })
}

struct MapVisitor<'v> {
    vocab: &'v Vocabulary,
    owner: Owner,
}

impl<'de> Visitor<'de> for MapVisitor<'_> {
    type Value = BTreeMap<String, Value>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a map of attribute names to values")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = BTreeMap::new();
        while let Some((name, attribute)) = map.next_key_seed(KeySeed {
            vocab: self.vocab,
            owner: self.owner,
        })? {
            let value = map.next_value_seed(ValueSeed {
                name: &name,
                attribute,
            })?;
            out.insert(name, value);
        }
        Ok(out)
    }
}

struct KeySeed<'v> {
    vocab: &'v Vocabulary,
    owner: Owner,
}

impl<'de, 'v> DeserializeSeed<'de> for KeySeed<'v> {
    type Value = (String, &'v Attribute);

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de, 'v> Visitor<'de> for KeySeed<'v> {
    type Value = (String, &'v Attribute);

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an attribute name")
    }

    fn visit_str<E: de::Error>(self, name: &str) -> Result<Self::Value, E> {
        if let Some(e) = self.vocab.name_error(self.owner, name) {
            return Err(E::custom(e));
        }
        self.vocab
            .get(self.owner, name)
            .map(|a| (name.to_string(), a))
            .ok_or_else(|| E::custom(format!("unknown attribute `{name}`")))
    }
}

struct ValueSeed<'a> {
    name: &'a str,
    attribute: &'a Attribute,
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl ValueSeed<'_> {
    fn check<E: de::Error>(&self, v: Value) -> Result<Value, E> {
        match value_error(self.name, self.attribute, &v) {
            Some(e) => Err(E::custom(e)),
            None => Ok(v),
        }
    }
}

impl<'de> Visitor<'de> for ValueSeed<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.attribute.kind.expects())
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        self.check(Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        self.check(Value::Num(v as f64))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        self.check(Value::Num(v as f64))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        self.check(Value::Num(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        self.check(Value::Str(v.to_string()))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        if !matches!(self.attribute.kind, Kind::List | Kind::Any) {
            return Err(de::Error::custom(format!(
                "attribute `{}` takes {}, not a list",
                self.name,
                self.attribute.kind.expects()
            )));
        }
        let mut items = Vec::new();
        while let Some(v) = seq.next_element_seed(ItemSeed {
            name: self.name,
            attribute: self.attribute,
        })? {
            items.push(v);
        }
        Ok(Value::List(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, _map: A) -> Result<Value, A::Error> {
        Err(de::Error::custom(format!(
            "attribute `{}` takes {}, not a map (attributes are flat)",
            self.name,
            self.attribute.kind.expects()
        )))
    }
}

struct ItemSeed<'a> {
    name: &'a str,
    attribute: &'a Attribute,
}

impl<'de> DeserializeSeed<'de> for ItemSeed<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl ItemSeed<'_> {
    fn check<E: de::Error>(&self, v: Value) -> Result<Value, E> {
        if self.attribute.kind == Kind::List && !matches!(v, Value::Str(_)) {
            return Err(E::custom(format!(
                "attribute `{}` is a list of strings, not of {}",
                self.name,
                describe(&v)
            )));
        }
        match item_error(self.name, self.attribute, &v) {
            Some(e) => Err(E::custom(e)),
            None => Ok(v),
        }
    }
}

impl<'de> Visitor<'de> for ItemSeed<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list item")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        self.check(Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        self.check(Value::Num(v as f64))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        self.check(Value::Num(v as f64))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        self.check(Value::Num(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        self.check(Value::Str(v.to_string()))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        self.check(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        if self.attribute.kind == Kind::List {
            return Err(de::Error::custom(format!(
                "attribute `{}` is a flat list of strings",
                self.name
            )));
        }
        let mut items = Vec::new();
        while let Some(v) = seq.next_element::<Value>()? {
            items.push(v);
        }
        Ok(Value::List(items))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_catch_typos_and_near_names() {
        let names = [
            "default_credentials",
            "hardcoded_credentials",
            "debug_port",
            "services",
        ];
        assert_eq!(
            did_you_mean("default_password", names),
            Some("default_credentials")
        );
        assert_eq!(did_you_mean("debug_prot", names), Some("debug_port"));
        assert_eq!(did_you_mean("service", names), Some("services"));
        assert_eq!(did_you_mean("colour", names), None);
        assert_eq!(
            suggest_in_serde_message(
                "elements[2]: unknown field `contrls`, expected one of `id`, `name`, `controls`"
            ),
            "elements[2]: unknown field `contrls`; did you mean `controls`?"
        );
        assert_eq!(
            suggest_in_serde_message("unknown field `zzz`, expected `id` or `name`"),
            "unknown field `zzz`, expected `id` or `name`"
        );
    }

    #[test]
    fn the_default_library_reads_only_documented_attributes() {
        let rules = RuleSet::default_library().unwrap_or_else(|e| panic!("{e}"));
        let v = Vocabulary::for_rules(&rules);
        for owner in [Owner::Element, Owner::Flow] {
            for (name, a) in v.names(owner) {
                assert_eq!(
                    a.origin,
                    Origin::Tool,
                    "{} attribute `{name}` is read by a default rule but not in TOOL_ATTRIBUTES",
                    owner.as_str()
                );
            }
        }
    }

    #[test]
    fn values_are_checked_by_kind_and_list() {
        let v = Vocabulary::tool();
        let e = |n: &str, val: Value| v.value_error(Owner::Element, n, &val);
        assert_eq!(e("debug_port", Value::Bool(true)), None);
        assert!(e("debug_port", Value::Str("yes".into()))
            .is_some_and(|m| m.contains("takes true or false")));
        assert!(
            e("interpreters", Value::List(vec![Value::Str("sqll".into())]))
                .is_some_and(|m| m.contains("did you mean \"sql\""))
        );
        assert!(v
            .value_error(Owner::Flow, "tls_version", &Value::Num(1.2))
            .is_some_and(|m| m.contains("quote it: \"1.2\"")));
        assert!(v
            .name_error(Owner::Element, "carries_commands")
            .is_some_and(|m| m.contains("is a flow attribute")));
    }
}

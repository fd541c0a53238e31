//! Threat modeling as code. A YAML [`model::Model`] of the target of
//! evaluation (elements, data flows, trust boundaries, assets, controls in
//! place) is analyzed with a [`rules::RuleSet`] (the default STRIDE, IoT,
//! AI, LLM-and-agent and application-security library embedded from
//! `crates/threat/rules/`, plus users' files) whose conditions are written
//! in a small, safe expression language ([`expr`]); a model's attributes
//! must belong to the [`vocabulary`] of the tool and the loaded rules.
//! [`analysis::analyze`] yields findings with stable ids, CVSS
//! v3.1 scores (via `vuln`), severities and deadlines (via `risk`),
//! suppressions with expiry and the "removed by controls" accounting;
//! [`analysis::diff`] compares two analyses. [`output`] renders text, JSON,
//! SARIF 2.1.0, Markdown and HTML; [`diagram`] the data-flow diagram (DOT for
//! Graphviz, or a pure-Rust SVG); [`import`] reads pytm JSON and OWASP
//! Threat Dragon v2 JSON.
//!
//! Deliberately absent: I/O (callers pass file contents in and write what
//! comes out), a clock, running Graphviz, the risk register and its signed
//! statements. Everything here parses outside input, so nothing panics on
//! it and every size is bounded (see the `*_MAX` constants).
#![deny(clippy::unwrap_used, clippy::indexing_slicing)]

pub mod analysis;
pub mod diagram;
pub mod expr;
pub mod import;
pub mod model;
pub mod output;
pub mod rules;
pub mod vocabulary;

/// The reference model shipped with the tool: a smart-building access
/// system (door controllers, cameras with an on-device AI person detector
/// and its training pipeline, gateway, cloud backend, update server,
/// maintenance laptop, people).
pub const REFERENCE_MODEL: &str = include_str!("../models/smart-building.yaml");

/// An example model with an LLM agent: the maintenance assistant of the
/// same access system (a provider's LLM, a vector store of manuals and
/// tickets, a door API tool, a code sandbox).
pub const LLM_EXAMPLE_MODEL: &str = include_str!("../models/maintenance-assistant.yaml");

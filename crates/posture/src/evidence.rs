//! Evidence: the facts a finding, an alarm or an incident rests on, each
//! named by its field path in the report (`certificate.not_after`,
//! `metrics.listening-tcp-ports`) or in the context the caller gave
//! (`latest_release`, `now`), with its value, and the counter of the report
//! it was read from, so that anyone can fetch that signed report from the
//! log and check.
//!
//! Deliberately absent: how evidence is shown or stored (the service's and
//! the HTTP layer's wire types).

use serde::Serialize;
use serde_json::Value;

/// One fact: a field path and its value.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Fact {
    /// The field path (report) or context name.
    pub field: &'static str,
    /// Its value as JSON (a digest as hex, a time as unix seconds).
    pub value: Value,
}

/// The facts a result rests on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evidence {
    /// The `counter` of the device report the report facts come from.
    pub report_counter: u64,
    /// Facts read from that report, in the order the rule read them.
    pub report: Vec<Fact>,
    /// Facts from elsewhere (the twin, the fleet, the log, the clock).
    pub context: Vec<Fact>,
}

impl Evidence {
    /// Evidence from the report with this counter, no fact yet.
    pub fn new(report_counter: u64) -> Evidence {
        Evidence {
            report_counter,
            report: Vec::new(),
            context: Vec::new(),
        }
    }

    /// Adds a report fact (once per field).
    pub fn report(&mut self, field: &'static str, value: impl Into<Value>) {
        push(&mut self.report, field, value.into());
    }

    /// Adds a context fact (once per name).
    pub fn context(&mut self, field: &'static str, value: impl Into<Value>) {
        push(&mut self.context, field, value.into());
    }

    /// The value of a report fact.
    pub fn report_value(&self, field: &str) -> Option<&Value> {
        self.report
            .iter()
            .find(|f| f.field == field)
            .map(|f| &f.value)
    }

    /// The value of a context fact.
    pub fn context_value(&self, field: &str) -> Option<&Value> {
        self.context
            .iter()
            .find(|f| f.field == field)
            .map(|f| &f.value)
    }
}

fn push(facts: &mut Vec<Fact>, field: &'static str, value: Value) {
    if !facts.iter().any(|f| f.field == field) {
        facts.push(Fact { field, value });
    }
}

//! Importers from other threat-modeling tools into a [`Model`]: pytm's JSON
//! output (`python3 tm.py --json FILE`, pytm 1.x; in `import/pytm_json.rs`) and
//! OWASP Threat Dragon v2 JSON. Each returns the model and notes on what
//! could not be carried over.
//!
//! Deliberately absent: the threats those tools generated or recorded (rules
//! here re-derive findings, and recorded threats have no stable identity to
//! keep), diagram geometry beyond what decides trust-boundary crossings, and
//! reading files.

mod pytm_json;

pub use pytm_json::pytm;

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value as Json;

use crate::expr::Value;
use crate::model::{
    Boundary, Classification, Element, ElementType, Flow, Model, ModelError, MODEL_BYTES_MAX,
};

/// A converted model and what was left out.
#[derive(Debug, Clone)]
pub struct Imported {
    /// The model (validated).
    pub model: Model,
    /// What was not carried over, for the user to review.
    pub notes: Vec<String>,
}

fn parse_json(text: &str) -> Result<Json, ModelError> {
    if text.len() > MODEL_BYTES_MAX {
        return Err(ModelError {
            position: None,
            message: format!("input larger than {MODEL_BYTES_MAX} bytes"),
        });
    }
    serde_json::from_str(text).map_err(|e| ModelError {
        position: Some((e.line(), e.column())),
        message: e.to_string(),
    })
}

fn invalid(message: impl Into<String>) -> ModelError {
    ModelError {
        position: None,
        message: message.into(),
    }
}

/// Turns names into unique ids: lower case, runs of other characters as `-`.
struct Ids(BTreeSet<String>);

impl Ids {
    fn make(&mut self, name: &str) -> String {
        let mut base = String::new();
        for c in name.chars() {
            if c.is_ascii_alphanumeric() {
                base.push(c.to_ascii_lowercase());
            } else if !base.ends_with('-') && !base.is_empty() {
                base.push('-');
            }
        }
        let base = base.trim_end_matches('-');
        let base: String = if base.is_empty() {
            "x".into()
        } else {
            base.chars().take(100).collect()
        };
        let mut id = base.clone();
        let mut n = 2;
        while self.0.contains(&id) {
            id = format!("{base}-{n}");
            n += 1;
        }
        self.0.insert(id.clone());
        id
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[derive(Clone, Copy)]
struct Pt(f64, f64);

fn pt(v: Option<&Json>) -> Option<Pt> {
    let v = v?;
    Some(Pt(v.get("x")?.as_f64()?, v.get("y")?.as_f64()?))
}

fn segments_cross(a: Pt, b: Pt, c: Pt, d: Pt) -> bool {
    let orient = |p: Pt, q: Pt, r: Pt| (q.0 - p.0) * (r.1 - p.1) - (q.1 - p.1) * (r.0 - p.0);
    let (d1, d2) = (orient(c, d, a), orient(c, d, b));
    let (d3, d4) = (orient(a, b, c), orient(a, b, d));
    d1 * d2 < 0.0 && d3 * d4 < 0.0
}

/// Imports an OWASP Threat Dragon v2 model. Box boundaries
/// (`trust-boundary-box`) become boundaries with the elements whose centre
/// lies inside; curve boundaries (`trust-boundary-curve`) have no inside, so
/// each flow's `crosses_boundary` is set by whether its path (through its
/// vertices) intersects a curve.
pub fn threat_dragon(text: &str) -> Result<Imported, ModelError> {
    let doc = parse_json(text)?;
    let version = doc.get("version").and_then(Json::as_str).unwrap_or("");
    if !version.starts_with('2') {
        return Err(invalid(format!(
            "Threat Dragon version {version:?}: only v2 models are supported"
        )));
    }
    let diagrams = doc
        .pointer("/detail/diagrams")
        .and_then(Json::as_array)
        .ok_or_else(|| invalid("no detail.diagrams: not a Threat Dragon v2 model"))?;
    let mut notes = Vec::new();
    let mut ids = Ids(BTreeSet::new());
    let mut elements = Vec::new();
    let mut flows = Vec::new();
    let mut boundaries = Vec::new();
    let mut recorded_threats = 0usize;
    for diagram in diagrams {
        let cells = diagram
            .get("cells")
            .and_then(Json::as_array)
            .cloned()
            .unwrap_or_default();
        let mut by_cell: BTreeMap<String, (String, Pt)> = BTreeMap::new();
        let mut boxes = Vec::new();
        let mut curves: Vec<Vec<Pt>> = Vec::new();
        for c in &cells {
            let data = c.get("data").cloned().unwrap_or(Json::Null);
            let ty = data.get("type").and_then(Json::as_str).unwrap_or("");
            let shape = c.get("shape").and_then(Json::as_str).unwrap_or("");
            recorded_threats += data
                .get("threats")
                .and_then(Json::as_array)
                .map_or(0, Vec::len);
            let kind = match ty {
                "tm.Actor" => ElementType::ExternalEntity,
                "tm.Process" => ElementType::Process,
                "tm.Store" => ElementType::DataStore,
                "tm.Boundary" => {
                    let name = one_line(
                        data.get("name")
                            .and_then(Json::as_str)
                            .unwrap_or("boundary"),
                    );
                    if shape == "trust-boundary-box" {
                        if let (Some(p), Some(sz)) = (pt(c.get("position")), c.get("size")) {
                            let w = sz.get("width").and_then(Json::as_f64).unwrap_or(0.0);
                            let h = sz.get("height").and_then(Json::as_f64).unwrap_or(0.0);
                            boxes.push((name, p, Pt(p.0 + w, p.1 + h)));
                        }
                    } else {
                        let mut line: Vec<Pt> = pt(c.get("source")).into_iter().collect();
                        line.extend(
                            c.get("vertices")
                                .and_then(Json::as_array)
                                .into_iter()
                                .flatten()
                                .filter_map(|v| pt(Some(v))),
                        );
                        line.extend(pt(c.get("target")));
                        curves.push(line);
                        notes.push(format!(
                            "curve boundary {name:?}: crossings set per flow from the drawing"
                        ));
                    }
                    continue;
                }
                _ => continue,
            };
            let (Some(p), Some(sz)) = (pt(c.get("position")), c.get("size")) else {
                continue;
            };
            let w = sz.get("width").and_then(Json::as_f64).unwrap_or(0.0);
            let h = sz.get("height").and_then(Json::as_f64).unwrap_or(0.0);
            let name = one_line(data.get("name").and_then(Json::as_str).unwrap_or("unnamed"));
            let id = ids.make(&name);
            let mut attributes = BTreeMap::new();
            let mut controls = Vec::new();
            if data.get("outOfScope").and_then(Json::as_bool) == Some(true) {
                attributes.insert("out_of_scope".into(), Value::Bool(true));
            }
            if data.get("isEncrypted").and_then(Json::as_bool) == Some(true) {
                controls.push("encryption_at_rest".to_string());
            }
            if data.get("providesAuthentication").and_then(Json::as_bool) == Some(true) {
                controls.push("authentication".to_string());
            }
            if let Some(cell) = c.get("id").and_then(Json::as_str) {
                by_cell.insert(
                    cell.to_string(),
                    (id.clone(), Pt(p.0 + w / 2.0, p.1 + h / 2.0)),
                );
            }
            elements.push(Element {
                id,
                name,
                kind,
                description: data
                    .get("description")
                    .and_then(Json::as_str)
                    .unwrap_or("")
                    .to_string(),
                device_model: None,
                controls,
                attributes,
            });
        }
        for (name, a, b) in boxes {
            let inside: Vec<String> = by_cell
                .values()
                .filter(|(_, c)| c.0 >= a.0 && c.0 <= b.0 && c.1 >= a.1 && c.1 <= b.1)
                .map(|(id, _)| id.clone())
                .collect();
            boundaries.push(Boundary {
                id: ids.make(&name),
                name,
                description: String::new(),
                elements: inside,
            });
        }
        for c in &cells {
            let data = c.get("data").cloned().unwrap_or(Json::Null);
            if data.get("type").and_then(Json::as_str) != Some("tm.Flow") {
                continue;
            }
            let end = |k: &str| {
                c.pointer(&format!("/{k}/cell"))
                    .and_then(Json::as_str)
                    .and_then(|id| by_cell.get(id))
            };
            let (Some((from, a)), Some((to, b))) = (end("source"), end("target")) else {
                notes.push("a flow not attached to two elements was skipped".into());
                continue;
            };
            let mut path = vec![*a];
            path.extend(
                c.get("vertices")
                    .and_then(Json::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|v| pt(Some(v))),
            );
            path.push(*b);
            let crosses = if curves.is_empty() {
                None
            } else {
                Some(curves.iter().any(|curve| {
                    path.windows(2).any(|s| {
                        curve.windows(2).any(|t| match (s, t) {
                            ([p, q], [r, u]) => segments_cross(*p, *q, *r, *u),
                            _ => false,
                        })
                    })
                }))
            };
            let protocol = data
                .get("protocol")
                .and_then(Json::as_str)
                .unwrap_or("")
                .to_string();
            let name = one_line(data.get("name").and_then(Json::as_str).unwrap_or(""));
            let name = if name.is_empty() {
                format!("{from} to {to}")
            } else {
                name
            };
            let mut attributes = BTreeMap::new();
            if data.get("isPublicNetwork").and_then(Json::as_bool) == Some(true) {
                attributes.insert("public_network".into(), Value::Bool(true));
            }
            if data.get("isBidirectional").and_then(Json::as_bool) == Some(true) {
                attributes.insert("bidirectional".into(), Value::Bool(true));
            }
            flows.push(Flow {
                id: ids.make(&format!("{from} {to} {name}")),
                name,
                from: from.clone(),
                to: to.clone(),
                encrypted: data.get("isEncrypted").and_then(Json::as_bool) == Some(true)
                    || protocol.eq_ignore_ascii_case("https"),
                protocol,
                port: None,
                authentication: "none".into(),
                classification: Classification::Internal,
                controls: Vec::new(),
                crosses_boundary: crosses,
                attributes,
            });
        }
    }
    if recorded_threats > 0 {
        notes.push(format!(
            "{recorded_threats} threats recorded in Threat Dragon were not imported: sectwin's rules derive their own"
        ));
    }
    let title = doc
        .pointer("/summary/title")
        .and_then(Json::as_str)
        .unwrap_or("Imported from Threat Dragon");
    let model = Model {
        title: title.to_string(),
        target_of_evaluation: crate::model::TargetOfEvaluation {
            name: title.to_string(),
            description: doc
                .pointer("/summary/description")
                .and_then(Json::as_str)
                .unwrap_or("")
                .to_string(),
            objectives: Vec::new(),
        },
        elements,
        flows,
        boundaries,
        ..Model::default()
    };
    model.validate("")?;
    Ok(Imported { model, notes })
}

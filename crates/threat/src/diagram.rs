//! The data-flow diagram of a model: DOT for Graphviz (clusters for trust
//! boundaries, shapes per element type, flows labelled with protocol and
//! port, red when they cross a boundary unencrypted), and a pure-Rust SVG
//! fallback laid out in columns, one per trust boundary.
//!
//! Deliberately absent: running Graphviz (the binary decides whether `dot`
//! is installed) and any layout optimisation beyond columns: the fallback
//! aims at readable, not pretty.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::model::{ElementType, Model};
use crate::output::html_escape;

fn dot_id(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

fn shape(kind: ElementType) -> &'static str {
    match kind {
        ElementType::ExternalEntity => "box",
        ElementType::DataStore | ElementType::DataSource => "cylinder",
        ElementType::Device | ElementType::Gateway => "box3d",
        ElementType::AiModel | ElementType::TrainingPipeline => "hexagon",
        _ => "ellipse",
    }
}

fn first_boundary(model: &Model) -> BTreeMap<&str, usize> {
    let mut m = BTreeMap::new();
    for (i, b) in model.boundaries.iter().enumerate() {
        for e in &b.elements {
            m.entry(e.as_str()).or_insert(i);
        }
    }
    m
}

fn flow_label(f: &crate::model::Flow) -> String {
    match f.port {
        Some(p) if !f.protocol.is_empty() => format!("{} {}/{p}", f.name, f.protocol),
        _ if !f.protocol.is_empty() => format!("{} ({})", f.name, f.protocol),
        _ => f.name.clone(),
    }
}

/// The diagram in Graphviz DOT.
pub fn dot(model: &Model) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "digraph {} {{\n  rankdir=LR;\n  node [fontname=\"Helvetica\", fontsize=10];\n  edge [fontname=\"Helvetica\", fontsize=8];",
        dot_id(&model.title)
    );
    let placed = first_boundary(model);
    for (i, b) in model.boundaries.iter().enumerate() {
        let _ = writeln!(
            s,
            "  subgraph \"cluster_{i}\" {{\n    label={};\n    style=dashed;\n    color=red;",
            dot_id(&b.name)
        );
        for e in &model.elements {
            if placed.get(e.id.as_str()) == Some(&i) {
                let _ = writeln!(
                    s,
                    "    {} [label={}, shape={}];",
                    dot_id(&e.id),
                    dot_id(&e.name),
                    shape(e.kind)
                );
            }
        }
        s.push_str("  }\n");
    }
    for e in &model.elements {
        if !placed.contains_key(e.id.as_str()) {
            let _ = writeln!(
                s,
                "  {} [label={}, shape={}];",
                dot_id(&e.id),
                dot_id(&e.name),
                shape(e.kind)
            );
        }
    }
    for f in &model.flows {
        let colour = if f.encrypted { "black" } else { "red" };
        let _ = writeln!(
            s,
            "  {} -> {} [label={}, color={colour}];",
            dot_id(&f.from),
            dot_id(&f.to),
            dot_id(&flow_label(f))
        );
    }
    s.push_str("}\n");
    s
}

const BOX_W: i64 = 180;
const BOX_H: i64 = 44;
const GAP_Y: i64 = 30;
const COL_W: i64 = 300;
const MARGIN: i64 = 30;

/// The diagram as a standalone SVG, laid out without Graphviz: one column
/// per trust boundary (a dashed red frame), elements as boxes stacked in
/// their column, flows as arrows (red when unencrypted) labelled at their
/// middle.
pub fn svg(model: &Model) -> String {
    let placed = first_boundary(model);
    let columns = model.boundaries.len() + 1;
    let mut rows = vec![0i64; columns];
    let mut pos: BTreeMap<&str, (i64, i64)> = BTreeMap::new();
    for e in &model.elements {
        let col = placed
            .get(e.id.as_str())
            .copied()
            .unwrap_or(model.boundaries.len());
        if let Some(row) = rows.get_mut(col) {
            let x = MARGIN + (col as i64) * COL_W + (COL_W - BOX_W) / 2;
            let y = MARGIN + 30 + *row * (BOX_H + GAP_Y);
            pos.insert(e.id.as_str(), (x, y));
            *row += 1;
        }
    }
    let max_rows = rows.iter().copied().max().unwrap_or(0).max(1);
    let width = MARGIN * 2 + columns as i64 * COL_W;
    let height = MARGIN * 2 + 40 + max_rows * (BOX_H + GAP_Y);
    let mut s = String::new();
    let _ = writeln!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" font-family=\"Helvetica, Arial, sans-serif\" font-size=\"11\">\n\
         <title>{}</title>\n<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto-start-reverse\"><path d=\"M 0 0 L 10 5 L 0 10 z\"/></marker></defs>\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>",
        html_escape(&model.title)
    );
    for (i, b) in model.boundaries.iter().enumerate() {
        let x = MARGIN + i as i64 * COL_W + 10;
        let h = height - 2 * MARGIN;
        let _ = writeln!(
            s,
            "<g class=\"boundary\"><rect x=\"{x}\" y=\"{MARGIN}\" width=\"{}\" height=\"{h}\" fill=\"none\" stroke=\"#c00\" stroke-dasharray=\"6 4\"/><text x=\"{}\" y=\"{}\" fill=\"#c00\" font-weight=\"bold\">{}</text></g>",
            COL_W - 20,
            x + 8,
            MARGIN + 18,
            html_escape(&b.name)
        );
    }
    for f in &model.flows {
        let (Some(&(x1, y1)), Some(&(x2, y2))) = (pos.get(f.from.as_str()), pos.get(f.to.as_str()))
        else {
            continue;
        };
        let (ax, ay) = (x1 + BOX_W / 2, y1 + BOX_H / 2);
        let (bx, by) = (x2 + BOX_W / 2, y2 + BOX_H / 2);
        // Offset both ends sideways so flows in both directions stay apart.
        let (dx, dy) = (bx - ax, by - ay);
        let len = ((dx * dx + dy * dy) as f64).sqrt().max(1.0);
        let (ox, oy) = (
            (-dy as f64 / len * 5.0) as i64,
            (dx as f64 / len * 5.0) as i64,
        );
        let (sx, sy) = clip(ax + ox, ay + oy, bx + ox, by + oy);
        let (tx, ty) = clip(bx + ox, by + oy, ax + ox, ay + oy);
        let colour = if f.encrypted { "#333" } else { "#c00" };
        let _ = writeln!(
            s,
            "<g class=\"flow\"><line x1=\"{sx}\" y1=\"{sy}\" x2=\"{tx}\" y2=\"{ty}\" stroke=\"{colour}\" marker-end=\"url(#arrow)\"/><text x=\"{}\" y=\"{}\" fill=\"{colour}\" font-size=\"9\" text-anchor=\"middle\">{}</text></g>",
            (sx + tx) / 2,
            (sy + ty) / 2 - 3,
            html_escape(&flow_label(f))
        );
    }
    for e in &model.elements {
        let Some(&(x, y)) = pos.get(e.id.as_str()) else {
            continue;
        };
        let (rx, fill) = match e.kind {
            ElementType::ExternalEntity => (0, "#eef"),
            ElementType::DataStore | ElementType::DataSource => (2, "#efe"),
            ElementType::AiModel | ElementType::TrainingPipeline => (14, "#fef3e0"),
            ElementType::Device | ElementType::Gateway => (4, "#f4f4f4"),
            _ => (20, "#fff"),
        };
        let _ = writeln!(
            s,
            "<g class=\"element\"><rect x=\"{x}\" y=\"{y}\" width=\"{BOX_W}\" height=\"{BOX_H}\" rx=\"{rx}\" fill=\"{fill}\" stroke=\"#333\"/><text x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-weight=\"bold\">{}</text><text x=\"{}\" y=\"{}\" text-anchor=\"middle\" fill=\"#555\" font-size=\"9\">{}</text></g>",
            x + BOX_W / 2,
            y + 19,
            html_escape(&e.name),
            x + BOX_W / 2,
            y + 34,
            e.kind.as_str()
        );
    }
    s.push_str("</svg>\n");
    s
}

/// The point where the segment from the centre (cx, cy) of a box towards
/// (px, py) leaves the box.
fn clip(cx: i64, cy: i64, px: i64, py: i64) -> (i64, i64) {
    let (dx, dy) = ((px - cx) as f64, (py - cy) as f64);
    if dx == 0.0 && dy == 0.0 {
        return (cx, cy);
    }
    let tx = if dx != 0.0 {
        (BOX_W as f64 / 2.0) / dx.abs()
    } else {
        f64::INFINITY
    };
    let ty = if dy != 0.0 {
        (BOX_H as f64 / 2.0) / dy.abs()
    } else {
        f64::INFINITY
    };
    let t = tx.min(ty).min(1.0);
    (cx + (dx * t) as i64, cy + (dy * t) as i64)
}

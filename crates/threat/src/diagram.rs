//! The data-flow diagram of a model: DOT for Graphviz, and a standalone SVG
//! laid out here with no external program ([`layout`]: a layered layout
//! with trust boundaries as clusters, routed flows and placed labels).
//!
//! Both draw trust boundaries as dashed clusters, nested when one contains
//! another; a boundary that overlaps another without containing it cannot
//! be a rectangle too, so its elements are marked "also in" it (and the DOT
//! output says so in a comment). Elements have a shape per type; flows are
//! labelled with name, protocol and port, red when they cross a boundary
//! unencrypted, dashed when unencrypted inside one.
//!
//! Deliberately absent: running Graphviz (the binary decides whether `dot`
//! is installed).

pub mod layout;

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::model::{ElementType, Flow, Model};
use crate::output::html_escape;
use layout::{Layout, Point, Rect, Shape};

fn dot_id(s: &str) -> String {
    format!("\"{}\"", dot_escape(s))
}

fn dot_escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// A DOT string of several lines.
fn dot_lines(lines: &[String]) -> String {
    let escaped: Vec<String> = lines.iter().map(|l| dot_escape(l)).collect();
    format!("\"{}\"", escaped.join("\\n"))
}

fn shape(kind: ElementType) -> &'static str {
    match layout::shape_of(kind) {
        Shape::Rect => "box",
        Shape::Cylinder => "cylinder",
        Shape::Box3d => "box3d",
        Shape::Hexagon => "hexagon",
        Shape::Pill => "ellipse",
    }
}

/// Per flow: whether it crosses a trust boundary (as the analysis decides:
/// its `crosses_boundary`, else whether its ends are in different sets of
/// boundaries).
pub(crate) fn crossing(model: &Model) -> Vec<bool> {
    let mut member: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for b in &model.boundaries {
        for e in &b.elements {
            member.entry(e.as_str()).or_default().push(b.id.as_str());
        }
    }
    for m in member.values_mut() {
        m.sort_unstable();
        m.dedup();
    }
    model
        .flows
        .iter()
        .map(|f| {
            f.crosses_boundary
                .unwrap_or_else(|| member.get(f.from.as_str()) != member.get(f.to.as_str()))
        })
        .collect()
}

/// How a flow is drawn: red when it crosses a boundary unencrypted, dashed
/// when unencrypted inside one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stroke {
    Encrypted,
    Plaintext,
    Exposed,
}

fn stroke(f: &Flow, crosses: bool) -> Stroke {
    match (f.encrypted, crosses) {
        (true, _) => Stroke::Encrypted,
        (false, false) => Stroke::Plaintext,
        (false, true) => Stroke::Exposed,
    }
}

/// The diagram in Graphviz DOT: boundaries as clusters, nested when one
/// contains another.
pub fn dot(model: &Model) -> String {
    let nest = layout::nesting(model);
    let crosses = crossing(model);
    let mut s = String::new();
    let _ = writeln!(
        s,
        "digraph {} {{\n  rankdir=LR;\n  node [fontname=\"Helvetica\", fontsize=10];\n  edge [fontname=\"Helvetica\", fontsize=8];",
        dot_id(&model.title)
    );
    let nb = model.boundaries.len();
    for (b, bd) in model.boundaries.iter().enumerate() {
        let name = bd.name.replace(['\n', '\r'], " ");
        if let Some(other) = nest
            .overlaps
            .get(b)
            .copied()
            .flatten()
            .and_then(|a| model.boundaries.get(a))
        {
            let _ = writeln!(
                s,
                "  // Boundary {name:?} overlaps {:?} without either containing the other: clusters cannot overlap, so its elements are labelled \"also in: {name}\".",
                other.name.replace(['\n', '\r'], " ")
            );
        } else if !nest.drawn.get(b).copied().unwrap_or(false) {
            let _ = writeln!(s, "  // Boundary {name:?} has no elements.");
        }
    }
    let mut children = vec![Vec::new(); nb];
    let mut roots = Vec::new();
    for b in 0..nb {
        if !nest.drawn.get(b).copied().unwrap_or(false) {
            continue;
        }
        match nest.parent.get(b).copied().flatten() {
            Some(p) => {
                if let Some(c) = children.get_mut(p) {
                    c.push(b);
                }
            }
            None => roots.push(b),
        }
    }
    let mut inside = vec![Vec::new(); nb];
    let mut outside = Vec::new();
    for (e, inner) in nest.innermost.iter().enumerate() {
        match inner.and_then(|b| inside.get_mut(b)) {
            Some(list) => list.push(e),
            None => outside.push(e),
        }
    }
    let node = |s: &mut String, e: usize, indent: &str| {
        let Some(el) = model.elements.get(e) else {
            return;
        };
        let mut lines = vec![el.name.clone()];
        for &b in nest.marks.get(e).map_or(&[][..], Vec::as_slice) {
            if let Some(bd) = model.boundaries.get(b) {
                lines.push(format!("(also in: {})", bd.name));
            }
        }
        let _ = writeln!(
            s,
            "{indent}{} [label={}, shape={}];",
            dot_id(&el.id),
            dot_lines(&lines),
            shape(el.kind)
        );
    };
    // Clusters are written without recursion: nesting may be deep.
    enum Step {
        Open(usize, usize),
        Close(usize),
    }
    let mut stack: Vec<Step> = roots.iter().rev().map(|&b| Step::Open(b, 1)).collect();
    while let Some(step) = stack.pop() {
        match step {
            Step::Open(b, depth) => {
                let indent = "  ".repeat(depth.min(8));
                let name = model.boundaries.get(b).map_or("", |x| x.name.as_str());
                let _ = writeln!(
                    s,
                    "{indent}subgraph \"cluster_{b}\" {{\n{indent}  label={};\n{indent}  style=dashed;\n{indent}  color=red;",
                    dot_id(name)
                );
                let inner = format!("{indent}  ");
                for &e in inside.get(b).map_or(&[][..], Vec::as_slice) {
                    node(&mut s, e, &inner);
                }
                stack.push(Step::Close(depth));
                for &c in children.get(b).map_or(&[][..], Vec::as_slice).iter().rev() {
                    stack.push(Step::Open(c, depth + 1));
                }
            }
            Step::Close(depth) => {
                let _ = writeln!(s, "{}}}", "  ".repeat(depth.min(8)));
            }
        }
    }
    for &e in &outside {
        node(&mut s, e, "  ");
    }
    for (f, &c) in model.flows.iter().zip(&crosses) {
        let style = match stroke(f, c) {
            Stroke::Encrypted => "color=black",
            Stroke::Plaintext => "color=black, style=dashed",
            Stroke::Exposed => "color=red",
        };
        let _ = writeln!(
            s,
            "  {} -> {} [label={}, {style}];",
            dot_id(&f.from),
            dot_id(&f.to),
            dot_lines(&layout::flow_lines(f))
        );
    }
    s.push_str("}\n");
    s
}

/// A number for SVG: at most one decimal.
fn num(x: f64) -> String {
    let r = (x * 10.0).round() / 10.0;
    if r.fract() == 0.0 {
        format!("{}", r as i64)
    } else {
        format!("{r:.1}")
    }
}

const RED: &str = "#c00";
const INK: &str = "#333";
const MARK: &str = "#6a3d9a";

/// The diagram as a standalone SVG, laid out without Graphviz (see
/// [`layout`]); a model too large for that layout gets a notice instead.
pub fn svg(model: &Model) -> String {
    match layout::layout(model) {
        Some(lay) => render(model, &lay),
        None => format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"720\" height=\"60\" font-family=\"Helvetica, Arial, sans-serif\" font-size=\"12\">\n<title>{}</title>\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n<text x=\"20\" y=\"34\">Too large for the built-in layout ({} elements, {} flows): install Graphviz to draw this model.</text>\n</svg>\n",
            html_escape(&model.title),
            model.elements.len(),
            model.flows.len()
        ),
    }
}

/// The SVG of a model laid out by [`layout::layout`], with a legend below.
pub fn render(model: &Model, lay: &Layout) -> String {
    let crosses = crossing(model);
    let nest = layout::nesting(model);
    let mut notes = Vec::new();
    let empty: Vec<&str> = model
        .boundaries
        .iter()
        .enumerate()
        .filter(|(b, _)| {
            !nest.drawn.get(*b).copied().unwrap_or(false)
                && nest.overlaps.get(*b).is_some_and(Option::is_none)
        })
        .map(|(_, b)| b.name.as_str())
        .collect();
    if !empty.is_empty() {
        notes.push(format!(
            "Boundaries with no elements (not drawn): {}.",
            empty.join(", ")
        ));
    }
    for (b, o) in nest.overlaps.iter().enumerate() {
        let (Some(bd), Some(other)) = (
            model.boundaries.get(b),
            o.and_then(|a| model.boundaries.get(a)),
        ) else {
            continue;
        };
        notes.push(format!(
            "{} overlaps {} without either containing the other: its elements are marked \"also in: {}\".",
            bd.name, other.name, bd.name
        ));
    }
    let legend_h = 34.0 + 16.0 * notes.len() as f64;
    let width = lay.width.max(660.0);
    let height = lay.height + legend_h;
    let (w, h) = (num(width), num(height));
    let mut s = String::new();
    let _ = writeln!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" style=\"max-width:100%;height:auto\" font-family=\"Helvetica, Arial, sans-serif\" font-size=\"11\">\n\
         <title>{}</title>\n<defs>\
         <marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerUnits=\"userSpaceOnUse\" markerWidth=\"10\" markerHeight=\"8\" orient=\"auto\"><path d=\"M 0 0 L 10 5 L 0 10 z\" fill=\"{INK}\"/></marker>\
         <marker id=\"arrow-red\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerUnits=\"userSpaceOnUse\" markerWidth=\"10\" markerHeight=\"8\" orient=\"auto\"><path d=\"M 0 0 L 10 5 L 0 10 z\" fill=\"{RED}\"/></marker>\
         </defs>\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <text x=\"{}\" y=\"{}\" font-size=\"15\" font-weight=\"bold\">{}</text>",
        html_escape(&model.title),
        num(layout::MARGIN),
        num(layout::MARGIN + 14.0),
        html_escape(&model.title)
    );
    for c in &lay.clusters {
        let name = model
            .boundaries
            .get(c.boundary)
            .map_or("", |b| b.name.as_str());
        let r = &c.rect;
        let _ = writeln!(
            s,
            "<g class=\"boundary\"><rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" rx=\"6\" fill=\"{RED}\" fill-opacity=\"0.03\" stroke=\"{RED}\" stroke-dasharray=\"6 4\"/><text x=\"{}\" y=\"{}\" fill=\"{RED}\" font-weight=\"bold\" stroke=\"white\" stroke-width=\"3\" paint-order=\"stroke\">{}</text></g>",
            num(r.x),
            num(r.y),
            num(r.w),
            num(r.h),
            num(c.label.x),
            num(c.label.y + 11.0),
            html_escape(name)
        );
    }
    for e in &lay.edges {
        let Some(f) = model.flows.get(e.flow) else {
            continue;
        };
        let st = stroke(f, crosses.get(e.flow).copied().unwrap_or(false));
        let (colour, marker) = match st {
            Stroke::Exposed => (RED, "arrow-red"),
            _ => (INK, "arrow"),
        };
        let dash = if st == Stroke::Plaintext {
            " stroke-dasharray=\"5 3\""
        } else {
            ""
        };
        let _ = write!(
            s,
            "<g class=\"flow\"><title>{}</title><path d=\"{}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"1.3\"{dash} marker-end=\"url(#{marker})\"/>",
            html_escape(&f.id),
            path(&e.points, lay.top_to_bottom)
        );
        let names = layout::wrap(&f.name, 26, 2).len();
        let cx = e.label.x + e.label.w / 2.0;
        for (i, line) in e.label_lines.iter().enumerate() {
            let (size, fill) = if i < names {
                ("10", colour)
            } else {
                ("9", if st == Stroke::Exposed { RED } else { "#666" })
            };
            let _ = write!(
                s,
                "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-size=\"{size}\" fill=\"{fill}\">{}</text>",
                num(cx),
                num(e.label.y + layout::LABEL_LINE * i as f64 + 9.5),
                html_escape(line)
            );
        }
        s.push_str("</g>\n");
    }
    for n in &lay.nodes {
        let Some(el) = model.elements.get(n.element) else {
            continue;
        };
        element(&mut s, model, el, n);
    }
    legend(&mut s, lay.height, &notes);
    s.push_str("</svg>\n");
    s
}

/// An SVG path through `points`, the segments between layers as curves
/// (which stay in the gap between the two layers).
fn path(points: &[Point], tb: bool) -> String {
    let mut d = String::new();
    if let Some(p) = points.first() {
        let _ = write!(d, "M{} {}", num(p.x), num(p.y));
    }
    for pair in points.windows(2) {
        let (Some(a), Some(b)) = (pair.first(), pair.get(1)) else {
            continue;
        };
        if (a.x - b.x).abs() < 0.05 || (a.y - b.y).abs() < 0.05 {
            let _ = write!(d, " L{} {}", num(b.x), num(b.y));
        } else if tb {
            let m = (a.y + b.y) / 2.0;
            let _ = write!(
                d,
                " C{} {} {} {} {} {}",
                num(a.x),
                num(m),
                num(b.x),
                num(m),
                num(b.x),
                num(b.y)
            );
        } else {
            let m = (a.x + b.x) / 2.0;
            let _ = write!(
                d,
                " C{} {} {} {} {} {}",
                num(m),
                num(a.y),
                num(m),
                num(b.y),
                num(b.x),
                num(b.y)
            );
        }
    }
    d
}

fn element(s: &mut String, model: &Model, el: &crate::model::Element, n: &layout::NodeBox) {
    let Rect { x, y, w, h } = n.rect;
    let fill = match el.kind {
        ElementType::ExternalEntity => "#eef",
        ElementType::DataStore | ElementType::DataSource => "#efe",
        ElementType::AiModel | ElementType::TrainingPipeline => "#fef3e0",
        ElementType::Device | ElementType::Gateway => "#f4f4f4",
        _ => "#fff",
    };
    let _ = write!(
        s,
        "<g class=\"element\"><title>{}</title>",
        html_escape(&el.id)
    );
    let line = format!("fill=\"{fill}\" stroke=\"{INK}\"");
    let (cx, cy) = match layout::shape_of(el.kind) {
        Shape::Rect => {
            let _ = write!(
                s,
                "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" {line}/>",
                num(x),
                num(y),
                num(w),
                num(h)
            );
            (x + w / 2.0, y + h / 2.0)
        }
        Shape::Pill => {
            let _ = write!(
                s,
                "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" rx=\"{}\" {line}/>",
                num(x),
                num(y),
                num(w),
                num(h),
                num(layout::PILL_R.min(h / 2.0))
            );
            (x + w / 2.0, y + h / 2.0)
        }
        Shape::Cylinder => {
            let ry = layout::CAP / 2.0;
            let (rx, l, r, t, b) = (
                num(w / 2.0),
                num(x),
                num(x + w),
                num(y + ry),
                num(y + h - ry),
            );
            let ry = num(ry);
            let _ = write!(
                s,
                "<path d=\"M{l} {t} A{rx} {ry} 0 0 1 {r} {t} L{r} {b} A{rx} {ry} 0 0 1 {l} {b} Z\" {line}/><path d=\"M{l} {t} A{rx} {ry} 0 0 0 {r} {t}\" fill=\"none\" stroke=\"{INK}\"/>"
            );
            (x + w / 2.0, y + h / 2.0 + layout::CAP / 4.0)
        }
        Shape::Box3d => {
            let d = layout::DEPTH;
            let _ = write!(
                s,
                "<path d=\"M{} {} L{} {} L{} {} L{} {} Z\" fill=\"#ddd\" stroke=\"{INK}\"/><path d=\"M{} {} L{} {} L{} {} L{} {} Z\" fill=\"#ccc\" stroke=\"{INK}\"/><rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" {line}/>",
                num(x),
                num(y + d),
                num(x + d),
                num(y),
                num(x + w),
                num(y),
                num(x + w - d),
                num(y + d),
                num(x + w - d),
                num(y + d),
                num(x + w),
                num(y),
                num(x + w),
                num(y + h - d),
                num(x + w - d),
                num(y + h),
                num(x),
                num(y + d),
                num(w - d),
                num(h - d)
            );
            (x + (w - d) / 2.0, y + d + (h - d) / 2.0)
        }
        Shape::Hexagon => {
            let k = layout::SLANT;
            let _ = write!(
                s,
                "<path d=\"M{} {} L{} {} L{} {} L{} {} L{} {} L{} {} Z\" {line}/>",
                num(x + k),
                num(y),
                num(x + w - k),
                num(y),
                num(x + w),
                num(y + h / 2.0),
                num(x + w - k),
                num(y + h),
                num(x + k),
                num(y + h),
                num(x),
                num(y + h / 2.0)
            );
            (x + w / 2.0, y + h / 2.0)
        }
    };
    let names = n.name_lines.len() as f64;
    let block = layout::NAME_LINE * names + layout::SMALL_LINE * (1 + n.marks.len()) as f64;
    let top = cy - block / 2.0;
    for (i, l) in n.name_lines.iter().enumerate() {
        let _ = write!(
            s,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-weight=\"bold\">{}</text>",
            num(cx),
            num(top + layout::NAME_LINE * i as f64 + 11.0),
            html_escape(l)
        );
    }
    let below = top + layout::NAME_LINE * names;
    let _ = write!(
        s,
        "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" fill=\"#555\" font-size=\"9\">{}</text>",
        num(cx),
        num(below + 9.5),
        el.kind.as_str()
    );
    for (i, &b) in n.marks.iter().enumerate() {
        let name = model.boundaries.get(b).map_or("", |x| x.name.as_str());
        let _ = write!(
            s,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" fill=\"{MARK}\" font-size=\"9\">also in: {}</text>",
            num(cx),
            num(below + layout::SMALL_LINE * (i + 1) as f64 + 9.5),
            html_escape(name)
        );
    }
    s.push_str("</g>\n");
}

/// The legend and notes below the drawing.
fn legend(s: &mut String, top: f64, notes: &[String]) {
    let y = top + 14.0;
    let mut x = layout::MARGIN;
    s.push_str("<g class=\"legend\" font-size=\"10\" fill=\"#444\">");
    for (label, colour, dash) in [
        ("encrypted flow", INK, ""),
        (
            "unencrypted, inside a boundary",
            INK,
            " stroke-dasharray=\"5 3\"",
        ),
        ("unencrypted, across a boundary", RED, ""),
    ] {
        let _ = write!(
            s,
            "<path d=\"M{} {} h28\" stroke=\"{colour}\" stroke-width=\"1.3\"{dash}/><text x=\"{}\" y=\"{}\">{label}</text>",
            num(x),
            num(y),
            num(x + 34.0),
            num(y + 3.5)
        );
        x += 40.0 + layout::text_width(label, 10.0, false);
    }
    let _ = write!(
        s,
        "<rect x=\"{}\" y=\"{}\" width=\"28\" height=\"12\" rx=\"3\" fill=\"none\" stroke=\"{RED}\" stroke-dasharray=\"6 4\"/><text x=\"{}\" y=\"{}\">trust boundary</text>",
        num(x),
        num(y - 6.0),
        num(x + 34.0),
        num(y + 3.5)
    );
    for (i, note) in notes.iter().enumerate() {
        let _ = write!(
            s,
            "<text x=\"{}\" y=\"{}\">{}</text>",
            num(layout::MARGIN),
            num(y + 20.0 + 16.0 * i as f64),
            html_escape(note)
        );
    }
    s.push_str("</g>\n");
}

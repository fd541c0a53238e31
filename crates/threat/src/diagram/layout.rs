//! The layered layout behind the built-in SVG diagram (Sugiyama's method),
//! with trust boundaries as clusters:
//!
//! 1. cycles are broken by reversing the flows that go against a greedy
//!    order of the elements (Eades, Lin and Smyth), which reverses few;
//! 2. elements get layers by longest path, then each moves to the layer
//!    that shortens its flows, or to the least crowded one on a tie;
//! 3. a flow gets one bend point per layer it passes, and its label is a
//!    node of its own in a label layer between two element layers, so
//!    labels are placed like boxes and never overlap; bends and labels
//!    stay inside a boundary of the flow's ends where that boundary spans
//!    their layer anyway;
//! 4. the order inside each layer comes from barycenter sweeps that keep
//!    the members of a boundary together, boundaries in the same order in
//!    every layer (a boundary with nothing in a layer it spans holds a
//!    place there), keeping the order with the fewest crossings;
//! 5. positions inside a layer are the longest path of the separation
//!    constraints (boxes, bend points, labels, boundary edges), then each
//!    moves, within its constraints, towards the median of its neighbours
//!    (the bends of a long flow towards one line, so that it runs
//!    straight); a box grows along its side so that each flow attaches at
//!    its own point;
//! 6. flows are polylines through their bend points: straight inside a
//!    layer, from one layer to the next across a gap where no box is.
//!
//! Both directions are laid out, left to right and top to bottom; the one
//! that fits a landscape page better is kept. Boundaries that overlap
//! without one containing the other cannot all be rectangles: the first in
//! model order is drawn, the others are marked on their elements. An empty
//! boundary is not drawn. The same model gives the same layout.
//!
//! Deliberately absent: a model with more than [`LAYOUT_ELEMENTS_MAX`]
//! elements, [`LAYOUT_FLOWS_MAX`] flows or [`LAYOUT_BOUNDARIES_MAX`]
//! boundaries, or one that needs more than [`LAYOUT_NODES_MAX`] nodes, gets
//! no layout ([`layout`] returns `None`): Graphviz is the tool for those.

use std::collections::BTreeMap;

use crate::model::{ElementType, Model};

mod coords;
mod graph;
mod order;

use coords::{inside, ports};
use graph::{Graph, Kind, Node};
use order::{order, set_pos};

/// Most elements the built-in layout takes.
pub const LAYOUT_ELEMENTS_MAX: usize = 2_000;
/// Most flows the built-in layout takes.
pub const LAYOUT_FLOWS_MAX: usize = 8_000;
/// Most trust boundaries the built-in layout takes.
pub const LAYOUT_BOUNDARIES_MAX: usize = 256;
/// Most layout nodes (elements, bend points, labels, places held).
pub const LAYOUT_NODES_MAX: usize = 40_000;

/// Space around the drawing.
pub const MARGIN: f64 = 20.0;
/// Space for the title above the drawing.
pub const TITLE_H: f64 = 30.0;
const NODE_SEP: f64 = 22.0;
const SMALL_SEP: f64 = 8.0;
const BEND_HALF: f64 = 4.0;
const PAD_HEAD: f64 = 26.0;
const PAD_TAIL: f64 = 12.0;
const OUT_GAP: f64 = 16.0;
const CLUSTER_GAP: f64 = 20.0;
const MIN_GAP: f64 = 40.0;
const LOOP_GAP: f64 = 8.0;
/// Height of a line of a flow label.
pub const LABEL_LINE: f64 = 12.0;
/// Height of a line of an element's name.
pub const NAME_LINE: f64 = 14.0;
/// Height of the smaller lines of an element (its type, its marks).
pub const SMALL_LINE: f64 = 12.0;
const SWEEPS: usize = 24;
const ROUNDS: usize = 60;

/// A point of the drawing.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Point {
    /// From the left.
    pub x: f64,
    /// From the top.
    pub y: f64,
}

/// A rectangle of the drawing.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Rect {
    /// Left edge.
    pub x: f64,
    /// Top edge.
    pub y: f64,
    /// Width.
    pub w: f64,
    /// Height.
    pub h: f64,
}

impl Rect {
    /// Right edge.
    pub fn right(&self) -> f64 {
        self.x + self.w
    }

    /// Bottom edge.
    pub fn bottom(&self) -> f64 {
        self.y + self.h
    }

    /// Whether the two rectangles share more than an edge.
    pub fn overlaps(&self, o: &Rect) -> bool {
        self.x < o.right() && o.x < self.right() && self.y < o.bottom() && o.y < self.bottom()
    }

    /// Whether `o` lies inside this rectangle.
    pub fn contains(&self, o: &Rect) -> bool {
        o.x >= self.x && o.y >= self.y && o.right() <= self.right() && o.bottom() <= self.bottom()
    }
}

/// How an element type is drawn (as in the DOT output).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// A plain box: external entities.
    Rect,
    /// A box with round ends: processes and services.
    Pill,
    /// A cylinder: data stores and sources.
    Cylinder,
    /// A box with depth: devices and gateways.
    Box3d,
    /// A hexagon: AI models and training pipelines.
    Hexagon,
}

/// The shape of an element type.
pub fn shape_of(kind: ElementType) -> Shape {
    match kind {
        ElementType::ExternalEntity => Shape::Rect,
        ElementType::DataStore | ElementType::DataSource => Shape::Cylinder,
        ElementType::Device | ElementType::Gateway => Shape::Box3d,
        ElementType::AiModel | ElementType::TrainingPipeline => Shape::Hexagon,
        _ => Shape::Pill,
    }
}

/// Height of a cylinder's caps.
pub const CAP: f64 = 10.0;
/// Depth of a 3D box.
pub const DEPTH: f64 = 5.0;
/// Slant of a hexagon's sides.
pub const SLANT: f64 = 12.0;
/// Largest corner radius of a pill.
pub const PILL_R: f64 = 16.0;

/// An element's box.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeBox {
    /// Index of the element in the model.
    pub element: usize,
    /// The box; the shape is drawn inside it.
    pub rect: Rect,
    /// The element's name, wrapped.
    pub name_lines: Vec<String>,
    /// Boundaries (indices) the element belongs to that are not drawn
    /// because they overlap a drawn one: marked on the element instead.
    pub marks: Vec<usize>,
}

/// A trust boundary drawn as a rectangle.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterBox {
    /// Index of the boundary in the model.
    pub boundary: usize,
    /// Its rectangle.
    pub rect: Rect,
    /// Where its name is written.
    pub label: Rect,
    /// How many drawn boundaries contain it.
    pub depth: usize,
}

/// A flow's route and label.
#[derive(Debug, Clone, PartialEq)]
pub struct EdgePath {
    /// Index of the flow in the model.
    pub flow: usize,
    /// The route from the source's border to the target's; a renderer may
    /// round the segments between layers into curves (they stay in the gap
    /// between the two layers).
    pub points: Vec<Point>,
    /// Where the label is written.
    pub label: Rect,
    /// The label's lines: the flow's name, wrapped, then its protocol and
    /// port (when given).
    pub label_lines: Vec<String>,
}

/// A laid out diagram.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    /// Width of the drawing.
    pub width: f64,
    /// Height of the drawing.
    pub height: f64,
    /// Whether layers run top to bottom (else left to right).
    pub top_to_bottom: bool,
    /// One box per element, in model order.
    pub nodes: Vec<NodeBox>,
    /// The boundaries drawn, outer ones first.
    pub clusters: Vec<ClusterBox>,
    /// One path per flow, in model order (flows to unknown elements are left out).
    pub edges: Vec<EdgePath>,
    /// Edge crossings between layers, as counted by the ordering step.
    pub crossings: usize,
}

/// How boundaries nest: which are drawn (as clusters in DOT, rectangles in
/// SVG), in which other, and which elements carry marks for the others.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Nesting {
    /// Per boundary: whether it is drawn.
    pub drawn: Vec<bool>,
    /// Per boundary: the drawn boundary directly around it.
    pub parent: Vec<Option<usize>>,
    /// Per boundary not drawn although it has elements: the drawn boundary
    /// it overlaps without either containing the other.
    pub overlaps: Vec<Option<usize>>,
    /// Per element: the innermost drawn boundary it belongs to.
    pub innermost: Vec<Option<usize>>,
    /// Per element: the boundaries it belongs to that are not drawn.
    pub marks: Vec<Vec<usize>>,
}

/// Which boundaries can be drawn as nested rectangles: in model order, a
/// boundary is drawn when it has elements and, with every boundary drawn
/// before it, is either disjoint or one contains the other.
pub fn nesting(model: &Model) -> Nesting {
    let n = model.elements.len();
    let index: BTreeMap<&str, usize> = model.element_positions();
    let members: Vec<Vec<usize>> = model
        .boundaries
        .iter()
        .map(|b| {
            let mut m: Vec<usize> = b
                .elements
                .iter()
                .filter_map(|e| index.get(e.as_str()).copied())
                .collect();
            m.sort_unstable();
            m.dedup();
            m
        })
        .collect();
    let size = |b: usize| members.get(b).map_or(0, Vec::len);
    let nb = members.len();
    let mut drawn = vec![false; nb];
    let mut overlaps = vec![None; nb];
    let mut within: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut count = vec![0usize; nb];
    for (b, m) in members.iter().enumerate() {
        if m.is_empty() {
            continue;
        }
        let mut touched = Vec::new();
        for &e in m {
            for &a in within.get(e).map_or(&[][..], Vec::as_slice) {
                if let Some(c) = count.get_mut(a) {
                    if *c == 0 {
                        touched.push(a);
                    }
                    *c += 1;
                }
            }
        }
        let mut clash: Option<usize> = None;
        for &a in &touched {
            let k = count.get(a).copied().unwrap_or(0);
            if k != size(a) && k != m.len() {
                clash = Some(clash.map_or(a, |c| c.min(a)));
            }
            set(&mut count, a, 0);
        }
        if clash.is_some() {
            set(&mut overlaps, b, clash);
        } else {
            set(&mut drawn, b, true);
            for &e in m {
                if let Some(w) = within.get_mut(e) {
                    w.push(b);
                }
            }
        }
    }
    // The innermost of nested boundaries is the smallest; of equal ones,
    // the last in model order.
    let inner_key = |b: usize| (size(b), std::cmp::Reverse(b));
    let mut parent = vec![None; nb];
    for (b, m) in members.iter().enumerate() {
        if !drawn.get(b).copied().unwrap_or(false) {
            continue;
        }
        let Some(first) = m.first() else { continue };
        let candidates = within.get(*first).map_or(&[][..], Vec::as_slice);
        let p = candidates
            .iter()
            .copied()
            .filter(|&a| {
                a != b
                    && (size(a) > size(b) || a < b)
                    && m.iter()
                        .all(|e| within.get(*e).is_some_and(|w| w.contains(&a)))
            })
            .min_by_key(|&a| inner_key(a));
        set(&mut parent, b, p);
    }
    let innermost = within
        .iter()
        .map(|w| w.iter().copied().min_by_key(|&a| inner_key(a)))
        .collect();
    let mut marks = vec![Vec::new(); n];
    for (b, m) in members.iter().enumerate() {
        if overlaps.get(b).is_some_and(Option::is_some) {
            for &e in m {
                if let Some(k) = marks.get_mut(e) {
                    k.push(b);
                }
            }
        }
    }
    Nesting {
        drawn,
        parent,
        overlaps,
        innermost,
        marks,
    }
}

fn set<T>(v: &mut [T], i: usize, x: T) {
    if let Some(slot) = v.get_mut(i) {
        *slot = x;
    }
}

fn getf(v: &[f64], i: usize) -> f64 {
    v.get(i).copied().unwrap_or(0.0)
}

fn getu(v: &[usize], i: usize) -> usize {
    v.get(i).copied().unwrap_or(0)
}

/// Estimated width of `s` in a sans-serif font of `size` px (DejaVu Sans
/// metrics, the widest of the usual fallbacks, so that text fits anywhere).
pub fn text_width(s: &str, size: f64, bold: bool) -> f64 {
    let em: f64 = s
        .chars()
        .map(|c| match c {
            ' ' | '.' | ',' | ':' | ';' | '\'' | '!' | '|' | 'i' | 'j' | 'l' => 0.32,
            'f' | 't' | 'r' | '(' | ')' | '[' | ']' | '{' | '}' | '-' | '/' | 'I' | 'J' => 0.42,
            'm' | 'M' | 'W' => 0.98,
            'w' => 0.82,
            'A'..='Z' => 0.74,
            'a'..='z' | '0'..='9' => 0.64,
            c if c.is_ascii() => 0.66,
            c if u32::from(c) >= 0x2E80 => 1.0,
            _ => 0.72,
        })
        .sum();
    em * size * if bold { 1.12 } else { 1.0 }
}

/// `text` in lines of at most `max` characters (words longer than that are
/// cut), at most `lines` of them (the last ends with "…" when text is left).
pub fn wrap(text: &str, max: usize, lines: usize) -> Vec<String> {
    let max = max.max(1);
    let mut out: Vec<String> = Vec::new();
    let mut cur = String::new();
    for word in text.split_whitespace() {
        let mut word: Vec<char> = word.chars().collect();
        loop {
            let cur_len = cur.chars().count();
            let need = if cur.is_empty() { 0 } else { cur_len + 1 };
            if need + word.len() <= max {
                if !cur.is_empty() {
                    cur.push(' ');
                }
                cur.extend(word.iter());
                break;
            }
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
                continue;
            }
            let rest = word.split_off(max.min(word.len()));
            out.push(word.iter().collect());
            word = rest;
            if word.is_empty() {
                break;
            }
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    if out.len() > lines.max(1) {
        out.truncate(lines.max(1));
        if let Some(last) = out.last_mut() {
            let mut chars: Vec<char> = last.chars().collect();
            chars.truncate(max.saturating_sub(1));
            *last = chars.into_iter().collect::<String>() + "…";
        }
    }
    out
}

/// The lines of a flow's label: its name, wrapped, and its protocol and
/// port.
pub fn flow_lines(f: &crate::model::Flow) -> Vec<String> {
    let mut lines = wrap(&f.name, 26, 2);
    let proto = match (f.protocol.is_empty(), f.port) {
        (false, Some(p)) => format!("{} :{p}", f.protocol),
        (false, None) => f.protocol.clone(),
        (true, Some(p)) => format!("port {p}"),
        (true, None) => String::new(),
    };
    lines.extend(wrap(&proto, 30, 1));
    lines
}

/// Width of a flow label's text (the first lines at 10 px, the protocol
/// line at 9 px).
fn label_size(f: &crate::model::Flow, lines: &[String]) -> (f64, f64) {
    let name_lines = wrap(&f.name, 26, 2).len();
    let w = lines
        .iter()
        .enumerate()
        .map(|(i, l)| text_width(l, if i < name_lines { 10.0 } else { 9.0 }, false))
        .fold(0.0, f64::max);
    (w.max(8.0) + 4.0, LABEL_LINE * lines.len().max(1) as f64)
}

/// Size of an element's box for its lines of text.
fn element_size(kind: ElementType, name: &[String], marks: &[String]) -> (f64, f64) {
    let text = name
        .iter()
        .map(|l| text_width(l, 11.0, true))
        .chain(std::iter::once(text_width(kind.as_str(), 9.0, false)))
        .chain(marks.iter().map(|l| text_width(l, 9.0, false)))
        .fold(0.0, f64::max);
    let mut w = text + 24.0;
    let mut h = 16.0 + NAME_LINE * name.len() as f64 + SMALL_LINE * (1 + marks.len()) as f64;
    match shape_of(kind) {
        Shape::Pill => w += 16.0,
        Shape::Hexagon => w += 2.0 * SLANT,
        Shape::Box3d => {
            w += DEPTH;
            h += DEPTH;
        }
        Shape::Cylinder => h += CAP,
        Shape::Rect => {}
    }
    (w.max(100.0).ceil(), h.ceil())
}

/// How far inside its box a shape's border is, at offset `d` from the
/// middle of the side where flows attach (left and right sides when layers
/// run left to right, top and bottom otherwise).
fn inset(shape: Shape, w: f64, h: f64, d: f64, tb: bool) -> f64 {
    let d = d.abs();
    let side = if tb { w / 2.0 } else { h / 2.0 };
    match shape {
        Shape::Pill => {
            let r = PILL_R.min(h / 2.0);
            let t = d - (side - r);
            if t > 0.0 {
                r - (r * r - t * t).max(0.0).sqrt()
            } else {
                0.0
            }
        }
        Shape::Hexagon if tb => {
            let t = d - (side - SLANT);
            if t > 0.0 {
                t * (h / 2.0) / SLANT
            } else {
                0.0
            }
        }
        Shape::Hexagon => SLANT * d / side.max(1.0),
        Shape::Cylinder if tb => {
            let ry = CAP / 2.0;
            let q = (d / side.max(1.0)).min(1.0);
            ry - ry * (1.0 - q * q).max(0.0).sqrt()
        }
        _ => 0.0,
    }
}

/// Extent of a node inside its layer, before and after its anchor (where
/// its flows run), and its thickness along the layers.
fn extent(x: &Node, tb: bool) -> (f64, f64, f64) {
    match (x.kind, tb) {
        (Kind::Element, true) => (x.w / 2.0, x.w / 2.0, x.h),
        (Kind::Element, false) => (x.h / 2.0, x.h / 2.0, x.w),
        (Kind::Bend, _) => (BEND_HALF, BEND_HALF, 0.0),
        (Kind::Hold, _) => (0.0, 0.0, 0.0),
        (Kind::Label, true) => (3.0, x.w + 6.0, x.h),
        (Kind::Label, false) => (x.h + 5.0, 3.0, x.w),
        (Kind::Loop, true) => (3.0, LOOP_GAP + x.w + 6.0, x.h.max(16.0)),
        (Kind::Loop, false) => (x.h + 5.0, LOOP_GAP + 3.0, x.w.max(16.0)),
    }
}

/// Both layouts, and the one kept.
struct Placed {
    layout: Layout,
    score: f64,
}

/// Lays out `model` in the direction that fits a landscape page better, or
/// `None` when it is too large for the built-in layout.
pub fn layout(model: &Model) -> Option<Layout> {
    let (g, layers, crossings) = prepare(model)?;
    let lr = place(&g, &layers, crossings, false);
    let tb = place(&g, &layers, crossings, true);
    Some(if tb.score < lr.score {
        tb.layout
    } else {
        lr.layout
    })
}

/// Lays out `model` with layers top to bottom (`top_to_bottom`) or left to
/// right, or `None` when it is too large for the built-in layout.
pub fn layout_in(model: &Model, top_to_bottom: bool) -> Option<Layout> {
    let (g, layers, crossings) = prepare(model)?;
    Some(place(&g, &layers, crossings, top_to_bottom).layout)
}

/// The layered graph and its order, shared by both directions.
fn prepare(model: &Model) -> Option<(Graph, Vec<Vec<usize>>, usize)> {
    if model.elements.len() > LAYOUT_ELEMENTS_MAX
        || model.flows.len() > LAYOUT_FLOWS_MAX
        || model.boundaries.len() > LAYOUT_BOUNDARIES_MAX
    {
        return None;
    }
    let nest = nesting(model);
    let g = Graph::new(model, &nest)?;
    let (layers, crossings) = order(&g);
    Some((g, layers, crossings))
}

/// Coordinates for an order, left to right or top to bottom (`tb`). Inside
/// a layer a coordinate is `u`; along the layers, `v`.
fn place(g: &Graph, layers: &[Vec<usize>], crossings: usize, tb: bool) -> Placed {
    let nn = g.nodes.len();
    // A box grows along the side where its flows attach, so that each has
    // room of its own.
    let step = if tb { 12.0 } else { 8.0 };
    let sized: Vec<Node> = g
        .nodes
        .iter()
        .enumerate()
        .map(|(v, x)| {
            let mut x = x.clone();
            if x.kind == Kind::Element {
                let k = g
                    .before
                    .get(v)
                    .map_or(0, Vec::len)
                    .max(g.after.get(v).map_or(0, Vec::len));
                let need = 16.0 + step * k.saturating_sub(1) as f64;
                if tb {
                    x.w = x.w.max(need);
                } else {
                    x.h = x.h.max(need);
                }
            }
            x
        })
        .collect();
    let ext: Vec<(f64, f64, f64)> = sized.iter().map(|x| extent(x, tb)).collect();
    let mut pos = vec![0usize; nn];
    set_pos(layers, &mut pos);
    let offs = ports(g, &sized, &pos, tb);
    let u = inside(g, layers, &ext, &offs, tb);
    let nc = g.tree.boundary.len();
    // Along the layers: each rank as thick as its thickest node, gaps wide
    // enough for the boundaries that start or end there.
    let mut thick = vec![0.0f64; g.ranks];
    for (x, e) in g.nodes.iter().zip(&ext) {
        if let Some(t) = thick.get_mut(x.rank) {
            *t = t.max(e.2);
        }
    }
    let mut span = vec![(usize::MAX, 0usize); nc];
    for x in &g.nodes {
        for &c in g.tree.path(x.cluster).iter().skip(1) {
            if let Some(s) = span.get_mut(c) {
                *s = (s.0.min(x.rank), s.1.max(x.rank));
            }
        }
    }
    let head = |c: usize| {
        let h = getu(&g.tree.height, c) as f64;
        if tb {
            PAD_HEAD + 22.0 * h
        } else {
            PAD_TAIL + 10.0 * h
        }
    };
    let tail = |c: usize| PAD_TAIL + 10.0 * getu(&g.tree.height, c) as f64;
    let mut need_before = vec![0.0f64; g.ranks];
    let mut need_after = vec![0.0f64; g.ranks];
    for (c, &(lo, hi)) in span.iter().enumerate().skip(1) {
        if lo == usize::MAX {
            continue;
        }
        if let Some(x) = need_before.get_mut(lo) {
            *x = x.max(head(c));
        }
        if let Some(x) = need_after.get_mut(hi) {
            *x = x.max(tail(c));
        }
    }
    let gap: Vec<f64> = (0..g.ranks)
        .map(|r| MIN_GAP.max(getf(&need_after, r) + getf(&need_before, r + 1) + 16.0))
        .collect();
    if !tb {
        // A boundary is at least as wide as its name.
        for (c, &(lo, hi)) in span.iter().enumerate().skip(1) {
            if lo == usize::MAX {
                continue;
            }
            let have = (lo..=hi).map(|r| getf(&thick, r)).sum::<f64>()
                + (lo..hi).map(|r| getf(&gap, r)).sum::<f64>()
                + head(c)
                + tail(c);
            let want = getf(&g.cluster_label, c) + 16.0;
            if have < want {
                if let Some(t) = thick.get_mut(hi) {
                    *t += want - have;
                }
            }
        }
    }
    let mut lo_v = vec![0.0f64; g.ranks];
    let mut at = MARGIN + getf(&need_before, 0) + if tb { TITLE_H } else { 0.0 };
    for r in 0..g.ranks {
        set(&mut lo_v, r, at);
        at += getf(&thick, r) + getf(&gap, r);
    }
    // Inside the layers: shift so that everything starts after the margin.
    let u_start = MARGIN + if tb { 0.0 } else { TITLE_H };
    let mut u_min = f64::INFINITY;
    for (v, e) in ext.iter().enumerate() {
        if g.kind(v) != Kind::Hold {
            u_min = u_min.min(getf(&u, v) - e.0);
        }
    }
    for c in 1..nc {
        u_min = u_min.min(getf(&u, nn + 2 * (c - 1)));
    }
    if !u_min.is_finite() {
        u_min = 0.0;
    }
    let shift = u_start - u_min;
    let uu = |v: usize| getf(&u, v) + shift;
    let rect = |u0: f64, v0: f64, du: f64, dv: f64| {
        if tb {
            Rect {
                x: u0,
                y: v0,
                w: du,
                h: dv,
            }
        } else {
            Rect {
                x: v0,
                y: u0,
                w: dv,
                h: du,
            }
        }
    };
    let point = |u0: f64, v0: f64| {
        if tb {
            Point { x: u0, y: v0 }
        } else {
            Point { x: v0, y: u0 }
        }
    };
    let mut nodes = Vec::new();
    for (v, x) in g.nodes.iter().enumerate() {
        if x.kind != Kind::Element {
            continue;
        }
        let (b, a, t) = ext.get(v).copied().unwrap_or_default();
        let v0 = getf(&lo_v, x.rank) + (getf(&thick, x.rank) - t) / 2.0;
        nodes.push(NodeBox {
            element: x.of,
            rect: rect(uu(v) - b, v0, b + a, t),
            name_lines: g.names.get(x.of).cloned().unwrap_or_default(),
            marks: g.marks.get(x.of).cloned().unwrap_or_default(),
        });
    }
    let mut clusters = Vec::new();
    let mut order_c: Vec<usize> = (1..nc).collect();
    order_c.sort_by_key(|&c| (g.tree.path(c).len(), c));
    for c in order_c {
        let Some(&(lo, hi)) = span.get(c) else {
            continue;
        };
        if lo == usize::MAX {
            continue;
        }
        let t = getf(&u, nn + 2 * (c - 1)) + shift;
        let b = getf(&u, nn + 2 * (c - 1) + 1) + shift;
        let v0 = getf(&lo_v, lo) - head(c);
        let v1 = getf(&lo_v, hi) + getf(&thick, hi) + tail(c);
        let r = rect(t, v0, b - t, v1 - v0);
        let lw = getf(&g.cluster_label, c);
        clusters.push(ClusterBox {
            boundary: getu(&g.tree.boundary, c),
            rect: r,
            label: Rect {
                x: r.x + 8.0,
                y: r.y + 6.0,
                w: lw,
                h: 14.0,
            },
            depth: g.tree.path(c).len().saturating_sub(2),
        });
    }
    let end_of = |v: usize, d: f64, far: bool| {
        let x = sized.get(v);
        let r = x.map_or(0, |x| x.rank);
        let (lo, th) = (getf(&lo_v, r), getf(&thick, r));
        match x {
            Some(x) if x.kind == Kind::Element => {
                let t = if tb { x.h } else { x.w };
                let sh = node_shape(g, v);
                let i = inset(sh, x.w, x.h, d, tb);
                if far {
                    (lo + (th + t) / 2.0 - i, lo + th)
                } else {
                    (lo + (th - t) / 2.0 + i, lo)
                }
            }
            _ => (lo, lo + th),
        }
    };
    let mut edges = Vec::new();
    for route in &g.routes {
        let off = |s: usize| offs.get(s).copied().unwrap_or_default();
        let mut pts: Vec<Point> = Vec::new();
        let mut push = |p: Point| {
            if pts.last() != Some(&p) {
                pts.push(p);
            }
        };
        let label_node = g.nodes.get(route.label);
        let (lw, lh) = label_node.map_or((0.0, 0.0), |x| (x.w, x.h));
        let lr = label_node.map_or(0, |x| x.rank);
        let (llo, lth) = (getf(&lo_v, lr), getf(&thick, lr));
        let ul = uu(route.label);
        let first = route.nodes.first().copied().unwrap_or(0);
        let is_loop = g.kind(route.label) == Kind::Loop;
        if is_loop {
            let s0 = route.segs.first().copied().unwrap_or(0);
            let s1 = route.segs.get(1).copied().unwrap_or(s0);
            let (y0, y1) = (uu(first) + off(s0).0, uu(first) + off(s1).0);
            let (box0, col0) = end_of(first, off(s0).0, true);
            let (box1, _) = end_of(first, off(s1).0, true);
            let run = llo + (lth + ext.get(route.label).map_or(0.0, |e| e.2)) / 2.0;
            push(point(y0, box0));
            push(point(y0, col0));
            push(point(ul, llo));
            push(point(ul, run));
            push(point(ul + LOOP_GAP, run));
            push(point(ul + LOOP_GAP, llo));
            push(point(y1, col0));
            push(point(y1, box1));
        } else {
            for (i, &v) in route.nodes.iter().enumerate() {
                let is_end = i == 0 || i + 1 == route.nodes.len();
                if !is_end {
                    let (a, b) = end_of(v, 0.0, false);
                    push(point(uu(v), a));
                    push(point(uu(v), b));
                    continue;
                }
                let (d, far) = if i == 0 {
                    (off(route.segs.first().copied().unwrap_or(0)).0, true)
                } else {
                    (off(route.segs.last().copied().unwrap_or(0)).1, false)
                };
                let (bx, col) = end_of(v, d, far);
                if far {
                    push(point(uu(v) + d, bx));
                    push(point(uu(v) + d, col));
                } else {
                    push(point(uu(v) + d, col));
                    push(point(uu(v) + d, bx));
                }
            }
        }
        // A label sits after its flow when layers run top to bottom (after
        // the way back of a loop), above it otherwise.
        let label = if tb {
            let after = if is_loop { LOOP_GAP } else { 0.0 };
            rect(ul + after + 3.0, llo + (lth - lh) / 2.0, lw, lh)
        } else {
            rect(ul - 2.0 - lh, llo + (lth - lw) / 2.0, lh, lw)
        };
        if route.reversed {
            pts.reverse();
        }
        edges.push(EdgePath {
            flow: route.flow,
            points: pts,
            label,
            label_lines: route.lines.clone(),
        });
    }
    let mut width: f64 = 0.0;
    let mut height: f64 = 0.0;
    let mut grow = |r: &Rect| {
        width = width.max(r.right());
        height = height.max(r.bottom());
    };
    nodes.iter().for_each(|n| grow(&n.rect));
    clusters.iter().for_each(|c| grow(&c.rect));
    edges.iter().for_each(|e| grow(&e.label));
    for e in &edges {
        for p in &e.points {
            grow(&Rect {
                x: p.x,
                y: p.y,
                w: 0.0,
                h: 0.0,
            });
        }
    }
    let width = (width + MARGIN).ceil();
    let height = (height + MARGIN).ceil();
    // Fit on a landscape page: the scale needed for 1600 × 1000 px.
    let score = (width / 1600.0).max(height / 1000.0);
    Placed {
        layout: Layout {
            width,
            height,
            top_to_bottom: tb,
            nodes,
            clusters,
            edges,
            crossings,
        },
        score,
    }
}

fn node_shape(g: &Graph, v: usize) -> Shape {
    g.nodes.get(v).map_or(Shape::Rect, |x| {
        g.shapes.get(x.of).copied().unwrap_or(Shape::Rect)
    })
}

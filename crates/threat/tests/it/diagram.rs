//! The built-in diagram's geometry, for the reference model and a
//! generated 50-element model: no two boxes or labels overlap, no flow runs
//! through a box or another flow's label, every element lies inside each
//! drawn boundary it belongs to and outside the others; the SVG is
//! well-formed XML; the same model gives the same bytes; the DOT output
//! nests boundaries and says when one overlaps another.
//!
//! `THREAT_DIAGRAM_OUT=/tmp cargo test -p threat diagram -- --nocapture`
//! also writes both SVGs there, to look at them.

use std::fmt::Write as _;
use std::time::Instant;

use threat::diagram::layout::{layout, layout_in, Layout, Point, Rect, LAYOUT_ELEMENTS_MAX};
use threat::diagram::{dot, render, svg};
use threat::model::Model;

fn reference() -> Model {
    Model::parse(threat::REFERENCE_MODEL).expect("the reference model")
}

/// A deterministic pseudo-random sequence (64-bit LCG).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n.max(1)
    }
}

const WORDS: [&str; 12] = [
    "sensor",
    "controller",
    "edge",
    "telemetry",
    "billing",
    "identity",
    "analytics",
    "firmware",
    "operator",
    "archive",
    "scheduler",
    "gateway",
];

const PROTOCOLS: [&str; 6] = ["HTTPS", "MQTT/TLS", "Modbus", "gRPC", "SSH", "CoAP"];

/// The zones of the generated model: id, name, first and last element
/// (exclusive), the types of its elements (the first is the zone's hub).
const ZONES: [(&str, &str, usize, usize, &[&str]); 5] = [
    (
        "plant",
        "Plant floor",
        0,
        14,
        &[
            "gateway", "device", "device", "ai_model", "device", "process",
        ],
    ),
    (
        "office",
        "Office network",
        14,
        24,
        &["process", "external_entity", "process", "data_store"],
    ),
    (
        "dmz",
        "DMZ",
        24,
        30,
        &["gateway", "process", "update_server"],
    ),
    (
        "cloud",
        "Vendor cloud (EU region)",
        30,
        44,
        &[
            "cloud_service",
            "cloud_service",
            "data_store",
            "training_pipeline",
            "data_source",
            "ai_model",
        ],
    ),
    (
        "",
        "",
        44,
        50,
        &["external_entity", "data_source", "cloud_service"],
    ),
];

/// A model of 50 elements shaped like a real data-flow diagram: zones
/// (one nested in another, one overlapping two, one empty, some elements in
/// none), each with a hub its members talk to, hubs linked across zones,
/// services with their stores, and random flows across it all, some back,
/// one loop.
fn generated(seed: u64) -> Model {
    let n = 50;
    let mut rng = Lcg(seed);
    let zone_of = |i: usize| ZONES.iter().position(|z| z.2 <= i && i < z.3).unwrap_or(4);
    let mut y = String::from("title: Generated plant\nelements:\n");
    for &(_, _, lo, hi, types) in &ZONES {
        for i in lo..hi {
            let kind = if i == lo {
                types[0]
            } else {
                types[1 + rng.next(types.len() as u64 - 1) as usize]
            };
            let mut name = format!("Unit {i}");
            for _ in 0..rng.next(4) {
                let w = WORDS[rng.next(WORDS.len() as u64) as usize];
                let _ = write!(name, " {w}");
            }
            let _ = writeln!(y, "  - {{id: e{i}, name: \"{name}\", type: {kind}}}");
        }
    }
    let list = |lo: usize, hi: usize| {
        (lo..hi)
            .map(|i| format!("e{i}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    y.push_str("boundaries:\n");
    for &(id, name, lo, hi, _) in ZONES.iter().filter(|z| !z.0.is_empty()) {
        let _ = writeln!(
            y,
            "  - {{id: {id}, name: {name}, elements: [{}]}}",
            list(lo, hi)
        );
    }
    let _ = writeln!(
        y,
        "  - {{id: cell, name: Robot cell, elements: [{}]}}\n  - {{id: vpn, name: Service VPN, elements: [{}]}}\n  - {{id: spare, name: Spare zone, elements: []}}",
        list(3, 8),
        list(12, 16)
    );
    y.push_str("flows:\n");
    let mut flows: Vec<(usize, usize)> = Vec::new();
    let hub = |z: usize| ZONES[z].2;
    for i in 0..n {
        let z = zone_of(i);
        if z == 4 {
            // Outsiders talk to the office, the DMZ or the cloud.
            let to = [hub(1), hub(2), hub(3) + 1][rng.next(3) as usize];
            flows.push((i, to));
        } else if i != hub(z) {
            if rng.next(10) < 7 {
                flows.push((i, hub(z)));
            } else {
                flows.push((hub(z), i));
            }
            if rng.next(4) == 0 {
                flows.push((hub(z), i));
            }
        }
    }
    for (a, b) in [(0, 2), (2, 3), (1, 3), (3, 0), (2, 0)] {
        flows.push((hub(a), hub(b)));
    }
    for _ in 0..8 {
        let (a, b) = (30 + rng.next(14) as usize, 30 + rng.next(14) as usize);
        if a != b {
            flows.push((a, b));
        }
    }
    for _ in 0..6 {
        let (a, b) = (rng.next(n as u64) as usize, rng.next(n as u64) as usize);
        if a != b {
            flows.push((a, b));
        }
    }
    flows.push((5, 5));
    for (k, (from, to)) in flows.iter().enumerate() {
        let proto = PROTOCOLS[rng.next(PROTOCOLS.len() as u64) as usize];
        let port = if rng.next(2) == 0 {
            format!(", port: {}", 1000 + rng.next(9000))
        } else {
            String::new()
        };
        let enc = rng.next(4) != 0;
        let _ = writeln!(
            y,
            "  - {{id: f{k}, name: Flow {k} data, from: e{from}, to: e{to}, protocol: {proto}{port}, encrypted: {enc}}}"
        );
    }
    Model::parse(&y).unwrap_or_else(|e| panic!("generated model: {e}\n{y}"))
}

/// Whether the segment a–b passes through the inside of `r` (shrunk by a
/// small tolerance, so that touching an edge does not count).
fn crosses(a: Point, b: Point, r: &Rect) -> bool {
    let eps = 0.5;
    let (x0, x1, y0, y1) = (r.x + eps, r.right() - eps, r.y + eps, r.bottom() - eps);
    if x0 >= x1 || y0 >= y1 {
        return false;
    }
    // Liang–Barsky clipping.
    let (dx, dy) = (b.x - a.x, b.y - a.y);
    let (mut t0, mut t1) = (0.0f64, 1.0f64);
    for (p, q) in [
        (-dx, a.x - x0),
        (dx, x1 - a.x),
        (-dy, a.y - y0),
        (dy, y1 - a.y),
    ] {
        if p == 0.0 {
            if q < 0.0 {
                return false;
            }
        } else {
            let t = q / p;
            if p < 0.0 {
                t0 = t0.max(t);
            } else {
                t1 = t1.min(t);
            }
        }
    }
    t1 - t0 > 1e-9
}

fn on_border(p: Point, r: &Rect) -> bool {
    let tol = 1.0;
    p.x >= r.x - tol && p.x <= r.right() + tol && p.y >= r.y - tol && p.y <= r.bottom() + tol
}

/// Every geometric promise of the layout, for `model`, in the direction
/// chosen and in both directions.
fn check(model: &Model, lay: &Layout) {
    check_one(model, lay);
    for tb in [false, true] {
        let lay = layout_in(model, tb).expect("a layout");
        assert_eq!(lay.top_to_bottom, tb);
        check_one(model, &lay);
    }
}

fn check_one(model: &Model, lay: &Layout) {
    let name = &model.title;
    assert_eq!(
        lay.nodes.len(),
        model.elements.len(),
        "{name}: a box per element"
    );
    assert_eq!(
        lay.edges.len(),
        model.flows.len(),
        "{name}: a path per flow"
    );
    // Boxes, flow labels and boundary names never overlap.
    let mut rects: Vec<(String, Rect)> = Vec::new();
    for n in &lay.nodes {
        rects.push((format!("element {}", n.element), n.rect));
    }
    for e in &lay.edges {
        rects.push((format!("label of flow {}", e.flow), e.label));
    }
    for c in &lay.clusters {
        rects.push((format!("name of boundary {}", c.boundary), c.label));
    }
    for (i, (a, ra)) in rects.iter().enumerate() {
        assert!(ra.w > 0.0 && ra.h > 0.0, "{name}: {a} is empty: {ra:?}");
        assert!(
            ra.x >= 0.0 && ra.y >= 0.0 && ra.right() <= lay.width && ra.bottom() <= lay.height,
            "{name}: {a} outside the drawing"
        );
        for (b, rb) in rects.iter().skip(i + 1) {
            assert!(!ra.overlaps(rb), "{name}: {a} {ra:?} overlaps {b} {rb:?}");
        }
    }
    // No flow runs through a box other than its ends, nor through another
    // flow's label; each starts at its source and ends at its target.
    for e in &lay.edges {
        let f = model.flows.get(e.flow).expect("flow");
        let ends: Vec<usize> = [&f.from, &f.to]
            .iter()
            .map(|id| {
                model
                    .elements
                    .iter()
                    .position(|x| &x.id == *id)
                    .expect("element")
            })
            .collect();
        assert!(e.points.len() >= 2, "{name}: flow {} has no route", f.id);
        let first = e.points.first().expect("first");
        let last = e.points.last().expect("last");
        let src = &lay.nodes.get(ends[0]).expect("source").rect;
        let dst = &lay.nodes.get(ends[1]).expect("target").rect;
        assert!(
            on_border(*first, src),
            "{name}: flow {} starts away from its source",
            f.id
        );
        assert!(
            on_border(*last, dst),
            "{name}: flow {} ends away from its target",
            f.id
        );
        for pair in e.points.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            for n in &lay.nodes {
                if ends.contains(&n.element) {
                    continue;
                }
                assert!(
                    !crosses(a, b, &n.rect),
                    "{name}: flow {} runs through element {} ({a:?} to {b:?}, {:?})",
                    f.id,
                    model.elements[n.element].id,
                    n.rect
                );
            }
            for other in &lay.edges {
                if other.flow != e.flow {
                    assert!(
                        !crosses(a, b, &other.label),
                        "{name}: flow {} runs through the label of flow {}",
                        f.id,
                        model.flows[other.flow].id
                    );
                }
            }
        }
    }
    // Every element lies inside each drawn boundary it belongs to, outside
    // the others.
    for c in &lay.clusters {
        let b = model.boundaries.get(c.boundary).expect("boundary");
        assert!(
            c.rect.contains(&c.label),
            "{name}: the name of {} sticks out",
            b.id
        );
        for n in &lay.nodes {
            let el = &model.elements[n.element];
            if b.elements.contains(&el.id) {
                assert!(
                    c.rect.contains(&n.rect),
                    "{name}: {} outside its boundary {}",
                    el.id,
                    b.id
                );
            } else {
                assert!(
                    !c.rect.overlaps(&n.rect),
                    "{name}: {} inside boundary {}, not one of its elements",
                    el.id,
                    b.id
                );
            }
        }
    }
    // Nested boundaries nest; others are apart.
    for (i, a) in lay.clusters.iter().enumerate() {
        for b in lay.clusters.iter().skip(i + 1) {
            let nested = a.rect.contains(&b.rect) || b.rect.contains(&a.rect);
            assert!(
                nested || !a.rect.overlaps(&b.rect),
                "{name}: boundaries {} and {} overlap",
                a.boundary,
                b.boundary
            );
        }
    }
}

#[test]
fn reference_diagram_geometry() {
    let m = reference();
    let lay = layout(&m).expect("a layout");
    check(&m, &lay);
    // Every boundary of the reference model is drawn, the door network
    // inside the building.
    assert_eq!(lay.clusters.len(), m.boundaries.len());
    let rect_of = |id: &str| {
        let b = m
            .boundaries
            .iter()
            .position(|b| b.id == id)
            .expect("boundary");
        lay.clusters
            .iter()
            .find(|c| c.boundary == b)
            .expect("drawn")
            .rect
    };
    assert!(rect_of("building").contains(&rect_of("device-network")));
    assert!(!rect_of("building").overlaps(&rect_of("acme-cloud")));
}

#[test]
fn generated_diagram_geometry() {
    let m = generated(7);
    assert_eq!(m.elements.len(), 50);
    let lay = layout(&m).expect("a layout");
    check(&m, &lay);
    let drawn: Vec<&str> = lay
        .clusters
        .iter()
        .map(|c| m.boundaries[c.boundary].id.as_str())
        .collect();
    assert_eq!(drawn, ["plant", "office", "dmz", "cloud", "cell"]);
    assert_eq!(m.boundaries.len(), 7);
    // The service VPN overlaps the plant floor and the office: marked on
    // its elements instead.
    let vpn = m
        .boundaries
        .iter()
        .position(|b| b.id == "vpn")
        .expect("vpn");
    for n in &lay.nodes {
        let member = m.boundaries[vpn]
            .elements
            .contains(&m.elements[n.element].id);
        assert_eq!(n.marks.contains(&vpn), member);
    }
    // Other seeds hold too.
    for seed in 1..6 {
        let m = generated(seed);
        check(&m, &layout(&m).expect("a layout"));
    }
}

#[test]
fn small_and_odd_models_lay_out() {
    for text in [
        "title: Empty\nelements: []\n",
        "title: One\nelements:\n  - {id: a, name: A, type: process}\n",
        "title: Loop\nelements:\n  - {id: a, name: A, type: process}\nflows:\n  - {id: f, name: Self, from: a, to: a}\n  - {id: g, name: Again, from: a, to: a}\n",
        "title: Twice\nelements:\n  - {id: a, name: A, type: process}\n  - {id: b, name: B, type: data_store}\nflows:\n  - {id: f, name: There, from: a, to: b}\n  - {id: g, name: Back, from: b, to: a}\n  - {id: h, name: There again, from: a, to: b}\nboundaries:\n  - {id: x, name: X, elements: [a, b]}\n  - {id: y, name: Y, elements: [a, b]}\n  - {id: z, name: Z with a very long name that is wider than its box, elements: [b]}\n",
    ] {
        let m = Model::parse(text).expect("model");
        let lay = layout(&m).expect("layout");
        check(&m, &lay);
        well_formed(&render(&m, &lay));
    }
}

#[test]
fn svg_is_well_formed_and_deterministic() {
    for m in [reference(), generated(7)] {
        let s = svg(&m);
        well_formed(&s);
        assert_eq!(s, svg(&m), "same model, same bytes");
        for e in &m.elements {
            let name = e.name.split_whitespace().next().expect("a word");
            assert!(s.contains(name), "{name} missing");
        }
        if let Ok(dir) = std::env::var("THREAT_DIAGRAM_OUT") {
            let file = if m.elements.len() == 50 {
                "generated-50.svg"
            } else {
                "reference.svg"
            };
            let dir = std::path::Path::new(&dir);
            std::fs::write(dir.join(file), &s).expect("write");
            for (tb, suffix) in [(false, "lr"), (true, "tb")] {
                let lay = layout_in(&m, tb).expect("layout");
                let other = file.replace(".svg", &format!("-{suffix}.svg"));
                std::fs::write(dir.join(other), render(&m, &lay)).expect("write");
            }
        }
    }
}

#[test]
fn dot_nests_boundaries_and_marks_overlaps() {
    let d = dot(&reference());
    let building = d.find("subgraph \"cluster_0\"").expect("building");
    let network = d.find("subgraph \"cluster_1\"").expect("door network");
    let cloud = d.find("subgraph \"cluster_2\"").expect("cloud");
    assert!(building < network && network < cloud);
    // The door network closes before the building does: nested.
    let between = &d[network..cloud];
    assert_eq!(between.matches('}').count(), 2, "{between}");
    assert!(between.contains("\"door-controller\""));
    let declared = d
        .lines()
        .filter(|l| l.trim_start().starts_with("\"door-controller\" ["))
        .count();
    assert_eq!(declared, 1, "declared once");
    let d = dot(&generated(7));
    assert!(d.contains("// Boundary \"Service VPN\" overlaps \"Plant floor\""));
    assert!(d.contains("(also in: Service VPN)"));
    assert!(d.contains("// Boundary \"Spare zone\" has no elements."));
}

#[test]
fn too_large_models_get_a_notice() {
    let mut y = String::from("title: Huge\nelements:\n");
    for i in 0..=LAYOUT_ELEMENTS_MAX {
        let _ = writeln!(y, "  - {{id: e{i}, name: E{i}, type: device}}");
    }
    let m = Model::parse(&y).expect("model");
    assert!(layout(&m).is_none());
    let s = svg(&m);
    well_formed(&s);
    assert!(s.contains("Too large for the built-in layout (2001 elements"));
    assert!(dot(&m).contains("\"e2000\" [label="));
}

#[test]
fn layout_time() {
    let m = generated(7);
    let start = Instant::now();
    let runs = 10;
    for _ in 0..runs {
        layout(&m).expect("layout");
    }
    let each = start.elapsed() / runs;
    let lay = layout(&m).expect("layout");
    println!(
        "50 elements, {} flows: layout in {each:?} ({} crossings, {} × {} px, {})",
        m.flows.len(),
        lay.crossings,
        lay.width,
        lay.height,
        if lay.top_to_bottom {
            "top to bottom"
        } else {
            "left to right"
        }
    );
}

/// Fails unless `s` is one well-formed XML element: tags nest and match,
/// attributes are quoted, `<` and `&` only start markup and entities.
fn well_formed(s: &str) {
    fn name_ok(n: &str) -> bool {
        !n.is_empty()
            && n.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_:.".contains(c))
            && !n.starts_with(|c: char| c.is_ascii_digit() || c == '-')
    }
    fn text_ok(t: &str) {
        let mut rest = t;
        while let Some(i) = rest.find('&') {
            let after = &rest[i + 1..];
            let end = after.find(';').expect("entity ends with ;");
            let ent = &after[..end];
            assert!(
                ["amp", "lt", "gt", "quot", "apos"].contains(&ent)
                    || (ent.starts_with('#') && ent.len() > 1),
                "bad entity &{ent};"
            );
            rest = &after[end + 1..];
        }
        assert!(!t.contains('<'), "stray < in {t:?}");
    }
    let mut stack: Vec<String> = Vec::new();
    let mut roots = 0;
    let mut rest = s.trim();
    while !rest.is_empty() {
        if let Some(body) = rest.strip_prefix("<!--") {
            let end = body.find("-->").expect("comment ends");
            rest = &body[end + 3..];
        } else if let Some(body) = rest.strip_prefix("</") {
            let end = body.find('>').expect("end tag ends");
            let name = body[..end].trim();
            assert_eq!(stack.pop().as_deref(), Some(name), "end tag {name}");
            rest = &body[end + 1..];
        } else if let Some(body) = rest.strip_prefix('<') {
            let end = body.find('>').expect("tag ends");
            let mut tag = &body[..end];
            let empty = tag.ends_with('/');
            if empty {
                tag = &tag[..tag.len() - 1];
            }
            let name_end = tag.find(char::is_whitespace).unwrap_or(tag.len());
            let name = &tag[..name_end];
            assert!(name_ok(name), "tag name {name:?}");
            let mut attrs = tag[name_end..].trim();
            let mut seen = Vec::new();
            while !attrs.is_empty() {
                let eq = attrs.find('=').expect("attribute has =");
                let an = attrs[..eq].trim();
                assert!(name_ok(an), "attribute name {an:?} in <{name}>");
                assert!(!seen.contains(&an), "attribute {an} twice in <{name}>");
                seen.push(an);
                let v = attrs[eq + 1..].trim_start();
                let q = v.chars().next().expect("value");
                assert!(q == '"' || q == '\'', "unquoted value in <{name}>");
                let close = v[1..].find(q).expect("value ends");
                text_ok(&v[1..1 + close]);
                attrs = v[close + 2..].trim_start();
            }
            if stack.is_empty() {
                roots += 1;
            }
            if !empty {
                stack.push(name.to_string());
            }
            rest = &body[end + 1..];
        } else {
            let end = rest.find('<').unwrap_or(rest.len());
            assert!(!stack.is_empty(), "text outside the root");
            text_ok(&rest[..end]);
            rest = &rest[end..];
        }
    }
    assert!(stack.is_empty(), "unclosed {stack:?}");
    assert_eq!(roots, 1, "one root element");
}

//! The layered graph: the cluster tree of the drawn boundaries, cycles
//! broken, ranks, and a node per element, bend point, label and place held.

use std::collections::BTreeMap;

use super::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Element,
    Bend,
    Label,
    Loop,
    Hold,
}

#[derive(Debug, Clone)]
pub(super) struct Node {
    pub(super) kind: Kind,
    pub(super) rank: usize,
    pub(super) cluster: usize,
    /// Box size for an element; text size for a label.
    pub(super) w: f64,
    pub(super) h: f64,
    /// The element, or the route of a bend or label.
    pub(super) of: usize,
}

#[derive(Debug, Clone)]
pub(super) struct Seg {
    pub(super) upper: usize,
    pub(super) lower: usize,
    pub(super) weight: f64,
    pub(super) part: usize,
}

#[derive(Debug, Clone)]
pub(super) struct Route {
    pub(super) flow: usize,
    pub(super) reversed: bool,
    pub(super) nodes: Vec<usize>,
    pub(super) segs: Vec<usize>,
    pub(super) label: usize,
    pub(super) lines: Vec<String>,
}

/// The cluster tree: 0 is the whole drawing, then one per drawn boundary.
#[derive(Debug, Clone)]
pub(super) struct Tree {
    pub(super) boundary: Vec<usize>,
    pub(super) height: Vec<usize>,
    pub(super) path: Vec<Vec<usize>>,
}

impl Tree {
    pub(super) fn new(nest: &Nesting) -> Tree {
        let mut boundary = vec![usize::MAX];
        let mut of_boundary = vec![0usize; nest.drawn.len()];
        for (b, d) in nest.drawn.iter().enumerate() {
            if *d {
                set(&mut of_boundary, b, boundary.len());
                boundary.push(b);
            }
        }
        let parent: Vec<usize> = boundary
            .iter()
            .map(|&b| {
                nest.parent
                    .get(b)
                    .copied()
                    .flatten()
                    .map_or(0, |p| getu(&of_boundary, p))
            })
            .collect();
        let path: Vec<Vec<usize>> = (0..boundary.len())
            .map(|c| {
                let mut p = vec![c];
                let mut at = c;
                while at != 0 && p.len() <= boundary.len() {
                    at = getu(&parent, at);
                    p.push(at);
                }
                p.reverse();
                p
            })
            .collect();
        let mut height = vec![0usize; boundary.len()];
        for p in &path {
            for (i, &c) in p.iter().enumerate() {
                let below = p.len() - 1 - i;
                if let Some(h) = height.get_mut(c) {
                    *h = (*h).max(below);
                }
            }
        }
        Tree {
            boundary,
            height,
            path,
        }
    }

    pub(super) fn path(&self, c: usize) -> &[usize] {
        self.path.get(c).map_or(&[0][..], Vec::as_slice)
    }

    pub(super) fn lca(&self, a: usize, b: usize) -> usize {
        self.path(a)
            .iter()
            .zip(self.path(b))
            .take_while(|(x, y)| x == y)
            .last()
            .map_or(0, |(x, _)| *x)
    }
}

/// The layered graph: elements, bends, labels and held places, in ranks.
pub(super) struct Graph {
    pub(super) nodes: Vec<Node>,
    pub(super) segs: Vec<Seg>,
    pub(super) routes: Vec<Route>,
    pub(super) tree: Tree,
    pub(super) ranks: usize,
    /// Per node: segments to the previous rank and to the next one.
    pub(super) before: Vec<Vec<usize>>,
    pub(super) after: Vec<Vec<usize>>,
    /// Per rank: segments from it to the next.
    pub(super) segs_at: Vec<Vec<usize>>,
    pub(super) names: Vec<Vec<String>>,
    pub(super) marks: Vec<Vec<usize>>,
    pub(super) shapes: Vec<Shape>,
    pub(super) cluster_label: Vec<f64>,
}

/// The positions in a greedy order of the elements (sinks last, sources
/// first, else the element with most more flows out than in); flows that
/// go backwards in it are the ones reversed.
pub(super) fn greedy_order(n: usize, edges: &[(usize, usize)]) -> Vec<usize> {
    let mut outs = vec![Vec::new(); n];
    let mut ins = vec![Vec::new(); n];
    for &(u, v) in edges {
        if u != v && u < n && v < n {
            if let Some(o) = outs.get_mut(u) {
                o.push(v);
            }
            if let Some(i) = ins.get_mut(v) {
                i.push(u);
            }
        }
    }
    let mut od: Vec<usize> = outs.iter().map(Vec::len).collect();
    let mut id: Vec<usize> = ins.iter().map(Vec::len).collect();
    let mut removed = vec![false; n];
    let (mut s1, mut s2) = (Vec::new(), Vec::new());
    loop {
        let live = |v: &usize| !removed.get(*v).copied().unwrap_or(true);
        let pick = (0..n)
            .filter(live)
            .find(|&v| getu(&od, v) == 0)
            .map(|v| (v, false))
            .or_else(|| {
                (0..n)
                    .filter(live)
                    .find(|&v| getu(&id, v) == 0)
                    .map(|v| (v, true))
            })
            .or_else(|| {
                (0..n)
                    .filter(live)
                    .max_by_key(|&v| {
                        (
                            getu(&od, v) as i64 - getu(&id, v) as i64,
                            std::cmp::Reverse(v),
                        )
                    })
                    .map(|v| (v, true))
            });
        let Some((v, front)) = pick else { break };
        set(&mut removed, v, true);
        if front {
            s1.push(v);
        } else {
            s2.push(v);
        }
        for &w in outs.get(v).map_or(&[][..], Vec::as_slice) {
            if let Some(x) = id.get_mut(w) {
                *x = x.saturating_sub(1);
            }
        }
        for &u in ins.get(v).map_or(&[][..], Vec::as_slice) {
            if let Some(x) = od.get_mut(u) {
                *x = x.saturating_sub(1);
            }
        }
    }
    s2.reverse();
    s1.extend(s2);
    let mut pos = vec![0usize; n];
    for (i, &v) in s1.iter().enumerate() {
        set(&mut pos, v, i);
    }
    pos
}

/// Ranks of the elements for acyclic `edges` (each going up in `order`):
/// longest path, then each element moves within its flows' bounds to the
/// rank that shortens them, or to the least crowded one.
pub(super) fn ranks(n: usize, edges: &[(usize, usize)], order: &[usize]) -> Vec<usize> {
    let mut preds = vec![Vec::new(); n];
    let mut succs = vec![Vec::new(); n];
    for &(u, v) in edges {
        if u != v {
            if let Some(p) = preds.get_mut(v) {
                p.push(u);
            }
            if let Some(s) = succs.get_mut(u) {
                s.push(v);
            }
        }
    }
    let mut seq: Vec<usize> = (0..n).collect();
    seq.sort_by_key(|&v| getu(order, v));
    let mut rank = vec![0usize; n];
    for &v in &seq {
        let r = preds.get(v).map_or(0, |p| {
            p.iter().map(|&u| getu(&rank, u) + 1).max().unwrap_or(0)
        });
        set(&mut rank, v, r);
    }
    let top = rank.iter().copied().max().unwrap_or(0);
    let mut crowd = vec![0usize; top + 1];
    for &r in &rank {
        if let Some(c) = crowd.get_mut(r) {
            *c += 1;
        }
    }
    for _ in 0..8 {
        let mut moved = false;
        for &v in &seq {
            let p = preds.get(v).map_or(&[][..], Vec::as_slice);
            let s = succs.get(v).map_or(&[][..], Vec::as_slice);
            let lo = p.iter().map(|&u| getu(&rank, u) + 1).max().unwrap_or(0);
            let hi = s
                .iter()
                .map(|&w| getu(&rank, w).saturating_sub(1))
                .min()
                .unwrap_or(top);
            let cur = getu(&rank, v);
            if lo > hi {
                continue;
            }
            let want = if s.len() > p.len() {
                hi
            } else if p.len() > s.len() {
                lo
            } else {
                (lo..=hi)
                    .min_by_key(|&r| (getu(&crowd, r), r != cur, r))
                    .unwrap_or(cur)
            };
            if want != cur && (s.len() != p.len() || getu(&crowd, want) + 1 < getu(&crowd, cur)) {
                if let Some(c) = crowd.get_mut(cur) {
                    *c -= 1;
                }
                if let Some(c) = crowd.get_mut(want) {
                    *c += 1;
                }
                set(&mut rank, v, want);
                moved = true;
            }
        }
        if !moved {
            break;
        }
    }
    let low = rank.iter().copied().min().unwrap_or(0);
    rank.iter().map(|r| r - low).collect()
}

impl Graph {
    pub(super) fn new(model: &Model, nest: &Nesting) -> Option<Graph> {
        let n = model.elements.len();
        let tree = Tree::new(nest);
        let mut of_boundary = BTreeMap::new();
        for (c, &b) in tree.boundary.iter().enumerate().skip(1) {
            of_boundary.insert(b, c);
        }
        let index: BTreeMap<&str, usize> = model.element_positions();
        let flows: Vec<(usize, usize, usize)> = model
            .flows
            .iter()
            .enumerate()
            .filter_map(|(i, f)| {
                Some((i, *index.get(f.from.as_str())?, *index.get(f.to.as_str())?))
            })
            .collect();
        let pairs: Vec<(usize, usize)> = flows.iter().map(|&(_, u, v)| (u, v)).collect();
        let order = greedy_order(n, &pairs);
        let oriented: Vec<(usize, usize, bool)> = pairs
            .iter()
            .map(|&(u, v)| {
                if getu(&order, u) > getu(&order, v) {
                    (v, u, true)
                } else {
                    (u, v, false)
                }
            })
            .collect();
        let dag: Vec<(usize, usize)> = oriented.iter().map(|&(a, b, _)| (a, b)).collect();
        let rank = ranks(n, &dag, &order);
        let total: usize = n + dag
            .iter()
            .map(|&(a, b)| (2 * (getu(&rank, b).saturating_sub(getu(&rank, a)))).max(2) - 1)
            .sum::<usize>();
        if total > LAYOUT_NODES_MAX {
            return None;
        }
        let names: Vec<Vec<String>> = model
            .elements
            .iter()
            .map(|e| wrap(&e.name, 24, 3))
            .collect();
        let marks: Vec<Vec<usize>> = (0..n)
            .map(|e| nest.marks.get(e).cloned().unwrap_or_default())
            .collect();
        let mut nodes = Vec::with_capacity(total);
        for (e, el) in model.elements.iter().enumerate() {
            let mark_lines: Vec<String> = marks
                .get(e)
                .map_or(&[][..], Vec::as_slice)
                .iter()
                .filter_map(|&b| model.boundaries.get(b))
                .map(|b| format!("also in: {}", b.name))
                .collect();
            let (w, h) = element_size(
                el.kind,
                names.get(e).map_or(&[][..], Vec::as_slice),
                &mark_lines,
            );
            let cluster = nest
                .innermost
                .get(e)
                .copied()
                .flatten()
                .and_then(|b| of_boundary.get(&b).copied())
                .unwrap_or(0);
            nodes.push(Node {
                kind: Kind::Element,
                rank: 2 * getu(&rank, e),
                cluster,
                w,
                h,
                of: e,
            });
        }
        // The ranks each cluster's elements span: a flow's bends and label
        // stay inside a boundary of one of its ends where that boundary
        // spans their rank anyway.
        let mut el_span = vec![(usize::MAX, 0usize); tree.boundary.len()];
        for x in &nodes {
            for &c in tree.path(x.cluster) {
                if let Some(s) = el_span.get_mut(c) {
                    *s = (s.0.min(x.rank), s.1.max(x.rank));
                }
            }
        }
        let covering = |end: usize, k: usize| {
            tree.path(end)
                .iter()
                .rev()
                .copied()
                .find(|&c| el_span.get(c).is_some_and(|&(lo, hi)| lo <= k && k <= hi))
        };
        let mut segs: Vec<Seg> = Vec::new();
        let mut routes = Vec::with_capacity(flows.len());
        for (&(flow, _, _), &(a, b, reversed)) in flows.iter().zip(&oriented) {
            let Some(f) = model.flows.get(flow) else {
                continue;
            };
            let lines = flow_lines(f);
            let (lw, lh) = label_size(f, &lines);
            let r = routes.len();
            let ca = nodes.get(a).map_or(0, |x: &Node| x.cluster);
            let cb = nodes.get(b).map_or(0, |x: &Node| x.cluster);
            let ra = getu(&rank, a);
            let rb = getu(&rank, b);
            let mut route = Route {
                flow,
                reversed,
                nodes: vec![a],
                segs: Vec::new(),
                label: 0,
                lines,
            };
            if a == b || rb <= ra {
                let id = nodes.len();
                nodes.push(Node {
                    kind: Kind::Loop,
                    rank: 2 * ra + 1,
                    cluster: ca,
                    w: lw,
                    h: lh,
                    of: r,
                });
                for part in 0..2 {
                    route.segs.push(segs.len());
                    segs.push(Seg {
                        upper: a,
                        lower: id,
                        weight: 2.0,
                        part,
                    });
                }
                route.nodes.push(id);
                route.label = id;
            } else {
                let mid = 2 * ra + 1 + 2 * ((rb - ra - 1) / 2);
                let lca = tree.lca(ca, cb);
                let mut prev = a;
                for k in 2 * ra + 1..2 * rb {
                    let id = nodes.len();
                    let label = k == mid;
                    let (near, far) = if k - 2 * ra <= 2 * rb - k {
                        (ca, cb)
                    } else {
                        (cb, ca)
                    };
                    let c = covering(near, k)
                        .or_else(|| covering(far, k))
                        .unwrap_or(lca);
                    nodes.push(Node {
                        kind: if label { Kind::Label } else { Kind::Bend },
                        rank: k,
                        cluster: c,
                        w: if label { lw } else { 0.0 },
                        h: if label { lh } else { 0.0 },
                        of: r,
                    });
                    if label {
                        route.label = id;
                    }
                    route.segs.push(segs.len());
                    segs.push(Seg {
                        upper: prev,
                        lower: id,
                        weight: if prev == a { 2.0 } else { 8.0 },
                        part: 0,
                    });
                    route.nodes.push(id);
                    prev = id;
                }
                route.segs.push(segs.len());
                segs.push(Seg {
                    upper: prev,
                    lower: b,
                    weight: 2.0,
                    part: 0,
                });
                route.nodes.push(b);
            }
            routes.push(route);
        }
        let ranks_n = nodes.iter().map(|x| x.rank + 1).max().unwrap_or(0);
        // A boundary holds a place in each rank it spans where it has nothing.
        let nc = tree.boundary.len();
        let mut present = vec![vec![false; ranks_n]; nc];
        let mut span = vec![(usize::MAX, 0usize); nc];
        for x in &nodes {
            for &c in tree.path(x.cluster).iter().skip(1) {
                if let Some(p) = present.get_mut(c).and_then(|p| p.get_mut(x.rank)) {
                    *p = true;
                }
                if let Some(s) = span.get_mut(c) {
                    *s = (s.0.min(x.rank), s.1.max(x.rank));
                }
            }
        }
        let mut by_depth: Vec<usize> = (1..nc).collect();
        by_depth.sort_by_key(|&c| (std::cmp::Reverse(tree.path(c).len()), c));
        for c in by_depth {
            let Some(&(lo, hi)) = span.get(c) else {
                continue;
            };
            for r in lo..=hi.min(ranks_n.saturating_sub(1)) {
                if present
                    .get(c)
                    .and_then(|p| p.get(r))
                    .copied()
                    .unwrap_or(true)
                {
                    continue;
                }
                nodes.push(Node {
                    kind: Kind::Hold,
                    rank: r,
                    cluster: c,
                    w: 0.0,
                    h: 0.0,
                    of: 0,
                });
                for &a in tree.path(c).iter().skip(1) {
                    if let Some(p) = present.get_mut(a).and_then(|p| p.get_mut(r)) {
                        *p = true;
                    }
                }
            }
        }
        if nodes.len() > LAYOUT_NODES_MAX {
            return None;
        }
        let mut before = vec![Vec::new(); nodes.len()];
        let mut after = vec![Vec::new(); nodes.len()];
        let mut segs_at = vec![Vec::new(); ranks_n];
        for (s, seg) in segs.iter().enumerate() {
            if let Some(a) = after.get_mut(seg.upper) {
                a.push(s);
            }
            if let Some(b) = before.get_mut(seg.lower) {
                b.push(s);
            }
            if let Some(r) = nodes.get(seg.upper).and_then(|x| segs_at.get_mut(x.rank)) {
                r.push(s);
            }
        }
        let cluster_label = tree
            .boundary
            .iter()
            .map(|&b| {
                model
                    .boundaries
                    .get(b)
                    .map_or(0.0, |x| text_width(&x.name, 11.0, true) + 4.0)
            })
            .collect();
        Some(Graph {
            nodes,
            segs,
            routes,
            tree,
            ranks: ranks_n,
            before,
            after,
            segs_at,
            names,
            marks,
            shapes: model.elements.iter().map(|e| shape_of(e.kind)).collect(),
            cluster_label,
        })
    }

    pub(super) fn cluster_of(&self, v: usize) -> usize {
        self.nodes.get(v).map_or(0, |x| x.cluster)
    }

    pub(super) fn kind(&self, v: usize) -> Kind {
        self.nodes.get(v).map_or(Kind::Hold, |x| x.kind)
    }

    pub(super) fn seg(&self, s: usize) -> (usize, usize) {
        self.segs.get(s).map_or((0, 0), |x| (x.upper, x.lower))
    }
}

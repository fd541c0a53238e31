//! Coordinates inside the layers: ports on the boxes, then separation
//! constraints solved by longest path and moved towards straight flows.

use std::collections::VecDeque;

use super::graph::{Graph, Kind, Node};
use super::*;

/// Where each flow attaches to its element boxes: per segment, the offset
/// from the anchor of its upper and of its lower node, spread along the
/// side in the order of the nodes at the other end (so that flows do not
/// cross at a box).
pub(super) fn ports(g: &Graph, sized: &[Node], pos: &[usize], tb: bool) -> Vec<(f64, f64)> {
    let mut offs = vec![(0.0, 0.0); g.segs.len()];
    for (s, seg) in g.segs.iter().enumerate() {
        if seg.part == 1 {
            if let Some(o) = offs.get_mut(s) {
                o.1 = LOOP_GAP;
            }
        }
    }
    for (v, x) in sized.iter().enumerate() {
        if x.kind != Kind::Element {
            continue;
        }
        let size = if tb { x.w } else { x.h };
        let usable = (size - 16.0).max(0.0);
        let step_max: f64 = if tb { 18.0 } else { 10.0 };
        for far in [true, false] {
            let mut segs: Vec<usize> = if far { g.after.get(v) } else { g.before.get(v) }
                .cloned()
                .unwrap_or_default();
            segs.sort_by_key(|&s| {
                let (u, l) = g.seg(s);
                let other = if far { l } else { u };
                (getu(pos, other), g.segs.get(s).map_or(0, |x| x.part), s)
            });
            let k = segs.len();
            if k == 0 {
                continue;
            }
            let step = if k > 1 {
                step_max.min(usable / (k - 1) as f64)
            } else {
                0.0
            };
            for (i, &s) in segs.iter().enumerate() {
                let d = (i as f64 - (k - 1) as f64 / 2.0) * step;
                if let Some(o) = offs.get_mut(s) {
                    if far {
                        o.0 = d;
                    } else {
                        o.1 = d;
                    }
                }
            }
        }
    }
    offs
}

pub(super) fn sep(a: Kind, b: Kind) -> f64 {
    if a == Kind::Element && b == Kind::Element {
        NODE_SEP
    } else {
        SMALL_SEP
    }
}

/// The weighted median of `(value, weight)` pairs.
pub(super) fn median(mut t: Vec<(f64, f64)>) -> Option<f64> {
    t.sort_by(|a, b| a.0.total_cmp(&b.0));
    let total: f64 = t.iter().map(|x| x.1).sum();
    let mut cum = 0.0;
    for (i, &(val, w)) in t.iter().enumerate() {
        cum += w;
        if (cum - total / 2.0).abs() < 1e-9 {
            return Some(t.get(i + 1).map_or(val, |n| (val + n.0) / 2.0));
        }
        if cum > total / 2.0 {
            return Some(val);
        }
    }
    t.last().map(|x| x.0)
}

/// Coordinates inside the layers: per node its anchor, then per cluster
/// its two edges (`top`, `bottom`). They satisfy separation constraints
/// from the order of each layer: boxes apart, a boundary's members inside
/// its edges, everything else outside.
pub(super) fn inside(
    g: &Graph,
    layers: &[Vec<usize>],
    ext: &[(f64, f64, f64)],
    offs: &[(f64, f64)],
    tb: bool,
) -> Vec<f64> {
    let nn = g.nodes.len();
    let nc = g.tree.boundary.len();
    let nvar = nn + 2 * nc.saturating_sub(1);
    let top = |c: usize| nn + 2 * c.saturating_sub(1);
    let bot = |c: usize| nn + 2 * c.saturating_sub(1) + 1;
    let head_in = if tb { PAD_TAIL } else { PAD_HEAD };
    let before = |v: usize| ext.get(v).map_or(0.0, |e| e.0);
    let after = |v: usize| ext.get(v).map_or(0.0, |e| e.1);
    let mut cons: Vec<(usize, usize, f64)> = Vec::new();
    for layer in layers {
        let mut prev: Option<usize> = None;
        for &v in layer {
            let q = g.tree.path(g.cluster_of(v));
            match prev {
                None => {
                    let mut cur: Option<usize> = None;
                    for &c in q.iter().skip(1) {
                        if let Some(p) = cur {
                            cons.push((top(p), top(c), head_in));
                        }
                        cur = Some(c);
                    }
                    if let Some(p) = cur {
                        cons.push((top(p), v, head_in + before(v)));
                    }
                }
                Some(a) => {
                    let p = g.tree.path(g.cluster_of(a));
                    let l = p.iter().zip(q).take_while(|(x, y)| x == y).count();
                    let closing = p.get(l..).unwrap_or(&[]);
                    let opening = q.get(l..).unwrap_or(&[]);
                    if closing.is_empty() && opening.is_empty() {
                        cons.push((a, v, after(a) + sep(g.kind(a), g.kind(v)) + before(v)));
                    } else {
                        let (mut var, mut extra) = (a, after(a));
                        for &c in closing.iter().rev() {
                            cons.push((var, bot(c), extra + PAD_TAIL));
                            var = bot(c);
                            extra = 0.0;
                        }
                        let mut gap = if closing.is_empty() || opening.is_empty() {
                            OUT_GAP
                        } else {
                            CLUSTER_GAP
                        };
                        for &c in opening {
                            cons.push((var, top(c), extra + gap));
                            var = top(c);
                            extra = 0.0;
                            gap = head_in;
                        }
                        cons.push((var, v, extra + gap + before(v)));
                    }
                }
            }
            prev = Some(v);
        }
        if let Some(a) = prev {
            let (mut var, mut extra) = (a, after(a));
            for &c in g.tree.path(g.cluster_of(a)).iter().skip(1).rev() {
                cons.push((var, bot(c), extra + PAD_TAIL));
                var = bot(c);
                extra = 0.0;
            }
        }
    }
    if tb {
        for c in 1..nc {
            cons.push((top(c), bot(c), getf(&g.cluster_label, c) + 16.0));
        }
    }
    let mut ins: Vec<Vec<(usize, f64)>> = vec![Vec::new(); nvar];
    let mut outs: Vec<Vec<(usize, f64)>> = vec![Vec::new(); nvar];
    for &(a, b, d) in &cons {
        if let Some(i) = ins.get_mut(b) {
            i.push((a, d));
        }
        if let Some(o) = outs.get_mut(a) {
            o.push((b, d));
        }
    }
    // The constraints go one way: the orders agree on boundaries, so they
    // have no cycle; if they had, the rest would follow in index order.
    let mut indeg: Vec<usize> = ins.iter().map(Vec::len).collect();
    let mut queue: VecDeque<usize> = (0..nvar).filter(|&v| getu(&indeg, v) == 0).collect();
    let mut topo = Vec::with_capacity(nvar);
    while let Some(v) = queue.pop_front() {
        topo.push(v);
        for &(b, _) in outs.get(v).map_or(&[][..], Vec::as_slice) {
            if let Some(d) = indeg.get_mut(b) {
                *d = d.saturating_sub(1);
                if *d == 0 {
                    queue.push_back(b);
                }
            }
        }
    }
    if topo.len() < nvar {
        let mut seen = vec![false; nvar];
        for &v in &topo {
            set(&mut seen, v, true);
        }
        topo.extend((0..nvar).filter(|&v| !seen.get(v).copied().unwrap_or(true)));
    }
    let mut y = vec![0.0f64; nvar];
    let low = |y: &[f64], v: usize| {
        ins.get(v)
            .map_or(&[][..], Vec::as_slice)
            .iter()
            .map(|&(a, d)| getf(y, a) + d)
            .fold(f64::NEG_INFINITY, f64::max)
    };
    let high = |y: &[f64], v: usize| {
        outs.get(v)
            .map_or(&[][..], Vec::as_slice)
            .iter()
            .map(|&(b, d)| getf(y, b) - d)
            .fold(f64::INFINITY, f64::min)
    };
    for &v in &topo {
        let lb = low(&y, v);
        if lb.is_finite() {
            set(&mut y, v, lb);
        }
    }
    // Then each moves towards where its flows would run straight.
    let mut nbrs: Vec<Vec<(usize, f64, f64, f64)>> = vec![Vec::new(); nn];
    for (s, seg) in g.segs.iter().enumerate() {
        let (ou, ol) = offs.get(s).copied().unwrap_or_default();
        if let Some(n) = nbrs.get_mut(seg.upper) {
            n.push((seg.lower, ou, ol, seg.weight));
        }
        if let Some(n) = nbrs.get_mut(seg.lower) {
            n.push((seg.upper, ol, ou, seg.weight));
        }
    }
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); nc];
    for (v, x) in g.nodes.iter().enumerate() {
        if x.kind == Kind::Hold {
            continue;
        }
        for &c in g.tree.path(x.cluster).iter().skip(1) {
            if let Some(m) = members.get_mut(c) {
                m.push(v);
            }
        }
    }
    let want = |y: &[f64], v: usize| -> f64 {
        let c = g.cluster_of(v);
        let middle = |y: &[f64]| {
            if c == 0 {
                getf(y, v)
            } else {
                (getf(y, top(c)) + getf(y, bot(c))) / 2.0
            }
        };
        let n = nbrs.get(v).map_or(&[][..], Vec::as_slice);
        if g.kind(v) == Kind::Hold || n.is_empty() {
            return middle(y);
        }
        median(
            n.iter()
                .map(|&(o, mine, theirs, w)| (getf(y, o) + theirs - mine, w))
                .collect(),
        )
        .unwrap_or_else(|| getf(y, v))
    };
    // Bends and labels of a flow that passes several layers aim at one
    // line, so that long flows run straight.
    let inner: Vec<&[usize]> = g
        .routes
        .iter()
        .map(|r| match r.nodes.len() {
            0..=3 => &[][..],
            k => r.nodes.get(1..k - 1).unwrap_or(&[]),
        })
        .collect();
    let mut wanted: Vec<f64> = y.iter().take(nn).copied().collect();
    let mut line = vec![0.0f64; g.routes.len()];
    for round in 0..ROUNDS {
        for (ri, r) in g.routes.iter().enumerate() {
            let Some(nodes) = inner.get(ri).filter(|n| !n.is_empty()) else {
                continue;
            };
            let mut t: Vec<(f64, f64)> = nodes.iter().map(|&v| (getf(&y, v), 1.0)).collect();
            let (a, b) = (r.nodes.first(), r.nodes.last());
            let (sa, sb) = (r.segs.first(), r.segs.last());
            if let (Some(&a), Some(&b), Some(&sa), Some(&sb)) = (a, b, sa, sb) {
                let (oa, ob) = (offs.get(sa), offs.get(sb));
                t.push((getf(&y, a) + oa.map_or(0.0, |o| o.0), 1.0));
                t.push((getf(&y, b) + ob.map_or(0.0, |o| o.1), 1.0));
            }
            set(&mut line, ri, median(t).unwrap_or(0.0));
        }
        let mut edges = vec![(f64::INFINITY, f64::NEG_INFINITY); nc];
        for (c, m) in members.iter().enumerate().skip(1) {
            for &v in m {
                let d = getf(&wanted, v);
                if let Some(e) = edges.get_mut(c) {
                    e.0 = e.0.min(d - before(v) - head_in);
                    e.1 = e.1.max(d + after(v) + PAD_TAIL);
                }
            }
        }
        let mut moved: f64 = 0.0;
        let forward = round.is_multiple_of(2);
        for i in 0..topo.len() {
            let k = if forward { i } else { topo.len() - 1 - i };
            let var = getu(&topo, k);
            let cur = getf(&y, var);
            let target = if var < nn {
                let x = g.nodes.get(var);
                let straight = x
                    .filter(|x| matches!(x.kind, Kind::Bend | Kind::Label))
                    .filter(|x| inner.get(x.of).is_some_and(|n| !n.is_empty()))
                    .map(|x| getf(&line, x.of));
                let t = straight.unwrap_or_else(|| want(&y, var));
                set(&mut wanted, var, t);
                t
            } else {
                let c = (var - nn) / 2 + 1;
                let e = edges.get(c).copied().unwrap_or((cur, cur));
                let t = if (var - nn).is_multiple_of(2) {
                    e.0
                } else {
                    e.1
                };
                if t.is_finite() {
                    t
                } else {
                    cur
                }
            };
            let (lb, ub) = (low(&y, var), high(&y, var));
            if lb <= ub {
                let new = target.max(lb).min(ub);
                moved = moved.max((new - cur).abs());
                set(&mut y, var, new);
            }
        }
        if moved < 0.5 {
            break;
        }
    }
    y
}

//! The order inside each layer: barycenter sweeps that keep boundaries
//! together and in one order in every layer, counting crossings.

use std::collections::BTreeMap;

use super::graph::Graph;
use super::*;

pub(super) fn set_pos(layers: &[Vec<usize>], pos: &mut [usize]) {
    for l in layers {
        for (i, &v) in l.iter().enumerate() {
            set(pos, v, i);
        }
    }
}

/// `nodes` (of one layer) sorted by `key`, the members of each cluster
/// kept together and, with `global`, sibling clusters in that order.
pub(super) fn arrange(
    g: &Graph,
    nodes: Vec<usize>,
    depth: usize,
    key: &[f64],
    pos: &[usize],
    global: Option<&[f64]>,
    out: &mut Vec<usize>,
) {
    enum Item {
        Node(usize),
        Group(usize, Vec<usize>),
    }
    let mut groups: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    let mut items: Vec<(f64, usize, Item)> = Vec::new();
    for v in nodes {
        match g.tree.path(g.cluster_of(v)).get(depth + 1) {
            Some(&c) => groups.entry(c).or_default().push(v),
            None => items.push((getf(key, v), getu(pos, v), Item::Node(v))),
        }
    }
    for (c, vs) in groups {
        let k = vs.iter().map(|&v| getf(key, v)).sum::<f64>() / vs.len().max(1) as f64;
        let p = vs.iter().map(|&v| getu(pos, v)).min().unwrap_or(0);
        items.push((k, p, Item::Group(c, vs)));
    }
    items.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    if let Some(gk) = global {
        let slots: Vec<usize> = items
            .iter()
            .enumerate()
            .filter(|(_, it)| matches!(it.2, Item::Group(..)))
            .map(|(i, _)| i)
            .collect();
        let mut order: Vec<usize> = slots
            .iter()
            .filter_map(|&i| match items.get(i) {
                Some((_, _, Item::Group(c, _))) => Some(*c),
                _ => None,
            })
            .collect();
        order.sort_by(|a, b| getf(gk, *a).total_cmp(&getf(gk, *b)).then(a.cmp(b)));
        let mut taken: BTreeMap<usize, (f64, usize, Item)> = BTreeMap::new();
        for &i in slots.iter().rev() {
            if i < items.len() {
                let it = items.remove(i);
                if let Item::Group(c, _) = it.2 {
                    taken.insert(c, it);
                }
            }
        }
        for (&i, c) in slots.iter().zip(&order) {
            if let Some(it) = taken.remove(c) {
                items.insert(i.min(items.len()), it);
            }
        }
    }
    for (_, _, it) in items {
        match it {
            Item::Node(v) => out.push(v),
            Item::Group(_, vs) => arrange(g, vs, depth + 1, key, pos, global, out),
        }
    }
}

/// Per cluster: the mean relative position of its nodes over all layers.
pub(super) fn global_order(g: &Graph, layers: &[Vec<usize>]) -> Vec<f64> {
    let nc = g.tree.boundary.len();
    let mut sum = vec![0.0; nc];
    let mut cnt = vec![0usize; nc];
    for l in layers {
        let len = l.len().max(1) as f64;
        for (i, &v) in l.iter().enumerate() {
            for &c in g.tree.path(g.cluster_of(v)).iter().skip(1) {
                if let Some(s) = sum.get_mut(c) {
                    *s += (i as f64 + 0.5) / len;
                }
                if let Some(k) = cnt.get_mut(c) {
                    *k += 1;
                }
            }
        }
    }
    sum.iter()
        .zip(&cnt)
        .map(|(s, &k)| if k == 0 { 0.0 } else { s / k as f64 })
        .collect()
}

pub(super) fn crossings(g: &Graph, layers: &[Vec<usize>], pos: &[usize]) -> usize {
    let mut total = 0;
    for (r, segs) in g.segs_at.iter().enumerate() {
        let size = layers.get(r + 1).map_or(0, Vec::len);
        let mut pairs: Vec<(usize, usize)> = segs
            .iter()
            .map(|&s| {
                let (u, l) = g.seg(s);
                (getu(pos, u), getu(pos, l))
            })
            .collect();
        pairs.sort_unstable();
        let mut tree = vec![0usize; size + 1];
        for (i, &(_, pl)) in pairs.iter().enumerate() {
            let mut k = pl + 1;
            let mut le = 0;
            while k > 0 {
                le += getu(&tree, k);
                k &= k - 1;
            }
            total += i - le.min(i);
            let mut k = pl + 1;
            while k <= size {
                if let Some(t) = tree.get_mut(k) {
                    *t += 1;
                }
                k += k & k.wrapping_neg();
            }
        }
    }
    total
}

/// The order of the nodes in each layer, with few crossings.
pub(super) fn order(g: &Graph) -> (Vec<Vec<usize>>, usize) {
    let nn = g.nodes.len();
    let mut layers = vec![Vec::new(); g.ranks];
    for (v, x) in g.nodes.iter().enumerate() {
        if let Some(l) = layers.get_mut(x.rank) {
            l.push(v);
        }
    }
    let mut pos = vec![0usize; nn];
    let settle = |layers: &mut Vec<Vec<usize>>, pos: &mut Vec<usize>| {
        set_pos(layers, pos);
        let key: Vec<f64> = pos.iter().map(|&p| p as f64).collect();
        let gk = global_order(g, layers);
        for l in layers.iter_mut() {
            let mut out = Vec::with_capacity(l.len());
            arrange(g, std::mem::take(l), 0, &key, pos, Some(&gk), &mut out);
            *l = out;
        }
        set_pos(layers, pos);
    };
    settle(&mut layers, &mut pos);
    let mut best = crossings(g, &layers, &pos);
    let mut best_layers = layers.clone();
    let mut key = vec![0.0; nn];
    let mut stall = 0;
    for it in 0..SWEEPS {
        if best == 0 {
            break;
        }
        let down = it.is_multiple_of(2);
        let rs: Vec<usize> = if down {
            (1..g.ranks).collect()
        } else {
            (0..g.ranks.saturating_sub(1)).rev().collect()
        };
        for r in rs {
            let Some(layer) = layers.get(r) else { continue };
            for &v in layer {
                let (segs, far) = if down {
                    (g.before.get(v), false)
                } else {
                    (g.after.get(v), true)
                };
                let segs = segs.map_or(&[][..], Vec::as_slice);
                let k = if segs.is_empty() {
                    getu(&pos, v) as f64
                } else {
                    segs.iter()
                        .map(|&s| {
                            let (u, l) = g.seg(s);
                            getu(&pos, if far { l } else { u }) as f64
                        })
                        .sum::<f64>()
                        / segs.len() as f64
                };
                set(&mut key, v, k);
            }
            if let Some(l) = layers.get_mut(r) {
                let mut out = Vec::with_capacity(l.len());
                arrange(g, std::mem::take(l), 0, &key, &pos, None, &mut out);
                *l = out;
                for (i, &v) in l.iter().enumerate() {
                    set(&mut pos, v, i);
                }
            }
        }
        settle(&mut layers, &mut pos);
        let c = crossings(g, &layers, &pos);
        if c < best {
            best = c;
            best_layers = layers.clone();
            stall = 0;
        } else {
            stall += 1;
            if stall >= 6 {
                break;
            }
        }
    }
    (best_layers, best)
}

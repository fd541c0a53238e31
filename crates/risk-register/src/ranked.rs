//! A list of risks in register order, kept in shared chunks so that the
//! register a delta builds shares all but the chunks its changed risks are
//! in with the register before it.
//!
//! Copying a million `Arc<Risk>` touches a million reference counts, one
//! cache miss each (tens of milliseconds, as much again to drop them); a
//! delta that moves the 1,640 risks of one vulnerability to the front of
//! the order copies instead the chunks those risks leave and enter (each of
//! at most [`CHUNK_RISKS_MAX`] risks) and one pointer per other chunk.

use std::cmp::Ordering;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::Risk;

/// Risks per chunk when a list is made whole.
const CHUNK_RISKS: usize = 32;
/// Most risks a chunk holds after a splice; a fuller one is cut in chunks
/// of 32.
pub const CHUNK_RISKS_MAX: usize = 64;

/// Risks in order, in chunks shared between the lists spliced from one
/// another. No chunk is empty.
#[derive(Clone, Default)]
pub struct Ranked {
    chunks: Vec<Arc<[Arc<Risk>]>>,
    len: usize,
}

impl Ranked {
    /// No risks.
    pub const EMPTY: Ranked = Ranked {
        chunks: Vec::new(),
        len: 0,
    };

    /// The list of `risks` (already in order).
    pub fn from_vec(risks: Vec<Arc<Risk>>) -> Ranked {
        let len = risks.len();
        Ranked {
            chunks: risks.chunks(CHUNK_RISKS).map(Arc::from).collect(),
            len,
        }
    }

    /// How many risks.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The risks, in order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &Arc<Risk>> + '_ {
        self.chunks.iter().flat_map(|c| c.iter())
    }

    /// The first risk.
    pub fn first(&self) -> Option<&Arc<Risk>> {
        self.chunks.first().and_then(|c| c.first())
    }

    /// The chunk a risk ordered like `r` belongs in: the first whose last
    /// risk does not come before it (the last chunk when all do).
    fn chunk_of(&self, r: &Risk, order: fn(&Risk, &Risk) -> Ordering) -> usize {
        let at = self
            .chunks
            .partition_point(|c| c.last().is_some_and(|l| order(l, r).is_lt()));
        at.min(self.chunks.len().saturating_sub(1))
    }

    /// `self` (in `order`) with `old` (each one of its risks) taken out
    /// and `fresh` (in `order`) put in. `None` if one of `old` is not where
    /// the order puts it (the caller then builds the list again).
    pub fn splice(
        &self,
        old: &[&Arc<Risk>],
        fresh: &[Arc<Risk>],
        order: fn(&Risk, &Risk) -> Ordering,
    ) -> Option<Ranked> {
        if self.chunks.is_empty() {
            return old.is_empty().then(|| Ranked::from_vec(fresh.to_vec()));
        }
        // Per chunk touched: the positions taken out, the risks put in.
        let mut touched: std::collections::BTreeMap<usize, (Vec<usize>, Vec<Arc<Risk>>)> =
            std::collections::BTreeMap::new();
        for r in old {
            let c = self.chunk_of(r, order);
            let chunk = self.chunks.get(c)?;
            let at = chunk.partition_point(|x| order(x, r).is_lt());
            if !chunk.get(at).is_some_and(|x| Arc::ptr_eq(x, r)) {
                return None;
            }
            touched.entry(c).or_default().0.push(at);
        }
        for f in fresh {
            let c = self.chunk_of(f, order);
            touched.entry(c).or_default().1.push(f.clone());
        }
        let mut chunks = Vec::with_capacity(self.chunks.len() + fresh.len() / CHUNK_RISKS + 1);
        let mut len = 0;
        let mut next = touched.into_iter().peekable();
        for (c, chunk) in self.chunks.iter().enumerate() {
            let Some((removed, added)) = next.next_if(|(t, _)| *t == c).map(|(_, x)| x) else {
                len += chunk.len();
                chunks.push(chunk.clone());
                continue;
            };
            let mut kept: Vec<Arc<Risk>> = chunk
                .iter()
                .enumerate()
                .filter(|(i, _)| !removed.contains(i))
                .map(|(_, r)| r.clone())
                .collect();
            for f in added {
                let at = kept.partition_point(|x| order(x, &f).is_lt());
                kept.insert(at, f);
            }
            len += kept.len();
            if kept.len() > CHUNK_RISKS_MAX {
                chunks.extend(kept.chunks(CHUNK_RISKS).map(Arc::from));
            } else if !kept.is_empty() {
                chunks.push(Arc::from(kept));
            }
        }
        Some(Ranked { chunks, len })
    }
}

impl<'a> IntoIterator for &'a Ranked {
    type Item = &'a Arc<Risk>;
    type IntoIter = Box<dyn DoubleEndedIterator<Item = &'a Arc<Risk>> + 'a>;

    fn into_iter(self) -> Self::IntoIter {
        Box::new(self.iter())
    }
}

impl PartialEq for Ranked {
    fn eq(&self, other: &Ranked) -> bool {
        self.len == other.len && self.iter().eq(other.iter())
    }
}

impl std::fmt::Debug for Ranked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl Serialize for Ranked {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

impl<'de> Deserialize<'de> for Ranked {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Ranked, D::Error> {
        Vec::<Arc<Risk>>::deserialize(d).map(Ranked::from_vec)
    }
}

//! A Bloom filter of the log's leaf hashes, kept in memory by
//! [`crate::PgLogStore`] so that the dedup lookup of a new entry (nearly
//! every lookup) is answered without a round trip to the server: "absent"
//! is certain, "maybe present" asks the database.
//!
//! Leaf hashes are SHA-256 outputs, uniform already: the probe positions
//! are taken from their bytes (double hashing), not hashed again. The
//! filter grows as a list of filters, each twice the capacity of the one
//! before, so that the false-positive rate stays near its target (about 1 %
//! at 10 bits and 7 probes per key) whatever the log's size.

use tlog::Hash;

/// Bits per key.
const BITS_PER_KEY: u64 = 10;
/// Probes per key.
const PROBES: u64 = 7;
/// Keys the first filter holds.
const FIRST_CAPACITY_KEYS: u64 = 1 << 16;

struct Part {
    bits: Vec<u64>,
    capacity_keys: u64,
    keys: u64,
}

impl Part {
    fn new(capacity_keys: u64) -> Part {
        let words = (capacity_keys * BITS_PER_KEY).div_ceil(64).max(1);
        Part {
            bits: vec![0; usize::try_from(words).unwrap_or(usize::MAX)],
            capacity_keys,
            keys: 0,
        }
    }

    fn positions(&self, hash: &Hash) -> impl Iterator<Item = (usize, u64)> + '_ {
        let b = hash.as_bytes();
        let word = |i: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&b[i * 8..i * 8 + 8]);
            u64::from_le_bytes(w)
        };
        let (h1, h2) = (word(0), word(1) | 1);
        let bits = self.bits.len() as u64 * 64;
        (0..PROBES).map(move |i| {
            let bit = h1.wrapping_add(i.wrapping_mul(h2)) % bits;
            ((bit / 64) as usize, 1u64 << (bit % 64))
        })
    }

    fn insert(&mut self, hash: &Hash) {
        let positions: Vec<(usize, u64)> = self.positions(hash).collect();
        for (w, mask) in positions {
            if let Some(word) = self.bits.get_mut(w) {
                *word |= mask;
            }
        }
        self.keys += 1;
    }

    fn may_contain(&self, hash: &Hash) -> bool {
        self.positions(hash)
            .all(|(w, mask)| self.bits.get(w).is_some_and(|word| word & mask != 0))
    }
}

/// The filter. See the module documentation.
pub(crate) struct LeafFilter {
    parts: Vec<Part>,
}

impl LeafFilter {
    pub(crate) fn new() -> LeafFilter {
        LeafFilter {
            parts: vec![Part::new(FIRST_CAPACITY_KEYS)],
        }
    }

    pub(crate) fn insert(&mut self, hash: &Hash) {
        let full = self.parts.last().is_none_or(|p| p.keys >= p.capacity_keys);
        if full {
            let capacity = self
                .parts
                .last()
                .map_or(FIRST_CAPACITY_KEYS, |p| p.capacity_keys * 2);
            self.parts.push(Part::new(capacity));
        }
        if let Some(part) = self.parts.last_mut() {
            part.insert(hash);
        }
    }

    /// False only for a hash never inserted.
    pub(crate) fn may_contain(&self, hash: &Hash) -> bool {
        self.parts.iter().any(|p| p.may_contain(hash))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inserted_keys_are_found_and_few_others() {
        let mut f = LeafFilter::new();
        let key = |i: u64| tlog::hash::leaf_hash(&i.to_be_bytes());
        let n = 200_000u64;
        for i in 0..n {
            f.insert(&key(i));
        }
        assert!((0..n).all(|i| f.may_contain(&key(i))), "no false negative");
        let false_positives = (n..2 * n).filter(|i| f.may_contain(&key(*i))).count();
        let rate = false_positives as f64 / n as f64;
        assert!(rate < 0.03, "false-positive rate {rate}");
        assert!(f.parts.len() > 1, "the filter grew");
    }
}

//! SHA-256 Merkle tree hashes (RFC 9162 §2.1) and the tree-size / leaf-index
//! newtypes used throughout the crate.
//!
//! This module only defines the hash value type and the three hashing rules
//! (leaf, interior node, empty tree). It deliberately does not know about tree
//! shapes, proofs or storage; see [`crate::merkle`] and [`crate::tile`].

#[allow(unused_imports)]
use crate::prelude::*;
use core::fmt;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use sha2::{Digest, Sha256};

/// Length of a SHA-256 hash in bytes.
pub const HASH_BYTES: usize = 32;

/// Length of the standard (padded) base64 encoding of a [`struct@Hash`].
pub const HASH_BASE64_CHARS: usize = 44;

/// Errors decoding a [`struct@Hash`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HashError {
    /// The input was not exactly 32 bytes.
    #[error("hash must be {HASH_BYTES} bytes, got {0}")]
    WrongLength(usize),
    /// The input was not canonical standard padded base64.
    #[error("hash is not valid base64")]
    Base64,
}

/// A SHA-256 Merkle tree hash (leaf hash, interior node hash or root).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Hash([u8; HASH_BYTES]);

impl Hash {
    /// Wraps 32 raw bytes.
    pub const fn from_bytes(b: [u8; HASH_BYTES]) -> Self {
        Hash(b)
    }

    /// The raw 32 bytes.
    pub fn as_bytes(&self) -> &[u8; HASH_BYTES] {
        &self.0
    }

    /// Standard padded base64 (RFC 4648 §4), as used in checkpoints and proofs.
    pub fn to_base64(&self) -> String {
        BASE64.encode(self.0)
    }

    /// Parses standard padded base64; rejects anything that does not decode to
    /// exactly 32 bytes or is not canonically encoded.
    pub fn from_base64(s: &str) -> Result<Hash, HashError> {
        if s.len() != HASH_BASE64_CHARS {
            // Cheap early reject before allocating; still report the length
            // class the caller most likely got wrong.
            return match BASE64.decode(s.as_bytes()) {
                Ok(v) => Err(HashError::WrongLength(v.len())),
                Err(_) => Err(HashError::Base64),
            };
        }
        let v = BASE64.decode(s.as_bytes()).map_err(|_| HashError::Base64)?;
        Hash::from_slice(&v)
    }

    /// Copies exactly 32 bytes from `s`.
    pub fn from_slice(s: &[u8]) -> Result<Hash, HashError> {
        let arr: [u8; HASH_BYTES] = s.try_into().map_err(|_| HashError::WrongLength(s.len()))?;
        Ok(Hash(arr))
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({})", self.to_base64())
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_base64())
    }
}

/// Domain separation prefix for leaf hashes, RFC 9162 §2.1.1.
const LEAF_PREFIX: u8 = 0x00;
/// Domain separation prefix for interior node hashes, RFC 9162 §2.1.1.
const NODE_PREFIX: u8 = 0x01;

/// Leaf hash: `SHA-256(0x00 || entry)`, RFC 9162 §2.1.1.
pub fn leaf_hash(entry: &[u8]) -> Hash {
    // RFC 9162 §2.1.1: MTH({d(0)}) = HASH(0x00 || d(0)).
    let mut h = Sha256::new();
    h.update([LEAF_PREFIX]);
    h.update(entry);
    Hash(h.finalize().into())
}

/// Interior node hash: `SHA-256(0x01 || left || right)`, RFC 9162 §2.1.1.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    // RFC 9162 §2.1.1: MTH(D_n) = HASH(0x01 || MTH(D[0:k]) || MTH(D[k:n])).
    let mut h = Sha256::new();
    h.update([NODE_PREFIX]);
    h.update(left.0);
    h.update(right.0);
    Hash(h.finalize().into())
}

/// Hash of the empty tree: `SHA-256("")`, RFC 9162 §2.1.1.
pub fn empty_root() -> Hash {
    // RFC 9162 §2.1.1: MTH({}) = HASH().
    Hash(Sha256::digest([]).into())
}

macro_rules! u64_newtype {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default)]
        pub struct $name(u64);

        impl $name {
            /// Wraps a raw value.
            pub const fn new(v: u64) -> Self {
                $name(v)
            }
            /// The raw value.
            pub const fn get(self) -> u64 {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.0)
            }
        }
    };
}

u64_newtype!(
    /// Number of leaves in a tree.
    TreeSize
);
u64_newtype!(
    /// Zero-based index of a leaf in a tree.
    LeafIndex
);

/// Splits off one `\n`-terminated line (without the newline).
pub(crate) fn take_line(b: &[u8]) -> Option<(&[u8], &[u8])> {
    let i = b.iter().position(|&c| c == b'\n')?;
    Some((b.get(..i)?, b.get(i + 1..)?))
}

/// Why a block of proof lines did not parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ProofLinesError {
    /// The input ended before the blank line closing the block.
    MissingBlankLine,
    /// More than [`crate::merkle::PROOF_HASHES_MAX`] lines.
    TooMany,
    /// Line N (0-based) is not a base64 hash.
    BadLine(usize),
}

/// Reads base64 hash lines up to and including a blank line (the proof block
/// shared by tlog-proof files and tlog-witness requests). Returns the hashes
/// and the rest of the input.
pub(crate) fn take_proof_lines(mut rest: &[u8]) -> Result<(Vec<Hash>, &[u8]), ProofLinesError> {
    let mut proof = Vec::new();
    loop {
        let (line, after) = take_line(rest).ok_or(ProofLinesError::MissingBlankLine)?;
        rest = after;
        if line.is_empty() {
            return Ok((proof, rest));
        }
        if proof.len() >= crate::merkle::PROOF_HASHES_MAX {
            return Err(ProofLinesError::TooMany);
        }
        let h = core::str::from_utf8(line)
            .ok()
            .and_then(|s| Hash::from_base64(s).ok())
            .ok_or(ProofLinesError::BadLine(proof.len()))?;
        proof.push(h);
    }
}

/// Parses a canonical ASCII decimal `u64`: non-empty, digits only, no leading
/// zeroes unless the value is exactly `0`, no overflow.
pub(crate) fn parse_decimal_u64(s: &str) -> Result<u64, DecimalError> {
    if s.is_empty() {
        return Err(DecimalError::Empty);
    }
    if !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(DecimalError::NotDigits);
    }
    if s.len() > 1 && s.starts_with('0') {
        return Err(DecimalError::LeadingZero);
    }
    s.parse::<u64>().map_err(|_| DecimalError::Overflow)
}

/// Why a decimal field failed to parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DecimalError {
    Empty,
    NotDigits,
    LeadingZero,
    Overflow,
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )]
    use super::*;

    #[test]
    fn empty_root_matches_known_value() {
        assert_eq!(
            empty_root().to_base64(),
            "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
        );
    }

    #[test]
    fn base64_rejects() {
        assert_eq!(Hash::from_base64("AAAA"), Err(HashError::WrongLength(3)));
        assert_eq!(Hash::from_base64("!!!"), Err(HashError::Base64));
        // Non-canonical trailing bits.
        assert_eq!(
            Hash::from_base64("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFV="),
            Err(HashError::Base64)
        );
        let h = empty_root();
        assert_eq!(Hash::from_base64(&h.to_base64()), Ok(h));
    }

    #[test]
    fn decimal() {
        assert_eq!(parse_decimal_u64("0"), Ok(0));
        assert_eq!(parse_decimal_u64("10"), Ok(10));
        assert_eq!(parse_decimal_u64("01"), Err(DecimalError::LeadingZero));
        assert_eq!(parse_decimal_u64(""), Err(DecimalError::Empty));
        assert_eq!(parse_decimal_u64("+1"), Err(DecimalError::NotDigits));
        assert_eq!(
            parse_decimal_u64("18446744073709551616"),
            Err(DecimalError::Overflow)
        );
        assert_eq!(parse_decimal_u64("18446744073709551615"), Ok(u64::MAX));
    }
}

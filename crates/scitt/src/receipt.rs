//! RFC 9942 COSE Receipts of inclusion for the RFC9162_SHA256 verifiable
//! data structure (`vds` = 1): a COSE_Sign1 by the transparency service whose
//! detached payload is the Merkle root of the tree of `tree_size` entries,
//! with the inclusion proof `[tree_size, leaf_index, [path...]]` in the
//! unprotected `vdp` (396) header under `inclusion` (-1).
//!
//! The leaf is the registered Signed Statement's bytes: its leaf hash is
//! `SHA-256(0x00 || statement)` (RFC 9162 §2.1.1), the same as the log's.
//! Verifying a receipt therefore needs only the statement, the receipt and
//! the service's public key.

#[allow(unused_imports)]
use crate::prelude::*;
use ciborium::Value;
use coset::{
    CborSerializable, CoseSign1, CoseSign1Builder, HeaderBuilder, Label, TaggedCborSerializable,
};
use tlog::{Hash, LeafIndex, TreeSize};

use crate::key::{Algorithm, KeyError, PublicKey, SigningKey};
use crate::labels;

/// Why a receipt does not prove inclusion.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReceiptError {
    /// Not a tagged COSE_Sign1 receipt.
    #[error("not a COSE receipt: {0}")]
    Malformed(String),
    /// `vds` is missing or not RFC9162_SHA256.
    #[error("unsupported verifiable data structure {0:?}; expected RFC9162_SHA256 (1)")]
    UnsupportedVds(Option<i64>),
    /// The payload is attached; a receipt's payload is the detached root.
    #[error("the receipt's payload is attached; it must be detached")]
    AttachedPayload,
    /// The inclusion proof is missing or malformed.
    #[error("inclusion proof: {0}")]
    BadProof(String),
    /// The proof does not fit the tree.
    #[error("inclusion proof: {0}")]
    Proof(#[from] tlog::ProofError),
    /// The service's signature over the recomputed root does not verify.
    #[error("receipt signature: {0}")]
    Signature(KeyError),
    /// The key's algorithm differs from the receipt's `alg`.
    #[error("the receipt says alg {receipt:?}, the key is {key}")]
    AlgorithmMismatch {
        /// `alg` of the receipt.
        receipt: Option<i64>,
        /// Algorithm of the key.
        key: &'static str,
    },
}

/// The CWT claims a receipt carries in its protected header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptClaims {
    /// `iss`: the transparency service.
    pub issuer: String,
    /// `sub`: the registered statement's subject.
    pub subject: String,
    /// `iat`: when the receipt was issued (seconds since the epoch).
    pub issued_at: Option<i64>,
}

/// What a verified receipt proves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedReceipt {
    /// Size of the tree the proof is against.
    pub tree_size: TreeSize,
    /// The statement's index in the log.
    pub leaf_index: LeafIndex,
    /// The root the service signed.
    pub root: Hash,
    /// The receipt's `kid`.
    pub key_id: Vec<u8>,
    /// The receipt's claims, if present.
    pub claims: Option<ReceiptClaims>,
}

/// Encodes the RFC9162_SHA256 inclusion proof `[size, index, [path]]`.
fn encode_proof(tree_size: TreeSize, leaf_index: LeafIndex, path: &[Hash]) -> Vec<u8> {
    let value = Value::Array(vec![
        Value::from(tree_size.get()),
        Value::from(leaf_index.get()),
        Value::Array(
            path.iter()
                .map(|h| Value::Bytes(h.as_bytes().to_vec()))
                .collect(),
        ),
    ]);
    let mut out = Vec::new();
    // Writing CBOR into a Vec cannot fail.
    let _ = ciborium::into_writer(&value, &mut out);
    out
}

/// Issues a receipt of inclusion of entry `leaf_index` in the tree of
/// `tree_size` entries whose root is `root`, signed by `key`.
pub fn issue_receipt(
    key: &SigningKey,
    claims: &ReceiptClaims,
    tree_size: TreeSize,
    leaf_index: LeafIndex,
    path: &[Hash],
    root: &Hash,
) -> Vec<u8> {
    let public = key.public_key();
    let mut cwt = vec![
        (
            Value::from(labels::CWT_ISS),
            Value::Text(claims.issuer.clone()),
        ),
        (
            Value::from(labels::CWT_SUB),
            Value::Text(claims.subject.clone()),
        ),
    ];
    if let Some(iat) = claims.issued_at {
        cwt.push((Value::from(labels::CWT_IAT), Value::from(iat)));
    }
    let mut protected = HeaderBuilder::new()
        .key_id(public.thumbprint().to_vec())
        .value(labels::VDS, Value::from(labels::VDS_RFC9162_SHA256))
        .value(labels::CWT_CLAIMS, Value::Map(cwt))
        .build();
    protected.alg = Some(coset::RegisteredLabelWithPrivate::Assigned(
        match public.algorithm() {
            Algorithm::EdDSA => coset::iana::Algorithm::EdDSA,
            Algorithm::ES256 => coset::iana::Algorithm::ES256,
        },
    ));
    let vdp = Value::Map(vec![(
        Value::from(labels::VDP_INCLUSION),
        Value::Array(vec![Value::Bytes(encode_proof(
            tree_size, leaf_index, path,
        ))]),
    )]);
    let unprotected = HeaderBuilder::new().value(labels::VDP, vdp).build();
    let sign1 = CoseSign1Builder::new()
        .protected(protected)
        .unprotected(unprotected)
        .create_detached_signature(root.as_bytes(), b"", |data| key.sign(data))
        .build();
    sign1.to_tagged_vec().unwrap_or_default()
}

fn int_of(v: &Value) -> Option<i64> {
    match v {
        Value::Integer(i) => i64::try_from(*i).ok(),
        _ => None,
    }
}

fn header_value(h: &coset::Header, label: i64) -> Option<&Value> {
    h.rest
        .iter()
        .find_map(|(l, v)| (*l == Label::Int(label)).then_some(v))
}

/// Decodes `[size, index, [path]]`.
fn decode_proof(bytes: &[u8]) -> Result<(TreeSize, LeafIndex, Vec<Hash>), ReceiptError> {
    let bad = |why: &str| ReceiptError::BadProof(why.to_string());
    let value: Value =
        ciborium::from_reader(bytes).map_err(|e| ReceiptError::BadProof(e.to_string()))?;
    let Value::Array(items) = value else {
        return Err(bad("not an array"));
    };
    let [size, index, Value::Array(path)] = items.as_slice() else {
        return Err(bad("expected [tree_size, leaf_index, [path]]"));
    };
    let as_u64 = |v: &Value| match v {
        Value::Integer(i) => u64::try_from(*i).ok(),
        _ => None,
    };
    let size = as_u64(size).ok_or_else(|| bad("tree_size is not an unsigned integer"))?;
    let index = as_u64(index).ok_or_else(|| bad("leaf_index is not an unsigned integer"))?;
    if path.len() > tlog::PROOF_HASHES_MAX {
        return Err(bad("inclusion path too long"));
    }
    let path = path
        .iter()
        .map(|h| match h {
            Value::Bytes(b) => Hash::from_slice(b).map_err(|_| bad("path hash is not 32 bytes")),
            _ => Err(bad("path element is not a byte string")),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok((TreeSize::new(size), LeafIndex::new(index), path))
}

/// Verifies that `receipt` proves the inclusion of the statement `entry`
/// (its exact registered bytes), signed by `key`.
pub fn verify_receipt(
    receipt: &[u8],
    entry: &[u8],
    key: &PublicKey,
) -> Result<VerifiedReceipt, ReceiptError> {
    let sign1 = CoseSign1::from_tagged_slice(receipt)
        .map_err(|e| ReceiptError::Malformed(e.to_string()))?;
    if sign1.payload.is_some() {
        return Err(ReceiptError::AttachedPayload);
    }
    let protected = &sign1.protected.header;
    let vds = header_value(protected, labels::VDS).and_then(int_of);
    if vds != Some(labels::VDS_RFC9162_SHA256) {
        return Err(ReceiptError::UnsupportedVds(vds));
    }
    let alg = match &protected.alg {
        Some(coset::RegisteredLabelWithPrivate::Assigned(a)) => Some(*a as i64),
        _ => None,
    };
    if alg != Some(key.algorithm().cose()) {
        return Err(ReceiptError::AlgorithmMismatch {
            receipt: alg,
            key: key.algorithm().name(),
        });
    }
    let proofs = match header_value(&sign1.unprotected, labels::VDP) {
        Some(Value::Map(m)) => m
            .iter()
            .find_map(|(k, v)| (int_of(k) == Some(labels::VDP_INCLUSION)).then_some(v)),
        _ => None,
    };
    let proof_bytes = match proofs {
        Some(Value::Array(a)) => match a.as_slice() {
            [Value::Bytes(b)] => b,
            [] => return Err(ReceiptError::BadProof("no inclusion proof".into())),
            [_] => return Err(ReceiptError::BadProof("proof is not a byte string".into())),
            _ => {
                return Err(ReceiptError::BadProof(
                    "more than one inclusion proof in a receipt for one statement".into(),
                ))
            }
        },
        _ => {
            return Err(ReceiptError::BadProof(
                "no vdp (396) map with inclusion proofs (-1)".into(),
            ))
        }
    };
    let (tree_size, leaf_index, path) = decode_proof(proof_bytes)?;
    let leaf = tlog::leaf_hash(entry);
    let root = tlog::root_from_inclusion(&leaf, leaf_index, tree_size, &path)?;
    sign1
        .verify_detached_signature(root.as_bytes(), b"", |sig, data| key.verify(data, sig))
        .map_err(ReceiptError::Signature)?;
    let claims = match header_value(protected, labels::CWT_CLAIMS) {
        Some(Value::Map(m)) => {
            let text = |label: i64| {
                m.iter().find_map(|(k, v)| match (int_of(k), v) {
                    (Some(l), Value::Text(t)) if l == label => Some(t.clone()),
                    _ => None,
                })
            };
            Some(ReceiptClaims {
                issuer: text(labels::CWT_ISS).unwrap_or_default(),
                subject: text(labels::CWT_SUB).unwrap_or_default(),
                issued_at: m
                    .iter()
                    .find_map(|(k, v)| (int_of(k) == Some(labels::CWT_IAT)).then(|| int_of(v)))
                    .flatten(),
            })
        }
        _ => None,
    };
    Ok(VerifiedReceipt {
        tree_size,
        leaf_index,
        root,
        key_id: protected.key_id.clone(),
        claims,
    })
}

/// Makes a Transparent Statement: the statement with `receipts` added to its
/// unprotected header (`receipts`, 394). The signed part is unchanged.
pub fn attach_receipts(statement: &[u8], receipts: &[Vec<u8>]) -> Result<Vec<u8>, ReceiptError> {
    let mut sign1 = CoseSign1::from_tagged_slice(statement)
        .or_else(|_| CoseSign1::from_slice(statement))
        .map_err(|e| ReceiptError::Malformed(e.to_string()))?;
    sign1
        .unprotected
        .rest
        .retain(|(l, _)| *l != Label::Int(labels::RECEIPTS));
    sign1.unprotected.rest.push((
        Label::Int(labels::RECEIPTS),
        Value::Array(receipts.iter().map(|r| Value::Bytes(r.clone())).collect()),
    ));
    sign1
        .to_tagged_vec()
        .map_err(|e| ReceiptError::Malformed(e.to_string()))
}

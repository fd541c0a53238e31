//! Pure transparency-log primitives for sectwin: RFC 9162 Merkle trees and
//! proofs (plus draft-ietf-plants-merkle-tree-certs subtree proofs), C2SP
//! tlog-tiles, signed-note, tlog-checkpoint, tlog-cosignature (Ed25519),
//! tlog-policy, tlog-proof and the tlog-witness add-checkpoint wire format.
//!
//! The crate deliberately performs no I/O, reads no clock, opens no network
//! connection and uses randomness only through an injected
//! `rand_core::CryptoRngCore`. Storage is abstracted behind [`HashReader`] and
//! [`TileReader`]; everything attacker-controlled is parsed without panicking.
#![no_std]
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

extern crate alloc;
#[cfg(test)]
extern crate std;

/// What `std`'s prelude would give: the crate is `no_std` + `alloc`, so that
/// a device's update verifier (`ota-verify`) can link it on a microcontroller.
#[allow(unused_imports)]
mod prelude {
    pub(crate) use alloc::{
        borrow::ToOwned,
        boxed::Box,
        format,
        string::{String, ToString},
        vec,
        vec::Vec,
    };
}

pub mod checkpoint;
pub mod cosignature;
pub mod hash;
pub mod merkle;
pub mod note;
pub mod policy;
pub mod proof;
pub mod tile;
pub mod witness_wire;

pub use checkpoint::{open_checkpoint, sign_checkpoint, Checkpoint, CheckpointError};
pub use cosignature::{verify_cosignature, Cosigner, COSIGNATURE_TIMESTAMP_MAX};
pub use hash::{empty_root, leaf_hash, node_hash, Hash, HashError, LeafIndex, TreeSize};
pub use merkle::{
    is_valid_subtree, prove_consistency, prove_inclusion, prove_subtree_consistency,
    prove_subtree_inclusion, root_from_inclusion, subtree_hash, tree_hash, verify_consistency,
    verify_inclusion, verify_subtree_consistency, verify_subtree_inclusion, HashReader, MemoryTree,
    NodeId, ProofError, PROOF_HASHES_MAX,
};
pub use note::{
    parse_signature_lines, verify_note, KeyType, Note, NoteError, NoteSignature, Signer,
    VerifiedSignature, Verifier,
};
pub use policy::{Policy, PolicyBuilder, PolicyError, Threshold, VerifiedCheckpoint};
pub use proof::{TlogProof, TlogProofError};
pub use tile::{
    bundles_for_size, encode_bundle, parse_bundle, parse_bundle_for, parse_tile_path,
    tiles_for_size, BundleError, BundleId, TileEdge, TileError, TileHashReader, TileId, TilePath,
    TilePathError, TileReader, ENTRY_BYTES_MAX, TILE_HEIGHT, TILE_WIDTH_MAX,
};
pub use witness_wire::{
    encode_size_body, parse_add_checkpoint_response, parse_size_body, AddCheckpointRequest,
    WitnessWireError,
};

/// The `rand_core` crate, for callers that need a `CryptoRngCore` (e.g. `OsRng`).
pub use rand_core;

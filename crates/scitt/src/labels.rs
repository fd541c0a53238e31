//! COSE header parameter and CWT claim labels used by SCITT, pinned to the
//! IANA registries (RFC 9052, RFC 9597, RFC 9942, the COSE hash envelope).

#[allow(unused_imports)]
use crate::prelude::*;
/// `alg` (RFC 9052).
pub const ALG: i64 = 1;
/// `crit` (RFC 9052).
pub const CRIT: i64 = 2;
/// `content type` (RFC 9052).
pub const CONTENT_TYPE: i64 = 3;
/// `kid` (RFC 9052).
pub const KID: i64 = 4;
/// `CWT Claims` (RFC 9597).
pub const CWT_CLAIMS: i64 = 15;
/// `typ` (RFC 9596).
pub const TYP: i64 = 16;
/// `payload_hash_alg` (COSE hash envelope).
pub const PAYLOAD_HASH_ALG: i64 = 258;
/// `preimage_content_type` (COSE hash envelope).
pub const PREIMAGE_CONTENT_TYPE: i64 = 259;
/// `payload_location` (COSE hash envelope).
pub const PAYLOAD_LOCATION: i64 = 260;
/// `receipts` (RFC 9942).
pub const RECEIPTS: i64 = 394;
/// `vds`: verifiable data structure (RFC 9942).
pub const VDS: i64 = 395;
/// `vdp`: verifiable data structure proofs (RFC 9942).
pub const VDP: i64 = 396;

/// `vds` value of RFC9162_SHA256.
pub const VDS_RFC9162_SHA256: i64 = 1;
/// Key of the inclusion proofs in a `vdp` map.
pub const VDP_INCLUSION: i64 = -1;

/// CWT claim `iss` (RFC 8392).
pub const CWT_ISS: i64 = 1;
/// CWT claim `sub` (RFC 8392).
pub const CWT_SUB: i64 = 2;
/// CWT claim `iat` (RFC 8392).
pub const CWT_IAT: i64 = 6;

/// COSE algorithm EdDSA.
pub const ALG_EDDSA: i64 = -8;
/// COSE algorithm ES256.
pub const ALG_ES256: i64 = -7;
/// COSE algorithm SHA-256 (for `payload_hash_alg`).
pub const ALG_SHA256: i64 = -16;

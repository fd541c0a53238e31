//! Issuer and service keys: Ed25519 (COSE `EdDSA`, -8) and P-256 (COSE
//! `ES256`, -7), in their COSE_Key form (RFC 9052 §7) and as PEM
//! (SubjectPublicKeyInfo / PKCS#8), with RFC 9679 COSE Key thumbprints as key
//! ids.

#[allow(unused_imports)]
use crate::prelude::*;
use coset::iana;
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
// (p256 uses the same `pkcs8` traits.)
use rand_core::CryptoRngCore;
use sha2::{Digest, Sha256};

use crate::labels;

/// A signature algorithm this crate signs and verifies with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// EdDSA over Ed25519 (COSE -8).
    EdDSA,
    /// ECDSA over P-256 with SHA-256 (COSE -7); signatures are raw `r || s`.
    ES256,
}

impl Algorithm {
    /// The COSE algorithm identifier.
    pub fn cose(self) -> i64 {
        match self {
            Algorithm::EdDSA => labels::ALG_EDDSA,
            Algorithm::ES256 => labels::ALG_ES256,
        }
    }

    /// From a COSE algorithm identifier.
    pub fn from_cose(alg: i64) -> Option<Algorithm> {
        match alg {
            labels::ALG_EDDSA => Some(Algorithm::EdDSA),
            labels::ALG_ES256 => Some(Algorithm::ES256),
            _ => None,
        }
    }

    /// The JOSE/COSE name (`EdDSA`, `ES256`).
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::EdDSA => "EdDSA",
            Algorithm::ES256 => "ES256",
        }
    }

    /// Parses a name as [`Algorithm::name`] prints it (case-insensitive).
    pub fn from_name(name: &str) -> Option<Algorithm> {
        match name.to_ascii_lowercase().as_str() {
            "eddsa" | "ed25519" => Some(Algorithm::EdDSA),
            "es256" | "p-256" | "p256" => Some(Algorithm::ES256),
            _ => None,
        }
    }
}

/// Why a key could not be used or decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The signature does not verify.
    #[error("signature does not verify")]
    BadSignature,
    /// The signature has the wrong length or form for the algorithm.
    #[error("malformed {alg} signature: {why}")]
    MalformedSignature {
        /// The algorithm.
        alg: &'static str,
        /// What is wrong.
        why: String,
    },
    /// The key bytes or text do not decode.
    #[error("malformed key: {0}")]
    Malformed(String),
    /// The COSE_Key has a type or curve this crate does not support.
    #[error("unsupported key: {0}")]
    Unsupported(String),
}

/// A public key of an issuer, a device or the transparency service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublicKey {
    /// Ed25519.
    Ed25519(ed25519_dalek::VerifyingKey),
    /// P-256.
    P256(p256::ecdsa::VerifyingKey),
}

impl PublicKey {
    /// The algorithm this key verifies.
    pub fn algorithm(&self) -> Algorithm {
        match self {
            PublicKey::Ed25519(_) => Algorithm::EdDSA,
            PublicKey::P256(_) => Algorithm::ES256,
        }
    }

    /// Verifies `signature` over `data` (for ES256, `signature` is `r || s`).
    pub fn verify(&self, data: &[u8], signature: &[u8]) -> Result<(), KeyError> {
        match self {
            PublicKey::Ed25519(k) => {
                let sig = ed25519_dalek::Signature::from_slice(signature).map_err(|e| {
                    KeyError::MalformedSignature {
                        alg: "EdDSA",
                        why: e.to_string(),
                    }
                })?;
                k.verify_strict(data, &sig)
                    .map_err(|_| KeyError::BadSignature)
            }
            PublicKey::P256(k) => {
                use p256::ecdsa::signature::Verifier;
                let sig = p256::ecdsa::Signature::from_slice(signature).map_err(|e| {
                    KeyError::MalformedSignature {
                        alg: "ES256",
                        why: e.to_string(),
                    }
                })?;
                k.verify(data, &sig).map_err(|_| KeyError::BadSignature)
            }
        }
    }

    /// The RFC 9679 COSE Key thumbprint (SHA-256 over the deterministic CBOR
    /// encoding of the key's required parameters): the key id used in `kid`.
    pub fn thumbprint(&self) -> [u8; 32] {
        Sha256::digest(self.thumbprint_input()).into()
    }

    /// Deterministically encoded required members, keys in bytewise order
    /// (1, -1, -2, -3), RFC 9679 §3.
    fn thumbprint_input(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(80);
        match self {
            PublicKey::Ed25519(k) => {
                // {1: 1 (OKP), -1: 6 (Ed25519), -2: x}
                out.extend_from_slice(&[0xa3, 0x01, 0x01, 0x20, 0x06, 0x21, 0x58, 0x20]);
                out.extend_from_slice(k.as_bytes());
            }
            PublicKey::P256(k) => {
                let point = k.to_encoded_point(false);
                // {1: 2 (EC2), -1: 1 (P-256), -2: x, -3: y}
                out.extend_from_slice(&[0xa4, 0x01, 0x02, 0x20, 0x01, 0x21, 0x58, 0x20]);
                out.extend_from_slice(point.x().map(|x| x.as_slice()).unwrap_or(&[]));
                out.extend_from_slice(&[0x22, 0x58, 0x20]);
                out.extend_from_slice(point.y().map(|y| y.as_slice()).unwrap_or(&[]));
            }
        }
        out
    }

    /// The COSE_Key (with `kid` = thumbprint and `alg`).
    pub fn to_cose_key(&self) -> coset::CoseKey {
        let kid = self.thumbprint().to_vec();
        let key = match self {
            PublicKey::Ed25519(k) => coset::CoseKeyBuilder::new_okp_key()
                .param(
                    iana::OkpKeyParameter::Crv as i64,
                    ciborium::Value::from(iana::EllipticCurve::Ed25519 as i64),
                )
                .param(
                    iana::OkpKeyParameter::X as i64,
                    ciborium::Value::Bytes(k.as_bytes().to_vec()),
                )
                .algorithm(iana::Algorithm::EdDSA),
            PublicKey::P256(k) => {
                let point = k.to_encoded_point(false);
                let x = point.x().map(|x| x.to_vec()).unwrap_or_default();
                let y = point.y().map(|y| y.to_vec()).unwrap_or_default();
                coset::CoseKeyBuilder::new_ec2_pub_key(iana::EllipticCurve::P_256, x, y)
                    .algorithm(iana::Algorithm::ES256)
            }
        };
        key.key_id(kid).build()
    }

    /// Reads a COSE_Key (OKP/Ed25519 or EC2/P-256).
    pub fn from_cose_key(key: &coset::CoseKey) -> Result<PublicKey, KeyError> {
        let param = |label: i64| {
            key.params.iter().find_map(|(l, v)| match l {
                coset::Label::Int(i) if *i == label => Some(v),
                _ => None,
            })
        };
        let bytes = |label: i64, what: &str| match param(label) {
            Some(ciborium::Value::Bytes(b)) => Ok(b.clone()),
            _ => Err(KeyError::Malformed(format!("COSE_Key without {what}"))),
        };
        let crv = match param(-1) {
            Some(ciborium::Value::Integer(i)) => i64::try_from(*i).ok(),
            _ => None,
        };
        match (&key.kty, crv) {
            (coset::KeyType::Assigned(iana::KeyType::OKP), Some(c))
                if c == iana::EllipticCurve::Ed25519 as i64 =>
            {
                let x = bytes(-2, "x")?;
                let x: [u8; 32] = x
                    .try_into()
                    .map_err(|_| KeyError::Malformed("Ed25519 x is not 32 bytes".into()))?;
                ed25519_dalek::VerifyingKey::from_bytes(&x)
                    .map(PublicKey::Ed25519)
                    .map_err(|e| KeyError::Malformed(e.to_string()))
            }
            (coset::KeyType::Assigned(iana::KeyType::EC2), Some(c))
                if c == iana::EllipticCurve::P_256 as i64 =>
            {
                let (x, y) = (bytes(-2, "x")?, bytes(-3, "y")?);
                if x.len() != 32 || y.len() != 32 {
                    return Err(KeyError::Malformed("P-256 x and y must be 32 bytes".into()));
                }
                let point = p256::EncodedPoint::from_affine_coordinates(
                    x.as_slice().into(),
                    y.as_slice().into(),
                    false,
                );
                p256::ecdsa::VerifyingKey::from_encoded_point(&point)
                    .map(PublicKey::P256)
                    .map_err(|e| KeyError::Malformed(e.to_string()))
            }
            (kty, crv) => Err(KeyError::Unsupported(format!(
                "key type {kty:?} with curve {crv:?}"
            ))),
        }
    }

    /// SubjectPublicKeyInfo PEM.
    pub fn to_pem(&self) -> String {
        let pem = match self {
            PublicKey::Ed25519(k) => k.to_public_key_pem(Default::default()),
            PublicKey::P256(k) => k.to_public_key_pem(Default::default()),
        };
        // Encoding a valid key cannot fail; an empty string would be refused
        // by every reader.
        pem.unwrap_or_default()
    }

    /// Reads a SubjectPublicKeyInfo PEM (Ed25519 or P-256).
    pub fn from_pem(pem: &str) -> Result<PublicKey, KeyError> {
        if let Ok(k) = ed25519_dalek::VerifyingKey::from_public_key_pem(pem) {
            return Ok(PublicKey::Ed25519(k));
        }
        p256::ecdsa::VerifyingKey::from_public_key_pem(pem)
            .map(PublicKey::P256)
            .map_err(|_| {
                KeyError::Malformed("not an Ed25519 or P-256 SubjectPublicKeyInfo PEM".into())
            })
    }
}

/// A private key for signing statements or receipts.
pub enum SigningKey {
    /// Ed25519.
    Ed25519(ed25519_dalek::SigningKey),
    /// P-256.
    P256(p256::ecdsa::SigningKey),
}

impl SigningKey {
    /// Generates a key for `alg`.
    pub fn generate(alg: Algorithm, rng: &mut impl CryptoRngCore) -> SigningKey {
        match alg {
            Algorithm::EdDSA => SigningKey::Ed25519(ed25519_dalek::SigningKey::generate(rng)),
            Algorithm::ES256 => SigningKey::P256(p256::ecdsa::SigningKey::random(rng)),
        }
    }

    /// The matching public key.
    pub fn public_key(&self) -> PublicKey {
        match self {
            SigningKey::Ed25519(k) => PublicKey::Ed25519(k.verifying_key()),
            SigningKey::P256(k) => PublicKey::P256(*k.verifying_key()),
        }
    }

    /// The algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.public_key().algorithm()
    }

    /// Signs `data` (ES256: raw `r || s`, 64 bytes).
    pub fn sign(&self, data: &[u8]) -> Vec<u8> {
        match self {
            SigningKey::Ed25519(k) => {
                use ed25519_dalek::Signer;
                k.sign(data).to_bytes().to_vec()
            }
            SigningKey::P256(k) => {
                use p256::ecdsa::signature::Signer;
                let sig: p256::ecdsa::Signature = k.sign(data);
                sig.to_bytes().to_vec()
            }
        }
    }

    /// PKCS#8 PEM (secret!).
    pub fn to_pem(&self) -> String {
        let pem = match self {
            SigningKey::Ed25519(k) => k.to_pkcs8_pem(Default::default()),
            SigningKey::P256(k) => k.to_pkcs8_pem(Default::default()),
        };
        pem.map(|p| p.to_string()).unwrap_or_default()
    }

    /// Reads a PKCS#8 PEM (Ed25519 or P-256).
    pub fn from_pem(pem: &str) -> Result<SigningKey, KeyError> {
        if let Ok(k) = ed25519_dalek::SigningKey::from_pkcs8_pem(pem) {
            return Ok(SigningKey::Ed25519(k));
        }
        p256::ecdsa::SigningKey::from_pkcs8_pem(pem)
            .map(SigningKey::P256)
            .map_err(|_| KeyError::Malformed("not an Ed25519 or P-256 PKCS#8 PEM".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_through_cose_key_and_pem_and_sign() {
        for alg in [Algorithm::EdDSA, Algorithm::ES256] {
            let sk = SigningKey::generate(alg, &mut rand_core::OsRng);
            let pk = sk.public_key();
            assert_eq!(pk.algorithm(), alg);
            assert_eq!(
                PublicKey::from_cose_key(&pk.to_cose_key()).as_ref(),
                Ok(&pk)
            );
            assert_eq!(PublicKey::from_pem(&pk.to_pem()).as_ref(), Ok(&pk));
            let sk2 = SigningKey::from_pem(&sk.to_pem()).expect("private PEM");
            assert_eq!(sk2.public_key(), pk);
            let sig = sk.sign(b"data");
            assert_eq!(pk.verify(b"data", &sig), Ok(()));
            assert_eq!(pk.verify(b"other", &sig), Err(KeyError::BadSignature));
            assert!(pk.verify(b"data", &sig[..10]).is_err());
        }
    }

    /// RFC 9679 §6 example: the thumbprint of the P-256 key of RFC 9679
    /// Figure 2.
    #[test]
    fn thumbprint_matches_rfc9679_example() {
        let x = hex::decode("65eda5a12577c2bae829437fe338701a10aaa375e1bb5b5de108de439c08551d")
            .expect("hex");
        let y = hex::decode("1e52ed75701163f7f9e40ddf9f341b3dc9ba860af7e0ca7ca7e9eecd0084d19c")
            .expect("hex");
        let key = coset::CoseKeyBuilder::new_ec2_pub_key(iana::EllipticCurve::P_256, x, y).build();
        let pk = PublicKey::from_cose_key(&key).expect("key");
        assert_eq!(
            hex::encode(pk.thumbprint()),
            "496bd8afadf307e5b08c64b0421bf9dc01528a344a43bda88fadd1669da253ec"
        );
    }
}

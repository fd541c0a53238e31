//! Bearer tokens: [`TokenKey::issue`] writes `st1.<claims>.<mac>` (format in
//! the crate docs) and [`TokenKey::verify`] checks the MAC in constant time
//! before it parses anything, then the validity period.
//!
//! Deliberately absent: credentials (see [`crate::TokenIssuer`] for the
//! check that a token's credential is still live), encryption (claims are
//! readable by whoever holds the token), and the clock.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// The first part of every token: names the format and separates its MACs
/// from any other use of the key.
pub const TOKEN_PREFIX: &str = "st1";
/// Length of a [`TokenKey`], in bytes: HMAC-SHA256's output size (RFC 2104
/// §3 recommends at least that).
pub const TOKEN_KEY_BYTES: usize = 32;
/// Longest token accepted, in bytes: claims are a few hundred bytes; this
/// bounds the work an attacker can ask for before the MAC check.
pub const TOKEN_BYTES_MAX: usize = 4096;
/// How long a token is valid by default, in seconds: one hour, the common
/// choice for client-credentials tokens; clients fetch a new one.
pub const TOKEN_LIFETIME_S_DEFAULT: u64 = 3600;
/// How far in the future a token's `iat` may be, in seconds, before it is
/// refused: tolerates a clock stepped back a little between issue and use.
pub const CLOCK_SKEW_S_MAX: u64 = 60;

const MAC_BYTES: usize = 32;

type HmacSha256 = Hmac<Sha256>;

/// What a token says: who it acts for and until when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenClaims {
    /// The credential it was issued to.
    pub client_id: String,
    /// The stakeholder it acts for: the credential's.
    pub stakeholder: String,
    /// The scopes granted (RFC 6749 §3.3 tokens), possibly none.
    pub scope: Vec<String>,
    /// Issued at, Unix seconds.
    pub iat: u64,
    /// Expires at, Unix seconds: invalid from this second on.
    pub exp: u64,
}

impl TokenClaims {
    /// Whether `scope` was granted.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scope.iter().any(|s| s == scope)
    }
}

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not a token of this format (too long, wrong prefix, bad encoding).
    #[error("malformed token: {0}")]
    Malformed(&'static str),
    /// The MAC does not match: tampered with, or issued under another key.
    #[error("token signature does not verify")]
    BadSignature,
    /// Past its `exp`.
    #[error("token expired at {exp_unix_s} (Unix seconds)")]
    Expired {
        /// When it expired, Unix seconds.
        exp_unix_s: u64,
    },
    /// Its `iat` is more than [`CLOCK_SKEW_S_MAX`] in the future.
    #[error("token not valid before {iat_unix_s} (Unix seconds)")]
    NotYetValid {
        /// When it was issued, Unix seconds.
        iat_unix_s: u64,
    },
    /// Valid, but its credential has been revoked (or is gone, or now
    /// belongs to another stakeholder).
    #[error("the credential this token was issued to is revoked")]
    CredentialRevoked,
}

/// The HMAC-SHA256 key tokens are issued and verified with. `Debug` does not
/// show it.
#[derive(Clone)]
pub struct TokenKey([u8; TOKEN_KEY_BYTES]);

impl TokenKey {
    /// The key `bytes`, which must be secret and random.
    pub fn from_bytes(bytes: [u8; TOKEN_KEY_BYTES]) -> TokenKey {
        TokenKey(bytes)
    }

    /// The token carrying `claims`. It does not check them: `exp` before
    /// `iat` gives a token that never verifies.
    pub fn issue(&self, claims: &TokenClaims) -> String {
        // Serializing strings and integers into a Vec cannot fail; were it
        // to, the empty claims would be refused by `verify`.
        let json = serde_json::to_vec(claims).unwrap_or_default();
        let claims_b64 = URL_SAFE_NO_PAD.encode(json);
        // `mac` cannot fail (HMAC takes keys of any length); were it to, the
        // empty MAC part would be refused by `verify`.
        let mac_b64 = self
            .mac(&claims_b64)
            .map(|m| URL_SAFE_NO_PAD.encode(m))
            .unwrap_or_default();
        format!("{TOKEN_PREFIX}.{claims_b64}.{mac_b64}")
    }

    /// The claims of `token` if it was issued under this key, unaltered, and
    /// is valid at `now_unix_s`.
    ///
    /// Order: length and shape, then the MAC (constant time), then the
    /// claims are parsed, then the validity period.
    pub fn verify(&self, token: &str, now_unix_s: u64) -> Result<TokenClaims, TokenError> {
        if token.len() > TOKEN_BYTES_MAX {
            return Err(TokenError::Malformed("longer than 4096 bytes"));
        }
        let mut parts = token.split('.');
        let (Some(prefix), Some(claims_b64), Some(mac_b64), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed("not three dot-separated parts"));
        };
        if prefix != TOKEN_PREFIX {
            return Err(TokenError::Malformed("not an st1 token"));
        }
        let mut presented = [0u8; MAC_BYTES];
        match URL_SAFE_NO_PAD.decode_slice(mac_b64, &mut presented) {
            Ok(MAC_BYTES) => {}
            _ => return Err(TokenError::Malformed("MAC is not 32 bytes of base64url")),
        }
        let expected = self.mac(claims_b64).ok_or(TokenError::BadSignature)?;
        if !bool::from(expected.ct_eq(&presented)) {
            return Err(TokenError::BadSignature);
        }
        let json = URL_SAFE_NO_PAD
            .decode(claims_b64)
            .map_err(|_| TokenError::Malformed("claims are not base64url"))?;
        let claims: TokenClaims = serde_json::from_slice(&json)
            .map_err(|_| TokenError::Malformed("claims are not valid JSON claims"))?;
        if claims.iat > now_unix_s.saturating_add(CLOCK_SKEW_S_MAX) {
            return Err(TokenError::NotYetValid {
                iat_unix_s: claims.iat,
            });
        }
        if now_unix_s >= claims.exp {
            return Err(TokenError::Expired {
                exp_unix_s: claims.exp,
            });
        }
        Ok(claims)
    }

    /// `HMAC-SHA256(key, "st1." || claims_b64)`.
    fn mac(&self, claims_b64: &str) -> Option<[u8; MAC_BYTES]> {
        let mut mac = <HmacSha256 as Mac>::new_from_slice(&self.0).ok()?;
        mac.update(TOKEN_PREFIX.as_bytes());
        mac.update(b".");
        mac.update(claims_b64.as_bytes());
        Some(mac.finalize().into_bytes().into())
    }
}

impl fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenKey(<redacted>)")
    }
}

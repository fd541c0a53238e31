//! [`TokenIssuer`]: the client credentials grant (RFC 6749 §4.4) without
//! HTTP: check the client's credential, check the requested scope, issue a
//! token bound to the credential's stakeholder; and the check of a presented
//! token against the key and the current credentials.
//!
//! Deliberately absent: request parsing and response shapes (`http-api`),
//! locking of the credentials (the caller holds them), the clock.

use std::collections::BTreeSet;
use std::fmt;

use crate::credentials::{CredentialError, Credentials};
use crate::scope::{parse_scope, ScopeError};
use crate::token::{TokenClaims, TokenError, TokenKey, TOKEN_LIFETIME_S_DEFAULT};

/// Longest token lifetime an issuer accepts, in seconds (one day): a leaked
/// token must not outlive a working day.
pub const TOKEN_LIFETIME_S_MAX: u64 = 86_400;

/// Issues and checks tokens under one key, with one lifetime and one set of
/// scopes it may grant.
#[derive(Debug, Clone)]
pub struct TokenIssuer {
    key: TokenKey,
    lifetime_s: u64,
    scopes_allowed: BTreeSet<String>,
}

/// A token granted to a client.
#[derive(Clone, PartialEq, Eq)]
pub struct Grant {
    /// The bearer token (a secret: `Debug` does not show it).
    pub access_token: String,
    /// What it says.
    pub claims: TokenClaims,
}

impl Grant {
    /// How long it is valid from issue, in seconds (`expires_in`).
    pub fn expires_in_s(&self) -> u64 {
        self.claims.exp.saturating_sub(self.claims.iat)
    }
}

impl fmt::Debug for Grant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Grant")
            .field("access_token", &"<redacted>")
            .field("claims", &self.claims)
            .finish()
    }
}

/// Why a token was not granted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GrantError {
    /// The client did not authenticate (RFC 6749 `invalid_client`).
    #[error(transparent)]
    Client(#[from] CredentialError),
    /// The requested scope is malformed or not granted (`invalid_scope`).
    #[error(transparent)]
    Scope(#[from] ScopeError),
}

impl TokenIssuer {
    /// An issuer under `key`, with tokens valid for
    /// [`TOKEN_LIFETIME_S_DEFAULT`] and no scope to grant.
    pub fn new(key: TokenKey) -> TokenIssuer {
        TokenIssuer {
            key,
            lifetime_s: TOKEN_LIFETIME_S_DEFAULT,
            scopes_allowed: BTreeSet::new(),
        }
    }

    /// Tokens valid for `lifetime_s`, clamped to `1..=`[`TOKEN_LIFETIME_S_MAX`].
    pub fn with_lifetime_s(mut self, lifetime_s: u64) -> TokenIssuer {
        self.lifetime_s = lifetime_s.clamp(1, TOKEN_LIFETIME_S_MAX);
        self
    }

    /// Grants scopes among `scopes` (each an RFC 6749 §3.3 scope token).
    pub fn with_scopes_allowed<I, S>(mut self, scopes: I) -> Result<TokenIssuer, ScopeError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut allowed = BTreeSet::new();
        for s in scopes {
            let s = s.as_ref();
            match parse_scope(s)?.as_slice() {
                [one] if one == s => {
                    allowed.insert(one.clone());
                }
                _ => return Err(ScopeError::BadCharacter),
            }
        }
        self.scopes_allowed = allowed;
        Ok(self)
    }

    /// How long tokens are valid, in seconds.
    pub fn lifetime_s(&self) -> u64 {
        self.lifetime_s
    }

    /// The scopes this issuer may grant.
    pub fn scopes_allowed(&self) -> &BTreeSet<String> {
        &self.scopes_allowed
    }

    /// The client credentials grant: if `client_secret` is the secret of the
    /// live credential `client_id` and every requested scope is allowed, a
    /// token for the credential's stakeholder, valid from `now_unix_s` for
    /// [`Self::lifetime_s`]. No scope requested means none granted.
    ///
    /// The client is checked before the scope, so an unauthenticated caller
    /// learns nothing about scopes.
    pub fn grant(
        &self,
        credentials: &Credentials,
        client_id: &str,
        client_secret: &str,
        scope: Option<&str>,
        now_unix_s: u64,
    ) -> Result<Grant, GrantError> {
        let credential = credentials.verify(client_id, client_secret)?;
        let scope = parse_scope(scope.unwrap_or(""))?;
        if let Some(refused) = scope.iter().find(|s| !self.scopes_allowed.contains(*s)) {
            return Err(ScopeError::NotAllowed(refused.clone()).into());
        }
        let claims = TokenClaims {
            client_id: credential.client_id().to_string(),
            stakeholder: credential.stakeholder().to_string(),
            scope,
            iat: now_unix_s,
            exp: now_unix_s.saturating_add(self.lifetime_s),
        };
        Ok(Grant {
            access_token: self.key.issue(&claims),
            claims,
        })
    }

    /// The claims of `token` if it verifies under this issuer's key at
    /// `now_unix_s` ([`TokenKey::verify`]) and its credential is still live
    /// and still the same stakeholder's; so revoking a credential ends its
    /// tokens at once, not at their expiry.
    pub fn authenticate(
        &self,
        credentials: &Credentials,
        token: &str,
        now_unix_s: u64,
    ) -> Result<TokenClaims, TokenError> {
        let claims = self.key.verify(token, now_unix_s)?;
        match credentials.get(&claims.client_id) {
            Some(c) if !c.revoked() && c.stakeholder() == claims.stakeholder => Ok(claims),
            _ => Err(TokenError::CredentialRevoked),
        }
    }
}

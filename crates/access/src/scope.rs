//! OAuth 2.0 scope strings (RFC 6749 §3.3): [`parse_scope`] turns a
//! space-delimited `scope` parameter into its tokens.
//!
//! What a scope allows is not decided here: the [`crate::TokenIssuer`] only
//! grants scopes from its allowed set, and the services read them.

/// Most scope tokens in one request.
pub const SCOPE_TOKENS_MAX: usize = 32;
/// Longest scope token, in bytes.
pub const SCOPE_TOKEN_BYTES_MAX: usize = 64;
/// Longest `scope` parameter, in bytes: the most tokens, each as long as
/// allowed, with a space after each.
pub const SCOPE_BYTES_MAX: usize = SCOPE_TOKENS_MAX * (SCOPE_TOKEN_BYTES_MAX + 1);

/// Why a scope was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScopeError {
    /// The whole parameter is longer than [`SCOPE_BYTES_MAX`].
    #[error("scope is {bytes} bytes, more than {SCOPE_BYTES_MAX}")]
    TooLong {
        /// Its length.
        bytes: usize,
    },
    /// More than [`SCOPE_TOKENS_MAX`] tokens.
    #[error("more than {SCOPE_TOKENS_MAX} scope tokens")]
    TooManyTokens,
    /// A token longer than [`SCOPE_TOKEN_BYTES_MAX`].
    #[error("a scope token is longer than {SCOPE_TOKEN_BYTES_MAX} bytes")]
    TokenTooLong,
    /// A character outside RFC 6749 §3.3's `scope-token`.
    #[error(r#"scope tokens are visible ASCII without '"' or '\' (RFC 6749 §3.3)"#)]
    BadCharacter,
    /// A well-formed scope this issuer does not grant.
    #[error("scope {0:?} is not granted here")]
    NotAllowed(String),
}

/// The tokens of a `scope` parameter, in order, without repeats.
///
/// Tokens are separated by spaces; runs of spaces and leading or trailing
/// ones are tolerated. Each token is `1*( %x21 / %x23-5B / %x5D-7E )`
/// (RFC 6749 §3.3). An empty or all-space string is no scope.
pub fn parse_scope(scope: &str) -> Result<Vec<String>, ScopeError> {
    if scope.len() > SCOPE_BYTES_MAX {
        return Err(ScopeError::TooLong { bytes: scope.len() });
    }
    let mut tokens: Vec<String> = Vec::new();
    for token in scope.split(' ').filter(|t| !t.is_empty()) {
        if token.len() > SCOPE_TOKEN_BYTES_MAX {
            return Err(ScopeError::TokenTooLong);
        }
        if !token
            .bytes()
            .all(|b| matches!(b, 0x21 | 0x23..=0x5B | 0x5D..=0x7E))
        {
            return Err(ScopeError::BadCharacter);
        }
        if tokens.iter().any(|t| t == token) {
            continue;
        }
        if tokens.len() == SCOPE_TOKENS_MAX {
            return Err(ScopeError::TooManyTokens);
        }
        tokens.push(token.to_string());
    }
    Ok(tokens)
}

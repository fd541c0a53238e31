//! Who may call the sectwin API: the API credentials of stakeholders and the
//! expiring bearer tokens they are exchanged for (OAuth 2.0 client
//! credentials grant, RFC 6749 §4.4; bearer tokens, RFC 6750).
//!
//! A stakeholder (an organization, for example `acme.example`) gets
//! [`Credential`]s for the people and services acting for it. Each credential
//! is a `client_id` and a secret; the secret is shown once, at
//! [`Credentials::create`], and only a salted SHA-256 of it is kept. A client
//! presents its credential to the token endpoint, which calls
//! [`TokenIssuer::grant`] and answers a bearer token bound to the credential's
//! stakeholder. Requests then carry the token, checked by
//! [`TokenIssuer::authenticate`]. A token's stakeholder is the one the
//! credential was created for: a token for organization A never acts as B.
//!
//! ```
//! use access::{Credentials, TokenIssuer, TokenKey, CREDENTIAL_RANDOM_BYTES};
//!
//! let mut credentials = Credentials::default();
//! // Callers pass fresh random bytes (here fixed for the example).
//! let (credential, secret) = credentials
//!     .create("acme.example", "ci pipeline", [7; CREDENTIAL_RANDOM_BYTES], 1_700_000_000)
//!     .unwrap();
//! let issuer = TokenIssuer::new(TokenKey::from_bytes([9; 32]));
//! let grant = issuer
//!     .grant(&credentials, credential.client_id(), &secret, None, 1_700_000_000)
//!     .unwrap();
//! let claims = issuer
//!     .authenticate(&credentials, &grant.access_token, 1_700_000_060)
//!     .unwrap();
//! assert_eq!(claims.stakeholder, "acme.example");
//! ```
//!
//! # Credentials
//!
//! * `client_id` is `sc_` followed by 32 lowercase hex digits (128 random
//!   bits); it is an identifier, not a secret.
//! * The secret is `ss_` followed by the unpadded base64url of 32 random
//!   bytes (256 bits, 43 characters): recognizable by secret scanners, and
//!   never starting with `-` (which a command line takes for an option).
//! * Stored: a random 16-byte salt and `SHA-256(salt || secret)`, where
//!   `secret` is the secret's ASCII text. A fast hash is right here: a
//!   256-bit random secret cannot be guessed, so a slow password hash would
//!   only slow every token request without making anything harder to break.
//!   The salt keeps equal hashes from revealing equal secrets.
//! * Verification compares hashes in constant time.
//! * [`Credentials`] serializes to JSON (the server keeps it as a file):
//!   `{"credentials": [{"client_id", "stakeholder", "label", "salt_hex",
//!   "secret_sha256_hex", "created_unix_s", "revoked"}, ...]}`, ordered by
//!   `client_id`. Loading checks every field and refuses duplicate ids.
//!
//! # Tokens
//!
//! A token is `st1.<claims>.<mac>` where
//!
//! * `claims` is the unpadded base64url of the JSON [`TokenClaims`]
//!   (`client_id`, `stakeholder`, `scope`, `iat`, `exp`);
//! * `mac` is the unpadded base64url of
//!   `HMAC-SHA256(key, "st1." || claims)` (RFC 2104), computed over the exact
//!   ASCII bytes of the first two parts as sent, so no canonical re-encoding
//!   of the JSON is ever needed: the receiver checks the MAC (in constant
//!   time) before it parses anything.
//!
//! The `st1` prefix names the format and separates these MACs from any other
//! use of the key. A token is valid from `iat` (allowing
//! [`CLOCK_SKEW_S_MAX`]) until just before `exp` (RFC 7519 §4.1.4: not on or
//! after). Tokens are not encrypted: anyone holding one can read its claims.
//!
//! # Scopes
//!
//! Scope strings follow RFC 6749 §3.3 (space-delimited tokens of visible
//! ASCII without `"` or `\`). A [`TokenIssuer`] grants only scopes from its
//! allowed set; a request without `scope` gets no scope at all (least
//! privilege), never every allowed one.
//!
//! # What this crate does not do
//!
//! No I/O, no clock, no randomness: callers pass `now_unix_s` and random
//! bytes. No HTTP: the token endpoint and the `Authorization` header live in
//! `http-api`.

#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

mod credentials;
mod issuer;
mod scope;
pub mod throttle;
mod token;

pub use credentials::{
    CreateError, Credential, CredentialError, Credentials, CredentialsLoadError, CLIENT_ID_PREFIX,
    CREDENTIALS_MAX, CREDENTIAL_RANDOM_BYTES, LABEL_BYTES_MAX, SECRET_PREFIX,
    STAKEHOLDER_BYTES_MAX,
};
pub use issuer::{Grant, GrantError, TokenIssuer, TOKEN_LIFETIME_S_MAX};
pub use scope::{
    parse_scope, ScopeError, SCOPE_BYTES_MAX, SCOPE_TOKENS_MAX, SCOPE_TOKEN_BYTES_MAX,
};
pub use token::{
    TokenClaims, TokenError, TokenKey, CLOCK_SKEW_S_MAX, TOKEN_BYTES_MAX, TOKEN_KEY_BYTES,
    TOKEN_LIFETIME_S_DEFAULT, TOKEN_PREFIX,
};

//! [`Credentials`]: the API credentials of stakeholders, their creation from
//! caller-supplied random bytes, verification of a presented secret (in
//! constant time), revocation, and their JSON form.
//!
//! Deliberately absent: the secrets themselves (only a salted SHA-256 is
//! kept, see the crate docs for why a fast hash is right), files, clocks and
//! random number generators.

use std::collections::BTreeMap;
use std::fmt;

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Random bytes [`Credentials::create`] needs: 16 for the client id, 16 for
/// the salt, 32 for the secret.
pub const CREDENTIAL_RANDOM_BYTES: usize =
    CLIENT_ID_RANDOM_BYTES + SALT_BYTES + SECRET_RANDOM_BYTES;
/// What every client id starts with (`sc_` for "sectwin client"), so a
/// client id is recognizable in logs and configuration.
pub const CLIENT_ID_PREFIX: &str = "sc_";
/// What every new secret starts with (`ss_` for "sectwin secret"): secret
/// scanners can recognize a leaked one, and a secret never starts with `-`,
/// which a command line would take for an option (base64url can begin with
/// one). Secrets issued before the prefix existed still verify: only the
/// hash of the presented string is compared.
pub const SECRET_PREFIX: &str = "ss_";
/// Longest label, in bytes: a human note ("ci pipeline", "alice laptop").
pub const LABEL_BYTES_MAX: usize = 200;
/// Longest stakeholder id, in bytes: a DNS name's limit, with room for a URL-
/// or DID-style issuer.
pub const STAKEHOLDER_BYTES_MAX: usize = 255;
/// Most credentials in one set, revoked ones included: far above any real
/// deployment, and it bounds the file the server loads.
pub const CREDENTIALS_MAX: usize = 100_000;

/// 128 random bits: client ids never collide by chance.
const CLIENT_ID_RANDOM_BYTES: usize = 16;
const SALT_BYTES: usize = 16;
/// 256 random bits: the secret cannot be guessed (hence a fast hash).
const SECRET_RANDOM_BYTES: usize = 32;
const CLIENT_ID_BYTES: usize = CLIENT_ID_PREFIX.len() + 2 * CLIENT_ID_RANDOM_BYTES;

/// One API credential of a stakeholder. The secret is not in it: only a
/// salted SHA-256 of the secret, which [`Credentials::verify`] checks.
///
/// Serialized as `{client_id, stakeholder, label, salt_hex,
/// secret_sha256_hex, created_unix_s, revoked}`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "CredentialRecord", into = "CredentialRecord")]
pub struct Credential {
    client_id: String,
    stakeholder: String,
    label: String,
    salt: [u8; SALT_BYTES],
    secret_sha256: [u8; 32],
    created_unix_s: u64,
    revoked: bool,
}

impl Credential {
    /// The client id (`sc_` and 32 lowercase hex digits); not a secret.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }
    /// The stakeholder this credential acts for.
    pub fn stakeholder(&self) -> &str {
        &self.stakeholder
    }
    /// The human note given at creation.
    pub fn label(&self) -> &str {
        &self.label
    }
    /// When it was created, in Unix seconds (as the caller said).
    pub fn created_unix_s(&self) -> u64 {
        self.created_unix_s
    }
    /// Whether it was revoked (revoked credentials are kept, never reused).
    pub fn revoked(&self) -> bool {
        self.revoked
    }
}

impl fmt::Debug for Credential {
    // The salt and hash are left out: they are of no use to a reader and
    // need not be in logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credential")
            .field("client_id", &self.client_id)
            .field("stakeholder", &self.stakeholder)
            .field("label", &self.label)
            .field("created_unix_s", &self.created_unix_s)
            .field("revoked", &self.revoked)
            .finish_non_exhaustive()
    }
}

/// Why a presented credential was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CredentialError {
    /// No credential has this client id.
    #[error("unknown client_id")]
    UnknownClient,
    /// The secret does not match the client id's.
    #[error("wrong client secret")]
    BadSecret,
    /// The credential was revoked (said only to a caller who knows the secret).
    #[error("the credential is revoked")]
    Revoked,
}

/// Why [`Credentials::create`] refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CreateError {
    /// The stakeholder id is empty, too long, or not visible ASCII.
    #[error("stakeholder must be 1 to {STAKEHOLDER_BYTES_MAX} bytes of visible ASCII")]
    Stakeholder,
    /// The label is too long or holds control characters.
    #[error("label must be at most {LABEL_BYTES_MAX} bytes without control characters")]
    Label,
    /// The random bytes gave a client id already in use (the random source
    /// is broken: 128 random bits do not repeat).
    #[error("client id {0} is taken: the random bytes are not random")]
    ClientIdTaken(String),
    /// The set holds [`CREDENTIALS_MAX`] credentials.
    #[error("at most {CREDENTIALS_MAX} credentials")]
    Full,
}

/// Why a serialized [`Credentials`] was refused on load.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialsLoadError {
    /// A field of one credential is invalid.
    #[error("credential {client_id:?}: {reason}")]
    Field {
        /// The credential's client id as written.
        client_id: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// Two credentials share a client id.
    #[error("client id {0} appears twice")]
    Duplicate(String),
    /// More than [`CREDENTIALS_MAX`] credentials.
    #[error("more than {CREDENTIALS_MAX} credentials")]
    TooMany,
}

/// A set of API credentials, keyed by client id.
///
/// Serialized as `{"credentials": [...]}` in client id order; loading
/// re-checks every field (see [`CredentialsLoadError`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "CredentialsRecord", into = "CredentialsRecord")]
pub struct Credentials {
    by_client_id: BTreeMap<String, Credential>,
}

impl Credentials {
    /// Creates a credential for `stakeholder` from fresh `random` bytes and
    /// returns it with its secret, which is shown this once and never kept.
    ///
    /// `random` must come from a cryptographic random source; bytes 0..16
    /// become the client id, 16..32 the salt, 32..64 the secret.
    pub fn create(
        &mut self,
        stakeholder: &str,
        label: &str,
        random: [u8; CREDENTIAL_RANDOM_BYTES],
        now_unix_s: u64,
    ) -> Result<(Credential, String), CreateError> {
        if !stakeholder_valid(stakeholder) {
            return Err(CreateError::Stakeholder);
        }
        if !label_valid(label) {
            return Err(CreateError::Label);
        }
        if self.by_client_id.len() >= CREDENTIALS_MAX {
            return Err(CreateError::Full);
        }
        let (id_bytes, salt, secret_bytes) = split_random(&random);
        let client_id = format!("{CLIENT_ID_PREFIX}{}", hex::encode(id_bytes));
        if self.by_client_id.contains_key(&client_id) {
            return Err(CreateError::ClientIdTaken(client_id));
        }
        let secret = format!(
            "{SECRET_PREFIX}{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret_bytes)
        );
        let credential = Credential {
            client_id: client_id.clone(),
            stakeholder: stakeholder.to_string(),
            label: label.to_string(),
            salt,
            secret_sha256: secret_sha256(&salt, &secret),
            created_unix_s: now_unix_s,
            revoked: false,
        };
        self.by_client_id.insert(client_id, credential.clone());
        Ok((credential, secret))
    }

    /// The credential `client_id` if `secret` is its secret and it is not
    /// revoked. The hashes are compared in constant time; a revoked
    /// credential is reported only once the secret matched.
    pub fn verify(&self, client_id: &str, secret: &str) -> Result<&Credential, CredentialError> {
        let credential = self
            .by_client_id
            .get(client_id)
            .ok_or(CredentialError::UnknownClient)?;
        let presented = secret_sha256(&credential.salt, secret);
        if !bool::from(presented.ct_eq(&credential.secret_sha256)) {
            return Err(CredentialError::BadSecret);
        }
        if credential.revoked {
            return Err(CredentialError::Revoked);
        }
        Ok(credential)
    }

    /// Revokes `client_id` (again is fine). It stays in the set, so its id is
    /// never reused and its history stays readable.
    pub fn revoke(&mut self, client_id: &str) -> Result<(), CredentialError> {
        let credential = self
            .by_client_id
            .get_mut(client_id)
            .ok_or(CredentialError::UnknownClient)?;
        credential.revoked = true;
        Ok(())
    }

    /// Adds `credential` as another node (or file) holds it; answers whether
    /// this set changed. Creations and revocations commute: a client id
    /// unknown here is added, and a credential revoked in either is revoked
    /// (a revocation is never undone). For a client id known here, the rest
    /// of the record is kept as it is here (ids are random: the same id is
    /// the same credential).
    pub fn merge_one(&mut self, credential: &Credential) -> bool {
        match self.by_client_id.get_mut(&credential.client_id) {
            None => {
                self.by_client_id
                    .insert(credential.client_id.clone(), credential.clone());
                true
            }
            Some(here) if credential.revoked && !here.revoked => {
                here.revoked = true;
                true
            }
            Some(_) => false,
        }
    }

    /// [`Credentials::merge_one`] of every credential of `other`; answers
    /// whether this set changed.
    pub fn merge(&mut self, other: &Credentials) -> bool {
        let mut changed = false;
        for c in other.iter() {
            changed |= self.merge_one(c);
        }
        changed
    }

    /// The credential `client_id`, revoked or not.
    pub fn get(&self, client_id: &str) -> Option<&Credential> {
        self.by_client_id.get(client_id)
    }

    /// The credentials of `stakeholder`, revoked ones included, by client id.
    pub fn for_stakeholder<'a>(
        &'a self,
        stakeholder: &'a str,
    ) -> impl Iterator<Item = &'a Credential> + 'a {
        self.iter().filter(move |c| c.stakeholder == stakeholder)
    }

    /// Every credential, by client id.
    pub fn iter(&self) -> impl Iterator<Item = &Credential> + '_ {
        self.by_client_id.values()
    }

    /// How many credentials, revoked ones included.
    pub fn len(&self) -> usize {
        self.by_client_id.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.by_client_id.is_empty()
    }
}

/// `SHA-256(salt || secret)`, `secret` as its ASCII (UTF-8) bytes.
fn secret_sha256(salt: &[u8; SALT_BYTES], secret: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(salt);
    h.update(secret.as_bytes());
    h.finalize().into()
}

type RandomParts = (
    [u8; CLIENT_ID_RANDOM_BYTES],
    [u8; SALT_BYTES],
    [u8; SECRET_RANDOM_BYTES],
);

fn split_random(random: &[u8; CREDENTIAL_RANDOM_BYTES]) -> RandomParts {
    let mut id = [0u8; CLIENT_ID_RANDOM_BYTES];
    let mut salt = [0u8; SALT_BYTES];
    let mut secret = [0u8; SECRET_RANDOM_BYTES];
    // The three parts are exactly CREDENTIAL_RANDOM_BYTES long (by its
    // definition), so every byte is used once and none is left zero.
    for (out, byte) in id
        .iter_mut()
        .chain(salt.iter_mut())
        .chain(secret.iter_mut())
        .zip(random)
    {
        *out = *byte;
    }
    (id, salt, secret)
}

fn stakeholder_valid(s: &str) -> bool {
    !s.is_empty() && s.len() <= STAKEHOLDER_BYTES_MAX && s.bytes().all(|b| b.is_ascii_graphic())
}

fn label_valid(s: &str) -> bool {
    s.len() <= LABEL_BYTES_MAX && !s.chars().any(char::is_control)
}

fn client_id_valid(s: &str) -> bool {
    s.len() == CLIENT_ID_BYTES
        && s.strip_prefix(CLIENT_ID_PREFIX)
            .is_some_and(|h| h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
}

/// The JSON form of one [`Credential`].
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CredentialRecord {
    client_id: String,
    stakeholder: String,
    label: String,
    salt_hex: String,
    secret_sha256_hex: String,
    created_unix_s: u64,
    revoked: bool,
}

impl From<Credential> for CredentialRecord {
    fn from(c: Credential) -> Self {
        CredentialRecord {
            client_id: c.client_id,
            stakeholder: c.stakeholder,
            label: c.label,
            salt_hex: hex::encode(c.salt),
            secret_sha256_hex: hex::encode(c.secret_sha256),
            created_unix_s: c.created_unix_s,
            revoked: c.revoked,
        }
    }
}

impl TryFrom<CredentialRecord> for Credential {
    type Error = CredentialsLoadError;

    fn try_from(r: CredentialRecord) -> Result<Self, Self::Error> {
        let field = |reason| CredentialsLoadError::Field {
            client_id: r.client_id.clone(),
            reason,
        };
        if !client_id_valid(&r.client_id) {
            return Err(field("client_id is not sc_ and 32 lowercase hex digits"));
        }
        if !stakeholder_valid(&r.stakeholder) {
            return Err(field("stakeholder is not 1 to 255 bytes of visible ASCII"));
        }
        if !label_valid(&r.label) {
            return Err(field("label is too long or has control characters"));
        }
        let mut salt = [0u8; SALT_BYTES];
        hex::decode_to_slice(&r.salt_hex, &mut salt)
            .map_err(|_| field("salt_hex is not 16 bytes of hex"))?;
        let mut secret_sha256 = [0u8; 32];
        hex::decode_to_slice(&r.secret_sha256_hex, &mut secret_sha256)
            .map_err(|_| field("secret_sha256_hex is not 32 bytes of hex"))?;
        Ok(Credential {
            client_id: r.client_id,
            stakeholder: r.stakeholder,
            label: r.label,
            salt,
            secret_sha256,
            created_unix_s: r.created_unix_s,
            revoked: r.revoked,
        })
    }
}

/// The JSON form of [`Credentials`].
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CredentialsRecord {
    credentials: Vec<Credential>,
}

impl From<Credentials> for CredentialsRecord {
    fn from(c: Credentials) -> Self {
        CredentialsRecord {
            credentials: c.by_client_id.into_values().collect(),
        }
    }
}

impl TryFrom<CredentialsRecord> for Credentials {
    type Error = CredentialsLoadError;

    fn try_from(r: CredentialsRecord) -> Result<Self, Self::Error> {
        if r.credentials.len() > CREDENTIALS_MAX {
            return Err(CredentialsLoadError::TooMany);
        }
        let mut by_client_id = BTreeMap::new();
        for c in r.credentials {
            if by_client_id.contains_key(&c.client_id) {
                return Err(CredentialsLoadError::Duplicate(c.client_id));
            }
            by_client_id.insert(c.client_id.clone(), c);
        }
        Ok(Credentials { by_client_id })
    }
}

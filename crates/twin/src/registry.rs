//! The stakeholder registry: organizations, their roles and their signing
//! keys, kept *in the log* so that "was this key valid for this statement" is
//! answered at the statement's log position and a later revocation never
//! changes history.
//!
//! - The log's first `stakeholder-registered` statement whose subject names
//!   its own issuer, signed by one of the keys it lists, is the **bootstrap**:
//!   its subject becomes the registry authority (the operator of the service).
//! - Only the authority registers stakeholders. A stakeholder adds and revokes
//!   its own keys (rotation), or the authority does it for it.
//! - A key is valid for a statement if it was added earlier in the log, is not
//!   revoked earlier in the log, and the statement's `iat` lies within the key's
//!   validity period (a key with a period needs statements that carry `iat`).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use scitt::PublicKey;
use serde::{Deserialize, Serialize};

use crate::model::{Role, StakeholderId};
use crate::statement::KeySpec;

/// The subject prefix of statements about stakeholders.
pub const STAKEHOLDER_PREFIX: &str = "stakeholder:";

/// Most keys one stakeholder may hold (including revoked ones).
pub const KEYS_PER_STAKEHOLDER_MAX: usize = 64;

/// The stakeholder a `stakeholder:<id>` subject names.
pub fn stakeholder_of(subject: &str) -> Option<StakeholderId> {
    let id = subject.strip_prefix(STAKEHOLDER_PREFIX)?;
    (!id.is_empty() && !id.starts_with("device:")).then(|| StakeholderId(id.to_string()))
}

/// One of a stakeholder's keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRecord {
    /// RFC 9679 thumbprint, hex: the `kid` statements carry.
    pub kid: String,
    /// `EdDSA` or `ES256`.
    pub alg: String,
    /// The key, PEM.
    pub pem: String,
    /// Validity start (unix seconds), if any.
    pub not_before: Option<i64>,
    /// Validity end (unix seconds), if any.
    pub not_after: Option<i64>,
    /// The entry that added it.
    pub added_at: u64,
    /// The entry that revoked it, if any.
    pub revoked_at: Option<u64>,
}

/// A registered organization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stakeholder {
    /// Its id (its statements' `iss`).
    pub id: StakeholderId,
    /// Display name.
    pub name: String,
    /// Organization-level roles.
    pub roles: BTreeSet<Role>,
    /// Its keys, in the order they were added.
    pub keys: Vec<KeyRecord>,
    /// The entry that registered it.
    pub registered_at: u64,
}

/// Why a key cannot be used for a statement, or a registry statement is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    /// Nobody registered this issuer.
    #[error("issuer {0:?} is not a registered stakeholder")]
    UnknownIssuer(String),
    /// The issuer has no key with this id.
    #[error("issuer {issuer:?} has no key with kid {kid}")]
    UnknownKey {
        /// The issuer.
        issuer: String,
        /// The kid, hex.
        kid: String,
    },
    /// The key was revoked before this statement.
    #[error("key {kid} of {issuer:?} was revoked by entry {entry}")]
    Revoked {
        /// The issuer.
        issuer: String,
        /// The kid, hex.
        kid: String,
        /// The revoking entry.
        entry: u64,
    },
    /// The statement's `iat` is outside the key's validity (or missing).
    #[error("key {kid} of {issuer:?} is valid from {not_before:?} to {not_after:?}; the statement's iat is {iat:?}")]
    OutsideValidity {
        /// The issuer.
        issuer: String,
        /// The kid, hex.
        kid: String,
        /// Validity start.
        not_before: Option<i64>,
        /// Validity end.
        not_after: Option<i64>,
        /// The statement's issued-at.
        iat: Option<i64>,
    },
    /// A key in a registry statement does not parse.
    #[error("key {index} does not parse: {why}")]
    BadKey {
        /// Its position in the statement.
        index: usize,
        /// The parser's message.
        why: String,
    },
    /// Registry statements need a `stakeholder:<id>` subject.
    #[error("subject {0:?} is not a stakeholder (expected stakeholder:<id>)")]
    NotAStakeholder(String),
    /// Only the authority registers stakeholders.
    #[error(
        "{issuer} may not register stakeholders: only the registry authority {authority:?} may"
    )]
    NotAuthority {
        /// Who tried.
        issuer: String,
        /// The authority, if bootstrapped.
        authority: Option<String>,
    },
    /// Registered twice.
    #[error("stakeholder {0:?} is already registered")]
    AlreadyRegistered(String),
    /// Keys of a stakeholder are managed by itself or the authority.
    #[error("{issuer} may not manage the keys of {subject}")]
    NotKeyManager {
        /// Who tried.
        issuer: String,
        /// Whose keys.
        subject: String,
    },
    /// The key is registered already.
    #[error("key {0} is already registered")]
    DuplicateKey(String),
    /// Too many keys.
    #[error("a stakeholder may hold at most {max} keys")]
    TooManyKeys {
        /// The limit.
        max: usize,
    },
    /// A registration without keys.
    #[error("a stakeholder needs at least one key")]
    NoKeys,
    /// A validity period that ends before it starts.
    #[error("key {index}: not_after {not_after} is before not_before {not_before}")]
    EmptyValidity {
        /// Its position.
        index: usize,
        /// Start.
        not_before: i64,
        /// End.
        not_after: i64,
    },
}

/// Every stakeholder and key, as of some log position.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Registry {
    authority: Option<StakeholderId>,
    stakeholders: BTreeMap<StakeholderId, Stakeholder>,
    #[serde(skip)]
    parsed: HashMap<String, PublicKey>,
}

impl Registry {
    /// The authority, once bootstrapped.
    pub fn authority(&self) -> Option<&StakeholderId> {
        self.authority.as_ref()
    }

    /// A stakeholder.
    pub fn get(&self, id: &StakeholderId) -> Option<&Stakeholder> {
        self.stakeholders.get(id)
    }

    /// Every stakeholder, by id.
    pub fn all(&self) -> impl Iterator<Item = &Stakeholder> {
        self.stakeholders.values()
    }

    /// Stakeholders holding `role` at organization level.
    pub fn with_role(&self, role: Role) -> impl Iterator<Item = &Stakeholder> {
        self.stakeholders
            .values()
            .filter(move |s| s.roles.contains(&role))
    }

    /// Whether `id` holds the organization-level `role`.
    pub fn has_role(&self, id: &StakeholderId, role: Role) -> bool {
        self.stakeholders
            .get(id)
            .is_some_and(|s| s.roles.contains(&role))
    }

    /// The public key `kid` (hex) of any stakeholder, whatever its validity:
    /// signatures can be checked with it ahead of the (ordered) validity check.
    pub fn any_key(&self, kid_hex: &str) -> Option<&PublicKey> {
        self.parsed.get(kid_hex)
    }

    /// The key `kid` of `issuer` if it may sign a statement issued at `iat`
    /// at the current log position.
    pub fn key(
        &self,
        issuer: &str,
        kid: &[u8],
        iat: Option<i64>,
    ) -> Result<&PublicKey, RegistryError> {
        let kid_hex = hex_lower(kid);
        let s = self
            .stakeholders
            .get(&StakeholderId(issuer.to_string()))
            .ok_or_else(|| RegistryError::UnknownIssuer(issuer.to_string()))?;
        let k =
            s.keys
                .iter()
                .find(|k| k.kid == kid_hex)
                .ok_or_else(|| RegistryError::UnknownKey {
                    issuer: issuer.to_string(),
                    kid: kid_hex.clone(),
                })?;
        if let Some(entry) = k.revoked_at {
            return Err(RegistryError::Revoked {
                issuer: issuer.to_string(),
                kid: kid_hex,
                entry,
            });
        }
        if k.not_before.is_some() || k.not_after.is_some() {
            let inside = iat.is_some_and(|t| {
                k.not_before.is_none_or(|nb| t >= nb) && k.not_after.is_none_or(|na| t <= na)
            });
            if !inside {
                return Err(RegistryError::OutsideValidity {
                    issuer: issuer.to_string(),
                    kid: kid_hex,
                    not_before: k.not_before,
                    not_after: k.not_after,
                    iat,
                });
            }
        }
        self.parsed.get(&kid_hex).ok_or(RegistryError::UnknownKey {
            issuer: issuer.to_string(),
            kid: kid_hex,
        })
    }

    /// Whether a statement by `issuer` about `subject` would bootstrap the
    /// registry (it is empty, and the statement registers its own issuer).
    pub fn is_bootstrap(&self, issuer: &str, subject: &str) -> bool {
        self.authority.is_none() && stakeholder_of(subject).is_some_and(|s| s.0 == issuer)
    }

    /// Parses keys of a registry statement.
    pub fn parse_keys(keys: &[KeySpec]) -> Result<Vec<(PublicKey, &KeySpec)>, RegistryError> {
        keys.iter()
            .enumerate()
            .map(|(index, k)| {
                if let (Some(nb), Some(na)) = (k.not_before, k.not_after) {
                    if na < nb {
                        return Err(RegistryError::EmptyValidity {
                            index,
                            not_before: nb,
                            not_after: na,
                        });
                    }
                }
                PublicKey::from_pem(&k.pem)
                    .map(|p| (p, k))
                    .map_err(|e| RegistryError::BadKey {
                        index,
                        why: e.to_string(),
                    })
            })
            .collect()
    }

    /// Checks a `stakeholder-registered` statement.
    pub fn check_register(
        &self,
        issuer: &str,
        subject: &str,
        keys: &[KeySpec],
    ) -> Result<StakeholderId, RegistryError> {
        let id = stakeholder_of(subject)
            .ok_or_else(|| RegistryError::NotAStakeholder(subject.to_string()))?;
        match &self.authority {
            None if id.0 == issuer => {}
            Some(a) if a.0 == issuer => {}
            authority => {
                return Err(RegistryError::NotAuthority {
                    issuer: issuer.to_string(),
                    authority: authority.as_ref().map(|a| a.0.clone()),
                })
            }
        }
        if self.stakeholders.contains_key(&id) {
            return Err(RegistryError::AlreadyRegistered(id.0));
        }
        if keys.is_empty() {
            return Err(RegistryError::NoKeys);
        }
        if keys.len() > KEYS_PER_STAKEHOLDER_MAX {
            return Err(RegistryError::TooManyKeys {
                max: KEYS_PER_STAKEHOLDER_MAX,
            });
        }
        for (key, _) in Self::parse_keys(keys)? {
            let kid = hex_lower(&key.thumbprint());
            if self.parsed.contains_key(&kid) {
                return Err(RegistryError::DuplicateKey(kid));
            }
        }
        Ok(id)
    }

    /// Applies a checked `stakeholder-registered` statement.
    pub fn register(
        &mut self,
        entry: u64,
        id: StakeholderId,
        name: &str,
        roles: &[Role],
        keys: &[KeySpec],
    ) {
        if self.authority.is_none() {
            self.authority = Some(id.clone());
        }
        let mut records = Vec::new();
        for (key, spec) in Self::parse_keys(keys).unwrap_or_default() {
            records.push(self.record(entry, key, spec));
        }
        self.stakeholders.insert(
            id.clone(),
            Stakeholder {
                id,
                name: name.to_string(),
                roles: roles.iter().copied().collect(),
                keys: records,
                registered_at: entry,
            },
        );
    }

    fn record(&mut self, entry: u64, key: PublicKey, spec: &KeySpec) -> KeyRecord {
        let kid = hex_lower(&key.thumbprint());
        let rec = KeyRecord {
            kid: kid.clone(),
            alg: key.algorithm().name().to_string(),
            pem: key.to_pem(),
            not_before: spec.not_before,
            not_after: spec.not_after,
            added_at: entry,
            revoked_at: None,
        };
        self.parsed.insert(kid, key);
        rec
    }

    fn check_manager(&self, issuer: &str, subject: &str) -> Result<StakeholderId, RegistryError> {
        let id = stakeholder_of(subject)
            .ok_or_else(|| RegistryError::NotAStakeholder(subject.to_string()))?;
        if !self.stakeholders.contains_key(&id) {
            return Err(RegistryError::UnknownIssuer(id.0));
        }
        let is_authority = self.authority.as_ref().is_some_and(|a| a.0 == issuer);
        if id.0 != issuer && !is_authority {
            return Err(RegistryError::NotKeyManager {
                issuer: issuer.to_string(),
                subject: subject.to_string(),
            });
        }
        Ok(id)
    }

    /// Checks a `key-added` statement.
    pub fn check_add_key(
        &self,
        issuer: &str,
        subject: &str,
        key: &KeySpec,
    ) -> Result<StakeholderId, RegistryError> {
        let id = self.check_manager(issuer, subject)?;
        let parsed = Self::parse_keys(std::slice::from_ref(key))?;
        let Some((public, _)) = parsed.first() else {
            return Err(RegistryError::BadKey {
                index: 0,
                why: "no key".into(),
            });
        };
        let kid = hex_lower(&public.thumbprint());
        if self.parsed.contains_key(&kid) {
            return Err(RegistryError::DuplicateKey(kid));
        }
        let keys = self.stakeholders.get(&id).map_or(0, |s| s.keys.len());
        if keys >= KEYS_PER_STAKEHOLDER_MAX {
            return Err(RegistryError::TooManyKeys {
                max: KEYS_PER_STAKEHOLDER_MAX,
            });
        }
        Ok(id)
    }

    /// Applies a checked `key-added` statement.
    pub fn add_key(&mut self, entry: u64, id: &StakeholderId, key: &KeySpec) {
        let Ok(mut parsed) = Self::parse_keys(std::slice::from_ref(key)) else {
            return;
        };
        let (public, spec) = parsed.remove(0);
        let rec = self.record(entry, public, spec);
        if let Some(s) = self.stakeholders.get_mut(id) {
            s.keys.push(rec);
        }
    }

    /// Checks a `key-revoked` statement.
    pub fn check_revoke(
        &self,
        issuer: &str,
        subject: &str,
        kid_hex: &str,
    ) -> Result<StakeholderId, RegistryError> {
        let id = self.check_manager(issuer, subject)?;
        let Some(s) = self.stakeholders.get(&id) else {
            return Err(RegistryError::UnknownIssuer(id.0.clone()));
        };
        match s
            .keys
            .iter()
            .find(|k| k.kid == kid_hex.to_ascii_lowercase())
        {
            None => Err(RegistryError::UnknownKey {
                issuer: id.0.clone(),
                kid: kid_hex.to_string(),
            }),
            Some(k) if k.revoked_at.is_some() => Err(RegistryError::Revoked {
                issuer: id.0.clone(),
                kid: k.kid.clone(),
                entry: k.revoked_at.unwrap_or_default(),
            }),
            Some(_) => Ok(id),
        }
    }

    /// Applies a checked `key-revoked` statement.
    pub fn revoke(&mut self, entry: u64, id: &StakeholderId, kid_hex: &str) {
        let kid = kid_hex.to_ascii_lowercase();
        if let Some(s) = self.stakeholders.get_mut(id) {
            for k in s.keys.iter_mut().filter(|k| k.kid == kid) {
                k.revoked_at.get_or_insert(entry);
            }
        }
    }

    /// Rebuilds the parsed-key cache after deserializing.
    pub fn reparse(&mut self) {
        self.parsed.clear();
        for s in self.stakeholders.values() {
            for k in &s.keys {
                if let Ok(p) = PublicKey::from_pem(&k.pem) {
                    self.parsed.insert(k.kid.clone(), p);
                }
            }
        }
    }
}

/// Lower-case hex, as kids are shown.
pub fn hex_lower(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

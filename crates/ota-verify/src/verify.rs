//! The check itself: [`verify`].

use alloc::borrow::ToOwned;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::cmp::Ordering;

use scitt::{PublicKey, SignedStatement};
use serde::Deserialize;
use sha2::{Digest, Sha256, Sha512};
use tlog::{
    leaf_hash, verify_consistency, verify_inclusion, Checkpoint, LeafIndex, Note, Policy,
    PolicyError, TlogProof,
};

use crate::bundle::{Bundle, BundleError, ProvenStatement};
use crate::manifest::{hex_exact, Manifest};
use crate::state::{KeyOwner, TrustState, TrustedKey};
use crate::version::compare_versions;

/// The image as the device measured it (hash it with [`digest_image`], or
/// stream it through SHA-256 and SHA-512 as it arrives).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageDigests {
    /// Its length in bytes.
    pub length: u64,
    /// Its SHA-256.
    pub sha256: [u8; 32],
    /// Its SHA-512, if the device computed it (checked when the manifest names one).
    pub sha512: Option<[u8; 64]>,
}

/// Hashes a whole image held in memory (SHA-256 and SHA-512).
pub fn digest_image(image: &[u8]) -> ImageDigests {
    ImageDigests {
        length: image.len() as u64,
        sha256: Sha256::digest(image).into(),
        sha512: Some(Sha512::digest(image).into()),
    }
}

/// What the device knows besides its state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// The current time (unix seconds) if the device has a trusted clock: a
    /// checkpoint whose newest witness cosignature is older than
    /// `checkpoint_age_max_secs` is refused as a frozen log.
    pub now_unix_secs: Option<u64>,
    /// How old the bundle's checkpoint may be, with a trusted clock.
    pub checkpoint_age_max_secs: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            now_unix_secs: None,
            checkpoint_age_max_secs: 7 * 24 * 3600,
        }
    }
}

/// An accepted image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// The state to persist (only after the image is installed).
    pub state: TrustState,
    /// The new version.
    pub version: String,
    /// The new release counter.
    pub release_counter: u64,
    /// The manifest's log entry.
    pub manifest_entry: u64,
    /// The bundle's checkpoint size.
    pub checkpoint_size: u64,
    /// How many key events were applied.
    pub key_events: usize,
}

/// Why an image was refused: the first check that failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The persisted trust state cannot be read.
    #[error("the device's trust state is unusable: {0}")]
    State(String),
    /// The bundle cannot be read.
    #[error("the bundle is malformed: {0}")]
    Bundle(#[from] BundleError),
    /// A tlog-proof in the bundle cannot be read.
    #[error("the tlog-proof of {what} is malformed: {why}")]
    Proof {
        /// Which statement's.
        what: &'static str,
        /// The parser's reason.
        why: String,
    },
    /// The checkpoint is not signed by the log of the device's policy.
    #[error("the bundle's checkpoint is not signed by the log the device trusts: {0}")]
    CheckpointNotSigned(String),
    /// The checkpoint lacks the witness quorum of the device's policy.
    #[error("the bundle's checkpoint is not cosigned by the witness quorum the device's policy requires")]
    QuorumNotMet,
    /// The checkpoint is older than the one the device accepted.
    #[error("stale checkpoint: the bundle's log has {offered} entries, the device already accepted {accepted}")]
    StaleCheckpoint {
        /// The device's checkpoint size.
        accepted: u64,
        /// The bundle's.
        offered: u64,
    },
    /// The checkpoint is not consistent with the one the device accepted.
    #[error("forked log: the bundle's checkpoint (size {offered}) is not consistent with the device's (size {accepted})")]
    Forked {
        /// The device's checkpoint size.
        accepted: u64,
        /// The bundle's.
        offered: u64,
    },
    /// With a trusted clock: no witness cosigned the checkpoint recently.
    #[error(
        "frozen log: the newest witness cosignature is {age_secs} s old (at most {max_secs} s)"
    )]
    Frozen {
        /// Age of the newest cosignature.
        age_secs: u64,
        /// The allowed age.
        max_secs: u64,
    },
    /// A key event's proof is under another checkpoint than the manifest's.
    #[error("mix-and-match: key event at entry {entry} is proven under another checkpoint than the manifest")]
    MixedCheckpoints {
        /// The key event's entry.
        entry: u64,
    },
    /// An inclusion proof does not bind the statement to the checkpoint.
    #[error("{what} at entry {entry} is not included in the log under the bundle's checkpoint")]
    NotIncluded {
        /// Which statement.
        what: &'static str,
        /// Its claimed entry.
        entry: u64,
    },
    /// The statement is not a usable release manifest.
    #[error("not a release manifest: {0}")]
    NotAManifest(String),
    /// The manifest is by someone else than the device's manufacturer.
    #[error("the manifest is issued by {got:?}, not the device's manufacturer {expected:?}")]
    OtherIssuer {
        /// The device's manufacturer.
        expected: String,
        /// The manifest's issuer.
        got: String,
    },
    /// The manifest is for another model (mix-and-match).
    #[error("mix-and-match: the manifest is for {got:?}, the device is {expected:?}")]
    OtherModel {
        /// The device's model subject.
        expected: String,
        /// The manifest's subject.
        got: String,
    },
    /// The signing key was never registered to the signer.
    #[error("{what} at entry {entry} is signed with key {kid}, which {owner:?} never registered")]
    UnregisteredKey {
        /// Which statement.
        what: &'static str,
        /// Its entry.
        entry: u64,
        /// The key id, hex.
        kid: String,
        /// The signer.
        owner: String,
    },
    /// The signing key was revoked at or before the statement's entry.
    #[error("{what} at entry {entry} is signed with key {kid}, revoked at entry {revoked}")]
    RevokedKey {
        /// Which statement.
        what: &'static str,
        /// Its entry.
        entry: u64,
        /// The key id, hex.
        kid: String,
        /// Where it was revoked.
        revoked: u64,
    },
    /// The signing key was registered only after the statement's entry, or
    /// the statement's time is outside the key's validity.
    #[error("{what} at entry {entry} is signed with key {kid}, not valid there: {why}")]
    KeyNotValid {
        /// Which statement.
        what: &'static str,
        /// Its entry.
        entry: u64,
        /// The key id, hex.
        kid: String,
        /// Why.
        why: String,
    },
    /// The signature does not verify.
    #[error("the signature of {what} at entry {entry} does not verify")]
    BadSignature {
        /// Which statement.
        what: &'static str,
        /// Its entry.
        entry: u64,
    },
    /// A key event is not one the device can apply.
    #[error("key event at entry {entry}: {why}")]
    KeyEvent {
        /// Its entry.
        entry: u64,
        /// Why.
        why: String,
    },
    /// The image is not the one the manifest names.
    #[error("wrong image: its {what} does not match the manifest's")]
    WrongImage {
        /// `length`, `SHA-256` or `SHA-512`.
        what: &'static str,
    },
    /// The manifest is not for this device's hardware.
    #[error("the image is not for this hardware: {hardware_id:?} is not among the manifest's hardware ids")]
    OtherHardware {
        /// The device's hardware id.
        hardware_id: String,
    },
    /// The release counter goes backwards.
    #[error("rollback: release counter {offered} is below the device's {current}")]
    Rollback {
        /// The device's counter.
        current: u64,
        /// The manifest's.
        offered: u64,
    },
    /// The version is below the minimum a release set.
    #[error("version {offered} is below the minimum version {minimum}")]
    BelowMinimum {
        /// The minimum.
        minimum: String,
        /// The manifest's version.
        offered: String,
    },
}

impl Refusal {
    /// A stable number per check, for a device's logs and the C ABI (> 0).
    pub fn code(&self) -> u32 {
        match self {
            Refusal::State(_) => 1,
            Refusal::Bundle(_) => 2,
            Refusal::Proof { .. } => 3,
            Refusal::CheckpointNotSigned(_) => 4,
            Refusal::QuorumNotMet => 5,
            Refusal::StaleCheckpoint { .. } => 6,
            Refusal::Forked { .. } => 7,
            Refusal::Frozen { .. } => 8,
            Refusal::MixedCheckpoints { .. } => 9,
            Refusal::NotIncluded { .. } => 10,
            Refusal::NotAManifest(_) => 11,
            Refusal::OtherIssuer { .. } => 12,
            Refusal::OtherModel { .. } => 13,
            Refusal::UnregisteredKey { .. } => 14,
            Refusal::RevokedKey { .. } => 15,
            Refusal::KeyNotValid { .. } => 16,
            Refusal::BadSignature { .. } => 17,
            Refusal::KeyEvent { .. } => 18,
            Refusal::WrongImage { .. } => 19,
            Refusal::OtherHardware { .. } => 20,
            Refusal::Rollback { .. } => 21,
            Refusal::BelowMinimum { .. } => 22,
        }
    }
}

/// Checks `image` against `bundle` under the device's `state`.
pub fn verify(
    image: &ImageDigests,
    bundle: &[u8],
    state: &TrustState,
    options: &Options,
) -> Result<Accepted, Refusal> {
    let policy =
        Policy::parse(&state.policy).map_err(|e| Refusal::State(format!("policy: {e}")))?;
    let old = parse_checkpoint(&state.checkpoint)
        .map_err(|e| Refusal::State(format!("checkpoint: {e}")))?;
    let bundle = Bundle::parse(bundle)?;
    let manifest_proof = parse_proof(&bundle.manifest, "the manifest")?;

    // The checkpoint: log signature, witness quorum, then consistency.
    let verified = policy
        .verify_checkpoint(&manifest_proof.checkpoint)
        .map_err(|e| match e {
            PolicyError::QuorumNotMet => Refusal::QuorumNotMet,
            e => Refusal::CheckpointNotSigned(e.to_string()),
        })?;
    let new = verified.checkpoint();
    check_consistency(&old, new, &bundle)?;
    if let Some(now) = options.now_unix_secs {
        let newest = verified
            .cosigners()
            .iter()
            .map(|(_, t)| *t)
            .max()
            .unwrap_or(0);
        let age_secs = now.saturating_sub(newest);
        if age_secs > options.checkpoint_age_max_secs {
            return Err(Refusal::Frozen {
                age_secs,
                max_secs: options.checkpoint_age_max_secs,
            });
        }
    }

    // Key events since the device's checkpoint, in log order.
    let mut keys = state.keys.clone();
    let mut last = None;
    for event in &bundle.key_events {
        let proof = parse_proof(event, "a key event")?;
        let entry = proof.index.get();
        if proof.checkpoint != manifest_proof.checkpoint {
            return Err(Refusal::MixedCheckpoints { entry });
        }
        if entry < old.size().get() || last.is_some_and(|l| entry <= l) {
            return Err(Refusal::KeyEvent {
                entry,
                why: format!(
                    "not after the device's checkpoint (size {}) and the previous event, in log order",
                    old.size().get()
                ),
            });
        }
        last = Some(entry);
        let bytes = event.statement_bytes()?;
        check_included(&bytes, &proof, new, "a key event")?;
        apply_key_event(state, &mut keys, &bytes, entry)?;
    }

    // The manifest.
    let entry = manifest_proof.index.get();
    let bytes = bundle.manifest.statement_bytes()?;
    check_included(&bytes, &manifest_proof, new, "the manifest")?;
    let statement = SignedStatement::parse(&bytes)
        .map_err(|e| Refusal::NotAManifest(format!("not a signed statement: {e}")))?;
    if statement.issuer() != state.manufacturer {
        return Err(Refusal::OtherIssuer {
            expected: state.manufacturer.clone(),
            got: statement.issuer().to_owned(),
        });
    }
    if statement.subject() != state.model {
        return Err(Refusal::OtherModel {
            expected: state.model.clone(),
            got: statement.subject().to_owned(),
        });
    }
    let key = signing_key(
        &keys,
        &[KeyOwner::Manufacturer],
        &state.manufacturer,
        &statement,
        entry,
        "the manifest",
    )?;
    statement.verify(&key).map_err(|_| Refusal::BadSignature {
        what: "the manifest",
        entry,
    })?;
    let payload = statement
        .payload()
        .ok_or_else(|| Refusal::NotAManifest("the payload is detached".into()))?;
    let m = Manifest::parse(payload).map_err(|e| Refusal::NotAManifest(format!("payload: {e}")))?;
    if m.kind != "firmware-released" {
        return Err(Refusal::NotAManifest(format!(
            "a {:?} statement, not firmware-released",
            m.kind
        )));
    }
    let (Some(length), Some(counter)) = (m.image_length, m.release_counter) else {
        return Err(Refusal::NotAManifest(
            "the release names no image_length or release_counter".into(),
        ));
    };

    // The image and the device.
    if length != image.length {
        return Err(Refusal::WrongImage { what: "length" });
    }
    let sha256 = hex_exact::<32>(&m.image_sha256)
        .ok_or_else(|| Refusal::NotAManifest("image_sha256 is not a SHA-256".into()))?;
    if sha256 != image.sha256 {
        return Err(Refusal::WrongImage { what: "SHA-256" });
    }
    if let (Some(want), Some(got)) = (&m.image_sha512, &image.sha512) {
        let want = hex_exact::<64>(want)
            .ok_or_else(|| Refusal::NotAManifest("image_sha512 is not a SHA-512".into()))?;
        if &want != got {
            return Err(Refusal::WrongImage { what: "SHA-512" });
        }
    }
    if !m.hardware_ids.contains(&state.hardware_id) {
        return Err(Refusal::OtherHardware {
            hardware_id: state.hardware_id.clone(),
        });
    }
    if counter < state.release_counter {
        return Err(Refusal::Rollback {
            current: state.release_counter,
            offered: counter,
        });
    }
    let below = |minimum: &str| -> Result<bool, Refusal> {
        compare_versions(&m.version, minimum)
            .map(|o| o == Ordering::Less)
            .map_err(|e| Refusal::NotAManifest(e.to_string()))
    };
    if let Some(minimum) = &state.min_version {
        if below(minimum)? {
            return Err(Refusal::BelowMinimum {
                minimum: minimum.clone(),
                offered: m.version.clone(),
            });
        }
    }
    // The floor only rises: the higher of the device's and the manifest's.
    let min_version = match (&state.min_version, &m.min_version) {
        (Some(a), Some(b)) if compare_versions(a, b) == Ok(Ordering::Less) => Some(b.clone()),
        (a, b) => a.clone().or_else(|| b.clone()),
    };

    let mut next = state.clone();
    next.keys = keys;
    next.checkpoint = String::from_utf8_lossy(&manifest_proof.checkpoint).into_owned();
    next.release_counter = counter;
    next.version = m.version.clone();
    next.min_version = min_version;
    next.manifest_entry = Some(entry);
    Ok(Accepted {
        state: next,
        version: m.version,
        release_counter: counter,
        manifest_entry: entry,
        checkpoint_size: new.size().get(),
        key_events: bundle.key_events.len(),
    })
}

impl ProvenStatement {
    /// Checks the entry on its own: its checkpoint satisfies `policy` (log
    /// signature, witness quorum) and includes the statement at its index.
    /// Answers the index and the statement's bytes.
    pub fn verify(&self, policy: &Policy) -> Result<(u64, Vec<u8>), Refusal> {
        let proof = parse_proof(self, "the statement")?;
        let verified = policy
            .verify_checkpoint(&proof.checkpoint)
            .map_err(|e| match e {
                PolicyError::QuorumNotMet => Refusal::QuorumNotMet,
                e => Refusal::CheckpointNotSigned(e.to_string()),
            })?;
        let bytes = self.statement_bytes()?;
        check_included(&bytes, &proof, verified.checkpoint(), "the statement")?;
        Ok((proof.index.get(), bytes))
    }
}

fn parse_checkpoint(text: &str) -> Result<Checkpoint, String> {
    let note = Note::parse(text.as_bytes()).map_err(|e| e.to_string())?;
    Checkpoint::parse_text(note.text()).map_err(|e| e.to_string())
}

fn parse_proof(p: &ProvenStatement, what: &'static str) -> Result<TlogProof, Refusal> {
    TlogProof::parse(p.proof.as_bytes()).map_err(|e| Refusal::Proof {
        what,
        why: e.to_string(),
    })
}

fn check_consistency(old: &Checkpoint, new: &Checkpoint, bundle: &Bundle) -> Result<(), Refusal> {
    let (accepted, offered) = (old.size().get(), new.size().get());
    if old.origin() != new.origin() {
        return Err(Refusal::CheckpointNotSigned(format!(
            "origin {:?}, the device's log is {:?}",
            new.origin(),
            old.origin()
        )));
    }
    if offered < accepted {
        return Err(Refusal::StaleCheckpoint { accepted, offered });
    }
    if bundle.consistency.from != accepted {
        return Err(Refusal::Bundle(BundleError::OtherState {
            from: bundle.consistency.from,
            size: accepted,
        }));
    }
    let forked = Refusal::Forked { accepted, offered };
    if offered == accepted || accepted == 0 {
        return if offered != accepted || old.root() == new.root() {
            Ok(())
        } else {
            Err(forked)
        };
    }
    let hashes = bundle.consistency_hashes()?;
    verify_consistency(old.size(), new.size(), &old.root(), &new.root(), &hashes)
        .map_err(|_| forked)
}

fn check_included(
    bytes: &[u8],
    proof: &TlogProof,
    checkpoint: &Checkpoint,
    what: &'static str,
) -> Result<(), Refusal> {
    let entry = proof.index.get();
    verify_inclusion(
        &leaf_hash(bytes),
        LeafIndex::new(entry),
        checkpoint.size(),
        &proof.proof,
        &checkpoint.root(),
    )
    .map_err(|_| Refusal::NotIncluded { what, entry })
}

/// The key of `signer` (one of `owners`) that signed `statement`, if it may
/// sign at `entry`.
fn signing_key(
    keys: &[TrustedKey],
    owners: &[KeyOwner],
    signer: &str,
    statement: &SignedStatement,
    entry: u64,
    what: &'static str,
) -> Result<PublicKey, Refusal> {
    let kid = hex::encode(statement.key_id());
    let Some(k) = keys
        .iter()
        .find(|k| owners.contains(&k.owner) && k.kid.eq_ignore_ascii_case(&kid))
    else {
        return Err(Refusal::UnregisteredKey {
            what,
            entry,
            kid,
            owner: signer.to_owned(),
        });
    };
    if let Some(revoked) = k.revoked.filter(|r| *r <= entry) {
        return Err(Refusal::RevokedKey {
            what,
            entry,
            kid,
            revoked,
        });
    }
    let not_valid = |why: String| Refusal::KeyNotValid {
        what,
        entry,
        kid: kid.clone(),
        why,
    };
    if k.added >= entry {
        return Err(not_valid(format!("it was registered at entry {}", k.added)));
    }
    if k.not_before.is_some() || k.not_after.is_some() {
        let iat = statement.issued_at();
        let inside = iat.is_some_and(|t| {
            k.not_before.is_none_or(|nb| t >= nb) && k.not_after.is_none_or(|na| t <= na)
        });
        if !inside {
            return Err(not_valid(format!(
                "issued at {iat:?}, valid from {:?} to {:?}",
                k.not_before, k.not_after
            )));
        }
    }
    let public =
        PublicKey::from_pem(&k.pem).map_err(|e| Refusal::State(format!("key {}: {e}", k.kid)))?;
    if !hex::encode(public.thumbprint()).eq_ignore_ascii_case(&k.kid) {
        return Err(Refusal::State(format!(
            "key {}: its PEM has another thumbprint",
            k.kid
        )));
    }
    Ok(public)
}

#[derive(Deserialize)]
struct KeySpec {
    pem: String,
    #[serde(default)]
    not_before: Option<i64>,
    #[serde(default)]
    not_after: Option<i64>,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
enum KeyEvent {
    KeyAdded { key: KeySpec },
    KeyRevoked { kid: String },
}

/// Applies a `key-added` or `key-revoked` statement about the manufacturer or
/// the authority, signed by a key that may manage it (its own, or the
/// authority's for the manufacturer), as the registry does.
fn apply_key_event(
    state: &TrustState,
    keys: &mut Vec<TrustedKey>,
    bytes: &[u8],
    entry: u64,
) -> Result<(), Refusal> {
    let bad = |why: String| Refusal::KeyEvent { entry, why };
    let statement =
        SignedStatement::parse(bytes).map_err(|e| bad(format!("not a signed statement: {e}")))?;
    let about = statement
        .subject()
        .strip_prefix("stakeholder:")
        .ok_or_else(|| {
            bad(format!(
                "subject {:?} is not a stakeholder",
                statement.subject()
            ))
        })?;
    let authority = state.authority.as_deref();
    let owner = if about == state.manufacturer {
        KeyOwner::Manufacturer
    } else if Some(about) == authority {
        KeyOwner::Authority
    } else {
        return Err(bad(format!(
            "about {about:?}, neither the manufacturer nor the authority"
        )));
    };
    let issuer = statement.issuer();
    let signer_owners: &[KeyOwner] = if issuer == about {
        match owner {
            KeyOwner::Manufacturer => &[KeyOwner::Manufacturer],
            KeyOwner::Authority => &[KeyOwner::Authority],
        }
    } else if Some(issuer) == authority {
        &[KeyOwner::Authority]
    } else {
        return Err(bad(format!(
            "issued by {issuer:?}, who may not manage {about:?}'s keys"
        )));
    };
    let key = signing_key(
        keys,
        signer_owners,
        issuer,
        &statement,
        entry,
        "a key event",
    )?;
    statement.verify(&key).map_err(|_| Refusal::BadSignature {
        what: "a key event",
        entry,
    })?;
    let payload = statement
        .payload()
        .ok_or_else(|| bad("the payload is detached".into()))?;
    let event: KeyEvent = serde_json::from_slice(payload)
        .map_err(|e| bad(format!("not a key-added or key-revoked payload: {e}")))?;
    match event {
        KeyEvent::KeyAdded { key } => {
            if keys.len() >= crate::TRUSTED_KEYS_MAX {
                return Err(bad(format!("more than {} keys", crate::TRUSTED_KEYS_MAX)));
            }
            let public = PublicKey::from_pem(&key.pem).map_err(|e| bad(format!("the key: {e}")))?;
            let kid = hex::encode(public.thumbprint());
            if keys.iter().any(|k| k.kid == kid) {
                return Err(bad(format!("key {kid} is already registered")));
            }
            keys.push(TrustedKey {
                owner,
                kid,
                pem: key.pem,
                added: entry,
                revoked: None,
                not_before: key.not_before,
                not_after: key.not_after,
            });
        }
        KeyEvent::KeyRevoked { kid } => {
            let k = keys
                .iter_mut()
                .find(|k| k.owner == owner && k.kid.eq_ignore_ascii_case(&kid))
                .ok_or_else(|| bad(format!("revokes key {kid}, which {about:?} does not hold")))?;
            k.revoked.get_or_insert(entry);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_a_known_image() {
        let d = digest_image(b"abc");
        assert_eq!(d.length, 3);
        assert_eq!(
            hex::encode(d.sha256),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}

//! C2SP tlog-policy: the policy file format (logs, witnesses, groups with
//! k-of-n thresholds, one quorum), a programmatic [`PolicyBuilder`], and
//! verification of a signed checkpoint against a policy (signed by one of the
//! logs and cosigned by a quorum of witnesses).
//!
//! This module deliberately does not contact logs or witnesses (URLs are
//! carried but never used), does not judge cosignature timestamps, and treats
//! names as opaque strings (non-UTF-8 policy files are rejected, a documented
//! narrowing of the spec's "opaque octets").

use crate::checkpoint::{Checkpoint, CheckpointError};
use crate::cosignature::verify_cosignature;
use crate::note::{verify_note, KeyType, Note, NoteError, Verifier};
#[allow(unused_imports)]
use crate::prelude::*;

/// Largest policy file accepted, in bytes.
pub const POLICY_BYTES_MAX: usize = 64 * 1024;
/// Most logs in a policy (the spec recommends supporting at least 32).
pub const POLICY_LOGS_MAX: usize = 256;
/// Most witnesses in a policy (the spec recommends supporting at least 32).
pub const POLICY_WITNESSES_MAX: usize = 256;
/// Most groups in a policy (the spec recommends supporting at least 32).
pub const POLICY_GROUPS_MAX: usize = 256;

const NONE: &str = "none";

/// Errors building, parsing or applying a policy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// A parse error, with the 1-based line number it occurred on.
    #[error("policy line {line}: {error}")]
    Line {
        /// 1-based line number.
        line: usize,
        /// The error on that line.
        error: Box<PolicyError>,
    },
    /// The policy file is larger than [`POLICY_BYTES_MAX`].
    #[error("policy is larger than {POLICY_BYTES_MAX} bytes")]
    TooLarge,
    /// The policy is not valid UTF-8.
    #[error("policy is not valid UTF-8")]
    NotUtf8,
    /// A byte outside tab, newline, 0x20-0x7E and 0x80-0xFF.
    #[error("policy contains a forbidden character")]
    BadCharacter,
    /// The first word of a line is not `log`, `witness`, `group` or `quorum`.
    #[error("unknown policy keyword {0:?}")]
    UnknownKeyword(String),
    /// A line has too few or too many words.
    #[error("wrong number of arguments")]
    WrongArgCount,
    /// A vkey does not parse.
    #[error("bad vkey: {0}")]
    BadVkey(NoteError),
    /// A log key is not type 0x01 or a witness key is not type 0x04.
    #[error("key has the wrong signature type for its role")]
    WrongKeyType,
    /// Two logs wrap the same public key.
    #[error("duplicate log key")]
    DuplicateLog,
    /// Two witnesses wrap the same public key.
    #[error("duplicate witness key")]
    DuplicateWitness,
    /// A witness or group name is already defined (or is `none`).
    #[error("name {0:?} is already defined")]
    DuplicateName(String),
    /// A name is referenced before it is defined.
    #[error("name {0:?} is not defined")]
    UnknownName(String),
    /// `none` used as a group member.
    #[error("\"none\" cannot be a group member")]
    NoneAsMember,
    /// A name is listed as a group member more than once (in any group).
    #[error("name {0:?} is already a group member")]
    MemberReused(String),
    /// A group has no members.
    #[error("group has no members")]
    EmptyGroup,
    /// The threshold is not `all`, `any` or a canonical decimal.
    #[error("bad group threshold")]
    BadThreshold,
    /// The threshold is not in 1..=n.
    #[error("group threshold {k} out of range for {n} members")]
    ThresholdOutOfRange {
        /// Threshold.
        k: usize,
        /// Members.
        n: usize,
    },
    /// More than one quorum line.
    #[error("more than one quorum line")]
    DuplicateQuorum,
    /// No quorum line.
    #[error("policy has no quorum line")]
    MissingQuorum,
    /// Too many logs, witnesses or groups.
    #[error("policy exceeds implementation limits")]
    TooMany,
    /// The checkpoint note is malformed, or a known key's signature is invalid.
    #[error("checkpoint note: {0}")]
    Note(NoteError),
    /// The checkpoint text is malformed.
    #[error("checkpoint: {0}")]
    Checkpoint(CheckpointError),
    /// No signature from a log in the policy verified.
    #[error("checkpoint is not signed by a known log")]
    UnknownLog,
    /// The checkpoint origin does not match the name of the log that signed it.
    #[error("checkpoint origin does not match the log key name")]
    OriginMismatch,
    /// Not enough witnesses cosigned.
    #[error("witness quorum not met")]
    QuorumNotMet,
}

impl PolicyError {
    /// The error without its line-number wrapper.
    pub fn kind(&self) -> &PolicyError {
        match self {
            PolicyError::Line { error, .. } => error.kind(),
            other => other,
        }
    }
}

/// A group threshold.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Threshold {
    /// Every member.
    All,
    /// At least one member.
    Any,
    /// At least k members (1 <= k <= n).
    AtLeast(usize),
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Member {
    Witness(usize),
    Group(usize),
}

#[derive(Clone, PartialEq, Eq, Debug)]
struct Group {
    name: String,
    k: usize,
    members: Vec<Member>,
}

#[derive(Clone, PartialEq, Eq, Debug)]
struct Witness {
    name: String,
    verifier: Verifier,
    url: Option<String>,
}

#[derive(Clone, PartialEq, Eq, Debug)]
struct Log {
    verifier: Verifier,
    url: Option<String>,
}

/// Builds a [`Policy`] programmatically, enforcing the same rules as the
/// file parser.
#[derive(Clone, Debug, Default)]
pub struct PolicyBuilder {
    logs: Vec<Log>,
    witnesses: Vec<Witness>,
    groups: Vec<Group>,
    used_as_member: Vec<String>,
    quorum: Option<Option<Member>>,
}

impl PolicyBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        PolicyBuilder::default()
    }

    fn name_defined(&self, name: &str) -> bool {
        name == NONE
            || self.witnesses.iter().any(|w| w.name == name)
            || self.groups.iter().any(|g| g.name == name)
    }

    fn lookup(&self, name: &str) -> Option<Member> {
        if let Some(i) = self.witnesses.iter().position(|w| w.name == name) {
            return Some(Member::Witness(i));
        }
        self.groups
            .iter()
            .position(|g| g.name == name)
            .map(Member::Group)
    }

    /// Adds a log (an Ed25519 type 0x01 key whose name is the log origin).
    pub fn add_log(&mut self, verifier: Verifier, url: Option<String>) -> Result<(), PolicyError> {
        if verifier.key_type() != KeyType::Ed25519 {
            return Err(PolicyError::WrongKeyType);
        }
        if self
            .logs
            .iter()
            .any(|l| l.verifier.public_key() == verifier.public_key())
        {
            return Err(PolicyError::DuplicateLog);
        }
        if self.logs.len() >= POLICY_LOGS_MAX {
            return Err(PolicyError::TooMany);
        }
        self.logs.push(Log { verifier, url });
        Ok(())
    }

    /// Adds a named witness (a type 0x04 cosignature key).
    pub fn add_witness(
        &mut self,
        name: &str,
        verifier: Verifier,
        url: Option<String>,
    ) -> Result<(), PolicyError> {
        if verifier.key_type() != KeyType::CosignatureV1 {
            return Err(PolicyError::WrongKeyType);
        }
        if self.name_defined(name) {
            return Err(PolicyError::DuplicateName(name.to_owned()));
        }
        if self
            .witnesses
            .iter()
            .any(|w| w.verifier.public_key() == verifier.public_key())
        {
            return Err(PolicyError::DuplicateWitness);
        }
        if self.witnesses.len() >= POLICY_WITNESSES_MAX {
            return Err(PolicyError::TooMany);
        }
        self.witnesses.push(Witness {
            name: name.to_owned(),
            verifier,
            url,
        });
        Ok(())
    }

    /// Adds a group of previously defined witnesses/groups.
    pub fn add_group(
        &mut self,
        name: &str,
        threshold: Threshold,
        members: &[&str],
    ) -> Result<(), PolicyError> {
        if self.name_defined(name) {
            return Err(PolicyError::DuplicateName(name.to_owned()));
        }
        if members.is_empty() {
            return Err(PolicyError::EmptyGroup);
        }
        if self.groups.len() >= POLICY_GROUPS_MAX {
            return Err(PolicyError::TooMany);
        }
        let mut resolved = Vec::with_capacity(members.len());
        let mut used = Vec::with_capacity(members.len());
        for m in members {
            if *m == NONE {
                return Err(PolicyError::NoneAsMember);
            }
            let r = self
                .lookup(m)
                .ok_or_else(|| PolicyError::UnknownName((*m).to_owned()))?;
            if self.used_as_member.iter().any(|u| u == m) || used.contains(m) {
                return Err(PolicyError::MemberReused((*m).to_owned()));
            }
            used.push(*m);
            resolved.push(r);
        }
        let n = resolved.len();
        let k = match threshold {
            Threshold::All => n,
            Threshold::Any => 1,
            Threshold::AtLeast(k) => k,
        };
        if k == 0 || k > n {
            return Err(PolicyError::ThresholdOutOfRange { k, n });
        }
        self.used_as_member
            .extend(used.into_iter().map(str::to_owned));
        self.groups.push(Group {
            name: name.to_owned(),
            k,
            members: resolved,
        });
        Ok(())
    }

    /// Sets the quorum to a defined witness or group, or `none`.
    pub fn set_quorum(&mut self, name: &str) -> Result<(), PolicyError> {
        if self.quorum.is_some() {
            return Err(PolicyError::DuplicateQuorum);
        }
        let q = if name == NONE {
            None
        } else {
            Some(
                self.lookup(name)
                    .ok_or_else(|| PolicyError::UnknownName(name.to_owned()))?,
            )
        };
        self.quorum = Some(q);
        Ok(())
    }

    /// Finishes the policy; a quorum must have been set.
    pub fn build(self) -> Result<Policy, PolicyError> {
        let quorum = self.quorum.ok_or(PolicyError::MissingQuorum)?;
        Ok(Policy {
            logs: self.logs,
            witnesses: self.witnesses,
            groups: self.groups,
            quorum,
        })
    }
}

/// A trust policy: known logs, known witnesses, and the witness quorum.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Policy {
    logs: Vec<Log>,
    witnesses: Vec<Witness>,
    groups: Vec<Group>,
    /// `None` means `quorum none`.
    quorum: Option<Member>,
}

/// A checkpoint that satisfied a policy.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct VerifiedCheckpoint {
    checkpoint: Checkpoint,
    note: Note,
    log: Verifier,
    cosigners: Vec<(String, u64)>,
}

impl VerifiedCheckpoint {
    /// The checkpoint.
    pub fn checkpoint(&self) -> &Checkpoint {
        &self.checkpoint
    }
    /// The parsed note (all signature lines, verified or not).
    pub fn note(&self) -> &Note {
        &self.note
    }
    /// The log key that signed it.
    pub fn log(&self) -> &Verifier {
        &self.log
    }
    /// Policy names and timestamps of the witnesses whose cosignatures verified.
    pub fn cosigners(&self) -> &[(String, u64)] {
        &self.cosigners
    }
}

fn parse_threshold(s: &str) -> Result<Threshold, PolicyError> {
    match s {
        "all" => Ok(Threshold::All),
        "any" => Ok(Threshold::Any),
        _ => {
            if s.is_empty()
                || !s.bytes().all(|b| b.is_ascii_digit())
                || (s.len() > 1 && s.starts_with('0'))
            {
                return Err(PolicyError::BadThreshold);
            }
            s.parse::<usize>()
                .map(Threshold::AtLeast)
                .map_err(|_| PolicyError::BadThreshold)
        }
    }
}

fn parse_line(b: &mut PolicyBuilder, words: &[&str]) -> Result<(), PolicyError> {
    let vkey = |s: &str| Verifier::from_vkey(s).map_err(PolicyError::BadVkey);
    match words {
        ["log", key] => b.add_log(vkey(key)?, None),
        ["log", key, url] => b.add_log(vkey(key)?, Some((*url).to_owned())),
        ["witness", name, key] => b.add_witness(name, vkey(key)?, None),
        ["witness", name, key, url] => b.add_witness(name, vkey(key)?, Some((*url).to_owned())),
        ["group", name, k, members @ ..] => b.add_group(name, parse_threshold(k)?, members),
        ["quorum", name] => b.set_quorum(name),
        ["log" | "witness" | "group" | "quorum", ..] => Err(PolicyError::WrongArgCount),
        [other, ..] => Err(PolicyError::UnknownKeyword((*other).to_owned())),
        [] => Ok(()),
    }
}

impl Policy {
    /// Parses a policy file (c2sp tlog-policy).
    pub fn parse(text: &str) -> Result<Policy, PolicyError> {
        if text.len() > POLICY_BYTES_MAX {
            return Err(PolicyError::TooLarge);
        }
        let mut b = PolicyBuilder::new();
        for (i, line) in text.split('\n').enumerate() {
            let at = |error| PolicyError::Line {
                line: i + 1,
                error: Box::new(error),
            };
            if line
                .bytes()
                .any(|c| !(c == b'\t' || (0x20..=0x7e).contains(&c) || c >= 0x80))
            {
                return Err(at(PolicyError::BadCharacter));
            }
            let words: Vec<&str> = line.split([' ', '\t']).filter(|w| !w.is_empty()).collect();
            if words.first().is_some_and(|w| w.starts_with('#')) {
                continue;
            }
            parse_line(&mut b, &words).map_err(at)?;
        }
        b.build()
    }

    /// Parses a policy file given as bytes (must be UTF-8).
    pub fn parse_bytes(bytes: &[u8]) -> Result<Policy, PolicyError> {
        if bytes.len() > POLICY_BYTES_MAX {
            return Err(PolicyError::TooLarge);
        }
        Policy::parse(core::str::from_utf8(bytes).map_err(|_| PolicyError::NotUtf8)?)
    }

    /// A simple policy: any of `logs`, and at least `k` of `witnesses` (each
    /// named by its key name). `k == 0` means no witnesses are required.
    pub fn k_of_n(
        logs: Vec<Verifier>,
        witnesses: Vec<Verifier>,
        k: usize,
    ) -> Result<Policy, PolicyError> {
        let mut b = PolicyBuilder::new();
        for l in logs {
            b.add_log(l, None)?;
        }
        let mut names = Vec::with_capacity(witnesses.len());
        for w in witnesses {
            let name = w.name().to_owned();
            b.add_witness(&name, w, None)?;
            names.push(name);
        }
        if k == 0 {
            b.set_quorum(NONE)?;
        } else {
            let members: Vec<&str> = names.iter().map(String::as_str).collect();
            // Group names share the witness namespace; key names cannot
            // contain spaces, so this name cannot collide.
            let group = "k of n";
            b.add_group(group, Threshold::AtLeast(k), &members)?;
            b.set_quorum(group)?;
        }
        b.build()
    }

    /// Log keys, in policy order.
    pub fn logs(&self) -> impl Iterator<Item = &Verifier> {
        self.logs.iter().map(|l| &l.verifier)
    }

    /// Witnesses as (policy name, key), in policy order.
    pub fn witnesses(&self) -> impl Iterator<Item = (&str, &Verifier)> {
        self.witnesses
            .iter()
            .map(|w| (w.name.as_str(), &w.verifier))
    }

    /// Log URL for a log key, if the policy gives one.
    pub fn log_url(&self, log: &Verifier) -> Option<&str> {
        self.logs
            .iter()
            .find(|l| l.verifier == *log)
            .and_then(|l| l.url.as_deref())
    }

    /// Witness URL by policy name, if the policy gives one.
    pub fn witness_url(&self, name: &str) -> Option<&str> {
        self.witnesses
            .iter()
            .find(|w| w.name == name)
            .and_then(|w| w.url.as_deref())
    }

    /// Whether the set of witnesses (by index) that cosigned meets the quorum.
    fn quorum_met(&self, cosigned: &[bool]) -> bool {
        let mut group_ok = Vec::with_capacity(self.groups.len());
        let member_ok = |m: &Member, group_ok: &[bool]| match m {
            Member::Witness(i) => cosigned.get(*i).copied().unwrap_or(false),
            Member::Group(i) => group_ok.get(*i).copied().unwrap_or(false),
        };
        // Groups only reference earlier definitions, so one pass suffices.
        for g in &self.groups {
            let n = g.members.iter().filter(|m| member_ok(m, &group_ok)).count();
            group_ok.push(n >= g.k);
        }
        match &self.quorum {
            None => true,
            Some(m) => member_ok(m, &group_ok),
        }
    }

    /// Verifies a signed checkpoint: signed by one of the policy's logs (with
    /// origin equal to that log's key name) and cosigned by a witness quorum.
    /// A failing signature from any known log or witness key rejects it.
    pub fn verify_checkpoint(&self, note_bytes: &[u8]) -> Result<VerifiedCheckpoint, PolicyError> {
        let note = Note::parse(note_bytes).map_err(PolicyError::Note)?;
        let logs: Vec<Verifier> = self.logs.iter().map(|l| l.verifier.clone()).collect();
        let verified = match verify_note(&note, &logs) {
            Ok(v) => v,
            Err(NoteError::NoVerifiedSignature) => return Err(PolicyError::UnknownLog),
            Err(e) => return Err(PolicyError::Note(e)),
        };
        let checkpoint = Checkpoint::parse_text(note.text()).map_err(PolicyError::Checkpoint)?;
        let log = verified
            .iter()
            .find(|v| v.name() == checkpoint.origin())
            .and_then(|v| {
                logs.iter()
                    .find(|l| l.name() == v.name() && l.key_id() == v.key_id())
            })
            .cloned()
            .ok_or(PolicyError::OriginMismatch)?;
        let mut cosigned = vec![false; self.witnesses.len()];
        let mut cosigners = Vec::new();
        for (i, w) in self.witnesses.iter().enumerate() {
            if let Some(ts) = verify_cosignature(&note, &w.verifier).map_err(PolicyError::Note)? {
                if let Some(c) = cosigned.get_mut(i) {
                    *c = true;
                }
                cosigners.push((w.name.clone(), ts));
            }
        }
        if !self.quorum_met(&cosigned) {
            return Err(PolicyError::QuorumNotMet);
        }
        Ok(VerifiedCheckpoint {
            checkpoint,
            note,
            log,
            cosigners,
        })
    }
}

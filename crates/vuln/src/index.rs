//! [`AdvisoryIndex`]: advisories prepared once ([`PreparedAdvisory`]: entries
//! with parsed identifiers and ranges, CVSS scores recomputed from every
//! vector and checked against the published score) and keyed for candidate
//! lookup by [`MatchKey`] (purl type/namespace/name, CPE vendor:product,
//! normalized product name).
//!
//! Import is an upsert: a new id is added; a known id whose `modified`
//! timestamp is unchanged is skipped; otherwise the old version is replaced
//! in place (its postings removed first), so a re-import of a whole dump
//! costs only the changed records. A withdrawn (rejected) advisory stays
//! known but matches nothing.
//!
//! Deliberately absent: reading files (the caller streams records in, e.g.
//! from `vuln_formats::cve5::parse_jsonl_gz`), persistence, and deletion of
//! an advisory that simply stops appearing in a feed.

use std::collections::HashMap;
use std::fmt;

use vuln_formats::model::{Advisory, ScorePublisher, SeverityScheme, Timestamp, VulnId};

use crate::cvss::{CvssVector, PublishedScoreCheck, Score, Severity};
use crate::matcher::{MatchKey, PreparedAffected};

/// Failure reasons kept in an [`ImportReport`]; more are only counted.
pub const IMPORT_FAILURES_KEPT_MAX: usize = 100;

/// A score of an advisory, recomputed from its vector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdvisoryScore {
    /// Who published the vector.
    pub publisher: ScorePublisher,
    /// The vector, parsed and scored.
    pub vector: CvssVector,
    /// The published base score, if one was published (and is a valid score).
    pub published: Option<Score>,
    /// The published score compared with the recomputed ones.
    pub check: Option<PublishedScoreCheck>,
}

impl AdvisoryScore {
    /// The recomputed base score.
    pub fn base(&self) -> Score {
        self.vector.base_score()
    }

    /// Whether a published base score disagrees with the vector's.
    pub fn published_mismatch(&self) -> bool {
        self.check.as_ref().is_some_and(|c| !c.agrees())
    }
}

/// An advisory prepared for matching.
#[derive(Debug, Clone)]
pub struct PreparedAdvisory {
    id: VulnId,
    aliases: Vec<VulnId>,
    published: Option<Timestamp>,
    modified: Option<Timestamp>,
    withdrawn: bool,
    summary: Option<String>,
    kev: bool,
    ssvc: Option<crate::exploit::SsvcInputs>,
    entries: Vec<PreparedAffected>,
    scores: Vec<AdvisoryScore>,
    notes: Vec<String>,
}

impl PreparedAdvisory {
    /// Prepares every `affected[]` entry and recomputes every CVSS v3.x and
    /// v4.0 score; what cannot be used is noted.
    pub fn new(a: &Advisory) -> PreparedAdvisory {
        let mut notes = Vec::new();
        let withdrawn = a.withdrawn.is_some();
        let entries = if withdrawn {
            notes.push("withdrawn: matches nothing".into());
            Vec::new()
        } else {
            a.affected.iter().map(PreparedAffected::new).collect()
        };
        let mut scores = Vec::new();
        for s in &a.severities {
            if !matches!(
                s.scheme,
                SeverityScheme::CvssV30 | SeverityScheme::CvssV31 | SeverityScheme::CvssV40
            ) {
                continue;
            }
            match CvssVector::parse(&s.vector) {
                Ok(vector) => {
                    let published = s.score.and_then(Score::from_f64);
                    if s.score.is_some() && published.is_none() {
                        notes.push(format!("published score {:?} is not a score", s.score));
                    }
                    let check = published.map(|p| vector.check_published_base_score(p));
                    scores.push(AdvisoryScore {
                        publisher: s.publisher.clone(),
                        vector,
                        published,
                        check,
                    });
                }
                Err(e) => notes.push(format!("vector {:?} not scored: {e}", s.vector)),
            }
        }
        PreparedAdvisory {
            id: a.id.clone(),
            aliases: a.aliases.clone(),
            published: a.published.clone(),
            modified: a.modified.clone(),
            withdrawn,
            summary: a.summary.clone(),
            kev: a.cisa_adp.as_ref().is_some_and(|c| c.kev.is_some()),
            ssvc: a
                .cisa_adp
                .as_ref()
                .and_then(|c| c.ssvc.as_ref())
                .and_then(crate::exploit::SsvcInputs::from_adp),
            entries,
            scores,
            notes,
        }
    }

    /// When it was published, if known.
    pub fn published(&self) -> Option<&Timestamp> {
        self.published.as_ref()
    }

    /// Its id.
    pub fn id(&self) -> &VulnId {
        &self.id
    }

    /// Other ids of the same vulnerability.
    pub fn aliases(&self) -> &[VulnId] {
        &self.aliases
    }

    /// When it was last modified.
    pub fn modified(&self) -> Option<&Timestamp> {
        self.modified.as_ref()
    }

    /// Whether it was withdrawn (rejected).
    pub fn is_withdrawn(&self) -> bool {
        self.withdrawn
    }

    /// Its summary.
    pub fn summary(&self) -> Option<&str> {
        self.summary.as_deref()
    }

    /// Whether CISA lists it as known exploited.
    pub fn is_known_exploited(&self) -> bool {
        self.kev
    }

    /// The SSVC inputs CISA's ADP gave it (exploitation, automatable,
    /// technical impact), if all three.
    pub fn ssvc(&self) -> Option<&crate::exploit::SsvcInputs> {
        self.ssvc.as_ref()
    }

    /// Its prepared `affected[]` entries.
    pub fn entries(&self) -> &[PreparedAffected] {
        &self.entries
    }

    /// Its recomputed scores.
    pub fn scores(&self) -> &[AdvisoryScore] {
        &self.scores
    }

    /// The highest recomputed base score, if any vector was scored.
    pub fn worst_score(&self) -> Option<Score> {
        self.scores.iter().map(AdvisoryScore::base).max()
    }

    /// The severity of [`PreparedAdvisory::worst_score`].
    pub fn severity(&self) -> Option<Severity> {
        self.worst_score().map(Score::severity)
    }

    /// Whether any published score disagrees with its vector.
    pub fn has_score_mismatch(&self) -> bool {
        self.scores.iter().any(AdvisoryScore::published_mismatch)
    }

    /// What could not be used, advisory-wide and per entry.
    pub fn notes(&self) -> Vec<String> {
        let mut out = self.notes.clone();
        for (i, e) in self.entries.iter().enumerate() {
            out.extend(e.notes().iter().map(|n| format!("affected[{i}]: {n}")));
        }
        out
    }

    /// Why no entry can match (`None` when one can): the first entry's
    /// reason, or that the advisory names no affected product.
    pub fn unmatchable_reason(&self) -> Option<String> {
        if self.is_matchable() {
            return None;
        }
        Some(
            self.entries
                .iter()
                .find_map(PreparedAffected::unmatchable_reason)
                .unwrap_or_else(|| "no affected product listed".to_string()),
        )
    }

    /// Whether any entry can match.
    pub fn is_matchable(&self) -> bool {
        self.entries.iter().any(PreparedAffected::is_matchable)
    }

    fn keys(&self) -> Vec<(MatchKey, u32)> {
        let mut out = Vec::new();
        for (i, e) in self.entries.iter().enumerate() {
            let i = u32::try_from(i).unwrap_or(u32::MAX);
            for k in e.keys() {
                out.push((k, i));
            }
        }
        out
    }
}

/// A slot of the index: an advisory and one of its entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct Posting {
    pub(crate) advisory: u32,
    pub(crate) entry: u32,
}

/// What [`AdvisoryIndex::upsert`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upsert {
    /// A new id.
    New,
    /// A known id, replaced.
    Updated,
    /// A known id with the same `modified` timestamp: skipped.
    Unchanged,
}

/// A record an import could not use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportFailure {
    /// Which record (a line number or id the caller gave).
    pub record: String,
    /// Why.
    pub reason: String,
}

/// The counts of an [`AdvisoryIndex::import`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// New advisories.
    pub new: usize,
    /// Replaced advisories.
    pub updated: usize,
    /// Skipped: same `modified` timestamp.
    pub unchanged: usize,
    /// Records that failed (parse errors handed in).
    pub failed: usize,
    /// The first [`IMPORT_FAILURES_KEPT_MAX`] failures.
    pub failures: Vec<ImportFailure>,
    /// Of the new and updated: advisories without any entry that can match
    /// (no identifier or no usable version information).
    pub unmatchable: usize,
}

impl ImportReport {
    /// Counts one outcome.
    pub fn count(&mut self, outcome: Upsert, matchable: bool) {
        match outcome {
            Upsert::New => self.new += 1,
            Upsert::Updated => self.updated += 1,
            Upsert::Unchanged => self.unchanged += 1,
        }
        if outcome != Upsert::Unchanged && !matchable {
            self.unmatchable += 1;
        }
    }

    /// Counts one failure, keeping its reason while there is room.
    pub fn fail(&mut self, record: String, reason: String) {
        self.failed += 1;
        if self.failures.len() < IMPORT_FAILURES_KEPT_MAX {
            self.failures.push(ImportFailure { record, reason });
        }
    }
}

impl fmt::Display for ImportReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} new, {} updated, {} unchanged, {} failed ({} unmatchable)",
            self.new, self.updated, self.unchanged, self.failed, self.unmatchable
        )
    }
}

/// Advisories keyed for candidate lookup, with incremental upsert.
#[derive(Debug, Default)]
pub struct AdvisoryIndex {
    advisories: Vec<PreparedAdvisory>,
    by_id: HashMap<VulnId, u32>,
    postings: HashMap<MatchKey, Vec<Posting>>,
}

impl AdvisoryIndex {
    /// An empty index.
    pub fn new() -> AdvisoryIndex {
        AdvisoryIndex::default()
    }

    /// Imports parsed records (or their parse errors, counted as failures
    /// with `record` numbered from 1 in input order).
    pub fn import<I, E>(&mut self, records: I) -> ImportReport
    where
        I: IntoIterator<Item = Result<Advisory, E>>,
        E: fmt::Display,
    {
        let mut report = ImportReport::default();
        for (i, r) in records.into_iter().enumerate() {
            self.import_record(|| format!("record {}", i + 1), r, &mut report);
        }
        report
    }

    /// Imports one parsed record (or counts its parse error under the name
    /// `record()` gives), for callers that stream records in.
    pub fn import_record<E: fmt::Display>(
        &mut self,
        record: impl FnOnce() -> String,
        result: Result<Advisory, E>,
        report: &mut ImportReport,
    ) {
        match result {
            Ok(a) => {
                let (outcome, matchable) = self.upsert_prepared(&a);
                report.count(outcome, matchable);
            }
            Err(e) => report.fail(record(), e.to_string()),
        }
    }

    /// Adds or replaces one advisory (skipped when its `modified` timestamp
    /// equals the stored one's).
    pub fn upsert(&mut self, advisory: &Advisory) -> Upsert {
        self.upsert_prepared(advisory).0
    }

    /// Adds or replaces one advisory, whatever its `modified` (for a caller
    /// that decided it changed, such as a store comparing content); answers
    /// the outcome and whether it can match anything.
    pub fn replace(&mut self, advisory: &Advisory) -> (Upsert, bool) {
        self.insert_prepared(advisory)
    }

    /// [`AdvisoryIndex::replace`] with an advisory prepared by the caller
    /// (prepared on several threads, then taken in one at a time).
    pub fn replace_prepared(&mut self, prepared: PreparedAdvisory) -> (Upsert, bool) {
        self.insert(prepared)
    }

    fn upsert_prepared(&mut self, advisory: &Advisory) -> (Upsert, bool) {
        let existing = self.by_id.get(&advisory.id).copied();
        if let Some(slot) = existing {
            if let Some(old) = self.advisories.get(slot as usize) {
                if old.modified.is_some() && old.modified == advisory.modified {
                    return (Upsert::Unchanged, old.is_matchable());
                }
            }
        }
        self.insert_prepared(advisory)
    }

    fn insert_prepared(&mut self, advisory: &Advisory) -> (Upsert, bool) {
        self.insert(PreparedAdvisory::new(advisory))
    }

    fn insert(&mut self, prepared: PreparedAdvisory) -> (Upsert, bool) {
        let existing = self.by_id.get(prepared.id()).copied();
        let matchable = prepared.is_matchable();
        let keys = prepared.keys();
        let (slot, outcome) = match existing {
            Some(slot) => {
                self.remove_postings(slot);
                if let Some(s) = self.advisories.get_mut(slot as usize) {
                    *s = prepared;
                }
                (slot, Upsert::Updated)
            }
            None => {
                let slot = u32::try_from(self.advisories.len()).unwrap_or(u32::MAX);
                self.by_id.insert(prepared.id().clone(), slot);
                self.advisories.push(prepared);
                (slot, Upsert::New)
            }
        };
        for (key, entry) in keys {
            let list = self.postings.entry(key).or_default();
            let p = Posting {
                advisory: slot,
                entry,
            };
            if list.last() != Some(&p) {
                list.push(p);
            }
        }
        (outcome, matchable)
    }

    fn remove_postings(&mut self, slot: u32) {
        let Some(old) = self.advisories.get(slot as usize) else {
            return;
        };
        for (key, _) in old.keys() {
            if let Some(list) = self.postings.get_mut(&key) {
                list.retain(|p| p.advisory != slot);
                if list.is_empty() {
                    self.postings.remove(&key);
                }
            }
        }
    }

    /// The number of advisories known (withdrawn included).
    pub fn len(&self) -> usize {
        self.advisories.len()
    }

    /// Whether no advisory is known.
    pub fn is_empty(&self) -> bool {
        self.advisories.is_empty()
    }

    /// The number of distinct lookup keys.
    pub fn key_count(&self) -> usize {
        self.postings.len()
    }

    /// An advisory by id.
    pub fn advisory(&self, id: &VulnId) -> Option<&PreparedAdvisory> {
        self.by_id
            .get(id)
            .and_then(|&s| self.advisories.get(s as usize))
    }

    /// Every advisory, in first-import order.
    pub fn advisories(&self) -> impl Iterator<Item = &PreparedAdvisory> {
        self.advisories.iter()
    }

    /// The advisory ids and entry numbers indexed under `key`.
    pub fn candidates(&self, key: &MatchKey) -> impl Iterator<Item = (&VulnId, usize)> {
        self.postings
            .get(key)
            .into_iter()
            .flatten()
            .filter_map(|p| {
                self.advisories
                    .get(p.advisory as usize)
                    .map(|a| (&a.id, p.entry as usize))
            })
    }

    pub(crate) fn slot_of(&self, id: &VulnId) -> Option<u32> {
        self.by_id.get(id).copied()
    }

    pub(crate) fn by_slot(&self, slot: u32) -> Option<&PreparedAdvisory> {
        self.advisories.get(slot as usize)
    }

    pub(crate) fn postings(&self, key: &MatchKey) -> &[Posting] {
        self.postings.get(key).map_or(&[], Vec::as_slice)
    }
}

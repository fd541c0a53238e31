//! Fleet exposure: which releases and devices an [`AdvisoryIndex`]'s
//! advisories affect, with VEX statements applied.
//!
//! The input is the fleet as the caller extracted it from the twins' agreed
//! firmware state ([`FleetBuilder`]): releases (a [`ReleaseId`], its product
//! line, its SBOM), devices (an id and the release it runs) and VEX
//! statements scoped to a release ([`ScopedVex`]). The output:
//! - [`Fleet::evaluate`]: every release × component against the index
//!   ([`Evaluation`]), with views by release, by device, by vulnerability and
//!   a [`FleetSummary`];
//! - [`Fleet::impact`]: the impact of one advisory ([`Impact`]), found
//!   through the component → releases inverted index, equal to the full
//!   evaluation restricted to that advisory (tested as a property).
//!
//! For speed: component identities are interned (the releases of a fleet
//! share far fewer distinct components than they have instances), each
//! distinct component is evaluated once, devices per release are `u32`
//! vectors, and the full evaluation runs on every core with
//! `std::thread::scope`.
//!
//! VEX inheritance: a statement on release R of product line L for
//! vulnerability V (optionally one component) applies to a later release R2
//! of L while the component is unchanged: it is present, with the same
//! identity (purl or name and version, CPEs) or the same digest, in R and in
//! every release of L from R to R2. The nearest statement wins (one on R2
//! itself first); among statements on one release, the last one added.
//!
//! Deliberately absent: twins, signatures (the caller passes statements
//! whose stakeholder signature the twins verified), exposures asserted by a
//! VEX `affected` statement without a match, and any I/O.

use std::collections::HashMap;
use std::fmt;

use vuln_formats::model::{Component, Justification, Sbom, VexStatus, VulnId};

use crate::cvss::{Score, Severity};
use crate::index::{AdvisoryIndex, Posting, PreparedAdvisory};
use crate::matcher::{
    evaluate, normalize_name, Confidence, Match, MatchKey, Outcome, PreparedComponent,
};
use crate::purl::Purl;

/// Longest release id, in bytes.
pub const RELEASE_ID_BYTES_MAX: usize = 256;
/// Most components in one release's SBOM.
pub const COMPONENTS_PER_RELEASE_MAX: usize = 100_000;
/// Most threads a full evaluation uses.
pub const EVALUATION_THREADS_MAX: usize = 16;

/// A firmware release id: non-empty, no control characters, at most
/// [`RELEASE_ID_BYTES_MAX`] bytes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ReleaseId(String);

impl ReleaseId {
    /// Checks `value`.
    pub fn new(value: &str) -> Result<ReleaseId, FleetError> {
        let v = value.trim();
        if v.is_empty() || v.len() > RELEASE_ID_BYTES_MAX || v.chars().any(char::is_control) {
            return Err(FleetError::InvalidReleaseId(
                value.chars().take(64).collect(),
            ));
        }
        Ok(ReleaseId(v.to_string()))
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ReleaseId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why the fleet could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FleetError {
    /// A release id is empty, too long or has control characters.
    #[error("invalid release id {0:?}")]
    InvalidReleaseId(String),
    /// The release was added twice.
    #[error("release {0} added twice")]
    DuplicateRelease(ReleaseId),
    /// A device or VEX statement names a release not added.
    #[error("unknown release {0}")]
    UnknownRelease(ReleaseId),
    /// The device was added twice.
    #[error("device {0:?} added twice")]
    DuplicateDevice(String),
    /// A device id is empty.
    #[error("empty device id")]
    EmptyDeviceId,
    /// An SBOM has more than [`COMPONENTS_PER_RELEASE_MAX`] components.
    #[error("release {0} has more than {COMPONENTS_PER_RELEASE_MAX} components")]
    TooManyComponents(ReleaseId),
    /// A `not_affected` statement without justification or impact statement
    /// (CISA minimum requirements).
    #[error("not_affected for {id} on {1} has neither a justification nor an impact statement", id = .0.as_str())]
    NotAffectedWithoutJustification(VulnId, ReleaseId),
    /// More than `u32::MAX` devices, releases or components.
    #[error("more than 2^32 {0}")]
    TooMany(&'static str),
}

/// Which component a [`ScopedVex`] is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ComponentSelector {
    /// A purl (compared in canonical form; without a version it selects
    /// every version).
    Purl(String),
    /// A name (normalized) and optionally a version.
    Name {
        /// The name.
        name: String,
        /// The version; `None` selects every version.
        version: Option<String>,
    },
}

/// A VEX statement a stakeholder signed, scoped to one release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopedVex {
    /// The release it is about.
    pub release: ReleaseId,
    /// The vulnerability (an advisory id or alias).
    pub vulnerability: VulnId,
    /// The component, or `None` for every component of the release.
    pub component: Option<ComponentSelector>,
    /// The status.
    pub status: VexStatus,
    /// Why not affected.
    pub justification: Option<Justification>,
    /// Free-text impact statement.
    pub impact_statement: Option<String>,
    /// The stakeholder who signed it.
    pub stakeholder: String,
}

struct ReleaseData {
    id: ReleaseId,
    line: u32,
    position: u32,
    /// (component, digest id or `NO_DIGEST`), sorted by component.
    components: Vec<(u32, u32)>,
    /// Digest ids present, sorted.
    digests: Vec<u32>,
}

const NO_DIGEST: u32 = u32::MAX;

struct VexData {
    statement: ScopedVex,
    release: u32,
}

/// Compressed sparse rows: `offsets[i]..offsets[i+1]` of `values`.
#[derive(Default)]
struct Csr {
    offsets: Vec<u32>,
    values: Vec<u32>,
}

impl Csr {
    fn from_lists(lists: &[Vec<u32>]) -> Csr {
        let mut offsets = Vec::with_capacity(lists.len() + 1);
        let mut values = Vec::with_capacity(lists.iter().map(Vec::len).sum());
        offsets.push(0);
        for l in lists {
            values.extend_from_slice(l);
            offsets.push(u32::try_from(values.len()).unwrap_or(u32::MAX));
        }
        Csr { offsets, values }
    }

    fn row(&self, i: u32) -> &[u32] {
        let i = i as usize;
        match (self.offsets.get(i), self.offsets.get(i + 1)) {
            (Some(&a), Some(&b)) => self.values.get(a as usize..b as usize).unwrap_or(&[]),
            _ => &[],
        }
    }
}

/// Builds a [`Fleet`]. Releases of a product line are added oldest first.
#[derive(Default)]
pub struct FleetBuilder {
    releases: Vec<ReleaseData>,
    release_ids: HashMap<ReleaseId, u32>,
    lines: HashMap<String, u32>,
    line_releases: Vec<Vec<u32>>,
    components: Vec<PreparedComponent>,
    identities: HashMap<String, u32>,
    digests: HashMap<String, u32>,
    devices: Vec<String>,
    device_ids: HashMap<String, u32>,
    device_release: Vec<u32>,
    vex: Vec<VexData>,
}

fn identity(c: &Component) -> String {
    let mut s = String::with_capacity(64);
    for part in [
        c.name.as_str(),
        c.group.as_deref().unwrap_or(""),
        c.version.as_deref().unwrap_or(""),
        c.purl.as_ref().map_or("", |p| p.as_str()),
    ] {
        s.push_str(part);
        s.push('\u{0}');
    }
    for cpe in &c.cpes {
        s.push_str(cpe.as_str());
        s.push('\u{0}');
    }
    s
}

fn to_u32(n: usize, what: &'static str) -> Result<u32, FleetError> {
    u32::try_from(n).map_err(|_| FleetError::TooMany(what))
}

impl FleetBuilder {
    /// An empty fleet.
    pub fn new() -> FleetBuilder {
        FleetBuilder::default()
    }

    /// Adds a release of `product_line` (after the line's earlier releases)
    /// with the components of its SBOM (the subject is not a component).
    pub fn add_release(
        &mut self,
        id: ReleaseId,
        product_line: &str,
        sbom: &Sbom,
    ) -> Result<(), FleetError> {
        self.add_release_components(id, product_line, &sbom.components)
    }

    /// [`FleetBuilder::add_release`] from a component list.
    pub fn add_release_components(
        &mut self,
        id: ReleaseId,
        product_line: &str,
        components: &[Component],
    ) -> Result<(), FleetError> {
        if self.release_ids.contains_key(&id) {
            return Err(FleetError::DuplicateRelease(id));
        }
        if components.len() > COMPONENTS_PER_RELEASE_MAX {
            return Err(FleetError::TooManyComponents(id));
        }
        let release = to_u32(self.releases.len(), "releases")?;
        let line = match self.lines.get(product_line) {
            Some(&l) => l,
            None => {
                let l = to_u32(self.line_releases.len(), "product lines")?;
                self.lines.insert(product_line.to_string(), l);
                self.line_releases.push(Vec::new());
                l
            }
        };
        let mut comps = Vec::with_capacity(components.len());
        for c in components {
            let key = identity(c);
            let comp = match self.identities.get(&key) {
                Some(&k) => k,
                None => {
                    let k = to_u32(self.components.len(), "components")?;
                    self.components.push(PreparedComponent::new(c));
                    self.identities.insert(key, k);
                    k
                }
            };
            let digest = match c.hashes.first() {
                Some(d) => {
                    let text = format!("{}:{}", d.alg.as_str(), d.hex);
                    let next = to_u32(self.digests.len(), "digests")?;
                    *self.digests.entry(text).or_insert(next)
                }
                None => NO_DIGEST,
            };
            comps.push((comp, digest));
        }
        comps.sort_unstable();
        comps.dedup_by_key(|(c, _)| *c);
        let mut digests: Vec<u32> = comps
            .iter()
            .map(|&(_, d)| d)
            .filter(|&d| d != NO_DIGEST)
            .collect();
        digests.sort_unstable();
        digests.dedup();
        let line_list = self
            .line_releases
            .get_mut(line as usize)
            .ok_or(FleetError::TooMany("product lines"))?;
        let position = to_u32(line_list.len(), "releases")?;
        line_list.push(release);
        self.release_ids.insert(id.clone(), release);
        self.releases.push(ReleaseData {
            id,
            line,
            position,
            components: comps,
            digests,
        });
        Ok(())
    }

    /// Adds a device running `release` (from the twins' agreed firmware state).
    pub fn add_device(&mut self, device: &str, release: &ReleaseId) -> Result<(), FleetError> {
        if device.is_empty() {
            return Err(FleetError::EmptyDeviceId);
        }
        let r = *self
            .release_ids
            .get(release)
            .ok_or_else(|| FleetError::UnknownRelease(release.clone()))?;
        if self.device_ids.contains_key(device) {
            return Err(FleetError::DuplicateDevice(device.to_string()));
        }
        let d = to_u32(self.devices.len(), "devices")?;
        self.device_ids.insert(device.to_string(), d);
        self.devices.push(device.to_string());
        self.device_release.push(r);
        Ok(())
    }

    /// Adds a VEX statement (its release must have been added).
    pub fn add_vex(&mut self, statement: ScopedVex) -> Result<(), FleetError> {
        let r = *self
            .release_ids
            .get(&statement.release)
            .ok_or_else(|| FleetError::UnknownRelease(statement.release.clone()))?;
        if statement.status == VexStatus::NotAffected
            && statement.justification.is_none()
            && statement.impact_statement.is_none()
        {
            return Err(FleetError::NotAffectedWithoutJustification(
                statement.vulnerability,
                statement.release,
            ));
        }
        self.vex.push(VexData {
            statement,
            release: r,
        });
        Ok(())
    }

    /// Builds the inverted indexes.
    pub fn build(self) -> Fleet {
        let n_comp = self.components.len();
        let mut comp_releases: Vec<Vec<u32>> = vec![Vec::new(); n_comp];
        for (r, rel) in self.releases.iter().enumerate() {
            let r = u32::try_from(r).unwrap_or(u32::MAX);
            for &(c, _) in &rel.components {
                if let Some(l) = comp_releases.get_mut(c as usize) {
                    l.push(r);
                }
            }
        }
        let mut release_devices: Vec<Vec<u32>> = vec![Vec::new(); self.releases.len()];
        for (d, &r) in self.device_release.iter().enumerate() {
            if let Some(l) = release_devices.get_mut(r as usize) {
                l.push(u32::try_from(d).unwrap_or(u32::MAX));
            }
        }
        let mut by_key: HashMap<MatchKey, Vec<u32>> = HashMap::new();
        for (c, comp) in self.components.iter().enumerate() {
            let c = u32::try_from(c).unwrap_or(u32::MAX);
            for k in comp.keys() {
                by_key.entry(k).or_default().push(c);
            }
        }
        let mut vex_by_vuln: HashMap<VulnId, Vec<u32>> = HashMap::new();
        for (i, v) in self.vex.iter().enumerate() {
            vex_by_vuln
                .entry(v.statement.vulnerability.clone())
                .or_default()
                .push(u32::try_from(i).unwrap_or(u32::MAX));
        }
        Fleet {
            comp_releases: Csr::from_lists(&comp_releases),
            release_devices: Csr::from_lists(&release_devices),
            releases: self.releases,
            release_ids: self.release_ids,
            line_releases: self.line_releases,
            components: self.components,
            by_key,
            devices: self.devices,
            device_ids: self.device_ids,
            device_release: self.device_release,
            vex: self.vex,
            vex_by_vuln,
        }
    }
}

/// The fleet: releases, their interned components, devices, VEX statements.
pub struct Fleet {
    releases: Vec<ReleaseData>,
    release_ids: HashMap<ReleaseId, u32>,
    line_releases: Vec<Vec<u32>>,
    components: Vec<PreparedComponent>,
    by_key: HashMap<MatchKey, Vec<u32>>,
    comp_releases: Csr,
    devices: Vec<String>,
    device_ids: HashMap<String, u32>,
    device_release: Vec<u32>,
    release_devices: Csr,
    vex: Vec<VexData>,
    vex_by_vuln: HashMap<VulnId, Vec<u32>>,
}

/// One distinct (component, advisory) match.
struct Found {
    component: u32,
    advisory: u32,
    matched: Match,
}

/// One exposure: a release, a found match, the VEX statement applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Row {
    release: u32,
    found: u32,
    vex: Option<u32>,
}

/// A VEX statement applied to an exposure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VexApplied<'a> {
    /// The status.
    pub status: VexStatus,
    /// Why not affected.
    pub justification: Option<Justification>,
    /// The release the statement was made for.
    pub from_release: &'a ReleaseId,
    /// Whether it was inherited from an earlier release of the line.
    pub inherited: bool,
    /// Who signed it.
    pub stakeholder: &'a str,
}

/// A component of a release affected by a vulnerability.
#[derive(Debug, Clone, Copy)]
pub struct ReleaseExposure<'a> {
    /// The release.
    pub release: &'a ReleaseId,
    /// The advisory.
    pub advisory: &'a PreparedAdvisory,
    /// The component.
    pub component: &'a PreparedComponent,
    /// Why it matched.
    pub matched: &'a Match,
    /// The VEX statement that applies, if any.
    pub vex: Option<VexApplied<'a>>,
}

impl ReleaseExposure<'_> {
    /// The vulnerability id.
    pub fn vulnerability(&self) -> &VulnId {
        self.advisory.id()
    }

    /// Whether it counts as exposed: no VEX statement, or one saying
    /// `affected` or `under_investigation`.
    pub fn is_exposed(&self) -> bool {
        exposed(self.vex.map(|v| v.status))
    }

    /// The worst recomputed base score of the advisory.
    pub fn worst_score(&self) -> Option<Score> {
        self.advisory.worst_score()
    }
}

fn exposed(status: Option<VexStatus>) -> bool {
    !matches!(status, Some(VexStatus::NotAffected | VexStatus::Fixed))
}

impl Fleet {
    /// The number of releases.
    pub fn release_count(&self) -> usize {
        self.releases.len()
    }

    /// The number of devices.
    pub fn device_count(&self) -> usize {
        self.devices.len()
    }

    /// The number of distinct components (interned identities).
    pub fn distinct_component_count(&self) -> usize {
        self.components.len()
    }

    /// The number of component instances over all releases.
    pub fn component_instance_count(&self) -> usize {
        self.releases.iter().map(|r| r.components.len()).sum()
    }

    /// The devices running `release`.
    pub fn devices_of(&self, release: &ReleaseId) -> Vec<&str> {
        let Some(&r) = self.release_ids.get(release) else {
            return Vec::new();
        };
        self.release_devices
            .row(r)
            .iter()
            .filter_map(|&d| self.devices.get(d as usize).map(String::as_str))
            .collect()
    }

    fn release_id(&self, r: u32) -> &ReleaseId {
        // Every u32 release index handed around here came from `releases`.
        #[allow(clippy::indexing_slicing)]
        &self.releases[r as usize].id
    }

    fn device_len(&self, r: u32) -> u64 {
        self.release_devices.row(r).len() as u64
    }

    /// The best match of component `c` against advisory `a` over all its
    /// entries: highest confidence, first entry on ties. The same function
    /// serves the full evaluation and the impact of one advisory, so both
    /// agree by construction.
    fn best_match(&self, c: u32, advisory: &PreparedAdvisory) -> Option<Match> {
        let comp = self.components.get(c as usize)?;
        let mut best: Option<Match> = None;
        for entry in advisory.entries() {
            if let Outcome::Match(m) = evaluate(comp, entry, advisory.id()) {
                if best
                    .as_ref()
                    .is_none_or(|b: &Match| m.confidence > b.confidence)
                {
                    let high = m.confidence == Confidence::High;
                    best = Some(m);
                    if high {
                        break;
                    }
                }
            }
        }
        best
    }

    /// Evaluates every distinct component against the index, then every
    /// release, on every core.
    pub fn evaluate<'a>(&'a self, index: &'a AdvisoryIndex) -> Evaluation<'a> {
        let threads = std::thread::available_parallelism()
            .map_or(1, usize::from)
            .clamp(1, EVALUATION_THREADS_MAX);
        // 1. Distinct components × candidate advisories.
        let n = self.components.len();
        let chunk = n.div_ceil(threads).max(1);
        let mut found: Vec<Found> = Vec::new();
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..n)
                .step_by(chunk)
                .map(|start| {
                    let end = (start + chunk).min(n);
                    s.spawn(move || self.match_components(index, start, end))
                })
                .collect();
            for h in handles {
                if let Ok(part) = h.join() {
                    found.extend(part);
                }
            }
        });
        // component → its found matches.
        let mut per_comp: Vec<Vec<u32>> = vec![Vec::new(); n];
        for (i, f) in found.iter().enumerate() {
            if let Some(l) = per_comp.get_mut(f.component as usize) {
                l.push(u32::try_from(i).unwrap_or(u32::MAX));
            }
        }
        let per_comp = Csr::from_lists(&per_comp);
        let advisory_vex = self.advisory_vex(index, found.iter().map(|f| f.advisory));
        // 2. Releases.
        let nr = self.releases.len();
        let rchunk = nr.div_ceil(threads).max(1);
        let mut rows: Vec<Row> = Vec::new();
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..nr)
                .step_by(rchunk)
                .map(|start| {
                    let end = (start + rchunk).min(nr);
                    let (found, per_comp, advisory_vex) = (&found, &per_comp, &advisory_vex);
                    s.spawn(move || {
                        let mut out = Vec::new();
                        for r in start..end {
                            let r = u32::try_from(r).unwrap_or(u32::MAX);
                            let Some(rel) = self.releases.get(r as usize) else {
                                continue;
                            };
                            for &(c, _) in &rel.components {
                                for &fi in per_comp.row(c) {
                                    let Some(f) = found.get(fi as usize) else {
                                        continue;
                                    };
                                    let vex = advisory_vex
                                        .get(&f.advisory)
                                        .and_then(|list| self.resolve_vex(list, r, c));
                                    out.push(Row {
                                        release: r,
                                        found: fi,
                                        vex,
                                    });
                                }
                            }
                        }
                        out
                    })
                })
                .collect();
            for h in handles {
                if let Ok(part) = h.join() {
                    rows.extend(part);
                }
            }
        });
        Evaluation::new(self, index, found, rows)
    }

    fn match_components(&self, index: &AdvisoryIndex, start: usize, end: usize) -> Vec<Found> {
        let mut out = Vec::new();
        let mut candidates: Vec<u32> = Vec::new();
        for c in start..end {
            let Some(comp) = self.components.get(c) else {
                continue;
            };
            let c = u32::try_from(c).unwrap_or(u32::MAX);
            candidates.clear();
            for k in comp.keys() {
                candidates.extend(index.postings(&k).iter().map(|p: &Posting| p.advisory));
            }
            candidates.sort_unstable();
            candidates.dedup();
            for &a in &candidates {
                let Some(adv) = index.by_slot(a) else {
                    continue;
                };
                if let Some(matched) = self.best_match(c, adv) {
                    out.push(Found {
                        component: c,
                        advisory: a,
                        matched,
                    });
                }
            }
        }
        out
    }

    /// VEX statements per advisory slot (by id and aliases).
    fn advisory_vex(
        &self,
        index: &AdvisoryIndex,
        advisories: impl Iterator<Item = u32>,
    ) -> HashMap<u32, Vec<u32>> {
        let mut out: HashMap<u32, Vec<u32>> = HashMap::new();
        if self.vex.is_empty() {
            return out;
        }
        for a in advisories {
            if out.contains_key(&a) {
                continue;
            }
            let Some(adv) = index.by_slot(a) else {
                continue;
            };
            let mut list = Vec::new();
            for id in std::iter::once(adv.id()).chain(adv.aliases()) {
                if let Some(v) = self.vex_by_vuln.get(id) {
                    list.extend_from_slice(v);
                }
            }
            if !list.is_empty() {
                list.sort_unstable();
                list.dedup();
                out.insert(a, list);
            }
        }
        out
    }

    /// Whether statement `v`'s component selector selects component `c`.
    fn selects(&self, v: &ScopedVex, c: u32) -> bool {
        let Some(sel) = &v.component else {
            return true;
        };
        let Some(comp) = self.components.get(c as usize) else {
            return false;
        };
        match sel {
            ComponentSelector::Purl(p) => {
                let Some(cp) = comp.purl() else { return false };
                match (Purl::parse(p), Purl::parse(cp)) {
                    (Ok(a), Ok(b)) => {
                        a.ty() == b.ty()
                            && a.namespace() == b.namespace()
                            && a.name() == b.name()
                            && (a.version().is_none() || a.version() == b.version())
                    }
                    _ => false,
                }
            }
            ComponentSelector::Name { name, version } => {
                normalize_name(name) == comp.name_key()
                    && (version.is_none() || version.as_deref() == comp.version())
            }
        }
    }

    /// Whether release `r` contains component `c`, or a component with
    /// digest `digest`.
    fn release_has(&self, r: u32, c: u32, digest: u32) -> bool {
        let Some(rel) = self.releases.get(r as usize) else {
            return false;
        };
        rel.components.binary_search_by_key(&c, |&(x, _)| x).is_ok()
            || (digest != NO_DIGEST && rel.digests.binary_search(&digest).is_ok())
    }

    /// The VEX statement (index into `vex`) that applies to component `c` of
    /// release `r` among `candidates`: see the module docs.
    fn resolve_vex(&self, candidates: &[u32], r: u32, c: u32) -> Option<u32> {
        let rel = self.releases.get(r as usize)?;
        let digest = rel
            .components
            .binary_search_by_key(&c, |&(x, _)| x)
            .ok()
            .and_then(|i| rel.components.get(i))
            .map_or(NO_DIGEST, |&(_, d)| d);
        let line = self.line_releases.get(rel.line as usize)?;
        let mut best: Option<(u32, u32)> = None; // (position, vex)
        for &vi in candidates {
            let Some(v) = self.vex.get(vi as usize) else {
                continue;
            };
            let Some(from) = self.releases.get(v.release as usize) else {
                continue;
            };
            if from.line != rel.line || from.position > rel.position {
                continue;
            }
            if !self.selects(&v.statement, c) {
                continue;
            }
            if best.is_some_and(|(pos, _)| pos > from.position) {
                continue;
            }
            // Unchanged in every release from the statement's to this one.
            let unchanged = line
                .get(from.position as usize..=rel.position as usize)
                .is_some_and(|span| span.iter().all(|&x| self.release_has(x, c, digest)));
            if unchanged {
                best = Some((from.position, vi));
            }
        }
        best.map(|(_, v)| v)
    }

    /// The impact of one advisory (already in `index`): the releases and
    /// devices it affects, found through the component → releases index.
    /// `None` when the index does not know `advisory`.
    pub fn impact<'a>(&'a self, index: &'a AdvisoryIndex, advisory: &VulnId) -> Option<Impact<'a>> {
        let slot = index.slot_of(advisory)?;
        let adv = index.by_slot(slot)?;
        let mut comps: Vec<u32> = Vec::new();
        for e in adv.entries() {
            for k in e.keys() {
                if let Some(list) = self.by_key.get(&k) {
                    comps.extend_from_slice(list);
                }
            }
        }
        comps.sort_unstable();
        comps.dedup();
        let mut found = Vec::new();
        for c in comps {
            if let Some(matched) = self.best_match(c, adv) {
                found.push(Found {
                    component: c,
                    advisory: slot,
                    matched,
                });
            }
        }
        let advisory_vex = self.advisory_vex(index, std::iter::once(slot));
        let vex_list = advisory_vex.get(&slot);
        let mut rows = Vec::new();
        for (fi, f) in found.iter().enumerate() {
            let fi = u32::try_from(fi).unwrap_or(u32::MAX);
            for &r in self.comp_releases.row(f.component) {
                let vex = vex_list.and_then(|l| self.resolve_vex(l, r, f.component));
                rows.push(Row {
                    release: r,
                    found: fi,
                    vex,
                });
            }
        }
        rows.sort_unstable_by_key(|row| (row.release, row.found));
        let mut device_count = 0u64;
        let mut releases = Vec::new();
        let mut last = None;
        for row in &rows {
            let f = found.get(row.found as usize);
            let vex_status = row
                .vex
                .and_then(|v| self.vex.get(v as usize))
                .map(|v| v.statement.status);
            if f.is_some() && exposed(vex_status) && last != Some(row.release) {
                last = Some(row.release);
                releases.push(row.release);
                device_count += self.device_len(row.release);
            }
        }
        Some(Impact {
            fleet: self,
            advisory: adv,
            found,
            rows,
            releases,
            device_count,
        })
    }

    fn vex_applied(&self, row: &Row) -> Option<VexApplied<'_>> {
        let v = self.vex.get(row.vex? as usize)?;
        Some(VexApplied {
            status: v.statement.status,
            justification: v.statement.justification,
            from_release: self.release_id(v.release),
            inherited: v.release != row.release,
            stakeholder: &v.statement.stakeholder,
        })
    }
}

/// The impact of one advisory on the fleet.
pub struct Impact<'a> {
    fleet: &'a Fleet,
    advisory: &'a PreparedAdvisory,
    found: Vec<Found>,
    rows: Vec<Row>,
    /// Releases with at least one exposure not cleared by VEX.
    releases: Vec<u32>,
    device_count: u64,
}

impl<'a> Impact<'a> {
    /// The advisory.
    pub fn advisory(&self) -> &'a PreparedAdvisory {
        self.advisory
    }

    /// Devices exposed (on a release with an exposure not cleared by VEX).
    pub fn device_count(&self) -> u64 {
        self.device_count
    }

    /// Releases exposed.
    pub fn releases(&self) -> Vec<&'a ReleaseId> {
        self.releases
            .iter()
            .map(|&r| self.fleet.release_id(r))
            .collect()
    }

    /// Every exposure (VEX-cleared ones included), by release.
    pub fn exposures(&self) -> Vec<ReleaseExposure<'_>> {
        self.rows
            .iter()
            .filter_map(|row| {
                let f = self.found.get(row.found as usize)?;
                Some(ReleaseExposure {
                    release: self.fleet.release_id(row.release),
                    advisory: self.advisory,
                    component: self.fleet.components.get(f.component as usize)?,
                    matched: &f.matched,
                    vex: self.fleet.vex_applied(row),
                })
            })
            .collect()
    }
}

/// The exposures of one vulnerability across the fleet.
#[derive(Debug, Clone)]
pub struct VulnerabilityView<'a> {
    /// The advisory.
    pub advisory: &'a PreparedAdvisory,
    /// Releases with an exposure not cleared by VEX.
    pub releases: Vec<&'a ReleaseId>,
    /// Devices on those releases.
    pub device_count: u64,
    /// The worst recomputed base score.
    pub worst_score: Option<Score>,
}

/// Counts for one severity (`None`: no vector could be scored).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeverityCount {
    /// The severity of the advisory's worst base score.
    pub severity: Option<Severity>,
    /// Vulnerabilities with at least one exposure.
    pub vulnerabilities: u64,
    /// Exposed (release, vulnerability) pairs.
    pub release_pairs: u64,
    /// Devices whose worst exposure has this severity.
    pub devices: u64,
}

/// The fleet at a glance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetSummary {
    /// Devices with at least one exposure not cleared by VEX.
    pub exposed_devices: u64,
    /// Releases with at least one exposure not cleared by VEX.
    pub exposed_releases: u64,
    /// Exposed (release, vulnerability) pairs.
    pub exposed_pairs: u64,
    /// Distinct (component, advisory) matches found.
    pub distinct_matches: u64,
    /// Counts by severity, Critical first, unscored last.
    pub by_severity: Vec<SeverityCount>,
}

/// The result of [`Fleet::evaluate`]: every exposure, by release.
pub struct Evaluation<'a> {
    fleet: &'a Fleet,
    index: &'a AdvisoryIndex,
    found: Vec<Found>,
    /// Sorted by release.
    rows: Vec<Row>,
    /// `rows` of release r: `release_offsets[r]..release_offsets[r+1]`.
    release_offsets: Vec<usize>,
}

const SEVERITIES: [Option<Severity>; 6] = [
    Some(Severity::Critical),
    Some(Severity::High),
    Some(Severity::Medium),
    Some(Severity::Low),
    Some(Severity::None),
    None,
];

fn severity_slot(s: Option<Severity>) -> usize {
    SEVERITIES.iter().position(|x| *x == s).unwrap_or(5)
}

impl<'a> Evaluation<'a> {
    fn new(fleet: &'a Fleet, index: &'a AdvisoryIndex, found: Vec<Found>, rows: Vec<Row>) -> Self {
        // Rows arrive in release order (chunks in order, releases in order).
        let mut release_offsets = Vec::with_capacity(fleet.releases.len() + 1);
        let mut i = 0;
        for r in 0..fleet.releases.len() {
            release_offsets.push(i);
            while rows.get(i).is_some_and(|row| row.release as usize == r) {
                i += 1;
            }
        }
        release_offsets.push(rows.len());
        Evaluation {
            fleet,
            index,
            found,
            rows,
            release_offsets,
        }
    }

    fn view(&self, row: &Row) -> Option<ReleaseExposure<'_>> {
        let f = self.found.get(row.found as usize)?;
        Some(ReleaseExposure {
            release: self.fleet.release_id(row.release),
            advisory: self.index.by_slot(f.advisory)?,
            component: self.fleet.components.get(f.component as usize)?,
            matched: &f.matched,
            vex: self.fleet.vex_applied(row),
        })
    }

    fn row_exposed(&self, row: &Row) -> bool {
        exposed(
            row.vex
                .and_then(|v| self.fleet.vex.get(v as usize))
                .map(|v| v.statement.status),
        )
    }

    fn advisory_of(&self, row: &Row) -> u32 {
        self.found
            .get(row.found as usize)
            .map_or(u32::MAX, |f| f.advisory)
    }

    /// The number of exposures (release × component × vulnerability, VEX-
    /// cleared ones included).
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether nothing matched.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Every exposure, by release.
    pub fn exposures(&self) -> impl Iterator<Item = ReleaseExposure<'_>> {
        self.rows.iter().filter_map(|r| self.view(r))
    }

    fn release_rows(&self, r: u32) -> &[Row] {
        let r = r as usize;
        match (self.release_offsets.get(r), self.release_offsets.get(r + 1)) {
            (Some(&a), Some(&b)) => self.rows.get(a..b).unwrap_or(&[]),
            _ => &[],
        }
    }

    /// The exposures of one release.
    pub fn by_release(&self, release: &ReleaseId) -> Vec<ReleaseExposure<'_>> {
        let Some(&r) = self.fleet.release_ids.get(release) else {
            return Vec::new();
        };
        self.release_rows(r)
            .iter()
            .filter_map(|row| self.view(row))
            .collect()
    }

    /// The release a device runs and its exposures; `None` for an unknown
    /// device.
    pub fn by_device(&self, device: &str) -> Option<(&ReleaseId, Vec<ReleaseExposure<'_>>)> {
        let d = *self.fleet.device_ids.get(device)?;
        let r = *self.fleet.device_release.get(d as usize)?;
        Some((
            self.fleet.release_id(r),
            self.release_rows(r)
                .iter()
                .filter_map(|row| self.view(row))
                .collect(),
        ))
    }

    /// One vulnerability's view, `None` when it exposes nothing.
    pub fn by_vulnerability(&self, id: &VulnId) -> Option<VulnerabilityView<'_>> {
        let slot = self.index.slot_of(id)?;
        self.vulnerabilities()
            .into_iter()
            .find(|v| self.index.slot_of(v.advisory.id()) == Some(slot))
    }

    /// Every vulnerability with at least one exposure not cleared by VEX,
    /// worst score first, then by id.
    pub fn vulnerabilities(&self) -> Vec<VulnerabilityView<'_>> {
        let mut per_adv: HashMap<u32, Vec<u32>> = HashMap::new();
        for row in &self.rows {
            if self.row_exposed(row) {
                let list = per_adv.entry(self.advisory_of(row)).or_default();
                if list.last() != Some(&row.release) {
                    list.push(row.release);
                }
            }
        }
        let mut out: Vec<VulnerabilityView<'_>> = per_adv
            .into_iter()
            .filter_map(|(a, mut releases)| {
                releases.sort_unstable();
                releases.dedup();
                let advisory = self.index.by_slot(a)?;
                Some(VulnerabilityView {
                    advisory,
                    device_count: releases.iter().map(|&r| self.fleet.device_len(r)).sum(),
                    releases: releases.iter().map(|&r| self.fleet.release_id(r)).collect(),
                    worst_score: advisory.worst_score(),
                })
            })
            .collect();
        out.sort_by(|a, b| {
            b.worst_score
                .cmp(&a.worst_score)
                .then_with(|| a.advisory.id().cmp(b.advisory.id()))
        });
        out
    }

    /// The device count of one advisory's exposures not cleared by VEX
    /// (the figure [`Impact::device_count`] gives).
    pub fn device_count_of(&self, id: &VulnId) -> u64 {
        let Some(slot) = self.index.slot_of(id) else {
            return 0;
        };
        let mut releases: Vec<u32> = self
            .rows
            .iter()
            .filter(|row| self.advisory_of(row) == slot && self.row_exposed(row))
            .map(|row| row.release)
            .collect();
        releases.dedup();
        releases.iter().map(|&r| self.fleet.device_len(r)).sum()
    }

    /// Counts by severity and exposed devices.
    pub fn summary(&self) -> FleetSummary {
        let mut by_severity: Vec<SeverityCount> = SEVERITIES
            .iter()
            .map(|&severity| SeverityCount {
                severity,
                vulnerabilities: 0,
                release_pairs: 0,
                devices: 0,
            })
            .collect();
        let mut seen_adv: Vec<bool> = vec![false; self.index.len()];
        let mut exposed_devices = 0u64;
        let mut exposed_releases = 0u64;
        let mut exposed_pairs = 0u64;
        let mut advs: Vec<u32> = Vec::new();
        for r in 0..self.fleet.releases.len() {
            let r = u32::try_from(r).unwrap_or(u32::MAX);
            advs.clear();
            for row in self.release_rows(r) {
                if self.row_exposed(row) {
                    advs.push(self.advisory_of(row));
                }
            }
            if advs.is_empty() {
                continue;
            }
            advs.sort_unstable();
            advs.dedup();
            let devices = self.fleet.device_len(r);
            exposed_releases += 1;
            exposed_devices += devices;
            exposed_pairs += advs.len() as u64;
            // Option<Severity> orders unscored lowest, then None..Critical.
            let mut worst: Option<Severity> = None;
            for &a in &advs {
                let sev = self.index.by_slot(a).and_then(PreparedAdvisory::severity);
                let slot = severity_slot(sev);
                if let Some(c) = by_severity.get_mut(slot) {
                    c.release_pairs += 1;
                }
                if let Some(s) = seen_adv.get_mut(a as usize) {
                    if !*s {
                        *s = true;
                        if let Some(c) = by_severity.get_mut(slot) {
                            c.vulnerabilities += 1;
                        }
                    }
                }
                worst = worst.max(sev);
            }
            let worst = severity_slot(worst);
            if let Some(c) = by_severity.get_mut(worst) {
                c.devices += devices;
            }
        }
        FleetSummary {
            exposed_devices,
            exposed_releases,
            exposed_pairs,
            distinct_matches: self.found.len() as u64,
            by_severity,
        }
    }
}

//! `sectwin-bench vuln`: issue 5's figures for the matching and exposure
//! engine (`vuln::index`, `vuln::exposure`).
//!
//! 1. Import: every record of a CVE JSON 5 JSON-lines dump (CISA's
//!    vulnrichment export) parsed with `vuln_formats::cve5::parse_jsonl_gz`
//!    and upserted into a fresh `AdvisoryIndex`: total seconds and records/s,
//!    median of `runs`.
//! 2. Persisted import: the same dump imported with
//!    `advisory_store::AdvisoryStore::import_paths` into a fresh store in
//!    the temporary directory, then `load_index` (what a node does after an
//!    import): median of `runs`; then a re-import into the last store (every
//!    record unchanged), median of `runs`; then every stored advisory
//!    compared with the dump's record (the JSON encoding round-trips).
//! 3. A generated fleet: `releases` firmware releases in product lines of
//!    [`RELEASES_PER_LINE`], `components` components each, `devices` devices.
//!    Component identities are drawn from what the imported advisories name
//!    (CPE vendor/product and purls with the versions their ranges mention,
//!    so real matches happen), some of them written as name-only components
//!    (as firmware SBOMs often are), plus name-only firmware modules that
//!    match nothing; versions drift from one release of a line to the next.
//! 4. Full re-evaluation (every release × component against the index, then
//!    devices and the fleet summary): median of `runs`.
//! 5. The impact of one advisory (which devices) for up to `impacts`
//!    advisories that do affect some release: median and p99, each checked
//!    against the full evaluation's device count.
//!
//! A benchmark, not a test: nothing here asserts a time. Deliberately
//! absent: VEX statements in the generated fleet (their cost is tested, not
//! benchmarked), and any matching logic (all in `vuln`).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use advisory_store::{AdvisoryStore, NoProgress};
use anyhow::{bail, Context, Result};
use vuln::exposure::{Fleet, FleetBuilder, ReleaseId};
use vuln::index::{AdvisoryIndex, ImportReport};
use vuln::matcher::MatchKey;
use vuln::version::{Bound, VersionScheme};
use vuln_formats::cve5::{self, JsonlOptions, JsonlSummary};
use vuln_formats::model::{Component, ComponentKind, Cpe, Purl};

/// Releases per product line in the generated fleet.
const RELEASES_PER_LINE: u32 = 20;
/// Distinct open-source packages drawn from the advisories.
const PACKAGES_MAX: usize = 4_000;
/// Distinct name-only firmware modules (match nothing).
const FIRMWARE_MODULES: usize = 1_500;
/// Share of a release's components that are firmware modules, in percent.
const FIRMWARE_SHARE_PERCENT: u32 = 20;
/// Chance a component's version moves on between two releases, in percent.
const DRIFT_PERCENT: u64 = 15;

/// The default dump: the full shared vulnrichment snapshot (41,905 records)
/// when `../shared` sits beside the repository, else the repository's
/// subset of it (`testdata/cve`, 5,981 records; see `testdata/README.md`),
/// said on stderr since its figures are not the full dump's.
pub fn default_data() -> PathBuf {
    let full = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/cve/vulnrichment-public.jsonl.gz");
    if full.is_file() {
        return full;
    }
    let subset = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/cve/vulnrichment-subset.jsonl.gz");
    eprintln!(
        "note: {} is missing; using the vendored subset {} (pass --data for another dump)",
        full.display(),
        subset.display()
    );
    subset
}

/// Runs the benchmark and prints its table.
pub fn run(
    data: &Path,
    devices: u32,
    releases: u32,
    components: u32,
    runs: usize,
    impacts: usize,
) -> Result<()> {
    let runs = runs.max(1);
    println!(
        "vuln: import of {}, then a fleet of {devices} devices on {releases} releases × {components} components",
        data.display()
    );

    // 1. Import.
    let mut import_times = Vec::new();
    let mut last = None;
    for run in 0..runs {
        let (index, report, summary, took) = import_once(data)?;
        println!(
            "  import run {}: {:.2} s ({} records: {report}; {} advisories, {} keys)",
            run + 1,
            took.as_secs_f64(),
            summary.records,
            index.len(),
            index.key_count()
        );
        import_times.push(took.as_secs_f64());
        last = Some((index, report, summary));
    }
    let Some((index, report, summary)) = last else {
        bail!("no import run");
    };
    let import_s = median(import_times);
    let mismatches = index
        .advisories()
        .filter(|a| a.has_score_mismatch())
        .count();

    // Persisted import (2. above).
    let persisted = persisted_import(data, runs)?;

    // 2. Fleet.
    let t = Instant::now();
    let fleet = generate_fleet(&index, devices, releases, components)?;
    let fleet_s = t.elapsed().as_secs_f64();
    println!(
        "  fleet generated in {fleet_s:.2} s: {} component instances, {} distinct components",
        fleet.component_instance_count(),
        fleet.distinct_component_count()
    );

    // 3. Full re-evaluation.
    let mut eval_times = Vec::new();
    let mut figures = None;
    for run in 0..runs {
        let t = Instant::now();
        let evaluation = fleet.evaluate(&index);
        let s = evaluation.summary();
        let took = t.elapsed();
        println!(
            "  evaluation run {}: {:.2} s ({} exposures, {} (release, vulnerability) pairs, {} devices)",
            run + 1,
            took.as_secs_f64(),
            evaluation.len(),
            s.exposed_pairs,
            s.exposed_devices
        );
        eval_times.push(took.as_secs_f64());
        if run + 1 == runs {
            let vulns = evaluation.vulnerabilities();
            let step = (vulns.len() / impacts.max(1)).max(1);
            let picked: Vec<_> = vulns
                .iter()
                .step_by(step)
                .take(impacts)
                .map(|v| (v.advisory.id().clone(), v.device_count))
                .collect();
            figures = Some((s, vulns.len(), picked));
        }
    }
    let Some((fleet_summary, vulnerabilities, picked)) = figures else {
        bail!("no evaluation run");
    };
    let eval_s = median(eval_times);

    // 4. Impact of one advisory.
    let mut impact_ms = Vec::with_capacity(picked.len());
    let mut disagreements = 0usize;
    for (id, expected) in &picked {
        let t = Instant::now();
        let devices = fleet.impact(&index, id).map_or(0, |i| i.device_count());
        impact_ms.push(t.elapsed().as_secs_f64() * 1e3);
        if devices != *expected {
            disagreements += 1;
        }
    }
    impact_ms.sort_by(f64::total_cmp);
    let impact_median = median(impact_ms.clone());
    let impact_p99 = percentile(&impact_ms, 0.99);

    println!();
    println!("| figure | value | target |");
    println!("|---|---|---|");
    println!(
        "| import: parse + index, median of {runs} | {import_s:.2} s, {:.0} records/s ({} records: {report}) | ≤ 20 s |",
        summary.records as f64 / import_s,
        summary.records
    );
    println!(
        "| persisted import: import_paths + load_index into a fresh store, median of {runs} | {:.2} s ({:.2} s + {:.2} s), {:.0} records/s ({} new, {} stored) | ≤ 20 s |",
        persisted.fresh_s,
        persisted.import_s,
        persisted.load_s,
        summary.records as f64 / persisted.fresh_s,
        persisted.new,
        persisted.stored
    );
    println!(
        "| persisted re-import (all unchanged), median of {runs} | {:.2} s, {:.0} records/s ({} unchanged, {} changed) | |",
        persisted.reimport_s,
        summary.records as f64 / persisted.reimport_s,
        persisted.unchanged,
        persisted.changed
    );
    println!(
        "| stored advisories equal to a dump record with their id (JSON round trip) | {} of {} | all |",
        persisted.round_trip_equal, persisted.round_trip_checked
    );
    println!(
        "| published scores disagreeing with their vector | {mismatches} advisories | flagged |"
    );
    println!(
        "| fleet | {devices} devices, {releases} releases × {components} components, {} distinct components | |",
        fleet.distinct_component_count()
    );
    println!(
        "| exposed (release, vulnerability) pairs | {} ({vulnerabilities} vulnerabilities, {} distinct component matches) | |",
        fleet_summary.exposed_pairs, fleet_summary.distinct_matches
    );
    println!(
        "| exposed devices | {} of {devices} ({} releases) | |",
        fleet_summary.exposed_devices, fleet_summary.exposed_releases
    );
    for c in &fleet_summary.by_severity {
        println!(
            "| severity {} | {} vulnerabilities, {} pairs, {} devices at worst | |",
            c.severity.map_or("unscored", |s| s.as_str()),
            c.vulnerabilities,
            c.release_pairs,
            c.devices
        );
    }
    println!("| full re-evaluation, median of {runs} | {eval_s:.2} s | ≤ 10 s |");
    println!(
        "| impact of one advisory ({} advisories) | median {impact_median:.2} ms, p99 {impact_p99:.2} ms ({disagreements} disagreeing with the full evaluation) | ≤ 50 ms |",
        picked.len()
    );
    if disagreements > 0 {
        bail!("{disagreements} impacts disagree with the full evaluation");
    }
    Ok(())
}

pub(crate) fn import_once(
    path: &Path,
) -> Result<(AdvisoryIndex, ImportReport, JsonlSummary, Duration)> {
    let file = File::open(path).with_context(|| format!("open {}", path.display()))?;
    let mut index = AdvisoryIndex::new();
    let mut report = ImportReport::default();
    let t = Instant::now();
    let summary = cve5::parse_jsonl_gz(
        BufReader::new(file),
        &JsonlOptions::default(),
        |line, result| {
            index.import_record(|| format!("line {line}"), result, &mut report);
        },
    )
    .with_context(|| format!("read {}", path.display()))?;
    Ok((index, report, summary, t.elapsed()))
}

/// The figures of the persisted import (2. in the file's doc).
struct Persisted {
    fresh_s: f64,
    import_s: f64,
    load_s: f64,
    reimport_s: f64,
    new: usize,
    stored: usize,
    unchanged: usize,
    changed: usize,
    round_trip_checked: usize,
    round_trip_equal: usize,
}

fn persisted_import(data: &Path, runs: usize) -> Result<Persisted> {
    let base = std::env::temp_dir().join(format!("sectwin-bench-vuln-{}", std::process::id()));
    let paths = vec![data.to_path_buf()];
    let mut fresh = Vec::new();
    let mut imports = Vec::new();
    let mut loads = Vec::new();
    let mut last = None;
    for run in 0..runs {
        let dir = base.join(format!("run-{run}"));
        let t = Instant::now();
        let store = AdvisoryStore::open(&dir)?;
        let s = store.import_paths(&paths, &NoProgress)?;
        let import_s = t.elapsed().as_secs_f64();
        let index = store.load_index()?;
        let total_s = t.elapsed().as_secs_f64();
        println!(
            "  persisted import run {}: {total_s:.2} s (import {import_s:.2} s: {} new, {} failed, {} duplicates; load_index {:.2} s: {} advisories)",
            run + 1,
            s.new,
            s.failed,
            s.duplicates,
            total_s - import_s,
            index.len()
        );
        fresh.push(total_s);
        imports.push(import_s);
        loads.push(total_s - import_s);
        if let Some((_, old_dir)) = last.replace((store, dir)) {
            std::fs::remove_dir_all(&old_dir).ok();
        }
        if run + 1 == runs {
            let new = s.new;
            let Some((store, dir)) = last.take() else {
                bail!("no persisted import run");
            };
            let mut reimports = Vec::new();
            let mut unchanged = 0;
            let mut changed = 0;
            for r in 0..runs {
                let s = store.import_paths(&paths, &NoProgress)?;
                let took = s.elapsed.as_secs_f64();
                println!(
                    "  re-import run {}: {took:.2} s ({} unchanged, {} updated, {} new)",
                    r + 1,
                    s.unchanged,
                    s.updated,
                    s.new
                );
                reimports.push(took);
                unchanged = s.unchanged;
                changed = s.changed_ids.len();
            }
            // Every stored advisory against the dump's record with its id
            // (ids the dump repeats are skipped: only one version is kept).
            // Per id: occurrences, and whether one of them equals the stored.
            let mut seen: std::collections::HashMap<String, (usize, bool)> =
                std::collections::HashMap::new();
            let file = File::open(data).with_context(|| format!("open {}", data.display()))?;
            let mut failure = None;
            cve5::parse_jsonl_gz(BufReader::new(file), &JsonlOptions::default(), |_, r| {
                if let Ok(a) = r {
                    let equal = match store.get(a.id.as_str()) {
                        Ok(stored) => stored.as_ref() == Some(&a),
                        Err(e) => {
                            failure = Some(e);
                            false
                        }
                    };
                    let e = seen.entry(a.id.as_str().to_string()).or_insert((0, false));
                    e.0 += 1;
                    e.1 |= equal;
                }
            })?;
            if let Some(e) = failure {
                return Err(e.into());
            }
            let checked = seen.len();
            let equal = seen.values().filter(|(_, eq)| *eq).count();
            let stored = store.len();
            drop(store);
            std::fs::remove_dir_all(&dir).ok();
            std::fs::remove_dir_all(&base).ok();
            return Ok(Persisted {
                fresh_s: median(fresh),
                import_s: median(imports),
                load_s: median(loads),
                reimport_s: median(reimports),
                new,
                stored,
                unchanged,
                changed,
                round_trip_checked: checked,
                round_trip_equal: equal,
            });
        }
    }
    bail!("no persisted import run")
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted.get(i).copied().unwrap_or(0.0)
}

/// SplitMix64: a deterministic generator (no dependency needed).
pub(crate) struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % (n.max(1) as u64)) as usize
    }
    /// Skewed towards 0 (popular packages appear in many lines).
    fn skewed(&mut self, n: usize) -> usize {
        let u = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        ((u * u * n as f64) as usize).min(n.saturating_sub(1))
    }
}

/// How a package is written in the SBOMs.
#[derive(Clone)]
enum Identity {
    Cpe {
        vendor: String,
        product: String,
    },
    Purl {
        ty: String,
        namespace: String,
        name: String,
    },
    NameOnly {
        name: String,
    },
}

struct Package {
    identity: Identity,
    versions: Vec<String>,
}

/// FS-binding quoting of a CPE attribute value.
fn cpe_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if !(c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn bound_versions(range: &vuln::version::VersionRange, out: &mut Vec<String>) {
    for i in range.affected().iter().chain(range.unaffected()) {
        for b in [&i.lower, &i.upper] {
            if let Bound::Included(v) | Bound::Excluded(v) = b {
                out.push(v.clone());
            }
        }
    }
}

/// Packages named by the advisories, with the versions their ranges mention.
fn catalogue(index: &AdvisoryIndex, rng: &mut Rng) -> Vec<Package> {
    let mut by_key: BTreeMap<MatchKey, Vec<String>> = BTreeMap::new();
    for adv in index.advisories() {
        for e in adv.entries() {
            let Some(range) = e.range() else { continue };
            let mut versions = Vec::new();
            bound_versions(range, &mut versions);
            if versions.is_empty() {
                continue;
            }
            let key = e.purl_keys().first().cloned().or_else(|| {
                let c = e.cpes().first()?;
                Some(MatchKey::VendorProduct {
                    vendor: c.vendor().literal()?,
                    product: c.product().literal()?,
                })
            });
            if let Some(k) = key {
                by_key.entry(k).or_default().extend(versions);
            }
        }
    }
    let mut packages = Vec::new();
    for (key, mut versions) in by_key {
        versions.retain(|v| VersionScheme::Generic.validate(v).is_ok() && v.len() < 40);
        // The generic scheme's order is not guaranteed total over arbitrary
        // strings, which `sort_by` requires: sort by a numeric-aware key.
        versions.sort_by_cached_key(|v| drift_key(v));
        versions.dedup();
        if versions.is_empty() {
            continue;
        }
        let identity = match key {
            MatchKey::Purl {
                ty,
                namespace,
                name,
            } => Identity::Purl {
                ty,
                namespace,
                name,
            },
            MatchKey::VendorProduct { vendor, product } => {
                // A quarter written as firmware SBOMs often do: name and version.
                if rng.below(4) == 0 {
                    Identity::NameOnly {
                        name: product.replace('_', "-"),
                    }
                } else {
                    Identity::Cpe { vendor, product }
                }
            }
            MatchKey::Name(name) => Identity::NameOnly { name },
        };
        packages.push(Package { identity, versions });
    }
    // A deterministic shuffle, then the first PACKAGES_MAX.
    for i in (1..packages.len()).rev() {
        let j = rng.below(i + 1);
        packages.swap(i, j);
    }
    packages.truncate(PACKAGES_MAX);
    packages
}

/// A total, numeric-aware ordering key for the drift of versions.
fn drift_key(v: &str) -> Vec<(u8, u64, String)> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let flush = |cur: &mut String, out: &mut Vec<(u8, u64, String)>| {
        if cur.is_empty() {
            return;
        }
        match cur.parse::<u64>() {
            Ok(n) => out.push((1, n, String::new())),
            Err(_) => out.push((0, 0, cur.to_ascii_lowercase())),
        }
        cur.clear();
    };
    for c in v.chars() {
        let boundary = !c.is_ascii_alphanumeric()
            || cur
                .chars()
                .last()
                .is_some_and(|l| l.is_ascii_digit() != c.is_ascii_digit());
        if boundary {
            flush(&mut cur, &mut out);
        }
        if c.is_ascii_alphanumeric() {
            cur.push(c);
        }
    }
    flush(&mut cur, &mut out);
    out
}

fn component(p: &Package, version: &str) -> Result<Component> {
    let (name, purl, cpes, supplier) = match &p.identity {
        Identity::Cpe { vendor, product } => (
            product.clone(),
            None,
            vec![Cpe::new(&format!(
                "cpe:2.3:a:{}:{}:{}:*:*:*:*:*:*:*",
                cpe_quote(vendor),
                cpe_quote(product),
                cpe_quote(version)
            ))
            .map_err(|e| anyhow::anyhow!("{e:?}"))?],
            Some(vendor.clone()),
        ),
        Identity::Purl {
            ty,
            namespace,
            name,
        } => {
            let text = if namespace.is_empty() {
                format!("pkg:{ty}/{name}@{version}")
            } else {
                format!("pkg:{ty}/{namespace}/{name}@{version}")
            };
            (name.clone(), Purl::new(&text).ok(), Vec::new(), None)
        }
        Identity::NameOnly { name } => (name.clone(), None, Vec::new(), None),
    };
    Ok(Component {
        bom_ref: None,
        kind: ComponentKind::Library,
        name,
        group: None,
        version: Some(version.to_string()),
        supplier,
        purl,
        cpes,
        hashes: Vec::new(),
    })
}

/// A generated firmware release: its product line, its position in the
/// line, its components.
pub(crate) struct GeneratedRelease {
    pub line: u32,
    pub position: u32,
    pub components: Vec<Component>,
}

/// `releases` firmware releases in product lines of [`RELEASES_PER_LINE`],
/// `components` components each, drawn from what `index`'s advisories name
/// (see the module documentation); deterministic.
pub(crate) fn generate_releases(
    index: &AdvisoryIndex,
    releases: u32,
    components: u32,
    rng: &mut Rng,
) -> Result<Vec<GeneratedRelease>> {
    let mut packages = catalogue(index, rng);
    if packages.is_empty() {
        bail!("the advisories name no package with versions");
    }
    let open_source = packages.len();
    for i in 0..FIRMWARE_MODULES {
        packages.push(Package {
            identity: Identity::NameOnly {
                name: format!("acme-fw-module-{i}"),
            },
            versions: (0..8).map(|k| format!("1.{k}.0")).collect(),
        });
    }
    let per_release = components as usize;
    let firmware_n = per_release * FIRMWARE_SHARE_PERCENT as usize / 100;
    let oss_n = per_release - firmware_n;
    let lines = releases.div_ceil(RELEASES_PER_LINE).max(1);
    let mut out = Vec::with_capacity(releases as usize);
    for line in 0..lines {
        // The line's packages: distinct, popular ones more often.
        let mut chosen: Vec<usize> = Vec::with_capacity(per_release);
        let mut taken = vec![false; packages.len()];
        let mut tries = 0;
        while chosen.len() < oss_n.min(open_source) && tries < per_release * 50 {
            tries += 1;
            let p = rng.skewed(open_source);
            if !std::mem::replace(&mut taken[p], true) {
                chosen.push(p);
            }
        }
        while chosen.len() < per_release {
            let p = open_source + rng.below(FIRMWARE_MODULES);
            if !std::mem::replace(&mut taken[p], true) {
                chosen.push(p);
            }
        }
        let mut version_ix: Vec<usize> = chosen
            .iter()
            .map(|&p| rng.below(packages[p].versions.len()))
            .collect();
        for pos in 0..RELEASES_PER_LINE {
            if out.len() == releases as usize {
                break;
            }
            if pos > 0 {
                for (k, &p) in chosen.iter().enumerate() {
                    if rng.next() % 100 < DRIFT_PERCENT {
                        version_ix[k] = (version_ix[k] + 1).min(packages[p].versions.len() - 1);
                    }
                }
            }
            let mut comps = Vec::with_capacity(per_release);
            for (k, &p) in chosen.iter().enumerate() {
                let package = &packages[p];
                comps.push(component(package, &package.versions[version_ix[k]])?);
            }
            out.push(GeneratedRelease {
                line,
                position: pos,
                components: comps,
            });
        }
    }
    Ok(out)
}

/// The release (index into the generated releases) device `d` runs: lines
/// in turn, newer releases of a line on more devices.
pub(crate) fn release_of_device(rng: &mut Rng, d: u64, releases: usize) -> usize {
    let per_line = RELEASES_PER_LINE as usize;
    let lines = releases.div_ceil(per_line).max(1);
    let line = (d % lines as u64) as usize;
    let in_line = (releases - line * per_line).min(per_line);
    let back = rng.skewed(in_line);
    line * per_line + (in_line - 1 - back)
}

fn generate_fleet(
    index: &AdvisoryIndex,
    devices: u32,
    releases: u32,
    components: u32,
) -> Result<Fleet> {
    let mut rng = Rng(0x5EC7_u64);
    let generated = generate_releases(index, releases, components, &mut rng)?;
    let mut builder = FleetBuilder::new();
    let mut release_ids = Vec::with_capacity(generated.len());
    for r in &generated {
        let id = ReleaseId::new(&format!("line{:03}-r{:02}", r.line, r.position))?;
        builder.add_release_components(id.clone(), &format!("line{:03}", r.line), &r.components)?;
        release_ids.push(id);
    }
    for d in 0..devices {
        let r = release_of_device(&mut rng, u64::from(d), release_ids.len());
        builder.add_device(&format!("dev-{d:07}"), &release_ids[r])?;
    }
    Ok(builder.build())
}

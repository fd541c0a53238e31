//! `sectwin vuln match`: which advisories of the database apply to the
//! components of SBOMs (CycloneDX or SPDX JSON), with the rule, the
//! confidence and the reason of each match, as a scanner (Grype, Trivy)
//! reports them. Each SBOM is one release of a product line of its own; the
//! matching is the register's ([`vuln::exposure::Fleet::evaluate`]), so what
//! this prints is what the risk register would hold for a device running it.
//!
//! Deliberately absent: VEX (the register applies it) and network access.

use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use serde_json::json;
use vuln::exposure::{FleetBuilder, ReleaseId};
use vuln_formats::DocumentFormat;

/// `sectwin vuln match`.
#[derive(clap::Args)]
pub struct MatchArgs {
    /// Data directory (the advisories are in DATA/advisories).
    #[arg(long, default_value = "sectwin-data")]
    data: PathBuf,
    /// One JSON object per match, one per line: `sbom`, `vulnerability`,
    /// `component`, `version`, `rule`, `confidence`, `range`, `severity`,
    /// `score`, `reason`.
    #[arg(long)]
    json: bool,
    /// SBOM files (CycloneDX or SPDX JSON).
    #[arg(required = true)]
    sboms: Vec<PathBuf>,
}

/// Runs `sectwin vuln match`. Exit code 0 whether or not anything matched;
/// 1 if an SBOM cannot be read.
pub fn run(args: MatchArgs) -> Result<ExitCode> {
    let mut fleet = FleetBuilder::new();
    for (i, path) in args.sboms.iter().enumerate() {
        let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        let sbom = match vuln_formats::detect(&bytes) {
            Some(DocumentFormat::CycloneDx) => vuln_formats::cyclonedx::parse(&bytes)
                .with_context(|| format!("{}: CycloneDX", path.display()))?,
            Some(DocumentFormat::Spdx) => vuln_formats::spdx::parse(&bytes)
                .with_context(|| format!("{}: SPDX", path.display()))?,
            Some(other) => bail!("{}: a {other:?} document, not an SBOM", path.display()),
            None => bail!(
                "{}: neither CycloneDX nor SPDX JSON (no bomFormat or spdxVersion)",
                path.display()
            ),
        };
        let id = ReleaseId::new(&format!("sbom{i}"))?;
        fleet.add_release(id, &format!("sbom{i}"), &sbom)?;
    }
    let fleet = fleet.build();
    let store = crate::vuln_cmds::open_store(&args.data)?;
    let index = store
        .load_index()
        .with_context(|| format!("loading the advisories of {}", args.data.display()))?;
    let evaluation = fleet.evaluate(&index);
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let mut matches = 0usize;
    for (i, path) in args.sboms.iter().enumerate() {
        let id = ReleaseId::new(&format!("sbom{i}"))?;
        let mut found = evaluation.by_release(&id);
        found.sort_by(|a, b| {
            b.worst_score()
                .map(|s| s.value())
                .partial_cmp(&a.worst_score().map(|s| s.value()))
                .unwrap_or(std::cmp::Ordering::Equal)
                .then_with(|| a.vulnerability().as_str().cmp(b.vulnerability().as_str()))
        });
        for e in found {
            matches += 1;
            let score = e.worst_score();
            if args.json {
                let v = json!({
                    "sbom": path.display().to_string(),
                    "vulnerability": e.vulnerability().as_str(),
                    "component": e.component.name(),
                    "version": e.component.version(),
                    "rule": e.matched.rule.as_str(),
                    "confidence": e.matched.confidence.as_str(),
                    "range": e.matched.range,
                    "severity": e.advisory.severity().map(|s| s.rating_name()),
                    "score": score.map(|s| s.value()),
                    "reason": e.matched.reason,
                });
                writeln!(out, "{v}")?;
            } else {
                writeln!(
                    out,
                    "{:<20} {:<8} {:>4} {}@{} [{} {}] {}",
                    e.vulnerability().as_str(),
                    e.advisory.severity().map_or("-", |s| s.rating_name()),
                    score.map_or("-".to_string(), |s| format!("{:.1}", s.value())),
                    e.component.name(),
                    e.component.version().unwrap_or("?"),
                    e.matched.rule.as_str(),
                    e.matched.confidence.as_str(),
                    e.matched.reason,
                )?;
            }
        }
    }
    out.flush()?;
    let matchable = index.advisories().filter(|a| a.is_matchable()).count();
    eprintln!(
        "{matches} matches in {} SBOMs against {} advisories ({matchable} matchable)",
        args.sboms.len(),
        index.len()
    );
    std::mem::forget(store);
    Ok(ExitCode::SUCCESS)
}

/// `sectwin vuln coverage`.
#[derive(clap::Args)]
pub struct CoverageArgs {
    /// Data directory (the advisories are in DATA/advisories).
    #[arg(long, default_value = "sectwin-data")]
    data: PathBuf,
    /// How many reasons to list (most frequent first).
    #[arg(long, default_value_t = 20)]
    reasons: usize,
    /// One JSON object: `advisories`, `matchable`, `withdrawn`, and
    /// `reasons` (`reason`, `count`, `example`).
    #[arg(long)]
    json: bool,
}

/// Runs `sectwin vuln coverage`: how many stored advisories can match at
/// least one component, and why the others cannot, grouped by reason (the
/// values in a reason are elided so that like reasons group together).
pub fn coverage(args: CoverageArgs) -> Result<ExitCode> {
    let store = crate::vuln_cmds::open_store(&args.data)?;
    let index = store
        .load_index()
        .with_context(|| format!("loading the advisories of {}", args.data.display()))?;
    let mut matchable = 0usize;
    let mut withdrawn = 0usize;
    let mut reasons: std::collections::HashMap<String, (usize, String)> =
        std::collections::HashMap::new();
    for a in index.advisories() {
        if a.is_withdrawn() {
            withdrawn += 1;
            continue;
        }
        match a.unmatchable_reason() {
            None => matchable += 1,
            Some(reason) => {
                let slot = reasons
                    .entry(elide(&reason))
                    .or_insert_with(|| (0, a.id().as_str().to_string()));
                slot.0 += 1;
            }
        }
    }
    let total = index.len() - withdrawn;
    let mut sorted: Vec<(String, (usize, String))> = reasons.into_iter().collect();
    sorted.sort_by(|a, b| b.1 .0.cmp(&a.1 .0).then_with(|| a.0.cmp(&b.0)));
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let share = if total > 0 {
        matchable as f64 / total as f64
    } else {
        0.0
    };
    if args.json {
        let list: Vec<_> = sorted
            .iter()
            .take(args.reasons)
            .map(|(r, (n, ex))| json!({"reason": r, "count": n, "example": ex}))
            .collect();
        let v = json!({
            "advisories": total,
            "withdrawn": withdrawn,
            "matchable": matchable,
            "share": share,
            "reasons": list,
        });
        writeln!(out, "{v}")?;
    } else {
        writeln!(
            out,
            "{matchable} of {total} advisories can match a component ({:.2} %); {withdrawn} withdrawn not counted",
            share * 100.0
        )?;
        for (reason, (n, example)) in sorted.iter().take(args.reasons) {
            writeln!(out, "{n:>7}  {reason}  (e.g. {example})")?;
        }
    }
    out.flush()?;
    std::mem::forget(store);
    Ok(ExitCode::SUCCESS)
}

/// A reason with its quoted values and interval bounds elided.
fn elide(reason: &str) -> String {
    let mut out = String::with_capacity(reason.len());
    let mut quoted = false;
    for c in reason.chars() {
        if c == '"' {
            if !quoted {
                out.push_str("\"…\"");
            }
            quoted = !quoted;
        } else if !quoted {
            out.push(c);
        }
    }
    // Interval texts (`=1.2`, `>=1.0, <2.0`) before "left out".
    match out.split_once(" interval ") {
        Some((head, tail)) => match tail.split_once(" left out") {
            Some((_, rest)) => format!("{head} interval … left out{rest}"),
            None => out,
        },
        None => out,
    }
}

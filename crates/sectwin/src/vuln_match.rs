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
                    "severity": e.advisory.severity().map(|s| s.as_str()),
                    "score": score.map(|s| s.value()),
                    "reason": e.matched.reason,
                });
                writeln!(out, "{v}")?;
            } else {
                writeln!(
                    out,
                    "{:<20} {:<8} {:>4} {}@{} [{} {}] {}",
                    e.vulnerability().as_str(),
                    e.advisory.severity().map_or("-", |s| s.as_str()),
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

//! The vulnerability-management subcommands: `sectwin cvss` scores CVSS
//! vectors (from arguments, or one per line from stdin with `-`) and prints a
//! table or, with `--json`, JSON lines.
//!
//! Deliberately absent: any scoring logic (all in `vuln::cvss`) and network
//! access; this file only reads arguments and stdin and formats output.

use std::io::{BufRead, BufWriter, Write};
use std::process::ExitCode;

use anyhow::{Context, Result};
use serde_json::{json, Value};
use vuln::cvss::CvssVector;

/// `sectwin cvss`.
#[derive(clap::Args)]
pub struct CvssArgs {
    /// One JSON object per vector, one per line (JSON lines), in input
    /// order: `vector`, `version`, `base_score`, `base_severity`, `score`,
    /// `score_kind`, `severity` (and `temporal_score`, `environmental_score`
    /// for v3), or `vector` and `error`.
    #[arg(long)]
    json: bool,
    /// CVSS v3.0, v3.1 or v4.0 vectors; `-` reads vectors from stdin, one per
    /// line (blank lines skipped).
    #[arg(required = true)]
    vectors: Vec<String>,
}

/// Scores every vector; exit code 2 if any is invalid (all are still printed).
pub fn cvss(args: CvssArgs) -> Result<ExitCode> {
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let mut invalid = 0usize;
    if !args.json {
        writeln!(
            out,
            "{:<5} {:<8} {:<14} {:<5} {:<8} VECTOR",
            "SCORE", "SEVERITY", "KIND", "BASE", "VERSION"
        )?;
    }
    let mut emit = |out: &mut BufWriter<std::io::StdoutLock<'_>>, input: &str| -> Result<()> {
        let parsed = CvssVector::parse(input);
        if parsed.is_err() {
            invalid += 1;
        }
        if args.json {
            writeln!(out, "{}", json_of(input, &parsed))?;
        } else {
            match &parsed {
                Ok(v) => writeln!(
                    out,
                    "{:<5} {:<8} {:<14} {:<5} {:<8} {}",
                    v.score().to_string(),
                    v.severity().as_str(),
                    v.score_kind().as_str(),
                    v.base_score().to_string(),
                    v.version().as_str(),
                    input.trim()
                )?,
                Err(e) => writeln!(out, "{:<5} {:<8} error: {e}: {}", "-", "-", input.trim())?,
            }
        }
        Ok(())
    };
    for arg in &args.vectors {
        if arg == "-" {
            for line in std::io::stdin().lock().lines() {
                let line = line.context("reading vectors from stdin")?;
                if !line.trim().is_empty() {
                    emit(&mut out, &line)?;
                }
            }
        } else {
            emit(&mut out, arg)?;
        }
    }
    out.flush()?;
    drop(out);
    if invalid > 0 {
        eprintln!("{invalid} invalid vector(s)");
        return Ok(ExitCode::from(2));
    }
    Ok(ExitCode::SUCCESS)
}

fn json_of(input: &str, parsed: &Result<CvssVector, vuln::cvss::CvssError>) -> Value {
    match parsed {
        Err(e) => json!({ "vector": input.trim(), "error": e.to_string() }),
        Ok(v) => {
            let mut obj = json!({
                "vector": input.trim(),
                "version": v.version().as_str(),
                "base_score": v.base_score().value(),
                "base_severity": v.base_severity().as_str(),
                "score": v.score().value(),
                "score_kind": v.score_kind().as_str(),
                "severity": v.severity().as_str(),
            });
            if let (Some(map), Some(t), Some(e)) = (
                obj.as_object_mut(),
                v.temporal_score(),
                v.environmental_score(),
            ) {
                map.insert("temporal_score".into(), json!(t.value()));
                map.insert("environmental_score".into(), json!(e.value()));
            }
            obj
        }
    }
}
